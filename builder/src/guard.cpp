#include "anondb/builder/guard.hpp"

#include <algorithm>
#include <array>

#include "anondb/category.hpp"

namespace anondb::builder {
namespace {

constexpr Range v4(std::uint32_t a, std::uint32_t b, std::uint32_t c, std::uint32_t d, unsigned len) {
    return prefix_range(Ip::from_v4(a << 24 | b << 16 | c << 8 | d), 96 + len);
}
constexpr Range v6(std::uint64_t hi, unsigned len) { return prefix_range(Ip{hi, 0}, len); }

// IANA special-purpose registries (RFC 6890 and later), sorted by address.
constexpr std::array kReserved = {
    ReservedBlock{{kIpMin, ip_prev(kV4First)}, "non-global IPv6 below ::ffff:0:0/96 (unspecified, loopback, IPv4-compatible)"},
    ReservedBlock{v4(0, 0, 0, 0, 8), "this network 0.0.0.0/8 (RFC 791)"},
    ReservedBlock{v4(10, 0, 0, 0, 8), "private-use 10.0.0.0/8 (RFC 1918)"},
    ReservedBlock{v4(100, 64, 0, 0, 10), "shared address space 100.64.0.0/10 (RFC 6598)"},
    ReservedBlock{v4(127, 0, 0, 0, 8), "loopback 127.0.0.0/8 (RFC 1122)"},
    ReservedBlock{v4(169, 254, 0, 0, 16), "link-local 169.254.0.0/16 (RFC 3927)"},
    ReservedBlock{v4(172, 16, 0, 0, 12), "private-use 172.16.0.0/12 (RFC 1918)"},
    ReservedBlock{v4(192, 0, 0, 0, 24), "IETF protocol assignments 192.0.0.0/24 (RFC 6890)"},
    ReservedBlock{v4(192, 0, 2, 0, 24), "documentation 192.0.2.0/24 (RFC 5737)"},
    ReservedBlock{v4(192, 88, 99, 0, 24), "deprecated 6to4 relay anycast 192.88.99.0/24 (RFC 7526)"},
    ReservedBlock{v4(192, 168, 0, 0, 16), "private-use 192.168.0.0/16 (RFC 1918)"},
    ReservedBlock{v4(198, 18, 0, 0, 15), "benchmarking 198.18.0.0/15 (RFC 2544)"},
    ReservedBlock{v4(198, 51, 100, 0, 24), "documentation 198.51.100.0/24 (RFC 5737)"},
    ReservedBlock{v4(203, 0, 113, 0, 24), "documentation 203.0.113.0/24 (RFC 5737)"},
    ReservedBlock{v4(224, 0, 0, 0, 4), "multicast 224.0.0.0/4 (RFC 5771)"},
    ReservedBlock{v4(240, 0, 0, 0, 4), "reserved 240.0.0.0/4 and broadcast (RFC 1112)"},
    ReservedBlock{{ip_next(kV4Last), Ip{0x1fffffffffffffffull, ~0ull}}, "IPv6 outside global unicast 2000::/3"},
    ReservedBlock{prefix_range(Ip{0x2001000200000000ull, 0}, 48), "benchmarking 2001:2::/48 (RFC 5180)"},
    ReservedBlock{v6(0x20010db800000000ull, 32), "documentation 2001:db8::/32 (RFC 3849)"},
    ReservedBlock{v6(0x3fff000000000000ull, 20), "documentation 3fff::/20 (RFC 9637)"},
    ReservedBlock{{Ip{0x4000000000000000ull, 0}, kIpMax}, "IPv6 outside global unicast 2000::/3 (ULA, link-local, multicast)"},
};

constexpr bool sorted_and_disjoint() {
    for (std::size_t i = 1; i < kReserved.size(); ++i)
        if (!(kReserved[i - 1].range.last < kReserved[i].range.first)) return false;
    return true;
}
static_assert(sorted_and_disjoint());

// a - b for a >= b.
constexpr Ip ip_sub(Ip a, Ip b) noexcept { return Ip{a.hi - b.hi - (a.lo < b.lo ? 1u : 0u), a.lo - b.lo}; }

// True when r holds more addresses than a /len block (len in the 128-bit space).
constexpr bool broader_than(Range r, unsigned len) noexcept {
    if (len == 0) return false;
    const unsigned host_bits = 128 - len;
    const Ip block = host_bits >= 64 ? Ip{1ull << (host_bits - 64), 0} : Ip{0, 1ull << host_bits};
    return !(ip_sub(r.last, r.first) < block);  // size - 1 >= block size
}

}  // namespace

GuardPolicy default_guard_policy(std::uint32_t categories) {
    GuardPolicy p{0, 0};
    auto tighten = [&](unsigned v4_len, unsigned v6_len) {
        p.broadest_v4 = std::max(p.broadest_v4, v4_len);
        p.broadest_v6 = std::max(p.broadest_v6, v6_len);
    };
    if (categories & (kTorExit | kProxy | kResidentialProxy)) tighten(24, 48);
    if (categories & (kVpn | kRelay)) tighten(14, 28);
    if (categories & kHosting) tighten(8, 19);
    if (p.broadest_v4 == 0) p = GuardPolicy{};
    return p;
}

std::span<const ReservedBlock> reserved_blocks() { return kReserved; }

GuardResult guard_entry(Range entry, const GuardPolicy& policy, std::vector<Range>& pieces) {
    const bool is_v4 = entry.first.is_v4() && entry.last.is_v4();
    const unsigned limit = is_v4 ? 96 + policy.broadest_v4 : policy.broadest_v6;
    if (broader_than(entry, limit)) {
        return {GuardResult::Action::reject, is_v4 ? "IPv4 entry broader than /" + std::to_string(policy.broadest_v4)
                                                   : "IPv6 entry broader than /" + std::to_string(policy.broadest_v6)};
    }
    // Walk the reserved blocks overlapping the entry, keeping the gaps.
    auto it = std::lower_bound(kReserved.begin(), kReserved.end(), entry.first,
                               [](const ReservedBlock& b, Ip a) { return b.range.last < a; });
    const ReservedBlock* first_hit = nullptr;
    const std::size_t before = pieces.size();
    Ip cursor = entry.first;
    bool done = false;
    for (; it != kReserved.end() && it->range.first <= entry.last && !done; ++it) {
        if (!first_hit) first_hit = &*it;
        if (cursor < it->range.first) pieces.push_back({cursor, ip_prev(it->range.first)});
        if (entry.last <= it->range.last) done = true;
        else cursor = ip_next(it->range.last);
    }
    if (!first_hit) {
        pieces.push_back(entry);
        return {};
    }
    if (!done) pieces.push_back({cursor, entry.last});
    if (pieces.size() == before) return {GuardResult::Action::reject, "reserved: " + std::string(first_hit->name)};
    return {GuardResult::Action::clip, "reserved part removed: " + std::string(first_hit->name)};
}

}  // namespace anondb::builder
