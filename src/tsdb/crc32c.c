/*
 * crc32c.c - CRC32C (Castagnoli, reflected polynomial 0x82F63B78), the
 * checksum of every WAL record.
 *
 * DESIGN: x86-64 CPUs with SSE4.2 compute it in hardware (crc32 instruction,
 * 8 bytes per step); the CPU is checked once at run time, so one binary
 * runs everywhere. Other CPUs use slice-by-8 tables built once. Both give
 * identical results (the unit test compares them). Thread-safe.
 */
#include <pthread.h>

/* Before core.h: the intrinsics pull in stdlib.h, whose inlines banned.h would break. */
#if defined(__x86_64__) && defined(__GNUC__)
#include <nmmintrin.h>
#define HAVE_HW_CRC 1
#endif

#include "tsdb/tsdb_internal.h"

static uint32_t tab[8][256];
static pthread_once_t tab_once = PTHREAD_ONCE_INIT;

static void tab_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        tab[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int k = 1; k < 8; k++)
            tab[k][i] = (tab[k - 1][i] >> 8) ^ tab[0][tab[k - 1][i] & 0xff];
}

uint32_t dw_tsdb_crc32c_sw(uint32_t crc, const void *data, size_t n)
{
    pthread_once(&tab_once, tab_init);
    const uint8_t *p = data;
    uint32_t c = ~crc;
    while (n >= 8) {
        uint32_t lo = dw_tsdb_get_le32(p) ^ c;
        uint32_t hi = dw_tsdb_get_le32(p + 4);
        c = tab[7][lo & 0xff] ^ tab[6][(lo >> 8) & 0xff] ^ tab[5][(lo >> 16) & 0xff] ^
            tab[4][lo >> 24] ^ tab[3][hi & 0xff] ^ tab[2][(hi >> 8) & 0xff] ^
            tab[1][(hi >> 16) & 0xff] ^ tab[0][hi >> 24];
        p += 8;
        n -= 8;
    }
    while (n--)
        c = tab[0][(c ^ *p++) & 0xff] ^ (c >> 8);
    return ~c;
}

#ifdef HAVE_HW_CRC
__attribute__((target("sse4.2"))) static uint32_t crc_hw(uint32_t crc, const void *data,
                                                         size_t n)
{
    const uint8_t *p = data;
    uint64_t c = ~crc;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8); /* little-endian load, as the instruction expects */
        c = _mm_crc32_u64(c, w);
        p += 8;
        n -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (n--)
        c32 = _mm_crc32_u8(c32, *p++);
    return ~c32;
}

static int hw_state; /* 0 unknown, 1 yes, 2 no; a benign race sets it to the same value */

uint32_t dw_tsdb_crc32c(uint32_t crc, const void *data, size_t n)
{
    int s = __atomic_load_n(&hw_state, __ATOMIC_RELAXED);
    if (s == 0) {
        __builtin_cpu_init();
        s = __builtin_cpu_supports("sse4.2") ? 1 : 2;
        __atomic_store_n(&hw_state, s, __ATOMIC_RELAXED);
    }
    return s == 1 ? crc_hw(crc, data, n) : dw_tsdb_crc32c_sw(crc, data, n);
}
#else
uint32_t dw_tsdb_crc32c(uint32_t crc, const void *data, size_t n)
{
    return dw_tsdb_crc32c_sw(crc, data, n);
}
#endif
