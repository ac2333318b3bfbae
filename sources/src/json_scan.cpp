#include "json_scan.hpp"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include <rapidjson/error/en.h>
#include <rapidjson/reader.h>

#include "anondb/sources/formats.hpp"

namespace anondb::sources::detail::json {
namespace {

namespace rj = rapidjson;

// Offsets to 1-based line numbers, counting '\n' in the original body. Calls
// come in document order, so counting only moves forward (O(n) in all).
class LineCounter {
public:
    explicit LineCounter(std::string_view body) noexcept : body_(body) {}

    std::uint32_t line_at(std::size_t off) noexcept {
        off = std::min(off, body_.size());
        if (off < counted_to_) {
            counted_to_ = 0;
            line_ = 1;
        }
        line_ += static_cast<std::uint32_t>(
            std::count(body_.begin() + static_cast<std::ptrdiff_t>(counted_to_),
                       body_.begin() + static_cast<std::ptrdiff_t>(off), '\n'));
        counted_to_ = off;
        return line_;
    }

    // The line holding `off`, without its line ending and surrounding blanks.
    // Only kWindow bytes either side are looked at, so that many issues on
    // one huge line (minified JSON) cost no more than their quotes: when the
    // line starts further back, the text starts at `off` itself.
    std::string_view line_around(std::size_t off) const noexcept {
        static constexpr std::size_t kWindow = 4096;
        off = std::min(off, body_.size());
        const std::size_t floor = off > kWindow ? off - kWindow : 0;
        std::size_t start = off;
        while (start > floor && body_[start - 1] != '\n') --start;
        if (start > 0 && body_[start - 1] != '\n') start = off;
        std::string_view line = body_.substr(start, kWindow);
        line = line.substr(0, line.find('\n'));
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        return trim_blanks(line);
    }

private:
    std::string_view body_;
    std::size_t counted_to_ = 0;
    std::uint32_t line_ = 1;
};

enum class Got : std::uint8_t { object, array, string, scalar };

constexpr bool is(Got got, Kind kind) noexcept {
    return (got == Got::object && kind == Kind::object) || (got == Got::array && kind == Kind::array) ||
           (got == Got::string && kind == Kind::string);
}

constexpr std::uint32_t slot_bit(unsigned slot) noexcept { return std::uint32_t{1} << (slot & 31u); }

const Member* find_member(const Node& object, std::string_view key) noexcept {
    for (const Member& m : object.members)
        if (m.key == key) return &m;
    return nullptr;
}

// Follows the schema from the root and skips everything else.
class Handler : public rj::BaseReaderHandler<rj::UTF8<>, Handler> {
public:
    Handler(std::string_view body, const char* buf, const rj::InsituStringStream& is, std::size_t base,
            const Node& root, const ParseOptions& options, ParseResult& out) noexcept
        : body_(body), buf_(buf), is_(is), base_(base), root_(root), options_(options), lines_(body), out_(out) {}

    bool Default() {  // null, true, false, numbers
        start_value(Got::scalar, scalar_pos());
        return true;
    }

    bool String(const char* s, rj::SizeType n, bool) {
        const std::size_t off = string_pos(s);
        if (const Node* node = start_value(Got::string, off)) read_string(*node, std::string_view(s, n), off);
        return !out_.over_max_entries;  // false stops the reader
    }

    bool Key(const char* s, rj::SizeType n, bool) {
        // Keys come only in objects; with nothing skipped, that object is on top.
        if (skip_ == 0 && !frames_.empty()) pending_ = find_member(*frames_.back().node, std::string_view(s, n));
        return true;
    }

    bool StartObject() {
        open(Got::object, start_pos('{'));
        return true;
    }
    bool StartArray() {
        open(Got::array, start_pos('['));
        return true;
    }
    bool EndObject(rj::SizeType) {
        close();
        return true;
    }
    bool EndArray(rj::SizeType) {
        close();
        return true;
    }

private:
    struct Frame {
        const Node* node;
        std::uint32_t seen;  // slots of the members met so far (objects)
        std::uint32_t line;  // of the opening bracket
        std::size_t off;
    };

    // The node a value now starting must match, or nullptr when it is not
    // read (not in the schema, or rejected here). Called once per value.
    const Node* start_value(Got got, std::size_t off) {
        if (skip_ > 0) return nullptr;
        const Node* node = &root_;
        const Member* member = nullptr;
        if (!frames_.empty()) {
            const Node& parent = *frames_.back().node;
            if (parent.kind == Kind::array) {
                node = parent.element;
            } else {
                member = std::exchange(pending_, nullptr);
                node = member ? member->node : nullptr;
            }
        }
        if (node == nullptr) return nullptr;
        bool again = false;
        if (member) {
            std::uint32_t& seen = frames_.back().seen;
            again = (seen & slot_bit(member->slot)) != 0;
            seen |= slot_bit(member->slot);  // present, even if of the wrong kind
        }
        if (!is(got, node->kind)) {
            add_issue(out_.rejects, lines_.line_at(off), node->wrong_kind, lines_.line_around(off));
            return nullptr;
        }
        if (again && !member->duplicate.empty()) {
            add_issue(out_.rejects, lines_.line_at(off), member->duplicate,
                      got == Got::string ? string_text(off) : lines_.line_around(off));
            return nullptr;
        }
        return node;
    }

    void open(Got got, std::size_t off) {
        const Node* node = start_value(got, off);
        if (node == nullptr) {
            ++skip_;
            return;
        }
        const std::size_t at = frames_.empty() ? base_ : off;  // the root stands for the document
        frames_.push_back(Frame{node, 0, lines_.line_at(at), at});
    }

    void close() {
        if (skip_ > 0) {
            --skip_;
            return;
        }
        if (frames_.empty()) return;
        const Frame top = frames_.back();
        frames_.pop_back();
        std::uint32_t done = top.seen;
        for (const Member& m : top.node->members) {
            if (m.missing.empty() || (done & slot_bit(m.slot)) != 0) continue;
            done |= slot_bit(m.slot);
            add_issue(out_.rejects, top.line, m.missing, lines_.line_around(top.off));
        }
    }

    void read_string(const Node& node, std::string_view decoded, std::size_t off) {
        const std::string_view quote = string_text(off);
        const std::uint32_t line = lines_.line_at(off);
        const TokenParse parsed = node.token ? node.token(decoded) : parse_token(decoded, node.shape);
        if (!parsed.value) {
            add_issue(out_.rejects, line, parsed.reason, quote);
            return;
        }
        const bool written_v6 = decoded.find(':') != std::string_view::npos;
        if (node.family != Family::any && written_v6 != (node.family == Family::v6)) {
            add_issue(out_.rejects, line, node.wrong_family, quote);
            return;
        }
        accept(out_, options_, body_, line, *parsed.value, quote);
    }

    // The text of the string starting at `off` as written in the body, up to
    // its closing quote; it differs from the decoded string only when the
    // JSON uses escapes.
    std::string_view string_text(std::size_t off) const noexcept {
        std::size_t end = off;
        while (end < body_.size() && body_[end] != '"') end += body_[end] == '\\' ? 2 : 1;
        end = std::min(end, body_.size());
        return body_.substr(off, end - off);
    }

    // Offset in the body of the stream's read position.
    std::size_t stream_pos() const noexcept { return base_ + static_cast<std::size_t>(is_.src_ - is_.head_); }
    // A scalar has just been read: its last byte.
    std::size_t scalar_pos() const noexcept {
        const std::size_t p = stream_pos();
        return p > 0 ? p - 1 : 0;
    }
    // An opening bracket, whether the reader has consumed it yet or not.
    std::size_t start_pos(char bracket) const noexcept {
        const std::size_t p = stream_pos();
        if (p < body_.size() && body_[p] == bracket) return p;
        return p > 0 ? p - 1 : 0;
    }
    // In situ, a string's characters stand where its source did.
    std::size_t string_pos(const char* s) const noexcept {
        if (s >= buf_ && s <= buf_ + body_.size()) return static_cast<std::size_t>(s - buf_);
        return scalar_pos();  // not expected in situ; stay inside the body
    }

    std::string_view body_;
    const char* buf_;
    const rj::InsituStringStream& is_;
    std::size_t base_;
    const Node& root_;
    const ParseOptions& options_;
    LineCounter lines_;
    ParseResult& out_;

    std::vector<Frame> frames_;         // the containers being read, as deep as the schema
    std::size_t skip_ = 0;              // depth inside containers being skipped
    const Member* pending_ = nullptr;   // member whose key was just read
};

}  // namespace

ParseResult scan(std::string_view body, const Node& root, const ParseOptions& options) {
    ParseResult out;
    if (refuse_oversized(body, out.rejects)) return out;
    const std::size_t base = bom_length(body);
    std::vector<char> buf(body.begin(), body.end());
    buf.push_back('\0');
    rj::InsituStringStream is(buf.data() + base);
    Handler handler(body, buf.data(), is, base, root, options, out);
    rj::Reader reader;
    const rj::ParseResult ok = reader.Parse<rj::kParseInsituFlag | rj::kParseIterativeFlag>(is, handler);
    // Stopped on purpose at the entry limit: what was read stays, marked partial.
    if (out.over_max_entries) return out;

    std::string reason;
    std::size_t error_at = 0;
    if (ok.IsError()) {
        reason = std::string(reasons::kNotJsonPrefix) + rj::GetParseError_En(ok.Code());
        error_at = base + ok.Offset();
    } else if (const std::size_t end = base + is.Tell(); end < body.size()) {
        // The reader stops at a NUL byte: anything after it was never read.
        reason = std::string(reasons::kNotJsonPrefix) + "NUL byte in document";
        error_at = end;
    } else {
        return out;
    }
    // A syntax error anywhere voids the whole document.
    out = ParseResult{};
    LineCounter lines(body);
    add_issue(out.rejects, lines.line_at(error_at), reason, lines.line_around(error_at));
    return out;
}

}  // namespace anondb::sources::detail::json
