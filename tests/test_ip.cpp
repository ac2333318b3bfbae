// Tests of the address model (reader/include/anondb/ip.hpp): strict parsing,
// canonical text, and round-trip / coverage properties on random input.
#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>
#include <random>
#include <string>
#include <vector>

#include "anondb/ip.hpp"
#include "test_util.hpp"

using namespace anondb;
using namespace anondb::test;

namespace {

std::mt19937_64& rng() {
    static std::mt19937_64 r(20240601);
    return r;
}
std::uint64_t rand_below(std::uint64_t n) { return rng()() % n; }

// A random address: IPv4-mapped, fully random IPv6, or IPv6 with runs of
// zero groups (so "::" compression has something to do).
Ip random_ip() {
    switch (rand_below(3)) {
        case 0: return Ip::from_v4(static_cast<std::uint32_t>(rng()()));
        case 1: return Ip{rng()(), rng()()};
        default: {
            std::uint64_t w[2] = {rng()(), rng()()};
            for (auto& x : w)
                for (int g = 0; g < 4; ++g)
                    if (rand_below(2)) x &= ~(0xffffull << (16 * g));
            return Ip{w[0], w[1]};
        }
    }
}

IpError parse_error(std::string_view s) {
    auto r = parse_range(s);
    REQUIRE_FALSE(r);
    return r.error;
}

}  // namespace

namespace doctest {
template <>
struct StringMaker<Ip> {
    static String convert(const Ip& ip) { return format_ip(ip).c_str(); }
};
template <>
struct StringMaker<Range> {
    static String convert(const Range& r) { return (format_ip(r.first) + " - " + format_ip(r.last)).c_str(); }
};
}  // namespace doctest

// The parser is usable at compile time.
static_assert(parse_ip("1.2.3.4").value->ip == Ip::from_v4(0x01020304));
static_assert(parse_range("10.0.0.0/8").value->range.last == Ip::from_v4(0x0affffff));
static_assert(!parse_ip("010.0.0.1"));
// Constant evaluation also rejects undefined behaviour, e.g. writing past
// the eight groups.
static_assert(!parse_ip("1:2:3:4:5:6:7:1.2.3.4"));
static_assert(!parse_ip("1:2:3:4:5:6:7:8:9"));
static_assert(parse_ip("1:2:3:4:5:6:1.2.3.4"));

TEST_CASE("ip: strict IPv4 rejects junk and ambiguous forms") {
    struct Bad {
        const char* text;
        IpError error;
    };
    const Bad bad[] = {
        {"", IpError::empty},
        {"   ", IpError::empty},
        {"1.2.3", IpError::bad_ipv4},
        {"1.2.3.4.5", IpError::bad_ipv4},
        {"1..2.3", IpError::bad_ipv4},
        {"1.2.3.", IpError::bad_ipv4},
        {".1.2.3", IpError::bad_ipv4},
        {"256.1.1.1", IpError::octet_range},
        {"1.2.3.300", IpError::octet_range},
        {"1.2.3.1000", IpError::octet_range},
        {"010.1.1.1", IpError::octet_leading_zero},
        {"1.2.3.04", IpError::octet_leading_zero},
        {"1.00.3.4", IpError::octet_leading_zero},
        {"0x1.2.3.4", IpError::junk},
        {"+1.2.3.4", IpError::junk},
        {"1.2.3.4x", IpError::junk},
        {"1. 2.3.4", IpError::junk},
        {"1.2.3.4 5", IpError::junk},
        {"abc", IpError::junk},
        {"1.2.3.4/33", IpError::bad_prefix_len},
        {"1.2.3.4/08", IpError::bad_prefix_len},
        {"1.2.3.4/", IpError::bad_prefix_len},
        {"1.2.3.4/1000", IpError::bad_prefix_len},
        {"1.2.3.4/2a", IpError::bad_prefix_len},
        {"1.2.3.4/ 24", IpError::bad_prefix_len},
        {"1.2.3.4/24/8", IpError::bad_prefix_len},
        {"/24", IpError::empty},
        {"1.2.3.4-::1", IpError::mixed_families},
        {"1.2.3.5-1.2.3.4", IpError::reversed_range},
        {"1.2.3.4-", IpError::empty},
        {"-1.2.3.4", IpError::empty},
    };
    for (const Bad& b : bad) {
        CAPTURE(b.text);
        CHECK(parse_error(b.text) == b.error);
    }
    // "/-1" is caught as a malformed range ("1.2.3.4/" before the dash), not as
    // a prefix length: the exact reason matters less than the rejection.
    CHECK_FALSE(parse_range("1.2.3.4/-1"));
    CHECK_FALSE(parse_range("1.2.3.4 /24"));
    CHECK_FALSE(parse_ip(" 1.2.3.4"));  // parse_ip does not trim; parse_range does
}

TEST_CASE("ip: strict IPv6 rejects junk and malformed forms") {
    const char* bad[] = {
        ":",
        ":::",
        "1:::2",
        "1::2::3",
        "::1::",
        "1:2:3:4:5:6:7:8:9",
        "1:2:3:4:5:6:7:8::",
        "::1:2:3:4:5:6:7:8",
        "1:2:3:4:5:6:7",
        "1:2:3:4:5:6:7:",
        "1:2:3:4:5:6:7:8:",
        ":1:2:3:4:5:6:7",
        "12345::",
        "::g",
        "fe80::1%eth0",
        "fe80::1%1",
        "[::1]",
        ":: 1",
        "1:2:3:4:5:6:7:1.2.3.4",
        "::ffff:1.2.3",
        "::ffff:1.2.3.256",
        "::ffff:01.2.3.4",
        "::1.2.3.4:5",
        "1.2.3.4::",
        "::/129",
        "::/0128",
        "::-1.2.3.4",
    };
    for (const char* s : bad) {
        CAPTURE(s);
        CHECK_FALSE(parse_range(s));
        if (std::string_view(s).find_first_of("/-") == std::string_view::npos) CHECK_FALSE(parse_ip(s));
    }
    CHECK_FALSE(parse_ip("::1 "));  // parse_ip does not trim; parse_range does
    CHECK(parse_error("fe80::1%eth0") == IpError::junk);
    CHECK(parse_error("::/129") == IpError::bad_prefix_len);
    CHECK(parse_error("1::2::3") == IpError::bad_ipv6);
}

TEST_CASE("ip: accepted forms") {
    CHECK(ip_of("0.0.0.0") == kV4First);
    CHECK(ip_of("255.255.255.255") == kV4Last);
    CHECK(ip_of("::") == kIpMin);
    CHECK(ip_of("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff") == kIpMax);
    CHECK(ip_of("::1") == Ip{0, 1});
    CHECK(ip_of("1::") == Ip{0x0001000000000000ull, 0});
    CHECK(ip_of("1:2:3:4:5:6:7:8") == Ip{0x0001000200030004ull, 0x0005000600070008ull});
    CHECK(ip_of("1:2:3:4:5:6:7::") == Ip{0x0001000200030004ull, 0x0005000600070000ull});
    CHECK(ip_of("::2:3:4:5:6:7:8") == Ip{0x0000000200030004ull, 0x0005000600070008ull});
    CHECK(ip_of("FE80::A") == ip_of("fe80::a"));
    CHECK(ip_of("0000:0000::0001") == Ip{0, 1});
    CHECK(ip_of("1:2:3:4:5:6:1.2.3.4") == Ip{0x0001000200030004ull, 0x0005000601020304ull});
    CHECK(ip_of("::1.2.3.4") == Ip{0, 0x01020304});

    CHECK(range_of(" 10.0.0.0/8\t") == Range{Ip::from_v4(0x0a000000), Ip::from_v4(0x0affffff)});
    CHECK(range_of("10.0.0.0 - 10.0.0.255") == range_of("10.0.0.0/24"));
    CHECK(range_of("10.0.0.7") == Range{Ip::from_v4(0x0a000007), Ip::from_v4(0x0a000007)});
    CHECK(range_of("1.2.3.4-1.2.3.4") == range_of("1.2.3.4/32"));
    CHECK(range_of("::/0") == Range{kIpMin, kIpMax});
    CHECK(range_of("0.0.0.0/0") == Range{kV4First, kV4Last});
    CHECK(range_of("::/128") == Range{kIpMin, kIpMin});
    CHECK(range_of("2001:db8::/32") == Range{Ip{0x20010db800000000ull, 0}, Ip{0x20010db8ffffffffull, ~0ull}});
}

TEST_CASE("ip: host bits are cleared and reported") {
    auto a = parse_range("10.0.0.1/8");
    REQUIRE(a);
    CHECK(a->host_bits_cleared);
    CHECK(a->range == range_of("10.0.0.0/8"));

    CHECK_FALSE(parse_range("10.0.0.0/8")->host_bits_cleared);
    CHECK_FALSE(parse_range("1.2.3.4/32")->host_bits_cleared);
    CHECK(parse_range("1.2.3.4/0")->host_bits_cleared);
    CHECK(parse_range("::1/0")->host_bits_cleared);
    CHECK(parse_range("::1/0")->range == Range{kIpMin, kIpMax});
    CHECK_FALSE(parse_range("2001:db8::/32")->host_bits_cleared);
    CHECK(parse_range("2001:db8::1/64")->host_bits_cleared);
    CHECK_FALSE(parse_range("1.2.3.4-1.2.3.9")->host_bits_cleared);
    CHECK_FALSE(parse_range("1.2.3.4")->host_bits_cleared);
}

TEST_CASE("ip: IPv4-mapped IPv6 folds onto IPv4") {
    const Ip v4 = Ip::from_v4(0x01020304);
    CHECK(ip_of("::ffff:1.2.3.4") == v4);
    CHECK(ip_of("::FFFF:0102:0304") == v4);
    CHECK(ip_of("0:0:0:0:0:ffff:1.2.3.4") == v4);
    CHECK(v4.is_v4());
    CHECK_FALSE(Ip{0, 0x0000fffe01020304ull}.is_v4());
    CHECK_FALSE(Ip{1, 0x0000ffff01020304ull}.is_v4());
    CHECK(format_ip(ip_of("::ffff:1.2.3.4")) == "1.2.3.4");
    CHECK(format_ip(ip_of("::ffff:0.0.0.0")) == "0.0.0.0");

    // The written family decides the prefix-length scale.
    CHECK(parse_ip("1.2.3.4")->written_v4);
    CHECK_FALSE(parse_ip("::ffff:1.2.3.4")->written_v4);
    CHECK(range_of("::ffff:10.0.0.0/104") == range_of("10.0.0.0/8"));
    CHECK(range_of("::ffff:0:0/96") == range_of("0.0.0.0/0"));
    CHECK(format_range(range_of("::ffff:10.0.0.0/104")) == "10.0.0.0/8");
    CHECK(format_range(range_of("::ffff:1.2.3.4-::ffff:1.2.3.9")) == "1.2.3.4-1.2.3.9");
    // Families are compared as written: a dotted quad and IPv6 text do not mix.
    CHECK(parse_error("::ffff:1.2.3.4-1.2.3.5") == IpError::mixed_families);
}

TEST_CASE("ip: canonical text (RFC 5952)") {
    CHECK(format_ip(kIpMin) == "::");
    CHECK(format_ip(Ip{0, 1}) == "::1");
    CHECK(format_ip(ip_of("1::")) == "1::");
    CHECK(format_ip(kIpMax) == "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
    CHECK(format_ip(ip_of("2001:DB8:0:0:0:0:0:1")) == "2001:db8::1");
    CHECK(format_ip(ip_of("2001:db8:0:1:1:1:1:1")) == "2001:db8:0:1:1:1:1:1");  // one zero group stays
    CHECK(format_ip(ip_of("1:0:0:2:0:0:0:3")) == "1:0:0:2::3");                // longest run
    CHECK(format_ip(ip_of("1:0:0:2:0:0:3:4")) == "1::2:0:0:3:4");              // first of equal runs
    CHECK(format_ip(ip_of("0:0:1:0:0:0:0:0")) == "0:0:1::");
    CHECK(format_ip(ip_of("0001:00a0:0:0:0:0:0:0b00")) == "1:a0::b00");
    CHECK(format_ip(ip_of("::ffff:0:1:2")) == "::ffff:0:1:2");  // not in the mapped block
    CHECK(format_ip(Ip::from_v4(0xc0000201)) == "192.0.2.1");

    CHECK(format_range(range_of("10.0.0.0/8")) == "10.0.0.0/8");
    CHECK(format_range(range_of("0.0.0.0/0")) == "0.0.0.0/0");
    CHECK(format_range(range_of("::/0")) == "::/0");
    CHECK(format_range(range_of("::ffff:0:0/95")) == "::fffe:0:0/95");
    CHECK(format_range(range_of("1.2.3.4")) == "1.2.3.4");
    CHECK(format_range(range_of("1.2.3.4-1.2.3.6")) == "1.2.3.4-1.2.3.6");
    CHECK(format_range(Range{ip_of("::fffe:ffff:ffff"), Ip::from_v4(5)}) == "::fffe:ffff:ffff-::ffff:0.0.0.5");
    CHECK(format_range(Range{Ip::from_v4(5), ip_of("::1:0:0:0")}) == "::ffff:0.0.0.5-::1:0:0:0");
}

TEST_CASE("ip: next, prev and masks at the edges") {
    CHECK(ip_next(Ip{0, ~0ull}) == Ip{1, 0});
    CHECK(ip_prev(Ip{1, 0}) == Ip{0, ~0ull});
    CHECK(ip_next(kIpMax) == kIpMin);  // documented wrap-around
    CHECK(ip_prev(kIpMin) == kIpMax);
    CHECK(prefix_mask(0) == Ip{0, 0});
    CHECK(prefix_mask(64) == Ip{~0ull, 0});
    CHECK(prefix_mask(65) == Ip{~0ull, 1ull << 63});
    CHECK(prefix_mask(128) == kIpMax);
    CHECK(range_prefix_len(Range{kIpMin, kIpMax}) == 0u);
    CHECK(range_prefix_len(Range{kIpMax, kIpMax}) == 128u);
    CHECK(range_prefix_len(Range{kIpMin, Ip{0, 2}}) == std::nullopt);
    CHECK(range_prefix_len(Range{Ip{0, 1}, Ip{0, 2}}) == std::nullopt);
}

TEST_CASE("ip: random addresses round-trip through text") {
    for (int i = 0; i < 20000; ++i) {
        const Ip ip = random_ip();
        const std::string text = format_ip(ip);
        CAPTURE(text);
        auto back = parse_ip(text);
        REQUIRE(back);
        CHECK(back->ip == ip);
        CHECK(back->written_v4 == ip.is_v4());
        // Canonical: lowercase, at most one "::", no leading zeros in a group.
        CHECK(text.find_first_of("ABCDEF") == std::string::npos);
        const auto dc = text.find("::");
        CHECK((dc == std::string::npos || text.find("::", dc + 1) == std::string::npos));
        if (!ip.is_v4()) {
            for (std::size_t k = 0; k + 1 < text.size(); ++k) {
                const bool group_start = k == 0 || text[k - 1] == ':';
                CHECK_FALSE((group_start && text[k] == '0' && std::isxdigit(static_cast<unsigned char>(text[k + 1]))));
            }
        }
        // Any case and the bytes form give the same address.
        std::string upper = text;
        std::ranges::transform(upper, upper.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
        CHECK(parse_ip(upper)->ip == ip);
        CHECK(Ip::from_bytes(ip.to_bytes()) == ip);
    }
}

TEST_CASE("ip: random prefixes and ranges round-trip through text") {
    for (int i = 0; i < 20000; ++i) {
        const Ip a = random_ip();
        const unsigned len = a.is_v4() ? 96 + static_cast<unsigned>(rand_below(33)) : static_cast<unsigned>(rand_below(129));
        const Range p = prefix_range(a, len);
        const std::string ptext = format_range(p);
        CAPTURE(ptext);
        auto pback = parse_range(ptext);
        REQUIRE(pback);
        CHECK(pback->range == p);
        CHECK_FALSE(pback->host_bits_cleared);
        CHECK(range_prefix_len(p) == len);
        if (len < 128) CHECK(ptext.find('/') != std::string::npos);

        // The prefix as written with host bits: same range, flagged.
        const std::string written = format_ip(a) + "/" + std::to_string(a.is_v4() ? len - 96 : len);
        auto w = parse_range(written);
        REQUIRE(w);
        CHECK(w->range == p);
        CHECK(w->host_bits_cleared == (a != p.first));

        // Arbitrary ranges, including mixed-family ends.
        Ip x = random_ip(), y = random_ip();
        if (y < x) std::swap(x, y);
        const Range r{x, y};
        const std::string rtext = format_range(r);
        CAPTURE(rtext);
        auto rback = parse_range(rtext);
        REQUIRE(rback);
        CHECK(rback->range == r);
    }
}

TEST_CASE("ip: range_prefix_len agrees with a brute-force search, near every prefix") {
    // Oracle: the one length whose prefix at `first` is exactly the range.
    auto oracle = [](Range r) -> std::optional<unsigned> {
        for (unsigned len = 0; len <= 128; ++len)
            if (prefix_range(r.first, len) == r) return len;
        return std::nullopt;
    };
    for (int i = 0; i < 20000; ++i) {
        const Range p = prefix_range(random_ip(), static_cast<unsigned>(rand_below(129)));
        // The prefix itself, and ranges one address off at either end.
        for (const Range r : {p, Range{p.first, ip_next(p.last)}, Range{p.first, ip_prev(p.last)},
                              Range{ip_prev(p.first), p.last}, Range{ip_next(p.first), p.last}}) {
            if (r.last < r.first) continue;
            CAPTURE(r);
            CHECK(range_prefix_len(r) == oracle(r));
        }
        Ip x = random_ip(), y = random_ip();
        if (y < x) std::swap(x, y);
        CHECK(range_prefix_len(Range{x, y}) == oracle(Range{x, y}));
    }
}

// The buffer formatters never pass their documented maximum (format_ip and
// format_range wrap them, so the round-trip cases above check their text).
static_assert([] {
    char buf[kRangeTextMax];
    const Range widest{Ip{0x1111222233334444ull, 0x5555666677778889ull}, Ip{0xffffeeeeddddccccull, 0xbbbbaaaa99998888ull}};
    return format_range_to(buf, widest) == kRangeTextMax && format_ip_to(buf, widest.first) == kIpTextMax;
}());

TEST_CASE("ip: buffer formatters stay within their maximum and round-trip") {
    for (int i = 0; i < 20000; ++i) {
        const Ip ip = random_ip();
        char buf[kRangeTextMax];
        const std::size_t n = format_ip_to(buf, ip);
        REQUIRE(n <= kIpTextMax);
        CHECK(parse_ip(std::string_view(buf, n))->ip == ip);
        Ip y = random_ip();
        const Range r = ip < y ? Range{ip, y} : Range{y, ip};
        const std::size_t m = format_range_to(buf, r);
        REQUIRE(m <= kRangeTextMax);
        CHECK(parse_range(std::string_view(buf, m))->range == r);
    }
}

namespace {

// Fewest aligned blocks tiling [first, last], by dynamic programming over the
// window: independent of range_to_cidrs' greedy choice.
int min_blocks(U128 first, U128 last) {
    const std::size_t w = static_cast<std::size_t>(last - first) + 1;
    std::vector<int> best(w + 1, 0);  // best[k]: fewest blocks for [first + k, last]
    for (std::size_t k = w; k-- > 0;) {
        const U128 at = first + k;
        int b = 1 << 30;
        for (unsigned bits = 0; bits <= 127; ++bits) {
            const U128 size = U128{1} << bits;
            if (at & (size - 1)) break;        // not aligned for this size
            if (size > w - k) break;           // passes last
            b = std::min(b, 1 + best[k + static_cast<std::size_t>(size)]);
        }
        best[k] = b;
    }
    return best[0];
}

}  // namespace

TEST_CASE("ip: range_to_cidrs covers exactly, with the fewest blocks") {
    // Small windows at random spots and at the edges of the space and of the
    // IPv4 block, so the DP oracle can enumerate them.
    const U128 top = to_u128(kIpMax);
    const U128 spots[] = {0, top - 600, to_u128(kV4First), to_u128(kV4Last) - 600, U128{1} << 64, (U128{1} << 64) - 300};
    for (int i = 0; i < 3000; ++i) {
        const U128 base = i < 600 ? spots[i % 6] : to_u128(random_ip()) & ~U128{0xff};
        const U128 w = std::min<U128>(600, top - base);
        const U128 f = base + rand_below(static_cast<std::uint64_t>(w) + 1);
        const U128 l = f + rand_below(static_cast<std::uint64_t>(std::min<U128>(400, top - f)) + 1);
        const Range r{to_ip(f), to_ip(l)};
        CAPTURE(format_range(r));
        const auto blocks = range_to_cidrs(r);
        REQUIRE_FALSE(blocks.empty());
        U128 cur = f;
        for (const auto& [ip, len] : blocks) {
            REQUIRE(len <= 128);
            CHECK(to_u128(ip) == cur);
            const Range b = prefix_range(ip, len);
            CHECK(b.first == ip);  // aligned: the block starts at ip
            cur = to_u128(b.last) + 1;
        }
        CHECK(cur - 1 == l);  // ends exactly at last (modulo 2^128: cur wraps to 0 at the top)
        CHECK(static_cast<int>(blocks.size()) == min_blocks(f, l));
    }

    // Wide ranges, where the answer is known.
    CHECK(range_to_cidrs(Range{kIpMin, kIpMax}).size() == 1);
    CHECK(range_to_cidrs(Range{Ip{0, 1}, kIpMax}).size() == 128);
    CHECK(range_to_cidrs(Range{kIpMin, ip_prev(kIpMax)}).size() == 128);
    CHECK(range_to_cidrs(range_of("0.0.0.1-255.255.255.254")).size() == 62);
    const auto v4all = range_to_cidrs(range_of("0.0.0.0/0"));
    REQUIRE(v4all.size() == 1);
    CHECK(v4all[0] == std::pair{kV4First, 96u});
    CHECK(range_to_cidrs(Range{kIpMax, kIpMax}) == std::vector{std::pair{kIpMax, 128u}});
}

TEST_CASE("ip: parse_range's IPv4 fast path agrees with the general parser on every input") {
    // Strings near the fast path's edges: valid prefixes and addresses, then
    // the same with a character changed, inserted or removed, and strings of
    // the characters addresses are made of. Both must give the same range,
    // the same host-bit report, or the same error.
    std::mt19937_64 r(0xfa57);
    const std::string alphabet = "0123456789./-: \t\x01" "a";
    auto valid = [&] {
        const auto v = static_cast<std::uint32_t>(r());
        std::string s = std::to_string(v >> 24) + "." + std::to_string(v >> 16 & 255) + "." +
                        std::to_string(v >> 8 & 255) + "." + std::to_string(v & 255);
        if (r() % 4 != 0) s += "/" + std::to_string(r() % 36);
        return s;
    };
    std::size_t fast_taken = 0;
    for (int i = 0; i < 400000; ++i) {
        std::string s = valid();
        switch (r() % 5) {
            case 0: break;
            case 1: s[r() % s.size()] = alphabet[r() % alphabet.size()]; break;
            case 2: s.insert(s.begin() + static_cast<std::ptrdiff_t>(r() % (s.size() + 1)), alphabet[r() % alphabet.size()]); break;
            case 3: s.erase(s.begin() + static_cast<std::ptrdiff_t>(r() % s.size())); break;
            default:
                s.clear();
                for (std::size_t n = r() % 20; n > 0; --n) s += alphabet[r() % alphabet.size()];
        }
        CAPTURE(s);
        const auto got = parse_range(s);
        const auto want = detail::parse_range_general(s);
        fast_taken += detail::parse_v4_prefix_fast(s).has_value();
        REQUIRE(static_cast<bool>(got) == static_cast<bool>(want));
        if (got) {
            CHECK(got->range == want->range);
            CHECK(got->host_bits_cleared == want->host_bits_cleared);
        } else {
            CHECK(got.error == want.error);
        }
    }
    CHECK(fast_taken > 100000);  // the fast path was exercised, not bypassed
}
