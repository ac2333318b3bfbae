#include "anondb/builder/pipeline.hpp"

#include <algorithm>
#include <filesystem>
#include <set>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "anondb/category.hpp"
#include "anondb/explain.hpp"  // sha256_hex
#include "anondb/version.hpp"

namespace anondb::builder {
namespace {

constexpr std::size_t kReportedRejects = 10;

// The metadata section: everything an auditor may ask about the build that
// the binary sections do not hold. Keys are documented in docs/FORMAT.md.
std::string metadata_json(const BuildReport& report, std::int64_t build_time, std::uint64_t data_version) {
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    auto str = [&](std::string_view s) { w.String(s.data(), static_cast<rapidjson::SizeType>(s.size())); };
    w.StartObject();
    str("generator");
    str("anondb " ANONDB_VERSION);
    str("build_time");
    w.Int64(build_time);
    str("build_time_iso");
    str(format_time(build_time));
    str("data_version");
    w.Uint64(data_version);
    str("input_entries");
    w.Uint64(report.input_entries);
    str("ranges");
    w.Uint64(report.ranges);
    str("records");
    w.Uint64(report.records);
    str("feeds");
    w.StartArray();
    for (const auto& f : report.feeds) {
        w.StartObject();
        str("name");
        str(f.name);
        str("url");
        str(f.fetch.url);
        str("source");
        str(f.fetch.source);
        str("format");
        str(f.format);
        str("categories");
        w.StartArray();
        for (const auto& c : kCategoryNames)
            if (f.categories & c.bit) str(c.name);
        w.EndArray();
        str("provider");
        str(f.provider);
        str("license");
        str(f.license);
        str("snapshot");
        w.Bool(f.fetch.snapshot);
        str("http_status");
        w.Int(f.fetch.http_status);
        str("etag");
        str(f.fetch.etag);
        str("last_modified");
        str(f.fetch.last_modified);
        str("fetched_at");
        w.Int64(f.fetch.fetched_at);
        str("fetched_at_iso");
        str(format_time(f.fetch.fetched_at));
        str("from_cache");
        w.Bool(f.fetch.from_cache);
        str("stale");
        w.Bool(f.fetch.stale);
        str("bytes");
        w.Uint64(f.fetch.bytes);
        str("sha256");
        str(sha256_hex(f.fetch.sha256));
        str("accepted");
        w.Uint64(f.accepted);
        str("rejected");
        w.Uint64(f.rejected);
        str("rejects_by_reason");
        w.StartObject();
        for (const auto& [reason, n] : f.rejects_by_reason) {
            str(reason);
            w.Uint64(n);
        }
        w.EndObject();
        str("warnings_by_reason");
        w.StartObject();
        for (const auto& [reason, n] : f.warnings_by_reason) {
            str(reason);
            w.Uint64(n);
        }
        w.EndObject();
        str("first_rejects");
        w.StartArray();
        for (const auto& r : f.first_rejects) {
            w.StartObject();
            str("line");
            w.Uint(r.line);
            str("reason");
            str(r.reason);
            str("text");
            str(r.text);
            w.EndObject();
        }
        w.EndArray();
        w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    return buf.GetString();
}

}  // namespace

void add_merged(const MergedSet& merged, writer::DatabaseContent& c) {
    // Provenance list i becomes record i + 1; record 0 is "not flagged".
    const std::size_t nlists = merged.list_offsets.size() - 1;
    c.records.assign(nlists + 1, format::Record{});
    c.prov_offsets.assign(1, 0);
    c.prov_offsets.insert(c.prov_offsets.end(), merged.list_offsets.begin(), merged.list_offsets.end());
    c.prov_origins = merged.list_origins;
    c.ranges.clear();
    c.ranges.reserve(merged.ranges.size());
    for (const auto& r : merged.ranges) {
        c.records[r.provenance + 1] = {r.categories, r.provider};
        c.ranges.push_back({r.range, r.provenance + 1});
    }
}

Expected<std::vector<LoadedFeed>> load_feeds(const Catalogue& catalogue, const BuildOptions& options) {
    if (!options.offline)
        return make_error(Status::invalid_argument,
                          "live fetching is not available in this version; use --offline to build from the "
                          "bundled snapshots");
    std::vector<LoadedFeed> out;
    for (const auto& f : catalogue.feeds) {
        if (f.snapshot.empty())
            return make_error(Status::invalid_argument,
                              catalogue.path + ":" + std::to_string(f.line) + ": feed '" + f.name +
                                  "': no 'snapshot' to build from offline");
        auto body = sources::read_snapshot(f.snapshot_path, f.snapshot, f.url, f.snapshot_date.value_or(options.build_time));
        if (!body) return make_error(body.error().status, "feed '" + f.name + "': " + body.error().message);
        out.push_back({f, std::move(*body)});
    }
    return out;
}

Compiled compile(const std::vector<LoadedFeed>& feeds, std::int64_t build_time, std::uint64_t data_version) {
    Compiled out;
    auto& c = out.content;
    auto& report = out.report;
    c.build_time = build_time;
    c.data_version = data_version;

    // Provider ids: sorted names, so ids do not depend on catalogue order.
    std::set<std::string> names;
    for (const auto& f : feeds)
        if (!f.config.provider.empty()) names.insert(f.config.provider);
    c.providers.assign(1, std::string());
    c.providers.insert(c.providers.end(), names.begin(), names.end());
    auto provider_id = [&](const std::string& name) -> std::uint32_t {
        if (name.empty()) return 0;
        return static_cast<std::uint32_t>(std::lower_bound(c.providers.begin() + 1, c.providers.end(), name) -
                                           c.providers.begin());
    };

    std::vector<MergeInput> inputs;
    for (std::uint32_t fi = 0; fi < feeds.size(); ++fi) {
        const auto& f = feeds[fi];
        const auto* parser = sources::find_format(f.config.format);  // validated with the catalogue
        const sources::ParseResult parsed = parser->parse(f.fetched.body);
        const std::uint32_t provider = provider_id(f.config.provider);

        FeedReport fr;
        fr.name = f.config.name;
        fr.format = f.config.format;
        fr.categories = f.config.categories;
        fr.provider = f.config.provider;
        fr.license = f.config.license;
        fr.fetch = f.fetched.record;
        fr.accepted = parsed.entries.size();
        fr.rejected = parsed.rejects.size();
        fr.warnings = parsed.warnings.size();
        for (const auto& r : parsed.rejects) ++fr.rejects_by_reason[r.reason];
        for (const auto& w : parsed.warnings) ++fr.warnings_by_reason[w.reason];
        fr.first_rejects.assign(parsed.rejects.begin(),
                                parsed.rejects.begin() + static_cast<std::ptrdiff_t>(std::min(kReportedRejects, parsed.rejects.size())));

        for (const auto& e : parsed.entries) {
            const auto origin = static_cast<std::uint32_t>(c.origins.size());
            c.origins.push_back({fi, e.line, f.config.categories, provider,
                                 std::string_view(f.fetched.body).substr(e.text_offset, e.text_length)});
            inputs.push_back({e.range, origin, f.config.categories, provider});
        }

        writer::FeedInfo info;
        info.name = f.config.name;
        info.url = f.config.url;
        info.source = f.fetched.record.source;
        info.format = f.config.format;
        info.categories = f.config.categories;
        info.provider = provider;
        info.fetched_at = f.fetched.record.fetched_at;
        info.bytes = f.fetched.record.bytes;
        info.accepted = fr.accepted;
        info.rejected = fr.rejected;
        info.sha256 = f.fetched.record.sha256;
        const auto& rec = f.fetched.record;
        info.flags = (rec.snapshot ? std::uint32_t{format::kFeedSnapshot} : 0u) |
                     (rec.from_cache ? std::uint32_t{format::kFeedFromCache} : 0u) |
                     (rec.stale ? std::uint32_t{format::kFeedStale} : 0u);
        c.feeds.push_back(std::move(info));
        report.feeds.push_back(std::move(fr));
    }
    report.input_entries = inputs.size();

    const MergedSet merged = merge(inputs);
    add_merged(merged, c);
    report.ranges = merged.ranges.size();
    report.records = merged.list_offsets.size() - 1;
    c.metadata_json = metadata_json(report, build_time, data_version);
    return out;
}

Expected<BuildReport> run_build(const BuildOptions& options) {
    auto catalogue = load_catalogue(options.feeds_path);
    if (!catalogue) return catalogue.error();
    auto feeds = load_feeds(*catalogue, options);
    if (!feeds) return feeds.error();
    Compiled compiled = compile(*feeds, options.build_time, options.data_version.value_or(static_cast<std::uint64_t>(options.build_time)));
    auto bytes = writer::serialize(compiled.content);
    if (!bytes) return bytes.error();
    if (const auto dir = std::filesystem::path(options.out_path).parent_path(); !dir.empty()) {
        std::error_code ec;
        std::filesystem::create_directories(dir, ec);
        if (ec) return make_error(Status::io, dir.string() + ": " + ec.message());
    }
    if (auto w = writer::write_file_atomic(options.out_path, *bytes); !w) return w.error();
    compiled.report.file_bytes = bytes->size();
    compiled.report.out_path = options.out_path;
    return compiled.report;
}

}  // namespace anondb::builder
