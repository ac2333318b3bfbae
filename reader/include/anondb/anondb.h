/* anondb C API: open a .anondb file, look addresses up, close it.
 *
 * The caller owns the handle. Every call returns an anondb_status;
 * anondb_strerror() turns one into text. A handle may be shared by threads
 * for lookups (it is read-only after open). Do not add fields to the public
 * structs without bumping the library's SONAME (ANONDB_ABI_VERSION in
 * reader/CMakeLists.txt): libanondb.so.1 since anondb_result.record became
 * .answer with format 2.0.
 */
#ifndef ANONDB_H
#define ANONDB_H

#include <stddef.h>
#include <stdint.h>

/* libanondb.so is built with hidden visibility; ANONDB_API marks what it exports. */
#if defined(__GNUC__) || defined(__clang__)
#define ANONDB_API __attribute__((visibility("default")))
#else
#define ANONDB_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef struct anondb_db anondb_db;

/* Same numbers as anondb::Status in reader.hpp. */
typedef enum {
    ANONDB_OK = 0,
    ANONDB_ERR_IO = 1,
    ANONDB_ERR_NOT_ANONDB = 2,
    ANONDB_ERR_UNSUPPORTED_VERSION = 3,
    ANONDB_ERR_TRUNCATED = 4,
    ANONDB_ERR_CORRUPT = 5,
    ANONDB_ERR_CHECKSUM = 6,
    ANONDB_ERR_MISSING_SECTION = 7,
    ANONDB_ERR_BAD_ADDRESS = 8,
    ANONDB_ERR_DECOMPRESS = 9,
    ANONDB_ERR_BAD_SIGNATURE = 10,
    ANONDB_ERR_INVALID_ARGUMENT = 11
} anondb_status;

/* Category bits (docs/FORMAT.md). */
#define ANONDB_TOR_EXIT (1u << 0)
#define ANONDB_VPN (1u << 1)
#define ANONDB_PROXY (1u << 2)
#define ANONDB_RELAY (1u << 3)
#define ANONDB_HOSTING (1u << 4)
#define ANONDB_RESIDENTIAL_PROXY (1u << 5)

typedef struct {
    uint32_t categories;  /* ANONDB_* bits; 0 when not flagged */
    uint32_t answer;      /* answer id (equal for equal answers in one file); 0 = not flagged */
    int anonymous;        /* 1 when any category other than hosting is set */
    const char *provider; /* primary provider, NOT NUL-terminated; valid while the handle is open */
    size_t provider_len;  /* 0 when none */
    uint32_t asn;         /* AS the attribution came through (ASN-derived evidence); 0 when none */
} anondb_result;

/* Opens and validates `path`. On failure *db is NULL and, if errbuf is not
 * NULL, a message with the reason (file, section, offset) is written to it. */
ANONDB_API int anondb_open(const char *path, anondb_db **db, char *errbuf, size_t errbuf_size);

/* anondb_open, and then the file must carry a valid Ed25519 signature by
 * `public_key` (its 32 raw bytes; `openssl pkey -pubin -in KEY.pub.pem
 * -outform DER | tail -c 32` prints them). An unsigned file, one signed by
 * another key, or any byte changed since signing is ANONDB_ERR_BAD_SIGNATURE. */
ANONDB_API int anondb_open_signed(const char *path, const uint8_t public_key[32], anondb_db **db, char *errbuf,
                                  size_t errbuf_size);

/* Looks up an address given as text ("192.0.2.1", "2001:db8::1"). */
ANONDB_API int anondb_lookup(const anondb_db *db, const char *ip, anondb_result *out);

/* Looks up an IPv4 address in host byte order (0xC0000201 = 192.0.2.1). */
ANONDB_API int anondb_lookup_v4(const anondb_db *db, uint32_t ip, anondb_result *out);

/* Looks up an IPv6 address given as 16 bytes in network order. */
ANONDB_API int anondb_lookup_v6(const anondb_db *db, const uint8_t ip[16], anondb_result *out);

/* Database facts. */
ANONDB_API uint64_t anondb_data_version(const anondb_db *db);
ANONDB_API int64_t anondb_build_time(const anondb_db *db);

ANONDB_API void anondb_close(anondb_db *db);

ANONDB_API const char *anondb_strerror(int status);

#ifdef __cplusplus
}
#endif

#endif /* ANONDB_H */
