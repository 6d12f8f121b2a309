/*
 * test_module.c - src/module.c: loading modules, refusing what is not a
 * module of this ABI, resolving routes to handlers, init and fini.
 *
 * Needs, as `make check` sets them:
 *   SQUALL_MODULE_DIR    the built handlers/ (hello.so: hello, echo)
 *   SQUALL_TEST_MODULES  the built tests/modules/ (wrongabi.so, nodesc.so)
 */
#include "internal.h"

#include <check.h>
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char err[1024];

static const char *env_dir(const char *name)
{
    const char *dir = getenv(name);

    ck_assert_msg(dir && *dir, "%s is not set: run through `make check`", name);
    return dir;
}

/* A path in $SQUALL_TEST_MODULES or module_dir; a static buffer each. */
static const char *test_module(const char *file)
{
    static char buf[PATH_MAX];

    snprintf(buf, sizeof(buf), "%s/%s", env_dir("SQUALL_TEST_MODULES"), file);
    return buf;
}

static const char *handler_module(const char *file)
{
    static char buf[PATH_MAX];

    snprintf(buf, sizeof(buf), "%s/%s", module_dir, file);
    return buf;
}

static struct module_conf mconf(const char *name, const char *path)
{
    struct module_conf mc;

    memset(&mc, 0, sizeof(mc));
    mc.name = (char *)name;
    mc.path = (char *)path;
    mc.mark = (struct conf_mark){"squall.yaml", 3, 3};
    mc.path_mark = (struct conf_mark){"squall.yaml", 3, 11};
    return mc;
}

static struct route_conf rconf(const char *module, const char *handler)
{
    struct route_conf rc;

    memset(&rc, 0, sizeof(rc));
    rc.path = "/";
    rc.module = (char *)module;
    rc.handler = (char *)handler;
    rc.mark = (struct conf_mark){"squall.yaml", 7, 5};
    rc.handler_mark = (struct conf_mark){"squall.yaml", 7, 14};
    return rc;
}

static struct config cfg_of(struct module_conf *mods, size_t nmods,
                            struct route_conf *routes, size_t nroutes)
{
    struct config cfg;

    memset(&cfg, 0, sizeof(cfg));
    cfg.file = "squall.yaml";
    cfg.modules = mods;
    cfg.nmodules = nmods;
    cfg.routes = routes;
    cfg.nroutes = nroutes;
    return cfg;
}

/* Loading ------------------------------------------------------------ */

START_TEST(test_module_dir_from_env)
{
    ck_assert_str_eq(module_dir, env_dir("SQUALL_MODULE_DIR"));
}
END_TEST

START_TEST(test_load_bare_name)
{
    struct module_conf mc = mconf("hello", "hello.so");
    struct module m;

    ck_assert_msg(module_load(&m, &mc, err, sizeof(err)) == 0, "%s", err);
    ck_assert_ptr_nonnull(m.dl);
    ck_assert_ptr_eq(m.conf, &mc);
    ck_assert_str_eq(m.desc->name, "hello");
    ck_assert_int_eq(m.inited, 0);
    module_unload(&m);
    ck_assert_ptr_null(m.dl);
}
END_TEST

START_TEST(test_load_path_with_slash)
{
    char path[PATH_MAX];
    struct module_conf mc;
    struct module m;

    snprintf(path, sizeof(path), "%s", handler_module("hello.so"));
    mc = mconf("hello", path);
    /* a path with a '/' is not looked up in module_dir */
    module_dir = "/nonexistent";
    ck_assert_msg(module_load(&m, &mc, err, sizeof(err)) == 0, "%s", err);
    module_unload(&m);
}
END_TEST

START_TEST(test_handler_lookup)
{
    struct module_conf mc = mconf("hello", "hello.so");
    struct module m;

    ck_assert_msg(module_load(&m, &mc, err, sizeof(err)) == 0, "%s", err);
    ck_assert_ptr_nonnull(module_handler(&m, "hello"));
    ck_assert_ptr_nonnull(module_handler(&m, "echo"));
    ck_assert_ptr_ne(module_handler(&m, "hello"), module_handler(&m, "echo"));
    ck_assert_ptr_null(module_handler(&m, "nope"));
    ck_assert_ptr_null(module_handler(&m, "hell"));
    module_unload(&m);
}
END_TEST

START_TEST(test_load_missing_file)
{
    struct module_conf mc = mconf("missing", "missing.so");
    struct module m;
    char want[PATH_MAX + 128];

    ck_assert_int_lt(module_load(&m, &mc, err, sizeof(err)), 0);
    snprintf(want, sizeof(want),
             "squall.yaml:3:11: cannot load module 'missing' (%s): ",
             handler_module("missing.so"));
    ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s", err);
    /* dlerror's own "path: " prefix is not repeated */
    ck_assert_str_eq(err + strlen(want),
                     "cannot open shared object file: No such file or "
                     "directory");
    ck_assert_ptr_null(strchr(err, '\n'));
    ck_assert_ptr_null(m.dl);
}
END_TEST

START_TEST(test_load_wrong_abi)
{
    struct module_conf mc = mconf("old", test_module("wrongabi.so"));
    struct module m;
    char want[PATH_MAX + 256];

    ck_assert_int_lt(module_load(&m, &mc, err, sizeof(err)), 0);
    snprintf(want, sizeof(want),
             "squall.yaml:3:11: module 'old' (%s) was built for squall "
             "module ABI %d, this squalld has ABI %d; rebuild it against "
             "this squall's headers",
             mc.path, SQ_ABI_VERSION + 6, SQ_ABI_VERSION);
    ck_assert_str_eq(err, want);
    ck_assert_ptr_null(m.dl);
}
END_TEST

START_TEST(test_load_bad_magic)
{
    struct module_conf mc = mconf("fake", test_module("badmagic.so"));
    struct module m;
    char want[PATH_MAX + 256];

    ck_assert_int_lt(module_load(&m, &mc, err, sizeof(err)), 0);
    snprintf(want, sizeof(want),
             "squall.yaml:3:11: module 'fake' (%s) is not a squall module: "
             "its sq_module_descriptor has magic 0xdeadbeef, not 0x%08x",
             mc.path, SQ_MODULE_MAGIC);
    ck_assert_str_eq(err, want);
    ck_assert_ptr_null(m.dl);
}
END_TEST

START_TEST(test_load_no_name)
{
    struct module_conf mc = mconf("anon", test_module("noname.so"));
    struct module m;
    char want[PATH_MAX + 256];

    ck_assert_int_lt(module_load(&m, &mc, err, sizeof(err)), 0);
    snprintf(want, sizeof(want),
             "squall.yaml:3:11: module 'anon' (%s) has no name in its "
             "sq_module_descriptor",
             mc.path);
    ck_assert_str_eq(err, want);
    ck_assert_ptr_null(m.dl);
}
END_TEST

START_TEST(test_load_no_descriptor)
{
    struct module_conf mc = mconf("plain", test_module("nodesc.so"));
    struct module m;
    char want[PATH_MAX + 256];

    ck_assert_int_lt(module_load(&m, &mc, err, sizeof(err)), 0);
    snprintf(want, sizeof(want),
             "squall.yaml:3:11: module 'plain' (%s) is not a squall "
             "module: no sq_module_descriptor",
             mc.path);
    ck_assert_str_eq(err, want);
    ck_assert_ptr_null(m.dl);
}
END_TEST

/* Module sets -------------------------------------------------------- */

START_TEST(test_modset_resolves_routes)
{
    struct module_conf mods[] = {mconf("hello", "hello.so")};
    struct route_conf routes[] = {rconf("hello", "echo"),
                                  rconf("hello", "hello"), rconf(NULL, NULL)};
    struct config cfg = cfg_of(mods, 1, routes, 3);
    struct modset ms;

    ck_assert_msg(modset_load(&ms, &cfg, err, sizeof(err)) == 0, "%s", err);
    ck_assert_uint_eq(ms.nmods, 1);
    ck_assert_uint_eq(ms.nroutes, 3);
    ck_assert_ptr_eq(ms.routes[0].conf, &routes[0]);
    ck_assert_ptr_eq(ms.routes[0].mod, &ms.mods[0]);
    ck_assert_ptr_eq(ms.routes[0].fn, module_handler(&ms.mods[0], "echo"));
    ck_assert_ptr_eq(ms.routes[1].fn, module_handler(&ms.mods[0], "hello"));
    /* a route that is not a handler route stays unresolved */
    ck_assert_ptr_null(ms.routes[2].mod);
    ck_assert_ptr_null(ms.routes[2].fn);
    modset_unload(&ms);
    ck_assert_ptr_null(ms.mods);
    ck_assert_uint_eq(ms.nmods, 0);
}
END_TEST

START_TEST(test_modset_missing_handler)
{
    struct module_conf mods[] = {mconf("hello", "hello.so")};
    struct route_conf routes[] = {rconf("hello", "hello"),
                                  rconf("hello", "nope")};
    struct config cfg = cfg_of(mods, 1, routes, 2);
    const char *want = "squall.yaml:7:14: module 'hello' has no handler "
                       "'nope' (it has: ";
    struct modset ms;
    size_t n;

    ck_assert_int_lt(modset_load(&ms, &cfg, err, sizeof(err)), 0);
    ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s", err);
    n = strlen(err);
    ck_assert_msg(err[n - 1] == ')', "%s", err);
    ck_assert_msg(strstr(err + strlen(want), "hello") != NULL, "%s", err);
    ck_assert_msg(strstr(err + strlen(want), "echo") != NULL, "%s", err);
    ck_assert_msg(strstr(err + strlen(want), ", ") != NULL, "%s", err);
    ck_assert_ptr_null(ms.mods);
}
END_TEST

START_TEST(test_modset_resolves_websockets)
{
    struct module_conf mods[] = {mconf("echo", "echo.so"),
                                 mconf("hello", "hello.so")};
    struct route_conf routes[] = {rconf("echo", "echo"),
                                  rconf("hello", "hello")};
    struct config cfg = cfg_of(mods, 2, routes, 2);
    struct modset ms;

    routes[0].websocket = 1;
    ck_assert_msg(modset_load(&ms, &cfg, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(ms.routes[0].kind, ROUTE_WEBSOCKET);
    ck_assert_ptr_nonnull(ms.routes[0].ws);
    ck_assert_ptr_eq(ms.routes[0].ws, module_websocket(&ms.mods[0], "echo"));
    ck_assert_ptr_nonnull(ms.routes[0].ws->message);
    ck_assert_int_eq(ms.routes[1].kind, ROUTE_HANDLER);
    /* echo.so has endpoints and no handlers: neither kind mixes up */
    ck_assert_ptr_null(module_handler(&ms.mods[0], "echo"));
    ck_assert_ptr_null(module_websocket(&ms.mods[1], "hello"));
    modset_unload(&ms);
}
END_TEST

START_TEST(test_modset_missing_websocket)
{
    struct module_conf mods[] = {mconf("echo", "echo.so")};
    struct route_conf routes[] = {rconf("echo", "chat")};
    struct config cfg = cfg_of(mods, 1, routes, 1);
    struct modset ms;

    routes[0].websocket = 1;
    ck_assert_int_lt(modset_load(&ms, &cfg, err, sizeof(err)), 0);
    ck_assert_str_eq(err, "squall.yaml:7:14: module 'echo' has no websocket "
                          "endpoint 'chat' (it has: echo)");
}
END_TEST

START_TEST(test_modset_unknown_module)
{
    struct module_conf mods[] = {mconf("hello", "hello.so")};
    struct route_conf routes[] = {rconf("other", "hello")};
    struct config cfg = cfg_of(mods, 1, routes, 1);
    struct modset ms;

    ck_assert_int_lt(modset_load(&ms, &cfg, err, sizeof(err)), 0);
    ck_assert_str_eq(err, "squall.yaml:7:14: no module 'other' is declared "
                          "under modules");
}
END_TEST

START_TEST(test_modset_failure_unloads)
{
    char hello[PATH_MAX];
    struct module_conf mods[2];
    struct config cfg;
    struct modset ms;

    snprintf(hello, sizeof(hello), "%s", handler_module("hello.so"));
    mods[0] = mconf("hello", hello);
    mods[1] = mconf("old", test_module("wrongabi.so"));
    cfg = cfg_of(mods, 2, NULL, 0);
    ck_assert_int_lt(modset_load(&ms, &cfg, err, sizeof(err)), 0);
    ck_assert_msg(strstr(err, "was built for squall module ABI") != NULL, "%s",
                  err);
    ck_assert_ptr_null(ms.mods);
    ck_assert_uint_eq(ms.nmods, 0);
    /* hello.so, loaded first, was closed again */
    ck_assert_ptr_null(dlopen(hello, RTLD_NOW | RTLD_NOLOAD));
}
END_TEST

START_TEST(test_modset_no_modules)
{
    struct config cfg = cfg_of(NULL, 0, NULL, 0);
    struct modset ms;

    ck_assert_int_eq(modset_load(&ms, &cfg, err, sizeof(err)), 0);
    ck_assert_int_eq(modset_init(&ms, err, sizeof(err)), 0);
    modset_unload(&ms);
    modset_unload(&ms); /* twice is harmless */
}
END_TEST

/* init and fini, with descriptors of this program ---------------------- */

static char calls[64];
static const sq_conf *init_got;

static int init_a(const sq_conf *c)
{
    strcat(calls, "ia ");
    init_got = c;
    return 0;
}

static void fini_a(void)
{
    strcat(calls, "fa ");
}

static int init_b_fails(const sq_conf *c)
{
    (void)c;
    strcat(calls, "ib ");
    return -1;
}

static void fini_b(void)
{
    strcat(calls, "fb ");
}

static void fini_c(void)
{
    strcat(calls, "fc ");
}

static const sq_handler_def no_handlers[] = {{NULL, NULL}};
static const sq_module desc_a = {.magic = SQ_MODULE_MAGIC,
                                 .abi = SQ_ABI_VERSION,
                                 .name = "a",
                                 .init = init_a,
                                 .fini = fini_a,
                                 .handlers = no_handlers};
static const sq_module desc_b = {.magic = SQ_MODULE_MAGIC,
                                 .abi = SQ_ABI_VERSION,
                                 .name = "b",
                                 .init = init_b_fails,
                                 .fini = fini_b,
                                 .handlers = no_handlers};
static const sq_module desc_c = {.magic = SQ_MODULE_MAGIC,
                                 .abi = SQ_ABI_VERSION,
                                 .name = "c",
                                 .fini = fini_c,
                                 .handlers = no_handlers};

static struct module_conf confs[3];

/* A set as modset_load leaves it, but of in-process descriptors. */
static void fake_set(struct modset *ms, const sq_module *const *descs, size_t n)
{
    size_t i;

    memset(ms, 0, sizeof(*ms));
    ms->mods = calloc(n, sizeof(*ms->mods));
    ck_assert_ptr_nonnull(ms->mods);
    for (i = 0; i < n; i++) {
        confs[i] = mconf(descs[i]->name, "unused.so");
        ms->mods[i].conf = &confs[i];
        ms->mods[i].desc = descs[i];
    }
    ms->nmods = n;
    calls[0] = '\0';
}

START_TEST(test_modset_init_passes_config)
{
    const sq_module *descs[] = {&desc_a, &desc_c};
    sq_conf *block = (sq_conf *)&calls; /* any distinct pointer */
    struct modset ms;

    fake_set(&ms, descs, 2);
    confs[0].config = block;
    ck_assert_int_eq(modset_init(&ms, err, sizeof(err)), 0);
    ck_assert_ptr_eq(init_got, block);
    ck_assert_str_eq(calls, "ia ");
    ck_assert_int_eq(ms.mods[0].inited, 1);
    ck_assert_int_eq(ms.mods[1].inited, 1);
    modset_unload(&ms);
}
END_TEST

START_TEST(test_modset_unload_runs_fini_in_reverse)
{
    const sq_module *descs[] = {&desc_a, &desc_c};
    struct modset ms;

    fake_set(&ms, descs, 2);
    ck_assert_int_eq(modset_init(&ms, err, sizeof(err)), 0);
    modset_unload(&ms);
    ck_assert_str_eq(calls, "ia fc fa ");
}
END_TEST

START_TEST(test_modset_init_failure)
{
    const sq_module *descs[] = {&desc_a, &desc_b, &desc_c};
    struct modset ms;

    fake_set(&ms, descs, 3);
    ck_assert_int_lt(modset_init(&ms, err, sizeof(err)), 0);
    ck_assert_str_eq(err, "module 'b': init failed");
    ck_assert_int_eq(ms.mods[0].inited, 1);
    ck_assert_int_eq(ms.mods[1].inited, 0);
    ck_assert_int_eq(ms.mods[2].inited, 0);
    /* only the module whose init succeeded is finished */
    modset_unload(&ms);
    ck_assert_str_eq(calls, "ia ib fa ");
}
END_TEST

START_TEST(test_unload_without_init_skips_fini)
{
    const sq_module *descs[] = {&desc_a};
    struct modset ms;

    fake_set(&ms, descs, 1);
    modset_unload(&ms);
    ck_assert_str_eq(calls, "");
}
END_TEST

/* A worker runs fini, frees its event base, then unloads: fini must leave
 * the modules loaded (their events may still be in the base) and unload
 * must not run it twice. */
START_TEST(test_modset_fini_before_unload)
{
    const sq_module *descs[] = {&desc_a, &desc_b, &desc_c};
    struct modset ms;

    fake_set(&ms, descs, 3);
    ck_assert_int_lt(modset_init(&ms, err, sizeof(err)), 0);
    modset_fini(&ms);
    ck_assert_str_eq(calls, "ia ib fa ");
    ck_assert_uint_eq(ms.nmods, 3);
    ck_assert_ptr_eq(ms.mods[0].desc, &desc_a);
    modset_fini(&ms);
    modset_unload(&ms);
    ck_assert_str_eq(calls, "ia ib fa ");
}
END_TEST

static Suite *module_suite(void)
{
    Suite *s = suite_create("module");
    TCase *tc = tcase_create("module");

    tcase_add_test(tc, test_module_dir_from_env);
    tcase_add_test(tc, test_load_bare_name);
    tcase_add_test(tc, test_load_path_with_slash);
    tcase_add_test(tc, test_handler_lookup);
    tcase_add_test(tc, test_load_missing_file);
    tcase_add_test(tc, test_load_wrong_abi);
    tcase_add_test(tc, test_load_no_descriptor);
    tcase_add_test(tc, test_load_bad_magic);
    tcase_add_test(tc, test_load_no_name);
    tcase_add_test(tc, test_modset_resolves_routes);
    tcase_add_test(tc, test_modset_missing_handler);
    tcase_add_test(tc, test_modset_resolves_websockets);
    tcase_add_test(tc, test_modset_missing_websocket);
    tcase_add_test(tc, test_modset_unknown_module);
    tcase_add_test(tc, test_modset_failure_unloads);
    tcase_add_test(tc, test_modset_no_modules);
    tcase_add_test(tc, test_modset_init_passes_config);
    tcase_add_test(tc, test_modset_unload_runs_fini_in_reverse);
    tcase_add_test(tc, test_modset_init_failure);
    tcase_add_test(tc, test_unload_without_init_skips_fini);
    tcase_add_test(tc, test_modset_fini_before_unload);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(module_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
