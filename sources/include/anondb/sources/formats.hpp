// The feed formats anondb can parse, one parser per format.
//
// Each parser takes one fetched feed body and follows the contract in
// parse.hpp: it never throws on bad input, reports every rejected line with
// its 1-based line number (lines are counted by '\n') and a fixed reason,
// and goes on. Address errors use anondb::ip_error_text as their reason; the
// other reasons are listed below so the builder can count and explain them.
//
// Common to all formats:
// - A UTF-8 byte order mark at the start of the body is skipped.
// - A '\r' before '\n' (CRLF) is dropped; a last line without '\n' counts.
// - A prefix written with host bits (10.0.0.1/8) is accepted as its
//   network (10.0.0.0/8) and also reported in `warnings` (kHostBits).
// - A body of kMaxBodyBytes or more (about 4 GiB) is refused whole: one
//   reject on line 1 (kBodyTooLarge), no entries.
// - Limits (ParseOptions, parse.hpp): in line formats a line longer than
//   max_line_bytes is one reject (line_too_long), its text cut, and the next
//   line is read; JSON formats are documents, often one long line, and have
//   no line limit (their reader is iterative and each issue quotes at most a
//   4 KiB window). In every format the first entry past max_entries is a
//   reject (kTooManyEntries) and parsing stops there (over_max_entries).
// - The quoted text of an entry is a view into the body: the whole line for
//   line formats (without its line ending and surrounding blanks), the
//   prefix string between its quotes for JSON formats.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "anondb/sources/parse.hpp"

namespace anondb::sources {

inline constexpr std::size_t kMaxBodyBytes = 0xFFFFFFFEu;

// Fixed reasons used in LineIssue::reason (besides anondb::ip_error_text).
namespace reasons {
inline constexpr std::string_view kHostBits = "host bits set";  // a warning
inline constexpr std::string_view kBodyTooLarge = "body larger than 4 GiB";
inline constexpr std::string_view kRangeNotPrefix = "range where a prefix was expected";
// ParseOptions limits. A line over max_line_bytes: "line longer than N bytes"
// (N the feed's limit, so the reason is fixed within a feed).
inline constexpr std::string_view kLineTooLongPrefix = "line longer than ";
std::string line_too_long(std::size_t max_line_bytes);
// The entry after the first max_entries: not added, and parsing stops.
inline constexpr std::string_view kTooManyEntries = "more entries than max_entries";
// tor-exit-addresses
inline constexpr std::string_view kUnknownKeyword = "unknown keyword";
inline constexpr std::string_view kUnsupportedType = "unsupported @type";
// geofeed
inline constexpr std::string_view kBadAlpha2 = "bad alpha2code";
// aws-ip-ranges. A JSON syntax error is "not JSON: " + RapidJSON's message.
inline constexpr std::string_view kNotJsonPrefix = "not JSON: ";
inline constexpr std::string_view kRootNotObject = "JSON root is not an object";
inline constexpr std::string_view kMissingPrefixes = "missing prefixes array";
inline constexpr std::string_view kMissingIpv6Prefixes = "missing ipv6_prefixes array";
inline constexpr std::string_view kPrefixesNotArray = "prefixes is not an array";
inline constexpr std::string_view kIpv6PrefixesNotArray = "ipv6_prefixes is not an array";
inline constexpr std::string_view kEntryNotObject = "prefix entry is not an object";
inline constexpr std::string_view kMissingIpPrefix = "entry without ip_prefix";
inline constexpr std::string_view kMissingIpv6Prefix = "entry without ipv6_prefix";
inline constexpr std::string_view kIpPrefixNotString = "ip_prefix is not a string";
inline constexpr std::string_view kIpv6PrefixNotString = "ipv6_prefix is not a string";
inline constexpr std::string_view kDuplicateIpPrefix = "duplicate ip_prefix";
inline constexpr std::string_view kDuplicateIpv6Prefix = "duplicate ipv6_prefix";
inline constexpr std::string_view kV6InPrefixes = "IPv6 prefix in prefixes";
inline constexpr std::string_view kV4InIpv6Prefixes = "IPv4 prefix in ipv6_prefixes";
// google-ip-ranges (also kRootNotObject, kMissingPrefixes, kPrefixesNotArray,
// kEntryNotObject)
inline constexpr std::string_view kMissingGooglePrefix = "entry without ipv4Prefix or ipv6Prefix";
inline constexpr std::string_view kDuplicateGooglePrefix = "entry with more than one prefix";
inline constexpr std::string_view kIpv4PrefixKeyNotString = "ipv4Prefix is not a string";
inline constexpr std::string_view kIpv6PrefixKeyNotString = "ipv6Prefix is not a string";
inline constexpr std::string_view kV6InIpv4Prefix = "IPv6 prefix in ipv4Prefix";
inline constexpr std::string_view kV4InIpv6Prefix = "IPv4 prefix in ipv6Prefix";
// azure-service-tags (also kRootNotObject)
inline constexpr std::string_view kMissingValues = "missing values array";
inline constexpr std::string_view kValuesNotArray = "values is not an array";
inline constexpr std::string_view kServiceTagNotObject = "service tag is not an object";
inline constexpr std::string_view kMissingProperties = "service tag without properties";
inline constexpr std::string_view kPropertiesNotObject = "properties is not an object";
inline constexpr std::string_view kMissingAddressPrefixes = "properties without addressPrefixes";
inline constexpr std::string_view kAddressPrefixesNotArray = "addressPrefixes is not an array";
inline constexpr std::string_view kAddressPrefixNotString = "address prefix is not a string";
// oracle-ip-ranges (also kRootNotObject, kEntryNotObject)
inline constexpr std::string_view kMissingRegions = "missing regions array";
inline constexpr std::string_view kRegionsNotArray = "regions is not an array";
inline constexpr std::string_view kRegionNotObject = "region is not an object";
inline constexpr std::string_view kMissingCidrs = "region without cidrs";
inline constexpr std::string_view kCidrsNotArray = "cidrs is not an array";
inline constexpr std::string_view kMissingCidr = "entry without cidr";
inline constexpr std::string_view kCidrNotString = "cidr is not a string";
inline constexpr std::string_view kDuplicateCidr = "duplicate cidr";
// onionoo-exit, onionoo-relays (also kRootNotObject)
inline constexpr std::string_view kMissingRelays = "missing relays array";
inline constexpr std::string_view kRelaysNotArray = "relays is not an array";
inline constexpr std::string_view kRelayNotObject = "relay is not an object";
inline constexpr std::string_view kExitAddressesNotArray = "exit_addresses is not an array";
inline constexpr std::string_view kOrAddressesNotArray = "or_addresses is not an array";
inline constexpr std::string_view kAddressNotString = "address is not a string";
inline constexpr std::string_view kBadOrAddress = "or_address is not address:port";
// ASN numbers, in every ASN table and list format (asn.hpp)
inline constexpr std::string_view kBadAsn = "bad ASN";  // not an AS number as the format writes one
inline constexpr std::string_view kAsnZero = "ASN 0";   // where AS 0 is not allowed
inline constexpr std::string_view kAsnTooLarge = "ASN above 4294967295";
// Fields of iptoasn, pfx2as (tab separated), asn-csv and provider-asns
// (comma separated): fewer or more than the format has
inline constexpr std::string_view kMissingField = "missing field";
inline constexpr std::string_view kTooManyFields = "too many fields";
// mmdb ASN databases (read_mmdb_asn; rejects on line 0, quoting "NETWORK/LEN")
inline constexpr std::string_view kMmdbAsnNotUnsigned = "autonomous_system_number is not an unsigned integer";
// asn-list
inline constexpr std::string_view kTextAfterAsn = "text after ASN";  // "AS1 AS2"
// asn-list, asn-csv, provider-asns
inline constexpr std::string_view kDuplicateAsn = "duplicate ASN";  // a warning; both lines are kept
// A provider name or reference that is not well-formed UTF-8 (or holds NUL):
// it would reach MMDB utf8_string values, JSON and SQL as it is.
inline constexpr std::string_view kNotUtf8 = "provider or reference not UTF-8";
// asn-csv, provider-asns, exclusions
inline constexpr std::string_view kBadQuoting = "bad quoting";
inline constexpr std::string_view kBadHeader = "bad header";
// asn-csv
inline constexpr std::string_view kMissingHeader = "missing header";  // a warning
// provider-asns
inline constexpr std::string_view kMissingProvider = "missing provider";
inline constexpr std::string_view kBadCategory = "bad category";
inline constexpr std::string_view kMissingReference = "missing reference";  // also exclusions
// exclusions (exclusions.hpp); a prefix with host bits is rejected as kHostBits
inline constexpr std::string_view kBadExclusionType = "bad exclusion type";  // not asn or prefix
inline constexpr std::string_view kMissingReason = "missing reason";
}  // namespace reasons

// `plain`: one address, CIDR prefix or range ("a-b") per line. '#' and ';'
// start a comment anywhere on a line; blank lines are ignored. Reads FireHOL
// ipset/netset files, Cloudflare and X4BNet lists, the Tor bulk exit list,
// and Spamhaus-style "prefix ; id" lines.
ParseResult parse_plain(std::string_view body, const ParseOptions& options = {});

// `tor-exit-addresses`: TorDNSEL records as served by
// check.torproject.org/exit-addresses and archived by CollecTor (which adds
// "@type tordnsel 1.x" and "Downloaded ..." header lines). Entries come from
// "ExitAddress <ip> <date> <time>" lines only, one address each, quoting the
// whole line; the address must be a single IPv4 or IPv6 address, the date
// after it is not checked. ExitNode, Published, LastStatus and Downloaded
// lines are checked for their keyword only; "@type" must name tordnsel. Any
// other keyword is rejected (kUnknownKeyword).
ParseResult parse_tor_exit_addresses(std::string_view body, const ParseOptions& options = {});

// `aws-ip-ranges`: AWS ip-ranges.json. Entries from prefixes[].ip_prefix
// (IPv4 only) and ipv6_prefixes[].ipv6_prefix (IPv6 only); other members are
// ignored. Each entry's line is where its prefix string stands. A body that is
// not valid JSON (an HTML error page, a truncated download) yields no entries
// and exactly one reject, on the line of the syntax error, because a partial
// list must not pass for a complete one.
ParseResult parse_aws_ip_ranges(std::string_view body, const ParseOptions& options = {});

// The JSON formats below follow the same rules as aws-ip-ranges: each
// entry's line is where its string stands and its text is that string as
// written (between its quotes); a body that is not valid JSON yields no
// entries and exactly one reject, on the line of the syntax error; a value of
// the wrong type or a missing required member is rejected with a fixed reason
// on its line; members not named here are ignored.

// `google-ip-ranges`: Google's cloud.json (Google Cloud external ranges) and
// goog.json (all Google ranges). Entries from prefixes[].ipv4Prefix (IPv4
// only) or prefixes[].ipv6Prefix (IPv6 only), exactly one per element.
ParseResult parse_google_ip_ranges(std::string_view body, const ParseOptions& options = {});

// `azure-service-tags`: Azure Service Tags (ServiceTags_Public_*.json).
// Entries from values[].properties.addressPrefixes[], IPv4 and IPv6 mixed.
// Every service tag must have properties, and they an addressPrefixes array
// (which may be empty).
ParseResult parse_azure_service_tags(std::string_view body, const ParseOptions& options = {});

// `oracle-ip-ranges`: Oracle Cloud public_ip_ranges.json. Entries from
// regions[].cidrs[].cidr, either family; every region must have a cidrs
// array and every element of it one cidr.
ParseResult parse_oracle_ip_ranges(std::string_view body, const ParseOptions& options = {});

// `onionoo-exit`: an Onionoo details document (e.g.
// onionoo.torproject.org/details?search=flag:exit&fields=exit_addresses,...).
// Entries from relays[].exit_addresses[], single addresses only; a relay
// without exit_addresses contributes nothing. Bridges are not read.
ParseResult parse_onionoo_exit(std::string_view body, const ParseOptions& options = {});

// `onionoo-relays`: the same document; entries from relays[].or_addresses[],
// "1.2.3.4:9001" or "[2001:db8::1]:443", each the address without its port
// (kBadOrAddress when it is not written so). A relay without or_addresses
// contributes nothing.
ParseResult parse_onionoo_relays(std::string_view body, const ParseOptions& options = {});

// `geofeed`: RFC 8805 CSV "prefix,alpha2code,region,city,postal". Fields after
// the prefix may be missing or empty; '#' starts a comment line. The prefix is
// a CIDR prefix or one address (not a range); alpha2code is empty or two ASCII
// letters. Fields may be wrapped in double quotes.
ParseResult parse_geofeed(std::string_view body, const ParseOptions& options = {});

}  // namespace anondb::sources
