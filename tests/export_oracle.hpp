// Independent oracles for the filtered plain exports (cidr, nft, ipset,
// csv, jsonl, pgsql): which addresses and ranges an ExportFilter keeps,
// decided from the content alone or by asking the native reader, and the
// filters the random property tests try.
#pragma once

#include <cstdint>
#include <random>
#include <string_view>
#include <vector>

#include "anondb/plain_export.hpp"
#include "test_db.hpp"

namespace anondb::test {

inline bool family_ok(const exports::ExportFilter& f, Ip a) {
    if (f.family == exports::ExportFilter::Family::v4) return zone(a) == 1;
    if (f.family == exports::ExportFilter::Family::v6) return zone(a) != 1;
    return true;
}
inline bool attrs_ok(const exports::ExportFilter& f, std::uint32_t cats, std::string_view provider) {
    if (f.categories != 0 && (cats & f.categories) == 0) return false;
    return f.provider.empty() || provider == f.provider;
}
// What the native reader says about one address.
inline bool db_matches(const Database& db, const exports::ExportFilter& f, Ip a) {
    const LookupResult r = db.lookup(a);
    return r.flagged && family_ok(f, a) && attrs_ok(f, r.categories, r.provider);
}

// Sorted disjoint ranges with neighbours of one zone joined.
inline std::vector<Range> merge_adjacent(const std::vector<Range>& in) {
    std::vector<Range> out;
    for (const Range& r : in) {
        if (!out.empty() && to_u128(out.back().last) + 1 == to_u128(r.first) && zone(out.back().last) == zone(r.first))
            out.back().last = r.last;
        else
            out.push_back(r);
    }
    return out;
}

// The flagged space matching the filter, from the content alone.
inline std::vector<Range> expected_union(const Content& t, const exports::ExportFilter& f) {
    std::vector<Range> kept;
    for (const auto& rr : t.c.ranges) {
        const auto& rec = t.c.records[rr.record];
        if (family_ok(f, rr.range.first) && attrs_ok(f, rec.categories, t.c.providers[rec.provider]))
            kept.push_back(rr.range);
    }
    return merge_adjacent(kept);
}

// Filters for one random database: everything flagged, one category, random
// categories, one of its providers (never "none"), a provider it lacks,
// each family, and a category + provider + family mix.
inline std::vector<exports::ExportFilter> filters_for(std::mt19937_64& rng, const Content& t) {
    using exports::ExportFilter;
    std::vector<ExportFilter> out(1);  // everything flagged
    ExportFilter one_cat;
    one_cat.categories = kCategoryNames[below(rng, std::size(kCategoryNames))].bit;
    out.push_back(one_cat);
    ExportFilter cats;
    cats.categories = static_cast<std::uint32_t>(rng()) & kAllCategories;
    out.push_back(cats);
    ExportFilter prov;
    prov.provider = t.c.providers[1 + below(rng, t.c.providers.size() - 1)];
    out.push_back(prov);
    ExportFilter nobody;
    nobody.provider = "nobody";
    out.push_back(nobody);
    ExportFilter v4;
    v4.family = ExportFilter::Family::v4;
    out.push_back(v4);
    ExportFilter v6;
    v6.family = ExportFilter::Family::v6;
    out.push_back(v6);
    ExportFilter mixed = one_cat;
    mixed.provider = prov.provider;
    mixed.family = below(rng, 2) ? ExportFilter::Family::v4 : ExportFilter::Family::v6;
    out.push_back(mixed);
    return out;
}

}  // namespace anondb::test
