/*
 * copy_rewrite.c — a table rewritten or truncated on the source after the
 * copy's snapshot: its chunks are read again under a new snapshot, never
 * copied empty.
 *
 * TRUNCATE and the ALTER TABLE forms that rewrite a table (ALTER COLUMN
 * ... TYPE, ADD COLUMN with a volatile default, SET ACCESS METHOD, ...) are
 * not MVCC-safe: once they commit, a transaction whose snapshot is older
 * sees the table empty (PostgreSQL documents this under "Caveats" of MVCC).
 * The copy reads every chunk under the snapshot the slot (or a rerun's
 * temporary slot) exported, so a chunk read after such a statement would
 * come back with no rows and be recorded done: the rows are lost on the
 * shards, and the stream never brings them (a rewrite is not in the WAL as
 * changes).  Seen on PostgreSQL 15: an ALTER COLUMN TYPE during a 12-chunk
 * copy left 20,136 of 60,000 rows on the shards, and the copy succeeded.
 *
 * Under the chunk's own snapshot pg_class still holds the table's file
 * number from before the statement, while pg_relation_filenode() reads the
 * current one: they differ exactly when the table was rewritten or
 * truncated after the snapshot.  The check runs after the chunk's COPY, in
 * the same transaction: its ACCESS SHARE lock was held since the COPY
 * started, so a rewrite committed after the check cannot have changed what
 * the COPY read, and one committed before is seen.  The chunk then fails
 * before anything is committed on the shards, and step_copy.c takes a new
 * snapshot and copies the chunks still missing under it (the same path as a
 * rerun, DESIGN.md invariant 4), that table in text format (its column
 * types may have just changed).  VACUUM FULL and CLUSTER also change the
 * file number: a needless but harmless new snapshot.
 *
 * A rewrite that changed a column's type (ALTER COLUMN ... TYPE) leaves
 * the shards behind until the stream reaches the ALTER, after the copy: the
 * chunks copied under the new snapshot are converted to the old type on
 * the way in (text format).  Widening (int to bigint, a longer varchar)
 * loses nothing; a value that does not fit fails the chunk with the
 * shard's error; a conversion that changes a value (numeric to a smaller
 * scale) is silent.  The stream, when it follows the new type, makes the
 * column's values the source's row by row (runner/follow/stream_fill.c),
 * which also covers a USING other than the cast; a table without a primary
 * key needs `pgreshard repair` then.  So the copy warns, naming the
 * columns.
 */
#include <stdlib.h>
#include <string.h>

#include "copy.h"
#include "log.h"

bool
copy_rel_rewritten(pgr_conn *src, const char *rel, bool *rewritten)
{
	const char *params[1] = {rel};
	PGresult   *res = pgr_query(src, "checking that the table was not rewritten since the snapshot",
								"SELECT c.relfilenode <> pg_relation_filenode(c.oid) FROM pg_class c "
								"WHERE c.oid = $1::regclass AND c.relkind IN ('r', 'm')", 1, params);

	if (res == NULL)
		return false;
	*rewritten = PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	return true;
}

bool
copy_source_unchanged(copy_run *run, copy_table *t, pgr_conn *src, const char *rel)
{
	bool		rewritten;

	if (!copy_rel_rewritten(src, rel, &rewritten))
		return false;
	if (!rewritten)
		return true;
	if (!atomic_exchange(&t->rewritten, true))
		log_warn("copy: table %s was rewritten or truncated on the source after the copy's snapshot "
				 "(ALTER TABLE ... TYPE, TRUNCATE, VACUUM FULL, ...): rows read under that snapshot would "
				 "be missing; its chunks not yet done are copied under a new snapshot", t->display);
	atomic_store(&run->rewritten, true);
	atomic_store(&run->abort, true);
	return false;
}

/* Table qname's columns on c: name, format_type. */
static PGresult *
column_types(pgr_conn *c, const char *qname)
{
	const char *params[1] = {qname};

	return pgr_query(c, "reading the table's column types",
					 "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
					 "WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped", 1, params);
}

void
copy_rewrite_check_types(apply_ctx *ctx, const char *display, const char *qname)
{
	pgr_conn   *src = pgr_connect(ctx->plan->source_dsns[0], ctx->sources[0].role, PGR_CONN_READ_ONLY);
	PGresult   *a = src ? column_types(src, qname) : NULL, *b = a ? column_types(ctx->state, qname) : NULL;
	strbuf		diff;

	sb_init(&diff);
	/* the columns both have, with another type on the source now */
	for (int i = 0; b && i < PQntuples(a); i++)
		for (int k = 0; k < PQntuples(b); k++)
			if (strcmp(PQgetvalue(a, i, 0), PQgetvalue(b, k, 0)) == 0 &&
				strcmp(PQgetvalue(a, i, 1), PQgetvalue(b, k, 1)) != 0)
				sb_printf(&diff, "%s%s (%s on the source, %s on the shards)", diff.len ? ", " : "",
						  PQgetvalue(a, i, 0), PQgetvalue(a, i, 1), PQgetvalue(b, k, 1));
	if (diff.len > 0)
		log_warn("copy: table %s: the source changed the type of %s during the copy; its rows copied from "
				 "now on are converted to the shards' types (a value that does not fit fails the copy) until "
				 "the stream follows the change, which then makes the column's values the source's row by "
				 "row (without a primary key, run `pgreshard repair %s` once it has: verify reports the rows "
				 "meanwhile)", display, diff.data, ctx->plan->path);
	sb_free(&diff);
	PQclear(a);
	PQclear(b);
	pgr_disconnect(src);
}
