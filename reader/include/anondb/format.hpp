// The .anondb on-disk layout. docs/FORMAT.md is the specification; this
// header mirrors it field by field and asserts every size and offset, so the
// compiler cannot insert padding the spec does not describe.
//
// All integers are little-endian. The reader uses these structs in place in
// the mapped file; it refuses to build on big-endian hosts.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace anondb::format {

static_assert(std::endian::native == std::endian::little,
              "the .anondb reader maps little-endian data in place");

inline constexpr unsigned char kMagic[8] = {0x89, 'A', 'N', 'O', 'N', 'D', 'B', '\n'};
inline constexpr std::uint16_t kMajor = 2;  // readers refuse other majors
inline constexpr std::uint16_t kMinor = 2;  // additions only; readers accept any minor
inline constexpr std::uint64_t kSectionAlign = 64;

struct Header {
    unsigned char magic[8];
    std::uint16_t major;
    std::uint16_t minor;
    std::uint32_t header_size;         // sizeof(Header)
    std::uint64_t file_size;           // exact size of the whole file
    std::uint64_t data_version;        // monotonic build serial
    std::int64_t build_time;           // Unix seconds, UTC
    std::uint32_t section_count;
    std::uint32_t section_entry_size;  // sizeof(SectionEntry)
    std::uint64_t section_table_offset;
    std::uint64_t table_checksum;      // XXH64 of bytes [0,56) then the section table
};
static_assert(sizeof(Header) == 64);
static_assert(offsetof(Header, file_size) == 16);
static_assert(offsetof(Header, build_time) == 32);
static_assert(offsetof(Header, section_count) == 40);
static_assert(offsetof(Header, section_table_offset) == 48);
static_assert(offsetof(Header, table_checksum) == 56);

enum class Encoding : std::uint32_t { raw = 0, zstd = 1 };

struct SectionEntry {
    std::uint32_t kind;       // SectionKind
    std::uint32_t encoding;   // Encoding
    std::uint64_t offset;     // from file start, multiple of kSectionAlign
    std::uint64_t stored_size;
    std::uint64_t raw_size;   // == stored_size when raw
    std::uint64_t checksum;   // XXH64 (seed 0) of the stored bytes
    std::uint64_t reserved;   // 0
};
static_assert(sizeof(SectionEntry) == 48);
static_assert(offsetof(SectionEntry, offset) == 8);
static_assert(offsetof(SectionEntry, checksum) == 32);

enum class SectionKind : std::uint32_t {
    v4_index = 1,     // u32[2^b4 + 1]          hot
    v4_starts = 2,    // u16[n4]                hot
    v4_answers = 3,   // packed ids, w bytes    hot
    v6_index = 4,     // u32[2^b6 + 1]          hot
    v6_starts = 5,    // Ip128[n6]              hot
    v6_answers = 6,   // packed ids, w bytes    hot
    answers = 7,      // Answer[nans]           hot
    strings = 8,      // bytes                  hot
    feeds = 9,        // FeedEntry[nfeed]       raw, checked at open
    providers = 10,   // StrRef[nprov]          cold
    origins = 11,     // column table, 8 cols   cold
    origin_text = 12, // bytes                  cold
    evidence = 13,    // column table, 10 cols  cold
    exclusions = 14,  // ExclusionEntry[]       cold
    metadata = 15,    // UTF-8 JSON             cold
    // 2.1; optional.
    signature = 16,   // SignatureSection       raw, checked at open
    // 2.2; optional.
    first_seen = 17,  // column table, 9 cols   cold
};
inline constexpr std::uint32_t kMaxKnownKind = 17;
inline constexpr std::uint32_t kMaxRequiredKind = 15;  // kinds 1..15 are in every file

// Sections opened raw and checked at open (lookups read all but feeds).
constexpr bool is_hot(SectionKind k) noexcept {
    const auto v = static_cast<std::uint32_t>(k);
    return v >= 1 && v <= 9;
}

constexpr std::string_view section_name(std::uint32_t kind) noexcept {
    switch (static_cast<SectionKind>(kind)) {
        case SectionKind::v4_index: return "v4_index";
        case SectionKind::v4_starts: return "v4_starts";
        case SectionKind::v4_answers: return "v4_answers";
        case SectionKind::v6_index: return "v6_index";
        case SectionKind::v6_starts: return "v6_starts";
        case SectionKind::v6_answers: return "v6_answers";
        case SectionKind::answers: return "answers";
        case SectionKind::strings: return "strings";
        case SectionKind::feeds: return "feeds";
        case SectionKind::providers: return "providers";
        case SectionKind::origins: return "origins";
        case SectionKind::origin_text: return "origin_text";
        case SectionKind::evidence: return "evidence";
        case SectionKind::exclusions: return "exclusions";
        case SectionKind::metadata: return "metadata";
        case SectionKind::signature: return "signature";
        case SectionKind::first_seen: return "first_seen";
    }
    return "unknown";
}

// Index widths: 2^bits buckets on the top bits of the address. IPv4
// starts are stored as their low 16 bits, so the IPv4 index needs 16 bits
// at least.
inline constexpr unsigned kMinV4IndexBits = 16;
inline constexpr unsigned kMinV6IndexBits = 8;
inline constexpr unsigned kMaxIndexBits = 24;

// Bytes of an answer id for `answer_count` answers (answer 0 included).
constexpr unsigned answer_id_width(std::uint64_t answer_count) noexcept {
    return answer_count <= (1ull << 8) ? 1 : answer_count <= (1ull << 16) ? 2 : answer_count <= (1ull << 24) ? 3 : 4;
}

// Column counts of the column tables (docs/FORMAT.md, Conventions).
inline constexpr std::uint32_t kOriginColumns = 8;
inline constexpr std::uint32_t kEvidenceColumns = 10;
inline constexpr std::uint32_t kFirstSeenColumns = 9;

// The columns of `origins`, in order; Δfeed ones are delta-coded per feed
// (from the previous row with the same feed column).
enum OriginColumn : std::uint32_t {
    kOriginFeed = 0,
    kOriginLine = 1,        // Δfeed
    kOriginCategories = 2,
    kOriginProvider = 3,
    kOriginTextOffset = 4,  // Δfeed
    kOriginTextLength = 5,
    kOriginAsn = 6,
    kOriginLink = 7,        // Δfeed
};
// The columns of `evidence`: the origin's feed, the origin (Δfeed), first
// limbs 0..3 (Δ each), last limbs 0..3 (each minus the first's limb), limb
// 0 most significant.
enum EvidenceColumn : std::uint32_t {
    kEvidenceFeed = 0,
    kEvidenceOrigin = 1,  // Δfeed
    kEvidenceFirst = 2,
    kEvidenceLast = 6,
};

// The columns of `first_seen`: first limbs 0..3 (Δ each), last limbs 0..3
// (each minus the first's limb), the day (days since 1970-01-01 UTC).
enum FirstSeenColumn : std::uint32_t {
    kFirstSeenFirst = 0,
    kFirstSeenLast = 4,
    kFirstSeenDay = 8,
};

struct Ip128 {
    std::uint64_t hi;
    std::uint64_t lo;
};
static_assert(sizeof(Ip128) == 16);

struct StrRef {
    std::uint32_t offset;  // into the strings section
    std::uint32_t length;
};
static_assert(sizeof(StrRef) == 8);

// What a lookup returns, once per distinct (categories, AS, provider): few
// enough to stay in cache. Answer 0 is "no evidence": all fields zero. The
// provider is its name itself (a StrRef into strings), so a lookup reads
// no providers entry.
struct Answer {
    std::uint32_t categories;  // Category bits
    std::uint32_t asn;         // the AS of the narrowest ASN-derived evidence; 0 = none
    StrRef provider;           // the provider's name; {0, 0} = none
};
static_assert(sizeof(Answer) == 16);

enum FeedFlags : std::uint32_t {
    kFeedSnapshot = 1u << 0,   // bytes came from the bundled offline snapshot
    kFeedFromCache = 1u << 1,  // an HTTP 304 reused the cached body
    kFeedStale = 1u << 2,      // the fetch failed; the last good copy was used
};

// What a feed contributes to a build.
enum class FeedRole : std::uint32_t {
    ranges = 0,      // address ranges, each an origin in provenance
    asn_list = 1,    // ASNs of providers, expanded through an ASN table
    asn_table = 2,   // prefix -> origin AS; its rows are origins linked from derived ones
    exclusions = 3,  // rules removing ASN-derived space; its lines are origins of exclusions
};
inline constexpr std::uint32_t kMaxFeedRole = 3;

// The role's name in reports and JSON ("unknown" past kMaxFeedRole).
constexpr std::string_view role_name(std::uint32_t role) noexcept {
    constexpr std::string_view kNames[] = {"ranges", "asn-list", "asn-table", "exclusions"};
    return role <= kMaxFeedRole ? kNames[role] : "unknown";
}

struct FeedEntry {
    StrRef name;
    StrRef url;          // catalogue URL
    StrRef source;       // what was read: final URL after redirects, or snapshot path
    StrRef format;
    std::uint32_t categories;
    std::uint32_t provider;  // index into providers; 0 = none
    std::int64_t fetched_at; // Unix seconds, UTC
    std::uint64_t bytes;
    std::uint64_t accepted;
    std::uint64_t rejected;
    std::uint8_t sha256[32];
    std::uint32_t flags;     // FeedFlags
    std::uint32_t role;      // FeedRole (1.1; 0 in 1.0 files)
    std::uint32_t asn_table; // asn_list feeds: index + 1 of the ASN table feed expanded through; 0 = none
    std::uint32_t reserved[3];
};
static_assert(sizeof(FeedEntry) == 128);
static_assert(offsetof(FeedEntry, role) == 108);
static_assert(offsetof(FeedEntry, asn_table) == 112);
static_assert(offsetof(FeedEntry, fetched_at) == 40);
static_assert(offsetof(FeedEntry, sha256) == 72);
static_assert(offsetof(FeedEntry, flags) == 104);

// Origin column `link`: for an ASN-derived origin, the origin id of the
// ASN-table row it came through; kNoLink otherwise.
inline constexpr std::uint32_t kNoLink = 0xFFFFFFFFu;

// The signature section (2.1): an Ed25519 signature over the whole file
// (docs/FORMAT.md, Signature). The public key names the signer; a verifier
// trusts its own copy of the key, never this one, and only compares them.
inline constexpr std::uint32_t kSignatureEd25519 = 1;
struct SignatureSection {
    std::uint32_t algorithm;          // kSignatureEd25519
    std::uint32_t reserved;           // 0
    std::uint8_t public_key[32];      // raw Ed25519 public key of the signer
    std::uint8_t signature[64];       // Ed25519 signature of kSignatureContext || SHA-512(file as signed)
};
static_assert(sizeof(SignatureSection) == 104);
static_assert(offsetof(SignatureSection, public_key) == 8);
static_assert(offsetof(SignatureSection, signature) == 40);
// Prefixed to the digest before signing, so that a signature over an
// anondb file can never be taken for one over anything else.
inline constexpr std::string_view kSignatureContext = "anondb database signature v1";

// Address space an exclusion rule removed from an ASN-derived entry.
// Sorted by (first, last, origin, rule).
struct ExclusionEntry {
    Ip128 first;
    Ip128 last;
    std::uint32_t origin;  // the ASN-derived origin that would have covered it
    std::uint32_t rule;    // origin id of the exclusion rule's line
};
static_assert(sizeof(ExclusionEntry) == 40);

}  // namespace anondb::format
