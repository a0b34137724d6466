# test_lua_hooks.sh — Lua hooks end to end, with the examples in lua/examples and their
# plans in plans/: tenant pinning (copy, stream with rows moving between tenants and
# TOASTed values, verify, tampering, and a cutover frozen by on_freeze with a Lua switch
# and step hooks), range routing by date, and email validation in stop and report modes,
# in the copy and in the stream.  Placement is checked with SQL against each rule.
set -u
source "$(dirname "$0")/../lib/clusters.sh"
source "$(dirname "$0")/../lib/assert.sh"
P=$PGRESHARD
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
W=$(mktemp -d)
trap 'rm -rf "$W"; for d in luatenant luarange luaemail; do drop_db_everywhere $d; done' EXIT

# ---------------------------------------------------------------- tenant pinning
DB=luatenant
fresh_db $DB 0 1 2 3
psql_on 0 $DB "
CREATE TABLE tenants (id bigint PRIMARY KEY, name text NOT NULL);
CREATE TABLE projects (id bigint PRIMARY KEY, tenant_id bigint NOT NULL, name text);
CREATE TABLE tasks (id bigserial PRIMARY KEY, tenant_id bigint NOT NULL, project_id bigint,
                    title text, body text);
ALTER TABLE tasks ALTER COLUMN body SET STORAGE EXTERNAL;
CREATE TABLE plans (id int PRIMARY KEY, name text);
INSERT INTO plans VALUES (1, 'free'), (2, 'pro');
INSERT INTO tenants SELECT t, 'tenant ' || t FROM generate_series(1, 30) t;
INSERT INTO projects SELECT p, 1 + p % 30, 'project ' || p FROM generate_series(1, 300) p;
INSERT INTO tasks (tenant_id, project_id, title, body)
  SELECT 1 + i % 30, 1 + i % 300, 'task ' || i, CASE WHEN i % 50 = 0 THEN repeat(md5(i::text), 200) END
  FROM generate_series(1, 6000) i;
CREATE SCHEMA chk;
CREATE TABLE chk.p8 (k bigint) PARTITION BY HASH (k);" >/dev/null
# on shard 0 only: the table the switch hook writes (not part of the plan)
psql_on 1 $DB "CREATE TABLE app_config (k text PRIMARY KEY, v text)" >/dev/null

export TENANT_SOURCE TENANT_SHARD0 TENANT_SHARD1 TENANT_SHARD2
TENANT_SOURCE=$(dsn 0 $DB) TENANT_SHARD0=$(dsn 1 $DB) TENANT_SHARD1=$(dsn 2 $DB) TENANT_SHARD2=$(dsn 3 $DB)
PLAN=$ROOT/plans/tenant_pinning.yaml

expect_rc 0 "$P" shard-of "$PLAN" public.tasks 1
expect_eq "$OUT" 0 "tenant 1 is pinned to shard 0"
expect_rc 0 "$P" shard-of "$PLAN" public.tenants 3
expect_eq "$OUT" 1 "tenant 3 is pinned to shard 1"

expect_rc 0 "$P" apply "$PLAN" --until copy --yes

# changes while the copy is done: inserts, rows moving between tenants (the key is
# outside the replica identity), a TOASTed body kept while its row moves, deletes,
# and a transaction larger than the stream's memory buffer
psql_on 0 $DB "
INSERT INTO tasks (tenant_id, project_id, title) SELECT 1 + i % 30, 1, 'late ' || i FROM generate_series(1, 500) i;
UPDATE tasks SET tenant_id = 1 + (tenant_id + 6) % 30 WHERE id % 7 = 0;
UPDATE tasks SET tenant_id = 2, title = title || ' moved' WHERE body IS NOT NULL AND id % 100 = 0;
UPDATE projects SET tenant_id = 3 WHERE id % 11 = 0;
DELETE FROM tasks WHERE id % 13 = 0;
INSERT INTO tenants VALUES (31, 'newcomer');
BEGIN;
INSERT INTO tasks (tenant_id, title, body) SELECT 31, 'bulk', repeat('x', 2000) FROM generate_series(1, 20000);
COMMIT;" >/dev/null
expect_rc 0 "$P" apply "$PLAN" --until stream --yes

# placement: every row on the shard the rule gives its tenant
declare -a ON
for s in 0 1 2; do
	ON[$s]=$(psql_on 0 $DB "SELECT coalesce(string_agg(t::text, ','), '0') FROM generate_series(1, 31) t
	  WHERE $s = CASE WHEN t = 1 THEN 0 WHEN t IN (2, 3) THEN 1
	            ELSE (SELECT r FROM generate_series(0, 2) r WHERE satisfies_hash_partition('chk.p8'::regclass, 3, r, t::bigint)) END")
done
expect_contains ",${ON[0]}," ",1,"
for s in 0 1 2; do
	c=$((s + 1))
	expect_eq "$(psql_on $c $DB "SELECT count(*) FROM tasks WHERE tenant_id NOT IN (${ON[$s]})")" 0 "tasks on shard $s"
	expect_eq "$(psql_on $c $DB "SELECT count(*) FROM projects WHERE tenant_id NOT IN (${ON[$s]})")" 0 "projects on shard $s"
	expect_eq "$(psql_on $c $DB "SELECT count(*) FROM tenants WHERE id NOT IN (${ON[$s]})")" 0 "tenants on shard $s"
	expect_eq "$(psql_on $c $DB "SELECT count(*) FROM plans")" 2 "plans replicated to shard $s"
done
for t in tenants projects tasks; do
	compare_tables $DB $t 0 "1 2 3" || fail "table $t differs after the stream"
done
expect_eq "$(psql_on 2 $DB "SELECT count(*) FROM tasks WHERE title LIKE '% moved' AND length(body) = 6400")" \
	"$(psql_on 0 $DB "SELECT count(*) FROM tasks WHERE title LIKE '% moved' AND length(body) = 6400")" \
	"moved rows kept their TOASTed body"

# verify routes each row with the hook; a row on the wrong shard is found
expect_rc 0 "$P" verify "$PLAN"
psql_on 3 $DB "INSERT INTO tasks (id, tenant_id, title) VALUES (999999, 1, 'stray')" >/dev/null
expect_rc 4 "$P" verify "$PLAN"
expect_contains "$ERR$OUT" "misplaced"
expect_contains "$ERR$OUT" "999999"
psql_on 3 $DB "DELETE FROM tasks WHERE id = 999999" >/dev/null

# the cutover with the example's routing plus freeze and switch hooks, and step hooks
cat "$ROOT/lua/examples/tenant_pinning.lua" - >"$W/hooks.lua" <<'LUA'
function log_before(step) pgreshard.log("before " .. step) end
function log_after(step, result)
  pgreshard.log("after " .. step .. " ok=" .. tostring(result.ok))
end
function freeze_writes(ctx)
  ctx.exec_source(0, "BEGIN")
  for _, t in ipairs(ctx.tables) do
    ctx.exec_source(0, "LOCK TABLE " .. t .. " IN EXCLUSIVE MODE")
  end
  local rows = ctx.exec_source(0, "SELECT count(*) AS n FROM pg_locks WHERE pid = pg_backend_pid() AND mode = $1", "ExclusiveLock")
  pgreshard.log("locked " .. rows[1].n .. " tables")
end
function unfreeze(ctx) ctx.exec_source(0, "ROLLBACK") end
function switch_traffic(ctx)
  ctx.exec_shard(0, "INSERT INTO app_config VALUES ('target', $1) ON CONFLICT (k) DO UPDATE SET v = excluded.v",
                 "shards of " .. ctx.plan_name .. " at " .. ctx.fence_lsn)
end
LUA
sed -e "s|file: ../lua/examples/tenant_pinning.lua|file: $W/hooks.lua|" \
	-e 's|^  route: route_by_tenant$|&\n  before_step: log_before\n  after_step: log_after\n  on_freeze: freeze_writes\n  on_unfreeze: unfreeze|' \
	"$PLAN" >"$W/cutover.yaml"
cat >>"$W/cutover.yaml" <<'YAML'
cutover:
  reverse: false
  freeze: hook
  switch: switch_traffic
  verify: true
  timeout_s: 30
YAML
psql_on 0 $DB "INSERT INTO tasks (tenant_id, title) VALUES (5, 'just before the cutover')" >/dev/null
expect_rc 0 "$P" apply "$W/cutover.yaml" --yes
expect_contains "$ERR" "before verify"
expect_contains "$ERR" "after preflight ok=true"
expect_contains "$ERR" "after cutover ok=true"
expect_contains "$ERR" "locked"
expect_eq "$(psql_on 1 $DB "SELECT v LIKE 'shards of tenant_pinning at %/%' FROM app_config WHERE k = 'target'")" t "the switch hook ran"
compare_tables $DB tasks 0 "1 2 3" || fail "tasks differ after the cutover"
expect_eq "$(psql_on 0 $DB "SELECT count(*) FROM pg_replication_slots")" 0 "no slot left"
run psql_on 0 $DB "INSERT INTO tasks (tenant_id, title) VALUES (1, 'too late')"
[ "$RC" -ne 0 ] || fail "the source still accepts writes to a moved table"
expect_contains "$ERR" "moved to shards"

# ---------------------------------------------------------------- ranges by date
DB=luarange
fresh_db $DB 0 1 2 3 4
psql_on 0 $DB "
CREATE TABLE events (id bigint PRIMARY KEY, created_at timestamptz, payload text);
INSERT INTO events SELECT i, timestamptz '2023-06-01 00:00+00' + i * interval '1 hour', 'e' || i
  FROM generate_series(1, 30000) i;
INSERT INTO events VALUES (0, NULL, 'undated');
ANALYZE events;" >/dev/null
export RANGE_SOURCE RANGE_SHARD0 RANGE_SHARD1 RANGE_SHARD2 RANGE_SHARD3
RANGE_SOURCE=$(dsn 0 $DB) RANGE_SHARD0=$(dsn 1 $DB) RANGE_SHARD1=$(dsn 2 $DB)
RANGE_SHARD2=$(dsn 3 $DB) RANGE_SHARD3=$(dsn 4 $DB)
PLAN=$ROOT/plans/date_ranges.yaml
rule="CASE WHEN created_at IS NULL OR created_at < '2024-01-01' THEN 0 WHEN created_at < '2025-01-01' THEN 1
           WHEN created_at < '2026-01-01' THEN 2 ELSE 3 END"
# the distribution preview routes its sample with the hook
expect_rc 0 "$P" plan "$PLAN" --json
expect_eq "$(jq -r '.tables[0].sampled' <<<"$OUT")" true "the preview sampled through the Lua route"
for s in 0 1 2 3; do
	est=$(jq -r ".tables[0].shards[$s].rows" <<<"$OUT")
	real=$(psql_on 0 $DB "SET timezone = 'UTC'; SELECT count(*) FROM events WHERE $rule = $s")
	awk -v e="$est" -v r="$real" 'BEGIN { exit !(e >= r * 0.9 && e <= r * 1.1) }' ||
		fail "preview for shard $s: $est rows estimated, $real real"
done
expect_rc 0 "$P" apply "$PLAN" --until copy --yes
psql_on 0 $DB "
INSERT INTO events VALUES (40000, '2027-01-01 00:00+00', 'future'), (40001, '2024-02-02 00:00+00', 'x');
UPDATE events SET created_at = '2025-07-01 00:00+00' WHERE id = 1;   -- 2023 -> 2025: moves
DELETE FROM events WHERE id = 2;" >/dev/null
expect_rc 0 "$P" apply "$PLAN" --until stream --yes
for s in 0 1 2 3; do
	expect_eq "$(psql_on $((s + 1)) $DB "SET timezone = 'UTC'; SELECT count(*) FROM events WHERE $rule <> $s")" 0 "events on shard $s"
	[ "$(psql_on $((s + 1)) $DB "SELECT count(*) FROM events")" -gt 0 ] || fail "shard $s got no events"
done
compare_tables $DB events 0 "1 2 3 4" || fail "events differ"
expect_rc 0 "$P" verify "$PLAN"
expect_rc 0 "$P" cleanup "$PLAN"

# ---------------------------------------------------------------- validation
DB=luaemail
fresh_db $DB 0 1 2
psql_on 0 $DB "
CREATE TABLE customers (id int PRIMARY KEY, email text);
INSERT INTO customers SELECT i, 'user' || i || '@example.com' FROM generate_series(1, 1000) i;
UPDATE customers SET email = 'not-an-email' WHERE id = 3;" >/dev/null
export EMAIL_SOURCE EMAIL_SHARD0 EMAIL_SHARD1 EMAIL_VALIDATE_MODE=stop
EMAIL_SOURCE=$(dsn 0 $DB) EMAIL_SHARD0=$(dsn 1 $DB) EMAIL_SHARD1=$(dsn 2 $DB)
PLAN=$ROOT/plans/validate_email.yaml
expect_rc 1 "$P" apply "$PLAN" --until copy --yes
expect_contains "$ERR" "table public.customers, key (id)=(3): rejected by validate hook check_email: not an email address: not-an-email"
expect_rc 0 "$P" cleanup "$PLAN"
psql_on 1 $DB "DROP TABLE IF EXISTS customers" >/dev/null
psql_on 2 $DB "DROP TABLE IF EXISTS customers" >/dev/null

EMAIL_VALIDATE_MODE=report
expect_rc 0 "$P" apply "$PLAN" --until copy --yes
expect_contains "$ERR" "rejected 1 row"
psql_on 0 $DB "INSERT INTO customers VALUES (5000, 'also bad'), (5001, 'fine@example.org');
               UPDATE customers SET email = NULL WHERE id = 7;" >/dev/null
expect_rc 0 "$P" apply "$PLAN" --until stream --yes
expect_rc 0 "$P" status "$PLAN" --json
expect_eq "$(jq -r '.violations.count' <<<"$OUT")" 3 "violations kept"
expect_eq "$(jq -r '[.violations.rows[] | select(.key == "(id)=(5000)")][0].step' <<<"$OUT")" stream "stream violation"
expect_eq "$(jq -r '[.violations.rows[] | select(.key == "(id)=(7)")][0].reason' <<<"$OUT")" "email is missing" "reason"
expect_rc 0 "$P" status "$PLAN"
expect_contains "$OUT" "not an email address: not-an-email"
compare_tables $DB customers 0 "1 2" || fail "report mode still moves every row"

EMAIL_VALIDATE_MODE=stop
psql_on 0 $DB "INSERT INTO customers VALUES (6000, 'bad again')" >/dev/null
expect_rc 1 "$P" apply "$PLAN" --until stream --yes
expect_contains "$ERR" "key (id)=(6000): rejected by validate hook check_email"
expect_rc 0 "$P" cleanup "$PLAN"

# ---------------------------------------------------------------- bad hooks
cat >"$W/bad.lua" <<'LUA'
function seven(t, row, n) return 7 end
function text(t, row, n) return "0" end
function boom(t, row, n) error("no shard for " .. row.id) end
function spin(t, row, n) while true do end end
function escape(t, row, n) return os.execute("touch /tmp/pgreshard-escaped") end
LUA
for fn in seven text boom spin escape missing; do
	cat >"$W/bad.yaml" <<YAML
version: 1
name: badhooks
source: { dsn: "host=/nonexistent dbname=x", publication: p }
destination: { shards: [a, b] }
tables:
  t: { key: id }
sharding: { function: lua }
hooks: { file: bad.lua, route: $fn }
YAML
	if [ $fn = missing ]; then
		expect_rc 1 "$P" validate "$W/bad.yaml"
		expect_contains "$ERR" "hooks.route names missing, which bad.lua does not define as a function"
		continue
	fi
	expect_rc 0 "$P" validate "$W/bad.yaml"
	start=$SECONDS
	expect_rc 1 "$P" shard-of "$W/bad.yaml" t 42
	[ $((SECONDS - start)) -le 5 ] || fail "route $fn took $((SECONDS - start)) s to fail"
	case $fn in
	seven) expect_contains "$ERR" "route hook seven returned 7; it must return an integer shard number from 0 to 1" ;;
	text) expect_contains "$ERR" 'returned the string "0"' ;;
	boom) expect_contains "$ERR" "no shard for 42" ; expect_contains "$ERR" "bad.lua:3:" ;;
	spin) expect_contains "$ERR" "ran past its budget" ;;
	escape) expect_contains "$ERR" "global 'os'" ;;
	esac
done
[ ! -e /tmp/pgreshard-escaped ] || fail "a hook reached os.execute"
printf 'x = 1\nwhile true do end\n' >"$W/bad.lua"
expect_rc 1 "$P" validate "$W/bad.yaml"
expect_contains "$ERR" "ran past its budget"
echo "lua hooks: ok"
