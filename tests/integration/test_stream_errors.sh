# test_stream_errors.sh — the stream's bad inputs.  A change that a shard refuses (a
# constraint violation) stops the stream with the shard, the table, the row's key and
# the server's message, even though changes are pipelined (the failed result is matched
# to the change that caused it); nothing of that batch is half-applied, and once the
# shard is fixed a rerun applies everything exactly once.  A column added on the source
# with schema_changes: stop stops the stream with the statements to run on the shards.
set -u
source "$(dirname "$0")/../lib/clusters.sh"
source "$(dirname "$0")/../lib/assert.sh"
P=$PGRESHARD
DB=streamerr
W=$(mktemp -d)
trap 'rm -rf "$W"; drop_db_everywhere $DB' EXIT

fresh_db $DB 0 1 2
psql_on 0 $DB "CREATE TABLE items (id bigint PRIMARY KEY, v int NOT NULL);
  INSERT INTO items SELECT g, g FROM generate_series(1, 1000) g;
  CREATE PUBLICATION pub FOR TABLE items" >/dev/null
export SRC S0 S1
SRC=$(dsn 0 $DB) S0=$(dsn 1 $DB) S1=$(dsn 2 $DB)
cat >"$W/plan.yaml" <<'YAML'
version: 1
name: streamerr
source: { dsn: "${SRC}", publication: pub }
destination: { shards: ["${S0}", "${S1}"] }
tables:
  items: { key: id }
YAML
expect_rc 0 "$P" apply --yes --until copy "$W/plan.yaml"

# many changes in flight, one of them refused by shard 1 in the middle
shard=$("$P" shard-of "$W/plan.yaml" items 1500 --type bigint)
[ -n "$shard" ] || fail "shard-of items 1500"
psql_on $((shard + 1)) $DB "ALTER TABLE items ADD CONSTRAINT v_small CHECK (v < 1000000)" >/dev/null
psql_on 0 $DB "INSERT INTO items SELECT g, g FROM generate_series(1001, 1499) g;
  INSERT INTO items VALUES (1500, 1000000);
  INSERT INTO items SELECT g, g FROM generate_series(1501, 3000) g;
  UPDATE items SET v = v + 1 WHERE id <= 500; DELETE FROM items WHERE id > 2900" >/dev/null
expect_rc 1 "$P" apply --yes --until stream "$W/plan.yaml"
expect_contains "$ERR" "shard $shard"
expect_contains "$ERR" "INSERT into public.items, key (1500)"
expect_contains "$ERR" 'violates check constraint "v_small"'
expect_eq "$(psql_on $((shard + 1)) $DB "SELECT count(*) FROM items WHERE id > 1000")" 0 "rows of the refused batch on shard $shard"

# fixed: the rerun applies everything, once
psql_on $((shard + 1)) $DB "ALTER TABLE items DROP CONSTRAINT v_small" >/dev/null
expect_rc 0 "$P" apply --yes --until stream "$W/plan.yaml"
compare_tables $DB items 0 "1 2" || fail "items after the rerun"

# a column added on the source between two runs, schema_changes: stop: the stream stops
# before the first change after it, listing the statement to run on each shard; run,
# the rerun continues from there
sed -i 's/^tables:/schema_changes: stop\ntables:/' "$W/plan.yaml"
psql_on 0 $DB "ALTER TABLE items ADD COLUMN extra text DEFAULT 'd'; INSERT INTO items VALUES (5000, 1, 'x')" >/dev/null
expect_rc 1 "$P" apply --yes --until stream "$W/plan.yaml"
expect_contains "$ERR" "table public.items was altered on the source during the move and schema_changes is stop"
expect_contains "$ERR" 'on shard 0: ALTER TABLE "public"."items" ADD COLUMN "extra" text DEFAULT '"'d'"'::text;'
expect_contains "$ERR" 'on shard 1: ALTER TABLE "public"."items" ALTER COLUMN "extra" SET DEFAULT '"'d'"'::text;'
expect_eq "$(psql_on 1 $DB "SELECT count(*) FROM items WHERE id = 5000")$(psql_on 2 $DB "SELECT count(*) FROM items WHERE id = 5000")" 00 \
	"the change after the alteration applied nowhere"
for s in 1 2; do psql_on $s $DB "ALTER TABLE items ADD COLUMN extra text DEFAULT 'd'" >/dev/null; done
expect_rc 0 "$P" apply --yes --until stream "$W/plan.yaml"
compare_tables $DB items 0 "1 2" || fail "items after the statements were run on the shards"
