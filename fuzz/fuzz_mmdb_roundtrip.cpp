// The MMDB export round trip: the fuzz bytes are a small set of origins and
// evidence rows (ranges in both families and in the prefixes the export
// aliases, categories with unknown bits, providers and feed names of any
// bytes and lengths, ASNs on ASN-list feeds), built into content with the
// real builder::merge_into, serialized, opened, verified, exported with
// mmdb::export_mmdb and opened with libmaxminddb.
//
// Checked for probe addresses (both ends of every row and their outside
// neighbours, the edges of the space and of the IPv4 block, and addresses
// from the input), in every spelling the export answers for (a.b.c.d,
// ::ffff:a.b.c.d, ::a.b.c.d, 2002:AABB:CCDD::, Teredo when aliased):
// - the native reader answers what the rows give (a brute-force oracle of
//   FORMAT.md's answer semantics over the rows);
// - libmaxminddb finds an entry exactly where the native reader is flagged,
//   and its is_* keys, provider_name, autonomous_system_number and sources
//   are the native answer's (sources: the distinct feed names of explain's
//   contributions, in origin order), as tests/test_mmdb_export.cpp checks,
//   and so are anonymizer_confidence, network_last_seen and
//   network_first_seen (explain's assessment; feeds fetched at fuzzed ages,
//   first-seen days from builder::first_seen_rows over fuzzed previous
//   rows, or no first_seen section);
// - serialize succeeds, the file passes verify() (which opens it with full
//   checks), and the export is deterministic.
#include <arpa/inet.h>
#include <maxminddb.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "anondb/builder/history.hpp"
#include "anondb/builder/merge.hpp"
#include "anondb/builder/pipeline.hpp"
#include "anondb/category.hpp"
#include "anondb/explain.hpp"
#include "anondb/mmdb_writer.hpp"
#include "anondb/reader.hpp"
#include "anondb/seen.hpp"
#include "anondb/writer.hpp"
#include "fuzz_common.hpp"

using namespace anondb;
using namespace anondb::fuzz;

namespace {

using U128 = unsigned __int128;
U128 u128(Ip a) { return (U128{a.hi} << 64) | a.lo; }
Ip ip_of(U128 v) { return Ip{static_cast<std::uint64_t>(v >> 64), static_cast<std::uint64_t>(v)}; }

constexpr std::size_t kMaxRows = 48;
constexpr std::size_t kMaxProbes = 320;

struct Row {
    Range range;
    std::uint32_t origin;
};

// The content the fuzz bytes describe, with the storage its texts view.
struct Built {
    writer::DatabaseContent c;
    std::deque<std::string> texts;
    std::vector<Row> rows;
    bool teredo = false;
    bool compress = false;
};

std::string name_or(FuzzedDataProvider& in, std::size_t max, const std::string& fallback) {
    std::string s = in.ConsumeRandomLengthString(max);
    return s.empty() ? fallback : s;
}

// A first address in one of the places the export treats differently.
Ip pick_first(FuzzedDataProvider& in) {
    const auto u32 = [&] { return in.ConsumeIntegral<std::uint32_t>(); };
    const auto u64 = [&] { return in.ConsumeIntegral<std::uint64_t>(); };
    const auto small = [&] { return std::uint64_t{in.ConsumeIntegral<std::uint8_t>()}; };
    switch (in.ConsumeIntegralInRange(0, 8)) {
        case 0: return Ip::from_v4(u32());
        case 1: return Ip::from_v4(in.ConsumeBool() ? static_cast<std::uint32_t>(small()) : 0xffffffffu - static_cast<std::uint32_t>(small()));
        case 2: return Ip{u64(), u64()};
        case 3: return Ip{0, u32()};                                                         // ::a.b.c.d, ::/96
        case 4: return Ip{0x2002000000000000ull | (u64() >> 16), u64()};                     // 6to4
        case 5: return Ip{0x2001000000000000ull | u32(), u64()};                             // Teredo
        case 6: return in.ConsumeBool() ? Ip{0, small()} : ip_of(u128(kIpMax) - small());   // ends of the space
        case 7: return in.ConsumeBool() ? ip_of(u128(kV4First) - 1 - small()) : ip_of(u128(kV4Last) + 1 + small());
        default: return Ip{0x20010db800000000ull, small()};                                  // one small cluster
    }
}

Range pick_range(FuzzedDataProvider& in) {
    const Ip first = pick_first(in);
    U128 width;
    const auto kind = in.ConsumeIntegralInRange(0, 3);
    if (kind == 0) width = 0;
    else if (kind == 1) width = in.ConsumeIntegral<std::uint16_t>();
    else width = (U128{1} << in.ConsumeIntegralInRange(0, 127)) - 1;  // a CIDR-sized span, maybe unaligned
    if (kind == 3) width = (U128{1} << in.ConsumeIntegralInRange(0, 127)) + in.ConsumeIntegral<std::uint8_t>();
    const U128 f = u128(first);
    const U128 last = width > ~U128{0} - f ? ~U128{0} : f + width;
    return {first, ip_of(last)};
}

Built build_content(FuzzedDataProvider& in) {
    Built b;
    // Providers: any bytes, lengths past MMDB's size encodings (29, 285).
    std::vector<std::string> providers;
    for (int n = in.ConsumeIntegralInRange(0, 3); n > 0; --n) {
        std::string p = in.ConsumeRandomLengthString(in.ConsumeBool() ? 16 : 400);
        if (!p.empty()) providers.push_back(std::move(p));
    }
    std::sort(providers.begin(), providers.end());
    providers.erase(std::unique(providers.begin(), providers.end()), providers.end());
    for (auto& p : providers) b.c.providers.push_back(p);
    const int nfeeds = in.ConsumeIntegralInRange(1, 4);
    for (int i = 0; i < nfeeds; ++i) {
        writer::FeedInfo f;
        f.name = name_or(in, 24, "feed-" + std::to_string(i));
        f.url = "https://feeds.example/" + std::to_string(i);
        f.format = "plain";
        f.role = in.ConsumeBool() ? format::FeedRole::asn_list : format::FeedRole::ranges;
        b.c.feeds.push_back(f);
    }
    b.c.build_time = 1767225600 + in.ConsumeIntegral<std::uint16_t>();  // libmaxminddb refuses epoch 0
    // Fetched up to 64 days before the build, or a little after it.
    for (auto& f : b.c.feeds) f.fetched_at = b.c.build_time - in.ConsumeIntegralInRange<std::int64_t>(-86400, 64 * 86400);
    b.c.data_version = 1;
    b.teredo = in.ConsumeBool();
    b.compress = in.ConsumeBool();

    while (b.rows.size() < kMaxRows && in.remaining_bytes() > 0) {
        std::uint32_t origin;
        if (!b.c.origins.empty() && in.ConsumeIntegralInRange(0, 3) == 0) {
            origin = in.ConsumeIntegralInRange<std::uint32_t>(0, static_cast<std::uint32_t>(b.c.origins.size() - 1));
        } else {
            writer::OriginInfo o;
            o.feed = in.ConsumeIntegralInRange<std::uint32_t>(0, static_cast<std::uint32_t>(b.c.feeds.size() - 1));
            o.line = static_cast<std::uint32_t>(b.c.origins.size() + 1);
            // Categories: the six known bits, unknown ones now and then, or none.
            o.categories = in.ConsumeIntegral<std::uint8_t>();
            if (in.ConsumeIntegralInRange(0, 15) == 0) o.categories |= in.ConsumeIntegral<std::uint32_t>();
            o.provider = in.ConsumeIntegralInRange<std::uint32_t>(0, static_cast<std::uint32_t>(b.c.providers.size() - 1));
            if (b.c.feeds[o.feed].role == format::FeedRole::asn_list)
                o.asn = std::max<std::uint32_t>(1, in.ConsumeIntegral<std::uint32_t>());
            b.texts.push_back("line " + std::to_string(o.line));
            o.text = b.texts.back();
            b.c.origins.push_back(o);
            origin = static_cast<std::uint32_t>(b.c.origins.size() - 1);
        }
        b.rows.push_back({pick_range(in), origin});
    }
    std::vector<builder::MergeInput> inputs;
    for (const Row& r : b.rows) inputs.push_back({r.range, r.origin, 0, 0, 0});
    builder::merge_into(inputs, b.c);
    // First-seen days: none (a file without the section), or over a
    // previous database's rows (sorted, disjoint, any days).
    if (in.ConsumeIntegralInRange(0, 3) != 0) {
        std::vector<writer::FirstSeenInfo> previous;
        for (int n = in.ConsumeIntegralInRange(0, 6); n > 0; --n) {
            const Range r = pick_range(in);
            if (!previous.empty() && !(previous.back().range.last < r.first)) continue;
            previous.push_back({r, seen::day_of(b.c.build_time) - in.ConsumeIntegralInRange<std::uint32_t>(0, 900)});
        }
        b.c.first_seen = builder::first_seen_rows(b.c, previous);
    }
    return b;
}

// ---- the oracle: FORMAT.md, Answer semantics, over the rows alone -------------

struct Want {
    bool flagged = false;
    std::uint32_t categories = 0;
    std::string_view provider;
    std::uint32_t asn = 0;
};

Want oracle(const Built& b, Ip a) {
    Want w;
    std::optional<std::tuple<bool, U128, std::uint32_t>> best_provider;
    std::optional<std::pair<U128, std::uint32_t>> best_asn;
    for (const Row& r : b.rows) {
        if (!r.range.contains(a)) continue;
        const auto& o = b.c.origins[r.origin];
        const U128 width = u128(r.range.last) - u128(r.range.first);
        w.flagged = true;
        w.categories |= o.categories;
        if (o.provider != 0) {
            const std::tuple<bool, U128, std::uint32_t> k{o.asn != 0, width, o.provider};
            if (!best_provider || k < *best_provider) best_provider = k;
        }
        if (o.asn != 0) {
            const std::pair<U128, std::uint32_t> k{width, o.asn};
            if (!best_asn || k < *best_asn) best_asn = k;
        }
    }
    if (best_provider) w.provider = b.c.providers[std::get<2>(*best_provider)];
    if (best_asn) w.asn = best_asn->second;
    return w;
}

// ---- libmaxminddb ---------------------------------------------------------------

struct MmdbFile {
    int fd = -1;
    MMDB_s mmdb{};
    bool open = false;
    ~MmdbFile() {
        if (open) MMDB_close(&mmdb);
        if (fd >= 0) ::close(fd);
    }
};

const char* const kBoolKeys[] = {"is_anonymous",        "is_anonymous_vpn",     "is_hosting_provider",
                                 "is_public_proxy",     "is_residential_proxy", "is_tor_exit_node"};

// What the map at an address holds, in the data map's terms.
struct Answer {
    bool found = false;
    bool keys[6] = {};
    std::string provider;
    std::uint32_t asn = 0;
    std::vector<std::string> sources;
    unsigned confidence = 0;
    std::string first_seen, last_seen;  // "" when absent
    bool operator==(const Answer& o) const {
        return found == o.found && std::equal(keys, keys + 6, o.keys) && provider == o.provider && asn == o.asn &&
               sources == o.sources && confidence == o.confidence && first_seen == o.first_seen &&
               last_seen == o.last_seen;
    }
};

Answer read_entry(MMDB_lookup_result_s res) {
    Answer a;
    if (!res.found_entry) return a;
    a.found = true;
    MMDB_entry_data_s d{};
    for (int i = 0; i < 6; ++i) {
        if (MMDB_get_value(&res.entry, &d, kBoolKeys[i], nullptr) != MMDB_SUCCESS || !d.has_data) continue;
        FUZZ_CHECK(d.type == MMDB_DATA_TYPE_BOOLEAN && d.boolean);  // only true keys are written
        a.keys[i] = true;
    }
    if (MMDB_get_value(&res.entry, &d, "provider_name", nullptr) == MMDB_SUCCESS && d.has_data) {
        FUZZ_CHECK(d.type == MMDB_DATA_TYPE_UTF8_STRING);
        a.provider.assign(d.utf8_string, d.data_size);
    }
    if (MMDB_get_value(&res.entry, &d, "autonomous_system_number", nullptr) == MMDB_SUCCESS && d.has_data) {
        FUZZ_CHECK(d.type == MMDB_DATA_TYPE_UINT32 && d.uint32 != 0);
        a.asn = d.uint32;
    }
    FUZZ_CHECK(MMDB_get_value(&res.entry, &d, "anonymizer_confidence", nullptr) == MMDB_SUCCESS);
    FUZZ_CHECK(d.has_data && d.type == MMDB_DATA_TYPE_UINT16 && d.uint16 >= 1 && d.uint16 <= 99);
    a.confidence = d.uint16;
    for (auto [key, out] : {std::pair{"network_first_seen", &a.first_seen}, {"network_last_seen", &a.last_seen}}) {
        if (MMDB_get_value(&res.entry, &d, key, nullptr) != MMDB_SUCCESS || !d.has_data) continue;
        FUZZ_CHECK(d.type == MMDB_DATA_TYPE_UTF8_STRING);
        out->assign(d.utf8_string, d.data_size);
    }
    FUZZ_CHECK(!a.last_seen.empty());
    FUZZ_CHECK(MMDB_get_value(&res.entry, &d, "sources", nullptr) == MMDB_SUCCESS);
    FUZZ_CHECK(d.has_data && d.type == MMDB_DATA_TYPE_ARRAY);
    const std::uint32_t n = d.data_size;
    for (std::uint32_t i = 0; i < n; ++i) {
        const std::string idx = std::to_string(i);
        MMDB_entry_data_s s{};
        FUZZ_CHECK(MMDB_get_value(&res.entry, &s, "sources", idx.c_str(), nullptr) == MMDB_SUCCESS);
        FUZZ_CHECK(s.has_data && s.type == MMDB_DATA_TYPE_UTF8_STRING);
        a.sources.emplace_back(s.utf8_string, s.data_size);
    }
    return a;
}

Answer ask_v6(MMDB_s& m, Ip ip) {
    sockaddr_in6 sa{};
    sa.sin6_family = AF_INET6;
    const auto bytes = ip.to_bytes();
    std::memcpy(sa.sin6_addr.s6_addr, bytes.data(), 16);
    int err = 0;
    const auto res = MMDB_lookup_sockaddr(&m, reinterpret_cast<const sockaddr*>(&sa), &err);
    FUZZ_CHECK(err == MMDB_SUCCESS);
    return read_entry(res);
}
Answer ask_v4(MMDB_s& m, std::uint32_t v4) {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(v4);
    int err = 0;
    const auto res = MMDB_lookup_sockaddr(&m, reinterpret_cast<const sockaddr*>(&sa), &err);
    FUZZ_CHECK(err == MMDB_SUCCESS);
    return read_entry(res);
}

// The map the export must hold where the native reader answers for `a`.
Answer expected(const Database& db, const ColdData& cold, Ip a) {
    const LookupResult r = db.lookup(a);
    Answer w;
    if (!r.flagged) return w;
    w.found = true;
    const std::uint32_t c = r.categories;
    const bool on[6] = {is_anonymous(c),         (c & kVpn) != 0,       (c & kHosting) != 0,
                        (c & kProxy) != 0,       (c & kResidentialProxy) != 0, (c & kTorExit) != 0};
    std::copy(on, on + 6, w.keys);
    w.provider = std::string(r.provider);
    w.asn = r.asn;
    // Sources: distinct feed names of the covering evidence, in origin order.
    const Explanation ex = cold.explain(a);
    w.confidence = ex.assessment.confidence;
    w.last_seen = seen::iso_date(ex.assessment.last_seen);
    if (ex.first_seen) w.first_seen = seen::iso_date(*ex.first_seen);
    FUZZ_CHECK(ex.first_seen.has_value() == cold.has_first_seen());
    for (const Contribution& k : ex.contributions) {
        const std::string name(k.feed_name);
        if (std::find(w.sources.begin(), w.sources.end(), name) == w.sources.end()) w.sources.push_back(name);
    }
    return w;
}

// Where a (non IPv4-mapped) IPv6 address lands in the export: the IPv4
// subtree for ::/96, 2002::/16 and (teredo) 2001::/32, else itself.
Ip mmdb_target(Ip ip, bool teredo) {
    if (ip.hi == 0 && (ip.lo >> 32) == 0) return Ip::from_v4(static_cast<std::uint32_t>(ip.lo));
    if ((ip.hi >> 48) == 0x2002) return Ip::from_v4(static_cast<std::uint32_t>(ip.hi >> 16));
    if (teredo && (ip.hi >> 32) == 0x20010000u) return Ip::from_v4(static_cast<std::uint32_t>(ip.hi));
    return ip;
}

void check_address(const Built& b, const Database& db, const ColdData& cold, MMDB_s& m, Ip a) {
    // The native reader against the rows.
    const Want w = oracle(b, a);
    const LookupResult r = db.lookup(a);
    FUZZ_CHECK(r.flagged == w.flagged && r.categories == w.categories && r.provider == w.provider && r.asn == w.asn);
    if (a.is_v4()) {
        const std::uint32_t v = a.v4();
        const Answer want = expected(db, cold, a);
        FUZZ_CHECK(ask_v4(m, v) == want);
        FUZZ_CHECK(ask_v6(m, a) == want);                                          // ::ffff:a.b.c.d
        FUZZ_CHECK(ask_v6(m, Ip{0, v}) == want);                                   // ::a.b.c.d
        FUZZ_CHECK(ask_v6(m, Ip{0x2002000000000000ull | std::uint64_t{v} << 16, 0}) == want);  // 6to4
        if (b.teredo) FUZZ_CHECK(ask_v6(m, Ip{0x2001000000000000ull | v, 1}) == want);
        return;
    }
    FUZZ_CHECK(ask_v6(m, a) == expected(db, cold, mmdb_target(a, b.teredo)));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    FuzzedDataProvider in(data, size);
    const Built b = build_content(in);

    writer::WriteOptions wo;
    wo.compress_cold = b.compress;
    auto bytes = writer::serialize(b.c, wo);
    if (!bytes) std::fprintf(stderr, "serialize: %s\n", bytes.error().message.c_str());
    FUZZ_CHECK(bytes);
    std::vector<std::uint64_t> storage((bytes->size() + 7) / 8);
    std::memcpy(storage.data(), bytes->data(), bytes->size());
    // Deferred: verify() below runs the full open's checks (a full open here
    // would repeat the 256 KiB IPv4 index check, most of an execution).
    auto db = Database::from_bytes({reinterpret_cast<const std::byte*>(storage.data()), bytes->size()},
                                   {OpenChecks::deferred});
    if (!db) std::fprintf(stderr, "open: %s\n", db.error().message.c_str());
    FUZZ_CHECK(db);
    auto cold = ColdData::load(*db);
    FUZZ_CHECK(cold);
    const auto v = verify(*db);
    if (!v) std::fprintf(stderr, "verify: %s\n", v.error().message.c_str());
    FUZZ_CHECK(v);

    mmdb::MmdbOptions mo;
    mo.alias_teredo = b.teredo;
    auto out = mmdb::export_mmdb(*db, *cold, mo);
    if (!out) std::fprintf(stderr, "export_mmdb: %s\n", out.error().message.c_str());
    FUZZ_CHECK(out);
    const auto again = mmdb::export_mmdb(*db, *cold, mo);
    FUZZ_CHECK(again && *again == *out);  // deterministic

    MmdbFile f;
    f.fd = ::memfd_create("fuzz-export.mmdb", MFD_CLOEXEC);
    FUZZ_CHECK(f.fd >= 0);
    for (std::size_t done = 0; done < out->size();) {
        const ssize_t n = ::write(f.fd, out->data() + done, out->size() - done);
        FUZZ_CHECK(n > 0);
        done += static_cast<std::size_t>(n);
    }
    const std::string path = "/proc/self/fd/" + std::to_string(f.fd);
    const int st = MMDB_open(path.c_str(), MMDB_MODE_MMAP, &f.mmdb);
    if (st != MMDB_SUCCESS) std::fprintf(stderr, "MMDB_open: %s\n", MMDB_strerror(st));
    FUZZ_CHECK(st == MMDB_SUCCESS);
    f.open = true;
    FUZZ_CHECK(f.mmdb.metadata.ip_version == 6);
    FUZZ_CHECK(f.mmdb.metadata.build_epoch == static_cast<std::uint64_t>(b.c.build_time));

    std::vector<Ip> probes;
    auto around = [&](Ip a) {
        probes.push_back(a);
        if (a != kIpMin) probes.push_back(ip_prev(a));
        if (a != kIpMax) probes.push_back(ip_next(a));
    };
    for (const Row& r : b.rows) {
        around(r.range.first);
        around(r.range.last);
    }
    for (Ip a : {kIpMin, kV4First, kV4Last, kIpMax, Ip{0x2002000000000000ull, 0}, Ip{0x2001000000000000ull, 0}})
        around(a);
    Mix mix{size};
    for (std::uint8_t k = 0; k < 8; ++k) {
        mix.s ^= k < size ? data[k] : 0;
        probes.push_back(Ip::from_v4(static_cast<std::uint32_t>(mix.next())));
        probes.push_back(Ip{mix.next(), mix.next()});
    }
    if (probes.size() > kMaxProbes) probes.resize(kMaxProbes);
    for (const Ip a : probes) check_address(b, *db, *cold, f.mmdb, a);
    return 0;
}
