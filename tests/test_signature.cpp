// Signed databases (format 2.1, docs/FORMAT.md "Signature"): keys made here
// with OpenSSL, files signed by the writer, checked by verify_signature and
// the C API; the signed message recomputed independently from the spec;
// every byte of a signed file flipped in turn.
#include <doctest/doctest.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <string>
#include <vector>

#include "anondb/anondb.h"
#include "anondb/builder/pipeline.hpp"
#include "anondb/explain.hpp"
#include "anondb/signature.hpp"
#include "anondb/signing.hpp"
#include "anondb/writer.hpp"
#include "test_util.hpp"

using namespace anondb;
namespace fs = std::filesystem;

namespace {

// An Ed25519 key pair made with OpenSSL, as PEM files in a fresh directory:
// key.pem (private, as `openssl genpkey` writes it) and key.pub.pem
// (public, as `openssl pkey -pubout` writes it).
struct KeyFiles {
    fs::path dir;
    std::string priv, pub;
    PublicKey raw;

    explicit KeyFiles(const std::string& name) {
        dir = fs::temp_directory_path() / ("anondb-sig-" + name + "-" + std::to_string(::getpid()));
        fs::create_directories(dir);
        priv = (dir / "key.pem").string();
        pub = (dir / "key.pub.pem").string();
        EVP_PKEY* key = nullptr;
        EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr);
        REQUIRE(ctx);
        REQUIRE(EVP_PKEY_keygen_init(ctx) == 1);
        REQUIRE(EVP_PKEY_keygen(ctx, &key) == 1);
        EVP_PKEY_CTX_free(ctx);
        std::FILE* f = std::fopen(priv.c_str(), "w");
        REQUIRE(f);
        REQUIRE(PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr) == 1);
        std::fclose(f);
        f = std::fopen(pub.c_str(), "w");
        REQUIRE(f);
        REQUIRE(PEM_write_PUBKEY(f, key) == 1);
        std::fclose(f);
        std::size_t len = raw.bytes.size();
        REQUIRE(EVP_PKEY_get_raw_public_key(key, raw.bytes.data(), &len) == 1);
        EVP_PKEY_free(key);
    }
    ~KeyFiles() {
        std::error_code ec;
        fs::remove_all(dir, ec);
    }
};

// A small database: two feeds, overlapping entries in both families.
struct Small {
    writer::DatabaseContent c;
    std::deque<std::string> texts;
    Small() {
        c.build_time = 1767225600;
        c.providers = {"", "Example VPN"};
        for (const char* name : {"tor-list", "vpn-list"}) {
            writer::FeedInfo f;
            f.name = name;
            f.url = std::string("https://example.org/") + name;
            c.feeds.push_back(f);
        }
        std::vector<builder::MergeInput> inputs;
        auto add = [&](std::uint32_t feed, const char* text, std::uint32_t cats, std::uint32_t provider) {
            texts.emplace_back(text);
            const auto parsed = parse_range(text);
            REQUIRE(parsed);
            const auto origin = static_cast<std::uint32_t>(c.origins.size());
            c.origins.push_back({feed, origin + 1, cats, provider, texts.back()});
            inputs.push_back({parsed->range, origin});
        };
        add(0, "185.220.101.0/24", kTorExit, 0);
        add(0, "185.220.101.1", kTorExit, 0);
        add(1, "185.220.100.0/22", kVpn, 1);
        add(1, "2001:db8:1::/48", kVpn, 1);
        builder::merge_into(inputs, c);
    }
};

std::vector<std::byte> serialize(const writer::DatabaseContent& c, const writer::SigningKey* key) {
    writer::WriteOptions options;
    options.signing_key = key;
    auto bytes = writer::serialize(c, options);
    REQUIRE_MESSAGE(bytes, (bytes ? "" : bytes.error().message));
    return *bytes;
}

// The bytes in 8-byte aligned storage, as Database::from_bytes wants them.
struct Aligned {
    std::vector<std::uint64_t> words;
    std::size_t size;
    explicit Aligned(const std::vector<std::byte>& b) : words(b.size() / 8 + 1), size(b.size()) {
        std::memcpy(words.data(), b.data(), b.size());
    }
    std::span<const std::byte> bytes() const { return {reinterpret_cast<const std::byte*>(words.data()), size}; }
};

// The signature section's table entry index and entry.
std::pair<std::size_t, format::SectionEntry> signature_entry(const std::vector<std::byte>& file) {
    format::Header h;
    std::memcpy(&h, file.data(), sizeof h);
    for (std::size_t i = 0; i < h.section_count; ++i) {
        format::SectionEntry e;
        std::memcpy(&e, file.data() + h.section_table_offset + i * sizeof e, sizeof e);
        if (e.kind == static_cast<std::uint32_t>(format::SectionKind::signature)) return {i, e};
    }
    FAIL("no signature section");
    return {};
}

}  // namespace

TEST_CASE("signature: a signed file verifies with its key, and only with it") {
    const KeyFiles keys("a"), other("b");
    auto signing = writer::SigningKey::load(keys.priv);
    REQUIRE_MESSAGE(signing, (signing ? "" : signing.error().message));
    CHECK(signing->public_key() == keys.raw);
    auto pub = read_public_key(keys.pub);
    REQUIRE(pub);
    CHECK(*pub == keys.raw);
    // The private key file names the same public key.
    auto from_priv = read_public_key(keys.priv);
    REQUIRE(from_priv);
    CHECK(*from_priv == keys.raw);

    const Small s;
    const auto file = serialize(s.c, &*signing);
    const Aligned buf(file);
    auto db = Database::from_bytes(buf.bytes());
    REQUIRE_MESSAGE(db, (db ? "" : db.error().message));
    CHECK(db->header().minor >= 1);
    REQUIRE(db->signature() != nullptr);
    CHECK(std::memcmp(db->signature()->public_key, keys.raw.bytes.data(), 32) == 0);
    CHECK(verify_signature(*db, *pub).has_value());
    // Everything else about the file is as unsigned: verify() passes and
    // lookups answer the same.
    auto verified = verify(*db);
    CHECK_MESSAGE(verified.has_value(), (verified ? "" : verified.error().message));
    const auto unsigned_file = serialize(s.c, nullptr);
    const Aligned ubuf(unsigned_file);
    auto udb = Database::from_bytes(ubuf.bytes());
    REQUIRE(udb);
    CHECK(udb->signature() == nullptr);
    for (const char* a : {"185.220.101.1", "185.220.101.7", "185.220.100.1", "2001:db8:1::1", "192.0.2.1"}) {
        const Ip ip = parse_ip(a)->ip;
        CHECK(db->lookup(ip).categories == udb->lookup(ip).categories);
        CHECK(db->lookup(ip).provider == udb->lookup(ip).provider);
    }

    auto wrong = read_public_key(other.pub);
    REQUIRE(wrong);
    auto bad = verify_signature(*db, *wrong);
    REQUIRE_FALSE(bad.has_value());
    CHECK(bad.error().status == Status::bad_signature);
    CHECK(bad.error().message.find("another key") != std::string::npos);
    auto none = verify_signature(*udb, *pub);
    REQUIRE_FALSE(none.has_value());
    CHECK(none.error().status == Status::bad_signature);
    CHECK(none.error().message.find("not signed") != std::string::npos);

    // Deterministic: Ed25519 signs the same message the same way.
    CHECK(serialize(s.c, &*signing) == file);
}

TEST_CASE("signature: the signed message is what FORMAT.md says, checked with OpenSSL alone") {
    const KeyFiles keys("c");
    auto signing = writer::SigningKey::load(keys.priv);
    REQUIRE(signing);
    const Small s;
    const auto file = serialize(s.c, &*signing);
    const auto [index, entry] = signature_entry(file);
    CHECK(entry.stored_size == sizeof(format::SignatureSection));
    CHECK(entry.encoding == 0);
    // The message, from the spec: the file with the table checksum, the
    // signature entry's checksum and the signature read as zeros, hashed
    // with SHA-512, after the context string.
    std::vector<std::byte> zeroed = file;
    std::memset(zeroed.data() + offsetof(format::Header, table_checksum), 0, 8);
    format::Header h;
    std::memcpy(&h, file.data(), sizeof h);
    std::memset(zeroed.data() + h.section_table_offset + index * sizeof(format::SectionEntry) +
                    offsetof(format::SectionEntry, checksum),
                0, 8);
    std::memset(zeroed.data() + entry.offset + offsetof(format::SignatureSection, signature), 0, 64);
    unsigned char digest[64];
    unsigned int len = 0;
    REQUIRE(EVP_Digest(zeroed.data(), zeroed.size(), digest, &len, EVP_sha512(), nullptr) == 1);
    std::string message = "anondb database signature v1";
    message.append(reinterpret_cast<const char*>(digest), len);
    CHECK(signed_message(file, index) == message);

    format::SignatureSection sig;
    std::memcpy(&sig, file.data() + entry.offset, sizeof sig);
    CHECK(sig.algorithm == 1);
    CHECK(sig.reserved == 0);
    EVP_PKEY* pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, keys.raw.bytes.data(), 32);
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    REQUIRE(EVP_DigestVerifyInit(ctx, nullptr, nullptr, nullptr, pkey) == 1);
    CHECK(EVP_DigestVerify(ctx, sig.signature, 64, reinterpret_cast<const unsigned char*>(message.data()),
                           message.size()) == 1);
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(pkey);
}

TEST_CASE("signature: a byte flipped anywhere in a signed file fails open or the signature") {
    const KeyFiles keys("d");
    auto signing = writer::SigningKey::load(keys.priv);
    REQUIRE(signing);
    const Small s;
    const auto file = serialize(s.c, &*signing);
    // Every byte of the header, the section table, the cold sections and
    // the signature section (the fields the signed message reads as zeros
    // among them), and one byte of every 64-byte block of the rest, at an offset that
    // moves from block to block: every section and every stretch of
    // padding gets flips, in time the suite can afford (the 16-bit index
    // alone is 256 KiB).
    const auto [index, entry] = signature_entry(file);
    format::Header h;
    std::memcpy(&h, file.data(), sizeof h);
    const std::size_t table_end = h.section_table_offset + h.section_count * sizeof(format::SectionEntry);
    // Cold sections (providers on) are not read by a deferred open: a flip
    // there always opens, and only the signature (or verify()) catches it.
    std::uint64_t cold_begin = file.size();
    for (std::size_t i = 0; i < h.section_count; ++i) {
        format::SectionEntry e;
        std::memcpy(&e, file.data() + h.section_table_offset + i * sizeof e, sizeof e);
        if (e.kind >= static_cast<std::uint32_t>(format::SectionKind::providers) &&
            e.kind != static_cast<std::uint32_t>(format::SectionKind::signature))
            cold_begin = std::min(cold_begin, e.offset);
    }
    std::vector<std::size_t> positions;
    for (std::size_t pos = 0; pos < file.size(); ++pos) {
        const bool whole = pos < table_end || pos >= cold_begin;
        if (whole || pos % 64 == (pos / 64) % 64) positions.push_back(pos);
    }
    std::size_t opened = 0, cold_flips = 0, cold_opened = 0;
    Aligned buf(file);  // flipped in place and back: no copy of the file a flip
    auto* bytes = reinterpret_cast<std::byte*>(buf.words.data());
    for (const std::size_t pos : positions) {
        for (const std::uint8_t mask : {0x01, 0x80}) {
            bytes[pos] ^= std::byte{mask};
            auto db = Database::from_bytes(buf.bytes(), {OpenChecks::deferred});
            const bool cold = pos >= cold_begin && !(pos >= entry.offset && pos < entry.offset + entry.stored_size);
            cold_flips += cold;
            opened += db.has_value();
            cold_opened += cold && db.has_value();
            if (db) {
                auto ok = verify_signature(*db, keys.raw);
                CHECK_MESSAGE(!ok.has_value(), "byte " << pos << " flipped (mask " << int(mask) << ") still verifies");
                if (!ok) CHECK(ok.error().status == Status::bad_signature);
            }
            bytes[pos] ^= std::byte{mask};
        }
    }
    CHECK(cold_flips > 20);
    CHECK(cold_opened == cold_flips);
    CHECK(opened > cold_opened);  // some hot bytes too (answers, strings, padding)
}

TEST_CASE("signature: a malformed signature section is refused at open") {
    const KeyFiles keys("e");
    auto signing = writer::SigningKey::load(keys.priv);
    REQUIRE(signing);
    const Small s;
    const auto file = serialize(s.c, &*signing);
    const auto [index, entry] = signature_entry(file);
    format::Header h;
    std::memcpy(&h, file.data(), sizeof h);
    const std::size_t entry_at = h.section_table_offset + index * sizeof(format::SectionEntry);
    // Reseal after an edit: the section's and the table's checksums, so the
    // structural check is what answers.
    auto reseal = [&](std::vector<std::byte>& b) {
        format::SectionEntry e;
        std::memcpy(&e, b.data() + entry_at, sizeof e);
        e.checksum = detail::xxh64(b.data() + e.offset, e.stored_size);
        std::memcpy(b.data() + entry_at, &e, sizeof e);
        format::Header hh;
        std::memcpy(&hh, b.data(), sizeof hh);
        std::vector<std::byte> covered(offsetof(format::Header, table_checksum) + hh.section_count * sizeof(format::SectionEntry));
        std::memcpy(covered.data(), b.data(), offsetof(format::Header, table_checksum));
        std::memcpy(covered.data() + offsetof(format::Header, table_checksum), b.data() + hh.section_table_offset,
                    hh.section_count * sizeof(format::SectionEntry));
        hh.table_checksum = detail::xxh64(covered.data(), covered.size());
        std::memcpy(b.data(), &hh, sizeof hh);
    };
    auto expect_refused = [&](std::vector<std::byte> b, const char* why) {
        reseal(b);
        const Aligned buf(b);
        auto db = Database::from_bytes(buf.bytes());
        REQUIRE_FALSE_MESSAGE(db.has_value(), why);
        CHECK(db.error().status == Status::corrupt);
        CHECK(db.error().message.find("signature") != std::string::npos);
    };
    {
        std::vector<std::byte> b = file;
        const std::uint32_t algo = 2;
        std::memcpy(b.data() + entry.offset, &algo, 4);
        expect_refused(b, "unknown algorithm");
    }
    {
        std::vector<std::byte> b = file;
        format::SectionEntry e = entry;
        e.stored_size = e.raw_size = 96;
        std::memcpy(b.data() + entry_at, &e, sizeof e);
        expect_refused(b, "short section");
    }
    {
        std::vector<std::byte> b = file;
        format::SectionEntry e = entry;
        e.encoding = 1;
        std::memcpy(b.data() + entry_at, &e, sizeof e);
        expect_refused(b, "compressed section");
    }
}

TEST_CASE("signature: keys that are not Ed25519 PEM files are errors naming the file") {
    const KeyFiles keys("f");
    const std::string junk = (keys.dir / "junk.pem").string();
    std::FILE* f = std::fopen(junk.c_str(), "w");
    std::fputs("-----BEGIN PUBLIC KEY-----\nnot base64 at all\n-----END PUBLIC KEY-----\n", f);
    std::fclose(f);
    auto a = read_public_key(junk);
    REQUIRE_FALSE(a.has_value());
    CHECK(a.error().message.find(junk) != std::string::npos);
    auto b = writer::SigningKey::load(keys.pub);  // a public key where a private one is needed
    REQUIRE_FALSE(b.has_value());
    CHECK(b.error().message.find(keys.pub) != std::string::npos);
    auto c = read_public_key((keys.dir / "missing.pem").string());
    REQUIRE_FALSE(c.has_value());
    CHECK(c.error().status == Status::io);
    // An RSA key is a key, but not Ed25519.
    EVP_PKEY* rsa = EVP_RSA_gen(1024);
    REQUIRE(rsa);
    const std::string rsa_path = (keys.dir / "rsa.pem").string();
    f = std::fopen(rsa_path.c_str(), "w");
    REQUIRE(PEM_write_PrivateKey(f, rsa, nullptr, nullptr, 0, nullptr, nullptr) == 1);
    std::fclose(f);
    EVP_PKEY_free(rsa);
    auto d = writer::SigningKey::load(rsa_path);
    REQUIRE_FALSE(d.has_value());
    CHECK(d.error().message.find("not an Ed25519 key") != std::string::npos);
}

TEST_CASE("signature: the C API opens a signed file only with its key") {
    const KeyFiles keys("g"), other("h");
    auto signing = writer::SigningKey::load(keys.priv);
    REQUIRE(signing);
    const Small s;
    const fs::path signed_path = keys.dir / "signed.anondb", plain_path = keys.dir / "plain.anondb";
    REQUIRE(writer::write_file_atomic(signed_path.string(), serialize(s.c, &*signing)));
    REQUIRE(writer::write_file_atomic(plain_path.string(), serialize(s.c, nullptr)));

    anondb_db* db = nullptr;
    char err[256] = "";
    REQUIRE(anondb_open_signed(signed_path.c_str(), keys.raw.bytes.data(), &db, err, sizeof err) == ANONDB_OK);
    anondb_result r;
    REQUIRE(anondb_lookup(db, "185.220.101.1", &r) == ANONDB_OK);
    CHECK((r.categories & ANONDB_TOR_EXIT) != 0);
    anondb_close(db);

    db = reinterpret_cast<anondb_db*>(1);
    CHECK(anondb_open_signed(signed_path.c_str(), other.raw.bytes.data(), &db, err, sizeof err) == ANONDB_ERR_BAD_SIGNATURE);
    CHECK(db == nullptr);
    CHECK(std::string(err).find("another key") != std::string::npos);
    CHECK(anondb_open_signed(plain_path.c_str(), keys.raw.bytes.data(), &db, err, sizeof err) == ANONDB_ERR_BAD_SIGNATURE);
    CHECK(std::string(err).find("not signed") != std::string::npos);
    CHECK(anondb_open_signed(signed_path.c_str(), nullptr, &db, err, sizeof err) == ANONDB_ERR_INVALID_ARGUMENT);
    // anondb_open ignores the signature: an unsigned reader of a signed file.
    REQUIRE(anondb_open(signed_path.c_str(), &db, err, sizeof err) == ANONDB_OK);
    anondb_close(db);
}
