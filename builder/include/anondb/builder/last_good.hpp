// The last copy of each feed that passed its checks, kept so that a feed
// failing tonight is published from its last good copy (marked stale)
// instead of being dropped.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "anondb/reader.hpp"  // Error, Expected, Ok
#include "anondb/sources/fetch.hpp"

namespace anondb::builder {

struct GoodCopy {
    sources::FetchedBody fetched;  // body and the record of the fetch that got it
    std::uint64_t accepted = 0;    // entries it yielded after guards
};

// Files `<dir>/<feed>.body` and `<dir>/<feed>.json`, each replaced atomically.
class LastGoodStore {
public:
    explicit LastGoodStore(std::string dir) : dir_(std::move(dir)) {}

    // The stored copy, or nullopt when there is none. A copy whose body no
    // longer matches its recorded sha256 is an error, not a copy.
    Expected<std::optional<GoodCopy>> load(const std::string& feed) const;

    // Keeps `fetched` (which yielded `accepted` entries) as the feed's last good copy.
    Expected<Ok> save(const std::string& feed, const sources::FetchedBody& fetched, std::uint64_t accepted) const;

private:
    std::string dir_;
};

}  // namespace anondb::builder
