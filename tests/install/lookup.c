/* A consumer of the installed C library (tests/install/run_install_test.sh):
 * built with `cc $(pkg-config --cflags --libs anondb)` and from
 * tests/install/c and tests/install/cxx through find_package(anondb).
 * Usage: lookup DB IP...
 * Prints one line per address in the text form of `anondb lookup`, up to
 * the range (which the C API does not return):
 *   185.220.101.1  tor_exit,relay  anonymous  provider tor
 *   192.0.2.1  not flagged */
#include <stdio.h>

#include <anondb/anondb.h>

static const struct {
    unsigned bit;
    const char *name;
} categories[] = {
    {ANONDB_TOR_EXIT, "tor_exit"}, {ANONDB_VPN, "vpn"},         {ANONDB_PROXY, "proxy"},
    {ANONDB_RELAY, "relay"},       {ANONDB_HOSTING, "hosting"}, {ANONDB_RESIDENTIAL_PROXY, "residential_proxy"},
};

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s DB IP...\n", argv[0]);
        return 2;
    }
    char err[512] = "";
    anondb_db *db = NULL;
    int rc = anondb_open(argv[1], &db, err, sizeof err);
    if (rc != ANONDB_OK) {
        fprintf(stderr, "anondb_open: %s: %s\n", anondb_strerror(rc), err);
        return 1;
    }
    for (int i = 2; i < argc; ++i) {
        anondb_result r;
        rc = anondb_lookup(db, argv[i], &r);
        if (rc != ANONDB_OK) {
            fprintf(stderr, "anondb_lookup %s: %s\n", argv[i], anondb_strerror(rc));
            anondb_close(db);
            return 1;
        }
        if (r.answer == 0) {
            printf("%s  not flagged\n", argv[i]);
            continue;
        }
        printf("%s  ", argv[i]);
        const char *sep = "";
        for (size_t k = 0; k < sizeof categories / sizeof categories[0]; ++k)
            if (r.categories & categories[k].bit) {
                printf("%s%s", sep, categories[k].name);
                sep = ",";
            }
        printf("%s  provider ", r.anonymous ? "  anonymous" : "");
        if (r.provider_len) printf("%.*s", (int)r.provider_len, r.provider);
        else printf("-");
        if (r.asn) printf("  AS%u", (unsigned)r.asn);
        printf("\n");
    }
    anondb_close(db);
    return 0;
}
