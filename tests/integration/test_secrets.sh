# test_secrets.sh — a password given in the conninfo strings (TCP, SCRAM) never
# appears anywhere pgreshard writes: plan text and JSON, the saved plan, apply's
# output at debug level, status and status --json, verify --json, the messages
# of a failed connection, and the state it leaves in the databases (the
# pgreshard schema and everything else, dumped from the source and every
# shard).  A password written in the plan file itself is not printed either.
set -u
source "$(dirname "$0")/../lib/clusters.sh"
source "$(dirname "$0")/../lib/assert.sh"
P=$PGRESHARD
DB=secrettest
PW='Zx9-S3cretPw'
W=$(mktemp -d)
trap 'rm -rf "$W"; drop_db_everywhere $DB; for i in 0 1 2 3; do psql_on $i postgres "DROP ROLE IF EXISTS pgr_sec" >/dev/null 2>&1; done' EXIT
export PGRESHARD_LOG_LEVEL=debug

fresh_db $DB 0 1 2 3
for i in 0 1 2 3; do
	psql_on $i postgres "DROP ROLE IF EXISTS pgr_sec; CREATE ROLE pgr_sec LOGIN SUPERUSER PASSWORD '$PW'" >/dev/null
done
psql_on 0 $DB "CREATE TABLE accounts (id bigint PRIMARY KEY, owner text);
	INSERT INTO accounts SELECT g, 'o' || g FROM generate_series(1, 3000) g;
	CREATE PUBLICATION pub FOR TABLE accounts" >/dev/null
export SRC S0 S1 S2
SRC="$(tcp_dsn 0 $DB pgr_sec) password=$PW"
S0="$(tcp_dsn 1 $DB pgr_sec) password=$PW"
S1="postgresql://pgr_sec:$PW@127.0.0.1:$(cluster_port 2)/$DB"
S2="$(tcp_dsn 3 $DB pgr_sec) password=$PW"
cat >"$W/plan.yaml" <<'YAML'
version: 1
name: secrettest
source: { dsn: "${SRC}", publication: pub }
destination: { shards: ["${S0}", "${S1}", "${S2}"] }
tables:
  accounts: { key: id }
cutover: { reverse: false }
YAML
ALL=$W/everything.txt
: >"$ALL"
keep() { printf '%s\n%s\n' "$OUT" "$ERR" >>"$ALL"; }

expect_rc 0 "$P" plan "$W/plan.yaml"; keep
expect_contains "$OUT" "user=pgr_sec"
expect_rc 0 "$P" plan --json "$W/plan.yaml"; keep
expect_rc 0 "$P" plan -o "$W/saved.json" "$W/plan.yaml"; keep
cat "$W/saved.json" >>"$ALL"
expect_rc 0 "$P" apply --yes "$W/saved.json"; keep
expect_contains "$ERR" "pgreshard: step finish: done"
expect_rc 0 "$P" status "$W/plan.yaml"; keep
expect_rc 0 "$P" status --json "$W/plan.yaml"; keep
expect_rc 0 "$P" verify --json "$W/plan.yaml"; keep
# failures: a wrong password, a server that is down
S2="$(tcp_dsn 3 $DB pgr_sec) password=Wrong-$PW"
expect_rc 1 "$P" plan "$W/plan.yaml"; keep
expect_contains "$ERR" "password authentication failed"
expect_rc 0 "$P" status --json "$W/plan.yaml"; keep
S2="host=127.0.0.1 port=1 dbname=x user=pgr_sec password=$PW connect_timeout=2"
expect_rc 1 "$P" apply --yes "$W/plan.yaml"; keep
expect_contains "$ERR" "cannot connect"
expect_rc 1 "$P" verify "$W/plan.yaml"; keep
S2="$(tcp_dsn 3 $DB pgr_sec) password=$PW"
# a password written into the plan file itself: used, never printed
sed "s/dsn: \"\${SRC}\"/dsn: \"$(tcp_dsn 0 $DB pgr_sec | sed 's/[\/&]/\\&/g') password=$PW\"/" "$W/plan.yaml" >"$W/literal.yaml"
grep -q "$PW" "$W/literal.yaml" || fail "the literal plan has no password"
expect_rc 0 "$P" plan "$W/literal.yaml"; keep
expect_rc 0 "$P" status "$W/literal.yaml"; keep
expect_rc 1 "$P" plan -o "$W/literal.json" "$W/literal.yaml"; keep
expect_contains "$ERR" "holds a password"

grep -c . "$ALL" >/dev/null || fail "nothing was captured"
[ "$(wc -l <"$ALL")" -gt 100 ] || fail "too little output captured ($(wc -l <"$ALL") lines)"
if grep -n -- "$PW" "$ALL" >&2; then fail "the password appears in pgreshard's output"; fi

# the databases: pgreshard's state and everything else
for i in 0 1 2 3; do
	pg_dump -d "$(dsn $i $DB)" >"$W/dump$i.sql" || fail "pg_dump of cluster $i"
	psql_on $i $DB "SELECT * FROM pg_replication_slots; SELECT * FROM pg_publication;
		SELECT application_name, query FROM pg_stat_activity" >>"$W/dump$i.sql"
done
expect_contains "$(cat "$W/dump1.sql")" "COPY pgreshard.steps"
if grep -n -- "$PW" "$W"/dump*.sql >&2; then fail "the password appears in a database"; fi
echo "checked $(wc -l <"$ALL") lines of output and $(cat "$W"/dump*.sql | wc -l) lines of dumps"
