// Category flags: what kind of anonymizer a range belongs to.
//
// The values are part of the file format (docs/FORMAT.md, "Category flags"):
// never renumber, only add. "anonymous" is derived from these bits and never
// stored on its own.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace anondb {

enum Category : std::uint32_t {
    kTorExit = 1u << 0,
    kVpn = 1u << 1,
    kProxy = 1u << 2,
    kRelay = 1u << 3,
    kHosting = 1u << 4,
    kResidentialProxy = 1u << 5,
};

inline constexpr std::uint32_t kAllCategories =
    kTorExit | kVpn | kProxy | kRelay | kHosting | kResidentialProxy;

struct CategoryName {
    Category bit;
    std::string_view name;
};

// In bit order; the names are those used in feeds.yaml, JSON output and docs.
inline constexpr CategoryName kCategoryNames[] = {
    {kTorExit, "tor_exit"}, {kVpn, "vpn"},         {kProxy, "proxy"},
    {kRelay, "relay"},      {kHosting, "hosting"}, {kResidentialProxy, "residential_proxy"},
};

constexpr std::optional<Category> category_from_name(std::string_view name) noexcept {
    for (const auto& c : kCategoryNames)
        if (c.name == name) return c.bit;
    return std::nullopt;
}

// "Anonymous" means the address hides its user: every category except plain
// hosting counts. Hosting alone is a datacenter, not proof of anonymisation.
constexpr bool is_anonymous(std::uint32_t flags) noexcept {
    return (flags & (kTorExit | kVpn | kProxy | kRelay | kResidentialProxy)) != 0;
}

// "tor_exit,vpn" style list of the set bits, in bit order; "" for none.
inline std::string category_list(std::uint32_t flags, char sep = ',') {
    std::string out;
    for (const auto& c : kCategoryNames) {
        if (!(flags & c.bit)) continue;
        if (!out.empty()) out += sep;
        out += c.name;
    }
    return out;
}

}  // namespace anondb
