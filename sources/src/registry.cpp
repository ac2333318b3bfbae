#include "anondb/sources/parse.hpp"
namespace anondb::sources {
std::span<const FormatInfo> formats() { return {}; }
const FormatInfo* find_format(std::string_view) { return nullptr; }
}
