/* text_test_util.h - small helpers shared by the formats/text tests. */
#ifndef ITR_TEXT_TEST_UTIL_H
#define ITR_TEXT_TEST_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zip.h>

#define FIXF ITR_SOURCE_DIR "/fixtures/formats/"
#define FIXE ITR_SOURCE_DIR "/fixtures/eval/"

/* A unique scratch path (tests of several helpers may run at once). */
static inline void tt_tmp_path(char *buf, size_t n, const char *tag) {
    static unsigned counter;
    const char *dir = getenv("TMPDIR");
    snprintf(buf, n, "%s/itr_text_%s_%lu_%lx_%u", dir && *dir ? dir : "/tmp", tag,
             (unsigned long)time(NULL), (unsigned long)(uintptr_t)&counter, counter++);
}

static inline int tt_write(const char *path, const char *data, size_t n) {
    FILE *fp = fopen(path, "wb");
    if (!fp) return 0;
    int ok = fwrite(data, 1, n, fp) == n;
    return fclose(fp) == 0 && ok;
}

/* Writes `data` (a C string) to a fresh scratch file and returns its path in buf. */
static inline const char *tt_file(char *buf, size_t n, const char *tag, const char *data) {
    tt_tmp_path(buf, n, tag);
    return tt_write(buf, data, strlen(data)) ? buf : NULL;
}

/* Reads member `name` (a 1-D little-endian '<i4' .npy) of an .npz archive
 * into a malloc'ed int32 array. A deliberately tiny reader: the library's
 * .npy reader lives in formats/numpy, which the text tests do not link. */
static inline int32_t *tt_npz_i32(const char *npz, const char *name, size_t *count) {
    int err = 0;
    zip_t *z = zip_open(npz, ZIP_RDONLY, &err);
    if (!z) return NULL;
    zip_stat_t zs;
    zip_file_t *f = NULL;
    uint8_t *buf = NULL;
    int32_t *out = NULL;
    if (zip_stat(z, name, 0, &zs) == 0 && (buf = malloc(zs.size + 1)) && (f = zip_fopen(z, name, 0)) &&
        zip_fread(f, buf, zs.size) == (zip_int64_t)zs.size && zs.size > 10 && memcmp(buf, "\x93NUMPY\x01", 7) == 0) {
        buf[zs.size] = 0;
        size_t hl = (size_t)buf[8] | (size_t)buf[9] << 8, off = 10 + hl;
        char *hdr = (char *)buf + 10;
        if (off <= zs.size && strstr(hdr, "'<i4'") && (zs.size - off) % 4 == 0) {
            *count = (zs.size - off) / 4;
            out = malloc(*count * 4 + 4);
            if (out) memcpy(out, buf + off, *count * 4);
        }
    }
    if (f) zip_fclose(f);
    free(buf);
    zip_close(z);
    return out;
}

#endif
