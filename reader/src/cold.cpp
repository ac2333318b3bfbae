#include <cstring>

#include <zstd.h>

#include "anondb/explain.hpp"

namespace anondb {

using format::SectionKind;

struct ColdData::Impl {
    const Database* db = nullptr;
    // Each cold section as bytes: a view of the mapping when raw, else owned.
    struct Section {
        std::vector<std::byte> owned;
        std::span<const std::byte> bytes;
    };
    Section prov_offsets, prov_origins, origins, origin_text, metadata;
    Section origin_links, exclusions;  // empty in 1.0 files

    std::span<const std::uint32_t> offsets() const { return as<std::uint32_t>(prov_offsets); }
    std::span<const std::uint32_t> list() const { return as<std::uint32_t>(prov_origins); }
    std::span<const format::OriginEntry> origin_table() const { return as<format::OriginEntry>(origins); }
    std::span<const std::uint32_t> links() const { return as<std::uint32_t>(origin_links); }
    std::span<const format::ExclusionEntry> exclusion_table() const { return as<format::ExclusionEntry>(exclusions); }

    Evidence evidence(std::uint32_t origin) const;
    Contribution contribution(std::uint32_t origin) const;

    template <class T>
    static std::span<const T> as(const Section& s) {
        return {reinterpret_cast<const T*>(s.bytes.data()), s.bytes.size() / sizeof(T)};
    }
};

namespace {

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
    // Sizes come from a checked table but an untrusted file: cap the buffer
    // at what zstd itself says the frame holds, and at 4 GiB.
    const unsigned long long framed = ZSTD_getFrameContentSize(stored.data(), stored.size());
    if (framed == ZSTD_CONTENTSIZE_ERROR || framed == ZSTD_CONTENTSIZE_UNKNOWN || framed != s->raw_size ||
        s->raw_size > (std::uint64_t{1} << 32))
        return make_error(Status::decompress, detail::section_context(*s) + ": bad frame size");
    out.owned.resize(static_cast<std::size_t>(s->raw_size));
    const std::size_t n = ZSTD_decompress(out.owned.data(), out.owned.size(), stored.data(), stored.size());
    if (ZSTD_isError(n) || n != s->raw_size)
        return make_error(Status::decompress, detail::section_context(*s) + ": " +
                                                  (ZSTD_isError(n) ? ZSTD_getErrorName(n) : "short output"));
    out.bytes = out.owned;
    return {};
}

Error corrupt(SectionKind kind, const std::string& why) {
    return make_error(Status::corrupt, std::string("section ") +
                                           std::string(format::section_name(static_cast<std::uint32_t>(kind))) + ": " + why);
}

}  // namespace

Expected<ColdData> ColdData::load(const Database& db) {
    auto impl = std::make_unique<Impl>();
    impl->db = &db;
    for (auto [kind, sec] : {std::pair{SectionKind::prov_offsets, &impl->prov_offsets},
                             {SectionKind::prov_origins, &impl->prov_origins},
                             {SectionKind::origins, &impl->origins},
                             {SectionKind::origin_text, &impl->origin_text},
                             {SectionKind::metadata, &impl->metadata}}) {
        if (auto e = load_section(db, kind, *sec); e.status != Status::ok) return e;
    }
    for (auto [kind, sec] : {std::pair{SectionKind::origin_links, &impl->origin_links},
                             {SectionKind::exclusions, &impl->exclusions}}) {
        if (!db.find_section(kind)) continue;  // a 1.0 file
        if (auto e = load_section(db, kind, *sec); e.status != Status::ok) return e;
    }
    // Every structure explain() follows is checked here, once.
    if (impl->prov_offsets.bytes.size() % 4 || impl->prov_origins.bytes.size() % 4)
        return corrupt(SectionKind::prov_offsets, "size not a multiple of 4");
    if (impl->origins.bytes.size() % sizeof(format::OriginEntry))
        return corrupt(SectionKind::origins, "size not a multiple of the entry size");
    const auto offsets = impl->offsets();
    const auto list = impl->list();
    const auto origins = impl->origin_table();
    if (offsets.size() != std::size_t{db.record_count()} + 1)
        return corrupt(SectionKind::prov_offsets, "entry count is not records + 1");
    if (offsets.front() != 0 || offsets.back() != list.size())
        return corrupt(SectionKind::prov_offsets, "offsets do not span the origin list");
    if (offsets[1] != 0) return corrupt(SectionKind::prov_offsets, "record 0 (not flagged) has provenance");
    for (std::size_t i = 1; i < offsets.size(); ++i)
        if (offsets[i] < offsets[i - 1]) return corrupt(SectionKind::prov_offsets, "not ascending at " + std::to_string(i));
    for (std::size_t i = 0; i < list.size(); ++i)
        if (list[i] >= origins.size()) return corrupt(SectionKind::prov_origins, "unknown origin at " + std::to_string(i));
    const auto text_size = impl->origin_text.bytes.size();
    for (std::size_t i = 0; i < origins.size(); ++i) {
        const auto& o = origins[i];
        if (o.feed >= db.feeds().size() || o.provider >= db.provider_count() || o.text_offset > text_size ||
            o.text_length > text_size - o.text_offset)
            return corrupt(SectionKind::origins, "origin " + std::to_string(i) + " refers outside the file");
    }
    if (db.find_section(SectionKind::origin_links)) {
        const auto links = impl->links();
        if (impl->origin_links.bytes.size() % 4 || links.size() != origins.size())
            return corrupt(SectionKind::origin_links, "entry count is not the origin count");
        for (std::size_t i = 0; i < links.size(); ++i)
            if (links[i] != format::kNoLink && (links[i] >= origins.size() || links[i] == i))
                return corrupt(SectionKind::origin_links, "link to an unknown origin at " + std::to_string(i));
        // A link leads to a table row, which has no link of its own: explain
        // follows one step, so no chain can loop.
        for (std::size_t i = 0; i < links.size(); ++i)
            if (links[i] != format::kNoLink && links[links[i]] != format::kNoLink)
                return corrupt(SectionKind::origin_links, "chained link at " + std::to_string(i));
    }
    if (impl->exclusions.bytes.size() % sizeof(format::ExclusionEntry))
        return corrupt(SectionKind::exclusions, "size not a multiple of the entry size");
    for (const auto& x : impl->exclusion_table()) {
        const Ip first{x.first.hi, x.first.lo}, last{x.last.hi, x.last.lo};
        if (last < first || x.origin >= origins.size() || x.rule >= origins.size())
            return corrupt(SectionKind::exclusions, "entry refers outside the file or is empty");
    }
    return ColdData(std::move(impl));
}

ColdData::ColdData(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ColdData::ColdData(ColdData&&) noexcept = default;
ColdData& ColdData::operator=(ColdData&&) noexcept = default;
ColdData::~ColdData() = default;

std::string_view ColdData::metadata_json() const {
    return {reinterpret_cast<const char*>(impl_->metadata.bytes.data()), impl_->metadata.bytes.size()};
}

std::uint32_t ColdData::origin_count() const { return static_cast<std::uint32_t>(impl_->origin_table().size()); }

Evidence ColdData::Impl::evidence(std::uint32_t id) const {
    const auto& o = origin_table()[id];
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
    e.provider = db->provider_name(o.provider);
    e.asn = o.asn;
    e.role = static_cast<format::FeedRole>(f.role);
    return e;
}

Contribution ColdData::Impl::contribution(std::uint32_t id) const {
    Contribution c;
    static_cast<Evidence&>(c) = evidence(id);
    if (!links().empty() && links()[id] != format::kNoLink) c.table_row = evidence(links()[id]);
    return c;
}

std::vector<Contribution> ColdData::contributions(std::uint32_t record) const {
    std::vector<Contribution> out;
    const auto offsets = impl_->offsets();
    if (record + std::size_t{1} >= offsets.size()) return out;  // no such record: nothing behind it
    const auto list = impl_->list();
    for (std::uint32_t k = offsets[record]; k < offsets[record + 1]; ++k) out.push_back(impl_->contribution(list[k]));
    return out;
}

Explanation ColdData::explain(Ip ip) const {
    const Database& db = *impl_->db;
    Explanation out;
    out.segment = db.locate(ip);
    out.result = db.record(out.segment.record);
    out.contributions = contributions(out.segment.record);
    // Exclusions are few and explain is rare: a scan.
    for (const auto& x : impl_->exclusion_table()) {
        const Range range{Ip{x.first.hi, x.first.lo}, Ip{x.last.hi, x.last.lo}};
        if (range.contains(ip)) out.exclusions.push_back({range, impl_->contribution(x.origin), impl_->evidence(x.rule)});
    }
    return out;
}

Expected<Ok> verify(const Database& db) {
    // Whatever checks `db` was opened with (OpenChecks::deferred skips
    // them), everything open() can prove is proved here.
    if (auto full = Database::from_bytes(db.file_bytes(), {OpenChecks::full}); !full) return full.error();
    // Sections of kinds this reader does not know are still checksummed.
    for (const auto& s : db.sections()) {
        const auto stored = db.stored_bytes(s);
        if (detail::xxh64(stored.data(), stored.size()) != s.checksum)
            return make_error(Status::checksum, detail::section_context(s));
    }
    auto cold = ColdData::load(db);
    if (!cold) return cold.error();
    // 1.2: what lookups answer (answers) must be what explain shows
    // (records), segment by segment.
    if (db.answer_count() > 0) {
        for (Ip at = kIpMin;;) {
            const Segment seg = db.locate(at);
            const LookupResult fast = db.lookup(at), full = db.record(seg.record);
            if (fast.flagged != full.flagged || fast.categories != full.categories || fast.asn != full.asn ||
                fast.provider != full.provider)
                return make_error(Status::corrupt, "section answers: the answer of " + format_range(seg.range) +
                                                       " differs from its record " + std::to_string(seg.record));
            if (seg.range.last == kIpMax) break;
            at = ip_next(seg.range.last);
        }
    }
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
