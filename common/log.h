/*
 * log.h — the one way pgreshard reports errors, warnings and progress.
 *
 * Every message goes to stderr prefixed with "pgreshard: ".  An error is
 * reported once, where it happens, with the context that place has (file and
 * position, table, shard, SQLSTATE); callers that fail because a callee
 * failed return false without logging again ("already reported").
 *
 * The logger is one of the two kinds of global state pgreshard allows (the
 * other being signal flags).  It is thread-safe: a line is written whole.
 */
#ifndef PGR_LOG_H
#define PGR_LOG_H

#include <stdarg.h>
#include <stdbool.h>

typedef enum log_level {
	LOG_DEBUG = 0,
	LOG_INFO = 1,
	LOG_WARN = 2,
	LOG_ERROR = 3,
	LOG_QUIET = 4
} log_level;

void log_set_level(log_level level);
log_level log_get_level(void);

/* Write one message at the given level (a trailing newline is added). */
void log_msg(log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void log_vmsg(log_level level, const char *fmt, va_list ap);

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

/*
 * The last error message logged by this process (empty if none), so that a
 * step can record it in the state tables.  Copied into buf.
 */
void log_last_error(char *buf, size_t buflen);

/*
 * Forget earlier errors; log_first_error() then gives the first error logged
 * since (the cause, where later lines add context).
 */
void log_mark(void);
void log_first_error(char *buf, size_t buflen);

#endif
