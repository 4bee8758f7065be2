#pragma once

#include <libssh/libssh.h>
#include <libssh/sftp.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "core/config/config.h"
#include "core/config/duration.h"
#include "core/util/result.h"

namespace drf::ssh {

/// Why an SSH step failed. ErrorKindName gives the snake_case name used in
/// results, logs, the journal and the status API.
enum class ErrorKind {
  kNone,
  kConnect,         // refused, unreachable, reset, key exchange failed
  kTimeout,         // connect, SFTP or command ran past its timeout
  kHostKeyUnknown,  // no entry for the host in known_hosts_file (or the file
                    // is missing or unreadable): refused, nothing sent
  kHostKeyChanged,  // an entry exists and the server's key is not it
  kAuthFailed,      // the server refused our key
  kKey,             // the local private key file could not be read
  kSftp,            // SFTP subsystem or file operation failed
  kCommandFailed,   // reload_command exited non-zero or by a signal, or
                    // was not started because an earlier run may be alive
  kInvalid,         // a value or key that must never be written
  kSymlink,         // the env file or its temporary file is a symbolic
                    // link: refused, nothing written
  kCancelled,       // stopped before it could succeed
};

std::string_view ErrorKindName(ErrorKind kind);

/// A failed step: the kind and a message for humans (host, path, libssh's
/// or the server's words). Messages never hold env values or key material.
struct Error {
  ErrorKind kind = ErrorKind::kConnect;
  std::string message;
};

/// A value or the Error that prevented it.
template <class T>
using Result = drf::Result<T, Error>;
using drf::Done;

// ------------------------------------------------------------ C handles

/// Owns one libssh handle and frees it with `Free`. Neither copyable nor
/// movable: the handle has exactly one owner, which frees it exactly once,
/// and owners are declared so that a child handle (SFTP file, SFTP session,
/// channel) is freed before the session it lives in.
template <class T, void (*Free)(T)>
class Handle {
 public:
  Handle() = default;
  explicit Handle(T handle) : handle_(handle) {}
  ~Handle() { Reset(); }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  Handle(Handle&&) = delete;
  Handle& operator=(Handle&&) = delete;

  T get() const { return handle_; }
  explicit operator bool() const { return handle_ != nullptr; }
  /// Frees the current handle (if any) and owns `handle` instead.
  void Reset(T handle = nullptr) {
    if (handle_ != nullptr) Free(handle_);
    handle_ = handle;
  }
  /// Gives up ownership without freeing.
  T Release() { return std::exchange(handle_, nullptr); }

 private:
  T handle_ = nullptr;
};

namespace internal {
void FreeSession(ssh_session s);
void FreeChannel(ssh_channel c);
void FreeSftp(sftp_session s);
void FreeSftpFile(sftp_file f);
void FreeSftpDir(sftp_dir d);
void FreeAttributes(sftp_attributes a);
void FreeKey(ssh_key k);
void FreeCString(char* s);
}  // namespace internal

/// ssh_session: disconnected (if connected) and freed.
using SessionHandle = Handle<ssh_session, internal::FreeSession>;
/// ssh_channel: closed (if open) and freed.
using ChannelHandle = Handle<ssh_channel, internal::FreeChannel>;
/// sftp_session: its channel closed, freed.
using SftpHandle = Handle<sftp_session, internal::FreeSftp>;
/// sftp_file: closed (a failed close is ignored here; callers that need
/// its result call sftp_close on Release()).
using SftpFileHandle = Handle<sftp_file, internal::FreeSftpFile>;
/// sftp_dir: closed.
using SftpDirHandle = Handle<sftp_dir, internal::FreeSftpDir>;
using AttributesHandle = Handle<sftp_attributes, internal::FreeAttributes>;
using KeyHandle = Handle<ssh_key, internal::FreeKey>;
/// A char* that libssh allocated (ssh_string_free_char).
using CStringHandle = Handle<char*, internal::FreeCString>;

// ------------------------------------------------------------ session

/// A regular file read whole over SFTP.
struct RemoteFile {
  std::string path;  // the real path (symlinks resolved on the host)
  std::string content;
  std::uint32_t permissions = 0;  // mode bits (07777)
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
};

/// What a command did (it ran to its end, or the host's `timeout` ended it).
struct ExecResult {
  int exit_status = -1;     // -1: none reported (killed by a signal)
  std::string stderr_tail;  // its last kMaxStderr bytes
};

/// An authenticated SSH connection to one host, with lazily opened SFTP.
///
/// Connect enforces SPEC.md §7: the configured known_hosts file is the only
/// one consulted (global known hosts, ~/.ssh/config and the agent are never
/// used); a host is accepted only when its key matches an entry there
/// (unknown, changed or other-type keys are refused before any
/// authentication, and known_hosts is never written); authentication is by
/// the configured private key only. Values never reach a shell: the only
/// command ever run is the caller's fixed string.
///
/// Owns its libssh handles. Not thread-safe: one session per thread
/// (libssh sessions are independent, so sessions on different threads may
/// run at once).
class SshSession {
 public:
  /// Files above this are refused by ReadFile (an env file is small).
  static constexpr std::size_t kMaxFileBytes = 1 << 20;
  /// Bytes of a command's stderr kept for the error message.
  static constexpr std::size_t kMaxStderr = 2048;

  /// Connects, checks the host key and authenticates. `ssh.connect_timeout`
  /// bounds the connection and every later SFTP round trip.
  static Result<std::unique_ptr<SshSession>> Connect(const HostConfig& host,
                                                     const SshConfig& ssh);

  ~SshSession();
  SshSession(const SshSession&) = delete;
  SshSession& operator=(const SshSession&) = delete;
  SshSession(SshSession&&) = delete;
  SshSession& operator=(SshSession&&) = delete;

  /// Reads the regular file at `path`, at most `max_bytes`. `path` itself
  /// must not be a symbolic link (SPEC.md §7: kSymlink, nothing read or
  /// written); links among its directories are resolved, and the result's
  /// `path` is the real one. A missing file is an error: the env file
  /// belongs to the application's deployment, and creating one would hide a
  /// wrong path.
  Result<RemoteFile> ReadFile(const std::string& path,
                              std::size_t max_bytes = kMaxFileBytes);

  /// Replaces `original.path` with `content` atomically: writes
  /// `.<name>.dr-failover.<random>.tmp` in the same directory (the name's
  /// own leading dot is not doubled: `.env.dr-failover.<random>.tmp`; O_EXCL,
  /// so never through a symlink; a name per write, so hosts sharing the file
  /// never write into each other's), gives it the original's owner and mode
  /// (fails rather than leave a file the application could not read),
  /// fsyncs it (fsync@openssh.com, when the server has it), then renames it
  /// over the original with posix-rename@openssh.com. The temporary file is
  /// removed on failure, and ones left by a killed writer are removed once
  /// ten minutes old. Readers see the old file or the new one, never a
  /// partial or missing one. Not a compare-and-swap: an edit made on the
  /// host between ReadFile and the rename is lost.
  ///
  /// Never through a symbolic link (kSymlink, nothing written): the target
  /// is checked with lstat again before the write, the temporary file is
  /// created with O_CREAT|O_EXCL (SSH_FXF_CREAT|SSH_FXF_EXCL: a link planted
  /// at its name makes the create fail instead of being followed, and is
  /// then reported as kSymlink), a link named like a temporary file of ours
  /// in the directory is refused (someone is trying), the temporary file is
  /// checked with lstat before its owner and mode are set (SFTP's setstat
  /// follows links), and the rename replaces a name, never what it points
  /// to. Stale temporary files are removed only when they are regular
  /// files.
  Result<Done> WriteFileAtomic(const RemoteFile& original,
                               std::string_view content);

  /// Runs `command` (a fixed string from the config, never built from
  /// values) under the host's coreutils `timeout`, so that a run never
  /// outlives `timeout` by more than kKillAfter whatever happens to the
  /// connection: the channel executes the constant
  /// `timeout --kill-after=5 <seconds> sh -s`, and `command` is sent as
  /// that shell's standard input (then EOF). The command is never spliced
  /// into a command line, so no quoting can break, whatever the login
  /// shell; it reads EOF if it reads its standard input. `timeout` signals
  /// its own process group (the shell and its children) with TERM when
  /// `timeout` passes and KILL kKillAfter later, also for root logins, for
  /// which OpenSSH refuses a client's signal request.
  ///
  /// Waits for the exit up to MaxRunTime(timeout). A run the host's
  /// `timeout` ended is kTimeout (its exit 124 or 137, once `timeout` has
  /// passed); a non-zero exit of the command itself is a value here, not an
  /// Error. `*unfinished` (when given) tells whether the command may still
  /// be running when Exec returns: the server accepted it and its end was
  /// not seen (the connection broke, or the wait ran out); then it runs at
  /// most until MaxRunTime(timeout) after it started.
  Result<ExecResult> Exec(const std::string& command, Duration timeout,
                          bool* unfinished = nullptr);

  /// The host's `timeout` sends KILL this long after TERM.
  static constexpr Duration kKillAfter = std::chrono::seconds(5);
  /// The longest a command Exec started can be alive: by then the host's
  /// `timeout` has ended it.
  static Duration MaxRunTime(Duration timeout) {
    return timeout + kKillAfter + std::chrono::seconds(1);
  }

  /// One round trip to the server (an SFTP stat of the login directory),
  /// bounded like every SFTP step: tells a live session from one whose
  /// connection died while it was idle.
  Result<Done> Ping();

  /// "user@address:port", for messages.
  const std::string& name() const { return name_; }

  /// Whether the connection is still up as far as libssh knows (false once
  /// the server closed it or it broke; a silently dropped one still counts
  /// as up until a step times out).
  bool connected() const;

  /// When the connection was made (steady clock).
  std::chrono::steady_clock::time_point opened() const { return opened_; }

 private:
  SshSession(std::string name, Duration io_timeout);
  Result<sftp_session> Sftp();
  Error SftpError(std::string_view what, const std::string& path) const;
  Result<Done> PosixRename(const std::string& from, const std::string& to);
  /// kSymlink when `path` is a symbolic link; Done when it is anything
  /// else or does not exist (or cannot be examined: the step that follows
  /// reports that).
  Result<Done> RefuseSymlink(sftp_session sf, const std::string& path,
                             std::string_view what) const;

  std::string name_;
  Duration io_timeout_;
  std::chrono::steady_clock::time_point opened_ =
      std::chrono::steady_clock::now();
  // Declared parent first: members are destroyed in reverse order, so the
  // SFTP session is freed before the SSH session it runs on.
  SessionHandle session_;
  SftpHandle sftp_;
};

/// "user@address:port": how a host is named in results and logs.
std::string HostName(const HostConfig& host);

/// HostName of each of `site`'s hosts, in order.
std::vector<std::string> HostNames(const SiteConfig& site);
/// The same for the site named `site` of `config` (none if it is not one).
std::vector<std::string> HostNames(const Config& config,
                                   const std::string& site);

/// The hosts of `site` whose HostName is in `names`, in the site's order.
std::vector<HostConfig> HostsNamed(const SiteConfig& site,
                                   const std::vector<std::string>& names);

}  // namespace drf::ssh
