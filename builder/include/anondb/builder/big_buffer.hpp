// BigAllocator: an allocator for the build's few very large arrays (the
// parsed inputs, large scratch), backed by transparent huge pages.
//
// Why: a build touches hundreds of MB of fresh memory, and with 4 KiB pages
// the first touch of each page is a page fault. Measured on a 2-core
// Firecracker VM (Zen 5, THP in "madvise" mode), 240 MB: 4 KiB pages
// faulted in by memset, 0.6 s (2.5 ms per MB); mapped with
// madvise(MADV_HUGEPAGE) and filled in one madvise(MADV_POPULATE_WRITE),
// 11-13 ms when the guest reuses memory it touched before, and 0.27-0.31 s
// when the host has to back it first (a fresh process, after free page
// reporting gave freed memory back).
//
// Use it as `std::vector<T, BigAllocator<T>>`. Allocations of kMinBytes and
// more are their own mapping: 2 MiB aligned, advised huge, and populated, so
// the WHOLE allocation is resident from the start, not just the part used;
// reserve() what will be used, not a generous bound. Smaller allocations go
// to operator new, so a vector that stays small costs nothing extra. Where
// the kernel refuses the advice (no THP, a kernel before 5.14 for
// MADV_POPULATE_WRITE) the mapping is plain anonymous memory, faulted in
// on first touch: slower, never wrong. A failed mmap throws std::bad_alloc.
// POSIX mmap; the advice is Linux's, left out where the headers lack it.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <new>

namespace anondb::builder {

namespace big_buffer_detail {

inline constexpr std::size_t kHugePage = std::size_t{2} << 20;  // x86-64 and arm64 (4 KiB base pages)

inline std::size_t mapped_size(std::size_t bytes) noexcept { return (bytes + kHugePage - 1) & ~(kHugePage - 1); }

// A mapping of `size` bytes (a multiple of kHugePage) at a 2 MiB boundary:
// THP only backs aligned 2 MiB pieces of a mapping, and mmap aligns to 4 KiB.
// Maps one huge page more and unmaps the unaligned head and tail.
inline void* map_huge(std::size_t size) {
    const std::size_t span = size + kHugePage;
    void* const raw = ::mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) throw std::bad_alloc();
    const auto begin = reinterpret_cast<std::uintptr_t>(raw);
    const std::uintptr_t aligned = (begin + kHugePage - 1) & ~(std::uintptr_t{kHugePage} - 1);
    if (aligned != begin) ::munmap(raw, aligned - begin);
    if (const std::uintptr_t tail = begin + span - (aligned + size); tail != 0)
        ::munmap(reinterpret_cast<void*>(aligned + size), tail);
    void* const p = reinterpret_cast<void*>(aligned);
    // Both are advice: when refused, the memory is still there.
#ifdef MADV_HUGEPAGE
    (void)::madvise(p, size, MADV_HUGEPAGE);
#endif
#ifdef MADV_POPULATE_WRITE
    (void)::madvise(p, size, MADV_POPULATE_WRITE);
#endif
    return p;
}

}  // namespace big_buffer_detail

template <class T>
class BigAllocator {
public:
    using value_type = T;
    // From this size on, an allocation is its own huge-page mapping (rounded
    // up to 2 MiB). Below, most of the mapping would be waste.
    static constexpr std::size_t kMinBytes = std::size_t{1} << 20;

    BigAllocator() noexcept = default;
    template <class U>
    BigAllocator(const BigAllocator<U>&) noexcept {}

    T* allocate(std::size_t n) {
        if (n > std::numeric_limits<std::size_t>::max() / sizeof(T)) throw std::bad_array_new_length();
        const std::size_t bytes = n * sizeof(T);
        // Rounding up and the extra page for alignment must not wrap.
        if (bytes > std::numeric_limits<std::size_t>::max() - 2 * big_buffer_detail::kHugePage) throw std::bad_alloc();
        if (bytes < kMinBytes) return static_cast<T*>(::operator new(bytes, std::align_val_t{alignof(T)}));
        return static_cast<T*>(big_buffer_detail::map_huge(big_buffer_detail::mapped_size(bytes)));
    }

    void deallocate(T* p, std::size_t n) noexcept {
        const std::size_t bytes = n * sizeof(T);
        if (bytes < kMinBytes) {
            ::operator delete(p, std::align_val_t{alignof(T)});
            return;
        }
        ::munmap(p, big_buffer_detail::mapped_size(bytes));
    }

    // Stateless: any two allocators can free each other's memory.
    template <class U>
    friend bool operator==(const BigAllocator&, const BigAllocator<U>&) noexcept {
        return true;
    }
};

}  // namespace anondb::builder
