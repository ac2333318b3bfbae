// `anondb stats` (stats.hpp): a LineSink that counts lines per answer and
// keeps the distinct addresses, the figures derived from those counts, and
// their text and JSON forms.
#include "anondb/builder/stats.hpp"

#include <algorithm>
#include <map>

#include "json_fields.hpp"
#include "printable.hpp"

namespace anondb::builder {
namespace {

__extension__ typedef unsigned __int128 Wide;

// The address list is compacted when it reaches this size or twice its
// size after the last compaction, whichever is more.
constexpr std::size_t kCompactMin = std::size_t{1} << 20;

// Columns on a terminal: UTF-8 continuation bytes take none.
std::size_t display_width(std::string_view s) {
    std::size_t n = 0;
    for (const unsigned char c : s) n += (c & 0xc0) != 0x80;
    return n;
}

void pad_to(std::string& out, std::size_t used, std::size_t width) {
    if (used < width) out.append(width - used, ' ');
}

std::string pad_left(std::string s, std::size_t width) {
    if (s.size() < width) s.insert(0, width - s.size(), ' ');
    return s;
}

// "167 of 1000 (16.7%, 1 in 6)", the count right-aligned to the total's
// width; "1 in N" only with `ratio` and a count above 0.
std::string cell(std::uint64_t count, std::uint64_t total, bool ratio) {
    const std::string t = std::to_string(total);
    std::string s = pad_left(std::to_string(count), t.size()) + " of " + t + " (" + percent_text(count, total);
    if (ratio && count > 0) s += ", 1 in " + std::to_string(one_in(count, total));
    return s + ")";
}

}  // namespace

std::string percent_text(std::uint64_t count, std::uint64_t total) {
    if (total == 0) return "-";
    const Wide tenths = (Wide{count} * 2000 + total) / (Wide{total} * 2);
    return std::to_string(static_cast<std::uint64_t>(tenths / 10)) + "." +
           std::to_string(static_cast<unsigned>(tenths % 10)) + "%";
}

std::uint64_t one_in(std::uint64_t count, std::uint64_t total) {
    if (count == 0) return 0;
    return static_cast<std::uint64_t>((Wide{total} * 2 + count) / (Wide{count} * 2));
}

double share(std::uint64_t count, std::uint64_t total) {
    return total == 0 ? 0.0 : static_cast<double>(count) / static_cast<double>(total);
}

// ---- StatsCollector -----------------------------------------------------------------

StatsCollector::StatsCollector(AddressReader reader, const Database& db)
    : reader_(std::move(reader)), db_(&db), per_answer_(db.answer_count() == 0 ? 1 : db.answer_count()),
      compact_at_(kCompactMin) {}

Expected<StatsCollector> StatsCollector::create(const Database& db, InputOptions options) {
    auto reader = AddressReader::create(db, std::move(options));
    if (!reader) return reader.error();
    return StatsCollector(std::move(*reader), db);
}

Error StatsCollector::line(std::string_view text, std::uint64_t line_no) { return reader_.line(text, line_no, *this); }

Error StatsCollector::read_all(int in_fd, std::string_view name) { return reader_.read_all(in_fd, name, *this); }

Error StatsCollector::lines(std::span<const InputLine> group) {
    for (const InputLine& l : group) {
        if (!l.valid()) continue;  // the reader counts those
        // Ids past the table read as answer 0, as Database::answer() does.
        const std::uint32_t id = l.segment.answer < per_answer_.size() ? l.segment.answer : 0;
        ++per_answer_[id];
        seen_.push_back(l.ip);
    }
    if (seen_.size() >= compact_at_) {
        compact();
        compact_at_ = std::max(kCompactMin, 2 * seen_.size());
    }
    return {};
}

// Sorts and deduplicates the addresses kept so far.
void StatsCollector::compact() {
    if (sorted_ == seen_.size()) return;
    const auto mid = seen_.begin() + static_cast<std::ptrdiff_t>(sorted_);
    std::sort(mid, seen_.end());
    std::inplace_merge(seen_.begin(), mid, seen_.end());
    seen_.erase(std::unique(seen_.begin(), seen_.end()), seen_.end());
    sorted_ = seen_.size();
}

StatsReport StatsCollector::report() {
    compact();
    StatsReport r;
    r.input = reader_.counts();
    r.unique = seen_.size();
    // Distinct addresses per answer: looked up again, in groups.
    std::vector<std::uint64_t> unique_per_answer(per_answer_.size());
    constexpr std::size_t kGroup = 256;
    Segment segs[kGroup];
    for (std::size_t at = 0; at < seen_.size(); at += kGroup) {
        const std::size_t n = std::min(kGroup, seen_.size() - at);
        db_->locate_many(std::span<const Ip>(seen_.data() + at, n), std::span(segs, n));
        for (std::size_t i = 0; i < n; ++i)
            ++unique_per_answer[segs[i].answer < per_answer_.size() ? segs[i].answer : 0];
    }
    std::map<std::string_view, StatsFigure> providers;
    for (std::uint32_t id = 1; id < per_answer_.size(); ++id) {
        const StatsFigure f{per_answer_[id], unique_per_answer[id]};
        if (f.count == 0) continue;  // no line, no distinct address
        const LookupResult a = db_->answer(id);
        auto add = [&f](StatsFigure& to) {
            to.count += f.count;
            to.unique += f.unique;
        };
        add(r.flagged);
        if (a.anonymous()) add(r.anonymous);
        for (std::size_t c = 0; c < std::size(kCategoryNames); ++c)
            if (a.categories & kCategoryNames[c].bit) add(r.categories[c]);
        if (!a.provider.empty()) {
            add(r.attributed);
            add(providers[a.provider]);
        }
    }
    r.providers.reserve(providers.size());
    for (const auto& [name, f] : providers) r.providers.push_back({std::string(name), f});
    // The map gave name order; a stable sort by count keeps it among ties.
    std::stable_sort(r.providers.begin(), r.providers.end(),
                     [](const ProviderFigure& a, const ProviderFigure& b) { return a.figure.count > b.figure.count; });
    return r;
}

// ---- output -------------------------------------------------------------------------

std::string stats_text(const StatsReport& r, std::string_view source, std::size_t top) {
    struct Row {
        std::string label;  // escaped
        StatsFigure figure;
        bool ratio = false;  // with "1 in N"
    };
    std::vector<Row> rows;
    rows.push_back({"flagged", r.flagged, true});
    rows.push_back({"anonymous", r.anonymous, true});
    for (std::size_t c = 0; c < std::size(kCategoryNames); ++c)
        rows.push_back({"  " + std::string(kCategoryNames[c].name), r.categories[c], false});
    rows.push_back({"named provider", r.attributed, false});
    const std::size_t shown = std::min(top, r.providers.size());
    const std::size_t first_provider = rows.size();
    for (std::size_t i = 0; i < shown; ++i)
        rows.push_back({"  " + printable(r.providers[i].name), r.providers[i].figure, false});

    constexpr std::size_t kMaxLabel = 42;  // longer provider names push their row out of line
    std::size_t label_width = 0;
    for (const Row& row : rows) label_width = std::max(label_width, std::min(kMaxLabel, display_width(row.label)));
    label_width += 2;

    std::string out;
    auto line = [&](std::string_view label, std::string_view value, std::size_t width) {
        out += label;
        const std::size_t used = display_width(label);
        pad_to(out, used, std::max(width, used + 2));  // a long name still gets its gap
        out += value;
        while (!out.empty() && out.back() == ' ') out.pop_back();
        out += '\n';
    };
    // The counts of the input: every other count is at most `lines`.
    const std::size_t count_label = std::string_view("unique addresses").size() + 2;
    const std::size_t nw = std::to_string(r.input.lines).size();
    line("input", printable(source), count_label);
    line("lines read", pad_left(std::to_string(r.input.lines), nw), count_label);
    line("addresses", pad_left(std::to_string(r.input.addresses), nw), count_label);
    std::string invalid = pad_left(std::to_string(r.input.invalid), nw);
    if (r.input.invalid > 0) invalid += "  (first at line " + std::to_string(r.input.first_invalid_line) + ")";
    line("invalid lines", invalid, count_label);
    line("unique addresses", pad_left(std::to_string(r.unique), nw), count_label);

    std::vector<std::string> left(rows.size()), right(rows.size());
    std::size_t left_width = std::string_view("per occurrence").size();
    for (std::size_t i = 0; i < rows.size(); ++i) {
        left[i] = cell(rows[i].figure.count, r.input.addresses, rows[i].ratio);
        right[i] = cell(rows[i].figure.unique, r.unique, rows[i].ratio);
        left_width = std::max(left_width, left[i].size());
    }
    left_width += 3;
    auto row_line = [&](std::string_view label, std::string_view a, std::string_view b) {
        std::string value(a);
        pad_to(value, a.size(), left_width);
        value += b;
        line(label, value, label_width);
    };
    out += '\n';
    row_line("", "per occurrence", "unique addresses");
    for (std::size_t i = 0; i < first_provider; ++i) row_line(rows[i].label, left[i], right[i]);
    if (top > 0) {
        out += '\n';
        if (r.providers.empty()) {
            line("top providers", "none named", label_width);
        } else {
            const std::string title =
                "top providers (" + std::to_string(shown) + " of " + std::to_string(r.providers.size()) + " named)";
            line(title, "", label_width);
            for (std::size_t i = first_provider; i < rows.size(); ++i) row_line(rows[i].label, left[i], right[i]);
        }
    }
    return out;
}

std::string stats_json(const StatsReport& r, std::string_view source, std::size_t top) {
    rapidjson::StringBuffer buf;
    JsonWriter w(buf);
    auto figure = [&](const StatsFigure& f, bool ratio) {
        w.StartObject();
        json_str(w, "count");
        w.Uint64(f.count);
        json_str(w, "share");
        w.Double(share(f.count, r.input.addresses));
        if (ratio) {
            json_str(w, "one_in");
            if (f.count == 0) w.Null();
            else w.Uint64(one_in(f.count, r.input.addresses));
        }
        json_str(w, "unique");
        w.Uint64(f.unique);
        json_str(w, "unique_share");
        w.Double(share(f.unique, r.unique));
        if (ratio) {
            json_str(w, "unique_one_in");
            if (f.unique == 0) w.Null();
            else w.Uint64(one_in(f.unique, r.unique));
        }
        w.EndObject();
    };
    w.StartObject();
    json_str(w, "input");
    json_str(w, source);
    json_str(w, "lines");
    w.Uint64(r.input.lines);
    json_str(w, "addresses");
    w.Uint64(r.input.addresses);
    json_str(w, "invalid");
    w.Uint64(r.input.invalid);
    json_str(w, "first_invalid_line");
    if (r.input.first_invalid_line == 0) w.Null();
    else w.Uint64(r.input.first_invalid_line);
    json_str(w, "unique_addresses");
    w.Uint64(r.unique);
    json_str(w, "flagged");
    figure(r.flagged, true);
    json_str(w, "anonymous");
    figure(r.anonymous, true);
    json_str(w, "categories");
    w.StartObject();
    for (std::size_t c = 0; c < std::size(kCategoryNames); ++c) {
        json_str(w, kCategoryNames[c].name);
        figure(r.categories[c], false);
    }
    w.EndObject();
    json_str(w, "attributed");
    figure(r.attributed, false);
    json_str(w, "providers_named");
    w.Uint64(r.providers.size());
    json_str(w, "top_providers");
    w.StartArray();
    for (std::size_t i = 0; i < std::min(top, r.providers.size()); ++i) {
        w.StartObject();
        json_str(w, "provider");
        json_str(w, r.providers[i].name);
        const StatsFigure& f = r.providers[i].figure;
        json_str(w, "count");
        w.Uint64(f.count);
        json_str(w, "share");
        w.Double(share(f.count, r.input.addresses));
        json_str(w, "unique");
        w.Uint64(f.unique);
        json_str(w, "unique_share");
        w.Double(share(f.unique, r.unique));
        w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    return std::string(buf.GetString(), buf.GetSize()) + "\n";
}

}  // namespace anondb::builder
