#include "anondb/sources/fetch.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <openssl/evp.h>

#include "decode.hpp"

namespace anondb::sources {

std::array<std::uint8_t, 32> sha256(std::string_view data) {
    std::array<std::uint8_t, 32> out{};
    unsigned int n = 0;
    EVP_Digest(data.data(), data.size(), out.data(), &n, EVP_sha256(), nullptr);
    return out;
}

Expected<FetchedBody> read_snapshot(const std::string& path, const std::string& display_path, const std::string& url,
                                    std::int64_t fetched_at, std::uint64_t max_bytes) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return make_error(Status::io, path + ": " + std::strerror(errno));
    std::ostringstream ss;
    ss << in.rdbuf();
    if (in.bad()) return make_error(Status::io, path + ": read failed");
    detail::BodyDecoder decoder(max_bytes, detail::compression_from_url(path), false);
    if (!decoder.feed(ss.view()) || !decoder.finish()) return make_error(Status::invalid_argument, path + ": " + decoder.error());
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
