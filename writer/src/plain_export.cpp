// Plain-text exports; see plain_export.hpp.
#include "anondb/plain_export.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <unordered_map>
#include <vector>

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

// Calls fn(range, record) for every flagged segment in `zone` (a zone from
// above) passing the filter's category and provider tests, in address order.
template <class Fn>
void walk_zone(const Database& db, const ExportFilter& filter, Range zone, Fn&& fn) {
    Ip cur = zone.first;
    while (true) {
        const Segment seg = db.locate(cur);
        const Ip last = std::min(seg.range.last, zone.last);
        if (seg.record != 0) {
            const LookupResult r = db.record(seg.record);
            if (filter_matches(filter, r)) fn(Range{cur, last}, r);
        }
        if (last == zone.last) break;
        cur = ip_next(last);
    }
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

// Distinct feed names of a record's provenance, computed once per record id.
class SourceCache {
public:
    explicit SourceCache(const ColdData& cold) : cold_(cold) {}
    const std::vector<std::string_view>& get(std::uint32_t record) {
        auto [it, fresh] = cache_.try_emplace(record);
        if (fresh)  // what explain(address).contributions lists, without its exclusion search
            for (const auto& c : cold_.contributions(record))
                if (std::find(it->second.begin(), it->second.end(), c.feed_name) == it->second.end())
                    it->second.push_back(c.feed_name);
        return it->second;
    }

private:
    const ColdData& cold_;
    std::unordered_map<std::uint32_t, std::vector<std::string_view>> cache_;
};

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
    out << "create " << name << "_v4 hash:net family inet -exist\n";
    out << "create " << name << "_v6 hash:net family inet6 -exist\n";
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
    SourceCache sources(cold);
    out << "start,end,cidrs,categories,provider,asn,sources\n";
    std::string field;
    for (const Range& zone : zones_of(filter.family))
        walk_zone(db, filter, zone, [&](Range r, const LookupResult& rec) {
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
            for (auto s : sources.get(rec.record)) {
                if (!field.empty()) field += '|';
                field += s;
            }
            csv_field(out, field);
            out << '\n';
        });
}

void write_jsonl(const Database& db, const ColdData& cold, const ExportFilter& filter, std::ostream& out) {
    SourceCache sources(cold);
    rapidjson::StringBuffer buf;
    auto str = [](rapidjson::Writer<rapidjson::StringBuffer>& w, std::string_view s) {
        w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
    };
    for (const Range& zone : zones_of(filter.family))
        walk_zone(db, filter, zone, [&](Range r, const LookupResult& rec) {
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
            for (auto s : sources.get(rec.record)) str(w, s);
            w.EndArray();
            w.EndObject();
            out.write(buf.GetString(), static_cast<std::streamsize>(buf.GetSize()));
            out << '\n';
        });
}

}  // namespace

std::optional<PlainFormat> plain_format(std::string_view name) {
    for (PlainFormat f : {PlainFormat::cidr, PlainFormat::nft, PlainFormat::ipset, PlainFormat::csv, PlainFormat::jsonl})
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
    }
    return "";
}

bool filter_matches(const ExportFilter& filter, const LookupResult& record) {
    if (!record.flagged()) return false;
    if (filter.categories != 0 && (record.categories & filter.categories) == 0) return false;
    if (!filter.provider.empty() && record.provider != filter.provider) return false;
    return true;
}

Error write_plain(const Database& db, const ColdData& cold, PlainFormat format, const ExportFilter& filter,
                  std::ostream& out, const std::string& set_name) {
    if ((format == PlainFormat::nft || format == PlainFormat::ipset) && !valid_set_name(set_name))
        return make_error(Status::invalid_argument,
                          "set name '" + set_name + "': want 1 to 28 of [A-Za-z0-9_], not starting with a digit");
    switch (format) {
        case PlainFormat::cidr: write_cidr(db, filter, out); break;
        case PlainFormat::nft: write_nft(db, filter, out, set_name); break;
        case PlainFormat::ipset: write_ipset(db, filter, out, set_name); break;
        case PlainFormat::csv: write_csv(db, cold, filter, out); break;
        case PlainFormat::jsonl: write_jsonl(db, cold, filter, out); break;
    }
    out.flush();
    if (!out) return make_error(Status::io, "writing the " + std::string(plain_format_name(format)) + " export");
    return {};
}

}  // namespace anondb::exports
