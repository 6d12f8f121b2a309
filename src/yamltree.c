/*
 * yamltree.c - YAML text to a tree of positioned nodes (config.c's first
 * pass).
 *
 * libyaml's event stream becomes a small tree whose every node remembers
 * the line and column it came from, so that the schema pass can point at
 * the exact place of a mistake. What YAML allows but a configuration must
 * not have is refused here: duplicate keys, several documents, anchors and
 * aliases (a short file could expand to a huge tree), NUL bytes in values,
 * and nesting deeper than MAX_DEPTH.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#define MAX_DEPTH 64 /* nesting; deeper input would only exhaust the stack */

struct conf_mark conf_mark_at(const struct conf_err *c, size_t line, size_t col)
{
    struct conf_mark m = {c->file, (int)line + 1, (int)col + 1};

    return m;
}

#define mark_at conf_mark_at
#define fail conf_fail
#define in_where conf_in_where

/* Writes "file:line:col: message" and returns -1. Control characters that
 * quoted input brings in become '?', so the message stays one line. */
int conf_fail(const struct conf_err *c, struct conf_mark m, const char *fmt,
              ...)
{
    va_list ap;
    size_t n;
    char *p;

    if (c->err == NULL || c->errlen == 0)
        return -1;
    n = (size_t)snprintf(c->err, c->errlen, "%s:%d:%d: ", c->file, m.line,
                         m.col);
    if (n < c->errlen) {
        va_start(ap, fmt);
        vsnprintf(c->err + n, c->errlen - n, fmt, ap);
        va_end(ap);
    }
    for (p = c->err; *p != '\0'; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    return -1;
}

/* "in server" for a section, nothing at the top level. */
const char *conf_in_where(const char *where, char *buf, size_t len)
{
    if (*where == '\0')
        return "";
    snprintf(buf, len, " in %s", where);
    return buf;
}

/* Loading ---------------------------------------------------------------- */

struct loader {
    const struct conf_err *c;
    yaml_parser_t parser;
    const char *text;
    size_t len;
};

void yamltree_free(struct ynode *n)
{
    size_t i;

    if (n == NULL)
        return;
    for (i = 0; i < n->nkids; i++)
        yamltree_free(n->kids[i]);
    free(n->kids);
    free(n->text);
    free(n);
}

const char *ynode_kind(const struct ynode *n)
{
    if (n->type == YNODE_LIST)
        return "a list";
    if (n->type == YNODE_MAP)
        return "a mapping";
    return n->is_null ? "an empty value" : "a string";
}

static struct ynode *node_new(struct loader *l, int type, yaml_mark_t ym)
{
    struct ynode *n = calloc(1, sizeof(*n));

    if (n == NULL) {
        fail(l->c, mark_at(l->c, ym.line, ym.column), "out of memory");
        return NULL;
    }
    n->type = type;
    n->mark = mark_at(l->c, ym.line, ym.column);
    return n;
}

/* Appends kid (NULL after a failed load) to parent, or frees it. */
static int node_add(struct loader *l, struct ynode *parent, struct ynode *kid)
{
    struct ynode **kids;

    if (kid == NULL)
        return -1;
    kids = realloc(parent->kids, (parent->nkids + 1) * sizeof(*kids));
    if (kids == NULL) {
        yamltree_free(kid);
        return fail(l->c, parent->mark, "out of memory");
    }
    parent->kids = kids;
    parent->kids[parent->nkids++] = kid;
    parent->n = parent->type == YNODE_MAP ? parent->nkids / 2 : parent->nkids;
    return 0;
}

/* A reader error (bad UTF-8, a control character) comes with a byte
 * offset only; count lines for the mark. */
static struct conf_mark offset_mark(struct loader *l, size_t off)
{
    size_t i, line = 0, bol = 0;

    for (i = 0; i < off && i < l->len; i++)
        if (l->text[i] == '\n') {
            line++;
            bol = i + 1;
        }
    return mark_at(l->c, line, off - bol);
}

static int syntax_error(struct loader *l)
{
    yaml_parser_t *p = &l->parser;
    struct conf_mark m =
        mark_at(l->c, p->problem_mark.line, p->problem_mark.column);
    const char *problem = p->problem != NULL ? p->problem : "unknown error";

    if (p->error == YAML_MEMORY_ERROR)
        return fail(l->c, m, "out of memory");
    if (p->error == YAML_READER_ERROR)
        return fail(l->c, offset_mark(l, p->problem_offset),
                    "YAML syntax error: %s", problem);
    if (p->context != NULL)
        return fail(l->c, m, "YAML syntax error: %s (%s at line %zu)", problem,
                    p->context, p->context_mark.line + 1);
    return fail(l->c, m, "YAML syntax error: %s", problem);
}

static int next_event(struct loader *l, yaml_event_t *ev)
{
    if (yaml_parser_parse(&l->parser, ev))
        return 0;
    return syntax_error(l);
}

static const unsigned char *event_anchor(const yaml_event_t *ev)
{
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        return ev->data.scalar.anchor;
    case YAML_SEQUENCE_START_EVENT:
        return ev->data.sequence_start.anchor;
    case YAML_MAPPING_START_EVENT:
        return ev->data.mapping_start.anchor;
    default:
        return NULL;
    }
}

/* YAML 1.2 core schema nulls; only unquoted ones, "null" is a string. */
static int is_null_scalar(const yaml_event_t *ev)
{
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
    const char *v = (const char *)ev->data.scalar.value;
    size_t i;

    if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return 0;
    for (i = 0; i < ARRAY_LEN(nulls); i++)
        if (strcmp(v, nulls[i]) == 0)
            return 1;
    return 0;
}

static struct ynode *load_scalar(struct loader *l, const yaml_event_t *ev)
{
    struct ynode *n = node_new(l, YNODE_SCALAR, ev->start_mark);
    const char *v = (const char *)ev->data.scalar.value;

    if (n == NULL)
        return NULL;
    /* "\0" is legal YAML but would silently cut a C string short */
    if (strlen(v) != ev->data.scalar.length) {
        fail(l->c, n->mark, "a NUL character is not allowed in a value");
        goto fail;
    }
    n->is_null = is_null_scalar(ev);
    n->text = strdup(v);
    if (n->text == NULL) {
        fail(l->c, n->mark, "out of memory");
        goto fail;
    }
    return n;

fail:
    yamltree_free(n);
    return NULL;
}

static struct ynode *load_node(struct loader *l, yaml_event_t *ev,
                               const char *where, int depth);

static struct ynode *load_list(struct loader *l, const yaml_event_t *start,
                               const char *where, int depth)
{
    struct ynode *n = node_new(l, YNODE_LIST, start->start_mark);
    char kwhere[CONF_WHERE_MAX];
    yaml_event_t ev;

    if (n == NULL)
        return NULL;
    for (;;) {
        if (next_event(l, &ev) < 0)
            goto fail;
        if (ev.type == YAML_SEQUENCE_END_EVENT)
            break;
        snprintf(kwhere, sizeof(kwhere), "%s[%zu]", where, n->n);
        if (node_add(l, n, load_node(l, &ev, kwhere, depth + 1)) < 0)
            goto fail;
    }
    yaml_event_delete(&ev);
    return n;

fail:
    yamltree_free(n);
    return NULL;
}

struct keyref {
    const char *key;
    size_t i;
};

static int keyref_cmp(const void *a, const void *b)
{
    const struct keyref *x = a, *y = b;
    int d = strcmp(x->key, y->key);

    if (d != 0)
        return d;
    return x->i < y->i ? -1 : x->i > y->i;
}

/* YAML 1.2 3.2.1.1: the keys of a mapping are unique. Sorting finds the
 * repeats in O(n log n); the one reported is the first repeat in file
 * order, with the line of the key it repeats. */
static int check_duplicates(struct loader *l, const struct ynode *map,
                            const char *where)
{
    struct keyref *refs, *dup = NULL;
    char buf[CONF_WHERE_MAX + 8];
    size_t i;
    int rc = 0;

    if (map->n < 2)
        return 0;
    refs = calloc(map->n, sizeof(*refs));
    if (refs == NULL)
        return fail(l->c, map->mark, "out of memory");
    for (i = 0; i < map->n; i++) {
        refs[i].key = YMAP_KEY(map, i)->text;
        refs[i].i = i;
    }
    qsort(refs, map->n, sizeof(*refs), keyref_cmp);
    for (i = 1; i < map->n; i++)
        if (strcmp(refs[i].key, refs[i - 1].key) == 0 &&
            (dup == NULL || refs[i].i < dup->i))
            dup = &refs[i];
    if (dup != NULL)
        rc = fail(l->c, YMAP_KEY(map, dup->i)->mark,
                  "duplicate key '%s'%s (first at line %d)", dup->key,
                  in_where(where, buf, sizeof(buf)),
                  YMAP_KEY(map, dup[-1].i)->mark.line);
    free(refs);
    return rc;
}

/* Loads one "key: value" of a mapping whose key event is ev. */
static int load_entry(struct loader *l, struct ynode *map, yaml_event_t *ev,
                      const char *where, int depth)
{
    char buf[CONF_WHERE_MAX + 8];
    struct ynode *key;

    key = load_node(l, ev, where, depth + 1);
    if (key == NULL)
        return -1;
    if (key->type != YNODE_SCALAR) {
        fail(l->c, key->mark, "expected a scalar as a key%s, got %s",
             in_where(where, buf, sizeof(buf)), ynode_kind(key));
        yamltree_free(key);
        return -1;
    }
    /* in the map before the value loads, so a failing value frees it */
    if (node_add(l, map, key) < 0 || next_event(l, ev) < 0)
        return -1;
    snprintf(buf, sizeof(buf), "%s%s%s", where, *where != '\0' ? "." : "",
             key->text);
    return node_add(l, map, load_node(l, ev, buf, depth + 1));
}

static struct ynode *load_map(struct loader *l, const yaml_event_t *start,
                              const char *where, int depth)
{
    struct ynode *n = node_new(l, YNODE_MAP, start->start_mark);
    yaml_event_t ev;

    if (n == NULL)
        return NULL;
    for (;;) {
        if (next_event(l, &ev) < 0)
            goto fail;
        if (ev.type == YAML_MAPPING_END_EVENT)
            break;
        if (load_entry(l, n, &ev, where, depth) < 0)
            goto fail;
    }
    yaml_event_delete(&ev);
    if (check_duplicates(l, n, where) < 0)
        goto fail;
    return n;

fail:
    yamltree_free(n);
    return NULL;
}

/*
 * Builds the node that starts with ev, and deletes ev. Anchors and aliases
 * are refused: nothing in the schema needs them, and expanding aliases
 * into module trees would let a short file build a huge one.
 */
static struct ynode *load_node(struct loader *l, yaml_event_t *ev,
                               const char *where, int depth)
{
    struct conf_mark m =
        mark_at(l->c, ev->start_mark.line, ev->start_mark.column);
    struct ynode *n = NULL;

    if (ev->type == YAML_ALIAS_EVENT || event_anchor(ev) != NULL)
        fail(l->c, m, "YAML anchors and aliases are not supported");
    else if (depth > MAX_DEPTH)
        fail(l->c, m, "nesting deeper than %d levels", MAX_DEPTH);
    else if (ev->type == YAML_SCALAR_EVENT)
        n = load_scalar(l, ev);
    else if (ev->type == YAML_SEQUENCE_START_EVENT)
        n = load_list(l, ev, where, depth);
    else if (ev->type == YAML_MAPPING_START_EVENT)
        n = load_map(l, ev, where, depth);
    else
        fail(l->c, m, "unexpected YAML event %d", (int)ev->type);
    yaml_event_delete(ev);
    return n;
}

/* Expects the next event to be of type t, e.g. the end of the document. */
static int expect_event(struct loader *l, yaml_event_type_t t, yaml_event_t *ev)
{
    if (next_event(l, ev) < 0)
        return -1;
    if (ev->type == t)
        return 0;
    fail(l->c, mark_at(l->c, ev->start_mark.line, ev->start_mark.column),
         "unexpected YAML event %d", (int)ev->type);
    yaml_event_delete(ev);
    return -1;
}

/* Loads the single document of the stream; an empty stream or document is
 * an error, and so is a second document. */
static struct ynode *load_document(struct loader *l)
{
    struct ynode *root = NULL;
    yaml_event_t ev;

    if (expect_event(l, YAML_STREAM_START_EVENT, &ev) < 0)
        return NULL;
    yaml_event_delete(&ev);
    if (next_event(l, &ev) < 0)
        return NULL;
    if (ev.type != YAML_DOCUMENT_START_EVENT)
        goto empty;
    yaml_event_delete(&ev);
    if (next_event(l, &ev) < 0 || (root = load_node(l, &ev, "", 0)) == NULL)
        return NULL;
    if (root->is_null) {
        fail(l->c, root->mark, "no configuration");
        goto fail;
    }
    if (expect_event(l, YAML_DOCUMENT_END_EVENT, &ev) < 0)
        goto fail;
    yaml_event_delete(&ev);
    if (next_event(l, &ev) < 0)
        goto fail;
    if (ev.type != YAML_STREAM_END_EVENT) {
        fail(l->c, mark_at(l->c, ev.start_mark.line, ev.start_mark.column),
             "more than one YAML document");
        yaml_event_delete(&ev);
        goto fail;
    }
    yaml_event_delete(&ev);
    return root;

empty:
    fail(l->c, mark_at(l->c, ev.start_mark.line, ev.start_mark.column),
         "no configuration");
    yaml_event_delete(&ev);
    return NULL;
fail:
    yamltree_free(root);
    return NULL;
}

struct ynode *yamltree_load(const struct conf_err *c, const char *text,
                            size_t len)
{
    struct loader l = {.c = c, .text = text, .len = len};
    struct ynode *root;

    if (!yaml_parser_initialize(&l.parser)) {
        fail(c, mark_at(c, 0, 0), "out of memory");
        return NULL;
    }
    yaml_parser_set_input_string(&l.parser, (const unsigned char *)text, len);
    root = load_document(&l);
    yaml_parser_delete(&l.parser);
    return root;
}
