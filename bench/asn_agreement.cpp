// ASN agreement check: expands X4BNet's own input ASN lists through an ASN
// table, as anondb's builder does, and compares the result with X4BNet's
// published output lists: how much of X4BNet's output the expansion covers,
// and how much it adds. Differences are expected (X4BNet's outputs also hold
// per-provider IP lists, and routing data differs by table and date); this
// program reports them, it asserts nothing.
//
// Usage: asn_agreement [REPO_DIR] [TABLE_FORMAT TABLE_PATH]
//   default table: libloc /usr/share/libloc-location/location.db
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <string>
#include <vector>

#include "anondb/builder/asn_expand.hpp"
#include "anondb/sources/asn.hpp"
#include "anondb/sources/fetch.hpp"
#include "anondb/sources/formats.hpp"

using namespace anondb;

namespace {

using U128 = unsigned __int128;
U128 to_u128(Ip a) { return (U128{a.hi} << 64) | a.lo; }

// Sorted, disjoint, touching ranges joined.
std::vector<Range> normalise(std::vector<Range> v) {
    std::sort(v.begin(), v.end(), [](const Range& a, const Range& b) { return a.first < b.first; });
    std::vector<Range> out;
    for (const Range& r : v) {
        if (!out.empty() && (r.first <= out.back().last || (out.back().last != kIpMax && ip_next(out.back().last) == r.first))) {
            out.back().last = std::max(out.back().last, r.last);
            continue;
        }
        out.push_back(r);
    }
    return out;
}

// Addresses of a normalised set inside one family (v4: the IPv4-mapped block).
U128 size_of(const std::vector<Range>& v, bool v4) {
    U128 n = 0;
    for (const Range& r : v)
        if (r.first.is_v4() == v4) n += to_u128(r.last) - to_u128(r.first) + 1;
    return n;
}

U128 overlap(const std::vector<Range>& a, const std::vector<Range>& b, bool v4) {
    U128 n = 0;
    std::size_t i = 0, j = 0;
    while (i < a.size() && j < b.size()) {
        const Ip lo = std::max(a[i].first, b[j].first), hi = std::min(a[i].last, b[j].last);
        if (lo <= hi && lo.is_v4() == v4) n += to_u128(hi) - to_u128(lo) + 1;
        (a[i].last < b[j].last) ? ++i : ++j;
    }
    return n;
}

std::string read_or_die(const std::string& path) {
    auto body = sources::read_snapshot(path, path, "file://" + path, 0);
    if (!body) {
        std::fprintf(stderr, "asn_agreement: %s\n", body.error().message.c_str());
        std::exit(1);
    }
    return std::move(body->body);
}

std::vector<Range> read_output(const std::vector<std::string>& paths) {
    std::vector<Range> v;
    for (const auto& p : paths) {
        const std::string body = read_or_die(p);
        for (const auto& e : sources::parse_plain(body).entries) v.push_back(e.range);
    }
    return normalise(std::move(v));
}

double pct(U128 part, U128 whole) { return whole ? 100.0 * static_cast<double>(part) / static_cast<double>(whole) : 0.0; }

// IPv4 in addresses, IPv6 in /64 blocks (the unit of an end site's subnet).
double units(U128 n, bool v4) { return v4 ? static_cast<double>(n) : static_cast<double>(n >> 64); }

void compare(const char* name, const std::vector<Range>& ours, const std::vector<Range>& theirs) {
    for (const bool v4 : {true, false}) {
        const U128 a = size_of(ours, v4), b = size_of(theirs, v4), both = overlap(ours, theirs, v4);
        const char* unit = v4 ? "addresses" : "/64s";
        std::printf("%-11s %s  X4BNet output %.4g %s; expansion %.4g; covered %.4g (%.1f%% of X4BNet's); "
                    "added %.4g (%.1f%% of the expansion)\n",
                    name, v4 ? "IPv4" : "IPv6", units(b, v4), unit, units(a, v4), units(both, v4), pct(both, b),
                    units(a - both, v4), pct(a - both, a));
    }
}

}  // namespace

int main(int argc, char** argv) {
    const std::string repo = argc > 1 ? argv[1] : ".";
    const std::string table_format = argc > 3 ? argv[2] : "libloc";
    const std::string table_path = argc > 3 ? argv[3] : "/usr/share/libloc-location/location.db";

    const auto t0 = std::chrono::steady_clock::now();
    const auto* fmt = sources::find_asn_table_format(table_format);
    if (!fmt) {
        std::fprintf(stderr, "asn_agreement: unknown table format %s\n", table_format.c_str());
        return 2;
    }
    sources::AsnTable table;
    if (fmt->parse) {
        table = fmt->parse(read_or_die(table_path));
    } else {
        auto t = fmt->read_file(table_path);
        if (!t) {
            std::fprintf(stderr, "asn_agreement: %s\n", t.error().message.c_str());
            return 1;
        }
        table = std::move(*t);
    }
    const auto t1 = std::chrono::steady_clock::now();
    const builder::AsnIndex index(table);
    const auto t2 = std::chrono::steady_clock::now();
    std::printf("ASN table %s %s: %zu rows, %zu ASNs with addresses; read %.2f s, resolved %.2f s\n",
                table_format.c_str(), table_path.c_str(), table.rows.size(), index.asn_count(),
                std::chrono::duration<double>(t1 - t0).count(), std::chrono::duration<double>(t2 - t1).count());

    struct Case {
        const char* name;
        std::string list;
        std::vector<std::string> outputs;
    };
    const std::string s = repo + "/data/snapshot/";
    const Case cases[] = {
        {"vpn", s + "asn/x4bnet-vpn-ASN.txt", {s + "x4bnet/vpn-ipv4.txt", s + "x4bnet/vpn-ipv6.txt"}},
        {"datacenter", s + "asn/x4bnet-datacenter-ASN.txt",
         {s + "x4bnet/datacenter-ipv4.txt", s + "x4bnet/datacenter-ipv6.txt"}},
    };
    for (const Case& c : cases) {
        const auto list = sources::parse_asn_list(read_or_die(c.list));
        std::vector<Range> derived;
        std::size_t unrouted = 0;
        for (const auto& e : list.entries) unrouted += index.pieces_of(e.asn).empty();
        for (const auto& d : builder::expand_asn_list(list, index)) derived.push_back(d.range);
        std::printf("%-11s %zu ASNs listed, %zu with no address in the table, %zu derived pieces\n", c.name,
                    list.entries.size(), unrouted, derived.size());
        compare(c.name, normalise(std::move(derived)), read_output(c.outputs));
    }
    return 0;
}
