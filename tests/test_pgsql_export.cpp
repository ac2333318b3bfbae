// The pgsql export read back by an independent parser of the psql script
// (COPY text format, array literals, ip4r range text) and checked row by row
// against the content it was built from and the native reader. A real
// PostgreSQL loads it in tests/pgsql/run_pgsql_test.sh.
//
// Content, Opened, random_content, filters_for and the zone / union oracles
// are copied from test_plain_export.cpp (its helpers live in an anonymous
// namespace there), with hostile provider and feed names.
#include <algorithm>
#include <cctype>
#include <deque>
#include <optional>
#include <random>
#include <sstream>

#include "anondb/plain_export.hpp"
#include "anondb/writer.hpp"
#include "test_util.hpp"

using namespace anondb;
using namespace anondb::test;
using exports::ExportFilter;
using exports::PlainFormat;

namespace {

// Every character COPY text format or array literals treat specially, SQL
// quotes and comments, psql's backslash, and UTF-8 of 2, 3 and 4 bytes.
const std::string kHostileProvider =
    "Tab\there, back\\slash \\\\ \\N \\. \"quoted\" {brace} [sq] 'single' ;-- comma,\nnew line\r\nCR \\t "
    "\xc3\xa9t\xc3\xa9 \xe2\x98\x83 \xf0\x9d\x84\x9e end\\";

// Content plus the storage its origin texts view.
struct Content {
    writer::DatabaseContent c;
    std::deque<std::string> texts;

    Content() {
        for (const std::string& p : {std::string("Mullvad"), kHostileProvider, std::string("NULL"),
                                     std::string("\\N"), std::string("  padded {x,y} \"z\"  ")})
            c.providers.push_back(p);
        for (const char* f : {"tor-exits", "vpn,list\t\"tab\"", "relay {egress} \\ NULL", "", "\\."}) {
            writer::FeedInfo info;
            info.name = f;
            c.feeds.push_back(info);
        }
        c.record_asns.assign(1, 0);
        c.build_time = 1767225600;
    }
    std::uint32_t add_record(std::uint32_t cats, std::uint32_t provider, std::uint32_t asn,
                             std::vector<std::uint32_t> feeds) {
        c.records.push_back({cats, provider});
        c.record_asns.push_back(asn);
        for (std::uint32_t f : feeds) {
            texts.push_back("line of " + c.feeds[f].name);
            c.prov_origins.push_back(static_cast<std::uint32_t>(c.origins.size()));
            c.origins.push_back({f, static_cast<std::uint32_t>(c.origins.size() + 1), cats, provider, texts.back()});
        }
        c.prov_offsets.push_back(static_cast<std::uint32_t>(c.prov_origins.size()));
        return static_cast<std::uint32_t>(c.records.size() - 1);
    }
    // Distinct feed names of record r's provenance, in order.
    std::vector<std::string> sources(std::uint32_t r) const {
        std::vector<std::string> out;
        for (std::uint32_t k = c.prov_offsets[r]; k < c.prov_offsets[r + 1]; ++k) {
            const std::string& n = c.feeds[c.origins[c.prov_origins[k]].feed].name;
            if (std::find(out.begin(), out.end(), n) == out.end()) out.push_back(n);
        }
        return out;
    }
};

struct Opened {
    std::vector<std::uint64_t> storage;
    std::optional<Database> db;
    std::optional<ColdData> cold;
    explicit Opened(const writer::DatabaseContent& c) {
        auto bytes = writer::serialize(c);
        REQUIRE_MESSAGE(bytes, (bytes ? "" : bytes.error().message));
        storage.resize((bytes->size() + 7) / 8);
        std::memcpy(storage.data(), bytes->data(), bytes->size());
        auto d = Database::from_bytes({reinterpret_cast<const std::byte*>(storage.data()), bytes->size()});
        REQUIRE_MESSAGE(d, (d ? "" : d.error().message));
        db.emplace(std::move(*d));
        auto cd = ColdData::load(*db);
        REQUIRE_MESSAGE(cd, (cd ? "" : cd.error().message));
        cold.emplace(std::move(*cd));
    }
};

std::string run(const Opened& o, const ExportFilter& filter, const std::string& name = "anondb") {
    std::ostringstream out;
    const Error e = exports::write_plain(*o.db, *o.cold, PlainFormat::pgsql, filter, out, name);
    REQUIRE_MESSAGE(e.status == Status::ok, e.message);
    return out.str();
}

// ---- oracles (as in test_plain_export.cpp) ---------------------------------------------

// 0 below the IPv4-mapped block, 1 in it, 2 above it.
int zone(Ip a) { return a < kV4First ? 0 : (a <= kV4Last ? 1 : 2); }
Range zone_range(int z) {
    if (z == 0) return {kIpMin, to_ip(to_u128(kV4First) - 1)};
    if (z == 1) return {kV4First, kV4Last};
    return {to_ip(to_u128(kV4Last) + 1), kIpMax};
}
bool family_ok(const ExportFilter& f, Ip a) {
    if (f.family == ExportFilter::Family::v4) return zone(a) == 1;
    if (f.family == ExportFilter::Family::v6) return zone(a) != 1;
    return true;
}
bool attrs_ok(const ExportFilter& f, std::uint32_t cats, std::string_view provider) {
    if (f.categories != 0 && (cats & f.categories) == 0) return false;
    return f.provider.empty() || provider == f.provider;
}
bool db_matches(const Database& db, const ExportFilter& f, Ip a) {
    const LookupResult r = db.lookup(a);
    return r.flagged() && family_ok(f, a) && attrs_ok(f, r.categories, r.provider);
}
std::vector<Range> merge_adjacent(const std::vector<Range>& in) {
    std::vector<Range> out;
    for (const Range& r : in) {
        if (!out.empty() && to_u128(out.back().last) + 1 == to_u128(r.first) && zone(out.back().last) == zone(r.first))
            out.back().last = r.last;
        else
            out.push_back(r);
    }
    return out;
}
std::vector<Range> expected_union(const Content& t, const ExportFilter& f) {
    std::vector<Range> kept;
    for (const auto& rr : t.c.ranges) {
        const auto& rec = t.c.records[rr.record];
        if (family_ok(f, rr.range.first) && attrs_ok(f, rec.categories, t.c.providers[rec.provider]))
            kept.push_back(rr.range);
    }
    return merge_adjacent(kept);
}

// ---- an independent reader of the script ------------------------------------------------

// One field of a COPY text-format row, decoded by the PostgreSQL rules:
// \N alone is NULL; \b \f \n \r \t \v, \ooo (1-3 octal digits), \xhh (1-2
// hex digits), and a backslash before any other character means that
// character.
std::optional<std::string> copy_field(std::string_view raw) {
    if (raw == "\\N") return std::nullopt;
    std::string out;
    for (std::size_t i = 0; i < raw.size(); ++i) {
        if (raw[i] != '\\') {
            out += raw[i];
            continue;
        }
        REQUIRE_MESSAGE(i + 1 < raw.size(), "backslash at the end of a field");
        const char c = raw[++i];
        auto octal = [](char d) { return d >= '0' && d <= '7'; };
        auto hex = [](char d) { return std::isxdigit(static_cast<unsigned char>(d)) != 0; };
        if (octal(c)) {
            int v = c - '0';
            for (int k = 0; k < 2 && i + 1 < raw.size() && octal(raw[i + 1]); ++k) v = v * 8 + (raw[++i] - '0');
            out += static_cast<char>(v);
        } else if (c == 'x' && i + 1 < raw.size() && hex(raw[i + 1])) {
            int v = 0;
            for (int k = 0; k < 2 && i + 1 < raw.size() && hex(raw[i + 1]); ++k)
                v = v * 16 + std::stoi(std::string(1, raw[++i]), nullptr, 16);
            out += static_cast<char>(v);
        } else {
            switch (c) {
                case 'b': out += '\b'; break;
                case 'f': out += '\f'; break;
                case 'n': out += '\n'; break;
                case 'r': out += '\r'; break;
                case 't': out += '\t'; break;
                case 'v': out += '\v'; break;
                default: out += c;  // \\ and any other character
            }
        }
    }
    return out;
}

// A one-dimensional text[] literal (PostgreSQL array_in): {} or {e,e,...};
// an element is "..." (a backslash escapes the next character) or bare
// (backslash escapes too; surrounding blanks dropped; NULL is a null).
// `all_quoted` tells whether every element was written in quotes.
struct ArrayLiteral {
    std::vector<std::optional<std::string>> items;
    bool all_quoted = true;
};
ArrayLiteral parse_array(const std::string& s) {
    CAPTURE(s);
    ArrayLiteral out;
    REQUIRE(s.size() >= 2);
    REQUIRE(s.front() == '{');
    REQUIRE(s.back() == '}');
    if (s == "{}") return out;
    std::size_t i = 1;
    while (true) {
        while (s[i] == ' ') ++i;
        std::string item;
        bool quoted = false;
        if (s[i] == '"') {
            quoted = true;
            for (++i;; ++i) {
                REQUIRE_MESSAGE(i < s.size() - 1, "unterminated quoted element");
                if (s[i] == '"') break;
                if (s[i] == '\\') ++i;
                item += s[i];
            }
            ++i;
            while (s[i] == ' ') ++i;
        } else {
            for (; s[i] != ',' && s[i] != '}'; ++i) {
                REQUIRE_MESSAGE((s[i] != '"' && s[i] != '{'), "bare quote or brace in an unquoted element");
                if (s[i] == '\\') ++i;
                item += s[i];
            }
            while (!item.empty() && item.back() == ' ') item.pop_back();
        }
        out.all_quoted = out.all_quoted && quoted;
        if (!quoted && (item == "NULL" || item == "null")) out.items.emplace_back(std::nullopt);
        else out.items.emplace_back(std::move(item));
        REQUIRE((s[i] == ',' || s[i] == '}'));
        if (s[i] == '}') {
            REQUIRE(i == s.size() - 1);
            return out;
        }
        ++i;
    }
}

// Non-null elements of a text[] that the export must write fully quoted.
std::vector<std::string> text_array(const std::optional<std::string>& field) {
    REQUIRE_MESSAGE(field, "NULL array");
    const ArrayLiteral a = parse_array(*field);
    CHECK(a.all_quoted);
    std::vector<std::string> out;
    for (const auto& e : a.items) {
        REQUIRE_MESSAGE(e, "NULL array element");
        out.push_back(*e);
    }
    return out;
}

// An address of ip4r text: dotted quad (IPv4, the reader's IPv4-mapped zone)
// or IPv6 outside that zone, in the reader's canonical spelling.
Ip range_end(std::string_view text, bool& v4) {
    CAPTURE(text);
    const auto a = parse_ip(text);
    REQUIRE(a);
    CHECK(format_ip(a->ip) == text);
    v4 = text.find(':') == std::string_view::npos;
    CHECK(v4 == (zone(a->ip) == 1));
    return a->ip;
}

// ip4r iprange input: a, a/len or a-b, one family.
Range parse_iprange(const std::string& text) {
    CAPTURE(text);
    bool v4 = false, v4b = false;
    if (const auto slash = text.find('/'); slash != std::string::npos) {
        const Ip first = range_end(text.substr(0, slash), v4);
        const std::string len_text = text.substr(slash + 1);
        REQUIRE(!len_text.empty());
        REQUIRE(len_text.find_first_not_of("0123456789") == std::string::npos);
        const int len = std::stoi(len_text) + (v4 ? 96 : 0);
        REQUIRE(len <= 128);
        const U128 host = len == 0 ? ~U128{0} : (U128{1} << (128 - len)) - 1;
        if (len == 128) CHECK_MESSAGE(false, "a single address is written without /len");
        CHECK((to_u128(first) & host) == 0);
        return {first, to_ip(to_u128(first) | host)};
    }
    if (const auto dash = text.find('-'); dash != std::string::npos) {
        const Range r{range_end(text.substr(0, dash), v4), range_end(text.substr(dash + 1), v4b)};
        CHECK(v4 == v4b);
        CHECK(r.first < r.last);
        return r;
    }
    const Ip a = range_end(text, v4);
    return {a, a};
}

struct PgRow {
    Range range;
    std::vector<std::string> categories, sources;
    bool anonymous = false;
    std::vector<bool> flags;  // one per kCategoryNames entry
    std::optional<std::string> provider;
    std::optional<std::uint32_t> asn;
};

bool bool_field(const std::optional<std::string>& f) {
    REQUIRE(f);
    REQUIRE((*f == "t" || *f == "f"));
    return *f == "t";
}

// The whole script: its fixed SQL around a COPY block, read back row by row.
std::vector<PgRow> read_script(const std::string& text, const std::string& table) {
    std::string cols = "range, categories, anonymous";
    std::string bools;
    for (const auto& c : kCategoryNames) {
        cols += ", " + std::string(c.name);
        bools += "    " + std::string(c.name) + " boolean NOT NULL,\n";
    }
    cols += ", provider, asn, sources";
    const std::string head =
        "-- anondb pgsql export: one row of " + table + " per exported range (needs the ip4r extension).\n"
        "-- Load with: psql -v ON_ERROR_STOP=1 -f FILE. Loading again replaces the table.\n"
        "\\set ON_ERROR_STOP on\n"
        "BEGIN;\n"
        "SET LOCAL client_encoding = 'UTF8';\n"
        "SET LOCAL client_min_messages = warning;\n"
        "CREATE EXTENSION IF NOT EXISTS ip4r;\n"
        "DROP TABLE IF EXISTS " + table + ";\n"
        "CREATE TABLE " + table + " (\n"
        "    range iprange NOT NULL,\n"
        "    categories text[] NOT NULL,\n"
        "    anonymous boolean NOT NULL,\n" + bools +
        "    provider text,\n"
        "    asn bigint,\n"
        "    sources text[] NOT NULL\n"
        ");\n"
        "COPY " + table + " (" + cols + ") FROM stdin;\n";
    const std::string tail = "\\.\n"
                             "CREATE INDEX " + table + "_range_idx ON " + table + " USING gist (range);\n"
                             "ANALYZE " + table + ";\n"
                             "COMMIT;\n";
    REQUIRE(text.size() >= head.size() + tail.size());
    REQUIRE(text.substr(0, head.size()) == head);
    REQUIRE(text.substr(text.size() - tail.size()) == tail);
    const std::string data = text.substr(head.size(), text.size() - head.size() - tail.size());

    const std::size_t ncols = 3 + std::size(kCategoryNames) + 3;
    std::vector<PgRow> rows;
    for (const std::string& line : split_lines<std::string>(data)) {
        CAPTURE(line);
        REQUIRE(line != "\\.");  // would end the data early
        CHECK(line.find('\r') == std::string::npos);
        std::vector<std::optional<std::string>> f;
        for (std::size_t start = 0;;) {
            const auto tab = line.find('\t', start);
            f.push_back(copy_field(std::string_view(line).substr(start, tab == std::string::npos ? tab : tab - start)));
            if (tab == std::string::npos) break;
            start = tab + 1;
        }
        REQUIRE(f.size() == ncols);
        PgRow row;
        REQUIRE(f[0]);
        row.range = parse_iprange(*f[0]);
        row.categories = text_array(f[1]);
        row.anonymous = bool_field(f[2]);
        for (std::size_t k = 0; k < std::size(kCategoryNames); ++k) row.flags.push_back(bool_field(f[3 + k]));
        std::size_t k = 3 + std::size(kCategoryNames);
        row.provider = f[k];
        if (row.provider) CHECK_FALSE(row.provider->empty());
        if (f[k + 1]) {
            CHECK(f[k + 1]->find_first_not_of("0123456789") == std::string::npos);
            CHECK(f[k + 1]->front() != '0');
            row.asn = static_cast<std::uint32_t>(std::stoul(*f[k + 1]));
        }
        row.sources = text_array(f[k + 2]);
        rows.push_back(std::move(row));
    }
    // The data came from a file that split_lines saw whole: it ends with '\n'.
    CHECK((data.empty() || data.back() == '\n'));
    return rows;
}

// Rows against the reader and the content. `clean` maps a content string to
// what the export may write (identity unless it holds invalid UTF-8 or NUL).
template <class Clean>
void check_rows(const Opened& o, const Content& t, const ExportFilter& f, const std::vector<PgRow>& rows, Clean clean) {
    std::vector<Range> ranges;
    for (const PgRow& row : rows) {
        CAPTURE(format_ip(row.range.first));
        // Exactly one segment of the reader, clipped to its zone.
        const Segment seg = o.db->locate(row.range.first);
        const Range z = zone_range(zone(row.range.first));
        CHECK(std::max(seg.range.first, z.first) == row.range.first);
        CHECK(std::min(seg.range.last, z.last) == row.range.last);
        REQUIRE(o.db->record(seg.record).flagged());
        CHECK(db_matches(*o.db, f, row.range.first));
        // Attributes as the content has them.
        const auto& crec = t.c.records[seg.record];
        std::vector<std::string> cats;
        std::vector<bool> flags;
        for (const auto& c : kCategoryNames) {
            if (crec.categories & c.bit) cats.emplace_back(c.name);
            flags.push_back((crec.categories & c.bit) != 0);
        }
        CHECK(row.categories == cats);
        CHECK(row.flags == flags);
        CHECK(row.anonymous == is_anonymous(crec.categories));
        const std::string& prov = t.c.providers[crec.provider];
        CHECK(row.provider == (prov.empty() ? std::nullopt : std::optional<std::string>(clean(prov))));
        const std::uint32_t asn = t.c.record_asns[seg.record];
        CHECK(row.asn == (asn == 0 ? std::nullopt : std::optional<std::uint32_t>(asn)));
        std::vector<std::string> sources;
        for (const auto& s : t.sources(seg.record)) sources.push_back(clean(s));
        CHECK(row.sources == sources);
        if (!ranges.empty()) CHECK(ranges.back().last < row.range.first);
        ranges.push_back(row.range);
    }
    const std::vector<Range> got = merge_adjacent(ranges);
    const std::vector<Range> want = expected_union(t, f);
    REQUIRE(got.size() == want.size());
    for (std::size_t i = 0; i < got.size(); ++i) CHECK(got[i] == want[i]);
}
void check_rows(const Opened& o, const Content& t, const ExportFilter& f, const std::vector<PgRow>& rows) {
    check_rows(o, t, f, rows, [](const std::string& s) { return s; });
}

std::uint64_t below(std::mt19937_64& rng, std::uint64_t n) { return rng() % n; }
Ip ip_add(Ip a, std::uint64_t d) { return to_ip(to_u128(a) + d); }

Content random_content(std::mt19937_64& rng) {
    Content t;
    const std::size_t nrec = 1 + below(rng, 6);
    for (std::size_t r = 0; r < nrec; ++r) {
        std::vector<std::uint32_t> feeds;
        for (std::size_t k = below(rng, 4); k > 0; --k)
            feeds.push_back(static_cast<std::uint32_t>(below(rng, t.c.feeds.size())));
        std::sort(feeds.begin(), feeds.end());
        t.add_record(static_cast<std::uint32_t>(rng()) & kAllCategories,
                     static_cast<std::uint32_t>(below(rng, t.c.providers.size())),
                     below(rng, 3) == 0 ? static_cast<std::uint32_t>(1 + below(rng, 4000000000u)) : 0, feeds);
    }
    const Ip bases[] = {Ip::from_v4(static_cast<std::uint32_t>(rng()) & 0xffffff00u),
                        Ip::from_v4(0xffffff00u),
                        kV4First,
                        Ip{0, rng() & 0xffffffffull},
                        to_ip(to_u128(kV4First) - 256),
                        to_ip(to_u128(kV4Last) + 1),
                        Ip{0x20010db8ull << 32, 0},
                        Ip{rng() | (1ull << 63), rng() & ~0xffffull},
                        to_ip(to_u128(kIpMax) - 299)};
    std::vector<Ip> pts;
    for (std::size_t k = 3 + below(rng, 30); k > 0; --k) {
        const std::uint64_t step = below(rng, 4) == 0 ? below(rng, 70000) : below(rng, 300);
        const Ip base = bases[below(rng, std::size(bases))];
        const Ip p = ip_add(base, step);
        if (zone(p) == zone(base)) pts.push_back(p);
    }
    for (const Ip edge : {kV4First, ip_next(kV4Last), Ip::from_v4(0xfffffff0u), to_ip(to_u128(kV4First) - 16)})
        if (below(rng, 3) == 0) pts.push_back(edge);
    if (below(rng, 8) == 0) pts.push_back(kIpMin);
    if (below(rng, 8) == 0) pts.push_back(kIpMax);
    std::sort(pts.begin(), pts.end());
    pts.erase(std::unique(pts.begin(), pts.end()), pts.end());
    for (std::size_t i = 0; i + 1 < pts.size(); ++i) {
        if (below(rng, 4) == 0) continue;
        const Range r{pts[i], ip_prev(pts[i + 1])};
        if (zone(r.first) != zone(r.last)) continue;
        t.c.ranges.push_back({r, static_cast<std::uint32_t>(1 + below(rng, nrec))});
    }
    if (!pts.empty() && pts.back() == kIpMax && below(rng, 2) && (t.c.ranges.empty() || t.c.ranges.back().range.last < kIpMax))
        t.c.ranges.push_back({{kIpMax, kIpMax}, static_cast<std::uint32_t>(1 + below(rng, nrec))});
    return t;
}

std::vector<ExportFilter> filters_for(std::mt19937_64& rng, const Content& t) {
    std::vector<ExportFilter> out(1);
    ExportFilter one_cat;
    one_cat.categories = kCategoryNames[below(rng, std::size(kCategoryNames))].bit;
    out.push_back(one_cat);
    ExportFilter cats;
    cats.categories = static_cast<std::uint32_t>(rng()) & kAllCategories;
    out.push_back(cats);
    ExportFilter prov;
    prov.provider = t.c.providers[1 + below(rng, t.c.providers.size() - 1)];
    out.push_back(prov);
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

}  // namespace

TEST_CASE("pgsql export: format name") {
    CHECK(exports::plain_format("pgsql") == PlainFormat::pgsql);
    CHECK(exports::plain_format_name(PlainFormat::pgsql) == "pgsql");
    CHECK_FALSE(exports::plain_format("PGSQL"));
    CHECK_FALSE(exports::plain_format("sql"));
}

TEST_CASE("pgsql export: hand-picked database, exact text") {
    Content t;
    const auto tor = t.add_record(kTorExit, 0, 0, {0});
    const auto vpn = t.add_record(kVpn | kHosting, 5, 64496, {1, 1, 3});
    t.c.ranges = {
        {range_of("1.2.3.0/25"), tor},
        {range_of("1.2.3.128-1.2.3.255"), vpn},
        {range_of("10.0.0.1-10.0.0.6"), tor},
        {range_of("2001:db8::/48"), vpn},
        {range_of("2001:db8:1::7"), tor},
    };
    Opened o(t.c);
    const std::string text = run(o, ExportFilter{});
    const std::string head_end = "residential_proxy, provider, asn, sources) FROM stdin;\n";
    const auto data = text.find(head_end);
    REQUIRE(data != std::string::npos);
    CHECK(text.substr(data + head_end.size()) ==
          "1.2.3.0/25\t{\"tor_exit\"}\tt\tt\tf\tf\tf\tf\tf\t\\N\t\\N\t{\"tor-exits\"}\n"
          "1.2.3.128/25\t{\"vpn\",\"hosting\"}\tt\tf\tt\tf\tf\tt\tf\t  padded {x,y} \"z\"  \t64496\t"
          "{\"vpn,list\\t\\\\\"tab\\\\\"\",\"\"}\n"
          "10.0.0.1-10.0.0.6\t{\"tor_exit\"}\tt\tt\tf\tf\tf\tf\tf\t\\N\t\\N\t{\"tor-exits\"}\n"
          "2001:db8::/48\t{\"vpn\",\"hosting\"}\tt\tf\tt\tf\tf\tt\tf\t  padded {x,y} \"z\"  \t64496\t"
          "{\"vpn,list\\t\\\\\"tab\\\\\"\",\"\"}\n"
          "2001:db8:1::7\t{\"tor_exit\"}\tt\tt\tf\tf\tf\tf\tf\t\\N\t\\N\t{\"tor-exits\"}\n"
          "\\.\n"
          "CREATE INDEX anondb_ranges_range_idx ON anondb_ranges USING gist (range);\n"
          "ANALYZE anondb_ranges;\n"
          "COMMIT;\n");
    check_rows(o, t, ExportFilter{}, read_script(text, "anondb_ranges"));
    // The table takes its name from set_name, suffixed: never an SQL keyword.
    CHECK(contains(run(o, ExportFilter{}, "select"), "\nCREATE TABLE select_ranges (\n"));
    check_rows(o, t, ExportFilter{}, read_script(run(o, ExportFilter{}, "Set_1"), "Set_1_ranges"));
}

TEST_CASE("pgsql export: hostile provider and feed names round-trip exactly") {
    Content t;
    const std::uint32_t all_feeds[] = {0, 1, 2, 3, 4};
    for (std::uint32_t p = 1; p < t.c.providers.size(); ++p)
        t.add_record(kVpn | (p % 2 ? kResidentialProxy : kHosting), p, 4000000000u + p,
                     {all_feeds, all_feeds + 1 + p % 5});
    std::uint32_t rec = 1;
    for (const char* r : {"::1-::ffff", "192.0.2.0/24", "198.51.100.7", "2001:db8::/32", "ffff::/16"})
        t.c.ranges.push_back({range_of(r), rec++ % static_cast<std::uint32_t>(t.c.records.size() - 1) + 1});
    Opened o(t.c);
    const std::string text = run(o, ExportFilter{});
    // No data line can end the COPY early or be taken for NULL.
    CHECK_FALSE(contains(text, "\n\\.\t"));
    const auto rows = read_script(text, "anondb_ranges");
    check_rows(o, t, ExportFilter{}, rows);
    REQUIRE(rows.size() == 5);
    std::set<std::string> providers;
    for (const auto& row : rows) {
        REQUIRE(row.provider);
        providers.insert(*row.provider);
    }
    CHECK(providers.count(kHostileProvider) == 1);
    CHECK(providers.count("NULL") == 1);
    CHECK(providers.count("\\N") == 1);
    // Record 4 (provider "\\N") has every feed, the empty name and "\\." among them.
    for (const auto& row : rows)
        if (row.provider == "\\N")
            CHECK(row.sources == std::vector<std::string>{"tor-exits", "vpn,list\t\"tab\"", "relay {egress} \\ NULL", "", "\\."});
    ExportFilter hostile;
    hostile.provider = kHostileProvider;
    const auto one = read_script(run(o, hostile), "anondb_ranges");
    REQUIRE(one.size() == 1);
    CHECK(one[0].provider == kHostileProvider);
    CHECK(one[0].sources == std::vector<std::string>{"tor-exits", "vpn,list\t\"tab\"", "relay {egress} \\ NULL"});
}

TEST_CASE("pgsql export: invalid UTF-8 and NUL become U+FFFD") {
    Content t;
    const std::string bad = std::string("a\xff" "b\xc0\xaf" "c\xed\xa0\x80" "d\xf4\x90\x80\x80" "e") + '\0' +
                            "f\xf0\x9f\x98\x80 \xe2\x82";
    const std::string fffd = "\xef\xbf\xbd";
    const std::string cleaned = "a" + fffd + "b" + fffd + fffd + "c" + fffd + fffd + fffd + "d" + fffd + fffd + fffd +
                                fffd + "e" + fffd + "f\xf0\x9f\x98\x80 " + fffd + fffd;
    t.c.providers.push_back(bad);
    t.c.feeds[0].name = "feed\x80";
    const auto r = t.add_record(kProxy, static_cast<std::uint32_t>(t.c.providers.size() - 1), 0, {0});
    t.c.ranges = {{range_of("203.0.113.0/24"), r}};
    Opened o(t.c);
    const auto rows = read_script(run(o, ExportFilter{}), "anondb_ranges");
    REQUIRE(rows.size() == 1);
    CHECK(rows[0].provider == cleaned);
    CHECK(rows[0].sources == std::vector<std::string>{"feed" + fffd});
    check_rows(o, t, ExportFilter{}, rows, [&](const std::string& s) {
        return s == bad ? cleaned : s == "feed\x80" ? "feed" + fffd : s;
    });
}

TEST_CASE("pgsql export: empty database, all of IPv4, bad table names") {
    {
        Content t;
        Opened o(t.c);
        CHECK(read_script(run(o, ExportFilter{}), "anondb_ranges").empty());
        for (const std::string& bad : std::vector<std::string>{"", "1abc", "has-dash", "has space", "a;b", "x\"y",
                                                               std::string(29, 'a')}) {
            CAPTURE(bad);
            std::ostringstream out;
            CHECK(exports::write_plain(*o.db, *o.cold, PlainFormat::pgsql, ExportFilter{}, out, bad).status ==
                  Status::invalid_argument);
        }
        std::ostringstream failing;
        failing.setstate(std::ios::badbit);
        CHECK(exports::write_plain(*o.db, *o.cold, PlainFormat::pgsql, ExportFilter{}, failing).status == Status::io);
    }
    Content t;
    const auto r = t.add_record(kProxy, 1, 0, {2});
    t.c.ranges = {{range_of("0.0.0.0/0"), r}, {Range{kIpMax, kIpMax}, r}};
    Opened o(t.c);
    const auto rows = read_script(run(o, ExportFilter{}), "anondb_ranges");
    check_rows(o, t, ExportFilter{}, rows);
    REQUIRE(rows.size() == 2);
    CHECK(contains(run(o, ExportFilter{}), "\n0.0.0.0/0\t"));
    CHECK(contains(run(o, ExportFilter{}), "\nffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff\t"));
}

TEST_CASE("pgsql export: random databases and filters read back") {
    std::mt19937_64 rng(20260101);
    std::size_t rows_seen = 0, hostile_seen = 0;
    for (int round = 0; round < 300; ++round) {
        CAPTURE(round);
        Content t = random_content(rng);
        Opened o(t.c);
        const std::string name = below(rng, 2) ? "anondb" : "T_" + std::to_string(round);
        for (const ExportFilter& f : filters_for(rng, t)) {
            CAPTURE(f.categories);
            CAPTURE(f.provider);
            CAPTURE(static_cast<int>(f.family));
            const auto rows = read_script(run(o, f, name), name + "_ranges");
            check_rows(o, t, f, rows);
            rows_seen += rows.size();
            for (const auto& row : rows) hostile_seen += row.provider == kHostileProvider;
        }
    }
    CHECK(rows_seen > 1000);
    CHECK(hostile_seen > 100);
}
