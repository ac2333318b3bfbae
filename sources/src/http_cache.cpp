#include "http_cache.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "anondb/sources/fetch.hpp"

namespace anondb::sources::detail {

namespace {

namespace fs = std::filesystem;
constexpr int kCacheVersion = 1;

std::string file_stem(const std::string& name) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    for (std::size_t i = 0; i < name.size(); ++i) {
        const auto c = static_cast<unsigned char>(name[i]);
        const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                           c == '-' || (c == '.' && i != 0);
        if (plain) {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += kHex[c >> 4];
            out += kHex[c & 15];
        }
    }
    return out.empty() ? std::string("%") : out;
}

bool from_hex(std::string_view hex, std::array<std::uint8_t, 32>& out) {
    if (hex.size() != 64) return false;
    auto nibble = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    for (std::size_t i = 0; i < 32; ++i) {
        const int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return false;
        out[i] = static_cast<std::uint8_t>(hi * 16 + lo);
    }
    return true;
}

std::string errno_text(const std::string& what) { return what + ": " + std::strerror(errno); }

// Writes `data` to `path` through a temporary file in the same directory:
// write, fsync, rename. Readers see the old file or the new one, never a part.
Expected<Ok> write_atomically(const std::string& path, std::string_view data) {
    static std::atomic<unsigned> counter{0};
    const std::string tmp = path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return make_error(Status::io, errno_text(tmp));
    std::size_t done = 0;
    while (done < data.size()) {
        const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            auto err = make_error(Status::io, errno_text(tmp));
            ::close(fd);
            ::unlink(tmp.c_str());
            return err;
        }
        done += static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0) {
        auto err = make_error(Status::io, errno_text("fsync " + tmp));
        ::close(fd);
        ::unlink(tmp.c_str());
        return err;
    }
    if (::close(fd) != 0) {
        auto err = make_error(Status::io, errno_text("close " + tmp));
        ::unlink(tmp.c_str());
        return err;
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        auto err = make_error(Status::io, errno_text("rename " + tmp));
        ::unlink(tmp.c_str());
        return err;
    }
    return Ok{};
}

void fsync_dir(const std::string& dir) {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;
    ::fsync(fd);
    ::close(fd);
}

const rapidjson::Value* member(const rapidjson::Value& obj, const char* key) {
    const auto it = obj.FindMember(key);
    return it == obj.MemberEnd() ? nullptr : &it->value;
}

bool get_string(const rapidjson::Value& obj, const char* key, std::string& out) {
    const rapidjson::Value* v = member(obj, key);
    if (!v || !v->IsString()) return false;
    out.assign(v->GetString(), v->GetStringLength());
    return true;
}

}  // namespace

std::string to_hex(const std::array<std::uint8_t, 32>& digest) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    out.reserve(64);
    for (const std::uint8_t b : digest) {
        out += kHex[b >> 4];
        out += kHex[b & 15];
    }
    return out;
}

HttpCache::HttpCache(std::string cache_dir) : dir_((fs::path(cache_dir) / "http").string()) {}

std::string HttpCache::body_path(const std::string& name) const {
    return (fs::path(dir_) / (file_stem(name) + ".body")).string();
}

std::string HttpCache::meta_path(const std::string& name) const {
    return (fs::path(dir_) / (file_stem(name) + ".json")).string();
}

std::optional<CacheEntry> HttpCache::lookup(const std::string& name, const std::string& url) const {
    std::ifstream in(meta_path(name), std::ios::binary);
    if (!in) return std::nullopt;
    std::ostringstream ss;
    ss << in.rdbuf();
    const std::string text = std::move(ss).str();

    rapidjson::Document doc;
    doc.Parse(text.data(), text.size());
    if (doc.HasParseError() || !doc.IsObject()) return std::nullopt;
    const rapidjson::Value* version = member(doc, "version");
    if (!version || !version->IsInt() || version->GetInt() != kCacheVersion) return std::nullopt;

    CacheEntry e;
    std::string hex;
    if (!get_string(doc, "url", e.url) || !get_string(doc, "final_url", e.final_url) ||
        !get_string(doc, "etag", e.etag) || !get_string(doc, "last_modified", e.last_modified) ||
        !get_string(doc, "sha256", hex) || !from_hex(hex, e.sha256))
        return std::nullopt;
    const rapidjson::Value* fetched_at = member(doc, "fetched_at");
    const rapidjson::Value* bytes = member(doc, "bytes");
    if (!fetched_at || !fetched_at->IsInt64() || !bytes || !bytes->IsUint64()) return std::nullopt;
    e.fetched_at = fetched_at->GetInt64();
    e.bytes = bytes->GetUint64();

    if (e.url != url) return std::nullopt;
    auto header_safe = [](const std::string& v) {  // these go into request headers
        return std::none_of(v.begin(), v.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; });
    };
    if (!header_safe(e.etag) || !header_safe(e.last_modified)) return std::nullopt;
    if (e.etag.empty() && e.last_modified.empty()) return std::nullopt;  // nothing to revalidate with
    std::error_code ec;
    const auto size = fs::file_size(body_path(name), ec);
    if (ec || size != e.bytes) return std::nullopt;
    return e;
}

Expected<std::string> HttpCache::body(const std::string& name, const CacheEntry& entry) const {
    const std::string path = body_path(name);
    std::ifstream in(path, std::ios::binary);
    if (!in) return make_error(Status::io, errno_text(path));
    std::ostringstream ss;
    ss << in.rdbuf();
    if (in.bad()) return make_error(Status::io, path + ": read failed");
    std::string body = std::move(ss).str();
    if (body.size() != entry.bytes || sha256(body) != entry.sha256)
        return make_error(Status::checksum, path + ": does not match its recorded size and SHA-256");
    return body;
}

Expected<Ok> HttpCache::store(const std::string& name, const CacheEntry& entry, std::string_view body) const {
    std::error_code ec;
    fs::create_directories(dir_, ec);
    if (ec) return make_error(Status::io, dir_ + ": " + ec.message());

    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    auto str = [&w](const char* key, const std::string& value) {
        w.Key(key);
        w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
    };
    w.StartObject();
    w.Key("version");
    w.Int(kCacheVersion);
    str("url", entry.url);
    str("final_url", entry.final_url);
    str("etag", entry.etag);
    str("last_modified", entry.last_modified);
    w.Key("fetched_at");
    w.Int64(entry.fetched_at);
    w.Key("bytes");
    w.Uint64(entry.bytes);
    str("sha256", to_hex(entry.sha256));
    w.EndObject();
    std::string meta(buf.GetString(), buf.GetSize());
    meta += '\n';

    if (auto r = write_atomically(body_path(name), body); !r) return r;
    if (auto r = write_atomically(meta_path(name), meta); !r) return r;
    fsync_dir(dir_);
    return Ok{};
}

}  // namespace anondb::sources::detail
