/*
 * suggest.h — "did you mean ...?" for names users mistype (plan keys,
 * column names, step names).
 */
#ifndef PGR_SUGGEST_H
#define PGR_SUGGEST_H

#include <stddef.h>

/* Levenshtein distance between a and b (bytes). */
size_t edit_distance(const char *a, const char *b);

/*
 * The candidate closest to word: a case-insensitive match, or within edit
 * distance 2 (and less than half the word's length).  NULL when none is
 * close.  candidates[] has n entries.
 */
const char *suggest_closest(const char *word, const char *const *candidates, int n);

#endif
