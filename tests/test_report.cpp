// `anondb report`: build reports -> one self-contained HTML page.
//
// Unit cases build report JSON here (RapidJSON's writer), render it with
// render_report_html and read the page back with a small tag scanner of this
// file's own: the feeds table against the JSON's feeds, one chart series per
// category with the right points, deltas computed here from the JSON, hostile
// text escaped, no external reference of any kind. The end-to-end case runs
// two real offline builds of snapshot files with --report, `anondb report`,
// and renders the page with headless Chromium (Debian `chromium`, which
// test.sh installs; its absence fails the case): the rendered DOM must hold
// the table rows and the chart's SVG, and the screenshot must be a real PNG
// of a page, not one colour.
#include <doctest/doctest.h>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "anondb/builder/report_html.hpp"
#include "test_util.hpp"

using namespace anondb;
using namespace anondb::builder;
using namespace anondb::test;
namespace fs = std::filesystem;

namespace {

constexpr const char* kCategories[] = {"tor_exit", "vpn", "proxy", "relay", "hosting", "residential_proxy"};

// ---- report JSON, written here -------------------------------------------------------

struct TFeed {
    std::string name{};
    std::string status = "fresh";
    std::uint64_t accepted = 0;
    std::uint64_t rejected = 0;
    std::vector<std::string> categories{"vpn"};
    std::string url = "https://example.org/list.txt";
    std::string failure{};
    std::vector<std::pair<std::string, std::uint64_t>> reasons{};
    std::string role = "ranges";
};

struct TReport {
    std::int64_t build_time = utc(2026, 1, 1);
    std::vector<TFeed> feeds;
    std::vector<std::pair<std::string, std::uint64_t>> categories;  // ranges per category
    std::uint64_t ranges = 0;
    std::uint64_t file_bytes = 4096;
    std::uint64_t stale = 0;
    std::uint64_t omitted = 0;
    std::optional<int> version = 1;
};

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;
void str(Writer& w, std::string_view s) { w.String(s.data(), static_cast<rapidjson::SizeType>(s.size())); }

std::string json_of(const TReport& r) {
    rapidjson::StringBuffer buf;
    Writer w(buf);
    w.StartObject();
    if (r.version) {
        w.Key("report_version");
        w.Int(*r.version);
    }
    w.Key("generator");
    w.String("anondb test");
    w.Key("build_time");
    w.Int64(r.build_time);
    w.Key("build_time_iso");
    w.String("-");
    w.Key("data_version");
    w.Uint64(static_cast<std::uint64_t>(r.build_time));
    for (const char* k : {"input_entries", "answers", "evidence", "derived_ranges", "excluded_ranges"}) {
        w.Key(k);
        w.Uint64(7);
    }
    w.Key("ranges");
    w.Uint64(r.ranges);
    w.Key("stale_feeds");
    w.Uint64(r.stale);
    w.Key("omitted_feeds");
    w.Uint64(r.omitted);
    w.Key("out_path");
    w.String("build/anondb.anondb");
    w.Key("file_bytes");
    w.Uint64(r.file_bytes);
    w.Key("categories");
    w.StartObject();
    for (const auto& [name, n] : r.categories) {
        str(w, name);
        w.StartObject();
        w.Key("ranges");
        w.Uint64(n);
        w.Key("ipv4_addresses");
        w.Uint64(n * 256);
        w.Key("ipv6_ranges");
        w.Uint64(0);
        w.EndObject();
    }
    w.EndObject();
    w.Key("feeds");
    w.StartArray();
    for (const auto& f : r.feeds) {
        w.StartObject();
        w.Key("name");
        str(w, f.name);
        w.Key("url");
        str(w, f.url);
        w.Key("source");
        str(w, f.url);
        w.Key("format");
        w.String("plain");
        w.Key("role");
        str(w, f.role);
        w.Key("categories");
        w.StartArray();
        for (const auto& c : f.categories) str(w, c);
        w.EndArray();
        w.Key("status");
        str(w, f.status);
        w.Key("failure");
        str(w, f.failure);
        if (f.status != "failed") {
            w.Key("fetched_at");
            w.Int64(r.build_time - 3600);
            w.Key("age_seconds");
            w.Int64(3600);
        }
        w.Key("accepted");
        w.Uint64(f.accepted);
        w.Key("rejected");
        w.Uint64(f.rejected);
        w.Key("rejects_by_reason");
        w.StartObject();
        for (const auto& [reason, n] : f.reasons) {
            str(w, reason);
            w.Uint64(n);
        }
        w.EndObject();
        w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    return buf.GetString();
}

std::vector<std::pair<std::string, std::uint64_t>> six(std::uint64_t a, std::uint64_t b, std::uint64_t c,
                                                        std::uint64_t d, std::uint64_t e, std::uint64_t f) {
    const std::uint64_t v[] = {a, b, c, d, e, f};
    std::vector<std::pair<std::string, std::uint64_t>> out;
    for (int k = 0; k < 6; ++k) out.emplace_back(kCategories[k], v[k]);
    return out;
}

ParsedReport parsed(const TReport& r, const std::string& source = "r.json") {
    auto p = parse_build_report(json_of(r), source);
    REQUIRE_MESSAGE(p, p.error().message);
    return std::move(*p);
}

// ---- reading the page back ----------------------------------------------------------------

struct Tag {
    std::string name;  // lower case; "/name" for a closing tag
    std::map<std::string, std::string> attrs;  // values with entities decoded
    std::size_t begin = 0;                     // offset of '<'
    std::size_t end = 0;                       // offset after '>'
    std::string attr(const std::string& k) const {
        const auto it = attrs.find(k);
        return it == attrs.end() ? std::string() : it->second;
    }
    bool has_class(std::string_view c) const {
        const std::string cls = " " + attr("class") + " ";
        return contains(cls, " " + std::string(c) + " ");
    }
};

std::string decode_entities(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '&') {
            out += s[i];
            continue;
        }
        const std::pair<std::string_view, char> known[] = {
            {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&#39;", '\''}};
        bool done = false;
        for (const auto& [ent, c] : known)
            if (s.substr(i, ent.size()) == ent) {
                out += c;
                i += ent.size() - 1;
                done = true;
                break;
            }
        if (!done) out += '&';
    }
    return out;
}

// Every tag of an HTML text, in order; <style> content is skipped (and
// collected in `style_text`), as are comments and <!DOCTYPE>.
std::vector<Tag> scan_tags(std::string_view html, std::string* style_text = nullptr) {
    std::vector<Tag> out;
    std::size_t i = 0;
    auto lower = [](std::string s) {
        for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        return s;
    };
    while ((i = html.find('<', i)) != std::string_view::npos) {
        if (html.substr(i, 4) == "<!--") {
            const auto e = html.find("-->", i);
            if (e == std::string_view::npos) FAIL("unclosed comment, quote or <style> at offset " << i);
            i = e + 3;
            continue;
        }
        if (html.substr(i, 2) == "<!") {
            i = html.find('>', i) + 1;
            continue;
        }
        Tag t;
        t.begin = i;
        std::size_t k = i + 1;
        if (html[k] == '/') t.name = "/", ++k;
        const std::size_t name_start = k;
        while (k < html.size() && (std::isalnum(static_cast<unsigned char>(html[k])) || html[k] == '-' || html[k] == ':')) ++k;
        t.name += lower(std::string(html.substr(name_start, k - name_start)));
        if (t.name == "" || t.name == "/") FAIL("a '<' that opens no tag at offset " << i);
        for (;;) {
            while (k < html.size() && std::isspace(static_cast<unsigned char>(html[k]))) ++k;
            if (k >= html.size()) FAIL("a tag not closed at offset " << i);
            if (html[k] == '>') break;
            if (html[k] == '/') {
                ++k;
                continue;
            }
            const std::size_t a = k;
            while (k < html.size() && !std::isspace(static_cast<unsigned char>(html[k])) && html[k] != '=' &&
                   html[k] != '>' && html[k] != '/')
                ++k;
            const std::string key = lower(std::string(html.substr(a, k - a)));
            std::string value;
            if (html[k] == '=') {
                ++k;
                if (html[k] == '"' || html[k] == '\'') {
                    const char q = html[k];
                    const auto e = html.find(q, k + 1);
                    if (e == std::string_view::npos) FAIL("unclosed comment, quote or <style> at offset " << i);
                    value = decode_entities(html.substr(k + 1, e - k - 1));
                    k = e + 1;
                } else {
                    const std::size_t v = k;
                    while (k < html.size() && !std::isspace(static_cast<unsigned char>(html[k])) && html[k] != '>') ++k;
                    value = decode_entities(html.substr(v, k - v));
                }
            }
            t.attrs[key] = value;
        }
        t.end = k + 1;
        i = t.end;
        if (t.name == "style") {
            const auto e = html.find("</style>", i);
            if (e == std::string_view::npos) FAIL("unclosed comment, quote or <style> at offset " << i);
            if (style_text) *style_text += html.substr(i, e - i);
            i = e;
        }
        out.push_back(std::move(t));
    }
    return out;
}

// The text of html[from, to) without tags, entities decoded.
std::string text_of(std::string_view html, std::size_t from, std::size_t to) {
    std::string raw;
    bool in_tag = false;
    for (std::size_t i = from; i < to; ++i) {
        if (html[i] == '<') in_tag = true;
        else if (html[i] == '>') in_tag = false;
        else if (!in_tag) raw += html[i];
    }
    return decode_entities(raw);
}

// The element with this id: [its tag's begin, the end of its closing tag).
std::pair<std::size_t, std::size_t> element(std::string_view html, const std::vector<Tag>& tags, const std::string& id) {
    for (std::size_t k = 0; k < tags.size(); ++k) {
        if (tags[k].attr("id") != id) continue;
        int depth = 0;
        for (std::size_t j = k; j < tags.size(); ++j) {
            if (tags[j].name == tags[k].name) ++depth;
            if (tags[j].name == "/" + tags[k].name && --depth == 0) return {tags[k].begin, tags[j].end};
        }
        FAIL("element #" << id << " is not closed");
    }
    FAIL("no element #" << id << " in the page (" << html.size() << " bytes)");
    return {0, 0};
}

std::vector<Tag> tags_in(const std::vector<Tag>& tags, std::pair<std::size_t, std::size_t> span) {
    std::vector<Tag> out;
    for (const auto& t : tags)
        if (t.begin >= span.first && t.end <= span.second) out.push_back(t);
    return out;
}

// Rows <tr class=CLS> inside element #id, with their text.
struct Row {
    Tag tag;
    std::string text;
};
std::vector<Row> rows(std::string_view html, const std::vector<Tag>& tags, const std::string& id, std::string_view cls) {
    const auto span = element(html, tags, id);
    std::vector<Row> out;
    const auto inside = tags_in(tags, span);
    for (std::size_t k = 0; k < inside.size(); ++k) {
        if (inside[k].name != "tr" || !inside[k].has_class(cls)) continue;
        std::size_t j = k + 1;
        while (j < inside.size() && inside[j].name != "/tr") ++j;
        REQUIRE(j < inside.size());
        out.push_back({inside[k], text_of(html, inside[k].end, inside[j].begin)});
    }
    return out;
}

// What in a page could make a browser fetch something: elements that load,
// event handlers, attributes that name a resource, URLs in any attribute.
std::vector<std::string> external_references(std::string_view html, std::string* style = nullptr) {
    const auto tags = scan_tags(html, style);
    const std::set<std::string> fetching = {"script", "link", "img", "iframe", "object", "embed", "base", "audio",
                                            "video", "source", "frame", "form", "input", "picture", "track", "use",
                                            "image", "foreignobject", "a"};
    std::vector<std::string> problems;
    for (const auto& t : tags) {
        const std::string where = "<" + t.name + "> at offset " + std::to_string(t.begin);
        if (fetching.count(t.name)) problems.push_back("element " + where);
        for (const auto& attr : t.attrs) {
            const std::string& k = attr.first;
            std::string lv;
            for (char c : attr.second) lv += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            const std::string what = where + ": " + k + "=\"" + attr.second + "\"";
            if (k.rfind("on", 0) == 0) problems.push_back("event handler " + what);
            for (const char* banned : {"src", "href", "xlink:href", "srcset", "action", "formaction", "poster", "data",
                                       "background", "xmlns"})
                if (k == banned) problems.push_back("attribute " + what);
            if (contains(lv, "://") || lv.rfind("//", 0) == 0 || contains(lv, "javascript:") || contains(lv, "url("))
                problems.push_back("a URL in " + what);
        }
    }
    return problems;
}

// The page loads nothing: no element that fetches, no URL or script in any
// attribute, no url() or @import in the CSS, and a CSP that forbids loading.
void check_self_contained(std::string_view html) {
    std::string style;
    const auto problems = external_references(html, &style);
    std::string list;
    for (const auto& p : problems) list += "\n  " + p;
    CHECK_MESSAGE(problems.empty(), "the page refers to something outside it:" << list);
    const auto tags = scan_tags(html);
    CHECK(!style.empty());
    CHECK(!contains(style, "url("));
    CHECK(!contains(style, "@import"));
    CHECK(!contains(style, "@font-face"));
    // A Content-Security-Policy that forbids loading anything.
    bool csp = false;
    for (const auto& t : tags)
        if (t.name == "meta" && t.attr("http-equiv") == "Content-Security-Policy")
            csp = t.attr("content").rfind("default-src 'none'", 0) == 0;
    CHECK(csp);
}

// Valid UTF-8 with no control byte but \n (independent of html_escape).
void check_clean_text(std::string_view s) {
    std::string problem;
    for (std::size_t i = 0; i < s.size() && problem.empty();) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            if ((c < 0x20 && c != '\n') || c == 0x7f)
                problem = "control byte " + std::to_string(c) + " at offset " + std::to_string(i);
            else ++i;
            continue;
        }
        const std::size_t len = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
        bool ok = len != 0 && i + len <= s.size();
        for (std::size_t k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
        if (ok) i += len;
        else problem = "invalid UTF-8 at offset " + std::to_string(i);
    }
    CHECK_MESSAGE(problem.empty(), problem);
}

// How the page shows a text: control bytes as \xNN (the rest unchanged).
std::string shown(std::string_view s) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (const unsigned char c : s) {
        if (c < 0x20 || c == 0x7f) {
            out += "\\x";
            out += kHex[c >> 4];
            out += kHex[c & 0xf];
        } else {
            out += static_cast<char>(c);
        }
    }
    return out;
}

std::string with_commas(std::uint64_t n) {
    std::string d = std::to_string(n), out;
    for (std::size_t i = 0; i < d.size(); ++i) {
        if (i && (d.size() - i) % 3 == 0) out += ',';
        out += d[i];
    }
    return out;
}
std::string signed_commas(std::int64_t n) {
    if (n == 0) return "0";
    return (n > 0 ? "+" : "-") + with_commas(static_cast<std::uint64_t>(n > 0 ? n : -n));
}

// ---- the chart, read back -------------------------------------------------------------------

struct Series {
    std::string category;
    std::vector<std::uint64_t> values;
    std::vector<double> ys;
    std::vector<std::string> builds;
    std::size_t polyline_points = 0;
};

std::vector<Series> chart_series(std::string_view html) {
    const auto tags = scan_tags(html);
    const auto svg = tags_in(tags, element(html, tags, "category-chart"));
    std::vector<Series> out;
    bool in_series = false;
    for (const auto& t : svg) {
        if (t.name == "g" && t.has_class("series")) {
            out.push_back({t.attr("data-category"), {}, {}, {}, 0});
            in_series = true;
        } else if (t.name == "/g") {
            in_series = false;
        } else if (in_series && t.name == "circle" && t.has_class("point")) {
            out.back().values.push_back(std::stoull(t.attr("data-value")));
            out.back().ys.push_back(std::stod(t.attr("cy")));
            out.back().builds.push_back(t.attr("data-build"));
        } else if (in_series && t.name == "polyline") {
            const std::string pts = t.attr("points");
            out.back().polyline_points = pts.empty() ? 0 : static_cast<std::size_t>(std::count(pts.begin(), pts.end(), ' ')) + 1;
        }
    }
    return out;
}

std::size_t count_class(const std::vector<Tag>& tags, std::string_view name, std::string_view cls) {
    std::size_t n = 0;
    for (const auto& t : tags) n += t.name == name && t.has_class(cls);
    return n;
}

// ---- PNG ------------------------------------------------------------------------------

struct Png {
    std::uint32_t width = 0, height = 0;
    std::vector<std::uint32_t> pixels;  // 0xRRGGBB
};

std::uint32_t be32(const std::string& s, std::size_t at) {
    return (std::uint32_t{static_cast<unsigned char>(s[at])} << 24) | (std::uint32_t{static_cast<unsigned char>(s[at + 1])} << 16) |
           (std::uint32_t{static_cast<unsigned char>(s[at + 2])} << 8) | std::uint32_t{static_cast<unsigned char>(s[at + 3])};
}

// An 8-bit RGB or RGBA, non-interlaced PNG (what Chromium writes), decoded
// with zlib and the PNG filters.
Png decode_png(const std::string& file) {
    REQUIRE(file.size() > 8);
    REQUIRE(file.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0);
    Png png;
    int channels = 0;
    std::string idat;
    for (std::size_t pos = 8; pos + 12 <= file.size();) {
        const std::uint32_t len = be32(file, pos);
        const std::string type = file.substr(pos + 4, 4);
        REQUIRE(pos + 12 + len <= file.size());
        if (type == "IHDR") {
            png.width = be32(file, pos + 8);
            png.height = be32(file, pos + 12);
            const int depth = static_cast<unsigned char>(file[pos + 16]);
            const int color = static_cast<unsigned char>(file[pos + 17]);
            const int interlace = static_cast<unsigned char>(file[pos + 20]);
            REQUIRE(depth == 8);
            REQUIRE(interlace == 0);
            REQUIRE((color == 2 || color == 6));
            channels = color == 2 ? 3 : 4;
        } else if (type == "IDAT") {
            idat += file.substr(pos + 8, len);
        } else if (type == "IEND") {
            break;
        }
        pos += 12 + len;
    }
    REQUIRE(channels != 0);
    const std::size_t stride = std::size_t{png.width} * static_cast<std::size_t>(channels);
    std::vector<unsigned char> raw(std::size_t{png.height} * (stride + 1));
    uLongf raw_len = static_cast<uLongf>(raw.size());
    REQUIRE(uncompress(raw.data(), &raw_len, reinterpret_cast<const Bytef*>(idat.data()), static_cast<uLong>(idat.size())) == Z_OK);
    REQUIRE(raw_len == raw.size());
    std::vector<unsigned char> prev(stride, 0), line(stride);
    png.pixels.reserve(std::size_t{png.width} * png.height);
    const auto bpp = static_cast<std::size_t>(channels);
    for (std::uint32_t y = 0; y < png.height; ++y) {
        const unsigned char* in = raw.data() + std::size_t{y} * (stride + 1);
        const int filter = in[0];
        if (filter > 4) FAIL("PNG row " << y << ": filter type " << filter);
        for (std::size_t x = 0; x < stride; ++x) {
            const int a = x >= bpp ? line[x - bpp] : 0, b = prev[x], c = x >= bpp ? prev[x - bpp] : 0;
            int pred = 0;
            switch (filter) {
                case 1: pred = a; break;
                case 2: pred = b; break;
                case 3: pred = (a + b) / 2; break;
                case 4: {
                    const int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
                    pred = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
                    break;
                }
            }
            line[x] = static_cast<unsigned char>(in[1 + x] + pred);
        }
        for (std::size_t x = 0; x < png.width; ++x) {
            const unsigned char* px = line.data() + x * bpp;
            png.pixels.push_back((std::uint32_t{px[0]} << 16) | (std::uint32_t{px[1]} << 8) | px[2]);
        }
        prev = line;
    }
    return png;
}

// Pixels within `tolerance` per channel of `rgb`.
std::size_t pixels_near(const Png& png, std::uint32_t rgb, int tolerance = 3) {
    std::size_t n = 0;
    for (const std::uint32_t p : png.pixels) {
        bool near = true;
        for (int shift : {16, 8, 0})
            near = near && std::abs(static_cast<int>((p >> shift) & 0xff) - static_cast<int>((rgb >> shift) & 0xff)) <= tolerance;
        n += near;
    }
    return n;
}

}  // namespace

// ---- escaping ----------------------------------------------------------------------------------

TEST_CASE("html_escape: markup characters become entities, control bytes, bad UTF-8 and bidi overrides escapes") {
    CHECK(html_escape("plain text 1.2.3.4/24") == "plain text 1.2.3.4/24");
    CHECK(html_escape("<script>alert('x')</script>") == "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;");
    CHECK(html_escape("a & b \"c\"") == "a &amp; b &quot;c&quot;");
    CHECK(html_escape("&amp;") == "&amp;amp;");
    static constexpr char kControls[] = "nul\0bell\x07" "esc\x1b[31m del\x7f";
    CHECK(html_escape(std::string_view(kControls, sizeof kControls - 1)) == "nul\\x00bell\\x07esc\\x1b[31m del\\x7f");
    CHECK(html_escape("tab\tnl\ncr\r") == "tab\\x09nl\\x0acr\\x0d");
    // UTF-8 passes; bytes that are not UTF-8 become \xNN, one by one.
    CHECK(html_escape("Zwiebelfreunde e.V. \xC3\xA9\xE2\x86\x92\xF0\x9F\x8C\x8D") == "Zwiebelfreunde e.V. \xC3\xA9\xE2\x86\x92\xF0\x9F\x8C\x8D");
    CHECK(html_escape("\xff\xfe") == "\\xff\\xfe");
    CHECK(html_escape("\xC0\xAF") == "\\xc0\\xaf");              // overlong '/'
    CHECK(html_escape("\xED\xA0\x80") == "\\xed\\xa0\\x80");     // a surrogate
    CHECK(html_escape("\xE2\x86") == "\\xe2\\x86");              // cut short
    CHECK(html_escape("a\xC3") == "a\\xc3");
    // C1 controls and the characters that reorder text around them.
    CHECK(html_escape("\xC2\x85") == "\\u{0085}");
    CHECK(html_escape("abc\xE2\x80\xAEgpj.exe") == "abc\\u{202E}gpj.exe");
    CHECK(html_escape("\xE2\x81\xA6x\xE2\x81\xA9") == "\\u{2066}x\\u{2069}");
}

// ---- parsing ---------------------------------------------------------------------------------------

TEST_CASE("parse_build_report: malformed JSON gives the offset, other versions and shapes are refused by name") {
    auto error_of = [](std::string_view json) {
        auto r = parse_build_report(json, "nightly/r.json");
        REQUIRE_FALSE(r);
        CHECK(contains(r.error().message, "nightly/r.json: "));
        return r.error().message;
    };
    CHECK(contains(error_of("{}garbage"), "malformed JSON at offset 2: "));
    CHECK(contains(error_of(""), "malformed JSON at offset 0: "));
    // The offset of the byte that is wrong: the '}' where a value must be.
    CHECK(contains(error_of("{\"report_version\": 1, \"feeds\": [}"), "malformed JSON at offset 32: Invalid value."));
    CHECK(contains(error_of("[1, 2]"), "not a build report"));
    CHECK(contains(error_of("{\"x\": 1}"), "not an anondb build report (no report_version)"));

    TReport r;
    r.feeds = {{.name = "a", .accepted = 5}};
    r.categories = six(1, 2, 3, 4, 5, 0);
    REQUIRE(parse_build_report(json_of(r), "ok.json"));

    TReport old = r;
    old.version.reset();
    CHECK(contains(error_of(json_of(old)), "without report_version (written by anondb test)"));
    TReport v2 = r;
    v2.version = 2;
    CHECK(contains(error_of(json_of(v2)), "report_version 2 is not supported (this anondb reads version 1)"));

    // A missing or mistyped field is named with its path.
    auto edit = [&](const char* from, const char* to) {
        std::string j = json_of(r);
        const auto at = j.find(from);
        REQUIRE_MESSAGE(at != std::string::npos, from);
        return j.replace(at, std::strlen(from), to);
    };
    CHECK(contains(error_of(edit("\"feeds\":", "\"feedz\":")), "field 'feeds' is missing"));
    CHECK(contains(error_of(edit("\"accepted\":5", "\"accepted\":\"5\"")), "field 'feeds[0].accepted' is not an unsigned integer"));
    CHECK(contains(error_of(edit("\"accepted\":5", "\"accepted\":-5")), "field 'feeds[0].accepted'"));
    CHECK(contains(error_of(edit("\"status\":\"fresh\"", "\"status\":\"great\"")),
                   "field 'feeds[0].status' is \"great\", not one of snapshot, fresh, cached, stale, failed"));
    CHECK(contains(error_of(edit("\"build_time\":", "\"build_time\":-")), "field 'build_time' is not a time"));
    CHECK(contains(error_of(edit("\"ranges\":2,", "\"ranges\":2.5,")), "field 'categories.vpn.ranges'"));
    CHECK(contains(error_of(edit("\"categories\":{", "\"categories\":[],\"x\":{")), "field 'categories' is not an object"));
    TReport twice = r;
    twice.feeds.push_back({.name = "a"});
    CHECK(contains(error_of(json_of(twice)), "feed 'a' appears twice"));

    // What the page uses is read as written.
    const ParsedReport p = parsed(r);
    CHECK(p.build_time == utc(2026, 1, 1));
    CHECK(p.source == "r.json");
    REQUIRE(p.feeds.size() == 1);
    CHECK(p.feeds[0].accepted == 5);
    CHECK(p.feeds[0].fetched_at == utc(2026, 1, 1) - 3600);
    REQUIRE(p.categories.size() == 6);
    CHECK(p.categories[4].name == "hosting");
    CHECK(p.categories[4].ranges == 5);
}

// ---- the page --------------------------------------------------------------------------------------

TEST_CASE("page: the feeds table has one row per feed of the newest report, in its order, with its numbers") {
    TReport older;
    older.build_time = utc(2026, 3, 1);
    older.feeds = {{.name = "only-old", .accepted = 1}};
    older.categories = six(0, 1, 0, 0, 0, 0);
    TReport newest;
    newest.build_time = utc(2026, 3, 2);
    newest.stale = 1;
    newest.omitted = 1;
    newest.categories = six(10, 20, 30, 0, 50, 0);
    newest.feeds = {
        {.name = "tor-exits", .status = "fresh", .accepted = 1234567, .categories = {"tor_exit"}},
        {.name = "vpn-list", .status = "cached", .accepted = 42},
        {.name = "proxies", .status = "stale", .accepted = 9, .rejected = 7, .categories = {"proxy"},
         .failure = "HTTP 503 after 2 attempts",
         .reasons = {{"reserved: private-use 10.0.0.0/8", 4}, {"not an address", 2}, {"IPv4 entry broader than /24", 1}, {"z", 0}}},
        {.name = "gone", .status = "failed", .categories = {"proxy"}, .failure = "HTTP 404; no last good copy"},
        {.name = "snap", .status = "snapshot", .accepted = 3, .categories = {"hosting", "vpn"}},
    };
    // Given newest first: the page is about the newest by build time whatever the order.
    const std::vector<ParsedReport> in = {parsed(newest, "new.json"), parsed(older, "old.json")};
    const std::string html = render_report_html(in);
    check_self_contained(html);
    check_clean_text(html);
    CHECK(html.rfind("<!DOCTYPE html>", 0) == 0);
    const auto tags = scan_tags(html);

    const auto feed_rows = rows(html, tags, "feeds", "feed");
    REQUIRE(feed_rows.size() == newest.feeds.size());
    for (std::size_t k = 0; k < feed_rows.size(); ++k) {
        const TFeed& f = newest.feeds[k];
        const Row& r = feed_rows[k];
        CAPTURE(f.name);
        CHECK(r.tag.attr("data-feed") == f.name);
        CHECK(r.tag.attr("data-status") == f.status);
        CHECK(r.tag.attr("data-accepted") == std::to_string(f.accepted));
        CHECK(r.tag.attr("data-rejected") == std::to_string(f.rejected));
        // The status is a word, not only a colour; numbers are readable.
        std::string upper = f.status;
        for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        CHECK(contains(r.text, upper));
        CHECK(contains(r.text, with_commas(f.accepted)));
        CHECK(contains(r.text, f.url));
        CHECK(contains(r.text, f.failure));
        for (const auto& c : f.categories) CHECK(contains(r.text, c));
        if (f.status == "failed") CHECK_FALSE(contains(r.text, "before the build"));
        else CHECK(contains(r.text, "1 h before the build"));
    }
    // The top three reasons by count, then how many more.
    CHECK(contains(feed_rows[2].text, "4 \xC3\x97 reserved: private-use 10.0.0.0/8"));
    CHECK(contains(feed_rows[2].text, "2 \xC3\x97 not an address"));
    CHECK(contains(feed_rows[2].text, "1 \xC3\x97 IPv4 entry broader than /24"));
    CHECK(contains(feed_rows[2].text, "and 1 more reasons"));
    CHECK(contains(feed_rows[0].text, "1,234,567"));

    // The header: build time, data version, database and size, overall status.
    const auto [sb, se] = element(html, tags, "summary");
    const std::string summary = text_of(html, sb, se);
    CHECK(contains(summary, "2026-03-02T00:00:00Z"));
    CHECK(contains(summary, with_commas(static_cast<std::uint64_t>(newest.build_time))));
    CHECK(contains(summary, "build/anondb.anondb"));
    CHECK(contains(summary, "4,096 bytes"));
    CHECK(contains(summary, "PUBLISHED WITH STALE FEEDS: 1 stale"));
    CHECK(contains(summary, "1 failed"));
    bool overall = false;
    for (const auto& t : tags)
        if (t.attr("id") == "overall") overall = t.attr("data-status") == "stale";
    CHECK(overall);
    CHECK(contains(html, "<title>anondb build report \xE2\x80\x94 2026-03-02T00:00:00Z</title>"));

    // All fine: OK.
    TReport fine = newest;
    fine.stale = fine.omitted = 0;
    const std::vector<ParsedReport> one = {parsed(fine)};
    const std::string ok = render_report_html(one);
    CHECK(contains(ok, "data-status=\"ok\""));
    CHECK(contains(ok, "id=\"no-previous\""));  // nothing to compare with
}

TEST_CASE("page: hostile text from feeds is escaped everywhere, and nothing external appears") {
    const std::string script = "<script>alert(1)</script>";
    const std::string img = "\"><img src=x onerror=alert(1)>";
    TReport r;
    r.categories = six(1, 2, 3, 4, 5, 6);
    r.categories.emplace_back("<svg onload=alert(1)>", 7);  // a category name too
    r.feeds = {
        {.name = script, .status = "stale", .accepted = 1, .url = "javascript:alert('x')",
         .failure = "HTTP 503 & 'quoted' \"double\" \x01\x1b[31mred\x7f " + img,
         .reasons = {{"</td></tr><tr><td>" + script, 3}, {std::string("nul\0byte", 8), 1}}},
        {.name = "feed-\xE2\x80\xAEtxt.exe", .accepted = 2, .url = "https://evil.example/" + img},
        {.name = "bad-\xff\xfe-utf8", .accepted = 3, .url = "//evil.example/x.css"},
    };
    TReport prev = r;
    prev.build_time -= 86400;
    prev.feeds.erase(prev.feeds.begin());  // the hostile one is "added": the changes table shows it too
    const std::vector<ParsedReport> in = {parsed(r), parsed(prev)};
    const std::string html = render_report_html(in);
    check_self_contained(html);
    check_clean_text(html);

    CHECK_FALSE(contains(html, "<script"));
    CHECK_FALSE(contains(html, "<img"));
    CHECK_FALSE(contains(html, "<svg onload"));
    CHECK_FALSE(contains(html, "</td></tr><tr><td>&lt;"));
    CHECK(contains(html, "&lt;script&gt;alert(1)&lt;/script&gt;"));
    CHECK(contains(html, "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"));
    CHECK(contains(html, "HTTP 503 &amp; &#39;quoted&#39; &quot;double&quot; \\x01\\x1b[31mred\\x7f"));
    CHECK(contains(html, "nul\\x00byte"));
    CHECK(contains(html, "feed-\\u{202E}txt.exe"));
    CHECK(contains(html, "bad-\\xff\\xfe-utf8"));
    CHECK(contains(html, "javascript:alert(&#39;x&#39;)"));  // as text, in no attribute

    // The checker itself finds what it looks for.
    CHECK(external_references("<p>https://example.org/ as text</p>").empty());
    CHECK(external_references("<img alt=x>").size() == 1);
    CHECK(external_references("<p style=\"background: url(x.png)\">").size() == 1);
    CHECK(external_references("<svg><use href=\"#a\"/></svg>").size() == 2);
    CHECK(external_references("<div title='see //cdn.example/x'></div>").empty());
    CHECK(external_references("<div title='//cdn.example/x'></div>").size() == 1);
    CHECK(external_references("<circle onclick=\"x()\"></circle>").size() == 1);
    CHECK(external_references("<g data-x=\"HTTPS://A\"></g>").size() == 1);

    // The rows still match the feeds, by their names as shown.
    const auto tags = scan_tags(html);
    const auto feed_rows = rows(html, tags, "feeds", "feed");
    REQUIRE(feed_rows.size() == 3);
    CHECK(feed_rows[0].tag.attr("data-feed") == script);
    CHECK(feed_rows[1].tag.attr("data-feed") == "feed-\\u{202E}txt.exe");
    CHECK(feed_rows[2].tag.attr("data-feed") == "bad-\\xff\\xfe-utf8");
    CHECK(contains(feed_rows[0].text, shown(r.feeds[0].failure)));
    const auto changes = rows(html, tags, "feed-changes", "feed-change");
    REQUIRE(changes.size() == 1);
    CHECK(changes[0].tag.attr("data-feed") == script);
    CHECK(changes[0].tag.attr("data-kind") == "added");
    const auto series = chart_series(html);
    REQUIRE(series.size() == 7);
    CHECK(series[6].category == "<svg onload=alert(1)>");
}

TEST_CASE("page: what changed since the previous build, deltas computed here from the JSON") {
    TReport prev;
    prev.build_time = utc(2026, 5, 1);
    prev.ranges = 1000;
    prev.file_bytes = 50000;
    prev.categories = six(100, 400, 300, 0, 2000, 0);
    prev.feeds = {
        {.name = "grows", .accepted = 100},
        {.name = "goes-stale", .status = "fresh", .accepted = 50},
        {.name = "same", .status = "cached", .accepted = 7},
        {.name = "removed", .accepted = 30, .rejected = 2},
        {.name = "more-rejects", .accepted = 10, .rejected = 1},
    };
    TReport cur;
    cur.build_time = utc(2026, 5, 2);
    cur.ranges = 990;
    cur.file_bytes = 49000;
    cur.categories = six(120, 400, 250, 5, 2000, 0);
    cur.feeds = {
        {.name = "grows", .accepted = 130},
        {.name = "goes-stale", .status = "stale", .accepted = 50, .failure = "timeout"},
        {.name = "same", .status = "cached", .accepted = 7},
        {.name = "added", .status = "failed"},
        {.name = "more-rejects", .accepted = 10, .rejected = 4},
    };
    const std::string prev_json = json_of(prev), cur_json = json_of(cur);
    // An older build too: changes compare the newest two only.
    TReport oldest = prev;
    oldest.build_time = utc(2026, 4, 30);
    oldest.feeds[0].accepted = 1;
    const std::vector<ParsedReport> in = {parsed(cur), parsed(oldest), parsed(prev)};
    const std::string html = render_report_html(in);
    check_self_contained(html);
    const auto tags = scan_tags(html);

    // Expected, from the two JSON documents.
    rapidjson::Document p, c;
    p.Parse(prev_json.c_str());
    c.Parse(cur_json.c_str());
    std::map<std::string, const rapidjson::Value*> pf, cf;
    for (const auto& f : p["feeds"].GetArray()) pf[f["name"].GetString()] = &f;
    for (const auto& f : c["feeds"].GetArray()) cf[f["name"].GetString()] = &f;
    std::map<std::string, std::pair<std::string, std::int64_t>> want;  // feed -> (kind, accepted delta)
    std::size_t unchanged = 0;
    for (const auto& [name, f] : cf) {
        const auto it = pf.find(name);
        const auto acc = static_cast<std::int64_t>((*f)["accepted"].GetUint64());
        if (it == pf.end()) {
            want[name] = {"added", acc};
            continue;
        }
        const auto& o = *it->second;
        const bool same = std::string((*f)["status"].GetString()) == o["status"].GetString() &&
                          (*f)["accepted"] == o["accepted"] && (*f)["rejected"] == o["rejected"];
        if (same) ++unchanged;
        else want[name] = {"changed", acc - static_cast<std::int64_t>(o["accepted"].GetUint64())};
    }
    for (const auto& [name, f] : pf)
        if (!cf.count(name)) want[name] = {"removed", -static_cast<std::int64_t>((*f)["accepted"].GetUint64())};

    const auto feed_rows = rows(html, tags, "feed-changes", "feed-change");
    std::map<std::string, std::pair<std::string, std::int64_t>> got;
    for (const auto& r : feed_rows) {
        const std::int64_t delta = std::stoll(r.tag.attr("data-delta"));
        got[r.tag.attr("data-feed")] = {r.tag.attr("data-kind"), delta};
        CHECK(contains(r.text, signed_commas(delta)));
    }
    CHECK(got == want);
    CHECK(want.size() == 5);
    CHECK(unchanged == 1);
    // Status changes show both statuses.
    for (const auto& r : feed_rows)
        if (r.tag.attr("data-feed") == "goes-stale") CHECK(contains(r.text, "FRESH \xE2\x86\x92 \xE2\x9A\xA0 STALE"));
    for (const auto& r : feed_rows)
        if (r.tag.attr("data-feed") == "more-rejects") CHECK(contains(r.text, "1 \xE2\x86\x92 4"));

    std::map<std::string, std::int64_t> want_cat, got_cat;
    const rapidjson::Value& c_categories = c["categories"];
    for (const auto& m : c_categories.GetObject())
        want_cat[m.name.GetString()] = static_cast<std::int64_t>(m.value["ranges"].GetUint64()) -
                                       static_cast<std::int64_t>(p["categories"][m.name.GetString()]["ranges"].GetUint64());
    for (const auto& r : rows(html, tags, "category-changes", "category-change")) {
        got_cat[r.tag.attr("data-category")] = std::stoll(r.tag.attr("data-delta"));
        CHECK(contains(r.text, signed_commas(std::stoll(r.tag.attr("data-delta")))));
    }
    CHECK(got_cat == want_cat);
    CHECK(got_cat.at("proxy") == -50);

    const auto [cb, ce] = element(html, tags, "changes");
    const std::string text = text_of(html, cb, ce);
    CHECK(contains(text, "since the previous build (2026-05-01T00:00:00Z)"));
    CHECK(contains(text, "1,000 \xE2\x86\x92 990 (-10)"));
    CHECK(contains(text, "3 changed, 1 added, 1 removed, 1 unchanged"));

    // diff_reports says the same.
    const ReportChanges d = diff_reports(parsed(prev), parsed(cur));
    CHECK(d.feeds.size() == 5);
    CHECK(d.unchanged_feeds == 1);
    CHECK(d.ranges_delta == -10);
    CHECK(d.file_bytes_delta == -1000);
}

TEST_CASE("page: the chart has one series per category with a point per build, in build-time order") {
    auto report_at = [](int day, std::vector<std::pair<std::string, std::uint64_t>> cats) {
        TReport r;
        r.build_time = utc(2026, 1, 1) + std::int64_t{day} * 86400;
        r.categories = std::move(cats);
        r.feeds = {{.name = "a", .accepted = 1}};
        return r;
    };
    SUBCASE("three builds, given out of order") {
        const TReport a = report_at(0, six(10, 200, 3000, 0, 50000, 0));
        const TReport b = report_at(1, six(12, 180, 3000, 1, 60000, 0));
        const TReport c = report_at(2, six(15, 190, 2900, 1, 59000, 0));
        const std::vector<ParsedReport> in = {parsed(c), parsed(a), parsed(b)};
        const std::string html = render_report_html(in);
        check_self_contained(html);
        const auto series = chart_series(html);
        REQUIRE(series.size() == 6);
        double zero_y = 0;
        for (std::size_t s = 0; s < 6; ++s) {
            CAPTURE(kCategories[s]);
            CHECK(series[s].category == kCategories[s]);
            const std::vector<std::uint64_t> want = {a.categories[s].second, b.categories[s].second, c.categories[s].second};
            CHECK(series[s].values == want);
            CHECK(series[s].builds == std::vector<std::string>{"2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z"});
            CHECK(series[s].polyline_points == 3);
            for (std::size_t k = 0; k < 3; ++k)
                if (want[k] == 0) zero_y = series[s].ys[k];
        }
        // Higher values are higher up (smaller y); every 0 is on one line, below the rest.
        std::vector<std::pair<std::uint64_t, double>> all;
        for (const auto& s : series)
            for (std::size_t k = 0; k < s.values.size(); ++k) all.emplace_back(s.values[k], s.ys[k]);
        for (const auto& [v1, y1] : all)
            for (const auto& [v2, y2] : all) {
                if (v1 < v2) CHECK(y1 > y2);
                if (v1 == v2) CHECK(y1 == doctest::Approx(y2));
            }
        for (const auto& [v, y] : all)
            if (v == 0) CHECK(y == doctest::Approx(zero_y));
        // Axis titles, a legend entry per category with its newest value, the data table.
        CHECK(contains(html, ">ranges (log scale)</text>"));
        CHECK(contains(html, ">build (build time, UTC)</text>"));
        const auto tags = scan_tags(html);
        CHECK(count_class(tags, "g", "legend-item") == 6);
        CHECK(contains(html, "hosting: 59,000</text>"));
        CHECK(count_class(tags, "text", "x-label") == 3);
        const auto [tb, te] = element(html, tags, "category-counts");
        CHECK(contains(text_of(html, tb, te), "59,000"));
    }
    SUBCASE("one build: a point per category, no lines") {
        const std::vector<ParsedReport> in = {parsed(report_at(0, six(1, 2, 3, 4, 5, 6)))};
        const std::string html = render_report_html(in);
        const auto series = chart_series(html);
        REQUIRE(series.size() == 6);
        for (std::size_t s = 0; s < 6; ++s) {
            CHECK(series[s].values == std::vector<std::uint64_t>{s + 1});
            CHECK(series[s].polyline_points == 0);
        }
        CHECK(count_class(scan_tags(html), "text", "x-label") == 1);
    }
    SUBCASE("thirty builds: thirty points each, the x labels thinned, the newest labelled") {
        std::vector<ParsedReport> in;
        for (int d = 0; d < 30; ++d)
            in.push_back(parsed(report_at(d, six(1000 + d, 200, 3000 - d, 0, 50000 + 100 * d, 0))));
        const std::string html = render_report_html(in);
        check_self_contained(html);
        const auto series = chart_series(html);
        REQUIRE(series.size() == 6);
        for (const auto& s : series) {
            CHECK(s.values.size() == 30);
            CHECK(s.polyline_points == 30);
        }
        CHECK(series[0].values.front() == 1000);
        CHECK(series[0].values.back() == 1029);
        const auto tags = scan_tags(html);
        const std::size_t labels = count_class(tags, "text", "x-label");
        CHECK(labels >= 8);
        CHECK(labels <= 16);
        CHECK(contains(html, ">2026-01-30</text>"));
        CHECK(contains(html, "Ranges per category over the last 30 builds"));
    }
}

// ---- end to end: two builds, anondb report, headless Chromium ---------------------------------------

TEST_CASE("anondb report: two offline builds, the page rendered by headless Chromium shows the table and the chart") {
    const CliRun which = run_in(fs::temp_directory_path(), "command -v chromium");
    REQUIRE_MESSAGE(which.code == 0,
                    "chromium is not installed: this test renders the report with headless Chromium; install the "
                    "Debian package (apt-get install chromium; test.sh does)");
    const std::string chromium = which.out.substr(0, which.out.find('\n'));

    const TempDir dir("anondb-report");
    const fs::path& d = dir.path;
    fs::create_directories(d / "data");
    const std::string tor = read_repo_file("data/snapshot/tor/torbulkexitlist");
    // Build 1: half the Tor list; build 2: all of it plus two lines the guards and parser reject.
    const auto half = tor.find('\n', tor.size() / 2);
    write_text(d / "data/tor-1.txt", tor.substr(0, half + 1));
    write_text(d / "data/tor-2.txt", tor + "10.1.2.3\nnot-an-address\n");
    write_text(d / "data/vpn.txt", read_repo_file("data/snapshot/x4bnet/vpn-ipv4.txt"));
    write_text(d / "data/proxies.txt", read_repo_file("data/snapshot/firehol/firehol_proxies.netset"));
    write_text(d / "data/aws.json", read_repo_file("data/snapshot/aws/ip-ranges.json"));
    write_text(d / "data/relay.csv", read_repo_file("data/snapshot/apple/private-relay-egress.head120.csv"));
    auto feed = [](const char* name, const char* format, const char* cat, const std::string& snapshot) {
        return std::string("  - name: ") + name + "\n    url: https://example.org/" + name + "\n    format: " + format +
               "\n    category: " + cat + "\n    license: test\n    snapshot: " + snapshot + "\n";
    };
    write_text(d / "feeds-1.yaml", "version: 1\nfeeds:\n" + feed("tor", "plain", "tor_exit", "data/tor-1.txt") +
                                        feed("vpn", "plain", "vpn", "data/vpn.txt") +
                                        feed("proxies", "plain", "proxy", "data/proxies.txt") +
                                        feed("aws", "aws-ip-ranges", "hosting", "data/aws.json"));
    write_text(d / "feeds-2.yaml", "version: 1\nfeeds:\n" + feed("tor", "plain", "tor_exit", "data/tor-2.txt") +
                                        feed("vpn", "plain", "vpn", "data/vpn.txt") +
                                        feed("aws", "aws-ip-ranges", "hosting", "data/aws.json") +
                                        feed("relay", "geofeed", "relay", "data/relay.csv"));
    for (const auto& [n, when] : {std::pair{"1", "2026-02-01"}, std::pair{"2", "2026-02-02"}}) {
        const CliRun b = run_cli(d, {"build", "--offline", "--feeds", std::string("feeds-") + n + ".yaml", "-o",
                                     std::string("db-") + n + ".anondb", "--build-time", when, "--report",
                                     std::string("r") + n + ".json"});
        INFO(b.out << b.err);
        REQUIRE(b.code == 0);
    }
    const std::string r1 = read_text(d / "r1.json"), r2 = read_text(d / "r2.json");
    rapidjson::Document j1, j2;
    j1.Parse(r1.c_str());
    j2.Parse(r2.c_str());
    REQUIRE(j2.IsObject());
    CHECK(j2["report_version"].GetInt() == 1);
    CHECK(j2["file_bytes"].GetUint64() == fs::file_size(d / "db-2.anondb"));

    // The report's categories are what `anondb info` counts in the database.
    const CliRun info = run_cli(d, {"info", "--json", "-d", "db-2.anondb"});
    REQUIRE(info.code == 0);
    rapidjson::Document ij;
    ij.Parse(info.out.c_str());
    REQUIRE(ij.IsObject());
    REQUIRE(j2["categories"].MemberCount() == 6);
    const rapidjson::Value& j2_categories = j2["categories"];
    for (const auto& m : j2_categories.GetObject()) {
        const std::string name = m.name.GetString();
        CAPTURE(name);
        const bool listed = ij["categories"].HasMember(name.c_str());
        for (const char* k : {"ranges", "ipv4_addresses", "ipv6_ranges"})
            CHECK(m.value[k].GetUint64() == (listed ? ij["categories"][name.c_str()][k].GetUint64() : 0));
    }
    CHECK(j2["categories"]["tor_exit"]["ranges"].GetUint64() > j1["categories"]["tor_exit"]["ranges"].GetUint64());

    // Newest first on the command line: ordered by build time, not by argument.
    const CliRun rep = run_cli(d, {"report", "--out", "report.html", "r2.json", "r1.json"});
    INFO(rep.out << rep.err);
    REQUIRE(rep.code == 0);
    CHECK(contains(rep.out, "wrote report.html"));
    CHECK(contains(rep.out, "the build of 2026-02-02T00:00:00Z (r2.json, 4 feeds), 2 builds charted"));
    const std::string html = read_text(d / "report.html");
    check_self_contained(html);
    check_clean_text(html);
    const auto tags = scan_tags(html);
    const auto feed_rows = rows(html, tags, "feeds", "feed");
    REQUIRE(feed_rows.size() == j2["feeds"].Size());
    for (rapidjson::SizeType k = 0; k < j2["feeds"].Size(); ++k) {
        const auto& f = j2["feeds"][k];
        CHECK(feed_rows[k].tag.attr("data-feed") == f["name"].GetString());
        CHECK(feed_rows[k].tag.attr("data-status") == "snapshot");
        CHECK(feed_rows[k].tag.attr("data-accepted") == std::to_string(f["accepted"].GetUint64()));
        CHECK(feed_rows[k].tag.attr("data-rejected") == std::to_string(f["rejected"].GetUint64()));
    }
    CHECK(j2["feeds"][0]["rejected"].GetUint64() == 2);
    CHECK(contains(feed_rows[0].text, "reserved: private-use 10.0.0.0/8"));
    // Changes: tor grew by what the JSON says, proxies went, relay came.
    std::map<std::string, std::string> kinds;
    std::map<std::string, std::int64_t> deltas;
    for (const auto& r : rows(html, tags, "feed-changes", "feed-change")) {
        kinds[r.tag.attr("data-feed")] = r.tag.attr("data-kind");
        deltas[r.tag.attr("data-feed")] = std::stoll(r.tag.attr("data-delta"));
    }
    CHECK(kinds == std::map<std::string, std::string>{{"tor", "changed"}, {"proxies", "removed"}, {"relay", "added"}});
    CHECK(deltas["tor"] == static_cast<std::int64_t>(j2["feeds"][0]["accepted"].GetUint64()) -
                               static_cast<std::int64_t>(j1["feeds"][0]["accepted"].GetUint64()));
    CHECK(deltas["proxies"] == -static_cast<std::int64_t>(j1["feeds"][2]["accepted"].GetUint64()));
    for (const auto& r : rows(html, tags, "category-changes", "category-change")) {
        const std::string cat = r.tag.attr("data-category");
        CHECK(std::stoll(r.tag.attr("data-delta")) ==
              static_cast<std::int64_t>(j2["categories"][cat.c_str()]["ranges"].GetUint64()) -
                  static_cast<std::int64_t>(j1["categories"][cat.c_str()]["ranges"].GetUint64()));
    }
    const auto series = chart_series(html);
    REQUIRE(series.size() == 6);
    for (const auto& s : series) {
        CHECK(s.values.size() == 2);
        CHECK(s.values.back() == j2["categories"][s.category.c_str()]["ranges"].GetUint64());
        CHECK(s.values.front() == j1["categories"][s.category.c_str()]["ranges"].GetUint64());
    }

    // Errors: a missing file, malformed JSON, two reports of one build, none at all.
    write_text(d / "broken.json", "{\"report_version\": 1,,}");
    const CliRun missing = run_cli(d, {"report", "--out", "x.html", "r2.json", "no-such.json"});
    CHECK(missing.code == 1);
    CHECK(contains(missing.err, "no-such.json: No such file or directory"));
    const CliRun broken = run_cli(d, {"report", "--out", "x.html", "broken.json"});
    CHECK(broken.code == 1);
    CHECK(contains(broken.err, "broken.json: malformed JSON at offset 21"));  // the second ','

    fs::copy_file(d / "r2.json", d / "r2-copy.json");
    const CliRun same = run_cli(d, {"report", "--out", "x.html", "r2.json", "r2-copy.json"});
    CHECK(same.code == 1);
    CHECK(contains(same.err, "same build time"));
    const CliRun none = run_cli(d, {"report", "--out", "x.html"});
    CHECK(none.code == 2);
    CHECK_FALSE(fs::exists(d / "x.html"));
    // --history DIR: the same page from a directory of reports (the newest named again is read once).
    fs::create_directories(d / "hist");
    fs::copy_file(d / "r1.json", d / "hist/r1.json");
    fs::copy_file(d / "r2.json", d / "hist/r2.json");
    const CliRun hist = run_cli(d, {"report", "--out", "hist.html", "--history", "hist", "hist/r2.json"});
    INFO(hist.err);
    CHECK(hist.code == 0);
    CHECK(contains(hist.out, "2 builds charted"));

    // Headless Chromium: one run writes the screenshot and prints the DOM it rendered.
    fs::create_directories(d / "chromium-profile");
    const auto started = std::chrono::steady_clock::now();
    const CliRun shot = run_in(
        d, "timeout 60 " + shell_quote(chromium) +
               " --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking"
               " --disable-component-update --disable-sync --user-data-dir=" +
               shell_quote((d / "chromium-profile").string()) + " --screenshot=" + shell_quote((d / "report.png").string()) +
               " --window-size=1280,2000 --dump-dom " + shell_quote("file://" + (d / "report.html").string()));
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    MESSAGE("headless Chromium took " << secs << " s");
    INFO(shot.err.substr(0, 4000));
    REQUIRE(shot.code == 0);
    const std::string& dom = shot.out;
    REQUIRE(contains(dom, "<table id=\"feeds\">"));
    const auto dom_tags = scan_tags(dom);
    const auto dom_rows = rows(dom, dom_tags, "feeds", "feed");
    REQUIRE(dom_rows.size() == feed_rows.size());
    for (std::size_t k = 0; k < dom_rows.size(); ++k) CHECK(dom_rows[k].tag.attr("data-feed") == feed_rows[k].tag.attr("data-feed"));
    const auto dom_svg = tags_in(dom_tags, element(dom, dom_tags, "category-chart"));
    CHECK(count_class(dom_svg, "g", "series") == 6);
    CHECK(count_class(dom_svg, "polyline", "line") == 6);
    CHECK(count_class(dom_svg, "circle", "point") == 12);
    CHECK(count_class(dom_svg, "g", "legend-item") == 6);
    CHECK(dom_rows[0].text == feed_rows[0].text);

    // The PNG: a real one, of the window's size, not one colour; the chart's
    // tor_exit and hosting colours and the snapshot badge are on it.
    const std::string png_bytes = read_text(d / "report.png");
    CHECK(png_bytes.size() > 20000);
    const Png png = decode_png(png_bytes);
    CHECK(png.width == 1280);
    CHECK(png.height == 2000);
    std::set<std::uint32_t> colours(png.pixels.begin(), png.pixels.end());
    CHECK(colours.size() > 50);
    std::map<std::uint32_t, std::size_t> freq;
    for (const auto p : png.pixels) ++freq[p];
    std::size_t most = 0;
    for (const auto& [c, n] : freq) most = std::max(most, n);
    CHECK(most < png.pixels.size() * 95 / 100);
    CHECK(pixels_near(png, 0x6f42c1) > 30);  // tor_exit
    CHECK(pixels_near(png, 0xff7f0e) > 30);  // hosting
    CHECK(pixels_near(png, 0xf0e8ff) > 30);  // the SNAPSHOT badge's background
}
