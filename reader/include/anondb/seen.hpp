// Seen dates and the confidence score (docs/FORMAT.md, "Seen dates and
// confidence"): the day arithmetic and the weights, in one place for the
// reader (explain, exports), the builder (first-seen days) and the tests.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>

namespace anondb::seen {

// Days since 1970-01-01 UTC of a Unix time; times before 1970 are day 0.
constexpr std::uint32_t day_of(std::int64_t unix_seconds) noexcept {
    if (unix_seconds < 0) return 0;
    const std::int64_t d = unix_seconds / 86400;
    return d > 0xFFFFFFFEll ? 0xFFFFFFFEu : static_cast<std::uint32_t>(d);
}

// A feed's fetch day: the day of its fetch, or the build day if that is
// earlier (a clock ahead of the builder's).
constexpr std::uint32_t fetch_day(std::int64_t fetched_at, std::int64_t build_time) noexcept {
    return std::min(day_of(fetched_at), day_of(build_time));
}

// One feed's weight for an address: `direct` when a range entry of the
// feed covers it (else only ASN-derived entries do), `age_days` the build
// day minus the feed's fetch day.
constexpr unsigned feed_weight(bool direct, std::uint32_t age_days) noexcept {
    const unsigned tier = age_days <= 1 ? 0 : age_days <= 7 ? 1 : age_days <= 30 ? 2 : 3;
    constexpr unsigned kDirect[4] = {60, 45, 30, 15};
    constexpr unsigned kDerived[4] = {30, 22, 15, 7};
    return direct ? kDirect[tier] : kDerived[tier];
}

inline constexpr unsigned kMinConfidence = 1;
inline constexpr unsigned kMaxConfidence = 99;

// Adds feeds' weights up into a confidence: the largest weight plus half
// of each other one (rounded down), from 1 to 99.
class ConfidenceSum {
public:
    void add(unsigned weight) noexcept {
        if (weight > best_) std::swap(weight, best_);
        halves_ += weight / 2;
    }
    unsigned value() const noexcept {
        return std::clamp<std::uint64_t>(std::uint64_t{best_} + halves_, kMinConfidence, kMaxConfidence);
    }

private:
    unsigned best_ = 0;
    std::uint64_t halves_ = 0;
};

// "YYYY-MM-DD" of a day (the proleptic Gregorian calendar; H. Hinnant's
// civil_from_days).
inline std::string iso_date(std::uint32_t day) {
    const std::int64_t z = std::int64_t{day} + 719468;
    const std::int64_t era = z / 146097;
    const std::int64_t doe = z - era * 146097;
    const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const std::int64_t mp = (5 * doy + 2) / 153;
    const std::int64_t d = doy - (153 * mp + 2) / 5 + 1;
    const std::int64_t m = mp < 10 ? mp + 3 : mp - 9;
    const std::int64_t y = yoe + era * 400 + (m <= 2);
    char buf[64];  // room for any i64 the format could print
    std::snprintf(buf, sizeof buf, "%04lld-%02lld-%02lld", static_cast<long long>(y), static_cast<long long>(m),
                  static_cast<long long>(d));
    return buf;
}

}  // namespace anondb::seen
