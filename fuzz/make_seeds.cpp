// Writes the generated seeds of fuzz/corpus (fuzz/make_corpus.sh runs it):
//   reader/tiny-zstd.anondb   a small database with every kind of origin
//       (range entries, an ASN-derived entry linked to its ASN-table row, an
//       exclusion rule and what it removed), IPv4 and IPv6 rows, nested and
//       touching, cold sections zstd-compressed: a whole file (256 KiB)
//   reader/tiny-raw.fz, reader/tiny-zstd.fz, reader/empty-raw.fz   the same
//       with cold sections raw (so that mutations reach the column decoding)
//       and compressed, and a database with no entries, in the compact form
//       of compact_db.hpp (a few KiB each)
//   read_mmdb_asn/anondb-export.mmdb   that database's MMDB export (an IPv6
//       tree with the IPv4 subtree, its aliases and autonomous_system_number)
//   mmdb_roundtrip/seed-N   random bytes from a fixed seed (the target reads
//       any bytes as content)
// Usage: fuzz_make_seeds OUTDIR. Deterministic: same program, same bytes.
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "anondb/builder/history.hpp"
#include "anondb/builder/merge.hpp"
#include "anondb/builder/pipeline.hpp"
#include "anondb/category.hpp"
#include "anondb/explain.hpp"
#include "anondb/mmdb_writer.hpp"
#include "anondb/reader.hpp"
#include "anondb/writer.hpp"
#include "compact_db.hpp"

using namespace anondb;

namespace {

void write(const std::filesystem::path& path, const void* data, std::size_t size) {
    std::filesystem::create_directories(path.parent_path());
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
    if (!out) {
        std::fprintf(stderr, "cannot write %s\n", path.c_str());
        std::exit(1);
    }
    std::printf("%8zu  %s\n", size, path.c_str());
}

Range range_of(const char* text) {
    const auto r = parse_range(text);
    if (!r) {
        std::fprintf(stderr, "bad range %s\n", text);
        std::exit(1);
    }
    return r->range;
}

struct Content {
    writer::DatabaseContent c;
    std::deque<std::string> texts;
    std::vector<builder::MergeInput> inputs;

    std::uint32_t feed(const char* name, format::FeedRole role, std::uint32_t cats, std::uint32_t asn_table = 0) {
        writer::FeedInfo f;
        f.name = name;
        f.url = std::string("https://feeds.example/") + name;
        f.source = std::string("data/snapshot/") + name;
        f.format = role == format::FeedRole::asn_table ? "iptoasn" : "plain";
        f.categories = cats;
        f.fetched_at = 1767225600;
        f.bytes = 100;
        f.accepted = 3;
        f.rejected = 1;
        f.flags = format::kFeedSnapshot;
        f.role = role;
        f.asn_table = asn_table;
        c.feeds.push_back(f);
        return static_cast<std::uint32_t>(c.feeds.size() - 1);
    }
    std::uint32_t origin(std::uint32_t feed, const std::string& text, std::uint32_t cats, std::uint32_t provider,
                         std::uint32_t asn = 0, std::uint32_t link = format::kNoLink) {
        texts.push_back(text);
        writer::OriginInfo o;
        o.feed = feed;
        o.line = static_cast<std::uint32_t>(c.origins.size() + 1);
        o.categories = cats;
        o.provider = provider;
        o.text = texts.back();
        o.asn = asn;
        o.link = link;
        c.origins.push_back(o);
        return static_cast<std::uint32_t>(c.origins.size() - 1);
    }
    void row(const char* range, std::uint32_t origin) { inputs.push_back({range_of(range), origin, 0, 0, 0}); }
};

Content tiny() {
    Content t;
    t.c.providers = {"", "Apple", "Mullvad"};  // byte order
    t.c.build_time = 1767225600;
    t.c.data_version = 1767225600;
    t.c.metadata_json = R"({"generator":"fuzz/make_seeds","build_time":1767225600})";
    const auto tor = t.feed("tor-exits", format::FeedRole::ranges, kTorExit);
    const auto vpn = t.feed("vpn-list", format::FeedRole::ranges, kVpn, 0);
    const auto table = t.feed("asn-table", format::FeedRole::asn_table, 0);
    const auto list = t.feed("provider-asns", format::FeedRole::asn_list, kVpn, table + 1);
    const auto excl = t.feed("exclusions", format::FeedRole::exclusions, 0);
    t.row("185.220.101.0/24", t.origin(tor, "185.220.101.0/24", kTorExit, 0));
    t.row("185.220.101.7", t.origin(tor, "ExitAddress 185.220.101.7", kTorExit, 0));
    t.row("0.0.0.0/8", t.origin(tor, "0.0.0.0/8", kTorExit, 0));
    t.row("255.255.255.255", t.origin(vpn, "255.255.255.255", kVpn | kHosting, 2));
    const auto m = t.origin(vpn, "198.51.100.0/24", kVpn, 2);
    t.row("198.51.100.0/24", m);
    t.row("2001:db8::/32", t.origin(vpn, "2001:db8::/32", kVpn | kRelay, 1));
    t.row("2001:db8::1-2001:db8::1:0", t.origin(vpn, "2001:db8::1-2001:db8::1:0", kRelay, 1));
    t.row("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fff0-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
          t.origin(vpn, "ffff::fff0-...", kProxy, 0));
    t.row("::/127", t.origin(vpn, "::/127", kResidentialProxy, 0));
    // ASN-derived: the table row (no evidence), the list line linked to it.
    const auto table_row = t.origin(table, "5.180.62.0/23\t64500", 0, 0, 64500);
    const auto derived = t.origin(list, "Mullvad,vpn,AS64500,https://example.org/asn", kVpn, 2, 64500, table_row);
    t.row("5.180.62.0/24", derived);
    const auto table_row2 = t.origin(table, "198.51.100.0/24\t714", 0, 0, 714);
    t.row("198.51.100.64/26", t.origin(list, "Apple,vpn,AS714,https://example.org/714", kVpn | kHosting, 1, 714,
                                       table_row2));
    const auto rule = t.origin(excl, "prefix,5.180.63.0/24,an ISP,https://example.org/isp", 0, 0);
    t.c.exclusions.push_back({range_of("5.180.63.0/24"), derived, rule});
    builder::merge_into(t.inputs, t.c);
    // First-seen days (format 2.2): a previous database's day on part of the space.
    const writer::FirstSeenInfo previous[] = {{range_of("185.220.0.0/16"), 20300}};
    t.c.first_seen = builder::first_seen_rows(t.c, previous);
    return t;
}

std::vector<std::byte> serialize(const Content& t, bool compress) {
    writer::WriteOptions o;
    o.compress_cold = compress;
    auto bytes = writer::serialize(t.c, o);
    if (!bytes) {
        std::fprintf(stderr, "serialize: %s\n", bytes.error().message.c_str());
        std::exit(1);
    }
    return std::move(*bytes);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
        return 2;
    }
    const std::filesystem::path out = argv[1];
    const Content t = tiny();
    const auto raw = serialize(t, false);
    const auto zstd = serialize(t, true);
    write(out / "reader" / "tiny-zstd.anondb", zstd.data(), zstd.size());
    auto write_compact = [&](const char* name, const std::vector<std::byte>& file) {
        const auto c = fuzz::make_compact({reinterpret_cast<const std::uint8_t*>(file.data()), file.size()});
        const auto back = fuzz::expand_compact(c);
        if (!back || back->size() != file.size() || std::memcmp(back->data(), file.data(), file.size()) != 0) {
            std::fprintf(stderr, "%s: the compact form does not expand to the file\n", name);
            std::exit(1);
        }
        write(out / "reader" / name, c.data(), c.size());
    };
    write_compact("tiny-raw.fz", raw);
    write_compact("tiny-zstd.fz", zstd);
    Content empty;
    empty.c.build_time = 1767225600;
    empty.feed("tor-exits", format::FeedRole::ranges, kTorExit);
    builder::merge_into(empty.inputs, empty.c);
    write_compact("empty-raw.fz", serialize(empty, false));

    // Open it, check it, export it.
    std::vector<std::uint64_t> storage((zstd.size() + 7) / 8);
    std::memcpy(storage.data(), zstd.data(), zstd.size());
    auto db = Database::from_bytes({reinterpret_cast<const std::byte*>(storage.data()), zstd.size()});
    if (!db) {
        std::fprintf(stderr, "open: %s\n", db.error().message.c_str());
        return 1;
    }
    if (auto v = verify(*db); !v) {
        std::fprintf(stderr, "verify: %s\n", v.error().message.c_str());
        return 1;
    }
    auto cold = ColdData::load(*db);
    auto mmdb = mmdb::export_mmdb(*db, *cold, {});
    if (!mmdb) {
        std::fprintf(stderr, "export: %s\n", mmdb.error().message.c_str());
        return 1;
    }
    write(out / "read_mmdb_asn" / "anondb-export.mmdb", mmdb->data(), mmdb->size());

    std::mt19937_64 rng(20270101);
    for (int k = 0; k < 6; ++k) {
        std::vector<std::uint8_t> b(64 + rng() % 512);
        for (auto& x : b) x = static_cast<std::uint8_t>(rng());
        write(out / "mmdb_roundtrip" / ("seed-" + std::to_string(k)), b.data(), b.size());
    }
    return 0;
}
