/*
 * steps.c — step names.  See steps.h.
 */
#include <string.h>

#include "steps.h"

static const char *const names[STEP_COUNT] = {
	"preflight", "slot", "schema-pre", "copy", "schema-post",
	"stream", "verify", "cutover", "finish"
};

const char *
step_name(step_id id)
{
	return (id >= 0 && id < STEP_COUNT) ? names[id] : "?";
}

int
step_from_name(const char *name)
{
	for (int i = 0; i < STEP_COUNT; i++)
		if (strcmp(names[i], name) == 0)
			return i;
	return -1;
}
