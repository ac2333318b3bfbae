// Tests of ASN expansion (builder/include/anondb/builder/asn_expand.hpp):
// longest-prefix resolution, expansion and exclusions, each checked address
// by address against a brute-force oracle on random tables, plus hand
// examples that pin the rules.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "anondb/builder/asn_expand.hpp"
#include "test_util.hpp"

using namespace anondb;
using namespace anondb::test;
using namespace anondb::builder;
using sources::AsnList;
using sources::AsnListEntry;
using sources::AsnRow;
using sources::AsnTable;
using sources::ExclusionList;
using sources::ExclusionRule;

namespace {

void add_row(AsnTable& t, Range r, std::vector<std::uint32_t> asns) {
    AsnRow row;
    row.range = r;
    row.asn_begin = static_cast<std::uint32_t>(t.asns.size());
    row.asn_count = static_cast<std::uint32_t>(asns.size());
    row.line = static_cast<std::uint32_t>(t.rows.size() + 1);
    t.asns.insert(t.asns.end(), asns.begin(), asns.end());
    t.rows.push_back(row);
}

U128 width(Range r) { return to_u128(r.last) - to_u128(r.first); }

// The oracle: the rows deciding address `a`, ascending.
std::vector<std::uint32_t> deciding_rows(const AsnTable& t, Ip a) {
    std::optional<std::uint32_t> best;  // the lowest-index row among the narrowest covering
    for (std::uint32_t i = 0; i < t.rows.size(); ++i) {
        if (!t.rows[i].range.contains(a)) continue;
        if (!best || width(t.rows[i].range) < width(t.rows[*best].range)) best = i;
    }
    std::vector<std::uint32_t> out;
    if (!best) return out;
    for (std::uint32_t i = 0; i < t.rows.size(); ++i)
        if (t.rows[i].range == t.rows[*best].range) out.push_back(i);
    return out;
}

std::vector<std::uint32_t> rows_at(const std::vector<AsnPiece>& pieces, Ip a) {
    std::vector<std::uint32_t> out;
    for (const auto& p : pieces)
        if (p.range.contains(a)) out.push_back(p.row);
    std::ranges::sort(out);
    return out;
}

// A random table inside the window [base, base + 1023]: nested prefixes
// (some repeated, some without an ASN), and now and then arbitrary ranges
// that overlap partially, as a hostile range table could.
AsnTable random_table(std::mt19937_64& rng, U128 base, bool ranges_too) {
    auto below = [&](std::uint64_t n) { return rng() % n; };
    AsnTable t;
    const std::size_t n = 1 + below(30);
    while (t.rows.size() < n) {
        Range r;
        if (ranges_too && below(4) == 0) {
            const std::uint64_t a = below(1024), b = a + below(1024 - a);
            r = Range{to_ip(base + a), to_ip(base + b)};
        } else if (!t.rows.empty() && below(6) == 0) {
            r = t.rows[below(t.rows.size())].range;  // the same prefix again
        } else {
            r = prefix_range(to_ip(base + below(1024)), 118 + static_cast<unsigned>(below(11)));
        }
        std::vector<std::uint32_t> asns;
        const std::size_t k = below(5) == 0 ? 0 : 1 + (below(5) == 0 ? below(2) : 0);
        for (std::size_t i = 0; i < k; ++i) asns.push_back(64500 + static_cast<std::uint32_t>(below(4)));
        add_row(t, r, asns);
    }
    return t;
}

}  // namespace

TEST_CASE("flatten_asn_table: the narrowest row decides, a more specific row without ASN shadows") {
    AsnTable t;
    add_row(t, range_of("10.0.0.0/16"), {64500});
    add_row(t, range_of("10.0.1.0/24"), {});        // no ASN: a hole in the /16
    add_row(t, range_of("10.0.2.0/24"), {64501});
    add_row(t, range_of("10.0.2.0/24"), {64502});   // announced twice: both decide
    const auto pieces = flatten_asn_table(t);
    REQUIRE(pieces.size() == 5);
    CHECK(format_range(pieces[0].range) == "10.0.0.0/24");
    CHECK(pieces[0].row == 0);
    CHECK(format_range(pieces[1].range) == "10.0.1.0/24");
    CHECK(pieces[1].row == 1);
    CHECK(format_range(pieces[2].range) == "10.0.2.0/24");
    CHECK(format_range(pieces[3].range) == "10.0.2.0/24");
    CHECK(pieces[2].row == 2);
    CHECK(pieces[3].row == 3);
    CHECK(format_range(pieces[4].range) == "10.0.3.0-10.0.255.255");
    CHECK(pieces[4].row == 0);

    const AsnIndex index(t);
    CHECK(index.pieces_of(64500).size() == 2);  // the /16 less its two holes
    CHECK(index.pieces_of(64502).size() == 1);
    CHECK(index.pieces_of(1).empty());
}

TEST_CASE("flatten_asn_table matches the oracle on random nested and overlapping tables") {
    std::mt19937_64 rng(20261122);
    for (int round = 0; round < 300; ++round) {
        CAPTURE(round);
        const bool v6 = round % 3 == 0;
        const U128 base = v6 ? to_u128(ip_of("2001:db8::")) : to_u128(ip_of("10.0.0.0"));
        const AsnTable t = random_table(rng, base, round % 2 == 0);
        const auto pieces = flatten_asn_table(t);
        for (std::size_t i = 1; i < pieces.size(); ++i) {
            REQUIRE(pieces[i - 1].range.first <= pieces[i].range.first);
            if (pieces[i - 1].range.first == pieces[i].range.first) {
                CHECK(pieces[i - 1].range == pieces[i].range);
                CHECK(pieces[i - 1].row < pieces[i].row);
            } else {
                CHECK(pieces[i - 1].range.last < pieces[i].range.first);
            }
        }
        for (U128 a = base - 1; a <= base + 1024; ++a) {
            CAPTURE(format_ip(to_ip(a)));
            REQUIRE(rows_at(pieces, to_ip(a)) == deciding_rows(t, to_ip(a)));
        }
    }
}

TEST_CASE("flatten_asn_table: rows reaching the top of the space") {
    AsnTable t;
    add_row(t, Range{ip_of("ffff::"), kIpMax}, {64500});
    add_row(t, prefix_range(ip_of("ffff:ffff::"), 32), {64501});
    const auto pieces = flatten_asn_table(t);
    REQUIRE(pieces.size() == 2);
    CHECK(pieces[1].range.last == kIpMax);
    CHECK(pieces[1].row == 1);
    CHECK(flatten_asn_table(AsnTable{}).empty());
}

TEST_CASE("expand_asn_list and apply_exclusions match the oracle") {
    std::mt19937_64 rng(7);
    auto below = [&](std::uint64_t n) { return rng() % n; };
    for (int round = 0; round < 200; ++round) {
        CAPTURE(round);
        const U128 base = to_u128(ip_of("10.0.0.0"));
        const AsnTable t = random_table(rng, base, false);
        AsnList list;
        for (std::uint32_t asn = 64500; asn < 64504; ++asn)
            if (below(3)) list.entries.push_back(AsnListEntry{asn, "P" + std::to_string(asn), 0, {}, asn - 64499, 0, 0});
        ExclusionList rules;
        const std::size_t nrules = below(4);
        for (std::size_t i = 0; i < nrules; ++i) {
            ExclusionRule r;
            if (below(3) == 0) {
                r.kind = ExclusionRule::Kind::asn;
                r.asn = 64500 + static_cast<std::uint32_t>(below(4));
            } else {
                r.kind = ExclusionRule::Kind::prefix;
                r.range = prefix_range(to_ip(base + below(1024)), 120 + static_cast<unsigned>(below(9)));
            }
            rules.rules.push_back(r);
        }

        const AsnIndex index(t);
        const auto derived = expand_asn_list(list, index);
        const auto outcome = apply_exclusions(derived, rules);
        for (const auto& d : derived) {
            const AsnRow& row = t.rows[d.row];
            CHECK(std::ranges::find(std::span(t.asns).subspan(row.asn_begin, row.asn_count), d.asn) !=
                  std::span(t.asns).subspan(row.asn_begin, row.asn_count).end());
            CHECK(list.entries[d.entry].asn == d.asn);
        }
        for (U128 a = base; a < base + 1024; ++a) {
            const Ip ip = to_ip(a);
            CAPTURE(format_ip(ip));
            // Expected (entry, row) pairs covering a, before and after exclusions.
            std::set<std::pair<std::uint32_t, std::uint32_t>> want_derived, want_kept, got_derived, got_kept;
            std::map<std::pair<std::uint32_t, std::uint32_t>, std::uint32_t> want_rule, got_rule;
            for (std::uint32_t row : deciding_rows(t, ip)) {
                const AsnRow& r = t.rows[row];
                for (std::uint32_t e = 0; e < list.entries.size(); ++e) {
                    bool announced = false;
                    for (std::uint32_t k = 0; k < r.asn_count; ++k) announced |= t.asns[r.asn_begin + k] == list.entries[e].asn;
                    if (!announced) continue;
                    want_derived.insert({e, row});
                    std::optional<std::uint32_t> rule;
                    for (std::uint32_t i = 0; i < rules.rules.size() && !rule; ++i)
                        if (rules.rules[i].kind == ExclusionRule::Kind::asn && rules.rules[i].asn == list.entries[e].asn) rule = i;
                    for (std::uint32_t i = 0; i < rules.rules.size() && !rule; ++i)
                        if (rules.rules[i].kind == ExclusionRule::Kind::prefix && rules.rules[i].range.contains(ip)) rule = i;
                    if (rule) want_rule[{e, row}] = *rule;
                    else want_kept.insert({e, row});
                }
            }
            for (const auto& d : derived)
                if (d.range.contains(ip)) CHECK(got_derived.insert({d.entry, d.row}).second);
            for (const auto& d : outcome.kept)
                if (d.range.contains(ip)) CHECK(got_kept.insert({d.entry, d.row}).second);
            for (const auto& x : outcome.excluded)
                if (x.range.contains(ip)) {
                    const auto& d = derived[x.derived];
                    CHECK(got_rule.emplace(std::pair{d.entry, d.row}, x.rule).second);
                }
            CHECK(got_derived == want_derived);
            CHECK(got_kept == want_kept);
            CHECK(got_rule == want_rule);
        }
    }
}

TEST_CASE("apply_exclusions: a prefix cut splits an entry and names the first listed rule") {
    const std::vector<DerivedEntry> derived = {{range_of("10.0.0.0/16"), 0, 0, 64500}};
    ExclusionList rules;
    ExclusionRule broad, nested;
    broad.kind = nested.kind = ExclusionRule::Kind::prefix;
    broad.range = range_of("10.0.4.0/22");
    nested.range = range_of("10.0.5.0/24");
    rules.rules = {broad, nested};
    const auto out = apply_exclusions(derived, rules);
    REQUIRE(out.kept.size() == 2);
    CHECK(format_range(out.kept[0].range) == "10.0.0.0/22");
    CHECK(format_range(out.kept[1].range) == "10.0.8.0-10.0.255.255");
    REQUIRE(out.excluded.size() == 1);
    CHECK(format_range(out.excluded[0].range) == "10.0.4.0/22");
    CHECK(out.excluded[0].rule == 0);
}
