#include "anondb/signing.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>

namespace anondb::writer {

struct SigningKey::Impl {
    EVP_PKEY* key = nullptr;
    ~Impl() { EVP_PKEY_free(key); }
};

SigningKey::SigningKey(std::unique_ptr<Impl> impl, PublicKey key) : impl_(std::move(impl)), public_(key) {}
SigningKey::SigningKey(SigningKey&&) noexcept = default;
SigningKey& SigningKey::operator=(SigningKey&&) noexcept = default;
SigningKey::~SigningKey() = default;

Expected<SigningKey> SigningKey::load(const std::string& pem_path) {
    BIO* bio = BIO_new_file(pem_path.c_str(), "r");
    if (!bio) return make_error(Status::io, pem_path + ": cannot read the key file");
    auto impl = std::make_unique<Impl>();
    impl->key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    if (!impl->key) return make_error(Status::invalid_argument, pem_path + ": not a PEM private key");
    if (EVP_PKEY_get_id(impl->key) != EVP_PKEY_ED25519)
        return make_error(Status::invalid_argument, pem_path + ": not an Ed25519 key");
    PublicKey pub;
    std::size_t len = pub.bytes.size();
    if (EVP_PKEY_get_raw_public_key(impl->key, pub.bytes.data(), &len) != 1 || len != pub.bytes.size())
        return make_error(Status::invalid_argument, pem_path + ": cannot read the raw Ed25519 key");
    return SigningKey(std::move(impl), pub);
}

Expected<std::array<std::uint8_t, 64>> SigningKey::sign(std::string_view message) const {
    std::array<std::uint8_t, 64> sig{};
    std::size_t len = sig.size();
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    const bool ok = ctx && EVP_DigestSignInit(ctx, nullptr, nullptr, nullptr, impl_->key) == 1 &&
                    EVP_DigestSign(ctx, sig.data(), &len, reinterpret_cast<const unsigned char*>(message.data()),
                                   message.size()) == 1 &&
                    len == sig.size();
    EVP_MD_CTX_free(ctx);
    if (!ok) return make_error(Status::invalid_argument, "Ed25519 signing failed");
    return sig;
}

}  // namespace anondb::writer
