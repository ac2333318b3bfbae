// feeds.yaml loading: builder::parse_catalogue(yaml, path), which never
// touches the file system (snapshot paths are only resolved as text).
//
// SECURITY.md treats feeds.yaml as trusted configuration that is still
// parsed strictly, "so a mistake in it is an error and not a crash": no
// input may crash, throw out of parse_catalogue or leak. What an accepted
// catalogue must satisfy is checked too: names 1-64 of [a-z0-9._-] and
// unique, a known format whose role the feed has, an allowed URL scheme,
// an ASN list's table among the ASN table feeds, snapshot paths relative
// without "..", or under /usr/share/, numbers in their ranges, and
// snapshot_date surviving format_time/parse_time.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "anondb/builder/catalogue.hpp"
#include "anondb/utf8.hpp"
#include "fuzz_common.hpp"

using namespace anondb;
using namespace anondb::fuzz;

namespace {

bool valid_name(std::string_view s) {
    return !s.empty() && s.size() <= 64 && std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
    });
}

bool allowed_url(std::string_view u) {
    for (std::string_view scheme : {"https://", "http://", "file://"})
        if (u.starts_with(scheme) && u.size() > scheme.size()) return true;
    return false;
}

void check(const builder::Catalogue& cat) {
    FUZZ_CHECK(!cat.feeds.empty());
    std::set<std::string> names;
    for (const auto& f : cat.feeds) {
        FUZZ_CHECK(valid_name(f.name));
        FUZZ_CHECK(names.insert(f.name).second);
        const auto role = builder::role_of_format(f.format);
        FUZZ_CHECK(role && *role == f.role);
        FUZZ_CHECK(allowed_url(f.url));
        FUZZ_CHECK(valid_utf8(f.provider));
        FUZZ_CHECK(!f.license.empty());
        const bool publishes = f.role == format::FeedRole::ranges || f.role == format::FeedRole::asn_list;
        if (publishes) FUZZ_CHECK(f.categories != 0);
        else FUZZ_CHECK(f.categories == 0 && f.provider.empty());
        FUZZ_CHECK((f.categories & ~kAllCategories) == 0);
        if (!f.snapshot.empty()) {
            FUZZ_CHECK(f.snapshot.find("..") == std::string::npos);
            FUZZ_CHECK(f.snapshot.front() != '/' || f.snapshot.starts_with("/usr/share/"));
        }
        FUZZ_CHECK(f.max_bytes >= 1 && f.max_bytes <= (std::uint64_t{1} << 32));
        FUZZ_CHECK(f.min_entries <= (std::uint64_t{1} << 32));
        FUZZ_CHECK(f.min_fraction >= 0.0 && f.min_fraction <= 1.0);
        FUZZ_CHECK(f.guard.broadest_v4 <= 32 && f.guard.broadest_v6 <= 128);
        if (f.snapshot_date && *f.snapshot_date >= 0 && *f.snapshot_date < 253402300800)  // before year 10000
            FUZZ_CHECK(builder::parse_time(builder::format_time(*f.snapshot_date)) == f.snapshot_date);
    }
    for (const auto& f : cat.feeds) {
        if (f.role != format::FeedRole::asn_list) continue;
        const auto t = std::find_if(cat.feeds.begin(), cat.feeds.end(),
                                    [&](const builder::FeedConfig& x) { return x.name == f.asn_table; });
        FUZZ_CHECK(t != cat.feeds.end() && t->role == format::FeedRole::asn_table);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto cat = builder::parse_catalogue(as_text(data, size), "fuzz/feeds.yaml");
    if (cat) check(*cat);
    else FUZZ_CHECK(!cat.error().message.empty());
    return 0;
}
