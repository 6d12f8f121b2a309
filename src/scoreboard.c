/*
 * scoreboard.c - counters the master shares with its workers.
 *
 * One MAP_SHARED anonymous mapping, created by the master before the first
 * fork, so every worker (and every respawned one) sees the same memory.
 * Each worker slot has its own cache line, written by that slot's worker
 * and, between two workers of the slot, by the master. Today it holds what
 * accept throttling needs (worker.c): whether the slot's worker accepts,
 * how many connections it holds and has ever accepted. It is the place for
 * the Prometheus metrics the master will aggregate.
 *
 * Counters are relaxed atomics: readers want a recent value, not a
 * consistent snapshot of all slots.
 */
#include "internal.h"

#include <stdatomic.h>
#include <sys/mman.h>

struct sb_slot {
    atomic_int live;            /* its worker is accepting */
    atomic_uint conns;          /* connections open in its worker */
    atomic_ulong accepted;      /* connections accepted, ever */
} __attribute__((aligned(64))); /* no false sharing between workers */

static struct sb_slot *board;
static int nslots;

int scoreboard_create(int slots)
{
    size_t size = (size_t)slots * sizeof(*board);
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);

    if (p == MAP_FAILED)
        return -1;
    board = p; /* zero-filled: no slot live */
    nslots = slots;
    return 0;
}

void scoreboard_destroy(void)
{
    if (board != NULL)
        munmap(board, (size_t)nslots * sizeof(*board));
    board = NULL;
    nslots = 0;
}

static struct sb_slot *slot_at(int slot)
{
    return board != NULL && slot >= 0 && slot < nslots ? &board[slot] : NULL;
}

void scoreboard_reset(int slot)
{
    struct sb_slot *s = slot_at(slot);

    if (s == NULL)
        return;
    atomic_store_explicit(&s->live, 0, memory_order_relaxed);
    atomic_store_explicit(&s->conns, 0, memory_order_relaxed);
}

void scoreboard_set_live(int slot, int live)
{
    struct sb_slot *s = slot_at(slot);

    if (s != NULL)
        atomic_store_explicit(&s->live, live, memory_order_relaxed);
}

void scoreboard_set_conns(int slot, unsigned conns)
{
    struct sb_slot *s = slot_at(slot);

    if (s != NULL)
        atomic_store_explicit(&s->conns, conns, memory_order_relaxed);
}

void scoreboard_accepted(int slot, unsigned n)
{
    struct sb_slot *s = slot_at(slot);

    if (s != NULL)
        atomic_fetch_add_explicit(&s->accepted, n, memory_order_relaxed);
}

void scoreboard_view(int slot, struct sb_view *v)
{
    v->mine = v->total = 0;
    v->nlive = 0;
    v->others_accepted = 0;
    for (int i = 0; i < nslots; i++) {
        const struct sb_slot *s = &board[i];
        unsigned conns = atomic_load_explicit(&s->conns, memory_order_relaxed);

        if (i == slot)
            v->mine = conns;
        else
            v->others_accepted +=
                atomic_load_explicit(&s->accepted, memory_order_relaxed);
        if (i != slot && !atomic_load_explicit(&s->live, memory_order_relaxed))
            continue;
        v->nlive++;
        v->total += conns;
    }
}

int scoreboard_over_share(const struct sb_view *v, unsigned slack)
{
    unsigned avg;

    if (v->nlive < 2)
        return 0; /* nobody else to take the connection */
    avg = v->total / v->nlive;
    return v->mine > avg + slack + avg / SB_SHARE_TOLERANCE;
}
