// Plain-text exports of an anondb database: CIDR lists, firewall sets
// (nftables, ipset), per-range CSV / JSON lines and a PostgreSQL load script.
//
// Every export walks the flagged space (answer != 0) in address order,
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
//          maxelem M -exist` (M = the set's element count, at least ipset's
//          default 65536), the same for _v6 (family inet6), then `add <name>_vN
//          CIDR -exist` lines with the CIDRs of the cidr export (hash:net
//          takes no /0: all of IPv4 is written as 0.0.0.0/1 and 128.0.0.0/1).
//   csv    header start,end,cidrs,categories,provider,asn,sources; one row
//          per maximal kept range of one answer and one set of sources (not
//          merged further); cidrs space-separated, categories
//          and sources '|'-joined; RFC 4180 quoting where needed.
//   jsonl  one JSON object per row of the csv export: start, end, cidrs[],
//          categories[], anonymous, provider (string|null), asn
//          (number|null), sources[].
//   pgsql  a psql script loading the kept segments into PostgreSQL (needs
//          the ip4r extension: Debian postgresql-NN-ip4r); load it with
//          `psql -v ON_ERROR_STOP=1 -f FILE` (the script also sets
//          ON_ERROR_STOP itself, so a failed COPY never makes psql read the
//          data lines as commands). In one transaction it runs CREATE
//          EXTENSION IF NOT EXISTS ip4r, DROP TABLE IF EXISTS <set_name>_ranges
//          (so loading twice replaces the table; no CASCADE: a view on the
//          table makes the load fail and roll back) and creates
//            <set_name>_ranges (
//              range iprange NOT NULL,       -- a.b.c.d[/len] or first-last
//              categories text[] NOT NULL,   -- names, in kCategoryNames order
//              anonymous boolean NOT NULL,   -- is_anonymous(categories)
//              tor_exit, vpn, proxy, relay, hosting, residential_proxy
//                        boolean NOT NULL,   -- one per category
//              provider text,                -- NULL when none
//              asn bigint,                   -- NULL when none
//              sources text[] NOT NULL)      -- as in csv/jsonl
//          with one row per row of the csv export, loaded by
//          COPY FROM stdin in text format (every array element quoted); then
//          the GiST index <set_name>_ranges_range_idx on range, and ANALYZE.
//          The range is written as format_range writes it: IPv4 text for
//          the IPv4-mapped block, which ip4r keeps apart from IPv6, so query
//          a client's ::ffff:a.b.c.d as a.b.c.d. Look an address up with
//            SELECT * FROM anondb_ranges WHERE range >>= '192.0.2.1';
//          Text columns hold UTF-8 only: a byte of a provider or feed name
//          that is not part of a valid UTF-8 sequence, and NUL, are written
//          as U+FFFD; every other string round-trips exactly.
// sources = distinct feed names of the evidence covering the range (what
// explain() lists for its addresses), in origin order.
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

enum class PlainFormat { cidr, nft, ipset, csv, jsonl, pgsql };

// "cidr", "nft", "ipset", "csv", "jsonl", "pgsql"; nullopt for anything else.
std::optional<PlainFormat> plain_format(std::string_view name);
std::string_view plain_format_name(PlainFormat format);

struct ExportFilter {
    std::uint32_t categories = 0;  // keep ranges with any of these bits; 0 = every flagged range
    std::string provider;          // exact primary provider name; "" = any
    enum class Family { both, v4, v6 } family = Family::both;
};

// Does a flagged answer pass the filter's category and provider tests
// (family is a property of the address, not of the answer)?
bool filter_matches(const ExportFilter& filter, const LookupResult& answer);

// Writes the export. set_name names the nft/ipset sets (<set_name>_v4,
// <set_name>_v6) and the pgsql table (<set_name>_ranges, written unquoted:
// PostgreSQL folds it to lower case; the suffix keeps it clear of SQL
// keywords): 1 to 28 characters of [A-Za-z0-9_], not starting with a digit;
// other formats ignore it. Fails with invalid_argument on a bad set_name,
// with io when the stream fails.
Error write_plain(const Database& db, const ColdData& cold, PlainFormat format, const ExportFilter& filter,
                  std::ostream& out, const std::string& set_name = "anondb");

}  // namespace anondb::exports
