// The JSON cloud and Onionoo formats (google-ip-ranges, azure-service-tags,
// oracle-ip-ranges, onionoo-exit, onionoo-relays) and the JSON scanner they
// share with aws-ip-ranges: real samples (data/snapshot, tests/data/feeds)
// against an independent text scan and counts taken from the files, malformed
// documents with exact reasons and lines, and a randomised robustness run.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <iterator>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "anondb/ip.hpp"
#include "anondb/sources/formats.hpp"
#include "anondb/sources/parse.hpp"
#include "test_util.hpp"

using namespace anondb;
using namespace anondb::sources;
using namespace anondb::test;
using namespace std::string_literals;
using namespace std::string_view_literals;

namespace {


std::string_view quoted(std::string_view body, const ParsedEntry& e) { return body.substr(e.text_offset, e.text_length); }

// 1-based line of a byte offset, by counting '\n' before it.
std::uint32_t line_of(std::string_view body, std::size_t off) {
    return 1 + static_cast<std::uint32_t>(std::count(body.begin(), body.begin() + static_cast<std::ptrdiff_t>(off), '\n'));
}


std::vector<std::string> entry_texts(std::string_view body, const ParseResult& r) {
    std::vector<std::string> out;
    for (const auto& e : r.entries) out.emplace_back(quoted(body, e));
    return out;
}

// ---- the independent scan ----------------------------------------------------------
// Plain text search, good for the real samples (no escapes, no nesting in the
// arrays read): where the strings of a key stand.

struct Found {
    std::size_t offset;  // first byte inside the quotes
    std::string_view text;
};

std::size_t skip_space(std::string_view s, std::size_t at) {
    while (at < s.size() && (s[at] == ' ' || s[at] == '\t' || s[at] == '\r' || s[at] == '\n')) ++at;
    return at;
}

std::string quoted_key(std::string_view key) {
    std::string out(1, '"');
    out.append(key);
    out += '"';
    return out;
}

// The string after every `"key":`, in order.
std::vector<Found> strings_of_key(std::string_view body, std::string_view key) {
    std::vector<Found> out;
    const std::string needle = quoted_key(key);
    for (std::size_t at = body.find(needle); at != std::string_view::npos; at = body.find(needle, at + 1)) {
        std::size_t p = skip_space(body, at + needle.size());
        REQUIRE(body[p] == ':');
        p = skip_space(body, p + 1);
        REQUIRE(body[p] == '"');
        const std::size_t end = body.find('"', p + 1);
        out.push_back({p + 1, body.substr(p + 1, end - p - 1)});
    }
    return out;
}

// The strings inside the array after every `"key":`, in order.
std::vector<Found> strings_in_arrays_of_key(std::string_view body, std::string_view key) {
    std::vector<Found> out;
    const std::string needle = quoted_key(key);
    for (std::size_t at = body.find(needle); at != std::string_view::npos; at = body.find(needle, at + 1)) {
        std::size_t p = skip_space(body, at + needle.size());
        REQUIRE(body[p] == ':');
        p = skip_space(body, p + 1);
        REQUIRE(body[p] == '[');
        const std::size_t close = body.find(']', p);
        for (std::size_t q = body.find('"', p); q < close; q = body.find('"', q + 1)) {
            const std::size_t end = body.find('"', q + 1);
            out.push_back({q + 1, body.substr(q + 1, end - q - 1)});
            q = end;
        }
    }
    return out;
}

// Entries must be exactly the found strings, in order, on their lines.
void check_entries_are(std::string_view body, const ParseResult& r, const std::vector<Found>& found) {
    REQUIRE(r.entries.size() == found.size());
    for (std::size_t k = 0; k < found.size(); ++k) {
        CAPTURE(k);
        const ParsedEntry& e = r.entries[k];
        REQUIRE(e.text_offset == found[k].offset);
        REQUIRE(quoted(body, e) == found[k].text);
        REQUIRE(e.line == line_of(body, found[k].offset));
    }
}

std::size_t count_v4(const ParseResult& r) {
    return static_cast<std::size_t>(
        std::count_if(r.entries.begin(), r.entries.end(), [](const ParsedEntry& e) { return e.range.first.is_v4(); }));
}

// The address of an OR address, by a different route than the parser's:
// brackets removed, then everything from the last ':' dropped.
std::string or_host(std::string_view s) {
    std::string t(s.substr(0, s.rfind(':')));
    if (!t.empty() && t.front() == '[') t = t.substr(1, t.size() - 2);
    return t;
}

// The contract of parse.hpp for a JSON format, on any body.
void check_json_invariants(std::string_view body, const ParseResult& r) {
    const std::uint64_t lines = 1 + static_cast<std::uint64_t>(std::count(body.begin(), body.end(), '\n'));
    for (const ParsedEntry& e : r.entries) {
        REQUIRE(e.line >= 1);
        REQUIRE(e.text_offset >= 1);
        REQUIRE(e.text_offset <= body.size());
        REQUIRE(e.text_length < body.size() - e.text_offset);  // a closing quote follows
        REQUIRE(body[e.text_offset - 1] == '"');
        REQUIRE(body[e.text_offset + e.text_length] == '"');
        REQUIRE(quoted(body, e).find('\n') == std::string_view::npos);
        REQUIRE(e.line == line_of(body, e.text_offset));
        REQUIRE(e.range.first <= e.range.last);
    }
    for (const auto* issues : {&r.rejects, &r.warnings}) {
        for (const LineIssue& i : *issues) {
            REQUIRE(i.line >= 1);
            REQUIRE(i.line <= lines);
            REQUIRE(!i.reason.empty());
            REQUIRE(i.text.size() <= kIssueTextMax);
        }
    }
    for (const LineIssue& i : r.rejects) {
        if (i.reason.rfind("not JSON: ", 0) == 0) {  // the whole document is void
            REQUIRE(r.entries.empty());
            REQUIRE(r.warnings.empty());
            REQUIRE(r.rejects.size() == 1);
        }
    }
}

bool same(const ParseResult& a, const ParseResult& b) {
    auto eq_issue = [](const LineIssue& p, const LineIssue& q) {
        return p.line == q.line && p.reason == q.reason && p.text == q.text;
    };
    auto eq_entry = [](const ParsedEntry& p, const ParsedEntry& q) {
        return p.range == q.range && p.line == q.line && p.text_offset == q.text_offset && p.text_length == q.text_length;
    };
    return std::equal(a.entries.begin(), a.entries.end(), b.entries.begin(), b.entries.end(), eq_entry) &&
           std::equal(a.rejects.begin(), a.rejects.end(), b.rejects.begin(), b.rejects.end(), eq_issue) &&
           std::equal(a.warnings.begin(), a.warnings.end(), b.warnings.begin(), b.warnings.end(), eq_issue);
}

struct JsonFormat {
    std::string_view name;
    ParserFn parse;
    const char* sample;  // a real sample of the format
};

const JsonFormat kJsonFormats[] = {
    {"google-ip-ranges", &parse_google_ip_ranges, "data/snapshot/google/goog.json"},
    {"azure-service-tags", &parse_azure_service_tags, "data/snapshot/azure/ServiceTags_Public.excerpt.json"},
    {"oracle-ip-ranges", &parse_oracle_ip_ranges, "data/snapshot/oracle/public_ip_ranges.json"},
    {"onionoo-exit", &parse_onionoo_exit, "data/snapshot/tor/onionoo-details-head5.json"},
    {"onionoo-relays", &parse_onionoo_relays, "tests/data/feeds/tor-onionoo/details-running-relays.excerpt40.json"},
    {"aws-ip-ranges", &parse_aws_ip_ranges, "data/snapshot/aws/ip-ranges.json"},
};

}  // namespace

// ---------------------------------------------------------------------------
TEST_CASE("registry: the five JSON formats by name") {
    REQUIRE(formats().size() == 9);
    for (const JsonFormat& f : kJsonFormats) {
        CAPTURE(f.name);
        const FormatInfo* info = find_format(f.name);
        REQUIRE(info != nullptr);
        CHECK((info->parse == f.parse));
        CHECK(!info->description.empty());
    }
    CHECK(find_format("onionoo") == nullptr);
    CHECK(find_format("google") == nullptr);
}

// ---------------------------------------------------------------------------
TEST_CASE("google-ip-ranges: cloud.json and goog.json, every prefix on its line") {
    struct Sample {
        const char* file;
        std::size_t v4, v6;
    };
    for (const Sample s : {Sample{"data/snapshot/google/cloud.json", 736, 46},
                           Sample{"data/snapshot/google/goog.json", 73, 11}}) {
        CAPTURE(s.file);
        const std::string body = read_repo_file(s.file);
        const ParseResult r = parse_google_ip_ranges(body);
        check_json_invariants(body, r);
        CHECK(r.rejects.empty());
        CHECK(r.warnings.empty());
        // Independent: every string after either key, in document order.
        std::vector<Found> found = strings_of_key(body, "ipv4Prefix");
        const std::vector<Found> v6 = strings_of_key(body, "ipv6Prefix");
        CHECK(found.size() == s.v4);
        CHECK(v6.size() == s.v6);
        found.insert(found.end(), v6.begin(), v6.end());
        std::sort(found.begin(), found.end(), [](const Found& a, const Found& b) { return a.offset < b.offset; });
        check_entries_are(body, r, found);
        CHECK(count_v4(r) == s.v4);
        for (const auto& e : r.entries) REQUIRE(e.range == range_of(quoted(body, e)));
    }
    const std::string cloud = read_repo_file("data/snapshot/google/cloud.json");
    const ParseResult rc = parse_google_ip_ranges(cloud);
    CHECK(rc.entries[0].line == 5);
    CHECK(quoted(cloud, rc.entries[0]) == "34.1.208.0/20");
    CHECK(rc.entries[4].line == 21);
    CHECK(quoted(cloud, rc.entries[4]) == "2600:1900:8000::/44");
    CHECK(rc.entries.back().line == 3129);
    CHECK(rc.entries.back().range == range_of("2600:1900:4280::/44"));

    const std::string goog = read_repo_file("data/snapshot/google/goog.json");
    const ParseResult rg = parse_google_ip_ranges(goog);
    CHECK(quoted(goog, rg.entries[1]) == "8.8.8.0/24");
    CHECK(rg.entries[1].line == 7);
    CHECK(rg.entries.back().line == 171);
    CHECK(quoted(goog, rg.entries.back()) == "2c0f:fb50::/32");
}

TEST_CASE("google-ip-ranges: malformed documents and entries") {
    SUBCASE("wrong shapes") {
        check_issues(parse_google_ip_ranges("{}").rejects, {{1, "missing prefixes array"}});
        check_issues(parse_google_ip_ranges("[{\"ipv4Prefix\": \"8.8.8.0/24\"}]").rejects,
                     {{1, "JSON root is not an object"}});
        check_issues(parse_google_ip_ranges("{\"syncToken\": \"1\",\n\"prefixes\": {\"ipv4Prefix\": \"8.8.8.0/24\"}}").rejects,
                     {{2, "prefixes is not an array"}});
        // AWS's lists are not Google's.
        check_issues(parse_google_ip_ranges("{\"ipv6_prefixes\": [], \"prefixes\": [{\"ip_prefix\": \"1.2.3.0/24\"}]}").rejects,
                     {{1, "entry without ipv4Prefix or ipv6Prefix"}});
    }
    SUBCASE("bad entries, each on its own line") {
        const std::string body =
            "{\n"                                                              // 1
            "  \"syncToken\": \"1714053903689\",\n"                            // 2
            "  \"prefixes\": [{\n"                                             // 3
            "    \"ipv4Prefix\": \"8.8.4.0/24\"\n"                             // 4
            "  }, {\n"                                                         // 5
            "    \"ipv4Prefix\": \"8.8.8.8/24\"\n"                             // 6 host bits
            "  }, {\n"                                                         // 7
            "    \"ipv4Prefix\": \"2001:4860::/32\"\n"                         // 8 wrong family
            "  }, {\n"                                                         // 9
            "    \"ipv6Prefix\": \"8.8.8.0/24\"\n"                             // 10 wrong family
            "  }, {\n"                                                         // 11
            "    \"ipv4Prefix\": \"8.8.8.0/33\"\n"                             // 12
            "  }, {\n"                                                         // 13
            "    \"ipv4Prefix\": \"08.8.8.0/24\"\n"                            // 14
            "  }, {\n"                                                         // 15
            "    \"service\": \"Google Cloud\"\n"                              // 16 no prefix
            "  }, {\n"                                                         // 17
            "    \"ipv4Prefix\": 134744072\n"                                  // 18
            "  }, {\n"                                                         // 19
            "    \"ipv6Prefix\": [\"2001:4860::/32\"]\n"                       // 20
            "  }, {\n"                                                         // 21
            "    \"ipv4Prefix\": \"34.1.208.0/20\",\n"                         // 22
            "    \"ipv6Prefix\": \"2600:1900:8000::/44\"\n"                    // 23 second prefix
            "  }, \"8.8.8.0/24\", {\n"                                          // 24 not an object
            "    \"ipv4Prefix\": \"8.8.8.0-8.8.8.255\"\n"                      // 25 a range
            "  }, {\n"                                                         // 26
            "    \"ipv6Prefix\": \"2001:4860:4801:2008::/64\", \"scope\": \"us\"\n"  // 27
            "  }]\n"                                                           // 28
            "}\n";
        const ParseResult r = parse_google_ip_ranges(body);
        check_json_invariants(body, r);
        CHECK(entry_lines(r) == std::vector<std::uint32_t>{4, 6, 22, 27});
        CHECK(r.entries[1].range == range_of("8.8.8.0/24"));
        CHECK(quoted(body, r.entries[1]) == "8.8.8.8/24");
        CHECK(r.entries[3].range == range_of("2001:4860:4801:2008::/64"));
        check_issues(r.rejects, {
                                    {8, "IPv6 prefix in ipv4Prefix"},
                                    {10, "IPv4 prefix in ipv6Prefix"},
                                    {12, reason(IpError::bad_prefix_len)},
                                    {14, reason(IpError::octet_leading_zero)},
                                    {15, "entry without ipv4Prefix or ipv6Prefix"},
                                    {18, "ipv4Prefix is not a string"},
                                    {20, "ipv6Prefix is not a string"},
                                    {23, "entry with more than one prefix"},
                                    {24, "prefix entry is not an object"},
                                    {25, "range where a prefix was expected"},
                                });
        CHECK(r.rejects[0].text == "2001:4860::/32");
        CHECK(r.rejects[4].text == "}, {");  // the line of the entry's '{'
        CHECK(r.rejects[7].text == "2600:1900:8000::/44");
        check_issues(r.warnings, {{6, "host bits set"}});
        CHECK(r.warnings[0].text == "8.8.8.8/24");
    }
    SUBCASE("escapes, BOM and CRLF") {
        const std::string body =
            "\xEF\xBB\xBF{\r\n\"prefixes\": [\r\n{\"ipv4Prefix\": \"8.8.4.0\\/24\"},\r\n"
            "{\"ipv4Prefix\": \"\\u0038.8.8.0/24\"}]\r\n}\r\n";
        const ParseResult r = parse_google_ip_ranges(body);
        check_json_invariants(body, r);
        CHECK(r.rejects.empty());
        CHECK(entry_lines(r) == std::vector<std::uint32_t>{3, 4});
        CHECK(entry_texts(body, r) == std::vector<std::string>{"8.8.4.0\\/24", "\\u0038.8.8.0/24"});
        CHECK(r.entries[0].range == range_of("8.8.4.0/24"));
        CHECK(r.entries[1].range == range_of("8.8.8.0/24"));
    }
}

// ---------------------------------------------------------------------------
TEST_CASE("azure-service-tags: the excerpt, both families, CRLF lines") {
    const std::string body = read_repo_file("data/snapshot/azure/ServiceTags_Public.excerpt.json");
    const ParseResult r = parse_azure_service_tags(body);
    check_json_invariants(body, r);
    CHECK(r.rejects.empty());
    CHECK(r.warnings.empty());
    const std::vector<Found> found = strings_in_arrays_of_key(body, "addressPrefixes");
    CHECK(found.size() == 2203);  // 315 + 26 + 369 + 9 + 139 + 19 + 192 + 1134, by service tag
    check_entries_are(body, r, found);
    CHECK(count_v4(r) == 2203 - 736);
    for (const auto& e : r.entries) {
        REQUIRE(e.range == range_of(quoted(body, e)));
        REQUIRE(quoted(body, e).find('\r') == std::string_view::npos);
    }
    // The first prefix of AzureCloud.eastus2, as in the full file (line 115999).
    const auto lines = split_lines(body);
    REQUIRE(lines[1205] == "      \"name\": \"AzureCloud.eastus2\",\r");
    const auto it = std::find_if(r.entries.begin(), r.entries.end(), [](const ParsedEntry& e) { return e.line == 1215; });
    REQUIRE(it != r.entries.end());
    CHECK(quoted(body, *it) == "4.150.64.0/18");
    CHECK(r.entries[0].line == 15);
    CHECK(quoted(body, r.entries[0]) == "4.145.74.52/30");
}

TEST_CASE("azure-service-tags: malformed documents and tags") {
    SUBCASE("wrong shapes") {
        check_issues(parse_azure_service_tags("{\"changeNumber\": 363, \"cloud\": \"Public\"}").rejects,
                     {{1, "missing values array"}});
        check_issues(parse_azure_service_tags("\n\n[]").rejects, {{3, "JSON root is not an object"}});
        check_issues(parse_azure_service_tags("{\n\"values\": {}}").rejects, {{2, "values is not an array"}});
    }
    SUBCASE("bad tags and prefixes, each on its own line") {
        const std::string body =
            "{\n"                                                                        // 1
            "  \"values\": [\n"                                                          // 2
            "    {\"name\": \"A\", \"properties\": {\"addressPrefixes\": [\n"            // 3
            "      \"20.0.0.0/8\",\n"                                                    // 4
            "      \"2603:1000::/24\",\n"                                                // 5
            "      \"20.1.2.3/16\",\n"                                                   // 6 host bits
            "      \"20.300.0.0/16\",\n"                                                 // 7
            "      20,\n"                                                                // 8
            "      \"::ffff:0:0/96\"\n"                                                  // 9
            "    ]}},\n"                                                                 // 10
            "    {\"name\": \"B\"},\n"                                                   // 11 no properties
            "    {\"name\": \"C\", \"properties\": {\"region\": \"\"}},\n"               // 12 no addressPrefixes
            "    {\"name\": \"D\", \"properties\": [\"1.2.3.0/24\"]},\n"                 // 13
            "    {\"name\": \"E\", \"properties\": {\"addressPrefixes\": \"1.2.3.0/24\"}},\n"  // 14
            "    {\"name\": \"F\", \"properties\": {\"addressPrefixes\": []}},\n"        // 15 empty: fine
            "    \"AzureCloud\",\n"                                                      // 16
            "    {\"addressPrefixes\": [\"9.9.9.0/24\"], \"properties\": {\"addressPrefixes\": [\"2001:db8::/32\"]}}\n"  // 17
            "  ]\n"                                                                      // 18
            "}";                                                                         // 19
        const ParseResult r = parse_azure_service_tags(body);
        check_json_invariants(body, r);
        CHECK(entry_lines(r) == std::vector<std::uint32_t>{4, 5, 6, 9, 17});
        CHECK(r.entries[2].range == range_of("20.1.0.0/16"));
        CHECK(r.entries[4].range == range_of("2001:db8::/32"));  // not the tag-level member
        check_issues(r.rejects, {
                                    {7, reason(IpError::octet_range)},
                                    {8, "address prefix is not a string"},
                                    {11, "service tag without properties"},
                                    {12, "properties without addressPrefixes"},
                                    {13, "properties is not an object"},
                                    {14, "addressPrefixes is not an array"},
                                    {16, "service tag is not an object"},
                                });
        CHECK(r.rejects[0].text == "20.300.0.0/16");
        CHECK(r.rejects[2].text == "{\"name\": \"B\"},");
        check_issues(r.warnings, {{6, "host bits set"}});
    }
}

// ---------------------------------------------------------------------------
TEST_CASE("oracle-ip-ranges: public_ip_ranges.json, every cidr on its line") {
    const std::string body = read_repo_file("data/snapshot/oracle/public_ip_ranges.json");
    const ParseResult r = parse_oracle_ip_ranges(body);
    check_json_invariants(body, r);
    CHECK(r.rejects.empty());
    CHECK(r.warnings.empty());
    const std::vector<Found> found = strings_of_key(body, "cidr");
    CHECK(found.size() == 896);
    check_entries_are(body, r, found);
    CHECK(count_v4(r) == 896);
    for (const auto& e : r.entries) REQUIRE(e.range == range_of(quoted(body, e)));
    CHECK(r.entries[0].line == 8);
    CHECK(quoted(body, r.entries[0]) == "129.80.0.0/16");
    CHECK(r.entries.back().line == 5646);
    CHECK(quoted(body, r.entries.back()) == "207.127.86.0/25");
    // 45 regions, each a "region" member.
    CHECK(strings_of_key(body, "region").size() == 45);
}

TEST_CASE("oracle-ip-ranges: malformed documents and regions") {
    SUBCASE("wrong shapes") {
        check_issues(parse_oracle_ip_ranges("{\"last_updated_timestamp\": \"2025-07-21T07:13:25\"}").rejects,
                     {{1, "missing regions array"}});
        check_issues(parse_oracle_ip_ranges("\"regions\"").rejects, {{1, "JSON root is not an object"}});
        check_issues(parse_oracle_ip_ranges("{\"regions\":\n null}").rejects, {{2, "regions is not an array"}});
    }
    SUBCASE("bad regions and cidrs, each on its own line") {
        const std::string body =
            "{\"regions\": [\n"                                                             // 1
            "  {\"region\": \"us-ashburn-1\", \"cidrs\": [\n"                               // 2
            "    {\"cidr\": \"129.80.0.0/16\", \"tags\": [\"OCI\"]},\n"                     // 3
            "    {\"cidr\": \"129.80.1.1/16\", \"tags\": [\"OCI\"]},\n"                     // 4 host bits
            "    {\"tags\": [\"OSN\"]},\n"                                                  // 5 no cidr
            "    {\"cidr\": [\"1.2.3.0/24\"]},\n"                                           // 6
            "    {\"cidr\": \"1.2.3.0/24\", \"cidr\": \"1.2.4.0/24\"},\n"                   // 7 duplicate
            "    \"134.70.0.0/17\",\n"                                                      // 8
            "    {\"cidr\": \"2603:c020::/32\"},\n"                                         // 9 IPv6: fine
            "    {\"cidr\": \"\"},\n"                                                       // 10
            "    {\"cidr\": \"140.91.0.0/+16\"}\n"                                          // 11
            "  ]},\n"                                                                       // 12
            "  {\"region\": \"eu-frankfurt-1\"},\n"                                         // 13 no cidrs
            "  {\"region\": \"x\", \"cidrs\": {\"cidr\": \"1.1.1.0/24\"}},\n"               // 14
            "  [\"ap-tokyo-1\"]\n"                                                          // 15
            "]}\n";
        const ParseResult r = parse_oracle_ip_ranges(body);
        check_json_invariants(body, r);
        CHECK(entry_lines(r) == std::vector<std::uint32_t>{3, 4, 7, 9});
        CHECK(r.entries[1].range == range_of("129.80.0.0/16"));
        CHECK(r.entries[2].range == range_of("1.2.3.0/24"));
        check_issues(r.rejects, {
                                    {5, "entry without cidr"},
                                    {6, "cidr is not a string"},
                                    {7, "duplicate cidr"},
                                    {8, "prefix entry is not an object"},
                                    {10, reason(IpError::empty)},
                                    {11, reason(IpError::bad_prefix_len)},
                                    {13, "region without cidrs"},
                                    {14, "cidrs is not an array"},
                                    {15, "region is not an object"},
                                });
        CHECK(r.rejects[2].text == "1.2.4.0/24");
        check_issues(r.warnings, {{4, "host bits set"}});
    }
}

// ---------------------------------------------------------------------------
TEST_CASE("onionoo-exit: details document, exit addresses of the relays that have them") {
    const std::string body = read_repo_file("data/snapshot/tor/onionoo-details-head5.json");
    const ParseResult r = parse_onionoo_exit(body);
    check_json_invariants(body, r);
    CHECK(r.rejects.empty());
    CHECK(r.warnings.empty());
    const std::vector<Found> found = strings_in_arrays_of_key(body, "exit_addresses");
    CHECK(found.size() == 2);  // 2 of the 5 relays exit
    check_entries_are(body, r, found);
    CHECK(entry_lines(r) == std::vector<std::uint32_t>{64, 249});
    CHECK(entry_texts(body, r) == std::vector<std::string>{"204.8.96.141", "204.137.14.106"});
    CHECK(r.entries[0].range == Range{ip_of("204.8.96.141"), ip_of("204.8.96.141")});
    CHECK(r.entries[1].range == Range{ip_of("204.137.14.106"), ip_of("204.137.14.106")});
    // Five relays, by their fingerprints.
    CHECK(strings_of_key(body, "fingerprint").size() == 5);
}

TEST_CASE("onionoo-relays: OR addresses without ports, IPv4 and bracketed IPv6") {
    struct Sample {
        const char* file;
        std::size_t relays, addresses, v6;
    };
    for (const Sample s : {Sample{"data/snapshot/tor/onionoo-details-head5.json", 5, 7, 2},
                           Sample{"tests/data/feeds/tor-onionoo/details-running-relays.excerpt40.json", 40, 60, 20}}) {
        CAPTURE(s.file);
        const std::string body = read_repo_file(s.file);
        const ParseResult r = parse_onionoo_relays(body);
        check_json_invariants(body, r);
        CHECK(r.rejects.empty());
        CHECK(r.warnings.empty());
        CHECK(strings_of_key(body, "fingerprint").size() == s.relays);
        const std::vector<Found> found = strings_in_arrays_of_key(body, "or_addresses");
        CHECK(found.size() == s.addresses);
        check_entries_are(body, r, found);
        CHECK(r.entries.size() - count_v4(r) == s.v6);
        for (const auto& e : r.entries) {
            const Ip a = ip_of(or_host(quoted(body, e)));
            REQUIRE(e.range == Range{a, a});
        }
    }
    const std::string head = read_repo_file("data/snapshot/tor/onionoo-details-head5.json");
    const ParseResult r = parse_onionoo_relays(head);
    CHECK(entry_lines(r) == std::vector<std::uint32_t>{10, 11, 60, 61, 152, 202, 246});
    CHECK(quoted(head, r.entries[1]) == "[2a02:810c:82:aa00:be24:11ff:fe7f:e9a3]:9006");
    CHECK(format_range(r.entries[1].range) == "2a02:810c:82:aa00:be24:11ff:fe7f:e9a3");
    CHECK(format_range(r.entries[2].range) == "204.8.96.141");

    // One relay per line: entries on the relay's line.
    const std::string ex = read_repo_file("tests/data/feeds/tor-onionoo/details-running-relays.excerpt40.json");
    const ParseResult rx = parse_onionoo_relays(ex);
    CHECK(rx.entries[0].line == 5);
    CHECK(rx.entries[1].line == 5);
    CHECK(quoted(ex, rx.entries[2]) == "204.8.96.141:444");
    CHECK(rx.entries.back().line == 44);
    // The exit parser finds nothing in a document without exit_addresses.
    const ParseResult none = parse_onionoo_exit(ex);
    CHECK(none.entries.empty());
    CHECK(none.rejects.empty());
}

TEST_CASE("onionoo: malformed documents, relays and addresses") {
    SUBCASE("wrong shapes") {
        for (const ParserFn parse : {&parse_onionoo_exit, &parse_onionoo_relays}) {
            check_issues(parse("{\"version\": \"8.0\", \"bridges\": []}").rejects, {{1, "missing relays array"}});
            check_issues(parse("[]").rejects, {{1, "JSON root is not an object"}});
            check_issues(parse("{\"relays\": \"\"}").rejects, {{1, "relays is not an array"}});
            check_issues(parse("{\"relays\": [[], 5]}").rejects,
                         {{1, "relay is not an object"}, {1, "relay is not an object"}});
        }
    }
    SUBCASE("exit addresses") {
        const std::string body =
            "{\"relays\": [\n"                                                       // 1
            "{\"nickname\": \"a\", \"exit_addresses\": [\"185.220.101.1\",\n"        // 2
            "  \"2001:db8::1\", \"185.220.101.0/24\", \"185.220.101.1:443\",\n"       // 3
            "  \" 185.220.101.2 \", 185, \"\"]},\n"                                  // 4
            "{\"nickname\": \"b\"},\n"                                               // 5 no list: fine
            "{\"nickname\": \"c\", \"exit_addresses\": \"185.220.101.3\"},\n"        // 6
            "{\"nickname\": \"d\", \"exit_addresses\": []}\n"                        // 7
            "],\n"                                                                   // 8
            "\"bridges\": [{\"exit_addresses\": [\"9.9.9.9\"]}]}\n";                // 9 not read
        const ParseResult r = parse_onionoo_exit(body);
        check_json_invariants(body, r);
        CHECK(entry_lines(r) == std::vector<std::uint32_t>{2, 3, 4});
        CHECK(entry_texts(body, r) == std::vector<std::string>{"185.220.101.1", "2001:db8::1", " 185.220.101.2 "});
        CHECK(r.entries[2].range == Range{ip_of("185.220.101.2"), ip_of("185.220.101.2")});
        check_issues(r.rejects, {
                                    {3, reason(IpError::junk)},
                                    {3, reason(IpError::junk)},
                                    {4, "address is not a string"},
                                    {4, reason(IpError::empty)},
                                    {6, "exit_addresses is not an array"},
                                });
        CHECK(r.rejects[0].text == "185.220.101.0/24");
        CHECK(r.warnings.empty());
    }
    SUBCASE("OR addresses") {
        const std::string body =
            "{\"relays\": [\n"                                                    // 1
            "{\"or_addresses\": [\"91.66.247.27:9006\", \"[2620:7:6003::141]:81\"]},\n"  // 2
            "{\"or_addresses\": [\"91.66.247.27\"]},\n"                           // 3 no port
            "{\"or_addresses\": [\"2620:7:6003::141:81\"]},\n"                     // 4 no brackets
            "{\"or_addresses\": [\"[2620:7:6003::141]\"]},\n"                      // 5 no port
            "{\"or_addresses\": [\"[2620:7:6003::141:81\"]},\n"                    // 6 no ']'
            "{\"or_addresses\": [\"91.66.247.27:65536\"]},\n"                      // 7 port too large
            "{\"or_addresses\": [\"91.66.247.27:\"]},\n"                           // 8
            "{\"or_addresses\": [\"91.66.247.27:9o01\"]},\n"                       // 9
            "{\"or_addresses\": [\"91.66.247.270:9001\"]},\n"                      // 10 bad address
            "{\"or_addresses\": [\"[zz::1]:9001\", \"0.0.0.0:0\", \"[::]:65535\"]},\n"  // 11
            "{\"or_addresses\": {\"a\": \"1.2.3.4:1\"}},\n"                        // 12
            "{\"or_addresses\": [[\"1.2.3.4:1\"], null]},\n"                       // 13
            "{\"exit_addresses\": [\"1.2.3.4\"]}\n"                               // 14 not read here
            "]}";
        const ParseResult r = parse_onionoo_relays(body);
        check_json_invariants(body, r);
        CHECK(entry_lines(r) == std::vector<std::uint32_t>{2, 2, 11, 11});
        CHECK(format_range(r.entries[1].range) == "2620:7:6003::141");
        CHECK(format_range(r.entries[2].range) == "0.0.0.0");
        CHECK(format_range(r.entries[3].range) == "::");
        check_issues(r.rejects, {
                                    {3, "or_address is not address:port"},
                                    {4, "or_address is not address:port"},
                                    {5, "or_address is not address:port"},
                                    {6, "or_address is not address:port"},
                                    {7, "or_address is not address:port"},
                                    {8, "or_address is not address:port"},
                                    {9, "or_address is not address:port"},
                                    {10, reason(IpError::octet_range)},
                                    {11, reason(IpError::junk)},
                                    {12, "or_addresses is not an array"},
                                    {13, "address is not a string"},
                                    {13, "address is not a string"},
                                });
        CHECK(r.rejects[0].text == "91.66.247.27");
        CHECK(r.rejects[7].text == "91.66.247.270:9001");
    }
}

// ---------------------------------------------------------------------------
TEST_CASE("every JSON format: HTML pages, truncated downloads, trailing garbage") {
    for (const JsonFormat& f : kJsonFormats) {
        CAPTURE(f.name);
        SUBCASE("an HTML error page") {
            const std::string body = "<!DOCTYPE html>\n<html><head><title>503 Service Unavailable</title></head></html>\n";
            const ParseResult r = f.parse(body);
            CHECK(r.entries.empty());
            check_issues(r.rejects, {{1, "not JSON: Invalid value."}});
            CHECK(r.rejects[0].text == "<!DOCTYPE html>");
        }
        SUBCASE("an empty body and a blank one") {
            check_issues(f.parse("").rejects, {{1, "not JSON: The document is empty."}});
            check_issues(f.parse("\n\n \r\n").rejects, {{4, "not JSON: The document is empty."}});
        }
        SUBCASE("cut inside the string of an entry") {
            const std::string full = read_repo_file(f.sample);
            const ParseResult whole = f.parse(full);
            REQUIRE(whole.entries.size() >= 2);
            const ParsedEntry& mid = whole.entries[whole.entries.size() / 2];
            const std::string body = full.substr(0, mid.text_offset + mid.text_length / 2);
            const ParseResult r = f.parse(body);
            CHECK(r.entries.empty());
            CHECK(r.warnings.empty());
            check_issues(r.rejects, {{mid.line, "not JSON: Missing a closing quotation mark in string."}});
        }
        SUBCASE("cut after an entry: every complete entry is still dropped") {
            const std::string full = read_repo_file(f.sample);
            const ParseResult whole = f.parse(full);
            const ParsedEntry& last = whole.entries.back();
            const std::string body = full.substr(0, last.text_offset + last.text_length + 1);
            const ParseResult r = f.parse(body);
            CHECK(r.entries.empty());
            REQUIRE(r.rejects.size() == 1);
            CHECK(r.rejects[0].line == last.line);
            CHECK(r.rejects[0].reason.rfind("not JSON: ", 0) == 0);
        }
        SUBCASE("a second document after the first") {
            const std::string full = read_repo_file(f.sample);
            const std::string body = full + "\n<html>";
            const ParseResult r = f.parse(body);
            CHECK(r.entries.empty());
            check_issues(r.rejects, {{line_of(body, body.size()),
                                      "not JSON: The document root must not be followed by other values."}});
        }
        SUBCASE("a NUL byte after the document") {
            const std::string body = read_repo_file(f.sample) + "\n\0{}"s;
            const ParseResult r = f.parse(body);
            CHECK(r.entries.empty());
            REQUIRE(r.rejects.size() == 1);
            CHECK(r.rejects[0].reason == "not JSON: NUL byte in document");
        }
    }
}

TEST_CASE("every JSON format stops at max_entries, and a minified document has no line limit") {
    for (const JsonFormat& f : kJsonFormats) {
        CAPTURE(f.name);
        const std::string full = read_repo_file(f.sample);
        const ParseResult whole = f.parse(full);
        REQUIRE(whole.entries.size() >= 2);
        CHECK_FALSE(whole.over_max_entries);

        // One entry kept; the second string read is the reject, and the
        // reader stops there: what follows (here, garbage that would void
        // the document) is never read.
        ParseOptions o;
        o.max_entries = 1;
        const ParsedEntry& second = whole.entries[1];
        const std::string body = full.substr(0, second.text_offset + second.text_length + 1) + "<html>";
        const ParseResult r = f.parse(body, o);
        CHECK(r.over_max_entries);
        REQUIRE(r.entries.size() == 1);
        CHECK(r.entries[0].text_offset == whole.entries[0].text_offset);
        REQUIRE_FALSE(r.rejects.empty());
        CHECK(r.rejects.back().reason == "more entries than max_entries");
        CHECK(r.rejects.back().line == second.line);
        CHECK(r.rejects.back().text == quoted(full, second));
        check_json_invariants(body, r);

        // As many entries as the limit: not over it.
        o.max_entries = whole.entries.size();
        const ParseResult exact = f.parse(full, o);
        CHECK_FALSE(exact.over_max_entries);
        CHECK(same(exact, whole));

        // max_line_bytes does not apply to documents: the sample on one line
        // (its line breaks made blanks) parses the same entries.
        std::string one_line = full;
        std::replace(one_line.begin(), one_line.end(), '\n', ' ');
        std::replace(one_line.begin(), one_line.end(), '\r', ' ');
        ParseOptions tiny;
        tiny.max_line_bytes = 16;
        const ParseResult flat = f.parse(one_line, tiny);
        CHECK(flat.entries.size() == whole.entries.size());
        CHECK(flat.rejects.size() == whole.rejects.size());
    }
}

TEST_CASE("every JSON format: deep nesting and long lines stay cheap") {
    // The document's own list inside a member nobody reads, nested deep.
    const std::size_t depth = 200000;
    const std::string deep = std::string(depth, '[') + std::string(depth, ']');
    struct Doc {
        ParserFn parse;
        std::string body;  // "DEEP" is replaced by the nesting
    };
    const Doc docs[] = {
        {&parse_google_ip_ranges, "{\"syncToken\": DEEP,\n\"prefixes\": [{\"ipv4Prefix\": \"8.8.8.0/24\", \"x\": DEEP}]}"},
        {&parse_azure_service_tags,
         "{\"values\": [{\"id\": DEEP, \"properties\": {\"x\": DEEP,\n\"addressPrefixes\": [\"8.8.8.0/24\"]}}]}"},
        {&parse_oracle_ip_ranges, "{\"regions\": [{\"cidrs\": [{\"tags\": DEEP,\n\"cidr\": \"8.8.8.0/24\"}]}]}"},
        {&parse_onionoo_exit, "{\"bridges\": DEEP, \"relays\": [{\"flags\": DEEP,\n\"exit_addresses\": [\"8.8.8.0\"]}]}"},
        {&parse_onionoo_relays, "{\"relays\": [{\"exit_policy\": DEEP,\n\"or_addresses\": [\"8.8.8.0:443\"]}]}"},
        {&parse_aws_ip_ranges, "{\"syncToken\": DEEP, \"ipv6_prefixes\": [],\n\"prefixes\": [{\"ip_prefix\": \"8.8.8.0/24\"}]}"},
    };
    for (const Doc& d : docs) {
        std::string body = d.body;
        for (std::size_t at = body.find("DEEP"); at != std::string::npos; at = body.find("DEEP")) body.replace(at, 4, deep);
        const ParseResult r = d.parse(body);
        CHECK(r.rejects.empty());
        REQUIRE(r.entries.size() == 1);
        CHECK(r.entries[0].line == 2);
        CHECK(r.entries[0].range.first == ip_of("8.8.8.0"));
        const ParseResult open = d.parse(std::string(depth, '['));
        CHECK(open.entries.empty());
        CHECK(open.rejects.size() == 1);
    }

    // A minified document: one line, many bad elements. Each reject quotes
    // the start of its line only when that is near; the run stays linear.
    const std::size_t n = 100000;
    std::string body = "{\"prefixes\": [";
    for (std::size_t k = 0; k < n; ++k) body += k ? ",{}" : "{}";
    body += "]}";
    const ParseResult r = parse_google_ip_ranges(body);
    REQUIRE(r.rejects.total() == n);
    REQUIRE(r.rejects.size() == IssueList::kKept);
    CHECK(r.rejects.front().text.rfind("{\"prefixes\": [{},{}", 0) == 0);
    // Far from the line start (the last reject, 300 KB in), a reject quotes
    // from its element: the search for the line start is bounded, so quoting
    // stays linear overall (scanning back to the line start every time would
    // be quadratic).
    CHECK(r.rejects.back().text == "{}]}");
    for (const auto& i : r.rejects) REQUIRE(i.line == 1);
}

// ---------------------------------------------------------------------------
TEST_CASE("snapshot additions read by plain: FireHOL tor_exits and X4BNet datacenter") {
    struct Sample {
        const char* file;
        std::size_t entries;
    };
    for (const Sample s : {Sample{"data/snapshot/firehol/tor_exits.ipset", 809},
                           Sample{"data/snapshot/x4bnet/datacenter-ipv4.txt", 42566}}) {
        CAPTURE(s.file);
        const std::string body = read_repo_file(s.file);
        const ParseResult r = parse_plain(body);
        CHECK(r.rejects.empty());
        CHECK(r.warnings.empty());
        // Independent: the lines that are neither empty nor '#' comments.
        const auto lines = split_lines(body);
        std::vector<std::uint32_t> want;
        for (std::size_t k = 0; k < lines.size(); ++k)
            if (!lines[k].empty() && lines[k][0] != '#') want.push_back(static_cast<std::uint32_t>(k + 1));
        CHECK(want.size() == s.entries);
        REQUIRE(entry_lines(r) == want);
        for (const auto& e : r.entries) REQUIRE(e.range == range_of(lines[e.line - 1]));
    }
    // The FireHOL header states its own entry count.
    const std::string tor = read_repo_file("data/snapshot/firehol/tor_exits.ipset");
    CHECK(contains(tor, "\n# Entries         : 809 unique IPs\n"));
}

// ---------------------------------------------------------------------------
TEST_CASE("every JSON format survives random bytes and mutated real samples") {
    // Small valid documents cut from the real samples (closing brackets added).
    auto cut_after = [](const std::string& full, std::string_view needle, std::size_t nth, std::string_view close) {
        std::size_t at = 0;
        for (std::size_t k = 0; k < nth; ++k) at = full.find(needle, at) + 1;
        REQUIRE(at != 0);
        return full.substr(0, at - 1 + needle.size()) + std::string(close);
    };
    std::vector<std::string> samples = {
        read_repo_file("data/snapshot/google/goog.json"),
        read_repo_file("data/snapshot/tor/onionoo-details-head5.json"),
        read_repo_file("tests/data/feeds/tor-onionoo/details-running-relays.excerpt40.json"),
        cut_after(read_repo_file("data/snapshot/google/cloud.json"), "\"\n  }", 30, "]\n}\n"),
        cut_after(read_repo_file("data/snapshot/oracle/public_ip_ranges.json"), "]\n                }", 25,
                  "\n            ]\n        }\n    ]\n}\n"),
        cut_after(read_repo_file("data/snapshot/azure/ServiceTags_Public.excerpt.json"), "/30\"", 25,
                  "\r\n        ]\r\n      }\r\n    }\r\n  ]\r\n}"),
        cut_after(read_repo_file("data/snapshot/aws/ip-ranges.json"), "\"\n    }", 25,
                  "\n  ],\n  \"ipv6_prefixes\": [{\"ipv6_prefix\": \"2600:1f69:7400::/40\"}]\n}"),
    };
    for (const std::string& sample : samples) {
        // Valid for its own format: some format reads it whole.
        bool read = false;
        for (const JsonFormat& f : kJsonFormats) {
            const ParseResult r = f.parse(sample);
            check_json_invariants(sample, r);
            read = read || (r.rejects.empty() && r.entries.size() >= 2);
        }
        REQUIRE(read);
    }

    FeedNoise noise(20250725, "0123456789abcdef.:/-[]{},\" \t\r\n\\u\0\x80\xEF\xBB\xBFxtrue"sv);
    std::size_t accepted = 0;
    auto run = [&](const std::string& body) {
        for (const JsonFormat& f : kJsonFormats) {
            CAPTURE(f.name);
            CAPTURE(body);
            const ParseResult a = f.parse(body);
            check_json_invariants(body, a);
            REQUIRE(same(a, f.parse(body)));  // deterministic
            accepted += a.entries.size();
        }
    };
    for (int round = 0; round < 300; ++round) run(noise.random_body(400));
    // Structure-aware noise: random JSON-ish token soup that often parses.
    static constexpr std::string_view kTokens[] = {
        "{", "}", "[", "]", ",", ":", "\"relays\"", "\"prefixes\"", "\"values\"", "\"properties\"",
        "\"addressPrefixes\"", "\"regions\"", "\"cidrs\"", "\"cidr\"", "\"ipv4Prefix\"", "\"ipv6Prefix\"",
        "\"ip_prefix\"", "\"exit_addresses\"", "\"or_addresses\"", "\"1.2.3.0/24\"", "\"2001:db8::/32\"",
        "\"1.2.3.4:80\"", "\"[::1]:1\"", "\"1.2.3.4\"", "0", "null", "\n", " "};
    for (int round = 0; round < 600; ++round) {
        std::string body;
        for (std::size_t k = noise.uniform(60); k > 0; --k) body += kTokens[noise.uniform(std::size(kTokens))];
        run(body);
    }
    for (int round = 0; round < 1500; ++round) run(noise.mutate(samples[noise.uniform(samples.size())], 6));
    CHECK(accepted > 1000);  // the mutations left many documents valid
}
