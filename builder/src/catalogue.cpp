#include "anondb/builder/catalogue.hpp"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "anondb/category.hpp"
#include "anondb/sources/asn.hpp"
#include "anondb/sources/exclusions.hpp"
#include "anondb/sources/parse.hpp"
#include "anondb/utf8.hpp"

namespace anondb::builder {
namespace {

constexpr std::string_view kFeedKeys[] = {
    "name",     "url",           "format",      "category",  "provider",    "license",        "snapshot",
    "snapshot_date", "description", "optional", "max_bytes", "min_entries", "min_fraction", "max_breadth_v4",
    "max_breadth_v6", "asn_table", "max_line_bytes", "max_entries"};

constexpr std::string_view kTopLevelKeys[] = {"version", "feeds", "max_total_entries"};

// A whole number, optionally with a binary size suffix (KiB, MiB, GiB).
std::optional<std::uint64_t> parse_count(std::string_view s, bool allow_suffix) {
    std::uint64_t mult = 1;
    for (auto [suffix, m] : {std::pair{std::string_view("KiB"), 1ull << 10}, {"MiB", 1ull << 20}, {"GiB", 1ull << 30}}) {
        if (allow_suffix && s.size() > suffix.size() && s.substr(s.size() - suffix.size()) == suffix) {
            mult = m;
            s.remove_suffix(suffix.size());
            break;
        }
    }
    if (s.empty() || s.size() > 12) return std::nullopt;
    std::uint64_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return std::nullopt;
        v = v * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return v * mult;
}

// Errors carry "PATH:LINE: " so an editor can jump to the spot.
Error at(const std::string& path, const YAML::Mark& mark, const std::string& what) {
    const int line = mark.line >= 0 ? mark.line + 1 : 0;
    return make_error(Status::invalid_argument, path + ":" + std::to_string(line) + ": " + what);
}

std::optional<std::string> scalar(const YAML::Node& n) {
    if (!n.IsScalar()) return std::nullopt;
    return n.Scalar();
}

bool valid_name(std::string_view s) {
    if (s.empty() || s.size() > 64) return false;
    return std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
    });
}

bool valid_url(std::string_view s) {
    for (std::string_view scheme : {"https://", "http://", "file://"})
        if (s.substr(0, scheme.size()) == scheme && s.size() > scheme.size()) return true;
    return false;
}

std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

Expected<FeedConfig> parse_feed(const YAML::Node& node, const std::string& path, const std::filesystem::path& base) {
    FeedConfig f;
    f.line = node.Mark().line + 1;
    if (!node.IsMap()) return at(path, node.Mark(), "a feed must be a mapping of keys");
    // The name first, so every later message can say which feed.
    const YAML::Node name = node["name"];
    if (!name) return at(path, node.Mark(), "feed without a 'name'");
    auto name_text = scalar(name);
    if (!name_text || !valid_name(*name_text))
        return at(path, name.Mark(),
                  "feed name " + (name_text ? "'" + *name_text + "' " : std::string()) +
                      "must be 1-64 characters of a-z 0-9 . _ -");
    f.name = *name_text;
    const std::string who = "feed '" + f.name + "': ";

    std::set<std::string> seen;
    for (const auto& kv : node) {
        const std::string key = kv.first.as<std::string>("");
        if (std::find(std::begin(kFeedKeys), std::end(kFeedKeys), key) == std::end(kFeedKeys))
            return at(path, kv.first.Mark(), who + "unknown key '" + key + "'");
        // yaml-cpp keeps the first of two equal keys; a second 'url' is a mistake, not an override.
        if (!seen.insert(key).second) return at(path, kv.first.Mark(), who + "duplicate key '" + key + "'");
    }
    auto required = [&](const char* key) -> Expected<std::string> {
        const YAML::Node n = node[key];
        if (!n) return at(path, node.Mark(), who + "missing '" + key + "'");
        auto s = scalar(n);
        if (!s || s->empty()) return at(path, n.Mark(), who + "'" + key + "' must be a non-empty string");
        return *s;
    };
    auto optional = [&](const char* key, std::string& out) -> Error {
        const YAML::Node n = node[key];
        if (!n) return {};
        auto s = scalar(n);
        if (!s) return at(path, n.Mark(), who + "'" + key + "' must be a string");
        // Provider names reach MMDB utf8_string values, JSON and SQL.
        if (!valid_utf8(*s)) return at(path, n.Mark(), who + "'" + key + "' is not valid UTF-8");
        out = *s;
        return {};
    };

    auto url = required("url");
    if (!url) return url.error();
    if (!valid_url(*url)) return at(path, node["url"].Mark(), who + "url must start with https://, http:// or file://");
    f.url = *url;
    f.fetch_url = f.url;
    if (f.url.starts_with("file://") && f.url[7] != '/') {
        std::error_code ec;
        f.fetch_url = "file://" + std::filesystem::absolute(base / f.url.substr(7), ec).lexically_normal().string();
    }

    auto format = required("format");
    if (!format) return format.error();
    const auto role = role_of_format(*format);
    if (!role) {
        std::string known;
        for (const auto& fi : sources::formats()) known += (known.empty() ? "" : ", ") + std::string(fi.name);
        for (const auto& fi : sources::asn_list_formats()) known += ", " + std::string(fi.name);
        for (const auto& fi : sources::asn_table_formats()) known += ", " + std::string(fi.name);
        known += ", " + std::string(sources::kExclusionsFormat);
        return at(path, node["format"].Mark(), who + "unknown format '" + *format + "' (known: " + known + ")");
    }
    f.format = *format;
    f.role = *role;
    const bool publishes = f.role == format::FeedRole::ranges || f.role == format::FeedRole::asn_list;

    if (auto e = optional("asn_table", f.asn_table); e.status != Status::ok) return e;
    if (f.role == format::FeedRole::asn_list && f.asn_table.empty())
        return at(path, node.Mark(), who + "an ASN list needs 'asn_table': the name of the ASN table feed to expand through");
    if (f.role != format::FeedRole::asn_list && node["asn_table"])
        return at(path, node["asn_table"].Mark(), who + "'asn_table' is only for ASN list formats");

    const YAML::Node cat = node["category"];
    if (!publishes) {
        if (cat || node["provider"])
            return at(path, (cat ? cat : node["provider"]).Mark(),
                      who + "an ASN table or exclusion list publishes nothing itself: no 'category' or 'provider'");
    } else if (!cat) {
        return at(path, node.Mark(), who + "missing 'category'");
    }
    std::vector<YAML::Node> cats;
    if (cat && cat.IsSequence()) {
        for (const auto& c : cat) cats.push_back(c);
    } else if (cat) {
        cats.push_back(cat);
    }
    if (cat && cats.empty()) return at(path, cat.Mark(), who + "'category' is empty");
    for (const auto& c : cats) {
        auto s = scalar(c);
        auto bit = s ? category_from_name(*s) : std::nullopt;
        if (!bit) {
            std::string known;
            for (const auto& cn : kCategoryNames) known += (known.empty() ? "" : ", ") + std::string(cn.name);
            return at(path, c.Mark(), who + "unknown category '" + s.value_or("?") + "' (known: " + known + ")");
        }
        f.categories |= *bit;
    }

    for (auto [key, out] : {std::pair{"provider", &f.provider}, {"license", &f.license},
                            {"description", &f.description}, {"snapshot", &f.snapshot}})
        if (auto e = optional(key, *out); e.status != Status::ok) return e;
    if (f.license.empty()) return at(path, node.Mark(), who + "missing 'license' (license or terms, with attribution)");
    if (!f.snapshot.empty()) {
        // A snapshot is bundled with the repository, or (for data too large
        // to bundle, such as the IPFire location database) a file a Debian
        // package installs under /usr/share/.
        const bool system_file = f.snapshot.starts_with("/usr/share/");
        if ((std::filesystem::path(f.snapshot).is_absolute() && !system_file) || f.snapshot.find("..") != std::string::npos)
            return at(path, node["snapshot"].Mark(),
                      who + "snapshot must be a relative path inside the repository or a file under /usr/share/");
        f.snapshot_path = system_file ? f.snapshot : (base / f.snapshot).string();
    }
    // Fetch checks and guards.
    f.guard = default_guard_policy(f.categories);
    std::string text;
    if (auto e = optional("optional", text); e.status != Status::ok) return e;
    if (!text.empty()) {
        if (text != "true" && text != "false") return at(path, node["optional"].Mark(), who + "optional must be true or false");
        f.optional = text == "true";
    }
    struct CountKey {
        const char* key;
        bool suffix;
        std::uint64_t min, max;
        std::uint64_t* out;
        const char* hint;
    };
    std::uint64_t v4_limit = f.guard.broadest_v4, v6_limit = f.guard.broadest_v6;
    if (node["max_line_bytes"] && !sources::line_based_format(f.format))
        return at(path, node["max_line_bytes"].Mark(),
                  who + "'max_line_bytes' is only for line formats; '" + f.format + "' is read as a whole document");
    for (const CountKey& k : {CountKey{"max_bytes", true, 1, 1ull << 32, &f.max_bytes, "bytes, e.g. 67108864 or 64MiB, at most 4GiB"},
                              CountKey{"max_line_bytes", true, 1, 1ull << 32, &f.max_line_bytes,
                                       "bytes, e.g. 65536 or 64KiB, at most 4GiB"},
                              CountKey{"min_entries", false, 0, 1ull << 32, &f.min_entries, "a whole number"},
                              CountKey{"max_entries", false, 1, kMaxEntriesLimit, &f.max_entries,
                                       "a whole number from 1 to 4294967295"},
                              CountKey{"max_breadth_v4", false, 0, 32, &v4_limit, "a prefix length 0-32"},
                              CountKey{"max_breadth_v6", false, 0, 128, &v6_limit, "a prefix length 0-128"}}) {
        if (!node[k.key]) continue;
        text.clear();
        if (auto e = optional(k.key, text); e.status != Status::ok) return e;
        auto v = parse_count(text, k.suffix);  // an empty value is no number either
        if (!v || *v < k.min || *v > k.max)
            return at(path, node[k.key].Mark(), who + k.key + " must be " + k.hint);
        *k.out = *v;
    }
    if (f.min_entries > f.max_entries)
        return at(path, (node["max_entries"] ? node["max_entries"] : node["min_entries"]).Mark(),
                  who + "min_entries " + std::to_string(f.min_entries) + " is above max_entries " +
                      std::to_string(f.max_entries));
    f.guard_set = node["max_breadth_v4"] || node["max_breadth_v6"];
    f.guard.broadest_v4 = static_cast<unsigned>(v4_limit);
    f.guard.broadest_v6 = static_cast<unsigned>(v6_limit);
    text.clear();
    if (auto e = optional("min_fraction", text); e.status != Status::ok) return e;
    if (!text.empty()) {
        char* end = nullptr;
        const double v = std::strtod(text.c_str(), &end);
        if (end != text.c_str() + text.size() || !(v >= 0.0 && v <= 1.0))
            return at(path, node["min_fraction"].Mark(), who + "min_fraction must be a number from 0 to 1");
        f.min_fraction = v;
    }

    std::string date;
    if (auto e = optional("snapshot_date", date); e.status != Status::ok) return e;
    if (!date.empty()) {
        f.snapshot_date = parse_time(date);
        if (!f.snapshot_date)
            return at(path, node["snapshot_date"].Mark(), who + "snapshot_date must be YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ");
    }
    return f;
}

}  // namespace

sources::ParseOptions parse_options(const FeedConfig& feed) {
    sources::ParseOptions o;
    o.max_line_bytes = static_cast<std::size_t>(feed.max_line_bytes);
    o.max_entries = feed.max_entries;
    return o;
}

std::optional<format::FeedRole> role_of_format(std::string_view name) {
    if (sources::find_format(name)) return format::FeedRole::ranges;
    if (sources::find_asn_list_format(name)) return format::FeedRole::asn_list;
    if (sources::find_asn_table_format(name)) return format::FeedRole::asn_table;
    if (name == sources::kExclusionsFormat) return format::FeedRole::exclusions;
    return std::nullopt;
}

std::optional<std::int64_t> parse_time(std::string_view t) {
    auto digits = [&](std::size_t pos, std::size_t n) -> std::optional<std::int64_t> {
        if (pos + n > t.size()) return std::nullopt;
        std::int64_t v = 0;
        for (std::size_t i = pos; i < pos + n; ++i) {
            if (t[i] < '0' || t[i] > '9') return std::nullopt;
            v = v * 10 + (t[i] - '0');
        }
        return v;
    };
    if (!t.empty() && t.size() <= 12 && t.find('-') == std::string_view::npos) return digits(0, t.size());
    if (t.size() != 10 && t.size() != 20) return std::nullopt;
    auto y = digits(0, 4), mo = digits(5, 2), d = digits(8, 2);
    if (!y || !mo || !d || t[4] != '-' || t[7] != '-' || *mo < 1 || *mo > 12 || *d < 1) return std::nullopt;
    static constexpr int kMonthDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const bool leap = (*y % 4 == 0 && *y % 100 != 0) || *y % 400 == 0;
    if (*d > kMonthDays[*mo - 1] + (*mo == 2 && leap ? 1 : 0)) return std::nullopt;  // no 2024-02-30
    std::int64_t secs = days_from_civil(*y, static_cast<unsigned>(*mo), static_cast<unsigned>(*d)) * 86400;
    if (t.size() == 20) {
        auto h = digits(11, 2), mi = digits(14, 2), s = digits(17, 2);
        if (t[10] != 'T' || t[13] != ':' || t[16] != ':' || t[19] != 'Z' || !h || !mi || !s || *h > 23 || *mi > 59 || *s > 60)
            return std::nullopt;
        secs += *h * 3600 + *mi * 60 + *s;
    }
    return secs;
}

std::string format_time(std::int64_t t) {
    // civil_from_days (Howard Hinnant's algorithm).
    std::int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
    std::int64_t rem = t - days * 86400;
    days += 719468;
    const std::int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    const unsigned doe = static_cast<unsigned>(days - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    const unsigned d = doy - (153 * mp + 2) / 5 + 1;
    const unsigned m = mp < 10 ? mp + 3 : mp - 9;
    const std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lldZ", static_cast<long long>(y), m, d,
                  static_cast<long long>(rem / 3600), static_cast<long long>(rem / 60 % 60),
                  static_cast<long long>(rem % 60));
    return buf;
}

Expected<Catalogue> parse_catalogue(std::string_view yaml, const std::string& path) {
    YAML::Node root;
    try {
        root = YAML::Load(std::string(yaml));
    } catch (const YAML::Exception& e) {
        return at(path, e.mark, "not valid YAML: " + e.msg);
    }
    Catalogue cat;
    cat.path = path;
    const auto base = std::filesystem::path(path).parent_path();
    try {
        if (!root.IsMap()) return at(path, root.Mark(), "top level must be a mapping with 'version' and 'feeds'");
        std::set<std::string> seen;
        for (const auto& kv : root) {
            const std::string key = kv.first.as<std::string>("");
            if (std::find(std::begin(kTopLevelKeys), std::end(kTopLevelKeys), key) == std::end(kTopLevelKeys))
                return at(path, kv.first.Mark(), "unknown top-level key '" + key + "'");
            if (!seen.insert(key).second) return at(path, kv.first.Mark(), "duplicate top-level key '" + key + "'");
        }
        const YAML::Node version = root["version"];
        if (!version || scalar(version).value_or("") != "1") return at(path, root.Mark(), "'version: 1' is required");
        if (const YAML::Node total = root["max_total_entries"]) {
            const auto text = scalar(total);
            const auto v = text ? parse_count(*text, false) : std::nullopt;
            if (!v || *v < 1 || *v > kMaxEntriesLimit)
                return at(path, total.Mark(), "max_total_entries must be a whole number from 1 to 4294967295");
            cat.max_total_entries = *v;
        }
        const YAML::Node feeds = root["feeds"];
        if (!feeds || !feeds.IsSequence() || feeds.size() == 0)
            return at(path, root.Mark(), "'feeds' must be a non-empty list");
        std::set<std::string> names;
        for (const auto& node : feeds) {
            auto f = parse_feed(node, path, base);
            if (!f) return f.error();
            if (!names.insert(f->name).second)
                return at(path, node.Mark(), "feed '" + f->name + "': duplicate name");
            cat.feeds.push_back(std::move(*f));
        }
        // An ASN list expands through a table of this catalogue.
        std::size_t i = 0;
        for (const auto& node : feeds) {
            const FeedConfig& f = cat.feeds[i++];
            if (f.role != format::FeedRole::asn_list) continue;
            const auto table = std::find_if(cat.feeds.begin(), cat.feeds.end(),
                                            [&](const FeedConfig& t) { return t.name == f.asn_table; });
            if (table == cat.feeds.end() || table->role != format::FeedRole::asn_table)
                return at(path, node["asn_table"].Mark(),
                          "feed '" + f.name + "': asn_table '" + f.asn_table + "' is not an ASN table feed of this catalogue");
        }
    } catch (const YAML::Exception& e) {
        return at(path, e.mark, e.msg);
    }
    return cat;
}

Expected<Catalogue> load_catalogue(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return make_error(Status::io, path + ": cannot open");
    std::ostringstream ss;
    ss << in.rdbuf();
    return parse_catalogue(ss.str(), path);
}

}  // namespace anondb::builder
