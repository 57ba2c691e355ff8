/*
 * block.c - block ids, meta.json, filesystem helpers and the block reader.
 *
 * DESIGN: a block directory holds three files: meta.json (what the block
 * covers and where it came from), index (blockindex.c) and chunks (pages of
 * block chunks, page.c). The reader maps index and chunks read-only and
 * checks, at open, meta.json and every CRC of the index (small); pages are
 * checked by CRC when first read, so opening a year of blocks does not read
 * a year of data. Decoded pages stay in a small per-block LRU cache.
 *
 * Corruption: open reports it to the caller (the block directory then
 * quarantines the block); a page or record that fails later marks the open
 * block corrupt, which logs one error line and moves its directory to
 * DIR/quarantine/<id>. Existing mappings stay valid after the rename (and
 * after deletion), so readers in flight finish with an error, not a crash.
 *
 * Threads: a block is reference-counted (atomic); the page cache is guarded
 * by the block's mutex, decoding a page happens outside it. Everything else
 * is immutable after open.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tsdb/block_internal.h"
#include "tsdb/tsdb_internal.h"

#define COMPONENT "tsdb.block"

/* ================= ids ================= */

static const char crockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/*
 * Ids are monotonic within the process (as in the ULID spec): in the same
 * millisecond, or when the clock went back (the test clock), the previous
 * time is kept and the random part incremented. "Newer block" is then
 * well defined, which compaction relies on for duplicate timestamps.
 */
static pthread_mutex_t id_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t id_last_t;
static uint8_t id_last_rnd[10];

static void next_id_bits(uint64_t *t, uint8_t rnd[10])
{
    pthread_mutex_lock(&id_mu);
    if (*t <= id_last_t) {
        *t = id_last_t;
        memcpy(rnd, id_last_rnd, 10);
        for (int i = 9; i >= 0 && ++rnd[i] == 0; i--)
            ;
    }
    id_last_t = *t;
    memcpy(id_last_rnd, rnd, 10);
    pthread_mutex_unlock(&id_mu);
}

void dw_tsdb_block_new_id(dw_tsdb_block_id out)
{
    int64_t now = dw_now_ms();
    uint64_t t = now < 0 ? 0 : (uint64_t)now & ((UINT64_C(1) << 48) - 1);
    uint8_t rnd[10];
    dw_random_bytes(rnd, sizeof rnd);
    next_id_bits(&t, rnd);
    /* 128 bits: 48 of time then 80 random, as 26 base32 digits (the first holds 3 bits). */
    uint8_t bits[16];
    for (int i = 0; i < 6; i++)
        bits[i] = (uint8_t)(t >> (40 - 8 * i));
    memcpy(bits + 6, rnd, sizeof rnd);
    for (int i = 0; i < DW_TSDB_BLOCK_ID_LEN; i++) {
        /* digit i covers bits [128 - 5 * (26 - i), +5) counting from the top, minus 2 pad bits */
        int bit = 5 * i - 2;
        unsigned v = 0;
        for (int k = 0; k < 5; k++, bit++)
            if (bit >= 0)
                v = v << 1 | ((bits[bit / 8] >> (7 - bit % 8)) & 1u);
            else
                v <<= 1;
        out[i] = crockford[v];
    }
    out[DW_TSDB_BLOCK_ID_LEN] = '\0';
}

bool dw_tsdb_block_id_valid(const char *s)
{
    for (int i = 0; i < DW_TSDB_BLOCK_ID_LEN; i++)
        if (!s[i] || !strchr(crockford, s[i]))
            return false;
    return s[DW_TSDB_BLOCK_ID_LEN] == '\0';
}

/* ================= meta.json ================= */

void dw_tsdb_block_meta_release(struct dw_tsdb_block_meta *m)
{
    free(m->sources);
    memset(m, 0, sizeof *m);
}

void dw_tsdb_block_meta_copy(struct dw_tsdb_block_meta *dst, const struct dw_tsdb_block_meta *src)
{
    *dst = *src;
    dst->sources = dw_malloc((src->nsources + 1) * sizeof *dst->sources);
    if (src->nsources)
        memcpy(dst->sources, src->sources, src->nsources * sizeof *dst->sources);
}

char *dw_tsdb_block_meta_json(const struct dw_tsdb_block_meta *m)
{
    json_t *root = json_object();
    json_object_set_new(root, "version", json_integer(1));
    json_object_set_new(root, "ulid", json_string(m->id));
    json_object_set_new(root, "minTime", json_integer(m->mint));
    json_object_set_new(root, "maxTime", json_integer(m->maxt));
    json_object_set_new(root, "resolution", json_integer(m->resolution_ms));
    json_t *st = json_object();
    json_object_set_new(st, "numSeries", json_integer((json_int_t)m->nseries));
    json_object_set_new(st, "numSamples", json_integer((json_int_t)m->nsamples));
    json_object_set_new(st, "numChunks", json_integer((json_int_t)m->nchunks));
    json_object_set_new(st, "numPages", json_integer((json_int_t)m->npages));
    json_object_set_new(st, "indexBytes", json_integer((json_int_t)m->index_bytes));
    json_object_set_new(st, "chunkBytes", json_integer((json_int_t)m->chunk_bytes));
    json_object_set_new(root, "stats", st);
    json_t *c = json_object();
    json_object_set_new(c, "level", json_integer(m->level));
    json_t *src = json_array();
    for (size_t i = 0; i < m->nsources; i++)
        json_array_append_new(src, json_string(m->sources[i]));
    json_object_set_new(c, "sources", src);
    json_object_set_new(root, "compaction", c);
    char *s = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (!s)
        dw_oom(0);
    char *out = dw_strdup(s);
    free(s);
    return out;
}

/* An integer member >= min; false when missing or out of range. */
static bool get_int(json_t *obj, const char *key, int64_t min, int64_t *out)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_integer(v) || json_integer_value(v) < min)
        return false;
    *out = json_integer_value(v);
    return true;
}

static bool get_u64(json_t *obj, const char *key, uint64_t *out)
{
    int64_t v;
    if (!get_int(obj, key, 0, &v))
        return false;
    *out = (uint64_t)v;
    return true;
}

static int cmp_id(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

static const char *meta_sources(json_t *c, struct dw_tsdb_block_meta *m)
{
    json_t *src = json_object_get(c, "sources");
    if (!json_is_array(src) || json_array_size(src) == 0 ||
        json_array_size(src) > DW_TSDB_BLOCK_MAX_SOURCES)
        return "compaction.sources";
    m->nsources = json_array_size(src);
    m->sources = dw_calloc(m->nsources, sizeof *m->sources);
    for (size_t i = 0; i < m->nsources; i++) {
        const char *s = json_string_value(json_array_get(src, i));
        if (!s || !dw_tsdb_block_id_valid(s))
            return "compaction.sources";
        memcpy(m->sources[i], s, sizeof m->sources[i]);
    }
    qsort(m->sources, m->nsources, sizeof *m->sources, cmp_id);
    for (size_t i = 1; i < m->nsources; i++)
        if (strcmp(m->sources[i - 1], m->sources[i]) == 0)
            return "compaction.sources (duplicate)";
    return NULL;
}

/* Fills m from the parsed document; the name of the bad field or NULL. */
static const char *meta_from_json(json_t *root, struct dw_tsdb_block_meta *m)
{
    int64_t version, level;
    const char *id = json_string_value(json_object_get(root, "ulid"));
    if (!json_is_object(root) || !get_int(root, "version", 1, &version) || version != 1)
        return "version";
    if (!id || !dw_tsdb_block_id_valid(id))
        return "ulid";
    memcpy(m->id, id, sizeof m->id);
    if (!get_int(root, "minTime", INT64_MIN, &m->mint) ||
        !get_int(root, "maxTime", INT64_MIN, &m->maxt) || m->maxt <= m->mint)
        return "minTime/maxTime";
    if (!get_int(root, "resolution", 0, &m->resolution_ms))
        return "resolution";
    json_t *st = json_object_get(root, "stats");
    if (!get_u64(st, "numSeries", &m->nseries) || !get_u64(st, "numSamples", &m->nsamples) ||
        !get_u64(st, "numChunks", &m->nchunks) || !get_u64(st, "numPages", &m->npages) ||
        !get_u64(st, "indexBytes", &m->index_bytes) || !get_u64(st, "chunkBytes", &m->chunk_bytes))
        return "stats";
    json_t *c = json_object_get(root, "compaction");
    if (!get_int(c, "level", 1, &level) || level > UINT32_MAX)
        return "compaction.level";
    m->level = (uint32_t)level;
    return meta_sources(c, m);
}

/* Reads a whole small file (at most max bytes) into a heap buffer. */
static int read_file(const char *path, size_t max, char **data, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return DW_TSDB_EIO;
    struct stat sb;
    if (fstat(fd, &sb) < 0 || (uint64_t)sb.st_size > max) {
        close(fd);
        return DW_TSDB_ELIMIT;
    }
    size_t n = (size_t)sb.st_size, got = 0;
    char *buf = dw_malloc(n + 1);
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if (got != n) {
        free(buf);
        return DW_TSDB_EIO;
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return 0;
}

int dw_tsdb_block_meta_read(const char *path, struct dw_tsdb_block_meta *m, char **err)
{
    memset(m, 0, sizeof *m);
    char *file = dw_asprintf("%s/meta.json", path), *data = NULL;
    size_t len = 0;
    int rc = read_file(file, DW_TSDB_BLOCK_META_MAX, &data, &len);
    if (rc) {
        if (err)
            *err =
                dw_asprintf("%s: %s", file, rc == DW_TSDB_ELIMIT ? "too large" : strerror(errno));
        free(file);
        return rc == DW_TSDB_ELIMIT ? DW_TSDB_ECORRUPT : rc;
    }
    json_error_t jerr;
    json_t *root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    const char *bad = root ? meta_from_json(root, m) : "syntax";
    if (bad) {
        if (err)
            *err = root ? dw_asprintf("%s: bad field %s", file, bad)
                        : dw_asprintf("%s: line %d: %s", file, jerr.line, jerr.text);
        dw_tsdb_block_meta_release(m);
        rc = DW_TSDB_ECORRUPT;
    }
    json_decref(root);
    free(data);
    free(file);
    return rc;
}

/* ================= filesystem ================= */

static int rm_tree(const char *path, int depth)
{
    struct stat sb;
    if (lstat(path, &sb) < 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(sb.st_mode))
        return unlink(path);
    if (depth > 8) {
        errno = ELOOP;
        return -1;
    }
    DIR *dh = opendir(path);
    if (!dh)
        return -1;
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(dh)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char *p = dw_asprintf("%s/%s", path, de->d_name);
        if (rm_tree(p, depth + 1) < 0)
            rc = -1;
        free(p);
    }
    closedir(dh);
    if (rc == 0 && rmdir(path) < 0)
        rc = -1;
    return rc;
}

int dw_tsdb_rm_rf(const char *path)
{
    if (rm_tree(path, 0) == 0)
        return 0;
    dw_log_kv(DW_LOG_ERROR, COMPONENT, "cannot remove", "path", path, "error", strerror(errno),
              NULL);
    return -1;
}

int dw_tsdb_fsync_path(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) < 0) {
        dw_log_kv(DW_LOG_ERROR, COMPONENT, "fsync failed", "path", path, "error", strerror(errno),
                  NULL);
        if (fd >= 0)
            close(fd);
        return DW_TSDB_EIO;
    }
    close(fd);
    return 0;
}

int dw_tsdb_block_quarantine(const char *dir, const char *id, const char *reason)
{
    char *qdir = dw_asprintf("%s/quarantine", dir);
    char *from = dw_asprintf("%s/%s", dir, id);
    char *to = dw_asprintf("%s/%s", qdir, id);
    int rc = 0;
    if (mkdir(qdir, 0755) < 0 && errno != EEXIST)
        rc = -1;
    for (int i = 1; rc == 0 && rename(from, to) < 0; i++) {
        if ((errno != EEXIST && errno != ENOTEMPTY) || i > 99) {
            rc = -1;
            break;
        }
        free(to);
        to = dw_asprintf("%s/%s.%d", qdir, id, i);
    }
    if (rc == 0) {
        dw_tsdb_fsync_path(dir);
        dw_log_kv(DW_LOG_ERROR, COMPONENT, "corrupt block quarantined", "block", id, "reason",
                  reason, "moved_to", to, NULL);
    } else {
        dw_log_kv(DW_LOG_ERROR, COMPONENT, "corrupt block could not be quarantined", "block", id,
                  "reason", reason, "error", strerror(errno), NULL);
    }
    free(qdir);
    free(from);
    free(to);
    return rc ? DW_TSDB_EIO : 0;
}

/* ================= reader ================= */

#define CACHE_DEFAULT 16

struct cache_ent {
    struct dw_tsdb_page *pg; /* NULL: empty slot */
    uint32_t page;
    uint32_t refs;
    uint64_t tick;
};

struct dw_tsdb_block {
    atomic_int refs;
    atomic_bool corrupt;
    char *path; /* dir/<id> */
    char *dir;
    struct dw_tsdb_block_meta meta;
    uint8_t *ix_map;
    size_t ix_len;
    uint8_t *ck_map;
    size_t ck_len;
    struct dw_tsdb_ixr ix;
    pthread_mutex_t mu; /* the cache */
    struct cache_ent *cache;
    size_t ncache;
    uint64_t tick;
};

/* Maps a whole file read-only; *len 0 and NULL map for an empty file. */
static int map_file(const char *path, uint8_t **map, size_t *len, char **err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) < 0) {
        int e = errno;
        if (err)
            *err = dw_asprintf("%s: %s", path, strerror(e));
        if (fd >= 0)
            close(fd);
        /* a file missing from a block whose meta.json exists is damage, not I/O */
        return e == ENOENT ? DW_TSDB_ECORRUPT : DW_TSDB_EIO;
    }
    *len = (size_t)sb.st_size;
    *map = NULL;
    if (*len) {
        void *p = mmap(NULL, *len, PROT_READ, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) {
            if (err)
                *err = dw_asprintf("%s: mmap: %s", path, strerror(errno));
            close(fd);
            return DW_TSDB_EIO;
        }
        *map = p;
    }
    close(fd);
    return 0;
}

static void block_free(struct dw_tsdb_block *b)
{
    for (size_t i = 0; i < b->ncache; i++)
        dw_tsdb_page_free(&b->cache[i].pg);
    free(b->cache);
    dw_tsdb_ixr_release(&b->ix);
    if (b->ix_map)
        munmap(b->ix_map, b->ix_len);
    if (b->ck_map)
        munmap(b->ck_map, b->ck_len);
    pthread_mutex_destroy(&b->mu);
    dw_tsdb_block_meta_release(&b->meta);
    free(b->path);
    free(b->dir);
    free(b);
}

static int check_page(const struct dw_tsdb_block *b, uint32_t i)
{
    uint64_t off;
    uint32_t len, crc;
    dw_tsdb_ixr_page(&b->ix, i, &off, &len, &crc);
    return dw_tsdb_crc32c(0, b->ck_map + off, len) == crc ? 0 : DW_TSDB_ECORRUPT;
}

/* Everything that makes the mapped files a block; ECORRUPT with *err. */
static int block_validate(struct dw_tsdb_block *b, const struct dw_tsdb_block_ropts *o, char **err)
{
    const char *base = strrchr(b->path, '/');
    base = base ? base + 1 : b->path;
    if (strcmp(base, b->meta.id) != 0) {
        *err = dw_asprintf("meta.json: ulid %s does not match the directory", b->meta.id);
        return DW_TSDB_ECORRUPT;
    }
    static const uint8_t ck_magic[DW_TSDB_CHUNKS_HEADER] = {'D', 'W', 'C', 'K', 1, 0, 0, 0};
    if (b->ck_len < DW_TSDB_CHUNKS_HEADER || memcmp(b->ck_map, ck_magic, sizeof ck_magic) != 0) {
        *err = dw_strdup("chunks: bad header");
        return DW_TSDB_ECORRUPT;
    }
    int rc = dw_tsdb_ixr_open(&b->ix, b->ix_map, b->ix_len, b->ck_len, err);
    if (rc)
        return rc;
    if (b->ix.nseries != b->meta.nseries || b->ix.npages != b->meta.npages) {
        *err = dw_strdup("index and meta.json disagree on the series or page count");
        return DW_TSDB_ECORRUPT;
    }
    for (uint32_t i = 0; o && o->verify_chunks && i < b->ix.npages; i++) {
        if (check_page(b, i)) {
            *err = dw_asprintf("chunks: page %u checksum mismatch", i);
            return DW_TSDB_ECORRUPT;
        }
    }
    return 0;
}

int dw_tsdb_block_open(const char *path, const struct dw_tsdb_block_ropts *o,
                       struct dw_tsdb_block **out, char **err)
{
    *out = NULL;
    char *e = NULL;
    struct dw_tsdb_block *b = dw_calloc(1, sizeof *b);
    atomic_init(&b->refs, 1);
    atomic_init(&b->corrupt, false);
    pthread_mutex_init(&b->mu, NULL);
    b->path = dw_strdup(path);
    const char *slash = strrchr(path, '/');
    b->dir = slash ? dw_strndup(path, (size_t)(slash - path)) : dw_strdup(".");
    b->ncache = o && o->cache_pages ? o->cache_pages : CACHE_DEFAULT;
    b->cache = dw_calloc(b->ncache, sizeof *b->cache);
    int rc = dw_tsdb_block_meta_read(path, &b->meta, &e);
    if (rc == 0) {
        char *ix = dw_asprintf("%s/index", path), *ck = dw_asprintf("%s/chunks", path);
        rc = map_file(ix, &b->ix_map, &b->ix_len, &e);
        if (rc == 0)
            rc = map_file(ck, &b->ck_map, &b->ck_len, &e);
        free(ix);
        free(ck);
    }
    if (rc == 0)
        rc = block_validate(b, o, &e);
    if (rc) {
        if (err)
            *err = e ? e : dw_strdup(dw_tsdb_strerror(rc));
        else
            free(e);
        block_free(b);
        return rc;
    }
    *out = b;
    return 0;
}

void dw_tsdb_block_ref(struct dw_tsdb_block *b)
{
    atomic_fetch_add(&b->refs, 1);
}

void dw_tsdb_block_unref(struct dw_tsdb_block **bp)
{
    if (!bp || !*bp)
        return;
    struct dw_tsdb_block *b = *bp;
    *bp = NULL;
    if (atomic_fetch_sub(&b->refs, 1) == 1)
        block_free(b);
}

const struct dw_tsdb_block_meta *dw_tsdb_block_meta_of(const struct dw_tsdb_block *b)
{
    return &b->meta;
}

const char *dw_tsdb_block_path(const struct dw_tsdb_block *b)
{
    return b->path;
}

const struct dw_tsdb_ixr *dw_tsdb_block_index(const struct dw_tsdb_block *b)
{
    return &b->ix;
}

void dw_tsdb_block_set_corrupt(struct dw_tsdb_block *b, const char *reason)
{
    if (atomic_exchange(&b->corrupt, true))
        return;
    dw_tsdb_block_quarantine(b->dir, b->meta.id, reason);
}

bool dw_tsdb_block_is_corrupt(const struct dw_tsdb_block *b)
{
    return atomic_load(&b->corrupt);
}

/* Cache slot holding page i, or -1 (lock held). */
static int cache_find(struct dw_tsdb_block *b, uint32_t i)
{
    for (size_t k = 0; k < b->ncache; k++)
        if (b->cache[k].pg && b->cache[k].page == i)
            return (int)k;
    return -1;
}

/* An empty slot or the least recently used unreferenced one, or -1 (lock held). */
static int cache_victim(struct dw_tsdb_block *b)
{
    int best = -1;
    for (size_t k = 0; k < b->ncache; k++) {
        if (!b->cache[k].pg)
            return (int)k;
        if (b->cache[k].refs == 0 && (best < 0 || b->cache[k].tick < b->cache[best].tick))
            best = (int)k;
    }
    return best;
}

int dw_tsdb_block_page_get(struct dw_tsdb_block *b, uint32_t i, struct dw_tsdb_block_page *out)
{
    out->pg = NULL;
    out->slot = -1;
    if (i >= b->ix.npages)
        return DW_TSDB_ECORRUPT;
    pthread_mutex_lock(&b->mu);
    int k = cache_find(b, i);
    if (k >= 0) {
        b->cache[k].refs++;
        b->cache[k].tick = ++b->tick;
        out->pg = b->cache[k].pg;
        out->slot = k;
        pthread_mutex_unlock(&b->mu);
        return 0;
    }
    pthread_mutex_unlock(&b->mu);

    uint64_t off;
    uint32_t len, crc;
    dw_tsdb_ixr_page(&b->ix, i, &off, &len, &crc);
    struct dw_tsdb_page *pg = NULL;
    int rc = check_page(b, i);
    if (rc == 0)
        rc = dw_tsdb_page_open(b->ck_map + off, len, &pg);
    if (rc) {
        char reason[96];
        snprintf(reason, sizeof reason, "chunks: page %u %s", i,
                 rc == DW_TSDB_ECORRUPT ? "checksum mismatch or undecodable" : "over a limit");
        dw_tsdb_block_set_corrupt(b, reason);
        return DW_TSDB_ECORRUPT;
    }
    pthread_mutex_lock(&b->mu);
    k = cache_find(b, i); /* another reader may have loaded it meanwhile */
    if (k >= 0) {
        dw_tsdb_page_free(&pg);
    } else if ((k = cache_victim(b)) >= 0) {
        dw_tsdb_page_free(&b->cache[k].pg);
        b->cache[k] = (struct cache_ent){.pg = pg, .page = i};
    }
    if (k >= 0) {
        b->cache[k].refs++;
        b->cache[k].tick = ++b->tick;
        out->pg = b->cache[k].pg;
    } else {
        out->pg = pg; /* every slot is in use: the caller gets a private page */
    }
    out->slot = k;
    pthread_mutex_unlock(&b->mu);
    return 0;
}

void dw_tsdb_block_page_put(struct dw_tsdb_block *b, struct dw_tsdb_block_page *p)
{
    if (!p->pg)
        return;
    if (p->slot < 0) {
        dw_tsdb_page_free(&p->pg);
    } else {
        pthread_mutex_lock(&b->mu);
        b->cache[p->slot].refs--;
        pthread_mutex_unlock(&b->mu);
    }
    p->pg = NULL;
    p->slot = -1;
}

/* ---- index queries on the block (mark the block corrupt on failure) ---- */

int dw_tsdb_block_postings(struct dw_tsdb_block *b, struct dw_tsdb_matcher *const *ms, size_t n,
                           uint32_t **ids, size_t *count)
{
    int rc = dw_tsdb_ixr_select(&b->ix, ms, n, ids, count);
    if (rc == DW_TSDB_ECORRUPT)
        dw_tsdb_block_set_corrupt(b, "index: postings do not decode");
    return rc;
}

int dw_tsdb_block_label_strings(struct dw_tsdb_block *b, const char *name,
                                struct dw_tsdb_matcher *const *ms, size_t n, const char ***out,
                                size_t *count)
{
    int rc = dw_tsdb_ixr_strings(&b->ix, name, ms, n, out, count);
    if (rc == DW_TSDB_ECORRUPT)
        dw_tsdb_block_set_corrupt(b, "index: series or postings do not decode");
    return rc;
}
