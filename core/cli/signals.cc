#include "core/cli/signals.h"

#include <pthread.h>

#include <cstring>

#include "core/log/log.h"

namespace drf {

ShutdownSignals::ShutdownSignals() {
  sigemptyset(&set_);
  sigaddset(&set_, SIGHUP);
  sigaddset(&set_, SIGINT);
  sigaddset(&set_, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set_, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

void ShutdownSignals::Wait(const std::function<void()>& reload) {
  for (;;) {
    int sig = 0;
    if (sigwait(&set_, &sig) != 0) continue;
    if (sig == SIGHUP) {
      reload();
      continue;
    }
    log::Info("shutting down", {{"signal", strsignal(sig)}});
    return;
  }
}

}  // namespace drf
