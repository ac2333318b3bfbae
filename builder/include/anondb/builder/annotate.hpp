// Bulk annotation: `anondb lookup` over millions of lines.
//
// Two halves. The input side, AddressReader, is shared with `anondb stats`
// (stats.hpp): it reads one address per line, or a CSV column (RFC 4180
// quoting within a line), classifies each line (skipped, header, address,
// or not an address and why), looks the addresses up in groups
// (Database::locate_many) and hands the lines on to a LineSink in input
// order, a group at a time. The Annotator is the sink that writes: each
// input line gives one output line, written into a 1 MiB buffer and handed
// to write(2) when full: no allocation per line, no iostreams.
//
// Output formats (docs: README "Bulk annotation"):
//   text  `IP  categories[  anonymous]  provider P[  ASn]  (range R)`, or
//         `IP  not flagged  (range R)`; a line that is not an address gives
//         `TEXT  error: REASON`. Feed text (provider names) and input text
//         have control bytes escaped (\xNN).
//   json  one object per line: ip, flagged, anonymous, categories, provider,
//         asn, range, answer (as explain --json), then (`lookup` always
//         loads them) first_seen, last_seen, confidence; a bad line gives
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
// as above, byte for byte. A record the geolocation database cannot give
// ends the output at the line before it, with its error.
// Without a column, blank lines and lines starting with '#' are skipped; in
// CSV mode blank lines are. A trailing CR is dropped. A line longer than
// kMaxLineBytes is an error line, never a crash or a silent skip.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "anondb/builder/geo.hpp"
#include "anondb/error.hpp"
#include "anondb/explain.hpp"
#include "anondb/reader.hpp"

namespace anondb::builder {

// ---- input: one reader of address lines, for `lookup` and `stats` ----------------

// How input lines hold their address.
struct InputOptions {
    // CSV input: the address column, 1-based (0: the whole line is the
    // address), or its name in the header row.
    std::size_t column = 0;
    std::string column_name;
    bool header = false;  // the first row is a header (implied by column_name)
    char delimiter = ',';
    bool csv() const noexcept { return column != 0 || !column_name.empty(); }
};

// The CLI's spelling of InputOptions (`--column N|NAME`, `--header`,
// `--delimiter C|tab`), shared by `lookup` and `stats`. An error is a usage
// error, its message without the command's name.
Expected<InputOptions> input_options(std::string_view column, bool header, std::string_view delimiter);

// What the reader counted. Every line counts once in `lines`; a line that
// holds an address (or should) counts in `addresses` or `invalid`.
struct InputCounts {
    std::uint64_t lines = 0;      // input lines read, blank, comment and header included
    std::uint64_t addresses = 0;  // valid addresses looked up
    std::uint64_t flagged = 0;    // of those, flagged (answer not 0)
    std::uint64_t invalid = 0;    // lines whose address did not parse (or no column, or too long)
    std::uint64_t first_invalid_line = 0;  // 1-based; 0 when none
};

inline constexpr std::size_t kMaxLineBytes = 1 << 20;

// One input line that holds, or should hold, an address, as the reader
// hands it on. The views live until the LineSink call returns.
struct InputLine {
    std::string_view row;     // the line without its line break and CR ("" for an overlong line)
    std::string_view shown;   // the address text, trimmed (the row when there is none)
    std::string_view reason;  // "": an address; else why the line is not one
    Ip ip;                    // the address (reason "")
    Segment segment;          // its lookup segment (reason "")
    std::uint64_t line_no = 0;
    bool valid() const noexcept { return reason.empty(); }
};

// Where an AddressReader hands its lines. A returned error stops reading
// and is what the reader returns.
class LineSink {
public:
    // The header row of CSV input (`--header` or a column name), once,
    // before every other line.
    virtual Error header_row(std::string_view row) = 0;
    // Lines in input order, a group at a time (skipped lines are not in it).
    virtual Error lines(std::span<const InputLine> group) = 0;

protected:
    ~LineSink() = default;
};

class AddressReader {
public:
    // Fails when the options contradict each other (a delimiter that is a
    // quote, a line break or NUL).
    static Expected<AddressReader> create(const Database& db, InputOptions options);

    // One input line (without its '\n'); `line_no` is reported with errors.
    // Handed on to `sink` before it returns.
    Error line(std::string_view text, std::uint64_t line_no, LineSink& sink);
    // Reads `in_fd` to its end, line by line; `name` labels read errors and
    // a missing header column.
    Error read_all(int in_fd, std::string_view name, LineSink& sink);

    const InputCounts& counts() const noexcept { return counts_; }

private:
    AddressReader(const Database& db, InputOptions options);

    std::string_view address_field(std::string_view row, bool& ok) const;
    Error take_header(std::string_view row, std::uint64_t line_no, LineSink& sink);
    Error classify(std::string_view text, std::uint64_t line_no, LineSink& sink);
    Error overlong(std::string_view start, std::uint64_t line_no, LineSink& sink);
    Error drain(LineSink& sink);

    const Database* db_;
    InputOptions options_;
    InputCounts counts_;
    bool header_pending_ = false;
    // Lines read but not yet handed on, looked up together by drain() in
    // one locate_many call: several times its prefetch distance, so most
    // lookups in a call have theirs in flight. They view the caller's text
    // or read_all's buffer, so drain() runs before line() returns and
    // before read_all moves its buffer.
    static constexpr std::size_t kBatch = 4 * Database::kLookupAhead;
    InputLine pending_[kBatch];
    std::size_t pending_count_ = 0;
    std::string overlong_shown_;  // what an overlong line shows: its first bytes
};

// ---- bulk annotation: the sink that writes ------------------------------------------

enum class AnnotateFormat { text, json, csv };

// A CSV column makes the output csv unless format is json.
struct AnnotateOptions : InputOptions {
    AnnotateFormat format = AnnotateFormat::text;
    // Geolocation (lookup --geo): not owned, must outlive the Annotator.
    // nullptr: no location output.
    GeoDatabase* geo = nullptr;
    // Seen dates and confidence (json only; not owned, must outlive the
    // Annotator): json adds first_seen, last_seen, confidence.
    const AssessmentTable* assessments = nullptr;
};

class Annotator final : private LineSink {
public:
    // Writes to `out_fd` (not owned). Fails when the options contradict
    // each other (a delimiter that is a quote or a line break; csv output
    // without a column).
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

    const InputCounts& stats() const noexcept { return reader_.counts(); }

private:
    Annotator(AddressReader reader, const Database& db, AnnotateOptions options, int out_fd);

    Error header_row(std::string_view row) override;
    Error lines(std::span<const InputLine> group) override;

    void put(std::string_view s);
    void put(char c);
    void put_escaped(std::string_view s);
    void put_csv_field(std::string_view s);
    void put_uint(std::uint64_t v);
    void put_categories(std::uint32_t flags, char sep);
    void put_json_line();  // the JSON scratch's object, then a line break
    void bad_line(const InputLine& l);
    Error annotate(const InputLine& l);  // fails only on a geolocation record it cannot read
    void put_geo_text(const GeoLocation& g, const LocationVerdict& v);
    void put_geo_csv(const GeoLocation& g, const LocationVerdict& v);

    AddressReader reader_;
    const Database* db_;
    AnnotateOptions options_;
    int out_fd_;
    std::vector<char> out_;
    std::size_t used_ = 0;
    Error write_error_;
    struct JsonScratch;                  // one JSON object's buffer, reused
    std::unique_ptr<JsonScratch> json_;  // only for AnnotateFormat::json
};

}  // namespace anondb::builder
