// Certificate revocation lists (CRLs) for the TLS layer: CreateCrlPem() makes
// a CRL signed by the platform CA, and CrlPublisher keeps a directory of CRLs
// laid out the way gRPC's TlsServerCredentialsOptions::set_crl_directory()
// reads it (OpenSSL's hashed-directory lookup, X509_LOOKUP_hash_dir()).
//
// The CRL is defence in depth. gRPC 1.51 fails OPEN when the directory or the
// CRL is missing, so the server's own per-call revocation check is what
// correctness relies on. What this file must get right instead is that a CRL
// never locks everyone out: an EXPIRED CRL makes OpenSSL reject every client,
// so a CRL must be republished well before its nextUpdate (NeedsRefresh()).
//
// How OpenSSL 3 reads the directory (crypto/x509/by_dir.c), which dictates
// the layout:
//   - The CRLs of a CA are in <stem>.r0, <stem>.r1, ..., <stem> being
//     CrlFileStem() of the CA certificate.
//   - A reader's first lookup loads .r0, .r1, ... up to the first MISSING or
//     unloadable suffix and remembers that suffix; every later lookup (each
//     handshake) starts at the remembered suffix. So a running server sees a
//     new CRL only as a new file at the suffix it remembers (never a rewritten
//     old file), and a restarted server sees nothing past the first gap: with
//     only <stem>.r1 present it finds no CRL at all, and gRPC accepts revoked
//     certificates.
//   - Every CRL loaded stays in memory. Among the CRLs that match the CA
//     best (issuer name, authorityKeyIdentifier, within their validity), the
//     one with the strictly latest lastUpdate is used; on a tie the one
//     loaded earlier can stay in use.
// Hence CrlPublisher never deletes a CRL file (see CrlPublisher below).
//
// Example:
//
//   CrlPublisher publisher("/var/lib/enlace/crl", ca);
//   // At start-up (before serving), after every revocation, and whenever
//   // publisher.NeedsRefresh(now, margin):
//   absl::Status status = publisher.Publish(revoked, absl::Now());
//   // The server: options.set_crl_directory("/var/lib/enlace/crl").
#ifndef ENLACE_AUTH_CRL_H_
#define ENLACE_AUTH_CRL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "auth/pki.h"

namespace enlace::auth {

// One revoked certificate.
struct RevokedEntry {
  // The certificate's serial in the form of CertificateInfo::serial_hex
  // (lower-case hex, no leading zeros, "0" for zero), at most 40 digits.
  std::string serial_hex;
  // When it was revoked (the CRL entry's revocationDate), whole seconds.
  absl::Time revoked_at;
};

// Returns a PEM ("X509 CRL") version 2 CRL issued and signed by `ca` (SHA-384
// for a P-384 CA key, SHA-256 otherwise, as SignCsr()), with issuer = the CA's
// subject, lastUpdate = `this_update` and nextUpdate = `next_update`
// (truncated to whole seconds), the extensions cRLNumber = `crl_number` and
// authorityKeyIdentifier (the CA's key id), and one entry per serial in
// `revoked` (no reason code), sorted by serial. A serial given more than once
// is listed once, with its earliest revoked_at. An empty `revoked` makes a
// valid CRL with no entries.
// Errors, all InvalidArgument: `ca` is not valid
// (ValidateCertificateAuthority()) or its keyUsage lacks cRLSign (OpenSSL would
// then reject EVERY client); a serial is not in serial_hex form; a time is
// infinite or out of range; `next_update` <= `this_update` (in whole seconds);
// `crl_number` < 0.
absl::StatusOr<std::string> CreateCrlPem(const CertificateAuthority& ca,
                                         const std::vector<RevokedEntry>& revoked,
                                         absl::Time this_update, absl::Time next_update,
                                         int64_t crl_number);

// Returns OpenSSL's hash of the subject name of the (first) certificate in
// `ca_certificate_pem` (X509_NAME_hash_ex(), as `openssl x509 -subject_hash`
// prints it) as 8 lower-case hex digits: the stem of the CA's CRL file names
// "<stem>.r<N>" in a hashed directory. Two CAs with the same subject name
// share the stem. Errors: InvalidArgument if no certificate parses.
absl::StatusOr<std::string> CrlFileStem(absl::string_view ca_certificate_pem);

// Publishes the CA's CRL into `directory` so that running AND restarted gRPC
// servers reading it with set_crl_directory() use the newest one.
//
// Each Publish() writes a NEW file <stem>.r<N>, N = one more than the highest
// existing suffix (0 in an empty directory): mode 0644, complete before it
// appears (temporary file + link(), which never overwrites; a concurrent
// publisher in another process makes this one rescan and take the next N).
// It deletes NOTHING: a reader's scan stops at the first missing suffix, so
// deleting older files would hide every newer CRL from a restarted server
// (it would fail open). For the same reason, each suffix below N that is
// missing (deleted by hand) or unloadable also gets a copy of the new CRL,
// so that .r0 ... .r<N> is always an unbroken run of loadable CRLs.
//
// The directory thus grows by one CRL per Publish(). A restarted server loads
// them all (a running one already holds every CRL it has loaded: OpenSSL
// never drops one). Only after every server reading the directory has been
// stopped may its <stem>.r* files be removed.
//
// State is kept in the directory, not in this object, so numbering continues
// across publisher instances and process restarts:
//   - lastUpdate is now - 5 minutes (clock skew), but at least one second
//     after the latest lastUpdate of any CRL of this CA already there, so the
//     new CRL always wins OpenSSL's "latest lastUpdate" choice;
//   - the cRLNumber is one more than the highest cRLNumber of this CA's CRLs
//     already there, and never less than lastUpdate in Unix seconds, so it
//     keeps growing even if the directory is emptied.
// "This CA's CRLs" are those whose signature verifies with the CA's key;
// other files (another CA with the same subject name) are left alone.
//
// Thread-compatible: one caller at a time per object.
class CrlPublisher {
 public:
  // No I/O and no validation here: Publish() reports a bad CA or validity.
  CrlPublisher(std::string directory, CertificateAuthority ca,
               absl::Duration validity = absl::Hours(24 * 7));

  // Writes a CRL listing `revoked` (see CreateCrlPem()), valid from
  // now - 5 minutes (or later, see above) to `now` + validity, as described
  // in the class comment. Creates `directory` (mode 0755, not its parents) if
  // it is missing.
  // Errors: InvalidArgument for a bad CA, entry or validity (<= 0), or an
  // infinite `now`, before the directory is touched; FailedPrecondition,
  // before any file is written, if the latest lastUpdate of this CA's CRLs
  // there is >= `now` (the clock went back more than 5 minutes: retry later,
  // as a CRL published now would lose to that one) or if more than 1000
  // suffixes would need repair; errno-derived codes for I/O errors, with the
  // path. If writing a repair copy fails after the new file was written, the
  // error is returned and the new file stays (it is valid and in use).
  absl::Status Publish(const std::vector<RevokedEntry>& revoked, absl::Time now);

  // True when the CRL last published by THIS object expires within `margin`
  // of `now` (now + margin >= its nextUpdate), or when this object has not
  // published yet (so a restarted process republishes at once). The caller
  // then calls Publish(). Choose `margin` so that several attempts fit before
  // nextUpdate, e.g. validity / 2: an expired CRL rejects every client.
  bool NeedsRefresh(absl::Time now, absl::Duration margin) const;

  const std::string& directory() const { return directory_; }
  // The file the last successful Publish() wrote, its cRLNumber, lastUpdate
  // and nextUpdate (empty, 0, InfinitePast, InfinitePast before that).
  const std::string& last_path() const { return last_path_; }
  int64_t last_crl_number() const { return last_crl_number_; }
  absl::Time last_this_update() const { return last_this_update_; }
  absl::Time last_next_update() const { return last_next_update_; }

 private:
  std::string directory_;
  CertificateAuthority ca_;
  absl::Duration validity_;
  std::string last_path_;
  int64_t last_crl_number_ = 0;
  absl::Time last_this_update_ = absl::InfinitePast();
  absl::Time last_next_update_ = absl::InfinitePast();
};

}  // namespace enlace::auth

#endif  // ENLACE_AUTH_CRL_H_
