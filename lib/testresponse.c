/*
 * testresponse.c - the sq_test_response object. Everything in it is
 * malloc'd and owned by it: sq_test_response_free() releases it all.
 */
#include "testlib.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

sq_test_response *tl_response_new(void)
{
    return calloc(1, sizeof(sq_test_response));
}

int tl_response_add_field(sq_test_response *r, size_t *cap, const char *name,
                          size_t nlen, const char *value, size_t vlen)
{
    sq_test_field *h;

    if (r->nheaders == *cap) {
        size_t n = *cap ? *cap * 2 : 16;

        h = realloc(r->headers, n * sizeof *h);
        if (h == NULL)
            return -1;
        r->headers = h;
        *cap = n;
    }
    h = &r->headers[r->nheaders];
    h->name = strndup(name, nlen);
    h->value = strndup(value, vlen);
    r->nheaders++;
    return h->name && h->value ? 0 : -1;
}

void tl_response_clear_fields(sq_test_response *r)
{
    size_t i;

    for (i = 0; i < r->nheaders; i++) {
        free(r->headers[i].name);
        free(r->headers[i].value);
    }
    r->nheaders = 0;
}

/* The buffer's memory moves into r, so a large body is not copied. */
int tl_response_set_body(sq_test_response *r, struct tl_buf *b)
{
    free(r->body);
    r->body = b->data;
    r->body_len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    if (r->body == NULL)
        r->body = calloc(1, 1);
    return r->body != NULL ? 0 : -1;
}

const char *sq_test_header(const sq_test_response *r, const char *name)
{
    size_t i;

    for (i = 0; r != NULL && i < r->nheaders; i++)
        if (strcasecmp(r->headers[i].name, name) == 0)
            return r->headers[i].value;
    return NULL;
}

void sq_test_response_free(sq_test_response *r)
{
    if (r == NULL)
        return;
    tl_response_clear_fields(r);
    free(r->headers);
    free(r->reason);
    free(r->body);
    free(r);
}
