/* qnum: checked conversions of numbers read from files.
 *
 * A number in a JSON file (cJSON keeps every number as a double) may be
 * NaN-free but still infinite (1e999), fractional or far beyond int
 * (1e300, 3e10).  Casting such a double to int is undefined behaviour in C
 * (UBSan: "inf is outside the range of representable values of type
 * 'int'"), so every double -> int of file data goes through here. */
#ifndef QLENS_QNUM_H
#define QLENS_QNUM_H

/* *out = x when x is finite, a whole number and within [lo, hi]; returns 0.
 * Otherwise returns -1 and leaves *out untouched. */
int qnum_int(double x, int lo, int hi, int *out);

/* x truncated toward zero and clamped to [lo, hi]; `dflt` when x is NaN.
 * For values that only steer display or defaults, never for data. */
int qnum_clamp_int(double x, int lo, int hi, int dflt);

#endif
