/* fuzz_npy.c - libFuzzer target: .npy files, numeric and object arrays
 * (specs formats.md s2.1, s2.2, s5 rule 7). Built by scripts/fuzz.sh only. */
#include <stddef.h>
#include <stdint.h>

#include "itr/npy.h"
#include "itr/pickle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    itr_npy_opts o;
    itr_npy_opts_default(&o);
    itr_tensor t;
    if (itr_npy_load_mem(data, size, "fuzz.npy", &o, -1, &t) == ITR_OK) itr_tensor_free(&t);
    o.allow_pickle = 1;
    struct itr_pyobj *obj = NULL;
    if (itr_npy_load_object_mem(data, size, "fuzz.npy", &o, &obj) == ITR_OK) itr_pyobj_free(obj);
    return 0;
}
