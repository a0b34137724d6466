/*
 * log.c — stderr logger with a remembered last error.  See log.h.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

static log_level current_level = LOG_INFO;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char last_error[4096];
static char first_error[4096];	/* the first error since log_mark() */

void
log_set_level(log_level level)
{
	current_level = level;
}

log_level
log_get_level(void)
{
	return current_level;
}

void
log_vmsg(log_level level, const char *fmt, va_list ap)
{
	char line[4096];
	const char *tag = "";

	vsnprintf(line, sizeof(line), fmt, ap);
	if (level == LOG_WARN)
		tag = "warning: ";
	pthread_mutex_lock(&log_lock);
	if (level == LOG_ERROR)
	{
		snprintf(last_error, sizeof(last_error), "%s", line);
		if (first_error[0] == '\0')
			snprintf(first_error, sizeof(first_error), "%s", line);
	}
	if (level >= current_level)
	{
		fprintf(stderr, "pgreshard: %s%s\n", tag, line);
		fflush(stderr);
	}
	pthread_mutex_unlock(&log_lock);
}

void
log_msg(log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

void
log_last_error(char *buf, size_t buflen)
{
	pthread_mutex_lock(&log_lock);
	snprintf(buf, buflen, "%s", last_error);
	pthread_mutex_unlock(&log_lock);
}

void
log_mark(void)
{
	pthread_mutex_lock(&log_lock);
	first_error[0] = '\0';
	pthread_mutex_unlock(&log_lock);
}

void
log_first_error(char *buf, size_t buflen)
{
	pthread_mutex_lock(&log_lock);
	snprintf(buf, buflen, "%s", first_error);
	pthread_mutex_unlock(&log_lock);
}
