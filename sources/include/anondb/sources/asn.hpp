// ASN data: tables mapping prefixes to their origin ASNs, and lists naming
// the ASNs of providers. Parsers follow the contract of parse.hpp: never
// throw, report every rejected line with its number and a fixed reason
// (formats.hpp, namespace reasons).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
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
    // > 1 for multi-origin prefixes and AS sets; 0 for a row that says its
    // range has no origin (libloc's AS 0 networks), which shadows the rows
    // covering it like any other row.
    std::uint32_t asn_count = 0;
    std::uint32_t line = 0;       // 1-based line of a text table; 0 for a network of a database
    // The row as written in AsnTable::text; for a database "NETWORK/LEN"
    // (MMDB) or "NETWORK/LEN ASn" (libloc, "NETWORK/LEN" when no ASN).
    std::size_t text_offset = 0;
    std::size_t text_length = 0;
};

// Rows may nest: a table can hold 1.0.0.0/8 and 1.0.0.0/24. An address
// belongs to the most specific row that covers it (longest-prefix match),
// and that row alone decides its origins, none when asn_count is 0. The
// text formats and MMDB give disjoint rows.
struct AsnTable {
    std::vector<AsnRow> rows;
    std::vector<std::uint32_t> asns;
    std::string text;  // row texts, referenced by offset
    IssueList rejects;
    IssueList warnings;
    bool over_max_entries = false;  // stopped at ParseOptions::max_entries rows: a partial table

    std::string_view row_text(const AsnRow& r) const { return std::string_view(text).substr(r.text_offset, r.text_length); }
};

// `iptoasn`: ip2asn-v4.tsv / ip2asn-v6.tsv / ip2asn-combined.tsv
// (range_start TAB range_end TAB AS_number TAB country_code TAB AS_description);
// rows with AS 0 ("Not routed") carry no ASN and are skipped, not rejected:
// the file's ranges are disjoint, so such a row has nothing to shadow.
AsnTable parse_iptoasn(std::string_view body, const ParseOptions& options = {});

// `pfx2as`: CAIDA RouteViews prefix2as (prefix TAB length TAB origin), origin
// "a", "a_b" (multi-origin) or "a,b" (AS set); an origin of AS 0 is rejected
// (kAsnZero).
AsnTable parse_pfx2as(std::string_view body, const ParseOptions& options = {});

// An ASN database in MaxMind DB format (GeoLite2-ASN, DB-IP ASN Lite, GeoIP2
// ISP layouts: `autonomous_system_number`), read with libmaxminddb by walking
// the whole search tree. IPv4 is what libmaxminddb answers for an IPv4
// address: in an IPv6 tree, what the tree holds at ::/96 (or over it); it
// comes out IPv4-mapped, once, and the tree's ::ffff:0:0/96 (an alias, or
// data never reached for IPv4) gives nothing. Networks are disjoint; those
// without the key or with AS 0 are left out. The walk
// stops at options.max_entries rows (over_max_entries, a reject on line 0).
Expected<AsnTable> read_mmdb_asn(const std::string& path, const ParseOptions& options = {});

// An IPFire location database (libloc format v1: location.db, as
// location.ipfire.org serves it xz-compressed), read with libloc's network
// enumerator. Every network is a row, nested ones included (1.0.0.0/8 AS 0
// holds 1.0.0.0/24 AS13335), in address order with a covering network before
// the networks inside it; AS 0 networks are rows without an ASN, so that they
// shadow their covering network as in libloc's own lookup. IPv4 networks come
// out IPv4-mapped. Fails with the path in the message when the file cannot
// be read (Status::io), is not such a database (corrupt), has another format
// version (unsupported_version), or is truncated or damaged (truncated,
// corrupt); never a partial table, except that the enumeration stops at
// options.max_entries rows (over_max_entries, a reject on line 0).
Expected<AsnTable> read_libloc_asn(const std::string& path, const ParseOptions& options = {});

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
    IssueList rejects;
    IssueList warnings;
    bool over_max_entries = false;  // stopped at ParseOptions::max_entries: a partial list
};

// `asn-list`: one "AS1234" or "1234" per line, '#' comments; a trailing
// comment is taken as the provider name (X4BNet input/*/ASN.txt style:
// "AS9009 # M247").
AsnList parse_asn_list(std::string_view body, const ParseOptions& options = {});

// `asn-csv`: "ASN,Entity" CSV with a header line (brianhama/bad-asn-list).
AsnList parse_asn_csv(std::string_view body, const ParseOptions& options = {});

// `provider-asns`: anondb's curated CSV, header
// "provider,category,asn,reference" (category vpn or hosting, reference
// required), '#' comment lines. See data/providers/README.md.
AsnList parse_provider_asns(std::string_view body, const ParseOptions& options = {});

// ---- the format registry of ASN feeds ---------------------------------------

// An ASN table format: text tables are parsed from the body; databases
// (MMDB, libloc) are read from a file by their library. Both take
// ParseOptions (parse.hpp); text tables and lists are line formats.
struct AsnTableFormat {
    std::string_view name;  // the `format:` value in feeds.yaml
    WithOptions<AsnTable, std::string_view> parse;                     // text formats
    WithOptions<Expected<AsnTable>, const std::string&> read_file;  // database formats
    std::string_view description;
};

struct AsnListFormat {
    std::string_view name;
    WithOptions<AsnList, std::string_view> parse;
    std::string_view description;
};

std::span<const AsnTableFormat> asn_table_formats();
const AsnTableFormat* find_asn_table_format(std::string_view name);  // nullptr when unknown
std::span<const AsnListFormat> asn_list_formats();
const AsnListFormat* find_asn_list_format(std::string_view name);    // nullptr when unknown

}  // namespace anondb::sources
