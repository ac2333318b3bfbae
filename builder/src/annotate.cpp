// Bulk annotation (annotate.hpp): a line splitter over read(2), a lookup per
// line, and an output buffer handed to write(2).
#include "anondb/builder/annotate.hpp"

#include <cerrno>
#include <charconv>
#include <cstring>

#include <unistd.h>

#include "anondb/writer.hpp"
#include "json_fields.hpp"
#include "printable.hpp"

namespace anondb::builder {
namespace {

constexpr std::size_t kOutBytes = 1 << 20;
// Input buffer: room for a whole longest line plus a read's worth more.
constexpr std::size_t kInBytes = kMaxLineBytes + (1 << 20);

constexpr std::string_view kCsvColumns =
    "anondb_flagged,anondb_anonymous,anondb_categories,anondb_provider,anondb_asn,anondb_range,anondb_error";
// Appended with --geo.
constexpr std::string_view kCsvGeoColumns =
    ",anondb_country,anondb_country_name,anondb_city,anondb_location_reliable,anondb_location_caveat";
constexpr int kCsvGeoColumnCount = 5;

void json_or_null(JsonWriter& w, std::string_view s) {
    if (s.empty()) w.Null();
    else json_str(w, s);
}

// country, country_name, city, location_reliable, location_caveat: null
// where there is nothing to say.
void json_geo_fields(JsonWriter& w, const GeoLocation& g, const LocationVerdict& v) {
    json_str(w, "country");
    json_or_null(w, g.country);
    json_str(w, "country_name");
    json_or_null(w, g.country_name);
    json_str(w, "city");
    json_or_null(w, g.city);
    json_str(w, "location_reliable");
    if (v.reliability == Reliability::no_location) w.Null();
    else w.Bool(v.reliability == Reliability::reliable);
    json_str(w, "location_caveat");
    json_or_null(w, v.caveat);
}

std::string_view trim_cr(std::string_view s) {
    if (!s.empty() && s.back() == '\r') s.remove_suffix(1);
    return s;
}

// Field `index` (0-based) of a CSV row, without its quotes (a doubled quote
// inside stays doubled: no address contains one, so it fails to parse as
// one). nullopt-like `ok = false` when the row has fewer fields or a quoted
// field is not closed.
std::string_view csv_field(std::string_view row, std::size_t index, char delim, bool& ok) {
    std::size_t p = 0;
    for (std::size_t field = 0;; ++field) {
        std::string_view value;
        std::size_t next;  // position of the delimiter after the field, or npos
        if (p < row.size() && row[p] == '"') {
            std::size_t q = p + 1;
            while (true) {
                q = row.find('"', q);
                if (q == std::string_view::npos) {
                    ok = false;
                    return {};
                }
                if (q + 1 < row.size() && row[q + 1] == '"') {
                    q += 2;
                    continue;
                }
                break;
            }
            value = row.substr(p + 1, q - p - 1);
            next = q + 1 < row.size() ? q + 1 : std::string_view::npos;
            if (next != std::string_view::npos && row[next] != delim) {
                ok = false;  // text after a closing quote
                return {};
            }
        } else {
            next = row.find(delim, p);
            value = row.substr(p, next == std::string_view::npos ? std::string_view::npos : next - p);
        }
        if (field == index) {
            ok = true;
            return value;
        }
        if (next == std::string_view::npos) {
            ok = false;
            return {};
        }
        p = next + 1;
    }
}

// What write(2) said, as an error of the output.
Error write_fully(int fd, std::string_view text) {
    const int e = writer::write_fully(fd, std::as_bytes(std::span(text.data(), text.size())));
    if (e == 0) return {};
    return make_error(Status::io, std::string("writing output: ") + std::strerror(e));
}

}  // namespace

// The writer is kept and Reset() per line: a fresh one would allocate its
// nesting stack on every object.
struct Annotator::JsonScratch {
    rapidjson::StringBuffer buffer;
    JsonWriter writer{buffer};
    JsonWriter& start() {
        buffer.Clear();
        writer.Reset(buffer);
        return writer;
    }
};

Annotator::Annotator(const Database& db, AnnotateOptions options, int out_fd)
    : db_(&db), options_(std::move(options)), out_fd_(out_fd), out_(kOutBytes) {
    const bool csv_input = options_.column != 0 || !options_.column_name.empty();
    if (csv_input && options_.format == AnnotateFormat::text) options_.format = AnnotateFormat::csv;
    header_pending_ = csv_input && (options_.header || !options_.column_name.empty());
    if (options_.format == AnnotateFormat::json) json_ = std::make_unique<JsonScratch>();
}

Annotator::Annotator(Annotator&&) noexcept = default;
Annotator& Annotator::operator=(Annotator&&) noexcept = default;
Annotator::~Annotator() = default;

Expected<Annotator> Annotator::create(const Database& db, AnnotateOptions options, int out_fd) {
    const char d = options.delimiter;
    if (d == '"' || d == '\n' || d == '\r' || d == '\0')
        return make_error(Status::invalid_argument, "the CSV delimiter cannot be a quote, a line break or NUL");
    if (options.format == AnnotateFormat::csv && options.column == 0 && options.column_name.empty())
        return make_error(Status::invalid_argument, "csv output needs an address column (--column)");
    return Annotator(db, std::move(options), out_fd);
}

void Annotator::put(std::string_view s) {
    if (s.empty()) return;  // memcpy from an empty view's nullptr is undefined
    if (s.size() > out_.size() - used_) {
        if (flush().status != Status::ok) return;
        if (s.size() > out_.size()) {
            if (write_error_.status == Status::ok) write_error_ = write_fully(out_fd_, s);
            return;
        }
    }
    std::memcpy(out_.data() + used_, s.data(), s.size());
    used_ += s.size();
}

void Annotator::put(char c) {
    if (used_ == out_.size() && flush().status != Status::ok) return;
    out_[used_++] = c;
}

void Annotator::put_escaped(std::string_view s) {
    escape_control(s, [this](char c) { put(c); });
}

// RFC 4180: quoted when it holds the delimiter, a quote or a line break.
void Annotator::put_csv_field(std::string_view s) {
    bool plain = true;
    for (const char c : s)
        if (c == '"' || c == '\n' || c == '\r' || c == options_.delimiter) {
            plain = false;
            break;
        }
    if (plain) {
        put(s);
        return;
    }
    put('"');
    for (const char c : s) {
        if (c == '"') put('"');
        put(c);
    }
    put('"');
}

void Annotator::put_uint(std::uint64_t v) {
    char text[20];
    put(std::string_view(text, static_cast<std::size_t>(std::to_chars(text, text + sizeof text, v).ptr - text)));
}

// The set category names in bit order, `sep` between them.
void Annotator::put_categories(std::uint32_t flags, char sep) {
    bool first = true;
    for (const auto& c : kCategoryNames) {
        if (!(flags & c.bit)) continue;
        if (!first) put(sep);
        put(c.name);
        first = false;
    }
}

void Annotator::put_json_line() {
    put(std::string_view(json_->buffer.GetString(), json_->buffer.GetSize()));
    put('\n');
}

Error Annotator::flush() {
    if (write_error_.status != Status::ok) return write_error_;
    if (used_ > 0) write_error_ = write_fully(out_fd_, std::string_view(out_.data(), used_));
    used_ = 0;
    return write_error_;
}

std::string_view Annotator::address_field(std::string_view row, bool& ok) const {
    if (options_.column == 0) {
        ok = true;
        return row;
    }
    return csv_field(row, options_.column - 1, options_.delimiter, ok);
}

void Annotator::header_row(std::string_view text) {
    header_pending_ = false;
    if (!options_.column_name.empty()) {
        options_.column = 0;
        for (std::size_t i = 0;; ++i) {
            bool ok = false;
            const auto name = csv_field(text, i, options_.delimiter, ok);
            if (!ok) break;
            if (detail::trim(name) == options_.column_name) {
                options_.column = i + 1;
                break;
            }
        }
        if (options_.column == 0) {
            column_missing_ = true;
            return;
        }
    }
    if (options_.format != AnnotateFormat::csv) return;
    put(text);
    put(options_.delimiter);
    for (const char c : kCsvColumns) put(c == ',' ? options_.delimiter : c);
    if (options_.geo)
        for (const char c : kCsvGeoColumns) put(c == ',' ? options_.delimiter : c);
    put('\n');
}

Error Annotator::line(std::string_view text, std::uint64_t line_no) {
    // `text` is the caller's: answer before returning.
    const Error e = classify(text, line_no);
    drain();
    return e.status != Status::ok ? e : failure();
}

Error Annotator::classify(std::string_view text, std::uint64_t line_no) {
    ++stats_.lines;
    text = trim_cr(text);
    if (header_pending_) {
        drain();  // output stays in input order
        header_row(text);
        if (column_missing_)
            return Error{Status::invalid_argument, "line " + std::to_string(line_no) + ": no column named '" +
                                                       options_.column_name + "' in the header row"};
        return failure();
    }
    const std::string_view trimmed = detail::trim(text);
    if (trimmed.empty() || (options_.column == 0 && trimmed.front() == '#')) return failure();
    bool ok = false;
    const std::string_view address = address_field(text, ok);
    Pending& p = pending_[pending_count_++];
    p.row = text;
    p.line_no = line_no;
    if (!ok) {
        p.shown = text;
        p.reason = "no address column in this row (too few fields, or an unclosed quote)";
    } else {
        p.shown = detail::trim(address);
        const auto parsed = parse_ip(p.shown);
        p.reason = parsed ? std::string_view{} : ip_error_text(parsed.error);
        if (parsed) p.ip = parsed->ip;
        if (p.shown.empty()) p.shown = text;
    }
    if (pending_count_ == kBatch) drain();
    return failure();
}

// Looks the pending lines up together (locate_many overlaps their cache
// misses), then writes them in input order.
void Annotator::drain() {
    Ip ips[kBatch];
    Segment segs[kBatch];
    std::size_t n = 0;
    for (std::size_t i = 0; i < pending_count_; ++i)
        if (pending_[i].reason.empty()) ips[n++] = pending_[i].ip;
    db_->locate_many(std::span(ips, n), std::span(segs, n));
    std::size_t k = 0;
    // After a geolocation error nothing more is written: the output ends
    // at the line before it.
    for (std::size_t i = 0; i < pending_count_ && geo_error_.status == Status::ok; ++i) {
        const Pending& p = pending_[i];
        if (p.reason.empty()) annotate(p.row, p.ip, segs[k++]);
        else bad_line(p.row, p.shown, p.reason, p.line_no);
    }
    pending_count_ = 0;
}

void Annotator::bad_line(std::string_view row, std::string_view shown, std::string_view reason,
                         std::uint64_t line_no) {
    if (geo_error_.status != Status::ok) return;  // the output ended at the error
    ++stats_.invalid;
    if (stats_.first_invalid_line == 0) stats_.first_invalid_line = line_no;
    switch (options_.format) {
        case AnnotateFormat::text:
            put_escaped(shown);
            put("  error: ");
            put(reason);
            put('\n');
            return;
        case AnnotateFormat::json: {
            JsonWriter& w = json_->start();
            w.StartObject();
            json_str(w, "ip");
            json_str(w, shown);
            json_str(w, "error");
            json_str(w, reason);
            json_str(w, "line");
            w.Uint64(line_no);
            w.EndObject();
            put_json_line();
            return;
        }
        case AnnotateFormat::csv:
            put(row);
            for (int i = 0; i < 7; ++i) put(options_.delimiter);
            put_csv_field(reason);
            if (options_.geo)
                for (int i = 0; i < kCsvGeoColumnCount; ++i) put(options_.delimiter);
            put('\n');
            return;
    }
}

void Annotator::annotate(std::string_view row, Ip ip, const Segment& seg) {
    const char d = options_.delimiter;
    ++stats_.addresses;
    const LookupResult r = db_->answer(seg.answer);
    if (r.flagged) ++stats_.flagged;
    GeoLocation g;
    LocationVerdict v;
    if (options_.geo) {
        auto found = options_.geo->lookup(ip);
        if (!found) {
            geo_error_ = found.error();
            return;
        }
        g = *found;
        v = location_verdict(g.located(), r.categories);
    }
    char text[kRangeTextMax];
    switch (options_.format) {
        case AnnotateFormat::text:
            put(std::string_view(text, format_ip_to(text, ip)));
            if (!r.flagged) {
                put("  not flagged");
            } else {
                put("  ");
                put_categories(r.categories, ',');
                if (r.anonymous()) put("  anonymous");
                put("  provider ");
                if (r.provider.empty()) put('-');
                else put_escaped(r.provider);
                if (r.asn) {
                    put("  AS");
                    put_uint(r.asn);
                }
            }
            put("  (range ");
            put(std::string_view(text, format_range_to(text, seg.range)));
            put(')');
            if (options_.geo) put_geo_text(g, v);
            put('\n');
            return;
        case AnnotateFormat::json: {
            JsonWriter& w = json_->start();
            w.StartObject();
            json_result_fields(w, ip, seg, r);
            if (options_.geo) json_geo_fields(w, g, v);
            w.EndObject();
            put_json_line();
            return;
        }
        case AnnotateFormat::csv: {
            put(row);
            put(d);
            put(r.flagged ? "true" : "false");
            put(d);
            put(r.anonymous() ? "true" : "false");
            put(d);
            put_categories(r.categories, '|');
            put(d);
            put_csv_field(r.provider);
            put(d);
            if (r.asn) put_uint(r.asn);
            put(d);
            put_csv_field(std::string_view(text, format_range_to(text, seg.range)));
            put(d);
            if (options_.geo) put_geo_csv(g, v);
            put('\n');
            return;
        }
    }
}

// `  country CC (Name)[  city C][  location unreliable: CAVEAT]`, or
// `  no location`; the database's text with control bytes escaped.
void Annotator::put_geo_text(const GeoLocation& g, const LocationVerdict& v) {
    if (!g.located()) {
        put("  no location");
        return;
    }
    put("  country ");
    put_escaped(g.country);
    if (!g.country_name.empty()) {
        put(" (");
        put_escaped(g.country_name);
        put(')');
    }
    if (!g.city.empty()) {
        put("  city ");
        put_escaped(g.city);
    }
    if (v.reliability == Reliability::unreliable) {
        put("  location unreliable: ");
        put(v.caveat);
    }
}

// The kCsvGeoColumns fields, each after a delimiter.
void Annotator::put_geo_csv(const GeoLocation& g, const LocationVerdict& v) {
    const char d = options_.delimiter;
    put(d);
    put_csv_field(g.country);
    put(d);
    put_csv_field(g.country_name);
    put(d);
    put_csv_field(g.city);
    put(d);
    if (v.reliability != Reliability::no_location) put(v.reliability == Reliability::reliable ? "true" : "false");
    put(d);
    put_csv_field(v.caveat);
}

Error Annotator::read_all(int in_fd, std::string_view name) {
    std::vector<char> buf(kInBytes);
    std::size_t start = 0, end = 0;  // unprocessed bytes are [start, end)
    std::uint64_t line_no = 0;
    bool discarding = false;  // inside a line longer than kMaxLineBytes
    // A line past the limit is reported by its first bytes; its row cannot
    // be echoed (csv gets an empty row with anondb_error filled).
    // One complete line to classify; an error names the input.
    auto take = [&](std::string_view text) {
        Error e = classify(text, line_no);
        if (e.status != Status::ok) {
            drain();
            e.message = std::string(name) + ": " + e.message;
        }
        return e;
    };
    auto overlong = [&](std::uint64_t at) {
        ++stats_.lines;
        const std::string shown = std::string(buf.data() + start, 40) + "...";
        bad_line({}, shown, "line longer than 1 MiB", at);
    };
    while (true) {
        ssize_t n;
        do n = ::read(in_fd, buf.data() + end, buf.size() - end);
        while (n < 0 && errno == EINTR);
        if (n < 0) return make_error(Status::io, std::string(name) + ": " + std::strerror(errno));
        const bool eof = n == 0;
        end += static_cast<std::size_t>(n);
        while (start < end) {
            const char* nl = static_cast<const char*>(std::memchr(buf.data() + start, '\n', end - start));
            if (!nl) break;
            const std::size_t len = static_cast<std::size_t>(nl - (buf.data() + start));
            ++line_no;
            if (discarding) {
                discarding = false;
            } else if (len > kMaxLineBytes) {
                drain();
                overlong(line_no);
            } else if (auto e = take(std::string_view(buf.data() + start, len)); e.status != Status::ok) {
                return e;
            }
            start += len + 1;
        }
        if (eof) {
            if (start < end && !discarding) {
                ++line_no;
                if (auto e = take(std::string_view(buf.data() + start, end - start)); e.status != Status::ok) return e;
            }
            drain();
            const Error flushed = flush();
            return geo_error_.status != Status::ok ? geo_error_ : flushed;
        }
        drain();  // the pending lines view the buffer, which moves next
        // Keep the partial line; a line that fills the buffer is too long.
        if (end - start > kMaxLineBytes) {
            if (!discarding) overlong(line_no + 1);
            discarding = true;
            start = end;
        }
        std::memmove(buf.data(), buf.data() + start, end - start);
        end -= start;
        start = 0;
    }
}

}  // namespace anondb::builder
