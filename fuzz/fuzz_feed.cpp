// One feed parser, chosen at compile time: ANONDB_FUZZ_FORMAT is the
// `format:` name of feeds.yaml (fuzz/CMakeLists.txt builds this file once
// per format). The body is the fuzz input, as a fetch would deliver it.
//
// Checked, beyond "no crash, no leak, no undefined behaviour, no throw":
// the parser contract of parse.hpp / asn.hpp / exclusions.hpp (every entry,
// row and issue on a line of the body, every quoted text inside the body,
// issue texts cut to kIssueTextMax, ranges with first <= last, ASN-list
// names and references valid UTF-8, never more than ParseOptions::max_entries
// results); and for range feeds, the content guards
// on what was parsed (builder/guard.hpp): pieces inside their entry, in
// order, disjoint, outside every reserved block, and no kept entry broader
// than the policy.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include "anondb/builder/guard.hpp"
#include "anondb/category.hpp"
#include "anondb/sources/asn.hpp"
#include "anondb/sources/exclusions.hpp"
#include "anondb/sources/parse.hpp"
#include "anondb/utf8.hpp"
#include "fuzz_common.hpp"

#ifndef ANONDB_FUZZ_FORMAT
#error "ANONDB_FUZZ_FORMAT (a feed format name) must be defined"
#endif

using namespace anondb;
using namespace anondb::fuzz;

namespace {

constexpr std::string_view kFormat = ANONDB_FUZZ_FORMAT;

enum class Kind { ranges, asn_list, asn_table, exclusions };

// The format's registry entry; aborts when the name is not a text format
// any more (a renamed or removed format must not leave a target fuzzing
// nothing).
struct Parser {
    Kind kind;
    const sources::FormatInfo* ranges = nullptr;
    const sources::AsnListFormat* asn_list = nullptr;
    const sources::AsnTableFormat* asn_table = nullptr;
};
Parser find_parser() {
    if (const auto* f = sources::find_format(kFormat)) return {Kind::ranges, f};
    if (const auto* f = sources::find_asn_list_format(kFormat)) return {Kind::asn_list, nullptr, f};
    if (const auto* f = sources::find_asn_table_format(kFormat); f && f->parse)
        return {Kind::asn_table, nullptr, nullptr, f};
    if (kFormat == sources::kExclusionsFormat) return {Kind::exclusions};
    std::fprintf(stderr, "fuzz target for '%.*s': not a text feed format of the registries\n",
                 static_cast<int>(kFormat.size()), kFormat.data());
    std::abort();
}
const Parser kParser = find_parser();

// The defaults for most inputs; for one in four (by the body's hash) limits
// small enough that a fuzz input reaches them: a line limit from 1 to 256
// bytes and an entry limit from 0 to 15.
sources::ParseOptions options_for(std::string_view body) {
    sources::ParseOptions o;
    const std::size_t h = std::hash<std::string_view>{}(body);
    if (h % 4 == 0) {
        o.max_line_bytes = 1 + (h >> 8) % 256;
        o.max_entries = (h >> 16) % 16;
    }
    return o;
}

// At most max_entries, and exactly that many when parsing stopped there.
void check_limit(std::size_t n, bool over, const sources::ParseOptions& o) {
    FUZZ_CHECK(n <= o.max_entries);
    if (over) FUZZ_CHECK(n == o.max_entries);
}

void check_issues(const std::vector<sources::LineIssue>& issues, std::uint32_t lines) {
    for (const auto& i : issues) {
        FUZZ_CHECK(i.line >= 1 && i.line <= lines);
        FUZZ_CHECK(!i.reason.empty());
        FUZZ_CHECK(i.text.size() <= sources::kIssueTextMax);
    }
}

using U128 = unsigned __int128;
U128 u128(Ip a) { return (U128{a.hi} << 64) | a.lo; }

// The guards on what a range feed parsed, under one policy.
void check_guards(const std::vector<sources::ParsedEntry>& entries, std::uint32_t categories) {
    const builder::GuardPolicy policy = builder::default_guard_policy(categories);
    const auto reserved = builder::reserved_blocks();
    std::vector<Range> pieces;
    const std::size_t n = std::min<std::size_t>(entries.size(), 512);
    for (std::size_t k = 0; k < n; ++k) {
        const Range entry = entries[k].range;
        pieces.clear();
        const auto g = builder::guard_entry(entry, policy, pieces);
        using Action = builder::GuardResult::Action;
        if (g.action == Action::reject) {
            FUZZ_CHECK(pieces.empty());
            FUZZ_CHECK(!g.reason.empty());
            continue;
        }
        FUZZ_CHECK(!pieces.empty());
        if (g.action == Action::keep) FUZZ_CHECK(pieces.size() == 1 && pieces[0] == entry);
        // Published space is never broader than the policy allows.
        const bool v4 = entry.first.is_v4() && entry.last.is_v4();
        const unsigned limit = v4 ? 96 + policy.broadest_v4 : policy.broadest_v6;
        if (limit > 0) FUZZ_CHECK(u128(entry.last) - u128(entry.first) < (U128{1} << (128 - limit)));
        for (std::size_t i = 0; i < pieces.size(); ++i) {
            const Range& p = pieces[i];
            FUZZ_CHECK(valid_range(p));
            FUZZ_CHECK(entry.first <= p.first && p.last <= entry.last);
            if (i > 0) FUZZ_CHECK(pieces[i - 1].last < p.first);
            // No reserved block overlaps a piece: the first block ending at
            // or after the piece's first address starts after its last.
            const auto it = std::lower_bound(reserved.begin(), reserved.end(), p.first,
                                             [](const builder::ReservedBlock& b, Ip a) { return b.range.last < a; });
            FUZZ_CHECK(it == reserved.end() || p.last < it->range.first);
        }
    }
}

void fuzz_ranges(std::string_view body, std::uint32_t lines, const sources::ParseOptions& o) {
    const sources::ParseResult r = kParser.ranges->parse(body, o);
    check_limit(r.entries.size(), r.over_max_entries, o);
    for (const auto& e : r.entries) {
        FUZZ_CHECK(valid_range(e.range));
        FUZZ_CHECK(e.line >= 1 && e.line <= lines);
        FUZZ_CHECK(inside(e.text_offset, e.text_length, body.size()));
    }
    check_issues(r.rejects, lines);
    check_issues(r.warnings, lines);
    // A policy from the body, so every category's limits get exercised.
    const std::uint32_t category = 1u << (body.size() % 6);
    check_guards(r.entries, category);
}

void fuzz_asn_list(std::string_view body, std::uint32_t lines, const sources::ParseOptions& o) {
    const sources::AsnList l = kParser.asn_list->parse(body, o);
    check_limit(l.entries.size(), l.over_max_entries, o);
    for (const auto& e : l.entries) {
        FUZZ_CHECK(e.line >= 1 && e.line <= lines);
        FUZZ_CHECK(inside(e.text_offset, e.text_length, body.size()));
        FUZZ_CHECK((e.categories & ~kAllCategories) == 0);
        // SECURITY.md: a name or reference that is not UTF-8 rejects its line.
        FUZZ_CHECK(valid_utf8(e.provider));
        FUZZ_CHECK(valid_utf8(e.reference));
    }
    check_issues(l.rejects, lines);
    check_issues(l.warnings, lines);
}

void fuzz_asn_table(std::string_view body, std::uint32_t lines, const sources::ParseOptions& o) {
    const sources::AsnTable t = kParser.asn_table->parse(body, o);
    check_limit(t.rows.size(), t.over_max_entries, o);
    for (const auto& row : t.rows) {
        FUZZ_CHECK(valid_range(row.range));
        FUZZ_CHECK(row.line >= 1 && row.line <= lines);
        FUZZ_CHECK(inside(row.text_offset, row.text_length, t.text.size()));
        FUZZ_CHECK(inside(row.asn_begin, row.asn_count, t.asns.size()));
    }
    check_issues(t.rejects, lines);
    check_issues(t.warnings, lines);
}

void fuzz_exclusions(std::string_view body, std::uint32_t lines, const sources::ParseOptions& o) {
    const sources::ExclusionList x = sources::parse_exclusions(body, o);
    check_limit(x.rules.size(), x.over_max_entries, o);
    for (const auto& rule : x.rules) {
        FUZZ_CHECK(rule.line >= 1 && rule.line <= lines);
        FUZZ_CHECK(inside(rule.text_offset, rule.text_length, body.size()));
        if (rule.kind == sources::ExclusionRule::Kind::prefix) FUZZ_CHECK(valid_range(rule.range));
    }
    check_issues(x.rejects, lines);
    check_issues(x.warnings, lines);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view body = as_text(data, size);
    const std::uint32_t lines = line_count(body);
    const sources::ParseOptions o = options_for(body);
    switch (kParser.kind) {
        case Kind::ranges: fuzz_ranges(body, lines, o); break;
        case Kind::asn_list: fuzz_asn_list(body, lines, o); break;
        case Kind::asn_table: fuzz_asn_table(body, lines, o); break;
        case Kind::exclusions: fuzz_exclusions(body, lines, o); break;
    }
    return 0;
}
