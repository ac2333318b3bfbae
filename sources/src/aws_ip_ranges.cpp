// `aws-ip-ranges`: https://ip-ranges.amazonaws.com/ip-ranges.json
//
//   { "syncToken": "...", "createDate": "...",
//     "prefixes": [ { "ip_prefix": "3.4.12.4/32", "region": ..., ... }, ... ],
//     "ipv6_prefixes": [ { "ipv6_prefix": "2600:1f00::/40", ... }, ... ] }
#include "anondb/sources/formats.hpp"
#include "json_scan.hpp"

namespace anondb::sources {
namespace {

using detail::json::Family;
using detail::json::Kind;
using detail::json::Member;
using detail::json::Node;

constexpr Node kIpPrefix{.kind = Kind::string, .wrong_kind = reasons::kIpPrefixNotString,
                         .family = Family::v4, .wrong_family = reasons::kV6InPrefixes};
constexpr Member kV4Members[] = {{.key = "ip_prefix", .node = &kIpPrefix, .missing = reasons::kMissingIpPrefix,
                                  .duplicate = reasons::kDuplicateIpPrefix}};
constexpr Node kV4Entry{.kind = Kind::object, .wrong_kind = reasons::kEntryNotObject, .members = kV4Members};
constexpr Node kV4List{.kind = Kind::array, .wrong_kind = reasons::kPrefixesNotArray, .element = &kV4Entry};

constexpr Node kIpv6Prefix{.kind = Kind::string, .wrong_kind = reasons::kIpv6PrefixNotString,
                           .family = Family::v6, .wrong_family = reasons::kV4InIpv6Prefixes};
constexpr Member kV6Members[] = {{.key = "ipv6_prefix", .node = &kIpv6Prefix,
                                  .missing = reasons::kMissingIpv6Prefix,
                                  .duplicate = reasons::kDuplicateIpv6Prefix}};
constexpr Node kV6Entry{.kind = Kind::object, .wrong_kind = reasons::kEntryNotObject, .members = kV6Members};
constexpr Node kV6List{.kind = Kind::array, .wrong_kind = reasons::kIpv6PrefixesNotArray, .element = &kV6Entry};

constexpr Member kRootMembers[] = {
    {.key = "prefixes", .node = &kV4List, .slot = 0, .missing = reasons::kMissingPrefixes},
    {.key = "ipv6_prefixes", .node = &kV6List, .slot = 1, .missing = reasons::kMissingIpv6Prefixes},
};
constexpr Node kRoot{.kind = Kind::object, .wrong_kind = reasons::kRootNotObject, .members = kRootMembers};

}  // namespace

ParseResult parse_aws_ip_ranges(std::string_view body, const ParseOptions& options) {
    return detail::json::scan(body, kRoot, options);
}

}  // namespace anondb::sources
