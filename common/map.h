/* String-keyed hash map of borrowed values (chained, power-of-two buckets, grows by doubling).
 * Keys are copied. Used for the live sessions of one instance. */
#ifndef PARLEY_COMMON_MAP_H
#define PARLEY_COMMON_MAP_H

#include <stddef.h>

struct pl_map_entry;

struct pl_map {
    struct pl_map_entry **buckets;
    size_t n_buckets;
    size_t count;
};

void pl_map_init(struct pl_map *m);
/** Frees the entries and keys, not the values. Accepts NULL. */
void pl_map_cleanup(struct pl_map *m);
/** Borrowed value or NULL. */
void *pl_map_get(const struct pl_map *m, const char *key);
/** Insert or replace. */
void pl_map_put(struct pl_map *m, const char *key, void *value);
/** Call `fn` for every entry; `fn` must not change the map. */
void pl_map_each(const struct pl_map *m, void (*fn)(const char *key, void *value, void *ud),
                 void *ud);
/** Remove; returns the value that was there, or NULL. */
void *pl_map_remove(struct pl_map *m, const char *key);

#endif
