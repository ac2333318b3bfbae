// Tests of the merge (builder/include/anondb/builder/merge.hpp): hand examples
// that pin the semantics, then random sets checked address by address against
// a brute-force oracle.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <iterator>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "anondb/builder/merge.hpp"
#include "anondb/category.hpp"
#include "test_util.hpp"

using namespace anondb;
using namespace anondb::test;
using anondb::builder::merge;
using anondb::builder::MergedRange;
using anondb::builder::MergedSet;
using anondb::builder::MergeInput;

namespace {

// What one address should carry.
struct Attrs {
    std::uint32_t categories = 0;
    std::uint32_t provider = 0;
    std::vector<std::uint32_t> origins;  // ascending, no duplicates; empty = uncovered
    std::uint32_t asn = 0;
    friend bool operator==(const Attrs&, const Attrs&) = default;
};

// The oracle: scan every input for one address.
Attrs expected_at(std::span<const MergeInput> inputs, Ip a) {
    Attrs e;
    U128 best_width = 0, best_asn_width = 0;
    bool best_derived = false;
    for (const MergeInput& in : inputs) {
        if (!in.range.contains(a)) continue;
        e.categories |= in.categories;
        e.origins.push_back(in.origin);
        const U128 width = to_u128(in.range.last) - to_u128(in.range.first);
        if (in.asn != 0 && (e.asn == 0 || width < best_asn_width || (width == best_asn_width && in.asn < e.asn))) {
            e.asn = in.asn;
            best_asn_width = width;
        }
        if (in.provider == 0) continue;
        const bool derived = in.asn != 0;
        if (e.provider == 0 || derived < best_derived ||
            (derived == best_derived && (width < best_width || (width == best_width && in.provider < e.provider)))) {
            best_derived = derived;
            e.provider = in.provider;
            best_width = width;
        }
    }
    std::ranges::sort(e.origins);
    e.origins.erase(std::unique(e.origins.begin(), e.origins.end()), e.origins.end());
    return e;
}

}  // namespace

namespace doctest {
template <>
struct StringMaker<Attrs> {
    static String convert(const Attrs& a) {
        std::string s = "cat=" + std::to_string(a.categories) + " prov=" + std::to_string(a.provider) +
                        " asn=" + std::to_string(a.asn) + " [";
        for (std::uint32_t o : a.origins) s += std::to_string(o) + " ";
        return (s + "]").c_str();
    }
};
}  // namespace doctest

namespace {

std::vector<std::uint32_t> list_of(const MergedSet& m, std::uint32_t i) {
    auto s = m.list(i);
    return {s.begin(), s.end()};
}

Attrs attrs_of(const MergedSet& m, const MergedRange& r) {
    return Attrs{r.categories, r.provider, list_of(m, r.provenance), r.asn};
}

std::string describe(const MergedSet& m) {
    std::string s;
    for (const MergedRange& r : m.ranges) {
        s += format_range(r.range) + " cat=" + std::to_string(r.categories) + " prov=" + std::to_string(r.provider) + " [";
        for (std::uint32_t o : m.list(r.provenance)) s += std::to_string(o) + " ";
        s += "]\n";
    }
    return s;
}

bool same(const MergedSet& a, const MergedSet& b) {
    if (a.ranges.size() != b.ranges.size()) return false;
    for (std::size_t i = 0; i < a.ranges.size(); ++i) {
        const MergedRange &x = a.ranges[i], &y = b.ranges[i];
        if (x.range != y.range || x.categories != y.categories || x.provider != y.provider || x.asn != y.asn ||
            x.provenance != y.provenance)
            return false;
    }
    return a.list_offsets == b.list_offsets && a.list_origins == b.list_origins;
}

// Invariants that hold for any MergedSet, whatever the inputs.
void check_structure(const MergedSet& m) {
    REQUIRE(!m.list_offsets.empty());
    REQUIRE(m.list_offsets.front() == 0);
    REQUIRE(m.list_offsets.back() == m.list_origins.size());
    const std::size_t n_lists = m.list_offsets.size() - 1;
    for (std::uint32_t i = 0; i < n_lists; ++i) {
        REQUIRE(m.list_offsets[i] < m.list_offsets[i + 1]);  // no empty list
        const auto l = list_of(m, i);
        CHECK(std::ranges::adjacent_find(l, std::greater_equal<>{}) == l.end());  // strictly ascending
    }

    // A list id stands for one (origins, attributes): the ranges that share
    // it carry the same attributes, and no two ids stand for the same.
    std::vector<const MergedRange*> first_use(n_lists, nullptr);
    std::set<std::tuple<std::uint32_t, std::uint32_t, std::uint32_t, std::vector<std::uint32_t>>> distinct;
    std::uint32_t next_new_list = 0;  // lists are numbered by first use along the sweep
    for (std::size_t i = 0; i < m.ranges.size(); ++i) {
        const MergedRange& r = m.ranges[i];
        REQUIRE(r.range.first <= r.range.last);
        REQUIRE(r.provenance < n_lists);
        CHECK(r.provenance <= next_new_list);
        REQUIRE(m.list_attributes.size() == n_lists);
        CHECK((m.list_attributes[r.provenance] == builder::ListAttributes{r.categories, r.provider, r.asn}));
        if (r.provenance == next_new_list) {
            ++next_new_list;
            first_use[r.provenance] = &r;
            distinct.insert({r.categories, r.provider, r.asn, list_of(m, r.provenance)});
        } else {
            const MergedRange& f = *first_use[r.provenance];
            CHECK((f.categories == r.categories && f.provider == r.provider && f.asn == r.asn));
        }
        if (i == 0) continue;
        const MergedRange& p = m.ranges[i - 1];
        REQUIRE(p.range.last < r.range.first);  // sorted and disjoint
        const bool touching = ip_next(p.range.last) == r.range.first;
        CHECK_FALSE((touching && p.categories == r.categories && p.provider == r.provider && p.asn == r.asn &&
                     p.provenance == r.provenance));  // coarsest
    }
    CHECK(distinct.size() == n_lists);  // each (list, attributes) stored once
    CHECK(next_new_list == n_lists);  // every list is used
}

// Checks every address of [lo, hi] against the oracle, and the two regions
// outside it as wholes: inputs that leave the window reach the space edges,
// so each outside region has constant attributes.
void check_against_oracle(std::span<const MergeInput> inputs, const MergedSet& m, U128 lo, U128 hi) {
    std::size_t k = 0;  // first output range not entirely below the address
    for (U128 a = lo;; ++a) {
        const Ip ip = to_ip(a);
        while (k < m.ranges.size() && m.ranges[k].range.last < ip) ++k;
        const Attrs want = expected_at(inputs, ip);
        const bool in_output = k < m.ranges.size() && m.ranges[k].range.contains(ip);
        CAPTURE(format_ip(ip));
        REQUIRE(in_output == !want.origins.empty());
        if (in_output) REQUIRE(attrs_of(m, m.ranges[k]) == want);
        if (a == hi) break;
    }

    if (lo > 0) {
        const Attrs below = expected_at(inputs, to_ip(lo - 1));
        if (below.origins.empty()) {
            CHECK((m.ranges.empty() || to_u128(m.ranges.front().range.first) >= lo));
        } else {
            REQUIRE(!m.ranges.empty());
            CHECK(m.ranges.front().range.first == kIpMin);
            CHECK(to_u128(m.ranges.front().range.last) >= lo - 1);
            CHECK(attrs_of(m, m.ranges.front()) == below);
        }
    }
    if (hi < to_u128(kIpMax)) {
        const Attrs above = expected_at(inputs, to_ip(hi + 1));
        if (above.origins.empty()) {
            CHECK((m.ranges.empty() || to_u128(m.ranges.back().range.last) <= hi));
        } else {
            REQUIRE(!m.ranges.empty());
            CHECK(m.ranges.back().range.last == kIpMax);
            CHECK(to_u128(m.ranges.back().range.first) <= hi + 1);
            CHECK(attrs_of(m, m.ranges.back()) == above);
        }
    }
}

// Random inputs inside the window [base, base + size - 1]: overlapping,
// nested, touching, duplicated, single addresses and aligned blocks, with a
// few ranges running out of the window to the edges of the space.
std::vector<MergeInput> random_inputs(std::mt19937_64& rng, U128 base, U128 size) {
    auto below = [&](std::uint64_t n) { return rng() % n; };
    const auto w = static_cast<std::uint64_t>(size);  // window offsets are 0 .. w-1
    // Sparse origin ids now and then, so the interner's hash path is used too.
    const bool sparse = below(5) == 0;
    auto attrs = [&](MergeInput in) {
        in.origin = sparse ? 0xffffffffu - static_cast<std::uint32_t>(below(6)) : static_cast<std::uint32_t>(below(6));
        in.categories = static_cast<std::uint32_t>(below(64)) & kAllCategories;
        in.provider = below(2) ? 0 : 1 + static_cast<std::uint32_t>(below(4));
        in.asn = below(2) ? 0 : 64496 + static_cast<std::uint32_t>(below(3));
        return in;
    };
    auto offsets = [&](std::uint64_t a, std::uint64_t b) { return Range{to_ip(base + a), to_ip(base + b)}; };

    std::vector<MergeInput> in;
    const std::size_t count = 1 + below(24);
    while (in.size() < count) {
        const std::uint64_t a = below(w);
        const std::uint64_t b = a + below(w - a);
        MergeInput x = attrs({});
        switch (in.empty() ? 0 : below(7)) {
            case 0: x.range = offsets(a, b); break;
            case 1: x.range = offsets(a, a); break;
            case 2: {  // an aligned block, if one fits
                const Range p = prefix_range(to_ip(base + a), 128 - static_cast<unsigned>(below(9)));
                x.range = (to_u128(p.first) >= base && to_u128(p.last) < base + size) ? p : offsets(a, a);
                break;
            }
            case 3: x.range = in[below(in.size())].range; break;  // same range, other attributes
            case 4: x = in[below(in.size())]; break;               // exact duplicate
            case 5: {  // touching an existing one on the right
                const Range o = in[below(in.size())].range;
                const U128 f = to_u128(o.last) + 1;
                if (o.last == kIpMax || f >= base + size) continue;
                const auto room = static_cast<std::uint64_t>(base + size - f);
                x.range = Range{to_ip(f), to_ip(f + below(room))};
                break;
            }
            default: {  // nested in an existing one
                const Range o = in[below(in.size())].range;
                const auto len = static_cast<std::uint64_t>(to_u128(o.last) - to_u128(o.first));
                const std::uint64_t s = below(len + 1);
                x.range = Range{to_ip(to_u128(o.first) + s), to_ip(to_u128(o.first) + s + below(len - s + 1))};
                break;
            }
        }
        in.push_back(x);
    }
    if (base > 0 && below(6) == 0) {  // from the bottom of the space into the window
        MergeInput x = attrs({});
        x.range = Range{kIpMin, to_ip(base + below(w))};
        in.push_back(x);
    }
    if (base + size - 1 < to_u128(kIpMax) && below(6) == 0) {  // from the window to the top
        MergeInput x = attrs({});
        x.range = Range{to_ip(base + below(w)), kIpMax};
        in.push_back(x);
    }
    return in;
}

void run_random(std::mt19937_64& rng, bool v4, int rounds) {
    const U128 top = to_u128(kIpMax);
    const U128 v4_first = to_u128(kV4First), v4_last = to_u128(kV4Last);
    for (int round = 0; round < rounds; ++round) {
        const U128 size = 1 + rng() % 300;
        U128 base;
        switch (rng() % 6) {
            case 0: base = v4 ? v4_first : 0; break;                       // bottom edge
            case 1: base = (v4 ? v4_last : top) - (size - 1); break;       // top edge
            case 2:                                                        // across a boundary
                base = v4 ? v4_first + (U128{1} << 31) - size / 2 : (rng() % 2 ? U128{1} << 64 : v4_first) - size / 2;
                break;
            case 3:
                if (!v4) { base = v4_last + 1 - size / 2; break; }  // out of the IPv4 block
                [[fallthrough]];
            default:
                base = v4 ? v4_first + rng() % (U128{1} << 32) : (U128{rng()} << 64 | rng());
                base = std::min(base, (v4 ? v4_last : top) - (size - 1));
                break;
        }
        const std::vector<MergeInput> inputs = random_inputs(rng, base, size);
        CAPTURE(round);
        const MergedSet m = merge(inputs);
        INFO(describe(m));
        check_structure(m);
        check_against_oracle(inputs, m, base, base + size - 1);

        // Input order never shows in the output.
        std::vector<MergeInput> shuffled = inputs;
        std::shuffle(shuffled.begin(), shuffled.end(), rng);
        CHECK(same(merge(shuffled), m));
    }
}

}  // namespace

TEST_CASE("merge: no inputs, no ranges") {
    const MergedSet m = merge({});
    CHECK(m.ranges.empty());
    CHECK(m.list_offsets == std::vector<std::uint32_t>{0});
    CHECK(m.list_origins.empty());
}

TEST_CASE("merge: nested ranges split the outer one") {
    const std::vector<MergeInput> in = {
        {range_of("10.0.0.0/8"), 1, kHosting, 5},
        {range_of("10.1.0.0/16"), 2, kVpn, 7},
    };
    const MergedSet m = merge(in);
    INFO(describe(m));
    REQUIRE(m.ranges.size() == 3);
    CHECK(m.ranges[0].range == range_of("10.0.0.0-10.0.255.255"));
    CHECK(m.ranges[1].range == range_of("10.1.0.0/16"));
    CHECK(m.ranges[2].range == range_of("10.2.0.0-10.255.255.255"));
    CHECK(attrs_of(m, m.ranges[0]) == Attrs{kHosting, 5, {1}});
    CHECK(attrs_of(m, m.ranges[1]) == Attrs{kHosting | kVpn, 7, {1, 2}});
    CHECK(attrs_of(m, m.ranges[2]) == Attrs{kHosting, 5, {1}});
    // Both sides of the hole share one stored list; lists are numbered in address order.
    CHECK(m.ranges[0].provenance == 0);
    CHECK(m.ranges[1].provenance == 1);
    CHECK(m.ranges[2].provenance == 0);
    CHECK(m.list_origins == std::vector<std::uint32_t>{1, 1, 2});
    check_structure(m);
}

TEST_CASE("merge: touching ranges with the same attributes coalesce") {
    const std::vector<MergeInput> in = {
        {range_of("10.0.0.128/25"), 3, kVpn, 2},
        {range_of("10.0.0.0/25"), 3, kVpn, 2},
        {range_of("10.0.1.0/24"), 3, kVpn, 2},
    };
    const MergedSet m = merge(in);
    INFO(describe(m));
    REQUIRE(m.ranges.size() == 1);
    CHECK(m.ranges[0].range == range_of("10.0.0.0/23"));
    CHECK(attrs_of(m, m.ranges[0]) == Attrs{kVpn, 2, {3}});
    CHECK(m.list_offsets.size() == 2);
}

TEST_CASE("merge: touching ranges with other provenance or attributes stay apart") {
    SUBCASE("other origin") {
        const std::vector<MergeInput> in = {{range_of("10.0.0.0/25"), 3, kVpn, 2},
                                            {range_of("10.0.0.128/25"), 4, kVpn, 2}};
        const MergedSet m = merge(in);
        REQUIRE(m.ranges.size() == 2);
        CHECK(attrs_of(m, m.ranges[0]) == Attrs{kVpn, 2, {3}});
        CHECK(attrs_of(m, m.ranges[1]) == Attrs{kVpn, 2, {4}});
    }
    SUBCASE("same origin, other category") {
        const std::vector<MergeInput> in = {{range_of("10.0.0.0/25"), 3, kVpn, 2},
                                            {range_of("10.0.0.128/25"), 3, kProxy, 2}};
        const MergedSet m = merge(in);
        REQUIRE(m.ranges.size() == 2);
        // The same origins, but a list id stands for its attributes too: the
        // builder makes one record of each.
        CHECK(m.ranges[0].provenance != m.ranges[1].provenance);
        CHECK(list_of(m, m.ranges[0].provenance) == std::vector<std::uint32_t>{3});
        CHECK(list_of(m, m.ranges[1].provenance) == std::vector<std::uint32_t>{3});
    }
    SUBCASE("same origin, other provider") {
        const std::vector<MergeInput> in = {{range_of("10.0.0.0/25"), 3, kVpn, 2},
                                            {range_of("10.0.0.128/25"), 3, kVpn, 0}};
        REQUIRE(merge(in).ranges.size() == 2);
    }
    SUBCASE("a gap is not touching") {
        const std::vector<MergeInput> in = {{range_of("10.0.0.0/25"), 3, kVpn, 2},
                                            {range_of("10.0.0.129-10.0.0.255"), 3, kVpn, 2}};
        const MergedSet m = merge(in);
        REQUIRE(m.ranges.size() == 2);
        CHECK(m.ranges[1].range.first == range_of("10.0.0.129").first);
    }
}

TEST_CASE("merge: an origin in several inputs is listed once") {
    // Two overlapping ranges of one entry (e.g. an ASN announcing both).
    const std::vector<MergeInput> in = {
        {range_of("10.0.0.0-10.0.0.10"), 5, kHosting, 1},
        {range_of("10.0.0.5-10.0.0.15"), 5, kHosting, 1},
    };
    const MergedSet m = merge(in);
    INFO(describe(m));
    REQUIRE(m.ranges.size() == 1);  // the active set changes, the attributes do not
    CHECK(m.ranges[0].range == range_of("10.0.0.0-10.0.0.15"));
    CHECK(attrs_of(m, m.ranges[0]) == Attrs{kHosting, 1, {5}});
}

TEST_CASE("merge: provider of the narrowest covering input that has one") {
    const std::vector<MergeInput> in = {
        {range_of("10.0.0.0/16"), 1, kHosting, 9},
        {range_of("10.0.0.0/24"), 2, kVpn, 0},    // narrowest, but no provider: ignored
        {range_of("10.0.0.0/24"), 3, kVpn, 4},    // tie on width ...
        {range_of("10.0.0.0/24"), 4, kVpn, 3},    // ... lowest provider id wins
        {range_of("10.0.2.0-10.0.2.200"), 5, kProxy, 8},  // width counts, not prefix length
        {range_of("10.0.2.0/24"), 6, kProxy, 1},
    };
    const MergedSet m = merge(in);
    INFO(describe(m));
    REQUIRE(m.ranges.size() == 5);
    CHECK(m.ranges[0].range == range_of("10.0.0.0/24"));
    CHECK(attrs_of(m, m.ranges[0]) == Attrs{kHosting | kVpn, 3, {1, 2, 3, 4}});
    CHECK(m.ranges[1].range == range_of("10.0.1.0/24"));
    CHECK(m.ranges[1].provider == 9);
    CHECK(m.ranges[2].range == range_of("10.0.2.0-10.0.2.200"));
    CHECK(attrs_of(m, m.ranges[2]) == Attrs{kHosting | kProxy, 8, {1, 5, 6}});
    CHECK(m.ranges[3].range == range_of("10.0.2.201-10.0.2.255"));
    CHECK(attrs_of(m, m.ranges[3]) == Attrs{kHosting | kProxy, 1, {1, 6}});
    CHECK(m.ranges[4].range == range_of("10.0.3.0-10.0.255.255"));
    CHECK(attrs_of(m, m.ranges[4]) == Attrs{kHosting, 9, {1}});

    const std::vector<MergeInput> none = {{range_of("10.0.0.0/24"), 1, kVpn, 0}, {range_of("10.0.0.0/25"), 2, kVpn, 0}};
    const MergedSet mn = merge(none);
    for (const MergedRange& r : mn.ranges) CHECK(r.provider == 0);
}

TEST_CASE("merge: the whole space and its edges") {
    const Range all = range_of("::/0");
    SUBCASE("::/0 alone") {
        const std::vector<MergeInput> in = {{all, 1, kTorExit, 1}};
        const MergedSet m = merge(in);
        REQUIRE(m.ranges.size() == 1);
        CHECK(m.ranges[0].range == all);
        CHECK(attrs_of(m, m.ranges[0]) == Attrs{kTorExit, 1, {1}});
    }
    SUBCASE("::/0 twice, same origin") {
        const std::vector<MergeInput> in = {{all, 1, kTorExit, 1}, {all, 1, kVpn, 2}};
        const MergedSet m = merge(in);
        REQUIRE(m.ranges.size() == 1);
        CHECK(attrs_of(m, m.ranges[0]) == Attrs{kTorExit | kVpn, 1, {1}});
    }
    SUBCASE("single addresses at the very bottom and top") {
        const std::vector<MergeInput> in = {
            {Range{kIpMax, kIpMax}, 3, kProxy, 0},
            {all, 1, kHosting, 0},
            {Range{kIpMin, kIpMin}, 2, kVpn, 0},
        };
        const MergedSet m = merge(in);
        INFO(describe(m));
        REQUIRE(m.ranges.size() == 3);
        CHECK(m.ranges[0].range == Range{kIpMin, kIpMin});
        CHECK(attrs_of(m, m.ranges[0]) == Attrs{kHosting | kVpn, 0, {1, 2}});
        CHECK(m.ranges[1].range == Range{Ip{0, 1}, ip_prev(kIpMax)});
        CHECK(attrs_of(m, m.ranges[1]) == Attrs{kHosting, 0, {1}});
        CHECK(m.ranges[2].range == Range{kIpMax, kIpMax});
        CHECK(attrs_of(m, m.ranges[2]) == Attrs{kHosting | kProxy, 0, {1, 3}});
    }
    SUBCASE("the top address alone") {
        const std::vector<MergeInput> in = {{Range{kIpMax, kIpMax}, 0, kProxy, 0}};
        const MergedSet m = merge(in);
        REQUIRE(m.ranges.size() == 1);
        CHECK(m.ranges[0].range == Range{kIpMax, kIpMax});
    }
    SUBCASE("halves touching at the middle coalesce") {
        const std::vector<MergeInput> in = {{range_of("8000::/1"), 7, kRelay, 0}, {range_of("::/1"), 7, kRelay, 0}};
        const MergedSet m = merge(in);
        REQUIRE(m.ranges.size() == 1);
        CHECK(m.ranges[0].range == all);
    }
}

TEST_CASE("merge: the edges of the IPv4-mapped block") {
    // IPv4 inputs are swept as 32-bit addresses, the others apart: pieces
    // must still coalesce across the block's edges, and an input that
    // overlaps the block from outside must still split it.
    const Ip below_first = ip_prev(kV4First), above_last = ip_next(kV4Last);
    SUBCASE("touching inputs of one origin coalesce across both edges") {
        const std::vector<MergeInput> in = {{Range{ip_prev(below_first), below_first}, 5, kVpn, 1},
                                            {Range{kV4First, Ip::from_v4(9)}, 5, kVpn, 1},
                                            {Range{Ip::from_v4(0xfffffff0u), kV4Last}, 5, kVpn, 1},
                                            {Range{above_last, ip_next(above_last)}, 5, kVpn, 1}};
        const MergedSet m = merge(in);
        INFO(describe(m));
        check_structure(m);
        REQUIRE(m.ranges.size() == 2);
        CHECK(m.ranges[0].range == Range{ip_prev(below_first), Ip::from_v4(9)});
        CHECK(m.ranges[1].range == Range{Ip::from_v4(0xfffffff0u), ip_next(above_last)});
        CHECK(m.ranges[0].provenance == m.ranges[1].provenance);
    }
    SUBCASE("an input over the whole block from outside") {
        const std::vector<MergeInput> in = {{Range{below_first, above_last}, 1, kHosting, 0},
                                            {range_of("10.0.0.0/8"), 2, kVpn, 0},
                                            {Range{kV4Last, kV4Last}, 3, kTorExit, 0}};
        const MergedSet m = merge(in);
        INFO(describe(m));
        check_structure(m);
        for (Ip a : {below_first, kV4First, Ip::from_v4(0x0a000005u), Ip::from_v4(0x0b000000u), kV4Last, above_last}) {
            CAPTURE(format_ip(a));
            auto it = std::ranges::upper_bound(m.ranges, a, {}, [](const MergedRange& x) { return x.range.first; });
            REQUIRE(it != m.ranges.begin());
            CHECK(attrs_of(m, *std::prev(it)) == expected_at(in, a));
        }
    }
}

TEST_CASE("merge: a sink gets the ranges merge() stores, in order, across its batches") {
    // Enough ranges of one list to hand over several batches by count, and
    // touching runs of one origin that cross batch ends and must still
    // coalesce; then a mixed random set.
    std::vector<std::vector<MergeInput>> sets(3);
    // Pairs of touching addresses of one origin, then a gap: one list, 10000
    // ranges, and a batch handed over by count always ends inside a pair.
    for (std::uint32_t i = 0; i < 20000; ++i)
        sets[0].push_back({prefix_range(Ip::from_v4(0x0a000000u + 3 * (i / 2) + i % 2), 128), 7, kVpn, 1});
    for (std::uint32_t i = 0; i < 20000; ++i)  // runs of 1000 touching addresses, then a gap
        sets[1].push_back({prefix_range(Ip::from_v4(0x0b000000u + i + i / 1000), 128), 8, kProxy, 0});
    std::mt19937_64 rng(0x51a4);
    for (int i = 0; i < 30000; ++i) {
        const unsigned len = 120 + static_cast<unsigned>(rng() % 9);
        sets[2].push_back({prefix_range(Ip::from_v4(0x0c000000u | static_cast<std::uint32_t>(rng() % (1u << 18))), len),
                           static_cast<std::uint32_t>(rng() % 5000), 1u << (rng() % 6), static_cast<std::uint32_t>(rng() % 4)});
    }
    for (std::size_t k = 0; k < sets.size(); ++k) {
        CAPTURE(k);
        const MergedSet stored = merge(sets[k]);
        check_structure(stored);
        std::vector<MergedRange> got;
        std::size_t calls = 0;
        const MergedSet handed = merge(sets[k], [&](std::span<const MergedRange> batch) {
            ++calls;
            CHECK_FALSE(batch.empty());
            got.insert(got.end(), batch.begin(), batch.end());
        });
        CHECK(handed.ranges.empty());
        MergedSet both = handed;
        both.ranges = got;
        CHECK(same(both, stored));
        CHECK(both.list_attributes == stored.list_attributes);
        if (k == 0) {
            CHECK(stored.ranges.size() == 10000);
            CHECK(stored.list_offsets.size() == 2);  // one list
            CHECK(calls > 1);
        }
        if (k == 1) CHECK(stored.ranges.size() == 20);
    }
}

TEST_CASE("merge: lists are numbered in address order, whatever the input order") {
    std::vector<MergeInput> in;
    for (std::uint32_t i = 0; i < 50; ++i)
        in.push_back({prefix_range(Ip::from_v4(0x0a000000u + 256 * i), 120), 49 - i, kVpn, 0});
    std::ranges::reverse(in);
    const MergedSet m = merge(in);
    REQUIRE(m.ranges.size() == 50);
    for (std::uint32_t i = 0; i < 50; ++i) {
        CHECK(m.ranges[i].provenance == i);
        CHECK(list_of(m, i) == std::vector<std::uint32_t>{49 - i});
    }
}

TEST_CASE("merge: random IPv4 sets against the brute-force oracle") {
    std::mt19937_64 rng(0x5eed4);
    run_random(rng, true, 2500);
}

TEST_CASE("merge: random IPv6 sets against the brute-force oracle") {
    std::mt19937_64 rng(0x5eed6);
    run_random(rng, false, 2500);
}

TEST_CASE("merge: a larger set with many shared and multi-origin lists") {
    // Enough distinct lists to grow the interner's table several times, with
    // wide ranges over many small ones. Checked on sampled addresses, and the
    // dense and sparse origin paths must agree up to relabelling.
    std::mt19937_64 rng(0xb16);
    std::vector<MergeInput> in;
    for (int i = 0; i < 20000; ++i) {
        const bool wide = rng() % 10 == 0;
        const unsigned len = wide ? 112 + static_cast<unsigned>(rng() % 8) : 124 + static_cast<unsigned>(rng() % 5);
        const Ip at = Ip::from_v4(0x0a000000u | static_cast<std::uint32_t>(rng() % (1u << 20)));
        in.push_back({prefix_range(at, len), static_cast<std::uint32_t>(rng() % 15000),
                      1u << (rng() % 6), rng() % 3 ? 0 : 1 + static_cast<std::uint32_t>(rng() % 50)});
    }
    const MergedSet m = merge(in);
    check_structure(m);
    CHECK(m.list_offsets.size() > 5000);

    for (int s = 0; s < 300; ++s) {
        const MergedRange& r = m.ranges[rng() % m.ranges.size()];
        for (Ip a : {r.range.first, r.range.last}) {
            CAPTURE(format_ip(a));
            CHECK(attrs_of(m, r) == expected_at(in, a));
        }
        const Ip probe = Ip::from_v4(0x0a000000u | static_cast<std::uint32_t>(rng() % (1u << 20)));
        const Attrs want = expected_at(in, probe);
        auto it = std::ranges::upper_bound(m.ranges, probe, {}, [](const MergedRange& x) { return x.range.first; });
        const bool covered = it != m.ranges.begin() && std::prev(it)->range.contains(probe);
        CAPTURE(format_ip(probe));
        REQUIRE(covered == !want.origins.empty());
        if (covered) CHECK(attrs_of(m, *std::prev(it)) == want);
    }

    std::vector<MergeInput> sparse = in;
    for (MergeInput& x : sparse) x.origin += 0xf0000000u;  // order-preserving relabel
    std::shuffle(sparse.begin(), sparse.end(), rng);
    MergedSet ms = merge(sparse);
    for (std::uint32_t& o : ms.list_origins) o -= 0xf0000000u;
    CHECK(same(ms, m));
}
