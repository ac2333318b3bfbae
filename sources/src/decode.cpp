#include "decode.hpp"

#include <array>
#include <cstring>

#include <lzma.h>
#include <zlib.h>
#include <zstd.h>

namespace anondb::sources::detail {

namespace {

constexpr std::size_t kChunk = 64 * 1024;  // decoded bytes per step

bool ends_with_nocase(std::string_view s, std::string_view suffix) {
    if (s.size() < suffix.size()) return false;
    s.remove_prefix(s.size() - suffix.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        if (c != suffix[i]) return false;
    }
    return true;
}

bool starts_with_bytes(std::string_view s, std::string_view magic) {
    return s.size() >= magic.size() && std::memcmp(s.data(), magic.data(), magic.size()) == 0;
}

constexpr std::string_view kGzipMagic{"\x1f\x8b", 2};
constexpr std::string_view kZstdMagic{"\x28\xb5\x2f\xfd", 4};
constexpr std::string_view kXzMagic{"\xfd" "7zXZ\0", 6};
constexpr std::size_t kMagicBytes = kXzMagic.size();  // the longest magic: bytes needed to tell

// zstd windows and xz dictionaries above 128 MiB would need that much memory
// to decode: refuse them.
constexpr int kZstdWindowLogMax = 27;
constexpr std::uint64_t kXzMemLimit = std::uint64_t{128} << 20;

constexpr const char* kBadXzPadding = "stream padding not a multiple of 4 bytes";

// Why liblzma stopped, for "xz: corrupt stream (...)".
const char* lzma_problem(lzma_ret r) noexcept {
    switch (r) {
        case LZMA_DATA_ERROR: return "compressed data is corrupt";
        case LZMA_OPTIONS_ERROR: return "unsupported options";
        case LZMA_UNSUPPORTED_CHECK: return "unsupported integrity check";
        case LZMA_MEM_ERROR: return "out of memory";
        case LZMA_MEMLIMIT_ERROR: return "needs more than 128 MiB of memory";
        case LZMA_BUF_ERROR: return "decoder made no progress";
        default: return "lzma_code error";
    }
}

}  // namespace

const char* compression_name(Compression c) noexcept {
    switch (c) {
        case Compression::none: return "none";
        case Compression::gzip: return "gzip";
        case Compression::zstd: return "zstd";
        case Compression::xz: return "xz";
    }
    return "?";
}

Compression compression_from_url(std::string_view url) noexcept {
    const auto cut = url.find_first_of("?#");
    if (cut != std::string_view::npos) url = url.substr(0, cut);
    if (ends_with_nocase(url, ".gz")) return Compression::gzip;
    if (ends_with_nocase(url, ".zst")) return Compression::zstd;
    if (ends_with_nocase(url, ".xz")) return Compression::xz;
    return Compression::none;
}

struct BodyDecoder::Gzip {
    z_stream zs{};
    bool ready = false;
    bool member_ended = false;  // the last member seen so far is complete
    int members = 0;
    ~Gzip() {
        if (ready) inflateEnd(&zs);
    }
};

struct BodyDecoder::Zstd {
    ZSTD_DCtx* dctx = nullptr;
    std::size_t last = 1;  // last ZSTD_decompressStream result; 0 = frame complete
    ~Zstd() { ZSTD_freeDCtx(dctx); }
};

// One stream at a time (not LZMA_CONCATENATED), like gzip members, so that
// bytes after the last stream can be told from a damaged stream.
struct BodyDecoder::Xz {
    lzma_stream strm = LZMA_STREAM_INIT;
    bool ready = false;
    bool stream_ended = false;  // the last stream seen so far is complete
    std::uint64_t padding = 0;  // zero bytes after it: stream padding
    ~Xz() {
        if (ready) lzma_end(&strm);
    }
    // Starts decoding a stream (liblzma reuses the last stream's memory).
    bool start() {
        if (lzma_stream_decoder(&strm, kXzMemLimit, 0) != LZMA_OK) return false;
        ready = true;
        stream_ended = false;
        padding = 0;
        return true;
    }
};

BodyDecoder::BodyDecoder(std::uint64_t max_bytes, Compression hinted, bool transport_decoded)
    : max_bytes_(max_bytes), hinted_(hinted), transport_decoded_(transport_decoded) {}

BodyDecoder::~BodyDecoder() = default;

bool BodyDecoder::fail(std::string message) {
    if (!failed_) error_ = std::move(message);
    failed_ = true;
    return false;
}

bool BodyDecoder::append(const char* p, std::size_t n) {
    if (n > max_bytes_ || out_.size() > max_bytes_ - n) return fail("body over " + std::to_string(max_bytes_) + " bytes");
    out_.append(p, n);
    return true;
}

bool BodyDecoder::detect(bool at_end) {
    if (!at_end && head_.size() < kMagicBytes) return true;  // not enough to tell yet
    detected_ = true;
    if (starts_with_bytes(head_, kGzipMagic)) kind_ = Compression::gzip;
    else if (starts_with_bytes(head_, kZstdMagic)) kind_ = Compression::zstd;
    else if (starts_with_bytes(head_, kXzMagic)) kind_ = Compression::xz;
    else kind_ = Compression::none;

    if (kind_ == Compression::none && hinted_ != Compression::none && !transport_decoded_)
        return fail(std::string(compression_name(hinted_)) + (hinted_ == Compression::xz ? ": not an " : ": not a ") +
                    compression_name(hinted_) + " stream (the URL names one)");
    if (kind_ == Compression::gzip) {
        gzip_ = std::make_unique<Gzip>();
        if (inflateInit2(&gzip_->zs, 16 + MAX_WBITS) != Z_OK) return fail("gzip: cannot start decoder");
        gzip_->ready = true;
    } else if (kind_ == Compression::zstd) {
        zstd_ = std::make_unique<Zstd>();
        zstd_->dctx = ZSTD_createDCtx();
        if (!zstd_->dctx) return fail("zstd: cannot start decoder");
        ZSTD_DCtx_setParameter(zstd_->dctx, ZSTD_d_windowLogMax, kZstdWindowLogMax);
    } else if (kind_ == Compression::xz) {
        xz_ = std::make_unique<Xz>();
        if (!xz_->start()) return fail("xz: cannot start decoder");
    }
    std::string head = std::move(head_);
    head_.clear();
    return process(head);
}

bool BodyDecoder::feed(std::string_view data) {
    if (failed_) return false;
    if (!detected_) {
        const std::size_t want = kMagicBytes - head_.size();
        const std::size_t take = data.size() < want ? data.size() : want;
        head_.append(data.data(), take);
        data.remove_prefix(take);
        if (!detect(false)) return false;
        if (!detected_) return true;
    }
    return process(data);
}

bool BodyDecoder::process(std::string_view data) {
    if (failed_) return false;
    if (data.empty()) return true;
    constexpr std::size_t kMaxPiece = std::size_t{1} << 30;  // zlib counts input in 32 bits
    while (data.size() > kMaxPiece) {
        if (!process(data.substr(0, kMaxPiece))) return false;
        data.remove_prefix(kMaxPiece);
    }
    std::array<char, kChunk> buf;
    switch (kind_) {
        case Compression::none: return append(data.data(), data.size());

        case Compression::gzip: {
            Gzip& g = *gzip_;
            g.zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
            g.zs.avail_in = static_cast<uInt>(data.size());
            while (g.zs.avail_in > 0) {
                if (g.member_ended) {  // more bytes after a complete member: the next member
                    inflateReset(&g.zs);
                    g.member_ended = false;
                }
                if (g.zs.total_in == 0) ++g.members;  // a member starts here
                int r = Z_OK;
                do {
                    g.zs.next_out = reinterpret_cast<Bytef*>(buf.data());
                    g.zs.avail_out = static_cast<uInt>(buf.size());
                    r = inflate(&g.zs, Z_NO_FLUSH);
                    if (r != Z_OK && r != Z_STREAM_END && r != Z_BUF_ERROR) {
                        if (g.members > 1 && g.zs.total_out == 0)
                            return fail("gzip: trailing garbage after the stream");
                        return fail(std::string("gzip: corrupt stream (") + (g.zs.msg ? g.zs.msg : "inflate error") +
                                    ")");
                    }
                    if (!append(buf.data(), buf.size() - g.zs.avail_out)) return false;
                    if (r == Z_STREAM_END) {
                        g.member_ended = true;
                        break;
                    }
                    if (r == Z_BUF_ERROR) break;  // needs more input
                } while (g.zs.avail_out == 0 || g.zs.avail_in > 0);
            }
            return true;
        }

        case Compression::zstd: {
            Zstd& z = *zstd_;
            ZSTD_inBuffer in{data.data(), data.size(), 0};
            for (;;) {
                ZSTD_outBuffer out{buf.data(), buf.size(), 0};
                const std::size_t before = in.pos;
                const std::size_t r = ZSTD_decompressStream(z.dctx, &out, &in);
                if (ZSTD_isError(r)) return fail(std::string("zstd: corrupt stream (") + ZSTD_getErrorName(r) + ")");
                if (out.pos == 0 && in.pos == before && in.pos < in.size) return fail("zstd: decoder made no progress");
                if (!append(buf.data(), out.pos)) return false;
                // A call that moved nothing says nothing about the frame:
                // after a frame ended on a full buffer, the next call (no
                // input left, no output) returns the size of a new frame's
                // header, which is not a truncation.
                if (out.pos > 0 || in.pos > before) z.last = r;
                if (in.pos == in.size && out.pos < out.size) break;  // input used up, output flushed
            }
            return true;
        }

        case Compression::xz: {
            Xz& x = *xz_;
            while (!data.empty()) {
                if (x.stream_ended) {  // after a complete stream: padding, then maybe the next stream
                    std::size_t zeros = 0;
                    while (zeros < data.size() && data[zeros] == '\0') ++zeros;
                    x.padding += zeros;
                    data.remove_prefix(zeros);
                    if (data.empty()) break;
                    if (x.padding % 4 != 0) return fail(std::string("xz: corrupt stream (") + kBadXzPadding + ")");
                    if (!x.start()) return fail("xz: cannot start decoder");
                }
                x.strm.next_in = reinterpret_cast<const std::uint8_t*>(data.data());
                x.strm.avail_in = data.size();
                for (;;) {
                    x.strm.next_out = reinterpret_cast<std::uint8_t*>(buf.data());
                    x.strm.avail_out = buf.size();
                    const lzma_ret r = lzma_code(&x.strm, LZMA_RUN);
                    if (r != LZMA_OK && r != LZMA_STREAM_END) return fail_xz(r);
                    if (!append(buf.data(), buf.size() - x.strm.avail_out)) return false;
                    if (r == LZMA_STREAM_END) {  // all its output is out
                        x.stream_ended = true;
                        break;
                    }
                    if (x.strm.avail_in == 0 && x.strm.avail_out > 0) break;  // input used up, output flushed
                }
                data.remove_prefix(data.size() - x.strm.avail_in);
            }
            return true;
        }
    }
    return true;
}

bool BodyDecoder::fail_xz(int code) {
    const auto r = static_cast<lzma_ret>(code);
    // The first stream's magic was checked, so a stream header that is not
    // one is what follows the last stream.
    if (r == LZMA_FORMAT_ERROR) return fail("xz: trailing garbage after the stream");
    return fail(std::string("xz: corrupt stream (") + lzma_problem(r) + ")");
}

bool BodyDecoder::finish() {
    if (failed_) return false;
    if (!detected_ && !detect(true)) return false;
    switch (kind_) {
        case Compression::none: return true;
        case Compression::gzip:
            if (!gzip_->member_ended) return fail("gzip: truncated stream");
            return true;
        case Compression::zstd:
            if (zstd_->last != 0) return fail("zstd: truncated stream");
            return true;
        case Compression::xz:
            if (!xz_->stream_ended) return fail("xz: truncated stream");
            if (xz_->padding % 4 != 0) return fail(std::string("xz: corrupt stream (") + kBadXzPadding + ")");
            return true;
    }
    return true;
}

}  // namespace anondb::sources::detail
