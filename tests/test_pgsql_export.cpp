// The pgsql export read back by an independent parser of the psql script
// (COPY text format, array literals, ip4r range text) and checked row by row
// against what the evidence it was built from says (test_db.hpp's
// brute-force Oracle) and the native reader. A real PostgreSQL loads it in
// tests/pgsql/run_pgsql_test.sh.
//
// The content, its random generator, the filters and the filter oracles are
// shared with test_plain_export (test_db.hpp, export_oracle.hpp); the
// provider and feed names here are hostile ones.
#include <algorithm>
#include <cctype>
#include <optional>
#include <random>
#include <set>
#include <sstream>

#include "export_oracle.hpp"

using namespace anondb;
using namespace anondb::test;
using exports::ExportFilter;
using exports::PlainFormat;

namespace {

// Unoptimised builds (the sanitizer job) run fewer random rounds.
#ifdef __OPTIMIZE__
constexpr int kRandomRounds = 300;
#else
constexpr int kRandomRounds = 200;
#endif

// Every character COPY text format or array literals treat specially, SQL
// quotes and comments, psql's backslash, and UTF-8 of 2, 3 and 4 bytes.
const std::string kHostileProvider =
    "Tab\there, back\\slash \\\\ \\N \\. \"quoted\" {brace} [sq] 'single' ;-- comma,\nnew line\r\nCR \\t "
    "\xc3\xa9t\xc3\xa9 \xe2\x98\x83 \xf0\x9d\x84\x9e end\\";

// Providers and feeds (0-4) with the characters above, SQL's NULL
// spellings, blanks and braces; one feed name is empty. Feeds 3 and 4 are
// ASN lists (their entries have an AS).
Content base_content() {
    return Content({"Mullvad", kHostileProvider, "NULL", "\\N", "  padded {x,y} \"z\"  "},
                   {"tor-exits", "vpn,list\t\"tab\"", "relay {egress} \\ NULL", "", "\\."}, {3, 4});
}

std::string run(const OpenedDb& o, const ExportFilter& filter, const std::string& name = "anondb") {
    std::ostringstream out;
    const Error e = exports::write_plain(*o.db, *o.cold, PlainFormat::pgsql, filter, out, name);
    REQUIRE_MESSAGE(e.status == Status::ok, e.message);
    return out.str();
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

// The rows are exactly the oracle's (one per maximal range of one zone, one
// answer and one set of sources that the filter keeps, in address order),
// and agree with the native reader. `clean` maps a provider or feed name to
// what the export may write (identity unless it holds invalid UTF-8 or NUL).
template <class Clean>
void check_rows(const OpenedDb& o, const Oracle& oracle, const ExportFilter& f, const std::vector<PgRow>& rows,
                Clean clean) {
    const std::vector<ExpectedRow> want = expected_rows(oracle, f);
    CHECK(rows.size() == want.size());
    for (std::size_t i = 0; i < rows.size() && i < want.size(); ++i) {
        const PgRow& row = rows[i];
        const ExpectedRow& w = want[i];
        CAPTURE(format_range(row.range));
        CAPTURE(format_range(w.range));
        CHECK(row.range == w.range);
        const std::uint32_t cats = w.answer->categories;
        std::vector<std::string> names;
        std::vector<bool> flags;
        for (const auto& c : kCategoryNames) {
            if (cats & c.bit) names.emplace_back(c.name);
            flags.push_back((cats & c.bit) != 0);
        }
        CHECK(row.categories == names);
        CHECK(row.flags == flags);
        CHECK(row.anonymous == is_anonymous(cats));
        const std::string& prov = w.answer->provider;
        CHECK(row.provider == (prov.empty() ? std::nullopt : std::optional<std::string>(clean(prov))));
        CHECK(row.asn == (w.answer->asn == 0 ? std::nullopt : std::optional<std::uint32_t>(w.answer->asn)));
        std::vector<std::string> sources;
        for (const auto& s : *w.sources) sources.push_back(clean(s));
        CHECK(row.sources == sources);
        // The native reader: the row lies inside one lookup segment, whose
        // answer is the row's.
        const Segment seg = o.db->locate(row.range.first);
        CHECK(seg.range.contains(row.range.first));
        CHECK(seg.range.contains(row.range.last));
        CHECK(same(*w.answer, o.db->answer(seg.answer)));
        CHECK(db_matches(*o.db, f, row.range.first));
    }
}
void check_rows(const OpenedDb& o, const Oracle& oracle, const ExportFilter& f, const std::vector<PgRow>& rows) {
    check_rows(o, oracle, f, rows, [](const std::string& s) { return s; });
}

}  // namespace

TEST_CASE("pgsql export: format name") {
    CHECK(exports::plain_format("pgsql") == PlainFormat::pgsql);
    CHECK(exports::plain_format_name(PlainFormat::pgsql) == "pgsql");
    CHECK_FALSE(exports::plain_format("PGSQL"));
    CHECK_FALSE(exports::plain_format("sql"));
}

TEST_CASE("pgsql export: hand-picked database, exact text") {
    Content t = base_content();
    const auto padded = t.pid("  padded {x,y} \"z\"  ");
    t.add_entry("1.2.3.0/25", 0, kTorExit, 0);
    t.add_entry("1.2.3.128-1.2.3.255", 1, kVpn, padded);
    t.add_entry("1.2.3.128/25", 3, kHosting, 0, 64496);  // derived: adds its AS and its (empty) feed name
    t.add_entry("10.0.0.1-10.0.0.6", 0, kTorExit, 0);
    t.add_entry("10.0.0.4-10.0.0.6", 2, kTorExit, 0);  // same answer, one more source
    t.add_entry("2001:db8::/48", 1, kVpn, padded);
    t.add_entry("2001:db8::/48", 3, kHosting, 0, 64496);
    t.add_entry("2001:db8:1::7", 0, kTorExit, 0);
    t.merge();
    OpenedDb o(t);
    const Oracle oracle = t.oracle();
    const std::string text = run(o, ExportFilter{});
    const std::string head_end = "residential_proxy, provider, asn, sources) FROM stdin;\n";
    const auto data = text.find(head_end);
    REQUIRE(data != std::string::npos);
    CHECK(text.substr(data + head_end.size()) ==
          "1.2.3.0/25\t{\"tor_exit\"}\tt\tt\tf\tf\tf\tf\tf\t\\N\t\\N\t{\"tor-exits\"}\n"
          "1.2.3.128/25\t{\"vpn\",\"hosting\"}\tt\tf\tt\tf\tf\tt\tf\t  padded {x,y} \"z\"  \t64496\t"
          "{\"vpn,list\\t\\\\\"tab\\\\\"\",\"\"}\n"
          "10.0.0.1-10.0.0.3\t{\"tor_exit\"}\tt\tt\tf\tf\tf\tf\tf\t\\N\t\\N\t{\"tor-exits\"}\n"
          "10.0.0.4-10.0.0.6\t{\"tor_exit\"}\tt\tt\tf\tf\tf\tf\tf\t\\N\t\\N\t"
          "{\"tor-exits\",\"relay {egress} \\\\\\\\ NULL\"}\n"
          "2001:db8::/48\t{\"vpn\",\"hosting\"}\tt\tf\tt\tf\tf\tt\tf\t  padded {x,y} \"z\"  \t64496\t"
          "{\"vpn,list\\t\\\\\"tab\\\\\"\",\"\"}\n"
          "2001:db8:1::7\t{\"tor_exit\"}\tt\tt\tf\tf\tf\tf\tf\t\\N\t\\N\t{\"tor-exits\"}\n"
          "\\.\n"
          "CREATE INDEX anondb_ranges_range_idx ON anondb_ranges USING gist (range);\n"
          "ANALYZE anondb_ranges;\n"
          "COMMIT;\n");
    check_rows(o, oracle, ExportFilter{}, read_script(text, "anondb_ranges"));
    // The table takes its name from set_name, suffixed: never an SQL keyword.
    CHECK(contains(run(o, ExportFilter{}, "select"), "\nCREATE TABLE select_ranges (\n"));
    check_rows(o, oracle, ExportFilter{}, read_script(run(o, ExportFilter{}, "Set_1"), "Set_1_ranges"));
}

TEST_CASE("pgsql export: hostile provider and feed names round-trip exactly") {
    Content t = base_content();
    // Each range: one provider, entries on its first n feeds (those on the
    // ASN lists with an AS).
    const struct {
        std::string provider;
        const char* range;
        std::uint32_t feeds;
    } plan[] = {{kHostileProvider, "::1-::ffff", 3},
                {"NULL", "192.0.2.0/24", 4},
                {"\\N", "198.51.100.7", 5},
                {"  padded {x,y} \"z\"  ", "2001:db8::/32", 2},
                {"Mullvad", "ffff::/16", 1}};
    std::uint32_t k = 0;
    for (const auto& p : plan) {
        ++k;
        for (std::uint32_t f = 0; f < p.feeds; ++f)
            t.add_entry(p.range, f, kVpn | (k % 2 ? kResidentialProxy : kHosting), t.pid(p.provider),
                        t.is_asn_list(f) ? 4000000000u + k : 0);
    }
    t.merge();
    OpenedDb o(t);
    const Oracle oracle = t.oracle();
    const std::string text = run(o, ExportFilter{});
    // No data line can end the COPY early or be taken for NULL.
    CHECK_FALSE(contains(text, "\n\\.\t"));
    const auto rows = read_script(text, "anondb_ranges");
    check_rows(o, oracle, ExportFilter{}, rows);
    REQUIRE(rows.size() == 5);
    std::set<std::string> providers;
    for (const auto& row : rows) {
        REQUIRE(row.provider);
        providers.insert(*row.provider);
    }
    CHECK(providers.count(kHostileProvider) == 1);
    CHECK(providers.count("NULL") == 1);
    CHECK(providers.count("\\N") == 1);
    // Provider "\\N" has every feed, the empty name and "\\." among them.
    for (const auto& row : rows)
        if (row.provider == "\\N") {
            CHECK(row.sources == std::vector<std::string>{"tor-exits", "vpn,list\t\"tab\"", "relay {egress} \\ NULL", "", "\\."});
            CHECK(row.asn == 4000000003u);
        }
    ExportFilter hostile;
    hostile.provider = kHostileProvider;
    const auto one = read_script(run(o, hostile), "anondb_ranges");
    REQUIRE(one.size() == 1);
    CHECK(one[0].provider == kHostileProvider);
    CHECK(one[0].sources == std::vector<std::string>{"tor-exits", "vpn,list\t\"tab\"", "relay {egress} \\ NULL"});
    check_rows(o, oracle, hostile, one);
}

TEST_CASE("pgsql export: invalid UTF-8 and NUL become U+FFFD") {
    const std::string bad = std::string("a\xff" "b\xc0\xaf" "c\xed\xa0\x80" "d\xf4\x90\x80\x80" "e") + '\0' +
                            "f\xf0\x9f\x98\x80 \xe2\x82";
    const std::string fffd = "\xef\xbf\xbd";
    const std::string cleaned = "a" + fffd + "b" + fffd + fffd + "c" + fffd + fffd + fffd + "d" + fffd + fffd + fffd +
                                fffd + "e" + fffd + "f\xf0\x9f\x98\x80 " + fffd + fffd;
    Content t({"Mullvad", bad}, {"feed\x80", "vpn"});
    t.add_entry("203.0.113.0/24", 0, kProxy, t.pid(bad));
    t.merge();
    OpenedDb o(t);
    const Oracle oracle = t.oracle();
    const auto rows = read_script(run(o, ExportFilter{}), "anondb_ranges");
    REQUIRE(rows.size() == 1);
    CHECK(rows[0].provider == cleaned);
    CHECK(rows[0].sources == std::vector<std::string>{"feed" + fffd});
    check_rows(o, oracle, ExportFilter{}, rows, [&](const std::string& s) {
        return s == bad ? cleaned : s == "feed\x80" ? "feed" + fffd : s;
    });
}

TEST_CASE("pgsql export: empty database, all of IPv4, bad table names") {
    {
        Content t = base_content();
        t.merge();
        OpenedDb o(t);
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
    Content t = base_content();
    const auto origin = t.add_entry("0.0.0.0/0", 2, kProxy, t.pid("Mullvad"));
    t.add_row(Range{kIpMax, kIpMax}, origin);
    t.merge();
    OpenedDb o(t);
    const auto rows = read_script(run(o, ExportFilter{}), "anondb_ranges");
    check_rows(o, t.oracle(), ExportFilter{}, rows);
    REQUIRE(rows.size() == 2);
    CHECK(contains(run(o, ExportFilter{}), "\n0.0.0.0/0\t"));
    CHECK(contains(run(o, ExportFilter{}), "\nffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff\t"));
}

TEST_CASE("pgsql export: random databases and filters read back") {
    std::mt19937_64 rng(20260101);
    std::size_t rows_seen = 0, hostile_seen = 0, split_by_sources = 0;
    for (int round = 0; round < kRandomRounds; ++round) {
        CAPTURE(round);
        Content t = random_content(rng, base_content());
        OpenedDb o(t);
        const Oracle oracle = t.oracle();
        const std::string name = below(rng, 2) ? "anondb" : "T_" + std::to_string(round);
        for (const ExportFilter& f : filters_for(rng, t, oracle)) {
            CAPTURE(f.categories);
            CAPTURE(f.provider);
            CAPTURE(static_cast<int>(f.family));
            const auto rows = read_script(run(o, f, name), name + "_ranges");
            check_rows(o, oracle, f, rows);
            rows_seen += rows.size();
            for (std::size_t i = 0; i < rows.size(); ++i) {
                hostile_seen += rows[i].provider == kHostileProvider;
                split_by_sources += i > 0 && ip_next(rows[i - 1].range.last) == rows[i].range.first &&
                                    rows[i - 1].categories == rows[i].categories &&
                                    rows[i - 1].provider == rows[i].provider && rows[i - 1].asn == rows[i].asn;
            }
        }
    }
    CHECK(rows_seen > 1000);
    CHECK(hostile_seen > 100);
    CHECK(split_by_sources > 100);
}
