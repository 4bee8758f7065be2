// dr-actuator's host reconfiguration against real OpenSSH servers on
// loopback (tests/fakes/sshd.h): the file on the host, the command it ran,
// and the refusals, as a user would see them.

#include <gtest/gtest.h>
#include <pwd.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "actuator/actions/host_reconfigure.h"
#include "actuator/ssh/pool.h"
#include "actuator/ssh/session.h"
#include "tests/fakes/sshd.h"

namespace drf::actuator {
namespace {

using namespace std::chrono_literals;
using drf::testing::KeyPair;
using drf::testing::MakeKeyPair;
using drf::testing::ReadWholeFile;
using drf::testing::Sshd;
using drf::testing::WriteWholeFile;
using ssh::ErrorKind;

struct FileId {
  ino_t ino = 0;
  timespec mtime{};
  timespec ctime{};
  mode_t mode = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};

FileId Stat(const std::string& path) {
  struct stat st {};
  FileId id;
  if (stat(path.c_str(), &st) != 0) return id;
  id.ino = st.st_ino;
  id.mtime = st.st_mtim;
  id.ctime = st.st_ctim;
  id.mode = st.st_mode & 07777;
  id.uid = st.st_uid;
  id.gid = st.st_gid;
  return id;
}

bool SameTime(const timespec& a, const timespec& b) {
  return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

class SshIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(Sshd::Available()) << "sshd or ssh-keygen missing";
    char tmpl[] = "/tmp/drf-ssh-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    chmod(dir_.c_str(), 0755);
    passwd* pw = getpwuid(geteuid());
    ASSERT_NE(pw, nullptr);
    user_ = pw->pw_name;
    client_ = MakeKeyPair(dir_ + "/id_ed25519");
    ASSERT_FALSE(client_.private_path.empty());
    ASSERT_EQ(mkdir((dir_ + "/app").c_str(), 0755), 0);
    env_file_ = dir_ + "/app/.env";
    known_hosts_ = dir_ + "/known_hosts";
    reloads_ = dir_ + "/reloads";

    a_ = std::make_unique<Sshd>(dir_ + "/host-a", client_.public_line);
    ASSERT_TRUE(a_->Start()) << a_->Log();
    ASSERT_TRUE(WriteWholeFile(known_hosts_, a_->KnownHostsLine() + "\n"));

    ssh_.private_key_file = client_.private_path;
    ssh_.known_hosts_file = known_hosts_;
    ssh_.connect_timeout = 5s;
    ssh_.command_timeout = 10s;
    activate_.env_file = env_file_;
    activate_.env = {{"AWS_REGION", "{site.aws_region}"},
                     {"DR_SITE", "{site.name}"}};
    // $SSH_CONNECTION names the server port: which host ran the reload.
    activate_.reload_command = "echo \"$SSH_CONNECTION\" >> " + reloads_;
    site_.name = "eu-central";
    site_.address = "127.0.0.12";
    site_.aws_region = "eu-west-1";
    site_.hosts = {Host(*a_)};
  }

  void TearDown() override {
    a_.reset();
    b_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  HostConfig Host(const Sshd& s) const {
    return {"127.0.0.1", s.port(), user_};
  }

  HostResult RunOnce() {
    SshHostActions actions(ssh_, activate_);
    return actions.Reconfigure(site_, site_.hosts[0]);
  }

  std::vector<std::string> Reloads() const {
    return Lines(ReadWholeFile(reloads_));
  }
  // True when a reload line came from the server on `port`.
  bool ReloadedBy(const Sshd& s) const {
    const std::string needle = " 127.0.0.1 " + std::to_string(s.port());
    for (const std::string& l : Reloads()) {
      if (l.size() >= needle.size() &&
          l.compare(l.size() - needle.size(), needle.size(), needle) == 0) {
        return true;
      }
    }
    return false;
  }

  // Asserts that a refused attempt changed nothing on the host.
  void ExpectUntouched(const std::string& before, const FileId& id) {
    EXPECT_EQ(ReadWholeFile(env_file_), before);
    FileId now = Stat(env_file_);
    EXPECT_EQ(now.ino, id.ino);
    EXPECT_TRUE(SameTime(now.mtime, id.mtime));
    EXPECT_TRUE(Reloads().empty());
  }

  std::string dir_;
  std::string user_;
  KeyPair client_;
  std::string env_file_;
  std::string known_hosts_;
  std::string reloads_;
  std::unique_ptr<Sshd> a_;
  std::unique_ptr<Sshd> b_;
  SshConfig ssh_;
  ActivateConfig activate_;
  SiteConfig site_;
};

// ------------------------------------------------------------ the file

TEST_F(SshIntegrationTest, RewritesEnvKeepingCommentsAndOtherKeys) {
  ASSERT_TRUE(WriteWholeFile(env_file_,
                             "# Application\n"
                             "APP_NAME=shop\n"
                             "\n"
                             "# DynamoDB replica of the serving site\n"
                             "export AWS_REGION=us-east-1  # managed\n"
                             "DB_TABLE=user_profiles\n"
                             "DR_SITE=us-east\n"
                             "AWS_REGION=us-east-1\n"));
  HostResult r = RunOnce();
  ASSERT_TRUE(r.ok) << r.message;
  EXPECT_TRUE(r.changed);
  EXPECT_EQ(r.attempts, 1);
  EXPECT_EQ(r.host, user_ + "@127.0.0.1:" + std::to_string(a_->port()));
  EXPECT_EQ(ReadWholeFile(env_file_),
            "# Application\n"
            "APP_NAME=shop\n"
            "\n"
            "# DynamoDB replica of the serving site\n"
            "export AWS_REGION=eu-west-1  # managed\n"
            "DB_TABLE=user_profiles\n"
            "DR_SITE=eu-central\n");
  EXPECT_TRUE(ReloadedBy(*a_));
}

TEST_F(SshIntegrationTest, AddsAMissingKey) {
  ASSERT_TRUE(WriteWholeFile(env_file_, "APP_NAME=shop\nDR_SITE=eu-central"));
  HostResult r = RunOnce();
  ASSERT_TRUE(r.ok) << r.message;
  EXPECT_TRUE(r.changed);
  EXPECT_EQ(ReadWholeFile(env_file_),
            "APP_NAME=shop\nDR_SITE=eu-central\nAWS_REGION=eu-west-1\n");
}

TEST_F(SshIntegrationTest, SameValueTwiceLeavesTheFileUntouched) {
  ASSERT_TRUE(WriteWholeFile(env_file_, "# c\r\nAWS_REGION=us-east-1\r\n"));
  HostResult first = RunOnce();
  ASSERT_TRUE(first.ok) << first.message;
  EXPECT_TRUE(first.changed);
  const std::string bytes = ReadWholeFile(env_file_);
  EXPECT_EQ(bytes, "# c\r\nAWS_REGION=eu-west-1\r\nDR_SITE=eu-central\r\n");
  const FileId before = Stat(env_file_);
  std::this_thread::sleep_for(20ms);  // a write would show in mtime

  HostResult second = RunOnce();
  ASSERT_TRUE(second.ok) << second.message;
  EXPECT_FALSE(second.changed);
  EXPECT_EQ(ReadWholeFile(env_file_), bytes);
  const FileId after = Stat(env_file_);
  EXPECT_EQ(after.ino, before.ino);
  EXPECT_TRUE(SameTime(after.mtime, before.mtime));
  EXPECT_TRUE(SameTime(after.ctime, before.ctime));
  // The reload runs every time: a crash between write and reload must
  // still converge.
  EXPECT_EQ(Reloads().size(), 2u);
}

TEST_F(SshIntegrationTest, KeepsModeAndOwner) {
  ASSERT_TRUE(WriteWholeFile(env_file_, "AWS_REGION=us-east-1\n"));
  ASSERT_EQ(chmod(env_file_.c_str(), 0640), 0);
  const bool root = geteuid() == 0;
  if (root) {
    ASSERT_EQ(chown(env_file_.c_str(), 33, 33), 0);  // www-data
  }
  HostResult r = RunOnce();
  ASSERT_TRUE(r.ok) << r.message;
  EXPECT_EQ(ReadWholeFile(env_file_),
            "AWS_REGION=eu-west-1\nDR_SITE=eu-central\n");
  FileId id = Stat(env_file_);
  EXPECT_EQ(id.mode, 0640u);
  if (root) {
    EXPECT_EQ(id.uid, 33u);
    EXPECT_EQ(id.gid, 33u);
  }
}

TEST_F(SshIntegrationTest, ALinkedDirectoryOnTheWayIsFollowed) {
  // A release-style deploy: /app/current -> the release; the file is real.
  ASSERT_TRUE(WriteWholeFile(env_file_, "AWS_REGION=us-east-1\n"));
  const std::string current = dir_ + "/current";
  ASSERT_EQ(symlink((dir_ + "/app").c_str(), current.c_str()), 0);
  activate_.env_file = current + "/.env";
  HostResult r = RunOnce();
  ASSERT_TRUE(r.ok) << r.message;
  EXPECT_EQ(ReadWholeFile(env_file_),
            "AWS_REGION=eu-west-1\nDR_SITE=eu-central\n");
  struct stat st {};
  ASSERT_EQ(lstat(current.c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
}

TEST_F(SshIntegrationTest, SymlinkedEnvFileIsRefusedAndItsTargetUnchanged) {
  // The app directory's .env points at a file outside it (it was the
  // host's /etc/passwd once).
  ASSERT_EQ(mkdir((dir_ + "/outside").c_str(), 0755), 0);
  const std::string target = dir_ + "/outside/passwd";
  const std::string original = "root:x:0:0:root:/root:/bin/bash\n";
  ASSERT_TRUE(WriteWholeFile(target, original));
  const FileId before = Stat(target);
  ASSERT_EQ(symlink(target.c_str(), env_file_.c_str()), 0);
  std::this_thread::sleep_for(20ms);  // a write would show in mtime

  SshHostActions actions(ssh_, activate_);
  HostReconfigurer reconfigurer(
      std::shared_ptr<HostActions>(&actions, [](HostActions*) {}),
      HostRetryPolicy{10ms, 20ms, 5s});
  HostResult r = reconfigurer.Reconfigure(site_)[0];
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error_kind, ErrorKind::kSymlink);
  EXPECT_EQ(r.error_kind_name(), "symlink");
  EXPECT_EQ(r.attempts, 1);  // never retried
  EXPECT_NE(r.message.find(env_file_), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("symbolic link"), std::string::npos) << r.message;
  EXPECT_EQ(ReadWholeFile(target), original);
  const FileId after = Stat(target);
  EXPECT_EQ(after.ino, before.ino);
  EXPECT_TRUE(SameTime(after.mtime, before.mtime));
  struct stat st {};
  ASSERT_EQ(lstat(env_file_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  EXPECT_TRUE(Reloads().empty());
}

TEST_F(SshIntegrationTest,
       SymlinkAtTheTemporaryPathIsRefusedAndNothingWritten) {
  ASSERT_TRUE(WriteWholeFile(env_file_, "AWS_REGION=us-east-1\n"));
  const FileId env_before = Stat(env_file_);
  ASSERT_EQ(mkdir((dir_ + "/outside").c_str(), 0755), 0);
  const std::string target = dir_ + "/outside/victim";
  ASSERT_TRUE(WriteWholeFile(target, "precious\n"));
  const FileId target_before = Stat(target);
  const std::string planted =
      dir_ + "/app/.env.dr-failover.00000000000000cc.tmp";
  ASSERT_EQ(symlink(target.c_str(), planted.c_str()), 0);
  std::this_thread::sleep_for(20ms);

  HostResult r = RunOnce();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error_kind, ErrorKind::kSymlink);
  EXPECT_NE(r.message.find(planted), std::string::npos) << r.message;
  EXPECT_FALSE(r.changed);
  ExpectUntouched("AWS_REGION=us-east-1\n", env_before);
  EXPECT_EQ(ReadWholeFile(target), "precious\n");
  EXPECT_TRUE(SameTime(Stat(target).mtime, target_before.mtime));
  struct stat st {};
  ASSERT_EQ(lstat(planted.c_str(), &st), 0);  // left for the operator
  EXPECT_TRUE(S_ISLNK(st.st_mode));
}

TEST_F(SshIntegrationTest, ASessionRefusesASymlinkedEnvFileToRead) {
  ASSERT_TRUE(WriteWholeFile(dir_ + "/real.env", "A=1\n"));
  ASSERT_EQ(symlink((dir_ + "/real.env").c_str(), env_file_.c_str()), 0);
  auto session = ssh::SshSession::Connect(site_.hosts[0], ssh_);
  ASSERT_TRUE(session) << session.error().message;
  auto file = session.value()->ReadFile(env_file_);
  ASSERT_FALSE(file);
  EXPECT_EQ(file.error().kind, ErrorKind::kSymlink);
  EXPECT_NE(file.error().message.find("(to " + dir_ + "/real.env)"),
            std::string::npos)
      << file.error().message;
}

TEST_F(SshIntegrationTest, LeavesNoTemporaryFileAndSweepsStaleOnes) {
  ASSERT_TRUE(WriteWholeFile(env_file_, "AWS_REGION=us-east-1\n"));
  // One left by a writer killed an hour ago, one of a writer still at work.
  const std::string stale = dir_ + "/app/.env.dr-failover.00000000000000aa.tmp";
  const std::string fresh = dir_ + "/app/.env.dr-failover.00000000000000bb.tmp";
  ASSERT_TRUE(WriteWholeFile(stale, "old"));
  ASSERT_TRUE(WriteWholeFile(fresh, "busy"));
  timeval old_times[2];
  gettimeofday(&old_times[0], nullptr);
  old_times[0].tv_sec -= 3600;
  old_times[1] = old_times[0];
  ASSERT_EQ(utimes(stale.c_str(), old_times), 0);

  HostResult r = RunOnce();
  ASSERT_TRUE(r.ok) << r.message;
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir_ + "/app")) {
    names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{
                       ".env", ".env.dr-failover.00000000000000bb.tmp"}));
}

TEST_F(SshIntegrationTest, MissingEnvFileIsReportedAndNotCreated) {
  HostResult r = RunOnce();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error_kind, ErrorKind::kSftp);
  EXPECT_NE(r.message.find("no such file"), std::string::npos) << r.message;
  EXPECT_FALSE(std::filesystem::exists(env_file_));
  EXPECT_TRUE(Reloads().empty());
}

TEST_F(SshIntegrationTest, OversizedEnvFileIsRefused) {
  ASSERT_TRUE(WriteWholeFile(
      env_file_, std::string(ssh::SshSession::kMaxFileBytes, '#') + "\n"));
  HostResult r = RunOnce();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error_kind, ErrorKind::kSftp);
  EXPECT_NE(r.message.find("limit"), std::string::npos) << r.message;
}

TEST_F(SshIntegrationTest, HostileValuesLandInertAndAShellReadsThemBack) {
  const std::string m = dir_ + "/pwned";
  const std::vector<std::pair<std::string, std::string>> hostile = {
      {"EVIL1", "$(touch " + m + "1)"},
      {"EVIL2", "`touch " + m + "2`"},
      {"EVIL3", "\"; touch " + m + "3; echo \""},
      {"EVIL4", "'; touch " + m + "4; echo '"},
  };
  for (const auto& kv : hostile) activate_.env.push_back(kv);
  // The host's own shell sources the file and prints what it read. The
  // command is a fixed string: values reach the host only in the file.
  const std::string seen = dir_ + "/seen";
  activate_.reload_command = "set -a; . " + env_file_ +
                             "; printf '%s\\n' \"$EVIL1\" \"$EVIL2\" "
                             "\"$EVIL3\" \"$EVIL4\" > " +
                             seen;
  ASSERT_TRUE(WriteWholeFile(env_file_, "AWS_REGION=us-east-1\n"));
  HostResult r = RunOnce();
  ASSERT_TRUE(r.ok) << r.message;
  const std::string text = ReadWholeFile(env_file_);
  EXPECT_NE(text.find("EVIL1='$(touch " + m + "1)'\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("EVIL2='`touch " + m + "2`'\n"), std::string::npos)
      << text;
  EXPECT_EQ(Lines(ReadWholeFile(seen)),
            (std::vector<std::string>{hostile[0].second, hostile[1].second,
                                      hostile[2].second, hostile[3].second}));
  for (int i = 1; i <= 4; ++i) {
    EXPECT_FALSE(std::filesystem::exists(m + std::to_string(i))) << i;
  }
}

// ------------------------------------------------------------ the reload

TEST_F(SshIntegrationTest, FailingReloadIsReportedWithItsExitAndStderr) {
  activate_.reload_command = "echo 'php-fpm: no such unit' >&2; exit 3";
  ASSERT_TRUE(WriteWholeFile(env_file_, "AWS_REGION=us-east-1\n"));
  HostResult r = RunOnce();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error_kind, ErrorKind::kCommandFailed);
  EXPECT_EQ(r.error_kind_name(), "command_failed");
  EXPECT_NE(r.message.find("exited 3"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("php-fpm: no such unit"), std::string::npos);
  EXPECT_TRUE(r.changed);  // the file was written before the reload
}

TEST_F(SshIntegrationTest, HungReloadTimesOut) {
  activate_.reload_command = "sleep 4";
  ssh_.command_timeout = 300ms;
  ASSERT_TRUE(WriteWholeFile(env_file_, "AWS_REGION=eu-west-1\n"));
  auto start = std::chrono::steady_clock::now();
  HostResult r = RunOnce();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error_kind, ErrorKind::kTimeout);
}

// Processes on this machine (the test hosts' sshd runs here) whose command
// line matches the extended regex `pattern`.
int CountProcesses(const std::string& pattern) {
  std::string cmd = "pgrep -c -f '" + pattern + "'";
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return -1;
  int n = 0;
  if (fscanf(p, "%d", &n) != 1) n = -1;
  pclose(p);
  return n;
}

TEST_F(SshIntegrationTest, HungReloadRetriedRunsAtMostOnceAtATime) {
  // A sleep no other test runs: the pattern matches only ours.
  const std::string secs = "3600." + std::to_string(getpid());
  const std::string pattern = "^sleep " + secs + "$";
  activate_.reload_command = "sleep " + secs;
  ssh_.command_timeout = 2s;
  ASSERT_TRUE(WriteWholeFile(env_file_, "AWS_REGION=eu-west-1\n"));

  std::atomic<bool> done{false};
  std::atomic<int> most{0};
  std::atomic<int> samples{0};
  std::thread watcher([&] {
    while (!done) {
      int n = CountProcesses(pattern);
      if (n > most) most = n;
      ++samples;
      std::this_thread::sleep_for(100ms);
    }
  });
  {
    // Retries as fast as the policy allows, twice over on two threads, as
    // a switch and a warmer's retry could.
    auto actions = std::make_shared<SshHostActions>(ssh_, activate_);
    HostReconfigurer reconfigurer(actions, HostRetryPolicy{50ms, 100ms, 9s});
    std::vector<HostResult> results = reconfigurer.Reconfigure(
        site_, std::vector<HostConfig>{site_.hosts[0], site_.hosts[0]}, nullptr,
        {});
    ASSERT_EQ(results.size(), 2u);
    for (const HostResult& r : results) {
      EXPECT_FALSE(r.ok);
      EXPECT_GE(r.attempts, 3);
    }
  }
  // None outlives the attempts by more than the host's kill-after.
  int left = -1;
  for (int i = 0; i < 80 && (left = CountProcesses(pattern)) != 0; ++i) {
    std::this_thread::sleep_for(100ms);
  }
  done = true;
  watcher.join();
  EXPECT_GT(samples, 30);
  EXPECT_EQ(most, 1);  // it did run, and never twice at once
  EXPECT_EQ(left, 0);
}

TEST_F(SshIntegrationTest, ASecondReloadWhileOneRunsFailsFast) {
  activate_.reload_command = "sleep 2";
  ASSERT_TRUE(WriteWholeFile(env_file_, "AWS_REGION=eu-west-1\n"));
  SshHostActions actions(ssh_, activate_);
  HostResult first;
  std::thread t([&] { first = actions.Reconfigure(site_, site_.hosts[0]); });
  std::this_thread::sleep_for(1s);  // the first one's sleep runs
  const auto start = std::chrono::steady_clock::now();
  HostResult second = actions.Reconfigure(site_, site_.hosts[0]);
  const auto took = std::chrono::steady_clock::now() - start;
  t.join();
  EXPECT_TRUE(first.ok) << first.message;
  EXPECT_FALSE(second.ok);
  EXPECT_EQ(second.error_kind, ErrorKind::kCommandFailed);
  EXPECT_NE(second.message.find("is running on this host: not started again"),
            std::string::npos)
      << second.message;
  EXPECT_LT(took, 1500ms);
  // Once it ended, the next one runs.
  HostResult third = actions.Reconfigure(site_, site_.hosts[0]);
  EXPECT_TRUE(third.ok) << third.message;
}

TEST_F(SshIntegrationTest, RealPhpFpmReloads) {
  const std::string fpm = "/usr/sbin/php-fpm8.2";
  ASSERT_EQ(access(fpm.c_str(), X_OK), 0) << "no php-fpm8.2";
  const std::string conf = dir_ + "/php-fpm.conf";
  const std::string pid = dir_ + "/php-fpm.pid";
  const std::string log = dir_ + "/php-fpm.log";
  const bool root = geteuid() == 0;
  ASSERT_TRUE(WriteWholeFile(
      conf,
      "[global]\npid = " + pid + "\nerror_log = " + log +
          "\ndaemonize = no\n[www]\n" +
          (root ? "user = www-data\ngroup = www-data\n" : "") +
          "listen = 127.0.0.1:" + std::to_string(drf::testing::FreePort()) +
          "\npm = static\npm.max_children = 1\n"));
  drf::testing::ChildProcess php_fpm({fpm, "-F", "-y", conf},
                                     dir_ + "/fpm.out");
  ASSERT_TRUE(php_fpm.started());
  for (int i = 0; i < 250 && ReadWholeFile(log).find("ready to handle") ==
                                 std::string::npos;
       ++i) {
    std::this_thread::sleep_for(20ms);
  }
  const std::string master =
      Lines(ReadWholeFile(pid)).empty() ? "" : Lines(ReadWholeFile(pid))[0];
  ASSERT_FALSE(master.empty()) << ReadWholeFile(log);

  activate_.reload_command = "kill -USR2 \"$(cat " + pid + ")\"";
  ASSERT_TRUE(WriteWholeFile(env_file_, "AWS_REGION=us-east-1\n"));
  HostResult r = RunOnce();
  EXPECT_TRUE(r.ok) << r.message;
  // Reloaded, and ready again: the master re-executes itself and serves on.
  auto reloaded = [&] {
    const std::string text = ReadWholeFile(log);
    std::size_t at = text.find("Reloading in progress");
    return at != std::string::npos &&
           text.find("ready to handle connections", at) != std::string::npos;
  };
  for (int i = 0; i < 250 && !reloaded(); ++i) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(reloaded()) << ReadWholeFile(log);
  // A graceful reload: the same master process.
  EXPECT_EQ(Lines(ReadWholeFile(pid))[0], master);
  EXPECT_EQ(master, std::to_string(php_fpm.pid()));
}

// ------------------------------------------------------------ refusals

TEST_F(SshIntegrationTest, UnknownHostKeyIsRefusedBeforeLogin) {
  ASSERT_TRUE(WriteWholeFile(
      known_hosts_,
      "[127.0.0.1]:1 " +
          client_.public_line.substr(0, client_.public_line.rfind(' ')) +
          "\n"));
  ASSERT_TRUE(WriteWholeFile(env_file_, "AWS_REGION=us-east-1\n"));
  const FileId id = Stat(env_file_);
  HostResult r = RunOnce();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error_kind, ErrorKind::kHostKeyUnknown);
  EXPECT_EQ(r.error_kind_name(), "host_key_unknown");
  EXPECT_NE(r.message.find("SHA256:"), std::string::npos) << r.message;
  ExpectUntouched("AWS_REGION=us-east-1\n", id);
  // Refused before authenticating: the server never saw our key.
  EXPECT_EQ(a_->Log().find("publickey"), std::string::npos) << a_->Log();
  // known_hosts is never written (no trust on first use).
  EXPECT_EQ(Lines(ReadWholeFile(known_hosts_)).size(), 1u);
}

TEST_F(SshIntegrationTest, MissingKnownHostsFileIsRefused) {
  ssh_.known_hosts_file = dir_ + "/no-such-known-hosts";
  ASSERT_TRUE(WriteWholeFile(env_file_, "AWS_REGION=us-east-1\n"));
  const FileId id = Stat(env_file_);
  HostResult r = RunOnce();
  EXPECT_EQ(r.error_kind, ErrorKind::kHostKeyUnknown) << r.message;
  ExpectUntouched("AWS_REGION=us-east-1\n", id);
  EXPECT_FALSE(std::filesystem::exists(ssh_.known_hosts_file));
}

TEST_F(SshIntegrationTest, ChangedHostKeyIsRefused) {
  ASSERT_TRUE(WriteWholeFile(env_file_, "AWS_REGION=us-east-1\n"));
  const FileId id = Stat(env_file_);
  ASSERT_TRUE(a_->RotateHostKey()) << a_->Log();  // known_hosts keeps the old
  HostResult r = RunOnce();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error_kind, ErrorKind::kHostKeyChanged);
  EXPECT_EQ(r.error_kind_name(), "host_key_changed");
  EXPECT_NE(r.message.find("SHA256:"), std::string::npos) << r.message;
  ExpectUntouched("AWS_REGION=us-east-1\n", id);
  EXPECT_EQ(a_->Log().find("publickey"), std::string::npos) << a_->Log();
}

TEST_F(SshIntegrationTest, WrongUserKeyIsRefused) {
  KeyPair other = MakeKeyPair(dir_ + "/other_ed25519");
  ASSERT_FALSE(other.private_path.empty());
  ssh_.private_key_file = other.private_path;
  ASSERT_TRUE(WriteWholeFile(env_file_, "AWS_REGION=us-east-1\n"));
  const FileId id = Stat(env_file_);
  HostResult r = RunOnce();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error_kind, ErrorKind::kAuthFailed);
  EXPECT_EQ(r.error_kind_name(), "auth_failed");
  ExpectUntouched("AWS_REGION=us-east-1\n", id);
}

TEST_F(SshIntegrationTest, HostDownIsAConnectError) {
  a_->Stop();
  HostResult r = RunOnce();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error_kind, ErrorKind::kConnect);
  EXPECT_EQ(r.error_kind_name(), "connect");
}

// ------------------------------------------------------------ many hosts

TEST_F(SshIntegrationTest, TwoHostsAreReconfiguredInParallel) {
  b_ = std::make_unique<Sshd>(dir_ + "/host-b", client_.public_line);
  ASSERT_TRUE(b_->Start()) << b_->Log();
  ASSERT_TRUE(WriteWholeFile(
      known_hosts_, a_->KnownHostsLine() + "\n" + b_->KnownHostsLine() + "\n"));
  site_.hosts = {Host(*a_), Host(*b_)};
  // Both hosts share the one env file here (one machine): concurrent
  // writers of the same file must not disturb each other either.
  // Each reload notes when it started and ended: run at once, the two
  // intervals overlap; one after the other, they cannot.
  activate_.reload_command = "date +%s%N >> " + dir_ + "/starts; sleep 1; " +
                             "date +%s%N >> " + dir_ + "/ends; " +
                             activate_.reload_command;
  ASSERT_TRUE(WriteWholeFile(env_file_, "# app\nAWS_REGION=us-east-1\n"));
  ActuatorConfig config;
  config.ssh = ssh_;
  config.activate = activate_;
  HostReconfigurer reconfigurer(config);

  std::vector<HostResult> results = reconfigurer.Reconfigure(site_);
  ASSERT_EQ(results.size(), 2u);
  for (const HostResult& r : results) {
    EXPECT_TRUE(r.ok) << r.host << ": " << r.message;
    EXPECT_EQ(r.attempts, 1);
  }
  std::vector<long long> starts, ends;
  for (const std::string& l : Lines(ReadWholeFile(dir_ + "/starts"))) {
    starts.push_back(std::stoll(l));
  }
  for (const std::string& l : Lines(ReadWholeFile(dir_ + "/ends"))) {
    ends.push_back(std::stoll(l));
  }
  ASSERT_EQ(starts.size(), 2u);
  ASSERT_EQ(ends.size(), 2u);
  EXPECT_LT(*std::max_element(starts.begin(), starts.end()),
            *std::min_element(ends.begin(), ends.end()))
      << "the second reload began only after the first had ended";
  EXPECT_TRUE(ReloadedBy(*a_));
  EXPECT_TRUE(ReloadedBy(*b_));
  EXPECT_EQ(ReadWholeFile(env_file_),
            "# app\nAWS_REGION=eu-west-1\nDR_SITE=eu-central\n");
}

TEST_F(SshIntegrationTest, OneHostDownTheOtherIsDoneAndTheRetryConverges) {
  b_ = std::make_unique<Sshd>(dir_ + "/host-b", client_.public_line);  // down
  ASSERT_TRUE(WriteWholeFile(
      known_hosts_, a_->KnownHostsLine() + "\n" + b_->KnownHostsLine() + "\n"));
  site_.hosts = {Host(*a_), Host(*b_)};
  ASSERT_TRUE(WriteWholeFile(env_file_, "AWS_REGION=us-east-1\n"));
  ActuatorConfig config;
  config.ssh = ssh_;
  config.activate = activate_;
  HostRetryPolicy policy;
  policy.base = 100ms;
  policy.cap = 400ms;
  policy.give_up_after = 30s;
  HostReconfigurer reconfigurer(config, policy);

  std::mutex mu;
  std::condition_variable cv;
  bool a_done = false;
  std::vector<HostResult> b_failures;
  const std::string a_name = ssh::HostName(site_.hosts[0]);
  auto observer = [&](const SiteConfig&, const HostResult& h) {
    std::lock_guard<std::mutex> lock(mu);
    if (h.host == a_name) {
      a_done = h.ok;
    } else if (!h.ok) {
      b_failures.push_back(h);
    }
    cv.notify_all();
  };
  // Brings host B up once A is done and B's failure has been reported.
  std::string a_file_when_b_started;
  std::thread operator_thread([&] {
    std::unique_lock<std::mutex> lock(mu);
    bool both =
        cv.wait_for(lock, 20s, [&] { return a_done && !b_failures.empty(); });
    EXPECT_TRUE(both) << "host A waited for host B, or B never failed";
    a_file_when_b_started = ReadWholeFile(env_file_);
    lock.unlock();
    EXPECT_TRUE(b_->Start()) << b_->Log();
  });
  std::vector<HostResult> results =
      reconfigurer.Reconfigure(site_, nullptr, observer);
  operator_thread.join();

  ASSERT_EQ(results.size(), 2u);
  EXPECT_TRUE(results[0].ok) << results[0].message;
  EXPECT_EQ(results[0].attempts, 1);
  EXPECT_TRUE(results[0].changed);
  // A's change was on the host while B was still down.
  EXPECT_EQ(a_file_when_b_started,
            "AWS_REGION=eu-west-1\nDR_SITE=eu-central\n");
  ASSERT_FALSE(b_failures.empty());
  EXPECT_EQ(b_failures.front().error_kind, ErrorKind::kConnect);
  EXPECT_EQ(b_failures.front().attempts, 1);
  EXPECT_TRUE(results[1].ok) << results[1].message;
  EXPECT_GE(results[1].attempts, 2);
  EXPECT_FALSE(results[1].changed);  // A had written the shared file already
  EXPECT_TRUE(ReloadedBy(*a_));
  EXPECT_TRUE(ReloadedBy(*b_));
}

// ------------------------------------------------------------ the session

TEST_F(SshIntegrationTest, SessionReplacesAnExistingFileAtomically) {
  // libssh 0.10's sftp_rename cannot replace an existing file on OpenSSH;
  // WriteFileAtomic must (posix-rename@openssh.com).
  ASSERT_TRUE(WriteWholeFile(env_file_, "A=1\n"));
  auto session = ssh::SshSession::Connect(site_.hosts[0], ssh_);
  ASSERT_TRUE(session) << session.error().message;
  auto file = session.value()->ReadFile(env_file_);
  ASSERT_TRUE(file) << file.error().message;
  EXPECT_EQ(file.value().content, "A=1\n");
  EXPECT_EQ(file.value().path, std::filesystem::canonical(env_file_).string());
  for (int i = 0; i < 3; ++i) {
    auto w = session.value()->WriteFileAtomic(file.value(),
                                              "A=" + std::to_string(i) + "\n");
    ASSERT_TRUE(w) << w.error().message;
    EXPECT_EQ(ReadWholeFile(env_file_), "A=" + std::to_string(i) + "\n");
  }
  auto run = session.value()->Exec("printf out; printf err >&2; exit 7", 5s);
  ASSERT_TRUE(run) << run.error().message;
  EXPECT_EQ(run.value().exit_status, 7);
  EXPECT_EQ(run.value().stderr_tail, "err");
}

// ------------------------------------------------------------ kept sessions

TEST_F(SshIntegrationTest, AWarmedSessionServesTheNextAttempts) {
  ASSERT_TRUE(WriteWholeFile(env_file_, "AWS_REGION=us-east-1\n"));
  SshHostActions actions(ssh_, activate_);
  actions.Warm(site_.hosts);
  EXPECT_EQ(actions.pool().idle(), 1u);
  EXPECT_EQ(a_->AcceptedLogins(), 1) << a_->Log();
  // Warming again while the session is fresh opens nothing new.
  actions.Warm(site_.hosts);
  EXPECT_EQ(a_->AcceptedLogins(), 1);

  for (int i = 0; i < 2; ++i) {
    HostResult r = actions.Reconfigure(site_, site_.hosts[0]);
    ASSERT_TRUE(r.ok) << r.message;
    EXPECT_TRUE(r.reused_session);
    EXPECT_EQ(r.changed, i == 0);
  }
  EXPECT_EQ(a_->AcceptedLogins(), 1) << a_->Log();
  EXPECT_EQ(ReadWholeFile(env_file_),
            "AWS_REGION=eu-west-1\nDR_SITE=eu-central\n");
  EXPECT_EQ(Reloads().size(), 2u);
  EXPECT_EQ(actions.pool().idle(), 1u);
}

TEST_F(SshIntegrationTest, ADeadKeptSessionFallsBackToANewConnection) {
  ASSERT_TRUE(WriteWholeFile(env_file_, "AWS_REGION=us-east-1\n"));
  SshHostActions actions(ssh_, activate_);
  actions.Warm(site_.hosts);
  ASSERT_EQ(a_->AcceptedLogins(), 1) << a_->Log();
  a_->KillSessions();  // the connection dies while idle
  HostResult r = actions.Reconfigure(site_, site_.hosts[0]);
  ASSERT_TRUE(r.ok) << r.message;
  EXPECT_FALSE(r.reused_session);
  EXPECT_TRUE(r.changed);
  EXPECT_EQ(a_->AcceptedLogins(), 2);
  EXPECT_EQ(Reloads().size(), 1u);
  EXPECT_EQ(actions.pool().idle(), 1u);  // the new one is kept
}

TEST_F(SshIntegrationTest, AFailureOnALiveKeptSessionIsNotRepeated) {
  // No env file: the kept session is fine, the attempt fails as it would on
  // a new one, and is not run again over a new connection.
  SshHostActions actions(ssh_, activate_);
  actions.Warm(site_.hosts);
  ASSERT_EQ(a_->AcceptedLogins(), 1) << a_->Log();
  HostResult r = actions.Reconfigure(site_, site_.hosts[0]);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error_kind, ErrorKind::kSftp) << r.message;
  EXPECT_TRUE(r.reused_session);
  EXPECT_EQ(a_->AcceptedLogins(), 1);
  EXPECT_EQ(actions.pool().idle(), 0u);  // closed: the next one starts anew
  ASSERT_TRUE(WriteWholeFile(env_file_, "AWS_REGION=us-east-1\n"));
  r = actions.Reconfigure(site_, site_.hosts[0]);
  ASSERT_TRUE(r.ok) << r.message;
  EXPECT_FALSE(r.reused_session);
  EXPECT_EQ(a_->AcceptedLogins(), 2);
  EXPECT_EQ(Reloads().size(), 1u);
}

TEST_F(SshIntegrationTest, ANewConnectionStillChecksTheHostKey) {
  // The host is reinstalled while its old session is kept: the old
  // connection dies with it, and the new one meets a key known_hosts does
  // not trust.
  ASSERT_TRUE(WriteWholeFile(env_file_, "AWS_REGION=us-east-1\n"));
  SshHostActions actions(ssh_, activate_);
  actions.Warm(site_.hosts);
  ASSERT_EQ(actions.pool().idle(), 1u);
  a_->KillSessions();
  ASSERT_TRUE(a_->RotateHostKey()) << a_->Log();
  HostResult r = actions.Reconfigure(site_, site_.hosts[0]);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error_kind, ErrorKind::kHostKeyChanged) << r.message;
  EXPECT_EQ(ReadWholeFile(env_file_), "AWS_REGION=us-east-1\n");
  EXPECT_TRUE(Reloads().empty());
  EXPECT_EQ(actions.pool().idle(), 0u);
}

TEST_F(SshIntegrationTest, WarmChecksAKeptSessionAndReplacesADeadOne) {
  ssh::SessionPool pool(ssh_, {.check_after = 0s, .max_age = 10min});
  ASSERT_TRUE(pool.Warm(site_.hosts[0]));
  ASSERT_TRUE(pool.Warm(site_.hosts[0]));  // checked (ping), kept
  EXPECT_EQ(a_->AcceptedLogins(), 1) << a_->Log();
  a_->KillSessions();
  ASSERT_TRUE(pool.Warm(site_.hosts[0]));  // the check fails: reconnects
  EXPECT_EQ(a_->AcceptedLogins(), 2) << a_->Log();
  EXPECT_EQ(pool.idle(), 1u);
  a_->KillSessions();  // the host goes away: sessions and listener
  a_->Stop();
  auto down = pool.Warm(site_.hosts[0]);
  ASSERT_FALSE(down);
  EXPECT_EQ(down.error().kind, ErrorKind::kConnect);
  EXPECT_EQ(pool.idle(), 0u);
}

TEST_F(SshIntegrationTest, OldSessionsAreNotUsedAndOthersAreLetGo) {
  ssh::SessionPool pool(ssh_, {.check_after = 15s, .max_age = 300ms});
  ASSERT_TRUE(pool.Warm(site_.hosts[0]));
  std::this_thread::sleep_for(400ms);
  EXPECT_EQ(pool.Take(site_.hosts[0]), nullptr);  // too old: closed
  ASSERT_TRUE(pool.Warm(site_.hosts[0]));
  EXPECT_EQ(a_->AcceptedLogins(), 2) << a_->Log();

  b_ = std::make_unique<Sshd>(dir_ + "/host-b", client_.public_line);
  ASSERT_TRUE(b_->Start()) << b_->Log();
  ASSERT_TRUE(WriteWholeFile(
      known_hosts_, a_->KnownHostsLine() + "\n" + b_->KnownHostsLine() + "\n"));
  ssh::SessionPool two(ssh_);
  ASSERT_TRUE(two.Warm(Host(*a_)));
  ASSERT_TRUE(two.Warm(Host(*b_)));
  EXPECT_EQ(two.idle(), 2u);
  two.KeepOnly({Host(*b_)});
  EXPECT_EQ(two.idle(), 1u);
  EXPECT_EQ(two.Take(Host(*a_)), nullptr);
  EXPECT_NE(two.Take(Host(*b_)), nullptr);
}

}  // namespace
}  // namespace drf::actuator
