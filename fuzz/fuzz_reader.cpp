// The .anondb reader on arbitrary bytes: Database::from_bytes (an 8-byte
// aligned copy) with OpenChecks::full and ::deferred, lookups, locate,
// lookup_many and locate_many of addresses derived from the input and of
// the edges of the space, ColdData::load, explain, a bounded
// for_each_piece, answer_of, sources_of and verify().
//
// Inputs are whole files, or compact ones (compact_db.hpp: the 256 KiB IPv4
// index run-length coded), which most of the corpus is: a file is expanded
// from them, its checksums recomputed. The file's checksums would stop
// almost every mutated whole file at the section table, so when one does
// not open with full checks, a copy with every checksum recomputed
// ("resealed", as test_format.cpp's hostile cases do) is opened too: that
// copy reaches every check behind the checksums. A custom mutator mutates
// one section at a time half of the time, so that small sections get
// mutated as often as large ones.
//
// Checked, beyond "no crash, no out-of-bounds read, no undefined behaviour,
// no leak, no hang" (docs/FORMAT.md, "Validation a reader must do"):
// - a file that opens with full checks opens deferred too, and both answer
//   the same;
// - locate(a) contains a, lookup(a) is the answer of locate(a), and the
//   batched calls answer as the single ones;
// - every provider name a lookup returns lies inside the file;
// - explain's range contains the address and its segment is locate's;
// - for_each_piece's pieces are contiguous from ::, their rows ascending,
//   each row's range holding the piece;
// - when verify() passes, a full open succeeds and every probed address
//   answers what the evidence covering it gives (answer_of its piece).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <span>
#include <vector>

#include "anondb/explain.hpp"
#include "anondb/format.hpp"
#include "anondb/reader.hpp"
#include "anondb/xxh64.hpp"
#include "compact_db.hpp"
#include "fuzz_common.hpp"

using namespace anondb;
using namespace anondb::fuzz;

extern "C" std::size_t LLVMFuzzerMutate(std::uint8_t* data, std::size_t size, std::size_t max_size);

namespace {

// Cold sections may declare a zstd raw size up to 4 GiB. ColdData::load
// allocates only what a frame yields (tests/test_fuzz_regressions.cpp has
// the 17-byte frame that once cost 4 GiB), but a frame of RLE blocks really
// does yield 32 KiB a byte: past this total of declared sizes the target
// does not load cold data, to stay inside libFuzzer's memory limit.
// ANONDB_FUZZ_MAX_COLD_RAW=BYTES changes it.
const std::uint64_t kMaxColdRaw = [] {
    if (const char* e = std::getenv("ANONDB_FUZZ_MAX_COLD_RAW")) return static_cast<std::uint64_t>(std::strtod(e, nullptr));
    return std::uint64_t{64} << 20;
}();

constexpr std::size_t kMaxPieces = 4096;  // for_each_piece stops after this many
constexpr std::size_t kMaxWalk = 48;      // segments walked from each start

struct StopSweep {};

// ---- the file's layout, read defensively (for resealing and mutation) -------

using compact_detail::read_at;

struct Span {
    std::uint64_t offset, size;
};

// The header plus section table, and every section inside the buffer.
std::vector<Span> spans_of(std::span<const std::uint8_t> b) {
    std::vector<Span> out;
    const auto h = read_at<format::Header>(b, 0);
    if (!h) return out;
    const std::uint64_t table = h->section_table_offset;
    if (table > b.size()) return out;
    const std::uint64_t count = std::min<std::uint64_t>(h->section_count, (b.size() - table) / sizeof(format::SectionEntry));
    out.push_back({0, std::min<std::uint64_t>(b.size(), std::max<std::uint64_t>(table + count * sizeof(format::SectionEntry),
                                                                                sizeof(format::Header)))});
    for (std::uint64_t i = 0; i < count; ++i) {
        const auto e = read_at<format::SectionEntry>(b, table + i * sizeof(format::SectionEntry));
        if (e && e->offset <= b.size() && e->stored_size <= b.size() - e->offset && e->stored_size > 0)
            out.push_back({e->offset, e->stored_size});
    }
    return out;
}

// Recomputes every section checksum that lies inside the buffer, then the
// table checksum (with the reader's own XXH64).
void reseal(std::span<std::uint8_t> b) {
    auto h = read_at<format::Header>(b, 0);
    if (!h) return;
    const std::uint64_t table = h->section_table_offset;
    if (table > b.size()) return;
    const std::uint64_t fit = (b.size() - table) / sizeof(format::SectionEntry);
    if (fit < h->section_count) return;
    for (std::uint64_t i = 0; i < h->section_count; ++i) {
        const std::uint64_t pos = table + i * sizeof(format::SectionEntry);
        auto e = *read_at<format::SectionEntry>(b, pos);
        if (e.offset <= b.size() && e.stored_size <= b.size() - e.offset) {
            e.checksum = detail::xxh64(b.data() + e.offset, e.stored_size);
            std::memcpy(b.data() + pos, &e, sizeof e);
        }
    }
    const std::uint64_t table_bytes = std::uint64_t{h->section_count} * sizeof(format::SectionEntry);
    std::vector<std::uint8_t> covered(offsetof(format::Header, table_checksum) + table_bytes);
    std::memcpy(covered.data(), b.data(), offsetof(format::Header, table_checksum));
    std::memcpy(covered.data() + offsetof(format::Header, table_checksum), b.data() + table, table_bytes);
    h->table_checksum = detail::xxh64(covered.data(), covered.size());
    std::memcpy(b.data(), &*h, sizeof *h);
}

// ---- probes -------------------------------------------------------------------

bool same(const LookupResult& a, const LookupResult& b) {
    return a.flagged == b.flagged && a.categories == b.categories && a.asn == b.asn && a.provider == b.provider;
}
bool same(const Segment& a, const Segment& b) { return a.range == b.range && a.answer == b.answer; }

void add_around(std::vector<Ip>& out, Ip a) {
    out.push_back(a);
    if (a != kIpMax) out.push_back(ip_next(a));
    if (a != kIpMin) out.push_back(ip_prev(a));
}

// Edges of the space and of the IPv4-mapped block, and a few addresses
// from the input's hash.
std::vector<Ip> base_probes(std::span<const std::uint8_t> bytes) {
    std::vector<Ip> p;
    for (Ip a : {kIpMin, kV4First, kV4Last, kIpMax, Ip::from_v4(0x7f000001u), Ip::from_v4(0x80000000u),
                 Ip{0x2000000000000000ull, 0}, Ip{0x2002000000000000ull, 0}, Ip{0x8000000000000000ull, 0}})
        add_around(p, a);
    Mix mix{detail::xxh64(bytes.data(), bytes.size())};
    for (int k = 0; k < 6; ++k) {
        p.push_back(Ip::from_v4(static_cast<std::uint32_t>(mix.next())));
        p.push_back(Ip{mix.next(), mix.next()});
    }
    return p;
}

void check_provider_inside(const Database& db, const LookupResult& r) {
    if (r.provider.empty()) return;
    const auto file = db.file_bytes();
    const auto* p = reinterpret_cast<const std::byte*>(r.provider.data());
    FUZZ_CHECK(p >= file.data() && r.provider.size() <= static_cast<std::size_t>(file.data() + file.size() - p));
}

// Lookups on one open database: segment walks from a few starts (their
// edges become probes too), then every probe single and batched.
std::vector<Ip> exercise_lookups(const Database& db, std::vector<Ip> probes) {
    const std::vector<Ip> starts = {kIpMin, kV4First, ip_next(kV4Last), probes.back()};
    for (Ip cur : starts) {
        for (std::size_t k = 0; k < kMaxWalk; ++k) {
            const Segment s = db.locate(cur);
            FUZZ_CHECK(s.range.contains(cur));
            if (probes.size() < 512) {
                add_around(probes, s.range.first);
                add_around(probes, s.range.last);
            }
            if (s.range.last == kIpMax) break;
            cur = ip_next(s.range.last);
        }
    }
    std::vector<LookupResult> many(probes.size());
    std::vector<Segment> segs(probes.size());
    db.lookup_many(probes, many);
    db.locate_many(probes, segs);
    for (std::size_t i = 0; i < probes.size(); ++i) {
        const Ip a = probes[i];
        const LookupResult r = db.lookup(a);
        const Segment s = db.locate(a);
        FUZZ_CHECK(s.range.contains(a));
        FUZZ_CHECK(same(r, db.answer(s.answer)));
        FUZZ_CHECK(same(r, many[i]));
        FUZZ_CHECK(same(s, segs[i]));
        check_provider_inside(db, r);
    }
    for (std::uint32_t id = 0; id < std::min<std::uint32_t>(db.answer_count() + 2, 64); ++id)
        check_provider_inside(db, db.answer(id));
    for (const auto& f : db.feeds().first(std::min<std::size_t>(db.feeds().size(), 64)))
        for (const auto ref : {f.name, f.url, f.source, f.format}) (void)db.string(ref).size();
    return probes;
}

bool cold_too_large(const Database& db) {
    std::uint64_t total = 0;
    for (const auto& s : db.sections())
        if (s.encoding == static_cast<std::uint32_t>(format::Encoding::zstd)) total += std::min(s.raw_size, kMaxColdRaw + 1);
    return total > kMaxColdRaw;
}

struct PieceCopy {
    Range range;
    LookupResult answer;
};

void exercise_cold(const Database& db, const std::vector<Ip>& probes) {
    if (cold_too_large(db)) return;
    auto cold = ColdData::load(db);
    if (!cold) {
        FUZZ_CHECK(!cold.error().message.empty());
        FUZZ_CHECK(!verify(db));  // what load refuses, verify refuses
        return;
    }
    (void)cold->metadata_json().size();
    const std::uint32_t norig = cold->origin_count();
    const std::size_t nrows = cold->evidence_count();
    for (std::uint32_t r = 0; r < std::min<std::size_t>(nrows, 256); ++r) {
        FUZZ_CHECK(valid_range(cold->row_range(r)));
        FUZZ_CHECK(cold->origin_of_row(r) < norig);
    }
    for (std::uint32_t o = 0; o < std::min<std::uint32_t>(norig, 256); ++o) {
        const Contribution c = cold->contribution(o);
        FUZZ_CHECK(c.origin == o && c.feed < db.feeds().size());
    }
    for (std::uint32_t i = 0; i < std::min<std::uint32_t>(db.provider_count() + 2, 64); ++i)
        (void)cold->provider_name(i).size();

    for (std::size_t i = 0; i < std::min<std::size_t>(probes.size(), 24); ++i) {
        const Ip a = probes[i];
        const Explanation e = cold->explain(a);
        FUZZ_CHECK(e.range.contains(a));
        FUZZ_CHECK(same(e.segment, db.locate(a)));
        FUZZ_CHECK(same(e.result, db.lookup(a)));
        for (std::size_t k = 0; k < e.contributions.size(); ++k) {
            const Contribution& c = e.contributions[k];
            FUZZ_CHECK(c.origin < norig);
            FUZZ_CHECK(c.range.contains(a));
            if (k > 0) FUZZ_CHECK(e.contributions[k - 1].origin < c.origin);
        }
        for (const auto& x : e.exclusions) FUZZ_CHECK(x.range.contains(a));
    }

    // The sweep, bounded: contiguous pieces from ::, rows that hold them.
    std::vector<PieceCopy> pieces;
    std::vector<std::string_view> names;
    Ip expect = kIpMin;
    bool ended = false;
    try {
        cold->for_each_piece([&](const Piece& p) {
            FUZZ_CHECK(!ended);
            FUZZ_CHECK(p.range.first == expect);
            FUZZ_CHECK(valid_range(p.range));
            for (std::size_t k = 0; k < p.rows.size(); ++k) {
                FUZZ_CHECK(p.rows[k] < nrows);
                if (k > 0) FUZZ_CHECK(p.rows[k - 1] < p.rows[k]);
                if (k < 64) {
                    const Range rr = cold->row_range(p.rows[k]);
                    FUZZ_CHECK(rr.first <= p.range.first && p.range.last <= rr.last);
                }
            }
            const LookupResult want = cold->answer_of(p.rows);
            FUZZ_CHECK(want.flagged == !p.rows.empty());
            if (pieces.size() < 256) cold->sources_of(p.rows, names);
            pieces.push_back({p.range, want});
            if (p.range.last == kIpMax) ended = true;
            else expect = ip_next(p.range.last);
            if (pieces.size() >= kMaxPieces && !ended) throw StopSweep{};
        });
        FUZZ_CHECK(ended);
    } catch (const StopSweep&) {
    }

    const auto v = verify(db);
    if (!v) {
        FUZZ_CHECK(!v.error().message.empty());
        return;
    }
    // verify() passed: the hot sections are the evidence's answers.
    FUZZ_CHECK(Database::from_bytes(db.file_bytes(), {OpenChecks::full}));
    for (const Ip a : probes) {
        const auto it = std::upper_bound(pieces.begin(), pieces.end(), a,
                                         [](Ip x, const PieceCopy& p) { return x < p.range.first; });
        if (it == pieces.begin()) continue;
        const PieceCopy& p = *std::prev(it);
        if (!p.range.contains(a)) continue;  // past the bounded sweep
        FUZZ_CHECK(same(db.lookup(a), p.answer));
    }
}

// Opens `bytes` both ways and exercises what opens; returns whether the
// full open succeeded.
bool run(std::span<const std::byte> bytes, std::span<const std::uint8_t> raw) {
    auto full = Database::from_bytes(bytes, {OpenChecks::full});
    auto deferred = Database::from_bytes(bytes, {OpenChecks::deferred});
    if (full) FUZZ_CHECK(deferred);  // deferred checks a subset
    if (!deferred) return false;
    const std::vector<Ip> probes = exercise_lookups(*deferred, base_probes(raw));
    if (full) {
        exercise_lookups(*full, base_probes(raw));
        for (const Ip a : probes) {
            FUZZ_CHECK(same(full->lookup(a), deferred->lookup(a)));
            FUZZ_CHECK(same(full->locate(a), deferred->locate(a)));
        }
    }
    exercise_cold(*deferred, probes);
    return bool(full);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::span<const std::uint8_t> in(data, size);
    // A compact input (compact_db.hpp) stands for the file it expands to,
    // checksums recomputed.
    std::optional<std::vector<std::uint8_t>> expanded;
    if (is_compact(in)) {
        expanded = expand_compact(in);
        if (!expanded) return 0;
        reseal(*expanded);
        in = *expanded;
    }
    // from_bytes wants 8-byte aligned data.
    std::vector<std::uint64_t> storage((in.size() + 7) / 8);
    if (!in.empty()) std::memcpy(storage.data(), in.data(), in.size());
    const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(storage.data()), in.size());
    if (run(bytes, in) || expanded) return 0;
    // A whole file that does not open with full checks: again behind valid
    // checksums.
    std::span<std::uint8_t> writable(reinterpret_cast<std::uint8_t*>(storage.data()), in.size());
    reseal(writable);
    if (!in.empty() && std::memcmp(storage.data(), in.data(), in.size()) != 0) run(bytes, writable);
    return 0;
}

// Half the time libFuzzer's own mutations over the whole input; otherwise
// they are applied to one span (the header with the section table, or one
// section) chosen uniformly, in place and keeping the size.
extern "C" std::size_t LLVMFuzzerCustomMutator(std::uint8_t* data, std::size_t size, std::size_t max_size,
                                               unsigned int seed) {
    Mix mix{seed};
    if (size == 0) {  // libFuzzer's mutators want a byte to work on
        if (max_size == 0) return 0;
        data[0] = static_cast<std::uint8_t>(mix.next());
        return 1;
    }
    if (mix.next() % 2 == 0) return LLVMFuzzerMutate(data, size, max_size);
    const auto spans = spans_of({data, size});
    if (spans.empty()) return LLVMFuzzerMutate(data, size, max_size);
    const Span s = spans[mix.next() % spans.size()];
    std::vector<std::uint8_t> part(data + s.offset, data + s.offset + s.size);
    const std::size_t n = LLVMFuzzerMutate(part.data(), part.size(), part.size());
    std::memcpy(data + s.offset, part.data(), std::min(n, part.size()));
    return size;
}
