// `aws-ip-ranges`: https://ip-ranges.amazonaws.com/ip-ranges.json
//
//   { "syncToken": "...", "createDate": "...",
//     "prefixes": [ { "ip_prefix": "3.4.12.4/32", "region": ..., ... }, ... ],
//     "ipv6_prefixes": [ { "ipv6_prefix": "2600:1f00::/40", ... }, ... ] }
//
// RapidJSON's SAX reader runs in situ over a copy of the body, so every string
// it reports points into the copy and its offset is the offset of the same
// text in the body. Values without a string (objects, numbers) are located by
// the stream position. Iterative parsing keeps deep nesting off the call stack.
#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include <rapidjson/error/en.h>
#include <rapidjson/reader.h>

#include "anondb/sources/formats.hpp"
#include "lines.hpp"

namespace anondb::sources {
namespace {

namespace rj = rapidjson;

enum class List { v4 = 0, v6 = 1 };

struct ListText {
    std::string_view array;  // member of the root object
    std::string_view field;  // member of each entry
    std::string_view missing_array, not_array, missing_field, not_string, duplicate, wrong_family;
};

constexpr ListText kList[2] = {
    {"prefixes", "ip_prefix", reasons::kMissingPrefixes, reasons::kPrefixesNotArray,
     reasons::kMissingIpPrefix, reasons::kIpPrefixNotString, reasons::kDuplicateIpPrefix,
     reasons::kV6InPrefixes},
    {"ipv6_prefixes", "ipv6_prefix", reasons::kMissingIpv6Prefixes, reasons::kIpv6PrefixesNotArray,
     reasons::kMissingIpv6Prefix, reasons::kIpv6PrefixNotString, reasons::kDuplicateIpv6Prefix,
     reasons::kV4InIpv6Prefixes},
};

constexpr const ListText& text_of(List l) noexcept { return kList[static_cast<int>(l)]; }

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
    std::string_view line_around(std::size_t off) const noexcept {
        off = std::min(off, body_.size());
        const std::size_t nl = off == 0 ? std::string_view::npos : body_.rfind('\n', off - 1);
        const std::size_t start = nl == std::string_view::npos ? 0 : nl + 1;
        std::string_view line = body_.substr(start);
        line = line.substr(0, line.find('\n'));
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        return detail::trim_blanks(line);
    }

private:
    std::string_view body_;
    std::size_t counted_to_ = 0;
    std::uint32_t line_ = 1;
};

// Follows the expected shape root{prefixes[{ip_prefix}], ipv6_prefixes[...]}
// and skips everything else.
class Handler : public rj::BaseReaderHandler<rj::UTF8<>, Handler> {
public:
    Handler(std::string_view body, const char* buf, const rj::InsituStringStream& is,
            std::size_t base, ParseResult& out) noexcept
        : body_(body), buf_(buf), is_(is), base_(base), lines_(body), out_(out) {}

    bool Default() {  // null, true, false, numbers
        bad_value(role(), scalar_pos());
        return true;
    }

    bool String(const char* s, rj::SizeType n, bool) {
        const Role r = role();
        const std::size_t off = string_pos(s);
        if (r == Role::field)
            prefix(std::string_view(s, n), off);
        else
            bad_value(r, off);
        return true;
    }

    bool Key(const char* s, rj::SizeType n, bool) {
        if (skip_ > 0 || frames_.empty()) return true;
        const std::string_view key(s, n);
        Frame& top = frames_.back();
        if (top.level == Level::root) {
            pending_list_.reset();
            for (List l : {List::v4, List::v6}) {
                if (key == text_of(l).array) {
                    pending_list_ = l;
                    key_seen_[static_cast<int>(l)] = true;
                }
            }
        } else if (top.level == Level::element) {
            pending_field_ = key == text_of(top.list).field;
        }
        return true;
    }

    bool StartObject() {
        const Role r = role();
        const std::size_t off = start_pos('{');
        if (r == Role::root) {
            frames_.push_back({Level::root, List::v4});
            root_is_object_ = true;
        } else if (r == Role::element) {
            frames_.push_back({Level::element, frames_.back().list});
            element_off_ = off;
            element_line_ = lines_.line_at(off);
            element_has_field_ = false;
        } else {
            bad_value(r, off);
            ++skip_;
        }
        return true;
    }

    bool StartArray() {
        const Role r = role();
        const std::size_t off = start_pos('[');
        if (r == Role::list) {
            frames_.push_back({Level::list, *list_of_value_});
        } else {
            bad_value(r, off);
            ++skip_;
        }
        return true;
    }

    bool EndObject(rj::SizeType) { return end(); }
    bool EndArray(rj::SizeType) { return end(); }

    // After a successful parse: report lists that were never there.
    void finish() {
        if (!root_is_object_) return;
        for (List l : {List::v4, List::v6}) {
            if (!key_seen_[static_cast<int>(l)])
                detail::add_issue(out_.rejects, 1, text_of(l).missing_array, lines_.line_around(base_));
        }
    }

private:
    enum class Level { root, list, element };
    struct Frame {
        Level level;
        List list;  // for list and element frames
    };
    enum class Role {
        ignored,  // inside something we skip, or a member we do not read
        root,     // the document root
        list,     // the value of "prefixes" / "ipv6_prefixes"
        element,  // one element of a list
        field,    // the value of "ip_prefix" / "ipv6_prefix" in an element
    };

    // What the value now starting means. Called exactly once per value.
    Role role() {
        if (skip_ > 0) return Role::ignored;
        if (frames_.empty()) return Role::root;
        const Frame& top = frames_.back();
        switch (top.level) {
            case Level::root: {
                list_of_value_ = pending_list_;
                pending_list_.reset();
                return list_of_value_ ? Role::list : Role::ignored;
            }
            case Level::list:
                return Role::element;
            case Level::element: {
                const bool field = pending_field_;
                pending_field_ = false;
                return field ? Role::field : Role::ignored;
            }
        }
        return Role::ignored;
    }

    bool end() {
        if (skip_ > 0) {
            --skip_;
            return true;
        }
        if (frames_.empty()) return true;
        const Frame top = frames_.back();
        frames_.pop_back();
        if (top.level == Level::element && !element_has_field_)
            detail::add_issue(out_.rejects, element_line_, text_of(top.list).missing_field,
                              lines_.line_around(element_off_));
        return true;
    }

    void bad_value(Role r, std::size_t off) {
        std::string_view reason;
        switch (r) {
            case Role::ignored: return;
            case Role::root: reason = reasons::kRootNotObject; break;
            case Role::list: reason = text_of(*list_of_value_).not_array; break;
            case Role::element: reason = reasons::kEntryNotObject; break;
            case Role::field:
                reason = text_of(frames_.back().list).not_string;
                element_has_field_ = true;  // present, if of the wrong type
                break;
        }
        detail::add_issue(out_.rejects, lines_.line_at(off), reason, lines_.line_around(off));
    }

    void prefix(std::string_view decoded, std::size_t off) {
        // The raw text in the body runs to the closing quote; it differs from
        // the decoded string only when the JSON uses escapes.
        std::size_t end = off;
        while (end < body_.size() && body_[end] != '"') end += body_[end] == '\\' ? 2 : 1;
        end = std::min(end, body_.size());
        const std::string_view quote = body_.substr(off, end - off);
        const std::uint32_t line = lines_.line_at(off);
        const List list = frames_.back().list;
        if (element_has_field_) {
            detail::add_issue(out_.rejects, line, text_of(list).duplicate, quote);
            return;
        }
        element_has_field_ = true;
        const detail::TokenParse parsed = detail::parse_token(decoded, detail::Shape::prefix);
        if (!parsed.value) {
            detail::add_issue(out_.rejects, line, parsed.reason, quote);
            return;
        }
        const bool written_v6 = decoded.find(':') != std::string_view::npos;
        if (written_v6 != (list == List::v6)) {
            detail::add_issue(out_.rejects, line, text_of(list).wrong_family, quote);
            return;
        }
        detail::accept(out_, body_, line, *parsed.value, quote);
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
    LineCounter lines_;
    ParseResult& out_;

    std::vector<Frame> frames_;  // at most root, list, element
    std::size_t skip_ = 0;       // depth inside containers we skip
    std::optional<List> pending_list_;  // root member key just read
    std::optional<List> list_of_value_;
    bool pending_field_ = false;  // element member key just read
    bool root_is_object_ = false;
    bool key_seen_[2] = {false, false};
    std::size_t element_off_ = 0;
    std::uint32_t element_line_ = 0;
    bool element_has_field_ = false;
};

}  // namespace

ParseResult parse_aws_ip_ranges(std::string_view body) {
    ParseResult out;
    if (detail::refuse_oversized(body, out)) return out;
    const std::size_t base = detail::bom_length(body);
    std::vector<char> buf(body.begin(), body.end());
    buf.push_back('\0');
    rj::InsituStringStream is(buf.data() + base);
    Handler handler(body, buf.data(), is, base, out);
    rj::Reader reader;
    const rj::ParseResult ok = reader.Parse<rj::kParseInsituFlag | rj::kParseIterativeFlag>(is, handler);

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
        handler.finish();
        return out;
    }
    // A syntax error anywhere voids the whole document: partial lists from a
    // truncated download must not pass for the feed.
    out = ParseResult{};
    LineCounter lines(body);
    detail::add_issue(out.rejects, lines.line_at(error_at), reason, lines.line_around(error_at));
    return out;
}

}  // namespace anondb::sources
