/* test_checkpoint.c - checkpoints: the samples against expected_contents.json,
 * every golden fixture checkpoint against the /weights copies of its .h5,
 * container detection, and hand-built zip / legacy containers that exercise
 * each validation of specs formats.md s1.2, s1.4, s5. */
#define _POSIX_C_SOURCE 200809L   /* opendir / stat to find the fixture files */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <math.h>
#include <dirent.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "itr/checkpoint.h"
#include "itr/h5.h"
#include "itr/pickle.h"
#include "ckpt_build.h"
#include "pyexpect.h"

#define FX ITR_SOURCE_DIR "/fixtures/formats/"
#define LIT(s) s, sizeof(s) - 1

/* ---------------------------------------------------------------- samples */

static void check_sample(const json_t *all, const char *name, itr_container want) {
    itr_checkpoint *c = NULL;
    char path[512];
    snprintf(path, sizeof path, FX "%s", name);
    itr_status st = itr_checkpoint_load(path, &c);
    if (st) fprintf(stderr, "%s\n", itr_last_error());
    assert_int_equal(st, ITR_OK);
    assert_int_equal(c->container, want);
    size_t n = 0;
    printf("%s:\n", name);
    int bad = pyx_check_file(c->root, all, name, &n);
    printf("  %zu entries checked, %d mismatches\n", n, bad);
    assert_int_equal(bad, 0);
    assert_true(n >= 5);
    itr_checkpoint_free(c);
}

static void test_samples_expected(void **state) {
    (void)state;
    json_t *all = pyx_load_expected();
    assert_non_null(all);
    check_sample(all, "ckpt_legacy_torch113.pth.tar", ITR_CONTAINER_LEGACY);
    check_sample(all, "ckpt_zip_torch113.pth.tar", ITR_CONTAINER_ZIP);
    check_sample(all, "ckpt_py27_torch03_style.pth.tar", ITR_CONTAINER_LEGACY);
    check_sample(all, "ckpt_py27_torch041_style.pth.tar", ITR_CONTAINER_LEGACY);
    check_sample(all, "views_legacy_torch113.pt", ITR_CONTAINER_LEGACY);
    check_sample(all, "views_zip_torch113.pt", ITR_CONTAINER_ZIP);
    json_decref(all);
}

/* The object model on the samples: typed opt, groups, scalars. */
static void test_samples_model(void **state) {
    (void)state;
    itr_checkpoint *c = NULL;
    assert_int_equal(itr_checkpoint_load(FX "ckpt_py27_torch03_style.pth.tar", &c), ITR_OK);
    assert_true(c->has_opt);
    assert_int_equal(itr_config_int(&c->opt, "big_int", 0), 1099511627776LL);
    assert_true(itr_config_float(&c->opt, "margin", 0) == 0.2);
    assert_int_equal(itr_config_bool(&c->opt, "max_violation", 0), 1);
    assert_string_equal(itr_config_str(&c->opt, "data_name", ""), "f30k_precomp");
    assert_string_equal(itr_config_str(&c->opt, "caption_note", ""), "caf\xc3\xa9");
    assert_int_equal(c->epoch, 3);
    assert_int_equal(c->eiters, 100);
    assert_true(c->best_rsum == 500.1);
    assert_true(isnan(c->best_loss));
    assert_int_equal(itr_weights_group_count(&c->weights), 2);
    const itr_weight_entry *e = itr_weights_find(&c->weights, "1", "embed_rows_view");
    assert_non_null(e);
    assert_int_equal(e->t.dtype, ITR_F32);
    assert_true(itr_f32(&e->t)[0] == 0.75f);     /* offset-6 view of the embed storage */
    itr_checkpoint_free(c);

    assert_int_equal(itr_checkpoint_load(FX "ckpt_py27_torch041_style.pth.tar", &c), ITR_OK);
    e = itr_weights_find(&c->weights, "1", "bn.num_batches_tracked");
    assert_non_null(e);
    assert_int_equal(e->t.dtype, ITR_I64);
    assert_int_equal(e->t.ndim, 0);
    int found = 0;
    for (size_t i = 0; i < c->n_tensors; i++)
        if (strcmp(c->tensors[i].key, "bn.num_batches_tracked") == 0) {
            assert_int_equal(c->tensors[i].orig_dtype, ITR_I64);
            found = 1;
        }
    assert_true(found);
    itr_checkpoint_free(c);

    /* views: a flat checkpoint without *_state_dict: no weights, best_loss read */
    assert_int_equal(itr_checkpoint_load(FX "views_zip_torch113.pt", &c), ITR_OK);
    assert_true(c->best_loss == 0.75);
    assert_false(c->has_opt);
    assert_int_equal(c->weights.n, 0);
    itr_checkpoint_free(c);
}

/* ---------------------------------------------------------------- fixtures vs .h5 */

static int ends_with(const char *s, const char *suf) {
    size_t n = strlen(s), k = strlen(suf);
    return n >= k && strcmp(s + n - k, suf) == 0;
}

typedef struct fx_stats {
    int checkpoints, compared, tensors;
    double max_abs;
} fx_stats;

static void compare_with_h5(const char *ckpt, const char *h5path, fx_stats *s) {
    itr_checkpoint *c = NULL;
    itr_status st = itr_checkpoint_load(ckpt, &c);
    if (st) fprintf(stderr, "%s\n", itr_last_error());
    assert_int_equal(st, ITR_OK);
    s->checkpoints++;
    struct stat sb;
    if (stat(h5path, &sb) != 0) {          /* eval/ trees: loading is the test */
        itr_checkpoint_free(c);
        return;
    }
    itr_h5 *f = NULL;
    itr_weights ref;
    itr_weights_init(&ref, h5path);
    assert_int_equal(itr_h5_open(h5path, &f), ITR_OK);
    st = itr_h5_load_weights(f, &ref);
    if (st) fprintf(stderr, "%s\n", itr_last_error());
    assert_int_equal(st, ITR_OK);
    double max_abs = 0;
    for (size_t i = 0; i < ref.n; i++) {
        const itr_weight_entry *r = &ref.entries[i];
        const itr_weight_entry *e = itr_weights_find(&c->weights, r->group, r->key);
        if (!e) fprintf(stderr, "%s: no %s/%s\n", ckpt, r->group, r->key);
        assert_non_null(e);
        assert_int_equal(e->t.dtype, r->t.dtype);
        assert_true(itr_shape_equal(e->t.ndim, e->t.shape, r->t.ndim, r->t.shape));
        int64_t n = itr_tensor_numel(&e->t);
        for (int64_t k = 0; k < n; k++) {
            double d = fabs(itr_tensor_get(&e->t, k) - itr_tensor_get(&r->t, k));
            if (d > max_abs) max_abs = d;
        }
        s->tensors++;
    }
    if (ref.n != c->weights.n) fprintf(stderr, "%s: %zu weights, %s has %zu\n", ckpt, c->weights.n, h5path, ref.n);
    assert_int_equal(ref.n, c->weights.n);
    printf("  %-60s %3zu tensors, max abs err %g\n", ckpt + strlen(ITR_SOURCE_DIR) + 1, ref.n, max_abs);
    assert_true(max_abs == 0.0);
    if (max_abs > s->max_abs) s->max_abs = max_abs;
    s->compared++;
    itr_h5_close(f);
    itr_weights_free(&ref);
    itr_checkpoint_free(c);
}

static void walk_fixtures(const char *dir, int depth, fx_stats *s) {
    DIR *d = opendir(dir);
    struct dirent *de;
    assert_non_null(d);
    while ((de = readdir(d)) != NULL) {
        char path[1024];
        struct stat sb;
        if (de->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (stat(path, &sb) != 0) continue;
        if (S_ISDIR(sb.st_mode)) {
            if (depth < 6) walk_fixtures(path, depth + 1, s);
        } else if (ends_with(path, ".pth.tar")) {
            /* CASE.pth.tar and CASE.legacy.pth.tar both belong to CASE.h5 */
            char h5[1024];
            size_t cut = strlen(path) - (ends_with(path, ".legacy.pth.tar") ? 15 : 8);
            snprintf(h5, sizeof h5, "%.*s.h5", (int)cut, path);
            compare_with_h5(path, h5, s);
        }
    }
    closedir(d);
}

static void test_fixture_checkpoints(void **state) {
    (void)state;
    fx_stats s = {0, 0, 0, 0};
    walk_fixtures(ITR_SOURCE_DIR "/fixtures", 0, &s);
    printf("%d checkpoints loaded, %d compared with their .h5 (%d tensors), max abs err %g\n", s.checkpoints,
           s.compared, s.tensors, s.max_abs);
    assert_true(s.checkpoints >= 40);
    assert_true(s.compared >= 30);
}

/* ---------------------------------------------------------------- detection */

static void expect_load_fail(const void *b, size_t n, itr_status want, const char *needle) {
    itr_checkpoint *c = (itr_checkpoint *)1;
    itr_status st = itr_checkpoint_load_buffer(b, n, "t.pth", &c);
    if (st != want || !strstr(itr_last_error(), needle))
        fprintf(stderr, "want %s '%s', got %s: %s\n", itr_status_name(want), needle, itr_status_name(st),
                itr_last_error());
    assert_int_equal(st, want);
    assert_non_null(strstr(itr_last_error(), needle));
    assert_null(c);
}

static void test_detect(void **state) {
    (void)state;
    uint8_t tar[600];
    memset(tar, 0, sizeof tar);
    memcpy(tar, "sys_info", 8);
    memcpy(tar + 257, "ustar\0" "00", 8);
    expect_load_fail(tar, sizeof tar, ITR_E_UNSUPPORTED, "torch 0.1.x tar checkpoint: unsupported");
    expect_load_fail("hello world", 11, ITR_E_FORMAT, "not a torch checkpoint (first bytes 68 65 6c 6c)");
    expect_load_fail("h", 1, ITR_E_FORMAT, "not a torch checkpoint");
    expect_load_fail("", 0, ITR_E_FORMAT, "empty file");
    expect_load_fail("\x80\x02}.", 4, ITR_E_FORMAT, "not a torch checkpoint");   /* a plain pickle */
    expect_load_fail("PK\x03\x04garbage", 11, ITR_E_FORMAT, "not a valid zip");
    itr_container k;
    assert_int_equal(itr_checkpoint_detect(NULL, 5, NULL, &k), ITR_E_ARG);
    itr_checkpoint *c;
    assert_int_equal(itr_checkpoint_load(ITR_SOURCE_DIR "/fixtures/formats/nope.pth", &c), ITR_E_IO);
    assert_int_equal(itr_checkpoint_load(NULL, &c), ITR_E_ARG);
    assert_int_equal(itr_checkpoint_load_buffer(NULL, 3, NULL, &c), ITR_E_ARG);
    itr_checkpoint_free(NULL);
}

/* ---------------------------------------------------------------- hand-built zip */

/* {'model': [OrderedDict(w=<2 floats of storage '0'>)], 'epoch': 7} */
static const char PKL_OK[] =
    "\x80\x02}(X\x05\x00\x00\x00model]ccollections\nOrderedDict\n)R(X\x01\x00\x00\x00w"
    "ctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x00"
    "0X\x03\x00\x00\x00" "cpuK\x02tQK\x00K\x02\x85K\x01\x85\x89" "ccollections\nOrderedDict\n)RtRu"
    "aX\x05\x00\x00\x00" "epochK\x07u.";

static const float VALS[2] = {1.5f, -2.0f};

static itr_status load_zip(zb *z, itr_checkpoint **c) {
    zb_finish(z);
    itr_status st = itr_checkpoint_load_buffer(z->file.p, z->file.n, "built.pth", c);
    zb_free(z);
    return st;
}

static void zip_expect(zb *z, itr_status want, const char *needle) {
    zb_finish(z);
    expect_load_fail(z->file.p, z->file.n, want, needle);
    zb_free(z);
}

static void check_w(const itr_checkpoint *c, const char *group) {
    const itr_weight_entry *e = itr_weights_find(&c->weights, group, "w");
    assert_non_null(e);
    assert_true(itr_f32(&e->t)[0] == 1.5f && itr_f32(&e->t)[1] == -2.0f);
}

static void test_zip_built(void **state) {
    (void)state;
    itr_checkpoint *c = NULL;
    zb z;
    /* valid, with byteorder little, an unused record and a version record */
    memset(&z, 0, sizeof z);
    zb_add(&z, "archive/data.pkl", LIT(PKL_OK), 0, 0);
    zb_add(&z, "archive/data/0", VALS, 8, 0, 0);
    zb_add(&z, "archive/data/9", VALS, 8, 0, 0);
    zb_add(&z, "archive/byteorder", "little", 6, 0, 0);
    zb_add(&z, "archive/version", "3\n", 2, 0, 0);
    assert_int_equal(load_zip(&z, &c), ITR_OK);
    assert_int_equal(c->container, ITR_CONTAINER_ZIP);
    assert_int_equal(c->epoch, 7);
    check_w(c, "0");
    itr_checkpoint_free(c);
    /* big-endian records are swapped */
    uint8_t be[8];
    for (int i = 0; i < 2; i++) {
        uint32_t u;
        memcpy(&u, &VALS[i], 4);
        for (int b = 0; b < 4; b++) be[4 * i + b] = (uint8_t)(u >> (24 - 8 * b));
    }
    memset(&z, 0, sizeof z);
    zb_add(&z, "p/data.pkl", LIT(PKL_OK), 0, 0);
    zb_add(&z, "p/byteorder", "big", 3, 0, 0);
    zb_add(&z, "p/data/0", be, 8, 0, 0);
    assert_int_equal(load_zip(&z, &c), ITR_OK);
    check_w(c, "0");
    itr_checkpoint_free(c);

    memset(&z, 0, sizeof z);
    zb_add(&z, "p/data.pkl", LIT(PKL_OK), 0, 0);
    zb_add(&z, "p/byteorder", "middle", 6, 0, 0);
    zb_add(&z, "p/data/0", VALS, 8, 0, 0);
    zip_expect(&z, ITR_E_FORMAT, "byteorder");
    memset(&z, 0, sizeof z);
    zb_add(&z, "p/data.pkl", LIT(PKL_OK), 0, 0);
    zip_expect(&z, ITR_E_FORMAT, "'p/data/0' of a storage is missing");
    memset(&z, 0, sizeof z);
    zb_add(&z, "p/data.pkl", LIT(PKL_OK), 0, 0);
    zb_add(&z, "p/data/0", VALS, 4, 0, 0);
    zip_expect(&z, ITR_E_FORMAT, "has 4 bytes");
    memset(&z, 0, sizeof z);
    zb_add(&z, "p/data.pkl", LIT(PKL_OK), 0, 0);
    zb_add(&z, "p/data/0", VALS, 8, 0, 0);
    zb_add(&z, "p/data/0", VALS, 8, 0, 0);                /* libzip refuses duplicate names */
    zip_expect(&z, ITR_E_FORMAT, "not a valid zip");
    memset(&z, 0, sizeof z);
    zb_add(&z, "p/data.pkl", LIT(PKL_OK), 0, 0);
    zb_add(&z, "q/data.pkl", LIT(PKL_OK), 0, 0);
    zip_expect(&z, ITR_E_FORMAT, "two data.pkl");
    memset(&z, 0, sizeof z);
    zb_add(&z, "p/data.pkl", LIT(PKL_OK), 0, 0);
    zb_add(&z, "p/data/0", VALS, 8, 0, 0);
    zb_add(&z, "other/file", VALS, 8, 0, 0);
    zip_expect(&z, ITR_E_FORMAT, "outside the prefix");
    memset(&z, 0, sizeof z);
    zb_add(&z, "readme.txt", "hi", 2, 0, 0);
    zb_add(&z, "a/b/data.pkl", LIT(PKL_OK), 0, 0);
    zip_expect(&z, ITR_E_FORMAT, "not a torch checkpoint");
    memset(&z, 0, sizeof z);
    zb_add(&z, "p/data.pkl", LIT(PKL_OK), 8, 0);          /* deflated */
    zip_expect(&z, ITR_E_UNSUPPORTED, "compressed");
    memset(&z, 0, sizeof z);
    zb_add(&z, "p/data.pkl", LIT(PKL_OK), 0, 0);
    zb_add(&z, "p/data/0", VALS, 8, 0, 1);                /* CRC mismatch */
    zip_expect(&z, ITR_E_FORMAT, "p/data/0");
    /* the object tree calls os.system: rejected by name, nothing runs */
    memset(&z, 0, sizeof z);
    zb_add(&z, "p/data.pkl", LIT("\x80\x02" "cos\nsystem\nX\x0b\x00\x00\x00touch /tmp/x\x85R."), 0, 0);
    zip_expect(&z, ITR_E_UNSUPPORTED, "\"os.system\"");
    memset(&z, 0, sizeof z);
    zb_add(&z, "p/data.pkl", LIT("\x80\x02(X\x06\x00\x00\x00moduleK\x01tQ."), 0, 0);
    zip_expect(&z, ITR_E_UNSUPPORTED, "whole nn.Module");
    memset(&z, 0, sizeof z);
    zb_add(&z, "p/data.pkl", LIT("\x80\x02(X\x03\x00\x00\x00" "abctQ."), 0, 0);
    zip_expect(&z, ITR_E_FORMAT, "does not start with 'storage'");
    memset(&z, 0, sizeof z);
    zb_add(&z, "p/data.pkl", LIT("\x80\x02K\x01Q."), 0, 0);
    zip_expect(&z, ITR_E_FORMAT, "not a tuple");
    memset(&z, 0, sizeof z);
    zb_add(&z, "p/data.pkl", LIT("\x80\x02(X\x07\x00\x00\x00storagetQ."), 0, 0);
    zip_expect(&z, ITR_E_FORMAT, "1 fields");
    memset(&z, 0, sizeof z);
    zb_add(&z, "p/data.pkl", LIT("\x80\x02(X\x07\x00\x00\x00storageK\x01K\x02K\x03K\x04tQ."), 0, 0);
    zip_expect(&z, ITR_E_FORMAT, "is not ('storage'");
    /* one key declared with two sizes */
    memset(&z, 0, sizeof z);
    zb_add(&z, "p/data.pkl", LIT("\x80\x02(X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x00"
                                 "0X\x03\x00\x00\x00" "cpuK\x02tQ(X\x07\x00\x00\x00storagectorch\nFloatStorage\n"
                                 "X\x01\x00\x00\x00" "0X\x03\x00\x00\x00" "cpuK\x03tQ\x86."), 0, 0);
    zip_expect(&z, ITR_E_FORMAT, "declared as FloatStorage[2] and as FloatStorage[3]");
    memset(&z, 0, sizeof z);
    zb_add(&z, "p/data.pkl", LIT("\x80\x02(X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x00"
                                 "0X\x03\x00\x00\x00" "cpu\x8a\x08\xff\xff\xff\xff\xff\xff\xff\x7ftQ."), 0, 0);
    zip_expect(&z, ITR_E_LIMIT, "too large");
}

/* A central directory that claims a 4 GB stored entry in a 4 KB file (found
 * by the fuzzer; libzip accepted it): rejected before anything is allocated. */
static void test_zip_size_claims(void **state) {
    (void)state;
    uint8_t *b = NULL;
    size_t n = 0;
    assert_int_equal(itr_read_file(FX "views_zip_torch113.pt", 1 << 20, &b, &n), ITR_OK);
    int patched = 0;
    for (size_t i = 0; i + 46 < n; i++) {
        if (memcmp(b + i, "PK\x01\x02", 4) != 0) continue;
        size_t nl = (size_t)b[i + 28] | ((size_t)b[i + 29] << 8);
        if (i + 46 + nl <= n && nl >= 6 && memcmp(b + i + 46 + nl - 6, "data/8", 6) == 0) {
            memcpy(b + i + 24, "\x04\x00\x00\xfe", 4);    /* uncompressed size only */
            patched = 1;
        }
    }
    assert_true(patched);
    expect_load_fail(b, n, ITR_E_FORMAT, "stored sizes disagree");
    free(b);
}

/* ---------------------------------------------------------------- object model */

static itr_status load_tree(const char *pkl, size_t n, itr_checkpoint **c) {
    zb z;
    memset(&z, 0, sizeof z);
    zb_add(&z, "m/data.pkl", pkl, n, 0, 0);
    zb_add(&z, "m/data/0", VALS, 8, 0, 0);
    return load_zip(&z, c);
}

#define TENSOR_W                                                                                            \
    "ctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x00" \
    "0X\x03\x00\x00\x00" "cpuK\x02tQK\x00K\x02\x85K\x01\x85\x89}tR"

static void test_object_model(void **state) {
    (void)state;
    itr_checkpoint *c = NULL;
    /* opt of every field type */
    assert_int_equal(load_tree(LIT("\x80\x02}(X\x03\x00\x00\x00optcargparse\nNamespace\n)\x81}("
                                   "X\x01\x00\x00\x00" "aK\x01X\x01\x00\x00\x00" "bG?\xf8\x00\x00\x00\x00\x00\x00"
                                   "X\x01\x00\x00\x00" "cU\x02hiX\x01\x00\x00\x00" "d(K\x01G@\x04\x00\x00\x00\x00"
                                   "\x00\x00X\x01\x00\x00\x00x\x88NlX\x01\x00\x00\x00" "e\x88X\x01\x00\x00\x00" "fN"
                                   "X\x01\x00\x00\x00g}(X\x01\x00\x00\x00kK\x01K\x02K\x03uX\x01\x00\x00\x00hK\x01K\x02"
                                   "\x86ub"
                                   "X\x05\x00\x00\x00modelccollections\nOrderedDict\n)R(X\x01\x00\x00\x00w" TENSOR_W
                                   "X\x01\x00\x00\x00nK\x05uu."), &c), ITR_OK);
    assert_true(c->has_opt);
    assert_int_equal(itr_config_find(&c->opt, "a")->type, ITR_CFG_INT);
    assert_true(itr_config_float(&c->opt, "b", 0) == 1.5);
    assert_string_equal(itr_config_str(&c->opt, "c", ""), "hi");
    assert_int_equal(itr_config_find(&c->opt, "d")->type, ITR_CFG_LIST);
    assert_string_equal(itr_config_find(&c->opt, "d")->s, "[1, 2.5, \"x\", true, null]");
    assert_int_equal(itr_config_find(&c->opt, "e")->type, ITR_CFG_BOOL);
    assert_int_equal(itr_config_find(&c->opt, "f")->type, ITR_CFG_NONE);
    assert_string_equal(itr_config_find(&c->opt, "g")->s, "{\"k\": 1, \"2\": 3}");
    assert_string_equal(itr_config_find(&c->opt, "h")->s, "[1, 2]");
    check_w(c, "model");                          /* {'model': state_dict}; 'n' (an int) is skipped */
    assert_int_equal(c->weights.n, 1);
    itr_checkpoint_free(c);
    /* 'model' dict of state dicts; flat *_state_dict keys; optimizer skipped */
    assert_int_equal(load_tree(LIT("\x80\x02}(X\x05\x00\x00\x00model}X\x03\x00\x00\x00img}X\x01\x00\x00\x00w" TENSOR_W
                                   "ssX\x0e\x00\x00\x00" "enc_state_dict}X\x01\x00\x00\x00wh\x00ss"
                                   "X\x14\x00\x00\x00optimizer_state_dict}X\x01\x00\x00\x00wK\x01ssu."), &c),
                     ITR_E_FORMAT);                /* h0 is not in the memo */
    assert_int_equal(load_tree(LIT("\x80\x02}(X\x05\x00\x00\x00model}X\x03\x00\x00\x00img}X\x01\x00\x00\x00w" TENSOR_W
                                   "q\x00ssX\x0e\x00\x00\x00" "enc_state_dict}X\x01\x00\x00\x00wh\x00s"
                                   "X\x14\x00\x00\x00optimizer_state_dict}X\x01\x00\x00\x00wK\x01su."), &c),
                     ITR_OK);
    check_w(c, "img");
    check_w(c, "enc_state_dict");
    assert_int_equal(itr_weights_group_count(&c->weights), 2);
    itr_checkpoint_free(c);
    /* a bare state dict */
    assert_int_equal(load_tree(LIT("\x80\x02}X\x01\x00\x00\x00w" TENSOR_W "s."), &c), ITR_OK);
    check_w(c, "0");
    itr_checkpoint_free(c);
    /* numpy-scalar epoch, float Eiters is not an int (left at -1) */
    assert_int_equal(load_tree(LIT("\x80\x02}(X\x06\x00\x00\x00" "EitersG?\xf8\x00\x00\x00\x00\x00\x00"
                                   "X\x09\x00\x00\x00" "best_lossNu."), &c), ITR_OK);
    assert_int_equal(c->eiters, -1);
    assert_true(isnan(c->best_loss));
    itr_checkpoint_free(c);
    /* errors */
    assert_int_equal(load_tree(LIT("\x80\x02]."), &c), ITR_E_FORMAT);
    assert_non_null(strstr(itr_last_error(), "root is a list"));
    assert_int_equal(load_tree(LIT("\x80\x02}X\x03\x00\x00\x00optK\x01s."), &c), ITR_E_FORMAT);
    assert_non_null(strstr(itr_last_error(), "'opt' is a int"));
    assert_int_equal(load_tree(LIT("\x80\x02}X\x03\x00\x00\x00opt}K\x01K\x02ss."), &c), ITR_E_FORMAT);
    assert_non_null(strstr(itr_last_error(), "non-string name"));
    assert_int_equal(load_tree(LIT("\x80\x02}X\x05\x00\x00\x00modelK\x01s."), &c), ITR_E_FORMAT);
    assert_non_null(strstr(itr_last_error(), "'model' is a int"));
    assert_int_equal(load_tree(LIT("\x80\x02}X\x05\x00\x00\x00model](K\x01" "el."), &c), ITR_E_FORMAT);
    assert_int_equal(load_tree(LIT("\x80\x02}X\x05\x00\x00\x00model]K\x01" "as."), &c), ITR_E_FORMAT);
    assert_non_null(strstr(itr_last_error(), "state dict '0' is a int"));
    assert_int_equal(load_tree(LIT("\x80\x02}X\x05\x00\x00\x00model]}K\x01" TENSOR_W "sas."), &c), ITR_E_FORMAT);
    assert_non_null(strstr(itr_last_error(), "non-string key"));
    assert_int_equal(load_tree(LIT("\x80\x02}X\x05\x00\x00\x00model}K\x01}ss."), &c), ITR_E_FORMAT);
    assert_non_null(strstr(itr_last_error(), "non-string key"));
    /* a deep list in opt is too deep for JSON */
    bb deep = {0};
    bb_put(&deep, LIT("\x80\x02}X\x03\x00\x00\x00opt}X\x01\x00\x00\x00" "d"));
    for (int i = 0; i < 40; i++) bb_put(&deep, "]", 1);
    for (int i = 0; i < 39; i++) bb_put(&deep, "a", 1);
    bb_put(&deep, LIT("ss."));
    assert_int_equal(load_tree((const char *)deep.p, deep.n, &c), ITR_E_LIMIT);
    assert_non_null(strstr(itr_last_error(), "opt.d"));
    bb_free(&deep);
}

/* ---------------------------------------------------------------- hand-built legacy */

/* Object tree: {'model': [{'w': tensor of storage '0' (legacy 6-tuple)}]}. */
#define LEG_PID(key, numel, view) \
    "(X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x00" key "X\x03\x00\x00\x00" "cpuK" numel view "tQ"
static const char LEG_TREE[] = "\x80\x02}X\x05\x00\x00\x00model]}X\x01\x00\x00\x00wctorch._utils\n_rebuild_tensor\n("
                               LEG_PID("0", "\x02", "N") "K\x00K\x02\x85K\x01\x85tRsas.";
static const char LEG_KEYS[] = "\x80\x02]X\x01\x00\x00\x00" "0a.";

static itr_status legacy_load(const char *head, size_t hn, const char *tree, size_t tn, const char *keys, size_t kn,
                              int64_t count, size_t nvals, itr_checkpoint **c) {
    bb b = {0};
    legacy_build(&b, head, hn, tree, tn, keys, kn);
    if (count >= 0) {
        bb_u64(&b, (uint64_t)count);
        bb_put(&b, VALS, nvals * 4);
    }
    itr_status st = itr_checkpoint_load_buffer(b.p, b.n, "built.legacy.pth", c);
    bb_free(&b);
    return st;
}

static void legacy_expect(const char *head, size_t hn, const char *tree, size_t tn, const char *keys, size_t kn,
                          int64_t count, size_t nvals, itr_status want, const char *needle) {
    itr_checkpoint *c = NULL;
    itr_status st = legacy_load(head, hn, tree, tn, keys, kn, count, nvals, &c);
    if (st != want || !strstr(itr_last_error(), needle))
        fprintf(stderr, "want %s '%s', got %s: %s\n", itr_status_name(want), needle, itr_status_name(st),
                itr_last_error());
    assert_int_equal(st, want);
    assert_non_null(strstr(itr_last_error(), needle));
}

static void test_legacy_built(void **state) {
    (void)state;
    itr_checkpoint *c = NULL;
    assert_int_equal(legacy_load(LIT(LEGACY_HEAD), LIT(LEG_TREE), LIT(LEG_KEYS), 2, 2, &c), ITR_OK);
    assert_int_equal(c->container, ITR_CONTAINER_LEGACY);
    check_w(c, "0");
    itr_checkpoint_free(c);
    /* torch 0.2-era view metadata: ('v', offset 1, numel 1) of root '0' */
    static const char VIEW_TREE[] = "\x80\x02}X\x05\x00\x00\x00model]}(X\x01\x00\x00\x00wctorch._utils\n_rebuild_tensor\n("
                                    LEG_PID("0", "\x02", "X\x01\x00\x00\x00vK\x01K\x01\x87") "K\x00K\x01\x85K\x01\x85tR"
                                    "X\x01\x00\x00\x00uctorch._utils\n_rebuild_tensor\n("
                                    LEG_PID("0", "\x02", "X\x01\x00\x00\x00vK\x01K\x01\x87") "K\x00K\x01\x85K\x01\x85tR"
                                    "uas.";
    assert_int_equal(legacy_load(LIT(LEGACY_HEAD), LIT(VIEW_TREE), LIT(LEG_KEYS), 2, 2, &c), ITR_OK);
    const itr_weight_entry *e = itr_weights_find(&c->weights, "0", "w");
    assert_true(itr_f32(&e->t)[0] == -2.0f);
    assert_ptr_equal(c->tensors[0].node->u.tensor.storage, c->tensors[1].node->u.tensor.storage);
    itr_checkpoint_free(c);
    static const char BAD_VIEW[] = "\x80\x02}X\x05\x00\x00\x00model]}X\x01\x00\x00\x00wctorch._utils\n_rebuild_tensor\n("
                                   LEG_PID("0", "\x02", "X\x01\x00\x00\x00vK\x01K\x05\x87") "K\x00K\x01\x85K\x01\x85tR"
                                   "sas.";
    legacy_expect(LIT(LEGACY_HEAD), LIT(BAD_VIEW), LIT(LEG_KEYS), 2, 2, ITR_E_FORMAT, "outside root");
    static const char BAD_VIEW2[] = "\x80\x02}X\x05\x00\x00\x00model]}X\x01\x00\x00\x00wctorch._utils\n_rebuild_tensor\n("
                                    LEG_PID("0", "\x02", "K\x01") "K\x00K\x01\x85K\x01\x85tRsas.";
    legacy_expect(LIT(LEGACY_HEAD), LIT(BAD_VIEW2), LIT(LEG_KEYS), 2, 2, ITR_E_FORMAT, "bad view metadata");

    /* container errors */
    static const char HEAD_V1000[] = "\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19\x2e"
                                     "\x80\x02M\xe8\x03.\x80\x02}.";
    legacy_expect(LIT(HEAD_V1000), LIT(LEG_TREE), LIT(LEG_KEYS), 2, 2, ITR_E_UNSUPPORTED, "not 1001");
    static const char HEAD_BE[] = "\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19\x2e"
                                  "\x80\x02M\xe9\x03.\x80\x02}X\x0d\x00\x00\x00little_endian\x89s.";
    legacy_expect(LIT(HEAD_BE), LIT(LEG_TREE), LIT(LEG_KEYS), 2, 2, ITR_E_UNSUPPORTED, "big-endian");
    static const char HEAD_LIST[] = "\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19\x2e"
                                    "\x80\x02M\xe9\x03.\x80\x02].";
    legacy_expect(LIT(HEAD_LIST), LIT(LEG_TREE), LIT(LEG_KEYS), 2, 2, ITR_E_FORMAT, "sys_info is not a dict");
    static const char HEAD_TRUNC[] = "\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19\x2e";
    legacy_expect(LIT(HEAD_TRUNC), "", 0, "", 0, -1, 0, ITR_E_FORMAT, "legacy pickle 2");
    legacy_expect(LIT(LEGACY_HEAD), LIT(LEG_TREE), LIT("\x80\x02}."), 2, 2, ITR_E_FORMAT, "key list is a dict");
    legacy_expect(LIT(LEGACY_HEAD), LIT(LEG_TREE), LIT("\x80\x02]X\x01\x00\x00\x00" "1a."), 2, 2, ITR_E_FORMAT,
                  "names no storage");
    legacy_expect(LIT(LEGACY_HEAD), LIT(LEG_TREE), LIT("\x80\x02]K\x01" "a."), 2, 2, ITR_E_FORMAT, "names no storage");
    legacy_expect(LIT(LEGACY_HEAD), LIT(LEG_TREE), LIT("\x80\x02]."), 2, 2, ITR_E_FORMAT, "missing from the legacy key list");
    legacy_expect(LIT(LEGACY_HEAD), LIT(LEG_TREE), LIT("\x80\x02(X\x01\x00\x00\x00" "0X\x01\x00\x00\x00" "0l."), 2, 2,
                  ITR_E_FORMAT, "repeats storage '0'");
    legacy_expect(LIT(LEGACY_HEAD), LIT(LEG_TREE), LIT(LEG_KEYS), 3, 2, ITR_E_FORMAT, "holds 3 elements");
    legacy_expect(LIT(LEGACY_HEAD), LIT(LEG_TREE), LIT(LEG_KEYS), 2, 1, ITR_E_FORMAT, "truncated: storage '0' needs 2");
    legacy_expect(LIT(LEGACY_HEAD), LIT(LEG_TREE), LIT(LEG_KEYS), -1, 0, ITR_E_FORMAT, "record header");
    /* repeated key: the second record is not checked before the repeat is seen */
    bb b = {0};
    legacy_build(&b, LIT(LEGACY_HEAD), LIT(LEG_TREE), LIT("\x80\x02(X\x01\x00\x00\x00" "0X\x01\x00\x00\x00" "0l."));
    legacy_record_f32(&b, VALS, 2);
    legacy_record_f32(&b, VALS, 2);
    expect_load_fail(b.p, b.n, ITR_E_FORMAT, "repeats storage '0'");
    bb_free(&b);
    /* os.system in the object tree of a legacy file */
    legacy_expect(LIT(LEGACY_HEAD), LIT("\x80\x02" "cposix\nsystem\n."), LIT(LEG_KEYS), 2, 2, ITR_E_UNSUPPORTED,
                  "\"posix.system\"");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_samples_expected), cmocka_unit_test(test_samples_model),
        cmocka_unit_test(test_fixture_checkpoints), cmocka_unit_test(test_detect),
        cmocka_unit_test(test_zip_built),        cmocka_unit_test(test_zip_size_claims),
        cmocka_unit_test(test_object_model),
        cmocka_unit_test(test_legacy_built),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
