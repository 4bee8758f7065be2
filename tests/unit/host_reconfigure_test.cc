#include "actuator/actions/host_reconfigure.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "actuator/actions/host_worker.h"

namespace drf::actuator {
namespace {

using namespace std::chrono_literals;
using ssh::ErrorKind;

// Scripted outcomes per host address: each attempt takes the next one; the
// last repeats. Records concurrency.
class FakeHostActions : public HostActions {
 public:
  struct Outcome {
    bool ok = true;
    ErrorKind kind = ErrorKind::kNone;
    bool changed = false;
    bool throws = false;
  };

  void Script(const std::string& address, std::vector<Outcome> outcomes) {
    std::lock_guard<std::mutex> lock(mu_);
    script_[address] = std::move(outcomes);
  }
  void set_delay(std::chrono::milliseconds d) { delay_ = d; }

  HostResult Reconfigure(const SiteConfig& site,
                         const HostConfig& host) override {
    int now = ++in_flight_;
    for (int seen = max_in_flight_;
         now > seen && !max_in_flight_.compare_exchange_weak(seen, now);) {
    }
    std::this_thread::sleep_for(delay_);
    Outcome o;
    {
      std::lock_guard<std::mutex> lock(mu_);
      int n = calls_[host.address]++;
      sites_.push_back(site.name);
      auto it = script_.find(host.address);
      if (it != script_.end() && !it->second.empty()) {
        o = it->second[std::min<std::size_t>(n, it->second.size() - 1)];
      }
    }
    --in_flight_;
    if (o.throws) throw std::runtime_error("boom");
    HostResult r;
    r.host = ssh::HostName(host);
    r.ok = o.ok;
    r.error_kind = o.kind;
    r.message = o.ok ? "" : "scripted failure";
    r.changed = o.changed;
    r.attempts = 1;
    return r;
  }

  std::vector<bool> Warm(const std::vector<HostConfig>& hosts) override {
    std::lock_guard<std::mutex> lock(mu_);
    warmed_.push_back(hosts.size());
    if (warm_throws_) throw std::runtime_error("warm boom");
    std::vector<bool> ready;
    for (const HostConfig& h : hosts) ready.push_back(h.address != "10.0.0.2");
    return ready;
  }
  std::vector<std::size_t> warmed() {
    std::lock_guard<std::mutex> lock(mu_);
    return warmed_;
  }
  void set_warm_throws(bool t) { warm_throws_ = t; }

  int calls(const std::string& address) {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_[address];
  }
  int max_in_flight() const { return max_in_flight_; }

 private:
  std::mutex mu_;
  std::map<std::string, std::vector<Outcome>> script_;
  std::map<std::string, int> calls_;
  std::vector<std::string> sites_;
  std::vector<std::size_t> warmed_;
  bool warm_throws_ = false;
  std::chrono::milliseconds delay_{0};
  std::atomic<int> in_flight_{0};
  std::atomic<int> max_in_flight_{0};
};

const FakeHostActions::Outcome kOk{true, ErrorKind::kNone, false, false};
const FakeHostActions::Outcome kOkChanged{true, ErrorKind::kNone, true, false};
const FakeHostActions::Outcome kDown{false, ErrorKind::kConnect, false, false};

SiteConfig Site(int hosts) {
  SiteConfig s;
  s.name = "eu-central";
  for (int i = 0; i < hosts; ++i) {
    s.hosts.push_back({"10.0.0." + std::to_string(i + 1), 22, "deploy"});
  }
  return s;
}

HostRetryPolicy Fast() {
  HostRetryPolicy p;
  p.base = 5ms;
  p.cap = 20ms;
  p.give_up_after = 5s;
  return p;
}

TEST(HostBackoffTest, GrowsExponentiallyUpToTheCap) {
  HostRetryPolicy p;
  p.base = 100ms;
  p.cap = 1s;
  // unit -> 1: the ceiling itself.
  EXPECT_EQ(HostBackoff(p, 1, 1.0), 100ms);
  EXPECT_EQ(HostBackoff(p, 2, 1.0), 200ms);
  EXPECT_EQ(HostBackoff(p, 3, 1.0), 400ms);
  EXPECT_EQ(HostBackoff(p, 4, 1.0), 800ms);
  EXPECT_EQ(HostBackoff(p, 5, 1.0), 1s);
  EXPECT_EQ(HostBackoff(p, 1000, 1.0), 1s);  // no overflow
}

TEST(HostBackoffTest, FullJitterSpansZeroToTheCeiling) {
  HostRetryPolicy p;
  p.base = 100ms;
  p.cap = 1s;
  EXPECT_EQ(HostBackoff(p, 3, 0.0), 0ms);
  EXPECT_EQ(HostBackoff(p, 3, 0.5), 200ms);
  EXPECT_EQ(HostBackoff(p, 3, -1), 0ms);  // clamped
  EXPECT_EQ(HostBackoff(p, 0, 1.0), 100ms);
}

TEST(HostReconfigurerTest, ReconfiguresAllHostsInParallel) {
  auto fake = std::make_shared<FakeHostActions>();
  fake->set_delay(300ms);  // long enough for all four to be in flight
  HostReconfigurer r(fake, Fast());
  auto results = r.Reconfigure(Site(4));
  ASSERT_EQ(results.size(), 4u);
  for (const HostResult& h : results) {
    EXPECT_TRUE(h.ok) << h.host;
    EXPECT_EQ(h.attempts, 1);
    EXPECT_EQ(h.error_kind, ErrorKind::kNone);
  }
  EXPECT_EQ(fake->max_in_flight(), 4);  // all at once, none waited
}

TEST(HostReconfigurerTest, ResultsFollowHostOrderAndName) {
  auto fake = std::make_shared<FakeHostActions>();
  HostReconfigurer r(fake, Fast());
  auto results = r.Reconfigure(Site(3));
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[0].host, "deploy@10.0.0.1:22");
  EXPECT_EQ(results[2].host, "deploy@10.0.0.3:22");
}

TEST(HostReconfigurerTest, OneFailingHostIsRetriedAndNeverHoldsBackOthers) {
  auto fake = std::make_shared<FakeHostActions>();
  fake->Script("10.0.0.2", {kDown, kDown, kDown, kOkChanged});
  std::mutex mu;
  std::vector<std::pair<std::string, int>> seen;
  HostReconfigurer r(fake, Fast());
  auto results = r.Reconfigure(Site(2), nullptr,
                               [&](const SiteConfig&, const HostResult& h) {
                                 std::lock_guard<std::mutex> lock(mu);
                                 seen.emplace_back(h.host, h.attempts);
                               });
  EXPECT_TRUE(results[0].ok);
  EXPECT_EQ(results[0].attempts, 1);
  EXPECT_EQ(fake->calls("10.0.0.1"), 1);
  EXPECT_TRUE(results[1].ok);
  EXPECT_EQ(results[1].attempts, 4);
  EXPECT_TRUE(results[1].changed);
  EXPECT_EQ(results[1].message, "");
  // Every attempt was reported as it happened, failures included.
  EXPECT_EQ(seen.size(), 5u);
}

TEST(HostReconfigurerTest, ChangedStaysTrueWhenALaterAttemptFindsTheFileRight) {
  // Attempt 1 writes the file and then fails (its reload failed); attempt 2
  // finds the file already right.
  auto fake = std::make_shared<FakeHostActions>();
  fake->Script("10.0.0.1",
               {{false, ErrorKind::kCommandFailed, true, false}, kOk});
  HostReconfigurer r(fake, Fast());
  auto results = r.Reconfigure(Site(1));
  EXPECT_TRUE(results[0].ok);
  EXPECT_TRUE(results[0].changed);
  EXPECT_EQ(results[0].attempts, 2);
}

TEST(HostReconfigurerTest, GivesUpAfterTheDeadlineWithTheLastError) {
  auto fake = std::make_shared<FakeHostActions>();
  fake->Script("10.0.0.1", {{false, ErrorKind::kHostKeyChanged, false, false}});
  HostRetryPolicy p = Fast();
  p.give_up_after = 150ms;
  HostReconfigurer r(fake, p);
  auto start = std::chrono::steady_clock::now();
  auto results = r.Reconfigure(Site(2));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  EXPECT_FALSE(results[0].ok);
  EXPECT_EQ(results[0].error_kind, ErrorKind::kHostKeyChanged);
  EXPECT_EQ(results[0].error_kind_name(), "host_key_changed");
  EXPECT_EQ(results[0].message, "scripted failure");
  EXPECT_GT(results[0].attempts, 1);
  EXPECT_GE(results[0].seconds, 0.0);
  EXPECT_TRUE(results[1].ok);  // the other host is unaffected
}

TEST(HostReconfigurerTest, InvalidValuesAreNotRetried) {
  auto fake = std::make_shared<FakeHostActions>();
  fake->Script("10.0.0.1", {{false, ErrorKind::kInvalid, false, false}});
  HostReconfigurer r(fake, Fast());
  auto results = r.Reconfigure(Site(1));
  EXPECT_FALSE(results[0].ok);
  EXPECT_EQ(results[0].attempts, 1);
  EXPECT_EQ(results[0].error_kind, ErrorKind::kInvalid);
}

TEST(HostReconfigurerTest, ASymlinkedEnvFileIsNotRetried) {
  auto fake = std::make_shared<FakeHostActions>();
  fake->Script("10.0.0.1", {{false, ErrorKind::kSymlink, false, false}});
  HostReconfigurer r(fake, Fast());
  auto results = r.Reconfigure(Site(1));
  EXPECT_FALSE(results[0].ok);
  EXPECT_EQ(results[0].attempts, 1);
  EXPECT_EQ(results[0].error_kind_name(), "symlink");
}

TEST(HostReconfigurerTest, StopperEndsRetriesAtOnce) {
  auto fake = std::make_shared<FakeHostActions>();
  fake->Script("10.0.0.1", {kDown});
  HostRetryPolicy p;
  p.base = 10s;  // only a stop can end the wait early
  p.cap = 10s;
  p.give_up_after = 0ms;  // never gives up
  HostReconfigurer r(fake, p);
  Stopper stop;
  std::thread stopper([&] {
    std::this_thread::sleep_for(200ms);
    stop.Stop();
  });
  auto start = std::chrono::steady_clock::now();
  auto results = r.Reconfigure(Site(1), &stop);
  stopper.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_FALSE(results[0].ok);
  EXPECT_EQ(results[0].error_kind, ErrorKind::kCancelled);
  EXPECT_NE(results[0].message.find("connect"), std::string::npos);
}

TEST(HostReconfigurerTest, AlreadyStoppedMakesNoAttempt) {
  auto fake = std::make_shared<FakeHostActions>();
  HostReconfigurer r(fake, Fast());
  Stopper stop;
  stop.Stop();
  auto results = r.Reconfigure(Site(1), &stop);
  EXPECT_EQ(results[0].attempts, 0);
  EXPECT_EQ(results[0].error_kind, ErrorKind::kCancelled);
  EXPECT_EQ(fake->calls("10.0.0.1"), 0);
}

TEST(HostReconfigurerTest, AnExceptionIsAFailureOfThatHostOnly) {
  auto fake = std::make_shared<FakeHostActions>();
  fake->Script("10.0.0.1", {{true, ErrorKind::kNone, false, true}, kOk});
  HostReconfigurer r(fake, Fast());
  std::mutex mu;
  std::vector<HostResult> first;  // each host's first attempt
  auto results = r.Reconfigure(Site(2), nullptr,
                               [&](const SiteConfig&, const HostResult& h) {
                                 std::lock_guard<std::mutex> lock(mu);
                                 if (h.attempts == 1) first.push_back(h);
                               });
  ASSERT_EQ(first.size(), 2u);
  std::sort(
      first.begin(), first.end(),
      [](const HostResult& a, const HostResult& b) { return a.host < b.host; });
  EXPECT_FALSE(first[0].ok);
  EXPECT_NE(first[0].message.find("boom"), std::string::npos);
  EXPECT_EQ(first[0].host, "deploy@10.0.0.1:22");
  EXPECT_TRUE(first[1].ok);
  // The exception was that attempt's failure: the host is retried.
  EXPECT_TRUE(results[0].ok);
  EXPECT_EQ(results[0].attempts, 2);
}

TEST(HostReconfigurerTest, ASubsetOfHostsTouchesOnlyThoseHosts) {
  auto fake = std::make_shared<FakeHostActions>();
  fake->Script("10.0.0.2", {kDown, kOk});
  fake->set_delay(200ms);
  HostReconfigurer r(fake, Fast());
  SiteConfig site = Site(3);
  std::atomic<int> reports{0};
  auto results = r.Reconfigure(site, {site.hosts[1], site.hosts[2]}, nullptr,
                               [&](const SiteConfig&, const HostResult& h) {
                                 if (!h.ok) {
                                   EXPECT_EQ(h.error_kind, ErrorKind::kConnect);
                                   EXPECT_EQ(h.attempts, 1);
                                 }
                                 ++reports;
                               });
  ASSERT_EQ(results.size(), 2u);
  EXPECT_TRUE(results[0].ok);
  EXPECT_EQ(results[0].attempts, 2);
  EXPECT_TRUE(results[1].ok);
  EXPECT_EQ(results[1].attempts, 1);
  EXPECT_EQ(reports, 3);
  EXPECT_EQ(fake->calls("10.0.0.2"), 2);
  EXPECT_EQ(fake->calls("10.0.0.1"), 0);
  EXPECT_EQ(fake->max_in_flight(), 2);
}

// A clock whose waits return at once and move its time forward by the
// wait: the real retry loop, without sleeping.
class FakeRetryClock : public RetryClock {
 public:
  std::chrono::steady_clock::time_point Now() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return now_;
  }
  bool WaitFor(Duration d, const Stopper* stop) const override {
    std::lock_guard<std::mutex> lock(mu_);
    waits_.push_back(d);
    now_ += d;
    return stop != nullptr && stop->stopped();
  }
  std::vector<Duration> waits() const {
    std::lock_guard<std::mutex> lock(mu_);
    return waits_;
  }

 private:
  mutable std::mutex mu_;
  mutable std::chrono::steady_clock::time_point now_{};
  mutable std::vector<Duration> waits_;
};

TEST(HostReconfigurerTest, RetriesWaitTheBackoffOnTheInjectedClock) {
  auto fake = std::make_shared<FakeHostActions>();
  fake->Script("10.0.0.1", {kDown, kDown, kDown, kDown, kOk});
  FakeRetryClock clock;
  HostRetryPolicy p;
  p.base = 1s;
  p.cap = 4s;
  p.give_up_after = 0ms;
  HostReconfigurer r(fake, p, &clock);
  auto start = std::chrono::steady_clock::now();
  auto results = r.Reconfigure(Site(1));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);  // never slept
  EXPECT_TRUE(results[0].ok);
  EXPECT_EQ(results[0].attempts, 5);
  // One wait between two attempts, each below its ceiling (1, 2, 4, 4 s).
  auto waits = clock.waits();
  ASSERT_EQ(waits.size(), 4u);
  const Duration ceilings[] = {1s, 2s, 4s, 4s};
  for (std::size_t i = 0; i < waits.size(); ++i) {
    EXPECT_GE(waits[i], 0ms);
    EXPECT_LT(waits[i], ceilings[i]) << i;
  }
}

TEST(HostReconfigurerTest, GivesUpByTheInjectedClock) {
  auto fake = std::make_shared<FakeHostActions>();
  fake->Script("10.0.0.1", {kDown});
  FakeRetryClock clock;
  HostRetryPolicy p;
  p.base = 10s;
  p.cap = 60s;
  p.give_up_after = 10min;
  HostReconfigurer r(fake, p, &clock);
  auto results = r.Reconfigure(Site(1));
  EXPECT_FALSE(results[0].ok);
  EXPECT_EQ(results[0].error_kind, ErrorKind::kConnect);
  // Attempts until the next wait would pass the deadline; the waits never
  // add up to more than it.
  Duration waited{};
  for (Duration d : clock.waits()) waited += d;
  EXPECT_LT(waited, 10min);
  EXPECT_EQ(results[0].attempts, static_cast<int>(clock.waits().size()) + 1);
  EXPECT_GT(results[0].attempts, 5);
}

TEST(HostReconfigurerTest, WarmPassesTheHostsOnAndIsBestEffort) {
  auto fake = std::make_shared<FakeHostActions>();
  HostReconfigurer r(fake, Fast());
  EXPECT_EQ(r.Warm(Site(3).hosts), (std::vector<bool>{true, false, true}));
  EXPECT_TRUE(r.Warm({}).empty());
  fake->set_warm_throws(true);
  EXPECT_TRUE(r.Warm(Site(2).hosts).empty());  // must not throw
  EXPECT_EQ(fake->warmed(), (std::vector<std::size_t>{3, 0, 2}));
  EXPECT_EQ(fake->calls("10.0.0.1"), 0);  // warming reconfigures nothing
}

TEST(HostReconfigurerTest, NoHostsNoResults) {
  HostReconfigurer r(std::make_shared<FakeHostActions>(), Fast());
  EXPECT_TRUE(r.Reconfigure(Site(0)).empty());
}

TEST(SshHostActionsTest, UnsafeValueFailsBeforeAnyConnection) {
  ActivateConfig activate;
  activate.env = {{"AWS_REGION", "{site.aws_region}"}};
  SshConfig ssh;
  ssh.private_key_file = "/nonexistent/key";
  SshHostActions actions(ssh, activate);
  SiteConfig site = Site(1);
  site.aws_region = "eu-west-1\nINJECTED=1";
  HostResult r = actions.Reconfigure(site, site.hosts[0]);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error_kind, ErrorKind::kInvalid);
  EXPECT_EQ(r.message.find("INJECTED"), std::string::npos);
}

TEST(SshHostActionsTest, UnreadableKeyIsReportedAsKey) {
  ActivateConfig activate;
  activate.env = {{"AWS_REGION", "{site.aws_region}"}};
  SshConfig ssh;
  ssh.private_key_file = "/nonexistent/key";
  SshHostActions actions(ssh, activate);
  SiteConfig site = Site(1);
  site.aws_region = "eu-west-1";
  HostResult r = actions.Reconfigure(site, site.hosts[0]);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error_kind, ErrorKind::kKey);
  EXPECT_EQ(r.error_kind_name(), "key");
}

// ----------------------------------------------------------- HostWorker

HostJob Job(const std::string& key, std::shared_ptr<HostReconfigurer> r,
            int hosts = 1) {
  HostJob job;
  job.key = key;
  job.id = key;
  job.site = Site(hosts);
  job.hosts = job.site.hosts;
  job.reconfigurer = std::move(r);
  return job;
}

struct Reports {
  std::mutex mu;
  std::vector<std::pair<std::string, bool>> seen;  // (job id, ok)
  void Add(const HostJob& job, const HostResult& r) {
    std::lock_guard<std::mutex> lock(mu);
    seen.emplace_back(job.id, r.ok);
  }
  std::size_t size() {
    std::lock_guard<std::mutex> lock(mu);
    return seen.size();
  }
};

TEST(HostWorkerTest, RunsAJobOnceAndReportsEveryAttempt) {
  auto fake = std::make_shared<FakeHostActions>();
  fake->Script("10.0.0.1", {kDown, kOk});
  auto r = std::make_shared<HostReconfigurer>(fake, Fast());
  Reports reports;
  HostWorker worker(
      [&](const HostJob& j, const HostResult& h) { reports.Add(j, h); });
  std::thread t([&] { worker.Run(); });
  worker.Offer(Job("a#0", r));
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (reports.size() < 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  // The same job again (the state changed, not the work): nothing runs.
  worker.Offer(Job("a#0", r));
  std::this_thread::sleep_for(100ms);
  worker.Stop();
  t.join();
  EXPECT_EQ(fake->calls("10.0.0.1"), 2);
  ASSERT_EQ(reports.seen.size(), 2u);
  EXPECT_FALSE(reports.seen[0].second);
  EXPECT_TRUE(reports.seen[1].second);
}

TEST(HostWorkerTest, ANewerJobCancelsTheOneThatRuns) {
  auto fake = std::make_shared<FakeHostActions>();
  fake->Script("10.0.0.1", {kDown});  // never converges
  HostRetryPolicy forever = Fast();
  forever.give_up_after = 0ms;
  auto r = std::make_shared<HostReconfigurer>(fake, forever);
  auto ok = std::make_shared<FakeHostActions>();
  auto r2 = std::make_shared<HostReconfigurer>(ok, Fast());
  Reports reports;
  HostWorker worker(
      [&](const HostJob& j, const HostResult& h) { reports.Add(j, h); });
  std::thread t([&] { worker.Run(); });
  worker.Offer(Job("old#0", r));
  while (fake->calls("10.0.0.1") < 2) std::this_thread::sleep_for(5ms);
  worker.Offer(Job("new#0", r2));
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (ok->calls("10.0.0.1") < 1 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  std::this_thread::sleep_for(100ms);
  const int old_calls = fake->calls("10.0.0.1");
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(fake->calls("10.0.0.1"), old_calls);  // the old one stopped
  EXPECT_EQ(ok->calls("10.0.0.1"), 1);
  worker.Stop();
  t.join();
}

TEST(HostWorkerTest, AJobThatGaveUpIsNotRunAgainUntilANewOneComes) {
  auto fake = std::make_shared<FakeHostActions>();
  fake->Script("10.0.0.1", {{false, ErrorKind::kInvalid, false, false}});
  auto r = std::make_shared<HostReconfigurer>(fake, Fast());
  HostWorker worker([](const HostJob&, const HostResult&) {});
  std::thread t([&] { worker.Run(); });
  worker.Offer(Job("a#0", r));
  std::this_thread::sleep_for(300ms);
  worker.Offer(Job("a#0", r));  // the same work: no rerun, no spin
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(fake->calls("10.0.0.1"), 1);
  worker.Offer(Job("a#1", r));  // a reload: tried again
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (fake->calls("10.0.0.1") < 2 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_EQ(fake->calls("10.0.0.1"), 2);
  worker.Stop();
  t.join();
}

TEST(HostWorkerTest, StopEndsARetryingJobAtOnce) {
  auto fake = std::make_shared<FakeHostActions>();
  fake->Script("10.0.0.1", {kDown});
  HostRetryPolicy slow;
  slow.base = 10s;
  slow.cap = 10s;
  slow.give_up_after = 0ms;
  auto r = std::make_shared<HostReconfigurer>(fake, slow);
  HostWorker worker([](const HostJob&, const HostResult&) {});
  std::thread t([&] { worker.Run(); });
  worker.Offer(Job("a#0", r));
  while (fake->calls("10.0.0.1") < 1) std::this_thread::sleep_for(5ms);
  auto start = std::chrono::steady_clock::now();
  worker.Stop();
  t.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

}  // namespace
}  // namespace drf::actuator
