// fetch_all: the live fetcher. Every feed is one transfer on a curl multi
// handle; at most max_parallel run at once, and a transfer waiting to retry
// only holds a scheduled start time, so it never blocks the others.
#include <curl/curl.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "anondb/sources/fetch.hpp"
#include "decode.hpp"
#include "http_cache.hpp"

namespace anondb::sources {

namespace {

using Clock = std::chrono::steady_clock;
using detail::BodyDecoder;
using detail::CacheEntry;
using detail::Compression;
using detail::HttpCache;

constexpr long kMaxRedirects = 5;
constexpr std::uint64_t kMaxDiscard = 1 << 20;  // bytes of an error page read before giving up on it

CURLcode global_init() {
    static std::once_flag once;
    static CURLcode result = CURLE_OK;
    std::call_once(once, [] { result = curl_global_init(CURL_GLOBAL_DEFAULT); });
    return result;
}

std::int64_t unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

bool starts_with_nocase(std::string_view s, std::string_view prefix) {
    if (s.size() < prefix.size()) return false;
    for (std::size_t i = 0; i < prefix.size(); ++i) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        if (c != prefix[i]) return false;
    }
    return true;
}

std::string human_bytes(std::uint64_t n) {
    char buf[32];
    if (n < 1000) std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(n));
    else if (n < 1000 * 1000) std::snprintf(buf, sizeof buf, "%.1f kB", static_cast<double>(n) / 1e3);
    else std::snprintf(buf, sizeof buf, "%.1f MB", static_cast<double>(n) / 1e6);
    return buf;
}

std::string seconds_text(Clock::duration d) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f s", std::chrono::duration<double>(d).count());
    return buf;
}

enum class State { waiting, active, done };

struct EasyDeleter {
    void operator()(CURL* e) const noexcept { curl_easy_cleanup(e); }
};
struct SlistDeleter {
    void operator()(curl_slist* l) const noexcept { curl_slist_free_all(l); }
};

// One feed's fetch, across its attempts.
struct Transfer {
    const FetchRequest* request = nullptr;
    FetchOutcome* outcome = nullptr;
    bool is_file = false;
    State state = State::waiting;
    Clock::time_point ready_at{};     // earliest start of the next attempt
    Clock::time_point first_start{};  // start of attempt 1
    int attempts = 0;
    bool skip_cache = false;  // the cached body turned out unusable: fetch unconditionally

    std::unique_ptr<CURL, EasyDeleter> easy;
    std::unique_ptr<curl_slist, SlistDeleter> headers;
    char errbuf[CURL_ERROR_SIZE] = {};

    std::optional<CacheEntry> cache;  // the entry revalidated by this attempt
    bool conditional = false;

    // Per attempt, filled by the callbacks.
    std::unique_ptr<BodyDecoder> decoder;
    std::uint64_t discarded = 0;
    bool stopped_discarding = false;
    std::string abort_error;  // why a callback stopped the transfer (not retried)
};

// ---- callbacks (C code calls these: nothing may escape) --------------------

// A header of the last response (after redirects); empty when absent.
std::string header_value(CURL* easy, const char* name) {
    struct curl_header* h = nullptr;
    if (curl_easy_header(easy, name, 0, CURLH_HEADER, -1, &h) != CURLHE_OK || !h || !h->value) return {};
    return h->value;
}

void make_decoder(Transfer& t) {
    std::string encoding = t.is_file ? std::string() : header_value(t.easy.get(), "Content-Encoding");
    const bool transport_decoded = !encoding.empty() && encoding != "identity";
    t.decoder = std::make_unique<BodyDecoder>(t.request->max_bytes, detail::compression_from_url(t.request->url),
                                              transport_decoded);
}

size_t on_body(char* data, size_t size, size_t count, void* user) {
    auto& t = *static_cast<Transfer*>(user);
    const size_t n = size * count;
    try {
        long code = 0;
        curl_easy_getinfo(t.easy.get(), CURLINFO_RESPONSE_CODE, &code);
        if (!t.is_file && code != 200) {  // an error page, or the body of a 304: not the feed
            t.discarded += n;
            if (t.discarded > kMaxDiscard) {
                t.stopped_discarding = true;
                return 0;
            }
            return n;
        }
        if (!t.decoder) make_decoder(t);
        if (!t.decoder->feed(std::string_view(data, n))) {
            t.abort_error = t.decoder->error();
            return 0;
        }
        return n;
    } catch (const std::bad_alloc&) {
        t.abort_error = "out of memory";
    } catch (...) {
        t.abort_error = "internal error";
    }
    return 0;
}

int on_progress(void* user, curl_off_t, curl_off_t dlnow, curl_off_t, curl_off_t) {
    auto& t = *static_cast<Transfer*>(user);
    if (!t.is_file) {
        long code = 0;
        curl_easy_getinfo(t.easy.get(), CURLINFO_RESPONSE_CODE, &code);
        if (code != 200) return 0;  // error pages are limited by on_body
    }
    if (dlnow > 0 && static_cast<std::uint64_t>(dlnow) > t.request->max_bytes) {
        if (t.abort_error.empty()) t.abort_error = "body over " + std::to_string(t.request->max_bytes) + " bytes";
        return 1;
    }
    return 0;
}

// ---- one attempt -------------------------------------------------------------

template <class T>
void setopt(CURL* e, CURLoption opt, T value) {
    curl_easy_setopt(e, opt, value);
}

// Sets up `t` for its next attempt. false (with outcome->error set) when
// curl cannot even create a handle.
bool configure(Transfer& t, const FetchOptions& options, const HttpCache* cache) {
    if (!t.easy) t.easy.reset(curl_easy_init());
    if (!t.easy) {
        t.outcome->error = "cannot create a curl handle";
        return false;
    }
    CURL* e = t.easy.get();
    curl_easy_reset(e);
    t.headers.reset();
    t.errbuf[0] = '\0';
    t.decoder.reset();
    t.discarded = 0;
    t.stopped_discarding = false;
    t.abort_error.clear();
    t.cache.reset();
    t.conditional = false;

    setopt(e, CURLOPT_URL, t.request->url.c_str());
    setopt(e, CURLOPT_PRIVATE, static_cast<void*>(&t));
    setopt(e, CURLOPT_ERRORBUFFER, t.errbuf);
    // CURLOPT_NOSIGNAL stays 0: this libcurl resolves names in a thread (no
    // alarm()), and 0 lets it ignore the SIGPIPE that OpenSSL can raise when
    // a peer drops a TLS connection.
    setopt(e, CURLOPT_PROTOCOLS_STR, "http,https,file");
    setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
    setopt(e, CURLOPT_MAXREDIRS, kMaxRedirects);
    setopt(e, CURLOPT_USERAGENT, options.user_agent.c_str());
    setopt(e, CURLOPT_ACCEPT_ENCODING, "");  // every encoding this libcurl decodes
    setopt(e, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(std::chrono::milliseconds(options.connect_timeout).count()));
    setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(std::chrono::milliseconds(options.total_timeout).count()));
    setopt(e, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(std::min<std::uint64_t>(
                                             t.request->max_bytes, static_cast<std::uint64_t>(INT64_MAX))));
    setopt(e, CURLOPT_WRITEFUNCTION, &on_body);
    setopt(e, CURLOPT_WRITEDATA, static_cast<void*>(&t));
    setopt(e, CURLOPT_NOPROGRESS, 0L);
    setopt(e, CURLOPT_XFERINFOFUNCTION, &on_progress);
    setopt(e, CURLOPT_XFERINFODATA, static_cast<void*>(&t));

    if (cache && !t.is_file && !t.skip_cache) {
        t.cache = cache->lookup(t.request->name, t.request->url);
        if (t.cache) {
            curl_slist* list = nullptr;
            auto add = [&list](const std::string& line) {
                if (curl_slist* next = curl_slist_append(list, line.c_str())) list = next;
            };
            if (!t.cache->etag.empty()) add("If-None-Match: " + t.cache->etag);
            if (!t.cache->last_modified.empty()) add("If-Modified-Since: " + t.cache->last_modified);
            t.headers.reset(list);
            setopt(e, CURLOPT_HTTPHEADER, list);
            t.conditional = list != nullptr;
        }
    }
    return true;
}

// What became of one attempt.
struct Verdict {
    enum Kind { success, not_modified, retry, fail } kind = fail;
    std::string error;
};

std::string os_error_suffix(CURL* e) {
    long os = 0;
    curl_easy_getinfo(e, CURLINFO_OS_ERRNO, &os);
    return os ? std::string(" (") + std::strerror(static_cast<int>(os)) + ")" : std::string();
}

Verdict judge_curl_error(Transfer& t, CURLcode rc, const FetchOptions& options) {
    CURL* e = t.easy.get();
    const std::string detail = t.errbuf[0] ? t.errbuf : curl_easy_strerror(rc);
    switch (rc) {
        case CURLE_OPERATION_TIMEDOUT: {
            if (detail.rfind("Connection timed out", 0) == 0 || detail.rfind("Resolving timed out", 0) == 0)
                return {Verdict::retry, "connect timeout after " + std::to_string(options.connect_timeout.count()) + " s"};
            return {Verdict::retry, "timeout after " + std::to_string(options.total_timeout.count()) + " s"};
        }
        case CURLE_COULDNT_CONNECT: {
            long os = 0;
            curl_easy_getinfo(e, CURLINFO_OS_ERRNO, &os);
            if (os == ECONNREFUSED) return {Verdict::retry, "connection refused"};
            return {Verdict::retry, "cannot connect" + os_error_suffix(e)};
        }
        case CURLE_COULDNT_RESOLVE_HOST: return {Verdict::retry, "cannot resolve host: " + detail};
        case CURLE_PARTIAL_FILE: {
            curl_off_t got = 0, want = -1;
            curl_easy_getinfo(e, CURLINFO_SIZE_DOWNLOAD_T, &got);
            curl_easy_getinfo(e, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &want);
            if (want >= 0)
                return {Verdict::retry, "connection closed after " + std::to_string(got) + " of " +
                                            std::to_string(want) + " body bytes"};
            return {Verdict::retry, "connection closed before the end of the body"};
        }
        case CURLE_FILESIZE_EXCEEDED:
            return {Verdict::fail, "body over " + std::to_string(t.request->max_bytes) + " bytes"};
        case CURLE_TOO_MANY_REDIRECTS:
            return {Verdict::fail, "more than " + std::to_string(kMaxRedirects) + " redirects"};
        case CURLE_FILE_COULDNT_READ_FILE: return {Verdict::fail, "cannot read file: " + detail};
        case CURLE_UNSUPPORTED_PROTOCOL: return {Verdict::fail, "unsupported protocol: " + detail};
        case CURLE_URL_MALFORMAT: return {Verdict::fail, "malformed URL: " + detail};
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CIPHER:
        case CURLE_SSL_ENGINE_NOTFOUND:
        case CURLE_SSL_ENGINE_SETFAILED:
        case CURLE_SSL_ISSUER_ERROR:
        case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        case CURLE_SSL_INVALIDCERTSTATUS: return {Verdict::fail, "TLS: " + detail};
        case CURLE_BAD_CONTENT_ENCODING: return {Verdict::fail, "bad Content-Encoding: " + detail};
        case CURLE_OUT_OF_MEMORY: return {Verdict::fail, "out of memory"};
        case CURLE_ABORTED_BY_CALLBACK:
        case CURLE_WRITE_ERROR: return {Verdict::fail, detail};
        default: return {Verdict::retry, detail};  // the network: worth another try
    }
}

Verdict judge(Transfer& t, CURLcode rc, const FetchOptions& options) {
    if (!t.abort_error.empty()) return {Verdict::fail, t.abort_error};
    if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && t.stopped_discarding)) return judge_curl_error(t, rc, options);
    long code = 0;
    curl_easy_getinfo(t.easy.get(), CURLINFO_RESPONSE_CODE, &code);
    if (t.is_file || code == 200) {
        if (!t.decoder) make_decoder(t);
        if (!t.decoder->finish()) return {Verdict::fail, t.decoder->error()};
        return {Verdict::success, {}};
    }
    if (code == 304) {
        if (t.conditional && t.cache) return {Verdict::not_modified, {}};
        return {Verdict::fail, "HTTP 304 to a request without a cached copy"};
    }
    if (code >= 500) return {Verdict::retry, "HTTP " + std::to_string(code)};
    return {Verdict::fail, "HTTP " + std::to_string(code)};
}

// ---- the session ---------------------------------------------------------------

class Session {
public:
    Session(std::span<const FetchRequest> requests, const FetchOptions& options, std::vector<FetchOutcome>& outcomes)
        : options_(options), transfers_(requests.size()) {
        if (!options.cache_dir.empty()) cache_.emplace(options.cache_dir);
        max_parallel_ = std::max(1, options.max_parallel);
        max_attempts_ = std::max(1, options.max_attempts);
        for (std::size_t i = 0; i < requests.size(); ++i) {
            Transfer& t = transfers_[i];
            t.request = &requests[i];
            t.outcome = &outcomes[i];
            const std::string& url = requests[i].url;
            t.is_file = starts_with_nocase(url, "file://");
            if (!t.is_file && !starts_with_nocase(url, "http://") && !starts_with_nocase(url, "https://"))
                finish_failed(t, "unsupported URL '" + url + "' (want https://, http:// or file://)", false);
        }
    }

    ~Session() {
        for (Transfer& t : transfers_)
            if (t.state == State::active && multi_) curl_multi_remove_handle(multi_, t.easy.get());
        for (Transfer& t : transfers_) t.easy.reset();
        if (multi_) curl_multi_cleanup(multi_);
    }

    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    void run() {
        if (const CURLcode g = global_init(); g != CURLE_OK) return fail_all(std::string("curl: ") + curl_easy_strerror(g));
        multi_ = curl_multi_init();
        if (!multi_) return fail_all("cannot create a curl multi handle");

        while (done_ < transfers_.size()) {
            start_ready();
            int running = 0;
            const CURLMcode mc = curl_multi_perform(multi_, &running);
            if (mc != CURLM_OK) return fail_all(std::string("curl: ") + curl_multi_strerror(mc));
            collect();
            show_progress(false);
            if (done_ == transfers_.size()) break;
            start_ready();  // a slot freed by collect(), or a retry that came due
            curl_multi_poll(multi_, nullptr, 0, poll_timeout_ms(), nullptr);
        }
        show_progress(true);
    }

    // Everything not finished fails with `why` (a session-wide problem).
    void fail_all(const std::string& why) {
        for (Transfer& t : transfers_) {
            if (t.state == State::done) continue;
            if (t.state == State::active && multi_) curl_multi_remove_handle(multi_, t.easy.get());
            finish_failed(t, why, false);
        }
    }

private:
    void start_ready() {
        const auto now = Clock::now();
        for (Transfer& t : transfers_) {
            if (active_ >= max_parallel_) return;
            if (t.state != State::waiting || t.ready_at > now) continue;
            if (!configure(t, options_, cache_ ? &*cache_ : nullptr)) {
                finish_failed(t, t.outcome->error, false);
                continue;
            }
            if (t.attempts == 0) {
                t.first_start = now;
                ++started_;
            }
            ++t.attempts;
            if (curl_multi_add_handle(multi_, t.easy.get()) != CURLM_OK) {
                finish_failed(t, "cannot start the transfer", false);
                continue;
            }
            t.state = State::active;
            ++active_;
        }
    }

    long poll_timeout_ms() const {
        long wait = 1000;
        if (options_.progress && options_.log) wait = 100;
        if (active_ < max_parallel_) {
            const auto now = Clock::now();
            for (const Transfer& t : transfers_) {
                if (t.state != State::waiting) continue;
                const auto ms = std::chrono::ceil<std::chrono::milliseconds>(t.ready_at - now).count();
                wait = std::min<long>(wait, std::max<long>(0, static_cast<long>(ms)));
            }
        }
        return wait;
    }

    void collect() {
        int left = 0;
        while (CURLMsg* msg = curl_multi_info_read(multi_, &left)) {
            if (msg->msg != CURLMSG_DONE) continue;
            CURL* e = msg->easy_handle;
            const CURLcode rc = msg->data.result;
            void* priv = nullptr;
            curl_easy_getinfo(e, CURLINFO_PRIVATE, &priv);
            curl_multi_remove_handle(multi_, e);
            auto& t = *static_cast<Transfer*>(priv);
            t.state = State::waiting;
            --active_;
            finished_attempt(t, rc);
        }
    }

    void finished_attempt(Transfer& t, CURLcode rc) {
        FetchRecord& rec = t.outcome->fetched.record;
        long code = 0;
        curl_easy_getinfo(t.easy.get(), CURLINFO_RESPONSE_CODE, &code);
        char* effective = nullptr;
        curl_easy_getinfo(t.easy.get(), CURLINFO_EFFECTIVE_URL, &effective);
        rec.url = t.request->url;
        rec.http_status = t.is_file ? 0 : static_cast<int>(code);
        if (effective) rec.source = effective;

        Verdict v = judge(t, rc, options_);
        switch (v.kind) {
            case Verdict::success: return finish_ok(t);
            case Verdict::not_modified: return finish_not_modified(t);
            case Verdict::fail: return finish_failed(t, v.error, false);
            case Verdict::retry:
                if (t.attempts >= max_attempts_) {
                    std::string error = v.error;
                    if (t.attempts > 1) {
                        // "timeout after 2 s" reads better with the count apart
                        const bool has_after = error.find(" after ") != std::string::npos;
                        error += has_after ? " (" + std::to_string(t.attempts) + " attempts)"
                                           : " after " + std::to_string(t.attempts) + " attempts";
                    }
                    return finish_failed(t, error, t.attempts > 1);
                }
                const int shift = std::min(t.attempts - 1, 20);
                t.ready_at = Clock::now() + options_.first_backoff * (std::int64_t{1} << shift);
                return;
        }
    }

    void finish_ok(Transfer& t) {
        FetchOutcome& out = *t.outcome;
        FetchRecord& rec = out.fetched.record;
        out.fetched.body = t.decoder->take();
        rec.fetched_at = unix_now();
        rec.bytes = out.fetched.body.size();
        rec.sha256 = sha256(out.fetched.body);
        rec.from_cache = false;
        if (!t.is_file) {
            rec.etag = header_value(t.easy.get(), "ETag");
            rec.last_modified = header_value(t.easy.get(), "Last-Modified");
        }
        out.ok = true;
        out.error.clear();
        out.attempts = t.attempts;
        t.decoder.reset();
        if (cache_ && !t.is_file) {
            const CacheEntry entry{t.request->url, rec.source, rec.etag, rec.last_modified,
                                   rec.fetched_at, rec.bytes, rec.sha256};
            if (auto stored = cache_->store(t.request->name, entry, out.fetched.body); !stored)
                warn(t.request->name + ": warning: HTTP cache not written: " + stored.error().message);
        }
        std::string line = t.request->name + ": " + (t.is_file ? std::string("file") : std::to_string(rec.http_status)) +
                           ", " + human_bytes(rec.bytes) + ", " + seconds_text(Clock::now() - t.first_start);
        if (t.attempts > 1) line += " (attempt " + std::to_string(t.attempts) + "/" + std::to_string(max_attempts_) + ")";
        mark_done(t, line);
    }

    void finish_not_modified(Transfer& t) {
        auto body = cache_->body(t.request->name, *t.cache);
        if (!body) {
            // The server confirmed a copy we no longer have intact: ask again
            // without conditions (this extra request is not an attempt).
            warn(t.request->name + ": warning: cached copy unusable (" + body.error().message + "), fetching it again");
            t.skip_cache = true;
            --t.attempts;
            t.ready_at = Clock::now();
            return;
        }
        if (body->size() > t.request->max_bytes)
            return finish_failed(t, "body over " + std::to_string(t.request->max_bytes) + " bytes (cached copy)", false);
        FetchOutcome& out = *t.outcome;
        FetchRecord& rec = out.fetched.record;
        out.fetched.body = std::move(*body);
        rec.source = t.cache->final_url;
        rec.http_status = 304;
        rec.etag = t.cache->etag;
        rec.last_modified = t.cache->last_modified;
        rec.fetched_at = t.cache->fetched_at;
        rec.bytes = t.cache->bytes;
        rec.sha256 = t.cache->sha256;
        rec.from_cache = true;
        out.ok = true;
        out.error.clear();
        out.attempts = t.attempts;
        mark_done(t, t.request->name + ": 304 not modified");
    }

    void finish_failed(Transfer& t, const std::string& error, bool error_counts_attempts) {
        FetchOutcome& out = *t.outcome;
        out.ok = false;
        out.error = error;
        out.attempts = t.attempts;
        out.fetched.body.clear();
        t.decoder.reset();
        std::string line = t.request->name + ": failed: " + error;
        if (!error_counts_attempts && t.attempts > 0)
            line += " (attempt " + std::to_string(t.attempts) + "/" + std::to_string(max_attempts_) + ")";
        mark_done(t, line);
    }

    void mark_done(Transfer& t, const std::string& line) {
        t.state = State::done;
        ++done_;
        done_bytes_ += t.outcome->fetched.body.size();
        if (!options_.progress) log_line(line);
        if (t.easy) {  // free the handle now; the multi keeps the connection for reuse
            t.easy.reset();
            t.headers.reset();
        }
    }

    void log_line(const std::string& line) {
        if (!options_.log || options_.progress) return;
        *options_.log << line << '\n';
        options_.log->flush();
    }

    // A line that matters in progress mode too: it goes above the progress line.
    void warn(const std::string& line) {
        if (!options_.log) return;
        if (options_.progress) {
            std::string text = '\r' + line;
            if (line.size() < progress_width_) text.append(progress_width_ - line.size(), ' ');
            progress_width_ = 0;
            *options_.log << text << '\n';
        } else {
            *options_.log << line << '\n';
        }
        options_.log->flush();
    }

    void show_progress(bool final) {
        if (!options_.progress || !options_.log) return;
        const auto now = Clock::now();
        if (!final && now - last_progress_ < std::chrono::milliseconds(100) && done_ == last_done_) return;
        last_progress_ = now;
        last_done_ = done_;
        std::uint64_t bytes = done_bytes_;
        for (const Transfer& t : transfers_)
            if (t.state == State::active && t.decoder) bytes += t.decoder->size();
        std::string line = "fetching " + std::to_string(started_) + "/" + std::to_string(transfers_.size()) +
                           " feeds, " + std::to_string(done_) + " done, " + human_bytes(bytes);
        if (final) {
            std::size_t failed = 0;
            for (const Transfer& t : transfers_) failed += t.outcome->ok ? 0 : 1;
            line = "fetched " + std::to_string(transfers_.size()) + " feeds: " +
                   std::to_string(transfers_.size() - failed) + " ok, " + std::to_string(failed) + " failed, " +
                   human_bytes(bytes);
        }
        const std::size_t width = line.size();
        if (line.size() < progress_width_) line.append(progress_width_ - line.size(), ' ');
        progress_width_ = width;
        *options_.log << '\r' << line;
        if (final) *options_.log << '\n';
        options_.log->flush();
    }

    const FetchOptions& options_;
    std::optional<HttpCache> cache_;
    std::vector<Transfer> transfers_;
    CURLM* multi_ = nullptr;
    int max_parallel_ = 1;
    int max_attempts_ = 1;
    int active_ = 0;
    std::size_t started_ = 0;
    std::size_t done_ = 0;
    std::uint64_t done_bytes_ = 0;
    Clock::time_point last_progress_{};
    std::size_t last_done_ = 0;
    std::size_t progress_width_ = 0;
};

}  // namespace

std::vector<FetchOutcome> fetch_all(std::span<const FetchRequest> requests, const FetchOptions& options) {
    std::vector<FetchOutcome> outcomes;
    try {
        outcomes.resize(requests.size());
        for (std::size_t i = 0; i < requests.size(); ++i) {
            outcomes[i].name = requests[i].name;
            outcomes[i].fetched.record.url = requests[i].url;
        }
        Session session(requests, options, outcomes);
        try {
            session.run();
        } catch (const std::exception& e) {
            session.fail_all(std::string("internal error: ") + e.what());
        }
    } catch (...) {
        // Out of memory before anything ran: report what can be reported.
        for (auto& o : outcomes) {
            if (o.ok) continue;
            o.error = "internal error";
        }
    }
    return outcomes;
}

}  // namespace anondb::sources
