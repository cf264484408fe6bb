# bench_fill.sh: `scripts/bench.sh fill N`: bulk-loads the synthetic
# population of clients/bench/synthetic.h into the bench database, fast
# enough that 10^7 arrivals take minutes: enlace-benchfill writes each chunk
# of arrivals (with consent rows, cases, services, referrals, initiatives) as
# .tsv files, and the chunk is loaded with LOAD DATA LOCAL INFILE in one
# transaction, as the database administrator over the socket, while the
# next chunk is being generated.
#
# Incremental: the filled arrivals are fill-0000000000, fill-0000000001, ...
# (external_id, recorded by mfa); `fill N` adds those missing below N, so
# fill 100000 then fill 1000000 adds 900,000.
#
# These rows bypass the server: no audit event names them (the audit log and
# its Merkle tree hold only what went through the server), no referral feed
# event announces the filled referrals, no consent version is written (the
# first version lives in the arrival row, as for any unchanged consent). What
# the server derives from the records (the pre-aggregated report counts) is
# rebuilt afterwards by recount_reports.
#
# Sourced by scripts/bench.sh, which sets DB_DIR, BENCH_DB, TMP_DIR,
# SECRETS_DIR, MIGRATE_DSN, SERVER_DSN, BENCH_FILL_BIN and RECOUNT_PENDING (a
# file that exists while filled rows await recount_reports) before calling:
#   fill_count                   filled arrivals held (the next fill index)
#   fill_to N                    fill up to N; sets FILL_ADDED, FILL_SECONDS,
#                                FILL_RATE (arrivals/s, load and recount)
#   recount_reports              enlace-server --recount_reports as the migration user
#                                (dies with a clear message if it fails or does not exist)

# shellcheck shell=bash

# bench_sql [mariadb args...]: SQL on stdin, as the administrator, in the bench database.
bench_sql() {
  mariadb_sql "${DB_DIR}" --database="${BENCH_DB}" "$@"
}

fill_count() {
  local last
  last="$(bench_sql -N <<<"SELECT external_id FROM arrivals WHERE submitted_by = 'mfa'
    AND external_id LIKE 'fill-%' ORDER BY external_id DESC LIMIT 1")" ||
    die "cannot read the bench database's filled arrivals"
  if [[ -z "${last}" ]]; then
    echo 0
    return 0
  fi
  [[ "${last}" =~ ^fill-([0-9]{10})$ ]] || die "unexpected filled external_id: ${last}"
  echo $((10#${BASH_REMATCH[1]} + 1))
}

# _fill_generate FROM TO ARRIVAL_BASE CASE_BASE DIR: writes one chunk's .tsv
# files into DIR; prints enlace-benchfill's RESULT line.
_fill_generate() {
  mkdir -p "$5"
  "${BENCH_FILL_BIN}" --gazetteer="${ENLACE_ROOT}/data/sv_gazetteer.csv" --from="$1" --to="$2" \
    --arrival_seq_base="$3" --case_seq_base="$4" --out_dir="$5" </dev/null ||
    die "enlace-benchfill failed for arrivals $1..$2"
}

# _fill_load DIR: one transaction loading DIR's .tsv files.
_fill_load() {
  local dir="$1"
  [[ "${dir}" =~ ^/[A-Za-z0-9_./-]+$ ]] || die "fill: unexpected characters in ${dir}"
  local fields="CHARACTER SET utf8mb4 FIELDS TERMINATED BY '\\t' LINES TERMINATED BY '\\n'"
  bench_sql --local-infile=1 <<SQL || die "loading the chunk in ${dir} failed"
SET SESSION unique_checks = 0;
SET SESSION foreign_key_checks = 0;
START TRANSACTION;
LOAD DATA LOCAL INFILE '${dir}/arrivals.tsv' INTO TABLE arrivals ${fields}
  (seq, arrival_id, submitted_by, external_id, @content_hash, arrival_date, mode,
   origin_country, given_name, family_name, birth_date, sex, document_number,
   department_code, municipality, needs_mask, consent_purposes_mask, consent_given_at_us,
   consent_version, recorded_at_us)
  SET content_hash = UNHEX(@content_hash), person_id = LOWER(HEX(RANDOM_BYTES(16)));
LOAD DATA LOCAL INFILE '${dir}/consent.tsv' INTO TABLE arrival_consent_agencies ${fields}
  (arrival_seq, agency_code);
LOAD DATA LOCAL INFILE '${dir}/cases.tsv' INTO TABLE cases ${fields}
  (seq, case_id, arrival_seq, owner_agency, status, department_code, municipality, summary,
   psychosocial_notes, version, created_at_us, updated_at_us);
LOAD DATA LOCAL INFILE '${dir}/services.tsv' INTO TABLE case_services ${fields}
  (service_id, case_seq, service, delivered_on, notes, recorded_by, recorded_at_us);
LOAD DATA LOCAL INFILE '${dir}/referrals.tsv' INTO TABLE referrals ${fields}
  (referral_id, case_seq, from_agency, to_agency, service, reason, status, decline_reason,
   outcome, version, created_at_us, updated_at_us);
LOAD DATA LOCAL INFILE '${dir}/initiatives.tsv' INTO TABLE initiatives ${fields}
  (initiative_id, case_seq, owner_agency, name, sector, department_code, municipality,
   registered_at_us);
COMMIT;
SQL
}

# now_s: seconds since the epoch, with nanoseconds.
now_s() { date +%s.%N; }

fill_to() {
  local target="$1" chunk="${ENLACE_BENCH_FILL_CHUNK:-250000}"
  [[ "${target}" =~ ^[0-9]+$ ]] || die "fill: not a count: ${target}"
  [[ "${chunk}" =~ ^[1-9][0-9]*$ ]] || die "ENLACE_BENCH_FILL_CHUNK must be a positive count"
  local have
  have="$(fill_count)"
  FILL_ADDED=0 FILL_SECONDS=0 FILL_RATE=""
  if ((have >= target)); then
    log "fill: the bench database already holds ${have} filled arrivals (asked: ${target})"
    return 0
  fi
  local arrival_base case_base
  read -r arrival_base case_base < <(bench_sql -N <<<"SELECT
    (SELECT COALESCE(MAX(seq), 0) FROM arrivals), (SELECT COALESCE(MAX(seq), 0) FROM cases)")
  [[ "${arrival_base}" =~ ^[0-9]+$ && "${case_base}" =~ ^[0-9]+$ ]] ||
    die "cannot read the bench database's highest seqs"
  # Until recount_reports succeeds, the report counts miss rows: the marker
  # makes the next run recount first (see bench.sh).
  : >"${RECOUNT_PENDING}"
  log "fill: adding arrivals ${have}..$((target - 1)) (with consents, cases, services, referrals, initiatives) in chunks of ${chunk}"
  local started from=${have} to k=0 result load_pid="" next_result
  local -A totals=([arrivals]=0 [consent]=0 [cases]=0 [services]=0 [referrals]=0 [initiatives]=0)
  started="$(now_s)"
  to=$((from + chunk < target ? from + chunk : target))
  result="$(_fill_generate "${from}" "${to}" "${arrival_base}" "${case_base}" "${TMP_DIR}/fill/0")" ||
    die "fill: generating chunk 0 failed"
  while :; do
    local dir="${TMP_DIR}/fill/${k}" cases field
    _fill_load "${dir}" &
    load_pid=$!
    # The counts of this chunk; the next chunk's seqs follow on.
    for field in "${!totals[@]}"; do
      totals[${field}]=$((totals[${field}] + $(sed -n "s/.* ${field}=\([0-9]*\).*/\1/p" <<<"${result}")))
    done
    cases="$(sed -n 's/.* cases=\([0-9]*\).*/\1/p' <<<"${result}")"
    arrival_base=$((arrival_base + to - from))
    case_base=$((case_base + cases))
    from=${to}
    next_result=""
    if ((from < target)); then
      to=$((from + chunk < target ? from + chunk : target))
      next_result="$(_fill_generate "${from}" "${to}" "${arrival_base}" "${case_base}" \
        "${TMP_DIR}/fill/$((k + 1))")" || die "fill: generating chunk $((k + 1)) failed"
    fi
    wait "${load_pid}" || die "fill: loading chunk ${k} failed"
    rm -rf "${dir}"
    log "fill: ${from} of ${target} arrivals loaded ($(awk -v s="$(now_s)" -v t="${started}" -v n=$((from - have)) 'BEGIN { printf "%.0f arrivals/s", n / (s - t) }'))"
    [[ -n "${next_result}" ]] || break
    result="${next_result}"
    k=$((k + 1))
  done
  local loaded_at
  loaded_at="$(now_s)"
  have="$(fill_count)"
  ((have == target)) || die "fill: the database holds ${have} filled arrivals after loading, expected ${target}"
  local max_seq
  max_seq="$(bench_sql -N <<<'SELECT MAX(seq) FROM arrivals')"
  ((max_seq == arrival_base)) || die "fill: arrivals' highest seq is ${max_seq}, expected ${arrival_base} (did something else write meanwhile?)"
  bench_sql -N >/dev/null <<<'ANALYZE TABLE arrivals, arrival_consent_agencies, cases, case_services,
    referrals, initiatives' || die "ANALYZE TABLE failed after the fill"
  recount_reports
  local finished
  finished="$(now_s)"
  FILL_ADDED=${totals[arrivals]}
  FILL_LOAD_SECONDS="$(awk -v a="${loaded_at}" -v b="${started}" 'BEGIN { printf "%.1f", a - b }')"
  FILL_RECOUNT_SECONDS="$(awk -v a="${finished}" -v b="${loaded_at}" 'BEGIN { printf "%.1f", a - b }')"
  FILL_SECONDS="$(awk -v a="${finished}" -v b="${started}" 'BEGIN { printf "%.1f", a - b }')"
  FILL_RATE="$(awk -v n="${FILL_ADDED}" -v s="${FILL_SECONDS}" 'BEGIN { printf "%.0f", n / s }')"
  FILL_ROWS="arrivals ${totals[arrivals]}, consent rows ${totals[consent]}, cases ${totals[cases]}, services ${totals[services]}, referrals ${totals[referrals]}, initiatives ${totals[initiatives]}"
  log "fill: added ${FILL_ROWS} in ${FILL_SECONDS} s (load ${FILL_LOAD_SECONDS} s, recount ${FILL_RECOUNT_SECONDS} s): ${FILL_RATE} arrivals/s"
}

recount_reports() {
  if [[ "${ENLACE_BENCH_SKIP_RECOUNT:-0}" == 1 ]]; then
    warn "ENLACE_BENCH_SKIP_RECOUNT=1: not rebuilding the report counts (only right for a server whose reports read the records themselves)"
    return 0
  fi
  local out="${TMP_DIR}/enlace-recount.log" rc=0
  log "rebuilding the report counts from the records: enlace-server --recount_reports"
  ENLACE_MIGRATE_PASSWORD="$(mariadb_password "${SECRETS_DIR}/migrate.password")" \
    "${ENLACE_SERVER_BIN}" --recount_reports --migrate_dsn="${MIGRATE_DSN}" --db_dsn="${SERVER_DSN}" \
    </dev/null >"${out}" 2>&1 || rc=$?
  if ((rc == 0)); then
    rm -f "${RECOUNT_PENDING}"
    return 0
  fi
  if grep -q "recount_reports" "${out}" && grep -qi "unknown.*flag" "${out}"; then
    die "recount_reports: ${ENLACE_SERVER_BIN} has no --recount_reports mode (the pre-aggregated reports of issue 11 are not in this build), so its reports would not count the rows just filled. Build a tree that has it; or, for a server whose reports still read the records themselves, set ENLACE_BENCH_SKIP_RECOUNT=1"
  fi
  die "recount_reports: enlace-server --recount_reports failed (exit ${rc}): $(tail -n 5 "${out}")"
}
