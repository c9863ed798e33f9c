/* cmd_inspect.c - `itr inspect FILE [--json]`: what a checkpoint, joblib /
 * pickle file or .npy file holds, read with the safe readers of formats/
 * (nothing in the file is executed; specs formats.md s1, s2, s5).
 *
 * For every tensor / array it prints dtype, shape, stride, storage offset and
 * a checksum: FNV-1a 64 (offset basis 0xcbf29ce484222325, prime
 * 0x100000001b3) over the bytes of the tensor materialised C-contiguous in
 * its stored dtype, little-endian - so two files hold the same tensor exactly
 * when the checksums agree, whatever the strides or storage sharing. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "itr/checkpoint.h"
#include "itr/joblib.h"
#include "itr/npy.h"
#include "itr/pickle.h"

#define MAX_DEPTH 32          /* tree depth printed before "..." (s5 rule 4) */
#define MAX_NODES 200000      /* values printed in all before the output is cut */

typedef struct inspect {
    int json;
    size_t max_items;         /* children shown per container (0 = all) */
    size_t nodes;             /* values visited so far */
    const itr_pyobj *path[MAX_DEPTH + 1];   /* ancestors, for cycle detection */
} inspect;

static void help(FILE *f) {
    fprintf(f,
            "usage: itr inspect [options] FILE\n"
            "\n"
            "Shows what FILE holds without executing anything in it: PyTorch checkpoints\n"
            "(legacy and zip containers), joblib files and plain pickles (e.g. vocab.pkl),\n"
            "and .npy arrays. For a checkpoint: the container, epoch / Eiters / best_rsum,\n"
            "every opt field with its type, and the object tree. Every tensor and array\n"
            "is listed with dtype, shape, stride, storage offset and an FNV-1a 64 checksum\n"
            "of its bytes (C-contiguous, stored dtype, little-endian).\n"
            "\n"
            "options:\n"
            "  --json        the same as one JSON object on stdout\n"
            "  --all         list every child of large containers (default: the first 50)\n"
            "  -h, --help    this text\n"
            "\n"
            "exit status: 0 ok, 2 usage, 3 bad or unsafe input, 4 unsupported, 5 internal\n");
}

/* ---------------------------------------------------------------- checksum */

static uint64_t fnv1a64(const uint8_t *p, size_t n) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* Checksum of a TENSOR / NDARRAY; 0 with *ok = 0 when it cannot be read. */
static uint64_t value_checksum(const itr_pyobj *o, int *ok) {
    itr_tensor t;
    *ok = itr_py_to_tensor(o, -1, -1, &t) == ITR_OK;
    if (!*ok) return 0;
    uint64_t h = fnv1a64(t.data, itr_tensor_nbytes(&t));
    itr_tensor_free(&t);
    return h;
}

/* ---------------------------------------------------------------- text */

/* Shortest "%.Ng" that reads back as the same double. */
static const char *fmt_double(char *buf, size_t n, double d) {
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, d);
        if (strtod(buf, NULL) == d) break;
    }
    if (strspn(buf, "-0123456789") == strlen(buf) && strlen(buf) + 3 <= n) strcat(buf, ".0");   /* 9 -> 9.0 */
    return buf;
}

static void indent(int depth) {
    for (int i = 0; i < depth; i++) fputs("  ", stdout);
}

static void print_dims(const char *label, int ndim, const int64_t *d) {
    char buf[160];
    printf(" %s%s", label, itr_shape_str(ndim, d, buf, sizeof buf));
}

static void print_leaf(const itr_pyobj *o) {
    char buf[256];
    int ok = 0;
    switch (o->kind) {
    case ITR_PY_TENSOR: {
        const itr_pytensor *t = &o->u.tensor;
        const itr_pystorage *s = &t->storage->u.storage;
        printf("%s %s", t->is_parameter ? "Parameter" : "tensor", itr_dtype_name(s->dtype));
        print_dims("", t->ndim, t->shape);
        print_dims("stride ", t->ndim, t->stride);
        printf(" offset %lld storage '%s' (%s, %lld elements)", (long long)t->storage_offset, s->key,
               s->type_name, (long long)s->numel);
        uint64_t h = value_checksum(o, &ok);
        if (ok) printf(" fnv1a64 %016llx", (unsigned long long)h);
        else printf(" (unreadable: %s)", itr_last_error());
        break;
    }
    case ITR_PY_NDARRAY: {
        const itr_pyndarray *nd = &o->u.ndarray;
        printf("ndarray %s", nd->dtype.descr);
        print_dims("", nd->ndim, nd->shape);
        if (nd->fortran_order) printf(" (stored Fortran order)");
        if (nd->dtype.kind != 'O') {
            uint64_t h = value_checksum(o, &ok);
            if (ok) printf(" fnv1a64 %016llx", (unsigned long long)h);
        }
        break;
    }
    case ITR_PY_SCALAR:
        printf("numpy scalar %s %s", o->u.scalar.dtype.descr, itr_py_repr(o, buf, sizeof buf));
        break;
    default:
        printf("%s %s", itr_py_type_name(o), itr_py_repr(o, buf, sizeof buf));
    }
}

static int is_container(const itr_pyobj *o) {
    return o->kind == ITR_PY_LIST || o->kind == ITR_PY_TUPLE || o->kind == ITR_PY_SET ||
           o->kind == ITR_PY_DICT || o->kind == ITR_PY_OBJECT ||
           (o->kind == ITR_PY_NDARRAY && o->u.ndarray.dtype.kind == 'O');
}

static void print_value(inspect *in, const itr_pyobj *o, int depth);

static void print_child(inspect *in, const char *label, const itr_pyobj *v, int depth) {
    indent(depth);
    printf("%s: ", label);
    print_value(in, v, depth);
}

static void print_value(inspect *in, const itr_pyobj *o, int depth) {
    char key[160];
    if (++in->nodes > MAX_NODES) {
        if (in->nodes == MAX_NODES + 1) printf("... (output cut after %d values)\n", MAX_NODES);
        return;
    }
    if (!is_container(o)) {
        print_leaf(o);
        printf("\n");
        return;
    }
    for (int d = 0; d < depth; d++)
        if (in->path[d] == o) {
            printf("<cycle: the container %d level(s) up>\n", depth - d);
            return;
        }
    if (depth >= MAX_DEPTH) {
        printf("%s ... (deeper than %d levels)\n", itr_py_type_name(o), MAX_DEPTH);
        return;
    }
    in->path[depth] = o;
    const itr_pyobj *items = o->kind == ITR_PY_OBJECT ? o->u.object.attrs
                             : o->kind == ITR_PY_NDARRAY ? o->u.ndarray.objects : o;
    size_t n = itr_py_len(items), shown = in->max_items && n > in->max_items ? in->max_items : n;
    if (o->kind == ITR_PY_NDARRAY) {
        print_leaf(o);
        printf(" (%zu objects)\n", n);
    } else {
        printf("%s (%zu %s)%s\n", itr_py_type_name(o), n, items->kind == ITR_PY_DICT ? "keys" : "items",
               itr_py_attr(o, "_metadata") && o->kind == ITR_PY_DICT ? " with _metadata" : "");
    }
    for (size_t i = 0; i < shown; i++) {
        if (items->kind == ITR_PY_DICT) {
            itr_py_repr(itr_py_dict_key(items, i), key, sizeof key);
            print_child(in, key, itr_py_dict_val(items, i), depth + 1);
        } else {
            snprintf(key, sizeof key, "[%zu]", i);
            print_child(in, key, itr_py_item(items, i), depth + 1);
        }
    }
    if (shown < n) {
        indent(depth + 1);
        printf("... %zu more (--all lists them)\n", n - shown);
    }
}

/* ---------------------------------------------------------------- JSON */

static json_t *dims_json(int ndim, const int64_t *d) {
    json_t *a = json_array();
    for (int i = 0; i < ndim; i++) json_array_append_new(a, json_integer(d[i]));
    return a;
}

static json_t *checksum_json(const itr_pyobj *o) {
    char hex[24];
    int ok = 0;
    uint64_t h = value_checksum(o, &ok);
    if (!ok) return json_null();
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)h);
    return json_string(hex);
}

static json_t *value_json(inspect *in, const itr_pyobj *o, int depth);

static json_t *children_json(inspect *in, const itr_pyobj *items, int depth) {
    char key[160];
    size_t n = itr_py_len(items), shown = in->max_items && n > in->max_items ? in->max_items : n;
    json_t *j;
    if (items->kind == ITR_PY_DICT) {
        j = json_object();
        for (size_t i = 0; i < shown; i++) {
            const itr_pyobj *k = itr_py_dict_key(items, i);
            const char *ks = itr_py_str(k);
            if (!ks) ks = itr_py_repr(k, key, sizeof key);
            json_object_set_new(j, ks, value_json(in, itr_py_dict_val(items, i), depth + 1));
        }
    } else {
        j = json_array();
        for (size_t i = 0; i < shown; i++) json_array_append_new(j, value_json(in, itr_py_item(items, i), depth + 1));
    }
    return j;
}

static json_t *value_json(inspect *in, const itr_pyobj *o, int depth) {
    char buf[256];
    if (++in->nodes > MAX_NODES || depth >= MAX_DEPTH) return json_string("...");
    for (int d = 0; d < depth; d++)
        if (in->path[d] == o) return json_string("<cycle>");
    in->path[depth] = o;
    switch (o->kind) {
    case ITR_PY_NONE: return json_null();
    case ITR_PY_BOOL: return json_boolean(o->u.i);
    case ITR_PY_INT: return json_integer(o->u.i);
    case ITR_PY_FLOAT: return isfinite(o->u.f) ? json_real(o->u.f) : json_string(itr_py_repr(o, buf, sizeof buf));
    case ITR_PY_STR: case ITR_PY_PY2STR: return json_string(itr_py_str(o));
    case ITR_PY_LIST: case ITR_PY_TUPLE: case ITR_PY_SET: case ITR_PY_DICT:
        if (o->kind == ITR_PY_DICT && o->u.dict.ordered) {
            json_t *j = json_pack("{s:s}", "type", "OrderedDict");
            json_object_set_new(j, "items", children_json(in, o, depth));
            const itr_pyobj *meta = itr_py_attr(o, "_metadata");
            if (meta) json_object_set_new(j, "_metadata", value_json(in, meta, depth + 1));
            return j;
        }
        return children_json(in, o, depth);
    case ITR_PY_OBJECT: {
        json_t *j = json_pack("{s:s}", "type", o->u.object.class_name);
        json_object_set_new(j, "attrs", children_json(in, o->u.object.attrs, depth));
        return j;
    }
    case ITR_PY_TENSOR: {
        const itr_pytensor *t = &o->u.tensor;
        const itr_pystorage *s = &t->storage->u.storage;
        json_t *j = json_pack("{s:s,s:s,s:b,s:I,s:s,s:s}", "type", "tensor", "dtype", itr_dtype_name(s->dtype),
                              "is_parameter", t->is_parameter, "storage_offset", (json_int_t)t->storage_offset,
                              "storage_key", s->key, "storage_type", s->type_name);
        json_object_set_new(j, "shape", dims_json(t->ndim, t->shape));
        json_object_set_new(j, "stride", dims_json(t->ndim, t->stride));
        json_object_set_new(j, "fnv1a64", checksum_json(o));
        return j;
    }
    case ITR_PY_NDARRAY: {
        const itr_pyndarray *nd = &o->u.ndarray;
        json_t *j = json_pack("{s:s,s:s,s:b}", "type", "ndarray", "dtype", nd->dtype.descr, "fortran_order",
                              nd->fortran_order);
        json_object_set_new(j, "shape", dims_json(nd->ndim, nd->shape));
        if (nd->dtype.kind == 'O') json_object_set_new(j, "objects", children_json(in, nd->objects, depth));
        else json_object_set_new(j, "fnv1a64", checksum_json(o));
        return j;
    }
    case ITR_PY_SCALAR: {
        json_t *j = json_pack("{s:s,s:s}", "type", "numpy_scalar", "dtype", o->u.scalar.dtype.descr);
        json_object_set_new(j, "value", o->u.scalar.dtype.kind == 'f' ? json_real(o->u.scalar.f)
                                                                      : json_integer(o->u.scalar.i));
        return j;
    }
    default:
        return json_pack("{s:s,s:s}", "type", itr_py_type_name(o), "repr", itr_py_repr(o, buf, sizeof buf));
    }
}

/* ---------------------------------------------------------------- file kinds */

static const char *cfg_type_name(itr_cfg_type t) {
    switch (t) {
    case ITR_CFG_NONE: return "None";
    case ITR_CFG_BOOL: return "bool";
    case ITR_CFG_INT: return "int";
    case ITR_CFG_FLOAT: return "float";
    case ITR_CFG_STR: return "str";
    case ITR_CFG_LIST: return "list (JSON)";
    }
    return "?";
}

static int inspect_checkpoint(inspect *in, const char *path) {
    itr_checkpoint *c = NULL;
    itr_status st = itr_checkpoint_load(path, &c);
    if (st) {
        fprintf(stderr, "itr inspect: %s\n", itr_last_error());
        return itr_status_exit_code(st);
    }
    const char *cont = c->container == ITR_CONTAINER_ZIP ? "zip (torch >= 1.6)" : "legacy (torch < 1.6)";
    if (in->json) {
        json_t *j = json_pack("{s:s,s:s,s:s}", "file", path, "kind", "checkpoint", "container",
                              c->container == ITR_CONTAINER_ZIP ? "zip" : "legacy");
        if (c->epoch >= 0) json_object_set_new(j, "epoch", json_integer(c->epoch));
        if (c->eiters >= 0) json_object_set_new(j, "Eiters", json_integer(c->eiters));
        if (!isnan(c->best_rsum)) json_object_set_new(j, "best_rsum", json_real(c->best_rsum));
        if (!isnan(c->best_loss)) json_object_set_new(j, "best_loss", json_real(c->best_loss));
        json_t *groups = json_object();
        for (size_t i = 0; i < c->n_tensors; i++) {
            const itr_ckpt_tensor_info *ti = &c->tensors[i];
            json_t *g = json_object_get(groups, ti->group);
            if (!g) {
                g = json_array();
                json_object_set_new(groups, ti->group, g);
            }
            json_array_append_new(g, json_string(ti->key));
        }
        json_object_set_new(j, "weight_groups", groups);
        json_object_set_new(j, "tree", value_json(in, c->root, 0));
        json_dumpf(j, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
        printf("\n");
        json_decref(j);
    } else {
        printf("file: %s\ncontainer: %s\n", path, cont);
        if (c->epoch >= 0) printf("epoch: %lld\n", (long long)c->epoch);
        if (c->eiters >= 0) printf("Eiters: %lld\n", (long long)c->eiters);
        char num[40];
        if (!isnan(c->best_rsum)) printf("best_rsum: %s\n", fmt_double(num, sizeof num, c->best_rsum));
        if (!isnan(c->best_loss)) printf("best_loss: %s\n", fmt_double(num, sizeof num, c->best_loss));
        if (c->has_opt) {
            printf("opt (%zu fields):\n", c->opt.n);
            for (size_t i = 0; i < c->opt.n; i++) {
                const itr_cfg_entry *e = &c->opt.entries[i];
                printf("  %-28s %-12s ", e->name, cfg_type_name(e->type));
                switch (e->type) {
                case ITR_CFG_NONE: printf("None\n"); break;
                case ITR_CFG_BOOL: printf("%s\n", e->i ? "True" : "False"); break;
                case ITR_CFG_INT: printf("%lld\n", (long long)e->i); break;
                case ITR_CFG_FLOAT: printf("%s\n", fmt_double(num, sizeof num, e->d)); break;
                default: printf("%s\n", e->s); break;
                }
            }
        }
        printf("weights: %zu tensors in %zu group(s)", c->n_tensors, itr_weights_group_count(&c->weights));
        for (size_t i = 0; i < itr_weights_group_count(&c->weights); i++)
            printf("%s'%s'", i ? ", " : " ", itr_weights_group_name(&c->weights, i));
        printf("\ntree: ");
        print_value(in, c->root, 0);
    }
    itr_checkpoint_free(c);
    return 0;
}

static int inspect_pickle(inspect *in, const char *path) {
    itr_pyobj *o = NULL;
    itr_status st = itr_joblib_load(path, NULL, &o);   /* plain pickles are joblib files without arrays */
    if (st) {
        fprintf(stderr, "itr inspect: %s\n", itr_last_error());
        return itr_status_exit_code(st);
    }
    if (in->json) {
        json_t *j = json_pack("{s:s,s:s}", "file", path, "kind", "pickle");
        json_object_set_new(j, "tree", value_json(in, o, 0));
        json_dumpf(j, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
        printf("\n");
        json_decref(j);
    } else {
        printf("file: %s\nkind: pickle / joblib\ntree: ", path);
        print_value(in, o, 0);
    }
    itr_pyobj_free(o);
    return 0;
}

static int inspect_npy(inspect *in, const char *path) {
    itr_npy_opts opts;
    itr_npy_opts_default(&opts);
    opts.allow_pickle = 1;                          /* the safe reader executes nothing */
    itr_npy_file *f = NULL;
    itr_status st = itr_npy_open(path, &opts, &f);
    if (st == ITR_OK) {
        const itr_npy_header *h = itr_npy_header_of(f);
        int64_t shape[ITR_MAX_DIMS];
        int nd = itr_npy_tensor_shape(h, shape);
        char shp[160];
        itr_shape_str(h->ndim, h->shape, shp, sizeof shp);
        /* checksum when the data is small enough to read at once (1 GiB) */
        itr_tensor t;
        int have = h->data_bytes <= ((uint64_t)1 << 30) && itr_npy_load(path, &opts, -1, &t) == ITR_OK;
        uint64_t sum = have ? fnv1a64(t.data, itr_tensor_nbytes(&t)) : 0;
        if (in->json) {
            json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:b,s:I}", "file", path, "kind", "npy", "descr", h->descr,
                                  "dtype", itr_dtype_name(h->dtype), "fortran_order", h->fortran_order,
                                  "data_offset", (json_int_t)h->data_offset);
            json_object_set_new(j, "version", json_pack("[i,i]", h->major, h->minor));
            json_object_set_new(j, "shape", dims_json(nd, shape));
            if (have) {
                char hex[24];
                snprintf(hex, sizeof hex, "%016llx", (unsigned long long)sum);
                json_object_set_new(j, "fnv1a64", json_string(hex));
            }
            json_dumpf(j, stdout, JSON_INDENT(2));
            printf("\n");
            json_decref(j);
        } else {
            printf("file: %s\nkind: npy %d.%d\ndescr: %s -> %s\nshape: %s%s\ndata offset: %llu\n", path, h->major,
                   h->minor, h->descr, itr_dtype_name(h->dtype), shp, h->fortran_order ? " (Fortran order)" : "",
                   (unsigned long long)h->data_offset);
            if (have) printf("fnv1a64: %016llx\n", (unsigned long long)sum);
        }
        if (have) itr_tensor_free(&t);
        itr_npy_close(f);
        return 0;
    }
    /* object arrays go through the pickle reader */
    itr_pyobj *o = NULL;
    itr_status st2 = itr_npy_load_object(path, &opts, &o);
    if (st2) {
        fprintf(stderr, "itr inspect: %s\n", itr_last_error());
        return itr_status_exit_code(st2);
    }
    if (in->json) {
        json_t *j = json_pack("{s:s,s:s}", "file", path, "kind", "npy");
        json_object_set_new(j, "tree", value_json(in, o, 0));
        json_dumpf(j, stdout, JSON_INDENT(2));
        printf("\n");
        json_decref(j);
    } else {
        printf("file: %s\nkind: npy (object array)\ntree: ", path);
        print_value(in, o, 0);
    }
    itr_pyobj_free(o);
    return 0;
}

int itr_cmd_inspect(int argc, char **argv) {
    inspect in;
    const char *file = NULL;
    memset(&in, 0, sizeof in);
    in.max_items = 50;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            help(stdout);
            return 0;
        } else if (strcmp(argv[i], "--json") == 0) {
            in.json = 1;
        } else if (strcmp(argv[i], "--all") == 0) {
            in.max_items = 0;
        } else if (argv[i][0] == '-' || file) {
            fprintf(stderr, "itr inspect: unexpected argument '%s'\n", argv[i]);
            help(stderr);
            return 2;
        } else {
            file = argv[i];
        }
    }
    if (!file) {
        help(stderr);
        return 2;
    }
    uint8_t head[512];
    FILE *f = fopen(file, "rb");
    if (!f) {
        fprintf(stderr, "itr inspect: %s: cannot open\n", file);
        return itr_status_exit_code(ITR_E_IO);
    }
    size_t n = fread(head, 1, sizeof head, f);
    fclose(f);
    itr_container kind = ITR_CONTAINER_LEGACY;
    if (n >= 6 && memcmp(head, "\x93NUMPY", 6) == 0) return inspect_npy(&in, file);
    if (itr_checkpoint_detect(head, n, file, &kind) == ITR_OK || (n >= 262 && memcmp(head + 257, "ustar", 5) == 0))
        return inspect_checkpoint(&in, file);
    return inspect_pickle(&in, file);
}
