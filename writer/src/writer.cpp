#include "anondb/writer.hpp"

#include "anondb/signing.hpp"

#include <algorithm>
#include <bit>
#include <chrono>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <tuple>
#include <utility>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>
#include <zstd.h>

namespace anondb::writer {
namespace {

using format::SectionKind;

Error fail(std::string_view why) { return make_error(Status::invalid_argument, why); }

// One address partition table (IPv4 or IPv6) being built: segment starts
// and their answer ids, with touching equal-answer segments folded.
template <class Start>
struct Partition {
    std::vector<Start> starts;
    std::vector<std::uint32_t> answers;
    bool fold = true;  // false right after a zone boundary (see push_boundary)

    void push(Start start, std::uint32_t answer) {
        if (fold && !answers.empty() && answers.back() == answer) return;
        starts.push_back(start);
        answers.push_back(answer);
        fold = true;
    }
    void push_boundary(Start start, std::uint32_t answer) {
        starts.push_back(start);
        answers.push_back(answer);
        fold = false;
    }
};

format::Ip128 to128(Ip ip) { return {ip.hi, ip.lo}; }

// Covers [lo, hi] with segments: the parts of `ranges` inside it (answer
// answer_of[i] for ranges[i]) and answer-0 gaps between them. `ranges` is
// sorted and disjoint.
void cover_zone(const std::vector<RangeAnswer>& ranges, const std::vector<std::uint32_t>& answer_of, Ip lo, Ip hi,
                Partition<format::Ip128>& out) {
    Ip cursor = lo;
    bool done = false;  // cursor passed hi
    auto begin = std::lower_bound(ranges.begin(), ranges.end(), lo,
                                  [](const RangeAnswer& r, Ip a) { return r.range.last < a; });
    for (auto it = begin; it != ranges.end() && it->range.first <= hi && !done; ++it) {
        const Ip a = std::max(it->range.first, lo);
        const Ip b = std::min(it->range.last, hi);
        if (cursor < a) out.push(to128(cursor), 0);
        out.push(to128(a), answer_of[static_cast<std::size_t>(it - ranges.begin())]);
        if (b == hi) done = true;
        else cursor = ip_next(b);
    }
    if (!done) out.push(to128(cursor), 0);
}

void cover_v4(const std::vector<RangeAnswer>& ranges, const std::vector<std::uint32_t>& answer_of,
              Partition<std::uint32_t>& out) {
    std::uint64_t cursor = 0;  // next IPv4 address not yet covered; 2^32 = done
    auto begin = std::lower_bound(ranges.begin(), ranges.end(), kV4First,
                                  [](const RangeAnswer& r, Ip a) { return r.range.last < a; });
    for (auto it = begin; it != ranges.end() && it->range.first <= kV4Last; ++it) {
        const std::uint32_t a = std::max(it->range.first, kV4First).v4();
        const std::uint32_t b = std::min(it->range.last, kV4Last).v4();
        if (cursor < a) out.push(static_cast<std::uint32_t>(cursor), 0);
        out.push(a, answer_of[static_cast<std::size_t>(it - ranges.begin())]);
        cursor = std::uint64_t{b} + 1;
    }
    if (cursor <= 0xffffffffu) out.push(static_cast<std::uint32_t>(cursor), 0);
}

// Index width for n segments: a mean bucket of two to four starts, so the
// search loop runs a step or two (FORMAT.md, Lookup algorithm), within the
// family's range of widths. A bit more halves the buckets and doubles the
// index: measured on the IPFire set (bench/layout_bench), one more bit than
// this saves about a nanosecond a lookup and costs a megabyte.
unsigned index_bits(std::size_t n, unsigned min_bits) {
    const auto log2n = static_cast<unsigned>(std::bit_width(std::max<std::size_t>(n, 2)) - 1);
    return std::clamp(log2n - 1, min_bits, format::kMaxIndexBits);
}

// index[b] = number of starts whose bucket (key) is below b, for 2^bits + 1 b.
template <class Start, class Key>
std::vector<std::uint32_t> bucket_index(const std::vector<Start>& starts, unsigned bits, Key key) {
    const std::uint32_t buckets = 1u << bits;
    std::vector<std::uint32_t> index(std::size_t{buckets} + 1);
    std::size_t i = 0;
    for (std::uint32_t b = 0; b <= buckets; ++b) {
        while (i < starts.size() && key(starts[i]) < b) ++i;
        index[b] = static_cast<std::uint32_t>(i);
    }
    return index;
}

// `ids` as a packed array of `width` bytes each, then 4 - width zero bytes
// (FORMAT.md, Conventions).
std::vector<std::byte> packed(const std::vector<std::uint32_t>& ids, unsigned width) {
    std::vector<std::byte> out(ids.size() * width + 4 - width);
    for (std::size_t i = 0; i < ids.size(); ++i) std::memcpy(out.data() + i * width, &ids[i], width);
    return out;
}

template <class T>
std::vector<std::byte> as_bytes(const std::vector<T>& v) {
    std::vector<std::byte> out(v.size() * sizeof(T));
    if (!out.empty()) std::memcpy(out.data(), v.data(), out.size());
    return out;
}

// A column table being filled (FORMAT.md, Conventions): `columns` arrays
// of `rows` u32, column-major; delta() codes a column in place once it is
// filled.
class ColumnTable {
public:
    ColumnTable(std::uint32_t columns, std::size_t rows) : rows_(rows), values_(columns * rows) {}
    std::uint32_t& at(std::uint32_t column, std::size_t row) { return values_[column * rows_ + row]; }
    void delta(std::uint32_t column) {
        std::uint32_t* v = values_.data() + column * rows_;
        for (std::size_t i = rows_; i-- > 1;) v[i] -= v[i - 1];  // modulo 2^32
    }
    // Δfeed: each value minus the previous one of a row with the same
    // value in column `feed` (0 before a feed's first row).
    void delta_per_feed(std::uint32_t column, std::uint32_t feed) {
        std::uint32_t* v = values_.data() + column * rows_;
        const std::uint32_t* f = values_.data() + feed * rows_;
        std::map<std::uint32_t, std::uint32_t> last;
        for (std::size_t i = 0; i < rows_; ++i) {
            std::uint32_t& prev = last[f[i]];
            const std::uint32_t value = v[i];
            v[i] -= prev;  // modulo 2^32
            prev = value;
        }
    }
    std::vector<std::byte> bytes() const { return as_bytes(values_); }

private:
    std::size_t rows_;
    std::vector<std::uint32_t> values_;
};

std::uint32_t limb(Ip ip, unsigned k) {  // limb 0 = most significant 32 bits
    const std::uint64_t half = k < 2 ? ip.hi : ip.lo;
    return static_cast<std::uint32_t>(k % 2 == 0 ? half >> 32 : half);
}

// Deduplicating builder of the strings section.
class StringPool {
public:
    Expected<format::StrRef> add(std::string_view s) {
        if (auto it = index_.find(std::string(s)); it != index_.end()) return it->second;
        if (bytes_.size() + s.size() > 0xffffffffu) return fail("strings section past 4 GiB");
        const format::StrRef ref{static_cast<std::uint32_t>(bytes_.size()), static_cast<std::uint32_t>(s.size())};
        bytes_.append(s);
        index_.emplace(std::string(s), ref);
        return ref;
    }
    std::vector<std::byte> bytes() const {
        std::vector<std::byte> out(bytes_.size());
        if (!out.empty()) std::memcpy(out.data(), bytes_.data(), out.size());  // data() may be null when empty
        return out;
    }

private:
    std::string bytes_;
    std::map<std::string, format::StrRef> index_;
};

struct PendingSection {
    SectionKind kind;
    std::vector<std::byte> raw;
    bool compressible;
};

Error check_content(const DatabaseContent& c) {
    const auto nprov = c.providers.size();
    const auto norig = c.origins.size();
    if (nprov == 0 || nprov > 0xffffffffu || !c.providers[0].empty()) return fail("provider 0 must be the empty name");
    if (norig > 0xfffffffeu) return fail("origin count");
    for (std::size_t i = 0; i < norig; ++i) {
        const OriginInfo& o = c.origins[i];
        if (o.feed >= c.feeds.size() || o.provider >= nprov) return fail("origin refers to unknown feed or provider");
        // Links go one step (FORMAT.md): to another origin, which has none.
        if (o.link != format::kNoLink && (o.link >= norig || o.link == i || c.origins[o.link].link != format::kNoLink))
            return fail("origin link to an unknown origin, to itself, or to an origin with a link");
    }
    for (const auto& f : c.feeds)
        if (f.provider >= nprov || f.asn_table > c.feeds.size()) return fail("feed provider or ASN table out of range");
    for (const auto& x : c.exclusions)
        if (x.range.last < x.range.first || x.origin >= norig || x.rule >= norig)
            return fail("exclusion refers to an unknown origin or is empty");
    for (std::size_t i = 0; i < c.ranges.size(); ++i) {
        const auto& r = c.ranges[i];
        if (r.range.last < r.range.first) return fail("range end before start");
        if (r.provider >= nprov) return fail("range provider out of range");
        if (i > 0 && !(c.ranges[i - 1].range.last < r.range.first)) return fail("ranges not sorted and disjoint");
    }
    const auto& seen = c.first_seen ? *c.first_seen : std::vector<FirstSeenInfo>{};
    for (std::size_t i = 0; i < seen.size(); ++i) {
        const auto& r = seen[i].range;
        if (r.last < r.first) return fail("first-seen range end before start");
        if (i > 0 && !(seen[i - 1].range.last < r.first)) return fail("first-seen ranges not sorted and disjoint");
    }
    for (const auto& e : c.evidence) {
        if (e.range.last < e.range.first) return fail("evidence range end before start");
        if (e.origin >= norig) return fail("evidence of an unknown origin");
        const auto role = c.feeds[c.origins[e.origin].feed].role;
        if (role != format::FeedRole::ranges && role != format::FeedRole::asn_list)
            return fail("evidence of an origin that is an ASN-table row or an exclusion rule");
    }
    return {};
}

// Evidence order (FORMAT.md): first ascending, last descending, origin ascending.
bool evidence_less(const EvidenceInfo& a, const EvidenceInfo& b) noexcept {
    if (a.range.first != b.range.first) return a.range.first < b.range.first;
    if (a.range.last != b.range.last) return b.range.last < a.range.last;
    return a.origin < b.origin;
}

}  // namespace

Expected<std::vector<std::byte>> serialize(const DatabaseContent& c, const WriteOptions& options) {
    if (auto e = check_content(c); e.status != Status::ok) return e;

    StringPool pool;
    std::vector<format::StrRef> providers;
    for (const auto& p : c.providers) {
        auto ref = pool.add(p);
        if (!ref) return ref.error();
        providers.push_back(*ref);
    }

    // Answers: one per distinct (categories, AS, provider) among the
    // ranges, numbered in order of first appearance along the address
    // space; answer 0 is "no evidence".
    std::vector<format::Answer> answers{format::Answer{}};
    std::vector<std::uint32_t> answer_of(c.ranges.size());
    {
        std::map<std::tuple<std::uint32_t, std::uint32_t, std::uint32_t>, std::uint32_t> id_of;
        for (std::size_t i = 0; i < c.ranges.size(); ++i) {
            const RangeAnswer& r = c.ranges[i];
            const auto [it, fresh] =
                id_of.try_emplace({r.categories, r.asn, r.provider}, static_cast<std::uint32_t>(answers.size()));
            if (fresh) {
                const format::StrRef name = r.provider == 0 ? format::StrRef{0, 0} : providers[r.provider];
                answers.push_back({r.categories, r.asn, name});
            }
            answer_of[i] = it->second;
        }
    }
    if (answers.size() > 0xffffffffu) return fail("too many answers");
    const unsigned width = format::answer_id_width(answers.size());

    // Address partitions. The IPv6 table marks the IPv4-mapped block as one
    // answer-0 segment of its own; IPv4 addresses are answered by the IPv4 table.
    Partition<std::uint32_t> v4;
    cover_v4(c.ranges, answer_of, v4);
    Partition<format::Ip128> v6;
    cover_zone(c.ranges, answer_of, kIpMin, ip_prev(kV4First), v6);
    v6.push_boundary(to128(kV4First), 0);
    cover_zone(c.ranges, answer_of, ip_next(kV4Last), kIpMax, v6);
    if (v4.starts.size() > 0xffffffffu || v6.starts.size() > 0xffffffffu) return fail("too many segments");

    const unsigned v4_bits = index_bits(v4.starts.size(), format::kMinV4IndexBits);
    const unsigned v6_bits = index_bits(v6.starts.size(), format::kMinV6IndexBits);
    const auto v4_index = bucket_index(v4.starts, v4_bits, [v4_bits](std::uint32_t s) { return s >> (32 - v4_bits); });
    const auto v6_index =
        bucket_index(v6.starts, v6_bits, [v6_bits](const format::Ip128& s) { return static_cast<std::uint32_t>(s.hi >> (64 - v6_bits)); });
    std::vector<std::uint16_t> v4_low(v4.starts.size());
    for (std::size_t i = 0; i < v4.starts.size(); ++i) v4_low[i] = static_cast<std::uint16_t>(v4.starts[i]);

    std::vector<format::FeedEntry> feeds;
    for (const auto& f : c.feeds) {
        format::FeedEntry e{};
        for (auto [dst, src] : {std::pair{&e.name, &f.name}, {&e.url, &f.url}, {&e.source, &f.source}, {&e.format, &f.format}}) {
            auto ref = pool.add(*src);
            if (!ref) return ref.error();
            *dst = *ref;
        }
        e.categories = f.categories;
        e.provider = f.provider;
        e.fetched_at = f.fetched_at;
        e.bytes = f.bytes;
        e.accepted = f.accepted;
        e.rejected = f.rejected;
        std::memcpy(e.sha256, f.sha256.data(), 32);
        e.flags = f.flags;
        e.role = static_cast<std::uint32_t>(f.role);
        e.asn_table = f.asn_table;
        feeds.push_back(e);
    }

    // Origins as a column table. ASN-derived origins repeat their list
    // line once per table row: the text is stored once.
    ColumnTable origins(format::kOriginColumns, c.origins.size());
    std::vector<std::byte> origin_text;
    std::map<std::pair<const char*, std::size_t>, std::uint32_t> text_at;
    for (std::size_t i = 0; i < c.origins.size(); ++i) {
        const OriginInfo& o = c.origins[i];
        const auto [it, added] = text_at.try_emplace({o.text.data(), o.text.size()}, static_cast<std::uint32_t>(origin_text.size()));
        if (added) {
            if (o.text.size() > 0xffffffffu - origin_text.size()) return fail("origin text over 4 GiB");
            const auto* p = reinterpret_cast<const std::byte*>(o.text.data());
            origin_text.insert(origin_text.end(), p, p + o.text.size());
        }
        origins.at(format::kOriginFeed, i) = o.feed;
        origins.at(format::kOriginLine, i) = o.line;
        origins.at(format::kOriginCategories, i) = o.categories;
        origins.at(format::kOriginProvider, i) = o.provider;
        origins.at(format::kOriginTextOffset, i) = it->second;
        origins.at(format::kOriginTextLength, i) = static_cast<std::uint32_t>(o.text.size());
        origins.at(format::kOriginAsn, i) = o.asn;
        origins.at(format::kOriginLink, i) = o.link;
    }
    for (auto column : {format::kOriginLine, format::kOriginTextOffset, format::kOriginLink})
        origins.delta_per_feed(column, format::kOriginFeed);

    // Evidence, sorted and unique, as a column table.
    std::vector<EvidenceInfo> rows = c.evidence;
    std::sort(rows.begin(), rows.end(), evidence_less);
    rows.erase(std::unique(rows.begin(), rows.end(),
                           [](const EvidenceInfo& a, const EvidenceInfo& b) {
                               return a.range == b.range && a.origin == b.origin;
                           }),
               rows.end());
    ColumnTable evidence(format::kEvidenceColumns, rows.size());
    for (std::size_t i = 0; i < rows.size(); ++i) {
        evidence.at(format::kEvidenceFeed, i) = c.origins[rows[i].origin].feed;
        evidence.at(format::kEvidenceOrigin, i) = rows[i].origin;
        for (unsigned k = 0; k < 4; ++k) {
            evidence.at(format::kEvidenceFirst + k, i) = limb(rows[i].range.first, k);
            evidence.at(format::kEvidenceLast + k, i) = limb(rows[i].range.last, k) - limb(rows[i].range.first, k);
        }
    }
    evidence.delta_per_feed(format::kEvidenceOrigin, format::kEvidenceFeed);
    for (unsigned k = 0; k < 4; ++k) evidence.delta(format::kEvidenceFirst + k);

    std::vector<format::ExclusionEntry> exclusions;
    exclusions.reserve(c.exclusions.size());
    for (const auto& x : c.exclusions) exclusions.push_back({to128(x.range.first), to128(x.range.last), x.origin, x.rule});
    std::sort(exclusions.begin(), exclusions.end(), [](const format::ExclusionEntry& a, const format::ExclusionEntry& b) {
        auto key = [](const format::ExclusionEntry& x) {
            return std::tuple(x.first.hi, x.first.lo, x.last.hi, x.last.lo, x.origin, x.rule);
        };
        return key(a) < key(b);
    });

    const auto& seen = c.first_seen ? *c.first_seen : std::vector<FirstSeenInfo>{};
    ColumnTable first_seen(format::kFirstSeenColumns, seen.size());
    for (std::size_t i = 0; i < seen.size(); ++i) {
        const Range& r = seen[i].range;
        for (unsigned k = 0; k < 4; ++k) {
            first_seen.at(format::kFirstSeenFirst + k, i) = limb(r.first, k);
            first_seen.at(format::kFirstSeenLast + k, i) = limb(r.last, k) - limb(r.first, k);
        }
        first_seen.at(format::kFirstSeenDay, i) = seen[i].day;
    }
    for (unsigned k = 0; k < 4; ++k) first_seen.delta(format::kFirstSeenFirst + k);

    std::vector<PendingSection> sections;
    sections.push_back({SectionKind::v4_index, as_bytes(v4_index), false});
    sections.push_back({SectionKind::v4_starts, as_bytes(v4_low), false});
    sections.push_back({SectionKind::v4_answers, packed(v4.answers, width), false});
    sections.push_back({SectionKind::v6_index, as_bytes(v6_index), false});
    sections.push_back({SectionKind::v6_starts, as_bytes(v6.starts), false});
    sections.push_back({SectionKind::v6_answers, packed(v6.answers, width), false});
    sections.push_back({SectionKind::answers, as_bytes(answers), false});
    sections.push_back({SectionKind::strings, pool.bytes(), false});
    sections.push_back({SectionKind::feeds, as_bytes(feeds), false});
    sections.push_back({SectionKind::providers, as_bytes(providers), true});
    sections.push_back({SectionKind::origins, origins.bytes(), true});
    sections.push_back({SectionKind::origin_text, std::move(origin_text), true});
    sections.push_back({SectionKind::evidence, evidence.bytes(), true});
    sections.push_back({SectionKind::exclusions, as_bytes(exclusions), true});
    {
        std::vector<std::byte> meta(c.metadata_json.size());
        if (!meta.empty()) std::memcpy(meta.data(), c.metadata_json.data(), meta.size());
        sections.push_back({SectionKind::metadata, std::move(meta), true});
    }

    if (options.signing_key) {
        // The signature itself is filled in once the rest of the file is laid out.
        format::SignatureSection sig{};
        sig.algorithm = format::kSignatureEd25519;
        const auto& pub = options.signing_key->public_key().bytes;
        std::copy(pub.begin(), pub.end(), sig.public_key);
        std::vector<std::byte> raw(sizeof sig);
        std::memcpy(raw.data(), &sig, sizeof sig);
        sections.push_back({SectionKind::signature, std::move(raw), false});
    }
    if (c.first_seen) sections.push_back({SectionKind::first_seen, first_seen.bytes(), true});

    // Lay out: header, table, then each section at the next 64-byte boundary.
    const std::uint64_t table_offset = sizeof(format::Header);
    const std::uint64_t table_bytes = sections.size() * sizeof(format::SectionEntry);
    auto align = [](std::uint64_t x) { return (x + format::kSectionAlign - 1) / format::kSectionAlign * format::kSectionAlign; };
    std::vector<format::SectionEntry> table;
    std::vector<std::vector<std::byte>> stored;
    std::uint64_t cursor = align(table_offset + table_bytes);
    for (auto& s : sections) {
        format::SectionEntry e{};
        e.kind = static_cast<std::uint32_t>(s.kind);
        e.raw_size = s.raw.size();
        std::vector<std::byte> bytes = std::move(s.raw);
        if (s.compressible && options.compress_cold && !bytes.empty()) {
            std::vector<std::byte> z(ZSTD_compressBound(bytes.size()));
            const std::size_t n = ZSTD_compress(z.data(), z.size(), bytes.data(), bytes.size(), options.zstd_level);
            if (ZSTD_isError(n)) return make_error(Status::invalid_argument, std::string("zstd: ") + ZSTD_getErrorName(n));
            if (n < bytes.size()) {
                z.resize(n);
                bytes = std::move(z);
                e.encoding = static_cast<std::uint32_t>(format::Encoding::zstd);
            }
        }
        e.offset = cursor;
        e.stored_size = bytes.size();
        e.checksum = XXH64(bytes.data(), bytes.size(), 0);
        cursor = align(cursor + bytes.size());
        table.push_back(e);
        stored.push_back(std::move(bytes));
    }
    const std::uint64_t file_size = table.back().offset + table.back().stored_size;

    std::vector<std::byte> out(file_size, std::byte{0});
    format::Header h{};
    std::memcpy(h.magic, format::kMagic, sizeof h.magic);
    h.major = format::kMajor;
    h.minor = format::kMinor;
    h.header_size = sizeof(format::Header);
    h.file_size = file_size;
    h.data_version = c.data_version;
    h.build_time = c.build_time;
    h.section_count = static_cast<std::uint32_t>(table.size());
    h.section_entry_size = sizeof(format::SectionEntry);
    h.section_table_offset = table_offset;
    std::memcpy(out.data(), &h, sizeof h);
    std::memcpy(out.data() + table_offset, table.data(), table_bytes);
    for (std::size_t i = 0; i < table.size(); ++i)
        if (!stored[i].empty()) std::memcpy(out.data() + table[i].offset, stored[i].data(), stored[i].size());

    // The table checksum covers the header up to the checksum field, then the table.
    auto seal = [&] {
        XXH64_state_t* st = XXH64_createState();
        XXH64_reset(st, 0);
        XXH64_update(st, out.data(), offsetof(format::Header, table_checksum));
        XXH64_update(st, out.data() + table_offset, table_bytes);
        h.table_checksum = XXH64_digest(st);
        XXH64_freeState(st);
        std::memcpy(out.data(), &h, sizeof h);
    };
    seal();
    if (options.signing_key) {
        // Sign the file as it stands (the message reads the signature, its
        // checksum and the table checksum as zeros: FORMAT.md), then fill
        // in the signature and the two checksums that cover it.
        const auto entry = static_cast<std::size_t>(
            std::find_if(table.begin(), table.end(),
                         [](const format::SectionEntry& e) { return e.kind == std::uint32_t(SectionKind::signature); }) -
            table.begin());
        auto sig = options.signing_key->sign(signed_message(out, entry));
        if (!sig) return sig.error();
        format::SectionEntry& e = table[entry];
        std::memcpy(out.data() + e.offset + offsetof(format::SignatureSection, signature), sig->data(), sig->size());
        e.checksum = XXH64(out.data() + e.offset, e.stored_size, 0);
        std::memcpy(out.data() + table_offset + entry * sizeof(format::SectionEntry), &e, sizeof e);
        seal();
    }
    return out;
}

int write_fully(int fd, std::span<const std::byte> bytes) noexcept {
    std::size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        done += static_cast<std::size_t>(n);
    }
    return 0;
}

namespace {

// The file being written, before it has its final name. With O_TMPFILE it
// has no name at all while the bytes go in, so a writer killed meanwhile
// leaves nothing behind; it gets a temporary name only to be renamed over
// the target (link, then rename: the kernel has no "link over"). Where the
// filesystem has no O_TMPFILE, a named temporary file from the start.
class PendingFile {
public:
    static Expected<PendingFile> create(const std::filesystem::path& dir, const std::filesystem::path& target) {
        PendingFile f;
        // Hidden name in the target's directory, so rename() stays on one filesystem.
        // Built by appending: GCC 12 warns (-Wrestrict, wrongly) on "." + string.
        std::string name = ".";
        name += target.filename().string();
        name += ".tmp.XXXXXX";
        f.name_ = (dir / name).string();
        f.fd_ = ::open(dir.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
        if (f.fd_ >= 0) return f;
        if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
            return make_error(Status::io, "create temporary file in " + dir.string() + ": " + std::strerror(errno));
        f.fd_ = ::mkstemp(f.name_.data());
        if (f.fd_ < 0)
            return make_error(Status::io, "create temporary file in " + dir.string() + ": " + std::strerror(errno));
        f.named_ = true;
        return f;
    }
    PendingFile(PendingFile&& o) noexcept
        : fd_(std::exchange(o.fd_, -1)), name_(std::move(o.name_)), named_(std::exchange(o.named_, false)) {}
    PendingFile& operator=(PendingFile&&) = delete;
    ~PendingFile() {
        if (fd_ >= 0) ::close(fd_);
        if (named_) ::unlink(name_.c_str());  // not renamed: remove what we made
    }
    int fd() const noexcept { return fd_; }
    const std::string& name() const noexcept { return name_; }

    // Gives the file its temporary name (a no-op when it has one), closes it
    // and renames it to `path`. On failure nothing named stays behind.
    Expected<Ok> publish(const std::string& path) {
        if (!named_) {
            // linkat through /proc needs no privilege, unlike AT_EMPTY_PATH.
            const std::string proc = "/proc/self/fd/" + std::to_string(fd_);
            for (int attempt = 0;; ++attempt) {
                // Unique enough with the pid, the time and the attempt; a
                // clash is EEXIST and another try.
                const std::string candidate =
                    name_.substr(0, name_.size() - 6) + std::to_string(::getpid()) + "." +
                    std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()) + "." +
                    std::to_string(attempt);
                if (::linkat(AT_FDCWD, proc.c_str(), AT_FDCWD, candidate.c_str(), AT_SYMLINK_FOLLOW) == 0) {
                    name_ = std::move(candidate);
                    named_ = true;
                    break;
                }
                if (errno != EEXIST || attempt == 8)
                    return make_error(Status::io, "name temporary file " + candidate + ": " + std::strerror(errno));
            }
        }
        const int fd = std::exchange(fd_, -1);
        if (::close(fd) != 0) return make_error(Status::io, "close " + name_ + ": " + std::strerror(errno));
        if (::rename(name_.c_str(), path.c_str()) != 0)
            return make_error(Status::io, "rename to " + path + ": " + std::strerror(errno));
        named_ = false;  // it is `path` now
        return Ok{};
    }

private:
    PendingFile() = default;
    int fd_ = -1;
    std::string name_;
    bool named_ = false;
};

}  // namespace

Expected<Ok> write_file_atomic(const std::string& path, std::span<const std::byte> bytes) {
    namespace fs = std::filesystem;
    const fs::path target(path);
    const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
    auto file = PendingFile::create(dir, target);
    if (!file) return file.error();
    auto fail = [&](const char* what, int e) {
        return make_error(Status::io, std::string(what) + " " + file->name() + ": " + std::strerror(e));
    };
    if (const int e = write_fully(file->fd(), bytes); e != 0) return fail("write", e);
    if (::fchmod(file->fd(), 0644) != 0) return fail("chmod", errno);
    if (::fsync(file->fd()) != 0) return fail("fsync", errno);
    if (auto published = file->publish(path); !published) return published.error();
    // Make the rename itself durable.
    if (const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
    }
    return Ok{};
}

}  // namespace anondb::writer
