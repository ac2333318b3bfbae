// Plain-text exports of an anondb database: CIDR lists, firewall sets
// (nftables, ipset) and per-range CSV / JSON lines.
//
// Every export walks the flagged segments (record != 0) in address order,
// clipped at the edges of the IPv4-mapped block ::ffff:0:0/96 (the reader's
// IPv4 and IPv6 tables meet there; a range never spans families), and keeps
// those matching an ExportFilter. Output is streamed to an std::ostream.
//
//   cidr   minimal CIDR cover of the union of the kept ranges (adjacent kept
//          ranges are merged first, never across a family edge), one per
//          line: IPv4 as a.b.c.d/len, IPv6 in RFC 5952 text.
//   nft    an nftables script: table inet anondb with the interval sets
//          <name>_v4 (ipv4_addr) and <name>_v6 (ipv6_addr); elements are the
//          CIDRs of the cidr export; a family without any has no `elements`.
//   ipset  `ipset restore` input: `create <name>_v4 hash:net family inet
//          -exist`, the same for _v6 (family inet6), then `add <name>_vN
//          CIDR -exist` lines with the CIDRs of the cidr export (hash:net
//          takes no /0: all of IPv4 is written as 0.0.0.0/1 and 128.0.0.0/1).
//   csv    header start,end,cidrs,categories,provider,asn,sources; one row
//          per kept segment (not merged); cidrs space-separated, categories
//          and sources '|'-joined; RFC 4180 quoting where needed.
//   jsonl  one JSON object per kept segment: start, end, cidrs[],
//          categories[], anonymous, provider (string|null), asn
//          (number|null), sources[].
// sources = distinct feed names of the segment's provenance
// (ColdData::contributions(record), the list explain() gives for the
// segment's addresses), in provenance order; computed once per record id.
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

#include "anondb/error.hpp"
#include "anondb/explain.hpp"
#include "anondb/reader.hpp"

namespace anondb::exports {

enum class PlainFormat { cidr, nft, ipset, csv, jsonl };

// "cidr", "nft", "ipset", "csv", "jsonl"; nullopt for anything else.
std::optional<PlainFormat> plain_format(std::string_view name);
std::string_view plain_format_name(PlainFormat format);

struct ExportFilter {
    std::uint32_t categories = 0;  // keep records with any of these bits; 0 = every flagged record
    std::string provider;          // exact primary provider name; "" = any
    enum class Family { both, v4, v6 } family = Family::both;
};

// Does a flagged record pass the filter's category and provider tests
// (family is a property of the address, not of the record)?
bool filter_matches(const ExportFilter& filter, const LookupResult& record);

// Writes the export. set_name names the nft/ipset sets (<set_name>_v4,
// <set_name>_v6): 1 to 28 characters of [A-Za-z0-9_], not starting with a
// digit; other formats ignore it. Fails with invalid_argument on a bad
// set_name, with io when the stream fails.
Error write_plain(const Database& db, const ColdData& cold, PlainFormat format, const ExportFilter& filter,
                  std::ostream& out, const std::string& set_name = "anondb");

}  // namespace anondb::exports
