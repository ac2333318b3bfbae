// MMDB export read back by libmaxminddb (the oracle of the file's layout),
// against what the evidence says (test_db.hpp's brute-force Oracle: answer
// and sources of every address) and the native reader.
#include <maxminddb.h>
#include <rapidjson/document.h>

#include <map>
#include <random>

#include "anondb/builder/guard.hpp"
#include "anondb/mmdb_writer.hpp"
#include "test_db.hpp"

using namespace anondb;
using namespace anondb::test;

namespace {

// Unoptimised builds (the sanitizer job) run fewer random rounds.
#ifdef __OPTIMIZE__
constexpr int kRandomRounds = 300;
#else
constexpr int kRandomRounds = 200;
#endif

// Feed 3 is an ASN list (its entries have an AS).
Content base_content() {
    return Content({"Mullvad", "Apple", "Hoster \xc3\xa9t\xc3\xa9"}, {"tor-exits", "vpn-list", "relay-egress", "asn-list"},
                   {3});
}

// A database opened natively (content serialized in memory, or a file),
// the oracle of its evidence, and its MMDB export opened by libmaxminddb.
struct Pair : OpenedDb {
    std::optional<Oracle> oracle;
    std::vector<std::byte> mmdb_bytes;
    TempDir dir{"anondb-mmdb"};
    MMDB_s mmdb{};
    bool open = false;

    Pair(const Content& t, const mmdb::MmdbOptions& o = {}) : OpenedDb(t) {
        oracle.emplace(t.oracle());
        export_and_open(o);
    }
    explicit Pair(const std::string& anondb_path, const mmdb::MmdbOptions& o = {}) : OpenedDb(anondb_path) {
        oracle.emplace(oracle_of_file(*cold));
        export_and_open(o);
    }
    void export_and_open(const mmdb::MmdbOptions& o) {
        auto m = mmdb::export_mmdb(*db, *cold, o);
        REQUIRE_MESSAGE(m, (m ? "" : m.error().message));
        mmdb_bytes = std::move(*m);
        const auto path = (dir.path / "x.mmdb").string();
        write_bytes(path, mmdb_bytes);
        const int st = MMDB_open(path.c_str(), MMDB_MODE_MMAP, &mmdb);
        REQUIRE_MESSAGE(st == MMDB_SUCCESS, std::string(MMDB_strerror(st)));
        open = true;
    }
    ~Pair() {
        if (open) MMDB_close(&mmdb);
    }
};

// What an MMDB lookup answered, in the shape of the data map.
struct Answer {
    bool found = false;
    std::vector<std::string> true_keys;
    std::string provider;  // "" = absent
    std::uint32_t asn = 0;  // 0 = absent
    std::vector<std::string> sources;
    friend bool operator==(const Answer&, const Answer&) = default;
};

std::ostream& operator<<(std::ostream& os, const Answer& a) {
    os << (a.found ? "found" : "not found") << " keys=[";
    for (const auto& k : a.true_keys) os << k << " ";
    os << "] provider=" << a.provider << " asn=" << a.asn << " sources=[";
    for (const auto& s : a.sources) os << s << " ";
    return os << "]";
}

const char* const kBoolKeys[] = {"is_anonymous",        "is_anonymous_vpn",     "is_hosting_provider",
                                 "is_public_proxy",     "is_residential_proxy", "is_tor_exit_node"};

// Shape problems fail the test; kept out of doctest's assertion macros in the
// hot path (millions of lookups on the snapshot).
#define MMDB_EXPECT(cond)                                         \
    do {                                                          \
        if (!(cond)) FAIL(text << ": expected " << #cond);        \
    } while (0)

// `with_sources`: anondb's exports always carry `sources`; MaxMind's own
// databases (used to check this reader) do not.
Answer mmdb_answer(MMDB_s& mmdb, const std::string& text, bool with_sources = true) {
    int gai = 0, err = 0;
    MMDB_lookup_result_s res = MMDB_lookup_string(&mmdb, text.c_str(), &gai, &err);
    MMDB_EXPECT(gai == 0);
    MMDB_EXPECT(err == MMDB_SUCCESS);
    Answer a;
    if (!res.found_entry) return a;
    a.found = true;
    MMDB_entry_data_s d{};
    for (const char* k : kBoolKeys) {
        const int st = MMDB_get_value(&res.entry, &d, k, nullptr);
        if (st != MMDB_SUCCESS || !d.has_data) continue;
        MMDB_EXPECT(d.type == MMDB_DATA_TYPE_BOOLEAN);
        MMDB_EXPECT(d.boolean);  // only true keys are written
        a.true_keys.push_back(k);
    }
    if (MMDB_get_value(&res.entry, &d, "provider_name", nullptr) == MMDB_SUCCESS && d.has_data) {
        MMDB_EXPECT(d.type == MMDB_DATA_TYPE_UTF8_STRING);
        a.provider.assign(d.utf8_string, d.data_size);
    }
    if (MMDB_get_value(&res.entry, &d, "autonomous_system_number", nullptr) == MMDB_SUCCESS && d.has_data) {
        MMDB_EXPECT(d.type == MMDB_DATA_TYPE_UINT32);
        MMDB_EXPECT(d.uint32 != 0);
        a.asn = d.uint32;
    }
    if (!with_sources) return a;
    MMDB_EXPECT(MMDB_get_value(&res.entry, &d, "sources", nullptr) == MMDB_SUCCESS);
    MMDB_EXPECT(d.has_data && d.type == MMDB_DATA_TYPE_ARRAY);
    for (std::uint32_t i = 0; i < d.data_size; ++i) {
        const std::string idx = std::to_string(i);
        MMDB_entry_data_s s{};
        MMDB_EXPECT(MMDB_get_value(&res.entry, &s, "sources", idx.c_str(), nullptr) == MMDB_SUCCESS);
        MMDB_EXPECT(s.type == MMDB_DATA_TYPE_UTF8_STRING);
        a.sources.emplace_back(s.utf8_string, s.data_size);
    }
    return a;
}


// The map the export must hold for anondb address `ip`: its answer and
// sources, from the oracle alone. Also checks that the native reader gives
// the oracle's answer there.
Answer expected_answer(const Pair& p, Ip ip) {
    const Oracle::Piece& piece = p.oracle->piece_at(ip);
    const Want& w = p.oracle->answer(piece.answer);
    if (!same(w, p.db->lookup(ip))) FAIL(format_ip(ip) << ": the reader answers otherwise than the evidence gives " << w);
    Answer a;
    if (!w.flagged) return a;
    a.found = true;
    const std::uint32_t c = w.categories;
    const bool on[] = {is_anonymous(c),         (c & kVpn) != 0,       (c & kHosting) != 0,
                       (c & kProxy) != 0,       (c & kResidentialProxy) != 0, (c & kTorExit) != 0};
    for (std::size_t i = 0; i < 6; ++i)
        if (on[i]) a.true_keys.push_back(kBoolKeys[i]);
    a.provider = w.provider;
    a.asn = w.asn;
    a.sources = p.oracle->sources(piece.sources);
    return a;
}

std::string dotted(std::uint32_t v) {
    return std::to_string(v >> 24) + "." + std::to_string((v >> 16) & 255) + "." + std::to_string((v >> 8) & 255) + "." +
           std::to_string(v & 255);
}
std::string hex4(std::uint32_t v) {
    char b[8];
    std::snprintf(b, sizeof b, "%x", v & 0xffff);
    return b;
}

// Where a (non IPv4-mapped) IPv6 address lands in the export: the IPv4
// subtree for ::/96, 2002::/16 and (teredo) 2001::/32, else itself.
Ip mmdb_target(Ip ip, bool teredo) {
    if (ip.hi == 0 && (ip.lo >> 32) == 0) return Ip::from_v4(static_cast<std::uint32_t>(ip.lo));
    if ((ip.hi >> 48) == 0x2002) return Ip::from_v4(static_cast<std::uint32_t>(ip.hi >> 16));
    if (teredo && (ip.hi >> 32) == 0x20010000u) return Ip::from_v4(static_cast<std::uint32_t>(ip.hi));
    return ip;
}

// One address in every spelling the export answers for.
// `forms` = how many IPv4 spellings to try (all five unless told).
void check_address(Pair& p, Ip ip, bool teredo = false, std::size_t forms_wanted = 5) {
    if (ip.is_v4()) {
        const std::uint32_t v = ip.v4();
        const Answer want = expected_answer(p, ip);
        const std::string forms[] = {dotted(v), "::ffff:" + dotted(v), "::" + dotted(v),
                                     "2002:" + hex4(v >> 16) + ":" + hex4(v) + "::",
                                     "2002:" + hex4(v >> 16) + ":" + hex4(v) + ":ffff:ffff:ffff:ffff:ffff"};
        for (std::size_t i = 0; i < forms_wanted && i < 5; ++i) {
            const std::string& f = forms[i];
            CAPTURE(f);
            CHECK(mmdb_answer(p.mmdb, f) == want);
        }
        if (teredo) {
            const std::string t = "2001:0:" + hex4(v >> 16) + ":" + hex4(v) + "::1";
            CAPTURE(t);
            CHECK(mmdb_answer(p.mmdb, t) == want);
        }
        return;
    }
    const std::string text = format_ip(ip);
    CAPTURE(text);
    CHECK(mmdb_answer(p.mmdb, text) == expected_answer(p, mmdb_target(ip, teredo)));
}

// First, last and the neighbours outside of every evidence row, and of
// every elementary interval of the oracle (where answer or sources change).
void check_ranges(Pair& p, bool teredo = false) {
    auto around = [&](Range r) {
        for (Ip a : {r.first, r.last}) check_address(p, a, teredo);
        if (r.first != kIpMin) check_address(p, ip_prev(r.first), teredo);
        if (r.last != kIpMax) check_address(p, ip_next(r.last), teredo);
    };
    for (const auto& row : p.oracle->rows()) around(row.range);
    for (const auto& piece : p.oracle->pieces()) around(piece.range);
}

// Entries added to `t` for each range: one origin per feed of `feeds`
// (repeats allowed), with the AS only on the ASN list.
struct Group {
    std::uint32_t categories, provider, asn;
    std::vector<std::uint32_t> feeds;
};
void add_group(Content& t, const char* range, const Group& g) {
    for (const std::uint32_t f : g.feeds) t.add_entry(range, f, g.categories, g.provider, t.is_asn_list(f) ? g.asn : 0);
}

Content hand_picked() {
    Content t = base_content();
    const auto mullvad = t.pid("Mullvad"), apple = t.pid("Apple"), hoster = t.pid("Hoster \xc3\xa9t\xc3\xa9");
    const Group tor{kTorExit, 0, 0, {0}};
    const Group vpn{kVpn, mullvad, 0, {1, 2, 1}};  // repeated feed: listed once
    const Group relay{kRelay, apple, 714, {2, 3}};
    const Group host{kHosting, hoster, 64496, {3, 1}};
    const Group all{kAllCategories | (1u << 20), mullvad, 0xffffffffu, {3, 2, 1, 0}};  // unknown bit ignored
    const Group none{0, 0, 0, {0}};  // flagged, no categories
    add_group(t, "::/127", vpn);
    add_group(t, "::1.2.3.0/120", host);  // shadowed by the IPv4 subtree
    add_group(t, "0.0.0.0/8", tor);
    add_group(t, "1.2.3.4-1.2.3.9", vpn);
    add_group(t, "10.0.0.0-10.255.255.254", relay);
    add_group(t, "10.255.255.255", host);
    add_group(t, "11.0.0.0", all);
    add_group(t, "185.220.101.0/24", tor);
    add_group(t, "203.0.113.7", none);
    add_group(t, "255.255.255.255", all);
    add_group(t, "2001::/32", vpn);  // shadowed only with alias_teredo
    add_group(t, "2001:db8::1-2001:db8::1:0", relay);
    add_group(t, "2002::/15", host);  // half shadowed by 6to4
    add_group(t, "2a00:1:2:3::/64", all);
    add_group(t, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fff0-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", vpn);
    // Nested: a derived entry inside a direct one, and one more source.
    t.add_entry("198.51.100.0/24", 1, kVpn, mullvad);
    t.add_entry("198.51.100.64/26", 3, kHosting, apple, 64500);
    t.add_entry("198.51.100.128/25", 2, kVpn, mullvad);
    t.merge();
    return t;
}

// Not test_db.hpp's random_content: rows in both families around the
// prefixes the export aliases to IPv4 (::/96, 6to4, Teredo), ASNs small.
Content random_content(std::mt19937_64& rng) {
    Content t = base_content();
    const auto profiles = random_profiles(rng, t, 100000);
    // Small clusters in both families, some in the aliased prefixes.
    const std::uint32_t v4base = static_cast<std::uint32_t>(rng()) & 0xffffff00u;
    const Ip v6bases[] = {Ip{0x20010db8ull << 32, 0}, Ip{0x2002ull << 48 | (rng() & 0xffffffffffffull), 0},
                          Ip{0, rng() & 0xffffffffull}, Ip{0x20010000ull << 32 | (rng() & 0xffffffffull), 0},
                          Ip{rng(), rng() & ~0xffull}};
    std::vector<Ip> pts;
    for (std::size_t k = 3 + below(rng, 20); k > 0; --k) {
        if (below(rng, 2)) pts.push_back(Ip::from_v4(v4base + static_cast<std::uint32_t>(below(rng, 256))));
        else pts.push_back(ip_add(v6bases[below(rng, 5)], below(rng, 300)));
    }
    if (below(rng, 10) == 0) pts.push_back(kV4First);
    if (below(rng, 10) == 0) pts.push_back(kIpMin);
    add_random_rows(rng, t, profiles, pts, below(rng, 10) == 0);
    t.merge();
    return t;
}

}  // namespace

TEST_CASE("mmdb export: hand-picked ranges agree with the evidence in every spelling") {
    for (bool teredo : {false, true}) {
        CAPTURE(teredo);
        Content t = hand_picked();
        mmdb::MmdbOptions o;
        o.alias_teredo = teredo;
        Pair p(t, o);
        check_ranges(p, teredo);
        // Spot checks that do not go through the oracle.
        CHECK(mmdb_answer(p.mmdb, "185.220.101.1").true_keys ==
              std::vector<std::string>{"is_anonymous", "is_tor_exit_node"});
        CHECK(mmdb_answer(p.mmdb, "1.2.3.4").sources == std::vector<std::string>{"vpn-list", "relay-egress"});
        CHECK(mmdb_answer(p.mmdb, "10.1.1.1").true_keys == std::vector<std::string>{"is_anonymous"});
        CHECK(mmdb_answer(p.mmdb, "10.1.1.1").asn == 714);
        CHECK(mmdb_answer(p.mmdb, "10.1.1.1").provider == "Apple");
        CHECK(mmdb_answer(p.mmdb, "10.1.1.1").sources == std::vector<std::string>{"relay-egress", "asn-list"});
        CHECK(mmdb_answer(p.mmdb, "10.255.255.255").provider == "Hoster \xc3\xa9t\xc3\xa9");
        CHECK(mmdb_answer(p.mmdb, "10.255.255.255").true_keys == std::vector<std::string>{"is_hosting_provider"});
        CHECK(mmdb_answer(p.mmdb, "10.255.255.255").sources == std::vector<std::string>{"asn-list", "vpn-list"});
        CHECK(mmdb_answer(p.mmdb, "11.0.0.0").true_keys.size() == 6);
        CHECK(mmdb_answer(p.mmdb, "11.0.0.0").asn == 0xffffffffu);
        CHECK(mmdb_answer(p.mmdb, "11.0.0.0").sources ==
              std::vector<std::string>{"asn-list", "relay-egress", "vpn-list", "tor-exits"});
        const Answer none = mmdb_answer(p.mmdb, "203.0.113.7");
        CHECK(none.found);
        CHECK(none.true_keys.empty());
        CHECK(none.sources == std::vector<std::string>{"tor-exits"});
        CHECK(!mmdb_answer(p.mmdb, "::1.2.3.10").found);  // anondb's IPv6 ::1.2.3.0/120 is shadowed
        CHECK(mmdb_answer(p.mmdb, "::").found);            // ::/127 inside ::/96 is 0.0.0.0/8's
        CHECK(mmdb_answer(p.mmdb, "::").true_keys == std::vector<std::string>{"is_anonymous", "is_tor_exit_node"});
        CHECK(mmdb_answer(p.mmdb, "2003::1").true_keys == std::vector<std::string>{"is_hosting_provider"});
        CHECK(mmdb_answer(p.mmdb, "2001:0:1400::").found == !teredo);  // Teredo server 20.0.0.0 is clean
        CHECK(!mmdb_answer(p.mmdb, "2001:db8::").found);
        CHECK(mmdb_answer(p.mmdb, "2001:db8::1").found);
        // Nested: the direct entry names the provider, the derived one adds
        // its AS and category; the maps change where the sources do.
        const Answer outer = mmdb_answer(p.mmdb, "198.51.100.1");
        CHECK(outer == Answer{true, {"is_anonymous", "is_anonymous_vpn"}, "Mullvad", 0, {"vpn-list"}});
        const Answer inner = mmdb_answer(p.mmdb, "198.51.100.100");
        CHECK(inner == Answer{true, {"is_anonymous", "is_anonymous_vpn", "is_hosting_provider"}, "Mullvad", 64500,
                              {"vpn-list", "asn-list"}});
        const Answer upper = mmdb_answer(p.mmdb, "198.51.100.200");
        CHECK(upper == Answer{true, {"is_anonymous", "is_anonymous_vpn"}, "Mullvad", 0, {"vpn-list", "relay-egress"}});
        // One lookup segment holds both outer and upper.
        CHECK(p.db->locate(ip_of("198.51.100.1")).answer == p.db->locate(ip_of("198.51.100.200")).answer);
    }
}

TEST_CASE("mmdb export: random rows in both families against the evidence") {
    std::mt19937_64 rng(20261122);
    for (int round = 0; round < kRandomRounds; ++round) {
        CAPTURE(round);
        Content t = random_content(rng);
        mmdb::MmdbOptions o;
        o.alias_teredo = round % 3 == 0;
        Pair p(t, o);
        check_ranges(p, o.alias_teredo);
        for (int k = 0; k < 10; ++k) {
            check_address(p, Ip::from_v4(static_cast<std::uint32_t>(rng())), o.alias_teredo);
            check_address(p, Ip{rng(), rng()}, o.alias_teredo);
        }
        // The oracle's sweep against its own point query.
        for (const auto& piece : p.oracle->pieces()) {
            REQUIRE(p.oracle->answer_at(piece.range.first) == p.oracle->answer(piece.answer));
            REQUIRE(p.oracle->sources_at(piece.range.last) == p.oracle->sources(piece.sources));
        }
    }
}

TEST_CASE("mmdb export: metadata reads back") {
    Content t = hand_picked();
    mmdb::MmdbOptions o;
    o.database_type = "Test-Type";
    o.description = "d\xc3\xa9scription";
    o.build_epoch = 1767225600;
    Pair p(t, o);
    const auto& m = p.mmdb.metadata;
    CHECK(m.binary_format_major_version == 2);
    CHECK(m.binary_format_minor_version == 0);
    CHECK(m.ip_version == 6);
    CHECK(m.record_size == 24);
    CHECK(m.build_epoch == 1767225600);
    CHECK(std::string(m.database_type) == "Test-Type");
    REQUIRE(m.languages.count == 1);
    CHECK(std::string(m.languages.names[0]) == "en");
    REQUIRE(m.description.count == 1);
    CHECK(std::string(m.description.descriptions[0]->language) == "en");
    CHECK(std::string(m.description.descriptions[0]->description) == o.description);
    // The tree is node_count * 6 bytes, then the 16-byte separator of zeros.
    const std::size_t tree = std::size_t{m.node_count} * 6;
    REQUIRE(p.mmdb_bytes.size() > tree + 16);
    for (std::size_t i = tree; i < tree + 16; ++i) CHECK(p.mmdb_bytes[i] == std::byte{0});
    const std::string tail(reinterpret_cast<const char*>(p.mmdb_bytes.data()), p.mmdb_bytes.size());
    CHECK(tail.rfind("\xAB\xCD\xEFMaxMind.com") != std::string::npos);
}

TEST_CASE("mmdb export: defaults, empty database, record size 24") {
    Content t = base_content();  // nothing flagged
    t.merge();
    Pair p(t);
    CHECK(std::string(p.mmdb.metadata.database_type) == "anondb-Anonymous-IP");
    CHECK(std::string(p.mmdb.metadata.description.descriptions[0]->description) == "anondb anonymizer ranges");
    CHECK(p.mmdb.metadata.record_size == 24);
    CHECK(p.mmdb.metadata.node_count == 1);
    for (const char* a : {"1.2.3.4", "::", "::ffff:1.2.3.4", "2002:102:304::", "ffff::1"}) CHECK(!mmdb_answer(p.mmdb, a).found);
}

TEST_CASE("mmdb export: identical maps are written once") {
    Content t = base_content();
    t.add_entry("1.0.0.0/24", 1, kVpn, t.pid("Mullvad"));
    t.add_entry("2.0.0.0/24", 1, kVpn, t.pid("Mullvad"));  // another entry, same map
    t.merge();
    Pair p(t);
    const std::string bytes(reinterpret_cast<const char*>(p.mmdb_bytes.data()), p.mmdb_bytes.size());
    const auto first = bytes.find("vpn-list");
    REQUIRE(first != std::string::npos);
    CHECK(bytes.find("vpn-list", first + 1) == std::string::npos);
    CHECK(mmdb_answer(p.mmdb, "1.0.0.1") == mmdb_answer(p.mmdb, "2.0.0.1"));
}

TEST_CASE("mmdb export: deterministic") {
    std::mt19937_64 rng(7);
    for (int round = 0; round < 20; ++round) {
        Content t = random_content(rng);
        Pair x(t), y(t);
        CHECK(x.mmdb_bytes == y.mmdb_bytes);
        auto again = mmdb::export_mmdb(*x.db, *x.cold, {});
        REQUIRE(again);
        CHECK(*again == x.mmdb_bytes);
    }
}

TEST_CASE("mmdb export: a tree past 2^24 records switches to 28-bit records") {
    // ~170k scattered single IPv6 addresses: ~110 nodes each, over 16M nodes.
    Content t = base_content();
    const auto vpn = t.add_origin(1, kVpn, t.pid("Mullvad"));
    const auto tor = t.add_origin(3, kTorExit, 0, 4242);
    std::mt19937_64 rng(28);
    std::vector<Ip> ips;
    for (int k = 0; k < 170000; ++k) ips.push_back(Ip{0x3000000000000000ull | (rng() >> 4), rng()});
    std::sort(ips.begin(), ips.end());
    ips.erase(std::unique(ips.begin(), ips.end()), ips.end());
    t.add_row("198.51.100.0/24", vpn);  // ::ffff:... sorts first
    for (std::size_t k = 0; k < ips.size(); ++k) t.add_row({ips[k], ips[k]}, k % 2 ? vpn : tor);
    t.merge();
    Pair p(t);
    REQUIRE(p.mmdb.metadata.node_count >= (1u << 24));
    CHECK(p.mmdb.metadata.record_size == 28);
    for (std::size_t k = 0; k < ips.size(); k += 97) {
        check_address(p, ips[k]);
        check_address(p, ip_next(ips[k]));
    }
    check_address(p, ip_of("198.51.100.7"));
    check_address(p, ips.back());
}

TEST_CASE("mmdb export: the bundled snapshot, every range of one map") {
    if (!std::filesystem::exists(ANONDB_SNAPSHOT_DB)) {
        MESSAGE("no " ANONDB_SNAPSHOT_DB " (built by the snapshot_build fixture); skipped");
        return;
    }
    Pair p{std::string(ANONDB_SNAPSHOT_DB)};
    const Oracle& oracle = *p.oracle;
    // The reader's segments are the oracle's: maximal runs of one answer
    // in each zone, with the answer the evidence gives.
    std::size_t segments = 0;
    for (Ip cur = kIpMin;;) {
        ++segments;
        const Segment s = p.db->locate(cur);
        const Range want = oracle.segment_at(cur);
        const Range got{s.range.first, std::min(s.range.last, zone_range(zone(cur)).last)};
        if (got != want) FAIL("segment at " << format_ip(cur) << ": " << format_range(got) << ", the evidence gives " << format_range(want));
        if (!same(oracle.answer(oracle.piece_at(cur).answer), p.db->answer(s.answer)))
            FAIL("segment " << format_range(got) << ": answer differs from the evidence's");
        if (got.last == kIpMax) break;
        cur = ip_next(got.last);
    }
    CHECK(segments == oracle.segments().size());
    // Every range of one map (answer and sources) at both ends, every 8th
    // in all IPv4 spellings (time).
    const auto runs = oracle.runs([](const Oracle::Piece& a, const Oracle::Piece& b) {
        return a.answer == b.answer && a.sources == b.sources;
    });
    std::size_t flagged = 0, n = 0;
    for (const auto& [range, piece] : runs) {
        flagged += oracle.answer(oracle.pieces()[piece].answer).flagged;
        const std::size_t forms = n++ % 8 == 0 ? 5 : 1;
        check_address(p, range.first, false, forms);
        if (range.last != range.first) check_address(p, range.last, false, forms);
    }
    CHECK(flagged > 1000);
    CHECK(runs.size() > segments);  // sources change inside some segments
    MESSAGE(segments << " segments, " << runs.size() << " ranges of one map, " << flagged << " flagged");
    const auto keys = mmdb_answer(p.mmdb, "185.220.101.1").true_keys;  // a Tor exit in the snapshot
    CHECK(std::find(keys.begin(), keys.end(), "is_tor_exit_node") != keys.end());
    CHECK(std::find(keys.begin(), keys.end(), "is_anonymous") != keys.end());
    // Reserved-network policy (docs/EXPORTS.md): no special-purpose block
    // carries data in the export, asked of libmaxminddb at each block's
    // ends and middle.
    for (const auto& block : builder::reserved_blocks()) {
        const Ip mid = to_ip(to_u128(block.range.first) + (to_u128(block.range.last) - to_u128(block.range.first)) / 2);
        for (const Ip a : {block.range.first, mid, block.range.last}) {
            const std::string text = format_ip(a);
            CAPTURE(text);
            CAPTURE(block.name);
            // IPv6 inside ::/96 and 2002::/16 reads the IPv4 tree (the
            // aliases); the IPv4 blocks themselves are asked as dotted quads.
            const bool in_ipv4_subtree = a.hi == 0 && (a.lo >> 32) == 0;  // ::/96
            if (in_ipv4_subtree || (a.hi >> 48) == 0x2002) continue;
            CHECK_FALSE(mmdb_answer(p.mmdb, text).found);
        }
    }
}

// The reader side of these tests (mmdb_answer, and the alias spellings of
// check_address) checked on a database MaxMind's own writer made, against
// the JSON it was made from: if they misread MaxMind's layout, every
// agreement above would prove nothing.
TEST_CASE("mmdb export: this suite's reader agrees with MaxMind's GeoIP2-Anonymous-IP test database") {
    const std::string path = kRepo + "/tests/data/mmdb/GeoIP2-Anonymous-IP-Test.mmdb";
    MMDB_s mmdb{};
    REQUIRE(MMDB_open(path.c_str(), MMDB_MODE_MMAP, &mmdb) == MMDB_SUCCESS);
    CHECK(std::string(mmdb.metadata.database_type) == "GeoIP2-Anonymous-IP");
    rapidjson::Document doc;
    doc.Parse(read_repo_file("tests/data/mmdb/GeoIP2-Anonymous-IP-Test.json").c_str());
    REQUIRE(doc.IsArray());
    struct Net {
        Range range;
        std::vector<std::string> keys;  // true keys, in kBoolKeys order
    };
    std::vector<Net> nets;
    for (const auto& item : doc.GetArray())
        for (const auto& [name, value] : item.GetObject()) {
            const auto r = parse_range(name.GetString());
            REQUIRE_MESSAGE(r, name.GetString());
            Net n{r->range, {}};
            for (const char* k : kBoolKeys)
                if (value.HasMember(k) && value[k].GetBool()) n.keys.emplace_back(k);
            nets.push_back(std::move(n));
        }
    REQUIRE(nets.size() == 12);
    auto want_at = [&](Ip a) -> Answer {
        for (const Net& n : nets)
            if (n.range.contains(a)) return Answer{true, n.keys, "", 0, {}};
        return Answer{};
    };
    std::size_t checked = 0;
    for (const Net& n : nets) {
        for (const Ip a : {n.range.first, n.range.last, ip_prev(n.range.first), ip_next(n.range.last)}) {
            const Answer want = want_at(a);
            // MaxMind's JSON writes IPv4 networks under ::/96: ask for them
            // in every spelling the aliases answer (as check_address does).
            std::vector<std::string> forms;
            if (a.hi == 0 && (a.lo >> 32) == 0) {
                const auto v = static_cast<std::uint32_t>(a.lo);
                forms = {dotted(v), "::ffff:" + dotted(v), "::" + dotted(v), "2002:" + hex4(v >> 16) + ":" + hex4(v) + "::"};
            } else {
                forms = {format_ip(a)};
            }
            for (const auto& f : forms) {
                CAPTURE(f);
                const Answer got = mmdb_answer(mmdb, f, false);
                // MaxMind's test writer maps every other address to an empty
                // map ({}), where anondb's export has no entry: for a client
                // both mean "no key is true".
                if (want.found) CHECK(got == want);
                else CHECK(got.true_keys.empty());
                ++checked;
            }
        }
    }
    CHECK(checked > 100);
    MMDB_close(&mmdb);
}

