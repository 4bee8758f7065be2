#pragma once

#include <cstdio>
#include <cstdlib>

/// A property every fuzz target asserts: on failure it names the check and
/// aborts, which libFuzzer reports as a crash and saves the input of.
#define FUZZ_CHECK(cond)                                                       \
  do {                                                                         \
    if (!(cond)) {                                                             \
      std::fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, \
                   #cond);                                                     \
      std::abort();                                                            \
    }                                                                          \
  } while (false)
