# test_rollback_n_to_m.sh — 2 -> 3 and back: after the cutover the
# application writes to the three shards (inserts, key moves across shards,
# deletes, a TRUNCATE on one shard, a replicated table on every shard); `rollback` sends every row back
# to the source the built-in hash over the two sources picks, so each source
# ends with exactly its part of the union of the shards, and the replicated
# table equal to shard 0's on both.  freeze: read_only both ways (the
# sources left read-only by the cutover take the reverse stream; the
# rollback freezes shard 0, where the state is) and verify while frozen.
# Twice: sources split by the built-in hash (the default way back), and by
# parity, told to the way back by hooks.source_route (Lua).
set -u
source "$(dirname "$0")/../lib/clusters.sh"
source "$(dirname "$0")/../lib/assert.sh"
P=$PGRESHARD
W=$(mktemp -d)
AP=
trap '[ -n "$AP" ] && kill -9 $AP 2>/dev/null; rm -rf "$W"; drop_db_everywhere rbntom_hash; drop_db_everywhere rbntom_lua' EXIT
cat >"$W/split.lua" <<'LUA'
function source_of(table, row, nsources)
  return tonumber(row.id) % nsources
end
LUA

# SQL: does id X belong on source I under the case's old layout?
split() { if [ "$MODE" = hash ]; then echo "satisfies_hash_partition('h2'::regclass, 2, $1, ($2)::bigint)"; else echo "($2) % 2 = $1"; fi; }

run_case() {	# hash | lua
MODE=$1
DB=rbntom_$1

fresh_db $DB 0 5 1 2 3
schema="CREATE TABLE accounts (id bigint PRIMARY KEY, name text NOT NULL, note text);
CREATE TABLE events (id bigint PRIMARY KEY, v text);
CREATE TABLE plans (code text PRIMARY KEY, price numeric);
CREATE TABLE h2 (id bigint) PARTITION BY HASH (id);
CREATE TABLE h3 (id bigint) PARTITION BY HASH (id);
CREATE PUBLICATION pub FOR TABLE accounts, events, plans;"
for c in 0 5 1 2 3; do psql_on $c $DB "$schema" >/dev/null; done
# the old layout: the built-in hash of id over the two sources, or its parity
for i in 0 1; do
	psql_on $([ $i = 0 ] && echo 0 || echo 5) $DB "INSERT INTO accounts SELECT g, 'a' || g, NULL FROM generate_series(1, 3000) g
	                 WHERE $(split $i g);
	  INSERT INTO events SELECT g, 'e' FROM generate_series(1, 600) g WHERE $(split $i g);
	  INSERT INTO plans VALUES ('free', 0), ('pro', 9.5)" >/dev/null
done
export A B S0 S1 S2
A=$(dsn 0 $DB) B=$(dsn 5 $DB) S0=$(dsn 1 $DB) S1=$(dsn 2 $DB) S2=$(dsn 3 $DB)
cat >"$W/plan.yaml" <<YAML
version: 1
name: $DB
source: { shards: ["\${A}", "\${B}"], publication: pub }
destination: { shards: ["\${S0}", "\${S1}", "\${S2}"] }
tables:
  accounts: { key: id }
  events: { key: id }
  plans: { replicate: true }
cutover: { timeout_s: 30, freeze: read_only, verify: true }
YAML
[ "$MODE" = lua ] && echo "hooks: { file: $W/split.lua, source_route: source_of }" >>"$W/plan.yaml"
"$P" apply --yes "$W/plan.yaml" >"$W/apply.out" 2>"$W/apply.err" &
AP=$!
for _ in $(seq 1 120); do
	[ "$(psql_on 1 $DB "SELECT coalesce(reverse_state, '') FROM pgreshard.runs" 2>/dev/null)" = streaming ] && break
	sleep 0.5
done
[ "$(psql_on 1 $DB "SELECT reverse_state FROM pgreshard.runs")" = streaming ] || fail "not streaming back: $(tail -3 "$W/apply.err")"

# the application on the new layout: id hashes over the three shards
for s in 0 1 2; do
	c=$((s + 1))
	psql_on $c $DB "INSERT INTO accounts SELECT g, 'new' || g, repeat('x', 3000) FROM generate_series(5001, 6000) g
	                  WHERE satisfies_hash_partition('h3'::regclass, 3, $s, g::bigint);
	  UPDATE accounts SET note = 'updated on shard $s' WHERE id IN (SELECT id FROM accounts ORDER BY id LIMIT 50);
	  DELETE FROM accounts WHERE id IN (SELECT id FROM accounts ORDER BY id DESC LIMIT 20 OFFSET 100);
	  UPDATE plans SET price = price + 1" >/dev/null || fail "writes on shard $s"
done
# key changes that move rows across shards (and across sources): a new id on its new shard
for id in 7 8 9 10 11 12; do
	from=$(for s in 0 1 2; do [ "$(psql_on $((s + 1)) $DB "SELECT count(*) FROM accounts WHERE id = $id")" = 1 ] && echo $s; done)
	new=$((id + 9000))
	to=$(psql_on 1 $DB "SELECT s FROM generate_series(0, 2) s WHERE satisfies_hash_partition('h3'::regclass, 3, s, $new::bigint)")
	row=$(psql_on $((from + 1)) $DB "DELETE FROM accounts WHERE id = $id RETURNING name")
	psql_on $((to + 1)) $DB "INSERT INTO accounts VALUES ($new, '$row', 'moved from $id')" >/dev/null || fail "move $id"
done

# one shard's TRUNCATE empties only that shard's part of the sources
psql_on 2 $DB "TRUNCATE events" >/dev/null

expect_rc 0 "$P" rollback "$W/plan.yaml"
wait $AP
expect_eq "$?" 0 "the apply handed over: $(grep -v "^pgreshard: .*caught up" "$W/apply.err" | tail -5)"
AP=
rows() { for c in $1; do psql -X -q -At -d "$(dsn $c $DB)" -c "COPY (SELECT t::text FROM $2 t) TO STDOUT"; done | LC_ALL=C sort | md5sum; }
for t in accounts events; do
	expect_eq "$(rows "0 5" $t)" "$(rows "1 2 3" $t)" "$t: union of the sources vs the union of the shards"
done
[ "$(psql_on 0 $DB "SELECT count(*) FROM events")" -gt 0 ] || fail "a shard's TRUNCATE emptied a source"
for c in 0 5; do
	i=$([ $c = 0 ] && echo 0 || echo 1)
	expect_eq "$(psql_on $c $DB "SELECT count(*) FROM accounts WHERE NOT $(split $i id)")" 0 \
		"$MODE: rows on source $i that belong on the other"
	expect_eq "$(rows $c plans)" "$(rows 1 plans)" "plans on source $i"
done
expect_eq "$(psql_on 5 $DB "SELECT count(*) FROM accounts WHERE note LIKE 'moved from %'")" \
	"$(psql_on 5 $DB "SELECT count(*) FROM accounts WHERE note LIKE 'moved from %' AND $(split 1 id)")" "moved rows"
expect_rc 0 psql -X -q -v ON_ERROR_STOP=1 -d "$B" -c "INSERT INTO accounts VALUES (99999, 'source serves', NULL)"
expect_rc 1 psql -X -q -v ON_ERROR_STOP=1 -d "$S2" -c "UPDATE plans SET price = 0"
expect_contains "$ERR" "was moved to shards"
}

run_case hash
run_case lua
