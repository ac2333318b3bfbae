// `plain`: one address, prefix or range per line, '#' and ';' comments.
#include "anondb/sources/formats.hpp"
#include "lines.hpp"

namespace anondb::sources {

ParseResult parse_plain(std::string_view body, const ParseOptions& options) {
    return detail::parse_lines(body, options, [body, &options](ParseResult& out, const detail::Line& line) {
        const std::string_view token = detail::trim_blanks(detail::before_comment(line.text, "#;"));
        if (token.empty()) return;
        detail::record(out, options, body, line.number, token, detail::trim_blanks(line.text), detail::Shape::any);
    });
}

}  // namespace anondb::sources
