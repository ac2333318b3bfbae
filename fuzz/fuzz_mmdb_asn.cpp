// The mmdb-asn ASN table reader, sources::read_mmdb_asn, on arbitrary
// bytes. libmaxminddb opens the file and decodes records and data, but the
// walk of the search tree is ours (asn_tables.cpp): the path to the IPv4
// subtree at ::/96, the aliases to skip, loop and shared-node detection,
// depth limits, the network of every record, the AS number's type and
// range. A hostile MMDB (a live feed of a build) reaches all of it.
//
// The bytes go to an anonymous memory file (memfd), opened by libmaxminddb
// through /proc/self/fd: no disk writes.
//
// Checked: no crash and no leak whatever the bytes; on success every row
// has one nonzero AS, its text inside the table, rows in address order and
// disjoint (asn.hpp: "Networks are disjoint": the target found an IPv6
// network over the IPv4-mapped block overlapping the IPv4 rows, then a
// data record at ::/96 doing the same; tests/test_fuzz_regressions.cpp),
// and never more rows than ParseOptions::max_entries.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "anondb/sources/asn.hpp"
#include "fuzz_common.hpp"

using namespace anondb;
using namespace anondb::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const int fd = ::memfd_create("fuzz.mmdb", MFD_CLOEXEC);
    FUZZ_CHECK(fd >= 0);
    for (std::size_t done = 0; done < size;) {
        const ssize_t n = ::write(fd, data + done, size - done);
        FUZZ_CHECK(n > 0);
        done += static_cast<std::size_t>(n);
    }
    const std::string path = "/proc/self/fd/" + std::to_string(fd);
    sources::ParseOptions o;
    if (size % 5 == 0) o.max_entries = size % 7;  // sometimes a limit the walk reaches
    const auto table = sources::read_mmdb_asn(path, o);
    ::close(fd);
    if (!table) {
        FUZZ_CHECK(!table.error().message.empty());
        return 0;
    }
    FUZZ_CHECK(table->rows.size() <= o.max_entries);
    for (std::size_t i = 0; i < table->rows.size(); ++i) {
        const auto& r = table->rows[i];
        FUZZ_CHECK(valid_range(r.range));
        FUZZ_CHECK(r.asn_count == 1 && inside(r.asn_begin, 1, table->asns.size()));
        FUZZ_CHECK(table->asns[r.asn_begin] != 0);
        FUZZ_CHECK(inside(r.text_offset, r.text_length, table->text.size()));
        if (i > 0) {
            const auto& p = table->rows[i - 1];
            FUZZ_CHECK(p.range.first <= r.range.first);  // sorted
            FUZZ_CHECK(p.range.last < r.range.first);  // disjoint
        }
    }
    return 0;
}
