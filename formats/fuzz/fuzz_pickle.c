/* fuzz_pickle.c - libFuzzer target: the pickle VM and the joblib reader on
 * arbitrary bytes (specs formats.md s5). Built by scripts/fuzz.sh only; it is
 * outside every CMake component on purpose.
 *
 * Every input must return a status (never crash, hang, leak or trip a
 * sanitizer); successful results are walked the way callers walk them. */
#include <stddef.h>
#include <stdint.h>

#include "itr/joblib.h"
#include "itr/pickle.h"

/* A persistent-load hook like a checkpoint's, without storage bytes. */
static itr_status fake_storage(void *ctx, itr_pyarena *a, itr_pyobj *pid, itr_pyobj **out) {
    (void)ctx;
    itr_pyobj *s = itr_py_new(a, ITR_PY_STORAGE);
    if (!s) return ITR_E_LIMIT;
    s->u.storage.dtype = ITR_F32;
    s->u.storage.supported = 1;
    s->u.storage.elem_size = 4;
    s->u.storage.type_name = "FloatStorage";
    s->u.storage.key = "fuzz";
    s->u.storage.location = "cpu";
    const itr_pyobj *numel = pid->kind == ITR_PY_TUPLE ? itr_py_item(pid, 4) : NULL;
    if (numel && numel->kind == ITR_PY_INT && numel->u.i >= 0) s->u.storage.numel = numel->u.i;
    *out = s;
    return ITR_OK;
}

static void walk(const itr_pyobj *o, int depth, size_t *budget) {
    if (!o || depth > 16 || *budget == 0) return;
    (*budget)--;
    if (o->kind == ITR_PY_TENSOR || o->kind == ITR_PY_NDARRAY) {
        itr_tensor t;
        if (itr_py_to_tensor(o, ITR_F32, ITR_I64, &t) == ITR_OK) itr_tensor_free(&t);
    }
    for (size_t i = 0; i < itr_py_len(o); i++) {
        walk(itr_py_item(o, i), depth + 1, budget);
        walk(itr_py_dict_val(o, i), depth + 1, budget);
    }
    walk(itr_py_attrs(o), depth + 1, budget);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    itr_pickle_opts o;
    itr_pickle_opts_default(&o);
    o.limits.max_bytes = (size_t)1 << 28;      /* stay well inside the fuzzer's RSS limit */
    o.limits.max_numel = (int64_t)1 << 24;
    o.persistent_load = fake_storage;
    o.source = "fuzz";
    itr_pyobj *root = NULL;
    if (itr_pickle_load(data, size, &o, &root, NULL) == ITR_OK) {
        char buf[512];
        size_t budget = 10000;
        itr_py_repr(root, buf, sizeof buf);
        walk(root, 0, &budget);
        itr_pyobj_free(root);
    }
    o.persistent_load = NULL;
    if (itr_joblib_loads(data, size, &o, &root) == ITR_OK) itr_pyobj_free(root);
    return 0;
}
