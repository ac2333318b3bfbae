// Exclusion lists: address space that ASN expansion must not flag (a whole
// cloud or ISP AS carries ordinary users and crawlers too). Follows the
// parser contract of parse.hpp: never throws, every rejected line reported
// with its number and a fixed reason.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "anondb/ip.hpp"
#include "anondb/sources/parse.hpp"

namespace anondb::sources {

// The `format:` name of exclusion lists in feeds.yaml.
inline constexpr std::string_view kExclusionsFormat = "exclusions";

struct ExclusionRule {
    enum class Kind { asn, prefix };
    Kind kind = Kind::asn;
    std::uint32_t asn = 0;  // Kind::asn: nothing is derived from this AS
    Range range;            // Kind::prefix: nothing derived is kept inside this prefix
    std::string reason;     // why: who uses these addresses
    std::string reference;  // public source for the reason
    std::uint32_t line = 0;
    std::size_t text_offset = 0;  // the line as written, in the body
    std::size_t text_length = 0;
};

struct ExclusionList {
    std::vector<ExclusionRule> rules;
    IssueList rejects;
    IssueList warnings;
    bool over_max_entries = false;  // stopped at ParseOptions::max_entries rules: a partial list
};

// `exclusions`: CSV with the header "type,value,reason,reference"; type
// `asn` (value "AS1234" or "1234") or `prefix` (value a CIDR prefix); reason
// and reference required; '#' comment lines. See data/exclusions.csv.
ExclusionList parse_exclusions(std::string_view body, const ParseOptions& options = {});

}  // namespace anondb::sources
