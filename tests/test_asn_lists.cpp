// ASN lists (asn-list, asn-csv, provider-asns): the real X4BNet and
// bad-asn-list files in data/snapshot/asn with counts checked by independent
// scans and spot checks of real lines, malformed input with exact reasons and
// line numbers, the curated data/providers/providers.csv checked against the
// lines it cites, and a randomised robustness run.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "anondb/category.hpp"
#include "anondb/sources/asn.hpp"
#include "anondb/sources/exclusions.hpp"
#include "anondb/sources/formats.hpp"
#include "anondb/utf8.hpp"
#include "test_util.hpp"

using namespace anondb;
using namespace anondb::sources;
using namespace anondb::test;
using namespace std::string_literals;
using namespace std::string_view_literals;

namespace {


std::string_view quoted(std::string_view body, const AsnListEntry& e) {
    return body.substr(e.text_offset, e.text_length);
}

// A line as the parsers quote it: CR before '\n' and blanks at both ends removed.
std::string_view clean(std::string_view line) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
    return line;
}

// The entry standing on 1-based `line`, which must be unique.
const AsnListEntry& on_line(const AsnList& r, std::uint32_t line) {
    const AsnListEntry* found = nullptr;
    for (const auto& e : r.entries)
        if (e.line == line) {
            REQUIRE_MESSAGE(found == nullptr, "two entries on line " << line);
            found = &e;
        }
    REQUIRE_MESSAGE(found != nullptr, "no entry on line " << line);
    return *found;
}

// Independent decimal read of "AS123" / "123" (digits only).
std::uint64_t digits_of(std::string_view s) {
    if (s.size() >= 2 && s.substr(0, 2) == "AS") s.remove_prefix(2);
    std::uint64_t v = 0;
    for (char c : s) {
        REQUIRE_MESSAGE(c >= '0', "test bug: not a number " << s);
        REQUIRE_MESSAGE(c <= '9', "test bug: not a number " << s);
        v = v * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return v;
}

// Entries quote text inside the body, on their line, equal to that line as
// cleaned; ASNs are non-zero; issues carry a line inside the body and a cut text.
void check_invariants(std::string_view body, const AsnList& r) {
    const auto lines = split_lines(body);
    for (const auto& e : r.entries) {
        REQUIRE(e.asn != 0);
        REQUIRE(e.line >= 1);
        REQUIRE(e.line <= lines.size());
        REQUIRE(e.text_offset <= body.size());
        REQUIRE(e.text_length <= body.size() - e.text_offset);
        REQUIRE(e.text_length > 0);
        std::string_view line = lines[e.line - 1];
        if (e.line == 1 && line.substr(0, 3) == "\xEF\xBB\xBF") line.remove_prefix(3);
        REQUIRE(quoted(body, e) == clean(line));
        REQUIRE(quoted(body, e).data() == clean(line).data());
    }
    for (const auto* v : {&r.rejects, &r.warnings})
        for (const auto& i : *v) {
            REQUIRE(i.line >= 1);
            REQUIRE(i.line <= std::max<std::size_t>(lines.size(), 1));
            REQUIRE(i.text.size() <= kIssueTextMax);
            REQUIRE(!i.reason.empty());
        }
}

}  // namespace

// ---- asn-list ----------------------------------------------------------------------

TEST_CASE("asn-list: X4BNet input/vpn/ASN.txt") {
    const std::string body = read_repo_file("data/snapshot/asn/x4bnet-vpn-ASN.txt");
    const AsnList r = parse_asn_list(body);
    check_invariants(body, r);

    // Independent scan: every non-blank line is "ASdigits # comment".
    std::size_t rows = 0;
    for (const auto line : split_lines(body))
        if (!clean(line).empty()) ++rows;
    CHECK(rows == 15);
    CHECK(r.entries.size() == rows);
    CHECK(r.rejects.empty());
    CHECK(r.warnings.empty());

    const auto& first = on_line(r, 1);
    CHECK(first.asn == 9009);
    CHECK(first.provider == "M247, GB (NordVPN)");
    CHECK(first.categories == 0);
    CHECK(first.reference.empty());
    CHECK(quoted(body, first) == "AS9009 # M247, GB (NordVPN)");
    CHECK(on_line(r, 2).provider == "VPNtranet, LLC.");
    CHECK(on_line(r, 9).asn == 60729);
    CHECK(on_line(r, 9).provider == "Tor Servers (Tor exit nodes)");
    const auto& last = on_line(r, 15);
    CHECK(last.asn == 208172);
    CHECK(last.provider == "ProtonVPN (https://github.com/X4BNet/lists_vpn/issues/248)");
}

TEST_CASE("asn-list: X4BNet input/datacenter/ASN.txt (CRLF mixed, tabs, duplicates)") {
    const std::string body = read_repo_file("data/snapshot/asn/x4bnet-datacenter-ASN.txt");
    const AsnList r = parse_asn_list(body);
    check_invariants(body, r);

    // Independent scan: ASN and provider of every line, duplicates by count.
    std::map<std::uint32_t, std::uint64_t> expected_asn;  // line -> ASN
    std::set<std::uint64_t> seen;
    std::size_t duplicates = 0;
    const auto lines = split_lines(body);
    for (std::size_t k = 0; k < lines.size(); ++k) {
        const std::string_view line = clean(lines[k]);
        if (line.empty() || line[0] == '#') continue;
        std::size_t end = 2;
        while (end < line.size() && line[end] >= '0' && line[end] <= '9') ++end;
        REQUIRE_MESSAGE(line.substr(0, 2) == "AS", line);
        const std::uint64_t asn = digits_of(line.substr(0, end));
        expected_asn[static_cast<std::uint32_t>(k + 1)] = asn;
        if (!seen.insert(asn).second) ++duplicates;
    }
    CHECK(expected_asn.size() == 906);
    REQUIRE(r.entries.size() == expected_asn.size());
    CHECK(r.rejects.empty());
    for (const auto& e : r.entries) CHECK(expected_asn.at(e.line) == e.asn);
    CHECK(duplicates > 0);
    CHECK(r.warnings.size() == duplicates);
    for (const auto& w : r.warnings) CHECK(w.reason == "duplicate ASN");

    CHECK(on_line(r, 88).asn == 24940);
    CHECK(on_line(r, 88).provider == "HETZNER-AS, DE");
    CHECK(on_line(r, 781).asn == 8560);  // two blanks before '#'
    CHECK(on_line(r, 781).provider == "IONOS SE");
    CHECK(quoted(body, on_line(r, 781)) == "AS8560  # IONOS SE");
    CHECK(on_line(r, 861).asn == 55286);  // tab before '#'
    CHECK(on_line(r, 861).provider == "SERVER-MANIA, CA");
    CHECK(on_line(r, 289).provider == "DIGITALOCEAN-ASN-NY2 # - Digital Ocean, Inc., US");  // second '#' kept
    // AS60781 stands on lines 278 and 812: both kept, the later one warned.
    CHECK(on_line(r, 278).asn == 60781);
    CHECK(on_line(r, 812).asn == 60781);
    bool warned_812 = false;
    for (const auto& w : r.warnings) warned_812 |= (w.line == 812);
    CHECK(warned_812);
    for (const auto& w : r.warnings) CHECK(w.line != 278);
}

TEST_CASE("asn-list: malformed lines, exact reasons and line numbers") {
    const std::string body =
        "# header comment\n"          // 1
        "AS0 # zero\n"                // 2
        "AS4294967296\n"              // 3
        "ASx # not a number\n"        // 4
        "AS4294967295 # top\n"        // 5
        "\n"                          // 6
        "  9009   \n"                 // 7
        "AS\n"                        // 8
        "AS1 AS2\n"                   // 9
        "AS 5\n"                      // 10
        "as64512#private\n"           // 11
        "-5\n"                        // 12
        "AS99999999999999999999999\n" // 13
        "AS9009 # again\n"            // 14
        "AS1.5\n"                     // 15
        "# AS7 commented out\n"       // 16
        "AS00042 #\n";                // 17
    const AsnList r = parse_asn_list(body);
    check_invariants(body, r);
    check_issues(r.rejects, {{2, "ASN 0"},
                                                  {3, "ASN above 4294967295"},
                                                  {4, "bad ASN"},
                                                  {8, "bad ASN"},
                                                  {9, "text after ASN"},
                                                  {10, "bad ASN"},
                                                  {12, "bad ASN"},
                                                  {13, "ASN above 4294967295"},
                                                  {15, "bad ASN"}});
    CHECK(r.rejects[0].text == "AS0 # zero");
    check_issues(r.warnings, {{14, "duplicate ASN"}});
    REQUIRE(r.entries.size() == 5);
    CHECK(on_line(r, 5).asn == 4294967295u);
    CHECK(on_line(r, 5).provider == "top");
    CHECK(on_line(r, 7).asn == 9009);
    CHECK(on_line(r, 7).provider.empty());
    CHECK(quoted(body, on_line(r, 7)) == "9009");
    CHECK(on_line(r, 11).asn == 64512);
    CHECK(on_line(r, 11).provider == "private");
    CHECK(on_line(r, 14).provider == "again");
    CHECK(on_line(r, 17).asn == 42);
    CHECK(on_line(r, 17).provider.empty());
}

TEST_CASE("asn-list: BOM, CRLF, no final newline, long line") {
    const std::string body = "\xEF\xBB\xBF" "AS1 # a\r\nAS2 # b\r\n\r\nAS3 # c";
    const AsnList r = parse_asn_list(body);
    check_invariants(body, r);
    CHECK(r.rejects.empty());
    REQUIRE(r.entries.size() == 3);
    CHECK(on_line(r, 1).asn == 1);
    CHECK(on_line(r, 1).provider == "a");
    CHECK(quoted(body, on_line(r, 1)) == "AS1 # a");
    CHECK(on_line(r, 2).provider == "b");
    CHECK(on_line(r, 4).asn == 3);
    CHECK(on_line(r, 4).provider == "c");

    const std::string long_line = "AS7 " + std::string(500, 'x') + "\n";
    const AsnList l = parse_asn_list(long_line);
    REQUIRE(l.rejects.size() == 1);
    CHECK(l.rejects[0].reason == "text after ASN");
    CHECK(l.rejects[0].text.size() == kIssueTextMax);
    CHECK(l.rejects[0].text == long_line.substr(0, kIssueTextMax));
}

// ---- asn-csv -----------------------------------------------------------------------

TEST_CASE("asn-csv: brianhama/bad-asn-list.csv") {
    const std::string body = read_repo_file("data/snapshot/asn/bad-asn-list.csv");
    const AsnList r = parse_asn_csv(body);
    check_invariants(body, r);

    // Independent scan: header on line 1; every later non-blank line starts
    // with an ASN, quoted or not.
    const auto lines = split_lines(body);
    REQUIRE(clean(lines.at(0)) == "ASN,Entity");
    std::map<std::uint32_t, std::uint64_t> expected_asn;
    std::set<std::uint64_t> seen;
    std::size_t duplicates = 0;
    for (std::size_t k = 1; k < lines.size(); ++k) {
        std::string_view line = clean(lines[k]);
        if (line.empty()) continue;
        if (line[0] == '"') line.remove_prefix(1);
        const std::uint64_t asn = digits_of(line.substr(0, line.find_first_of("\",")));
        expected_asn[static_cast<std::uint32_t>(k + 1)] = asn;
        if (!seen.insert(asn).second) ++duplicates;
    }
    CHECK(expected_asn.size() == 742);
    REQUIRE(r.entries.size() == expected_asn.size());
    CHECK(r.rejects.empty());
    for (const auto& e : r.entries) CHECK(expected_asn.at(e.line) == e.asn);
    CHECK(duplicates == 19);
    CHECK(r.warnings.size() == duplicates);
    for (const auto& w : r.warnings) CHECK(w.reason == "duplicate ASN");

    CHECK(on_line(r, 2).asn == 198375);
    CHECK(on_line(r, 2).provider == "INULOGIC SARL, FR");
    CHECK(on_line(r, 3).asn == 51447);  // blank before the quote
    CHECK(on_line(r, 3).provider == "RootLayer Web Services Ltd, NL");
    CHECK(on_line(r, 45).provider == "COLOCALL Internet Data Center \"ColoCALL\", UA");  // "" escape
    CHECK(on_line(r, 69).provider == "WEBAIR-INTERNET-2 - Webair Internet Development Company Inc.");  // unquoted
    CHECK(on_line(r, 334).asn == 20248);  // quoted ASN
    CHECK(on_line(r, 334).provider == "Take 2 Hosting, Inc.");
    CHECK(on_line(r, 741).asn == 48031);  // trailing blank after the closing quote
    CHECK(on_line(r, 741).provider == "PE Ivanov Vitaliy Sergeevich - xserver.ua");
    CHECK(quoted(body, on_line(r, 741)) == "\"48031\",\"PE Ivanov Vitaliy Sergeevich - xserver.ua\"");
    CHECK(on_line(r, 743).asn == 398779);  // last line
    CHECK(on_line(r, 743).provider == "ACEHOST");
    for (const auto& e : r.entries) {
        CHECK(e.categories == 0);
        CHECK(e.reference.empty());
    }
}

TEST_CASE("asn-csv: malformed lines, exact reasons and line numbers") {
    const std::string body =
        "ASN,Entity\n"             // 1
        "1,\"unterminated\n"       // 2
        "2,\"text\" after\n"       // 3
        "3,in\"side\n"             // 4
        "4\n"                      // 5
        "5,a,b\n"                  // 6
        "0,\"zero\"\n"             // 7
        "AS6,\"with AS\"\n"        // 8
        "x7,\"bad\"\n"             // 9
        "\n"                       // 10
        "8,\"  padded  \"  \n"     // 11
        "9,\n"                     // 12
        "\"10\" , \"a, b\"\n"      // 13
        "4294967296,\"big\"\n";    // 14
    const AsnList r = parse_asn_csv(body);
    check_invariants(body, r);
    check_issues(r.rejects, {{2, "bad quoting"},
                                                  {3, "bad quoting"},
                                                  {4, "bad quoting"},
                                                  {5, "missing field"},
                                                  {6, "too many fields"},
                                                  {7, "ASN 0"},
                                                  {9, "bad ASN"},
                                                  {14, "ASN above 4294967295"}});
    CHECK(r.warnings.empty());
    REQUIRE(r.entries.size() == 4);
    CHECK(on_line(r, 8).asn == 6);
    CHECK(on_line(r, 8).provider == "with AS");
    CHECK(on_line(r, 11).provider == "padded");
    CHECK(on_line(r, 12).asn == 9);
    CHECK(on_line(r, 12).provider.empty());
    CHECK(on_line(r, 13).asn == 10);
    CHECK(on_line(r, 13).provider == "a, b");
}

TEST_CASE("asn-csv: header handling, BOM, CRLF, no final newline") {
    // No header: the first row is read, with a warning.
    const AsnList no_header = parse_asn_csv("5577,\"ROOT, LU\"\n6724,\"STRATO\"\n");
    CHECK(no_header.rejects.empty());
    check_issues(no_header.warnings, {{1, "missing header"}});
    CHECK(no_header.entries.size() == 2);

    // A header that is neither "ASN,Entity" nor a row.
    const AsnList bad = parse_asn_csv("asn;entity\n5577,\"ROOT, LU\"\n");
    check_issues(bad.rejects, {{1, "bad header"}});
    CHECK(bad.entries.size() == 1);

    // Header case and quoting do not matter; BOM, CRLF and a last line without '\n'.
    const std::string body = "\xEF\xBB\xBF\"asn\",\"entity\"\r\n5577,\"ROOT, LU\"\r\n\r\n6724,\"STRATO\"";
    const AsnList r = parse_asn_csv(body);
    check_invariants(body, r);
    CHECK(r.rejects.empty());
    CHECK(r.warnings.empty());
    REQUIRE(r.entries.size() == 2);
    CHECK(on_line(r, 2).provider == "ROOT, LU");
    CHECK(quoted(body, on_line(r, 2)) == "5577,\"ROOT, LU\"");
    CHECK(on_line(r, 4).asn == 6724);
    CHECK(on_line(r, 4).provider == "STRATO");
}

// ---- provider-asns -----------------------------------------------------------------

TEST_CASE("provider-asns: malformed rows, exact reasons and line numbers") {
    const std::string body =
        "# curated\n"                                                  // 1
        "provider,category,asn,reference\n"                            // 2
        "M247,hosting,AS9009,https://example.org/a\n"                  // 3
        "Surfshark,vpn,209854,\"X4BNet line 3: AS209854 # Surfshark\"\n"  // 4
        "Foo,vpn,AS1\n"                                                // 5
        "Foo,vpn,AS1,ref,extra\n"                                      // 6
        "Foo,VPN,AS1,ref\n"                                            // 7
        "Foo,proxy,AS1,ref\n"                                          // 8
        "Foo,vpn,AS1,\n"                                               // 9
        "Foo,vpn,AS1,\"  \"\n"                                         // 10
        ",vpn,AS1,ref\n"                                               // 11
        "Foo,vpn,AS0,ref\n"                                            // 12
        "Foo,vpn,ASx,ref\n"                                            // 13
        "Foo,vpn,AS4294967296,ref\n"                                   // 14
        "\"Foo, Inc.,vpn,AS1,ref\n"                                    // 15
        "Foo\"x\",vpn,AS1,ref\n"                                       // 16
        "  # indented comment\n"                                       // 17
        "\"Bar \"\"B\"\", Ltd.\",hosting,as42,\"cite, with comma\"\n"  // 18
        "Baz,vpn,AS9009,ref\n"                                         // 19
        "\n";                                                          // 20
    const AsnList r = parse_provider_asns(body);
    check_invariants(body, r);
    check_issues(r.rejects, {{5, "missing field"},
                                                  {6, "too many fields"},
                                                  {7, "bad category"},
                                                  {8, "bad category"},
                                                  {9, "missing reference"},
                                                  {10, "missing reference"},
                                                  {11, "missing provider"},
                                                  {12, "ASN 0"},
                                                  {13, "bad ASN"},
                                                  {14, "ASN above 4294967295"},
                                                  {15, "bad quoting"},
                                                  {16, "bad quoting"}});
    check_issues(r.warnings, {{19, "duplicate ASN"}});
    REQUIRE(r.entries.size() == 4);
    const auto& m = on_line(r, 3);
    CHECK(m.asn == 9009);
    CHECK(m.provider == "M247");
    CHECK(m.categories == kHosting);
    CHECK(m.reference == "https://example.org/a");
    CHECK(quoted(body, m) == "M247,hosting,AS9009,https://example.org/a");
    const auto& s = on_line(r, 4);
    CHECK(s.asn == 209854);
    CHECK(s.categories == kVpn);
    CHECK(s.reference == "X4BNet line 3: AS209854 # Surfshark");
    const auto& b = on_line(r, 18);
    CHECK(b.asn == 42);
    CHECK(b.provider == "Bar \"B\", Ltd.");
    CHECK(b.categories == kHosting);
    CHECK(b.reference == "cite, with comma");
}

TEST_CASE("ASN lists: a provider name or reference that is not UTF-8 rejects its line") {
    // Well-formed names of any script pass; overlong forms, surrogates, stray
    // continuation bytes, truncated sequences and NUL do not.
    const std::string bad[] = {"\xC0\xAF", "\xED\xA0\x80", "\x80", "\xE2\x82", "\xF4\x90\x80\x80",
                               std::string("a\0b", 3)};
    for (const std::string& b : bad) {
        CAPTURE(b.size());
        const std::string csv = "provider,category,asn,reference\n"
                                "Soci\xC3\xA9t\xC3\xA9 VPN,vpn,AS1,https://example.org/1\n"
                                "x" + b + ",vpn,AS2,https://example.org/2\n"
                                "Fine,vpn,AS3,https://example.org/" + b + "\n";
        const AsnList r = parse_provider_asns(csv);
        REQUIRE(r.entries.size() == 1);
        CHECK(r.entries[0].provider == "Soci\xC3\xA9t\xC3\xA9 VPN");
        REQUIRE(r.rejects.size() == 2);
        CHECK(r.rejects[0].line == 3);
        CHECK(r.rejects[1].line == 4);
        for (const auto& rej : r.rejects) CHECK(rej.reason == reasons::kNotUtf8);
        const AsnList l = parse_asn_list("AS5 # \xE6\x97\xA5\xE6\x9C\xAC\nAS6 # x" + b + "\n");
        REQUIRE(l.entries.size() == 1);
        CHECK(l.entries[0].asn == 5);
        REQUIRE(l.rejects.size() == 1);
        CHECK(l.rejects[0].reason == reasons::kNotUtf8);
    }
}

TEST_CASE("valid_utf8 agrees with decoding by the bit patterns, on every 1-3 byte string and random longer ones") {
    // The oracle decodes by the patterns of RFC 3629 section 3 and checks the
    // value: shortest form, not a surrogate, at most U+10FFFF, not NUL.
    auto oracle = [](std::string_view s) {
        for (std::size_t i = 0; i < s.size();) {
            const auto c = static_cast<unsigned char>(s[i]);
            std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
            if (n == 0 || i + n > s.size()) return false;
            std::uint32_t cp = n == 1 ? c : c & (0x7Fu >> n);
            for (std::size_t k = 1; k < n; ++k) {
                const auto d = static_cast<unsigned char>(s[i + k]);
                if ((d >> 6) != 0x2) return false;
                cp = cp << 6 | (d & 0x3Fu);
            }
            const std::uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
            if (cp < min[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) || cp == 0) return false;
            i += n;
        }
        return true;
    };
    std::string s;
    for (std::uint32_t len = 1; len <= 3; ++len) {
        s.assign(len, '\0');
        for (std::uint32_t v = 0; v < (1u << (8 * len)); ++v) {
            for (std::uint32_t k = 0; k < len; ++k) s[k] = static_cast<char>(v >> (8 * k));
            if (valid_utf8(s) != oracle(s)) FAIL_CHECK("disagree on a " << len << "-byte string " << v);
        }
    }
    std::mt19937_64 rng(0x7f8);
    const std::string pieces[] = {"a", "\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80", "\xF4\x8F\xBF\xBF"};
    for (int i = 0; i < 200000; ++i) {
        s.clear();
        for (int n = static_cast<int>(rng() % 8); n > 0; --n) s += pieces[rng() % 5];
        if (rng() % 2) s[rng() % (s.size() + 1) % std::max<std::size_t>(s.size(), 1)] = static_cast<char>(rng());
        CHECK(valid_utf8(s) == oracle(s));
    }
}

TEST_CASE("provider-asns: header, BOM, CRLF, no final newline") {
    // The header must be exactly the four names: a wrong one is rejected
    // (rows are still read by position).
    const AsnList wrong = parse_provider_asns("provider,asn,category,reference\nA,vpn,AS1,r\n");
    check_issues(wrong.rejects, {{1, "bad header"}});
    CHECK(wrong.entries.size() == 1);
    // A first row where the header should be is not read.
    const AsnList missing = parse_provider_asns("# c\nA,vpn,AS1,r\nB,vpn,AS2,r\n");
    check_issues(missing.rejects, {{2, "bad header"}});
    REQUIRE(missing.entries.size() == 1);
    CHECK(missing.entries[0].provider == "B");

    const std::string body = "\xEF\xBB\xBFprovider,category,asn,reference\r\n# c\r\nA,vpn,AS1,r1\r\nB,hosting,2,r2";
    const AsnList r = parse_provider_asns(body);
    check_invariants(body, r);
    CHECK(r.rejects.empty());
    CHECK(r.warnings.empty());
    REQUIRE(r.entries.size() == 2);
    CHECK(on_line(r, 3).reference == "r1");
    CHECK(on_line(r, 3).categories == kVpn);
    CHECK(on_line(r, 4).asn == 2);
    CHECK(on_line(r, 4).reference == "r2");
    CHECK(on_line(r, 4).categories == kHosting);

    // An empty body, or comments only: nothing, and no complaint.
    CHECK(parse_provider_asns("").entries.empty());
    CHECK(parse_provider_asns("").rejects.empty());
    CHECK(parse_provider_asns("# only\n").rejects.empty());
}

TEST_CASE("provider-asns: data/providers/providers.csv, every row checked against the line it cites") {
    const std::string body = read_repo_file("data/providers/providers.csv");
    const AsnList r = parse_provider_asns(body);
    check_invariants(body, r);
    CHECK(r.rejects.empty());
    CHECK(r.warnings.empty());  // no ASN twice

    // Independent count: non-blank, non-comment lines minus the header.
    std::size_t rows = 0;
    for (const auto line : split_lines(body)) {
        const std::string_view c = clean(line);
        if (!c.empty() && c[0] != '#') ++rows;
    }
    REQUIRE(rows >= 1);
    CHECK(r.entries.size() == rows - 1);

    // Each reference is "<repo>@<commit> <path> line N: <text>" and the
    // snapshot copy of that file has exactly <text> on line N, naming the ASN.
    const std::map<std::string, std::string> files = {
        {"X4BNet/lists_vpn@262747cf37de input/vpn/ASN.txt", "data/snapshot/asn/x4bnet-vpn-ASN.txt"},
        {"X4BNet/lists_vpn@1f269b426b48 input/datacenter/ASN.txt", "data/snapshot/asn/x4bnet-datacenter-ASN.txt"},
        {"brianhama/bad-asn-list@db111a496ff3 bad-asn-list.csv", "data/snapshot/asn/bad-asn-list.csv"},
    };
    std::map<std::string, std::string> bodies;
    for (const auto& [cite, path] : files) bodies[cite] = read_repo_file(path);
    std::size_t vpn = 0, hosting = 0;
    for (const auto& e : r.entries) {
        INFO("providers.csv line " << e.line << ": " << quoted(body, e));
        CHECK(!e.provider.empty());
        REQUIRE(!e.reference.empty());
        CHECK((e.categories == kVpn || e.categories == kHosting));
        (e.categories == kVpn ? vpn : hosting) += 1;
        const std::size_t at = e.reference.find(" line ");
        const std::size_t colon = e.reference.find(": ", at == std::string::npos ? 0 : at);
        REQUIRE(at != std::string::npos);
        REQUIRE(colon != std::string::npos);
        const std::string cite = e.reference.substr(0, at);
        REQUIRE_MESSAGE(bodies.count(cite) == 1, "unknown source " << cite);
        const std::uint64_t n = digits_of(e.reference.substr(at + 6, colon - at - 6));
        const std::string text = e.reference.substr(colon + 2);
        const auto lines = split_lines(bodies[cite]);
        REQUIRE(n >= 1);
        REQUIRE(n <= lines.size());
        CHECK(clean(lines[n - 1]) == text);
        // The cited line starts with this ASN (X4BNet "ASn ", CSV "n," or "\"n\"").
        const std::string asn = std::to_string(e.asn);
        const bool names_asn = text.rfind("AS" + asn + " ", 0) == 0 || text.rfind(asn + ",", 0) == 0 ||
                               text.rfind("\"" + asn + "\"", 0) == 0;
        CHECK(names_asn);
        // vpn rows only from the X4BNet vpn list.
        if (e.categories == kVpn) CHECK(cite == "X4BNet/lists_vpn@262747cf37de input/vpn/ASN.txt");
    }
    CHECK(vpn >= 10);
    CHECK(hosting >= 20);
    CHECK(hosting <= 40);
}

// ---- robustness --------------------------------------------------------------------

TEST_CASE("all three parsers survive random bytes and mutated real files") {
    using Parser = WithOptions<AsnList, std::string_view>;
    const Parser parsers[] = {parse_asn_list, parse_asn_csv, parse_provider_asns};
    const std::string samples[] = {
        read_repo_file("data/snapshot/asn/x4bnet-vpn-ASN.txt"),
        read_repo_file("data/snapshot/asn/bad-asn-list.csv").substr(0, 3000),
        read_repo_file("data/providers/providers.csv"),
        "provider,category,asn,reference\n\"a \"\"b\"\", c\",vpn,AS1,\"r, s\"\n",
    };
    FeedNoise noise(20260226, "AS0123456789#,\" \t\r\n\xEF\xBB\xBFvpnhostingx");
    std::size_t entries = 0;
    for (int iter = 0; iter < 3000; ++iter) {
        // Two rounds of noise, then one real sample with a few edits.
        const std::string body =
            iter % 3 != 2 ? noise.random_body(300) : noise.mutate(samples[noise.uniform(std::size(samples))], 8);
        for (const Parser p : parsers) {
            const AsnList r = p(body);
            check_invariants(body, r);
            entries += r.entries.size();
        }
    }
    CHECK(entries > 1000);  // the mutated samples mostly still parse
}

// ---- exclusions ----------------------------------------------------------------

TEST_CASE("exclusions: the bundled data/exclusions.csv parses cleanly, each rule quoting its line") {
    const std::string body = read_repo_file("data/exclusions.csv");
    const ExclusionList r = parse_exclusions(body);
    CHECK(r.rejects.empty());
    CHECK(r.warnings.empty());
    // An independent count: data lines are those after the header that are
    // neither blank nor comments.
    std::size_t rows = 0;
    bool header = false;
    for (const auto& l : split_lines<std::string>(body)) {
        if (l.empty() || l[0] == '#') continue;
        if (!header) {
            header = true;
            continue;
        }
        ++rows;
    }
    REQUIRE(r.rules.size() == rows);
    const auto lines = split_lines<std::string>(body);
    for (const auto& rule : r.rules) {
        CAPTURE(rule.line);
        CHECK(body.substr(rule.text_offset, rule.text_length) == lines[rule.line - 1]);
        CHECK(!rule.reason.empty());
        CHECK(!rule.reference.empty());
        if (rule.kind == ExclusionRule::Kind::asn) CHECK(contains(lines[rule.line - 1], "AS" + std::to_string(rule.asn) + ","));
    }
}

TEST_CASE("exclusions: rules, and every malformed line with its reason") {
    const std::string body =
        "# comment\n"                                                    // 1
        "type,value,reason,reference\n"                                  // 2
        "asn,AS15169,crawlers,https://example.org/a\n"                   // 3
        "prefix,192.0.2.0/24,\"docs, and more\",https://example.org/b\n"  // 4
        "prefix,2001:db8::/32,v6,ref\n"                                  // 5
        "asn,AS0,zero,ref\n"                                             // 6
        "asn,ASx,bad,ref\n"                                              // 7
        "prefix,192.0.2.1/24,host bits,ref\n"                            // 8
        "prefix,192.0.2.0-192.0.2.9,range,ref\n"                         // 9
        "country,DE,no,ref\n"                                            // 10
        "asn,AS1,,ref\n"                                                 // 11
        "asn,AS1,why,\n"                                                 // 12
        "asn,AS1,why\n"                                                  // 13
        "asn,AS1,why,ref,extra\n"                                        // 14
        "asn,AS1,\"open,ref\n"                                           // 15
        "\n"                                                             // 16
        "  # indented comment\n"                                         // 17
        "asn,64500,last,ref";                                            // 18, no newline
    const ExclusionList r = parse_exclusions(body);
    REQUIRE(r.rules.size() == 4);
    CHECK(r.rules[0].kind == ExclusionRule::Kind::asn);
    CHECK(r.rules[0].asn == 15169);
    CHECK(r.rules[0].line == 3);
    CHECK(r.rules[0].reason == "crawlers");
    CHECK(r.rules[0].reference == "https://example.org/a");
    CHECK(r.rules[1].kind == ExclusionRule::Kind::prefix);
    CHECK(format_range(r.rules[1].range) == "192.0.2.0/24");
    CHECK(r.rules[1].reason == "docs, and more");
    CHECK(format_range(r.rules[2].range) == "2001:db8::/32");
    CHECK(r.rules[3].asn == 64500);
    CHECK(r.rules[3].line == 18);
    CHECK(body.substr(r.rules[3].text_offset, r.rules[3].text_length) == "asn,64500,last,ref");
    check_issues(r.rejects, {{6, "ASN 0"},
                             {7, reasons::kBadAsn},
                             {8, "host bits set"},
                             {9, "range where a prefix was expected"},
                             {10, "bad exclusion type"},
                             {11, "missing reason"},
                             {12, "missing reference"},
                             {13, "missing field"},
                             {14, "too many fields"},
                             {15, "bad quoting"}});

    check_issues(parse_exclusions("asn,AS1,why,ref\n").rejects, {{1, "bad header"}});
    CHECK(parse_exclusions("").rules.empty());
}

TEST_CASE("exclusions: random bytes and mutations never crash and quote inside the body") {
    const std::string sample = read_repo_file("data/exclusions.csv");
    FeedNoise noise(4, "asnprefixAS0123456789./:,\"# \n\t\r\x80"sv);
    for (int round = 0; round < 500; ++round) {
        const std::string body = round % 2 ? noise.random_body(300) : noise.mutate(sample, 6);
        const ExclusionList r = parse_exclusions(body);
        for (const auto& rule : r.rules) {
            REQUIRE(rule.text_offset + rule.text_length <= body.size());
            CHECK(!rule.reason.empty());
            CHECK(!rule.reference.empty());
        }
    }
}
