// Geolocation (builder/geo, lookup --geo): GeoDatabase against MaxMind's
// City and Country test databases (tests/data/mmdb/SOURCES.md), with the
// expected countries read from the Country database's source JSON
// (RapidJSON, not libmaxminddb) and the City database's fields read through
// libmaxminddb's own string lookup; the reliability rule; the annotator's
// text, json and csv output over databases built in the test; hand-made
// MMDB files for an IPv4-only tree, hostile strings and broken records.
#include <maxminddb.h>
#include <rapidjson/document.h>

#include <fcntl.h>
#include <unistd.h>

#include <map>
#include <random>

#include "anondb/builder/annotate.hpp"
#include "anondb/builder/geo.hpp"
#include "test_db.hpp"
#include "test_mmdb_file.hpp"

using namespace anondb;
using namespace anondb::test;
using builder::AnnotateFormat;
using builder::AnnotateOptions;
using builder::Annotator;
using builder::GeoDatabase;
using builder::GeoLocation;
using builder::location_verdict;
using builder::Reliability;

namespace {

const std::string kMmdbDir = kRepo + "/tests/data/mmdb/";
const std::string kCity = kMmdbDir + "GeoIP2-City-Test.mmdb";
const std::string kCountry = kMmdbDir + "GeoLite2-Country-Test.mmdb";
const std::string kCountryJson = kMmdbDir + "GeoLite2-Country-Test.json";

GeoDatabase open_geo(const std::string& path) {
    auto g = GeoDatabase::open(path);
    REQUIRE_MESSAGE(g, (g ? "" : g.error().message));
    return std::move(*g);
}

GeoLocation geo_at(GeoDatabase& g, std::string_view address) {
    auto r = g.lookup(ip_of(address));
    REQUIRE_MESSAGE(r, (r ? "" : r.error().message));
    return *r;
}

// What a record says, as owned strings ("" when absent).
struct Place {
    std::string country, country_name, city;
    friend bool operator==(const Place&, const Place&) = default;
};
std::ostream& operator<<(std::ostream& os, const Place& p) {
    return os << "{" << p.country << ", " << p.country_name << ", " << p.city << "}";
}
Place place_of(const GeoLocation& g) {
    return {std::string(g.country), std::string(g.country_name), std::string(g.city)};
}

// ---- the Country database's source JSON ----------------------------------------

struct JsonNetwork {
    Range range;
    bool v4 = false;
    Place place;
};

std::string json_field(const rapidjson::Value& record, std::initializer_list<const char*> path) {
    const rapidjson::Value* v = &record;
    for (const char* k : path) {
        if (!v->IsObject() || !v->HasMember(k)) return "";
        v = &(*v)[k];
    }
    REQUIRE(v->IsString());
    return std::string(v->GetString(), v->GetStringLength());
}

// [{"NETWORK": {record}}, ...] as the test database was written from.
std::vector<JsonNetwork> country_json_networks() {
    const std::string text = read_text(kCountryJson);
    rapidjson::Document doc;
    doc.Parse(text.data(), text.size());
    REQUIRE_FALSE(doc.HasParseError());
    REQUIRE(doc.IsArray());
    std::vector<JsonNetwork> out;
    for (const auto& item : doc.GetArray()) {
        REQUIRE(item.IsObject());
        for (const auto& m : item.GetObject()) {
            const std::string net(m.name.GetString(), m.name.GetStringLength());
            JsonNetwork n;
            n.range = range_of(net);
            n.v4 = net.find(':') == std::string::npos;
            const auto& r = m.value;
            n.place = {json_field(r, {"country", "iso_code"}), json_field(r, {"country", "names", "en"}),
                       json_field(r, {"city", "names", "en"})};
            out.push_back(std::move(n));
        }
    }
    REQUIRE(out.size() > 200);
    return out;
}

// The JSON's answer for an address: the network holding it (the test data's
// networks do not overlap: checked), or nothing.
std::optional<Place> json_place_at(const std::vector<JsonNetwork>& nets, Ip a) {
    for (const auto& n : nets)
        if (n.range.contains(a)) return n.place;
    return std::nullopt;
}

// The 6to4 address 2002:AABB:CCDD:: of an IPv4 address a.b.c.d.
Ip six_to_four(Ip v4) { return Ip{0x2002000000000000ull | (std::uint64_t{v4.v4()} << 16), 0}; }

// ---- libmaxminddb's own view of a database ---------------------------------------

// The record of `address` read with MMDB_lookup_string (getaddrinfo parses
// the text) and MMDB_get_value; nullopt when there is none.
std::optional<Place> mmdb_place(const std::string& path, const std::string& address) {
    MMDB_s db{};
    REQUIRE(MMDB_open(path.c_str(), MMDB_MODE_MMAP, &db) == MMDB_SUCCESS);
    int gai = 0, err = 0;
    MMDB_lookup_result_s res = MMDB_lookup_string(&db, address.c_str(), &gai, &err);
    REQUIRE(gai == 0);
    std::optional<Place> out;
    if (err == MMDB_SUCCESS && res.found_entry) {
        auto get = [&](auto... path_parts) {
            MMDB_entry_data_s d{};
            const int rc = MMDB_get_value(&res.entry, &d, path_parts..., static_cast<const char*>(nullptr));
            if (rc != MMDB_SUCCESS || !d.has_data) return std::string();
            REQUIRE(d.type == MMDB_DATA_TYPE_UTF8_STRING);
            return std::string(d.utf8_string, d.data_size);
        };
        out = Place{get("country", "iso_code"), get("country", "names", "en"), get("city", "names", "en")};
    } else {
        REQUIRE((err == MMDB_SUCCESS || err == MMDB_IPV6_LOOKUP_IN_IPV4_DATABASE_ERROR));
    }
    MMDB_close(&db);
    return out;
}

// ---- the annotator over a database built in the test --------------------------------

// Run the annotator over `input` (one line at a time through line()).
struct Ran {
    std::string out;
    Error error;
};
Ran annotate(const Database& db, AnnotateOptions options, const std::string& input) {
    TempDir dir("anondb-geo");
    const std::string out_path = (dir.path / "out").string();
    const int fd = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    REQUIRE(fd >= 0);
    Ran ran;
    {
        auto a = Annotator::create(db, options, fd);
        REQUIRE_MESSAGE(a, (a ? "" : a.error().message));
        const std::string in_path = (dir.path / "in").string();
        write_text(in_path, input);
        const int in = ::open(in_path.c_str(), O_RDONLY | O_CLOEXEC);
        REQUIRE(in >= 0);
        ran.error = a->read_all(in, "input");
        ::close(in);
        if (const Error f = a->flush(); ran.error.status == Status::ok) ran.error = f;
    }
    ::close(fd);
    ran.out = read_text(out_path);
    return ran;
}

// The flagged ranges every annotator case uses, inside networks of the
// City test database (see the literals below).
Content geo_content() {
    Content t({"Hoster", "VPN Co"}, {"tor", "vpn", "hosting"});
    t.add_entry("81.2.69.142/32", 0, kTorExit, 0);                   // London, GB
    t.add_entry("89.160.20.112/28", 1, kVpn, t.pid("VPN Co"));        // Linköping, SE
    t.add_entry("216.160.83.56/29", 2, kHosting, t.pid("Hoster"));    // Milton, US
    t.add_entry("2001:218::/32", 1, kVpn | kHosting, t.pid("VPN Co"));  // JP, no city
    t.add_entry("8.8.4.0/24", 0, kTorExit, 0);                       // no record in the test data
    t.add_entry("175.16.199.0/24", 0, kRelay, 0);                    // Changchun, CN
    t.add_entry("67.43.156.0/24", 0, kResidentialProxy | kProxy, 0);  // BT, no city
    t.merge();
    return t;
}

constexpr std::string_view kTorCaveat = "tor_exit: the location is the Tor exit relay's, not the user's";
constexpr std::string_view kVpnCaveat = "vpn: the location is the VPN server's, not the user's";
constexpr std::string_view kHostingCaveat = "hosting: a datacenter address; the user may be behind it";
constexpr std::string_view kRelayCaveat = "relay: the location is the relay's egress, at best the user's region";
constexpr std::string_view kResidentialCaveat =
    "residential_proxy: the location is the proxy's exit device's, not the user's";
constexpr std::string_view kProxyCaveat = "proxy: the location is the proxy's, not the user's";
constexpr std::string_view kNoLocation = "no location: the geolocation database has no country for this address";

}  // namespace

TEST_CASE("geo: the Country test database answers as its source JSON says, for IPv4, IPv6 and aliases") {
    const auto nets = country_json_networks();
    // The JSON's networks do not overlap (json_place_at relies on it).
    for (std::size_t i = 0; i < nets.size(); ++i)
        for (std::size_t j = i + 1; j < nets.size(); ++j)
            REQUIRE_FALSE((nets[i].range.first <= nets[j].range.last && nets[j].range.first <= nets[i].range.last));
    GeoDatabase g = open_geo(kCountry);
    CHECK(g.database_type() == "GeoLite2-Country");
    CHECK(g.ip_version() == 6);
    std::size_t v4 = 0, v6 = 0, continent_only = 0, checked = 0;
    for (const auto& n : nets) {
        CAPTURE(format_range(n.range));
        (n.v4 ? v4 : v6) += 1;
        if (n.place.country.empty()) ++continent_only;
        const U128 size = to_u128(n.range.last) - to_u128(n.range.first);
        for (const Ip a : {n.range.first, n.range.last, to_ip(to_u128(n.range.first) + size / 3)}) {
            CAPTURE(format_ip(a));
            auto r = g.lookup(a);
            REQUIRE_MESSAGE(r, (r ? "" : r.error().message));
            CHECK(place_of(*r) == n.place);
            CHECK(r->located() == !n.place.country.empty());
            CHECK(r->city.empty());  // a Country database has no cities
            if (n.v4) {
                // 6to4 is aliased to the IPv4 tree (SOURCES.md): an IPv6
                // address that answers as its IPv4 address.
                auto alias = g.lookup(six_to_four(a));
                REQUIRE(alias);
                CHECK(place_of(*alias) == n.place);
            }
            ++checked;
        }
        // Just outside the network: whatever the JSON says there (mostly nothing).
        for (const Ip a : {ip_prev(n.range.first), ip_next(n.range.last)}) {
            if (n.v4 != a.is_v4()) continue;
            CAPTURE(format_ip(a));
            auto r = g.lookup(a);
            REQUIRE(r);
            const auto want = json_place_at(nets, a);
            CHECK(place_of(*r) == (want ? *want : Place{}));
        }
    }
    CHECK(v4 >= 10);
    CHECK(v6 >= 200);
    CHECK(continent_only == 2);  // 2a02:d500::/29 and 2a02:ec80::/29: a continent, no country
    CHECK(checked == 3 * nets.size());
    // No record at all.
    CHECK(place_of(geo_at(g, "8.8.8.8")) == Place{});
    CHECK(place_of(geo_at(g, "2600::1")) == Place{});
}

TEST_CASE("geo: the City test database agrees with libmaxminddb's own lookup, and with known places") {
    GeoDatabase g = open_geo(kCity);
    CHECK(g.database_type() == "GeoIP2-City");
    // Places MaxMind's test data is known for (fake data, fixed in the file).
    const std::pair<const char*, Place> known[] = {
        {"81.2.69.142", {"GB", "United Kingdom", "London"}},
        {"::ffff:81.2.69.142", {"GB", "United Kingdom", "London"}},
        {"2002:5102:458e::", {"GB", "United Kingdom", "London"}},  // 6to4 of 81.2.69.142
        {"2.125.160.216", {"GB", "United Kingdom", "Boxford"}},
        {"89.160.20.112", {"SE", "Sweden", "Link\xc3\xb6ping"}},
        {"216.160.83.56", {"US", "United States", "Milton"}},
        {"67.43.156.1", {"BT", "Bhutan", ""}},
        {"175.16.199.1", {"CN", "China", "Changchun"}},
        {"2001:218::1", {"JP", "Japan", ""}},
        {"8.8.8.8", {}},
    };
    for (const auto& [address, want] : known) {
        CAPTURE(address);
        const GeoLocation loc = geo_at(g, address);
        CHECK(place_of(loc) == want);
        const auto lib = mmdb_place(kCity, address);
        CHECK(lib.value_or(Place{}) == want);
    }
    // Every address the Country JSON names, and its neighbours, through both
    // readers (the City database holds most of the same networks, and more).
    std::size_t located = 0, cities = 0;
    for (const auto& n : country_json_networks())
        for (const Ip a : {n.range.first, n.range.last, ip_prev(n.range.first), ip_next(n.range.last)}) {
            const std::string text = format_ip(a);
            CAPTURE(text);
            const GeoLocation loc = geo_at(g, text);
            CHECK(place_of(loc) == mmdb_place(kCity, text).value_or(Place{}));
            located += loc.located();
            cities += !loc.city.empty();
        }
    CHECK(located > 400);
    CHECK(cities > 5);
}

TEST_CASE("geo: an IPv4-only tree answers IPv4 and IPv4-mapped addresses, and IPv6 with no location, not an error") {
    TempDir dir("anondb-geo");
    TinyMmdb t(4, "Test-IPv4-Country");
    t.insert("81.2.69.0/24", TinyMmdb::place("GB", "United Kingdom", "London"));
    t.insert("203.0.113.0/25", TinyMmdb::place("DE", "Germany", ""));
    const std::string path = t.write(dir.path, "v4.mmdb");
    GeoDatabase g = open_geo(path);
    CHECK(g.ip_version() == 4);
    CHECK(place_of(geo_at(g, "81.2.69.1")) == Place{"GB", "United Kingdom", "London"});
    CHECK(place_of(geo_at(g, "::ffff:81.2.69.255")) == Place{"GB", "United Kingdom", "London"});
    CHECK(place_of(geo_at(g, "203.0.113.127")) == Place{"DE", "Germany", ""});
    CHECK(place_of(geo_at(g, "203.0.113.128")) == Place{});
    CHECK(place_of(geo_at(g, "81.2.70.0")) == Place{});
    // libmaxminddb refuses these as lookups; anondb says "no location".
    for (const char* v6 : {"2001:db8::1", "::81.2.69.1", "2002:5102:4501::", "::"}) {
        CAPTURE(v6);
        CHECK_FALSE(mmdb_place(path, v6));
        auto r = g.lookup(ip_of(v6));
        REQUIRE_MESSAGE(r, (r ? "" : r.error().message));
        CHECK_FALSE(r->located());
        CHECK(place_of(*r) == Place{});
    }
}

TEST_CASE("geo: the same answers in any order (the record cache never answers for another record)") {
    GeoDatabase g = open_geo(kCountry);
    const auto nets = country_json_networks();
    std::vector<Ip> addresses;
    for (const auto& n : nets) {
        addresses.push_back(n.range.first);
        addresses.push_back(n.range.last);
    }
    std::mt19937_64 rng(17);
    for (int round = 0; round < 20; ++round) {
        std::shuffle(addresses.begin(), addresses.end(), rng);
        for (const Ip a : addresses) {
            auto r = g.lookup(a);
            REQUIRE(r);
            CHECK(place_of(*r) == json_place_at(nets, a).value_or(Place{}));
        }
    }
}

TEST_CASE("geo: open refuses a missing, corrupt or non-location database, naming the file") {
    TempDir dir("anondb-geo");
    // Not a City or Country database: an ASN, an Anonymous-IP and anondb's
    // own MMDB export type.
    for (const std::string name : {"GeoLite2-ASN-Test.mmdb", "GeoIP2-Anonymous-IP-Test.mmdb", "GeoIP2-ISP-Test.mmdb"}) {
        CAPTURE(name);
        const auto g = GeoDatabase::open(kMmdbDir + name);
        REQUIRE_FALSE(g);
        CHECK(g.error().status == Status::invalid_argument);
        CHECK(contains(g.error().message, kMmdbDir + name));
        CHECK(contains(g.error().message, "is not a City or Country database"));
    }
    {
        TinyMmdb t(6, "anondb-Anonymous-IP");
        const auto g = GeoDatabase::open(t.write(dir.path, "anon.mmdb"));
        REQUIRE_FALSE(g);
        CHECK(contains(g.error().message, "'anondb-Anonymous-IP'"));
    }
    // Accepted names, whatever the vendor.
    for (const std::string type : {"GeoLite2-City", "GeoIP2-Country", "GeoIP2-Enterprise", "DBIP-City-Lite", "dbip-country"}) {
        CAPTURE(type);
        TinyMmdb t(6, type);
        CHECK(GeoDatabase::open(t.write(dir.path, type + ".mmdb")));
    }
    const std::string missing = (dir.path / "no-such.mmdb").string();
    const auto m = GeoDatabase::open(missing);
    REQUIRE_FALSE(m);
    CHECK(m.error().status == Status::io);
    CHECK(contains(m.error().message, missing));
    // A truncated City database and a file that is not a MaxMind DB at all.
    const std::string city = read_text(kCity);
    const std::string truncated = (dir.path / "truncated.mmdb").string();
    write_text(truncated, city.substr(0, city.size() / 2));
    const std::string text = (dir.path / "text.mmdb").string();
    write_text(text, "81.2.69.142,GB,London\n");
    for (const auto& path : {truncated, text}) {
        CAPTURE(path);
        const auto g = GeoDatabase::open(path);
        REQUIRE_FALSE(g);
        CHECK(g.error().status == Status::corrupt);
        CHECK(contains(g.error().message, path));
    }
}

TEST_CASE("geo: a record that is not UTF-8, not a string, or past the data is an error naming file and address") {
    TempDir dir("anondb-geo");
    TinyMmdb t(4, "GeoLite2-City");
    t.insert("10.0.0.0/24", TinyMmdb::place("GB", "United Kingdom", "London"));
    t.insert("10.0.1.0/24", TinyMmdb::place("GB", "United \xff Kingdom", "London"));  // not UTF-8
    t.insert("10.0.2.0/24", TinyMmdb::place("GB", std::string("Nul\0Land", 8), "London"));
    t.insert("10.0.3.0/24", TinyMmdb::map({{"country", TinyMmdb::map({{"iso_code", TinyMmdb::u32(826)}})}}));
    t.insert("10.0.4.0/24", "", 0xfffff0);  // a record pointing far past the data section
    // Tolerated: "country" that is not a map has no fields to read.
    t.insert("10.0.5.0/24", TinyMmdb::map({{"country", TinyMmdb::str("GB")}, {"city", TinyMmdb::u32(1)}}));
    const std::string path = t.write(dir.path, "bad.mmdb");
    GeoDatabase g = open_geo(path);
    CHECK(geo_at(g, "10.0.0.1").country == "GB");
    CHECK(place_of(geo_at(g, "10.0.5.1")) == Place{});
    const std::pair<const char*, const char*> bad[] = {
        {"10.0.1.1", "country.names.en is not UTF-8 text"},
        {"10.0.2.1", "country.names.en is not UTF-8 text"},
        {"10.0.3.1", "country.iso_code is not a string"},
        {"10.0.4.1", ""},
    };
    for (const auto& [address, why] : bad) {
        CAPTURE(address);
        const auto r = g.lookup(ip_of(address));
        REQUIRE_FALSE(r);
        CHECK(r.error().status == Status::corrupt);
        CHECK(contains(r.error().message, path + ": the record of " + address + ": "));
        CHECK(contains(r.error().message, why));
    }
    CHECK(geo_at(g, "10.0.0.2").country == "GB");  // still answers after the errors
}

TEST_CASE("geo: the reliability rule, category by category") {
    struct Case {
        std::uint32_t categories;
        Reliability want;
        std::string_view caveat;
    };
    const Case cases[] = {
        {0, Reliability::reliable, ""},
        {kTorExit, Reliability::unreliable, kTorCaveat},
        {kVpn, Reliability::unreliable, kVpnCaveat},
        {kProxy, Reliability::unreliable, kProxyCaveat},
        {kRelay, Reliability::unreliable, kRelayCaveat},
        {kResidentialProxy, Reliability::unreliable, kResidentialCaveat},
        {kHosting, Reliability::unreliable, kHostingCaveat},
        // Several: the most hiding one names the reason.
        {kTorExit | kVpn | kHosting, Reliability::unreliable, kTorCaveat},
        {kVpn | kHosting, Reliability::unreliable, kVpnCaveat},
        {kProxy | kResidentialProxy, Reliability::unreliable, kResidentialCaveat},
        {kRelay | kProxy, Reliability::unreliable, kProxyCaveat},
        {kRelay | kHosting, Reliability::unreliable, kRelayCaveat},
        // A bit from a newer format: not known to be safe.
        {1u << 9, Reliability::unreliable, "unknown category: this anondb version cannot say what the address is"},
        {(1u << 9) | kHosting, Reliability::unreliable, kHostingCaveat},
    };
    for (const auto& c : cases) {
        CAPTURE(c.categories);
        const auto v = location_verdict(true, c.categories);
        CHECK(v.reliability == c.want);
        CHECK(v.caveat == c.caveat);
        // Anonymous addresses are never reliable; hosting-only ones neither.
        if (is_anonymous(c.categories) || (c.categories & kHosting)) CHECK(v.reliability == Reliability::unreliable);
        const auto none = location_verdict(false, c.categories);
        CHECK(none.reliability == Reliability::no_location);
        CHECK(none.caveat == kNoLocation);
    }
}

TEST_CASE("geo: annotator text, json and csv with the City database") {
    const Content t = geo_content();
    const OpenedDb o(t);
    GeoDatabase city = open_geo(kCity);
    const std::string input =
        "81.2.69.142\n89.160.20.120\n216.160.83.60\n2.125.160.216\n2001:218::1\n8.8.4.4\n8.8.8.8\n"
        "175.16.199.9\n67.43.156.1\nnot-an-ip\n";

    AnnotateOptions text;
    text.geo = &city;
    const Ran r = annotate(*o.db, text, input);
    REQUIRE(r.error.status == Status::ok);
    CHECK(r.out ==
          "81.2.69.142  tor_exit  anonymous  provider -  (range 81.2.69.142)  country GB (United Kingdom)  city London"
          "  location unreliable: " + std::string(kTorCaveat) + "\n"
          "89.160.20.120  vpn  anonymous  provider VPN Co  (range 89.160.20.112/28)  country SE (Sweden)  city "
          "Link\xc3\xb6ping  location unreliable: " + std::string(kVpnCaveat) + "\n"
          "216.160.83.60  hosting  provider Hoster  (range 216.160.83.56/29)  country US (United States)  city Milton"
          "  location unreliable: " + std::string(kHostingCaveat) + "\n"
          "2.125.160.216  not flagged  (range 0.0.0.0-8.8.3.255)  country GB (United Kingdom)  city Boxford\n"
          "2001:218::1  vpn,hosting  anonymous  provider VPN Co  (range 2001:218::/32)  country JP (Japan)"
          "  location unreliable: " + std::string(kVpnCaveat) + "\n"
          "8.8.4.4  tor_exit  anonymous  provider -  (range 8.8.4.0/24)  no location\n"
          "8.8.8.8  not flagged  (range 8.8.5.0-67.43.155.255)  no location\n"
          "175.16.199.9  relay  anonymous  provider -  (range 175.16.199.0/24)  country CN (China)  city Changchun"
          "  location unreliable: " + std::string(kRelayCaveat) + "\n"
          "67.43.156.1  proxy,residential_proxy  anonymous  provider -  (range 67.43.156.0/24)  country BT (Bhutan)"
          "  location unreliable: " + std::string(kResidentialCaveat) + "\n"
          "not-an-ip  error: not an IP address\n");

    // Without --geo: the same lines without the suffix (the output is unchanged).
    const Ran plain = annotate(*o.db, {}, input);
    REQUIRE(plain.error.status == Status::ok);
    const auto with = split_lines<std::string>(r.out), without = split_lines<std::string>(plain.out);
    REQUIRE(with.size() == without.size());
    for (std::size_t i = 0; i < with.size(); ++i) {
        CAPTURE(with[i]);
        CHECK(with[i].starts_with(without[i]));
        CHECK((with[i].size() > without[i].size()) == (without[i].find("error") == std::string::npos));
    }

    AnnotateOptions json = text;
    json.format = AnnotateFormat::json;
    const Ran j = annotate(*o.db, json, input);
    REQUIRE(j.error.status == Status::ok);
    const auto lines = split_lines<std::string>(j.out);
    REQUIRE(lines.size() == 10);
    struct Want {
        std::optional<Place> place;  // nullopt: all null
        std::optional<bool> reliable;
        std::string_view caveat;
    };
    const Want want[] = {
        {Place{"GB", "United Kingdom", "London"}, false, kTorCaveat},
        {Place{"SE", "Sweden", "Link\xc3\xb6ping"}, false, kVpnCaveat},
        {Place{"US", "United States", "Milton"}, false, kHostingCaveat},
        {Place{"GB", "United Kingdom", "Boxford"}, true, ""},
        {Place{"JP", "Japan", ""}, false, kVpnCaveat},
        {std::nullopt, std::nullopt, kNoLocation},
        {std::nullopt, std::nullopt, kNoLocation},
        {Place{"CN", "China", "Changchun"}, false, kRelayCaveat},
        {Place{"BT", "Bhutan", ""}, false, kResidentialCaveat},
    };
    auto str_or_null = [](const rapidjson::Value& v) {
        if (v.IsNull()) return std::string();
        REQUIRE(v.IsString());
        REQUIRE(v.GetStringLength() > 0);  // absent is null, never ""
        return std::string(v.GetString(), v.GetStringLength());
    };
    for (std::size_t i = 0; i < 9; ++i) {
        CAPTURE(lines[i]);
        rapidjson::Document d;
        d.Parse(lines[i].c_str());
        REQUIRE_FALSE(d.HasParseError());
        CHECK(d.MemberCount() == 13);  // the 8 of lookup --json, then the 5 of --geo
        const Place got{str_or_null(d["country"]), str_or_null(d["country_name"]), str_or_null(d["city"])};
        CHECK(got == want[i].place.value_or(Place{}));
        if (want[i].reliable) CHECK(d["location_reliable"].GetBool() == *want[i].reliable);
        else CHECK(d["location_reliable"].IsNull());
        CHECK(str_or_null(d["location_caveat"]) == want[i].caveat);
    }
    CHECK(lines[9] == "{\"ip\":\"not-an-ip\",\"error\":\"not an IP address\",\"line\":10}");

    // csv: the address in column 2; the geo columns after anondb_error.
    std::string csv = "case;ip\n";
    const auto addrs = split_lines<std::string>(input);
    for (std::size_t i = 0; i < addrs.size(); ++i) csv += "c" + std::to_string(i) + ";" + addrs[i] + "\n";
    AnnotateOptions c = text;
    c.column_name = "ip";
    c.delimiter = ';';
    const Ran cr = annotate(*o.db, c, csv);
    REQUIRE(cr.error.status == Status::ok);
    const auto rows = split_lines<std::string>(cr.out);
    REQUIRE(rows.size() == 11);
    CHECK(rows[0] == "case;ip;anondb_flagged;anondb_anonymous;anondb_categories;anondb_provider;anondb_asn;"
                     "anondb_range;anondb_error;anondb_country;anondb_country_name;anondb_city;"
                     "anondb_location_reliable;anondb_location_caveat");
    CHECK(rows[1] == "c0;81.2.69.142;true;true;tor_exit;;;81.2.69.142;;GB;United Kingdom;London;false;" +
                         std::string(kTorCaveat));
    // The caveat holds the delimiter: quoted.
    CHECK(rows[3] == "c2;216.160.83.60;true;false;hosting;Hoster;;216.160.83.56/29;;US;United States;Milton;false;\"" +
                         std::string(kHostingCaveat) + "\"");
    CHECK(rows[4] == "c3;2.125.160.216;false;false;;;;0.0.0.0-8.8.3.255;;GB;United Kingdom;Boxford;true;");
    CHECK(rows[6] == "c5;8.8.4.4;true;true;tor_exit;;;8.8.4.0/24;;;;;;" + std::string(kNoLocation));
    CHECK(rows[10] == "c9;not-an-ip;;;;;;;not an IP address;;;;;");
    // Without --geo the header and rows keep their columns.
    c.geo = nullptr;
    const Ran cp = annotate(*o.db, c, csv);
    const auto plain_rows = split_lines<std::string>(cp.out);
    REQUIRE(plain_rows.size() == 11);
    CHECK(plain_rows[0] == "case;ip;anondb_flagged;anondb_anonymous;anondb_categories;anondb_provider;anondb_asn;"
                           "anondb_range;anondb_error");
    CHECK(plain_rows[1] == "c0;81.2.69.142;true;true;tor_exit;;;81.2.69.142;");
}

TEST_CASE("geo: annotator with the Country database: countries, no cities") {
    const Content t = geo_content();
    const OpenedDb o(t);
    GeoDatabase country = open_geo(kCountry);
    AnnotateOptions opt;
    opt.geo = &country;
    const Ran r = annotate(*o.db, opt, "81.2.69.142\n2.125.160.216\n175.16.199.1\n2a02:d500::1\n");
    REQUIRE(r.error.status == Status::ok);
    CHECK(r.out ==
          "81.2.69.142  tor_exit  anonymous  provider -  (range 81.2.69.142)  country GB (United Kingdom)"
          "  location unreliable: " + std::string(kTorCaveat) + "\n"
          "2.125.160.216  not flagged  (range 0.0.0.0-8.8.3.255)  country GB (United Kingdom)\n"
          "175.16.199.1  relay  anonymous  provider -  (range 175.16.199.0/24)  no location\n"
          // A record with a continent only: no country, so no location.
          "2a02:d500::1  not flagged  (range 2001:219::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff)  no location\n");
}

TEST_CASE("geo: hostile strings from the geolocation database are escaped in text and quoted in csv") {
    TempDir dir("anondb-geo");
    TinyMmdb t(4, "Test-City");
    const std::string esc = "\x1b[31m";
    t.insert("81.2.69.0/24", TinyMmdb::place("G\x07", "United, \"Kingdom\"", "Lon" + esc + "don\nEvil"));
    GeoDatabase g = open_geo(t.write(dir.path, "hostile.mmdb"));
    const Content c = geo_content();
    const OpenedDb o(c);
    AnnotateOptions text;
    text.geo = &g;
    const Ran r = annotate(*o.db, text, "81.2.69.1\n");
    REQUIRE(r.error.status == Status::ok);
    CHECK(r.out == "81.2.69.1  not flagged  (range 67.43.157.0-81.2.69.141)  country G\\x07 (United, \"Kingdom\")  city "
                   "Lon\\x1b[31mdon\\x0aEvil\n");
    CHECK_FALSE(contains(r.out, esc));

    AnnotateOptions json = text;
    json.format = AnnotateFormat::json;
    const Ran j = annotate(*o.db, json, "81.2.69.1\n");
    REQUIRE(j.error.status == Status::ok);
    CHECK(contains(j.out, "\"country\":\"G\\u0007\",\"country_name\":\"United, \\\"Kingdom\\\"\","
                          "\"city\":\"Lon\\u001B[31mdon\\nEvil\""));
    rapidjson::Document d;
    d.Parse(j.out.c_str());
    REQUIRE_FALSE(d.HasParseError());
    CHECK(std::string(d["city"].GetString()) == "Lon" + esc + "don\nEvil");

    AnnotateOptions csv = text;
    csv.column = 1;
    const Ran cr = annotate(*o.db, csv, "81.2.69.1\n");
    REQUIRE(cr.error.status == Status::ok);
    CHECK(cr.out == "81.2.69.1,false,false,,,,67.43.157.0-81.2.69.141,,G\x07,\"United, \"\"Kingdom\"\"\",\"Lon" + esc +
                        "don\nEvil\",true,\n");
}

TEST_CASE("geo: a broken record stops the annotator at its line with an error naming the file and address") {
    TempDir dir("anondb-geo");
    TinyMmdb t(4, "GeoLite2-City");
    t.insert("81.2.69.0/24", TinyMmdb::place("GB", "United Kingdom", "London"));
    t.insert("89.160.20.0/24", TinyMmdb::place("SE", "Sweden \xc3", "Link"));  // a cut UTF-8 sequence
    const std::string path = t.write(dir.path, "broken.mmdb");
    GeoDatabase g = open_geo(path);
    const Content c = geo_content();
    const OpenedDb o(c);
    for (const AnnotateFormat f : {AnnotateFormat::text, AnnotateFormat::json}) {
        AnnotateOptions opt;
        opt.format = f;
        opt.geo = &g;
        const Ran r = annotate(*o.db, opt, "81.2.69.1\n81.2.69.2\n89.160.20.112\n81.2.69.3\nbad\n");
        CHECK(r.error.status == Status::corrupt);
        CHECK(contains(r.error.message, path + ": the record of 89.160.20.112: country.names.en is not UTF-8"));
        const auto lines = split_lines<std::string>(r.out);
        REQUIRE(lines.size() == 2);  // the lines before it, nothing after
        CHECK(contains(lines[1], "81.2.69.2"));
    }
}
