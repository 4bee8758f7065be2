#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "tests/fakes/free_port.h"

namespace drf::testing {

/// Runs `argv` (argv[0] an absolute path) without a shell, stdout and
/// stderr to `log` (or /dev/null when empty); returns its exit status, or -1
/// when it could not run or died by a signal.
int RunProgram(const std::vector<std::string>& argv,
               const std::string& log = "");

/// A background process started without a shell in a process group of its
/// own (stdout and stderr to `log`). Stop() and the destructor send the
/// group SIGTERM, SIGKILL after 5 s, and reap it. Not thread-safe.
class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& argv, const std::string& log);
  ~ChildProcess() { Stop(); }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  bool started() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  void Stop();

 private:
  pid_t pid_ = -1;
};

/// An ed25519 key pair written by ssh-keygen (no passphrase).
struct KeyPair {
  std::string private_path;
  std::string public_path;
  std::string public_line;  // "ssh-ed25519 AAAA... comment"
};

/// Generates a key pair at `path` / `path`.pub. Returns a pair with empty
/// paths on failure.
KeyPair MakeKeyPair(const std::string& path);

/// A real OpenSSH server (/usr/sbin/sshd -D -e) on 127.0.0.1, for tests:
/// its own ed25519 host key, config, authorized_keys and pid file under
/// `dir`; key login only (root allowed: tests here run as root); SFTP by
/// internal-sftp. The port is picked free at construction and kept across
/// Stop()/Start(), so a test can take a host down and bring it back.
/// Owns the sshd process (stopped by the destructor). Not thread-safe.
class Sshd {
 public:
  /// Writes the host key and config; does not start. `authorized_key` is
  /// the public key line allowed to log in.
  Sshd(std::string dir, const std::string& authorized_key);
  ~Sshd();
  Sshd(const Sshd&) = delete;
  Sshd& operator=(const Sshd&) = delete;

  /// True when sshd and ssh-keygen exist here (else tests skip).
  static bool Available();

  /// Starts sshd and waits until it accepts connections (up to 5 s).
  bool Start();
  /// SIGTERM (SIGKILL after 5 s) to the listener, reaped; sessions still
  /// open end with their connections.
  void Stop();
  bool running() const { return pid_ > 0; }

  /// SIGKILL to the server's per-connection processes: every open session
  /// dies as if the host had gone away (the listener keeps running).
  void KillSessions();
  /// Connections sshd accepted with our key so far (its VERBOSE log).
  int AcceptedLogins() const;

  /// A new host key (the server "was reinstalled"); restarts if running.
  bool RotateHostKey();

  int port() const { return port_; }
  const std::string& dir() const { return dir_; }
  /// The known_hosts line for this server: "[127.0.0.1]:PORT ssh-ed25519 ..".
  std::string KnownHostsLine() const;
  /// sshd's own log (-e), for failure messages.
  std::string Log() const;

 private:
  bool WriteConfig(const std::string& authorized_key);

  std::string dir_;
  int port_ = 0;
  pid_t pid_ = -1;
  KeyPair host_key_;
  bool ready_ = false;
};

/// The whole content of a file ("" if unreadable).
std::string ReadWholeFile(const std::string& path);

/// Writes `content` to `path` (truncating); false on failure.
bool WriteWholeFile(const std::string& path, const std::string& content);

}  // namespace drf::testing
