// The catalogue of feed formats: one line per parser.
#include "anondb/sources/formats.hpp"
#include "anondb/sources/parse.hpp"

namespace anondb::sources {
namespace {

constexpr FormatInfo kFormats[] = {
    {"plain", &parse_plain,
     "one address, CIDR prefix or range per line; '#' and ';' comments (FireHOL, Cloudflare, "
     "X4BNet, Tor bulk exit list)"},
    {"tor-exit-addresses", &parse_tor_exit_addresses,
     "TorDNSEL exit list (check.torproject.org/exit-addresses, CollecTor exit-lists)"},
    {"aws-ip-ranges", &parse_aws_ip_ranges,
     "AWS ip-ranges.json (prefixes[].ip_prefix, ipv6_prefixes[].ipv6_prefix)"},
    {"geofeed", &parse_geofeed, "RFC 8805 geofeed CSV (prefix,alpha2code,region,city,postal)"},
    {"google-ip-ranges", &parse_google_ip_ranges,
     "Google cloud.json / goog.json (prefixes[].ipv4Prefix, prefixes[].ipv6Prefix)"},
    {"azure-service-tags", &parse_azure_service_tags,
     "Azure Service Tags JSON (values[].properties.addressPrefixes[])"},
    {"oracle-ip-ranges", &parse_oracle_ip_ranges, "Oracle Cloud public_ip_ranges.json (regions[].cidrs[].cidr)"},
    {"onionoo-exit", &parse_onionoo_exit, "Onionoo details JSON, exit addresses (relays[].exit_addresses[])"},
    {"onionoo-relays", &parse_onionoo_relays,
     "Onionoo details JSON, relay OR addresses without ports (relays[].or_addresses[])"},
};

}  // namespace

std::span<const FormatInfo> formats() { return kFormats; }

const FormatInfo* find_format(std::string_view name) {
    for (const FormatInfo& f : kFormats)
        if (f.name == name) return &f;
    return nullptr;
}

}  // namespace anondb::sources
