// Bulk annotation: `anondb lookup` over millions of lines.
//
// Input is one address per line, or a CSV column (RFC 4180 quoting within a
// line). Each input line gives one output line, written into a 1 MiB buffer
// and handed to write(2) when full: no allocation per line, no iostreams.
// read_all() looks lines up in groups (Database::locate_many) and writes
// them in input order.
//
// Output formats (docs: README "Bulk annotation"):
//   text  `IP  categories[  anonymous]  provider P[  ASn]  (range R)`, or
//         `IP  not flagged  (range R)`; a line that is not an address gives
//         `TEXT  error: REASON`. Feed text (provider names) and input text
//         have control bytes escaped (\xNN).
//   json  one object per line: ip, flagged, anonymous, categories, provider,
//         asn, range, answer (as explain --json); a bad line gives
//         {"ip": TEXT, "error": REASON, "line": N}.
//   csv   (with a column) the input row unchanged, then the columns
//         anondb_flagged, anondb_anonymous, anondb_categories ('|'-joined),
//         anondb_provider, anondb_asn, anondb_range, anondb_error; a header
//         row gets those names appended. On a bad row only anondb_error is
//         filled.
// With a geolocation database (options.geo, `lookup --geo`), each answered
// line also gets the address's country and city and whether that location
// is reliable (geo.hpp, location_verdict): text appends
// `  country CC (Name)[  city C][  location unreliable: CAVEAT]` or
// `  no location`; json adds country, country_name, city,
// location_reliable, location_caveat; csv appends the
// columns anondb_country, anondb_country_name, anondb_city,
// anondb_location_reliable, anondb_location_caveat. Without it the output is
// as above, byte for byte.
// Without a column, blank lines and lines starting with '#' are skipped; in
// CSV mode blank lines are. A trailing CR is dropped. A line longer than
// kMaxLineBytes is an error line, never a crash or a silent skip.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "anondb/builder/geo.hpp"
#include "anondb/error.hpp"
#include "anondb/reader.hpp"

namespace anondb::builder {

enum class AnnotateFormat { text, json, csv };

struct AnnotateOptions {
    AnnotateFormat format = AnnotateFormat::text;
    // CSV input: the address column, 1-based (0: the whole line is the
    // address), or its name in the header row. Either makes the output csv
    // unless format is json.
    std::size_t column = 0;
    std::string column_name;
    bool header = false;  // the first row is a header (implied by column_name)
    char delimiter = ',';
    // Geolocation (lookup --geo): not owned, must outlive the Annotator.
    // nullptr: no location output.
    GeoDatabase* geo = nullptr;
};

struct AnnotateStats {
    std::uint64_t lines = 0;      // input lines read, blank and header included
    std::uint64_t addresses = 0;  // valid addresses looked up
    std::uint64_t flagged = 0;
    std::uint64_t invalid = 0;    // lines whose address did not parse
    std::uint64_t first_invalid_line = 0;  // 1-based; 0 when none
};

inline constexpr std::size_t kMaxLineBytes = 1 << 20;

class Annotator {
public:
    // Writes to `out_fd` (not owned). Fails when the options contradict
    // each other (a delimiter that is a quote or a line break).
    static Expected<Annotator> create(const Database& db, AnnotateOptions options, int out_fd);
    Annotator(Annotator&&) noexcept;
    Annotator& operator=(Annotator&&) noexcept;
    ~Annotator();

    // One input line (without its '\n'); `line_no` is reported with errors.
    Error line(std::string_view text, std::uint64_t line_no);
    // Reads `in_fd` to its end, line by line; `name` labels read errors.
    Error read_all(int in_fd, std::string_view name);
    // Writes what is buffered. Call once at the end (also on errors).
    Error flush();

    const AnnotateStats& stats() const noexcept { return stats_; }

private:
    Annotator(const Database& db, AnnotateOptions options, int out_fd);

    void put(std::string_view s);
    void put(char c);
    void put_escaped(std::string_view s);
    void put_csv_field(std::string_view s);
    void put_uint(std::uint64_t v);
    void put_categories(std::uint32_t flags, char sep);
    void put_json_line();  // the JSON scratch's object, then a line break
    std::string_view address_field(std::string_view line, bool& ok) const;
    void header_row(std::string_view text);
    Error classify(std::string_view text, std::uint64_t line_no);
    void drain();
    void bad_line(std::string_view row, std::string_view shown, std::string_view reason, std::uint64_t line_no);
    void annotate(std::string_view row, Ip ip, const Segment& seg);
    void put_geo_text(const GeoLocation& g, const LocationVerdict& v);
    void put_geo_csv(const GeoLocation& g, const LocationVerdict& v);
    // The first write or geolocation error; ok while there is none.
    const Error& failure() const noexcept { return write_error_.status != Status::ok ? write_error_ : geo_error_; }

    const Database* db_;
    AnnotateOptions options_;
    int out_fd_;
    std::vector<char> out_;
    std::size_t used_ = 0;
    Error write_error_;
    Error geo_error_;  // a record the geolocation database could not give: output stops there
    AnnotateStats stats_;
    bool header_pending_ = false;
    bool column_missing_ = false;  // column_name is not in the header row
    // Lines read but not yet written: looked up together by drain(). They
    // view the caller's text or read_all's buffer, so drain() runs before
    // line() returns and before read_all moves its buffer.
    struct Pending {
        std::string_view row;
        std::string_view shown;   // the address text (the row when there is none)
        std::string_view reason;  // empty: a valid address; else why it is not
        Ip ip;
        std::uint64_t line_no = 0;
    };
    // Lines looked up in one locate_many call: several times its prefetch
    // distance, so most lookups in a call have theirs in flight.
    static constexpr std::size_t kBatch = 4 * Database::kLookupAhead;
    Pending pending_[kBatch];
    std::size_t pending_count_ = 0;
    struct JsonScratch;                  // one JSON object's buffer, reused
    std::unique_ptr<JsonScratch> json_;  // only for AnnotateFormat::json
};

}  // namespace anondb::builder
