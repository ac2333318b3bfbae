// The catalogue of feed formats: one line per parser.
#include "anondb/sources/asn.hpp"
#include "anondb/sources/exclusions.hpp"
#include "anondb/sources/formats.hpp"
#include "anondb/sources/parse.hpp"

namespace anondb::sources {
namespace {

constexpr FormatInfo kFormats[] = {
    {"plain", &parse_plain,
     "one address, CIDR prefix or range per line; '#' and ';' comments (FireHOL, Cloudflare, "
     "X4BNet, Tor bulk exit list)",
     true},
    {"tor-exit-addresses", &parse_tor_exit_addresses,
     "TorDNSEL exit list (check.torproject.org/exit-addresses, CollecTor exit-lists)", true},
    {"aws-ip-ranges", &parse_aws_ip_ranges,
     "AWS ip-ranges.json (prefixes[].ip_prefix, ipv6_prefixes[].ipv6_prefix)"},
    {"geofeed", &parse_geofeed, "RFC 8805 geofeed CSV (prefix,alpha2code,region,city,postal)", true},
    {"google-ip-ranges", &parse_google_ip_ranges,
     "Google cloud.json / goog.json (prefixes[].ipv4Prefix, prefixes[].ipv6Prefix)"},
    {"azure-service-tags", &parse_azure_service_tags,
     "Azure Service Tags JSON (values[].properties.addressPrefixes[])"},
    {"oracle-ip-ranges", &parse_oracle_ip_ranges, "Oracle Cloud public_ip_ranges.json (regions[].cidrs[].cidr)"},
    {"onionoo-exit", &parse_onionoo_exit, "Onionoo details JSON, exit addresses (relays[].exit_addresses[])"},
    {"onionoo-relays", &parse_onionoo_relays,
     "Onionoo details JSON, relay OR addresses without ports (relays[].or_addresses[])"},
};

constexpr AsnTableFormat kAsnTableFormats[] = {
    {"libloc", nullptr, &read_libloc_asn,
     "IPFire location database (location.db, libloc format v1; location.ipfire.org serves it .xz)"},
    {"iptoasn", &parse_iptoasn, nullptr, "iptoasn ip2asn-v4/v6/combined TSV (range_start, range_end, AS_number, ...)"},
    {"pfx2as", &parse_pfx2as, nullptr, "CAIDA RouteViews prefix2as (prefix, length, origin AS; MOAS a_b, AS sets a,b)"},
    {"mmdb-asn", nullptr, &read_mmdb_asn,
     "ASN database in MaxMind DB format (GeoLite2-ASN, DB-IP ASN Lite, GeoIP2-ISP: autonomous_system_number)"},
};

constexpr AsnListFormat kAsnListFormats[] = {
    {"provider-asns", &parse_provider_asns, "anondb curated CSV: provider,category,asn,reference (data/providers)"},
    {"asn-list", &parse_asn_list, "one AS number per line, '# provider' comment (X4BNet input/*/ASN.txt)"},
    {"asn-csv", &parse_asn_csv, "CSV 'ASN,Entity' (brianhama/bad-asn-list)"},
};

template <class Format>
const Format* find_in(std::span<const Format> all, std::string_view name) {
    for (const Format& f : all)
        if (f.name == name) return &f;
    return nullptr;
}

}  // namespace

std::span<const AsnTableFormat> asn_table_formats() { return kAsnTableFormats; }
const AsnTableFormat* find_asn_table_format(std::string_view name) { return find_in(asn_table_formats(), name); }
std::span<const AsnListFormat> asn_list_formats() { return kAsnListFormats; }
const AsnListFormat* find_asn_list_format(std::string_view name) { return find_in(asn_list_formats(), name); }

std::span<const FormatInfo> formats() { return kFormats; }

const FormatInfo* find_format(std::string_view name) { return find_in(formats(), name); }

bool line_based_format(std::string_view name) {
    if (const FormatInfo* f = find_format(name)) return f->line_based;
    if (find_asn_list_format(name)) return true;  // all three are line formats
    if (const AsnTableFormat* t = find_asn_table_format(name)) return static_cast<bool>(t->parse);  // text tables
    return name == kExclusionsFormat;
}

}  // namespace anondb::sources
