# clusters.sh — throwaway PostgreSQL 15 clusters for tests, benchmarks and the demo.
#
# Source this file, then:
#   clusters_start N        start N clusters (0..N-1) with wal_level=logical, each on
#                           its own port, sockets in one private directory; they are
#                           stopped and removed when the calling shell exits, however
#                           it exits (trap on EXIT/INT/TERM).
#   dsn I DB                conninfo of database DB on cluster I (Unix socket, user postgres)
#   tcp_dsn I DB [USER]     conninfo over 127.0.0.1 (password authentication)
#   psql_on I DB SQL        run SQL on cluster I, print tuples unaligned (-At), stop on error
#   load_sql I DB FILE      run a SQL file on cluster I
#   fresh_db DB [I...]      (re)create database DB on the given clusters (default: all)
#   drop_db_everywhere DB   drop DB and its replication slots on every cluster
#   crash_safe_clusters N   start N crash-safe clusters of the test's own (PGR_FSYNC=on), on
#                           ports 12 above the harness's: tests of one build run one at a time
#   slow_wal_writer I...    acknowledged (synchronous_commit = off) commits of cluster I stay
#                           in the WAL buffers for up to 10 s: a crash then loses them
#   cluster_crash I         stop cluster I abruptly (pg_ctl stop -m immediate)
#   cluster_restart I       start it again (crash recovery)
#   table_digest I DB TABLE a digest of the table's rows (order-independent)
#   compare_tables DB TABLE SRC "DST..."  the rows of TABLE on cluster SRC equal the
#                           union of its rows on clusters DST (as multisets); prints a diff
#
# PGR_FSYNC=on makes the clusters crash-safe (fsync and full_page_writes on; the
# default is off, for speed): for tests that stop servers abruptly.  Every cluster
# runs with synchronous_commit = off either way.
#
# PostgreSQL refuses to run as root, so servers run as the `postgres` user; the
# clients (tests, pgreshard) may run as anyone.  Ports come from PGR_PORT_BASE
# (default: derived from the PID) so parallel runs do not collide.

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PGR_CLUSTERS=${PGR_CLUSTERS:-0}

_pg_as() {
	if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

clusters_stop() {
	local i
	[ -n "${PGR_TEST_ROOT:-}" ] || return 0
	for ((i = 0; i < PGR_CLUSTERS; i++)); do
		[ -d "$PGR_TEST_ROOT/c$i" ] && _pg_as "$PG_BIN/pg_ctl" -D "$PGR_TEST_ROOT/c$i" -m immediate stop >/dev/null 2>&1
	done
	rm -rf "$PGR_TEST_ROOT"
	PGR_TEST_ROOT=
}

# Whether TCP ports $1 .. $1+$2-1 on 127.0.0.1 are all free (nothing listens).
_ports_free() {
	local p
	for ((p = $1; p < $1 + $2; p++)); do
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && return 1
	done
	return 0
}

clusters_start() {
	local n=$1 i port
	PGR_PORT_BASE=${PGR_PORT_BASE:-$((20000 + ($$ % 2000) * 16))}
	# another run on this machine (a second checkout, a benchmark) may hold
	# these ports: move to a free range rather than fail
	local try
	for ((try = 0; try < 50; try++)); do
		_ports_free "$PGR_PORT_BASE" "$n" && break
		PGR_PORT_BASE=$((20000 + RANDOM % 2000 * 16))
	done
	PGR_TEST_ROOT=$(mktemp -d /tmp/pgreshard-clusters.XXXXXX)
	chmod 755 "$PGR_TEST_ROOT"
	mkdir -p "$PGR_TEST_ROOT/sock" && chmod 777 "$PGR_TEST_ROOT/sock"
	[ "$(id -u)" -eq 0 ] && chown postgres "$PGR_TEST_ROOT"
	trap 'clusters_stop' EXIT
	trap 'clusters_stop; exit 130' INT TERM

	# initdb once, copy the template for every cluster (much faster than N initdbs)
	_pg_as "$PG_BIN/initdb" -D "$PGR_TEST_ROOT/template" -U postgres --auth-local=trust \
		--auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 --no-sync >"$PGR_TEST_ROOT/initdb.log" 2>&1 ||
		{ cat "$PGR_TEST_ROOT/initdb.log" >&2; return 1; }
	cat >>"$PGR_TEST_ROOT/template/postgresql.conf" <<CONF
wal_level = logical
max_replication_slots = 16
max_wal_senders = 16
max_connections = 100
fsync = ${PGR_FSYNC:-off}
synchronous_commit = off
full_page_writes = ${PGR_FSYNC:-off}
shared_buffers = 64MB
logging_collector = off
listen_addresses = '127.0.0.1'
unix_socket_directories = '$PGR_TEST_ROOT/sock'
CONF
	PGR_CLUSTERS=$n
	for ((i = 0; i < n; i++)); do
		port=$((PGR_PORT_BASE + i))
		_pg_as cp -a "$PGR_TEST_ROOT/template" "$PGR_TEST_ROOT/c$i"
		echo "port = $port" >>"$PGR_TEST_ROOT/c$i/postgresql.conf"
		_pg_as "$PG_BIN/pg_ctl" -D "$PGR_TEST_ROOT/c$i" -l "$PGR_TEST_ROOT/c$i.log" -w -t 60 start >/dev/null ||
			{ cat "$PGR_TEST_ROOT/c$i.log" >&2; return 1; }
	done
	export PGR_TEST_ROOT PGR_PORT_BASE PGR_CLUSTERS
}

crash_safe_clusters() {
	export PGR_FSYNC=on
	PGR_PORT_BASE=$(( ${PGR_PORT_BASE:-$((20000 + ($$ % 2000) * 16))} + 12 ))
	unset PGR_TEST_ROOT
	clusters_start "$1" >/dev/null
}

slow_wal_writer() {
	local c
	for c in "$@"; do
		psql_on "$c" postgres "ALTER SYSTEM SET wal_writer_delay = '10s'" -c "ALTER SYSTEM SET wal_writer_flush_after = 0" \
			-c "SELECT pg_reload_conf()" >/dev/null || return 1
	done
}

# Stop cluster I abruptly (as a crash would) / start it again.
cluster_crash() { _pg_as "$PG_BIN/pg_ctl" -D "$PGR_TEST_ROOT/c$1" -m immediate stop >/dev/null 2>&1; }
cluster_restart() {
	_pg_as "$PG_BIN/pg_ctl" -D "$PGR_TEST_ROOT/c$1" -l "$PGR_TEST_ROOT/c$1.log" -w -t 120 start >/dev/null ||
		{ tail -20 "$PGR_TEST_ROOT/c$1.log" >&2; return 1; }
}

cluster_port() { echo $((PGR_PORT_BASE + $1)); }

dsn() { echo "host=$PGR_TEST_ROOT/sock port=$((PGR_PORT_BASE + $1)) dbname=$2 user=postgres"; }

tcp_dsn() { echo "host=127.0.0.1 port=$((PGR_PORT_BASE + $1)) dbname=$2 user=${3:-postgres}"; }

psql_on() {
	local i=$1 db=$2
	shift 2
	PGOPTIONS="-c client_min_messages=warning" psql -X -q -At -v ON_ERROR_STOP=1 -d "$(dsn "$i" "$db")" -c "$@"
}

load_sql() {
	psql -X -q -v ON_ERROR_STOP=1 -d "$(dsn "$1" "$2")" -f "$3" >/dev/null
}

fresh_db() {
	local db=$1 i
	shift
	local targets=("$@")
	if [ ${#targets[@]} -eq 0 ]; then
		for ((i = 0; i < PGR_CLUSTERS; i++)); do targets+=("$i"); done
	fi
	for i in "${targets[@]}"; do
		drop_slots "$i" "$db" &&
		psql_on "$i" postgres "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" &&
			psql_on "$i" postgres "CREATE DATABASE \"$db\"" || return 1
	done
}

# Drop the replication slots of database DB on cluster I (a database with a
# slot cannot be dropped, and a logical slot keeps a server from starting with
# wal_level below logical).
drop_slots() {
	psql_on "$1" postgres "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots
		WHERE database = '$2' AND active_pid IS NOT NULL" >/dev/null &&
	psql_on "$1" postgres "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
		WHERE database = '$2'" >/dev/null
}

# Drop database DB and its slots on every cluster (tests call this on exit).
drop_db_everywhere() {
	local i
	for ((i = 0; i < PGR_CLUSTERS; i++)); do
		drop_slots "$i" "$1" 2>/dev/null
		psql_on "$i" postgres "DROP DATABASE IF EXISTS \"$1\" WITH (FORCE)" >/dev/null 2>&1
	done
	return 0
}

# Rows of a table as sorted text lines (the table name is passed as a SQL name).
_table_rows() {
	psql -X -q -At -v ON_ERROR_STOP=1 -d "$(dsn "$1" "$2")" \
		-c "COPY (SELECT t::text FROM $3 t) TO STDOUT" | LC_ALL=C sort
}

table_digest() { _table_rows "$1" "$2" "$3" | md5sum | cut -d' ' -f1; }

compare_tables() {
	local db=$1 table=$2 src=$3 dsts=$4 d
	local a b
	a=$(mktemp) b=$(mktemp)
	_table_rows "$src" "$db" "$table" >"$a"
	for d in $dsts; do _table_rows "$d" "$db" "$table"; done | LC_ALL=C sort >"$b"
	if cmp -s "$a" "$b"; then rm -f "$a" "$b"; return 0; fi
	echo "compare_tables: $table differs between cluster $src and clusters $dsts:" >&2
	diff "$a" "$b" | head -20 >&2
	rm -f "$a" "$b"
	return 1
}
