// Helpers shared by the parsers: line splitting, comments, recording entries
// and issues. Private to sources/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "anondb/sources/formats.hpp"
#include "anondb/sources/parse.hpp"

namespace anondb::sources::detail {

inline constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

// Length of the UTF-8 byte order mark at the start of `body` (0 or 3).
constexpr std::size_t bom_length(std::string_view body) noexcept {
    return body.substr(0, kUtf8Bom.size()) == kUtf8Bom ? kUtf8Bom.size() : 0;
}

struct Line {
    std::string_view text;  // a view into the body, without "\n" or "\r\n"
    std::uint32_t number = 0;  // 1-based
};

// Walks the lines of a body. Line 1 starts after a UTF-8 BOM, if any; a
// final line without '\n' is still a line. The caller makes sure the body is
// smaller than kMaxBodyBytes so line numbers fit.
class LineCursor {
public:
    explicit LineCursor(std::string_view body) noexcept : body_(body), pos_(bom_length(body)) {}

    bool next(Line& out) noexcept;

private:
    std::string_view body_;
    std::size_t pos_;
    std::uint32_t number_ = 0;
};

// Strips spaces and tabs at both ends.
constexpr std::string_view trim_blanks(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// The part of `s` before the first character that is one of `markers`.
constexpr std::string_view before_comment(std::string_view s, std::string_view markers) noexcept {
    return s.substr(0, s.find_first_of(markers));
}

// Splits off the first blank-separated word; `rest` gets the remainder with
// leading blanks removed.
std::string_view first_word(std::string_view s, std::string_view& rest) noexcept;

// `s` cut to kIssueTextMax bytes, not splitting a UTF-8 sequence when the
// cut falls inside one.
std::string issue_text(std::string_view s);

void add_issue(IssueList& to, std::uint32_t line, std::string_view reason,
               std::string_view text);

// What a token may be.
enum class Shape {
    address,  // one address (parse_ip)
    prefix,   // one address or ADDR/LEN, not a range
    any,      // address, prefix or range (parse_range)
};

// A token parsed as `shape`: the range, or why it is not one (a fixed
// reason: ip_error_text or kRangeNotPrefix).
struct TokenParse {
    std::optional<ParsedRange> value;
    std::string_view reason;
};
TokenParse parse_token(std::string_view token, Shape shape) noexcept;

// Whether a result holding `count` entries may take one more under
// options.max_entries. When it may not, records the kTooManyEntries reject
// on `line` quoting `quote` and sets `over`: the caller adds nothing and
// parsing stops.
bool entry_allowed(std::size_t count, const ParseOptions& options, IssueList& rejects, bool& over,
                   std::uint32_t line, std::string_view quote);

// Adds an entry quoting `quote` (a view into `body`), plus a kHostBits
// warning when host bits were cleared; or, past options.max_entries, nothing
// (entry_allowed). Returns whether the entry was added.
bool accept(ParseResult& out, const ParseOptions& options, std::string_view body, std::uint32_t line,
            const ParsedRange& parsed, std::string_view quote);

// parse_token, then accept or a reject quoting `quote`. Returns whether an
// entry was added.
bool record(ParseResult& out, const ParseOptions& options, std::string_view body, std::uint32_t line,
            std::string_view token, std::string_view quote, Shape shape);

// A body too large for 32-bit line numbers: records the reject and returns
// true; the parser then returns at once.
bool refuse_oversized(std::string_view body, IssueList& rejects);

// The frame of every line-oriented parser: refuses an oversized body, then
// walks the lines until `stop` is true (an entry limit was met). A line
// longer than options.max_line_bytes is one reject into `rejects`
// (reasons::line_too_long, quoting its cut start) and is not looked at again:
// the only pass over its bytes is the search for its end. Every other line
// goes to on_line(line).
template <class OnLine>
void for_each_line(std::string_view body, const ParseOptions& options, IssueList& rejects,
                   const bool& stop, OnLine on_line) {
    if (refuse_oversized(body, rejects)) return;
    const std::string too_long = reasons::line_too_long(options.max_line_bytes);
    LineCursor cursor(body);
    Line line;
    while (!stop && cursor.next(line)) {
        if (line.text.size() > options.max_line_bytes) {
            add_issue(rejects, line.number, too_long, line.text);
            continue;
        }
        on_line(line);
    }
}

// for_each_line into a ParseResult: on_line(out, line) for each line, until
// an entry limit is met (out.over_max_entries).
template <class OnLine>
ParseResult parse_lines(std::string_view body, const ParseOptions& options, OnLine on_line) {
    ParseResult out;
    for_each_line(body, options, out.rejects, out.over_max_entries, [&](const Line& line) { on_line(out, line); });
    return out;
}

// An AS number as lists write it: "AS1234", "as1234" or "1234", from 1 to
// 4294967295; leading zeros allowed.
struct AsnToken {
    std::uint32_t asn = 0;
    std::string_view reason;  // reasons::kBadAsn, kAsnZero or kAsnTooLarge; empty when good
};
AsnToken parse_asn_token(std::string_view s) noexcept;

// RFC 4180 fields of one line: comma separated, a field may be wrapped in
// double quotes (then it may hold commas, and "" stands for one quote).
// Blanks around a field, inside or outside its quotes, are trimmed. A quote
// in an unquoted field, text after a closing quote or an unterminated quote
// make the line kBadQuoting (returns false).
bool split_csv(std::string_view line, std::vector<std::string>& fields);

}  // namespace anondb::sources::detail
