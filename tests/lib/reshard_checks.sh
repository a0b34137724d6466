# reshard_checks.sh — checks that a reshard is exact, for integration tests.
#
#   check_placement DB TABLE "KEYDEFS" "KEYCOLS" N SHARD_CLUSTERS...
#       every row of TABLE on shard i satisfies PostgreSQL's hash partitioning
#       (satisfies_hash_partition) for remainder i of N; KEYDEFS are the key
#       columns with types ("tenant_id int, id bigint"), KEYCOLS their names.
#   check_same_schema DB TABLE SRC DST
#       indexes and constraints of TABLE are the same on both clusters.
#   realistic_move DB NAME PLANFILE [EXTRA-YAML]
#       the realistic schema on cluster 0 and a plan moving it 1->3 (see below).

check_placement() {
	local db=$1 table=$2 defs=$3 cols=$4 n=$5
	shift 5
	local i=0 c bad
	for c in "$@"; do
		bad=$(psql_on "$c" "$db" "
			DROP TABLE IF EXISTS pg_temp.hp; CREATE TEMP TABLE hp ($defs) PARTITION BY HASH ($cols);
			SELECT count(*) FROM $table WHERE NOT satisfies_hash_partition('pg_temp.hp'::regclass, $n, $i, $cols)")
		[ "$bad" = 0 ] || { echo "check_placement: $bad row(s) of $table on shard $i (cluster $c) belong elsewhere" >&2; return 1; }
		i=$((i + 1))
	done
}

_schema_of() {
	psql_on "$1" "$2" "
		SELECT 'index ' || regexp_replace(indexdef, ' ON .* USING ', ' USING ') FROM pg_indexes
		 WHERE format('%I.%I', schemaname, tablename)::regclass = '$3'::regclass
		UNION ALL
		SELECT 'constraint ' || conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint
		 WHERE conrelid = '$3'::regclass AND contype <> 'f'
		ORDER BY 1"
}

check_same_schema() {
	local db=$1 table=$2 a b
	a=$(_schema_of "$3" "$db" "$table") b=$(_schema_of "$4" "$db" "$table")
	[ "$a" = "$b" ] && return 0
	echo "check_same_schema: $table differs between clusters $3 and $4:" >&2
	diff <(echo "$a") <(echo "$b") >&2
	return 1
}

# schema_summary I DB SCHEMA
#     one line per object of SCHEMA on cluster I (relations with kind, owner,
#     privileges, row-level security and comment; columns' comments; views'
#     definitions; functions, procedures and aggregates with owner,
#     privileges and body; types; triggers with their enabled state;
#     policies; constraints; extended statistics; collations), and the
#     database's extensions, sorted: equal on two clusters when the schema
#     reached the second one whole.
schema_summary() {
	psql_on "$1" "$2" "
	WITH n AS (SELECT oid, nspname FROM pg_namespace WHERE nspname = '$3')
	SELECT line FROM (
	 SELECT 'schema ' || n.nspname || ' owner=' || pg_get_userbyid(s.nspowner) || ' acl=' || coalesce(s.nspacl::text, '') AS line
	   FROM n JOIN pg_namespace s ON s.oid = n.oid
	 UNION ALL SELECT 'relation ' || c.relname || ' ' || c.relkind::text || ' owner=' || pg_get_userbyid(c.relowner)
	        || ' acl=' || coalesce(c.relacl::text, '') || ' rls=' || c.relrowsecurity::text || '/' || c.relforcerowsecurity::text
	        || ' comment=' || coalesce(obj_description(c.oid, 'pg_class'), '')
	        || CASE WHEN c.relkind IN ('v', 'm') THEN ' def=' || md5(pg_get_viewdef(c.oid)) ELSE '' END
	   FROM pg_class c JOIN n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'i', 'I', 'c')
	 UNION ALL SELECT 'column ' || c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
	        || ' identity=' || a.attidentity::text || ' generated=' || a.attgenerated::text || ' collation=' || coalesce(co.collname, '')
	        || ' acl=' || coalesce(a.attacl::text, '') || ' comment=' || coalesce(col_description(c.oid, a.attnum), '')
	   FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN n ON n.oid = c.relnamespace
	   LEFT JOIN pg_collation co ON co.oid = a.attcollation AND a.attcollation <> 100
	  WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm', 'c')
	 UNION ALL SELECT 'function ' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ') ' || p.prokind::text
	        || ' returns=' || format_type(p.prorettype, NULL) || ' owner=' || pg_get_userbyid(p.proowner)
	        || ' acl=' || coalesce(p.proacl::text, '') || ' body=' || md5(coalesce(p.prosrc, '') || coalesce(pg_get_function_sqlbody(p.oid), ''))
	        || ' comment=' || coalesce(obj_description(p.oid, 'pg_proc'), '')
	   FROM pg_proc p JOIN n ON n.oid = p.pronamespace
	 UNION ALL SELECT 'type ' || t.typname || ' ' || t.typtype::text || ' owner=' || pg_get_userbyid(t.typowner)
	        || ' comment=' || coalesce(obj_description(t.oid, 'pg_type'), '')
	        || ' enum=' || coalesce((SELECT string_agg(enumlabel, ',' ORDER BY enumsortorder) FROM pg_enum WHERE enumtypid = t.oid), '')
	   FROM pg_type t JOIN n ON n.oid = t.typnamespace WHERE t.typtype IN ('e', 'd', 'r', 'm')
	 UNION ALL SELECT 'trigger ' || tg.tgname || ' on ' || c.relname || ' enabled=' || tg.tgenabled::text || ' ' || md5(pg_get_triggerdef(tg.oid))
	   FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid JOIN n ON n.oid = c.relnamespace WHERE NOT tg.tgisinternal
	 UNION ALL SELECT 'policy ' || pol.polname || ' on ' || c.relname || ' ' || pol.polcmd::text || ' roles='
	        || array_to_string(ARRAY(SELECT CASE WHEN r = 0 THEN 'public' ELSE pg_get_userbyid(r) END FROM unnest(pol.polroles) r ORDER BY 1), ',')
	        || ' using=' || coalesce(pg_get_expr(pol.polqual, pol.polrelid), '') || ' check=' || coalesce(pg_get_expr(pol.polwithcheck, pol.polrelid), '')
	   FROM pg_policy pol JOIN pg_class c ON c.oid = pol.polrelid JOIN n ON n.oid = c.relnamespace
	 UNION ALL SELECT 'constraint ' || con.conname || ' on ' || coalesce(c.relname, '-') || ' ' || pg_get_constraintdef(con.oid)
	        || ' deferrable=' || con.condeferrable::text || '/' || con.condeferred::text
	   FROM pg_constraint con JOIN n ON n.oid = con.connamespace LEFT JOIN pg_class c ON c.oid = con.conrelid
	 UNION ALL SELECT 'statistics ' || st.stxname || ' ' || st.stxkind::text FROM pg_statistic_ext st JOIN n ON n.oid = st.stxnamespace
	 UNION ALL SELECT 'collation ' || co.collname || ' ' || co.collprovider::text || ' ' || co.collisdeterministic::text
	   FROM pg_collation co JOIN n ON n.oid = co.collnamespace
	 UNION ALL SELECT 'extension ' || extname FROM pg_extension
	) s ORDER BY 1"
}

# check_schema_objects DB SCHEMA SRC "DSTS" [EXCLUDE_REGEX]
#     schema_summary of SCHEMA is the same on SRC (lines matching the
#     regex, objects that are not moved, left out) and on every DST.
check_schema_objects() {
	local db=$1 schema=$2 src=$3 dsts=$4 skip=${5:-'^$'} d a b
	a=$(schema_summary "$src" "$db" "$schema") || return 1
	a=$(echo "$a" | grep -Ev "$skip")
	for d in $dsts; do
		b=$(schema_summary "$d" "$db" "$schema") || return 1
		[ "$a" = "$b" ] && continue
		echo "check_schema_objects: schema $schema differs between clusters $src and $d:" >&2
		diff <(echo "$a") <(echo "$b") >&2
		return 1
	done
}

# plan_1to4 NAME PUBLICATION TABLES [MORE]
#     print a plan file moving ${SRC} onto ${S0}..${S3} (the caller exports
#     them; they stay ${VAR} references in the file).  TABLES are the YAML
#     lines under tables:, MORE further sections.
plan_1to4() {
	cat <<YAML
version: 1
name: $1
source: { dsn: "\${SRC}", publication: $2 }
destination: { shards: ["\${S0}", "\${S1}", "\${S2}", "\${S3}"] }
tables:
$3
${4:-}
YAML
}

# realistic_move DB NAME PLANFILE [EXTRA-YAML]
#   tests/sql/realistic.sql loaded into DB on cluster 0, fresh DB on clusters 1-3, and
#   a plan NAME moving its five tables 1->3 written to PLANFILE (EXTRA-YAML appended);
#   exports SRC S0 S1 S2.
realistic_move() {
	local db=$1 name=$2 file=$3 extra=${4:-}
	fresh_db "$db" 0 1 2 3
	load_sql 0 "$db" "$(dirname "${BASH_SOURCE[0]}")/../sql/realistic.sql"
	export SRC S0 S1 S2
	SRC=$(dsn 0 "$db") S0=$(dsn 1 "$db") S1=$(dsn 2 "$db") S2=$(dsn 3 "$db")
	cat >"$file" <<YAML
version: 1
name: $name
source: { dsn: "\${SRC}", publication: pub }
destination: { shards: ["\${S0}", "\${S1}", "\${S2}"] }
tables:
  app.users: { key: id }
  'app."Order Items"': { key: [tenant_id, id] }
  '"Billing Dept"."Invoices"': { key: '"InvoiceId"' }
  app.events: { key: user_id }
  app.regions: { replicate: true }
$extra
YAML
}
