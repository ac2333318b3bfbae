// Content guards: what is never published, whatever a feed says.
//
// Two rules, applied to every parsed entry before the merge:
// - breadth: an entry broader than its feed allows (e.g. anything wider than
//   a /24 in a Tor exit list) is rejected whole: it is a poisoned or mistaken
//   line, and clipping it would still publish most of it;
// - reserved space: private, loopback, link-local, multicast, documentation
//   and other special-purpose blocks (RFC 6890 and successors) are removed.
//   An entry entirely inside them is rejected; one that overlaps them keeps
//   only its public parts and is counted as a warning.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "anondb/ip.hpp"

namespace anondb::builder {

// Broadest prefix a feed may publish, per family: an entry must fit in a
// block of this length (shorter prefix = broader).
struct GuardPolicy {
    unsigned broadest_v4 = 8;   // 0..32
    unsigned broadest_v6 = 19;  // 0..128
};

// The default policy for a feed of these categories: the strictest among
// them (tor_exit, proxy, residential_proxy: /24 and /48; vpn and relay: /14
// and /28; hosting: /8 and /19).
GuardPolicy default_guard_policy(std::uint32_t categories);

struct ReservedBlock {
    Range range;
    std::string_view name;  // e.g. "private-use 10.0.0.0/8 (RFC 1918)"
};

// Sorted, disjoint. IPv4 blocks are IPv4-mapped; everything outside the IPv6
// global unicast space 2000::/3 is reserved, except the IPv4-mapped block.
std::span<const ReservedBlock> reserved_blocks();

struct GuardResult {
    enum class Action { keep, clip, reject } action = Action::keep;
    std::string reason;  // fixed per rule and block, for counting; "" when kept whole
};

// Applies both rules to one entry and appends what may be published to
// `pieces` (nothing when rejected, the entry itself when kept whole).
GuardResult guard_entry(Range entry, const GuardPolicy& policy, std::vector<Range>& pieces);

}  // namespace anondb::builder
