// Seen dates and confidence (docs/FORMAT.md, "Seen dates and confidence"):
// the first-seen rows a build carries over (builder/history.hpp) against a
// per-address brute force, the confidence and last-seen days the reader
// derives (ColdData::assess, explain, AssessmentTable) against an oracle
// written from FORMAT.md's table, verify on files whose first_seen lies,
// and `anondb build --previous` over four nightly snapshot builds, read
// back through lookup --json, explain --json and the MMDB export
// (libmaxminddb).
#include <doctest/doctest.h>

#include <maxminddb.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "anondb/builder/history.hpp"
#include "anondb/seen.hpp"
#include "test_db.hpp"

using namespace anondb;
using namespace anondb::test;
namespace fs = std::filesystem;

namespace {

constexpr std::int64_t kDay = 86400;

// ---- the confidence oracle, from FORMAT.md's words ---------------------------------

// "| a direct entry | 60 | 45 | 30 | 15 |" and "| only ASN-derived | 30 | 22 |
// 15 | 7 |" over ages 0-1, 2-7, 8-30, older; typed here from the table, not
// taken from seen.hpp.
unsigned table_weight(bool direct, std::int64_t age) {
    const int column = age <= 1 ? 0 : age <= 7 ? 1 : age <= 30 ? 2 : 3;
    static const unsigned kDirect[] = {60, 45, 30, 15}, kDerived[] = {30, 22, 15, 7};
    return direct ? kDirect[column] : kDerived[column];
}

struct WantAssessment {
    bool flagged = false;
    std::uint32_t last_seen = 0, earliest = 0;
    unsigned confidence = 0;
};

// An address's evidence rows read off `t` (never the file), then the rule:
// each feed's strongest row, the largest weight plus half of each other
// one, 1 to 99.
WantAssessment want_at(const Content& t, Ip a) {
    std::map<std::uint32_t, bool> feeds;  // feed -> direct
    for (const auto& r : t.rows) {
        if (!r.range.contains(a)) continue;
        const std::uint32_t f = t.c.origins[r.origin].feed;
        feeds[f] = feeds[f] || !t.is_asn_list(f);
    }
    WantAssessment w;
    if (feeds.empty()) return w;
    w.flagged = true;
    const std::int64_t build_day = t.c.build_time / kDay;
    std::vector<unsigned> weights;
    w.earliest = 0xFFFFFFFF;
    for (const auto& [f, direct] : feeds) {
        const std::int64_t day = std::min(t.c.feeds[f].fetched_at / kDay, build_day);
        w.last_seen = std::max<std::uint32_t>(w.last_seen, static_cast<std::uint32_t>(day));
        w.earliest = std::min<std::uint32_t>(w.earliest, static_cast<std::uint32_t>(day));
        weights.push_back(table_weight(direct, build_day - day));
    }
    std::sort(weights.rbegin(), weights.rend());
    unsigned sum = weights[0];
    for (std::size_t i = 1; i < weights.size(); ++i) sum += weights[i] / 2;
    w.confidence = std::clamp(sum, 1u, 99u);
    return w;
}

// Random fetch times: today, this week, this month, older, and one clock
// ahead of the build (which counts as the build day).
void random_fetch_times(std::mt19937_64& rng, Content& t) {
    for (auto& f : t.c.feeds) {
        const std::int64_t ages[] = {0, 1, 2, 7, 8, 30, 31, 400};
        const std::int64_t age = below(rng, 9) == 0 ? -3 : ages[below(rng, std::size(ages))];
        f.fetched_at = t.c.build_time - age * kDay - static_cast<std::int64_t>(below(rng, kDay));
    }
}

// Probe addresses: every row's ends and their neighbours.
std::vector<Ip> probes_of(const Content& t) {
    std::set<Ip> out;
    for (const auto& r : t.rows)
        for (const Ip a : {r.range.first, r.range.last}) {
            out.insert(a);
            if (a != kIpMin) out.insert(ip_prev(a));
            if (a != kIpMax) out.insert(ip_next(a));
        }
    return {out.begin(), out.end()};
}

// ---- the first-seen brute force ------------------------------------------------------

// A window of addresses, each with its first-seen day or none.
using Days = std::vector<std::optional<std::uint32_t>>;

Days expand(const std::vector<writer::FirstSeenInfo>& rows, Ip base, std::size_t n) {
    Days out(n);
    for (std::size_t i = 0; i < n; ++i) {
        const Ip a = ip_add(base, i);
        for (const auto& r : rows)
            if (r.range.contains(a)) {
                REQUIRE_MESSAGE(!out[i], "address " << format_ip(a) << " in two rows");
                out[i] = r.day;
            }
    }
    return out;
}

void check_rows_shape(const std::vector<writer::FirstSeenInfo>& rows) {
    for (std::size_t i = 1; i < rows.size(); ++i) {
        CHECK(rows[i - 1].range.last < rows[i].range.first);  // sorted, disjoint
        const bool touching = ip_next(rows[i - 1].range.last) == rows[i].range.first;
        CHECK_MESSAGE(!(touching && rows[i - 1].day == rows[i].day), "rows not maximal at " << format_range(rows[i].range));
    }
}

// A file's bytes kept 8-byte aligned, opened.
struct Opened {
    std::vector<std::uint64_t> storage;
    std::optional<Database> db;
    explicit Opened(const std::vector<std::byte>& bytes) {
        storage.resize((bytes.size() + 7) / 8);
        std::memcpy(storage.data(), bytes.data(), bytes.size());
        auto d = Database::from_bytes({reinterpret_cast<const std::byte*>(storage.data()), bytes.size()});
        REQUIRE_MESSAGE(d, (d ? "" : d.error().message));
        db.emplace(std::move(*d));
    }
};

}  // namespace

// ---- first_seen_rows ---------------------------------------------------------------------

TEST_CASE("first_seen_rows: every address against a brute force, with and without a previous database") {
    std::mt19937_64 rng(20261205);
    const Ip base = Ip::from_v4(0x0a000000);
    constexpr std::size_t kWindow = 96;
    for (int round = 0; round < 400; ++round) {
        CAPTURE(round);
        Content t({}, {"a", "b", "c", "d"}, {3});
        random_fetch_times(rng, t);
        // Rows inside the window (addresses 8..87), so its edges stay unflagged.
        for (std::size_t k = below(rng, 12); k > 0; --k) {
            const std::uint64_t first = 8 + below(rng, 80);
            const std::uint64_t last = std::min<std::uint64_t>(87, first + below(rng, 20));
            const std::uint32_t feed = static_cast<std::uint32_t>(below(rng, 4));
            t.add_entry(format_range({ip_add(base, first), ip_add(base, last)}), feed, 1, 0, feed == 3 ? 64500 : 0);
        }
        t.merge();
        // A previous database's rows: random days on random runs of the window.
        std::vector<writer::FirstSeenInfo> previous;
        for (std::uint64_t at = below(rng, 6); at < kWindow; at += 1 + below(rng, 12)) {
            const std::uint64_t end = std::min<std::uint64_t>(kWindow - 1, at + below(rng, 15));
            if (below(rng, 3)) previous.push_back({{ip_add(base, at), ip_add(base, end)}, 20000 + static_cast<std::uint32_t>(below(rng, 700))});
            at = end;
        }
        const bool with_previous = round % 4 != 0;
        const auto rows = builder::first_seen_rows(t.c, with_previous ? previous : std::vector<writer::FirstSeenInfo>{});
        check_rows_shape(rows);
        const Days got = expand(rows, base, kWindow);
        const Days prev = expand(previous, base, kWindow);
        for (std::size_t i = 0; i < kWindow; ++i) {
            const WantAssessment w = want_at(t, ip_add(base, i));
            std::optional<std::uint32_t> want;
            if (w.flagged) {
                want = w.earliest;
                if (with_previous && prev[i]) want = std::min(*want, *prev[i]);
            }
            CHECK_MESSAGE(got[i] == want, "address " << format_ip(ip_add(base, i)));
        }
        // Nothing outside the window.
        for (const auto& r : rows) CHECK((base <= r.range.first && r.range.last <= ip_add(base, kWindow - 1)));
    }
}

TEST_CASE("first_seen_rows: rows across the whole space are what verify accepts") {
    std::mt19937_64 rng(7);
    for (int round = 0; round < 150; ++round) {
        CAPTURE(round);
        Content t({"P", "Q"}, {"a", "b", "c"}, {2});
        random_fetch_times(rng, t);
        t = random_content(rng, std::move(t));
        t.c.first_seen = builder::first_seen_rows(t.c, {});
        check_rows_shape(*t.c.first_seen);
        auto bytes = writer::serialize(t.c);
        REQUIRE_MESSAGE(bytes, (bytes ? "" : bytes.error().message));
        Opened o(*bytes);
        const auto v = verify(*o.db);
        CHECK_MESSAGE(v, (v ? "" : v.error().message));
    }
}

// ---- the reader: assess, explain, AssessmentTable, pieces -----------------------------

TEST_CASE("confidence and last seen: the reader against FORMAT.md's rule on random databases") {
    std::mt19937_64 rng(99);
    std::size_t flagged_probes = 0;
    std::set<unsigned> confidences;
    for (int round = 0; round < 120; ++round) {
        CAPTURE(round);
        Content t({"P", "Q"}, {"a", "b", "c", "d", "e"}, {3, 4});
        random_fetch_times(rng, t);
        t = random_content(rng, std::move(t));
        t.c.first_seen = builder::first_seen_rows(t.c, {});
        OpenedDb o(t);
        const AssessmentTable table(*o.cold);
        for (const Ip a : probes_of(t)) {
            CAPTURE(format_ip(a));
            const WantAssessment w = want_at(t, a);
            const Explanation ex = o.cold->explain(a);
            const AssessmentTable::Entry* e = table.find(a);
            REQUIRE(ex.result.flagged == w.flagged);
            REQUIRE((e != nullptr) == w.flagged);
            if (!w.flagged) {
                CHECK(ex.assessment.confidence == 0);
                CHECK(!ex.first_seen);
                continue;
            }
            ++flagged_probes;
            confidences.insert(w.confidence);
            CHECK(ex.assessment.confidence == w.confidence);
            CHECK(ex.assessment.last_seen == w.last_seen);
            CHECK(e->assessment.confidence == w.confidence);
            CHECK(e->assessment.last_seen == w.last_seen);
            // Without a previous database: the earliest fetch day.
            REQUIRE(ex.first_seen);
            CHECK(*ex.first_seen == w.earliest);
            CHECK(e->first_seen == ex.first_seen);
            CHECK(ex.range.contains(a));
            CHECK(e->range.contains(a));
        }
    }
    CHECK(flagged_probes > 2000);
    CHECK(confidences.size() > 15);  // the rule was exercised, not one value
}

TEST_CASE("confidence: the rules FORMAT.md states") {
    using seen::feed_weight;
    // Direct beats ASN-derived, fresher beats staler, at every age.
    for (std::uint32_t age = 0; age < 500; ++age) {
        CHECK(feed_weight(true, age) > feed_weight(false, age));
        CHECK(feed_weight(true, age + 1) <= feed_weight(true, age));
        CHECK(feed_weight(false, age + 1) <= feed_weight(false, age));
        CHECK(feed_weight(true, age) == table_weight(true, age));
        CHECK(feed_weight(false, age) == table_weight(false, age));
    }
    // One more feed never lowers it; the result stays in 1..99; the order
    // feeds are added in does not matter.
    std::mt19937_64 rng(3);
    for (int round = 0; round < 2000; ++round) {
        std::vector<unsigned> w(1 + below(rng, 6));
        for (auto& x : w) x = feed_weight(below(rng, 2), static_cast<std::uint32_t>(below(rng, 60)));
        seen::ConfidenceSum a, b;
        unsigned before = 0;
        for (const unsigned x : w) {
            a.add(x);
            CHECK(a.value() >= before);
            CHECK(a.value() >= 1);
            CHECK(a.value() <= 99);
            before = a.value();
        }
        std::shuffle(w.begin(), w.end(), rng);
        for (const unsigned x : w) b.add(x);
        CHECK(a.value() == b.value());
    }
    // The examples FORMAT.md gives follow from the table.
    auto conf = [](std::initializer_list<unsigned> ws) {
        seen::ConfidenceSum s;
        for (unsigned x : ws) s.add(x);
        return s.value();
    };
    CHECK(conf({table_weight(true, 0)}) == 60);
    CHECK(conf({table_weight(true, 0), table_weight(true, 1)}) == 90);
    CHECK(conf({table_weight(true, 0), table_weight(false, 0)}) == 75);
    CHECK(conf({table_weight(true, 30)}) == 30);
    CHECK(conf({table_weight(false, 0)}) == 30);
    CHECK(conf({60, 60, 60}) == 99);
}

TEST_CASE("seen::iso_date and day_of") {
    CHECK(seen::iso_date(0) == "1970-01-01");
    CHECK(seen::iso_date(seen::day_of(1767225600)) == "2026-01-01");
    CHECK(seen::iso_date(seen::day_of(951782400)) == "2000-02-29");  // a leap day of a century year
    CHECK(seen::iso_date(seen::day_of(4107542399)) == "2100-02-28");  // 2100 is not a leap year
    CHECK(seen::day_of(-1) == 0);
    CHECK(seen::fetch_day(1767225600 + 5 * kDay, 1767225600) == seen::day_of(1767225600));  // clock ahead
}

// ---- verify: first_seen must hold exactly the flagged addresses ---------------------

TEST_CASE("verify: a first_seen section that leaves out, adds or post-dates an address fails") {
    Content t({}, {"a", "b"});
    t.c.feeds[0].fetched_at = t.c.build_time;
    t.c.feeds[1].fetched_at = t.c.build_time - 10 * kDay;
    t.add_entry("10.0.0.0/24", 0, 1, 0);
    t.add_entry("10.0.1.0/24", 1, 2, 0);
    t.merge();
    const auto good = builder::first_seen_rows(t.c, {});
    REQUIRE(good.size() == 2);
    CHECK(good[0].day == seen::day_of(t.c.build_time));
    CHECK(good[1].day == seen::day_of(t.c.build_time) - 10);
    auto verify_with = [&](std::optional<std::vector<writer::FirstSeenInfo>> rows) {
        t.c.first_seen = std::move(rows);
        auto bytes = writer::serialize(t.c);
        REQUIRE_MESSAGE(bytes, (bytes ? "" : bytes.error().message));
        Opened o(*bytes);
        auto v = verify(*o.db);
        return v ? std::string() : v.error().message;
    };
    CHECK(verify_with(good).empty());
    CHECK(verify_with(std::nullopt).empty());  // a file without the section (as 2.1 wrote)
    {
        auto rows = good;
        rows[1].range.last = ip_prev(rows[1].range.last);  // 10.0.1.255 left out
        const std::string e = verify_with(rows);
        CHECK_MESSAGE(e.find("first_seen") != std::string::npos, e);
        CHECK_MESSAGE(e.find("no first-seen day") != std::string::npos, e);
    }
    {
        auto rows = good;
        rows[1].range.last = ip_of("10.0.2.0");  // an unflagged address
        const std::string e = verify_with(rows);
        CHECK_MESSAGE(e.find("is not flagged but has a first-seen day") != std::string::npos, e);
    }
    {
        auto rows = good;
        rows[1].day += 1;  // after its only feed's fetch day
        const std::string e = verify_with(rows);
        CHECK_MESSAGE(e.find("after it was last seen") != std::string::npos, e);
    }
    {
        auto rows = good;
        std::swap(rows[0], rows[1]);  // the writer refuses rows out of order
        t.c.first_seen = rows;
        CHECK(!writer::serialize(t.c));
    }
}

// ---- anondb build --previous, four nights -------------------------------------------

namespace {

// Two plain snapshot feeds; each night rewrites their lists and dates.
void write_night(const fs::path& dir, const std::string& a_date, const std::string& a_list, const std::string& b_date,
                 const std::string& b_list) {
    fs::create_directories(dir / "snap");
    write_text(dir / "snap/a.txt", a_list);
    write_text(dir / "snap/b.txt", b_list);
    write_text(dir / "feeds.yaml", R"(version: 1
feeds:
  - name: list-a
    url: https://a.example/list.txt
    format: plain
    category: vpn
    license: "test"
    snapshot: snap/a.txt
    snapshot_date: )" + a_date + R"(
  - name: list-b
    url: https://b.example/list.txt
    format: plain
    category: proxy
    license: "test"
    snapshot: snap/b.txt
    snapshot_date: )" + b_date + "\n");
}

struct Seen {
    bool flagged = false;
    std::string first_seen, last_seen;  // "" = null
    unsigned confidence = 0;
};

std::map<std::string, Seen> lookup_json(const fs::path& dir, const std::string& db, const std::vector<std::string>& ips) {
    std::string stdin_text;
    for (const auto& ip : ips) stdin_text += ip + "\n";
    const CliRun r = run_cli(dir, {"lookup", "--db", db, "--json"}, stdin_text);
    REQUIRE_MESSAGE(r.code == 0, r.err);
    std::map<std::string, Seen> out;
    std::istringstream in(r.out);
    for (std::string line; std::getline(in, line);) {
        rapidjson::Document d;
        d.Parse(line.c_str());
        REQUIRE_MESSAGE(!d.HasParseError(), line);
        Seen s;
        s.flagged = d["flagged"].GetBool();
        if (d["first_seen"].IsString()) s.first_seen = d["first_seen"].GetString();
        if (d["last_seen"].IsString()) s.last_seen = d["last_seen"].GetString();
        if (d["confidence"].IsUint()) s.confidence = d["confidence"].GetUint();
        if (!s.flagged) {
            CHECK(d["first_seen"].IsNull());
            CHECK(d["last_seen"].IsNull());
            CHECK(d["confidence"].IsNull());
        }
        out[d["ip"].GetString()] = s;
    }
    REQUIRE(out.size() == ips.size());
    return out;
}

// What libmaxminddb reads in the MMDB export for one address.
Seen mmdb_seen(const std::string& path, const char* ip) {
    MMDB_s db{};
    REQUIRE(MMDB_open(path.c_str(), MMDB_MODE_MMAP, &db) == MMDB_SUCCESS);
    int gai = 0, err = 0;
    auto res = MMDB_lookup_string(&db, ip, &gai, &err);
    REQUIRE(gai == 0);
    REQUIRE(err == MMDB_SUCCESS);
    Seen s;
    s.flagged = res.found_entry;
    if (s.flagged) {
        MMDB_entry_data_s d{};
        auto text = [&](const char* key) {
            if (MMDB_get_value(&res.entry, &d, key, nullptr) != MMDB_SUCCESS || !d.has_data) return std::string();
            REQUIRE(d.type == MMDB_DATA_TYPE_UTF8_STRING);
            return std::string(d.utf8_string, d.data_size);
        };
        s.first_seen = text("network_first_seen");
        s.last_seen = text("network_last_seen");
        REQUIRE(MMDB_get_value(&res.entry, &d, "anonymizer_confidence", nullptr) == MMDB_SUCCESS);
        REQUIRE(d.type == MMDB_DATA_TYPE_UINT16);
        s.confidence = d.uint16;
    }
    MMDB_close(&db);
    return s;
}

}  // namespace

TEST_CASE("anondb build --previous: first seen carries over night to night; a range no feed lists is dropped") {
    const TempDir tmp("anondb-history");
    const fs::path dir = tmp.path;
    const std::vector<std::string> ips = {"81.2.0.1", "81.2.1.1", "81.2.2.1", "81.2.3.1", "81.2.9.1"};

    // Night 1 (2026-01-10): A lists .0 and .1 (fetched that day), B lists
    // .1 and .2 from a copy of 2026-01-05.
    write_night(dir, "2026-01-10", "81.2.0.0/24\n81.2.1.0/24\n", "2026-01-05", "81.2.1.0/24\n81.2.2.0/24\n");
    REQUIRE(run_cli(dir, {"build", "--offline", "--feeds", "feeds.yaml", "-o", "n1.anondb", "--build-time", "2026-01-10"}).code == 0);
    {
        const auto s = lookup_json(dir, "n1.anondb", ips);
        CHECK(s.at("81.2.0.1").first_seen == "2026-01-10");
        CHECK(s.at("81.2.1.1").first_seen == "2026-01-05");  // the earlier of its two feeds
        CHECK(s.at("81.2.1.1").last_seen == "2026-01-10");
        CHECK(s.at("81.2.2.1").first_seen == "2026-01-05");
        CHECK(s.at("81.2.2.1").last_seen == "2026-01-05");
        CHECK(!s.at("81.2.3.1").flagged);
        // A fresh direct list alone; with an agreeing list five days old;
        // that list alone.
        CHECK(s.at("81.2.0.1").confidence == table_weight(true, 0));
        CHECK(s.at("81.2.1.1").confidence == table_weight(true, 0) + table_weight(true, 5) / 2);
        CHECK(s.at("81.2.2.1").confidence == table_weight(true, 5));
    }

    // Night 2 (2026-02-10): A drops .1 and adds .3; B unchanged (its copy is
    // now 36 days old). Built over n1 into the same file name as the
    // previous one: the previous file is read before it is replaced.
    REQUIRE(fs::copy_file(dir / "n1.anondb", dir / "nightly.anondb"));
    write_night(dir, "2026-02-10", "81.2.0.0/24\n81.2.3.0/24\n", "2026-01-05", "81.2.1.0/24\n81.2.2.0/24\n");
    {
        const CliRun r = run_cli(dir, {"build", "--offline", "--feeds", "feeds.yaml", "-o", "nightly.anondb",
                                       "--build-time", "2026-02-10", "--previous", "nightly.anondb"});
        REQUIRE_MESSAGE(r.code == 0, r.err);
        REQUIRE(run_cli(dir, {"verify", "--db", "nightly.anondb"}).code == 0);
        const auto s = lookup_json(dir, "nightly.anondb", ips);
        CHECK(s.at("81.2.0.1").first_seen == "2026-01-10");  // kept
        CHECK(s.at("81.2.0.1").last_seen == "2026-02-10");
        CHECK(s.at("81.2.1.1").first_seen == "2026-01-05");  // still listed by B
        CHECK(s.at("81.2.1.1").last_seen == "2026-01-05");   // by B only now
        CHECK(s.at("81.2.1.1").confidence == table_weight(true, 36));
        CHECK(s.at("81.2.3.1").first_seen == "2026-02-10");  // new tonight
        // Without --previous the same night knows nothing older than its feeds.
        REQUIRE(run_cli(dir, {"build", "--offline", "--feeds", "feeds.yaml", "-o", "fresh.anondb", "--build-time", "2026-02-10"}).code == 0);
        const auto f = lookup_json(dir, "fresh.anondb", ips);
        CHECK(f.at("81.2.0.1").first_seen == "2026-02-10");
        // explain --json says the same as lookup --json.
        const CliRun ex = run_cli(dir, {"explain", "--db", "nightly.anondb", "--json", "81.2.0.1"});
        REQUIRE_MESSAGE(ex.code == 0, ex.err);
        rapidjson::Document d;
        d.Parse(ex.out.c_str());
        REQUIRE(!d.HasParseError());
        CHECK(std::string(d["first_seen"].GetString()) == "2026-01-10");
        CHECK(std::string(d["last_seen"].GetString()) == "2026-02-10");
        CHECK(d["confidence"].GetUint() == table_weight(true, 0));
        // The MMDB export, read by libmaxminddb.
        const CliRun mm = run_cli(dir, {"export", "--db", "nightly.anondb", "--format", "mmdb", "nightly.mmdb"});
        REQUIRE_MESSAGE(mm.code == 0, mm.err);
        for (const char* ip : {"81.2.0.1", "81.2.1.1", "81.2.3.1", "81.2.9.1"}) {
            CAPTURE(ip);
            const Seen m = mmdb_seen((dir / "nightly.mmdb").string(), ip);
            const Seen& l = s.at(ip);
            CHECK(m.flagged == l.flagged);
            CHECK(m.first_seen == l.first_seen);
            CHECK(m.last_seen == l.last_seen);
            CHECK(m.confidence == l.confidence);
        }
    }

    // Night 3 (2026-03-10): B's new copy drops .2. No feed lists it: it is
    // not flagged, whatever the previous file said.
    write_night(dir, "2026-03-10", "81.2.0.0/24\n81.2.3.0/24\n", "2026-03-10", "81.2.1.0/24\n");
    REQUIRE(run_cli(dir, {"build", "--offline", "--feeds", "feeds.yaml", "-o", "nightly.anondb", "--build-time",
                          "2026-03-10", "--previous", "nightly.anondb"}).code == 0);
    {
        const auto s = lookup_json(dir, "nightly.anondb", ips);
        CHECK(!s.at("81.2.2.1").flagged);
        CHECK(s.at("81.2.0.1").first_seen == "2026-01-10");
        CHECK(s.at("81.2.1.1").first_seen == "2026-01-05");
        CHECK(s.at("81.2.1.1").last_seen == "2026-03-10");
    }

    // Night 4 (2026-03-11): .2 is back; its history ended on night 3, so it
    // is new again.
    write_night(dir, "2026-03-11", "81.2.0.0/24\n81.2.3.0/24\n", "2026-03-11", "81.2.1.0/24\n81.2.2.0/24\n");
    REQUIRE(run_cli(dir, {"build", "--offline", "--feeds", "feeds.yaml", "-o", "nightly.anondb", "--build-time",
                          "2026-03-11", "--previous", "nightly.anondb"}).code == 0);
    {
        const auto s = lookup_json(dir, "nightly.anondb", ips);
        CHECK(s.at("81.2.2.1").first_seen == "2026-03-11");
        CHECK(s.at("81.2.0.1").first_seen == "2026-01-10");
    }

    // A previous file that is not a database fails the build before
    // anything is written.
    write_text(dir / "junk.anondb", "not a database");
    const CliRun bad = run_cli(dir, {"build", "--offline", "--feeds", "feeds.yaml", "-o", "out.anondb", "--previous", "junk.anondb"});
    CHECK(bad.code != 0);
    CHECK_MESSAGE(bad.err.find("--previous junk.anondb") != std::string::npos, bad.err);
    CHECK(!fs::exists(dir / "out.anondb"));
}

TEST_CASE("previous_first_seen: a file without first-seen days counts its flagged addresses as seen on its build day") {
    const TempDir tmp("anondb-history");
    Content t({}, {"a"});
    t.c.feeds[0].fetched_at = t.c.build_time - 40 * kDay;
    t.add_entry("10.0.0.0/24", 0, 1, 0);
    t.add_entry("2001:db8::/32", 0, 1, 0);
    t.merge();
    auto bytes = writer::serialize(t.c);  // first_seen unset: no section
    REQUIRE(bytes);
    const std::string path = (tmp.path / "old.anondb").string();
    REQUIRE(writer::write_file_atomic(path, *bytes));
    const auto rows = builder::previous_first_seen(path);
    REQUIRE_MESSAGE(rows, (rows ? "" : rows.error().message));
    REQUIRE(rows->size() == 2);
    CHECK((*rows)[0].range == range_of("10.0.0.0/24"));
    CHECK((*rows)[1].range == range_of("2001:db8::/32"));
    for (const auto& r : *rows) CHECK(r.day == seen::day_of(t.c.build_time));
}
