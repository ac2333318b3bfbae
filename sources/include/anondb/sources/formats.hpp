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
// - The quoted text of an entry is a view into the body: the whole line for
//   line formats (without its line ending and surrounding blanks), the
//   prefix string between its quotes for JSON formats.
#pragma once

#include <cstddef>
#include <string_view>

#include "anondb/sources/parse.hpp"

namespace anondb::sources {

inline constexpr std::size_t kMaxBodyBytes = 0xFFFFFFFEu;

// Fixed reasons used in LineIssue::reason (besides anondb::ip_error_text).
namespace reasons {
inline constexpr std::string_view kHostBits = "host bits set";  // a warning
inline constexpr std::string_view kBodyTooLarge = "body larger than 4 GiB";
inline constexpr std::string_view kRangeNotPrefix = "range where a prefix was expected";
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
}  // namespace reasons

// `plain`: one address, CIDR prefix or range ("a-b") per line. '#' and ';'
// start a comment anywhere on a line; blank lines are ignored. Reads FireHOL
// ipset/netset files, Cloudflare and X4BNet lists, the Tor bulk exit list,
// and Spamhaus-style "prefix ; id" lines.
ParseResult parse_plain(std::string_view body);

// `tor-exit-addresses`: TorDNSEL records as served by
// check.torproject.org/exit-addresses and archived by CollecTor (which adds
// "@type tordnsel 1.x" and "Downloaded ..." header lines). Entries come from
// "ExitAddress <ip> <date> <time>" lines only, one address each, quoting the
// whole line; the address must be a single IPv4 or IPv6 address, the date
// after it is not checked. ExitNode, Published, LastStatus and Downloaded
// lines are checked for their keyword only; "@type" must name tordnsel. Any
// other keyword is rejected (kUnknownKeyword).
ParseResult parse_tor_exit_addresses(std::string_view body);

// `aws-ip-ranges`: AWS ip-ranges.json. Entries from prefixes[].ip_prefix
// (IPv4 only) and ipv6_prefixes[].ipv6_prefix (IPv6 only); other members are
// ignored. Each entry's line is where its prefix string stands. A body that is
// not valid JSON (an HTML error page, a truncated download) yields no entries
// and exactly one reject, on the line of the syntax error, because a partial
// list must not pass for a complete one.
ParseResult parse_aws_ip_ranges(std::string_view body);

// `geofeed`: RFC 8805 CSV "prefix,alpha2code,region,city,postal". Fields after
// the prefix may be missing or empty; '#' starts a comment line. The prefix is
// a CIDR prefix or one address (not a range); alpha2code is empty or two ASCII
// letters. Fields may be wrapped in double quotes.
ParseResult parse_geofeed(std::string_view body);

}  // namespace anondb::sources
