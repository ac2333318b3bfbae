#include "anondb/builder/diff.hpp"

#include <algorithm>
#include <string_view>
#include <unordered_map>

#include "anondb/category.hpp"
#include "anondb/explain.hpp"
#include "anondb/reader.hpp"

namespace anondb::builder {

namespace {

// A maximal flagged range of one state on one side.
struct Run {
    Range range;
    std::uint32_t state;
};

// Each distinct state once, shared by both sides, so that equal states have
// equal ids whichever file they came from.
class StateTable {
public:
    explicit StateTable(std::vector<RangeState>& states) : states_(states) {}

    std::uint32_t intern(const LookupResult& answer, std::vector<std::string_view>& sources) {
        std::sort(sources.begin(), sources.end());
        sources.erase(std::unique(sources.begin(), sources.end()), sources.end());
        // The key: categories and AS, each source ended by a NUL (feed
        // names are [a-z0-9._-]), then the provider name, which may hold
        // any byte, after its length.
        key_.clear();
        key_.append(reinterpret_cast<const char*>(&answer.categories), sizeof answer.categories);
        key_.append(reinterpret_cast<const char*>(&answer.asn), sizeof answer.asn);
        for (const auto s : sources) {
            key_.append(s);
            key_ += '\0';
        }
        const auto plen = static_cast<std::uint32_t>(answer.provider.size());
        key_.append(reinterpret_cast<const char*>(&plen), sizeof plen);
        key_.append(answer.provider);
        const auto [it, fresh] = ids_.try_emplace(key_, static_cast<std::uint32_t>(states_.size()));
        if (fresh) {
            RangeState s;
            s.categories = answer.categories;
            s.provider = std::string(answer.provider);
            s.asn = answer.asn;
            s.sources.assign(sources.begin(), sources.end());
            states_.push_back(std::move(s));
        }
        return it->second;
    }

private:
    std::vector<RangeState>& states_;
    std::unordered_map<std::string, std::uint32_t> ids_;
    std::string key_;
};

// The flagged space of one database as maximal runs of one state, clipped
// to IPv4 and the rest of the space (so no run crosses the IPv4 block's
// edges).
std::vector<Run> runs_of(const Database& db, const ColdData& cold, StateTable& table) {
    const Range zones[] = {{kIpMin, ip_prev(kV4First)}, {kV4First, kV4Last}, {ip_next(kV4Last), kIpMax}};
    std::vector<Run> runs;
    std::vector<std::string_view> sources;
    cold.for_each_piece([&](const Piece& piece) {
        if (piece.rows.empty()) return;
        const LookupResult answer = db.lookup(piece.range.first);  // one answer a piece
        if (!answer.flagged) return;
        cold.sources_of(piece.rows, sources);
        const std::uint32_t state = table.intern(answer, sources);
        for (const Range& zone : zones) {
            const Range r{std::max(piece.range.first, zone.first), std::min(piece.range.last, zone.last)};
            if (r.last < r.first) continue;
            if (!runs.empty() && runs.back().state == state && ip_next(runs.back().range.last) == r.first &&
                runs.back().range.first.is_v4() == r.first.is_v4()) {
                runs.back().range.last = r.last;
                continue;
            }
            runs.push_back({r, state});
        }
    });
    return runs;
}

void add_feeds(std::map<std::string, GainLoss>& to, const std::vector<std::string>& gained,
               const std::vector<std::string>& lost, Range r) {
    for (const auto& name : gained) to[name].gained.add(r);
    for (const auto& name : lost) to[name].lost.add(r);
}

// What a change gains and loses, per category and per feed.
void count_change(DiffResult& d, const RangeChange& c) {
    static const RangeState kNone;
    const RangeState& o = c.old_state == kNoState ? kNone : d.states[c.old_state];
    const RangeState& n = c.new_state == kNoState ? kNone : d.states[c.new_state];
    switch (c.kind) {
        case ChangeKind::added: d.added.add(c.range); break;
        case ChangeKind::removed: d.removed.add(c.range); break;
        case ChangeKind::changed: d.changed.add(c.range); break;
    }
    for (std::size_t k = 0; k < std::size(kCategoryNames); ++k) {
        const std::uint32_t bit = kCategoryNames[k].bit;
        if ((n.categories & bit) && !(o.categories & bit)) d.categories[k].gained.add(c.range);
        if ((o.categories & bit) && !(n.categories & bit)) d.categories[k].lost.add(c.range);
    }
    std::vector<std::string> gained, lost;  // sources are sorted
    std::set_difference(n.sources.begin(), n.sources.end(), o.sources.begin(), o.sources.end(),
                        std::back_inserter(gained));
    std::set_difference(o.sources.begin(), o.sources.end(), n.sources.begin(), n.sources.end(),
                        std::back_inserter(lost));
    add_feeds(d.feeds, gained, lost, c.range);
}

}  // namespace

DiffResult diff_databases(const Database& old_db, const ColdData& old_cold, const Database& new_db,
                          const ColdData& new_cold) {
    DiffResult d;
    StateTable table(d.states);
    const std::vector<Run> a = runs_of(old_db, old_cold, table);
    const std::vector<Run> b = runs_of(new_db, new_cold, table);
    d.old_ranges = a.size();
    d.new_ranges = b.size();

    auto emit = [&](Range r, std::uint32_t os, std::uint32_t ns) {
        if (os == ns) return;
        if (!d.changes.empty()) {
            RangeChange& last = d.changes.back();
            if (last.old_state == os && last.new_state == ns && ip_next(last.range.last) == r.first &&
                last.range.first.is_v4() == r.first.is_v4()) {
                last.range.last = r.last;
                return;
            }
        }
        const ChangeKind kind = os == kNoState ? ChangeKind::added : ns == kNoState ? ChangeKind::removed : ChangeKind::changed;
        d.changes.push_back({r, kind, os, ns});
    };

    // Both partitions swept together: at `cur`, each side is in a run or in
    // a gap; the stretch ends where either side's run or gap ends.
    std::size_t i = 0, j = 0;
    Ip cur = kIpMin;
    while (i < a.size() || j < b.size()) {
        const bool in_a = i < a.size() && a[i].range.first <= cur;
        const bool in_b = j < b.size() && b[j].range.first <= cur;
        if (!in_a && !in_b) {  // a gap on both sides: on to the next run
            cur = std::min(i < a.size() ? a[i].range.first : kIpMax, j < b.size() ? b[j].range.first : kIpMax);
            continue;
        }
        Ip end = kIpMax;
        if (in_a) end = std::min(end, a[i].range.last);
        else if (i < a.size()) end = std::min(end, ip_prev(a[i].range.first));
        if (in_b) end = std::min(end, b[j].range.last);
        else if (j < b.size()) end = std::min(end, ip_prev(b[j].range.first));
        emit({cur, end}, in_a ? a[i].state : kNoState, in_b ? b[j].state : kNoState);
        if (in_a && a[i].range.last == end) ++i;
        if (in_b && b[j].range.last == end) ++j;
        if (end == kIpMax) break;
        cur = ip_next(end);
    }
    for (const auto& c : d.changes) count_change(d, c);
    return d;
}

}  // namespace anondb::builder
