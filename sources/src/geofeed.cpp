// `geofeed`: RFC 8805 self-published IP geolocation feeds.
//
//   # ip_prefix, alpha2code, region, city, postal_code
//   2600:3c00::/32,US,US-TX,Richardson,
#include "anondb/sources/formats.hpp"
#include "lines.hpp"

namespace anondb::sources {
namespace {

// One CSV field: blanks trimmed, and one pair of surrounding double quotes
// removed (RFC 4180 quoting; the fields we read never contain quotes).
std::string_view field(std::string_view s) {
    s = detail::trim_blanks(s);
    if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
    return s;
}

constexpr bool is_ascii_letter(char c) noexcept {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

}  // namespace

ParseResult parse_geofeed(std::string_view body, const ParseOptions& options) {
    return detail::parse_lines(body, options, [body, &options](ParseResult& out, const detail::Line& line) {
        const std::string_view text = detail::trim_blanks(line.text);
        if (text.empty() || text.front() == '#') return;
        const std::size_t comma = text.find(',');
        const std::string_view prefix = field(text.substr(0, comma));
        std::string_view alpha2;
        if (comma != std::string_view::npos) {
            const std::string_view tail = text.substr(comma + 1);
            alpha2 = field(tail.substr(0, tail.find(',')));
        }
        const detail::TokenParse parsed = detail::parse_token(prefix, detail::Shape::prefix);
        if (!parsed.value) {
            detail::add_issue(out.rejects, line.number, parsed.reason, text);
        } else if (!alpha2.empty() && !(alpha2.size() == 2 && is_ascii_letter(alpha2[0]) &&
                                        is_ascii_letter(alpha2[1]))) {
            detail::add_issue(out.rejects, line.number, reasons::kBadAlpha2, text);
        } else {
            detail::accept(out, options, body, line.number, *parsed.value, text);
        }
    });
}

}  // namespace anondb::sources
