// Longest-prefix resolution of ASN tables, expansion of ASN lists, and
// exclusions. See asn_expand.hpp for the rules.
#include "anondb/builder/asn_expand.hpp"

#include <algorithm>
#include <numeric>
#include <queue>
#include <span>
#include <unordered_map>

namespace anondb::builder {
namespace {

// a - b for a >= b, in the 128-bit space.
constexpr Ip ip_sub(Ip a, Ip b) noexcept {
    return Ip{a.hi - b.hi - (a.lo < b.lo ? 1u : 0u), a.lo - b.lo};
}

// Ranges with the same extent, deciding together.
struct Group {
    Range range;
    Ip width;                 // last - first
    std::uint32_t first;      // lowest index among them: the tie-break between groups
    std::uint32_t begin;      // members: order[begin, end)
    std::uint32_t end;
};

struct Resolved {
    std::vector<std::uint32_t> order;  // indexes sorted by (first, last, index)
    std::vector<Group> groups;
    struct Piece {
        Range range;
        std::uint32_t group;
    };
    std::vector<Piece> pieces;  // disjoint, ascending, touching pieces of one group coalesced
};

// Splits the union of `ranges` into pieces, each decided by the covering
// group that `before` ranks first. A sweep over the starts with the active
// groups in a heap; groups that ended are dropped lazily when they reach the
// top. Between two events (a group starting, the top group ending) the top
// decides. O(n log n).
template <class Before>
Resolved resolve(std::span<const Range> ranges, Before before) {
    Resolved r;
    r.order.resize(ranges.size());
    std::iota(r.order.begin(), r.order.end(), 0u);
    std::sort(r.order.begin(), r.order.end(), [&](std::uint32_t a, std::uint32_t b) {
        const Range &x = ranges[a], &y = ranges[b];
        if (x.first != y.first) return x.first < y.first;
        if (x.last != y.last) return x.last < y.last;
        return a < b;
    });
    auto& groups = r.groups;
    for (std::uint32_t i = 0; i < r.order.size();) {
        std::uint32_t j = i + 1;
        const Range x = ranges[r.order[i]];
        while (j < r.order.size() && ranges[r.order[j]] == x) ++j;
        groups.push_back(Group{x, ip_sub(x.last, x.first), r.order[i], i, j});
        i = j;
    }
    // priority_queue keeps the greatest on top: invert `before`.
    const auto after = [&](std::uint32_t a, std::uint32_t b) { return before(groups[b], groups[a]); };
    std::priority_queue<std::uint32_t, std::vector<std::uint32_t>, decltype(after)> active(after);

    std::size_t next = 0;  // first group not yet started
    Ip pos{};
    while (true) {
        if (active.empty()) {
            if (next == groups.size()) break;
            pos = groups[next].range.first;
        }
        for (; next < groups.size() && groups[next].range.first == pos; ++next)
            active.push(static_cast<std::uint32_t>(next));
        while (!active.empty() && groups[active.top()].range.last < pos) active.pop();
        if (active.empty()) continue;
        const std::uint32_t top = active.top();
        Ip end = groups[top].range.last;
        if (next < groups.size() && groups[next].range.first <= end) end = ip_prev(groups[next].range.first);
        if (!r.pieces.empty() && r.pieces.back().group == top && ip_next(r.pieces.back().range.last) == pos)
            r.pieces.back().range.last = end;
        else
            r.pieces.push_back({Range{pos, end}, top});
        if (end == kIpMax) break;
        pos = ip_next(end);
    }
    return r;
}

}  // namespace

std::vector<AsnPiece> flatten_asn_table(const sources::AsnTable& table) {
    std::vector<Range> ranges;
    ranges.reserve(table.rows.size());
    for (const auto& row : table.rows) ranges.push_back(row.range);
    const Resolved r = resolve(ranges, [](const Group& x, const Group& y) {
        if (x.width != y.width) return x.width < y.width;  // narrowest first
        return x.first < y.first;
    });
    std::vector<AsnPiece> out;
    out.reserve(r.pieces.size());
    for (const auto& p : r.pieces) {
        const Group& g = r.groups[p.group];
        for (std::uint32_t k = g.begin; k < g.end; ++k) out.push_back({p.range, r.order[k]});
    }
    return out;
}

AsnIndex::AsnIndex(const sources::AsnTable& table) {
    const std::vector<AsnPiece> flat = flatten_asn_table(table);
    struct Keyed {
        std::uint32_t asn;
        std::uint32_t piece;
    };
    std::vector<Keyed> keyed;
    keyed.reserve(flat.size());
    for (std::uint32_t i = 0; i < flat.size(); ++i) {
        const auto& row = table.rows[flat[i].row];
        for (std::uint32_t k = 0; k < row.asn_count; ++k) keyed.push_back({table.asns[row.asn_begin + k], i});
    }
    // Stable by piece index within one ASN, so each ASN's pieces stay sorted.
    std::stable_sort(keyed.begin(), keyed.end(), [](const Keyed& a, const Keyed& b) { return a.asn < b.asn; });
    // An AS set may name one ASN twice for a row: keep one piece.
    keyed.erase(std::unique(keyed.begin(), keyed.end(),
                            [](const Keyed& a, const Keyed& b) { return a.asn == b.asn && a.piece == b.piece; }),
                keyed.end());
    pieces_.reserve(keyed.size());
    for (std::size_t i = 0; i < keyed.size(); ++i) {
        if (i == 0 || keyed[i].asn != keyed[i - 1].asn) {
            asns_.push_back(keyed[i].asn);
            asn_begin_.push_back(static_cast<std::uint32_t>(pieces_.size()));
        }
        pieces_.push_back(flat[keyed[i].piece]);
    }
}

std::span<const AsnPiece> AsnIndex::pieces_of(std::uint32_t asn) const {
    const auto it = std::lower_bound(asns_.begin(), asns_.end(), asn);
    if (it == asns_.end() || *it != asn) return {};
    const auto i = static_cast<std::size_t>(it - asns_.begin());
    const std::size_t end = i + 1 < asn_begin_.size() ? asn_begin_[i + 1] : pieces_.size();
    return std::span<const AsnPiece>(pieces_).subspan(asn_begin_[i], end - asn_begin_[i]);
}

std::vector<DerivedEntry> expand_asn_list(const sources::AsnList& list, const AsnIndex& index) {
    std::vector<DerivedEntry> out;
    for (std::uint32_t e = 0; e < list.entries.size(); ++e) {
        const std::uint32_t asn = list.entries[e].asn;
        for (const AsnPiece& p : index.pieces_of(asn)) out.push_back({p.range, e, p.row, asn});
    }
    return out;
}

ExclusionOutcome apply_exclusions(std::span<const DerivedEntry> derived, const sources::ExclusionList& rules) {
    using Kind = sources::ExclusionRule::Kind;
    std::unordered_map<std::uint32_t, std::uint32_t> by_asn;  // ASN -> first rule naming it
    std::vector<Range> prefixes;
    std::vector<std::uint32_t> rule_of_prefix;
    for (std::uint32_t i = 0; i < rules.rules.size(); ++i) {
        const auto& rule = rules.rules[i];
        if (rule.kind == Kind::asn) {
            by_asn.emplace(rule.asn, i);
        } else {
            prefixes.push_back(rule.range);
            rule_of_prefix.push_back(i);
        }
    }
    // The prefix rules' union as disjoint cuts, each named by the first
    // listed rule covering it.
    const Resolved cut_set =
        resolve(prefixes, [](const Group& x, const Group& y) { return x.first < y.first; });
    std::vector<AsnPiece> cuts;
    for (const auto& p : cut_set.pieces) cuts.push_back({p.range, rule_of_prefix[cut_set.groups[p.group].first]});

    ExclusionOutcome out;
    for (std::size_t d = 0; d < derived.size(); ++d) {
        const DerivedEntry& e = derived[d];
        if (const auto it = by_asn.find(e.asn); it != by_asn.end()) {
            out.excluded.push_back({e.range, d, it->second});
            continue;
        }
        // Walk the cuts overlapping e.range, keeping the gaps between them.
        auto c = std::lower_bound(cuts.begin(), cuts.end(), e.range.first,
                                  [](const AsnPiece& p, Ip a) { return p.range.last < a; });
        Ip pos = e.range.first;
        bool done = false;
        for (; c != cuts.end() && c->range.first <= e.range.last && !done; ++c) {
            if (pos < c->range.first) out.kept.push_back({Range{pos, ip_prev(c->range.first)}, e.entry, e.row, e.asn});
            const Ip cut_end = std::min(c->range.last, e.range.last);
            out.excluded.push_back({Range{std::max(pos, c->range.first), cut_end}, d, c->row});
            if (cut_end == e.range.last) done = true;
            else pos = ip_next(cut_end);
        }
        if (!done) out.kept.push_back({Range{pos, e.range.last}, e.entry, e.row, e.asn});
    }
    return out;
}

}  // namespace anondb::builder
