// feeds.yaml: the repository's catalogue loads and names files that exist;
// every kind of mistake is an error naming the file, the line and the feed;
// parse_time / format_time against the C library's calendar.
#include <doctest/doctest.h>

#include <stdlib.h>
#include <time.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "anondb/builder/catalogue.hpp"
#include "anondb/category.hpp"
#include "anondb/sources/parse.hpp"
#include "test_util.hpp"

using namespace anondb;
using namespace anondb::builder;
using namespace anondb::test;
namespace fs = std::filesystem;

namespace {

const std::string kPath = "conf/feeds.yaml";  // as a caller would name it; snapshots resolve under conf/

// 1-based number of the first line containing `needle`, from the text itself.
int line_of(std::string_view text, std::string_view needle, int nth = 1) {
    const auto lines = split_lines(text);
    for (std::size_t i = 0; i < lines.size(); ++i)
        if (contains(lines[i], needle) && --nth == 0) return static_cast<int>(i + 1);
    FAIL("test bug: '" << needle << "' not in the YAML");
    return 0;
}

// A valid two-feed catalogue; the cases below break one thing in it.
const std::string kValid = R"(# a comment
version: 1
feeds:
  - name: alpha
    url: https://example.org/a.txt
    format: plain
    category: vpn
    license: "CC0"
    snapshot: data/a.txt
    snapshot_date: 2024-03-12
  - name: beta.v2_x-y
    url: http://example.org/b.json
    format: aws-ip-ranges
    category: [hosting, proxy]
    provider: Beta Cloud
    license: "Published by Beta"
    description: second feed
    snapshot: data/b.json
    snapshot_date: 2024-03-12T14:00:00Z
)";

std::string replace(std::string text, std::string_view from, std::string_view to) {
    const auto pos = text.find(from);
    REQUIRE_MESSAGE(pos != std::string::npos, "test bug: '" << from << "' not in the YAML");
    text.replace(pos, from.size(), to);
    return text;
}

// The catalogue must be refused with "PATH:LINE: " (LINE = the line holding
// `at`, found in the text) and every one of `words` in the message.
void expect_error(const std::string& yaml, std::string_view at, std::initializer_list<std::string_view> words, int nth = 1) {
    const int line = line_of(yaml, at, nth);
    auto cat = parse_catalogue(yaml, kPath);
    INFO("YAML:\n" << yaml);
    REQUIRE_FALSE(cat.has_value());
    const std::string& msg = cat.error().message;
    CHECK(cat.error().status == Status::invalid_argument);
    const std::string where = kPath + ":" + std::to_string(line) + ": ";
    CHECK_MESSAGE(contains(msg, where), "'" << where << "' not in: " << msg);
    for (auto w : words) CHECK_MESSAGE(contains(msg, w), "'" << w << "' not in: " << msg);
}

}  // namespace

TEST_CASE("the repository's feeds.yaml loads and every snapshot it names exists") {
    const std::string path = kRepo + "/feeds.yaml";
    auto cat = load_catalogue(path);
    REQUIRE_MESSAGE(cat, cat.error().message);
    CHECK(cat->path == path);

    // Independent reading of the same file: feeds start at "  - name: X";
    // within a feed, "    snapshot: " and "    snapshot_date: " lines.
    struct Scanned {
        std::string name;
        int line = 0;
        std::string snapshot;
        std::string date;
    };
    std::vector<Scanned> scanned;
    const auto lines = split_lines<std::string>(read_text(path));
    for (std::size_t i = 0; i < lines.size(); ++i) {
        const std::string& l = lines[i];
        if (l.rfind("  - name: ", 0) == 0) scanned.push_back({l.substr(10), static_cast<int>(i + 1), "", ""});
        else if (!scanned.empty() && l.rfind("    snapshot: ", 0) == 0) scanned.back().snapshot = l.substr(14);
        else if (!scanned.empty() && l.rfind("    snapshot_date: ", 0) == 0) scanned.back().date = l.substr(19);
    }
    REQUIRE(scanned.size() >= 5);
    REQUIRE(cat->feeds.size() == scanned.size());

    std::set<std::string> names;
    for (std::size_t i = 0; i < scanned.size(); ++i) {
        const FeedConfig& f = cat->feeds[i];
        INFO("feed " << scanned[i].name);
        CHECK(f.name == scanned[i].name);
        CHECK(f.line == scanned[i].line);
        CHECK(names.insert(f.name).second);
        // Range feeds and ASN lists publish, so they have categories; ASN
        // tables and exclusion lists do not.
        const bool publishes = f.role == anondb::format::FeedRole::ranges || f.role == anondb::format::FeedRole::asn_list;
        CHECK((f.categories != 0) == publishes);
        CHECK((f.categories & ~kAllCategories) == 0);
        CHECK(role_of_format(f.format) == f.role);
        CHECK((f.role != anondb::format::FeedRole::ranges || sources::find_format(f.format) != nullptr));
        // Live URLs, or lists kept in this repository (file:// relative to feeds.yaml).
        const bool in_repo = f.url.rfind("file://", 0) == 0;
        CHECK((f.url.rfind("https://", 0) == 0 || f.url.rfind("http://", 0) == 0 || in_repo));
        if (in_repo) {
            CHECK(f.fetch_url == "file://" + (fs::path(kRepo) / f.url.substr(7)).lexically_normal().string());
            CHECK(f.url.substr(7) == f.snapshot);  // the snapshot is the list itself
        }
        CHECK_FALSE(f.license.empty());
        CHECK(f.min_entries <= f.max_entries);
        // Offline builds need every feed's snapshot, and it must be there:
        // in the repository, or installed by a Debian package (.ci/deps.sh).
        REQUIRE_FALSE(scanned[i].snapshot.empty());
        CHECK(f.snapshot == scanned[i].snapshot);
        if (scanned[i].snapshot.rfind("/usr/share/", 0) == 0)
            CHECK(f.snapshot_path == scanned[i].snapshot);
        else
            CHECK(fs::path(f.snapshot_path) == fs::path(kRepo) / scanned[i].snapshot);
        CHECK_MESSAGE(fs::is_regular_file(f.snapshot_path), f.snapshot_path << " does not exist");
        CHECK(fs::file_size(f.snapshot_path) > 0);
        if (scanned[i].date.empty()) {
            CHECK_FALSE(f.snapshot_date.has_value());
        } else {
            int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
            const int n = std::sscanf(scanned[i].date.c_str(), "%d-%d-%dT%d:%d:%dZ", &y, &mo, &d, &h, &mi, &s);
            REQUIRE((n == 3 || n == 6));
            REQUIRE(f.snapshot_date.has_value());
            CHECK(*f.snapshot_date == utc(y, mo, d, h, mi, s));
        }
    }
}

TEST_CASE("a valid catalogue: every field as written") {
    auto cat = parse_catalogue(kValid, kPath);
    REQUIRE_MESSAGE(cat, cat.error().message);
    REQUIRE(cat->feeds.size() == 2);
    const FeedConfig& a = cat->feeds[0];
    const FeedConfig& b = cat->feeds[1];
    CHECK(a.name == "alpha");
    CHECK(a.line == line_of(kValid, "name: alpha"));
    CHECK(a.url == "https://example.org/a.txt");
    CHECK(a.format == "plain");
    CHECK(a.categories == kVpn);
    CHECK(a.provider.empty());
    CHECK(a.license == "CC0");
    CHECK(a.snapshot == "data/a.txt");
    CHECK(fs::path(a.snapshot_path) == fs::path("conf/data/a.txt"));
    REQUIRE(a.snapshot_date.has_value());
    CHECK(*a.snapshot_date == utc(2024, 3, 12));

    CHECK(b.name == "beta.v2_x-y");
    CHECK(b.line == line_of(kValid, "name: beta"));
    CHECK(b.categories == (kHosting | kProxy));
    CHECK(b.provider == "Beta Cloud");
    CHECK(b.description == "second feed");
    REQUIRE(b.snapshot_date.has_value());
    CHECK(*b.snapshot_date == utc(2024, 3, 12, 14));

    // Optional keys may be left out; a file:// URL is accepted.
    const std::string minimal = "version: 1\nfeeds:\n  - name: m\n    url: file:///srv/m.txt\n    format: geofeed\n"
                                "    category: relay\n    license: x\n";
    auto m = parse_catalogue(minimal, kPath);
    REQUIRE_MESSAGE(m, m.error().message);
    CHECK(m->feeds[0].snapshot.empty());
    CHECK(m->feeds[0].snapshot_path.empty());
    CHECK_FALSE(m->feeds[0].snapshot_date.has_value());
    CHECK(m->feeds[0].categories == kRelay);
}

TEST_CASE("catalogue errors name the file, the line and the feed") {
    SUBCASE("unknown key") {
        expect_error(replace(kValid, "    provider: Beta Cloud\n", "    provider: Beta Cloud\n    homepage: https://b\n"),
                     "homepage:", {"feed 'beta.v2_x-y'", "unknown key 'homepage'"});
    }
    SUBCASE("a provider name that is not UTF-8") {
        expect_error(replace(kValid, "    provider: Beta Cloud\n", "    provider: Beta \xC3\x28" "Cloud\n"),
                     "provider: Beta", {"feed 'beta.v2_x-y'", "'provider' is not valid UTF-8"});
    }
    SUBCASE("a key given twice") {
        expect_error(replace(kValid, "    format: aws-ip-ranges\n", "    format: aws-ip-ranges\n    url: https://other\n"),
                     "url: https://other", {"feed 'beta.v2_x-y'", "duplicate key 'url'"});
    }
    SUBCASE("unknown format") {
        expect_error(replace(kValid, "format: aws-ip-ranges", "format: csv-magic"), "csv-magic",
                     {"feed 'beta.v2_x-y'", "unknown format 'csv-magic'", "plain", "geofeed"});
    }
    SUBCASE("unknown category, in a list and alone") {
        expect_error(replace(kValid, "category: [hosting, proxy]", "category: [hosting, anonymizer]"), "anonymizer",
                     {"feed 'beta.v2_x-y'", "unknown category 'anonymizer'", "tor_exit"});
        expect_error(replace(kValid, "category: vpn", "category: darknet"), "darknet",
                     {"feed 'alpha'", "unknown category 'darknet'"});
        expect_error(replace(kValid, "category: [hosting, proxy]", "category: []"), "category: []",
                     {"feed 'beta.v2_x-y'", "'category' is empty"});
    }
    SUBCASE("missing url, format, category, license") {
        for (std::string_view key : {"url", "format", "category", "license"}) {
            // Drop the key's line from the second feed.
            std::string yaml = kValid;
            const auto feed = yaml.find("- name: beta");
            const auto pos = yaml.find("    " + std::string(key) + ":", feed);
            REQUIRE(pos != std::string::npos);
            yaml.erase(pos, yaml.find('\n', pos) + 1 - pos);
            INFO("missing " << key);
            expect_error(yaml, "- name: beta", {"feed 'beta.v2_x-y'", "missing '" + std::string(key) + "'"});
        }
    }
    SUBCASE("empty or non-string values") {
        expect_error(replace(kValid, "url: http://example.org/b.json", "url: \"\""), "url: \"\"",
                     {"feed 'beta.v2_x-y'", "'url' must be a non-empty string"});
        expect_error(replace(kValid, "format: plain", "format: [plain]"), "format: [plain]",
                     {"feed 'alpha'", "'format' must be a non-empty string"});
        expect_error(replace(kValid, "provider: Beta Cloud", "provider: {name: x}"), "provider: {",
                     {"feed 'beta.v2_x-y'", "'provider' must be a string"});
        expect_error(replace(kValid, "license: \"CC0\"", "license: \"\""), "- name: alpha",
                     {"feed 'alpha'", "missing 'license'"});
    }
    SUBCASE("bad url scheme") {
        for (std::string_view url : {"ftp://example.org/b.json", "example.org/b.json", "https://", "javascript:alert(1)"}) {
            expect_error(replace(kValid, "http://example.org/b.json", url), "url: ",
                         {"feed 'beta.v2_x-y'", "url must start with"}, 2);
        }
    }
    SUBCASE("duplicate names") {
        expect_error(replace(kValid, "name: beta.v2_x-y", "name: alpha"), "name: alpha", {"feed 'alpha'", "duplicate name"}, 2);
    }
    SUBCASE("bad name characters") {
        for (std::string_view name : {"Beta", "beta feed", "beta/evil", "b\xc3\xa9ta", "\"\""}) {
            const std::string bad(name);
            INFO("name " << bad);
            expect_error(replace(kValid, "name: beta.v2_x-y", "name: " + bad), "name: " + bad, {"feed name", "a-z 0-9"});
        }
        const std::string long_name(65, 'a');
        expect_error(replace(kValid, "name: beta.v2_x-y", "name: " + long_name), long_name, {"'" + long_name + "'", "1-64"});
        expect_error(replace(kValid, "name: beta.v2_x-y", "name: Beta"), "name: Beta", {"'Beta'"});
        expect_error(replace(kValid, "  - name: beta.v2_x-y\n", "  - label: beta\n"), "label: beta", {"without a 'name'"});
    }
    SUBCASE("bad snapshot_date") {
        for (std::string_view date : {"2024-13-01", "yesterday", "2024-02-30", "2024-03-12T25:00:00Z", "2024-03-12 14:00"}) {
            INFO("date " << date);
            expect_error(replace(kValid, "snapshot_date: 2024-03-12T14:00:00Z", "snapshot_date: " + std::string(date)),
                         date, {"feed 'beta.v2_x-y'", "snapshot_date"});
        }
    }
    SUBCASE("absolute or ../ snapshot paths") {
        for (std::string_view snap : {"/etc/passwd", "../outside/b.json", "data/../../b.json", ".."}) {
            INFO("snapshot " << snap);
            expect_error(replace(kValid, "snapshot: data/b.json", "snapshot: " + std::string(snap)),
                         "snapshot: " + std::string(snap), {"feed 'beta.v2_x-y'", "snapshot must be a relative path"});
        }
    }
    SUBCASE("text that is not YAML") {
        // yaml-cpp's own position for these: the line of the fault.
        expect_error(replace(kValid, "    license: \"CC0\"\n", "\tlicense: \"CC0\"\n"), "\tlicense", {"not valid YAML"});
        expect_error(replace(kValid, "url: https://example.org/a.txt", "url: a: b"), "url: a: b", {"not valid YAML"});
        expect_error("{{{{ not yaml", "{{{{", {"not valid YAML"});
    }
    SUBCASE("wrong or missing version") {
        expect_error(replace(kValid, "version: 1", "version: 2"), "version: 2", {"'version: 1' is required"});
        expect_error(replace(kValid, "version: 1\n", ""), "feeds:", {"'version: 1' is required"});
        expect_error(replace(kValid, "version: 1\n", "version: 1\nversion: 1\n"), "version: 1", {"duplicate top-level key"}, 2);
    }
    SUBCASE("empty or misshapen feeds") {
        expect_error("version: 1\nfeeds: []\n", "version", {"'feeds' must be a non-empty list"});
        expect_error("version: 1\nfeeds:\n", "version", {"'feeds' must be a non-empty list"});
        expect_error("version: 1\nfeeds: {name: a}\n", "version", {"'feeds' must be a non-empty list"});
        expect_error("version: 1\n", "version", {"'feeds' must be a non-empty list"});
        expect_error("version: 1\nfeeds:\n  - just-a-string\n", "just-a-string", {"a feed must be a mapping"});
        expect_error("- a\n- b\n", "- a", {"top level must be a mapping"});
        expect_error(replace(kValid, "version: 1", "version: 1\nmirrors: none"), "mirrors", {"unknown top-level key 'mirrors'"});
    }
}

TEST_CASE("load_catalogue: reads a file, a missing file is an I/O error naming it") {
    const TempDir tmp("anondb-cat");
    const fs::path& dir = tmp.path;

    const auto missing = (dir / "nope.yaml").string();
    auto m = load_catalogue(missing);
    REQUIRE_FALSE(m.has_value());
    CHECK(m.error().status == Status::io);
    CHECK(contains(m.error().message, missing));

    const auto good = (dir / "feeds.yaml").string();
    std::ofstream(good) << kValid;
    auto g = load_catalogue(good);
    REQUIRE_MESSAGE(g, g.error().message);
    CHECK(fs::path(g->feeds[1].snapshot_path) == dir / "data/b.json");

    const auto bad = (dir / "bad.yaml").string();
    const std::string text = replace(kValid, "format: plain", "format: nope");
    std::ofstream(bad) << text;
    auto b = load_catalogue(bad);
    REQUIRE_FALSE(b.has_value());
    CHECK(contains(b.error().message, bad + ":" + std::to_string(line_of(text, "format: nope")) + ": feed 'alpha'"));
}

TEST_CASE("format_time agrees with gmtime, parse_time inverts it") {
    std::mt19937_64 rng(42);
    // 0000-01-01T00:00:00Z .. 9999-12-31T23:59:59Z: the range of four-digit years.
    std::uniform_int_distribution<std::int64_t> any(-62167219200, 253402300799);
    std::uniform_int_distribution<std::int64_t> recent(0, 4102444800);  // 1970 .. 2100
    auto check = [](std::int64_t t) {
        const time_t tt = static_cast<time_t>(t);
        struct tm tm {};
        REQUIRE(::gmtime_r(&tt, &tm) != nullptr);
        char want[64];
        std::snprintf(want, sizeof want, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                      tm.tm_hour, tm.tm_min, tm.tm_sec);
        INFO("t = " << t);
        const std::string got = format_time(t);
        CHECK(got == want);
        const auto back = parse_time(got);
        REQUIRE(back.has_value());
        CHECK(*back == t);
        // The date alone is midnight of that day.
        const auto day = parse_time(got.substr(0, 10));
        REQUIRE(day.has_value());
        CHECK(*day == t - (tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec));
    };
    for (int i = 0; i < 5000; ++i) check(any(rng));
    for (int i = 0; i < 5000; ++i) check(recent(rng));
    for (std::int64_t t : {std::int64_t{0}, std::int64_t{-1}, std::int64_t{86399}, std::int64_t{86400},
                           std::int64_t{951782400} /* 2000-02-29 */, std::int64_t{-62167219200}, std::int64_t{253402300799}})
        check(t);
}

TEST_CASE("parse_time: the accepted forms") {
    CHECK(parse_time("2024-03-12") == utc(2024, 3, 12));
    CHECK(parse_time("2024-03-12T14:00:00Z") == utc(2024, 3, 12, 14));
    CHECK(parse_time("1970-01-01T00:00:00Z") == 0);
    CHECK(parse_time("2024-02-29") == utc(2024, 2, 29));  // leap year
    CHECK(parse_time("2000-02-29") == utc(2000, 2, 29));  // divisible by 400
    CHECK(parse_time("1999-12-31T23:59:59Z") == utc(1999, 12, 31, 23, 59, 59));
    // Unix seconds, as digits.
    CHECK(parse_time("0") == 0);
    CHECK(parse_time("1710252000") == 1710252000);
    CHECK(parse_time("999999999999") == 999999999999);
    CHECK(parse_time("2024") == 2024);  // digits alone are always Unix seconds, never a year

    // Random valid civil times against timegm.
    std::mt19937 rng(7);
    static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    for (int i = 0; i < 3000; ++i) {
        const int y = 1900 + static_cast<int>(rng() % 300), mo = 1 + static_cast<int>(rng() % 12);
        const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        const int d = 1 + static_cast<int>(rng() % (kDays[mo - 1] + (mo == 2 && leap)));
        const int h = static_cast<int>(rng() % 24), mi = static_cast<int>(rng() % 60), s = static_cast<int>(rng() % 60);
        char text[32];
        std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02dZ", y, mo, d, h, mi, s);
        INFO(text);
        CHECK(parse_time(text) == utc(y, mo, d, h, mi, s));
    }
}

TEST_CASE("parse_time: malformed text is refused") {
    for (std::string_view bad :
         {"", " ", "2024-03", "2024-3-12", "2024-03-1", "24-03-12", "2024/03/12", "2024-03-12 ", " 2024-03-12",
          "2024-03-12T14:00:00", "2024-03-12T14:00Z", "2024-03-12 14:00:00Z", "2024-03-12t14:00:00z",
          "2024-03-12T14:00:00+01", "2024-00-10", "2024-13-01", "2024-01-00", "2024-01-32", "2023-02-29", "1900-02-29",
          "2024-04-31", "2024-06-31", "2024-09-31", "2024-11-31", "2024-03-12T24:00:00Z", "2024-03-12T14:60:00Z",
          "2024-03-12T14:00:61Z", "20x4-03-12", "2024-0a-12", "-1", "+5", "1e9", "0x10", "1234567890123", "12 34",
          "2024-03-12Z", "yesterday"}) {
        INFO("'" << bad << "'");
        CHECK_FALSE(parse_time(bad).has_value());
    }
}

namespace {

// An ASN table, an ASN list expanded through it, and an exclusion list.
const std::string kAsnFeeds = R"(version: 1
feeds:
  - name: table
    url: https://example.org/location.db.xz
    format: libloc
    license: "CC BY-SA 4.0"
    snapshot: /usr/share/libloc-location/location.db
  - name: providers
    url: file://lists/providers.csv
    format: provider-asns
    asn_table: table
    category: [vpn, hosting]
    license: "ours"
    snapshot: lists/providers.csv
  - name: dc
    url: https://example.org/ASN.txt
    format: asn-list
    asn_table: table
    category: hosting
    license: MIT
    max_breadth_v4: 12
  - name: excl
    url: https://example.org/exclusions.csv
    format: exclusions
    license: "ours"
)";

}  // namespace

TEST_CASE("ASN feeds: the role comes from the format, lists name their table") {
    auto cat = parse_catalogue(kAsnFeeds, kPath);
    REQUIRE_MESSAGE(cat, cat.error().message);
    REQUIRE(cat->feeds.size() == 4);
    const auto& table = cat->feeds[0];
    const auto& providers = cat->feeds[1];
    const auto& dc = cat->feeds[2];
    const auto& excl = cat->feeds[3];
    CHECK(table.role == format::FeedRole::asn_table);
    CHECK(table.categories == 0);
    CHECK(table.snapshot_path == "/usr/share/libloc-location/location.db");  // a Debian-installed file, as is
    CHECK(providers.role == format::FeedRole::asn_list);
    CHECK(providers.asn_table == "table");
    CHECK(providers.categories == (kVpn | kHosting));
    // A relative file:// URL is a list kept beside the catalogue.
    CHECK(providers.url == "file://lists/providers.csv");
    CHECK(providers.fetch_url == "file://" + fs::absolute("conf/lists/providers.csv").lexically_normal().string());
    CHECK_FALSE(providers.guard_set);
    CHECK(dc.role == format::FeedRole::asn_list);
    CHECK(dc.guard_set);
    CHECK(dc.guard.broadest_v4 == 12);
    CHECK(excl.role == format::FeedRole::exclusions);
    CHECK(excl.categories == 0);

    CHECK(role_of_format("plain") == format::FeedRole::ranges);
    CHECK(role_of_format("pfx2as") == format::FeedRole::asn_table);
    CHECK(role_of_format("iptoasn") == format::FeedRole::asn_table);
    CHECK(role_of_format("mmdb-asn") == format::FeedRole::asn_table);
    CHECK(role_of_format("asn-csv") == format::FeedRole::asn_list);
    CHECK_FALSE(role_of_format("libloc2").has_value());
}

TEST_CASE("ASN feeds: errors name the file, the line and the feed") {
    expect_error(replace(kAsnFeeds, "    asn_table: table\n    category: hosting\n", "    category: hosting\n"), "name: dc",
                 {"feed 'dc'", "needs 'asn_table'"});
    expect_error(replace(kAsnFeeds, "asn_table: table\n    category: hosting", "asn_table: nowhere\n    category: hosting"),
                 "asn_table: nowhere", {"feed 'dc'", "'nowhere' is not an ASN table feed"});
    expect_error(replace(kAsnFeeds, "asn_table: table\n    category: hosting", "asn_table: excl\n    category: hosting"),
                 "asn_table: excl", {"feed 'dc'", "'excl' is not an ASN table feed"});
    expect_error(replace(kAsnFeeds, "    format: exclusions\n", "    format: exclusions\n    asn_table: table\n"),
                 "asn_table: table", {"feed 'excl'", "only for ASN list formats"}, 3);
    expect_error(replace(kAsnFeeds, "    format: libloc\n", "    format: libloc\n    category: vpn\n"), "category: vpn",
                 {"feed 'table'", "publishes nothing itself"});
    expect_error(replace(kAsnFeeds, "    format: exclusions\n", "    format: exclusions\n    provider: X\n"), "provider: X",
                 {"feed 'excl'", "publishes nothing itself"});
    expect_error(replace(kAsnFeeds, "    category: hosting\n", ""), "name: dc", {"feed 'dc'", "missing 'category'"});
    for (std::string_view snap : {"/usr/share/../etc/passwd", "/usr/local/share/x.db", "/usr/sharex/x.db"}) {
        INFO("snapshot " << snap);
        expect_error(replace(kAsnFeeds, "snapshot: /usr/share/libloc-location/location.db", "snapshot: " + std::string(snap)),
                     "snapshot: " + std::string(snap), {"feed 'table'", "under /usr/share/"});
    }
}

TEST_CASE("resource limits: max_line_bytes, max_entries and max_total_entries as written, and their defaults") {
    auto d = parse_catalogue(kValid, kPath);
    REQUIRE_MESSAGE(d, d.error().message);
    CHECK(d->max_total_entries == 10'000'000);
    CHECK(d->max_total_entries == kDefaultMaxTotalEntries);
    for (const FeedConfig& f : d->feeds) {
        CHECK(f.max_line_bytes == 65536);
        CHECK(f.max_entries == 5'000'000);
        const sources::ParseOptions o = parse_options(f);
        CHECK(o.max_line_bytes == 65536);
        CHECK(o.max_entries == 5'000'000);
    }

    std::string yaml = replace(kValid, "version: 1\n", "version: 1\nmax_total_entries: 1234567\n");
    yaml = replace(yaml, "    snapshot: data/a.txt\n",
                   "    snapshot: data/a.txt\n    max_line_bytes: 1MiB\n    max_entries: 20000\n    min_entries: 20000\n");
    yaml = replace(yaml, "    provider: Beta Cloud\n", "    provider: Beta Cloud\n    max_entries: 1\n    min_entries: 0\n");
    auto c = parse_catalogue(yaml, kPath);
    REQUIRE_MESSAGE(c, c.error().message);
    CHECK(c->max_total_entries == 1234567);
    CHECK(c->feeds[0].max_line_bytes == 1u << 20);
    CHECK(c->feeds[0].max_entries == 20000);
    CHECK(c->feeds[0].min_entries == 20000);  // equal to max_entries is allowed
    CHECK(parse_options(c->feeds[0]).max_line_bytes == 1u << 20);
    CHECK(parse_options(c->feeds[0]).max_entries == 20000);
    CHECK(c->feeds[1].max_entries == 1);
    CHECK(c->feeds[1].max_line_bytes == 65536);

    // In bytes, KiB or GiB; every ASN and exclusion text format is a line format.
    for (const char* format : {"plain", "tor-exit-addresses", "geofeed"}) {
        const std::string y = replace(replace(kValid, "format: plain", std::string("format: ") + format),
                                      "    snapshot: data/a.txt\n", "    snapshot: data/a.txt\n    max_line_bytes: 200\n");
        auto g = parse_catalogue(y, kPath);
        REQUIRE_MESSAGE(g, g.error().message);
        CHECK(g->feeds[0].max_line_bytes == 200);
    }
    const std::string asn = replace(replace(kAsnFeeds, "    format: exclusions\n", "    format: exclusions\n    max_line_bytes: 1GiB\n"),
                                    "    max_breadth_v4: 12\n", "    max_breadth_v4: 12\n    max_line_bytes: 4KiB\n    max_entries: 100\n");
    auto a = parse_catalogue(asn, kPath);
    REQUIRE_MESSAGE(a, a.error().message);
    CHECK(a->feeds[2].max_line_bytes == 4096);
    CHECK(a->feeds[2].max_entries == 100);
    CHECK(a->feeds[3].max_line_bytes == 1u << 30);
}

TEST_CASE("resource limits: bad values are errors naming the file, the line and the feed") {
    const std::string alpha = "    snapshot: data/a.txt\n";
    for (std::string_view bad : {"0", "-1", "64kib", "1.5MiB", "lots", "5GiB", "4294967297", "\"\"", "[1]"}) {
        INFO("max_line_bytes " << bad);
        expect_error(replace(kValid, alpha, alpha + "    max_line_bytes: " + std::string(bad) + "\n"), "max_line_bytes:",
                     {"feed 'alpha'", "max_line_bytes"});
    }
    for (std::string_view bad : {"0", "-5", "1MiB", "4294967296", "5e6", "many", "{a: 1}"}) {
        INFO("max_entries " << bad);
        expect_error(replace(kValid, alpha, alpha + "    max_entries: " + std::string(bad) + "\n"), "max_entries:",
                     {"feed 'alpha'", "max_entries"});
    }
    expect_error(replace(kValid, alpha, alpha + "    max_entries: 0\n"), "max_entries:",
                 {"feed 'alpha'", "max_entries must be a whole number from 1 to 4294967295"});
    // A feed that must have more entries than it may have.
    expect_error(replace(kValid, alpha, alpha + "    min_entries: 100\n    max_entries: 99\n"), "max_entries: 99",
                 {"feed 'alpha'", "min_entries 100 is above max_entries 99"});
    expect_error(replace(kValid, alpha, alpha + "    min_entries: 6000000\n"), "min_entries: 6000000",
                 {"feed 'alpha'", "min_entries 6000000 is above max_entries 5000000"});
    // JSON documents and databases have no line limit to set.
    expect_error(replace(kValid, "    provider: Beta Cloud\n", "    provider: Beta Cloud\n    max_line_bytes: 1MiB\n"),
                 "max_line_bytes:", {"feed 'beta.v2_x-y'", "'max_line_bytes' is only for line formats", "aws-ip-ranges"});
    expect_error(replace(kAsnFeeds, "    format: libloc\n", "    format: libloc\n    max_line_bytes: 100\n"),
                 "max_line_bytes:", {"feed 'table'", "only for line formats", "'libloc'"});
    // The top-level total.
    for (std::string_view bad : {"0", "4294967296", "50M", "-1", "[1]", "\"\""}) {
        INFO("max_total_entries " << bad);
        expect_error(replace(kValid, "version: 1\n", "version: 1\nmax_total_entries: " + std::string(bad) + "\n"),
                     "max_total_entries", {"max_total_entries must be a whole number from 1 to 4294967295"});
    }
    expect_error(replace(kValid, "version: 1\n", "version: 1\nmax_total_entries: 10\nmax_total_entries: 10\n"),
                 "max_total_entries", {"duplicate top-level key 'max_total_entries'"}, 2);
    expect_error(replace(kValid, "version: 1\n", "version: 1\nmax_entries: 10\n"), "max_entries",
                 {"unknown top-level key 'max_entries'"});
}
