// Merge: many overlapping input ranges in, the coarsest disjoint ranges out,
// each with the attributes a lookup answers.
//
// Provenance is not materialised here. The inputs themselves, sorted into
// evidence order, are the provenance: the file stores them (the `evidence`
// section, docs/FORMAT.md) and explain answers "which inputs cover this
// address" with a stabbing query over them. Building one list of covering
// inputs per output range was most of the old merge's time and memory.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "anondb/ip.hpp"

namespace anondb::builder {

// One input entry after parsing and classification.
struct MergeInput {
    Range range;
    std::uint32_t origin = 0;      // id of the entry in the build's origin table
    std::uint32_t categories = 0;  // Category bits
    std::uint32_t provider = 0;    // provider id, 0 = none
    std::uint32_t asn = 0;         // the AS an ASN-derived entry came through, 0 = none
};

// What every address of an output range carries. For the addresses an
// input set covers:
// - categories = OR of the categories of all covering inputs;
// - provider = the provider of the narrowest covering input that has one,
//   where inputs without an AS (direct list entries) come before
//   ASN-derived ones: a provider's own list outranks routing data (ties:
//   lowest provider id); 0 when none has one;
// - asn = likewise, the ASN of the narrowest covering input that has one
//   (ties: lowest ASN), independently of the provider.
// "Narrowest" compares last - first of the inputs as given.
struct MergedRange {
    Range range;
    std::uint32_t categories = 0;
    std::uint32_t provider = 0;
    std::uint32_t asn = 0;
    friend bool operator==(const MergedRange&, const MergedRange&) = default;
};

// Receives merged ranges in address order, a batch at a time. The batch
// lives only during the call.
using RangeSink = std::function<void(std::span<const MergedRange>)>;

// The order the file stores evidence in: first ascending, then last
// descending (an enclosing range before the ranges it nests), then origin
// ascending.
bool evidence_less(const MergeInput& a, const MergeInput& b) noexcept;

// Sorts `inputs` in place into evidence order, then sweeps them in
// O(n log n) time, handing the output ranges to `sink` in address order:
// disjoint, covering exactly the addresses some input covers, each with the
// attributes above, and no two touching ranges with equal attributes (they
// are one range). Deterministic: the ranges depend only on the multiset of
// inputs, not on their order. Throws std::length_error past 2^32 - 2 inputs.
void merge(std::span<MergeInput> inputs, const RangeSink& sink);

// merge(), collecting the ranges.
std::vector<MergedRange> merge(std::span<MergeInput> inputs);

}  // namespace anondb::builder
