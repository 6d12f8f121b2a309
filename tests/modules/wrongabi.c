/*
 * wrongabi.c - a module that claims to be built for a future module ABI.
 * squalld must refuse it by name rather than call into a struct layout it
 * does not know. SQ_MODULE() always stamps SQ_ABI_VERSION, so the
 * descriptor is spelled out by hand.
 */
#include <squall/squall.h>

static int hello(sq_req *r)
{
    (void)r;
    return SQ_DONE;
}

__attribute__((visibility("default"))) const sq_module sq_module_descriptor = {
    .magic = SQ_MODULE_MAGIC,
    .abi = SQ_ABI_VERSION + 6,
    .name = "wrongabi",
    .handlers = SQ_HANDLERS(hello),
};
