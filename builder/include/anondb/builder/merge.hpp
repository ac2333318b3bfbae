// Merge with provenance: many overlapping input ranges in, the coarsest
// disjoint ranges out, each knowing every input that covers it.
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

// One output range: every address in it is covered by exactly the same set
// of inputs.
struct MergedRange {
    Range range;
    std::uint32_t categories = 0;  // union of the covering inputs' categories
    std::uint32_t provider = 0;    // primary provider, see merge()
    std::uint32_t asn = 0;         // primary ASN, see merge()
    std::uint32_t provenance = 0;  // index of its list in MergedSet
};

// What a provenance list stands for besides its origins.
struct ListAttributes {
    std::uint32_t categories = 0;
    std::uint32_t provider = 0;
    std::uint32_t asn = 0;
    friend bool operator==(const ListAttributes&, const ListAttributes&) = default;
};

struct MergedSet {
    // Disjoint, sorted by address. No two touching ranges have equal
    // (categories, provider, provenance).
    std::vector<MergedRange> ranges;
    // Provenance list i is list_origins[list_offsets[i] .. list_offsets[i+1]),
    // origin ids ascending. Ranges share a list only when they carry the
    // same attributes too, so list i stands for one (origins, categories,
    // provider, asn): a list is stored twice only for two sets of attributes
    // (an origin in several inputs of other widths can name another provider).
    // Lists are numbered in order of first use along the address space.
    // list_offsets.size() == number of lists + 1.
    std::vector<std::uint32_t> list_offsets{0};
    std::vector<std::uint32_t> list_origins;
    // The categories, provider and asn of the ranges with list i.
    std::vector<ListAttributes> list_attributes;

    std::span<const std::uint32_t> list(std::uint32_t i) const {
        return {list_origins.data() + list_offsets[i], list_offsets[i + 1] - list_offsets[i]};
    }
};

// Sweeps the inputs in O(n log n + output). For each output range:
// - categories = OR of the categories of all inputs covering it;
// - provenance = the ascending, duplicate-free origin ids of those inputs;
// - provider = the provider of the narrowest covering input that has one,
//   where inputs without an AS (direct list entries) come before ASN-derived
//   ones: a provider's own list outranks routing data (ties: lowest provider
//   id); 0 when none has one;
// - asn = likewise, the ASN of the narrowest covering input that has one
//   (ties: lowest ASN), independently of the provider.
// Addresses covered by no input appear in no range. Deterministic: the
// result depends only on the multiset of inputs, not on their order.
MergedSet merge(std::span<const MergeInput> inputs);

// Receives merged ranges in address order, a batch at a time; each range's
// provenance is final. The batch lives only during the call.
using RangeSink = std::function<void(std::span<const MergedRange>)>;

// merge(), handing the ranges to `sink` instead of storing them: the
// returned set has no ranges, and all its lists. For callers that turn the
// ranges into something else: they are the largest thing a merge makes.
MergedSet merge(std::span<const MergeInput> inputs, const RangeSink& sink);

}  // namespace anondb::builder
