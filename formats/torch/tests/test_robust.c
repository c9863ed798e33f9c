/* test_robust.c - damaged inputs (specs formats.md s5 "Test material"):
 * every truncation of the sample checkpoints and pickles must fail with a
 * message, and thousands of seeded random byte flips must each either load
 * or fail - never crash, hang, leak or trip a sanitizer (CI runs this test
 * under ASan/UBSan). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "itr/checkpoint.h"
#include "itr/pickle.h"

#define FX ITR_SOURCE_DIR "/fixtures/formats/"

static const char *CHECKPOINTS[] = {
    "ckpt_legacy_torch113.pth.tar", "ckpt_zip_torch113.pth.tar", "ckpt_py27_torch03_style.pth.tar",
    "ckpt_py27_torch041_style.pth.tar", "views_legacy_torch113.pt", "views_zip_torch113.pt",
};

static uint8_t *slurp(const char *name, size_t *n) {
    char path[512];
    uint8_t *b = NULL;
    snprintf(path, sizeof path, FX "%s", name);
    assert_int_equal(itr_read_file(path, (size_t)1 << 24, &b, n), ITR_OK);
    return b;
}

/* xorshift64: a fixed seed makes every run flip the same bytes. */
static uint64_t next_rand(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void test_truncations(void **state) {
    (void)state;
    size_t total = 0;
    for (size_t f = 0; f < sizeof CHECKPOINTS / sizeof CHECKPOINTS[0]; f++) {
        size_t n;
        uint8_t *b = slurp(CHECKPOINTS[f], &n);
        itr_checkpoint *c = NULL;
        assert_int_equal(itr_checkpoint_load_buffer(b, n, CHECKPOINTS[f], &c), ITR_OK);
        itr_checkpoint_free(c);
        /* every length: the files are a few KB */
        for (size_t len = 0; len < n; len++) {
            c = NULL;
            itr_status st = itr_checkpoint_load_buffer(b, len, CHECKPOINTS[f], &c);
            if (st == ITR_OK) fprintf(stderr, "%s truncated to %zu bytes loaded\n", CHECKPOINTS[f], len);
            assert_int_not_equal(st, ITR_OK);
            assert_null(c);
            assert_true(strlen(itr_last_error()) > 0);
            total++;
        }
        free(b);
    }
    /* every strict prefix of a pickle fails (no STOP yet) */
    size_t n;
    uint8_t *b = slurp("vocab_py27_vsepp_style.pkl", &n);
    for (size_t len = 0; len < n; len++) {
        itr_pyobj *o = NULL;
        assert_int_not_equal(itr_pickle_load(b, len, NULL, &o, NULL), ITR_OK);
        assert_null(o);
        total++;
    }
    free(b);
    printf("  %zu truncated inputs, all rejected\n", total);
}

static void test_byte_flips(void **state) {
    (void)state;
    uint64_t seed = 0x1234567887654321ULL;
    size_t loaded = 0, failed = 0;
    for (size_t f = 0; f < sizeof CHECKPOINTS / sizeof CHECKPOINTS[0]; f++) {
        size_t n;
        uint8_t *orig = slurp(CHECKPOINTS[f], &n);
        uint8_t *b = malloc(n);
        assert_non_null(b);
        for (int round = 0; round < 700; round++) {
            memcpy(b, orig, n);
            int flips = 1 + (int)(next_rand(&seed) % 3);
            for (int k = 0; k < flips; k++) {
                size_t at = (size_t)(next_rand(&seed) % n);
                b[at] ^= (uint8_t)(1 + next_rand(&seed) % 255);
            }
            itr_checkpoint *c = NULL;
            if (itr_checkpoint_load_buffer(b, n, CHECKPOINTS[f], &c) == ITR_OK) {
                loaded++;
                itr_checkpoint_free(c);
            } else {
                assert_null(c);
                assert_true(strlen(itr_last_error()) > 0);
                failed++;
            }
        }
        free(b);
        free(orig);
    }
    /* flips inside pickles, including the VM's text and joblib opcodes */
    size_t n;
    uint8_t *orig = slurp("vocab_py27_vsepp_style.pkl", &n);
    uint8_t *b = malloc(n);
    for (int round = 0; round < 1000; round++) {
        memcpy(b, orig, n);
        b[next_rand(&seed) % n] = (uint8_t)next_rand(&seed);
        itr_pyobj *o = NULL;
        if (itr_pickle_load(b, n, NULL, &o, NULL) == ITR_OK) {
            char buf[128];
            itr_py_repr(o, buf, sizeof buf);
            itr_pyobj_free(o);
            loaded++;
        } else {
            failed++;
        }
    }
    free(b);
    free(orig);
    printf("  %zu flipped inputs: %zu loaded (data bytes), %zu rejected\n", loaded + failed, loaded, failed);
    assert_true(failed > loaded);
}

/* A small "pickle bomb": a list holding itself twice, ten levels deep, and a
 * cycle; the VM stays linear and the repr / JSON walkers stay bounded. */
static void test_bombs(void **state) {
    (void)state;
    uint8_t b[256];
    size_t n = 0;
    b[n++] = ']';
    for (int i = 0; i < 10; i++) {     /* x = [x, x] ten times */
        b[n++] = 'q'; b[n++] = 0;
        b[n++] = 'h'; b[n++] = 0;
        b[n++] = 'h'; b[n++] = 0;
        b[n++] = 0x86;
    }
    b[n++] = '.';
    itr_pyobj *o = NULL;
    assert_int_equal(itr_pickle_load(b, n, NULL, &o, NULL), ITR_OK);
    char buf[4096];
    itr_py_repr(o, buf, sizeof buf);
    assert_true(strlen(buf) < sizeof buf);
    itr_pyobj_free(o);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_truncations),
        cmocka_unit_test(test_byte_flips),
        cmocka_unit_test(test_bombs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
