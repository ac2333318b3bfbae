// Merge with provenance: one sweep over the inputs sorted by start address.
//
// The sweep keeps the "active" inputs (those covering the current address)
// in a small vector sorted by origin id. The active set only changes where an
// input starts or just after one ends, so between two such points every
// address has the same covering inputs: that piece is one candidate output
// range. One scan of the active set gives its categories, provider, sorted
// origin list and the next end point. A piece costs O(active), the same order
// as writing its provenance list, so the whole merge is O(n log n + output).
//
// Inputs are mostly disjoint small blocks, so the active set is usually one or
// two entries; all buffers are reused, nothing is allocated per range.
#include "anondb/builder/merge.hpp"

#include <algorithm>
#include <cstddef>
#include <limits>
#include <stdexcept>
#include <utility>

namespace anondb::builder {
namespace {

// A hint to start loading memory that is about to be read at random.
inline void fetch_ahead(const void* p) noexcept {
#if defined(__GNUC__) || defined(__clang__)
    __builtin_prefetch(p);
#else
    (void)p;
#endif
}

// a - b for a >= b, in the 128-bit space.
constexpr Ip ip_sub(Ip a, Ip b) noexcept {
    return Ip{a.hi - b.hi - (a.lo < b.lo ? 1u : 0u), a.lo - b.lo};
}

// Input indices ordered by start address. Most inputs are IPv4, and their
// start fits in 32 bits: those are radix-sorted as packed 64-bit keys
// (start << 32 | index), several times faster than a comparison sort on
// 128-bit starts. The rest are sorted as (start, index) pairs. The
// IPv4-mapped block is contiguous, so the full order is: other starts below
// it, IPv4 starts, other starts above it.
std::vector<std::uint32_t> order_by_start(std::span<const MergeInput> inputs) {
    struct Wide {
        Ip first;
        std::uint32_t index;
    };
    std::vector<std::uint64_t> v4;
    std::vector<Wide> wide;
    v4.reserve(inputs.size());
    for (std::size_t i = 0; i < inputs.size(); ++i) {
        const Ip first = inputs[i].range.first;
        const auto index = static_cast<std::uint32_t>(i);
        if (first.is_v4())
            v4.push_back(std::uint64_t{first.v4()} << 32 | index);
        else
            wide.push_back(Wide{first, index});
    }

    // LSD radix sort on the top 32 bits, three passes of 11 bits. Stable, so
    // equal starts keep index order (any order would do, see merge()).
    constexpr int kBits = 11;
    constexpr std::size_t kBuckets = std::size_t{1} << kBits;
    std::vector<std::uint64_t> tmp(v4.size());
    std::vector<std::size_t> count(kBuckets);
    for (int shift = 32; shift < 64; shift += kBits) {
        const auto digit = [shift](std::uint64_t k) { return (k >> shift) & (kBuckets - 1); };
        std::ranges::fill(count, 0);
        for (std::uint64_t k : v4) ++count[digit(k)];
        std::size_t sum = 0;
        for (std::size_t& c : count) sum += std::exchange(c, sum);
        for (std::uint64_t k : v4) tmp[count[digit(k)]++] = k;
        v4.swap(tmp);
    }
    tmp = {};

    std::sort(wide.begin(), wide.end(), [](const Wide& a, const Wide& b) { return a.first < b.first; });
    const auto below = std::ranges::partition_point(wide, [](const Wide& w) { return w.first < kV4First; });

    std::vector<std::uint32_t> order;
    order.reserve(inputs.size());
    for (auto it = wide.begin(); it != below; ++it) order.push_back(it->index);
    for (std::uint64_t k : v4) order.push_back(static_cast<std::uint32_t>(k));
    for (auto it = below; it != wide.end(); ++it) order.push_back(it->index);
    return order;
}

// An input covering the current address.
struct Active {
    Ip last;
    Ip width;  // last - first, for the "narrowest provider" rule
    std::uint32_t origin;
    std::uint32_t categories;
    std::uint32_t provider;
    std::uint32_t asn;
};

// Stores each distinct provenance list once in the MergedSet, numbered in
// order of first appearance.
//
// Most lists hold one origin: those are found through an array indexed by
// origin id (origin ids are dense table indexes, and along the sweep they
// tend to be close to each other). Longer lists go through an open-addressing
// table of (hash, id) pairs, so a probe compares list content only on a hash
// match.
class ListInterner {
public:
    ListInterner(MergedSet& out, std::uint32_t max_origin, std::size_t n_inputs) : out_(out), slots_(1024) {
        // The array costs 4 bytes per possible origin id: skip it for sparse ids.
        if (std::size_t{max_origin} <= 4 * n_inputs + 65536) single_.resize(std::size_t{max_origin} + 1);
    }

    // Hint that {origin} may be looked up soon: the array is read at random.
    void prefetch(std::uint32_t origin) const noexcept {
        if (origin < single_.size()) fetch_ahead(&single_[origin]);
    }

    std::uint32_t intern(const std::vector<std::uint32_t>& list) {
        if (list.size() == 1 && !single_.empty()) {
            std::uint32_t& id_plus_1 = single_[list[0]];
            if (id_plus_1 == 0) id_plus_1 = add(list) + 1;
            return id_plus_1 - 1;
        }
        const std::uint32_t h = hash(list);
        const std::size_t mask = slots_.size() - 1;
        std::size_t s = h & mask;
        for (; slots_[s].id_plus_1 != 0; s = (s + 1) & mask) {
            const Slot slot = slots_[s];
            if (slot.hash == h && std::ranges::equal(out_.list(slot.id_plus_1 - 1), list))
                return slot.id_plus_1 - 1;
        }
        const std::uint32_t id = add(list);
        slots_[s] = Slot{h, id + 1};
        if (2 * ++used_ > slots_.size()) grow();  // keep the load at most 1/2
        return id;
    }

private:
    struct Slot {
        std::uint32_t hash = 0;
        std::uint32_t id_plus_1 = 0;  // 0 = empty
    };

    std::uint32_t add(const std::vector<std::uint32_t>& list) {
        const auto id = static_cast<std::uint32_t>(out_.list_offsets.size() - 1);
        out_.list_origins.insert(out_.list_origins.end(), list.begin(), list.end());
        out_.list_offsets.push_back(static_cast<std::uint32_t>(out_.list_origins.size()));
        return id;
    }

    static std::uint32_t hash(const std::vector<std::uint32_t>& list) noexcept {
        std::uint64_t h = 0x9e3779b97f4a7c15ull ^ list.size();
        for (std::uint32_t x : list) {
            h = (h ^ x) * 0xbf58476d1ce4e5b9ull;
            h ^= h >> 29;
        }
        h *= 0x94d049bb133111ebull;
        return static_cast<std::uint32_t>(h >> 32);
    }

    void grow() {
        std::vector<Slot> old(slots_.size() * 2);
        old.swap(slots_);
        const std::size_t mask = slots_.size() - 1;
        for (const Slot& slot : old) {
            if (slot.id_plus_1 == 0) continue;
            std::size_t s = slot.hash & mask;
            while (slots_[s].id_plus_1 != 0) s = (s + 1) & mask;
            slots_[s] = slot;
        }
    }

    MergedSet& out_;
    std::vector<std::uint32_t> single_;  // origin -> id + 1 of the list {origin}
    std::vector<Slot> slots_;            // size is a power of two
    std::size_t used_ = 0;
};

// Appends a piece, extending the previous range instead when they touch and
// carry the same attributes (the provenance index stands for the list, since
// lists are interned).
void emit(MergedSet& out, Range r, std::uint32_t categories, std::uint32_t provider, std::uint32_t asn,
          std::uint32_t provenance) {
    if (!out.ranges.empty()) {
        MergedRange& prev = out.ranges.back();
        // prev.last < r.first, so ip_next cannot wrap here.
        if (ip_next(prev.range.last) == r.first && prev.categories == categories &&
            prev.provider == provider && prev.asn == asn && prev.provenance == provenance) {
            prev.range.last = r.last;
            return;
        }
    }
    out.ranges.push_back(MergedRange{r, categories, provider, asn, provenance});
}

}  // namespace

MergedSet merge(std::span<const MergeInput> inputs) {
    MergedSet out;
    if (inputs.empty()) return out;
    // Input indexes are stored as 32 bits.
    if (inputs.size() > std::numeric_limits<std::uint32_t>::max()) throw std::length_error("merge: too many inputs");

    const std::vector<std::uint32_t> order = order_by_start(inputs);
    const std::size_t n = order.size();
    const auto start_of = [&](std::size_t k) { return inputs[order[k]].range.first; };

    std::uint32_t max_origin = 0;
    for (const MergeInput& in : inputs) max_origin = std::max(max_origin, in.origin);

    // n inputs cut the space into at most 2n - 1 pieces, so these two never
    // reallocate (a doubling copy would be the peak of memory use); the
    // untouched tail of a large reservation costs address space, not RSS.
    // Mostly disjoint inputs give about one origin per piece.
    out.ranges.reserve(2 * n - 1);
    out.list_offsets.reserve(2 * n);
    out.list_origins.reserve(n);
    ListInterner lists(out, max_origin, n);

    std::vector<Active> active, incoming, merged;  // reused for every piece
    std::vector<std::uint32_t> list, prev_list;
    std::uint32_t prev_list_id = 0;
    const auto by_origin = [](const Active& a, const Active& b) { return a.origin < b.origin; };

    std::size_t next = 0;  // first start not yet in the active set
    Ip p{};                // start of the current piece
    while (true) {
        if (active.empty()) {
            if (next == n) break;
            p = start_of(next);  // jump over the uncovered gap
        }

        // Add every input starting at p, in origin order. The order among
        // entries of one origin is left to chance, but no result depends on it.
        incoming.clear();
        for (; next < n && start_of(next) == p; ++next) {
            // The sorted order reads the inputs, and the interner's array, at
            // random: fetch ahead, in two stages (an input, then its origin's slot).
            if (next + 16 < n) fetch_ahead(&inputs[order[next + 16]]);
            if (next + 8 < n) lists.prefetch(inputs[order[next + 8]].origin);
            const MergeInput& in = inputs[order[next]];
            incoming.push_back(Active{in.range.last, ip_sub(in.range.last, in.range.first),
                                      in.origin, in.categories, in.provider, in.asn});
        }
        if (!incoming.empty()) {
            std::sort(incoming.begin(), incoming.end(), by_origin);
            if (active.empty()) {
                active.swap(incoming);
            } else {
                merged.clear();
                std::merge(active.begin(), active.end(), incoming.begin(), incoming.end(),
                           std::back_inserter(merged), by_origin);
                active.swap(merged);
            }
        }

        // One scan: attributes of the piece and where the first active input ends.
        std::uint32_t categories = 0;
        std::uint32_t provider = 0;
        Ip provider_width{};
        bool provider_derived = false;
        std::uint32_t asn = 0;
        Ip asn_width{};
        Ip min_last = kIpMax;
        list.clear();
        for (const Active& a : active) {
            categories |= a.categories;
            min_last = std::min(min_last, a.last);
            if (list.empty() || list.back() != a.origin) list.push_back(a.origin);
            // A direct entry (no AS) names the provider before an ASN-derived one.
            const bool derived = a.asn != 0;
            if (a.provider != 0 &&
                (provider == 0 || derived < provider_derived ||
                 (derived == provider_derived &&
                  (a.width < provider_width || (a.width == provider_width && a.provider < provider))))) {
                provider = a.provider;
                provider_width = a.width;
                provider_derived = derived;
            }
            if (a.asn != 0 && (asn == 0 || a.width < asn_width || (a.width == asn_width && a.asn < asn))) {
                asn = a.asn;
                asn_width = a.width;
            }
        }

        // The piece ends where the first active input ends or just before the
        // next start, whichever comes first. The next start is above p, so
        // ip_prev cannot wrap.
        Ip last = min_last;
        if (next < n && start_of(next) <= last) last = ip_prev(start_of(next));

        // Consecutive pieces often share a list (touching inputs of one
        // origin, such as the adjacent prefixes of an ASN): skip the lookup.
        if (out.ranges.empty() || list != prev_list) {
            prev_list_id = lists.intern(list);
            prev_list.swap(list);
        }
        emit(out, Range{p, last}, categories, provider, asn, prev_list_id);

        if (last == kIpMax) break;  // the top of the space: last + 1 would wrap
        p = ip_next(last);
        std::erase_if(active, [&](const Active& a) { return a.last < p; });
    }
    return out;
}

}  // namespace anondb::builder
