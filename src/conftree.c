/*
 * conftree.c - the plain tree of a module's YAML block (sq_conf).
 *
 * config.c builds one tree per `modules.<name>.config` with the conftree_*
 * builders; modules read it through the sq_conf_* functions of the public
 * API. Everything is text: a scalar keeps what the file said ("200",
 * "yes"), and sq_conf_int()/sq_conf_bool() interpret it on demand, so a
 * module decides what a value means and the tree never guesses.
 *
 * The tree is read-only once built and owned by the struct config it came
 * from; conftree_free() releases a node and everything below it.
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Builders ------------------------------------------------------------ */

sq_conf *conftree_new(int type)
{
    sq_conf *c;

    if (type != SQ_CONF_SCALAR && type != SQ_CONF_LIST && type != SQ_CONF_MAP)
        return NULL;
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->type = type;
    return c;
}

sq_conf *conftree_scalar(const char *value)
{
    sq_conf *c = conftree_new(SQ_CONF_SCALAR);

    if (c == NULL)
        return NULL;
    c->value = strdup(value != NULL ? value : "");
    if (c->value == NULL) {
        free(c);
        return NULL;
    }
    return c;
}

/*
 * The struct has no capacity field, so the capacity is implied by n: 0 for
 * an empty node, else the next power of two from 4 up. Growing when n hits
 * it keeps appends amortised O(1).
 */
static int grow(sq_conf *c)
{
    size_t cap = c->n == 0 ? 4 : c->n * 2;
    sq_conf **items;
    char **keys;

    if (c->n != 0 && (c->n < 4 || (c->n & (c->n - 1)) != 0))
        return 0;
    if (cap > SIZE_MAX / sizeof(*items))
        return -1;
    items = realloc(c->items, cap * sizeof(*items));
    if (items == NULL)
        return -1;
    c->items = items;
    if (c->type != SQ_CONF_MAP)
        return 0;
    keys = realloc(c->keys, cap * sizeof(*keys));
    if (keys == NULL)
        return -1;
    c->keys = keys;
    return 0;
}

int conftree_append(sq_conf *c, const char *key, sq_conf *item)
{
    char *k = NULL;

    if (c == NULL || item == NULL)
        goto fail;
    if (c->type == SQ_CONF_SCALAR || (c->type == SQ_CONF_MAP) != (key != NULL))
        goto fail;
    if (key != NULL && (k = strdup(key)) == NULL)
        goto fail;
    if (grow(c) < 0)
        goto fail;
    if (k != NULL)
        c->keys[c->n] = k;
    c->items[c->n++] = item;
    return 0;

fail:
    /* ownership of item passed to us even when appending fails */
    free(k);
    conftree_free(item);
    return -1;
}

void conftree_free(sq_conf *c)
{
    size_t i;

    if (c == NULL)
        return;
    for (i = 0; i < c->n; i++) {
        if (c->keys != NULL)
            free(c->keys[i]);
        conftree_free(c->items[i]);
    }
    free(c->keys);
    free(c->items);
    free(c->value);
    free(c);
}

/* Public lookups ------------------------------------------------------- */

int sq_conf_type(const sq_conf *c)
{
    return c != NULL ? c->type : 0;
}

const char *sq_conf_value(const sq_conf *c)
{
    return c != NULL && c->type == SQ_CONF_SCALAR ? c->value : NULL;
}

size_t sq_conf_len(const sq_conf *c)
{
    return c != NULL && c->type != SQ_CONF_SCALAR ? c->n : 0;
}

const sq_conf *sq_conf_at(const sq_conf *c, size_t i, const char **key)
{
    if (key != NULL)
        *key = NULL;
    if (c == NULL || c->type == SQ_CONF_SCALAR || i >= c->n)
        return NULL;
    if (key != NULL && c->type == SQ_CONF_MAP)
        *key = c->keys[i];
    return c->items[i];
}

const sq_conf *sq_conf_get(const sq_conf *map, const char *key)
{
    size_t i;

    if (map == NULL || map->type != SQ_CONF_MAP || key == NULL)
        return NULL;
    for (i = 0; i < map->n; i++)
        if (strcmp(map->keys[i], key) == 0)
            return map->items[i];
    return NULL;
}

const char *sq_conf_str(const sq_conf *map, const char *key, const char *def)
{
    const char *v = sq_conf_value(sq_conf_get(map, key));

    return v != NULL ? v : def;
}

/* Decimal only: "010" is ten, not eight, whatever strtoll's base 0 says. */
long long sq_conf_int(const sq_conf *map, const char *key, long long def)
{
    const char *v = sq_conf_value(sq_conf_get(map, key));
    char *end;
    long long n;

    if (v == NULL || *v == '\0' ||
        (*v != '-' && *v != '+' && (*v < '0' || *v > '9')))
        return def;
    errno = 0;
    n = strtoll(v, &end, 10);
    if (errno != 0 || *end != '\0')
        return def;
    return n;
}

/* The YAML 1.1 spellings people write, in any case, plus 1 and 0. */
int sq_conf_bool(const sq_conf *map, const char *key, int def)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    const char *v = sq_conf_value(sq_conf_get(map, key));
    size_t i;

    if (v == NULL)
        return def;
    for (i = 0; i < ARRAY_LEN(yes); i++) {
        if (strcasecmp(v, yes[i]) == 0)
            return 1;
        if (strcasecmp(v, no[i]) == 0)
            return 0;
    }
    return def;
}
