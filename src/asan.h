/*
 * asan.h - what pool.c and buf.c do differently under AddressSanitizer.
 *
 * Their caches hand memory back out LIFO, so a pointer kept past the end
 * of a request would point into the next request's live memory, and ASan
 * would see nothing. In an ASan build (--enable-sanitizers) SQ_ASAN is 1
 * and the allocators make such uses visible; otherwise it is 0 and every
 * macro here compiles to nothing.
 */
#ifndef SQUALL_ASAN_H
#define SQUALL_ASAN_H

#if defined(__SANITIZE_ADDRESS__) /* gcc */
#define SQ_ASAN 1
#elif defined(__has_feature) /* clang */
#if __has_feature(address_sanitizer)
#define SQ_ASAN 1
#endif
#endif

#ifdef SQ_ASAN
#include <sanitizer/asan_interface.h>
/* Marks [p, p + n) unusable: ASan reports any access to it. */
#define SQ_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define SQ_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define SQ_ASAN 0
#define SQ_POISON(p, n) ((void)(p), (void)(n))
#define SQ_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#endif
