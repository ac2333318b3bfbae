// `onionoo-exit` and `onionoo-relays`: Onionoo details documents
// (https://onionoo.torproject.org/details?...), one parser per address list.
//
//   { "version": "8.0", "relays_published": "...",
//     "relays": [ { "fingerprint": "...",
//                   "or_addresses": [ "204.8.96.141:444", "[2620:7:6003::141]:81" ],
//                   "exit_addresses": [ "204.8.96.141" ], ... }, ... ],
//     "bridges": [ ... ] }
//
// A relay without the list read (no exit_addresses: it did not exit in the
// last 24 hours, or the query left the field out) contributes nothing.
#include "anondb/sources/formats.hpp"
#include "json_scan.hpp"

namespace anondb::sources {
namespace {

using detail::json::Kind;
using detail::json::Member;
using detail::json::Node;

// "1.2.3.4:9001" or "[2001:db8::1]:443" to its address; the port must be a
// decimal TCP port.
detail::TokenParse or_address(std::string_view text) {
    const detail::TokenParse bad{std::nullopt, reasons::kBadOrAddress};
    text = detail::trim_blanks(text);
    std::string_view address, port;
    if (!text.empty() && text.front() == '[') {
        const std::size_t close = text.find(']');
        if (close == std::string_view::npos) return bad;
        address = text.substr(1, close - 1);
        port = text.substr(close + 1);
    } else {
        const std::size_t colon = text.rfind(':');
        if (colon == std::string_view::npos) return bad;
        address = text.substr(0, colon);
        port = text.substr(colon);
        if (address.find(':') != std::string_view::npos) return bad;  // IPv6 without brackets
    }
    if (port.size() < 2 || port.size() > 6 || port.front() != ':') return bad;
    unsigned value = 0;
    for (const char c : port.substr(1)) {
        if (c < '0' || c > '9') return bad;
        value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (value > 65535) return bad;
    return detail::parse_token(address, detail::Shape::address);
}

// root{relays[{exit_addresses[...]}]}
constexpr Node kExitAddress{.kind = Kind::string, .wrong_kind = reasons::kAddressNotString,
                            .shape = detail::Shape::address};
constexpr Node kExitAddresses{.kind = Kind::array, .wrong_kind = reasons::kExitAddressesNotArray,
                              .element = &kExitAddress};
constexpr Member kExitRelayMembers[] = {{.key = "exit_addresses", .node = &kExitAddresses}};
constexpr Node kExitRelay{.kind = Kind::object, .wrong_kind = reasons::kRelayNotObject, .members = kExitRelayMembers};
constexpr Node kExitRelays{.kind = Kind::array, .wrong_kind = reasons::kRelaysNotArray, .element = &kExitRelay};
constexpr Member kExitRootMembers[] = {{.key = "relays", .node = &kExitRelays, .missing = reasons::kMissingRelays}};
constexpr Node kExitRoot{.kind = Kind::object, .wrong_kind = reasons::kRootNotObject, .members = kExitRootMembers};

// root{relays[{or_addresses[...]}]}
constexpr Node kOrAddress{.kind = Kind::string, .wrong_kind = reasons::kAddressNotString, .token = &or_address};
constexpr Node kOrAddresses{.kind = Kind::array, .wrong_kind = reasons::kOrAddressesNotArray, .element = &kOrAddress};
constexpr Member kOrRelayMembers[] = {{.key = "or_addresses", .node = &kOrAddresses}};
constexpr Node kOrRelay{.kind = Kind::object, .wrong_kind = reasons::kRelayNotObject, .members = kOrRelayMembers};
constexpr Node kOrRelays{.kind = Kind::array, .wrong_kind = reasons::kRelaysNotArray, .element = &kOrRelay};
constexpr Member kOrRootMembers[] = {{.key = "relays", .node = &kOrRelays, .missing = reasons::kMissingRelays}};
constexpr Node kOrRoot{.kind = Kind::object, .wrong_kind = reasons::kRootNotObject, .members = kOrRootMembers};

}  // namespace

ParseResult parse_onionoo_exit(std::string_view body, const ParseOptions& options) {
    return detail::json::scan(body, kExitRoot, options);
}

ParseResult parse_onionoo_relays(std::string_view body, const ParseOptions& options) {
    return detail::json::scan(body, kOrRoot, options);
}

}  // namespace anondb::sources
