// Small databases built in memory for the export and annotation suites, and
// brute-force oracles of what they must answer.
//
// Content: origins (input entries) and evidence rows (their ranges), as a
// build makes them; merge() computes the ranges lookups answer with the
// real builder::merge_into, then the real writer serializes and the real
// reader opens them (OpenedDb). random_content() fills one with rows in
// every zone of the address space (below, inside and above the IPv4-mapped
// block), at the edges of the space and of the block, nested, overlapping,
// tied and sometimes crossing a zone edge.
//
// Oracle: what FORMAT.md says every address answers, computed from the
// evidence rows alone (never from the library's sweep or answer code): the
// answer (Answer semantics) and the sources (distinct feed names of the
// covering rows in ascending origin order) of each elementary interval of
// the space, cut at every row's first and last + 1 and at the zone edges.
#pragma once

#include <algorithm>
#include <cstring>
#include <deque>
#include <map>
#include <optional>
#include <ostream>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <doctest/doctest.h>

#include "anondb/builder/merge.hpp"
#include "anondb/builder/pipeline.hpp"
#include "anondb/explain.hpp"
#include "anondb/reader.hpp"
#include "anondb/writer.hpp"
#include "test_util.hpp"

namespace anondb::test {

// 0 below the IPv4-mapped block, 1 in it, 2 above it.
inline int zone(Ip a) { return a < kV4First ? 0 : (a <= kV4Last ? 1 : 2); }
inline Range zone_range(int z) {
    if (z == 0) return {kIpMin, to_ip(to_u128(kV4First) - 1)};
    if (z == 1) return {kV4First, kV4Last};
    return {to_ip(to_u128(kV4Last) + 1), kIpMax};
}

inline std::uint64_t below(std::mt19937_64& rng, std::uint64_t n) { return rng() % n; }
inline Ip ip_add(Ip a, std::uint64_t d) { return to_ip(to_u128(a) + d); }

// ---- the oracle ------------------------------------------------------------------

// An answer by value (FORMAT.md, Answer semantics).
struct Want {
    bool flagged = false;
    std::uint32_t categories = 0;
    std::string provider;  // "" = none
    std::uint32_t asn = 0;  // 0 = none
    friend bool operator==(const Want&, const Want&) = default;
};
inline std::ostream& operator<<(std::ostream& os, const Want& w) {
    if (!w.flagged) return os << "{not flagged}";
    return os << "{categories " << w.categories << ", provider '" << w.provider << "', asn " << w.asn << "}";
}
// Does what the reader answered equal the oracle's answer?
inline bool same(const Want& w, const LookupResult& r) {
    return w.flagged == r.flagged && w.categories == r.categories && w.provider == r.provider && w.asn == r.asn;
}

// One input entry as the oracle sees it: its feed's name and its attributes.
struct OriginFacts {
    std::string feed;
    std::uint32_t categories = 0;
    std::string provider;  // "" = none
    std::uint32_t asn = 0;  // 0 = a direct entry
};
struct EvidenceRow {
    Range range;
    std::uint32_t origin = 0;
};

class Oracle {
public:
    // An elementary interval: one set of covering rows throughout.
    struct Piece {
        Range range;
        std::uint32_t answer = 0;   // into answers(); answers()[0] is "not flagged"
        std::uint32_t sources = 0;  // into source_lists(); [0] is the empty list
    };

    Oracle(std::vector<EvidenceRow> rows, std::vector<OriginFacts> origins)
        : rows_(std::move(rows)), origins_(std::move(origins)) {
        std::stable_sort(rows_.begin(), rows_.end(),
                         [](const EvidenceRow& a, const EvidenceRow& b) { return a.range.first < b.range.first; });
        max_last_.resize(rows_.size());
        for (std::size_t i = 0; i < rows_.size(); ++i) {
            REQUIRE(rows_[i].origin < origins_.size());
            max_last_[i] = i == 0 ? rows_[i].range.last : std::max(max_last_[i - 1], rows_[i].range.last);
        }
        answers_.push_back(Want{});
        answer_ids_.emplace(key(Want{}), 0);
        source_lists_.emplace_back();
        source_ids_.emplace(std::vector<std::string>{}, 0);
        sweep();
    }

    // The rows whose range contains `a`, ascending: every row with first <= a
    // whose last reaches a (the scan stops where no earlier row reaches a).
    std::vector<std::uint32_t> rows_at(Ip a) const {
        const auto k = static_cast<std::size_t>(
            std::upper_bound(rows_.begin(), rows_.end(), a, [](Ip x, const EvidenceRow& r) { return x < r.range.first; }) -
            rows_.begin());
        std::vector<std::uint32_t> out;
        for (std::size_t i = k; i-- > 0 && a <= max_last_[i];)
            if (a <= rows_[i].range.last) out.push_back(static_cast<std::uint32_t>(i));
        std::reverse(out.begin(), out.end());
        return out;
    }

    // FORMAT.md, Answer semantics: categories OR'ed; provider of the
    // narrowest row naming one, direct rows (AS 0) before ASN-derived ones,
    // ties to the lowest provider (byte order of names); AS of the narrowest
    // row with one, ties to the lowest AS.
    Want answer_of(const std::vector<std::uint32_t>& rows) const {
        Want w;
        if (rows.empty()) return w;
        w.flagged = true;
        std::optional<std::tuple<bool, U128, std::string>> best_provider;
        std::optional<std::pair<U128, std::uint32_t>> best_asn;
        for (const std::uint32_t r : rows) {
            const OriginFacts& o = origins_[rows_[r].origin];
            const U128 width = to_u128(rows_[r].range.last) - to_u128(rows_[r].range.first);
            w.categories |= o.categories;
            if (!o.provider.empty()) {
                std::tuple<bool, U128, std::string> k{o.asn != 0, width, o.provider};
                if (!best_provider || k < *best_provider) best_provider = std::move(k);
            }
            if (o.asn != 0) {
                const std::pair<U128, std::uint32_t> k{width, o.asn};
                if (!best_asn || k < *best_asn) best_asn = k;
            }
        }
        if (best_provider) w.provider = std::get<2>(*best_provider);
        if (best_asn) w.asn = best_asn->second;
        return w;
    }
    // Distinct feed names of the rows' origins, in ascending origin order.
    std::vector<std::string> sources_of(const std::vector<std::uint32_t>& rows) const {
        std::vector<std::uint32_t> origins;
        for (const std::uint32_t r : rows) origins.push_back(rows_[r].origin);
        std::sort(origins.begin(), origins.end());
        std::vector<std::string> out;
        for (const std::uint32_t o : origins)
            if (std::find(out.begin(), out.end(), origins_[o].feed) == out.end()) out.push_back(origins_[o].feed);
        return out;
    }
    Want answer_at(Ip a) const { return answer_of(rows_at(a)); }
    std::vector<std::string> sources_at(Ip a) const { return sources_of(rows_at(a)); }

    // The partition of the whole space into elementary intervals, in order.
    const std::vector<Piece>& pieces() const { return pieces_; }
    const Piece& piece_at(Ip a) const {
        auto it = std::upper_bound(pieces_.begin(), pieces_.end(), a,
                                   [](Ip x, const Piece& p) { return x < p.range.first; });
        return *std::prev(it);
    }
    const Want& answer(std::uint32_t id) const { return answers_[id]; }
    const std::vector<std::string>& sources(std::uint32_t id) const { return source_lists_[id]; }
    const std::vector<Want>& answers() const { return answers_; }
    const std::vector<EvidenceRow>& rows() const { return rows_; }
    const OriginFacts& origin(std::uint32_t o) const { return origins_[o]; }

    // Maximal runs of touching pieces in one zone for which same(a, b)
    // holds, in address order, as (range, first piece index).
    template <class Same>
    std::vector<std::pair<Range, std::size_t>> runs(Same same_run) const {
        std::vector<std::pair<Range, std::size_t>> out;
        for (std::size_t i = 0; i < pieces_.size(); ++i) {
            const Piece& p = pieces_[i];
            if (!out.empty()) {
                const Piece& q = pieces_[out.back().second];
                if (zone(q.range.first) == zone(p.range.first) && same_run(q, p)) {
                    out.back().first.last = p.range.last;
                    continue;
                }
            }
            out.push_back({p.range, i});
        }
        return out;
    }
    // Lookup segments: maximal runs of one answer within a zone (the two
    // tables meet at the IPv4-mapped block's edges).
    const std::vector<std::pair<Range, std::size_t>>& segments() const {
        if (segments_.empty()) segments_ = runs([](const Piece& a, const Piece& b) { return a.answer == b.answer; });
        return segments_;
    }
    Range segment_at(Ip a) const {
        const auto& s = segments();
        auto it = std::upper_bound(s.begin(), s.end(), a,
                                   [](Ip x, const std::pair<Range, std::size_t>& r) { return x < r.first.first; });
        return std::prev(it)->first;
    }

private:
    static std::tuple<bool, std::uint32_t, std::string, std::uint32_t> key(const Want& w) {
        return {w.flagged, w.categories, w.provider, w.asn};
    }
    std::uint32_t intern(const Want& w) {
        auto [it, fresh] = answer_ids_.emplace(key(w), static_cast<std::uint32_t>(answers_.size()));
        if (fresh) answers_.push_back(w);
        return it->second;
    }
    std::uint32_t intern(std::vector<std::string> s) {
        auto [it, fresh] = source_ids_.emplace(s, static_cast<std::uint32_t>(source_lists_.size()));
        if (fresh) source_lists_.push_back(std::move(s));
        return it->second;
    }

    // Cut points: the start of the space, the zone edges, every row's first
    // and the address after its last; one sweep keeps the covering rows.
    void sweep() {
        std::vector<Ip> cuts{kIpMin, kV4First, ip_next(kV4Last)};
        for (const auto& r : rows_) {
            cuts.push_back(r.range.first);
            if (r.range.last != kIpMax) cuts.push_back(ip_next(r.range.last));
        }
        std::sort(cuts.begin(), cuts.end());
        cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
        std::vector<std::uint32_t> by_last(rows_.size());
        for (std::uint32_t i = 0; i < by_last.size(); ++i) by_last[i] = i;
        std::sort(by_last.begin(), by_last.end(),
                  [&](std::uint32_t a, std::uint32_t b) { return rows_[a].range.last < rows_[b].range.last; });
        std::set<std::uint32_t> active;
        std::size_t next = 0, ended = 0;
        for (std::size_t k = 0; k < cuts.size(); ++k) {
            const Ip at = cuts[k];
            for (; next < rows_.size() && rows_[next].range.first == at; ++next)
                active.insert(static_cast<std::uint32_t>(next));
            for (; ended < by_last.size() && rows_[by_last[ended]].range.last < at; ++ended) active.erase(by_last[ended]);
            const std::vector<std::uint32_t> rows(active.begin(), active.end());
            const Ip last = k + 1 < cuts.size() ? ip_prev(cuts[k + 1]) : kIpMax;
            pieces_.push_back({{at, last}, intern(answer_of(rows)), intern(sources_of(rows))});
        }
    }

    std::vector<EvidenceRow> rows_;  // by first
    std::vector<Ip> max_last_;       // highest last of rows_[0..i]
    std::vector<OriginFacts> origins_;
    std::vector<Want> answers_;
    std::map<std::tuple<bool, std::uint32_t, std::string, std::uint32_t>, std::uint32_t> answer_ids_;
    std::vector<std::vector<std::string>> source_lists_;
    std::map<std::vector<std::string>, std::uint32_t> source_ids_;
    std::vector<Piece> pieces_;
    mutable std::vector<std::pair<Range, std::size_t>> segments_;
};

// The oracle of a database file, from its own evidence rows and origins
// (read through ColdData's plain accessors, not its sweep or answer code).
inline Oracle oracle_of_file(const ColdData& cold) {
    std::vector<EvidenceRow> rows;
    rows.reserve(cold.evidence_count());
    for (std::uint32_t r = 0; r < cold.evidence_count(); ++r) rows.push_back({cold.row_range(r), cold.origin_of_row(r)});
    std::vector<OriginFacts> origins;
    origins.reserve(cold.origin_count());
    for (std::uint32_t o = 0; o < cold.origin_count(); ++o) {
        const Evidence e = cold.evidence(o);
        origins.push_back({std::string(e.feed_name), e.categories, std::string(e.provider), e.asn});
    }
    return Oracle(std::move(rows), std::move(origins));
}

// ---- content ---------------------------------------------------------------------

// Content plus the storage its origin texts view, and the rows as they
// were added (merge_into re-sorts content.evidence; the oracle reads these).
struct Content {
    writer::DatabaseContent c;
    std::deque<std::string> texts;
    std::vector<EvidenceRow> rows;
    bool merged = false;

    // `providers` (any order, none empty) are stored in byte order with ids
    // from 1, as FORMAT.md orders them: pid() finds them. Feeds keep their
    // order; those in `asn_lists` are ASN lists (role 1), the rest range feeds.
    Content(std::vector<std::string> providers, const std::vector<std::string>& feeds,
            const std::set<std::uint32_t>& asn_lists = {}) {
        std::sort(providers.begin(), providers.end());
        providers.erase(std::unique(providers.begin(), providers.end()), providers.end());
        for (const auto& p : providers) {
            REQUIRE_MESSAGE(!p.empty(), "test bug: an empty provider name");
            c.providers.push_back(p);
        }
        for (std::uint32_t i = 0; i < feeds.size(); ++i) {
            writer::FeedInfo info;
            info.name = feeds[i];
            info.url = "https://feeds.example/" + std::to_string(i);
            info.format = "plain";
            if (asn_lists.count(i)) info.role = format::FeedRole::asn_list;
            c.feeds.push_back(info);
        }
        c.build_time = 1767225600;  // libmaxminddb refuses build_epoch 0
    }

    std::uint32_t pid(std::string_view name) const {
        for (std::uint32_t i = 1; i < c.providers.size(); ++i)
            if (c.providers[i] == name) return i;
        FAIL("test bug: no provider " << std::string(name));
        return 0;
    }
    bool is_asn_list(std::uint32_t feed) const { return c.feeds[feed].role == format::FeedRole::asn_list; }

    // One input entry on `feed`; returns its origin id.
    std::uint32_t add_origin(std::uint32_t feed, std::uint32_t cats, std::uint32_t provider, std::uint32_t asn = 0) {
        REQUIRE(feed < c.feeds.size());
        REQUIRE(provider < c.providers.size());
        std::uint32_t line = 1;
        for (const auto& o : c.origins) line += o.feed == feed;
        texts.push_back("line " + std::to_string(line) + " of " + c.feeds[feed].name);
        writer::OriginInfo o;
        o.feed = feed;
        o.line = line;
        o.categories = cats;
        o.provider = provider;
        o.text = texts.back();
        o.asn = asn;
        c.origins.push_back(o);
        merged = false;
        return static_cast<std::uint32_t>(c.origins.size() - 1);
    }
    void add_row(Range r, std::uint32_t origin) {
        REQUIRE(origin < c.origins.size());
        REQUIRE(!(r.last < r.first));
        rows.push_back({r, origin});
        merged = false;
    }
    void add_row(std::string_view range_text, std::uint32_t origin) { add_row(range_of(range_text), origin); }
    // An origin with one row.
    std::uint32_t add_entry(std::string_view range_text, std::uint32_t feed, std::uint32_t cats, std::uint32_t provider,
                            std::uint32_t asn = 0) {
        const std::uint32_t o = add_origin(feed, cats, provider, asn);
        add_row(range_text, o);
        return o;
    }

    // The ranges lookups answer, and the evidence, as a build computes them.
    Content& merge() {
        std::vector<builder::MergeInput> inputs;
        inputs.reserve(rows.size());
        for (const auto& r : rows) {
            const auto& o = c.origins[r.origin];
            inputs.push_back({r.range, r.origin, o.categories, o.provider, o.asn});
        }
        builder::merge_into(inputs, c);
        merged = true;
        return *this;
    }

    Oracle oracle() const {
        std::vector<OriginFacts> origins;
        for (const auto& o : c.origins) origins.push_back({c.feeds[o.feed].name, o.categories, c.providers[o.provider], o.asn});
        return Oracle(rows, std::move(origins));
    }
};

// Content serialized and opened in memory (or a database file opened),
// with its cold data.
struct OpenedDb {
    std::vector<std::uint64_t> storage;  // 8-byte aligned for from_bytes; empty for a file
    std::optional<Database> db;
    std::optional<ColdData> cold;
    explicit OpenedDb(const Content& t) {
        REQUIRE_MESSAGE(t.merged, "test bug: content not merged");
        auto bytes = writer::serialize(t.c);
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

// ---- random content ----------------------------------------------------------------

// 1 to 6 attribute profiles (categories, sometimes none; provider or none;
// an AS in [1, max_asn] or none) that the random rows' origins share, so
// that equal answers come from different origins and feeds.
struct Profile {
    std::uint32_t categories = 0, provider = 0, asn = 0;
};
inline std::vector<Profile> random_profiles(std::mt19937_64& rng, const Content& t,
                                            std::uint32_t max_asn = 4000000000u) {
    std::vector<Profile> out(1 + below(rng, 6));
    for (auto& p : out) {
        p.categories = below(rng, 8) == 0 ? 0 : static_cast<std::uint32_t>(rng()) & kAllCategories;
        p.provider = static_cast<std::uint32_t>(below(rng, t.c.providers.size()));
        p.asn = below(rng, 3) == 0 ? static_cast<std::uint32_t>(1 + below(rng, max_asn)) : 0;
    }
    return out;
}

// A new origin of profile `p`: ASN-derived ones on an ASN list when the
// content has one, direct ones on a range feed when it has one.
inline std::uint32_t random_origin(std::mt19937_64& rng, Content& t, const Profile& p) {
    std::vector<std::uint32_t> fit, all;
    for (std::uint32_t f = 0; f < t.c.feeds.size(); ++f) {
        all.push_back(f);
        if (t.is_asn_list(f) == (p.asn != 0)) fit.push_back(f);
    }
    const auto& from = fit.empty() ? all : fit;
    return t.add_origin(from[below(rng, from.size())], p.categories, p.provider, p.asn);
}

// Random rows between clustered points given, nested and overlapping
// (a row spans one to four gaps between points, and ends on a point or
// just before one); about one in six has a twin of another origin (ties).
// Rows crossing a zone edge only when `cross` is set.
inline void add_random_rows(std::mt19937_64& rng, Content& t, const std::vector<Profile>& profiles,
                            std::vector<Ip> pts, bool cross) {
    std::sort(pts.begin(), pts.end());
    pts.erase(std::unique(pts.begin(), pts.end()), pts.end());
    if (pts.empty()) return;
    for (std::size_t k = 1 + below(rng, 2 * pts.size()); k > 0; --k) {
        const std::size_t i = below(rng, pts.size());
        const std::size_t j = std::min(pts.size() - 1, i + below(rng, 5));
        Range r{pts[i], pts[j]};
        if (j > i && below(rng, 2)) r.last = ip_prev(pts[j]);
        if (zone(r.first) != zone(r.last) && !cross) continue;
        t.add_row(r, random_origin(rng, t, profiles[below(rng, profiles.size())]));
        if (below(rng, 6) == 0) t.add_row(r, random_origin(rng, t, profiles[below(rng, profiles.size())]));
    }
}

// `t` (names, no rows yet) with random rows clustered in every zone, some
// at the zone edges and the ends of the space; one round in six also has
// rows crossing a zone edge. Merged.
inline Content random_content(std::mt19937_64& rng, Content t) {
    const auto profiles = random_profiles(rng, t);
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
        // Sometimes wide steps, so rows need many CIDRs.
        const std::uint64_t step = below(rng, 4) == 0 ? below(rng, 70000) : below(rng, 300);
        const Ip base = bases[below(rng, std::size(bases))];
        const Ip p = ip_add(base, step);
        if (zone(p) == zone(base)) pts.push_back(p);
    }
    // The zone edges themselves: rows may start at 0.0.0.0 or end at
    // 255.255.255.255, and their IPv6 neighbours just outside.
    for (const Ip edge : {kV4First, ip_next(kV4Last), Ip::from_v4(0xfffffff0u), to_ip(to_u128(kV4First) - 16)})
        if (below(rng, 3) == 0) pts.push_back(edge);
    if (below(rng, 8) == 0) pts.push_back(kIpMin);
    if (below(rng, 8) == 0) pts.push_back(kIpMax);
    add_random_rows(rng, t, profiles, pts, below(rng, 6) == 0);
    if (below(rng, 8) == 0) t.add_row({kIpMax, kIpMax}, random_origin(rng, t, profiles[below(rng, profiles.size())]));
    t.merge();
    return t;
}

}  // namespace anondb::test
