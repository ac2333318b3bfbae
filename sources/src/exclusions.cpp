// The exclusion list parser (exclusions.hpp).
#include "anondb/sources/exclusions.hpp"

#include <utility>

#include "anondb/sources/formats.hpp"
#include "lines.hpp"

namespace anondb::sources {

namespace {
constexpr std::string_view kHeader = "type,value,reason,reference";
}  // namespace

ExclusionList parse_exclusions(std::string_view body, const ParseOptions& options) {
    ExclusionList out;
    bool first = true;
    std::vector<std::string> fields;
    detail::for_each_line(body, options, out.rejects, out.over_max_entries, [&](const detail::Line& line) {
        const std::string_view text = detail::trim_blanks(line.text);
        if (text.empty() || text.front() == '#') return;
        auto reject = [&](std::string_view reason) { detail::add_issue(out.rejects, line.number, reason, text); };
        if (std::exchange(first, false)) {
            if (text != kHeader) reject(reasons::kBadHeader);
            return;
        }
        if (!detail::split_csv(text, fields)) return reject(reasons::kBadQuoting);
        if (fields.size() < 4) return reject(reasons::kMissingField);
        if (fields.size() > 4) return reject(reasons::kTooManyFields);
        ExclusionRule rule;
        if (fields[0] == "asn") {
            const auto a = detail::parse_asn_token(fields[1]);
            if (!a.reason.empty()) return reject(a.reason);
            rule.kind = ExclusionRule::Kind::asn;
            rule.asn = a.asn;
        } else if (fields[0] == "prefix") {
            const auto p = detail::parse_token(fields[1], detail::Shape::prefix);
            if (!p.value) return reject(p.reason);
            if (p.value->host_bits_cleared) return reject(reasons::kHostBits);  // a rule is exact or wrong
            rule.kind = ExclusionRule::Kind::prefix;
            rule.range = p.value->range;
        } else {
            return reject(reasons::kBadExclusionType);
        }
        if (fields[2].empty()) return reject(reasons::kMissingReason);
        if (fields[3].empty()) return reject(reasons::kMissingReference);
        if (!detail::entry_allowed(out.rules.size(), options, out.rejects, out.over_max_entries, line.number, text))
            return;
        rule.reason = std::move(fields[2]);
        rule.reference = std::move(fields[3]);
        rule.line = line.number;
        rule.text_offset = static_cast<std::size_t>(text.data() - body.data());
        rule.text_length = text.size();
        out.rules.push_back(std::move(rule));
    });
    return out;
}

}  // namespace anondb::sources
