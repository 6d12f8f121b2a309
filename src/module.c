/*
 * module.c - loads handler modules (.so) and resolves routes to handlers.
 *
 * Every worker loads the modules itself after fork (the master never does,
 * so a crashing module cannot take the daemon down). A module is refused,
 * by name and path, when it is not a squall module or was built against
 * another module ABI, as nginx refuses a module of another version: a
 * mismatched struct layout would otherwise crash at the first request.
 *
 * Messages are one line, "file:line:col: what", pointing at the config
 * value that caused them.
 */
#include "internal.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef SQ_MODULE_DIR
#define SQ_MODULE_DIR "/usr/local/lib/squall/modules"
#endif

const char *module_dir = SQ_MODULE_DIR;

/* $SQUALL_MODULE_DIR (development trees, tests) replaces the installed
 * directory for the whole process; main.c's -m replaces both. Read before
 * main() so that module_dir always names the directory in effect. */
__attribute__((constructor)) static void module_dir_from_env(void)
{
    const char *dir = getenv("SQUALL_MODULE_DIR");

    if (dir && *dir)
        module_dir = dir;
}

static const char *mark_file(const struct conf_mark *mk)
{
    return mk->file ? mk->file : "(config)";
}

/* A bare name ("hello.so") is looked up in module_dir; anything with a
 * '/' is used as is. */
static int resolve_path(const char *path, char *buf, size_t len)
{
    int n;

    if (strchr(path, '/'))
        n = snprintf(buf, len, "%s", path);
    else
        n = snprintf(buf, len, "%s/%s", module_dir, path);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* Checks what the module says about itself; dlsym cannot tell a
 * descriptor from any other symbol of that name. */
static int check_desc(const sq_module *d, const struct module_conf *mc,
                      const char *path, char *err, size_t errlen)
{
    const struct conf_mark *mk = &mc->path_mark;
    const char *f = mark_file(mk);

    if (d->magic != SQ_MODULE_MAGIC) {
        errf(err, errlen,
             "%s:%d:%d: module '%s' (%s) is not a squall module: its "
             "%s has magic 0x%08x, not 0x%08x",
             f, mk->line, mk->col, mc->name, path, SQ_MODULE_SYMBOL,
             (unsigned)d->magic, SQ_MODULE_MAGIC);
        return -1;
    }
    if (d->abi != SQ_ABI_VERSION) {
        errf(err, errlen,
             "%s:%d:%d: module '%s' (%s) was built for squall module ABI "
             "%u, this squalld has ABI %u; rebuild it against this "
             "squall's headers",
             f, mk->line, mk->col, mc->name, path, (unsigned)d->abi,
             (unsigned)SQ_ABI_VERSION);
        return -1;
    }
    if (!d->name) {
        errf(err, errlen, "%s:%d:%d: module '%s' (%s) has no name in its %s", f,
             mk->line, mk->col, mc->name, path, SQ_MODULE_SYMBOL);
        return -1;
    }
    if (!d->handlers && !d->websockets) {
        errf(err, errlen,
             "%s:%d:%d: module '%s' (%s) has no handlers in its %s", f,
             mk->line, mk->col, mc->name, path, SQ_MODULE_SYMBOL);
        return -1;
    }
    return 0;
}

/* dlerror() without the "path: " it starts with, which the message
 * already shows. */
static const char *dl_reason(const char *path)
{
    const char *e = dlerror();
    size_t n = strlen(path);

    if (!e)
        return "unknown error";
    if (strncmp(e, path, n) == 0 && e[n] == ':' && e[n + 1] == ' ')
        return e + n + 2;
    return e;
}

int module_load(struct module *m, const struct module_conf *mc, char *err,
                size_t errlen)
{
    const struct conf_mark *mk = &mc->path_mark;
    char path[PATH_MAX];
    const sq_module *d;
    void *dl;

    memset(m, 0, sizeof(*m));
    if (resolve_path(mc->path, path, sizeof(path)) < 0) {
        errf(err, errlen, "%s:%d:%d: module '%s': path too long", mark_file(mk),
             mk->line, mk->col, mc->name);
        return -1;
    }
    /* RTLD_NOW: an undefined sq_* symbol fails here, not mid-request;
     * RTLD_LOCAL: modules cannot collide through their own symbols */
    dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        errf(err, errlen, "%s:%d:%d: cannot load module '%s' (%s): %s",
             mark_file(mk), mk->line, mk->col, mc->name, path, dl_reason(path));
        return -1;
    }
    d = dlsym(dl, SQ_MODULE_SYMBOL);
    if (!d) {
        errf(err, errlen,
             "%s:%d:%d: module '%s' (%s) is not a squall module: no %s",
             mark_file(mk), mk->line, mk->col, mc->name, path,
             SQ_MODULE_SYMBOL);
        goto fail;
    }
    if (check_desc(d, mc, path, err, errlen) < 0)
        goto fail;
    m->conf = mc;
    m->dl = dl;
    m->desc = d;
    return 0;
fail:
    dlclose(dl);
    return -1;
}

sq_handler_fn module_handler(const struct module *m, const char *name)
{
    const sq_handler_def *h;

    for (h = m->desc->handlers; h && h->name; h++)
        if (strcmp(h->name, name) == 0)
            return h->fn;
    return NULL;
}

const sq_ws_def *module_websocket(const struct module *m, const char *name)
{
    const sq_ws_def *w;

    for (w = m->desc->websockets; w && w->name; w++)
        if (strcmp(w->name, name) == 0)
            return w;
    return NULL;
}

static void module_fini(struct module *m)
{
    if (m->inited && m->desc->fini)
        m->desc->fini();
    m->inited = 0;
}

static void module_close(struct module *m)
{
    if (m->dl)
        dlclose(m->dl);
    memset(m, 0, sizeof(*m));
}

void module_unload(struct module *m)
{
    module_fini(m);
    module_close(m);
}

/* Module sets ---------------------------------------------------------- */

static const struct module *modset_find(const struct modset *ms,
                                        const char *name)
{
    size_t i;

    for (i = 0; i < ms->nmods; i++)
        if (strcmp(ms->mods[i].conf->name, name) == 0)
            return &ms->mods[i];
    return NULL;
}

/* Appends ", name" (or "name" first) to buf. */
static void list_add(char *buf, size_t len, size_t *n, const char *name)
{
    int w;

    if (*n >= len)
        return;
    w = snprintf(buf + *n, len - *n, "%s%s", *n ? ", " : "", name);
    if (w > 0)
        *n += (size_t)w;
}

/* "hello, echo": what the module does have, for the message. */
static void handler_list(const struct module *m, int websocket, char *buf,
                         size_t len)
{
    const sq_handler_def *h;
    const sq_ws_def *w;
    size_t n = 0;

    buf[0] = '\0';
    if (websocket)
        for (w = m->desc->websockets; w && w->name; w++)
            list_add(buf, len, &n, w->name);
    else
        for (h = m->desc->handlers; h && h->name; h++)
            list_add(buf, len, &n, h->name);
    if (n == 0)
        snprintf(buf, len, "none");
}

static int route_resolve(struct modset *ms, const struct route_conf *rc,
                         struct route *r, char *err, size_t errlen)
{
    const struct conf_mark *mk = &rc->handler_mark;
    char list[512];

    r->conf = rc;
    if (rc->subscribe) {
        r->kind = ROUTE_SUBSCRIBE;
        r->ws = &endpoint_ws;
        return 0;
    }
    if (rc->publish) {
        r->kind = ROUTE_PUBLISH;
        return 0;
    }
    if (!rc->module) /* not a handler route (static, redirect, ...) */
        return 0;
    r->mod = modset_find(ms, rc->module);
    if (!r->mod) {
        errf(err, errlen, "%s:%d:%d: no module '%s' is declared under modules",
             mark_file(mk), mk->line, mk->col, rc->module);
        return -1;
    }
    if (rc->websocket) {
        r->kind = ROUTE_WEBSOCKET;
        r->ws = module_websocket(r->mod, rc->handler);
        if (r->ws)
            return 0;
    } else {
        r->kind = ROUTE_HANDLER;
        r->fn = module_handler(r->mod, rc->handler);
        if (r->fn)
            return 0;
    }
    handler_list(r->mod, rc->websocket, list, sizeof(list));
    errf(err, errlen, "%s:%d:%d: module '%s' has no %s '%s' (it has: %s)",
         mark_file(mk), mk->line, mk->col, rc->module,
         rc->websocket ? "websocket endpoint" : "handler", rc->handler, list);
    return -1;
}

int modset_load(struct modset *ms, const struct config *cfg, char *err,
                size_t errlen)
{
    size_t i;

    memset(ms, 0, sizeof(*ms));
    ms->mods = calloc(cfg->nmodules ? cfg->nmodules : 1, sizeof(*ms->mods));
    ms->routes = calloc(cfg->nroutes ? cfg->nroutes : 1, sizeof(*ms->routes));
    if (!ms->mods || !ms->routes) {
        errf(err, errlen, "loading modules: out of memory");
        goto fail;
    }
    for (; ms->nmods < cfg->nmodules; ms->nmods++)
        if (module_load(&ms->mods[ms->nmods], &cfg->modules[ms->nmods], err,
                        errlen) < 0)
            goto fail;
    for (i = 0; i < cfg->nroutes; i++)
        if (route_resolve(ms, &cfg->routes[i], &ms->routes[i], err, errlen) < 0)
            goto fail;
    ms->nroutes = cfg->nroutes;
    return 0;
fail:
    modset_unload(ms);
    return -1;
}

/* Stops at the first failure; the caller unloads the set, which runs
 * fini for the modules whose init did succeed. */
int modset_init(struct modset *ms, char *err, size_t errlen)
{
    size_t i;

    for (i = 0; i < ms->nmods; i++) {
        struct module *m = &ms->mods[i];

        if (m->desc->init && m->desc->init(m->conf->config) != 0) {
            errf(err, errlen, "module '%s': init failed", m->conf->name);
            return -1;
        }
        m->inited = 1;
    }
    return 0;
}

/* In reverse order of init; only for the modules whose init succeeded
 * (the others never started), so it is also the cleanup after a failed
 * modset_init. Idempotent. */
void modset_fini(struct modset *ms)
{
    for (size_t i = ms->nmods; i-- > 0;)
        module_fini(&ms->mods[i]);
}

/* Every fini runs before the first dlclose, so that no fini calls into code
 * already unmapped, e.g. a callback another module registered with it. */
void modset_unload(struct modset *ms)
{
    size_t i;

    modset_fini(ms);
    for (i = ms->nmods; i-- > 0;)
        module_close(&ms->mods[i]);
    free(ms->mods);
    free(ms->routes);
    memset(ms, 0, sizeof(*ms));
}
