// Content guards: reserved space is never published, over-broad entries are
// rejected. Checked against an address-by-address oracle near every edge of
// the reserved table.
#include <doctest/doctest.h>

#include <random>

#include "anondb/builder/guard.hpp"
#include "anondb/category.hpp"
#include "test_util.hpp"

using namespace anondb;
using namespace anondb::builder;
using namespace anondb::test;

namespace {

const GuardPolicy kAnything{0, 0};  // breadth unlimited: only reserved space applies

bool in_reserved(Ip a) {
    for (const auto& b : reserved_blocks())
        if (b.range.contains(a)) return true;
    return false;
}

}  // namespace

TEST_CASE("reserved table: sorted, disjoint, and covers the well-known blocks") {
    const auto blocks = reserved_blocks();
    REQUIRE(blocks.size() > 10);
    for (std::size_t i = 1; i < blocks.size(); ++i) CHECK(blocks[i - 1].range.last < blocks[i].range.first);
    for (const char* a : {"0.1.2.3", "10.1.2.3", "100.64.0.1", "127.0.0.1", "169.254.1.1", "172.16.0.1", "172.31.255.255",
                          "192.0.2.1", "192.168.1.1", "198.18.0.1", "198.51.100.7", "203.0.113.9", "224.0.0.1",
                          "255.255.255.255", "::", "::1", "fe80::1", "fc00::1", "ff02::1", "2001:db8::1", "3fff::1",
                          "64:ff9b::1.2.3.4"})
        CHECK_MESSAGE(in_reserved(ip_of(a)), a);
    for (const char* a : {"1.1.1.1", "8.8.8.8", "100.63.255.255", "100.128.0.0", "172.15.255.255", "172.32.0.0",
                          "185.220.101.1", "2001:678:8b4::1", "2a00::1", "2600::1"})
        CHECK_MESSAGE(!in_reserved(ip_of(a)), a);
}

TEST_CASE("every reserved block given as an entry is rejected, naming the block") {
    for (const auto& b : reserved_blocks()) {
        std::vector<Range> pieces;
        const GuardResult g = guard_entry(b.range, kAnything, pieces);
        CHECK(g.action == GuardResult::Action::reject);
        CHECK(pieces.empty());
        CHECK(g.reason == "reserved: " + std::string(b.name));
    }
}

TEST_CASE("pieces are exactly the entry minus reserved space (oracle at every block edge)") {
    std::mt19937_64 rng(7);
    std::vector<Ip> edges;
    for (const auto& b : reserved_blocks()) {
        edges.push_back(b.range.first);
        edges.push_back(b.range.last);
    }
    int clipped = 0, rejected = 0, kept = 0;
    for (int round = 0; round < 4000; ++round) {
        const Ip edge = edges[rng() % edges.size()];
        // An entry of up to 300 addresses around the edge, staying inside the space.
        const auto lo_off = -static_cast<std::int64_t>(rng() % 200);
        const auto len = static_cast<std::int64_t>(rng() % 300);
        Ip first = edge, last;
        for (std::int64_t k = 0; k > lo_off && first != kIpMin; --k) first = ip_prev(first);
        last = first;
        for (std::int64_t k = 0; k < len && last != kIpMax; ++k) last = ip_next(last);
        const Range entry{first, last};

        std::vector<Range> pieces;
        const GuardResult g = guard_entry(entry, kAnything, pieces);
        // Pieces: sorted, disjoint, not touching (each maximal), inside the entry.
        for (std::size_t i = 0; i < pieces.size(); ++i) {
            CHECK(entry.first <= pieces[i].first);
            CHECK(pieces[i].last <= entry.last);
            CHECK(pieces[i].first <= pieces[i].last);
            if (i) CHECK(ip_next(pieces[i - 1].last) < pieces[i].first);
        }
        bool any_public = false, any_reserved = false;
        for (Ip a = entry.first;; a = ip_next(a)) {
            const bool reserved = in_reserved(a);
            any_public |= !reserved;
            any_reserved |= reserved;
            bool in_piece = false;
            for (const auto& p : pieces) in_piece |= p.contains(a);
            REQUIRE_MESSAGE(in_piece == !reserved, format_ip(a) << " in " << format_range(entry));
            if (a == entry.last) break;
        }
        if (!any_public) {
            CHECK(g.action == GuardResult::Action::reject);
            ++rejected;
        } else if (any_reserved) {
            CHECK(g.action == GuardResult::Action::clip);
            CHECK(g.reason.rfind("reserved part removed: ", 0) == 0);
            ++clipped;
        } else {
            CHECK(g.action == GuardResult::Action::keep);
            CHECK(g.reason.empty());
            ++kept;
        }
    }
    // The walk really exercised all three outcomes.
    CHECK(clipped > 100);
    CHECK(rejected > 100);
    CHECK(kept > 100);
}

TEST_CASE("breadth: nothing broader than the feed's limit, counted by size not alignment") {
    const GuardPolicy tor = default_guard_policy(kTorExit);
    CHECK(tor.broadest_v4 == 24);
    CHECK(tor.broadest_v6 == 48);
    auto action = [&](const char* text, const GuardPolicy& p) {
        std::vector<Range> pieces;
        return guard_entry(range_of(text), p, pieces).action;
    };
    using A = GuardResult::Action;
    CHECK(action("185.220.101.0/24", tor) == A::keep);
    CHECK(action("185.220.100.0/23", tor) == A::reject);
    CHECK(action("185.220.100.128-185.220.101.127", tor) == A::keep);   // 256 addresses, unaligned
    CHECK(action("185.220.100.128-185.220.101.128", tor) == A::reject);  // 257
    CHECK(action("2a0b:f4c0::/48", tor) == A::keep);
    CHECK(action("2a0b:f4c0::/47", tor) == A::reject);
    CHECK(action("0.0.0.0/0", tor) == A::reject);
    CHECK(action("::/0", tor) == A::reject);

    std::vector<Range> pieces;
    const GuardResult g = guard_entry(range_of("185.220.100.0/23"), tor, pieces);
    CHECK(g.reason == "IPv4 entry broader than /24");
    CHECK(pieces.empty());

    // Hosting allows a /8, but 10.0.0.0/8 is still private space; 0.0.0.0/0 is still too broad.
    const GuardPolicy hosting = default_guard_policy(kHosting);
    CHECK(action("3.0.0.0/8", hosting) == A::keep);
    CHECK(action("10.0.0.0/8", hosting) == A::reject);
    CHECK(action("0.0.0.0/0", hosting) == A::reject);
    CHECK(action("2.0.0.0/7", hosting) == A::reject);
}

TEST_CASE("default policy: the strictest of a feed's categories") {
    const GuardPolicy mixed = default_guard_policy(kHosting | kTorExit);
    CHECK(mixed.broadest_v4 == 24);
    CHECK(mixed.broadest_v6 == 48);
    const GuardPolicy vpn = default_guard_policy(kVpn | kHosting);
    CHECK(vpn.broadest_v4 == 14);
    CHECK(vpn.broadest_v6 == 28);
    for (std::uint32_t cats = 1; cats <= kAllCategories; ++cats) {
        const GuardPolicy p = default_guard_policy(cats);
        for (const auto& c : kCategoryNames) {
            if (!(cats & c.bit)) continue;
            const GuardPolicy single = default_guard_policy(c.bit);
            CHECK(p.broadest_v4 >= single.broadest_v4);
            CHECK(p.broadest_v6 >= single.broadest_v6);
        }
    }
}
