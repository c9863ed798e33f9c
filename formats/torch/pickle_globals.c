/* pickle_globals.c - the whitelist of GLOBAL / STACK_GLOBAL names
 * (specs formats.md s1.8, s5 rule 1).
 *
 * A global is looked up in this fixed table and becomes an enum; nothing is
 * imported or called. Everything else is an error that names the global. */
#include <string.h>

#include "pickle_internal.h"

typedef struct entry {
    const char *module, *name;
    itr_pyglobal id;
    itr_dtype dtype;
    int supported;
} entry;

#define ANY_DT ITR_F32   /* placeholder dtype for entries without one */

static const entry TABLE[] = {
    {"collections", "OrderedDict", ITR_G_ORDERED_DICT, ANY_DT, 1},
    {"torch._utils", "_rebuild_tensor", ITR_G_REBUILD_TENSOR, ANY_DT, 1},
    {"torch._utils", "_rebuild_tensor_v2", ITR_G_REBUILD_TENSOR_V2, ANY_DT, 1},
    {"torch._utils", "_rebuild_parameter", ITR_G_REBUILD_PARAMETER, ANY_DT, 1},
    {"torch._utils", "_rebuild_parameter_with_state", ITR_G_REBUILD_PARAMETER_WS, ANY_DT, 1},
    {"torch._tensor", "_rebuild_from_type_v2", ITR_G_REBUILD_FROM_TYPE_V2, ANY_DT, 1},
    /* s1.3.2 storage types */
    {"torch", "FloatStorage", ITR_G_TORCH_STORAGE, ITR_F32, 1},
    {"torch", "DoubleStorage", ITR_G_TORCH_STORAGE, ITR_F64, 1},
    {"torch", "HalfStorage", ITR_G_TORCH_STORAGE, ITR_F16, 1},
    {"torch", "BFloat16Storage", ITR_G_TORCH_STORAGE, ITR_BF16, 1},
    {"torch", "LongStorage", ITR_G_TORCH_STORAGE, ITR_I64, 1},
    {"torch", "IntStorage", ITR_G_TORCH_STORAGE, ITR_I32, 1},
    {"torch", "ShortStorage", ITR_G_TORCH_STORAGE, ITR_I16, 1},
    {"torch", "CharStorage", ITR_G_TORCH_STORAGE, ITR_I8, 1},
    {"torch", "ByteStorage", ITR_G_TORCH_STORAGE, ITR_U8, 1},
    {"torch", "BoolStorage", ITR_G_TORCH_STORAGE, ITR_BOOL, 1},
    {"torch", "UntypedStorage", ITR_G_TORCH_STORAGE, ITR_U8, 1},
    {"torch", "ComplexFloatStorage", ITR_G_TORCH_STORAGE, ANY_DT, 0},
    {"torch", "ComplexDoubleStorage", ITR_G_TORCH_STORAGE, ANY_DT, 0},
    {"torch", "QInt8Storage", ITR_G_TORCH_STORAGE, ANY_DT, 0},
    {"torch", "QUInt8Storage", ITR_G_TORCH_STORAGE, ANY_DT, 0},
    {"torch", "QInt32Storage", ITR_G_TORCH_STORAGE, ANY_DT, 0},
    {"torch", "QUInt4x2Storage", ITR_G_TORCH_STORAGE, ANY_DT, 0},
    {"torch", "QUInt2x4Storage", ITR_G_TORCH_STORAGE, ANY_DT, 0},
    {"torch", "Size", ITR_G_TORCH_SIZE, ANY_DT, 1},
    {"torch", "device", ITR_G_TORCH_DEVICE, ANY_DT, 1},
    {"torch", "Tensor", ITR_G_TORCH_TENSOR, ANY_DT, 1},
    {"torch.nn.parameter", "Parameter", ITR_G_TORCH_PARAMETER, ANY_DT, 1},
    /* torch dtypes as values */
    {"torch", "float32", ITR_G_TORCH_DTYPE, ITR_F32, 1},
    {"torch", "float", ITR_G_TORCH_DTYPE, ITR_F32, 1},
    {"torch", "float64", ITR_G_TORCH_DTYPE, ITR_F64, 1},
    {"torch", "double", ITR_G_TORCH_DTYPE, ITR_F64, 1},
    {"torch", "float16", ITR_G_TORCH_DTYPE, ITR_F16, 1},
    {"torch", "half", ITR_G_TORCH_DTYPE, ITR_F16, 1},
    {"torch", "bfloat16", ITR_G_TORCH_DTYPE, ITR_BF16, 1},
    {"torch", "int64", ITR_G_TORCH_DTYPE, ITR_I64, 1},
    {"torch", "long", ITR_G_TORCH_DTYPE, ITR_I64, 1},
    {"torch", "int32", ITR_G_TORCH_DTYPE, ITR_I32, 1},
    {"torch", "int", ITR_G_TORCH_DTYPE, ITR_I32, 1},
    {"torch", "int16", ITR_G_TORCH_DTYPE, ITR_I16, 1},
    {"torch", "int8", ITR_G_TORCH_DTYPE, ITR_I8, 1},
    {"torch", "uint8", ITR_G_TORCH_DTYPE, ITR_U8, 1},
    {"torch", "bool", ITR_G_TORCH_DTYPE, ITR_BOOL, 1},
    {"argparse", "Namespace", ITR_G_NAMESPACE, ANY_DT, 1},
    {"numpy.core.multiarray", "scalar", ITR_G_NP_SCALAR, ANY_DT, 1},
    {"numpy._core.multiarray", "scalar", ITR_G_NP_SCALAR, ANY_DT, 1},
    {"numpy", "dtype", ITR_G_NP_DTYPE, ANY_DT, 1},
    {"numpy.core.multiarray", "_reconstruct", ITR_G_NP_RECONSTRUCT, ANY_DT, 1},
    {"numpy._core.multiarray", "_reconstruct", ITR_G_NP_RECONSTRUCT, ANY_DT, 1},
    {"numpy", "ndarray", ITR_G_NP_NDARRAY, ANY_DT, 1},
    {"numpy.core.numeric", "_frombuffer", ITR_G_NP_FROMBUFFER, ANY_DT, 1},
    {"numpy._core.numeric", "_frombuffer", ITR_G_NP_FROMBUFFER, ANY_DT, 1},
    {"_codecs", "encode", ITR_G_CODECS_ENCODE, ANY_DT, 1},
    {"builtins", "bytes", ITR_G_BYTES, ANY_DT, 1},
    {"__builtin__", "bytes", ITR_G_BYTES, ANY_DT, 1},
    {"builtins", "bytearray", ITR_G_BYTEARRAY, ANY_DT, 1},
    {"__builtin__", "bytearray", ITR_G_BYTEARRAY, ANY_DT, 1},
    {"builtins", "set", ITR_G_SET, ANY_DT, 1},
    {"__builtin__", "set", ITR_G_SET, ANY_DT, 1},
    {"builtins", "frozenset", ITR_G_FROZENSET, ANY_DT, 1},
    {"__builtin__", "frozenset", ITR_G_FROZENSET, ANY_DT, 1},
    {"copyreg", "_reconstructor", ITR_G_RECONSTRUCTOR, ANY_DT, 1},
    {"copy_reg", "_reconstructor", ITR_G_RECONSTRUCTOR, ANY_DT, 1},
    {"builtins", "object", ITR_G_OBJECT, ANY_DT, 1},
    {"__builtin__", "object", ITR_G_OBJECT, ANY_DT, 1},
    {"joblib.numpy_pickle", "NumpyArrayWrapper", ITR_G_JOBLIB_WRAPPER, ANY_DT, 1},
    {"vocab", "Vocabulary", ITR_G_VOCABULARY, ANY_DT, 1},
    {"__main__", "Vocabulary", ITR_G_VOCABULARY, ANY_DT, 1},
};

static int eq(const char *s, size_t n, const char *lit) {
    return strlen(lit) == n && memcmp(s, lit, n) == 0;
}

static int starts(const char *s, size_t n, const char *lit) {
    size_t k = strlen(lit);
    return n >= k && memcmp(s, lit, k) == 0;
}

itr_status itr_global_lookup(const char *module, size_t mlen, const char *name, size_t nlen,
                             itr_global_info *info) {
    /* s1.3.2: torch.cuda.<X>Storage is an alias of torch.<X>Storage */
    int cuda = eq(module, mlen, "torch.cuda");
    for (size_t i = 0; i < sizeof TABLE / sizeof TABLE[0]; i++) {
        const entry *e = &TABLE[i];
        int mod_ok = eq(module, mlen, e->module) || (cuda && e->id == ITR_G_TORCH_STORAGE);
        if (mod_ok && eq(name, nlen, e->name)) {
            info->id = e->id;
            info->module = e->module;
            info->name = e->name;
            info->dtype = e->dtype;
            info->supported = e->supported;
            return ITR_OK;
        }
    }
    int m = mlen > 120 ? 120 : (int)mlen, k = nlen > 120 ? 120 : (int)nlen;
    if (eq(module, mlen, "joblib.numpy_pickle") &&
        (eq(name, nlen, "NDArrayWrapper") || eq(name, nlen, "ZNDArrayWrapper")))
        return itr_fail(ITR_E_UNSUPPORTED,
                        "unsupported global \"%.*s.%.*s\": joblib < 0.10 format with side files",
                        m, module, k, name);
    if (starts(module, mlen, "torch.nn.modules") || starts(module, mlen, "torch.nn.parallel"))
        return itr_fail(ITR_E_UNSUPPORTED,
                        "unsupported global \"%.*s.%.*s\": a whole nn.Module was pickled; "
                        "only state dicts are supported", m, module, k, name);
    return itr_fail(ITR_E_UNSUPPORTED, "unsupported global \"%.*s.%.*s\" (not in the whitelist, "
                    "nothing is executed)", m, module, k, name);
}
