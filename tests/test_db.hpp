// Small databases built in memory for the export and annotation suites:
// content with records, provenance and ranges, serialized by the real
// writer and opened by the real reader, plus random content in every zone
// of the address space (below, inside and above the IPv4-mapped block).
#pragma once

#include <algorithm>
#include <cstring>
#include <deque>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "anondb/explain.hpp"
#include "anondb/reader.hpp"
#include "anondb/writer.hpp"
#include "test_util.hpp"

namespace anondb::test {

// Content plus the storage its origin texts view.
struct Content {
    writer::DatabaseContent c;
    std::deque<std::string> texts;

    // `providers` get ids from 1 (provider 0 is the writer's "none").
    Content(const std::vector<std::string>& providers, const std::vector<std::string>& feeds) {
        for (const auto& p : providers) c.providers.push_back(p);
        for (const auto& f : feeds) {
            writer::FeedInfo info;
            info.name = f;
            c.feeds.push_back(info);
        }
        c.record_asns.assign(1, 0);
        c.build_time = 1767225600;  // libmaxminddb refuses build_epoch 0
    }
    // A record with provenance from origins on `feeds` (one origin each, in order).
    std::uint32_t add_record(std::uint32_t cats, std::uint32_t provider, std::uint32_t asn,
                             std::vector<std::uint32_t> feeds) {
        c.records.push_back({cats, provider});
        c.record_asns.push_back(asn);
        for (std::uint32_t f : feeds) {
            texts.push_back("line of " + c.feeds[f].name);
            c.prov_origins.push_back(static_cast<std::uint32_t>(c.origins.size()));
            c.origins.push_back({f, static_cast<std::uint32_t>(c.origins.size() + 1), cats, provider, texts.back()});
        }
        c.prov_offsets.push_back(static_cast<std::uint32_t>(c.prov_origins.size()));
        return static_cast<std::uint32_t>(c.records.size() - 1);
    }
    // Distinct feed names of record r's provenance, in order.
    std::vector<std::string> sources(std::uint32_t r) const {
        std::vector<std::string> out;
        for (std::uint32_t k = c.prov_offsets[r]; k < c.prov_offsets[r + 1]; ++k) {
            const std::string& n = c.feeds[c.origins[c.prov_origins[k]].feed].name;
            if (std::find(out.begin(), out.end(), n) == out.end()) out.push_back(n);
        }
        return out;
    }
    // Brute force: the record of the content range holding `a`, 0 outside all.
    std::uint32_t record_at(Ip a) const {
        for (const auto& r : c.ranges)
            if (r.range.contains(a)) return r.record;
        return 0;
    }
};

// Content serialized and opened in memory (or a database file opened),
// with its cold data.
struct OpenedDb {
    std::vector<std::uint64_t> storage;  // 8-byte aligned for from_bytes; empty for a file
    std::optional<Database> db;
    std::optional<ColdData> cold;
    explicit OpenedDb(const writer::DatabaseContent& c) {
        auto bytes = writer::serialize(c);
        REQUIRE_MESSAGE(bytes, (bytes ? "" : bytes.error().message));
        storage.resize((bytes->size() + 7) / 8);
        std::memcpy(storage.data(), bytes->data(), bytes->size());
        auto d = Database::from_bytes({reinterpret_cast<const std::byte*>(storage.data()), bytes->size()});
        REQUIRE_MESSAGE(d, (d ? "" : d.error().message));
        db.emplace(std::move(*d));
        load_cold();
    }
    explicit OpenedDb(const std::string& path) {
        auto d = Database::open(path);
        REQUIRE_MESSAGE(d, (d ? "" : d.error().message));
        db.emplace(std::move(*d));
        load_cold();
    }

private:
    void load_cold() {
        auto cd = ColdData::load(*db);
        REQUIRE_MESSAGE(cd, (cd ? "" : cd.error().message));
        cold.emplace(std::move(*cd));
    }
};

// 0 below the IPv4-mapped block, 1 in it, 2 above it.
inline int zone(Ip a) { return a < kV4First ? 0 : (a <= kV4Last ? 1 : 2); }
inline Range zone_range(int z) {
    if (z == 0) return {kIpMin, to_ip(to_u128(kV4First) - 1)};
    if (z == 1) return {kV4First, kV4Last};
    return {to_ip(to_u128(kV4Last) + 1), kIpMax};
}

inline std::uint64_t below(std::mt19937_64& rng, std::uint64_t n) { return rng() % n; }
inline Ip ip_add(Ip a, std::uint64_t d) { return to_ip(to_u128(a) + d); }

// 1 to 6 random records (random categories, providers, ASNs in
// [1, max_asn] or none, 0-3 feeds); returns how many.
inline std::size_t add_random_records(std::mt19937_64& rng, Content& t, std::uint32_t max_asn = 4000000000u) {
    const std::size_t nrec = 1 + below(rng, 6);
    for (std::size_t r = 0; r < nrec; ++r) {
        std::vector<std::uint32_t> feeds;
        for (std::size_t k = below(rng, 4); k > 0; --k)
            feeds.push_back(static_cast<std::uint32_t>(below(rng, t.c.feeds.size())));
        std::sort(feeds.begin(), feeds.end());  // provenance is in origin order
        t.add_record(static_cast<std::uint32_t>(rng()) & kAllCategories,
                     static_cast<std::uint32_t>(below(rng, t.c.providers.size())),
                     below(rng, 3) == 0 ? static_cast<std::uint32_t>(1 + below(rng, max_asn)) : 0, feeds);
    }
    return nrec;
}

// `t` (names, no records yet) with 1 to 6 random records (add_random_records)
// and ranges clustered in every zone, some at the zone edges and the ends
// of the space; ranges never cross a zone edge (the writer refuses that).
inline Content random_content(std::mt19937_64& rng, Content t) {
    const std::size_t nrec = add_random_records(rng, t);
    const Ip bases[] = {Ip::from_v4(static_cast<std::uint32_t>(rng()) & 0xffffff00u),
                        Ip::from_v4(0xffffff00u),
                        kV4First,
                        Ip{0, rng() & 0xffffffffull},
                        to_ip(to_u128(kV4First) - 256),
                        to_ip(to_u128(kV4Last) + 1),
                        Ip{0x20010db8ull << 32, 0},
                        Ip{rng() | (1ull << 63), rng() & ~0xffffull},
                        to_ip(to_u128(kIpMax) - 299)};
    std::vector<Ip> pts;
    for (std::size_t k = 3 + below(rng, 30); k > 0; --k) {
        // Sometimes wide steps, so ranges need many CIDRs.
        const std::uint64_t step = below(rng, 4) == 0 ? below(rng, 70000) : below(rng, 300);
        const Ip base = bases[below(rng, std::size(bases))];
        const Ip p = ip_add(base, step);
        if (zone(p) == zone(base)) pts.push_back(p);
    }
    // The family edges themselves: a range may start at 0.0.0.0 or end at
    // 255.255.255.255, and its IPv6 neighbours just outside.
    for (const Ip edge : {kV4First, ip_next(kV4Last), Ip::from_v4(0xfffffff0u), to_ip(to_u128(kV4First) - 16)})
        if (below(rng, 3) == 0) pts.push_back(edge);
    if (below(rng, 8) == 0) pts.push_back(kIpMin);
    if (below(rng, 8) == 0) pts.push_back(kIpMax);
    std::sort(pts.begin(), pts.end());
    pts.erase(std::unique(pts.begin(), pts.end()), pts.end());
    for (std::size_t i = 0; i + 1 < pts.size(); ++i) {
        if (below(rng, 4) == 0) continue;
        const Range r{pts[i], ip_prev(pts[i + 1])};
        if (zone(r.first) != zone(r.last)) continue;  // ranges stay in one family
        t.c.ranges.push_back({r, static_cast<std::uint32_t>(1 + below(rng, nrec))});
    }
    if (!pts.empty() && pts.back() == kIpMax && below(rng, 2) &&
        (t.c.ranges.empty() || t.c.ranges.back().range.last < kIpMax))
        t.c.ranges.push_back({{kIpMax, kIpMax}, static_cast<std::uint32_t>(1 + below(rng, nrec))});
    return t;
}

}  // namespace anondb::test
