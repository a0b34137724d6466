# bench/copy_keys.sh — sourced by bench/copy.sh (its clusters, $P, $W, $ROWS):
# chunks of any key.  Four tables of ROWS rows with the same payload, keyed by
#   dense   bigint 1..ROWS
#   sparse  bigint, skewed: 90% of the rows packed at the start, 10% spread
#           over a range 10^9 times wider (snowflake-like), so min..max
#           arithmetic would put 90% of the table in the first chunk
#   uuid    gen_random_uuid()
#   text    a 20-40 character slug under the database's collation (C.UTF-8:
#           compared by the server)
# Each is copied alone 1 -> 4 (copy.jobs 4, chunk_rows ROWS/8), rounds of all
# four in turn, ratios against dense in the same round, medians; then dense
# and uuid with jobs 1; then the uuid table killed -9 once half of its chunks
# are on shard 0, and the share of it the rerun copies again.
echo "bench/copy keys: loading 4 tables of $ROWS rows..."
psql_on 0 bench "
CREATE TABLE k_dense (id bigint PRIMARY KEY, n int NOT NULL, payload text);
CREATE TABLE k_sparse (id bigint PRIMARY KEY, n int NOT NULL, payload text);
CREATE TABLE k_uuid (id uuid PRIMARY KEY, n int NOT NULL, payload text);
CREATE TABLE k_text (id text PRIMARY KEY, n int NOT NULL, payload text);
INSERT INTO k_dense SELECT g, g % 1000, repeat(md5(g::text), 2) FROM generate_series(1, $ROWS) g;
INSERT INTO k_sparse SELECT CASE WHEN g % 10 = 0 THEN 1000000000000 + g::bigint * 1000000000 ELSE g END,
       g % 1000, repeat(md5(g::text), 2) FROM generate_series(1, $ROWS) g;
INSERT INTO k_uuid SELECT gen_random_uuid(), g % 1000, repeat(md5(g::text), 2) FROM generate_series(1, $ROWS) g;
INSERT INTO k_text SELECT substr(md5(g::text), 1, 20 + g % 20) || '-' || g, g % 1000, repeat(md5(g::text), 2)
       FROM generate_series(1, $ROWS) g;
CREATE PUBLICATION pub_k_dense FOR TABLE k_dense;
CREATE PUBLICATION pub_k_sparse FOR TABLE k_sparse;
CREATE PUBLICATION pub_k_uuid FOR TABLE k_uuid;
CREATE PUBLICATION pub_k_text FOR TABLE k_text;
ANALYZE;" >/dev/null

keyplan() {	# TABLE JOBS -> plan file
	cat >"$W/k_$1_$2.yaml" <<YAML
version: 1
name: bk_$1_$2
source: { dsn: "\${SRC}", publication: pub_$1 }
destination: { shards: ["\${S0}", "\${S1}", "\${S2}", "\${S3}"] }
tables:
  $1: { key: id }
copy: { jobs: $2, chunk_rows: $((ROWS / 8)) }
YAML
	echo "$W/k_$1_$2.yaml"
}

keycopy() {	# TABLE JOBS: prints copy-step seconds and max RSS (KiB); exits on failure
	local plan
	plan=$(keyplan "$1" "$2")
	drop_slots 0 bench
	for s in 1 2 3 4; do psql_on $s bench "DROP SCHEMA IF EXISTS pgreshard CASCADE; DROP TABLE IF EXISTS $1" >/dev/null; done
	/usr/bin/time -f "%M" -o "$W/ktime" "$P" apply --yes --until copy "$plan" 2>"$W/k.log" ||
		{ cat "$W/k.log" >&2; kill $$; exit 1; }
	sed -n 's/.*copy: [0-9]* rows (\([0-9]*\) bytes).*/\1/p' "$W/k.log" >"$W/kbytes_$1"
	echo "$(sed -n 's/.*step copy: done in \([0-9.]*\) s.*/\1/p' "$W/k.log") $(cat "$W/ktime")"
}

: >"$W/kres"
for rep in 1 2 3; do
	line=""
	for t in k_dense k_sparse k_uuid k_text; do
		read -r sec rss <<<"$(keycopy $t 4)"
		line="$line $sec $rss"
	done
	read -r d1 _ <<<"$(keycopy k_dense 1)"
	read -r u1 _ <<<"$(keycopy k_uuid 1)"
	echo "$line $d1 $u1" >>"$W/kres"
	awk -v rep="$rep" '{ printf "  round %d: dense %.2f s, sparse %.2f s, uuid %.2f s, text %.2f s; jobs 1: dense %.2f s, uuid %.2f s\n", rep, $1, $3, $5, $7, $9, $10 }' <(tail -1 "$W/kres")
done

# kill -9 halfway through the uuid table, then the rerun
plan=$(keyplan k_uuid 4)
drop_slots 0 bench
for s in 1 2 3 4; do psql_on $s bench "DROP SCHEMA IF EXISTS pgreshard CASCADE; DROP TABLE IF EXISTS k_uuid" >/dev/null; done
"$P" apply --yes --until copy "$plan" 2>"$W/kill.log" &
kpid=$!
for ((i = 0; i < 6000; i++)); do
	[ "$(psql_on 1 bench "SELECT count(*) FROM pgreshard.chunks_done" 2>/dev/null || echo 0)" -ge 4 ] && break
	sleep 0.05
done
kill -9 $kpid 2>/dev/null || true
wait $kpid 2>/dev/null || true
before=$(for s in 1 2 3 4; do psql_on $s bench "SELECT coalesce(sum(rows), 0) FROM pgreshard.chunks_done"; done | awk '{s += $1} END {print s}')
chunks=$(psql_on 1 bench "SELECT count(*) FROM pgreshard.chunk_plan")
/usr/bin/time -f "%M" -o "$W/ktime" "$P" apply --yes --until copy "$plan" 2>"$W/rerun.log" || { cat "$W/rerun.log" >&2; exit 1; }
again=$(sed -n 's/.*copy: \([0-9]*\) chunk(s) to copy.*/\1/p' "$W/rerun.log")
after=$(for s in 1 2 3 4; do psql_on $s bench "SELECT count(*) FROM k_uuid"; done | awk '{s += $1} END {print s}')
[ "$after" = "$ROWS" ] || { echo "bench/copy keys: expected $ROWS uuid rows on the shards after the rerun, found $after" >&2; exit 1; }

# the tables' rows are not equally wide (COPY text of a uuid or slug key is ~30 bytes longer
# than a bigint's): throughput is also given per byte copied
awk -v rows="$ROWS" -v before="$before" -v again="$again" -v chunks="$chunks" -v cpus="$(nproc)" \
	-v bd="$(cat "$W/kbytes_k_dense")" -v bs="$(cat "$W/kbytes_k_sparse")" -v bu="$(cat "$W/kbytes_k_uuid")" \
	-v bt="$(cat "$W/kbytes_k_text")" '
	function median(x, n,   i, j, t) { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (x[j] < x[i]) { t = x[i]; x[i] = x[j]; x[j] = t } return x[int((n + 1) / 2)] }
	{ d[NR] = $1; s[NR] = $3; u[NR] = $5; t[NR] = $7; d1[NR] = $9; u1[NR] = $10
	  rs[NR] = $1 / $3; ru[NR] = $1 / $5; rt[NR] = $1 / $7; jd[NR] = $9 / $1; ju[NR] = $10 / $5
	  for (f = 2; f <= 8; f += 2) if ($f > rss) rss = $f }
	END {
		printf "bench/copy keys: %d rows per table, 1 -> 4 shards, jobs 4, 8 chunks, median of %d rounds (%d CPUs)\n", rows, NR, cpus
		printf "  dense bigint:          %6.2f s\n", median(d, NR)
		printf "  sparse skewed bigint:  %6.2f s   throughput vs dense %.2f (per byte %.2f)\n", median(s, NR), median(rs, NR), median(rs, NR) * bs / bd
		printf "  uuid:                  %6.2f s   throughput vs dense %.2f (per byte %.2f)\n", median(u, NR), median(ru, NR), median(ru, NR) * bu / bd
		printf "  text (C.UTF-8):        %6.2f s   throughput vs dense %.2f (per byte %.2f)\n", median(t, NR), median(rt, NR), median(rt, NR) * bt / bd
		printf "  COPY bytes per table:  dense %d, sparse %d, uuid %d, text %d\n", bd, bs, bu, bt
		printf "  jobs 4 vs jobs 1:      dense %.2fx, uuid %.2fx\n", median(jd, NR), median(ju, NR)
		printf "  peak memory (max RSS): %6.1f MiB\n", rss / 1024
		printf "  uuid killed -9 after %d rows on the shards: rerun copied %d of %d chunks, %.2f of the table again\n", before, again, chunks, (rows - before) / rows }' "$W/kres"
