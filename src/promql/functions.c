/*
 * functions.c - the table of PromQL functions of Prometheus 2.42.
 *
 * DESIGN: one static, read-only table sorted by name and indexed by
 * enum dw_promql_func_id, so the parser resolves a name once (binary
 * search) and the evaluator dispatches on the id. Argument types, the
 * variadic rule and the result type are those of Prometheus's
 * promql/parser/functions.go; at_unsafe marks what its engine lists in
 * AtModifierUnsafeFunctions.
 */
#include <string.h>

#include "promql/promql_internal.h"

#define S DW_PROMQL_TYPE_SCALAR
#define V DW_PROMQL_TYPE_VECTOR
#define M DW_PROMQL_TYPE_MATRIX
#define T DW_PROMQL_TYPE_STRING

#define FN(nm, id, nargs, var, ret, unsafe, hist, ...)                                             \
    {                                                                                              \
        nm, DW_PROMQL_FN_##id, nargs, var, {__VA_ARGS__}, ret, unsafe, hist                        \
    }

static const struct dw_promql_func table[DW_PROMQL_FN_COUNT_] = {
    FN("abs", ABS, 1, 0, V, false, false, V),
    FN("absent", ABSENT, 1, 0, V, false, false, V),
    FN("absent_over_time", ABSENT_OVER_TIME, 1, 0, V, false, false, M),
    FN("acos", ACOS, 1, 0, V, false, false, V),
    FN("acosh", ACOSH, 1, 0, V, false, false, V),
    FN("asin", ASIN, 1, 0, V, false, false, V),
    FN("asinh", ASINH, 1, 0, V, false, false, V),
    FN("atan", ATAN, 1, 0, V, false, false, V),
    FN("atanh", ATANH, 1, 0, V, false, false, V),
    FN("avg_over_time", AVG_OVER_TIME, 1, 0, V, false, false, M),
    FN("ceil", CEIL, 1, 0, V, false, false, V),
    FN("changes", CHANGES, 1, 0, V, false, false, M),
    FN("clamp", CLAMP, 3, 0, V, false, false, V, S, S),
    FN("clamp_max", CLAMP_MAX, 2, 0, V, false, false, V, S),
    FN("clamp_min", CLAMP_MIN, 2, 0, V, false, false, V, S),
    FN("cos", COS, 1, 0, V, false, false, V),
    FN("cosh", COSH, 1, 0, V, false, false, V),
    FN("count_over_time", COUNT_OVER_TIME, 1, 0, V, false, false, M),
    FN("day_of_month", DAY_OF_MONTH, 1, 1, V, true, false, V),
    FN("day_of_week", DAY_OF_WEEK, 1, 1, V, true, false, V),
    FN("day_of_year", DAY_OF_YEAR, 1, 1, V, true, false, V),
    FN("days_in_month", DAYS_IN_MONTH, 1, 1, V, true, false, V),
    FN("deg", DEG, 1, 0, V, false, false, V),
    FN("delta", DELTA, 1, 0, V, false, false, M),
    FN("deriv", DERIV, 1, 0, V, false, false, M),
    FN("exp", EXP, 1, 0, V, false, false, V),
    FN("floor", FLOOR, 1, 0, V, false, false, V),
    FN("histogram_count", HISTOGRAM_COUNT, 1, 0, V, false, true, V),
    FN("histogram_fraction", HISTOGRAM_FRACTION, 3, 0, V, false, true, S, S, V),
    FN("histogram_quantile", HISTOGRAM_QUANTILE, 2, 0, V, false, false, S, V),
    FN("histogram_sum", HISTOGRAM_SUM, 1, 0, V, false, true, V),
    FN("holt_winters", HOLT_WINTERS, 3, 0, V, false, false, M, S, S),
    FN("hour", HOUR, 1, 1, V, true, false, V),
    FN("idelta", IDELTA, 1, 0, V, false, false, M),
    FN("increase", INCREASE, 1, 0, V, false, false, M),
    FN("irate", IRATE, 1, 0, V, false, false, M),
    FN("label_join", LABEL_JOIN, 4, -1, V, false, false, V, T, T, T),
    FN("label_replace", LABEL_REPLACE, 5, 0, V, false, false, V, T, T, T, T),
    FN("last_over_time", LAST_OVER_TIME, 1, 0, V, false, false, M),
    FN("ln", LN, 1, 0, V, false, false, V),
    FN("log10", LOG10, 1, 0, V, false, false, V),
    FN("log2", LOG2, 1, 0, V, false, false, V),
    FN("max_over_time", MAX_OVER_TIME, 1, 0, V, false, false, M),
    FN("min_over_time", MIN_OVER_TIME, 1, 0, V, false, false, M),
    FN("minute", MINUTE, 1, 1, V, true, false, V),
    FN("month", MONTH, 1, 1, V, true, false, V),
    FN("pi", PI, 0, 0, S, false, false, DW_PROMQL_TYPE_NONE),
    FN("predict_linear", PREDICT_LINEAR, 2, 0, V, true, false, M, S),
    FN("present_over_time", PRESENT_OVER_TIME, 1, 0, V, false, false, M),
    FN("quantile_over_time", QUANTILE_OVER_TIME, 2, 0, V, false, false, S, M),
    FN("rad", RAD, 1, 0, V, false, false, V),
    FN("rate", RATE, 1, 0, V, false, false, M),
    FN("resets", RESETS, 1, 0, V, false, false, M),
    FN("round", ROUND, 2, 1, V, false, false, V, S),
    FN("scalar", SCALAR, 1, 0, S, false, false, V),
    FN("sgn", SGN, 1, 0, V, false, false, V),
    FN("sin", SIN, 1, 0, V, false, false, V),
    FN("sinh", SINH, 1, 0, V, false, false, V),
    FN("sort", SORT, 1, 0, V, false, false, V),
    FN("sort_desc", SORT_DESC, 1, 0, V, false, false, V),
    FN("sqrt", SQRT, 1, 0, V, false, false, V),
    FN("stddev_over_time", STDDEV_OVER_TIME, 1, 0, V, false, false, M),
    FN("stdvar_over_time", STDVAR_OVER_TIME, 1, 0, V, false, false, M),
    FN("sum_over_time", SUM_OVER_TIME, 1, 0, V, false, false, M),
    FN("tan", TAN, 1, 0, V, false, false, V),
    FN("tanh", TANH, 1, 0, V, false, false, V),
    FN("time", TIME, 0, 0, S, true, false, DW_PROMQL_TYPE_NONE),
    FN("timestamp", TIMESTAMP, 1, 0, V, true, false, V),
    FN("vector", VECTOR, 1, 0, V, false, false, S),
    FN("year", YEAR, 1, 1, V, true, false, V),
};

const struct dw_promql_func *dw_promql_func_lookup(const char *name, size_t len)
{
    size_t lo = 0, hi = DW_PROMQL_FN_COUNT_;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *m = table[mid].name;
        size_t mlen = strlen(m);
        int c = memcmp(name, m, len < mlen ? len : mlen);
        if (c == 0)
            c = len < mlen ? -1 : len > mlen ? 1 : 0;
        if (c == 0)
            return &table[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

const struct dw_promql_func *dw_promql_func_table(size_t *count)
{
    if (count)
        *count = DW_PROMQL_FN_COUNT_;
    return table;
}
