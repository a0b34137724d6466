/*
 * fingerprint.h — everything a plan depends on, as one JSON object, and the
 * comparison of two of them in plain words.
 *
 * `plan -o` saves the fingerprint with the plan; `apply SAVED` builds it again
 * from a fresh inspection and refuses to run (exit 3) when anything differs.
 * Components (keys of the object):
 *
 *   plan         the plan file: its SHA-256 and a summary of what it says
 *                (name, publication, shards, tables and keys, settings);
 *   hook_file    hooks.file and the SHA-256 of its content, or null;
 *   tables       per moved table: columns (position, type, not null,
 *                default, generated, identity), primary key, replica
 *                identity, persistence, the sharding key's types;
 *   publication  its name, whether it exists, its tables;
 *   sequences    those moved tables draw from: type, increment, users;
 *   sources      per source: server identity (system identifier, database
 *                name and OID) and the settings that matter (version,
 *                wal_level, max_replication_slots, max_wal_senders, encoding);
 *   shards       per shard: identity, version, encoding, and its state: the
 *                moved tables absent / empty / with rows, and whether a run
 *                of this plan exists and which saved plan started it.
 *
 * Progress is not a change: once `apply SAVED` has started, the shards hold
 * this plan's run (recorded with the saved plan's id) and the moved tables
 * fill up; fingerprint_diff() then skips the shards' table states, so a
 * rerun after a failure continues.  A run of the plan that appeared since
 * the plan was saved and that this saved plan did not start is a change.
 */
#ifndef PGR_FINGERPRINT_H
#define PGR_FINGERPRINT_H

#include <jansson.h>
#include <stdbool.h>

#include "catalog.h"
#include "plan.h"

/* The whole fingerprint (new reference).  False when the hook file cannot be
 * read (reported). */
bool fingerprint_build(const plan *p, const catalog *cat, json_t **out);

/* The `plan` component alone: the plan file's hash and summary (new reference). */
json_t *fingerprint_plan(const plan *p);

/*
 * Compare a saved fingerprint with the current one; every difference is
 * appended to `changes` as one sentence ("public.customers: column nickname
 * added", "shard 2: different server (system identifier 1 -> 2)").
 * saved_id is the saved plan's id: a run on the shards started by it is the
 * plan's own progress.  Pure: no I/O.
 */
void fingerprint_diff(const json_t *saved, const json_t *now, const char *saved_id,
					  json_t *changes);

#endif
