/*
 * Helpers shared by the tsdb unit tests: opening a database in a test
 * directory with a synchronous, thread-less WAL (the test drives flushes).
 */
#ifndef DW_TESTUTIL_TSDB_H
#define DW_TESTUTIL_TSDB_H

#include "harness.h"
#include "tsdb/tsdb.h"

/* The defaults, in dir, with the WAL left to the test (no fsync, no thread). */
static inline void opts_default(struct dw_tsdb_options *o, const char *dir)
{
    dw_tsdb_options_init(o);
    o->dir = dir;
    o->wal.fsync = DW_TSDB_FSYNC_NEVER;
    o->wal.no_thread = true;
}

/* Opens with o or fails the test with the reason. */
static inline struct dw_tsdb *open_db_opts(const struct dw_tsdb_options *o)
{
    char *err = NULL;
    struct dw_tsdb *db = dw_tsdb_open(o, &err);
    if (!db)
        DW_FAIL_("dw_tsdb_open: %s", err ? err : "?");
    return db;
}

static inline struct dw_tsdb *open_db(const char *dir)
{
    struct dw_tsdb_options o;
    opts_default(&o, dir);
    return open_db_opts(&o);
}

#endif
