/*
 * pgoutput.h — decoder for PostgreSQL's logical replication protocol, as
 * written by the pgoutput plugin (protocol versions 1, 2 and 3; PostgreSQL 15).
 *
 * The stream step reads CopyData messages from a replication connection.
 * Each one is a frame ('w' XLogData carrying one pgoutput message, or 'k'
 * primary keepalive); pgo_parse_frame() splits it, pgo_decode() turns the
 * payload into a pgo_msg.  The decoder is pure: no I/O, and no allocation per
 * message once its reusable arrays have grown to the widest relation seen.
 *
 * Lifetimes: every pointer in a pgo_msg points either into the buffer that
 * was decoded (names, values, message content: valid while that buffer
 * lives) or into arrays owned by the decoder (columns, tuples' column
 * arrays, truncate relids: valid until the next pgo_decode).  Strings are
 * NUL-terminated in the buffer; values ('t', 'b') and message content are
 * not, use their lengths.
 *
 * Streaming (protocol 2+): between Stream Start and Stream Stop the change
 * messages (Relation, Type, Insert, Update, Delete, Truncate, Message) carry
 * the xid of the (sub)transaction that made them; the decoder tracks that
 * block in `in_stream` and reports the xid in msg.xid with has_xid set.
 * Begin, Commit, Stream Commit and Stream Abort are refused inside a block,
 * Stream Start inside one and Stream Stop outside one too: such a stream is
 * out of step and nothing after it can be trusted.  After a reconnect, start
 * over with pgo_decoder_init (or set in_stream to false).
 *
 * Errors: a decode that fails returns false, leaves the decoder's state as it
 * was, and writes into err one line naming the message and the field, e.g.
 * "Insert: new tuple column 3: length 4000 exceeds message (12 bytes left)".
 * Column numbers in messages count from 1.  Every read is bounds-checked.
 */
#ifndef PGR_PGOUTPUT_H
#define PGR_PGOUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum pgo_kind {
	PGO_BEGIN,					/* 'B' */
	PGO_COMMIT,					/* 'C' */
	PGO_ORIGIN,					/* 'O' */
	PGO_RELATION,				/* 'R' */
	PGO_TYPE,					/* 'Y' */
	PGO_INSERT,					/* 'I' */
	PGO_UPDATE,					/* 'U' */
	PGO_DELETE,					/* 'D' */
	PGO_TRUNCATE,				/* 'T' */
	PGO_MESSAGE,				/* 'M' */
	PGO_STREAM_START,			/* 'S' */
	PGO_STREAM_STOP,			/* 'E' */
	PGO_STREAM_COMMIT,			/* 'c' */
	PGO_STREAM_ABORT			/* 'A' */
} pgo_kind;

/* Column value kinds in TupleData. */
#define PGO_NULL		'n'
#define PGO_UNCHANGED	'u'		/* unchanged TOASTed value: not sent */
#define PGO_TEXT		't'
#define PGO_BINARY		'b'

typedef struct pgo_value {
	char		kind;			/* PGO_NULL, PGO_UNCHANGED, PGO_TEXT, PGO_BINARY */
	const char *data;			/* into the buffer, NULL for 'n' and 'u' */
	uint32_t	len;
} pgo_value;

typedef struct pgo_tuple {
	int			ncols;
	pgo_value  *cols;			/* decoder-owned */
} pgo_tuple;

/* Relation column flags. */
#define PGO_COLUMN_KEY	1		/* part of the replica identity key */

typedef struct pgo_column {
	uint8_t		flags;
	const char *name;
	uint32_t	type_oid;
	int32_t		typmod;
} pgo_column;

/* Truncate options. */
#define PGO_TRUNCATE_CASCADE			1
#define PGO_TRUNCATE_RESTART_IDENTITY	2

typedef struct pgo_msg {
	pgo_kind	kind;
	bool		has_xid;		/* xid below is set (Begin, stream messages) */
	uint32_t	xid;
	uint32_t	subxid;			/* Stream Abort: the aborted (sub)transaction */
	uint64_t	lsn;			/* Begin: final LSN; Commit/Stream Commit: commit LSN;
								 * Origin: origin's commit LSN; Message: its LSN */
	uint64_t	end_lsn;		/* Commit, Stream Commit: end of the commit record */
	int64_t		ts;				/* Begin, Commit, Stream Commit: commit time (us since 2000) */
	uint8_t		flags;			/* Commit, Stream Commit, Message flags as sent */
	uint32_t	relid;			/* Relation, Insert, Update, Delete */

	/* Relation ('R'); Type ('Y') also sets nspname */
	const char *nspname;		/* "pg_catalog" when sent as "" */
	const char *relname;
	char		replident;		/* 'd' default, 'n' nothing, 'f' full, 'i' index */
	int			ncols;
	pgo_column *columns;		/* decoder-owned */

	/* Insert, Update, Delete */
	char		old_kind;		/* 'K' key columns only, 'O' whole old row, or 0 */
	pgo_tuple	old_tuple;
	pgo_tuple	new_tuple;		/* Insert, Update */

	/* Truncate */
	int			nrelids;
	uint32_t   *relids;			/* decoder-owned */
	uint8_t		truncate_options;	/* PGO_TRUNCATE_* */

	/* Message ('M', pg_logical_emit_message) */
	bool		transactional;
	const char *prefix;
	const char *content;		/* not NUL-terminated */
	uint32_t	content_len;

	bool		first_segment;	/* Stream Start */
	const char *origin_name;	/* Origin */
	uint32_t	type_oid;		/* Type */
	const char *type_name;		/* Type */
} pgo_msg;

typedef struct pgo_decoder {
	bool		in_stream;		/* between Stream Start and Stream Stop */
	/* reusable arrays, grown on demand, never shrunk */
	pgo_column *columns;
	int			columns_cap;
	pgo_value  *old_cols;
	int			old_cap;
	pgo_value  *new_cols;
	int			new_cap;
	uint32_t   *relids;
	int			relids_cap;
} pgo_decoder;

void pgo_decoder_init(pgo_decoder *d);
void pgo_decoder_free(pgo_decoder *d);

/* Decode one pgoutput message.  False with err set when it is malformed. */
bool pgo_decode(pgo_decoder *d, const char *buf, size_t len, pgo_msg *out,
				char *err, size_t errlen);

/* The message kind's name ("Insert", "Stream Commit"...). */
const char *pgo_kind_name(pgo_kind kind);

/* ---- replication CopyData framing ---------------------------------- */

typedef struct pgo_frame {
	char		kind;			/* 'w' XLogData or 'k' primary keepalive */
	uint64_t	wal_start;		/* 'w': WAL position of the payload */
	uint64_t	wal_end;		/* current end of WAL on the server */
	int64_t		send_time;		/* server clock, us since 2000-01-01 */
	bool		reply_requested;	/* 'k': answer at once with a status update */
	const char *data;			/* 'w': the pgoutput message, into the buffer */
	size_t		len;
} pgo_frame;

/* Split one CopyData message of a replication stream. */
bool pgo_parse_frame(const char *buf, size_t len, pgo_frame *out,
					 char *err, size_t errlen);

#define PGO_STANDBY_STATUS_LEN 34

/*
 * Build a Standby Status Update ('r') into out (at least
 * PGO_STANDBY_STATUS_LEN bytes); returns its length.
 */
size_t pgo_build_standby_status(char *out, uint64_t write_lsn, uint64_t flush_lsn,
								uint64_t apply_lsn, int64_t now, bool reply);

/* Now, in PostgreSQL's clock: microseconds since 2000-01-01 00:00 UTC. */
int64_t pgo_now(void);

#endif
