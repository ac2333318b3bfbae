// Getting a feed's bytes, and the record of how they were got.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <ostream>
#include <span>
#include <string>
#include <vector>

#include "anondb/error.hpp"
#include "anondb/version.hpp"

namespace anondb::sources {

inline constexpr std::uint64_t kDefaultMaxBytes = 64ull << 20;  // decoded body size limit of a feed

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

// ---- live fetching (libcurl) ----------------------------------------------

struct FetchRequest {
    std::string name;  // feed name: names the cache entry and log lines
    std::string url;   // https://, http:// or file://
    std::uint64_t max_bytes = kDefaultMaxBytes;  // limit on the decoded body
};

struct FetchOptions {
    // HTTP cache in <cache_dir>/http: one body + metadata (ETag, Last-Modified, final URL,
    // fetched_at, sha256) per feed, written atomically after a complete 200.
    // A 304 answer reuses it. Empty = no cache, no conditional GET.
    std::string cache_dir;
    int max_parallel = 4;                             // connections at once
    std::chrono::seconds connect_timeout{15};
    std::chrono::seconds total_timeout{120};          // per attempt
    int max_attempts = 3;                             // network errors and 5xx only
    std::chrono::milliseconds first_backoff{1000};    // doubles per retry
    std::string user_agent = "anondb/" ANONDB_VERSION " (anonymizer feed compiler; nightly fetch)";
    bool progress = false;          // one updating line (for a terminal) instead of log lines
    std::ostream* log = nullptr;    // where progress / log lines go; nullptr = silent
};

// One feed's fetch: `ok` with the (decoded) body and its record, or the
// reason it failed. A failed fetch still fills record.url, http_status and
// final URL as far as they got.
struct FetchOutcome {
    std::string name;
    bool ok = false;
    FetchedBody fetched;
    std::string error;  // e.g. "HTTP 404", "timeout after 120 s", "body over 67108864 bytes"
    int attempts = 0;
};

// Fetches every request concurrently (curl multi, at most max_parallel at
// once). Bodies that are gzip or zstd (by Content-Encoding, by magic bytes
// or a .gz/.zst URL) are decoded; the size limit applies to the decoded
// body. Results are in request order. Never throws.
std::vector<FetchOutcome> fetch_all(std::span<const FetchRequest> requests, const FetchOptions& options);

// SHA-256 of `data` (OpenSSL).
std::array<std::uint8_t, 32> sha256(std::string_view data);

// Reads a bundled snapshot file. `display_path` is what the record names
// (relative, so builds on different machines are identical); `fetched_at`
// is the snapshot's recorded fetch time. A gzip, zstd or xz file is decoded
// as a fetched body is (by its magic bytes; a path ending in .gz, .zst or
// .xz must hold one), under the same `max_bytes` limit, and the record's
// size and SHA-256 describe the decoded bytes, as for a live fetch: the
// same content has the same hash whichever way it came. The file is read
// through the decoder 1 MiB at a time, so a file of any size, or one that
// expands past the limit, costs at most max_bytes plus that chunk.
Expected<FetchedBody> read_snapshot(const std::string& path, const std::string& display_path, const std::string& url,
                                    std::int64_t fetched_at, std::uint64_t max_bytes = kDefaultMaxBytes);

}  // namespace anondb::sources
