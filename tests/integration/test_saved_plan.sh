# test_saved_plan.sh — `plan -o` and `apply SAVED`: the saved document (checked
# with jq), stale detection for every fingerprint component (exit 3 with the
# change in words), an unsupported format_version and an edited saved plan
# (exit 1), a plan file with a password refused, plan --detailed-exitcode, the
# lint findings at plan time, and the saved plan applied: a failed copy rerun
# from the same saved plan continues, two applies contend for the lock, a
# killed holder's lock is taken over, a saved plan made before another apply
# is stale, and after the whole apply the plan says nothing is left to do.
set -u
source "$(dirname "$0")/../lib/clusters.sh"
source "$(dirname "$0")/../lib/assert.sh"
source "$(dirname "$0")/../lib/reshard_checks.sh"
P=$PGRESHARD
DB=savedtest
W=$(mktemp -d)
APID=
trap '[ -n "$APID" ] && kill -9 $APID 2>/dev/null; rm -rf "$W"; drop_db_everywhere $DB' EXIT

fresh_db $DB 0 1 2 3 4
psql_on 0 $DB "CREATE TABLE customers (id bigint PRIMARY KEY, name text);
	CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id bigint NOT NULL, total numeric);
	CREATE TABLE countries (code text PRIMARY KEY, name text);
	INSERT INTO customers SELECT g, 'c' || g FROM generate_series(1, 12000) g;
	INSERT INTO orders (customer_id, total) SELECT 1 + g % 12000, g FROM generate_series(1, 6000) g;
	INSERT INTO countries VALUES ('fr', 'France'), ('de', 'Germany');
	ANALYZE; CREATE PUBLICATION pub FOR TABLE customers, orders, countries" >/dev/null
export SRC S0 S1 S2
SRC=$(dsn 0 $DB) S0=$(dsn 1 $DB) S1=$(dsn 2 $DB) S2=$(dsn 3 $DB)
mkdir -p "$W/repo/plans"
PLAN=plans/plan.yaml
cat >"$W/repo/$PLAN" <<'YAML'
version: 1
name: savedtest
source: { dsn: "${SRC}", publication: pub }
destination: { shards: ["${S0}", "${S1}", "${S2}"] }
tables:
  customers: { key: id }
  orders: { key: customer_id }
  countries: { replicate: true }
copy: { jobs: 2, chunk_rows: 1000 }
cutover: { reverse: false }
YAML
cd "$W/repo"
js() { jq -r "$1" "$2"; }
save() { expect_rc 0 "$P" plan -o "$1" "$PLAN"; }
stale() {	# SAVED WANT...: apply SAVED exits 3 and lists every WANT
	local saved=$1
	shift
	expect_rc 3 "$P" apply --yes --until copy "$saved"
	expect_contains "$ERR" "the saved plan is stale"
	expect_contains "$ERR" "nothing was done"
	for w in "$@"; do expect_contains "$ERR" "$w"; done
	expect_eq "$(psql_on 1 $DB "SELECT count(*) FROM pg_namespace WHERE nspname = 'pgreshard'")" 0 "state schema after a stale apply"
}

# --- the saved document
save "$W/saved.json"
expect_contains "$ERR" "plan saved to $W/saved.json"
expect_contains "$OUT" "Plan OK"
F=$W/saved.json
expect_eq "$(js .pgreshard_saved_plan "$F")" 1 "marker"
expect_eq "$(js .format_version "$F")" 1 "format_version"
expect_eq "$(js .plan_file.text "$F")" "$(cat "$PLAN")" "plan text kept verbatim"
expect_eq "$(js .plan_file.path "$F")" "$PLAN" "plan path as given"
expect_eq "$(js .plan_file.directory "$F")" "$W/repo/plans" "plan directory"
expect_eq "$(js '.steps | length' "$F")" 9 "steps"
expect_eq "$(js '.steps[3] | .name + " " + .state' "$F")" "copy pending" "copy step"
expect_eq "$(js '.tables[0].shards | length' "$F")" 3 "per-shard estimates"
expect_eq "$(js '.id | length' "$F")" 64 "id"
expect_eq "$(js '.fingerprint.tables["public.customers"].columns.id.type' "$F")" bigint "customers.id type"
expect_eq "$(js '.fingerprint.tables["public.orders"].replica_identity' "$F")" "default (id)" "orders replica identity"
expect_eq "$(js '.fingerprint.publication.tables | join(",")' "$F")" "public.countries,public.customers,public.orders" "publication tables"
expect_eq "$(js '.fingerprint.sequences["public.orders_id_seq"].used_by' "$F")" "public.orders.id" "sequence users"
expect_eq "$(js '.fingerprint.sources[0].wal_level' "$F")" logical "source wal_level"
expect_eq "$(js '.fingerprint.shards | length' "$F")" 3 "shards"
expect_eq "$(js '.fingerprint.shards[2].system_identifier' "$F")" "$(psql_on 3 $DB "SELECT system_identifier FROM pg_control_system()")" "shard 2 system identifier"
expect_eq "$(js '.fingerprint.shards[0].state.tables["public.customers"]' "$F")" absent "destination table state"
expect_eq "$(js '.fingerprint.hook_file' "$F")" null "no hook file"
save "$W/before.json"	# applied later, after another saved plan started the run

# --- --detailed-exitcode: 2 while there is something to do
expect_rc 2 "$P" plan --detailed-exitcode "$PLAN"
expect_rc 2 "$P" plan --detailed-exitcode --json "$PLAN"
expect_eq "$(printf '%s' "$OUT" | jq -r .applied)" false "applied in plan --json"

# --- stale: each component of the fingerprint
psql_on 0 $DB "ALTER TABLE customers ADD COLUMN nickname text" >/dev/null
stale "$F" "public.customers: column nickname added"
psql_on 0 $DB "ALTER TABLE customers DROP COLUMN nickname; ALTER TABLE orders ALTER total TYPE float8" >/dev/null
stale "$F" "public.orders: column total: type changed (numeric -> double precision)"
psql_on 0 $DB "ALTER TABLE orders ALTER total TYPE numeric; ALTER TABLE customers REPLICA IDENTITY FULL" >/dev/null
stale "$F" "public.customers: replica identity changed (default (id) -> full)"
psql_on 0 $DB "ALTER TABLE customers REPLICA IDENTITY DEFAULT; ALTER TABLE countries DROP CONSTRAINT countries_pkey" >/dev/null
stale "$F" "public.countries: primary key changed (code -> none)" "public.countries: replica identity changed (default (code) -> default (no primary key))"
psql_on 0 $DB "ALTER TABLE countries ADD PRIMARY KEY (code); CREATE TABLE extra (id int PRIMARY KEY); ALTER PUBLICATION pub ADD TABLE extra" >/dev/null
stale "$F" "publication pub: table public.extra added"
psql_on 0 $DB "DROP TABLE extra; ALTER SEQUENCE orders_id_seq INCREMENT BY 2" >/dev/null
stale "$F" "sequence public.orders_id_seq: increment changed (1 -> 2)"
psql_on 0 $DB "ALTER SEQUENCE orders_id_seq INCREMENT BY 1; CREATE SEQUENCE other_seq; ALTER TABLE orders ALTER id SET DEFAULT nextval('other_seq')" >/dev/null
stale "$F" "sequence public.other_seq added" "public.orders: column id: default changed"
psql_on 0 $DB "ALTER TABLE orders ALTER id SET DEFAULT nextval('orders_id_seq'); DROP SEQUENCE other_seq" >/dev/null
# the plan file: a setting, a table's key, a comment
sed -i 's/name: savedtest/name: savedtest2/' "$PLAN"
stale "$F" "plan file changed: name changed (savedtest -> savedtest2)"
sed -i 's/name: savedtest2/name: savedtest/; s/orders: { key: customer_id }/orders: { key: id }/' "$PLAN"
stale "$F" "plan file changed: table public.orders changed (key customer_id -> key id)"
sed -i 's/orders: { key: id }/orders: { key: customer_id }/' "$PLAN"
echo "# reviewed" >>"$PLAN"
stale "$F" "plan file changed: its text (comments, formatting or connection strings)"
sed -i '$d' "$PLAN"
# a destination: a table with rows, another database, another server
psql_on 3 $DB "CREATE TABLE customers (id bigint); INSERT INTO customers VALUES (1)" >/dev/null
stale "$F" "shard 2: table public.customers was absent, now has rows"
psql_on 3 $DB "DROP TABLE customers" >/dev/null
fresh_db $DB 2
stale "$F" "shard 1: different database ($DB, oid"
# (the test clusters are copies of one initdb, so they share a system identifier:
# "different server" is checked by the unit test of the comparison)
fresh_db ${DB}_other 4
S1=$(dsn 4 ${DB}_other)
stale "$F" "shard 1: different database ($DB, oid" "-> ${DB}_other, oid"
S1=$(dsn 2 $DB)
drop_db_everywhere ${DB}_other
# a server setting of the source (needs a restart)
psql_on 0 postgres "ALTER SYSTEM SET max_wal_senders = 12" >/dev/null
_pg_as "$PG_BIN/pg_ctl" -D "$PGR_TEST_ROOT/c0" -w restart >/dev/null
stale "$F" "source: max_wal_senders changed (16 -> 12)"
psql_on 0 postgres "ALTER SYSTEM RESET max_wal_senders" >/dev/null
_pg_as "$PG_BIN/pg_ctl" -D "$PGR_TEST_ROOT/c0" -w restart >/dev/null

# --- the hook file: its content is part of the fingerprint, found next to the plan file
printf 'function check_row(t, row) return true end\n' >plans/hooks.lua
sed 's/^copy:/hooks: { file: hooks.lua, validate: check_row }\ncopy:/' "$PLAN" >plans/hooked.yaml
expect_rc 0 "$P" plan -o "$W/hooked.json" plans/hooked.yaml
expect_eq "$(js '.fingerprint.hook_file.file' "$W/hooked.json")" hooks.lua "hook file"
expect_eq "$(js '.fingerprint.hook_file.sha256' "$W/hooked.json")" "$(sha256sum plans/hooks.lua | cut -d' ' -f1)" "hook file hash"
printf 'function check_row(t, row) return row.id ~= nil end\n' >plans/hooks.lua
stale "$W/hooked.json" "hook file changed (hooks.lua)"

# --- a saved plan that cannot be used: another format_version, edited by hand
jq '.format_version = 99' "$F" >"$W/v99.json"
expect_rc 1 "$P" apply --yes "$W/v99.json"
expect_contains "$ERR" "saved plan format_version 99 is not supported by pgreshard"
expect_contains "$ERR" "pgreshard plan -o"
jq '.fingerprint.tables["public.customers"].columns.id.type = "integer"' "$F" >"$W/edited.json"
expect_rc 1 "$P" apply --yes "$W/edited.json"
expect_contains "$ERR" "the saved plan was modified after \`plan -o\`"

# --- a password in the plan file itself: not saved; through ${VAR}: saved without it
sed 's/dsn: "${SRC}"/dsn: "${SRC} password=Lit3ralSecret"/' "$PLAN" >plans/pw.yaml
expect_rc 1 "$P" plan -o "$W/pw.json" plans/pw.yaml
expect_contains "$ERR" "source.dsn at plans/pw.yaml:3:"
expect_contains "$ERR" "holds a password"
expect_not_contains "$ERR$OUT" "Lit3ralSecret"
[ -e "$W/pw.json" ] && fail "a saved plan was written for a plan file with a password"
# a plan with errors is not saved either
psql_on 0 $DB "ALTER TABLE customers RENAME COLUMN id TO cid" >/dev/null
expect_rc 1 "$P" plan -o "$W/bad.json" "$PLAN"
expect_contains "$ERR" "so it was not saved"
[ -e "$W/bad.json" ] && fail "a saved plan was written for a plan with errors"
psql_on 0 $DB "ALTER TABLE customers RENAME COLUMN cid TO id" >/dev/null

# --- lint: a foreign key across shards, a shared sequence, a large object column
psql_on 0 $DB "CREATE TABLE notes (id bigint PRIMARY KEY DEFAULT nextval('orders_id_seq'), customer_id bigint REFERENCES customers, doc oid);
	ALTER PUBLICATION pub ADD TABLE notes" >/dev/null
sed 's/^copy:/  notes: { key: id }\ncopy:/' "$PLAN" >plans/lint.yaml
expect_rc 0 "$P" plan --json plans/lint.yaml
printf '%s' "$OUT" >"$W/lint.json"
expect_contains "$(js '.findings[] | select(.severity == "warning") | .message' "$W/lint.json")" "crosses shards"
expect_contains "$(js '.findings[] | select(.severity == "warning") | .message' "$W/lint.json")" "sequence shared by 2 moved columns"
expect_contains "$(js '.findings[] | select(.severity == "warning") | .message' "$W/lint.json")" "refers to large objects"
expect_eq "$(js '[.findings[] | select(.fix == null and .severity != "info")] | length' "$W/lint.json")" 0 "every warning has a fix"
psql_on 0 $DB "ALTER PUBLICATION pub DROP TABLE notes; DROP TABLE notes" >/dev/null

# --- apply the saved plan: a failed copy, then a rerun of the same saved plan continues
F=$W/run.json
save "$F"
expect_rc 0 "$P" apply --yes --until schema-pre "$F"
expect_contains "$ERR" "still matches the databases"
expect_eq "$(psql_on 1 $DB "SELECT saved_plan_id FROM pgreshard.runs")" "$(js .id "$F")" "run recorded with the saved plan's id"
expect_rc 0 "$P" status --json "$PLAN"
expect_eq "$(printf '%s' "$OUT" | jq -r .saved_plan_id)" "$(js .id "$F")" "status --json saved_plan_id"
expect_rc 0 "$P" status "$PLAN"
expect_contains "$OUT" "Started from saved plan $(js .id "$F" | cut -c1-12)"
expect_contains "$OUT" "finished"
psql_on 3 $DB "ALTER TABLE customers ADD CONSTRAINT saved_test_fail CHECK (id < 0)" >/dev/null
expect_rc 1 "$P" apply --yes --until copy "$F"
psql_on 3 $DB "ALTER TABLE customers DROP CONSTRAINT saved_test_fail" >/dev/null
expect_rc 2 "$P" plan --detailed-exitcode "$PLAN"

# --- two applies: the second names the holder; the holder killed, the next one proceeds
PGRESHARD_TEST_CHUNK_DELAY_MS=300 "$P" apply --yes --until copy "$F" >"$W/first.log" 2>&1 &
APID=$!
for ((i = 0; i < 300; i++)); do
	[ "$(psql_on 1 $DB "SELECT state FROM pgreshard.steps WHERE step = 'copy'")" = running ] && break
	sleep 0.1
done
expect_rc 1 "$P" apply --yes --until copy "$F"
expect_contains "$ERR" "plan savedtest is being applied by another pgreshard (host $(hostname), pid $APID"
kill -9 $APID
wait $APID 2>/dev/null
APID=
expect_rc 0 "$P" apply --yes --until copy "$F"
for t in customers orders; do compare_tables $DB $t 0 "1 2 3" || fail "$t after the rerun"; done
check_placement $DB customers "id bigint" id 3 1 2 3 || fail "placement of customers"

# --- a dead holder whose session lingers (its client gone, the server not told): taken over
psql -X -q -d "$S0" -c "SELECT pg_advisory_lock(hashtext('pgreshard plan savedtest'))" -c "SELECT pg_sleep(120)" >/dev/null 2>&1 &
LPID=$!
for ((i = 0; i < 100; i++)); do
	[ "$(psql_on 1 $DB "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted")" -ge 1 ] && break
	sleep 0.1
done
sleep 0.2
dead=$(bash -c 'echo $$')
psql_on 1 $DB "UPDATE pgreshard.runs SET holder_host = '$(hostname)', holder_pid = $dead, holder_since = now()" >/dev/null
expect_rc 0 "$P" apply --yes --until copy "$F"
expect_contains "$ERR" "which no longer exists"
expect_contains "$ERR" "ending the dead holder's session"
wait $LPID 2>/dev/null
# ... but a live holder on another host is never touched
psql -X -q -d "$S0" -c "SELECT pg_advisory_lock(hashtext('pgreshard plan savedtest'))" -c "SELECT pg_sleep(120)" >/dev/null 2>&1 &
LPID=$!
for ((i = 0; i < 100; i++)); do
	[ "$(psql_on 1 $DB "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted")" -ge 1 ] && break
	sleep 0.1
done
sleep 0.2
psql_on 1 $DB "UPDATE pgreshard.runs SET holder_host = 'elsewhere', holder_pid = 4242, holder_since = now()" >/dev/null
expect_rc 1 "$P" apply --yes --until copy "$F"
expect_contains "$ERR" "being applied by another pgreshard (host elsewhere, pid 4242"
psql_on 1 $DB "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'" >/dev/null
wait $LPID 2>/dev/null

# --- a saved plan made before this saved plan's run started is stale now
stale_count=$(psql_on 1 $DB "SELECT count(*) FROM pgreshard.steps")
expect_rc 3 "$P" apply --yes --until copy "$W/before.json"
expect_contains "$ERR" "shard 0: this plan was applied since it was saved, not from this saved plan"
expect_eq "$(psql_on 1 $DB "SELECT count(*) FROM pgreshard.steps")" "$stale_count" "journal after a stale apply"

# --- the whole apply from the saved plan; then nothing is left to do
expect_rc 0 "$P" apply --yes "$F"
compare_tables $DB customers 0 "1 2 3" || fail "customers after the apply"
expect_rc 0 "$P" plan --detailed-exitcode "$PLAN"
expect_contains "$OUT" "already applied, nothing to do"
expect_rc 0 "$P" plan --json "$PLAN"
expect_eq "$(printf '%s' "$OUT" | jq -r '[.steps[].state] | unique | join(",")')" done "every step done"
expect_rc 0 "$P" apply --yes "$F"
expect_contains "$ERR" "nothing to do"
