# bench/copy_keys.sh — sourced by bench/copy.sh (its clusters, $P, $W, $ROWS):
# chunks of any key.  Four tables of the same size — ROWS rows, and the same
# bytes: each row's key and payload together are 80 bytes, the payload
# shortened by what a wider key takes — keyed by
#   dense   bigint 1..ROWS
#   sparse  bigint, skewed: 90% of the rows packed at the start, 10% spread
#           over a range 10^9 times wider (snowflake-like), so min..max
#           arithmetic would put 90% of the table in the first chunk
#   uuid    gen_random_uuid()
#   text    a 20-40 character slug under the database's collation (C.UTF-8: on
#           glibc 2.35 and later it orders as bytes, and pgreshard compares
#           it itself, as under "C")
# and, as a fifth, the same slugs under ICU's en-US collation (a linguistic
# order: the source compares every key, ICU's strcoll; not in the ratios the
# issue sets, which ask for the first four).
# BENCH_KEY_WIDTH=natural gives every table the same 64-character payload
# instead (uuid rows 1.09 and slug rows 1.31 times as wide as dense ones).
# Each is copied alone 1 -> 4 (copy.jobs 4, chunk_rows ROWS/8, the other
# settings their defaults: a table this size is read in one pass), rounds of all
# four in turn; throughput against dense in the same round, as rows/s and as
# COPY bytes/s (uuid and slug rows are wider), medians of the rounds.  Then
# text in two passes of 4 chunks (copy.scan_pass_size 0, as 0.9.0 read it),
# dense and uuid with jobs 1, dense and uuid with chunks of ROWS/40 (uuid:
# 40 chunks, one pass by default; and with copy.scan_pass_size 0: 4 passes of
# 10, as 0.9.0 read it), and uuid and text without shared scans
# (PGRESHARD_COPY_SHARED_SCAN=off: each worker reads its own chunk), and dense,
# uuid and text in COPY text format (PGRESHARD_COPY_FORMAT=text).  The
# servers' and pgreshard's CPU seconds are given too, and the CPU of all per
# row against dense: steadier than wall time on a shared machine.  Then kill
# -9 of the uuid copy halfway (once half of its rows are
# on the shards, committed or in open COPYs), BENCH_KILLS times (default 3)
# with the snapshot kept (the default) and as many with copy.keep_snapshot_s 0
# (what a crash that ends the snapshot, a restart of the source, costs): the
# share of the table the rerun copies again.
# BENCH_KEY_ROUNDS (default 3) rounds; BENCH_KILL_ROWS (below) sizes the kills' table.
echo "bench/copy keys: loading 5 tables of $ROWS rows..."
psql_on 0 bench "
CREATE TABLE k_dense (id bigint PRIMARY KEY, n int NOT NULL, payload text);
CREATE TABLE k_sparse (id bigint PRIMARY KEY, n int NOT NULL, payload text);
CREATE TABLE k_uuid (id uuid PRIMARY KEY, n int NOT NULL, payload text);
CREATE TABLE k_text (id text PRIMARY KEY, n int NOT NULL, payload text);
CREATE TABLE k_icu (id text COLLATE \"en-US-x-icu\" PRIMARY KEY, n int NOT NULL, payload text);
-- payload(g, key bytes): 80 - key bytes of a repeated md5 (64 characters with BENCH_KEY_WIDTH=natural)
CREATE FUNCTION pg_temp.payload(g int, kb int) RETURNS text LANGUAGE sql IMMUTABLE
    RETURN left(repeat(md5(g::text), 3), CASE WHEN '${BENCH_KEY_WIDTH:-same}' = 'natural' THEN 64 ELSE 80 - kb END);
INSERT INTO k_dense SELECT g, g % 1000, pg_temp.payload(g, 8) FROM generate_series(1, $ROWS) g;
INSERT INTO k_sparse SELECT CASE WHEN g % 10 = 0 THEN 1000000000000 + g::bigint * 1000000000 ELSE g END,
       g % 1000, pg_temp.payload(g, 8) FROM generate_series(1, $ROWS) g;
INSERT INTO k_uuid SELECT gen_random_uuid(), g % 1000, pg_temp.payload(g, 16) FROM generate_series(1, $ROWS) g;
INSERT INTO k_text SELECT k, g % 1000, pg_temp.payload(g, octet_length(k))
       FROM (SELECT g, substr(md5(g::text), 1, 20 + g % 20) || '-' || g AS k FROM generate_series(1, $ROWS) g) s;
INSERT INTO k_icu SELECT * FROM k_text;
CREATE PUBLICATION pub_k_dense FOR TABLE k_dense;
CREATE PUBLICATION pub_k_sparse FOR TABLE k_sparse;
CREATE PUBLICATION pub_k_uuid FOR TABLE k_uuid;
CREATE PUBLICATION pub_k_text FOR TABLE k_text;
CREATE PUBLICATION pub_k_icu FOR TABLE k_icu;
ANALYZE;" >/dev/null
psql_on 0 bench "VACUUM" >/dev/null	# hint bits and the visibility map set, as on a table at rest
ksizes=$(psql_on 0 bench "SELECT string_agg(format('%s %s MB', relname, pg_relation_size(oid) / 1000000), ', ' ORDER BY relname)
	FROM pg_class WHERE relname IN ('k_dense', 'k_sparse', 'k_uuid', 'k_text', 'k_icu')")

keyplan() {	# TABLE JOBS [CHUNK_ROWS] [MORE COPY SETTINGS] -> plan file
	cat >"$W/k_$1_$2.yaml" <<YAML
version: 1
name: bk_$1_$2
source: { dsn: "\${SRC}", publication: pub_$1 }
destination: { shards: ["\${S0}", "\${S1}", "\${S2}", "\${S3}"] }
tables:
  $1: { key: id }
copy: { jobs: $2, chunk_rows: ${3:-$((ROWS / 8))}${4:+, $4} }
YAML
	echo "$W/k_$1_$2.yaml"
}

keyreset() {	# TABLE: no slot, no state, no table on the shards; and no checkpoint
	# owed by the copy before (its CPU would be counted to this one)
	drop_slots 0 bench
	for s in 1 2 3 4; do psql_on $s bench "DROP SCHEMA IF EXISTS pgreshard CASCADE; DROP TABLE IF EXISTS $1" >/dev/null; done
	for s in 0 1 2 3 4; do psql_on $s bench "CHECKPOINT" >/dev/null; done
}

# CPU seconds (user + system, in clock ticks) of cluster I so far: its postmaster
# with the backends it has reaped, and the live ones.  On a machine shared with
# other work this is steadier than the wall clock.
cluster_ticks() {
	local pm t c
	pm=$(head -1 "$PGR_TEST_ROOT/c$1/postmaster.pid")
	t=$(awk '{ print $14 + $15 + $16 + $17 }' "/proc/$pm/stat")
	for c in $(pgrep -P "$pm"); do t=$((t + $(awk '{ print $14 + $15 }' "/proc/$c/stat" 2>/dev/null || echo 0))); done
	echo "$t"
}
shards_ticks() { echo $(($(cluster_ticks 1) + $(cluster_ticks 2) + $(cluster_ticks 3) + $(cluster_ticks 4))); }

keycopy() {	# TABLE JOBS [CHUNK_ROWS] [MORE COPY SETTINGS]: prints copy-step seconds, max RSS (KiB), source,
	# shards and pgreshard CPU seconds of the whole apply; exits on failure
	local plan s0 h0 s1 h1 hz
	plan=$(keyplan "$1" "$2" "${3:-}" "${4:-}")
	keyreset "$1"
	s0=$(cluster_ticks 0) h0=$(shards_ticks)
	/usr/bin/time -f "%M %U %S" -o "$W/ktime" "$P" apply --yes --until copy "$plan" 2>"$W/k.log" ||
		{ cat "$W/k.log" >&2; kill $$; exit 1; }
	sleep 0.5	# the backends end and are reaped
	s1=$(cluster_ticks 0) h1=$(shards_ticks) hz=$(getconf CLK_TCK)
	[ "${PGRESHARD_COPY_FORMAT:-}" = text ] ||	# the bytes of the default (binary) format
		sed -n 's/.*copy: [0-9]* rows (\([0-9]*\) bytes).*/\1/p' "$W/k.log" >"$W/kbytes_$1"
	echo "$(sed -n 's/.*step copy: done in \([0-9.]*\) s.*/\1/p' "$W/k.log") $(awk '{ print $1 }' "$W/ktime") $(awk -v a=$((s1 - s0)) -v b=$((h1 - h0)) -v hz="$hz" 'BEGIN { printf "%.2f %.2f", a / hz, b / hz }') $(awk '{ printf "%.2f", $2 + $3 }' "$W/ktime")"
}

: >"$W/kres"
: >"$W/kcpu"
for ((rep = 1; rep <= ${BENCH_KEY_ROUNDS:-3}; rep++)); do
	line="" cpu="" rcpus=""
	for t in k_dense k_sparse k_uuid k_text; do
		read -r sec rss scpu hcpu rcpu <<<"$(keycopy $t 4)"
		line="$line $sec $rss"
		cpu="$cpu $scpu $hcpu"
		rcpus="$rcpus $rcpu"
	done
	echo "$cpu" >>"$W/kcpu"
	read -r d1 _ <<<"$(keycopy k_dense 1)"
	read -r u1 _ <<<"$(keycopy k_uuid 1)"
	read -r d40 _ <<<"$(keycopy k_dense 4 $((ROWS / 40)))"
	read -r u40 _ <<<"$(keycopy k_uuid 4 $((ROWS / 40)))"
	read -r u40p _ <<<"$(keycopy k_uuid 4 $((ROWS / 40)) "scan_pass_size: 0")"
	# the text key in two passes of 4 chunks (copy.jobs chunks a pass, as 0.9.0 read it)
	read -r t1p _ <<<"$(keycopy k_text 4 "" "scan_pass_size: 0")"
	# the same without shared scans (each worker reads its own chunk)
	read -r uoff _ uoffs uoffh _ <<<"$(PGRESHARD_COPY_SHARED_SCAN=off keycopy k_uuid 4)"
	read -r toff _ toffs toffh _ <<<"$(PGRESHARD_COPY_SHARED_SCAN=off keycopy k_text 4)"
	# the same in COPY's text format (every table before 0.8.0)
	read -r dtx _ <<<"$(PGRESHARD_COPY_FORMAT=text keycopy k_dense 4)"
	read -r utx _ <<<"$(PGRESHARD_COPY_FORMAT=text keycopy k_uuid 4)"
	read -r ttx _ <<<"$(PGRESHARD_COPY_FORMAT=text keycopy k_text 4)"
	# the linguistic collation
	read -r isec irss iscpu ihcpu ircpu <<<"$(keycopy k_icu 4)"
	echo "$line $d1 $u1 $d40 $u40 $uoff $toff $dtx $utx $ttx $isec $irss $u40p $t1p" >>"$W/kres"
	sed -i "\$ s/\$/ $uoffs $uoffh $toffs $toffh $iscpu $ihcpu$rcpus $ircpu/" "$W/kcpu"
	awk -v rep="$rep" '{ printf "  round %d: dense %.2f s, sparse %.2f s, uuid %.2f s, text %.2f s, ICU text %.2f s; jobs 1: dense %.2f s, uuid %.2f s; chunks of ROWS/40: dense %.2f s, uuid %.2f s (4 passes: %.2f s); no shared scans: uuid %.2f s, text %.2f s; text format: dense %.2f s, uuid %.2f s, text %.2f s\n", rep, $1, $3, $5, $7, $18, $9, $10, $11, $12, $20, $13, $14, $15, $16, $17 }' <(tail -1 "$W/kres")
	awk '{ printf "           CPU s, source + shards: dense %.2f + %.2f, sparse %.2f + %.2f, uuid %.2f + %.2f, text %.2f + %.2f, ICU text %.2f + %.2f; no shared scans: uuid %.2f + %.2f, text %.2f + %.2f; pgreshard: dense %.2f, sparse %.2f, uuid %.2f, text %.2f, ICU text %.2f\n", $1, $2, $3, $4, $5, $6, $7, $8, $13, $14, $9, $10, $11, $12, $15, $16, $17, $18, $19 }' <(tail -1 "$W/kcpu")
done

# kill -9 halfway through the uuid copy: once half of the table's rows are on
# the shards, committed (chunks_done), in their open COPYs (pg_stat_progress_copy)
# or in the rounds a shared scan committed (scan_progress); then the rerun.
# What the rerun copies again: the rows it reads from the source
# (its log's count), what was not committed, whole chunks or shared scans'
# rounds a rerun under the kept snapshot goes on after (copy_scan.c).
# Watched from one session on shard 1 polling every 10 ms (the hash gives it a
# quarter of the rows): polling the four shards with a psql each took up to
# ~1 s on the loaded machine, long enough for a 2 s copy to finish first.
# Prints the rows on shard 1 times 4 when it returns.
half_seen() {
	# a procedure, each poll its own transaction: a statement running since
	# before the apply created pgreshard.chunks_done would never see it
	PGOPTIONS="-c client_min_messages=warning" psql -X -q -At -v ON_ERROR_STOP=1 -d "$(dsn 1 bench)" -c "
CREATE PROCEDURE pg_temp.wait_rows(target bigint, INOUT n bigint) LANGUAGE plpgsql AS \$f\$
DECLARE d bigint; t0 timestamptz := clock_timestamp();
BEGIN
	LOOP
		n := coalesce((SELECT sum(tuples_processed) FROM pg_stat_progress_copy WHERE command = 'COPY FROM'), 0);
		IF to_regclass('pgreshard.chunks_done') IS NOT NULL THEN
			EXECUTE 'SELECT coalesce(sum(rows), 0) FROM pgreshard.chunks_done' INTO d;
			n := n + d;
		END IF;
		-- a shared scan's committed rounds (a round's COPY counts from 0 again)
		IF to_regclass('pgreshard.scan_progress') IS NOT NULL THEN
			EXECUTE 'SELECT coalesce(sum(r), 0) FROM pgreshard.scan_progress, unnest(rows) r' INTO d;
			n := n + d;
		END IF;
		EXIT WHEN n >= target OR clock_timestamp() - t0 > interval '300 s';
		COMMIT;
		PERFORM pg_sleep(0.01);
	END LOOP;
END \$f\$" -c "CALL pg_temp.wait_rows($((KROWS / 8)), NULL)" 2>/dev/null | awk '{ print 4 * $1 }'
}
# BENCH_KILL_ROWS: the kills on a uuid table of that many rows of its own (the
# same rows as k_uuid's), not on k_uuid: a kill loses up to a round (4,096
# blocks) per worker, half of a 2M-row table read in one pass, a tenth of 8M
KT=k_uuid KROWS=$ROWS
if [ -n "${BENCH_KILL_ROWS:-}" ]; then
	KT=k_ukill KROWS=$BENCH_KILL_ROWS
	echo "bench/copy keys: loading a uuid table of $KROWS rows for the kills..."
	psql_on 0 bench "
CREATE TABLE k_ukill (id uuid NOT NULL, n int NOT NULL, payload text);
INSERT INTO k_ukill SELECT gen_random_uuid(), g % 1000, left(repeat(md5(g::text), 3), 64) FROM generate_series(1, $KROWS) g;
ALTER TABLE k_ukill ADD PRIMARY KEY (id);
CREATE PUBLICATION pub_k_ukill FOR TABLE k_ukill;
ANALYZE k_ukill;" >/dev/null
	psql_on 0 bench "VACUUM k_ukill" >/dev/null
fi
: >"$W/kkill"
for keep in 600 0; do
	for ((k = 1; k <= ${BENCH_KILLS:-3}; k++)); do
		plan=$(keyplan $KT 4 $((KROWS / 8)) "keep_snapshot_s: $keep")
		keyreset $KT
		"$P" apply --yes --until copy "$plan" 2>"$W/kill.log" &
		kpid=$!
		seen=$(half_seen)
		kill -9 $kpid 2>/dev/null || true
		wait $kpid 2>/dev/null || true
		# committed: whole chunks, and the rounds of shared scans (copy_scan.c)
		before=$(for s in 1 2 3 4; do psql_on $s bench "SELECT (SELECT coalesce(sum(rows), 0) FROM pgreshard.chunks_done)
			+ (SELECT coalesce(sum(r), 0) FROM pgreshard.scan_progress, unnest(rows) r)"; done | awk '{s += $1} END {print s}')
		chunks=$(psql_on 1 bench "SELECT count(*) FROM pgreshard.chunk_plan")
		"$P" apply --yes --until copy "$plan" 2>"$W/rerun.log" || { cat "$W/rerun.log" >&2; exit 1; }
		again=$(sed -n 's/.*copy: .* copied to .*; \([0-9]*\) of the rows read from the source by this run.*/\1/p' "$W/rerun.log")
		after=$(for s in 1 2 3 4; do psql_on $s bench "SELECT count(*) FROM $KT"; done | awk '{s += $1} END {print s}')
		[ "$after" = "$KROWS" ] || { echo "bench/copy keys: expected $KROWS uuid rows on the shards after the rerun, found $after" >&2; exit 1; }
		echo "$keep $seen $before ${again:-0} $chunks" >>"$W/kkill"
		awk -v rows="$KROWS" '{ printf "  kill -9 with %d rows on the shards (copy.keep_snapshot_s %d, %d chunks): %d committed; the rerun read %d rows, %.2f of the table again\n", $2, $1, $5, $3, $4, $4 / rows }' <(tail -1 "$W/kkill")
	done
done

# ratios: rows/s against dense in the same round; per byte, the same times the
# tables' COPY bytes (a wider row is more bytes per row)
awk -v rows="$ROWS" -v krows="$KROWS" -v cpus="$(nproc)" -v bd="$(cat "$W/kbytes_k_dense")" -v bs="$(cat "$W/kbytes_k_sparse")" \
	-v bu="$(cat "$W/kbytes_k_uuid")" -v bt="$(cat "$W/kbytes_k_text")" -v kills="$W/kkill" -v cpuf="$W/kcpu" \
	-v width="${BENCH_KEY_WIDTH:-same}" -v sizes="$ksizes" '
	function median(x, n,   i, j, t) { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (x[j] < x[i]) { t = x[i]; x[i] = x[j]; x[j] = t } return x[int((n + 1) / 2)] }
	function lo(x, n,   i, m) { m = x[1]; for (i = 2; i <= n; i++) if (x[i] < m) m = x[i]; return m }
	function hi(x, n,   i, m) { m = x[1]; for (i = 2; i <= n; i++) if (x[i] > m) m = x[i]; return m }
	{ d[NR] = $1; s[NR] = $3; u[NR] = $5; t[NR] = $7; d1[NR] = $9; u1[NR] = $10; d40[NR] = $11; u40[NR] = $12
	  rs[NR] = $1 / $3; ru[NR] = $1 / $5; rt[NR] = $1 / $7; jd[NR] = $9 / $1; ju[NR] = $10 / $5; r40[NR] = $11 / $12
	  ruo[NR] = $1 / $13; rto[NR] = $1 / $14; ic[NR] = $18; ri[NR] = $1 / $18; u40p[NR] = $20; r40p[NR] = $11 / $20
	  rt1[NR] = $1 / $21
	  xu[NR] = $15 / $16; xt[NR] = $15 / $17; bd2[NR] = $15 / $1; bu2[NR] = $16 / $5; bt2[NR] = $17 / $7
	  for (f = 2; f <= 8; f += 2) if ($f > rss) rss = $f
	  if ($19 > rss) rss = $19 }
	END {
		printf "bench/copy keys: %d rows per table (%s payloads: %s), 1 -> 4 shards, jobs 4, chunks of %d rows, median of %d rounds (%d CPUs)\n", rows, width, sizes, rows / 8, NR, cpus
		printf "  dense bigint:          %6.2f s   COPY %d bytes\n", median(d, NR), bd
		printf "  sparse skewed bigint:  %6.2f s   rows/s vs dense %.2f (rounds %.2f-%.2f), bytes/s %.2f\n", median(s, NR), median(rs, NR), lo(rs, NR), hi(rs, NR), median(rs, NR) * bs / bd
		printf "  uuid:                  %6.2f s   rows/s vs dense %.2f (rounds %.2f-%.2f), bytes/s %.2f\n", median(u, NR), median(ru, NR), lo(ru, NR), hi(ru, NR), median(ru, NR) * bu / bd
		printf "  text (C.UTF-8):        %6.2f s   rows/s vs dense %.2f (rounds %.2f-%.2f), bytes/s %.2f\n", median(t, NR), median(rt, NR), lo(rt, NR), hi(rt, NR), median(rt, NR) * bt / bd
		printf "  text (en-US ICU):      %6.2f s   rows/s vs dense %.2f (rounds %.2f-%.2f): compared by the source\n", median(ic, NR), median(ri, NR), lo(ri, NR), hi(ri, NR)
		printf "  text, two passes:      rows/s vs dense %.2f (rounds %.2f-%.2f) with copy.scan_pass_size 0 (4 chunks a pass, as 0.9.0 read it; the default reads it in one)\n", median(rt1, NR), lo(rt1, NR), hi(rt1, NR)
		printf "  COPY bytes per row:    dense %.1f, sparse %.1f, uuid %.1f, text %.1f\n", bd / rows, bs / rows, bu / rows, bt / rows
		printf "  jobs 4 vs jobs 1:      dense %.2fx (rounds %.2f-%.2f), uuid %.2fx (rounds %.2f-%.2f)\n", median(jd, NR), lo(jd, NR), hi(jd, NR), median(ju, NR), lo(ju, NR), hi(ju, NR)
		printf "  chunks of %d rows:  dense %.2f s, uuid %.2f s: uuid rows/s vs dense %.2f (one pass, the default); with copy.scan_pass_size 0 (4 passes of 10 chunks, as 0.9.0 read it): uuid %.2f s, %.2f\n", rows / 40, median(d40, NR), median(u40, NR), median(r40, NR), median(u40p, NR), median(r40p, NR)
		printf "  without shared scans:  uuid rows/s vs dense %.2f (rounds %.2f-%.2f), text %.2f (rounds %.2f-%.2f)\n", median(ruo, NR), lo(ruo, NR), hi(ruo, NR), median(rto, NR), lo(rto, NR), hi(rto, NR)
		printf "  in COPY text format:   uuid rows/s vs dense %.2f (rounds %.2f-%.2f), text %.2f (rounds %.2f-%.2f)\n", median(xu, NR), lo(xu, NR), hi(xu, NR), median(xt, NR), lo(xt, NR), hi(xt, NR)
		printf "  binary vs text format: dense %.2fx, uuid %.2fx, text %.2fx faster\n", median(bd2, NR), median(bu2, NR), median(bt2, NR)
		while ((getline line < cpuf) > 0) { split(line, cc, " "); nc++; for (i = 1; i <= 19; i++) { cv[i, nc] = cc[i] } }
		for (i = 1; i <= 19; i++) { for (r = 1; r <= nc; r++) tmp[r] = cv[i, r]; cm[i] = median(tmp, nc) }
		printf "  CPU of the servers (medians; source + 4 shards): dense %.2f + %.2f s, sparse %.2f + %.2f s, uuid %.2f + %.2f s, text %.2f + %.2f s, ICU text %.2f + %.2f s; without shared scans: uuid %.2f + %.2f s, text %.2f + %.2f s\n", cm[1], cm[2], cm[3], cm[4], cm[5], cm[6], cm[7], cm[8], cm[13], cm[14], cm[9], cm[10], cm[11], cm[12]
		printf "  CPU of pgreshard (medians): dense %.2f s, sparse %.2f s, uuid %.2f s, text %.2f s, ICU text %.2f s\n", cm[15], cm[16], cm[17], cm[18], cm[19]
		dc = cm[1] + cm[2] + cm[15]
		printf "  CPU of all (servers + pgreshard) per row, dense over each: sparse %.2f, uuid %.2f, text %.2f, ICU text %.2f (steadier than the wall clock on a shared machine)\n", dc / (cm[3] + cm[4] + cm[16]), dc / (cm[5] + cm[6] + cm[17]), dc / (cm[7] + cm[8] + cm[18]), dc / (cm[13] + cm[14] + cm[19])
		printf "  peak memory (max RSS): %6.1f MiB\n", rss / 1024
		while ((getline line < kills) > 0) { split(line, k, " "); n[k[1]]++; f = k[4] / krows; rec[k[1]] = rec[k[1]] sprintf(" %.2f", f); if (f > worst[k[1]]) worst[k[1]] = f }
		for (c in n) printf "  uuid table of %d rows killed -9 halfway, %s, %d runs: the rerun copied again%s of the table (worst %.2f)\n", krows, (c > 0 ? "the snapshot kept (the default)" : "no snapshot kept (copy.keep_snapshot_s 0: a crash that ends the snapshot)"), n[c], rec[c], worst[c] }' "$W/kres"
