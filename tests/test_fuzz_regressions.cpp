// Regression tests for what the fuzz targets found (fuzz/, fuzz/README.md).
// Each case names the target that found it, what went wrong and how to
// reproduce it; the input is built here as bytes, or is a file under
// tests/data/fuzz/ with a note in tests/data/fuzz/README.md.
#include <doctest/doctest.h>

#include <maxminddb.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <new>
#include <span>
#include <string>
#include <vector>

#include "anondb/builder/merge.hpp"
#include "anondb/builder/pipeline.hpp"
#include "anondb/explain.hpp"
#include "anondb/format.hpp"
#include "anondb/reader.hpp"
#include "anondb/sources/asn.hpp"
#include "anondb/writer.hpp"
#include "anondb/xxh64.hpp"
#include "test_mmdb_file.hpp"

using namespace anondb;

// ---- allocation cap: operator new refuses (and records) requests past a limit ----
//
// Replaces the global operator new of this test program, so a test can ask
// "did this call try to allocate gigabytes?" without the machine paying for
// it: while g_cap is set, a larger request throws std::bad_alloc and is
// recorded in g_refused.
namespace {
std::size_t g_cap = 0;       // 0: no cap
std::size_t g_refused = 0;   // largest request refused while capped

struct AllocationCap {
    explicit AllocationCap(std::size_t bytes) {
        g_cap = bytes;
        g_refused = 0;
    }
    ~AllocationCap() { g_cap = 0; }
    AllocationCap(const AllocationCap&) = delete;
    AllocationCap& operator=(const AllocationCap&) = delete;
};
}  // namespace

// GCC 12 takes free() in a replacement operator delete for a mismatch once
// new and delete are inlined into a caller (-Wmismatched-new-delete); here
// they are a matched pair by construction.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void* operator new(std::size_t n) {
    if (g_cap != 0 && n > g_cap) {
        g_refused = std::max(g_refused, n);
        throw std::bad_alloc();
    }
    if (void* p = std::malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

namespace {

// ---- files ---------------------------------------------------------------------

// A small valid database: one range feed, two entries; cold sections zstd.
std::vector<std::byte> small_database() {
    static std::deque<std::string> texts;  // origin texts must outlive serialize()
    writer::DatabaseContent c;
    c.build_time = 1767225600;
    c.data_version = 1;
    writer::FeedInfo f;
    f.name = "tor-exits";
    f.url = "https://feeds.example/tor";
    f.format = "plain";
    f.categories = kTorExit;
    c.feeds.push_back(f);
    std::vector<builder::MergeInput> inputs;
    for (const char* range : {"185.220.101.0/24", "2001:db8::/48"}) {
        texts.emplace_back(range);
        writer::OriginInfo o;
        o.feed = 0;
        o.line = static_cast<std::uint32_t>(c.origins.size() + 1);
        o.categories = kTorExit;
        o.text = texts.back();
        c.origins.push_back(o);
        const auto r = parse_range(range);
        REQUIRE(r);
        inputs.push_back({r->range, o.line - 1, 0, 0, 0});
    }
    builder::merge_into(inputs, c);
    auto bytes = writer::serialize(c);
    REQUIRE_MESSAGE(bytes, (bytes ? "" : bytes.error().message));
    return std::move(*bytes);
}

template <class T>
T get(const std::vector<std::byte>& b, std::uint64_t at) {
    REQUIRE(at + sizeof(T) <= b.size());
    T v;
    std::memcpy(&v, b.data() + at, sizeof(T));
    return v;
}
template <class T>
void put(std::vector<std::byte>& b, std::uint64_t at, const T& v) {
    REQUIRE(at + sizeof(T) <= b.size());
    std::memcpy(b.data() + at, &v, sizeof(T));
}

// `file` with the stored bytes of section `kind` replaced (and its
// encoding and raw_size set), laid out again as the writer does (table at
// 64, sections in table order at multiples of 64) with every checksum
// recomputed: so the change reaches the checks behind the checksums.
std::vector<std::byte> replace_section(const std::vector<std::byte>& file, format::SectionKind kind,
                                       const std::vector<std::byte>& stored, format::Encoding encoding,
                                       std::uint64_t raw_size) {
    auto h = get<format::Header>(file, 0);
    std::vector<format::SectionEntry> table;
    std::vector<std::vector<std::byte>> data;
    bool found = false;
    for (std::uint32_t i = 0; i < h.section_count; ++i) {
        auto e = get<format::SectionEntry>(file, h.section_table_offset + i * sizeof(format::SectionEntry));
        std::vector<std::byte> bytes(file.begin() + static_cast<std::ptrdiff_t>(e.offset),
                                     file.begin() + static_cast<std::ptrdiff_t>(e.offset + e.stored_size));
        if (e.kind == static_cast<std::uint32_t>(kind)) {
            bytes = stored;
            e.encoding = static_cast<std::uint32_t>(encoding);
            e.raw_size = raw_size;
            found = true;
        }
        table.push_back(e);
        data.push_back(std::move(bytes));
    }
    REQUIRE(found);
    auto align = [](std::uint64_t x) { return (x + 63) / 64 * 64; };
    std::uint64_t end = 64 + table.size() * sizeof(format::SectionEntry), cursor = align(end);
    for (std::size_t i = 0; i < table.size(); ++i) {
        table[i].offset = cursor;
        table[i].stored_size = data[i].size();
        table[i].checksum = detail::xxh64(data[i].data(), data[i].size());
        end = cursor + data[i].size();
        cursor = align(end);
    }
    std::vector<std::byte> out(end);
    h.section_table_offset = 64;
    h.file_size = end;
    for (std::size_t i = 0; i < table.size(); ++i) {
        put(out, 64 + i * sizeof(format::SectionEntry), table[i]);
        if (!data[i].empty()) std::memcpy(out.data() + table[i].offset, data[i].data(), data[i].size());
    }
    // The table checksum covers header bytes [0, 56) and the table.
    put(out, 0, h);
    std::vector<std::byte> covered(out.begin(), out.begin() + offsetof(format::Header, table_checksum));
    covered.insert(covered.end(), out.begin() + 64,
                   out.begin() + 64 + static_cast<std::ptrdiff_t>(table.size() * sizeof(format::SectionEntry)));
    h.table_checksum = detail::xxh64(covered.data(), covered.size());
    put(out, 0, h);
    return out;
}

// An 8-byte aligned copy, as Database::from_bytes wants.
struct Aligned {
    std::vector<std::uint64_t> words;
    std::size_t size;
    explicit Aligned(const std::vector<std::byte>& b) : words((b.size() + 7) / 8), size(b.size()) {
        std::memcpy(words.data(), b.data(), b.size());
    }
    std::span<const std::byte> bytes() const { return {reinterpret_cast<const std::byte*>(words.data()), size}; }
};

}  // namespace

// Found by: reader (with the target's cold-size cap lifted:
// ANONDB_FUZZ_MAX_COLD_RAW=1e12). ColdData::load checked that a zstd
// frame's declared content size equals the section's raw_size and is at
// most 4 GiB, then allocated and zero-filled raw_size bytes before decoding
// a single block (reader/src/cold.cpp, load_section). A cold section of 17
// bytes (a frame header and an empty block) could therefore make load()
// and verify() take up to 4 GiB of memory and seconds of memset, wherever
// a hostile .anondb file is read (explain, verify, the exports). Fixed:
// decode_zstd grows its buffer with what the frame yields. Checked here
// with a frame that holds nothing and one that holds 2 MiB (16 RLE blocks
// of 128 KiB, 68 bytes), each declaring 3 GiB: both refused, no
// allocation past 256 MiB asked for.
TEST_CASE("fuzz reader: a zstd cold section declaring 3 GiB it does not hold is refused without allocating it") {
    const std::uint64_t declared = std::uint64_t{3} << 30;
    for (const unsigned rle_blocks : {0u, 16u}) {
        CAPTURE(rle_blocks);
        // Frame: magic, descriptor 0xC0 (8-byte content size, not single
        // segment), window descriptor (2^17), the size, then the blocks.
        std::vector<std::byte> frame;
        for (unsigned v : {0x28u, 0xb5u, 0x2fu, 0xfdu, 0xc0u, 0x38u}) frame.push_back(static_cast<std::byte>(v));
        for (unsigned i = 0; i < 8; ++i) frame.push_back(static_cast<std::byte>(declared >> (8 * i)));
        auto block = [&frame](bool last, unsigned type, std::uint32_t size) {
            const std::uint32_t h = (last ? 1u : 0u) | type << 1 | size << 3;
            for (unsigned i = 0; i < 3; ++i) frame.push_back(static_cast<std::byte>(h >> (8 * i)));
        };
        if (rle_blocks == 0) block(true, 0, 0);  // one empty raw block
        for (unsigned b = 0; b < rle_blocks; ++b) {
            block(b + 1 == rle_blocks, 1, 128u << 10);  // RLE: one byte, repeated
            frame.push_back(std::byte{0x61});
        }
        const auto file =
            replace_section(small_database(), format::SectionKind::metadata, frame, format::Encoding::zstd, declared);
        const Aligned a(file);
        auto db = Database::from_bytes(a.bytes());  // cold sections are not read at open
        REQUIRE_MESSAGE(db, (db ? "" : db.error().message));

        for (const bool through_verify : {false, true}) {
            CAPTURE(through_verify);
            bool refused = false;
            Status status = Status::ok;
            std::string message;
            std::size_t asked = 0;
            {
                AllocationCap cap(std::size_t{256} << 20);
                try {
                    if (through_verify) {
                        const auto v = verify(*db);
                        if (!v) status = v.error().status, message = v.error().message;
                    } else {
                        const auto cold = ColdData::load(*db);
                        if (!cold) status = cold.error().status, message = cold.error().message;
                    }
                } catch (const std::bad_alloc&) {
                    refused = true;
                }
                asked = g_refused;
            }
            CHECK_MESSAGE(!refused, "asked for " << asked << " bytes for a section of " << frame.size() << " bytes");
            CHECK(status == Status::decompress);
            CHECK_MESSAGE(message.find("metadata") != std::string::npos, message);
        }
    }
}

// ---- read_mmdb_asn -----------------------------------------------------------------

namespace {

// {autonomous_system_number: AS}, encoded.
std::string asn_data(std::uint32_t asn) {
    return test::TinyMmdb::map({{"autonomous_system_number", test::TinyMmdb::u32(asn)}});
}

std::uint32_t mmdb_asn_at(const std::string& path, const char* address, bool& found) {
    MMDB_s db{};
    REQUIRE(MMDB_open(path.c_str(), MMDB_MODE_MMAP, &db) == MMDB_SUCCESS);
    int gai = 0, err = 0;
    auto res = MMDB_lookup_string(&db, address, &gai, &err);
    REQUIRE(gai == 0);
    REQUIRE(err == MMDB_SUCCESS);
    found = res.found_entry;
    std::uint32_t asn = 0;
    MMDB_entry_data_s d{};
    if (found && MMDB_get_value(&res.entry, &d, "autonomous_system_number", nullptr) == MMDB_SUCCESS && d.has_data)
        asn = d.uint32;
    MMDB_close(&db);
    return asn;
}

}  // namespace

// Found by: read_mmdb_asn, its invariant "rows disjoint" (asn.hpp: "IPv4
// networks come out IPv4-mapped, once. Networks are disjoint"), after 4.5
// minutes from the GeoLite2-ASN-Test seed (build-fuzz crash input
// crash-d82bfe78bf7c, 12,653 bytes: a data record ::c000:0:0/82 of AS17709
// beside the IPv4 subtree's 0.0.0.0/16). Reproduced here with a tree made
// by hand: the IPv4 subtree at ::/96 holds 0.0.0.0/1 (AS64500), and a data
// record at depth 82, ::c000:0:0/82 (AS64501), covers the whole IPv4-mapped
// block ::ffff:0:0/96, where MaxMind's writers put an alias of ::/96.
//
// read_mmdb_asn (sources/src/asn_tables.cpp) maps the ::/96 subtree to
// anondb's IPv4 (::ffff:a.b.c.d) and emitted other networks as they were,
// so the /82 became an IPv6 row containing every IPv4 row: the rows
// overlapped, and through longest-prefix match every IPv4 address the ::/96
// subtree leaves empty (here 128.0.0.0/1) was attributed to AS64501, while
// for libmaxminddb "200.0.0.1" is not in the database at all. A separate
// subtree under ::ffff:0:0/96 (not an alias) duplicated IPv4 rows the same
// way. Fixed: in a tree with an IPv4 subtree the IPv6 walk emits nothing
// inside ::ffff:0:0/96 (a network over it is cut around it, a subtree
// inside it skipped).
TEST_CASE("fuzz read_mmdb_asn: an IPv6 network covering the IPv4-mapped block does not overlap the IPv4 rows") {
    const test::TempDir dir("anondb-fuzz-regression");
    test::TinyMmdb f(6, "Test-ASN");
    f.insert("::/97", asn_data(64500));           // under ::/96, the IPv4 subtree: 0.0.0.0/1
    f.insert("::c000:0:0/82", asn_data(64501));  // bits 80 and 81 set: over ::ffff:0:0/96
    const std::string file = f.write(dir.path, "asn.mmdb");

    // What the file says, per libmaxminddb.
    bool found = false;
    CHECK(mmdb_asn_at(file, "1.2.3.4", found) == 64500);
    CHECK(!(mmdb_asn_at(file, "200.0.0.1", found), found));
    CHECK(mmdb_asn_at(file, "::ffff:200.0.0.1", found) == 64501);

    const auto table = sources::read_mmdb_asn(file);
    REQUIRE_MESSAGE(table, (table ? "" : table.error().message));
    for (std::size_t i = 1; i < table->rows.size(); ++i) {
        const auto& a = table->rows[i - 1];
        const auto& b = table->rows[i];
        CHECK_MESSAGE(a.range.last < b.range.first, "rows " << format_range(a.range) << " (AS"
                                                            << table->asns[a.asn_begin] << ") and "
                                                            << format_range(b.range) << " (AS"
                                                            << table->asns[b.asn_begin] << ") overlap");
    }
    // No row may attribute 200.0.0.1, which the IPv4 subtree leaves empty.
    for (const auto& r : table->rows)
        CHECK_MESSAGE(!r.range.contains(Ip::from_v4(0xc8000001u)),
                      format_range(r.range) << " (AS" << table->asns[r.asn_begin] << ") covers 200.0.0.1");
    // Exactly: the /82 less the block (which ends it), and 0.0.0.0/1 from
    // the IPv4 subtree.
    const Range v6 = prefix_range(Ip{0, std::uint64_t{0xc000} << 32}, 82);
    REQUIRE(v6.last == kV4Last);
    REQUIRE(table->rows.size() == 2);
    CHECK(table->rows[0].range == Range{v6.first, ip_prev(kV4First)});
    CHECK(table->asns[table->rows[0].asn_begin] == 64501);
    CHECK(table->rows[1].range == prefix_range(kV4First, 97));
    CHECK(table->asns[table->rows[1].asn_begin] == 64500);
}

// The same file with a subtree of its own (not an alias of ::/96) under
// ::ffff:0:0/96: libmaxminddb looks IPv4 up in ::/96 and never reaches it,
// so read_mmdb_asn leaves it out instead of writing IPv4 rows twice.
TEST_CASE("fuzz read_mmdb_asn: a subtree under ::ffff:0:0/96 beside the IPv4 subtree gives no rows") {
    const test::TempDir dir("anondb-fuzz-regression");
    test::TinyMmdb f(6, "Test-ASN");
    f.insert("::8000:0/97", asn_data(64500));    // under ::/96: 128.0.0.0/1
    f.insert("::ffff:0:0/97", asn_data(64501));  // a subtree of its own under ::ffff:0:0/96: 0.0.0.0/1 again
    const std::string file = f.write(dir.path, "asn.mmdb");
    bool found = false;
    CHECK(!(mmdb_asn_at(file, "1.2.3.4", found), found));
    CHECK(mmdb_asn_at(file, "200.0.0.1", found) == 64500);

    const auto table = sources::read_mmdb_asn(file);
    REQUIRE_MESSAGE(table, (table ? "" : table.error().message));
    REQUIRE(table->rows.size() == 1);
    CHECK(table->rows[0].range == prefix_range(Ip::from_v4(0x80000000u), 97));
    CHECK(table->asns[table->rows[0].asn_begin] == 64500);
}

namespace {

// What libmaxminddb answers for `address` and what the table's row holding it
// says (rows are disjoint, so at most one): the same AS, or both nothing.
void check_address(const std::string& file, const sources::AsnTable& table, const char* address) {
    const std::string shown = address;
    CAPTURE(shown);
    bool found = false;
    const std::uint32_t want = mmdb_asn_at(file, address, found);
    const auto ip = parse_ip(address);
    REQUIRE(ip);
    std::uint32_t got = 0;
    for (const auto& r : table.rows)
        if (r.range.contains(ip->ip)) got = table.asns[r.asn_begin];
    CHECK(got == (found ? want : 0));
}

void check_disjoint(const sources::AsnTable& table) {
    for (std::size_t i = 1; i < table.rows.size(); ++i) {
        const auto& a = table.rows[i - 1];
        const auto& b = table.rows[i];
        CHECK_MESSAGE(a.range.last < b.range.first, "rows " << format_range(a.range) << " (AS"
                                                            << table.asns[a.asn_begin] << ") and "
                                                            << format_range(b.range) << " (AS"
                                                            << table.asns[b.asn_begin] << ") overlap");
    }
}

}  // namespace

// Found by: read_mmdb_asn, its invariant "rows disjoint", in test.sh's 20 s
// CI run (build-fuzz crash input crash-170541bff6de, 12,485 bytes: the
// record at depth 96 on the all-left path is data, 0.0.0.0/0, beside a data
// record ::c000:0:0/82 over ::ffff:0:0/96). The walk looked for an IPv4
// subtree as a *node* at ::/96; with a data record there it found none, so
// the /82 was not cut, while the data record itself still came out as
// IPv4's 0.0.0.0/0: two rows over all IPv4. Fixed: whatever sits at ::/96
// or above it (a node, a data record at depth 96, a network ::/d with d <
// 96) is IPv4 for libmaxminddb, and ::ffff:0:0/96 never is, so every record
// gives its part inside ::/96 as IPv4 and its parts outside both blocks as
// IPv6.
TEST_CASE("fuzz read_mmdb_asn: a data record at ::/96 is IPv4, and a network over ::ffff:0:0/96 does not overlap it") {
    const test::TempDir dir("anondb-fuzz-regression");
    test::TinyMmdb f(6, "Test-ASN");
    f.insert("::/96", asn_data(64500));          // all IPv4, as one data record
    f.insert("::c000:0:0/82", asn_data(64501));  // over ::ffff:0:0/96
    const std::string file = f.write(dir.path, "asn.mmdb");
    bool found = false;
    REQUIRE(mmdb_asn_at(file, "200.0.0.1", found) == 64500);
    REQUIRE(mmdb_asn_at(file, "::ffff:200.0.0.1", found) == 64501);

    const auto table = sources::read_mmdb_asn(file);
    REQUIRE_MESSAGE(table, (table ? "" : table.error().message));
    check_disjoint(*table);
    for (const char* a : {"1.2.3.4", "200.0.0.1", "255.255.255.255", "::c000:0:1", "::fffe:ffff:ffff", "2001:db8::1"})
        check_address(file, *table, a);
    const Range v6 = prefix_range(Ip{0, std::uint64_t{0xc000} << 32}, 82);
    REQUIRE(table->rows.size() == 2);
    CHECK(table->rows[0].range == Range{v6.first, ip_prev(kV4First)});
    CHECK(table->rows[1].range == Range{kV4First, kV4Last});
    CHECK(table->row_text(table->rows[1]) == "0.0.0.0/0");
}

// Found with the case above: a network ::/d with 80 < d < 96 covers ::/96
// (so libmaxminddb answers it for every IPv4 address) but not
// ::ffff:0:0/96; the walk gave it only as an IPv6 row, and no IPv4 address
// was attributed to it.
TEST_CASE("fuzz read_mmdb_asn: a network over ::/96 also holds IPv4") {
    const test::TempDir dir("anondb-fuzz-regression");
    test::TinyMmdb f(6, "Test-ASN");
    f.insert("::/88", asn_data(64500));
    f.insert("2001:db8::/32", asn_data(64501));
    const std::string file = f.write(dir.path, "asn.mmdb");
    bool found = false;
    REQUIRE(mmdb_asn_at(file, "1.2.3.4", found) == 64500);

    const auto table = sources::read_mmdb_asn(file);
    REQUIRE_MESSAGE(table, (table ? "" : table.error().message));
    check_disjoint(*table);
    for (const char* a : {"1.2.3.4", "255.255.255.255", "::1:0:0", "::ff:ffff:ffff", "::100:0:0", "2001:db8::1"})
        check_address(file, *table, a);
    REQUIRE(table->rows.size() == 3);
    CHECK(table->rows[0].range == Range{Ip{0, std::uint64_t{1} << 32}, prefix_range(Ip{}, 88).last});
    CHECK(table->rows[1].range == Range{kV4First, kV4Last});
    CHECK(table->row_text(table->rows[1]) == "::/88");
}

// Also with the first case: in a tree whose ::/96 holds nothing, a network
// inside ::ffff:0:0/96 is what libmaxminddb never answers for an IPv4
// address; it gave IPv4 rows all the same.
TEST_CASE("fuzz read_mmdb_asn: a network inside ::ffff:0:0/96 with no IPv4 subtree gives no IPv4 rows") {
    const test::TempDir dir("anondb-fuzz-regression");
    test::TinyMmdb f(6, "Test-ASN");
    f.insert("::ffff:0:0/97", asn_data(64500));
    f.insert("2001:db8::/32", asn_data(64501));
    const std::string file = f.write(dir.path, "asn.mmdb");
    bool found = true;
    mmdb_asn_at(file, "1.2.3.4", found);
    REQUIRE(!found);

    const auto table = sources::read_mmdb_asn(file);
    REQUIRE_MESSAGE(table, (table ? "" : table.error().message));
    for (const char* a : {"1.2.3.4", "127.255.255.255", "2001:db8::1"}) check_address(file, *table, a);
    REQUIRE(table->rows.size() == 1);
    CHECK(table->asns[table->rows[0].asn_begin] == 64501);
}
