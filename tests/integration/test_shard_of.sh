# test_shard_of.sh — `pgreshard shard-of` agrees with PostgreSQL for every key type,
# reads key types from the source or from --type, and refuses bad input.
set -u
source "$(dirname "$0")/../lib/clusters.sh"
source "$(dirname "$0")/../lib/assert.sh"
P=$PGRESHARD
DB=shardoftest
W=$(mktemp -d)
trap 'rm -rf "$W"; drop_db_everywhere $DB' EXIT

fresh_db $DB 0
psql_on 0 $DB "
CREATE DOMAIN acct AS bigint;
CREATE TABLE t_int (k integer PRIMARY KEY);
CREATE TABLE t_uuid (k uuid PRIMARY KEY);
CREATE TABLE t_text (k text PRIMARY KEY);
CREATE TABLE t_dom (k acct PRIMARY KEY);
CREATE TABLE \"Mixed Case\" (a smallint, b varchar(10), PRIMARY KEY (a, b));
CREATE TABLE t_rep (k int PRIMARY KEY);
CREATE TABLE p_int (k integer) PARTITION BY HASH (k);
CREATE TABLE p_uuid (k uuid) PARTITION BY HASH (k);
CREATE TABLE p_text (k text) PARTITION BY HASH (k);
CREATE TABLE p_dom (k bigint) PARTITION BY HASH (k);
CREATE TABLE p_mc (a smallint, b varchar(10)) PARTITION BY HASH (a, b);" >/dev/null
export SRC
SRC=$(dsn 0 $DB)
cat >"$W/plan.yaml" <<'YAML'
version: 1
name: shardof
source: { dsn: "${SRC}", publication: p }
destination:
  shards: [a, b, c, d, e]
tables:
  t_int: { key: k }
  t_uuid: { key: k }
  t_text: { key: k }
  t_dom: { key: k }
  '"Mixed Case"': { key: [a, b] }
  t_rep: { replicate: true }
YAML

check() {	# TABLE PARENT VALUE-SQL-LITERALS... -- shard-of args
	local table=$1 parent=$2 lits=$3
	shift 3
	expect_rc 0 "$P" shard-of "$W/plan.yaml" "$table" "$@"
	local want
	want=$(psql_on 0 $DB "SELECT r FROM generate_series(0, 4) r WHERE satisfies_hash_partition('$parent'::regclass, 5, r, $lits)")
	expect_eq "$OUT" "$want" "shard of $table $*"
}
for v in 0 1 -1 42 2147483647 -2147483648 123456; do check t_int p_int "($v)::int" "$v"; done
for v in 550e8400-e29b-41d4-a716-446655440000 00000000-0000-0000-0000-000000000000; do
	check t_uuid p_uuid "'$v'::uuid" "$v"
done
for v in "" "hello" "héllo wörld ✓" "a much longer text value than twelve bytes"; do
	check t_text p_text "\$q\$$v\$q\$::text" "$v"
done
check t_dom p_dom "9000000000::bigint" 9000000000
check '"Mixed Case"' p_mc "7::smallint, 'x y'::varchar" 7 "x y"
check '"Mixed Case"' p_mc "NULL::smallint, 'x'::varchar" '\N' x

# --type works offline: the source is not contacted
SRC="host=127.0.0.1 port=1 connect_timeout=1"
expect_rc 0 "$P" shard-of "$W/plan.yaml" t_int 42 --type integer
expect_eq "$OUT" "$(SRC=$(dsn 0 $DB) "$P" shard-of "$W/plan.yaml" t_int 42)" "offline --type"
expect_rc 0 "$P" shard-of "$W/plan.yaml" t_rep 1 --type int
expect_eq "$OUT" "all" "replicated table"
expect_rc 2 "$P" shard-of "$W/plan.yaml" '"Mixed Case"' 1
expect_contains "$ERR" "has 2 key column(s) but 1 value(s) were given"
expect_rc 1 "$P" shard-of "$W/plan.yaml" nosuch 1 --type int
expect_contains "$ERR" "table nosuch is not in plan"
expect_rc 1 "$P" shard-of "$W/plan.yaml" t_int 12x --type int
expect_contains "$ERR" "12x"
expect_rc 1 "$P" shard-of "$W/plan.yaml" t_int 1 --type numeric
expect_contains "$ERR" "cannot hash type \"numeric\""
expect_rc 1 "$P" shard-of "$W/plan.yaml" t_int 1
expect_contains "$ERR" "source ("
expect_contains "$ERR" "cannot connect"
