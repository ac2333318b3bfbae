#include "anondb/builder/history.hpp"

#include <algorithm>
#include <functional>
#include <map>
#include <queue>

#include "anondb/explain.hpp"
#include "anondb/seen.hpp"

namespace anondb::builder {

namespace {

// Appends a row, joining it to the last one when they touch with one day.
void append(std::vector<writer::FirstSeenInfo>& out, Range range, std::uint32_t day) {
    if (!out.empty() && out.back().day == day && out.back().range.last != kIpMax &&
        ip_next(out.back().range.last) == range.first) {
        out.back().range.last = range.last;
        return;
    }
    out.push_back({range, day});
}

}  // namespace

Expected<std::vector<writer::FirstSeenInfo>> previous_first_seen(const std::string& path) {
    auto db = Database::open(path);
    if (!db) return make_error(db.error().status, "--previous " + path + ": " + db.error().message);
    auto cold = ColdData::load(*db);
    if (!cold) return make_error(cold.error().status, "--previous " + path + ": " + cold.error().message);
    std::vector<writer::FirstSeenInfo> out;
    if (cold->has_first_seen()) {
        cold->for_each_first_seen([&](Range r, std::uint32_t day) { append(out, r, day); });
        return out;
    }
    const std::uint32_t build_day = seen::day_of(db->header().build_time);
    cold->for_each_piece([&](const Piece& p) {
        if (!p.rows.empty()) append(out, p.range, build_day);
    });
    return out;
}

std::vector<writer::FirstSeenInfo> first_seen_rows(const writer::DatabaseContent& c,
                                                   std::span<const writer::FirstSeenInfo> previous) {
    // Each evidence row with its feed's fetch day, by first address.
    struct Item {
        Range range;
        std::uint32_t day;
    };
    std::vector<Item> items;
    items.reserve(c.evidence.size());
    for (const auto& e : c.evidence) {
        const auto& feed = c.feeds[c.origins[e.origin].feed];
        items.push_back({e.range, seen::fetch_day(feed.fetched_at, c.build_time)});
    }
    std::sort(items.begin(), items.end(), [](const Item& a, const Item& b) { return a.range.first < b.range.first; });

    // Sweep: the rows covering cur (the one ending first on top) and their
    // days, counted, so the earliest is at hand.
    auto ends_later = [&](std::size_t a, std::size_t b) { return items[b].range.last < items[a].range.last; };
    std::priority_queue<std::size_t, std::vector<std::size_t>, decltype(ends_later)> active(ends_later);
    std::map<std::uint32_t, std::size_t> days;
    std::vector<writer::FirstSeenInfo> out;
    std::size_t prev = 0;  // the first previous row not below cur
    auto emit = [&](Range piece, std::uint32_t day) {
        // The parts of the piece the previous database has, at the earlier day.
        Ip at = piece.first;
        while (prev < previous.size() && previous[prev].range.last < at) ++prev;
        for (std::size_t p = prev; p < previous.size() && previous[p].range.first <= piece.last; ++p) {
            const Range& r = previous[p].range;
            if (at < r.first) append(out, {at, ip_prev(r.first)}, day);
            const Ip end = std::min(r.last, piece.last);
            append(out, {std::max(at, r.first), end}, std::min(day, previous[p].day));
            if (end == piece.last) return;
            at = ip_next(end);
        }
        append(out, {at, piece.last}, day);
    };
    Ip cur = kIpMin;
    std::size_t next = 0;
    while (next < items.size() || !active.empty()) {
        if (active.empty()) cur = items[next].range.first;
        for (; next < items.size() && items[next].range.first == cur; ++next) {
            active.push(next);
            ++days[items[next].day];
        }
        Ip last = items[active.top()].range.last;
        if (next < items.size() && items[next].range.first <= last) last = ip_prev(items[next].range.first);
        emit({cur, last}, days.begin()->first);
        if (last == kIpMax) break;
        cur = ip_next(last);
        while (!active.empty() && items[active.top()].range.last < cur) {
            const auto it = days.find(items[active.top()].day);
            if (--it->second == 0) days.erase(it);
            active.pop();
        }
    }
    return out;
}

}  // namespace anondb::builder
