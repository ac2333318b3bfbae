// The C ABI over the header-only reader.
#include "anondb/anondb.h"

#include <cstring>
#include <new>

#include "anondb/reader.hpp"
#include "anondb/signature.hpp"

struct anondb_db {
    anondb::Database db;
};

namespace {

// The C result carries the answer id, which LookupResult does not: it
// takes the segment as well (a second search, in cache by then).
void fill(const anondb::Database& db, anondb::Ip ip, anondb_result* out) {
    const anondb::Segment seg = db.locate(ip);
    const anondb::LookupResult r = db.answer(seg.answer);
    out->categories = r.categories;
    out->answer = seg.answer;
    out->anonymous = r.anonymous() ? 1 : 0;
    out->provider = r.provider.data();
    out->provider_len = r.provider.size();
    out->asn = r.asn;
}

// Writes `msg` (cut to fit, NUL-terminated) into errbuf when there is one.
int report_error(char* errbuf, size_t errbuf_size, int status, const std::string& msg) {
    if (errbuf && errbuf_size) {
        const std::size_t n = std::min(msg.size(), errbuf_size - 1);
        std::memcpy(errbuf, msg.data(), n);
        errbuf[n] = '\0';
    }
    return status;
}

// anondb_open and anondb_open_signed: `key` null for no signature check.
int open_db(const char* path, const anondb::PublicKey* key, anondb_db** db, char* errbuf, size_t errbuf_size) {
    if (db) *db = nullptr;
    auto report = [&](int status, const std::string& msg) { return report_error(errbuf, errbuf_size, status, msg); };
    if (!path || !db) return report(ANONDB_ERR_INVALID_ARGUMENT, "path and db must not be NULL");
    try {
        auto opened = key ? anondb::open_signed(path, *key) : anondb::Database::open(path);
        if (!opened) return report(static_cast<int>(opened.error().status), opened.error().message);
        *db = new anondb_db{std::move(opened).value()};
        return ANONDB_OK;
    } catch (const std::bad_alloc&) {
        return report(ANONDB_ERR_IO, "out of memory");
    }
}

}  // namespace

extern "C" {

int anondb_open(const char* path, anondb_db** db, char* errbuf, size_t errbuf_size) {
    return open_db(path, nullptr, db, errbuf, errbuf_size);
}

int anondb_open_signed(const char* path, const uint8_t public_key[32], anondb_db** db, char* errbuf,
                       size_t errbuf_size) {
    if (!public_key) {
        if (db) *db = nullptr;
        return report_error(errbuf, errbuf_size, ANONDB_ERR_INVALID_ARGUMENT, "public_key must not be NULL");
    }
    anondb::PublicKey key;
    std::memcpy(key.bytes.data(), public_key, key.bytes.size());
    return open_db(path, &key, db, errbuf, errbuf_size);
}

int anondb_lookup(const anondb_db* db, const char* ip, anondb_result* out) {
    if (!db || !ip || !out) return ANONDB_ERR_INVALID_ARGUMENT;
    const auto parsed = anondb::parse_ip(ip);
    if (!parsed) return ANONDB_ERR_BAD_ADDRESS;
    fill(db->db, parsed->ip, out);
    return ANONDB_OK;
}

int anondb_lookup_v4(const anondb_db* db, uint32_t ip, anondb_result* out) {
    if (!db || !out) return ANONDB_ERR_INVALID_ARGUMENT;
    fill(db->db, anondb::Ip::from_v4(ip), out);
    return ANONDB_OK;
}

int anondb_lookup_v6(const anondb_db* db, const uint8_t ip[16], anondb_result* out) {
    if (!db || !ip || !out) return ANONDB_ERR_INVALID_ARGUMENT;
    std::array<std::uint8_t, 16> b;
    std::memcpy(b.data(), ip, 16);
    fill(db->db, anondb::Ip::from_bytes(b), out);
    return ANONDB_OK;
}

uint64_t anondb_data_version(const anondb_db* db) { return db ? db->db.header().data_version : 0; }
int64_t anondb_build_time(const anondb_db* db) { return db ? db->db.header().build_time : 0; }

void anondb_close(anondb_db* db) { delete db; }

const char* anondb_strerror(int status) {
    if (status < 0 || status > static_cast<int>(anondb::Status::invalid_argument)) return "unknown error";
    return anondb::status_text(static_cast<anondb::Status>(status));
}

}  // extern "C"
