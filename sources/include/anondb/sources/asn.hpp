// ASN data: tables mapping prefixes to their origin ASNs, and lists naming
// the ASNs of providers. Parsers follow the contract of parse.hpp: never
// throw, report every rejected line with its number and a fixed reason.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "anondb/error.hpp"
#include "anondb/ip.hpp"
#include "anondb/sources/parse.hpp"

namespace anondb::sources {

// ---- ASN tables: prefix -> origin ASNs -------------------------------------

struct AsnRow {
    Range range;
    std::uint32_t asn_begin = 0;  // origin ASNs: AsnTable::asns[asn_begin, asn_begin + asn_count)
    std::uint32_t asn_count = 0;  // > 1 for multi-origin prefixes and AS sets
    std::uint32_t line = 0;       // 1-based line of a text table; 0 for an MMDB network
    std::size_t text_offset = 0;  // the row as written (or "NETWORK/LEN" for MMDB) in AsnTable::text
    std::size_t text_length = 0;
};

struct AsnTable {
    std::vector<AsnRow> rows;
    std::vector<std::uint32_t> asns;
    std::string text;  // row texts, referenced by offset
    std::vector<LineIssue> rejects;
    std::vector<LineIssue> warnings;

    std::string_view row_text(const AsnRow& r) const { return std::string_view(text).substr(r.text_offset, r.text_length); }
};

// `iptoasn`: ip2asn-v4.tsv / ip2asn-v6.tsv / ip2asn-combined.tsv
// (range_start TAB range_end TAB AS_number TAB country_code TAB AS_description);
// rows with AS 0 ("Not routed") carry no ASN and are skipped, not rejected.
AsnTable parse_iptoasn(std::string_view body);

// `pfx2as`: CAIDA RouteViews prefix2as (prefix TAB length TAB origin), origin
// "a", "a_b" (multi-origin) or "a,b" (AS set).
AsnTable parse_pfx2as(std::string_view body);

// An ASN database in MaxMind DB format (GeoLite2-ASN, DB-IP ASN Lite, GeoIP2
// ISP layouts: `autonomous_system_number`), read with libmaxminddb by walking
// the whole search tree. IPv4 networks come out IPv4-mapped, once.
Expected<AsnTable> read_mmdb_asn(const std::string& path);

// ---- ASN lists: provider -> ASNs -------------------------------------------

struct AsnListEntry {
    std::uint32_t asn = 0;
    std::string provider;          // "" when the list names none
    std::uint32_t categories = 0;  // Category bits the line gives; 0 = the feed's
    std::string reference;         // why the entry is believed (URL or citation); may be ""
    std::uint32_t line = 0;
    std::size_t text_offset = 0;   // the line as written, in the body
    std::size_t text_length = 0;
};

struct AsnList {
    std::vector<AsnListEntry> entries;
    std::vector<LineIssue> rejects;
    std::vector<LineIssue> warnings;
};

// `asn-list`: one "AS1234" or "1234" per line, '#' comments; a trailing
// comment is taken as the provider name (X4BNet input/*/ASN.txt style:
// "AS9009 # M247").
AsnList parse_asn_list(std::string_view body);

// `asn-csv`: "ASN,Entity" CSV with a header line (brianhama/bad-asn-list).
AsnList parse_asn_csv(std::string_view body);

// `provider-asns`: anondb's curated CSV, header
// "provider,category,asn,reference" (category vpn or hosting, reference
// required), '#' comment lines. See data/providers/README.md.
AsnList parse_provider_asns(std::string_view body);

}  // namespace anondb::sources
