// `plain`: one address, prefix or range per line, '#' and ';' comments.
#include "anondb/sources/formats.hpp"
#include "lines.hpp"

namespace anondb::sources {

ParseResult parse_plain(std::string_view body) {
    ParseResult out;
    if (detail::refuse_oversized(body, out)) return out;
    detail::LineCursor cursor(body);
    detail::Line line;
    while (cursor.next(line)) {
        const std::string_view token = detail::trim_blanks(detail::before_comment(line.text, "#;"));
        if (token.empty()) continue;
        detail::record(out, body, line.number, token, detail::trim_blanks(line.text),
                       detail::Shape::any);
    }
    return out;
}

}  // namespace anondb::sources
