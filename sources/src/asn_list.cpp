// ASN lists: provider -> ASNs.
//
//   asn-list       AS9009 # M247, GB (NordVPN)            (X4BNet input/*/ASN.txt)
//   asn-csv        51447, "RootLayer Web Services Ltd, NL" (brianhama/bad-asn-list)
//   provider-asns  M247,hosting,AS9009,"X4BNet/lists_vpn ..." (data/providers/)
//
// Every format: ASN "AS1234", "as1234" or "1234", 1..4294967295; an entry's
// text is its whole line without line ending and surrounding blanks; an ASN
// seen again on a later line is kept (both lines are provenance) and the later
// line gets a kDuplicateAsn warning. Reasons are the fixed ones of
// formats.hpp (namespace reasons).
#include <algorithm>
#include <unordered_set>
#include <utility>

#include "anondb/category.hpp"
#include "anondb/sources/asn.hpp"
#include "anondb/sources/formats.hpp"
#include "anondb/utf8.hpp"
#include "lines.hpp"

namespace anondb::sources {
namespace {

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

// The frame shared by the three formats: for_each_line (BOM, CRLF, oversized
// body, line and entry limits) with entries and issues collected into an
// AsnList.
class ListBuilder {
public:
    ListBuilder(std::string_view body, const ParseOptions& options) : body_(body), options_(options) {}

    void reject(std::uint32_t line, std::string_view reason, std::string_view text) {
        detail::add_issue(out_.rejects, line, reason, text);
    }
    void warn(std::uint32_t line, std::string_view reason, std::string_view text) {
        detail::add_issue(out_.warnings, line, reason, text);
    }
    // `text` is a view into the body.
    void add(std::uint32_t line, std::uint32_t asn, std::string provider, std::uint32_t categories,
             std::string reference, std::string_view text) {
        if (!valid_utf8(provider) || !valid_utf8(reference)) return reject(line, reasons::kNotUtf8, text);
        if (!detail::entry_allowed(out_.entries.size(), options_, out_.rejects, out_.over_max_entries, line, text))
            return;
        if (!seen_.insert(asn).second) warn(line, reasons::kDuplicateAsn, text);
        out_.entries.push_back(AsnListEntry{asn, std::move(provider), categories, std::move(reference), line,
                                            static_cast<std::size_t>(text.data() - body_.data()), text.size()});
    }

    template <class OnLine>
    AsnList run(OnLine on_line) {
        detail::for_each_line(body_, options_, out_.rejects, out_.over_max_entries,
                              [&](const detail::Line& line) { on_line(*this, line); });
        return std::move(out_);
    }

private:
    std::string_view body_;
    const ParseOptions& options_;
    AsnList out_;
    std::unordered_set<std::uint32_t> seen_;
};

}  // namespace

AsnList parse_asn_list(std::string_view body, const ParseOptions& options) {
    return ListBuilder(body, options).run([](ListBuilder& b, const detail::Line& line) {
        const std::string_view text = detail::trim_blanks(line.text);
        if (text.empty() || text.front() == '#') return;
        const std::size_t hash = text.find('#');
        std::string_view rest;
        const std::string_view token = detail::first_word(text.substr(0, hash), rest);
        const detail::AsnToken a = detail::parse_asn_token(token);
        if (!a.reason.empty()) return b.reject(line.number, a.reason, text);
        if (!rest.empty()) return b.reject(line.number, reasons::kTextAfterAsn, text);
        const std::string_view provider =
            hash == std::string_view::npos ? std::string_view{} : detail::trim_blanks(text.substr(hash + 1));
        b.add(line.number, a.asn, std::string(provider), 0, {}, text);
    });
}

AsnList parse_asn_csv(std::string_view body, const ParseOptions& options) {
    bool first = true;
    std::vector<std::string> fields;
    return ListBuilder(body, options).run([&](ListBuilder& b, const detail::Line& line) {
        const std::string_view text = detail::trim_blanks(line.text);
        if (text.empty()) return;
        const bool is_first = std::exchange(first, false);
        if (!detail::split_csv(text, fields)) return b.reject(line.number, reasons::kBadQuoting, text);
        const detail::AsnToken a = detail::parse_asn_token(fields[0]);
        if (is_first) {
            if (fields.size() == 2 && ascii_iequals(fields[0], "ASN") &&
                ascii_iequals(fields[1], "Entity"))
                return;
            if (!a.reason.empty()) return b.reject(line.number, reasons::kBadHeader, text);
            b.warn(line.number, reasons::kMissingHeader, text);  // a data row: read it
        }
        if (!a.reason.empty()) return b.reject(line.number, a.reason, text);
        if (fields.size() < 2) return b.reject(line.number, reasons::kMissingField, text);
        if (fields.size() > 2) return b.reject(line.number, reasons::kTooManyFields, text);
        b.add(line.number, a.asn, std::move(fields[1]), 0, {}, text);
    });
}

AsnList parse_provider_asns(std::string_view body, const ParseOptions& options) {
    bool first = true;
    std::vector<std::string> fields;
    return ListBuilder(body, options).run([&](ListBuilder& b, const detail::Line& line) {
        const std::string_view text = detail::trim_blanks(line.text);
        if (text.empty() || text.front() == '#') return;
        if (std::exchange(first, false)) {
            if (text != kProviderHeader) b.reject(line.number, reasons::kBadHeader, text);
            return;
        }
        if (!detail::split_csv(text, fields)) return b.reject(line.number, reasons::kBadQuoting, text);
        if (fields.size() < 4) return b.reject(line.number, reasons::kMissingField, text);
        if (fields.size() > 4) return b.reject(line.number, reasons::kTooManyFields, text);
        if (fields[0].empty()) return b.reject(line.number, reasons::kMissingProvider, text);
        std::uint32_t category = 0;
        if (fields[1] == "vpn") category = kVpn;
        else if (fields[1] == "hosting") category = kHosting;
        else return b.reject(line.number, reasons::kBadCategory, text);
        const detail::AsnToken a = detail::parse_asn_token(fields[2]);
        if (!a.reason.empty()) return b.reject(line.number, a.reason, text);
        if (fields[3].empty()) return b.reject(line.number, reasons::kMissingReference, text);
        b.add(line.number, a.asn, std::move(fields[0]), category, std::move(fields[3]), text);
    });
}

}  // namespace anondb::sources
