/* wpin: one pinned float copy per view (ui/wpin.h). */
#include "ui/wpin.h"

#include <stddef.h>

void wpin_init(struct wpin *p)
{
    p->t = NULL;
    p->x = NULL;
}

void wpin_drop(struct wpin *p)
{
    if (p->t)
        qtensor_f32_unpin(p->t);
    wpin_init(p);
}

const float *wpin_get(struct wpin *p, struct qtensor *t)
{
    if (p->t == t && p->x)
        return p->x;
    wpin_drop(p); /* first: the budget may free the old copy for the new */
    if (!t)
        return NULL;
    const float *x = qtensor_f32_pin(t);
    if (x) {
        p->t = t;
        p->x = x;
    }
    return x;
}
