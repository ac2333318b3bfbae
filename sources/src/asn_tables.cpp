// ASN tables: iptoasn TSV, CAIDA prefix2as and MaxMind DB ASN databases,
// each giving prefix -> origin ASN rows (asn.hpp). The text parsers follow
// parse.hpp (never throw, every rejected line reported with a fixed reason
// from formats.hpp); the MMDB reader walks the search tree with
// libmaxminddb. (The libloc reader is asn_libloc.cpp.)
#include <maxminddb.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "anondb/sources/asn.hpp"
#include "anondb/sources/formats.hpp"
#include "lines.hpp"

namespace anondb::sources {

namespace {

// Splits `s` at every tab.
std::vector<std::string_view> split_tabs(std::string_view s) {
    std::vector<std::string_view> out;
    std::size_t start = 0;
    while (true) {
        const std::size_t tab = s.find('\t', start);
        if (tab == std::string_view::npos) {
            out.push_back(s.substr(start));
            return out;
        }
        out.push_back(s.substr(start, tab - start));
        start = tab + 1;
    }
}

// A decimal AS number 0..4294967295: digits only, no sign, no leading zero
// (except "0" itself). Returns the reject reason, empty when `out` is set.
std::string_view parse_asn(std::string_view s, std::uint32_t& out) noexcept {
    if (s.empty() || (s.size() > 1 && s[0] == '0')) return reasons::kBadAsn;
    std::uint64_t v = 0;
    for (const char c : s) {
        if (c < '0' || c > '9') return reasons::kBadAsn;
        if (v <= 0xFFFFFFFFull) v = v * 10 + static_cast<std::uint64_t>(c - '0');  // stops growing once too large
    }
    if (v > 0xFFFFFFFFull) return reasons::kAsnTooLarge;
    out = static_cast<std::uint32_t>(v);
    return {};
}

// Adds a row, or past options.max_entries nothing (entry_allowed). Returns
// whether the row was added.
bool add_row(AsnTable& t, const ParseOptions& options, const Range& range, std::uint32_t line, std::string_view text,
             const std::vector<std::uint32_t>& asns) {
    if (!detail::entry_allowed(t.rows.size(), options, t.rejects, t.over_max_entries, line, text)) return false;
    AsnRow row;
    row.range = range;
    row.asn_begin = static_cast<std::uint32_t>(t.asns.size());
    row.asn_count = static_cast<std::uint32_t>(asns.size());
    row.line = line;
    row.text_offset = t.text.size();
    row.text_length = text.size();
    t.text.append(text);
    t.asns.insert(t.asns.end(), asns.begin(), asns.end());
    t.rows.push_back(row);
    return true;
}

// Runs the shared line frame (line and entry limits), collecting rows and
// issues into the table.
template <class OnLine>
AsnTable parse_table(std::string_view body, const ParseOptions& options, OnLine on_line) {
    AsnTable table;
    detail::for_each_line(body, options, table.rejects, table.over_max_entries, [&](const detail::Line& line) {
        // Tabs separate fields, so a line is not trimmed: a row that ends in
        // empty fields ends in tabs. Blank lines are skipped.
        if (detail::trim_blanks(line.text).empty()) return;
        on_line(table, line.number, line.text);
    });
    return table;
}

}  // namespace

AsnTable parse_iptoasn(std::string_view body, const ParseOptions& options) {
    return parse_table(body, options, [&options](AsnTable& t, std::uint32_t number, std::string_view text) {
        const std::vector<std::string_view> f = split_tabs(text);
        if (f.size() < 5) return detail::add_issue(t.rejects, number, reasons::kMissingField, text);
        if (f.size() > 5) return detail::add_issue(t.rejects, number, reasons::kTooManyFields, text);
        const auto first = parse_ip(f[0]);
        if (!first) return detail::add_issue(t.rejects, number, ip_error_text(first.error), text);
        const auto last = parse_ip(f[1]);
        if (!last) return detail::add_issue(t.rejects, number, ip_error_text(last.error), text);
        if (first->written_v4 != last->written_v4)
            return detail::add_issue(t.rejects, number, ip_error_text(IpError::mixed_families), text);
        if (last->ip < first->ip)
            return detail::add_issue(t.rejects, number, ip_error_text(IpError::reversed_range), text);
        std::uint32_t asn = 0;
        if (const auto bad = parse_asn(f[2], asn); !bad.empty())
            return detail::add_issue(t.rejects, number, bad, text);
        // "Not routed": no origin, not an error. The ranges are disjoint, so
        // an AS 0 row has nothing to shadow and is left out.
        if (asn == 0) return;
        add_row(t, options, Range{first->ip, last->ip}, number, text, {asn});
    });
}

AsnTable parse_pfx2as(std::string_view body, const ParseOptions& options) {
    return parse_table(body, options, [&options](AsnTable& t, std::uint32_t number, std::string_view text) {
        const std::vector<std::string_view> f = split_tabs(text);
        if (f.size() < 3) return detail::add_issue(t.rejects, number, reasons::kMissingField, text);
        if (f.size() > 3) return detail::add_issue(t.rejects, number, reasons::kTooManyFields, text);
        const auto addr = parse_ip(f[0]);
        if (!addr) return detail::add_issue(t.rejects, number, ip_error_text(addr.error), text);
        const auto len = anondb::detail::parse_prefix_len(f[1], addr->written_v4 ? 32 : 128);
        if (!len) return detail::add_issue(t.rejects, number, ip_error_text(len.error), text);
        const unsigned len128 = addr->written_v4 ? *len + 96 : *len;
        // Origins: '_' separates the origins of a multi-origin prefix, ','
        // the members of an AS set; both give a list of ASNs.
        std::vector<std::uint32_t> asns;
        std::string_view origin = f[2];
        while (true) {
            const std::size_t sep = origin.find_first_of("_,");
            const std::string_view piece = origin.substr(0, sep);
            std::uint32_t asn = 0;
            if (const auto bad = parse_asn(piece, asn); !bad.empty())
                return detail::add_issue(t.rejects, number, bad, text);
            if (asn == 0) return detail::add_issue(t.rejects, number, reasons::kAsnZero, text);
            asns.push_back(asn);
            if (sep == std::string_view::npos) break;
            origin.remove_prefix(sep + 1);
        }
        const Range range = prefix_range(addr->ip, len128);
        if (add_row(t, options, range, number, text, asns) && range.first != addr->ip)
            detail::add_issue(t.warnings, number, reasons::kHostBits, text);
    });
}

namespace {

class MmdbHandle {
public:
    MMDB_s db{};
    bool open = false;
    ~MmdbHandle() {
        if (open) MMDB_close(&db);
    }
};

struct Pending {
    std::uint32_t node;
    unsigned depth;  // bits of the address fixed so far
    Ip addr;         // in the tree's own bit order: 128 bits for IPv6, low 32 for IPv4
};

Ip with_bit(Ip a, unsigned bit_from_top) noexcept {  // bit_from_top in 0..127
    if (bit_from_top < 64) a.hi |= 1ull << (63 - bit_from_top);
    else a.lo |= 1ull << (127 - bit_from_top);
    return a;
}

}  // namespace

Expected<AsnTable> read_mmdb_asn(const std::string& path, const ParseOptions& options) {
    MmdbHandle h;
    const int rc = MMDB_open(path.c_str(), MMDB_MODE_MMAP, &h.db);
    if (rc != MMDB_SUCCESS) {
        const Status s = rc == MMDB_FILE_OPEN_ERROR || rc == MMDB_IO_ERROR ? Status::io : Status::corrupt;
        return make_error(s, path + ": " + MMDB_strerror(rc));
    }
    h.open = true;
    const MMDB_s& db = h.db;
    const unsigned ip_version = db.metadata.ip_version;
    if (ip_version != 4 && ip_version != 6)
        return make_error(Status::corrupt, path + ": ip_version is neither 4 nor 6");
    const unsigned bits = ip_version == 6 ? 128 : 32;
    const std::uint32_t node_count = db.metadata.node_count;
    if (node_count == 0) return make_error(Status::corrupt, path + ": empty search tree");

    auto corrupt = [&path](std::string_view what) { return make_error(Status::corrupt, path + ": " + std::string(what)); };
    auto read_node = [&db](std::uint32_t n, MMDB_search_node_s& node) { return MMDB_read_node(&db, n, &node); };

    // An IPv6 tree holds IPv4 at ::/96: libmaxminddb looks an IPv4 address
    // a.b.c.d up at ::a.b.c.d, through whatever the 96 left turns from the
    // root reach (a subtree, or a record at or above ::/96). anondb writes
    // IPv4 as IPv4-mapped, so a record's part inside ::/96 comes out in
    // ::ffff:0:0/96, and nothing the tree holds in ::ffff:0:0/96 itself
    // does: that is an alias of ::/96 in MaxMind's writers, and never
    // reached for an IPv4 address in any tree. (The read_mmdb_asn fuzz
    // target found rows overlapping when either was taken as IPv4.)
    // The node at ::/96, when there is one: other paths to it (::ffff:0:0/96,
    // 2002::/16) are aliases and are skipped.
    constexpr std::uint32_t kNoNode = 0xFFFFFFFFu;
    std::uint32_t v4_node = kNoNode;
    if (ip_version == 6) {
        std::uint32_t n = 0;
        unsigned depth = 0;
        while (depth < 96) {
            MMDB_search_node_s node;
            if (read_node(n, node) != MMDB_SUCCESS) return corrupt("bad search node on the way to ::/96");
            if (node.left_record_type != MMDB_RECORD_TYPE_SEARCH_NODE) break;
            n = static_cast<std::uint32_t>(node.left_record);
            ++depth;
        }
        if (depth == 96) v4_node = n;
    }
    const Range mapped{kV4First, kV4Last};
    const Range v4_in_tree{Ip{}, Ip{0, 0xFFFFFFFFull}};  // ::/96

    AsnTable table;
    std::vector<bool> visited(node_count, false);
    std::vector<Pending> stack;
    stack.push_back(Pending{0, 0, Ip{}});
    static const char* const kPath[] = {"autonomous_system_number", nullptr};

    while (!stack.empty() && !table.over_max_entries) {
        const Pending p = stack.back();
        stack.pop_back();
        if (p.node >= node_count) return corrupt("search node number out of range");
        if (visited[p.node]) return corrupt("search tree loop or shared node");
        visited[p.node] = true;
        if (p.depth >= bits) return corrupt("search tree deeper than the address");
        MMDB_search_node_s node;
        const int nrc = read_node(p.node, node);
        if (nrc != MMDB_SUCCESS) return corrupt(std::string("cannot read search node: ") + MMDB_strerror(nrc));

        // Right first, so the left (lower) half is walked first.
        for (int side = 1; side >= 0; --side) {
            const std::uint64_t record = side ? node.right_record : node.left_record;
            const std::uint8_t type = side ? node.right_record_type : node.left_record_type;
            MMDB_entry_s entry = side ? node.right_record_entry : node.left_record_entry;
            const unsigned depth = p.depth + 1;
            const Ip addr = side ? with_bit(p.addr, (128 - bits) + p.depth) : p.addr;
            const bool in_v4_tree = ip_version == 4;
            // In an IPv6 tree, ::/96 holds IPv4 (libmaxminddb looks IPv4
            // addresses up there): a network inside it is an IPv4 network.
            const bool under_v4_subtree = ip_version == 6 && depth >= 96 && addr.hi == 0 && (addr.lo >> 32) == 0;
            // Inside ::ffff:0:0/96 (above): gives nothing, walked or not.
            if (ip_version == 6 && depth >= 96 && mapped.contains(addr)) continue;
            switch (type) {
                case MMDB_RECORD_TYPE_EMPTY: break;
                case MMDB_RECORD_TYPE_SEARCH_NODE: {
                    const auto child = static_cast<std::uint32_t>(record);
                    if (child == v4_node && !(depth == 96 && addr == Ip{})) break;  // an alias
                    stack.push_back(Pending{child, depth, addr});
                    break;
                }
                case MMDB_RECORD_TYPE_DATA: {
                    MMDB_entry_data_s data;
                    const int arc = MMDB_aget_value(&entry, &data, kPath);
                    if (arc == MMDB_LOOKUP_PATH_DOES_NOT_MATCH_DATA_ERROR) break;
                    if (arc != MMDB_SUCCESS) return corrupt(std::string("bad data record: ") + MMDB_strerror(arc));
                    if (!data.has_data) break;
                    // The network, as written: IPv4 as IPv4.
                    Range range;
                    std::string text;
                    if (in_v4_tree || under_v4_subtree) {
                        const unsigned len = in_v4_tree ? depth : depth - 96;
                        const Ip v4 = Ip::from_v4(static_cast<std::uint32_t>(addr.lo));
                        range = prefix_range(v4, len + 96);
                        text = format_ip(v4) + "/" + std::to_string(len);
                    } else {
                        range = prefix_range(addr, depth);
                        text = format_ip(range.first) + "/" + std::to_string(depth);
                    }
                    std::uint64_t asn = 0;
                    if (data.type == MMDB_DATA_TYPE_UINT32) asn = data.uint32;
                    else if (data.type == MMDB_DATA_TYPE_UINT16) asn = data.uint16;
                    else if (data.type == MMDB_DATA_TYPE_UINT64) asn = data.uint64;
                    else {
                        detail::add_issue(table.rejects, 0, reasons::kMmdbAsnNotUnsigned, text);
                        break;
                    }
                    if (asn > 0xFFFFFFFFull) {
                        detail::add_issue(table.rejects, 0, reasons::kAsnTooLarge, text);
                        break;
                    }
                    if (asn == 0) break;
                    const std::vector<std::uint32_t> asns{static_cast<std::uint32_t>(asn)};
                    if (in_v4_tree || under_v4_subtree) {
                        add_row(table, options, range, 0, text, asns);
                        break;
                    }
                    // An IPv6 network: its part over ::/96 as IPv4 (a
                    // network ::/d, d < 96), then its parts outside ::/96
                    // and ::ffff:0:0/96 (which follows it) as they are.
                    if (range.first <= v4_in_tree.last)
                        add_row(table, options, mapped, 0, text, asns);
                    const Ip below_first = std::max(range.first, ip_next(v4_in_tree.last));
                    const Ip below_last = std::min(range.last, ip_prev(mapped.first));
                    if (below_first <= below_last) add_row(table, options, {below_first, below_last}, 0, text, asns);
                    if (mapped.last < range.last)
                        add_row(table, options, {std::max(range.first, ip_next(mapped.last)), range.last}, 0, text,
                                asns);
                    break;
                }
                default: return corrupt("invalid search tree record");
            }
        }
    }
    // In address order (the walk emits the two records of a node before
    // the subtrees below them). Rows are disjoint, so the order is strict.
    std::sort(table.rows.begin(), table.rows.end(),
              [](const AsnRow& a, const AsnRow& b) { return a.range.first < b.range.first; });
    return table;
}

}  // namespace anondb::sources
