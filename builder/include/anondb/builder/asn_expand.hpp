// ASN expansion: an ASN table (prefix -> origin ASNs) and provider lists
// (provider -> ASNs) in, the address ranges each listed AS holds out, each
// tied to the list entry and the table row behind it; then exclusions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "anondb/ip.hpp"
#include "anondb/sources/asn.hpp"
#include "anondb/sources/exclusions.hpp"

namespace anondb::builder {

// A piece of address space and the table row that decides it.
struct AsnPiece {
    Range range;
    std::uint32_t row = 0;  // index into AsnTable::rows
};

// Resolves a table by longest-prefix match, as routers and the table's own
// lookups do: every address belongs to the narrowest row covering it. A
// narrower row punches a hole in a broader one, also when it carries no ASN
// (libloc's country-only networks). Rows with the same range decide
// together (a prefix listed twice is announced by both). Among overlapping
// rows of equal width (only possible in range tables, not prefix tables),
// the one with the lowest row index decides.
//
// Returns the decided pieces sorted by (start, row), touching pieces of one
// row coalesced; rows with the same range give one piece each. Addresses no
// row covers are in no piece. O(n log n).
std::vector<AsnPiece> flatten_asn_table(const sources::AsnTable& table);

// The flattened table indexed by ASN.
class AsnIndex {
public:
    explicit AsnIndex(const sources::AsnTable& table);

    // The pieces decided by a row announcing `asn`, sorted by (start, row).
    std::span<const AsnPiece> pieces_of(std::uint32_t asn) const;

    std::size_t asn_count() const { return asn_begin_.size(); }

private:
    std::vector<std::uint32_t> asns_;       // distinct ASNs, ascending
    std::vector<std::uint32_t> asn_begin_;  // pieces of asns_[i]: [asn_begin_[i], asn_begin_[i+1])
    std::vector<AsnPiece> pieces_;          // grouped by ASN
};

// One range an AS of a list holds, per the table.
struct DerivedEntry {
    Range range;              // the piece (part of the row's range)
    std::uint32_t entry = 0;  // index into AsnList::entries
    std::uint32_t row = 0;    // index into AsnTable::rows
    std::uint32_t asn = 0;
};

// Every piece each listed ASN holds, in list order, then by address. An ASN
// the table does not know expands to nothing (counted by the caller).
std::vector<DerivedEntry> expand_asn_list(const sources::AsnList& list, const AsnIndex& index);

// A part of a derived entry that an exclusion rule removed.
struct ExcludedPart {
    Range range;
    std::size_t derived = 0;  // index into the derived entries as given
    std::uint32_t rule = 0;   // index into ExclusionList::rules
};

struct ExclusionOutcome {
    std::vector<DerivedEntry> kept;       // what remains, split where a prefix rule cut
    std::vector<ExcludedPart> excluded;   // in derived order, then by address
};

// Applies the rules to derived entries: an `asn` rule removes every entry of
// that AS, a `prefix` rule the part of any entry inside it. The rule
// reported for a removed part is the first `asn` rule naming its AS, else
// the first listed `prefix` rule covering it.
ExclusionOutcome apply_exclusions(std::span<const DerivedEntry> derived, const sources::ExclusionList& rules);

}  // namespace anondb::builder
