# test_cutover_schema.sh — the cutover refuses shards whose moved tables'
# schema differs from the source's, before anything is frozen, and lists
# each difference; once the shards match, the next apply cuts over.
#
# Drifts the stream cannot see: an index and a CHECK constraint created on
# the source after the schema step, a default changed by hand on one shard,
# a trigger created on the source only.
set -u
source "$(dirname "$0")/../lib/clusters.sh"
source "$(dirname "$0")/../lib/assert.sh"
P=$PGRESHARD
DB=schemachecktest
W=$(mktemp -d)
trap 'rm -rf "$W"; drop_db_everywhere $DB' EXIT

fresh_db $DB 0 1 2
psql_on 0 $DB "CREATE TABLE \"Orders\" (id bigserial PRIMARY KEY, customer_id bigint NOT NULL,
                  total numeric NOT NULL DEFAULT 0, note text COLLATE \"C\");
  CREATE FUNCTION stamp() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN NEW.note := coalesce(NEW.note, ''-''); RETURN NEW; END';
  INSERT INTO \"Orders\" (customer_id, total) SELECT g % 100, g FROM generate_series(1, 2000) g;
  CREATE PUBLICATION pub FOR TABLE \"Orders\"" >/dev/null
export SRC S0 S1
SRC=$(dsn 0 $DB) S0=$(dsn 1 $DB) S1=$(dsn 2 $DB)
cat >"$W/plan.yaml" <<'YAML'
version: 1
name: schemachecktest
source: { dsn: "${SRC}", publication: pub }
destination: { shards: ["${S0}", "${S1}"] }
tables:
  '"Orders"': { key: customer_id }
cutover: { freeze: lock, timeout_s: 30 }
YAML
expect_rc 0 "$P" apply --yes --until stream "$W/plan.yaml"

# drift: on the source after the schema step, and by hand on shard 1
psql_on 0 $DB "CREATE INDEX orders_by_customer ON \"Orders\" (customer_id, id);
  ALTER TABLE \"Orders\" ADD CONSTRAINT total_positive CHECK (total >= 0);
  CREATE TRIGGER stamp BEFORE INSERT ON \"Orders\" FOR EACH ROW EXECUTE FUNCTION stamp()" >/dev/null
psql_on 2 $DB "ALTER TABLE \"Orders\" ALTER COLUMN total SET DEFAULT 1" >/dev/null
expect_rc 1 "$P" apply --yes "$W/plan.yaml"
expect_contains "$ERR" "cutover: refused before the freeze"
expect_contains "$ERR" '"Orders" on shard 0: missing (the source has) index orders_by_customer'
expect_contains "$ERR" '"Orders" on shard 1: missing (the source has) constraint total_positive: CHECK ((total >= (0)::numeric))'
expect_contains "$ERR" "missing (the source has) trigger stamp"
expect_contains "$ERR" '"Orders" on shard 1: only on the shard: column total: numeric not null default 1'
expect_contains "$ERR" "nothing was frozen"
expect_not_contains "$ERR" "writes frozen"
expect_eq "$(psql_on 1 $DB "SELECT count(*) FROM pgreshard.cutovers")" 0 "cutover attempts"
# the source still takes writes
expect_rc 0 psql -X -q -v ON_ERROR_STOP=1 -d "$(dsn 0 $DB)" -c "INSERT INTO \"Orders\" (customer_id) VALUES (7)"

# the same DDL on the shards: the cutover goes ahead
for s in 1 2; do
	psql_on $s $DB "CREATE INDEX orders_by_customer ON \"Orders\" (customer_id, id);
	  ALTER TABLE \"Orders\" ADD CONSTRAINT total_positive CHECK (total >= 0);
	  CREATE TRIGGER stamp BEFORE INSERT ON \"Orders\" FOR EACH ROW EXECUTE FUNCTION stamp();
	  ALTER TABLE \"Orders\" ALTER COLUMN total SET DEFAULT 0" >/dev/null
done
expect_rc 0 "$P" apply --yes "$W/plan.yaml"
expect_contains "$ERR" "schema is the same on the source and every shard"
expect_contains "$ERR" "cutover: done"
echo ok
