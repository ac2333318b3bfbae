// Feed parsers: bytes of one fetched feed body in, entries with origin out.
//
// A parser knows the text format of one kind of feed and nothing else: not
// the category, the provider or the file format (the catalogue and the
// builder add those). Parsers never throw on bad input and never stop at the
// first bad line: each rejected line is reported with its number and reason,
// and parsing goes on. They stop early only at ParseOptions::max_entries.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
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

// The issues of one parse: the first kKept in full (line, reason, text),
// every one counted by reason, and the last one. A body of millions of bad
// lines costs counts, not millions of strings (64 MiB of junk lines kept in
// full took 3.5 GB). Reads like the vector of the kept issues.
class IssueList {
public:
    static constexpr std::size_t kKept = 1000;

    void push_back(LineIssue issue) {
        ++total_;
        if (auto it = by_reason_.find(issue.reason); it != by_reason_.end()) ++it->second;
        else by_reason_.emplace(issue.reason, 1);
        if (kept_.size() < kKept) kept_.push_back(issue);
        last_ = std::move(issue);
    }
    // Every issue, counted; `size()` and the iterators see the kept ones.
    std::uint64_t total() const noexcept { return total_; }
    const std::map<std::string, std::uint64_t, std::less<>>& counts() const noexcept { return by_reason_; }
    const LineIssue& back() const noexcept { return last_; }  // the last pushed, kept or not

    std::size_t size() const noexcept { return kept_.size(); }
    bool empty() const noexcept { return total_ == 0; }
    const LineIssue& front() const noexcept { return kept_.front(); }
    const LineIssue& operator[](std::size_t i) const noexcept { return kept_[i]; }
    auto begin() const noexcept { return kept_.begin(); }
    auto end() const noexcept { return kept_.end(); }
    const std::vector<LineIssue>& kept() const noexcept { return kept_; }
    operator const std::vector<LineIssue>&() const noexcept { return kept_; }

private:
    std::vector<LineIssue> kept_;
    std::map<std::string, std::uint64_t, std::less<>> by_reason_;
    std::uint64_t total_ = 0;
    LineIssue last_;
};

// Limits a parser enforces on one body (feeds.yaml sets them per feed:
// max_line_bytes, max_entries).
inline constexpr std::size_t kDefaultMaxLineBytes = std::size_t{64} << 10;
inline constexpr std::uint64_t kDefaultMaxEntries = 5'000'000;

struct ParseOptions {
    // Line formats only (JSON documents and databases have no line limit). A
    // longer line, not counting its line ending, is rejected whole with the
    // reason reasons::line_too_long(max_line_bytes) and its text cut, without
    // being looked at any further; parsing goes on with the next line.
    std::size_t max_line_bytes = kDefaultMaxLineBytes;
    // Every format. The first entry over the limit is not added: it is
    // rejected with reasons::kTooManyEntries, `over_max_entries` is set and
    // parsing stops there, so a huge body never becomes a huge vector.
    std::uint64_t max_entries = kDefaultMaxEntries;
};

struct ParseResult {
    std::vector<ParsedEntry> entries;
    IssueList rejects;
    IssueList warnings;
    bool over_max_entries = false;  // stopped at ParseOptions::max_entries: `entries` is a partial list
};

// A parser or reader in a format registry: a function of the input and the
// options, callable with the input alone (default options), so `parse(body)`
// reads as it did before options existed.
template <class Result, class Input>
class WithOptions {
public:
    using Fn = Result (*)(Input, const ParseOptions&);
    constexpr WithOptions() noexcept = default;
    constexpr WithOptions(std::nullptr_t) noexcept {}
    constexpr WithOptions(Fn fn) noexcept : fn_(fn) {}

    Result operator()(Input input, const ParseOptions& options = {}) const { return fn_(input, options); }
    explicit constexpr operator bool() const noexcept { return fn_ != nullptr; }
    friend constexpr bool operator==(WithOptions, WithOptions) noexcept = default;

private:
    Fn fn_ = nullptr;
};

using ParserFn = WithOptions<ParseResult, std::string_view>;

struct FormatInfo {
    std::string_view name;  // the `format:` value in feeds.yaml
    ParserFn parse;
    std::string_view description;
    bool line_based = false;  // read line by line (ParseOptions::max_line_bytes applies)
};

// Every known format, in a fixed order.
std::span<const FormatInfo> formats();

// nullptr when `name` is not a known format.
const FormatInfo* find_format(std::string_view name);

// Whether the format `name`, of any role (range feeds, ASN lists, ASN
// tables, exclusions), is read line by line: false for JSON documents,
// databases and unknown names.
bool line_based_format(std::string_view name);

}  // namespace anondb::sources
