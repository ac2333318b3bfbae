// MaxMind DB 2.0 encoder for anondb databases; policy in mmdb_writer.hpp.
#include "anondb/mmdb_writer.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <string_view>

#include "anondb/seen.hpp"

namespace anondb::mmdb {
namespace {

// ---- data section encoding (spec: "Output Data Section") ----------------------

enum Type : unsigned {
    kUtf8 = 2,
    kUint16 = 5,
    kUint32 = 6,
    kMap = 7,
    kUint64 = 9,
    kArray = 11,
    kBool = 14,
};

constexpr std::uint32_t kMaxPayload = 65821u + 0xffffffu;  // largest size field

void put_control(std::string& out, unsigned type, std::uint32_t size) {
    unsigned first = type <= 7 ? type << 5 : 0;
    std::string size_bytes;
    if (size < 29) {
        first |= size;
    } else if (size < 285) {
        first |= 29;
        size_bytes += static_cast<char>(size - 29);
    } else if (size < 65821) {
        first |= 30;
        const std::uint32_t v = size - 285;
        size_bytes += static_cast<char>(v >> 8);
        size_bytes += static_cast<char>(v);
    } else {
        first |= 31;
        const std::uint32_t v = size - 65821;
        size_bytes += static_cast<char>(v >> 16);
        size_bytes += static_cast<char>(v >> 8);
        size_bytes += static_cast<char>(v);
    }
    out += static_cast<char>(first);
    if (type > 7) out += static_cast<char>(type - 7);  // extended type byte precedes the size bytes
    out += size_bytes;
}

// Strings here are names from feeds.yaml or metadata; a 16 MiB one is a bug upstream.
Error put_string(std::string& out, std::string_view s) {
    if (s.size() > kMaxPayload)
        return make_error(Status::invalid_argument, "MMDB string of " + std::to_string(s.size()) + " bytes is too long");
    put_control(out, kUtf8, static_cast<std::uint32_t>(s.size()));
    out += s;
    return {};
}

// Unsigned integers take the fewest big-endian bytes (0 takes none).
void put_uint(std::string& out, unsigned type, std::uint64_t v) {
    unsigned n = 0;
    for (std::uint64_t t = v; t; t >>= 8) ++n;
    put_control(out, type, n);
    for (unsigned i = n; i-- > 0;) out += static_cast<char>(v >> (8 * i));
}

void put_bool_true(std::string& out, std::string_view key) {
    (void)put_string(out, key);
    put_control(out, kBool, 1);
}

// The data map of one range: its answer and sources (keys in a fixed
// order, so output is stable).
Expected<std::string> encode_map(const LookupResult& r, const std::vector<std::string_view>& sources,
                                 const Assessment& assessment, std::optional<std::uint32_t> first_seen) {
    const std::uint32_t cats = r.categories;
    const struct {
        std::string_view key;
        bool on;
    } flags[] = {
        {"is_anonymous", is_anonymous(cats)},
        {"is_anonymous_vpn", (cats & kVpn) != 0},
        {"is_hosting_provider", (cats & kHosting) != 0},
        {"is_public_proxy", (cats & kProxy) != 0},
        {"is_residential_proxy", (cats & kResidentialProxy) != 0},
        {"is_tor_exit_node", (cats & kTorExit) != 0},
    };
    std::uint32_t pairs = 3;  // sources, anonymizer_confidence, network_last_seen
    if (first_seen) ++pairs;
    if (r.asn) ++pairs;
    if (!r.provider.empty()) ++pairs;
    for (const auto& f : flags) pairs += f.on;

    std::string out;
    put_control(out, kMap, pairs);
    if (r.asn) {
        (void)put_string(out, "autonomous_system_number");
        put_uint(out, kUint32, r.asn);
    }
    (void)put_string(out, "anonymizer_confidence");
    put_uint(out, kUint16, assessment.confidence);
    for (const auto& f : flags)
        if (f.on) put_bool_true(out, f.key);
    if (first_seen) {
        (void)put_string(out, "network_first_seen");
        (void)put_string(out, seen::iso_date(*first_seen));
    }
    (void)put_string(out, "network_last_seen");
    (void)put_string(out, seen::iso_date(assessment.last_seen));
    if (!r.provider.empty()) {
        (void)put_string(out, "provider_name");
        if (auto e = put_string(out, r.provider); e.status != Status::ok) return e;
    }
    (void)put_string(out, "sources");
    put_control(out, kArray, static_cast<std::uint32_t>(sources.size()));
    for (auto s : sources)
        if (auto e = put_string(out, s); e.status != Status::ok) return e;
    return out;
}

// ---- the search tree ----------------------------------------------------------

// A record slot: empty, another node, or a data-section offset.
struct Slot {
    enum Kind : std::uint8_t { empty, node, data } kind = empty;
    std::uint32_t value = 0;
};

struct Node {
    Slot child[2];
};

// Bit `depth` of `a`, 0 = most significant.
unsigned bit_at(Ip a, unsigned depth) {
    return depth < 64 ? static_cast<unsigned>(a.hi >> (63 - depth)) & 1u
                      : static_cast<unsigned>(a.lo >> (127 - depth)) & 1u;
}

class Tree {
public:
    Tree() : nodes_(1) {}

    // The slot for prefix addr/len (len >= 1), creating the nodes above it.
    // Fails when a data record already covers the path (overlapping input).
    Expected<std::pair<std::uint32_t, unsigned>> slot(Ip addr, unsigned len) {
        std::uint32_t n = 0;
        for (unsigned d = 0; d + 1 < len; ++d) {
            const unsigned b = bit_at(addr, d);
            const Slot s = nodes_[n].child[b];
            if (s.kind == Slot::data)
                return make_error(Status::invalid_argument, "MMDB tree: overlapping networks at " + format_ip(addr) + "/" +
                                                                std::to_string(len));
            if (s.kind == Slot::empty) {
                nodes_.push_back({});
                nodes_[n].child[b] = {Slot::node, static_cast<std::uint32_t>(nodes_.size() - 1)};
            }
            n = nodes_[n].child[b].value;
        }
        return std::pair{n, bit_at(addr, len - 1)};
    }

    Error set(Ip addr, unsigned len, Slot value) {
        if (len == 0) {  // the root is always a node: set both halves
            if (auto e = set(Ip{0, 0}, 1, value); e.status != Status::ok) return e;
            return set(Ip{1ull << 63, 0}, 1, value);
        }
        auto at = slot(addr, len);
        if (!at) return at.error();
        Slot& s = nodes_[at->first].child[at->second];
        if (s.kind != Slot::empty)
            return make_error(Status::invalid_argument, "MMDB tree: network " + format_ip(addr) + "/" +
                                                            std::to_string(len) + " set twice");
        s = value;
        return {};
    }

    // What the slot for addr/len holds now, without creating anything.
    Slot peek(Ip addr, unsigned len) const {
        std::uint32_t n = 0;
        for (unsigned d = 0; d + 1 < len; ++d) {
            const Slot s = nodes_[n].child[bit_at(addr, d)];
            if (s.kind != Slot::node) return s;  // empty, or data covering the whole prefix
            n = s.value;
        }
        return nodes_[n].child[bit_at(addr, len - 1)];
    }

    const std::vector<Node>& nodes() const { return nodes_; }

private:
    std::vector<Node> nodes_;  // [0] = root; creation order, hence deterministic
};

// Reserved prefixes of the MMDB space (see the header comment).
constexpr Range kIpv4Subtree = {Ip{0, 0}, Ip{0, 0xffffffffull}};  // ::/96
const Ip kMappedPrefix{0, 0xffff00000000ull};                     // ::ffff:0:0/96
const Ip k6to4Prefix{0x2002ull << 48, 0};                         // 2002::/16
const Ip kTeredoPrefix{0x20010000ull << 32, 0};                   // 2001::/32

// `r` minus every range of `holes`.
std::vector<Range> subtract(Range r, const std::vector<Range>& holes) {
    std::vector<Range> pieces{r};
    for (const Range& h : holes) {
        std::vector<Range> next;
        for (const Range& p : pieces) {
            if (p.last < h.first || h.last < p.first) {
                next.push_back(p);
                continue;
            }
            if (p.first < h.first) next.push_back({p.first, ip_prev(h.first)});
            if (h.last < p.last) next.push_back({ip_next(h.last), p.last});
        }
        pieces = std::move(next);
    }
    return pieces;
}

void put_record(std::vector<std::byte>& out, std::uint32_t v, unsigned bytes) {
    for (unsigned i = bytes; i-- > 0;) out.push_back(static_cast<std::byte>(v >> (8 * i)));
}

Expected<std::string> encode_metadata(std::uint32_t node_count, unsigned record_size, const MmdbOptions& o) {
    std::string m;
    put_control(m, kMap, 9);
    (void)put_string(m, "binary_format_major_version");
    put_uint(m, kUint16, 2);
    (void)put_string(m, "binary_format_minor_version");
    put_uint(m, kUint16, 0);
    (void)put_string(m, "build_epoch");
    put_uint(m, kUint64, o.build_epoch);
    (void)put_string(m, "database_type");
    if (auto e = put_string(m, o.database_type); e.status != Status::ok) return e;
    (void)put_string(m, "description");
    put_control(m, kMap, 1);
    (void)put_string(m, "en");
    if (auto e = put_string(m, o.description); e.status != Status::ok) return e;
    (void)put_string(m, "ip_version");
    put_uint(m, kUint16, 6);
    (void)put_string(m, "languages");
    put_control(m, kArray, 1);
    (void)put_string(m, "en");
    (void)put_string(m, "node_count");
    put_uint(m, kUint32, node_count);
    (void)put_string(m, "record_size");
    put_uint(m, kUint16, record_size);
    return m;
}

}  // namespace

Expected<std::vector<std::byte>> export_mmdb(const Database& db, const ColdData& cold, const MmdbOptions& options) {
    std::vector<Range> holes{kIpv4Subtree, prefix_range(kMappedPrefix, 96), prefix_range(k6to4Prefix, 16)};
    if (options.alias_teredo) holes.push_back(prefix_range(kTeredoPrefix, 32));
    std::sort(holes.begin(), holes.end(), [](const Range& a, const Range& b) { return a.first < b.first; });

    std::string data;
    std::map<std::string, std::uint32_t> offset_of_map;  // dedup of identical maps
    Tree tree;

    auto insert = [&](Range r, std::uint32_t offset) -> Error {
        for (const auto& [addr, len] : range_to_cidrs(r))
            if (auto e = tree.set(addr, len, {Slot::data, offset}); e.status != Status::ok) return e;
        return {};
    };
    // A range of one zone (below the IPv4-mapped block, in it, above it:
    // the reader's two tables meet at its edges) into the tree.
    auto insert_zoned = [&](Range r, std::uint32_t offset) -> Error {
        if (r.first.is_v4()) return insert({Ip{0, r.first.v4()}, Ip{0, r.last.v4()}}, offset);
        for (const Range& piece : subtract(r, holes))
            if (auto e = insert(piece, offset); e.status != Status::ok) return e;
        return {};
    };

    // One sweep over the evidence: every flagged piece, clipped to its
    // zone, with its answer and sources; touching pieces with the same map
    // go in as one range.
    const Range zones[] = {{kIpMin, ip_prev(kV4First)}, {kV4First, kV4Last}, {ip_next(kV4Last), kIpMax}};
    std::optional<Range> pending;
    std::uint32_t pending_offset = 0;
    Error failed;
    std::vector<std::string_view> sources;
    auto flush = [&] {
        if (pending && failed.status == Status::ok) failed = insert_zoned(*pending, pending_offset);
        pending.reset();
    };
    cold.for_each_piece([&](const Piece& piece) {
        if (piece.rows.empty() || failed.status != Status::ok) return;
        cold.sources_of(piece.rows, sources);
        const Assessment assessment = cold.assess(piece.rows);
        for (const Range& zone : zones) {
            const Range r{std::max(piece.range.first, zone.first), std::min(piece.range.last, zone.last)};
            if (r.last < r.first) continue;
            const LookupResult answer = db.lookup(r.first);
            if (!answer.flagged) continue;
            auto map = encode_map(answer, sources, assessment, piece.first_seen);
            if (!map) {
                failed = map.error();
                return;
            }
            auto [m, fresh] = offset_of_map.try_emplace(*map, static_cast<std::uint32_t>(data.size()));
            if (fresh) {
                if (data.size() + map->size() > 0xffffffffull) {
                    failed = make_error(Status::invalid_argument,
                                        "MMDB data section passes the 4 GiB pointer limit at " + format_range(r));
                    return;
                }
                data += *map;
            }
            if (pending && pending_offset == m->second && ip_next(pending->last) == r.first &&
                (pending->last.is_v4() == r.first.is_v4())) {
                pending->last = r.last;
                continue;
            }
            flush();
            pending = r;
            pending_offset = m->second;
        }
    });
    flush();
    if (failed.status != Status::ok) return failed;

    // Aliases: the slots of the other IPv4 embeddings hold what ::/96 holds.
    const Slot v4 = tree.peek(Ip{0, 0}, 96);
    if (v4.kind != Slot::empty) {
        std::vector<std::pair<Ip, unsigned>> aliases{{kMappedPrefix, 96}, {k6to4Prefix, 16}};
        if (options.alias_teredo) aliases.emplace_back(kTeredoPrefix, 32);
        for (const auto& [addr, len] : aliases)
            if (auto e = tree.set(addr, len, v4); e.status != Status::ok) return e;
    }

    const auto& nodes = tree.nodes();
    const std::uint64_t node_count = nodes.size();
    // Largest record value: a pointer just past the data section's start
    // plus its size (values node_count+1 .. node_count+15 are never used).
    const std::uint64_t max_value = node_count + 16 + data.size();
    if (max_value > 0xffffffffull)
        return make_error(Status::invalid_argument, std::to_string(node_count) + " nodes and " +
                                                        std::to_string(data.size()) +
                                                        " data bytes do not fit 32-bit MMDB records");
    const unsigned record_size = max_value < (1ull << 24) ? 24 : (max_value < (1ull << 28) ? 28 : 32);

    auto value = [&](Slot s) -> std::uint32_t {
        switch (s.kind) {
            case Slot::empty: return static_cast<std::uint32_t>(node_count);
            case Slot::node: return s.value;
            case Slot::data: break;
        }
        return static_cast<std::uint32_t>(node_count + 16 + s.value);
    };

    // libmaxminddb refuses to open a file whose build_epoch is 0.
    MmdbOptions o = options;
    if (o.build_epoch == 0 && db.header().build_time > 0) o.build_epoch = static_cast<std::uint64_t>(db.header().build_time);
    if (o.build_epoch == 0)
        return make_error(Status::invalid_argument,
                          "MMDB build_epoch is 0 and the database has no build time; libmaxminddb rejects 0");
    auto meta = encode_metadata(static_cast<std::uint32_t>(node_count), record_size, o);
    if (!meta) return meta.error();

    std::vector<std::byte> out;
    out.reserve(node_count * record_size / 4 + 16 + data.size() + 14 + meta->size());
    for (const Node& n : nodes) {
        const std::uint32_t l = value(n.child[0]), r = value(n.child[1]);
        switch (record_size) {
            case 24:
                put_record(out, l, 3);
                put_record(out, r, 3);
                break;
            case 28:  // middle byte: high nibble = left's top bits, low nibble = right's
                put_record(out, l & 0xffffff, 3);
                out.push_back(static_cast<std::byte>(((l >> 24) << 4) | (r >> 24)));
                put_record(out, r & 0xffffff, 3);
                break;
            default:
                put_record(out, l, 4);
                put_record(out, r, 4);
        }
    }
    out.resize(out.size() + 16);  // the data section separator: 16 zero bytes
    auto append = [&](std::string_view s) {
        const auto* p = reinterpret_cast<const std::byte*>(s.data());
        out.insert(out.end(), p, p + s.size());
    };
    append(data);
    append(std::string_view("\xAB\xCD\xEF" "MaxMind.com", 14));
    append(*meta);
    return out;
}

}  // namespace anondb::mmdb
