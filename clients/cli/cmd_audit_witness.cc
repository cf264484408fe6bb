// enlacectl audit checkpoint | witness-key | register-witness | witness: the
// audit log as a transparency log (docs/audit.md). Every agency witnesses
// it: it keeps the last checkpoint it verified, checks that each new one is
// signed by the log and consistent with it (an RFC 9162 proof checked here,
// never trusting the server), and cosigns it.
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "auth/pki.h"
#include "clients/cli/cli.h"
#include "db/merkle.h"
#include "enlace/v1/admin.grpc.pb.h"
#include "enlace/v1/admin.pb.h"
#include "server/checkpoint.h"

namespace enlace::cli {
namespace {

namespace v1 = ::enlace::v1;
using AdminStub = v1::AdminService::Stub;

constexpr char kDefaultOrigin[] = "enlace.local/audit";

// The log misbehaved (or was tampered with): the witness refuses.
int Refuse(absl::string_view message) { return Fail(absl::DataLossError(message)); }

// ---------------------------------------------------------------------------
// enlacectl audit checkpoint

std::string CheckpointUsage() {
  return ServerUsage(
      R"(Print the audit log's latest signed checkpoint (AdminService.GetAuditCheckpoint;
every agency and administrator): a C2SP signed note stating how many events
the log holds and the root of their Merkle tree, and the witnesses'
cosignatures of it.

Usage: enlacectl audit checkpoint [flags]

Flags:
)",
      R"(
Table output: the note as signed, then each cosignature line; appended to the
note, they make the cosigned checkpoint.

Example:
  enlacectl audit checkpoint > checkpoint.txt
)");
}

int RunAuditCheckpointCommand(const Args& args) {
  static const Leaf leaf = {"enlacectl audit checkpoint", CheckpointUsage(), {}};
  Invocation call;
  if (std::optional<int> exit = call.Start(leaf, args)) return *exit;
  return CallAndPrint(call, &AdminStub::GetAuditCheckpoint, v1::GetAuditCheckpointRequest(),
                      [](const v1::AuditCheckpoint& checkpoint) {
                        std::cout << checkpoint.note();
                        for (const std::string& line : checkpoint.cosignatures()) {
                          std::cout << line;
                        }
                      });
}

// ---------------------------------------------------------------------------
// enlacectl audit witness-key

constexpr absl::string_view kWitnessKeyUsage =
    R"(Make an agency's witness key: an Ed25519 key pair for C2SP tlog-cosignature
(signature type 4). Writes the private key to FILE (mode 0600; never
overwritten) as "PRIVATE+KEY+<name>+<key id>+<base64>", and prints the public
key, "<name>+<key id>+<base64>", which an administrator registers for the
agency (enlacectl audit register-witness). No server is called.

Usage: enlacectl audit witness-key --name NAME --out FILE

Flags:
  --name NAME    the key's name: printable ASCII, no space or '+', at most 128
                 characters, unique to the agency (e.g. iom.example.org/witness)
  --out FILE     where to write the private key

Example:
  enlacectl audit witness-key --name iom.example.org/witness --out iom-witness.key
  # prints: iom.example.org/witness+1f2e3d4c+BK3...=

Exit status: 0 written; 1 the file could not be written (it exists, say);
2 usage error.
)";

int RunAuditWitnessKeyCommand(const Args& args) {
  static const Leaf leaf =
      WholeUsageLeaf("enlacectl audit witness-key", Tr(kWitnessKeyUsage), {"name", "out"},
                     /*max_positionals=*/0, /*offline=*/true);
  Invocation call;
  if (std::optional<int> exit = call.ParseArgs(leaf, args)) return *exit;
  if (std::optional<int> exit = call.Require({"name", "out"})) return *exit;
  const std::string name = *call.flags().Get("name");
  if (!tlog::IsValidKeyName(name)) {
    return call.Value("--name: printable ASCII without spaces or '+', at most 128 characters");
  }
  const tlog::SignerKey key{name, tlog::kCosignatureV1, tlog::Ed25519Key::Generate()};
  const std::string path = *call.flags().Get("out");
  absl::Status written = auth::WriteFileAtomically(path, tlog::FormatSignerKey(key) + "\n", 0600,
                                                   auth::IfExists::kFail);
  if (!written.ok()) return Fail(written);
  std::cerr << "witness key written to " << path
            << " (mode 0600: keep it, never send it); its public key, to register:\n";
  std::cout << tlog::FormatVerifierKey(key.verifier()) << "\n";
  return kExitOk;
}

// ---------------------------------------------------------------------------
// enlacectl audit register-witness

std::string RegisterWitnessUsage() {
  return ServerUsage(
      R"(Register an agency's witness key (AdminService.RegisterWitnessKey;
administrators only): from then on the server accepts that agency's
cosignatures made with it. Registering the same key again is harmless.

Usage: enlacectl audit register-witness --agency CODE --public-key KEY [flags]

Flags:
  --agency CODE          the agency (registered) whose witness key it is
  --public-key KEY       the key as `enlacectl audit witness-key` printed it:
                         <name>+<key id>+<base64>
)",
      R"(
Example:
  enlacectl audit register-witness --agency iom \
      --public-key iom.example.org/witness+1f2e3d4c+BK3...=
)");
}

int RunAuditRegisterWitnessCommand(const Args& args) {
  static const Leaf leaf = {
      "enlacectl audit register-witness", RegisterWitnessUsage(), {"agency", "public-key"}};
  Invocation call;
  if (std::optional<int> exit = call.Start(leaf, args)) return *exit;
  if (std::optional<int> exit = call.Require({"agency", "public-key"})) return *exit;
  v1::RegisterWitnessKeyRequest request;
  request.set_agency(*call.flags().Get("agency"));
  request.set_public_key(*call.flags().Get("public-key"));
  return CallAndPrint(call, &AdminStub::RegisterWitnessKey, request, [](const v1::WitnessKey& k) {
    PrintDetails({{"agency", k.agency()},
                  {"key name", k.key_name()},
                  {"key id", k.key_id()},
                  {"public key", k.public_key()},
                  {"registered at", FormatTimestamp(k.registered_at())}});
  });
}

// ---------------------------------------------------------------------------
// enlacectl audit witness

std::string WitnessUsage() {
  return ServerUsage(
      R"(Witness the audit log (every agency; docs/audit.md): fetch its latest
checkpoint (AdminService.GetAuditCheckpoint), verify the log's signature with
the log's public key, check that it is consistent with the last checkpoint
this witness verified (kept in the --state file; an RFC 9162 consistency
proof from GetAuditConsistencyProof, checked here), cosign it with the
agency's witness key (C2SP tlog-cosignature) and hand the cosignature to the
server (AddAuditCosignature). Run it regularly (e.g. every 10 minutes from
cron): the server alerts when nobody cosigned for 4 hours.

It refuses, and keeps its state, when the log's signature does not verify or
the log is not an extension of what it verified before: the log shrank, was
forked or rewritten. Then tell the other agencies: the log was tampered with.

Usage: enlacectl audit witness --log-key KEY --witness-key FILE --state FILE [flags]

Flags:
  --log-key KEY          the log's public key, from the operator, never from
                         the server: a file holding a PEM public key
                         (openssl pkey -pubout) or a key "<origin>+<id>+<base64>",
                         or that key itself
  --origin ORIGIN        the log's origin, with a PEM --log-key (default
                         enlace.local/audit)
  --witness-key FILE     the agency's witness key (enlacectl audit witness-key)
  --state FILE           the last checkpoint this witness verified (created on
                         the first run; replaced only by a verified one)
)",
      R"(
Example:
  enlacectl audit witness --log-key var/audit_log.pub --witness-key iom-witness.key \
      --state iom-witness.state
  # checkpoint of 4211 events verified: consistent with the one of 4180; cosigned as
  # iom.example.org/witness (2 cosignatures)

Failures besides those of any call (exit status 1, or 4 to 7 as 'enlacectl
--help' lists): "enlacectl: DATA_LOSS: ..." (exit status 1) when the
checkpoint is not signed by the log's key, or the log is not consistent with
the state.
)");
}

// The log's verifier from --log-key (and --origin for a PEM key).
absl::StatusOr<tlog::Verifier> LogVerifier(const std::string& flag, const std::string& origin) {
  std::string text = flag;
  if (absl::StatusOr<std::string> file = auth::ReadFileToString(flag); file.ok()) text = *file;
  if (absl::StrContains(text, "-----BEGIN")) {
    absl::StatusOr<std::string> key = tlog::Ed25519PublicKeyFromPem(text);
    if (!key.ok())
      return absl::InvalidArgumentError(absl::StrCat("--log-key: ", key.status().message()));
    return tlog::Verifier{origin, tlog::kEd25519, *key};
  }
  absl::StatusOr<tlog::Verifier> verifier = tlog::ParseVerifierKey(text);
  if (!verifier.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--log-key: neither a readable PEM public key file nor a key <origin>+<id>+<base64> (",
        verifier.status().message(), ")"));
  }
  if (verifier->type != tlog::kEd25519) {
    return absl::InvalidArgumentError("--log-key: the log's key has signature type 1 (Ed25519)");
  }
  return verifier;
}

// A note signed by the log, as a checkpoint of its origin.
absl::StatusOr<tlog::Checkpoint> OpenCheckpoint(const std::string& note,
                                                const tlog::Verifier& log) {
  absl::StatusOr<tlog::Note> parsed = tlog::ParseNote(note);
  if (!parsed.ok()) return parsed.status();
  const tlog::Verifier verifiers[] = {log};
  absl::StatusOr<std::vector<std::string>> verified = tlog::VerifyNote(*parsed, verifiers);
  if (!verified.ok()) return verified.status();
  absl::StatusOr<tlog::Checkpoint> checkpoint = tlog::ParseCheckpoint(parsed->text);
  if (!checkpoint.ok()) return checkpoint.status();
  if (checkpoint->origin != log.name) {
    return absl::InvalidArgumentError(
        absl::StrCat("its origin is ", checkpoint->origin, ", not ", log.name));
  }
  return checkpoint;
}

int RunAuditWitnessCommand(const Args& args) {
  static const Leaf leaf = {
      "enlacectl audit witness", WitnessUsage(), {"log-key", "origin", "witness-key", "state"}};
  Invocation call;
  if (std::optional<int> exit = call.Start(leaf, args)) return *exit;
  if (std::optional<int> exit = call.Require({"log-key", "witness-key", "state"})) return *exit;
  const Flags& flags = call.flags();
  const std::string origin = flags.Get("origin").value_or(kDefaultOrigin);
  absl::StatusOr<tlog::Verifier> log = LogVerifier(*flags.Get("log-key"), origin);
  if (!log.ok()) return call.Value(log.status().message());
  absl::StatusOr<std::string> witness_text = auth::ReadFileToString(*flags.Get("witness-key"));
  if (!witness_text.ok()) return Fail(witness_text.status());
  absl::StatusOr<tlog::SignerKey> witness = tlog::ParseSignerKey(*witness_text);
  if (!witness.ok() || witness->type != tlog::kCosignatureV1) {
    return call.Value(
        absl::StrCat("--witness-key: not a witness key made by `enlacectl audit witness-key`",
                     witness.ok() ? "" : absl::StrCat(" (", witness.status().message(), ")")));
  }
  const std::string state_path = *flags.Get("state");

  // What this witness verified last, if anything.
  std::optional<tlog::Checkpoint> previous;
  if (absl::StatusOr<std::string> state = auth::ReadFileToString(state_path); state.ok()) {
    absl::StatusOr<tlog::Checkpoint> opened = OpenCheckpoint(*state, *log);
    if (!opened.ok()) {
      return Fail(absl::FailedPreconditionError(
          absl::StrCat("the state file ", state_path, " is not a checkpoint of this log (",
                       opened.status().message(), "); remove it only if it never was")));
    }
    previous = *std::move(opened);
  } else if (!absl::IsNotFound(state.status())) {
    return Fail(state.status());
  }

  v1::AuditCheckpoint latest;
  if (absl::Status s =
          CallUnary(call, &AdminStub::GetAuditCheckpoint, v1::GetAuditCheckpointRequest(), &latest);
      !s.ok()) {
    return Fail(s);
  }
  absl::StatusOr<tlog::Checkpoint> current = OpenCheckpoint(latest.note(), *log);
  if (!current.ok()) {
    return Refuse(absl::StrCat("the log's checkpoint is not signed by the log key ",
                               tlog::FormatVerifierKey(*log), ": ", current.status().message()));
  }
  if (latest.tree_size() != static_cast<int64_t>(current->tree_size) ||
      latest.root_hash() != current->root_hash) {
    return Refuse("the server's tree_size or root_hash is not what its signed note states");
  }

  if (previous.has_value()) {
    const uint64_t from = previous->tree_size;
    const uint64_t to = current->tree_size;
    if (to < from) {
      return Refuse(absl::StrCat("the log shrank: its checkpoint covers ", to,
                                 " events, the one verified before (", state_path, ") ", from,
                                 ": events were removed"));
    }
    v1::GetAuditConsistencyProofResponse proof;
    if (from > 0 && from < to) {
      v1::GetAuditConsistencyProofRequest request;
      request.set_from_size(static_cast<int64_t>(from));
      request.set_to_size(static_cast<int64_t>(to));
      if (absl::Status s = CallUnary(call, &AdminStub::GetAuditConsistencyProof, request, &proof);
          !s.ok()) {
        return Fail(s);
      }
    }
    std::vector<std::string> hashes(proof.hashes().begin(), proof.hashes().end());
    if (!db::merkle::VerifyConsistency(from, to, previous->root_hash, current->root_hash, hashes)) {
      return Refuse(absl::StrCat("the log is not consistent with the checkpoint of ", from,
                                 " events verified before (", state_path, "): the checkpoint of ",
                                 to, " events does not extend it; events were changed or removed"));
    }
  }
  // Verified: this is now the witness's view, whatever happens next.
  if (absl::Status s = auth::WriteFileAtomically(state_path, latest.note(), 0600); !s.ok()) {
    return Fail(s);
  }

  const std::string text = tlog::FormatCheckpoint(*current);
  const uint64_t now = static_cast<uint64_t>(absl::ToUnixSeconds(absl::Now()));
  v1::AddAuditCosignatureRequest request;
  request.set_note(latest.note());
  request.set_cosignature(tlog::Cosign(text, now, *witness).Line());
  v1::AuditCheckpoint cosigned;
  if (absl::Status s = CallUnary(call, &AdminStub::AddAuditCosignature, request, &cosigned);
      !s.ok()) {
    return Fail(s);
  }
  if (call.json()) return PrintJson(cosigned);
  std::cout << "checkpoint of " << current->tree_size << " events verified: "
            << (previous.has_value()
                    ? absl::StrCat("consistent with the one of ", previous->tree_size)
                    : std::string("first checkpoint, kept in ") + state_path)
            << "; cosigned as " << witness->name << " (" << cosigned.cosignatures_size()
            << (cosigned.cosignatures_size() == 1 ? " cosignature)" : " cosignatures)") << "\n";
  return kExitOk;
}

}  // namespace

int RunAuditCheckpoint(const Args& args) { return RunAuditCheckpointCommand(args); }
int RunAuditWitnessKey(const Args& args) { return RunAuditWitnessKeyCommand(args); }
int RunAuditRegisterWitness(const Args& args) { return RunAuditRegisterWitnessCommand(args); }
int RunAuditWitness(const Args& args) { return RunAuditWitnessCommand(args); }

}  // namespace enlace::cli
