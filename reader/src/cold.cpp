#include <algorithm>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <queue>

#include <zstd.h>

#include "anondb/explain.hpp"
#include "anondb/seen.hpp"

namespace anondb {

using format::SectionKind;

namespace {

// One origin, decoded from the column table.
struct Origin {
    std::uint32_t feed, line, categories, provider, text_offset, text_length, asn, link;
};

// Explain skips blocks of evidence rows none of which reaches the address.
constexpr std::size_t kBlock = 64;

}  // namespace

struct ColdData::Impl {
    const Database* db = nullptr;
    // Each cold section as bytes: a view of the mapping when raw, else owned.
    struct Section {
        std::vector<std::byte> owned;
        std::span<const std::byte> bytes;
    };
    Section providers_sec, origins_sec, origin_text, evidence_sec, exclusions_sec, metadata, first_seen_sec;

    std::vector<format::StrRef> providers;
    std::vector<Origin> origins;
    std::vector<Range> row_ranges;          // evidence rows, in file order
    std::vector<std::uint32_t> row_origin;  // and their origins
    std::vector<Ip> block_max_last;         // per kBlock rows: the highest last
    std::span<const format::ExclusionEntry> exclusions;
    bool has_first_seen = false;
    std::vector<Range> seen_ranges;         // first_seen rows, in order
    std::vector<std::uint32_t> seen_days;   // and their days

    Evidence evidence(std::uint32_t origin) const;
    Contribution contribution(std::uint32_t origin) const;
};

namespace {

// Decodes one zstd frame of exactly `raw_size` bytes into `out`, which
// grows with what the frame yields rather than what it declares: a 17-byte
// frame declaring 3 GiB (found by the reader fuzz target) fails after
// decoding nothing, not after allocating 3 GiB. Returns the reason it
// failed, empty on success.
std::string decode_zstd(std::span<const std::byte> stored, std::size_t raw_size, std::vector<std::byte>& out) {
    const std::unique_ptr<ZSTD_DCtx, decltype(&ZSTD_freeDCtx)> dctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
    if (!dctx) throw std::bad_alloc();
    // A first buffer of eight times the stored bytes (a cold section's usual
    // ratio is 2-20) or 1 MiB, doubled as needed up to one byte past
    // raw_size (room to see a frame that yields more).
    const std::size_t cap = raw_size + 1;
    out.resize(std::min(cap, std::max<std::size_t>(stored.size() * 8, std::size_t{1} << 20)));
    ZSTD_inBuffer in{stored.data(), stored.size(), 0};
    ZSTD_outBuffer o{out.data(), out.size(), 0};
    for (;;) {
        const std::size_t in_before = in.pos, out_before = o.pos;
        const std::size_t r = ZSTD_decompressStream(dctx.get(), &o, &in);
        if (ZSTD_isError(r)) return ZSTD_getErrorName(r);
        if (r == 0) break;  // the frame is complete
        if (o.pos < o.size) {
            if (in.pos == in.size) return "truncated frame";
            if (in.pos == in_before && o.pos == out_before) return "no progress";
            continue;
        }
        if (o.size == cap) return "more output than declared";
        out.resize(std::min(cap, o.size * 2));
        o = {out.data(), out.size(), o.pos};
    }
    if (in.pos != in.size) return "bytes after the frame";
    if (o.pos != raw_size) return o.pos < raw_size ? "short output" : "more output than declared";
    out.resize(raw_size);
    return {};
}

Error load_section(const Database& db, SectionKind kind, ColdData::Impl::Section& out) {
    const auto* s = db.find_section(kind);
    if (!s) return make_error(Status::missing_section, std::string(format::section_name(static_cast<std::uint32_t>(kind))));
    const auto stored = db.stored_bytes(*s);
    if (detail::xxh64(stored.data(), stored.size()) != s->checksum)
        return make_error(Status::checksum, detail::section_context(*s));
    if (s->encoding == static_cast<std::uint32_t>(format::Encoding::raw)) {
        out.bytes = stored;
        return {};
    }
    // Sizes come from a checked table but an untrusted file: the frame must
    // declare raw_size, at most 4 GiB.
    const unsigned long long framed = ZSTD_getFrameContentSize(stored.data(), stored.size());
    if (framed == ZSTD_CONTENTSIZE_ERROR || framed == ZSTD_CONTENTSIZE_UNKNOWN || framed != s->raw_size ||
        s->raw_size > (std::uint64_t{1} << 32))
        return make_error(Status::decompress, detail::section_context(*s) + ": bad frame size");
    if (auto e = decode_zstd(stored, static_cast<std::size_t>(s->raw_size), out.owned); !e.empty())
        return make_error(Status::decompress, detail::section_context(*s) + ": " + e);
    out.bytes = out.owned;
    return {};
}

Error corrupt(SectionKind kind, const std::string& why) {
    return make_error(Status::corrupt, std::string("section ") +
                                           std::string(format::section_name(static_cast<std::uint32_t>(kind))) + ": " + why);
}

// The decoded columns of a column table of `k` columns (FORMAT.md,
// Conventions): column c, row i is at [c * rows + i]. The Δ columns are
// still coded; decode_delta() undoes one.
struct Columns {
    std::vector<std::uint32_t> values;
    std::size_t rows = 0;
    std::uint32_t* column(std::uint32_t c) { return values.data() + c * rows; }
    void decode_delta(std::uint32_t c) {
        std::uint32_t* v = column(c);
        for (std::size_t i = 1; i < rows; ++i) v[i] += v[i - 1];  // modulo 2^32
    }
    // Δfeed, given a feed column whose values are all below `feeds`.
    void decode_delta_per_feed(std::uint32_t c, std::uint32_t feed_column, std::size_t feeds) {
        std::uint32_t* v = column(c);
        const std::uint32_t* f = column(feed_column);
        std::vector<std::uint32_t> last(feeds, 0);
        for (std::size_t i = 0; i < rows; ++i) last[f[i]] = v[i] += last[f[i]];  // modulo 2^32
    }
    // The ranges of the rows, from first limbs in columns `first` to
    // `first + 3` (Δ each, decoded here) and last limbs in `last` to
    // `last + 3` (each stored minus the first's limb), limb 0 most
    // significant (FORMAT.md, Conventions).
    std::vector<Range> ranges(std::uint32_t first, std::uint32_t last) {
        for (unsigned k = 0; k < 4; ++k) decode_delta(first + k);
        std::vector<Range> out(rows);
        std::uint32_t a[4], b[4];
        for (std::size_t i = 0; i < rows; ++i) {
            for (unsigned k = 0; k < 4; ++k) {
                a[k] = column(first + k)[i];
                b[k] = column(last + k)[i] + a[k];  // modulo 2^32
            }
            out[i] = {Ip{std::uint64_t{a[0]} << 32 | a[1], std::uint64_t{a[2]} << 32 | a[3]},
                      Ip{std::uint64_t{b[0]} << 32 | b[1], std::uint64_t{b[2]} << 32 | b[3]}};
        }
        return out;
    }
    // The first row whose value in `c` is `limit` or more; rows if none.
    std::size_t first_at_or_above(std::uint32_t c, std::uint64_t limit) {
        const std::uint32_t* v = column(c);
        for (std::size_t i = 0; i < rows; ++i)
            if (v[i] >= limit) return i;
        return rows;
    }
};

Expected<Columns> columns_of(const ColdData::Impl::Section& s, std::uint32_t k, SectionKind kind) {
    if (s.bytes.size() % (4 * k) != 0) return corrupt(kind, "size is not a whole number of rows");
    Columns c;
    c.rows = s.bytes.size() / (4 * k);
    c.values.resize(s.bytes.size() / 4);
    if (!s.bytes.empty()) std::memcpy(c.values.data(), s.bytes.data(), s.bytes.size());
    return c;
}


// last - first of a range, compared as a number (the "narrowest" rule).
Ip width(Range r) { return Ip{r.last.hi - r.first.hi - (r.last.lo < r.first.lo ? 1u : 0u), r.last.lo - r.first.lo}; }

// The IPv4-mapped block or the space outside it: explain's range stays in
// the address family of the address.
Range family_of(Ip ip) {
    if (ip.is_v4()) return {kV4First, kV4Last};
    return ip < kV4First ? Range{kIpMin, ip_prev(kV4First)} : Range{ip_next(kV4Last), kIpMax};
}

}  // namespace

Expected<ColdData> ColdData::load(const Database& db) {
    auto impl = std::make_unique<Impl>();
    impl->db = &db;
    for (auto [kind, sec] : {std::pair{SectionKind::providers, &impl->providers_sec},
                             {SectionKind::origins, &impl->origins_sec},
                             {SectionKind::origin_text, &impl->origin_text},
                             {SectionKind::evidence, &impl->evidence_sec},
                             {SectionKind::exclusions, &impl->exclusions_sec},
                             {SectionKind::metadata, &impl->metadata}}) {
        if (auto e = load_section(db, kind, *sec); e.status != Status::ok) return e;
    }

    // Providers: every name inside strings, provider 0 the empty name.
    const auto& pb = impl->providers_sec.bytes;
    if (pb.size() % sizeof(format::StrRef) != 0 || pb.size() / sizeof(format::StrRef) != db.provider_count())
        return corrupt(SectionKind::providers, "size is not the provider count");
    impl->providers.resize(db.provider_count());
    if (!pb.empty()) std::memcpy(impl->providers.data(), pb.data(), pb.size());
    for (std::size_t i = 0; i < impl->providers.size(); ++i)
        if (!db.string_ok(impl->providers[i]))
            return corrupt(SectionKind::providers, "name out of bounds at " + std::to_string(i));
    if (impl->providers.empty() || impl->providers[0].length != 0)
        return corrupt(SectionKind::providers, "provider 0 must be the empty name");

    // Origins.
    auto oc = columns_of(impl->origins_sec, format::kOriginColumns, SectionKind::origins);
    if (!oc) return oc.error();
    const std::size_t nfeed = db.feeds().size();
    if (const std::size_t bad = oc->first_at_or_above(format::kOriginFeed, nfeed); bad < oc->rows)
        return corrupt(SectionKind::origins, "origin " + std::to_string(bad) + ": unknown feed");
    for (auto column : {format::kOriginLine, format::kOriginTextOffset, format::kOriginLink})
        oc->decode_delta_per_feed(column, format::kOriginFeed, nfeed);
    const std::size_t norig = oc->rows;
    if (norig > 0xfffffffeu) return corrupt(SectionKind::origins, "too many origins");
    const std::uint64_t text_size = impl->origin_text.bytes.size();
    impl->origins.resize(norig);
    for (std::size_t i = 0; i < norig; ++i) {
        Origin& o = impl->origins[i];
        o = {oc->column(format::kOriginFeed)[i],       oc->column(format::kOriginLine)[i],
             oc->column(format::kOriginCategories)[i], oc->column(format::kOriginProvider)[i],
             oc->column(format::kOriginTextOffset)[i], oc->column(format::kOriginTextLength)[i],
             oc->column(format::kOriginAsn)[i],        oc->column(format::kOriginLink)[i]};
        if (o.feed >= db.feeds().size() || o.provider >= db.provider_count() || o.text_offset > text_size ||
            o.text_length > text_size - o.text_offset)
            return corrupt(SectionKind::origins, "origin " + std::to_string(i) + " refers outside the file");
        if (o.link != format::kNoLink && (o.link >= norig || o.link == i))
            return corrupt(SectionKind::origins, "link to an unknown origin at " + std::to_string(i));
    }
    // A link leads to a table row, which has no link of its own: explain
    // follows one step, so no chain can loop.
    for (std::size_t i = 0; i < norig; ++i) {
        const std::uint32_t l = impl->origins[i].link;
        if (l != format::kNoLink && impl->origins[l].link != format::kNoLink)
            return corrupt(SectionKind::origins, "chained link at " + std::to_string(i));
    }

    // Evidence: rows of range entries and ASN-derived entries, strictly in
    // evidence order.
    auto ec = columns_of(impl->evidence_sec, format::kEvidenceColumns, SectionKind::evidence);
    if (!ec) return ec.error();
    if (const std::size_t bad = ec->first_at_or_above(format::kEvidenceFeed, nfeed); bad < ec->rows)
        return corrupt(SectionKind::evidence, "row " + std::to_string(bad) + ": unknown feed");
    ec->decode_delta_per_feed(format::kEvidenceOrigin, format::kEvidenceFeed, nfeed);
    const std::size_t nrows = ec->rows;
    if (nrows > 0xffffffffu) return corrupt(SectionKind::evidence, "too many rows");
    impl->row_ranges = ec->ranges(format::kEvidenceFirst, format::kEvidenceLast);
    impl->row_origin.assign(ec->column(format::kEvidenceOrigin), ec->column(format::kEvidenceOrigin) + nrows);
    impl->block_max_last.assign((nrows + kBlock - 1) / kBlock, kIpMin);
    for (std::size_t i = 0; i < nrows; ++i) {
        const Range r = impl->row_ranges[i];
        const std::uint32_t o = impl->row_origin[i];
        auto at = [&] { return "row " + std::to_string(i); };
        if (o >= norig) return corrupt(SectionKind::evidence, at() + ": unknown origin");
        if (impl->origins[o].feed != ec->column(format::kEvidenceFeed)[i])
            return corrupt(SectionKind::evidence, at() + ": feed is not its origin's");
        const auto role = db.feeds()[impl->origins[o].feed].role;
        if (role != static_cast<std::uint32_t>(format::FeedRole::ranges) &&
            role != static_cast<std::uint32_t>(format::FeedRole::asn_list))
            return corrupt(SectionKind::evidence, at() + ": origin of a feed that cannot have evidence");
        if (r.last < r.first) return corrupt(SectionKind::evidence, at() + ": last before first");
        if (i > 0) {
            const Range& p = impl->row_ranges[i - 1];
            const bool ordered = p.first < r.first ||
                                 (p.first == r.first && (r.last < p.last || (r.last == p.last && impl->row_origin[i - 1] < o)));
            if (!ordered) return corrupt(SectionKind::evidence, at() + ": not in evidence order");
        }
        Ip& m = impl->block_max_last[i / kBlock];
        m = std::max(m, r.last);
    }

    if (impl->exclusions_sec.bytes.size() % sizeof(format::ExclusionEntry))
        return corrupt(SectionKind::exclusions, "size not a multiple of the entry size");
    impl->exclusions = {reinterpret_cast<const format::ExclusionEntry*>(impl->exclusions_sec.bytes.data()),
                        impl->exclusions_sec.bytes.size() / sizeof(format::ExclusionEntry)};
    for (const auto& x : impl->exclusions) {
        const Ip first{x.first.hi, x.first.lo}, last{x.last.hi, x.last.lo};
        if (last < first || x.origin >= norig || x.rule >= norig)
            return corrupt(SectionKind::exclusions, "entry refers outside the file or is empty");
    }
    // First-seen days (2.2, optional): rows sorted and disjoint.
    if (db.find_section(SectionKind::first_seen)) {
        if (auto e = load_section(db, SectionKind::first_seen, impl->first_seen_sec); e.status != Status::ok) return e;
        auto fc = columns_of(impl->first_seen_sec, format::kFirstSeenColumns, SectionKind::first_seen);
        if (!fc) return fc.error();
        impl->has_first_seen = true;
        impl->seen_ranges = fc->ranges(format::kFirstSeenFirst, format::kFirstSeenLast);
        impl->seen_days.assign(fc->column(format::kFirstSeenDay), fc->column(format::kFirstSeenDay) + fc->rows);
        for (std::size_t i = 0; i < fc->rows; ++i) {
            const Range& r = impl->seen_ranges[i];
            if (r.last < r.first) return corrupt(SectionKind::first_seen, "row " + std::to_string(i) + ": last before first");
            if (i > 0 && !(impl->seen_ranges[i - 1].last < r.first))
                return corrupt(SectionKind::first_seen, "row " + std::to_string(i) + ": not sorted and disjoint");
        }
    }
    return ColdData(std::move(impl));
}

bool ColdData::has_first_seen() const { return impl_->has_first_seen; }

void ColdData::for_each_first_seen(const std::function<void(Range, std::uint32_t)>& fn) const {
    for (std::size_t i = 0; i < impl_->seen_ranges.size(); ++i) fn(impl_->seen_ranges[i], impl_->seen_days[i]);
}

Assessment ColdData::assess(std::span<const std::uint32_t> rows) const {
    Assessment out;
    if (rows.empty()) return out;
    const Database& db = *impl_->db;
    const std::uint32_t build_day = seen::day_of(db.header().build_time);
    // Each feed once, by its strongest rows: (feed, direct).
    std::vector<std::pair<std::uint32_t, bool>> feeds;
    feeds.reserve(rows.size());
    for (const std::uint32_t row : rows) {
        const std::uint32_t feed = impl_->origins[impl_->row_origin[row]].feed;
        feeds.emplace_back(feed, db.feeds()[feed].role == static_cast<std::uint32_t>(format::FeedRole::ranges));
    }
    std::sort(feeds.begin(), feeds.end());
    seen::ConfidenceSum sum;
    for (std::size_t i = 0; i < feeds.size(); ++i) {
        if (i + 1 < feeds.size() && feeds[i + 1].first == feeds[i].first) continue;  // the last is the strongest
        const std::uint32_t day = seen::fetch_day(db.feeds()[feeds[i].first].fetched_at, db.header().build_time);
        out.last_seen = std::max(out.last_seen, day);
        sum.add(seen::feed_weight(feeds[i].second, build_day - day));
    }
    out.confidence = sum.value();
    return out;
}

ColdData::ColdData(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ColdData::ColdData(ColdData&&) noexcept = default;
ColdData& ColdData::operator=(ColdData&&) noexcept = default;
ColdData::~ColdData() = default;

std::string_view ColdData::metadata_json() const {
    return {reinterpret_cast<const char*>(impl_->metadata.bytes.data()), impl_->metadata.bytes.size()};
}
std::uint32_t ColdData::origin_count() const { return static_cast<std::uint32_t>(impl_->origins.size()); }
std::size_t ColdData::evidence_count() const { return impl_->row_ranges.size(); }
std::uint32_t ColdData::origin_of_row(std::uint32_t row) const { return impl_->row_origin[row]; }

void ColdData::sources_of(std::span<const std::uint32_t> rows, std::vector<std::string_view>& out) const {
    std::vector<std::uint32_t> origins;
    origins.reserve(rows.size());
    for (const std::uint32_t row : rows) origins.push_back(impl_->row_origin[row]);
    std::sort(origins.begin(), origins.end());
    out.clear();
    for (const std::uint32_t o : origins) {
        const std::string_view name = impl_->db->string(impl_->db->feeds()[impl_->origins[o].feed].name);
        if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
    }
}
Range ColdData::row_range(std::uint32_t row) const { return impl_->row_ranges[row]; }
std::string_view ColdData::provider_name(std::uint32_t id) const {
    return id < impl_->providers.size() ? impl_->db->string(impl_->providers[id]) : std::string_view{};
}
Evidence ColdData::evidence(std::uint32_t origin) const { return impl_->evidence(origin); }
Contribution ColdData::contribution(std::uint32_t origin) const { return impl_->contribution(origin); }

Evidence ColdData::Impl::evidence(std::uint32_t id) const {
    const Origin& o = origins[id];
    const auto& f = db->feeds()[o.feed];
    const auto* text = reinterpret_cast<const char*>(origin_text.bytes.data());
    Evidence e;
    e.origin = id;
    e.feed = o.feed;
    e.feed_name = db->string(f.name);
    e.url = db->string(f.url);
    e.source = db->string(f.source);
    e.format = db->string(f.format);
    e.fetched_at = f.fetched_at;
    std::memcpy(e.sha256.data(), f.sha256, 32);
    e.feed_flags = f.flags;
    e.line = o.line;
    e.text = std::string_view(text + o.text_offset, o.text_length);
    e.categories = o.categories;
    e.provider = db->string(providers[o.provider]);
    e.asn = o.asn;
    e.role = static_cast<format::FeedRole>(f.role);
    return e;
}

Contribution ColdData::Impl::contribution(std::uint32_t id) const {
    Contribution c;
    static_cast<Evidence&>(c) = evidence(id);
    if (origins[id].link != format::kNoLink) c.table_row = evidence(origins[id].link);
    return c;
}

LookupResult ColdData::answer_of(std::span<const std::uint32_t> rows) const {
    LookupResult out;
    if (rows.empty()) return out;
    out.flagged = true;
    std::uint32_t provider = 0;
    bool provider_derived = false;
    Ip provider_width{}, asn_width{};
    for (const std::uint32_t row : rows) {
        const Origin& o = impl_->origins[impl_->row_origin[row]];
        const Ip w = width(impl_->row_ranges[row]);
        out.categories |= o.categories;
        // A direct entry (no AS) names the provider before an ASN-derived one.
        const bool derived = o.asn != 0;
        if (o.provider != 0 &&
            (provider == 0 || derived < provider_derived ||
             (derived == provider_derived && (w < provider_width || (w == provider_width && o.provider < provider))))) {
            provider = o.provider;
            provider_width = w;
            provider_derived = derived;
        }
        if (o.asn != 0 && (out.asn == 0 || w < asn_width || (w == asn_width && o.asn < out.asn))) {
            out.asn = o.asn;
            asn_width = w;
        }
    }
    out.provider = provider_name(provider);
    return out;
}

void ColdData::for_each_piece(const std::function<void(const Piece&)>& fn) const {
    const auto& ranges = impl_->row_ranges;
    const std::size_t n = ranges.size();
    // Rows covering the current address, the one ending first on top.
    auto ends_later = [&](std::uint32_t a, std::uint32_t b) { return ranges[b].last < ranges[a].last; };
    std::priority_queue<std::uint32_t, std::vector<std::uint32_t>, decltype(ends_later)> active(ends_later);
    std::vector<std::uint32_t> covering;  // active rows, as the heap holds them
    std::vector<std::uint32_t> rows;      // a piece's rows, ascending
    const auto& seen_ranges = impl_->seen_ranges;
    std::size_t seen = 0;                 // the first first_seen row not below cur
    std::size_t next = 0;
    Ip cur = kIpMin;
    while (true) {
        for (; next < n && ranges[next].first == cur; ++next) {
            active.push(static_cast<std::uint32_t>(next));
            covering.push_back(static_cast<std::uint32_t>(next));
        }
        Ip last = kIpMax;
        if (!active.empty()) last = ranges[active.top()].last;
        if (next < n && ranges[next].first <= last) last = ip_prev(ranges[next].first);  // first > cur here
        // The first_seen row holding cur, or the gap before the next one.
        std::optional<std::uint32_t> first_seen;
        while (seen < seen_ranges.size() && seen_ranges[seen].last < cur) ++seen;
        if (seen < seen_ranges.size()) {
            if (seen_ranges[seen].first <= cur) {
                first_seen = impl_->seen_days[seen];
                last = std::min(last, seen_ranges[seen].last);
            } else {
                last = std::min(last, ip_prev(seen_ranges[seen].first));
            }
        }
        rows = covering;
        std::sort(rows.begin(), rows.end());
        fn(Piece{{cur, last}, rows, first_seen});
        if (last == kIpMax) break;
        cur = ip_next(last);
        bool ended = false;
        while (!active.empty() && ranges[active.top()].last < cur) {
            active.pop();
            ended = true;
        }
        if (ended) std::erase_if(covering, [&](std::uint32_t r) { return ranges[r].last < cur; });
    }
}

Explanation ColdData::explain(Ip ip) const {
    const Database& db = *impl_->db;
    const auto& ranges = impl_->row_ranges;
    Explanation out;
    out.segment = db.locate(ip);
    out.result = db.lookup(ip);
    Range around = family_of(ip);
    // Rows with first <= ip are a prefix (evidence order); of those, the
    // ones that reach ip cover it. Blocks whose rows all end below ip only
    // bound the range.
    const std::size_t k = static_cast<std::size_t>(
        std::upper_bound(ranges.begin(), ranges.end(), ip, [](Ip a, const Range& r) { return a < r.first; }) -
        ranges.begin());
    if (k < ranges.size()) around.last = std::min(around.last, ip_prev(ranges[k].first));
    std::vector<std::pair<std::uint32_t, std::uint32_t>> covering;  // (origin, row)
    for (std::size_t b = 0; b * kBlock < k; ++b) {
        const std::size_t end = std::min(k, (b + 1) * kBlock);
        if (impl_->block_max_last[b] < ip) {
            // Every row of the block ends below ip: only the highest end matters.
            around.first = std::max(around.first, ip_next(impl_->block_max_last[b]));
            continue;
        }
        for (std::size_t i = b * kBlock; i < end; ++i) {
            const Range& r = ranges[i];
            if (r.last < ip) {
                around.first = std::max(around.first, ip_next(r.last));
                continue;
            }
            around.first = std::max(around.first, r.first);
            around.last = std::min(around.last, r.last);
            covering.emplace_back(impl_->row_origin[i], static_cast<std::uint32_t>(i));
        }
    }
    // One first-seen day: inside the row before the first one starting
    // above ip, or in the gap between those two rows.
    const auto& sr = impl_->seen_ranges;
    const auto above = std::upper_bound(sr.begin(), sr.end(), ip, [](Ip a, const Range& r) { return a < r.first; });
    if (above != sr.begin() && ip <= std::prev(above)->last) {
        const auto row = static_cast<std::size_t>(std::prev(above) - sr.begin());
        out.first_seen = impl_->seen_days[row];
        around.first = std::max(around.first, sr[row].first);
        around.last = std::min(around.last, sr[row].last);
    } else {
        if (above != sr.end()) around.last = std::min(around.last, ip_prev(above->first));
        if (above != sr.begin()) around.first = std::max(around.first, ip_next(std::prev(above)->last));
    }
    out.range = around;
    {
        std::vector<std::uint32_t> rows;
        for (const auto& [origin, row] : covering) rows.push_back(row);
        out.assessment = assess(rows);
    }
    // One contribution per origin (an origin's rows are disjoint in a
    // valid file), ascending.
    std::sort(covering.begin(), covering.end());
    for (std::size_t i = 0; i < covering.size(); ++i) {
        if (i > 0 && covering[i].first == covering[i - 1].first) continue;
        Contribution c = impl_->contribution(covering[i].first);
        c.range = ranges[covering[i].second];
        out.contributions.push_back(std::move(c));
    }
    // Exclusions are few and explain is rare: a scan.
    for (const auto& x : impl_->exclusions) {
        const Range range{Ip{x.first.hi, x.first.lo}, Ip{x.last.hi, x.last.lo}};
        if (!range.contains(ip)) continue;
        Contribution removed = impl_->contribution(x.origin);
        removed.range = range;
        out.exclusions.push_back({range, std::move(removed), impl_->evidence(x.rule)});
    }
    return out;
}

AssessmentTable::AssessmentTable(const ColdData& cold) {
    cold.for_each_piece([&](const Piece& piece) {
        if (piece.rows.empty()) return;
        const Assessment a = cold.assess(piece.rows);
        if (!entries_.empty()) {
            Entry& back = entries_.back();
            if (ip_next(back.range.last) == piece.range.first && back.first_seen == piece.first_seen &&
                back.assessment.last_seen == a.last_seen && back.assessment.confidence == a.confidence) {
                back.range.last = piece.range.last;
                return;
            }
        }
        entries_.push_back({piece.range, a, piece.first_seen});
    });
}

const AssessmentTable::Entry* AssessmentTable::find(Ip ip) const {
    const auto it = std::upper_bound(entries_.begin(), entries_.end(), ip,
                                     [](Ip a, const Entry& e) { return a < e.range.first; });
    if (it == entries_.begin() || std::prev(it)->range.last < ip) return nullptr;
    return &*std::prev(it);
}

Expected<Ok> verify(const Database& db) {
    // Whatever checks `db` was opened with (OpenChecks::deferred skips
    // them), everything open() can prove is proved here.
    auto full = Database::from_bytes(db.file_bytes(), {OpenChecks::full});
    if (!full) return full.error();
    // Sections of kinds this reader does not know are still checksummed.
    for (const auto& s : db.sections()) {
        const auto stored = db.stored_bytes(s);
        if (detail::xxh64(stored.data(), stored.size()) != s.checksum)
            return make_error(Status::checksum, detail::section_context(s));
    }
    auto cold = ColdData::load(*full);
    if (!cold) return cold.error();
    // What lookups answer must be what the evidence gives, everywhere: each
    // piece against every segment it overlaps.
    std::optional<Error> mismatch;
    cold->for_each_piece([&](const Piece& piece) {
        if (mismatch) return;
        const LookupResult want = cold->answer_of(piece.rows);
        for (Ip at = piece.range.first;;) {
            const Segment seg = full->locate(at);
            const LookupResult got = full->answer(seg.answer);
            if (got.flagged != want.flagged || got.categories != want.categories || got.asn != want.asn ||
                got.provider != want.provider) {
                mismatch = make_error(Status::corrupt, "section answers: " + format_range(seg.range) + " answers " +
                                                           (got.flagged ? category_list(got.categories) : "not flagged") +
                                                           ", its evidence gives " +
                                                           (want.flagged ? category_list(want.categories) : "not flagged") +
                                                           " (or another provider or AS) at " + format_ip(at));
                return;
            }
            if (seg.range.last >= piece.range.last) break;
            at = ip_next(seg.range.last);
        }
        // Then the first-seen rows: they hold exactly the flagged
        // addresses, none seen first after it was last seen.
        if (!cold->has_first_seen()) return;
        const bool flagged = !piece.rows.empty();
        if (flagged != piece.first_seen.has_value()) {
            mismatch = make_error(Status::corrupt, "section first_seen: " + format_range(piece.range) +
                                                       (flagged ? " is flagged but has no first-seen day"
                                                                : " is not flagged but has a first-seen day"));
            return;
        }
        if (!flagged) return;
        const std::uint32_t last_seen = cold->assess(piece.rows).last_seen;
        if (*piece.first_seen > last_seen)
            mismatch = make_error(Status::corrupt, "section first_seen: " + format_range(piece.range) + " first seen on " +
                                                       seen::iso_date(*piece.first_seen) + ", after it was last seen (" +
                                                       seen::iso_date(last_seen) + ")");
    });
    if (mismatch) return *mismatch;
    return Ok{};
}

std::string sha256_hex(const std::array<std::uint8_t, 32>& digest) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string s;
    for (auto b : digest) {
        s += kHex[b >> 4];
        s += kHex[b & 0xf];
    }
    return s;
}

}  // namespace anondb
