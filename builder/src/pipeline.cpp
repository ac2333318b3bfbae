#include "anondb/builder/pipeline.hpp"

#include <algorithm>
#include <filesystem>
#include <cerrno>
#include <cstring>
#include <set>
#include <tuple>

#include <unistd.h>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "anondb/builder/asn_expand.hpp"
#include "anondb/builder/guard.hpp"
#include "anondb/builder/history.hpp"
#include "anondb/category.hpp"
#include "anondb/explain.hpp"  // sha256_hex
#include "anondb/signing.hpp"
#include "anondb/version.hpp"

namespace anondb::builder {
namespace {

constexpr std::size_t kReportedRejects = 25;
constexpr std::size_t kReportedGuardRejects = 1000;

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

void put(JsonWriter& w, std::string_view key, std::string_view value) {
    w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
    w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}
void put_u64(JsonWriter& w, std::string_view key, std::uint64_t value) {
    w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
    w.Uint64(value);
}
void put_counts(JsonWriter& w, const char* key, const std::map<std::string, std::uint64_t>& counts) {
    w.Key(key);
    w.StartObject();
    for (const auto& [reason, n] : counts) {
        w.Key(reason.data(), static_cast<rapidjson::SizeType>(reason.size()));
        w.Uint64(n);
    }
    w.EndObject();
}

void put_issues(JsonWriter& w, const char* key, const std::vector<sources::LineIssue>& issues) {
    w.Key(key);
    w.StartArray();
    for (const auto& r : issues) {
        w.StartObject();
        w.Key("line");
        w.Uint(r.line);
        put(w, "reason", r.reason);
        put(w, "text", r.text);
        w.EndObject();
    }
    w.EndArray();
}

// The build as JSON. The metadata section stores it with run_details false:
// only what describes the content, so that a rebuild from unchanged feeds
// (all 304) gives identical bytes. The build report adds this run's details.
std::string build_json(const BuildReport& report, std::int64_t build_time, std::uint64_t data_version,
                       bool run_details) {
    rapidjson::StringBuffer buf;
    JsonWriter w(buf);
    w.StartObject();
    if (run_details) {
        w.Key("report_version");
        w.Int(kReportVersion);
    }
    put(w, "generator", "anondb " ANONDB_VERSION);
    w.Key("build_time");
    w.Int64(build_time);
    put(w, "build_time_iso", format_time(build_time));
    put_u64(w, "data_version", data_version);
    put_u64(w, "input_entries", report.input_entries);
    put_u64(w, "ranges", report.ranges);
    put_u64(w, "answers", report.answers);
    put_u64(w, "evidence", report.evidence);
    put_u64(w, "stale_feeds", report.stale_feeds);
    put_u64(w, "omitted_feeds", report.omitted_feeds);
    put_u64(w, "derived_ranges", report.derived_ranges);
    put_u64(w, "excluded_ranges", report.excluded_ranges);
    if (run_details) {
        put(w, "out_path", report.out_path);
        put_u64(w, "file_bytes", report.file_bytes);
        // What the published database holds per category (every category,
        // zeros included), as `anondb info` counts it.
        w.Key("categories");
        w.StartObject();
        for (std::size_t k = 0; k < std::size(kCategoryNames); ++k) {
            const auto& name = kCategoryNames[k].name;
            const RangeCount& t = report.categories[k];
            w.Key(name.data(), static_cast<rapidjson::SizeType>(name.size()));
            w.StartObject();
            put_u64(w, "ranges", t.ranges);
            put_u64(w, "ipv4_addresses", t.ipv4_addresses);
            put_u64(w, "ipv6_ranges", t.ipv6_ranges);
            w.EndObject();
        }
        w.EndObject();
    }
    w.Key("feeds");
    w.StartArray();
    for (const auto& f : report.feeds) {
        const bool used = f.status != "failed";
        w.StartObject();
        put(w, "name", f.name);
        put(w, "url", f.fetch.url);
        put(w, "source", f.fetch.source);
        put(w, "format", f.format);
        put(w, "role", format::role_name(static_cast<std::uint32_t>(f.role)));
        w.Key("categories");
        w.StartArray();
        for (const auto& c : kCategoryNames)
            if (f.categories & c.bit) w.String(c.name.data(), static_cast<rapidjson::SizeType>(c.name.size()));
        w.EndArray();
        put(w, "provider", f.provider);
        put(w, "license", f.license);
        w.Key("snapshot");
        w.Bool(f.fetch.snapshot);
        w.Key("stale");
        w.Bool(f.fetch.stale);
        put(w, "failure", f.failure);
        if (run_details) {
            put(w, "status", f.status);
            w.Key("from_cache");
            w.Bool(f.fetch.from_cache);
            w.Key("http_status");
            w.Int(f.fetch.http_status);
        } else {
            // The status of the response that delivered the content (a 304
            // revalidated a 200).
            w.Key("http_status");
            w.Int(f.fetch.from_cache ? 200 : f.fetch.http_status);
        }
        put(w, "etag", f.fetch.etag);
        put(w, "last_modified", f.fetch.last_modified);
        if (used) {
            w.Key("fetched_at");
            w.Int64(f.fetch.fetched_at);
            put(w, "fetched_at_iso", format_time(f.fetch.fetched_at));
            w.Key("age_seconds");
            w.Int64(f.age_seconds);
            put_u64(w, "bytes", f.fetch.bytes);
            put(w, "sha256", sha256_hex(f.fetch.sha256));
        }
        put_u64(w, "accepted", f.accepted);
        put_u64(w, "rejected", f.rejected);
        put_counts(w, "rejects_by_reason", f.rejects_by_reason);
        put_counts(w, "warnings_by_reason", f.warnings_by_reason);
        put_issues(w, "first_rejects", f.first_rejects);
        put_issues(w, "guard_rejects", f.guard_rejects);
        if (f.role == format::FeedRole::asn_list) {
            put(w, "asn_table", f.asn_table);
            put_u64(w, "derived", f.derived);
            put_u64(w, "excluded", f.excluded);
            put_u64(w, "asns_unrouted", f.asns_unrouted);
            w.Key("first_asns_unrouted");
            w.StartArray();
            for (auto asn : f.first_asns_unrouted) w.Uint(asn);
            w.EndArray();
        }
        if (f.role == format::FeedRole::exclusions) {
            w.Key("excluded_by_line");
            w.StartObject();
            for (const auto& [line, n] : f.excluded_by_line) put_u64(w, std::to_string(line), n);
            w.EndObject();
        }
        w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    return buf.GetString();
}

void add_reject(FeedReport& r, const sources::LineIssue& issue) {
    ++r.rejects_by_reason[issue.reason];
    if (r.first_rejects.size() < kReportedRejects) r.first_rejects.push_back(issue);
}
void add_warning(FeedReport& r, const sources::LineIssue& issue) { ++r.warnings_by_reason[issue.reason]; }

// A parse's issues into the report: every one counted by reason, the first
// few in full.
void add_issues(FeedReport& r, const sources::IssueList& rejects, const sources::IssueList& warnings) {
    for (const auto& [reason, n] : rejects.counts()) r.rejects_by_reason[reason] += n;
    for (const auto& issue : rejects) {
        if (r.first_rejects.size() >= kReportedRejects) break;
        r.first_rejects.push_back(issue);
    }
    for (const auto& [reason, n] : warnings.counts()) r.warnings_by_reason[reason] += n;
}

FeedReport report_for(const FeedConfig& c) {
    FeedReport fr;
    fr.name = c.name;
    fr.format = c.format;
    fr.role = c.role;
    fr.categories = c.categories;
    fr.provider = c.provider;
    fr.license = c.license;
    fr.fetch.url = c.url;
    return fr;
}

// A parse that stopped at max_entries: its kTooManyEntries reject is the
// last one, as nothing is read after it.
template <class Parsed>
void note_limit(PreparedFeed& p, const Parsed& parsed) {
    if (!parsed.over_max_entries) return;
    p.over_max_entries = true;
    p.stopped_line = parsed.rejects.empty() ? 0 : parsed.rejects.back().line;
}

// A range feed: parse, then the guards.
void prepare_ranges(PreparedFeed& p) {
    const auto* parser = sources::find_format(p.config.format);  // validated with the catalogue
    const sources::ParseResult parsed = parser->parse(p.fetched.body, parse_options(p.config));
    note_limit(p, parsed);
    add_issues(p.report, parsed.rejects, parsed.warnings);

    std::vector<Range> pieces;
    for (const auto& e : parsed.entries) {
        pieces.clear();
        const GuardResult g = guard_entry(e.range, p.config.guard, pieces);
        if (g.action != GuardResult::Action::keep) {
            const auto text = std::string_view(p.fetched.body).substr(e.text_offset, e.text_length);
            const sources::LineIssue issue{e.line, g.reason, std::string(text.substr(0, sources::kIssueTextMax))};
            if (g.action == GuardResult::Action::reject) {
                add_reject(p.report, issue);
                if (p.report.guard_rejects.size() < kReportedGuardRejects) p.report.guard_rejects.push_back(issue);
                continue;
            }
            add_warning(p.report, issue);
        }
        const auto origin = static_cast<std::uint32_t>(p.origins.size());
        p.origins.push_back({e.line, e.text_offset, e.text_length});
        for (const Range& r : pieces) p.pieces.push_back({r, origin});
    }
}

std::string plural(std::uint64_t n, const char* what) {
    return std::to_string(n) + " " + what + (n == 1 ? "" : "s");
}

// Ranges an ASN list's entries expand to in a table (expand_asn_list's
// count), without expanding them.
std::uint64_t derived_count(const sources::AsnList& list, const AsnIndex& index) {
    std::uint64_t n = 0;
    for (const auto& e : list.entries) n += index.pieces_of(e.asn).size();
    return n;
}

// The max_entries part of check_feed: a parse that stopped at the limit, or
// an ASN list whose ASNs hold more ranges than it.
std::string check_limits(const PreparedFeed& feed) {
    const std::string limit = std::to_string(feed.config.max_entries);
    if (feed.over_max_entries)
        return "more than max_entries " + limit + " entries (" +
               (feed.stopped_line ? "parsing stopped at line " + std::to_string(feed.stopped_line)
                                  : "reading stopped after " + limit) +
               ")";
    if (feed.derived_ranges && *feed.derived_ranges > feed.config.max_entries)
        return plural(*feed.derived_ranges, "range") + " derived from its ASNs, more than max_entries " + limit;
    return {};
}

// The order feeds are decided in: catalogue order, ASN lists last, as a
// list's check counts the ranges it expands to in the copy of its table the
// build uses. Results still go out in catalogue order.
std::vector<std::size_t> decision_order(const Catalogue& catalogue) {
    std::vector<std::size_t> order;
    for (int lists = 0; lists < 2; ++lists)
        for (std::size_t i = 0; i < catalogue.feeds.size(); ++i)
            if ((catalogue.feeds[i].role == format::FeedRole::asn_list) == (lists == 1)) order.push_back(i);
    return order;
}

// The decided copy of the ASN table `list` expands through; nullptr when the
// list is no ASN list or its table has no usable copy.
PreparedFeed* table_for(const FeedConfig& list, std::vector<std::optional<PreparedFeed>>& decided) {
    if (list.role != format::FeedRole::asn_list) return nullptr;
    for (auto& d : decided)
        if (d && d->config.name == list.asn_table && d->config.role == format::FeedRole::asn_table) return &*d;
    return nullptr;
}

// prepare_feed, then count_derived when the feed is an ASN list whose table
// is there.
PreparedFeed prepare_with_table(const FeedConfig& f, sources::FetchedBody body, PreparedFeed* table) {
    PreparedFeed p = prepare_feed(f, std::move(body));
    if (table) count_derived(p, *table);
    return p;
}

// Offline: every feed from its bundled snapshot; any problem fails the build.
Expected<std::vector<PreparedFeed>> prepare_offline(const Catalogue& catalogue, const BuildOptions& options) {
    std::vector<std::optional<PreparedFeed>> decided(catalogue.feeds.size());
    for (const std::size_t i : decision_order(catalogue)) {
        const FeedConfig& f = catalogue.feeds[i];
        const std::string where = catalogue.path + ":" + std::to_string(f.line) + ": feed '" + f.name + "': ";
        if (f.snapshot.empty())
            return make_error(Status::invalid_argument, where + "no 'snapshot' to build from offline");
        auto body = sources::read_snapshot(f.snapshot_path, f.snapshot, f.url, f.snapshot_date.value_or(options.build_time),
                                           f.max_bytes);
        if (!body) return make_error(body.error().status, where + body.error().message);
        PreparedFeed p = prepare_with_table(f, std::move(*body), table_for(f, decided));
        if (auto why = check_feed(p, std::nullopt); !why.empty())
            return make_error(Status::invalid_argument, where + "snapshot unusable: " + why);
        p.report.status = "snapshot";
        decided[i] = std::move(p);
    }
    std::vector<PreparedFeed> out;
    for (auto& d : decided) out.push_back(std::move(*d));
    return out;
}

// Live: fetch everything, check each copy, fall back to last good copies.
Expected<std::vector<PreparedFeed>> prepare_live(const Catalogue& catalogue, const BuildOptions& options,
                                                 const std::string& cache_dir, std::vector<FeedReport>& omitted) {
    std::vector<sources::FetchRequest> requests;
    for (const auto& f : catalogue.feeds) requests.push_back({f.name, f.fetch_url, f.max_bytes});
    sources::FetchOptions fetch = options.fetch;
    fetch.cache_dir = cache_dir;  // the fetcher keeps its HTTP cache in <cache_dir>/http
    auto outcomes = sources::fetch_all(requests, fetch);
    const LastGoodStore store((std::filesystem::path(cache_dir) / "good").string());

    // Per catalogue position: the copy used, or why there is none.
    std::vector<std::optional<PreparedFeed>> decided(catalogue.feeds.size());
    std::vector<std::optional<FeedReport>> left_out(catalogue.feeds.size());
    std::vector<std::string> missing(catalogue.feeds.size());
    for (const std::size_t i : decision_order(catalogue)) {
        const FeedConfig& f = catalogue.feeds[i];
        PreparedFeed* const table = table_for(f, decided);
        sources::FetchOutcome& got = outcomes[i];
        auto good = store.load(f.name);
        std::optional<GoodCopy> last_good;
        std::string store_problem;
        if (good) last_good = std::move(*good);
        else store_problem = "; last good copy unreadable: " + good.error().message;

        std::string failure;
        if (got.ok) {
            PreparedFeed p = prepare_with_table(f, std::move(got.fetched), table);
            failure = check_feed(p, last_good);
            if (failure.empty()) {
                p.report.status = p.fetched.record.from_cache ? "cached" : "fresh";
                const bool already_kept = last_good && last_good->fetched.record.sha256 == p.fetched.record.sha256;
                if (!already_kept) {
                    if (auto saved = store.save(f.name, p.fetched, p.entries()); !saved)
                        return make_error(saved.error().status, "feed '" + f.name + "': saving last good copy: " +
                                                                    saved.error().message);
                }
                decided[i] = std::move(p);
                continue;
            }
        } else {
            failure = got.error;
        }
        failure += store_problem;
        std::string no_copy = "; no last good copy";
        if (last_good) {
            sources::FetchedBody body = std::move(last_good->fetched);
            body.record.stale = true;
            body.record.from_cache = false;
            PreparedFeed p = prepare_with_table(f, std::move(body), table);
            // A last good copy passed the checks when it was kept, but the
            // limits may have been lowered since, or (an ASN list) its table
            // changed: a copy over them would be published cut short.
            const std::string over = check_limits(p);
            if (over.empty()) {
                p.report.status = "stale";
                p.report.failure = failure;
                decided[i] = std::move(p);
                continue;
            }
            no_copy = "; last good copy unusable: " + over;
        }
        if (f.optional) {
            FeedReport fr = report_for(f);
            fr.status = "failed";
            fr.failure = failure + no_copy + " (optional feed left out)";
            left_out[i] = std::move(fr);
        } else {
            missing[i] = "feed '" + f.name + "': " + failure + no_copy;
        }
    }
    std::vector<PreparedFeed> out;
    std::vector<std::string> unusable;
    for (std::size_t i = 0; i < catalogue.feeds.size(); ++i) {
        if (decided[i]) out.push_back(std::move(*decided[i]));
        if (left_out[i]) omitted.push_back(std::move(*left_out[i]));
        if (!missing[i].empty()) unusable.push_back(std::move(missing[i]));
    }
    if (!unusable.empty()) {
        std::string msg = plural(unusable.size(), "required feed") + " unusable (mark a feed 'optional: true' to build without it):";
        for (const auto& m : unusable) msg += "\n  " + m;
        return make_error(Status::io, msg);
    }
    return out;
}

}  // namespace

namespace {

template <class Parsed>
void count_issues(FeedReport& report, const Parsed& parsed) {
    add_issues(report, parsed.rejects, parsed.warnings);
}

// A binary table (MMDB, libloc) is read from a file by its library: the
// fetched bytes go to a temporary file first, so what is read is exactly
// what was hashed.
Expected<sources::AsnTable> read_binary_table(const sources::AsnTableFormat& fmt, const std::string& body,
                                              const std::string& feed, const sources::ParseOptions& options) {
    // The readers of binary tables (libmaxminddb, libloc) take a path. The
    // file gets a fresh name, created exclusively and private (mkstemp), so
    // a name planted in a shared temporary directory is never written
    // through.
    std::error_code ec;
    const auto dir = std::filesystem::temp_directory_path(ec);
    if (ec) return make_error(Status::io, "temporary directory: " + ec.message());
    std::string path = (dir / ("anondb-" + feed + ".XXXXXX")).string();
    const int fd = ::mkstemp(path.data());
    if (fd < 0) return make_error(Status::io, "temporary file in " + dir.string() + ": " + std::strerror(errno));
    const int e = writer::write_fully(fd, std::as_bytes(std::span(body.data(), body.size())));
    ::close(fd);
    if (e != 0) {
        ::unlink(path.c_str());
        return make_error(Status::io, path + ": " + std::strerror(e));
    }
    auto table = fmt.read_file(path, options);
    ::unlink(path.c_str());
    return table;
}

}  // namespace

std::uint64_t PreparedFeed::entries() const {
    switch (config.role) {
        case format::FeedRole::ranges: return origins.size();
        case format::FeedRole::asn_list: return asn_list.entries.size();
        case format::FeedRole::asn_table: return asn_table.rows.size();
        case format::FeedRole::exclusions: return exclusions.rules.size();
    }
    return 0;
}

PreparedFeed prepare_feed(const FeedConfig& config, sources::FetchedBody fetched) {
    PreparedFeed p;
    p.config = config;
    p.fetched = std::move(fetched);
    p.report = report_for(config);
    p.report.fetch = p.fetched.record;
    const sources::ParseOptions options = parse_options(config);
    switch (config.role) {
        case format::FeedRole::ranges: prepare_ranges(p); break;
        case format::FeedRole::asn_list:
            p.asn_list = sources::find_asn_list_format(config.format)->parse(p.fetched.body, options);
            note_limit(p, p.asn_list);
            count_issues(p.report, p.asn_list);
            break;
        case format::FeedRole::asn_table: {
            const auto* fmt = sources::find_asn_table_format(config.format);
            if (fmt->parse) {
                p.asn_table = fmt->parse(p.fetched.body, options);
            } else if (auto t = read_binary_table(*fmt, p.fetched.body, config.name, options)) {
                p.asn_table = std::move(*t);
            } else {
                p.unreadable = t.error().message;
            }
            note_limit(p, p.asn_table);
            count_issues(p.report, p.asn_table);
            break;
        }
        case format::FeedRole::exclusions:
            p.exclusions = sources::parse_exclusions(p.fetched.body, options);
            note_limit(p, p.exclusions);
            count_issues(p.report, p.exclusions);
            break;
    }
    auto total = [](const std::map<std::string, std::uint64_t>& m) {
        std::uint64_t n = 0;
        for (const auto& [reason, count] : m) n += count;
        return n;
    };
    p.report.accepted = p.entries();
    p.report.rejected = total(p.report.rejects_by_reason);
    p.report.warnings = total(p.report.warnings_by_reason);
    return p;
}

void count_derived(PreparedFeed& list, PreparedFeed& table) {
    if (list.config.role != format::FeedRole::asn_list || table.config.role != format::FeedRole::asn_table) return;
    if (!table.asn_index) table.asn_index = std::make_shared<const AsnIndex>(table.asn_table);
    list.derived_ranges = derived_count(list.asn_list, *table.asn_index);
}

std::string check_feed(const PreparedFeed& feed, const std::optional<GoodCopy>& last_good) {
    const std::string_view body = feed.fetched.body;
    const auto first = body.find_first_not_of(" \t\r\n\xEF\xBB\xBF");
    if (first != std::string_view::npos && body[first] == '<') return "an HTML or XML page instead of the feed";
    if (!feed.unreadable.empty()) return "unreadable: " + feed.unreadable;
    if (auto why = check_limits(feed); !why.empty()) return why;
    const std::uint64_t n = feed.entries();
    if (n == 0) {
        std::string why = "no entries";
        if (!feed.report.first_rejects.empty()) {
            const auto& r = feed.report.first_rejects.front();
            why += " (line " + std::to_string(r.line) + ": " + r.reason + ")";
        }
        return why;
    }
    if (n < feed.config.min_entries)
        return plural(n, "entry") + ", fewer than min_entries " + std::to_string(feed.config.min_entries);
    if (last_good && static_cast<double>(n) < feed.config.min_fraction * static_cast<double>(last_good->accepted))
        return plural(n, "entry") + ", under " + std::to_string(static_cast<int>(feed.config.min_fraction * 100)) +
               "% of the last good copy's " + std::to_string(last_good->accepted);
    return {};
}

std::size_t merge_into(std::span<MergeInput> inputs, writer::DatabaseContent& c) {
    // An input's attributes are its origin's: the file derives answers
    // from the evidence's origins (FORMAT.md, Answer semantics), so the
    // merge must see the same ones.
    for (MergeInput& in : inputs) {
        const writer::OriginInfo& o = c.origins.at(in.origin);
        in.categories = o.categories;
        in.provider = o.provider;
        in.asn = o.asn;
    }
    c.ranges.clear();
    merge(inputs, [&c](std::span<const MergedRange> batch) {
        for (const auto& r : batch) c.ranges.push_back({r.range, r.categories, r.provider, r.asn});
    });
    // The inputs are in evidence order now; equal rows (one origin's range
    // twice) are one row.
    c.evidence.clear();
    c.evidence.reserve(inputs.size());
    for (const MergeInput& in : inputs)
        if (c.evidence.empty() || c.evidence.back().origin != in.origin || c.evidence.back().range != in.range)
            c.evidence.push_back({in.range, in.origin});
    return c.ranges.size();
}

namespace {

// Origins and merge inputs of ASN lists: expansion through the list's table,
// the guards, then the exclusions. Origins are made on first use, so only
// table rows that contribute are stored.
class AsnCompiler {
public:
    AsnCompiler(const std::vector<PreparedFeed>& feeds, writer::DatabaseContent& content,
                std::vector<FeedReport>& reports)
        : feeds_(feeds), c_(content), reports_(reports) {
        // All exclusion lists apply to every ASN list, in catalogue order.
        for (std::uint32_t fi = 0; fi < feeds.size(); ++fi) {
            if (feeds[fi].config.role != format::FeedRole::exclusions) continue;
            const auto& list = feeds[fi].exclusions;
            for (std::uint32_t k = 0; k < list.rules.size(); ++k) {
                rules_.rules.push_back(list.rules[k]);
                rule_feed_.push_back({fi, k});
            }
        }
    }

    // provider_id: name -> provider index.
    template <class ProviderId>
    void add_list(std::uint32_t fi, ProviderId provider_id, std::vector<MergeInput>& inputs,
                  std::uint64_t& derived_total, std::uint64_t& excluded_total) {
        const PreparedFeed& list = feeds_[fi];
        FeedReport& report = reports_[fi];
        const auto found = table_index(list.config.asn_table);
        if (!found) {
            // run_build leaves such a list out before compiling; a direct
            // caller gets it reported instead of expanded through another table.
            report.failure = "its ASN table '" + list.config.asn_table + "' is not among the feeds compiled";
            return;
        }
        const std::uint32_t ti = *found;
        const PreparedFeed& table = feeds_[ti];
        const AsnIndex& index = index_for(ti);
        report.asn_table = table.config.name;
        // The checks keep such a list out of run_build; a direct caller gets
        // it reported rather than a vector of every range it names.
        if (const std::uint64_t n = derived_count(list.asn_list, index); n > list.config.max_entries) {
            report.failure = plural(n, "range") + " derived from its ASNs, more than max_entries " +
                             std::to_string(list.config.max_entries) + " (not expanded)";
            return;
        }

        // Expansion, then the guards on each derived piece.
        std::vector<DerivedEntry> guarded;
        std::vector<Range> pieces;
        const auto derived = expand_asn_list(list.asn_list, index);
        for (const auto& e : list.asn_list.entries)
            if (index.pieces_of(e.asn).empty()) {
                ++report.asns_unrouted;
                if (report.first_asns_unrouted.size() < kReportedRejects) report.first_asns_unrouted.push_back(e.asn);
            }
        for (const DerivedEntry& d : derived) {
            const auto& entry = list.asn_list.entries[d.entry];
            const std::uint32_t cats = entry.categories ? entry.categories : list.config.categories;
            const GuardPolicy policy = list.config.guard_set ? list.config.guard : default_guard_policy(cats);
            pieces.clear();
            const GuardResult g = guard_entry(d.range, policy, pieces);
            if (g.action != GuardResult::Action::keep) {
                const std::string text = "AS" + std::to_string(d.asn) + " -> " + format_range(d.range) + " (" +
                                         table.config.name + ": " + std::string(table.asn_table.row_text(table.asn_table.rows[d.row])) + ")";
                const sources::LineIssue issue{entry.line, g.reason, text.substr(0, sources::kIssueTextMax)};
                if (g.action == GuardResult::Action::reject) {
                    add_reject(report, issue);
                    ++report.rejected;
                    if (report.guard_rejects.size() < kReportedGuardRejects) report.guard_rejects.push_back(issue);
                    continue;
                }
                add_warning(report, issue);
                ++report.warnings;
            }
            for (const Range& r : pieces) guarded.push_back({r, d.entry, d.row, d.asn});
        }

        const ExclusionOutcome outcome = apply_exclusions(guarded, rules_);
        for (const DerivedEntry& k : outcome.kept) {
            const std::uint32_t o = derived_origin(fi, ti, k, provider_id);
            const auto& origin = c_.origins[o];
            inputs.push_back({k.range, o, origin.categories, origin.provider, k.asn});
        }
        for (const ExcludedPart& x : outcome.excluded) {
            const DerivedEntry& d = guarded[x.derived];
            const auto [rule_fi, rule_k] = rule_feed_[x.rule];
            c_.exclusions.push_back({x.range, derived_origin(fi, ti, d, provider_id), rule_origin(x.rule)});
            ++reports_[rule_fi].excluded_by_line[feeds_[rule_fi].exclusions.rules[rule_k].line];
        }
        report.derived = outcome.kept.size();
        report.excluded = outcome.excluded.size();
        derived_total += report.derived;
        excluded_total += report.excluded;
    }

private:
    std::optional<std::uint32_t> table_index(const std::string& name) const {
        for (std::uint32_t i = 0; i < feeds_.size(); ++i)
            if (feeds_[i].config.name == name && feeds_[i].config.role == format::FeedRole::asn_table) return i;
        return std::nullopt;
    }

    // The index the checks built, or one built here.
    const AsnIndex& index_for(std::uint32_t ti) {
        if (feeds_[ti].asn_index) return *feeds_[ti].asn_index;
        auto it = indexes_.find(ti);
        if (it == indexes_.end()) it = indexes_.emplace(ti, AsnIndex(feeds_[ti].asn_table)).first;
        return it->second;
    }

    template <class ProviderId>
    std::uint32_t derived_origin(std::uint32_t fi, std::uint32_t ti, const DerivedEntry& d, ProviderId provider_id) {
        const auto [it, added] = derived_.try_emplace({fi, d.entry, d.row}, 0u);
        if (!added) return it->second;
        const PreparedFeed& list = feeds_[fi];
        const auto& entry = list.asn_list.entries[d.entry];
        writer::OriginInfo o;
        o.feed = fi;
        o.line = entry.line;
        o.categories = entry.categories ? entry.categories : list.config.categories;
        o.provider = provider_id(entry.provider.empty() ? list.config.provider : entry.provider);
        o.asn = d.asn;
        o.link = row_origin(ti, d.row);
        o.text = std::string_view(list.fetched.body).substr(entry.text_offset, entry.text_length);
        it->second = static_cast<std::uint32_t>(c_.origins.size());
        c_.origins.push_back(o);
        return it->second;
    }

    std::uint32_t row_origin(std::uint32_t ti, std::uint32_t row) {
        const auto [it, added] = rows_.try_emplace({ti, row}, 0u);
        if (!added) return it->second;
        const auto& table = feeds_[ti].asn_table;
        const auto& r = table.rows[row];
        writer::OriginInfo o;
        o.feed = ti;
        o.line = r.line;
        o.asn = r.asn_count == 1 ? table.asns[r.asn_begin] : 0;
        o.text = table.row_text(r);
        it->second = static_cast<std::uint32_t>(c_.origins.size());
        c_.origins.push_back(o);
        return it->second;
    }

    std::uint32_t rule_origin(std::uint32_t rule) {
        const auto [it, added] = rule_origins_.try_emplace(rule, 0u);
        if (!added) return it->second;
        const auto [fi, k] = rule_feed_[rule];
        const PreparedFeed& feed = feeds_[fi];
        const auto& r = feed.exclusions.rules[k];
        writer::OriginInfo o;
        o.feed = fi;
        o.line = r.line;
        o.asn = r.kind == sources::ExclusionRule::Kind::asn ? r.asn : 0;
        o.text = std::string_view(feed.fetched.body).substr(r.text_offset, r.text_length);
        it->second = static_cast<std::uint32_t>(c_.origins.size());
        c_.origins.push_back(o);
        return it->second;
    }

    const std::vector<PreparedFeed>& feeds_;
    writer::DatabaseContent& c_;
    std::vector<FeedReport>& reports_;
    sources::ExclusionList rules_;                                  // every list's rules, in order
    std::vector<std::pair<std::uint32_t, std::uint32_t>> rule_feed_;  // rule -> (feed, rule in feed)
    std::map<std::uint32_t, AsnIndex> indexes_;                     // by table feed
    std::map<std::tuple<std::uint32_t, std::uint32_t, std::uint32_t>, std::uint32_t> derived_;  // (feed, entry, row)
    std::map<std::pair<std::uint32_t, std::uint32_t>, std::uint32_t> rows_;  // (table feed, row)
    std::map<std::uint32_t, std::uint32_t> rule_origins_;
};

}  // namespace

Expected<Compiled> compile(const std::vector<PreparedFeed>& feeds, std::int64_t build_time, std::uint64_t data_version,
                           std::uint64_t max_total_entries) {
    Compiled out;
    auto& c = out.content;
    auto& report = out.report;
    c.build_time = build_time;
    c.data_version = data_version;

    // Provider ids: sorted names, so ids do not depend on catalogue order.
    std::set<std::string> names;
    for (const auto& f : feeds) {
        if (!f.config.provider.empty()) names.insert(f.config.provider);
        for (const auto& e : f.asn_list.entries)
            if (!e.provider.empty()) names.insert(e.provider);
    }
    c.providers.assign(1, std::string());
    c.providers.insert(c.providers.end(), names.begin(), names.end());
    auto provider_id = [&](const std::string& name) -> std::uint32_t {
        if (name.empty()) return 0;
        return static_cast<std::uint32_t>(std::lower_bound(c.providers.begin() + 1, c.providers.end(), name) -
                                           c.providers.begin());
    };

    // The merge inputs so far against max_total_entries, after each feed
    // added its own: the feed that passes the limit is named, and nothing
    // more is gathered.
    std::vector<MergeInput> inputs;
    auto over_total = [&](std::uint32_t fi, std::size_t before) -> Error {
        if (inputs.size() <= max_total_entries) return {};
        return make_error(Status::invalid_argument,
                          "feed '" + feeds[fi].config.name + "': its " + plural(inputs.size() - before, "range") +
                              " bring the build to " + std::to_string(inputs.size()) +
                              ", more than max_total_entries " + std::to_string(max_total_entries));
    };
    for (std::uint32_t fi = 0; fi < feeds.size(); ++fi) {
        const PreparedFeed& f = feeds[fi];
        const std::size_t inputs_before = inputs.size();
        const std::uint32_t provider = provider_id(f.config.provider);
        const auto first_origin = static_cast<std::uint32_t>(c.origins.size());
        for (const auto& o : f.origins) {
            writer::OriginInfo info;
            info.feed = fi;
            info.line = o.line;
            info.categories = f.config.categories;
            info.provider = provider;
            info.text = std::string_view(f.fetched.body).substr(o.text_offset, o.text_length);
            c.origins.push_back(info);
        }
        for (const auto& piece : f.pieces)
            inputs.push_back({piece.range, first_origin + piece.origin, f.config.categories, provider, 0});
        if (Error over = over_total(fi, inputs_before); over.status != Status::ok) return over;

        const auto& rec = f.fetched.record;
        writer::FeedInfo info;
        info.name = f.config.name;
        info.url = f.config.url;
        info.source = rec.source;
        info.format = f.config.format;
        info.categories = f.config.categories;
        info.provider = provider;
        info.fetched_at = rec.fetched_at;
        info.bytes = rec.bytes;
        info.accepted = f.report.accepted;
        info.rejected = f.report.rejected;
        info.sha256 = rec.sha256;
        // Transport details (HTTP cache use) stay out of the file: see build_json.
        info.flags = (rec.snapshot ? std::uint32_t{format::kFeedSnapshot} : 0u) |
                     (rec.stale ? std::uint32_t{format::kFeedStale} : 0u);
        info.role = f.config.role;
        for (std::uint32_t ti = 0; ti < feeds.size() && f.config.role == format::FeedRole::asn_list; ++ti)
            if (feeds[ti].config.name == f.config.asn_table) info.asn_table = ti + 1;
        c.feeds.push_back(std::move(info));

        FeedReport fr = f.report;
        fr.age_seconds = build_time - rec.fetched_at;
        report.stale_feeds += rec.stale;
        report.feeds.push_back(std::move(fr));
    }

    AsnCompiler asn(feeds, c, report.feeds);
    for (std::uint32_t fi = 0; fi < feeds.size(); ++fi) {
        if (feeds[fi].config.role != format::FeedRole::asn_list) continue;
        const std::size_t inputs_before = inputs.size();
        asn.add_list(fi, provider_id, inputs, report.derived_ranges, report.excluded_ranges);
        c.feeds[fi].rejected = report.feeds[fi].rejected;
        if (Error over = over_total(fi, inputs_before); over.status != Status::ok) return over;
    }
    std::vector<bool> published(c.origins.size());  // origins behind merge inputs (not table rows or rules)
    for (const auto& in : inputs) published[in.origin] = true;
    report.input_entries = static_cast<std::uint64_t>(std::count(published.begin(), published.end(), true));

    report.ranges = merge_into(inputs, c);
    for (const auto& r : c.ranges)
        for (std::size_t k = 0; k < std::size(kCategoryNames); ++k)
            if (r.categories & kCategoryNames[k].bit) report.categories[k].add(r.range);
    {
        std::set<std::tuple<std::uint32_t, std::uint32_t, std::uint32_t>> answers;
        for (const auto& r : c.ranges) answers.insert({r.categories, r.provider, r.asn});
        report.answers = answers.size();
    }
    report.evidence = c.evidence.size();
    return out;
}

std::string report_json(const BuildReport& report, std::int64_t build_time, std::uint64_t data_version) {
    return build_json(report, build_time, data_version, true);
}

Expected<BuildReport> run_build(const BuildOptions& options) {
    std::optional<writer::SigningKey> signing_key;
    if (!options.sign_key_path.empty()) {
        auto key = writer::SigningKey::load(options.sign_key_path);
        if (!key) return make_error(key.error().status, "--sign: " + key.error().message);
        signing_key.emplace(std::move(*key));
    }
    std::vector<writer::FirstSeenInfo> previous;
    if (!options.previous_path.empty()) {
        auto rows = previous_first_seen(options.previous_path);
        if (!rows) return rows.error();
        previous = std::move(*rows);
    }
    auto catalogue = load_catalogue(options.feeds_path);
    if (!catalogue) return catalogue.error();
    const auto out_dir = std::filesystem::path(options.out_path).parent_path();
    const std::string cache_dir = !options.cache_dir.empty() ? options.cache_dir : (out_dir / "cache").string();

    std::vector<FeedReport> omitted;
    auto feeds = options.offline ? prepare_offline(*catalogue, options)
                                 : prepare_live(*catalogue, options, cache_dir, omitted);
    if (!feeds) return feeds.error();
    // An ASN list whose table has no usable copy cannot be expanded: it is
    // left out when optional, else the build fails.
    for (std::size_t i = 0; i < feeds->size();) {
        const FeedConfig& f = (*feeds)[i].config;
        const bool table_there = f.role != format::FeedRole::asn_list ||
                                 std::any_of(feeds->begin(), feeds->end(),
                                             [&](const PreparedFeed& t) { return t.config.name == f.asn_table; });
        if (table_there) {
            ++i;
            continue;
        }
        const std::string why = "its ASN table '" + f.asn_table + "' has no usable copy";
        if (!f.optional) return make_error(Status::io, "feed '" + f.name + "': " + why);
        FeedReport fr = report_for(f);
        fr.status = "failed";
        fr.failure = why + " (optional feed left out)";
        omitted.push_back(std::move(fr));
        feeds->erase(feeds->begin() + static_cast<std::ptrdiff_t>(i));
    }
    const std::uint64_t data_version = options.data_version.value_or(static_cast<std::uint64_t>(options.build_time));
    auto built = compile(*feeds, options.build_time, data_version,
                         options.max_total_entries.value_or(catalogue->max_total_entries));
    if (!built) return built.error();
    Compiled& compiled = *built;
    BuildReport& report = compiled.report;
    report.omitted_feeds = omitted.size();
    for (auto& fr : omitted) report.feeds.push_back(std::move(fr));
    report.out_path = options.out_path;

    if (options.strict && (report.stale_feeds || report.omitted_feeds)) {
        std::string msg = "--strict: not published (" + plural(report.stale_feeds, "stale feed") + ", " +
                          plural(report.omitted_feeds, "omitted feed") + "); " + options.out_path + " is untouched";
        for (const auto& f : report.feeds)
            if (!f.failure.empty()) msg += "\n  feed '" + f.name + "': " + f.failure;
        return make_error(Status::io, msg);
    }

    compiled.content.first_seen = first_seen_rows(compiled.content, previous);
    compiled.content.metadata_json = build_json(report, options.build_time, data_version, false);
    writer::WriteOptions write_options;
    write_options.signing_key = signing_key ? &*signing_key : nullptr;
    auto bytes = writer::serialize(compiled.content, write_options);
    if (!bytes) return bytes.error();
    if (!out_dir.empty()) {
        std::error_code ec;
        std::filesystem::create_directories(out_dir, ec);
        if (ec) return make_error(Status::io, out_dir.string() + ": " + ec.message());
    }
    if (auto w = writer::write_file_atomic(options.out_path, *bytes); !w) return w.error();
    report.file_bytes = bytes->size();
    if (!options.report_path.empty()) {
        const std::string json = report_json(report, options.build_time, data_version);
        if (auto w = writer::write_file_atomic(options.report_path, std::as_bytes(std::span(json.data(), json.size())));
            !w)
            return make_error(w.error().status, "report: " + w.error().message);
    }
    return report;
}

}  // namespace anondb::builder
