// Independent oracles for the filtered plain exports (cidr, nft, ipset,
// csv, jsonl, pgsql): which addresses and rows an ExportFilter keeps,
// decided from the evidence alone (test_db.hpp's Oracle) or by asking the
// native reader, and the filters the random property tests try.
#pragma once

#include <cstdint>
#include <random>
#include <string>
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
inline bool kept(const exports::ExportFilter& f, const Want& w, Ip a) {
    return w.flagged && family_ok(f, a) && attrs_ok(f, w.categories, w.provider);
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

// The flagged space matching the filter, from the evidence alone.
inline std::vector<Range> expected_union(const Oracle& oracle, const exports::ExportFilter& f) {
    std::vector<Range> keep;
    for (const auto& p : oracle.pieces())
        if (kept(f, oracle.answer(p.answer), p.range.first)) keep.push_back(p.range);
    return merge_adjacent(keep);
}

// One row of the csv / jsonl / pgsql exports, as it must be.
struct ExpectedRow {
    Range range;
    const Want* answer;
    const std::vector<std::string>* sources;
};

// Maximal ranges of one zone, one answer and one set of sources that the
// filter keeps, from the evidence alone.
inline std::vector<ExpectedRow> expected_rows(const Oracle& oracle, const exports::ExportFilter& f) {
    std::vector<ExpectedRow> out;
    std::size_t last_piece = 0;
    for (std::size_t i = 0; i < oracle.pieces().size(); ++i) {
        const auto& p = oracle.pieces()[i];
        if (!kept(f, oracle.answer(p.answer), p.range.first)) continue;
        if (!out.empty()) {
            const auto& q = oracle.pieces()[last_piece];
            if (last_piece + 1 == i && zone(q.range.first) == zone(p.range.first) && q.answer == p.answer &&
                q.sources == p.sources) {
                out.back().range.last = p.range.last;
                last_piece = i;
                continue;
            }
        }
        out.push_back({p.range, &oracle.answer(p.answer), &oracle.sources(p.sources)});
        last_piece = i;
    }
    return out;
}

// Filters for one random database: everything flagged, one category, random
// categories, a provider some answer has (or any of its providers; never
// "none"), a provider it lacks, each family, and a category + provider +
// family mix.
inline std::vector<exports::ExportFilter> filters_for(std::mt19937_64& rng, const Content& t, const Oracle& oracle) {
    using exports::ExportFilter;
    std::vector<ExportFilter> out(1);  // everything flagged
    ExportFilter one_cat;
    one_cat.categories = kCategoryNames[below(rng, std::size(kCategoryNames))].bit;
    out.push_back(one_cat);
    ExportFilter cats;
    cats.categories = static_cast<std::uint32_t>(rng()) & kAllCategories;
    out.push_back(cats);
    std::vector<std::string> answered;
    for (const Want& w : oracle.answers())
        if (!w.provider.empty()) answered.push_back(w.provider);
    ExportFilter prov;
    prov.provider = !answered.empty() && below(rng, 4) != 0 ? answered[below(rng, answered.size())]
                                                            : t.c.providers[1 + below(rng, t.c.providers.size() - 1)];
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
