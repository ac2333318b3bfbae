// Bulk annotation (builder/annotate): every output line read back by an
// independent parser and checked against what the evidence the database was
// built from says (test_db.hpp's brute-force Oracle: each address's answer
// and its lookup segment, the maximal run of that answer); input fed
// through a pipe in random chunk sizes, with noise, CSV quoting, overlong
// lines and write failures.
#include <rapidjson/document.h>

#include <fcntl.h>
#include <unistd.h>

#include <map>
#include <random>
#include <set>
#include <thread>
#include <tuple>

#include "anondb/builder/annotate.hpp"
#include "test_db.hpp"

using namespace anondb;
using namespace anondb::test;
using builder::AnnotateFormat;
using builder::AnnotateOptions;
using builder::Annotator;

namespace {

// Hostile names: CSV delimiters and quotes, a line break, a terminal escape,
// UTF-8. Feed 3 is an ASN list (its entries have an AS).
Content base_content() {
    return Content({"Mullvad", "Acme, \"Cloud\" Inc.", "Line\nBreak \xc3\xa9t\xc3\xa9", "Esc\x1b[31m"},
                   {"tor-exits", "vpn,list", "relay \"egress\"", "asn-list"}, {3});
}

// What the annotator must say for one address, from the evidence alone:
// its answer and its lookup segment (the maximal run of that answer in its
// zone).
struct Expect {
    Ip ip;
    Want answer;
    Range segment;
};

Expect expect_for(const Oracle& oracle, Ip ip) {
    return {ip, oracle.answer_at(ip), oracle.segment_at(ip)};
}

// The printed range is the address's whole lookup segment.
void check_range(const Expect& e, std::string_view text) {
    const auto r = parse_range(text);
    REQUIRE_MESSAGE(r, "range text " << std::string(text));
    CHECK(r->range == e.segment);
    CHECK(r->range.contains(e.ip));
}

// The annotator over `input`, fed through a pipe by a thread in random-size
// writes (so lines split across reads); the output read from a file.
struct Ran {
    std::string out;
    builder::InputCounts stats;
    Error error;
};

Ran annotate(const Database& db, const AnnotateOptions& options, const std::string& input, std::mt19937_64& rng) {
    TempDir dir("anondb-annotate");
    const std::string out_path = (dir.path / "out").string();
    const int out_fd = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    REQUIRE(out_fd >= 0);
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    const std::uint64_t seed = rng();
    std::thread feeder([&, seed] {
        std::mt19937_64 local(seed);
        std::size_t at = 0;
        while (at < input.size()) {
            // Tiny writes in most rounds, so lines and groups of lines span reads.
            const std::size_t most = seed % 4 == 0 ? 70000 : 200;
            const std::size_t n = std::min<std::size_t>(input.size() - at, 1 + local() % most);
            const ssize_t w = ::write(fds[1], input.data() + at, n);
            if (w <= 0) break;
            at += static_cast<std::size_t>(w);
        }
        ::close(fds[1]);
    });
    Ran ran;
    {
        auto a = Annotator::create(db, options, out_fd);
        REQUIRE_MESSAGE(a, (a ? "" : a.error().message));
        ran.error = a->read_all(fds[0], "pipe");
        ran.stats = a->stats();
    }
    feeder.join();
    ::close(fds[0]);
    ::close(out_fd);
    ran.out = read_text(out_path);
    return ran;
}

// One address as a user might write it: canonical, IPv4-mapped, upper-case,
// with blanks around it.
std::string spelled(Ip ip, std::mt19937_64& rng) {
    std::string s = format_ip(ip);
    switch (below(rng, 4)) {
        case 0:
            if (ip.is_v4()) s = "::ffff:" + s;
            break;
        case 1:
            for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
            break;
        case 2: s = "  " + s + " "; break;
        default: break;
    }
    return s;
}

// Addresses that matter for the content: every evidence row's ends and the
// addresses just outside, every segment's ends, plus random ones in every
// zone.
std::vector<Ip> probe_addresses(const Oracle& oracle, std::mt19937_64& rng) {
    std::vector<Ip> out;
    auto around = [&](Range r) {
        out.push_back(r.first);
        out.push_back(r.last);
        if (r.first != kIpMin) out.push_back(ip_prev(r.first));
        if (r.last != kIpMax) out.push_back(ip_next(r.last));
    };
    for (const auto& r : oracle.rows()) around(r.range);
    for (const auto& [range, piece] : oracle.segments())
        if (below(rng, 2)) around(range);
    for (int k = 0; k < 40; ++k) {
        const Range z = zone_range(static_cast<int>(below(rng, 3)));
        out.push_back(to_ip(to_u128(z.first) + (to_u128(Ip{rng(), rng()}) % (to_u128(z.last) - to_u128(z.first)))));
    }
    std::shuffle(out.begin(), out.end(), rng);
    return out;
}

// An independent RFC 4180 reader: rows may span lines inside quotes.
std::vector<std::vector<std::string>> parse_csv(const std::string& s, char delim) {
    std::vector<std::vector<std::string>> rows;
    std::vector<std::string> row;
    std::string field;
    bool quoted = false, any = false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (quoted) {
            if (c == '"' && i + 1 < s.size() && s[i + 1] == '"') {
                field += '"';
                ++i;
            } else if (c == '"') {
                quoted = false;
            } else {
                field += c;
            }
        } else if (c == '"') {
            quoted = true;
            any = true;
        } else if (c == delim) {
            row.push_back(std::move(field));
            field.clear();
            any = true;
        } else if (c == '\n') {
            row.push_back(std::move(field));
            field.clear();
            rows.push_back(std::move(row));
            row.clear();
            any = false;
        } else {
            field += c;
            any = true;
        }
    }
    REQUIRE_FALSE(quoted);
    if (any) {
        row.push_back(std::move(field));
        rows.push_back(std::move(row));
    }
    return rows;
}

std::string categories_text(std::uint32_t flags, char sep) { return category_list(flags, sep); }

}  // namespace

TEST_CASE("annotate: text, json and csv agree with a brute-force search, line by line") {
    std::mt19937_64 rng(71);
    for (int round = 0; round < 120; ++round) {
        CAPTURE(round);
        const Content t = random_content(rng, base_content());
        const OpenedDb o(t);
        const Oracle oracle = t.oracle();
        const std::vector<Ip> probes = probe_addresses(oracle, rng);

        // Plain lines with noise the annotator must skip: comments, blank
        // lines, CRLF endings; and bad lines it must report in place.
        std::string input;
        std::vector<std::optional<Expect>> want;  // nullopt: an error line
        std::vector<std::string> bad_texts;
        for (const Ip ip : probes) {
            switch (below(rng, 12)) {
                case 0: input += "# a comment\n"; break;
                case 1: input += "\n   \n"; break;
                case 2:
                    input += "10.0.0.256\n";
                    want.emplace_back();
                    bad_texts.push_back("10.0.0.256");
                    break;
                default: break;
            }
            input += spelled(ip, rng);
            input += below(rng, 5) == 0 ? "\r\n" : "\n";
            want.push_back(expect_for(oracle, ip));
        }
        if (below(rng, 2)) input.pop_back();  // a last line without '\n'
        if (input.back() == '\r') input.pop_back();

        // text
        {
            const Ran r = annotate(*o.db, {}, input, rng);
            REQUIRE(r.error.status == Status::ok);
            const auto lines = split_lines<std::string>(r.out);
            REQUIRE(lines.size() == want.size());
            std::size_t bad = 0;
            for (std::size_t i = 0; i < lines.size(); ++i) {
                const std::string& line = lines[i];
                CAPTURE(line);
                if (!want[i]) {
                    CHECK(line == bad_texts[bad++] + "  error: " + std::string(ip_error_text(IpError::octet_range)));
                    continue;
                }
                const Expect& e = *want[i];
                const std::string ip = format_ip(e.ip);
                REQUIRE(line.starts_with(ip + "  "));
                const auto open = line.rfind("  (range ");
                REQUIRE(open != std::string::npos);
                REQUIRE(line.back() == ')');
                check_range(e, std::string_view(line).substr(open + 9, line.size() - open - 10));
                const std::string middle = line.substr(ip.size() + 2, open - ip.size() - 2);
                if (!e.answer.flagged) {
                    CHECK(middle == "not flagged");
                    continue;
                }
                // The provider text with control bytes escaped, as the test spells it.
                std::string provider = e.answer.provider.empty() ? "-" : "";
                for (const unsigned char c : e.answer.provider) {
                    static const char hex[] = "0123456789abcdef";
                    if (c < 0x20 || c == 0x7f) provider += std::string("\\x") + hex[c >> 4] + hex[c & 15];
                    else provider += static_cast<char>(c);
                }
                std::string want_middle = categories_text(e.answer.categories, ',');
                if (is_anonymous(e.answer.categories)) want_middle += "  anonymous";
                want_middle += "  provider " + provider;
                if (e.answer.asn) want_middle += "  AS" + std::to_string(e.answer.asn);
                CHECK(middle == want_middle);
            }
            CHECK(r.stats.invalid == bad_texts.size());
            CHECK(r.stats.addresses == probes.size());
        }
        // json
        {
            AnnotateOptions opt;
            opt.format = AnnotateFormat::json;
            const Ran r = annotate(*o.db, opt, input, rng);
            REQUIRE(r.error.status == Status::ok);
            const auto lines = split_lines<std::string>(r.out);
            REQUIRE(lines.size() == want.size());
            // Answer ids: one per distinct answer, 0 for "not flagged".
            std::map<std::uint32_t, Want> answer_of_id;
            for (std::size_t i = 0; i < lines.size(); ++i) {
                rapidjson::Document d;
                d.Parse(lines[i].c_str());
                REQUIRE_MESSAGE(!d.HasParseError(), lines[i]);
                if (!want[i]) {
                    CHECK(std::string(d["error"].GetString()) == ip_error_text(IpError::octet_range));
                    CHECK(d["line"].GetUint64() > 0);
                    continue;
                }
                const Expect& e = *want[i];
                CHECK(d.MemberCount() == 8);
                CHECK(d["ip"].GetString() == format_ip(e.ip));
                CHECK(d["flagged"].GetBool() == e.answer.flagged);
                CHECK(d["anonymous"].GetBool() == is_anonymous(e.answer.categories));
                std::uint32_t cats = 0;
                for (const auto& c : d["categories"].GetArray()) cats |= *category_from_name(c.GetString());
                CHECK(cats == e.answer.categories);
                if (e.answer.provider.empty()) CHECK(d["provider"].IsNull());
                else CHECK(std::string(d["provider"].GetString(), d["provider"].GetStringLength()) == e.answer.provider);
                if (e.answer.asn == 0) CHECK(d["asn"].IsNull());
                else CHECK(d["asn"].GetUint() == e.answer.asn);
                check_range(e, d["range"].GetString());
                CHECK_FALSE(d.HasMember("record"));
                REQUIRE((d.HasMember("answer") && d["answer"].IsUint()));
                const std::uint32_t id = d["answer"].GetUint();
                CHECK((id != 0) == e.answer.flagged);
                const auto [it, fresh] = answer_of_id.try_emplace(id, e.answer);
                if (!fresh) CHECK(it->second == e.answer);
            }
            std::set<std::tuple<bool, std::uint32_t, std::string, std::uint32_t>> distinct;
            for (const auto& [id, w] : answer_of_id) distinct.insert({w.flagged, w.categories, w.provider, w.asn});
            CHECK(distinct.size() == answer_of_id.size());
        }
        // csv: the address in column 2 of 3, sometimes quoted, by name or number.
        {
            const char delim = below(rng, 3) == 0 ? '\t' : ',';
            const std::string d(1, delim);
            std::string csv = "id" + d + "client ip" + d + "note\n";
            std::vector<std::optional<Expect>> rows;  // nullopt: a row without the column
            std::vector<std::size_t> ids;
            for (std::size_t i = 0; i < probes.size(); ++i) {
                std::string addr = spelled(probes[i], rng);
                if (below(rng, 3) == 0) addr = "\"" + addr + "\"";
                const std::string note = below(rng, 2) ? "\"x" + d + " \"\"y\"\"\"" : "plain";
                csv += std::to_string(i) + d + addr + d + note + "\n";
                rows.push_back(expect_for(oracle, probes[i]));
                ids.push_back(i);
                if (below(rng, 10) == 0) {
                    csv += "short\n";  // no column 2
                    rows.emplace_back();
                    ids.push_back(0);
                }
            }
            AnnotateOptions opt;
            opt.delimiter = delim;
            if (below(rng, 2)) opt.column_name = "client ip";
            else {
                opt.column = 2;
                opt.header = true;
            }
            const Ran r = annotate(*o.db, opt, csv, rng);
            REQUIRE(r.error.status == Status::ok);
            const auto parsed = parse_csv(r.out, delim);
            REQUIRE(parsed.size() == rows.size() + 1);
            const std::vector<std::string> header = {"id", "client ip", "note", "anondb_flagged", "anondb_anonymous",
                                                     "anondb_categories", "anondb_provider", "anondb_asn",
                                                     "anondb_range", "anondb_error"};
            CHECK(parsed[0] == header);
            for (std::size_t i = 0; i < rows.size(); ++i) {
                const auto& row = parsed[i + 1];
                if (!rows[i]) {
                    REQUIRE(row.size() == 8);
                    CHECK(row[0] == "short");
                    CHECK(row[7].find("no address column") != std::string::npos);
                    continue;
                }
                REQUIRE(row.size() == 10);
                const Expect& e = *rows[i];
                CHECK(row[0] == std::to_string(ids[i]));
                CHECK(parse_ip(detail::trim(row[1]))->ip == e.ip);
                CHECK(row[3] == (e.answer.flagged ? "true" : "false"));
                CHECK(row[4] == (is_anonymous(e.answer.categories) ? "true" : "false"));
                CHECK(row[5] == categories_text(e.answer.categories, '|'));
                CHECK(row[6] == e.answer.provider);
                CHECK(row[7] == (e.answer.asn ? std::to_string(e.answer.asn) : ""));
                check_range(e, row[8]);
                CHECK(row[9] == "");
            }
            CHECK(r.stats.invalid == static_cast<std::size_t>(std::count(rows.begin(), rows.end(), std::nullopt)));
        }
    }
}

TEST_CASE("annotate: the range is the address's lookup segment: entries of one answer join, nested ones cut") {
    std::mt19937_64 rng(3);
    Content t = base_content();
    const auto acme = t.pid("Acme, \"Cloud\" Inc.");
    t.add_entry("10.0.0.0/25", 0, kTorExit, 0);
    t.add_entry("10.0.0.128/25", 1, kTorExit, 0);  // other feed, same answer: one segment
    t.add_entry("2001:db8::/32", 1, kVpn, acme);
    t.add_entry("2001:db8:1::/48", 3, kVpn, 0, 64496);  // derived inside: adds its AS
    t.merge();
    const OpenedDb o(t);
    const Ran r = annotate(*o.db, {}, "10.0.0.200\n2001:db8::1\n2001:db8:1::1\n2001:db8:2::\n10.0.1.0\n", rng);
    REQUIRE(r.error.status == Status::ok);
    CHECK(r.out ==
          "10.0.0.200  tor_exit  anonymous  provider -  (range 10.0.0.0/24)\n"
          "2001:db8::1  vpn  anonymous  provider Acme, \"Cloud\" Inc.  (range 2001:db8::/48)\n"
          "2001:db8:1::1  vpn  anonymous  provider Acme, \"Cloud\" Inc.  AS64496  (range 2001:db8:1::/48)\n"
          "2001:db8:2::  vpn  anonymous  provider Acme, \"Cloud\" Inc.  (range 2001:db8:2::-2001:db8:ffff:ffff:ffff:ffff:ffff:ffff)\n"
          "10.0.1.0  not flagged  (range 10.0.1.0-255.255.255.255)\n");
    AnnotateOptions json;
    json.format = AnnotateFormat::json;
    const Ran j = annotate(*o.db, json, "2001:db8:1::1\n", rng);
    REQUIRE(j.error.status == Status::ok);
    CHECK(j.out ==
          "{\"ip\":\"2001:db8:1::1\",\"flagged\":true,\"anonymous\":true,\"categories\":[\"vpn\"],"
          "\"provider\":\"Acme, \\\"Cloud\\\" Inc.\",\"asn\":64496,\"range\":\"2001:db8:1::/48\",\"answer\":" +
              std::to_string(o.db->locate(ip_of("2001:db8:1::1")).answer) + "}\n");
    CHECK(o.db->locate(ip_of("2001:db8:1::1")).answer != 0);
}

TEST_CASE("annotate: an overlong line is one error line and the lines after it still count") {
    std::mt19937_64 rng(5);
    Content t = base_content();
    t.add_entry("185.220.101.0/24", 0, kTorExit, t.pid("Mullvad"));
    t.merge();
    const OpenedDb o(t);
    const std::string huge(builder::kMaxLineBytes + 12345, '7');
    const std::string input = "185.220.101.1\n" + huge + "\n185.220.101.2\n" + huge + "\n9.9.9.9";
    for (const AnnotateFormat f : {AnnotateFormat::text, AnnotateFormat::json}) {
        AnnotateOptions opt;
        opt.format = f;
        const Ran r = annotate(*o.db, opt, input, rng);
        REQUIRE(r.error.status == Status::ok);
        const auto lines = split_lines<std::string>(r.out);
        REQUIRE(lines.size() == 5);
        CHECK(lines[0].find("tor_exit") != std::string::npos);
        CHECK(lines[1].find("line longer than 1 MiB") != std::string::npos);
        CHECK(lines[1].size() < 200);
        CHECK(lines[2].find("185.220.101.2") != std::string::npos);
        CHECK(lines[2].find("tor_exit") != std::string::npos);
        CHECK(lines[3].find("line longer than 1 MiB") != std::string::npos);
        CHECK(lines[4].find(f == AnnotateFormat::text ? "not flagged" : "\"flagged\":false") != std::string::npos);
        CHECK(r.stats.lines == 5);
        CHECK(r.stats.invalid == 2);
        CHECK(r.stats.first_invalid_line == 2);
    }
}

TEST_CASE("annotate: option errors, a missing header column and a failing output are errors, not crashes") {
    Content t = base_content();
    t.merge();
    const OpenedDb o(t);
    AnnotateOptions quote;
    quote.delimiter = '"';
    CHECK_FALSE(Annotator::create(*o.db, quote, STDOUT_FILENO));
    AnnotateOptions csv_without_column;
    csv_without_column.format = AnnotateFormat::csv;
    CHECK_FALSE(Annotator::create(*o.db, csv_without_column, STDOUT_FILENO));

    std::mt19937_64 rng(9);
    AnnotateOptions named;
    named.column_name = "ip";
    const Ran missing = annotate(*o.db, named, "addr,x\n1.2.3.4,y\n", rng);
    CHECK(missing.error.status == Status::invalid_argument);
    CHECK(contains(missing.error.message, "pipe: line 1: no column named 'ip'"));
    CHECK(missing.out.empty());

    // /dev/full fails every write with ENOSPC.
    const int full = ::open("/dev/full", O_WRONLY | O_CLOEXEC);
    REQUIRE(full >= 0);
    auto a = Annotator::create(*o.db, {}, full);
    REQUIRE(a);
    CHECK(a->line("192.0.2.1", 1).status == Status::ok);  // buffered
    const Error e = a->flush();
    CHECK(e.status == Status::io);
    CHECK(contains(e.message, "No space left"));
    ::close(full);
}
