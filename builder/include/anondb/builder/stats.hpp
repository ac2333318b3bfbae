// Figures for investigators: `anondb stats` over a list of addresses.
//
// The input is that of `anondb lookup`, read by the same AddressReader
// (annotate.hpp): one address per line (blank and '#' lines skipped) or a
// CSV column, lines that are not addresses counted with the first one's
// line number, addresses looked up in groups with Database::locate_many.
// The StatsCollector is the LineSink that counts instead of writing.
//
// Every figure has two readings:
//   per occurrence  each input line holding an address counts, so an
//                   address listed 5 times counts 5 times (as studies count
//                   requests or log lines); shares are of `addresses`.
//   unique          distinct addresses (an IPv4 address and its ::ffff: form
//                   are one); shares are of `unique`.
// Figures: flagged (some feed lists the address), anonymous (a category
// other than hosting, category.hpp), each category (an address in several
// counts in each), attributed to a named provider (the answer names one),
// and every named provider by count (ties by name, in byte order).
//
// Per line the collector adds one to its answer's count and keeps the
// address; the addresses are sorted and deduplicated when their number
// doubles, so memory follows the distinct addresses, not the lines.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "anondb/builder/annotate.hpp"
#include "anondb/category.hpp"
#include "anondb/error.hpp"
#include "anondb/reader.hpp"

namespace anondb::builder {

// A figure in both readings.
struct StatsFigure {
    std::uint64_t count = 0;   // per occurrence
    std::uint64_t unique = 0;  // distinct addresses
    friend bool operator==(const StatsFigure&, const StatsFigure&) = default;
};

struct ProviderFigure {
    std::string name;  // as the database has it (feed text: escape it to print)
    StatsFigure figure;
};

struct StatsReport {
    InputCounts input;        // lines, addresses (per occurrence), invalid, first_invalid_line
    std::uint64_t unique = 0;  // distinct addresses
    StatsFigure flagged;
    StatsFigure anonymous;
    std::array<StatsFigure, std::size(kCategoryNames)> categories;  // in kCategoryNames order
    StatsFigure attributed;  // the answer names a provider
    // Every named provider seen: count descending, then name (bytes) ascending.
    std::vector<ProviderFigure> providers;
};

class StatsCollector final : private LineSink {
public:
    // Fails as AddressReader::create does.
    static Expected<StatsCollector> create(const Database& db, InputOptions options);

    // One input line (without its '\n'); `line_no` is reported with errors.
    Error line(std::string_view text, std::uint64_t line_no);
    // Reads `in_fd` to its end; `name` labels read errors.
    Error read_all(int in_fd, std::string_view name);

    // The figures of what was read so far.
    StatsReport report();

private:
    StatsCollector(AddressReader reader, const Database& db);

    Error header_row(std::string_view) override { return {}; }
    Error lines(std::span<const InputLine> group) override;
    void compact();

    AddressReader reader_;
    const Database* db_;
    std::vector<std::uint64_t> per_answer_;  // lines per answer id
    std::vector<Ip> seen_;                   // valid addresses; sorted and unique up to sorted_
    std::size_t sorted_ = 0;
    std::size_t compact_at_;
};

// "16.7%": count / total in percent, tenths rounded half up; "-" when total is 0.
std::string percent_text(std::uint64_t count, std::uint64_t total);
// N of "1 in N": total / count rounded half up; 0 when count is 0.
std::uint64_t one_in(std::uint64_t count, std::uint64_t total);
// count / total, 0 when total is 0.
double share(std::uint64_t count, std::uint64_t total);

// The report as an aligned table (control bytes of names escaped), or as
// one JSON object and a line break; `source` names the input, `top` is how
// many providers to list.
std::string stats_text(const StatsReport& r, std::string_view source, std::size_t top);
std::string stats_json(const StatsReport& r, std::string_view source, std::size_t top);

}  // namespace anondb::builder
