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
