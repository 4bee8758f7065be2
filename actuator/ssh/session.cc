#include "actuator/ssh/session.h"

#include <fcntl.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

namespace drf::ssh {

namespace internal {
void FreeSession(ssh_session s) {
  ssh_disconnect(s);
  ssh_free(s);
}
void FreeChannel(ssh_channel c) { ssh_channel_free(c); }
void FreeSftp(sftp_session s) { sftp_free(s); }
void FreeSftpFile(sftp_file f) { sftp_close(f); }
void FreeSftpDir(sftp_dir d) { sftp_closedir(d); }
void FreeAttributes(sftp_attributes a) { sftp_attributes_free(a); }
void FreeKey(ssh_key k) { ssh_key_free(k); }
void FreeCString(char* s) { ssh_string_free_char(s); }
}  // namespace internal

namespace {

using Clock = std::chrono::steady_clock;

void FreeHash(unsigned char* hash) { ssh_clean_pubkey_hash(&hash); }
using HashHandle = Handle<unsigned char*, FreeHash>;

bool Mentions(std::string_view text, std::string_view word) {
  return text.find(word) != std::string_view::npos;
}

std::string SessionError(ssh_session s) {
  const char* e = ssh_get_error(s);
  return e != nullptr && *e != '\0' ? e : "unknown libssh error";
}

// libssh reports a timeout only in its message text.
ErrorKind TransportKind(std::string_view message) {
  return Mentions(message, "imeout") || Mentions(message, "timed out")
             ? ErrorKind::kTimeout
             : ErrorKind::kConnect;
}

// "SHA256:..." of the server's host key, for the operator to compare with
// the key they expect; "" if it cannot be computed.
std::string ServerFingerprint(ssh_session s) {
  ssh_key raw_key = nullptr;
  if (ssh_get_server_publickey(s, &raw_key) != SSH_OK) return "";
  KeyHandle key(raw_key);
  unsigned char* raw_hash = nullptr;
  std::size_t len = 0;
  if (ssh_get_publickey_hash(key.get(), SSH_PUBLICKEY_HASH_SHA256, &raw_hash,
                             &len) != 0) {
    return "";
  }
  HashHandle hash(raw_hash);
  CStringHandle text(
      ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash.get(), len));
  return text ? std::string(text.get()) : "";
}

std::string_view SftpStatusText(int code) {
  switch (code) {
    case SSH_FX_OK:
      return "no status";
    case SSH_FX_EOF:
      return "end of file";
    case SSH_FX_NO_SUCH_FILE:
    case SSH_FX_NO_SUCH_PATH:
      return "no such file";
    case SSH_FX_PERMISSION_DENIED:
      return "permission denied";
    case SSH_FX_FILE_ALREADY_EXISTS:
      return "file already exists";
    case SSH_FX_OP_UNSUPPORTED:
      return "operation unsupported";
    case SSH_FX_WRITE_PROTECT:
      return "write protected";
    case SSH_FX_NO_CONNECTION:
    case SSH_FX_CONNECTION_LOST:
      return "connection lost";
    default:
      return "failure";
  }
}

// 16 hex digits from the OS's random source.
std::string RandomHex() {
  std::random_device rd;
  std::uint64_t v = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

// Temporary files of writes that never finished (the actuator was killed
// between create and rename) are removed once they are old enough that no
// writer can still be using them.
constexpr std::int64_t kStaleTmpSeconds = 600;

// Returns the first symbolic link named like one of our temporary files
// ("" if none): nobody but an attacker puts one there, so the write is
// refused. Only regular files are ever removed (the server's readdir
// reports a link as a link, not as what it points to).
std::string SweepStale(sftp_session sf, const std::string& dir,
                       const std::string& prefix) {
  std::vector<std::string> stale;
  std::string link;
  {
    SftpDirHandle d(sftp_opendir(sf, dir.c_str()));
    if (!d) return "";
    const auto now = std::chrono::system_clock::now().time_since_epoch();
    const std::int64_t now_s =
        std::chrono::duration_cast<std::chrono::seconds>(now).count();
    while (sftp_attributes a = sftp_readdir(sf, d.get())) {
      AttributesHandle attrs(a);
      std::string_view name = a->name != nullptr ? a->name : "";
      if (name.size() <= prefix.size() + 4 ||
          name.substr(0, prefix.size()) != prefix ||
          name.substr(name.size() - 4) != ".tmp") {
        continue;
      }
      if (a->type == SSH_FILEXFER_TYPE_SYMLINK && link.empty()) {
        link = dir + std::string(name);
      } else if (a->type == SSH_FILEXFER_TYPE_REGULAR &&
                 now_s - static_cast<std::int64_t>(a->mtime) >
                     kStaleTmpSeconds) {
        stale.emplace_back(dir + std::string(name));
      }
    }
  }
  if (!link.empty()) return link;
  for (const std::string& path : stale) {
    // Checked again just before: only a regular file is removed.
    AttributesHandle attrs(sftp_lstat(sf, path.c_str()));
    if (attrs && attrs.get()->type == SSH_FILEXFER_TYPE_REGULAR) {
      sftp_unlink(sf, path.c_str());
    }
  }
  return "";
}

// `timeout --kill-after=5 <seconds> sh -s`: the only form a command line
// sent to a host takes (the number is ours, in C-locale digits).
std::string TimeoutWrapper(Duration timeout) {
  const auto ms = std::max<std::int64_t>(1, timeout.count());
  char secs[32];
  std::snprintf(secs, sizeof secs, "%lld.%03lld",
                static_cast<long long>(ms / 1000),
                static_cast<long long>(ms % 1000));
  const auto kill_after =
      std::chrono::duration_cast<std::chrono::seconds>(SshSession::kKillAfter);
  return "timeout --kill-after=" + std::to_string(kill_after.count()) + " " +
         secs + " sh -s";
}

int RemainingMs(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - Clock::now());
  return static_cast<int>(std::max<std::int64_t>(0, left.count()));
}

// ---- the posix-rename@openssh.com request (see PosixRename) ----

constexpr std::uint8_t kFxpInit = 1;
constexpr std::uint8_t kFxpVersion = 2;
constexpr std::uint8_t kFxpStatus = 101;
constexpr std::uint8_t kFxpExtended = 200;
constexpr std::uint32_t kMaxPacket = 256 * 1024;

void PutU32(std::string* out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) {
    out->push_back(static_cast<char>((v >> shift) & 0xff));
  }
}
void PutString(std::string* out, std::string_view s) {
  PutU32(out, static_cast<std::uint32_t>(s.size()));
  out->append(s);
}
std::uint32_t GetU32(std::string_view s, std::size_t at) {
  std::uint32_t v = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    v = (v << 8) | static_cast<unsigned char>(s[at + i]);
  }
  return v;
}
// A packet: its length, then type and payload.
std::string Packet(std::uint8_t type, std::string_view payload) {
  std::string p;
  PutU32(&p, static_cast<std::uint32_t>(payload.size() + 1));
  p.push_back(static_cast<char>(type));
  p.append(payload);
  return p;
}

Result<Done> WriteAll(ssh_channel ch, const std::string& data) {
  std::size_t off = 0;
  while (off < data.size()) {
    int n = ssh_channel_write(ch, data.data() + off,
                              static_cast<std::uint32_t>(data.size() - off));
    if (n <= 0) return Error{ErrorKind::kSftp, "write to SFTP channel failed"};
    off += static_cast<std::size_t>(n);
  }
  return Done{};
}

Result<std::string> ReadExact(ssh_channel ch, std::size_t n,
                              Clock::time_point deadline) {
  std::string out(n, '\0');
  std::size_t got = 0;
  while (got < n) {
    int left = RemainingMs(deadline);
    if (left == 0) {
      return Error{ErrorKind::kTimeout, "SFTP server did not answer in time"};
    }
    int r = ssh_channel_read_timeout(
        ch, out.data() + got, static_cast<std::uint32_t>(n - got), 0, left);
    if (r == SSH_ERROR) {
      return Error{ErrorKind::kSftp, "SFTP channel read failed"};
    }
    if (r == 0 && ssh_channel_is_eof(ch)) {
      return Error{ErrorKind::kSftp, "SFTP server closed the channel"};
    }
    got += static_cast<std::size_t>(std::max(r, 0));
  }
  return out;
}

// Reads one packet; returns its type byte followed by the payload.
Result<std::string> ReadPacket(ssh_channel ch, Clock::time_point deadline) {
  auto len = ReadExact(ch, 4, deadline);
  if (!len) return len.error();
  std::uint32_t n = GetU32(len.value(), 0);
  if (n == 0 || n > kMaxPacket) {
    return Error{ErrorKind::kSftp, "SFTP server sent a malformed packet"};
  }
  return ReadExact(ch, n, deadline);
}

}  // namespace

std::string_view ErrorKindName(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kNone:
      return "none";
    case ErrorKind::kConnect:
      return "connect";
    case ErrorKind::kTimeout:
      return "timeout";
    case ErrorKind::kHostKeyUnknown:
      return "host_key_unknown";
    case ErrorKind::kHostKeyChanged:
      return "host_key_changed";
    case ErrorKind::kAuthFailed:
      return "auth_failed";
    case ErrorKind::kKey:
      return "key";
    case ErrorKind::kSftp:
      return "sftp";
    case ErrorKind::kCommandFailed:
      return "command_failed";
    case ErrorKind::kInvalid:
      return "invalid";
    case ErrorKind::kSymlink:
      return "symlink";
    case ErrorKind::kCancelled:
      return "cancelled";
  }
  return "unknown";
}

std::string HostName(const HostConfig& host) {
  return host.user + "@" + host.address + ":" + std::to_string(host.port);
}

std::vector<std::string> HostNames(const SiteConfig& site) {
  std::vector<std::string> out;
  for (const HostConfig& h : site.hosts) out.push_back(HostName(h));
  return out;
}

std::vector<std::string> HostNames(const Config& config,
                                   const std::string& site) {
  const SiteConfig* s = config.FindSite(site);
  return s == nullptr ? std::vector<std::string>{} : HostNames(*s);
}

std::vector<HostConfig> HostsNamed(const SiteConfig& site,
                                   const std::vector<std::string>& names) {
  std::vector<HostConfig> out;
  for (const HostConfig& h : site.hosts) {
    if (std::find(names.begin(), names.end(), HostName(h)) != names.end()) {
      out.push_back(h);
    }
  }
  return out;
}

SshSession::SshSession(std::string name, Duration io_timeout)
    : name_(std::move(name)), io_timeout_(io_timeout) {}

SshSession::~SshSession() = default;

Result<std::unique_ptr<SshSession>> SshSession::Connect(const HostConfig& host,
                                                        const SshConfig& ssh) {
  const std::string name = HostName(host);
  // The key first: no connection is worth opening without it. No
  // passphrase callback: an encrypted key cannot be used unattended.
  ssh_key raw_key = nullptr;
  if (ssh_pki_import_privkey_file(ssh.private_key_file.c_str(), nullptr,
                                  nullptr, nullptr, &raw_key) != SSH_OK) {
    return Error{ErrorKind::kKey,
                 "cannot read private key " + ssh.private_key_file +
                     " (missing, unreadable, passphrase-protected or not a "
                     "key)"};
  }
  KeyHandle key(raw_key);

  std::unique_ptr<SshSession> self(new SshSession(name, ssh.connect_timeout));
  self->session_.Reset(ssh_new());
  ssh_session s = self->session_.get();
  if (s == nullptr) return Error{ErrorKind::kConnect, "ssh_new failed"};

  const int port = host.port;
  const long ms = static_cast<long>(ssh.connect_timeout.count());
  const long timeout_s = ms / 1000;
  const long timeout_us = (ms % 1000) * 1000;
  const int no = 0;
  const int yes = 1;
  // Only the configured known_hosts file counts: global known hosts are
  // pointed at /dev/null and ~/.ssh/config (which could name another
  // file, a ProxyCommand or an identity) is never read.
  struct Option {
    ssh_options_e option;
    const void* value;
  };
  const Option options[] = {
      {SSH_OPTIONS_PROCESS_CONFIG, &no},
      {SSH_OPTIONS_HOST, host.address.c_str()},
      {SSH_OPTIONS_PORT, &port},
      {SSH_OPTIONS_USER, host.user.c_str()},
      {SSH_OPTIONS_TIMEOUT, &timeout_s},
      {SSH_OPTIONS_TIMEOUT_USEC, &timeout_us},
      {SSH_OPTIONS_KNOWNHOSTS, ssh.known_hosts_file.c_str()},
      {SSH_OPTIONS_GLOBAL_KNOWNHOSTS, "/dev/null"},
      // Every step is a short request awaiting its answer: Nagle plus the
      // server's delayed ACK would add tens of ms to each.
      {SSH_OPTIONS_NODELAY, &yes},
  };
  for (const Option& o : options) {
    if (ssh_options_set(s, o.option, o.value) != SSH_OK) {
      return Error{ErrorKind::kConnect,
                   name + ": bad SSH option: " + SessionError(s)};
    }
  }

  if (ssh_connect(s) != SSH_OK) {
    std::string e = SessionError(s);
    return Error{TransportKind(e), "connect to " + name + ": " + e};
  }

  // Strict host key checking: only an exact match passes, and known_hosts
  // is never updated (no trust on first use).
  switch (ssh_session_is_known_server(s)) {
    case SSH_KNOWN_HOSTS_OK:
      break;
    case SSH_KNOWN_HOSTS_CHANGED:
      return Error{ErrorKind::kHostKeyChanged,
                   name + ": host key changed (server offers " +
                       ServerFingerprint(s) + ", not the key in " +
                       ssh.known_hosts_file +
                       "): refused; replace the entry if the change is "
                       "expected"};
    case SSH_KNOWN_HOSTS_OTHER:
      return Error{ErrorKind::kHostKeyChanged,
                   name + ": server offers a host key of another type (" +
                       ServerFingerprint(s) + ") than " + ssh.known_hosts_file +
                       " holds for it: refused"};
    case SSH_KNOWN_HOSTS_UNKNOWN:
      return Error{ErrorKind::kHostKeyUnknown,
                   name + ": host key " + ServerFingerprint(s) + " is not in " +
                       ssh.known_hosts_file + ": refused"};
    case SSH_KNOWN_HOSTS_NOT_FOUND:
      return Error{ErrorKind::kHostKeyUnknown,
                   name + ": known hosts file " + ssh.known_hosts_file +
                       " does not exist: host key refused"};
    case SSH_KNOWN_HOSTS_ERROR:
    default:
      return Error{ErrorKind::kHostKeyUnknown,
                   name + ": cannot check the host key against " +
                       ssh.known_hosts_file + ": " + SessionError(s)};
  }

  // Key authentication only: no password, no keyboard-interactive, no
  // agent.
  switch (ssh_userauth_publickey(s, nullptr, key.get())) {
    case SSH_AUTH_SUCCESS:
      break;
    case SSH_AUTH_DENIED:
      return Error{ErrorKind::kAuthFailed,
                   name + ": server refused key " + ssh.private_key_file};
    case SSH_AUTH_PARTIAL:
      return Error{ErrorKind::kAuthFailed,
                   name + ": server wants more than key " +
                       ssh.private_key_file + " (partial authentication)"};
    default: {
      std::string e = SessionError(s);
      return Error{TransportKind(e), name + ": authentication: " + e};
    }
  }
  return self;
}

Result<sftp_session> SshSession::Sftp() {
  if (sftp_) return sftp_.get();
  sftp_.Reset(sftp_new(session_.get()));
  if (!sftp_) {
    return Error{ErrorKind::kSftp, name_ + ": cannot open SFTP channel: " +
                                       SessionError(session_.get())};
  }
  if (sftp_init(sftp_.get()) != SSH_OK) {
    std::string e = SessionError(session_.get());
    sftp_.Reset();
    return Error{ErrorKind::kSftp, name_ + ": SFTP subsystem: " + e};
  }
  return sftp_.get();
}

Error SshSession::SftpError(std::string_view what,
                            const std::string& path) const {
  std::string message = name_ + ": " + std::string(what) + " " + path + ": ";
  if (!ssh_is_connected(session_.get())) {
    std::string e = SessionError(session_.get());
    return Error{TransportKind(e) == ErrorKind::kTimeout ? ErrorKind::kTimeout
                                                         : ErrorKind::kSftp,
                 message + "connection lost: " + e};
  }
  int code = sftp_get_error(sftp_.get());
  if (code == SSH_FX_OK) {
    return Error{ErrorKind::kSftp, message + SessionError(session_.get())};
  }
  return Error{ErrorKind::kSftp, message + std::string(SftpStatusText(code))};
}

Result<Done> SshSession::RefuseSymlink(sftp_session sf, const std::string& path,
                                       std::string_view what) const {
  AttributesHandle attrs(sftp_lstat(sf, path.c_str()));
  if (!attrs || attrs.get()->type != SSH_FILEXFER_TYPE_SYMLINK) return Done{};
  std::string message =
      name_ + ": " + std::string(what) + " " + path + " is a symbolic link";
  CStringHandle target(sftp_readlink(sf, path.c_str()));
  if (target) message += " (to " + std::string(target.get()) + ")";
  return Error{ErrorKind::kSymlink,
               message +
                   ": refused, nothing written (SPEC.md §7: the env "
                   "file is never written through a link; point "
                   "env_file at the real file)"};
}

bool SshSession::connected() const {
  return ssh_is_connected(session_.get()) != 0;
}

Result<Done> SshSession::Ping() {
  auto sftp = Sftp();
  if (!sftp) return sftp.error();
  AttributesHandle attrs(sftp_stat(sftp.value(), "."));
  if (!attrs) return SftpError("cannot stat", ".");
  return Done{};
}

Result<RemoteFile> SshSession::ReadFile(const std::string& path,
                                        std::size_t max_bytes) {
  auto sftp = Sftp();
  if (!sftp) return sftp.error();
  sftp_session sf = sftp.value();

  // The file itself must not be a link: following one would let whoever
  // can write the app directory point the actuator at any file it can
  // write (it was /etc/passwd once).
  if (auto refused = RefuseSymlink(sf, path, "env file"); !refused) {
    return refused.error();
  }
  // Links among the directories (a release-directory deploy's "current")
  // are resolved, so the rename stays in the real directory.
  CStringHandle real(sftp_canonicalize_path(sf, path.c_str()));
  if (!real) return SftpError("cannot resolve", path);
  RemoteFile file;
  file.path = real.get();

  // lstat: the canonical path names no link unless one was just planted.
  AttributesHandle attrs(sftp_lstat(sf, file.path.c_str()));
  if (!attrs) return SftpError("cannot stat", file.path);
  if (attrs.get()->type == SSH_FILEXFER_TYPE_SYMLINK) {
    if (auto refused = RefuseSymlink(sf, file.path, "env file"); !refused) {
      return refused.error();
    }
  }
  if (attrs.get()->type != SSH_FILEXFER_TYPE_REGULAR) {
    return Error{ErrorKind::kSftp,
                 name_ + ": " + file.path + " is not a regular file"};
  }
  if (attrs.get()->size > max_bytes) {
    return Error{ErrorKind::kSftp, name_ + ": " + file.path + " is " +
                                       std::to_string(attrs.get()->size) +
                                       " bytes, above the limit of " +
                                       std::to_string(max_bytes)};
  }
  file.permissions = attrs.get()->permissions & 07777;
  file.uid = attrs.get()->uid;
  file.gid = attrs.get()->gid;

  SftpFileHandle f(sftp_open(sf, file.path.c_str(), O_RDONLY, 0));
  if (!f) return SftpError("cannot open", file.path);
  char buf[16384];
  for (;;) {
    ssize_t n = sftp_read(f.get(), buf, sizeof buf);
    if (n < 0) return SftpError("cannot read", file.path);
    if (n == 0) break;
    file.content.append(buf, static_cast<std::size_t>(n));
    if (file.content.size() > max_bytes) {
      return Error{ErrorKind::kSftp, name_ + ": " + file.path +
                                         " grew above the limit of " +
                                         std::to_string(max_bytes) + " bytes"};
    }
  }
  return file;
}

Result<Done> SshSession::WriteFileAtomic(const RemoteFile& original,
                                         std::string_view content) {
  auto sftp = Sftp();
  if (!sftp) return sftp.error();
  sftp_session sf = sftp.value();

  const std::string& path = original.path;
  std::size_t slash = path.rfind('/');
  if (slash == std::string::npos || slash + 1 == path.size()) {
    return Error{ErrorKind::kSftp,
                 name_ + ": " + path + " is not an absolute file path"};
  }
  // Same directory, so the rename stays within one file system. A name of
  // its own per write: hosts of a site may share one env file (NFS), and
  // two writers must never write into each other's temporary file.
  const std::string dir = path.substr(0, slash + 1);
  const std::string base = path.substr(slash + 1);
  // Hidden, like the .env it stands for (".env" gives ".env.dr-failover.").
  const std::string prefix =
      (base.front() == '.' ? "" : ".") + base + ".dr-failover.";
  const std::string tmp = dir + prefix + RandomHex() + ".tmp";
  if (auto refused = RefuseSymlink(sf, path, "env file"); !refused) {
    return refused.error();
  }
  if (std::string link = SweepStale(sf, dir, prefix); !link.empty()) {
    return Error{ErrorKind::kSymlink,
                 name_ + ": temporary file " + link +
                     " is a symbolic link: refused, nothing written (remove "
                     "it; the actuator never creates one)"};
  }

  // Removes the temporary file unless the rename consumed it. Declared
  // before the file handle, so the file is closed before it is removed.
  struct RemoveTmp {
    sftp_session sf;
    const std::string& tmp;
    bool armed = true;
    ~RemoveTmp() {
      if (armed) sftp_unlink(sf, tmp.c_str());
    }
  } remove_tmp{sf, tmp};

  // 0600 until it is complete; O_EXCL: never through a planted symlink.
  SftpFileHandle f(
      sftp_open(sf, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600));
  if (!f) {
    remove_tmp.armed = false;  // not ours, if it exists at all
    Error e = SftpError("cannot create", tmp);
    if (auto refused = RefuseSymlink(sf, tmp, "temporary file"); !refused) {
      return refused.error();
    }
    return e;
  }
  std::size_t off = 0;
  while (off < content.size()) {
    std::size_t chunk = std::min<std::size_t>(content.size() - off, 16384);
    ssize_t n = sftp_write(f.get(), content.data() + off, chunk);
    if (n <= 0) return SftpError("cannot write", tmp);
    off += static_cast<std::size_t>(n);
  }
  if (sftp_extension_supported(sf, "fsync@openssh.com", "1") &&
      sftp_fsync(f.get()) != 0) {
    return SftpError("cannot fsync", tmp);
  }
  if (sftp_close(f.Release()) != SSH_NO_ERROR) {
    return SftpError("cannot close", tmp);
  }

  // Owner before mode: a chown may clear set-id bits. SFTP sets both by
  // name and follows a link, so the name must still be our regular file
  // (lstat; it was created O_EXCL a moment ago).
  AttributesHandle attrs(sftp_lstat(sf, tmp.c_str()));
  if (!attrs) return SftpError("cannot stat", tmp);
  if (attrs.get()->type != SSH_FILEXFER_TYPE_REGULAR) {
    remove_tmp.armed = false;  // not ours any more
    if (auto refused = RefuseSymlink(sf, tmp, "temporary file"); !refused) {
      return refused.error();
    }
    return Error{ErrorKind::kSftp, name_ + ": temporary file " + tmp +
                                       " is no longer a regular file: "
                                       "refused, nothing written"};
  }
  if ((attrs.get()->uid != original.uid || attrs.get()->gid != original.gid) &&
      sftp_chown(sf, tmp.c_str(), original.uid, original.gid) != 0) {
    return Error{ErrorKind::kSftp,
                 name_ + ": cannot give the new " + path + " its owner " +
                     std::to_string(original.uid) + ":" +
                     std::to_string(original.gid) +
                     " (connect as that user or root); the file is unchanged"};
  }
  if (sftp_chmod(sf, tmp.c_str(), original.permissions) != 0) {
    return SftpError("cannot chmod", tmp);
  }

  auto renamed = PosixRename(tmp, path);
  if (!renamed) return renamed.error();
  remove_tmp.armed = false;
  return Done{};
}

// libssh 0.10's sftp_rename sends SSH_FXP_RENAME, which in SFTPv3 (the
// version OpenSSH speaks) fails when the target exists, and 0.10 has no
// API for the posix-rename@openssh.com extension (0.11's sftp_rename uses
// it when the server has it). So the request is sent here, on a channel of
// its own running the sftp subsystem: INIT, then one EXTENDED request,
// whose STATUS answer is read. Without the extension the write is refused:
// removing the target first would leave a moment with no file at all.
Result<Done> SshSession::PosixRename(const std::string& from,
                                     const std::string& to) {
  auto sftp = Sftp();
  if (!sftp) return sftp.error();
  if (!sftp_extension_supported(sftp.value(), "posix-rename@openssh.com",
                                "1")) {
    return Error{ErrorKind::kSftp,
                 name_ +
                     ": SFTP server lacks posix-rename@openssh.com: an atomic "
                     "replace of " +
                     to + " is impossible, refused"};
  }
#if LIBSSH_VERSION_INT >= SSH_VERSION_INT(0, 11, 0)
  if (sftp_rename(sftp.value(), from.c_str(), to.c_str()) != 0) {
    return SftpError("cannot rename onto", to);
  }
  return Done{};
#else
  const auto deadline = Clock::now() + io_timeout_;
  auto fail = [&](const Error& e) {
    return Error{e.kind, name_ + ": rename onto " + to + ": " + e.message};
  };
  ChannelHandle ch(ssh_channel_new(session_.get()));
  if (!ch || ssh_channel_open_session(ch.get()) != SSH_OK ||
      ssh_channel_request_subsystem(ch.get(), "sftp") != SSH_OK) {
    return fail(Error{ErrorKind::kSftp, "cannot open an SFTP channel: " +
                                            SessionError(session_.get())});
  }
  std::string init;
  PutU32(&init, 3);
  if (auto w = WriteAll(ch.get(), Packet(kFxpInit, init)); !w) {
    return fail(w.error());
  }
  auto version = ReadPacket(ch.get(), deadline);
  if (!version) return fail(version.error());
  if (static_cast<std::uint8_t>(version.value()[0]) != kFxpVersion) {
    return fail(Error{ErrorKind::kSftp, "unexpected answer to SFTP INIT"});
  }
  constexpr std::uint32_t kId = 1;
  std::string request;
  PutU32(&request, kId);
  PutString(&request, "posix-rename@openssh.com");
  PutString(&request, from);
  PutString(&request, to);
  if (auto w = WriteAll(ch.get(), Packet(kFxpExtended, request)); !w) {
    return fail(w.error());
  }
  auto status = ReadPacket(ch.get(), deadline);
  if (!status) return fail(status.error());
  const std::string& p = status.value();
  // type, id, code[, message, language]
  if (p.size() < 9 || static_cast<std::uint8_t>(p[0]) != kFxpStatus ||
      GetU32(p, 1) != kId) {
    return fail(Error{ErrorKind::kSftp, "unexpected answer to posix-rename"});
  }
  std::uint32_t code = GetU32(p, 5);
  ssh_channel_send_eof(ch.get());
  if (code != SSH_FX_OK) {
    return fail(Error{ErrorKind::kSftp,
                      std::string(SftpStatusText(static_cast<int>(code)))});
  }
  return Done{};
#endif
}

Result<ExecResult> SshSession::Exec(const std::string& command,
                                    Duration timeout, bool* unfinished) {
  if (unfinished != nullptr) *unfinished = false;
  ChannelHandle ch(ssh_channel_new(session_.get()));
  if (!ch || ssh_channel_open_session(ch.get()) != SSH_OK) {
    std::string e = SessionError(session_.get());
    return Error{TransportKind(e), name_ + ": cannot open a channel: " + e};
  }
  // The exec string is a constant but for the number; the command is the
  // shell's script on stdin (see the header for why not sh -c '...').
  const std::string wrapper = TimeoutWrapper(timeout);
  if (ssh_channel_request_exec(ch.get(), wrapper.c_str()) != SSH_OK) {
    return Error{ErrorKind::kCommandFailed,
                 name_ + ": server refused to run the command: " +
                     SessionError(session_.get())};
  }
  if (unfinished != nullptr) *unfinished = true;
  const auto start = Clock::now();
  const std::string script = command + "\n";
  if (!WriteAll(ch.get(), script) || ssh_channel_send_eof(ch.get()) != SSH_OK) {
    std::string e = SessionError(session_.get());
    return Error{TransportKind(e), name_ + ": cannot send the command: " + e};
  }
  ExecResult result;
  auto keep_stderr = [&result](const char* data, int n) {
    result.stderr_tail.append(data, static_cast<std::size_t>(n));
    if (result.stderr_tail.size() > kMaxStderr) {
      result.stderr_tail.erase(0, result.stderr_tail.size() - kMaxStderr);
    }
  };
  // The host's timeout ends the run by then; waiting that long sees the
  // end instead of guessing at it.
  const auto deadline = start + MaxRunTime(timeout);
  char buf[4096];
  for (;;) {
    int left = RemainingMs(deadline);
    if (left == 0) {
      // Best effort: sshd delivers it for a non-root login.
      ssh_channel_request_send_signal(ch.get(), "TERM");
      return Error{ErrorKind::kTimeout,
                   name_ + ": command still running " +
                       FormatDuration(MaxRunTime(timeout)) +
                       " after it started, past the host's timeout of " +
                       FormatDuration(timeout) + ": sent SIGTERM"};
    }
    // stdout is read only so the command never blocks on a full window.
    int out = ssh_channel_read_timeout(ch.get(), buf, sizeof buf, 0,
                                       std::min(left, 100));
    if (out == SSH_ERROR) {
      std::string e = SessionError(session_.get());
      return Error{TransportKind(e),
                   name_ + ": connection lost while the command ran: " + e};
    }
    int err = ssh_channel_read_nonblocking(ch.get(), buf, sizeof buf, 1);
    if (err == SSH_EOF) err = 0;
    if (err == SSH_ERROR) {
      std::string e = SessionError(session_.get());
      return Error{TransportKind(e),
                   name_ + ": connection lost while the command ran: " + e};
    }
    if (err > 0) keep_stderr(buf, err);
    if (out == 0 && err == 0 && ssh_channel_is_eof(ch.get())) break;
  }
  for (int err; (err = ssh_channel_read_nonblocking(ch.get(), buf, sizeof buf,
                                                    1)) > 0;) {
    keep_stderr(buf, err);
  }
  // Waits (up to the session timeout) for exit-status or the close.
  result.exit_status = ssh_channel_get_exit_status(ch.get());
  // Without a status (a signal, or the wait for it ran out) the end is not
  // certain; the host's timeout still bounds it.
  if (unfinished != nullptr && result.exit_status >= 0) *unfinished = false;
  // timeout(1) exits 124 when it sent TERM, 137 when it had to KILL; a
  // command's own 124 before the time is up is the command's.
  if ((result.exit_status == 124 || result.exit_status == 137) &&
      Clock::now() - start >= timeout) {
    return Error{ErrorKind::kTimeout,
                 name_ + ": command still running after " +
                     FormatDuration(timeout) + ": ended by the host's timeout" +
                     (result.exit_status == 137 ? " with SIGKILL" : "")};
  }
  return result;
}

}  // namespace drf::ssh
