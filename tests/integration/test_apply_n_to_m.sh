# test_apply_n_to_m.sh — resharding 2 -> 3 with source.shards: every source is
# copied, each row lands on its one destination shard, nothing is lost or doubled.
set -u
source "$(dirname "$0")/../lib/clusters.sh"
source "$(dirname "$0")/../lib/assert.sh"
source "$(dirname "$0")/../lib/reshard_checks.sh"
P=$PGRESHARD
DB=ntomtest
W=$(mktemp -d)
trap 'rm -rf "$W"; drop_db_everywhere $DB' EXIT

fresh_db $DB 0 5 1 2 3
schema="CREATE SCHEMA crm;
CREATE TYPE crm.tier AS ENUM ('free', 'pro');
CREATE TABLE crm.accounts (id bigint PRIMARY KEY, name text NOT NULL, tier crm.tier, note text);
CREATE TABLE crm.\"Contact Notes\" (account_id bigint NOT NULL, n int NOT NULL, body text,
    PRIMARY KEY (account_id, n));
CREATE TABLE crm.plans (code text PRIMARY KEY, price numeric);
CREATE INDEX accounts_name_idx ON crm.accounts (lower(name));
CREATE PUBLICATION pub FOR TABLE crm.accounts, crm.\"Contact Notes\", crm.plans;"
psql_on 0 $DB "$schema" >/dev/null
psql_on 5 $DB "$schema" >/dev/null
# the old layout: two shards holding ids by parity; plans replicated on both
psql_on 0 $DB "INSERT INTO crm.accounts SELECT g, 'acct ' || g, 'pro', E'tab\\there' FROM generate_series(2, 4000, 2) g;
  INSERT INTO crm.\"Contact Notes\" SELECT a, n, 'note ' || n FROM generate_series(2, 4000, 2) a, generate_series(1, 3) n;
  INSERT INTO crm.plans VALUES ('free', 0), ('pro', 9.5)" >/dev/null
psql_on 5 $DB "INSERT INTO crm.accounts SELECT g, 'acct ' || g, 'free', NULL FROM generate_series(1, 4000, 2) g;
  INSERT INTO crm.\"Contact Notes\" SELECT a, n, NULL FROM generate_series(1, 4000, 2) a, generate_series(1, 2) n;
  INSERT INTO crm.plans VALUES ('free', 0), ('pro', 9.5)" >/dev/null

export A B S0 S1 S2
A=$(dsn 0 $DB) B=$(dsn 5 $DB) S0=$(dsn 1 $DB) S1=$(dsn 2 $DB) S2=$(dsn 3 $DB)
cat >"$W/plan.yaml" <<'YAML'
version: 1
name: ntom
source:
  shards: ["${A}", "${B}"]
  publication: pub
destination:
  shards: ["${S0}", "${S1}", "${S2}"]
tables:
  crm.accounts: { key: id }
  'crm."Contact Notes"': { key: account_id }
  crm.plans: { replicate: true }
copy: { jobs: 3, chunk_rows: 1000 }
cutover: { reverse: false }
YAML
expect_rc 0 "$P" plan "$W/plan.yaml"
expect_rc 0 "$P" apply --yes --until schema-post "$W/plan.yaml"
for c in 0 5; do
	expect_eq "$(psql_on $c $DB "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'pgreshard_ntom'")" 1 "slot on cluster $c"
done
total=$(( $(psql_on 0 $DB "SELECT count(*) FROM crm.accounts") + $(psql_on 5 $DB "SELECT count(*) FROM crm.accounts") ))
got=0
for s in 1 2 3; do got=$((got + $(psql_on $s $DB "SELECT count(*) FROM crm.accounts"))); done
expect_eq "$got" "$total" "accounts on the shards"
# union of the sources equals the union of the shards
diff <( (for c in 0 5; do psql_on $c $DB "COPY (SELECT t::text FROM crm.\"Contact Notes\" t) TO STDOUT"; done) | LC_ALL=C sort) \
	<( (for s in 1 2 3; do psql_on $s $DB "COPY (SELECT t::text FROM crm.\"Contact Notes\" t) TO STDOUT"; done) | LC_ALL=C sort) >/dev/null ||
	fail "Contact Notes differ between the 2 sources and the 3 shards"
check_placement $DB crm.accounts "id bigint" id 3 1 2 3 || fail "placement accounts"
check_placement $DB 'crm."Contact Notes"' "account_id bigint" account_id 3 1 2 3 || fail "placement notes"
for s in 1 2 3; do
	expect_eq "$(psql_on $s $DB "SELECT string_agg(code || '=' || price, ',' ORDER BY code) FROM crm.plans")" "free=0,pro=9.5" "replicated plans on shard $s (once, not once per source)"
	check_same_schema $DB crm.accounts 0 $s || fail "schema of accounts on $s"
done

# the stream: one reader per source, both applied to the 3 shards
psql_on 0 $DB "UPDATE crm.accounts SET id = id + 100000 WHERE id < 100; DELETE FROM crm.\"Contact Notes\" WHERE n = 3;
  UPDATE crm.plans SET price = 10 WHERE code = 'pro'" >/dev/null
psql_on 5 $DB "INSERT INTO crm.accounts SELECT g, 'late ' || g, 'free', NULL FROM generate_series(7001, 7999, 2) g;
  UPDATE crm.plans SET price = 10 WHERE code = 'pro'" >/dev/null
expect_rc 0 timeout 120 "$P" apply --yes --until stream "$W/plan.yaml"
union_equal() {	# TABLE: the sources' rows together equal the shards' rows together
	diff <( (for c in 0 5; do psql_on $c $DB "COPY (SELECT t::text FROM $1 t) TO STDOUT"; done) | LC_ALL=C sort) \
		<( (for s in 1 2 3; do psql_on $s $DB "COPY (SELECT t::text FROM $1 t) TO STDOUT"; done) | LC_ALL=C sort) >/dev/null
}
union_equal crm.accounts || fail "accounts after the stream"
union_equal 'crm."Contact Notes"' || fail "notes after the stream"
check_placement $DB crm.accounts "id bigint" id 3 1 2 3 || fail "placement accounts after the stream"
for s in 1 2 3; do
	expect_eq "$(psql_on $s $DB "SELECT price FROM crm.plans WHERE code = 'pro'")" 10 "replicated plans on shard $s"
done
# the cutover covers both sources: both fenced, both left refusing writes, one switch
expect_rc 0 timeout 120 "$P" apply --yes "$W/plan.yaml"
expect_contains "$ERR" "source 0: writes frozen"
expect_contains "$ERR" "source 1: writes frozen"
for c in 0 5; do
	expect_rc 1 psql -X -q -v ON_ERROR_STOP=1 -d "$(dsn $c $DB)" -c "DELETE FROM crm.accounts WHERE id = 2"
	expect_contains "$ERR" "moved to shards"
	expect_eq "$(psql_on $c $DB "SELECT count(*) FROM pg_replication_slots")" 0 "slots left on cluster $c"
done
union_equal crm.accounts || fail "accounts after the cutover"
