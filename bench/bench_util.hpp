// Timing and memory figures shared by the benchmark programs.
#pragma once

#include <sys/resource.h>

#include <chrono>

namespace anondb::bench {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
}

// Peak resident set size of this process so far, KiB.
inline long peak_rss_kib() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

}  // namespace anondb::bench
