# test_verify.sh — `pgreshard verify`: a clean reshard matches (exit 0); tampered
# rows on a shard (changed, deleted, extra, misplaced) are found with exit 4,
# naming table, shard and key, in text and in JSON; writes on the source after the
# last apply are caught up between rounds rather than reported.
set -u
source "$(dirname "$0")/../lib/clusters.sh"
source "$(dirname "$0")/../lib/assert.sh"
source "$(dirname "$0")/../lib/reshard_checks.sh"
P=$PGRESHARD
DB=verifytest
W=$(mktemp -d)
trap 'rm -rf "$W"; drop_db_everywhere $DB' EXIT

realistic_move $DB verifytest "$W/plan.yaml"
expect_rc 0 "$P" apply --yes --until stream "$W/plan.yaml"
expect_rc 0 "$P" verify "$W/plan.yaml"
expect_contains "$OUT" "verify: source and shards match"

# source writes after the last apply: caught up between rounds, not reported
psql_on 0 $DB "UPDATE app.users SET name = 'renamed' WHERE id < 50; DELETE FROM app.events WHERE user_id = 7" >/dev/null
expect_rc 0 "$P" verify "$W/plan.yaml"
expect_contains "$OUT" "source and shards match"

# tamper with the shards
shard_of() { "$P" shard-of "$W/plan.yaml" app.users "$1" --type bigint; }
s100=$(shard_of 100); s101=$(shard_of 101); s102=$(shard_of 102)
psql_on $((s100 + 1)) $DB "UPDATE app.users SET name = 'tampered' WHERE id = 100" >/dev/null
psql_on $((s101 + 1)) $DB "DELETE FROM app.users WHERE id = 101" >/dev/null
psql_on $((s102 + 1)) $DB "DELETE FROM app.users WHERE id = 102" >/dev/null
wrong=$(( (s102 + 1) % 3 ))
psql_on $((wrong + 1)) $DB "INSERT INTO app.users (id, name) VALUES (102, 'user 102')" >/dev/null   # misplaced
extra=999999; se=$(shard_of $extra)
psql_on $((se + 1)) $DB "INSERT INTO app.users (id, name) VALUES ($extra, 'ghost')" >/dev/null
psql_on 2 $DB "UPDATE app.regions SET label = 'x' WHERE code = 1" >/dev/null
expect_rc 4 "$P" verify "$W/plan.yaml"
expect_contains "$OUT" "different app.users on shard $s100: key (100)"
expect_contains "$OUT" "missing app.users on shard $s101: key (101)"
expect_contains "$OUT" "missing app.users on shard $s102: key (102)"
expect_contains "$OUT" "misplaced app.users on shard $wrong: key (102)"
expect_contains "$OUT" "extra app.users on shard $se: key ($extra)"
expect_contains "$OUT" "different app.regions on shard 1: key (1)"
expect_contains "$OUT" "verify: 6 difference(s)"
expect_rc 4 "$P" verify --json "$W/plan.yaml"
echo "$OUT" >"$W/v.json"
expect_eq "$(jq -r .format_version "$W/v.json")" 1 "format_version"
expect_eq "$(jq -r .ok "$W/v.json")" false "ok"
expect_eq "$(jq -r '[.differences[] | select(.table == "app.users")] | length' "$W/v.json")" 5 "app.users differences"
expect_eq "$(jq -r '.differences[] | select(.kind == "extra") | .key' "$W/v.json")" "($extra)" "extra key"
