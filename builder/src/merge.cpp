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
// Where the time goes is memory, not arithmetic: a random DRAM access costs
// about as much as a whole piece, and so does the first touch of every 4 KiB
// of fresh memory. So the inputs are sorted as compact sweep records, moved
// in sequential passes (no random read per input), IPv4 inputs are swept as
// 32-bit addresses, provenance lists are written once, in order, the
// interning of lists probes its hash table in batches with the probes
// fetched ahead, and the ranges go to a sink a batch at a time instead of
// into one vector (they are the largest thing a merge makes: 48 bytes
// each, 9.7M of them for 5M nested CIDRs).
// bench/build_bench, 5M nested IPv4 CIDRs: merge 2.9 s -> about 1 s.
//
// Inputs are mostly disjoint small blocks, so the active set is usually one or
// two entries; all buffers are reused, nothing is allocated per range.
#include "anondb/builder/merge.hpp"

#include <algorithm>
#include <cstddef>
#include <limits>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace anondb::builder {
namespace {

// A hint to start loading memory that is about to be read at random.
// Forced inline: GCC 12 deletes calls to a function whose only effect is a
// prefetch (see reader.hpp).
[[gnu::always_inline]] inline void fetch_ahead(const void* p) noexcept {
#if defined(__GNUC__) || defined(__clang__)
    __builtin_prefetch(p);
#else
    (void)p;
#endif
}

// The sweep runs on one address type: IPv4 inputs as 32-bit addresses (a
// quarter of the memory of 128-bit ones, and memory is the merge's cost),
// everything else as Ip. Each type says how to step and measure.
struct V4 {
    using Addr = std::uint32_t;
    static constexpr Addr kMax = 0xffffffffu;
    static constexpr Addr next(Addr a) noexcept { return a + 1; }
    static constexpr Addr prev(Addr a) noexcept { return a - 1; }
    static constexpr Addr sub(Addr a, Addr b) noexcept { return a - b; }
    static constexpr Ip ip(Addr a) noexcept { return Ip::from_v4(a); }
};
struct Wide {
    using Addr = Ip;
    static constexpr Addr kMax = kIpMax;
    static constexpr Addr next(Addr a) noexcept { return ip_next(a); }
    static constexpr Addr prev(Addr a) noexcept { return ip_prev(a); }
    // a - b for a >= b, in the 128-bit space.
    static constexpr Addr sub(Addr a, Addr b) noexcept {
        return Ip{a.hi - b.hi - (a.lo < b.lo ? 1u : 0u), a.lo - b.lo};
    }
    static constexpr Ip ip(Addr a) noexcept { return a; }
};

// One input as the sweep reads it.
template <class A>
struct SweepInput {
    typename A::Addr first, last;
    std::uint32_t origin, categories, provider, asn;
};

template <class A>
SweepInput<A> sweep_input(const MergeInput& in) noexcept {
    if constexpr (std::is_same_v<A, V4>)
        return {in.range.first.v4(), in.range.last.v4(), in.origin, in.categories, in.provider, in.asn};
    else
        return {in.range.first, in.range.last, in.origin, in.categories, in.provider, in.asn};
}

// The inputs in order of start address, split by address type: IPv4 inputs
// (inside the IPv4-mapped block), and the others below and above it. Equal
// starts keep input order (any order would do, see merge()).
struct SortedInputs {
    std::vector<SweepInput<Wide>> below, above;
    std::vector<SweepInput<V4>> v4;
};

// IPv4 inputs are radix-sorted on their 32-bit start (LSD, three passes of
// 11 bits, stable). The 24-byte sweep records themselves move, not indexes
// into the inputs: sequential passes, instead of one random read of a
// 48-byte input per element to gather them afterwards (in a VM, a random
// read of a large array costs a miss plus a nested page walk). When an
// input outside the block overlaps it, the block is not a sweep of its own:
// everything is Wide.
SortedInputs sorted_by_start(std::span<const MergeInput> inputs) {
    SortedInputs out;
    bool overlaps_block = false;
    out.v4.reserve(inputs.size());
    for (const MergeInput& in : inputs) {
        const Range& r = in.range;
        if (r.first.is_v4() && r.last.is_v4()) {
            out.v4.push_back(sweep_input<V4>(in));
        } else {
            (r.last < kV4First ? out.below : out.above).push_back(sweep_input<Wide>(in));
            overlaps_block = overlaps_block || (r.first <= kV4Last && r.last >= kV4First);
        }
    }
    const auto by_start = [](const auto& a, const auto& b) { return a.first < b.first; };
    if (overlaps_block) {
        out = {};
        for (const MergeInput& in : inputs) out.below.push_back(sweep_input<Wide>(in));
        std::ranges::stable_sort(out.below, by_start);
        return out;
    }
    constexpr int kBits = 11;
    constexpr std::size_t kBuckets = std::size_t{1} << kBits;
    std::vector<SweepInput<V4>> tmp(out.v4.size());
    std::vector<std::size_t> count(kBuckets);
    for (int shift = 0; shift < 32; shift += kBits) {
        const auto digit = [shift](const SweepInput<V4>& x) { return (x.first >> shift) & (kBuckets - 1); };
        std::ranges::fill(count, 0);
        for (const SweepInput<V4>& x : out.v4) ++count[digit(x)];
        std::size_t sum = 0;
        for (std::size_t& c : count) sum += std::exchange(c, sum);
        for (const SweepInput<V4>& x : out.v4) tmp[count[digit(x)]++] = x;
        out.v4.swap(tmp);
    }
    std::ranges::stable_sort(out.below, by_start);
    std::ranges::stable_sort(out.above, by_start);
    return out;
}

// An input covering the current address.
template <class A>
struct Active {
    typename A::Addr last;
    typename A::Addr width;  // last - first, for the "narrowest provider" rule
    std::uint32_t origin;
    std::uint32_t categories;
    std::uint32_t provider;
    std::uint32_t asn;
};

// Where the sweep's pieces go. Stores each distinct (provenance list,
// attributes) once in the MergedSet, numbered in order of first appearance,
// and hands the ranges to the sink in address order, a batch at a time.
//
// New lists go to a pending batch, behind the lists already stored, and the
// ranges waiting in the buffer carry pending ids. flush() then hashes the
// whole batch and fetches each one's slot of the hash table ahead, so the
// table's random reads overlap instead of costing one DRAM miss per piece;
// it moves each new list down to its place, drops duplicates, renumbers the
// buffered ranges and hands all but the last to the sink (the last may still
// grow). The table holds (hash, id) pairs, so list content is compared only
// on a hash match.
class MergeOutput {
public:
    static constexpr std::uint32_t kPending = 0x8000'0000u;  // id bit: still in the batch
    static constexpr std::size_t kBatch = 1024;              // lists per flush
    static constexpr std::size_t kRangeBatch = 4 * kBatch;   // ranges per flush, at most

    MergeOutput(MergedSet& out, const RangeSink& sink, std::size_t n_inputs) : out_(out), sink_(sink) {
        // About one list per input (5M nested CIDRs: 4.95M lists): start the
        // table where it holds 1.1 lists an input before it grows. Zero-filled
        // here, so touched at once: 8 to 16 bytes an input. (Twice the slots
        // measured slower: the table's pages cost more than its probes save.)
        std::size_t slots = 1024;
        while (slots < n_inputs + n_inputs / 2) slots *= 2;
        slots_.resize(slots);
        // Reserved, not touched: a large reservation costs address space, and
        // saves the copies (and the fresh pages) of doubling. n inputs make at
        // most 2n - 1 lists; nested inputs make the lists longer than one.
        out_.list_offsets.reserve(2 * n_inputs);
        out_.list_origins.reserve(8 * n_inputs);
        out_.list_attributes.reserve(2 * n_inputs);
        pending_offsets_.reserve(kBatch + 1);
        pending_offsets_.push_back(0);
        pending_attributes_.reserve(kBatch);
        ranges_.reserve(kRangeBatch + 1);
    }

    // The pieces that follow carry `list` and `a`, until the next call.
    void new_list(const std::vector<std::uint32_t>& list, ListAttributes a) {
        if (pending_attributes_.size() == kBatch) flush();
        // Offsets are 32 bits (as prov_offsets in the file).
        if (list.size() > std::numeric_limits<std::uint32_t>::max() - out_.list_origins.size())
            throw std::length_error("merge: provenance lists longer than 2^32 origin ids in all");
        out_.list_origins.insert(out_.list_origins.end(), list.begin(), list.end());
        pending_offsets_.push_back(static_cast<std::uint32_t>(out_.list_origins.size() - pending_base()));
        current_ = kPending | static_cast<std::uint32_t>(pending_attributes_.size());
        pending_attributes_.push_back(a);
        attributes_ = a;
    }

    // A piece with the current list: it extends the previous range when they
    // touch and share the list (an id stands for list and attributes).
    void piece(Range r) {
        if (!ranges_.empty()) {
            MergedRange& prev = ranges_.back();
            // prev.last < r.first, so ip_next cannot wrap here.
            if (prev.provenance == current_ && ip_next(prev.range.last) == r.first) {
                prev.range.last = r.last;
                return;
            }
        }
        ranges_.push_back(MergedRange{r, attributes_.categories, attributes_.provider, attributes_.asn, current_});
        if (ranges_.size() > kRangeBatch) flush();
    }

    // Stores the last lists and hands over the last ranges.
    void finish() {
        flush();
        if (!ranges_.empty()) sink_(ranges_);
        ranges_.clear();
    }

private:
    struct Slot {
        std::uint32_t hash = 0;
        std::uint32_t id_plus_1 = 0;  // 0 = empty
    };

    std::size_t pending_base() const noexcept { return out_.list_offsets.back(); }

    void flush() {
        intern_pending();
        for (MergedRange& r : ranges_)
            if (r.provenance & kPending) r.provenance = finals_[r.provenance & ~kPending];
        if (current_ & kPending) current_ = finals_[current_ & ~kPending];
        pending_offsets_.resize(1);
        pending_attributes_.clear();
        if (ranges_.size() > 1) {
            sink_(std::span<const MergedRange>(ranges_).first(ranges_.size() - 1));
            ranges_.front() = ranges_.back();
            ranges_.resize(1);
        }
    }

    // Gives each pending list its stored id, in finals_.
    void intern_pending() {
        const std::size_t n = pending_attributes_.size();
        if (n == 0) return;
        const std::size_t base = pending_base();
        std::uint32_t* const pending = out_.list_origins.data() + base;
        hashes_.resize(n);
        for (std::size_t k = 0; k < n; ++k) {
            hashes_[k] = hash(pending + pending_offsets_[k], pending_offsets_[k + 1] - pending_offsets_[k],
                              pending_attributes_[k]);
            fetch_ahead(&slots_[hashes_[k] & (slots_.size() - 1)]);
        }
        finals_.resize(n);
        std::size_t write = base;  // the stored lists end here; pending ones move down to it
        for (std::size_t k = 0; k < n; ++k) {
            const std::uint32_t* list = pending + pending_offsets_[k];
            const std::uint32_t size = pending_offsets_[k + 1] - pending_offsets_[k];
            const ListAttributes& a = pending_attributes_[k];
            const std::uint32_t h = hashes_[k];
            const std::size_t mask = slots_.size() - 1;
            std::size_t s = h & mask;
            std::uint32_t found = 0;  // id + 1
            for (; slots_[s].id_plus_1 != 0; s = (s + 1) & mask) {
                const Slot slot = slots_[s];
                if (slot.hash == h && equal(slot.id_plus_1 - 1, list, size, a)) {
                    found = slot.id_plus_1;
                    break;
                }
            }
            if (found == 0) {
                const auto id_new = static_cast<std::uint32_t>(out_.list_offsets.size() - 1);
                // write <= the list's position: a forward copy is safe when
                // it is below, and there is nothing to move when it is equal.
                std::uint32_t* const to = out_.list_origins.data() + write;
                if (to != list) std::copy(list, list + size, to);
                write += size;
                out_.list_offsets.push_back(static_cast<std::uint32_t>(write));
                out_.list_attributes.push_back(a);
                slots_[s] = Slot{h, id_new + 1};
                found = id_new + 1;
                ++used_;
            }
            finals_[k] = found - 1;
        }
        out_.list_origins.resize(write);
        if (4 * used_ > 3 * slots_.size()) grow();  // keep the load under 3/4
    }

    bool equal(std::uint32_t id, const std::uint32_t* list, std::uint32_t size, const ListAttributes& a) const {
        if (!(out_.list_attributes[id] == a)) return false;
        const std::uint32_t* stored = out_.list_origins.data() + out_.list_offsets[id];
        return out_.list_offsets[id + 1] - out_.list_offsets[id] == size && std::equal(list, list + size, stored);
    }

    static std::uint32_t hash(const std::uint32_t* list, std::uint32_t size, const ListAttributes& a) noexcept {
        std::uint64_t h = 0x9e3779b97f4a7c15ull ^ size;
        const auto mix = [&h](std::uint64_t x) {
            h = (h ^ x) * 0xbf58476d1ce4e5b9ull;
            h ^= h >> 29;
        };
        mix(std::uint64_t{a.categories} << 32 | a.asn);
        mix(a.provider);
        for (std::uint32_t i = 0; i < size; ++i) mix(list[i]);
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
    const RangeSink& sink_;
    std::vector<Slot> slots_;  // size is a power of two
    std::size_t used_ = 0;
    // The batch: list k is out_.list_origins[pending_base() + pending_offsets_[k] ..
    // pending_base() + pending_offsets_[k + 1]), with pending_attributes_[k].
    std::vector<std::uint32_t> pending_offsets_;
    std::vector<ListAttributes> pending_attributes_;
    std::vector<std::uint32_t> hashes_, finals_;  // of the batch, reused
    std::vector<MergedRange> ranges_;             // not handed over yet; ids may be pending
    std::uint32_t current_ = 0;                   // id of the current list
    ListAttributes attributes_;                   // and its attributes
};

// What one sweep hands the next: the sweeps run in address order, so the
// last piece of one can coalesce with the first of the next.
struct SweepState {
    std::vector<std::uint32_t> list, prev_list;
    ListAttributes prev;
    bool any = false;  // a piece was made
};

// Sweeps {inputs}, sorted by start, handing the pieces to `out`.
template <class A>
void sweep(std::span<const SweepInput<A>> inputs, MergeOutput& out, SweepState& st) {
    using Addr = typename A::Addr;
    std::vector<Active<A>> active;  // in origin order
    std::vector<std::uint32_t>& list = st.list;
    const std::size_t n = inputs.size();
    std::size_t next = 0;  // first input not yet in the active set
    Addr p{};              // start of the current piece
    while (true) {
        if (active.empty()) {
            if (next == n) break;
            p = inputs[next].first;  // jump over the uncovered gap
        }

        // Add every input starting at p, keeping the active set in origin
        // order (usually one input, inserted into a short vector). The order
        // among entries of one origin is left to chance, but no result
        // depends on it.
        for (; next < n && inputs[next].first == p; ++next) {
            const SweepInput<A>& in = inputs[next];
            const Active<A> a{in.last, A::sub(in.last, in.first), in.origin, in.categories, in.provider, in.asn};
            auto at = active.end();
            while (at != active.begin() && (at - 1)->origin > a.origin) --at;
            active.insert(at, a);
        }

        // One scan: attributes of the piece and where the first active input ends.
        std::uint32_t categories = 0;
        std::uint32_t provider = 0;
        Addr provider_width{};
        bool provider_derived = false;
        std::uint32_t asn = 0;
        Addr asn_width{};
        Addr min_last = A::kMax;
        list.clear();
        for (const Active<A>& a : active) {
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
        // prev cannot wrap.
        Addr last = min_last;
        if (next < n && inputs[next].first <= last) last = A::prev(inputs[next].first);

        // Consecutive pieces often share a list (touching inputs of one
        // origin, such as the adjacent prefixes of an ASN): they reuse its id,
        // so touching ranges with the same list and attributes coalesce here.
        const ListAttributes attributes{categories, provider, asn};
        if (!st.any || list != st.prev_list || !(attributes == st.prev)) {
            out.new_list(list, attributes);
            st.prev_list.swap(list);
            st.prev = attributes;
            st.any = true;
        }
        out.piece(Range{A::ip(p), A::ip(last)});

        if (last == A::kMax) break;  // the top of the space: last + 1 would wrap
        p = A::next(last);
        std::erase_if(active, [&](const Active<A>& a) { return a.last < p; });
    }
}

}  // namespace

MergedSet merge(std::span<const MergeInput> inputs, const RangeSink& sink) {
    MergedSet out;
    if (inputs.empty()) return out;
    // Input indexes are stored as 32 bits, and list ids keep a bit for
    // MergeOutput; n inputs make at most 2n - 1 lists.
    if (inputs.size() >= MergeOutput::kPending / 2) throw std::length_error("merge: too many inputs");

    const SortedInputs sorted = sorted_by_start(inputs);
    MergeOutput output(out, sink, inputs.size());
    SweepState state;
    sweep<Wide>(sorted.below, output, state);
    sweep<V4>(sorted.v4, output, state);
    sweep<Wide>(sorted.above, output, state);
    output.finish();
    return out;
}

MergedSet merge(std::span<const MergeInput> inputs) {
    std::vector<MergedRange> ranges;
    // n inputs cut the space into at most 2n - 1 pieces, so this never
    // reallocates (a doubling copy would be the peak of memory use); the
    // untouched tail of a large reservation costs address space, not RSS.
    if (!inputs.empty()) ranges.reserve(2 * inputs.size() - 1);
    MergedSet out = merge(inputs, [&](std::span<const MergedRange> batch) {
        ranges.insert(ranges.end(), batch.begin(), batch.end());
    });
    out.ranges = std::move(ranges);
    return out;
}

}  // namespace anondb::builder
