// How much address space a set of ranges holds: the figure `info`, `diff`
// and the build report give per category (and per feed, for diff). IPv4
// addresses are counted; IPv6 only as ranges (their address counts are not
// useful figures).
#pragma once

#include <cstdint>

#include "anondb/ip.hpp"

namespace anondb::builder {

struct RangeCount {
    std::uint64_t ranges = 0;
    std::uint64_t ipv4_addresses = 0;
    std::uint64_t ipv6_ranges = 0;

    // `r` lies within IPv4 or outside it (the ranges counted are cut at the
    // IPv4 block's edges).
    void add(Range r) noexcept {
        ++ranges;
        if (r.first.is_v4() && r.last.is_v4()) ipv4_addresses += std::uint64_t{r.last.v4()} - r.first.v4() + 1;
        else ++ipv6_ranges;
    }
    bool empty() const noexcept { return ranges == 0; }
};

}  // namespace anondb::builder
