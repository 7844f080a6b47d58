/* qnum: checked double -> int conversions (see qnum.h). */
#include "analysis/qnum.h"

#include <math.h>

int qnum_int(double x, int lo, int hi, int *out)
{
    /* the comparisons are false for NaN; lo/hi are exact in a double */
    if (!(x >= (double)lo && x <= (double)hi) || x != floor(x))
        return -1;
    *out = (int)x;
    return 0;
}

int qnum_clamp_int(double x, int lo, int hi, int dflt)
{
    if (isnan(x))
        return dflt;
    if (x <= (double)lo)
        return lo;
    if (x >= (double)hi)
        return hi;
    return (int)x; /* inside (lo, hi): representable, truncates */
}
