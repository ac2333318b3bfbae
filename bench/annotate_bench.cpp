// annotate_bench: bulk annotation (`anondb lookup` over a file) in lines/s,
// side by side in one run with
//   - the I/O floor: the same file split into lines and written back
//     unchanged, no lookups (what any annotator costs at least);
//   - libmaxminddb, the client a user would otherwise write: per line
//     MMDB_lookup_string + MMDB_get_value("is_anonymous") on the MMDB export
//     of the same database, writing "ip,0|1";
//   - the anondb CLI itself, `anondb lookup -f FILE > /dev/null`, as a
//     subprocess (open, read, annotate, write: what a user runs).
// Figures are printed, never asserted.
//
//   annotate_bench --db FILE.anondb --mmdb FILE.mmdb [--cli PATH] [--lines N] [--seed S]
//
// Input: N lines, 80% uniformly random IPv4, 15% addresses inside flagged
// ranges of the database (so the flagged path is exercised), 5% random IPv6
// in 2000::/3 outside 2002::/16. Output goes to /dev/null. Both sides must
// count the same flagged lines (printed last).
#include <fcntl.h>
#include <maxminddb.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "anondb/builder/annotate.hpp"
#include "anondb/reader.hpp"
#include "bench_util.hpp"

namespace {

using anondb::Ip;
using namespace anondb::bench;  // Clock, seconds_since, peak_rss_kib, die, Options


// Flagged segments of the database, to draw flagged addresses from.
std::vector<anondb::Range> flagged_ranges(const anondb::Database& db) {
    std::vector<anondb::Range> out;
    for (Ip at = anondb::kIpMin;;) {
        const anondb::Segment s = db.locate(at);
        if (s.answer != 0) out.push_back(s.range);
        if (s.range.last == anondb::kIpMax) break;
        at = anondb::ip_next(s.range.last);
    }
    return out;
}

std::string make_input(const anondb::Database& db, std::size_t lines, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    const auto flagged = flagged_ranges(db);
    if (flagged.empty()) die("the database flags nothing");
    std::string text;
    text.reserve(lines * 16);
    char buf[anondb::kIpTextMax];
    for (std::size_t i = 0; i < lines; ++i) {
        const std::uint64_t r = rng() % 100;
        Ip ip;
        if (r < 80) {
            ip = Ip::from_v4(static_cast<std::uint32_t>(rng()));
        } else if (r < 95) {
            const anondb::Range& f = flagged[rng() % flagged.size()];
            ip = f.first;  // plus a random offset within the range's low word
            if (f.first.hi == f.last.hi) {
                const std::uint64_t span = f.last.lo - f.first.lo;
                ip.lo += span == ~0ull ? rng() : rng() % (span + 1);
            }
        } else {
            // Not in 6to4 2002::/16: the MMDB export aliases it to IPv4, so
            // the two sides' flagged counts would differ by design.
            do ip = Ip{0x2000000000000000ull | (rng() >> 3), rng()};
            while ((ip.hi >> 48) == 0x2002);
        }
        text.append(buf, anondb::format_ip_to(buf, ip));
        text += '\n';
    }
    return text;
}

struct Figure {
    const char* name;
    double secs;
    std::uint64_t lines;
    std::uint64_t flagged;
};

void print(const Figure& f, double input_mib, double ref_secs) {
    std::printf("  %-46s %10.0f lines/s %7.1f ns/line %8.1f MiB/s in", f.name, f.lines / f.secs,
                f.secs * 1e9 / f.lines, input_mib / f.secs);
    if (ref_secs > 0) std::printf("   %5.1fx libmaxminddb", ref_secs / f.secs);
    std::printf("\n");
}

int open_null() {
    const int fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (fd < 0) die("cannot open /dev/null");
    return fd;
}

Figure run_anondb(const char* name, const anondb::Database& db, const std::string& path,
                  const anondb::builder::AnnotateOptions& options) {
    const int in = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    const int out = open_null();
    const auto t = Clock::now();
    auto a = anondb::builder::Annotator::create(db, options, out);
    if (!a) die(a.error().message);
    if (auto e = a->read_all(in, path); e.status != anondb::Status::ok) die(e.message);
    const double secs = seconds_since(t);
    ::close(in);
    ::close(out);
    return {name, secs, a->stats().lines, a->stats().flagged};
}

// Buffered output to /dev/null, as the annotator does it.
struct NullOut {
    int fd = open_null();
    std::vector<char> buf = std::vector<char>(1 << 20);
    std::size_t used = 0;
    void put(const char* p, std::size_t n) {
        if (used + n > buf.size()) flush();
        std::memcpy(buf.data() + used, p, n);
        used += n;
    }
    void flush() {
        if (used && ::write(fd, buf.data(), used) < 0) die("write");
        used = 0;
    }
    ~NullOut() {
        flush();
        ::close(fd);
    }
};

// Calls each(line) for every line of `path` (split with memchr, without
// the '\n'); returns the line count. The reference loops share it so that
// they differ from each other only in what they do per line.
template <class Each>
std::uint64_t for_each_line(const std::string& path, Each&& each) {
    const int in = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (in < 0) die("cannot open " + path);
    std::vector<char> buf(1 << 20);
    std::size_t have = 0;
    std::uint64_t lines = 0;
    while (true) {
        const ssize_t n = ::read(in, buf.data() + have, buf.size() - have);
        if (n <= 0) break;
        have += static_cast<std::size_t>(n);
        std::size_t used = 0;
        while (const char* nl = static_cast<const char*>(std::memchr(buf.data() + used, '\n', have - used))) {
            const std::size_t len = static_cast<std::size_t>(nl - buf.data()) - used;
            each(std::string_view(buf.data() + used, len));
            used += len + 1;
            ++lines;
        }
        std::memmove(buf.data(), buf.data() + used, have - used);
        have -= used;
    }
    ::close(in);
    return lines;
}

// The floor: every line written back unchanged, no lookup.
Figure run_floor(const std::string& path) {
    NullOut out;
    const auto t = Clock::now();
    const std::uint64_t lines = for_each_line(path, [&](std::string_view line) {
        out.put(line.data(), line.size());
        out.put("\n", 1);
    });
    out.flush();
    return {"I/O floor (split + write, no lookup)", seconds_since(t), lines, 0};
}

// libmaxminddb per line, output "ip,1" when is_anonymous is true else "ip,0".
Figure run_libmaxminddb(const std::string& mmdb_path, const std::string& path) {
    MMDB_s mmdb;
    if (const int st = MMDB_open(mmdb_path.c_str(), MMDB_MODE_MMAP, &mmdb); st != MMDB_SUCCESS)
        die(mmdb_path + ": " + MMDB_strerror(st));
    NullOut out;
    std::uint64_t flagged = 0;
    char ip[64];
    const auto t = Clock::now();
    const std::uint64_t lines = for_each_line(path, [&](std::string_view line) {
        const std::size_t keep = std::min(line.size(), sizeof ip - 1);
        std::memcpy(ip, line.data(), keep);  // MMDB_lookup_string takes a C string
        ip[keep] = '\0';
        int gai = 0, err = 0;
        MMDB_lookup_result_s r = MMDB_lookup_string(&mmdb, ip, &gai, &err);
        bool anonymous = false;
        if (gai == 0 && err == MMDB_SUCCESS && r.found_entry) {
            ++flagged;
            MMDB_entry_data_s d;
            if (MMDB_get_value(&r.entry, &d, "is_anonymous", nullptr) == MMDB_SUCCESS && d.has_data)
                anonymous = d.boolean;
        }
        out.put(ip, keep);
        out.put(anonymous ? ",1\n" : ",0\n", 3);
    });
    out.flush();
    const double secs = seconds_since(t);
    MMDB_close(&mmdb);
    return {"libmaxminddb lookup_string + is_anonymous", secs, lines, flagged};
}

// `anondb lookup -d DB -f FILE > /dev/null` as a child process.
Figure run_cli(const std::string& cli, const std::string& db, const std::string& path, std::uint64_t lines) {
    const auto t = Clock::now();
    const pid_t pid = ::fork();
    if (pid == 0) {
        const int out = ::open("/dev/null", O_WRONLY);
        ::dup2(out, STDOUT_FILENO);
        ::execl(cli.c_str(), cli.c_str(), "lookup", "-d", db.c_str(), "-f", path.c_str(), static_cast<char*>(nullptr));
        ::_exit(127);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    const double secs = seconds_since(t);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) die("anondb lookup failed: status " + std::to_string(status));
    return {"anondb lookup -f FILE (the CLI, whole process)", secs, lines, 0};
}

}  // namespace

int main(int argc, char** argv) {
    std::string db_path, mmdb_path, cli;
    std::uint64_t lines = 10'000'000, seed = 42;
    anondb::bench::Options opts;
    opts.text("--db", db_path);
    opts.text("--mmdb", mmdb_path);
    opts.text("--cli", cli);
    opts.number("--lines", lines);
    opts.number("--seed", seed);
    opts.parse(argc, argv, "usage: annotate_bench --db FILE.anondb --mmdb FILE.mmdb [--cli PATH] [--lines N] [--seed S]");
    if (db_path.empty() || mmdb_path.empty() || lines == 0) die("--db, --mmdb and --lines > 0 are needed");
    auto db = anondb::Database::open(db_path);
    if (!db) die(db.error().message);

    char tmpl[] = "/tmp/anondb-annotate-bench-XXXXXX";
    const int fd = ::mkstemp(tmpl);
    if (fd < 0) die("mkstemp");
    const std::string path = tmpl;
    {
        const std::string text = make_input(*db, lines, seed);
        if (::write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) die("writing the input");
        ::close(fd);
    }
    struct stat st {};
    ::stat(path.c_str(), &st);
    const double mib = static_cast<double>(st.st_size) / (1 << 20);
    std::printf("bulk annotation: %zu lines (%.1f MiB; 80%% random IPv4, 15%% in flagged ranges, 5%% IPv6), "
                "database %s, output to /dev/null, seed %llu\n",
                lines, mib, db_path.c_str(), static_cast<unsigned long long>(seed));

    // Warm the page cache and both databases once before timing.
    run_floor(path);
    const Figure floor = run_floor(path);
    const Figure ref = run_libmaxminddb(mmdb_path, path);
    anondb::builder::AnnotateOptions text_opt;
    const Figure text = run_anondb("anondb annotate, text", *db, path, text_opt);
    anondb::builder::AnnotateOptions json_opt;
    json_opt.format = anondb::builder::AnnotateFormat::json;
    const Figure json = run_anondb("anondb annotate, json", *db, path, json_opt);
    anondb::builder::AnnotateOptions csv_opt;
    csv_opt.column = 1;
    const Figure csv = run_anondb("anondb annotate, csv (--column 1)", *db, path, csv_opt);

    print(floor, mib, 0);
    print(ref, mib, 0);
    print(text, mib, ref.secs);
    print(json, mib, ref.secs);
    print(csv, mib, ref.secs);
    if (!cli.empty()) print(run_cli(cli, db_path, path, lines), mib, ref.secs);
    std::printf("  flagged lines: anondb %llu, libmaxminddb found %llu (%s)\n",
                static_cast<unsigned long long>(text.flagged), static_cast<unsigned long long>(ref.flagged),
                text.flagged == ref.flagged ? "agree" : "DISAGREE");
    std::printf("  peak RSS of this process                       %8.1f MiB\n", peak_rss_kib() / 1024.0);
    ::unlink(path.c_str());
    return 0;
}
