// The .anondb format 2.0 end to end (docs/FORMAT.md is the spec):
// - XXH64 against libxxhash;
// - random feeds, origins and evidence, merged into ranges by the real
//   merge (as builds do), written, read back and held to a brute-force
//   oracle over the evidence (Answer semantics, segments, explain,
//   for_each_piece, answer_of), with the hot tables and the column tables
//   also decoded by this file's own decoders (independent of the reader);
// - determinism, writer refusals;
// - every truncation, random and targeted corruption;
// - hostile files for every rule of "Validation a reader must do", crafted
//   behind recomputed checksums so the structural checks are reached;
// - atomic replacement of a mapped file; the C API.
#include <doctest/doctest.h>

#include <xxhash.h>
#include <zstd.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <deque>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <iterator>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "anondb/anondb.h"
#include "anondb/builder/history.hpp"
#include "anondb/builder/merge.hpp"
#include "anondb/builder/pipeline.hpp"
#include "anondb/explain.hpp"
#include "anondb/format.hpp"
#include "anondb/reader.hpp"
#include "anondb/writer.hpp"
#include "anondb/xxh64.hpp"
#include "test_util.hpp"

using namespace anondb;
using namespace anondb::test;
using format::SectionKind;
namespace fs = std::filesystem;

namespace {

// Unoptimised builds (the sanitizer job) run fewer random iterations.
#ifdef __OPTIMIZE__
constexpr int kScale = 4;
#else
constexpr int kScale = 1;
#endif

using Rng = std::mt19937_64;

std::uint64_t below(Rng& rng, std::uint64_t n) { return std::uniform_int_distribution<std::uint64_t>(0, n - 1)(rng); }
bool chance(Rng& rng, double p) { return std::bernoulli_distribution(p)(rng); }
std::uint32_t rand32(Rng& rng) { return static_cast<std::uint32_t>(rng()); }

std::string random_text(Rng& rng, std::size_t max_len, bool binary) {
    std::string s(below(rng, max_len + 1), ' ');
    for (auto& ch : s) ch = binary ? static_cast<char>(rng()) : static_cast<char>('!' + below(rng, 94));
    return s;
}

// Address arithmetic on the test's own 128-bit integers (test_util.hpp),
// saturating at the ends of the space.
Ip ip_add(Ip a, std::uint64_t d) {
    const U128 v = to_u128(a), r = v + d;
    return r < v ? kIpMax : to_ip(r);
}
Ip ip_sub(Ip a, std::uint64_t d) {
    const U128 v = to_u128(a);
    return v < d ? kIpMin : to_ip(v - d);
}
U128 width_of(Range r) { return to_u128(r.last) - to_u128(r.first); }
// Uniform in [0, n], n up to 2^128 - 1.
U128 rand_upto(Rng& rng, U128 n) {
    const U128 r = (U128{rng()} << 64) | rng();
    return n == ~U128{0} ? r : r % (n + 1);
}
std::string ip_text(Ip a) { return format_ip(a); }

// File bytes in 8-byte aligned storage, as Database::from_bytes requires.
class Buffer {
public:
    Buffer() { assign({}); }
    explicit Buffer(std::span<const std::byte> bytes) { assign(bytes); }

    void assign(std::span<const std::byte> bytes) {
        words_.assign(bytes.size() / 8 + 1, 0);
        size_ = bytes.size();
        if (size_) std::memcpy(words_.data(), bytes.data(), size_);
    }
    void resize(std::size_t n) {
        std::vector<std::byte> tmp(n);
        std::memcpy(tmp.data(), data(), std::min(n, size_));
        assign(tmp);
    }
    std::byte* data() { return reinterpret_cast<std::byte*>(words_.data()); }
    const std::byte* data() const { return reinterpret_cast<const std::byte*>(words_.data()); }
    std::size_t size() const { return size_; }
    std::span<const std::byte> bytes() const { return {data(), size_}; }
    std::span<const std::byte> prefix(std::size_t n) const { return {data(), n}; }
    std::vector<std::byte> vec() const { return {data(), data() + size_}; }

    template <class T>
    T get(std::uint64_t off) const {
        REQUIRE(off + sizeof(T) <= size_);
        T v;
        std::memcpy(&v, data() + off, sizeof v);
        return v;
    }
    template <class T>
    void put(std::uint64_t off, const T& v) {
        REQUIRE(off + sizeof(T) <= size_);
        std::memcpy(data() + off, &v, sizeof v);
    }
    void flip(std::size_t pos, std::uint8_t mask) { data()[pos] ^= std::byte{mask}; }

private:
    std::vector<std::uint64_t> words_;
    std::size_t size_ = 0;
};

template <class T>
std::vector<std::byte> bytes_of(const std::vector<T>& v) {
    std::vector<std::byte> out(v.size() * sizeof(T));
    if (!out.empty()) std::memcpy(out.data(), v.data(), out.size());
    return out;
}
std::vector<std::byte> bytes_of(std::string_view s) {
    std::vector<std::byte> out(s.size());
    if (!out.empty()) std::memcpy(out.data(), s.data(), out.size());
    return out;
}

// ---- content generation -------------------------------------------------------

// A DatabaseContent together with the storage its origin texts view.
struct Generated {
    writer::DatabaseContent content;
    std::deque<std::string> texts;

    Generated() = default;
    Generated(const Generated&) = delete;
    Generated& operator=(const Generated&) = delete;

    std::string_view keep(std::string text) {
        texts.push_back(std::move(text));
        return texts.back();
    }
    std::uint32_t add_origin(std::uint32_t feed, std::uint32_t line, std::uint32_t categories, std::uint32_t provider,
                             std::string_view text, std::uint32_t asn = 0, std::uint32_t link = format::kNoLink) {
        writer::OriginInfo o;
        o.feed = feed;
        o.line = line;
        o.categories = categories;
        o.provider = provider;
        o.text = text;
        o.asn = asn;
        o.link = link;
        content.origins.push_back(o);
        return static_cast<std::uint32_t>(content.origins.size() - 1);
    }
    std::uint32_t add_origin(std::uint32_t feed, std::uint32_t line, std::uint32_t categories, std::uint32_t provider,
                             std::string text, std::uint32_t asn = 0, std::uint32_t link = format::kNoLink) {
        return add_origin(feed, line, categories, provider, keep(std::move(text)), asn, link);
    }
    std::uint32_t add_origin(std::uint32_t feed, std::uint32_t line, std::uint32_t categories, std::uint32_t provider,
                             const char* text, std::uint32_t asn = 0, std::uint32_t link = format::kNoLink) {
        return add_origin(feed, line, categories, provider, std::string(text), asn, link);
    }
    void add_row(Range r, std::uint32_t origin) { content.evidence.push_back({r, origin}); }
    void add_row(std::string_view range, std::uint32_t origin) { add_row(range_of(range), origin); }
};

// What a build does with the evidence: the merge gives the ranges (what
// lookups answer), the inputs in evidence order become the evidence.
void merge_ranges(writer::DatabaseContent& c) {
    std::vector<builder::MergeInput> inputs;
    inputs.reserve(c.evidence.size());
    for (const auto& e : c.evidence) {
        const auto& o = c.origins.at(e.origin);
        inputs.push_back({e.range, e.origin, o.categories, o.provider, o.asn});
    }
    builder::merge_into(inputs, c);
}

// Addresses where the model has edges: the ends of the space and of the
// IPv4-mapped block.
const std::vector<Ip> kEdges = {kIpMin, ip_next(kIpMin), ip_prev(kV4First), kV4First, ip_next(kV4First),
                                ip_prev(kV4Last), kV4Last, ip_next(kV4Last), ip_prev(kIpMax), kIpMax};

Ip random_point(Rng& rng, std::uint32_t v4_cluster) {
    static constexpr std::uint64_t kTops[] = {0x0000, 0x2001, 0x2a00, 0xffff};
    switch (below(rng, 7)) {
        case 0: return Ip::from_v4(rand32(rng));
        case 1: return Ip::from_v4((v4_cluster & 0xffff0000u) | static_cast<std::uint32_t>(below(rng, 65536)));
        case 2: return Ip{rng(), rng()};
        case 3: return Ip{(kTops[below(rng, 4)] << 48) | (rng() >> 44), rng()};  // shared top buckets
        case 4: {
            const Ip base = kEdges[below(rng, kEdges.size())];
            const std::uint64_t d = below(rng, 300);
            return chance(rng, 0.5) ? ip_add(base, d) : ip_sub(base, d);
        }
        case 5: return Ip{0, rng()};  // the low space, around the IPv4-mapped block
        default: return Ip{below(rng, 3), rng()};
    }
}

Range ordered(Ip a, Ip b) { return {std::min(a, b), std::max(a, b)}; }

bool overlaps(Range a, Range b) { return !(a.last < b.first || b.last < a.first); }

// Random content as a build makes it: feeds of every role, providers
// (mostly in byte order), ASN-table rows, range entries and ASN-derived
// entries (linked to table rows of their list's table), exclusion rules,
// and evidence rows of many shapes (nested, overlapping, touching, the same
// range for several origins, one address, at the edges of the space and of
// the IPv4-mapped block, across the block's edges); the ranges come from
// the real merge. An origin's rows are disjoint, as in real builds (a guard
// or an exclusion splits an entry into pieces). Then some rows repeated and
// the evidence shuffled: the writer sorts it and drops repeats.
void generate(Rng& rng, Generated& g, std::size_t max_rows = 80) {
    auto& c = g.content;
    c.build_time = static_cast<std::int64_t>(rng());
    c.data_version = rng();

    std::set<std::string> names;
    const std::size_t nprov = 1 + below(rng, 6);
    while (names.size() + 1 < nprov) names.insert("prov " + random_text(rng, 10, false));
    c.providers.assign(1, std::string());
    c.providers.insert(c.providers.end(), names.begin(), names.end());  // byte order, as anondb build has them...
    if (chance(rng, 0.3)) std::shuffle(c.providers.begin() + 1, c.providers.end(), rng);  // ...which the tie rule does not need

    const std::size_t nfeed = 1 + below(rng, 6);
    std::vector<std::uint32_t> by_role[4];
    for (std::size_t i = 0; i < nfeed; ++i) {
        writer::FeedInfo f;
        // Sometimes the same bytes as a provider name: the string pool shares them.
        f.name = (nprov > 1 && chance(rng, 0.2)) ? c.providers[1] : "feed-" + std::to_string(i);
        f.url = "https://example.org/" + random_text(rng, 30, false);
        f.source = chance(rng, 0.5) ? "data/snapshot/" + random_text(rng, 10, false) : f.url;
        f.format = chance(rng, 0.5) ? "plain" : "geofeed";
        f.categories = rand32(rng) & kAllCategories;
        f.provider = static_cast<std::uint32_t>(below(rng, nprov));
        f.fetched_at = static_cast<std::int64_t>(rng());
        f.bytes = rng();
        f.accepted = rng();
        f.rejected = rng();
        for (auto& b : f.sha256) b = static_cast<std::uint8_t>(rng());
        f.flags = static_cast<std::uint32_t>(below(rng, 8));
        // Mostly feeds that can have evidence; the first one always can.
        const std::uint32_t role = i == 0 ? static_cast<std::uint32_t>(below(rng, 2)) : static_cast<std::uint32_t>(below(rng, 4));
        f.role = static_cast<format::FeedRole>(role);
        by_role[role].push_back(static_cast<std::uint32_t>(i));
        c.feeds.push_back(std::move(f));
    }
    for (const std::uint32_t fi : by_role[1])
        if (!by_role[2].empty() && chance(rng, 0.85))
            c.feeds[fi].asn_table = by_role[2][below(rng, by_role[2].size())] + 1;
        else if (chance(rng, 0.1))
            c.feeds[fi].asn_table = static_cast<std::uint32_t>(below(rng, nfeed + 1));  // any, up to nfeed

    // A small pool of ASNs, so that equal-width rows tie on the AS.
    const std::uint32_t asn_pool[] = {64500, 64501, 64502, 4200000000u, 1};
    auto some_asn = [&]() { return chance(rng, 0.8) ? asn_pool[below(rng, 5)] : 1 + rand32(rng) % 0xfffffffeu; };

    // ASN-table rows (reached only through links) and exclusion rules.
    std::map<std::uint32_t, std::vector<std::uint32_t>> table_rows;  // table feed -> its rows
    std::vector<std::uint32_t> all_table_rows, rules;
    for (const std::uint32_t fi : by_role[2]) {
        const bool binary = chance(rng, 0.5);
        const std::size_t n = 1 + below(rng, 5);
        for (std::size_t k = 0; k < n; ++k) {
            const std::uint32_t asn = some_asn();
            const auto id = g.add_origin(fi, binary ? 0 : static_cast<std::uint32_t>(k + 1), 0, 0,
                                         random_text(rng, 18, false) + "/24 AS" + std::to_string(asn), asn);
            table_rows[fi].push_back(id);
            all_table_rows.push_back(id);
        }
    }
    for (const std::uint32_t fi : by_role[3]) {
        const std::size_t n = 1 + below(rng, 3);
        for (std::size_t k = 0; k < n; ++k)
            rules.push_back(g.add_origin(fi, static_cast<std::uint32_t>(3 * k + 1), 0, 0,
                                         "prefix," + random_text(rng, 20, false), chance(rng, 0.3) ? some_asn() : 0));
    }

    // Evidence, with its origins made as rows need them.
    std::vector<std::uint32_t> evidence_feeds = by_role[0];
    evidence_feeds.insert(evidence_feeds.end(), by_role[1].begin(), by_role[1].end());
    std::map<std::uint32_t, std::vector<std::uint32_t>> feed_origins;   // evidence feed -> its origins
    std::map<std::uint32_t, std::vector<Range>> origin_rows;            // origin -> its rows
    std::map<std::uint32_t, std::uint32_t> next_line;
    std::vector<std::uint32_t> derived;

    auto new_origin = [&](std::uint32_t fi) {
        const auto& f = c.feeds[fi];
        std::uint32_t& line = next_line[fi];
        line = chance(rng, 0.1) ? rand32(rng) : line + 1 + static_cast<std::uint32_t>(below(rng, 3));  // Δfeed wraps too
        const std::uint32_t cats = chance(rng, 0.1) ? 0 : chance(rng, 0.5) ? f.categories : rand32(rng) & kAllCategories;
        const auto provider = chance(rng, 0.35) ? 0u : static_cast<std::uint32_t>(below(rng, nprov));
        std::uint32_t id;
        if (f.role == format::FeedRole::ranges) {
            id = g.add_origin(fi, line, cats, provider, random_text(rng, 60, chance(rng, 0.2)));
        } else {
            // ASN-derived: a list line paired with a table row of the
            // list's table; a line with several rows is several origins
            // sharing the text.
            std::uint32_t link = format::kNoLink;
            const auto table = table_rows.find(f.asn_table - 1);
            if (f.asn_table != 0 && table != table_rows.end()) link = table->second[below(rng, table->second.size())];
            else if (!all_table_rows.empty() && chance(rng, 0.5)) link = all_table_rows[below(rng, all_table_rows.size())];
            const std::uint32_t asn = link != format::kNoLink && chance(rng, 0.8) ? c.origins[link].asn : some_asn();
            const auto& mine = feed_origins[fi];
            if (!mine.empty() && chance(rng, 0.3)) {
                const auto& prev = c.origins[mine.back()];
                id = g.add_origin(fi, prev.line, prev.categories, prev.provider, prev.text, asn, link);
            } else {
                id = g.add_origin(fi, line, cats, provider, "Provider,vpn,AS" + std::to_string(asn) + "," + random_text(rng, 20, false),
                                  asn, link);
            }
            derived.push_back(id);
        }
        feed_origins[fi].push_back(id);
        return id;
    };

    // Cut points for ranges: edges of the model and clusters of random points.
    std::vector<Ip> pts;
    for (Ip e : kEdges)
        if (chance(rng, 0.5)) pts.push_back(e);
    const std::uint32_t cluster = rand32(rng);
    for (std::size_t i = 0, n = 2 + below(rng, 30); i < n; ++i) {
        const Ip p = random_point(rng, cluster);
        pts.push_back(p);
        if (chance(rng, 0.2)) pts.push_back(ip_next(p));
    }
    std::sort(pts.begin(), pts.end());
    pts.erase(std::unique(pts.begin(), pts.end()), pts.end());
    auto pick = [&]() { return pts[below(rng, pts.size())]; };

    std::vector<Range> made;
    const std::size_t nrows = evidence_feeds.empty() ? 0 : below(rng, max_rows + 1);
    for (std::size_t r = 0; r < nrows; ++r) {
        Range range;
        const Range* near = made.empty() ? nullptr : &made[below(rng, made.size())];
        switch (below(rng, 11)) {
            case 0:
            case 1: range = ordered(pick(), pick()); break;
            case 2: range = {pick(), pick()}; range.last = range.first; break;  // one address
            case 3:  // nested inside another row
                if (near) {
                    const U128 w = width_of(*near);
                    const U128 a = chance(rng, 0.5) ? rand_upto(rng, w) : rand_upto(rng, std::min<U128>(w, 3));
                    const U128 b = a + rand_upto(rng, w - a);
                    range = {to_ip(to_u128(near->first) + a), to_ip(to_u128(near->first) + b)};
                } else {
                    range = ordered(pick(), pick());
                }
                break;
            case 4: range = near ? *near : Range{kV4First, kV4Last}; break;  // the same range again
            case 5:  // touching another row
                if (near && near->last != kIpMax && chance(rng, 0.5)) range = {ip_next(near->last), ip_add(near->last, 1 + below(rng, 1000))};
                else if (near && near->first != kIpMin) range = {ip_sub(near->first, 1 + below(rng, 1000)), ip_prev(near->first)};
                else range = {kIpMin, ip_add(kIpMin, below(rng, 5))};
                break;
            case 6: {  // across an edge of the IPv4-mapped block
                const Ip edge = chance(rng, 0.5) ? kV4First : ip_next(kV4Last);
                range = {ip_sub(edge, 1 + below(rng, 300)), ip_add(edge, below(rng, 300))};
                if (chance(rng, 0.2)) range = {ip_prev(edge), edge};
                break;
            }
            case 7: {  // a CIDR of IPv4 or IPv6
                const bool v4 = chance(rng, 0.6);
                const unsigned len = v4 ? 96 + static_cast<unsigned>(below(rng, 33)) : static_cast<unsigned>(below(rng, 129));
                range = prefix_range(v4 ? Ip::from_v4(rand32(rng)) : random_point(rng, cluster), len);
                break;
            }
            case 8:  // the same width as another row, shifted: ties on "narrowest"
                if (near) {
                    const U128 w = width_of(*near);
                    const U128 shift = static_cast<U128>(below(rng, 5)) * (w + 1 ? (w + 1) / 2 : 1);
                    const U128 f = to_u128(near->first) + shift;
                    if (f >= to_u128(near->first) && f + w >= f) range = {to_ip(f), to_ip(f + w)};
                    else range = *near;
                } else {
                    range = {kV4First, kV4First};
                }
                break;
            case 9: {  // big: the whole space, the block, a side of it
                static const Range kBig[] = {{kIpMin, kIpMax}, {kV4First, kV4Last}, {kIpMin, ip_prev(kV4First)}, {ip_next(kV4Last), kIpMax}};
                range = kBig[below(rng, 4)];
                if (chance(rng, 0.7)) range = ordered(pick(), pick());  // keep them rarer
                break;
            }
            default: range = ordered(random_point(rng, cluster), random_point(rng, cluster)); break;
        }
        const std::uint32_t fi = evidence_feeds[below(rng, evidence_feeds.size())];
        // An origin of the feed whose rows this range does not touch, or a new one.
        std::uint32_t origin = format::kNoLink;
        const auto& mine = feed_origins[fi];
        if (!mine.empty() && chance(rng, 0.35)) {
            const std::uint32_t cand = mine[below(rng, mine.size())];
            bool free = true;
            for (const Range& o : origin_rows[cand]) free = free && !overlaps(o, range);
            if (free) origin = cand;
        }
        if (origin == format::kNoLink) origin = new_origin(fi);
        origin_rows[origin].push_back(range);
        g.add_row(range, origin);
        made.push_back(range);
    }
    // Origins of evidence feeds without evidence: allowed.
    if (!evidence_feeds.empty() && chance(rng, 0.3)) new_origin(evidence_feeds[0]);

    for (std::size_t i = 0, n = below(rng, 5); i < n && !c.origins.empty(); ++i) {
        const std::uint32_t o = !derived.empty() ? derived[below(rng, derived.size())]
                                                 : static_cast<std::uint32_t>(below(rng, c.origins.size()));
        const std::uint32_t rule = !rules.empty() ? rules[below(rng, rules.size())]
                                                  : static_cast<std::uint32_t>(below(rng, c.origins.size()));
        c.exclusions.push_back({ordered(random_point(rng, cluster), random_point(rng, cluster)), o, rule});
    }
    c.metadata_json = "{\"seed\":" + std::to_string(rng()) + ",\"pad\":\"" + std::string(below(rng, 300), 'x') + "\"}";
    if (chance(rng, 0.1)) c.metadata_json.clear();  // an empty section
    merge_ranges(c);
    // The writer takes evidence in any order, duplicates allowed, and
    // writes it sorted and unique.
    for (std::size_t i = 0, n = c.evidence.size(); i < n; ++i)
        if (chance(rng, 0.05)) c.evidence.push_back(c.evidence[i]);
    if (chance(rng, 0.3)) std::shuffle(c.evidence.begin(), c.evidence.end(), rng);
}


// ---- the oracle ---------------------------------------------------------------

// An answer as the oracle gives it: the provider as its index.
struct Want {
    bool flagged = false;
    std::uint32_t categories = 0;
    std::uint32_t provider = 0;
    std::uint32_t asn = 0;
    friend auto operator<=>(const Want&, const Want&) = default;
};

struct Row {
    Range range;
    std::uint32_t origin = 0;
    friend bool operator==(const Row&, const Row&) = default;
};

// Evidence order (FORMAT.md, Evidence): first ascending, last descending, origin ascending.
bool row_less(const Row& a, const Row& b) {
    if (a.range.first != b.range.first) return a.range.first < b.range.first;
    if (a.range.last != b.range.last) return b.range.last < a.range.last;
    return a.origin < b.origin;
}

// The zones of the address model: below the IPv4-mapped block, the block,
// above it. Lookup segments and explain ranges stay inside one.
constexpr Range kZones[3] = {{kIpMin, ip_prev(kV4First)}, {kV4First, kV4Last}, {ip_next(kV4Last), kIpMax}};
int zone_of(Ip a) { return a < kV4First ? 0 : (a <= kV4Last ? 1 : 2); }

// Brute force over the evidence, from FORMAT.md alone: E(A) is the rows
// holding A (a linear scan), the answer is "Answer semantics" applied to
// E(A). The pieces (maximal ranges of one E) and the expected segments
// (maximal runs of one answer inside each zone) are built by a sweep over
// every row edge.
class Oracle {
public:
    struct Piece {
        Range range;
        std::vector<std::uint32_t> rows;  // ascending row numbers
    };
    struct Seg {
        Range range;
        Want want;
    };

    explicit Oracle(const writer::DatabaseContent& c) : c_(c) {
        for (const auto& e : c.evidence) rows_.push_back({e.range, e.origin});
        std::sort(rows_.begin(), rows_.end(), row_less);
        rows_.erase(std::unique(rows_.begin(), rows_.end()), rows_.end());

        std::vector<Ip> cuts{kIpMin};
        for (const Row& r : rows_) {
            cuts.push_back(r.range.first);
            if (r.range.last != kIpMax) cuts.push_back(ip_next(r.range.last));
        }
        std::sort(cuts.begin(), cuts.end());
        cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
        std::vector<std::uint32_t> active;
        std::size_t next = 0;
        for (std::size_t k = 0; k < cuts.size(); ++k) {
            const Ip at = cuts[k];
            std::erase_if(active, [&](std::uint32_t r) { return rows_[r].range.last < at; });
            for (; next < rows_.size() && rows_[next].range.first == at; ++next) active.push_back(static_cast<std::uint32_t>(next));
            pieces_.push_back({{at, k + 1 < cuts.size() ? ip_prev(cuts[k + 1]) : kIpMax}, active});
        }
        for (int z = 0; z < 3; ++z) {
            const Range zone = kZones[z];
            for (const Piece& p : pieces_) {
                if (p.range.last < zone.first || zone.last < p.range.first) continue;
                const Range r{std::max(p.range.first, zone.first), std::min(p.range.last, zone.last)};
                const Want w = answer_of(p.rows);
                if (!zones_[z].empty() && zones_[z].back().want == w) zones_[z].back().range.last = r.last;
                else zones_[z].push_back({r, w});
            }
        }
    }

    const std::vector<Row>& rows() const { return rows_; }
    const std::vector<Piece>& pieces() const { return pieces_; }
    const std::vector<Seg>& zone(int z) const { return zones_[z]; }

    // E(A) by a scan of every row.
    std::vector<std::uint32_t> rows_at(Ip a) const {
        std::vector<std::uint32_t> out;
        for (std::size_t i = 0; i < rows_.size(); ++i)
            if (rows_[i].range.first <= a && a <= rows_[i].range.last) out.push_back(static_cast<std::uint32_t>(i));
        return out;
    }

    // FORMAT.md, Answer semantics.
    Want answer_of(std::span<const std::uint32_t> rows) const {
        Want w;
        if (rows.empty()) return w;
        w.flagged = true;
        std::optional<std::tuple<bool, U128, std::uint32_t>> provider;  // (derived, width, provider index)
        std::optional<std::pair<U128, std::uint32_t>> asn;                // (width, AS)
        for (const std::uint32_t r : rows) {
            const auto& o = c_.origins[rows_[r].origin];
            const U128 width = width_of(rows_[r].range);
            w.categories |= o.categories;
            if (o.provider != 0) {
                const std::tuple<bool, U128, std::uint32_t> key{o.asn != 0, width, o.provider};
                if (!provider || key < *provider) provider = key;
            }
            if (o.asn != 0) {
                const std::pair<U128, std::uint32_t> key{width, o.asn};
                if (!asn || key < *asn) asn = key;
            }
        }
        if (provider) w.provider = std::get<2>(*provider);
        if (asn) w.asn = asn->second;
        return w;
    }
    Want answer_at(Ip a) const { return answer_of(rows_at(a)); }

    const Piece& piece_at(Ip a) const {
        auto it = std::upper_bound(pieces_.begin(), pieces_.end(), a, [](Ip x, const Piece& p) { return x < p.range.first; });
        return *std::prev(it);
    }
    const Seg& segment_at(Ip a) const {
        const auto& segs = zones_[zone_of(a)];
        auto it = std::upper_bound(segs.begin(), segs.end(), a, [](Ip x, const Seg& s) { return x < s.range.first; });
        return *std::prev(it);
    }
    // Explain's range: the piece, inside the address's zone.
    Range explain_range(Ip a) const {
        const Range p = piece_at(a).range, z = kZones[zone_of(a)];
        return {std::max(p.first, z.first), std::min(p.last, z.last)};
    }
    std::size_t v4_segments() const { return zones_[1].size(); }
    std::size_t v6_segments() const { return zones_[0].size() + 1 + zones_[2].size(); }
    std::set<Want> flagged_answers() const {
        std::set<Want> out;
        for (const auto& z : zones_)
            for (const auto& s : z)
                if (s.want.flagged) out.insert(s.want);
        return out;
    }

private:
    const writer::DatabaseContent& c_;
    std::vector<Row> rows_;
    std::vector<Piece> pieces_;
    std::array<std::vector<Seg>, 3> zones_;
};

// ---- the file, byte by byte -------------------------------------------------------

format::Header header_of(const Buffer& b) { return b.get<format::Header>(0); }
std::vector<format::SectionEntry> table_of(const Buffer& b) {
    const auto h = header_of(b);
    std::vector<format::SectionEntry> out;
    for (std::uint32_t i = 0; i < h.section_count; ++i)
        out.push_back(b.get<format::SectionEntry>(h.section_table_offset + std::uint64_t{i} * sizeof(format::SectionEntry)));
    return out;
}
std::uint64_t entry_pos(const Buffer& b, SectionKind kind) {
    const auto h = header_of(b);
    const auto t = table_of(b);
    for (std::size_t i = 0; i < t.size(); ++i)
        if (t[i].kind == static_cast<std::uint32_t>(kind)) return h.section_table_offset + i * sizeof(format::SectionEntry);
    FAIL("no section " << format::section_name(static_cast<std::uint32_t>(kind)));
    return 0;
}
format::SectionEntry entry(const Buffer& b, SectionKind kind) { return b.get<format::SectionEntry>(entry_pos(b, kind)); }
void set_entry(Buffer& b, SectionKind kind, const format::SectionEntry& e) { b.put(entry_pos(b, kind), e); }
std::string kind_name(SectionKind k) { return std::string(format::section_name(static_cast<std::uint32_t>(k))); }

// Element `i` of a raw section's array.
template <class T>
T element(const Buffer& b, SectionKind kind, std::uint64_t i) {
    return b.get<T>(entry(b, kind).offset + i * sizeof(T));
}
template <class T>
void set_element(Buffer& b, SectionKind kind, std::uint64_t i, const T& v) {
    b.put(entry(b, kind).offset + i * sizeof(T), v);
}

// Recomputes, with libxxhash, every section checksum that lies inside the
// file and then the table checksum, so a crafted change reaches the checks
// behind the checksums.
void reseal(Buffer& b) {
    auto h = header_of(b);
    const std::uint64_t size = b.size();
    const std::uint64_t table_off = h.section_table_offset;
    if (table_off > size) return;
    const std::uint64_t fit = (size - table_off) / sizeof(format::SectionEntry);
    const std::uint64_t count = std::min<std::uint64_t>(h.section_count, fit);
    for (std::uint64_t i = 0; i < count; ++i) {
        const std::uint64_t pos = table_off + i * sizeof(format::SectionEntry);
        auto e = b.get<format::SectionEntry>(pos);
        if (e.offset <= size && e.stored_size <= size - e.offset) {
            e.checksum = XXH64(b.data() + e.offset, e.stored_size, 0);
            b.put(pos, e);
        }
    }
    if (count < h.section_count) return;
    XXH64_state_t* st = XXH64_createState();
    XXH64_reset(st, 0);
    XXH64_update(st, b.data(), offsetof(format::Header, table_checksum));
    XXH64_update(st, b.data() + table_off, count * sizeof(format::SectionEntry));
    h.table_checksum = XXH64_digest(st);
    XXH64_freeState(st);
    b.put(0, h);
}

// One section: its table entry and stored bytes.
struct Stored {
    format::SectionEntry e;
    std::vector<std::byte> bytes;
};
std::vector<Stored> sections_of(const Buffer& b) {
    std::vector<Stored> out;
    for (const auto& e : table_of(b)) {
        const auto* p = b.data() + e.offset;
        out.push_back({e, std::vector<std::byte>(p, p + e.stored_size)});
    }
    return out;
}
// Lays sections out again as the format says (table at 64, each section at
// the next multiple of 64, zero padding), header fields from `like`, every
// checksum recomputed: for edits that change a section's size.
Buffer assemble(const Buffer& like, const std::vector<Stored>& secs) {
    auto h = header_of(like);
    const std::uint64_t table_bytes = secs.size() * sizeof(format::SectionEntry);
    auto align = [](std::uint64_t x) { return (x + 63) / 64 * 64; };
    std::uint64_t cursor = align(64 + table_bytes), end = 64 + table_bytes;
    std::vector<format::SectionEntry> table;
    for (const auto& s : secs) {
        auto e = s.e;
        e.offset = cursor;
        e.stored_size = s.bytes.size();
        table.push_back(e);
        end = cursor + s.bytes.size();
        cursor = align(end);
    }
    Buffer out{std::vector<std::byte>(end)};
    h.section_count = static_cast<std::uint32_t>(secs.size());
    h.section_table_offset = 64;
    h.file_size = end;
    out.put(0, h);
    for (std::size_t i = 0; i < secs.size(); ++i) {
        out.put(64 + i * sizeof(format::SectionEntry), table[i]);
        if (!secs[i].bytes.empty()) std::memcpy(out.data() + table[i].offset, secs[i].bytes.data(), secs[i].bytes.size());
    }
    reseal(out);
    return out;
}
// Replaces a section's contents with `raw`, stored raw.
void replace_section(Buffer& b, SectionKind kind, std::vector<std::byte> raw) {
    auto secs = sections_of(b);
    bool found = false;
    for (auto& s : secs) {
        if (s.e.kind != static_cast<std::uint32_t>(kind)) continue;
        s.e.encoding = static_cast<std::uint32_t>(format::Encoding::raw);
        s.e.raw_size = raw.size();
        s.bytes = std::move(raw);
        found = true;
        break;
    }
    REQUIRE(found);
    b = assemble(b, secs);
}

// A section's bytes after decoding (zstd by libzstd).
std::vector<std::byte> raw_of(const Buffer& b, SectionKind kind) {
    const auto e = entry(b, kind);
    const auto* p = b.data() + e.offset;
    if (e.encoding == static_cast<std::uint32_t>(format::Encoding::raw)) return {p, p + e.stored_size};
    REQUIRE(e.encoding == static_cast<std::uint32_t>(format::Encoding::zstd));
    std::vector<std::byte> out(e.raw_size);
    const std::size_t n = ZSTD_decompress(out.data(), out.size(), p, e.stored_size);
    REQUIRE_MESSAGE(!ZSTD_isError(n), ZSTD_getErrorName(n));
    REQUIRE(n == e.raw_size);
    return out;
}

std::string string_at(const Buffer& b, format::StrRef ref) {
    const auto e = entry(b, SectionKind::strings);
    REQUIRE(std::uint64_t{ref.offset} + ref.length <= e.raw_size);
    return std::string(reinterpret_cast<const char*>(b.data() + e.offset + ref.offset), ref.length);
}

// ---- hot tables, decoded and encoded by this file (FORMAT.md, Sections) ---------

// Bytes of an answer id for n answers (answer 0 included).
unsigned id_width(std::uint64_t n) { return n <= 256 ? 1 : n <= 65536 ? 2 : n <= (1u << 24) ? 3 : 4; }
std::uint64_t answer_count_of(const Buffer& b) { return entry(b, SectionKind::answers).raw_size / sizeof(format::Answer); }

std::vector<format::Answer> read_answers(const Buffer& b) {
    const auto raw = raw_of(b, SectionKind::answers);
    REQUIRE(raw.size() % 16 == 0);
    std::vector<format::Answer> out(raw.size() / 16);
    for (std::size_t i = 0; i < out.size(); ++i) {
        std::memcpy(&out[i].categories, raw.data() + 16 * i, 4);
        std::memcpy(&out[i].asn, raw.data() + 16 * i + 4, 4);
        std::memcpy(&out[i].provider.offset, raw.data() + 16 * i + 8, 4);
        std::memcpy(&out[i].provider.length, raw.data() + 16 * i + 12, 4);
    }
    return out;
}

struct HotTable {
    unsigned bits = 0;
    std::vector<Ip> starts;
    std::vector<std::uint32_t> ids;
};

unsigned index_bits_of(std::uint64_t size, unsigned min_bits) {
    for (unsigned b = min_bits; b <= 24; ++b)
        if (size == ((std::uint64_t{1} << b) + 1) * 4) return b;
    return 0;
}

// The IPv4 table (v4) or the IPv6 table, from the bytes alone.
HotTable read_table(const Buffer& b, bool v4) {
    const auto idx = raw_of(b, v4 ? SectionKind::v4_index : SectionKind::v6_index);
    const auto st = raw_of(b, v4 ? SectionKind::v4_starts : SectionKind::v6_starts);
    const auto ids = raw_of(b, v4 ? SectionKind::v4_answers : SectionKind::v6_answers);
    HotTable t;
    t.bits = index_bits_of(idx.size(), v4 ? 16 : 8);
    REQUIRE(t.bits != 0);
    const unsigned w = id_width(answer_count_of(b));
    const std::size_t n = st.size() / (v4 ? 2 : 16);
    // n ids of w bytes, then 4 - w zero bytes (FORMAT.md, Conventions).
    REQUIRE(ids.size() == n * w + 4 - w);
    for (std::size_t k = n * w; k < ids.size(); ++k) CHECK(ids[k] == std::byte{0});
    auto u32 = [&](std::size_t i) {
        std::uint32_t v;
        std::memcpy(&v, idx.data() + 4 * i, 4);
        return v;
    };
    const std::uint32_t buckets = 1u << t.bits;
    REQUIRE(u32(0) == 0);
    REQUIRE(u32(buckets) == n);
    std::string bad;  // the first fault, if any
    for (std::uint32_t h = 0; h < buckets && bad.empty(); ++h) {
        if (u32(h) > u32(h + 1)) bad = "index not ascending at " + std::to_string(h);
        for (std::uint32_t i = u32(h); i < u32(h + 1) && bad.empty(); ++i) {
            if (v4) {
                std::uint16_t low;
                std::memcpy(&low, st.data() + 2 * i, 2);
                const unsigned shift = 32 - t.bits;  // 8 to 16 low bits are the start's own
                const std::uint32_t own = low & ((1u << shift) - 1);
                if ((std::uint32_t{low} >> shift) != (h & ((1u << (16 - shift)) - 1)))
                    bad = "IPv4 start " + std::to_string(i) + ": stored bits disagree with bucket " + std::to_string(h);
                t.starts.push_back(Ip::from_v4((h << shift) | own));
            } else {
                std::uint64_t hi, lo;
                std::memcpy(&hi, st.data() + 16 * i, 8);
                std::memcpy(&lo, st.data() + 16 * i + 8, 8);
                if ((hi >> (64 - t.bits)) != h) bad = "IPv6 start " + std::to_string(i) + " outside bucket " + std::to_string(h);
                t.starts.push_back(Ip{hi, lo});
            }
        }
    }
    REQUIRE_MESSAGE(bad.empty(), bad);
    for (std::size_t i = 0; i < n; ++i) {
        std::uint32_t id = 0;
        std::memcpy(&id, ids.data() + i * w, w);
        t.ids.push_back(id);
    }
    return t;
}

// Writes a table (starts ascending, ids below 2^(8w)) with an index of
// `bits`, as FORMAT.md lays it out; answer ids of the file's width.
void write_table(Buffer& b, bool v4, const HotTable& t) {
    const std::uint32_t buckets = 1u << t.bits;
    std::vector<std::uint32_t> index(std::size_t{buckets} + 1);
    auto bucket = [&](Ip s) { return v4 ? s.v4() >> (32 - t.bits) : static_cast<std::uint32_t>(s.hi >> (64 - t.bits)); };
    for (std::uint32_t h = 0; h <= buckets; ++h)
        index[h] = static_cast<std::uint32_t>(std::count_if(t.starts.begin(), t.starts.end(), [&](Ip s) { return bucket(s) < h; }));
    std::vector<std::byte> starts;
    for (Ip s : t.starts) {
        if (v4) {
            const auto low = static_cast<std::uint16_t>(s.v4());
            const auto* p = reinterpret_cast<const std::byte*>(&low);
            starts.insert(starts.end(), p, p + 2);
        } else {
            const format::Ip128 x{s.hi, s.lo};
            const auto* p = reinterpret_cast<const std::byte*>(&x);
            starts.insert(starts.end(), p, p + 16);
        }
    }
    const unsigned w = id_width(answer_count_of(b));
    std::vector<std::byte> ids(t.ids.size() * w + 4 - w);  // zero padding
    for (std::size_t i = 0; i < t.ids.size(); ++i) std::memcpy(ids.data() + i * w, &t.ids[i], w);
    replace_section(b, v4 ? SectionKind::v4_index : SectionKind::v6_index, bytes_of(index));
    replace_section(b, v4 ? SectionKind::v4_starts : SectionKind::v6_starts, std::move(starts));
    replace_section(b, v4 ? SectionKind::v4_answers : SectionKind::v6_answers, std::move(ids));
}

// ---- column tables, decoded and encoded by this file (FORMAT.md, Conventions) --

using Columns = std::vector<std::vector<std::uint32_t>>;

Columns split_columns(std::span<const std::byte> bytes, unsigned k) {
    REQUIRE(bytes.size() % (4 * k) == 0);
    const std::size_t n = bytes.size() / (4 * k);
    Columns out(k, std::vector<std::uint32_t>(n));
    for (unsigned c = 0; c < k; ++c)
        for (std::size_t i = 0; i < n; ++i) std::memcpy(&out[c][i], bytes.data() + 4 * (c * n + i), 4);
    return out;
}
std::vector<std::byte> join_columns(const Columns& cols) {
    std::vector<std::byte> out;
    for (const auto& col : cols) {
        const auto b = bytes_of(col);
        out.insert(out.end(), b.begin(), b.end());
    }
    return out;
}
// Δ: stored s[i] = v[i] - v[i-1] mod 2^32, v[-1] = 0.
void delta_decode(std::vector<std::uint32_t>& v) {
    std::uint32_t sum = 0;
    for (auto& x : v) x = sum += x;
}
void delta_encode(std::vector<std::uint32_t>& v) {
    std::uint32_t prev = 0;
    for (auto& x : v) {
        const std::uint32_t cur = x;
        x = cur - prev;
        prev = cur;
    }
}
// Δfeed: minus the previous value of a row with the same feed (0 for a feed's first).
void feed_delta_decode(std::vector<std::uint32_t>& v, const std::vector<std::uint32_t>& feed) {
    std::map<std::uint32_t, std::uint32_t> last;
    for (std::size_t i = 0; i < v.size(); ++i) last[feed[i]] = v[i] += last[feed[i]];
}
void feed_delta_encode(std::vector<std::uint32_t>& v, const std::vector<std::uint32_t>& feed) {
    std::map<std::uint32_t, std::uint32_t> last;
    for (std::size_t i = 0; i < v.size(); ++i) {
        const std::uint32_t cur = v[i];
        v[i] = cur - last[feed[i]];
        last[feed[i]] = cur;
    }
}

struct OriginRow {
    std::uint32_t feed = 0, line = 0, categories = 0, provider = 0, text_offset = 0, text_length = 0, asn = 0,
                  link = format::kNoLink;
    friend bool operator==(const OriginRow&, const OriginRow&) = default;
};

std::vector<OriginRow> decode_origins(std::span<const std::byte> bytes) {
    Columns c = split_columns(bytes, 8);
    for (unsigned k : {1u, 4u, 7u}) feed_delta_decode(c[k], c[0]);
    std::vector<OriginRow> out(c[0].size());
    for (std::size_t i = 0; i < out.size(); ++i)
        out[i] = {c[0][i], c[1][i], c[2][i], c[3][i], c[4][i], c[5][i], c[6][i], c[7][i]};
    return out;
}
std::vector<std::byte> encode_origins(const std::vector<OriginRow>& rows) {
    Columns c(8);
    for (const auto& r : rows) {
        const std::uint32_t v[8] = {r.feed, r.line, r.categories, r.provider, r.text_offset, r.text_length, r.asn, r.link};
        for (unsigned k = 0; k < 8; ++k) c[k].push_back(v[k]);
    }
    for (unsigned k : {1u, 4u, 7u}) feed_delta_encode(c[k], c[0]);
    return join_columns(c);
}

struct EvidenceRow {
    std::uint32_t feed = 0, origin = 0;
    Range range;
    friend bool operator==(const EvidenceRow&, const EvidenceRow&) = default;
};

std::uint32_t limb_of(Ip a, unsigned k) {  // limb 0 = most significant
    const std::uint64_t half = k < 2 ? a.hi : a.lo;
    return static_cast<std::uint32_t>(k % 2 == 0 ? half >> 32 : half & 0xffffffffu);
}
Ip ip_of_limbs(const std::uint32_t l[4]) {
    return Ip{std::uint64_t{l[0]} << 32 | l[1], std::uint64_t{l[2]} << 32 | l[3]};
}

std::vector<EvidenceRow> decode_evidence(std::span<const std::byte> bytes) {
    Columns c = split_columns(bytes, 10);
    feed_delta_decode(c[1], c[0]);
    for (unsigned k = 2; k < 6; ++k) delta_decode(c[k]);
    std::vector<EvidenceRow> out(c[0].size());
    for (std::size_t i = 0; i < out.size(); ++i) {
        std::uint32_t first[4], last[4];
        for (unsigned k = 0; k < 4; ++k) {
            first[k] = c[2 + k][i];
            last[k] = c[6 + k][i] + first[k];  // stored: last limb - first limb
        }
        out[i] = {c[0][i], c[1][i], {ip_of_limbs(first), ip_of_limbs(last)}};
    }
    return out;
}
std::vector<std::byte> encode_evidence(const std::vector<EvidenceRow>& rows) {
    Columns c(10);
    for (const auto& r : rows) {
        c[0].push_back(r.feed);
        c[1].push_back(r.origin);
        for (unsigned k = 0; k < 4; ++k) {
            c[2 + k].push_back(limb_of(r.range.first, k));
            c[6 + k].push_back(limb_of(r.range.last, k) - limb_of(r.range.first, k));
        }
    }
    feed_delta_encode(c[1], c[0]);
    for (unsigned k = 2; k < 6; ++k) delta_encode(c[k]);
    return join_columns(c);
}

// first_seen (FORMAT.md, First seen): first limbs Δ, last limbs minus first, the day.
struct SeenRow {
    Range range;
    std::uint32_t day = 0;
};
std::vector<SeenRow> decode_first_seen(std::span<const std::byte> bytes) {
    Columns c = split_columns(bytes, 9);
    for (unsigned k = 0; k < 4; ++k) delta_decode(c[k]);
    std::vector<SeenRow> out(c[0].size());
    for (std::size_t i = 0; i < out.size(); ++i) {
        std::uint32_t first[4], last[4];
        for (unsigned k = 0; k < 4; ++k) {
            first[k] = c[k][i];
            last[k] = c[4 + k][i] + first[k];
        }
        out[i] = {{ip_of_limbs(first), ip_of_limbs(last)}, c[8][i]};
    }
    return out;
}
std::vector<std::byte> encode_first_seen(const std::vector<SeenRow>& rows) {
    Columns c(9);
    for (const auto& r : rows) {
        for (unsigned k = 0; k < 4; ++k) {
            c[k].push_back(limb_of(r.range.first, k));
            c[4 + k].push_back(limb_of(r.range.last, k) - limb_of(r.range.first, k));
        }
        c[8].push_back(r.day);
    }
    for (unsigned k = 0; k < 4; ++k) delta_encode(c[k]);
    return join_columns(c);
}

std::vector<format::StrRef> read_providers(const Buffer& b) {
    const auto raw = raw_of(b, SectionKind::providers);
    REQUIRE(raw.size() % 8 == 0);
    std::vector<format::StrRef> out(raw.size() / 8);
    if (!out.empty()) std::memcpy(out.data(), raw.data(), raw.size());
    return out;
}
std::vector<format::ExclusionEntry> read_exclusions(const Buffer& b) {
    const auto raw = raw_of(b, SectionKind::exclusions);
    REQUIRE(raw.size() % 40 == 0);
    std::vector<format::ExclusionEntry> out(raw.size() / 40);
    if (!out.empty()) std::memcpy(out.data(), raw.data(), raw.size());
    return out;
}


// ---- round trip ---------------------------------------------------------------------

Expected<std::vector<std::byte>> serialize(const writer::DatabaseContent& c, bool compress) {
    writer::WriteOptions options;
    options.compress_cold = compress;
    return writer::serialize(c, options);
}

// "" when an Evidence is origin `id` of the content with its feed's fetch
// record, else what differs.
std::string evidence_diff(const Evidence& got, const writer::DatabaseContent& c, std::uint32_t id) {
    if (id >= c.origins.size()) return "no origin " + std::to_string(id);
    const auto& o = c.origins[id];
    const auto& f = c.feeds[o.feed];
    std::string d;
    auto field = [&](bool ok, const char* name) {
        if (!ok) d += std::string(d.empty() ? "" : ", ") + name;
    };
    field(got.origin == id, "origin");
    field(got.feed == o.feed, "feed");
    field(got.feed_name == f.name, "feed_name");
    field(got.url == f.url, "url");
    field(got.source == f.source, "source");
    field(got.format == f.format, "format");
    field(got.fetched_at == f.fetched_at, "fetched_at");
    field(got.sha256 == f.sha256, "sha256");
    field(got.feed_flags == f.flags, "feed_flags");
    field(got.line == o.line, "line");
    field(got.text == o.text, "text");
    field(got.categories == o.categories, "categories");
    field(got.provider == c.providers[o.provider], "provider");
    field(got.asn == o.asn, "asn");
    field(got.role == f.role, "role");
    return d.empty() ? d : "origin " + std::to_string(id) + " differs in " + d;
}
std::string contribution_diff(const Contribution& got, const writer::DatabaseContent& c, std::uint32_t id) {
    std::string d = evidence_diff(got, c, id);
    if (!d.empty() || id >= c.origins.size()) return d;
    const auto link = c.origins[id].link;
    if (got.table_row.has_value() != (link != format::kNoLink)) return "origin " + std::to_string(id) + ": table row presence";
    if (got.table_row) d = evidence_diff(*got.table_row, c, link);
    return d.empty() ? d : "table row of origin " + std::to_string(id) + ": " + d;
}

void check_result(const LookupResult& got, const Want& want, const writer::DatabaseContent& c) {
    const bool same = got.flagged == want.flagged && got.categories == want.categories &&
                      got.provider == c.providers.at(want.provider) && got.asn == want.asn;
    CHECK_MESSAGE(same, "got flagged " << got.flagged << " categories " << got.categories << " provider '" << got.provider
                                       << "' asn " << got.asn << "; want " << want.flagged << " " << want.categories
                                       << " '" << c.providers.at(want.provider) << "' " << want.asn);
}

// Answer ids of one file: equal answers have equal ids, others other ids,
// and id 0 is "not flagged".
struct IdMap {
    std::map<Want, std::uint32_t> id_of;
    std::map<std::uint32_t, Want> want_of;
    void note(const Want& w, std::uint32_t id) {
        CHECK((id == 0) == !w.flagged);
        const auto [a, fresh_a] = id_of.emplace(w, id);
        const auto [b, fresh_b] = want_of.emplace(id, w);
        CHECK_MESSAGE(a->second == id, "one answer, two ids: " << a->second << " and " << id);
        CHECK_MESSAGE(b->second == w, "id " << id << " for two answers");
    }
};

// Exclusions of the content covering `a`, in file order (FORMAT.md: sorted
// by first, last, origin, rule).
std::vector<std::tuple<Ip, Ip, std::uint32_t, std::uint32_t>> exclusions_at(const writer::DatabaseContent& c, Ip a) {
    std::vector<std::tuple<Ip, Ip, std::uint32_t, std::uint32_t>> out;
    for (const auto& x : c.exclusions)
        if (x.range.contains(a)) out.emplace_back(x.range.first, x.range.last, x.origin, x.rule);
    std::sort(out.begin(), out.end());
    return out;
}

// What lookup/locate/explain must answer for `a`.
void check_address(const Database& db, const ColdData& cold, const writer::DatabaseContent& c, const Oracle& oracle,
                   Ip a, IdMap& ids, bool brute) {
    INFO("address " << ip_text(a) << " (hi " << a.hi << ", lo " << a.lo << ")");
    const auto& piece = oracle.piece_at(a);
    if (brute) CHECK(oracle.rows_at(a) == piece.rows);  // the sweep agrees with the scan
    const Want want = oracle.answer_of(piece.rows);
    check_result(db.lookup(a), want, c);
    const Segment seg = db.locate(a);
    const auto& ws = oracle.segment_at(a);
    CHECK(ws.want == want);
    CHECK_MESSAGE(seg.range == ws.range, "segment " << format_range(seg.range) << ", want " << format_range(ws.range));
    ids.note(want, seg.answer);
    check_result(db.answer(seg.answer), want, c);

    const Explanation ex = cold.explain(a);
    const Range want_range = oracle.explain_range(a);
    CHECK_MESSAGE(ex.range == want_range, "explain range " << format_range(ex.range) << ", want " << format_range(want_range));
    CHECK(ex.segment.range == ws.range);
    CHECK(ex.segment.answer == seg.answer);
    check_result(ex.result, want, c);
    // One contribution per origin of E(A), ascending, with its row's range.
    std::map<std::uint32_t, Range> want_c;
    for (const std::uint32_t r : piece.rows) {
        const auto [it, fresh] = want_c.emplace(oracle.rows()[r].origin, oracle.rows()[r].range);
        REQUIRE_MESSAGE(fresh, "test bug: origin " << it->first << " has two rows here");
    }
    REQUIRE(ex.contributions.size() == want_c.size());
    std::size_t k = 0;
    for (const auto& [origin, range] : want_c) {
        const Contribution& got = ex.contributions[k++];
        const std::string d = contribution_diff(got, c, origin);
        CHECK_MESSAGE(d.empty(), "contribution " << k - 1 << ": " << d);
        CHECK(got.range == range);
    }
    std::vector<std::tuple<Ip, Ip, std::uint32_t, std::uint32_t>> got_x;
    for (const auto& x : ex.exclusions) {
        got_x.emplace_back(x.range.first, x.range.last, x.removed.origin, x.rule.origin);
        CHECK(x.removed.range == x.range);
        const std::string d1 = contribution_diff(x.removed, c, x.removed.origin), d2 = evidence_diff(x.rule, c, x.rule.origin);
        CHECK_MESSAGE(d1.empty(), d1);
        CHECK_MESSAGE(d2.empty(), d2);
    }
    CHECK(got_x == exclusions_at(c, a));
}

// The hot tables as this file decodes them, against the oracle's segments;
// answers numbered by first appearance along the address space, each once.
void check_hot_tables(const Buffer& b, const writer::DatabaseContent& c, const Oracle& oracle) {
    const auto answers = read_answers(b);
    REQUIRE(!answers.empty());
    auto want_of = [&](std::uint32_t id) {
        REQUIRE(id < answers.size());
        const auto& a = answers[id];
        Want w{id != 0, a.categories, 0, a.asn};
        if (a.provider.offset != 0 || a.provider.length != 0) {
            const std::string name = string_at(b, a.provider);
            const auto it = std::find(c.providers.begin() + 1, c.providers.end(), name);
            CHECK_MESSAGE(it != c.providers.end(), "answer " << id << ": provider '" << name << "' unknown");
            if (it != c.providers.end()) w.provider = static_cast<std::uint32_t>(it - c.providers.begin());
        }
        return w;
    };
    CHECK(want_of(0) == Want{});
    const HotTable v4 = read_table(b, true), v6 = read_table(b, false);
    std::vector<Oracle::Seg> want6 = oracle.zone(0);
    want6.push_back({{kV4First, kV4Last}, Want{}});
    want6.insert(want6.end(), oracle.zone(2).begin(), oracle.zone(2).end());
    REQUIRE(v4.starts.size() == oracle.zone(1).size());
    REQUIRE(v6.starts.size() == want6.size());
    // want_of() for every id once, then the segments against the oracle.
    std::vector<Want> wants;
    for (std::uint32_t id = 0; id < answers.size(); ++id) wants.push_back(want_of(id));
    auto first_bad = [&](const HotTable& t, const std::vector<Oracle::Seg>& want) {
        for (std::size_t i = 0; i < t.starts.size(); ++i)
            if (t.starts[i] != want[i].range.first || t.ids[i] >= wants.size() || wants[t.ids[i]] != want[i].want) return i;
        return t.starts.size();
    };
    const std::size_t bad4 = first_bad(v4, oracle.zone(1)), bad6 = first_bad(v6, want6);
    CHECK_MESSAGE(bad4 == v4.starts.size(), "IPv4 segment " << bad4 << " differs from the oracle's");
    CHECK_MESSAGE(bad6 == v6.starts.size(), "IPv6 segment " << bad6 << " differs from the oracle's");
    std::size_t mapped = want6.size();
    for (std::size_t i = 0; i < v6.starts.size(); ++i)
        if (v6.starts[i] == kV4First) mapped = i;
    REQUIRE(mapped < v6.ids.size());
    CHECK(v6.ids[mapped] == 0);
    // Answers in order of first appearance: IPv6 below the block, the
    // IPv4 table, IPv6 above it; each used, none twice.
    std::vector<std::uint32_t> along(v6.ids.begin(), v6.ids.begin() + static_cast<std::ptrdiff_t>(mapped));
    along.insert(along.end(), v4.ids.begin(), v4.ids.end());
    along.insert(along.end(), v6.ids.begin() + static_cast<std::ptrdiff_t>(mapped) + 1, v6.ids.end());
    std::uint32_t next_new = 1;
    bool in_order = true;
    std::vector<bool> seen(answers.size());
    for (const std::uint32_t id : along) {
        if (id == 0 || id >= seen.size() || seen[id]) continue;
        seen[id] = true;
        in_order = in_order && id == next_new;
        ++next_new;
    }
    CHECK(in_order);
    CHECK(next_new == answers.size());
    const std::set<Want> distinct(wants.begin() + 1, wants.end());
    CHECK(distinct.size() == answers.size() - 1);
    // Index widths: any b in the family's range is valid; which one is the
    // writer's choice (FORMAT.md, Lookup algorithm, gives floor(log2(n4))
    // for the measured file; the writer takes one bit less). Not more
    // buckets than starts, unless at the minimum.
    CHECK((v4.bits >= 16 && v4.bits <= 24 && v6.bits >= 8 && v6.bits <= 24));
    CHECK((v4.bits == 16 || (std::size_t{1} << v4.bits) <= v4.starts.size()));
    CHECK((v6.bits == 8 || (std::size_t{1} << v6.bits) <= v6.starts.size()));
}

// The cold sections as this file decodes them (column tables by FORMAT.md's
// codings, zstd by libzstd), against the content.
void check_cold_tables(const Buffer& b, const writer::DatabaseContent& c, const Oracle& oracle) {
    if (c.first_seen) {  // read with this file's own coder
        const auto seen = decode_first_seen(raw_of(b, SectionKind::first_seen));
        REQUIRE(seen.size() == c.first_seen->size());
        bool same = true;
        for (std::size_t i = 0; i < seen.size(); ++i)
            same = same && seen[i].range == (*c.first_seen)[i].range && seen[i].day == (*c.first_seen)[i].day;
        CHECK(same);
    }
    const auto providers = read_providers(b);
    REQUIRE(providers.size() == c.providers.size());
    CHECK(providers[0].length == 0);
    for (std::size_t i = 0; i < providers.size(); ++i) CHECK(string_at(b, providers[i]) == c.providers[i]);

    const auto text = raw_of(b, SectionKind::origin_text);
    const auto origins = decode_origins(raw_of(b, SectionKind::origins));
    REQUIRE(origins.size() == c.origins.size());
    std::size_t bad = origins.size();
    for (std::size_t i = 0; i < origins.size() && bad == origins.size(); ++i) {
        const auto& got = origins[i];
        const auto& o = c.origins[i];
        const bool ok = got.feed == o.feed && got.line == o.line && got.categories == o.categories &&
                        got.provider == o.provider && got.asn == o.asn && got.link == o.link &&
                        std::uint64_t{got.text_offset} + got.text_length <= text.size() &&
                        std::string_view(reinterpret_cast<const char*>(text.data()) + got.text_offset, got.text_length) == o.text;
        if (!ok) bad = i;
    }
    CHECK_MESSAGE(bad == origins.size(), "origin " << bad << " decodes to another row");
    const auto evidence = decode_evidence(raw_of(b, SectionKind::evidence));
    REQUIRE(evidence.size() == oracle.rows().size());
    bad = evidence.size();
    for (std::size_t i = 0; i < evidence.size() && bad == evidence.size(); ++i) {
        const Row& want = oracle.rows()[i];
        if (!(evidence[i] == EvidenceRow{c.origins[want.origin].feed, want.origin, want.range})) bad = i;
    }
    CHECK_MESSAGE(bad == evidence.size(), "evidence row " << bad << " decodes to another row");
    const auto exclusions = read_exclusions(b);
    auto key = [](const format::ExclusionEntry& x) {
        return std::tuple(Ip{x.first.hi, x.first.lo}, Ip{x.last.hi, x.last.lo}, x.origin, x.rule);
    };
    std::vector<std::tuple<Ip, Ip, std::uint32_t, std::uint32_t>> got_x, want_x;
    for (const auto& x : exclusions) got_x.push_back(key(x));
    for (const auto& x : c.exclusions) want_x.emplace_back(x.range.first, x.range.last, x.origin, x.rule);
    std::sort(want_x.begin(), want_x.end());
    CHECK(got_x == want_x);
    const auto meta = raw_of(b, SectionKind::metadata);
    CHECK(std::string_view(reinterpret_cast<const char*>(meta.data()), meta.size()) == c.metadata_json);
}

struct TripOptions {
    std::size_t random_probes = 40;
    std::size_t row_probes = 1000;   // rows whose edges are probed (all when fewer)
    std::size_t many_probes = 5000;  // addresses for lookup_many / locate_many
    std::size_t subsets = 20;        // random row sets for answer_of
    bool brute = true;               // cross-check E(A) by a scan of every row
};

void check_round_trip(const writer::DatabaseContent& c, bool compress, Rng& rng, const TripOptions& opt = {}) {
    auto bytes = serialize(c, compress);
    REQUIRE_MESSAGE(bytes, bytes.error().message);
    const Buffer buf(*bytes);
    auto db = Database::from_bytes(buf.bytes());
    REQUIRE_MESSAGE(db, db.error().message);
    const Oracle oracle(c);

    const auto& h = db->header();
    CHECK(std::memcmp(h.magic, "\x89" "ANONDB\n", 8) == 0);
    CHECK(h.major == 2);
    CHECK(h.minor == format::kMinor);
    CHECK(h.header_size == 64);
    CHECK(h.section_entry_size == 48);
    CHECK(h.section_table_offset == 64);
    CHECK(h.file_size == buf.size());
    CHECK(h.build_time == c.build_time);
    CHECK(h.data_version == c.data_version);

    std::set<std::tuple<std::uint32_t, std::uint32_t, std::uint32_t>> distinct;
    for (const auto& r : c.ranges) distinct.insert({r.categories, r.provider, r.asn});
    CHECK(db->answer_count() == distinct.size() + 1);
    CHECK(db->answer_count() == oracle.flagged_answers().size() + 1);
    CHECK(db->provider_count() == c.providers.size());
    CHECK(db->v4_segment_count() == oracle.v4_segments());
    CHECK(db->v6_segment_count() == oracle.v6_segments());
    REQUIRE(db->feeds().size() == c.feeds.size());
    for (std::size_t i = 0; i < c.feeds.size(); ++i) {
        const auto& fe = db->feeds()[i];
        const auto& f = c.feeds[i];
        INFO("feed " << i);
        CHECK(db->string(fe.name) == f.name);
        CHECK(db->string(fe.url) == f.url);
        CHECK(db->string(fe.source) == f.source);
        CHECK(db->string(fe.format) == f.format);
        CHECK((fe.categories == f.categories && fe.provider == f.provider && fe.fetched_at == f.fetched_at &&
               fe.bytes == f.bytes && fe.accepted == f.accepted && fe.rejected == f.rejected && fe.flags == f.flags));
        CHECK(std::memcmp(fe.sha256, f.sha256.data(), 32) == 0);
        CHECK(fe.role == static_cast<std::uint32_t>(f.role));
        CHECK(fe.asn_table == f.asn_table);
        CHECK((fe.reserved[0] == 0 && fe.reserved[1] == 0 && fe.reserved[2] == 0));
    }
    // Sections: kinds 1..15, and 17 (first_seen) when the content has
    // first-seen days (16 is a signature), in kind order, aligned, hot ones
    // raw; cold ones compressed only when asked (and only when that is
    // smaller).
    const auto table = table_of(buf);
    REQUIRE(table.size() == (c.first_seen ? 16u : 15u));
    for (std::uint32_t i = 1; i <= table.size(); ++i) {
        const auto& s = table[i - 1];
        const std::uint32_t k = i <= 15 ? i : 17;
        INFO("section " << format::section_name(k));
        CHECK(s.kind == k);
        CHECK(s.offset % 64 == 0);
        CHECK(s.reserved == 0);
        CHECK(s.checksum == XXH64(buf.data() + s.offset, s.stored_size, 0));
        if (k <= 9 || !compress) CHECK(s.encoding == 0);
        if (s.encoding == 0) CHECK(s.raw_size == s.stored_size);
        else CHECK(s.stored_size < s.raw_size);
    }
    // Padding is zero.
    bool padding_zero = true;
    for (std::size_t i = 0; i + 1 < table.size(); ++i)
        for (std::uint64_t p = table[i].offset + table[i].stored_size; p < table[i + 1].offset; ++p)
            padding_zero = padding_zero && buf.data()[p] == std::byte{0};
    CHECK(padding_zero);
    CHECK(db->v4_index_bits() == index_bits_of(entry(buf, SectionKind::v4_index).raw_size, 16));
    CHECK(db->v6_index_bits() == index_bits_of(entry(buf, SectionKind::v6_index).raw_size, 8));
    const unsigned w = id_width(db->answer_count());
    CHECK(entry(buf, SectionKind::v4_answers).raw_size == std::uint64_t{db->v4_segment_count()} * w + 4 - w);
    CHECK(entry(buf, SectionKind::v6_answers).raw_size == std::uint64_t{db->v6_segment_count()} * w + 4 - w);
    check_hot_tables(buf, c, oracle);
    check_cold_tables(buf, c, oracle);

    auto cold = ColdData::load(*db);
    REQUIRE_MESSAGE(cold, cold.error().message);
    CHECK(cold->metadata_json() == c.metadata_json);
    CHECK(cold->origin_count() == c.origins.size());
    REQUIRE(cold->evidence_count() == oracle.rows().size());
    std::size_t bad_row = oracle.rows().size();
    for (std::uint32_t i = 0; i < oracle.rows().size() && bad_row == oracle.rows().size(); ++i)
        if (!(cold->row_range(i) == oracle.rows()[i].range && cold->origin_of_row(i) == oracle.rows()[i].origin)) bad_row = i;
    CHECK_MESSAGE(bad_row == oracle.rows().size(), "evidence row " << bad_row << " out of evidence order or wrong");
    std::string bad_origin;
    for (std::uint32_t o = 0; o < c.origins.size() && bad_origin.empty(); ++o) {
        bad_origin = evidence_diff(cold->evidence(o), c, o);
        if (bad_origin.empty()) bad_origin = contribution_diff(cold->contribution(o), c, o);
    }
    CHECK_MESSAGE(bad_origin.empty(), bad_origin);
    for (std::uint32_t p = 0; p < c.providers.size(); ++p) CHECK(cold->provider_name(p) == c.providers[p]);
    CHECK(cold->provider_name(static_cast<std::uint32_t>(c.providers.size())).empty());
    auto verified = verify(*db);
    CHECK_MESSAGE(verified.has_value(), (verified ? "" : verified.error().message));

    // Probes: the model's edges, every row's and range's edges and
    // neighbours, points inside rows, random points.
    std::vector<Ip> probes(kEdges.begin(), kEdges.end());
    auto near_range = [&](Range r) {
        probes.push_back(r.first);
        probes.push_back(r.last);
        if (r.first != kIpMin) probes.push_back(ip_prev(r.first));
        if (r.last != kIpMax) probes.push_back(ip_next(r.last));
        probes.push_back(to_ip(to_u128(r.first) + rand_upto(rng, width_of(r))));
    };
    const auto& rows = oracle.rows();
    for (std::size_t i = 0; i < rows.size(); ++i)
        if (rows.size() <= opt.row_probes || below(rng, rows.size()) < opt.row_probes) near_range(rows[i].range);
    for (std::size_t i = 0; i < c.ranges.size(); ++i)
        if (c.ranges.size() <= opt.row_probes || below(rng, c.ranges.size()) < opt.row_probes) near_range(c.ranges[i].range);
    const std::uint32_t cluster = rows.empty() ? 0 : rows[0].range.first.v4();
    for (std::size_t i = 0; i < opt.random_probes; ++i) probes.push_back(random_point(rng, cluster));
    IdMap ids;
    for (Ip a : probes) check_address(*db, *cold, c, oracle, a, ids, opt.brute);

    // A deferred open answers the same, and verify() passes on it.
    {
        auto deferred = Database::from_bytes(buf.bytes(), {OpenChecks::deferred});
        REQUIRE_MESSAGE(deferred, deferred.error().message);
        bool same = true;
        for (Ip a : probes) {
            const Segment s1 = db->locate(a), s2 = deferred->locate(a);
            const LookupResult r1 = db->lookup(a), r2 = deferred->lookup(a);
            same = same && s1.range == s2.range && s1.answer == s2.answer && r1.flagged == r2.flagged &&
                   r1.categories == r2.categories && r1.provider == r2.provider && r1.asn == r2.asn;
        }
        CHECK(same);
        auto v = verify(*deferred);
        CHECK_MESSAGE(v.has_value(), (v ? "" : v.error().message));
    }

    // lookup_many / locate_many agree with single calls, in calls of every
    // size around the two prefetch distances (IPv4 and IPv6 mixed).
    std::shuffle(probes.begin(), probes.end(), rng);
    if (probes.size() > opt.many_probes) probes.resize(opt.many_probes);
    constexpr std::size_t A = Database::kLookupAhead;
    for (const std::size_t chunk : {std::size_t{1}, A - 1, A, A + 1, 2 * A - 1, 2 * A, 2 * A + 1, 3 * A + 2, probes.size()}) {
        std::vector<LookupResult> many(probes.size());
        std::vector<Segment> segs(probes.size());
        for (std::size_t at = 0; at < probes.size(); at += chunk) {
            const std::size_t k = std::min(chunk, probes.size() - at);
            db->lookup_many(std::span(probes.data() + at, k), std::span(many.data() + at, k));
            db->locate_many(std::span(probes.data() + at, k), std::span(segs.data() + at, k));
        }
        std::size_t bad = probes.size();
        for (std::size_t i = 0; i < probes.size() && bad == probes.size(); ++i) {
            const LookupResult one = db->lookup(probes[i]);
            const Segment seg = db->locate(probes[i]);
            if (!(many[i].flagged == one.flagged && many[i].categories == one.categories && many[i].provider == one.provider &&
                  many[i].asn == one.asn && segs[i].range == seg.range && segs[i].answer == seg.answer))
                bad = i;
        }
        CHECK_MESSAGE(bad == probes.size(), "groups of " << chunk << ": address " << (bad < probes.size() ? ip_text(probes[bad]) : ""));
    }
    db->lookup_many({}, {});  // nothing to do, nothing touched
    db->locate_many({}, {});
    if (!probes.empty()) {  // the shorter span bounds the work
        std::vector<LookupResult> one(1);
        db->lookup_many(probes, one);
        check_result(one[0], oracle.answer_at(probes[0]), c);
        std::vector<Segment> two(probes.size() + 3, Segment{{kIpMax, kIpMax}, 7});
        db->locate_many(std::span(probes.data(), 1), two);
        CHECK(two[0].range == oracle.segment_at(probes[0]).range);
        CHECK(two[1].answer == 7);  // untouched
    }

    // for_each_piece: exactly the oracle's pieces, in order; answer_of of
    // each piece's rows is the oracle's answer there.
    std::vector<Oracle::Piece> got;
    cold->for_each_piece([&](const Piece& p) { got.push_back({p.range, {p.rows.begin(), p.rows.end()}}); });
    const auto& want = oracle.pieces();
    CHECK(got.size() == want.size());
    CHECK((!got.empty() && got.front().range.first == kIpMin && got.back().range.last == kIpMax));
    std::size_t bad_piece = got.size();
    for (std::size_t i = 0; i < got.size() && bad_piece == got.size(); ++i) {
        bool ok = i < want.size() && got[i].range == want[i].range && got[i].rows == want[i].rows;
        if (i > 0) ok = ok && got[i].range.first == ip_next(got[i - 1].range.last) && got[i].rows != got[i - 1].rows;
        if (!ok) bad_piece = i;
    }
    CHECK_MESSAGE(bad_piece == got.size(), "piece " << bad_piece << ": "
                                                    << (bad_piece < got.size() ? format_range(got[bad_piece].range) : ""));
    if (opt.brute) {  // each piece's rows are E(A), by the scan, at both its ends
        std::size_t bad_ends = got.size();
        for (std::size_t i = 0; i < got.size() && bad_ends == got.size(); ++i)
            if (oracle.rows_at(got[i].range.first) != got[i].rows || oracle.rows_at(got[i].range.last) != got[i].rows) bad_ends = i;
        CHECK_MESSAGE(bad_ends == got.size(), "piece " << bad_ends << ": rows differ from E at its ends");
    }
    bool answers_ok = true;
    for (const auto& p : got) {
        const LookupResult r = cold->answer_of(p.rows);
        const Want w = oracle.answer_of(p.rows);
        answers_ok = answers_ok && r.flagged == w.flagged && r.categories == w.categories &&
                     r.provider == c.providers[w.provider] && r.asn == w.asn;
    }
    CHECK(answers_ok);
    for (std::size_t i = 0; i < opt.subsets && !rows.empty(); ++i) {
        std::set<std::uint32_t> pick;
        for (std::size_t k = 0, n = below(rng, 8); k < n; ++k) pick.insert(static_cast<std::uint32_t>(below(rng, rows.size())));
        const std::vector<std::uint32_t> subset(pick.begin(), pick.end());
        check_result(cold->answer_of(subset), oracle.answer_of(subset), c);
    }
}

// ---- a small database ------------------------------------------------------------

// Two range feeds, an ASN table, an ASN list expanded through it and an
// exclusion list; texts repetitive enough that zstd shrinks the cold
// sections. The answers are worked out by hand in the C API test.
void small_content(Generated& g) {
    auto& c = g.content;
    c.build_time = 1767225600;
    c.data_version = 7;
    c.providers = {"", "Example Hosting", "Example VPN"};  // byte order
    writer::FeedInfo tor;
    tor.name = "tor-sample";
    tor.url = "https://example.org/exit-addresses";
    tor.source = "data/snapshot/tor/exit-addresses";
    tor.format = "tor-exit-addresses";
    tor.categories = kTorExit;
    tor.fetched_at = 1710252000;
    tor.bytes = 4096;
    tor.accepted = 2;
    tor.sha256[0] = 0xab;
    tor.flags = format::kFeedSnapshot;
    writer::FeedInfo host;
    host.name = "hosting-sample";
    host.url = "https://example.net/ranges.csv";
    host.source = "https://example.net/ranges.csv";
    host.format = "geofeed";
    host.categories = kHosting | kVpn;
    host.provider = 1;
    host.fetched_at = 1700000000;
    host.accepted = 38;
    host.sha256[31] = 0xcd;
    writer::FeedInfo table, list, rules;
    table.name = "asn-table";
    table.format = "libloc";
    table.role = format::FeedRole::asn_table;
    list.name = "provider-list";
    list.format = "provider-asns";
    list.role = format::FeedRole::asn_list;
    list.asn_table = 3;  // feed 2, + 1
    list.categories = kVpn;
    list.provider = 2;
    rules.name = "exclusions";
    rules.format = "exclusions";
    rules.role = format::FeedRole::exclusions;
    c.feeds = {tor, host, table, list, rules};

    g.add_origin(0, 4, kTorExit, 0, "ExitAddress 10.0.0.7 2024-03-12 14:02:58");  // 0
    g.add_origin(0, 8, kTorExit, 0, "ExitAddress 10.0.2.9 2024-03-12 14:02:58");  // 1
    for (std::uint32_t i = 0; i < 38; ++i)                                          // 2..39
        g.add_origin(1, 10 + i, kHosting, i % 3 == 0 ? 2 : 1,
                     "192.0.2.0/24,ZZ,ZZ-ZZ,Example City,repeated text that compresses well " + std::to_string(i % 4));
    g.add_origin(2, 0, 0, 0, "2001:db8::/32 AS64500", 64500);      // 40: table rows
    g.add_origin(2, 0, 0, 0, "198.51.100.0/24 AS64501", 64501);    // 41
    g.add_origin(3, 5, kVpn, 2, "Example VPN,vpn,AS64500,https://example.org/evidence", 64500, 40);  // 42: derived
    g.add_origin(3, 6, kVpn, 2, "Example VPN,vpn,AS64501,https://example.org/evidence", 64501, 41);  // 43
    g.add_origin(4, 3, 0, 0, "prefix,2001:db8:1::/48,office users,https://example.org/why");       // 44: rule

    g.add_row("10.0.0.7", 0);
    g.add_row("10.0.2.9", 1);
    g.add_row("10.0.0.0/24", 2);         // Example VPN
    g.add_row("192.0.2.0/24", 3);        // Example Hosting
    g.add_row("192.0.2.0/24", 4);        // Example Hosting, the same range
    g.add_row("192.0.2.128/25", 5);      // Example VPN, narrower
    g.add_row("198.51.100.0/23", 6);     // Example Hosting, direct and wider than...
    g.add_row("198.51.100.0/24", 43);    // ...Example VPN, ASN-derived
    g.add_row("2001:db8::/48", 42);      // the /32 less the excluded /48
    g.add_row("2001:db8:2::-2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", 42);
    g.add_row("2001:db9::-2001:db9::ff", 7);    // Example Hosting
    g.add_row("2001:db9::80-2001:db9::17f", 8);  // Example VPN, as wide: the lower provider index wins
    g.add_row(Range{Ip::from_v4(0xffffff00u), ip_add(kV4Last, 0x100)}, 9);  // across the block's upper edge
    for (std::uint32_t k = 0; k < 30; ++k)  // touching rows: 100.64.k.0/24
        g.add_row(Range{Ip::from_v4(0x64400000u + (k << 8)), Ip::from_v4(0x64400000u + (k << 8) + 255)}, 10 + k);
    c.exclusions = {{range_of("2001:db8:1::/48"), 42, 44}};
    c.metadata_json = "{\"generator\":\"test_format\",\"note\":\"" + std::string(400, 'm') + "\"}";
    merge_ranges(c);
    // First-seen days (2.2): a previous build's day over part of the touching rows.
    const writer::FirstSeenInfo previous[] = {{range_of("100.64.0.0/22"), 19000}};
    c.first_seen = builder::first_seen_rows(c, previous);
}

Buffer small_db(bool compress) {
    Generated g;
    small_content(g);
    auto bytes = serialize(g.content, compress);
    REQUIRE_MESSAGE(bytes, bytes.error().message);
    return Buffer(*bytes);
}

// Addresses worth looking up in the small database: each row's ends and
// neighbours, the zone edges, and some random ones.
std::vector<Ip> small_probes() {
    Generated g;
    small_content(g);
    std::vector<Ip> out(kEdges.begin(), kEdges.end());
    for (const auto& r : g.content.evidence) {
        out.push_back(r.range.first);
        out.push_back(r.range.last);
        out.push_back(ip_prev(r.range.first));
        out.push_back(ip_next(r.range.last));
    }
    Rng rng(99);
    for (int i = 0; i < 40; ++i) out.push_back(random_point(rng, 0x0a000000));
    return out;
}

struct Seen {
    std::uint32_t answer;
    bool flagged;
    std::uint32_t categories;
    std::string provider;
    std::uint32_t asn;
    Range range;
    friend bool operator==(const Seen&, const Seen&) = default;
};
std::vector<Seen> answers(const Database& db, const std::vector<Ip>& probes) {
    std::vector<Seen> out;
    for (Ip a : probes) {
        const auto r = db.lookup(a);
        const Segment s = db.locate(a);
        out.push_back({s.answer, r.flagged, r.categories, std::string(r.provider), r.asn, s.range});
    }
    return out;
}

// Everything a caller may do with an opened file. Whatever the bytes, none of
// it may crash or read outside the file (the sanitizer job checks).
void exercise(const Database& db, const std::vector<Ip>& probes) {
    // What a full open proves (ids in range) holds only if the bytes pass
    // one: `db` may have been opened with OpenChecks::deferred.
    const bool proved = Database::from_bytes(db.file_bytes()).has_value();
    std::vector<LookupResult> many(probes.size());
    db.lookup_many(probes, many);
    std::vector<Segment> segs(probes.size());
    db.locate_many(probes, segs);
    for (std::size_t i = 0; i < probes.size(); ++i) {
        const Ip a = probes[i];
        const LookupResult r = db.lookup(a);
        const Segment s = db.locate(a);
        CHECK(s.range.contains(a));
        if (proved) CHECK(s.answer < db.answer_count());
        CHECK((many[i].flagged == r.flagged && many[i].categories == r.categories && many[i].provider == r.provider &&
               many[i].asn == r.asn && segs[i].answer == s.answer && segs[i].range == s.range));
        (void)db.answer(s.answer).provider.size();
    }
    for (std::uint32_t id : {db.answer_count(), db.answer_count() + 1, ~0u}) CHECK_FALSE(db.answer(id).flagged);
    // A walk over every segment, as exports do, moves forward and ends
    // within a step per segment or per bucket, whatever the starts say.
    {
        const std::uint64_t cap = std::uint64_t{db.v4_segment_count()} + db.v6_segment_count() +
                                  (std::uint64_t{1} << db.v4_index_bits()) + (std::uint64_t{1} << db.v6_index_bits()) + 2;
        std::uint64_t steps = 0;
        for (Ip at = kIpMin; steps <= cap; ++steps) {
            const Segment seg = db.locate(at);
            REQUIRE(seg.range.contains(at));
            if (seg.range.last == kIpMax) break;
            at = ip_next(seg.range.last);
        }
        CHECK(steps <= cap);
    }
    for (const auto& f : db.feeds()) (void)(db.string(f.name).size() + db.string(f.url).size() + db.string(f.source).size());
    auto cold = ColdData::load(db);
    if (cold) {
        (void)cold->metadata_json().size();
        for (std::uint32_t p = 0; p <= db.provider_count(); ++p) (void)cold->provider_name(p).size();
        for (std::uint32_t o = 0; o < cold->origin_count(); ++o) {
            const Contribution c = cold->contribution(o);
            (void)(c.text.size() + c.feed_name.size() + c.provider.size() + (c.table_row ? c.table_row->text.size() : 0));
        }
        for (Ip a : probes) {
            const Explanation ex = cold->explain(a);
            CHECK(ex.range.contains(a));
            for (const auto& c : ex.contributions) (void)(c.text.size() + c.feed_name.size() + c.provider.size());
            for (const auto& x : ex.exclusions) (void)(x.rule.text.size() + x.removed.text.size());
        }
        std::size_t pieces = 0;
        cold->for_each_piece([&](const Piece& p) {
            ++pieces;
            (void)cold->answer_of(p.rows).provider.size();
            for (const std::uint32_t r : p.rows) (void)(cold->row_range(r).first.hi + cold->origin_of_row(r));
        });
        CHECK(pieces >= 1);
    }
    (void)verify(db);
}

void expect_open_error(const Buffer& b, Status status, std::initializer_list<std::string_view> words,
                       const std::vector<Ip>& probes = small_probes()) {
    auto check = [&](const Error& e, const char* where) {
        INFO(where);
        CHECK_MESSAGE(e.status == status, "status " << static_cast<int>(e.status) << ": " << e.message);
        for (auto w : words) CHECK_MESSAGE(contains(e.message, w), "'" << w << "' not in: " << e.message);
    };
    auto db = Database::from_bytes(b.bytes());
    REQUIRE_MESSAGE(!db.has_value(), "the file opened");
    check(db.error(), "open");
    // A deferred open refuses the file too (the checks it keeps may find
    // something else first), or opens it safe to use, and then verify()
    // gives the error a full open gives.
    auto deferred = Database::from_bytes(b.bytes(), {OpenChecks::deferred});
    if (!deferred) {
        CHECK(deferred.error().status != Status::ok);
        CHECK_FALSE(deferred.error().message.empty());
        return;
    }
    exercise(*deferred, probes);
    auto v = verify(*deferred);
    REQUIRE_MESSAGE(!v.has_value(), "verify passed a file open refuses");
    check(v.error(), "verify after a deferred open");
}

// Opens in both modes (must), then ColdData::load and verify() must both fail so.
void expect_cold_error(const Buffer& b, Status status, std::initializer_list<std::string_view> words) {
    auto db = Database::from_bytes(b.bytes());
    REQUIRE_MESSAGE(db, db.error().message);
    REQUIRE(Database::from_bytes(b.bytes(), {OpenChecks::deferred}));
    auto cold = ColdData::load(*db);
    REQUIRE_MESSAGE(!cold.has_value(), "cold sections loaded");
    auto v = verify(*db);
    REQUIRE_FALSE(v.has_value());
    for (const Error* e : {&cold.error(), &v.error()}) {
        CHECK_MESSAGE(e->status == status, "status " << static_cast<int>(e->status) << ": " << e->message);
        for (auto w : words) CHECK_MESSAGE(contains(e->message, w), "'" << w << "' not in: " << e->message);
    }
    exercise(*db, small_probes());
}

// Opens fully, cold sections load, lookups keep working, but verify()
// finds that the hot sections do not answer what the evidence gives.
void expect_verify_error(const Buffer& b, std::initializer_list<std::string_view> words) {
    auto db = Database::from_bytes(b.bytes());
    REQUIRE_MESSAGE(db, db.error().message);
    REQUIRE(ColdData::load(*db));
    auto v = verify(*db);
    REQUIRE_MESSAGE(!v.has_value(), "verify passed");
    CHECK(v.error().status == Status::corrupt);
    for (auto w : words) CHECK_MESSAGE(contains(v.error().message, w), "'" << w << "' not in: " << v.error().message);
    exercise(*db, small_probes());
}

}  // namespace

// ---- XXH64 ------------------------------------------------------------------------

TEST_CASE("xxh64: the reader's copy agrees with libxxhash") {
    // Published test vector of the xxHash specification: XXH64 of no bytes, seed 0.
    CHECK(detail::xxh64("", 0) == 0xEF46DB3751D8E999ull);
    Rng rng(1);
    std::vector<unsigned char> data(300 + 8);
    for (std::size_t len = 0; len <= 300; ++len) {
        for (std::size_t shift = 0; shift < 4; ++shift) {  // unaligned starts too
            for (auto& b : data) b = static_cast<unsigned char>(rng());
            const unsigned char* p = data.data() + shift;
            INFO("length " << len << ", start offset " << shift);
            CHECK(detail::xxh64(p, len) == XXH64(p, len, 0));
        }
    }
    for (std::size_t len : {std::size_t{1} << 16, (std::size_t{1} << 20) + 13, std::size_t{3'000'001}}) {
        std::vector<unsigned char> big(len);
        for (auto& b : big) b = static_cast<unsigned char>(rng());
        INFO("length " << len);
        CHECK(detail::xxh64(big.data(), len) == XXH64(big.data(), len, 0));
    }
}

// ---- column codings ------------------------------------------------------------------

TEST_CASE("column codings: this file's coders follow FORMAT.md, and read a writer's tables back to the content") {
    SUBCASE("known answers: Δ, Δfeed and last minus first, modulo 2^32") {
        // Origins of feeds 1, 0, 1, 0 on lines 10, 5, 7, 2: line is Δfeed.
        std::vector<OriginRow> rows = {{1, 10, 2, 0, 0, 4, 0, format::kNoLink},
                                       {0, 5, 4, 1, 4, 3, 0, format::kNoLink},
                                       {1, 7, 2, 0, 7, 1, 64500, 3},
                                       {0, 2, 0, 0, 8, 0, 0, format::kNoLink}};
        const auto bytes = encode_origins(rows);
        REQUIRE(bytes.size() == 4 * 8 * 4);
        const Columns c = split_columns(bytes, 8);
        CHECK(c[0] == std::vector<std::uint32_t>{1, 0, 1, 0});
        CHECK(c[1] == std::vector<std::uint32_t>{10, 5, 0xfffffffdu, 0xfffffffdu});   // 7 - 10, 2 - 5
        CHECK(c[4] == std::vector<std::uint32_t>{0, 4, 7, 4});                        // text offsets per feed
        CHECK(c[7] == std::vector<std::uint32_t>{0xffffffffu, 0xffffffffu, 4, 0});   // links: 3 - kNoLink, kNoLink - kNoLink
        CHECK(c[6] == std::vector<std::uint32_t>{0, 0, 64500, 0});                    // not coded
        CHECK(decode_origins(bytes) == rows);
        // Evidence: first limbs Δ each (down the whole table), last limbs
        // minus the row's own first limbs, origin Δfeed.
        const std::vector<EvidenceRow> ev = {{0, 3, range_of("10.0.0.0/24")},
                                             {1, 1, range_of("10.0.0.0/25")},
                                             {0, 2, range_of("2001:db8::/32")}};
        const auto eb = encode_evidence(ev);
        REQUIRE(eb.size() == 3 * 10 * 4);
        const Columns e = split_columns(eb, 10);
        CHECK(e[1] == std::vector<std::uint32_t>{3, 1, 0xffffffffu});  // 2 - 3 within feed 0
        CHECK(e[2] == std::vector<std::uint32_t>{0, 0, 0x20010db8u});
        CHECK(e[3] == std::vector<std::uint32_t>{0, 0, 0});
        CHECK(e[4] == std::vector<std::uint32_t>{0xffff, 0, 0xffff0001u});  // 0 - 0xffff
        CHECK(e[5] == std::vector<std::uint32_t>{0x0a000000u, 0, 0xf6000000u});
        CHECK(e[6] == std::vector<std::uint32_t>{0, 0, 0});
        CHECK(e[7] == std::vector<std::uint32_t>{0, 0, 0xffffffffu});
        CHECK(e[8] == std::vector<std::uint32_t>{0, 0, 0xffffffffu});
        CHECK(e[9] == std::vector<std::uint32_t>{255, 127, 0xffffffffu});
        CHECK(decode_evidence(eb) == ev);
    }
    SUBCASE("a writer's tables, raw and compressed, are exactly these codings of the content") {
        Generated g;
        small_content(g);
        const Oracle oracle(g.content);
        const Buffer raw = small_db(false), packed = small_db(true);
        for (const Buffer* b : {&raw, &packed}) {
            check_cold_tables(*b, g.content, oracle);
            // Byte for byte: re-encoding what was decoded gives the stored bytes.
            const auto ob = raw_of(*b, SectionKind::origins);
            CHECK(encode_origins(decode_origins(ob)) == ob);
            std::vector<EvidenceRow> rows;
            for (const Row& r : oracle.rows()) rows.push_back({g.content.origins[r.origin].feed, r.origin, r.range});
            CHECK(encode_evidence(rows) == raw_of(*b, SectionKind::evidence));
            for (auto kind : {SectionKind::providers, SectionKind::origins, SectionKind::origin_text, SectionKind::evidence,
                              SectionKind::exclusions, SectionKind::metadata})
                CHECK(raw_of(*b, kind) == raw_of(raw, kind));
        }
        for (auto kind : {SectionKind::origins, SectionKind::origin_text, SectionKind::evidence, SectionKind::metadata}) {
            INFO(kind_name(kind));
            CHECK(entry(packed, kind).encoding == static_cast<std::uint32_t>(format::Encoding::zstd));
            CHECK(entry(packed, kind).stored_size < entry(packed, kind).raw_size);
        }
    }
}

// ---- round trips ---------------------------------------------------------------------

TEST_CASE("round trip: random contents against a brute-force oracle") {
    Rng rng(20261101);
    const int rounds = 100 * kScale;
    std::size_t rows = 0, ranges = 0, exclusions = 0, derived = 0;
    for (int i = 0; i < rounds; ++i) {
        Generated g;
        generate(rng, g);
        rows += g.content.evidence.size();
        ranges += g.content.ranges.size();
        exclusions += g.content.exclusions.size();
        for (const auto& o : g.content.origins) derived += o.link != format::kNoLink;
        // Half the contents with first-seen days (format 2.2).
        if (i % 2) g.content.first_seen = builder::first_seen_rows(g.content, {});
        for (bool compress : {true, false}) {
            INFO("round " << i << ", compress_cold " << compress << ", " << g.content.evidence.size() << " rows, "
                          << g.content.ranges.size() << " ranges");
            check_round_trip(g.content, compress, rng);
        }
    }
    MESSAGE(rounds << " contents: " << rows << " evidence rows, " << ranges << " ranges, " << derived
                   << " linked origins, " << exclusions << " exclusions");
    CHECK(rows > 0);
    CHECK(derived > 0);
}

TEST_CASE("round trip: hand-picked edges of the address model") {
    Rng rng(7);
    struct Case {
        const char* name;
        std::vector<Range> rows;
    };
    const std::vector<Case> cases = {
        {"empty: every address unflagged", {}},
        {"the whole space", {{kIpMin, kIpMax}}},
        {"exactly the IPv4-mapped block", {{kV4First, kV4Last}}},
        {"0.0.0.0 and 255.255.255.255 alone", {{kV4First, kV4First}, {kV4Last, kV4Last}}},
        {":: and the top of the space alone", {{kIpMin, kIpMin}, {kIpMax, kIpMax}}},
        {"straddling the block's lower edge", {{ip_sub(kV4First, 5), ip_add(kV4First, 5)}}},
        {"straddling the block's upper edge", {{ip_sub(kV4Last, 5), ip_add(kV4Last, 5)}}},
        {"the block and its neighbours", {{ip_prev(kV4First), ip_next(kV4Last)}}},
        {"touching the block from both sides", {{kIpMin, ip_prev(kV4First)}, {ip_next(kV4Last), kIpMax}}},
        {"one address on each side of each edge",
         {{ip_prev(kV4First), ip_prev(kV4First)}, {kV4First, kV4First}, {kV4Last, kV4Last}, {ip_next(kV4Last), ip_next(kV4Last)}}},
        {"the whole space twice, nested in itself", {{kIpMin, kIpMax}, {kIpMin, kIpMax}, {kV4First, kV4Last}}},
        {"many in one /16 bucket", {range_of("10.0.0.0/30"), range_of("10.0.0.5-10.0.0.9"), range_of("10.0.255.255")}},
        {"many in one IPv6 bucket",
         {range_of("2001::/64"), range_of("2001:0:0:1::-2001:0:0:1::5"), range_of("2001:ffff::/32")}},
        {"nested to the last address", {range_of("10.0.0.0/8"), range_of("10.0.0.0/16"), range_of("10.0.0.0/24"), range_of("10.0.0.0/32")}},
    };
    for (const auto& tc : cases) {
        Generated g;
        auto& c = g.content;
        c.providers = {"", "P", "Q"};
        c.feeds.push_back(writer::FeedInfo{});
        c.feeds.back().name = std::string("f");  // not a literal: GCC 12 -Wrestrict false positive
        // Alternate origins (answers), so that neighbours never fold.
        for (std::size_t i = 0; i < tc.rows.size(); ++i) {
            const auto o = g.add_origin(0, static_cast<std::uint32_t>(i + 1), i % 2 ? kProxy : kVpn,
                                        static_cast<std::uint32_t>(i % 3), "line " + std::to_string(i));
            g.add_row(tc.rows[i], o);
        }
        merge_ranges(c);
        for (bool compress : {true, false}) {
            INFO(tc.name << ", compress_cold " << compress);
            check_round_trip(c, compress, rng);
        }
    }
}

TEST_CASE("round trip: the small database") {
    Generated g;
    small_content(g);
    Rng rng(3);
    for (bool compress : {true, false}) {
        INFO("compress_cold " << compress);
        check_round_trip(g.content, compress, rng);
    }
    // The exclusion is explained where it is, and nowhere else.
    auto bytes = serialize(g.content, true);
    REQUIRE(bytes);
    const Buffer b(*bytes);
    auto db = Database::from_bytes(b.bytes());
    REQUIRE(db);
    auto cold = ColdData::load(*db);
    REQUIRE(cold);
    const auto ex = cold->explain(ip_of("2001:db8:1::5"));
    CHECK_FALSE(ex.result.flagged);
    CHECK(ex.contributions.empty());
    REQUIRE(ex.exclusions.size() == 1);
    CHECK(ex.exclusions[0].range == range_of("2001:db8:1::/48"));
    CHECK(ex.exclusions[0].removed.origin == 42);
    REQUIRE(ex.exclusions[0].removed.table_row.has_value());
    CHECK(ex.exclusions[0].removed.table_row->text == "2001:db8::/32 AS64500");
    CHECK(ex.exclusions[0].rule.text == "prefix,2001:db8:1::/48,office users,https://example.org/why");
    CHECK(ex.exclusions[0].rule.role == format::FeedRole::exclusions);
    CHECK(ex.range == range_of("2001:db8:1::/48"));
    CHECK(cold->explain(ip_of("2001:db8:2::")).exclusions.empty());
}

namespace {

// More than 256 answers: answer ids of 2 bytes.
void medium_content(Generated& g) {
    auto& c = g.content;
    c.build_time = 1767225600;
    c.data_version = 8;
    c.providers = {"", "M"};
    writer::FeedInfo ranges, table, list;
    ranges.name = "ranges";
    table.name = "table";
    table.role = format::FeedRole::asn_table;
    list.name = "list";
    list.role = format::FeedRole::asn_list;
    list.asn_table = 2;
    c.feeds = {ranges, table, list};
    const auto row = g.add_origin(1, 0, 0, 0, "table row", 64496);
    for (std::uint32_t i = 0; i < 400; ++i) {
        const auto o = g.add_origin(2, i + 1, kVpn, i % 2, "list line", 70000 + i, row);
        const std::uint32_t base = 0x0b000000u + (i << 12);  // 11.0.0.0 + i * 4096
        g.add_row(Range{Ip::from_v4(base), Ip::from_v4(base + 99 + i)}, o);
        if (i % 50 == 0) g.add_row(Range{Ip{0x2001'0db8'0000'0000ull + i, 0}, Ip{0x2001'0db8'0000'0000ull + i, 0xffff}}, o);
    }
    const auto direct = g.add_origin(0, 1, kHosting, 1, "direct");
    g.add_row("11.0.0.0/12", direct);  // around all of them
    merge_ranges(c);
}

// Enough IPv4 segments (more than 2^18) and IPv6 segments (more than 2^10)
// for the writer to pick index widths above the minimum, and more than 2^16
// answers (3-byte ids). Built once.
const Generated& big_content() {
    static const Generated* big = [] {
        auto* g = new Generated;
        auto& c = g->content;
        Rng rng(424242);
        c.build_time = 1767225600;
        c.data_version = 9;
        c.providers = {"", "Big Hosting", "Big VPN"};
        writer::FeedInfo ranges, table, list;
        ranges.name = "big-ranges";
        table.name = "big-table";
        table.role = format::FeedRole::asn_table;
        list.name = "big-list";
        list.role = format::FeedRole::asn_list;
        list.asn_table = 2;
        c.feeds = {ranges, table, list};
        std::vector<std::uint32_t> rows;
        for (std::uint32_t k = 0; k < 64; ++k) rows.push_back(g->add_origin(1, 0, 0, 0, g->keep("row " + std::to_string(k)), 64496 + k));
        const std::string_view line = g->keep("Big VPN,vpn,AS...");
        const auto direct = g->add_origin(0, 1, kHosting, 1, "direct");
        constexpr std::uint32_t n = 140000;
        const std::uint32_t step = static_cast<std::uint32_t>((std::uint64_t{1} << 32) / n);
        std::uint32_t prev_last = 0;
        for (std::uint32_t i = 0; i < n; ++i) {
            std::uint32_t first = i * step + static_cast<std::uint32_t>(below(rng, step / 4));
            if (i % 20 == 19) first = prev_last + 1;  // touching the previous one, another answer
            const std::uint32_t last = first + static_cast<std::uint32_t>(below(rng, step / 4));
            const Range r{Ip::from_v4(first), Ip::from_v4(last)};
            if (i % 20 == 7) {
                g->add_row(r, direct);  // one answer, many segments
            } else {
                const auto o = g->add_origin(2, i + 2, kVpn, 2, line, 100000 + i, rows[i % 64]);
                g->add_row(r, o);
            }
            prev_last = last;
        }
        for (std::uint32_t i = 0; i < 700; ++i) {
            const std::uint64_t hi = (std::uint64_t{0x2001} << 48) | (std::uint64_t{i} << 38) | below(rng, 1u << 20);
            g->add_row(Range{Ip{hi, 0}, Ip{hi, rng() >> 1}}, i % 2 ? direct : static_cast<std::uint32_t>(rows.size() + 2));
        }
        merge_ranges(c);
        return g;
    }();
    return *big;
}

}  // namespace

TEST_CASE("round trip: more than 256 answers, answer ids of 2 bytes") {
    Generated g;
    medium_content(g);
    Rng rng(11);
    for (bool compress : {true, false}) {
        INFO("compress_cold " << compress);
        check_round_trip(g.content, compress, rng);
    }
    auto bytes = serialize(g.content, true);
    REQUIRE(bytes);
    auto db = Database::from_bytes(Buffer(*bytes).bytes());
    REQUIRE(db);
    CHECK(db->answer_count() > 256);
    CHECK(db->answer_count() <= 65536);
    CHECK(entry(Buffer(*bytes), SectionKind::v4_answers).raw_size == 2ull * db->v4_segment_count() + 2);
}

TEST_CASE("round trip: index widths above the minimum and answer ids of 3 bytes") {
    const auto& c = big_content().content;
    Rng rng(12);
    TripOptions opt;
    opt.random_probes = 300;
    opt.row_probes = 400;
    opt.brute = false;  // the sweep's pieces stand for E(A); the scan is checked on the other contents
    check_round_trip(c, true, rng, opt);
    auto bytes = serialize(c, true);
    REQUIRE(bytes);
    const Buffer b(*bytes);
    auto db = Database::from_bytes(b.bytes());
    REQUIRE(db);
    MESSAGE(db->v4_segment_count() << " IPv4 segments, " << db->v6_segment_count() << " IPv6 segments, "
                                   << db->answer_count() << " answers, index bits " << db->v4_index_bits() << " / "
                                   << db->v6_index_bits());
    CHECK(db->v4_segment_count() > (1u << 18));
    CHECK(db->v6_segment_count() > (1u << 10));
    CHECK(db->v4_index_bits() > 16);
    CHECK(db->v6_index_bits() > 8);
    CHECK(db->answer_count() > 65536);
    CHECK(entry(b, SectionKind::v4_answers).raw_size == 3ull * db->v4_segment_count() + 1);
    CHECK(entry(b, SectionKind::v4_index).raw_size == 4ull * ((1u << db->v4_index_bits()) + 1));
    // Random lookups, against the oracle's segments.
    const Oracle oracle(c);
    for (int i = 0; i < 20000; ++i) {
        const Ip a = Ip::from_v4(rand32(rng));
        const auto& seg = oracle.segment_at(a);
        const Segment got = db->locate(a);
        if (!(got.range == seg.range)) {
            CHECK_MESSAGE(got.range == seg.range, ip_text(a));
            break;
        }
    }
}

TEST_CASE("reader: tables encoded at other index widths answer the same") {
    // Any width in the family's range is valid, whatever the writer picks:
    // the small database's tables, re-encoded by this file at other widths.
    const Buffer intact = small_db(true);
    auto db0 = Database::from_bytes(intact.bytes());
    REQUIRE(db0);
    const auto probes = small_probes();
    const auto want = answers(*db0, probes);
    const HotTable v4 = read_table(intact, true), v6 = read_table(intact, false);
    const std::pair<unsigned, unsigned> widths[] = {{16, 8}, {17, 9}, {18, 12}, {20, 16}, {16, 20}, {19, 10}};
    for (const auto& [b4, b6] : widths) {
        INFO("b4 " << b4 << ", b6 " << b6);
        Buffer b = intact;
        write_table(b, true, {b4, v4.starts, v4.ids});
        write_table(b, false, {b6, v6.starts, v6.ids});
        auto db = Database::from_bytes(b.bytes());
        REQUIRE_MESSAGE(db, db.error().message);
        CHECK(db->v4_index_bits() == b4);
        CHECK(db->v6_index_bits() == b6);
        CHECK(answers(*db, probes) == want);
        auto v = verify(*db);
        CHECK_MESSAGE(v.has_value(), (v ? "" : v.error().message));
        const HotTable again = read_table(b, true);
        CHECK(again.starts == v4.starts);
        CHECK(again.ids == v4.ids);
        exercise(*db, probes);
    }
}

TEST_CASE("answer semantics: hand-worked cases") {
    // Each case in its own /24; the expected answers are worked out here
    // from FORMAT.md, not by the oracle (which must agree).
    Generated g;
    auto& c = g.content;
    c.providers = {"", "A", "B", "C"};
    writer::FeedInfo ranges, table, list;
    ranges.name = "ranges";
    table.name = "table";
    table.role = format::FeedRole::asn_table;
    list.name = "list";
    list.role = format::FeedRole::asn_list;
    list.asn_table = 2;
    c.feeds = {ranges, table, list};
    const auto row = g.add_origin(1, 0, 0, 0, "table row", 65000);
    auto direct = [&](std::uint32_t cats, std::uint32_t provider, const char* range) {
        g.add_row(range, g.add_origin(0, 1, cats, provider, std::string("direct ") + range));
    };
    auto derived = [&](std::uint32_t cats, std::uint32_t provider, std::uint32_t asn, const char* range) {
        g.add_row(range, g.add_origin(2, 1, cats, provider, std::string("derived ") + range, asn, row));
    };
    // 1: a direct entry's provider outranks a narrower ASN-derived one's.
    direct(kVpn, 3, "10.1.0.0/24");
    derived(kHosting, 1, 65001, "10.1.0.0/28");
    // 2: the narrowest direct entry names the provider.
    direct(kHosting, 2, "10.2.0.0/24");
    direct(kHosting, 3, "10.2.0.0/25");
    // 3: same range, two providers: the lower index.
    direct(kProxy, 3, "10.3.0.0/24");
    direct(kProxy, 2, "10.3.0.0/24");
    // 4: the AS of the narrowest row with one; ties: the lowest AS.
    derived(kVpn, 0, 65010, "10.4.0.0/24");
    derived(kVpn, 0, 65005, "10.4.0.0/24");
    derived(kVpn, 0, 65020, "10.4.0.0/26");
    // 5: a direct entry without a provider does not hide a derived one's.
    derived(kVpn, 1, 65001, "10.5.0.0/26");
    derived(kVpn, 2, 65002, "10.5.0.0/24");
    direct(kTorExit, 0, "10.5.0.0/30");
    // 6: equal widths, different ranges: the lower provider index.
    direct(kRelay, 2, "10.6.0.0-10.6.0.99");
    direct(kRelay, 1, "10.6.0.50-10.6.0.149");
    // 7: no category, provider or AS: flagged all the same.
    direct(0, 0, "10.7.0.0/24");
    // 8: provider and AS chosen independently.
    derived(kResidentialProxy, 2, 65100, "10.8.0.0/24");
    derived(kResidentialProxy, 0, 65200, "10.8.0.0/25");
    merge_ranges(c);

    struct Expect {
        const char* at;
        bool flagged;
        std::uint32_t categories;
        const char* provider;
        std::uint32_t asn;
    };
    const Expect expect[] = {
        {"10.1.0.1", true, kVpn | kHosting, "C", 65001},
        {"10.1.0.100", true, kVpn, "C", 0},
        {"10.2.0.1", true, kHosting, "C", 0},
        {"10.2.0.200", true, kHosting, "B", 0},
        {"10.3.0.9", true, kProxy, "B", 0},
        {"10.4.0.1", true, kVpn, "", 65020},
        {"10.4.0.100", true, kVpn, "", 65005},
        {"10.5.0.1", true, kVpn | kTorExit, "A", 65001},
        {"10.5.0.100", true, kVpn, "B", 65002},
        {"10.6.0.10", true, kRelay, "B", 0},
        {"10.6.0.60", true, kRelay, "A", 0},
        {"10.6.0.120", true, kRelay, "A", 0},
        {"10.7.0.1", true, 0, "", 0},
        {"10.8.0.1", true, kResidentialProxy, "B", 65200},
        {"10.8.0.200", true, kResidentialProxy, "B", 65100},
        {"10.9.0.1", false, 0, "", 0},
    };
    auto bytes = serialize(c, true);
    REQUIRE_MESSAGE(bytes, bytes.error().message);
    const Buffer b(*bytes);
    auto db = Database::from_bytes(b.bytes());
    REQUIRE(db);
    auto cold = ColdData::load(*db);
    REQUIRE(cold);
    const Oracle oracle(c);
    for (const auto& e : expect) {
        INFO(e.at);
        const Ip a = ip_of(e.at);
        const LookupResult r = db->lookup(a);
        CHECK(r.flagged == e.flagged);
        CHECK(r.categories == e.categories);
        CHECK(r.provider == e.provider);
        CHECK(r.asn == e.asn);
        const Want w = oracle.answer_at(a);
        CHECK(w.flagged == e.flagged);
        CHECK(w.categories == e.categories);
        CHECK(c.providers[w.provider] == e.provider);
        CHECK(w.asn == e.asn);
        const LookupResult x = cold->answer_of(oracle.rows_at(a));
        CHECK((x.flagged == e.flagged && x.categories == e.categories && x.provider == e.provider && x.asn == e.asn));
    }
    CHECK(verify(*db).has_value());
    Rng rng(13);
    check_round_trip(c, false, rng);
}

TEST_CASE("determinism: the same content gives the same bytes, whatever the order of evidence and inputs") {
    Rng rng(5);
    for (int i = 0; i < 10 * kScale; ++i) {
        const std::uint64_t seed = rng();
        Generated a, b;
        Rng ra(seed), rb(seed);
        generate(ra, a);
        generate(rb, b);
        // b: evidence and exclusions in another order, and the ranges merged
        // again from shuffled inputs.
        std::shuffle(b.content.evidence.begin(), b.content.evidence.end(), rng);
        std::shuffle(b.content.exclusions.begin(), b.content.exclusions.end(), rng);
        const auto ranges_before = b.content.ranges.size();
        merge_ranges(b.content);
        REQUIRE(b.content.ranges.size() == ranges_before);
        std::shuffle(b.content.evidence.begin(), b.content.evidence.end(), rng);
        for (bool compress : {true, false}) {
            auto x = serialize(a.content, compress);
            auto y = serialize(a.content, compress);
            auto z = serialize(b.content, compress);
            REQUIRE(x);
            REQUIRE(y);
            REQUIRE(z);
            CHECK(*x == *y);
            CHECK(*x == *z);
        }
        // The build time is an input and is in the header: changing it changes the bytes.
        a.content.build_time ^= 1;
        auto x = serialize(a.content, true);
        auto z = serialize(b.content, true);
        REQUIRE(x);
        REQUIRE(z);
        CHECK(*x != *z);
    }
}

TEST_CASE("writer: content that cannot be represented is refused") {
    auto expect_refused = [](const char* what, auto mutate) {
        Generated g;
        small_content(g);
        REQUIRE(writer::serialize(g.content));
        mutate(g.content);
        auto r = writer::serialize(g.content);
        INFO(what);
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error().status == Status::invalid_argument);
        CHECK_FALSE(r.error().message.empty());
    };
    expect_refused("provider 0 not empty", [](auto& c) { c.providers[0] = std::string("x"); });
    expect_refused("no providers at all", [](auto& c) { c.providers.clear(); });
    expect_refused("origin of unknown feed", [](auto& c) { c.origins[0].feed = static_cast<std::uint32_t>(c.feeds.size()); });
    expect_refused("origin provider out of range", [](auto& c) { c.origins[3].provider = 3; });
    expect_refused("origin link to an unknown origin", [](auto& c) { c.origins[42].link = static_cast<std::uint32_t>(c.origins.size()); });
    expect_refused("feed provider out of range", [](auto& c) { c.feeds[0].provider = 3; });
    expect_refused("feed ASN table out of range", [](auto& c) { c.feeds[3].asn_table = static_cast<std::uint32_t>(c.feeds.size() + 1); });
    expect_refused("exclusion of an unknown origin", [](auto& c) { c.exclusions[0].origin = 1000; });
    expect_refused("exclusion of an unknown rule", [](auto& c) { c.exclusions[0].rule = static_cast<std::uint32_t>(c.origins.size()); });
    expect_refused("exclusion ending before it starts", [](auto& c) { std::swap(c.exclusions[0].range.first, c.exclusions[0].range.last); });
    expect_refused("range end before start", [](auto& c) { std::swap(c.ranges[0].range.first, c.ranges[0].range.last); });
    expect_refused("range provider out of range", [](auto& c) { c.ranges[0].provider = 3; });
    expect_refused("unsorted ranges", [](auto& c) { std::swap(c.ranges[0], c.ranges[1]); });
    expect_refused("overlapping ranges", [](auto& c) { c.ranges[1].range.first = c.ranges[0].range.last; });
    expect_refused("evidence end before start", [](auto& c) { std::swap(c.evidence[0].range.first, c.evidence[0].range.last); });
    expect_refused("evidence of an unknown origin", [](auto& c) { c.evidence[0].origin = static_cast<std::uint32_t>(c.origins.size()); });
    expect_refused("evidence of an ASN-table row", [](auto& c) { c.evidence[0].origin = 40; });
    expect_refused("evidence of an exclusion rule", [](auto& c) { c.evidence[0].origin = 44; });

    // What is not refused: touching ranges, and touching ranges with one
    // answer, which become one segment.
    Generated g;
    small_content(g);
    auto& c = g.content;
    REQUIRE(c.ranges.size() >= 2);
    const auto before = serialize(c, true);
    REQUIRE(before);
    std::vector<writer::RangeAnswer> split;
    for (const auto& r : c.ranges) {
        if (r.range.first != r.range.last) {
            split.push_back({{r.range.first, r.range.first}, r.categories, r.provider, r.asn});
            split.push_back({{ip_next(r.range.first), r.range.last}, r.categories, r.provider, r.asn});
        } else {
            split.push_back(r);
        }
    }
    c.ranges = split;
    const auto after = serialize(c, true);
    REQUIRE_MESSAGE(after, after.error().message);
    CHECK(*after == *before);
}

TEST_CASE("writer: links a reader must reject are refused") {
    // FORMAT.md: links go one step; readers reject a link to itself or to
    // an origin that has a link, so the writer must not write one.
    for (int which = 0; which < 2; ++which) {
        Generated g;
        small_content(g);
        if (which == 0) g.content.origins[42].link = 42;  // to itself
        else g.content.origins[40].link = 41;             // 42 -> 40 -> 41: a chain
        INFO((which == 0 ? "link to itself" : "chained link"));
        auto bytes = writer::serialize(g.content);
        REQUIRE_FALSE(bytes.has_value());
        CHECK(bytes.error().status == Status::invalid_argument);
        CHECK(contains(bytes.error().message, "link"));
    }
}

// ---- corruption ---------------------------------------------------------------------

TEST_CASE("corruption: every truncation fails as truncated") {
    const Buffer buf = small_db(true);
    REQUIRE(Database::from_bytes(buf.bytes()));
    std::size_t first_bad = buf.size();
    Status bad_status = Status::ok;
    for (std::size_t len = 0; len < buf.size(); ++len) {
        for (OpenChecks checks : {OpenChecks::full, OpenChecks::deferred}) {
            auto db = Database::from_bytes(buf.prefix(len), {checks});
            if ((db.has_value() || db.error().status != Status::truncated) && first_bad == buf.size()) {
                first_bad = len;
                bad_status = db.has_value() ? Status::ok : db.error().status;
            }
        }
    }
    CHECK_MESSAGE(first_bad == buf.size(), "length " << first_bad << " gave status " << static_cast<int>(bad_status));

    // Through the mmap path too.
    TempDir dir;
    for (std::size_t len : {std::size_t{0}, std::size_t{1}, std::size_t{63}, std::size_t{64}, std::size_t{800},
                            buf.size() / 2, buf.size() - 1}) {
        const auto p = dir.path / ("cut-" + std::to_string(len));
        write_bytes(p, buf.prefix(len));
        auto db = Database::open(p.string());
        INFO("length " << len);
        REQUIRE_FALSE(db.has_value());
        CHECK(db.error().status == Status::truncated);
        CHECK(contains(db.error().message, p.string()));
    }
}

namespace {

enum class Area : std::uint8_t { header, hot, cold, padding };

// Which part of the file each byte belongs to, from the table of the intact file.
std::vector<Area> areas_of(const Buffer& b) {
    const auto h = header_of(b);
    std::vector<Area> out(b.size(), Area::padding);
    const std::uint64_t table_end = h.section_table_offset + std::uint64_t{h.section_count} * sizeof(format::SectionEntry);
    std::fill(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(table_end), Area::header);
    for (const auto& s : table_of(b)) {
        const Area a = format::is_hot(static_cast<SectionKind>(s.kind)) ? Area::hot : Area::cold;
        std::fill(out.begin() + static_cast<std::ptrdiff_t>(s.offset),
                  out.begin() + static_cast<std::ptrdiff_t>(s.offset + s.stored_size), a);
    }
    return out;
}

// After flipping the bytes at `positions`: a flip in the header, table or a
// hot section fails open; one only in cold sections opens but fails
// ColdData::load and verify; one only in padding changes nothing.
void check_flipped(const Buffer& b, const std::vector<Area>& areas, const std::vector<std::size_t>& positions,
                   const std::vector<Ip>& probes, const std::vector<Seen>& intact) {
    bool hot = false, cold = false;
    for (auto p : positions) {
        hot |= areas[p] == Area::header || areas[p] == Area::hot;
        cold |= areas[p] == Area::cold;
    }
    auto db = Database::from_bytes(b.bytes());
    // A deferred open skips the hot sections' checksums: such a flip may
    // open, and must then be safe to use and fail verify().
    auto deferred = Database::from_bytes(b.bytes(), {OpenChecks::deferred});
    if (deferred) {
        exercise(*deferred, probes);
        if (hot) CHECK_MESSAGE(!verify(*deferred).has_value(), "flip at " << positions.front() << " passed verify");
    }
    if (hot) {
        CHECK_MESSAGE(!db.has_value(), "flip at " << positions.front() << " not detected by open");
        if (!db) CHECK(db.error().status != Status::ok);
        return;
    }
    REQUIRE_MESSAGE(deferred, "flip outside hot data failed a deferred open: " << deferred.error().message);
    REQUIRE_MESSAGE(db, "flip outside hot data failed open: " << db.error().message);
    exercise(*db, probes);
    CHECK(answers(*db, probes) == intact);
    auto loaded = ColdData::load(*db);
    auto verified = verify(*db);
    if (cold) {
        CHECK_MESSAGE(!loaded.has_value(), "flip at " << positions.front() << " in a cold section not detected");
        CHECK(!verified.has_value());
    } else {
        CHECK(loaded.has_value());
        CHECK(verified.has_value());
    }
}

}  // namespace

TEST_CASE("corruption: random byte flips are detected and never crash") {
    for (bool compress : {true, false}) {
        INFO("compress_cold " << compress);
        Buffer buf = small_db(compress);
        const auto areas = areas_of(buf);
        const auto probes = small_probes();
        auto intact_db = Database::from_bytes(buf.bytes());
        REQUIRE(intact_db);
        const auto intact = answers(*intact_db, probes);
        Rng rng(compress ? 11 : 12);

        // Single bytes anywhere, then a few bytes at once.
        for (int i = 0; i < 250 * kScale; ++i) {
            const std::size_t pos = below(rng, buf.size());
            const auto mask = static_cast<std::uint8_t>(1 + below(rng, 255));
            buf.flip(pos, mask);
            check_flipped(buf, areas, {pos}, probes, intact);
            buf.flip(pos, mask);
        }
        for (int i = 0; i < 60 * kScale; ++i) {
            std::set<std::size_t> where;
            const std::size_t n = 2 + below(rng, 7);
            while (where.size() < n) where.insert(below(rng, buf.size()));
            std::vector<std::size_t> positions(where.begin(), where.end());
            std::vector<std::uint8_t> masks;
            for (auto p : positions) {
                masks.push_back(static_cast<std::uint8_t>(1 + below(rng, 255)));
                buf.flip(p, masks.back());
            }
            check_flipped(buf, areas, positions, probes, intact);
            for (std::size_t k = 0; k < positions.size(); ++k) buf.flip(positions[k], masks[k]);
        }

        // Every byte of the header and section table.
        const auto h = header_of(buf);
        const std::size_t table_end = h.section_table_offset + h.section_count * sizeof(format::SectionEntry);
        for (std::size_t pos = 0; pos < table_end; ++pos) {
            buf.flip(pos, 0x01);
            check_flipped(buf, areas, {pos}, probes, intact);
            buf.flip(pos, 0x01);
        }
        // First, last and random bytes of every section.
        for (const auto& s : table_of(buf)) {
            INFO("section " << format::section_name(s.kind));
            REQUIRE(s.stored_size > 0);
            std::vector<std::size_t> targets = {s.offset, s.offset + s.stored_size - 1, s.offset + s.stored_size / 2};
            for (int k = 0; k < 8; ++k) targets.push_back(s.offset + below(rng, s.stored_size));
            for (auto pos : targets) {
                buf.flip(pos, 0x80);
                check_flipped(buf, areas, {pos}, probes, intact);
                buf.flip(pos, 0x80);
            }
        }
        // The bytes still are the intact file.
        CHECK(answers(*intact_db, probes) == intact);
    }
}

TEST_CASE("corruption: random changes behind valid checksums never crash") {
    // Flip bytes of one section (or of the header and table), recompute the
    // checksums, and open: the structural checks must refuse the file or
    // leave it safe to use, and every call on it safe.
    for (bool compress : {true, false}) {
        INFO("compress_cold " << compress);
        const Buffer intact = small_db(compress);
        const auto table = table_of(intact);
        const auto probes = small_probes();
        Rng rng(compress ? 21 : 22);
        int opened = 0, refused = 0, opened_deferred = 0, cold_loaded = 0, cold_refused = 0;
        for (int i = 0; i < 150 * kScale; ++i) {
            Buffer b = intact;
            std::uint64_t lo = 0, len = 0;
            const auto target = below(rng, table.size() + 1);
            if (target == table.size()) {
                len = offsetof(format::Header, table_checksum);  // the header up to its checksum
                if (chance(rng, 0.7)) {  // or the table
                    lo = sizeof(format::Header);
                    len = table.size() * sizeof(format::SectionEntry);
                }
            } else {
                lo = table[target].offset;
                len = table[target].stored_size;
            }
            if (len == 0) continue;
            const std::size_t flips = 1 + below(rng, 4);
            for (std::size_t k = 0; k < flips; ++k) {
                // Mostly low bits: small changes of counts, ids and offsets
                // get past more checks than random bytes do.
                const auto mask = chance(rng, 0.5) ? static_cast<std::uint8_t>(1u << below(rng, 3))
                                                   : static_cast<std::uint8_t>(1 + below(rng, 255));
                b.flip(lo + below(rng, len), mask);
            }
            reseal(b);
            auto db = Database::from_bytes(b.bytes());
            // Deferred: safe to use whatever it opens; what a full open
            // refuses, verify() refuses.
            if (auto deferred = Database::from_bytes(b.bytes(), {OpenChecks::deferred})) {
                ++opened_deferred;
                exercise(*deferred, probes);
                if (!db) CHECK_FALSE(verify(*deferred).has_value());
            }
            if (db) {
                ++opened;
                exercise(*db, probes);
                if (ColdData::load(*db)) ++cold_loaded;
                else ++cold_refused;
            } else {
                ++refused;
                CHECK(db.error().status != Status::ok);
                CHECK_FALSE(db.error().message.empty());
            }
        }
        MESSAGE("compress " << compress << ": opened " << opened << ", refused " << refused << "; deferred opened "
                            << opened_deferred << "; cold loaded " << cold_loaded << ", refused " << cold_refused);
        CHECK(refused > 0);
        CHECK(opened > 0);
        CHECK(opened_deferred > opened);  // some damage only verify() finds
        CHECK(cold_refused > 0);
    }
}

TEST_CASE("corruption: random column edits behind valid checksums never crash") {
    // The cold column tables edited as values (not bytes): small changes of
    // feeds, origins, links, text spans and limbs, re-encoded with the
    // spec's codings, so that many edits decode to plausible rows.
    const Buffer intact = small_db(false);
    const auto probes = small_probes();
    Rng rng(23);
    int loaded = 0, refused = 0, verify_failed = 0;
    for (int i = 0; i < 100 * kScale; ++i) {
        Buffer b = intact;
        if (chance(rng, 0.5)) {
            auto rows = decode_origins(raw_of(b, SectionKind::origins));
            for (std::size_t k = 0, n = 1 + below(rng, 3); k < n; ++k) {
                auto& o = rows[below(rng, rows.size())];
                std::uint32_t* fields[] = {&o.feed, &o.line, &o.categories, &o.provider, &o.text_offset, &o.text_length, &o.asn, &o.link};
                std::uint32_t& f = *fields[below(rng, 8)];
                f = chance(rng, 0.7) ? f + static_cast<std::uint32_t>(below(rng, 5)) - 2 : rand32(rng);
            }
            replace_section(b, SectionKind::origins, encode_origins(rows));
        } else {
            auto rows = decode_evidence(raw_of(b, SectionKind::evidence));
            for (std::size_t k = 0, n = 1 + below(rng, 3); k < n; ++k) {
                auto& r = rows[below(rng, rows.size())];
                switch (below(rng, 4)) {
                    case 0: r.feed = static_cast<std::uint32_t>(below(rng, 6)); break;
                    case 1: r.origin += static_cast<std::uint32_t>(below(rng, 5)) - 2; break;
                    case 2: r.range.first = ip_add(ip_sub(r.range.first, 2), below(rng, 5)); break;
                    default: r.range.last = ip_add(ip_sub(r.range.last, 2), below(rng, 5)); break;
                }
            }
            if (chance(rng, 0.2)) std::swap(rows[below(rng, rows.size())], rows[below(rng, rows.size())]);
            replace_section(b, SectionKind::evidence, encode_evidence(rows));
        }
        auto db = Database::from_bytes(b.bytes());
        REQUIRE_MESSAGE(db, db.error().message);  // cold edits never fail open
        auto cold = ColdData::load(*db);
        if (cold) {
            ++loaded;
            if (!verify(*db)) ++verify_failed;
        } else {
            ++refused;
            CHECK(cold.error().status == Status::corrupt);
        }
        exercise(*db, probes);
    }
    MESSAGE("column edits: loaded " << loaded << " (verify failed on " << verify_failed << "), refused " << refused);
    CHECK(loaded > 0);
    CHECK(refused > 0);
}

// ---- hostile files: header and section table --------------------------------------------

TEST_CASE("hostile: header fields") {
    const Buffer intact = small_db(true);
    REQUIRE(Database::from_bytes(intact.bytes()));

    SUBCASE("bad magic") {
        for (std::size_t at : {std::size_t{0}, std::size_t{1}, std::size_t{7}}) {
            Buffer b = intact;
            b.flip(at, 0x20);
            reseal(b);
            expect_open_error(b, Status::not_anondb, {"magic"});
        }
    }
    SUBCASE("unknown major versions") {
        for (std::uint16_t major : {std::uint16_t{0}, std::uint16_t{1}, std::uint16_t{3}, std::uint16_t{0xffff}}) {
            Buffer b = intact;
            auto h = header_of(b);
            h.major = major;
            b.put(0, h);
            reseal(b);
            expect_open_error(b, Status::unsupported_version, {"major " + std::to_string(major)});
        }
    }
    SUBCASE("a newer minor version opens") {
        Buffer b = intact;
        auto h = header_of(b);
        h.minor = 9;
        b.put(0, h);
        reseal(b);
        auto db = Database::from_bytes(b.bytes());
        REQUIRE_MESSAGE(db, db.error().message);
        CHECK(db->header().minor == 9);
        CHECK(verify(*db).has_value());
    }
    SUBCASE("file_size larger than the file") {
        Buffer b = intact;
        auto h = header_of(b);
        h.file_size += 64;
        b.put(0, h);
        reseal(b);
        expect_open_error(b, Status::truncated, {std::to_string(h.file_size)});
    }
    SUBCASE("file_size smaller than the file") {
        Buffer b = intact;
        b.resize(intact.size() + 64);
        reseal(b);
        expect_open_error(b, Status::corrupt, {std::to_string(intact.size())});
    }
    SUBCASE("header_size, section_entry_size, section_count") {
        for (int field = 0; field < 3; ++field) {
            Buffer b = intact;
            auto h = header_of(b);
            if (field == 0) h.header_size = 72;
            if (field == 1) h.section_entry_size = 40;
            if (field == 2) h.section_count = 1025;
            b.put(0, h);
            reseal(b);
            expect_open_error(b, Status::corrupt, {field == 0 ? "header_size" : field == 1 ? "section_entry_size" : "section_count"});
        }
    }
    SUBCASE("section table outside the file or misplaced") {
        for (std::uint64_t off : {std::uint64_t{0}, std::uint64_t{60}, std::uint64_t{68}, std::uint64_t{intact.size()},
                                  std::uint64_t{intact.size() - 8}, ~std::uint64_t{0} - 7}) {
            Buffer b = intact;
            auto h = header_of(b);
            h.section_table_offset = off;
            b.put(0, h);
            reseal(b);
            INFO("table offset " << off);
            auto db = Database::from_bytes(b.bytes());
            REQUIRE_FALSE(db.has_value());
            CHECK(db.error().status != Status::ok);
            CHECK_FALSE(Database::from_bytes(b.bytes(), {OpenChecks::deferred}).has_value());
        }
        Buffer b = intact;  // a table that starts inside the file and runs past its end
        auto h = header_of(b);
        h.section_table_offset = (intact.size() - 100) / 8 * 8;
        b.put(0, h);
        reseal(b);
        expect_open_error(b, Status::corrupt, {"section table outside the file"});
    }
    SUBCASE("table checksum wrong") {
        Buffer b = intact;
        auto h = header_of(b);
        h.data_version += 1;  // covered by the table checksum, which is not recomputed
        b.put(0, h);
        expect_open_error(b, Status::checksum, {"header"});
        b = intact;
        b.flip(64 + 5 * 48 + 20, 0x01);  // a section entry's stored size
        expect_open_error(b, Status::checksum, {"header"});
    }
}

TEST_CASE("hostile: section table") {
    const Buffer intact = small_db(true);

    SUBCASE("section offset past the end") {
        for (std::uint64_t off : {(intact.size() + 63) / 64 * 64 + 64, ~std::uint64_t{0} & ~std::uint64_t{63}}) {
            Buffer b = intact;
            auto e = entry(b, SectionKind::v4_starts);
            e.offset = off;
            set_entry(b, SectionKind::v4_starts, e);
            reseal(b);
            expect_open_error(b, Status::corrupt, {"v4_starts", "outside the file"});
        }
    }
    SUBCASE("stored size past the end") {
        for (std::uint64_t size : {std::uint64_t{intact.size()}, ~std::uint64_t{0}}) {
            Buffer b = intact;
            auto e = entry(b, SectionKind::metadata);
            e.stored_size = size;
            e.raw_size = size;
            e.encoding = 0;
            set_entry(b, SectionKind::metadata, e);
            reseal(b);
            expect_open_error(b, Status::corrupt, {"metadata", "outside the file"});
        }
    }
    SUBCASE("section inside the header or table") {
        Buffer b = intact;
        auto e = entry(b, SectionKind::feeds);
        e.offset = 64;
        set_entry(b, SectionKind::feeds, e);
        reseal(b);
        expect_open_error(b, Status::corrupt, {"feeds"});
    }
    SUBCASE("overlapping sections") {
        Buffer b = intact;
        const auto big = entry(b, SectionKind::v4_index);
        auto e = entry(b, SectionKind::answers);
        REQUIRE(e.stored_size < big.stored_size);
        e.offset = big.offset + 64;
        set_entry(b, SectionKind::answers, e);
        reseal(b);
        expect_open_error(b, Status::corrupt, {"overlap", "v4_index", "answers"});
    }
    SUBCASE("misaligned section") {
        for (std::uint64_t shift : {std::uint64_t{8}, std::uint64_t{1}, std::uint64_t{32}}) {
            Buffer b = intact;
            auto e = entry(b, SectionKind::answers);
            e.offset += shift;
            set_entry(b, SectionKind::answers, e);
            reseal(b);
            expect_open_error(b, Status::corrupt, {"answers", "misaligned"});
        }
    }
    SUBCASE("duplicate section kind") {
        Buffer b = intact;
        auto e = entry(b, SectionKind::v6_starts);
        e.kind = static_cast<std::uint32_t>(SectionKind::v4_starts);
        set_entry(b, SectionKind::v6_starts, e);
        reseal(b);
        expect_open_error(b, Status::corrupt, {"duplicate", "v4_starts"});
    }
    SUBCASE("unknown encoding") {
        Buffer b = intact;
        auto e = entry(b, SectionKind::metadata);
        e.encoding = 7;
        set_entry(b, SectionKind::metadata, e);
        reseal(b);
        expect_open_error(b, Status::corrupt, {"metadata", "encoding"});
    }
    SUBCASE("raw section whose raw size differs") {
        Buffer b = intact;
        auto e = entry(b, SectionKind::strings);
        e.raw_size += 1;
        set_entry(b, SectionKind::strings, e);
        reseal(b);
        expect_open_error(b, Status::corrupt, {"strings", "raw size"});
    }
    SUBCASE("hot sections and feeds compressed") {
        for (std::uint32_t k = 1; k <= 9; ++k) {
            Buffer b = intact;
            auto e = entry(b, static_cast<SectionKind>(k));
            e.encoding = static_cast<std::uint32_t>(format::Encoding::zstd);
            set_entry(b, static_cast<SectionKind>(k), e);
            reseal(b);
            expect_open_error(b, Status::corrupt, {format::section_name(k), "must be raw"});
        }
    }
    SUBCASE("each required section missing") {
        for (std::uint32_t k = 1; k <= 15; ++k) {
            Buffer b = intact;
            auto e = entry(b, static_cast<SectionKind>(k));
            e.kind = 1000 + k;  // an unknown kind: skipped, so the known one is absent
            set_entry(b, static_cast<SectionKind>(k), e);
            reseal(b);
            expect_open_error(b, Status::missing_section, {format::section_name(k)});
        }
    }
    SUBCASE("hot checksum wrong") {
        for (std::uint32_t k = 1; k <= 9; ++k) {
            Buffer b = intact;
            const auto e = entry(b, static_cast<SectionKind>(k));
            b.flip(e.offset + e.stored_size / 2, 0x10);
            INFO(format::section_name(k));
            auto db = Database::from_bytes(b.bytes());
            REQUIRE_FALSE(db.has_value());
            CHECK(db.error().status == Status::checksum);
            CHECK(contains(db.error().message, format::section_name(k)));
            // Deferred: whatever it opens is safe, and verify() finds the checksum.
            if (auto d = Database::from_bytes(b.bytes(), {OpenChecks::deferred})) {
                exercise(*d, small_probes());
                auto v = verify(*d);
                REQUIRE_FALSE(v.has_value());
                CHECK(v.error().status != Status::ok);
            }
        }
    }
    SUBCASE("a section of unknown kind is skipped but checksummed") {
        // Without first_seen, the table has room for one more entry before
        // the first section (15 entries end at 784, the first section starts
        // at 832): a 16th entry of an unknown kind, its bytes appended to
        // the file.
        auto secs = sections_of(intact);
        std::erase_if(secs, [](const Stored& s) { return s.e.kind == static_cast<std::uint32_t>(SectionKind::first_seen); });
        const Buffer base = assemble(intact, secs);
        Buffer b = base;
        auto h = header_of(b);
        REQUIRE(h.section_count == 15);
        REQUIRE(table_of(b).front().offset >= 64 + 16 * 48);
        const std::uint64_t extra_off = (base.size() + 63) / 64 * 64;
        const std::string payload = "data a later minor version adds";
        b.resize(extra_off + payload.size());
        std::memcpy(b.data() + extra_off, payload.data(), payload.size());
        format::SectionEntry extra{};
        extra.kind = 4242;
        extra.offset = extra_off;
        extra.stored_size = extra.raw_size = payload.size();
        b.put(64 + 15 * sizeof(format::SectionEntry), extra);
        h.section_count = 16;
        h.file_size = b.size();
        b.put(0, h);
        reseal(b);
        {
            auto db = Database::from_bytes(b.bytes());
            REQUIRE_MESSAGE(db, db.error().message);
            CHECK(db->sections().size() == 16);
            auto orig = Database::from_bytes(intact.bytes());
            REQUIRE(orig);
            CHECK(answers(*db, small_probes()) == answers(*orig, small_probes()));
            CHECK(verify(*db).has_value());
            CHECK(ColdData::load(*db).has_value());
        }
        b.flip(extra_off + 2, 0x01);  // the unknown section's bytes, checksum not updated
        auto db = Database::from_bytes(b.bytes());
        REQUIRE_MESSAGE(db, db.error().message);
        CHECK(ColdData::load(*db).has_value());
        auto v = verify(*db);
        REQUIRE_FALSE(v.has_value());
        CHECK(v.error().status == Status::checksum);
        CHECK(contains(v.error().message, std::to_string(extra_off)));
    }
}

// ---- hostile files: hot sections ---------------------------------------------------------

TEST_CASE("hostile: index and starts") {
    const Buffer intact = small_db(true);
    auto db0 = Database::from_bytes(intact.bytes());
    REQUIRE(db0);
    const std::uint32_t n4 = db0->v4_segment_count();
    const std::uint32_t n6 = db0->v6_segment_count();
    REQUIRE(db0->v4_index_bits() == 16);
    REQUIRE(db0->v6_index_bits() == 8);
    const HotTable v4 = read_table(intact, true), v6 = read_table(intact, false);

    SUBCASE("index size not 2^b + 1 entries, or b out of the family's range") {
        // b4 = 15 and b6 = 7: well-formed indexes, of a width out of range.
        Buffer b = intact;
        write_table(b, true, {15, v4.starts, v4.ids});
        expect_open_error(b, Status::corrupt, {"v4_index", "2^b + 1", "from 16 to 24"});
        b = intact;
        write_table(b, false, {7, v6.starts, v6.ids});
        expect_open_error(b, Status::corrupt, {"v6_index", "2^b + 1", "from 8 to 24"});
        // Sizes that are no 2^b + 1 at all.
        for (const std::int64_t delta : {std::int64_t{-4}, std::int64_t{4}, std::int64_t{-1}, std::int64_t{2}}) {
            for (auto kind : {SectionKind::v4_index, SectionKind::v6_index}) {
                INFO(kind_name(kind) << " size changed by " << delta);
                b = intact;
                auto raw = raw_of(b, kind);
                raw.resize(static_cast<std::size_t>(static_cast<std::int64_t>(raw.size()) + delta));
                replace_section(b, kind, raw);
                expect_open_error(b, Status::corrupt, {kind_name(kind), "2^b + 1"});
            }
        }
        b = intact;
        replace_section(b, SectionKind::v6_index, {});
        expect_open_error(b, Status::corrupt, {"v6_index", "2^b + 1"});
    }
    SUBCASE("index not ascending") {
        for (auto [kind, n] : {std::pair{SectionKind::v4_index, n4}, std::pair{SectionKind::v6_index, n6}}) {
            Buffer b = intact;
            // An empty bucket after the first non-empty one: lower the next entry.
            std::uint32_t bucket = 1;
            while (!(element<std::uint32_t>(b, kind, bucket) >= 1 &&
                     element<std::uint32_t>(b, kind, bucket) == element<std::uint32_t>(b, kind, bucket + 1)))
                ++bucket;
            set_element(b, kind, bucket + 1, element<std::uint32_t>(b, kind, bucket) - 1);
            reseal(b);
            INFO(kind_name(kind) << ", " << n << " starts");
            expect_open_error(b, Status::corrupt, {kind_name(kind), "not ascending at bucket " + std::to_string(bucket)});
        }
    }
    SUBCASE("index bounds: first entry not 0, last not the start count, bucket 0 empty") {
        Buffer b = intact;
        set_element(b, SectionKind::v4_index, 65536, n4 - 1);
        reseal(b);
        expect_open_error(b, Status::corrupt, {"v4_index", "bad bounds"});
        b = intact;
        set_element(b, SectionKind::v4_index, 65536, n4 + 1);
        reseal(b);
        expect_open_error(b, Status::corrupt, {"v4_index", "bad bounds"});
        b = intact;
        set_element(b, SectionKind::v6_index, 0, std::uint32_t{1});
        reseal(b);
        expect_open_error(b, Status::corrupt, {"v6_index", "bad bounds"});
        b = intact;
        set_element(b, SectionKind::v6_index, 256, ~std::uint32_t{0});
        reseal(b);
        expect_open_error(b, Status::corrupt, {"v6_index", "bad bounds"});
        for (auto kind : {SectionKind::v4_index, SectionKind::v6_index}) {  // bucket 0 empty
            b = intact;
            set_element(b, kind, 1, std::uint32_t{0});
            reseal(b);
            expect_open_error(b, Status::corrupt, {kind_name(kind), "bad bounds"});
        }
    }
    SUBCASE("starts outside their bucket") {
        // Bucket 0 claims every start. IPv6: the start's top bits say
        // otherwise. IPv4 with b4 = 16: a bucket's starts are only their
        // low 16 bits, which then do not ascend.
        Buffer b = intact;
        for (std::uint32_t k = 1; k < 256; ++k) set_element(b, SectionKind::v6_index, k, n6);
        reseal(b);
        expect_open_error(b, Status::corrupt, {"v6_index", "outside bucket 0"});
        b = intact;
        for (std::uint32_t k = 1; k < 65536; ++k) set_element(b, SectionKind::v4_index, k, n4);
        reseal(b);
        expect_open_error(b, Status::corrupt, {"v4_starts", "not strictly ascending"});
    }
    SUBCASE("IPv4 with b4 > 16: stored bits that disagree with the bucket") {
        for (const unsigned bits : {17u, 20u}) {
            Buffer b = intact;
            write_table(b, true, {bits, v4.starts, v4.ids});
            REQUIRE(Database::from_bytes(b.bytes()));
            const unsigned shift = 32 - bits;
            for (const std::uint32_t i : {std::uint32_t{1}, n4 / 2, n4 - 1}) {
                const std::uint32_t h = v4.starts[i].v4() >> shift;
                for (unsigned bit = shift; bit < 16; ++bit) {
                    INFO("b4 " << bits << ", start " << i << ", bit " << bit);
                    Buffer x = b;
                    set_element(x, SectionKind::v4_starts, i,
                                static_cast<std::uint16_t>(element<std::uint16_t>(x, SectionKind::v4_starts, i) ^ (1u << bit)));
                    reseal(x);
                    expect_open_error(x, Status::corrupt, {"v4_index", "start " + std::to_string(i) + " outside bucket " + std::to_string(h)});
                }
            }
        }
    }
    SUBCASE("first start not the lowest address") {
        Buffer b = intact;
        set_element(b, SectionKind::v4_starts, 0, std::uint16_t{1});
        reseal(b);
        expect_open_error(b, Status::corrupt, {"v4_starts", "first start is not the lowest address"});
        b = intact;
        set_element(b, SectionKind::v6_starts, 0, format::Ip128{0, 1});
        reseal(b);
        expect_open_error(b, Status::corrupt, {"v6_starts", "first start is not the lowest address"});
    }
    SUBCASE("starts not ascending") {
        {
            Buffer b = intact;
            // Two neighbours in one bucket: make them equal.
            std::uint32_t i = 1;
            while (i < n4 && (v4.starts[i - 1].v4() >> 16) != (v4.starts[i].v4() >> 16)) ++i;
            REQUIRE(i < n4);
            set_element(b, SectionKind::v4_starts, i, element<std::uint16_t>(b, SectionKind::v4_starts, i - 1));
            reseal(b);
            expect_open_error(b, Status::corrupt, {"v4_starts", "not strictly ascending at " + std::to_string(i)});
        }
        {
            Buffer b = intact;
            std::uint32_t i = 2;  // not the first start, which has a check of its own
            while (i < n6 && (v6.starts[i - 1].hi >> 56) != (v6.starts[i].hi >> 56)) ++i;
            REQUIRE(i + 1 < n6);
            // Swap two neighbours of one bucket.
            const auto x = element<format::Ip128>(b, SectionKind::v6_starts, i - 1);
            const auto y = element<format::Ip128>(b, SectionKind::v6_starts, i);
            set_element(b, SectionKind::v6_starts, i - 1, y);
            set_element(b, SectionKind::v6_starts, i, x);
            reseal(b);
            expect_open_error(b, Status::corrupt, {"v6_starts", "not strictly ascending at " + std::to_string(i)});
        }
    }
    SUBCASE("starts of the wrong size: none, or not whole entries") {
        for (auto [kind, cut] : {std::pair{SectionKind::v4_starts, std::size_t{1}}, std::pair{SectionKind::v6_starts, std::size_t{8}}}) {
            Buffer b = intact;
            auto raw = raw_of(b, kind);
            raw.resize(raw.size() - cut);
            replace_section(b, kind, raw);
            expect_open_error(b, Status::corrupt, {kind_name(kind), "wrong size"});
            b = intact;
            replace_section(b, kind, {});
            expect_open_error(b, Status::corrupt, {kind_name(kind), "wrong size"});
        }
    }
    SUBCASE("the IPv6 table's IPv4-mapped segment missing, moved or flagged") {
        std::size_t mapped = 0;
        while (v6.starts[mapped] != kV4First) ++mapped;
        REQUIRE(v6.starts.at(mapped + 1) == ip_next(kV4Last));
        REQUIRE(v6.ids[mapped] == 0);
        {
            HotTable t = v6;  // missing: the segment below runs into the block
            t.starts.erase(t.starts.begin() + static_cast<std::ptrdiff_t>(mapped));
            t.ids.erase(t.ids.begin() + static_cast<std::ptrdiff_t>(mapped));
            REQUIRE(t.ids[mapped - 1] != t.ids[mapped]);
            Buffer b = intact;
            write_table(b, false, t);
            expect_open_error(b, Status::corrupt, {"v6_starts", "IPv4-mapped block is not one segment of answer 0"});
        }
        {
            HotTable t = v6;  // the block's end moved: its segment reaches past it
            REQUIRE(ip_next(ip_next(kV4Last)) < t.starts.at(mapped + 2));
            t.starts[mapped + 1] = ip_next(ip_next(kV4Last));
            Buffer b = intact;
            write_table(b, false, t);
            expect_open_error(b, Status::corrupt, {"v6_starts", "IPv4-mapped block is not one segment of answer 0"});
        }
        {
            HotTable t = v6;  // flagged
            t.ids[mapped] = 1;
            REQUIRE(t.ids[mapped + 1] != 1);
            Buffer b = intact;
            write_table(b, false, t);
            expect_open_error(b, Status::corrupt, {"v6_starts", "IPv4-mapped block is not one segment of answer 0"});
        }
    }
}

TEST_CASE("hostile: answer ids and answers") {
    const Buffer intact = small_db(true);
    auto db0 = Database::from_bytes(intact.bytes());
    REQUIRE(db0);
    const std::uint32_t nans = db0->answer_count();
    REQUIRE(nans >= 3);
    REQUIRE(nans < 255);  // ids of one byte
    const std::uint32_t n4 = db0->v4_segment_count();
    const auto strings_size = static_cast<std::uint32_t>(entry(intact, SectionKind::strings).raw_size);
    const HotTable v4 = read_table(intact, true), v6 = read_table(intact, false);

    SUBCASE("answer id array of the wrong length") {
        for (auto kind : {SectionKind::v4_answers, SectionKind::v6_answers}) {
            for (const std::int64_t delta : {std::int64_t{-1}, std::int64_t{1}, std::int64_t{-4}}) {
                INFO(kind_name(kind) << " size changed by " << delta);
                Buffer b = intact;
                auto raw = raw_of(b, kind);
                raw.resize(static_cast<std::size_t>(static_cast<std::int64_t>(raw.size()) + delta));
                replace_section(b, kind, raw);
                expect_open_error(b, Status::corrupt, {kind_name(kind), "answer id count differs from start count"});
            }
        }
        // Without the 4 - w bytes of padding FORMAT.md asks for.
        Buffer b = intact;
        auto raw = raw_of(b, SectionKind::v4_answers);
        raw.resize(n4);
        replace_section(b, SectionKind::v4_answers, raw);
        expect_open_error(b, Status::corrupt, {"v4_answers", "answer id count differs"});
    }
    SUBCASE("padding after the ids not zero") {
        for (auto [kind, n] : {std::pair{SectionKind::v4_answers, n4}, std::pair{SectionKind::v6_answers, db0->v6_segment_count()}}) {
            for (std::uint32_t k = 0; k < 3; ++k) {
                Buffer b = intact;
                set_element(b, kind, n + k, std::uint8_t{0x80});
                reseal(b);
                INFO(kind_name(kind) << ", padding byte " << k);
                expect_open_error(b, Status::corrupt, {kind_name(kind), "padding"});
                // A deferred open reads every id as w bytes: the padding changes no answer.
                auto d = Database::from_bytes(b.bytes(), {OpenChecks::deferred});
                REQUIRE(d);
                CHECK(answers(*d, small_probes()) == answers(*db0, small_probes()));
            }
        }
    }
    SUBCASE("answer id >= nans: full open refuses, deferred reads answer 0, verify refuses") {
        std::uint32_t i = 1;
        while (v4.ids[i] == 0) ++i;  // a flagged IPv4 segment
        const Ip at = v4.starts[i];
        for (std::uint32_t bad : {nans, nans + 1, 255u}) {
            INFO("id " << bad);
            Buffer b = intact;
            set_element(b, SectionKind::v4_answers, i, static_cast<std::uint8_t>(bad));
            reseal(b);
            expect_open_error(b, Status::corrupt, {"v4_answers", "answer id out of range at " + std::to_string(i)});
            auto d = Database::from_bytes(b.bytes(), {OpenChecks::deferred});
            REQUIRE_MESSAGE(d, d.error().message);
            CHECK(db0->lookup(at).flagged);
            const LookupResult r = d->lookup(at);
            CHECK_FALSE(r.flagged);
            CHECK(r.categories == 0);
            CHECK(r.provider.empty());
            CHECK(r.asn == 0);
            std::vector<LookupResult> many(1);
            d->lookup_many(std::span(&at, 1), many);
            CHECK_FALSE(many[0].flagged);
            CHECK(d->locate(at).answer == bad);  // the id as stored; answer() bounds it
            CHECK_FALSE(d->answer(d->locate(at).answer).flagged);
            auto v = verify(*d);
            REQUIRE_FALSE(v.has_value());
            CHECK(contains(v.error().message, "answer id out of range"));
        }
        Buffer b = intact;
        set_element(b, SectionKind::v6_answers, 0, std::uint8_t{255});
        reseal(b);
        expect_open_error(b, Status::corrupt, {"v6_answers", "answer id out of range at 0"});
    }
    SUBCASE("segments not maximal: neighbours with the same answer") {
        {
            std::uint32_t i = 1;
            while (!(v4.ids[i] != v4.ids[i - 1] && (i + 1 == v4.ids.size() || v4.ids[i + 1] != v4.ids[i - 1]))) ++i;
            HotTable t = v4;
            t.ids[i] = t.ids[i - 1];
            Buffer b = intact;
            write_table(b, true, t);
            expect_open_error(b, Status::corrupt,
                              {"v4_answers", "segments " + std::to_string(i - 1) + " and " + std::to_string(i) + " have the same answer"});
        }
        {
            std::size_t i = 0;
            while (v6.starts[i] != kV4First) ++i;
            i += 3;  // above the block, away from its edges
            REQUIRE(i < v6.ids.size());
            HotTable t = v6;
            t.ids[i] = t.ids[i - 1];
            Buffer b = intact;
            write_table(b, false, t);
            expect_open_error(b, Status::corrupt, {"v6_answers", "have the same answer"});
        }
    }
    SUBCASE("answers section empty or ragged") {
        for (std::size_t size : {std::size_t{0}, std::size_t{15}, std::size_t{16 * nans - 1}, std::size_t{16 * nans + 8}}) {
            Buffer b = intact;
            auto raw = raw_of(b, SectionKind::answers);
            raw.resize(size);
            replace_section(b, SectionKind::answers, raw);
            INFO("answers of " << size << " bytes");
            expect_open_error(b, Status::corrupt, {"answers", "wrong size"});
        }
    }
    SUBCASE("answer 0 not empty") {
        for (int field = 0; field < 4; ++field) {
            Buffer b = intact;
            auto a = element<format::Answer>(b, SectionKind::answers, 0);
            if (field == 0) a.categories = kTorExit;
            if (field == 1) a.asn = 64500;
            if (field == 2) a.provider.offset = 1;
            if (field == 3) a.provider.length = 1;
            set_element(b, SectionKind::answers, 0, a);
            reseal(b);
            INFO("field " << field);
            expect_open_error(b, Status::corrupt, {"answers", "answer 0 must be empty"});
        }
    }
    SUBCASE("an answer's provider name outside strings") {
        for (auto ref : {format::StrRef{strings_size, 1}, format::StrRef{0, strings_size + 1},
                         format::StrRef{strings_size + 1, 0}, format::StrRef{~0u, ~0u}, format::StrRef{1, ~0u}}) {
            INFO("StrRef {" << ref.offset << ", " << ref.length << "}");
            Buffer b = intact;
            auto a = element<format::Answer>(b, SectionKind::answers, nans - 1);
            a.provider = ref;
            set_element(b, SectionKind::answers, nans - 1, a);
            reseal(b);
            expect_open_error(b, Status::corrupt, {"answers", "provider name out of bounds at " + std::to_string(nans - 1)});
        }
        // A name ending exactly at the end of the section is fine.
        Buffer b = intact;
        auto a = element<format::Answer>(b, SectionKind::answers, nans - 1);
        a.provider = {strings_size - 3, 3};
        set_element(b, SectionKind::answers, nans - 1, a);
        reseal(b);
        auto db = Database::from_bytes(b.bytes());
        REQUIRE_MESSAGE(db, db.error().message);
        CHECK(db->answer(nans - 1).provider.size() == 3);
    }
}

TEST_CASE("hostile: feeds") {
    const Buffer intact = small_db(true);
    auto db0 = Database::from_bytes(intact.bytes());
    REQUIRE(db0);
    const auto nfeed = static_cast<std::uint32_t>(db0->feeds().size());
    const auto strings_size = static_cast<std::uint32_t>(entry(intact, SectionKind::strings).raw_size);
    auto edited = [&](std::uint32_t i, auto edit) {
        Buffer b = intact;
        auto f = element<format::FeedEntry>(b, SectionKind::feeds, i);
        edit(f);
        set_element(b, SectionKind::feeds, i, f);
        reseal(b);
        return b;
    };
    SUBCASE("a StrRef outside strings") {
        for (auto ref : {format::StrRef{strings_size, 1}, format::StrRef{0, strings_size + 1},
                         format::StrRef{strings_size + 1, 0}, format::StrRef{~0u, ~0u}, format::StrRef{1, ~0u}}) {
            for (int field = 0; field < 4; ++field) {
                INFO("StrRef {" << ref.offset << ", " << ref.length << "}, field " << field);
                const Buffer b = edited(1, [&](format::FeedEntry& f) {
                    format::StrRef* refs[] = {&f.name, &f.url, &f.source, &f.format};
                    *refs[field] = ref;
                });
                expect_open_error(b, Status::corrupt, {"feeds", "feed 1 refers outside strings, providers or feeds"});
            }
        }
        // A string ending exactly at the end of the section is fine.
        const Buffer b = edited(1, [&](format::FeedEntry& f) { f.source = {strings_size - 3, 3}; });
        auto db = Database::from_bytes(b.bytes());
        REQUIRE_MESSAGE(db, db.error().message);
        CHECK(db->string(db->feeds()[1].source).size() == 3);
    }
    SUBCASE("provider, role or ASN table out of range") {
        expect_open_error(edited(0, [&](format::FeedEntry& f) { f.provider = db0->provider_count(); }), Status::corrupt, {"feeds", "feed 0"});
        expect_open_error(edited(2, [&](format::FeedEntry& f) { f.role = 4; }), Status::corrupt, {"feeds", "feed 2"});
        expect_open_error(edited(2, [&](format::FeedEntry& f) { f.role = ~0u; }), Status::corrupt, {"feeds", "feed 2"});
        expect_open_error(edited(3, [&](format::FeedEntry& f) { f.asn_table = nfeed + 1; }), Status::corrupt, {"feeds", "feed 3"});
        // The limits themselves are fine.
        for (const Buffer& b : {edited(0, [&](format::FeedEntry& f) { f.provider = db0->provider_count() - 1; }),
                                edited(2, [&](format::FeedEntry& f) { f.role = 3; }),
                                edited(3, [&](format::FeedEntry& f) { f.asn_table = nfeed; })}) {
            auto db = Database::from_bytes(b.bytes());
            CHECK_MESSAGE(db.has_value(), (db ? "" : db.error().message));
        }
    }
    SUBCASE("not whole entries") {
        Buffer b = intact;
        auto raw = raw_of(b, SectionKind::feeds);
        raw.resize(raw.size() - 1);
        replace_section(b, SectionKind::feeds, raw);
        expect_open_error(b, Status::corrupt, {"feeds", "wrong size"});
    }
}

// ---- hostile files: cold sections ---------------------------------------------------------

TEST_CASE("hostile: providers") {
    const Buffer intact = small_db(false);
    const auto strings_size = static_cast<std::uint32_t>(entry(intact, SectionKind::strings).raw_size);
    SUBCASE("empty or not whole StrRefs: refused at open, which counts them") {
        for (std::size_t size : {std::size_t{0}, std::size_t{7}, std::size_t{3 * 8 + 4}}) {
            Buffer b = intact;
            auto raw = raw_of(b, SectionKind::providers);
            raw.resize(size);
            replace_section(b, SectionKind::providers, raw);
            INFO(size << " bytes");
            expect_open_error(b, Status::corrupt, {"providers", "wrong size"});
        }
    }
    SUBCASE("a name outside strings") {
        for (auto ref : {format::StrRef{strings_size, 1}, format::StrRef{0, strings_size + 1}, format::StrRef{~0u, 2}}) {
            Buffer b = intact;
            set_element(b, SectionKind::providers, 2, ref);
            reseal(b);
            expect_cold_error(b, Status::corrupt, {"providers", "name out of bounds at 2"});
        }
    }
    SUBCASE("provider 0 not the empty name") {
        Buffer b = intact;
        set_element(b, SectionKind::providers, 0, element<format::StrRef>(b, SectionKind::providers, 1));
        reseal(b);
        expect_cold_error(b, Status::corrupt, {"providers", "provider 0 must be the empty name"});
    }
}

namespace {

// A column table section `kind` whose size is off by each of `deltas` bytes
// from whole rows: refused when the cold sections load.
void expect_torn_rows(const Buffer& intact, SectionKind kind, std::initializer_list<std::int64_t> deltas) {
    for (const std::int64_t delta : deltas) {
        Buffer b = intact;
        auto raw = raw_of(b, kind);
        raw.resize(static_cast<std::size_t>(static_cast<std::int64_t>(raw.size()) + delta));
        replace_section(b, kind, raw);
        expect_cold_error(b, Status::corrupt, {format::section_name(static_cast<std::uint32_t>(kind)), "whole number of rows"});
    }
}

}  // namespace

TEST_CASE("hostile: origins") {
    const Buffer intact = small_db(false);
    auto db0 = Database::from_bytes(intact.bytes());
    REQUIRE(db0);
    const auto rows0 = decode_origins(raw_of(intact, SectionKind::origins));
    const auto norig = static_cast<std::uint32_t>(rows0.size());
    const auto text_size = static_cast<std::uint32_t>(entry(intact, SectionKind::origin_text).raw_size);
    REQUIRE(rows0[42].link == 40);  // small_content: a derived origin and its table row
    auto with = [&](auto edit) {
        auto rows = rows0;
        edit(rows);
        Buffer b = intact;
        replace_section(b, SectionKind::origins, encode_origins(rows));
        return b;
    };
    SUBCASE("not whole rows") { expect_torn_rows(intact, SectionKind::origins, {4, -4, 1}); }
    SUBCASE("unknown feed") {
        for (std::uint32_t feed : {static_cast<std::uint32_t>(db0->feeds().size()), ~0u})
            expect_cold_error(with([&](auto& r) { r[3].feed = feed; }), Status::corrupt, {"origins", "origin 3: unknown feed"});
    }
    SUBCASE("provider out of range, text span outside origin_text") {
        expect_cold_error(with([&](auto& r) { r[3].provider = db0->provider_count(); }), Status::corrupt, {"origins", "origin 3 refers outside"});
        expect_cold_error(with([&](auto& r) { r[3].text_offset = text_size + 1; }), Status::corrupt, {"origins", "origin 3 refers outside"});
        expect_cold_error(with([&](auto& r) { r[3].text_length = text_size - r[3].text_offset + 1; }), Status::corrupt,
                          {"origins", "origin 3 refers outside"});
        expect_cold_error(with([&](auto& r) {
                              r[3].text_offset = ~0u;
                              r[3].text_length = 2;  // the end wraps past 2^32
                          }),
                          Status::corrupt, {"origins", "origin 3 refers outside"});
        // A text ending exactly at the end of origin_text is fine.
        const Buffer b = with([&](auto& r) {
            r[3].text_offset = text_size - 2;
            r[3].text_length = 2;
        });
        auto db = Database::from_bytes(b.bytes());
        REQUIRE(db);
        auto cold = ColdData::load(*db);
        REQUIRE_MESSAGE(cold, cold.error().message);
        CHECK(cold->evidence(3).text.size() == 2);
    }
    SUBCASE("links: to itself, past the end, chained") {
        expect_cold_error(with([&](auto& r) { r[42].link = 42; }), Status::corrupt, {"origins", "link to an unknown origin at 42"});
        expect_cold_error(with([&](auto& r) { r[42].link = norig; }), Status::corrupt, {"origins", "link to an unknown origin at 42"});
        expect_cold_error(with([&](auto& r) { r[42].link = 0xfffffffeu; }), Status::corrupt, {"origins", "link to an unknown origin at 42"});
        // 42 -> 40 -> 41: the table row 40 itself links.
        expect_cold_error(with([&](auto& r) { r[40].link = 41; }), Status::corrupt, {"origins", "chained link at 42"});
        // Links run one step, either way round.
        expect_cold_error(with([&](auto& r) { r[41].link = 42; }), Status::corrupt, {"origins", "chained link at 41"});
    }
}

TEST_CASE("hostile: evidence") {
    const Buffer intact = small_db(false);
    auto db0 = Database::from_bytes(intact.bytes());
    REQUIRE(db0);
    const auto rows0 = decode_evidence(raw_of(intact, SectionKind::evidence));
    const auto norig = static_cast<std::uint32_t>(decode_origins(raw_of(intact, SectionKind::origins)).size());
    const auto nfeed = static_cast<std::uint32_t>(db0->feeds().size());
    REQUIRE(rows0.size() > 10);
    auto with = [&](auto edit) {
        auto rows = rows0;
        edit(rows);
        Buffer b = intact;
        replace_section(b, SectionKind::evidence, encode_evidence(rows));
        return b;
    };
    // A row whose range is wider than one address, and its number.
    std::uint32_t k = 0;
    while (rows0[k].range.first == rows0[k].range.last) ++k;
    const std::string row = "row " + std::to_string(k);

    SUBCASE("not whole rows") { expect_torn_rows(intact, SectionKind::evidence, {4, -4, 39}); }
    SUBCASE("unknown feed, or not its origin's") {
        expect_cold_error(with([&](auto& r) { r[k].feed = nfeed; }), Status::corrupt, {"evidence", row + ": unknown feed"});
        expect_cold_error(with([&](auto& r) { r[k].feed = r[k].feed == 0 ? 1 : 0; }), Status::corrupt,
                          {"evidence", row + ": feed is not its origin's"});
    }
    SUBCASE("unknown origin") {
        for (std::uint32_t o : {norig, ~0u})
            expect_cold_error(with([&](auto& r) { r[k].origin = o; }), Status::corrupt, {"evidence", row + ": unknown origin"});
    }
    SUBCASE("an origin that cannot have evidence: an ASN-table row, an exclusion rule") {
        expect_cold_error(with([&](auto& r) {
                              r[k].origin = 40;
                              r[k].feed = 2;
                          }),
                          Status::corrupt, {"evidence", row + ": origin of a feed that cannot have evidence"});
        expect_cold_error(with([&](auto& r) {
                              r[k].origin = 44;
                              r[k].feed = 4;
                          }),
                          Status::corrupt, {"evidence", row + ": origin of a feed that cannot have evidence"});
    }
    SUBCASE("last before first") {
        expect_cold_error(with([&](auto& r) { std::swap(r[k].range.first, r[k].range.last); }), Status::corrupt,
                          {"evidence", row + ": last before first"});
    }
    SUBCASE("rows out of evidence order, or twice") {
        // Swapped neighbours (first ascending).
        expect_cold_error(with([&](auto& r) { std::swap(r[k], r[k + 1]); }), Status::corrupt,
                          {"evidence", "row " + std::to_string(k + 1) + ": not in evidence order"});
        // The same row twice.
        expect_cold_error(with([&](auto& r) { r.insert(r.begin() + k, r[k]); }), Status::corrupt,
                          {"evidence", "row " + std::to_string(k + 1) + ": not in evidence order"});
        // Same first: the wider row must come first (last descending).
        std::uint32_t s = 0;
        while (s + 1 < rows0.size() && !(rows0[s].range.first == rows0[s + 1].range.first && rows0[s].range.last != rows0[s + 1].range.last)) ++s;
        REQUIRE(s + 1 < rows0.size());
        REQUIRE(rows0[s + 1].range.last < rows0[s].range.last);
        expect_cold_error(with([&](auto& r) { std::swap(r[s], r[s + 1]); }), Status::corrupt,
                          {"evidence", "row " + std::to_string(s + 1) + ": not in evidence order"});
        // Same range: origins ascending (192.0.2.0/24 of origins 3 and 4).
        std::uint32_t t = 0;
        while (t + 1 < rows0.size() && !(rows0[t].range == rows0[t + 1].range)) ++t;
        REQUIRE(t + 1 < rows0.size());
        expect_cold_error(with([&](auto& r) { std::swap(r[t].origin, r[t + 1].origin); }), Status::corrupt,
                          {"evidence", "row " + std::to_string(t + 1) + ": not in evidence order"});
    }
    SUBCASE("evidence that contradicts the answers behind valid checksums: verify() says so") {
        // One row fewer: structurally fine, but some answer loses its cause.
        expect_verify_error(with([&](auto& r) { r.erase(r.begin() + k); }), {"section answers"});
    }
}

TEST_CASE("hostile: first_seen") {
    const Buffer intact = small_db(false);
    const auto rows0 = decode_first_seen(raw_of(intact, SectionKind::first_seen));
    REQUIRE(rows0.size() > 3);
    // The small database's days: the previous build's where it had them.
    for (const auto& r : rows0)
        if (range_of("100.64.0.0/22").contains(r.range.first)) CHECK(r.day == 19000);
    auto with = [&](auto edit) {
        auto rows = rows0;
        edit(rows);
        Buffer b = intact;
        replace_section(b, SectionKind::first_seen, encode_first_seen(rows));
        return b;
    };
    SUBCASE("the coder here reads and writes the writer's bytes") {
        CHECK(encode_first_seen(rows0) == raw_of(intact, SectionKind::first_seen));
    }
    SUBCASE("not whole rows") { expect_torn_rows(intact, SectionKind::first_seen, {4, -4, 35}); }
    SUBCASE("last before first, rows out of order or overlapping") {
        expect_cold_error(with([](auto& r) { r[1].range.last = ip_prev(r[1].range.first); }),
                          Status::corrupt, {"first_seen", "row 1: last before first"});
        expect_cold_error(with([](auto& r) { std::swap(r[1], r[2]); }), Status::corrupt,
                          {"first_seen", "row 2: not sorted and disjoint"});
        expect_cold_error(with([](auto& r) { r[2].range.first = r[1].range.last; }), Status::corrupt,
                          {"first_seen", "row 2: not sorted and disjoint"});
    }
    SUBCASE("rows that do not hold exactly the flagged addresses, or a day after the last seen: verify() says so") {
        expect_verify_error(with([](auto& r) { r.erase(r.begin() + 1); }), {"section first_seen", "no first-seen day"});
        expect_verify_error(with([](auto& r) { r.back().range.last = ip_next(r.back().range.last); }),
                            {"section first_seen", "is not flagged but has a first-seen day"});
        expect_verify_error(with([](auto& r) { r[0].day = 0x7fffffff; }), {"section first_seen", "after it was last seen"});
    }
    SUBCASE("no section: a 2.1 file; no first-seen days, the rest as before") {
        auto secs = sections_of(intact);
        std::erase_if(secs, [](const auto& s) { return s.e.kind == static_cast<std::uint32_t>(SectionKind::first_seen); });
        const Buffer b = assemble(intact, secs);
        auto db = Database::from_bytes(b.bytes());
        REQUIRE(db);
        auto cold = ColdData::load(*db);
        REQUIRE(cold);
        CHECK(!cold->has_first_seen());
        const Explanation ex = cold->explain(ip_of("100.64.0.1"));
        CHECK(ex.result.flagged);
        CHECK(!ex.first_seen);
        CHECK(ex.assessment.confidence > 0);
        CHECK(verify(*db).has_value());
    }
}

TEST_CASE("hostile: exclusions") {
    const Buffer intact = small_db(false);
    const auto norig = static_cast<std::uint32_t>(decode_origins(raw_of(intact, SectionKind::origins)).size());
    SUBCASE("unknown origin or rule, an empty range") {
        for (int field = 0; field < 3; ++field) {
            Buffer b = intact;
            auto x = element<format::ExclusionEntry>(b, SectionKind::exclusions, 0);
            if (field == 0) x.origin = norig;
            if (field == 1) x.rule = norig + 7;
            if (field == 2) std::swap(x.first, x.last);
            set_element(b, SectionKind::exclusions, 0, x);
            reseal(b);
            INFO("field " << field);
            expect_cold_error(b, Status::corrupt, {"exclusions", "refers outside the file or is empty"});
        }
    }
    SUBCASE("a torn entry") {
        Buffer b = intact;
        auto raw = raw_of(b, SectionKind::exclusions);
        raw.resize(raw.size() - 1);
        replace_section(b, SectionKind::exclusions, raw);
        expect_cold_error(b, Status::corrupt, {"exclusions", "not a multiple"});
    }
    SUBCASE("none at all is fine") {
        Buffer b = intact;
        replace_section(b, SectionKind::exclusions, {});
        auto db = Database::from_bytes(b.bytes());
        REQUIRE(db);
        auto cold = ColdData::load(*db);
        REQUIRE(cold);
        CHECK(cold->explain(ip_of("2001:db8:1::1")).exclusions.empty());
        CHECK(verify(*db).has_value());
    }
}

namespace {

// Replaces a section's stored bytes, with the encoding and raw size given.
void replace_stored(Buffer& b, SectionKind kind, std::vector<std::byte> stored, format::Encoding encoding, std::uint64_t raw_size) {
    auto secs = sections_of(b);
    for (auto& s : secs) {
        if (s.e.kind != static_cast<std::uint32_t>(kind)) continue;
        s.e.encoding = static_cast<std::uint32_t>(encoding);
        s.e.raw_size = raw_size;
        s.bytes = std::move(stored);
    }
    b = assemble(b, secs);
}

std::vector<std::byte> zstd_frame(std::span<const std::byte> raw, bool content_size = true) {
    ZSTD_CCtx* cctx = ZSTD_createCCtx();
    REQUIRE(cctx != nullptr);
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, content_size ? 1 : 0);
    std::vector<std::byte> out(ZSTD_compressBound(raw.size()));
    const std::size_t n = ZSTD_compress2(cctx, out.data(), out.size(), raw.data(), raw.size());
    ZSTD_freeCCtx(cctx);
    REQUIRE_MESSAGE(!ZSTD_isError(n), ZSTD_getErrorName(n));
    out.resize(n);
    return out;
}

}  // namespace

TEST_CASE("hostile: zstd frames and cold checksums") {
    const Buffer intact = small_db(true);
    const std::string meta_text = "{\"note\":\"" + std::string(180, 'm') + "\"}";  // under 256 bytes
    const auto meta = bytes_of(meta_text);
    SUBCASE("declared content size differs from raw_size") {
        for (auto kind : {SectionKind::origins, SectionKind::origin_text, SectionKind::evidence, SectionKind::metadata}) {
            REQUIRE(entry(intact, kind).encoding == static_cast<std::uint32_t>(format::Encoding::zstd));
            for (std::int64_t delta : {std::int64_t{1}, std::int64_t{-1}, std::int64_t{1} << 40}) {
                INFO(kind_name(kind) << ", raw size changed by " << delta);
                Buffer b = intact;
                auto e = entry(b, kind);
                e.raw_size = static_cast<std::uint64_t>(static_cast<std::int64_t>(e.raw_size) + delta);
                set_entry(b, kind, e);
                reseal(b);
                expect_cold_error(b, Status::decompress, {kind_name(kind), "bad frame size"});
            }
        }
    }
    SUBCASE("not a frame") {
        Buffer b = intact;
        const auto e = entry(b, SectionKind::origins);
        b.put(e.offset, std::uint32_t{0x12345678});  // zstd magic gone
        reseal(b);
        expect_cold_error(b, Status::decompress, {"origins"});
    }
    SUBCASE("a frame without its content size") {
        Buffer b = intact;
        replace_stored(b, SectionKind::metadata, zstd_frame(meta, false), format::Encoding::zstd, meta.size());
        expect_cold_error(b, Status::decompress, {"metadata", "bad frame size"});
    }
    SUBCASE("a frame that declares raw_size but decodes to another size") {
        // Single-segment frame of a small input: its content size is the one
        // byte after the frame header descriptor (RFC 8878, 3.1.1.1).
        auto frame = zstd_frame(meta);
        REQUIRE(meta.size() < 256);
        const auto fhd = std::to_integer<unsigned>(frame[4]);
        REQUIRE((fhd >> 6) == 0);         // Frame_Content_Size_Flag 0...
        REQUIRE(((fhd >> 5) & 1) == 1);   // ...with Single_Segment_Flag: a 1-byte size
        REQUIRE((fhd & 3) == 0);          // no dictionary id
        REQUIRE(std::to_integer<std::size_t>(frame[5]) == meta.size());
        for (int d : {-1, 1}) {
            INFO("declared " << meta.size() + d);
            auto f = frame;
            f[5] = static_cast<std::byte>(meta.size() + d);
            Buffer b = intact;
            replace_stored(b, SectionKind::metadata, f, format::Encoding::zstd, meta.size() + d);
            expect_cold_error(b, Status::decompress, {"metadata"});
        }
        // The frame as made decodes (the edit above is the only fault).
        Buffer b = intact;
        replace_stored(b, SectionKind::metadata, frame, format::Encoding::zstd, meta.size());
        auto db = Database::from_bytes(b.bytes());
        REQUIRE(db);
        auto cold = ColdData::load(*db);
        REQUIRE_MESSAGE(cold, cold.error().message);
        CHECK(cold->metadata_json() == meta_text);
    }
    SUBCASE("two frames, where the format has one") {
        auto frames = zstd_frame(meta);
        const auto second = zstd_frame(meta);
        frames.insert(frames.end(), second.begin(), second.end());
        Buffer b = intact;
        replace_stored(b, SectionKind::metadata, frames, format::Encoding::zstd, meta.size());
        expect_cold_error(b, Status::decompress, {"metadata"});
    }
    SUBCASE("a frame declaring more than 4 GiB is refused before anything is allocated") {
        // Hand-made frame header: magic, descriptor (8-byte content size, no
        // single segment), window descriptor, the size, then one empty last
        // raw block.
        std::vector<std::byte> f;
        for (unsigned v : {0x28u, 0xb5u, 0x2fu, 0xfdu, 0xc0u, 0x00u}) f.push_back(static_cast<std::byte>(v));
        const std::uint64_t declared = (std::uint64_t{1} << 32) + 1;
        for (unsigned i = 0; i < 8; ++i) f.push_back(static_cast<std::byte>(declared >> (8 * i)));
        for (unsigned v : {0x01u, 0x00u, 0x00u}) f.push_back(static_cast<std::byte>(v));
        REQUIRE(ZSTD_getFrameContentSize(f.data(), f.size()) == declared);
        Buffer b = intact;
        replace_stored(b, SectionKind::metadata, f, format::Encoding::zstd, declared);
        expect_cold_error(b, Status::decompress, {"metadata", "bad frame size"});
    }
    SUBCASE("cold checksum wrong") {
        for (auto kind : {SectionKind::providers, SectionKind::origins, SectionKind::origin_text, SectionKind::evidence,
                          SectionKind::exclusions, SectionKind::metadata}) {
            Buffer b = intact;
            const auto e = entry(b, kind);
            b.flip(e.offset + e.stored_size / 2, 0x04);
            INFO(kind_name(kind));
            expect_cold_error(b, Status::checksum, {kind_name(kind)});
        }
    }
}

TEST_CASE("hostile: answers that contradict the evidence open, and verify() says so") {
    const Buffer intact = small_db(true);
    auto db0 = Database::from_bytes(intact.bytes());
    REQUIRE(db0);
    const std::uint32_t nans = db0->answer_count();
    const HotTable v4 = read_table(intact, true);
    auto with_answer = [&](std::uint32_t id, auto edit) {
        Buffer b = intact;
        auto a = element<format::Answer>(b, SectionKind::answers, id);
        edit(a);
        set_element(b, SectionKind::answers, id, a);
        reseal(b);
        return b;
    };
    SUBCASE("categories, AS or provider of an answer changed") {
        for (std::uint32_t id = 1; id < nans; ++id) {
            INFO("answer " << id);
            expect_verify_error(with_answer(id, [](format::Answer& a) { a.categories ^= kHosting; }), {"section answers"});
            expect_verify_error(with_answer(id, [](format::Answer& a) { a.asn += 1; }), {"section answers"});
            expect_verify_error(with_answer(id, [](format::Answer& a) { a.provider.length = a.provider.length ? 0 : 1; }),
                                {"section answers"});
        }
    }
    SUBCASE("a segment given another answer") {
        std::uint32_t i = 1;
        while (!(v4.ids[i] != 0 && v4.ids[i - 1] != 0 && i + 1 < v4.ids.size() && v4.ids[i + 1] != v4.ids[i - 1])) {
            ++i;
            REQUIRE(i < v4.ids.size());
        }
        HotTable t = v4;
        t.ids[i] = t.ids[i - 1] == 0 ? 1 : 0;
        while (t.ids[i] == t.ids[i - 1] || t.ids[i] == t.ids[i + 1] || t.ids[i] == v4.ids[i]) ++t.ids[i];
        REQUIRE(t.ids[i] < nans);
        Buffer b = intact;
        write_table(b, true, t);
        expect_verify_error(b, {"section answers"});
    }
    SUBCASE("a segment start moved by one address") {
        std::uint32_t i = 1;
        while (!(v4.starts[i] != kV4First && ip_next(v4.starts[i]) < v4.starts.at(i + 1) &&
                 (v4.starts[i].v4() >> 16) == (ip_next(v4.starts[i]).v4() >> 16)))
            ++i;
        HotTable t = v4;
        t.starts[i] = ip_next(t.starts[i]);
        Buffer b = intact;
        write_table(b, true, t);
        expect_verify_error(b, {"section answers"});
    }
}

TEST_CASE("answers: an entry with no category, provider or AS still answers flagged") {
    // Answer 0 is "no evidence" alone: an entry that names nothing gets an
    // answer of its own, all fields zero, and lookups report it flagged.
    Generated g;
    auto& c = g.content;
    c.build_time = 1767225600;
    c.feeds.push_back(writer::FeedInfo{});
    c.feeds.back().name = std::string("f");
    g.add_row("198.51.100.0/24", g.add_origin(0, 1, 0, 0, "198.51.100.0/24"));
    merge_ranges(c);
    REQUIRE(c.ranges.size() == 1);
    auto bytes = serialize(c, true);
    REQUIRE_MESSAGE(bytes, bytes.error().message);
    const Buffer b(*bytes);
    auto db = Database::from_bytes(b.bytes());
    REQUIRE_MESSAGE(db, db.error().message);
    CHECK(db->answer_count() == 2);
    const auto a1 = element<format::Answer>(b, SectionKind::answers, 1);
    CHECK((a1.categories == 0 && a1.asn == 0 && a1.provider.offset == 0 && a1.provider.length == 0));
    CHECK(db->lookup(ip_of("198.51.100.7")).flagged);
    CHECK(db->locate(ip_of("198.51.100.7")).answer == 1);
    CHECK_FALSE(db->lookup(ip_of("198.51.101.0")).flagged);
    std::vector<LookupResult> many(1);
    const Ip one = ip_of("198.51.100.7");
    db->lookup_many(std::span(&one, 1), many);
    CHECK(many[0].flagged);
    CHECK(verify(*db).has_value());
    auto cold = ColdData::load(*db);
    REQUIRE(cold);
    const std::uint32_t row = 0;
    CHECK(cold->answer_of(std::span(&row, 1)).flagged);
    CHECK_FALSE(cold->answer_of({}).flagged);
    Rng rng(17);
    check_round_trip(c, false, rng);
}

TEST_CASE("open: deferred checks answer as full ones on valid files, and verify() passes") {
    std::vector<Buffer> files = {small_db(true), small_db(false)};
    {
        Generated g;
        medium_content(g);
        auto bytes = serialize(g.content, true);
        REQUIRE(bytes);
        files.emplace_back(*bytes);
    }
    Rng rng(31);
    for (int i = 0; i < 5; ++i) {
        Generated g;
        generate(rng, g);
        auto bytes = serialize(g.content, i % 2 == 0);
        REQUIRE(bytes);
        files.emplace_back(*bytes);
    }
    for (const Buffer& b : files) {
        auto full = Database::from_bytes(b.bytes());
        auto deferred = Database::from_bytes(b.bytes(), {OpenChecks::deferred});
        REQUIRE_MESSAGE(full, full.error().message);
        REQUIRE_MESSAGE(deferred, deferred.error().message);
        std::vector<Ip> probes = small_probes();
        for (int k = 0; k < 200; ++k) probes.push_back(random_point(rng, rand32(rng)));
        CHECK(answers(*deferred, probes) == answers(*full, probes));
        CHECK(deferred->answer_count() == full->answer_count());
        CHECK(deferred->v4_index_bits() == full->v4_index_bits());
        CHECK(verify(*deferred).has_value());
    }
}

// ---- atomic write -----------------------------------------------------------------

namespace {

// Two versions of one small database that answer differently, for the
// publishing tests: their bytes and what each answers on small_probes().
struct TwoVersions {
    Generated a, b;
    std::optional<std::vector<std::byte>> bytes_a, bytes_b;
    std::vector<Seen> answers_a, answers_b;

    TwoVersions() {
        small_content(a);
        small_content(b);
        b.content.build_time += 86400;
        b.content.origins[0].categories = kProxy;           // another answer for 10.0.0.7
        b.add_row("2001:dead::/32", 12);                     // and a new row
        merge_ranges(b.content);
        auto sa = writer::serialize(a.content), sb = writer::serialize(b.content);
        REQUIRE(sa);
        REQUIRE(sb);
        bytes_a = std::move(*sa);
        bytes_b = std::move(*sb);
        const Buffer buf_a(*bytes_a), buf_b(*bytes_b);
        auto mem_a = Database::from_bytes(buf_a.bytes());
        auto mem_b = Database::from_bytes(buf_b.bytes());
        REQUIRE(mem_a);
        REQUIRE(mem_b);
        answers_a = answers(*mem_a, small_probes());
        answers_b = answers(*mem_b, small_probes());
        REQUIRE(answers_a != answers_b);
    }
};

}  // namespace

TEST_CASE("write_file_atomic: replaces the whole file, a mapped old version stays valid") {
    TwoVersions v;
    const Generated& a = v.a;
    const auto &bytes_a = v.bytes_a, &bytes_b = v.bytes_b;
    const auto &answers_a = v.answers_a, &answers_b = v.answers_b;
    const auto probes = small_probes();

    TempDir dir;
    const auto path = dir.path / "db.anondb";
    auto w = writer::write_file_atomic(path.string(), *bytes_a);
    REQUIRE_MESSAGE(w, w.error().message);
    CHECK(dir.listing() == std::set<std::string>{"db.anondb"});
    CHECK(read_bytes(path) == *bytes_a);

    auto old_db = Database::open(path.string());
    REQUIRE_MESSAGE(old_db, old_db.error().message);
    CHECK(answers(*old_db, probes) == answers_a);

    w = writer::write_file_atomic(path.string(), *bytes_b);
    REQUIRE_MESSAGE(w, w.error().message);
    CHECK(dir.listing() == std::set<std::string>{"db.anondb"});
    CHECK(read_bytes(path) == *bytes_b);
    // The old mapping still answers from the old version, intact.
    CHECK(answers(*old_db, probes) == answers_a);
    CHECK(old_db->header().build_time == a.content.build_time);
    CHECK(verify(*old_db).has_value());
    auto new_db = Database::open(path.string());
    REQUIRE(new_db);
    CHECK(answers(*new_db, probes) == answers_b);

    SUBCASE("a missing directory fails cleanly and creates nothing") {
        const auto missing = dir.path / "missing" / "x.anondb";
        auto r = writer::write_file_atomic(missing.string(), *bytes_a);
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error().status == Status::io);
        CHECK(contains(r.error().message, (dir.path / "missing").string()));
        CHECK_FALSE(fs::exists(dir.path / "missing"));
        CHECK(dir.listing() == std::set<std::string>{"db.anondb"});
    }
    SUBCASE("a target that cannot be replaced leaves no temporary file") {
        fs::create_directory(dir.path / "occupied");
        write_bytes(dir.path / "occupied" / "keep", std::span<const std::byte>{});
        auto r = writer::write_file_atomic((dir.path / "occupied").string(), *bytes_a);
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error().status == Status::io);
        CHECK(dir.listing() == std::set<std::string>{"db.anondb", "occupied"});
        CHECK(fs::exists(dir.path / "occupied" / "keep"));
        CHECK(read_bytes(path) == *bytes_b);
    }
}

TEST_CASE("write_file_atomic: a writer killed mid-write leaves no file behind and the old one intact") {
    Generated a;
    small_content(a);
    auto bytes_a = writer::serialize(a.content);
    REQUIRE(bytes_a);
    TempDir dir;
    const auto path = dir.path / "db.anondb";
    REQUIRE(writer::write_file_atomic(path.string(), *bytes_a));
    // Large enough that the kill lands while the bytes go in.
    const std::vector<std::byte> big(std::size_t{256} << 20, std::byte{0x5a});
    int killed_while_writing = 0;
    for (const int delay_ms : {5, 40, 120}) {
        CAPTURE(delay_ms);
        int ready[2];
        REQUIRE(::pipe(ready) == 0);
        const pid_t pid = ::fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            ::close(ready[0]);
            (void)::write(ready[1], "r", 1);  // about to write
            const auto r = writer::write_file_atomic(path.string(), big);
            ::_exit(r ? 0 : 1);
        }
        ::close(ready[1]);
        char c;
        REQUIRE(::read(ready[0], &c, 1) == 1);
        ::close(ready[0]);
        ::usleep(static_cast<useconds_t>(delay_ms * 1000));
        ::kill(pid, SIGKILL);
        int status = 0;
        REQUIRE(::waitpid(pid, &status, 0) == pid);
        const bool killed = WIFSIGNALED(status);
        killed_while_writing += killed;
        CHECK(dir.listing() == std::set<std::string>{"db.anondb"});  // no temporary file
        if (killed) CHECK(read_bytes(path) == *bytes_a);               // the old version, whole
    }
    CHECK(killed_while_writing > 0);  // the test killed at least one writer before it finished
}

TEST_CASE("write_file_atomic: a reader reopening in a loop sees whole versions while 100 publish") {
    // Two versions with other answers; a reader process opens the path (all
    // checks), looks up, and checks the answers are the ones of the version
    // the header says, over and over, while this process publishes.
    TwoVersions v;
    const Generated &a = v.a, &b = v.b;
    const auto &bytes_a = v.bytes_a, &bytes_b = v.bytes_b;
    const auto &answers_a = v.answers_a, &answers_b = v.answers_b;
    const auto probes = small_probes();

    TempDir dir;
    const auto path = (dir.path / "db.anondb").string();
    REQUIRE(writer::write_file_atomic(path, *bytes_a));
    int stop[2];
    REQUIRE(::pipe(stop) == 0);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::close(stop[1]);
        ::fcntl(stop[0], F_SETFL, O_NONBLOCK);
        int bad = 0, seen_a = 0, seen_b = 0;
        for (char c; ::read(stop[0], &c, 1) != 1;) {
            auto db = Database::open(path);
            if (!db) {
                ++bad;
                continue;
            }
            const bool is_a = db->header().build_time == a.content.build_time;
            const bool is_b = db->header().build_time == b.content.build_time;
            if (!(is_a || is_b) || answers(*db, probes) != (is_a ? answers_a : answers_b)) ++bad;
            seen_a += is_a;
            seen_b += is_b;
        }
        // Exit status: 0 all good; 1 a torn or failed open; 2 one version only.
        ::_exit(bad ? 1 : (seen_a && seen_b) ? 0 : 2);
    }
    ::close(stop[0]);
    for (int i = 0; i < 100; ++i) {
        auto w = writer::write_file_atomic(path, i % 2 ? *bytes_a : *bytes_b);
        REQUIRE_MESSAGE(w, w.error().message);
        ::usleep(1000);  // let the reader open each version a few times
    }
    (void)::write(stop[1], "s", 1);
    ::close(stop[1]);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    CHECK(dir.listing() == std::set<std::string>{"db.anondb"});
}

TEST_CASE("Database::open: files that are not databases") {
    TempDir dir;
    auto missing = Database::open((dir.path / "nope.anondb").string());
    REQUIRE_FALSE(missing.has_value());
    CHECK(missing.error().status == Status::io);
    CHECK(contains(missing.error().message, "nope.anondb"));

    auto directory = Database::open(dir.path.string());
    REQUIRE_FALSE(directory.has_value());
    CHECK(directory.error().status == Status::io);

    const std::string text = "this is a text file, long enough to hold a header but not an anondb database at all.\n";
    write_bytes(dir.path / "text", std::as_bytes(std::span(text)));
    auto t = Database::open((dir.path / "text").string());
    REQUIRE_FALSE(t.has_value());
    CHECK(t.error().status == Status::not_anondb);
    CHECK(contains(t.error().message, "text"));

    // A 1.x file (major 1) is refused as a version, not as damage.
    Buffer old = small_db(true);
    auto h = header_of(old);
    h.major = 1;
    h.minor = 2;
    old.put(0, h);
    reseal(old);
    write_bytes(dir.path / "old.anondb", old.bytes());
    auto o = Database::open((dir.path / "old.anondb").string());
    REQUIRE_FALSE(o.has_value());
    CHECK(o.error().status == Status::unsupported_version);

    // from_bytes refuses a buffer the reader cannot use in place.
    const Buffer buf = small_db(true);
    std::vector<std::byte> shifted(buf.size() + 1);
    std::memcpy(shifted.data() + 1, buf.data(), buf.size());
    const bool misaligned = reinterpret_cast<std::uintptr_t>(shifted.data() + 1) % 8 != 0;
    REQUIRE(misaligned);
    auto m = Database::from_bytes(std::span<const std::byte>(shifted.data() + 1, buf.size()));
    REQUIRE_FALSE(m.has_value());
    CHECK(m.error().status == Status::invalid_argument);
}

// ---- C API ----------------------------------------------------------------------------

TEST_CASE("C API: open, lookups in every form, errors") {
    Generated g;
    small_content(g);
    const auto& c = g.content;
    auto bytes = writer::serialize(c);
    REQUIRE(bytes);
    TempDir dir;
    const auto path = (dir.path / "c.anondb").string();
    REQUIRE(writer::write_file_atomic(path, *bytes));

    char err[512] = "untouched";
    anondb_db* db = nullptr;
    REQUIRE(anondb_open(path.c_str(), &db, err, sizeof err) == ANONDB_OK);
    REQUIRE(db != nullptr);
    CHECK(anondb_data_version(db) == c.data_version);
    CHECK(anondb_build_time(db) == c.build_time);

    // The answers worked out by hand from small_content's evidence
    // (FORMAT.md, Answer semantics); the oracle must agree.
    struct Probe {
        const char* text;
        bool flagged;
        std::uint32_t categories;
        const char* provider;
        std::uint32_t asn;
    };
    const Probe probes[] = {
        {"10.0.0.7", true, kTorExit | kHosting, "Example VPN", 0},  // exit row and 10.0.0.0/24 of Example VPN
        {"10.0.0.8", true, kHosting, "Example VPN", 0},
        {"10.0.1.7", false, 0, "", 0},
        {"10.0.2.9", true, kTorExit, "", 0},
        {"192.0.2.1", true, kHosting, "Example Hosting", 0},        // two /24 rows
        {"192.0.2.200", true, kHosting, "Example VPN", 0},          // the narrower /25
        {"198.51.100.9", true, kHosting | kVpn, "Example Hosting", 64501},  // direct before derived
        {"198.51.101.9", true, kHosting, "Example Hosting", 0},
        {"203.0.113.9", false, 0, "", 0},
        {"2001:db8::1", true, kVpn, "Example VPN", 64500},
        {"2001:db8:1::1", false, 0, "", 0},  // excluded
        {"2001:db9::ff", true, kHosting, "Example Hosting", 0},    // equal widths: the lower provider index
        {"2001:db9::100", true, kHosting, "Example VPN", 0},
        {"255.255.255.255", true, kHosting, "Example Hosting", 0},  // a row across the block's edge
        {"::1:0:0:5", true, kHosting, "Example Hosting", 0},
        {"::", false, 0, "", 0},
    };
    const Oracle oracle(c);
    std::map<std::tuple<bool, std::uint32_t, std::string, std::uint32_t>, std::uint32_t> id_of;
    std::set<std::uint32_t> ids;
    for (const Probe& p : probes) {
        INFO(p.text);
        const Ip a = ip_of(p.text);
        const Want w = oracle.answer_at(a);
        REQUIRE((w.flagged == p.flagged && w.categories == p.categories && c.providers[w.provider] == p.provider &&
                 w.asn == p.asn));

        auto expect = [&](const anondb_result& r) {
            CHECK((r.answer != 0) == p.flagged);
            CHECK(r.categories == p.categories);
            CHECK(r.anonymous == (is_anonymous(p.categories) ? 1 : 0));
            CHECK(std::string_view(r.provider_len ? r.provider : "", r.provider_len) == p.provider);
            CHECK(r.asn == p.asn);
        };
        anondb_result r{};
        REQUIRE(anondb_lookup(db, p.text, &r) == ANONDB_OK);
        expect(r);
        // Equal answers, equal ids; other answers, other ids.
        const auto [it, fresh] = id_of.emplace(std::tuple(p.flagged, p.categories, std::string(p.provider), p.asn), r.answer);
        CHECK(it->second == r.answer);
        if (fresh) CHECK(ids.insert(r.answer).second);
        anondb_result r6{};
        const auto b = a.to_bytes();
        REQUIRE(anondb_lookup_v6(db, b.data(), &r6) == ANONDB_OK);
        expect(r6);
        CHECK(r6.answer == r.answer);
        if (a.is_v4()) {
            anondb_result r4{};
            REQUIRE(anondb_lookup_v4(db, a.v4(), &r4) == ANONDB_OK);
            expect(r4);
            CHECK(r4.answer == r.answer);
            const std::string mapped = "::ffff:" + std::string(p.text);  // the same address in IPv6 text
            anondb_result rm{};
            REQUIRE(anondb_lookup(db, mapped.c_str(), &rm) == ANONDB_OK);
            expect(rm);
        }
    }
    CHECK(id_of.size() < std::size(probes));  // some answers repeat, so the id check bit
    anondb_result r4{};
    REQUIRE(anondb_lookup_v4(db, 0xC0000201u, &r4) == ANONDB_OK);  // 192.0.2.1 in host order
    CHECK(r4.categories == kHosting);
    CHECK(std::string_view(r4.provider, r4.provider_len) == "Example Hosting");

    for (const char* bad : {"", "10.0.0", "10.0.0.256", "010.0.0.1", "::g", "1.2.3.4/24", " 10.0.0.7", "2001:db8::1%eth0"}) {
        INFO("'" << bad << "'");
        anondb_result r{};
        CHECK(anondb_lookup(db, bad, &r) == ANONDB_ERR_BAD_ADDRESS);
    }
    anondb_result r{};
    const std::uint8_t zeros[16] = {};
    CHECK(anondb_lookup(nullptr, "1.2.3.4", &r) == ANONDB_ERR_INVALID_ARGUMENT);
    CHECK(anondb_lookup(db, nullptr, &r) == ANONDB_ERR_INVALID_ARGUMENT);
    CHECK(anondb_lookup(db, "1.2.3.4", nullptr) == ANONDB_ERR_INVALID_ARGUMENT);
    CHECK(anondb_lookup_v4(nullptr, 1, &r) == ANONDB_ERR_INVALID_ARGUMENT);
    CHECK(anondb_lookup_v4(db, 1, nullptr) == ANONDB_ERR_INVALID_ARGUMENT);
    CHECK(anondb_lookup_v6(db, nullptr, &r) == ANONDB_ERR_INVALID_ARGUMENT);
    CHECK(anondb_lookup_v6(nullptr, zeros, &r) == ANONDB_ERR_INVALID_ARGUMENT);
    CHECK(anondb_data_version(nullptr) == 0);
    CHECK(anondb_build_time(nullptr) == 0);
    anondb_close(db);
    anondb_close(nullptr);

    // Failing opens: the code, NULL handle, and a message naming the file.
    auto open_fails = [&](const std::string& p, int code, std::initializer_list<std::string_view> words) {
        INFO(p);
        int dummy = 0;
        anondb_db* h = reinterpret_cast<anondb_db*>(&dummy);
        char buf[512] = "";
        CHECK(anondb_open(p.c_str(), &h, buf, sizeof buf) == code);
        CHECK(h == nullptr);
        CHECK(contains(buf, p));
        for (auto w : words) CHECK_MESSAGE(contains(buf, w), buf);
    };
    open_fails((dir.path / "missing.anondb").string(), ANONDB_ERR_IO, {});

    Buffer corrupt(*bytes);
    corrupt.flip(entry(corrupt, SectionKind::v4_starts).offset + 5, 0x40);
    write_bytes(dir.path / "corrupt.anondb", corrupt.bytes());
    open_fails((dir.path / "corrupt.anondb").string(), ANONDB_ERR_CHECKSUM, {"v4_starts"});

    Buffer structure(*bytes);  // behind a valid checksum: the structural check
    set_element(structure, SectionKind::v4_starts, 0, std::uint16_t{1});
    reseal(structure);
    write_bytes(dir.path / "structure.anondb", structure.bytes());
    open_fails((dir.path / "structure.anondb").string(), ANONDB_ERR_CORRUPT, {"v4_starts", "lowest"});

    write_bytes(dir.path / "short.anondb", std::span<const std::byte>(*bytes).first(bytes->size() - 100));
    open_fails((dir.path / "short.anondb").string(), ANONDB_ERR_TRUNCATED, {});

    Buffer magic(*bytes);
    magic.flip(0, 0xff);
    write_bytes(dir.path / "magic.anondb", magic.bytes());
    open_fails((dir.path / "magic.anondb").string(), ANONDB_ERR_NOT_ANONDB, {});

    Buffer major(*bytes);
    auto h = header_of(major);
    h.major = 3;
    major.put(0, h);
    reseal(major);
    write_bytes(dir.path / "major.anondb", major.bytes());
    open_fails((dir.path / "major.anondb").string(), ANONDB_ERR_UNSUPPORTED_VERSION, {});

    Buffer missing_section(*bytes);
    auto e = entry(missing_section, SectionKind::evidence);
    e.kind = 77;
    set_entry(missing_section, SectionKind::evidence, e);
    reseal(missing_section);
    write_bytes(dir.path / "missing-section.anondb", missing_section.bytes());
    open_fails((dir.path / "missing-section.anondb").string(), ANONDB_ERR_MISSING_SECTION, {"evidence"});

    // A small errbuf gets a cut, terminated message; NULL errbuf is allowed.
    char small[8];
    std::memset(small, 'x', sizeof small);
    anondb_db* h2 = nullptr;
    const std::string missing = (dir.path / "missing.anondb").string();
    char full[512] = "";
    CHECK(anondb_open(missing.c_str(), &h2, full, sizeof full) == ANONDB_ERR_IO);
    CHECK(anondb_open(missing.c_str(), &h2, small, sizeof small) == ANONDB_ERR_IO);
    CHECK(std::strlen(small) == sizeof small - 1);
    CHECK(std::string_view(full).substr(0, sizeof small - 1) == small);
    CHECK(anondb_open(missing.c_str(), &h2, nullptr, 0) == ANONDB_ERR_IO);
    CHECK(anondb_open(nullptr, &h2, err, sizeof err) == ANONDB_ERR_INVALID_ARGUMENT);
    CHECK(anondb_open(path.c_str(), nullptr, err, sizeof err) == ANONDB_ERR_INVALID_ARGUMENT);
}

TEST_CASE("C API: status numbers and anondb_strerror") {
    const std::pair<int, Status> codes[] = {
        {ANONDB_OK, Status::ok},
        {ANONDB_ERR_IO, Status::io},
        {ANONDB_ERR_NOT_ANONDB, Status::not_anondb},
        {ANONDB_ERR_UNSUPPORTED_VERSION, Status::unsupported_version},
        {ANONDB_ERR_TRUNCATED, Status::truncated},
        {ANONDB_ERR_CORRUPT, Status::corrupt},
        {ANONDB_ERR_CHECKSUM, Status::checksum},
        {ANONDB_ERR_MISSING_SECTION, Status::missing_section},
        {ANONDB_ERR_BAD_ADDRESS, Status::bad_address},
        {ANONDB_ERR_DECOMPRESS, Status::decompress},
        {ANONDB_ERR_BAD_SIGNATURE, Status::bad_signature},
        {ANONDB_ERR_INVALID_ARGUMENT, Status::invalid_argument},
    };
    std::set<std::string> texts;
    for (const auto& [code, status] : codes) {
        INFO("code " << code);
        CHECK(code == static_cast<int>(status));
        const char* text = anondb_strerror(code);
        REQUIRE(text != nullptr);
        CHECK(std::string_view(text) == status_text(status));
        CHECK(std::strlen(text) > 0);
        texts.insert(text);
    }
    CHECK(texts.size() == std::size(codes));  // every code has its own text
    for (int code : {-1, 12, 1000}) {
        const char* text = anondb_strerror(code);
        REQUIRE(text != nullptr);
        CHECK(texts.count(text) == 0);
    }
}
