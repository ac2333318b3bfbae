// The JSON fields of one lookup, shared by `lookup --json` (annotate.cpp)
// and `explain --json` (cli.cpp), so both print them the same way.
#pragma once

#include <optional>
#include <string_view>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "anondb/category.hpp"
#include "anondb/explain.hpp"
#include "anondb/ip.hpp"
#include "anondb/reader.hpp"
#include "anondb/seen.hpp"

namespace anondb::builder {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

inline void json_str(JsonWriter& w, std::string_view s) {
    w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

// A string, or null when it is empty.
inline void json_str_or_null(JsonWriter& w, std::string_view s) {
    if (s.empty()) w.Null();
    else json_str(w, s);
}

inline void json_categories(JsonWriter& w, std::uint32_t flags) {
    w.StartArray();
    for (const auto& c : kCategoryNames)
        if (flags & c.bit) json_str(w, c.name);
    w.EndArray();
}

// ip, flagged, anonymous, categories, provider, asn, range, answer — in that
// order. Formats into stack buffers: bulk annotation calls it per line.
inline void json_result_fields(JsonWriter& w, Ip ip, const Segment& seg, const LookupResult& r) {
    char text[kRangeTextMax];
    json_str(w, "ip");
    json_str(w, std::string_view(text, format_ip_to(text, ip)));
    json_str(w, "flagged");
    w.Bool(r.flagged);
    json_str(w, "anonymous");
    w.Bool(r.anonymous());
    json_str(w, "categories");
    json_categories(w, r.categories);
    json_str(w, "provider");
    json_str_or_null(w, r.provider);
    json_str(w, "asn");
    if (r.asn == 0) w.Null();
    else w.Uint(r.asn);
    json_str(w, "range");
    json_str(w, std::string_view(text, format_range_to(text, seg.range)));
    json_str(w, "answer");
    w.Uint(seg.answer);
}

// first_seen, last_seen (dates, "YYYY-MM-DD") and confidence (1-99) of an
// address (FORMAT.md, Seen dates and confidence); null when it is not
// flagged, first_seen null when the file has no first-seen days.
inline void json_assessment_fields(JsonWriter& w, bool flagged, const Assessment& a,
                                   const std::optional<std::uint32_t>& first_seen) {
    json_str(w, "first_seen");
    if (flagged && first_seen) json_str(w, seen::iso_date(*first_seen));
    else w.Null();
    json_str(w, "last_seen");
    if (flagged) json_str(w, seen::iso_date(a.last_seen));
    else w.Null();
    json_str(w, "confidence");
    if (flagged) w.Uint(a.confidence);
    else w.Null();
}

}  // namespace anondb::builder
