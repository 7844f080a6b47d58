/* fileid: what the result caches (src/tscache.c, src/sens_cache.c) use to
 * tell whether a model file is still the one they measured: an FNV-1a 64
 * hash and the hash of a file's two ends.
 *
 * The ends are the first and last 64 KiB: the header names and places
 * every tensor, the end catches an appended or rewritten tail; size and
 * modification time (the callers' part) catch the rest of the usual
 * edits without reading gigabytes. */
#ifndef QLENS_SRC_FILEID_H
#define QLENS_SRC_FILEID_H

#include <stddef.h>
#include <stdint.h>

#define FILEID_FNV_INIT 0xcbf29ce484222325ULL
#define FILEID_END_BYTES 65536

/* FNV-1a 64 over n bytes, continuing from h (start: FILEID_FNV_INIT). */
uint64_t fileid_fnv(uint64_t h, const void *p, size_t n);

/* FNV-1a 64 of the first and then the last FILEID_END_BYTES of the open
 * file fd of `size` bytes (a file smaller than that is hashed twice).
 * 0, or -1 when it cannot be read (errno set) or memory runs out. */
int fileid_hash_ends(int fd, uint64_t size, uint64_t *h);

#endif
