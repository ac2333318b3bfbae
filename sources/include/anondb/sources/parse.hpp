// Feed parsers: bytes of one fetched feed body in, entries with origin out.
//
// A parser knows the text format of one kind of feed and nothing else: not
// the category, the provider or the file format (the catalogue and the
// builder add those). Parsers never throw on bad input and never stop at the
// first bad line: each rejected line is reported with its number and reason,
// and parsing goes on.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "anondb/ip.hpp"

namespace anondb::sources {

// One accepted entry. The original text is body[text_offset, +text_length),
// so provenance can quote the feed exactly without copying every line.
struct ParsedEntry {
    Range range;
    std::uint32_t line = 0;  // 1-based line of the body the entry stands on
    std::size_t text_offset = 0;
    std::size_t text_length = 0;
};

// A line that was rejected (yields no entry) or accepted with a change
// (a prefix with host bits set, normalised). `reason` is a short fixed
// phrase so issues can be counted by reason; `text` is the offending text,
// cut to kIssueTextMax bytes.
struct LineIssue {
    std::uint32_t line = 0;
    std::string reason;
    std::string text;
};

inline constexpr std::size_t kIssueTextMax = 200;

struct ParseResult {
    std::vector<ParsedEntry> entries;
    std::vector<LineIssue> rejects;
    std::vector<LineIssue> warnings;
};

using ParserFn = ParseResult (*)(std::string_view body);

struct FormatInfo {
    std::string_view name;  // the `format:` value in feeds.yaml
    ParserFn parse;
    std::string_view description;
};

// Every known format, in a fixed order.
std::span<const FormatInfo> formats();

// nullptr when `name` is not a known format.
const FormatInfo* find_format(std::string_view name);

}  // namespace anondb::sources
