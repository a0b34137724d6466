/*
 * spill.h — spill files for streamed (in-progress) transactions.
 *
 * With pgoutput's streaming (protocol 2+), a large transaction arrives in
 * blocks before it commits, and may still abort, as a whole or one
 * subtransaction at a time.  Its changes cannot be applied yet and must not
 * be held in memory, so the stream step appends each change message to a
 * file of its top-level transaction, and replays the file on Stream Commit.
 *
 * Subtransaction aborts: the store remembers, per transaction, the file
 * offset of each subtransaction's first change.  Aborting a subtransaction
 * truncates the file there and forgets the subtransactions recorded after
 * it: subtransactions nest in time, so everything written after an aborted
 * subtransaction's first change belongs to it or to its children (this is
 * how PostgreSQL's own apply worker handles them).
 *
 * Files live in a private directory (mode 0700) made by spill_open and
 * removed by spill_close; spill_open first removes the directories of
 * stores whose process died without closing them (spill_dir.c).  Writes are buffered; at most SPILL_MAX_OPEN files
 * are open at once (the least recently used is closed and later reopened in
 * append mode).  Memory is a few words per transaction and subtransaction,
 * the write buffers of the open files, and one replay buffer as large as the
 * largest record replayed.
 *
 * A store has one owner (the stream reader); it is not thread-safe.  Every
 * function returning false has logged the error (file name, errno text);
 * after a failed append or abort the transaction's file is no longer
 * trustworthy and the stream must be restarted from the slot.
 */
#ifndef PGR_SPILL_H
#define PGR_SPILL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SPILL_MAX_OPEN 64			/* spill files open at once */
#define SPILL_INITIAL_BUFFER 8192	/* replay buffer before it grows */

typedef struct spill_store spill_store;

/* Make a private directory in parent_dir (NULL: $TMPDIR or /tmp). */
spill_store *spill_open(const char *parent_dir);

/* Append one change of subtransaction subxid (== xid for the top level). */
bool spill_append(spill_store *s, uint32_t xid, uint32_t subxid,
				  const char *msg, size_t len);

/*
 * Abort: subxid == xid drops the whole transaction; otherwise drop the
 * subtransaction's changes and everything written after them.  Aborting
 * something that wrote nothing is a success.
 */
bool spill_abort(spill_store *s, uint32_t xid, uint32_t subxid);

typedef bool (*spill_replay_fn) (void *arg, const char *msg, size_t len);

/*
 * Call fn for each change of xid, in order, then forget the transaction and
 * delete its file, whatever the outcome.  Stops and returns false when fn
 * does (fn reports its own error).  A transaction that spilled nothing
 * replays as an empty success.  msg is valid only during the call, and fn
 * must not call into the store.
 */
bool spill_replay(spill_store *s, uint32_t xid, spill_replay_fn fn, void *arg);

/* Bytes spilled for xid (records and their length words); 0 if none. */
uint64_t spill_bytes(const spill_store *s, uint32_t xid);

/* Number of transactions with a spill file. */
int spill_count(const spill_store *s);

/* The store's private directory. */
const char *spill_dir(const spill_store *s);

/* Remove every file and the directory, free the store.  NULL is a no-op. */
void spill_close(spill_store *s);

#endif
