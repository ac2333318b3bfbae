// The .anondb format end to end: XXH64 against libxxhash; writer -> reader
// round trips checked against a brute-force oracle; determinism; every
// truncation; random and targeted corruption; hostile files crafted with
// valid checksums so the structural checks are reached; atomic replacement
// of a mapped file; and the C API.
#include <doctest/doctest.h>

#include <xxhash.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <deque>
#include <filesystem>
#include <initializer_list>
#include <iterator>
#include <optional>
#include <random>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "anondb/anondb.h"
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

Ip ip_add(Ip a, std::uint64_t d) {
    Ip r{a.hi, a.lo + d};
    if (r.lo < a.lo) ++r.hi;  // wraps past kIpMax, which only makes another valid address
    return r;
}
Ip ip_sub(Ip a, std::uint64_t d) {
    Ip r{a.hi, a.lo - d};
    if (a.lo < d) --r.hi;
    return r;
}

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

// ---- content generation -------------------------------------------------------

// A DatabaseContent together with the storage its origin texts view.
struct Generated {
    writer::DatabaseContent content;
    std::deque<std::string> texts;

    Generated() = default;
    Generated(const Generated&) = delete;
    Generated& operator=(const Generated&) = delete;

    void add_origin(std::uint32_t feed, std::uint32_t line, std::uint32_t categories, std::uint32_t provider,
                    std::string text) {
        texts.push_back(std::move(text));
        content.origins.push_back({feed, line, categories, provider, texts.back()});
    }
};

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
        case 3: return Ip{(kTops[below(rng, 4)] << 48) | (rng() >> 44), rng()};  // shared top-16 buckets
        case 4: {
            const Ip base = kEdges[below(rng, kEdges.size())];
            const std::uint64_t d = below(rng, 300);
            return chance(rng, 0.5) ? ip_add(base, d) : ip_sub(base, d);
        }
        case 5: return Ip{0, rng()};  // the low space, around the IPv4-mapped block
        default: return Ip{below(rng, 3), rng()};
    }
}

void generate(Rng& rng, Generated& g) {
    auto& c = g.content;
    c.build_time = static_cast<std::int64_t>(rng());
    c.data_version = rng();
    const std::size_t nprov = 1 + below(rng, 5);
    for (std::size_t i = 1; i < nprov; ++i)
        c.providers.push_back("provider " + std::to_string(i) + " " + random_text(rng, 12, false));

    const std::size_t nfeed = below(rng, 4);
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
        f.role = static_cast<format::FeedRole>(below(rng, format::kMaxFeedRole + 1));
        f.asn_table = static_cast<std::uint32_t>(below(rng, nfeed + 1));
        c.feeds.push_back(std::move(f));
    }

    const std::size_t norigin = nfeed ? below(rng, 60) : 0;
    for (std::size_t i = 0; i < norigin; ++i) {
        g.add_origin(static_cast<std::uint32_t>(below(rng, nfeed)), rand32(rng), rand32(rng) & kAllCategories,
                     static_cast<std::uint32_t>(below(rng, nprov)), random_text(rng, 80, chance(rng, 0.3)));
        if (chance(rng, 0.3)) c.origins.back().asn = rand32(rng);
    }
    // One-step links: the first third of the origins are table rows, which
    // some later origins point at.
    for (std::size_t i = norigin / 3; i < norigin && norigin >= 3; ++i)
        if (chance(rng, 0.4)) c.origins[i].link = static_cast<std::uint32_t>(below(rng, norigin / 3));
    for (std::size_t i = 0; norigin && i < below(rng, 5); ++i) {
        const Ip a = random_point(rng, rand32(rng)), b = random_point(rng, rand32(rng));
        c.exclusions.push_back({{std::min(a, b), std::max(a, b)}, static_cast<std::uint32_t>(below(rng, norigin)),
                                static_cast<std::uint32_t>(below(rng, norigin))});
    }

    const std::size_t nrec = 1 + below(rng, 40);
    for (std::size_t r = 1; r < nrec; ++r) {
        const std::uint32_t cats = chance(rng, 0.1) ? rand32(rng) : rand32(rng) & kAllCategories;
        c.records.push_back({cats, static_cast<std::uint32_t>(below(rng, nprov))});
        std::set<std::uint32_t> picks;
        if (r == 1 && chance(rng, 0.8)) c.record_asns.assign(nrec, 0);  // else none at all
        if (!c.record_asns.empty() && chance(rng, 0.5)) c.record_asns[r] = rand32(rng);
        const std::size_t k = norigin ? below(rng, std::min<std::size_t>(6, norigin + 1)) : 0;
        while (picks.size() < k) picks.insert(static_cast<std::uint32_t>(below(rng, norigin)));
        c.prov_origins.insert(c.prov_origins.end(), picks.begin(), picks.end());
        c.prov_offsets.push_back(static_cast<std::uint32_t>(c.prov_origins.size()));
    }

    if (nrec > 1) {
        if (chance(rng, 0.04)) {
            c.ranges.push_back({{kIpMin, kIpMax}, static_cast<std::uint32_t>(1 + below(rng, nrec - 1))});
        } else {
            // Cut points, then runs of consecutive intervals between them become ranges.
            std::vector<Ip> pts;
            for (Ip e : kEdges)
                if (chance(rng, 0.5)) pts.push_back(e);
            const std::uint32_t cluster = rand32(rng);
            const std::size_t extra = below(rng, 60);
            for (std::size_t i = 0; i < extra; ++i) {
                const Ip p = random_point(rng, cluster);
                pts.push_back(p);
                if (chance(rng, 0.2)) pts.push_back(ip_next(p));  // one-address intervals
            }
            std::sort(pts.begin(), pts.end());
            pts.erase(std::unique(pts.begin(), pts.end()), pts.end());
            std::uint32_t previous = 0;
            for (std::size_t i = 0; i < pts.size();) {
                if (!chance(rng, 0.55)) {
                    ++i;
                    previous = 0;
                    continue;
                }
                const std::size_t j = std::min(pts.size() - 1, i + below(rng, 3));
                const Ip last = j + 1 < pts.size() ? ip_prev(pts[j + 1]) : kIpMax;
                // Sometimes the record of a touching predecessor: the writer must fold them.
                const std::uint32_t rec = (previous && chance(rng, 0.3)) ? previous
                                                                         : static_cast<std::uint32_t>(1 + below(rng, nrec - 1));
                c.ranges.push_back({{pts[i], last}, rec});
                previous = rec;
                i = j + 1;
            }
        }
    }
    c.metadata_json = "{\"seed\":" + std::to_string(rng()) + ",\"pad\":\"" + std::string(below(rng, 300), 'x') + "\"}";
    if (chance(rng, 0.1)) c.metadata_json.clear();  // an empty section
}

// ---- the oracle ---------------------------------------------------------------

constexpr Range kZones[3] = {{kIpMin, ip_prev(kV4First)}, {kV4First, kV4Last}, {ip_next(kV4Last), kIpMax}};

int zone_of(Ip a) { return a < kV4First ? 0 : (a <= kV4Last ? 1 : 2); }

// Brute force over the input: the record of an address is that of the range
// holding it (linear scan), and the expected segments are the maximal runs
// of equal record inside each zone (the IPv4-mapped block and the IPv6 space
// on either side of it).
class Oracle {
public:
    explicit Oracle(const writer::DatabaseContent& c) : c_(c) {
        for (int z = 0; z < 3; ++z) {
            const Range zone = kZones[z];
            std::set<Ip> cuts{zone.first};
            for (const auto& r : c.ranges) {
                if (zone.first < r.range.first && r.range.first <= zone.last) cuts.insert(r.range.first);
                if (zone.first <= r.range.last && r.range.last < zone.last) cuts.insert(ip_next(r.range.last));
            }
            auto& segs = zones_[z];
            for (auto it = cuts.begin(); it != cuts.end(); ++it) {
                const auto next = std::next(it);
                const Ip last = next == cuts.end() ? zone.last : ip_prev(*next);
                const std::uint32_t rec = record_at(*it);
                if (!segs.empty() && segs.back().record == rec) segs.back().range.last = last;
                else segs.push_back({{*it, last}, rec});
            }
        }
    }

    std::uint32_t record_at(Ip a) const {
        for (const auto& r : c_.ranges)
            if (r.range.contains(a)) return r.record;
        return 0;
    }
    const Segment& segment_at(Ip a) const {
        const auto& segs = zones_[zone_of(a)];
        auto it = std::upper_bound(segs.begin(), segs.end(), a, [](Ip x, const Segment& s) { return x < s.range.first; });
        return *std::prev(it);
    }
    std::size_t v4_segments() const { return zones_[1].size(); }
    std::size_t v6_segments() const { return zones_[0].size() + 1 + zones_[2].size(); }

private:
    const writer::DatabaseContent& c_;
    std::array<std::vector<Segment>, 3> zones_;
};

// What lookup/locate/explain must answer for `a`.
void check_address(const Database& db, const ColdData& cold, const writer::DatabaseContent& c, const Oracle& oracle,
                   Ip a) {
    INFO("address " << format_ip(a) << " (hi " << a.hi << ", lo " << a.lo << ")");
    const std::uint32_t rec = oracle.record_at(a);
    const LookupResult got = db.lookup(a);
    CHECK(got.flagged == (rec != 0));
    CHECK(got.categories == c.records[rec].categories);
    CHECK(got.provider == c.providers[c.records[rec].provider]);
    CHECK(got.asn == (c.record_asns.empty() ? 0 : c.record_asns[rec]));
    const Segment seg = db.locate(a);
    const Segment& want = oracle.segment_at(a);
    CHECK(seg.record == rec);
    CHECK(seg.range.first == want.range.first);
    CHECK(seg.range.last == want.range.last);

    const Explanation ex = cold.explain(a);
    CHECK(ex.segment.range == want.range);
    CHECK(ex.segment.record == rec);
    CHECK(ex.result.flagged == (rec != 0));
    const std::uint32_t begin = c.prov_offsets[rec], end = c.prov_offsets[rec + 1];
    REQUIRE(ex.contributions.size() == end - begin);
    for (std::uint32_t k = begin; k < end; ++k) {
        const Contribution& got_c = ex.contributions[k - begin];
        const std::uint32_t id = c.prov_origins[k];
        const auto& o = c.origins[id];
        const auto& f = c.feeds[o.feed];
        const bool same = got_c.origin == id && got_c.feed == o.feed && got_c.feed_name == f.name &&
                          got_c.url == f.url && got_c.source == f.source && got_c.format == f.format &&
                          got_c.fetched_at == f.fetched_at && got_c.sha256 == f.sha256 && got_c.feed_flags == f.flags &&
                          got_c.line == o.line && got_c.text == o.text && got_c.categories == o.categories &&
                          got_c.provider == c.providers[o.provider];
        CHECK_MESSAGE(same, "contribution " << (k - begin) << ": origin " << got_c.origin << " (want " << id
                                            << "), line " << got_c.line << " (want " << o.line << ")");
        CHECK(got_c.asn == o.asn);
        CHECK(got_c.role == f.role);
        CHECK(got_c.table_row.has_value() == (o.link != format::kNoLink));
        if (got_c.table_row && o.link != format::kNoLink) {
            const auto& row = c.origins[o.link];
            CHECK(got_c.table_row->origin == o.link);
            CHECK(got_c.table_row->text == row.text);
            CHECK(got_c.table_row->feed_name == c.feeds[row.feed].name);
            CHECK(got_c.table_row->asn == row.asn);
        }
    }
    // Exclusions: every one whose range holds the address, none other.
    std::multiset<std::tuple<Ip, Ip, std::uint32_t, std::uint32_t>> want_x, got_x;
    for (const auto& x : c.exclusions)
        if (x.range.contains(a)) want_x.insert({x.range.first, x.range.last, x.origin, x.rule});
    for (const auto& x : ex.exclusions) {
        got_x.insert({x.range.first, x.range.last, x.removed.origin, x.rule.origin});
        CHECK(x.rule.text == c.origins[x.rule.origin].text);
        CHECK(x.removed.text == c.origins[x.removed.origin].text);
    }
    CHECK(got_x == want_x);
}

Expected<std::vector<std::byte>> serialize(const writer::DatabaseContent& c, bool compress) {
    writer::WriteOptions options;
    options.compress_cold = compress;
    return writer::serialize(c, options);
}

void check_round_trip(const writer::DatabaseContent& c, bool compress, Rng& rng) {
    auto bytes = serialize(c, compress);
    REQUIRE_MESSAGE(bytes, bytes.error().message);
    const Buffer buf(*bytes);
    auto db = Database::from_bytes(buf.bytes());
    REQUIRE_MESSAGE(db, db.error().message);
    const Oracle oracle(c);

    const auto& h = db->header();
    CHECK(h.major == format::kMajor);
    CHECK(h.file_size == buf.size());
    CHECK(h.build_time == c.build_time);
    CHECK(h.data_version == c.data_version);
    CHECK(db->record_count() == c.records.size());
    CHECK(db->provider_count() == c.providers.size());
    CHECK(db->v4_segment_count() == oracle.v4_segments());
    CHECK(db->v6_segment_count() == oracle.v6_segments());
    REQUIRE(db->feeds().size() == c.feeds.size());
    for (std::size_t i = 0; i < c.feeds.size(); ++i) {
        const auto& fe = db->feeds()[i];
        CHECK(fe.role == static_cast<std::uint32_t>(c.feeds[i].role));
        CHECK(fe.asn_table == c.feeds[i].asn_table);
        const auto& f = c.feeds[i];
        CHECK(db->string(fe.name) == f.name);
        CHECK(db->string(fe.url) == f.url);
        CHECK(db->string(fe.source) == f.source);
        CHECK(db->string(fe.format) == f.format);
        CHECK(fe.categories == f.categories);
        CHECK(fe.provider == f.provider);
        CHECK(fe.fetched_at == f.fetched_at);
        CHECK(fe.bytes == f.bytes);
        CHECK(fe.accepted == f.accepted);
        CHECK(fe.rejected == f.rejected);
        CHECK(std::memcmp(fe.sha256, f.sha256.data(), 32) == 0);
        CHECK(fe.flags == f.flags);
    }
    for (std::uint32_t p = 0; p < c.providers.size(); ++p) CHECK(db->provider_name(p) == c.providers[p]);
    for (const auto& s : db->sections()) {
        CHECK(s.offset % format::kSectionAlign == 0);
        if (!compress) CHECK(s.encoding == static_cast<std::uint32_t>(format::Encoding::raw));
    }

    auto cold = ColdData::load(*db);
    REQUIRE_MESSAGE(cold, cold.error().message);
    CHECK(cold->metadata_json() == c.metadata_json);
    CHECK(cold->origin_count() == c.origins.size());
    auto verified = verify(*db);
    CHECK_MESSAGE(verified.has_value(), (verified ? "" : verified.error().message));

    std::vector<Ip> probes(kEdges.begin(), kEdges.end());
    for (const auto& r : c.ranges) {
        probes.push_back(r.range.first);
        probes.push_back(r.range.last);
        if (r.range.first != kIpMin) probes.push_back(ip_prev(r.range.first));
        if (r.range.last != kIpMax) probes.push_back(ip_next(r.range.last));
        const Ip inside = ip_add(r.range.first, rng());
        if (r.range.first <= inside && inside <= r.range.last) probes.push_back(inside);
    }
    for (int i = 0; i < 40; ++i) probes.push_back(random_point(rng, rand32(rng)));
    for (Ip a : probes) check_address(*db, *cold, c, oracle, a);

    // lookup_many gives the oracle's answers too, in calls of every size
    // around its prefetch distance (IPv4 and IPv6 mixed in one call).
    std::shuffle(probes.begin(), probes.end(), rng);
    for (const std::size_t chunk : {std::size_t{1}, Database::kLookupAhead - 1, Database::kLookupAhead,
                                    Database::kLookupAhead + 1, probes.size()}) {
        std::vector<LookupResult> many(probes.size());
        std::vector<Segment> segs(probes.size());
        for (std::size_t at = 0; at < probes.size(); at += chunk) {
            const std::size_t k = std::min(chunk, probes.size() - at);
            db->lookup_many(std::span(probes.data() + at, k), std::span(many.data() + at, k));
            db->locate_many(std::span(probes.data() + at, k), std::span(segs.data() + at, k));
        }
        for (std::size_t i = 0; i < probes.size(); ++i) {
            const std::uint32_t rec = oracle.record_at(probes[i]);
            INFO("lookup_many / locate_many in groups of " << chunk << ", address " << format_ip(probes[i]));
            const Segment& want = oracle.segment_at(probes[i]);
            CHECK(segs[i].record == rec);
            CHECK(segs[i].range == want.range);
            CHECK(many[i].flagged == (rec != 0));
            CHECK(many[i].categories == c.records[rec].categories);
            CHECK(many[i].provider == c.providers[c.records[rec].provider]);
            CHECK(many[i].asn == (c.record_asns.empty() ? 0 : c.record_asns[rec]));
        }
    }
    db->lookup_many({}, {});  // nothing to do, nothing touched
    db->locate_many({}, {});
}

// ---- a small database and its layout -------------------------------------------

// A few ranges in both tables, two feeds, provenance; texts repetitive enough
// that zstd shrinks the cold sections.
void small_content(Generated& g) {
    auto& c = g.content;
    c.build_time = 1767225600;
    c.data_version = 7;
    c.providers = {"", "Example VPN", "Example Hosting"};
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
    host.provider = 2;
    host.fetched_at = 1700000000;
    host.accepted = 38;
    host.sha256[31] = 0xcd;
    c.feeds = {tor, host};
    g.add_origin(0, 4, kTorExit, 0, "ExitAddress 10.0.0.7 2024-03-12 14:02:58");
    g.add_origin(0, 8, kTorExit, 0, "ExitAddress 10.0.2.9 2024-03-12 14:02:58");
    for (std::uint32_t i = 0; i < 38; ++i)
        g.add_origin(1, 10 + i, kHosting, i % 3 == 0 ? 1 : 2,
                     "192.0.2.0/24,ZZ,ZZ-ZZ,Example City,repeated text that compresses well " + std::to_string(i % 4));
    c.records = {{0, 0}, {kTorExit, 0}, {kHosting, 2}, {kVpn | kHosting, 1}, {kVpn, 1}};
    c.prov_offsets = {0, 0};
    const std::vector<std::vector<std::uint32_t>> lists = {{0, 1}, {2}, {3, 4, 5}, {}};
    for (const auto& l : lists) {
        c.prov_origins.insert(c.prov_origins.end(), l.begin(), l.end());
        c.prov_offsets.push_back(static_cast<std::uint32_t>(c.prov_origins.size()));
    }
    for (std::uint32_t i = 6; i < 40; ++i) c.prov_origins.push_back(i);
    // ASN attribution: a table row (origin 40), a provider-list line derived
    // through it (41, in record 4's provenance) and an exclusion rule (42).
    writer::FeedInfo table, list, rules;
    table.name = "asn-table";
    table.format = "libloc";
    table.role = format::FeedRole::asn_table;
    list.name = "provider-list";
    list.format = "provider-asns";
    list.role = format::FeedRole::asn_list;
    list.asn_table = 3;  // feed 2, + 1
    list.categories = kVpn;
    rules.name = "exclusions";
    rules.format = "exclusions";
    rules.role = format::FeedRole::exclusions;
    c.feeds.insert(c.feeds.end(), {table, list, rules});
    g.add_origin(2, 0, 0, 0, "2001:db8::/32 AS64500");
    c.origins.back().asn = 64500;
    g.add_origin(3, 5, kVpn, 1, "Example VPN,vpn,AS64500,https://example.org/evidence");
    c.origins.back().asn = 64500;
    c.origins.back().link = 40;
    g.add_origin(4, 3, 0, 0, "prefix,2001:db9::/120,office users,https://example.org/why");
    c.prov_origins.push_back(41);
    c.prov_offsets.back() = static_cast<std::uint32_t>(c.prov_origins.size());
    c.record_asns = {0, 0, 0, 0, 64500};
    c.exclusions = {{range_of("2001:db9::100-2001:db9::1ff"), 41, 42}};
    c.ranges = {{range_of("10.0.0.0/24"), 1},    {range_of("10.0.2.0/24"), 1},
                {range_of("192.0.2.0/25"), 2},   {range_of("192.0.2.128/25"), 3},
                {range_of("2001:db8::/32"), 4},  {range_of("2001:db9::-2001:db9::ff"), 2}};
    c.metadata_json = "{\"generator\":\"test_format\",\"note\":\"" + std::string(400, 'm') + "\"}";
}

Buffer small_db(bool compress) {
    Generated g;
    small_content(g);
    auto bytes = serialize(g.content, compress);
    REQUIRE_MESSAGE(bytes, bytes.error().message);
    return Buffer(*bytes);
}

// Addresses worth looking up in the small database: each range's ends and
// neighbours, the zone edges, and some random ones.
std::vector<Ip> small_probes() {
    Generated g;
    small_content(g);
    std::vector<Ip> out(kEdges.begin(), kEdges.end());
    for (const auto& r : g.content.ranges) {
        out.push_back(r.range.first);
        out.push_back(r.range.last);
        out.push_back(ip_prev(r.range.first));
        out.push_back(ip_next(r.range.last));
    }
    Rng rng(99);
    for (int i = 0; i < 40; ++i) out.push_back(random_point(rng, 0x0a000000));
    return out;
}

struct Answer {
    std::uint32_t record;
    std::uint32_t categories;
    std::string provider;
    Range range;
    friend bool operator==(const Answer&, const Answer&) = default;
};
std::vector<Answer> answers(const Database& db, const std::vector<Ip>& probes) {
    std::vector<Answer> out;
    for (Ip a : probes) {
        const auto r = db.lookup(a);
        const Segment s = db.locate(a);
        out.push_back({s.record, r.categories, std::string(r.provider), s.range});
    }
    return out;
}

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
        if (proved) CHECK(s.record < db.record_count());
        CHECK(many[i].flagged == r.flagged);
        CHECK(many[i].categories == r.categories);
        CHECK(many[i].provider == r.provider);
        CHECK(many[i].asn == r.asn);
        CHECK(segs[i].record == s.record);
        CHECK(segs[i].range == s.range);
    }
    // A walk over every segment, as exports do, moves forward and ends
    // within a step per segment or per bucket, whatever the starts say.
    {
        const std::uint64_t cap = std::uint64_t{db.v4_segment_count()} + db.v6_segment_count() + 2 * 65536 + 2;
        std::uint64_t steps = 0;
        for (Ip at = kIpMin; steps <= cap; ++steps) {
            const Segment seg = db.locate(at);
            REQUIRE(seg.range.contains(at));
            if (seg.range.last == kIpMax) break;
            at = ip_next(seg.range.last);
        }
        CHECK(steps <= cap);
    }
    for (const auto& f : db.feeds()) (void)db.string(f.name).size();
    for (std::uint32_t p = 0; p <= db.provider_count(); ++p) (void)db.provider_name(p).size();
    auto cold = ColdData::load(db);
    if (cold) {
        (void)cold->metadata_json().size();
        for (Ip a : probes) {
            const Explanation ex = cold->explain(a);
            for (const auto& c : ex.contributions) (void)(c.text.size() + c.feed_name.size() + c.provider.size());
        }
    }
    (void)verify(db);
}

void expect_open_error(const Buffer& b, Status status, std::initializer_list<std::string_view> words) {
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
    exercise(*deferred, small_probes());
    auto v = verify(*deferred);
    REQUIRE_MESSAGE(!v.has_value(), "verify passed a file open refuses");
    check(v.error(), "verify after a deferred open");
}

// Opens (must succeed), then ColdData::load and verify() must both fail so.
void expect_cold_error(const Buffer& b, Status status, std::initializer_list<std::string_view> words) {
    auto db = Database::from_bytes(b.bytes());
    REQUIRE_MESSAGE(db, db.error().message);
    auto cold = ColdData::load(*db);
    REQUIRE_MESSAGE(!cold.has_value(), "cold sections loaded");
    CHECK_MESSAGE(cold.error().status == status, cold.error().message);
    for (auto w : words) CHECK_MESSAGE(contains(cold.error().message, w), "'" << w << "' not in: " << cold.error().message);
    auto v = verify(*db);
    REQUIRE_FALSE(v.has_value());
    CHECK(v.error().status == status);
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

// ---- round trip -------------------------------------------------------------------

TEST_CASE("round trip: random contents against a brute-force oracle") {
    Rng rng(20261101);
    const int rounds = 100 * kScale;
    for (int i = 0; i < rounds; ++i) {
        Generated g;
        generate(rng, g);
        for (bool compress : {true, false}) {
            INFO("round " << i << ", compress_cold " << compress << ", " << g.content.ranges.size() << " ranges");
            check_round_trip(g.content, compress, rng);
        }
    }
}

TEST_CASE("round trip: hand-picked edges of the address model") {
    Rng rng(7);
    struct Case {
        const char* name;
        std::vector<Range> ranges;
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
        {"many in one /16 bucket", {range_of("10.0.0.0/30"), range_of("10.0.0.5-10.0.0.9"), range_of("10.0.255.255")}},
        {"many in one IPv6 bucket",
         {range_of("2001::/64"), range_of("2001:0:0:1::-2001:0:0:1::5"), range_of("2001:ffff::/32")}},
    };
    for (const auto& tc : cases) {
        Generated g;
        auto& c = g.content;
        c.providers = {"", "P"};
        c.feeds.push_back(writer::FeedInfo{});
        c.feeds.back().name = std::string("f");  // not a literal: GCC 12 -Wrestrict false positive
        g.add_origin(0, 1, kVpn, 1, "line one");
        g.add_origin(0, 2, kProxy, 0, "line two");
        c.records = {{0, 0}, {kVpn, 1}, {kProxy, 0}};
        c.prov_offsets = {0, 0, 1, 2};
        c.prov_origins = {0, 1};
        std::uint32_t rec = 1;
        for (const auto& r : tc.ranges) {
            c.ranges.push_back({r, rec});
            rec = 3 - rec;  // alternate, so neighbours never fold
        }
        for (bool compress : {true, false}) {
            INFO(tc.name << ", compress_cold " << compress);
            check_round_trip(c, compress, rng);
        }
    }
}

TEST_CASE("round trip: compressed cold sections really are zstd and decode") {
    Generated g;
    small_content(g);
    auto bytes = serialize(g.content, true);
    REQUIRE(bytes);
    const Buffer buf(*bytes);
    for (auto kind : {SectionKind::origins, SectionKind::origin_text, SectionKind::metadata}) {
        INFO(format::section_name(static_cast<std::uint32_t>(kind)));
        CHECK(entry(buf, kind).encoding == static_cast<std::uint32_t>(format::Encoding::zstd));
        CHECK(entry(buf, kind).stored_size < entry(buf, kind).raw_size);
    }
    for (std::uint32_t k = 1; k <= 10; ++k)
        CHECK(entry(buf, static_cast<SectionKind>(k)).encoding == static_cast<std::uint32_t>(format::Encoding::raw));
    Rng rng(3);
    check_round_trip(g.content, true, rng);
}

TEST_CASE("determinism: the same content gives the same bytes") {
    Rng rng(5);
    for (int i = 0; i < 10 * kScale; ++i) {
        const std::uint64_t seed = rng();
        Generated a, b;
        Rng ra(seed), rb(seed);
        generate(ra, a);
        generate(rb, b);
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
        mutate(g.content);
        auto r = writer::serialize(g.content);
        INFO(what);
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error().status == Status::invalid_argument);
    };
    expect_refused("unsorted ranges", [](auto& c) { std::swap(c.ranges[0], c.ranges[1]); });
    expect_refused("overlapping ranges", [](auto& c) { c.ranges[1].range.first = c.ranges[0].range.last; });
    expect_refused("range end before start", [](auto& c) { std::swap(c.ranges[0].range.first, c.ranges[0].range.last); });
    expect_refused("range with record 0", [](auto& c) { c.ranges[0].record = 0; });
    expect_refused("range with unknown record", [](auto& c) { c.ranges[0].record = static_cast<std::uint32_t>(c.records.size()); });
    expect_refused("record 0 not empty", [](auto& c) { c.records[0].categories = kVpn; });
    expect_refused("provider 0 not empty", [](auto& c) { c.providers[0] = std::string("x"); });
    expect_refused("record provider out of range", [](auto& c) { c.records[1].provider = 9; });
    expect_refused("prov_offsets too short", [](auto& c) { c.prov_offsets.pop_back(); });
    expect_refused("prov_offsets not spanning", [](auto& c) { c.prov_origins.push_back(0); });
    expect_refused("unknown origin in provenance", [](auto& c) { c.prov_origins[0] = 1000; });
    expect_refused("origin of unknown feed", [](auto& c) { c.origins[0].feed = static_cast<std::uint32_t>(c.feeds.size()); });
    expect_refused("feed provider out of range", [](auto& c) { c.feeds[0].provider = 3; });
    expect_refused("feed ASN table out of range", [](auto& c) { c.feeds[3].asn_table = static_cast<std::uint32_t>(c.feeds.size() + 1); });
    expect_refused("record_asns of the wrong length", [](auto& c) { c.record_asns.pop_back(); });
    expect_refused("record 0 with an AS", [](auto& c) { c.record_asns[0] = 1; });
    expect_refused("origin link to an unknown origin", [](auto& c) { c.origins[41].link = static_cast<std::uint32_t>(c.origins.size()); });
    expect_refused("exclusion of an unknown origin", [](auto& c) { c.exclusions[0].origin = 1000; });
    expect_refused("exclusion ending before it starts", [](auto& c) { std::swap(c.exclusions[0].range.first, c.exclusions[0].range.last); });
}

// ---- corruption ---------------------------------------------------------------------

TEST_CASE("corruption: every truncation fails as truncated") {
    const Buffer buf = small_db(true);
    REQUIRE(Database::from_bytes(buf.bytes()));
    std::size_t first_bad = buf.size();
    Status bad_status = Status::ok;
    for (std::size_t len = 0; len < buf.size(); ++len) {
        auto db = Database::from_bytes(buf.prefix(len));
        if ((db.has_value() || db.error().status != Status::truncated) && first_bad == buf.size()) {
            first_bad = len;
            bad_status = db.has_value() ? Status::ok : db.error().status;
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
                   const std::vector<Ip>& probes, const std::vector<Answer>& intact) {
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
        for (int i = 0; i < 1000 * kScale; ++i) {
            const std::size_t pos = below(rng, buf.size());
            const auto mask = static_cast<std::uint8_t>(1 + below(rng, 255));
            buf.flip(pos, mask);
            check_flipped(buf, areas, {pos}, probes, intact);
            buf.flip(pos, mask);
        }
        for (int i = 0; i < 250 * kScale; ++i) {
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
    // leave it safe to use.
    for (bool compress : {true, false}) {
        INFO("compress_cold " << compress);
        const Buffer intact = small_db(compress);
        const auto table = table_of(intact);
        const auto probes = small_probes();
        Rng rng(compress ? 21 : 22);
        int opened = 0, refused = 0, opened_deferred = 0;
        for (int i = 0; i < 500 * kScale; ++i) {
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
            for (std::size_t k = 0; k < flips; ++k)
                b.flip(lo + below(rng, len), static_cast<std::uint8_t>(1 + below(rng, 255)));
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
            } else {
                ++refused;
                CHECK(db.error().status != Status::ok);
                CHECK_FALSE(db.error().message.empty());
            }
        }
        MESSAGE("opened " << opened << ", refused " << refused << "; deferred opened " << opened_deferred);
        CHECK(refused > 0);
        CHECK(opened > 0);
        CHECK(opened_deferred > opened);  // some damage only verify() finds
    }
}

// ---- hostile files ------------------------------------------------------------------

TEST_CASE("hostile: header fields") {
    const Buffer intact = small_db(true);
    REQUIRE(Database::from_bytes(intact.bytes()));

    SUBCASE("bad magic") {
        Buffer b = intact;
        b.flip(1, 0x20);  // 'A' -> 'a'
        reseal(b);
        expect_open_error(b, Status::not_anondb, {"magic"});
    }
    SUBCASE("unknown major versions") {
        for (std::uint16_t major : {std::uint16_t{0}, std::uint16_t{2}, std::uint16_t{0xffff}}) {
            Buffer b = intact;
            auto h = header_of(b);
            h.major = major;
            b.put(0, h);
            reseal(b);
            expect_open_error(b, Status::unsupported_version, {std::to_string(major)});
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
        }
    }
    SUBCASE("table checksum wrong") {
        Buffer b = intact;
        auto h = header_of(b);
        h.data_version += 1;  // covered by the table checksum, which is not recomputed
        b.put(0, h);
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
        auto e = entry(b, SectionKind::v6_records);
        REQUIRE(e.stored_size < big.stored_size);
        e.offset = big.offset + 64;
        set_entry(b, SectionKind::v6_records, e);
        reseal(b);
        expect_open_error(b, Status::corrupt, {"overlap", "v4_index", "v6_records"});
    }
    SUBCASE("misaligned section") {
        for (std::uint64_t shift : {std::uint64_t{8}, std::uint64_t{1}, std::uint64_t{32}}) {
            Buffer b = intact;
            auto e = entry(b, SectionKind::records);
            e.offset += shift;
            set_entry(b, SectionKind::records, e);
            reseal(b);
            expect_open_error(b, Status::corrupt, {"records", "misaligned"});
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
    SUBCASE("compressed hot section") {
        Buffer b = intact;
        auto e = entry(b, SectionKind::providers);
        e.encoding = static_cast<std::uint32_t>(format::Encoding::zstd);
        set_entry(b, SectionKind::providers, e);
        reseal(b);
        expect_open_error(b, Status::corrupt, {"providers", "raw"});
    }
    SUBCASE("missing hot section") {
        for (std::uint32_t k = 1; k <= 10; ++k) {
            Buffer b = intact;
            auto e = entry(b, static_cast<SectionKind>(k));
            e.kind = 1000 + k;  // an unknown kind: skipped, so the known one is absent
            set_entry(b, static_cast<SectionKind>(k), e);
            reseal(b);
            expect_open_error(b, Status::missing_section, {format::section_name(k)});
        }
    }
    SUBCASE("missing cold section: opens, explain and verify refuse") {
        for (std::uint32_t k = 11; k <= 15; ++k) {
            Buffer b = intact;
            auto e = entry(b, static_cast<SectionKind>(k));
            e.kind = 1000 + k;
            set_entry(b, static_cast<SectionKind>(k), e);
            reseal(b);
            expect_cold_error(b, Status::missing_section, {format::section_name(k)});
        }
    }
    SUBCASE("hot checksum wrong") {
        Buffer b = intact;
        const auto e = entry(b, SectionKind::v6_starts);
        b.flip(e.offset + 3, 0x10);
        expect_open_error(b, Status::checksum, {"v6_starts"});
    }
    SUBCASE("a section of unknown kind is skipped but checksummed") {
        // The table has no spare room, so the unknown kind takes the entry
        // of the optional exclusions section (a file without it reads as
        // one with no exclusions), with its bytes appended to the file.
        Buffer b = intact;
        auto h = header_of(b);
        const auto t = table_of(b);
        std::size_t slot = t.size();
        for (std::size_t i = 0; i < t.size(); ++i)
            if (t[i].kind == static_cast<std::uint32_t>(SectionKind::exclusions)) slot = i;
        REQUIRE(slot < t.size());
        const std::uint64_t extra_off = (intact.size() + 63) / 64 * 64;
        const std::string payload = "data a later minor version adds";
        b.resize(extra_off + payload.size());
        std::memcpy(b.data() + extra_off, payload.data(), payload.size());
        format::SectionEntry extra{};
        extra.kind = 4242;
        extra.offset = extra_off;
        extra.stored_size = extra.raw_size = payload.size();
        extra.checksum = XXH64(payload.data(), payload.size(), 0);
        b.put(h.section_table_offset + slot * sizeof(format::SectionEntry), extra);
        h.file_size = b.size();
        b.put(0, h);
        reseal(b);
        {
            auto db = Database::from_bytes(b.bytes());
            REQUIRE_MESSAGE(db, db.error().message);
            CHECK(db->sections().size() == t.size());
            auto orig = Database::from_bytes(intact.bytes());
            REQUIRE(orig);
            CHECK(answers(*db, small_probes()) == answers(*orig, small_probes()));
            CHECK(verify(*db).has_value());
            auto cold = ColdData::load(*db);
            REQUIRE(cold);
            CHECK(cold->explain(ip_of("2001:db9::100")).exclusions.empty());
        }
        b.flip(extra_off + 2, 0x01);  // the unknown section's bytes, checksum not updated
        auto db = Database::from_bytes(b.bytes());
        REQUIRE_MESSAGE(db, db.error().message);
        auto v = verify(*db);
        REQUIRE_FALSE(v.has_value());
        CHECK(v.error().status == Status::checksum);
        CHECK(contains(v.error().message, std::to_string(extra_off)));
    }
}

TEST_CASE("hostile: hot section contents") {
    const Buffer intact = small_db(true);
    auto db0 = Database::from_bytes(intact.bytes());
    REQUIRE(db0);
    const std::uint32_t nrec = db0->record_count();
    const std::uint32_t nprov = db0->provider_count();
    const std::uint32_t n4 = db0->v4_segment_count();
    const std::uint32_t n6 = db0->v6_segment_count();
    const std::uint32_t strings_size = static_cast<std::uint32_t>(entry(intact, SectionKind::strings).raw_size);

    SUBCASE("index not ascending") {
        for (auto [kind, n] : {std::pair{SectionKind::v4_index, n4}, std::pair{SectionKind::v6_index, n6}}) {
            Buffer b = intact;
            // An empty bucket after the first non-empty one: lower the next entry.
            std::uint32_t bucket = 1;
            while (!(element<std::uint32_t>(b, kind, bucket) >= 1 &&
                     element<std::uint32_t>(b, kind, bucket) == element<std::uint32_t>(b, kind, bucket + 1)))
                ++bucket;
            REQUIRE(bucket < 65535);
            set_element(b, kind, bucket + 1, element<std::uint32_t>(b, kind, bucket) - 1);
            reseal(b);
            INFO(format::section_name(static_cast<std::uint32_t>(kind)) << ", " << n << " starts");
            expect_open_error(b, Status::corrupt,
                              {format::section_name(static_cast<std::uint32_t>(kind)), "not ascending at bucket " + std::to_string(bucket)});
        }
    }
    SUBCASE("index bounds and brackets") {
        Buffer b = intact;
        set_element(b, SectionKind::v4_index, 65536, n4 - 1);
        reseal(b);
        expect_open_error(b, Status::corrupt, {"v4_index", "bounds"});

        b = intact;
        set_element(b, SectionKind::v6_index, 0, std::uint32_t{1});
        reseal(b);
        expect_open_error(b, Status::corrupt, {"v6_index", "bounds"});

        b = intact;  // bucket 0 claims every IPv4 start
        for (std::uint32_t k = 1; k < 65536; ++k) set_element(b, SectionKind::v4_index, k, n4);
        reseal(b);
        expect_open_error(b, Status::corrupt, {"v4_index", "outside bucket 0"});

        b = intact;
        auto e = entry(b, SectionKind::v4_index);
        e.stored_size = e.raw_size = e.raw_size - 4;
        set_entry(b, SectionKind::v4_index, e);
        reseal(b);
        expect_open_error(b, Status::corrupt, {"v4_index", "size"});
    }
    SUBCASE("starts not ascending") {
        {
            Buffer b = intact;
            // Two neighbours in one bucket: make them equal.
            std::uint32_t i = 1;
            while (i < n4 && (element<std::uint32_t>(b, SectionKind::v4_starts, i - 1) >> 16) !=
                                 (element<std::uint32_t>(b, SectionKind::v4_starts, i) >> 16))
                ++i;
            REQUIRE(i < n4);
            set_element(b, SectionKind::v4_starts, i, element<std::uint32_t>(b, SectionKind::v4_starts, i - 1));
            reseal(b);
            expect_open_error(b, Status::corrupt, {"v4_starts", "not strictly ascending at " + std::to_string(i)});
        }
        {
            Buffer b = intact;
            std::uint32_t i = 2;  // not the first start, which has a check of its own
            while (i < n6 && (element<format::Ip128>(b, SectionKind::v6_starts, i - 1).hi >> 48) !=
                                 (element<format::Ip128>(b, SectionKind::v6_starts, i).hi >> 48))
                ++i;
            REQUIRE(i + 1 < n6);
            // Swap two neighbours of one bucket.
            const auto x = element<format::Ip128>(b, SectionKind::v6_starts, i - 1);
            const auto y = element<format::Ip128>(b, SectionKind::v6_starts, i);
            set_element(b, SectionKind::v6_starts, i - 1, y);
            set_element(b, SectionKind::v6_starts, i, x);
            reseal(b);
            expect_open_error(b, Status::corrupt, {"v6_starts", "not strictly ascending at " + std::to_string(i)});
        }
        {
            Buffer b = intact;
            set_element(b, SectionKind::v4_starts, 0, std::uint32_t{1});
            reseal(b);
            expect_open_error(b, Status::corrupt, {"v4_starts", "lowest"});
            b = intact;
            set_element(b, SectionKind::v6_starts, 0, format::Ip128{0, 1});
            reseal(b);
            expect_open_error(b, Status::corrupt, {"v6_starts", "lowest"});
        }
    }
    SUBCASE("record id >= record count") {
        for (auto [kind, n] : {std::pair{SectionKind::v4_records, n4}, std::pair{SectionKind::v6_records, n6}}) {
            for (std::uint32_t bad : {nrec, nrec + 1, ~std::uint32_t{0}}) {
                Buffer b = intact;
                set_element(b, kind, n - 1, bad);
                reseal(b);
                expect_open_error(b, Status::corrupt,
                                  {format::section_name(static_cast<std::uint32_t>(kind)), "record id out of range at " + std::to_string(n - 1)});
            }
        }
        Buffer b = intact;
        auto e = entry(b, SectionKind::v6_records);
        e.stored_size = e.raw_size = e.raw_size - 4;
        set_entry(b, SectionKind::v6_records, e);
        reseal(b);
        expect_open_error(b, Status::corrupt, {"v6_records", "record count differs"});
    }
    SUBCASE("records: provider id out of range, record 0 not empty, size") {
        Buffer b = intact;
        set_element(b, SectionKind::records, 2, format::Record{kHosting, nprov});
        reseal(b);
        expect_open_error(b, Status::corrupt, {"records", "provider out of range at 2"});

        b = intact;
        set_element(b, SectionKind::records, 0, format::Record{kVpn, 0});
        reseal(b);
        expect_open_error(b, Status::corrupt, {"records", "record 0"});

        b = intact;
        auto e = entry(b, SectionKind::records);
        e.stored_size = e.raw_size = e.raw_size - 4;
        set_entry(b, SectionKind::records, e);
        reseal(b);
        expect_open_error(b, Status::corrupt, {"records", "size"});
    }
    SUBCASE("StrRef out of bounds") {
        for (auto ref : {format::StrRef{strings_size, 1}, format::StrRef{0, strings_size + 1},
                         format::StrRef{strings_size + 1, 0}, format::StrRef{~0u, ~0u}, format::StrRef{1, ~0u}}) {
            INFO("StrRef {" << ref.offset << ", " << ref.length << "}");
            Buffer b = intact;
            set_element(b, SectionKind::providers, 1, ref);
            reseal(b);
            expect_open_error(b, Status::corrupt, {"providers", "string out of bounds at 1"});

            b = intact;
            auto f = element<format::FeedEntry>(b, SectionKind::feeds, 1);
            f.source = ref;
            set_element(b, SectionKind::feeds, 1, f);
            reseal(b);
            expect_open_error(b, Status::corrupt, {"feeds", "feed 1"});
        }
        // A string ending exactly at the end of the section is fine.
        Buffer b = intact;
        set_element(b, SectionKind::providers, 1, format::StrRef{strings_size - 3, 3});
        reseal(b);
        auto db = Database::from_bytes(b.bytes());
        REQUIRE_MESSAGE(db, db.error().message);
        CHECK(db->provider_name(1).size() == 3);
    }
    SUBCASE("feed provider out of range") {
        Buffer b = intact;
        auto f = element<format::FeedEntry>(b, SectionKind::feeds, 0);
        f.provider = nprov;
        set_element(b, SectionKind::feeds, 0, f);
        reseal(b);
        expect_open_error(b, Status::corrupt, {"feeds", "feed 0"});
    }
    SUBCASE("providers section empty or ragged") {
        Buffer b = intact;
        auto e = entry(b, SectionKind::providers);
        e.stored_size = e.raw_size = 0;
        set_entry(b, SectionKind::providers, e);
        reseal(b);
        expect_open_error(b, Status::corrupt, {"providers", "size"});

        b = intact;
        e = entry(b, SectionKind::feeds);
        e.stored_size = e.raw_size = e.raw_size - 1;
        set_entry(b, SectionKind::feeds, e);
        reseal(b);
        expect_open_error(b, Status::corrupt, {"feeds", "size"});
    }
}

TEST_CASE("hostile: cold section contents") {
    SUBCASE("zstd section whose declared size differs") {
        const Buffer intact = small_db(true);
        for (auto kind : {SectionKind::origin_text, SectionKind::metadata}) {
            const auto name = format::section_name(static_cast<std::uint32_t>(kind));
            REQUIRE(entry(intact, kind).encoding == static_cast<std::uint32_t>(format::Encoding::zstd));
            for (std::int64_t delta : {std::int64_t{1}, std::int64_t{-1}, std::int64_t{1} << 40}) {
                INFO(name << ", raw size changed by " << delta);
                Buffer b = intact;
                auto e = entry(b, kind);
                e.raw_size = static_cast<std::uint64_t>(static_cast<std::int64_t>(e.raw_size) + delta);
                set_entry(b, kind, e);
                reseal(b);
                expect_cold_error(b, Status::decompress, {name});
            }
        }
    }
    SUBCASE("zstd section that is not a frame") {
        const Buffer intact = small_db(true);
        Buffer b = intact;
        const auto e = entry(b, SectionKind::origins);
        b.put(e.offset, std::uint32_t{0x12345678});  // zstd magic gone
        reseal(b);
        expect_cold_error(b, Status::decompress, {"origins"});
    }
    SUBCASE("cold checksum wrong") {
        const Buffer intact = small_db(true);
        Buffer b = intact;
        const auto e = entry(b, SectionKind::prov_origins);
        b.flip(e.offset, 0x04);
        expect_cold_error(b, Status::checksum, {"prov_origins"});
    }

    // The rest on raw cold sections, so the values can be edited in place.
    const Buffer intact = small_db(false);
    auto db0 = Database::from_bytes(intact.bytes());
    REQUIRE(db0);
    const std::uint32_t nrec = db0->record_count();
    const auto nlist = static_cast<std::uint32_t>(entry(intact, SectionKind::prov_origins).raw_size / 4);
    const auto norigin = static_cast<std::uint32_t>(entry(intact, SectionKind::origins).raw_size / sizeof(format::OriginEntry));
    const auto text_size = entry(intact, SectionKind::origin_text).raw_size;

    SUBCASE("prov_offsets not spanning") {
        Buffer b = intact;
        set_element(b, SectionKind::prov_offsets, nrec, nlist - 1);
        reseal(b);
        expect_cold_error(b, Status::corrupt, {"prov_offsets", "span"});

        b = intact;
        set_element(b, SectionKind::prov_offsets, nrec, nlist + 1);
        reseal(b);
        expect_cold_error(b, Status::corrupt, {"prov_offsets", "span"});

        b = intact;
        set_element(b, SectionKind::prov_offsets, 0, std::uint32_t{1});
        reseal(b);
        expect_cold_error(b, Status::corrupt, {"prov_offsets", "span"});
    }
    SUBCASE("record 0 (not flagged) given provenance") {
        Buffer b = intact;
        set_element(b, SectionKind::prov_offsets, 1, std::uint32_t{1});
        reseal(b);
        expect_cold_error(b, Status::corrupt, {"prov_offsets", "record 0"});
    }
    SUBCASE("prov_offsets not ascending or the wrong count") {
        Buffer b = intact;
        set_element(b, SectionKind::prov_offsets, 2, nlist + 5);
        reseal(b);
        expect_cold_error(b, Status::corrupt, {"prov_offsets", "ascending"});

        b = intact;
        auto e = entry(b, SectionKind::prov_offsets);
        e.stored_size = e.raw_size = e.raw_size - 4;
        set_entry(b, SectionKind::prov_offsets, e);
        reseal(b);
        expect_cold_error(b, Status::corrupt, {"prov_offsets", "records + 1"});

        b = intact;
        e = entry(b, SectionKind::prov_offsets);
        e.stored_size = e.raw_size = e.raw_size - 1;
        set_entry(b, SectionKind::prov_offsets, e);
        reseal(b);
        expect_cold_error(b, Status::corrupt, {"prov_offsets"});
    }
    SUBCASE("provenance names an unknown origin") {
        Buffer b = intact;
        set_element(b, SectionKind::prov_origins, nlist - 1, norigin);
        reseal(b);
        expect_cold_error(b, Status::corrupt, {"prov_origins", "unknown origin at " + std::to_string(nlist - 1)});
    }
    SUBCASE("origin refers outside feeds, providers or text") {
        for (int field = 0; field < 4; ++field) {
            Buffer b = intact;
            auto o = element<format::OriginEntry>(b, SectionKind::origins, 3);
            if (field == 0) o.feed = static_cast<std::uint32_t>(db0->feeds().size());
            if (field == 1) o.provider = db0->provider_count();
            if (field == 2) o.text_offset = text_size + 1;
            if (field == 3) o.text_length = static_cast<std::uint32_t>(text_size - o.text_offset + 1);
            set_element(b, SectionKind::origins, 3, o);
            reseal(b);
            INFO("field " << field);
            expect_cold_error(b, Status::corrupt, {"origins", "origin 3"});
        }
        Buffer b = intact;
        auto e = entry(b, SectionKind::origins);
        e.stored_size = e.raw_size = e.raw_size - 8;
        set_entry(b, SectionKind::origins, e);
        reseal(b);
        expect_cold_error(b, Status::corrupt, {"origins"});
    }
    SUBCASE("origin links: to itself, past the end, chained, or the wrong count") {
        // Origin 41 links to the table row 40 (small_content).
        REQUIRE(element<std::uint32_t>(intact, SectionKind::origin_links, 41) == 40);
        const std::pair<std::uint32_t, std::uint32_t> bad[] = {{41, 41}, {41, norigin}, {40, 3}};
        for (const auto& [at, to] : bad) {
            Buffer b = intact;
            set_element(b, SectionKind::origin_links, at, to);
            reseal(b);
            INFO("link " << at << " -> " << to);
            expect_cold_error(b, Status::corrupt, {"origin_links"});
        }
        Buffer b = intact;
        auto e = entry(b, SectionKind::origin_links);
        e.stored_size = e.raw_size = e.raw_size - 4;
        set_entry(b, SectionKind::origin_links, e);
        reseal(b);
        expect_cold_error(b, Status::corrupt, {"origin_links", "origin count"});
    }
    SUBCASE("exclusions: unknown origins, an empty range, a torn entry") {
        for (int field = 0; field < 3; ++field) {
            Buffer b = intact;
            auto x = element<format::ExclusionEntry>(b, SectionKind::exclusions, 0);
            if (field == 0) x.origin = norigin;
            if (field == 1) x.rule = norigin + 7;
            if (field == 2) std::swap(x.first, x.last);
            set_element(b, SectionKind::exclusions, 0, x);
            reseal(b);
            INFO("field " << field);
            expect_cold_error(b, Status::corrupt, {"exclusions"});
        }
        Buffer b = intact;
        auto e = entry(b, SectionKind::exclusions);
        e.stored_size = e.raw_size = e.raw_size - 1;
        set_entry(b, SectionKind::exclusions, e);
        reseal(b);
        expect_cold_error(b, Status::corrupt, {"exclusions", "multiple"});
    }
}

TEST_CASE("hostile: record_asns") {
    const Buffer intact = small_db(true);
    SUBCASE("record 0 with an AS") {
        Buffer b = intact;
        set_element(b, SectionKind::record_asns, 0, std::uint32_t{64500});
        reseal(b);
        expect_open_error(b, Status::corrupt, {"record_asns", "record 0"});
    }
    SUBCASE("one entry short") {
        Buffer b = intact;
        auto e = entry(b, SectionKind::record_asns);
        e.stored_size = e.raw_size = e.raw_size - 4;
        set_entry(b, SectionKind::record_asns, e);
        reseal(b);
        expect_open_error(b, Status::corrupt, {"record_asns", "record count"});
    }
    SUBCASE("compressed, though hot") {
        Buffer b = intact;
        auto e = entry(b, SectionKind::record_asns);
        e.encoding = static_cast<std::uint32_t>(format::Encoding::zstd);
        set_entry(b, SectionKind::record_asns, e);
        reseal(b);
        expect_open_error(b, Status::corrupt, {"record_asns", "raw"});
    }
    SUBCASE("absent, as in a 1.0 file: every record reads AS 0") {
        Buffer b = intact;
        auto e = entry(b, SectionKind::record_asns);
        e.kind = 5000;
        set_entry(b, SectionKind::record_asns, e);
        reseal(b);
        auto db = Database::from_bytes(b.bytes());
        REQUIRE_MESSAGE(db, db.error().message);
        CHECK(db->record(4).asn == 0);
        auto orig = Database::from_bytes(intact.bytes());
        REQUIRE(orig);
        CHECK(orig->record(4).asn == 64500);
    }
}

// ---- atomic write -----------------------------------------------------------------

TEST_CASE("answers: a record with no category, provider or AS still answers as itself") {
    // Answer 0 is record 0's alone: an empty-looking record r > 0 (the
    // writer does not forbid one) gets an answer of its own, so lookup()
    // still reports r, as locate() and explain do.
    writer::DatabaseContent c;
    c.build_time = 1767225600;
    c.providers = {""};
    c.records = {{0, 0}, {0, 0}};  // record 0, and record 1: all zero too
    c.record_asns = {0, 0};
    c.prov_offsets = {0, 0, 0};
    c.ranges.push_back({range_of("198.51.100.0/24"), 1});
    auto bytes = serialize(c, true);
    REQUIRE_MESSAGE(bytes, bytes.error().message);
    const Buffer b(*bytes);
    auto db = Database::from_bytes(b.bytes());
    REQUIRE_MESSAGE(db, db.error().message);
    CHECK(db->answer_count() == 2);
    CHECK(db->lookup(ip_of("198.51.100.7")).flagged);
    CHECK(db->locate(ip_of("198.51.100.7")).record == 1);
    CHECK_FALSE(db->lookup(ip_of("198.51.101.0")).flagged);
    std::vector<LookupResult> many(1);
    const Ip one = ip_of("198.51.100.7");
    db->lookup_many(std::span(&one, 1), many);
    CHECK(many[0].flagged);
    CHECK(verify(*db).has_value());
}

TEST_CASE("open: deferred checks answer as full ones on valid files, and verify() passes") {
    for (bool compress : {true, false}) {
        const Buffer b = small_db(compress);
        auto full = Database::from_bytes(b.bytes());
        auto deferred = Database::from_bytes(b.bytes(), {OpenChecks::deferred});
        REQUIRE_MESSAGE(full, full.error().message);
        REQUIRE_MESSAGE(deferred, deferred.error().message);
        const auto probes = small_probes();
        CHECK(answers(*deferred, probes) == answers(*full, probes));
        CHECK(verify(*deferred).has_value());
    }
}

TEST_CASE("hostile: answers (1.2)") {
    const Buffer intact = small_db(true);
    const auto nans = static_cast<std::uint32_t>(entry(intact, SectionKind::answers).raw_size / sizeof(format::Answer));
    REQUIRE(nans >= 2);
    SUBCASE("a segment's answer id past the table") {
        Buffer b = intact;
        set_element(b, SectionKind::v4_answers, 1, nans);
        reseal(b);
        expect_open_error(b, Status::corrupt, {"v4_answers", "answer id out of range at 1"});
        // A deferred open lets it through; the lookup reads answer 0 (not
        // flagged) instead of past the table.
        auto d = Database::from_bytes(b.bytes(), {OpenChecks::deferred});
        REQUIRE_MESSAGE(d, d.error().message);
        const Ip at = Ip::from_v4(element<std::uint32_t>(b, SectionKind::v4_starts, 1));
        CHECK_FALSE(d->lookup(at).flagged);
        CHECK(d->lookup(at).categories == 0);
    }
    SUBCASE("an IPv6 segment's answer id past the table") {
        Buffer b = intact;
        set_element(b, SectionKind::v6_answers, 0, std::uint32_t{0xffffffffu});
        reseal(b);
        expect_open_error(b, Status::corrupt, {"v6_answers", "answer id out of range at 0"});
    }
    SUBCASE("answer 0 flagged") {
        Buffer b = intact;
        auto a = element<format::Answer>(b, SectionKind::answers, 0);
        a.categories = kTorExit;
        set_element(b, SectionKind::answers, 0, a);
        reseal(b);
        expect_open_error(b, Status::corrupt, {"answers", "answer 0"});
    }
    SUBCASE("a provider name past the strings") {
        Buffer b = intact;
        auto a = element<format::Answer>(b, SectionKind::answers, nans - 1);
        a.provider = {0xfffffff0u, 100};
        set_element(b, SectionKind::answers, nans - 1, a);
        reseal(b);
        expect_open_error(b, Status::corrupt, {"answers", "out of bounds at " + std::to_string(nans - 1)});
    }
    SUBCASE("one answer id short") {
        Buffer b = intact;
        auto e = entry(b, SectionKind::v4_answers);
        e.stored_size = e.raw_size = e.raw_size - 4;
        set_entry(b, SectionKind::v4_answers, e);
        reseal(b);
        expect_open_error(b, Status::corrupt, {"v4_answers", "start count"});
    }
    SUBCASE("a byte flipped behind the checksum") {
        Buffer b = intact;
        b.flip(entry(b, SectionKind::answers).offset + 3, 0x01);
        expect_open_error(b, Status::checksum, {"answers"});
    }
    SUBCASE("only some of the three sections") {
        for (const SectionKind k : {SectionKind::v4_answers, SectionKind::v6_answers, SectionKind::answers}) {
            Buffer b = intact;
            auto e = entry(b, k);
            e.kind = 5001;
            set_entry(b, k, e);
            reseal(b);
            expect_open_error(b, Status::missing_section, {"go together"});
        }
    }
    SUBCASE("an answer that contradicts its record opens, and verify() says so") {
        Buffer b = intact;
        // The answer of some flagged segment, changed behind a valid checksum.
        auto a = element<format::Answer>(b, SectionKind::answers, nans - 1);
        a.categories ^= kHosting;
        set_element(b, SectionKind::answers, nans - 1, a);
        reseal(b);
        auto db = Database::from_bytes(b.bytes());
        REQUIRE_MESSAGE(db, db.error().message);
        auto v = verify(*db);
        REQUIRE_FALSE(v.has_value());
        CHECK(v.error().status == Status::corrupt);
        CHECK(contains(v.error().message, "differs from its record"));
        exercise(*db, small_probes());
    }
    SUBCASE("a flagged segment given answer 0 opens as unflagged, and verify() says so") {
        Buffer b = intact;
        const auto n4 = static_cast<std::uint32_t>(entry(b, SectionKind::v4_records).raw_size / 4);
        std::uint32_t i = 0;
        while (i < n4 && element<std::uint32_t>(b, SectionKind::v4_records, i) == 0) ++i;
        REQUIRE(i < n4);
        set_element(b, SectionKind::v4_answers, i, std::uint32_t{0});
        reseal(b);
        auto db = Database::from_bytes(b.bytes());
        REQUIRE_MESSAGE(db, db.error().message);
        const Ip first = Ip::from_v4(element<std::uint32_t>(b, SectionKind::v4_starts, i));
        CHECK_FALSE(db->lookup(first).flagged);
        auto v = verify(*db);
        REQUIRE_FALSE(v.has_value());
        CHECK(contains(v.error().message, "differs from its record"));
    }
    SUBCASE("absent, as in a 1.1 file: lookups answer through the records, the same way") {
        Buffer b = intact;
        std::uint32_t kind = 5002;
        for (const SectionKind k : {SectionKind::v4_answers, SectionKind::v6_answers, SectionKind::answers}) {
            auto e = entry(b, k);
            e.kind = kind++;
            set_entry(b, k, e);
        }
        reseal(b);
        auto old = Database::from_bytes(b.bytes());
        REQUIRE_MESSAGE(old, old.error().message);
        auto now = Database::from_bytes(intact.bytes());
        REQUIRE(now);
        CHECK(old->answer_count() == 0);
        CHECK(now->answer_count() == nans);
        const auto probes = small_probes();
        CHECK(answers(*old, probes) == answers(*now, probes));
        for (Ip a : probes) CHECK(old->lookup(a).asn == now->lookup(a).asn);
        CHECK(verify(*old).has_value());
    }
}

namespace {

// Two versions of one small database that answer differently, for the
// publishing tests: their bytes and what each answers on small_probes().
struct TwoVersions {
    Generated a, b;
    std::optional<std::vector<std::byte>> bytes_a, bytes_b;
    std::vector<Answer> answers_a, answers_b;

    TwoVersions() {
        small_content(a);
        small_content(b);
        b.content.build_time += 86400;
        b.content.records[1] = {kProxy, 1};                           // another answer for 10.0.0.0/24
        b.content.ranges.push_back({range_of("2001:dead::/32"), 2});  // and a new range
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

    auto expect = [&](const anondb_result& r, std::uint32_t record) {
        CHECK(r.record == record);
        CHECK(r.categories == c.records[record].categories);
        CHECK(r.anonymous == (is_anonymous(c.records[record].categories) ? 1 : 0));
        CHECK(std::string_view(r.provider_len ? r.provider : "", r.provider_len) == c.providers[c.records[record].provider]);
        CHECK(r.asn == c.record_asns[record]);  // 64500 for record 4 (2001:db8::/32)
    };
    struct Probe {
        const char* text;
        std::uint32_t record;
    };
    // Expected records from the content's ranges, not from the reader.
    for (const Probe& p : {Probe{"10.0.0.7", 1}, Probe{"10.0.1.7", 0}, Probe{"10.0.2.255", 1}, Probe{"192.0.2.1", 2},
                           Probe{"192.0.2.200", 3}, Probe{"203.0.113.9", 0}, Probe{"2001:db8::1", 4},
                           Probe{"2001:db9::ff", 2}, Probe{"2001:db9::100", 0}, Probe{"::", 0}}) {
        INFO(p.text);
        const Ip a = ip_of(p.text);
        std::uint32_t oracle = 0;
        for (const auto& r : c.ranges)
            if (r.range.contains(a)) oracle = r.record;
        REQUIRE(oracle == p.record);

        anondb_result r{};
        REQUIRE(anondb_lookup(db, p.text, &r) == ANONDB_OK);
        expect(r, p.record);
        anondb_result r6{};
        const auto b = a.to_bytes();
        REQUIRE(anondb_lookup_v6(db, b.data(), &r6) == ANONDB_OK);
        expect(r6, p.record);
        if (a.is_v4()) {
            anondb_result r4{};
            REQUIRE(anondb_lookup_v4(db, a.v4(), &r4) == ANONDB_OK);
            expect(r4, p.record);
            const std::string mapped = "::ffff:" + std::string(p.text);  // the same address in IPv6 text
            anondb_result rm{};
            REQUIRE(anondb_lookup(db, mapped.c_str(), &rm) == ANONDB_OK);
            expect(rm, p.record);
        }
    }
    anondb_result r4{};
    REQUIRE(anondb_lookup_v4(db, 0xC0000201u, &r4) == ANONDB_OK);  // 192.0.2.1 in host order
    expect(r4, 2);

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
    CHECK(anondb_lookup_v6(db, nullptr, &r) == ANONDB_ERR_INVALID_ARGUMENT);
    CHECK(anondb_lookup_v6(nullptr, zeros, &r) == ANONDB_ERR_INVALID_ARGUMENT);
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

    write_bytes(dir.path / "short.anondb", std::span<const std::byte>(*bytes).first(bytes->size() - 100));
    open_fails((dir.path / "short.anondb").string(), ANONDB_ERR_TRUNCATED, {});

    Buffer magic(*bytes);
    magic.flip(0, 0xff);
    write_bytes(dir.path / "magic.anondb", magic.bytes());
    open_fails((dir.path / "magic.anondb").string(), ANONDB_ERR_NOT_ANONDB, {});

    Buffer major(*bytes);
    auto h = header_of(major);
    h.major = 2;
    major.put(0, h);
    reseal(major);
    write_bytes(dir.path / "major.anondb", major.bytes());
    open_fails((dir.path / "major.anondb").string(), ANONDB_ERR_UNSUPPORTED_VERSION, {});

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
