/*
 * main.c - squalld's command line.
 *
 *   squalld [-t] [-m moduledir] -c file      run, or check the config (-t)
 *   squalld -V                               version and build features
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SQ_CONFIG_FILE
#define SQ_CONFIG_FILE "/etc/squall/squall.yaml"
#endif

static void usage(FILE *f)
{
    fprintf(f, "usage: squalld [-t] [-m moduledir] [-c file]\n"
               "       squalld -V | -h\n"
               "  -c file       configuration (default " SQ_CONFIG_FILE ")\n"
               "  -t            check the configuration, modules and "
               "handlers, then exit\n"
               "  -m moduledir  where bare module names are looked up\n"
               "  -V            print version and build features\n"
               "  -h            print this help\n");
}

/* Everything a worker does before serving except running module code:
 * load every module, resolve every handler, compile every route. */
static int check_full(const struct config *cfg, char *err, size_t errlen)
{
    struct modset ms;
    struct router *rt;
    char msg[512];
    int rc = 0;

    if (modset_load(&ms, cfg, err, errlen) < 0)
        return -1;
    if ((rt = router_new()) == NULL) {
        modset_unload(&ms);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < ms.nroutes && rc == 0; i++) {
        const struct route_conf *r = ms.routes[i].conf;
        if (router_add(rt, r->path, r->methods, &ms.routes[i], msg,
                       sizeof(msg)) < 0) {
            snprintf(err, errlen, "%s:%d:%d: %s", r->mark.file, r->mark.line,
                     r->mark.col, msg);
            rc = -1;
        }
    }
    router_free(rt);
    modset_unload(&ms);
    return rc;
}

/* The master must not load modules, so a short-lived child checks them
 * before any socket is served. */
static int check_in_child(const struct config *cfg)
{
    char err[1024];
    int status;
    pid_t pid = fork();

    if (pid < 0)
        return -1;
    if (pid == 0) {
        if (check_full(cfg, err, sizeof(err)) < 0) {
            fprintf(stderr, "squalld: %s\n", err);
            _exit(1);
        }
        _exit(0);
    }
    if (waitpid(pid, &status, 0) < 0)
        return -1;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    const char *path = SQ_CONFIG_FILE;
    struct listener *ls;
    struct config *cfg;
    size_t nls;
    char err[1024] = "";
    int opt, test = 0, rc;

    while ((opt = getopt(argc, argv, "c:m:tVh")) != -1) {
        switch (opt) {
        case 'c':
            path = optarg;
            break;
        case 'm':
            module_dir = optarg;
            break;
        case 't':
            test = 1;
            break;
        case 'V':
            printf("squalld %s\nmodule ABI %d\nfeatures: %s\n", PACKAGE_VERSION,
                   SQ_ABI_VERSION, SQ_BUILD_FEATURES);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 1;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 1;
    }
    if ((cfg = config_load(path, err, sizeof(err))) == NULL) {
        fprintf(stderr, "squalld: %s\n", err);
        return 1;
    }
    /* the secrets are read once, here; the workers inherit them */
    if (security_load(cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "squalld: %s\n", err);
        config_free(cfg);
        return 1;
    }
    if (test) {
        rc = check_full(cfg, err, sizeof(err));
        if (rc == 0)
            rc = tls_check(cfg, err, sizeof(err));
        if (rc < 0)
            fprintf(stderr, "squalld: %s\n", err);
        else
            printf("configuration ok\n");
        config_free(cfg);
        return rc < 0 ? 1 : 0;
    }
    if (check_in_child(cfg) < 0 || log_open(cfg, err, sizeof(err)) < 0 ||
        listen_open(cfg, &ls, &nls, err, sizeof(err)) < 0) {
        if (err[0] != '\0')
            fprintf(stderr, "squalld: %s\n", err);
        config_free(cfg);
        return 1;
    }
    /* the contexts the workers share (session ticket keys): made here,
     * before the fork */
    if (tls_attach(cfg, ls, nls, err, sizeof(err)) < 0) {
        fprintf(stderr, "squalld: %s\n", err);
        listen_close(ls, nls, 1);
        config_free(cfg);
        return 1;
    }
    rc = master_main(cfg, path, ls, nls);
    config_free(cfg);
    return rc;
}
