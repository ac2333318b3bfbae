// Live builds end to end: the real pipeline fetching real snapshot files
// from an HTTP server this test starts on 127.0.0.1, with faults injected
// per feed. Each case asserts what the published database and the report say.
#include <doctest/doctest.h>

#include <unistd.h>

#include <httplib.h>

#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include <rapidjson/document.h>

#include "anondb/builder/asn_expand.hpp"
#include "anondb/builder/pipeline.hpp"
#include "anondb/explain.hpp"
#include "anondb/reader.hpp"
#include "test_util.hpp"

using namespace anondb;
using namespace anondb::builder;
using namespace anondb::test;

namespace {

// What the server answers for one path.
enum class Fault { none, html, shrink, not_found, server_error, truncated, stall };

// A feed server on 127.0.0.1 with ETag revalidation and per-path faults.
class FeedServer {
public:
    FeedServer() {
        server_.Get(R"(/(.+))", [this](const httplib::Request& req, httplib::Response& res) { serve(req, res); });
        port_ = server_.bind_to_any_port("127.0.0.1");
        REQUIRE(port_ > 0);
        thread_ = std::thread([this] { server_.listen_after_bind(); });
        for (int i = 0; i < 500 && !server_.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(2));
        REQUIRE(server_.is_running());
    }
    ~FeedServer() { stop(); }
    void stop() {
        server_.stop();
        if (thread_.joinable()) thread_.join();
    }
    std::string url(const std::string& name) const { return "http://127.0.0.1:" + std::to_string(port_) + "/" + name; }
    void put(const std::string& name, std::string body) {
        std::lock_guard lock(mu_);
        files_[name] = std::move(body);
    }
    void fault(const std::string& name, Fault f) {
        std::lock_guard lock(mu_);
        faults_[name] = f;
    }
    int bodies_sent() const { return bodies_; }
    int not_modified() const { return not_modified_; }

private:
    void serve(const httplib::Request& req, httplib::Response& res) {
        const std::string name = req.matches[1];
        std::optional<std::string> file;
        Fault fault = Fault::none;
        {
            std::lock_guard lock(mu_);  // not held while answering: a stalled feed must not stall the others
            if (const auto it = files_.find(name); it != files_.end()) file = it->second;
            if (const auto it = faults_.find(name); it != faults_.end()) fault = it->second;
        }
        if (!file || fault == Fault::not_found) {
            res.status = 404;
            res.set_content("not found", "text/plain");
            return;
        }
        if (fault == Fault::server_error) {
            res.status = 500;
            res.set_content("internal error", "application/octet-stream");
            return;
        }
        if (fault == Fault::stall) std::this_thread::sleep_for(std::chrono::milliseconds(1500));
        std::string body = std::move(*file);
        if (fault == Fault::truncated) {
            // Promise the whole body, send half, drop the connection.
            res.set_content_provider(body.size(), "application/octet-stream",
                                     [body](std::size_t, std::size_t, httplib::DataSink& sink) {
                                         sink.write(body.data(), body.size() / 2);
                                         return false;
                                     });
            return;
        }
        if (fault == Fault::html) body = "<!DOCTYPE html>\n<html><body><h1>Service Unavailable</h1>1.2.3.4</body></html>\n";
        if (fault == Fault::shrink) body = body.substr(0, body.size() / 10);
        if (fault == Fault::shrink) body = body.substr(0, body.rfind('\n') + 1);
        const std::string etag = "\"" + sha256_hex(sources::sha256(body)).substr(0, 16) + "\"";
        res.set_header("ETag", etag);
        if (req.get_header_value("If-None-Match") == etag) {
            ++not_modified_;
            res.status = 304;
            return;
        }
        ++bodies_;
        // Not text/*: cpp-httplib would brotli-compress it at maximum quality, slowly.
        res.set_content(body, "application/octet-stream");
    }

    httplib::Server server_;
    std::thread thread_;
    int port_ = 0;
    std::mutex mu_;
    std::map<std::string, std::string> files_;
    std::map<std::string, Fault> faults_;
    std::atomic<int> bodies_{0};
    std::atomic<int> not_modified_{0};
};

struct Fixture {
    TempDir dir{"anondb-live"};
    FeedServer server;
    std::string tor_text, aws_text, v6_text;
    std::map<std::string, std::string> extra;  // more keys for a feed, by name ("    key: value\n")
    std::string top;                           // top-level keys after version

    Fixture() {
        tor_text = read_text(kRepo + "/data/snapshot/tor/torbulkexitlist");
        aws_text = read_text(kRepo + "/data/snapshot/aws/ip-ranges.json");
        v6_text = read_text(kRepo + "/data/snapshot/x4bnet/vpn-ipv6.txt");
        server.put("tor.txt", tor_text);
        server.put("aws.json", aws_text);
        server.put("vpn6.txt", v6_text);
        server.put("poison.txt", "# a poisoned list\n0.0.0.0/0\n10.0.0.0/8\n198.51.100.0/24\n5.6.7.8\n");
        write_catalogue(false);
    }

    void write_catalogue(bool extra_optional) {
        std::string y = "version: 1\n" + top + "feeds:\n";
        auto feed = [&](const char* name, const std::string& url, const char* format, const char* cat,
                        const std::string& keys) {
            y += std::string("  - name: ") + name + "\n    url: " + url + "\n    format: " + format +
                 "\n    category: " + cat + "\n    license: test\n" + keys + extra[name];
        };
        feed("tor", server.url("tor.txt"), "plain", "tor_exit", "    min_entries: 100\n");
        feed("aws", server.url("aws.json"), "aws-ip-ranges", "hosting", "    provider: Amazon Web Services\n");
        feed("vpn6", server.url("vpn6.txt"), "plain", "vpn", "");
        // Hosting allows a /8, so 10.0.0.0/8 meets the reserved-space guard rather than the breadth one.
        feed("poison", server.url("poison.txt"), "plain", "hosting", "");
        if (extra_optional) feed("gone", server.url("gone.txt"), "plain", "proxy", "    optional: true\n");
        write_text(dir.path / "feeds.yaml", y);
    }

    BuildOptions options(const std::string& out = "db.anondb") const {
        BuildOptions o;
        o.feeds_path = (dir.path / "feeds.yaml").string();
        o.out_path = (dir.path / out).string();
        o.cache_dir = (dir.path / "cache").string();
        o.report_path = (dir.path / "report.json").string();
        o.build_time = 1795305600;  // 2026-11-22
        o.fetch.total_timeout = std::chrono::seconds(5);
        o.fetch.connect_timeout = std::chrono::seconds(2);
        o.fetch.max_attempts = 2;
        o.fetch.first_backoff = std::chrono::milliseconds(20);
        return o;
    }
    std::string bytes(const std::string& name = "db.anondb") const { return read_text(dir.path / name); }
};

const FeedReport& feed(const BuildReport& r, const std::string& name) {
    for (const auto& f : r.feeds)
        if (f.name == name) return f;
    FAIL("no feed " << name);
    throw 0;
}

// The first address of the first AWS ip_prefix in the served JSON.
std::string first_aws_address(const std::string& json) {
    const auto k = json.find("\"ip_prefix\": \"");
    REQUIRE(k != std::string::npos);
    const auto start = k + 14;
    const std::string prefix = json.substr(start, json.find('"', start) - start);
    return format_ip(range_of(prefix).first);
}

}  // namespace

TEST_CASE("live build: fresh, then all 304 with identical bytes, guards keep poison out and the report names the lines") {
    Fixture fx;
    auto first = run_build(fx.options());
    REQUIRE_MESSAGE(first, first.error().message);
    for (const char* name : {"tor", "aws", "vpn6", "poison"}) CHECK(feed(*first, name).status == "fresh");
    CHECK(first->stale_feeds == 0);
    CHECK(fx.server.bodies_sent() == 4);

    // Guards: the /0 and 10/8 and documentation lines are rejected with their line numbers.
    const auto& poison = feed(*first, "poison");
    CHECK(poison.accepted == 1);
    std::map<std::uint32_t, std::string> rejected_lines;
    for (const auto& r : poison.first_rejects) rejected_lines[r.line] = r.reason;
    CHECK(rejected_lines.at(2) == "IPv4 entry broader than /8");
    CHECK(rejected_lines.at(3).rfind("reserved: private-use 10.0.0.0/8", 0) == 0);
    CHECK(rejected_lines.at(4).rfind("reserved: documentation 198.51.100.0/24", 0) == 0);
    auto db = Database::open(fx.options().out_path);
    REQUIRE(db);
    for (const char* a : {"10.1.2.3", "0.0.0.1", "198.51.100.1", "192.168.0.1", "11.0.0.1"}) CHECK_MESSAGE(!db->lookup(ip_of(a)).flagged, a);
    CHECK(db->lookup(ip_of("5.6.7.8")).categories == kHosting);
    const auto aws_ip = first_aws_address(fx.aws_text);
    CHECK(db->lookup(ip_of(aws_ip)).provider == "Amazon Web Services");

    // The report file holds the same story.
    rapidjson::Document report;
    const std::string report_text = read_text(fx.options().report_path);
    report.Parse(report_text.c_str());
    REQUIRE(report.IsObject());
    CHECK(report["feeds"].Size() == 4);
    for (const auto& f : report["feeds"].GetArray()) {
        if (std::string(f["name"].GetString()) != "poison") continue;
        std::set<unsigned> lines;
        for (const auto& g : f["guard_rejects"].GetArray()) lines.insert(g["line"].GetUint());
        CHECK(lines == std::set<unsigned>{2, 3, 4});
    }

    // Second run: nothing changed, so every feed answers 304 and the bytes are identical.
    const std::string bytes1 = fx.bytes();
    auto second = run_build(fx.options());
    REQUIRE_MESSAGE(second, second.error().message);
    CHECK(fx.server.bodies_sent() == 4);  // no new bodies
    CHECK(fx.server.not_modified() == 4);
    for (const char* name : {"tor", "aws", "vpn6", "poison"}) CHECK(feed(*second, name).status == "cached");
    CHECK(fx.bytes() == bytes1);
}

TEST_CASE("live build: a feed turned into an HTML page or shrunk by 90% is published from its last good copy, stale") {
    Fixture fx;
    REQUIRE(run_build(fx.options()));
    const auto aws_ip = first_aws_address(fx.aws_text);

    fx.server.fault("aws.json", Fault::html);
    fx.server.fault("tor.txt", Fault::shrink);
    auto r = run_build(fx.options());
    REQUIRE_MESSAGE(r, r.error().message);
    CHECK(r->stale_feeds == 2);
    const auto& aws = feed(*r, "aws");
    CHECK(aws.status == "stale");
    CHECK(contains(aws.failure, "HTML"));
    CHECK(aws.fetch.stale);
    const auto& tor = feed(*r, "tor");
    CHECK(tor.status == "stale");
    CHECK(contains(tor.failure, "under 50% of the last good copy"));
    CHECK(feed(*r, "vpn6").status == "cached");

    // The database still answers from the last good copies, and says they are stale.
    auto db = Database::open(fx.options().out_path);
    REQUIRE(db);
    CHECK(db->lookup(ip_of(aws_ip)).provider == "Amazon Web Services");
    const std::string some_exit(fx.tor_text.substr(fx.tor_text.rfind('\n', fx.tor_text.size() - 2) + 1));
    CHECK((db->lookup(ip_of(some_exit.substr(0, some_exit.find_first_of("\r\n")))).categories & kTorExit) != 0);
    int stale = 0;
    for (const auto& f : db->feeds()) stale += (f.flags & format::kFeedStale) != 0;
    CHECK(stale == 2);
    auto cold = ColdData::load(*db);
    REQUIRE(cold);
    CHECK(contains(cold->metadata_json(), "\"stale_feeds\":2"));

    // --strict: the same faults fail the build and the published file stays as it was.
    const std::string before = fx.bytes();
    BuildOptions strict = fx.options();
    strict.strict = true;
    strict.build_time += 86400;
    auto s = run_build(strict);
    REQUIRE_FALSE(s);
    CHECK(contains(s.error().message, "--strict"));
    CHECK(contains(s.error().message, "feed 'aws'"));
    CHECK(fx.bytes() == before);
}

TEST_CASE("live build: with the server gone, every feed comes from its last good copy") {
    Fixture fx;
    REQUIRE(run_build(fx.options()));
    const std::string fresh_bytes = fx.bytes();
    fx.server.stop();
    auto r = run_build(fx.options("after.anondb"));
    REQUIRE_MESSAGE(r, r.error().message);
    CHECK(r->stale_feeds == 4);
    for (const auto& f : r->feeds) {
        CHECK(f.status == "stale");
        CHECK_FALSE(f.failure.empty());
    }
    auto db = Database::open(fx.options("after.anondb").out_path);
    REQUIRE(db);
    auto before = Database::from_bytes(std::as_bytes(std::span(fresh_bytes.data(), fresh_bytes.size())));
    REQUIRE(before);
    // The same partition as the fresh build: every feed's last good entries are in.
    CHECK(db->v4_segment_count() == before->v4_segment_count());
    CHECK(db->v6_segment_count() == before->v6_segment_count());
    CHECK(db->answer_count() == before->answer_count());
    for (const auto& f : db->feeds()) CHECK((f.flags & format::kFeedStale) != 0);

    // `anondb info` says so, feed by feed.
    const CliRun info = run_cli(fx.dir.path, {"info", "-d", fx.options("after.anondb").out_path});
    INFO(info.err);
    REQUIRE(info.code == 0);
    const auto lines = split_lines<std::string>(info.out);
    for (const char* name : {"tor", "aws", "vpn6", "poison"}) {
        bool stale_line = false;
        for (const auto& l : lines) stale_line |= l.rfind(std::string(name) + " ", 0) == 0 && contains(l, "STALE");
        CHECK_MESSAGE(stale_line, name);
    }
}

TEST_CASE("live build: a required feed with no good copy fails the build, an optional one is left out") {
    Fixture fx;
    fx.write_catalogue(true);  // adds 'gone' (optional, 404)
    auto r = run_build(fx.options());
    REQUIRE_MESSAGE(r, r.error().message);
    CHECK(r->omitted_feeds == 1);
    CHECK(feed(*r, "gone").status == "failed");
    CHECK(contains(feed(*r, "gone").failure, "404"));

    // A required feed that was never fetched successfully: no database at all.
    fx.server.fault("vpn6.txt", Fault::not_found);
    auto fresh = fx.options("other.anondb");
    fresh.cache_dir = (fx.dir.path / "empty-cache").string();
    auto f = run_build(fresh);
    REQUIRE_FALSE(f);
    CHECK(contains(f.error().message, "feed 'vpn6'"));
    CHECK(contains(f.error().message, "404"));
    CHECK_FALSE(std::filesystem::exists(fresh.out_path));
}

TEST_CASE("live build: 404, 500, a cut-off body, a stall and an oversized body each leave the feed stale, not lost") {
    struct Case {
        const char* name;
        Fault fault;
        const char* failure;  // part of the recorded reason
        std::uint64_t max_bytes = 64ull << 20;
    };
    const Case cases[] = {
        {"404", Fault::not_found, "HTTP 404"},
        {"500", Fault::server_error, "HTTP 500"},
        {"cut-off body", Fault::truncated, "connection closed"},
        {"stall", Fault::stall, "timeout"},
        {"oversized", Fault::none, "body over", 100000},
    };
    for (const Case& c : cases) {
        CAPTURE(c.name);
        Fixture fx;
        REQUIRE(run_build(fx.options()));
        const auto aws_ip = first_aws_address(fx.aws_text);
        // Change the feed so the server has a new body to send, then break it.
        fx.server.put("aws.json", fx.aws_text + "\n");
        fx.server.fault("aws.json", c.fault);
        BuildOptions o = fx.options();
        o.fetch.total_timeout = std::chrono::seconds(1);
        if (c.max_bytes != (64ull << 20)) {
            // The catalogue sets the limit per feed.
            std::string y = read_text(fx.dir.path / "feeds.yaml");
            const std::string anchor = "    provider: Amazon Web Services\n";
            y.replace(y.find(anchor), anchor.size(), anchor + "    max_bytes: " + std::to_string(c.max_bytes) + "\n");
            write_text(fx.dir.path / "feeds.yaml", y);
        }
        auto r = run_build(o);
        REQUIRE_MESSAGE(r, r.error().message);
        const auto& aws = feed(*r, "aws");
        CHECK(aws.status == "stale");
        CHECK_MESSAGE(contains(aws.failure, c.failure), aws.failure);
        CHECK(r->stale_feeds == 1);
        auto db = Database::open(o.out_path);
        REQUIRE(db);
        CHECK(db->lookup(ip_of(aws_ip)).provider == "Amazon Web Services");
        rapidjson::Document report;
        const std::string text = read_text(o.report_path);
        report.Parse(text.c_str());
        REQUIRE(report.IsObject());
        bool found = false;
        for (const auto& f : report["feeds"].GetArray()) {
            if (std::string(f["name"].GetString()) != "aws") continue;
            found = true;
            CHECK(std::string(f["status"].GetString()) == "stale");
            CHECK(f["stale"].GetBool());
            CHECK(contains(f["failure"].GetString(), c.failure));
        }
        CHECK(found);
    }
}

// ---- ASN tables and lists, fetched live ----------------------------------------

namespace {

// A catalogue of two ASN tables (MaxMind's GeoLite2-ASN test database as
// mmdb-asn, CAIDA's IPv6 pfx2as gzipped), a provider list and an ASN list
// expanded through them, and an exclusion list, all served on 127.0.0.1.
struct AsnFixture {
    TempDir dir{"anondb-live-asn"};
    FeedServer server;
    std::string mmdb = read_text(kRepo + "/tests/data/mmdb/GeoLite2-ASN-Test.mmdb");
    std::string pfx2as = read_text(kRepo + "/data/snapshot/asn/RouteViewIPv6.pfx2as.gz");
    const std::string providers =
        "provider,category,asn,reference\n"
        "Example Hosting,hosting,AS7018,https://example.org/7018\n"
        "Example VPN,vpn,AS1221,https://example.org/1221\n";
    const std::string v6_list = "AS6939 # Hurricane Electric\n";
    const std::string exclusions =
        "type,value,reason,reference\n"
        "prefix,12.81.92.0/22,office users,https://example.org/office\n";

    AsnFixture() {
        server.put("asn.mmdb", mmdb);
        server.put("pfx2as-v6.gz", pfx2as);
        server.put("providers.csv", providers);
        server.put("v6.txt", v6_list);
        server.put("exclusions.csv", exclusions);
        write_catalogue("");
    }

    void write_catalogue(const std::string& table_extra, const std::string& list_extra = "") {
        write_text(dir.path / "feeds.yaml",
                   "version: 1\nfeeds:\n"
                   "  - name: mm\n    url: " + server.url("asn.mmdb") + "\n    format: mmdb-asn\n    license: test\n" +
                       table_extra +
                   "  - name: caida6\n    url: " + server.url("pfx2as-v6.gz") + "\n    format: pfx2as\n    license: test\n"
                   "  - name: providers\n    url: " + server.url("providers.csv") +
                       "\n    format: provider-asns\n    asn_table: mm\n    category: [vpn, hosting]\n    license: test\n" +
                       list_extra +
                   "  - name: he\n    url: " + server.url("v6.txt") +
                       "\n    format: asn-list\n    asn_table: caida6\n    category: hosting\n    license: test\n"
                   "  - name: excl\n    url: " + server.url("exclusions.csv") + "\n    format: exclusions\n    license: test\n");
    }

    BuildOptions options() const {
        BuildOptions o;
        o.feeds_path = (dir.path / "feeds.yaml").string();
        o.out_path = (dir.path / "db.anondb").string();
        o.cache_dir = (dir.path / "cache").string();
        o.build_time = 1795305600;
        o.fetch.total_timeout = std::chrono::seconds(5);
        o.fetch.max_attempts = 1;
        return o;
    }
};

}  // namespace

TEST_CASE("live build: provider lists expand through an MMDB and a gzipped pfx2as table, with exclusions") {
    AsnFixture fx;
    // A binary table goes through a temporary file for its reader. A link
    // planted where an older builder wrote it (the feed name and the pid)
    // must not be written through.
    const auto victim = fx.dir.path / "victim";
    write_text(victim, "untouched");
    const auto planted = std::filesystem::temp_directory_path() / ("anondb-mm-" + std::to_string(::getpid()) + ".tmp");
    std::filesystem::remove(planted);
    std::filesystem::create_symlink(victim, planted);
    auto report = run_build(fx.options());
    CHECK(read_text(victim.string()) == "untouched");
    std::filesystem::remove(planted);
    REQUIRE_MESSAGE(report, report.error().message);
    CHECK(report->stale_feeds == 0);
    CHECK(feed(*report, "mm").role == format::FeedRole::asn_table);
    CHECK(feed(*report, "providers").asn_table == "mm");
    CHECK(feed(*report, "he").asn_table == "caida6");
    CHECK(feed(*report, "providers").derived > 0);
    CHECK(feed(*report, "providers").excluded == 1);
    CHECK(feed(*report, "excl").excluded_by_line.at(2) == 1);
    CHECK(report->excluded_ranges == 1);

    auto db = Database::open(fx.options().out_path);
    REQUIRE_MESSAGE(db, db.error().message);
    auto cold = ColdData::load(*db);
    REQUIRE_MESSAGE(cold, cold.error().message);
    // From the test database's own source (GeoLite2-ASN-Test.json): 1.128.0.0/11
    // is AS1221's, too broad for a VPN (/14 at most): the guards reject it,
    // naming the list line and the table row.
    const std::string source = read_text(kRepo + "/tests/data/mmdb/GeoLite2-ASN-Test.json");
    REQUIRE(contains(source, "\"1.128.0.0/11\""));
    REQUIRE(contains(source, "\"12.81.96.0/19\""));
    CHECK_FALSE(db->lookup(ip_of("1.130.5.6")).flagged);
    bool guarded = false;
    for (const auto& g : feed(*report, "providers").guard_rejects)
        guarded |= g.line == 3 && g.reason == "IPv4 entry broader than /14" && contains(g.text, "AS1221 -> 1.128.0.0/11");
    CHECK(guarded);

    // 12.81.96.0/19 is AS7018's: hosting, named, with both links.
    const auto host = db->lookup(ip_of("12.81.96.1"));
    CHECK(host.categories == kHosting);
    CHECK(host.provider == "Example Hosting");
    CHECK(host.asn == 7018);
    const Explanation ex = cold->explain(ip_of("12.81.96.1"));
    REQUIRE(ex.contributions.size() == 1);
    const Contribution& c = ex.contributions[0];
    CHECK(c.feed_name == "providers");
    CHECK(c.line == 2);
    CHECK(c.text == "Example Hosting,hosting,AS7018,https://example.org/7018");
    CHECK(c.url == fx.server.url("providers.csv"));
    CHECK(c.sha256 == sources::sha256(fx.providers));
    REQUIRE(c.table_row);
    CHECK(c.table_row->feed_name == "mm");
    CHECK(c.table_row->line == 0);  // a database network, named by its text
    CHECK(contains(c.table_row->text, "12.81.96.0/19"));
    CHECK(c.table_row->url == fx.server.url("asn.mmdb"));
    CHECK(c.table_row->sha256 == sources::sha256(fx.mmdb));  // the bytes served, as fetched

    // 12.81.92.0/22 is AS7018's too, but excluded: unflagged, and explain says why.
    CHECK_FALSE(db->lookup(ip_of("12.81.92.1")).flagged);
    const Explanation gone = cold->explain(ip_of("12.81.92.1"));
    REQUIRE(gone.exclusions.size() == 1);
    CHECK(format_range(gone.exclusions[0].range) == "12.81.92.0/22");
    CHECK(gone.exclusions[0].removed.asn == 7018);
    CHECK(gone.exclusions[0].rule.feed_name == "excl");
    CHECK(gone.exclusions[0].rule.line == 2);

    // The gzipped pfx2as: 2001::/32 is announced by 6939_1101_25192 (multi-origin), listed as AS6939.
    const auto he = db->lookup(ip_of("2001::1"));
    CHECK(he.categories == kHosting);
    CHECK(he.provider == "Hurricane Electric");
    CHECK(he.asn == 6939);
    const Explanation hx = cold->explain(ip_of("2001::1"));
    REQUIRE(hx.contributions.size() == 1);
    REQUIRE(hx.contributions[0].table_row);
    CHECK(hx.contributions[0].table_row->line == 1);
    CHECK(hx.contributions[0].table_row->text == "2001::\t32\t6939_1101_25192");
}

TEST_CASE("live build: an ASN table with no usable copy fails its lists, or leaves optional ones out") {
    AsnFixture fx;
    fx.server.fault("asn.mmdb", Fault::not_found);
    fx.write_catalogue("    optional: true\n");
    auto failed = run_build(fx.options());
    REQUIRE_FALSE(failed);
    CHECK(contains(failed.error().message, "feed 'providers'"));
    CHECK(contains(failed.error().message, "ASN table 'mm' has no usable copy"));
    CHECK_FALSE(std::filesystem::exists(fx.options().out_path));

    fx.write_catalogue("    optional: true\n", "    optional: true\n");
    auto report = run_build(fx.options());
    REQUIRE_MESSAGE(report, report.error().message);
    CHECK(report->omitted_feeds == 2);
    CHECK(feed(*report, "providers").status == "failed");
    CHECK(contains(feed(*report, "providers").failure, "ASN table 'mm'"));
    CHECK(feed(*report, "he").derived > 0);  // the other table still serves its list

    // A table that is not what its format says fails the fetch checks.
    AsnFixture bad;
    bad.server.put("asn.mmdb", "not a MaxMind database at all\n");
    auto r = run_build(bad.options());
    REQUIRE_FALSE(r);
    CHECK(contains(r.error().message, "feed 'mm'"));
    CHECK(contains(r.error().message, "unreadable"));
}

// ---- resource limits ------------------------------------------------------------

TEST_CASE("live build: a 10 MB line is one reject with its reason in the report, and the lines around it are published") {
    Fixture fx;
    auto before = run_build(fx.options());
    REQUIRE_MESSAGE(before, before.error().message);
    const std::uint64_t tor_entries = feed(*before, "tor").accepted;
    REQUIRE(tor_entries > 1000);

    // The list with a 10 MB line in the middle, then a 100-byte and a
    // 99-byte line; the catalogue allows 99 bytes a line for this feed.
    const std::size_t mid = fx.tor_text.find('\n', fx.tor_text.size() / 2) + 1;
    const std::uint32_t mid_line = static_cast<std::uint32_t>(std::count(fx.tor_text.begin(), fx.tor_text.begin() + mid, '\n')) + 1;
    fx.server.put("tor.txt", fx.tor_text.substr(0, mid) + std::string(10 << 20, '7') + "\n" + std::string(100, '8') +
                                 "\n" + std::string(99, '9') + "\n" + fx.tor_text.substr(mid));
    fx.extra["tor"] = "    max_line_bytes: 99\n";
    fx.write_catalogue(false);
    auto r = run_build(fx.options());
    REQUIRE_MESSAGE(r, r.error().message);
    const FeedReport& tor = feed(*r, "tor");
    CHECK(tor.status == "fresh");
    CHECK(tor.accepted == tor_entries);
    CHECK(tor.rejected == 3);
    CHECK(tor.rejects_by_reason.at("line longer than 99 bytes") == 2);
    CHECK(tor.rejects_by_reason.size() == 2);  // and the 99-byte line's own reason
    REQUIRE(tor.first_rejects.size() == 3);
    CHECK(tor.first_rejects[0].line == mid_line);
    CHECK(tor.first_rejects[0].reason == "line longer than 99 bytes");
    CHECK(tor.first_rejects[0].text == std::string(sources::kIssueTextMax, '7'));
    CHECK(tor.first_rejects[1].line == mid_line + 1);
    CHECK(tor.first_rejects[2].line == mid_line + 2);
    CHECK(tor.first_rejects[2].reason != "line longer than 99 bytes");

    rapidjson::Document report;
    const std::string text = read_text(fx.options().report_path);
    report.Parse(text.c_str());
    REQUIRE(report.IsObject());
    bool found = false;
    for (const auto& f : report["feeds"].GetArray()) {
        if (std::string(f["name"].GetString()) != "tor") continue;
        found = true;
        CHECK(f["rejects_by_reason"]["line longer than 99 bytes"].GetUint64() == 2);
        CHECK(f["rejected"].GetUint64() == 3);
    }
    CHECK(found);
}

TEST_CASE("live build: every rejected line is counted in the report, past the ones a parse keeps in full") {
    Fixture fx;
    const std::size_t junk = 3 * sources::IssueList::kKept + 7;
    std::string text = fx.tor_text;
    for (std::size_t k = 0; k < junk; ++k) text += "not an address\n";
    fx.server.put("tor.txt", text);
    auto r = run_build(fx.options());
    REQUIRE_MESSAGE(r, r.error().message);
    const FeedReport& tor = feed(*r, "tor");
    CHECK(tor.status == "fresh");
    CHECK(tor.rejected == junk);
    std::uint64_t by_reason = 0;
    for (const auto& [reason, n] : tor.rejects_by_reason) by_reason += n;
    CHECK(by_reason == junk);
    REQUIRE_FALSE(tor.first_rejects.empty());
    CHECK(tor.first_rejects.size() < junk);
    CHECK(tor.first_rejects[0].text == "not an address");
}

TEST_CASE("live build: a feed over its max_entries is published from its last good copy, stale, the reason naming the count and the limit") {
    Fixture fx;
    auto first = run_build(fx.options());
    REQUIRE_MESSAGE(first, first.error().message);
    const std::uint64_t n = feed(*first, "tor").accepted;
    const std::string limit = std::to_string(n + 5);
    fx.extra["tor"] = "    max_entries: " + limit + "\n";
    fx.write_catalogue(false);
    auto same = run_build(fx.options());
    REQUIRE_MESSAGE(same, same.error().message);
    CHECK(feed(*same, "tor").status == "cached");  // n entries are within n + 5

    // The list grows by 50 addresses: parsing stops at entry n + 6.
    std::string grown = fx.tor_text;
    for (int i = 1; i <= 50; ++i) grown += "11.22.33." + std::to_string(i) + "\n";
    fx.server.put("tor.txt", grown);
    auto r = run_build(fx.options());
    REQUIRE_MESSAGE(r, r.error().message);
    const FeedReport& tor = feed(*r, "tor");
    CHECK(tor.status == "stale");
    CHECK(tor.fetch.stale);
    CHECK_MESSAGE(contains(tor.failure, "more than max_entries " + limit + " entries (parsing stopped at line " +
                                            std::to_string(n + 6) + ")"),
                  tor.failure);
    CHECK(tor.accepted == n);  // the last good copy
    CHECK(r->stale_feeds == 1);
    auto db = Database::open(fx.options().out_path);
    REQUIRE(db);
    CHECK_FALSE(db->lookup(ip_of("11.22.33.7")).flagged);

    // --strict names the feed and the limit.
    BuildOptions strict = fx.options();
    strict.strict = true;
    auto s = run_build(strict);
    REQUIRE_FALSE(s);
    CHECK(contains(s.error().message, "feed 'tor': more than max_entries " + limit));

    // A limit the last good copy is over too: no usable copy; the required
    // feed fails the build, the file stays as it was.
    const std::string published = fx.bytes();
    fx.extra["tor"] = "    max_entries: " + std::to_string(n - 1) + "\n";
    fx.write_catalogue(false);
    auto none = run_build(fx.options());
    REQUIRE_FALSE(none);
    CHECK(contains(none.error().message, "feed 'tor': more than max_entries " + std::to_string(n - 1)));
    CHECK(contains(none.error().message, "last good copy unusable: more than max_entries"));
    CHECK(fx.bytes() == published);
    // Optional, it is left out instead.
    fx.extra["tor"] += "    optional: true\n";
    fx.write_catalogue(false);
    auto left = run_build(fx.options());
    REQUIRE_MESSAGE(left, left.error().message);
    CHECK(feed(*left, "tor").status == "failed");
    CHECK(contains(feed(*left, "tor").failure, "last good copy unusable"));
    CHECK(left->omitted_feeds == 1);
}

TEST_CASE("live build: a catalogue whose feeds together pass max_total_entries fails, naming the feed that passed it") {
    Fixture fx;
    auto full = run_build(fx.options("full.anondb"));
    REQUIRE_MESSAGE(full, full.error().message);
    const std::uint64_t tor = feed(*full, "tor").accepted, aws = feed(*full, "aws").accepted;
    const std::uint64_t vpn6 = feed(*full, "vpn6").accepted, poison = feed(*full, "poison").accepted;
    const std::uint64_t total = tor + aws + vpn6 + poison;

    // From the build options: tor fits, aws passes the limit.
    BuildOptions o = fx.options();
    o.max_total_entries = tor + aws - 1;
    auto r = run_build(o);
    REQUIRE_FALSE(r);
    CHECK_MESSAGE(contains(r.error().message, "feed 'aws': its " + std::to_string(aws) + " ranges bring the build to " +
                                                  std::to_string(tor + aws) + ", more than max_total_entries " +
                                                  std::to_string(tor + aws - 1)),
                  r.error().message);
    CHECK_FALSE(std::filesystem::exists(o.out_path));

    // From the catalogue's top level; exactly the total passes.
    fx.top = "max_total_entries: " + std::to_string(total - 1) + "\n";
    fx.write_catalogue(false);
    auto c = run_build(fx.options());
    REQUIRE_FALSE(c);
    CHECK(contains(c.error().message, "feed 'poison'"));
    CHECK(contains(c.error().message, "more than max_total_entries " + std::to_string(total - 1)));
    fx.top = "max_total_entries: " + std::to_string(total) + "\n";
    fx.write_catalogue(false);
    auto ok = run_build(fx.options());
    REQUIRE_MESSAGE(ok, ok.error().message);
    // The build option overrides the catalogue.
    BuildOptions tight = fx.options("tight.anondb");
    tight.max_total_entries = tor;
    auto t = run_build(tight);
    REQUIRE_FALSE(t);
    CHECK(contains(t.error().message, "feed 'aws'"));
}

namespace {

// Pieces an AS holds in MaxMind's GeoLite2-ASN test database, by longest
// prefix match (what an ASN list entry expands to).
std::uint64_t mmdb_pieces(std::uint32_t asn) {
    auto table = sources::read_mmdb_asn(kRepo + "/tests/data/mmdb/GeoLite2-ASN-Test.mmdb");
    REQUIRE_MESSAGE(table, table.error().message);
    return AsnIndex(*table).pieces_of(asn).size();
}

}  // namespace

TEST_CASE("live build: an ASN list counts its derived ranges against max_entries") {
    const std::uint64_t derived = mmdb_pieces(7018) + mmdb_pieces(1221);  // the two providers' ASNs
    REQUIRE(derived > 2);

    // Two list entries, more ranges than the limit: the list has no usable
    // copy, so the build fails naming it.
    AsnFixture fx;
    fx.write_catalogue("", "    max_entries: " + std::to_string(derived - 1) + "\n");
    auto failed = run_build(fx.options());
    REQUIRE_FALSE(failed);
    CHECK_MESSAGE(contains(failed.error().message, "feed 'providers': " + std::to_string(derived) +
                                                       " ranges derived from its ASNs, more than max_entries " +
                                                       std::to_string(derived - 1)),
                  failed.error().message);

    // At the limit it is published; then a line that adds AS7018 again goes
    // over, and the last good copy is used.
    fx.write_catalogue("", "    max_entries: " + std::to_string(derived) + "\n");
    auto good = run_build(fx.options());
    REQUIRE_MESSAGE(good, good.error().message);
    CHECK(feed(*good, "providers").status == "cached");  // the HTTP cache kept the body the checks refused
    fx.server.put("providers.csv", fx.providers + "Other Hosting,hosting,AS7018,https://example.org/again\n");
    auto r = run_build(fx.options());
    REQUIRE_MESSAGE(r, r.error().message);
    const FeedReport& providers = feed(*r, "providers");
    CHECK(providers.status == "stale");
    CHECK_MESSAGE(contains(providers.failure, std::to_string(derived + mmdb_pieces(7018)) +
                                                  " ranges derived from its ASNs, more than max_entries " +
                                                  std::to_string(derived)),
                  providers.failure);
    CHECK(providers.derived == feed(*good, "providers").derived);

    // The build-wide total counts derived ranges too: the first list passes it.
    AsnFixture total;
    auto all = run_build(total.options());
    REQUIRE_MESSAGE(all, all.error().message);
    const std::uint64_t first = feed(*all, "providers").derived, second = feed(*all, "he").derived;
    BuildOptions o = total.options();
    o.max_total_entries = first + second - 1;
    auto t = run_build(o);
    REQUIRE_FALSE(t);
    CHECK_MESSAGE(contains(t.error().message, "feed 'he': its " + std::to_string(second) +
                                                  " ranges bring the build to " + std::to_string(first + second)),
                  t.error().message);
}

TEST_CASE("live build: an ASN database over its max_entries stops being read and is unusable") {
    AsnFixture fx;
    fx.write_catalogue("    max_entries: 10\n");
    auto r = run_build(fx.options());
    REQUIRE_FALSE(r);
    CHECK_MESSAGE(contains(r.error().message, "feed 'mm': more than max_entries 10 entries (reading stopped after 10)"),
                  r.error().message);

    // Offline, the IPFire location database Debian installs: 1000 of its
    // 1.3M networks are read, then the snapshot is refused.
    const std::string db = "/usr/share/libloc-location/location.db";
    if (!std::filesystem::exists(db)) {
        MESSAGE("skipped the libloc part: " << db << " is not installed");
        return;
    }
    TempDir dir("anondb-offline-limit");
    write_text(dir.path / "feeds.yaml", "version: 1\nfeeds:\n  - name: loc\n    url: https://example.org/location.db.xz\n"
                                        "    format: libloc\n    license: test\n    max_bytes: 512MiB\n"
                                        "    max_entries: 1000\n    snapshot: " + db + "\n");
    BuildOptions o;
    o.feeds_path = (dir.path / "feeds.yaml").string();
    o.out_path = (dir.path / "db.anondb").string();
    o.offline = true;
    o.build_time = 1795305600;
    auto off = run_build(o);
    REQUIRE_FALSE(off);
    CHECK_MESSAGE(contains(off.error().message, "feed 'loc': snapshot unusable: more than max_entries 1000 entries "
                                                "(reading stopped after 1000)"),
                  off.error().message);
}
