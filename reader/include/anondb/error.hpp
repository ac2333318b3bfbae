// Errors as values: the status codes shared by the C++ reader and the C API,
// and a small Expected<T> (C++20 has no std::expected). Standard library only.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace anondb {

// Error codes; the C API uses the same numbers (anondb.h).
enum class Status : int {
    ok = 0,
    io = 1,                   // the file cannot be opened, read or mapped
    not_anondb = 2,           // wrong magic
    unsupported_version = 3,  // a format major this reader does not know
    truncated = 4,            // the file is shorter than it says
    corrupt = 5,              // a structure is invalid
    checksum = 6,             // stored bytes do not match their checksum
    missing_section = 7,      // a required section is absent
    bad_address = 8,          // text that is not an IP address
    decompress = 9,           // a compressed section does not decode
    bad_signature = 10,       // reserved for signed databases
    invalid_argument = 11,
};

constexpr const char* status_text(Status s) noexcept {
    switch (s) {
        case Status::ok: return "ok";
        case Status::io: return "cannot read file";
        case Status::not_anondb: return "not an anondb file";
        case Status::unsupported_version: return "unsupported format version";
        case Status::truncated: return "file truncated";
        case Status::corrupt: return "file corrupt";
        case Status::checksum: return "checksum mismatch";
        case Status::missing_section: return "required section missing";
        case Status::bad_address: return "not an IP address";
        case Status::decompress: return "section does not decompress";
        case Status::bad_signature: return "bad signature";
        case Status::invalid_argument: return "invalid argument";
    }
    return "unknown error";
}

struct Error {
    Status status = Status::ok;
    std::string message;  // status text plus context: section, offset, path
};

// A value or an Error (C++20 has no std::expected).
template <class T>
class Expected {
public:
    Expected(T value) : v_(std::move(value)) {}
    Expected(Error error) : v_(std::move(error)) {}
    bool has_value() const noexcept { return v_.index() == 0; }
    explicit operator bool() const noexcept { return has_value(); }
    T& value() & { return std::get<0>(v_); }
    T&& value() && { return std::get<0>(std::move(v_)); }
    const T& value() const& { return std::get<0>(v_); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    const Error& error() const { return std::get<1>(v_); }

private:
    std::variant<T, Error> v_;
};

struct Ok {};

inline Error make_error(Status s, std::string_view context) {
    std::string m = status_text(s);
    if (!context.empty()) {
        m += ": ";
        m += context;
    }
    return Error{s, std::move(m)};
}

}  // namespace anondb
