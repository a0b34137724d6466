/*
 * saved_plan.c — write, read and check saved plans (saved_plan.h).
 *
 * The document is written to FILE.tmp and renamed, so a reader never sees
 * half of one.  Its id is the SHA-256 of the document without the id, keys
 * sorted: reading recomputes it, so a saved plan edited after `plan -o`
 * (another fingerprint, other plan text) is refused instead of trusted.
 *
 * Passwords: the plan file's text is kept verbatim, so a plan whose file
 * writes a password into a conninfo is refused before anything is inspected;
 * with ${VAR} references the secret stays in the environment of whoever
 * runs `apply`.  Nothing else in the document comes from a conninfo.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "digest.h"
#include "fingerprint.h"
#include "log.h"
#include "saved_plan.h"
#include "stepplan.h"
#include "xalloc.h"

bool
saved_plan_check_secrets(const plan *p)
{
	if (p->password_at == NULL)
		return true;
	log_error("plan -o: %s holds a password; a saved plan keeps the plan file's text, so write it "
			  "as a ${VAR} reference (password=${PGPASSWORD_SOURCE}, or the whole conninfo as ${SOURCE_DSN}) "
			  "or use a password file (PGPASSFILE); nothing was saved", p->password_at);
	return false;
}

/* SHA-256 of the document without its id, keys sorted. */
static bool
document_id(const json_t *doc, char out[SHA256_HEX_LEN + 1])
{
	json_t	   *copy = json_copy((json_t *) doc);
	char	   *text;

	json_object_del(copy, "id");
	text = json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(copy);
	if (text == NULL)
		return false;
	sha256_hex(text, strlen(text), out);
	free(text);
	return true;
}

static json_t *
plan_file_json(const plan *p)
{
	char		sha[SHA256_HEX_LEN + 1], dir[PATH_MAX];

	sha256_hex(p->text, p->text_len, sha);
	if (realpath(p->dir, dir) == NULL)
		snprintf(dir, sizeof(dir), "%s", p->dir);
	return json_pack("{s:s, s:s, s:s, s:s, s:s}", "path", p->path, "directory", dir,
					 "name", p->name, "sha256", sha, "text", p->text);
}

static bool
write_document(const char *path, const json_t *doc)
{
	char	   *tmp = xasprintf("%s.tmp", path);
	FILE	   *f = fopen(tmp, "w");
	bool		ok = f != NULL;

	if (ok)
	{
		ok = json_dumpf(doc, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER) == 0 && fputc('\n', f) != EOF;
		ok = fclose(f) == 0 && ok;
	}
	if (ok)
		ok = rename(tmp, path) == 0;
	if (!ok)
	{
		log_error("plan -o: cannot write %s: %s", path, strerror(errno));
		unlink(tmp);
	}
	free(tmp);
	return ok;
}

bool
saved_plan_write(const char *path, const plan *p, const catalog *cat)
{
	json_t	   *fp, *doc;
	char		id[SHA256_HEX_LEN + 1], now[32];
	time_t		t = time(NULL);
	struct tm	tm;
	bool		ok;

	if (!fingerprint_build(p, cat, &fp))
		return false;
	strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
	doc = json_pack("{s:i, s:i, s:s, s:s, s:o, s:o, s:o, s:o, s:o}",
					SAVED_PLAN_MARKER, SAVED_PLAN_FORMAT_VERSION,
					"format_version", SAVED_PLAN_FORMAT_VERSION,
					"pgreshard_version", PGRESHARD_VERSION, "created_at", now,
					"plan_file", plan_file_json(p), "steps", plan_steps_json(p, cat),
					"tables", plan_tables_json(p, cat), "findings", plan_findings_json(cat),
					"fingerprint", fp);
	if (doc == NULL || !document_id(doc, id))
	{
		log_error("plan -o: cannot build the saved plan (is the plan file valid UTF-8?)");
		json_decref(doc);
		return false;
	}
	json_object_set_new(doc, "id", json_string(id));
	ok = write_document(path, doc);
	if (ok)
		log_info("plan saved to %s (id %.12s); apply it with `pgreshard apply %s`", path, id, path);
	json_decref(doc);
	return ok;
}

/* Where to look for the plan file now: as given if that directory is here, else where it was. */
static char *
locate_plan_file(const char *given, const char *directory)
{
	char	   *copy = xstrdup(given), *base, *other;
	struct stat st;

	if (stat(dirname(copy), &st) == 0 && S_ISDIR(st.st_mode))
	{
		free(copy);
		return xstrdup(given);
	}
	free(copy);
	copy = xstrdup(given);
	base = basename(copy);
	other = xasprintf("%s/%s", directory, base);
	free(copy);
	return other;
}

static const char *
doc_string(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* The parts apply needs, and the id matching the content. */
static bool
check_document(const char *path, saved_plan *sp)
{
	const json_t *pf = json_object_get(sp->doc, "plan_file");
	const char *text = doc_string(pf, "text");
	char		id[SHA256_HEX_LEN + 1];

	if (text == NULL || doc_string(pf, "path") == NULL || doc_string(pf, "directory") == NULL ||
		!json_is_object(json_object_get(sp->doc, "fingerprint")) || doc_string(sp->doc, "id") == NULL)
	{
		log_error("%s: not a complete saved plan (plan_file, fingerprint or id missing); "
				  "make a new one with `pgreshard plan -o`", path);
		return false;
	}
	if (!document_id(sp->doc, id) || strcmp(id, doc_string(sp->doc, "id")) != 0)
	{
		log_error("%s: the saved plan was modified after `plan -o` (its content no longer matches "
				  "its id); make a new one with `pgreshard plan -o` and review it", path);
		return false;
	}
	sp->id = doc_string(sp->doc, "id");
	sp->created_at = doc_string(sp->doc, "created_at");
	sp->plan_path = locate_plan_file(doc_string(pf, "path"), doc_string(pf, "directory"));
	return true;
}

int
saved_plan_read(const char *path, saved_plan **out)
{
	json_error_t jerr;
	json_t	   *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	const json_t *version;
	saved_plan *sp;

	if (doc == NULL || !json_is_object(doc) || json_object_get(doc, SAVED_PLAN_MARKER) == NULL)
	{
		json_decref(doc);
		return 0;				/* a plan file (or nothing readable: plan_load says what) */
	}
	version = json_object_get(doc, "format_version");
	if (!json_is_integer(version) || json_integer_value(version) != SAVED_PLAN_FORMAT_VERSION)
	{
		char	   *v = version ? json_dumps(version, JSON_ENCODE_ANY) : NULL;

		log_error("%s: saved plan format_version %s is not supported by pgreshard %s (it reads "
				  "format_version %d); make the saved plan again with this version: pgreshard plan -o",
				  path, v ? v : "(missing)", PGRESHARD_VERSION, SAVED_PLAN_FORMAT_VERSION);
		free(v);
		json_decref(doc);
		return -1;
	}
	sp = xcalloc(1, sizeof(*sp));
	sp->file = xstrdup(path);
	sp->doc = doc;
	if (!check_document(path, sp))
	{
		saved_plan_free(sp);
		return -1;
	}
	*out = sp;
	return 1;
}

bool
saved_plan_plan(const saved_plan *sp, plan **out)
{
	const char *text = doc_string(json_object_get(sp->doc, "plan_file"), "text");

	if (!plan_load_text(sp->plan_path, text, strlen(text), out))
	{
		log_error("%s: the plan saved in it does not load here (see above)", sp->file);
		return false;
	}
	(*out)->saved_id = xstrdup(sp->id);
	return true;
}

/* The plan component of "now": the plan file at its place, or the saved one. */
static void
plan_on_disk(const saved_plan *sp, json_t *now, const json_t *saved_fp, json_t *changes)
{
	plan	   *disk;

	json_object_set(now, "plan", json_object_get(saved_fp, "plan"));
	if (access(sp->plan_path, F_OK) != 0)
	{
		log_info("%s: the plan file is not here; applying the plan saved in %s", sp->plan_path, sp->file);
		return;
	}
	if (!plan_load(sp->plan_path, &disk))
	{
		json_array_append_new(changes, json_sprintf("plan file changed: %s no longer loads (see above)",
													sp->plan_path));
		return;
	}
	json_object_set_new(now, "plan", fingerprint_plan(disk));
	plan_free(disk);
}

bool
saved_plan_changes(const saved_plan *sp, const plan *p, const catalog *cat, json_t *changes)
{
	const json_t *saved_fp = json_object_get(sp->doc, "fingerprint");
	json_t	   *now;

	if (!fingerprint_build(p, cat, &now))
		return false;
	plan_on_disk(sp, now, saved_fp, changes);
	fingerprint_diff(saved_fp, now, sp->id, changes);
	json_decref(now);
	return true;
}

void
saved_plan_free(saved_plan *sp)
{
	if (sp == NULL)
		return;
	free(sp->file);
	free(sp->plan_path);
	json_decref(sp->doc);
	free(sp);
}
