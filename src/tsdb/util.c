/*
 * util.c - small pieces shared by the tsdb encodings: error names, the
 * staleness marker and the exact decimal split of a float64.
 *
 * DESIGN: most metric values are integers or short decimals. A value v is
 * stored as the integer m with exponent e when (double)m / 10^e reproduces
 * every bit of v. Both directions use only exactly representable operands
 * (|m| < 2^53, 10^e with e <= 15) and one correctly rounded IEEE division,
 * so every encoder and decoder on every platform gets the same bits.
 * Stateless and thread-safe.
 */
#include <math.h>

#include "tsdb/tsdb.h"
#include "tsdb/tsdb_internal.h"

const char *dw_tsdb_strerror(int err)
{
    switch (err) {
    case DW_TSDB_OK: return "ok";
    case DW_TSDB_EFULL: return "chunk full";
    case DW_TSDB_EORDER: return "timestamp out of order";
    case DW_TSDB_ECORRUPT: return "corrupt data";
    case DW_TSDB_EIO: return "i/o error";
    case DW_TSDB_ELIMIT: return "limit exceeded";
    case DW_TSDB_EINVAL: return "invalid argument";
    case DW_TSDB_ECLOSED: return "wal failed after an i/o error";
    case DW_TSDB_ELOADING: return "the time-series store is still loading";
    default: return "unknown error";
    }
}

double dw_tsdb_stale_nan(void)
{
    return dw_tsdb_u2f(DW_TSDB_STALE_BITS);
}

bool dw_tsdb_is_stale(double v)
{
    return dw_tsdb_f2u(v) == DW_TSDB_STALE_BITS;
}

static const double pow10_tab[DW_TSDB_DEC_MAX_EXP + 1] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
};

double dw_tsdb_pow10(int e)
{
    return pow10_tab[e & 15];
}

/*
 * Why one trial is enough: if v == m/10^k for some k, then also
 * v == (m*10^j)/10^(k+j) as long as m*10^j stays exact (same rational,
 * same rounding). So we try only the largest exponent that keeps
 * |v*10^e| below 2^50 (where the rounding error of v*10^e is below 1/4,
 * so llrint finds m), then strip trailing zeros to get the smallest e.
 */
#define DEC_LIMIT 1125899906842624.0 /* 2^50 */

bool dw_tsdb_dec_split(double v, int64_t *m, int *e)
{
    uint64_t bits = dw_tsdb_f2u(v);
    if (bits == 0) {
        *m = 0;
        *e = 0;
        return true;
    }
    double a = fabs(v);
    if (!(a < DEC_LIMIT) || a == 0.0) /* NaN, Inf, huge, -0.0 */
        return false;
    int64_t i = (int64_t)v;
    if ((double)i == v) { /* integers, the most common case */
        *m = i;
        *e = 0;
        return true;
    }
    /* Largest k with a * 10^k < 2^50, from the binary exponent (log10(2) ~ 0.30103). */
    int bexp = (int)((bits >> 52) & 0x7ff) - 1023;
    int k = (int)((49 - bexp) * 0.30103);
    if (k > DW_TSDB_DEC_MAX_EXP)
        k = DW_TSDB_DEC_MAX_EXP;
    while (k < DW_TSDB_DEC_MAX_EXP && a * pow10_tab[k + 1] < DEC_LIMIT)
        k++;
    while (k > 0 && a * pow10_tab[k] >= DEC_LIMIT)
        k--;
    int64_t mm = (int64_t)llrint(v * pow10_tab[k]);
    if (dw_tsdb_f2u((double)mm / pow10_tab[k]) != bits)
        return false;
    while (k > 0 && mm % 10 == 0) {
        mm /= 10;
        k--;
    }
    *m = mm;
    *e = k;
    return true;
}
