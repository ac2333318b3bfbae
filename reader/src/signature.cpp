#include "anondb/signature.hpp"

#include <cstring>
#include <memory>

#include <openssl/evp.h>
#include <openssl/pem.h>

namespace anondb {
namespace {

Error bad(const std::string& why) { return make_error(Status::bad_signature, why); }

struct PkeyFree {
    void operator()(EVP_PKEY* k) const noexcept { EVP_PKEY_free(k); }
};
struct MdCtxFree {
    void operator()(EVP_MD_CTX* c) const noexcept { EVP_MD_CTX_free(c); }
};
struct BioFree {
    void operator()(BIO* b) const noexcept { BIO_free(b); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

}  // namespace

Expected<PublicKey> read_public_key(const std::string& pem_path) {
    const std::unique_ptr<BIO, BioFree> bio(BIO_new_file(pem_path.c_str(), "r"));
    if (!bio) return make_error(Status::io, pem_path + ": cannot read the key file");
    // A public key, or else the public half of a private key.
    Pkey key(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
    if (!key) {
        BIO_reset(bio.get());
        key.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
    }
    if (!key) return make_error(Status::invalid_argument, pem_path + ": not a PEM public or private key");
    if (EVP_PKEY_get_id(key.get()) != EVP_PKEY_ED25519)
        return make_error(Status::invalid_argument, pem_path + ": not an Ed25519 key");
    PublicKey out;
    std::size_t len = out.bytes.size();
    if (EVP_PKEY_get_raw_public_key(key.get(), out.bytes.data(), &len) != 1 || len != out.bytes.size())
        return make_error(Status::invalid_argument, pem_path + ": cannot read the raw Ed25519 key");
    return out;
}

std::string key_fingerprint(const PublicKey& key) {
    unsigned char digest[32];
    unsigned int len = 0;
    EVP_Digest(key.bytes.data(), key.bytes.size(), digest, &len, EVP_sha256(), nullptr);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string s = "SHA256:";
    for (unsigned i = 0; i < len; ++i) {
        s += kHex[digest[i] >> 4];
        s += kHex[digest[i] & 0xf];
    }
    return s;
}

std::string signed_message(std::span<const std::byte> file, std::size_t signature_entry) {
    format::Header h;
    std::memcpy(&h, file.data(), sizeof h);
    const std::size_t entry_at = static_cast<std::size_t>(h.section_table_offset) + signature_entry * sizeof(format::SectionEntry);
    format::SectionEntry sig;
    std::memcpy(&sig, file.data() + entry_at, sizeof sig);
    // The three fields that change when the signature is filled in, in file
    // order (header, table, then the sections): read as zeros.
    const std::size_t zeroed[3][2] = {
        {offsetof(format::Header, table_checksum), 8},
        {entry_at + offsetof(format::SectionEntry, checksum), 8},
        {static_cast<std::size_t>(sig.offset) + offsetof(format::SignatureSection, signature), 64},
    };
    static constexpr unsigned char kZeros[64] = {};
    const std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
    EVP_DigestInit_ex(ctx.get(), EVP_sha512(), nullptr);
    std::size_t at = 0;
    for (const auto& [off, len] : zeroed) {
        EVP_DigestUpdate(ctx.get(), file.data() + at, off - at);
        EVP_DigestUpdate(ctx.get(), kZeros, len);
        at = off + len;
    }
    EVP_DigestUpdate(ctx.get(), file.data() + at, file.size() - at);
    unsigned char digest[64];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx.get(), digest, &len);
    std::string message(format::kSignatureContext);
    message.append(reinterpret_cast<const char*>(digest), len);
    return message;
}

Expected<Ok> verify_signature(const Database& db, const PublicKey& key) {
    const format::SignatureSection* sig = db.signature();
    if (!sig) return bad("the file is not signed");
    if (std::memcmp(sig->public_key, key.bytes.data(), key.bytes.size()) != 0) {
        PublicKey signer;
        std::memcpy(signer.bytes.data(), sig->public_key, signer.bytes.size());
        return bad("signed by another key (" + key_fingerprint(signer) + "), not " + key_fingerprint(key));
    }
    const auto sections = db.sections();
    std::size_t entry = 0;
    while (sections[entry].kind != static_cast<std::uint32_t>(format::SectionKind::signature)) ++entry;
    const std::string message = signed_message(db.file_bytes(), entry);
    const Pkey pkey(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, key.bytes.data(), key.bytes.size()));
    const std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
    if (!pkey || !ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, pkey.get()) != 1)
        return make_error(Status::invalid_argument, "cannot set up Ed25519 verification");
    if (EVP_DigestVerify(ctx.get(), sig->signature, sizeof sig->signature,
                         reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1)
        return bad("the signature does not match the file (" + key_fingerprint(key) + ")");
    return Ok{};
}

Expected<Database> open_signed(const std::string& path, const PublicKey& key, OpenOptions options) {
    auto db = Database::open(path, options);
    if (!db) return db;
    if (auto ok = verify_signature(*db, key); !ok) {
        Error e = ok.error();
        e.message = path + ": " + e.message;
        return e;
    }
    return db;
}

}  // namespace anondb
