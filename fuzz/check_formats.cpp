// Fails when a text feed format of the registries (sources::formats(), the
// ASN list and text ASN table formats, exclusions) has no fuzz target in
// fuzz/CMakeLists.txt (ANONDB_FUZZ_FORMATS), so a new parser cannot go
// unfuzzed. Binary ASN tables (read from a file by a library) are listed
// for information: read_mmdb_asn has its own target, libloc none.
#include <algorithm>
#include <cstdio>
#include <set>
#include <string>
#include <string_view>

#include "anondb/sources/asn.hpp"
#include "anondb/sources/exclusions.hpp"
#include "anondb/sources/parse.hpp"

int main() {
    std::set<std::string> targeted;
    const std::string_view list = ANONDB_FUZZ_FORMATS;  // "a b c"
    for (std::size_t at = 0; at <= list.size();) {
        const std::size_t end = std::min(list.find(' ', at), list.size());
        if (end > at) targeted.emplace(list.substr(at, end - at));
        at = end + 1;
    }
    std::set<std::string> text_formats;
    for (const auto& f : anondb::sources::formats()) text_formats.emplace(f.name);
    for (const auto& f : anondb::sources::asn_list_formats()) text_formats.emplace(f.name);
    for (const auto& f : anondb::sources::asn_table_formats()) {
        if (f.parse) text_formats.emplace(f.name);
        else std::printf("binary ASN table format (read from a file): %.*s\n", static_cast<int>(f.name.size()), f.name.data());
    }
    text_formats.emplace(anondb::sources::kExclusionsFormat);
    int missing = 0;
    for (const auto& f : text_formats)
        if (!targeted.count(f)) {
            std::printf("no fuzz target for text format '%s': add it to ANONDB_FUZZ_FORMATS in fuzz/CMakeLists.txt\n",
                        f.c_str());
            ++missing;
        }
    for (const auto& f : targeted)
        if (!text_formats.count(f)) {
            std::printf("fuzz target for '%s', which is not a text format of the registries\n", f.c_str());
            ++missing;
        }
    if (missing) return 1;
    std::printf("every text feed format has a fuzz target (%zu)\n", text_formats.size());
    return 0;
}
