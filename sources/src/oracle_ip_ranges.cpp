// `oracle-ip-ranges`: https://docs.oracle.com/iaas/tools/public_ip_ranges.json
//
//   { "last_updated_timestamp": "...",
//     "regions": [ { "region": "us-ashburn-1",
//                    "cidrs": [ { "cidr": "129.80.0.0/16", "tags": [ "OCI" ] }, ... ] },
//                  ... ] }
#include "anondb/sources/formats.hpp"
#include "json_scan.hpp"

namespace anondb::sources {
namespace {

using detail::json::Kind;
using detail::json::Member;
using detail::json::Node;

constexpr Node kCidr{.kind = Kind::string, .wrong_kind = reasons::kCidrNotString};
constexpr Member kEntryMembers[] = {
    {.key = "cidr", .node = &kCidr, .missing = reasons::kMissingCidr, .duplicate = reasons::kDuplicateCidr}};
constexpr Node kEntry{.kind = Kind::object, .wrong_kind = reasons::kEntryNotObject, .members = kEntryMembers};
constexpr Node kCidrs{.kind = Kind::array, .wrong_kind = reasons::kCidrsNotArray, .element = &kEntry};
constexpr Member kRegionMembers[] = {{.key = "cidrs", .node = &kCidrs, .missing = reasons::kMissingCidrs}};
constexpr Node kRegion{.kind = Kind::object, .wrong_kind = reasons::kRegionNotObject, .members = kRegionMembers};
constexpr Node kRegions{.kind = Kind::array, .wrong_kind = reasons::kRegionsNotArray, .element = &kRegion};
constexpr Member kRootMembers[] = {{.key = "regions", .node = &kRegions, .missing = reasons::kMissingRegions}};
constexpr Node kRoot{.kind = Kind::object, .wrong_kind = reasons::kRootNotObject, .members = kRootMembers};

}  // namespace

ParseResult parse_oracle_ip_ranges(std::string_view body, const ParseOptions& options) {
    return detail::json::scan(body, kRoot, options);
}

}  // namespace anondb::sources
