// ASN tables: iptoasn and CAIDA prefix2as on real snapshot files, with
// counts checked by independent scans; malformed rows with exact reasons and
// line numbers; MaxMind's ASN/ISP test databases walked by read_mmdb_asn and
// every row checked against libmaxminddb's own lookup; IPFire location
// databases (Debian's location.db and small ones libloc's writer makes here)
// read by read_libloc_asn and checked against libloc's enumerator and lookup;
// corrupt databases.
#include <doctest/doctest.h>

extern "C" {  // libloc's headers (but libloc.h) lack it
#include <libloc/database.h>
#include <libloc/libloc.h>
#include <libloc/network.h>
#include <libloc/writer.h>
}
#include <maxminddb.h>
#include <rapidjson/document.h>
#include <sys/socket.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "anondb/ip.hpp"
#include "anondb/sources/asn.hpp"
#include "test_util.hpp"

using namespace anondb;
using namespace anondb::sources;
using namespace anondb::test;

namespace {


// Independent tab split.
std::vector<std::string> tabs(std::string_view line) {
    std::vector<std::string> out(1);
    for (const char c : line) {
        if (c == '\t') out.emplace_back();
        else out.back() += c;
    }
    return out;
}

std::vector<std::uint32_t> row_asns(const AsnTable& t, const AsnRow& r) {
    return std::vector<std::uint32_t>(t.asns.begin() + r.asn_begin, t.asns.begin() + r.asn_begin + r.asn_count);
}

// A whole gzip file decoded with zlib.
std::string gunzip(const std::string& gz) {
    z_stream zs{};
    REQUIRE(inflateInit2(&zs, 16 + MAX_WBITS) == Z_OK);
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
    zs.avail_in = static_cast<uInt>(gz.size());
    std::string out;
    char buf[65536];
    int rc = Z_OK;
    while (rc != Z_STREAM_END) {
        zs.next_out = reinterpret_cast<Bytef*>(buf);
        zs.avail_out = sizeof buf;
        rc = inflate(&zs, Z_NO_FLUSH);
        REQUIRE((rc == Z_OK || rc == Z_STREAM_END));
        out.append(buf, sizeof buf - zs.avail_out);
    }
    inflateEnd(&zs);
    return out;
}

bool has_issue(const std::vector<LineIssue>& issues, std::uint32_t line, std::string_view reason) {
    return std::any_of(issues.begin(), issues.end(),
                       [&](const LineIssue& i) { return i.line == line && i.reason == reason; });
}

}  // namespace

// ---- iptoasn -------------------------------------------------------------------

TEST_CASE("iptoasn: real v4 subset, counts by an independent scan") {
    const std::string body = read_repo_file("data/snapshot/asn/ip2asn-v4.subset.tsv");
    const AsnTable t = parse_iptoasn(body);
    const auto lines = split_lines(body);
    std::size_t expected = 0;
    for (const auto line : lines) {
        const auto f = tabs(line);
        if (f.size() == 5 && f[2] != "0") ++expected;
    }
    CHECK(expected == 1427);
    CHECK(t.rows.size() == expected);
    CHECK(t.rejects.empty());
    CHECK(t.warnings.empty());
    CHECK(t.asns.size() == t.rows.size());
    for (const AsnRow& r : t.rows) {
        REQUIRE(r.line >= 1);
        REQUIRE(r.line <= lines.size());
        const std::string_view line = lines[r.line - 1];
        CHECK(t.row_text(r) == line);
        const auto f = tabs(line);
        CHECK(format_ip(r.range.first) == f[0]);
        CHECK(format_ip(r.range.last) == f[1]);
        CHECK(r.asn_count == 1);
        CHECK(t.asns[r.asn_begin] == std::strtoul(f[2].c_str(), nullptr, 10));
    }
    // Spot checks: the first rows of the file.
    REQUIRE(t.rows.size() >= 3);
    CHECK(t.rows[0].range == range_of("1.1.1.0"));
    CHECK(row_asns(t, t.rows[0]) == std::vector<std::uint32_t>{13335});
    CHECK(t.rows[1].range == range_of("1.1.1.1"));
    CHECK(row_asns(t, t.rows[1]) == std::vector<std::uint32_t>{7497});
    CHECK(t.rows[2].range == range_of("1.1.1.2-1.1.1.255"));
    CHECK(t.row_text(t.rows[2]) == "1.1.1.2\t1.1.1.255\t13335\tUS\tCLOUDFLARENET - Cloudflare, Inc.");
    const AsnRow& last = t.rows.back();
    CHECK(last.range == range_of("216.252.221.0-216.252.223.255"));
    CHECK(row_asns(t, last) == std::vector<std::uint32_t>{15169});
}

TEST_CASE("iptoasn: AS 0 skipped, IPv6, malformed rows rejected with reasons") {
    const std::string body =
        "1.0.0.0\t1.0.0.255\t13335\tUS\tCLOUDFLARENET\n"          // 1 ok
        "1.0.1.0\t1.0.3.255\t0\tNone\tNot routed\n"              // 2 skipped
        "2001:200::\t2001:200:ffff:ffff:ffff:ffff:ffff:ffff\t2500\tJP\tWIDE-BB\r\n"  // 3 ok (CRLF)
        "\n"                                                      // 4 blank
        "1.0.4.0\t1.0.7.255\t38803\tAU\n"                         // 5 too few
        "1.0.4.0\t1.0.7.255\t38803\tAU\tX\textra\n"               // 6 too many
        "1.0.4.x\t1.0.7.255\t38803\tAU\tX\n"                      // 7 bad start
        "1.0.4.0\t1.0.300.255\t38803\tAU\tX\n"                    // 8 octet
        "1.0.4.0\t::ffff\t38803\tAU\tX\n"                         // 9 mixed
        "1.0.7.0\t1.0.4.255\t38803\tAU\tX\n"                      // 10 reversed
        "1.0.4.0\t1.0.7.255\tAS38803\tAU\tX\n"                    // 11 bad asn
        "1.0.4.0\t1.0.7.255\t4294967296\tAU\tX\n"                 // 12 asn too big
        "1.0.4.0\t1.0.7.255\t-1\tAU\tX\n"                         // 13 negative
        "1.0.4.0\t1.0.7.255\t\tAU\tX\n"                           // 14 empty asn
        "1.0.8.0\t1.0.8.0\t4294967295\t\t";                       // 15 ok, no final newline, empty cc/desc
    const AsnTable t = parse_iptoasn(body);
    REQUIRE(t.rows.size() == 3);
    CHECK(t.rows[0].line == 1);
    CHECK(t.rows[0].range == range_of("1.0.0.0/24"));
    CHECK(t.rows[1].line == 3);
    CHECK(t.rows[1].range == range_of("2001:200::/32"));
    CHECK(t.row_text(t.rows[1]) == "2001:200::\t2001:200:ffff:ffff:ffff:ffff:ffff:ffff\t2500\tJP\tWIDE-BB");
    CHECK(row_asns(t, t.rows[1]) == std::vector<std::uint32_t>{2500});
    CHECK(t.rows[2].line == 15);
    CHECK(row_asns(t, t.rows[2]) == std::vector<std::uint32_t>{4294967295u});
    CHECK(t.rejects.size() == 10);
    CHECK(has_issue(t.rejects, 5, "missing field"));
    CHECK(has_issue(t.rejects, 6, "too many fields"));
    CHECK(has_issue(t.rejects, 7, ip_error_text(IpError::junk)));
    CHECK(has_issue(t.rejects, 8, ip_error_text(IpError::octet_range)));
    CHECK(has_issue(t.rejects, 9, ip_error_text(IpError::mixed_families)));
    CHECK(has_issue(t.rejects, 10, ip_error_text(IpError::reversed_range)));
    for (std::uint32_t n : {11u, 13u, 14u}) CHECK(has_issue(t.rejects, n, "bad ASN"));
    CHECK(has_issue(t.rejects, 12, "ASN above 4294967295"));
    CHECK(t.rejects[0].text == "1.0.4.0\t1.0.7.255\t38803\tAU");
    CHECK(t.warnings.empty());
    CHECK(parse_iptoasn("").rows.empty());

    // Too large however many digits; a leading zero is not a decimal ASN here.
    const AsnTable big = parse_iptoasn("1.0.0.0\t1.0.0.255\t99999999999999999999999\tUS\tX\n"
                                       "1.0.0.0\t1.0.0.255\t013335\tUS\tX\n");
    check_issues(big.rejects, {{1, "ASN above 4294967295"}, {2, "bad ASN"}});
}

// ---- pfx2as --------------------------------------------------------------------

TEST_CASE("pfx2as: real RouteViews IPv6 file, counts by an independent scan") {
    const std::string body = gunzip(read_repo_file("data/snapshot/asn/RouteViewIPv6.pfx2as.gz"));
    const AsnTable t = parse_pfx2as(body);
    const auto lines = split_lines(body);
    std::size_t multi = 0, asn_total = 0, sets = 0;
    for (const auto line : lines) {
        const auto f = tabs(line);
        REQUIRE(f.size() == 3);
        const auto seps = std::count_if(f[2].begin(), f[2].end(), [](char c) { return c == '_' || c == ','; });
        if (seps) ++multi;
        if (f[2].find(',') != std::string::npos) ++sets;
        asn_total += static_cast<std::size_t>(seps) + 1;
    }
    CHECK(lines.size() == 83125);
    CHECK(t.rows.size() == lines.size());
    CHECK(t.rejects.empty());
    CHECK(t.asns.size() == asn_total);
    CHECK(multi == 877);
    CHECK(sets == 16);
    CHECK(std::count_if(t.rows.begin(), t.rows.end(), [](const AsnRow& r) { return r.asn_count > 1; }) ==
          static_cast<std::ptrdiff_t>(multi));
    for (const AsnRow& r : t.rows) {
        const std::string_view line = lines[r.line - 1];
        CHECK(t.row_text(r) == line);
        const auto f = tabs(line);
        // The prefix, checked with 128-bit arithmetic of the test's own.
        const U128 first = to_u128(ip_of(f[0]));
        const unsigned len = static_cast<unsigned>(std::stoul(f[1]));
        const U128 host = len == 128 ? U128{0} : (~U128{0} >> len);
        CHECK(to_u128(r.range.first) == (first & ~host));
        CHECK(to_u128(r.range.last) == ((first & ~host) | host));
    }
    // Warnings are exactly the rows written with host bits.
    std::size_t host_bits = 0;
    for (const AsnRow& r : t.rows)
        if (to_u128(r.range.first) != to_u128(ip_of(tabs(lines[r.line - 1])[0]))) ++host_bits;
    CHECK(t.warnings.size() == host_bits);

    // Spot checks: multi-origin and AS-set rows.
    auto row_at = [&](std::uint32_t line) -> const AsnRow& {
        const auto it = std::find_if(t.rows.begin(), t.rows.end(), [&](const AsnRow& r) { return r.line == line; });
        REQUIRE(it != t.rows.end());
        return *it;
    };
    CHECK(row_at(1).range == range_of("2001::/32"));
    CHECK(row_asns(t, row_at(1)) == std::vector<std::uint32_t>{6939, 1101, 25192});
    CHECK(row_asns(t, row_at(119)) == std::vector<std::uint32_t>{271, 7860, 8111});
    CHECK(row_asns(t, row_at(2183)) == std::vector<std::uint32_t>{5050, 1206, 1207, 36407});
    CHECK(row_at(lines.size()).range == range_of("2c0f:fff0::/32"));
    CHECK(row_asns(t, row_at(lines.size())) == std::vector<std::uint32_t>{37125});
}

TEST_CASE("pfx2as: IPv4, host bits, malformed rows") {
    const std::string body =
        "1.0.0.0\t24\t13335\n"          // 1 ok
        "1.0.4.1\t22\t38803_56203\n"    // 2 ok, host bits warning
        "1.0.16.0\t20\t2519,7500\n"     // 3 ok, AS set
        "1.0.0.0\t24\n"                 // 4 too few
        "1.0.0.0\t24\t1\t2\n"           // 5 too many
        "1.0.0.0\t33\t13335\n"          // 6 bad length
        "1.0.0.0\t024\t13335\n"         // 7 leading zero length
        "1.0.0.0/24\t24\t13335\n"       // 8 prefix in address field
        "1.0.0.0\t24\t0\n"              // 9 AS 0
        "1.0.0.0\t24\t1__2\n"           // 10 empty ASN
        "1.0.0.0\t24\t1_\n"             // 11 trailing separator
        "1.0.0.0\t24\t4294967296\n"     // 12 too big
        "1.0.0.0\t24\tAS1\n"            // 13 junk
        "2c0f:fff0::\t129\t37125\n"     // 14 bad v6 length
        "2c0f:fff0::1\t32\t4294967295"; // 15 ok, host bits, no newline
    const AsnTable t = parse_pfx2as(body);
    REQUIRE(t.rows.size() == 4);
    CHECK(t.rows[0].range == range_of("1.0.0.0/24"));
    CHECK(t.rows[1].range == range_of("1.0.4.0/22"));
    CHECK(row_asns(t, t.rows[1]) == std::vector<std::uint32_t>{38803, 56203});
    CHECK(row_asns(t, t.rows[2]) == std::vector<std::uint32_t>{2519, 7500});
    CHECK(t.rows[3].line == 15);
    CHECK(t.rows[3].range == range_of("2c0f:fff0::/32"));
    CHECK(row_asns(t, t.rows[3]) == std::vector<std::uint32_t>{4294967295u});
    REQUIRE(t.warnings.size() == 2);
    CHECK(t.warnings[0].line == 2);
    CHECK(t.warnings[0].reason == "host bits set");
    CHECK(t.warnings[1].line == 15);
    CHECK(t.rejects.size() == 11);
    CHECK(has_issue(t.rejects, 4, "missing field"));
    CHECK(has_issue(t.rejects, 5, "too many fields"));
    CHECK(has_issue(t.rejects, 6, ip_error_text(IpError::bad_prefix_len)));
    CHECK(has_issue(t.rejects, 7, ip_error_text(IpError::bad_prefix_len)));
    CHECK(has_issue(t.rejects, 8, ip_error_text(IpError::junk)));
    CHECK(has_issue(t.rejects, 9, "ASN 0"));
    for (std::uint32_t n : {10u, 11u, 13u}) CHECK(has_issue(t.rejects, n, "bad ASN"));
    CHECK(has_issue(t.rejects, 12, "ASN above 4294967295"));
    CHECK(has_issue(t.rejects, 14, ip_error_text(IpError::bad_prefix_len)));
}

// ---- MMDB ------------------------------------------------------------------------

namespace {

struct Oracle {
    MMDB_s db{};
    explicit Oracle(const std::string& path) { REQUIRE(MMDB_open(path.c_str(), MMDB_MODE_MMAP, &db) == MMDB_SUCCESS); }
    ~Oracle() { MMDB_close(&db); }
    Oracle(const Oracle&) = delete;
    Oracle& operator=(const Oracle&) = delete;

    // ASN (0 when none) and netmask libmaxminddb gives for one address.
    std::pair<std::uint32_t, unsigned> lookup(Ip ip) {
        const std::string text = format_ip(ip);
        int gai = 0, err = 0;
        MMDB_lookup_result_s r = MMDB_lookup_string(&db, text.c_str(), &gai, &err);
        REQUIRE(gai == 0);
        REQUIRE(err == MMDB_SUCCESS);
        if (!r.found_entry) return {0, r.netmask};
        MMDB_entry_data_s d;
        REQUIRE(MMDB_get_value(&r.entry, &d, "autonomous_system_number", nullptr) == MMDB_SUCCESS);
        if (!d.has_data) return {0, r.netmask};
        REQUIRE(d.type == MMDB_DATA_TYPE_UINT32);
        return {d.uint32, r.netmask};
    }
};

// Every row agrees with libmaxminddb at both ends; rows are disjoint; no
// alias of the IPv4 block comes out as IPv6.
void cross_check(const std::string& path, const AsnTable& t) {
    Oracle o(path);
    REQUIRE(o.db.metadata.ip_version == 6);
    REQUIRE(!t.rows.empty());
    std::set<std::string> texts;
    for (const AsnRow& r : t.rows) {
        CAPTURE(t.row_text(r));
        CHECK(r.line == 0);
        REQUIRE(r.asn_count == 1);
        const auto len = range_prefix_len(r.range);
        REQUIRE(len);
        // "NETWORK/LEN", IPv4 written as IPv4 (also for a /32).
        const unsigned shown = r.range.first.is_v4() ? *len - 96 : *len;
        CHECK(t.row_text(r) == format_ip(r.range.first) + "/" + std::to_string(shown));
        CHECK(texts.insert(std::string(t.row_text(r))).second);
        for (const Ip end : {r.range.first, r.range.last}) {
            const auto [asn, netmask] = o.lookup(end);
            CHECK(asn == t.asns[r.asn_begin]);
            CHECK(netmask == *len);
        }
        // Aliases: ::ffff:0:0/96, 2002::/16 and ::/96 are never IPv6 rows.
        const U128 first = to_u128(r.range.first);
        if (!r.range.first.is_v4()) {
            CHECK((first >> 112) != 0x2002);
            CHECK((first >> 32) != 0);
        }
    }
    std::vector<Range> sorted;
    for (const AsnRow& r : t.rows) sorted.push_back(r.range);
    std::sort(sorted.begin(), sorted.end(), [](const Range& a, const Range& b) { return a.first < b.first; });
    for (std::size_t i = 1; i < sorted.size(); ++i) CHECK(sorted[i - 1].last < sorted[i].first);
}

const std::string kAsnDb = kRepo + "/tests/data/mmdb/GeoLite2-ASN-Test.mmdb";
const std::string kIspDb = kRepo + "/tests/data/mmdb/GeoIP2-ISP-Test.mmdb";

}  // namespace

TEST_CASE("mmdb: GeoLite2-ASN-Test walked and checked against libmaxminddb") {
    const auto t = read_mmdb_asn(kAsnDb);
    REQUIRE_MESSAGE(t, t.error().message);
    CHECK(t->rejects.empty());
    cross_check(kAsnDb, *t);

    // The source JSON. mmdbwriter merges adjacent networks with the same
    // data (12.84.0.0/15 and 12.86.0.0/16 ... become 12.84.0.0/14), so row
    // counts differ from the source; instead, per ASN, the rows cover
    // exactly the addresses of the source networks: every source network is
    // covered by rows with its ASN and every row by source networks with its.
    rapidjson::Document doc;
    const std::string json = read_repo_file("tests/data/mmdb/GeoLite2-ASN-Test.json");
    doc.Parse(json.c_str());
    REQUIRE(!doc.HasParseError());
    REQUIRE(doc.IsArray());
    std::map<std::uint32_t, std::vector<Range>> source, rows;
    std::size_t source_count = 0;
    for (const auto& item : doc.GetArray()) {
        for (const auto& m : item.GetObject()) {
            source[m.value["autonomous_system_number"].GetUint()].push_back(range_of(m.name.GetString()));
            ++source_count;
        }
    }
    CHECK(source_count == 720);
    for (const AsnRow& r : t->rows) rows[t->asns[r.asn_begin]].push_back(r.range);
    auto size = [](const Range& r) { return to_u128(r.last) - to_u128(r.first) + 1; };
    auto covered = [](const Range& r, const std::vector<Range>& by) {
        U128 n = 0;
        for (const Range& b : by) {
            const U128 lo = std::max(to_u128(r.first), to_u128(b.first));
            const U128 hi = std::min(to_u128(r.last), to_u128(b.last));
            if (lo <= hi) n += hi - lo + 1;
        }
        return n;
    };
    CHECK(rows.size() == source.size());
    for (const auto& [asn, nets] : source) {
        CAPTURE(asn);
        for (const Range& net : nets) CHECK_MESSAGE(covered(net, rows[asn]) == size(net), format_range(net));
    }
    for (const auto& [asn, rs] : rows) {
        CAPTURE(asn);
        for (const Range& r : rs) CHECK_MESSAGE(covered(r, source[asn]) == size(r), format_range(r));
    }
    CHECK(t->rows.size() == 412);
    const auto v4_rows = std::count_if(t->rows.begin(), t->rows.end(), [](const AsnRow& r) { return r.range.first.is_v4(); });
    CHECK(v4_rows == 182);
    // Rows come out in address order.
    for (std::size_t i = 1; i < t->rows.size(); ++i) CHECK(t->rows[i - 1].range.last < t->rows[i].range.first);

    // Spot check: the first network of the source.
    const auto it = std::find_if(t->rows.begin(), t->rows.end(),
                                 [&](const AsnRow& r) { return t->row_text(r) == "1.0.0.0/24"; });
    REQUIRE(it != t->rows.end());
    CHECK(it->range == range_of("1.0.0.0/24"));
    CHECK(t->asns[it->asn_begin] == 15169);
}

TEST_CASE("mmdb: GeoIP2-ISP-Test walked and checked against libmaxminddb") {
    const auto t = read_mmdb_asn(kIspDb);
    REQUIRE_MESSAGE(t, t.error().message);
    CHECK(t->rejects.empty());
    cross_check(kIspDb, *t);
}

TEST_CASE("mmdb: missing and corrupt files are errors naming the path") {
    TempDir dir("anondb-asn");
    const std::string missing = (dir.path / "missing.mmdb").string();
    {
        const auto t = read_mmdb_asn(missing);
        REQUIRE(!t);
        CHECK(t.error().status == Status::io);
        CHECK(contains(t.error().message, missing));
    }
    const std::string good = read_text(kAsnDb);
    Oracle o(kAsnDb);
    const std::size_t node_bytes = o.db.full_record_byte_size;
    const std::size_t tree_bytes = static_cast<std::size_t>(o.db.metadata.node_count) * node_bytes;
    REQUIRE(tree_bytes < good.size());

    auto expect_error = [&](const std::string& name, const std::string& bytes) {
        const std::string path = (dir.path / name).string();
        write_text(path, bytes);
        const auto t = read_mmdb_asn(path);
        CAPTURE(name);
        REQUIRE(!t);
        CHECK(contains(t.error().message, path));
        return t.error().message;
    };
    SUBCASE("truncated") {
        expect_error("half.mmdb", good.substr(0, good.size() / 2));
        expect_error("empty.mmdb", "");
        expect_error("tree-only.mmdb", good.substr(0, tree_bytes));
    }
    SUBCASE("tree bytes all 0xff: invalid records") {
        std::string bad = good;
        std::fill(bad.begin(), bad.begin() + static_cast<std::ptrdiff_t>(tree_bytes), '\xff');
        expect_error("ff.mmdb", bad);
    }
    SUBCASE("root pointing at itself: a loop") {
        std::string bad = good;
        std::fill(bad.begin(), bad.begin() + static_cast<std::ptrdiff_t>(node_bytes), '\0');
        CHECK(contains(expect_error("loop.mmdb", bad), "loop"));
    }
    SUBCASE("a deep node pointing back at the root") {
        // Node 1 (reached from the root's IPv6 path) loops to node 0.
        std::string bad = good;
        std::fill(bad.begin() + static_cast<std::ptrdiff_t>(node_bytes),
                  bad.begin() + static_cast<std::ptrdiff_t>(2 * node_bytes), '\0');
        expect_error("loop1.mmdb", bad);
    }
    SUBCASE("data section overwritten: bad data records") {
        std::string bad = good;
        const std::size_t data_start = tree_bytes + 16;
        const std::size_t meta = good.rfind("\xAB\xCD\xEFMaxMind.com");
        REQUIRE(meta != std::string::npos);
        REQUIRE(data_start < meta);
        std::fill(bad.begin() + static_cast<std::ptrdiff_t>(data_start), bad.begin() + static_cast<std::ptrdiff_t>(meta), '\xff');
        expect_error("data-ff.mmdb", bad);
    }
    SUBCASE("random byte flips in the tree: an error or a consistent table, never a crash") {
        std::uint64_t state = 0x9E3779B97F4A7C15ull;
        auto next = [&state] {
            state = state * 6364136223846793005ull + 1442695040888963407ull;
            return static_cast<std::size_t>(state >> 33);
        };
        int errors = 0;
        for (int round = 0; round < 200; ++round) {
            std::string bad = good;
            for (int k = 0; k < 4; ++k) bad[next() % tree_bytes] ^= static_cast<char>(1 + next() % 255);
            const std::string path = (dir.path / "flip.mmdb").string();
            write_text(path, bad);
            const auto t = read_mmdb_asn(path);
            if (!t) {
                ++errors;
                CHECK(contains(t.error().message, path));
                continue;
            }
            std::vector<Range> sorted;
            for (const AsnRow& r : t->rows) sorted.push_back(r.range);
            std::sort(sorted.begin(), sorted.end(), [](const Range& a, const Range& b) { return a.first < b.first; });
            for (std::size_t i = 1; i < sorted.size(); ++i) CHECK(sorted[i - 1].last < sorted[i].first);
        }
        CHECK(errors > 0);
    }
}

TEST_CASE("mmdb: the IPv4 aliases exist in the test databases and are skipped") {
    for (const std::string& path : {kAsnDb, kIspDb}) {
        CAPTURE(path);
        const auto t = read_mmdb_asn(path);
        REQUIRE(t);
        Oracle o(path);
        const AsnRow& v4 = *std::find_if(t->rows.begin(), t->rows.end(), [](const AsnRow& r) { return r.range.first.is_v4(); });
        const std::uint32_t v4_value = v4.range.first.v4();
        // The same IPv4 address through ::/96, ::ffff:0:0/96 and 2002::/16.
        const Ip via_compat{0, v4_value};
        const Ip via_6to4{(0x2002ull << 48) | (std::uint64_t{v4_value} << 16), 0};
        for (const Ip alias : {via_compat, via_6to4}) {
            CAPTURE(format_ip(alias));
            CHECK(o.lookup(alias).first == t->asns[v4.asn_begin]);
            CHECK(std::none_of(t->rows.begin(), t->rows.end(), [&](const AsnRow& r) { return r.range.contains(alias); }));
        }
    }
}

// ---- hand-built databases --------------------------------------------------------

namespace {

// A minimal MaxMind DB writer (record size 24) for trees the test databases
// do not have: an IPv4-only tree, records without the key, loops. Records:
// kEmpty, a node number, or data(i) for the i-th value of `values`.
struct MiniDb {
    static constexpr std::int64_t kEmpty = -1;
    static std::int64_t data(std::size_t i) { return -2 - static_cast<std::int64_t>(i); }
    unsigned ip_version = 4;
    std::vector<std::pair<std::int64_t, std::int64_t>> nodes{{kEmpty, kEmpty}};
    std::vector<std::string> values;  // encoded data-section values

    // Inserts `bits` (the address's bits, most significant first) / len,
    // creating nodes; the record at the end is `record`.
    void insert(const std::vector<int>& bits, std::int64_t record) {
        std::size_t n = 0;
        for (std::size_t d = 0; d + 1 < bits.size(); ++d) {
            std::int64_t& next = bits[d] ? nodes[n].second : nodes[n].first;
            if (next < 0) {
                next = static_cast<std::int64_t>(nodes.size());
                nodes.push_back({kEmpty, kEmpty});
            }
            n = static_cast<std::size_t>(bits[d] ? nodes[n].second : nodes[n].first);
        }
        (bits.back() ? nodes[n].second : nodes[n].first) = record;
    }
    static std::vector<int> v4_bits(std::uint32_t a, unsigned len, unsigned pad_zero_bits = 0) {
        std::vector<int> b(pad_zero_bits, 0);
        for (unsigned i = 0; i < len; ++i) b.push_back(static_cast<int>((a >> (31 - i)) & 1));
        return b;
    }

    static std::string str(std::string_view s) {  // shorter than 29 bytes
        std::string out;
        out += static_cast<char>(0x40 | s.size());
        out.append(s);
        return out;
    }
    static std::string uint(unsigned type, std::uint64_t v) {  // type 5 (uint16), 6 (uint32), 9 (uint64)
        std::string bytes;
        for (; v; v >>= 8) bytes.insert(bytes.begin(), static_cast<char>(v & 0xff));
        std::string out;
        if (type < 8) {
            out += static_cast<char>((type << 5) | bytes.size());
        } else {  // extended type
            out += static_cast<char>(bytes.size());
            out += static_cast<char>(type - 7);
        }
        out.append(bytes);
        return out;
    }
    static std::string asn_value(std::uint32_t asn) { return one_entry_map("autonomous_system_number", uint(6, asn)); }
    static std::string one_entry_map(std::string_view key, const std::string& value) {
        std::string out = "\xE1";
        out.append(str(key));
        out.append(value);
        return out;
    }

    std::string bytes(std::int64_t bad_record = 0) const {
        const std::uint64_t node_count = nodes.size();
        std::vector<std::uint64_t> offsets;
        std::string data_section;
        for (const std::string& v : values) {
            offsets.push_back(data_section.size());
            data_section += v;
        }
        auto value_of = [&](std::int64_t r) -> std::uint64_t {
            if (r == kEmpty) return node_count;
            if (r >= 0) return static_cast<std::uint64_t>(r);
            if (r == -1000) return static_cast<std::uint64_t>(bad_record);
            return node_count + 16 + offsets[static_cast<std::size_t>(-2 - r)];
        };
        std::string out;
        for (const auto& [l, r] : nodes)
            for (const std::uint64_t v : {value_of(l), value_of(r)})
                for (int k = 2; k >= 0; --k) out += static_cast<char>((v >> (8 * k)) & 0xff);
        out += std::string(16, '\0');
        out += data_section;
        out += "\xAB\xCD\xEFMaxMind.com";
        out += "\xE9";  // a map of 9 entries; libmaxminddb needs languages and description too
        out += str("node_count") + uint(6, node_count);
        out += str("record_size") + uint(5, 24);
        out += str("ip_version") + uint(5, ip_version);
        out += str("database_type") + str("anondb-test-ASN");
        out += str("binary_format_major_version") + uint(5, 2);
        out += str("binary_format_minor_version") + uint(5, 0);
        out += str("build_epoch") + uint(9, 1700000000);
        out += str("languages");
        out += std::string("\x00\x04", 2);  // an empty array (extended type 11)
        out += str("description") + "\xE0";  // an empty map
        return out;
    }
};

}  // namespace

TEST_CASE("mmdb: hand-built IPv4-only tree") {
    TempDir dir("anondb-asn");
    MiniDb db;
    db.values = {MiniDb::asn_value(13335), MiniDb::one_entry_map("isp", MiniDb::str("none")),
                 MiniDb::asn_value(4294967295u), MiniDb::asn_value(0)};
    db.insert(MiniDb::v4_bits(0x01000000, 24), MiniDb::data(0));  // 1.0.0.0/24
    db.insert(MiniDb::v4_bits(0x01000100, 24), MiniDb::data(1));  // 1.0.1.0/24, no key
    db.insert(MiniDb::v4_bits(0x0A000000, 8), MiniDb::data(0));   // 10.0.0.0/8
    db.insert(MiniDb::v4_bits(0xFFFFFFFF, 32), MiniDb::data(2));  // 255.255.255.255/32
    db.insert(MiniDb::v4_bits(0x80000000, 8), MiniDb::data(3));   // 128.0.0.0/8, AS 0
    const std::string path = (dir.path / "v4.mmdb").string();
    write_text(path, db.bytes());
    const auto t = read_mmdb_asn(path);
    REQUIRE_MESSAGE(t, t.error().message);
    REQUIRE(t->rows.size() == 3);
    CHECK(t->row_text(t->rows[0]) == "1.0.0.0/24");
    CHECK(t->rows[0].range == range_of("1.0.0.0/24"));
    CHECK(t->row_text(t->rows[1]) == "10.0.0.0/8");
    CHECK(t->row_text(t->rows[2]) == "255.255.255.255/32");
    CHECK(t->asns == std::vector<std::uint32_t>{13335, 13335, 4294967295u});
    CHECK(t->rejects.empty());
    Oracle o(path);  // libmaxminddb agrees (netmasks in IPv4 terms here)
    CHECK(o.lookup(ip_of("10.255.255.255")) == std::pair<std::uint32_t, unsigned>{13335, 8});
    CHECK(o.lookup(ip_of("255.255.255.255")) == std::pair<std::uint32_t, unsigned>{4294967295u, 32});
}

TEST_CASE("mmdb: an ASN above 32 bits and one that is not a number are rejected with reasons") {
    TempDir dir("anondb-asn");
    MiniDb db;
    db.values = {MiniDb::one_entry_map("autonomous_system_number", MiniDb::uint(9, 5000000000ull)),
                 MiniDb::one_entry_map("autonomous_system_number", MiniDb::str("13335")), MiniDb::asn_value(64500)};
    db.insert(MiniDb::v4_bits(0x01000000, 24), MiniDb::data(0));  // 1.0.0.0/24, uint64 above 32 bits
    db.insert(MiniDb::v4_bits(0x02000000, 24), MiniDb::data(1));  // 2.0.0.0/24, a string
    db.insert(MiniDb::v4_bits(0x03000000, 24), MiniDb::data(2));  // 3.0.0.0/24
    const std::string path = (dir.path / "types.mmdb").string();
    write_text(path, db.bytes());
    const auto t = read_mmdb_asn(path);
    REQUIRE_MESSAGE(t, t.error().message);
    REQUIRE(t->rows.size() == 1);
    CHECK(t->row_text(t->rows[0]) == "3.0.0.0/24");
    REQUIRE(t->rejects.size() == 2);
    for (const LineIssue& r : t->rejects) {
        CAPTURE(r.text);
        CHECK(r.line == 0);
        if (r.text == "1.0.0.0/24") CHECK(r.reason == "ASN above 4294967295");
        else CHECK((r.text == "2.0.0.0/24" && r.reason == "autonomous_system_number is not an unsigned integer"));
    }
}

TEST_CASE("mmdb: hand-built IPv6 tree with IPv4 aliases, and broken trees") {
    TempDir dir("anondb-asn");
    MiniDb db;
    db.ip_version = 6;
    db.values = {MiniDb::asn_value(13335), MiniDb::asn_value(64496)};
    db.insert(MiniDb::v4_bits(0x01000000, 24, 96), MiniDb::data(0));  // ::1.0.0.0/120
    // ::/96 is now a node; alias ::ffff:0:0/96 and 2002::/16 to it.
    std::size_t v4_node = 0;
    for (int d = 0; d < 96; ++d) v4_node = static_cast<std::size_t>(db.nodes[v4_node].first);
    std::vector<int> mapped(80, 0);
    for (int i = 0; i < 16; ++i) mapped.push_back(1);
    db.insert(mapped, static_cast<std::int64_t>(v4_node));
    std::vector<int> six_to_four;
    for (int i = 15; i >= 0; --i) six_to_four.push_back((0x2002 >> i) & 1);
    db.insert(six_to_four, static_cast<std::int64_t>(v4_node));
    std::vector<int> doc;  // 2001:db8::/32
    for (int i = 31; i >= 0; --i) doc.push_back(static_cast<int>((0x20010db8u >> i) & 1));
    db.insert(doc, MiniDb::data(1));

    const std::string path = (dir.path / "v6.mmdb").string();
    write_text(path, db.bytes());
    {
        const auto t = read_mmdb_asn(path);
        REQUIRE_MESSAGE(t, t.error().message);
        REQUIRE(t->rows.size() == 2);
        CHECK(t->row_text(t->rows[0]) == "1.0.0.0/24");
        CHECK(t->rows[0].range == range_of("1.0.0.0/24"));
        CHECK(t->row_text(t->rows[1]) == "2001:db8::/32");
        cross_check(path, *t);
        Oracle o(path);
        CHECK(o.lookup(ip_of("2002:100:1::")).first == 13335);  // the alias is really there
    }
    SUBCASE("a node shared by two paths other than the IPv4 block") {
        MiniDb shared = db;
        std::vector<int> other;  // 2003::/16 -> the node below 2001:db8::/32's parent
        for (int i = 15; i >= 0; --i) other.push_back((0x2003 >> i) & 1);
        shared.insert(other, 1);  // node 1 is an ancestor on the ::/96 path
        const std::string p = (dir.path / "shared.mmdb").string();
        write_text(p, shared.bytes());
        const auto t = read_mmdb_asn(p);
        REQUIRE(!t);
        CHECK(contains(t.error().message, p));
        CHECK(contains(t.error().message, "loop or shared node"));
    }
    SUBCASE("a record past the data section") {
        MiniDb bad = db;
        bad.insert(doc, -1000);
        const std::string p = (dir.path / "invalid.mmdb").string();
        write_text(p, bad.bytes(0xFFFFFF));
        const auto t = read_mmdb_asn(p);
        REQUIRE(!t);
        CHECK(contains(t.error().message, p));
    }
    SUBCASE("a search node at the last bit") {
        MiniDb deep;
        deep.ip_version = 4;
        std::vector<int> bits(32, 0);
        deep.insert(bits, 0);  // 0.0.0.0/32 points back at the root
        const std::string p = (dir.path / "deep.mmdb").string();
        write_text(p, deep.bytes());
        const auto t = read_mmdb_asn(p);
        REQUIRE(!t);
        CHECK(contains(t.error().message, p));
    }
}

TEST_CASE("mmdb: hand-built IPv6 tree whose ::/96 is one network: 0.0.0.0/0") {
    TempDir dir("anondb-asn");
    MiniDb db;
    db.ip_version = 6;
    db.values = {MiniDb::asn_value(64511)};
    db.insert(std::vector<int>(96, 0), MiniDb::data(0));
    const std::string path = (dir.path / "all-v4.mmdb").string();
    write_text(path, db.bytes());
    const auto t = read_mmdb_asn(path);
    REQUIRE_MESSAGE(t, t.error().message);
    REQUIRE(t->rows.size() == 1);
    CHECK(t->row_text(t->rows[0]) == "0.0.0.0/0");
    CHECK(t->rows[0].range == Range{kV4First, kV4Last});
    cross_check(path, *t);
}

// ---- libloc (IPFire location databases) ------------------------------------------

namespace {

// Debian's libloc-database package: 1,290,053 networks, data of 2022-10-29.
const std::string kLocationDb = "/usr/share/libloc-location/location.db";

// The test's own use of libloc, as the oracle: its enumerator and lookup.
struct LocOracle {
    loc_ctx* ctx = nullptr;
    std::FILE* file = nullptr;
    loc_database* db = nullptr;

    explicit LocOracle(const std::string& path) {
        REQUIRE(loc_new(&ctx) == 0);
        loc_set_log_priority(ctx, 0);
        file = std::fopen(path.c_str(), "rb");
        REQUIRE(file != nullptr);
        REQUIRE(loc_database_new(ctx, &db, file) == 0);
    }
    ~LocOracle() {
        if (db) loc_database_unref(db);
        if (file) std::fclose(file);
        loc_unref(ctx);
    }
    LocOracle(const LocOracle&) = delete;
    LocOracle& operator=(const LocOracle&) = delete;

    struct Network {
        std::string text;  // loc_network_str: "1.0.0.0/24", "2001:db8::/32"
        U128 first;
        unsigned len128;
        std::uint32_t asn;
    };
    static Network network_of(loc_network* n) {
        std::array<std::uint8_t, 16> b{};
        std::memcpy(b.data(), loc_network_get_first_address(n)->s6_addr, 16);
        U128 first = 0;
        for (const std::uint8_t x : b) first = (first << 8) | x;
        const unsigned p = loc_network_prefix(n);
        const unsigned len128 = loc_network_address_family(n) == AF_INET ? p + 96 : p;
        return Network{loc_network_str(n), first, len128, loc_network_get_asn(n)};
    }

    // Every network, in the enumerator's order (unflattened).
    std::vector<Network> enumerate() {
        loc_database_enumerator* e = nullptr;
        REQUIRE(loc_database_enumerator_new(&e, db, LOC_DB_ENUMERATE_NETWORKS, 0) == 0);
        std::vector<Network> out;
        while (true) {
            loc_network* n = nullptr;
            REQUIRE(loc_database_enumerator_next_network(e, &n) == 0);
            if (!n) break;
            out.push_back(network_of(n));
            loc_network_unref(n);
        }
        loc_database_enumerator_unref(e);
        return out;
    }

    // The most specific network holding `ip`, as libloc's lookup finds it.
    std::optional<Network> lookup(Ip ip) {
        const auto b = ip.to_bytes();
        in6_addr a{};
        std::memcpy(a.s6_addr, b.data(), 16);
        loc_network* n = nullptr;
        const int rc = loc_database_lookup(db, &a, &n);
        if (rc != 0 || !n) return std::nullopt;
        Network out = network_of(n);
        loc_network_unref(n);
        return out;
    }
};

// Writes a libloc database of ("NETWORK/LEN", ASN) with libloc's writer.
void write_loc_db(const std::string& path, const std::vector<std::pair<std::string, std::uint32_t>>& networks) {
    loc_ctx* ctx = nullptr;
    REQUIRE(loc_new(&ctx) == 0);
    loc_writer* w = nullptr;
    REQUIRE(loc_writer_new(ctx, &w, nullptr, nullptr) == 0);
    for (const auto& [text, asn] : networks) {
        loc_network* n = nullptr;
        REQUIRE_MESSAGE(loc_writer_add_network(w, &n, text.c_str()) == 0, text);
        loc_network_set_asn(n, asn);
        loc_network_unref(n);
    }
    std::FILE* f = std::fopen(path.c_str(), "w+b");
    REQUIRE(f != nullptr);
    CHECK(loc_writer_write(w, f, LOC_DATABASE_VERSION_UNSET) == 0);
    std::fclose(f);
    loc_writer_unref(w);
    loc_unref(ctx);
}

// Longest-prefix match over the rows, by the test's own arithmetic: the row
// for (first, len) of the most specific prefix of `ip` that is a row.
struct RowIndex {
    struct Key {
        U128 first;
        unsigned len;
        bool operator==(const Key&) const = default;
    };
    struct Hash {
        std::size_t operator()(const Key& k) const {
            return std::hash<std::uint64_t>()(static_cast<std::uint64_t>(k.first) ^
                                              static_cast<std::uint64_t>(k.first >> 64) * 0x9E3779B97F4A7C15ull) ^
                   k.len;
        }
    };
    std::unordered_map<Key, std::size_t, Hash> rows;

    explicit RowIndex(const AsnTable& t) {
        for (std::size_t i = 0; i < t.rows.size(); ++i) {
            const U128 first = to_u128(t.rows[i].range.first), last = to_u128(t.rows[i].range.last);
            const U128 host = last - first;  // 2^k - 1 for a prefix
            REQUIRE((host & (host + 1)) == 0);
            unsigned bits = 0;
            for (U128 h = host; h; h >>= 1) ++bits;
            REQUIRE(rows.emplace(Key{first, 128 - bits}, i).second);  // no network twice
        }
    }
    std::optional<std::size_t> match(Ip ip) const {
        const U128 a = to_u128(ip);
        for (int len = 128; len >= 0; --len) {
            const U128 host = len == 128 ? U128{0} : (~U128{0} >> len);
            const auto it = rows.find(Key{a & ~host, static_cast<unsigned>(len)});
            if (it != rows.end()) return it->second;
        }
        return std::nullopt;
    }
};

std::string lpm_text(const AsnTable& t, const RowIndex& index, Ip ip) {
    const auto row = index.match(ip);
    return row ? std::string(t.row_text(t.rows[*row])) : std::string("none");
}
std::string lookup_text(LocOracle& o, Ip ip) {
    const auto n = o.lookup(ip);
    if (!n) return "none";
    return n->asn ? n->text + " AS" + std::to_string(n->asn) : n->text;
}

// Rows in address order, a covering row before the rows inside it.
void check_row_order(const AsnTable& t) {
    for (std::size_t i = 1; i < t.rows.size(); ++i) {
        const Range &a = t.rows[i - 1].range, &b = t.rows[i].range;
        CHECK((a.first < b.first || (a.first == b.first && b.last < a.last)));
    }
}

}  // namespace

TEST_CASE("libloc: Debian's location.db, every network, checked against libloc's enumerator and lookup") {
    const auto t = read_libloc_asn(kLocationDb);
    REQUIRE_MESSAGE(t, t.error().message);
    CHECK(t->rejects.empty());
    CHECK(t->warnings.empty());

    LocOracle o(kLocationDb);
    const std::vector<LocOracle::Network> nets = o.enumerate();
    CHECK(nets.size() == 1290053);
    REQUIRE(t->rows.size() == nets.size());
    std::size_t as0 = 0, v4 = 0;
    for (std::size_t i = 0; i < nets.size(); ++i) {
        const LocOracle::Network& n = nets[i];
        const AsnRow& r = t->rows[i];
        CAPTURE(n.text);
        const U128 host = n.len128 == 128 ? U128{0} : (~U128{0} >> n.len128);
        REQUIRE(to_u128(r.range.first) == (n.first & ~host));
        REQUIRE(to_u128(r.range.last) == (n.first | host));
        REQUIRE(r.line == 0);
        if (n.asn == 0) {
            ++as0;
            REQUIRE(r.asn_count == 0);
            REQUIRE(t->row_text(r) == n.text);
        } else {
            REQUIRE(r.asn_count == 1);
            REQUIRE(t->asns[r.asn_begin] == n.asn);
            REQUIRE(t->row_text(r) == n.text + " AS" + std::to_string(n.asn));
        }
        if (r.range.first.is_v4()) ++v4;
    }
    CHECK(as0 == 143779);
    CHECK(v4 == 1069950);
    CHECK(t->asns.size() == nets.size() - as0);
    check_row_order(*t);

    // Known networks. 1.0.0.0/8 has no ASN and holds 1.0.0.0/24 (Cloudflare).
    REQUIRE(t->rows.size() >= 5);
    CHECK(t->row_text(t->rows[0]) == "1.0.0.0/8");
    CHECK(t->rows[0].range == range_of("1.0.0.0/8"));
    CHECK(t->rows[0].asn_count == 0);
    CHECK(t->row_text(t->rows[1]) == "1.0.0.0/24 AS13335");
    CHECK(t->rows[1].range == range_of("1.0.0.0/24"));
    CHECK(row_asns(*t, t->rows[1]) == std::vector<std::uint32_t>{13335});
    CHECK(t->row_text(t->rows[4]) == "1.0.4.0/22 AS38803");
    const auto v6 = std::find_if(t->rows.begin(), t->rows.end(),
                                 [&](const AsnRow& r) { return t->row_text(r) == "2804:14d:ed2a::/48 AS28573"; });
    REQUIRE(v6 != t->rows.end());
    CHECK(v6->range == range_of("2804:14d:ed2a::/48"));

    // How the networks nest, by the chain of rows covering each row. In
    // this data an AS 0 network only ever sits in another AS 0 network (the
    // small database below has one inside a network with an ASN).
    std::size_t nested = 0, same_asn = 0, as0_in_as0 = 0, asn_in_as0 = 0, as0_in_asn = 0;
    std::vector<std::size_t> cover;
    for (std::size_t i = 0; i < t->rows.size(); ++i) {
        const AsnRow& r = t->rows[i];
        while (!cover.empty() && t->rows[cover.back()].range.last < r.range.first) cover.pop_back();
        if (!cover.empty()) {
            const AsnRow& p = t->rows[cover.back()];
            REQUIRE(p.range.last >= r.range.last);  // nested, never overlapping
            ++nested;
            if (p.asn_count == 0) ++(r.asn_count == 0 ? as0_in_as0 : asn_in_as0);
            else if (r.asn_count == 0) ++as0_in_asn;
            else if (t->asns[p.asn_begin] == t->asns[r.asn_begin]) ++same_asn;
        }
        cover.push_back(i);
    }
    CHECK(nested == 1087456);
    CHECK(same_asn == 493262);
    CHECK(as0_in_as0 == 59970);
    CHECK(asn_in_as0 == 391130);
    CHECK(as0_in_asn == 0);

    // Longest-prefix match over the rows gives what libloc's lookup gives,
    // at both ends of every 97th row and of the first 2000 AS 0 rows.
    const RowIndex index(*t);
    std::size_t compared = 0, as0_compared = 0;
    for (std::size_t i = 0; i < t->rows.size(); ++i) {
        const AsnRow& r = t->rows[i];
        const bool as0 = r.asn_count == 0 && as0_compared < 2000;
        if (i % 97 != 0 && !as0) continue;
        if (as0) ++as0_compared;
        for (const Ip ip : {r.range.first, r.range.last}) {
            CAPTURE(format_ip(ip));
            CHECK(lpm_text(*t, index, ip) == lookup_text(o, ip));
            ++compared;
        }
    }
    CHECK(as0_compared == 2000);
    CHECK(compared > 2 * (nets.size() / 97));
    for (const char* ip : {"1.0.0.1", "1.0.1.1", "1.1.1.1", "8.8.8.8", "2606:4700::1111", "2001:db8::1", "::1"}) {
        CAPTURE(ip);
        CHECK(lpm_text(*t, index, ip_of(ip)) == lookup_text(o, ip_of(ip)));
    }
    CHECK(lpm_text(*t, index, ip_of("1.0.0.1")) == "1.0.0.0/24 AS13335");
}

TEST_CASE("libloc: a database written by libloc, nested IPv4 and IPv6 networks, read back exactly") {
    TempDir dir("anondb-loc");
    const std::string path = (dir.path / "small.db").string();
    // Not in order, to leave the order to the database.
    write_loc_db(path, {{"2001:db8:1:2::/64", 64511},
                        {"10.1.2.128/25", 64501},
                        {"2001:db8::/32", 64510},
                        {"10.0.0.0/8", 64500},
                        {"10.1.0.0/16", 0},  // no ASN, inside AS64500
                        {"10.1.2.0/24", 64501},
                        {"2001:db8:1::/48", 0},
                        {"192.0.2.0/24", 64502},
                        {"255.255.255.255/32", 4294967295u},
                        {"2001:db8::1/128", 64512},
                        {"0.0.0.0/0", 64496}});
    const auto t = read_libloc_asn(path);
    REQUIRE_MESSAGE(t, t.error().message);
    const std::vector<std::pair<std::string, std::string>> want = {
        {"0.0.0.0/0 AS64496", "0.0.0.0/0"},
        {"10.0.0.0/8 AS64500", "10.0.0.0/8"},
        {"10.1.0.0/16", "10.1.0.0/16"},
        {"10.1.2.0/24 AS64501", "10.1.2.0/24"},
        {"10.1.2.128/25 AS64501", "10.1.2.128/25"},
        {"192.0.2.0/24 AS64502", "192.0.2.0/24"},
        {"255.255.255.255/32 AS4294967295", "255.255.255.255/32"},
        {"2001:db8::/32 AS64510", "2001:db8::/32"},
        {"2001:db8::1/128 AS64512", "2001:db8::1/128"},
        {"2001:db8:1::/48", "2001:db8:1::/48"},
        {"2001:db8:1:2::/64 AS64511", "2001:db8:1:2::/64"},
    };
    REQUIRE(t->rows.size() == want.size());
    for (std::size_t i = 0; i < want.size(); ++i) {
        CAPTURE(i);
        const AsnRow& r = t->rows[i];
        CHECK(t->row_text(r) == want[i].first);
        CHECK(r.range == range_of(want[i].second));
        CHECK(r.line == 0);
        CHECK(r.asn_count == (contains(want[i].first, " AS") ? 1u : 0u));
    }
    CHECK(t->rows[0].range == Range{kV4First, kV4Last});  // IPv4's /0 is ::ffff:0:0/96
    CHECK(t->asns == std::vector<std::uint32_t>{64496, 64500, 64501, 64501, 64502, 4294967295u, 64510, 64512, 64511});
    CHECK(t->rejects.empty());
    CHECK(t->warnings.empty());
    check_row_order(*t);

    // libloc's lookup and the longest-prefix match agree, AS 0 rows shadowing.
    LocOracle o(path);
    CHECK(o.enumerate().size() == want.size());
    const RowIndex index(*t);
    const std::vector<std::pair<const char*, const char*>> lookups = {
        {"10.1.5.5", "10.1.0.0/16"},  // AS 0 inside AS64500: no origin
        {"10.2.0.1", "10.0.0.0/8 AS64500"},
        {"10.1.2.1", "10.1.2.0/24 AS64501"},
        {"10.1.2.200", "10.1.2.128/25 AS64501"},
        {"8.8.8.8", "0.0.0.0/0 AS64496"},
        {"255.255.255.255", "255.255.255.255/32 AS4294967295"},
        {"2001:db8::1", "2001:db8::1/128 AS64512"},
        {"2001:db8::2", "2001:db8::/32 AS64510"},
        {"2001:db8:1::5", "2001:db8:1::/48"},
        {"2001:db8:1:2::5", "2001:db8:1:2::/64 AS64511"},
        {"2001:db9::", "none"},
    };
    for (const auto& [ip, text] : lookups) {
        CAPTURE(ip);
        CHECK(lpm_text(*t, index, ip_of(ip)) == text);
        CHECK(lookup_text(o, ip_of(ip)) == text);
    }
}

TEST_CASE("libloc: an empty database gives an empty table") {
    TempDir dir("anondb-loc");
    const std::string path = (dir.path / "empty.db").string();
    write_loc_db(path, {});
    const auto t = read_libloc_asn(path);
    REQUIRE_MESSAGE(t, t.error().message);
    CHECK(t->rows.empty());
    CHECK(t->asns.empty());
}

TEST_CASE("libloc: missing, foreign, truncated and damaged files are errors naming the path") {
    TempDir dir("anondb-loc");
    const std::string good_path = (dir.path / "good.db").string();
    write_loc_db(good_path, {{"10.0.0.0/8", 64500}, {"10.1.0.0/16", 0}, {"10.1.2.0/24", 64501},
                             {"2001:db8::/32", 64510}, {"2001:db8:1::/48", 0}});
    const std::string good = read_text(good_path);
    REQUIRE(read_libloc_asn(good_path));

    auto expect_error = [&](const std::string& name, const std::string& bytes) {
        const std::string path = (dir.path / name).string();
        write_text(path, bytes);
        const auto t = read_libloc_asn(path);
        CAPTURE(name);
        REQUIRE(!t);
        CHECK(contains(t.error().message, path));
        return t.error();
    };
    {
        const std::string missing = (dir.path / "missing.db").string();
        const auto t = read_libloc_asn(missing);
        REQUIRE(!t);
        CHECK(t.error().status == Status::io);
        CHECK(contains(t.error().message, missing));
    }
    SUBCASE("not a libloc database") {
        FeedNoise noise(7, "LOCDBX\x01");
        for (int k = 0; k < 20; ++k) expect_error("noise.db", noise.random_body(100000));
        CHECK(contains(expect_error("empty.db", "").message, "not a libloc"));
        CHECK(contains(expect_error("text.db", "1.0.0.0/24\t13335\n").message, "not a libloc"));
        CHECK(expect_error("mmdb.db", read_text(kRepo + "/tests/data/mmdb/GeoLite2-ASN-Test.mmdb")).status ==
              Status::corrupt);
    }
    SUBCASE("the magic, then garbage") {
        FeedNoise noise(11, std::string_view("\x00\x01\xff", 3));
        for (int k = 0; k < 20; ++k) {
            std::string bytes = good.substr(0, 8) + noise.random_body(200000);
            expect_error("garbage.db", bytes);
        }
        std::string v2 = good;
        v2[7] = 2;  // format version
        CHECK(expect_error("v2.db", v2).status == Status::unsupported_version);
    }
    SUBCASE("truncated") {
        for (const std::size_t n : {std::size_t{7}, std::size_t{8}, std::size_t{100}, std::size_t{4200},
                                    good.size() / 2, good.size() - 1}) {
            CAPTURE(n);
            const Error e = expect_error("cut.db", good.substr(0, n));
            if (n > 8) CHECK(e.status == Status::truncated);
        }
    }
    SUBCASE("Debian's location.db cut in half") {
        const std::string real = read_text(kLocationDb);
        const Error e = expect_error("half.db", real.substr(0, real.size() / 2));
        CHECK(e.status == Status::truncated);
        CHECK(contains(e.message, "past the end of the file"));
    }
    SUBCASE("random byte flips: an error or a consistent table, never a crash") {
        FeedNoise noise(0x10C, "x");  // positions only
        int errors = 0, tables = 0;
        for (int round = 0; round < 400; ++round) {
            std::string bad = good;
            // A third in the header's fixed fields (magic, section offsets and
            // lengths), the rest past the header: sections, tree, networks.
            for (int k = 0; k < 4; ++k) {
                const std::size_t at =
                    noise.uniform(3) == 0 ? noise.uniform(72) : 4200 + noise.uniform(bad.size() - 4200);
                bad[at] = static_cast<char>(bad[at] ^ static_cast<char>(1 + noise.uniform(255)));
            }
            const std::string path = (dir.path / "flip.db").string();
            write_text(path, bad);
            const auto t = read_libloc_asn(path);
            if (!t) {
                ++errors;
                CHECK(contains(t.error().message, path));
                continue;
            }
            ++tables;
            for (const AsnRow& r : t->rows) {
                CHECK(range_prefix_len(r.range).has_value());
                CHECK(r.asn_count <= 1);
            }
            check_row_order(*t);
        }
        CHECK(errors > 0);
        CHECK(tables > 0);
    }
}
