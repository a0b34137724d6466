/*
 * steps.h — the names and order of the apply steps (CONTRACT.md).
 */
#ifndef PGR_STEPS_H
#define PGR_STEPS_H

typedef enum step_id {
	STEP_PREFLIGHT = 0,
	STEP_SLOT,
	STEP_SCHEMA_PRE,
	STEP_COPY,
	STEP_SCHEMA_POST,
	STEP_STREAM,
	STEP_VERIFY,
	STEP_CUTOVER,
	STEP_FINISH,
	STEP_COUNT
} step_id;

/* "preflight", "slot", ... */
const char *step_name(step_id id);
/* The step with this name, or -1. */
int step_from_name(const char *name);

#endif
