/*
 * teststrict.c - the framing rules Debian's http-parser does not enforce.
 *
 * Debian builds http-parser with HTTP_PARSER_STRICT=0: it takes a bare LF
 * or a bare CR for a line end, joins obs-folded lines, skips empty lines
 * before a status line and does not look at the two bytes that end chunk
 * data. A client that tests a server must not be that forgiving: each of
 * these hides a framing bug (a body longer than its Content-Length shows
 * up as "empty lines" before the next response). So every byte that
 * belongs to a line - status line, header and trailer lines, chunk-size
 * lines, and the CRLF after chunk data - is checked here before the
 * parser sees it. The parser tells this checker what comes next at each
 * point where it learns it (testparse.c); body data is left to it.
 */
#include "testlib.h"

#include <stdio.h>
#include <string.h>

void tl_strict_expect(struct tl_strict *st, enum tl_expect e, uint64_t pos,
                      uint64_t skip)
{
    st->expect = e;
    if (pos > st->pos)
        st->pos = pos;
    st->skip = skip;
    st->line = e == TL_TRAILER ? 1 : 0;
    st->col = 0;
    st->cr = 0;
    st->delim = 0;
}

static const char *where(const struct tl_strict *st)
{
    if (st->expect == TL_HEAD)
        return st->line == 0 ? "in the status line" : "in the headers";
    if (st->expect == TL_TRAILER)
        return "in the chunked trailer";
    return "in a chunk-size line";
}

static int bad(struct tl_strict *st, const char *what)
{
    snprintf(st->error, sizeof st->error, "%s %s", what, where(st));
    return -1;
}

/* The end of a line (its CRLF seen): 1 when the expected part is over. */
static int line_end(struct tl_strict *st)
{
    int empty = st->col == 0;

    st->cr = 0;
    st->col = 0;
    if (st->expect == TL_LINE || st->expect == TL_CHUNK)
        return 1;
    if (empty && st->line == 0) {
        snprintf(st->error, sizeof st->error,
                 "empty line before the status line (a previous body "
                 "longer than its framing said?)");
        return -1;
    }
    if (empty)
        return 1;
    st->line++;
    return 0;
}

/* One byte of a line. Returns 1 at the end of what was expected, -1 on
 * an error, else 0. */
static int line_byte(struct tl_strict *st, char c)
{
    if (st->cr) {
        if (c != '\n')
            return bad(st, "bare CR (not followed by LF)");
        return line_end(st);
    }
    if (c == '\r') {
        st->cr = 1;
        return 0;
    }
    if (c == '\n')
        return bad(st, "bare LF (line not ended by CRLF)");
    if (st->col == 0 && st->line > 0 && (c == ' ' || c == '\t'))
        return bad(st, "obsolete line folding (RFC 9112 5.2)");
    st->col++;
    return 0;
}

/* TL_CHUNK: data, then CRLF (RFC 9112 7.1), then the next size line. */
static int chunk_byte(struct tl_strict *st, char c)
{
    if (st->delim < 2) {
        if (c != (st->delim == 0 ? '\r' : '\n')) {
            snprintf(st->error, sizeof st->error,
                     "chunk data not followed by CRLF (wrong chunk size?)");
            return -1;
        }
        st->delim++;
        return 0;
    }
    return line_byte(st, c);
}

size_t tl_strict_check(struct tl_strict *st, const char *data, size_t len,
                       uint64_t base)
{
    size_t i = st->pos > base ? (size_t)(st->pos - base) : 0;
    uint64_t n;
    int r;

    while (i < len && st->expect != TL_NOTHING) {
        if (st->expect == TL_CHUNK && st->skip > 0) {
            n = len - i < st->skip ? len - i : st->skip;
            st->skip -= n;
            i += (size_t)n;
            continue;
        }
        r = st->expect == TL_CHUNK ? chunk_byte(st, data[i])
                                   : line_byte(st, data[i]);
        if (r < 0) {
            st->pos = base + i;
            return i;
        }
        i++;
        if (r > 0)
            st->expect = TL_NOTHING;
    }
    if (base + i > st->pos)
        st->pos = base + i;
    return len;
}
