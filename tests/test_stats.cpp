// anondb stats (builder/stats): every figure checked against counts the test
// makes itself.
//
// - The snapshot cases build a small database with the real binary from
//   the repository's snapshot files (Tor exit list, X4BNet VPN lists,
//   Cloudflare's and Apple's ranges), and decide each address's categories
//   and provider by reading those files here (inet_pton, 128-bit ranges),
//   never through anondb's parsers or reader.
// - The property cases run the collector in process on random databases
//   (test_db.hpp) and compare with the brute-force Oracle's answer of each
//   address, counted per line and per distinct address.
#include <arpa/inet.h>
#include <fcntl.h>
#include <rapidjson/document.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "anondb/builder/stats.hpp"
#include "test_db.hpp"

using namespace anondb;
using namespace anondb::test;
namespace fs = std::filesystem;

namespace {

// ---- running the CLI -------------------------------------------------------------------

const fs::path& workdir() {
    static const TempDir w("anondb-stats");
    return w.path;
}

// The CLI with `args` in the working directory (test_util.hpp's run_cli);
// stdin from `input` (nullopt: /dev/null).
CliRun run(std::initializer_list<std::string_view> args, const std::optional<std::string>& input = std::nullopt) {
    return run_cli(workdir(), args, input);
}

rapidjson::Document parse_json(const std::string& text) {
    rapidjson::Document d;
    d.Parse<rapidjson::kParseFullPrecisionFlag>(text.c_str(), text.size());  // shares compare exactly
    REQUIRE_MESSAGE(!d.HasParseError(), text);
    REQUIRE(d.IsObject());
    return d;
}

std::string json_string(const rapidjson::Value& v) {
    REQUIRE(v.IsString());
    return std::string(v.GetString(), v.GetStringLength());
}

// ---- the figures, as the test counts them ------------------------------------------

constexpr std::array<std::string_view, 6> kCategories = {"tor_exit", "vpn",     "proxy",
                                                         "relay",    "hosting", "residential_proxy"};

struct Fig {
    std::uint64_t count = 0, unique = 0;
};

// What one address is: its category names and provider ("" = none).
struct Facts {
    std::set<std::string> categories;
    std::string provider;
    bool bare = false;  // flagged with no category (random databases have such answers)
    bool flagged() const { return bare || !categories.empty(); }
    // README: anonymous is any category but hosting.
    bool anonymous() const {
        for (const auto& c : categories)
            if (c != "hosting") return true;
        return false;
    }
};

struct Figures {
    std::uint64_t lines = 0, addresses = 0, invalid = 0, first_invalid = 0, unique = 0;
    std::map<std::string, Fig> rows;  // flagged, anonymous, named provider, each category
    // Named providers: count descending, then name in byte order.
    std::vector<std::pair<std::string, Fig>> providers;
};

// Counts lines: each valid line as (distinct key, facts); nullopt for a
// line that is not an address; skipped lines are not given.
class Counter {
public:
    void skipped() { ++want_.lines; }
    void invalid() {
        ++want_.lines;
        ++want_.invalid;
        if (want_.first_invalid == 0) want_.first_invalid = want_.lines;
    }
    // `times` lines of one address (in a row: only for input without invalid lines).
    void address(U128 key, const Facts& f, std::uint64_t times = 1) {
        want_.lines += times;
        want_.addresses += times;
        const auto [it, fresh] = seen_.try_emplace(key, f);
        if (!fresh) REQUIRE_MESSAGE(it->second.categories == f.categories, "test bug: one address, two answers");
        add(f, &Fig::count, times);
    }
    Figures finish() {
        for (const auto& [key, f] : seen_) add(f, &Fig::unique, 1);
        want_.unique = seen_.size();
        for (const auto c : kCategories) want_.rows[std::string(c)];  // every category, zeros too
        for (const char* r : {"flagged", "anonymous", "named provider"}) want_.rows[r];
        want_.providers.assign(providers_.begin(), providers_.end());
        std::sort(want_.providers.begin(), want_.providers.end(), [](const auto& a, const auto& b) {
            return a.second.count != b.second.count ? a.second.count > b.second.count : a.first < b.first;
        });
        return want_;
    }

private:
    void add(const Facts& f, std::uint64_t Fig::*m, std::uint64_t n) {
        if (!f.flagged()) return;
        want_.rows["flagged"].*m += n;
        if (f.anonymous()) want_.rows["anonymous"].*m += n;
        for (const auto& c : f.categories) want_.rows[c].*m += n;
        if (!f.provider.empty()) {
            want_.rows["named provider"].*m += n;
            providers_[f.provider].*m += n;
        }
    }
    Figures want_;
    std::map<U128, Facts> seen_;
    std::map<std::string, Fig> providers_;
};

// ---- the printed forms, from the spec ------------------------------------------------------

// Tenths of a percent rounded half up, "-" of nothing.
std::string percent(std::uint64_t count, std::uint64_t total) {
    if (total == 0) return "-";
    const U128 scaled = U128{count} * 1000;
    auto tenths = static_cast<std::uint64_t>(scaled / total);
    if (2 * (scaled % total) >= total) ++tenths;
    return std::to_string(tenths / 10) + "." + std::to_string(tenths % 10) + "%";
}
// N of "1 in N": total / count rounded half up.
std::uint64_t ratio(std::uint64_t count, std::uint64_t total) {
    std::uint64_t n = total / count;
    if (2 * (total % count) >= count) ++n;
    return n;
}
std::string cell(std::uint64_t count, std::uint64_t total, bool with_ratio) {
    std::string s = std::to_string(count) + " of " + std::to_string(total) + " (" + percent(count, total);
    if (with_ratio && count > 0) s += ", 1 in " + std::to_string(ratio(count, total));
    return s + ")";
}

std::string trim_spaces(std::string_view s) {
    while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
    while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
    return std::string(s);
}

// Control bytes as \xNN, as the text output must show feed text.
std::string escaped(std::string_view s) {
    static const char hex[] = "0123456789abcdef";
    std::string out;
    for (const unsigned char c : s) {
        if (c < 0x20 || c == 0x7f) out += std::string("\\x") + hex[c >> 4] + hex[c & 15];
        else out += static_cast<char>(c);
    }
    return out;
}

// The text output: every figure row as the spec prints it, the two columns
// aligned, the providers listed `top` at most.
void check_text(const std::string& out, const Figures& w, std::string_view source, std::size_t top) {
    CAPTURE(out);
    const auto lines = split_lines<std::string>(out);
    std::map<std::string, std::string> value;  // label -> the rest, for the input block
    std::size_t at = 0;
    for (; at < lines.size() && !lines[at].empty(); ++at) {
        const auto gap = lines[at].find("  ");
        REQUIRE(gap != std::string::npos);
        value[lines[at].substr(0, gap)] = trim_spaces(lines[at].substr(gap));
    }
    CHECK(value["input"] == escaped(source));
    CHECK(value["lines read"] == std::to_string(w.lines));
    CHECK(value["addresses"] == std::to_string(w.addresses));
    CHECK(value["invalid lines"] == (w.invalid == 0 ? std::string("0")
                                                      : std::to_string(w.invalid) + "  (first at line " +
                                                            std::to_string(w.first_invalid) + ")"));
    CHECK(value["unique addresses"] == std::to_string(w.unique));
    CHECK(value.size() == 5);

    // A figure row: its label, then two cells at least three blanks apart.
    std::vector<std::size_t> of1, of2;  // the columns of each row's " of ": aligned
    auto column = [](const std::string& line, std::size_t pos) {  // UTF-8 continuation bytes take none
        REQUIRE(pos != std::string::npos);
        return static_cast<std::size_t>(std::count_if(line.begin(), line.begin() + static_cast<std::ptrdiff_t>(pos),
                                                      [](char c) { return (c & 0xc0) != 0x80; }));
    };
    auto row = [&](const std::string& line, const std::string& label, const Fig& f, bool with_ratio) {
        CAPTURE(line);
        REQUIRE(line.starts_with(label + "  "));
        const std::string rest = line.substr(label.size());
        const std::string cells = trim_spaces(rest);
        const auto split = cells.find("   ");
        REQUIRE(split != std::string::npos);
        CHECK(trim_spaces(cells.substr(0, split)) == cell(f.count, w.addresses, with_ratio));
        CHECK(trim_spaces(cells.substr(split)) == cell(f.unique, w.unique, with_ratio));
        const auto first = line.find(" of ");
        of1.push_back(column(line, first));
        of2.push_back(column(line, line.find(" of ", line.find("   ", first))));
    };
    REQUIRE(at + 2 < lines.size());
    ++at;  // the blank line
    CHECK(trim_spaces(lines[at]).starts_with("per occurrence"));
    CHECK(lines[at].ends_with("unique addresses"));
    ++at;
    const std::vector<std::pair<std::string, std::string>> figure_rows = {
        {"flagged", "flagged"},       {"anonymous", "anonymous"},
        {"  tor_exit", "tor_exit"},   {"  vpn", "vpn"},
        {"  proxy", "proxy"},         {"  relay", "relay"},
        {"  hosting", "hosting"},     {"  residential_proxy", "residential_proxy"},
        {"named provider", "named provider"}};
    for (const auto& [label, key] : figure_rows) {
        REQUIRE(at < lines.size());
        row(lines[at++], label, w.rows.at(key), key == "flagged" || key == "anonymous");
    }
    if (top == 0) {
        CHECK(at == lines.size());
    } else if (w.providers.empty()) {
        REQUIRE(at + 2 == lines.size());
        CHECK(lines[at] == "");
        CHECK(lines[at + 1].starts_with("top providers  "));
        CHECK(trim_spaces(lines[at + 1].substr(13)) == "none named");
    } else {
        const std::size_t shown = std::min(top, w.providers.size());
        REQUIRE(at + 2 + shown == lines.size());
        CHECK(lines[at] == "");
        CHECK(lines[at + 1] ==
              "top providers (" + std::to_string(shown) + " of " + std::to_string(w.providers.size()) + " named)");
        for (std::size_t i = 0; i < shown; ++i)
            row(lines[at + 2 + i], "  " + escaped(w.providers[i].first), w.providers[i].second, false);
    }
    for (std::size_t i = 1; i < of1.size(); ++i) {
        CHECK(of1[i] == of1[0]);
        CHECK(of2[i] == of2[0]);
    }
}

// `extra`: members beside the figure's (a provider's name).
void check_json_figure(const rapidjson::Value& v, const Fig& f, const Figures& w, bool with_ratio, unsigned extra = 0) {
    REQUIRE(v.IsObject());
    CHECK(v.MemberCount() == (with_ratio ? 6u : 4u) + extra);
    CHECK(v["count"].GetUint64() == f.count);
    CHECK(v["unique"].GetUint64() == f.unique);
    REQUIRE(v["share"].IsNumber());
    REQUIRE(v["unique_share"].IsNumber());
    const double s = v["share"].GetDouble(), u = v["unique_share"].GetDouble();
    CHECK(s >= 0.0);
    CHECK(s <= 1.0);
    CHECK(u >= 0.0);
    CHECK(u <= 1.0);
    CHECK(s == (w.addresses == 0 ? 0.0 : static_cast<double>(f.count) / static_cast<double>(w.addresses)));
    CHECK(u == (w.unique == 0 ? 0.0 : static_cast<double>(f.unique) / static_cast<double>(w.unique)));
    if (with_ratio) {
        if (f.count == 0) CHECK(v["one_in"].IsNull());
        else CHECK(v["one_in"].GetUint64() == ratio(f.count, w.addresses));
        if (f.unique == 0) CHECK(v["unique_one_in"].IsNull());
        else CHECK(v["unique_one_in"].GetUint64() == ratio(f.unique, w.unique));
    }
}

void check_json(const std::string& out, const Figures& w, std::string_view source, std::size_t top) {
    CAPTURE(out);
    REQUIRE(out.ends_with("}\n"));
    CHECK(std::count(out.begin(), out.end(), '\n') == 1);
    const auto d = parse_json(out);
    CHECK(json_string(d["input"]) == source);
    CHECK(d["lines"].GetUint64() == w.lines);
    CHECK(d["addresses"].GetUint64() == w.addresses);
    CHECK(d["invalid"].GetUint64() == w.invalid);
    if (w.first_invalid == 0) CHECK(d["first_invalid_line"].IsNull());
    else CHECK(d["first_invalid_line"].GetUint64() == w.first_invalid);
    CHECK(d["unique_addresses"].GetUint64() == w.unique);
    check_json_figure(d["flagged"], w.rows.at("flagged"), w, true);
    check_json_figure(d["anonymous"], w.rows.at("anonymous"), w, true);
    check_json_figure(d["attributed"], w.rows.at("named provider"), w, false);
    const auto& cats = d["categories"];
    REQUIRE(cats.IsObject());
    CHECK(cats.MemberCount() == kCategories.size());
    for (const auto c : kCategories) {
        CAPTURE(c);
        REQUIRE(cats.HasMember(std::string(c).c_str()));
        check_json_figure(cats[std::string(c).c_str()], w.rows.at(std::string(c)), w, false);
    }
    CHECK(d["providers_named"].GetUint64() == w.providers.size());
    const auto& tops = d["top_providers"];
    REQUIRE(tops.IsArray());
    REQUIRE(tops.Size() == std::min(top, w.providers.size()));
    for (rapidjson::SizeType i = 0; i < tops.Size(); ++i) {
        CHECK(json_string(tops[i]["provider"]) == w.providers[i].first);
        check_json_figure(tops[i], w.providers[i].second, w, false, 1);  // a category's fields and the name
    }
    CHECK(d.MemberCount() == 12);
}

// ---- the snapshot database and its 1,000 addresses -------------------------------------------

__extension__ typedef unsigned __int128 Key;  // an address: IPv4 as ::ffff:a.b.c.d

Key v4_key(std::uint32_t a) { return (Key{0xffff} << 32) | a; }

std::optional<Key> key_of(const std::string& text) {
    in_addr a4;
    if (::inet_pton(AF_INET, text.c_str(), &a4) == 1) return v4_key(ntohl(a4.s_addr));
    in6_addr a6;
    if (::inet_pton(AF_INET6, text.c_str(), &a6) != 1) return std::nullopt;
    Key k = 0;
    for (const unsigned char b : a6.s6_addr) k = (k << 8) | b;
    return k;
}

bool is_v4(Key k) { return (k >> 32) == 0xffff; }

std::string text_of(Key k) {
    char buf[INET6_ADDRSTRLEN];
    if (is_v4(k)) {
        in_addr a;
        a.s_addr = htonl(static_cast<std::uint32_t>(k));
        REQUIRE(::inet_ntop(AF_INET, &a, buf, sizeof buf));
    } else {
        in6_addr a;
        for (int i = 15; i >= 0; --i, k >>= 8) a.s6_addr[i] = static_cast<unsigned char>(k);
        REQUIRE(::inet_ntop(AF_INET6, &a, buf, sizeof buf));
    }
    return buf;
}

struct Entry {
    Key first, last;
    std::size_t feed;
};

// "a.b.c.d/n" or "x::/n" as a range.
Entry cidr(const std::string& text, std::size_t feed) {
    const auto slash = text.find('/');
    REQUIRE_MESSAGE(slash != std::string::npos, text);
    const auto base = key_of(text.substr(0, slash));
    REQUIRE_MESSAGE(base, text);
    const int len = std::stoi(text.substr(slash + 1));
    const int host_bits = (is_v4(*base) ? 32 : 128) - len;
    REQUIRE((host_bits >= 0 && host_bits < 128));
    const Key host = (Key{1} << host_bits) - 1;
    REQUIRE_MESSAGE((*base & host) == 0, "host bits set: " << text);
    return {*base, *base | host, feed};
}

// Special-purpose space (RFC 6890 and the like): no pick comes from it, so
// no guard of the build can have cut it away.
bool special(Key k) {
    if (is_v4(k)) {
        const auto a = static_cast<std::uint32_t>(k);
        const std::pair<std::uint32_t, int> blocks[] = {
            {0x00000000, 8},  {0x0a000000, 8},  {0x64400000, 10}, {0x7f000000, 8},  {0xa9fe0000, 16},
            {0xac100000, 12}, {0xc0000000, 24}, {0xc0000200, 24}, {0xc0586300, 24}, {0xc0a80000, 16},
            {0xc6120000, 15}, {0xc6336400, 24}, {0xcb007100, 24}, {0xe0000000, 3}};
        for (const auto& [net, len] : blocks)
            if ((a >> (32 - len)) == (net >> (32 - len))) return true;
        return false;
    }
    const auto top32 = static_cast<std::uint32_t>(k >> 96);
    if ((top32 >> 29) != 1) return true;                    // outside 2000::/3
    if ((top32 >> 23) == (0x20010000u >> 23)) return true;  // 2001::/23, IETF protocol assignments (Teredo ...)
    if (top32 == 0x20010db8u) return true;                  // documentation
    if ((top32 >> 16) == 0x2002) return true;               // 6to4
    return false;
}

struct Feed {
    std::string name, format, category, provider, file;  // file: under data/snapshot/
    std::uint64_t entries = 0;                           // lines that are entries
};

struct Snapshot {
    std::vector<Feed> feeds;
    std::vector<Entry> entries;
    std::vector<Key> tor;  // distinct exit addresses
    std::string db;        // path in the working directory

    // From the files alone: the union of the categories of the entries
    // covering `k`, and the provider of the narrowest covering entry that
    // names one (nullopt: two providers tie, an address the test avoids).
    std::optional<Facts> facts(Key k) const {
        Facts f;
        std::optional<std::pair<Key, std::string>> best;
        bool tie = false;
        for (const auto& e : entries) {
            if (k < e.first || k > e.last) continue;
            const Feed& feed = feeds[e.feed];
            f.categories.insert(feed.category);
            if (feed.provider.empty()) continue;
            const Key width = e.last - e.first;
            if (!best || width < best->first) {
                best = {width, feed.provider};
                tie = false;
            } else if (width == best->first && feed.provider != best->second) {
                tie = true;
            }
        }
        if (tie) return std::nullopt;
        if (best) f.provider = best->second;
        return f;
    }
};

// Reads the snapshot files, builds the database from them with the CLI
// (once per process), and checks the build took every entry the test read.
const Snapshot& snapshot() {
    static const Snapshot s = [] {
        Snapshot s;
        s.feeds = {{"tor-exit-addresses", "tor-exit-addresses", "tor_exit", "", "tor/exit-addresses"},
                   {"x4bnet-vpn-ipv4", "plain", "vpn", "", "x4bnet/vpn-ipv4.txt"},
                   {"x4bnet-vpn-ipv6", "plain", "vpn", "", "x4bnet/vpn-ipv6.txt"},
                   {"cloudflare-ipv4", "plain", "hosting", "Cloudflare", "cloudflare/ips-v4.txt"},
                   {"apple-private-relay", "geofeed", "relay", "Apple iCloud Private Relay",
                    "apple/private-relay-egress.head120.csv"}};
        std::set<Key> tor;
        std::string catalogue = "version: 1\nfeeds:\n";
        fs::create_directories(workdir() / "snap");
        for (std::size_t i = 0; i < s.feeds.size(); ++i) {
            Feed& f = s.feeds[i];
            const std::string text = read_repo_file("data/snapshot/" + f.file);
            const std::string local = "snap/" + f.name;
            write_text(workdir() / local, text);  // a catalogue's snapshots lie beside it
            for (const auto& line : split_lines<std::string>(text)) {
                if (f.format == "tor-exit-addresses") {
                    if (!line.starts_with("ExitAddress ")) continue;
                    const std::string ip = line.substr(12, line.find(' ', 12) - 12);
                    const auto k = key_of(ip);
                    REQUIRE_MESSAGE(k, line);
                    tor.insert(*k);
                    s.entries.push_back({*k, *k, i});
                } else if (f.format == "geofeed") {
                    if (line.empty() || line[0] == '#') continue;
                    s.entries.push_back(cidr(line.substr(0, line.find(',')), i));
                } else {
                    if (line.empty() || line[0] == '#') continue;
                    s.entries.push_back(cidr(line, i));
                }
                ++f.entries;
            }
            catalogue += "  - name: " + f.name + "\n    url: https://feeds.example/" + f.name + "\n    format: " +
                         f.format + "\n    category: " + f.category + "\n    license: test\n    snapshot: " + local +
                         "\n";
            if (!f.provider.empty()) catalogue += "    provider: " + f.provider + "\n";
        }
        s.tor.assign(tor.begin(), tor.end());
        write_text(workdir() / "snapshot.yaml", catalogue);
        s.db = "snapshot-small.anondb";
        const CliRun b = run({"build", "--offline", "--feeds", "snapshot.yaml", "-o", s.db, "--build-time", "2026-01-01"});
        INFO(b.out << b.err);
        REQUIRE(b.code == 0);
        // Each feed's row of the report: name status category accepted rejected ...
        for (const Feed& f : s.feeds) {
            std::istringstream table(b.out);
            std::string line;
            bool found = false;
            while (std::getline(table, line)) {
                std::istringstream words(line);
                std::string name, status, category;
                std::uint64_t accepted = 0, rejected = 0;
                if (!(words >> name >> status >> category >> accepted >> rejected) || name != f.name) continue;
                found = true;
                CHECK(status == "snapshot");
                CHECK(accepted == f.entries);  // every entry the test read was published
                CHECK(rejected == 0);
            }
            CHECK_MESSAGE(found, f.name);
        }
        return s;
    }();
    return s;
}

// One line of the list, and what the test knows of it.
struct ListLine {
    std::string text;
    enum Kind { address, invalid, skipped } kind = address;
    Key key = 0;
    Facts facts = {};
};

// 1,000 address lines: Tor exits, addresses inside VPN ranges (IPv4 and
// IPv6), inside Cloudflare's and Apple's ranges, and unflagged ones, some
// listed again in another spelling; plus lines that are not addresses, a
// comment and a blank line; shuffled with a fixed seed.
std::vector<ListLine> thousand_lines() {
    const Snapshot& s = snapshot();
    std::mt19937_64 rng(20261122);
    std::vector<ListLine> distinct;
    std::set<Key> used;
    auto take = [&](Key k) {
        if (special(k) || used.count(k)) return false;
        const auto f = s.facts(k);
        if (!f) return false;
        used.insert(k);
        distinct.push_back({text_of(k), ListLine::address, k, *f});
        return true;
    };
    // `n` addresses inside the entries of feed `feed`.
    auto from_feed = [&](std::size_t feed, std::size_t n) {
        std::vector<const Entry*> of;
        for (const auto& e : s.entries)
            if (e.feed == feed) of.push_back(&e);
        REQUIRE(!of.empty());
        for (std::size_t got = 0, tries = 0; got < n; ++tries) {
            REQUIRE(tries < 100 * n);
            const Entry& e = *of[below(rng, of.size())];
            const Key size = e.last - e.first + 1;  // never 2^128 here
            const Key off = ((Key{rng()} << 64) | rng()) % size;
            got += take(e.first + off);
        }
    };
    std::vector<Key> tor = s.tor;
    std::shuffle(tor.begin(), tor.end(), rng);
    for (std::size_t i = 0, got = 0; got < 60; ++i) {
        REQUIRE(i < tor.size());
        got += take(tor[i]);
    }
    from_feed(1, 75);  // x4bnet VPN IPv4
    from_feed(2, 10);  // x4bnet VPN IPv6
    from_feed(3, 15);  // Cloudflare
    from_feed(4, 10);  // Apple
    for (std::size_t got = 0; got < 560;) {  // unflagged IPv4
        const Key k = v4_key(static_cast<std::uint32_t>(rng()));
        const auto f = s.facts(k);
        if (f && !f->flagged()) got += take(k);
    }
    for (std::size_t got = 0; got < 90;) {  // unflagged IPv6 in 2a00::/12
        const Key k = (Key{0x2a00u + below(rng, 16)} << 112) | (((Key{rng()} << 64) | rng()) & ((Key{1} << 112) - 1));
        const auto f = s.facts(k);
        if (f && !f->flagged()) got += take(k);
    }
    REQUIRE(distinct.size() == 820);
    std::size_t flagged = 0;
    for (const auto& l : distinct) flagged += l.facts.flagged();
    CHECK(flagged == 170);

    std::vector<ListLine> lines = distinct;
    // 180 repeats, some spelled otherwise: ::ffff:a.b.c.d, upper case, blanks.
    for (int i = 0; i < 180; ++i) {
        ListLine l = distinct[below(rng, distinct.size())];
        switch (below(rng, 4)) {
            case 0:
                if (is_v4(l.key)) l.text = "::ffff:" + l.text;
                break;
            case 1:
                for (auto& c : l.text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
                break;
            case 2: l.text = "  " + l.text + " "; break;
            default: break;
        }
        lines.push_back(l);
    }
    for (const char* bad : {"10.0.0.256", "not-an-ip", "1.2.3", "12345", "2001:db8::g", "1.2.3.4.5", "300.1.1.1"})
        lines.push_back({bad, ListLine::invalid});
    lines.push_back({"# proxy logs, March", ListLine::skipped});
    lines.push_back({"", ListLine::skipped});
    std::shuffle(lines.begin(), lines.end(), rng);
    return lines;
}

Figures count_lines(const std::vector<ListLine>& lines) {
    Counter c;
    for (const auto& l : lines) {
        if (l.kind == ListLine::skipped) c.skipped();
        else if (l.kind == ListLine::invalid) c.invalid();
        else c.address(l.key, l.facts);
    }
    return c.finish();
}

// ---- random databases (in process) ---------------------------------------------------------

// Hostile provider names (a terminal escape, a line break, quotes, UTF-8);
// feed 3 is an ASN list.
Content base_content() {
    return Content({"Mullvad", "Acme, \"Cloud\" Inc.", "Line\nBreak \xc3\xa9t\xc3\xa9", "Esc\x1b[31m"},
                   {"tor-exits", "vpn,list", "relay \"egress\"", "asn-list"}, {3});
}

Facts facts_of(const anondb::test::Want& a) {
    Facts f;
    for (const auto& c : kCategoryNames)
        if (a.categories & c.bit) f.categories.insert(std::string(c.name));
    if (!a.flagged) REQUIRE(f.categories.empty());
    f.bare = a.flagged && f.categories.empty();
    f.provider = a.provider;
    return f;
}

// The collector's report against the test's counts.
void check_report(const builder::StatsReport& r, const Figures& w) {
    CHECK(r.input.lines == w.lines);
    CHECK(r.input.addresses == w.addresses);
    CHECK(r.input.invalid == w.invalid);
    CHECK(r.input.first_invalid_line == w.first_invalid);
    CHECK(r.input.flagged == w.rows.at("flagged").count);
    CHECK(r.unique == w.unique);
    auto same = [](const builder::StatsFigure& got, const Fig& want) {
        return got.count == want.count && got.unique == want.unique;
    };
    CHECK(same(r.flagged, w.rows.at("flagged")));
    CHECK(same(r.anonymous, w.rows.at("anonymous")));
    CHECK(same(r.attributed, w.rows.at("named provider")));
    for (std::size_t c = 0; c < kCategories.size(); ++c) {
        CAPTURE(kCategories[c]);
        CHECK(same(r.categories[c], w.rows.at(std::string(kCategories[c]))));
    }
    REQUIRE(r.providers.size() == w.providers.size());
    for (std::size_t i = 0; i < w.providers.size(); ++i) {
        CHECK(r.providers[i].name == w.providers[i].first);
        CHECK(same(r.providers[i].figure, w.providers[i].second));
    }
}

Key key_of_ip(Ip ip) { return (Key{ip.hi} << 64) | ip.lo; }

// A file of `text` opened for reading (the collector's read_all).
struct InputFile {
    TempDir dir{"anondb-stats-in"};
    int fd = -1;
    explicit InputFile(const std::string& text) {
        write_text(dir.path / "in", text);
        fd = ::open((dir.path / "in").c_str(), O_RDONLY | O_CLOEXEC);
        REQUIRE(fd >= 0);
    }
    ~InputFile() { ::close(fd); }
};

// Writes content to a database file in the working directory.
std::string write_db(const Content& t, const std::string& name) {
    REQUIRE(t.merged);
    auto bytes = writer::serialize(t.c);
    REQUIRE_MESSAGE(bytes, (bytes ? "" : bytes.error().message));
    write_bytes(workdir() / name, *bytes);
    return name;
}

}  // namespace

// ---- the snapshot: 1,000 addresses ---------------------------------------------------------

TEST_CASE("stats: 1,000 addresses of Tor exits, VPN ranges and unflagged ones, as counted from the feed files") {
    const Snapshot& s = snapshot();
    const auto lines = thousand_lines();
    std::string text;
    for (const auto& l : lines) text += l.text + "\n";
    write_text(workdir() / "addresses.txt", text);
    const Figures w = count_lines(lines);
    REQUIRE(w.addresses == 1000);
    REQUIRE(w.lines == 1009);
    CHECK(w.invalid == 7);
    CHECK(w.unique == 820);
    CHECK(w.rows.at("tor_exit").count > 0);
    CHECK(w.rows.at("vpn").count > 0);
    CHECK(w.rows.at("flagged").count < 1000);
    CHECK(w.providers.size() == 2);

    const CliRun t = run({"stats", "-d", s.db, "addresses.txt"});
    INFO(t.err);
    REQUIRE(t.code == 0);
    CHECK(t.err.empty());
    check_text(t.out, w, "addresses.txt", 10);
    // The figure studies quote, spelled out: e.g. "213 of 1000 (21.3%, 1 in 5)".
    const auto& flagged = w.rows.at("flagged");
    CHECK(contains(t.out, std::to_string(flagged.count) + " of 1000 (" + percent(flagged.count, 1000) + ", 1 in " +
                              std::to_string(ratio(flagged.count, 1000)) + ")"));

    const CliRun j = run({"stats", "--json", "-d", s.db, "addresses.txt"});
    REQUIRE(j.code == 0);
    check_json(j.out, w, "addresses.txt", 10);

    // stdin, as '-' and by default, says the same; --top 1 keeps the leader.
    const CliRun dash = run({"stats", "--json", "-d", s.db, "-"}, text);
    REQUIRE(dash.code == 0);
    check_json(dash.out, w, "stdin", 10);
    const CliRun piped = run({"stats", "-d", s.db, "--top", "1"}, text);
    REQUIRE(piped.code == 0);
    check_text(piped.out, w, "stdin", 1);
    const CliRun file = run({"stats", "-d", s.db, "--file", "addresses.txt", "--top", "0"});
    REQUIRE(file.code == 0);
    check_text(file.out, w, "addresses.txt", 0);
}

TEST_CASE("stats --column: the same addresses as a CSV column, by name and by number, comma and tab") {
    const Snapshot& s = snapshot();
    auto lines = thousand_lines();
    // CSV input has no comments (a '#' line is a row like any other), so the
    // comment goes; blank rows are skipped; a row too short for the column
    // is a bad row.
    lines.erase(std::remove_if(lines.begin(), lines.end(),
                               [](const ListLine& l) { return l.kind == ListLine::skipped && !l.text.empty(); }),
                lines.end());
    lines.insert(lines.begin() + 500, ListLine{"short", ListLine::invalid});
    for (const char delim : {',', '\t'}) {
        CAPTURE(static_cast<int>(delim));
        const std::string d(1, delim);
        std::string csv = "case" + d + "client ip" + d + "note\n";
        std::vector<ListLine> rows = {{"header", ListLine::skipped}};
        for (std::size_t i = 0; i < lines.size(); ++i) {
            const ListLine& l = lines[i];
            if (l.text == "short") csv += "short\n";
            else if (l.text.empty()) csv += "\n";
            else csv += "c" + std::to_string(i) + d + (i % 3 == 0 ? "\"" + l.text + "\"" : l.text) + d +
                        "\"seen" + d + " twice\"\n";
            rows.push_back(l);
        }
        write_text(workdir() / "cases.csv", csv);
        const Figures w = count_lines(rows);
        CHECK(w.addresses == 1000);
        CHECK(w.invalid == 8);
        const std::string delim_arg = delim == '\t' ? "tab" : ",";
        const CliRun by_name =
            run({"stats", "--json", "-d", s.db, "--column", "client ip", "--delimiter", delim_arg, "cases.csv"});
        INFO(by_name.err);
        REQUIRE(by_name.code == 0);
        check_json(by_name.out, w, "cases.csv", 10);
        const CliRun by_number =
            run({"stats", "-d", s.db, "--column", "2", "--header", "--delimiter", delim_arg, "cases.csv"});
        REQUIRE(by_number.code == 0);
        check_text(by_number.out, w, "cases.csv", 10);
    }
    // A column the header lacks is a usage error naming the file and line.
    const CliRun missing = run({"stats", "-d", s.db, "--column", "addr", "cases.csv"});
    CHECK(missing.code == 2);
    CHECK(contains(missing.err, "anondb stats: cases.csv: line 1: no column named 'addr'"));
}

// ---- the aggregation against a brute-force oracle ----------------------------------------

TEST_CASE("stats: the collector's figures equal a brute-force count over random databases and inputs") {
    std::mt19937_64 rng(808);
    for (int round = 0; round < 150; ++round) {
        CAPTURE(round);
        const Content t = random_content(rng, base_content());
        const OpenedDb o(t);
        const Oracle oracle = t.oracle();
        // A pool of addresses: every row's ends and neighbours, and random ones.
        std::vector<Ip> pool;
        for (const auto& r : oracle.rows()) {
            pool.push_back(r.range.first);
            pool.push_back(r.range.last);
            if (r.range.last != kIpMax) pool.push_back(ip_next(r.range.last));
        }
        for (int k = 0; k < 20; ++k) {
            const Range z = zone_range(static_cast<int>(below(rng, 3)));
            const U128 offset = to_u128(Ip{rng(), rng()}) % (to_u128(z.last) - to_u128(z.first));
            pool.push_back(to_ip(to_u128(z.first) + offset));
        }
        Counter c;
        std::string input;
        std::vector<std::string> line_texts;
        const std::size_t n = 1 + below(rng, 400);
        for (std::size_t i = 0; i < n; ++i) {
            std::string l;
            switch (below(rng, 16)) {
                case 0: l = "# note"; c.skipped(); break;
                case 1: l = "   "; c.skipped(); break;
                case 2: l = "192.0.2.999"; c.invalid(); break;
                case 3: l = "host.example"; c.invalid(); break;
                default: {
                    // Repeats are likely: the pool is small against n.
                    const Ip ip = pool[below(rng, std::min<std::size_t>(pool.size(), 1 + below(rng, 40)))];
                    l = format_ip(ip);
                    if (ip.is_v4() && below(rng, 4) == 0) l = "::ffff:" + l;
                    if (below(rng, 5) == 0) l = " " + l + "\r";
                    c.address(key_of_ip(ip), facts_of(oracle.answer_at(ip)));
                }
            }
            line_texts.push_back(l);
            input += l + "\n";
        }
        const Figures w = c.finish();
        auto collector = builder::StatsCollector::create(*o.db, {});
        REQUIRE(collector);
        if (round % 2 == 0) {
            for (std::size_t i = 0; i < line_texts.size(); ++i)
                REQUIRE(collector->line(line_texts[i], i + 1).status == Status::ok);
        } else {
            const InputFile in(input);
            REQUIRE(collector->read_all(in.fd, "in").status == Status::ok);
        }
        const builder::StatsReport r = collector->report();
        check_report(r, w);
        // Its JSON says the same; report() can be asked again.
        check_json(builder::stats_json(collector->report(), "in", 3), w, "in", 3);
        if (round % 10 == 0) check_text(builder::stats_text(r, "in", 2), w, "in", 2);
    }
}

TEST_CASE("stats: 2.5M lines over 30,000 addresses: distinct counts survive the collector's compactions") {
    std::mt19937_64 rng(99);
    const Content t = random_content(rng, base_content());
    const OpenedDb o(t);
    const Oracle oracle = t.oracle();
    std::vector<Ip> pool;
    std::set<std::pair<std::uint64_t, std::uint64_t>> distinct;
    while (pool.size() < 30000) {
        // Half from the flagged rows, half anywhere in IPv4.
        Ip ip = Ip::from_v4(static_cast<std::uint32_t>(rng()));
        if (below(rng, 2) && !oracle.rows().empty()) {
            const Range r = oracle.rows()[below(rng, oracle.rows().size())].range;
            ip = to_ip(to_u128(r.first) + to_u128(Ip{rng(), rng()}) % (to_u128(r.last) - to_u128(r.first) + 1));
        }
        if (distinct.insert({ip.hi, ip.lo}).second) pool.push_back(ip);
    }
    std::vector<Facts> facts;
    for (const Ip ip : pool) facts.push_back(facts_of(oracle.answer_at(ip)));
    std::vector<std::uint64_t> times(pool.size());
    std::string input;
    input.reserve(2'500'000 * 20);
    for (std::size_t i = 0; i < 2'500'000; ++i) {
        // Skewed: a few addresses are most of the lines.
        const std::size_t k = below(rng, 4) == 0 ? below(rng, 50) : below(rng, pool.size());
        input += format_ip(pool[k]);
        input += '\n';
        ++times[k];
    }
    Counter c;
    for (std::size_t k = 0; k < pool.size(); ++k)
        if (times[k] > 0) c.address(key_of_ip(pool[k]), facts[k], times[k]);
    const Figures w = c.finish();
    CHECK(w.addresses == 2'500'000);
    REQUIRE(w.unique == 30000);
    auto collector = builder::StatsCollector::create(*o.db, {});
    REQUIRE(collector);
    const InputFile in(input);
    REQUIRE(collector->read_all(in.fd, "in").status == Status::ok);
    check_report(collector->report(), w);
}

// ---- top providers, escaping, empty input, errors ---------------------------------------------

TEST_CASE("stats: top providers by count, ties by name in byte order, --top N lists N") {
    Content t({"Zeta", "Beta", "Alpha", "alpha", "Gamma", "Omega", "Delta"}, {"vpn-list", "other"});
    std::uint32_t net = 0;
    auto range_for = [&](std::string_view provider, std::uint32_t cats) {
        const std::string r = "100." + std::to_string(++net) + ".0.0/16";
        t.add_entry(r, 0, cats, t.pid(provider));
        return "100." + std::to_string(net) + ".";
    };
    std::string input;
    auto lines = [&](const std::string& prefix, int distinct, int repeats) {
        for (int i = 0; i < distinct; ++i)
            for (int k = 0; k < repeats; ++k) input += prefix + "7." + std::to_string(i + 1) + "\n";
    };
    lines(range_for("Zeta", kVpn), 5, 1);           // 5
    lines(range_for("Beta", kVpn), 3, 1);           // 3, ties: Alpha < Beta < alpha
    lines(range_for("alpha", kProxy), 3, 1);        // 3
    lines(range_for("Alpha", kVpn | kHosting), 1, 3);  // 3 (one address)
    lines(range_for("Omega", kHosting), 1, 4);     // 4 lines, 1 address: before Delta's 3 addresses
    lines(range_for("Delta", kRelay), 3, 1);        // 3
    lines(range_for("Gamma", kTorExit), 1, 1);      // 1
    t.add_entry("100.200.0.0/16", 1, kVpn, 0);      // flagged, no provider
    input += "100.200.1.1\n100.200.1.1\n9.9.9.9\n";
    t.merge();
    const std::string db = write_db(t, "ties.anondb");

    const std::vector<std::pair<std::string, Fig>> order = {{"Zeta", {5, 5}},  {"Omega", {4, 1}}, {"Alpha", {3, 1}},
                                                            {"Beta", {3, 3}},  {"Delta", {3, 3}}, {"alpha", {3, 3}},
                                                            {"Gamma", {1, 1}}};
    Counter c;
    for (const auto& l : split_lines<std::string>(input)) {
        const Ip ip = ip_of(l);
        Facts f;
        const auto o = ip.v4() >> 16 & 0xff;  // the second octet: the range's number
        const std::vector<std::pair<std::string, std::set<std::string>>> by_range = {
            {"Zeta", {"vpn"}},    {"Beta", {"vpn"}},         {"alpha", {"proxy"}}, {"Alpha", {"hosting", "vpn"}},
            {"Omega", {"hosting"}}, {"Delta", {"relay"}},    {"Gamma", {"tor_exit"}}};
        if (o >= 1 && o <= by_range.size() && (ip.v4() >> 24) == 100) {
            f.provider = by_range[o - 1].first;
            f.categories = by_range[o - 1].second;
        } else if (o == 200) {
            f.categories = {"vpn"};
        }
        c.address(key_of_ip(ip), f);
    }
    const Figures w = c.finish();
    REQUIRE(w.providers.size() == order.size());
    for (std::size_t i = 0; i < order.size(); ++i) {
        CHECK(w.providers[i].first == order[i].first);  // the test's own sort agrees with the order written out
        CHECK(w.providers[i].second.count == order[i].second.count);
        CHECK(w.providers[i].second.unique == order[i].second.unique);
    }
    write_text(workdir() / "ties.txt", input);
    for (const std::size_t top : {std::size_t{0}, std::size_t{1}, std::size_t{3}, std::size_t{6}, std::size_t{10}}) {
        CAPTURE(top);
        const std::string n = std::to_string(top);
        const CliRun text = run({"stats", "-d", db, "--top", n, "ties.txt"});
        REQUIRE(text.code == 0);
        check_text(text.out, w, "ties.txt", top);
        const CliRun json = run({"stats", "-d", db, "--top", n, "--json", "ties.txt"});
        REQUIRE(json.code == 0);
        check_json(json.out, w, "ties.txt", top);
    }
    CHECK(run({"stats", "-d", db, "--top", "-1", "ties.txt"}).code == 2);
}

TEST_CASE("stats: hostile provider names are escaped in the table and exact in JSON") {
    Content t = base_content();
    t.add_entry("198.51.100.0/24", 1, kVpn, t.pid("Esc\x1b[31m"));
    t.add_entry("203.0.113.0/24", 2, kRelay, t.pid("Line\nBreak \xc3\xa9t\xc3\xa9"));
    t.add_entry("2001:db8::/32", 0, kTorExit, t.pid("Acme, \"Cloud\" Inc."));
    t.merge();
    const std::string db = write_db(t, "hostile.anondb");
    const std::string input = "198.51.100.1\n198.51.100.2\n203.0.113.9\n2001:db8::1\n192.0.2.1\n";
    Counter c;
    c.address(key_of_ip(ip_of("198.51.100.1")), {{"vpn"}, "Esc\x1b[31m"});
    c.address(key_of_ip(ip_of("198.51.100.2")), {{"vpn"}, "Esc\x1b[31m"});
    c.address(key_of_ip(ip_of("203.0.113.9")), {{"relay"}, "Line\nBreak \xc3\xa9t\xc3\xa9"});
    c.address(key_of_ip(ip_of("2001:db8::1")), {{"tor_exit"}, "Acme, \"Cloud\" Inc."});
    c.address(key_of_ip(ip_of("192.0.2.1")), {});
    const Figures w = c.finish();
    // An input file name with a control byte is escaped too.
    const std::string name = "in\x1b]0;x\x07.txt";
    write_text(workdir() / name, input);
    const CliRun text = run({"stats", "-d", db, name});
    REQUIRE(text.code == 0);
    CHECK_FALSE(contains(text.out, "\x1b"));
    CHECK_FALSE(contains(text.out, "\x07"));
    CHECK(contains(text.out, "\n  Esc\\x1b[31m  "));
    CHECK(contains(text.out, "\n  Line\\x0aBreak \xc3\xa9t\xc3\xa9  "));
    check_text(text.out, w, name, 10);
    const CliRun json = run({"stats", "-d", db, "--json", name});
    REQUIRE(json.code == 0);
    check_json(json.out, w, name, 10);
}

TEST_CASE("stats: empty input divides by nothing: shares of 0 addresses are '-' and 0") {
    Content t = base_content();
    t.add_entry("198.51.100.0/24", 1, kVpn, t.pid("Mullvad"));
    t.merge();
    const std::string db = write_db(t, "empty-case.anondb");
    write_text(workdir() / "comments.txt", "# nothing yet\n\n   \n");
    write_text(workdir() / "junk.txt", "not-an-ip\n\n1.2.3\n");
    struct Case {
        std::string file;  // "" = an empty stdin
        Figures want;
    };
    Counter empty, comments, junk;
    comments.skipped();
    comments.skipped();
    comments.skipped();
    junk.invalid();
    junk.skipped();
    junk.invalid();
    const std::vector<Case> cases = {
        {"", empty.finish()}, {"comments.txt", comments.finish()}, {"junk.txt", junk.finish()}};
    for (const auto& k : cases) {
        CAPTURE(k.file);
        const std::string source = k.file.empty() ? "stdin" : k.file;
        const CliRun text = k.file.empty() ? run({"stats", "-d", db}, std::string()) : run({"stats", "-d", db, k.file});
        REQUIRE(text.code == 0);
        check_text(text.out, k.want, source, 10);
        CHECK(contains(text.out, "\nflagged            "));
        CHECK(contains(text.out, "0 of 0 (-)   "));
        CHECK_FALSE(contains(text.out, "nan"));
        CHECK_FALSE(contains(text.out, "inf"));
        const CliRun json = k.file.empty() ? run({"stats", "-d", db, "--json"}, std::string())
                                           : run({"stats", "-d", db, "--json", k.file});
        REQUIRE(json.code == 0);
        check_json(json.out, k.want, source, 10);
        const auto d = parse_json(json.out);
        CHECK(d["flagged"]["share"].GetDouble() == 0.0);
        CHECK(d["flagged"]["one_in"].IsNull());
    }
    CHECK(cases[2].want.first_invalid == 1);
    CHECK(cases[2].want.invalid == 2);
}

TEST_CASE("stats: an unreadable database or input is exit 1 naming the file, bad options exit 2") {
    Content t = base_content();
    t.merge();
    const std::string db = write_db(t, "errors.anondb");
    write_text(workdir() / "one.txt", "192.0.2.1\n");

    const CliRun no_db = run({"stats", "-d", "missing/none.anondb", "one.txt"});
    CHECK(no_db.code == 1);
    CHECK(contains(no_db.err, "missing/none.anondb"));
    CHECK(no_db.out.empty());
    write_text(workdir() / "not-a-db.anondb", "hello\n");
    const CliRun bad_db = run({"stats", "-d", "not-a-db.anondb", "one.txt"});
    CHECK(bad_db.code == 1);
    CHECK(contains(bad_db.err, "not-a-db.anondb"));

    const CliRun no_input = run({"stats", "-d", db, "no-such-list.txt"});
    CHECK(no_input.code == 1);
    CHECK(contains(no_input.err, "anondb stats: cannot open no-such-list.txt: No such file"));
    CHECK(no_input.out.empty());
    fs::create_directories(workdir() / "a-directory");
    const CliRun dir = run({"stats", "-d", db, "a-directory"});
    CHECK(dir.code == 1);
    CHECK(dir.err.starts_with("anondb stats: "));
    CHECK(contains(dir.err, "a-directory: Is a directory"));
    CHECK(dir.out.empty());

    CHECK(run({"stats", "-d", db, "--column", "0", "one.txt"}).code == 2);
    CHECK(contains(run({"stats", "-d", db, "--column", "0", "one.txt"}).err, "--column counts from 1"));
    CHECK(run({"stats", "-d", db, "--delimiter", "ab", "one.txt"}).code == 2);
    CHECK(run({"stats", "-d", db, "--delimiter", "\"", "--column", "1", "one.txt"}).code == 2);
    CHECK(run({"stats", "-d", db, "one.txt", "two.txt"}).code == 2);
    // The command is listed, and its help says which count is which.
    CHECK(contains(run({"--help"}).out, "stats"));
    const CliRun help = run({"stats", "--help"});
    CHECK(help.code == 0);
    CHECK(contains(help.out, "per occurrence"));
    CHECK(contains(help.out, "distinct addresses"));
}

TEST_CASE("stats: percentages round half up to a tenth, '1 in N' to the nearest N") {
    using builder::one_in;
    using builder::percent_text;
    CHECK(percent_text(167, 1000) == "16.7%");
    CHECK(percent_text(1, 16) == "6.3%");     // 6.25: half up
    CHECK(percent_text(1, 2000) == "0.1%");   // 0.05: half up
    CHECK(percent_text(1, 2001) == "0.0%");
    CHECK(percent_text(2, 3) == "66.7%");
    CHECK(percent_text(1, 3) == "33.3%");
    CHECK(percent_text(0, 5) == "0.0%");
    CHECK(percent_text(5, 5) == "100.0%");
    CHECK(percent_text(0, 0) == "-");
    CHECK(percent_text(~0ull, ~0ull) == "100.0%");  // no overflow
    CHECK(one_in(167, 1000) == 6);
    CHECK(one_in(2, 5) == 3);  // 2.5: half up
    CHECK(one_in(2, 7) == 4);  // 3.5
    CHECK(one_in(3, 7) == 2);  // 2.33
    CHECK(one_in(1000, 1000) == 1);
    CHECK(one_in(0, 1000) == 0);
    CHECK(one_in(1, ~0ull) == ~0ull);
    CHECK(builder::share(0, 0) == 0.0);
    CHECK(builder::share(1, 4) == 0.25);
}
