/*
 * saved_plan.h — `plan -o FILE` and `apply FILE`: a reviewed plan, frozen.
 *
 * A saved plan is one JSON document (jansson):
 *
 *   pgreshard_saved_plan  the marker `apply` recognises it by (= format_version)
 *   format_version        SAVED_PLAN_FORMAT_VERSION; another one is refused
 *   id                    SHA-256 of the rest of the document: it names this
 *                         saved plan in the state on the shards, and a saved
 *                         plan edited by hand no longer matches it
 *   pgreshard_version, created_at
 *   plan_file             path (as given to `plan`), directory (absolute),
 *                         name, sha256 and text: the plan file verbatim —
 *                         `apply` runs exactly this text; ${VAR} references
 *                         are expanded when it runs, and a plan file that
 *                         holds a password itself cannot be saved
 *   steps, tables, findings   what the reviewer saw (as `plan --json`)
 *   fingerprint           everything the plan depends on (fingerprint.h)
 *
 * `apply SAVED` inspects the databases again and compares fingerprints;
 * any change refuses the apply with exit 3 and a list of the changes.
 */
#ifndef PGR_SAVED_PLAN_H
#define PGR_SAVED_PLAN_H

#include <jansson.h>
#include <stdbool.h>

#include "catalog.h"
#include "plan.h"

#define SAVED_PLAN_FORMAT_VERSION 1
#define SAVED_PLAN_MARKER "pgreshard_saved_plan"

typedef struct saved_plan {
	char	   *file;			/* the saved plan's path */
	json_t	   *doc;
	const char *id;				/* in doc */
	const char *created_at;		/* in doc */
	char	   *plan_path;		/* where the original plan file is looked for now */
} saved_plan;

/* Refuse (with the reason logged) a plan whose file text holds a password. */
bool saved_plan_check_secrets(const plan *p);

/* Write the saved plan for p to path (atomically). */
bool saved_plan_write(const char *path, const plan *p, const catalog *cat);

/*
 * Read path: 1 and *out when it is a saved plan, 0 when it is not (a plan
 * file), -1 when it is a saved plan that cannot be used (reported: an
 * unsupported format_version, a damaged or edited document).
 */
int saved_plan_read(const char *path, saved_plan **out);

/* The embedded plan, loaded as if from its original place (hooks.file
 * resolves there); *out gets saved_id. */
bool saved_plan_plan(const saved_plan *sp, plan **out);

/*
 * What changed since the plan was saved, from a fresh inspection of the
 * embedded plan p (cat), and the plan file at its original place if it is
 * there.  Sentences are appended to changes; false on an error.
 */
bool saved_plan_changes(const saved_plan *sp, const plan *p, const catalog *cat, json_t *changes);

void saved_plan_free(saved_plan *sp);

#endif
