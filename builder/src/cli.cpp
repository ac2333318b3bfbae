// The anondb command line. Two stages: CLI11 turns argv into option
// structs, then one function per command does the work and returns an exit
// code (docs in README.md, "Exit codes").
#include "anondb/builder/cli.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include <fcntl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include "anondb/builder/annotate.hpp"
#include "anondb/builder/diff.hpp"
#include "anondb/builder/geo.hpp"
#include "anondb/builder/pipeline.hpp"
#include "anondb/builder/report_html.hpp"
#include "anondb/builder/stats.hpp"
#include "anondb/explain.hpp"
#include "anondb/mmdb_writer.hpp"
#include "anondb/plain_export.hpp"
#include "anondb/signature.hpp"
#include "anondb/version.hpp"
#include "json_fields.hpp"
#include "printable.hpp"

namespace anondb::builder {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;
constexpr int kExitBadInput = 3;
constexpr int kExitStale = 4;  // published, but some feeds are stale or left out

std::string or_dash(std::string_view s) { return s.empty() ? "-" : std::string(s); }

Expected<Database> open_db(const std::string& path) {
    auto db = Database::open(path);
    if (!db) std::cerr << "anondb: " << db.error().message << "\n";
    return db;
}

// ---- build ------------------------------------------------------------------

struct BuildArgs {
    BuildOptions options;
    std::string build_time;
};

int cmd_build(BuildArgs& a) {
    if (a.build_time.empty()) {
        a.options.build_time =
            std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    } else if (auto t = parse_time(a.build_time)) {
        a.options.build_time = *t;
    } else {
        std::cerr << "anondb build: --build-time must be Unix seconds, YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ\n";
        return kExitUsage;
    }
    a.options.fetch.log = &std::cerr;
    a.options.fetch.progress = ::isatty(STDERR_FILENO) == 1;
    const auto started = std::chrono::steady_clock::now();
    auto report = run_build(a.options);
    if (!report) {
        std::cerr << "anondb build: " << report.error().message << "\n";
        return kExitFailure;
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    std::printf("%-26s %-8s %-17s %9s %8s %10s %8s  %s\n", "feed", "status", "category", "accepted", "rejected", "bytes",
                "age", "sha256");
    for (const auto& f : report->feeds) {
        const bool used = f.status != "failed";
        const std::string age = used ? std::to_string(f.age_seconds / 86400) + "d" : "-";
        std::printf("%-26s %-8s %-17s %9llu %8llu %10llu %8s  %.16s\n", f.name.c_str(), f.status.c_str(),
                    category_list(f.categories).c_str(), static_cast<unsigned long long>(f.accepted),
                    static_cast<unsigned long long>(f.rejected), static_cast<unsigned long long>(f.fetch.bytes),
                    age.c_str(), used ? sha256_hex(f.fetch.sha256).c_str() : "-");
        if (!f.failure.empty()) std::printf("    %s: %s\n", f.status == "stale" ? "STALE" : "FAILED", printable(f.failure).c_str());
        if (f.role == format::FeedRole::asn_list && used)
            std::printf("    expanded through %s: %llu ranges published, %llu removed by exclusions, %llu ASNs with no address\n",
                        f.asn_table.c_str(), static_cast<unsigned long long>(f.derived),
                        static_cast<unsigned long long>(f.excluded), static_cast<unsigned long long>(f.asns_unrouted));
        for (const auto& [line, n] : f.excluded_by_line)
            std::printf("    line %u removed %llu ASN-derived ranges\n", line, static_cast<unsigned long long>(n));
        for (const auto& [reason, n] : f.rejects_by_reason) {
            std::printf("    rejected %llu: %s", static_cast<unsigned long long>(n), reason.c_str());
            for (const auto& r : f.first_rejects)
                if (r.reason == reason) {
                    std::printf(" (first at line %u: %s)", r.line, printable(r.text).c_str());
                    break;
                }
            std::printf("\n");
        }
        for (const auto& [reason, n] : f.warnings_by_reason)
            std::printf("    accepted with warning %llu: %s\n", static_cast<unsigned long long>(n), reason.c_str());
    }
    if (report->derived_ranges || report->excluded_ranges)
        std::printf("\nASN expansion: %llu ranges published, %llu removed by exclusions\n",
                    static_cast<unsigned long long>(report->derived_ranges),
                    static_cast<unsigned long long>(report->excluded_ranges));
    std::printf("\n%llu entries from %zu feeds -> %llu ranges, %llu answers; wrote %s (%llu bytes) in %.2f s\n",
                static_cast<unsigned long long>(report->input_entries), report->feeds.size() - report->omitted_feeds,
                static_cast<unsigned long long>(report->ranges), static_cast<unsigned long long>(report->answers),
                report->out_path.c_str(), static_cast<unsigned long long>(report->file_bytes), secs);
    if (report->stale_feeds || report->omitted_feeds) {
        std::printf("built with stale feeds: %zu stale (published from their last good copy), %zu left out\n",
                    report->stale_feeds, report->omitted_feeds);
        return kExitStale;
    }
    return kExitOk;
}

// ---- lookup -----------------------------------------------------------------

struct LookupArgs {
    std::string db = kDefaultDatabasePath;
    std::vector<std::string> ips;
    std::string file;
    bool json = false;
    std::string column;  // 1-based number or header name; "" = whole line
    bool header = false;
    std::string delimiter = ",";
    std::string geo;  // a City or Country MMDB: add each address's location and whether it is reliable
};

// Addresses from arguments, --file or stdin, through the bulk annotator
// (annotate.hpp) to stdout.
int cmd_lookup(const LookupArgs& a) {
    const auto input = input_options(a.column, a.header, a.delimiter);
    if (!input) {
        std::cerr << "anondb lookup: " << input.error().message << "\n";
        return kExitUsage;
    }
    AnnotateOptions options{*input, a.json ? AnnotateFormat::json : AnnotateFormat::text};
    auto db = open_db(a.db);
    if (!db) return kExitFailure;
    std::optional<GeoDatabase> geo;
    if (!a.geo.empty()) {
        auto g = GeoDatabase::open(a.geo);
        if (!g) {
            std::cerr << "anondb lookup: --geo: " << g.error().message << "\n";
            return kExitFailure;
        }
        geo.emplace(std::move(*g));
        options.geo = &*geo;
    }
    // Seen dates and confidence come from the evidence: one sweep of the
    // cold sections before the first line.
    std::optional<ColdData> cold;
    std::optional<AssessmentTable> assessments;
    if (a.json) {
        auto c = ColdData::load(*db);
        if (!c) {
            std::cerr << "anondb lookup: " << a.db << ": " << c.error().message << "\n";
            return kExitFailure;
        }
        cold.emplace(std::move(*c));
        assessments.emplace(*cold);
        options.assessments = &*assessments;
    }
    auto annotator = Annotator::create(*db, options, STDOUT_FILENO);
    if (!annotator) {
        std::cerr << "anondb lookup: " << annotator.error().message << "\n";
        return kExitUsage;
    }
    Error err;
    std::string source = "arguments";
    auto read_input = [&](int fd, const std::string& name) {
        source = name;
        if (err.status == Status::ok) err = annotator->read_all(fd, name);
    };
    if (!a.file.empty()) {
        const int fd = ::open(a.file.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            std::cerr << "anondb lookup: cannot open " << a.file << ": " << std::strerror(errno) << "\n";
            return kExitFailure;
        }
        read_input(fd, a.file);
        ::close(fd);
    }
    std::uint64_t arg_no = 0;
    for (const auto& ip : a.ips) {
        if (err.status != Status::ok) break;
        if (ip == "-") read_input(STDIN_FILENO, "stdin");
        else err = annotator->line(ip, ++arg_no);
    }
    if (a.ips.empty() && a.file.empty()) read_input(STDIN_FILENO, "stdin");
    if (const Error flushed = annotator->flush(); err.status == Status::ok) err = flushed;
    if (err.status != Status::ok) {
        std::cerr << "anondb lookup: " << err.message << "\n";
        return err.status == Status::invalid_argument ? kExitUsage : kExitFailure;
    }
    const InputCounts& st = annotator->stats();
    if (st.invalid > 0) {
        std::cerr << "anondb lookup: " << source << ": " << st.invalid << " of " << st.invalid + st.addresses
                  << " lines were not IP addresses (first at line " << st.first_invalid_line << ")\n";
        return kExitBadInput;
    }
    return kExitOk;
}

// ---- stats ------------------------------------------------------------------

struct StatsArgs {
    std::string db = kDefaultDatabasePath;
    std::string file = "-";
    bool json = false;
    std::size_t top = 10;
    std::string column;
    bool header = false;
    std::string delimiter = ",";
};

// Shares of a list of addresses (FILE or stdin, read as lookup reads them)
// per category and provider (stats.hpp). Lines that are not addresses are
// counted, not errors.
int cmd_stats(const StatsArgs& a) {
    const auto input = input_options(a.column, a.header, a.delimiter);
    if (!input) {
        std::cerr << "anondb stats: " << input.error().message << "\n";
        return kExitUsage;
    }
    auto db = open_db(a.db);
    if (!db) return kExitFailure;
    auto stats = StatsCollector::create(*db, *input);
    if (!stats) {
        std::cerr << "anondb stats: " << stats.error().message << "\n";
        return kExitUsage;
    }
    const bool from_stdin = a.file.empty() || a.file == "-";
    const std::string name = from_stdin ? "stdin" : a.file;
    const int fd = from_stdin ? STDIN_FILENO : ::open(a.file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        std::cerr << "anondb stats: cannot open " << a.file << ": " << std::strerror(errno) << "\n";
        return kExitFailure;
    }
    const Error err = stats->read_all(fd, name);
    if (!from_stdin) ::close(fd);
    if (err.status != Status::ok) {
        std::cerr << "anondb stats: " << err.message << "\n";
        return err.status == Status::invalid_argument ? kExitUsage : kExitFailure;
    }
    const StatsReport report = stats->report();
    const std::string out = a.json ? stats_json(report, name, a.top) : stats_text(report, name, a.top);
    if (std::fwrite(out.data(), 1, out.size(), stdout) != out.size() || std::fflush(stdout) != 0) {
        std::cerr << "anondb stats: writing output: " << std::strerror(errno) << "\n";
        return kExitFailure;
    }
    return kExitOk;
}

// ---- explain ----------------------------------------------------------------

struct ExplainArgs {
    std::string db = kDefaultDatabasePath;
    std::string ip;
    bool json = false;
};

void json_evidence(JsonWriter& w, const Evidence& e) {
    json_str(w, "feed");
    json_str(w, e.feed_name);
    json_str(w, "url");
    json_str(w, e.url);
    json_str(w, "source");
    json_str(w, e.source);
    json_str(w, "snapshot");
    w.Bool(e.feed_flags & format::kFeedSnapshot);
    json_str(w, "stale");
    w.Bool(e.feed_flags & format::kFeedStale);
    json_str(w, "fetched_at");
    json_str(w, format_time(e.fetched_at));
    json_str(w, "sha256");
    json_str(w, sha256_hex(e.sha256));
    json_str(w, "line");  // 0 for a row of a binary table (MMDB, libloc): the text names the network
    w.Uint(e.line);
    json_str(w, "text");
    json_str(w, e.text);
    json_str(w, "categories");
    json_categories(w, e.categories);
    json_str(w, "provider");
    json_str_or_null(w, e.provider);
    json_str(w, "asn");
    if (e.asn == 0) w.Null();
    else w.Uint(e.asn);
}

void json_contribution(JsonWriter& w, const Contribution& c) {
    w.StartObject();
    json_evidence(w, c);
    if (c.table_row) {
        json_str(w, "table_row");
        w.StartObject();
        json_evidence(w, *c.table_row);
        w.EndObject();
    }
    w.EndObject();
}

// Where a feed's bytes came from, once per feed.
void print_fetch(const Evidence& e, const char* indent) {
    std::cout << indent << "url      " << e.url << "\n";
    std::cout << indent << "source   " << e.source << ((e.feed_flags & format::kFeedSnapshot) ? " (offline snapshot)" : "")
              << ((e.feed_flags & format::kFeedStale) ? " (STALE: last good copy)" : "") << "\n";
    std::cout << indent << "fetched  " << format_time(e.fetched_at) << "\n";
    std::cout << indent << "sha256   " << sha256_hex(e.sha256) << "\n";
}

std::string where(const Evidence& e) {
    return e.line ? "line " + std::to_string(e.line) : std::string("network");
}

int cmd_explain(const ExplainArgs& a) {
    const auto ip = parse_ip(a.ip);
    if (!ip) {
        std::cerr << "anondb explain: " << a.ip << ": " << ip_error_text(ip.error) << "\n";
        return kExitBadInput;
    }
    auto db = open_db(a.db);
    if (!db) return kExitFailure;
    auto cold = ColdData::load(*db);
    if (!cold) {
        std::cerr << "anondb explain: " << a.db << ": " << cold.error().message << "\n";
        return kExitFailure;
    }
    const Explanation ex = cold->explain(ip->ip);
    if (a.json) {
        rapidjson::StringBuffer buf;
        JsonWriter w(buf);
        w.StartObject();
        json_result_fields(w, ip->ip, ex.segment, ex.result);
        json_assessment_fields(w, ex.result.flagged, ex.assessment, ex.first_seen);
        json_str(w, "evidence_range");  // where exactly this evidence applies
        json_str(w, format_range(ex.range));
        json_str(w, "evidence");
        w.StartArray();
        for (const auto& c : ex.contributions) json_contribution(w, c);
        w.EndArray();
        json_str(w, "exclusions");
        w.StartArray();
        for (const auto& x : ex.exclusions) {
            w.StartObject();
            json_str(w, "range");
            json_str(w, format_range(x.range));
            json_str(w, "rule");
            w.StartObject();
            json_evidence(w, x.rule);
            w.EndObject();
            json_str(w, "removed");
            json_contribution(w, x.removed);
            w.EndObject();
        }
        w.EndArray();
        w.EndObject();
        std::cout << buf.GetString() << "\n";
        return kExitOk;
    }
    std::cout << format_ip(ip->ip) << "\n";
    std::cout << "  range     " << format_range(ex.range) << "\n";
    if (ex.segment.range != ex.range)
        std::cout << "  answer    the same across " << format_range(ex.segment.range) << "\n";
    if (!ex.result.flagged) {
        std::cout << "  not flagged: no feed lists this address\n";
    } else {
        std::cout << "  flags     " << category_list(ex.result.categories) << (ex.result.anonymous() ? " (anonymous)" : "")
                  << "\n";
        std::cout << "  provider  " << or_dash(ex.result.provider) << "\n";
        if (ex.result.asn) std::cout << "  asn       AS" << ex.result.asn << "\n";
        std::cout << "  confidence " << ex.assessment.confidence << " of 99\n";
        std::cout << "  seen      " << (ex.first_seen ? seen::iso_date(*ex.first_seen) : std::string("(first seen unknown)"))
                  << " to " << seen::iso_date(ex.assessment.last_seen) << "\n";
        // Origins are numbered feed by feed, so one feed's entries are adjacent:
        // print each feed's fetch record once, then its lines.
        std::size_t nfeeds = 0;
        for (std::size_t k = 0; k < ex.contributions.size(); ++k)
            nfeeds += k == 0 || ex.contributions[k].feed != ex.contributions[k - 1].feed;
        std::cout << "  evidence  " << ex.contributions.size() << (ex.contributions.size() == 1 ? " entry" : " entries")
                  << " from " << nfeeds << (nfeeds == 1 ? " feed" : " feeds") << "\n";
        std::set<std::uint32_t> tables_shown;
        for (std::size_t k = 0; k < ex.contributions.size(); ++k) {
            const auto& c = ex.contributions[k];
            if (k == 0 || c.feed != ex.contributions[k - 1].feed) {
                std::cout << "  feed " << c.feed_name << " (" << category_list(c.categories) << ")";
                if (!c.provider.empty() && !c.table_row) std::cout << ", provider " << c.provider;
                std::cout << "\n";
                print_fetch(c, "      ");
            }
            std::cout << "      line     " << c.line << ": " << printable(c.text) << "\n";
            if (c.table_row) {
                const Evidence& t = *c.table_row;
                std::cout << "        -> " << or_dash(c.provider) << " (" << category_list(c.categories) << "), AS"
                          << c.asn << ", which holds this address per ASN table " << t.feed_name << ", "
                          << where(t) << ": " << printable(t.text) << "\n";
                if (tables_shown.insert(t.feed).second) {
                    std::cout << "           table " << t.feed_name << "\n";
                    print_fetch(t, "           ");
                }
            }
        }
    }
    if (!ex.exclusions.empty()) {
        std::cout << "  excluded  " << ex.exclusions.size() << " ASN-derived "
                  << (ex.exclusions.size() == 1 ? "entry" : "entries") << " removed here by exclusion rules\n";
        for (const auto& x : ex.exclusions) {
            const Contribution& d = x.removed;
            std::cout << "      " << format_range(x.range) << ": " << d.feed_name << " line " << d.line << " ("
                      << or_dash(d.provider) << ", AS" << d.asn << ")";
            if (d.table_row) std::cout << " via " << d.table_row->feed_name << " " << printable(d.table_row->text);
            std::cout << "\n        removed by " << x.rule.feed_name << " line " << x.rule.line << ": "
                      << printable(x.rule.text) << "\n";
        }
    }
    return kExitOk;
}

// ---- info / verify ------------------------------------------------------------

struct DbArgs {
    std::string db = kDefaultDatabasePath;
    bool json = false;
    std::string key;  // verify: the public key the file must be signed by
};

// "SHA256:..." of the key a file names as its signer, or "" when unsigned.
std::string signer_of(const Database& db) {
    const format::SignatureSection* sig = db.signature();
    if (!sig) return {};
    PublicKey key;
    std::memcpy(key.bytes.data(), sig->public_key, key.bytes.size());
    return key_fingerprint(key);
}

// {ranges, ipv4_addresses, ipv6_ranges}, as info, diff and the build report write them.
void json_count(JsonWriter& w, const RangeCount& c) {
    w.StartObject();
    json_str(w, "ranges");
    w.Uint64(c.ranges);
    json_str(w, "ipv4_addresses");
    w.Uint64(c.ipv4_addresses);
    json_str(w, "ipv6_ranges");
    w.Uint64(c.ipv6_ranges);
    w.EndObject();
}

// Counts per category over the address partition: ranges and addresses.
std::map<std::string, RangeCount> count_categories(const Database& db) {
    std::map<std::string, RangeCount> out;
    auto add = [&](const Segment& s) {
        const auto r = db.answer(s.answer);
        for (const auto& c : kCategoryNames)
            if (r.categories & c.bit) out[std::string(c.name)].add(s.range);
    };
    // Walk the partition segment by segment via locate(), in address order.
    for (Ip at = kV4First;;) {
        const Segment s = db.locate(at);
        if (s.answer) add(s);
        if (s.range.last == kV4Last) break;
        at = ip_next(s.range.last);
    }
    for (Ip at = kIpMin;;) {
        const Segment s = db.locate(at);
        if (!at.is_v4() && s.answer) add(s);
        if (s.range.last == kIpMax) break;
        at = ip_next(s.range.last);
        if (at == kV4First) at = ip_next(kV4Last);
    }
    return out;
}

int cmd_info(const DbArgs& a) {
    auto db = open_db(a.db);
    if (!db) return kExitFailure;
    const auto& h = db->header();
    const auto counts = count_categories(*db);
    if (a.json) {
        rapidjson::StringBuffer buf;
        JsonWriter w(buf);
        w.StartObject();
        json_str(w, "format_version");
        json_str(w, std::to_string(h.major) + "." + std::to_string(h.minor));
        json_str(w, "data_version");
        w.Uint64(h.data_version);
        json_str(w, "build_time");
        json_str(w, format_time(h.build_time));
        json_str(w, "file_bytes");
        w.Uint64(h.file_size);
        json_str(w, "signed_by");  // the key the file names; only verify --key checks it
        if (db->signature()) json_str(w, signer_of(*db));
        else w.Null();
        json_str(w, "answers");  // distinct answers of flagged space
        w.Uint(db->answer_count() - 1);
        json_str(w, "ipv4_segments");
        w.Uint(db->v4_segment_count());
        json_str(w, "ipv6_segments");
        w.Uint(db->v6_segment_count());
        json_str(w, "categories");
        w.StartObject();
        for (const auto& [name, n] : counts) {
            json_str(w, name);
            json_count(w, n);
        }
        w.EndObject();
        json_str(w, "feeds");
        w.StartArray();
        for (const auto& f : db->feeds()) {
            w.StartObject();
            json_str(w, "name");
            json_str(w, db->string(f.name));
            json_str(w, "role");
            json_str(w, format::role_name(f.role));
            if (f.asn_table != 0) {
                json_str(w, "asn_table");
                json_str(w, db->string(db->feeds()[f.asn_table - 1].name));
            }
            json_str(w, "categories");
            json_categories(w, f.categories);
            json_str(w, "accepted");
            w.Uint64(f.accepted);
            json_str(w, "rejected");
            w.Uint64(f.rejected);
            json_str(w, "fetched_at");
            json_str(w, format_time(f.fetched_at));
            json_str(w, "stale");
            w.Bool(f.flags & format::kFeedStale);
            json_str(w, "snapshot");
            w.Bool(f.flags & format::kFeedSnapshot);
            w.EndObject();
        }
        w.EndArray();
        w.EndObject();
        std::cout << buf.GetString() << "\n";
        return kExitOk;
    }
    std::printf("file            %s (%llu bytes)\n", a.db.c_str(), static_cast<unsigned long long>(h.file_size));
    std::printf("format version  %u.%u\n", h.major, h.minor);
    std::printf("data version    %llu\n", static_cast<unsigned long long>(h.data_version));
    std::printf("build time      %s\n", format_time(h.build_time).c_str());
    std::printf("signature       %s\n", db->signature() ? ("Ed25519, key " + signer_of(*db) + " (check it: verify --key)").c_str() : "unsigned");
    std::printf("segments        %u IPv4, %u IPv6 (index %u and %u bits); %u answers, %u providers\n",
                db->v4_segment_count(), db->v6_segment_count(), db->v4_index_bits(), db->v6_index_bits(),
                db->answer_count() - 1, db->provider_count() - 1);
    std::printf("\n%-18s %10s %16s %12s\n", "category", "ranges", "IPv4 addresses", "IPv6 ranges");
    for (const auto& [name, n] : counts)
        std::printf("%-18s %10llu %16llu %12llu\n", name.c_str(), static_cast<unsigned long long>(n.ranges),
                    static_cast<unsigned long long>(n.ipv4_addresses), static_cast<unsigned long long>(n.ipv6_ranges));
    std::printf("\n%-28s %-8s %-18s %9s %8s  %s\n", "feed", "copy", "category", "accepted", "rejected", "fetched");
    for (const auto& f : db->feeds()) {
        const char* copy = (f.flags & format::kFeedStale) ? "STALE" : (f.flags & format::kFeedSnapshot) ? "snapshot" : "live";
        std::printf("%-28s %-8s %-18s %9llu %8llu  %s", std::string(db->string(f.name)).c_str(), copy,
                    category_list(f.categories).c_str(), static_cast<unsigned long long>(f.accepted),
                    static_cast<unsigned long long>(f.rejected), format_time(f.fetched_at).c_str());
        if (f.flags & format::kFeedStale)
            std::printf("  (last good copy, %lld days before the build)",
                        static_cast<long long>((h.build_time - f.fetched_at) / 86400));
        if (f.asn_table != 0)
            std::printf("  (ASN list, expanded through %s)", std::string(db->string(db->feeds()[f.asn_table - 1].name)).c_str());
        else if (f.role != static_cast<std::uint32_t>(format::FeedRole::ranges))
            std::printf("  (%s)", std::string(format::role_name(f.role)).c_str());
        std::printf("\n");
    }
    return kExitOk;
}

int cmd_verify(const DbArgs& a) {
    auto db = open_db(a.db);
    if (!db) return kExitFailure;
    if (auto ok = verify(*db); !ok) {
        std::cerr << "anondb verify: " << a.db << ": " << ok.error().message << "\n";
        return kExitFailure;
    }
    std::string signature = "unsigned";
    if (!a.key.empty()) {
        auto key = read_public_key(a.key);
        if (!key) {
            std::cerr << "anondb verify: " << key.error().message << "\n";
            return kExitUsage;
        }
        if (auto ok = verify_signature(*db, *key); !ok) {
            std::cerr << "anondb verify: " << a.db << ": " << ok.error().message << "\n";
            return kExitFailure;
        }
        signature = "signature good, Ed25519 key " + key_fingerprint(*key);
    } else if (db->signature()) {
        signature = "signed by " + signer_of(*db) + ", not checked: give --key";
    }
    std::printf("%s: OK (format %u.%u, %zu sections, %u answers, all checksums and structures valid, every answer "
                "what its evidence gives; %s)\n",
                a.db.c_str(), db->header().major, db->header().minor, db->sections().size(), db->answer_count() - 1,
                signature.c_str());
    return kExitOk;
}

// ---- diff ---------------------------------------------------------------------

struct DiffArgs {
    std::string old_db, new_db;
    bool json = false;
    std::size_t limit = 50;  // changes listed in text output; 0: all
};

void json_gain_loss(JsonWriter& w, std::string_view name, const GainLoss& gl) {
    json_str(w, name);
    w.StartObject();
    json_str(w, "gained");
    json_count(w, gl.gained);
    json_str(w, "lost");
    json_count(w, gl.lost);
    w.EndObject();
}

void json_state(JsonWriter& w, const DiffResult& d, std::uint32_t id) {
    if (id == kNoState) return w.Null(), void();
    const RangeState& s = d.states[id];
    w.StartObject();
    json_str(w, "categories");
    json_categories(w, s.categories);
    json_str(w, "provider");
    json_str_or_null(w, s.provider);
    json_str(w, "asn");
    if (s.asn == 0) w.Null();
    else w.Uint(s.asn);
    json_str(w, "sources");
    w.StartArray();
    for (const auto& f : s.sources) json_str(w, f);
    w.EndArray();
    w.EndObject();
}

void json_side(JsonWriter& w, const std::string& path, const Database& db, std::uint64_t ranges) {
    w.StartObject();
    json_str(w, "file");
    json_str(w, path);
    json_str(w, "data_version");
    w.Uint64(db.header().data_version);
    json_str(w, "build_time");
    json_str(w, format_time(db.header().build_time));
    json_str(w, "ranges");  // flagged ranges of one answer and one set of sources
    w.Uint64(ranges);
    w.EndObject();
}

constexpr std::string_view kind_name(ChangeKind k) {
    return k == ChangeKind::added ? "added" : k == ChangeKind::removed ? "removed" : "changed";
}

// `tor_exit,vpn  provider P  AS1  [feed-a feed-b]`, control bytes escaped.
std::string state_text(const DiffResult& d, std::uint32_t id) {
    if (id == kNoState) return "not flagged";
    const RangeState& s = d.states[id];
    std::string out = category_list(s.categories);
    if (!s.provider.empty()) out += "  provider " + printable(s.provider);
    if (s.asn != 0) out += "  AS" + std::to_string(s.asn);
    out += "  [";
    for (std::size_t i = 0; i < s.sources.size(); ++i) out += (i ? " " : "") + s.sources[i];
    return out + "]";
}

void print_gain_loss_header(const char* title) {
    std::printf("\n%-28s %10s %14s %10s %14s\n", title, "gained", "IPv4 addrs", "lost", "IPv4 addrs");
}
void print_gain_loss(std::string_view name, const GainLoss& gl) {
    std::printf("%-28s %10llu %14llu %10llu %14llu\n", printable(name).c_str(),
                static_cast<unsigned long long>(gl.gained.ranges), static_cast<unsigned long long>(gl.gained.ipv4_addresses),
                static_cast<unsigned long long>(gl.lost.ranges), static_cast<unsigned long long>(gl.lost.ipv4_addresses));
}

int cmd_diff(const DiffArgs& a) {
    auto old_db = open_db(a.old_db);
    if (!old_db) return kExitFailure;
    auto new_db = open_db(a.new_db);
    if (!new_db) return kExitFailure;
    auto old_cold = ColdData::load(*old_db);
    if (!old_cold) {
        std::cerr << "anondb diff: " << a.old_db << ": " << old_cold.error().message << "\n";
        return kExitFailure;
    }
    auto new_cold = ColdData::load(*new_db);
    if (!new_cold) {
        std::cerr << "anondb diff: " << a.new_db << ": " << new_cold.error().message << "\n";
        return kExitFailure;
    }
    const DiffResult d = diff_databases(*old_db, *old_cold, *new_db, *new_cold);

    if (a.json) {
        rapidjson::StringBuffer buf;
        JsonWriter w(buf);
        w.StartObject();
        json_str(w, "old");
        json_side(w, a.old_db, *old_db, d.old_ranges);
        json_str(w, "new");
        json_side(w, a.new_db, *new_db, d.new_ranges);
        json_str(w, "summary");
        w.StartObject();
        json_str(w, "added");
        json_count(w, d.added);
        json_str(w, "removed");
        json_count(w, d.removed);
        json_str(w, "changed");
        json_count(w, d.changed);
        w.EndObject();
        json_str(w, "categories");
        w.StartObject();
        for (std::size_t k = 0; k < d.categories.size(); ++k) json_gain_loss(w, kCategoryNames[k].name, d.categories[k]);
        w.EndObject();
        json_str(w, "feeds");
        w.StartObject();
        for (const auto& [name, gl] : d.feeds) json_gain_loss(w, name, gl);
        w.EndObject();
        json_str(w, "changes");
        w.StartArray();
        for (const auto& c : d.changes) {
            w.StartObject();
            json_str(w, "kind");
            json_str(w, kind_name(c.kind));
            json_str(w, "range");
            json_str(w, format_range(c.range));
            json_str(w, "first");
            json_str(w, format_ip(c.range.first));
            json_str(w, "last");
            json_str(w, format_ip(c.range.last));
            json_str(w, "old");
            json_state(w, d, c.old_state);
            json_str(w, "new");
            json_state(w, d, c.new_state);
            w.EndObject();
        }
        w.EndArray();
        w.EndObject();
        std::fwrite(buf.GetString(), 1, buf.GetSize(), stdout);
        std::fputc('\n', stdout);
        return kExitOk;
    }

    auto side = [](const char* label, const std::string& path, const Database& db, std::uint64_t ranges) {
        std::printf("%s  %s  (data version %llu, built %s, %llu flagged ranges)\n", label, printable(path).c_str(),
                    static_cast<unsigned long long>(db.header().data_version), format_time(db.header().build_time).c_str(),
                    static_cast<unsigned long long>(ranges));
    };
    side("old", a.old_db, *old_db, d.old_ranges);
    side("new", a.new_db, *new_db, d.new_ranges);
    std::printf("\n%-28s %10s %14s %12s\n", "", "ranges", "IPv4 addrs", "IPv6 ranges");
    for (const auto& [name, c] : {std::pair{"added", d.added}, {"removed", d.removed}, {"changed", d.changed}})
        std::printf("%-28s %10llu %14llu %12llu\n", name, static_cast<unsigned long long>(c.ranges),
                    static_cast<unsigned long long>(c.ipv4_addresses), static_cast<unsigned long long>(c.ipv6_ranges));
    print_gain_loss_header("category");
    for (std::size_t k = 0; k < d.categories.size(); ++k) print_gain_loss(kCategoryNames[k].name, d.categories[k]);
    print_gain_loss_header("feed");
    for (const auto& [name, gl] : d.feeds) print_gain_loss(name, gl);
    if (d.feeds.empty()) std::printf("(none)\n");
    if (d.changes.empty()) {
        std::printf("\nno changes\n");
        return kExitOk;
    }
    const std::size_t shown = a.limit == 0 ? d.changes.size() : std::min(a.limit, d.changes.size());
    std::printf("\nchanges (%zu of %zu%s)\n", shown, d.changes.size(),
                shown < d.changes.size() ? "; --limit 0 for all, --json for detail" : "");
    for (std::size_t i = 0; i < shown; ++i) {
        const RangeChange& c = d.changes[i];
        const char mark = c.kind == ChangeKind::added ? '+' : c.kind == ChangeKind::removed ? '-' : '~';
        if (c.kind == ChangeKind::changed)
            std::printf("%c %s  %s  ->  %s\n", mark, format_range(c.range).c_str(), state_text(d, c.old_state).c_str(),
                        state_text(d, c.new_state).c_str());
        else
            std::printf("%c %s  %s\n", mark, format_range(c.range).c_str(),
                        state_text(d, c.kind == ChangeKind::added ? c.new_state : c.old_state).c_str());
    }
    return kExitOk;
}

// ---- export -------------------------------------------------------------------

struct ExportArgs {
    std::string db = kDefaultDatabasePath;
    std::string format = "mmdb";
    std::string out;
    bool teredo = false;
    std::vector<std::string> categories;  // plain formats: keep ranges with any of these
    std::string provider;
    std::string family = "both";
    std::string set_name = "anondb";
};

// A plain export (cidr, nft, ipset, csv, jsonl) to a.out, or stdout for "-";
// a file is written whole, then renamed into place.
int export_plain(const ExportArgs& a, const Database& db, const ColdData& cold) {
    exports::ExportFilter filter;
    for (const auto& name : a.categories) {
        const auto bit = category_from_name(name);
        if (!bit) {
            std::cerr << "anondb export: unknown category '" << name << "'\n";
            return kExitUsage;
        }
        filter.categories |= *bit;
    }
    filter.provider = a.provider;
    filter.family = a.family == "v4"   ? exports::ExportFilter::Family::v4
                    : a.family == "v6" ? exports::ExportFilter::Family::v6
                                       : exports::ExportFilter::Family::both;
    const auto format = *exports::plain_format(a.format);
    if (a.out == "-") {
        std::ios::sync_with_stdio(false);
        if (auto e = exports::write_plain(db, cold, format, filter, std::cout, a.set_name); e.status != Status::ok) {
            std::cerr << "anondb export: " << e.message << "\n";
            return kExitFailure;
        }
        return kExitOk;
    }
    std::ostringstream text;
    if (auto e = exports::write_plain(db, cold, format, filter, text, a.set_name); e.status != Status::ok) {
        std::cerr << "anondb export: " << e.message << "\n";
        return kExitFailure;
    }
    const std::string bytes = std::move(text).str();
    if (auto w = writer::write_file_atomic(a.out, std::as_bytes(std::span(bytes.data(), bytes.size()))); !w) {
        std::cerr << "anondb export: " << w.error().message << "\n";
        return kExitFailure;
    }
    std::printf("wrote %s (%s, %zu bytes) from %s\n", a.out.c_str(), a.format.c_str(), bytes.size(), a.db.c_str());
    return kExitOk;
}

// Writes an export of the database at a.db to a.out (atomically).
int cmd_export(const ExportArgs& a) {
    auto db = open_db(a.db);
    if (!db) return kExitFailure;
    auto cold = ColdData::load(*db);
    if (!cold) {
        std::cerr << "anondb export: " << a.db << ": " << cold.error().message << "\n";
        return kExitFailure;
    }
    if (a.format != "mmdb") return export_plain(a, *db, *cold);
    mmdb::MmdbOptions options;
    options.alias_teredo = a.teredo;
    auto bytes = mmdb::export_mmdb(*db, *cold, options);
    if (!bytes) {
        std::cerr << "anondb export: " << a.db << ": " << bytes.error().message << "\n";
        return kExitFailure;
    }
    if (auto w = writer::write_file_atomic(a.out, *bytes); !w) {
        std::cerr << "anondb export: " << w.error().message << "\n";
        return kExitFailure;
    }
    std::printf("wrote %s (%s, %zu bytes) from %s\n", a.out.c_str(), a.format.c_str(), bytes->size(), a.db.c_str());
    return kExitOk;
}

// ---- report ------------------------------------------------------------------------

struct ReportArgs {
    std::string out;
    std::vector<std::string> reports;
    std::string history;
    std::size_t last = 30;
};

// Build reports (arguments, then --history DIR's *.json) -> one HTML page
// about the newest, with the others as its history.
int cmd_report(const ReportArgs& a) {
    std::vector<std::string> paths = a.reports;
    if (!a.history.empty()) {
        std::error_code ec;
        std::vector<std::string> found;
        for (std::filesystem::directory_iterator it(a.history, ec), end; !ec && it != end; it.increment(ec))
            if (it->path().extension() == ".json" && it->is_regular_file()) found.push_back(it->path().string());
        if (ec) {
            std::cerr << "anondb report: --history " << a.history << ": " << ec.message() << "\n";
            return kExitFailure;
        }
        std::sort(found.begin(), found.end());
        paths.insert(paths.end(), found.begin(), found.end());
    }
    // One file named twice (as an argument and in --history) is read once.
    std::vector<std::string> unique;
    std::set<std::string> seen;
    for (const auto& p : paths) {
        std::error_code ec;
        const auto canonical = std::filesystem::weakly_canonical(p, ec);
        if (seen.insert(ec ? p : canonical.string()).second) unique.push_back(p);
    }
    if (unique.empty()) {
        std::cerr << "anondb report: no build report given (REPORT.json ... or --history DIR with *.json files)\n";
        return kExitUsage;
    }
    std::vector<ParsedReport> reports;
    for (const auto& p : unique) {
        auto r = read_build_report(p);
        if (!r) {
            std::cerr << "anondb report: " << r.error().message << "\n";
            return kExitFailure;
        }
        reports.push_back(std::move(*r));
    }
    std::stable_sort(reports.begin(), reports.end(),
                     [](const ParsedReport& x, const ParsedReport& y) { return x.build_time < y.build_time; });
    for (std::size_t k = 1; k < reports.size(); ++k)
        if (reports[k].build_time == reports[k - 1].build_time) {
            std::cerr << "anondb report: " << reports[k - 1].source << " and " << reports[k].source
                      << " are reports of the same build time, " << format_time(reports[k].build_time)
                      << ": give each build's report once\n";
            return kExitFailure;
        }
    if (reports.size() > a.last)
        reports.erase(reports.begin(), reports.end() - static_cast<std::ptrdiff_t>(a.last));
    const std::string html = render_report_html(reports);
    if (a.out == "-") {
        std::cout << html;
        return std::cout.good() ? kExitOk : kExitFailure;
    }
    if (auto w = writer::write_file_atomic(a.out, std::as_bytes(std::span(html.data(), html.size()))); !w) {
        std::cerr << "anondb report: " << w.error().message << "\n";
        return kExitFailure;
    }
    const ParsedReport& cur = reports.back();
    std::printf("wrote %s (%zu bytes): the build of %s (%s, %zu feeds), %zu %s charted\n", a.out.c_str(), html.size(),
                format_time(cur.build_time).c_str(), cur.source.c_str(), cur.feeds.size(), reports.size(),
                reports.size() == 1 ? "build" : "builds");
    return kExitOk;
}

}  // namespace

int run_cli(int argc, char** argv) {
    CLI::App app{"anondb: anonymizer IP intelligence compiled into one database"};
    app.require_subcommand(1);
    app.set_version_flag("--version", "anondb " ANONDB_VERSION);

    BuildArgs build;
    auto* b = app.add_subcommand("build", "Compile the feeds of a catalogue into a .anondb file");
    b->add_option("--feeds", build.options.feeds_path, "Feed catalogue")->capture_default_str();
    b->add_option("-o,--out", build.options.out_path, "Output database")->capture_default_str();
    b->add_flag("--offline", build.options.offline, "Read each feed's bundled snapshot instead of fetching");
    b->add_option("--build-time", build.build_time,
                  "Build time (Unix seconds, YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ); default now. Same inputs and "
                  "build time give identical bytes");
    b->add_option("--data-version", build.options.data_version, "Data version (default: the build time in seconds)");
    b->add_flag("--strict", build.options.strict,
                "Fail, publishing nothing, when any feed is stale or missing (default: publish with last good copies, exit 4)");
    b->add_option("--cache", build.options.cache_dir,
                  "HTTP cache and last good copies (default: 'cache' beside the output)");
    b->add_option("--report", build.options.report_path, "Write the build report (JSON) to this file");
    b->add_option("--sign", build.options.sign_key_path,
                  "Sign the database with this Ed25519 private key (PEM, as `openssl genpkey -algorithm ed25519` "
                  "writes it); check with verify --key");
    b->add_option("--previous", build.options.previous_path,
                  "The previous build's database: flagged addresses keep the day they were first seen "
                  "(docs/FORMAT.md, Seen dates and confidence); may be the output file itself");
    b->add_option("--max-total-entries", build.options.max_total_entries,
                  "Fail the build when all feeds together publish more than N ranges, ASN-derived ones included "
                  "(default: feeds.yaml's max_total_entries, 10000000)");
    b->add_option("--parallel", build.options.fetch.max_parallel, "Feeds fetched at once")
        ->capture_default_str()
        ->check(CLI::Range(1, 64));
    int timeout_s = static_cast<int>(build.options.fetch.total_timeout.count());
    b->add_option("--timeout", timeout_s, "Seconds allowed for one fetch attempt")
        ->capture_default_str()
        ->check(CLI::Range(1, 3600));

    LookupArgs lookup;
    auto* l = app.add_subcommand("lookup", "Look addresses up (arguments, --file, or one per line on stdin)");
    l->add_option("-d,--db", lookup.db, "Database")->capture_default_str();
    l->add_option("ips", lookup.ips, "Addresses; '-' reads stdin");
    l->add_option("-f,--file", lookup.file, "Read addresses from a file, one per line");
    l->add_flag("--json", lookup.json, "One JSON object per line");
    l->add_option("--column", lookup.column,
                  "CSV input: the address column, by number (from 1) or by header name; output is the row plus "
                  "anondb_* columns");
    l->add_flag("--header", lookup.header, "CSV input: the first row is a header (implied by a --column name)");
    l->add_option("--delimiter", lookup.delimiter, "CSV delimiter: one character, or 'tab'")->capture_default_str();
    l->add_option("--geo", lookup.geo,
                  "A MaxMind-format City or Country database (.mmdb): add each address's country and city, and "
                  "location_reliable: false with the reason when anondb flags the address (Tor exit, VPN, proxy, "
                  "relay, hosting)");

    StatsArgs stats;
    auto* st = app.add_subcommand("stats", "Shares of a list of addresses flagged, per category and provider, "
                                           "and the top providers");
    st->add_option("-d,--db", stats.db, "Database")->capture_default_str();
    st->add_option("file,-f,--file", stats.file,
                   "Addresses, one per line (blank and '#' lines skipped) or a CSV column; '-' reads stdin")
        ->capture_default_str();
    st->add_flag("--json", stats.json, "One JSON object; shares as fractions in [0, 1]");
    st->add_option("--top", stats.top, "How many providers to list (0: none)")
        ->capture_default_str()
        ->check(CLI::Range(0, 1000000));
    st->add_option("--column", stats.column, "CSV input: the address column, by number (from 1) or by header name");
    st->add_flag("--header", stats.header, "CSV input: the first row is a header (implied by a --column name)");
    st->add_option("--delimiter", stats.delimiter, "CSV delimiter: one character, or 'tab'")->capture_default_str();
    st->footer("Each figure is given twice. 'per occurrence' counts every line that holds an address (an address\n"
               "listed 5 times counts 5 times, as studies count requests), out of all valid addresses; 'unique\n"
               "addresses' counts distinct addresses (1.2.3.4 and ::ffff:1.2.3.4 are one), out of the distinct ones.\n"
               "anonymous: any category but hosting. named provider: the answer names a provider. Lines that are not\n"
               "addresses are counted (with the first one's line number), not errors: the exit code is 0.");

    ExplainArgs explain;
    auto* e = app.add_subcommand("explain", "Why an address is flagged: its range and every feed entry behind it");
    e->add_option("-d,--db", explain.db, "Database")->capture_default_str();
    e->add_option("ip", explain.ip, "Address")->required();
    e->add_flag("--json", explain.json, "JSON output");

    DbArgs info;
    auto* i = app.add_subcommand("info", "Format and data version, build time, counts per category and feed");
    i->add_option("-d,--db", info.db, "Database")->capture_default_str();
    i->add_flag("--json", info.json, "JSON output");

    DbArgs ver;
    auto* v = app.add_subcommand("verify", "Check every checksum and structure of a database file");
    v->add_option("-d,--db", ver.db, "Database")->capture_default_str();
    v->add_option("--key", ver.key,
                  "Also require an Ed25519 signature by this public key (PEM, as `openssl pkey -pubout` writes it)");

    ExportArgs exp;
    DiffArgs diff;
    auto* df = app.add_subcommand("diff", "What changed between two builds: ranges added, removed and changed, per "
                                          "category and per feed");
    df->add_option("old", diff.old_db, "The older database")->required();
    df->add_option("new", diff.new_db, "The newer database")->required();
    df->add_flag("--json", diff.json, "Every change as JSON, with both sides' answers and sources");
    df->add_option("--limit", diff.limit, "Changes listed in text output (0: all)")->capture_default_str();

    auto* x = app.add_subcommand("export", "Write the database in another format: mmdb (MaxMind DB) or plain lists");
    x->add_option("-d,--db", exp.db, "Database")->capture_default_str();
    x->add_option("--format", exp.format, "Output format: mmdb, cidr, nft, ipset, csv, jsonl, pgsql")
        ->capture_default_str()
        ->check(CLI::IsMember({"mmdb", "cidr", "nft", "ipset", "csv", "jsonl", "pgsql"}));
    x->add_flag("--teredo", exp.teredo, "mmdb: also alias Teredo 2001::/32 to the IPv4 tree (approximate)");
    x->add_option("--category", exp.categories, "Plain formats: only ranges with this category (repeatable: any of them)");
    x->add_option("--provider", exp.provider, "Plain formats: only ranges whose provider is exactly this");
    x->add_option("--family", exp.family, "Plain formats: v4, v6 or both")
        ->capture_default_str()
        ->check(CLI::IsMember({"v4", "v6", "both"}));
    x->add_option("--set-name", exp.set_name, "nft, ipset: set name prefix (sets NAME_v4, NAME_v6); pgsql: table NAME_ranges")
        ->capture_default_str();
    x->add_option("out", exp.out, "Output file ('-': standard output, plain formats)")->required();
    ReportArgs rep;
    auto* r = app.add_subcommand(
        "report", "Turn build reports (build --report) into one self-contained HTML page: the newest build's feeds, "
                  "what changed since the build before it, ranges per category over the builds given");
    r->add_option("-o,--out", rep.out, "HTML file to write ('-': standard output)")->required();
    r->add_option("reports", rep.reports,
                  "Build reports (JSON), in any order: the newest by build time is the build described, the others "
                  "its history");
    r->add_option("--history", rep.history, "Also read every *.json file in this directory as an earlier report");
    r->add_option("--last", rep.last, "Chart at most the newest N builds")->capture_default_str()->check(CLI::Range(1, 100000));
    std::string build_mmdb;
    b->add_option("--mmdb", build_mmdb, "Also write the MMDB export of the new database to this file");

    app.footer("Exit codes: 0 success, 1 failure (build failed, database unreadable or invalid), 2 usage error,\n"
               "3 an input address was not an IP address, 4 built with stale feeds (published from last good copies).");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& err) {
        const int code = app.exit(err);
        return code == 0 ? kExitOk : kExitUsage;
    }
    if (*b) {
        build.options.fetch.total_timeout = std::chrono::seconds(timeout_s);
        const int code = cmd_build(build);
        if ((code != kExitOk && code != kExitStale) || build_mmdb.empty()) return code;
        ExportArgs after;
        after.db = build.options.out_path;
        after.out = build_mmdb;
        const int exported = cmd_export(after);
        return exported != kExitOk ? exported : code;
    }
    if (*x) return cmd_export(exp);
    if (*r) return cmd_report(rep);
    if (*l) return cmd_lookup(lookup);
    if (*st) return cmd_stats(stats);
    if (*e) return cmd_explain(explain);
    if (*i) return cmd_info(info);
    if (*v) return cmd_verify(ver);
    if (*df) return cmd_diff(diff);
    return kExitUsage;
}

}  // namespace anondb::builder
