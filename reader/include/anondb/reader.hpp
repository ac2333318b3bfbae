// anondb reader: open a .anondb file and look addresses up in place.
//
// Header-only, standard library only (plus POSIX mmap to map the file).
// open() validates the header, the section table, and by default every hot
// section's checksum and structure (OpenChecks). Either way lookup() never
// reads outside the file: what a deferred open does not prove is bounded
// where it is read. Provenance (the cold sections) is explain.hpp's. See
// docs/FORMAT.md.
#pragma once

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "anondb/category.hpp"
#include "anondb/error.hpp"
#include "anondb/format.hpp"
#include "anondb/ip.hpp"
#include "anondb/xxh64.hpp"

// The lookup path and the prefetch helpers are inlined into the caller's
// loop whatever the compiler's size heuristics say. GCC 12 left lookup() a
// call in loops, and deleted the calls to the prefetch helpers outright: a
// function whose only effect is a prefetch looked free of side effects to
// it. #undef at the end of this header.
#if defined(__GNUC__) || defined(__clang__)
#define ANONDB_HOT_INLINE [[gnu::always_inline]] inline
#else
#define ANONDB_HOT_INLINE inline
#endif

namespace anondb {

// What lookup() answers for an address: its answer (docs/FORMAT.md).
struct LookupResult {
    std::uint32_t categories = 0;  // Category bits; 0 when not flagged
    std::string_view provider;     // primary provider, "" when none
    std::uint32_t asn = 0;         // AS of the narrowest ASN-derived evidence, 0 when none
    bool flagged = false;          // some evidence covers the address (its answer is not 0)
    bool anonymous() const noexcept { return is_anonymous(categories); }
};

// How much open() proves about a file before the first lookup.
enum class OpenChecks : std::uint8_t {
    // Every hot section: checksums and structure (starts ascending and in
    // their buckets, every id in range, segments maximal, every name inside
    // strings). O(hot sections): about 2 ms for a million segments. The
    // default.
    full,
    // Only what keeps every read inside the file, whatever the bytes: header
    // and section table (with their checksum), section sizes, the index's
    // bounds and order, the first start, answer 0 and the feeds. O(index),
    // well under a millisecond. Lookups on a damaged file stay memory-safe
    // but may answer wrongly until verify() has passed.
    deferred,
};

struct OpenOptions {
    OpenChecks checks = OpenChecks::full;
};

// One segment of the address partition: a maximal run of addresses with
// one answer (0 = not flagged).
struct Segment {
    Range range;
    std::uint32_t answer = 0;
};

class Database {
public:
    // Maps `path` read-only and validates it (see the header comment).
    static Expected<Database> open(const std::string& path, OpenOptions options = {}) {
        const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) return make_error(Status::io, path + ": " + std::strerror(errno));
        struct stat st {};
        if (::fstat(fd, &st) != 0) {
            const int e = errno;
            ::close(fd);
            return make_error(Status::io, path + ": " + std::strerror(e));
        }
        if (!S_ISREG(st.st_mode)) {
            ::close(fd);
            return make_error(Status::io, path + ": not a regular file");
        }
        const auto size = static_cast<std::size_t>(st.st_size);
        if (size < sizeof(format::Header)) {
            ::close(fd);
            return make_error(Status::truncated, path + ": " + std::to_string(size) + " bytes, shorter than a header");
        }
        void* addr = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
        const int map_errno = errno;
        ::close(fd);  // the mapping keeps the file alive
        if (addr == MAP_FAILED) return make_error(Status::io, path + ": mmap: " + std::strerror(map_errno));
        Database db;
        db.m_.base_ = static_cast<const std::byte*>(addr);
        db.m_.size_ = size;
        db.m_.mapped_ = true;
        if (auto err = db.validate(options.checks); err.status != Status::ok) {
            err.message = path + ": " + err.message;
            return err;
        }
        return db;
    }

    // Uses `bytes` in place; the caller keeps them alive and unchanged for
    // the Database's lifetime. The data should be 8-byte aligned.
    static Expected<Database> from_bytes(std::span<const std::byte> bytes, OpenOptions options = {}) {
        Database db;
        db.m_.base_ = bytes.data();
        db.m_.size_ = bytes.size();
        if (reinterpret_cast<std::uintptr_t>(bytes.data()) % 8 != 0)
            return make_error(Status::invalid_argument, "buffer not 8-byte aligned");
        if (auto err = db.validate(options.checks); err.status != Status::ok) return err;
        return db;
    }

    Database(Database&& o) noexcept { *this = std::move(o); }
    Database& operator=(Database&& o) noexcept {
        if (this != &o) {
            release();
            m_ = std::exchange(o.m_, State{});
        }
        return *this;
    }
    Database(const Database&) = delete;
    Database& operator=(const Database&) = delete;
    ~Database() { release(); }

    // What the file says of `ip`: categories, provider and AS. Never fails:
    // every address is covered.
    ANONDB_HOT_INLINE LookupResult lookup(Ip ip) const noexcept {
        return answer(ip.is_v4() ? v4_answer_at(v4_position(ip.v4())) : v6_answer_at(v6_position(ip)));
    }

    // lookup() for each of ips[0..n), into out[0..n); out.size() must be at
    // least ips.size(). Same answers as lookup(). While it looks address i
    // up it starts loading the bucket of address i + kLookupAhead (the
    // first line of its starts and of its answer ids), so the misses of
    // consecutive lookups overlap. Measured (bench/layout_bench): this
    // beat also prefetching the index entry 16 ahead, and staging groups of
    // 8 to 32 (index, then search, then answer), whose extra passes over
    // the group cost more than they saved.
    void lookup_many(std::span<const Ip> ips, std::span<LookupResult> out) const noexcept {
        const std::size_t n = std::min(ips.size(), out.size());
        for (std::size_t i = 0; i < n; ++i) {
            if (i + kLookupAhead < n) prefetch_bucket(ips[i + kLookupAhead]);
            out[i] = lookup(ips[i]);
        }
    }
    // locate() for each of ips[0..n), into out[0..n), with the prefetching
    // of lookup_many.
    void locate_many(std::span<const Ip> ips, std::span<Segment> out) const noexcept {
        const std::size_t n = std::min(ips.size(), out.size());
        for (std::size_t i = 0; i < n; ++i) {
            if (i + kLookupAhead < n) prefetch_bucket(ips[i + kLookupAhead]);
            out[i] = locate(ips[i]);
        }
    }
    static constexpr std::size_t kLookupAhead = 8;

    // The segment (maximal run of addresses with one answer) covering `ip`.
    Segment locate(Ip ip) const noexcept { return ip.is_v4() ? v4_segment(ip) : v6_segment(ip); }

    // Answer `id` as a LookupResult; ids >= answer_count() read as answer 0.
    ANONDB_HOT_INLINE LookupResult answer(std::uint32_t id) const noexcept {
        id = id < m_.nans_ ? id : 0;  // proved at open unless deferred (OpenChecks); a conditional move
        // No branch on id: answer 0 is all zero (checked at open), and
        // whether an address is flagged is not predictable. The name needs
        // no bounds check: every open proves each answer's name is inside
        // strings.
        const format::Answer& a = m_.answers_[id];
        return {a.categories, std::string_view(m_.strings_.data() + a.provider.offset, a.provider.length), a.asn,
                id != 0};
    }

    // Bytes of the strings section; "" when `ref` is out of bounds.
    std::string_view string(format::StrRef ref) const noexcept {
        if (!string_ok(ref)) return {};
        return m_.strings_.substr(ref.offset, ref.length);
    }
    // Whether `ref` lies inside the strings section.
    bool string_ok(format::StrRef ref) const noexcept {
        return ref.offset <= m_.strings_.size() && ref.length <= m_.strings_.size() - ref.offset;
    }

    const format::Header& header() const noexcept { return *reinterpret_cast<const format::Header*>(m_.base_); }
    std::uint32_t answer_count() const noexcept { return m_.nans_; }
    std::uint32_t provider_count() const noexcept { return m_.nprov_; }
    std::uint32_t v4_segment_count() const noexcept { return m_.n4_; }
    std::uint32_t v6_segment_count() const noexcept { return m_.n6_; }
    unsigned v4_index_bits() const noexcept { return m_.v4_bits_; }
    unsigned v6_index_bits() const noexcept { return m_.v6_bits_; }
    std::span<const format::FeedEntry> feeds() const noexcept { return m_.feeds_; }
    // The signature section (format 2.1), nullptr when the file is unsigned.
    // Its presence proves nothing: signature.hpp checks it against a key.
    const format::SignatureSection* signature() const noexcept { return m_.signature_; }
    std::span<const format::SectionEntry> sections() const noexcept { return m_.sections_; }
    std::span<const std::byte> file_bytes() const noexcept { return {m_.base_, m_.size_}; }

    const format::SectionEntry* find_section(format::SectionKind kind) const noexcept {
        for (const auto& s : m_.sections_)
            if (s.kind == static_cast<std::uint32_t>(kind)) return &s;
        return nullptr;
    }
    // Stored bytes of a section from this file's table (bounds checked at open).
    std::span<const std::byte> stored_bytes(const format::SectionEntry& s) const noexcept {
        return {m_.base_ + s.offset, static_cast<std::size_t>(s.stored_size)};
    }

private:
    Database() = default;

    void release() noexcept {
        if (m_.mapped_ && m_.base_) ::munmap(const_cast<std::byte*>(m_.base_), m_.size_);
        m_.mapped_ = false;
        m_.base_ = nullptr;
    }

    // The last i in [lo, hi) with le(starts[i]), or lo - 1 when there is
    // none (the segment started below the bucket). Correct because a full
    // open proved the index brackets every bucket and start 0 is the
    // lowest address; inside the starts whatever the bytes, because every
    // open proves the index is in order within [0, n] with bucket 0 not
    // empty, so lo >= 1 whenever the bucket has no start <= the address.
    //
    // Branch-free (the loop runs log2 of the bucket size, each step a
    // conditional move): with random addresses an ordinary binary search
    // mispredicts about every other comparison, which cost more than its
    // cache misses.
    template <class Start, class LessEq>
    ANONDB_HOT_INLINE static std::uint32_t last_le(const Start* starts, std::uint32_t lo, std::uint32_t hi,
                                                   LessEq le) noexcept {
        if (lo == hi) return lo - 1;  // empty bucket: the segment started below it
        const Start* base = starts + lo;
        std::uint32_t len = hi - lo;
        while (len > 1) {
            const std::uint32_t half = len / 2;
            base = le(base[half]) ? base + half : base;
            len -= half;
        }
        return static_cast<std::uint32_t>(base - starts) - (le(*base) ? 0u : 1u);
    }
    ANONDB_HOT_INLINE std::uint32_t v4_position(std::uint32_t a) const noexcept {
        const std::uint32_t h = a >> m_.v4_shift_;
        const std::uint32_t low = a & 0xffffu;
        return last_le(m_.v4_starts_, m_.v4_index_[h], m_.v4_index_[h + 1],
                       [low](std::uint16_t s) { return s <= low; });
    }
    ANONDB_HOT_INLINE std::uint32_t v6_position(Ip a) const noexcept {
        const auto h = static_cast<std::uint32_t>(a.hi >> m_.v6_shift_);
        return last_le(m_.v6_starts_, m_.v6_index_[h], m_.v6_index_[h + 1], [a](const format::Ip128& s) {
            return s.hi < a.hi || (s.hi == a.hi && s.lo <= a.lo);
        });
    }

    // Answer id `i` of a packed array of width m_.w_ (1 to 4 bytes): a
    // 4-byte load masked to the id's bytes (the array is followed by 4 - w
    // bytes of padding, so the load stays inside the section).
    ANONDB_HOT_INLINE std::uint32_t packed_id(const std::uint8_t* ids, std::uint32_t i) const noexcept {
        std::uint32_t v;
        std::memcpy(&v, ids + std::size_t{i} * m_.w_, 4);
        return v & m_.id_mask_;
    }
    ANONDB_HOT_INLINE std::uint32_t v4_answer_at(std::uint32_t i) const noexcept { return packed_id(m_.v4_answers_, i); }
    ANONDB_HOT_INLINE std::uint32_t v6_answer_at(std::uint32_t i) const noexcept { return packed_id(m_.v6_answers_, i); }

    // The bucket that holds entry j of a table (j < n): the last bucket
    // whose index entry is <= j. Lookups never need it; a segment's edges
    // do when they lie in another bucket than the address, usually a
    // neighbour of it: so the search gallops out from bucket `near` (index
    // reads grow with the log of the distance, not of the index).
    static std::uint32_t bucket_of(const std::uint32_t* index, std::uint32_t buckets, std::uint32_t j,
                                   std::uint32_t near) noexcept {
        // index[0] = 0 <= j < n = index[buckets]: the answer is in [0, buckets).
        std::uint32_t lo, hi;  // index[lo] <= j < index[hi]
        if (index[near] <= j) {
            lo = near;
            for (std::uint32_t step = 1;; step *= 2) {
                hi = near + std::min(step, buckets - near);
                if (hi == buckets || index[hi] > j) break;
                lo = hi;
            }
        } else {
            hi = near;
            for (std::uint32_t step = 1;; step *= 2) {
                lo = near - std::min(step, near);
                if (index[lo] <= j) break;
                hi = lo;
            }
        }
        return static_cast<std::uint32_t>(std::upper_bound(index + lo + 1, index + hi, j) - index) - 1;
    }
    // IPv4 start j as a 32-bit address, given the bucket h that holds it.
    std::uint32_t v4_start(std::uint32_t j, std::uint32_t h) const noexcept {
        return (h << m_.v4_shift_) | (std::uint32_t{m_.v4_starts_[j]} & ((1u << m_.v4_shift_) - 1));
    }

    // Segment of `ip` from its position. On a file whose starts are out of
    // order (only a deferred open lets one through, see OpenChecks) the
    // range around `ip` is not defined; the segment is then `ip` to the end
    // of its bucket, so that callers walking segments from address to
    // address move forward and end within a step per segment or bucket.
    Segment v4_segment(Ip ip) const noexcept {
        const std::uint32_t a = ip.v4(), h = a >> m_.v4_shift_;
        const std::uint32_t lo = m_.v4_index_[h], hi = m_.v4_index_[h + 1];
        const std::uint32_t i = v4_position(a);
        const std::uint32_t buckets = 1u << m_.v4_bits_;
        const std::uint32_t first = v4_start(i, i >= lo ? h : bucket_of(m_.v4_index_, buckets, i, h));
        std::uint32_t last = 0xffffffffu;
        if (i + 1 < m_.n4_) {
            const std::uint32_t next_bucket = i + 1 < hi ? h : bucket_of(m_.v4_index_, buckets, i + 1, h);
            last = v4_start(i + 1, next_bucket) - 1;
        }
        Segment seg{{Ip::from_v4(first), Ip::from_v4(last)}, v4_answer_at(i)};
        if (!(first <= a && a <= last)) seg.range = {ip, Ip::from_v4(a | ((1u << m_.v4_shift_) - 1))};
        return seg;
    }
    Segment v6_segment(Ip ip) const noexcept {
        const std::uint32_t i = v6_position(ip);
        const Ip first{m_.v6_starts_[i].hi, m_.v6_starts_[i].lo};
        const Ip last = i + 1 < m_.n6_ ? ip_prev(Ip{m_.v6_starts_[i + 1].hi, m_.v6_starts_[i + 1].lo}) : kIpMax;
        Segment seg{{first, last}, v6_answer_at(i)};
        if (!seg.range.contains(ip))
            seg.range = {ip, Ip{ip.hi | ((std::uint64_t{1} << m_.v6_shift_) - 1), ~0ull}};
        return seg;
    }

    // A hint to start loading `p` (a compiler builtin, not a library call).
    // It and its callers are forced inline: GCC finds a function whose only
    // effect is a prefetch free of side effects and deletes calls to it
    // whose result is unused, prefetch and all (seen with GCC 12 -O2).
    ANONDB_HOT_INLINE static void prefetch(const void* p) noexcept {
#if defined(__GNUC__) || defined(__clang__)
        __builtin_prefetch(p);
#else
        (void)p;
#endif
    }
    // Starts loading the bucket of `ip`: the first line of its starts and
    // of the answer ids beside them.
    ANONDB_HOT_INLINE void prefetch_bucket(Ip ip) const noexcept {
        if (ip.is_v4()) {
            const std::uint32_t lo = m_.v4_index_[ip.v4() >> m_.v4_shift_];
            prefetch(m_.v4_starts_ + lo);
            prefetch(m_.v4_answers_ + std::size_t{lo} * m_.w_);
        } else {
            const std::uint32_t lo = m_.v6_index_[ip.hi >> m_.v6_shift_];
            prefetch(m_.v6_starts_ + lo);
            prefetch(m_.v6_answers_ + std::size_t{lo} * m_.w_);
        }
    }

    template <class T>
    const T* array_at(const format::SectionEntry& s) const noexcept {
        return reinterpret_cast<const T*>(m_.base_ + s.offset);
    }

    // The first id of a packed array that is out of range (>= nans) or
    // equal to the one before it where may_repeat(i) is false; at == n if none.
    struct IdCheck {
        std::uint32_t at;
        bool out_of_range;
    };
    template <unsigned W, class MayRepeat>
    IdCheck check_ids_of_width(const std::uint8_t* ids, std::uint32_t n, MayRepeat may_repeat) const {
        std::uint32_t prev = 0;
        for (std::uint32_t i = 0; i < n; ++i) {
            std::uint32_t v = 0;
            std::memcpy(&v, ids + std::size_t{i} * W, W);
            if (v >= m_.nans_) return {i, true};
            if (i > 0 && v == prev && !may_repeat(i)) return {i, false};
            prev = v;
        }
        return {n, false};
    }
    template <class MayRepeat>
    IdCheck check_ids(const std::uint8_t* ids, std::uint32_t n, MayRepeat may_repeat) const {
        switch (m_.w_) {  // one loop per width, each load of a fixed size
            case 1: return check_ids_of_width<1>(ids, n, may_repeat);
            case 2: return check_ids_of_width<2>(ids, n, may_repeat);
            case 3: return check_ids_of_width<3>(ids, n, may_repeat);
            default: return check_ids_of_width<4>(ids, n, may_repeat);
        }
    }

    Error validate(OpenChecks checks);
    Error validate_table();
    template <class Start>
    Error validate_family(const char* family, const format::SectionEntry& idx, const format::SectionEntry& starts,
                          const format::SectionEntry& ids, bool full);

    // Trivially copyable view state, so moving is a copy plus a reset.
    struct State {
        const std::byte* base_ = nullptr;
        std::size_t size_ = 0;
        bool mapped_ = false;
        std::span<const format::SectionEntry> sections_;
        const std::uint32_t* v4_index_ = nullptr;
        const std::uint16_t* v4_starts_ = nullptr;
        const std::uint8_t* v4_answers_ = nullptr;
        std::uint32_t n4_ = 0;
        unsigned v4_bits_ = 16, v4_shift_ = 16;  // index bits; 32 - bits (8 to 16)
        const std::uint32_t* v6_index_ = nullptr;
        const format::Ip128* v6_starts_ = nullptr;
        const std::uint8_t* v6_answers_ = nullptr;
        std::uint32_t n6_ = 0;
        unsigned v6_bits_ = 16, v6_shift_ = 48;  // index bits; 64 - bits, on the high half (40 to 56)
        const format::Answer* answers_ = nullptr;
        std::uint32_t nans_ = 0;
        unsigned w_ = 1;  // bytes of an answer id
        std::uint32_t id_mask_ = 0xff;  // its bits
        std::uint32_t nprov_ = 0;
        std::string_view strings_;
        std::span<const format::FeedEntry> feeds_;
        const format::SignatureSection* signature_ = nullptr;  // nullptr: unsigned
    };
    State m_;
};

// ---- validation (runs once at open) ----------------------------------------

namespace detail {
inline std::string hex64(std::uint64_t v) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string s(16, '0');
    for (int i = 15; i >= 0; --i, v >>= 4) s[static_cast<std::size_t>(i)] = kHex[v & 0xf];
    return s;
}
inline std::string section_context(const format::SectionEntry& s) {
    return "section " + std::string(format::section_name(s.kind)) + " at offset " + std::to_string(s.offset);
}
}  // namespace detail

inline Error Database::validate_table() {
    using format::Header;
    using format::SectionEntry;
    const auto& h = header();
    if (std::memcmp(h.magic, format::kMagic, sizeof h.magic) != 0) return make_error(Status::not_anondb, "bad magic");
    if (h.major != format::kMajor)
        return make_error(Status::unsupported_version, "format major " + std::to_string(h.major) +
                                                           ", this reader reads major " + std::to_string(format::kMajor));
    if (h.header_size != sizeof(Header)) return make_error(Status::corrupt, "header_size " + std::to_string(h.header_size));
    if (h.file_size > m_.size_)
        return make_error(Status::truncated, "header says " + std::to_string(h.file_size) + " bytes, file has " +
                                                 std::to_string(m_.size_));
    if (h.file_size != m_.size_)
        return make_error(Status::corrupt, "header says " + std::to_string(h.file_size) + " bytes, file has " +
                                               std::to_string(m_.size_));
    if (h.section_entry_size != sizeof(SectionEntry))
        return make_error(Status::corrupt, "section_entry_size " + std::to_string(h.section_entry_size));
    if (h.section_count > 1024) return make_error(Status::corrupt, "section_count " + std::to_string(h.section_count));
    const std::uint64_t table_bytes = std::uint64_t{h.section_count} * sizeof(SectionEntry);
    if (h.section_table_offset < sizeof(Header) || h.section_table_offset % 8 != 0 ||
        h.section_table_offset > m_.size_ || table_bytes > m_.size_ - h.section_table_offset)
        return make_error(Status::corrupt, "section table outside the file");
    // Checksum of header (minus the checksum field) followed by the table.
    std::vector<unsigned char> covered(offsetof(Header, table_checksum) + table_bytes);
    std::memcpy(covered.data(), m_.base_, offsetof(Header, table_checksum));
    std::memcpy(covered.data() + offsetof(Header, table_checksum), m_.base_ + h.section_table_offset, table_bytes);
    if (detail::xxh64(covered.data(), covered.size()) != h.table_checksum)
        return make_error(Status::checksum, "header and section table");
    m_.sections_ = {reinterpret_cast<const SectionEntry*>(m_.base_ + h.section_table_offset), h.section_count};

    const std::uint64_t data_start = h.section_table_offset + table_bytes;
    struct Span {
        std::uint64_t begin, end;  // [offset, offset + stored_size)
        const SectionEntry* entry;
    };
    std::vector<Span> spans;
    std::uint32_t seen = 0;  // bit per known kind
    for (const auto& s : m_.sections_) {
        if (s.offset % format::kSectionAlign != 0 || s.offset < data_start || s.offset > m_.size_ ||
            s.stored_size > m_.size_ - s.offset)
            return make_error(Status::corrupt, detail::section_context(s) + ": outside the file or misaligned");
        if (s.encoding != static_cast<std::uint32_t>(format::Encoding::raw) &&
            s.encoding != static_cast<std::uint32_t>(format::Encoding::zstd))
            return make_error(Status::corrupt, detail::section_context(s) + ": unknown encoding " + std::to_string(s.encoding));
        if (s.encoding == static_cast<std::uint32_t>(format::Encoding::raw) && s.raw_size != s.stored_size)
            return make_error(Status::corrupt, detail::section_context(s) + ": raw size differs from stored size");
        if (s.kind >= 1 && s.kind <= format::kMaxKnownKind) {
            if (seen & (1u << s.kind)) return make_error(Status::corrupt, detail::section_context(s) + ": duplicate section");
            seen |= 1u << s.kind;
        }
        spans.push_back({s.offset, s.offset + s.stored_size, &s});
    }
    std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) {
        if (a.begin != b.begin) return a.begin < b.begin;
        return a.end != b.end ? a.end < b.end : a.entry < b.entry;
    });
    for (std::size_t i = 1; i < spans.size(); ++i)
        if (spans[i].begin < spans[i - 1].end)
            return make_error(Status::corrupt, detail::section_context(*spans[i].entry) + ": overlaps " +
                                                   detail::section_context(*spans[i - 1].entry));
    return {};
}

// One table (IPv4 when Start is the 16-bit stored start, IPv6 when it is
// Ip128): sizes, the index, and with `full` every start and answer id.
template <class Start>
inline Error Database::validate_family(const char* family, const format::SectionEntry& idx,
                                       const format::SectionEntry& starts, const format::SectionEntry& ids, bool full) {
    constexpr bool v4 = sizeof(Start) == 2;
    auto fail = [&](const format::SectionEntry& s, const std::string& why) {
        return make_error(Status::corrupt, detail::section_context(s) + " (" + family + "): " + why);
    };
    unsigned bits = 0;
    const unsigned min_bits = v4 ? format::kMinV4IndexBits : format::kMinV6IndexBits;
    for (unsigned b = min_bits; b <= format::kMaxIndexBits; ++b)
        if (idx.raw_size == ((std::uint64_t{1} << b) + 1) * 4) bits = b;
    if (bits == 0)
        return fail(idx, "size is not 2^b + 1 entries with b from " + std::to_string(min_bits) + " to " +
                             std::to_string(format::kMaxIndexBits));
    const std::uint32_t buckets = 1u << bits;
    if (starts.raw_size == 0 || starts.raw_size % sizeof(Start) != 0 || starts.raw_size / sizeof(Start) > 0xffffffffu)
        return fail(starts, "wrong size");
    const auto n = static_cast<std::uint32_t>(starts.raw_size / sizeof(Start));
    if (ids.raw_size != std::uint64_t{n} * m_.w_ + 4 - m_.w_)
        return fail(ids, "answer id count differs from start count");
    const auto* index = array_at<std::uint32_t>(idx);
    const auto* st = array_at<Start>(starts);
    const auto* id_bytes = array_at<std::uint8_t>(ids);
    const unsigned shift = (v4 ? 32 : 64) - bits;

    // What a search needs to stay inside the starts: every bucket within
    // [0, n], in order, and bucket 0 not empty (it holds the first start),
    // so an empty bucket always has a start below it.
    bool first_is_zero;
    if constexpr (v4) first_is_zero = st[0] == 0;
    else first_is_zero = st[0].hi == 0 && st[0].lo == 0;
    if (!first_is_zero) return fail(starts, "first start is not the lowest address");
    if (index[0] != 0 || index[1] == 0 || index[buckets] != n) return fail(idx, "bad bounds");
    for (std::uint32_t b = 0; b < buckets; ++b)
        if (index[b] > index[b + 1]) return fail(idx, "not ascending at bucket " + std::to_string(b));

    if (full) {
        for (std::uint32_t b = 0; b < buckets; ++b) {
            // IPv4: the stored bits above `shift` repeat the bucket's low bits.
            const std::uint32_t high = v4 ? b & ((1u << (16 - shift)) - 1) : b;
            for (std::uint32_t i = index[b]; i < index[b + 1]; ++i) {
                bool in_bucket, ascending = true;
                if constexpr (v4) {
                    in_bucket = (std::uint32_t{st[i]} >> shift) == high;
                    if (i > index[b]) ascending = st[i - 1] < st[i];
                } else {
                    in_bucket = (st[i].hi >> shift) == high;
                    if (i > 0) ascending = st[i - 1].hi < st[i].hi || (st[i - 1].hi == st[i].hi && st[i - 1].lo < st[i].lo);
                }
                if (!in_bucket) return fail(idx, "start " + std::to_string(i) + " outside bucket " + std::to_string(b));
                if (!ascending) return fail(starts, "starts not strictly ascending at " + std::to_string(i));
            }
        }
        // Every id below nans, and segments maximal: equal neighbours would
        // be one segment (the IPv4-mapped block's edges in the IPv6 table
        // excepted).
        auto may_repeat = [&](std::uint32_t i) {
            if constexpr (v4) return false;
            else return Ip{st[i].hi, st[i].lo} == kV4First || Ip{st[i].hi, st[i].lo} == ip_next(kV4Last);
        };
        const IdCheck bad = check_ids(id_bytes, n, may_repeat);
        if (bad.at < n) {
            if (bad.out_of_range) return fail(ids, "answer id out of range at " + std::to_string(bad.at));
            return fail(ids, "segments " + std::to_string(bad.at - 1) + " and " + std::to_string(bad.at) +
                                 " have the same answer");
        }
        for (std::uint64_t k = std::uint64_t{n} * m_.w_; k < ids.raw_size; ++k)
            if (id_bytes[k] != 0) return fail(ids, "padding after the ids is not zero");
        auto id_at = [&](std::uint32_t i) {
            std::uint32_t v = 0;
            std::memcpy(&v, id_bytes + std::size_t{i} * m_.w_, m_.w_);
            return v;
        };
        if constexpr (!v4) {
            // The IPv4-mapped block is one segment of answer 0 (FORMAT.md).
            const format::Ip128* end = st + n;
            const format::Ip128* at = std::lower_bound(st, end, kV4First, [](const format::Ip128& s, Ip a) {
                return Ip{s.hi, s.lo} < a;
            });
            const Ip after = ip_next(kV4Last);
            if (at == end || at + 1 == end || Ip{at->hi, at->lo} != kV4First || id_at(static_cast<std::uint32_t>(at - st)) != 0 ||
                Ip{(at + 1)->hi, (at + 1)->lo} != after)
                return fail(starts, "the IPv4-mapped block is not one segment of answer 0");
        }
    }
    if constexpr (v4) {
        m_.v4_index_ = index;
        m_.v4_starts_ = st;
        m_.v4_answers_ = id_bytes;
        m_.n4_ = n;
        m_.v4_bits_ = bits;
        m_.v4_shift_ = shift;
    } else {
        m_.v6_index_ = index;
        m_.v6_starts_ = st;
        m_.v6_answers_ = id_bytes;
        m_.n6_ = n;
        m_.v6_bits_ = bits;
        m_.v6_shift_ = shift;
    }
    return {};
}

// With OpenChecks::deferred, the loops over whole sections and the
// checksums of hot sections are skipped (`full` false); every read they
// would have proved safe is bounds-checked where it happens instead
// (string(), the clamp of answer ids, the segment fallback), and verify()
// runs them all.
inline Error Database::validate(OpenChecks checks) {
    using format::SectionKind;
    const bool full = checks == OpenChecks::full;
    if (m_.size_ < sizeof(format::Header)) return make_error(Status::truncated, "shorter than a header");
    if (auto e = validate_table(); e.status != Status::ok) return e;

    const format::SectionEntry* sec[format::kMaxRequiredKind + 1] = {};
    for (std::uint32_t k = 1; k <= format::kMaxRequiredKind; ++k) {
        const auto* s = find_section(static_cast<SectionKind>(k));
        if (!s) return make_error(Status::missing_section, std::string(format::section_name(k)));
        sec[k] = s;
        if (!format::is_hot(static_cast<SectionKind>(k))) continue;
        if (s->encoding != static_cast<std::uint32_t>(format::Encoding::raw))
            return make_error(Status::corrupt, detail::section_context(*s) + ": hot section must be raw");
        const auto bytes = stored_bytes(*s);
        if (full && detail::xxh64(bytes.data(), bytes.size()) != s->checksum)
            return make_error(Status::checksum, detail::section_context(*s));
    }
    auto at = [&](SectionKind k) -> const format::SectionEntry& { return *sec[static_cast<std::uint32_t>(k)]; };
    auto fail = [](const format::SectionEntry& s, const std::string& why) {
        return make_error(Status::corrupt, detail::section_context(s) + ": " + why);
    };

    const auto& str = at(SectionKind::strings);
    m_.strings_ = {reinterpret_cast<const char*>(m_.base_ + str.offset), static_cast<std::size_t>(str.raw_size)};
    auto str_ok = [&](format::StrRef r) { return r.offset <= m_.strings_.size() && r.length <= m_.strings_.size() - r.offset; };

    const auto& ans = at(SectionKind::answers);
    if (ans.raw_size == 0 || ans.raw_size % sizeof(format::Answer) != 0 ||
        ans.raw_size / sizeof(format::Answer) > 0xffffffffu)
        return fail(ans, "wrong size");
    m_.answers_ = array_at<format::Answer>(ans);
    m_.nans_ = static_cast<std::uint32_t>(ans.raw_size / sizeof(format::Answer));
    m_.w_ = format::answer_id_width(m_.nans_);
    m_.id_mask_ = m_.w_ == 4 ? ~0u : (1u << (8 * m_.w_)) - 1;
    const format::Answer& none = m_.answers_[0];
    if (none.categories != 0 || none.asn != 0 || none.provider.offset != 0 || none.provider.length != 0)
        return fail(ans, "answer 0 must be empty");
    // Always, whatever the checks: lookups return the names unchecked.
    for (std::uint32_t i = 0; i < m_.nans_; ++i)
        if (!str_ok(m_.answers_[i].provider)) return fail(ans, "provider name out of bounds at " + std::to_string(i));

    // Cold, maybe compressed: only its entry count is needed here.
    const auto& prov = at(SectionKind::providers);
    if (prov.raw_size == 0 || prov.raw_size % sizeof(format::StrRef) != 0 ||
        prov.raw_size / sizeof(format::StrRef) > 0xffffffffu)
        return fail(prov, "wrong size");
    m_.nprov_ = static_cast<std::uint32_t>(prov.raw_size / sizeof(format::StrRef));

    const auto& fd = at(SectionKind::feeds);
    if (fd.raw_size % sizeof(format::FeedEntry) != 0) return fail(fd, "wrong size");
    m_.feeds_ = {array_at<format::FeedEntry>(fd), static_cast<std::size_t>(fd.raw_size / sizeof(format::FeedEntry))};
    for (std::size_t i = 0; i < m_.feeds_.size(); ++i) {
        const auto& f = m_.feeds_[i];
        if (!str_ok(f.name) || !str_ok(f.url) || !str_ok(f.source) || !str_ok(f.format) || f.provider >= m_.nprov_ ||
            f.role > format::kMaxFeedRole || f.asn_table > m_.feeds_.size())
            return fail(fd, "feed " + std::to_string(i) + " refers outside strings, providers or feeds");
    }

    // 2.1: an optional signature, whose checking is signature.hpp's.
    if (const auto* sig = find_section(SectionKind::signature)) {
        if (sig->encoding != static_cast<std::uint32_t>(format::Encoding::raw) ||
            sig->stored_size != sizeof(format::SignatureSection))
            return fail(*sig, "must be raw and " + std::to_string(sizeof(format::SignatureSection)) + " bytes");
        const auto* body = array_at<format::SignatureSection>(*sig);
        if (body->algorithm != format::kSignatureEd25519 || body->reserved != 0)
            return fail(*sig, "unknown algorithm " + std::to_string(body->algorithm));
        m_.signature_ = body;
    }

    if (auto e = validate_family<std::uint16_t>("IPv4", at(SectionKind::v4_index), at(SectionKind::v4_starts),
                                                at(SectionKind::v4_answers), full);
        e.status != Status::ok)
        return e;
    if (auto e = validate_family<format::Ip128>("IPv6", at(SectionKind::v6_index), at(SectionKind::v6_starts),
                                                at(SectionKind::v6_answers), full);
        e.status != Status::ok)
        return e;
    return {};
}

}  // namespace anondb

#undef ANONDB_HOT_INLINE
