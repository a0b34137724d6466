# test_stream_columns.sh — tables altered on the source with no change to
# them since (runner/follow/stream_columns.c).
#
# pgoutput announces a table's new columns only before its next change, so a
# table retyped or given a column and then left alone kept its old columns on
# the shards: verify reported every row and the apply never reached its
# cutover.  Here, once the copy is done and the stream caught up, a table of
# settings is retyped with a USING that is not the cast (amounts in cents), a
# table of profiles gets a column with a constant default and one with a
# volatile default, a column of a third is dropped, and a fourth without a
# primary key is retyped; a partitioned table of readings is converted to
# Fahrenheit, and a primary key column that is not the sharding key is
# widened — none of them written again, while a workload writes to another
# table.  The next catch-up must follow each from the
# source's catalog (the values of the retyped and volatile columns filled
# from the source's rows), warn about the table it cannot match rows in,
# and end exact; a rerun must find nothing to follow; a change after it must
# stream into the new columns.
set -u
source "$(dirname "$0")/../lib/clusters.sh"
source "$(dirname "$0")/../lib/assert.sh"
source "$(dirname "$0")/../lib/reshard_checks.sh"
P=$PGRESHARD
DB=columnstest
W=$(mktemp -d)
WL=
trap '[ -n "$WL" ] && kill $WL 2>/dev/null; wait 2>/dev/null; rm -rf "$W"; drop_db_everywhere $DB' EXIT

fresh_db $DB 0 1 2
psql_on 0 $DB "
	CREATE TABLE settings (id int PRIMARY KEY, name text NOT NULL, price numeric(10, 2) NOT NULL);
	INSERT INTO settings SELECT g, 'setting ' || g, g / 7.0 FROM generate_series(1, 3000) g;
	CREATE TABLE \"User Profiles\" (id uuid PRIMARY KEY, handle text NOT NULL);
	INSERT INTO \"User Profiles\" SELECT gen_random_uuid(), 'user' || g FROM generate_series(1, 4000) g;
	CREATE TABLE legacy (id bigint PRIMARY KEY, a text, obsolete int);
	INSERT INTO legacy SELECT g, 'a' || g, g FROM generate_series(1, 2000) g;
	CREATE TABLE events (at_id bigint NOT NULL, level smallint, msg text);
	ALTER TABLE events REPLICA IDENTITY FULL;
	INSERT INTO events SELECT g, (g % 5)::smallint, 'm' || g FROM generate_series(1, 1500) g;
	CREATE TABLE readings (device int NOT NULL, at date NOT NULL, celsius numeric(5, 1), PRIMARY KEY (device, at))
		PARTITION BY RANGE (at);
	CREATE TABLE readings_2025 PARTITION OF readings FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
	CREATE TABLE readings_2026 PARTITION OF readings FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
	INSERT INTO readings SELECT d, date '2025-06-01' + g, (d * 7 + g) % 400 / 10.0
		FROM generate_series(1, 20) d, generate_series(0, 300) g;
	CREATE TABLE codes (tenant int NOT NULL, code int NOT NULL, label text, PRIMARY KEY (tenant, code));
	INSERT INTO codes SELECT g % 10, g, 'c' || g FROM generate_series(1, 500) g;
	CREATE TABLE orders (id bigint PRIMARY KEY, qty int NOT NULL);
	INSERT INTO orders SELECT g, g % 100 FROM generate_series(1, 5000) g;
	CREATE PUBLICATION pub FOR TABLE settings, \"User Profiles\", legacy, events, readings, codes, orders" >/dev/null
export SRC S0 S1
SRC=$(dsn 0 $DB) S0=$(dsn 1 $DB) S1=$(dsn 2 $DB)
cat >"$W/plan.yaml" <<'YAML'
version: 1
name: columnstest
source: { dsn: "${SRC}", publication: pub }
destination: { shards: ["${S0}", "${S1}"] }
tables:
  settings: { key: id }
  '"User Profiles"': { key: id }
  legacy: { key: id }
  events: { key: at_id }
  readings: { key: device }
  codes: { key: tenant }
  orders: { key: id }
cutover: { reverse: false }
YAML

workload() {
	local i=0
	while [ ! -e "$W/stop" ]; do
		i=$((i + 1))
		psql -X -q -d "$SRC" -c "INSERT INTO orders VALUES (100000 + $i, $i % 100);
			UPDATE orders SET qty = qty + 1 WHERE id = $i * 37 % 5000 + 1" >/dev/null 2>&1
		sleep 0.02
	done
}

expect_rc 0 "$P" apply --yes --until stream "$W/plan.yaml"
workload &
WL=$!
psql_on 0 $DB "
	ALTER TABLE settings ALTER COLUMN price TYPE bigint USING (price * 100)::bigint;
	ALTER TABLE \"User Profiles\" ADD COLUMN tier text NOT NULL DEFAULT 'free';
	ALTER TABLE \"User Profiles\" ADD COLUMN salt float8 DEFAULT random();
	ALTER TABLE legacy DROP COLUMN obsolete;
	ALTER TABLE events ALTER COLUMN level TYPE int;
	ALTER TABLE readings ALTER COLUMN celsius TYPE numeric(6, 1) USING celsius * 9 / 5 + 32;
	ALTER TABLE codes ALTER COLUMN code TYPE bigint" >/dev/null
sleep 0.5

expect_rc 0 "$P" apply --yes --until stream "$W/plan.yaml"
expect_contains "$ERR" 'table public.settings changed on the source; following it: ALTER TABLE "public"."settings" ALTER COLUMN "price" TYPE bigint'
expect_contains "$ERR" 'table public.settings: column "price" retyped on the shards and made the source'"'"'s, row by row (3000 row(s) read once, 3000 changed on the shards)'
# (the volatile default rewrote the table, so tier has no stored missing
# value either: both are filled from the source's rows)
expect_contains "$ERR" 'table public."User Profiles": column "tier" filled on the shards with the source'"'"'s values (4000 row(s)'
expect_contains "$ERR" 'table public."User Profiles": column "salt" filled on the shards with the source'"'"'s values (4000 row(s)'
expect_contains "$ERR" 'ALTER TABLE "public"."legacy" DROP COLUMN "obsolete"'
expect_contains "$ERR" 'table public.events: column "level" was retyped on the source'
expect_contains "$ERR" "pgreshard repair $W/plan.yaml public.events"
# a partitioned table: read and written through its partitions (not ONLY)
expect_contains "$ERR" 'table public.readings: column "celsius" retyped on the shards and made the source'"'"'s, row by row (6020 row(s) read once, '
# a primary key column (not the sharding key): rows are matched by it, so not filled
expect_contains "$ERR" 'table public.codes: primary key column "code" was retyped on the source' 
printf '%s\n' "$ERR" | grep -E "following it|row by row|filled on the shards|no primary key" | sed 's/^/  /'

# exact now, before any change to those tables (verify compares each row's
# text: an old type or column count differs in every row)
expect_rc 0 "$P" verify "$W/plan.yaml"
expect_contains "$OUT" "source and shards match"
for t in settings '"User Profiles"' legacy events readings codes; do
	compare_tables $DB "$t" 0 "1 2" || fail "rows of $t before any change to it"
done

# a rerun finds nothing left to follow
expect_rc 0 "$P" apply --yes --until stream "$W/plan.yaml"
expect_not_contains "$ERR" "following it"
expect_not_contains "$ERR" "row by row"

# events has no primary key to match rows by: its smallint values went into
# int by the cast, as the source's ALTER did (no USING), so it matches anyway
touch "$W/stop"
wait $WL
WL=
# changes after the ALTERs stream into the new columns
psql_on 0 $DB "UPDATE settings SET price = price + 1 WHERE id <= 10;
	INSERT INTO \"User Profiles\" (id, handle, tier) VALUES (gen_random_uuid(), 'late', 'pro');
	UPDATE legacy SET a = 'changed' WHERE id <= 5;
	INSERT INTO events VALUES (99999, 70000, 'wide')" >/dev/null
expect_rc 0 "$P" apply --yes --until stream "$W/plan.yaml"
expect_rc 0 "$P" verify "$W/plan.yaml"
expect_contains "$OUT" "source and shards match"
for t in settings '"User Profiles"' legacy events readings codes orders; do
	compare_tables $DB "$t" 0 "1 2" || fail "rows of $t"
done
for c in 1 2; do
	expect_eq "$(psql_on $c $DB "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'settings'::regclass AND attname = 'price'")" bigint "price's type on cluster $c"
	expect_eq "$(psql_on $c $DB "SELECT count(*) FROM pg_attribute WHERE attrelid = 'legacy'::regclass AND attname = 'obsolete' AND NOT attisdropped")" 0 "obsolete dropped on cluster $c"
done
echo "ok: $(psql_on 0 $DB "SELECT count(*) FROM orders") orders, settings in cents"
