/* Allocation wrappers. A failed allocation logs and aborts (as Redis' zmalloc does), so callers
 * never test for NULL; sizes a peer controls are bounded before they reach these. */
#ifndef PARLEY_COMMON_ALLOC_H
#define PARLEY_COMMON_ALLOC_H

#include <stddef.h>

void *pl_malloc(size_t n);
void *pl_calloc(size_t count, size_t size);
void *pl_realloc(void *p, size_t n);
/** New copy of `s` (NULL gives NULL). */
char *pl_strdup(const char *s);
/** New NUL-terminated copy of the first `n` bytes of `s`. */
char *pl_strndup(const char *s, size_t n);
/** Accepts NULL. */
void pl_free(void *p);

#define PL_CONTAINER_OF(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))
#define PL_ARRAY_LEN(a)                    (sizeof(a) / sizeof((a)[0]))

#endif
