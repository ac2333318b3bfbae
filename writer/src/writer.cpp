#include "anondb/writer.hpp"

#include <algorithm>
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
// and their record ids, with touching equal-record segments folded.
template <class Start>
struct Partition {
    std::vector<Start> starts;
    std::vector<std::uint32_t> records;
    bool fold = true;  // false right after a zone boundary (see push_boundary)

    void push(Start start, std::uint32_t record) {
        if (fold && !records.empty() && records.back() == record) return;
        starts.push_back(start);
        records.push_back(record);
        fold = true;
    }
    void push_boundary(Start start, std::uint32_t record) {
        starts.push_back(start);
        records.push_back(record);
        fold = false;
    }
};

format::Ip128 to128(Ip ip) { return {ip.hi, ip.lo}; }

// Covers [lo, hi] with segments: the parts of `ranges` inside it and record-0
// gaps between them. `ranges` is sorted and disjoint.
void cover_zone(const std::vector<RangeRecord>& ranges, Ip lo, Ip hi, Partition<format::Ip128>& out) {
    Ip cursor = lo;
    bool done = false;  // cursor passed hi
    auto begin = std::lower_bound(ranges.begin(), ranges.end(), lo,
                                  [](const RangeRecord& r, Ip a) { return r.range.last < a; });
    for (auto it = begin; it != ranges.end() && it->range.first <= hi && !done; ++it) {
        const Ip a = std::max(it->range.first, lo);
        const Ip b = std::min(it->range.last, hi);
        if (cursor < a) out.push(to128(cursor), 0);
        out.push(to128(a), it->record);
        if (b == hi) done = true;
        else cursor = ip_next(b);
    }
    if (!done) out.push(to128(cursor), 0);
}

void cover_v4(const std::vector<RangeRecord>& ranges, Partition<std::uint32_t>& out) {
    std::uint64_t cursor = 0;  // next IPv4 address not yet covered; 2^32 = done
    auto begin = std::lower_bound(ranges.begin(), ranges.end(), kV4First,
                                  [](const RangeRecord& r, Ip a) { return r.range.last < a; });
    for (auto it = begin; it != ranges.end() && it->range.first <= kV4Last; ++it) {
        const std::uint32_t a = std::max(it->range.first, kV4First).v4();
        const std::uint32_t b = std::min(it->range.last, kV4Last).v4();
        if (cursor < a) out.push(static_cast<std::uint32_t>(cursor), 0);
        out.push(a, it->record);
        cursor = std::uint64_t{b} + 1;
    }
    if (cursor <= 0xffffffffu) out.push(static_cast<std::uint32_t>(cursor), 0);
}

template <class Start, class Key>
std::vector<std::uint32_t> bucket_index(const std::vector<Start>& starts, Key key) {
    std::vector<std::uint32_t> index(format::kIndexEntries);
    std::size_t i = 0;
    for (std::uint32_t b = 0; b < format::kIndexEntries; ++b) {
        while (i < starts.size() && key(starts[i]) < b) ++i;
        index[b] = static_cast<std::uint32_t>(i);
    }
    return index;
}

template <class T>
std::vector<std::byte> as_bytes(const std::vector<T>& v) {
    std::vector<std::byte> out(v.size() * sizeof(T));
    if (!out.empty()) std::memcpy(out.data(), v.data(), out.size());
    return out;
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
    const auto nrec = c.records.size();
    const auto nprov = c.providers.size();
    if (nrec == 0 || nrec > 0xfffffffeu) return fail("record count");
    if (c.records[0].categories != 0 || c.records[0].provider != 0) return fail("record 0 must be empty");
    if (nprov == 0 || !c.providers[0].empty()) return fail("provider 0 must be the empty name");
    for (const auto& r : c.records)
        if (r.provider >= nprov) return fail("record provider out of range");
    if (c.prov_offsets.size() != nrec + 1) return fail("prov_offsets must have records + 1 entries");
    for (std::size_t i = 1; i < c.prov_offsets.size(); ++i)
        if (c.prov_offsets[i] < c.prov_offsets[i - 1]) return fail("prov_offsets not ascending");
    if (c.prov_offsets.front() != 0 || c.prov_offsets.back() != c.prov_origins.size())
        return fail("prov_offsets do not span prov_origins");
    for (auto o : c.prov_origins)
        if (o >= c.origins.size()) return fail("provenance names an unknown origin");
    if (!c.record_asns.empty() && c.record_asns.size() != nrec) return fail("record_asns must be empty or one per record");
    if (!c.record_asns.empty() && c.record_asns[0] != 0) return fail("record 0 must be empty");
    for (const auto& o : c.origins) {
        if (o.feed >= c.feeds.size() || o.provider >= nprov) return fail("origin refers to unknown feed or provider");
        if (o.link != format::kNoLink && o.link >= c.origins.size()) return fail("origin link to an unknown origin");
    }
    for (const auto& f : c.feeds)
        if (f.provider >= nprov || f.asn_table > c.feeds.size()) return fail("feed provider or ASN table out of range");
    for (const auto& x : c.exclusions)
        if (x.range.last < x.range.first || x.origin >= c.origins.size() || x.rule >= c.origins.size())
            return fail("exclusion refers to an unknown origin or is empty");
    for (std::size_t i = 0; i < c.ranges.size(); ++i) {
        const auto& r = c.ranges[i];
        if (r.range.last < r.range.first) return fail("range end before start");
        if (r.record == 0 || r.record >= nrec) return fail("range record out of range");
        if (i > 0 && !(c.ranges[i - 1].range.last < r.range.first)) return fail("ranges not sorted and disjoint");
    }
    return {};
}

}  // namespace

Expected<std::vector<std::byte>> serialize(const DatabaseContent& c, const WriteOptions& options) {
    if (auto e = check_content(c); e.status != Status::ok) return e;

    // Address partitions. The IPv6 table marks the IPv4-mapped block as one
    // record-0 segment of its own; IPv4 addresses are answered by the IPv4 table.
    Partition<std::uint32_t> v4;
    cover_v4(c.ranges, v4);
    Partition<format::Ip128> v6;
    cover_zone(c.ranges, kIpMin, ip_prev(kV4First), v6);
    v6.push_boundary(to128(kV4First), 0);
    cover_zone(c.ranges, ip_next(kV4Last), kIpMax, v6);
    if (v4.starts.size() > 0xffffffffu || v6.starts.size() > 0xffffffffu) return fail("too many segments");

    const auto v4_index = bucket_index(v4.starts, [](std::uint32_t s) { return s >> 16; });
    const auto v6_index = bucket_index(v6.starts, [](const format::Ip128& s) { return static_cast<std::uint32_t>(s.hi >> 48); });

    StringPool pool;
    std::vector<format::StrRef> providers;
    for (const auto& p : c.providers) {
        auto ref = pool.add(p);
        if (!ref) return ref.error();
        providers.push_back(*ref);
    }
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

    std::vector<format::OriginEntry> origins;
    origins.reserve(c.origins.size());
    std::vector<std::uint32_t> links;
    links.reserve(c.origins.size());
    std::vector<std::byte> origin_text;
    // ASN-derived origins repeat their list line once per table row.
    std::map<std::pair<const char*, std::size_t>, std::uint64_t> text_at;
    for (const auto& o : c.origins) {
        if (o.text.size() > 0xffffffffu) return fail("origin text over 4 GiB");
        format::OriginEntry e{};
        e.feed = o.feed;
        e.line = o.line;
        e.categories = o.categories;
        e.provider = o.provider;
        e.asn = o.asn;
        const auto [it, added] = text_at.try_emplace({o.text.data(), o.text.size()}, origin_text.size());
        e.text_offset = it->second;
        e.text_length = static_cast<std::uint32_t>(o.text.size());
        if (added) {
            const auto* p = reinterpret_cast<const std::byte*>(o.text.data());
            origin_text.insert(origin_text.end(), p, p + o.text.size());
        }
        origins.push_back(e);
        links.push_back(o.link);
    }
    std::vector<format::ExclusionEntry> exclusions;
    exclusions.reserve(c.exclusions.size());
    for (const auto& x : c.exclusions) exclusions.push_back({to128(x.range.first), to128(x.range.last), x.origin, x.rule});
    std::sort(exclusions.begin(), exclusions.end(), [](const format::ExclusionEntry& a, const format::ExclusionEntry& b) {
        auto key = [](const format::ExclusionEntry& x) {
            return std::tuple(x.first.hi, x.first.lo, x.last.hi, x.last.lo, x.origin, x.rule);
        };
        return key(a) < key(b);
    });
    std::vector<std::uint32_t> record_asns = c.record_asns;
    record_asns.resize(c.records.size(), 0);

    // Answers (1.2): one per distinct (categories, AS, provider) among the
    // records, numbered in order of first appearance; answer 0 is record
    // 0's and no other record's (so answer 0 means record 0, and a lookup
    // of unflagged space reads one id); each segment's answer beside its
    // record.
    std::vector<format::Answer> answers;
    std::vector<std::uint32_t> answer_of_record(c.records.size());
    {
        std::map<std::tuple<bool, std::uint32_t, std::uint32_t, std::uint32_t>, std::uint32_t> id_of;
        for (std::size_t r = 0; r < c.records.size(); ++r) {
            const format::Record& rec = c.records[r];
            const auto [it, fresh] = id_of.try_emplace({r != 0, rec.categories, record_asns[r], rec.provider},
                                                       static_cast<std::uint32_t>(answers.size()));
            if (fresh) {
                const format::StrRef name = c.providers[rec.provider].empty() ? format::StrRef{0, 0} : providers[rec.provider];
                answers.push_back({rec.categories, record_asns[r], name});
            }
            answer_of_record[r] = it->second;
        }
    }
    auto answers_of = [&](const std::vector<std::uint32_t>& records) {
        std::vector<std::uint32_t> out(records.size());
        for (std::size_t i = 0; i < records.size(); ++i) out[i] = answer_of_record[records[i]];
        return out;
    };
    const std::vector<std::uint32_t> v4_answers = answers_of(v4.records), v6_answers = answers_of(v6.records);

    std::vector<PendingSection> sections;
    sections.push_back({SectionKind::v4_index, as_bytes(v4_index), false});
    sections.push_back({SectionKind::v4_starts, as_bytes(v4.starts), false});
    sections.push_back({SectionKind::v4_records, as_bytes(v4.records), false});
    sections.push_back({SectionKind::v6_index, as_bytes(v6_index), false});
    sections.push_back({SectionKind::v6_starts, as_bytes(v6.starts), false});
    sections.push_back({SectionKind::v6_records, as_bytes(v6.records), false});
    sections.push_back({SectionKind::records, as_bytes(c.records), false});
    sections.push_back({SectionKind::providers, as_bytes(providers), false});
    sections.push_back({SectionKind::strings, pool.bytes(), false});
    sections.push_back({SectionKind::feeds, as_bytes(feeds), false});
    sections.push_back({SectionKind::prov_offsets, as_bytes(c.prov_offsets), true});
    sections.push_back({SectionKind::prov_origins, as_bytes(c.prov_origins), true});
    sections.push_back({SectionKind::origins, as_bytes(origins), true});
    sections.push_back({SectionKind::origin_text, std::move(origin_text), true});
    {
        std::vector<std::byte> meta(c.metadata_json.size());
        if (!meta.empty()) std::memcpy(meta.data(), c.metadata_json.data(), meta.size());
        sections.push_back({SectionKind::metadata, std::move(meta), true});
    }
    sections.push_back({SectionKind::record_asns, as_bytes(record_asns), false});
    sections.push_back({SectionKind::origin_links, as_bytes(links), true});
    sections.push_back({SectionKind::exclusions, as_bytes(exclusions), true});
    sections.push_back({SectionKind::v4_answers, as_bytes(v4_answers), false});
    sections.push_back({SectionKind::v6_answers, as_bytes(v6_answers), false});
    sections.push_back({SectionKind::answers, as_bytes(answers), false});

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
    XXH64_state_t* st = XXH64_createState();
    XXH64_reset(st, 0);
    XXH64_update(st, out.data(), offsetof(format::Header, table_checksum));
    XXH64_update(st, out.data() + table_offset, table_bytes);
    h.table_checksum = XXH64_digest(st);
    XXH64_freeState(st);
    std::memcpy(out.data(), &h, sizeof h);
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
