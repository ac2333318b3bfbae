// build_bench: merge speed side by side, in one run and on the same input
// file, with FireHOL iprange (Debian package iprange), which merges IPv4
// CIDRs without provenance; and the time of a full offline build.
// Figures are printed, never asserted.
//
//   build_bench [--cidrs N] [--seed S] [--iprange PATH] [--cli ANONDB --feeds FEEDS.yaml] [--tmp DIR]
//
// Input: N random IPv4 CIDRs, one per line ("a.b.c.d/len"): 98% /24../32
// and 2% /12../19, wide blocks that nest others (as anondb_bench's entries;
// feeds are mostly single addresses and small blocks). Nesting is what
// provenance pays for: every output range lists each input covering it. Both sides
// run as child processes of this one, so each one's peak RSS is its own:
//   iprange   `iprange FILE > /dev/null` (reads, merges, prints the merged
//             CIDRs);
//   anondb    reads the file, parses each line (strict parser), merges with
//             provenance (every output range knows every input line that
//             covers it) and prints the merged ranges' CIDR cover to
//             /dev/null.
// Output lines (bench.sh collects them):
//   RESULT <name> <ours s> <reference s> <speed-up>x
//   RSS <name> <ours MiB> <reference MiB>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "anondb/builder/merge.hpp"
#include "anondb/category.hpp"
#include "anondb/ip.hpp"
#include "bench_util.hpp"

namespace {

using anondb::Ip;
using namespace anondb::bench;  // Clock, seconds_since, peak_rss_kib, die, Options


std::string make_cidrs(std::size_t n, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::string text;
    text.reserve(n * 18);
    char buf[anondb::kRangeTextMax];
    for (std::size_t i = 0; i < n; ++i) {
        const std::uint64_t r = rng() % 100;
        const unsigned len = r < 98 ? 24 + static_cast<unsigned>(rng() % 9) : 12 + static_cast<unsigned>(rng() % 8);
        const anondb::Range p = anondb::prefix_range(Ip::from_v4(static_cast<std::uint32_t>(rng())), 96 + len);
        text.append(buf, anondb::format_range_to(buf, p));
        text += '\n';
    }
    return text;
}

struct Child {
    double seconds = 0;
    double peak_mib = 0;
};

// Runs `work` in a child process; its wall time from fork to exit and its
// own peak RSS (wait4).
template <class Work>
Child in_child(Work&& work) {
    const auto t = Clock::now();
    const pid_t pid = ::fork();
    if (pid < 0) die("fork");
    if (pid == 0) ::_exit(work());
    int status = 0;
    rusage ru{};
    if (::wait4(pid, &status, 0, &ru) < 0) die("wait4");
    const double secs = seconds_since(t);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) die("child failed with status " + std::to_string(status));
    return {secs, static_cast<double>(ru.ru_maxrss) / 1024.0};
}

int exec_to_null(const std::vector<std::string>& argv) {
    const int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, STDOUT_FILENO);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    std::perror(args[0]);
    return 127;
}

// The anondb side: read, parse, merge with provenance, print the CIDR cover.
int anondb_merge(const std::string& path) {
    const auto t_read = Clock::now();
    const int fd = ::open(path.c_str(), O_RDONLY);
    if (fd < 0) return 2;
    // One buffer of the file's size: growing a string by appending would
    // copy it and touch twice the memory.
    struct stat st{};
    if (::fstat(fd, &st) != 0) return 2;
    std::string text(static_cast<std::size_t>(st.st_size), '\0');
    std::size_t got = 0;
    for (ssize_t n; got < text.size() && (n = ::read(fd, text.data() + got, text.size() - got)) > 0;)
        got += static_cast<std::size_t>(n);
    ::close(fd);
    if (got != text.size()) return 2;
    std::vector<anondb::builder::MergeInput> inputs;
    inputs.reserve(text.size() / 16);
    std::size_t start = 0;
    std::uint32_t line = 0;
    while (start < text.size()) {
        std::size_t nl = text.find('\n', start);
        if (nl == std::string::npos) nl = text.size();
        const auto r = anondb::parse_range(std::string_view(text).substr(start, nl - start));
        if (!r) return 3;
        inputs.push_back({r->range, line++, anondb::kVpn, 0, 0});
        start = nl + 1;
    }
    const double parse_s = seconds_since(t_read);
    // The merged list out, like iprange's: coalesce touching ranges, print
    // CIDRs, as the merge hands the ranges over (it never stores them).
    const auto t_merge = Clock::now();
    std::FILE* out = std::fopen("/dev/null", "w");
    std::vector<char> obuf(1 << 20);
    std::setvbuf(out, obuf.data(), _IOFBF, obuf.size());
    char cidr[anondb::kRangeTextMax + 1];
    auto print = [&](anondb::Range r) {
        for (const auto& [addr, len] : anondb::range_to_cidrs(r)) {
            const std::size_t n = anondb::format_range_to(cidr, anondb::prefix_range(addr, len));
            cidr[n] = '\n';
            std::fwrite(cidr, 1, n + 1, out);
        }
    };
    std::optional<anondb::Range> pending;
    std::size_t ranges = 0;
    const anondb::builder::MergedSet merged =
        anondb::builder::merge(inputs, [&](std::span<const anondb::builder::MergedRange> batch) {
            ranges += batch.size();
            for (const auto& m : batch) {
                if (pending && m.range.first == anondb::ip_next(pending->last)) {
                    pending->last = m.range.last;
                    continue;
                }
                if (pending) print(*pending);
                pending = m.range;
            }
        });
    if (pending) print(*pending);
    std::fclose(out);
    std::fprintf(stderr, "  anondb: read + parse %.3f s, merge + print %.3f s (%zu ranges, %zu lists, %zu provenance entries)\n",
                 parse_s, seconds_since(t_merge), ranges, merged.list_offsets.size() - 1, merged.list_origins.size());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    std::uint64_t n = 5'000'000, seed = 42;
    std::string iprange = "/usr/bin/iprange", cli, feeds, tmp = "/tmp";
    anondb::bench::Options opts;
    opts.number("--cidrs", n);
    opts.number("--seed", seed);
    opts.text("--iprange", iprange);
    opts.text("--cli", cli);
    opts.text("--feeds", feeds);
    opts.text("--tmp", tmp);
    opts.parse(argc, argv,
               "usage: build_bench [--cidrs N] [--seed S] [--iprange PATH] [--cli ANONDB --feeds FEEDS.yaml] [--tmp DIR]");
    const std::string path = tmp + "/build-bench-cidrs.txt";
    {
        const std::string text = make_cidrs(n, seed);
        std::FILE* f = std::fopen(path.c_str(), "w");
        if (!f || std::fwrite(text.data(), 1, text.size(), f) != text.size() || std::fclose(f) != 0) die("writing " + path);
    }
    std::printf("build_bench: %zu random IPv4 CIDRs in %s, seed %llu\n", n, path.c_str(),
                static_cast<unsigned long long>(seed));

    // Each side twice, the second run counts (page cache warm for both).
    Child ref, ours;
    for (int pass = 0; pass < 2; ++pass) {
        ref = in_child([&] { return exec_to_null({iprange, path}); });
        ours = in_child([&] { return anondb_merge(path); });
    }
    std::printf("  iprange (no provenance)              %7.3f s  peak RSS %7.1f MiB\n", ref.seconds, ref.peak_mib);
    std::printf("  anondb parse + merge with provenance %7.3f s  peak RSS %7.1f MiB\n", ours.seconds, ours.peak_mib);
    std::printf("RESULT %-44s %9.3f s %9.3f s %7.2fx\n", "build IPv4 merge vs iprange", ours.seconds, ref.seconds,
                ref.seconds / ours.seconds);
    std::printf("RSS %-47s %9.1f MiB %9.1f MiB\n", "build IPv4 merge vs iprange", ours.peak_mib, ref.peak_mib);

    if (!cli.empty() && !feeds.empty()) {
        const std::string out = tmp + "/build-bench-snapshot.anondb";
        const Child full = in_child(
            [&] { return exec_to_null({cli, "build", "--offline", "--feeds", feeds, "-o", out, "--build-time", "2026-01-01"}); });
        std::printf("  full offline build of the snapshot   %7.3f s  peak RSS %7.1f MiB\n", full.seconds, full.peak_mib);
        std::printf("BUILD %-45s %9.3f s %9.1f MiB\n", "full offline snapshot build", full.seconds, full.peak_mib);
        ::unlink(out.c_str());
    }
    ::unlink(path.c_str());
    return 0;
}
