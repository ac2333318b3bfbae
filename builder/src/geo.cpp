// City/Country database lookups with libmaxminddb (geo.hpp).
#include "anondb/builder/geo.hpp"

#include <array>
#include <cerrno>
#include <cstring>

#include <arpa/inet.h>
#include <maxminddb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "anondb/category.hpp"
#include "anondb/utf8.hpp"

namespace anondb::builder {
namespace {

// database_type must name one of these (case-insensitive): GeoIP2-City,
// GeoLite2-Country, GeoIP2-Enterprise, DBIP-City-Lite, ... An ASN, ISP,
// Anonymous-IP, Connection-Type or Domain database names none.
constexpr std::string_view kLocationTypes[] = {"city", "country", "enterprise"};

bool names_location_database(std::string_view type) {
    std::string lower(type);
    for (char& c : lower)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    for (const auto t : kLocationTypes)
        if (lower.find(t) != std::string::npos) return true;
    return false;
}

// The fields a location is read from, as libmaxminddb lookup paths: the
// record's "country" map, then its iso_code and names.en; the record's
// city.names.en.
constexpr const char* kCountry[] = {"country", nullptr};
constexpr const char* kIsoCode[] = {"iso_code", nullptr};
constexpr const char* kNameEn[] = {"names", "en", nullptr};
constexpr const char* kCityName[] = {"city", "names", "en", nullptr};

std::string path_text(const char* const* path) {
    std::string s;
    for (; *path; ++path) {
        if (!s.empty()) s += '.';
        s += *path;
    }
    return s;
}

}  // namespace

struct GeoDatabase::State {
    MMDB_s db{};
    bool open = false;
    std::string path;
    // Decoded records by their data offset: addresses of one network, and
    // networks of one place, share a record. Direct-mapped, key offset + 1
    // (0: empty slot).
    struct Slot {
        std::uint64_t key = 0;
        GeoLocation location;
    };
    static constexpr std::size_t kSlots = 1024;
    std::array<Slot, kSlots> cache{};

    ~State() {
        if (open) MMDB_close(&db);
    }

    // In an error: the field's path in the record.
    static std::string field_text(const char* const* prefix, const char* const* field) {
        return prefix ? path_text(prefix) + "." + path_text(field) : path_text(field);
    }

    Error corrupt(Ip ip, std::string_view what) const {
        return make_error(Status::corrupt, path + ": the record of " + format_ip(ip) + ": " + std::string(what));
    }

    // The value at `field` under `entry` (the record, or a map in it, at
    // `prefix`); false when there is none.
    Error find(MMDB_entry_s entry, const char* const* prefix, const char* const* field, Ip ip, MMDB_entry_data_s& d,
               bool& found) const {
        d = {};
        const int rc = MMDB_aget_value(&entry, &d, field);
        // libmaxminddb says "does not match" for a key the map lacks.
        found = rc == MMDB_SUCCESS && d.has_data;
        if (rc == MMDB_SUCCESS || rc == MMDB_LOOKUP_PATH_DOES_NOT_MATCH_DATA_ERROR) return {};
        return corrupt(ip, field_text(prefix, field) + ": " + MMDB_strerror(rc));
    }

    // One string field; empty when there is none.
    Error read_string(MMDB_entry_s entry, const char* const* prefix, const char* const* field, Ip ip,
                      std::string_view& out) const {
        out = {};
        MMDB_entry_data_s d;
        bool found = false;
        if (Error e = find(entry, prefix, field, ip, d, found); e.status != Status::ok || !found) return e;
        if (d.type != MMDB_DATA_TYPE_UTF8_STRING)
            return corrupt(ip, field_text(prefix, field) + " is not a string (MMDB type " + std::to_string(d.type) + ")");
        if (d.data_size == 0) return {};  // libmaxminddb points an empty string at a literal of its own
        const auto* begin = reinterpret_cast<const std::uint8_t*>(d.utf8_string);
        const std::uint8_t* end_of_file = db.file_content + db.file_size;
        if (begin < db.file_content || begin >= end_of_file ||
            d.data_size > static_cast<std::size_t>(end_of_file - begin))
            return corrupt(ip, field_text(prefix, field) + " lies outside the file");
        const std::string_view s(d.utf8_string, d.data_size);
        if (!valid_utf8(s)) return corrupt(ip, field_text(prefix, field) + " is not UTF-8 text (or holds NUL)");
        out = s;
        return {};
    }

    // Finds "country" once and reads both of its fields from there: each
    // lookup from the record's top walks past the maps before the key.
    Expected<GeoLocation> decode(MMDB_entry_s record, Ip ip) const {
        GeoLocation g;
        MMDB_entry_data_s country;
        bool found = false;
        if (Error e = find(record, nullptr, kCountry, ip, country, found); e.status != Status::ok) return e;
        if (found && country.type == MMDB_DATA_TYPE_MAP) {
            const MMDB_entry_s at{record.mmdb, country.offset};
            if (Error e = read_string(at, kCountry, kIsoCode, ip, g.country); e.status != Status::ok) return e;
            if (Error e = read_string(at, kCountry, kNameEn, ip, g.country_name); e.status != Status::ok) return e;
        }
        if (Error e = read_string(record, nullptr, kCityName, ip, g.city); e.status != Status::ok) return e;
        return g;
    }
};

GeoDatabase::GeoDatabase(std::unique_ptr<State> s) : s_(std::move(s)) {}
GeoDatabase::GeoDatabase(GeoDatabase&&) noexcept = default;
GeoDatabase& GeoDatabase::operator=(GeoDatabase&&) noexcept = default;
GeoDatabase::~GeoDatabase() = default;

Expected<GeoDatabase> GeoDatabase::open(const std::string& path) {
    auto s = std::make_unique<State>();
    s->path = path;
    errno = 0;
    const int rc = MMDB_open(path.c_str(), MMDB_MODE_MMAP, &s->db);
    if (rc != MMDB_SUCCESS) {
        const Status st = rc == MMDB_FILE_OPEN_ERROR || rc == MMDB_IO_ERROR ? Status::io : Status::corrupt;
        const int saved_errno = errno;
        std::string why = MMDB_strerror(rc);
        if (st == Status::io && saved_errno != 0) why += std::string(" (") + std::strerror(saved_errno) + ")";
        return make_error(st, path + ": " + why);
    }
    s->open = true;
    const MMDB_metadata_s& m = s->db.metadata;
    if (m.ip_version != 4 && m.ip_version != 6)
        return make_error(Status::corrupt, path + ": ip_version is neither 4 nor 6");
    const std::string_view type = m.database_type ? m.database_type : "";
    if (!names_location_database(type))
        return make_error(Status::invalid_argument,
                          path + ": database_type '" + std::string(type) +
                              "' is not a City or Country database (--geo needs a MaxMind-format City, Country or "
                              "Enterprise database, such as GeoLite2-City)");
    return GeoDatabase(std::move(s));
}

Expected<GeoLocation> GeoDatabase::lookup(Ip ip) {
    State& s = *s_;
    int mmdb_error = MMDB_SUCCESS;
    MMDB_lookup_result_s res;
    if (ip.is_v4()) {
        // As IPv4: libmaxminddb finds the IPv4 subtree (::/96) of an IPv6
        // tree itself, and an IPv4-only tree takes it as it is.
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_addr.s_addr = htonl(ip.v4());
        res = MMDB_lookup_sockaddr(&s.db, reinterpret_cast<const sockaddr*>(&sa), &mmdb_error);
    } else {
        sockaddr_in6 sa{};
        sa.sin6_family = AF_INET6;
        const auto bytes = ip.to_bytes();
        std::memcpy(sa.sin6_addr.s6_addr, bytes.data(), bytes.size());
        res = MMDB_lookup_sockaddr(&s.db, reinterpret_cast<const sockaddr*>(&sa), &mmdb_error);
    }
    if (mmdb_error == MMDB_IPV6_LOOKUP_IN_IPV4_DATABASE_ERROR) return GeoLocation{};
    if (mmdb_error != MMDB_SUCCESS) return s.corrupt(ip, MMDB_strerror(mmdb_error));
    if (!res.found_entry) return GeoLocation{};
    const std::uint64_t key = std::uint64_t{res.entry.offset} + 1;
    State::Slot& slot = s.cache[(key * 0x9E3779B97F4A7C15ull) >> 54];  // top 10 bits: 1024 slots
    static_assert(State::kSlots == 1024);
    if (slot.key == key) return slot.location;
    auto g = s.decode(res.entry, ip);
    if (!g) return g;
    slot.key = key;
    slot.location = *g;
    return g;
}

const std::string& GeoDatabase::path() const noexcept { return s_->path; }
std::string_view GeoDatabase::database_type() const noexcept {
    return s_->db.metadata.database_type ? s_->db.metadata.database_type : "";
}
unsigned GeoDatabase::ip_version() const noexcept { return s_->db.metadata.ip_version; }

LocationVerdict location_verdict(bool located, std::uint32_t categories) noexcept {
    if (!located)
        return {Reliability::no_location, "no location: the geolocation database has no country for this address"};
    // The first that applies, most hiding first.
    static constexpr std::pair<std::uint32_t, std::string_view> kCaveats[] = {
        {kTorExit, "tor_exit: the location is the Tor exit relay's, not the user's"},
        {kVpn, "vpn: the location is the VPN server's, not the user's"},
        {kResidentialProxy, "residential_proxy: the location is the proxy's exit device's, not the user's"},
        {kProxy, "proxy: the location is the proxy's, not the user's"},
        {kRelay, "relay: the location is the relay's egress, at best the user's region"},
        {kHosting, "hosting: a datacenter address; the user may be behind it"},
    };
    for (const auto& [bit, caveat] : kCaveats)
        if (categories & bit) return {Reliability::unreliable, caveat};
    if (categories & ~kAllCategories)
        return {Reliability::unreliable, "unknown category: this anondb version cannot say what the address is"};
    return {Reliability::reliable, {}};
}

}  // namespace anondb::builder
