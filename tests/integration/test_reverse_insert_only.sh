# test_reverse_insert_only.sh — reverse replication publishes what the
# source's publication publishes.  An insert-only publication (publish =
# 'insert') may hold a table without a replica identity (a warning, not an
# error): the source takes UPDATE and DELETE on it, unpublished.  After the
# cutover the shards must take them too; a reverse publication that published
# every operation made the shards refuse them ("cannot update table ...
# because it does not have a replica identity and publishes updates") while
# apply streamed back.  The shards' inserts still stream back: the rollback
# ends with them on the source.
set -u
source "$(dirname "$0")/../lib/clusters.sh"
source "$(dirname "$0")/../lib/assert.sh"
source "$(dirname "$0")/../lib/reverse.sh"
P=$PGRESHARD
DB=revinsonly
W=$(mktemp -d)
AP=
trap '[ -n "$AP" ] && kill -9 $AP 2>/dev/null; rm -rf "$W"; drop_db_everywhere $DB' EXIT

fresh_db $DB 0 1 2
psql_on 0 $DB "CREATE TABLE items (id bigint PRIMARY KEY, v text);
  CREATE TABLE log (k bigint NOT NULL, msg text);
  INSERT INTO items SELECT g, 'v' || g FROM generate_series(1, 500) g;
  INSERT INTO log SELECT g, 'm' || g FROM generate_series(1, 500) g;
  CREATE PUBLICATION pub FOR TABLE items, log WITH (publish = 'insert')" >/dev/null
expect_rc 0 psql -X -q -v ON_ERROR_STOP=1 -d "$(dsn 0 $DB)" -c "UPDATE log SET msg = 'on the source' WHERE k = 1"
export SRC S0 S1
SRC=$(dsn 0 $DB) S0=$(dsn 1 $DB) S1=$(dsn 2 $DB)
cat >"$W/plan.yaml" <<'YAML'
version: 1
name: revinsonly
source: { dsn: "${SRC}", publication: pub }
destination: { shards: ["${S0}", "${S1}"] }
tables:
  items: { key: id }
  log: { key: k }
cutover: { timeout_s: 30 }
YAML
expect_rc 0 "$P" plan "$W/plan.yaml"
expect_contains "$OUT" "no replica identity: fine while publication \"pub\" publishes no UPDATE or DELETE"

apply_streaming_back "$W/plan.yaml" "$W/apply.err"
for c in 1 2; do
	expect_eq "$(psql_on $c $DB "SELECT pubinsert::text || pubupdate::text || pubdelete::text FROM pg_publication")" truefalsefalse \
		"the reverse publication on cluster $c publishes what the source's does"
	expect_rc 0 psql -X -q -v ON_ERROR_STOP=1 -d "$(dsn $c $DB)" -c "UPDATE log SET msg = 'on a shard' WHERE k IN (SELECT k FROM log LIMIT 2);
		DELETE FROM log WHERE k = (SELECT max(k) FROM log);
		INSERT INTO log VALUES (1000 + $c, 'new on cluster $c');
		INSERT INTO items VALUES (1000 + $c, 'new on cluster $c')"
done
expect_rc 0 "$P" rollback "$W/plan.yaml"
expect_contains "$OUT" "serves the moved tables again"
apply_handed_over
expect_eq "$(psql_on 0 $DB "SELECT count(*) FROM items WHERE v LIKE 'new on cluster %'")" 2 "items: the shards' inserts on the source"
expect_eq "$(psql_on 0 $DB "SELECT count(*) FROM log WHERE msg LIKE 'new on cluster %'")" 2 "log: the shards' inserts on the source"
