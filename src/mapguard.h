/* mapguard: survive a mapped file that another process truncates.
 *
 * Reading a page of a MAP_PRIVATE file mapping that lies wholly past the
 * file's current end raises SIGBUS, whose default action kills the process
 * (exit 135, no message).  Model files are mapped for the whole run, so a
 * user who overwrites or truncates one while `qlens ppl`, `quant` or the
 * dashboard reads it would lose the process.
 *
 * mapguard keeps a table of guarded ranges and a SIGBUS handler
 * (SA_SIGINFO).  A fault whose si_addr lies inside a guarded range maps
 * anonymous zero pages over the rest of that range (MAP_FIXED), so the
 * faulting read completes, and marks the range; the handler does nothing
 * else (async-signal-safe: a table read, mmap, a flag store).  Whatever was
 * computed from the range since is void: the caller asks mapguard_faulted()
 * before it reports numbers.  A fault outside every range goes to the
 * handler that was installed before (or the default action: the process
 * dies as it would have). */
#ifndef QLENS_MAPGUARD_H
#define QLENS_MAPGUARD_H
#include <stddef.h>

/* Guard [base, base+size); returns a slot for the calls below, or -1 when
 * the table is full (the range is then simply unguarded).  Installs the
 * handler on first use. */
int mapguard_add(void *base, size_t size);
/* Stop guarding (before munmap). */
void mapguard_remove(int slot);
/* 1 when a fault in the slot's range was caught since mapguard_add. */
int mapguard_faulted(int slot);
/* (Re)install the handler, keeping the current SIGBUS handler as the one
 * that faults outside guarded ranges go to.  For code that installs its own
 * SIGBUS handler (the dashboard's terminal restore) after mapping files. */
void mapguard_install(void);

#endif
