/*
 * badmagic.c - a shared object that exports a symbol named like a module
 * descriptor but is not one (its magic is wrong). squalld must refuse it
 * before it reads any other field.
 */
#include <squall/squall.h>

__attribute__((visibility("default"))) const sq_module sq_module_descriptor = {
    .magic = 0xdeadbeefu,
    .abi = SQ_ABI_VERSION,
    .name = "badmagic",
};
