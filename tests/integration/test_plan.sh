# test_plan.sh — `pgreshard plan` against real clusters: the step plan, the
# distribution preview against PostgreSQL's own placement, JSON, the errors
# a plan can have, and that plan creates nothing anywhere.
set -u
source "$(dirname "$0")/../lib/clusters.sh"
source "$(dirname "$0")/../lib/assert.sh"
P=$PGRESHARD
DB=plantest
SQL="$(dirname "$0")/../sql"
W=$(mktemp -d)
trap 'rm -rf "$W"; drop_db_everywhere $DB' EXIT

fresh_db $DB 0 1 2 3 4
load_sql 0 $DB "$SQL/realistic.sql"
export SRC S0 S1 S2 S3
SRC=$(dsn 0 $DB) S0=$(dsn 1 $DB) S1=$(dsn 2 $DB) S2=$(dsn 3 $DB) S3=$(dsn 4 $DB)

DEFAULT_TABLES="  app.users: { key: id }
  'app.\"Order Items\"': { key: [tenant_id, id] }
  '\"Billing Dept\".\"Invoices\"': { key: '\"InvoiceId\"' }
  app.events: { key: user_id }
  app.regions: { replicate: true }"

write_plan() {	# FILE [TABLES-YAML] [PUBLICATION]
	local tables=${2:-$DEFAULT_TABLES}
	cat >"$1" <<YAML
version: 1
name: plantest
source:
  dsn: "\${SRC}"
  publication: ${3:-pub}
destination:
  shards: ["\${S0}", "\${S1}", "\${S2}", "\${S3}"]
tables:
$tables
YAML
}

snapshot() {	# what exists on a cluster: relations, slots, publications, schemas
	psql_on "$1" $DB "SELECT (SELECT count(*) FROM pg_class) || '/' || (SELECT count(*) FROM pg_replication_slots)
		|| '/' || (SELECT count(*) FROM pg_publication) || '/' || (SELECT count(*) FROM pg_namespace)"
}

# --- a good plan: text output
write_plan "$W/plan.yaml"
before=""; for i in 0 1 2 3 4; do before+="$(snapshot $i) "; done
expect_rc 0 "$P" plan "$W/plan.yaml"
for s in preflight slot schema-pre copy schema-post stream verify cutover finish; do
	expect_contains "$OUT" " $s "
done
expect_contains "$OUT" 'app."Order Items"'
expect_contains "$OUT" '"Billing Dept"."Invoices"'
expect_contains "$OUT" "(tenant_id, id)"
expect_contains "$OUT" "id (bigint)"
expect_contains "$OUT" "replicated"
expect_contains "$OUT" "shard 3"
expect_contains "$OUT" "Plan OK"
expect_not_contains "$OUT" "password"
after=""; for i in 0 1 2 3 4; do after+="$(snapshot $i) "; done
expect_eq "$after" "$before" "catalog after plan (plan must create nothing)"

# --- JSON: parses, is versioned, and its per-shard estimates match PostgreSQL's placement
expect_rc 0 "$P" plan --json "$W/plan.yaml"
echo "$OUT" >"$W/plan.json"
expect_eq "$(jq -r .format_version "$W/plan.json")" 1 "format_version"
expect_eq "$(jq -r '.steps | length' "$W/plan.json")" 9 "number of steps"
expect_eq "$(jq -r '.steps[3].name' "$W/plan.json")" copy "fourth step"
expect_eq "$(jq -r '.tables[4].replicate' "$W/plan.json")" true "regions replicated"
psql_on 0 $DB "CREATE TABLE hp_users (id bigint) PARTITION BY HASH (id)" >/dev/null
psql_on 0 $DB "CREATE TABLE hp_oi (tenant_id int, id bigint) PARTITION BY HASH (tenant_id, id)" >/dev/null
for s in 0 1 2 3; do
	want=$(psql_on 0 $DB "SELECT count(*) FROM app.users WHERE satisfies_hash_partition('hp_users'::regclass, 4, $s, id)")
	got=$(jq -r ".tables[0].shards[$s].rows | round" "$W/plan.json")
	expect_eq "$got" "$want" "estimated app.users rows on shard $s (small table: sampled whole)"
	want=$(psql_on 0 $DB "SELECT count(*) FROM app.\"Order Items\" WHERE satisfies_hash_partition('hp_oi'::regclass, 4, $s, tenant_id, id)")
	got=$(jq -r ".tables[1].shards[$s].rows | round" "$W/plan.json")
	expect_eq "$got" "$want" "estimated Order Items rows on shard $s"
done
psql_on 0 $DB "DROP TABLE hp_users, hp_oi" >/dev/null

# --- big tables are sampled (TABLESAMPLE): estimates within 5% of PostgreSQL's placement; skew warned
psql_on 0 $DB "CREATE TABLE app.big (id bigint PRIMARY KEY, pad text);
	INSERT INTO app.big SELECT g, repeat('x', 60) FROM generate_series(1, 200000) g;
	CREATE TABLE app.skewed (id bigint PRIMARY KEY, tenant int);
	INSERT INTO app.skewed SELECT g, CASE WHEN g % 10 < 8 THEN 7 ELSE g END FROM generate_series(1, 100000) g;
	ANALYZE app.big, app.skewed; CREATE PUBLICATION bigpub FOR TABLE app.big, app.skewed;
	CREATE TABLE hp_big (id bigint) PARTITION BY HASH (id); CREATE TABLE hp_sk (t int) PARTITION BY HASH (t)" >/dev/null
write_plan "$W/big.yaml" "  app.big: { key: id }
  app.skewed: { key: tenant }" bigpub
expect_rc 0 "$P" plan --json "$W/big.yaml"
echo "$OUT" >"$W/big.json"
expect_eq "$(jq -r '.tables[0].sampled' "$W/big.json")" true "app.big sampled"
for s in 0 1 2 3; do
	want=$(psql_on 0 $DB "SELECT count(*) FROM app.big WHERE satisfies_hash_partition('hp_big'::regclass, 4, $s, id)")
	got=$(jq -r ".tables[0].shards[$s].rows | round" "$W/big.json")
	awk -v g="$got" -v w="$want" 'BEGIN { exit !(g >= w * 0.95 && g <= w * 1.05) }' ||
		fail "estimated app.big rows on shard $s: $got, PostgreSQL places $want (more than 5% off)"
	want=$(psql_on 0 $DB "SELECT count(*) FROM app.skewed WHERE satisfies_hash_partition('hp_sk'::regclass, 4, $s, tenant)")
	got=$(jq -r ".tables[1].shards[$s].rows | round" "$W/big.json")
	awk -v g="$got" -v w="$want" 'BEGIN { exit !(g >= w * 0.9 - 500 && g <= w * 1.1 + 500) }' ||
		fail "estimated app.skewed rows on shard $s: $got, PostgreSQL places $want"
done
expect_contains "$(jq -r '.findings[] | select(.where == "app.skewed") | .severity + ": " + .message' "$W/big.json")" "warning: skewed: shard"
expect_rc 0 "$P" plan "$W/big.yaml"
expect_contains "$OUT" "skewed: shard"
psql_on 0 $DB "DROP PUBLICATION bigpub; DROP TABLE app.big, app.skewed, hp_big, hp_sk" >/dev/null

# --- a scattered chunk key read many times over: sessions keyed by a random uuid
# (sharded by user), 40 chunks with copy.scan_passes 10 and no pass size
# (copy.scan_pass_size 0) are 10 shared-scan passes over the table, and with 1
# job 40 chunks read alone; each warning names the settings that bound it.  A
# serial key is read once whatever its chunks, and the defaults (passes of up
# to 8 GiB, 4 at most) raise nothing: this table fits one pass.
psql_on 0 $DB "CREATE TABLE app.sessions (id uuid PRIMARY KEY, user_id bigint NOT NULL, data text);
	INSERT INTO app.sessions SELECT gen_random_uuid(), g % 5000, 'x' FROM generate_series(1, 100000) g;
	CREATE TABLE app.ledger (id bigint PRIMARY KEY, amount numeric);
	INSERT INTO app.ledger SELECT g, g FROM generate_series(1, 100000) g;
	ANALYZE app.sessions, app.ledger; CREATE PUBLICATION scatpub FOR TABLE app.sessions, app.ledger" >/dev/null
write_plan "$W/scat.yaml" "  app.sessions: { key: user_id }
  app.ledger: { key: id }" scatpub
cp "$W/scat.yaml" "$W/scat1.yaml"
cp "$W/scat.yaml" "$W/scat10.yaml"
echo "copy: { jobs: 4, chunk_rows: 2500, scan_passes: 10, scan_pass_size: 0 }" >>"$W/scat.yaml"
expect_rc 0 "$P" plan --json "$W/scat.yaml"
msg=$(jq -r '.findings[] | select(.where == "app.sessions") | .severity + ": " + .message + " / " + .fix' <<<"$OUT")
expect_contains "$msg" "warning: its chunk key (id) is scattered over the table"
expect_contains "$msg" "40 chunks of copy.chunk_rows 2500, read by shared scans, are 10 passes"
expect_contains "$msg" "set copy.scan_passes to 4 or less, or copy.scan_pass_size to "
# the size it suggests is one the plan file takes, and it ends the warning
size=$(sed -n 's/.*copy.scan_pass_size to \([0-9]*[MG]B\) or more.*/\1/p' <<<"$msg")
[ -n "$size" ] || fail "no size in the fix: $msg"
sed "s/scan_pass_size: 0 }/scan_pass_size: $size }/" "$W/scat.yaml" >"$W/scatfix.yaml"
expect_rc 0 "$P" plan --json "$W/scatfix.yaml"
expect_eq "$(jq '[.findings[] | select(.message | test("scattered"))] | length' <<<"$OUT")" 0 "no warning with the suggested copy.scan_pass_size $size"
# the same with the default pass size: the table is far below 8 GiB, one pass
echo "copy: { jobs: 4, chunk_rows: 2500, scan_passes: 10 }" >>"$W/scat10.yaml"
expect_rc 0 "$P" plan --json "$W/scat10.yaml"
expect_eq "$(jq '[.findings[] | select(.message | test("scattered"))] | length' <<<"$OUT")" 0 "no warning: one pass of 8 GiB at most"
expect_eq "$(jq '[.findings[] | select(.where == "app.ledger")] | length' <<<"$OUT")" 0 "no finding on the serial key"
echo "copy: { jobs: 1, chunk_rows: 2500 }" >>"$W/scat1.yaml"
expect_rc 0 "$P" plan --json "$W/scat1.yaml"
msg=$(jq -r '.findings[] | select(.where == "app.sessions") | .message + " / " + .fix' <<<"$OUT")
expect_contains "$msg" "40 chunks of copy.chunk_rows 2500, each read alone, are 40 passes"
expect_contains "$msg" "set copy.jobs to 2 or more"
sed -i 's/jobs: 1,/jobs: 4,/' "$W/scat1.yaml"
expect_rc 0 "$P" plan --json "$W/scat1.yaml"
expect_eq "$(jq '[.findings[] | select(.message | test("scattered"))] | length' <<<"$OUT")" 0 "no warning within 4 passes"
psql_on 0 $DB "DROP PUBLICATION scatpub; DROP TABLE app.sessions, app.ledger" >/dev/null

# --- lint: events has no primary key (warning), but the plan is OK
expect_contains "$(jq -r '.findings[].message' "$W/plan.json")" "no primary key"
expect_eq "$(jq -r .ok "$W/plan.json")" true "plan ok"

# --- a publication table missing from the plan
write_plan "$W/missing.yaml" "  app.users: { key: id }
  'app.\"Order Items\"': { key: [tenant_id, id] }
  '\"Billing Dept\".\"Invoices\"': { key: '\"InvoiceId\"' }
  app.events: { key: user_id }"
expect_rc 1 "$P" plan "$W/missing.yaml"
expect_contains "$OUT" "publication \"pub\" on source has table app.regions, which the plan does not list"
expect_contains "$OUT" "$W/missing.yaml:5:"

# --- a plan table that is not in the publication, a missing table, a missing key column, an unhashable key
psql_on 0 $DB "CREATE TABLE app.extra (id numeric PRIMARY KEY)" >/dev/null
write_plan "$W/bad.yaml" "  app.users: { key: idd }
  'app.\"Order Items\"': { key: [tenant_id, id] }
  '\"Billing Dept\".\"Invoices\"': { key: '\"InvoiceId\"' }
  app.events: { key: user_id }
  app.regions: { replicate: true }
  app.extra: { key: id }
  app.ghost: { key: id }"
expect_rc 1 "$P" plan "$W/bad.yaml"
expect_contains "$OUT" "$W/bad.yaml:9:"
expect_contains "$OUT" "table app.users has no column \"idd\""
expect_contains "$OUT" "did you mean \"id\"?"
expect_contains "$OUT" "table app.extra is not in publication \"pub\""
expect_contains "$OUT" "key column \"id\" has type numeric, which the built-in hash cannot hash"
expect_contains "$OUT" "table app.ghost does not exist on source"
expect_contains "$ERR" "the plan has errors"
psql_on 0 $DB "DROP TABLE app.extra" >/dev/null

# --- a publication that does not exist
write_plan "$W/nopub.yaml" "" nosuchpub
expect_rc 1 "$P" plan "$W/nopub.yaml"
expect_contains "$OUT" "$W/nopub.yaml:5:16: source: publication \"nosuchpub\" does not exist"

# --- a destination that is not empty
psql_on 3 $DB "CREATE SCHEMA app; CREATE TABLE app.users (id bigint); INSERT INTO app.users VALUES (1)" >/dev/null
expect_rc 1 "$P" plan "$W/plan.yaml"
expect_contains "$OUT" "shard 2: table app.users already has rows"
psql_on 3 $DB "DROP SCHEMA app CASCADE" >/dev/null

# --- unreachable database: one line, exit 1, names the shard
S2="host=127.0.0.1 port=1 dbname=x user=postgres connect_timeout=2"
expect_rc 1 "$P" plan "$W/plan.yaml"
expect_contains "$ERR" "pgreshard: shard 2 (user=postgres connect_timeout=2 dbname=x host=127.0.0.1 port=1): cannot connect: connection to server at \"127.0.0.1\", port 1 failed: Connection refused; Is the server running"
expect_eq "$(printf '%s\n' "$ERR" | wc -l)" 1 "lines of error output"
S2=$(dsn 3 $DB)

# --- wrong credentials: the password never appears anywhere
psql_on 0 postgres "DROP ROLE IF EXISTS pgr_pw; CREATE ROLE pgr_pw LOGIN REPLICATION PASSWORD 'right-horse'" >/dev/null
SRC="$(tcp_dsn 0 $DB pgr_pw) password=Sup3rSecretPw"
expect_rc 1 "$P" plan "$W/plan.yaml"
expect_contains "$ERR" "pgreshard: source (user=pgr_pw dbname=$DB host=127.0.0.1 port="
expect_contains "$ERR" "password authentication failed"
expect_not_contains "$ERR$OUT" "Sup3rSecretPw"
# right password, URI form: works, and the password is not printed
SRC="postgresql://pgr_pw:right-horse@127.0.0.1:$(cluster_port 0)/$DB"
psql_on 0 $DB "GRANT USAGE ON SCHEMA app, \"Billing Dept\" TO pgr_pw; GRANT SELECT ON ALL TABLES IN SCHEMA app, \"Billing Dept\" TO pgr_pw" >/dev/null
expect_rc 0 "$P" plan "$W/plan.yaml"
expect_not_contains "$ERR$OUT" "right-horse"
expect_rc 0 "$P" plan --json "$W/plan.yaml"
expect_not_contains "$OUT" "right-horse"
SRC=$(dsn 0 $DB)

# --- wal_level and free slots are checked on the source
psql_on 0 postgres "ALTER SYSTEM SET max_replication_slots = 1" >/dev/null
_pg_as "$PG_BIN/pg_ctl" -D "$PGR_TEST_ROOT/c0" -w restart -o "-c wal_level=replica" >/dev/null
expect_rc 1 "$P" plan "$W/plan.yaml"
expect_contains "$OUT" "wal_level is 'replica'; logical decoding needs wal_level = logical"
expect_contains "$OUT" "fix: ALTER SYSTEM SET wal_level = logical"
psql_on 0 postgres "SELECT pg_create_physical_replication_slot('hog')" >/dev/null
expect_rc 1 "$P" plan "$W/plan.yaml"
expect_contains "$OUT" "no free replication slot: max_replication_slots = 1 and 1 in use"
psql_on 0 postgres "SELECT pg_drop_replication_slot('hog')" >/dev/null
psql_on 0 postgres "ALTER SYSTEM RESET max_replication_slots" >/dev/null
_pg_as "$PG_BIN/pg_ctl" -D "$PGR_TEST_ROOT/c0" -w restart -o "-c wal_level=logical" >/dev/null
expect_rc 0 "$P" plan "$W/plan.yaml"
