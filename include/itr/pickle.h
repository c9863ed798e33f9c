/* itr/pickle.h - a safe, bounded reader of Python pickles (formats/torch).
 *
 * Spec: specs formats.md s1.7 (the pickle virtual machine), s1.8 (whitelist of
 * globals), s5 (safety). The reader EXECUTES NOTHING. It builds a tree of
 * plain values (itr_pyobj); GLOBAL/STACK_GLOBAL resolve only the names of the
 * s1.8 whitelist (anything else is an error naming the global, e.g.
 * `unsupported global "os.system"`), and REDUCE/NEWOBJ/BUILD are interpreted
 * only for those names, with arity and type checks, producing the
 * reconstructed value types below (tensor, ndarray, numpy scalar, ...).
 *
 * Memory: every value of one load lives in an itr_pyarena. Values reference
 * each other (a memo GET pushes the *same* value, so tied weights are one
 * node reachable twice, and cycles are possible); nothing is ever copied, and
 * freeing the arena frees everything at once. Walkers of the tree (printers,
 * converters) must bound their depth and total work: see itr_py_walk_limits.
 *
 * Typical use:
 *     itr_pickle_opts o;
 *     itr_pickle_opts_default(&o);
 *     o.source = "vocab.pkl";
 *     itr_pyobj *root;  size_t used;
 *     st = itr_pickle_load(buf, len, &o, &root, &used);
 *     const itr_pyobj *w2i = itr_py_attr(root, "word2idx");
 *     ...
 *     itr_pyobj_free(root);
 */
#ifndef ITR_PICKLE_H
#define ITR_PICKLE_H

#include <stddef.h>
#include <stdint.h>
#include "itr/status.h"
#include "itr/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- values */

typedef enum itr_pykind {
    ITR_PY_NONE = 0,
    ITR_PY_BOOL,        /* u.i = 0 / 1                                        */
    ITR_PY_INT,         /* u.i, fits int64                                    */
    ITR_PY_BIGINT,      /* u.bytes: two's-complement little-endian bytes      */
    ITR_PY_FLOAT,       /* u.f                                                */
    ITR_PY_STR,         /* u.bytes: UTF-8 text, NUL-terminated                */
    ITR_PY_BYTES,       /* u.bytes: raw bytes (bytes, bytearray)              */
    ITR_PY_PY2STR,      /* u.bytes: a Python 2 `str` (bytes of unknown        *
                         * encoding, s1.3.6); u.bytes.text is its UTF-8 text  */
    ITR_PY_LIST,        /* u.seq                                              */
    ITR_PY_TUPLE,       /* u.seq                                              */
    ITR_PY_SET,         /* u.seq (set and frozenset)                          */
    ITR_PY_DICT,        /* u.dict (dict and collections.OrderedDict)          */
    ITR_PY_GLOBAL,      /* u.global: a whitelisted name used as a value       */
    ITR_PY_OBJECT,      /* u.object: argparse.Namespace, Vocabulary, ...      */
    ITR_PY_STORAGE,     /* u.storage: a torch storage handle (s1.3.1)         */
    ITR_PY_TENSOR,      /* u.tensor: a torch tensor / Parameter (s1.3.3)      */
    ITR_PY_DTYPE,       /* u.dtype: a numpy dtype                             */
    ITR_PY_NDARRAY,     /* u.ndarray: a numpy array (C-contiguous, native)    */
    ITR_PY_SCALAR       /* u.scalar: a numpy scalar (numpy.float64(500.1))    */
} itr_pykind;

/* The whitelist of s1.8 as an enum. */
typedef enum itr_pyglobal {
    ITR_G_UNKNOWN = 0,          /* only with opts.lenient_globals            */
    ITR_G_ORDERED_DICT,         /* collections.OrderedDict                   */
    ITR_G_REBUILD_TENSOR,       /* torch._utils._rebuild_tensor              */
    ITR_G_REBUILD_TENSOR_V2,    /* torch._utils._rebuild_tensor_v2           */
    ITR_G_REBUILD_PARAMETER,    /* torch._utils._rebuild_parameter           */
    ITR_G_REBUILD_PARAMETER_WS, /* torch._utils._rebuild_parameter_with_state */
    ITR_G_REBUILD_FROM_TYPE_V2, /* torch._tensor._rebuild_from_type_v2       */
    ITR_G_TORCH_STORAGE,        /* torch.<X>Storage (also torch.cuda)        */
    ITR_G_TORCH_SIZE,           /* torch.Size                                */
    ITR_G_TORCH_DEVICE,         /* torch.device                              */
    ITR_G_TORCH_DTYPE,          /* torch.float32, torch.int64, ...           */
    ITR_G_TORCH_TENSOR,         /* torch.Tensor (new_type of _rebuild_from_type_v2) */
    ITR_G_TORCH_PARAMETER,      /* torch.nn.parameter.Parameter              */
    ITR_G_NAMESPACE,            /* argparse.Namespace                        */
    ITR_G_NP_SCALAR,            /* numpy.core.multiarray.scalar              */
    ITR_G_NP_DTYPE,             /* numpy.dtype                               */
    ITR_G_NP_RECONSTRUCT,       /* numpy.core.multiarray._reconstruct        */
    ITR_G_NP_NDARRAY,           /* numpy.ndarray                             */
    ITR_G_NP_FROMBUFFER,        /* numpy.core.numeric._frombuffer            */
    ITR_G_CODECS_ENCODE,        /* _codecs.encode                            */
    ITR_G_BYTES,                /* builtins.bytes                            */
    ITR_G_BYTEARRAY,            /* builtins.bytearray                        */
    ITR_G_SET,                  /* builtins.set                              */
    ITR_G_FROZENSET,            /* builtins.frozenset                        */
    ITR_G_RECONSTRUCTOR,        /* copyreg._reconstructor                    */
    ITR_G_OBJECT,               /* builtins.object                           */
    ITR_G_JOBLIB_WRAPPER,       /* joblib.numpy_pickle.NumpyArrayWrapper     */
    ITR_G_VOCABULARY            /* vocab.Vocabulary / __main__.Vocabulary    */
} itr_pyglobal;

typedef struct itr_pyobj itr_pyobj;
typedef struct itr_pyarena itr_pyarena;

/* A torch storage (persistent id of s1.3.1). The container loader fills
 * `data` / `nbytes` (little-endian elements) once it has located the bytes. */
typedef struct itr_pystorage {
    itr_dtype dtype;
    int supported;             /* 0: complex / quantized storage type      */
    size_t elem_size;          /* bytes per element (also for unsupported) */
    const char *type_name;     /* "FloatStorage"                           */
    char *key;                 /* storage key (decimal address or "0"...)  */
    char *location;            /* "cpu", "cuda:0" (ignored)                */
    int64_t numel;             /* elements of this storage                 */
    const uint8_t *data;       /* NULL until the container resolved it     */
    size_t nbytes;
    void *user;                /* container bookkeeping                    */
} itr_pystorage;

/* A tensor as the rebuild call described it (not yet materialised). */
typedef struct itr_pytensor {
    itr_pyobj *storage;        /* ITR_PY_STORAGE                           */
    int64_t storage_offset;    /* elements                                 */
    int ndim;
    int64_t shape[ITR_MAX_DIMS];
    int64_t stride[ITR_MAX_DIMS];  /* elements                             */
    int requires_grad;
    int is_parameter;          /* rebuilt through _rebuild_parameter*      */
} itr_pytensor;

/* A numpy dtype. Only simple types are supported (object dtype as a flag). */
typedef struct itr_pydtype {
    char descr[16];            /* numpy's dtype.str: "<f4", "|u1", "|O"    */
    char kind;                 /* 'f', 'i', 'u', 'b', 'O'                  */
    int itemsize;
    char byteorder;            /* '<', '>', '|' ('=' is stored as '<')     */
    itr_dtype dtype;           /* element type (not meaningful for 'O')    */
} itr_pydtype;

/* A numpy array, stored C-contiguous in native (little-endian) byte order
 * (Fortran-ordered or big-endian input is converted when it is built). An
 * object array keeps its elements in `objects` (ITR_PY_LIST) instead. */
typedef struct itr_pyndarray {
    itr_pydtype dtype;
    int ndim;
    int64_t shape[ITR_MAX_DIMS];
    int fortran_order;         /* as found in the file (data is C order)   */
    uint8_t *data;             /* numel * itemsize bytes; NULL for 'O'     */
    size_t nbytes;
    itr_pyobj *objects;        /* object dtype: list of numel values       */
} itr_pyndarray;

/* A numpy scalar: its dtype and value (both views filled). */
typedef struct itr_pyscalar {
    itr_pydtype dtype;
    double f;                  /* value as double                          */
    int64_t i;                 /* value as int64 (integers and bools)      */
} itr_pyscalar;

struct itr_pyobj {
    itr_pykind kind;
    itr_pyarena *arena;        /* the arena that owns this value           */
    union {
        int64_t i;                                       /* BOOL, INT      */
        double f;                                        /* FLOAT          */
        struct { uint8_t *data; size_t len; const char *text; } bytes;
                                 /* STR, BYTES, PY2STR, BIGINT; data is NUL-
                                  * terminated; text = UTF-8 view (STR: data;
                                  * PY2STR: data when valid UTF-8, else the
                                  * Latin-1 decoding; BYTES/BIGINT: NULL)  */
        struct { itr_pyobj **items; size_t n, cap; } seq; /* LIST/TUPLE/SET */
        struct {
            itr_pyobj **keys, **vals;
            size_t n, cap;
            int ordered;          /* collections.OrderedDict               */
            itr_pyobj *attrs;     /* BUILD state (`_metadata`) or NULL     */
            size_t *index;        /* private: open-addressing hash of keys */
            size_t index_cap;     /* private: slots in index (power of 2)  */
        } dict;
        struct {
            itr_pyglobal id;
            const char *module, *name;   /* canonical spelling             */
            itr_dtype dtype;             /* TORCH_STORAGE / TORCH_DTYPE    */
            int supported;               /* TORCH_STORAGE: 0 = complex/q.  */
        } global;
        struct {
            itr_pyglobal cls;           /* NAMESPACE, VOCABULARY, ...      */
            const char *class_name;     /* "argparse.Namespace"            */
            itr_pyobj *attrs;           /* ITR_PY_DICT of attributes       */
        } object;
        itr_pystorage storage;
        itr_pytensor tensor;
        itr_pydtype dtype;
        itr_pyndarray ndarray;
        itr_pyscalar scalar;
    } u;
};

/* ---------------------------------------------------------------- limits */

typedef struct itr_pickle_limits {
    size_t max_stack;          /* value-stack depth             (2^20)     */
    size_t max_marks;          /* mark-stack depth              (2^16)     */
    size_t max_memo;           /* largest memo index + 1        (2^24)     */
    size_t max_values;         /* values per arena              (2^26)     */
    size_t max_bytes;          /* bytes allocated per arena     (2^36)     */
    size_t max_line;           /* text operand length           (256)      */
    size_t max_long_bytes;     /* LONG1/LONG4 operand bytes     (1024)     */
    int64_t max_numel;         /* elements of one tensor/array  (2^34)     */
    int max_nesting;           /* nested pickles (joblib object arrays) (4) */
} itr_pickle_limits;

void itr_pickle_limits_default(itr_pickle_limits *l);

/* How Python 2 `str` operands (STRING, BINSTRING, SHORT_BINSTRING) load. */
typedef enum itr_py2str_mode {
    ITR_PY2STR_KEEP = 0,    /* ITR_PY_PY2STR with raw bytes + text view (default) */
    ITR_PY2STR_LATIN1,      /* ITR_PY_STR decoded as Latin-1 (torch encoding='latin1') */
    ITR_PY2STR_BYTES        /* ITR_PY_BYTES (Python 3 encoding='bytes')   */
} itr_py2str_mode;

/* persistent_load hook (BINPERSID): given the persistent id value `pid`,
 * return the value that stands for it, allocated in `arena` (or an existing
 * value of that arena). Return an itr_fail() status to reject the id. */
typedef itr_status (*itr_persistent_load_fn)(void *ctx, itr_pyarena *arena,
                                             itr_pyobj *pid, itr_pyobj **out);

typedef struct itr_pickle_opts {
    itr_pickle_limits limits;
    itr_py2str_mode py2str;
    itr_persistent_load_fn persistent_load;   /* NULL: BINPERSID is an error */
    void *persistent_ctx;
    int lenient_globals;     /* 1: unknown globals become ITR_G_UNKNOWN
                              * placeholders (listing only); REDUCE/BUILD on
                              * them still fail. Never the default.        */
    const char *source;      /* file name used in messages (may be NULL)   */
} itr_pickle_opts;

void itr_pickle_opts_default(itr_pickle_opts *o);

/* ---------------------------------------------------------------- loading */

/* Runs one pickle from buf[0..len) and returns its result. *consumed (may be
 * NULL) receives the bytes used up to and including STOP (a stream may go on
 * after STOP: legacy checkpoints, joblib). The returned value owns a fresh
 * arena: free it with itr_pyobj_free. opts may be NULL (defaults). */
itr_status itr_pickle_load(const uint8_t *buf, size_t len, const itr_pickle_opts *opts,
                           itr_pyobj **out, size_t *consumed);

/* Same, allocating into an existing arena (several pickles of one file that
 * share storages, such as the five of a legacy checkpoint). */
itr_status itr_pickle_load_in(itr_pyarena *arena, const uint8_t *buf, size_t len,
                              const itr_pickle_opts *opts, itr_pyobj **out, size_t *consumed);

/* Reads a whole file (at most max_bytes) and unpickles it (e.g. a Python 2
 * vocab.pkl); opts->source defaults to path. */
itr_status itr_pickle_load_file(const char *path, const itr_pickle_opts *opts, itr_pyobj **out);
/* Reads a whole file into a malloc'ed buffer (free()); ITR_E_LIMIT past
 * max_bytes. Shared by the checkpoint and joblib loaders. */
itr_status itr_read_file(const char *path, size_t max_bytes, uint8_t **buf, size_t *len);

/* Arenas. itr_pyarena_new returns NULL when out of memory. */
itr_pyarena *itr_pyarena_new(const itr_pickle_limits *limits /* NULL = defaults */);
void itr_pyarena_free(itr_pyarena *a);
/* Frees the arena `o` belongs to, and with it every value of that arena. */
void itr_pyobj_free(itr_pyobj *o);

/* A new value of kind k (zeroed payload) in arena a; NULL on a limit (the
 * reason is in itr_last_error()). For persistent-load hooks. */
itr_pyobj *itr_py_new(itr_pyarena *a, itr_pykind k);
/* A new STR value holding a copy of s[0..len). */
itr_pyobj *itr_py_new_str(itr_pyarena *a, const char *s, size_t len);
/* Bytes from the arena (counted against its limit); freed with the arena. */
void *itr_pyarena_alloc(itr_pyarena *a, size_t n);
/* Bytes allocated so far in the arena. */
size_t itr_pyarena_bytes(const itr_pyarena *a);

/* ---------------------------------------------------------------- access */

const char *itr_py_kind_name(itr_pykind k);           /* "dict", "tensor", ... */
/* "int", "str", "OrderedDict", "argparse.Namespace", "numpy.ndarray", ... */
const char *itr_py_type_name(const itr_pyobj *o);

/* Text of STR or PY2STR (UTF-8), NULL for any other kind or o == NULL. */
const char *itr_py_str(const itr_pyobj *o);
/* 1 when o is STR / PY2STR / BYTES whose bytes equal the NUL-terminated s. */
int itr_py_str_eq(const itr_pyobj *o, const char *s);

/* Numbers: INT and BOOL (and integer numpy scalars) as int64; FLOAT, INT,
 * BOOL and numpy scalars as double. ITR_E_DTYPE for anything else. */
itr_status itr_py_int(const itr_pyobj *o, int64_t *v);
itr_status itr_py_float(const itr_pyobj *o, double *v);

/* Containers: element count of LIST/TUPLE/SET/DICT (0 otherwise) and the
 * i-th element / key / value (NULL when out of range or wrong kind). */
size_t     itr_py_len(const itr_pyobj *o);
itr_pyobj *itr_py_item(const itr_pyobj *o, size_t i);
itr_pyobj *itr_py_dict_key(const itr_pyobj *o, size_t i);
itr_pyobj *itr_py_dict_val(const itr_pyobj *o, size_t i);
/* Value of the dict entry whose key is the text `key` (str, py2str or
 * bytes), NULL when absent. */
itr_pyobj *itr_py_dict_get(const itr_pyobj *o, const char *key);
/* Attribute dict: OBJECT attrs or DICT attrs (BUILD state); NULL if none. */
itr_pyobj *itr_py_attrs(const itr_pyobj *o);
/* itr_py_dict_get(itr_py_attrs(o), name). */
itr_pyobj *itr_py_attr(const itr_pyobj *o, const char *name);
/* Dict-key equality of s1.7.1 (int, str == py2str by bytes, bytes, bool,
 * None, float, tuples of those; other kinds: identity). */
int itr_py_key_equal(const itr_pyobj *a, const itr_pyobj *b);

/* Materialises a TENSOR (through its storage, offset and strides; every
 * bound of s5 rule 5 checked first) or an NDARRAY into a fresh contiguous
 * tensor. want_float / want_int: dtype to convert floating / integer
 * (and bool) elements to (e.g. ITR_F32 / ITR_I64); pass the same dtype as
 * the source to keep it. -1 keeps the source dtype. */
itr_status itr_py_to_tensor(const itr_pyobj *o, int want_float, int want_int, itr_tensor *out);

/* Bounds for code that walks a value tree (s5 rule 4): nesting depth and
 * visited-node budget. Defaults: depth 64, 1e7 nodes. */
typedef struct itr_py_walk_limits {
    int max_depth;
    size_t max_nodes;
} itr_py_walk_limits;
void itr_py_walk_limits_default(itr_py_walk_limits *l);

/* Python-like repr of o into buf (NUL-terminated, truncated with "..." when
 * longer than n-1; depth-bounded, shared/cyclic references print "..."):
 * "{'image_w': 500, 'image_h': 375}". Returns buf. */
char *itr_py_repr(const itr_pyobj *o, char *buf, size_t n);

#ifdef __cplusplus
}
#endif
#endif
