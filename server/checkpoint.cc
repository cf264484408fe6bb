// Signed notes, checkpoints and cosignatures (see checkpoint.h).
#include "server/checkpoint.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace enlace::tlog {
namespace {

constexpr size_t kKeyBytes = 32;
constexpr size_t kSignatureBytes = 64;
constexpr absl::string_view kPrivateKeyPrefix = "PRIVATE+KEY+";

std::shared_ptr<EVP_PKEY> Own(EVP_PKEY* key) {
  return std::shared_ptr<EVP_PKEY>(key, &EVP_PKEY_free);
}

std::string Sha256(absl::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<const char*>(digest), length);
}

std::string BioText(BIO* bio) {
  char* data = nullptr;
  long length = BIO_get_mem_data(bio, &data);
  return std::string(data, length > 0 ? static_cast<size_t>(length) : 0);
}

// Standard base64 that re-encodes to exactly `text` (no lenient forms: one
// note, one encoding).
bool StrictBase64(absl::string_view text, std::string* out) {
  return absl::Base64Unescape(text, out) && absl::Base64Escape(*out) == text;
}

// Valid UTF-8 without ASCII control characters other than newline.
bool IsCleanUtf8(absl::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      if ((c < 0x20 && c != '\n') || c == 0x7F) return false;
      ++i;
      continue;
    }
    size_t extra = 0;
    uint32_t code = 0;
    if ((c & 0xE0) == 0xC0) {
      extra = 1;
      code = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2;
      code = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3;
      code = c & 0x07;
    } else {
      return false;
    }
    if (text.size() - i <= extra) return false;
    for (size_t k = 1; k <= extra; ++k) {
      const unsigned char cc = static_cast<unsigned char>(text[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      code = (code << 6) | (cc & 0x3F);
    }
    const uint32_t smallest[] = {0, 0x80, 0x800, 0x10000};
    if (code < smallest[extra] || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) {
      return false;
    }
    i += extra + 1;
  }
  return true;
}

// 8 hexadecimal digits -> the 4 bytes they spell.
bool ParseKeyIdHex(absl::string_view hex, std::string* out) {
  if (hex.size() != 8) return false;
  for (char c : hex) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return false;
  }
  *out = absl::HexStringToBytes(hex);
  return out->size() == 4;
}

std::string Be64(uint64_t value) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<char>(value & 0xFF);
    value >>= 8;
  }
  return out;
}

uint64_t FromBe64(absl::string_view bytes) {
  uint64_t value = 0;
  for (char c : bytes) value = (value << 8) | static_cast<unsigned char>(c);
  return value;
}

}  // namespace

bool IsValidKeyName(absl::string_view name) {
  if (name.empty() || name.size() > kMaxKeyName) return false;
  for (char c : name) {
    if (c <= 0x20 || c >= 0x7F || c == '+') return false;
  }
  return true;
}

std::string KeyId(absl::string_view name, uint8_t type, absl::string_view public_key) {
  std::string input(name);
  input.push_back('\n');
  input.push_back(static_cast<char>(type));
  input.append(public_key.data(), public_key.size());
  return Sha256(input).substr(0, 4);
}

// ---- Ed25519 ----

Ed25519Key Ed25519Key::Generate() {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  return Ed25519Key(Own(key));
}

absl::StatusOr<Ed25519Key> Ed25519Key::FromSeed(absl::string_view seed) {
  if (seed.size() != kKeyBytes) {
    return absl::InvalidArgumentError("an Ed25519 private key is 32 bytes");
  }
  EVP_PKEY* key = EVP_PKEY_new_raw_private_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(seed.data()), seed.size());
  if (key == nullptr) return absl::InvalidArgumentError("not an Ed25519 private key");
  return Ed25519Key(Own(key));
}

absl::StatusOr<Ed25519Key> Ed25519Key::FromPem(absl::string_view pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  EVP_PKEY* key = bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr;
  if (key == nullptr) return absl::InvalidArgumentError("not a PEM private key");
  std::shared_ptr<EVP_PKEY> owned = Own(key);
  if (!EVP_PKEY_is_a(key, "ED25519")) {
    return absl::InvalidArgumentError(
        "not an Ed25519 key (make one with: openssl genpkey -algorithm ed25519)");
  }
  return Ed25519Key(std::move(owned));
}

absl::StatusOr<Ed25519Key> Ed25519Key::LoadPemFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("cannot read ", path));
  std::stringstream text;
  text << in.rdbuf();
  absl::StatusOr<Ed25519Key> key = FromPem(text.str());
  if (!key.ok())
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", key.status().message()));
  return key;
}

std::string Ed25519Key::PublicKey() const {
  std::string out(kKeyBytes, '\0');
  size_t length = out.size();
  EVP_PKEY_get_raw_public_key(key_.get(), reinterpret_cast<unsigned char*>(out.data()), &length);
  out.resize(length);
  return out;
}

std::string Ed25519Key::Seed() const {
  std::string out(kKeyBytes, '\0');
  size_t length = out.size();
  EVP_PKEY_get_raw_private_key(key_.get(), reinterpret_cast<unsigned char*>(out.data()), &length);
  out.resize(length);
  return out;
}

std::string Ed25519Key::Sign(absl::string_view message) const {
  std::string signature(kSignatureBytes, '\0');
  size_t length = signature.size();
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  // Ed25519 hashes internally: no digest is named (NULL), one-shot only.
  if (ctx == nullptr || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key_.get()) != 1 ||
      EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &length,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1) {
    return std::string(kSignatureBytes, '\0');  // never verifies
  }
  return signature;
}

std::string Ed25519Key::ToPem() const {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  PEM_write_bio_PrivateKey(bio.get(), key_.get(), nullptr, nullptr, 0, nullptr, nullptr);
  return BioText(bio.get());
}

std::string Ed25519Key::PublicKeyPem() const {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  PEM_write_bio_PUBKEY(bio.get(), key_.get());
  return BioText(bio.get());
}

bool VerifyEd25519(absl::string_view public_key, absl::string_view message,
                   absl::string_view signature) {
  if (public_key.size() != kKeyBytes || signature.size() != kSignatureBytes) return false;
  std::shared_ptr<EVP_PKEY> key = Own(EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(public_key.data()),
      public_key.size()));
  if (key == nullptr) return false;
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  return ctx != nullptr &&
         EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) == 1 &&
         EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                          signature.size(), reinterpret_cast<const unsigned char*>(message.data()),
                          message.size()) == 1;
}

absl::StatusOr<std::string> Ed25519PublicKeyFromPem(absl::string_view pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  EVP_PKEY* key = bio ? PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr) : nullptr;
  if (key == nullptr) return absl::InvalidArgumentError("not a PEM public key");
  std::shared_ptr<EVP_PKEY> owned = Own(key);
  if (!EVP_PKEY_is_a(key, "ED25519")) return absl::InvalidArgumentError("not an Ed25519 key");
  std::string out(kKeyBytes, '\0');
  size_t length = out.size();
  if (EVP_PKEY_get_raw_public_key(key, reinterpret_cast<unsigned char*>(out.data()), &length) !=
          1 ||
      length != kKeyBytes) {
    return absl::InvalidArgumentError("not an Ed25519 public key");
  }
  return out;
}

// ---- keys as text ----

std::string FormatVerifierKey(const Verifier& verifier) {
  std::string material(1, static_cast<char>(verifier.type));
  material += verifier.public_key;
  return absl::StrCat(verifier.name, "+", absl::BytesToHexString(verifier.key_id()), "+",
                      absl::Base64Escape(material));
}

namespace {

// "<name>+<hex id>+<base64(type || 32 bytes)>" -> name, type, key bytes.
absl::Status ParseKeyText(absl::string_view text, absl::string_view what, std::string* name,
                          uint8_t* type, std::string* key_bytes, std::string* key_id) {
  // The base64 key may hold '+' itself: the name and id never do.
  std::vector<absl::string_view> parts = absl::StrSplit(text, absl::MaxSplits('+', 2));
  if (parts.size() != 3) {
    return absl::InvalidArgumentError(
        absl::StrCat("a ", what, " is <name>+<8 hex digits>+<base64 key>"));
  }
  if (!IsValidKeyName(parts[0])) {
    return absl::InvalidArgumentError(absl::StrCat("key name: 1 to ", kMaxKeyName,
                                                   " printable ASCII characters, no space or '+'"));
  }
  std::string material;
  if (!StrictBase64(parts[2], &material) || material.size() != 1 + kKeyBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("the ", what, "'s key is not base64 of a type byte and 32 bytes"));
  }
  *type = static_cast<uint8_t>(material[0]);
  if (*type != kEd25519 && *type != kCosignatureV1) {
    return absl::InvalidArgumentError(absl::StrCat("the ", what, " is of signature type ", *type,
                                                   "; Ed25519 (1) or cosignature/v1 (4) only"));
  }
  *name = std::string(parts[0]);
  *key_bytes = material.substr(1);
  std::string id;
  if (!ParseKeyIdHex(parts[1], &id)) {
    return absl::InvalidArgumentError(absl::StrCat("the ", what, "'s key id is not 8 hex digits"));
  }
  *key_id = id;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Verifier> ParseVerifierKey(absl::string_view vkey) {
  vkey = absl::StripAsciiWhitespace(vkey);
  Verifier verifier;
  std::string key_id;
  if (absl::Status s = ParseKeyText(vkey, "verifier key", &verifier.name, &verifier.type,
                                    &verifier.public_key, &key_id);
      !s.ok()) {
    return s;
  }
  if (key_id != verifier.key_id()) {
    return absl::InvalidArgumentError(
        "the verifier key's id is not SHA-256(name, 0x0A, type, key)[:4]");
  }
  return verifier;
}

std::string FormatSignerKey(const SignerKey& signer) {
  std::string material(1, static_cast<char>(signer.type));
  material += signer.key.Seed();
  return absl::StrCat(kPrivateKeyPrefix, signer.name, "+",
                      absl::BytesToHexString(signer.verifier().key_id()), "+",
                      absl::Base64Escape(material));
}

absl::StatusOr<SignerKey> ParseSignerKey(absl::string_view skey) {
  skey = absl::StripAsciiWhitespace(skey);
  if (!absl::ConsumePrefix(&skey, kPrivateKeyPrefix)) {
    return absl::InvalidArgumentError(
        "a signer key is PRIVATE+KEY+<name>+<8 hex digits>+<base64 key>");
  }
  std::string name;
  uint8_t type = 0;
  std::string seed;
  std::string key_id;
  if (absl::Status s = ParseKeyText(skey, "signer key", &name, &type, &seed, &key_id); !s.ok()) {
    return s;
  }
  absl::StatusOr<Ed25519Key> key = Ed25519Key::FromSeed(seed);
  if (!key.ok()) return key.status();
  SignerKey signer{name, type, *std::move(key)};
  if (key_id != signer.verifier().key_id()) {
    return absl::InvalidArgumentError(
        "the signer key's id is not SHA-256(name, 0x0A, type, public key)[:4]");
  }
  return signer;
}

// ---- notes ----

std::string NoteSignature::Line() const {
  return absl::StrCat(kSignaturePrefix, name, " ", absl::Base64Escape(key_id + signature), "\n");
}

absl::StatusOr<NoteSignature> ParseSignatureLine(absl::string_view line) {
  absl::ConsumeSuffix(&line, "\n");
  if (!absl::ConsumePrefix(&line, kSignaturePrefix)) {
    return absl::InvalidArgumentError("a signature line starts with an em dash and a space");
  }
  std::vector<absl::string_view> parts = absl::StrSplit(line, ' ');
  if (parts.size() != 2 || !IsValidKeyName(parts[0])) {
    return absl::InvalidArgumentError(
        "a signature line is \"— <key name> <base64 signature>\" (key names: printable "
        "ASCII, no space or '+')");
  }
  std::string bytes;
  if (!StrictBase64(parts[1], &bytes) || bytes.size() < 5) {
    return absl::InvalidArgumentError("the signature is not base64 of a key id and a signature");
  }
  NoteSignature signature;
  signature.name = std::string(parts[0]);
  signature.key_id = bytes.substr(0, 4);
  signature.signature = bytes.substr(4);
  return signature;
}

absl::StatusOr<Note> ParseNote(absl::string_view note) {
  if (note.size() > kMaxNoteBytes) return absl::InvalidArgumentError("the note is too long");
  if (!IsCleanUtf8(note)) {
    return absl::InvalidArgumentError(
        "a note is UTF-8 without control characters other than newline");
  }
  const size_t split = note.rfind("\n\n");
  if (split == absl::string_view::npos) {
    return absl::InvalidArgumentError("no blank line before the signatures");
  }
  absl::string_view signatures = note.substr(split + 2);
  if (signatures.empty() || signatures.back() != '\n') {
    return absl::InvalidArgumentError("a note ends with one or more signature lines");
  }
  Note parsed;
  parsed.text = std::string(note.substr(0, split + 1));
  signatures.remove_suffix(1);
  for (absl::string_view line : absl::StrSplit(signatures, '\n')) {
    if (parsed.signatures.size() >= kMaxSignatures) {
      return absl::InvalidArgumentError("too many signatures");
    }
    absl::StatusOr<NoteSignature> signature = ParseSignatureLine(line);
    if (!signature.ok()) return signature.status();
    parsed.signatures.push_back(*std::move(signature));
  }
  return parsed;
}

std::string FormatNote(const Note& note) {
  std::string out = note.text;
  out += "\n";
  for (const NoteSignature& signature : note.signatures) out += signature.Line();
  return out;
}

NoteSignature SignText(absl::string_view text, absl::string_view name, const Ed25519Key& key) {
  NoteSignature signature;
  signature.name = std::string(name);
  signature.key_id = KeyId(name, kEd25519, key.PublicKey());
  signature.signature = key.Sign(text);
  return signature;
}

absl::StatusOr<std::vector<std::string>> VerifyNote(const Note& note,
                                                    absl::Span<const Verifier> verifiers) {
  std::vector<std::string> verified;
  for (const NoteSignature& signature : note.signatures) {
    for (const Verifier& verifier : verifiers) {
      if (verifier.name != signature.name || verifier.key_id() != signature.key_id) continue;
      bool ok = false;
      if (verifier.type == kEd25519) {
        ok = VerifyEd25519(verifier.public_key, note.text, signature.signature);
      } else if (verifier.type == kCosignatureV1) {
        ok = VerifyCosignature(note.text, signature, verifier).ok();
      }
      if (!ok) {
        return absl::InvalidArgumentError(
            absl::StrCat("the signature of ", signature.name, " does not verify"));
      }
      verified.push_back(signature.name);
    }
  }
  if (verified.empty()) return absl::InvalidArgumentError("no signature by a known key");
  return verified;
}

// ---- checkpoints ----

std::string FormatCheckpoint(const Checkpoint& checkpoint) {
  std::string text = absl::StrCat(checkpoint.origin, "\n", checkpoint.tree_size, "\n",
                                  absl::Base64Escape(checkpoint.root_hash), "\n");
  for (const std::string& line : checkpoint.extensions) absl::StrAppend(&text, line, "\n");
  return text;
}

absl::StatusOr<Checkpoint> ParseCheckpoint(absl::string_view text) {
  if (text.empty() || text.back() != '\n') {
    return absl::InvalidArgumentError("a checkpoint's text ends with a newline");
  }
  text.remove_suffix(1);
  std::vector<absl::string_view> lines = absl::StrSplit(text, '\n');
  if (lines.size() < 3) {
    return absl::InvalidArgumentError("a checkpoint has an origin, a tree size and a root hash");
  }
  Checkpoint checkpoint;
  if (lines[0].empty()) return absl::InvalidArgumentError("the checkpoint's origin is empty");
  checkpoint.origin = std::string(lines[0]);
  const absl::string_view size = lines[1];
  const bool digits =
      !size.empty() && size.size() <= 19 &&
      std::all_of(size.begin(), size.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (!digits || (size.size() > 1 && size[0] == '0') ||
      !absl::SimpleAtoi(size, &checkpoint.tree_size) ||
      checkpoint.tree_size > static_cast<uint64_t>(INT64_MAX)) {
    return absl::InvalidArgumentError("the checkpoint's tree size is not a decimal number");
  }
  if (!StrictBase64(lines[2], &checkpoint.root_hash) || checkpoint.root_hash.size() != 32) {
    return absl::InvalidArgumentError("the checkpoint's root hash is not base64 of 32 bytes");
  }
  for (size_t i = 3; i < lines.size(); ++i) {
    if (lines[i].empty()) return absl::InvalidArgumentError("a checkpoint has no empty lines");
    checkpoint.extensions.emplace_back(lines[i]);
  }
  return checkpoint;
}

// ---- cosignatures ----

std::string CosignatureMessage(absl::string_view checkpoint_text, uint64_t timestamp) {
  return absl::StrCat("cosignature/v1\ntime ", timestamp, "\n", checkpoint_text);
}

NoteSignature Cosign(absl::string_view checkpoint_text, uint64_t timestamp,
                     const SignerKey& witness) {
  NoteSignature signature;
  signature.name = witness.name;
  signature.key_id = KeyId(witness.name, kCosignatureV1, witness.key.PublicKey());
  signature.signature =
      Be64(timestamp) + witness.key.Sign(CosignatureMessage(checkpoint_text, timestamp));
  return signature;
}

absl::StatusOr<uint64_t> VerifyCosignature(absl::string_view checkpoint_text,
                                           const NoteSignature& signature,
                                           const Verifier& witness) {
  if (witness.type != kCosignatureV1) {
    return absl::InvalidArgumentError("not a cosignature/v1 key");
  }
  if (signature.name != witness.name || signature.key_id != witness.key_id()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the cosignature is not by the key ", witness.name));
  }
  if (signature.signature.size() != 8 + kSignatureBytes) {
    return absl::InvalidArgumentError(
        "a cosignature is an 8-byte time and a 64-byte Ed25519 signature");
  }
  const uint64_t timestamp = FromBe64(signature.signature.substr(0, 8));
  if (timestamp > static_cast<uint64_t>(INT64_MAX)) {
    return absl::InvalidArgumentError("the cosignature's time is out of range");
  }
  if (!VerifyEd25519(witness.public_key, CosignatureMessage(checkpoint_text, timestamp),
                     signature.signature.substr(8))) {
    return absl::InvalidArgumentError(
        absl::StrCat("the cosignature of ", witness.name, " does not verify"));
  }
  return timestamp;
}

}  // namespace enlace::tlog
