# test_schema_saas.sh — a multi-tenant SaaS schema (tests/sql/saas.sql)
# resharded 1->4 by tenant_id end to end under a write workload of its own:
# GENERATED ALWAYS identity keys (the copy writes them, the stream inserts
# them with OVERRIDING SYSTEM VALUE and never assigns them in an UPDATE; an
# UPDATE ... SET id = DEFAULT on the source arrives as DELETE + INSERT), an
# AFTER trigger writing a moved audit table (its rows arrive once, as changes
# of their own), ON DELETE CASCADE children deleted under the workload, citext
# and hstore columns, RLS policies and flags, a security_barrier view, and an
# insert-only log without a replica identity (a warning, not an error).  The
# oracle is compare_tables / check_placement on every table and the catalog
# comparison of check_schema_objects, independent of pgreshard verify.
# After the cutover (reverse replication on, the default) the application
# writes to the shards and `rollback` brings every change back once.
set -u
source "$(dirname "$0")/../lib/clusters.sh"
source "$(dirname "$0")/../lib/assert.sh"
source "$(dirname "$0")/../lib/reshard_checks.sh"
source "$(dirname "$0")/../lib/reverse.sh"
P=$PGRESHARD
DB=saastest
W=$(mktemp -d)
WL=
AP=
drop_role() {
	psql_on 4 postgres "DO \$\$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'pgr_saas_norls') THEN
		REVOKE SET ON PARAMETER session_replication_role FROM pgr_saas_norls; DROP ROLE pgr_saas_norls;
		END IF; END \$\$" >/dev/null
}
trap '[ -n "$WL" ] && kill $WL 2>/dev/null; [ -n "$AP" ] && kill -9 $AP 2>/dev/null; rm -rf "$W"; drop_db_everywhere $DB; drop_role' EXIT
drop_role

fresh_db $DB 0 1 2 3 4
load_sql 0 $DB "$(dirname "$0")/../sql/saas.sql"
for s in 1 2 3 4; do psql_on $s postgres "DO \$\$ BEGIN CREATE ROLE saas_app; EXCEPTION WHEN duplicate_object THEN END \$\$" >/dev/null; done
export SRC S0 S1 S2 S3
SRC=$(dsn 0 $DB) S0=$(dsn 1 $DB) S1=$(dsn 2 $DB) S2=$(dsn 3 $DB) S3=$(dsn 4 $DB)
plan_1to4 saastest saas_pub "$(for t in tenants users projects tasks audit_log page_views; do
	echo "  saas.$t: { key: tenant_id }"; done)" "copy: { chunk_rows: 1000 }
cutover: { verify: true, timeout_s: 60 }" >"$W/plan.yaml"

expect_rc 0 "$P" plan "$W/plan.yaml"
expect_contains "$OUT" "warning saas.page_views: no replica identity: the table is already published, so the source already refuses UPDATE and DELETE on it"
expect_contains "$OUT" "+ policy tenant_isolation on saas.tasks: created on every shard (schema-post)"
expect_contains "$OUT" "+ view saas.tenant_stats: created on every shard"
# a shard role that may set session_replication_role but is subject to the policies
psql_on 4 postgres "CREATE ROLE pgr_saas_norls LOGIN; GRANT SET ON PARAMETER session_replication_role TO pgr_saas_norls" >/dev/null
S3="$S3 user=pgr_saas_norls" expect_rc 1 "$P" plan "$W/plan.yaml"
expect_contains "$OUT" "ERROR   shard 3: role \"pgr_saas_norls\" is subject to row-level security, which 3 moved table(s) use"
expect_not_contains "$OUT" "may not set session_replication_role"
psql_on 4 postgres "ALTER ROLE pgr_saas_norls BYPASSRLS" >/dev/null
S3="$S3 user=pgr_saas_norls" expect_rc 0 "$P" plan "$W/plan.yaml"
expect_not_contains "$OUT" "subject to row-level security"

workload() {
	local i=0 t
	while [ ! -e "$W/stop" ]; do
		t=$(( (i * 7) % 60 + 1 ))
		psql -X -q -d "$(dsn 0 $DB)" -c "BEGIN;
			WITH t AS (INSERT INTO saas.tenants (name, settings) VALUES ('New tenant $i', 'tier=>trial') RETURNING tenant_id),
			     u AS (INSERT INTO saas.users (tenant_id, email, attrs) SELECT tenant_id, 'Owner$i@X.COM', 'role=>owner' FROM t RETURNING tenant_id, id)
			INSERT INTO saas.projects (tenant_id, owner_id, name) SELECT tenant_id, id, 'First $i' FROM u;
			INSERT INTO saas.tasks (tenant_id, project_id, title)
				SELECT tenant_id, id, 'New task $i' FROM saas.projects WHERE tenant_id = $t ORDER BY id DESC LIMIT 2;
			UPDATE saas.tasks SET done = NOT done, labels = labels || 'Seen'::citext
				WHERE (tenant_id, id) IN (SELECT tenant_id, id FROM saas.tasks WHERE tenant_id = $t ORDER BY id LIMIT 3);
			UPDATE saas.tasks SET id = DEFAULT
				WHERE (tenant_id, id) IN (SELECT tenant_id, id FROM saas.tasks WHERE tenant_id = $t ORDER BY id DESC LIMIT 1);
			UPDATE saas.users SET attrs = coalesce(attrs, '') || hstore('visits', '$i') WHERE tenant_id = $t;
			DELETE FROM saas.users WHERE (tenant_id, id) IN (SELECT tenant_id, id FROM saas.users WHERE tenant_id = $t ORDER BY id LIMIT 1);
			INSERT INTO saas.page_views (tenant_id, path) VALUES ($t, '/w/$i');
			COMMIT" >/dev/null 2>>"$W/refused" || true
		[ $((i % 25)) -eq 24 ] && psql -X -q -d "$(dsn 0 $DB)" -c "DELETE FROM saas.tenants WHERE tenant_id = $(( (i * 11) % 60 + 1 ))" >/dev/null 2>>"$W/refused"
		i=$((i + 1))
	done
}

workload &
WL=$!
sleep 1
# through the cutover; then apply streams the shards' changes back (cutover.reverse)
apply_streaming_back "$W/plan.yaml" "$W/apply.err"
expect_contains "$(cat "$W/apply.err")" "cutover: done"
touch "$W/stop"
wait $WL
WL=
expect_contains "$(cat "$W/refused")" "was moved to shards by pgreshard plan saastest"
echo "audit rows: $(psql_on 0 $DB "SELECT count(*) FROM saas.audit_log"), tenants deleted: $((60 - $(psql_on 0 $DB "SELECT count(*) FROM saas.tenants WHERE tenant_id <= 60")))"
[ "$(psql_on 0 $DB "SELECT count(*) FROM saas.audit_log WHERE op = 'DELETE' AND table_name = 'tasks'")" -gt 0 ] ||
	fail "the workload deleted no task through a cascade"

for t in tenants users projects tasks audit_log page_views; do
	compare_tables $DB saas.$t 0 "1 2 3 4" || fail "content of saas.$t"
	check_placement $DB saas.$t "tenant_id int" tenant_id 4 1 2 3 4 || fail "placement of saas.$t"
done
check_schema_objects $DB saas 0 "1 2 3 4" 'pgreshard_moved' || fail "schema objects"
# identity columns keep working on the shards after the cutover (sequences ahead)
t=$(psql_on 2 $DB "SELECT min(tenant_id) FROM saas.users")
expect_rc 0 psql -X -q -v ON_ERROR_STOP=1 -d "$(dsn 2 $DB)" -c "INSERT INTO saas.users (tenant_id, email) VALUES ($t, 'after@cutover')"
expect_eq "$(psql_on 2 $DB "SELECT count(*) FROM saas.audit_log WHERE op = 'INSERT' AND table_name = 'users'
	AND row_id = (SELECT id FROM saas.users WHERE email = 'after@cutover')")" 1 "audit trigger after the cutover"
# row-level security holds on the shards
expect_eq "$(psql_on 2 $DB "SET ROLE saas_app; SET app.tenant_id = '$t'; SELECT count(DISTINCT tenant_id) FROM saas.users")" 1 "RLS on a shard"

# the application on the shards, then a rollback: identity ids drawn on every
# shard, the audit trigger writing on the shards (not again on the source),
# SET id = DEFAULT, a cascade, the insert-only log; the source ends equal to
# the union of the shards
for s in 1 2 3 4; do
	psql_on $s $DB "BEGIN;
		INSERT INTO saas.users (tenant_id, email, attrs) SELECT min(tenant_id), 'Back$s@X.COM', 'role=>back' FROM saas.tenants;
		UPDATE saas.tasks SET done = NOT done, labels = labels || 'Back'::citext
			WHERE (tenant_id, id) IN (SELECT tenant_id, id FROM saas.tasks ORDER BY tenant_id, id LIMIT 3);
		UPDATE saas.tasks SET id = DEFAULT
			WHERE (tenant_id, id) IN (SELECT tenant_id, id FROM saas.tasks ORDER BY tenant_id, id DESC LIMIT 1);
		DELETE FROM saas.users WHERE (tenant_id, id) IN (SELECT tenant_id, id FROM saas.users ORDER BY tenant_id, id LIMIT 1);
		INSERT INTO saas.page_views (tenant_id, path) SELECT min(tenant_id), '/back/$s' FROM saas.tenants;
		COMMIT" >/dev/null || fail "the application's writes on cluster $s"
done
expect_rc 0 "$P" rollback "$W/plan.yaml"
expect_contains "$OUT" "serves the moved tables again"
apply_handed_over
for t in tenants users projects tasks audit_log page_views; do
	compare_tables $DB saas.$t 0 "1 2 3 4" || fail "saas.$t after the rollback"
done
# identity columns keep working on the source (its sequences past every shard's)
expect_rc 0 psql -X -q -v ON_ERROR_STOP=1 -d "$(dsn 0 $DB)" -c "INSERT INTO saas.users (tenant_id, email) SELECT min(tenant_id), 'after@rollback' FROM saas.tenants"
