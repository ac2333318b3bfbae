// Getting a feed's bytes, and the record of how they were got.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "anondb/error.hpp"

namespace anondb::sources {

// What a build knows about where one feed's bytes came from.
struct FetchRecord {
    std::string url;        // catalogue URL
    std::string source;     // what was read: final URL after redirects, or snapshot path
    int http_status = 0;    // 0 when not fetched over HTTP
    std::string etag;
    std::string last_modified;
    std::int64_t fetched_at = 0;  // Unix seconds, UTC
    std::uint64_t bytes = 0;
    std::array<std::uint8_t, 32> sha256{};
    bool snapshot = false;
    bool from_cache = false;
    bool stale = false;
};

struct FetchedBody {
    std::string body;
    FetchRecord record;
};

// SHA-256 of `data` (OpenSSL).
std::array<std::uint8_t, 32> sha256(std::string_view data);

// Reads a bundled snapshot file. `display_path` is what the record names
// (relative, so builds on different machines are identical); `fetched_at`
// is the snapshot's recorded fetch time.
Expected<FetchedBody> read_snapshot(const std::string& path, const std::string& display_path, const std::string& url,
                                    std::int64_t fetched_at);

}  // namespace anondb::sources
