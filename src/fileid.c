/* fileid: FNV-1a 64 and a file's two ends (see fileid.h). */
#include "src/fileid.h"

#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

uint64_t fileid_fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

int fileid_hash_ends(int fd, uint64_t size, uint64_t *h)
{
    unsigned char *buf = malloc(FILEID_END_BYTES);
    if (!buf)
        return -1;
    *h = FILEID_FNV_INIT;
    uint64_t offs[2] = {0, size > FILEID_END_BYTES ? size - FILEID_END_BYTES : 0};
    int rc = 0;
    for (int k = 0; k < 2 && !rc; k++) {
        size_t want = size - offs[k] < FILEID_END_BYTES ? (size_t)(size - offs[k])
                                                        : FILEID_END_BYTES;
        ssize_t got = pread(fd, buf, want, (off_t)offs[k]);
        if (got != (ssize_t)want)
            rc = -1;
        else
            *h = fileid_fnv(*h, buf, want);
    }
    free(buf);
    return rc;
}
