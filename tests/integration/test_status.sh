# test_status.sh — `pgreshard status`, text and JSON: a plan never applied; a
# failed step's last error; the lock held by a running apply (with its pid) and
# shown as not held once that apply is killed; copy progress mid-copy and at
# 100%; stream lag in bytes after source writes, and small once `apply --until
# stream` caught up; verify and cutover records; an unreachable source (exit 0,
# lag unknown with the error) and an unreachable shard 0 (exit 1); passwords in
# a conninfo never printed; status creates nothing.
set -u
source "$(dirname "$0")/../lib/clusters.sh"
source "$(dirname "$0")/../lib/assert.sh"
P=$PGRESHARD
DB=statustest
W=$(mktemp -d)
APID=
trap '[ -n "$APID" ] && kill -9 $APID 2>/dev/null; rm -rf "$W"; drop_db_everywhere $DB' EXIT

fresh_db $DB 0 1 2 3
psql_on 0 $DB "CREATE TABLE users (id bigint PRIMARY KEY, name text);
	CREATE TABLE countries (code text PRIMARY KEY, name text);
	INSERT INTO users SELECT g, 'u' || g FROM generate_series(1, 24000) g;
	INSERT INTO countries VALUES ('fr', 'France'), ('de', 'Germany');
	ANALYZE; CREATE PUBLICATION pub FOR TABLE users, countries" >/dev/null
export SRC S0 S1 S2
SRC=$(dsn 0 $DB) S0=$(dsn 1 $DB) S1=$(dsn 2 $DB) S2=$(dsn 3 $DB)
cat >"$W/plan.yaml" <<'YAML'
version: 1
name: statustest
source: { dsn: "${SRC}", publication: pub }
destination: { shards: ["${S0}", "${S1}", "${S2}"] }
tables:
  public.users: { key: id }
  public.countries: { replicate: true }
copy: { jobs: 2, chunk_rows: 1000 }
YAML
js() { printf '%s\n' "$OUT" | jq -r "$1"; }
status_json() { expect_rc 0 "$P" status --json "$W/plan.yaml"; }

# --- usage
expect_rc 2 "$P" status
expect_rc 2 "$P" status --bogus "$W/plan.yaml"
expect_rc 0 "$P" status --help
expect_contains "$OUT" "status PLAN.yaml [--json|--prometheus]"

# --- never applied: says so, exit 0, and creates nothing
expect_rc 0 "$P" status "$W/plan.yaml"
expect_contains "$OUT" "has not been applied yet"
status_json
expect_eq "$(js .format_version)" 1 "format_version"
expect_eq "$(js .plan)" statustest "plan"
expect_eq "$(js .applied)" false "applied before apply"
expect_eq "$(psql_on 1 $DB "SELECT count(*) FROM pg_namespace WHERE nspname = 'pgreshard'")" 0 "state schema after status"

# --- up to schema-pre: those steps done, the copy not started
expect_rc 0 "$P" apply --yes --until schema-pre "$W/plan.yaml"
status_json
expect_eq "$(js .applied)" true "applied"
expect_eq "$(js '[.steps[].state] | join(" ")')" "done done done pending pending pending pending pending pending" "step states"
expect_eq "$(js '.copy.tables[0].chunks_total')" 0 "chunks before the copy"
expect_eq "$(js .last_error)" null "last error before any failure"
expect_rc 0 "$P" status "$W/plan.yaml"
expect_contains "$OUT" "not started"
expect_contains "$OUT" "Last error: none"

# --- a failed copy: its error is the last error
psql_on 3 $DB "ALTER TABLE users ADD CONSTRAINT status_test_fail CHECK (id < 0)" >/dev/null
expect_rc 1 "$P" apply --yes --until copy "$W/plan.yaml"
status_json
expect_eq "$(js .steps[3].state)" failed "copy step after the failure"
expect_eq "$(js .last_error.step)" copy "last error step"
expect_eq "$(js .last_error.step_state)" failed "last error step state"
expect_contains "$(js .last_error.message)" "copy: table public.users, chunk"
expect_contains "$(js .steps[3].last_error)" "copy: table public.users, chunk"
expect_contains "$(js .last_error.message)" "status_test_fail"   # the cause, not only the summary
expect_eq "$(js .lock.held)" false "lock after a failed apply"
expect_rc 0 "$P" status "$W/plan.yaml"
expect_contains "$OUT" "Last error: step copy (failed now)"
psql_on 3 $DB "ALTER TABLE users DROP CONSTRAINT status_test_fail" >/dev/null

# --- an apply running mid-copy holds the lock: shown with its pid, status does not block it
PGRESHARD_TEST_CHUNK_DELAY_MS=300 "$P" apply --yes --until copy "$W/plan.yaml" >"$W/apply.log" 2>&1 &
APID=$!
for ((i = 0; i < 300; i++)); do
	[ "$(psql_on 1 $DB "SELECT state FROM pgreshard.steps WHERE step = 'copy'")" = running ] && break
	sleep 0.1
done
status_json
expect_eq "$(js .lock.held)" true "lock held by the running apply"
expect_eq "$(js .lock.pid)" "$APID" "lock holder pid"
expect_eq "$(js .lock.holder_current)" true "the recorded holder holds it"
[ "$(js .lock.backend_pid)" != null ] || fail "backend_pid of the held lock"
expect_eq "$(js '.steps[3].name + " " + .steps[3].state')" "copy running" "copy step while running"
expect_eq "$(js '.copy.tables[0].table')" public.users "first table"
[ "$(js '.copy.tables[0].chunks_done')" -lt "$(js '.copy.tables[0].chunks_total')" ] || fail "copy already complete mid-copy"
[ "$(js '.copy.tables[0].chunks_total')" -ge 20 ] || fail "expected >= 20 chunks for users"
expect_rc 0 "$P" status "$W/plan.yaml"
expect_contains "$OUT" "Lock: held by host"
expect_contains "$OUT" "pid $APID"
kill -0 $APID 2>/dev/null || fail "apply ended before the lock could be seen: $(cat "$W/apply.log")"

# --- killed: its lock is gone, the last holder is still named
kill -9 $APID
wait $APID 2>/dev/null
for ((i = 0; i < 50; i++)); do
	status_json
	[ "$(js .lock.held)" = false ] && break
	sleep 0.1
done
expect_eq "$(js .lock.held)" false "lock after kill -9"
expect_eq "$(js .lock.pid)" "$APID" "last holder pid after kill -9"
expect_rc 0 "$P" status "$W/plan.yaml"
expect_contains "$OUT" "Lock: not held; the last holder, host"
expect_contains "$OUT" "is gone"
APID=

# --- held by a session that did not record itself (as verify and cleanup take it)
psql -X -q -d "$(dsn 1 $DB)" -c "SELECT pg_advisory_lock(hashtext('pgreshard plan statustest'))" \
	-c "SELECT pg_sleep(60)" >/dev/null 2>&1 &
LPID=$!
for ((i = 0; i < 100; i++)); do
	[ "$(psql_on 1 $DB "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted")" -ge 1 ] && break
	sleep 0.1
done
status_json
expect_eq "$(js .lock.held)" true "lock held by another session"
expect_eq "$(js .lock.holder_current)" false "recorded holder while another session holds it"
expect_rc 0 "$P" status "$W/plan.yaml"
expect_contains "$OUT" "Lock: held by another pgreshard command (backend pid"
psql_on 1 $DB "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'" >/dev/null
wait $LPID 2>/dev/null

# --- the copy finished: steps done, every table at 100%
expect_rc 0 "$P" apply --yes --until copy "$W/plan.yaml"
status_json
expect_eq "$(js '[.steps[].name] | join(" ")')" "preflight slot schema-pre copy schema-post stream verify cutover finish" "step names"
expect_eq "$(js '[.steps[].state] | join(" ")')" "done done done done pending pending pending pending pending" "step states"
expect_eq "$(js '.steps[3].attempts')" 3 "copy attempts (failed, killed, done)"
expect_eq "$(js .last_error.step_state)" done "the last error's step, done since"
expect_eq "$(js '[.copy.tables[] | .chunks_done == .chunks_total] | all')" true "every table at 100%"
expect_eq "$(js '.copy.tables[0].rows_copied')" 24000 "users rows copied"
expect_eq "$(js '.copy.tables[1].rows_copied')" 6 "countries rows copied (2 rows x 3 shards)"
expect_eq "$(js '.copy.tables[1].replicate')" true "countries replicated"
expect_eq "$(js .copy.complete)" true "copy read from every shard"
expect_eq "$(js .lock.held)" false "lock after apply"
expect_eq "$(js .cutover)" null "no cutover yet"
expect_eq "$(js .verify)" null "no verify yet"
expect_rc 0 "$P" status "$W/plan.yaml"
expect_contains "$OUT" "100.0%"
expect_contains "$OUT" "24000 rows"

# --- source writes: the stream lags in bytes; after `apply --until stream`, small
psql_on 0 $DB "INSERT INTO users SELECT g, repeat('x', 100) FROM generate_series(100001, 150000) g" >/dev/null
status_json
[ "$(js .stream.sources[0].lag_bytes)" -gt 1000000 ] || fail "lag_bytes after 50000 inserts: $(js .stream.sources[0].lag_bytes)"
expect_eq "$(js .stream.lag_bytes)" "$(js .stream.sources[0].lag_bytes)" "stream.lag_bytes is the max"
expect_eq "$(js .stream.sources[0].lag_seconds)" null "lag_seconds before anything was streamed"
expect_contains "$(js .stream.sources[0].current_lsn)" "/"
expect_rc 0 "$P" status "$W/plan.yaml"
expect_contains "$OUT" "Stream lag:"
# ~10 MB of WAL: pg_size_pretty prints it in kB below 10240 kB, in MB above
grep -Eq '^  source +[0-9]+ (kB|MB),' <<<"$OUT" || fail "the lag in the text status is not a size"
expect_rc 0 "$P" apply --yes --until stream "$W/plan.yaml"
status_json
expect_eq "$(js .steps[5].state)" done "stream step"
[ "$(js .stream.lag_bytes)" -lt 1000000 ] || fail "lag after the stream caught up: $(js .stream.lag_bytes)"
[ "$(js .stream.sources[0].lag_seconds)" != null ] || fail "lag_seconds unknown after the stream"
[ "$(js .stream.sources[0].applied_lsn)" != null ] || fail "applied_lsn unknown after the stream"

# --- the source through a URI with a password: the lag is read, the password never shown
psql_on 0 postgres "DROP ROLE IF EXISTS pgr_status; CREATE ROLE pgr_status LOGIN REPLICATION PASSWORD 'right-h0rse'" >/dev/null
SRC="postgresql://pgr_status:right-h0rse@127.0.0.1:$(cluster_port 0)/$DB"
status_json
expect_not_contains "$OUT$ERR" "right-h0rse"
[ "$(js .stream.sources[0].lag_bytes)" != null ] || fail "lag unknown through the password URI"
expect_rc 0 "$P" status "$W/plan.yaml"
expect_not_contains "$OUT$ERR" "right-h0rse"

# --- wrong password, unreachable source: still the state, lag unknown with the error, exit 0
SRC="postgresql://pgr_status:Wr0ngSecretPw@127.0.0.1:$(cluster_port 0)/$DB"
status_json
expect_eq "$(js .stream.sources[0].lag_bytes)" null "lag with a wrong password"
expect_contains "$(js .stream.sources[0].error)" "password authentication failed"
expect_not_contains "$OUT$ERR" "Wr0ngSecretPw"
SRC="host=127.0.0.1 port=1 dbname=x user=postgres connect_timeout=2"
status_json
expect_eq "$(js .stream.lag_bytes)" null "stream lag with the source down"
expect_contains "$(js .stream.sources[0].error)" "cannot connect"
expect_eq "$(js .steps[3].state)" done "steps shown with the source down"
expect_eq "$(printf '%s\n' "$ERR" | wc -l)" 1 "stderr lines with the source down"
expect_rc 0 "$P" status "$W/plan.yaml"
expect_contains "$OUT" "unknown: source (user=postgres"
expect_contains "$OUT" "cannot connect"
SRC=$(dsn 0 $DB)

# --- another shard down: shown as incomplete; shard 0 down: exit 1
S1="host=127.0.0.1 port=1 dbname=x user=postgres connect_timeout=2"
status_json
expect_eq "$(js .copy.complete)" false "copy complete with shard 1 down"
expect_contains "$(js '.errors[0]')" "shard 1"
S1=$(dsn 2 $DB)
S0="host=127.0.0.1 port=1 dbname=x user=postgres connect_timeout=2"
expect_rc 1 "$P" status "$W/plan.yaml"
expect_contains "$ERR" "shard 0"
S0=$(dsn 1 $DB)

# --- verify and cutover records
expect_rc 0 "$P" verify "$W/plan.yaml"
status_json
expect_eq "$(js .verify.differences)" 0 "verify differences"
expect_eq "$(js '.verify.results | length')" 6 "verify results: 2 tables x 3 shards"
psql_on 1 $DB "INSERT INTO pgreshard.cutovers (plan_name, attempt, outcome, freeze_ms, reason, finished_at)
		VALUES ('statustest', 1, 'aborted', 30001, 'freeze timeout', now());
	INSERT INTO pgreshard.cutovers (plan_name, attempt, outcome, freeze_ms, fence_lsn, finished_at)
		VALUES ('statustest', 2, 'done', 1234, '0/16B3748', now())" >/dev/null
status_json
expect_eq "$(js '.cutover | "\(.attempt) \(.outcome) \(.freeze_ms) \(.fence_lsn)"')" "2 done 1234 0/16B3748" "last cutover"
expect_rc 0 "$P" status "$W/plan.yaml"
expect_contains "$OUT" "Cutover: attempt 2 done"
expect_contains "$OUT" "writes held 1234 ms"
expect_contains "$OUT" "Verify: at"

