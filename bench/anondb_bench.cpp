// anondb_bench: build time, peak RSS, file size and lookup speed on N
// synthetic entries, and lookup speed on a real database when given one.
// Figures are printed, never asserted.
//
//   anondb_bench [--entries N] [--lookups M] [--db FILE.anondb] [--seed S]
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "anondb/builder/merge.hpp"
#include "anondb/builder/pipeline.hpp"
#include "anondb/category.hpp"
#include "anondb/reader.hpp"
#include "bench_util.hpp"
#include "anondb/writer.hpp"

namespace {

using anondb::Ip;
using namespace anondb::bench;  // Clock, seconds_since, peak_rss_kib, die, Options

// Synthetic feed entries shaped like the real ones: mostly small IPv4 CIDRs
// (/24 to /32) with some wide hosting blocks that nest others, and ~10% IPv6.
struct Synthetic {
    std::vector<anondb::builder::MergeInput> inputs;
    std::vector<std::string> texts;
};

Synthetic make_entries(std::size_t n, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    Synthetic s;
    s.inputs.reserve(n);
    s.texts.reserve(n);
    const std::uint32_t cats[] = {anondb::kTorExit, anondb::kVpn, anondb::kProxy, anondb::kHosting, anondb::kRelay};
    for (std::size_t i = 0; i < n; ++i) {
        const std::uint64_t r = rng();
        anondb::Range range;
        if (r % 10 == 0) {  // IPv6 /32../64 inside 2000::/3
            const unsigned len = 32 + static_cast<unsigned>(rng() % 33);
            const Ip base{0x2000000000000000ull | (rng() >> 3), rng()};
            range = anondb::prefix_range(base, len);
        } else {
            const unsigned len = (r % 50 == 1) ? 12 + static_cast<unsigned>(rng() % 8)   // wide hosting block
                                               : 24 + static_cast<unsigned>(rng() % 9);  // /24../32
            range = anondb::prefix_range(Ip::from_v4(static_cast<std::uint32_t>(rng())), 96 + len);
        }
        const std::uint32_t cat = cats[(r >> 8) % 5];
        s.inputs.push_back({range, static_cast<std::uint32_t>(i), cat, cat == anondb::kHosting ? static_cast<std::uint32_t>(1 + (r >> 16) % 8) : 0u});
        s.texts.push_back(anondb::format_range(range));
    }
    return s;
}

struct LookupFigures {
    double ns_per_lookup;
    double lookups_per_s;
    std::uint64_t flagged;
};

LookupFigures time_lookups(const anondb::Database& db, const std::vector<Ip>& ips) {
    std::uint64_t flagged = 0;
    const auto t = Clock::now();
    for (const Ip& ip : ips) flagged += db.lookup(ip).flagged;
    const double secs = seconds_since(t);
    return {secs * 1e9 / static_cast<double>(ips.size()), static_cast<double>(ips.size()) / secs, flagged};
}

std::vector<Ip> random_v4(std::size_t n, std::mt19937_64& rng) {
    std::vector<Ip> out(n);
    for (auto& ip : out) ip = Ip::from_v4(static_cast<std::uint32_t>(rng()));
    return out;
}
std::vector<Ip> random_v6(std::size_t n, std::mt19937_64& rng) {
    std::vector<Ip> out(n);
    for (auto& ip : out) ip = Ip{0x2000000000000000ull | (rng() >> 3), rng()};  // announced space 2000::/3
    return out;
}

void print_lookups(const char* what, const LookupFigures& f, std::size_t n) {
    std::printf("  %-34s %8.1f ns/lookup  %12.0f lookups/s  (%zu lookups, %.1f%% flagged)\n", what, f.ns_per_lookup,
                f.lookups_per_s, n, 100.0 * static_cast<double>(f.flagged) / static_cast<double>(n));
}

}  // namespace

int main(int argc, char** argv) {
    std::size_t entries = 1'000'000, lookups = 5'000'000;
    std::uint64_t seed = 42;
    std::string real_db;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&]() -> const char* {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "%s needs a value\n", a.c_str());
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--entries") entries = std::strtoull(next(), nullptr, 10);
        else if (a == "--lookups") lookups = std::strtoull(next(), nullptr, 10);
        else if (a == "--seed") seed = std::strtoull(next(), nullptr, 10);
        else if (a == "--db") real_db = next();
        else {
            std::fprintf(stderr, "usage: anondb_bench [--entries N] [--lookups M] [--db FILE] [--seed S]\n");
            return 2;
        }
    }

    std::printf("anondb_bench: %zu synthetic entries, %zu lookups per run, seed %llu\n", entries, lookups,
                static_cast<unsigned long long>(seed));
    Synthetic syn = make_entries(entries, seed);
    const long rss_before = peak_rss_kib();

    // Build: merge with provenance, then serialise (what `anondb build` does
    // after parsing).
    const auto t_build = Clock::now();
    anondb::writer::DatabaseContent content;
    content.build_time = 0;
    content.providers = {"", "p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8"};
    content.feeds.push_back({});
    content.feeds[0].name = "synthetic";
    content.origins.reserve(entries);
    for (std::size_t i = 0; i < entries; ++i)
        content.origins.push_back({0, static_cast<std::uint32_t>(i + 1), syn.inputs[i].categories, syn.inputs[i].provider, syn.texts[i]});
    const auto t_merge = Clock::now();
    const std::size_t ranges = anondb::builder::merge_into(syn.inputs, content);
    const double merge_s = seconds_since(t_merge);
    const auto t_ser = Clock::now();
    auto bytes = anondb::writer::serialize(content);
    const double ser_s = seconds_since(t_ser);
    const double build_s = seconds_since(t_build);
    if (!bytes) {
        std::fprintf(stderr, "serialize: %s\n", bytes.error().message.c_str());
        return 1;
    }
    const long rss_build = peak_rss_kib();

    std::printf("\nbuild (%zu entries -> %zu ranges, %zu evidence rows)\n", entries, ranges, content.evidence.size());
    std::printf("  merge with provenance            %8.3f s\n", merge_s);
    std::printf("  serialise (incl. zstd of cold)   %8.3f s\n", ser_s);
    std::printf("  total build                      %8.3f s\n", build_s);
    std::printf("  peak RSS                         %8.1f MiB (inputs alone %.1f MiB)\n", rss_build / 1024.0,
                rss_before / 1024.0);
    std::printf("  file size                        %8.2f MiB (%zu bytes)\n", static_cast<double>(bytes->size()) / (1 << 20),
                bytes->size());

    // Lookups on the synthetic database (in memory, as a mapping would be).
    auto db = anondb::Database::from_bytes(*bytes);
    if (!db) {
        std::fprintf(stderr, "open: %s\n", db.error().message.c_str());
        return 1;
    }
    std::mt19937_64 rng(seed + 1);
    const auto v4 = random_v4(lookups, rng);
    const auto v6 = random_v6(lookups, rng);
    std::printf("\nlookups, synthetic database (single thread)\n");
    print_lookups("random IPv4", time_lookups(*db, v4), v4.size());
    print_lookups("random IPv6 in 2000::/3", time_lookups(*db, v6), v6.size());

    if (!real_db.empty()) {
        const auto t_open = Clock::now();
        auto real = anondb::Database::open(real_db);
        const double open_s = seconds_since(t_open);
        if (!real) {
            std::fprintf(stderr, "%s\n", real.error().message.c_str());
            return 1;
        }
        std::printf("\nlookups, %s (%u IPv4 + %u IPv6 segments; open %.3f ms)\n", real_db.c_str(),
                    real->v4_segment_count(), real->v6_segment_count(), open_s * 1e3);
        print_lookups("random IPv4", time_lookups(*real, v4), v4.size());
        print_lookups("random IPv6 in 2000::/3", time_lookups(*real, v6), v6.size());
    }
    return 0;
}
