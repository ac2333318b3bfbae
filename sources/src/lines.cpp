#include "lines.hpp"

#include <algorithm>

#include "anondb/ip.hpp"

namespace anondb::sources {

std::string reasons::line_too_long(std::size_t max_line_bytes) {
    return std::string(kLineTooLongPrefix) + std::to_string(max_line_bytes) + " bytes";
}

}  // namespace anondb::sources

namespace anondb::sources::detail {

bool LineCursor::next(Line& out) noexcept {
    if (pos_ >= body_.size()) return false;
    const std::size_t end = body_.find('\n', pos_);
    std::string_view text = end == std::string_view::npos ? body_.substr(pos_)
                                                          : body_.substr(pos_, end - pos_);
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    pos_ = end == std::string_view::npos ? body_.size() : end + 1;
    out.text = text;
    out.number = ++number_;
    return true;
}

std::string_view first_word(std::string_view s, std::string_view& rest) noexcept {
    s = trim_blanks(s);
    const std::size_t end = s.find_first_of(" \t");
    if (end == std::string_view::npos) {
        rest = {};
        return s;
    }
    rest = trim_blanks(s.substr(end));
    return s.substr(0, end);
}

std::string issue_text(std::string_view s) {
    if (s.size() <= kIssueTextMax) return std::string(s);
    std::size_t n = kIssueTextMax;
    // s[n] is the first byte left out; back off over a split UTF-8 sequence
    // (at most three continuation bytes).
    for (int k = 0; k < 3 && n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80; ++k) --n;
    return std::string(s.substr(0, n));
}

void add_issue(IssueList& to, std::uint32_t line, std::string_view reason,
               std::string_view text) {
    to.push_back(LineIssue{line, std::string(reason), issue_text(text)});
}

TokenParse parse_token(std::string_view token, Shape shape) noexcept {
    token = trim_blanks(token);
    if (shape == Shape::address) {
        const auto ip = parse_ip(token);
        if (!ip) return {std::nullopt, ip_error_text(ip.error)};
        return {ParsedRange{Range{ip->ip, ip->ip}, false}, {}};
    }
    if (shape == Shape::prefix && token.find('-') != std::string_view::npos)
        return {std::nullopt, reasons::kRangeNotPrefix};
    const auto r = parse_range(token);
    if (!r) return {std::nullopt, ip_error_text(r.error)};
    return {*r, {}};
}

bool entry_allowed(std::size_t count, const ParseOptions& options, IssueList& rejects, bool& over,
                   std::uint32_t line, std::string_view quote) {
    if (count < options.max_entries) return true;
    if (!over) add_issue(rejects, line, reasons::kTooManyEntries, quote);
    over = true;
    return false;
}

bool accept(ParseResult& out, const ParseOptions& options, std::string_view body, std::uint32_t line,
            const ParsedRange& parsed, std::string_view quote) {
    if (!entry_allowed(out.entries.size(), options, out.rejects, out.over_max_entries, line, quote)) return false;
    if (parsed.host_bits_cleared) add_issue(out.warnings, line, reasons::kHostBits, quote);
    out.entries.push_back(ParsedEntry{parsed.range, line,
                                      static_cast<std::size_t>(quote.data() - body.data()),
                                      quote.size()});
    return true;
}

bool record(ParseResult& out, const ParseOptions& options, std::string_view body, std::uint32_t line,
            std::string_view token, std::string_view quote, Shape shape) {
    const TokenParse t = parse_token(token, shape);
    if (!t.value) {
        add_issue(out.rejects, line, t.reason, quote);
        return false;
    }
    return accept(out, options, body, line, *t.value, quote);
}

bool refuse_oversized(std::string_view body, IssueList& rejects) {
    if (body.size() < kMaxBodyBytes) return false;
    add_issue(rejects, 1, reasons::kBodyTooLarge, body.substr(0, kIssueTextMax));
    return true;
}

AsnToken parse_asn_token(std::string_view s) noexcept {
    if (s.size() >= 2 && (s[0] == 'A' || s[0] == 'a') && (s[1] == 'S' || s[1] == 's')) s.remove_prefix(2);
    if (s.empty()) return {0, reasons::kBadAsn};
    std::uint64_t v = 0;
    bool too_large = false;
    for (const char c : s) {
        if (c < '0' || c > '9') return {0, reasons::kBadAsn};
        if (!too_large) {
            v = v * 10 + static_cast<std::uint64_t>(c - '0');
            if (v > 0xFFFFFFFFu) too_large = true;
        }
    }
    if (too_large) return {0, reasons::kAsnTooLarge};
    if (v == 0) return {0, reasons::kAsnZero};
    return {static_cast<std::uint32_t>(v), {}};
}

bool split_csv(std::string_view line, std::vector<std::string>& fields) {
    fields.clear();
    std::size_t i = 0;
    const std::size_t n = line.size();
    while (true) {
        while (i < n && (line[i] == ' ' || line[i] == '\t')) ++i;
        std::string field;
        if (i < n && line[i] == '"') {
            ++i;
            bool closed = false;
            while (i < n) {
                if (line[i] == '"') {
                    if (i + 1 < n && line[i + 1] == '"') {
                        field += '"';
                        i += 2;
                        continue;
                    }
                    ++i;
                    closed = true;
                    break;
                }
                field += line[i++];
            }
            if (!closed) return false;
            while (i < n && (line[i] == ' ' || line[i] == '\t')) ++i;
            if (i < n && line[i] != ',') return false;
        } else {
            const std::size_t end = std::min(line.find(',', i), n);
            const std::string_view raw = line.substr(i, end - i);
            if (raw.find('"') != std::string_view::npos) return false;
            field.assign(raw);
            i = end;
        }
        fields.emplace_back(detail::trim_blanks(field));
        if (i >= n) return true;
        ++i;  // the comma
    }
}


}  // namespace anondb::sources::detail
