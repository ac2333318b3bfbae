// Helpers shared by two or more doctest suites. Header-only; every suite is
// its own executable, so the definitions are inline. Needs ANONDB_SOURCE_DIR,
// which tests/CMakeLists.txt defines for every suite; run_cli also needs
// ANONDB_CLI (defined there for every suite too) and is left out without it.
#pragma once

#include <doctest/doctest.h>

#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <optional>
#include <set>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "anondb/ip.hpp"
#include "anondb/sources/parse.hpp"

namespace anondb::test {

// The source tree, for fixtures (feeds.yaml, data/snapshot, tests/data).
inline const std::string kRepo = ANONDB_SOURCE_DIR;

inline bool contains(std::string_view hay, std::string_view needle) { return hay.find(needle) != std::string_view::npos; }

// ---- files -----------------------------------------------------------------------

inline std::string read_text(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    REQUIRE_MESSAGE(in.good(), "cannot open " << path.string());
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// A file of the repository, by its path from the root.
inline std::string read_repo_file(const std::string& relative) { return read_text(kRepo + "/" + relative); }

inline std::vector<std::byte> read_bytes(const std::filesystem::path& path) {
    const std::string s = read_text(path);
    std::vector<std::byte> out(s.size());
    if (!s.empty()) std::memcpy(out.data(), s.data(), s.size());
    return out;
}

inline void write_text(const std::filesystem::path& path, std::string_view text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    REQUIRE(out.good());
}

inline void write_bytes(const std::filesystem::path& path, std::span<const std::byte> bytes) {
    write_text(path, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

// A fresh directory under the system temporary directory (PREFIX-XXXXXX),
// removed with everything in it when the object goes.
struct TempDir {
    std::filesystem::path path;
    explicit TempDir(std::string_view prefix = "anondb-test") {
        std::string tmpl = (std::filesystem::temp_directory_path() / (std::string(prefix) + "-XXXXXX")).string();
        REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
        path = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    std::set<std::string> listing() const {
        std::set<std::string> out;
        for (const auto& e : std::filesystem::directory_iterator(path)) out.insert(e.path().filename().string());
        return out;
    }
};

// ---- processes -------------------------------------------------------------------

// `s` as one POSIX shell word: in single quotes, each ' written '\''.
inline std::string shell_quote(std::string_view s) {
    std::string out = "'";
    for (const char c : s) {
        if (c == '\'') out += "'\\''";
        else out += c;
    }
    return out + "'";
}

// A finished command: its exit status (-1 when it did not exit, e.g. killed
// by a signal), its stdout and its stderr.
struct CliRun {
    int code = -1;
    std::string out, err;
};

// Runs `command_line` through the shell (std::system) as
//   cd DIR && COMMAND_LINE <IN >.stdout 2>.stderr
// so the redirections apply to the line's last simple command. IN is
// /dev/null when `stdin_text` is nullopt; otherwise DIR/.stdin, written with
// `stdin_text` first (an empty text is an empty file, not /dev/null). The
// capture files stay in DIR and are overwritten by the next run there.
inline CliRun run_in(const std::filesystem::path& dir, const std::string& command_line,
                     const std::optional<std::string>& stdin_text = std::nullopt) {
    std::string cmd = "cd " + shell_quote(dir.string()) + " && " + command_line;
    if (stdin_text) {
        write_text(dir / ".stdin", *stdin_text);
        cmd += " <.stdin";
    } else {
        cmd += " </dev/null";
    }
    cmd += " >.stdout 2>.stderr";
    const int status = std::system(cmd.c_str());
    CliRun r;
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = read_text(dir / ".stdout");
    r.err = read_text(dir / ".stderr");
    return r;
}

#ifdef ANONDB_CLI
// The built anondb binary.
inline const std::string kCli = ANONDB_CLI;

// Runs the anondb binary with `args` (each quoted) in `dir`, as run_in does.
inline CliRun run_cli(const std::filesystem::path& dir, std::initializer_list<std::string_view> args,
                      const std::optional<std::string>& stdin_text = std::nullopt) {
    std::string line = shell_quote(kCli);
    for (const auto a : args) {
        line += ' ';
        line += shell_quote(a);
    }
    return run_in(dir, line, stdin_text);
}
#endif

// ---- text ------------------------------------------------------------------------

// Independent line split for cross-checks: by '\n' only, nothing stripped.
// A final line without '\n' counts; the empty piece after a final '\n' not.
// Line = std::string_view (the default) views into `text`, which must then
// outlive the result; Line = std::string copies each line.
template <class Line = std::string_view>
std::vector<Line> split_lines(std::string_view text) {
    std::vector<Line> out;
    std::size_t start = 0;
    while (start < text.size()) {
        std::size_t nl = text.find('\n', start);
        if (nl == std::string_view::npos) nl = text.size();
        out.emplace_back(text.substr(start, nl - start));
        start = nl + 1;
    }
    return out;
}

// ---- addresses -------------------------------------------------------------------

// Literals the test itself writes: a parse failure is a bug in the test.
inline Ip ip_of(std::string_view text) {
    const auto a = parse_ip(text);
    REQUIRE_MESSAGE(a, "test bug: bad address literal " << text);
    return a->ip;
}
inline Range range_of(std::string_view text) {
    const auto r = parse_range(text);
    REQUIRE_MESSAGE(r, "test bug: bad range literal " << text);
    return r->range;
}

// 128-bit arithmetic for checks that must not share code with ip.hpp.
__extension__ typedef unsigned __int128 U128;
inline U128 to_u128(Ip a) { return (U128{a.hi} << 64) | a.lo; }
inline Ip to_ip(U128 v) { return Ip{static_cast<std::uint64_t>(v >> 64), static_cast<std::uint64_t>(v)}; }

// ---- time ------------------------------------------------------------------------

// Unix seconds of a UTC civil time, by the C library.
inline std::int64_t utc(int y, int mo, int d, int h = 0, int mi = 0, int s = 0) {
    struct tm tm {};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = s;
    return static_cast<std::int64_t>(::timegm(&tm));
}

// ---- parser results ----------------------------------------------------------

// An expected reject or warning: its line and exact reason.
struct Issue {
    std::uint32_t line;
    std::string reason;
    Issue(std::uint32_t l, std::string_view r) : line(l), reason(r) {}
};

inline void check_issues(const std::vector<sources::LineIssue>& got, const std::vector<Issue>& want) {
    std::string got_reasons;  // shown when the count differs
    for (const auto& i : got) got_reasons += std::to_string(i.line) + ": " + i.reason + "\n";
    CAPTURE(got_reasons);
    REQUIRE(got.size() == want.size());
    for (std::size_t k = 0; k < want.size(); ++k) {
        CAPTURE(k);
        CHECK(got[k].line == want[k].line);
        CHECK(got[k].reason == want[k].reason);
    }
}

inline std::vector<std::uint32_t> entry_lines(const sources::ParseResult& r) {
    std::vector<std::uint32_t> out;
    for (const auto& e : r.entries) out.push_back(e.line);
    return out;
}

inline std::string reason(IpError e) { return std::string(ip_error_text(e)); }

// Noise for parser robustness loops: random bodies, and real bodies with a
// few random edits (the kinds of damage a download or an editor does).
class FeedNoise {
public:
    // `alphabet`: the characters the formats under test care about; one
    // byte in four is drawn from all 256 instead.
    FeedNoise(std::uint64_t seed, std::string_view alphabet) : rng_(seed), alphabet_(alphabet) {}

    std::size_t uniform(std::size_t n) { return static_cast<std::size_t>(rng_() % n); }
    char byte() { return uniform(4) == 0 ? static_cast<char>(rng_()) : alphabet_[uniform(alphabet_.size())]; }

    std::string random_body(std::size_t max_size) {
        std::string body(uniform(max_size), '\0');
        for (char& c : body) c = byte();
        return body;
    }

    // 1..max_edits edits: replace, insert or erase bytes, truncate, copy a
    // slice elsewhere, or change a character inside an address.
    std::string mutate(std::string body, std::size_t max_edits) {
        const std::size_t edits = 1 + uniform(max_edits);
        for (std::size_t k = 0; k < edits && !body.empty(); ++k) {
            const std::size_t at = uniform(body.size());
            switch (uniform(6)) {
                case 0: body[at] = byte(); break;
                case 1: body.insert(body.begin() + static_cast<std::ptrdiff_t>(at), byte()); break;
                case 2: body.erase(at, 1 + uniform(16)); break;
                case 3: body.resize(at); break;  // truncated download
                case 4: body.insert(at, body.substr(uniform(body.size()), uniform(64))); break;
                case 5:  // keeps the surrounding structure valid
                    if (body[at] >= '0' && body[at] <= '9') body[at] = "0123456789./:x"[uniform(14)];
                    break;
            }
        }
        return body;
    }

private:
    std::mt19937_64 rng_;
    std::string_view alphabet_;
};

}  // namespace anondb::test
