// The anondb command line, end to end: the real binary (ANONDB_CLI) run in a
// temporary working directory on the repository's catalogue and snapshots.
// Expected values come from reading the snapshot files here (addresses, line
// numbers, SHA-256 with OpenSSL), not from anondb's own code.
#include <doctest/doctest.h>

extern "C" {  // libloc 0.9.16 headers lack extern "C"
#include <libloc/database.h>
#include <libloc/libloc.h>
#include <libloc/network.h>
}
#include <openssl/evp.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <initializer_list>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "anondb/format.hpp"
#include "anondb/ip.hpp"
#include "test_util.hpp"

using namespace anondb::test;
namespace fs = std::filesystem;

namespace {

const std::string kFeeds = kRepo + "/feeds.yaml";
const std::string kTorSnapshot = "data/snapshot/tor/exit-addresses";
const std::string kAwsSnapshot = "data/snapshot/aws/ip-ranges.json";

std::string sha256_hex(std::string_view data) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    REQUIRE(EVP_Digest(data.data(), data.size(), md, &n, EVP_sha256(), nullptr) == 1);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < n; ++i) {
        out += kHex[md[i] >> 4];
        out += kHex[md[i] & 0xf];
    }
    return out;
}

// A temporary working directory for the whole process.
const fs::path& workdir() {
    static const TempDir w("anondb-cli");
    return w.path;
}

// A shell command line in the working directory (test_util.hpp's run_in);
// stdin from `input` (empty: /dev/null).
CliRun run_shell(const std::string& line, const std::string& input = "") {
    return run_in(workdir(), line, input.empty() ? std::nullopt : std::optional<std::string>(input));
}

// The CLI with `args` in the working directory, as run_shell does.
CliRun run(std::initializer_list<std::string_view> args, const std::string& input = "") {
    return run_cli(workdir(), args, input.empty() ? std::nullopt : std::optional<std::string>(input));
}

// The database every lookup test uses: the snapshot build of feeds.yaml at
// --build-time 2026-01-01. ctest's snapshot_build fixture makes it once for
// all the cases (ANONDB_SNAPSHOT_DB); a run of this binary alone builds it
// once per process.
const std::string& database() {
    static const std::string name = [] {
        if (fs::is_regular_file(ANONDB_SNAPSHOT_DB)) return std::string(ANONDB_SNAPSHOT_DB);
        const CliRun r = run({"build", "--offline", "--feeds", kFeeds, "-o", "db.anondb", "--build-time", "2026-01-01"});
        REQUIRE_MESSAGE(r.code == 0, "build failed: " << r.err);
        return std::string("db.anondb");
    }();
    return name;
}

// The catalogue read independently: each "  - name: X" starts a feed; its
// "    key: value" lines follow.
struct CatalogueFeed {
    std::string name;
    std::map<std::string, std::string> keys;
};
std::vector<CatalogueFeed> catalogue() {
    std::vector<CatalogueFeed> out;
    for (const auto& l : split_lines<std::string>(read_text(kFeeds))) {
        if (l.rfind("  - name: ", 0) == 0) {
            out.push_back({l.substr(10), {}});
        } else if (!out.empty() && l.rfind("    ", 0) == 0 && l.find(": ") != std::string::npos) {
            const auto colon = l.find(": ");
            out.back().keys[l.substr(4, colon - 4)] = l.substr(colon + 2);
        }
    }
    REQUIRE(out.size() >= 5);
    return out;
}
const CatalogueFeed& feed_named(const std::vector<CatalogueFeed>& cat, std::string_view name) {
    for (const auto& f : cat)
        if (f.name == name) return f;
    FAIL("no feed " << name << " in feeds.yaml");
    throw std::logic_error("unreachable");
}

// A Tor exit from the snapshot: an ExitAddress listed exactly once, with its
// line number and the line's text.
struct TorExit {
    std::string address;
    std::uint32_t line = 0;
    std::string text;
};
TorExit pick_tor_exit() {
    const auto lines = split_lines<std::string>(read_text(kRepo + "/" + kTorSnapshot));
    std::map<std::string, int> count;
    std::vector<TorExit> candidates;
    for (std::size_t i = 0; i < lines.size(); ++i) {
        std::istringstream words(lines[i]);
        std::string keyword, address;
        words >> keyword >> address;
        if (keyword != "ExitAddress") continue;
        ++count[address];
        std::string text = lines[i];
        while (!text.empty() && (text.back() == '\r' || text.back() == ' ' || text.back() == '\t')) text.pop_back();
        candidates.push_back({address, static_cast<std::uint32_t>(i + 1), text});
    }
    std::vector<TorExit> once;
    for (const auto& c : candidates)
        if (count[c.address] == 1) once.push_back(c);
    REQUIRE(!once.empty());
    return once[once.size() / 2];
}

// An IPv4 prefix from the AWS snapshot, and an address inside it.
std::string pick_aws_address() {
    rapidjson::Document doc;
    const std::string json = read_text(kRepo + "/" + kAwsSnapshot);
    doc.Parse(json.data(), json.size());
    REQUIRE_FALSE(doc.HasParseError());
    const auto& prefixes = doc["prefixes"];
    REQUIRE(prefixes.IsArray());
    REQUIRE(prefixes.Size() > 10);
    const std::string prefix = prefixes[prefixes.Size() / 2]["ip_prefix"].GetString();
    return prefix.substr(0, prefix.find('/'));  // the network address is inside
}

rapidjson::Document parse_json(const std::string& text) {
    rapidjson::Document doc;
    doc.Parse(text.data(), text.size());
    INFO(text);
    REQUIRE_FALSE(doc.HasParseError());
    REQUIRE(doc.IsObject());
    return doc;
}

std::vector<std::string> json_strings(const rapidjson::Value& v) {
    std::vector<std::string> out;
    REQUIRE(v.IsArray());
    for (const auto& x : v.GetArray()) out.emplace_back(x.GetString());
    return out;
}

bool range_contains(const std::string& range_text, const std::string& address) {
    const auto r = anondb::parse_range(range_text);
    const auto a = anondb::parse_ip(address);
    return r && a && r->range.contains(a->ip);
}

// The section table of a database file, read with the format structs.
std::vector<anondb::format::SectionEntry> sections_of(const std::vector<std::byte>& file) {
    anondb::format::Header h;
    REQUIRE(file.size() >= sizeof h);
    std::memcpy(&h, file.data(), sizeof h);
    std::vector<anondb::format::SectionEntry> out(h.section_count);
    REQUIRE(h.section_table_offset + out.size() * sizeof(anondb::format::SectionEntry) <= file.size());
    std::memcpy(out.data(), file.data() + h.section_table_offset, out.size() * sizeof(anondb::format::SectionEntry));
    return out;
}

}  // namespace

TEST_CASE("build --offline: succeeds, reports every feed, writes the file") {
    const auto cat = catalogue();
    const CliRun r = run({"build", "--offline", "--feeds", kFeeds, "-o", "summary.anondb", "--build-time", "2026-01-01",
                          "--mmdb", "summary.mmdb"});
    INFO(r.out << r.err);
    REQUIRE(r.code == 0);
    // --mmdb: the MMDB export of what was just built, readable by MaxMind's own tool.
    CHECK(contains(r.out, "wrote summary.mmdb (mmdb"));
    const CliRun meta = run_shell("mmdblookup --file summary.mmdb --ip 192.0.2.1");
    CHECK(contains(meta.err + meta.out, "Could not find an entry"));
    const auto path = workdir() / "summary.anondb";
    REQUIRE(fs::is_regular_file(path));
    const auto lines = split_lines<std::string>(r.out);
    for (const auto& f : cat) {
        INFO("feed " << f.name);
        // Its row: name, "snapshot", and the first 16 hex digits of the snapshot's SHA-256.
        // In the repository, or a Debian-installed file (the IPFire database).
        const std::string& snap = f.keys.at("snapshot");
        const std::string sha = sha256_hex(read_text(snap.rfind("/usr/share/", 0) == 0 ? snap : kRepo + "/" + snap));
        bool found = false;
        for (const auto& l : lines)
            if (l.rfind(f.name + " ", 0) == 0 && contains(l, "snapshot") && contains(l, sha.substr(0, 16))) found = true;
        CHECK(found);
    }
    CHECK(contains(r.out, "from " + std::to_string(cat.size()) + " feeds"));
    CHECK(contains(r.out, "wrote summary.anondb (" + std::to_string(fs::file_size(path)) + " bytes)"));
    // Only the output appears: no temporary file is left behind.
    for (const auto& e : fs::directory_iterator(workdir()))
        CHECK_MESSAGE(!contains(e.path().filename().string(), ".tmp"), e.path());
}

TEST_CASE("build: the same build time gives the same bytes, another time other bytes") {
    // a: database() (2026-01-01, built by another run); b: the same instant
    // in Unix seconds; c: a day later.
    for (auto [out, when] : {std::pair{"b.anondb", "1767225600"}, std::pair{"c.anondb", "2026-01-02"}}) {
        const CliRun r = run({"build", "--offline", "--feeds", kFeeds, "-o", out, "--build-time", when});
        INFO(out << ": " << r.err);
        REQUIRE(r.code == 0);
    }
    const auto a = read_bytes(workdir() / database());
    const auto b = read_bytes(workdir() / "b.anondb");
    const auto c = read_bytes(workdir() / "c.anondb");
    CHECK(a == b);
    CHECK(a != c);

    // The header records the build time (offset 32) and, by default, uses it
    // as the data version (offset 24).
    auto i64_at = [](const std::vector<std::byte>& f, std::size_t off) {
        std::int64_t v;
        std::memcpy(&v, f.data() + off, 8);
        return v;
    };
    CHECK(i64_at(a, 32) == utc(2026, 1, 1));
    CHECK(i64_at(c, 32) == utc(2026, 1, 2));
    CHECK(i64_at(a, 24) == utc(2026, 1, 1));

    const CliRun bad = run({"build", "--offline", "--feeds", kFeeds, "-o", "x.anondb", "--build-time", "tomorrow"});
    CHECK(bad.code == 2);
    CHECK(contains(bad.err, "--build-time"));
    const CliRun missing = run({"build", "--offline", "--feeds", "no/such/feeds.yaml", "-o", "x.anondb"});
    CHECK(missing.code == 1);
    CHECK(contains(missing.err, "no/such/feeds.yaml"));
    CHECK_FALSE(fs::exists(workdir() / "x.anondb"));
}

TEST_CASE("explain: a Tor exit names its feed, line, text and the snapshot's SHA-256") {
    const auto& db = database();
    const TorExit exit = pick_tor_exit();
    const std::string sha = sha256_hex(read_text(kRepo + "/" + kTorSnapshot));
    const auto cat = catalogue();
    std::string fetched = feed_named(cat, "tor-exit-addresses").keys.at("snapshot_date");
    if (fetched.size() == 10) fetched += "T00:00:00Z";
    INFO("address " << exit.address << " on line " << exit.line);

    const CliRun text = run({"explain", "-d", db, exit.address});
    INFO(text.out << text.err);
    REQUIRE(text.code == 0);
    CHECK(contains(text.out, "feed tor-exit-addresses"));
    CHECK(contains(text.out, std::to_string(exit.line) + ": " + exit.text));
    CHECK(contains(text.out, sha));
    CHECK(contains(text.out, "tor_exit"));

    const CliRun json = run({"explain", "--json", "-d", db, exit.address});
    REQUIRE(json.code == 0);
    const auto doc = parse_json(json.out);
    CHECK(std::string(doc["ip"].GetString()) == exit.address);
    CHECK(doc["flagged"].GetBool());
    CHECK(doc["anonymous"].GetBool());
    const auto cats = json_strings(doc["categories"]);
    CHECK(std::find(cats.begin(), cats.end(), "tor_exit") != cats.end());
    CHECK(range_contains(doc["range"].GetString(), exit.address));
    int from_tor_feed = 0;
    for (const auto& ev : doc["evidence"].GetArray()) {
        if (std::string(ev["feed"].GetString()) != "tor-exit-addresses") continue;
        ++from_tor_feed;
        CHECK(ev["line"].GetUint() == exit.line);
        CHECK(std::string(ev["text"].GetString()) == exit.text);
        CHECK(std::string(ev["sha256"].GetString()) == sha);
        CHECK(std::string(ev["source"].GetString()) == kTorSnapshot);
        CHECK(std::string(ev["url"].GetString()) == feed_named(cat, "tor-exit-addresses").keys.at("url"));
        CHECK(ev["snapshot"].GetBool());
        CHECK(std::string(ev["fetched_at"].GetString()) == fetched);
    }
    CHECK(from_tor_feed == 1);  // the address is on one line of that feed
}

TEST_CASE("lookup: a Tor exit, an AWS address and 192.0.2.1, as text and JSON") {
    const auto& db = database();
    const TorExit exit = pick_tor_exit();
    const std::string aws = pick_aws_address();
    const std::string aws_provider = feed_named(catalogue(), "aws").keys.at("provider");
    INFO("tor " << exit.address << ", aws " << aws);

    const CliRun text = run({"lookup", "-d", db, exit.address, aws, "192.0.2.1"});
    INFO(text.out << text.err);
    REQUIRE(text.code == 0);
    const auto lines = split_lines<std::string>(text.out);
    REQUIRE(lines.size() == 3);
    CHECK(lines[0].rfind(exit.address + " ", 0) == 0);
    CHECK(contains(lines[0], "tor_exit"));
    CHECK(contains(lines[0], "anonymous"));
    CHECK(lines[1].rfind(aws + " ", 0) == 0);
    CHECK(contains(lines[1], "hosting"));
    CHECK(contains(lines[1], "provider " + aws_provider));
    CHECK(lines[2].rfind("192.0.2.1 ", 0) == 0);
    CHECK(contains(lines[2], "not flagged"));

    const CliRun json = run({"lookup", "--json", "-d", db, exit.address, aws, "192.0.2.1"});
    REQUIRE(json.code == 0);
    const auto jl = split_lines<std::string>(json.out);
    REQUIRE(jl.size() == 3);
    const auto tor = parse_json(jl[0]);
    CHECK(std::string(tor["ip"].GetString()) == exit.address);
    CHECK(tor["flagged"].GetBool());
    CHECK(tor["anonymous"].GetBool());
    auto cats = json_strings(tor["categories"]);
    CHECK(std::find(cats.begin(), cats.end(), "tor_exit") != cats.end());
    CHECK(range_contains(tor["range"].GetString(), exit.address));
    CHECK(tor["answer"].GetUint() > 0);

    const auto amazon = parse_json(jl[1]);
    CHECK(std::string(amazon["ip"].GetString()) == aws);
    CHECK(amazon["flagged"].GetBool());
    cats = json_strings(amazon["categories"]);
    CHECK(std::find(cats.begin(), cats.end(), "hosting") != cats.end());
    // Anonymous exactly when something other than hosting is set.
    CHECK(amazon["anonymous"].GetBool() == (cats.size() > 1));
    REQUIRE(amazon["provider"].IsString());
    CHECK(std::string(amazon["provider"].GetString()) == aws_provider);
    CHECK(range_contains(amazon["range"].GetString(), aws));

    const auto doc = parse_json(jl[2]);
    CHECK(std::string(doc["ip"].GetString()) == "192.0.2.1");
    CHECK_FALSE(doc["flagged"].GetBool());
    CHECK_FALSE(doc["anonymous"].GetBool());
    CHECK(doc["categories"].GetArray().Size() == 0);
    CHECK(doc["provider"].IsNull());
    CHECK(doc["answer"].GetUint() == 0);
    CHECK(range_contains(doc["range"].GetString(), "192.0.2.1"));
}

TEST_CASE("lookup: stdin, '-', --file and arguments give the same answers") {
    const auto& db = database();
    const TorExit exit = pick_tor_exit();
    const std::string aws = pick_aws_address();
    const std::vector<std::string> addresses = {exit.address, aws, "192.0.2.1", "2001:db8::1", "::ffff:" + aws};
    std::string input = "# addresses to check\n\n";
    for (const auto& a : addresses) input += a + "\r\n";  // CRLF too

    const CliRun args = run({"lookup", "-d", db, addresses[0], addresses[1], addresses[2], addresses[3], addresses[4]});
    REQUIRE(args.code == 0);
    CHECK(split_lines<std::string>(args.out).size() == addresses.size());

    const CliRun in = run({"lookup", "-d", db}, input);
    CHECK(in.code == 0);
    CHECK(in.out == args.out);

    const CliRun dash = run({"lookup", "-d", db, "-"}, input);
    CHECK(dash.code == 0);
    CHECK(dash.out == args.out);

    write_text(workdir() / "addresses.txt", input);
    const CliRun file = run({"lookup", "-d", db, "--file", "addresses.txt"});
    CHECK(file.code == 0);
    CHECK(file.out == args.out);

    // The IPv4-mapped spelling is the same address: the same answer, IPv4 text.
    const auto lines = split_lines<std::string>(args.out);
    CHECK(lines[4] == lines[1]);

    const CliRun nofile = run({"lookup", "-d", db, "--file", "no-such-list.txt"});
    CHECK(nofile.code == 1);
    CHECK(contains(nofile.err, "no-such-list.txt"));
}

TEST_CASE("lookup and explain: a bad address is exit code 3 with an error line") {
    const auto& db = database();
    const CliRun r = run({"lookup", "-d", db, "192.0.2.1", "1.2.3", "2001:db8::1"});
    INFO(r.out << r.err);
    CHECK(r.code == 3);
    const auto lines = split_lines<std::string>(r.out);
    REQUIRE(lines.size() == 3);  // the good ones are still answered
    CHECK(lines[1].rfind("1.2.3 ", 0) == 0);
    CHECK(contains(lines[1], "error"));
    CHECK_FALSE(contains(lines[0], "error"));
    CHECK_FALSE(contains(lines[2], "error"));

    const CliRun json = run({"lookup", "--json", "-d", db, "300.1.1.1"});
    CHECK(json.code == 3);
    const auto doc = parse_json(split_lines<std::string>(json.out).at(0));
    CHECK(std::string(doc["ip"].GetString()) == "300.1.1.1");
    CHECK(doc.HasMember("error"));

    const CliRun stdin_bad = run({"lookup", "-d", db}, "192.0.2.1\nnot-an-ip\n");
    CHECK(stdin_bad.code == 3);
    CHECK(split_lines<std::string>(stdin_bad.out).size() == 2);

    const CliRun ex = run({"explain", "-d", db, "example.com"});
    CHECK(ex.code == 3);
    CHECK(contains(ex.err, "example.com"));
}

TEST_CASE("info: format version, build time and the feeds") {
    const auto& db = database();
    const auto file = read_bytes(workdir() / db);
    std::uint16_t major = 0, minor = 0;
    std::memcpy(&major, file.data() + 8, 2);
    std::memcpy(&minor, file.data() + 10, 2);
    const std::string version = std::to_string(major) + "." + std::to_string(minor);
    const auto cat = catalogue();

    const CliRun r = run({"info", "-d", db});
    INFO(r.out << r.err);
    REQUIRE(r.code == 0);
    CHECK(contains(r.out, "format version  " + version));
    CHECK(contains(r.out, "2026-01-01T00:00:00Z"));
    for (const auto& f : cat) CHECK_MESSAGE(contains(r.out, "\n" + f.name + " "), f.name);

    const CliRun json = run({"info", "--json", "-d", db});
    REQUIRE(json.code == 0);
    const auto doc = parse_json(json.out);
    CHECK(std::string(doc["format_version"].GetString()) == version);
    CHECK(doc["file_bytes"].GetUint64() == file.size());
    const auto& feeds = doc["feeds"];
    REQUIRE(feeds.Size() == cat.size());
    for (rapidjson::SizeType i = 0; i < feeds.Size(); ++i) {
        CHECK(std::string(feeds[i]["name"].GetString()) == cat[i].name);
        // ASN lists name the table they were expanded through, as the catalogue says.
        const auto table = cat[i].keys.find("asn_table");
        CHECK(feeds[i].HasMember("asn_table") == (table != cat[i].keys.end()));
        if (table != cat[i].keys.end() && feeds[i].HasMember("asn_table")) {
            CHECK(std::string(feeds[i]["asn_table"].GetString()) == table->second);
            CHECK(std::string(feeds[i]["role"].GetString()) == "asn-list");
            CHECK(contains(r.out, "expanded through " + table->second));
        }
    }
}

TEST_CASE("verify: a good file passes, corrupted copies fail with exit 1") {
    namespace format = anondb::format;
    const auto& db = database();
    const CliRun good = run({"verify", "-d", db});
    INFO(good.out << good.err);
    CHECK(good.code == 0);
    CHECK(contains(good.out, "OK"));

    const auto bytes = read_bytes(workdir() / db);
    const auto table = sections_of(bytes);
    auto corrupt_copy = [&](format::SectionKind kind, const std::string& name) {
        auto copy = bytes;
        for (const auto& s : table) {
            if (s.kind != static_cast<std::uint32_t>(kind)) continue;
            REQUIRE(s.stored_size > 0);
            copy[s.offset + s.stored_size / 2] ^= std::byte{0x5a};
        }
        write_bytes(workdir() / name, copy);
    };

    // A cold section: the file opens, so lookups work, but verify and explain refuse it.
    corrupt_copy(format::SectionKind::metadata, "cold.anondb");
    const CliRun cold = run({"verify", "-d", "cold.anondb"});
    CHECK(cold.code == 1);
    CHECK(contains(cold.err, "cold.anondb"));
    CHECK(contains(cold.err, "checksum"));
    CHECK(contains(cold.err, "metadata"));
    CHECK(run({"lookup", "-d", "cold.anondb", "192.0.2.1"}).code == 0);
    CHECK(run({"explain", "-d", "cold.anondb", "192.0.2.1"}).code == 1);

    // A hot section: nothing opens it.
    corrupt_copy(format::SectionKind::v4_starts, "hot.anondb");
    const CliRun hot = run({"verify", "-d", "hot.anondb"});
    CHECK(hot.code == 1);
    CHECK(contains(hot.err, "v4_starts"));
    CHECK(run({"lookup", "-d", "hot.anondb", "192.0.2.1"}).code == 1);
    CHECK(run({"info", "-d", "hot.anondb"}).code == 1);
}

TEST_CASE("build --sign and verify --key: a signed file verifies with its key only, and a changed byte fails") {
    // Keys made as docs/SECURITY.md tells: openssl genpkey / pkey -pubout.
    for (const char* cmd : {"openssl genpkey -algorithm ed25519 -out sign.key.pem",
                            "openssl pkey -in sign.key.pem -pubout -out sign.pub.pem",
                            "openssl genpkey -algorithm ed25519 -out other.key.pem",
                            "openssl pkey -in other.key.pem -pubout -out other.pub.pem"})
        REQUIRE_MESSAGE(run_shell(cmd).code == 0, cmd);
    const CliRun b = run({"build", "--offline", "--feeds", kFeeds, "-o", "signed.anondb", "--build-time", "2026-01-01",
                          "--sign", "sign.key.pem"});
    INFO(b.err);
    REQUIRE(b.code == 0);
    // Signing adds a section and nothing else: the unsigned build's answers.
    for (const char* ip : {"185.220.101.1", "3.5.140.1", "192.0.2.1"})
        CHECK(run({"lookup", "-d", "signed.anondb", ip}).out == run({"lookup", "-d", database(), ip}).out);

    const CliRun good = run({"verify", "-d", "signed.anondb", "--key", "sign.pub.pem"});
    INFO(good.out << good.err);
    CHECK(good.code == 0);
    CHECK(contains(good.out, "signature good"));
    const CliRun info = run({"info", "-d", "signed.anondb"});
    CHECK(contains(info.out, "signature       Ed25519, key SHA256:"));
    const CliRun other = run({"verify", "-d", "signed.anondb", "--key", "other.pub.pem"});
    CHECK(other.code == 1);
    CHECK(contains(other.err, "another key"));
    const CliRun unsigned_db = run({"verify", "-d", database(), "--key", "sign.pub.pem"});
    CHECK(unsigned_db.code == 1);
    CHECK(contains(unsigned_db.err, "not signed"));
    // Without --key, verify says the file names a signer it did not check.
    CHECK(contains(run({"verify", "-d", "signed.anondb"}).out, "not checked"));

    // A byte of padding between two sections: no checksum covers it and no
    // check reads it, so verify without a key still passes; the signature
    // covers every byte and fails.
    auto bytes = read_bytes(workdir() / "signed.anondb");
    auto table = sections_of(bytes);
    std::sort(table.begin(), table.end(), [](const auto& x, const auto& y) { return x.offset < y.offset; });
    std::size_t pad = 0;
    for (std::size_t i = 0; i + 1 < table.size() && pad == 0; ++i)
        if (table[i].offset + table[i].stored_size < table[i + 1].offset) pad = table[i].offset + table[i].stored_size;
    REQUIRE(pad != 0);
    bytes[pad] ^= std::byte{0x01};
    write_bytes(workdir() / "forged.anondb", bytes);
    CHECK(run({"verify", "-d", "forged.anondb"}).code == 0);
    const CliRun forged = run({"verify", "-d", "forged.anondb", "--key", "sign.pub.pem"});
    CHECK(forged.code == 1);
    CHECK(contains(forged.err, "does not match"));

    const CliRun missing = run({"build", "--offline", "--feeds", kFeeds, "-o", "x.anondb", "--sign", "no-such.pem"});
    CHECK(missing.code != 0);
    CHECK(contains(missing.err, "no-such.pem"));
    CHECK_FALSE(fs::exists(workdir() / "x.anondb"));
}

TEST_CASE("a missing database is exit 1 with a message naming the path") {
    for (std::string_view cmd : {"lookup", "explain", "info", "verify"}) {
        const CliRun r = cmd == "lookup" || cmd == "explain" ? run({cmd, "-d", "missing/none.anondb", "192.0.2.1"})
                                                             : run({cmd, "-d", "missing/none.anondb"});
        INFO(cmd << ": " << r.err);
        CHECK(r.code == 1);
        CHECK(contains(r.err, "missing/none.anondb"));
    }
}

TEST_CASE("usage: unknown commands and options exit 2, --help exits 0") {
    CHECK(run({}).code == 2);
    CHECK(run({"frobnicate"}).code == 2);
    CHECK(run({"lookup", "--bogus", "192.0.2.1"}).code == 2);
    CHECK(run({"build", "--offline", "--no-such-option"}).code == 2);
    CHECK(run({"explain"}).code == 2);  // the address is required
    CHECK(run({"info", "extra-argument"}).code == 2);

    const CliRun top = run({"--help"});
    CHECK(top.code == 0);
    for (std::string_view cmd : {"build", "lookup", "explain", "info", "verify", "export"}) CHECK(contains(top.out, cmd));
    const std::pair<std::string_view, std::string_view> helps[] = {
        {"build", "--feeds"}, {"lookup", "--db"}, {"explain", "--json"}, {"info", "--db"}, {"verify", "--db"}};
    for (const auto& [cmd, option] : helps) {
        const CliRun r = run({cmd, "--help"});
        INFO(cmd);
        CHECK(r.code == 0);
        CHECK(contains(r.out, option));
    }
    const CliRun version = run({"--version"});
    CHECK(version.code == 0);
    CHECK(contains(version.out, "anondb"));
}

TEST_CASE("hostile feed text: rejects and evidence are printed with control bytes escaped") {
    // A feed whose lines carry terminal escape sequences: one rejected, one
    // accepted (its quoted line is shown by explain).
    const std::string esc = "\x1b[31m";
    write_text(workdir() / "hostile.txt", "5.188.10.7 # " + esc + "red\nju" + esc + "nk\n");
    write_text(workdir() / "hostile.yaml",
               "version: 1\nfeeds:\n  - name: hostile\n    url: https://example.org/list\n    format: plain\n"
               "    category: proxy\n    license: test\n    snapshot: hostile.txt\n");
    const CliRun b = run({"build", "--offline", "--feeds", "hostile.yaml", "-o", "hostile.anondb", "--build-time", "0"});
    INFO(b.out << b.err);
    REQUIRE(b.code == 0);
    CHECK(contains(b.out, "first at line 2: ju\\x1b[31mnk"));
    CHECK_FALSE(contains(b.out, esc));

    const CliRun e = run({"explain", "-d", "hostile.anondb", "5.188.10.7"});
    REQUIRE(e.code == 0);
    CHECK(contains(e.out, "line     1: 5.188.10.7 # \\x1b[31mred"));
    CHECK_FALSE(contains(e.out, esc));

    const CliRun l = run({"lookup", "-d", "hostile.anondb"}, "bad" + esc + "\n");
    CHECK(l.code == 3);
    CHECK(contains(l.out, "bad\\x1b[31m"));
    CHECK_FALSE(contains(l.out, esc));
}

// ---- ASN attribution ---------------------------------------------------------
// Expected values come from libloc's own API on the Debian database and from
// the repository's CSV files, not from anondb's ASN code.

namespace {

const std::string kLocationDb = "/usr/share/libloc-location/location.db";

struct LocNetwork {
    std::string network;  // as libloc writes it
    std::string first;    // its first address
};

// The first network the IPFire database gives `asn` whose first address
// libloc's own longest-prefix lookup also attributes to `asn`.
std::optional<LocNetwork> libloc_network_of(std::uint32_t asn) {
    loc_ctx* ctx = nullptr;
    REQUIRE(loc_new(&ctx) == 0);
    FILE* f = std::fopen(kLocationDb.c_str(), "r");
    REQUIRE(f != nullptr);
    loc_database* db = nullptr;
    REQUIRE(loc_database_new(ctx, &db, f) == 0);
    loc_database_enumerator* e = nullptr;
    REQUIRE(loc_database_enumerator_new(&e, db, LOC_DB_ENUMERATE_NETWORKS, 0) == 0);
    std::optional<LocNetwork> out;
    loc_network* n = nullptr;
    while (!out && loc_database_enumerator_next_network(e, &n) == 0 && n) {
        if (loc_network_get_asn(n) == asn) {
            const std::string first = loc_network_format_first_address(n);
            loc_network* hit = nullptr;
            if (loc_database_lookup_from_string(db, first.c_str(), &hit) == 0 && hit) {
                if (loc_network_get_asn(hit) == asn) out = LocNetwork{loc_network_str(n), first};
                loc_network_unref(hit);
            }
        }
        loc_network_unref(n);
    }
    loc_database_enumerator_unref(e);
    loc_database_unref(db);
    std::fclose(f);
    loc_unref(ctx);
    return out;
}

// The lines of a repository CSV that start with `prefix`, with their numbers.
std::vector<std::pair<std::uint32_t, std::string>> csv_lines(const std::string& relative, std::string_view prefix = "") {
    std::vector<std::pair<std::uint32_t, std::string>> out;
    const auto lines = split_lines<std::string>(read_repo_file(relative));
    for (std::size_t i = 0; i < lines.size(); ++i)
        if (lines[i].rfind(prefix, 0) == 0) out.push_back({static_cast<std::uint32_t>(i + 1), lines[i]});
    return out;
}

}  // namespace

TEST_CASE("ASN attribution: a VPN provider's network shows the provider, and explain gives both links") {
    const auto& db = database();
    // The first VPN row of providers.csv whose AS holds an address per libloc.
    std::string provider, row_text;
    std::uint32_t asn = 0, row_line = 0;
    std::optional<LocNetwork> net;
    for (const auto& [line, text] : csv_lines("data/providers/providers.csv")) {
        const auto at = text.find(",vpn,AS");
        if (at == std::string::npos) continue;
        const std::uint32_t a = static_cast<std::uint32_t>(std::stoul(text.substr(at + 7)));
        net = libloc_network_of(a);
        if (!net) continue;
        provider = text.substr(0, at);
        if (provider.size() > 1 && provider.front() == '"') provider = provider.substr(1, provider.size() - 2);
        asn = a;
        row_line = line;
        row_text = text;
        break;
    }
    REQUIRE(net);
    INFO("AS" << asn << " " << provider << " network " << net->network << " address " << net->first);

    const CliRun text = run({"lookup", "-d", db, net->first});
    INFO(text.out << text.err);
    REQUIRE(text.code == 0);
    CHECK(contains(text.out, "vpn"));
    CHECK(contains(text.out, "provider " + provider));
    CHECK(contains(text.out, "AS" + std::to_string(asn)));

    const CliRun json = run({"lookup", "--json", "-d", db, net->first});
    const auto doc = parse_json(json.out);
    REQUIRE(doc["provider"].IsString());
    CHECK(std::string(doc["provider"].GetString()) == provider);
    REQUIRE(doc["asn"].IsUint());
    CHECK(doc["asn"].GetUint() == asn);
    const auto cats = json_strings(doc["categories"]);
    CHECK(std::find(cats.begin(), cats.end(), "vpn") != cats.end());
    CHECK(doc["anonymous"].GetBool());

    // Both links of the chain, each with its feed's fetch record.
    const std::string list_sha = sha256_hex(read_repo_file("data/providers/providers.csv"));
    const std::string table_sha = sha256_hex(read_text(kLocationDb));
    const CliRun ex = run({"explain", "-d", db, net->first});
    INFO(ex.out);
    REQUIRE(ex.code == 0);
    CHECK(contains(ex.out, "feed anondb-provider-asns"));
    CHECK(contains(ex.out, std::to_string(row_line) + ": " + row_text));
    CHECK(contains(ex.out, "ASN table ipfire-location"));
    CHECK(contains(ex.out, net->network));
    CHECK(contains(ex.out, list_sha));
    CHECK(contains(ex.out, table_sha));
    CHECK(contains(ex.out, kLocationDb));

    const CliRun exj = run({"explain", "--json", "-d", db, net->first});
    const auto e = parse_json(exj.out);
    int chains = 0;
    for (const auto& ev : e["evidence"].GetArray()) {
        if (std::string(ev["feed"].GetString()) != "anondb-provider-asns") continue;
        ++chains;
        CHECK(ev["line"].GetUint() == row_line);
        CHECK(std::string(ev["text"].GetString()) == row_text);
        CHECK(std::string(ev["sha256"].GetString()) == list_sha);
        CHECK(ev["asn"].GetUint() == asn);
        REQUIRE(ev.HasMember("table_row"));
        const auto& row = ev["table_row"];
        CHECK(std::string(row["feed"].GetString()) == "ipfire-location");
        CHECK(std::string(row["source"].GetString()) == kLocationDb);
        CHECK(std::string(row["sha256"].GetString()) == table_sha);
        CHECK(contains(row["text"].GetString(), net->network));
    }
    CHECK(chains == 1);
}

TEST_CASE("ASN attribution: an excluded AS flags nothing, and explain names the rule") {
    const auto& db = database();
    const auto rules = csv_lines("data/exclusions.csv", "asn,AS15169,");
    REQUIRE(rules.size() == 1);
    const auto net = libloc_network_of(15169);
    REQUIRE(net);
    INFO("network " << net->network);

    const CliRun json = run({"lookup", "--json", "-d", db, net->first});
    const auto doc = parse_json(json.out);
    CHECK((doc["asn"].IsNull() || doc["asn"].GetUint() != 15169));

    const CliRun exj = run({"explain", "--json", "-d", db, net->first});
    const auto e = parse_json(exj.out);
    REQUIRE(e["exclusions"].IsArray());
    int removed = 0;
    for (const auto& x : e["exclusions"].GetArray()) {
        CHECK(std::string(x["rule"]["feed"].GetString()) == "anondb-exclusions");
        CHECK(x["rule"]["line"].GetUint() == rules[0].first);
        CHECK(std::string(x["rule"]["text"].GetString()) == rules[0].second);
        CHECK(x["removed"]["asn"].GetUint() == 15169);
        CHECK(range_contains(x["range"].GetString(), net->first));
        ++removed;
    }
    CHECK(removed >= 1);  // X4BNet's datacenter list names AS15169
    for (const auto& ev : e["evidence"].GetArray()) CHECK((ev["asn"].IsNull() || ev["asn"].GetUint() != 15169));

    const CliRun ex = run({"explain", "-d", db, net->first});
    CHECK(contains(ex.out, "removed by anondb-exclusions line " + std::to_string(rules[0].first)));
}

TEST_CASE("export --format mmdb: mmdblookup reads a Tor exit as is_tor_exit_node and is_anonymous") {
    const auto& db = database();
    const TorExit exit = pick_tor_exit();
    const CliRun x = run({"export", "--format", "mmdb", "-d", db, "export.mmdb"});
    INFO(x.out << x.err);
    REQUIRE(x.code == 0);
    REQUIRE(fs::file_size(workdir() / "export.mmdb") > 0);

    // mmdblookup (Debian mmdb-bin, libmaxminddb's own client) on the file.
    const CliRun m = run_shell("mmdblookup --file export.mmdb --ip " + exit.address);
    INFO(m.out << m.err);
    REQUIRE(m.code == 0);
    auto key_true = [&](const std::string& key) {
        const auto at = m.out.find("\"" + key + "\"");
        return at != std::string::npos && m.out.substr(at, 80).find("true <boolean>") != std::string::npos;
    };
    CHECK(key_true("is_tor_exit_node"));
    CHECK(key_true("is_anonymous"));
    CHECK(contains(m.out, "tor-exit-addresses"));  // among the sources
    // The same address as IPv4-mapped IPv6 answers the same.
    const CliRun mapped = run_shell("mmdblookup --file export.mmdb --ip ::ffff:" + exit.address);
    CHECK(mapped.out == m.out);
    // An address no feed lists has no entry.
    const CliRun none = run_shell("mmdblookup --file export.mmdb --ip 192.0.2.1");
    CHECK(contains(none.out + none.err, "Could not find an entry"));

    // Python's maxminddb module (Debian python3-maxminddb, hence Debian's own
    // /usr/bin/python3, not whatever python3 is first on PATH), in its pure-Python
    // mode: a second, independent reader of the format.
    write_text(workdir() / "read_mmdb.py",
               "import json, sys, maxminddb\n"
               "db = maxminddb.open_database(sys.argv[1], maxminddb.MODE_FILE)\n"
               "for ip in sys.argv[2:]:\n"
               "    print(json.dumps(db.get(ip), sort_keys=True))\n");
    const CliRun py = run_shell("/usr/bin/python3 read_mmdb.py export.mmdb " + exit.address + " ::ffff:" + exit.address + " 192.0.2.1");
    INFO(py.out << py.err);
    REQUIRE(py.code == 0);
    const auto rows = split_lines<std::string>(py.out);
    REQUIRE(rows.size() == 3);
    const auto first = parse_json(rows[0]);
    CHECK(first["is_tor_exit_node"].GetBool());
    CHECK(first["is_anonymous"].GetBool());
    CHECK(rows[1] == rows[0]);
    CHECK(rows[2] == "null");
    // Against the native reader: the same provider and AS.
    const CliRun native = run({"lookup", "--json", "-d", db, exit.address});
    const auto n = parse_json(native.out);
    if (n["provider"].IsString()) CHECK(std::string(first["provider_name"].GetString()) == n["provider"].GetString());
    if (n["asn"].IsUint()) CHECK(first["autonomous_system_number"].GetUint() == n["asn"].GetUint());

    CHECK(run({"export", "--format", "xml", "-d", db, "x.xml"}).code == 2);  // not a format
    CHECK(run({"export", "-d", "missing.anondb", "x.mmdb"}).code == 1);
}

TEST_CASE("export --format cidr: filtered by category, read back against lookup") {
    const auto& db = database();
    const TorExit exit = pick_tor_exit();
    const CliRun x = run({"export", "--format", "cidr", "--category", "tor_exit", "--family", "v4", "-d", db, "tor.txt"});
    INFO(x.out << x.err);
    REQUIRE(x.code == 0);
    bool covered = false;
    std::size_t lines = 0;
    for (const auto& l : split_lines<std::string>(read_text(workdir() / "tor.txt"))) {
        if (l.empty()) continue;
        ++lines;
        const auto r = anondb::parse_range(l);
        REQUIRE(r);
        CHECK(r->range.first.is_v4());
        covered |= range_contains(l, exit.address);
        // Every listed range's first address is a Tor exit per lookup.
        if (lines % 50 == 1) {
            const CliRun one = run({"lookup", "--json", "-d", db, anondb::format_ip(r->range.first)});
            const auto cats = json_strings(parse_json(one.out)["categories"]);
            CHECK(std::find(cats.begin(), cats.end(), "tor_exit") != cats.end());
        }
    }
    CHECK(covered);
    CHECK(lines > 500);
    // To standard output, and the other plain formats parse as what they claim.
    const CliRun out = run({"export", "--format", "jsonl", "--category", "tor_exit", "-d", db, "-"});
    REQUIRE(out.code == 0);
    const auto rows = split_lines<std::string>(out.out);
    REQUIRE(rows.size() > 100);
    CHECK(parse_json(rows[0]).HasMember("sources"));
    CHECK(run({"export", "--format", "cidr", "--category", "no_such", "-d", db, "-"}).code == 2);
}

namespace {

// "Number of entries: N" of `ipset list -t` output.
std::size_t ipset_entries(const std::string& listing) {
    const auto at = listing.find("Number of entries: ");
    REQUIRE(at != std::string::npos);
    return std::stoul(listing.substr(at + 19));
}

}  // namespace

TEST_CASE("export --format nft and ipset: the real tools load the whole snapshot export") {
    const auto& db = database();
    REQUIRE(run({"export", "--format", "cidr", "-d", db, "all.txt"}).code == 0);
    std::size_t v4 = 0, v6 = 0;
    for (const auto& l : split_lines<std::string>(read_text(workdir() / "all.txt")))
        (l.find(':') == std::string::npos ? v4 : v6) += 1;
    REQUIRE(v4 > 65536);  // past ipset's default maxelem: the export must raise it
    REQUIRE(v6 > 0);

    REQUIRE(run({"export", "--format", "nft", "-d", db, "all.nft"}).code == 0);
    if (run_shell("command -v nft").code != 0) {
        MESSAGE("nft not installed (Debian package nftables): check skipped");
    } else {
        // -c: parse and check against the kernel, commit nothing.
        const CliRun nft = run_shell("nft -c -f all.nft");
        CHECK_MESSAGE(nft.code == 0, nft.err);
    }

    REQUIRE(run({"export", "--format", "ipset", "-d", db, "all.ipset"}).code == 0);
    // The sets are really created, in a network namespace of their own that
    // goes away with the command.
    const CliRun ipset = run_shell(
        "command -v ipset >/dev/null && unshare -n sh -c "
        "'ipset restore < all.ipset && ipset list -t anondb_v4 && echo ==== && ipset list -t anondb_v6'");
    if (ipset.code != 0 && (run_shell("command -v ipset").code != 0 || contains(ipset.err, "unshare"))) {
        MESSAGE("ipset or a network namespace is not available here: check skipped (" << ipset.err << ")");
        return;
    }
    REQUIRE_MESSAGE(ipset.code == 0, ipset.err);
    const auto sep = ipset.out.find("====");
    REQUIRE(sep != std::string::npos);
    CHECK(ipset_entries(ipset.out.substr(0, sep)) == v4);
    CHECK(ipset_entries(ipset.out.substr(sep)) == v6);
}

TEST_CASE("lookup --column: a CSV of cases annotated in place, bad rows reported with their line") {
    const auto& db = database();
    const TorExit exit = pick_tor_exit();
    const std::string csv = "case,ip,note\n"
                            "c1," + exit.address + ",\"seen, twice\"\n"
                            "c2,192.0.2.1,x\n"
                            "c3,not-an-ip,y\n"
                            "c4,\"::ffff:" + exit.address + "\",z\n";
    write_text(workdir() / "cases.csv", csv);
    const CliRun r = run({"lookup", "-d", db, "--column", "ip", "-f", "cases.csv"});
    CHECK(r.code == 3);
    CHECK(contains(r.err, "cases.csv: 1 of 4 lines were not IP addresses (first at line 4)"));
    const auto lines = split_lines<std::string>(r.out);
    REQUIRE(lines.size() == 5);
    CHECK(lines[0] == "case,ip,note,anondb_flagged,anondb_anonymous,anondb_categories,anondb_provider,anondb_asn,"
                      "anondb_range,anondb_error");
    // Each row as the JSON lookup of the same address says.
    const auto want = parse_json(run({"lookup", "--json", "-d", db, exit.address}).out);
    const std::string cats = [&] {
        std::string s;
        for (const auto& c : json_strings(want["categories"])) s += (s.empty() ? "" : "|") + c;
        return s;
    }();
    CHECK(contains(cats, "tor_exit"));
    const std::string tail = std::string(",true,true,") + cats + ",";
    CHECK(lines[1].starts_with("c1," + exit.address + ",\"seen, twice\"" + tail));
    CHECK(lines[4].starts_with("c4,\"::ffff:" + exit.address + "\",z" + tail));
    // An unflagged row: empty categories, provider and AS; its range holds the address.
    REQUIRE(lines[2].starts_with("c2,192.0.2.1,x,false,false,,,,"));
    REQUIRE(lines[2].back() == ',');
    const std::string range = lines[2].substr(30, lines[2].size() - 31);
    const auto parsed = anondb::parse_range(range);
    REQUIRE_MESSAGE(parsed, range);
    CHECK(parsed->range.contains(anondb::parse_ip("192.0.2.1")->ip));
    CHECK(lines[3] == "c3,not-an-ip,y,,,,,,,not an IP address");
    // A column the header does not have is a usage error naming file and line.
    const CliRun missing = run({"lookup", "-d", db, "--column", "addr", "-f", "cases.csv"});
    CHECK(missing.code == 2);
    CHECK(contains(missing.err, "cases.csv: line 1: no column named 'addr'"));
}

TEST_CASE("lookup --geo: country, city and location_reliable in text, json and csv, and bad databases exit 1") {
    // A database of our own over places in MaxMind's City test database
    // (fake data; tests/data/mmdb/SOURCES.md): a Tor exit in London, a VPN in
    // Linköping, a hosting range in Milton; 2.125.160.216 (Boxford) unflagged.
    write_text(workdir() / "geo-tor.txt", "81.2.69.142\n2001:218::1\n");
    write_text(workdir() / "geo-vpn.txt", "89.160.20.112/28\n");
    write_text(workdir() / "geo-hosting.txt", "216.160.83.56/29\n");
    std::string yaml = "version: 1\nfeeds:\n";
    for (const auto& [name, category] : {std::pair{"geo-tor", "tor_exit"}, {"geo-vpn", "vpn"}, {"geo-hosting", "hosting"}})
        yaml += std::string("  - name: ") + name + "\n    url: https://example.org/" + name + "\n    format: plain\n" +
                "    category: " + category + "\n    license: test\n    snapshot: " + name + ".txt\n";
    write_text(workdir() / "geo.yaml", yaml);
    const CliRun b = run({"build", "--offline", "--feeds", "geo.yaml", "-o", "geo.anondb", "--build-time", "2026-01-01"});
    INFO(b.out << b.err);
    REQUIRE(b.code == 0);
    const std::string city = kRepo + "/tests/data/mmdb/GeoIP2-City-Test.mmdb";
    const std::string country = kRepo + "/tests/data/mmdb/GeoLite2-Country-Test.mmdb";
    const std::string tor_caveat = "tor_exit: the location is the Tor exit relay's, not the user's";
    const std::string vpn_caveat = "vpn: the location is the VPN server's, not the user's";
    const std::string hosting_caveat = "hosting: a datacenter address; the user may be behind it";

    const CliRun t = run({"lookup", "-d", "geo.anondb", "--geo", city, "81.2.69.142", "89.160.20.113", "216.160.83.57",
                          "2.125.160.216", "2001:218::1", "8.8.8.8"});
    INFO(t.out << t.err);
    REQUIRE(t.code == 0);
    const auto lines = split_lines<std::string>(t.out);
    REQUIRE(lines.size() == 6);
    CHECK(lines[0].starts_with("81.2.69.142  tor_exit  anonymous  "));
    CHECK(lines[0].ends_with(")  country GB (United Kingdom)  city London  location unreliable: " + tor_caveat));
    CHECK(lines[1].ends_with(")  country SE (Sweden)  city Link\xc3\xb6ping  location unreliable: " + vpn_caveat));
    CHECK(lines[2].starts_with("216.160.83.57  hosting  provider -  "));
    CHECK(lines[2].ends_with(")  country US (United States)  city Milton  location unreliable: " + hosting_caveat));
    CHECK(lines[3].starts_with("2.125.160.216  not flagged  "));
    CHECK(lines[3].ends_with(")  country GB (United Kingdom)  city Boxford"));
    CHECK(lines[4].ends_with(")  country JP (Japan)  location unreliable: " + tor_caveat));
    CHECK(lines[5].ends_with(")  no location"));
    // The same lines as without --geo, up to the location.
    const CliRun plain = run({"lookup", "-d", "geo.anondb", "81.2.69.142", "89.160.20.113", "216.160.83.57",
                              "2.125.160.216", "2001:218::1", "8.8.8.8"});
    REQUIRE(plain.code == 0);
    const auto plain_lines = split_lines<std::string>(plain.out);
    REQUIRE(plain_lines.size() == 6);
    for (std::size_t i = 0; i < 6; ++i) {
        CHECK(lines[i].starts_with(plain_lines[i] + "  "));
        CHECK_FALSE(contains(plain_lines[i], "country"));
    }

    const CliRun j = run({"lookup", "--json", "-d", "geo.anondb", "--geo", country, "81.2.69.142", "2.125.160.216", "8.8.8.8"});
    REQUIRE(j.code == 0);
    const auto jl = split_lines<std::string>(j.out);
    REQUIRE(jl.size() == 3);
    const auto tor = parse_json(jl[0]);
    CHECK(std::string(tor["country"].GetString()) == "GB");
    CHECK(std::string(tor["country_name"].GetString()) == "United Kingdom");
    CHECK(tor["city"].IsNull());  // a Country database
    CHECK_FALSE(tor["location_reliable"].GetBool());
    CHECK(std::string(tor["location_caveat"].GetString()) == tor_caveat);
    const auto user = parse_json(jl[1]);
    CHECK(std::string(user["country"].GetString()) == "GB");
    CHECK(user["location_reliable"].GetBool());
    CHECK(user["location_caveat"].IsNull());
    const auto nowhere = parse_json(jl[2]);
    CHECK(nowhere["country"].IsNull());
    CHECK(nowhere["location_reliable"].IsNull());
    CHECK(contains(nowhere["location_caveat"].GetString(), "no location"));

    write_text(workdir() / "geo-cases.csv", "case,ip\nc1,81.2.69.142\nc2,2.125.160.216\n");
    const CliRun c = run({"lookup", "-d", "geo.anondb", "--geo", city, "--column", "ip", "-f", "geo-cases.csv"});
    REQUIRE(c.code == 0);
    const auto rows = split_lines<std::string>(c.out);
    REQUIRE(rows.size() == 3);
    CHECK(rows[0] == "case,ip,anondb_flagged,anondb_anonymous,anondb_categories,anondb_provider,anondb_asn,anondb_range,"
                     "anondb_error,anondb_country,anondb_country_name,anondb_city,anondb_location_reliable,"
                     "anondb_location_caveat");
    CHECK(rows[1].ends_with(",GB,United Kingdom,London,false,\"" + tor_caveat + "\""));  // it holds a comma
    CHECK(rows[2].ends_with(",GB,United Kingdom,Boxford,true,"));

    // An ASN database, a missing file and a file that is no MaxMind DB: exit 1, naming the file.
    write_text(workdir() / "not-a.mmdb", "81.2.69.142,GB\n");
    const std::string asn = kRepo + "/tests/data/mmdb/GeoLite2-ASN-Test.mmdb";
    for (const std::string& bad : {asn, std::string("missing/none.mmdb"), std::string("not-a.mmdb")}) {
        const CliRun r = run({"lookup", "-d", "geo.anondb", "--geo", bad, "81.2.69.142"});
        INFO(bad << ": " << r.err);
        CHECK(r.code == 1);
        CHECK(contains(r.err, bad));
        CHECK(r.out.empty());
    }
    CHECK(contains(run({"lookup", "-d", "geo.anondb", "--geo", asn, "81.2.69.142"}).err,
                   "database_type 'GeoLite2-ASN' is not a City or Country database"));
}
