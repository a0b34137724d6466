/*
 * fingerprint_diff.c — what changed between a saved fingerprint and now, in
 * plain words, one sentence per change (fingerprint.h).
 *
 * A pure function of two JSON documents, so it is unit-tested without a
 * database (tests/unit/planner/test_fingerprint.c).  Each component has its own
 * wording; the generic walk below handles "attribute changed (a -> b)" and
 * "member added / removed" for the nested parts (columns of a table, tables
 * of the plan, sequences).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fingerprint.h"
#include "strbuf.h"
#include "xalloc.h"

static void
add(json_t *changes, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
add(json_t *changes, const char *fmt, ...)
{
	va_list		ap;
	strbuf		sb;

	sb_init(&sb);
	va_start(ap, fmt);
	sb_vprintf(&sb, fmt, ap);
	va_end(ap);
	json_array_append_new(changes, json_string(sb.data));
	sb_free(&sb);
}

/* A value as people read it (malloc'd). */
static char *
text_of(const json_t *v)
{
	if (v == NULL || json_is_null(v))
		return xstrdup("none");
	if (json_is_string(v))
		return xstrdup(json_string_value(v));
	if (json_is_true(v))
		return xstrdup("yes");
	if (json_is_false(v))
		return xstrdup("no");
	if (json_is_integer(v))
		return xasprintf("%lld", (long long) json_integer_value(v));
	{
		char	   *d = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
		char	   *r = xstrdup(d ? d : "?");

		free(d);
		return r;
	}
}

/* Our keys in words: "primary_key" -> "primary key"; settings keep their names. */
static const char *
words(const char *key, char *buf, size_t len)
{
	static const char *const ours[] = {"primary_key", "replica_identity", "not_null", "used_by",
		"sharding_key", NULL};

	snprintf(buf, len, "%s", key);
	for (int i = 0; ours[i]; i++)
		if (strcmp(key, ours[i]) == 0)
			for (char *c = buf; *c; c++)
				if (*c == '_')
					*c = ' ';
	return buf;
}

static void
changed(json_t *changes, const char *prefix, const char *key, const json_t *a, const json_t *b)
{
	char		w[128];
	char	   *ta = text_of(a), *tb = text_of(b);

	add(changes, "%s%s changed (%s -> %s)", prefix, words(key, w, sizeof(w)), ta, tb);
	free(ta);
	free(tb);
}

static void diff_attrs(json_t *changes, const char *prefix, const json_t *a, const json_t *b);

/* The label of the members of an object-valued attribute, or NULL. */
static const char *
member_label(const char *key)
{
	if (strcmp(key, "columns") == 0)
		return "column";
	if (strcmp(key, "tables") == 0)
		return "table";
	return NULL;
}

/*
 * Members of a collection (objects keyed by name): added, removed, and for
 * those in both either their attributes compared (objects) or the value.
 */
static void
diff_members(json_t *changes, const char *prefix, const char *label, const json_t *a, const json_t *b)
{
	const char *key;
	json_t	   *va, *vb;

	json_object_foreach((json_t *) a, key, va)
	{
		vb = json_object_get(b, key);
		if (vb == NULL)
			add(changes, "%s%s %s removed", prefix, label, key);
		else if (json_is_object(va) && json_is_object(vb))
		{
			char	   *sub = xasprintf("%s%s %s: ", prefix, label, key);

			diff_attrs(changes, sub, va, vb);
			free(sub);
		}
		else if (!json_equal(va, vb))
		{
			char	   *ta = text_of(va), *tb = text_of(vb);

			add(changes, "%s%s %s changed (%s -> %s)", prefix, label, key, ta, tb);
			free(ta);
			free(tb);
		}
	}
	json_object_foreach((json_t *) b, key, vb)
		if (json_object_get(a, key) == NULL)
		add(changes, "%s%s %s added", prefix, label, key);
}

/* Attributes of one thing: each differing one is a change. */
static void
diff_attrs(json_t *changes, const char *prefix, const json_t *a, const json_t *b)
{
	const char *key;
	json_t	   *va, *vb;

	json_object_foreach((json_t *) a, key, va)
	{
		vb = json_object_get(b, key);
		if (json_equal(va, vb))
			continue;
		if (member_label(key) && json_is_object(va) && json_is_object(vb))
			diff_members(changes, prefix, member_label(key), va, vb);
		else if (json_is_object(va) && json_is_object(vb))
		{
			char	   *sub = xasprintf("%s%s.", prefix, key);

			diff_attrs(changes, sub, va, vb);
			free(sub);
		}
		else
			changed(changes, prefix, key, va, vb);
	}
	json_object_foreach((json_t *) b, key, vb)
		if (json_object_get(a, key) == NULL)
		changed(changes, prefix, key, NULL, vb);
}

static void
diff_plan(json_t *changes, const json_t *a, const json_t *b)
{
	size_t		before = json_array_size(changes);

	if (json_equal(json_object_get(a, "sha256"), json_object_get(b, "sha256")))
		return;
	{
		json_t	   *ca = json_deep_copy(a), *cb = json_deep_copy(b);

		json_object_del(ca, "sha256");
		json_object_del(cb, "sha256");
		diff_attrs(changes, "plan file changed: ", ca, cb);
		json_decref(ca);
		json_decref(cb);
	}
	if (json_array_size(changes) == before)
		add(changes, "plan file changed: its text (comments, formatting or connection strings)");
}

static void
diff_hook(json_t *changes, const json_t *a, const json_t *b)
{
	if (json_equal(a, b))
		return;
	if (json_is_null(a) || a == NULL)
		add(changes, "hook file added (%s)", json_string_value(json_object_get(b, "file")));
	else if (json_is_null(b) || b == NULL)
		add(changes, "hook file removed (%s)", json_string_value(json_object_get(a, "file")));
	else
		add(changes, "hook file changed (%s)", json_string_value(json_object_get(b, "file")));
}

static void
diff_tables(json_t *changes, const json_t *a, const json_t *b)
{
	const char *name;
	json_t	   *ta, *tb;

	json_object_foreach((json_t *) a, name, ta)
	{
		char	   *prefix = xasprintf("%s: ", name);

		if ((tb = json_object_get(b, name)) == NULL)
			add(changes, "%s: table no longer exists on the source", name);
		else
			diff_attrs(changes, prefix, ta, tb);
		free(prefix);
	}
	json_object_foreach((json_t *) b, name, tb)
		if (json_object_get(a, name) == NULL)
		add(changes, "%s: table now exists on the source", name);
}

static bool
in_list(const json_t *list, const char *s)
{
	size_t		i;
	json_t	   *v;

	json_array_foreach(list, i, v)
		if (strcmp(json_string_value(v), s) == 0)
		return true;
	return false;
}

static void
diff_publication(json_t *changes, const json_t *a, const json_t *b)
{
	const char *name = json_string_value(json_object_get(a, "name"));
	const json_t *la = json_object_get(a, "tables"), *lb = json_object_get(b, "tables");
	size_t		i;
	json_t	   *v;

	if (json_is_false(json_object_get(a, "exists")) && json_is_true(json_object_get(a, "created_by_pgreshard")))
		return;					/* pgreshard creates it with the plan's tables: progress */
	if (!json_equal(json_object_get(a, "exists"), json_object_get(b, "exists")))
	{
		add(changes, "publication %s %s", name, json_is_true(json_object_get(b, "exists")) ?
			"now exists" : "no longer exists");
		return;
	}
	json_array_foreach(la, i, v)
		if (!in_list(lb, json_string_value(v)))
		add(changes, "publication %s: table %s removed", name, json_string_value(v));
	json_array_foreach(lb, i, v)
		if (!in_list(la, json_string_value(v)))
		add(changes, "publication %s: table %s added", name, json_string_value(v));
}

static const char *
str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "?";
}

/* Identity and settings of a source or shard. */
static void
diff_server(json_t *changes, const json_t *a, const json_t *b)
{
	const json_t *ida = json_object_get(a, "system_identifier"), *idb = json_object_get(b, "system_identifier");
	char	   *prefix = xasprintf("%s: ", str(a, "role"));
	json_t	   *ca = json_deep_copy(a), *cb = json_deep_copy(b);
	static const char *const identity[] = {"role", "system_identifier", "database", "database_oid", "state", NULL};

	if (json_is_string(ida) && json_is_string(idb) && !json_equal(ida, idb))
		add(changes, "%sdifferent server (system identifier %s -> %s)", prefix,
			json_string_value(ida), json_string_value(idb));
	else if (!json_equal(json_object_get(a, "database_oid"), json_object_get(b, "database_oid")) ||
			 !json_equal(json_object_get(a, "database"), json_object_get(b, "database")))
		add(changes, "%sdifferent database (%s, oid %s -> %s, oid %s)", prefix, str(a, "database"),
			str(a, "database_oid"), str(b, "database"), str(b, "database_oid"));
	for (int i = 0; identity[i]; i++)
	{
		json_object_del(ca, identity[i]);
		json_object_del(cb, identity[i]);
	}
	diff_attrs(changes, prefix, ca, cb);
	json_decref(ca);
	json_decref(cb);
	free(prefix);
}

/*
 * A shard's state.  Before any apply the moved tables must be as they were;
 * once this saved plan's run exists (or a run existed when it was saved),
 * tables filling up are the plan's own progress.
 */
static void
diff_shard_state(json_t *changes, const char *role, const json_t *a, const json_t *b, const char *saved_id)
{
	bool		run_a = json_is_true(json_object_get(a, "run")), run_b = json_is_true(json_object_get(b, "run"));
	const char *id_b = json_string_value(json_object_get(b, "saved_plan_id"));
	const json_t *ta = json_object_get(a, "tables"), *tb = json_object_get(b, "tables");
	const char *name;
	json_t	   *va;

	if (run_a && !run_b)
		add(changes, "%s: the state of this plan's run is gone since the plan was saved (cleanup?)", role);
	if (run_a || run_b)
	{
		if (!run_a && (id_b == NULL || saved_id == NULL || strcmp(id_b, saved_id) != 0))
			add(changes, "%s: this plan was applied since it was saved, not from this saved plan", role);
		return;
	}
	json_object_foreach((json_t *) ta, name, va)
	{
		const char *sa = json_string_value(va), *sb = json_string_value(json_object_get(tb, name));

		if (sb != NULL && sa != NULL && strcmp(sa, sb) != 0)
			add(changes, "%s: table %s was %s, now %s", role, name,
				strcmp(sa, "rows") == 0 ? "not empty" : sa,
				strcmp(sb, "rows") == 0 ? "has rows" : strcmp(sb, "empty") == 0 ? "exists (empty)" : sb);
	}
}

static void
diff_servers(json_t *changes, const char *what, const json_t *a, const json_t *b, const char *saved_id)
{
	if (json_array_size(a) != json_array_size(b))
	{
		add(changes, "%s: %zu -> %zu databases", what, json_array_size(a), json_array_size(b));
		return;
	}
	for (size_t i = 0; i < json_array_size(a); i++)
	{
		const json_t *sa = json_array_get(a, i), *sb = json_array_get(b, i);

		diff_server(changes, sa, sb);
		if (json_object_get(sa, "state"))
			diff_shard_state(changes, str(sa, "role"), json_object_get(sa, "state"),
							 json_object_get(sb, "state"), saved_id);
	}
}

void
fingerprint_diff(const json_t *saved, const json_t *now, const char *saved_id, json_t *changes)
{
	diff_plan(changes, json_object_get(saved, "plan"), json_object_get(now, "plan"));
	diff_hook(changes, json_object_get(saved, "hook_file"), json_object_get(now, "hook_file"));
	diff_tables(changes, json_object_get(saved, "tables"), json_object_get(now, "tables"));
	diff_publication(changes, json_object_get(saved, "publication"), json_object_get(now, "publication"));
	diff_members(changes, "", "sequence", json_object_get(saved, "sequences"), json_object_get(now, "sequences"));
	diff_servers(changes, "sources", json_object_get(saved, "sources"), json_object_get(now, "sources"), saved_id);
	diff_servers(changes, "destination", json_object_get(saved, "shards"), json_object_get(now, "shards"), saved_id);
}
