// `google-ip-ranges`: https://www.gstatic.com/ipranges/cloud.json and goog.json
//
//   { "syncToken": "...", "creationTime": "...",
//     "prefixes": [ { "ipv4Prefix": "34.1.208.0/20", "service": ..., "scope": ... },
//                   { "ipv6Prefix": "2600:1900:8000::/44", ... }, ... ] }
#include "anondb/sources/formats.hpp"
#include "json_scan.hpp"

namespace anondb::sources {
namespace {

using detail::json::Family;
using detail::json::Kind;
using detail::json::Member;
using detail::json::Node;

constexpr Node kIpv4Prefix{.kind = Kind::string, .wrong_kind = reasons::kIpv4PrefixKeyNotString,
                           .family = Family::v4, .wrong_family = reasons::kV6InIpv4Prefix};
constexpr Node kIpv6Prefix{.kind = Kind::string, .wrong_kind = reasons::kIpv6PrefixKeyNotString,
                           .family = Family::v6, .wrong_family = reasons::kV4InIpv6Prefix};
// One prefix per entry, of either family: the two keys share a slot.
constexpr Member kEntryMembers[] = {
    {.key = "ipv4Prefix", .node = &kIpv4Prefix, .missing = reasons::kMissingGooglePrefix,
     .duplicate = reasons::kDuplicateGooglePrefix},
    {.key = "ipv6Prefix", .node = &kIpv6Prefix, .missing = reasons::kMissingGooglePrefix,
     .duplicate = reasons::kDuplicateGooglePrefix},
};
constexpr Node kEntry{.kind = Kind::object, .wrong_kind = reasons::kEntryNotObject, .members = kEntryMembers};
constexpr Node kList{.kind = Kind::array, .wrong_kind = reasons::kPrefixesNotArray, .element = &kEntry};
constexpr Member kRootMembers[] = {{.key = "prefixes", .node = &kList, .missing = reasons::kMissingPrefixes}};
constexpr Node kRoot{.kind = Kind::object, .wrong_kind = reasons::kRootNotObject, .members = kRootMembers};

}  // namespace

ParseResult parse_google_ip_ranges(std::string_view body, const ParseOptions& options) {
    return detail::json::scan(body, kRoot, options);
}

}  // namespace anondb::sources
