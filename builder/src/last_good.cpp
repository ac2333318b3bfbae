#include "anondb/builder/last_good.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "anondb/explain.hpp"  // sha256_hex
#include "anondb/writer.hpp"   // write_file_atomic

namespace anondb::builder {
namespace {

std::optional<std::string> read_file(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    if (!in) return std::nullopt;
    std::ostringstream ss;
    ss << in.rdbuf();
    return std::move(ss).str();
}

std::span<const std::byte> bytes_of(std::string_view s) { return std::as_bytes(std::span(s.data(), s.size())); }

}  // namespace

Expected<std::optional<GoodCopy>> LastGoodStore::load(const std::string& feed) const {
    const std::filesystem::path base = std::filesystem::path(dir_) / feed;
    auto meta = read_file(base.string() + ".json");
    auto body = read_file(base.string() + ".body");
    if (!meta || !body) return std::optional<GoodCopy>{};
    const std::string where = base.string() + ".json";
    rapidjson::Document d;
    d.Parse(meta->c_str(), meta->size());
    auto str = [&](const char* k) -> std::string {
        return d.IsObject() && d.HasMember(k) && d[k].IsString() ? std::string(d[k].GetString(), d[k].GetStringLength())
                                                                 : std::string();
    };
    if (d.HasParseError() || !d.IsObject() || !d.HasMember("fetched_at") || !d["fetched_at"].IsInt64() ||
        !d.HasMember("accepted") || !d["accepted"].IsUint64())
        return make_error(Status::corrupt, where + ": not a last-good record");
    GoodCopy copy;
    auto& r = copy.fetched.record;
    r.url = str("url");
    r.source = str("source");
    r.etag = str("etag");
    r.last_modified = str("last_modified");
    r.http_status = d.HasMember("http_status") && d["http_status"].IsInt() ? d["http_status"].GetInt() : 0;
    r.fetched_at = d["fetched_at"].GetInt64();
    r.bytes = body->size();
    r.sha256 = sources::sha256(*body);
    if (sha256_hex(r.sha256) != str("sha256"))
        return make_error(Status::checksum, base.string() + ".body: content does not match its recorded sha256");
    copy.accepted = d["accepted"].GetUint64();
    copy.fetched.body = std::move(*body);
    return std::optional<GoodCopy>(std::move(copy));
}

Expected<Ok> LastGoodStore::save(const std::string& feed, const sources::FetchedBody& fetched,
                                 std::uint64_t accepted) const {
    std::error_code ec;
    std::filesystem::create_directories(dir_, ec);
    if (ec) return make_error(Status::io, dir_ + ": " + ec.message());
    const auto& r = fetched.record;
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    auto kv = [&](const char* k, const std::string& v) {
        w.Key(k);
        w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
    };
    w.StartObject();
    kv("url", r.url);
    kv("source", r.source);
    kv("etag", r.etag);
    kv("last_modified", r.last_modified);
    w.Key("http_status");
    w.Int(r.http_status);
    w.Key("fetched_at");
    w.Int64(r.fetched_at);
    kv("sha256", sha256_hex(r.sha256));
    w.Key("accepted");
    w.Uint64(accepted);
    w.EndObject();
    const std::filesystem::path base = std::filesystem::path(dir_) / feed;
    // Body first: a crash between the two leaves a record whose sha256 does
    // not match, which load() reports instead of trusting.
    if (auto e = writer::write_file_atomic(base.string() + ".body", bytes_of(fetched.body)); !e) return e.error();
    if (auto e = writer::write_file_atomic(base.string() + ".json", bytes_of(std::string_view(buf.GetString(), buf.GetSize())));
        !e)
        return e.error();
    return Ok{};
}

}  // namespace anondb::builder
