// anondb address model: IPv4 and IPv6 in one 128-bit space.
//
// IPv4 lives in exactly one place: the IPv4-mapped block ::ffff:0:0/96
// (RFC 4291 2.5.5.2). "1.2.3.4" and "::ffff:1.2.3.4" are the same address.
// Standard library only: the reader's lookup path includes this header.
#pragma once

#include <array>
#include <bit>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace anondb {

// One address in the 128-bit space, most significant half first so that the
// defaulted ordering is numeric ordering.
struct Ip {
    std::uint64_t hi = 0;
    std::uint64_t lo = 0;

    friend constexpr auto operator<=>(const Ip&, const Ip&) = default;

    static constexpr Ip from_v4(std::uint32_t v4) noexcept {
        return Ip{0, 0x0000ffff00000000ull | v4};
    }
    constexpr bool is_v4() const noexcept { return hi == 0 && (lo >> 32) == 0xffffu; }
    constexpr std::uint32_t v4() const noexcept { return static_cast<std::uint32_t>(lo); }

    static constexpr Ip from_bytes(const std::array<std::uint8_t, 16>& b) noexcept {
        Ip ip;
        for (int i = 0; i < 8; ++i) ip.hi = (ip.hi << 8) | b[i];
        for (int i = 8; i < 16; ++i) ip.lo = (ip.lo << 8) | b[i];
        return ip;
    }
    constexpr std::array<std::uint8_t, 16> to_bytes() const noexcept {
        std::array<std::uint8_t, 16> b{};
        for (int i = 0; i < 8; ++i) b[i] = static_cast<std::uint8_t>(hi >> (56 - 8 * i));
        for (int i = 0; i < 8; ++i) b[8 + i] = static_cast<std::uint8_t>(lo >> (56 - 8 * i));
        return b;
    }
};

inline constexpr Ip kIpMin{0, 0};
inline constexpr Ip kIpMax{~0ull, ~0ull};
inline constexpr Ip kV4First = Ip::from_v4(0);
inline constexpr Ip kV4Last = Ip::from_v4(0xffffffffu);

// Successor / predecessor with wrap-around; callers check kIpMax / kIpMin first.
constexpr Ip ip_next(Ip a) noexcept {
    Ip r{a.hi, a.lo + 1};
    if (r.lo == 0) ++r.hi;
    return r;
}
constexpr Ip ip_prev(Ip a) noexcept {
    Ip r{a.hi, a.lo - 1};
    if (a.lo == 0) --r.hi;
    return r;
}

// Mask with the top `len` bits set (len in 0..128).
constexpr Ip prefix_mask(unsigned len) noexcept {
    auto top = [](unsigned n) -> std::uint64_t { return n == 0 ? 0 : (n >= 64 ? ~0ull : ~0ull << (64 - n)); };
    return Ip{top(len > 64 ? 64 : len), top(len > 64 ? len - 64 : 0)};
}

// Inclusive range [first, last]; first <= last always holds for a valid Range.
struct Range {
    Ip first;
    Ip last;
    friend constexpr bool operator==(const Range&, const Range&) = default;
    constexpr bool contains(Ip a) const noexcept { return first <= a && a <= last; }
};

// The prefix `addr/len` as a range (host bits of addr are ignored). len in 0..128.
constexpr Range prefix_range(Ip addr, unsigned len) noexcept {
    const Ip m = prefix_mask(len);
    return Range{Ip{addr.hi & m.hi, addr.lo & m.lo}, Ip{addr.hi | ~m.hi, addr.lo | ~m.lo}};
}

// Why a piece of text is not an address, prefix or range.
enum class IpError {
    empty,
    junk,             // characters that belong to no address syntax
    bad_ipv4,         // wrong number of parts, empty part
    octet_range,      // a part above 255
    octet_leading_zero,  // "010": octal-looking, ambiguous between parsers
    bad_ipv6,
    bad_prefix_len,   // missing, non-decimal, leading zero or too large
    mixed_families,   // "1.2.3.4-::1"
    reversed_range,   // first > last
};

constexpr std::string_view ip_error_text(IpError e) noexcept {
    switch (e) {
        case IpError::empty: return "empty";
        case IpError::junk: return "not an IP address";
        case IpError::bad_ipv4: return "malformed IPv4 address";
        case IpError::octet_range: return "IPv4 octet above 255";
        case IpError::octet_leading_zero: return "IPv4 octet with leading zero (octal-looking)";
        case IpError::bad_ipv6: return "malformed IPv6 address";
        case IpError::bad_prefix_len: return "bad prefix length";
        case IpError::mixed_families: return "range mixes IPv4 and IPv6";
        case IpError::reversed_range: return "range end before start";
    }
    return "unknown";
}

// A parse outcome: either a value or an IpError. Small on purpose (C++20 has
// no std::expected).
template <class T>
struct IpParse {
    std::optional<T> value;
    IpError error = IpError::empty;
    constexpr explicit operator bool() const noexcept { return value.has_value(); }
    constexpr const T& operator*() const { return *value; }
    constexpr const T* operator->() const { return &*value; }
};

// A parsed address with the family it was written in.
struct ParsedIp {
    Ip ip;
    // Written as a dotted quad. "::ffff:1.2.3.4" gives the same ip but counts
    // as IPv6 text (prefix lengths 0..128; format_range relies on this).
    bool written_v4;
};

// A parsed prefix or range. `host_bits_cleared` is set when a prefix was
// written with host bits (e.g. 10.0.0.1/8) and was normalised.
struct ParsedRange {
    Range range;
    bool host_bits_cleared = false;
};

namespace detail {

constexpr bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
constexpr int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Strict dotted quad: exactly four decimal parts 0..255, no leading zeros
// (except "0"), no signs, no spaces.
constexpr IpParse<std::uint32_t> parse_v4_value(std::string_view s) noexcept {
    if (s.empty()) return {std::nullopt, IpError::empty};
    std::uint32_t value = 0;
    int parts = 0;
    std::size_t i = 0;
    while (true) {
        const std::size_t start = i;
        std::uint32_t part = 0;
        while (i < s.size() && is_digit(s[i])) {
            if (i - start >= 3) return {std::nullopt, IpError::octet_range};
            part = part * 10 + static_cast<std::uint32_t>(s[i] - '0');
            ++i;
        }
        if (i == start) {
            if (i < s.size() && s[i] != '.') return {std::nullopt, IpError::junk};
            return {std::nullopt, IpError::bad_ipv4};
        }
        if (i - start > 1 && s[start] == '0') return {std::nullopt, IpError::octet_leading_zero};
        if (part > 255) return {std::nullopt, IpError::octet_range};
        value = (value << 8) | part;
        ++parts;
        if (i == s.size()) break;
        if (s[i] != '.') return {std::nullopt, is_digit(s[i]) ? IpError::bad_ipv4 : IpError::junk};
        if (parts == 4) return {std::nullopt, IpError::bad_ipv4};
        ++i;
    }
    if (parts != 4) return {std::nullopt, IpError::bad_ipv4};
    return {value, IpError::empty};
}

// RFC 4291 text forms: up to eight 1-4 digit hex groups, at most one "::",
// an optional trailing dotted quad. No zone index, no brackets.
constexpr IpParse<Ip> parse_v6_value(std::string_view s) noexcept {
    if (s.empty()) return {std::nullopt, IpError::empty};
    std::uint16_t groups[8] = {};
    int n = 0;           // groups written
    int gap = -1;        // index in groups where "::" stands
    std::size_t i = 0;
    if (s.size() >= 2 && s[0] == ':' && s[1] == ':') {
        gap = 0;
        i = 2;
        if (i == s.size()) return {Ip{}, IpError::empty};
    } else if (s[0] == ':') {
        return {std::nullopt, IpError::bad_ipv6};
    }
    while (i < s.size()) {
        // A dotted quad may end the address, taking two groups.
        std::size_t j = i;
        while (j < s.size() && hex_value(s[j]) >= 0) ++j;
        if (j < s.size() && s[j] == '.') {
            if (n > 6) return {std::nullopt, IpError::bad_ipv6};
            auto v4 = parse_v4_value(s.substr(i));
            if (!v4) return {std::nullopt, v4.error};
            groups[n++] = static_cast<std::uint16_t>(*v4 >> 16);
            groups[n++] = static_cast<std::uint16_t>(*v4 & 0xffff);
            i = s.size();
            break;
        }
        if (j == i) return {std::nullopt, (j < s.size() && s[j] != ':') ? IpError::junk : IpError::bad_ipv6};
        if (j - i > 4 || n >= 8) return {std::nullopt, IpError::bad_ipv6};
        std::uint32_t g = 0;
        for (std::size_t k = i; k < j; ++k) g = (g << 4) | static_cast<std::uint32_t>(hex_value(s[k]));
        groups[n++] = static_cast<std::uint16_t>(g);
        i = j;
        if (i == s.size()) break;
        if (s[i] != ':') return {std::nullopt, IpError::junk};
        ++i;
        if (i < s.size() && s[i] == ':') {
            if (gap >= 0) return {std::nullopt, IpError::bad_ipv6};
            gap = n;
            ++i;
        } else if (i == s.size()) {
            return {std::nullopt, IpError::bad_ipv6};  // trailing single ':'
        }
    }
    if (gap < 0 && n != 8) return {std::nullopt, IpError::bad_ipv6};
    if (gap >= 0 && n > 7) return {std::nullopt, IpError::bad_ipv6};
    std::uint16_t full[8] = {};
    if (gap < 0) {
        for (int k = 0; k < 8; ++k) full[k] = groups[k];
    } else {
        const int tail = n - gap;
        for (int k = 0; k < gap; ++k) full[k] = groups[k];
        for (int k = 0; k < tail; ++k) full[8 - tail + k] = groups[gap + k];
    }
    Ip ip;
    for (int k = 0; k < 4; ++k) ip.hi = (ip.hi << 16) | full[k];
    for (int k = 4; k < 8; ++k) ip.lo = (ip.lo << 16) | full[k];
    return {ip, IpError::empty};
}

constexpr IpParse<unsigned> parse_prefix_len(std::string_view s, unsigned max) noexcept {
    if (s.empty() || s.size() > 3) return {std::nullopt, IpError::bad_prefix_len};
    if (s.size() > 1 && s[0] == '0') return {std::nullopt, IpError::bad_prefix_len};
    unsigned v = 0;
    for (char c : s) {
        if (!is_digit(c)) return {std::nullopt, IpError::bad_prefix_len};
        v = v * 10 + static_cast<unsigned>(c - '0');
    }
    if (v > max) return {std::nullopt, IpError::bad_prefix_len};
    return {v, IpError::empty};
}

constexpr std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

}  // namespace detail

// Parses one address: a strict dotted quad or an RFC 4291 IPv6 text form.
constexpr IpParse<ParsedIp> parse_ip(std::string_view s) noexcept {
    if (s.empty()) return {std::nullopt, IpError::empty};
    if (s.find(':') == std::string_view::npos) {
        auto v4 = detail::parse_v4_value(s);
        if (!v4) return {std::nullopt, v4.error};
        return {ParsedIp{Ip::from_v4(*v4), true}, IpError::empty};
    }
    auto v6 = detail::parse_v6_value(s);
    if (!v6) return {std::nullopt, v6.error};
    return {ParsedIp{*v6, false}, IpError::empty};
}

namespace detail {
// The common case of parse_range in one pass: a strict dotted quad, with or
// without "/LEN". Anything else (an IPv6 address, a range with '-', spaces,
// a leading zero, any error) gives nullopt, and parse_range takes the
// general path, which also words the error. A feed line costs about a third
// of the general path's three scans and four calls (bench/build_bench).
constexpr std::optional<ParsedRange> parse_v4_prefix_fast(std::string_view s) noexcept {
    const char* p = s.data();
    const char* const end = p + s.size();
    std::uint32_t value = 0;
    for (int octet = 0; octet < 4; ++octet) {
        if (octet > 0) {
            if (p == end || *p != '.') return std::nullopt;
            ++p;
        }
        if (p == end || !is_digit(*p)) return std::nullopt;
        std::uint32_t v = static_cast<std::uint32_t>(*p++ - '0');
        if (v == 0 && p != end && is_digit(*p)) return std::nullopt;  // leading zero
        for (int k = 0; k < 2 && p != end && is_digit(*p); ++k) v = v * 10 + static_cast<std::uint32_t>(*p++ - '0');
        if (v > 255) return std::nullopt;
        value = value << 8 | v;
    }
    const Ip ip = Ip::from_v4(value);
    if (p == end) return ParsedRange{Range{ip, ip}, false};
    if (*p++ != '/' || p == end || !is_digit(*p)) return std::nullopt;
    unsigned len = static_cast<unsigned>(*p++ - '0');
    if (len == 0 && p != end) return std::nullopt;  // "0" only, no leading zero
    if (p != end && is_digit(*p)) len = len * 10 + static_cast<unsigned>(*p++ - '0');
    if (p != end || len > 32) return std::nullopt;
    const Range r = prefix_range(ip, 96 + len);
    return ParsedRange{r, r.first != ip};
}

// parse_range without the fast path: every form, and every error.
constexpr IpParse<ParsedRange> parse_range_general(std::string_view s) noexcept {
    s = detail::trim(s);
    if (s.empty()) return {std::nullopt, IpError::empty};
    if (auto dash = s.find('-'); dash != std::string_view::npos) {
        auto a = parse_ip(detail::trim(s.substr(0, dash)));
        if (!a) return {std::nullopt, a.error};
        auto b = parse_ip(detail::trim(s.substr(dash + 1)));
        if (!b) return {std::nullopt, b.error};
        if (a->written_v4 != b->written_v4) return {std::nullopt, IpError::mixed_families};
        if (b->ip < a->ip) return {std::nullopt, IpError::reversed_range};
        return {ParsedRange{Range{a->ip, b->ip}, false}, IpError::empty};
    }
    if (auto slash = s.find('/'); slash != std::string_view::npos) {
        auto a = parse_ip(s.substr(0, slash));
        if (!a) return {std::nullopt, a.error};
        auto len = detail::parse_prefix_len(s.substr(slash + 1), a->written_v4 ? 32 : 128);
        if (!len) return {std::nullopt, len.error};
        const unsigned len128 = a->written_v4 ? 96 + *len : *len;
        const Range r = prefix_range(a->ip, len128);
        return {ParsedRange{r, r.first != a->ip}, IpError::empty};
    }
    auto a = parse_ip(s);
    if (!a) return {std::nullopt, a.error};
    return {ParsedRange{Range{a->ip, a->ip}, false}, IpError::empty};
}
}  // namespace detail

// Parses "ADDR", "ADDR/LEN" or "FIRST-LAST" (spaces allowed around '-').
// A single address is a one-address range. Host bits in a prefix are cleared
// and reported through host_bits_cleared.
constexpr IpParse<ParsedRange> parse_range(std::string_view s) noexcept {
    if (auto fast = detail::parse_v4_prefix_fast(s)) return {*fast, IpError::empty};
    return detail::parse_range_general(s);
}

namespace detail {
// Decimal text of each octet value (up to 3 digits, then the length): bulk
// annotation formats millions of addresses, and divisions were most of it.
// At namespace scope so that it is built once, at compile time.
inline constexpr auto kOctetText = [] {
    std::array<std::array<char, 4>, 256> t{};
    for (unsigned v = 0; v < 256; ++v) {
        std::size_t n = 0;
        if (v >= 100) t[v][n++] = static_cast<char>('0' + v / 100);
        if (v >= 10) t[v][n++] = static_cast<char>('0' + v / 10 % 10);
        t[v][n++] = static_cast<char>('0' + v % 10);
        t[v][3] = static_cast<char>(n);
    }
    return t;
}();
}  // namespace detail

// Longest texts format_ip_to / format_range_to write (no terminating NUL):
// eight full IPv6 groups; two IPv6 ends joined by '-'.
inline constexpr std::size_t kIpTextMax = 39;
inline constexpr std::size_t kRangeTextMax = 2 * kIpTextMax + 1;

// Text form: dotted quad for IPv4-mapped addresses, RFC 5952 otherwise
// (lowercase, longest run of two or more zero groups compressed, first wins).
// Writes at most kIpTextMax bytes at `out` and returns how many; allocates
// nothing, so bulk annotation can call it per line.
constexpr std::size_t format_ip_to(char* out, Ip ip) noexcept {
    constexpr const char* kHex = "0123456789abcdef";
    char* p = out;
    if (ip.is_v4()) {
        const std::uint32_t v = ip.v4();
        for (int k = 3; k >= 0; --k) {
            // Always copy three bytes, then advance by the digit count: no
            // branch per digit (15 bytes at most are written, under kIpTextMax).
            const auto& digits = detail::kOctetText[(v >> (8 * k)) & 0xff];
            p[0] = digits[0];
            p[1] = digits[1];
            p[2] = digits[2];
            p += digits[3];
            if (k) *p++ = '.';
        }
        return static_cast<std::size_t>(p - out);
    }
    std::uint16_t g[8];
    for (int k = 0; k < 4; ++k) g[k] = static_cast<std::uint16_t>(ip.hi >> (48 - 16 * k));
    for (int k = 0; k < 4; ++k) g[4 + k] = static_cast<std::uint16_t>(ip.lo >> (48 - 16 * k));
    int best = -1, best_len = 1;
    for (int k = 0; k < 8;) {
        if (g[k] != 0) { ++k; continue; }
        int e = k;
        while (e < 8 && g[e] == 0) ++e;
        if (e - k > best_len) { best = k; best_len = e - k; }
        k = e;
    }
    for (int k = 0; k < 8; ++k) {
        if (k == best) {
            *p++ = ':';
            *p++ = ':';
            k += best_len - 1;
            continue;
        }
        if (p != out && p[-1] != ':') *p++ = ':';
        bool started = false;
        for (int s = 12; s >= 0; s -= 4) {
            const int d = (g[k] >> s) & 0xf;
            if (d || started || s == 0) { *p++ = kHex[d]; started = true; }
        }
    }
    return static_cast<std::size_t>(p - out);
}

inline std::string format_ip(Ip ip) {
    char buf[kIpTextMax];
    return std::string(buf, format_ip_to(buf, ip));
}

// The prefix length if `r` is exactly one CIDR block, in the 128-bit space:
// its size last - first + 1 is a power of two 2^k and first is aligned to it.
constexpr std::optional<unsigned> range_prefix_len(Range r) noexcept {
    // d = last - first (128-bit, no wrap since first <= last).
    const std::uint64_t dlo = r.last.lo - r.first.lo;
    const std::uint64_t dhi = r.last.hi - r.first.hi - (r.last.lo < r.first.lo ? 1 : 0);
    // d + 1 is a power of two iff d is all ones below its top set bit.
    const std::uint64_t plo = dlo + 1;
    const std::uint64_t phi = dhi + (plo == 0 ? 1 : 0);
    if ((dlo & plo) != 0 || (dhi & phi) != 0) return std::nullopt;
    if (dhi != 0 && dlo != ~0ull) return std::nullopt;  // low word must be full below a high-word bit
    if ((r.first.lo & dlo) != 0 || (r.first.hi & dhi) != 0) return std::nullopt;
    return 128u - static_cast<unsigned>(std::popcount(dlo) + std::popcount(dhi));
}

// Text form of a range: "a/len" when it is one CIDR block, a single address
// when first == last, "first-last" otherwise. IPv4 text when both ends are
// IPv4-mapped. parse_range(format_range(r)) == r. Writes at most
// kRangeTextMax bytes at `out`; allocates nothing.
constexpr std::size_t format_range_to(char* out, Range r) noexcept {
    const bool v4 = r.first.is_v4() && r.last.is_v4();
    if (r.first == r.last) return format_ip_to(out, r.first);
    std::size_t n = 0;
    if (auto len = range_prefix_len(r); len && (!v4 || *len >= 96)) {
        n = format_ip_to(out, r.first);
        unsigned bits = v4 ? *len - 96 : *len;
        out[n++] = '/';
        if (bits >= 100) out[n++] = static_cast<char>('0' + bits / 100);
        if (bits >= 10) out[n++] = static_cast<char>('0' + bits / 10 % 10);
        out[n++] = static_cast<char>('0' + bits % 10);
        return n;
    }
    // Either end may be v4-mapped: then spell both as IPv6 so the families agree.
    auto end = [&](Ip ip) {
        if (!v4 && ip.is_v4()) {
            for (const char c : {':', ':', 'f', 'f', 'f', 'f', ':'}) out[n++] = c;
        }
        n += format_ip_to(out + n, ip);
    };
    end(r.first);
    out[n++] = '-';
    end(r.last);
    return n;
}

inline std::string format_range(Range r) {
    char buf[kRangeTextMax];
    return std::string(buf, format_range_to(buf, r));
}

// Minimal list of CIDR blocks covering exactly `r`, in address order.
inline std::vector<std::pair<Ip, unsigned>> range_to_cidrs(Range r) {
    std::vector<std::pair<Ip, unsigned>> out;
    Ip cur = r.first;
    while (true) {
        // Largest block aligned at cur that does not pass r.last.
        unsigned len = 128;
        while (len > 0) {
            const Range p = prefix_range(cur, len - 1);
            if (p.first != cur || r.last < p.last) break;
            --len;
        }
        const Range block = prefix_range(cur, len);
        out.emplace_back(cur, len);
        if (block.last == r.last) break;
        cur = ip_next(block.last);
    }
    return out;
}

}  // namespace anondb
