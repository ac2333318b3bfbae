/* Compiles anondb.h as C (not C++) and uses it against a real database.
 * Usage: c_api_smoke DB.anondb TOR_EXIT_IP
 * Exits 0 when every check holds and prints "N passed, N failed". */
#include <stdio.h>
#include <string.h>

#include "anondb/anondb.h"

static int passed, failed;
#define CHECK(cond)                                                   \
    do {                                                              \
        if (cond) ++passed;                                           \
        else { ++failed; fprintf(stderr, "FAILED: %s (line %d)\n", #cond, __LINE__); } \
    } while (0)

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: c_api_smoke DB TOR_EXIT_IP\n"); return 2; }
    char err[256] = "";
    anondb_db *db = NULL;
    int rc = anondb_open(argv[1], &db, err, sizeof err);
    CHECK(rc == ANONDB_OK);
    if (rc != ANONDB_OK) { fprintf(stderr, "%s\n", err); return 1; }

    anondb_result r;
    CHECK(anondb_lookup(db, argv[2], &r) == ANONDB_OK);
    CHECK((r.categories & ANONDB_TOR_EXIT) != 0);
    CHECK(r.anonymous == 1 && r.answer != 0);

    CHECK(anondb_lookup(db, "192.0.2.1", &r) == ANONDB_OK); /* TEST-NET-1: in no feed */
    CHECK(r.answer == 0 && r.categories == 0 && r.provider_len == 0);

    CHECK(anondb_lookup(db, "not-an-ip", &r) == ANONDB_ERR_BAD_ADDRESS);
    CHECK(anondb_lookup_v4(db, 0xC0000201u, &r) == ANONDB_OK && r.answer == 0);
    const unsigned char v6[16] = {0x20, 0x01, 0x0d, 0xb8}; /* 2001:db8:: documentation */
    CHECK(anondb_lookup_v6(db, v6, &r) == ANONDB_OK && r.answer == 0);
    CHECK(anondb_build_time(db) > 0);
    CHECK(strcmp(anondb_strerror(ANONDB_ERR_CHECKSUM), "checksum mismatch") == 0);
    anondb_close(db);

    db = NULL;
    rc = anondb_open("/nonexistent/anondb.anondb", &db, err, sizeof err);
    CHECK(rc == ANONDB_ERR_IO && db == NULL && strstr(err, "/nonexistent/anondb.anondb") != NULL);

    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
