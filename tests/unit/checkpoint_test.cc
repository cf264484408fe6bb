// Signed notes, checkpoints and cosignatures (server/checkpoint.h): the
// formats other implementations produce (Go's sumdb/note reference note, a
// real cosigned checkpoint of a public log), signing and verifying, and what
// must fail: a forged or altered checkpoint, a forged or altered
// cosignature; and what verifiers must ignore: signatures of unknown keys.
#include "server/checkpoint.h"

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace enlace::tlog {
namespace {

using ::enlace::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

MATCHER_P(IsOkAndHolds, inner, "is OK and holds a value that matches") {
  if (!arg.ok()) {
    *result_listener << "whose status is " << arg.status();
    return false;
  }
  return ::testing::ExplainMatchResult(inner, *arg, result_listener);
}

// golang.org/x/mod/sumdb/note's reference key pair and signed note.
constexpr char kGoSignerKey[] =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
constexpr char kGoVerifierKey[] =
    "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
constexpr char kGoText[] =
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n";
constexpr char kGoSignature[] =
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=";

// A checkpoint of a public CT log as witnesses cosigned it (C2SP formats in
// the wild): the log's two signatures, four witnesses' cosignatures.
constexpr char kRealCheckpoint[] =
    "arche2025h1.staging.ct.transparency.dev\n"
    "1432088532\n"
    "U7WM79jrzyhGZ5/GUBTpM7NzwdyfFx61t3RovgcC4Ro=\n"
    "\n"
    "\xE2\x80\x94 arche2025h1.staging.ct.transparency.dev "
    "zTM8sQAAAZ5W0WdjBAMARjBEAiBjW5IQf9pvsYLfQFX6hoGREPMHbdQ3urbllzalApkptQIgIpwtEroeW2BXaHAI4kJXFb"
    "on5Ch9MNL5zRNZ55lvGt0=\n"
    "\xE2\x80\x94 arche2025h1.staging.ct.transparency.dev "
    "ui8GwCF1+kWqZrxGdhj4aX3gcw7XUlXQQabg/27lefwhUkzbC3NygNI75MdhL1bfTW9g8Ei59RA23oHP7Ry1k3ZFWwQ=\n"
    "\xE2\x80\x94 transparency.dev/DEV:witness-little-garden "
    "2AQqhwAAAABqEiEgzgFIqqhbUoDwjMWE6UP8nd8/"
    "KYTzwZ2rhIgcqoXHAwVkjZr4AscylP3v7sEodkRAErumC2q44vdgJY09"
    "6st5BQ==\n"
    "\xE2\x80\x94 witness1.smartit.nu/witness1 "
    "pIyCDwAAAABqEiEghIp82KWebrw7/oHQwlTAm3g2RKS4+eebl8eO0WH+/"
    "iEcxZ75W3u5hNI7TOQtmJbqmNWVuE0tgh0Xwzd"
    "ZsDsUAQ==\n"
    "\xE2\x80\x94 remora.n621.de "
    "2net5wAAAABqEiEgPlfF3V06o0Y+fHM+J5J9s27wgxxcOVSpZ/2g/KSiXCg9DEZI+aVCIobWX9sXTynk5XeU/"
    "zZ0WBxtqB0D"
    "rAWfBw==\n"
    "\xE2\x80\x94 witness.stagemole.eu "
    "Z/euoAAAAABqEiEgw0i+7g2ENfDAWHmtRzCfKTHSDwYDJA2NmKeGi9Y8FtEyOUvVr+AJmIY/"
    "2TUFucgKi7lI7cUiOvKFYe/Tm"
    "N9DAg==\n";
constexpr char kRemoraKey[] =
    "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2";

std::string OurCheckpointText(uint64_t size, char fill = 'r') {
  return FormatCheckpoint(Checkpoint{"enlace.local/audit", size, std::string(32, fill), {}});
}

// A checkpoint note signed by `key` under `name`.
std::string SignedNote(const std::string& text, const std::string& name, const Ed25519Key& key) {
  Note note;
  note.text = text;
  note.signatures.push_back(SignText(text, name, key));
  return FormatNote(note);
}

absl::StatusOr<std::vector<std::string>> Verify(const std::string& note_text,
                                                std::vector<Verifier> verifiers) {
  absl::StatusOr<Note> note = ParseNote(note_text);
  if (!note.ok()) return note.status();
  return VerifyNote(*note, verifiers);
}

// ---- other implementations' notes ----

TEST(CheckpointTest, SignsExactlyAsGoSumdbNoteAndVerifiesItsNote) {
  absl::StatusOr<SignerKey> signer = ParseSignerKey(kGoSignerKey);
  ASSERT_TRUE(signer.ok()) << signer.status();
  EXPECT_EQ(signer->type, kEd25519);
  EXPECT_EQ(FormatVerifierKey(signer->verifier()), kGoVerifierKey);
  EXPECT_EQ(FormatSignerKey(*signer), kGoSignerKey);
  // Ed25519 is deterministic: the same note, byte for byte.
  const std::string note = SignedNote(kGoText, "PeterNeumann", signer->key);
  EXPECT_EQ(note, absl::StrCat(kGoText, "\n\xE2\x80\x94 PeterNeumann ", kGoSignature, "\n"));

  absl::StatusOr<Verifier> verifier = ParseVerifierKey(kGoVerifierKey);
  ASSERT_TRUE(verifier.ok()) << verifier.status();
  EXPECT_THAT(Verify(note, {*verifier}), IsOkAndHolds(ElementsAre("PeterNeumann")));
  EXPECT_THAT(Verify(absl::StrReplaceAll(note, {{"cryptography", "cryptographY"}}), {*verifier}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("does not verify")));
}

TEST(CheckpointTest, VerifiesARealWitnessCosignatureAndIgnoresTheKeysItDoesNotKnow) {
  absl::StatusOr<Verifier> remora = ParseVerifierKey(kRemoraKey);
  ASSERT_TRUE(remora.ok()) << remora.status();
  EXPECT_EQ(remora->type, kCosignatureV1);
  absl::StatusOr<Note> note = ParseNote(kRealCheckpoint);
  ASSERT_TRUE(note.ok()) << note.status();
  EXPECT_EQ(note->signatures.size(), 6u);
  absl::StatusOr<Checkpoint> checkpoint = ParseCheckpoint(note->text);
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
  EXPECT_EQ(checkpoint->origin, "arche2025h1.staging.ct.transparency.dev");
  EXPECT_EQ(checkpoint->tree_size, 1432088532u);
  EXPECT_EQ(FormatCheckpoint(*checkpoint), note->text);
  // Five signatures are by keys this verifier does not know: ignored.
  EXPECT_THAT(VerifyNote(*note, {*remora}), IsOkAndHolds(ElementsAre("remora.n621.de")));
  const NoteSignature& line = note->signatures[4];
  absl::StatusOr<uint64_t> timestamp = VerifyCosignature(note->text, line, *remora);
  ASSERT_TRUE(timestamp.ok()) << timestamp.status();
  EXPECT_EQ(*timestamp, 0x6a122120u);
  // The same cosignature over another size does not verify.
  EXPECT_THAT(VerifyCosignature(absl::StrReplaceAll(note->text, {{"1432088532", "1432088533"}}),
                                line, *remora),
              StatusIs(absl::StatusCode::kInvalidArgument));
  // Nor does a note with no signature by a known key.
  absl::StatusOr<Verifier> peter = ParseVerifierKey(kGoVerifierKey);
  EXPECT_THAT(VerifyNote(*note, {*peter}), StatusIs(absl::StatusCode::kInvalidArgument,
                                                    HasSubstr("no signature by a known key")));
}

// ---- our checkpoints ----

TEST(CheckpointTest, ACheckpointSignedByTheLogVerifiesAndAForgedOrAlteredOneDoesNot) {
  const Ed25519Key log = Ed25519Key::Generate();
  const Verifier verifier{"enlace.local/audit", kEd25519, log.PublicKey()};
  const std::string text = OurCheckpointText(42);
  const std::string note = SignedNote(text, "enlace.local/audit", log);
  EXPECT_THAT(note, ::testing::StartsWith("enlace.local/audit\n42\n"));
  EXPECT_THAT(Verify(note, {verifier}), IsOkAndHolds(ElementsAre("enlace.local/audit")));

  // Altered size, altered root: the log's signature no longer verifies.
  EXPECT_THAT(Verify(absl::StrReplaceAll(note, {{"\n42\n", "\n43\n"}}), {verifier}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("does not verify")));
  const std::string other_root =
      FormatCheckpoint(Checkpoint{"enlace.local/audit", 42, std::string(32, 's'), {}});
  Note altered = *ParseNote(note);
  altered.text = other_root;
  EXPECT_THAT(Verify(FormatNote(altered), {verifier}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("does not verify")));
  // Signed by another key under the log's name: an unknown key (another key
  // id), so no known key signed it.
  const std::string forged = SignedNote(text, "enlace.local/audit", Ed25519Key::Generate());
  EXPECT_THAT(Verify(forged, {verifier}), StatusIs(absl::StatusCode::kInvalidArgument,
                                                   HasSubstr("no signature by a known key")));
  // A signature that claims the log's name and key id but is not its own.
  Note claimed = *ParseNote(note);
  claimed.signatures[0].signature = Ed25519Key::Generate().Sign(text);
  EXPECT_THAT(Verify(FormatNote(claimed), {verifier}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("does not verify")));
}

TEST(CheckpointTest, SignaturesOfUnknownKeysAreIgnoredBesideAGoodOne) {
  const Ed25519Key log = Ed25519Key::Generate();
  const Verifier verifier{"enlace.local/audit", kEd25519, log.PublicKey()};
  const std::string text = OurCheckpointText(7);
  Note note;
  note.text = text;
  note.signatures.push_back(SignText(text, "someone.else/log", Ed25519Key::Generate()));
  note.signatures.push_back(SignText(text, "enlace.local/audit", Ed25519Key::Generate()));
  NoteSignature garbage{"stranger", "\x01\x02\x03\x04", std::string(64, 'x')};
  note.signatures.push_back(garbage);
  note.signatures.push_back(SignText(text, "enlace.local/audit", log));
  EXPECT_THAT(Verify(FormatNote(note), {verifier}),
              IsOkAndHolds(ElementsAre("enlace.local/audit")));
}

TEST(CheckpointTest, CheckpointBodiesAreStrict) {
  const std::string root = absl::Base64Escape(std::string(32, 'r'));
  absl::StatusOr<Checkpoint> ok = ParseCheckpoint(absl::StrCat("o\n0\n", root, "\n"));
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->tree_size, 0u);
  EXPECT_TRUE(ParseCheckpoint(absl::StrCat("o\n5\n", root, "\next\n")).ok());
  for (const std::string& bad : {
           absl::StrCat("o\n05\n", root, "\n"),  // leading zero
           absl::StrCat("o\n-5\n", root, "\n"),  // sign
           absl::StrCat("o\n5\n", root),  // no final newline
           absl::StrCat("\n5\n", root, "\n"),  // no origin
           absl::StrCat("o\n5\n", root, "\n\n"),  // an empty line
           absl::StrCat("o\n5\n", absl::Base64Escape(std::string(31, 'r')), "\n"),  // 31 bytes
           absl::StrCat("o\n5\n", root.substr(0, root.size() - 1), "\n"),  // not padded
           absl::StrCat("o\n99999999999999999999\n", root, "\n"),  // too large
           std::string("o\n5\n"),
       }) {
    EXPECT_THAT(ParseCheckpoint(bad), StatusIs(absl::StatusCode::kInvalidArgument)) << bad;
  }
}

TEST(CheckpointTest, NotesAreStrict) {
  const Ed25519Key key = Ed25519Key::Generate();
  const std::string good = SignedNote("hello\n", "k", key);
  EXPECT_TRUE(ParseNote(good).ok());
  const std::string line = SignText("hello\n", "k", key).Line();
  for (const std::string& bad : {
           std::string("hello\n"),  // no signature
           absl::StrCat("hello\n", line),  // no blank line
           std::string("hello\n\n"),  // no signature line
           absl::StrCat("hello\n\n", line.substr(0, line.size() - 1)),  // no final newline
           absl::StrCat("hel\x01lo\n\n", line),  // a control character
           absl::StrCat("hel\xC3lo\n\n", line),  // not UTF-8
           absl::StrCat("hello\n\n- k ", line.substr(line.find(' ', 4) + 1)),  // no em dash
           absl::StrCat("hello\n\n", "\xE2\x80\x94 k notbase64!\n"),
           absl::StrCat("hello\n\n", "\xE2\x80\x94 k AAAA\n"),  // shorter than a key id
           absl::StrCat("hello\n\n", "\xE2\x80\x94 k+x AAAAAAA=\n"),  // '+' in the name
       }) {
    EXPECT_THAT(ParseNote(bad), StatusIs(absl::StatusCode::kInvalidArgument)) << bad;
  }
  // The text may hold blank lines: the last one separates the signatures.
  absl::StatusOr<Note> parsed = ParseNote(SignedNote("a\n\nb\n", "k", key));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->text, "a\n\nb\n");
}

// ---- cosignatures ----

TEST(CheckpointTest, ACosignatureVerifiesAndAForgedOrAlteredOneDoesNot) {
  const SignerKey witness{"witness/iom", kCosignatureV1, Ed25519Key::Generate()};
  const Verifier verifier = witness.verifier();
  const std::string text = OurCheckpointText(100);
  const NoteSignature cosignature = Cosign(text, 1700000000, witness);
  // base64(key id || 8-byte time || 64-byte signature), under the witness's name.
  EXPECT_EQ(cosignature.key_id, KeyId("witness/iom", 0x04, witness.key.PublicKey()));
  EXPECT_EQ(cosignature.signature.size(), 72u);
  std::string decoded;
  const std::string line = cosignature.Line();
  ASSERT_TRUE(absl::Base64Unescape(
      line.substr(line.rfind(' ') + 1, line.size() - line.rfind(' ') - 2), &decoded));
  EXPECT_EQ(decoded.size(), 76u);
  EXPECT_EQ(decoded.substr(4, 8), std::string("\0\0\0\0\x65\x53\xf1\x00", 8));
  EXPECT_EQ(CosignatureMessage(text, 1700000000),
            absl::StrCat("cosignature/v1\ntime 1700000000\n", text));
  EXPECT_TRUE(VerifyEd25519(witness.key.PublicKey(), CosignatureMessage(text, 1700000000),
                            cosignature.signature.substr(8)));

  EXPECT_THAT(VerifyCosignature(text, cosignature, verifier), IsOkAndHolds(1700000000u));
  absl::StatusOr<NoteSignature> parsed = ParseSignatureLine(line);
  ASSERT_TRUE(parsed.ok());
  EXPECT_THAT(VerifyCosignature(text, *parsed, verifier), IsOkAndHolds(1700000000u));
  // In a note, beside the log's signature, a verifier of the witness key sees it.
  const Ed25519Key log = Ed25519Key::Generate();
  Note note = *ParseNote(SignedNote(text, "enlace.local/audit", log));
  note.signatures.push_back(cosignature);
  EXPECT_THAT(VerifyNote(note, {verifier}), IsOkAndHolds(ElementsAre("witness/iom")));

  // Another checkpoint (altered body), another time, another signature, another key.
  EXPECT_THAT(VerifyCosignature(OurCheckpointText(101), cosignature, verifier),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("does not verify")));
  NoteSignature retimed = cosignature;
  retimed.signature[7] ^= 1;
  EXPECT_THAT(VerifyCosignature(text, retimed, verifier),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("does not verify")));
  NoteSignature flipped = cosignature;
  flipped.signature[20] ^= 1;
  EXPECT_THAT(VerifyCosignature(text, flipped, verifier),
              StatusIs(absl::StatusCode::kInvalidArgument));
  const SignerKey impostor{"witness/iom", kCosignatureV1, Ed25519Key::Generate()};
  EXPECT_THAT(VerifyCosignature(text, Cosign(text, 1700000000, impostor), verifier),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not by the key")));
  NoteSignature short_one = cosignature;
  short_one.signature.resize(64);
  EXPECT_THAT(VerifyCosignature(text, short_one, verifier),
              StatusIs(absl::StatusCode::kInvalidArgument));
  // A note signature (type 0x01) is not a cosignature, nor the other way round.
  EXPECT_THAT(VerifyCosignature(text, cosignature,
                                Verifier{"witness/iom", kEd25519, witness.key.PublicKey()}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  Note plain = *ParseNote(SignedNote(text, "witness/iom", witness.key));
  EXPECT_THAT(VerifyNote(plain, {verifier}), StatusIs(absl::StatusCode::kInvalidArgument));
}

// ---- keys ----

TEST(CheckpointTest, VerifierAndSignerKeysRoundTripAndAreChecked) {
  const SignerKey witness{"witness/unhcr", kCosignatureV1, Ed25519Key::Generate()};
  const std::string vkey = FormatVerifierKey(witness.verifier());
  absl::StatusOr<Verifier> parsed = ParseVerifierKey(vkey);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->name, "witness/unhcr");
  EXPECT_EQ(parsed->type, kCosignatureV1);
  EXPECT_EQ(parsed->public_key, witness.key.PublicKey());
  absl::StatusOr<SignerKey> skey = ParseSignerKey(FormatSignerKey(witness));
  ASSERT_TRUE(skey.ok()) << skey.status();
  EXPECT_EQ(skey->key.PublicKey(), witness.key.PublicKey());
  EXPECT_EQ(skey->name, "witness/unhcr");
  // A key whose base64 holds a '+' (transparency-dev/formats' test key).
  EXPECT_TRUE(ParseVerifierKey("TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6").ok());

  std::string wrong_id = vkey;
  wrong_id[vkey.find('+') + 1] = wrong_id[vkey.find('+') + 1] == '0' ? '1' : '0';
  EXPECT_THAT(ParseVerifierKey(wrong_id), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseVerifierKey("no spaces+00000000+AQcC"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseVerifierKey("name+0000000+AQcC"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseVerifierKey("justaname"), StatusIs(absl::StatusCode::kInvalidArgument));
  std::string type2(1, '\x02');
  type2 += witness.key.PublicKey();
  EXPECT_THAT(ParseVerifierKey(
                  absl::StrCat("n+", absl::BytesToHexString(KeyId("n", 2, witness.key.PublicKey())),
                               "+", absl::Base64Escape(type2))),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("type")));
  EXPECT_FALSE(IsValidKeyName(""));
  EXPECT_FALSE(IsValidKeyName("a b"));
  EXPECT_FALSE(IsValidKeyName("a+b"));
  EXPECT_FALSE(IsValidKeyName(std::string(129, 'a')));
  EXPECT_TRUE(IsValidKeyName("enlace.local/audit"));
}

TEST(CheckpointTest, Ed25519KeysReadAndWritePem) {
  const Ed25519Key key = Ed25519Key::Generate();
  absl::StatusOr<Ed25519Key> again = Ed25519Key::FromPem(key.ToPem());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->PublicKey(), key.PublicKey());
  EXPECT_EQ(again->Seed(), key.Seed());
  EXPECT_THAT(Ed25519PublicKeyFromPem(key.PublicKeyPem()), IsOkAndHolds(key.PublicKey()));
  EXPECT_THAT(Ed25519Key::FromPem("not a key"), StatusIs(absl::StatusCode::kInvalidArgument));
  // An EC key is not an Ed25519 key.
  EVP_PKEY* ec = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  ASSERT_NE(ec, nullptr);
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, ec, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long length = BIO_get_mem_data(bio, &data);
  const std::string ec_pem(data, length);
  BIO_free(bio);
  EVP_PKEY_free(ec);
  EXPECT_THAT(Ed25519Key::FromPem(ec_pem),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("Ed25519")));
  EXPECT_FALSE(VerifyEd25519(key.PublicKey(), "m", std::string(64, '\0')));
  EXPECT_TRUE(VerifyEd25519(key.PublicKey(), "m", key.Sign("m")));
}

}  // namespace
}  // namespace enlace::tlog
