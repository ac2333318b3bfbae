// ASN lists: provider -> ASNs.
//
//   asn-list       AS9009 # M247, GB (NordVPN)            (X4BNet input/*/ASN.txt)
//   asn-csv        51447, "RootLayer Web Services Ltd, NL" (brianhama/bad-asn-list)
//   provider-asns  M247,hosting,AS9009,"X4BNet/lists_vpn ..." (data/providers/)
//
// Every format: ASN "AS1234", "as1234" or "1234", 1..4294967295; an entry's
// text is its whole line without line ending and surrounding blanks; an ASN
// seen again on a later line is kept (both lines are provenance) and the later
// line gets a kDuplicateAsn warning.
#include <algorithm>
#include <unordered_set>
#include <utility>

#include "anondb/category.hpp"
#include "anondb/sources/asn.hpp"
#include "lines.hpp"

namespace anondb::sources {
namespace {

// Fixed reasons of the three list formats (LineIssue::reason).
constexpr std::string_view kBadAsn = "bad ASN";  // not [AS]digits
constexpr std::string_view kAsnZero = "ASN 0";
constexpr std::string_view kAsnTooLarge = "ASN above 4294967295";
constexpr std::string_view kTextAfterAsn = "text after ASN";  // asn-list: "AS1 AS2"
constexpr std::string_view kDuplicateAsn = "duplicate ASN";   // a warning
constexpr std::string_view kBadQuoting = "bad quoting";
constexpr std::string_view kMissingField = "missing field";
constexpr std::string_view kTooManyFields = "too many fields";
constexpr std::string_view kMissingHeader = "missing header";  // asn-csv: a warning
constexpr std::string_view kBadHeader = "bad header";
constexpr std::string_view kMissingProvider = "missing provider";
constexpr std::string_view kBadCategory = "bad category";
constexpr std::string_view kMissingReference = "missing reference";

constexpr std::string_view kProviderHeader = "provider,category,asn,reference";

constexpr bool ascii_iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
        if (x != y) return false;
    }
    return true;
}

struct AsnParse {
    std::uint32_t asn = 0;
    std::string_view reason;  // empty when asn is good
};

// "AS1234" / "as1234" / "1234", 1..4294967295. Leading zeros are allowed.
AsnParse parse_asn(std::string_view s) noexcept {
    if (s.size() >= 2 && (s[0] == 'A' || s[0] == 'a') && (s[1] == 'S' || s[1] == 's')) s.remove_prefix(2);
    if (s.empty()) return {0, kBadAsn};
    std::uint64_t v = 0;
    bool too_large = false;
    for (const char c : s) {
        if (c < '0' || c > '9') return {0, kBadAsn};
        if (!too_large) {
            v = v * 10 + static_cast<std::uint64_t>(c - '0');
            if (v > 0xFFFFFFFFu) too_large = true;
        }
    }
    if (too_large) return {0, kAsnTooLarge};
    if (v == 0) return {0, kAsnZero};
    return {static_cast<std::uint32_t>(v), {}};
}

// The frame shared by the three formats: parse_lines (BOM, CRLF, oversized
// body) with entries and issues collected into an AsnList.
class ListBuilder {
public:
    explicit ListBuilder(std::string_view body) : body_(body) {}

    void reject(std::uint32_t line, std::string_view reason, std::string_view text) {
        detail::add_issue(out_.rejects, line, reason, text);
    }
    void warn(std::uint32_t line, std::string_view reason, std::string_view text) {
        detail::add_issue(out_.warnings, line, reason, text);
    }
    // `text` is a view into the body.
    void add(std::uint32_t line, std::uint32_t asn, std::string provider, std::uint32_t categories,
             std::string reference, std::string_view text) {
        if (!seen_.insert(asn).second) warn(line, kDuplicateAsn, text);
        out_.entries.push_back(AsnListEntry{asn, std::move(provider), categories, std::move(reference), line,
                                            static_cast<std::size_t>(text.data() - body_.data()), text.size()});
    }

    template <class OnLine>
    AsnList run(OnLine on_line) {
        ParseResult frame = detail::parse_lines(
            body_, [&](ParseResult&, const detail::Line& line) { on_line(*this, line); });
        // Only an oversized body leaves issues in the frame (and then no line ran).
        for (auto& r : frame.rejects) out_.rejects.push_back(std::move(r));
        return std::move(out_);
    }

private:
    std::string_view body_;
    AsnList out_;
    std::unordered_set<std::uint32_t> seen_;
};

// RFC 4180 fields of one line: comma separated, a field may be wrapped in
// double quotes (then it may hold commas, and "" stands for one quote).
// Blanks around a field, inside or outside its quotes, are trimmed. A quote
// in an unquoted field, text after a closing quote or an unterminated quote
// make the line kBadQuoting (returns false).
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

}  // namespace

AsnList parse_asn_list(std::string_view body) {
    return ListBuilder(body).run([](ListBuilder& b, const detail::Line& line) {
        const std::string_view text = detail::trim_blanks(line.text);
        if (text.empty() || text.front() == '#') return;
        const std::size_t hash = text.find('#');
        std::string_view rest;
        const std::string_view token = detail::first_word(text.substr(0, hash), rest);
        const AsnParse a = parse_asn(token);
        if (!a.reason.empty()) return b.reject(line.number, a.reason, text);
        if (!rest.empty()) return b.reject(line.number, kTextAfterAsn, text);
        const std::string_view provider =
            hash == std::string_view::npos ? std::string_view{} : detail::trim_blanks(text.substr(hash + 1));
        b.add(line.number, a.asn, std::string(provider), 0, {}, text);
    });
}

AsnList parse_asn_csv(std::string_view body) {
    bool first = true;
    std::vector<std::string> fields;
    return ListBuilder(body).run([&](ListBuilder& b, const detail::Line& line) {
        const std::string_view text = detail::trim_blanks(line.text);
        if (text.empty()) return;
        const bool is_first = std::exchange(first, false);
        if (!split_csv(text, fields)) return b.reject(line.number, kBadQuoting, text);
        const AsnParse a = parse_asn(fields[0]);
        if (is_first) {
            if (fields.size() == 2 && ascii_iequals(fields[0], "ASN") &&
                ascii_iequals(fields[1], "Entity"))
                return;
            if (!a.reason.empty()) return b.reject(line.number, kBadHeader, text);
            b.warn(line.number, kMissingHeader, text);  // a data row: read it
        }
        if (!a.reason.empty()) return b.reject(line.number, a.reason, text);
        if (fields.size() < 2) return b.reject(line.number, kMissingField, text);
        if (fields.size() > 2) return b.reject(line.number, kTooManyFields, text);
        b.add(line.number, a.asn, std::move(fields[1]), 0, {}, text);
    });
}

AsnList parse_provider_asns(std::string_view body) {
    bool first = true;
    std::vector<std::string> fields;
    return ListBuilder(body).run([&](ListBuilder& b, const detail::Line& line) {
        const std::string_view text = detail::trim_blanks(line.text);
        if (text.empty() || text.front() == '#') return;
        if (std::exchange(first, false)) {
            if (text != kProviderHeader) b.reject(line.number, kBadHeader, text);
            return;
        }
        if (!split_csv(text, fields)) return b.reject(line.number, kBadQuoting, text);
        if (fields.size() < 4) return b.reject(line.number, kMissingField, text);
        if (fields.size() > 4) return b.reject(line.number, kTooManyFields, text);
        if (fields[0].empty()) return b.reject(line.number, kMissingProvider, text);
        std::uint32_t category = 0;
        if (fields[1] == "vpn") category = kVpn;
        else if (fields[1] == "hosting") category = kHosting;
        else return b.reject(line.number, kBadCategory, text);
        const AsnParse a = parse_asn(fields[2]);
        if (!a.reason.empty()) return b.reject(line.number, a.reason, text);
        if (fields[3].empty()) return b.reject(line.number, kMissingReference, text);
        b.add(line.number, a.asn, std::move(fields[0]), category, std::move(fields[3]), text);
    });
}

}  // namespace anondb::sources
