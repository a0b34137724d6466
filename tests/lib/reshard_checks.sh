# reshard_checks.sh — checks that a reshard is exact, for integration tests.
#
#   check_placement DB TABLE "KEYDEFS" "KEYCOLS" N SHARD_CLUSTERS...
#       every row of TABLE on shard i satisfies PostgreSQL's hash partitioning
#       (satisfies_hash_partition) for remainder i of N; KEYDEFS are the key
#       columns with types ("tenant_id int, id bigint"), KEYCOLS their names.
#   check_same_schema DB TABLE SRC DST
#       indexes and constraints of TABLE are the same on both clusters.

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
