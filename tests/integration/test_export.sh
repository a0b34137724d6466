# test_export.sh — the new cluster handed to the user's stack, and the plan and
# status for CI and monitoring:
#   export fdw   loaded into a fresh database on another cluster after an apply:
#                every moved table read through it equals the source (count and a
#                hash sum), a key lookup's EXPLAIN shows one foreign scan on the
#                key's shard, a row inserted through it lands on that shard;
#                refused for a plan routed by Lua and before the tables exist;
#   export pgdog parsed by a real TOML parser (python3 tomllib): the shards with
#                host, port, database and shard number, the sharded tables with
#                PgDog's data types, the replicated tables, no password; tables
#                PgDog cannot route left out with a warning;
#   plan --markdown  its summary line and tables, names with Markdown specials;
#   status --prometheus  parsed line by line against the exposition format by
#                a small checker below, and its numbers checked.
set -u
source "$(dirname "$0")/../lib/clusters.sh"
source "$(dirname "$0")/../lib/assert.sh"
P=$PGRESHARD
DB=exporttest
ENTRY=exportentry
W=$(mktemp -d)
trap 'rm -rf "$W"; drop_db_everywhere $DB; drop_db_everywhere $ENTRY' EXIT
command -v python3 >/dev/null || fail "python3 is needed (scripts/deps.sh installs it)"

fresh_db $DB 0 1 2 3
psql_on 0 $DB "CREATE SCHEMA app;
	CREATE TYPE app.mood AS ENUM ('ok', 'sad');
	CREATE DOMAIN app.email AS text CHECK (VALUE LIKE '%@%');
	CREATE TABLE users (id bigint PRIMARY KEY, name text, mood app.mood, mail app.email,
		name_len int GENERATED ALWAYS AS (length(name)) STORED);
	CREATE TABLE app.\"Order Items\" (tenant_id int, id bigint, \"select\" text, \"Qty \"\"x\"\"\" numeric,
		PRIMARY KEY (tenant_id, id));
	CREATE TABLE tags (code varchar(20) PRIMARY KEY, label text);
	CREATE TABLE devices (uid uuid PRIMARY KEY, seen timestamptz);
	CREATE TABLE codes (c char(4) PRIMARY KEY, n int);
	CREATE TABLE countries (code text PRIMARY KEY, name text);
	CREATE TABLE \"Prices|EUR\" (id int PRIMARY KEY, amount numeric);
	CREATE TABLE \"Café Größe\" (\"Schlüssel\" smallint PRIMARY KEY, wert text);
	INSERT INTO users (id, name, mood, mail) SELECT g, 'user ' || g, CASE WHEN g % 3 = 0 THEN 'sad' ELSE 'ok' END::app.mood,
		'u' || g || '@x.org' FROM generate_series(1, 3000) g;
	INSERT INTO app.\"Order Items\" SELECT g % 7, g, 'it''s ' || g, g * 1.5 FROM generate_series(1, 2000) g;
	INSERT INTO tags SELECT 'tag' || g, 'label ' || g FROM generate_series(1, 500) g;
	INSERT INTO devices SELECT md5(g::text)::uuid, now() FROM generate_series(1, 500) g;
	INSERT INTO codes SELECT lpad(g::text, 4, '0'), g FROM generate_series(1, 100) g;
	INSERT INTO countries VALUES ('fr', 'France'), ('de', 'Germany'), ('it', 'Italy');
	INSERT INTO \"Prices|EUR\" VALUES (1, 9.99), (2, 19.99);
	INSERT INTO \"Café Größe\" SELECT g, 'ü' || g FROM generate_series(1, 300) g;
	ANALYZE;
	CREATE PUBLICATION pub FOR TABLE users, app.\"Order Items\", tags, devices, codes, countries, \"Prices|EUR\",
		\"Café Größe\"" >/dev/null
export SRC S0 S1 S2
SRC=$(dsn 0 $DB) S0=$(dsn 1 $DB) S1=$(dsn 2 $DB) S2=$(dsn 3 $DB)
cat >"$W/plan.yaml" <<'YAML'
version: 1
name: exporttest
source: { dsn: "${SRC}", publication: pub }
destination: { shards: ["${S0}", "${S1}", "${S2}"] }
tables:
  public.users: { key: id }
  'app."Order Items"': { key: [tenant_id, id] }
  public.tags: { key: code }
  public.devices: { key: uid }
  public.codes: { key: c }
  public.countries: { replicate: true }
  '"Prices|EUR"': { replicate: true }
  '"Café Größe"': { key: '"Schlüssel"' }
copy: { jobs: 2 }
cutover: { reverse: false }
YAML
MOVED=(public.users 'app."Order Items"' public.tags public.devices public.codes public.countries 'public."Prices|EUR"' 'public."Café Größe"')

# The exposition-format checker: every line is a HELP, a TYPE or a sample; each
# family has one HELP and one TYPE before its samples, which are contiguous;
# names, label names and escapes as the format defines them; no series twice.
# Prints each sample as NAME|label=value|... VALUE (labels sorted) for the checks.
cat >"$W/promcheck.py" <<'PY'
import re, sys
NAME = r'[a-zA-Z_:][a-zA-Z0-9_:]*'
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*'
VALUE = r'(?:[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[+-]?Inf|NaN)'
help_, type_, seen, done, out = {}, {}, set(), set(), []
current = None
def bad(n, msg, line):
    sys.exit(f"line {n}: {msg}: {line!r}")
def labels(n, text, line):
    res, i = {}, 0
    while i < len(text):
        m = re.match(LABEL + r'="', text[i:])
        if not m: bad(n, "bad label name", line)
        key, i, val = m.group(0)[:-2], i + m.end(), ''
        while True:
            if i >= len(text): bad(n, "unterminated label value", line)
            c = text[i]
            if c == '\\':
                nxt = text[i + 1:i + 2]
                if nxt not in ('\\', '"', 'n'): bad(n, "bad escape in a label value", line)
                val += {'\\': '\\', '"': '"', 'n': '\n'}[nxt]; i += 2
            elif c == '"': i += 1; break
            elif c == '\n': bad(n, "newline in a label value", line)
            else: val += c; i += 1
        if key in res: bad(n, "label twice", line)
        res[key] = val
        if i < len(text):
            if text[i] != ',': bad(n, "expected , between labels", line)
            i += 1
    return res
data = sys.stdin.read()
if not data.endswith('\n'): sys.exit("the exposition must end with a newline")
for n, line in enumerate(data.split('\n')[:-1], 1):
    if line.startswith('#'):
        m = re.fullmatch(r'# (HELP|TYPE) (' + NAME + r') (.*)', line)
        if not m:
            if line.startswith('# HELP') or line.startswith('# TYPE'): bad(n, "malformed HELP/TYPE", line)
            continue
        kind, name, rest = m.groups()
        if name in done: bad(n, "family continued after another one", line)
        table = help_ if kind == 'HELP' else type_
        if name in table: bad(n, kind + " twice", line)
        if kind == 'TYPE' and rest not in ('counter', 'gauge', 'histogram', 'summary', 'untyped'): bad(n, "unknown type", line)
        if kind == 'HELP' and re.search(r'\\[^\\n]', rest): bad(n, "bad escape in HELP", line)
        if name in {s.split('|')[0] for s in seen}: bad(n, kind + " after samples", line)
        table[name] = rest
        if current and current != name: done.add(current)
        current = name
        continue
    m = re.fullmatch(r'(' + NAME + r')(?:\{(.*)\})? (' + VALUE + r')(?: -?[0-9]+)?', line)
    if not m: bad(n, "not a sample", line)
    name, lab, value = m.groups()
    if name in done: bad(n, "samples of a family are not together", line)
    if name not in type_ or name not in help_: bad(n, "sample before its HELP and TYPE", line)
    if current and current != name: done.add(current)
    current = name
    lab = labels(n, lab, line) if lab else {}
    key = name + ''.join(f'|{k}={v}' for k, v in sorted(lab.items()))
    if key in seen: bad(n, "the same series twice", line)
    seen.add(key)
    out.append(f"{key} {value}")
for name in type_:
    if name not in help_: sys.exit(f"{name}: TYPE without HELP")
print('\n'.join(out))
PY
prom() { "$P" status --prometheus "$W/plan.yaml" >"$W/prom.txt" || fail "status --prometheus exit $?";
	python3 "$W/promcheck.py" <"$W/prom.txt" >"$W/prom.parsed" || { cat "$W/prom.txt" >&2; fail "the exposition does not parse"; }; }
metric() { grep -F -x -- "$1" "$W/prom.parsed" >/dev/null || { cat "$W/prom.parsed" >&2; fail "no sample [$1]"; }; }
metric_value() { awk -v k="$1" '$1 == k { print $2 }' "$W/prom.parsed"; }

# the checker itself rejects what it must
printf 'x{plan="a"} 1\n' | python3 "$W/promcheck.py" >/dev/null 2>&1 && fail "checker: sample without TYPE accepted"
printf '# HELP x h\n# TYPE x gauge\nx{plan="a\\q"} 1\n' | python3 "$W/promcheck.py" >/dev/null 2>&1 && fail "checker: bad escape accepted"
printf '# HELP x h\n# TYPE x gauge\nx{plan="a"} 1\nx{plan="a"} 2\n' | python3 "$W/promcheck.py" >/dev/null 2>&1 && fail "checker: duplicate accepted"
printf '# HELP x h\n# TYPE x gauge\nx 1\n# HELP y h\n# TYPE y gauge\ny 1\nx 2\n' | python3 "$W/promcheck.py" >/dev/null 2>&1 && fail "checker: split family accepted"
printf '# HELP x h\n# TYPE x gauge\nx{plan="a \\"q\\" \\\\ \\n"} 1.5e3\n' | python3 "$W/promcheck.py" >/dev/null || fail "checker: valid escapes refused"

# --- usage
expect_rc 2 "$P" export
expect_rc 2 "$P" export csv "$W/plan.yaml"
expect_rc 2 "$P" export pgdog
expect_rc 2 "$P" plan --json --markdown "$W/plan.yaml"
expect_rc 2 "$P" status --json --prometheus "$W/plan.yaml"
expect_rc 0 "$P" export --help
expect_contains "$OUT" "export pgdog|fdw PLAN.yaml"
expect_rc 0 "$P" --help
expect_contains "$OUT" "pgreshard export pgdog|fdw PLAN.yaml"
expect_contains "$OUT" "[--json|--markdown]"
expect_contains "$OUT" "[--json|--prometheus]"

# --- plan --markdown before the apply
expect_rc 0 "$P" plan --markdown "$W/plan.yaml"
MD=$OUT
expect_contains "$MD" '### pgreshard plan `exporttest`'
expect_contains "$MD" '**Plan OK**: 8 tables, 1 source → 3 shards; 0 errors,'
expect_contains "$MD" '`apply` would run 9 of 9 steps.'
expect_contains "$MD" $'#### Steps\n\n| # | step | state | what it does |\n|---:|---|---|---|\n| 1 | preflight | to do |'
expect_contains "$MD" '| 9 | finish | to do |'
expect_contains "$MD" $'| table | key | rows (estimate) | size |\n|---|---|---:|---:|\n| public.users | id (bigint) | 3000 |'
expect_contains "$MD" '| app."Order Items" | (tenant\_id, id) |'
expect_contains "$MD" '| public."Prices\|EUR" | replicated |'
expect_contains "$MD" $'| table | shard 0 | shard 1 | shard 2 |\n|---|---:|---:|---:|\n| public.users |'
expect_contains "$MD" '| public.countries (replicated) | 3 | 3 | 3 |'
expect_contains "$MD" '| **total** |'
expect_contains "$MD" '#### Findings'
# every table row has as many cells as its header (an unescaped | would add one)
python3 - "$MD" <<'PY' || fail "markdown tables are ragged"
import sys, re
cols = None
for line in sys.argv[1].split('\n'):
    if not line.startswith('|'):
        cols = None; continue
    n = len(re.findall(r'(?<!\\)\|', line)) - 1
    if cols is None: cols = n
    elif n != cols: sys.exit(f"{n} cells, header has {cols}: {line}")
PY
# a plan with an error: still rendered, the error in the findings table, exit 1
sed -e 's/^  public.codes: { key: c }/&\n  public.nosuch: { key: id }/' "$W/plan.yaml" >"$W/bad.yaml"
expect_rc 1 "$P" plan --markdown "$W/bad.yaml"
expect_contains "$OUT" '**Plan refused**: 9 tables, 1 source → 3 shards; '
expect_contains "$OUT" '`apply` would refuse it.'
expect_contains "$OUT" $'| severity | where | finding | fix |\n|---|---|---|---|\n'
grep -q '^| \*\*error\*\* | .*bad.yaml:[0-9]*:[0-9]* | .*public.nosuch' <<<"$OUT" || fail "the error finding row: $OUT"
expect_rc 0 "$P" status --prometheus "$W/plan.yaml"
expect_eq "$OUT" $'# HELP pgreshard_applied 1 when a run of the plan exists (its state is on shard 0), else 0.\n# TYPE pgreshard_applied gauge\npgreshard_applied{plan="exporttest"} 0' "prometheus before any apply"

# --- before the apply: fdw refused (the shards have no tables), pgdog already works
expect_rc 1 "$P" export fdw "$W/plan.yaml"
expect_contains "$ERR" "run \`pgreshard apply\`"
expect_eq "$OUT" "" "fdw stdout when refused"

# --- mid-way: streaming, the lag and the slot's retained WAL
expect_rc 0 "$P" apply --yes --until copy "$W/plan.yaml"
psql_on 0 $DB "INSERT INTO users (id, name) SELECT g, 'late' FROM generate_series(100001, 100250) g" >/dev/null
expect_rc 0 "$P" apply --yes --until stream "$W/plan.yaml"
psql_on 0 $DB "INSERT INTO users (id, name) SELECT g, 'later' FROM generate_series(100251, 100500) g" >/dev/null
prom
metric 'pgreshard_applied|plan=exporttest 1'
metric 'pgreshard_step_state|plan=exporttest|state=done|step=copy 1'
metric 'pgreshard_step_state|plan=exporttest|state=pending|step=copy 0'
metric 'pgreshard_step_state|plan=exporttest|state=pending|step=cutover 1'
metric 'pgreshard_copy_rows_done|plan=exporttest|table=public.users 3000'
metric 'pgreshard_copy_rows_done|plan=exporttest|table=public.countries 9'
metric 'pgreshard_copy_rows_done|plan=exporttest|table=public."Prices|EUR" 6'
metric 'pgreshard_copy_rows_done|plan=exporttest|table=app."Order Items" 2000'
metric 'pgreshard_copy_rows_done|plan=exporttest|table=public."Café Größe" 300'
metric 'pgreshard_source_up|plan=exporttest|source=0 1'
metric 'pgreshard_slot_exists|plan=exporttest|slot=pgreshard_exporttest|source=0 1'
metric 'pgreshard_lock_held|plan=exporttest 0'
[ "$(metric_value 'pgreshard_copy_bytes_done|plan=exporttest|table=public.users')" -gt 50000 ] || fail "copy bytes done"
[ "$(metric_value 'pgreshard_copy_bytes_expected|plan=exporttest|table=public.users')" -gt 50000 ] || fail "copy bytes expected"
[ "$(metric_value 'pgreshard_stream_lag_bytes|direction=forward|plan=exporttest|source=0')" -gt 0 ] || fail "lag bytes after source writes"
[ "$(metric_value 'pgreshard_slot_retained_wal_bytes|plan=exporttest|slot=pgreshard_exporttest|source=0')" -gt 0 ] ||
	fail "retained WAL"
grep -q '^pgreshard_stream_lag_seconds|direction=forward|plan=exporttest|source=0 ' "$W/prom.parsed" || fail "lag seconds"
# the same numbers as status --json
expect_rc 0 "$P" status --json "$W/plan.yaml"
expect_eq "$(printf '%s' "$OUT" | jq '.copy.tables[0].bytes_copied')" \
	"$(metric_value 'pgreshard_copy_bytes_done|plan=exporttest|table=public.users')" "bytes_copied in json and prometheus"
[ "$(printf '%s' "$OUT" | jq '.stream.sources[0].retained_wal_bytes')" -gt 0 ] || fail "retained_wal_bytes in json"

# --- the whole apply (cutover included)
expect_rc 0 "$P" apply --yes "$W/plan.yaml"
prom
metric 'pgreshard_step_state|plan=exporttest|state=done|step=finish 1'
metric 'pgreshard_copy_rows_done|plan=exporttest|table=public.users 3000'
metric 'pgreshard_verify_differences|plan=exporttest|shard=2|table=app."Order Items" 0'
metric 'pgreshard_cutover_attempts|plan=exporttest 1'
metric 'pgreshard_source_up|plan=exporttest|source=0 1'
metric 'pgreshard_slot_exists|plan=exporttest|slot=pgreshard_exporttest|source=0 0'
grep -q '^pgreshard_cutover_last_freeze_seconds|outcome=done|plan=exporttest [0-9.e+-]*$' "$W/prom.parsed" || fail "freeze seconds"
SRC="host=127.0.0.1 port=1 dbname=x user=postgres connect_timeout=2"
prom
metric 'pgreshard_source_up|plan=exporttest|source=0 0'
grep -q '^pgreshard_slot_exists' "$W/prom.parsed" && fail "slot_exists with the source down"
grep -q '^pgreshard_copy_bytes_expected' "$W/prom.parsed" && fail "bytes expected with the source down"
metric 'pgreshard_copy_rows_done|plan=exporttest|table=public.users 3000'
SRC=$(dsn 0 $DB)
expect_rc 0 "$P" plan --markdown --detailed-exitcode "$W/plan.yaml"
expect_contains "$OUT" 'already applied: `apply` has nothing to do.'
expect_contains "$OUT" '| 4 | copy | done |'

# --- export fdw into a fresh database on cluster 5
expect_rc 0 "$P" export fdw "$W/plan.yaml"
FDW=$OUT
printf '%s\n' "$FDW" >"$W/fdw.sql"
expect_contains "$FDW" 'PARTITION BY HASH ("tenant_id", "id");'
expect_contains "$FDW" 'FOR VALUES WITH (MODULUS 3, REMAINDER 2)'
expect_contains "$FDW" 'CREATE TYPE app.mood'
fresh_db $ENTRY 5
psql -X -q -v ON_ERROR_STOP=1 -d "$(dsn 5 $ENTRY)" -f "$W/fdw.sql" >"$W/load.log" 2>&1 || { cat "$W/load.log"; fail "loading the fdw script"; }
on_entry() { PGOPTIONS="-c client_min_messages=warning" psql -X -q -At -v ON_ERROR_STOP=1 -d "$(dsn 5 $ENTRY)" -c "$1"; }
for t in "${MOVED[@]}"; do
	q="SELECT count(*) || ' ' || coalesce(sum(hashtext(x::text)::numeric), 0) FROM $t x"
	expect_eq "$(on_entry "$q")" "$(psql_on 0 $DB "$q")" "$t read through the fdw entry point"
done
expect_eq "$(on_entry "SELECT count(*) FROM users WHERE id > 100000")" 500 "rows streamed after the copy, through the entry point"
# every row each foreign partition holds satisfies that partition's bound (the bounds are
# exact); the rows are fetched first (MATERIALIZED) so the check runs on the entry database
for k in 0 1 2; do
	expect_eq "$(on_entry "WITH r AS MATERIALIZED (SELECT id FROM public.users_shard_$k)
		SELECT count(*) FILTER (WHERE NOT satisfies_hash_partition('public.users'::regclass, 3, $k, id))
		|| '/' || count(*) FROM r")" "0/$(psql_on $((k + 1)) $DB "SELECT count(*) FROM users")" \
		"users rows outside the bound of users_shard_$k"
	expect_eq "$(on_entry "WITH r AS MATERIALIZED (SELECT tenant_id, id FROM app.\"Order Items_shard_$k\")
		SELECT count(*) FILTER (WHERE NOT satisfies_hash_partition('app.\"Order Items\"'::regclass, 3, $k, tenant_id, id))
		FROM r")" 0 "Order Items rows outside the bound of shard $k"
done
lookup() {	# SQL, expected partition
	local plan
	plan=$(on_entry "EXPLAIN (COSTS OFF) $1")
	expect_eq "$(grep -c 'Foreign Scan' <<<"$plan")" 1 "foreign scans for: $1 ($plan)"
	expect_contains "$plan" "$2"
}
lookup "SELECT * FROM users WHERE id = 42" "users_shard_$("$P" shard-of "$W/plan.yaml" public.users 42)"
lookup "SELECT * FROM app.\"Order Items\" WHERE tenant_id = 3 AND id = 1000" \
	"Order Items_shard_$("$P" shard-of "$W/plan.yaml" 'app."Order Items"' 3 1000)"
lookup "SELECT * FROM tags WHERE code = 'tag7'" "tags_shard_$("$P" shard-of "$W/plan.yaml" public.tags tag7)"
lookup "SELECT * FROM countries WHERE code = 'fr'" "countries"
lookup "SELECT * FROM \"Café Größe\" WHERE \"Schlüssel\" = 17" \
	"Café Größe_shard_$("$P" shard-of "$W/plan.yaml" 'public."Café Größe"' 17)"
# a row written through the entry point lands on its key's shard, the generated column computed
on_entry "INSERT INTO users (id, name, mood, mail) VALUES (777777, 'via fdw', 'ok', 'v@x.org')" >/dev/null ||
	fail "insert through the entry point"
shard=$("$P" shard-of "$W/plan.yaml" public.users 777777)
expect_eq "$(psql_on $((shard + 1)) $DB "SELECT name || ' ' || name_len FROM users WHERE id = 777777")" "via fdw 7" \
	"the inserted row on shard $shard"
# other columns update through it; a key change is refused (postgres_fdw would
# leave the row on its old shard), whether or not the new key's shard differs
expect_rc 0 on_entry "UPDATE users SET name = 'renamed' WHERE id = 777777"
expect_eq "$(psql_on $((shard + 1)) $DB "SELECT name || ' ' || name_len FROM users WHERE id = 777777")" "renamed 7" \
	"the updated row on shard $shard"
for new in 777778 777779 777780; do
	expect_rc 1 on_entry "UPDATE users SET id = $new WHERE id = 777777"
	expect_contains "$ERR" "the sharding key cannot change through the postgres_fdw entry point"
done
expect_rc 1 on_entry "UPDATE app.\"Order Items\" SET tenant_id = tenant_id + 1 WHERE id = 5"
expect_contains "$ERR" 'pgreshard: app."Order Items": the sharding key cannot change'
expect_eq "$(on_entry "SELECT count(*) FROM users WHERE id = 777777")" 1 "the row after refused key changes"

# --- credentials: psql variables, never a password in the script
psql_on 0 postgres "DROP ROLE IF EXISTS pgr_export; CREATE ROLE pgr_export SUPERUSER LOGIN PASSWORD 'Exp0rt-secret'" >/dev/null
for c in 1 2 3; do psql_on $c postgres "DROP ROLE IF EXISTS pgr_export; CREATE ROLE pgr_export SUPERUSER LOGIN PASSWORD 'Exp0rt-secret'" >/dev/null; done
S0="$(tcp_dsn 1 $DB pgr_export) password=Exp0rt-secret"
S2="postgresql://pgr_export:Exp0rt-secret@127.0.0.1:$(cluster_port 3)/$DB"
expect_rc 0 "$P" export fdw "$W/plan.yaml"
expect_not_contains "$OUT$ERR" "Exp0rt-secret"
expect_contains "$OUT" "\\set shard0_user 'pgr_export'"
expect_contains "$OUT" "password :'shard0_password'"
printf '%s\n' "$OUT" >"$W/fdw_pw.sql"
fresh_db $ENTRY 5
psql -X -q -v ON_ERROR_STOP=1 -v shard0_password=Exp0rt-secret -v shard2_password=Exp0rt-secret \
	-d "$(dsn 5 $ENTRY)" -f "$W/fdw_pw.sql" >"$W/load.log" 2>&1 || { cat "$W/load.log"; fail "loading the fdw script with passwords"; }
expect_eq "$(on_entry "SELECT count(*) FROM users")" 3501 "users through the password mappings"

# --- export pgdog: real TOML, the shards, the tables, no password
expect_rc 0 "$P" export pgdog "$W/plan.yaml"
expect_not_contains "$OUT$ERR" "Exp0rt-secret"
expect_contains "$ERR" 'app."Order Items" left out: its key has 2 columns'
expect_contains "$ERR" 'public.codes left out: key column "c" has type character(4)'
printf '%s\n' "$OUT" >"$W/pgdog.toml"
expect_contains "$OUT" "# PgDog configuration (pgdog.toml) for the cluster of pgreshard plan exporttest"
python3 - "$W/pgdog.toml" "$PGR_TEST_ROOT/sock" "$PGR_PORT_BASE" <<'PY' || fail "pgdog.toml: $(cat "$W/pgdog.toml")"
import sys, tomllib
with open(sys.argv[1], 'rb') as f:
    cfg = tomllib.load(f)
sock, base = sys.argv[2], int(sys.argv[3])
dbs = cfg['databases']
assert [d['shard'] for d in dbs] == [0, 1, 2], dbs
assert all(d['name'] == 'exporttest' and d['database_name'] == 'exporttest' for d in dbs), dbs
assert (dbs[0]['host'], dbs[0]['port'], dbs[0]['user']) == ('127.0.0.1', base + 1, 'pgr_export'), dbs[0]
assert (dbs[1]['host'], dbs[1]['port'], dbs[1]['user']) == (sock, base + 2, 'postgres'), dbs[1]
assert (dbs[2]['host'], dbs[2]['port'], dbs[2]['user']) == ('127.0.0.1', base + 3, 'pgr_export'), dbs[2]
assert not any('password' in d for d in dbs), dbs
st = {(t['schema'], t['name']): t for t in cfg['sharded_tables']}
assert set(st) == {('public', 'users'), ('public', 'tags'), ('public', 'devices'), ('public', 'Café Größe')}, st
assert (st[('public', 'Café Größe')]['column'], st[('public', 'Café Größe')]['data_type']) == ('Schlüssel', 'bigint')
assert [st[k]['column'] for k in [('public', 'users'), ('public', 'tags'), ('public', 'devices')]] == ['id', 'code', 'uid']
assert [st[k]['data_type'] for k in [('public', 'users'), ('public', 'tags'), ('public', 'devices')]] == ['bigint', 'varchar', 'uuid']
assert all(t['database'] == 'exporttest' for t in st.values())
omni = cfg['omnisharded_tables']
assert omni == [{'database': 'exporttest', 'tables': ['countries', 'Prices|EUR']}], omni
PY

# --- Lua routing: fdw refused with the reason, pgdog leaves every sharded table out
mkdir -p "$W/lua"
printf 'function route(t, row, n) return 0 end\n' >"$W/lua/h.lua"
sed -e 's/^copy:.*/sharding: { function: lua }\nhooks: { file: lua\/h.lua, route: route }/' "$W/plan.yaml" >"$W/lua.yaml"
expect_rc 1 "$P" export fdw "$W/lua.yaml"
expect_contains "$ERR" "Lua hook"
expect_eq "$OUT" "" "fdw stdout for a Lua plan"
expect_rc 0 "$P" export pgdog "$W/lua.yaml"
grep -qx '\[\[sharded_tables\]\]' <<<"$OUT" && fail "a sharded table of a Lua plan in the PgDog config"
expect_contains "$OUT" "[[omnisharded_tables]]"
expect_contains "$ERR" "public.users left out: routed by a Lua hook"
echo "test_export: ok"
