#include "anondb/sources/fetch.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include <openssl/evp.h>

#include "decode.hpp"

namespace anondb::sources {

namespace {
constexpr std::size_t kSnapshotChunk = std::size_t{1} << 20;  // bytes of the file read at a time

struct FileCloser {
    void operator()(std::FILE* f) const noexcept { std::fclose(f); }
};
}  // namespace

std::array<std::uint8_t, 32> sha256(std::string_view data) {
    std::array<std::uint8_t, 32> out{};
    unsigned int n = 0;
    EVP_Digest(data.data(), data.size(), out.data(), &n, EVP_sha256(), nullptr);
    return out;
}

Expected<FetchedBody> read_snapshot(const std::string& path, const std::string& display_path, const std::string& url,
                                    std::int64_t fetched_at, std::uint64_t max_bytes) {
    std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
    if (!file) return make_error(Status::io, path + ": " + std::strerror(errno));
    // The file goes through the decoder a chunk at a time, as a download
    // does: what is held is the decoded body (at most max_bytes) and one
    // chunk, whatever the size of the file or what it expands to.
    detail::BodyDecoder decoder(max_bytes, detail::compression_from_url(path), false);
    std::vector<char> chunk(kSnapshotChunk);
    while (true) {
        const std::size_t n = std::fread(chunk.data(), 1, chunk.size(), file.get());
        if (n > 0 && !decoder.feed(std::string_view(chunk.data(), n)))
            return make_error(Status::invalid_argument, path + ": " + decoder.error());
        if (n < chunk.size()) break;
    }
    if (std::ferror(file.get())) return make_error(Status::io, path + ": read failed");
    if (!decoder.finish()) return make_error(Status::invalid_argument, path + ": " + decoder.error());
    FetchedBody out;
    out.body = decoder.take();
    out.record.url = url;
    out.record.source = display_path;
    out.record.fetched_at = fetched_at;
    out.record.bytes = out.body.size();
    out.record.sha256 = sha256(out.body);
    out.record.snapshot = true;
    return out;
}

}  // namespace anondb::sources
