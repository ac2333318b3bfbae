// layout_bench: random IPv4 lookups on the current file layout against
// candidate layouts built in memory from the same database, so that a
// format change is chosen from measurement (issue 6). Figures are printed,
// never asserted; every layout must give the same answers (checked).
//
//   layout_bench --db FILE.anondb [--lookups N] [--seed S]
//
// Layouts (all with the same 65,536-bucket index on the top 16 bits and the
// same branch-free search in the bucket):
//   reader    Database::lookup as the file gives it: through answers in a
//             1.2 file (starts[], answer id beside it, answers[]), through
//             records in older ones (starts[], record id, records[] and
//             record_asns[]: four dependent loads).
//   pairs     (start, record) pairs in one array, then a 12-byte record
//             (categories, provider, asn): the record id comes with the
//             start's cache line.
//   answers   (start, answer) pairs, where an answer is a distinct
//             (categories, provider, asn): far fewer answers than records
//             (records are distinct provenance lists), so the answer table
//             stays in cache and a lookup costs about one miss; also
//             with the provider's name reference inside the answer, which
//             saves the providers[] load.
#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "anondb/reader.hpp"
#include "bench_util.hpp"

namespace {

using anondb::Ip;
using namespace anondb::bench;  // Clock, seconds_since, die, Options

struct Pair {
    std::uint32_t start;
    std::uint32_t id;  // record or answer
};
struct Answer {
    std::uint32_t categories;
    std::uint32_t provider;  // index into the database's providers
    std::uint32_t asn;
    std::string_view name;   // the provider's name, inline: no providers[] load
};

// One candidate: index, pairs and the table the pairs point into.
struct Layout {
    std::vector<std::uint32_t> index = std::vector<std::uint32_t>(65537);
    std::vector<Pair> pairs;
    std::vector<Answer> table;

    const Answer& lookup(std::uint32_t a) const noexcept {
        const std::uint32_t h = a >> 16, lo = index[h], hi = index[h + 1];
        std::uint32_t pos;
        if (lo == hi) {
            pos = lo - 1;
        } else {
            const Pair* base = pairs.data() + lo;
            for (std::uint32_t len = hi - lo; len > 1;) {
                const std::uint32_t half = len / 2;
                base = base[half].start <= a ? base + half : base;
                len -= half;
            }
            pos = static_cast<std::uint32_t>(base - pairs.data()) - (base->start <= a ? 0u : 1u);
        }
        return table[pairs[pos].id];
    }
};

Layout build(const anondb::Database& db, bool dedupe_answers, std::uint32_t provider_count) {
    Layout l;
    // Provider names back to ids (the reader hands out names).
    std::map<std::string_view, std::uint32_t> provider_id;
    for (std::uint32_t p = 0; p < provider_count; ++p) provider_id.emplace(db.provider_name(p), p);
    std::map<std::tuple<std::uint32_t, std::uint32_t, std::uint32_t>, std::uint32_t> answer_of;
    std::vector<std::uint32_t> id_of_record(db.record_count());
    for (std::uint32_t r = 0; r < db.record_count(); ++r) {
        const anondb::LookupResult res = db.record(r);
        const Answer a{res.categories, provider_id[res.provider], res.asn, res.provider};
        if (!dedupe_answers) {
            l.table.push_back(a);
            id_of_record[r] = r;
            continue;
        }
        const auto [it, fresh] = answer_of.try_emplace({a.categories, a.provider, a.asn},
                                                       static_cast<std::uint32_t>(l.table.size()));
        if (fresh) l.table.push_back(a);
        id_of_record[r] = it->second;
    }
    for (Ip at = anondb::kV4First;;) {
        const anondb::Segment s = db.locate(at);
        l.pairs.push_back({at.v4(), id_of_record[s.record]});
        const Ip last = std::min(s.range.last, anondb::kV4Last);
        if (last == anondb::kV4Last) break;
        at = anondb::ip_next(last);
    }
    std::size_t p = 0;
    for (std::uint32_t h = 0; h <= 65536; ++h) {
        while (p < l.pairs.size() && (l.pairs[p].start >> 16) < h) ++p;
        l.index[h] = static_cast<std::uint32_t>(p);
    }
    return l;
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

    std::uint32_t providers = db->provider_count();
    const Layout pairs = build(*db, false, providers);
    const Layout answers = build(*db, true, providers);
    std::mt19937_64 rng(seed);
    std::vector<std::uint32_t> ips(lookups);
    for (auto& a : ips) a = static_cast<std::uint32_t>(rng());

    // Each layout: the sum of categories + provider + asn of every answer.
    auto time_it = [&](auto&& one) {
        std::uint64_t sum = 0;
        for (std::size_t i = 0; i < std::min<std::size_t>(ips.size(), 100000); ++i) sum += one(ips[i]);  // warm
        sum = 0;
        const auto t = Clock::now();
        for (const std::uint32_t a : ips) sum += one(a);
        return std::pair(seconds_since(t) * 1e9 / static_cast<double>(ips.size()), sum);
    };
    std::map<std::string_view, std::uint32_t> provider_id;
    for (std::uint32_t p = 0; p < providers; ++p) provider_id.emplace(db->provider_name(p), p);
    const auto [cur_ns, cur_sum] = time_it([&](std::uint32_t a) {
        const anondb::LookupResult r = db->lookup(Ip::from_v4(a));
        return std::uint64_t{r.categories} + r.asn + r.provider.size();
    });
    auto answer_sum = [&](const Layout& l) {
        return [&](std::uint32_t a) {
            const Answer& x = l.lookup(a);
            return std::uint64_t{x.categories} + x.asn + db->provider_name(x.provider).size();
        };
    };
    const auto [pairs_ns, pairs_sum] = time_it(answer_sum(pairs));
    const auto [ans_ns, ans_sum] = time_it(answer_sum(answers));
    const auto [inline_ns, inline_sum] = time_it([&](std::uint32_t a) {
        const Answer& x = answers.lookup(a);
        return std::uint64_t{x.categories} + x.asn + x.name.size();
    });
    // The same answers, but the answer ids in an array beside the starts
    // (as a format could add without moving the starts).
    std::vector<std::uint32_t> starts(answers.pairs.size()), answer_ids(answers.pairs.size());
    for (std::size_t i = 0; i < answers.pairs.size(); ++i) {
        starts[i] = answers.pairs[i].start;
        answer_ids[i] = answers.pairs[i].id;
    }
    auto beside_one = [&](std::uint32_t a) {
        const std::uint32_t h = a >> 16, lo = answers.index[h], hi = answers.index[h + 1];
        std::uint32_t pos;
        if (lo == hi) {
            pos = lo - 1;
        } else {
            const std::uint32_t* base = starts.data() + lo;
            for (std::uint32_t len = hi - lo; len > 1;) {
                const std::uint32_t half = len / 2;
                base = base[half] <= a ? base + half : base;
                len -= half;
            }
            pos = static_cast<std::uint32_t>(base - starts.data()) - (*base <= a ? 0u : 1u);
        }
        const Answer& x = answers.table[answer_ids[pos]];
        return std::uint64_t{x.categories} + x.asn + x.name.size();
    };
    const auto [beside_ns, beside_sum] = time_it(beside_one);
    // The last two, with the bucket of the lookup 8 ahead prefetched (what
    // lookup_many does): the first line of the pairs, or of the starts and
    // of the answer ids beside them.
    constexpr std::size_t kAhead = 8;
    auto rolling = [&](auto&& prefetch, auto&& one) {
        std::uint64_t sum = 0;
        const auto t = Clock::now();
        for (std::size_t i = 0; i < ips.size(); ++i) {
            if (i + kAhead < ips.size()) prefetch(ips[i + kAhead]);
            sum += one(ips[i]);
        }
        return std::pair(seconds_since(t) * 1e9 / static_cast<double>(ips.size()), sum);
    };
    const auto [inline_pf_ns, inline_pf_sum] = rolling(
        [&](std::uint32_t a) { __builtin_prefetch(answers.pairs.data() + answers.index[a >> 16]); },
        [&](std::uint32_t a) {
            const Answer& x = answers.lookup(a);
            return std::uint64_t{x.categories} + x.asn + x.name.size();
        });
    const auto [beside_pf_ns, beside_pf_sum] = rolling(
        [&](std::uint32_t a) {
            const std::uint32_t lo = answers.index[a >> 16];
            __builtin_prefetch(starts.data() + lo);
            __builtin_prefetch(answer_ids.data() + lo);
        },
        [&](std::uint32_t a) { return beside_one(a); });
    if (pairs_sum != cur_sum || ans_sum != cur_sum || inline_sum != cur_sum || beside_sum != cur_sum ||
        inline_pf_sum != cur_sum || beside_pf_sum != cur_sum)
        die("the layouts disagree");

    std::printf("layout_bench: %s, %zu IPv4 segments, %u records, %zu distinct answers; %llu random IPv4 lookups\n",
                path.c_str(), pairs.pairs.size(), db->record_count(), answers.table.size(),
                static_cast<unsigned long long>(lookups));
    std::printf("  Database::lookup on this file (format %u.%u, %s)          %6.1f ns/lookup\n", db->header().major,
                db->header().minor, db->answer_count() ? "answers" : "records", cur_ns);
    std::printf("  pairs (start, record) + 12-byte records                      %6.1f ns/lookup  (tables %.1f MiB)\n",
                pairs_ns, static_cast<double>(pairs.pairs.size() * 8 + pairs.table.size() * 12) / (1 << 20));
    std::printf("  pairs (start, answer) + distinct answers                     %6.1f ns/lookup  (tables %.1f MiB)\n",
                ans_ns, static_cast<double>(answers.pairs.size() * 8 + answers.table.size() * 12) / (1 << 20));
    std::printf("  the same, provider name (offset, length) inside the answer       %6.1f ns/lookup\n", inline_ns);
    std::printf("  the same, answer ids in an array beside the starts (not pairs)   %6.1f ns/lookup\n", beside_ns);
    std::printf("  pairs with the name inside, bucket prefetched %zu ahead             %6.1f ns/lookup\n", kAhead,
                inline_pf_ns);
    std::printf("  answer ids beside the starts, bucket prefetched %zu ahead           %6.1f ns/lookup\n", kAhead,
                beside_pf_ns);
    return 0;
}
