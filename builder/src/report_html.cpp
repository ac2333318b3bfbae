#include "anondb/builder/report_html.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include "anondb/builder/catalogue.hpp"  // format_time
#include "anondb/builder/pipeline.hpp"   // kReportVersion
#include "anondb/category.hpp"
#include "printable.hpp"

namespace anondb::builder {

// ---- escaping ---------------------------------------------------------------------

std::string html_escape(std::string_view s) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    out.reserve(s.size() + s.size() / 8);
    auto byte_escape = [&](unsigned char c) {
        out += "\\x";
        out += kHex[c >> 4];
        out += kHex[c & 0xf];
    };
    std::size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            switch (c) {
                case '&': out += "&amp;"; break;
                case '<': out += "&lt;"; break;
                case '>': out += "&gt;"; break;
                case '"': out += "&quot;"; break;
                case '\'': out += "&#39;"; break;
                default:
                    if (c < 0x20 || c == 0x7f) byte_escape(c);
                    else out += static_cast<char>(c);
            }
            ++i;
            continue;
        }
        // One UTF-8 sequence, checked: shortest form, no surrogates, at most U+10FFFF.
        std::size_t len = 0;
        std::uint32_t cp = 0;
        if (c >= 0xC2 && c <= 0xDF) len = 2, cp = c & 0x1fu;
        else if (c >= 0xE0 && c <= 0xEF) len = 3, cp = c & 0x0fu;
        else if (c >= 0xF0 && c <= 0xF4) len = 4, cp = c & 0x07u;
        bool ok = len != 0 && i + len <= s.size();
        for (std::size_t k = 1; ok && k < len; ++k) {
            const auto d = static_cast<unsigned char>(s[i + k]);
            if ((d & 0xC0) != 0x80) ok = false;
            cp = (cp << 6) | (d & 0x3fu);
        }
        if (ok && ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
                   (cp >= 0xD800 && cp <= 0xDFFF)))
            ok = false;
        if (!ok) {
            byte_escape(c);
            ++i;
            continue;
        }
        // C1 controls, and the marks and overrides that reorder text around them.
        const bool hidden = (cp >= 0x80 && cp <= 0x9f) || cp == 0x061C || cp == 0x200E || cp == 0x200F ||
                            (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
        if (hidden) {
            char buf[16];
            std::snprintf(buf, sizeof buf, "\\u{%04X}", static_cast<unsigned>(cp));
            out += buf;
        } else {
            out.append(s.substr(i, len));
        }
        i += len;
    }
    return out;
}

// ---- reading ------------------------------------------------------------------------

namespace {

using Value = rapidjson::Value;

constexpr const char* kStatuses[] = {"snapshot", "fresh", "cached", "stale", "failed"};
// Times a report may hold: 1970 up to the year 10000 (format_time's range,
// and no arithmetic on them overflows).
constexpr std::int64_t kMaxTime = 253402300799;
// Counts up to 2^63 - 1, so differences fit in an int64.
constexpr std::uint64_t kMaxCount = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());

// Field access that keeps the first problem, named by its path in the JSON.
class Fields {
public:
    std::string error;

    static std::string join(std::string_view path, std::string_view key) {
        return path.empty() ? std::string(key) : std::string(path) + "." + std::string(key);
    }

    const Value* find(const Value& obj, std::string_view path, const char* key, bool required) {
        if (!error.empty()) return nullptr;
        const auto it = obj.FindMember(key);
        if (it == obj.MemberEnd()) {
            if (required) error = "field '" + join(path, key) + "' is missing";
            return nullptr;
        }
        return &it->value;
    }
    bool wrong(std::string_view path, const char* key, const char* what) {
        error = "field '" + join(path, key) + "' is not " + what;
        return false;
    }
    bool u64(const Value& obj, std::string_view path, const char* key, std::uint64_t& out, bool required = true) {
        const Value* v = find(obj, path, key, required);
        if (!v) return false;
        if (!v->IsUint64() || v->GetUint64() > kMaxCount) return wrong(path, key, "an unsigned integer below 2^63");
        out = v->GetUint64();
        return true;
    }
    bool time(const Value& obj, std::string_view path, const char* key, std::int64_t& out, bool required = true) {
        const Value* v = find(obj, path, key, required);
        if (!v) return false;
        if (!v->IsInt64() || v->GetInt64() < 0 || v->GetInt64() > kMaxTime)
            return wrong(path, key, "a time in Unix seconds (1970 to 9999)");
        out = v->GetInt64();
        return true;
    }
    bool i64(const Value& obj, std::string_view path, const char* key, std::int64_t& out, bool required = true) {
        const Value* v = find(obj, path, key, required);
        if (!v) return false;
        if (!v->IsInt64()) return wrong(path, key, "an integer");
        out = v->GetInt64();
        return true;
    }
    bool str(const Value& obj, std::string_view path, const char* key, std::string& out, bool required = true) {
        const Value* v = find(obj, path, key, required);
        if (!v) return false;
        if (!v->IsString()) return wrong(path, key, "a string");
        out.assign(v->GetString(), v->GetStringLength());
        return true;
    }
    const Value* array(const Value& obj, std::string_view path, const char* key, bool required = true) {
        const Value* v = find(obj, path, key, required);
        if (v && !v->IsArray()) {
            wrong(path, key, "an array");
            return nullptr;
        }
        return v;
    }
    const Value* object(const Value& obj, std::string_view path, const char* key, bool required = true) {
        const Value* v = find(obj, path, key, required);
        if (v && !v->IsObject()) {
            wrong(path, key, "an object");
            return nullptr;
        }
        return v;
    }
};

std::string value_text(const Value& v) {
    if (v.IsInt64()) return std::to_string(v.GetInt64());
    if (v.IsUint64()) return std::to_string(v.GetUint64());
    if (v.IsString()) return "\"" + printable(std::string_view(v.GetString(), v.GetStringLength()).substr(0, 40)) + "\"";
    return v.IsNumber() ? "a non-integer number" : v.IsNull() ? "null" : v.IsBool() ? "a boolean" : "not a number";
}

void read_feed(Fields& f, const Value& v, const std::string& path, ReportFeed& out) {
    if (!v.IsObject()) {
        f.error = "'" + path + "' is not an object";
        return;
    }
    f.str(v, path, "name", out.name);
    f.str(v, path, "url", out.url);
    f.str(v, path, "format", out.format);
    f.str(v, path, "role", out.role);
    f.str(v, path, "status", out.status);
    f.str(v, path, "failure", out.failure);
    f.u64(v, path, "accepted", out.accepted);
    f.u64(v, path, "rejected", out.rejected);
    std::int64_t t = 0;
    if (f.time(v, path, "fetched_at", t, false)) out.fetched_at = t;
    f.i64(v, path, "age_seconds", out.age_seconds, false);
    if (const Value* cats = f.array(v, path, "categories")) {
        for (const auto& c : cats->GetArray()) {
            if (!c.IsString()) {
                f.error = "field '" + path + ".categories' holds a non-string";
                return;
            }
            out.categories.emplace_back(c.GetString(), c.GetStringLength());
        }
    }
    if (const Value* reasons = f.object(v, path, "rejects_by_reason")) {
        for (const auto& m : reasons->GetObject()) {
            if (!m.value.IsUint64() || m.value.GetUint64() > kMaxCount) {
                f.error = "field '" + path + ".rejects_by_reason' holds a count that is not an unsigned integer";
                return;
            }
            out.rejects_by_reason.emplace_back(std::string(m.name.GetString(), m.name.GetStringLength()),
                                               m.value.GetUint64());
        }
    }
    std::uint64_t derived = 0;
    if (f.u64(v, path, "derived", derived, false)) out.derived = derived;
    f.str(v, path, "asn_table", out.asn_table, false);
    if (!f.error.empty()) return;
    if (std::find(std::begin(kStatuses), std::end(kStatuses), out.status) == std::end(kStatuses))
        f.error = "field '" + path + ".status' is \"" + printable(out.status.substr(0, 40)) +
                  "\", not one of snapshot, fresh, cached, stale, failed";
}

}  // namespace

Expected<ParsedReport> parse_build_report(std::string_view json, std::string_view source) {
    auto fail = [&](Status s, const std::string& why) { return Error{s, std::string(source) + ": " + why}; };
    rapidjson::Document doc;
    doc.Parse<rapidjson::kParseIterativeFlag>(json.data(), json.size());
    if (doc.HasParseError())
        return fail(Status::corrupt, "malformed JSON at offset " + std::to_string(doc.GetErrorOffset()) + ": " +
                                         rapidjson::GetParseError_En(doc.GetParseError()));
    if (!doc.IsObject()) return fail(Status::corrupt, "not a build report: the JSON is not an object");
    const Value& root = doc;  // const iterators below (clang: no ambiguous reversed ==)
    const auto version = root.FindMember("report_version");
    if (version == root.MemberEnd()) {
        const auto gen = root.FindMember("generator");
        if (gen != root.MemberEnd() && gen->value.IsString() &&
            std::string_view(gen->value.GetString(), gen->value.GetStringLength()).starts_with("anondb "))
            return fail(Status::unsupported_version,
                        "a build report without report_version (written by " +
                            printable(std::string_view(gen->value.GetString(), gen->value.GetStringLength()).substr(0, 60)) +
                            "): reports before version " + std::to_string(kReportVersion) +
                            " lack fields the page needs; build again with --report");
        return fail(Status::corrupt, "not an anondb build report (no report_version)");
    }
    if (!version->value.IsInt() || version->value.GetInt() != kReportVersion)
        return fail(Status::unsupported_version, "report_version " + value_text(version->value) +
                                                     " is not supported (this anondb reads version " +
                                                     std::to_string(kReportVersion) + ")");
    ParsedReport r;
    r.source = std::string(source);
    Fields f;
    f.str(doc, "", "generator", r.generator);
    f.time(doc, "", "build_time", r.build_time);
    f.u64(doc, "", "data_version", r.data_version);
    f.str(doc, "", "out_path", r.out_path);
    f.u64(doc, "", "file_bytes", r.file_bytes);
    f.u64(doc, "", "input_entries", r.input_entries);
    f.u64(doc, "", "ranges", r.ranges);
    f.u64(doc, "", "answers", r.answers);
    f.u64(doc, "", "evidence", r.evidence);
    f.u64(doc, "", "stale_feeds", r.stale_feeds);
    f.u64(doc, "", "omitted_feeds", r.omitted_feeds);
    f.u64(doc, "", "derived_ranges", r.derived_ranges);
    f.u64(doc, "", "excluded_ranges", r.excluded_ranges);
    if (const Value* cats = f.object(doc, "", "categories")) {
        std::set<std::string> seen;
        for (const auto& m : cats->GetObject()) {
            ReportCategory c;
            c.name.assign(m.name.GetString(), m.name.GetStringLength());
            const std::string path = "categories." + printable(c.name);
            if (!seen.insert(c.name).second) return fail(Status::corrupt, "'" + path + "' appears twice");
            if (!m.value.IsObject()) return fail(Status::corrupt, "field '" + path + "' is not an object");
            f.u64(m.value, path, "ranges", c.ranges);
            f.u64(m.value, path, "ipv4_addresses", c.ipv4_addresses);
            f.u64(m.value, path, "ipv6_ranges", c.ipv6_ranges);
            r.categories.push_back(std::move(c));
        }
    }
    if (const Value* feeds = f.array(doc, "", "feeds")) {
        std::set<std::string> names;
        for (rapidjson::SizeType k = 0; k < feeds->Size() && f.error.empty(); ++k) {
            ReportFeed feed;
            read_feed(f, (*feeds)[k], "feeds[" + std::to_string(k) + "]", feed);
            if (f.error.empty() && !names.insert(feed.name).second)
                return fail(Status::corrupt, "feed '" + printable(feed.name) + "' appears twice");
            r.feeds.push_back(std::move(feed));
        }
    }
    if (!f.error.empty()) return fail(Status::corrupt, f.error);
    return r;
}

Expected<ParsedReport> read_build_report(const std::string& path) {
    constexpr std::uintmax_t kMaxReportBytes = 256u << 20;
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) return Error{Status::io, path + ": is a directory, not a build report"};
    const auto size = std::filesystem::file_size(path, ec);
    if (!ec && size > kMaxReportBytes)
        return Error{Status::io, path + ": " + std::to_string(size) + " bytes, too large for a build report (at most 256 MiB)"};
    errno = 0;
    std::ifstream in(path, std::ios::binary);
    if (!in) return Error{Status::io, path + ": " + (errno ? std::strerror(errno) : "cannot open")};
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) return Error{Status::io, path + ": read error"};
    return parse_build_report(text.str(), path);
}

// ---- changes ------------------------------------------------------------------------

ReportChanges diff_reports(const ParsedReport& previous, const ParsedReport& current) {
    ReportChanges out;
    std::map<std::string, const ReportFeed*> before;
    for (const auto& f : previous.feeds) before.emplace(f.name, &f);
    std::set<std::string> now;
    for (const auto& f : current.feeds) {
        now.insert(f.name);
        FeedChange c;
        c.name = f.name;
        c.status = f.status;
        c.accepted = f.accepted;
        c.rejected = f.rejected;
        const auto it = before.find(f.name);
        if (it == before.end()) {
            c.kind = FeedChange::Kind::added;
            out.feeds.push_back(std::move(c));
            continue;
        }
        const ReportFeed& p = *it->second;
        c.previous_status = p.status;
        c.previous_accepted = p.accepted;
        c.previous_rejected = p.rejected;
        if (p.status == f.status && p.accepted == f.accepted && p.rejected == f.rejected) {
            ++out.unchanged_feeds;
            continue;
        }
        out.feeds.push_back(std::move(c));
    }
    for (const auto& p : previous.feeds) {
        if (now.count(p.name)) continue;
        FeedChange c;
        c.name = p.name;
        c.kind = FeedChange::Kind::removed;
        c.previous_status = p.status;
        c.previous_accepted = p.accepted;
        c.previous_rejected = p.rejected;
        out.feeds.push_back(std::move(c));
    }
    std::map<std::string, std::uint64_t> prev_ranges;
    for (const auto& c : previous.categories) prev_ranges[c.name] = c.ranges;
    std::set<std::string> seen;
    for (const auto& c : current.categories) {
        seen.insert(c.name);
        const auto it = prev_ranges.find(c.name);
        out.categories.push_back({c.name, it == prev_ranges.end() ? 0 : it->second, c.ranges});
    }
    for (const auto& c : previous.categories)
        if (!seen.count(c.name)) out.categories.push_back({c.name, c.ranges, 0});
    out.ranges_delta = static_cast<std::int64_t>(current.ranges) - static_cast<std::int64_t>(previous.ranges);
    out.file_bytes_delta = static_cast<std::int64_t>(current.file_bytes) - static_cast<std::int64_t>(previous.file_bytes);
    return out;
}

// ---- the page -----------------------------------------------------------------------

namespace {

std::string num(std::uint64_t n) {
    std::string digits = std::to_string(n);
    std::string out;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i && (digits.size() - i) % 3 == 0) out += ',';
        out += digits[i];
    }
    return out;
}

std::string signed_num(std::int64_t n) {
    if (n == 0) return "0";
    const std::uint64_t mag = n < 0 ? 0 - static_cast<std::uint64_t>(n) : static_cast<std::uint64_t>(n);
    return (n < 0 ? "-" : "+") + num(mag);
}

std::string fixed(double v, int decimals) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    return buf;
}

std::string human_bytes(std::uint64_t n) {
    const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
    double v = static_cast<double>(n);
    int u = 0;
    while (v >= 1024 && u < 4) v /= 1024, ++u;
    return u == 0 ? num(n) + " bytes" : fixed(v, v < 10 ? 2 : 1) + " " + units[u];
}

std::string signed_bytes(std::int64_t n) {
    if (n == 0) return "0 bytes";
    const std::uint64_t mag = n < 0 ? 0 - static_cast<std::uint64_t>(n) : static_cast<std::uint64_t>(n);
    return (n < 0 ? "-" : "+") + human_bytes(mag);
}

std::string age_text(std::int64_t s) {
    if (s < 3600) return std::to_string(s / 60) + " min";
    if (s < 2 * 86400) return std::to_string(s / 3600) + " h";
    return std::to_string(s / 86400) + " d";
}

// How long before the build a copy was fetched.
std::string age_note(std::int64_t s) {
    if (s < 0) return "dated after the build time";
    return age_text(s) + " before the build";
}

// At most `n` bytes of `s` (not cutting a UTF-8 sequence), "…" when cut.
std::string clip(std::string_view s, std::size_t n) {
    if (s.size() <= n) return std::string(s);
    std::size_t cut = n;
    while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
    return std::string(s.substr(0, cut)) + "\xE2\x80\xA6";
}

std::string time_text(std::int64_t t) { return format_time(t); }

// Colours are the CSS's .status-* classes.
struct StatusStyle {
    const char* status;
    const char* label;  // shown, so the status does not rest on colour alone
};
constexpr StatusStyle kStatusStyles[] = {
    {"fresh", "\xE2\x9C\x93 FRESH"},       {"cached", "\xE2\x86\xBB CACHED"}, {"snapshot", "\xE2\x97\x86 SNAPSHOT"},
    {"stale", "\xE2\x9A\xA0 STALE"},       {"failed", "\xE2\x9C\x97 FAILED"},
};

const StatusStyle& style_of(std::string_view status) {
    for (const auto& s : kStatusStyles)
        if (status == s.status) return s;
    return kStatusStyles[4];
}

std::string badge(std::string_view status) {
    const auto& s = style_of(status);
    return "<span class=\"badge status-" + std::string(s.status) + "\">" + s.label + "</span>";
}

// Series colours (Tableau 10): the known categories keep theirs; others
// take the rest in order.
constexpr const char* kPalette[] = {"#6f42c1", "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                    "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"};
constexpr const char* kDashes[] = {"", "8 4", "2 3", "10 3 2 3", "4 4", "12 4"};

const char* kCss = R"css(
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 "DejaVu Sans", "Liberation Sans", Arial, Helvetica, sans-serif; color: #1f2328; background: #f6f8fa; }
main { max-width: 1220px; margin: 0 auto; padding: 20px 24px 40px; }
h1 { font-size: 24px; margin: 0 0 8px; }
h2 { font-size: 18px; margin: 0 0 10px; }
section, header.card { background: #fff; border: 1px solid #d0d7de; border-radius: 8px; padding: 16px 20px; margin: 0 0 18px; }
.overall { display: inline-block; font-weight: bold; padding: 4px 12px; border-radius: 6px; margin: 4px 0 12px; }
.overall.ok { color: #116329; background: #dafbe1; border: 1px solid #4ac26b; }
.overall.warn { color: #7d4e00; background: #fff1b8; border: 1px solid #d4a72c; }
dl.facts { display: grid; grid-template-columns: repeat(3, minmax(0, 1fr)); gap: 6px 24px; margin: 0; }
dl.facts div { min-width: 0; }
dl.facts dt { font-size: 12px; color: #59636e; text-transform: uppercase; letter-spacing: .03em; }
dl.facts dd { margin: 0; font-weight: 600; overflow-wrap: anywhere; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid #e1e4e8; vertical-align: top; }
th { background: #f3f5f7; font-size: 12px; text-transform: uppercase; letter-spacing: .03em; color: #424a53; position: sticky; top: 0; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.feed:nth-child(even) td { background: #fbfcfd; }
.name { font-weight: 600; overflow-wrap: anywhere; }
.url { font-size: 11px; color: #59636e; overflow-wrap: anywhere; max-width: 330px; }
td.when { white-space: nowrap; }
.zero { color: #8c959f; }
.badge { display: inline-block; font-size: 11px; font-weight: bold; padding: 1px 7px; border-radius: 10px; white-space: nowrap; border: 1px solid currentColor; }
.status-fresh { color: #116329; background: #dafbe1; }
.status-cached { color: #0a4a8f; background: #ddf4ff; }
.status-snapshot { color: #4b2a8a; background: #f0e8ff; }
.status-stale { color: #7d4e00; background: #fff1b8; }
.status-failed { color: #a40e26; background: #ffe1de; }
tr.row-stale td { background: #fffbea; }
tr.row-failed td { background: #fff5f4; }
ul.reasons { margin: 0; padding: 0; list-style: none; font-size: 12px; }
ul.reasons li { overflow-wrap: anywhere; }
.failure { font-size: 12px; color: #a40e26; overflow-wrap: anywhere; max-width: 300px; }
.role { font-size: 11px; color: #59636e; }
.plus { color: #116329; } .minus { color: #a40e26; }
.note { color: #59636e; }
.statuses .badge { margin-right: 6px; }
#category-chart { width: 100%; height: auto; display: block; }
#category-chart text { font-family: "DejaVu Sans", "Liberation Sans", Arial, Helvetica, sans-serif; fill: #1f2328; }
#category-chart .tick { font-size: 12px; fill: #424a53; }
#category-chart .axis-title { font-size: 13px; font-weight: bold; fill: #424a53; }
#category-chart .end-label { font-size: 12px; font-weight: bold; }
#category-chart .legend-label { font-size: 13px; }
#category-changes { max-width: 640px; }
#feed-changes td.name, #feed-changes td.st { white-space: nowrap; }
h3 { font-size: 14px; margin: 12px 0 6px; }
footer { font-size: 12px; color: #59636e; }
footer ul { margin: 4px 0; }
)css";

class Page {
public:
    std::string out;
    Page& raw(std::string_view s) {
        out += s;
        return *this;
    }
    Page& text(std::string_view s) {
        out += html_escape(s);
        return *this;
    }
};

std::string delta_cell(std::int64_t d) {
    const char* cls = d > 0 ? "n plus" : d < 0 ? "n minus" : "n zero";
    return std::string("<td class=\"") + cls + "\">" + signed_num(d) + "</td>";
}

// ---- header ----

void fact(Page& p, std::string_view label, std::string_view html_value) {
    p.raw("<div><dt>").raw(label).raw("</dt><dd>").raw(html_value).raw("</dd></div>");
}

std::map<std::string, std::size_t> status_counts(const ParsedReport& r) {
    std::map<std::string, std::size_t> n;
    for (const auto& f : r.feeds) ++n[f.status];
    return n;
}

std::string status_summary(const ParsedReport& r) {
    const auto counts = status_counts(r);
    std::string s = "<span class=\"statuses\">";
    for (const auto& st : kStatusStyles) {
        const auto it = counts.find(st.status);
        if (it == counts.end()) continue;
        s += "<span class=\"badge status-" + std::string(st.status) + "\">" + std::to_string(it->second) + " " +
             st.status + "</span>";
    }
    return s + "</span>";
}

void render_header(Page& p, const ParsedReport& cur, std::size_t builds) {
    p.raw("<header class=\"card\" id=\"summary\">\n<h1>anondb build report</h1>\n");
    const bool ok = cur.stale_feeds == 0 && cur.omitted_feeds == 0;
    if (ok) {
        p.raw("<p id=\"overall\" class=\"overall ok\" data-status=\"ok\">\xE2\x9C\x93 OK: published, no feed stale "
              "or missing</p>\n");
    } else {
        p.raw("<p id=\"overall\" class=\"overall warn\" data-status=\"stale\">\xE2\x9A\xA0 PUBLISHED WITH STALE FEEDS: ")
            .raw(num(cur.stale_feeds))
            .raw(" stale (from their last good copy), ")
            .raw(num(cur.omitted_feeds))
            .raw(" optional feeds left out</p>\n");
    }
    p.raw("<dl class=\"facts\">");
    fact(p, "Build time", "<span id=\"build-time\">" + html_escape(time_text(cur.build_time)) + "</span>");
    fact(p, "Data version", num(cur.data_version));
    fact(p, "Generator", html_escape(cur.generator));
    fact(p, "Database", html_escape(cur.out_path) + "<br>" + human_bytes(cur.file_bytes) + " (" + num(cur.file_bytes) +
                            " bytes)");
    fact(p, "Ranges published", num(cur.ranges) + " (" + num(cur.answers) + " distinct answers)");
    fact(p, "Input entries", num(cur.input_entries) + " (" + num(cur.evidence) + " evidence rows)");
    fact(p, "ASN expansion", num(cur.derived_ranges) + " ranges derived, " + num(cur.excluded_ranges) + " excluded");
    fact(p, "Feeds", num(cur.feeds.size()) + " " + status_summary(cur));
    fact(p, "Builds in this report", num(builds) + (builds == 1 ? " (no earlier report given)" : ""));
    p.raw("</dl>\n</header>\n");
}

// ---- changes ----

void render_changes(Page& p, const ParsedReport* prev, const ParsedReport& cur) {
    p.raw("<section id=\"changes\">\n");
    if (!prev) {
        p.raw("<h2>What changed since the previous build</h2>\n<p class=\"note\" id=\"no-previous\">Only one build "
              "report was given, so there is nothing to compare with. Give earlier reports too "
              "(<code>anondb report --out report.html NEW.json OLD.json ...</code> or <code>--history DIR</code>).</p>\n"
              "</section>\n");
        return;
    }
    const ReportChanges ch = diff_reports(*prev, cur);
    p.raw("<h2>What changed since the previous build (")
        .text(time_text(prev->build_time))
        .raw(")</h2>\n<p>Ranges published: ")
        .raw(num(prev->ranges))
        .raw(" \xE2\x86\x92 ")
        .raw(num(cur.ranges))
        .raw(" (<span id=\"ranges-delta\">")
        .raw(signed_num(ch.ranges_delta))
        .raw("</span>); database ")
        .raw(human_bytes(prev->file_bytes))
        .raw(" \xE2\x86\x92 ")
        .raw(human_bytes(cur.file_bytes))
        .raw(" (")
        .raw(signed_bytes(ch.file_bytes_delta))
        .raw("). ");
    std::size_t added = 0, removed = 0, changed = 0;
    for (const auto& c : ch.feeds) {
        added += c.kind == FeedChange::Kind::added;
        removed += c.kind == FeedChange::Kind::removed;
        changed += c.kind == FeedChange::Kind::changed;
    }
    p.raw("Feeds: ")
        .raw(num(changed))
        .raw(" changed, ")
        .raw(num(added))
        .raw(" added, ")
        .raw(num(removed))
        .raw(" removed, ")
        .raw(num(ch.unchanged_feeds))
        .raw(" unchanged.</p>\n<h3>Ranges per category</h3>\n"
             "<table id=\"category-changes\">\n<thead><tr><th>Category</th><th class=\"n\">Previous</th>"
             "<th class=\"n\">Now</th><th class=\"n\">Change</th></tr></thead>\n<tbody>\n");
    for (const auto& c : ch.categories) {
        p.raw("<tr class=\"category-change\" data-category=\"")
            .text(c.name)
            .raw("\" data-delta=\"")
            .raw(std::to_string(c.delta()))
            .raw("\"><td>")
            .text(c.name)
            .raw("</td><td class=\"n\">")
            .raw(num(c.previous))
            .raw("</td><td class=\"n\">")
            .raw(num(c.current))
            .raw("</td>")
            .raw(delta_cell(c.delta()))
            .raw("</tr>\n");
    }
    p.raw("</tbody>\n</table>\n<h3>Feeds</h3>\n");
    if (ch.feeds.empty()) {
        p.raw("<p class=\"note\" id=\"no-feed-changes\">No feed changed: every feed has the same status, accepted "
              "and rejected counts.</p>\n");
    } else {
        p.raw("<table id=\"feed-changes\">\n<thead><tr><th>Feed</th><th>Change</th><th>Status</th>"
              "<th class=\"n\">Accepted before</th><th class=\"n\">Accepted now</th><th class=\"n\">Change</th>"
              "<th class=\"n\">Rejected</th></tr></thead>\n<tbody>\n");
        for (const auto& c : ch.feeds) {
            const char* kind = c.kind == FeedChange::Kind::added     ? "added"
                               : c.kind == FeedChange::Kind::removed ? "removed"
                                                                     : "changed";
            std::string what = kind;
            if (c.kind == FeedChange::Kind::changed) {
                std::vector<std::string> parts;
                if (c.previous_status != c.status) parts.push_back("status");
                if (c.previous_accepted != c.accepted) parts.push_back("accepted");
                if (c.previous_rejected != c.rejected) parts.push_back("rejected");
                what.clear();
                for (const auto& s : parts) what += (what.empty() ? "" : ", ") + s;
            }
            const std::int64_t delta = c.kind == FeedChange::Kind::added     ? static_cast<std::int64_t>(c.accepted)
                                       : c.kind == FeedChange::Kind::removed ? -static_cast<std::int64_t>(c.previous_accepted)
                                                                             : c.accepted_delta();
            p.raw("<tr class=\"feed-change ")
                .raw(kind)
                .raw("\" data-feed=\"")
                .text(c.name)
                .raw("\" data-kind=\"")
                .raw(kind)
                .raw("\" data-delta=\"")
                .raw(std::to_string(delta))
                .raw("\"><td class=\"name\">")
                .text(c.name)
                .raw("</td><td>")
                .raw(what)
                .raw("</td><td class=\"st\">");
            if (c.kind == FeedChange::Kind::added) p.raw("new: ").raw(badge(c.status));
            else if (c.kind == FeedChange::Kind::removed) p.raw("was ").raw(badge(c.previous_status)).raw(" (gone)");
            else if (c.previous_status != c.status) p.raw(badge(c.previous_status)).raw(" \xE2\x86\x92 ").raw(badge(c.status));
            else p.raw(badge(c.status));
            p.raw("</td><td class=\"n\">")
                .raw(c.kind == FeedChange::Kind::added ? "\xE2\x80\x94" : num(c.previous_accepted))
                .raw("</td><td class=\"n\">")
                .raw(c.kind == FeedChange::Kind::removed ? "\xE2\x80\x94" : num(c.accepted))
                .raw("</td>")
                .raw(delta_cell(delta))
                .raw("<td class=\"n\">");
            if (c.kind == FeedChange::Kind::changed && c.previous_rejected != c.rejected)
                p.raw(num(c.previous_rejected)).raw(" \xE2\x86\x92 ").raw(num(c.rejected));
            else p.raw(num(c.kind == FeedChange::Kind::removed ? c.previous_rejected : c.rejected));
            p.raw("</td></tr>\n");
        }
        p.raw("</tbody>\n</table>\n");
    }
    p.raw("</section>\n");
}

// ---- chart ----

std::string tick_label(int decade) {
    static const char* kSuffix[] = {"", "k", "M", "G", "T", "P", "E"};
    if (decade < 0) return "0";
    std::string s = "1";
    for (int k = 0; k < decade % 3; ++k) s += '0';
    return s + kSuffix[std::min(decade / 3, 6)];
}

void render_chart(Page& p, const std::vector<const ParsedReport*>& builds) {
    // The series: the newest report's categories first, then any only older ones name.
    std::vector<std::string> names;
    for (auto it = builds.rbegin(); it != builds.rend(); ++it)
        for (const auto& c : (*it)->categories)
            if (std::find(names.begin(), names.end(), c.name) == names.end()) names.push_back(c.name);
    const std::size_t n = builds.size();
    auto value_of = [&](std::size_t b, const std::string& name) -> std::optional<std::uint64_t> {
        for (const auto& c : builds[b]->categories)
            if (c.name == name) return c.ranges;
        return std::nullopt;
    };
    std::uint64_t max_v = 0, min_pos = 0;
    for (std::size_t b = 0; b < n; ++b)
        for (const auto& name : names)
            if (auto v = value_of(b, name)) {
                max_v = std::max(max_v, *v);
                if (*v > 0 && (min_pos == 0 || *v < min_pos)) min_pos = *v;
            }
    int lo = 0, hi = 1;
    if (max_v > 0) {
        lo = static_cast<int>(std::floor(std::log10(static_cast<double>(min_pos))));
        hi = static_cast<int>(std::ceil(std::log10(static_cast<double>(max_v))));
        if (hi <= lo) hi = lo + 1;
    }

    // Geometry.
    const bool rotate = n > 7;
    const double W = 1120, left = 78, right = 200, top = 24;
    const double plot_h = 330, x_axis_h = rotate ? 92 : 52;
    const std::size_t legend_cols = 3;
    const std::size_t legend_rows = (names.size() + legend_cols - 1) / legend_cols;
    const double legend_h = 14 + 24.0 * static_cast<double>(legend_rows);
    const double H = top + plot_h + x_axis_h + legend_h;
    const double x0 = left, x1 = W - right, y0 = top, y1 = top + plot_h;
    const double zero_gap = 26;  // the band between 0 (the bottom line) and 10^lo
    const double pad = 24;
    auto x_of = [&](std::size_t i) {
        if (n <= 1) return (x0 + x1) / 2;
        return x0 + pad + static_cast<double>(i) * (x1 - x0 - 2 * pad) / static_cast<double>(n - 1);
    };
    auto y_of = [&](std::uint64_t v) {
        if (v == 0) return y1;
        const double t = (std::log10(static_cast<double>(v)) - lo) / (hi - lo);
        return (y1 - zero_gap) - t * (y1 - zero_gap - y0);
    };
    auto f1 = [](double v) { return fixed(v, 1); };

    p.raw("<section id=\"chart-section\">\n<h2>Ranges per category over ")
        .raw(n == 1 ? std::string("this build") : "the last " + num(n) + " builds")
        .raw("</h2>\n<p class=\"note\">Merged ranges of the published database that carry each category, one point "
             "per build (logarithmic scale, so small categories stay visible; 0 is the bottom line). A range with "
             "several categories counts in each.</p>\n");
    p.raw("<svg id=\"category-chart\" viewBox=\"0 0 ")
        .raw(f1(W))
        .raw(" ")
        .raw(f1(H))
        .raw("\" width=\"")
        .raw(f1(W))
        .raw("\" height=\"")
        .raw(f1(H))
        .raw("\" role=\"img\" aria-labelledby=\"chart-title\" data-builds=\"")
        .raw(std::to_string(n))
        .raw("\">\n<title id=\"chart-title\">Ranges per category over ")
        .raw(num(n))
        .raw(n == 1 ? " build" : " builds")
        .raw("</title>\n");
    p.raw("<rect x=\"0\" y=\"0\" width=\"").raw(f1(W)).raw("\" height=\"").raw(f1(H)).raw("\" fill=\"#ffffff\"/>\n");
    // Grid and y ticks: 0, then each decade, with light lines at 2x and 5x.
    p.raw("<g class=\"y-axis\">\n");
    for (int d = lo; d <= hi; ++d) {
        const double y = (y1 - zero_gap) - (static_cast<double>(d - lo) / (hi - lo)) * (y1 - zero_gap - y0);
        p.raw("<line x1=\"").raw(f1(x0)).raw("\" x2=\"").raw(f1(x1)).raw("\" y1=\"").raw(f1(y)).raw("\" y2=\"").raw(f1(y))
            .raw("\" stroke=\"#d0d7de\" stroke-width=\"1\"/>\n");
        p.raw("<text class=\"tick\" x=\"").raw(f1(x0 - 8)).raw("\" y=\"").raw(f1(y + 4))
            .raw("\" text-anchor=\"end\">").raw(tick_label(d)).raw("</text>\n");
        if (d == hi) break;
        for (const double m : {2.0, 5.0}) {
            const double ym = (y1 - zero_gap) - ((static_cast<double>(d - lo) + std::log10(m)) / (hi - lo)) * (y1 - zero_gap - y0);
            p.raw("<line x1=\"").raw(f1(x0)).raw("\" x2=\"").raw(f1(x1)).raw("\" y1=\"").raw(f1(ym)).raw("\" y2=\"")
                .raw(f1(ym)).raw("\" stroke=\"#eef1f4\" stroke-width=\"1\"/>\n");
        }
    }
    p.raw("<line x1=\"").raw(f1(x0)).raw("\" x2=\"").raw(f1(x1)).raw("\" y1=\"").raw(f1(y1)).raw("\" y2=\"").raw(f1(y1))
        .raw("\" stroke=\"#57606a\" stroke-width=\"1.5\"/>\n");
    p.raw("<text class=\"tick\" x=\"").raw(f1(x0 - 8)).raw("\" y=\"").raw(f1(y1 + 4)).raw("\" text-anchor=\"end\">0</text>\n");
    p.raw("<line x1=\"").raw(f1(x0)).raw("\" x2=\"").raw(f1(x0)).raw("\" y1=\"").raw(f1(y0)).raw("\" y2=\"").raw(f1(y1))
        .raw("\" stroke=\"#57606a\" stroke-width=\"1.5\"/>\n");
    p.raw("<text class=\"axis-title\" transform=\"translate(18 ").raw(f1((y0 + y1) / 2))
        .raw(") rotate(-90)\" text-anchor=\"middle\">ranges (log scale)</text>\n</g>\n");

    // X axis: one tick per build, labels thinned to about 16 (the newest always labelled).
    std::set<std::string> days;
    for (const auto* b : builds) days.insert(time_text(b->build_time).substr(0, 10));
    const bool by_day = days.size() == n;
    const std::size_t step = std::max<std::size_t>(1, (n + 15) / 16);
    p.raw("<g class=\"x-axis\">\n");
    for (std::size_t i = 0; i < n; ++i) {
        const double x = x_of(i);
        p.raw("<line x1=\"").raw(f1(x)).raw("\" x2=\"").raw(f1(x)).raw("\" y1=\"").raw(f1(y1)).raw("\" y2=\"")
            .raw(f1(y1 + 5)).raw("\" stroke=\"#57606a\"/>\n");
        if ((n - 1 - i) % step != 0) continue;
        const std::string iso = time_text(builds[i]->build_time);
        const std::string label = by_day ? iso.substr(0, 10) : iso.substr(5, 5) + " " + iso.substr(11, 5);
        if (rotate)
            p.raw("<text class=\"tick x-label\" transform=\"translate(").raw(f1(x + 4)).raw(" ").raw(f1(y1 + 16))
                .raw(") rotate(-40)\" text-anchor=\"end\">").text(label).raw("</text>\n");
        else
            p.raw("<text class=\"tick x-label\" x=\"").raw(f1(x)).raw("\" y=\"").raw(f1(y1 + 20))
                .raw("\" text-anchor=\"middle\">").text(label).raw("</text>\n");
    }
    p.raw("<text class=\"axis-title\" x=\"").raw(f1((x0 + x1) / 2)).raw("\" y=\"").raw(f1(y1 + x_axis_h - 10))
        .raw("\" text-anchor=\"middle\">build (build time, UTC)</text>\n</g>\n");

    // The series, then their end labels pushed apart so that none overlap.
    struct EndLabel {
        double y_point, y;
        std::string text;
        const char* color;
    };
    std::vector<EndLabel> labels;
    for (std::size_t s = 0; s < names.size(); ++s) {
        const std::string& name = names[s];
        std::size_t known = 0;
        while (known < std::size(kCategoryNames) && kCategoryNames[known].name != name) ++known;
        const char* color = known < std::size(kCategoryNames)
                                ? kPalette[known]
                                : kPalette[std::size(kCategoryNames) + s % (std::size(kPalette) - std::size(kCategoryNames))];
        const char* dash = kDashes[s % std::size(kDashes)];
        p.raw("<g class=\"series\" data-category=\"").text(name).raw("\" stroke=\"").raw(color).raw("\" fill=\"")
            .raw(color).raw("\">\n");
        std::string points;
        std::optional<std::uint64_t> last;
        double last_y = 0;
        for (std::size_t b = 0; b < n; ++b) {
            const auto v = value_of(b, name);
            if (!v) continue;
            points += (points.empty() ? "" : " ") + f1(x_of(b)) + "," + f1(y_of(*v));
            last = v;
            last_y = y_of(*v);
        }
        if (n > 1 && !points.empty())
            p.raw("<polyline class=\"line\" fill=\"none\" stroke-width=\"2.2\"")
                .raw(*dash ? std::string(" stroke-dasharray=\"") + dash + "\"" : std::string())
                .raw(" points=\"").raw(points).raw("\"/>\n");
        for (std::size_t b = 0; b < n; ++b) {
            const auto v = value_of(b, name);
            if (!v) continue;
            p.raw("<circle class=\"point\" cx=\"").raw(f1(x_of(b))).raw("\" cy=\"").raw(f1(y_of(*v)))
                .raw("\" r=\"").raw(n > 40 ? "2.5" : "4").raw("\" stroke=\"#ffffff\" stroke-width=\"1\" data-value=\"")
                .raw(std::to_string(*v)).raw("\" data-build=\"").text(time_text(builds[b]->build_time))
                .raw("\"><title>").text(name).raw(", ").text(time_text(builds[b]->build_time)).raw(": ")
                .raw(num(*v)).raw(" ranges</title></circle>\n");
        }
        p.raw("</g>\n");
        if (last) labels.push_back({last_y, last_y, name + "  " + num(*last), color});
    }
    std::sort(labels.begin(), labels.end(), [](const EndLabel& a, const EndLabel& b) { return a.y < b.y; });
    constexpr double kLabelGap = 15;
    for (std::size_t k = 1; k < labels.size(); ++k) labels[k].y = std::max(labels[k].y, labels[k - 1].y + kLabelGap);
    if (!labels.empty() && labels.back().y > y1 + 6) {
        const double shift = labels.back().y - (y1 + 6);
        for (auto& l : labels) l.y -= shift;
    }
    const double label_x = x_of(n - 1) + 12;
    p.raw("<g class=\"end-labels\">\n");
    for (const auto& l : labels) {
        if (std::abs(l.y - l.y_point) > 1)
            p.raw("<line x1=\"").raw(f1(label_x - 9)).raw("\" y1=\"").raw(f1(l.y_point)).raw("\" x2=\"").raw(f1(label_x - 2))
                .raw("\" y2=\"").raw(f1(l.y)).raw("\" stroke=\"").raw(l.color).raw("\" stroke-width=\"1\"/>\n");
        p.raw("<text class=\"end-label\" x=\"").raw(f1(label_x)).raw("\" y=\"").raw(f1(l.y + 4)).raw("\" style=\"fill:")
            .raw(l.color).raw("\">").text(l.text).raw("</text>\n");
    }
    p.raw("</g>\n");

    // Legend: colour, line style, name and the newest value.
    p.raw("<g class=\"legend\" id=\"chart-legend\">\n");
    const double ly0 = y1 + x_axis_h + 10;
    for (std::size_t s = 0; s < names.size(); ++s) {
        const double lx = x0 + static_cast<double>(s % legend_cols) * 300;
        const double ly = ly0 + static_cast<double>(s / legend_cols) * 24;
        std::size_t known = 0;
        while (known < std::size(kCategoryNames) && kCategoryNames[known].name != names[s]) ++known;
        const char* color = known < std::size(kCategoryNames)
                                ? kPalette[known]
                                : kPalette[std::size(kCategoryNames) + s % (std::size(kPalette) - std::size(kCategoryNames))];
        const char* dash = kDashes[s % std::size(kDashes)];
        const auto v = value_of(n - 1, names[s]);
        p.raw("<g class=\"legend-item\" data-category=\"").text(names[s]).raw("\">");
        p.raw("<line x1=\"").raw(f1(lx)).raw("\" x2=\"").raw(f1(lx + 34)).raw("\" y1=\"").raw(f1(ly)).raw("\" y2=\"")
            .raw(f1(ly)).raw("\" stroke=\"").raw(color).raw("\" stroke-width=\"3\"")
            .raw(*dash ? std::string(" stroke-dasharray=\"") + dash + "\"" : std::string()).raw("/>");
        p.raw("<circle cx=\"").raw(f1(lx + 17)).raw("\" cy=\"").raw(f1(ly)).raw("\" r=\"4\" fill=\"").raw(color).raw("\"/>");
        p.raw("<text class=\"legend-label\" x=\"").raw(f1(lx + 42)).raw("\" y=\"").raw(f1(ly + 5)).raw("\">").text(names[s])
            .raw(": ").raw(v ? num(*v) : std::string("\xE2\x80\x94")).raw("</text></g>\n");
    }
    p.raw("</g>\n</svg>\n");

    // The newest build's numbers per category, as a table.
    const ParsedReport& cur = *builds.back();
    p.raw("<table id=\"category-counts\">\n<thead><tr><th>Category</th><th class=\"n\">Ranges</th>"
          "<th class=\"n\">IPv4 addresses</th><th class=\"n\">IPv6 ranges</th>")
        .raw(n > 1 ? "<th class=\"n\">Lowest in chart</th><th class=\"n\">Highest in chart</th>" : "")
        .raw("</tr></thead>\n<tbody>\n");
    for (const auto& c : cur.categories) {
        p.raw("<tr data-category=\"").text(c.name).raw("\"><td>").text(c.name).raw("</td><td class=\"n\">")
            .raw(num(c.ranges)).raw("</td><td class=\"n\">").raw(num(c.ipv4_addresses)).raw("</td><td class=\"n\">")
            .raw(num(c.ipv6_ranges)).raw("</td>");
        if (n > 1) {
            std::uint64_t mn = c.ranges, mx = c.ranges;
            for (std::size_t b = 0; b < n; ++b)
                if (auto v = value_of(b, c.name)) mn = std::min(mn, *v), mx = std::max(mx, *v);
            p.raw("<td class=\"n\">").raw(num(mn)).raw("</td><td class=\"n\">").raw(num(mx)).raw("</td>");
        }
        p.raw("</tr>\n");
    }
    p.raw("</tbody>\n</table>\n</section>\n");
}

// ---- feeds ----

std::string role_note(const ReportFeed& f) {
    if (f.role == "asn-table") return "ASN table";
    if (f.role == "exclusions") return "exclusion list";
    if (f.role == "asn-list") return "ASN list" + (f.asn_table.empty() ? std::string() : " via " + html_escape(f.asn_table));
    if (f.role == "ranges") return {};
    return html_escape(f.role);
}

void render_feeds(Page& p, const ParsedReport& cur) {
    p.raw("<section id=\"feeds-section\">\n<h2>Feeds (").raw(num(cur.feeds.size())).raw(")</h2>\n<p>")
        .raw(status_summary(cur))
        .raw("</p>\n<table id=\"feeds\">\n<thead><tr><th>Feed</th><th>Category</th><th>Status</th>"
             "<th class=\"n\">Accepted</th><th class=\"n\">Rejected</th><th>Top reject reasons</th>"
             "<th>Fetched</th><th>Failure</th></tr></thead>\n<tbody>\n");
    for (const auto& f : cur.feeds) {
        const std::string st = style_of(f.status).status;
        p.raw("<tr class=\"feed row-").raw(st).raw("\" data-feed=\"").text(f.name).raw("\" data-status=\"").raw(st)
            .raw("\" data-accepted=\"").raw(std::to_string(f.accepted)).raw("\" data-rejected=\"")
            .raw(std::to_string(f.rejected)).raw("\">");
        p.raw("<td><div class=\"name\">").text(f.name).raw("</div><div class=\"url\">").text(clip(f.url, 200))
            .raw("</div></td>");
        // Category, and the role when it is not a plain range list.
        std::string cats;
        for (const auto& c : f.categories) cats += (cats.empty() ? "" : ", ") + html_escape(c);
        const std::string role = role_note(f);
        p.raw("<td>").raw(cats.empty() ? "<span class=\"zero\">\xE2\x80\x94</span>" : cats);
        if (!role.empty()) p.raw("<div class=\"role\">").raw(role).raw("</div>");
        p.raw("</td><td>").raw(badge(f.status)).raw("</td>");
        p.raw("<td class=\"n\">").raw(num(f.accepted));
        if (f.role == "asn-list") {
            p.raw("<div class=\"role\">ASNs");
            if (f.derived) p.raw(" \xE2\x86\x92 ").raw(num(*f.derived)).raw(" ranges");
            p.raw("</div>");
        } else if (f.role == "asn-table") {
            p.raw("<div class=\"role\">rows</div>");
        } else if (f.role == "exclusions") {
            p.raw("<div class=\"role\">rules</div>");
        }
        p.raw("</td><td class=\"n").raw(f.rejected ? "" : " zero").raw("\">").raw(num(f.rejected)).raw("</td><td>");
        if (f.rejects_by_reason.empty()) {
            p.raw("<span class=\"zero\">none</span>");
        } else {
            auto reasons = f.rejects_by_reason;
            std::stable_sort(reasons.begin(), reasons.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
            p.raw("<ul class=\"reasons\">");
            constexpr std::size_t kTop = 3;
            for (std::size_t k = 0; k < reasons.size() && k < kTop; ++k)
                p.raw("<li class=\"reason\"><b>").raw(num(reasons[k].second)).raw("</b> \xC3\x97 ")
                    .text(clip(reasons[k].first, 160)).raw("</li>");
            if (reasons.size() > kTop) {
                std::uint64_t rest = 0;
                for (std::size_t k = kTop; k < reasons.size(); ++k) rest += reasons[k].second;
                p.raw("<li class=\"note\">and ").raw(num(reasons.size() - kTop)).raw(" more reasons (")
                    .raw(num(rest)).raw(" lines)</li>");
            }
            p.raw("</ul>");
        }
        p.raw("</td><td class=\"when\">");
        if (f.fetched_at) {
            const std::string iso = time_text(*f.fetched_at);
            p.raw("<span class=\"fetched\">").text(iso.substr(0, 10) + " " + iso.substr(11, 5) + "Z")
                .raw("</span><div class=\"role\">").raw(age_note(f.age_seconds)).raw("</div>");
        } else {
            p.raw("<span class=\"zero\">\xE2\x80\x94</span>");
        }
        p.raw("</td><td>");
        if (!f.failure.empty()) p.raw("<div class=\"failure\">").text(clip(f.failure, 600)).raw("</div>");
        p.raw("</td></tr>\n");
    }
    p.raw("</tbody>\n</table>\n</section>\n");
}

}  // namespace

std::string render_report_html(std::span<const ParsedReport> builds) {
    std::vector<const ParsedReport*> order;
    for (const auto& b : builds) order.push_back(&b);
    std::stable_sort(order.begin(), order.end(),
                     [](const ParsedReport* a, const ParsedReport* b) { return a->build_time < b->build_time; });
    Page p;
    p.raw("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          // Nothing may be loaded: the page is whole as it is.
          "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>anondb build report");
    if (!order.empty()) p.raw(" \xE2\x80\x94 ").text(time_text(order.back()->build_time));
    p.raw("</title>\n<style>").raw(kCss).raw("</style>\n</head>\n<body>\n<main>\n");
    if (order.empty()) {
        p.raw("<header class=\"card\" id=\"summary\"><h1>anondb build report</h1><p>No build report given.</p></header>\n");
    } else {
        const ParsedReport& cur = *order.back();
        const ParsedReport* prev = order.size() > 1 ? order[order.size() - 2] : nullptr;
        render_header(p, cur, order.size());
        render_changes(p, prev, cur);
        render_chart(p, order);
        render_feeds(p, cur);
        p.raw("<footer>\n<p>Made by <code>anondb report</code> from ").raw(num(order.size()))
            .raw(order.size() == 1 ? " build report" : " build reports").raw(", newest first:</p>\n<ul>\n");
        for (auto it = order.rbegin(); it != order.rend(); ++it)
            p.raw("<li>").text(time_text((*it)->build_time)).raw(": ").text((*it)->source).raw("</li>\n");
        p.raw("</ul>\n</footer>\n");
    }
    p.raw("</main>\n</body>\n</html>\n");
    return std::move(p.out);
}

}  // namespace anondb::builder
