// Streaming decoding of a fetched body that is itself gzip, zstd or xz,
// under a size limit. Internal to anondb_sources (used by fetch_http.cpp).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace anondb::sources::detail {

enum class Compression { none, gzip, zstd, xz };

const char* compression_name(Compression c) noexcept;

// The compression a URL's path names: ".gz", ".zst" or ".xz" at the end of
// the path (query and fragment ignored, case-insensitive); none otherwise.
Compression compression_from_url(std::string_view url) noexcept;

// Decodes a body fed to it piece by piece. The format comes from the first
// bytes: 1f 8b is gzip (several members allowed), 28 b5 2f fd is zstd
// (several frames allowed), fd 37 7a 58 5a 00 is xz (several streams and
// stream padding allowed), anything else is taken as it is. When the URL
// names a compression (`hinted`) the body must carry its magic bytes, unless
// `transport_decoded` says an HTTP Content-Encoding was already removed (a
// server that sends a .gz file with "Content-Encoding: gzip").
//
// The decoded body never grows past `max_bytes`: decoding stops with the
// error "body over N bytes" as soon as the limit is passed, so a
// decompression bomb costs at most max_bytes plus one 64 KiB chunk.
class BodyDecoder {
public:
    BodyDecoder(std::uint64_t max_bytes, Compression hinted, bool transport_decoded);
    ~BodyDecoder();
    BodyDecoder(const BodyDecoder&) = delete;
    BodyDecoder& operator=(const BodyDecoder&) = delete;

    // The next bytes of the body. false once decoding failed (see error()).
    bool feed(std::string_view data);
    // The body has ended. false when it is incomplete or invalid, e.g.
    // "gzip: truncated stream".
    bool finish();

    const std::string& error() const noexcept { return error_; }
    Compression compression() const noexcept { return kind_; }
    std::uint64_t size() const noexcept { return out_.size(); }
    // The decoded body (after finish() returned true).
    std::string take() noexcept { return std::move(out_); }

private:
    struct Gzip;
    struct Zstd;
    struct Xz;

    bool detect(bool at_end);
    bool process(std::string_view data);
    bool append(const char* p, std::size_t n);
    bool fail(std::string message);
    bool fail_xz(int code);  // code: an lzma_ret (lzma.h stays out of this header)

    std::uint64_t max_bytes_;
    Compression hinted_;
    bool transport_decoded_;
    bool detected_ = false;
    bool failed_ = false;
    Compression kind_ = Compression::none;
    std::string head_;  // first bytes, until the format is known
    std::string out_;
    std::string error_;
    std::unique_ptr<Gzip> gzip_;
    std::unique_ptr<Zstd> zstd_;
    std::unique_ptr<Xz> xz_;
};

}  // namespace anondb::sources::detail
