# test_copy_binary.sh — tables copied in COPY's binary format (issue 16,
# runner/copy/copy_binary.c), 1 -> 4.
#
# Values whose text and binary forms differ the most: floats (NaN, ±Infinity,
# -0, denormals, 17 significant digits), numeric NaN and big scales,
# timestamps at ±infinity and before 2000, intervals with months and days,
# bytea with every byte, arrays (multi-dimensional, NULL elements, lower
# bounds other than 1), ranges and multiranges, json and jsonb, inet/cidr,
# bit strings, money, tsvector, text with tabs, newlines, backslashes and
# non-ASCII, an enum and a domain with a CHECK.  Keys: bigint, a generated
# bigint (read for routing, not written), char(6) + varchar (trailing
# blanks), smallint with negative values, uuid (read by shared scans: the
# chunk number travels in front of each row), and a replicated table.  One
# table has an enum[] column, a composite and a citext (their binary forms
# hold OIDs or belong to an extension): copied in text, beside the others.
#
# The oracle is independent of the copy: every table's rows (as text) on the
# source equal the union of the shards', every row is on the shard
# PostgreSQL's hash partitioning gives it, and verify agrees.
set -u
source "$(dirname "$0")/../lib/clusters.sh"
source "$(dirname "$0")/../lib/assert.sh"
source "$(dirname "$0")/../lib/reshard_checks.sh"
P=$PGRESHARD
DB=binarytest
W=$(mktemp -d)
trap 'rm -rf "$W"; drop_db_everywhere $DB' EXIT

fresh_db $DB 0 1 2 3 4
for c in 0 1 2 3 4; do psql_on $c $DB "CREATE EXTENSION IF NOT EXISTS citext" >/dev/null; done
psql_on 0 $DB "
CREATE SCHEMA bt;
CREATE TYPE bt.mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN bt.posnum AS numeric(14, 4) CHECK (VALUE > 0);
CREATE TYPE bt.pair AS (x int, y text);
CREATE TABLE bt.wide (
	id bigint PRIMARY KEY, i2 smallint, i4 int, f4 real, f8 double precision, num numeric, pn bt.posnum,
	ok boolean, t text, vc varchar(40), ch char(5), raw bytea, d date, ts timestamp, tstz timestamptz,
	iv interval, tm time, tmz timetz, u uuid, j json, jb jsonb, ip inet, net cidr, mac macaddr,
	b8 bit(8), vb varbit, m money, tsv tsvector, r int4range, mr tstzmultirange, a int[], ta text[],
	pt point, mood bt.mood, lsn pg_lsn, o oid,
	g bigint GENERATED ALWAYS AS (i4 * 2) STORED);
INSERT INTO bt.wide (id, i2, i4, f4, f8, num, pn, ok, t, vc, ch, raw, d, ts, tstz, iv, tm, tmz, u, j, jb, ip, net, mac,
	b8, vb, m, tsv, r, mr, a, ta, pt, mood, lsn, o)
SELECT g, (g % 65535 - 32767)::smallint, g * 37 - 100000,
	(ARRAY['NaN', 'Infinity', '-Infinity', '-0', '1.17549e-38', '3.4028235e+38', '0.1'])[g % 7 + 1]::real,
	(ARRAY['NaN', 'Infinity', '-Infinity', '-0', '4.9e-324', '0.30000000000000004', '1.7976931348623157e308'])[g % 7 + 1]::float8,
	CASE WHEN g % 11 = 0 THEN 'NaN'::numeric ELSE (g * 1234567.891011)::numeric(40, 13) / 7 END,
	(g % 1000 + 1) / 3.0,
	CASE WHEN g % 3 = 0 THEN NULL ELSE g % 2 = 0 END,
	E'tab\there, newline\nthere, back\\\\slash, Zürich ☃ ' || g,
	'v' || g, (ARRAY['a', 'ab   ', 'abcde', ''])[g % 4 + 1],
	decode(lpad(to_hex(g % 256), 2, '0') || '00ff5c0a09', 'hex'),
	(ARRAY['infinity', '-infinity', '1999-12-31', '4713-01-01 BC', '2024-02-29'])[g % 5 + 1]::date,
	timestamp '1970-01-01' + g * interval '1 hour 17 minutes 3.123456 seconds',
	CASE WHEN g % 9 = 0 THEN 'infinity'::timestamptz ELSE timestamptz '1899-05-06 12:00:00+00' + g * interval '13 days' END,
	make_interval(0, g % 13, 0, g % 40, g % 24, 0, (g % 1000) / 7.0),
	time '00:00:00' + g * interval '1.5 seconds', timetz '23:59:59.999999+05:30',
	md5(g::text)::uuid, ('{\"n\": ' || g || ', \"s\": \"\\u00e9\"}')::json, jsonb_build_object('g', g, 'a', jsonb_build_array(1.5, NULL, 'x')),
	('10.' || g % 256 || '.0.' || g % 200 || '/' || (8 + g % 25))::inet, '192.168.0.0/16', '08:00:2b:01:02:03',
	(g % 256)::bit(8), (g::bit(12))::varbit, (g * 1.25)::money,
	to_tsvector('simple', 'word' || g || ' other ' || g % 10),
	int4range(g, g + g % 5 + 1), tstzmultirange(tstzrange('2024-01-01', '2024-02-01'), tstzrange(now() - interval '1 day', NULL)),
	CASE WHEN g % 4 = 0 THEN '[0:1][1:2]={{1,NULL},{3,4}}'::int[] ELSE ARRAY[g, NULL, -g] END,
	ARRAY['x', NULL, E'q\"uo\\\\te', 'ü'], point(g / 3.0, -g), (ARRAY['sad', 'ok', 'happy'])[g % 3 + 1]::bt.mood,
	(g || '/' || g * 16)::pg_lsn, g::oid
FROM generate_series(1, 3000) g;
CREATE TABLE bt.gkey (a int NOT NULL, k bigint GENERATED ALWAYS AS (a * 7 + 1) STORED, note text, PRIMARY KEY (a));
INSERT INTO bt.gkey (a, note) SELECT g, repeat('n', g % 50) FROM generate_series(1, 2500) g;
CREATE TABLE bt.\"Kompo site\" (tenant char(6), code varchar(30), qty int2, PRIMARY KEY (tenant, code));
INSERT INTO bt.\"Kompo site\" SELECT 't' || g % 37, 'code ' || g || repeat(' ', g % 3), g % 100 FROM generate_series(1, 3000) g;
CREATE TABLE bt.small (id smallint PRIMARY KEY, v text);
INSERT INTO bt.small SELECT g, 'v' || g FROM generate_series(-1500, 1500) g;
CREATE TABLE bt.uu (id uuid PRIMARY KEY, n int, payload text);
INSERT INTO bt.uu SELECT gen_random_uuid(), g, repeat(md5(g::text), 3) FROM generate_series(1, 6000) g;
CREATE TABLE bt.texty (id int PRIMARY KEY, moods bt.mood[], p bt.pair, ci citext);
INSERT INTO bt.texty SELECT g, ARRAY['ok', 'sad']::bt.mood[], ROW(g, 'y' || g)::bt.pair, 'MiXeD ' || g FROM generate_series(1, 1500) g;
CREATE TABLE bt.reps (code text PRIMARY KEY, label text, at timestamptz);
INSERT INTO bt.reps SELECT 'c' || g, 'label ' || g, now() FROM generate_series(1, 200) g;
ANALYZE;
CREATE PUBLICATION pub FOR TABLE bt.wide, bt.gkey, bt.\"Kompo site\", bt.small, bt.uu, bt.texty, bt.reps" >/dev/null

export SRC S0 S1 S2 S3
SRC=$(dsn 0 $DB) S0=$(dsn 1 $DB) S1=$(dsn 2 $DB) S2=$(dsn 3 $DB) S3=$(dsn 4 $DB)
cat >"$W/plan.yaml" <<'YAML'
version: 1
name: binarytest
source: { dsn: "${SRC}", publication: pub }
destination: { shards: ["${S0}", "${S1}", "${S2}", "${S3}"] }
tables:
  bt.wide: { key: id }
  bt.gkey: { key: k }
  'bt."Kompo site"': { key: [tenant, code] }
  bt.small: { key: id }
  bt.uu: { key: id }
  bt.texty: { key: id }
  bt.reps: { replicate: true }
copy: { jobs: 2, chunk_rows: 1000 }
cutover: { mode: manual }
YAML

PGRESHARD_COPY_SHARED_SCAN=on expect_rc 0 "$P" apply --yes --until verify "$W/plan.yaml"
expect_contains "$ERR" "6 of 7 table(s) in binary format"
expect_contains "$ERR" "verify: "

for t in bt.wide bt.gkey 'bt."Kompo site"' bt.small bt.uu bt.texty; do
	compare_tables $DB "$t" 0 "1 2 3 4" || fail "rows of $t"
done
for c in 1 2 3 4; do compare_tables $DB bt.reps 0 "$c" || fail "replicated bt.reps on cluster $c"; done
check_placement $DB bt.wide "id bigint" id 4 1 2 3 4 || fail "placement of bt.wide"
check_placement $DB bt.gkey "k bigint" k 4 1 2 3 4 || fail "placement of bt.gkey (generated key)"
check_placement $DB 'bt."Kompo site"' "tenant char(6), code varchar(30)" "tenant, code" 4 1 2 3 4 ||
	fail "placement of bt.\"Kompo site\""
check_placement $DB bt.small "id smallint" id 4 1 2 3 4 || fail "placement of bt.small"
check_placement $DB bt.uu "id uuid" id 4 1 2 3 4 || fail "placement of bt.uu"
check_placement $DB bt.texty "id int" id 4 1 2 3 4 || fail "placement of bt.texty"
# the generated column was computed by each shard, not copied
expect_eq "$(psql_on 1 $DB "SELECT count(*) FROM bt.gkey WHERE k <> a * 7 + 1")" 0 "generated key on shard 0"

# text and binary give the same bytes: the same table copied in text
PGRESHARD_COPY_FORMAT=text expect_rc 0 "$P" cleanup --drop-data "$W/plan.yaml"
PGRESHARD_COPY_FORMAT=text expect_rc 0 "$P" apply --yes --until copy "$W/plan.yaml"
expect_contains "$ERR" "0 of 7 table(s) in binary format"
for t in bt.wide bt.uu; do
	compare_tables $DB "$t" 0 "1 2 3 4" || fail "rows of $t copied in text"
done
echo ok
