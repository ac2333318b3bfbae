// `tor-exit-addresses`: TorDNSEL exit lists (check.torproject.org, CollecTor).
//
//   @type tordnsel 1.0                       (CollecTor only)
//   Downloaded 2017-07-17 17:02:00           (CollecTor only)
//   ExitNode 0011BD2485AD45D984EC4159C88FC066E5E3300E
//   Published 2017-07-17 13:20:49
//   LastStatus 2017-07-17 14:03:15
//   ExitAddress 162.247.72.201 2017-07-17 14:11:38
#include "anondb/sources/formats.hpp"
#include "lines.hpp"

namespace anondb::sources {

ParseResult parse_tor_exit_addresses(std::string_view body, const ParseOptions& options) {
    return detail::parse_lines(body, options, [body, &options](ParseResult& out, const detail::Line& line) {
        const std::string_view text = detail::trim_blanks(line.text);
        if (text.empty()) return;
        std::string_view rest;
        const std::string_view keyword = detail::first_word(text, rest);
        if (keyword == "ExitAddress") {
            std::string_view when;
            const std::string_view address = detail::first_word(rest, when);
            detail::record(out, options, body, line.number, address, text, detail::Shape::address);
        } else if (keyword == "ExitNode" || keyword == "Published" || keyword == "LastStatus" ||
                   keyword == "Downloaded") {
            return;
        } else if (keyword == "@type") {
            std::string_view version;
            if (detail::first_word(rest, version) != "tordnsel")
                detail::add_issue(out.rejects, line.number, reasons::kUnsupportedType, text);
        } else {
            detail::add_issue(out.rejects, line.number, reasons::kUnknownKeyword, text);
        }
    });
}

}  // namespace anondb::sources
