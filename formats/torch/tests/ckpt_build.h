/* ckpt_build.h - test helper: assembles small checkpoints in memory, so that
 * tests can make valid and deliberately broken containers byte by byte.
 *
 *   bb_*   a growable byte buffer
 *   zb_*   a stored (or deflated) zip archive with a correct central
 *          directory, as torch's writer makes (specs formats.md s1.4)
 *   legacy_build  the five pickles + raw storage records of s1.2 */
#ifndef ITR_TEST_CKPT_BUILD_H
#define ITR_TEST_CKPT_BUILD_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

typedef struct bb {
    uint8_t *p;
    size_t n, cap;
} bb;

static inline void bb_put(bb *b, const void *data, size_t n) {
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n) cap *= 2;
        b->p = realloc(b->p, cap);
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->n, data, n);
    b->n += n;
}

static inline void bb_u16(bb *b, unsigned v) {
    uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    bb_put(b, x, 2);
}

static inline void bb_u32(bb *b, uint32_t v) {
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    bb_put(b, x, 4);
}

static inline void bb_u64(bb *b, uint64_t v) {
    bb_u32(b, (uint32_t)v);
    bb_u32(b, (uint32_t)(v >> 32));
}

static inline void bb_free(bb *b) {
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* ---------------------------------------------------------------- zip */

typedef struct zb {
    bb file, cd;
    unsigned count;
} zb;

/* Adds an entry; method 0 = stored, 8 = raw deflate. bad_crc corrupts the CRC. */
static inline void zb_add(zb *z, const char *name, const void *data, size_t n, int method, int bad_crc) {
    uint32_t crc = (uint32_t)crc32(0L, (const Bytef *)data, (uInt)n) ^ (bad_crc ? 1u : 0u);
    uint8_t *comp = NULL;
    size_t cn = n;
    if (method == 8) {
        z_stream s;
        memset(&s, 0, sizeof s);
        deflateInit2(&s, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
        comp = malloc(n + 64);
        s.next_in = (Bytef *)(uintptr_t)data;
        s.avail_in = (uInt)n;
        s.next_out = comp;
        s.avail_out = (uInt)(n + 64);
        deflate(&s, Z_FINISH);
        cn = s.total_out;
        deflateEnd(&s);
    }
    uint32_t off = (uint32_t)z->file.n;
    size_t nl = strlen(name);
    bb_u32(&z->file, 0x04034b50u);
    bb_u16(&z->file, 20);
    bb_u16(&z->file, 0);
    bb_u16(&z->file, (unsigned)method);
    bb_u16(&z->file, 0);
    bb_u16(&z->file, 0x21);
    bb_u32(&z->file, crc);
    bb_u32(&z->file, (uint32_t)cn);
    bb_u32(&z->file, (uint32_t)n);
    bb_u16(&z->file, (unsigned)nl);
    bb_u16(&z->file, 0);
    bb_put(&z->file, name, nl);
    bb_put(&z->file, comp ? comp : data, cn);
    bb_u32(&z->cd, 0x02014b50u);
    bb_u16(&z->cd, 20);
    bb_u16(&z->cd, 20);
    bb_u16(&z->cd, 0);
    bb_u16(&z->cd, (unsigned)method);
    bb_u16(&z->cd, 0);
    bb_u16(&z->cd, 0x21);
    bb_u32(&z->cd, crc);
    bb_u32(&z->cd, (uint32_t)cn);
    bb_u32(&z->cd, (uint32_t)n);
    bb_u16(&z->cd, (unsigned)nl);
    bb_u16(&z->cd, 0);
    bb_u16(&z->cd, 0);
    bb_u16(&z->cd, 0);
    bb_u16(&z->cd, 0);
    bb_u32(&z->cd, 0);
    bb_u32(&z->cd, off);
    bb_put(&z->cd, name, nl);
    z->count++;
    free(comp);
}

/* Appends the central directory and end record; the archive is z->file. */
static inline void zb_finish(zb *z) {
    uint32_t cd_off = (uint32_t)z->file.n;
    bb_put(&z->file, z->cd.p, z->cd.n);
    bb_u32(&z->file, 0x06054b50u);
    bb_u16(&z->file, 0);
    bb_u16(&z->file, 0);
    bb_u16(&z->file, z->count);
    bb_u16(&z->file, z->count);
    bb_u32(&z->file, (uint32_t)z->cd.n);
    bb_u32(&z->file, cd_off);
    bb_u16(&z->file, 0);
}

static inline void zb_free(zb *z) {
    bb_free(&z->file);
    bb_free(&z->cd);
}

/* ---------------------------------------------------------------- legacy */

/* Pickles 1-3 of every legacy file (magic, 1001, sys_info little-endian). */
static const char LEGACY_HEAD[] =
    "\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19\x2e"
    "\x80\x02M\xe9\x03."
    "\x80\x02}X\x0d\x00\x00\x00little_endian\x88s.";

/* head + tree pickle + key-list pickle + records (count i64 + bytes each). */
static inline void legacy_build(bb *out, const char *head, size_t head_len, const char *tree, size_t tree_len,
                                const char *keys, size_t keys_len) {
    bb_put(out, head, head_len);
    bb_put(out, tree, tree_len);
    bb_put(out, keys, keys_len);
}

static inline void legacy_record_f32(bb *out, const float *v, int64_t n) {
    bb_u64(out, (uint64_t)n);
    for (int64_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &v[i], 4);
        bb_u32(out, u);
    }
}

#endif
