// Merge: sort the inputs into evidence order, then one sweep over them gives
// each output range its attributes.
//
// The sweep keeps the "active" inputs (those covering the current address).
// The active set only changes where an input starts or just after one ends,
// so between two such points every address has the same attributes: that
// piece is one candidate output range, and it extends the range before it
// when the two touch and carry the same attributes. The active set is three
// heaps with lazy deletion: the ends (the next end point, and the categories
// to take away when an input ends), the inputs naming a provider and those
// naming an AS (strongest claim first); categories are counted per bit, so
// their OR needs no scan. Each input enters and leaves each heap once:
// O(n log n) however deeply wide inputs nest. Inputs are mostly disjoint
// small blocks inside a few wide ones, so the heaps hold a handful of
// entries.
//
// Where the time goes is memory, not arithmetic: a random DRAM access costs
// as much as handling several inputs, and so does the first touch of fresh
// memory (measured in the 2-core Firecracker VM: 2.5 ms per MB with 4 KiB
// pages, about 1.2 ms per MB with huge pages the host has not backed yet).
// So the sort moves compact records in sequential passes inside the inputs'
// own memory (InPlaceSort: no scratch array, no random read per input),
// IPv4 is swept as 32-bit addresses, touching pieces with equal attributes
// are joined in the sweep's own variables before anything is stored, and
// the ranges go to the sink a batch at a time, never kept.
// bench/build_bench, 5M random IPv4 CIDRs (240 MB of inputs): the merge that
// built provenance lists took 2.1 s; this one takes 0.25 s (sort 0.15 s,
// sweep 0.10 s).
#include "anondb/builder/merge.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstring>
#include <new>
#include <optional>
#include <stdexcept>
#include <tuple>
#include <utility>

#include "anondb/builder/big_buffer.hpp"

namespace anondb::builder {

bool evidence_less(const MergeInput& a, const MergeInput& b) noexcept {
    if (a.range.first != b.range.first) return a.range.first < b.range.first;
    if (a.range.last != b.range.last) return b.range.last < a.range.last;
    return a.origin < b.origin;
}

namespace {

// Evidence order, then the remaining fields: inputs that evidence order
// ties (same range and origin, other attributes) still land in one order,
// so the sorted inputs, not only the ranges, depend on the multiset alone.
bool sort_less(const MergeInput& a, const MergeInput& b) noexcept {
    return std::tie(a.range.first, b.range.last, a.origin, a.categories, a.provider, a.asn) <
           std::tie(b.range.first, a.range.last, b.origin, b.categories, b.provider, b.asn);
}

// ---- sort --------------------------------------------------------------------

// An input inside the IPv4-mapped block, as the sort moves it.
struct V4Input {
    std::uint32_t first, last, origin, categories, provider, asn;
};

// sort_less for records with the same start.
bool same_start_less(const V4Input& a, const V4Input& b) noexcept {
    return std::tie(b.last, a.origin, a.categories, a.provider, a.asn) <
           std::tie(a.last, b.origin, b.categories, b.provider, b.asn);
}

// Sorts the inputs in place by sort_less. Inputs inside the IPv4-mapped
// block (nearly all of them) are sorted as 24-byte V4Input records in the
// inputs' own memory, which has room for two records an input: no scratch
// array, so no fresh memory to fault in (240 MB for 5M inputs), and only
// sequential passes:
//   1. compact: each IPv4 input becomes a record in the lower half; record k
//      is written while input i >= k is read and ends at byte 24 (k + 1) <=
//      48 i, where input i starts (input 0 is copied before its record is
//      written over it): nothing unread is overwritten. The other inputs
//      are copied out, and the digit counts of every pass taken;
//   2. an LSD radix sort on the 32-bit start, 8 bits a pass, stable, from
//      one half to the other; a pass whose digit is the same in every record
//      is skipped; the records end in the lower half;
//   3. each run of equal starts is sorted by the rest of the order (runs
//      are rare and short);
//   4. expand: from the top down, the records and the sorted other inputs
//      are merged back into inputs (see expand()).
// build_bench, 5M inputs: four 8-bit passes took 0.12 s, three 11-bit ones
// (2048 write streams) and a copy back to the lower half 0.15 s, two 16-bit
// ones 0.10 s but with 1 MiB of counts.
// The records live in bytes that held inputs, so they are copied in and out
// with memcpy: well-defined for reused storage, and plain moves once compiled.
class InPlaceSort {
public:
    explicit InPlaceSort(std::span<MergeInput> inputs)
        : inputs_(inputs),
          lower_(reinterpret_cast<std::byte*>(inputs.data())),
          upper_(lower_ + inputs.size() * kRecord) {}

    // Returns whether an input outside the IPv4-mapped block overlaps it.
    bool run() {
        // Every allocation comes before the first write to the inputs: if
        // one fails, they are left as they were.
        std::size_t n_others = 0;
        bool overlaps_block = false;
        for (const MergeInput& in : inputs_) {
            if (is_v4(in)) continue;
            ++n_others;
            overlaps_block = overlaps_block || (in.range.first <= kV4Last && in.range.last >= kV4First);
        }
        others_.reserve(n_others);
        compact();
        std::sort(others_.begin(), others_.end(), sort_less);
        radix_sort();
        sort_equal_starts();
        expand();
        return overlaps_block;
    }

private:
    static constexpr std::size_t kRecord = sizeof(V4Input);
    static_assert(2 * kRecord <= sizeof(MergeInput), "two records must fit in the memory of one input");
    static constexpr std::size_t kPasses = 4;
    static constexpr std::size_t kBuckets = 256;
    static constexpr std::size_t digit(std::uint32_t a, std::size_t pass) noexcept { return (a >> (8 * pass)) & 0xff; }

    static V4Input get(const std::byte* area, std::size_t i) noexcept {
        V4Input x;
        std::memcpy(&x, area + i * kRecord, kRecord);
        return x;
    }
    static void put(std::byte* area, std::size_t i, const V4Input& x) noexcept {
        std::memcpy(area + i * kRecord, &x, kRecord);
    }
    static MergeInput input(const V4Input& x) noexcept {
        return MergeInput{Range{Ip::from_v4(x.first), Ip::from_v4(x.last)}, x.origin, x.categories, x.provider, x.asn};
    }

    static bool is_v4(const MergeInput& in) noexcept { return in.range.first.is_v4() && in.range.last.is_v4(); }

    void compact() {
        for (const MergeInput& at : inputs_) {
            const MergeInput in = at;  // a copy: the first record is written over the first input
            if (!is_v4(in)) {
                others_.push_back(in);
                continue;
            }
            const V4Input x{in.range.first.v4(), in.range.last.v4(), in.origin, in.categories, in.provider, in.asn};
            for (std::size_t pass = 0; pass < kPasses; ++pass) ++counts_[pass][digit(x.first, pass)];
            put(lower_, n_++, x);
        }
    }

    void radix_sort() {
        std::byte *from = lower_, *to = upper_;
        for (std::size_t pass = 0; pass < kPasses; ++pass) {
            const auto& count = counts_[pass];
            if (std::ranges::any_of(count, [this](std::size_t c) { return c == n_; })) continue;
            std::array<std::size_t, kBuckets> at;
            std::size_t sum = 0;
            for (std::size_t k = 0; k < kBuckets; ++k) at[k] = std::exchange(sum, sum + count[k]);
            for (std::size_t i = 0; i < n_; ++i) {
                const V4Input x = get(from, i);
                put(to, at[digit(x.first, pass)]++, x);
            }
            std::swap(from, to);
        }
        // After an odd number of passes (some skipped): the halves do not
        // overlap, the upper one starts at byte 24 n.
        if (from != lower_) std::memcpy(lower_, from, n_ * kRecord);
    }

    // In place: memcpy made the records objects of their own (C++20,
    // implicit object creation), which std::launder reaches.
    void sort_equal_starts() {
        V4Input* const records = std::launder(reinterpret_cast<V4Input*>(lower_));
        for (std::size_t i = 0; i < n_;) {
            std::size_t j = i + 1;
            while (j < n_ && records[j].first == records[i].first) ++j;
            if (j - i > 1) std::sort(records + i, records + j, same_start_less);
            i = j;
        }
    }

    // From the top down, the greater of the last unplaced record and the
    // last unplaced other input goes to the top free place. With k records
    // and w others unplaced, that place is pos = k + w - 1, at byte 48 pos;
    // the records not read yet end at byte 24 k, or 24 (k - 1) when the
    // record just read is the one placed. A record is placed at pos >= k - 1
    // (48 (k - 1) >= 24 (k - 1)) and an other input at pos >= k (48 k >=
    // 24 k): a write never reaches a record not read yet.
    void expand() {
        std::size_t k = n_, w = others_.size();
        for (std::size_t pos = inputs_.size(); pos-- > 0;) {
            MergeInput next;
            if (w > 0 && (k == 0 || sort_less(input(get(lower_, k - 1)), others_[w - 1])))
                next = others_[--w];
            else
                next = input(get(lower_, --k));
            ::new (static_cast<void*>(inputs_.data() + pos)) MergeInput(next);
        }
    }

    std::span<MergeInput> inputs_;
    std::byte* const lower_;  // records 0 .. n_ - 1 of the sort
    std::byte* const upper_;  // where each other radix pass writes
    std::size_t n_ = 0;       // IPv4 inputs
    std::vector<MergeInput, BigAllocator<MergeInput>> others_;
    std::array<std::array<std::size_t, kBuckets>, kPasses> counts_{};
};

// ---- sweep -------------------------------------------------------------------

// The sweep runs on one address type: inputs inside the IPv4-mapped block
// as 32-bit addresses (cheaper to compare, step and carry), everything else
// as Ip. Each type says how to read an input, step and measure.
struct V4 {
    using Addr = std::uint32_t;
    static constexpr Addr kMax = 0xffffffffu;
    static constexpr Addr first(const MergeInput& in) noexcept { return in.range.first.v4(); }
    static constexpr Addr last(const MergeInput& in) noexcept { return in.range.last.v4(); }
    static constexpr Addr next(Addr a) noexcept { return a + 1; }
    static constexpr Addr prev(Addr a) noexcept { return a - 1; }
    static constexpr Addr width(const MergeInput& in) noexcept { return last(in) - first(in); }
    static constexpr Ip ip(Addr a) noexcept { return Ip::from_v4(a); }
};
struct Wide {
    using Addr = Ip;
    static constexpr Addr kMax = kIpMax;
    static constexpr Addr first(const MergeInput& in) noexcept { return in.range.first; }
    static constexpr Addr last(const MergeInput& in) noexcept { return in.range.last; }
    static constexpr Addr next(Addr a) noexcept { return ip_next(a); }
    static constexpr Addr prev(Addr a) noexcept { return ip_prev(a); }
    // last - first, in the 128-bit space.
    static constexpr Addr width(const MergeInput& in) noexcept {
        const Ip a = in.range.last, b = in.range.first;
        return Ip{a.hi - b.hi - (a.lo < b.lo ? 1u : 0u), a.lo - b.lo};
    }
    static constexpr Ip ip(Addr a) noexcept { return a; }
};

// What a lookup answers for an address (merge.hpp).
struct Attributes {
    std::uint32_t categories = 0;
    std::uint32_t provider = 0;
    std::uint32_t asn = 0;
    friend bool operator==(const Attributes&, const Attributes&) = default;
};

// Where the sweeps' ranges go, in address order: hands them to the sink a
// batch at a time. The sweeps run one after another (below the IPv4-mapped
// block, in it, above it), so the last range of one can still grow with the
// first of the next.
class Output {
public:
    // n inputs make at most 2n - 1 ranges: a small merge needs no full batch.
    Output(const RangeSink& sink, std::size_t n_inputs) : sink_(sink) { ranges_.reserve(std::min(kBatch, 2 * n_inputs)); }

    void range(Ip first, Ip last, const Attributes& a) {
        if (!ranges_.empty()) {
            MergedRange& prev = ranges_.back();
            // prev ends below first, so ip_next cannot wrap here.
            if (prev.categories == a.categories && prev.provider == a.provider && prev.asn == a.asn &&
                ip_next(prev.range.last) == first) {
                prev.range.last = last;
                return;
            }
            // A range that does not extend the last one makes it final.
            if (ranges_.size() == kBatch) {
                sink_(ranges_);
                ranges_.clear();
            }
        }
        ranges_.push_back(MergedRange{Range{first, last}, a.categories, a.provider, a.asn});
    }

    void finish() {
        if (!ranges_.empty()) sink_(ranges_);
        ranges_.clear();
    }

private:
    static constexpr std::size_t kBatch = 4096;
    const RangeSink& sink_;
    std::vector<MergedRange> ranges_;
};

// One sweep over inputs sorted by start (see the top of the file).
template <class A>
class Sweep {
public:
    using Addr = typename A::Addr;

    explicit Sweep(Output& out) : out_(out) {}

    void run(std::span<const MergeInput> inputs) {
        const std::size_t n = inputs.size();
        std::size_t next = 0;  // first input not yet active
        Addr p{};              // start of the current piece
        while (true) {
            if (ends_.empty()) {
                hand_over_run();
                if (next == n) break;
                p = A::first(inputs[next]);  // jump over the uncovered gap
            }
            for (; next < n && A::first(inputs[next]) == p; ++next) add(inputs[next]);

            // The piece ends where the first active input ends or just
            // before the next start, whichever comes first. The next start
            // is above p, so prev cannot wrap.
            Addr last = ends_.front().last;
            if (next < n && A::first(inputs[next]) <= last) last = A::prev(A::first(inputs[next]));
            const Attributes a{categories_, best(providers_, p), best(asns_, p)};
            // Pieces follow each other without a gap until the active set
            // empties, so this one touches the run.
            if (run_ && run_->attributes == a) {
                run_->last = last;
            } else {
                hand_over_run();
                run_ = Run{p, last, a};
            }

            if (last == A::kMax) {  // the top of the space: last + 1 would wrap
                hand_over_run();
                break;
            }
            p = A::next(last);
            while (!ends_.empty() && ends_.front().last < p) drop_first_end();
        }
    }

private:
    struct End {
        Addr last;
        std::uint32_t categories;
    };
    // An input naming a provider or an AS, and how strongly: lower rank
    // first (for providers, direct before derived), then narrower, then the
    // lower id.
    struct Claim {
        std::uint32_t rank;
        Addr width;
        std::uint32_t id;
        Addr last;
    };
    // Pieces touching each other with the same attributes, not handed over
    // yet. Output would join them too, but a call and 128-bit arithmetic a
    // piece cost half the sweep (build_bench: sweep 0.20 s -> 0.09 s).
    struct Run {
        Addr first, last;
        Attributes attributes;
    };

    // Heap orders (std heaps keep the greatest at the front): the earliest
    // end; the strongest claim.
    static bool ends_later(const End& a, const End& b) noexcept { return b.last < a.last; }
    static bool weaker(const Claim& a, const Claim& b) noexcept {
        return std::tie(b.rank, b.width, b.id) < std::tie(a.rank, a.width, a.id);
    }

    void add(const MergeInput& in) {
        ends_.push_back(End{A::last(in), in.categories});
        std::push_heap(ends_.begin(), ends_.end(), ends_later);
        for (std::uint32_t bits = in.categories; bits != 0; bits &= bits - 1)
            if (category_count_[std::countr_zero(bits)]++ == 0) categories_ |= bits & -bits;
        if (in.provider != 0) {
            // A direct entry (no AS) names the provider before an ASN-derived one.
            providers_.push_back(Claim{in.asn != 0 ? 1u : 0u, A::width(in), in.provider, A::last(in)});
            std::push_heap(providers_.begin(), providers_.end(), weaker);
        }
        if (in.asn != 0) {
            asns_.push_back(Claim{0, A::width(in), in.asn, A::last(in)});
            std::push_heap(asns_.begin(), asns_.end(), weaker);
        }
    }

    void drop_first_end() {
        std::pop_heap(ends_.begin(), ends_.end(), ends_later);
        for (std::uint32_t bits = ends_.back().categories; bits != 0; bits &= bits - 1)
            if (--category_count_[std::countr_zero(bits)] == 0) categories_ &= ~(bits & -bits);
        ends_.pop_back();
    }

    // The strongest claim of an input still covering p: claims of inputs
    // that ended are dropped when they come to the front.
    static std::uint32_t best(std::vector<Claim>& heap, Addr p) {
        while (!heap.empty() && heap.front().last < p) {
            std::pop_heap(heap.begin(), heap.end(), weaker);
            heap.pop_back();
        }
        return heap.empty() ? 0 : heap.front().id;
    }

    void hand_over_run() {
        if (run_) out_.range(A::ip(run_->first), A::ip(run_->last), run_->attributes);
        run_.reset();
    }

    Output& out_;
    std::optional<Run> run_;
    std::vector<End> ends_;
    std::vector<Claim> providers_, asns_;
    std::array<std::uint32_t, 32> category_count_{};  // active inputs per category bit
    std::uint32_t categories_ = 0;                     // the bits with a count
};

template <class A>
void sweep(std::span<const MergeInput> inputs, Output& out) {
    Sweep<A>(out).run(inputs);
}

}  // namespace

void merge(std::span<MergeInput> inputs, const RangeSink& sink) {
    if (inputs.size() > std::size_t{0xffff'fffeu}) throw std::length_error("merge: more than 2^32 - 2 inputs");
    if (inputs.empty()) return;
    const bool overlaps_block = InPlaceSort(inputs).run();

    // The inputs inside the IPv4-mapped block are swept as 32-bit addresses,
    // the others below and above it apart. When one of the others overlaps
    // the block, the block is no sweep of its own: everything is Wide.
    const std::span<const MergeInput> all = inputs;
    Output out(sink, inputs.size());
    if (overlaps_block) {
        sweep<Wide>(all, out);
    } else {
        const auto starting_below = [&all](Ip a) {
            const auto it = std::ranges::partition_point(all, [a](const MergeInput& in) { return in.range.first < a; });
            return static_cast<std::size_t>(it - all.begin());
        };
        const std::size_t v4_begin = starting_below(kV4First), v4_end = starting_below(ip_next(kV4Last));
        sweep<Wide>(all.first(v4_begin), out);
        sweep<V4>(all.subspan(v4_begin, v4_end - v4_begin), out);
        sweep<Wide>(all.subspan(v4_end), out);
    }
    out.finish();
}

std::vector<MergedRange> merge(std::span<MergeInput> inputs) {
    std::vector<MergedRange> ranges;
    // n inputs cut the space into at most 2n - 1 pieces, so this never
    // reallocates (a doubling copy would be the peak of memory use); the
    // untouched tail of a large reservation costs address space, not RSS.
    if (!inputs.empty()) ranges.reserve(2 * inputs.size() - 1);
    merge(inputs, [&](std::span<const MergedRange> batch) { ranges.insert(ranges.end(), batch.begin(), batch.end()); });
    return ranges;
}

}  // namespace anondb::builder
