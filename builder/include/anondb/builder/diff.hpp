// What changed between two builds: `anondb diff OLD NEW`.
//
// Each side is read as the exports read it (ColdData::for_each_piece): the
// flagged address space cut into maximal ranges of one state, a state being
// the answer (categories, provider name, AS) and the sources (the distinct
// feed names of the evidence). The two partitions are swept together; every
// stretch where the states differ is a change:
//   added    flagged only in NEW,
//   removed  flagged only in OLD,
//   changed  flagged in both, with another answer or other sources.
// Touching stretches with the same pair of states are one change, so a
// change is a maximal range (within IPv4, or within the rest of the space).
//
// States are compared by value, never by id: provider and feed ids of two
// files are unrelated.
#pragma once

#include <array>
#include <cstdint>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "anondb/builder/range_count.hpp"
#include "anondb/category.hpp"
#include "anondb/ip.hpp"

namespace anondb {
class Database;
class ColdData;
}  // namespace anondb

namespace anondb::builder {

// One side's view of a range.
struct RangeState {
    std::uint32_t categories = 0;
    std::string provider;
    std::uint32_t asn = 0;
    std::vector<std::string> sources;  // feed names, sorted, distinct

    friend bool operator==(const RangeState&, const RangeState&) = default;
};

enum class ChangeKind : std::uint8_t { added, removed, changed };

inline constexpr std::uint32_t kNoState = 0xffffffffu;

struct RangeChange {
    Range range;
    ChangeKind kind;
    std::uint32_t old_state;  // index into DiffResult::states; kNoState when added
    std::uint32_t new_state;  // kNoState when removed
};

// Per category and per feed: the space that gained it and the space that
// lost it (a category gained by a range newly flagged with it, or by a
// flagged range that now has it too; a feed gained by a range it now
// lists, alone or beside others).
struct GainLoss {
    RangeCount gained;
    RangeCount lost;
};

struct DiffResult {
    std::vector<RangeState> states;     // each distinct state of either side, once
    std::vector<RangeChange> changes;   // in address order
    RangeCount added, removed, changed;  // by kind
    // Per category, in kCategoryNames order (bit order), changed or not.
    std::array<GainLoss, std::size(kCategoryNames)> categories;
    std::map<std::string, GainLoss> feeds;  // only feeds with a change, by name
    std::uint64_t old_ranges = 0;  // flagged ranges of one state on each side
    std::uint64_t new_ranges = 0;
};

// The difference between two databases with their cold data loaded.
DiffResult diff_databases(const Database& old_db, const ColdData& old_cold, const Database& new_db,
                          const ColdData& new_cold);

}  // namespace anondb::builder
