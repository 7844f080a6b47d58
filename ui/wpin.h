/* wpin: the float values of the tensor a view shows, pinned in the
 * model's budgeted cache of float copies (src/model.h) while the view
 * uses them, instead of a copy kept until the model closes.
 *
 * A view holds at most one pin: asking for another tensor releases the
 * previous one first (so the budget may free it), and the view releases
 * it when the current tensor changes or the view is left.  The pointer
 * is valid until then; a view that keeps it in a map or histogram must
 * compare it again after pinning anew (the copy may have been freed and
 * made again elsewhere).  Main thread only (a job pins for itself). */
#ifndef QLENS_UI_WPIN_H
#define QLENS_UI_WPIN_H

#include "src/model.h"

struct wpin {
    struct qtensor *t;    /* the pinned tensor, or NULL                   */
    const float *x;       /* its (nelem) floats                           */
};

void wpin_init(struct wpin *p);
/* t's floats, pinned (once: asking again for t reuses the pin).  NULL
 * when no copy can be made (out of memory, no decoder): nothing pinned. */
const float *wpin_get(struct wpin *p, struct qtensor *t);
/* Release the pin, if any. */
void wpin_drop(struct wpin *p);

#endif
