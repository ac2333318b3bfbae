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

    std::span<const std::uint32_t> offsets() const { return as<std::uint32_t>(prov_offsets); }
    std::span<const std::uint32_t> list() const { return as<std::uint32_t>(prov_origins); }
    std::span<const format::OriginEntry> origin_table() const { return as<format::OriginEntry>(origins); }

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

Explanation ColdData::explain(Ip ip) const {
    const Database& db = *impl_->db;
    Explanation out;
    out.segment = db.locate(ip);
    out.result = db.record(out.segment.record);
    const auto offsets = impl_->offsets();
    const auto list = impl_->list();
    const auto origins = impl_->origin_table();
    const auto* text = reinterpret_cast<const char*>(impl_->origin_text.bytes.data());
    const std::uint32_t r = out.segment.record;
    for (std::uint32_t k = offsets[r]; k < offsets[r + 1]; ++k) {
        const auto& o = origins[list[k]];
        const auto& f = db.feeds()[o.feed];
        Contribution c;
        c.origin = list[k];
        c.feed = o.feed;
        c.feed_name = db.string(f.name);
        c.url = db.string(f.url);
        c.source = db.string(f.source);
        c.format = db.string(f.format);
        c.fetched_at = f.fetched_at;
        std::memcpy(c.sha256.data(), f.sha256, 32);
        c.feed_flags = f.flags;
        c.line = o.line;
        c.text = std::string_view(text + o.text_offset, o.text_length);
        c.categories = o.categories;
        c.provider = db.provider_name(o.provider);
        out.contributions.push_back(c);
    }
    return out;
}

Expected<Ok> verify(const Database& db) {
    // Sections of kinds this reader does not know are still checksummed.
    for (const auto& s : db.sections()) {
        const auto stored = db.stored_bytes(s);
        if (detail::xxh64(stored.data(), stored.size()) != s.checksum)
            return make_error(Status::checksum, detail::section_context(s));
    }
    auto cold = ColdData::load(db);
    if (!cold) return cold.error();
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
