// A consumer of the installed header-only reader (anondb::reader).
// Usage: lookup_cxx DB IP...; prints what tests/install/lookup.c prints.
#include <iostream>

#include <anondb/reader.hpp>
#include <anondb/version.hpp>

int main(int argc, char** argv) {
    if (argc < 3) {
        std::cerr << "usage: " << argv[0] << " DB IP...  (anondb " ANONDB_VERSION ")\n";
        return 2;
    }
    auto db = anondb::Database::open(argv[1]);
    if (!db) {
        std::cerr << "open: " << db.error().message << "\n";
        return 1;
    }
    for (int i = 2; i < argc; ++i) {
        const auto ip = anondb::parse_ip(argv[i]);
        if (!ip) {
            std::cerr << argv[i] << ": not an address\n";
            return 1;
        }
        const anondb::LookupResult r = db->lookup(ip->ip);
        std::cout << anondb::format_ip(ip->ip) << "  ";
        if (!r.flagged) {
            std::cout << "not flagged\n";
            continue;
        }
        std::cout << anondb::category_list(r.categories) << (r.anonymous() ? "  anonymous" : "") << "  provider "
                  << (r.provider.empty() ? std::string_view("-") : r.provider);
        if (r.asn) std::cout << "  AS" << r.asn;
        std::cout << "\n";
    }
    return 0;
}
