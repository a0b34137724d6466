/*
 * yaml_util.c — small pieces the plan loader is built from: parsing the one
 * YAML document, positions and error lines, "did you mean" hints, ${VAR}
 * expansion, and typed getters for libyaml document nodes.  See yaml_util.h.
 *
 * libyaml's document API types nothing: every scalar is text.  The getters
 * here give plan files a deliberately narrow reading of YAML's types —
 * booleans are exactly `true`/`false`, integers are plain decimal digits
 * that fit — so that `yes`, `on`, `1_000` or `4x` are refused with a message
 * instead of meaning something surprising.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "suggest.h"
#include "xalloc.h"
#include "yaml_util.h"

const char *const hook_fn_keys[HOOK_NFUNCS] = {
	"route", "validate", "before_step", "after_step", "on_freeze", "on_unfreeze", "source_route"
};

plan_pos
ynode_pos(const yaml_node_t *node)
{
	plan_pos pos = {(int) node->start_mark.line + 1,
					(int) node->start_mark.column + 1};

	return pos;
}

void
yerr(ydoc *d, plan_pos pos, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_error("%s:%d:%d: %s", d->path, pos.line, pos.col, msg);
	d->nerrors++;
}

const char *
ynode_kind(const yaml_node_t *node)
{
	switch (node->type)
	{
		case YAML_MAPPING_NODE:
			return "a mapping";
		case YAML_SEQUENCE_NODE:
			return "a list";
		case YAML_SCALAR_NODE:
			return yis_null(node) ? "an empty value" : "a string";
		default:
			return "nothing";
	}
}

const char *
yraw(const yaml_node_t *node)
{
	return (const char *) node->data.scalar.value;
}

bool
yis_null(const yaml_node_t *node)
{
	const char *v;

	if (node->type != YAML_SCALAR_NODE ||
		node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	v = yraw(node);
	return v[0] == '\0' || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
		strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0;
}

/* The choice `word` was probably meant to be (NULL-terminated list). */
const char *
ysuggest(const char *word, const char *const *choices)
{
	int n = 0;

	while (choices[n] != NULL)
		n++;
	return suggest_closest(word, choices, n);
}

/* Append n bytes to a growing buffer. */
static void
buf_add(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
	if (*len + n + 1 > *cap)
	{
		*cap = (*len + n + 1) * 2;
		*buf = xrealloc(*buf, *cap);
	}
	memcpy(*buf + *len, s, n);
	*len += n;
	(*buf)[*len] = '\0';
}

static bool
valid_env_name(const char *s, size_t n)
{
	if (n == 0 || (s[0] >= '0' && s[0] <= '9'))
		return false;
	for (size_t i = 0; i < n; i++)
	{
		char c = s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			  (c >= '0' && c <= '9') || c == '_'))
			return false;
	}
	return true;
}

/* Expand one ${NAME} starting at in (which points at '$'); returns its length. */
static size_t
expand_var(const char *in, char **buf, size_t *len, size_t *cap,
		   char *err, size_t errlen)
{
	const char *name = in + 2;
	const char *close = strchr(name, '}');
	size_t n;
	char var[256];
	const char *value;

	if (close == NULL)
	{
		snprintf(err, errlen, "unterminated ${ (write $$ for a literal $)");
		return 0;
	}
	n = (size_t) (close - name);
	if (!valid_env_name(name, n) || n >= sizeof(var))
	{
		snprintf(err, errlen,
				 "invalid variable name in ${...}: use letters, digits and _");
		return 0;
	}
	memcpy(var, name, n);
	var[n] = '\0';
	value = getenv(var);
	if (value == NULL)
	{
		snprintf(err, errlen, "environment variable %s is not set", var);
		return 0;
	}
	buf_add(buf, len, cap, value, strlen(value));
	return n + 3;
}

bool
yexpand_env(const char *in, char **out, char *err, size_t errlen)
{
	size_t len = 0, cap = 0;
	char *buf = NULL;

	buf_add(&buf, &len, &cap, "", 0);
	while (*in != '\0')
	{
		if (in[0] == '$' && in[1] == '$')
		{
			buf_add(&buf, &len, &cap, "$", 1);
			in += 2;
		}
		else if (in[0] == '$' && in[1] == '{')
		{
			size_t used = expand_var(in, &buf, &len, &cap, err, errlen);

			if (used == 0)
			{
				free(buf);
				return false;
			}
			in += used;
		}
		else
			buf_add(&buf, &len, &cap, in++, 1);
	}
	*out = buf;
	return true;
}

yaml_node_t *
ynode(ydoc *d, int index)
{
	return yaml_document_get_node(d->doc, index);
}

static const char *
kind_name(yaml_node_type_t type)
{
	return type == YAML_MAPPING_NODE ? "a mapping" :
		type == YAML_SEQUENCE_NODE ? "a list" : "a string";
}

bool
ykind(ydoc *d, yaml_node_t *node, yaml_node_type_t type, const char *field)
{
	if (node->type == type)
		return true;
	yerr(d, ynode_pos(node), "%s must be %s, found %s",
		 field, kind_name(type), ynode_kind(node));
	return false;
}

/* Report an unknown key, with a hint when one allowed key is close. */
static void
unknown_key(ydoc *d, yaml_node_t *key, const char *where,
			const char *const *allowed)
{
	const char *hint = ysuggest(yraw(key), allowed);
	char list[512] = "";
	size_t used = 0;

	if (hint != NULL)
	{
		yerr(d, ynode_pos(key), "unknown key '%.80s' %s; did you mean '%s'?",
			 yraw(key), where, hint);
		return;
	}
	for (int i = 0; allowed[i] != NULL && used < sizeof(list); i++)
		used += snprintf(list + used, sizeof(list) - used, "%s%s",
						 i > 0 ? ", " : "", allowed[i]);
	yerr(d, ynode_pos(key), "unknown key '%.80s' %s (expected one of: %s)",
		 yraw(key), where, list);
}

/* Is this pair's key the same text as an earlier key?  Returns that key. */
yaml_node_t *
ymap_earlier_key(ydoc *d, yaml_node_t *map, yaml_node_pair_t *pair)
{
	yaml_node_t *key = ynode(d, pair->key);

	for (yaml_node_pair_t *prev = map->data.mapping.pairs.start;
		 prev < pair; prev++)
	{
		yaml_node_t *pkey = ynode(d, prev->key);

		if (pkey->type == YAML_SCALAR_NODE &&
			pkey->data.scalar.length == key->data.scalar.length &&
			memcmp(pkey->data.scalar.value, key->data.scalar.value,
				   key->data.scalar.length) == 0)
			return pkey;
	}
	return NULL;
}

void
ymap_check(ydoc *d, yaml_node_t *map, const char *where,
		   const char *const *allowed)
{
	for (yaml_node_pair_t *pair = map->data.mapping.pairs.start;
		 pair < map->data.mapping.pairs.top; pair++)
	{
		yaml_node_t *key = ynode(d, pair->key);
		yaml_node_t *first;

		if (key->type != YAML_SCALAR_NODE)
		{
			yerr(d, ynode_pos(key), "keys %s must be strings, found %s",
				 where, ynode_kind(key));
			continue;
		}
		first = ymap_earlier_key(d, map, pair);
		if (first != NULL)
			yerr(d, ynode_pos(key), "duplicate key '%.80s' %s (first at line %d)",
				 yraw(key), where, ynode_pos(first).line);
		else if (allowed != NULL)
		{
			bool known = false;

			for (int i = 0; allowed[i] != NULL && !known; i++)
				known = strcmp(yraw(key), allowed[i]) == 0;
			if (!known)
				unknown_key(d, key, where, allowed);
		}
	}
}

yaml_node_t *
ymap_get(ydoc *d, yaml_node_t *map, const char *key, plan_pos *keypos)
{
	for (yaml_node_pair_t *pair = map->data.mapping.pairs.start;
		 pair < map->data.mapping.pairs.top; pair++)
	{
		yaml_node_t *k = ynode(d, pair->key);

		if (k->type == YAML_SCALAR_NODE && strcmp(yraw(k), key) == 0)
		{
			if (keypos != NULL)
				*keypos = ynode_pos(k);
			return ynode(d, pair->value);
		}
	}
	return NULL;
}

int
ylist_len(const yaml_node_t *list)
{
	return (int) (list->data.sequence.items.top - list->data.sequence.items.start);
}

yaml_node_t *
ylist_item(ydoc *d, yaml_node_t *list, int i)
{
	return ynode(d, list->data.sequence.items.start[i]);
}

/* A scalar's text with ${VAR} expanded; `what` says what was expected. */
static bool
yget_text(ydoc *d, yaml_node_t *node, const char *field, const char *what,
		  char **out)
{
	char err[300];

	if (node->type != YAML_SCALAR_NODE)
	{
		yerr(d, ynode_pos(node), "%s must be %s, found %s",
			 field, what, ynode_kind(node));
		return false;
	}
	if (yis_null(node))
	{
		yerr(d, ynode_pos(node), "%s has no value (expected %s)", field, what);
		return false;
	}
	if (!yexpand_env(yraw(node), out, err, sizeof(err)))
	{
		yerr(d, ynode_pos(node), "%s: %s", field, err);
		return false;
	}
	return true;
}

bool
yget_string(ydoc *d, yaml_node_t *node, const char *field, char **out)
{
	char *text;

	if (!yget_text(d, node, field, "a string", &text))
		return false;
	if (text[0] == '\0')
	{
		yerr(d, ynode_pos(node), "%s is empty", field);
		free(text);
		return false;
	}
	*out = text;
	return true;
}

bool
yget_bool(ydoc *d, yaml_node_t *node, const char *field, bool *out)
{
	char *text;
	bool ok = true;

	if (!yget_text(d, node, field, "true or false", &text))
		return false;
	if (strcmp(text, "true") == 0)
		*out = true;
	else if (strcmp(text, "false") == 0)
		*out = false;
	else
	{
		yerr(d, ynode_pos(node), "%s must be true or false, found '%.40s'",
			 field, yraw(node));
		ok = false;
	}
	free(text);
	return ok;
}

/* Strict decimal: optional '-', digits, nothing else; false on overflow. */
static bool
parse_integer(const char *text, long long *out, bool *overflow)
{
	const char *digits = text[0] == '-' ? text + 1 : text;
	char *end;

	*overflow = false;
	if (digits[0] < '0' || digits[0] > '9')
		return false;
	errno = 0;
	*out = strtoll(text, &end, 10);
	if (*end != '\0')
		return false;
	*overflow = errno == ERANGE;
	return !*overflow;
}

bool
parse_size(const char *text, long long *bytes)
{
	static const struct {
		const char *unit;
		int			shift;
	}			units[] = {{"B", 0}, {"kB", 10}, {"MB", 20}, {"GB", 30}, {"TB", 40}, {"", 0}};
	char	   *end;
	long long	v;

	if (text[0] < '0' || text[0] > '9')
		return false;
	errno = 0;
	v = strtoll(text, &end, 10);
	if (errno == ERANGE)
		return false;
	while (*end == ' ')
		end++;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strcmp(end, units[i].unit) == 0)
		{
			if (v > (LLONG_MAX >> units[i].shift))
				return false;
			*bytes = v << units[i].shift;
			return true;
		}
	return false;
}

bool
yget_size(ydoc *d, yaml_node_t *node, const char *field, long long *out)
{
	char	   *text;
	bool		ok;

	if (!yget_text(d, node, field, "a size", &text))
		return false;
	ok = parse_size(text, out);
	free(text);
	if (!ok)
		yerr(d, ynode_pos(node), "%s must be a size such as 200GB, 512MB or 1048576 (bytes; units "
			 "B, kB, MB, GB, TB, 1024-based as in postgresql.conf), found '%.40s'", field, yraw(node));
	return ok;
}

bool
yget_int(ydoc *d, yaml_node_t *node, const char *field,
		 long long min, long long max, long long *out)
{
	char *text;
	long long v;
	bool overflow;
	bool ok;

	if (!yget_text(d, node, field, "an integer", &text))
		return false;
	ok = parse_integer(text, &v, &overflow);
	free(text);
	if (!ok)
		yerr(d, ynode_pos(node), "%s must be %s, found '%.40s'", field,
			 overflow ? "an integer that fits in 64 bits" : "an integer",
			 yraw(node));
	else if ((v < min || v > max) && max == LLONG_MAX)
		yerr(d, ynode_pos(node), "%s must be at least %lld, found %lld",
			 field, min, v);
	else if (v < min || v > max)
		yerr(d, ynode_pos(node), "%s must be between %lld and %lld, found %lld",
			 field, min, max, v);
	else
	{
		*out = v;
		return true;
	}
	return false;
}

bool
yget_enum(ydoc *d, yaml_node_t *node, const char *field,
		  const char *const *names, int *out)
{
	char *text;
	char list[256] = "";
	size_t used = 0;
	const char *hint;

	if (!yget_text(d, node, field, "a string", &text))
		return false;
	for (int i = 0; names[i] != NULL; i++)
		if (strcmp(text, names[i]) == 0)
		{
			*out = i;
			free(text);
			return true;
		}
	for (int i = 0; names[i] != NULL && used < sizeof(list); i++)
		used += snprintf(list + used, sizeof(list) - used, "%s%s",
						 i > 0 ? ", " : "", names[i]);
	hint = ysuggest(text, names);
	free(text);
	yerr(d, ynode_pos(node), "%s must be one of %s; found '%.40s'%s%s%s",
		 field, list, yraw(node), hint ? "; did you mean '" : "",
		 hint ? hint : "", hint ? "'?" : "");
	return false;
}

/* Where a reader error (bad UTF-8, control character) is, from its offset. */
static plan_pos
offset_pos(const char *text, size_t len, size_t offset)
{
	plan_pos pos = {1, 1};

	for (size_t i = 0; i < offset && i < len; i++)
	{
		if (text[i] == '\n')
		{
			pos.line++;
			pos.col = 1;
		}
		else if (((unsigned char) text[i] & 0xC0) != 0x80)
			pos.col++;			/* columns count characters, as libyaml's */
	}
	return pos;
}

static void
report_yaml_error(const char *path, const yaml_parser_t *parser,
				  const char *text, size_t len)
{
	plan_pos pos = {(int) parser->problem_mark.line + 1,
					(int) parser->problem_mark.column + 1};

	if (parser->error == YAML_MEMORY_ERROR)
	{
		log_error("%s: out of memory parsing the plan", path);
		return;
	}
	if (parser->error == YAML_READER_ERROR)
		pos = offset_pos(text, len, parser->problem_offset);
	if (parser->context != NULL)
		log_error("%s:%d:%d: invalid YAML: %s (%s at line %d)", path,
				  pos.line, pos.col, parser->problem, parser->context,
				  (int) parser->context_mark.line + 1);
	else
		log_error("%s:%d:%d: invalid YAML: %s", path, pos.line, pos.col,
				  parser->problem ? parser->problem : "unknown problem");
}

bool
yparse_document(const char *path, const char *text, size_t len,
				yaml_document_t *doc)
{
	yaml_parser_t parser;
	yaml_document_t extra;
	bool ok = false;

	if (!yaml_parser_initialize(&parser))
	{
		log_error("%s: out of memory parsing the plan", path);
		return false;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *) text, len);
	if (!yaml_parser_load(&parser, doc))
		report_yaml_error(path, &parser, text, len);
	else if (yaml_document_get_root_node(doc) == NULL)
	{
		log_error("%s:1:1: the plan file is empty; it starts with "
				  "version: 1 and name: ...", path);
		yaml_document_delete(doc);
	}
	else if (!yaml_parser_load(&parser, &extra))
	{
		report_yaml_error(path, &parser, text, len);
		yaml_document_delete(doc);
	}
	else
	{
		if (yaml_document_get_root_node(&extra) != NULL)
		{
			log_error("%s:%d:%d: a second YAML document starts here; "
					  "a plan file holds exactly one", path,
					  (int) extra.start_mark.line + 1,
					  (int) extra.start_mark.column + 1);
			yaml_document_delete(doc);
		}
		else
			ok = true;
		yaml_document_delete(&extra);
	}
	yaml_parser_delete(&parser);
	return ok;
}
