/*
 * noname.c - a module whose descriptor has no name and no handlers;
 * squalld refuses it with a message rather than dereference NULL.
 */
#include <squall/squall.h>

SQ_MODULE(.name = NULL, .handlers = NULL);
