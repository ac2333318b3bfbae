// IPFire location databases (libloc) as ASN tables (asn.hpp): every network
// of the database, nested ones included, read with libloc's enumerator.
//
// libloc (0.9.16) checks its reads against the mapped file, but takes the
// header's sections as they are: a file shorter than the header passes its
// bounds check (an unsigned underflow), so the 8 magic bytes alone open as
// a database whose root node is read from the magic itself, and the
// enumerator allocates by the header's tree length. The layout is checked
// here first (magic, version, every section inside the file), so a
// truncated or foreign file fails with a message that says what is wrong,
// and libloc only sees files whose sections exist.
#include <endian.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

// libloc's headers (but libloc.h) lack extern "C". The on-disk structures
// (magic, header, node, network) are declared only under LIBLOC_PRIVATE;
// nothing else of the private API is used.
extern "C" {
#define LIBLOC_PRIVATE
#include <libloc/format.h>
#undef LIBLOC_PRIVATE
#include <libloc/database.h>
#include <libloc/libloc.h>
#include <libloc/network.h>
}

#include "anondb/sources/asn.hpp"
#include "lines.hpp"

namespace anondb::sources {
namespace {

struct FileCloser {
    void operator()(std::FILE* f) const noexcept { std::fclose(f); }
};
struct CtxUnref {
    void operator()(loc_ctx* c) const noexcept { loc_unref(c); }
};
struct DatabaseUnref {
    void operator()(loc_database* d) const noexcept { loc_database_unref(d); }
};
struct EnumeratorUnref {
    void operator()(loc_database_enumerator* e) const noexcept { loc_database_enumerator_unref(e); }
};
struct NetworkUnref {
    void operator()(loc_network* n) const noexcept { loc_network_unref(n); }
};

constexpr std::size_t kMagicSize = sizeof(loc_database_magic);
constexpr std::size_t kHeaderEnd = kMagicSize + sizeof(loc_database_header_v1);
constexpr std::size_t kNodeSize = sizeof(loc_database_network_node_v1);
constexpr std::size_t kNetworkSize = sizeof(loc_database_network_v1);
static_assert(kMagicSize == 8 && kNodeSize == 12 && kNetworkSize == 12, "libloc format v1 layout");

// " (strerror)" for an errno a libloc call left, "" when it left none.
std::string errno_detail(int e) { return e ? std::string(" (") + std::strerror(e) + ")" : std::string(); }

// Checks the layout of an open file and returns how many network records it
// holds (to size the table).
Expected<std::size_t> check_layout(std::FILE* f, const std::string& path) {
    auto error = [&path](Status s, const std::string& what) { return make_error(s, path + ": " + what); };
    struct stat st {};
    if (::fstat(::fileno(f), &st) != 0) return error(Status::io, std::strerror(errno));
    if (!S_ISREG(st.st_mode)) return error(Status::io, "not a regular file");
    const auto size = static_cast<std::uint64_t>(st.st_size);

    loc_database_magic magic{};
    loc_database_header_v1 header{};
    if (std::fread(&magic, 1, sizeof magic, f) != sizeof magic ||
        std::memcmp(magic.magic, LOC_DATABASE_MAGIC, sizeof magic.magic) != 0)
        return error(Status::corrupt, "not a libloc location database (no LOCDBXX magic)");
    if (magic.version != LOC_DATABASE_VERSION_1)
        return error(Status::unsupported_version,
                     "libloc database format version " + std::to_string(magic.version) + " (only 1 is known)");
    if (std::fread(&header, 1, sizeof header, f) != sizeof header)
        return error(Status::truncated, "libloc header cut short (" + std::to_string(size) + " bytes)");
    std::rewind(f);

    struct Section {
        const char* name;
        std::uint32_t offset;
        std::uint32_t length;
    };
    const Section sections[] = {
        {"AS", be32toh(header.as_offset), be32toh(header.as_length)},
        {"network", be32toh(header.network_data_offset), be32toh(header.network_data_length)},
        {"network tree", be32toh(header.network_tree_offset), be32toh(header.network_tree_length)},
        {"country", be32toh(header.countries_offset), be32toh(header.countries_length)},
        {"string pool", be32toh(header.pool_offset), be32toh(header.pool_length)},
    };
    for (const Section& s : sections) {
        const std::uint64_t end = std::uint64_t{s.offset} + s.length;
        const std::string where = std::string(s.name) + " section (bytes " + std::to_string(s.offset) + ".." +
                                  std::to_string(end) + ")";
        if (end > size)
            return error(Status::truncated,
                         where + " ends past the end of the file (" + std::to_string(size) + " bytes)");
        if (s.length > 0 && s.offset < kHeaderEnd) return error(Status::corrupt, where + " overlaps the header");
    }
    const Section& networks = sections[1];
    const Section& tree = sections[2];
    // Even an empty database has the root node.
    if (tree.length < kNodeSize) return error(Status::corrupt, "empty network tree");
    if (tree.length % kNodeSize != 0 || networks.length % kNetworkSize != 0)
        return error(Status::corrupt, "network or network tree section is not a whole number of records");
    return std::size_t{networks.length / kNetworkSize};
}

void add_row(AsnTable& t, const Range& range, std::uint32_t asn, std::string_view text) {
    AsnRow row;
    row.range = range;
    row.asn_begin = static_cast<std::uint32_t>(t.asns.size());
    row.asn_count = asn ? 1 : 0;  // AS 0: the network has no origin
    row.line = 0;
    row.text_offset = t.text.size();
    row.text_length = text.size();
    t.text.append(text);
    if (asn) t.asns.push_back(asn);
    t.rows.push_back(row);
}

}  // namespace

Expected<AsnTable> read_libloc_asn(const std::string& path, const ParseOptions& options) {
    auto error = [&path](Status s, const std::string& what) { return make_error(s, path + ": " + what); };
    std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
    if (!file) return error(Status::io, std::strerror(errno));
    const Expected<std::size_t> records = check_layout(file.get(), path);
    if (!records) return records.error();

    loc_ctx* raw_ctx = nullptr;
    if (loc_new(&raw_ctx) != 0 || !raw_ctx) return error(Status::io, "cannot create a libloc context");
    const std::unique_ptr<loc_ctx, CtxUnref> ctx(raw_ctx);
    // libloc logs its errors to stderr; ours come back as values. LOC_LOG
    // (libloc's own switch) still turns its log on.
    if (!std::getenv("LOC_LOG")) loc_set_log_priority(ctx.get(), 0);

    // libloc's results are 0 or not; errno (read at once) says a little more.
    loc_database* raw_db = nullptr;
    errno = 0;
    if (loc_database_new(ctx.get(), &raw_db, file.get()) != 0 || !raw_db) {
        const int e = errno;
        return error(Status::corrupt, "libloc cannot open the database" + errno_detail(e));
    }
    const std::unique_ptr<loc_database, DatabaseUnref> db(raw_db);

    // Not LOC_DB_ENUMERATOR_FLAGS_FLATTEN: libloc would split every network
    // around the networks inside it, two orders of magnitude slower. The
    // nesting is kept instead and resolved by longest-prefix match later.
    loc_database_enumerator* raw_enum = nullptr;
    errno = 0;
    if (loc_database_enumerator_new(&raw_enum, db.get(), LOC_DB_ENUMERATE_NETWORKS, 0) != 0 || !raw_enum) {
        const int e = errno;
        return error(Status::io, "cannot create a libloc enumerator" + errno_detail(e));
    }
    const std::unique_ptr<loc_database_enumerator, EnumeratorUnref> networks(raw_enum);

    AsnTable table;
    const std::size_t expected = static_cast<std::size_t>(
        std::min<std::uint64_t>(*records, options.max_entries));
    table.rows.reserve(expected);
    table.text.reserve(expected * 24);
    std::array<std::uint8_t, 16> bytes{};
    while (true) {
        loc_network* raw = nullptr;
        errno = 0;
        const int rc = loc_database_enumerator_next_network(networks.get(), &raw);
        const int e = errno;
        // On an error `raw` is null or a network libloc made but did not
        // hand over; the unique_ptr releases it either way.
        const std::unique_ptr<loc_network, NetworkUnref> net(raw);
        if (rc != 0)
            return error(Status::corrupt, "libloc cannot read the network tree after " +
                                              std::to_string(table.rows.size()) + " networks" + errno_detail(e));
        if (!net) break;

        // IPv4 networks are IPv4-mapped (::ffff:a.b.c.d), which is where
        // anondb keeps IPv4 too; libloc gives their prefix in IPv4 terms.
        std::memcpy(bytes.data(), loc_network_get_first_address(net.get())->s6_addr, bytes.size());
        const Ip first = Ip::from_bytes(bytes);
        const int family = loc_network_address_family(net.get());
        const unsigned prefix = loc_network_prefix(net.get());
        unsigned len128 = 0;
        if (family == AF_INET && first.is_v4() && prefix <= 32) len128 = prefix + 96;
        else if (family == AF_INET6 && !first.is_v4() && prefix <= 128) len128 = prefix;
        else
            return error(Status::corrupt, "network " + format_ip(first) + " with family " + std::to_string(family) +
                                              " and prefix " + std::to_string(prefix));
        const Range range = prefix_range(first, len128);
        if (range.first != first)  // libloc masks host bits; a row must be its prefix
            return error(Status::corrupt, "network " + format_ip(first) + "/" + std::to_string(prefix) +
                                              " has host bits set");

        const std::uint32_t asn = loc_network_get_asn(net.get());
        std::string text = format_ip(first) + "/" + std::to_string(prefix);
        if (asn) text += " AS" + std::to_string(asn);
        if (!detail::entry_allowed(table.rows.size(), options, table.rejects, table.over_max_entries, 0, text)) break;
        add_row(table, range, asn, text);
    }

    // The tree walk visits a node before its children and the 0 branch
    // before the 1 branch: address order, covering networks first. Checked
    // rather than assumed, as the order is libloc's choice.
    const auto before = [](const AsnRow& a, const AsnRow& b) {
        if (a.range.first != b.range.first) return a.range.first < b.range.first;
        return b.range.last < a.range.last;
    };
    if (!std::is_sorted(table.rows.begin(), table.rows.end(), before))
        std::sort(table.rows.begin(), table.rows.end(), before);
    return table;
}

}  // namespace anondb::sources
