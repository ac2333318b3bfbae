// Timing and memory figures shared by the benchmark programs.
#pragma once

#include <sys/resource.h>

#include <cerrno>  // program_invocation_short_name (glibc)
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <string>

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

// A benchmark that cannot go on says why, with its name, and exits 1.
[[noreturn]] inline void die(const std::string& why) {
    std::fprintf(stderr, "%s: %s\n", program_invocation_short_name, why.c_str());
    std::exit(1);
}

// "--name value" options: bind each name to a variable, then parse(); an
// unknown name or a missing value prints `usage` and exits.
class Options {
public:
    void text(const std::string& name, std::string& out) {
        set_[name] = [&out](const std::string& v) { out = v; };
    }
    void number(const std::string& name, std::uint64_t& out) {
        set_[name] = [&out](const std::string& v) { out = std::strtoull(v.c_str(), nullptr, 10); };
    }
    void parse(int argc, char** argv, const std::string& usage) const {
        for (int i = 1; i < argc; ++i) {
            const auto it = set_.find(argv[i]);
            if (it == set_.end() || i + 1 >= argc) die(usage);
            it->second(argv[++i]);
        }
    }

private:
    std::map<std::string, std::function<void(const std::string&)>> set_;
};

}  // namespace anondb::bench
