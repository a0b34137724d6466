# test_add_table.sh — a table added to the publication during the move is
# taken into the move once the plan lists it (issue 15, item 5).
#
# Under a write workload on customers, orders and (as soon as they exist)
# the new tables payments and currencies, while apply streams (manual
# cutover): payments is created on the source (with a type of its own and an
# index), filled and added to the publication, with currencies (a text key,
# replicated).  The stream stops at its first change with the
# message saying to add it to the plan, having applied none of that
# transaction.  A saved plan made before is stale and says the publication
# gained the table (and, once the plan file lists it, that the plan file
# did); a new saved plan of the plan file with the table appended shows it
# as the change.  Applying it creates payments on the
# shards and copies only its chunks (the other tables' chunk records are
# untouched) under a snapshot newer than the slot's; the stream skips the
# older changes to those rows and applies the later ones.  The move cuts
# over and ends exact: per shard, the count and md5 of the sorted rows equal
# the source's rows that PostgreSQL's hash partitioning routes there (an
# oracle independent of verify).  Run twice: the second time the apply is
# killed with -9 during the copy of payments, and a rerun finishes it.
set -u
source "$(dirname "$0")/../lib/clusters.sh"
source "$(dirname "$0")/../lib/assert.sh"
source "$(dirname "$0")/../lib/reshard_checks.sh"
P=$PGRESHARD
DB=addtabletest
W=$(mktemp -d)
WL= APPLY=
trap '[ -n "$WL" ] && kill $WL 2>/dev/null; [ -n "$APPLY" ] && kill $APPLY 2>/dev/null; wait 2>/dev/null;
      rm -rf "$W"; drop_db_everywhere $DB' EXIT
export SRC S0 S1 S2
SRC=$(dsn 0 $DB) S0=$(dsn 1 $DB) S1=$(dsn 2 $DB) S2=$(dsn 3 $DB)

write_plan() {	# [extra table lines]
	cat >"$W/plan.yaml" <<YAML
version: 1
name: addtabletest
source: { dsn: "\${SRC}", publication: pub }
destination: { shards: ["\${S0}", "\${S1}", "\${S2}"] }
tables:
  customers: { key: id }
  orders: { key: customer_id }
$*
copy: { jobs: 2, chunk_rows: 1000 }
cutover: { reverse: false, mode: manual, freeze: lock, timeout_s: 60 }
YAML
}

workload() {	# each statement on its own: those on payments fail until it exists
	local i=0
	while [ ! -e "$W/stop" ]; do
		i=$((i + 1))
		psql -X -q -d "$SRC" -c "INSERT INTO customers VALUES (100000 + $i, 'new $i')" \
			-c "UPDATE orders SET amount = amount + 1 WHERE id = 1 + ($i * 37) % 6000" \
			-c "DELETE FROM orders WHERE id = 1 + ($i * 53) % 6000" \
			-c "INSERT INTO orders (id, customer_id, amount) VALUES (100000 + $i, $i % 900, $i)" \
			-c "INSERT INTO payments (customer_id, amount) VALUES ($i % 900, $i)" \
			-c "UPDATE payments SET amount = amount + 1, state = 'paid' WHERE id = 1 + ($i * 31) % 5000" \
			-c "UPDATE payments SET customer_id = customer_id + 1 WHERE id = 1 + ($i * 17) % 5000" \
			-c "DELETE FROM payments WHERE id = 1 + ($i * 43) % 5000" \
			-c "UPDATE currencies SET rate = rate + 1 WHERE code = 'c' || ($i % 40)" >/dev/null 2>&1
	done
}

# Per shard: count and md5 of the sorted rows, on the shard and on the source
# for the rows hash partitioning routes to it.
oracle() {	# TABLE KEYDEF KEYCOL
	local t=$1 def=$2 col=$3 i want got
	for i in 0 1 2; do
		want=$(psql_on 0 $DB "DROP TABLE IF EXISTS pg_temp.hp; CREATE TEMP TABLE hp ($def) PARTITION BY HASH ($col);
			SELECT count(*) || ' ' || md5(coalesce(string_agg(t::text, E'\n' ORDER BY t::text COLLATE \"C\"), ''))
			FROM $t t WHERE satisfies_hash_partition('pg_temp.hp'::regclass, 3, $i, $col)")
		got=$(psql_on $((i + 1)) $DB "SELECT count(*) || ' ' || md5(coalesce(string_agg(t::text, E'\n'
			ORDER BY t::text COLLATE \"C\"), '')) FROM $t t")
		expect_eq "$got" "$want" "$t on shard $i: count and md5 of its rows"
	done
}

# chunk records of the tables the move began with, on every shard
old_chunks() {
	local s
	for s in 1 2 3; do
		psql_on $s $DB "SELECT string_agg(table_index || ':' || chunk || ':' || snapshot_lsn || ':' || done_at,
			',' ORDER BY table_index, chunk) FROM pgreshard.chunks_done WHERE table_index < 2"
	done
}

run_case() {	# plain | kill
	local mode=$1 n rc late slot before
	rm -f "$W/stop"
	fresh_db $DB 0 1 2 3
	psql_on 0 $DB "CREATE TABLE customers (id bigint PRIMARY KEY, name text);
	  CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint NOT NULL, amount numeric);
	  INSERT INTO customers SELECT g, 'c' || g FROM generate_series(1, 3000) g;
	  INSERT INTO orders SELECT g, g % 900, g FROM generate_series(1, 6000) g;
	  CREATE PUBLICATION pub FOR TABLE customers, orders; ANALYZE" >/dev/null
	write_plan
	expect_rc 0 "$P" apply --yes --until stream "$W/plan.yaml"
	expect_rc 0 "$P" plan "$W/plan.yaml" -o "$W/old.saved"
	before=$(old_chunks)

	workload & WL=$!
	"$P" apply --yes "$W/plan.yaml" >"$W/stream.log" 2>&1 & APPLY=$!
	sleep 2
	psql_on 0 $DB "CREATE TYPE pay_state AS ENUM ('new', 'paid');
	  CREATE TABLE payments (id bigserial PRIMARY KEY, customer_id bigint NOT NULL, amount numeric,
	                         state pay_state NOT NULL DEFAULT 'new', at timestamptz DEFAULT now());
	  CREATE INDEX payments_by_customer ON payments (customer_id, state);
	  INSERT INTO payments (customer_id, amount) SELECT g % 900, g FROM generate_series(1, 5000) g;
	  ANALYZE payments;
	  CREATE TABLE currencies (code text PRIMARY KEY, rate numeric NOT NULL);
	  INSERT INTO currencies SELECT 'c' || g, g FROM generate_series(0, 39) g;
	  ALTER PUBLICATION pub ADD TABLE payments, currencies" >/dev/null
	wait $APPLY; rc=$?; APPLY=
	expect_eq "$rc" 1 "the stream stops at the new table's first change ($mode)"
	grep -Eq "table public.(payments|currencies) was added to the publication during the move but is not in the plan" "$W/stream.log" ||
		{ cat "$W/stream.log" >&2; fail "the stream's message"; }
	grep -q "add it at the end of the plan's tables:" "$W/stream.log" || fail "the stream says what to do"
	n=$(psql_on 1 $DB "SELECT count(*) FROM pg_class WHERE relname = 'payments'")
	expect_eq "$n" 0 "payments not on the shards before the plan lists it"

	# saved plans: the old one is stale; a new one shows the table as the change
	expect_rc 3 "$P" apply --yes "$W/old.saved"
	expect_contains "$ERR" "publication pub: table public.payments added"
	expect_contains "$ERR" "publication pub: table public.currencies added"
	expect_rc 1 "$P" apply --yes "$W/plan.yaml"
	expect_contains "$ERR" "at the end of tables: the move copies it in"
	write_plan "  payments: { key: customer_id }
  currencies: { replicate: true }"
	expect_rc 3 "$P" apply --yes "$W/old.saved"
	expect_contains "$ERR" "plan file changed: table public.payments added"
	expect_rc 0 "$P" plan "$W/plan.yaml" -o "$W/new.saved"
	expect_contains "$OUT" "table public.payments is added to the move under way"
	expect_contains "$OUT" "table public.currencies is added to the move under way"
	for step in schema-pre copy schema-post verify; do	# run again for payments: not shown as done
		printf '%s\n' "$OUT" | grep -E "^ +[0-9]+\. $step " | grep -q "(done)" && fail "step $step shown as done"
	done
	printf '%s\n' "$OUT" | grep -E "^ +[0-9]+\. slot " | grep -q "(done)" || fail "step slot shown as done"

	if [ "$mode" = kill ]; then
		PGRESHARD_TEST_CHUNK_DELAY_MS=400 "$P" apply --yes "$W/new.saved" >"$W/killed.log" 2>&1 & APPLY=$!
		for _ in $(seq 1 300); do
			n=$(psql_on 1 $DB "SELECT count(*) FROM pgreshard.chunks_done WHERE table_index = 2" 2>/dev/null) || n=0
			[ "${n:-0}" -ge 1 ] && break
			sleep 0.05
		done
		kill -9 $APPLY 2>/dev/null; wait $APPLY 2>/dev/null; APPLY=
		n=$(psql_on 1 $DB "SELECT count(*) FROM pgreshard.chunks_done WHERE table_index = 2")
		total=$(psql_on 1 $DB "SELECT count(*) FROM pgreshard.chunk_plan WHERE table_index = 2")
		echo "kill -9 with $n of $total chunk(s) of payments done on shard 0"
		[ "$n" -ge 1 ] && [ "$n" -lt "$total" ] || { cat "$W/killed.log" >&2; fail "the kill did not land in the copy of payments ($n of $total)"; }
		expect_eq "$(psql_on 1 $DB "SELECT count(*) FROM pgreshard.plan_tables")" 4 "payments recorded before its copy"
	fi
	"$P" apply --yes "$W/new.saved" >"$W/late.log" 2>&1 & APPLY=$!
	# the stream catches up with the workload still writing, then the cutover
	for _ in $(seq 1 600); do
		grep -q "step stream: starting" "$W/late.log" && break
		kill -0 $APPLY 2>/dev/null || break
		sleep 0.1
	done
	sleep 3
	touch "$W/stop"; wait $WL; WL=
	expect_rc 0 "$P" cutover "$W/plan.yaml"
	wait $APPLY; rc=$?; APPLY=
	[ "$rc" = 0 ] || { cat "$W/late.log" >&2; fail "the apply taking payments in failed ($mode)"; }
	grep -q "added to the move under way" "$W/late.log" || [ "$mode" = kill ] || fail "the apply says it takes payments in"
	grep -q "cutover: done" "$W/late.log" || fail "cut over"
	grep -Eq "copy: [0-9]+ chunk\(s\) to copy" "$W/late.log" || fail "the late copy ran"
	grep -q "table public.payments: [0-9]* chunk(s) copied after the slot's snapshot" "$W/late.log" ||
		{ cat "$W/late.log" >&2; fail "the stream uses payments' late chunks"; }
	grep -q "table public.customers: [0-9]* chunk(s) copied after\|table public.orders: [0-9]* chunk(s) copied after" "$W/late.log" &&
		fail "other tables copied again"
	expect_eq "$(old_chunks)" "$before" "chunks of customers and orders not copied again ($mode)"
	slot=$(psql_on 1 $DB "SELECT lsn FROM pgreshard.ledger WHERE kind = 'slot'")
	for s in 1 2 3; do
		late=$(psql_on $s $DB "SELECT count(*) || ' ' || CASE WHEN bool_and(snapshot_lsn > '$slot') THEN 'newer' END
			FROM pgreshard.chunks_done WHERE table_index = 2")
		expect_eq "${late#* }" newer "payments' chunks on cluster $s copied under a snapshot newer than the slot ($late)"
	done

	oracle customers "id bigint" id
	oracle orders "customer_id bigint" customer_id
	oracle payments "customer_id bigint" customer_id
	for s in 1 2 3; do	# replicated: every shard has every row
		expect_eq "$(table_digest $s $DB currencies)" "$(table_digest 0 $DB currencies)" "currencies on cluster $s"
	done
	for s in 1 2 3; do check_same_schema $DB payments 0 $s || fail "payments' schema on cluster $s"; done
	echo "case $mode: payments $(psql_on 0 $DB "SELECT count(*) FROM payments") rows, exact on 3 shards"
}

run_case plain
run_case kill
echo ok
