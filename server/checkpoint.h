// Signed notes, checkpoints and cosignatures of the audit log's transparency
// log (docs/audit.md), in the C2SP formats that transparency-log tooling
// speaks: c2sp.org/signed-note, c2sp.org/tlog-checkpoint and
// c2sp.org/tlog-cosignature. Pure functions and Ed25519 keys (OpenSSL 3); no
// I/O except reading a key file. Shared by the server and enlacectl.
//
// A checkpoint (the log's signed statement of its tree):
//
//   enlace.local/audit                           origin
//   4211                                         tree size, decimal
//   8kR9...base64 of the 32-byte root...=        RFC 9162 root hash
//                                                blank line
//   — enlace.local/audit AbCd...                 base64(key id || Ed25519 sig)
//
// The text above the blank line (ending in a newline) is what is signed. A
// signature line is an em dash (U+2014), a space, the key name, a space and
// base64(4-byte key id || signature). Key ids are
// SHA-256(key name || 0x0A || type || public key)[:4] with type 0x01 for the
// log's Ed25519 key (over the text) and 0x04 for a witness's cosignature,
// whose signature is 8-byte big-endian POSIX time || Ed25519 signature over
//   "cosignature/v1\ntime <decimal time>\n" || checkpoint text.
// The log's key name is its origin.
//
// Keys travel as C2SP/Go "vkeys", "<name>+<8 hex key id>+<base64(type ||
// 32-byte public key)>", and a witness's private key as
// "PRIVATE+KEY+<name>+<8 hex key id>+<base64(type || 32-byte seed)>".
// This implementation accepts key names of printable ASCII (no space, no
// '+'), at most 128 characters.
#ifndef ENLACE_SERVER_CHECKPOINT_H_
#define ENLACE_SERVER_CHECKPOINT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace enlace::tlog {

inline constexpr uint8_t kEd25519 = 0x01;  // a note signature (the log's)
inline constexpr uint8_t kCosignatureV1 = 0x04;  // a timestamped witness cosignature
inline constexpr size_t kMaxKeyName = 128;
inline constexpr size_t kMaxNoteBytes = size_t{64} * 1024;
inline constexpr size_t kMaxSignatures = 64;

// The em dash and space that start a signature line.
inline constexpr absl::string_view kSignaturePrefix = "\xE2\x80\x94 ";

bool IsValidKeyName(absl::string_view name);
// SHA-256(name || 0x0A || type || public_key)[:4].
std::string KeyId(absl::string_view name, uint8_t type, absl::string_view public_key);

// An Ed25519 private key.
class Ed25519Key {
 public:
  static Ed25519Key Generate();
  static absl::StatusOr<Ed25519Key> FromSeed(absl::string_view seed);  // 32 bytes
  // A PEM private key (PKCS#8, as `openssl genpkey -algorithm ed25519` writes).
  static absl::StatusOr<Ed25519Key> FromPem(absl::string_view pem);
  static absl::StatusOr<Ed25519Key> LoadPemFile(const std::string& path);

  std::string PublicKey() const;  // 32 bytes
  std::string Seed() const;  // 32 bytes: the private key
  std::string Sign(absl::string_view message) const;  // 64 bytes
  std::string ToPem() const;
  std::string PublicKeyPem() const;

 private:
  explicit Ed25519Key(std::shared_ptr<EVP_PKEY> key) : key_(std::move(key)) {}
  std::shared_ptr<EVP_PKEY> key_;
};

bool VerifyEd25519(absl::string_view public_key, absl::string_view message,
                   absl::string_view signature);
// The raw 32 bytes of a PEM Ed25519 public key ("BEGIN PUBLIC KEY").
absl::StatusOr<std::string> Ed25519PublicKeyFromPem(absl::string_view pem);

// Who may sign a note: a key name, a signature type and a public key.
struct Verifier {
  std::string name;
  uint8_t type = kEd25519;
  std::string public_key;  // 32 bytes

  std::string key_id() const { return KeyId(name, type, public_key); }
};

// "<name>+<hex key id>+<base64(type || public key)>".
std::string FormatVerifierKey(const Verifier& verifier);
// INVALID_ARGUMENT when malformed, of another type than 0x01 or 0x04, or
// when the key id is not the one the name and key give.
absl::StatusOr<Verifier> ParseVerifierKey(absl::string_view vkey);

// A witness's (or any note signer's) private key with its name and type.
struct SignerKey {
  std::string name;
  uint8_t type = kCosignatureV1;
  Ed25519Key key;

  Verifier verifier() const { return Verifier{name, type, key.PublicKey()}; }
};
std::string FormatSignerKey(const SignerKey& signer);
absl::StatusOr<SignerKey> ParseSignerKey(absl::string_view skey);

// ---- signed notes ----

struct NoteSignature {
  std::string name;
  std::string key_id;  // 4 bytes
  std::string signature;  // the bytes after the key id

  // "— <name> <base64(key id || signature)>\n".
  std::string Line() const;
};

struct Note {
  std::string text;  // ends in "\n"; what the signatures cover
  std::vector<NoteSignature> signatures;
};

// INVALID_ARGUMENT for anything that is not a signed note (C2SP rules: UTF-8,
// no control characters but newline, text ending in a newline, the last
// blank line before one or more signature lines).
absl::StatusOr<Note> ParseNote(absl::string_view note);
// One signature line, with or without its final newline.
absl::StatusOr<NoteSignature> ParseSignatureLine(absl::string_view line);
// The text, a blank line and the signature lines.
std::string FormatNote(const Note& note);

// Signs `text` (ending in a newline) with an Ed25519 note key (type 0x01).
NoteSignature SignText(absl::string_view text, absl::string_view name, const Ed25519Key& key);

// Checks `note` against `verifiers` as C2SP says: signatures whose name and
// key id match no verifier are ignored; every one that matches must verify;
// at least one must. Returns the names that verified; INVALID_ARGUMENT
// naming the key whose signature does not verify, or saying that no known
// key signed.
absl::StatusOr<std::vector<std::string>> VerifyNote(const Note& note,
                                                    absl::Span<const Verifier> verifiers);

// ---- checkpoints ----

struct Checkpoint {
  std::string origin;
  uint64_t tree_size = 0;
  std::string root_hash;  // 32 bytes
  std::vector<std::string> extensions;  // lines after the third (none from this log)
};

// The note text of `checkpoint`.
std::string FormatCheckpoint(const Checkpoint& checkpoint);
// INVALID_ARGUMENT when `text` is not a checkpoint body.
absl::StatusOr<Checkpoint> ParseCheckpoint(absl::string_view text);

// ---- cosignatures (c2sp.org/tlog-cosignature, Ed25519) ----

// "cosignature/v1\ntime <timestamp>\n" || checkpoint_text.
std::string CosignatureMessage(absl::string_view checkpoint_text, uint64_t timestamp);
// `witness` (type 0x04) cosigns the checkpoint text at `timestamp`.
NoteSignature Cosign(absl::string_view checkpoint_text, uint64_t timestamp,
                     const SignerKey& witness);
// Checks one cosignature of `checkpoint_text` by `witness`: the name and key
// id must be the witness's and the signature verify. Returns its timestamp;
// INVALID_ARGUMENT otherwise.
absl::StatusOr<uint64_t> VerifyCosignature(absl::string_view checkpoint_text,
                                           const NoteSignature& signature, const Verifier& witness);

}  // namespace enlace::tlog

#endif  // ENLACE_SERVER_CHECKPOINT_H_
