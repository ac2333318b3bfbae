// anondb reader: open a .anondb file and look addresses up in place.
//
// Header-only, standard library only (plus POSIX mmap to map the file).
// open() validates the header, the section table, and by default every hot
// section's checksum and structure (OpenChecks). Either way lookup() never
// reads outside the file: what a deferred open does not prove is bounded
// where it is read. Cold sections (provenance, metadata) are checked by the
// explain part when first used. See docs/FORMAT.md.
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
#include <variant>
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

// What lookup() answers for an address. It carries no record id: that is
// where the answer came from, not what it is, and in 1.2 files reading it
// would cost a cache miss of its own on every lookup. locate() gives the
// segment and its record.
struct LookupResult {
    std::uint32_t categories = 0;  // Category bits; 0 when not flagged
    std::string_view provider;     // primary provider, "" when none
    std::uint32_t asn = 0;         // primary AS of ASN-derived evidence, 0 when none
    bool flagged = false;          // some evidence covers the address (its record is not 0)
    bool anonymous() const noexcept { return is_anonymous(categories); }
};

// How much open() proves about a file before the first lookup.
enum class OpenChecks : std::uint8_t {
    // Every hot section: checksums and structure (starts ascending and in
    // their buckets, every id in range, every name inside strings). O(file):
    // about 10 ms for a million ranges. The default.
    full,
    // Only what keeps every read inside the file, whatever the bytes: header
    // and section table (with their checksum), section sizes, the index's
    // bounds and order, the first start, answer 0 and the feeds. O(index),
    // under a millisecond at any size. Lookups on a damaged file stay
    // memory-safe but may answer wrongly until verify() has passed.
    deferred,
};

struct OpenOptions {
    OpenChecks checks = OpenChecks::full;
};

// One segment of the address partition: every address in `range` maps to
// `record` (0 = not flagged).
struct Segment {
    Range range;
    std::uint32_t record = 0;
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
        return result_at(ip, ip.is_v4() ? v4_position(ip.v4()) : v6_position(ip));
    }

    // lookup() for each of ips[0..n), into out[0..n); out.size() must be at
    // least ips.size(). Same answers as lookup(). While it looks address i
    // up, it prefetches the bucket of address i + kLookupAhead (the first
    // line of its starts and of the answer ids beside them: with the mean
    // bucket of about 16 starts that is most of what the lookup reads), so
    // the misses of consecutive lookups overlap. Measured (bench/README.md):
    // a steady prefetch distance beat prefetching a group of 32 at a time,
    // which spent more on the extra passes than it saved.
    void lookup_many(std::span<const Ip> ips, std::span<LookupResult> out) const noexcept {
        const std::size_t n = std::min(ips.size(), out.size());
        for (std::size_t i = 0; i < n; ++i) {
            if (i + kLookupAhead < n) prefetch_bucket(ips[i + kLookupAhead], m_.answers_ != nullptr);
            out[i] = lookup(ips[i]);
        }
    }
    // locate() for each of ips[0..n), into out[0..n), with the prefetching
    // of lookup_many (of starts and record ids); also prefetches each
    // segment's record, which callers read next.
    void locate_many(std::span<const Ip> ips, std::span<Segment> out) const noexcept {
        const std::size_t n = std::min(ips.size(), out.size());
        for (std::size_t i = 0; i < n; ++i) {
            if (i + kLookupAhead < n) prefetch_bucket(ips[i + kLookupAhead], false);
            out[i] = locate(ips[i]);
            prefetch_record(out[i].record);
        }
    }
    static constexpr std::size_t kLookupAhead = 8;

    // The segment (maximal run of addresses with one record) covering `ip`.
    ANONDB_HOT_INLINE Segment locate(Ip ip) const noexcept {
        return segment_at(ip, ip.is_v4() ? v4_position(ip.v4()) : v6_position(ip));
    }

    // Record `id` as a LookupResult; ids >= record_count() give "not flagged".
    LookupResult record(std::uint32_t id) const noexcept {
        if (id == 0 || id >= m_.nrec_) return {};
        const format::Record& r = m_.records_[id];
        return {r.categories, provider_name(r.provider), m_.record_asns_ ? m_.record_asns_[id] : 0, true};
    }

    std::string_view provider_name(std::uint32_t id) const noexcept {
        return id < m_.nprov_ ? string(m_.providers_[id]) : std::string_view{};
    }

    // Bytes of the strings section; "" when `ref` is out of bounds.
    std::string_view string(format::StrRef ref) const noexcept {
        if (ref.offset > m_.strings_.size() || ref.length > m_.strings_.size() - ref.offset) return {};
        return m_.strings_.substr(ref.offset, ref.length);
    }

    const format::Header& header() const noexcept { return *reinterpret_cast<const format::Header*>(m_.base_); }
    std::uint32_t record_count() const noexcept { return m_.nrec_; }
    std::uint32_t answer_count() const noexcept { return m_.nans_; }  // 0 before format 1.2
    std::uint32_t provider_count() const noexcept { return m_.nprov_; }
    std::uint32_t v4_segment_count() const noexcept { return m_.n4_; }
    std::uint32_t v6_segment_count() const noexcept { return m_.n6_; }
    std::span<const format::FeedEntry> feeds() const noexcept { return m_.feeds_; }
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

    // Last segment whose start <= a. Correct because a full open proved the
    // index brackets every bucket and starts[0] == 0 (so a bucket whose
    // first start is above `a` has the answer just before it); inside the
    // starts whatever the bytes, because every open proves the index is in
    // order within [0, n] with bucket 0 not empty.
    //
    // The search in the bucket is branch-free (the loop runs log2 of the
    // bucket size, each step a conditional move): with random addresses an
    // ordinary binary search mispredicts about every other comparison,
    // which cost more than its cache misses.
    template <class Start, class LessEq>
    ANONDB_HOT_INLINE static std::uint32_t last_le(const Start* starts, std::uint32_t lo, std::uint32_t hi, LessEq le) noexcept {
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
        const std::uint32_t h = a >> 16;
        return last_le(m_.v4_starts_, m_.v4_index_[h], m_.v4_index_[h + 1], [a](std::uint32_t s) { return s <= a; });
    }
    ANONDB_HOT_INLINE std::uint32_t v6_position(Ip a) const noexcept {
        const std::uint32_t h = static_cast<std::uint32_t>(a.hi >> 48);
        return last_le(m_.v6_starts_, m_.v6_index_[h], m_.v6_index_[h + 1], [a](const format::Ip128& s) {
            return s.hi < a.hi || (s.hi == a.hi && s.lo <= a.lo);
        });
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

    // Segment `i` of the table holding `ip` (i from v4_position / v6_position).
    // On a file whose starts are out of order (only a deferred open lets one
    // through, see OpenChecks) the range around `ip` is not defined; the
    // segment is then `ip` to the end of its bucket (the top 16 bits), so
    // that callers walking segments from address to address move forward and
    // end within a step per segment or bucket.
    Segment segment_at(Ip ip, std::uint32_t i) const noexcept {
        Segment seg;
        if (ip.is_v4()) {
            const Ip first = Ip::from_v4(m_.v4_starts_[i]);
            const Ip last = i + 1 < m_.n4_ ? Ip::from_v4(m_.v4_starts_[i + 1] - 1) : kV4Last;
            seg = {{first, last}, m_.v4_records_[i]};
        } else {
            const Ip first{m_.v6_starts_[i].hi, m_.v6_starts_[i].lo};
            const Ip last = i + 1 < m_.n6_ ? ip_prev(Ip{m_.v6_starts_[i + 1].hi, m_.v6_starts_[i + 1].lo}) : kIpMax;
            seg = {{first, last}, m_.v6_records_[i]};
        }
        if (!seg.range.contains(ip))
            seg.range = {ip, ip.is_v4() ? Ip::from_v4(ip.v4() | 0xffffu) : Ip{ip.hi | 0xffff'ffff'ffffull, ~0ull}};
        return seg;
    }
    std::uint32_t record_at(Ip ip, std::uint32_t i) const noexcept {
        return ip.is_v4() ? m_.v4_records_[i] : m_.v6_records_[i];
    }
    // The lookup answer of segment `i` of ip's table: from the answers
    // (1.2; one load in a small table) or, in older files, the record.
    // Answer 0 belongs to record 0 alone (FORMAT.md), so unflagged space
    // costs one load.
    ANONDB_HOT_INLINE LookupResult result_at(Ip ip, std::uint32_t i) const noexcept {
        if (!m_.answers_) return record(record_at(ip, i));
        std::uint32_t id = ip.is_v4() ? m_.v4_answers_[i] : m_.v6_answers_[i];
        id = id < m_.nans_ ? id : 0;  // proved at open unless deferred (OpenChecks); a conditional move
        // No branch on id: answer 0 is all zero (checked at open), and
        // whether an address is flagged is not predictable.
        const format::Answer& a = m_.answers_[id];
        return {a.categories, string(a.provider), a.asn, id != 0};
    }
    ANONDB_HOT_INLINE std::uint32_t prefetch_record(std::uint32_t id) const noexcept {
        if (id < m_.nrec_) {
            prefetch(m_.records_ + id);
            if (m_.record_asns_) prefetch(m_.record_asns_ + id);
        }
        return id;
    }

    // Starts loading the bucket of `ip`: the first line of its starts and of
    // the ids beside them (answer ids when `answers`, else record ids).
    ANONDB_HOT_INLINE void prefetch_bucket(Ip ip, bool answers) const noexcept {
        if (ip.is_v4()) {
            const std::uint32_t lo = m_.v4_index_[ip.v4() >> 16];
            prefetch(m_.v4_starts_ + lo);
            prefetch(answers ? m_.v4_answers_ + lo : m_.v4_records_ + lo);
        } else {
            const std::uint32_t lo = m_.v6_index_[ip.hi >> 48];
            prefetch(m_.v6_starts_ + lo);
            prefetch(answers ? m_.v6_answers_ + lo : m_.v6_records_ + lo);
        }
    }

    template <class T>
    const T* array_at(const format::SectionEntry& s) const noexcept {
        return reinterpret_cast<const T*>(m_.base_ + s.offset);
    }

    Error validate(OpenChecks checks);
    Error validate_table();
    template <class Start>
    Error validate_family(const char* family, const format::SectionEntry& idx, const format::SectionEntry& starts,
                          const format::SectionEntry& recs, const std::uint32_t*& index_out, const Start*& starts_out,
                          const std::uint32_t*& records_out, std::uint32_t& n_out, bool full);

    // Trivially copyable view state, so moving is a copy plus a reset.
    struct State {
        const std::byte* base_ = nullptr;
        std::size_t size_ = 0;
        bool mapped_ = false;
        std::span<const format::SectionEntry> sections_;
        const std::uint32_t* v4_index_ = nullptr;
        const std::uint32_t* v4_starts_ = nullptr;
        const std::uint32_t* v4_records_ = nullptr;
        std::uint32_t n4_ = 0;
        const std::uint32_t* v6_index_ = nullptr;
        const format::Ip128* v6_starts_ = nullptr;
        const std::uint32_t* v6_records_ = nullptr;
        std::uint32_t n6_ = 0;
        const format::Record* records_ = nullptr;
        const std::uint32_t* record_asns_ = nullptr;  // nullptr in 1.0 files
        const std::uint32_t* v4_answers_ = nullptr;   // these three: nullptr before 1.2
        const std::uint32_t* v6_answers_ = nullptr;
        const format::Answer* answers_ = nullptr;
        std::uint32_t nans_ = 0;
        std::uint32_t nrec_ = 0;
        const format::StrRef* providers_ = nullptr;
        std::uint32_t nprov_ = 0;
        std::string_view strings_;
        std::span<const format::FeedEntry> feeds_;
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

template <class Start>
inline Error Database::validate_family(const char* family, const format::SectionEntry& idx,
                                       const format::SectionEntry& starts, const format::SectionEntry& recs,
                                       const std::uint32_t*& index_out, const Start*& starts_out,
                                       const std::uint32_t*& records_out, std::uint32_t& n_out, bool full) {
    auto fail = [&](const format::SectionEntry& s, const std::string& why) {
        return make_error(Status::corrupt, detail::section_context(s) + " (" + family + "): " + why);
    };
    if (idx.raw_size != std::uint64_t{format::kIndexEntries} * 4) return fail(idx, "wrong size");
    if (starts.raw_size == 0 || starts.raw_size % sizeof(Start) != 0 || starts.raw_size / sizeof(Start) > 0xffffffffu)
        return fail(starts, "wrong size");
    const auto n = static_cast<std::uint32_t>(starts.raw_size / sizeof(Start));
    if (recs.raw_size != std::uint64_t{n} * 4) return fail(recs, "record count differs from start count");
    const auto* index = array_at<std::uint32_t>(idx);
    const auto* st = array_at<Start>(starts);
    const auto* rc = array_at<std::uint32_t>(recs);
    auto key = [](const Start& s) -> std::uint32_t {
        if constexpr (sizeof(Start) == 4) return s >> 16;
        else return static_cast<std::uint32_t>(s.hi >> 48);
    };
    auto less = [](const Start& a, const Start& b) {
        if constexpr (sizeof(Start) == 4) return a < b;
        else return a.hi < b.hi || (a.hi == b.hi && a.lo < b.lo);
    };
    auto is_zero = [](const Start& s) {
        if constexpr (sizeof(Start) == 4) return s == 0;
        else return s.hi == 0 && s.lo == 0;
    };
    // What a search needs to stay inside the starts: every bucket within
    // [0, n], in order, and bucket 0 not empty (it holds the first start, 0),
    // so an empty bucket always has a start below it.
    if (!is_zero(st[0])) return fail(starts, "first start is not the lowest address");
    if (index[0] != 0 || index[1] == 0 || index[format::kIndexEntries - 1] != n) return fail(idx, "bad bounds");
    for (std::uint32_t b = 0; b + 1 < format::kIndexEntries; ++b) {
        if (index[b] > index[b + 1]) return fail(idx, "not ascending at bucket " + std::to_string(b));
        if (!full) continue;
        for (std::uint32_t i = index[b]; i < index[b + 1]; ++i)
            if (key(st[i]) != b) return fail(idx, "start " + std::to_string(i) + " outside bucket " + std::to_string(b));
    }
    for (std::uint32_t i = 1; full && i < n; ++i)
        if (!less(st[i - 1], st[i])) return fail(starts, "starts not strictly ascending at " + std::to_string(i));
    for (std::uint32_t i = 0; full && i < n; ++i)
        if (rc[i] >= m_.nrec_) return fail(recs, "record id out of range at " + std::to_string(i));
    index_out = index;
    starts_out = st;
    records_out = rc;
    n_out = n;
    return {};
}

// With OpenChecks::deferred, the loops over whole sections and the
// checksums of hot sections are skipped (`full` false); every read they
// would have proved safe is bounds-checked where it happens instead
// (string(), provider_name(), record(), the clamp of answer ids), and
// verify() runs them all.
inline Error Database::validate(OpenChecks checks) {
    using format::SectionKind;
    const bool full = checks == OpenChecks::full;
    if (m_.size_ < sizeof(format::Header)) return make_error(Status::truncated, "shorter than a header");
    if (auto e = validate_table(); e.status != Status::ok) return e;

    const format::SectionEntry* hot[11] = {};
    for (std::uint32_t k = 1; k <= 10; ++k) {
        const auto* s = find_section(static_cast<SectionKind>(k));
        if (!s) return make_error(Status::missing_section, std::string(format::section_name(k)));
        if (s->encoding != static_cast<std::uint32_t>(format::Encoding::raw))
            return make_error(Status::corrupt, detail::section_context(*s) + ": hot section must be raw");
        const auto bytes = stored_bytes(*s);
        if (full && detail::xxh64(bytes.data(), bytes.size()) != s->checksum)
            return make_error(Status::checksum, detail::section_context(*s));
        hot[k] = s;
    }
    auto fail = [](const format::SectionEntry& s, const std::string& why) {
        return make_error(Status::corrupt, detail::section_context(s) + ": " + why);
    };
    // strings, providers, records, feeds: everything a lookup may touch.
    const auto& str = *hot[static_cast<int>(SectionKind::strings)];
    m_.strings_ = {reinterpret_cast<const char*>(m_.base_ + str.offset), static_cast<std::size_t>(str.raw_size)};
    auto str_ok = [&](format::StrRef r) { return r.offset <= m_.strings_.size() && r.length <= m_.strings_.size() - r.offset; };

    const auto& prov = *hot[static_cast<int>(SectionKind::providers)];
    if (prov.raw_size == 0 || prov.raw_size % sizeof(format::StrRef) != 0 ||
        prov.raw_size / sizeof(format::StrRef) > 0xffffffffu)
        return fail(prov, "wrong size");
    m_.providers_ = array_at<format::StrRef>(prov);
    m_.nprov_ = static_cast<std::uint32_t>(prov.raw_size / sizeof(format::StrRef));
    for (std::uint32_t i = 0; full && i < m_.nprov_; ++i)
        if (!str_ok(m_.providers_[i])) return fail(prov, "string out of bounds at " + std::to_string(i));

    const auto& rec = *hot[static_cast<int>(SectionKind::records)];
    if (rec.raw_size == 0 || rec.raw_size % sizeof(format::Record) != 0 ||
        rec.raw_size / sizeof(format::Record) > 0xffffffffu)
        return fail(rec, "wrong size");
    m_.records_ = array_at<format::Record>(rec);
    m_.nrec_ = static_cast<std::uint32_t>(rec.raw_size / sizeof(format::Record));
    if (m_.records_[0].categories != 0 || m_.records_[0].provider != 0) return fail(rec, "record 0 must be empty");
    for (std::uint32_t i = 0; full && i < m_.nrec_; ++i)
        if (m_.records_[i].provider >= m_.nprov_) return fail(rec, "provider out of range at " + std::to_string(i));

    const auto& fd = *hot[static_cast<int>(SectionKind::feeds)];
    if (fd.raw_size % sizeof(format::FeedEntry) != 0) return fail(fd, "wrong size");
    m_.feeds_ = {array_at<format::FeedEntry>(fd), static_cast<std::size_t>(fd.raw_size / sizeof(format::FeedEntry))};
    for (std::size_t i = 0; i < m_.feeds_.size(); ++i) {
        const auto& f = m_.feeds_[i];
        if (!str_ok(f.name) || !str_ok(f.url) || !str_ok(f.source) || !str_ok(f.format) || f.provider >= m_.nprov_ ||
            f.role > format::kMaxFeedRole || f.asn_table > m_.feeds_.size())
            return fail(fd, "feed " + std::to_string(i) + " refers outside strings, providers or feeds");
    }

    // An optional hot section: raw, and its checksum matches.
    auto optional_hot = [&](const format::SectionEntry& s) -> Error {
        if (s.encoding != static_cast<std::uint32_t>(format::Encoding::raw)) return fail(s, "hot section must be raw");
        const auto bytes = stored_bytes(s);
        if (full && detail::xxh64(bytes.data(), bytes.size()) != s.checksum)
            return make_error(Status::checksum, detail::section_context(s));
        return {};
    };
    if (const auto* ra = find_section(SectionKind::record_asns)) {
        if (auto e = optional_hot(*ra); e.status != Status::ok) return e;
        if (ra->raw_size != std::uint64_t{m_.nrec_} * 4) return fail(*ra, "entry count differs from record count");
        m_.record_asns_ = array_at<std::uint32_t>(*ra);
        if (m_.record_asns_[0] != 0) return fail(*ra, "record 0 must be empty");
    }

    if (auto e = validate_family<std::uint32_t>("IPv4", *hot[1], *hot[2], *hot[3], m_.v4_index_, m_.v4_starts_, m_.v4_records_, m_.n4_, full);
        e.status != Status::ok)
        return e;
    if (auto e = validate_family<format::Ip128>("IPv6", *hot[4], *hot[5], *hot[6], m_.v6_index_, m_.v6_starts_, m_.v6_records_, m_.n6_, full);
        e.status != Status::ok)
        return e;

    // 1.2 answers: all three sections or none.
    const auto* a4 = find_section(SectionKind::v4_answers);
    const auto* a6 = find_section(SectionKind::v6_answers);
    const auto* at = find_section(SectionKind::answers);
    if (!a4 && !a6 && !at) return {};
    if (!a4 || !a6 || !at) return make_error(Status::missing_section, "v4_answers, v6_answers and answers go together");
    for (const auto* sec : {a4, a6, at})
        if (auto e = optional_hot(*sec); e.status != Status::ok) return e;
    if (at->raw_size == 0 || at->raw_size % sizeof(format::Answer) != 0 ||
        at->raw_size / sizeof(format::Answer) > 0xffffffffu)
        return fail(*at, "wrong size");
    const auto* answers = array_at<format::Answer>(*at);
    const auto nans = static_cast<std::uint32_t>(at->raw_size / sizeof(format::Answer));
    const format::Answer& none = answers[0];
    if (none.categories != 0 || none.asn != 0 || none.provider.offset != 0 || none.provider.length != 0)
        return fail(*at, "answer 0 must be empty");
    for (std::uint32_t i = 0; full && i < nans; ++i)
        if (!str_ok(answers[i].provider)) return fail(*at, "provider name out of bounds at " + std::to_string(i));
    for (const auto& [sec, n] : {std::pair{a4, m_.n4_}, std::pair{a6, m_.n6_}}) {
        if (sec->raw_size != std::uint64_t{n} * 4) return fail(*sec, "answer count differs from start count");
        const auto* ids = array_at<std::uint32_t>(*sec);
        for (std::uint32_t i = 0; full && i < n; ++i)
            if (ids[i] >= nans) return fail(*sec, "answer id out of range at " + std::to_string(i));
    }
    m_.v4_answers_ = array_at<std::uint32_t>(*a4);
    m_.v6_answers_ = array_at<std::uint32_t>(*a6);
    m_.answers_ = answers;
    m_.nans_ = nans;
    return {};
}

}  // namespace anondb

#undef ANONDB_HOT_INLINE
