/* mapguard: SIGBUS on truncated mapped files (see mapguard.h). */
#include "src/mapguard.h"

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MG_SLOTS 64

/* Written under mg_lock by normal code, read by the handler without a lock:
 * `base` is set last on add and cleared first on remove, so the handler
 * never sees a half-filled slot. */
static struct {
    void *volatile base;
    volatile size_t size;
    volatile sig_atomic_t faulted;
} mg_slot[MG_SLOTS];
static pthread_mutex_t mg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sigaction mg_prev;
static volatile sig_atomic_t mg_installed;
static uintptr_t mg_page;

static void mg_on_sigbus(int sig, siginfo_t *si, void *uc)
{
    uintptr_t a = (uintptr_t)si->si_addr;
    for (int i = 0; i < MG_SLOTS; i++) {
        uintptr_t b = (uintptr_t)mg_slot[i].base;
        if (!b || a < b || a - b >= mg_slot[i].size)
            continue;
        /* zero pages from the faulting page to the end of the range: the
         * read restarts and completes; the file's bytes there are gone */
        uintptr_t pg = a & ~(mg_page - 1);
        uintptr_t end = (b + mg_slot[i].size + mg_page - 1) & ~(mg_page - 1);
        if (mmap((void *)pg, end - pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1,
                 0) != MAP_FAILED) {
            mg_slot[i].faulted = 1;
            return;
        }
        break;
    }
    /* not ours: the handler before us, else die of the signal as before */
    if ((mg_prev.sa_flags & SA_SIGINFO) && mg_prev.sa_sigaction) {
        mg_prev.sa_sigaction(sig, si, uc);
    } else if (mg_prev.sa_handler != SIG_DFL && mg_prev.sa_handler != SIG_IGN) {
        mg_prev.sa_handler(sig);
    } else {
        signal(SIGBUS, SIG_DFL); /* the faulting access runs again and kills */
    }
}

void mapguard_install(void)
{
    struct sigaction sa, cur;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_sigaction = mg_on_sigbus;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER; /* a second fault while in here */
    mg_page = (uintptr_t)sysconf(_SC_PAGESIZE);
    if (sigaction(SIGBUS, NULL, &cur) == 0 && cur.sa_sigaction != mg_on_sigbus)
        mg_prev = cur;
    sigaction(SIGBUS, &sa, NULL);
    mg_installed = 1;
}

int mapguard_add(void *base, size_t size)
{
    int slot = -1;
    pthread_mutex_lock(&mg_lock);
    if (!mg_installed)
        mapguard_install();
    for (int i = 0; i < MG_SLOTS && slot < 0; i++)
        if (!mg_slot[i].base) {
            slot = i;
            mg_slot[i].size = size;
            mg_slot[i].faulted = 0;
            mg_slot[i].base = base;
        }
    pthread_mutex_unlock(&mg_lock);
    return slot;
}

void mapguard_remove(int slot)
{
    if (slot < 0 || slot >= MG_SLOTS)
        return;
    pthread_mutex_lock(&mg_lock);
    mg_slot[slot].base = NULL;
    pthread_mutex_unlock(&mg_lock);
}

int mapguard_faulted(int slot)
{
    return slot >= 0 && slot < MG_SLOTS && mg_slot[slot].faulted;
}
