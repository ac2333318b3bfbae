// anondb diff: builder::diff_databases against a brute-force oracle over
// random pairs of databases, and the command on two snapshot builds where
// one feed changed.
#include <doctest/doctest.h>

#include <rapidjson/document.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <iterator>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "anondb/builder/diff.hpp"
#include "test_db.hpp"

using namespace anondb;
using namespace anondb::test;
namespace fs = std::filesystem;

namespace {

// ---- the oracle ---------------------------------------------------------------------

// One side's state of an elementary interval, by value; nullopt: not flagged.
using State = std::optional<builder::RangeState>;

State state_of(const Oracle& o, const Oracle::Piece& p) {
    const Want& w = o.answer(p.answer);
    if (!w.flagged) return std::nullopt;
    builder::RangeState s;
    s.categories = w.categories;
    s.provider = w.provider;
    s.asn = w.asn;
    s.sources = o.sources(p.sources);
    std::sort(s.sources.begin(), s.sources.end());
    return s;
}

struct WantChange {
    Range range;
    State old_state, new_state;
};

// Both oracles' partitions cut together; touching stretches of one zone
// with the same pair of differing states are one change.
std::vector<WantChange> expected_changes(const Oracle& a, const Oracle& b) {
    std::vector<WantChange> out;
    const auto& pa = a.pieces();
    const auto& pb = b.pieces();
    std::size_t i = 0, j = 0;
    Ip cur = kIpMin;
    while (true) {
        const Ip end = std::min(pa[i].range.last, pb[j].range.last);
        State so = state_of(a, pa[i]), sn = state_of(b, pb[j]);
        if (so != sn) {
            if (!out.empty() && out.back().old_state == so && out.back().new_state == sn &&
                ip_next(out.back().range.last) == cur && zone(out.back().range.first) == zone(cur))
                out.back().range.last = end;
            else
                out.push_back({{cur, end}, std::move(so), std::move(sn)});
        }
        if (end == kIpMax) break;
        if (pa[i].range.last == end) ++i;
        if (pb[j].range.last == end) ++j;
        cur = ip_next(end);
    }
    return out;
}

builder::RangeCount count_of(const std::vector<Range>& ranges) {
    builder::RangeCount c;
    for (const Range& r : ranges) {
        ++c.ranges;
        if (r.first.is_v4()) c.ipv4_addresses += std::uint64_t{r.last.v4()} - r.first.v4() + 1;
        else ++c.ipv6_ranges;
    }
    return c;
}

void check_count(const builder::RangeCount& got, const builder::RangeCount& want) {
    CHECK(got.ranges == want.ranges);
    CHECK(got.ipv4_addresses == want.ipv4_addresses);
    CHECK(got.ipv6_ranges == want.ipv6_ranges);
}

// Every figure of `d` against the expected changes.
void check_diff(const builder::DiffResult& d, const std::vector<WantChange>& want) {
    REQUIRE(d.changes.size() == want.size());
    std::vector<Range> added, removed, changed;
    std::map<std::string, std::pair<std::vector<Range>, std::vector<Range>>> cats, feeds;  // gained, lost
    for (std::size_t k = 0; k < want.size(); ++k) {
        CAPTURE(k);
        const builder::RangeChange& c = d.changes[k];
        const WantChange& w = want[k];
        CHECK(c.range == w.range);
        const State got_old = c.old_state == builder::kNoState ? State{} : State{d.states.at(c.old_state)};
        const State got_new = c.new_state == builder::kNoState ? State{} : State{d.states.at(c.new_state)};
        CHECK(got_old == w.old_state);
        CHECK(got_new == w.new_state);
        const builder::ChangeKind kind = !w.old_state ? builder::ChangeKind::added
                                         : !w.new_state ? builder::ChangeKind::removed
                                                        : builder::ChangeKind::changed;
        CHECK(c.kind == kind);
        (kind == builder::ChangeKind::added ? added : kind == builder::ChangeKind::removed ? removed : changed)
            .push_back(w.range);
        const std::uint32_t oc = w.old_state ? w.old_state->categories : 0;
        const std::uint32_t nc = w.new_state ? w.new_state->categories : 0;
        for (const auto& cn : kCategoryNames) {
            if ((nc & cn.bit) && !(oc & cn.bit)) cats[std::string(cn.name)].first.push_back(w.range);
            if ((oc & cn.bit) && !(nc & cn.bit)) cats[std::string(cn.name)].second.push_back(w.range);
        }
        const std::set<std::string> os = w.old_state ? std::set<std::string>(w.old_state->sources.begin(), w.old_state->sources.end())
                                                     : std::set<std::string>{};
        const std::set<std::string> ns = w.new_state ? std::set<std::string>(w.new_state->sources.begin(), w.new_state->sources.end())
                                                     : std::set<std::string>{};
        for (const auto& f : ns)
            if (!os.count(f)) feeds[f].first.push_back(w.range);
        for (const auto& f : os)
            if (!ns.count(f)) feeds[f].second.push_back(w.range);
    }
    check_count(d.added, count_of(added));
    check_count(d.removed, count_of(removed));
    check_count(d.changed, count_of(changed));
    for (std::size_t k = 0; k < std::size(kCategoryNames); ++k) {
        CAPTURE(kCategoryNames[k].name);
        const auto& [gained, lost] = cats[std::string(kCategoryNames[k].name)];
        check_count(d.categories[k].gained, count_of(gained));
        check_count(d.categories[k].lost, count_of(lost));
    }
    REQUIRE(d.feeds.size() == feeds.size());
    for (const auto& [name, gl] : feeds) {
        CAPTURE(name);
        REQUIRE(d.feeds.count(name));
        check_count(d.feeds.at(name).gained, count_of(gl.first));
        check_count(d.feeds.at(name).lost, count_of(gl.second));
    }
    // States are listed once each.
    for (std::size_t x = 0; x < d.states.size(); ++x)
        for (std::size_t y = x + 1; y < d.states.size(); ++y) REQUIRE_FALSE(d.states[x] == d.states[y]);
}

builder::DiffResult diff_of(const Content& a, const Content& b) {
    const OpenedDb oa(a), ob(b);
    return builder::diff_databases(*oa.db, *oa.cold, *ob.db, *ob.cold);
}

Content base_content() {
    return Content({"Alpha VPN", "Beta Hosting", "\x1b[31mred\x1b[0m"}, {"feed-a", "feed-b", "feed-c", "asn-list"}, {3});
}

// A copy of `a`'s rows with about one in `drop` dropped and one in `swap`
// moved to another origin of other attributes, plus rows of a fresh random
// content: a database that mostly agrees with `a`.
Content edited(std::mt19937_64& rng, const Content& a, std::uint64_t drop, std::uint64_t swap) {
    Content b = base_content();
    for (const EvidenceRow& r : a.rows) {
        if (drop && below(rng, drop) == 0) continue;
        const auto& o = a.c.origins[r.origin];
        std::uint32_t feed = o.feed, cats = o.categories, provider = o.provider;
        if (swap && below(rng, swap) == 0) {
            if (!b.is_asn_list(feed)) feed = static_cast<std::uint32_t>(below(rng, 3));  // a range feed
            cats = static_cast<std::uint32_t>(rng()) & kAllCategories;
            provider = static_cast<std::uint32_t>(below(rng, b.c.providers.size()));
        }
        b.add_row(r.range, b.add_origin(feed, cats, provider, o.asn));
    }
    if (below(rng, 2)) {
        const Content extra = random_content(rng, base_content());
        for (const EvidenceRow& r : extra.rows) {
            const auto& o = extra.c.origins[r.origin];
            b.add_row(r.range, b.add_origin(o.feed, o.categories, o.provider, o.asn));
        }
    }
    b.merge();
    return b;
}

// ---- snapshot builds --------------------------------------------------------------

// A catalogue of three snapshot feeds (copied into `dir`): the Tor bulk
// exit list, X4BNet's VPN ranges and FireHOL's proxies.
void write_catalogue(const fs::path& dir) {
    fs::create_directories(dir / "snap");
    fs::copy_file(kRepo + "/data/snapshot/tor/torbulkexitlist", dir / "snap/tor.txt", fs::copy_options::overwrite_existing);
    fs::copy_file(kRepo + "/data/snapshot/x4bnet/vpn-ipv4.txt", dir / "snap/vpn.txt", fs::copy_options::overwrite_existing);
    fs::copy_file(kRepo + "/data/snapshot/firehol/firehol_proxies.netset", dir / "snap/proxies.txt",
                  fs::copy_options::overwrite_existing);
    write_text(dir / "feeds.yaml", R"(version: 1
feeds:
  - name: tor-bulk
    url: https://check.torproject.org/torbulkexitlist
    format: plain
    category: tor_exit
    license: "Tor Project"
    snapshot: snap/tor.txt
    snapshot_date: 2024-03-12
  - name: x4bnet-vpn
    url: https://raw.githubusercontent.com/X4BNet/lists_vpn/main/output/vpn/ipv4.txt
    format: plain
    category: vpn
    license: "MIT"
    snapshot: snap/vpn.txt
    snapshot_date: 2026-08-22
  - name: firehol-proxies
    url: https://iplists.firehol.org/files/firehol_proxies.netset
    format: plain
    category: proxy
    license: "FireHOL"
    snapshot: snap/proxies.txt
    snapshot_date: 2017-11-12
)");
}

std::vector<std::string> data_lines(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);)
        if (!l.empty() && l[0] != '#') out.push_back(l);
    return out;
}

}  // namespace

TEST_CASE("diff: random pairs of databases against the oracle") {
    std::mt19937_64 rng(20261205);
    std::size_t kinds[3] = {}, touching = 0;
    for (int round = 0; round < 300; ++round) {
        CAPTURE(round);
        const Content a = random_content(rng, base_content());
        // Mostly the same database, or an unrelated one, or itself.
        const std::uint64_t shape = below(rng, 4);
        const Content b = shape == 0 ? random_content(rng, base_content()) : edited(rng, a, shape == 3 ? 0 : 5, shape == 3 ? 0 : 7);
        const auto want = expected_changes(a.oracle(), b.oracle());
        const builder::DiffResult d = diff_of(a, b);
        check_diff(d, want);
        for (const auto& c : d.changes) ++kinds[static_cast<int>(c.kind)];
        for (std::size_t k = 1; k < d.changes.size(); ++k)
            touching += ip_next(d.changes[k - 1].range.last) == d.changes[k].range.first;
        // The other way round: added and removed swap, changes keep their ranges.
        const builder::DiffResult back = diff_of(b, a);
        REQUIRE(back.changes.size() == d.changes.size());
        for (std::size_t k = 0; k < d.changes.size(); ++k) {
            CHECK(back.changes[k].range == d.changes[k].range);
            const auto k1 = d.changes[k].kind, k2 = back.changes[k].kind;
            CHECK((k1 == builder::ChangeKind::changed) == (k2 == builder::ChangeKind::changed));
            if (k1 == builder::ChangeKind::added) CHECK(k2 == builder::ChangeKind::removed);
        }
    }
    // The generator reached every kind, and changes that touch (so the
    // merging of stretches was exercised).
    CHECK(kinds[0] > 100);
    CHECK(kinds[1] > 100);
    CHECK(kinds[2] > 100);
    CHECK(touching > 50);
}

TEST_CASE("diff: a database against itself has no changes") {
    std::mt19937_64 rng(7);
    for (int round = 0; round < 20; ++round) {
        const Content a = random_content(rng, base_content());
        const builder::DiffResult d = diff_of(a, a);
        CHECK(d.changes.empty());
        CHECK(d.added.empty());
        CHECK(d.removed.empty());
        CHECK(d.changed.empty());
        CHECK(d.feeds.empty());
        CHECK(d.old_ranges == d.new_ranges);
    }
}

TEST_CASE("diff: hand-made pair, exact changes") {
    Content a = base_content(), b = base_content();
    const auto alpha = a.pid("Alpha VPN");
    a.add_entry("10.0.0.0/24", 0, kVpn, alpha);
    a.add_entry("10.0.1.0/24", 1, kProxy, 0);
    a.add_entry("2001:db8::/32", 2, kHosting, 0);
    b.add_entry("10.0.0.0/25", 0, kVpn, alpha);   // 10.0.0.128/25 removed
    b.add_entry("10.0.1.0/24", 1, kProxy, 0);
    b.add_entry("10.0.1.0/24", 2, kTorExit, 0);   // changed: tor_exit and feed-c gained
    b.add_entry("2001:db8::/32", 2, kHosting, 0);
    b.add_entry("192.0.2.0/24", 0, kVpn, alpha);  // added
    a.merge();
    b.merge();
    const builder::DiffResult d = diff_of(a, b);
    REQUIRE(d.changes.size() == 3);
    CHECK(d.changes[0].range == range_of("10.0.0.128/25"));
    CHECK(d.changes[0].kind == builder::ChangeKind::removed);
    CHECK(d.changes[1].range == range_of("10.0.1.0/24"));
    CHECK(d.changes[1].kind == builder::ChangeKind::changed);
    CHECK(d.states[d.changes[1].new_state].sources == std::vector<std::string>{"feed-b", "feed-c"});
    CHECK(d.states[d.changes[1].new_state].categories == (kProxy | kTorExit));
    CHECK(d.changes[2].range == range_of("192.0.2.0/24"));
    CHECK(d.changes[2].kind == builder::ChangeKind::added);
    CHECK(d.removed.ipv4_addresses == 128);
    CHECK(d.added.ipv4_addresses == 256);
    CHECK(d.changed.ipv4_addresses == 256);
    CHECK(d.feeds.size() == 2);
    CHECK(d.feeds.at("feed-a").gained.ipv4_addresses == 256);
    CHECK(d.feeds.at("feed-a").lost.ipv4_addresses == 128);
    CHECK(d.feeds.at("feed-c").gained.ipv4_addresses == 256);
    CHECK(d.feeds.at("feed-c").lost.empty());
}

TEST_CASE("anondb diff: two snapshot builds where one feed changed list exactly that feed's changes") {
    const TempDir tmp("anondb-diff");
    const fs::path dir = tmp.path;
    write_catalogue(dir);
    REQUIRE(run_cli(dir, {"build", "--offline", "--feeds", "feeds.yaml", "-o", "old.anondb", "--build-time", "2026-01-01"}).code == 0);

    // The Tor list loses every 20th address and gains 25 of its own
    // neighbours (address + 1, where not already listed).
    const std::vector<std::string> lines = data_lines(read_text(dir / "snap/tor.txt"));
    std::set<std::string> listed(lines.begin(), lines.end());
    std::set<std::uint32_t> dropped, added;
    std::string edited_list;
    for (std::size_t k = 0; k < lines.size(); ++k) {
        const Ip ip = ip_of(lines[k]);
        if (k % 20 == 7) {
            dropped.insert(ip.v4());
            continue;
        }
        edited_list += lines[k] + "\n";
        const std::string next = format_ip(Ip::from_v4(ip.v4() + 1));
        if (k % 20 == 3 && added.size() < 25 && !listed.count(next)) {
            added.insert(ip.v4() + 1);
            edited_list += next + "\n";
        }
    }
    REQUIRE(dropped.size() > 50);
    REQUIRE(added.size() == 25);
    write_text(dir / "snap/tor.txt", edited_list);
    REQUIRE(run_cli(dir, {"build", "--offline", "--feeds", "feeds.yaml", "-o", "new.anondb", "--build-time", "2026-01-02"}).code == 0);

    // Independently: which of the touched addresses the other two feeds
    // cover (their CIDRs read here), so which become unflagged or merely
    // lose or gain the Tor feed.
    std::vector<Range> others;
    for (const char* f : {"snap/vpn.txt", "snap/proxies.txt"})
        for (const auto& l : data_lines(read_text(dir / f))) others.push_back(range_of(l));
    auto covered = [&](std::uint32_t v4) {
        return std::any_of(others.begin(), others.end(), [&](const Range& r) { return r.contains(Ip::from_v4(v4)); });
    };

    const CliRun json = run_cli(dir, {"diff", "old.anondb", "new.anondb", "--json"});
    REQUIRE(json.code == 0);
    rapidjson::Document doc;
    doc.Parse(json.out.c_str());
    REQUIRE_MESSAGE(doc.IsObject(), json.out.substr(0, 300));
    // Only the Tor feed gained or lost anything.
    REQUIRE(doc["feeds"].MemberCount() == 1);
    REQUIRE(doc["feeds"].HasMember("tor-bulk"));
    const auto& tor = doc["feeds"]["tor-bulk"];
    CHECK(tor["gained"]["ipv4_addresses"].GetUint64() == added.size());
    CHECK(tor["lost"]["ipv4_addresses"].GetUint64() == dropped.size());
    // Every changed address is one the list dropped or added; every change
    // is about the Tor feed and nothing else.
    std::set<std::uint32_t> seen;
    std::uint64_t removed = 0, newly = 0, changed = 0;
    for (const auto& c : doc["changes"].GetArray()) {
        const Ip first = ip_of(c["first"].GetString()), last = ip_of(c["last"].GetString());
        REQUIRE(first.is_v4());
        for (std::uint32_t v = first.v4();; ++v) {
            REQUIRE_MESSAGE((dropped.count(v) || added.count(v)), format_ip(Ip::from_v4(v)));
            seen.insert(v);
            if (v == last.v4()) break;
        }
        const std::string kind = c["kind"].GetString();
        const std::uint64_t n = std::uint64_t{last.v4()} - first.v4() + 1;
        std::set<std::string> os, ns;
        if (c["old"].IsObject())
            for (const auto& s : c["old"]["sources"].GetArray()) os.insert(s.GetString());
        if (c["new"].IsObject())
            for (const auto& s : c["new"]["sources"].GetArray()) ns.insert(s.GetString());
        std::vector<std::string> sym;
        std::set_symmetric_difference(os.begin(), os.end(), ns.begin(), ns.end(), std::back_inserter(sym));
        CHECK(sym == std::vector<std::string>{"tor-bulk"});
        if (kind == "removed") removed += n;
        else if (kind == "added") newly += n;
        else changed += n;
    }
    std::uint64_t want_removed = 0, want_added = 0, want_changed = 0;
    for (const std::uint32_t v : dropped) (covered(v) ? want_changed : want_removed) += 1;
    for (const std::uint32_t v : added) (covered(v) ? want_changed : want_added) += 1;
    CHECK(seen.size() == dropped.size() + added.size());
    CHECK(removed == want_removed);
    CHECK(newly == want_added);
    CHECK(changed == want_changed);
    CHECK(doc["summary"]["removed"]["ipv4_addresses"].GetUint64() == want_removed);
    CHECK(doc["summary"]["added"]["ipv4_addresses"].GetUint64() == want_added);
    CHECK(doc["categories"]["tor_exit"]["lost"]["ipv4_addresses"].GetUint64() == dropped.size());
    CHECK(doc["categories"]["tor_exit"]["gained"]["ipv4_addresses"].GetUint64() == added.size());
    CHECK(doc["categories"]["vpn"]["gained"]["ranges"].GetUint64() == 0);

    // The text form: the same figures, the feed table naming only tor-bulk.
    const CliRun text = run_cli(dir, {"diff", "old.anondb", "new.anondb", "--limit", "0"});
    REQUIRE(text.code == 0);
    const auto feed_table = text.out.find("\nfeed ");
    REQUIRE(feed_table != std::string::npos);
    std::vector<std::string> feed_rows;
    {
        std::istringstream in(text.out.substr(feed_table + 1));
        std::string l;
        std::getline(in, l);  // the header
        while (std::getline(in, l) && !l.empty()) feed_rows.push_back(l.substr(0, l.find(' ')));
    }
    CHECK(feed_rows == std::vector<std::string>{"tor-bulk"});
    std::size_t listed_changes = 0;
    for (const auto& l : data_lines(text.out)) listed_changes += l.size() > 2 && (l[0] == '+' || l[0] == '-' || l[0] == '~') && l[1] == ' ';
    CHECK(listed_changes == doc["changes"].Size());

    // A database that is not one fails with exit 1.
    write_text(dir / "junk.anondb", "not a database");
    CHECK(run_cli(dir, {"diff", "old.anondb", "junk.anondb"}).code == 1);
}
