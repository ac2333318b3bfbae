// Bulk annotation (annotate.hpp): the address reader (a line splitter over
// read(2), a classifier, lookups in groups) shared with `anondb stats`, and
// the annotator, which writes each line into a buffer handed to write(2).
#include "anondb/builder/annotate.hpp"

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <utility>

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

// country, country_name, city, location_reliable, location_caveat: null
// where there is nothing to say.
void json_geo_fields(JsonWriter& w, const GeoLocation& g, const LocationVerdict& v) {
    json_str(w, "country");
    json_str_or_null(w, g.country);
    json_str(w, "country_name");
    json_str_or_null(w, g.country_name);
    json_str(w, "city");
    json_str_or_null(w, g.city);
    json_str(w, "location_reliable");
    if (v.reliability == Reliability::no_location) w.Null();
    else w.Bool(v.reliability == Reliability::reliable);
    json_str(w, "location_caveat");
    json_str_or_null(w, v.caveat);
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

Expected<InputOptions> input_options(std::string_view column, bool header, std::string_view delimiter) {
    InputOptions o;
    o.header = header;
    if (delimiter == "\\t" || delimiter == "tab") o.delimiter = '\t';
    else if (delimiter.size() == 1) o.delimiter = delimiter[0];
    else return Error{Status::invalid_argument, "--delimiter must be one character (or 'tab')"};
    if (!column.empty()) {
        if (column.find_first_not_of("0123456789") == std::string_view::npos) {
            o.column = std::strtoull(std::string(column).c_str(), nullptr, 10);
            if (o.column == 0) return Error{Status::invalid_argument, "--column counts from 1"};
        } else {
            o.column_name = std::string(column);
        }
    }
    return o;
}

// ---- AddressReader --------------------------------------------------------------

AddressReader::AddressReader(const Database& db, InputOptions options)
    : db_(&db), options_(std::move(options)) {
    header_pending_ = options_.csv() && (options_.header || !options_.column_name.empty());
}

Expected<AddressReader> AddressReader::create(const Database& db, InputOptions options) {
    const char d = options.delimiter;
    if (d == '"' || d == '\n' || d == '\r' || d == '\0')
        return make_error(Status::invalid_argument, "the CSV delimiter cannot be a quote, a line break or NUL");
    return AddressReader(db, std::move(options));
}

std::string_view AddressReader::address_field(std::string_view row, bool& ok) const {
    if (options_.column == 0) {
        ok = true;
        return row;
    }
    return csv_field(row, options_.column - 1, options_.delimiter, ok);
}

// The header row: finds a named column, then hands the row on.
Error AddressReader::take_header(std::string_view row, std::uint64_t line_no, LineSink& sink) {
    header_pending_ = false;
    if (!options_.column_name.empty()) {
        options_.column = 0;
        for (std::size_t i = 0;; ++i) {
            bool ok = false;
            const auto name = csv_field(row, i, options_.delimiter, ok);
            if (!ok) break;
            if (detail::trim(name) == options_.column_name) {
                options_.column = i + 1;
                break;
            }
        }
        if (options_.column == 0)
            return Error{Status::invalid_argument, "line " + std::to_string(line_no) + ": no column named '" +
                                                       options_.column_name + "' in the header row"};
    }
    return sink.header_row(row);
}

Error AddressReader::line(std::string_view text, std::uint64_t line_no, LineSink& sink) {
    // `text` is the caller's: hand it on before returning.
    const Error e = classify(text, line_no, sink);
    if (e.status != Status::ok) return e;
    return drain(sink);
}

Error AddressReader::classify(std::string_view text, std::uint64_t line_no, LineSink& sink) {
    ++counts_.lines;
    text = trim_cr(text);
    if (header_pending_) {
        if (Error e = drain(sink); e.status != Status::ok) return e;  // lines stay in input order
        return take_header(text, line_no, sink);
    }
    const std::string_view trimmed = detail::trim(text);
    if (trimmed.empty() || (options_.column == 0 && trimmed.front() == '#')) return {};
    bool ok = false;
    const std::string_view address = address_field(text, ok);
    InputLine& p = pending_[pending_count_++];
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
    if (pending_count_ == kBatch) return drain(sink);
    return {};
}

// A line longer than kMaxLineBytes, by its first bytes (`start`): one
// invalid line, handed on at once (it views overlong_shown_).
Error AddressReader::overlong(std::string_view start, std::uint64_t line_no, LineSink& sink) {
    if (Error e = drain(sink); e.status != Status::ok) return e;
    ++counts_.lines;
    overlong_shown_.assign(start.substr(0, 40));
    overlong_shown_ += "...";
    InputLine& p = pending_[pending_count_++];
    p.row = {};
    p.shown = overlong_shown_;
    p.reason = "line longer than 1 MiB";
    p.line_no = line_no;
    return drain(sink);
}

// Looks the pending lines up together (locate_many overlaps their cache
// misses), counts them, then hands them on in input order.
Error AddressReader::drain(LineSink& sink) {
    if (pending_count_ == 0) return {};
    Ip ips[kBatch];
    Segment segs[kBatch];
    std::size_t n = 0;
    for (std::size_t i = 0; i < pending_count_; ++i)
        if (pending_[i].valid()) ips[n++] = pending_[i].ip;
    db_->locate_many(std::span(ips, n), std::span(segs, n));
    std::size_t k = 0;
    for (std::size_t i = 0; i < pending_count_; ++i) {
        InputLine& p = pending_[i];
        if (p.valid()) {
            p.segment = segs[k++];
            ++counts_.addresses;
            counts_.flagged += p.segment.answer != 0;
        } else {
            ++counts_.invalid;
            if (counts_.first_invalid_line == 0) counts_.first_invalid_line = p.line_no;
        }
    }
    const std::size_t count = std::exchange(pending_count_, 0);
    return sink.lines(std::span<const InputLine>(pending_, count));
}

Error AddressReader::read_all(int in_fd, std::string_view name, LineSink& sink) {
    std::vector<char> buf(kInBytes);
    std::size_t start = 0, end = 0;  // unprocessed bytes are [start, end)
    std::uint64_t line_no = 0;
    bool discarding = false;  // inside a line longer than kMaxLineBytes
    // One complete line to classify. An error of the input (a missing
    // header column) names it; the sink's own errors pass as they are.
    auto take = [&](std::string_view text) {
        const bool header = header_pending_;
        Error e = classify(text, line_no, sink);
        if (header && e.status == Status::invalid_argument) e.message = std::string(name) + ": " + e.message;
        return e;
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
                if (auto e = overlong(std::string_view(buf.data() + start, len), line_no, sink); e.status != Status::ok)
                    return e;
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
            return drain(sink);
        }
        // The pending lines view the buffer, which moves next.
        if (auto e = drain(sink); e.status != Status::ok) return e;
        // Keep the partial line; a line that fills the buffer is too long.
        if (end - start > kMaxLineBytes) {
            if (!discarding)
                if (auto e = overlong(std::string_view(buf.data() + start, end - start), line_no + 1, sink);
                    e.status != Status::ok)
                    return e;
            discarding = true;
            start = end;
        }
        std::memmove(buf.data(), buf.data() + start, end - start);
        end -= start;
        start = 0;
    }
}

// ---- Annotator --------------------------------------------------------------------

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

Annotator::Annotator(AddressReader reader, const Database& db, AnnotateOptions options, int out_fd)
    : reader_(std::move(reader)), db_(&db), options_(std::move(options)), out_fd_(out_fd), out_(kOutBytes) {
    if (options_.csv() && options_.format == AnnotateFormat::text) options_.format = AnnotateFormat::csv;
    if (options_.format == AnnotateFormat::json) json_ = std::make_unique<JsonScratch>();
}

Annotator::Annotator(Annotator&&) noexcept = default;
Annotator& Annotator::operator=(Annotator&&) noexcept = default;
Annotator::~Annotator() = default;

Expected<Annotator> Annotator::create(const Database& db, AnnotateOptions options, int out_fd) {
    if (options.format == AnnotateFormat::csv && !options.csv())
        return make_error(Status::invalid_argument, "csv output needs an address column (--column)");
    auto reader = AddressReader::create(db, options);
    if (!reader) return reader.error();
    return Annotator(std::move(*reader), db, std::move(options), out_fd);
}

Error Annotator::line(std::string_view text, std::uint64_t line_no) {
    if (Error e = reader_.line(text, line_no, *this); e.status != Status::ok) return e;
    return write_error_;
}

Error Annotator::read_all(int in_fd, std::string_view name) {
    if (Error e = reader_.read_all(in_fd, name, *this); e.status != Status::ok) return e;
    return flush();
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

// CSV output repeats the header row with the anondb_* names appended.
Error Annotator::header_row(std::string_view row) {
    if (options_.format != AnnotateFormat::csv) return write_error_;
    put(row);
    put(options_.delimiter);
    for (const char c : kCsvColumns) put(c == ',' ? options_.delimiter : c);
    if (options_.geo)
        for (const char c : kCsvGeoColumns) put(c == ',' ? options_.delimiter : c);
    put('\n');
    return write_error_;
}

Error Annotator::lines(std::span<const InputLine> group) {
    for (const InputLine& l : group) {
        if (!l.valid()) {
            bad_line(l);
            continue;
        }
        // A geolocation error ends the output at the line before it.
        if (Error e = annotate(l); e.status != Status::ok) {
            const Error flushed = flush();
            return flushed.status != Status::ok ? flushed : e;
        }
    }
    return write_error_;
}

void Annotator::bad_line(const InputLine& l) {
    switch (options_.format) {
        case AnnotateFormat::text:
            put_escaped(l.shown);
            put("  error: ");
            put(l.reason);
            put('\n');
            return;
        case AnnotateFormat::json: {
            JsonWriter& w = json_->start();
            w.StartObject();
            json_str(w, "ip");
            json_str(w, l.shown);
            json_str(w, "error");
            json_str(w, l.reason);
            json_str(w, "line");
            w.Uint64(l.line_no);
            w.EndObject();
            put_json_line();
            return;
        }
        case AnnotateFormat::csv:
            put(l.row);
            for (int i = 0; i < 7; ++i) put(options_.delimiter);
            put_csv_field(l.reason);
            if (options_.geo)
                for (int i = 0; i < kCsvGeoColumnCount; ++i) put(options_.delimiter);
            put('\n');
            return;
    }
}

Error Annotator::annotate(const InputLine& l) {
    const char d = options_.delimiter;
    const Segment& seg = l.segment;
    const LookupResult r = db_->answer(seg.answer);
    GeoLocation g;
    LocationVerdict v;
    if (options_.geo) {
        auto found = options_.geo->lookup(l.ip);
        if (!found) return found.error();
        g = *found;
        v = location_verdict(g.located(), r.categories);
    }
    char text[kRangeTextMax];
    switch (options_.format) {
        case AnnotateFormat::text:
            put(std::string_view(text, format_ip_to(text, l.ip)));
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
            return {};
        case AnnotateFormat::json: {
            JsonWriter& w = json_->start();
            w.StartObject();
            json_result_fields(w, l.ip, seg, r);
            if (options_.assessments) {
                const AssessmentTable::Entry* e = options_.assessments->find(l.ip);
                json_assessment_fields(w, e != nullptr, e ? e->assessment : Assessment{},
                                       e ? e->first_seen : std::nullopt);
            }
            if (options_.geo) json_geo_fields(w, g, v);
            w.EndObject();
            put_json_line();
            return {};
        }
        case AnnotateFormat::csv: {
            put(l.row);
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
            return {};
        }
    }
    return {};
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

}  // namespace anondb::builder
