// Signing .anondb files (format 2.1, docs/FORMAT.md "Signature"): an
// Ed25519 private key, loaded once, that writer::serialize uses to sign the
// file it writes. OpenSSL's libcrypto.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "anondb/reader.hpp"  // Expected
#include "anondb/signature.hpp"

namespace anondb::writer {

class SigningKey {
public:
    // An Ed25519 private key in a PEM file, as `openssl genpkey -algorithm
    // ed25519 -out KEY.pem` writes it. Anything else is an error naming the
    // file.
    static Expected<SigningKey> load(const std::string& pem_path);

    const PublicKey& public_key() const noexcept { return public_; }
    // The Ed25519 signature of `message` (deterministic: the same message,
    // the same signature).
    Expected<std::array<std::uint8_t, 64>> sign(std::string_view message) const;

    SigningKey(SigningKey&&) noexcept;
    SigningKey& operator=(SigningKey&&) noexcept;
    ~SigningKey();

private:
    struct Impl;
    explicit SigningKey(std::unique_ptr<Impl> impl, PublicKey key);
    std::unique_ptr<Impl> impl_;
    PublicKey public_;
};

}  // namespace anondb::writer
