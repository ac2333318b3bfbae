// `azure-service-tags`: Azure IP Ranges and Service Tags, Public Cloud
// (ServiceTags_Public_YYYYMMDD.json, linked from the Microsoft download page).
//
//   { "changeNumber": 363, "cloud": "Public",
//     "values": [ { "name": "AzureCloud.eastus2", "id": ...,
//                   "properties": { "region": ..., "platform": "Azure",
//                                   "addressPrefixes": [ "4.152.0.0/15", "2603:1030::/45", ... ],
//                                   ... } }, ... ] }
#include "anondb/sources/formats.hpp"
#include "json_scan.hpp"

namespace anondb::sources {
namespace {

using detail::json::Kind;
using detail::json::Member;
using detail::json::Node;

constexpr Node kPrefix{.kind = Kind::string, .wrong_kind = reasons::kAddressPrefixNotString};
constexpr Node kPrefixes{.kind = Kind::array, .wrong_kind = reasons::kAddressPrefixesNotArray, .element = &kPrefix};
constexpr Member kPropertiesMembers[] = {
    {.key = "addressPrefixes", .node = &kPrefixes, .missing = reasons::kMissingAddressPrefixes}};
constexpr Node kProperties{.kind = Kind::object, .wrong_kind = reasons::kPropertiesNotObject,
                           .members = kPropertiesMembers};
constexpr Member kTagMembers[] = {{.key = "properties", .node = &kProperties, .missing = reasons::kMissingProperties}};
constexpr Node kTag{.kind = Kind::object, .wrong_kind = reasons::kServiceTagNotObject, .members = kTagMembers};
constexpr Node kValues{.kind = Kind::array, .wrong_kind = reasons::kValuesNotArray, .element = &kTag};
constexpr Member kRootMembers[] = {{.key = "values", .node = &kValues, .missing = reasons::kMissingValues}};
constexpr Node kRoot{.kind = Kind::object, .wrong_kind = reasons::kRootNotObject, .members = kRootMembers};

}  // namespace

ParseResult parse_azure_service_tags(std::string_view body, const ParseOptions& options) {
    return detail::json::scan(body, kRoot, options);
}

}  // namespace anondb::sources
