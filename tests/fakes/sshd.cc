#include "tests/fakes/sshd.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace drf::testing {
namespace {

constexpr const char* kSshd = "/usr/sbin/sshd";
constexpr const char* kSshKeygen = "/usr/bin/ssh-keygen";

// posix_spawn with stdout and stderr to `log`; -1 on failure.
pid_t Spawn(const std::vector<std::string>& argv, const std::string& log) {
  std::vector<char*> args;
  for (const std::string& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  const std::string out = log.empty() ? "/dev/null" : log;
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  // A process group of its own, so Terminate can reach its children too.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, args[0], &actions, &attr, args.data(), environ);
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&actions);
  return rc == 0 ? pid : -1;
}

// SIGTERM to the process group of `pid`, then SIGKILL if it has not exited
// within 5 s (a signal can be lost while a server re-executes itself); reaps
// `pid`. Never blocks for long.
void Terminate(pid_t pid) {
  kill(-pid, SIGTERM);
  int status = 0;
  for (int i = 0; i < 250; ++i) {
    if (waitpid(pid, &status, WNOHANG) == pid) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(-pid, SIGKILL);
  waitpid(pid, &status, 0);
}

bool Accepts(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return ok;
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

}  // namespace

int RunProgram(const std::vector<std::string>& argv, const std::string& log) {
  pid_t pid = Spawn(argv, log);
  if (pid < 0) return -1;
  int status = 0;
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

ChildProcess::ChildProcess(const std::vector<std::string>& argv,
                           const std::string& log)
    : pid_(Spawn(argv, log)) {}

void ChildProcess::Stop() {
  if (pid_ <= 0) return;
  Terminate(pid_);
  pid_ = -1;
}

KeyPair MakeKeyPair(const std::string& path) {
  unlink(path.c_str());
  unlink((path + ".pub").c_str());
  if (RunProgram({kSshKeygen, "-q", "-t", "ed25519", "-N", "", "-C", "drf-test",
                  "-f", path}) != 0) {
    return {};
  }
  KeyPair k{path, path + ".pub", Trim(ReadWholeFile(path + ".pub"))};
  if (k.public_line.empty()) return {};
  return k;
}

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool WriteWholeFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  return static_cast<bool>(out);
}

bool Sshd::Available() {
  return access(kSshd, X_OK) == 0 && access(kSshKeygen, X_OK) == 0;
}

Sshd::Sshd(std::string dir, const std::string& authorized_key)
    : dir_(std::move(dir)), port_(FreePort()) {
  mkdir(dir_.c_str(), 0755);
  // sshd's privilege separation directory; exists wherever sshd is set up.
  mkdir("/run/sshd", 0755);
  host_key_ = MakeKeyPair(dir_ + "/host_ed25519");
  ready_ = !host_key_.private_path.empty() && WriteConfig(authorized_key);
}

Sshd::~Sshd() { Stop(); }

bool Sshd::WriteConfig(const std::string& authorized_key) {
  if (!WriteWholeFile(dir_ + "/authorized_keys", authorized_key + "\n")) {
    return false;
  }
  std::ostringstream c;
  c << "ListenAddress 127.0.0.1:" << port_ << "\n"
    << "HostKey " << dir_ << "/host_ed25519\n"
    << "AuthorizedKeysFile " << dir_ << "/authorized_keys\n"
    << "PidFile " << dir_ << "/sshd.pid\n"
    << "UsePAM no\n"
    << "StrictModes no\n"
    << "PermitRootLogin prohibit-password\n"
    << "PubkeyAuthentication yes\n"
    << "PasswordAuthentication no\n"
    << "KbdInteractiveAuthentication no\n"
    << "Subsystem sftp internal-sftp\n"
    << "LogLevel VERBOSE\n";
  return WriteWholeFile(dir_ + "/sshd_config", c.str());
}

bool Sshd::Start() {
  if (!ready_) return false;
  if (pid_ > 0) return true;
  pid_ = Spawn({kSshd, "-D", "-e", "-f", dir_ + "/sshd_config"},
               dir_ + "/sshd.log");
  if (pid_ < 0) return false;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (std::chrono::steady_clock::now() < until) {
    if (Accepts(port_)) return true;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {  // exited: port taken?
      pid_ = -1;
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  Stop();
  return false;
}

void Sshd::Stop() {
  if (pid_ <= 0) return;
  Terminate(pid_);
  pid_ = -1;
  // The listener is gone once its port refuses connections.
  for (int i = 0; i < 250 && Accepts(port_); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void Sshd::KillSessions() {
  if (pid_ <= 0) return;
  // Each connection is a child of the listener (in a session of its own,
  // so the listener's process group does not reach it).
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::istringstream stat(ReadWholeFile(entry.path() / "stat"));
    std::string pid, comm, state;
    pid_t ppid = 0;
    // "pid (comm) state ppid ...": comm has no spaces for sshd.
    if (stat >> pid >> comm >> state >> ppid && ppid == pid_) {
      kill(static_cast<pid_t>(std::stol(pid)), SIGKILL);
    }
  }
}

int Sshd::AcceptedLogins() const {
  const std::string log = Log();
  int n = 0;
  for (std::size_t at = log.find("Accepted publickey"); at != std::string::npos;
       at = log.find("Accepted publickey", at + 1)) {
    ++n;
  }
  return n;
}

bool Sshd::RotateHostKey() {
  const bool was_running = running();
  Stop();
  host_key_ = MakeKeyPair(dir_ + "/host_ed25519");
  ready_ = !host_key_.private_path.empty();
  return !was_running || Start();
}

std::string Sshd::KnownHostsLine() const {
  // "ssh-ed25519 AAAA... comment" -> "[127.0.0.1]:PORT ssh-ed25519 AAAA..."
  std::istringstream in(host_key_.public_line);
  std::string type, key;
  in >> type >> key;
  return "[127.0.0.1]:" + std::to_string(port_) + " " + type + " " + key;
}

std::string Sshd::Log() const { return ReadWholeFile(dir_ + "/sshd.log"); }

}  // namespace drf::testing
