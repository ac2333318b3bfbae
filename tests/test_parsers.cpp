// Feed parsers: real samples (data/snapshot, tests/data/feeds) with counts
// checked by independent scans, malformed input with exact reasons and line
// numbers, and a randomised robustness run over every registered parser.
#include <doctest/doctest.h>

#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "anondb/ip.hpp"
#include "anondb/sources/asn.hpp"
#include "anondb/sources/exclusions.hpp"
#include "anondb/sources/formats.hpp"
#include "anondb/sources/parse.hpp"
#include "test_util.hpp"

using namespace anondb;
using namespace anondb::sources;
using namespace anondb::test;
using namespace std::string_literals;
using namespace std::string_view_literals;

namespace {

// A file of the source tree, by its path relative to the root.

std::string_view quoted(std::string_view body, const ParsedEntry& e) {
    return body.substr(e.text_offset, e.text_length);
}

// The one-address range of an address literal.
Range single(std::string_view text) {
    const Ip a = ip_of(text);
    return Range{a, a};
}

std::uint64_t range_size_v4(Range r) { return std::uint64_t{r.last.v4()} - r.first.v4() + 1; }

// The contract of parse.hpp, checked on any body: entries quote text inside
// the body on the line they claim, issues carry a line inside the body and a
// cut text.
void check_invariants(std::string_view body, const ParseResult& r, bool line_format) {
    // line_starts[k] = offset where line k+1 begins.
    std::vector<std::size_t> line_starts{0};
    for (std::size_t k = 0; k < body.size(); ++k)
        if (body[k] == '\n') line_starts.push_back(k + 1);
    const std::uint64_t lines = line_starts.size();
    for (const ParsedEntry& e : r.entries) {
        REQUIRE(e.line >= 1);
        REQUIRE(e.line <= lines);
        REQUIRE(e.text_offset <= body.size());
        REQUIRE(e.text_length <= body.size() - e.text_offset);
        REQUIRE(e.range.first <= e.range.last);
        const auto line_of_text =
            std::upper_bound(line_starts.begin(), line_starts.end(), e.text_offset) - line_starts.begin();
        REQUIRE(e.line == line_of_text);
        if (line_format) REQUIRE(quoted(body, e).find('\n') == std::string_view::npos);
    }
    for (const auto* issues : {&r.rejects, &r.warnings}) {
        for (const LineIssue& i : *issues) {
            REQUIRE(i.line >= 1);
            REQUIRE(i.line <= lines);
            REQUIRE(!i.reason.empty());
            REQUIRE(i.text.size() <= kIssueTextMax);
        }
    }
}

bool same(const ParseResult& a, const ParseResult& b) {
    auto eq_issues = [](const std::vector<LineIssue>& x, const std::vector<LineIssue>& y) {
        return std::equal(x.begin(), x.end(), y.begin(), y.end(), [](const LineIssue& p, const LineIssue& q) {
            return p.line == q.line && p.reason == q.reason && p.text == q.text;
        });
    };
    auto eq_entry = [](const ParsedEntry& p, const ParsedEntry& q) {
        return p.range == q.range && p.line == q.line && p.text_offset == q.text_offset &&
               p.text_length == q.text_length;
    };
    return std::equal(a.entries.begin(), a.entries.end(), b.entries.begin(), b.entries.end(), eq_entry) &&
           eq_issues(a.rejects, b.rejects) && eq_issues(a.warnings, b.warnings);
}

// The text of a prefix as format_range prints it: a one-address prefix
// becomes the bare address.
std::string canonical(std::string_view text) {
    for (std::string_view full : {"/32"sv, "/128"sv})
        if (text.size() > full.size() && text.substr(text.size() - full.size()) == full &&
            (full == "/128") == (text.find(':') != std::string_view::npos))
            return std::string(text.substr(0, text.size() - full.size()));
    return std::string(text);
}


}  // namespace

// ---------------------------------------------------------------------------
TEST_CASE("registry lists the formats and finds them by name") {
    const auto all = formats();
    REQUIRE(all.size() == 9);  // the JSON cloud and Onionoo formats: test_cloud_formats
    CHECK(all[0].name == "plain");
    CHECK(all[1].name == "tor-exit-addresses");
    CHECK(all[2].name == "aws-ip-ranges");
    CHECK(all[3].name == "geofeed");
    CHECK((find_format("plain")->parse == &parse_plain));
    CHECK((find_format("tor-exit-addresses")->parse == &parse_tor_exit_addresses));
    CHECK((find_format("aws-ip-ranges")->parse == &parse_aws_ip_ranges));
    CHECK((find_format("geofeed")->parse == &parse_geofeed));
    std::set<std::string_view> names;
    for (const auto& f : all) {
        CHECK(find_format(f.name) == &f);
        CHECK(!f.description.empty());
        names.insert(f.name);
    }
    CHECK(names.size() == all.size());
    CHECK(find_format("") == nullptr);
    CHECK(find_format("Plain") == nullptr);
    CHECK(find_format("plain ") == nullptr);
    CHECK(find_format("csv") == nullptr);
}

// ---------------------------------------------------------------------------
TEST_CASE("plain: FireHOL netset, header metadata matches the parsed entries") {
    const std::string body = read_repo_file("data/snapshot/firehol/firehol_proxies.netset");
    const ParseResult r = parse_plain(body);
    check_invariants(body, r, true);
    CHECK(r.rejects.empty());
    CHECK(r.warnings.empty());

    // The header states "# Entries : 30506 subnets, 34117 unique IPs".
    const auto at = body.find("# Entries");
    REQUIRE(at != std::string::npos);
    unsigned long subnets = 0, unique_ips = 0;
    std::istringstream header(body.substr(body.find(':', at) + 1, 60));
    std::string word;
    header >> subnets >> word;
    REQUIRE(word == "subnets,");
    header >> unique_ips;
    CHECK(subnets == 30506);
    CHECK(unique_ips == 34117);

    CHECK(r.entries.size() == subnets);
    std::uint64_t addresses = 0;
    for (const auto& e : r.entries) {
        REQUIRE(e.range.first.is_v4());
        addresses += range_size_v4(e.range);
        // Every line is canonical: the parsed range prints back as written.
        REQUIRE(format_range(e.range) == canonical(quoted(body, e)));
    }
    CHECK(addresses == unique_ips);

    // Independent count: lines that are neither empty nor '#' comments.
    const auto lines = split_lines(body);
    CHECK(std::count_if(lines.begin(), lines.end(),
                        [](std::string_view l) { return !l.empty() && l[0] != '#'; }) == 30506);

    // Spot checks: the first entry follows the 34-line header; line 116 is
    // the first prefix.
    CHECK(r.entries[0].line == 35);
    CHECK(quoted(body, r.entries[0]) == "1.0.137.248");
    CHECK(r.entries[0].range == single("1.0.137.248"));
    const auto it = std::find_if(r.entries.begin(), r.entries.end(), [](const ParsedEntry& e) { return e.line == 116; });
    REQUIRE(it != r.entries.end());
    CHECK(quoted(body, *it) == "1.169.249.184/31");
    CHECK(it->range == Range{Ip::from_v4(0x01A9F9B8u), Ip::from_v4(0x01A9F9B9u)});
    CHECK(r.entries.back().line == lines.size());
}

TEST_CASE("plain: X4BNet VPN lists, every line a canonical prefix") {
    for (const char* file : {"data/snapshot/x4bnet/vpn-ipv4.txt", "data/snapshot/x4bnet/vpn-ipv6.txt"}) {
        CAPTURE(file);
        const std::string body = read_repo_file(file);
        const ParseResult r = parse_plain(body);
        check_invariants(body, r, true);
        CHECK(r.rejects.empty());
        CHECK(r.warnings.empty());
        const auto lines = split_lines(body);
        REQUIRE(r.entries.size() == lines.size());
        const bool v6 = std::string_view(file).find("ipv6") != std::string_view::npos;
        for (std::size_t k = 0; k < lines.size(); ++k) {
            REQUIRE(r.entries[k].line == k + 1);
            REQUIRE(quoted(body, r.entries[k]) == lines[k]);
            REQUIRE(format_range(r.entries[k].range) == canonical(lines[k]));
            REQUIRE(r.entries[k].range.first.is_v4() == !v6);
        }
        CHECK(r.entries.size() == (v6 ? 498u : 10862u));
    }
    const std::string v4 = read_repo_file("data/snapshot/x4bnet/vpn-ipv4.txt");
    const ParseResult r = parse_plain(v4);
    CHECK(quoted(v4, r.entries[0]) == "2.26.157.0/24");
    CHECK(r.entries[0].range == range_of("2.26.157.0-2.26.157.255"));
}

TEST_CASE("plain: Cloudflare lists without a final newline") {
    const std::string v4 = read_repo_file("data/snapshot/cloudflare/ips-v4.txt");
    REQUIRE(v4.back() != '\n');
    const ParseResult r4 = parse_plain(v4);
    check_invariants(v4, r4, true);
    CHECK(r4.rejects.empty());
    REQUIRE(r4.entries.size() == 15);
    CHECK(r4.entries.back().line == 15);
    CHECK(quoted(v4, r4.entries.back()) == "131.0.72.0/22");
    CHECK(r4.entries.back().text_offset + r4.entries.back().text_length == v4.size());
    CHECK(r4.entries[0].range == range_of("173.245.48.0-173.245.63.255"));

    const std::string v6 = read_repo_file("data/snapshot/cloudflare/ips-v6.txt");
    const ParseResult r6 = parse_plain(v6);
    check_invariants(v6, r6, true);
    CHECK(r6.rejects.empty());
    REQUIRE(r6.entries.size() == 7);
    CHECK(quoted(v6, r6.entries[6]) == "2c0f:f248::/32");
    CHECK(r6.entries[0].range == range_of("2400:cb00::-2400:cb00:ffff:ffff:ffff:ffff:ffff:ffff"));
}

TEST_CASE("plain: Tor bulk exit list equals the ExitAddress set of the same fetch") {
    const std::string bulk = read_repo_file("data/snapshot/tor/torbulkexitlist");
    const std::string full = read_repo_file("data/snapshot/tor/exit-addresses");
    const ParseResult rb = parse_plain(bulk);
    const ParseResult rf = parse_tor_exit_addresses(full);
    check_invariants(bulk, rb, true);
    CHECK(rb.rejects.empty());
    CHECK(rb.entries.size() == 1174);
    std::set<Ip> from_bulk, from_full;
    for (const auto& e : rb.entries) {
        REQUIRE(e.range.first == e.range.last);
        from_bulk.insert(e.range.first);
    }
    for (const auto& e : rf.entries) from_full.insert(e.range.first);
    CHECK(from_bulk.size() == 1174);
    CHECK(from_bulk == from_full);
}

TEST_CASE("plain: trailing '# provider' comments and a comment-only file") {
    const std::string body = read_repo_file("tests/data/feeds/plain/az0-expressvpn.txt");
    const ParseResult r = parse_plain(body);
    check_invariants(body, r, true);
    CHECK(r.rejects.empty());
    REQUIRE(r.entries.size() == 52);
    CHECK(r.entries[0].line == 1);
    CHECK(quoted(body, r.entries[0]) == "91.230.225.200 # expressvpn");  // provenance keeps the comment
    CHECK(r.entries[0].range == single("91.230.225.200"));

    const std::string manual = read_repo_file("tests/data/feeds/plain/x4bnet-manual.txt");
    REQUIRE(manual.back() != '\n');
    const ParseResult m = parse_plain(manual);
    CHECK(m.entries.empty());
    CHECK(m.rejects.empty());
    CHECK(m.warnings.empty());
}

TEST_CASE("plain: malformed lines, BOM, CRLF, comments, ranges, no final newline") {
    const std::string body =
        "\xEF\xBB\xBF"
        "1.2.3.4\r\n"                        // 1 BOM skipped
        "# comment\r\n"                      // 2
        "\r\n"                               // 3
        "10.0.0.0/8 ; SBL123\r\n"            // 4 Spamhaus-style comment
        "  192.168.1.0 - 192.168.1.255  \r\n"  // 5 range, blanks around
        "010.1.2.3\r\n"                      // 6 octal-looking
        "1.2.3.4/33\r\n"                     // 7
        "1.2.3.256\r\n"                      // 8
        "example.com\r\n"                    // 9
        "10.0.0.1/8\r\n"                     // 10 host bits
        "2001:db8::/32\r\n"                  // 11
        "\t;only a comment\r\n"              // 12
        "1.2.3.4/08\r\n"                     // 13 prefix length with leading zero
        "5.6.7.8-5.6.7.1\r\n"                // 14 reversed
        "5.6.7.8-::1\r\n"                    // 15 mixed
        "1.2.3\r\n"                          // 16
        "1.2.3.4 5.6.7.8\r\n"                // 17 two addresses, no comment marker
        "2001:db8::g\r\n"                    // 18
        "5.6.7.8";                           // 19 no final newline
    const ParseResult r = parse_plain(body);
    check_invariants(body, r, true);
    CHECK(entry_lines(r) == std::vector<std::uint32_t>{1, 4, 5, 10, 11, 19});
    CHECK(r.entries[0].text_offset == 3);
    CHECK(quoted(body, r.entries[0]) == "1.2.3.4");
    CHECK(quoted(body, r.entries[1]) == "10.0.0.0/8 ; SBL123");
    CHECK(quoted(body, r.entries[2]) == "192.168.1.0 - 192.168.1.255");
    CHECK(r.entries[2].range == range_of("192.168.1.0/24"));
    CHECK(quoted(body, r.entries[3]) == "10.0.0.1/8");
    CHECK(r.entries[3].range == range_of("10.0.0.0/8"));
    CHECK(r.entries[4].range == range_of("2001:db8::/32"));
    CHECK(quoted(body, r.entries[5]) == "5.6.7.8");
    check_issues(r.rejects, {
                                {6, reason(IpError::octet_leading_zero)},
                                {7, reason(IpError::bad_prefix_len)},
                                {8, reason(IpError::octet_range)},
                                {9, reason(IpError::junk)},
                                {13, reason(IpError::bad_prefix_len)},
                                {14, reason(IpError::reversed_range)},
                                {15, reason(IpError::mixed_families)},
                                {16, reason(IpError::bad_ipv4)},
                                {17, reason(IpError::junk)},
                                {18, reason(IpError::junk)},
                            });
    CHECK(r.rejects[0].reason == "IPv4 octet with leading zero (octal-looking)");
    CHECK(r.rejects[0].text == "010.1.2.3");  // without the CR
    check_issues(r.warnings, {{10, "host bits set"}});
    CHECK(r.warnings[0].text == "10.0.0.1/8");
}

TEST_CASE("plain: NUL bytes, lone CR, huge lines, issue text cut") {
    SUBCASE("NUL bytes are junk, not line ends") {
        const std::string body = "1.2.3.4\0\n5.6.7.8\n\0\n9.9.9.9"s;
        const ParseResult r = parse_plain(body);
        check_invariants(body, r, true);
        CHECK(entry_lines(r) == std::vector<std::uint32_t>{2, 4});
        check_issues(r.rejects, {{1, reason(IpError::junk)}, {3, reason(IpError::junk)}});
        CHECK(r.rejects[0].text == "1.2.3.4\0"s);
    }
    SUBCASE("a lone CR does not end a line") {
        const std::string body = "1.2.3.4\r5.6.7.8\n";
        const ParseResult r = parse_plain(body);
        CHECK(r.entries.empty());
        check_issues(r.rejects, {{1, reason(IpError::junk)}});
    }
    SUBCASE("a 1 MB line is rejected with its text cut") {
        const std::string body = std::string(1 << 20, '7') + "\n1.2.3.4\n";
        const ParseResult r = parse_plain(body);
        check_invariants(body, r, true);
        CHECK(entry_lines(r) == std::vector<std::uint32_t>{2});
        REQUIRE(r.rejects.size() == 1);
        CHECK(r.rejects[0].line == 1);
        CHECK(r.rejects[0].text == std::string(kIssueTextMax, '7'));
    }
    SUBCASE("the cut does not split a UTF-8 character") {
        const std::string line = std::string(kIssueTextMax - 1, 'x') + "\xC3\xA9" + "tail";
        const ParseResult r = parse_plain(line);
        REQUIRE(r.rejects.size() == 1);
        CHECK(r.rejects[0].text == std::string(kIssueTextMax - 1, 'x'));
    }
    SUBCASE("empty and blank bodies") {
        for (std::string_view body : {""sv, "\n"sv, "\n\n\r\n \t\n"sv, "\xEF\xBB\xBF"sv, "#"sv}) {
            const ParseResult r = parse_plain(body);
            CHECK(r.entries.empty());
            CHECK(r.rejects.empty());
        }
    }
    SUBCASE("a BOM only counts at the very start") {
        const std::string body = "1.2.3.4\n\xEF\xBB\xBF" "5.6.7.8\n";
        const ParseResult r = parse_plain(body);
        CHECK(entry_lines(r) == std::vector<std::uint32_t>{1});
        check_issues(r.rejects, {{2, reason(IpError::junk)}});
    }
}

// ---------------------------------------------------------------------------
TEST_CASE("tor-exit-addresses: check.torproject.org snapshot") {
    const std::string body = read_repo_file("data/snapshot/tor/exit-addresses");
    const ParseResult r = parse_tor_exit_addresses(body);
    check_invariants(body, r, true);
    CHECK(r.rejects.empty());
    CHECK(r.warnings.empty());

    // Independent scan: every line that starts with "ExitAddress ".
    const auto lines = split_lines(body);
    std::vector<std::uint32_t> want;
    for (std::size_t k = 0; k < lines.size(); ++k)
        if (lines[k].substr(0, 12) == "ExitAddress ") want.push_back(static_cast<std::uint32_t>(k + 1));
    CHECK(want.size() == 2378);
    REQUIRE(entry_lines(r) == want);
    for (const auto& e : r.entries) {
        REQUIRE(quoted(body, e) == lines[e.line - 1]);
        // The address is the second word of the line.
        const auto text = quoted(body, e);
        const auto ip = text.substr(12, text.find(' ', 12) - 12);
        REQUIRE(e.range == single(ip));
    }
    CHECK(r.entries[0].line == 4);
    CHECK(quoted(body, r.entries[0]) == "ExitAddress 185.241.208.232 2024-03-12 08:10:51");
    CHECK(r.entries[0].range == single("185.241.208.232"));
    CHECK(r.entries.back().line == 9494);
    CHECK(quoted(body, r.entries.back()) == "ExitAddress 141.98.168.54 2024-03-12 14:27:10");
}

TEST_CASE("tor-exit-addresses: CollecTor variant with @type and Downloaded") {
    const std::string body = read_repo_file("tests/data/feeds/tor/2017-07-17-17-02-00");
    REQUIRE(body.substr(0, 19) == "@type tordnsel 1.0\n");
    const ParseResult r = parse_tor_exit_addresses(body);
    check_invariants(body, r, true);
    CHECK(r.rejects.empty());
    const auto lines = split_lines(body);
    CHECK(static_cast<std::size_t>(std::count_if(lines.begin(), lines.end(), [](std::string_view l) {
              return l.substr(0, 12) == "ExitAddress ";
          })) == r.entries.size());
    REQUIRE(r.entries.size() == 44);
    CHECK(r.entries[0].line == 6);
    CHECK(quoted(body, r.entries[0]) == "ExitAddress 162.247.72.201 2017-07-17 14:11:38");
    CHECK(r.entries.back().line == 178);
    CHECK(r.entries.back().range == single("209.249.180.198"));
}

TEST_CASE("tor-exit-addresses: malformed records") {
    const std::string body =
        "ExitNode 0011BD2485AD45D984EC4159C88FC066E5E3300E\n"  // 1
        "Bogus line\n"                                          // 2
        "ExitAddress 1.2.3 2024-01-01 00:00:00\n"               // 3
        "ExitAddress 010.0.0.1 2024-01-01 00:00:00\n"           // 4
        "@type bridge-pool-assignment 1.0\n"                    // 5
        "ExitAddress\n"                                         // 6
        "<html><body>502 Bad Gateway</body></html>\n"           // 7
        "ExitAddress 2001:db8::1 2024-01-01 00:00:00\r\n"       // 8 IPv6, CRLF
        "\n"                                                    // 9
        "exitaddress 1.2.3.4 2024-01-01 00:00:00\n"             // 10 keywords are case-sensitive
        "ExitAddress 1.2.3.0/24 2024-01-01 00:00:00\n"          // 11 not an address
        "ExitAddress\t9.9.9.9\t2024-01-01 00:00:00\n"           // 12 tabs
        "ExitAddress 300.1.1.1 2024-01-01 00:00:00";            // 13 no final newline
    const ParseResult r = parse_tor_exit_addresses(body);
    check_invariants(body, r, true);
    CHECK(entry_lines(r) == std::vector<std::uint32_t>{8, 12});
    CHECK(quoted(body, r.entries[0]) == "ExitAddress 2001:db8::1 2024-01-01 00:00:00");
    CHECK(r.entries[0].range == single("2001:db8::1"));
    CHECK(r.entries[1].range == single("9.9.9.9"));
    check_issues(r.rejects, {
                                {2, "unknown keyword"},
                                {3, reason(IpError::bad_ipv4)},
                                {4, reason(IpError::octet_leading_zero)},
                                {5, "unsupported @type"},
                                {6, reason(IpError::empty)},
                                {7, "unknown keyword"},
                                {10, "unknown keyword"},
                                {11, reason(IpError::junk)},
                                {13, reason(IpError::octet_range)},
                            });
    CHECK(r.rejects[1].text == "ExitAddress 1.2.3 2024-01-01 00:00:00");
    CHECK(r.warnings.empty());
}

TEST_CASE("tor-exit-addresses: a plain list is not TorDNSEL") {
    const std::string body = read_repo_file("data/snapshot/tor/torbulkexitlist");
    const ParseResult r = parse_tor_exit_addresses(body);
    CHECK(r.entries.empty());
    // Every line rejected and counted; the first IssueList::kKept kept in full.
    REQUIRE(r.rejects.total() == 1174);
    REQUIRE(r.rejects.size() == IssueList::kKept);
    CHECK(r.rejects.counts().at("unknown keyword") == 1174);
    CHECK(r.rejects.counts().size() == 1);
    for (const auto& i : r.rejects) REQUIRE(i.reason == "unknown keyword");
    CHECK(r.rejects[IssueList::kKept - 1].line == IssueList::kKept);
    CHECK(r.rejects[0].text == "185.241.208.232");
}

// ---------------------------------------------------------------------------
TEST_CASE("aws-ip-ranges: snapshot, every prefix with its line and exact text") {
    const std::string body = read_repo_file("data/snapshot/aws/ip-ranges.json");
    const ParseResult r = parse_aws_ip_ranges(body);
    check_invariants(body, r, false);
    CHECK(r.rejects.empty());
    CHECK(r.warnings.empty());

    // Independent counts: occurrences of the two keys.
    auto count_of = [&](std::string_view needle) {
        std::size_t n = 0;
        for (std::size_t at = body.find(needle); at != std::string::npos; at = body.find(needle, at + 1)) ++n;
        return n;
    };
    const std::size_t v4 = count_of("\"ip_prefix\"");
    const std::size_t v6 = count_of("\"ipv6_prefix\"");
    CHECK(v4 == 8971);
    CHECK(v6 == 4373);
    REQUIRE(r.entries.size() == v4 + v6);
    CHECK(static_cast<std::size_t>(std::count_if(r.entries.begin(), r.entries.end(), [](const ParsedEntry& e) {
              return e.range.first.is_v4();
          })) == v4);

    // Each entry quotes the string value of its key, on the line it claims.
    const auto lines = split_lines(body);
    for (const auto& e : r.entries) {
        const auto text = quoted(body, e);
        REQUIRE(body[e.text_offset - 1] == '"');
        REQUIRE(body[e.text_offset + e.text_length] == '"');
        const std::string key = e.range.first.is_v4() ? "\"ip_prefix\": \"" : "\"ipv6_prefix\": \"";
        REQUIRE(lines[e.line - 1].find(key + std::string(text) + "\"") != std::string_view::npos);
        REQUIRE(format_range(e.range) == canonical(text));
    }
    CHECK(r.entries[0].line == 6);
    CHECK(quoted(body, r.entries[0]) == "3.4.12.4/32");
    CHECK(r.entries[0].range == single("3.4.12.4"));
    CHECK(r.entries[v4].line == 53834);
    CHECK(quoted(body, r.entries[v4]) == "2600:1f69:7400::/40");
}

TEST_CASE("aws-ip-ranges: not JSON, truncated, wrong shape") {
    SUBCASE("an HTML error page") {
        const std::string body = "<!DOCTYPE html>\n<html><head><title>503</title></head></html>\n";
        const ParseResult r = parse_aws_ip_ranges(body);
        CHECK(r.entries.empty());
        check_issues(r.rejects, {{1, "not JSON: Invalid value."}});
        CHECK(r.rejects[0].text == "<!DOCTYPE html>");
    }
    SUBCASE("empty body") {
        const ParseResult r = parse_aws_ip_ranges("");
        check_issues(r.rejects, {{1, "not JSON: The document is empty."}});
    }
    SUBCASE("a truncated download keeps nothing") {
        const std::string full = read_repo_file("data/snapshot/aws/ip-ranges.json");
        // Cut in the middle of line 40002 ("ip_prefix": "..."), inside the v4 list.
        const auto lines = split_lines(full);
        REQUIRE(lines[40001].find("\"ip_prefix\": \"") != std::string_view::npos);
        const std::size_t cut = static_cast<std::size_t>(lines[40001].data() - full.data()) + 25;
        const std::string body = full.substr(0, cut);
        const ParseResult r = parse_aws_ip_ranges(body);
        CHECK(r.entries.empty());
        CHECK(r.warnings.empty());
        REQUIRE(r.rejects.size() == 1);
        CHECK(r.rejects[0].reason.rfind("not JSON: ", 0) == 0);
        CHECK(r.rejects[0].line == 40002);
        CHECK(r.rejects[0].reason == "not JSON: Missing a closing quotation mark in string.");
    }
    SUBCASE("a syntax error in the middle is reported on its line") {
        const std::string body = "{\n  \"prefixes\": [\n    {\"ip_prefix\": \"1.2.3.0/24\"},\n    {\"ip_prefix\" \"x\"}\n  ]\n}\n";
        const ParseResult r = parse_aws_ip_ranges(body);
        CHECK(r.entries.empty());
        check_issues(r.rejects, {{4, "not JSON: Missing a colon after a name of object member."}});
        CHECK(r.rejects[0].text == "{\"ip_prefix\" \"x\"}");
    }
    SUBCASE("trailing garbage") {
        const ParseResult r = parse_aws_ip_ranges("{\"prefixes\": [], \"ipv6_prefixes\": []}\n<html>");
        CHECK(r.entries.empty());
        check_issues(r.rejects, {{2, "not JSON: The document root must not be followed by other values."}});
    }
    SUBCASE("root is not an object") {
        const ParseResult r = parse_aws_ip_ranges("[{\"ip_prefix\": \"1.2.3.0/24\"}]");
        CHECK(r.entries.empty());
        check_issues(r.rejects, {{1, "JSON root is not an object"}});
        check_issues(parse_aws_ip_ranges("\n\"1.2.3.4/32\"").rejects, {{2, "JSON root is not an object"}});
        check_issues(parse_aws_ip_ranges("\n[1]").rejects, {{2, "JSON root is not an object"}});
    }
    SUBCASE("missing and misshapen lists") {
        check_issues(parse_aws_ip_ranges("{}").rejects,
                     {{1, "missing prefixes array"}, {1, "missing ipv6_prefixes array"}});
        check_issues(parse_aws_ip_ranges("{\"syncToken\": \"1\",\n\"prefixes\": {\"ip_prefix\": \"1.2.3.0/24\"},\n"
                                         "\"ipv6_prefixes\": null}")
                         .rejects,
                     {{2, "prefixes is not an array"}, {3, "ipv6_prefixes is not an array"}});
    }
    SUBCASE("keys elsewhere are ignored") {
        const ParseResult r = parse_aws_ip_ranges(
            "{\"syncToken\": {\"ip_prefix\": \"9.9.9.9\"}, \"other\": [{\"ip_prefix\": \"8.8.8.8\"}],"
            " \"prefixes\": [{\"ip_prefix\": \"1.2.3.0/24\", \"extra\": {\"ip_prefix\": 5}}],"
            " \"ipv6_prefixes\": [{\"ip_prefix\": \"2001:db8::/32\", \"ipv6_prefix\": \"2001:db8::/32\"}]}");
        CHECK(r.rejects.empty());
        REQUIRE(r.entries.size() == 2);
        CHECK(r.entries[0].range == range_of("1.2.3.0/24"));
        CHECK(r.entries[1].range == range_of("2001:db8::/32"));
    }
}

TEST_CASE("aws-ip-ranges: bad elements are rejected on their own lines") {
    const std::string body =
        "{\n"                                                        // 1
        "  \"prefixes\": [\n"                                        // 2
        "    {\"ip_prefix\": \"1.2.3.0/24\"},\n"                     // 3
        "    {\"ip_prefix\": \"1.2.3.4/24\"},\n"                     // 4 host bits
        "    {\"ip_prefix\": \"010.0.0.0/8\"},\n"                    // 5
        "    {\"ip_prefix\": \"1.2.3.0/33\"},\n"                     // 6
        "    {\"ip_prefix\": \"2001:db8::/32\"},\n"                  // 7
        "    {\"ip_prefix\": 5},\n"                                  // 8
        "    {\"region\": \"x\"},\n"                                 // 9
        "    7,\n"                                                   // 10
        "    {\"ip_prefix\": \"1.0.0.0-1.0.0.255\"},\n"              // 11
        "    {\"ip_prefix\": \"5.5.5.0\\/24\"},\n"                   // 12 escaped '/'
        "    {\"ip_prefix\": \"6.6.6.0/24\", \"ip_prefix\": \"7.7.7.0/24\"},\n"  // 13
        "    {\n"                                                    // 14
        "      \"service\": \"EC2\",\n"                              // 15
        "      \"ip_prefix\": \"8.8.8.0/24\"\n"                      // 16
        "    },\n"                                                   // 17
        "    [\"9.9.9.0/24\"],\n"                                    // 18
        "{}\n"                                                       // 19 at column 0
        "  ],\n"                                                     // 20
        "  \"ipv6_prefixes\": [\n"                                   // 21
        "    {\"ipv6_prefix\": \"2600:1f00::/40\"},\n"               // 22
        "    {\"ipv6_prefix\": \"3.3.3.0/24\"},\n"                   // 23
        "    {\"ipv6_prefix\": [\"2600::/16\"]}\n"                   // 24
        "  ]\n"                                                      // 25
        "}";                                                         // 26
    const ParseResult r = parse_aws_ip_ranges(body);
    check_invariants(body, r, false);
    CHECK(entry_lines(r) == std::vector<std::uint32_t>{3, 4, 12, 13, 16, 22});
    CHECK(quoted(body, r.entries[0]) == "1.2.3.0/24");
    CHECK(r.entries[1].range == range_of("1.2.3.0/24"));
    CHECK(quoted(body, r.entries[2]) == "5.5.5.0\\/24");  // quoted as written in the body
    CHECK(r.entries[2].range == range_of("5.5.5.0/24"));
    CHECK(r.entries[3].range == range_of("6.6.6.0/24"));  // the first of two keys wins
    CHECK(r.entries[4].range == range_of("8.8.8.0/24"));
    CHECK(r.entries[5].range == range_of("2600:1f00::/40"));
    check_issues(r.rejects, {
                                {5, reason(IpError::octet_leading_zero)},
                                {6, reason(IpError::bad_prefix_len)},
                                {7, "IPv6 prefix in prefixes"},
                                {8, "ip_prefix is not a string"},
                                {9, "entry without ip_prefix"},
                                {10, "prefix entry is not an object"},
                                {11, "range where a prefix was expected"},
                                {13, "duplicate ip_prefix"},
                                {18, "prefix entry is not an object"},
                                {19, "entry without ip_prefix"},
                                {23, "IPv4 prefix in ipv6_prefixes"},
                                {24, "ipv6_prefix is not a string"},
                            });
    CHECK(r.rejects[0].text == "010.0.0.0/8");
    CHECK(r.rejects[4].text == "{\"region\": \"x\"},");
    CHECK(r.rejects[7].text == "7.7.7.0/24");
    check_issues(r.warnings, {{4, "host bits set"}});
    CHECK(r.warnings[0].text == "1.2.3.4/24");
}

TEST_CASE("aws-ip-ranges: BOM, CRLF, NUL bytes, deep nesting") {
    SUBCASE("BOM and CRLF") {
        const std::string body =
            "\xEF\xBB\xBF{\r\n\"prefixes\": [{\"ip_prefix\": \"1.2.3.0/24\"}],\r\n\"ipv6_prefixes\": []\r\n}";
        const ParseResult r = parse_aws_ip_ranges(body);
        check_invariants(body, r, false);
        CHECK(r.rejects.empty());
        REQUIRE(r.entries.size() == 1);
        CHECK(r.entries[0].line == 2);
        CHECK(quoted(body, r.entries[0]) == "1.2.3.0/24");
    }
    SUBCASE("NUL after the document") {
        const std::string body = "{\"prefixes\": [], \"ipv6_prefixes\": []}\n\0{\"junk\""s;
        const ParseResult r = parse_aws_ip_ranges(body);
        check_issues(r.rejects, {{2, "not JSON: NUL byte in document"}});
    }
    SUBCASE("NUL inside a string") {
        const std::string body = "{\"prefixes\": [{\"ip_prefix\": \"1.2.3.0\0/24\"}], \"ipv6_prefixes\": []}"s;
        const ParseResult r = parse_aws_ip_ranges(body);
        CHECK(r.entries.empty());
        REQUIRE(r.rejects.size() == 1);
        CHECK(r.rejects[0].reason.rfind("not JSON: ", 0) == 0);
    }
    SUBCASE("escaped NUL in a prefix") {
        const ParseResult r =
            parse_aws_ip_ranges("{\"prefixes\": [{\"ip_prefix\": \"1.2.3.0\\u0000/24\"}], \"ipv6_prefixes\": []}");
        CHECK(r.entries.empty());
        check_issues(r.rejects, {{1, reason(IpError::junk)}});
    }
    SUBCASE("deep nesting does not exhaust the stack") {
        const std::size_t depth = 200000;
        const std::string deep = std::string(depth, '[') + std::string(depth, ']');
        const std::string body = "{\"syncToken\": " + deep + ",\n\"prefixes\": [{\"ip_prefix\": \"1.2.3.0/24\"}],"
                                 " \"ipv6_prefixes\": []}";
        const ParseResult r = parse_aws_ip_ranges(body);
        CHECK(r.rejects.empty());
        CHECK(entry_lines(r) == std::vector<std::uint32_t>{2});
        const ParseResult open = parse_aws_ip_ranges(std::string(depth, '['));
        CHECK(open.entries.empty());
        CHECK(open.rejects.size() == 1);
    }
}

// ---------------------------------------------------------------------------
TEST_CASE("geofeed: DigitalOcean, Linode and Apple Private Relay") {
    struct Sample {
        const char* file;
        std::size_t entries;
    };
    for (const Sample s : {Sample{"data/snapshot/digitalocean/geofeed.csv", 1182},
                           Sample{"data/snapshot/linode/geofeed.csv", 4552},
                           Sample{"data/snapshot/apple/private-relay-egress.head120.csv", 120}}) {
        CAPTURE(s.file);
        const std::string body = read_repo_file(s.file);
        const ParseResult r = parse_geofeed(body);
        check_invariants(body, r, true);
        CHECK(r.rejects.empty());
        CHECK(r.warnings.empty());
        // Independent: data lines are the non-empty lines not starting with '#'.
        const auto lines = split_lines(body);
        std::vector<std::uint32_t> want;
        for (std::size_t k = 0; k < lines.size(); ++k)
            if (!lines[k].empty() && lines[k][0] != '#') want.push_back(static_cast<std::uint32_t>(k + 1));
        CHECK(want.size() == s.entries);
        REQUIRE(entry_lines(r) == want);
        for (const auto& e : r.entries) {
            REQUIRE(quoted(body, e) == lines[e.line - 1]);
            const auto line = quoted(body, e);
            REQUIRE(e.range == range_of(line.substr(0, line.find(','))));
        }
    }
    const std::string d = read_repo_file("data/snapshot/digitalocean/geofeed.csv");
    const ParseResult rd = parse_geofeed(d);
    CHECK(rd.entries[0].line == 1);
    CHECK(quoted(d, rd.entries[0]) == "5.101.96.0/21,NL,NL-NH,Amsterdam,1098 XH");

    const std::string l = read_repo_file("data/snapshot/linode/geofeed.csv");
    const ParseResult rl = parse_geofeed(l);
    CHECK(rl.entries[0].line == 4);
    CHECK(quoted(l, rl.entries[0]) == "2600:3c00::/32,US,US-TX,Richardson,");
    // Zero-padded IPv6 groups (line 54) are valid and not host bits.
    const auto it = std::find_if(rl.entries.begin(), rl.entries.end(), [](const ParsedEntry& e) { return e.line == 54; });
    REQUIRE(it != rl.entries.end());
    CHECK(quoted(l, *it) == "2600:3c12:0b00::/40,NZ,NZ-AUK,Auckland,");
    CHECK(format_range(it->range) == "2600:3c12:b00::/40");
}

TEST_CASE("geofeed: malformed rows") {
    const std::string body =
        "1.2.3.0/24,USA,,,\n"                              // 1 three letters
        "1.2.3.0/24,U1\n"                                   // 2 digit
        "1.0.0.0-1.0.0.255,US\n"                            // 3 a range
        "1.2.3.0/24\n"                                      // 4 fields missing: fine
        "1.2.3.0/24,,,,\n"                                  // 5 empty fields: fine
        "\"1.2.3.0/24\",\"us\",\"\",\"Washington, D.C.\",\n"  // 6 quoted fields
        "ip_prefix,alpha2code,region,city,postal_code\n"    // 7 header without '#'
        "10.1.1.1/8,DE,DE-BE,Berlin,\r\n"                   // 8 host bits, CRLF
        "  # indented comment\n"                            // 9
        ",US\n"                                             // 10
        "010.0.0.0/8,ZZZ\n"                                 // 11 prefix error wins
        "2001:db8::/129,NL\n"                               // 12
        " 2001:db8::/48 , NL ,NL-NH,Amsterdam,1098 XH";     // 13 blanks, no final newline
    const ParseResult r = parse_geofeed(body);
    check_invariants(body, r, true);
    CHECK(entry_lines(r) == std::vector<std::uint32_t>{4, 5, 6, 8, 13});
    CHECK(r.entries[2].range == range_of("1.2.3.0/24"));
    CHECK(quoted(body, r.entries[3]) == "10.1.1.1/8,DE,DE-BE,Berlin,");
    CHECK(r.entries[3].range == range_of("10.0.0.0/8"));
    CHECK(quoted(body, r.entries[4]) == "2001:db8::/48 , NL ,NL-NH,Amsterdam,1098 XH");
    check_issues(r.rejects, {
                                {1, "bad alpha2code"},
                                {2, "bad alpha2code"},
                                {3, "range where a prefix was expected"},
                                {7, reason(IpError::junk)},
                                {10, reason(IpError::empty)},
                                {11, reason(IpError::octet_leading_zero)},
                                {12, reason(IpError::bad_prefix_len)},
                            });
    CHECK(r.rejects[0].text == "1.2.3.0/24,USA,,,");
    check_issues(r.warnings, {{8, "host bits set"}});
}

// ---------------------------------------------------------------------------
// Resource limits (ParseOptions): line length and entry count, in every
// format read line by line, whatever its registry.

namespace {

// A line format: what its body starts with, and one line it accepts.
struct LineFormat {
    std::string_view name;
    std::string_view header;  // "" or a header line, with its '\n'
    std::string_view good;    // one line that gives one entry
};

constexpr LineFormat kLineFormats[] = {
    {"plain", "", "1.2.3.4"},
    {"tor-exit-addresses", "", "ExitAddress 1.2.3.4 2024-03-12 14:02:58"},
    {"geofeed", "", "1.2.3.0/24,US,US-CA,Los Angeles,"},
    {"provider-asns", "provider,category,asn,reference\n", "Example VPN,vpn,AS64500,https://example.org/vpn"},
    {"asn-list", "", "AS64500 # Example"},
    {"asn-csv", "ASN,Entity\n", "64500,Example Hosting"},
    {"iptoasn", "", "1.0.0.0\t1.0.0.255\t13335\tUS\tCLOUDFLARENET"},
    {"pfx2as", "", "1.0.0.0\t24\t13335"},
    {"exclusions", "type,value,reason,reference\n", "asn,AS64500,office users,https://example.org/office"},
};

// What any of them gave: the line of each result, the issues, and whether
// parsing stopped at max_entries.
struct Outcome {
    std::vector<std::uint32_t> lines;
    std::vector<LineIssue> rejects;
    bool over = false;
};

Outcome parse_any(std::string_view format, std::string_view body, const ParseOptions& o) {
    Outcome out;
    auto take = [&](const auto& results, const auto& parsed) {
        for (const auto& r : results) out.lines.push_back(r.line);
        out.rejects = parsed.rejects;
        out.over = parsed.over_max_entries;
    };
    if (const auto* f = find_format(format)) {
        const ParseResult r = f->parse(body, o);
        take(r.entries, r);
    } else if (const auto* l = find_asn_list_format(format)) {
        const AsnList r = l->parse(body, o);
        take(r.entries, r);
    } else if (const auto* t = find_asn_table_format(format); t && t->parse) {
        const AsnTable r = t->parse(body, o);
        take(r.rows, r);
    } else {
        REQUIRE(format == kExclusionsFormat);
        const ExclusionList r = parse_exclusions(body, o);
        take(r.rules, r);
    }
    return out;
}

}  // namespace

TEST_CASE("line formats are the ones read line by line, in every registry") {
    std::set<std::string_view> line_formats;
    for (const auto& f : kLineFormats) {
        CAPTURE(f.name);
        CHECK(line_based_format(f.name));
        line_formats.insert(f.name);
    }
    for (const auto& f : formats()) CHECK(f.line_based == (line_formats.count(f.name) > 0));
    for (std::string_view json : {"aws-ip-ranges", "google-ip-ranges", "azure-service-tags", "oracle-ip-ranges",
                                  "onionoo-exit", "onionoo-relays", "libloc", "mmdb-asn", "no-such-format"})
        CHECK_FALSE(line_based_format(json));
    for (const auto& f : asn_list_formats()) CHECK(line_formats.count(f.name) == 1);
    for (const auto& f : asn_table_formats()) CHECK(line_formats.count(f.name) == (f.parse ? 1u : 0u));
}

TEST_CASE("every line format: a line longer than max_line_bytes is one reject, and the next line is read") {
    const std::string huge(10 << 20, '7');  // a 10 MiB line
    for (const LineFormat& f : kLineFormats) {
        CAPTURE(f.name);
        const std::string good(f.good);
        // The limit is the good line's length: it is read, one more byte is not.
        ParseOptions o;
        o.max_line_bytes = good.size();
        const std::string body = std::string(f.header) + good + "\n" + good + "#\r\n" + huge + "\n" + good + "\n";
        const std::uint32_t h = f.header.empty() ? 0 : 1;
        const Outcome r = parse_any(f.name, body, o);
        CHECK(r.lines == std::vector<std::uint32_t>{h + 1, h + 4});
        const std::string reason = "line longer than " + std::to_string(good.size()) + " bytes";
        check_issues(r.rejects, {{h + 2, reason}, {h + 3, reason}});
        CHECK(r.rejects[0].text == (good + "#").substr(0, kIssueTextMax));  // without the CR
        CHECK(r.rejects[1].text == std::string(kIssueTextMax, '7'));
        CHECK_FALSE(r.over);

        // The default limit, 64 KiB: the 10 MiB line alone is refused.
        const Outcome d = parse_any(f.name, std::string(f.header) + huge + "\n" + good, {});
        CHECK(d.lines == std::vector<std::uint32_t>{h + 2});
        check_issues(d.rejects, {{h + 1, "line longer than 65536 bytes"}});
    }
    CHECK(kDefaultMaxLineBytes == 65536);
}

TEST_CASE("a long line costs one pass over its bytes") {
    // 256 MiB in one line (a reserved mapping: the pages read are the cost),
    // then an address. The limit's reject needs only the search for the
    // line's end; a parser that scanned the line again byte by byte (trim,
    // split, CSV) would take several times longer than memchr does.
    const std::size_t size = std::size_t{256} << 20;
    void* p = mmap(nullptr, size + 16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    REQUIRE(p != MAP_FAILED);
    char* bytes = static_cast<char*>(p);
    std::memcpy(bytes + size - 9, " 1.2.3.4\n", 9);  // zero bytes before it: one line of NULs and blanks
    const std::string_view body(bytes, size);
    REQUIRE(body.find('\n') == size - 1);  // maps every page (the zero page): slow once
    const auto t0 = std::chrono::steady_clock::now();
    const auto memchr_pass = body.find('\n');
    const auto t1 = std::chrono::steady_clock::now();
    REQUIRE(memchr_pass == size - 1);
    for (const LineFormat& f : kLineFormats) {
        CAPTURE(f.name);
        const auto a = std::chrono::steady_clock::now();
        const Outcome r = parse_any(f.name, body, {});
        const auto b = std::chrono::steady_clock::now();
        CHECK(r.lines.empty());
        check_issues(r.rejects, {{1, "line longer than 65536 bytes"}});
        // Generous: memchr once more, plus slack for a loaded machine. (The
        // plain parser without the limit took 80 times the memchr pass.)
        CHECK((b - a) < 4 * (t1 - t0) + std::chrono::milliseconds(200));
    }
    munmap(p, size + 16);
}

TEST_CASE("every line format stops at max_entries: the next entry is a reject and nothing after it is read") {
    for (const LineFormat& f : kLineFormats) {
        CAPTURE(f.name);
        std::string body(f.header);
        for (int i = 0; i < 6; ++i) body += std::string(f.good) + "\n";
        body += "junk that would be rejected\n" + std::string(f.good) + "\n";
        const std::uint32_t h = f.header.empty() ? 0 : 1;
        ParseOptions o;
        o.max_entries = 4;
        const Outcome r = parse_any(f.name, body, o);
        CHECK(r.lines == std::vector<std::uint32_t>{h + 1, h + 2, h + 3, h + 4});
        CHECK(r.over);
        check_issues(r.rejects, {{h + 5, "more entries than max_entries"}});
        CHECK(r.rejects[0].text == f.good);

        // Exactly max_entries is not over the limit.
        o.max_entries = 7;
        const Outcome all = parse_any(f.name, body, o);
        CHECK(all.lines.size() == 7);
        CHECK_FALSE(all.over);
        CHECK(all.rejects.size() == 1);  // the junk line
    }
}

TEST_CASE("max_entries stops a huge list early instead of building its vector") {
    // 4 million addresses (44 MB); the limit is 1000. Parsing stops at entry
    // 1001: its reject is the last thing recorded.
    std::string body;
    body.reserve(std::size_t{46} << 20);
    for (std::uint32_t i = 0; i < 4'000'000; ++i) {
        body += format_ip(Ip::from_v4(0x0B000000u + i));
        body += '\n';
    }
    ParseOptions o;
    o.max_entries = 1000;
    const ParseResult r = parse_plain(body, o);
    CHECK(r.entries.size() == 1000);
    CHECK(r.over_max_entries);
    check_issues(r.rejects, {{1001, "more entries than max_entries"}});
    CHECK(r.entries.capacity() < 4096);  // never grew towards the 4 million
    CHECK(kDefaultMaxEntries == 5'000'000);
}

// ---------------------------------------------------------------------------
TEST_CASE("every parser refuses a body of 4 GiB or more without reading it") {
    // A reserved, never-touched mapping stands in for a huge download.
    const std::size_t size = kMaxBodyBytes;
    void* p = mmap(nullptr, size, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        MESSAGE("skipped: cannot reserve 4 GiB of address space");
        return;
    }
    const std::string_view body(static_cast<const char*>(p), size);
    for (const auto& f : formats()) {
        CAPTURE(f.name);
        const ParseResult r = f.parse(body);
        CHECK(r.entries.empty());
        check_issues(r.rejects, {{1, "body larger than 4 GiB"}});
    }
    munmap(p, size);
}

TEST_CASE("every parser survives random bytes and mutated real samples") {
    std::vector<std::string> samples = {
        read_repo_file("data/snapshot/cloudflare/ips-v4.txt"),
        read_repo_file("data/snapshot/cloudflare/ips-v6.txt"),
        read_repo_file("tests/data/feeds/tor/2017-07-17-17-02-00"),
        read_repo_file("tests/data/feeds/plain/az0-expressvpn.txt"),
        read_repo_file("data/snapshot/apple/private-relay-egress.head120.csv"),
        read_repo_file("data/snapshot/tor/exit-addresses").substr(0, 3000),
        read_repo_file("data/snapshot/firehol/firehol_proxies.netset").substr(0, 3000),
        read_repo_file("data/snapshot/linode/geofeed.csv").substr(0, 3000),
    };
    {
        // A small, valid AWS document made of the snapshot's first entries.
        const std::string aws = read_repo_file("data/snapshot/aws/ip-ranges.json");
        const std::size_t v4_end = aws.find("},", aws.find("\"ip_prefix\"", 2000));
        const std::size_t v6_at = aws.find("\"ipv6_prefixes\"");
        const std::size_t v6_end = aws.find("},", aws.find("\"ipv6_prefix\"", v6_at + 1500));
        std::string doc = aws.substr(0, v4_end + 1) + "\n  ],\n  " +
                          aws.substr(v6_at, v6_end + 1 - v6_at) + "\n  ]\n}\n";
        const ParseResult r = parse_aws_ip_ranges(doc);
        REQUIRE(r.rejects.empty());
        REQUIRE(r.entries.size() > 20);
        samples.push_back(std::move(doc));
    }
    // Every parser also gets every whole sample, whatever its format.
    for (const auto& f : formats())
        for (const auto& s : samples) {
            const ParseResult r = f.parse(s);
            check_invariants(s, r, f.name != "aws-ip-ranges");
        }

    FeedNoise noise(20240312, "0123456789abcdefABCDEF.:/-#;, \t\r\n\n\n\"{}[]\\\0\x80\xEF\xBB\xBF\xFFxX"sv);
    auto run = [&](const std::string& body) {
        for (const auto& f : formats()) {
            CAPTURE(f.name);
            CAPTURE(body.size());
            const ParseResult a = f.parse(body);
            check_invariants(body, a, f.name != "aws-ip-ranges");
            REQUIRE(same(a, f.parse(body)));  // deterministic
        }
    };

    for (int round = 0; round < 400; ++round) run(noise.random_body(600));
    for (int round = 0; round < 600; ++round) run(noise.mutate(samples[noise.uniform(samples.size())], 8));
}

// ---------------------------------------------------------------------------
TEST_CASE("a body of junk lines costs counts, not a string per line") {
    // 2M bad lines of two reasons: every one counted, the first kKept kept
    // in full (in line order), the last one remembered.
    std::string body;
    const std::size_t n = 2'000'000;
    for (std::size_t k = 0; k < n; ++k) body += (k % 2) ? "10.0.0.0/33\n" : "junk\n";
    const ParseResult r = parse_plain(body);
    CHECK(r.entries.empty());
    REQUIRE(r.rejects.total() == n);
    REQUIRE(r.rejects.size() == IssueList::kKept);
    std::uint64_t counted = 0;
    for (const auto& [reason, count] : r.rejects.counts()) {
        CHECK(count == n / 2);
        counted += count;
    }
    CHECK(r.rejects.counts().size() == 2);
    CHECK(counted == n);
    for (std::size_t k = 0; k < r.rejects.size(); ++k) REQUIRE(r.rejects[k].line == k + 1);
    CHECK(r.rejects.back().line == n);
    CHECK(r.rejects.back().text == "10.0.0.0/33");
}
