// MaxMind DB (format 2.0) export of an anondb database, written by our own
// encoder per https://maxmind.github.io/MaxMind-DB/ (no libmaxminddb writer).
//
// Tree: one IPv6 search tree (ip_version 6, 128 bits). Only flagged space
// (answer != 0) gets data; everything else is an empty record (value ==
// node_count). Ranges are the maximal runs of one map: one answer and one
// set of sources (one sweep over the evidence, ColdData::for_each_piece).
//
// Data map of a network, keys of GeoIP2-Anonymous-IP; only TRUE booleans are
// written, false ones are absent (as MaxMind does):
//   is_anonymous          any category except hosting (tor_exit, vpn, proxy,
//                         relay, residential_proxy); see is_anonymous()
//   is_anonymous_vpn      vpn
//   is_hosting_provider   hosting
//   is_public_proxy       proxy
//   is_residential_proxy  residential_proxy
//   is_tor_exit_node      tor_exit
//   relay (iCloud Private Relay and the like) sets is_anonymous only.
//   Unknown category bits are ignored.
// Plus provider_name (utf8 string) when the answer has a provider,
// autonomous_system_number (uint32) when it has an ASN, and sources (array of
// utf8 strings): the distinct feed names of the evidence covering the range,
// in origin order. As in MaxMind's Anonymous Plus: anonymizer_confidence
// (uint16, 1-99) and network_last_seen (utf8 "YYYY-MM-DD"); and
// network_first_seen (same form) when the file has first-seen days
// (docs/FORMAT.md, Seen dates and confidence). Identical maps are written once.
//
// Address placement and aliases (as MaxMind's writer does):
//   anondb's IPv4 (::ffff:a.b.c.d) is stored under ::a.b.c.d, the IPv4
//   subtree at ::/96, which is where libmaxminddb looks up dotted quads.
//   The records for ::ffff:0:0/96 (IPv4-mapped) and 2002::/16 (6to4) point at
//   that same IPv4 subtree, so ::ffff:a.b.c.d and 2002:AABB:CCDD:: answer as
//   a.b.c.d. With alias_teredo, 2001::/32 points there too; this is only an
//   approximation: a Teredo address carries its client's IPv4 obfuscated
//   (inverted) in the last 32 bits, which a prefix tree cannot express, so
//   2001:0:AABB:CCDD:: answers as the Teredo *server* a.b.c.d.
//   anondb's own IPv6 data inside ::/96, 2002::/16 (and 2001::/32 with
//   alias_teredo) is shadowed by the IPv4 subtree and not exported; anondb
//   never has data in ::ffff:0:0/96 outside its IPv4 table.
//
// Record size: 24 bits when node_count + 16 + data section size fits, else
// 28, else 32. The output is deterministic: same input, same bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "anondb/error.hpp"
#include "anondb/explain.hpp"
#include "anondb/reader.hpp"

namespace anondb::mmdb {

struct MmdbOptions {
    std::string database_type = "anondb-Anonymous-IP";
    std::string description = "anondb anonymizer ranges";
    // 0 = the anondb database's build time (libmaxminddb rejects 0; the
    // export fails when both are 0).
    std::uint64_t build_epoch = 0;
    bool alias_teredo = false;  // see the header comment: approximate
};

// The whole .mmdb file as bytes. Fails with invalid_argument when the tree
// plus the data section is past what 32-bit records can address (4 GiB),
// or when there is no nonzero build_epoch to write.
Expected<std::vector<std::byte>> export_mmdb(const Database& db, const ColdData& cold, const MmdbOptions& options);

}  // namespace anondb::mmdb
