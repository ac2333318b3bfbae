// lookup_bench: lookup speed of the anondb reader side by side, in one run
// and on the same data, with libmaxminddb (on the MMDB export of the same
// database) and IPFire libloc (on its own location.db), plus file sizes and
// open time. Figures are printed, never asserted.
//
//   lookup_bench [--libloc location.db] [--snapshot FILE.anondb] [--lookups N]
//                [--seed S] [--tmp DIR]
//
// Data sets:
//   libloc    every network of the IPFire location database (nested ones
//             too) compiled into a .anondb with its AS as provider
//             ("AS13335"), category hosting; longest prefix wins, as in
//             libloc. Compared with libmaxminddb and libloc.
//   snapshot  a .anondb built by `anondb build` (when given). Compared with
//             libmaxminddb.
// Addresses: N uniformly random IPv4 addresses, and N random IPv6 addresses
// in 2000::/3, from a seeded generator, made 1024 at a time outside the
// timed sections (every side alike: see AddressStream). Each side's answers are cross-checked
// (flagged vs found; AS vs libloc's AS) and disagreements printed.
//
// Output lines (bench.sh collects them):
//   RESULT <name> <ours ns> <reference ns> <speed-up>x
#include <arpa/inet.h>
#include <maxminddb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

extern "C" {
#include <libloc/database.h>
#include <libloc/libloc.h>
#include <libloc/network.h>
}

#include "anondb/builder/merge.hpp"
#include "anondb/builder/pipeline.hpp"
#include "anondb/reader.hpp"
#include "anondb/sources/asn.hpp"
#include "anondb/writer.hpp"
#include "anondb/mmdb_writer.hpp"
#include "bench_util.hpp"

namespace {

using anondb::Ip;
using namespace anondb::bench;  // Clock, seconds_since, peak_rss_kib, die, Options


double file_mib(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) die("stat " + path);
    return static_cast<double>(st.st_size) / (1 << 20);
}

// ---- the libloc data set ------------------------------------------------------

// location.db -> .anondb at `out`: one merge input per network, provider
// "AS<n>", category hosting. The merge gives the narrowest covering input's
// provider, which is libloc's longest-prefix answer.
void build_libloc_db(const std::string& location_db, const std::string& out) {
    const auto t = Clock::now();
    auto table = anondb::sources::read_libloc_asn(location_db);
    if (!table) die(table.error().message);
    anondb::writer::DatabaseContent content;
    content.build_time = 1667000000;
    content.feeds.push_back({});
    content.feeds[0].name = "ipfire-location";
    // Providers numbered in order of first appearance (row order), which
    // the origins' provider column compresses best; the tie rule compares
    // these numbers (FORMAT.md, Answer semantics).
    std::map<std::uint32_t, std::uint32_t> provider_of_asn;
    for (const auto& row : table->rows) {
        if (row.asn_count == 0) continue;
        const std::uint32_t asn = table->asns[row.asn_begin];
        if (provider_of_asn.try_emplace(asn, static_cast<std::uint32_t>(content.providers.size())).second)
            content.providers.push_back("AS" + std::to_string(asn));
    }
    std::vector<anondb::builder::MergeInput> inputs;
    inputs.reserve(table->rows.size());
    for (std::size_t i = 0; i < table->rows.size(); ++i) {
        const auto& row = table->rows[i];
        if (row.asn_count == 0) continue;  // AS 0: no origin (shadows nothing we add)
        const std::uint32_t asn = table->asns[row.asn_begin];
        const std::uint32_t provider = provider_of_asn.at(asn);
        const auto origin = static_cast<std::uint32_t>(content.origins.size());
        content.origins.push_back({0, static_cast<std::uint32_t>(i + 1), anondb::kHosting, provider,
                                   table->row_text(row), asn});
        inputs.push_back({row.range, origin});  // merge_into takes the attributes from the origin
    }
    const std::size_t ranges = anondb::builder::merge_into(inputs, content);
    auto bytes = anondb::writer::serialize(content);
    if (!bytes) die(bytes.error().message);
    if (auto w = anondb::writer::write_file_atomic(out, *bytes); !w) die(w.error().message);
    std::printf("libloc data set: %zu networks with an AS -> %zu ranges, built in %.2f s\n", inputs.size(),
                ranges, seconds_since(t));
}

// ---- addresses ------------------------------------------------------------------

// Addresses are made kChunk at a time, from one seeded generator, into
// buffers that stay in L1, and each side's clock runs only over its lookups:
// what is timed is the lookup, not streaming millions of pre-made addresses
// (16 bytes of Ip and 28 of sockaddr each) through memory, which would add
// the same few ns to every side and so hide most of the faster side's lead.
constexpr std::size_t kChunk = 1024;

struct Chunk {
    std::size_t n = 0;
    bool v4 = true;
    Ip ips[kChunk];
    sockaddr_in6 sa6[kChunk];  // for IPv6 and libloc
    sockaddr_in sa4[kChunk];   // for IPv4 through libmaxminddb
    // What libmaxminddb is handed for address i: AF_INET for IPv4.
    const sockaddr* sockaddr_at(std::size_t i) const {
        return v4 ? reinterpret_cast<const sockaddr*>(&sa4[i]) : reinterpret_cast<const sockaddr*>(&sa6[i]);
    }
};

// N uniformly random IPv4 addresses, or N random IPv6 addresses in 2000::/3.
class AddressStream {
public:
    AddressStream(std::size_t n, bool v4, std::uint64_t seed) : rng_(seed), left_(n), v4_(v4) {}
    bool next(Chunk& c) {
        c.n = std::min(kChunk, left_);
        c.v4 = v4_;
        left_ -= c.n;
        for (std::size_t i = 0; i < c.n; ++i) {
            const Ip ip = v4_ ? Ip::from_v4(static_cast<std::uint32_t>(rng_()))
                              : Ip{0x2000000000000000ull | (rng_() >> 3), rng_()};
            c.ips[i] = ip;
            const auto bytes = ip.to_bytes();
            c.sa6[i] = sockaddr_in6{};
            c.sa6[i].sin6_family = AF_INET6;
            std::memcpy(&c.sa6[i].sin6_addr, bytes.data(), 16);
            if (v4_) {
                c.sa4[i] = sockaddr_in{};
                c.sa4[i].sin_family = AF_INET;
                c.sa4[i].sin_addr.s_addr = htonl(ip.v4());
            }
        }
        return c.n > 0;
    }

private:
    std::mt19937_64 rng_;
    std::size_t left_;
    bool v4_;
};

// One way to measure every side: lookups(chunk) -> checksum, timed over the
// lookups only.
struct Workload {
    std::size_t n;
    bool v4;
    std::uint64_t seed;
};

struct Timing {
    double ns = 0;               // per lookup
    std::uint64_t checksum = 0;  // keeps the work from being optimised away
};

template <class Lookups>
Timing timed(const Workload& w, Lookups&& lookups) {
    AddressStream stream(w.n, w.v4, w.seed);
    auto chunk = std::make_unique<Chunk>();
    Timing out;
    double secs = 0;
    while (stream.next(*chunk)) {
        const auto t = Clock::now();
        out.checksum += lookups(*chunk);
        secs += seconds_since(t);
    }
    out.ns = secs * 1e9 / static_cast<double>(w.n);
    return out;
}

// `threads` threads, each timing its own share of the lookups (its own
// stream); ns per lookup of the combined throughput, so twice the
// throughput shows as half the ns.
template <class PerThread>
Timing time_threads(const Workload& w, unsigned threads, PerThread&& per_thread) {
    std::vector<Timing> parts(threads);
    std::vector<std::thread> pool;
    const Workload share{w.n / threads, w.v4, w.seed};
    for (unsigned k = 0; k < threads; ++k)
        pool.emplace_back([&, k] { parts[k] = timed({share.n, share.v4, share.seed + 1000 * (k + 1)}, per_thread(k)); });
    for (auto& th : pool) th.join();
    Timing out;
    double per_ns = 0;  // lookups per ns, summed
    for (const Timing& t : parts) {
        per_ns += 1.0 / t.ns;
        out.checksum += t.checksum;
    }
    out.ns = 1.0 / per_ns;
    return out;
}

// ---- the three readers ------------------------------------------------------------

std::uint64_t anondb_lookups(const anondb::Database& db, const Chunk& c) {
    std::uint64_t sum = 0;
    for (std::size_t i = 0; i < c.n; ++i) {
        const anondb::LookupResult r = db.lookup(c.ips[i]);
        sum += r.categories + r.provider.size();
    }
    return sum;
}

Timing time_anondb(const anondb::Database& db, const Workload& w) {
    return timed(w, [&](const Chunk& c) { return anondb_lookups(db, c); });
}

// lookup_many over each chunk.
Timing time_anondb_batched(const anondb::Database& db, const Workload& w) {
    std::vector<anondb::LookupResult> out(kChunk);
    return timed(w, [&](const Chunk& c) {
        db.lookup_many(std::span(c.ips, c.n), out);
        std::uint64_t sum = 0;
        for (std::size_t j = 0; j < c.n; ++j) sum += out[j].categories + out[j].provider.size();
        return sum;
    });
}

Timing time_anondb_threads(const anondb::Database& db, const Workload& w, unsigned threads) {
    return time_threads(w, threads, [&](unsigned) { return [&](const Chunk& c) { return anondb_lookups(db, c); }; });
}

struct Mmdb {
    MMDB_s db{};
    explicit Mmdb(const std::string& path) {
        if (const int st = MMDB_open(path.c_str(), MMDB_MODE_MMAP, &db); st != MMDB_SUCCESS)
            die(path + ": " + MMDB_strerror(st));
    }
    ~Mmdb() { MMDB_close(&db); }
    // One lookup and one key, as a client does: found?, and the key's presence.
    bool lookup(const sockaddr* sa, const char* key, std::uint64_t& sum) {
        int err = 0;
        MMDB_lookup_result_s r = MMDB_lookup_sockaddr(&db, sa, &err);
        if (err != MMDB_SUCCESS || !r.found_entry) return false;
        MMDB_entry_data_s d;
        if (MMDB_get_value(&r.entry, &d, key, nullptr) == MMDB_SUCCESS && d.has_data) sum += d.data_size + 1;
        return true;
    }
};

std::uint64_t mmdb_lookups(Mmdb& m, const Chunk& c, const char* key) {
    std::uint64_t sum = 0;
    for (std::size_t i = 0; i < c.n; ++i) sum += m.lookup(c.sockaddr_at(i), key, sum);
    return sum;
}

Timing time_mmdb(Mmdb& m, const Workload& w, const char* key) {
    return timed(w, [&](const Chunk& c) { return mmdb_lookups(m, c, key); });
}

// One MMDB_s per thread, as libmaxminddb's docs advise.
Timing time_mmdb_threads(const std::string& path, const Workload& w, const char* key, unsigned threads) {
    std::vector<std::unique_ptr<Mmdb>> dbs;
    for (unsigned k = 0; k < threads; ++k) dbs.push_back(std::make_unique<Mmdb>(path));
    return time_threads(w, threads, [&](unsigned k) {
        return [&, k](const Chunk& c) { return mmdb_lookups(*dbs[k], c, key); };
    });
}

struct Libloc {
    loc_ctx* ctx = nullptr;
    loc_database* db = nullptr;
    explicit Libloc(const std::string& path) {
        if (loc_new(&ctx) != 0) die("loc_new");
        loc_set_log_priority(ctx, 0);
        FILE* f = std::fopen(path.c_str(), "r");
        if (!f) die("cannot open " + path);
        if (loc_database_new(ctx, &db, f) != 0) die("loc_database_new " + path);
        std::fclose(f);
    }
    ~Libloc() {
        loc_database_unref(db);
        loc_unref(ctx);
    }
    // The AS of the longest matching network, 0 when none.
    std::uint32_t asn(const in6_addr& a) {
        loc_network* net = nullptr;
        if (loc_database_lookup(db, &a, &net) != 0 || !net) return 0;
        const std::uint32_t asn = loc_network_get_asn(net);
        loc_network_unref(net);
        return asn;
    }
};

Timing time_libloc(Libloc& l, const Workload& w) {
    return timed(w, [&](const Chunk& c) {
        std::uint64_t sum = 0;
        for (std::size_t i = 0; i < c.n; ++i) sum += l.asn(c.sa6[i].sin6_addr);
        return sum;
    });
}

// ---- agreement ------------------------------------------------------------------

// anondb flagged <=> libmaxminddb found, on the first `n` addresses of the
// workload. In 6to4 2002::/16 the MMDB export answers for the embedded IPv4
// address (docs/EXPORTS.md), so that is what anondb is asked there.
std::size_t disagreements_mmdb(const anondb::Database& db, Mmdb& m, const Workload& w, std::size_t n) {
    std::size_t bad = 0;
    std::uint64_t sink = 0;
    timed({std::min(n, w.n), w.v4, w.seed}, [&](const Chunk& c) {
        for (std::size_t i = 0; i < c.n; ++i) {
            Ip ip = c.ips[i];
            if ((ip.hi >> 48) == 0x2002) ip = Ip::from_v4(static_cast<std::uint32_t>(ip.hi >> 16));
            if (db.lookup(ip).flagged != m.lookup(c.sockaddr_at(i), "is_anonymous", sink)) ++bad;
        }
        return std::uint64_t{0};
    });
    return bad;
}

// anondb's provider "AS<n>" <=> libloc's AS, on the first `n` addresses.
std::size_t disagreements_libloc(const anondb::Database& db, Libloc& l, const Workload& w, std::size_t n) {
    std::size_t bad = 0;
    timed({std::min(n, w.n), w.v4, w.seed}, [&](const Chunk& c) {
        for (std::size_t i = 0; i < c.n; ++i) {
            const std::uint32_t want = l.asn(c.sa6[i].sin6_addr);
            const std::string got(db.lookup(c.ips[i]).provider);
            if (got != (want ? "AS" + std::to_string(want) : std::string())) ++bad;
        }
        return std::uint64_t{0};
    });
    return bad;
}

void result(const std::string& name, double ours_ns, double ref_ns) {
    std::printf("RESULT %-44s %9.1f ns %9.1f ns %7.1fx\n", name.c_str(), ours_ns, ref_ns, ref_ns / ours_ns);
}

// Every comparison for one .anondb and its MMDB export.
void compare(const std::string& label, const std::string& anondb_path, const std::string& tmp, std::size_t n,
             std::uint64_t seed, Libloc* libloc) {
    // Open time: the median of 9 opens (page cache warm), with every check
    // (the default) and with the O(file) checks deferred to verify().
    auto open_ms_median = [&](anondb::OpenChecks checks) {
        std::vector<double> ms;
        for (int k = 0; k < 9; ++k) {
            const auto t = Clock::now();
            auto d = anondb::Database::open(anondb_path, {checks});
            ms.push_back(seconds_since(t) * 1e3);
            if (!d) die(d.error().message);
        }
        std::sort(ms.begin(), ms.end());
        return ms[ms.size() / 2];
    };
    const double open_ms = open_ms_median(anondb::OpenChecks::full);
    const double open_deferred_ms = open_ms_median(anondb::OpenChecks::deferred);
    auto db = anondb::Database::open(anondb_path);
    if (!db) die(db.error().message);
    auto cold = anondb::ColdData::load(*db);
    if (!cold) die(cold.error().message);
    const std::string mmdb_path = tmp + "/" + label + ".mmdb";
    {
        auto bytes = anondb::mmdb::export_mmdb(*db, *cold, {});
        if (!bytes) die(bytes.error().message);
        if (auto w = anondb::writer::write_file_atomic(mmdb_path, *bytes); !w) die(w.error().message);
    }
    Mmdb mmdb(mmdb_path);
    std::printf("\n== %s: %u IPv4 + %u IPv6 segments, %u answers, %zu evidence rows; .anondb %.2f MiB, MMDB export "
                "%.2f MiB (%u nodes, %u-bit records); open %.3f ms (deferred checks %.3f ms)\n",
                label.c_str(), db->v4_segment_count(), db->v6_segment_count(), db->answer_count(), cold->evidence_count(),
                file_mib(anondb_path), file_mib(mmdb_path), mmdb.db.metadata.node_count, mmdb.db.metadata.record_size,
                open_ms, open_deferred_ms);
    std::printf("SIZE %-46s %9.2f MiB %9.2f MiB %7.2fx\n", (label + " file size vs MMDB").c_str(),
                file_mib(anondb_path), file_mib(mmdb_path), file_mib(mmdb_path) / file_mib(anondb_path));
    std::printf("OPEN %-46s %9.3f ms\n", (label + " open, full checks").c_str(), open_ms);
    std::printf("OPEN %-46s %9.3f ms\n", (label + " open, deferred checks").c_str(), open_deferred_ms);

    for (const bool v4 : {true, false}) {
        const Workload a{n, v4, seed + (v4 ? 0 : 1)};
        const char* fam = v4 ? "IPv4" : "IPv6";
        const std::size_t bad = disagreements_mmdb(*db, mmdb, a, 200000);
        time_anondb(*db, a);  // warm both
        time_mmdb(mmdb, a, "is_anonymous");
        const Timing ours = time_anondb(*db, a);
        const Timing ref = time_mmdb(mmdb, a, "is_anonymous");
        result(label + " " + fam + " vs libmaxminddb", ours.ns, ref.ns);
        const Timing batched = time_anondb_batched(*db, a);
        if (batched.checksum != ours.checksum) die("lookup_many and lookup disagree on " + label + " " + fam);
        result(label + " " + fam + " batched vs libmaxminddb", batched.ns, ref.ns);
        const Timing ours2 = time_anondb_threads(*db, a, 2);
        const Timing ref2 = time_mmdb_threads(mmdb_path, a, "is_anonymous", 2);
        result(label + " " + fam + " 2 threads vs libmaxminddb 2 threads", ours2.ns, ref2.ns);
        std::printf("  %s: %.1f M lookups/s (batched %.1f M/s, 2 threads %.1f M/s), libmaxminddb %.1f M/s; "
                    "disagreements %zu of 200000\n",
                    fam, 1e3 / ours.ns, 1e3 / batched.ns, 1e3 / ours2.ns, 1e3 / ref.ns, bad);
        if (libloc) {
            const std::size_t lbad = disagreements_libloc(*db, *libloc, a, 200000);
            time_libloc(*libloc, a);
            const Timing loc = time_libloc(*libloc, a);
            result(label + " " + fam + " vs libloc", ours.ns, loc.ns);
            std::printf("  %s: libloc %.2f M/s; AS disagreements %zu of 200000\n", fam, 1e3 / loc.ns, lbad);
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    std::string location_db = "/usr/share/libloc-location/location.db", snapshot, tmp = "/tmp";
    std::uint64_t lookups = 5'000'000, seed = 42;
    anondb::bench::Options opts;
    opts.text("--libloc", location_db);
    opts.text("--snapshot", snapshot);
    opts.text("--tmp", tmp);
    opts.number("--lookups", lookups);
    opts.number("--seed", seed);
    opts.parse(argc, argv,
               "usage: lookup_bench [--libloc location.db] [--snapshot FILE.anondb] [--lookups N] [--seed S] [--tmp DIR]");
    std::printf("lookup_bench: %zu lookups per figure, seed %llu, single thread unless said\n", lookups,
                static_cast<unsigned long long>(seed));
    if (!location_db.empty()) {
        const std::string path = tmp + "/lookup-bench-libloc.anondb";
        build_libloc_db(location_db, path);
        Libloc libloc(location_db);
        compare("libloc", path, tmp, lookups, seed, &libloc);
    }
    if (!snapshot.empty()) compare("snapshot", snapshot, tmp, lookups, seed, nullptr);
    std::printf("\npeak RSS %.1f MiB\n", peak_rss_kib() / 1024.0);
    return 0;
}
