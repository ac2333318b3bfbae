// Signed databases (format 2.1, docs/FORMAT.md "Signature"): checking an
// Ed25519 signature over a whole .anondb file against a key the caller
// trusts. Compiled into libanondb (OpenSSL's libcrypto); the lookup path in
// reader.hpp does not need it. The C API's anondb_open_signed is this.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "anondb/reader.hpp"

namespace anondb {

// A raw Ed25519 public key.
struct PublicKey {
    std::array<std::uint8_t, 32> bytes{};
    friend bool operator==(const PublicKey&, const PublicKey&) = default;
};

// The public key in a PEM file: a public key as `openssl pkey -pubout`
// writes it, or the public half of a private key as `openssl genpkey
// -algorithm ed25519` writes it. Anything else is an error naming the file.
Expected<PublicKey> read_public_key(const std::string& pem_path);

// How a key is named in output: "SHA256:" and the hex SHA-256 of its 32
// raw bytes.
std::string key_fingerprint(const PublicKey& key);

// What a signature signs: kSignatureContext, then the SHA-512 of the file's
// bytes with three fields read as zero: the header's table_checksum, the
// signature section's table entry checksum and the signature itself (the
// fields that change when the signature is filled in). `signature_entry`
// is the index of the signature section in the file's section table; the
// file's header and table must lie inside `file` (a Database proves it).
std::string signed_message(std::span<const std::byte> file, std::size_t signature_entry);

// Whether `db` carries a valid Ed25519 signature by `key`. Errors
// (Status::bad_signature): the file is unsigned, it names another key, or
// the signature does not match the bytes. Checks nothing else: verify()
// does the rest.
Expected<Ok> verify_signature(const Database& db, const PublicKey& key);

// Database::open, then verify_signature: a file that is not signed by
// `key` is refused (Status::bad_signature). The signature covers every byte
// of the file, so a file that passes is the bytes the key's holder wrote.
Expected<Database> open_signed(const std::string& path, const PublicKey& key, OpenOptions options = {});

}  // namespace anondb
