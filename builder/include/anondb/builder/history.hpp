// First-seen days across nightly builds (docs/FORMAT.md, "Seen dates and
// confidence"): what `anondb build --previous OLD.anondb` carries over.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "anondb/error.hpp"
#include "anondb/writer.hpp"

namespace anondb::builder {

// The first-seen rows of a previous database: its first_seen section, or,
// for a file without one (format 2.0, 2.1), every address it flags as first
// seen on its build day. Sorted, disjoint, touching rows of different days.
Expected<std::vector<writer::FirstSeenInfo>> previous_first_seen(const std::string& path);

// The first_seen rows of a build (its evidence, origins, feeds and build
// time set): each flagged address is first seen on the earliest fetch day
// of the feeds that list it, or on its day in `previous` (sorted,
// disjoint) if that is earlier. Addresses no feed lists are not in the
// result, whatever `previous` says.
std::vector<writer::FirstSeenInfo> first_seen_rows(const writer::DatabaseContent& content,
                                                   std::span<const writer::FirstSeenInfo> previous);

}  // namespace anondb::builder
