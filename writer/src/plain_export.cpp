// Plain-text exports; see plain_export.hpp.
#include "anondb/plain_export.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "anondb/utf8.hpp"

namespace anondb::exports {
namespace {

// The three zones of the 128-bit space the reader's tables meet at.
constexpr Range kBelowV4{kIpMin, ip_prev(kV4First)};
constexpr Range kV4Zone{kV4First, kV4Last};
constexpr Range kAboveV4{ip_next(kV4Last), kIpMax};

// The zones a filter's family asks for, in address order.
std::vector<Range> zones_of(ExportFilter::Family family) {
    switch (family) {
        case ExportFilter::Family::v4: return {kV4Zone};
        case ExportFilter::Family::v6: return {kBelowV4, kAboveV4};
        case ExportFilter::Family::both: break;
    }
    return {kBelowV4, kV4Zone, kAboveV4};
}

// Calls fn(range, its LookupResult) for every flagged segment in `zone` (a
// zone from above) passing the filter's category and provider tests, in
// address order.
template <class Fn>
void walk_zone(const Database& db, const ExportFilter& filter, Range zone, Fn&& fn) {
    Ip cur = zone.first;
    while (true) {
        const Segment seg = db.locate(cur);
        const Ip last = std::min(seg.range.last, zone.last);
        if (seg.answer != 0) {
            const LookupResult r = db.answer(seg.answer);
            if (filter_matches(filter, r)) fn(Range{cur, last}, r);
        }
        if (last == zone.last) break;
        cur = ip_next(last);
    }
}

// Calls fn(range, its LookupResult, its sources) for every maximal range
// of one answer and one set of sources in the filter's zones that passes
// the filter, in address order. One sweep over the evidence (ColdData::
// for_each_piece); sources are the distinct feed names of the evidence
// covering the range, in origin order.
template <class Fn>
void walk_sourced(const Database& db, const ColdData& cold, const ExportFilter& filter, Fn&& fn) {
    const std::vector<Range> zones = zones_of(filter.family);
    struct Pending {
        Range range;
        std::size_t zone;
        std::uint32_t answer;
        std::vector<std::string_view> sources;
    };
    std::optional<Pending> pending;
    auto flush = [&] {
        if (pending) fn(pending->range, db.answer(pending->answer), pending->sources);
        pending.reset();
    };
    std::vector<std::string_view> sources;
    cold.for_each_piece([&](const Piece& piece) {
        if (piece.rows.empty()) return;
        cold.sources_of(piece.rows, sources);
        for (std::size_t z = 0; z < zones.size(); ++z) {
            const Range r{std::max(piece.range.first, zones[z].first), std::min(piece.range.last, zones[z].last)};
            if (r.last < r.first) continue;
            const std::uint32_t answer = db.locate(r.first).answer;
            if (!filter_matches(filter, db.answer(answer))) {
                flush();
                continue;
            }
            if (pending && pending->zone == z && pending->answer == answer && pending->sources == sources &&
                ip_next(pending->range.last) == r.first) {
                pending->range.last = r.last;
                continue;
            }
            flush();
            pending = Pending{r, z, answer, sources};
        }
    });
    flush();
}

// Merges adjacent kept ranges of one zone and hands out the CIDRs of the union.
template <class Fn>
void walk_merged_cidrs(const Database& db, const ExportFilter& filter, Range zone, Fn&& emit) {
    std::optional<Range> pending;
    auto flush = [&] {
        if (!pending) return;
        for (const auto& [addr, len] : range_to_cidrs(*pending)) emit(addr, len);
        pending.reset();
    };
    walk_zone(db, filter, zone, [&](Range r, const LookupResult&) {
        if (pending && pending->last != kIpMax && ip_next(pending->last) == r.first) {
            pending->last = r.last;
            return;
        }
        flush();
        pending = r;
    });
    flush();
}

std::string cidr_text(Ip addr, unsigned len) {
    if (addr.is_v4() && len >= 96) return format_ip(addr) + "/" + std::to_string(len - 96);
    return format_ip(addr) + "/" + std::to_string(len);
}

bool valid_set_name(const std::string& s) {
    if (s.empty() || s.size() > 28) return false;
    if (s[0] >= '0' && s[0] <= '9') return false;
    return std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    });
}

// RFC 4180: quote a field holding a comma, a quote or a line break.
void csv_field(std::ostream& out, std::string_view s) {
    if (s.find_first_of(",\"\r\n") == std::string_view::npos) {
        out << s;
        return;
    }
    out << '"';
    for (char c : s) {
        if (c == '"') out << '"';
        out << c;
    }
    out << '"';
}

void write_cidr(const Database& db, const ExportFilter& filter, std::ostream& out) {
    for (const Range& zone : zones_of(filter.family))
        walk_merged_cidrs(db, filter, zone, [&](Ip addr, unsigned len) { out << cidr_text(addr, len) << '\n'; });
}

void write_nft(const Database& db, const ExportFilter& filter, std::ostream& out, const std::string& name) {
    out << "table inet anondb {\n";
    const bool want_v4 = filter.family != ExportFilter::Family::v6;
    const bool want_v6 = filter.family != ExportFilter::Family::v4;
    auto set = [&](const char* suffix, const char* type, std::vector<Range> zones) {
        out << "\tset " << name << suffix << " {\n\t\ttype " << type << "\n\t\tflags interval\n";
        bool any = false;
        for (const Range& zone : zones)
            walk_merged_cidrs(db, filter, zone, [&](Ip addr, unsigned len) {
                out << (any ? ",\n\t\t\t     " : "\t\telements = { ") << cidr_text(addr, len);
                any = true;
            });
        if (any) out << " }\n";
        out << "\t}\n";
    };
    set("_v4", "ipv4_addr", want_v4 ? std::vector<Range>{kV4Zone} : std::vector<Range>{});
    set("_v6", "ipv6_addr", want_v6 ? std::vector<Range>{kBelowV4, kAboveV4} : std::vector<Range>{});
    out << "}\n";
}

void write_ipset(const Database& db, const ExportFilter& filter, std::ostream& out, const std::string& name) {
    // A set holds at most maxelem entries (default 65536, and restore fails
    // with "Hash is full" past it): size each set to its element count.
    std::size_t count_v4 = 0, count_v6 = 0;
    for (const Range& zone : zones_of(filter.family)) {
        std::size_t& n = zone == kV4Zone ? count_v4 : count_v6;
        walk_merged_cidrs(db, filter, zone, [&](Ip, unsigned len) { n += zone == kV4Zone && len == 96 ? 2 : 1; });
    }
    constexpr std::size_t kDefaultMaxelem = 65536;
    out << "create " << name << "_v4 hash:net family inet maxelem " << std::max(count_v4, kDefaultMaxelem)
        << " -exist\n";
    out << "create " << name << "_v6 hash:net family inet6 maxelem " << std::max(count_v6, kDefaultMaxelem)
        << " -exist\n";
    for (const Range& zone : zones_of(filter.family)) {
        const char* suffix = zone == kV4Zone ? "_v4 " : "_v6 ";
        walk_merged_cidrs(db, filter, zone, [&](Ip addr, unsigned len) {
            if (zone == kV4Zone && len == 96) {  // hash:net takes no /0: two /1 halves
                out << "add " << name << suffix << "0.0.0.0/1 -exist\n";
                out << "add " << name << suffix << "128.0.0.0/1 -exist\n";
                return;
            }
            out << "add " << name << suffix << cidr_text(addr, len) << " -exist\n";
        });
    }
}

void write_csv(const Database& db, const ColdData& cold, const ExportFilter& filter, std::ostream& out) {
    out << "start,end,cidrs,categories,provider,asn,sources\n";
    std::string field;
    walk_sourced(db, cold, filter, [&](Range r, const LookupResult& rec, const std::vector<std::string_view>& sources) {
            out << format_ip(r.first) << ',' << format_ip(r.last) << ',';
            field.clear();
            for (const auto& [addr, len] : range_to_cidrs(r)) {
                if (!field.empty()) field += ' ';
                field += cidr_text(addr, len);
            }
            out << field << ',';
            csv_field(out, category_list(rec.categories, '|'));
            out << ',';
            csv_field(out, rec.provider);
            out << ',';
            if (rec.asn != 0) out << rec.asn;
            out << ',';
            field.clear();
            for (auto s : sources) {
                if (!field.empty()) field += '|';
                field += s;
            }
            csv_field(out, field);
            out << '\n';
        });
}

void write_jsonl(const Database& db, const ColdData& cold, const ExportFilter& filter, std::ostream& out) {
    rapidjson::StringBuffer buf;
    auto str = [](rapidjson::Writer<rapidjson::StringBuffer>& w, std::string_view s) {
        w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
    };
    walk_sourced(db, cold, filter, [&](Range r, const LookupResult& rec, const std::vector<std::string_view>& sources) {
            buf.Clear();
            rapidjson::Writer<rapidjson::StringBuffer> w(buf);
            w.StartObject();
            w.Key("start");
            str(w, format_ip(r.first));
            w.Key("end");
            str(w, format_ip(r.last));
            w.Key("cidrs");
            w.StartArray();
            for (const auto& [addr, len] : range_to_cidrs(r)) str(w, cidr_text(addr, len));
            w.EndArray();
            w.Key("categories");
            w.StartArray();
            for (const auto& c : kCategoryNames)
                if (rec.categories & c.bit) str(w, c.name);
            w.EndArray();
            w.Key("anonymous");
            w.Bool(rec.anonymous());
            w.Key("provider");
            if (rec.provider.empty()) w.Null();
            else str(w, rec.provider);
            w.Key("asn");
            if (rec.asn == 0) w.Null();
            else w.Uint(rec.asn);
            w.Key("sources");
            w.StartArray();
            for (auto s : sources) str(w, s);
            w.EndArray();
            w.EndObject();
            out.write(buf.GetString(), static_cast<std::streamsize>(buf.GetSize()));
            out << '\n';
        });
}

// ---- pgsql -----------------------------------------------------------------------

// Appends `s` as valid UTF-8 without NUL: a byte that does not start a
// well-formed sequence (Unicode Table 3-7: no overlongs, surrogates or
// values past U+10FFFF), and NUL, become U+FFFD; the rest is copied.
void append_clean_utf8(std::string& out, std::string_view s) {
    constexpr std::string_view kReplacement = "\xEF\xBF\xBD";
    for (std::size_t i = 0; i < s.size();) {
        const std::size_t n = utf8_sequence_length(s, i);
        if (n == 0) {
            out += kReplacement;
            ++i;
        } else {
            out.append(s, i, n);
            i += n;
        }
    }
}

// A COPY text-format field: backslash, tab (the delimiter), newline and CR
// escaped; nothing else needs it (\. and \N cannot occur: every backslash
// of the data is doubled).
void append_copy_escaped(std::string& out, std::string_view s) {
    for (char c : s) {
        switch (c) {
            case '\\': out += "\\\\"; break;
            case '\t': out += "\\t"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            default: out += c;
        }
    }
}

// A text field, cleaned to UTF-8 and COPY-escaped.
void append_copy_text(std::string& out, std::string_view s, std::string& scratch) {
    scratch.clear();
    append_clean_utf8(scratch, s);
    append_copy_escaped(out, scratch);
}

// A text[] field: the array literal {"a","b"} with every element quoted
// (inside the quotes \ and " are backslash-escaped), then COPY-escaped.
template <class Items>
void append_copy_array(std::string& out, const Items& items, std::string& scratch) {
    std::string literal = "{";
    for (const auto& item : items) {
        if (literal.size() > 1) literal += ',';
        literal += '"';
        scratch.clear();
        append_clean_utf8(scratch, item);
        for (char c : scratch) {
            if (c == '"' || c == '\\') literal += '\\';
            literal += c;
        }
        literal += '"';
    }
    literal += '}';
    append_copy_escaped(out, literal);
}

void write_pgsql(const Database& db, const ColdData& cold, const ExportFilter& filter, std::ostream& out,
                 const std::string& name) {
    const std::string table = name + "_ranges";
    std::string columns = "range, categories, anonymous";
    for (const auto& c : kCategoryNames) columns += ", " + std::string(c.name);
    columns += ", provider, asn, sources";

    out << "-- anondb pgsql export: one row of " << table << " per exported range (needs the ip4r extension).\n"
        << "-- Load with: psql -v ON_ERROR_STOP=1 -f FILE. Loading again replaces the table.\n"
        << "\\set ON_ERROR_STOP on\n"
        << "BEGIN;\n"
        << "SET LOCAL client_encoding = 'UTF8';\n"
        << "SET LOCAL client_min_messages = warning;\n"
        << "CREATE EXTENSION IF NOT EXISTS ip4r;\n"
        << "DROP TABLE IF EXISTS " << table << ";\n"
        << "CREATE TABLE " << table << " (\n"
        << "    range iprange NOT NULL,\n"
        << "    categories text[] NOT NULL,\n"
        << "    anonymous boolean NOT NULL,\n";
    for (const auto& c : kCategoryNames) out << "    " << c.name << " boolean NOT NULL,\n";
    out << "    provider text,\n"
        << "    asn bigint,\n"
        << "    sources text[] NOT NULL\n"
        << ");\n"
        << "COPY " << table << " (" << columns << ") FROM stdin;\n";

    std::string line, scratch;
    std::vector<std::string_view> cats;
    walk_sourced(db, cold, filter, [&](Range r, const LookupResult& rec, const std::vector<std::string_view>& sources) {
            line.clear();
            line += format_range(r);
            line += '\t';
            cats.clear();
            for (const auto& c : kCategoryNames)
                if (rec.categories & c.bit) cats.push_back(c.name);
            append_copy_array(line, cats, scratch);
            line += rec.anonymous() ? "\tt" : "\tf";
            for (const auto& c : kCategoryNames) line += (rec.categories & c.bit) ? "\tt" : "\tf";
            line += '\t';
            if (rec.provider.empty()) line += "\\N";
            else append_copy_text(line, rec.provider, scratch);
            line += '\t';
            if (rec.asn == 0) line += "\\N";
            else line += std::to_string(rec.asn);
            line += '\t';
            append_copy_array(line, sources, scratch);
            line += '\n';
            out << line;
        });

    out << "\\.\n"
        << "CREATE INDEX " << table << "_range_idx ON " << table << " USING gist (range);\n"
        << "ANALYZE " << table << ";\n"
        << "COMMIT;\n";
}

}  // namespace

std::optional<PlainFormat> plain_format(std::string_view name) {
    for (PlainFormat f : {PlainFormat::cidr, PlainFormat::nft, PlainFormat::ipset, PlainFormat::csv, PlainFormat::jsonl,
                          PlainFormat::pgsql})
        if (plain_format_name(f) == name) return f;
    return std::nullopt;
}

std::string_view plain_format_name(PlainFormat format) {
    switch (format) {
        case PlainFormat::cidr: return "cidr";
        case PlainFormat::nft: return "nft";
        case PlainFormat::ipset: return "ipset";
        case PlainFormat::csv: return "csv";
        case PlainFormat::jsonl: return "jsonl";
        case PlainFormat::pgsql: return "pgsql";
    }
    return "";
}

bool filter_matches(const ExportFilter& filter, const LookupResult& answer) {
    if (!answer.flagged) return false;
    if (filter.categories != 0 && (answer.categories & filter.categories) == 0) return false;
    if (!filter.provider.empty() && answer.provider != filter.provider) return false;
    return true;
}

Error write_plain(const Database& db, const ColdData& cold, PlainFormat format, const ExportFilter& filter,
                  std::ostream& out, const std::string& set_name) {
    const bool named = format == PlainFormat::nft || format == PlainFormat::ipset || format == PlainFormat::pgsql;
    if (named && !valid_set_name(set_name))
        return make_error(Status::invalid_argument,
                          "set name '" + set_name + "': want 1 to 28 of [A-Za-z0-9_], not starting with a digit");
    switch (format) {
        case PlainFormat::cidr: write_cidr(db, filter, out); break;
        case PlainFormat::nft: write_nft(db, filter, out, set_name); break;
        case PlainFormat::ipset: write_ipset(db, filter, out, set_name); break;
        case PlainFormat::csv: write_csv(db, cold, filter, out); break;
        case PlainFormat::jsonl: write_jsonl(db, cold, filter, out); break;
        case PlainFormat::pgsql: write_pgsql(db, cold, filter, out, set_name); break;
    }
    out.flush();
    if (!out) return make_error(Status::io, "writing the " + std::string(plain_format_name(format)) + " export");
    return {};
}

}  // namespace anondb::exports
