// build_bench: merge speed side by side, in one run and on the same input
// file, with FireHOL iprange (Debian package iprange), which merges IPv4
// CIDRs; and the time of a full offline build, and of the next night's
// build over it (--previous: first-seen days carried over).
// Figures are printed, never asserted.
//
//   build_bench [--cidrs N] [--seed S] [--iprange PATH] [--cli ANONDB --feeds FEEDS.yaml] [--tmp DIR]
//
// Input: N random IPv4 CIDRs, one per line ("a.b.c.d/len"): 98% /24../32
// and 2% /12../19, wide blocks that nest others (as anondb_bench's entries;
// feeds are mostly single addresses and small blocks). Both sides run as
// child processes of this one, so each one's peak RSS is its own:
//   iprange   `iprange FILE > /dev/null` (reads, merges, prints the merged
//             CIDRs);
//   anondb    reads the file, parses each line (strict parser) into a merge
//             input with its line as origin, merges (which also sorts the
//             inputs into evidence order: the provenance a database stores)
//             and prints the merged ranges' CIDR cover to /dev/null. Its own
//             split goes to stderr: read + parse, merge (sort + sweep), print.
// Output lines (bench.sh collects them):
//   RESULT <name> <ours s> <reference s> <speed-up>x
//   RSS <name> <ours MiB> <reference MiB>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "anondb/builder/big_buffer.hpp"
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

// The anondb side: read the file, parse every line, merge (which leaves the
// inputs sorted into evidence order, the provenance a database stores), and
// print the CIDR cover of the merged ranges to /dev/null as the merge hands
// them over.
int anondb_merge(const std::string& path) {
    using anondb::builder::BigAllocator;
    using anondb::builder::MergedRange;
    using anondb::builder::MergeInput;
    const auto t_read = Clock::now();
    const int fd = ::open(path.c_str(), O_RDONLY);
    if (fd < 0) return 2;
    // Read through a mapping of the file (in the page cache): a buffer of
    // the file's size would be fresh memory to fault in and copy into (83 MB
    // for 5M lines).
    struct stat st{};
    if (::fstat(fd, &st) != 0 || st.st_size == 0) return 2;
    const auto size = static_cast<std::size_t>(st.st_size);
    void* const map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    ::close(fd);
    if (map == MAP_FAILED) return 2;
    const std::string_view all(static_cast<const char*>(map), size);
    // Exactly one input a line, huge-page backed (big_buffer.hpp): the
    // allocator makes the whole reservation resident at once, and first
    // touches of fresh 4 KiB pages would cost more than the parse.
    std::vector<MergeInput, BigAllocator<MergeInput>> inputs;
    inputs.reserve(static_cast<std::size_t>(std::ranges::count(all, '\n')) + (all.back() != '\n'));
    std::uint32_t line = 0;
    for (std::size_t start = 0; start < all.size();) {
        const void* nl = std::memchr(all.data() + start, '\n', all.size() - start);
        const std::size_t end = nl ? static_cast<std::size_t>(static_cast<const char*>(nl) - all.data()) : all.size();
        const auto r = anondb::parse_range(all.substr(start, end - start));
        if (!r) return 3;
        inputs.push_back({r->range, line++, anondb::kVpn, 0, 0});
        start = end + 1;
    }
    ::munmap(map, size);
    const double parse_s = seconds_since(t_read);

    // The merged list out, like iprange's: coalesce touching ranges (here
    // they all carry the same attributes, so the merge has done it), print
    // CIDRs as the merge hands the ranges over (it never stores them). The
    // time inside the sink is the printing; the rest is the merge.
    const auto t_merge = Clock::now();
    std::FILE* out = std::fopen("/dev/null", "w");
    if (!out) return 2;
    std::vector<char> obuf(1 << 20);
    std::setvbuf(out, obuf.data(), _IOFBF, obuf.size());
    char cidr[anondb::kRangeTextMax + 1];
    std::size_t ranges = 0, cidrs = 0;
    auto print = [&](anondb::Range r) {
        for (const auto& [addr, len] : anondb::range_to_cidrs(r)) {
            const std::size_t n = anondb::format_range_to(cidr, anondb::prefix_range(addr, len));
            cidr[n] = '\n';
            std::fwrite(cidr, 1, n + 1, out);
            ++cidrs;
        }
    };
    double print_s = 0;
    std::optional<anondb::Range> pending;
    anondb::builder::merge(inputs, [&](std::span<const MergedRange> batch) {
        const auto t = Clock::now();
        ranges += batch.size();
        for (const MergedRange& m : batch) {
            if (pending && m.range.first == anondb::ip_next(pending->last)) {
                pending->last = m.range.last;
                continue;
            }
            if (pending) print(*pending);
            pending = m.range;
        }
        print_s += seconds_since(t);
    });
    const auto t_last = Clock::now();
    if (pending) print(*pending);
    std::fclose(out);
    print_s += seconds_since(t_last);
    const double merge_and_print_s = seconds_since(t_merge);
    std::fprintf(stderr,
                 "  anondb: read + parse %.3f s, merge (sort + sweep) %.3f s, print %.3f s "
                 "(%zu inputs, %zu ranges, %zu CIDRs)\n",
                 parse_s, merge_and_print_s - print_s, print_s, inputs.size(), ranges, cidrs);
    return 0;
}

double file_bytes(const std::string& path) {
    struct stat st{};
    return ::stat(path.c_str(), &st) == 0 ? static_cast<double>(st.st_size) : -1;
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
    std::printf("  iprange                              %7.3f s  peak RSS %7.1f MiB\n", ref.seconds, ref.peak_mib);
    std::printf("  anondb read, parse, merge, print     %7.3f s  peak RSS %7.1f MiB\n", ours.seconds, ours.peak_mib);
    std::printf("RESULT %-44s %9.3f s %9.3f s %7.2fx\n", "build IPv4 merge vs iprange", ours.seconds, ref.seconds,
                ref.seconds / ours.seconds);
    std::printf("RSS %-47s %9.1f MiB %9.1f MiB\n", "build IPv4 merge vs iprange", ours.peak_mib, ref.peak_mib);

    if (!cli.empty()) {
        // The same CIDRs as one feed of a catalogue, built twice: the
        // second night over the first (--previous), next to the first.
        const std::string catalogue = tmp + "/build-bench-feeds.yaml";
        {
            const std::string yaml = "version: 1\nmax_total_entries: 100000000\nfeeds:\n  - name: random-cidrs\n"
                                     "    url: https://bench.example/cidrs.txt\n    format: plain\n    category: vpn\n    license: bench\n"
                                     "    snapshot: build-bench-cidrs.txt\n    snapshot_date: 2026-01-01\n"
                                     "    max_entries: 100000000\n    max_bytes: 4GiB\n    max_breadth_v4: 8\n";
            std::FILE* f = std::fopen(catalogue.c_str(), "w");
            if (!f || std::fwrite(yaml.data(), 1, yaml.size(), f) != yaml.size() || std::fclose(f) != 0)
                die("writing " + catalogue);
        }
        const std::string night1 = tmp + "/build-bench-night1.anondb", night2 = tmp + "/build-bench-night2.anondb";
        const Child first = in_child([&] {
            return exec_to_null({cli, "build", "--offline", "--feeds", catalogue, "-o", night1, "--build-time", "2026-01-01"});
        });
        const Child next = in_child([&] {
            return exec_to_null({cli, "build", "--offline", "--feeds", catalogue, "-o", night2, "--build-time", "2026-01-02",
                                 "--previous", night1});
        });
        std::printf("  build of the CIDRs as a feed         %7.3f s  peak RSS %7.1f MiB  %9.0f bytes\n", first.seconds,
                    first.peak_mib, file_bytes(night1));
        std::printf("  the next night with --previous       %7.3f s  peak RSS %7.1f MiB  %9.0f bytes\n", next.seconds,
                    next.peak_mib, file_bytes(night2));
        std::printf("BUILD %-45s %9.3f s %9.3f s\n", "CIDR feed build --previous vs without", next.seconds, first.seconds);
        ::unlink(night1.c_str());
        ::unlink(night2.c_str());
        ::unlink(catalogue.c_str());
    }
    if (!cli.empty() && !feeds.empty()) {
        const std::string out = tmp + "/build-bench-snapshot.anondb";
        const Child full = in_child(
            [&] { return exec_to_null({cli, "build", "--offline", "--feeds", feeds, "-o", out, "--build-time", "2026-01-01"}); });
        std::printf("  full offline build of the snapshot   %7.3f s  peak RSS %7.1f MiB  %9.0f bytes\n", full.seconds,
                    full.peak_mib, file_bytes(out));
        std::printf("BUILD %-45s %9.3f s %9.1f MiB\n", "full offline snapshot build", full.seconds, full.peak_mib);
        // The next night: the same build over the first one (--previous
        // reads its first-seen days), side by side with the build without.
        const std::string next = tmp + "/build-bench-snapshot-next.anondb";
        const Child again = in_child([&] {
            return exec_to_null({cli, "build", "--offline", "--feeds", feeds, "-o", next, "--build-time", "2026-01-02",
                                 "--previous", out});
        });
        std::printf("  the same over it with --previous     %7.3f s  peak RSS %7.1f MiB  %9.0f bytes\n", again.seconds,
                    again.peak_mib, file_bytes(next));
        std::printf("BUILD %-45s %9.3f s %9.3f s\n", "snapshot build --previous vs without", again.seconds, full.seconds);
        ::unlink(next.c_str());
        ::unlink(out.c_str());
    }
    ::unlink(path.c_str());
    return 0;
}
