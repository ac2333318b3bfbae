// Tests of the merge (builder/include/anondb/builder/merge.hpp): hand examples
// that pin each rule, then random sets checked address by address against a
// brute-force oracle that scans every input, and the order merge() leaves
// the inputs in. Also BigAllocator (big_buffer.hpp), which the merge uses.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <optional>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "anondb/builder/big_buffer.hpp"
#include "anondb/builder/merge.hpp"
#include "anondb/category.hpp"
#include "test_util.hpp"

using namespace anondb;
using namespace anondb::test;
using anondb::builder::evidence_less;
using anondb::builder::merge;
using anondb::builder::MergedRange;
using anondb::builder::MergeInput;

namespace {

// What one address carries.
struct Attrs {
    std::uint32_t categories = 0;
    std::uint32_t provider = 0;
    std::uint32_t asn = 0;
    friend bool operator==(const Attrs&, const Attrs&) = default;
};

Attrs attrs_of(const MergedRange& r) { return Attrs{r.categories, r.provider, r.asn}; }

// The oracle: scan every input for one address; nullopt when none covers it.
std::optional<Attrs> expected_at(std::span<const MergeInput> inputs, Ip a) {
    std::optional<Attrs> e;
    U128 provider_width = 0, asn_width = 0;
    bool provider_derived = false;
    for (const MergeInput& in : inputs) {
        if (!in.range.contains(a)) continue;
        if (!e) e = Attrs{};
        e->categories |= in.categories;
        const U128 width = to_u128(in.range.last) - to_u128(in.range.first);
        if (in.asn != 0 && (e->asn == 0 || width < asn_width || (width == asn_width && in.asn < e->asn))) {
            e->asn = in.asn;
            asn_width = width;
        }
        if (in.provider == 0) continue;
        const bool derived = in.asn != 0;
        if (e->provider == 0 || derived < provider_derived ||
            (derived == provider_derived &&
             (width < provider_width || (width == provider_width && in.provider < e->provider)))) {
            provider_derived = derived;
            e->provider = in.provider;
            provider_width = width;
        }
    }
    return e;
}

std::string describe(const std::vector<MergedRange>& m) {
    std::string s;
    for (const MergedRange& r : m)
        s += format_range(r.range) + " cat=" + std::to_string(r.categories) + " prov=" + std::to_string(r.provider) +
             " asn=" + std::to_string(r.asn) + "\n";
    return s;
}

std::string describe(std::span<const MergeInput> inputs) {
    std::string s;
    for (const MergeInput& in : inputs)
        s += format_range(in.range) + " origin=" + std::to_string(in.origin) + " cat=" + std::to_string(in.categories) +
             " prov=" + std::to_string(in.provider) + " asn=" + std::to_string(in.asn) + "\n";
    return s;
}

bool same_input(const MergeInput& a, const MergeInput& b) {
    return std::tie(a.range.first, a.range.last, a.origin, a.categories, a.provider, a.asn) ==
           std::tie(b.range.first, b.range.last, b.origin, b.categories, b.provider, b.asn);
}

bool same_inputs(std::span<const MergeInput> a, std::span<const MergeInput> b) {
    return std::ranges::equal(a, b, same_input);
}

// The inputs sorted by every field: a permutation of one list equals another
// exactly when their canonical forms are equal.
std::vector<MergeInput> canonical(std::span<const MergeInput> inputs) {
    std::vector<MergeInput> v(inputs.begin(), inputs.end());
    std::ranges::sort(v, [](const MergeInput& a, const MergeInput& b) {
        return std::tie(a.range.first, a.range.last, a.origin, a.categories, a.provider, a.asn) <
               std::tie(b.range.first, b.range.last, b.origin, b.categories, b.provider, b.asn);
    });
    return v;
}

// What merge() made of a copy of some inputs: the ranges, and the inputs as
// it left them.
struct Merged {
    std::vector<MergedRange> ranges;
    std::vector<MergeInput> sorted;
};

Merged run_merge(std::span<const MergeInput> inputs) {
    Merged m;
    m.sorted.assign(inputs.begin(), inputs.end());
    m.ranges = merge(m.sorted);
    return m;
}

// Invariants of any output: ranges sorted, disjoint, none empty, and the
// coarsest (no two touching ones with equal attributes).
void check_structure(const std::vector<MergedRange>& m) {
    for (std::size_t i = 0; i < m.size(); ++i) {
        REQUIRE(m[i].range.first <= m[i].range.last);
        if (i == 0) continue;
        const MergedRange &p = m[i - 1], &r = m[i];
        REQUIRE(p.range.last < r.range.first);
        const bool touching = ip_next(p.range.last) == r.range.first;
        CHECK_FALSE((touching && attrs_of(p) == attrs_of(r)));
    }
}

// merge() left the inputs in evidence order, as a permutation of the originals.
void check_sorted_inputs(std::span<const MergeInput> original, std::span<const MergeInput> sorted) {
    CHECK(std::ranges::is_sorted(sorted, evidence_less));
    CHECK(same_inputs(canonical(original), canonical(sorted)));
}

// The attributes of the output range holding `a`; nullopt when none does.
std::optional<Attrs> output_at(const std::vector<MergedRange>& m, Ip a) {
    const auto it = std::ranges::upper_bound(m, a, {}, [](const MergedRange& r) { return r.range.first; });
    if (it == m.begin() || !std::prev(it)->range.contains(a)) return std::nullopt;
    return attrs_of(*std::prev(it));
}

// Checks every address of [lo, hi] against the oracle, and the two regions
// outside it as wholes: inputs that leave the window reach the space edges,
// so each outside region has constant attributes.
void check_against_oracle(std::span<const MergeInput> inputs, const std::vector<MergedRange>& m, U128 lo, U128 hi) {
    // One assertion at the first address that differs (an assertion an
    // address would be most of the test's time).
    std::size_t k = 0;  // first output range not entirely below the address
    for (U128 a = lo;; ++a) {
        const Ip ip = to_ip(a);
        while (k < m.size() && m[k].range.last < ip) ++k;
        const std::optional<Attrs> got =
            k < m.size() && m[k].range.contains(ip) ? std::optional<Attrs>(attrs_of(m[k])) : std::nullopt;
        if (const std::optional<Attrs> want = expected_at(inputs, ip); got != want) {
            CAPTURE(format_ip(ip));
            REQUIRE(got.has_value() == want.has_value());
            REQUIRE(*got == *want);
        }
        if (a == hi) break;
    }
    if (lo > 0) {
        const std::optional<Attrs> below = expected_at(inputs, to_ip(lo - 1));
        if (!below) {
            CHECK((m.empty() || to_u128(m.front().range.first) >= lo));
        } else {
            REQUIRE(!m.empty());
            CHECK(m.front().range.first == kIpMin);
            CHECK(to_u128(m.front().range.last) >= lo - 1);
            CHECK(attrs_of(m.front()) == *below);
        }
    }
    if (hi < to_u128(kIpMax)) {
        const std::optional<Attrs> above = expected_at(inputs, to_ip(hi + 1));
        if (!above) {
            CHECK((m.empty() || to_u128(m.back().range.last) <= hi));
        } else {
            REQUIRE(!m.empty());
            CHECK(m.back().range.last == kIpMax);
            CHECK(to_u128(m.back().range.first) <= hi + 1);
            CHECK(attrs_of(m.back()) == *above);
        }
    }
}

// Random inputs inside the window [base, base + size - 1]: overlapping,
// nested, touching, duplicated (same range, or the very same input), single
// addresses and aligned blocks, with a few ranges running out of the window
// to the edges of the space.
std::vector<MergeInput> random_inputs(std::mt19937_64& rng, U128 base, U128 size) {
    auto below = [&](std::uint64_t n) { return rng() % n; };
    const auto w = static_cast<std::uint64_t>(size);  // window offsets are 0 .. w-1
    auto attrs = [&](MergeInput in) {
        in.origin = static_cast<std::uint32_t>(below(6));
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
        switch (in.empty() ? 0 : below(8)) {
            case 0: x.range = offsets(a, b); break;
            case 1: x.range = offsets(a, a); break;
            case 2: {  // an aligned block, if one fits
                const Range p = prefix_range(to_ip(base + a), 128 - static_cast<unsigned>(below(9)));
                x.range = (to_u128(p.first) >= base && to_u128(p.last) < base + size) ? p : offsets(a, a);
                break;
            }
            case 3: x.range = in[below(in.size())].range; break;  // same range, other attributes
            case 4: x = in[below(in.size())]; break;               // the very same input
            case 5: {  // same range and origin, other attributes
                const MergeInput& o = in[below(in.size())];
                x.range = o.range;
                x.origin = o.origin;
                break;
            }
            case 6: {  // touching an existing one on the right
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
        switch (rng() % 7) {
            case 0: base = v4 ? v4_first : 0; break;                  // bottom edge
            case 1: base = (v4 ? v4_last : top) - (size - 1); break;  // top edge
            case 2:                                                   // across a boundary
                base = v4 ? v4_first + (U128{1} << 31) - size / 2 : (rng() % 2 ? U128{1} << 64 : v4_first) - size / 2;
                break;
            case 3:
                if (!v4) {  // out of the IPv4-mapped block at the top
                    base = v4_last + 1 - size / 2;
                    break;
                }
                [[fallthrough]];
            case 4:
                if (!v4) {  // just below the block, touching it
                    base = v4_first - size;
                    break;
                }
                [[fallthrough]];
            default:
                base = v4 ? v4_first + rng() % (U128{1} << 32) : (U128{rng()} << 64 | rng());
                base = std::min(base, (v4 ? v4_last : top) - (size - 1));
                break;
        }
        const std::vector<MergeInput> inputs = random_inputs(rng, base, size);
        CAPTURE(round);
        INFO(describe(inputs));
        const Merged m = run_merge(inputs);
        INFO(describe(m.ranges));
        check_structure(m.ranges);
        check_against_oracle(inputs, m.ranges, base, base + size - 1);
        check_sorted_inputs(inputs, m.sorted);

        // Input order shows neither in the ranges nor in the sorted inputs.
        std::vector<MergeInput> shuffled = inputs;
        std::shuffle(shuffled.begin(), shuffled.end(), rng);
        const Merged s = run_merge(shuffled);
        CHECK(s.ranges == m.ranges);
        CHECK(same_inputs(s.sorted, m.sorted));
    }
}

}  // namespace

namespace doctest {
template <>
struct StringMaker<Attrs> {
    static String convert(const Attrs& a) {
        return ("cat=" + std::to_string(a.categories) + " prov=" + std::to_string(a.provider) +
                " asn=" + std::to_string(a.asn))
            .c_str();
    }
};
template <>
struct StringMaker<MergedRange> {
    static String convert(const MergedRange& r) { return describe(std::vector<MergedRange>{r}).c_str(); }
};
}  // namespace doctest

TEST_CASE("merge: no inputs, no ranges, no call to the sink") {
    CHECK(merge({}).empty());
    int calls = 0;
    merge({}, [&](std::span<const MergedRange>) { ++calls; });
    CHECK(calls == 0);
}

TEST_CASE("merge: nested ranges split the outer one") {
    std::vector<MergeInput> in = {
        {range_of("10.1.0.0/16"), 2, kVpn, 7},
        {range_of("10.0.0.0/8"), 1, kHosting, 5},
    };
    const std::vector<MergedRange> m = merge(in);
    INFO(describe(m));
    REQUIRE(m.size() == 3);
    CHECK(m[0] == MergedRange{range_of("10.0.0.0-10.0.255.255"), kHosting, 5, 0});
    CHECK(m[1] == MergedRange{range_of("10.1.0.0/16"), kHosting | kVpn, 7, 0});
    CHECK(m[2] == MergedRange{range_of("10.2.0.0-10.255.255.255"), kHosting, 5, 0});
    // The enclosing range comes first in evidence order.
    CHECK(in[0].range == range_of("10.0.0.0/8"));
    CHECK(in[1].range == range_of("10.1.0.0/16"));
}

TEST_CASE("merge: touching ranges with equal attributes coalesce, whatever their origins") {
    std::vector<MergeInput> in = {
        {range_of("10.0.0.128/25"), 3, kVpn, 2},
        {range_of("10.0.0.0/25"), 4, kVpn, 2},
        {range_of("10.0.1.0/24"), 5, kVpn, 2},
        {range_of("10.0.0.0-10.0.0.10"), 3, kVpn, 2},  // overlapping, nothing changes
    };
    const std::vector<MergedRange> m = merge(in);
    INFO(describe(m));
    REQUIRE(m.size() == 1);
    CHECK(m[0] == MergedRange{range_of("10.0.0.0/23"), kVpn, 2, 0});
}

TEST_CASE("merge: touching ranges with other attributes stay apart") {
    const Range a = range_of("10.0.0.0/25"), b = range_of("10.0.0.128/25");
    SUBCASE("other category") {
        std::vector<MergeInput> in = {{a, 3, kVpn, 2}, {b, 3, kProxy, 2}};
        const auto m = merge(in);
        REQUIRE(m.size() == 2);
        CHECK(m[0] == MergedRange{a, kVpn, 2, 0});
        CHECK(m[1] == MergedRange{b, kProxy, 2, 0});
    }
    SUBCASE("other provider") {
        std::vector<MergeInput> in = {{a, 3, kVpn, 2}, {b, 3, kVpn, 0}};
        const auto m = merge(in);
        REQUIRE(m.size() == 2);
        CHECK(m[1] == MergedRange{b, kVpn, 0, 0});
    }
    SUBCASE("other asn") {
        std::vector<MergeInput> in = {{a, 3, kVpn, 0, 64500}, {b, 3, kVpn, 0, 64501}};
        const auto m = merge(in);
        REQUIRE(m.size() == 2);
        CHECK(m[0] == MergedRange{a, kVpn, 0, 64500});
        CHECK(m[1] == MergedRange{b, kVpn, 0, 64501});
    }
    SUBCASE("a gap is not touching") {
        std::vector<MergeInput> in = {{a, 3, kVpn, 2}, {range_of("10.0.0.129-10.0.0.255"), 3, kVpn, 2}};
        const auto m = merge(in);
        REQUIRE(m.size() == 2);
        CHECK(m[1].range.first == ip_of("10.0.0.129"));
    }
}

TEST_CASE("merge: provider of the narrowest covering input that has one") {
    std::vector<MergeInput> in = {
        {range_of("10.0.0.0/16"), 1, kHosting, 9},
        {range_of("10.0.0.0/24"), 2, kVpn, 0},            // narrowest, but no provider: ignored
        {range_of("10.0.0.0/24"), 3, kVpn, 4},            // a tie on width ...
        {range_of("10.0.0.0/24"), 4, kVpn, 3},            // ... goes to the lowest provider id
        {range_of("10.0.2.0-10.0.2.200"), 5, kProxy, 8},  // width counts, not prefix length
        {range_of("10.0.2.0/24"), 6, kProxy, 1},
    };
    const std::vector<MergedRange> m = merge(in);
    INFO(describe(m));
    REQUIRE(m.size() == 5);
    CHECK(m[0] == MergedRange{range_of("10.0.0.0/24"), kHosting | kVpn, 3, 0});
    CHECK(m[1] == MergedRange{range_of("10.0.1.0/24"), kHosting, 9, 0});
    CHECK(m[2] == MergedRange{range_of("10.0.2.0-10.0.2.200"), kHosting | kProxy, 8, 0});
    CHECK(m[3] == MergedRange{range_of("10.0.2.201-10.0.2.255"), kHosting | kProxy, 1, 0});
    CHECK(m[4] == MergedRange{range_of("10.0.3.0-10.0.255.255"), kHosting, 9, 0});

    std::vector<MergeInput> none = {{range_of("10.0.0.0/24"), 1, kVpn, 0}, {range_of("10.0.0.0/25"), 2, kProxy, 0}};
    const auto mn = merge(none);
    REQUIRE(mn.size() == 2);
    for (const MergedRange& r : mn) CHECK(r.provider == 0);
}

TEST_CASE("merge: a direct entry names the provider before ASN-derived ones, however wide") {
    std::vector<MergeInput> in = {
        {range_of("10.0.0.0/8"), 1, kVpn, 7},                   // direct, wide
        {range_of("10.0.0.0/24"), 2, kHosting, 3, 64500},       // derived, narrow
        {range_of("10.0.1.0/24"), 3, kHosting, 4, 64501},       // derived ...
        {range_of("10.0.1.0/25"), 4, kHosting, 5, 64502},       // ... the narrower derived one
        {range_of("11.0.0.0/24"), 5, kHosting, 6, 64503},       // derived only
        {range_of("11.0.0.0/24"), 6, kHosting, 2, 64504},       // a tie: lowest provider id
        {range_of("12.0.0.0/16"), 7, kVpn, 9},                  // two direct ones: the narrower
        {range_of("12.0.0.0/24"), 8, kVpn, 8},
    };
    const std::vector<MergedRange> m = merge(in);
    INFO(describe(m));
    const auto at = [&](const char* a) { return output_at(m, ip_of(a)); };
    CHECK(at("10.0.0.1") == Attrs{kVpn | kHosting, 7, 64500});
    CHECK(at("10.0.1.1") == Attrs{kVpn | kHosting, 7, 64502});
    CHECK(at("10.0.1.200") == Attrs{kVpn | kHosting, 7, 64501});
    CHECK(at("10.0.2.1") == Attrs{kVpn, 7, 0});
    CHECK(at("11.0.0.1") == Attrs{kHosting, 2, 64503});
    CHECK(at("12.0.0.1") == Attrs{kVpn, 8, 0});
    CHECK(at("12.0.1.1") == Attrs{kVpn, 9, 0});
}

TEST_CASE("merge: asn of the narrowest covering input that has one, independently of the provider") {
    std::vector<MergeInput> in = {
        {range_of("10.0.0.0/16"), 1, kHosting, 4, 64510},
        {range_of("10.0.0.0/24"), 2, kHosting, 0, 64520},  // narrower, no provider: names the AS only
        {range_of("10.0.0.0/25"), 3, kVpn, 5},             // narrowest, direct, no AS: names the provider only
        {range_of("10.0.1.0/24"), 4, kHosting, 0, 64530},  // a tie on width ...
        {range_of("10.0.1.0/24"), 5, kHosting, 0, 64525},  // ... goes to the lowest AS
    };
    const std::vector<MergedRange> m = merge(in);
    INFO(describe(m));
    const auto at = [&](const char* a) { return output_at(m, ip_of(a)); };
    CHECK(at("10.0.0.1") == Attrs{kHosting | kVpn, 5, 64520});
    CHECK(at("10.0.0.200") == Attrs{kHosting, 4, 64520});
    CHECK(at("10.0.1.1") == Attrs{kHosting, 4, 64525});
    CHECK(at("10.0.2.1") == Attrs{kHosting, 4, 64510});
    check_structure(m);
}

TEST_CASE("merge: inputs are left in evidence order") {
    const std::vector<MergeInput> original = {
        {range_of("10.0.0.0/24"), 9, kVpn, 0},
        {range_of("10.0.0.0/16"), 7, kVpn, 0},
        {range_of("10.0.0.0/24"), 2, kProxy, 0},
        {range_of("::1"), 5, kVpn, 0},
        {range_of("10.0.0.0/24"), 2, kVpn, 0},  // same range and origin: still one order
        {range_of("2001:db8::/32"), 1, kVpn, 0},
        {range_of("9.255.255.255"), 8, kVpn, 0},
        {range_of("10.0.0.0"), 3, kVpn, 0},
    };
    std::vector<MergeInput> in = original;
    merge(in);
    const std::vector<MergeInput> want = {
        {range_of("::1"), 5, kVpn, 0},
        {range_of("9.255.255.255"), 8, kVpn, 0},
        {range_of("10.0.0.0/16"), 7, kVpn, 0},
        {range_of("10.0.0.0/24"), 2, kVpn, 0},
        {range_of("10.0.0.0/24"), 2, kProxy, 0},
        {range_of("10.0.0.0/24"), 9, kVpn, 0},
        {range_of("10.0.0.0"), 3, kVpn, 0},
        {range_of("2001:db8::/32"), 1, kVpn, 0},
    };
    INFO(describe(in));
    CHECK(same_inputs(in, want));
    CHECK(evidence_less(want[2], want[3]));    // the enclosing range first
    CHECK(evidence_less(want[4], want[5]));    // then origin
    CHECK_FALSE(evidence_less(want[3], want[4]));  // a tie for evidence order
    CHECK_FALSE(evidence_less(want[4], want[3]));
}

TEST_CASE("merge: the whole space and its edges") {
    const Range all = range_of("::/0");
    SUBCASE("::/0 alone") {
        std::vector<MergeInput> in = {{all, 1, kTorExit, 1}};
        const auto m = merge(in);
        REQUIRE(m.size() == 1);
        CHECK(m[0] == MergedRange{all, kTorExit, 1, 0});
    }
    SUBCASE("::/0 twice") {
        std::vector<MergeInput> in = {{all, 1, kTorExit, 1}, {all, 2, kVpn, 2, 64500}};
        const auto m = merge(in);
        REQUIRE(m.size() == 1);
        CHECK(m[0] == MergedRange{all, kTorExit | kVpn, 1, 64500});
    }
    SUBCASE("single addresses at the very bottom and top") {
        std::vector<MergeInput> in = {
            {Range{kIpMax, kIpMax}, 3, kProxy, 0},
            {all, 1, kHosting, 0},
            {Range{kIpMin, kIpMin}, 2, kVpn, 0},
        };
        const auto m = merge(in);
        INFO(describe(m));
        REQUIRE(m.size() == 3);
        CHECK(m[0] == MergedRange{Range{kIpMin, kIpMin}, kHosting | kVpn, 0, 0});
        CHECK(m[1] == MergedRange{Range{Ip{0, 1}, ip_prev(kIpMax)}, kHosting, 0, 0});
        CHECK(m[2] == MergedRange{Range{kIpMax, kIpMax}, kHosting | kProxy, 0, 0});
    }
    SUBCASE("the top address alone, and the bottom one") {
        std::vector<MergeInput> in = {{Range{kIpMax, kIpMax}, 0, kProxy, 0}, {Range{kIpMin, kIpMin}, 0, kProxy, 0}};
        const auto m = merge(in);
        REQUIRE(m.size() == 2);
        CHECK(m[0].range == Range{kIpMin, kIpMin});
        CHECK(m[1].range == Range{kIpMax, kIpMax});
    }
    SUBCASE("halves touching at the middle coalesce") {
        std::vector<MergeInput> in = {{range_of("8000::/1"), 7, kRelay, 0}, {range_of("::/1"), 8, kRelay, 0}};
        const auto m = merge(in);
        REQUIRE(m.size() == 1);
        CHECK(m[0].range == all);
    }
}

TEST_CASE("merge: the edges of IPv4, 0.0.0.0 and 255.255.255.255") {
    SUBCASE("alone") {
        std::vector<MergeInput> in = {{range_of("255.255.255.255"), 1, kVpn, 0}, {range_of("0.0.0.0"), 2, kVpn, 0}};
        const auto m = merge(in);
        REQUIRE(m.size() == 2);
        CHECK(m[0] == MergedRange{Range{kV4First, kV4First}, kVpn, 0, 0});
        CHECK(m[1] == MergedRange{Range{kV4Last, kV4Last}, kVpn, 0, 0});
    }
    SUBCASE("inside 0.0.0.0/0") {
        std::vector<MergeInput> in = {{range_of("255.255.255.255"), 1, kVpn, 0},
                                      {range_of("0.0.0.0/0"), 3, kHosting, 0},
                                      {range_of("0.0.0.0"), 2, kVpn, 0}};
        const auto m = merge(in);
        INFO(describe(m));
        REQUIRE(m.size() == 3);
        CHECK(m[0] == MergedRange{Range{kV4First, kV4First}, kVpn | kHosting, 0, 0});
        CHECK(m[1] == MergedRange{range_of("0.0.0.1-255.255.255.254"), kHosting, 0, 0});
        CHECK(m[2] == MergedRange{Range{kV4Last, kV4Last}, kVpn | kHosting, 0, 0});
    }
}

TEST_CASE("merge: the edges of the IPv4-mapped block") {
    // Inputs inside the block are swept as 32-bit addresses, the others
    // apart: ranges must still coalesce across the block's edges, and an
    // input that overlaps the block from outside must still split it.
    const Ip below_first = ip_prev(kV4First), above_last = ip_next(kV4Last);
    SUBCASE("touching inputs with equal attributes coalesce across both edges") {
        std::vector<MergeInput> in = {{Range{ip_prev(below_first), below_first}, 5, kVpn, 1},
                                      {Range{kV4First, Ip::from_v4(9)}, 6, kVpn, 1},
                                      {Range{Ip::from_v4(0xfffffff0u), kV4Last}, 7, kVpn, 1},
                                      {Range{above_last, ip_next(above_last)}, 8, kVpn, 1}};
        const auto m = merge(in);
        INFO(describe(m));
        REQUIRE(m.size() == 2);
        CHECK(m[0] == MergedRange{Range{ip_prev(below_first), Ip::from_v4(9)}, kVpn, 1, 0});
        CHECK(m[1] == MergedRange{Range{Ip::from_v4(0xfffffff0u), ip_next(above_last)}, kVpn, 1, 0});
    }
    SUBCASE("touching inputs with other attributes stay apart at both edges") {
        std::vector<MergeInput> in = {{Range{below_first, below_first}, 5, kVpn, 1},
                                      {Range{kV4First, kV4First}, 6, kVpn, 2},
                                      {Range{kV4Last, kV4Last}, 7, kVpn, 2},
                                      {Range{above_last, above_last}, 8, kProxy, 2}};
        const auto m = merge(in);
        INFO(describe(m));
        REQUIRE(m.size() == 4);
        CHECK(m[0].range == Range{below_first, below_first});
        CHECK(m[1].range == Range{kV4First, kV4First});
        CHECK(m[2].range == Range{kV4Last, kV4Last});
        CHECK(m[3].range == Range{above_last, above_last});
    }
    SUBCASE("an input over the whole block from outside") {
        const std::vector<MergeInput> original = {{Range{below_first, above_last}, 1, kHosting, 0},
                                                  {range_of("10.0.0.0/8"), 2, kVpn, 0},
                                                  {Range{kV4Last, kV4Last}, 3, kTorExit, 0}};
        std::vector<MergeInput> in = original;
        const auto m = merge(in);
        INFO(describe(m));
        check_structure(m);
        check_sorted_inputs(original, in);
        REQUIRE(m.size() == 5);
        CHECK(m[0] == MergedRange{Range{below_first, ip_prev(ip_of("10.0.0.0"))}, kHosting, 0, 0});
        CHECK(m[1] == MergedRange{range_of("10.0.0.0/8"), kHosting | kVpn, 0, 0});
        CHECK(m[2] == MergedRange{Range{ip_of("11.0.0.0"), ip_prev(kV4Last)}, kHosting, 0, 0});
        CHECK(m[3] == MergedRange{Range{kV4Last, kV4Last}, kHosting | kTorExit, 0, 0});
        CHECK(m[4] == MergedRange{Range{above_last, above_last}, kHosting, 0, 0});
    }
    SUBCASE("an input from inside the block out of it") {
        const std::vector<MergeInput> original = {{Range{Ip::from_v4(0xffffff00u), above_last}, 1, kHosting, 0},
                                                  {range_of("255.255.255.0/25"), 2, kVpn, 0},
                                                  {range_of("255.255.254.0/24"), 3, kVpn, 0},
                                                  {range_of("255.255.255.0/24"), 4, kProxy, 0},
                                                  {Range{above_last, above_last}, 5, kTorExit, 0}};
        std::vector<MergeInput> in = original;
        const auto m = merge(in);
        INFO(describe(m));
        check_sorted_inputs(original, in);
        // 255.255.255.0 starts three inputs: the widest first, out of the block.
        CHECK(in[1].origin == 1);
        CHECK(in[2].origin == 4);
        CHECK(in[3].origin == 2);
        REQUIRE(m.size() == 4);
        CHECK(m[0] == MergedRange{range_of("255.255.254.0/24"), kVpn, 0, 0});
        CHECK(m[1] == MergedRange{range_of("255.255.255.0/25"), kHosting | kVpn | kProxy, 0, 0});
        CHECK(m[2] == MergedRange{range_of("255.255.255.128/25"), kHosting | kProxy, 0, 0});
        CHECK(m[3] == MergedRange{Range{above_last, above_last}, kHosting | kTorExit, 0, 0});
    }
}

TEST_CASE("merge: a sink gets the ranges the collecting merge returns, in order, across its batches") {
    // Enough ranges to hand over several batches, and touching runs that
    // cross batch ends and must still coalesce; then a mixed random set.
    std::vector<std::vector<MergeInput>> sets(4);
    // Pairs of touching addresses, then a gap: 10000 ranges.
    for (std::uint32_t i = 0; i < 20000; ++i)
        sets[0].push_back({prefix_range(Ip::from_v4(0x0a000000u + 3 * (i / 2) + i % 2), 128), i, kVpn, 1});
    for (std::uint32_t i = 0; i < 20000; ++i)  // runs of 1000 touching addresses, then a gap
        sets[1].push_back({prefix_range(Ip::from_v4(0x0b000000u + i + i / 1000), 128), 8, kProxy, 0});
    // Alternating attributes, touching: nothing coalesces, 20000 ranges.
    for (std::uint32_t i = 0; i < 20000; ++i)
        sets[2].push_back({prefix_range(Ip::from_v4(0x0c000000u + i), 128), i, i % 2 ? kVpn : kProxy, 0});
    std::mt19937_64 rng(0x51a4);
    for (int i = 0; i < 20000; ++i) {
        const unsigned len = 120 + static_cast<unsigned>(rng() % 9);
        sets[3].push_back({prefix_range(Ip::from_v4(0x0c000000u | static_cast<std::uint32_t>(rng() % (1u << 18))), len),
                           static_cast<std::uint32_t>(rng() % 5000), 1u << (rng() % 6),
                           static_cast<std::uint32_t>(rng() % 4)});
    }
    for (std::size_t k = 0; k < sets.size(); ++k) {
        CAPTURE(k);
        std::vector<MergeInput> a = sets[k], b = sets[k];
        const std::vector<MergedRange> stored = merge(a);
        check_structure(stored);
        std::vector<MergedRange> got;
        std::size_t calls = 0;
        merge(b, [&](std::span<const MergedRange> batch) {
            ++calls;
            CHECK_FALSE(batch.empty());
            got.insert(got.end(), batch.begin(), batch.end());
        });
        CHECK(got == stored);
        CHECK(same_inputs(a, b));
        if (k == 0) CHECK(stored.size() == 10000);
        if (k == 1) CHECK(stored.size() == 20);
        if (k == 2) CHECK(stored.size() == 20000);
        if (k != 1) CHECK(calls > 1);
    }
}

TEST_CASE("merge: random IPv4 sets against the brute-force oracle") {
    std::mt19937_64 rng(0x5eed4);
    run_random(rng, true, 2000);
}

TEST_CASE("merge: random 128-bit sets against the brute-force oracle") {
    std::mt19937_64 rng(0x5eed6);
    run_random(rng, false, 2000);
}

TEST_CASE("merge: a larger set over the whole space, sampled against the oracle") {
    // Many inputs, so the sort passes over every byte of the IPv4 starts, with
    // many equal starts; IPv6 inputs below and above the IPv4-mapped block,
    // interleaved with IPv4 ones in the input order; nested wide inputs.
    std::mt19937_64 rng(0xb16);
    std::vector<MergeInput> in;
    for (int i = 0; i < 20000; ++i) {
        MergeInput x;
        x.origin = static_cast<std::uint32_t>(rng() % 15000);
        x.categories = 1u << (rng() % 6);
        x.provider = rng() % 3 ? 0 : 1 + static_cast<std::uint32_t>(rng() % 50);
        x.asn = rng() % 3 ? 0 : 64500 + static_cast<std::uint32_t>(rng() % 20);
        if (rng() % 5 == 0) {  // IPv6: below or above the block, some wide
            const Ip at = rng() % 4 == 0 ? Ip{0, rng() % (1u << 20)} : Ip{0x2001'0db8'0000'0000ull | (rng() % 256) << 16, rng()};
            x.range = prefix_range(at, rng() % 10 == 0 ? 100 : 120 + static_cast<unsigned>(rng() % 9));
        } else {
            const bool wide = rng() % 20 == 0;
            const unsigned len = wide ? 96 + static_cast<unsigned>(rng() % 24) : 120 + static_cast<unsigned>(rng() % 9);
            // Clustered starts: many equal ones.
            const auto addr = static_cast<std::uint32_t>(rng() % 2 ? rng() : (rng() % 64) << 24 | (rng() % 16) << 8);
            x.range = prefix_range(Ip::from_v4(addr), len);
        }
        in.push_back(x);
    }
    const Merged m = run_merge(in);
    check_structure(m.ranges);
    check_sorted_inputs(in, m.sorted);

    for (int s = 0; s < 100; ++s) {
        const MergedRange& r = m.ranges[rng() % m.ranges.size()];
        for (Ip a : {r.range.first, r.range.last}) {
            CAPTURE(format_ip(a));
            CHECK(expected_at(in, a) == attrs_of(r));
        }
        for (Ip a : {ip_prev(r.range.first), ip_next(r.range.last)}) {
            CAPTURE(format_ip(a));
            CHECK(expected_at(in, a) == output_at(m.ranges, a));
        }
        const Ip probe = Ip::from_v4(static_cast<std::uint32_t>(rng()));
        CAPTURE(format_ip(probe));
        CHECK(expected_at(in, probe) == output_at(m.ranges, probe));
    }

    std::vector<MergeInput> shuffled = in;
    std::shuffle(shuffled.begin(), shuffled.end(), rng);
    const Merged again = run_merge(shuffled);
    CHECK(again.ranges == m.ranges);
    CHECK(same_inputs(again.sorted, m.sorted));
}

TEST_CASE("merge: many inputs outside IPv4 (their copy is a huge-page mapping)") {
    // 25000 copies of 48-byte inputs pass BigAllocator's 1 MiB threshold.
    std::mt19937_64 rng(0x6b16);
    std::vector<MergeInput> in;
    for (std::uint32_t i = 0; i < 30000; ++i) {
        MergeInput x{{}, i, 1u << (rng() % 6), rng() % 2 ? 0 : 1 + static_cast<std::uint32_t>(rng() % 9)};
        const Ip at = i % 6 == 0 ? Ip::from_v4(0x0a000000u | static_cast<std::uint32_t>(rng() % (1u << 16)))
                                 : Ip{0x2001'0db8'0000'0000ull, rng() % (1u << 16)};
        x.range = prefix_range(at, 120 + static_cast<unsigned>(rng() % 9));
        in.push_back(x);
    }
    const Merged m = run_merge(in);
    check_structure(m.ranges);
    check_sorted_inputs(in, m.sorted);
    for (int s = 0; s < 25; ++s) {
        for (const Ip probe : {Ip::from_v4(0x0a000000u | static_cast<std::uint32_t>(rng() % (1u << 16))),
                               Ip{0x2001'0db8'0000'0000ull, rng() % (1u << 16)}}) {
            CAPTURE(format_ip(probe));
            CHECK(expected_at(in, probe) == output_at(m.ranges, probe));
        }
    }
}

TEST_CASE("BigAllocator: large allocations are 2 MiB aligned mappings, small ones plain memory") {
    using builder::BigAllocator;
    std::vector<std::uint32_t, BigAllocator<std::uint32_t>> big(1'000'000);  // 4 MB
    CHECK(reinterpret_cast<std::uintptr_t>(big.data()) % (std::uintptr_t{2} << 20) == 0);
    CHECK(std::ranges::all_of(big, [](std::uint32_t x) { return x == 0; }));
    for (std::uint32_t i = 0; i < big.size(); ++i) big[i] = i;
    big.resize(2'000'000, 7);  // a new mapping, the old one unmapped
    CHECK(big[999'999] == 999'999);
    CHECK(big[1'000'000] == 7);
    CHECK(big.back() == 7);

    std::vector<std::uint64_t, BigAllocator<std::uint64_t>> small = {1, 2, 3};
    small.push_back(4);
    CHECK(small == std::vector<std::uint64_t, BigAllocator<std::uint64_t>>{1, 2, 3, 4});
    CHECK(BigAllocator<int>() == BigAllocator<double>());
}
