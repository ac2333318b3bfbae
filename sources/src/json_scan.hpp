// The frame of every JSON parser: one pass of RapidJSON's SAX reader over the
// body, guided by a small constant schema that says where the strings to read
// stand (e.g. root{prefixes[{ip_prefix}]}). Everything the schema does not
// name is skipped. Private to sources/.
//
// The reader runs in situ over a copy of the body, so every string it reports
// points into the copy and its offset is that of the same text in the body.
// Iterative parsing keeps deep nesting off the call stack.
//
// What scan() reports:
// - a syntax error anywhere (an HTML page, a truncated download): no entries
//   and exactly one reject, on the error's line, reason kNotJsonPrefix + the
//   reader's message; a partial list must not pass for the whole feed;
// - a value of the wrong kind where the schema names one: Node::wrong_kind,
//   on the value's line, quoting that line; the value is then skipped;
// - a required member absent from its object: Member::missing, on the line of
//   the object's '{' (line 1 for the root object), quoting that line;
// - a second member of a slot that must be unique: Member::duplicate;
// - each string read: an entry quoting the string as written (between its
//   quotes, escapes undecoded), or a reject with the reason from parse_token
//   (or Node::token) or Node::wrong_family, quoting the same text;
// - the string that would be entry max_entries + 1 (ParseOptions): a
//   kTooManyEntries reject, over_max_entries, and the scan stops there (the
//   rest of the document is not read, so not checked either).
// ParseOptions::max_line_bytes does not apply: a JSON document may be one
// line.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "anondb/sources/parse.hpp"
#include "lines.hpp"

namespace anondb::sources::detail::json {

enum class Kind : std::uint8_t { object, array, string };

// The way an address or prefix must be written (':' or not), checked after
// it parsed.
enum class Family : std::uint8_t { any, v4, v6 };

struct Node;

// A member of an object that is read. Members that share a slot (below 32)
// are alternatives: one of them satisfies `missing`, a second one of them is
// a `duplicate`.
struct Member {
    std::string_view key;
    const Node* node = nullptr;
    unsigned slot = 0;
    std::string_view missing{};    // reason when the slot is absent; empty: optional
    std::string_view duplicate{};  // reason for a second member of the slot; empty: every one is read
};

// Turns the decoded text of a string into a range (replaces parse_token).
using TokenFn = TokenParse (*)(std::string_view text);

// What a value must be, and for containers what is read inside.
struct Node {
    Kind kind = Kind::object;
    std::string_view wrong_kind{};      // reason when the value is of another kind
    std::span<const Member> members{};  // object: members read; others are skipped
    const Node* element = nullptr;      // array: what every element must be
    Shape shape = Shape::prefix;        // string: parsed with parse_token(text, shape)...
    TokenFn token = nullptr;            // ...or with this, when set
    Family family = Family::any;        // string: required family of the written text
    std::string_view wrong_family{};
};

// Parses `body` (after refuse_oversized and a UTF-8 BOM) as one JSON document
// whose root must be `root`. Never throws on bad input.
ParseResult scan(std::string_view body, const Node& root, const ParseOptions& options);

}  // namespace anondb::sources::detail::json
