// layout_bench: random IPv4 lookups on the file's own layout against
// candidate layouts built in memory from the same segments, so that the
// format's lookup structure is chosen from measurement (issue 6). Figures
// are printed, never asserted; every layout must give the same answers
// (checked by a sum over all lookups).
//
//   layout_bench --db FILE.anondb [--lookups N] [--seed S]
//
// Every candidate answers from the same segments (maximal runs of one
// answer) and the same answers table; they differ in how a segment is
// found:
//   reader     Database::lookup on the file as written (format 2.0: 16-bit
//              starts, packed answer ids, index width chosen by the writer).
//   u16/bits   the 2.0 layout with a 2^bits-bucket index, bits 16 to 20:
//              more bits, smaller buckets, a search loop that rarely runs,
//              and a larger index.
//   u32        32-bit starts and 32-bit answer ids beside them, 16-bit
//              index (the 1.2 layout, with 2.0's segments).
//   pairs      (32-bit start, 32-bit answer id) pairs in one array, 16-bit
//              index: the id comes with the start's cache line.
// plus the file's layout with the bucket of the lookup 8 ahead prefetched,
// as lookup_many does.
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "anondb/reader.hpp"
#include "bench_util.hpp"

namespace {

using anondb::Ip;
using namespace anondb::bench;  // Clock, seconds_since, die, Options

// The last i in [lo, hi) with starts[i] <= key, else lo - 1: the reader's
// branch-free search, for any start type.
template <class T>
[[gnu::always_inline]] inline std::uint32_t last_le(const T* starts, std::uint32_t lo, std::uint32_t hi,
                                                    std::uint32_t key) {
    if (lo == hi) return lo - 1;
    const T* base = starts + lo;
    for (std::uint32_t len = hi - lo; len > 1;) {
        const std::uint32_t half = len / 2;
        base = base[half] <= key ? base + half : base;
        len -= half;
    }
    return static_cast<std::uint32_t>(base - starts) - (*base <= key ? 0u : 1u);
}

// Id i of a packed array of `width` bytes, as the reader reads it: a
// switch on a per-file constant, each load of a fixed size (a memcpy of a
// run-time size would be a library call).
[[gnu::always_inline]] inline std::uint32_t packed_id(const std::uint8_t* ids, std::uint32_t i, unsigned width) {
    const std::uint8_t* p = ids + std::size_t{i} * width;
    std::uint32_t v = 0;
    switch (width) {
        case 1: return p[0];
        case 2: std::memcpy(&v, p, 2); return v;
        case 3: std::memcpy(&v, p, 2); return v | std::uint32_t{p[2]} << 16;
        default: std::memcpy(&v, p, 4); return v;
    }
}

// A start with its answer id, compared with an address by its start.
struct Pair {
    std::uint32_t start, id;
    friend bool operator<=(const Pair& p, std::uint32_t key) { return p.start <= key; }
};

std::vector<std::uint32_t> bucket_index(const std::vector<std::uint32_t>& starts, unsigned bits) {
    std::vector<std::uint32_t> index((std::size_t{1} << bits) + 1);
    std::size_t p = 0;
    for (std::size_t h = 0; h < index.size(); ++h) {
        while (p < starts.size() && (starts[p] >> (32 - bits)) < h) ++p;
        index[h] = static_cast<std::uint32_t>(p);
    }
    return index;
}

}  // namespace

int main(int argc, char** argv) {
    std::string path;
    std::uint64_t lookups = 5'000'000, seed = 42;
    Options opts;
    opts.text("--db", path);
    opts.number("--lookups", lookups);
    opts.number("--seed", seed);
    opts.parse(argc, argv, "usage: layout_bench --db FILE.anondb [--lookups N] [--seed S]");
    if (path.empty()) die("--db is needed");
    auto db = anondb::Database::open(path);
    if (!db) die(db.error().message);

    // The IPv4 segments as the file has them: start and answer id.
    std::vector<std::uint32_t> starts, ids;
    for (Ip at = anondb::kV4First;;) {
        const anondb::Segment s = db->locate(at);
        starts.push_back(at.v4());
        ids.push_back(s.answer);
        if (s.range.last >= anondb::kV4Last) break;
        at = anondb::ip_next(s.range.last);
    }
    const std::size_t n = starts.size();
    // Answers as the reader stores them (16 bytes: categories, AS, name).
    struct Answer {
        std::uint32_t categories, asn;
        std::string_view provider;
    };
    std::vector<Answer> answers(db->answer_count());
    for (std::uint32_t i = 0; i < answers.size(); ++i) {
        const anondb::LookupResult r = db->answer(i);
        answers[i] = {r.categories, r.asn, r.provider};
    }
    const unsigned width = anondb::format::answer_id_width(answers.size());
    std::vector<std::uint16_t> low(n);
    std::vector<std::uint8_t> packed(n * width + 4);
    for (std::size_t i = 0; i < n; ++i) {
        low[i] = static_cast<std::uint16_t>(starts[i]);
        std::memcpy(&packed[i * width], &ids[i], width);
    }
    std::vector<Pair> pairs(n);
    for (std::size_t i = 0; i < n; ++i) pairs[i] = {starts[i], ids[i]};

    std::mt19937_64 rng(seed);
    std::vector<std::uint32_t> ips(lookups);
    for (auto& a : ips) a = static_cast<std::uint32_t>(rng());

    // ns per lookup over all addresses (after a warm-up pass), and the sum
    // of categories + AS + provider length of every answer.
    auto time_it = [&](auto&& one) {
        std::uint64_t sum = 0;
        for (std::size_t i = 0; i < std::min<std::size_t>(ips.size(), 200000); ++i) sum += one(ips[i]);
        sum = 0;
        const auto t = Clock::now();
        for (const std::uint32_t a : ips) sum += one(a);
        return std::pair(seconds_since(t) * 1e9 / static_cast<double>(ips.size()), sum);
    };
    auto value = [](std::uint32_t cats, std::uint32_t asn, std::size_t len) { return std::uint64_t{cats} + asn + len; };
    const auto [reader_ns, reader_sum] = time_it([&](std::uint32_t a) {
        const anondb::LookupResult r = db->lookup(Ip::from_v4(a));
        return value(r.categories, r.asn, r.provider.size());
    });

    std::printf("layout_bench: %s, %zu IPv4 segments, %zu answers (ids of %u bytes); %llu random IPv4 lookups\n",
                path.c_str(), n, answers.size(), width, static_cast<unsigned long long>(lookups));
    std::printf("  %-58s %6.1f ns/lookup  (index %u bits)\n", "reader: Database::lookup on the file", reader_ns,
                db->v4_index_bits());
    bool agree = true;
    for (unsigned bits = 16; bits <= 20; ++bits) {
        const auto index = bucket_index(starts, bits);
        const auto [ns, sum] = time_it([&](std::uint32_t a) {
            const std::uint32_t h = a >> (32 - bits);
            const std::uint32_t i = last_le(low.data(), index[h], index[h + 1], a & 0xffffu);
            const Answer& x = answers[packed_id(packed.data(), i, width)];
            return value(x.categories, x.asn, x.provider.size());
        });
        agree = agree && sum == reader_sum;
        char name[80];
        std::snprintf(name, sizeof name, "u16 starts, %u-byte ids, %u-bit index", width, bits);
        std::printf("  %-58s %6.1f ns/lookup  (tables %.2f MiB)\n", name, ns,
                    static_cast<double>(index.size() * 4 + n * (2 + width)) / (1 << 20));
    }
    const auto index16 = bucket_index(starts, 16);
    const auto [u32_ns, u32_sum] = time_it([&](std::uint32_t a) {
        const std::uint32_t h = a >> 16;
        const Answer& x = answers[ids[last_le(starts.data(), index16[h], index16[h + 1], a)]];
        return value(x.categories, x.asn, x.provider.size());
    });
    std::printf("  %-58s %6.1f ns/lookup  (tables %.2f MiB)\n", "u32 starts, u32 ids beside them, 16-bit index (1.2)",
                u32_ns, static_cast<double>(index16.size() * 4 + n * 8) / (1 << 20));
    const auto [pairs_ns, pairs_sum] = time_it([&](std::uint32_t a) {
        const std::uint32_t h = a >> 16;
        const Answer& x = answers[pairs[last_le(pairs.data(), index16[h], index16[h + 1], a)].id];
        return value(x.categories, x.asn, x.provider.size());
    });
    std::printf("  %-58s %6.1f ns/lookup  (tables %.2f MiB)\n", "(u32 start, u32 id) pairs, 16-bit index", pairs_ns,
                static_cast<double>(index16.size() * 4 + n * 8) / (1 << 20));

    // lookup_many's prefetching, on the file.
    std::vector<Ip> batch(1024);
    std::vector<anondb::LookupResult> out(batch.size());
    std::uint64_t many_sum = 0;
    const auto t = Clock::now();
    for (std::size_t i = 0; i < ips.size(); i += batch.size()) {
        const std::size_t k = std::min(batch.size(), ips.size() - i);
        for (std::size_t j = 0; j < k; ++j) batch[j] = Ip::from_v4(ips[i + j]);
        db->lookup_many(std::span(batch.data(), k), out);
        for (std::size_t j = 0; j < k; ++j) many_sum += value(out[j].categories, out[j].asn, out[j].provider.size());
    }
    const double many_ns = seconds_since(t) * 1e9 / static_cast<double>(ips.size());
    std::printf("  %-58s %6.1f ns/lookup\n", "reader: Database::lookup_many on the file", many_ns);
    if (!agree || u32_sum != reader_sum || pairs_sum != reader_sum || many_sum != reader_sum) die("the layouts disagree");
    return 0;
}
