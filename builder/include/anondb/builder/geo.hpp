// Geolocation for `anondb lookup --geo DB.mmdb`: the country and city of an
// address from a MaxMind-format City or Country database (GeoIP2/GeoLite2
// City, Country, Enterprise, or another vendor's file in that layout), read
// with libmaxminddb, and whether that location may be trusted given what
// anondb knows of the address (location_verdict).
//
// Geolocation is wrong for anonymized traffic: a Tor exit is located where
// the exit relay is, a VPN address where the VPN server is. A location is
// therefore never reported as reliable for a flagged address (README,
// "Geolocation"; docs/EXPORTS.md, "Bulk annotation").
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "anondb/error.hpp"
#include "anondb/ip.hpp"

namespace anondb::builder {

// What a City or Country database says of one address. Each field is the
// record's string, or empty when the record has none. The views point into
// the database's mapping: valid while the GeoDatabase that returned them is
// open.
struct GeoLocation {
    std::string_view country;       // country.iso_code (ISO 3166-1 alpha-2)
    std::string_view country_name;  // country.names.en
    std::string_view city;          // city.names.en (City databases only)
    // An address is located when its record names a country. A record with
    // only a continent (MaxMind has some) or no record at all is not.
    bool located() const noexcept { return !country.empty(); }
};

// An open City or Country database. Move-only; not for concurrent use (it
// keeps a small cache of decoded records).
class GeoDatabase {
public:
    // Opens `path` with libmaxminddb (MMDB_MODE_MMAP). Fails, naming the
    // file, when it cannot be opened or is not a MaxMind DB (Status::io,
    // Status::corrupt), or when its database_type names no City, Country or
    // Enterprise database, e.g. an ASN or Anonymous-IP database
    // (Status::invalid_argument).
    static Expected<GeoDatabase> open(const std::string& path);

    GeoDatabase(GeoDatabase&&) noexcept;
    GeoDatabase& operator=(GeoDatabase&&) noexcept;
    ~GeoDatabase();

    // The record of `ip`. An IPv4 address (anondb's ::ffff:a.b.c.d) is
    // looked up as IPv4: in the IPv4 subtree of an IPv6 database, or in an
    // IPv4-only one. An address the database has no record for, and an IPv6
    // address in an IPv4-only database, give an empty GeoLocation. An error
    // (Status::corrupt, naming the file and the address) when the search
    // tree or the record cannot be read, or a field is not a UTF-8 string.
    Expected<GeoLocation> lookup(Ip ip);

    const std::string& path() const noexcept;
    std::string_view database_type() const noexcept;
    unsigned ip_version() const noexcept;  // 4 or 6

private:
    struct State;
    explicit GeoDatabase(std::unique_ptr<State> s);
    std::unique_ptr<State> s_;
};

// Whether the location of an address with anondb's `categories` may be
// trusted, and why not.
enum class Reliability {
    reliable,     // located, and no category says the location is someone else's
    unreliable,   // located, but the address is an anonymizer or a datacenter
    no_location,  // not located: nothing to trust (location_reliable null)
};
struct LocationVerdict {
    Reliability reliability = Reliability::no_location;
    std::string_view caveat;  // empty when reliable; static text otherwise
};

// The rule (README, "Geolocation"):
// - not located: no_location, "no location: ...";
// - a Tor exit, VPN, proxy, residential proxy or relay (is_anonymous):
//   unreliable, the caveat naming the first of them in that order;
// - hosting alone: unreliable too. It is not anonymization, but a
//   datacenter's location is the server's, not the user's;
// - a category bit this version does not know: unreliable;
// - otherwise (not flagged, or flagged without categories): reliable.
LocationVerdict location_verdict(bool located, std::uint32_t categories) noexcept;

}  // namespace anondb::builder
