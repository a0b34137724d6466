/*
 * pgoutput_capture.c — the pgoutput decoder and spill files against a real
 * PostgreSQL 15 walsender, and the source of tests/data/pgoutput-*.bin.
 *
 * In a throwaway schema it creates tables with each replica identity, a
 * TOASTed column, an enum (for Type messages), a publication and two logical
 * slots; runs a workload (inserts, updates with and without a key change,
 * deletes, truncate, a logical message, a transaction large enough to be
 * streamed under logical_decoding_work_mem=64kB with a rolled-back
 * savepoint, and a streamed transaction that aborts); then reads each slot
 * over a replication connection, one with protocol 1 and one with protocol 2
 * and streaming on, parsing every CopyData frame, answering keepalives with
 * standby status updates, and decoding every message.
 *
 * Checks: every frame and message decodes; applying the stream (streamed
 * changes through a spill store, subtransaction and whole aborts included)
 * inserts exactly rows 1..500 and 1001..1050 of the streamed table in both
 * protocols; key-change updates carry 'K', REPLICA IDENTITY FULL carries
 * 'O', the unchanged TOASTed column comes as 'u'.
 *
 * With PGR_CAPTURE_DIR set, the payloads are also saved there as
 * pgoutput-v1.bin and pgoutput-v2-stream.bin: a sequence of records, each a
 * 4-byte big-endian length and one pgoutput message.  Needs PGR_TEST_DSN (a
 * libpq conninfo to a PostgreSQL 15 database with wal_level=logical where it
 * may create and drop things); skips without it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <libpq-fe.h>

#include "pgoutput.h"
#include "spill.h"
#include "strbuf.h"

#define STREAM_IDS 2600			/* ids of the streamed table stay below */
#define DEADLINE_S 60

typedef struct cap_state {
	PGconn	   *conn;			/* NULL: no PGR_TEST_DSN, the test skips */
	const char *dsn;
	char		name[64];		/* schema, publication and slot prefix */
} cap_state;

static const char *const workload[] = {
	"INSERT INTO t_default VALUES (1, 10, 'one'), (2, 20, NULL)",
	"UPDATE t_default SET note = 'uno' WHERE id = 1",
	"UPDATE t_default SET id = 3 WHERE id = 2",
	"DELETE FROM t_default WHERE id = 1",
	"INSERT INTO t_full VALUES (1, 'a')",
	"UPDATE t_full SET note = 'b'",
	"DELETE FROM t_full",
	"INSERT INTO t_toast SELECT 1, string_agg(md5(g::text), ''), 1 FROM generate_series(1, 100) g",
	"UPDATE t_toast SET small = 2",
	"INSERT INTO t_enum VALUES (1, 'sad')",
	"SELECT pg_logical_emit_message(true, 'pgr_test', 'hello')",
	"TRUNCATE t_default, t_full RESTART IDENTITY CASCADE",
	"BEGIN",
	"INSERT INTO t_stream SELECT g, 'row ' || g FROM generate_series(1, 500) g",
	"SAVEPOINT a",
	"INSERT INTO t_stream SELECT g, 'gone ' || g FROM generate_series(501, 1000) g",
	"ROLLBACK TO a",
	"INSERT INTO t_stream SELECT g, 'row ' || g FROM generate_series(1001, 1050) g",
	"COMMIT",
	"BEGIN",
	"INSERT INTO t_stream SELECT g, 'gone ' || g FROM generate_series(2001, 2500) g",
	"ROLLBACK",
	"SELECT pg_logical_emit_message(false, 'pgr_capture_end', 'end')",
};

/* ---- SQL ---------------------------------------------------------------- */

static bool
run_sql(PGconn *conn, const char *sql)
{
	PGresult   *res = PQexec(conn, sql);
	bool		ok = PQresultStatus(res) == PGRES_COMMAND_OK ||
		PQresultStatus(res) == PGRES_TUPLES_OK;

	if (!ok)
		print_error("pgoutput_capture: %s: %s", sql, PQerrorMessage(conn));
	PQclear(res);
	return ok;
}

static bool
run_sqlf(PGconn *conn, const char *fmt, const char *ident)
{
	char	   *q = PQescapeIdentifier(conn, ident, strlen(ident));
	char		sql[512];

	if (q == NULL)
		return false;
	snprintf(sql, sizeof(sql), fmt, q, q, q);
	PQfreemem(q);
	return run_sql(conn, sql);
}

static bool
create_objects(cap_state *st)
{
	char		slot[80];
	const char *params[1] = {slot};

	if (!run_sqlf(st->conn, "SET client_min_messages = warning; DROP SCHEMA IF EXISTS %s CASCADE; "
				  "CREATE SCHEMA %s; SET search_path TO %s", st->name) ||
		!run_sql(st->conn, "CREATE TABLE t_default (id int PRIMARY KEY, k int, note text);"
				 "CREATE TABLE t_full (id int, note text);"
				 "ALTER TABLE t_full REPLICA IDENTITY FULL;"
				 "CREATE TABLE t_toast (id int PRIMARY KEY, big text, small int);"
				 "ALTER TABLE t_toast ALTER big SET STORAGE EXTERNAL;"
				 "CREATE TYPE mood AS ENUM ('ok', 'sad');"
				 "CREATE TABLE t_enum (id int PRIMARY KEY, m mood);"
				 "CREATE TABLE t_stream (id int PRIMARY KEY, pad text)") ||
		!run_sqlf(st->conn, "CREATE PUBLICATION %s FOR TABLE t_default, t_full, t_toast, "
				  "t_enum, t_stream", st->name))
		return false;
	for (int v = 1; v <= 2; v++)
	{
		PGresult   *res;
		bool		ok;

		snprintf(slot, sizeof(slot), "%s_v%d", st->name, v);
		res = PQexecParams(st->conn, "SELECT pg_create_logical_replication_slot($1, 'pgoutput')",
						   1, NULL, params, NULL, NULL, 0);
		ok = PQresultStatus(res) == PGRES_TUPLES_OK;
		if (!ok)
			print_error("pgoutput_capture: creating slot %s: %s", slot, PQerrorMessage(st->conn));
		PQclear(res);
		if (!ok)
			return false;
	}
	return true;
}

static void
drop_objects(cap_state *st)
{
	char		slot[80];
	const char *params[1] = {slot};

	for (int v = 1; v <= 2; v++)
	{
		snprintf(slot, sizeof(slot), "%s_v%d", st->name, v);
		/* the walsender may take a moment to release it */
		for (int tries = 0; tries < 50; tries++)
		{
			PGresult   *res = PQexecParams(st->conn,
										   "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
										   "WHERE slot_name = $1", 1, NULL, params, NULL, NULL, 0);
			bool		ok = PQresultStatus(res) == PGRES_TUPLES_OK;

			PQclear(res);
			if (ok)
				break;
			usleep(100000);
		}
	}
	run_sqlf(st->conn, "DROP PUBLICATION IF EXISTS %s; DROP SCHEMA IF EXISTS %s CASCADE", st->name);
}

/* ---- the replication connection ----------------------------------------- */

static PGconn *
replication_connect(const char *dsn)
{
	const char *keys[] = {"dbname", "replication", "options", NULL};
	const char *vals[] = {dsn, "database", "-c logical_decoding_work_mem=64kB", NULL};
	PGconn	   *conn = PQconnectdbParams(keys, vals, 1);

	if (PQstatus(conn) != CONNECTION_OK)
	{
		print_error("pgoutput_capture: replication connection: %s", PQerrorMessage(conn));
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

static bool
send_status(PGconn *conn, uint64_t lsn)
{
	char		msg[PGO_STANDBY_STATUS_LEN];
	size_t		n = pgo_build_standby_status(msg, lsn, lsn, lsn, pgo_now(), false);

	return PQputCopyData(conn, msg, (int) n) == 1 && PQflush(conn) == 0;
}

/* Wait for the next CopyData message; its length, or -1 at the end or error. */
static int
next_copydata(PGconn *conn, char **buf, time_t deadline)
{
	int			n;

	while ((n = PQgetCopyData(conn, buf, 1)) == 0)
	{
		fd_set		rfds;
		struct timeval tv = {1, 0};

		if (time(NULL) > deadline)
		{
			print_error("pgoutput_capture: no end marker after %d s\n", DEADLINE_S);
			return -1;
		}
		FD_ZERO(&rfds);
		FD_SET(PQsocket(conn), &rfds);
		if (select(PQsocket(conn) + 1, &rfds, NULL, NULL, &tv) < 0 || !PQconsumeInput(conn))
			return -1;
	}
	if (n < 0)
		print_error("pgoutput_capture: stream ended: %s", PQerrorMessage(conn));
	return n;
}

/* Append one payload to the image: 4-byte big-endian length, then the bytes. */
static void
image_append(strbuf *image, const char *data, size_t len)
{
	char		hdr[4] = {(char) (len >> 24), (char) (len >> 16), (char) (len >> 8), (char) len};

	sb_append_len(image, hdr, 4);
	sb_append_len(image, data, len);
}

/* One XLogData frame: decode, keep; *done at the end marker. */
static bool
take_xlogdata(pgo_decoder *d, const pgo_frame *f, strbuf *image, bool *done)
{
	pgo_msg		msg;
	char		err[256];

	if (!pgo_decode(d, f->data, f->len, &msg, err, sizeof(err)))
	{
		print_error("pgoutput_capture: %s\n", err);
		return false;
	}
	image_append(image, f->data, f->len);
	*done = msg.kind == PGO_MESSAGE && strcmp(msg.prefix, "pgr_capture_end") == 0;
	return true;
}

/* Read the slot until the end marker, collecting every payload in image. */
static bool
read_slot(PGconn *conn, strbuf *image)
{
	pgo_decoder d;
	time_t		deadline = time(NULL) + DEADLINE_S;
	uint64_t	last_end = 0;
	bool		done = false, ok = true;
	char	   *buf = NULL;
	int			n, frames = 0;

	pgo_decoder_init(&d);
	while (ok && !done && (n = next_copydata(conn, &buf, deadline)) > 0)
	{
		pgo_frame	f;
		char		err[256];

		frames++;
		ok = pgo_parse_frame(buf, (size_t) n, &f, err, sizeof(err));
		if (!ok)
			print_error("pgoutput_capture: frame %d: %s\n", frames, err);
		else if (f.kind == 'w')
			ok = take_xlogdata(&d, &f, image, &done);
		else if (f.reply_requested)
			ok = send_status(conn, last_end);
		if (ok && f.wal_end > last_end)
			last_end = f.wal_end;
		PQfreemem(buf);
	}
	pgo_decoder_free(&d);
	if (done)
		ok = send_status(conn, last_end) && PQputCopyEnd(conn, NULL) == 1;
	return ok && done;
}

static bool
capture_slot(cap_state *st, int proto, strbuf *image)
{
	PGconn	   *conn = replication_connect(st->dsn);
	char		sql[512];
	PGresult   *res;
	bool		ok;

	if (conn == NULL)
		return false;
	snprintf(sql, sizeof(sql), "START_REPLICATION SLOT %s_v%d LOGICAL 0/0 (proto_version '%d', "
			 "%spublication_names '%s', messages 'true')", st->name, proto, proto,
			 proto >= 2 ? "streaming 'on', " : "", st->name);
	res = PQexec(conn, sql);
	ok = PQresultStatus(res) == PGRES_COPY_BOTH;
	if (!ok)
		print_error("pgoutput_capture: %s: %s", sql, PQerrorMessage(conn));
	PQclear(res);
	ok = ok && read_slot(conn, image);
	PQfinish(conn);
	return ok;
}

/* ---- applying the captured stream ---------------------------------------- */

typedef struct model {
	pgo_decoder replay;			/* decodes replayed streamed changes */
	spill_store *spill;
	uint32_t	stream_xid;		/* top-level xid of the current streamed block */
	uint32_t	relids[8];
	char		relnames[8][32];
	int			nrels;
	unsigned char seen[STREAM_IDS];
	int			applied, stream_blocks;
	bool		saw_key_update, saw_full_update, saw_unchanged_toast, saw_sub_abort;
} model;

/* The integer in a text value. */
static int
text_int(const pgo_value *v)
{
	int			n = 0;

	assert_int_equal(v->kind, PGO_TEXT);
	for (uint32_t i = 0; i < v->len; i++)
	{
		assert_true(v->data[i] >= '0' && v->data[i] <= '9');
		n = n * 10 + (v->data[i] - '0');
	}
	return n;
}

static const char *
relname_of(const model *m, uint32_t relid)
{
	for (int i = 0; i < m->nrels; i++)
		if (m->relids[i] == relid)
			return m->relnames[i];
	return "?";
}

static void
apply_change(model *m, const pgo_msg *msg)
{
	const char *rel = relname_of(m, msg->relid);

	if (msg->kind == PGO_RELATION && m->nrels < 8 && strcmp(rel, "?") == 0)
	{
		m->relids[m->nrels] = msg->relid;
		snprintf(m->relnames[m->nrels++], sizeof(m->relnames[0]), "%s", msg->relname);
	}
	else if (msg->kind == PGO_INSERT && strcmp(rel, "t_stream") == 0)
	{
		int			id = text_int(&msg->new_tuple.cols[0]);

		assert_in_range(id, 1, STREAM_IDS - 1);
		assert_int_equal(m->seen[id], 0);
		m->seen[id] = 1;
		m->applied++;
	}
	else if (msg->kind == PGO_UPDATE && strcmp(rel, "t_default") == 0 && msg->old_kind == 'K')
		m->saw_key_update = true;
	else if (msg->kind == PGO_UPDATE && strcmp(rel, "t_full") == 0 && msg->old_kind == 'O')
		m->saw_full_update = true;
	else if (msg->kind == PGO_UPDATE && strcmp(rel, "t_toast") == 0)
		m->saw_unchanged_toast = msg->new_tuple.cols[1].kind == PGO_UNCHANGED;
}

static bool
replay_one(void *arg, const char *data, size_t len)
{
	model	   *m = arg;
	pgo_msg		msg;
	char		err[256];

	if (!pgo_decode(&m->replay, data, len, &msg, err, sizeof(err)))
		fail_msg("replayed change: %s", err);
	apply_change(m, &msg);
	return true;
}

/* One message as it arrived: streamed changes are spilled, the rest applied. */
static void
take_message(model *m, pgo_decoder *d, const char *data, size_t len)
{
	pgo_msg		msg;
	char		err[256];

	if (!pgo_decode(d, data, len, &msg, err, sizeof(err)))
		fail_msg("%s", err);
	if (msg.kind == PGO_STREAM_START)
		m->stream_xid = msg.xid, m->stream_blocks++;
	else if (msg.kind == PGO_STREAM_ABORT)
	{
		m->saw_sub_abort |= msg.subxid != msg.xid;
		assert_true(spill_abort(m->spill, msg.xid, msg.subxid));
	}
	else if (msg.kind == PGO_STREAM_COMMIT)
		assert_true(spill_replay(m->spill, msg.xid, replay_one, m));
	else if (d->in_stream && msg.kind != PGO_STREAM_STOP && msg.kind != PGO_ORIGIN)
	{
		assert_true(msg.has_xid);
		assert_true(spill_append(m->spill, m->stream_xid, msg.xid, data, len));
	}
	if ((!d->in_stream && msg.kind != PGO_STREAM_COMMIT) || msg.kind == PGO_RELATION)
		apply_change(m, &msg);
}

/* Apply a whole capture image and check the outcome. */
static void
check_image(const strbuf *image, bool streaming)
{
	model	   *m = calloc(1, sizeof(model));
	pgo_decoder d;
	size_t		pos = 0;

	assert_non_null(m);
	pgo_decoder_init(&d);
	pgo_decoder_init(&m->replay);
	m->replay.in_stream = true;
	m->spill = spill_open(NULL);
	assert_non_null(m->spill);
	while (pos + 4 <= image->len)
	{
		const unsigned char *h = (const unsigned char *) image->data + pos;
		size_t		len = (size_t) h[0] << 24 | (size_t) h[1] << 16 | (size_t) h[2] << 8 | h[3];

		assert_true(pos + 4 + len <= image->len);
		take_message(m, &d, image->data + pos + 4, len);
		pos += 4 + len;
	}
	assert_int_equal(pos, image->len);
	print_message("pgoutput_capture: protocol %d: %zu bytes, %d streamed blocks, %d rows applied\n",
				  streaming ? 2 : 1, image->len, m->stream_blocks, m->applied);
	assert_int_equal(m->applied, 550);
	for (int id = 1; id < STREAM_IDS; id++)
		assert_int_equal(m->seen[id], (id <= 500 || (id >= 1001 && id <= 1050)) ? 1 : 0);
	assert_true(m->saw_key_update && m->saw_full_update && m->saw_unchanged_toast);
	assert_int_equal(m->stream_blocks > 0, streaming);
	assert_int_equal(m->saw_sub_abort, streaming);
	assert_int_equal(spill_count(m->spill), 0);
	spill_close(m->spill);
	pgo_decoder_free(&m->replay);
	pgo_decoder_free(&d);
	free(m);
}

static void
save_image(const strbuf *image, const char *name)
{
	const char *dir = getenv("PGR_CAPTURE_DIR");
	char		path[1024];
	FILE	   *f;

	if (dir == NULL || dir[0] == '\0')
		return;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(image->data, 1, image->len, f), image->len);
	assert_int_equal(fclose(f), 0);
	print_message("pgoutput_capture: saved %s\n", path);
}

/* ---- the test ------------------------------------------------------------ */

static void
test_capture(void **state)
{
	cap_state  *st = *state;
	strbuf		v1, v2;

	if (st->conn == NULL)
		skip();
	for (size_t i = 0; i < sizeof(workload) / sizeof(workload[0]); i++)
		assert_true(run_sql(st->conn, workload[i]));
	sb_init(&v1);
	sb_init(&v2);
	assert_true(capture_slot(st, 1, &v1));
	assert_true(capture_slot(st, 2, &v2));
	check_image(&v1, false);
	check_image(&v2, true);
	save_image(&v1, "pgoutput-v1.bin");
	save_image(&v2, "pgoutput-v2-stream.bin");
	sb_free(&v1);
	sb_free(&v2);
}

static int
group_setup(void **state)
{
	static cap_state st;

	*state = &st;
	st.dsn = getenv("PGR_TEST_DSN");
	if (st.dsn == NULL || st.dsn[0] == '\0')
	{
		print_message("pgoutput_capture: PGR_TEST_DSN is not set; skipping\n");
		return 0;
	}
	st.conn = PQconnectdb(st.dsn);
	if (PQstatus(st.conn) != CONNECTION_OK)
	{
		print_error("pgoutput_capture: cannot connect: %s", PQerrorMessage(st.conn));
		return -1;
	}
	snprintf(st.name, sizeof(st.name), "pgr_cap_%ld", (long) getpid());
	print_message("pgoutput_capture: server %d, objects %s\n", PQserverVersion(st.conn), st.name);
	if (create_objects(&st))
		return 0;
	drop_objects(&st);
	PQfinish(st.conn);
	return -1;
}

static int
group_teardown(void **state)
{
	cap_state  *st = *state;

	if (st->conn == NULL)
		return 0;
	drop_objects(st);
	PQfinish(st->conn);
	st->conn = NULL;
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_capture),
	};

	return cmocka_run_group_tests_name("pgoutput_capture", tests, group_setup, group_teardown);
}
