// The live fetcher (fetch_all) against a real HTTP server: cpp-httplib on
// 127.0.0.1, on a port it picks, serving the bundled snapshot files and
// generated payloads. Expected bodies and digests are computed here (zlib,
// zstd, liblzma, OpenSSL), not with anondb's own helpers.
#include <doctest/doctest.h>

#include <httplib.h>
#include <lzma.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "anondb/sources/fetch.hpp"
#include "test_util.hpp"

using namespace anondb::test;
using anondb::sources::fetch_all;
using anondb::sources::FetchOptions;
using anondb::sources::FetchOutcome;
using anondb::sources::FetchRequest;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

// A server that writes to a connection the client dropped must not kill us.
const bool kIgnoreSigpipe = [] {
    std::signal(SIGPIPE, SIG_IGN);
    return true;
}();

const std::string kAws = kRepo + "/data/snapshot/aws/ip-ranges.json";           // 2 MB
const std::string kApple = kRepo + "/data/snapshot/apple/private-relay-egress.head120.csv";
const std::string kCloudflare = kRepo + "/data/snapshot/cloudflare/ips-v4.txt";

std::array<std::uint8_t, 32> digest(std::string_view data) {
    std::array<std::uint8_t, 32> out{};
    unsigned int n = 0;
    REQUIRE(EVP_Digest(data.data(), data.size(), out.data(), &n, EVP_sha256(), nullptr) == 1);
    return out;
}

std::string gzip_of(std::string_view data) {
    z_stream zs{};
    REQUIRE(deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    std::string out(deflateBound(&zs, data.size()) + 64, '\0');
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    zs.avail_in = static_cast<uInt>(data.size());
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = static_cast<uInt>(out.size());
    REQUIRE(deflate(&zs, Z_FINISH) == Z_STREAM_END);
    out.resize(zs.total_out);
    deflateEnd(&zs);
    return out;
}

std::string zstd_of(std::string_view data) {
    std::string out(ZSTD_compressBound(data.size()), '\0');
    const std::size_t n = ZSTD_compress(out.data(), out.size(), data.data(), data.size(), 3);
    REQUIRE(!ZSTD_isError(n));
    out.resize(n);
    return out;
}

std::string xz_of(std::string_view data) {
    std::string out(lzma_stream_buffer_bound(data.size()), '\0');
    std::size_t n = 0;
    REQUIRE(lzma_easy_buffer_encode(6, LZMA_CHECK_CRC64, nullptr, reinterpret_cast<const std::uint8_t*>(data.data()),
                                    data.size(), reinterpret_cast<std::uint8_t*>(out.data()), &n,
                                    out.size()) == LZMA_OK);
    out.resize(n);
    return out;
}

// Polls `done` for up to two seconds (server-side bookkeeping such as the
// access log runs after the client already has its answer).
bool eventually(const std::function<bool()>& done) {
    for (int i = 0; i < 200; ++i) {
        if (done()) return true;
        std::this_thread::sleep_for(10ms);
    }
    return done();
}

// httplib::Server on 127.0.0.1:<any port> in a background thread. Register
// handlers on `svr`, then start(). State the handlers use must be declared
// before the TestServer, so the server stops before that state goes.
struct TestServer {
    httplib::Server svr;
    std::thread thread;
    int port = -1;
    std::atomic<bool> stopping{false};

    struct Logged {
        std::string path;
        int status;
        std::size_t body_bytes;
        std::string if_none_match, if_modified_since, user_agent, accept_encoding;
    };
    std::mutex log_mutex;
    std::vector<Logged> log;

    void start() {
        svr.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
            std::lock_guard lock(log_mutex);
            log.push_back({req.path, res.status, res.body.size(), req.get_header_value("If-None-Match"),
                           req.get_header_value("If-Modified-Since"), req.get_header_value("User-Agent"),
                           req.get_header_value("Accept-Encoding")});
        });
        port = svr.bind_to_any_port("127.0.0.1");
        REQUIRE(port > 0);
        thread = std::thread([this] { svr.listen_after_bind(); });
        REQUIRE(eventually([this] { return svr.is_running(); }));
    }
    void stop() {
        stopping = true;
        if (thread.joinable()) {
            svr.stop();
            thread.join();
        }
    }
    ~TestServer() { stop(); }

    std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port) + path; }
    std::vector<Logged> logged() {
        std::lock_guard lock(log_mutex);
        return log;
    }
    std::size_t logged_count() {
        std::lock_guard lock(log_mutex);
        return log.size();
    }
};

void serve_bytes(httplib::Response& res, const std::string& body) { res.set_content(body, "application/octet-stream"); }

// Short timeouts and backoffs, so failure cases stay fast.
FetchOptions quick_options(std::ostream* log = nullptr) {
    FetchOptions o;
    o.connect_timeout = 2s;
    o.total_timeout = 5s;
    o.max_attempts = 3;
    o.first_backoff = 20ms;
    o.log = log;
    return o;
}

FetchOutcome fetch_one(const std::string& name, const std::string& url, const FetchOptions& options,
                       std::uint64_t max_bytes = 64ull << 20) {
    const std::vector<FetchRequest> requests{{name, url, max_bytes}};
    auto outcomes = fetch_all(requests, options);
    REQUIRE(outcomes.size() == 1);
    CHECK(outcomes[0].name == name);
    CHECK(outcomes[0].fetched.record.url == url);
    return std::move(outcomes[0]);
}

// Each path decodes to `want`; the fetch record describes the decoded bytes.
void expect_decoded(const TestServer& srv, std::initializer_list<std::string> paths, const std::string& want) {
    for (const std::string& path : paths) {
        CAPTURE(path);
        const FetchOutcome o = fetch_one("decoded", srv.url(path), quick_options());
        REQUIRE_MESSAGE(o.ok, o.error);
        CHECK(o.fetched.body == want);
        CHECK(o.fetched.record.bytes == want.size());
        CHECK(o.fetched.record.sha256 == digest(want));
    }
}

std::int64_t wall_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Streams a gzip stream of `expand_to` zero bytes, 1 MiB of input per chunk
// (about 1 kB of output), and counts what it managed to send.
struct Bomb {
    std::atomic<std::uint64_t> sent{0};
    std::atomic<bool> finished{false};
};
void serve_gzip_bomb(httplib::Response& res, Bomb& bomb, bool as_content_encoding, std::uint64_t expand_to) {
    auto zs = std::shared_ptr<z_stream>(new z_stream{}, [](z_stream* z) {
        deflateEnd(z);
        delete z;
    });
    REQUIRE(deflateInit2(zs.get(), 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) == Z_OK);
    auto fed = std::make_shared<std::uint64_t>(0);
    if (as_content_encoding) res.set_header("Content-Encoding", "gzip");
    res.set_chunked_content_provider(
        "application/octet-stream", [zs, fed, &bomb, expand_to](std::size_t, httplib::DataSink& sink) {
            static const std::vector<unsigned char> zeros(1 << 20);
            std::vector<unsigned char> out(64 * 1024);
            const bool last = *fed + zeros.size() >= expand_to;
            zs->next_in = const_cast<Bytef*>(zeros.data());
            zs->avail_in = static_cast<uInt>(zeros.size());
            do {
                zs->next_out = out.data();
                zs->avail_out = static_cast<uInt>(out.size());
                deflate(zs.get(), last ? Z_FINISH : Z_SYNC_FLUSH);
                const std::size_t n = out.size() - zs->avail_out;
                if (n && !sink.write(reinterpret_cast<const char*>(out.data()), n)) return false;
                bomb.sent += n;
            } while (zs->avail_out == 0);
            *fed += zeros.size();
            if (last) {
                bomb.finished = true;
                sink.done();
                return true;
            }
            std::this_thread::sleep_for(1ms);
            return true;
        });
}

// The same as an .xz stream: 1 MiB of zeros per chunk (about 160 bytes of
// output, flushed), `expand_to` zero bytes in all.
void serve_xz_bomb(httplib::Response& res, Bomb& bomb, std::uint64_t expand_to) {
    auto xs = std::shared_ptr<lzma_stream>(new lzma_stream(LZMA_STREAM_INIT), [](lzma_stream* x) {
        lzma_end(x);
        delete x;
    });
    REQUIRE(lzma_easy_encoder(xs.get(), 0, LZMA_CHECK_CRC64) == LZMA_OK);
    auto fed = std::make_shared<std::uint64_t>(0);
    res.set_chunked_content_provider(
        "application/octet-stream", [xs, fed, &bomb, expand_to](std::size_t, httplib::DataSink& sink) {
            static const std::vector<std::uint8_t> zeros(1 << 20);
            std::vector<std::uint8_t> out(64 * 1024);
            const bool last = *fed + zeros.size() >= expand_to;
            xs->next_in = zeros.data();
            xs->avail_in = zeros.size();
            lzma_ret r = LZMA_OK;
            do {  // LZMA_STREAM_END: flushed (or, the last time, finished)
                xs->next_out = out.data();
                xs->avail_out = out.size();
                r = lzma_code(xs.get(), last ? LZMA_FINISH : LZMA_SYNC_FLUSH);
                const std::size_t n = out.size() - xs->avail_out;
                if (n && !sink.write(reinterpret_cast<const char*>(out.data()), n)) return false;
                bomb.sent += n;
            } while (r == LZMA_OK);
            if (r != LZMA_STREAM_END) return false;
            *fed += zeros.size();
            if (last) {
                bomb.finished = true;
                sink.done();
            }
            return true;
        });
}

// The same as a .zst stream: 1 MiB of zeros per chunk (a few dozen bytes of
// output, flushed), `expand_to` zero bytes in all.
void serve_zstd_bomb(httplib::Response& res, Bomb& bomb, std::uint64_t expand_to) {
    auto zs = std::shared_ptr<ZSTD_CCtx>(ZSTD_createCCtx(), [](ZSTD_CCtx* c) { ZSTD_freeCCtx(c); });
    REQUIRE(zs);
    REQUIRE(!ZSTD_isError(ZSTD_CCtx_setParameter(zs.get(), ZSTD_c_compressionLevel, 19)));
    auto fed = std::make_shared<std::uint64_t>(0);
    res.set_chunked_content_provider(
        "application/octet-stream", [zs, fed, &bomb, expand_to](std::size_t, httplib::DataSink& sink) {
            static const std::vector<char> zeros(1 << 20);
            std::vector<char> out(64 * 1024);
            const bool last = *fed + zeros.size() >= expand_to;
            ZSTD_inBuffer in{zeros.data(), zeros.size(), 0};
            std::size_t left = 0;
            do {  // 0: all input taken and flushed (or, the last time, the frame ended)
                ZSTD_outBuffer o{out.data(), out.size(), 0};
                left = ZSTD_compressStream2(zs.get(), &o, &in, last ? ZSTD_e_end : ZSTD_e_flush);
                if (ZSTD_isError(left)) return false;
                if (o.pos && !sink.write(out.data(), o.pos)) return false;
                bomb.sent += o.pos;
            } while (left != 0 || in.pos < in.size);
            *fed += zeros.size();
            if (last) {
                bomb.finished = true;
                sink.done();
            }
            return true;
        });
}

std::string cache_meta(const TempDir& dir, const std::string& name) {
    return read_text(dir.path / "http" / (name + ".json"));
}

}  // namespace

TEST_CASE("200: body, SHA-256, size, status, final URL and User-Agent") {
    const std::string aws = read_text(kAws), cf = read_text(kCloudflare);
    TestServer srv;
    srv.svr.Get("/aws.json", [&](const httplib::Request&, httplib::Response& res) { serve_bytes(res, aws); });
    srv.svr.Get("/cf.txt", [&](const httplib::Request&, httplib::Response& res) { serve_bytes(res, cf); });
    srv.start();

    std::ostringstream log;
    FetchOptions options = quick_options(&log);
    const std::vector<FetchRequest> requests{{"aws", srv.url("/aws.json")}, {"cloudflare", srv.url("/cf.txt")}};
    const std::int64_t before = wall_now();
    const auto outcomes = fetch_all(requests, options);
    const std::int64_t after = wall_now();
    REQUIRE(outcomes.size() == 2);
    const std::string* expected[] = {&aws, &cf};
    for (std::size_t i = 0; i < 2; ++i) {
        const FetchOutcome& o = outcomes[i];
        INFO(o.name << ": " << o.error);
        REQUIRE(o.ok);
        CHECK(o.name == requests[i].name);
        CHECK(o.error.empty());
        CHECK(o.attempts == 1);
        CHECK(o.fetched.body == *expected[i]);
        CHECK(o.fetched.record.url == requests[i].url);
        CHECK(o.fetched.record.source == requests[i].url);
        CHECK(o.fetched.record.http_status == 200);
        CHECK(o.fetched.record.bytes == expected[i]->size());
        CHECK(o.fetched.record.sha256 == digest(*expected[i]));
        CHECK(o.fetched.record.fetched_at >= before);
        CHECK(o.fetched.record.fetched_at <= after);
        CHECK_FALSE(o.fetched.record.from_cache);
        CHECK_FALSE(o.fetched.record.snapshot);
        CHECK_FALSE(o.fetched.record.stale);
    }
    CHECK(contains(log.str(), "aws: 200, 2.1 MB, "));
    CHECK(contains(log.str(), "cloudflare: 200, 230 B, "));
    REQUIRE(eventually([&] { return srv.logged_count() == 2; }));
    for (const auto& l : srv.logged()) {
        CHECK(l.user_agent == options.user_agent);
        CHECK(contains(l.accept_encoding, "gzip"));
    }
}

TEST_CASE("cache: ETag revalidation gets 304, the cached body and its original fetched_at") {
    TempDir cache("anondb-fetch");
    std::string body = read_text(kApple);
    std::string etag = "\"v1\"";
    std::atomic<int> full{0}, not_modified{0};
    TestServer srv;
    srv.svr.Get("/apple.csv", [&](const httplib::Request& req, httplib::Response& res) {
        res.set_header("ETag", etag);
        if (req.get_header_value("If-None-Match") == etag) {
            ++not_modified;
            res.status = 304;
            return;
        }
        ++full;
        serve_bytes(res, body);
    });
    srv.start();
    FetchOptions options = quick_options();
    options.cache_dir = cache.path.string();
    const std::string url = srv.url("/apple.csv");

    // First fetch: a full 200, written to the cache.
    const FetchOutcome first = fetch_one("apple", url, options);
    REQUIRE_MESSAGE(first.ok, first.error);
    CHECK(first.fetched.record.http_status == 200);
    CHECK(first.fetched.record.etag == "\"v1\"");
    CHECK_FALSE(first.fetched.record.from_cache);
    CHECK(read_text(cache.path / "http" / "apple.body") == body);
    const std::string meta = cache_meta(cache, "apple");
    CHECK(contains(meta, "\"etag\":\"\\\"v1\\\"\""));
    CHECK(contains(meta, "\"fetched_at\":" + std::to_string(first.fetched.record.fetched_at)));
    CHECK(contains(meta, "\"bytes\":" + std::to_string(body.size())));
    CHECK(contains(meta, "\"final_url\":\"" + url + "\""));

    // Make the cached fetch time recognisably old: a 304 must report it.
    write_text(cache.path / "http" / "apple.json",
               std::regex_replace(meta, std::regex("\"fetched_at\":[0-9]+"), "\"fetched_at\":1700000000"));

    std::ostringstream log;
    options.log = &log;
    const FetchOutcome second = fetch_one("apple", url, options);
    REQUIRE_MESSAGE(second.ok, second.error);
    CHECK(second.fetched.body == body);
    CHECK(second.fetched.record.from_cache);
    CHECK(second.fetched.record.http_status == 304);
    CHECK(second.fetched.record.fetched_at == 1700000000);
    CHECK(second.fetched.record.bytes == body.size());
    CHECK(second.fetched.record.sha256 == digest(body));
    CHECK(second.fetched.record.etag == "\"v1\"");
    CHECK(second.fetched.record.source == url);
    CHECK(second.attempts == 1);
    CHECK(log.str() == "apple: 304 not modified\n");
    CHECK(full == 1);
    CHECK(not_modified == 1);
    REQUIRE(eventually([&] { return srv.logged_count() == 2; }));
    {
        const auto logged = srv.logged();
        CHECK(logged[0].if_none_match.empty());
        CHECK(logged[1].if_none_match == "\"v1\"");
        CHECK(logged[1].status == 304);
        CHECK(logged[1].body_bytes == 0);
    }

    // The feed changes: a new 200 replaces the cache entry.
    body = "172.224.226.0/27,GB,GB-EN,London,\n";
    etag = "\"v2\"";
    const FetchOutcome third = fetch_one("apple", url, options);
    REQUIRE_MESSAGE(third.ok, third.error);
    CHECK(third.fetched.record.http_status == 200);
    CHECK_FALSE(third.fetched.record.from_cache);
    CHECK(third.fetched.body == body);
    CHECK(third.fetched.record.etag == "\"v2\"");
    CHECK(third.fetched.record.fetched_at > 1700000000);
    CHECK(read_text(cache.path / "http" / "apple.body") == body);
    CHECK(contains(cache_meta(cache, "apple"), "\\\"v2\\\""));
    // Nothing but the two entry files (no temporary files left behind).
    std::set<std::string> files;
    for (const auto& e : fs::directory_iterator(cache.path / "http")) files.insert(e.path().filename().string());
    CHECK(files == std::set<std::string>{"apple.body", "apple.json"});
}

TEST_CASE("cache: Last-Modified alone revalidates with If-Modified-Since") {
    TempDir cache("anondb-fetch");
    const std::string body = read_text(kCloudflare);
    const std::string stamp = "Wed, 21 Oct 2015 07:28:00 GMT";
    TestServer srv;
    srv.svr.Get("/v4", [&](const httplib::Request& req, httplib::Response& res) {
        res.set_header("Last-Modified", stamp);
        if (req.get_header_value("If-Modified-Since") == stamp) {
            res.status = 304;
            return;
        }
        serve_bytes(res, body);
    });
    srv.start();
    FetchOptions options = quick_options();
    options.cache_dir = cache.path.string();

    const FetchOutcome first = fetch_one("cf", srv.url("/v4"), options);
    REQUIRE_MESSAGE(first.ok, first.error);
    CHECK(first.fetched.record.last_modified == stamp);
    CHECK(first.fetched.record.etag.empty());
    const FetchOutcome second = fetch_one("cf", srv.url("/v4"), options);
    REQUIRE_MESSAGE(second.ok, second.error);
    CHECK(second.fetched.record.http_status == 304);
    CHECK(second.fetched.record.from_cache);
    CHECK(second.fetched.body == body);
    CHECK(second.fetched.record.fetched_at == first.fetched.record.fetched_at);
    CHECK(second.fetched.record.last_modified == stamp);
    REQUIRE(eventually([&] { return srv.logged_count() == 2; }));
    const auto logged = srv.logged();
    CHECK(logged[0].if_modified_since.empty());
    CHECK(logged[1].if_modified_since == stamp);
    CHECK(logged[1].if_none_match.empty());
}

TEST_CASE("cache: a corrupt, tampered or foreign entry is not trusted") {
    TempDir cache("anondb-fetch");
    const std::string body = read_text(kCloudflare);
    TestServer srv;
    auto handler = [&](const httplib::Request& req, httplib::Response& res) {
        res.set_header("ETag", "\"e\"");
        if (req.get_header_value("If-None-Match") == "\"e\"") {
            res.status = 304;
            return;
        }
        serve_bytes(res, body);
    };
    srv.svr.Get("/a", handler);
    srv.svr.Get("/b", handler);
    srv.start();
    FetchOptions options = quick_options();
    options.cache_dir = cache.path.string();
    REQUIRE(fetch_one("cf", srv.url("/a"), options).ok);

    SUBCASE("corrupt metadata: plain GET") {
        write_text(cache.path / "http" / "cf.json", "{\"version\":1,\"etag\":");
        const FetchOutcome o = fetch_one("cf", srv.url("/a"), options);
        REQUIRE_MESSAGE(o.ok, o.error);
        CHECK(o.fetched.record.http_status == 200);
        CHECK_FALSE(o.fetched.record.from_cache);
        REQUIRE(eventually([&] { return srv.logged_count() == 2; }));
        CHECK(srv.logged()[1].if_none_match.empty());
    }
    SUBCASE("missing body: plain GET") {
        fs::remove(cache.path / "http" / "cf.body");
        const FetchOutcome o = fetch_one("cf", srv.url("/a"), options);
        REQUIRE_MESSAGE(o.ok, o.error);
        CHECK(o.fetched.record.http_status == 200);
        REQUIRE(eventually([&] { return srv.logged_count() == 2; }));
        CHECK(srv.logged()[1].if_none_match.empty());
    }
    SUBCASE("body changed on disk: the 304 is not used, the feed is fetched again") {
        std::string bad = body;
        bad[0] = bad[0] == '1' ? '2' : '1';  // same size, other bytes
        write_text(cache.path / "http" / "cf.body", bad);
        std::ostringstream log;
        options.log = &log;
        const FetchOutcome o = fetch_one("cf", srv.url("/a"), options);
        CHECK(contains(log.str(), "cf: warning: cached copy unusable ("));
        CHECK(contains(log.str(), "cf: 200, 230 B, "));
        REQUIRE_MESSAGE(o.ok, o.error);
        CHECK(o.fetched.body == body);
        CHECK(o.fetched.record.http_status == 200);
        CHECK_FALSE(o.fetched.record.from_cache);
        CHECK(o.attempts == 1);
        REQUIRE(eventually([&] { return srv.logged_count() == 3; }));
        const auto logged = srv.logged();
        CHECK(logged[1].status == 304);
        CHECK(logged[2].if_none_match.empty());
        CHECK(read_text(cache.path / "http" / "cf.body") == body);  // repaired
    }
    SUBCASE("the feed's URL changed: the entry is not used") {
        const FetchOutcome o = fetch_one("cf", srv.url("/b"), options);
        REQUIRE_MESSAGE(o.ok, o.error);
        CHECK(o.fetched.record.http_status == 200);
        REQUIRE(eventually([&] { return srv.logged_count() == 2; }));
        CHECK(srv.logged()[1].if_none_match.empty());
    }
}

TEST_CASE("redirects: 301 and 302 are followed and the final URL recorded") {
    const std::string body = read_text(kCloudflare);
    TestServer srv;
    srv.svr.Get("/moved", [](const httplib::Request&, httplib::Response& res) { res.set_redirect("/found", 301); });
    srv.svr.Get("/found", [](const httplib::Request&, httplib::Response& res) { res.set_redirect("/data/v4", 302); });
    srv.svr.Get("/data/v4", [&](const httplib::Request&, httplib::Response& res) { serve_bytes(res, body); });
    srv.svr.Get(R"(/loop/(\d+))", [](const httplib::Request& req, httplib::Response& res) {
        res.set_redirect("/loop/" + std::to_string(std::stoi(req.matches[1]) + 1), 302);
    });
    srv.svr.Get("/to-file", [](const httplib::Request&, httplib::Response& res) {
        res.set_redirect("file:///etc/hostname", 302);
    });
    srv.start();

    for (const std::string path : {"/moved", "/found"}) {
        CAPTURE(path);
        const FetchOutcome o = fetch_one("cf", srv.url(path), quick_options());
        REQUIRE_MESSAGE(o.ok, o.error);
        CHECK(o.fetched.body == body);
        CHECK(o.fetched.record.url == srv.url(path));
        CHECK(o.fetched.record.source == srv.url("/data/v4"));
        CHECK(o.fetched.record.http_status == 200);
    }
    const FetchOutcome loop = fetch_one("loop", srv.url("/loop/0"), quick_options());
    CHECK_FALSE(loop.ok);
    CHECK(loop.error == "more than 5 redirects");
    CHECK(loop.attempts == 1);
    const FetchOutcome to_file = fetch_one("x", srv.url("/to-file"), quick_options());
    CHECK_FALSE(to_file.ok);
    CHECK(contains(to_file.error, "unsupported protocol"));
}

TEST_CASE("HTTP 404 fails at once, without retries") {
    std::atomic<int> hits{0};
    TestServer srv;
    srv.svr.Get("/gone", [&](const httplib::Request&, httplib::Response& res) {
        ++hits;
        res.status = 404;
        res.set_content("no such feed", "text/plain");
    });
    srv.start();
    std::ostringstream log;
    const FetchOutcome o = fetch_one("x", srv.url("/gone"), quick_options(&log));
    CHECK_FALSE(o.ok);
    CHECK(o.error == "HTTP 404");
    CHECK(o.attempts == 1);
    CHECK(o.fetched.record.http_status == 404);
    CHECK(o.fetched.record.source == srv.url("/gone"));
    CHECK(o.fetched.body.empty());
    CHECK(hits == 1);
    CHECK(log.str() == "x: failed: HTTP 404 (attempt 1/3)\n");
}

TEST_CASE("HTTP 500 then 200 succeeds on attempt 2") {
    const std::string body = read_text(kCloudflare);
    std::atomic<int> hits{0};
    TestServer srv;
    srv.svr.Get("/flaky", [&](const httplib::Request&, httplib::Response& res) {
        if (++hits == 1) {
            res.status = 500;
            return;
        }
        serve_bytes(res, body);
    });
    srv.start();
    std::ostringstream log;
    const FetchOutcome o = fetch_one("flaky", srv.url("/flaky"), quick_options(&log));
    REQUIRE_MESSAGE(o.ok, o.error);
    CHECK(o.attempts == 2);
    CHECK(o.fetched.body == body);
    CHECK(o.fetched.record.http_status == 200);
    CHECK(hits == 2);
    CHECK(contains(log.str(), "flaky: 200, 230 B, "));
    CHECK(contains(log.str(), "(attempt 2/3)\n"));
}

TEST_CASE("HTTP 500 every time: failure after max_attempts, with doubling backoff") {
    std::mutex m;
    std::vector<Clock::time_point> hits;
    TestServer srv;
    srv.svr.Get("/down", [&](const httplib::Request&, httplib::Response& res) {
        {
            std::lock_guard lock(m);
            hits.push_back(Clock::now());
        }
        res.status = 503;
    });
    srv.start();
    std::ostringstream log;
    FetchOptions options = quick_options(&log);
    options.first_backoff = 100ms;
    const FetchOutcome o = fetch_one("down", srv.url("/down"), options);
    CHECK_FALSE(o.ok);
    CHECK(o.error == "HTTP 503 after 3 attempts");
    CHECK(o.attempts == 3);
    CHECK(o.fetched.record.http_status == 503);
    CHECK(log.str() == "down: failed: HTTP 503 after 3 attempts\n");
    std::lock_guard lock(m);
    REQUIRE(hits.size() == 3);
    CHECK(hits[1] - hits[0] >= 95ms);
    CHECK(hits[2] - hits[1] >= 195ms);
}

TEST_CASE("a stalled server fails at the total timeout") {
    TestServer srv;
    srv.svr.Get("/stall", [&](const httplib::Request&, httplib::Response& res) {
        const auto until = Clock::now() + 4s;
        while (!srv.stopping && Clock::now() < until) std::this_thread::sleep_for(10ms);
        serve_bytes(res, "late\n");
    });
    srv.start();
    FetchOptions options = quick_options();
    options.total_timeout = 1s;
    options.max_attempts = 1;
    const auto start = Clock::now();
    const FetchOutcome o = fetch_one("slow", srv.url("/stall"), options);
    const auto took = Clock::now() - start;
    CHECK_FALSE(o.ok);
    CHECK(o.error == "timeout after 1 s");
    CHECK(o.attempts == 1);
    CHECK(took >= 900ms);
}

TEST_CASE("a body cut short of its Content-Length is an error, and retried") {
    std::atomic<int> hits{0};
    TestServer srv;
    srv.svr.Get("/cut", [&](const httplib::Request&, httplib::Response& res) {
        ++hits;
        res.set_content_provider(1000, "application/octet-stream",
                                 [](std::size_t offset, std::size_t, httplib::DataSink& sink) {
                                     if (offset != 0) return false;  // then the connection closes
                                     const std::string part(100, 'x');
                                     sink.write(part.data(), part.size());
                                     return true;
                                 });
    });
    srv.start();
    FetchOptions options = quick_options();
    options.max_attempts = 2;
    const FetchOutcome o = fetch_one("cut", srv.url("/cut"), options);
    CHECK_FALSE(o.ok);
    CHECK(o.error == "connection closed after 100 of 1000 body bytes (2 attempts)");
    CHECK(o.attempts == 2);
    CHECK(o.fetched.body.empty());
    CHECK(hits == 2);
}

TEST_CASE("a body over max_bytes fails, with or without a Content-Length") {
    const std::string big(50000, 'a');
    std::atomic<int> hits{0};
    TestServer srv;
    srv.svr.Get("/big", [&](const httplib::Request&, httplib::Response& res) {
        ++hits;
        serve_bytes(res, big);
    });
    srv.svr.Get("/big-chunked", [&](const httplib::Request&, httplib::Response& res) {
        ++hits;
        res.set_chunked_content_provider("application/octet-stream", [&](std::size_t offset, httplib::DataSink& sink) {
            if (offset >= big.size()) {
                sink.done();
                return true;
            }
            return sink.write(big.data() + offset, 5000);
        });
    });
    srv.svr.Get("/exact", [&](const httplib::Request&, httplib::Response& res) { serve_bytes(res, big); });
    srv.start();
    for (const std::string path : {"/big", "/big-chunked"}) {
        CAPTURE(path);
        hits = 0;
        const FetchOutcome o = fetch_one("big", srv.url(path), quick_options(), 10000);
        CHECK_FALSE(o.ok);
        CHECK(o.error == "body over 10000 bytes");
        CHECK(o.attempts == 1);
        CHECK(hits == 1);
    }
    const FetchOutcome exact = fetch_one("exact", srv.url("/exact"), quick_options(), big.size());
    REQUIRE_MESSAGE(exact.ok, exact.error);
    CHECK(exact.fetched.record.bytes == big.size());
}

TEST_CASE("a gzip bomb is stopped as soon as the decoded size passes max_bytes") {
    // 1 GiB of zeros, about 1 MB of gzip; the limit is 256 KiB. Decoding all
    // of it would take seconds and a gigabyte; stopping early takes the
    // first few kB.
    constexpr std::uint64_t kExpand = std::uint64_t{1} << 30;
    Bomb file_bomb, encoded_bomb;
    TestServer srv;
    srv.svr.Get("/bomb.gz", [&](const httplib::Request&, httplib::Response& res) {
        serve_gzip_bomb(res, file_bomb, false, kExpand);
    });
    srv.svr.Get("/bomb", [&](const httplib::Request&, httplib::Response& res) {
        serve_gzip_bomb(res, encoded_bomb, true, kExpand);
    });
    srv.start();
    const FetchOutcome as_file = fetch_one("bomb", srv.url("/bomb.gz"), quick_options(), 256 * 1024);
    const FetchOutcome as_encoding = fetch_one("bomb", srv.url("/bomb"), quick_options(), 256 * 1024);
    srv.stop();
    for (const FetchOutcome* o : {&as_file, &as_encoding}) {
        CHECK_FALSE(o->ok);
        CHECK(o->error == "body over 262144 bytes");
        CHECK(o->attempts == 1);
        CHECK(o->fetched.body.empty());
    }
    CHECK_FALSE(file_bomb.finished);
    CHECK_FALSE(encoded_bomb.finished);
    CHECK(file_bomb.sent < 128 * 1024);
    CHECK(encoded_bomb.sent < 128 * 1024);
}

TEST_CASE("Content-Encoding: gzip is decoded") {
    const std::string body = read_text(kApple);
    TestServer srv;
    srv.svr.Get("/apple.csv", [&](const httplib::Request&, httplib::Response& res) {
        res.set_header("Content-Encoding", "gzip");
        serve_bytes(res, gzip_of(body));
    });
    srv.start();
    const FetchOutcome o = fetch_one("apple", srv.url("/apple.csv"), quick_options());
    REQUIRE_MESSAGE(o.ok, o.error);
    CHECK(o.fetched.body == body);
    CHECK(o.fetched.record.bytes == body.size());
    CHECK(o.fetched.record.sha256 == digest(body));
}

TEST_CASE("bodies that are .gz or .zst files are decoded") {
    const std::string body = read_text(kApple), other = read_text(kCloudflare);
    TestServer srv;
    srv.svr.Get("/apple.csv.gz", [&](const httplib::Request&, httplib::Response& res) { serve_bytes(res, gzip_of(body)); });
    srv.svr.Get("/apple.csv.zst", [&](const httplib::Request&, httplib::Response& res) { serve_bytes(res, zstd_of(body)); });
    srv.svr.Get("/by-magic", [&](const httplib::Request&, httplib::Response& res) { serve_bytes(res, zstd_of(body)); });
    srv.svr.Get("/two-members.gz", [&](const httplib::Request&, httplib::Response& res) {
        serve_bytes(res, gzip_of(body) + gzip_of(other));
    });
    srv.svr.Get("/two-frames.zst", [&](const httplib::Request&, httplib::Response& res) {
        serve_bytes(res, zstd_of(body) + zstd_of(other));
    });
    srv.svr.Get("/transport.gz", [&](const httplib::Request&, httplib::Response& res) {  // a .gz sent decoded
        res.set_header("Content-Encoding", "gzip");
        serve_bytes(res, gzip_of(body));
    });
    srv.svr.Get("/not-really.gz", [&](const httplib::Request&, httplib::Response& res) { serve_bytes(res, body); });
    srv.start();

    expect_decoded(srv, {"/apple.csv.gz", "/apple.csv.zst", "/by-magic", "/transport.gz"}, body);
    expect_decoded(srv, {"/two-members.gz", "/two-frames.zst"}, body + other);
    const FetchOutcome plain = fetch_one("x", srv.url("/not-really.gz"), quick_options());
    CHECK_FALSE(plain.ok);
    CHECK(plain.error == "gzip: not a gzip stream (the URL names one)");
}

TEST_CASE("truncated or corrupt gzip and zstd streams are errors") {
    const std::string body = read_text(kAws);  // big enough that half a stream is clearly cut
    const std::string gz = gzip_of(body), zst = zstd_of(body);
    std::string bad_crc = gzip_of(body);
    bad_crc[bad_crc.size() - 5] ^= 0x55;  // inside the CRC-32 trailer
    std::atomic<int> hits{0};
    TestServer srv;
    srv.svr.Get("/cut.gz", [&](const httplib::Request&, httplib::Response& res) {
        ++hits;
        serve_bytes(res, gz.substr(0, gz.size() / 2));
    });
    srv.svr.Get("/cut.zst", [&](const httplib::Request&, httplib::Response& res) {
        ++hits;
        serve_bytes(res, zst.substr(0, zst.size() / 2));
    });
    srv.svr.Get("/trailer.gz", [&](const httplib::Request&, httplib::Response& res) {
        serve_bytes(res, gz.substr(0, gz.size() - 3));
    });
    srv.svr.Get("/crc.gz", [&](const httplib::Request&, httplib::Response& res) { serve_bytes(res, bad_crc); });
    srv.svr.Get("/garbage.gz", [&](const httplib::Request&, httplib::Response& res) {
        serve_bytes(res, gz + "trailing junk");
    });
    srv.start();

    const FetchOutcome cut_gz = fetch_one("a", srv.url("/cut.gz"), quick_options());
    CHECK_FALSE(cut_gz.ok);
    CHECK(cut_gz.error == "gzip: truncated stream");
    const FetchOutcome cut_zst = fetch_one("a", srv.url("/cut.zst"), quick_options());
    CHECK_FALSE(cut_zst.ok);
    CHECK(cut_zst.error == "zstd: truncated stream");
    CHECK(hits == 2);  // content errors are not retried
    const FetchOutcome trailer = fetch_one("a", srv.url("/trailer.gz"), quick_options());
    CHECK_FALSE(trailer.ok);
    CHECK(trailer.error == "gzip: truncated stream");
    const FetchOutcome crc = fetch_one("a", srv.url("/crc.gz"), quick_options());
    CHECK_FALSE(crc.ok);
    CHECK(crc.error == "gzip: corrupt stream (incorrect data check)");
    const FetchOutcome garbage = fetch_one("a", srv.url("/garbage.gz"), quick_options());
    CHECK_FALSE(garbage.ok);
    CHECK(garbage.error == "gzip: trailing garbage after the stream");
}

TEST_CASE("bodies that are .xz files are decoded: one stream, several, stream padding") {
    const std::string body = read_text(kApple), other = read_text(kCloudflare);
    TestServer srv;
    srv.svr.Get("/apple.csv.xz",
                [&](const httplib::Request&, httplib::Response& res) { serve_bytes(res, xz_of(body)); });
    srv.svr.Get("/by-magic", [&](const httplib::Request&, httplib::Response& res) { serve_bytes(res, xz_of(body)); });
    srv.svr.Get("/two-streams.xz", [&](const httplib::Request&, httplib::Response& res) {
        serve_bytes(res, xz_of(body) + xz_of(other));
    });
    srv.svr.Get("/padded.xz", [&](const httplib::Request&, httplib::Response& res) {  // stream padding: zero bytes, 4 at a time
        serve_bytes(res, xz_of(body) + std::string(8, '\0') + xz_of(other) + std::string(4, '\0'));
    });
    srv.svr.Get("/empty.xz", [&](const httplib::Request&, httplib::Response& res) { serve_bytes(res, xz_of("")); });
    srv.svr.Get("/not-really.xz", [&](const httplib::Request&, httplib::Response& res) { serve_bytes(res, body); });
    srv.start();

    expect_decoded(srv, {"/apple.csv.xz", "/by-magic"}, body);
    expect_decoded(srv, {"/two-streams.xz", "/padded.xz"}, body + other);
    const FetchOutcome empty = fetch_one("empty", srv.url("/empty.xz"), quick_options());
    REQUIRE_MESSAGE(empty.ok, empty.error);
    CHECK(empty.fetched.body.empty());
    const FetchOutcome plain = fetch_one("x", srv.url("/not-really.xz"), quick_options());
    CHECK_FALSE(plain.ok);
    CHECK(plain.error == "xz: not an xz stream (the URL names one)");
}

TEST_CASE("truncated, corrupt or trailing-garbage xz streams are errors") {
    const std::string body = read_text(kAws);  // big enough that half a stream is clearly cut
    const std::string xz = xz_of(body);
    std::string flipped = xz;
    flipped[flipped.size() / 2] ^= 0x55;  // inside the LZMA2 data
    REQUIRE(xz.size() > 100);
    std::atomic<int> hits{0};
    TestServer srv;
    srv.svr.Get("/cut.xz", [&](const httplib::Request&, httplib::Response& res) {
        ++hits;
        serve_bytes(res, xz.substr(0, xz.size() / 2));
    });
    srv.svr.Get("/footer.xz", [&](const httplib::Request&, httplib::Response& res) {  // all data, footer cut
        serve_bytes(res, xz.substr(0, xz.size() - 3));
    });
    srv.svr.Get("/flipped.xz", [&](const httplib::Request&, httplib::Response& res) { serve_bytes(res, flipped); });
    srv.svr.Get("/garbage.xz", [&](const httplib::Request&, httplib::Response& res) {
        serve_bytes(res, xz + "trailing junk");
    });
    srv.svr.Get("/magic-only.xz", [&](const httplib::Request&, httplib::Response& res) {
        serve_bytes(res, xz.substr(0, 6) + std::string(4000, '\x5a'));
    });
    srv.svr.Get("/odd-padding.xz", [&](const httplib::Request&, httplib::Response& res) {
        serve_bytes(res, xz + std::string(3, '\0'));
    });
    srv.svr.Get("/odd-padding-between.xz", [&](const httplib::Request&, httplib::Response& res) {
        serve_bytes(res, xz + std::string(2, '\0') + xz);
    });
    srv.start();

    const FetchOutcome cut = fetch_one("a", srv.url("/cut.xz"), quick_options());
    CHECK_FALSE(cut.ok);
    CHECK(cut.error == "xz: truncated stream");
    CHECK(hits == 1);  // content errors are not retried
    const FetchOutcome footer = fetch_one("a", srv.url("/footer.xz"), quick_options());
    CHECK_FALSE(footer.ok);
    CHECK(footer.error == "xz: truncated stream");
    const FetchOutcome corrupt = fetch_one("a", srv.url("/flipped.xz"), quick_options());
    CHECK_FALSE(corrupt.ok);
    CHECK(corrupt.error == "xz: corrupt stream (compressed data is corrupt)");
    const FetchOutcome garbage = fetch_one("a", srv.url("/garbage.xz"), quick_options());
    CHECK_FALSE(garbage.ok);
    CHECK(garbage.error == "xz: trailing garbage after the stream");
    const FetchOutcome magic_only = fetch_one("a", srv.url("/magic-only.xz"), quick_options());
    CHECK_FALSE(magic_only.ok);
    CHECK(contains(magic_only.error, "xz: corrupt stream ("));
    const FetchOutcome odd = fetch_one("a", srv.url("/odd-padding.xz"), quick_options());
    CHECK_FALSE(odd.ok);
    CHECK(odd.error == "xz: corrupt stream (stream padding not a multiple of 4 bytes)");
    const FetchOutcome odd_between = fetch_one("a", srv.url("/odd-padding-between.xz"), quick_options());
    CHECK_FALSE(odd_between.ok);
    CHECK(odd_between.error == "xz: corrupt stream (stream padding not a multiple of 4 bytes)");
    for (const FetchOutcome* o : {&cut, &footer, &corrupt, &garbage, &magic_only, &odd, &odd_between}) {
        CHECK(o->attempts == 1);
        CHECK(o->fetched.body.empty());
    }
}

TEST_CASE("an xz bomb is stopped as soon as the decoded size passes max_bytes") {
    // 64 GiB of zeros, about 10 MB of xz, made as it is sent; the limit is
    // 256 KiB, which the first chunk passes. Sending it all would take
    // minutes (the client's total timeout would end it first, with another
    // error).
    constexpr std::uint64_t kExpand = std::uint64_t{1} << 36;
    Bomb by_name, by_magic;
    TestServer srv;
    srv.svr.Get("/bomb.xz",
                [&](const httplib::Request&, httplib::Response& res) { serve_xz_bomb(res, by_name, kExpand); });
    srv.svr.Get("/bomb", [&](const httplib::Request&, httplib::Response& res) {  // no suffix: by its magic
        serve_xz_bomb(res, by_magic, kExpand);
    });
    srv.start();
    const FetchOutcome named = fetch_one("bomb", srv.url("/bomb.xz"), quick_options(), 256 * 1024);
    const FetchOutcome magic = fetch_one("bomb", srv.url("/bomb"), quick_options(), 256 * 1024);
    srv.stop();
    for (const FetchOutcome* o : {&named, &magic}) {
        CHECK_FALSE(o->ok);
        CHECK(o->error == "body over 262144 bytes");
        CHECK(o->attempts == 1);
        CHECK(o->fetched.body.empty());
    }
    for (const Bomb* b : {&by_name, &by_magic}) {
        CHECK_FALSE(b->finished);
        CHECK(b->sent < 32 * 1024);  // about 200 chunks: 200 MiB of zeros
    }
}

TEST_CASE("a zstd bomb is stopped as soon as the decoded size passes max_bytes") {
    // 64 GiB of zeros, a few MB of zstd made as it is sent; the limit is 256
    // KiB, which the first chunk passes. By name (.zst), by its magic bytes,
    // and as a Content-Encoding.
    constexpr std::uint64_t kExpand = std::uint64_t{1} << 36;
    Bomb by_name, by_magic, encoded;
    TestServer srv;
    srv.svr.Get("/bomb.zst",
                [&](const httplib::Request&, httplib::Response& res) { serve_zstd_bomb(res, by_name, kExpand); });
    srv.svr.Get("/bomb", [&](const httplib::Request&, httplib::Response& res) { serve_zstd_bomb(res, by_magic, kExpand); });
    srv.svr.Get("/encoded", [&](const httplib::Request&, httplib::Response& res) {
        res.set_header("Content-Encoding", "zstd");
        serve_zstd_bomb(res, encoded, kExpand);
    });
    srv.start();
    const FetchOutcome named = fetch_one("bomb", srv.url("/bomb.zst"), quick_options(), 256 * 1024);
    const FetchOutcome magic = fetch_one("bomb", srv.url("/bomb"), quick_options(), 256 * 1024);
    const FetchOutcome as_encoding = fetch_one("bomb", srv.url("/encoded"), quick_options(), 256 * 1024);
    srv.stop();
    for (const FetchOutcome* o : {&named, &magic, &as_encoding}) {
        CHECK_FALSE(o->ok);
        CHECK(o->error == "body over 262144 bytes");
        CHECK(o->attempts == 1);
        CHECK(o->fetched.body.empty());
    }
    for (const Bomb* b : {&by_name, &by_magic, &encoded}) {
        CHECK_FALSE(b->finished);
        CHECK(b->sent < 64 * 1024);
    }
}

TEST_CASE("file:// URLs") {
    const std::string body = read_text(kCloudflare);
    const std::string url = "file://" + kCloudflare;
    std::ostringstream log;
    const std::int64_t before = wall_now();
    const FetchOutcome o = fetch_one("cf", url, quick_options(&log));
    REQUIRE_MESSAGE(o.ok, o.error);
    CHECK(o.fetched.body == body);
    CHECK(o.fetched.record.http_status == 0);
    CHECK(o.fetched.record.source == url);
    CHECK(o.fetched.record.bytes == body.size());
    CHECK(o.fetched.record.sha256 == digest(body));
    CHECK(o.fetched.record.fetched_at >= before);
    CHECK(contains(log.str(), "cf: file, 230 B, "));

    TempDir dir("anondb-fetch");
    write_text(dir.path / "feed.txt.gz", gzip_of(body));
    const FetchOutcome gz = fetch_one("gz", "file://" + (dir.path / "feed.txt.gz").string(), quick_options());
    REQUIRE_MESSAGE(gz.ok, gz.error);
    CHECK(gz.fetched.body == body);

    const FetchOutcome missing = fetch_one("none", "file://" + kRepo + "/no/such/file.txt", quick_options());
    CHECK_FALSE(missing.ok);
    CHECK(contains(missing.error, "cannot read file"));
    CHECK(missing.attempts == 1);
}

TEST_CASE("feeds are fetched concurrently, never more than max_parallel at once") {
    std::atomic<int> active{0}, peak{0};
    TestServer srv;
    srv.svr.Get(R"(/slow/(\d+))", [&](const httplib::Request& req, httplib::Response& res) {
        const int now = ++active;
        int seen = peak.load();
        while (now > seen && !peak.compare_exchange_weak(seen, now)) {
        }
        std::this_thread::sleep_for(150ms);
        --active;
        serve_bytes(res, "feed " + std::string(req.matches[1]) + "\n");
    });
    srv.start();
    std::vector<FetchRequest> requests;
    // (std::string on the left: "literal" + std::to_string() trips GCC 12's -Wrestrict.)
    auto feed_name = [](int i) { return std::string("f").append(std::to_string(i)); };
    auto feed_body = [](int i) { return std::string("feed ").append(std::to_string(i)).append("\n"); };
    for (int i = 0; i < 6; ++i)
        requests.push_back({feed_name(i), srv.url(std::string("/slow/").append(std::to_string(i)))});
    std::ostringstream log;
    FetchOptions options = quick_options(&log);
    options.max_parallel = 2;
    options.progress = true;
    const auto start = Clock::now();
    const auto outcomes = fetch_all(requests, options);
    const auto took = Clock::now() - start;
    REQUIRE(outcomes.size() == 6);
    for (int i = 0; i < 6; ++i) {
        CAPTURE(i);
        CHECK(outcomes[i].ok);
        CHECK(outcomes[i].name == feed_name(i));
        CHECK(outcomes[i].fetched.body == feed_body(i));
    }
    CHECK(peak == 2);
    CHECK(took >= 440ms);  // 6 feeds, 2 at a time, 150 ms each
    const std::string text = log.str();
    CHECK(contains(text, "\rfetching "));
    CHECK(contains(text, "fetched 6 feeds: 6 ok, 0 failed, 42 B\n"));
    CHECK(!contains(text, "f0: 200"));  // progress mode: no per-feed lines
}

TEST_CASE("a feed waiting to retry does not hold up the others") {
    std::mutex m;
    std::vector<std::pair<std::string, Clock::time_point>> hits;
    TestServer srv;
    srv.svr.Get(R"(/(fail|ok))", [&](const httplib::Request& req, httplib::Response& res) {
        {
            std::lock_guard lock(m);
            hits.emplace_back(req.path, Clock::now());
        }
        if (req.path == "/fail") res.status = 500;
        else serve_bytes(res, "ok\n");
    });
    srv.start();
    FetchOptions options = quick_options();
    options.max_parallel = 1;
    options.max_attempts = 2;
    options.first_backoff = 400ms;
    const std::vector<FetchRequest> requests{{"fail", srv.url("/fail")}, {"ok", srv.url("/ok")}};
    const auto outcomes = fetch_all(requests, options);
    REQUIRE(outcomes.size() == 2);
    CHECK_FALSE(outcomes[0].ok);
    CHECK(outcomes[0].error == "HTTP 500 after 2 attempts");
    CHECK(outcomes[1].ok);
    std::lock_guard lock(m);
    REQUIRE(hits.size() == 3);
    CHECK(hits[0].first == "/fail");
    CHECK(hits[1].first == "/ok");  // started during the backoff
    CHECK(hits[2].first == "/fail");
}

TEST_CASE("a refused connection is an error after the retries") {
    // A bound socket that never listens: connecting to it is refused, and no
    // other process can take the port while the test runs.
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    const std::string url = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/feed.txt";
    FetchOptions options = quick_options();
    options.max_attempts = 2;
    const FetchOutcome o = fetch_one("x", url, options);
    ::close(fd);
    CHECK_FALSE(o.ok);
    CHECK(o.error == "connection refused after 2 attempts");
    CHECK(o.attempts == 2);
    CHECK(o.fetched.record.http_status == 0);
}

TEST_CASE("URLs other than https://, http:// and file:// are refused without a transfer") {
    std::ostringstream log;
    const std::vector<FetchRequest> requests{{"ftp", "ftp://127.0.0.1/feed.txt"}, {"none", ""}};
    const auto outcomes = fetch_all(requests, quick_options(&log));
    REQUIRE(outcomes.size() == 2);
    for (const auto& o : outcomes) {
        CHECK_FALSE(o.ok);
        CHECK(contains(o.error, "unsupported URL"));
        CHECK(o.attempts == 0);
    }
    CHECK(fetch_all({}, quick_options()).empty());
}

TEST_CASE("read_snapshot: a compressed snapshot is decoded like a fetched body, under the same limit") {
    const TempDir dir("anondb-snapshot");
    const std::string body = "192.0.2.0/24\n2001:db8::/32\n";
    const std::pair<const char*, std::string> files[] = {
        {"plain.txt", body}, {"list.txt.gz", gzip_of(body)}, {"list.zst", zstd_of(body)}, {"list.xz", xz_of(body)}};
    for (const auto& [name, bytes] : files) {
        CAPTURE(name);
        write_text(dir.path / name, bytes);
        auto got = anondb::sources::read_snapshot((dir.path / name).string(), name, "https://example.org/x", 1700000000);
        REQUIRE_MESSAGE(got, got.error().message);
        CHECK(got->body == body);
        CHECK(got->record.bytes == body.size());
        CHECK(got->record.sha256 == digest(body));  // the content's hash, as a live fetch records it
        CHECK(got->record.source == name);
        CHECK(got->record.snapshot);
        CHECK(got->record.fetched_at == 1700000000);
    }
    // A .gz path that holds no gzip, a truncated stream, and a bomb past the limit.
    write_text(dir.path / "fake.gz", body);
    auto fake = anondb::sources::read_snapshot((dir.path / "fake.gz").string(), "fake.gz", "u", 0);
    REQUIRE_FALSE(fake);
    CHECK(contains(fake.error().message, "fake.gz"));
    CHECK(contains(fake.error().message, "not a gzip stream"));
    const std::string gz = gzip_of(body);
    write_text(dir.path / "cut.gz", gz.substr(0, gz.size() / 2));
    auto cut = anondb::sources::read_snapshot((dir.path / "cut.gz").string(), "cut.gz", "u", 0);
    REQUIRE_FALSE(cut);
    CHECK(contains(cut.error().message, "truncated"));
    write_text(dir.path / "bomb.xz", xz_of(std::string(1 << 20, 'a')));
    auto bomb = anondb::sources::read_snapshot((dir.path / "bomb.xz").string(), "bomb.xz", "u", 0, 4096);
    REQUIRE_FALSE(bomb);
    CHECK(contains(bomb.error().message, "over 4096 bytes"));
    auto missing = anondb::sources::read_snapshot((dir.path / "none").string(), "none", "u", 0);
    REQUIRE_FALSE(missing);
    CHECK(missing.error().status == anondb::Status::io);
}

TEST_CASE("read_snapshot: a snapshot of any size is read through the decoder, never whole") {
    // A snapshot that never ends: a FIFO a thread keeps writing (zstd frames
    // of zeros, or plain bytes). Reading it whole before decoding would never
    // return; read through the decoder, it stops once the decoded body passes
    // max_bytes, having read about one chunk of the file.
    struct Endless {
        const char* name;
        std::string piece;  // written again and again
    };
    const Endless cases[] = {
        {"endless.zst", zstd_of(std::string(1 << 20, '\0'))},
        {"endless.gz", gzip_of(std::string(1 << 20, 'a'))},
        {"endless.txt", std::string(64 * 1024, '1')},
    };
    const TempDir dir("anondb-snapshot");
    for (const Endless& c : cases) {
        INFO("file " << c.name);
        const auto path = dir.path / c.name;
        REQUIRE(::mkfifo(path.c_str(), 0600) == 0);
        std::atomic<std::uint64_t> written{0};
        std::thread writer([&] {
            const int fd = ::open(path.c_str(), O_WRONLY);  // waits for the reader
            if (fd < 0) return;
            for (int i = 0; i < 100000; ++i) {  // stops when the reader is gone (EPIPE)
                const ssize_t n = ::write(fd, c.piece.data(), c.piece.size());
                if (n <= 0) break;
                written += static_cast<std::uint64_t>(n);
            }
            ::close(fd);
        });
        auto got = anondb::sources::read_snapshot(path.string(), c.name, "u", 0, 4 << 20);
        writer.join();
        REQUIRE_FALSE(got);
        CHECK(contains(got.error().message, "body over 4194304 bytes"));
        CHECK(contains(got.error().message, c.name));
        // At most the limit (plus a chunk) of the file: here the plain one
        // is decoded 1:1, the compressed ones in a few pieces.
        CHECK(written < std::uint64_t{16} << 20);
    }

    // Bodies whose decoded size is a multiple of the decoder's 64 KiB step,
    // so that the last frame or stream ends on a full output buffer (zstd
    // once reported that as "truncated stream").
    for (const std::size_t size : {std::size_t{64} << 10, std::size_t{1} << 20, std::size_t{3} << 20}) {
        for (const char fill : {'\0', 'q'}) {
            const std::string body(size, fill);
            const std::pair<const char*, std::string> files[] = {
                {"exact.gz", gzip_of(body)}, {"exact.zst", zstd_of(body)}, {"exact.xz", xz_of(body)},
                {"twice.zst", zstd_of(body) + zstd_of(body)}};
            for (const auto& [name, bytes] : files) {
                INFO("file " << name << ", " << size << " bytes");
                write_text(dir.path / name, bytes);
                auto got = anondb::sources::read_snapshot((dir.path / name).string(), name, "u", 0);
                REQUIRE_MESSAGE(got, got.error().message);
                CHECK(got->body.size() == (std::string_view(name).substr(0, 5) == "twice" ? 2 : 1) * size);
            }
        }
    }

    // A large compressed file that decodes within the limit is read whole.
    const std::string big(std::size_t{24} << 20, '\0');
    write_text(dir.path / "big.zst", zstd_of(big) + zstd_of(big));
    auto ok = anondb::sources::read_snapshot((dir.path / "big.zst").string(), "big.zst", "u", 0, std::uint64_t{48} << 20);
    REQUIRE_MESSAGE(ok, ok.error().message);
    CHECK(ok->body.size() == big.size() * 2);
    CHECK(ok->record.sha256 == digest(big + big));
    auto over = anondb::sources::read_snapshot((dir.path / "big.zst").string(), "big.zst", "u", 0, (std::uint64_t{48} << 20) - 1);
    REQUIRE_FALSE(over);
    CHECK(contains(over.error().message, "over 50331647 bytes"));
}
