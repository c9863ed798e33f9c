/* test_pickle.c - the pickle VM on hand-made pickles: every opcode family,
 * the whitelist, the reconstructed types and the error paths (specs
 * formats.md s1.7, s1.8, s5). Each pickle is written out opcode by opcode;
 * a literal is split ("\x02" "ab") wherever a hex escape meets a hex digit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "itr/pickle.h"

/* Literal bytes and their length (without the terminating NUL). */
#define PK(s) (const uint8_t *)(s), sizeof(s) - 1

static itr_pyobj *load_ok(const uint8_t *b, size_t n) {
    itr_pyobj *o = NULL;
    size_t used = 0;
    itr_status st = itr_pickle_load(b, n, NULL, &o, &used);
    if (st) fprintf(stderr, "unexpected failure: %s\n", itr_last_error());
    assert_int_equal(st, ITR_OK);
    assert_int_equal(used, n);
    return o;
}

static void expect_fail(const uint8_t *b, size_t n, const itr_pickle_opts *o, itr_status want, const char *needle) {
    itr_pyobj *r = NULL;
    itr_status st = itr_pickle_load(b, n, o, &r, NULL);
    if (st != want || !strstr(itr_last_error(), needle))
        fprintf(stderr, "want %s '%s', got %s: %s\n", itr_status_name(want), needle, itr_status_name(st),
                itr_last_error());
    assert_int_equal(st, want);
    assert_non_null(strstr(itr_last_error(), needle));
    assert_null(r);
}

static void test_numbers(void **state) {
    (void)state;
    struct { const uint8_t *b; size_t n; int64_t v; } ints[] = {
        {PK("\x80\x02K\x05."), 5},
        {PK("J\xff\xff\xff\xff."), -1},
        {PK("M\x01\x02."), 513},
        {PK("\x8a\x01\xff."), -1},
        {PK("\x8a\x00."), 0},
        {PK("\x8a\x02\xff\x00."), 255},
        {PK("\x8a\x09\x01\x00\x00\x00\x00\x00\x00\x00\x00."), 1},      /* redundant sign bytes */
        {PK("\x8b\x02\x00\x00\x00\x00\x80."), -32768},
        {PK("I1099511627776\n."), 1099511627776LL},                      /* Py2 text INT */
        {PK("I-7\n."), -7},
        {PK("L-5L\n."), -5},
    };
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        itr_pyobj *o = load_ok(ints[i].b, ints[i].n);
        int64_t v;
        assert_int_equal(o->kind, ITR_PY_INT);
        assert_int_equal(itr_py_int(o, &v), ITR_OK);
        assert_int_equal(v, ints[i].v);
        itr_pyobj_free(o);
    }
    itr_pyobj *o = load_ok(PK("\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19."));   /* torch magic */
    assert_int_equal(o->kind, ITR_PY_BIGINT);
    assert_int_equal(o->u.bytes.len, 10);
    assert_int_equal(o->u.bytes.data[9], 0x19);
    itr_pyobj_free(o);
    double d;
    o = load_ok(PK("G?\xf8\x00\x00\x00\x00\x00\x00."));            /* BINFLOAT big-endian 1.5 */
    assert_int_equal(itr_py_float(o, &d), ITR_OK);
    assert_true(d == 1.5);
    itr_pyobj_free(o);
    o = load_ok(PK("F-2.5e-1\n."));
    assert_int_equal(itr_py_float(o, &d), ITR_OK);
    assert_true(d == -0.25);
    itr_pyobj_free(o);
    o = load_ok(PK("I01\n."));
    assert_int_equal(o->kind, ITR_PY_BOOL);
    assert_int_equal(o->u.i, 1);
    itr_pyobj_free(o);
    o = load_ok(PK("\x89."));
    assert_int_equal(itr_py_float(o, &d), ITR_OK);     /* bool -> number */
    assert_true(d == 0.0);
    itr_pyobj_free(o);
    o = load_ok(PK("N."));
    assert_int_equal(o->kind, ITR_PY_NONE);
    assert_int_equal(itr_py_int(o, (int64_t *)&d), ITR_E_DTYPE);
    assert_int_equal(itr_py_float(o, &d), ITR_E_DTYPE);
    itr_pyobj_free(o);
}

static void test_strings(void **state) {
    (void)state;
    itr_pyobj *o = load_ok(PK("S'a\\n\\x41\\101\\'\\q'\n."));       /* STRING with escapes */
    assert_int_equal(o->kind, ITR_PY_PY2STR);
    assert_string_equal(itr_py_str(o), "a\nAA'\\q");
    itr_pyobj_free(o);
    o = load_ok(PK("T\x02\x00\x00\x00" "ab."));
    assert_true(itr_py_str_eq(o, "ab"));
    itr_pyobj_free(o);
    /* a Py2 str that is not UTF-8: its text view is the Latin-1 decoding */
    o = load_ok(PK("U\x04" "caf\xe9."));
    assert_int_equal(o->kind, ITR_PY_PY2STR);
    assert_int_equal(o->u.bytes.len, 4);
    assert_string_equal(itr_py_str(o), "caf\xc3\xa9");
    itr_pyobj_free(o);
    itr_pickle_opts opts;
    itr_pickle_opts_default(&opts);
    opts.py2str = ITR_PY2STR_LATIN1;
    assert_int_equal(itr_pickle_load(PK("U\x04" "caf\xe9."), &opts, &o, NULL), ITR_OK);
    assert_int_equal(o->kind, ITR_PY_STR);
    assert_string_equal(itr_py_str(o), "caf\xc3\xa9");
    itr_pyobj_free(o);
    opts.py2str = ITR_PY2STR_BYTES;
    assert_int_equal(itr_pickle_load(PK("U\x02hi."), &opts, &o, NULL), ITR_OK);
    assert_int_equal(o->kind, ITR_PY_BYTES);
    assert_null(itr_py_str(o));
    assert_true(itr_py_str_eq(o, "hi"));
    itr_pyobj_free(o);
    o = load_ok(PK("X\x05\x00\x00\x00" "caf\xc3\xa9."));
    assert_string_equal(itr_py_str(o), "caf\xc3\xa9");
    itr_pyobj_free(o);
    o = load_ok(PK("Vcaf\\u00e9\\U0001F600\xe9\n."));                /* raw-unicode-escape */
    assert_string_equal(itr_py_str(o), "caf\xc3\xa9\xf0\x9f\x98\x80\xc3\xa9");
    itr_pyobj_free(o);
    o = load_ok(PK("\x8c\x03" "abc."));
    assert_string_equal(itr_py_str(o), "abc");
    itr_pyobj_free(o);
    o = load_ok(PK("\x8d\x01\x00\x00\x00\x00\x00\x00\x00z."));
    assert_string_equal(itr_py_str(o), "z");
    itr_pyobj_free(o);
    const struct { const uint8_t *b; size_t n; } bytes[] = {
        {PK("B\x01\x00\x00\x00z.")}, {PK("C\x01z.")}, {PK("\x8e\x01\x00\x00\x00\x00\x00\x00\x00z.")},
        {PK("\x96\x01\x00\x00\x00\x00\x00\x00\x00z.")},
    };
    for (size_t i = 0; i < 4; i++) {
        o = load_ok(bytes[i].b, bytes[i].n);
        assert_int_equal(o->kind, ITR_PY_BYTES);
        assert_int_equal(o->u.bytes.data[o->u.bytes.len - 1], 'z');
        itr_pyobj_free(o);
    }
}

static void test_containers(void **state) {
    (void)state;
    /* [1, 2, 3] via EMPTY_LIST APPEND + MARK APPENDS */
    itr_pyobj *o = load_ok(PK("\x80\x02]K\x01" "a(K\x02K\x03" "e."));
    assert_int_equal(o->kind, ITR_PY_LIST);
    assert_int_equal(itr_py_len(o), 3);
    assert_int_equal(itr_py_item(o, 2)->u.i, 3);
    assert_null(itr_py_item(o, 3));
    itr_pyobj_free(o);
    o = load_ok(PK("(K\x01K\x02l."));
    assert_int_equal(o->kind, ITR_PY_LIST);
    assert_int_equal(itr_py_len(o), 2);
    itr_pyobj_free(o);
    o = load_ok(PK("(K\x01K\x02K\x03t."));
    assert_int_equal(o->kind, ITR_PY_TUPLE);
    assert_int_equal(itr_py_len(o), 3);
    itr_pyobj_free(o);
    o = load_ok(PK("K\x01K\x02K\x03\x87K\x04\x85\x86)\x86."));   /* ((1,2,3),(4,)) then ((..), ()) */
    assert_int_equal(itr_py_len(o), 2);
    assert_int_equal(itr_py_len(itr_py_item(o, 0)), 2);
    assert_int_equal(itr_py_len(itr_py_item(o, 1)), 0);
    itr_pyobj_free(o);
    /* {'a': 1, 'b': 2, 'a': 3}: a repeated key keeps its place, takes the new value */
    o = load_ok(PK("}(X\x01\x00\x00\x00" "aK\x01X\x01\x00\x00\x00" "bK\x02u" "X\x01\x00\x00\x00" "aK\x03s."));
    assert_int_equal(o->kind, ITR_PY_DICT);
    assert_int_equal(itr_py_len(o), 2);
    assert_true(itr_py_str_eq(itr_py_dict_key(o, 0), "a"));
    assert_int_equal(itr_py_dict_get(o, "a")->u.i, 3);
    assert_int_equal(itr_py_dict_val(o, 1)->u.i, 2);
    assert_null(itr_py_dict_get(o, "zz"));
    assert_null(itr_py_dict_key(o, 5));
    assert_null(itr_py_attrs(o));
    itr_pyobj_free(o);
    /* DICT opcode, int and tuple keys, and a py2str key equal to a str key */
    o = load_ok(PK("(K\x07U\x01xK\x01K\x02\x86U\x01yU\x01kK\x09" "d."));
    assert_int_equal(itr_py_len(o), 3);
    assert_true(itr_py_str_eq(itr_py_dict_get(o, "k"), "") == 0);
    assert_int_equal(itr_py_dict_get(o, "k")->u.i, 9);
    itr_pyobj_free(o);
    /* a big dict exercises the hash index growth */
    uint8_t big[1 + 1 + 2000 * 5 + 2];
    size_t n = 0;
    big[n++] = '}';
    big[n++] = '(';
    for (int i = 0; i < 2000; i++) {
        big[n++] = 'M';
        big[n++] = (uint8_t)(i & 0xff);
        big[n++] = (uint8_t)(i >> 8);
        big[n++] = 'K';
        big[n++] = (uint8_t)(i % 7);
    }
    big[n++] = 'u';
    big[n++] = '.';
    o = load_ok(big, n);
    assert_int_equal(itr_py_len(o), 2000);
    itr_pyobj_free(o);
    /* sets */
    o = load_ok(PK("\x8f(K\x01K\x02\x90."));
    assert_int_equal(o->kind, ITR_PY_SET);
    assert_int_equal(itr_py_len(o), 2);
    itr_pyobj_free(o);
    o = load_ok(PK("(K\x01\x91."));
    assert_int_equal(o->kind, ITR_PY_SET);
    itr_pyobj_free(o);
    /* POP, POP_MARK, DUP */
    o = load_ok(PK("K\x01K\x02" "0(K\x03K\x04" "1" "2\x86."));
    assert_int_equal(itr_py_len(o), 2);
    assert_ptr_equal(itr_py_item(o, 0), itr_py_item(o, 1));
    itr_pyobj_free(o);
    o = load_ok(PK("K\x01(0."));                       /* POP of an empty mark pops the mark */
    assert_int_equal(o->u.i, 1);
    itr_pyobj_free(o);
}

static void test_memo(void **state) {
    (void)state;
    /* BINPUT / BINGET, LONG_BINPUT / LONG_BINGET, PUT / GET, MEMOIZE: same node */
    itr_pyobj *o = load_ok(PK("(]q\x05h\x05r\x00\x01\x00\x00j\x00\x01\x00\x00p77\ng77\n\x94h\x03" "2t."));
    assert_int_equal(itr_py_len(o), 6);
    for (size_t i = 1; i < 6; i++) assert_ptr_equal(itr_py_item(o, 0), itr_py_item(o, i));
    itr_pyobj_free(o);
    /* a list that contains itself (cycle) is representable; repr stays bounded */
    o = load_ok(PK("]q\x00h\x00" "a."));
    assert_ptr_equal(itr_py_item(o, 0), o);
    char buf[64];
    itr_py_repr(o, buf, sizeof buf);
    assert_true(strlen(buf) < sizeof buf);
    assert_non_null(strstr(buf, "..."));
    itr_pyobj_free(o);
    /* many memo entries force the memo table to grow */
    uint8_t b[1 + 300 * 6 + 1];
    size_t n = 0;
    b[n++] = 'N';
    for (uint32_t i = 0; i < 300; i++) {
        b[n++] = 'r';
        b[n++] = (uint8_t)(i * 7);
        b[n++] = (uint8_t)(i >> 1);
        b[n++] = 0;
        b[n++] = 0;
        b[n++] = 'N';                  /* another None for the next PUT */
    }
    b[n - 1] = '.';
    o = load_ok(b, n);
    assert_int_equal(o->kind, ITR_PY_NONE);
    itr_pyobj_free(o);
}

static void test_objects(void **state) {
    (void)state;
    /* argparse.Namespace: GLOBAL, EMPTY_TUPLE, NEWOBJ, dict, BUILD */
    itr_pyobj *o = load_ok(PK("\x80\x02" "cargparse\nNamespace\n)\x81}X\x01\x00\x00\x00" "aK\x01sb."));
    assert_int_equal(o->kind, ITR_PY_OBJECT);
    assert_string_equal(itr_py_type_name(o), "argparse.Namespace");
    assert_int_equal(itr_py_attr(o, "a")->u.i, 1);
    itr_pyobj_free(o);
    /* a (dict_state, slot_state) BUILD, NEWOBJ_EX with kwargs */
    o = load_ok(PK("cvocab\nVocabulary\n)}X\x01\x00\x00\x00" "aK\x02s\x92}X\x01\x00\x00\x00" "bK\x03sN\x86" "b."));
    assert_string_equal(itr_py_type_name(o), "Vocabulary");
    assert_int_equal(itr_py_attr(o, "a")->u.i, 2);
    assert_int_equal(itr_py_attr(o, "b")->u.i, 3);
    itr_pyobj_free(o);
    /* OBJ and INST opcodes */
    o = load_ok(PK("(c__main__\nVocabulary\no."));
    assert_int_equal(o->kind, ITR_PY_OBJECT);
    itr_pyobj_free(o);
    o = load_ok(PK("(iargparse\nNamespace\n."));
    assert_int_equal(o->kind, ITR_PY_OBJECT);
    itr_pyobj_free(o);
    /* copyreg._reconstructor(argparse.Namespace, object, None) */
    o = load_ok(PK("ccopy_reg\n_reconstructor\n(cargparse\nNamespace\nc__builtin__\nobject\nNtR."));
    assert_string_equal(itr_py_type_name(o), "argparse.Namespace");
    itr_pyobj_free(o);
    /* OrderedDict: Py3 (empty + SETITEMS + _metadata BUILD) and Py2 (list of pairs) */
    o = load_ok(PK("ccollections\nOrderedDict\n)R(X\x01\x00\x00\x00" "kK\x01u}X\x09\x00\x00\x00_metadata}sb."));
    assert_string_equal(itr_py_type_name(o), "OrderedDict");
    assert_int_equal(itr_py_len(o), 1);
    assert_non_null(itr_py_attr(o, "_metadata"));
    itr_pyobj_free(o);
    o = load_ok(PK("ccollections\nOrderedDict\n](](U\x01kK\x01" "ee\x85R."));
    assert_int_equal(itr_py_dict_get(o, "k")->u.i, 1);
    itr_pyobj_free(o);
    /* torch.Size, torch.device, _codecs.encode, bytes, bytearray, set, frozenset */
    o = load_ok(PK("ctorch\nSize\nK\x02K\x03\x86\x85R."));
    assert_int_equal(o->kind, ITR_PY_TUPLE);
    itr_pyobj_free(o);
    o = load_ok(PK("ctorch\ndevice\nX\x04\x00\x00\x00" "cudaK\x00\x86R."));
    assert_string_equal(itr_py_str(o), "cuda:0");
    itr_pyobj_free(o);
    o = load_ok(PK("c_codecs\nencode\nX\x02\x00\x00\x00\xc3\xa9X\x06\x00\x00\x00latin1\x86R."));
    assert_int_equal(o->kind, ITR_PY_BYTES);
    assert_int_equal(o->u.bytes.len, 1);
    assert_int_equal(o->u.bytes.data[0], 0xe9);
    itr_pyobj_free(o);
    o = load_ok(PK("c__builtin__\nbytes\n)R."));
    assert_int_equal(o->u.bytes.len, 0);
    itr_pyobj_free(o);
    o = load_ok(PK("cbuiltins\nbytearray\n(K\x01K\x02l\x85R."));
    assert_int_equal(o->u.bytes.len, 2);
    itr_pyobj_free(o);
    o = load_ok(PK("cbuiltins\nbytes\nC\x01z\x85R."));
    assert_true(itr_py_str_eq(o, "z"));
    itr_pyobj_free(o);
    o = load_ok(PK("cbuiltins\nset\n(K\x01K\x02l\x85R."));
    assert_int_equal(o->kind, ITR_PY_SET);
    itr_pyobj_free(o);
    o = load_ok(PK("cbuiltins\nfrozenset\n)\x81."));
    assert_int_equal(o->kind, ITR_PY_SET);
    itr_pyobj_free(o);
    /* torch dtypes and storage types are values only */
    o = load_ok(PK("ctorch\nfloat16\nctorch.cuda\nFloatStorage\n\x86."));
    assert_int_equal(itr_py_item(o, 0)->u.global.id, ITR_G_TORCH_DTYPE);
    assert_int_equal(itr_py_item(o, 1)->u.global.dtype, ITR_F32);
    char buf[128];
    assert_string_equal(itr_py_repr(itr_py_item(o, 1), buf, sizeof buf), "<global torch.FloatStorage>");
    itr_pyobj_free(o);
}

static void test_numpy(void **state) {
    (void)state;
    /* numpy.float64(500.1): dtype('f8') + BUILD + _codecs.encode payload (Py3 protocol 2) */
    itr_pyobj *o = load_ok(PK("cnumpy.core.multiarray\nscalar\ncnumpy\ndtype\nX\x02\x00\x00\x00" "f8\x89\x88\x87R"
                              "(K\x03X\x01\x00\x00\x00<NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb"
                              "c_codecs\nencode\nX\x0d\x00\x00\x00\xc2\x9a\xc2\x99\xc2\x99\xc2\x99\xc2\x99" "A\x7f@"
                              "X\x06\x00\x00\x00latin1\x86R\x86R."));
    assert_int_equal(o->kind, ITR_PY_SCALAR);
    assert_string_equal(o->u.scalar.dtype.descr, "<f8");
    assert_true(o->u.scalar.f == 500.1);
    assert_string_equal(itr_py_type_name(o), "numpy_scalar");
    itr_pyobj_free(o);
    /* big-endian int64 scalar, payload as a Py2 string (numpy._core spelling) */
    o = load_ok(PK("cnumpy._core.multiarray\nscalar\ncnumpy\ndtype\nU\x02i8K\x00K\x01\x87R(K\x03U\x01>NNNK\x00tb"
                   "U\x08\x00\x00\x00\x00\x00\x00\x01\x02\x86R."));
    int64_t v;
    assert_int_equal(itr_py_int(o, &v), ITR_OK);
    assert_int_equal(v, 258);
    itr_pyobj_free(o);
    /* _reconstruct + BUILD: float32 (2, 2) in Fortran order -> C order */
    o = load_ok(PK("cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85" "C\x01" "b\x87R"
                   "(K\x01K\x02K\x02\x86" "cnumpy\ndtype\nX\x02\x00\x00\x00" "f4\x89\x88\x87R"
                   "(K\x03X\x01\x00\x00\x00<NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x88"
                   "C\x10\x00\x00\x80?\x00\x00\x00@\x00\x00@@\x00\x00\x80@tb."));
    assert_int_equal(o->kind, ITR_PY_NDARRAY);
    itr_tensor t;
    assert_int_equal(itr_py_to_tensor(o, -1, -1, &t), ITR_OK);
    assert_int_equal(t.dtype, ITR_F32);
    /* Fortran data 1,2,3,4 is [[1,3],[2,4]] */
    assert_true(itr_f32(&t)[0] == 1.0f && itr_f32(&t)[1] == 3.0f && itr_f32(&t)[2] == 2.0f);
    itr_tensor_free(&t);
    assert_int_equal(itr_py_to_tensor(o, ITR_F64, -1, &t), ITR_OK);
    assert_int_equal(t.dtype, ITR_F64);
    itr_tensor_free(&t);
    itr_pyobj_free(o);
    /* _frombuffer (protocol 5 style), big-endian int16, and an object array */
    o = load_ok(PK("cnumpy.core.numeric\n_frombuffer\n(C\x04\x00\x01\x00\x02" "cnumpy\ndtype\nX\x02\x00\x00\x00i2"
                   "\x89\x88\x87R(K\x03X\x01\x00\x00\x00>NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb"
                   "K\x02\x85X\x01\x00\x00\x00" "CtR."));
    assert_int_equal(itr_py_to_tensor(o, -1, ITR_I64, &t), ITR_OK);
    assert_int_equal(itr_i64(&t)[0], 1);
    assert_int_equal(itr_i64(&t)[1], 2);
    itr_tensor_free(&t);
    itr_pyobj_free(o);
    o = load_ok(PK("cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85" "C\x01" "b\x87R"
                   "(K\x01K\x02\x85" "cnumpy\ndtype\nX\x02\x00\x00\x00O8\x89\x88\x87R"
                   "(K\x03X\x01\x00\x00\x00|NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK?tb\x89"
                   "(K\x05N" "ltb."));
    assert_string_equal(o->u.ndarray.dtype.descr, "|O");
    assert_int_equal(itr_py_len(o->u.ndarray.objects), 2);
    assert_int_equal(itr_py_to_tensor(o, -1, -1, &t), ITR_E_DTYPE);
    itr_pyobj_free(o);
}

/* A storage hook for tensor tests: 12 floats 0..11, or "i" = 4 int64. */
static float g_f[12] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
static int64_t g_i[4] = {10, 20, 30, 40};

static itr_status hook(void *ctx, itr_pyarena *a, itr_pyobj *pid, itr_pyobj **out) {
    int *calls = ctx;
    (*calls)++;
    if (itr_py_len(pid) != 5) return itr_fail(ITR_E_FORMAT, "test hook: bad pid");
    itr_pyobj *s = itr_py_new(a, ITR_PY_STORAGE);
    if (!s) return ITR_E_LIMIT;
    const itr_pyobj *g = itr_py_item(pid, 1);
    s->u.storage.dtype = g->u.global.dtype;
    s->u.storage.supported = g->u.global.supported;
    s->u.storage.elem_size = g->u.global.supported ? itr_dtype_size(g->u.global.dtype) : 1;
    s->u.storage.type_name = g->u.global.name;
    s->u.storage.key = "k";
    s->u.storage.numel = itr_py_item(pid, 4)->u.i;
    if (g->u.global.dtype == ITR_I64) {
        s->u.storage.data = (const uint8_t *)g_i;
        s->u.storage.nbytes = sizeof g_i;
    } else if (itr_py_str_eq(itr_py_item(pid, 2), "nodata") == 0) {
        s->u.storage.data = (const uint8_t *)g_f;
        s->u.storage.nbytes = sizeof g_f;
    }
    *out = s;
    return ITR_OK;
}

/* "((storage, FloatStorage, '0', 'cpu', 12) BINPERSID, <offset>, <size>, <stride>, False, {})" */
#define PID_F "(X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x00" "0X\x03\x00\x00\x00" "cpuK\x0ctQ"

static void test_tensors(void **state) {
    (void)state;
    int calls = 0;
    itr_pickle_opts o;
    itr_pickle_opts_default(&o);
    o.persistent_load = hook;
    o.persistent_ctx = &calls;
    itr_pyobj *r;
    itr_tensor t;
    /* transposed view: size (4, 3) stride (1, 4) of a 12-element storage */
    assert_int_equal(itr_pickle_load(PK("ctorch._utils\n_rebuild_tensor_v2\n(" PID_F "K\x00K\x04K\x03\x86K\x01K\x04\x86"
                                        "\x89}tR."), &o, &r, NULL), ITR_OK);
    assert_int_equal(r->kind, ITR_PY_TENSOR);
    assert_int_equal(calls, 1);
    assert_int_equal(itr_py_to_tensor(r, -1, -1, &t), ITR_OK);
    float want_t[12] = {0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11};
    double max_abs = 0;
    for (int i = 0; i < 12; i++) {
        double e = itr_f32(&t)[i] - want_t[i];
        if (e < 0) e = -e;
        if (e > max_abs) max_abs = e;
    }
    printf("  transposed view max abs err %g\n", max_abs);
    assert_true(max_abs == 0);
    itr_tensor_free(&t);
    char buf[96];
    assert_string_equal(itr_py_repr(r, buf, sizeof buf), "<tensor float32 (4, 3)>");
    itr_pyobj_free(r);
    /* torch 0.3 _rebuild_tensor: offset 4, size (4,), stride (1,) ; then Parameter; zero stride */
    assert_int_equal(itr_pickle_load(PK("ctorch._utils\n_rebuild_parameter\nctorch._utils\n_rebuild_tensor\n(" PID_F
                                        "K\x04K\x04\x85K\x01\x85tR\x88}\x87R."), &o, &r, NULL), ITR_OK);
    assert_int_equal(r->u.tensor.is_parameter, 1);
    assert_string_equal(itr_py_type_name(r), "Parameter");
    assert_int_equal(itr_py_to_tensor(r, ITR_F64, -1, &t), ITR_OK);
    assert_true(itr_f64(&t)[0] == 4.0 && itr_f64(&t)[3] == 7.0);
    itr_tensor_free(&t);
    itr_pyobj_free(r);
    assert_int_equal(itr_pickle_load(PK("ctorch._utils\n_rebuild_tensor\n(" PID_F "K\x02K\x03K\x02\x86K\x00K\x01\x86tR."),
                                     &o, &r, NULL), ITR_OK);
    assert_int_equal(itr_py_to_tensor(r, -1, -1, &t), ITR_OK);         /* rows repeat: stride 0 */
    assert_true(itr_f32(&t)[0] == 2.0f && itr_f32(&t)[2] == 2.0f && itr_f32(&t)[5] == 3.0f);
    itr_tensor_free(&t);
    itr_pyobj_free(r);
    /* _rebuild_from_type_v2(_rebuild_tensor_v2, Parameter, args, state), 7-arg v2, int64 storage */
    assert_int_equal(itr_pickle_load(PK("ctorch._tensor\n_rebuild_from_type_v2\n(ctorch._utils\n_rebuild_tensor_v2\n"
                                        "ctorch.nn.parameter\nParameter\n"
                                        "((X\x07\x00\x00\x00storagectorch\nLongStorage\nX\x01\x00\x00\x00" "0X\x03\x00\x00\x00"
                                        "cpuK\x04tQK\x00K\x02K\x02\x86K\x02K\x01\x86\x89}}t}tR."), &o, &r, NULL), ITR_OK);
    assert_int_equal(r->u.tensor.is_parameter, 1);
    assert_int_equal(itr_py_to_tensor(r, ITR_F32, -1, &t), ITR_OK);    /* int64 stays int64 */
    assert_int_equal(t.dtype, ITR_I64);
    assert_int_equal(itr_i64(&t)[3], 40);
    itr_tensor_free(&t);
    itr_pyobj_free(r);
    /* the same storage key through BINGET is one node: tied weights */
    assert_int_equal(itr_pickle_load(PK("ctorch._utils\n_rebuild_tensor\nq\x00(" PID_F "q\x01K\x00K\x02\x85K\x01\x85tR"
                                        "h\x00(h\x01K\x02K\x02\x85K\x01\x85tR\x86."), &o, &r, NULL), ITR_OK);
    assert_ptr_equal(itr_py_item(r, 0)->u.tensor.storage, itr_py_item(r, 1)->u.tensor.storage);
    itr_pyobj_free(r);
    /* a storage the container never filled */
    assert_int_equal(itr_pickle_load(PK("ctorch._utils\n_rebuild_tensor\n((X\x07\x00\x00\x00storagectorch\nFloatStorage\n"
                                        "X\x06\x00\x00\x00nodataX\x03\x00\x00\x00" "cpuK\x0ctQK\x00K\x02\x85K\x01\x85tR."),
                                     &o, &r, NULL), ITR_OK);
    assert_int_equal(itr_py_to_tensor(r, -1, -1, &t), ITR_E_FORMAT);
    assert_non_null(strstr(itr_last_error(), "not found"));
    itr_pyobj_free(r);
    assert_int_equal(itr_py_to_tensor(NULL, -1, -1, &t), ITR_E_ARG);
}

typedef struct bad_case {
    const uint8_t *b;
    size_t n;
    itr_status st;
    const char *needle;
} bad_case;

static void test_errors(void **state) {
    (void)state;
    const bad_case cases[] = {
        {PK(""), ITR_E_FORMAT, "without STOP"},
        {PK("K\x01"), ITR_E_FORMAT, "without STOP"},
        {PK("."), ITR_E_FORMAT, "underflow"},
        {PK("(."), ITR_E_FORMAT, "underflow"},
        {PK("\xff."), ITR_E_FORMAT, "unknown opcode 0xff"},
        {PK("\x80\x06."), ITR_E_UNSUPPORTED, "protocol 6"},
        {PK("\x82\x01."), ITR_E_UNSUPPORTED, "EXT"},
        {PK("P1\n."), ITR_E_UNSUPPORTED, "PERSID"},
        {PK("NQ."), ITR_E_UNSUPPORTED, "BINPERSID"},
        {PK("\x97."), ITR_E_UNSUPPORTED, "out-of-band"},
        {PK("0."), ITR_E_FORMAT, "no MARK"},
        {PK("1."), ITR_E_FORMAT, "no MARK"},
        {PK("K\x01K\x02" "a."), ITR_E_FORMAT, "APPEND"},
        {PK("(K\x01" "e."), ITR_E_FORMAT, "without a target"},
        {PK("K\x01(K\x01" "e."), ITR_E_FORMAT, "APPEND(S) on a int"},
        {PK("}(K\x01u."), ITR_E_FORMAT, "odd number"},
        {PK("K\x01K\x02K\x03s."), ITR_E_FORMAT, "not a dict"},
        {PK("K\x01s."), ITR_E_FORMAT, "underflow"},
        {PK("(K\x01K\x02u."), ITR_E_FORMAT, "without a target dict"},
        {PK("K\x01(K\x01\x90."), ITR_E_FORMAT, "ADDITEMS"},
        {PK("T\xff\xff\xff\xff."), ITR_E_FORMAT, "negative length"},
        {PK("X\x10\x00\x00\x00" "ab."), ITR_E_FORMAT, "truncated"},
        {PK("X\x02\x00\x00\x00\xc3(."), ITR_E_FORMAT, "invalid UTF-8"},
        {PK("X\x02\x00\x00\x00\xc0\x80."), ITR_E_FORMAT, "invalid UTF-8"},
        {PK("\x8b\xff\xff\xff\xff."), ITR_E_FORMAT, "negative length"},
        {PK("\x8b\x00\x10\x00\x00."), ITR_E_LIMIT, "LONG of 4096 bytes"},
        {PK("\x8a\x05\x01."), ITR_E_FORMAT, "truncated"},
        {PK("\x95\xff\x00\x00\x00\x00\x00\x00\x00N."), ITR_E_FORMAT, "FRAME"},
        {PK("h\x01."), ITR_E_FORMAT, "missing index 1"},
        {PK("q\x01."), ITR_E_FORMAT, "underflow"},
        {PK("g-1\n."), ITR_E_FORMAT, "negative memo"},
        {PK("I99999999999999999999\n."), ITR_E_LIMIT, "overflows"},
        {PK("I-9223372036854775809\n."), ITR_E_LIMIT, "overflows"},
        {PK("I12a\n."), ITR_E_FORMAT, "bad character"},
        {PK("I\n."), ITR_E_FORMAT, "empty integer"},
        {PK("I12"), ITR_E_FORMAT, "no newline"},
        {PK("F1.5x\n."), ITR_E_FORMAT, "FLOAT"},
        {PK("F1e5e\n."), ITR_E_FORMAT, "not a number"},
        {PK("F\n."), ITR_E_FORMAT, "FLOAT"},
        {PK("Sabc\n."), ITR_E_FORMAT, "not quoted"},
        {PK("S'\\xZZ'\n."), ITR_E_FORMAT, "\\x escape"},
        {PK("V\\u12\n."), ITR_E_FORMAT, "short escape"},
        {PK("V\\u12zz\n."), ITR_E_FORMAT, "bad escape"},
        {PK("V\\ud800\n."), ITR_E_FORMAT, "out of range"},
        {PK("K\x01K\x02\x93."), ITR_E_FORMAT, "two strings"},
        {PK("cos\nsystem\nX\x02\x00\x00\x00ls\x85R."), ITR_E_UNSUPPORTED, "\"os.system\""},
        {PK("\x8c\x02os\x8c\x06system\x93."), ITR_E_UNSUPPORTED, "\"os.system\""},
        {PK("ctorch.nn.modules.linear\nLinear\n."), ITR_E_UNSUPPORTED, "nn.Module"},
        {PK("cjoblib.numpy_pickle\nNDArrayWrapper\n."), ITR_E_UNSUPPORTED, "joblib < 0.10"},
        {PK("K\x01)R."), ITR_E_UNSUPPORTED, "REDUCE on a int"},
        {PK("ctorch\nfloat32\n)R."), ITR_E_UNSUPPORTED, "cannot be called"},
        {PK("ccollections\nOrderedDict\nK\x01R."), ITR_E_FORMAT, "not a tuple"},
        {PK("ccollections\nOrderedDict\nK\x01K\x02\x86R."), ITR_E_FORMAT, "arguments"},
        {PK("ccollections\nOrderedDict\nK\x01\x85R."), ITR_E_FORMAT, "argument is a int"},
        {PK("ccollections\nOrderedDict\n(K\x01l\x85R."), ITR_E_FORMAT, "pair"},
        {PK("ctorch\nfloat32\n)\x81."), ITR_E_UNSUPPORTED, "cannot be instantiated"},
        {PK("K\x01)\x81."), ITR_E_UNSUPPORTED, "NEWOBJ on a int"},
        {PK("cargparse\nNamespace\nK\x01\x81."), ITR_E_FORMAT, "not a tuple"},
        {PK("cargparse\nNamespace\nK\x01\x85\x81."), ITR_E_UNSUPPORTED, "constructor arguments"},
        {PK("cargparse\nNamespace\n)K\x01\x92."), ITR_E_FORMAT, "kwargs"},
        {PK("(o."), ITR_E_FORMAT, "OBJ without a class"},
        {PK("K\x01N" "b."), ITR_E_UNSUPPORTED, "BUILD on a int"},
        {PK("cargparse\nNamespace\n)\x81K\x01" "b."), ITR_E_FORMAT, "not a dict"},
        {PK("ctorch\nSize\nK\x01\x85R."), ITR_E_FORMAT, "not a tuple"},
        {PK("ctorch\ndevice\nK\x01\x85R."), ITR_E_FORMAT, "torch.device"},
        {PK("c_codecs\nencode\nX\x01\x00\x00\x00" "aX\x05\x00\x00\x00utf-8\x86R."), ITR_E_UNSUPPORTED, "latin1"},
        {PK("c_codecs\nencode\nX\x03\x00\x00\x00\xe2\x82\xac" "X\x06\x00\x00\x00latin1\x86R."), ITR_E_FORMAT, "U+00FF"},
        {PK("cbuiltins\nbytes\nK\x01\x85R."), ITR_E_UNSUPPORTED, "bytes() of a int"},
        {PK("cbuiltins\nbytes\n(M\x00\x01l\x85R."), ITR_E_FORMAT, "not a byte"},
        {PK("cbuiltins\nset\nK\x01\x85R."), ITR_E_FORMAT, "set() of a int"},
        {PK("ccopyreg\n_reconstructor\n(cargparse\nNamespace\nK\x01NtR."), ITR_E_UNSUPPORTED, "_reconstructor"},
        {PK("cnumpy\ndtype\nK\x01\x85R."), ITR_E_FORMAT, "code is not a string"},
        {PK("cnumpy\ndtype\nX\x03\x00\x00\x00U10\x85R."), ITR_E_UNSUPPORTED, "not supported"},
        {PK("cnumpy\ndtype\nX\x02\x00\x00\x00u4\x85R."), ITR_E_UNSUPPORTED, "not supported"},
        {PK("cnumpy\ndtype\nX\x03\x00\x00\x00" "f4x\x85R."), ITR_E_UNSUPPORTED, "simple type"},
        {PK("cnumpy\ndtype\nX\x03\x00\x00\x00" "f99\x85R."), ITR_E_UNSUPPORTED, "too large"},
        {PK("cnumpy\ndtype\nX\x02\x00\x00\x00" "O2\x85R."), ITR_E_FORMAT, "object size"},
        {PK("cnumpy\ndtype\nX\x02\x00\x00\x00" "f4\x85R)b."), ITR_E_FORMAT, "not a tuple"},
        {PK("cnumpy\ndtype\nX\x02\x00\x00\x00" "f4\x85R(K\x03X\x01\x00\x00\x00<K\x01tb."), ITR_E_UNSUPPORTED, "subarray"},
        {PK("cnumpy\ndtype\nX\x02\x00\x00\x00" "f4\x85R(K\x03X\x01\x00\x00\x00!tb."), ITR_E_FORMAT, "byte order"},
        {PK("cnumpy.core.multiarray\nscalar\nK\x01K\x02\x86R."), ITR_E_FORMAT, "not a dtype"},
        {PK("cnumpy.core.multiarray\nscalar\ncnumpy\ndtype\nX\x02\x00\x00\x00" "f8\x85RC\x01z\x86R."), ITR_E_FORMAT,
         "payload of 1 bytes"},
        {PK("cnumpy.core.multiarray\nscalar\ncnumpy\ndtype\nX\x02\x00\x00\x00" "O8\x85RN\x86R."), ITR_E_UNSUPPORTED,
         "object dtype"},
        {PK("cnumpy.core.multiarray\n_reconstruct\nK\x01K\x02K\x03\x87R."), ITR_E_UNSUPPORTED, "numpy.ndarray"},
        {PK("cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85" "C\x01" "b\x87RK\x01" "b."),
         ITR_E_FORMAT, "4/5-tuple"},
        {PK("cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85" "C\x01" "b\x87R(K\x01K\x02\x85K\x01\x89"
            "C\x01zt" "b."), ITR_E_FORMAT, "expected (shape"},
        {PK("cnumpy.core.numeric\n_frombuffer\n(C\x01zK\x01tR."), ITR_E_FORMAT, "arguments"},
        {PK("cnumpy.core.numeric\n_frombuffer\n(C\x01zK\x01K\x02K\x03tR."), ITR_E_FORMAT, "_frombuffer"},
        {PK("ctorch._utils\n_rebuild_tensor\n(K\x01K\x00)" ")tR."), ITR_E_FORMAT, "not a storage"},
        {PK("ctorch._utils\n_rebuild_tensor_v2\n(K\x01K\x00)))}tR."), ITR_E_FORMAT, "requires_grad"},
        {PK("ctorch._utils\n_rebuild_tensor_v2\n(K\x01K\x00))\x89K\x07tR."), ITR_E_FORMAT, "backward_hooks"},
        {PK("ctorch._utils\n_rebuild_tensor_v2\n(K\x01K\x00))\x89}K\x07tR."), ITR_E_FORMAT, "metadata"},
        {PK("ctorch._utils\n_rebuild_parameter\n(K\x01\x88}tR."), ITR_E_FORMAT, "expected (tensor"},
        {PK("ctorch._tensor\n_rebuild_from_type_v2\n(ctorch\nSize\nK\x01)NtR."), ITR_E_UNSUPPORTED, "not a tensor rebuild"},
        {PK("ctorch._tensor\n_rebuild_from_type_v2\n(ctorch._utils\n_rebuild_tensor\nK\x01)NtR."), ITR_E_UNSUPPORTED,
         "torch.Tensor"},
        {PK("ctorch._tensor\n_rebuild_from_type_v2\n(ctorch._utils\n_rebuild_tensor\nctorch\nTensor\nK\x01NtR."),
         ITR_E_FORMAT, "args is not a tuple"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fprintf(stderr, "case %zu: ", i);
        expect_fail(cases[i].b, cases[i].n, NULL, cases[i].st, cases[i].needle);
        fprintf(stderr, "%s\n", itr_last_error());
    }
    /* NULL arguments */
    itr_pyobj *r;
    assert_int_equal(itr_pickle_load(NULL, 1, NULL, &r, NULL), ITR_E_ARG);
    assert_int_equal(itr_pickle_load(PK("N."), NULL, NULL, NULL), ITR_E_ARG);
    assert_int_equal(itr_pickle_load_in(NULL, PK("N."), NULL, &r, NULL), ITR_E_ARG);
}

static void test_tensor_bounds(void **state) {
    (void)state;
    int calls = 0;
    itr_pickle_opts o;
    itr_pickle_opts_default(&o);
    o.persistent_load = hook;
    o.persistent_ctx = &calls;
    const bad_case cases[] = {
        /* offset 10 + 3 elements > 12 */
        {PK("ctorch._utils\n_rebuild_tensor\n(" PID_F "K\x0aK\x03\x85K\x01\x85tR."), ITR_E_FORMAT, "outside storage"},
        {PK("ctorch._utils\n_rebuild_tensor\n(" PID_F "J\xff\xff\xff\xffK\x03\x85K\x01\x85tR."), ITR_E_FORMAT, "offset"},
        {PK("ctorch._utils\n_rebuild_tensor\n(" PID_F "K\x00K\x03\x85J\xff\xff\xff\xff\x85tR."), ITR_E_FORMAT, "negative"},
        {PK("ctorch._utils\n_rebuild_tensor\n(" PID_F "K\x00K\x03\x85K\x01K\x01\x86tR."), ITR_E_FORMAT, "stride 2"},
        {PK("ctorch._utils\n_rebuild_tensor\n(" PID_F "K\x00K\x03\x85X\x01\x00\x00\x00" "a\x85tR."), ITR_E_FORMAT, "not an int"},
        {PK("ctorch._utils\n_rebuild_tensor\n(" PID_F "K\x00(K\x01K\x01K\x01K\x01K\x01K\x01K\x01K\x01K\x01tK\x01\x85tR."),
         ITR_E_UNSUPPORTED, "dimensions"},
        {PK("ctorch._utils\n_rebuild_tensor\n(" PID_F "K\x00K\x01\x85K\x01tR."), ITR_E_FORMAT, "tuple of ints"},
        /* 2^31 x 2^31 x 2^31 elements: over max_numel */
        {PK("ctorch._utils\n_rebuild_tensor\n(" PID_F "K\x00\x8a\x05\x00\x00\x00\x80\x00\x8a\x05\x00\x00\x00\x80\x00"
            "\x8a\x05\x00\x00\x00\x80\x00\x87K\x00K\x00K\x00\x87tR."), ITR_E_LIMIT, "elements"},
        /* huge stride overflows int64 */
        {PK("ctorch._utils\n_rebuild_tensor\n(" PID_F "K\x00K\x03\x85\x8a\x08\xff\xff\xff\xff\xff\xff\xff\x7f\x85tR."),
         ITR_E_FORMAT, "overflow"},
        {PK("ctorch._utils\n_rebuild_tensor\n((X\x07\x00\x00\x00storagectorch\nComplexFloatStorage\nX\x01\x00\x00\x00"
            "0X\x03\x00\x00\x00" "cpuK\x0ctQK\x00K\x03\x85K\x01\x85tR."), ITR_E_UNSUPPORTED, "ComplexFloatStorage"},
        {PK("K\x01Q."), ITR_E_FORMAT, "bad pid"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fprintf(stderr, "bounds case %zu: ", i);
        expect_fail(cases[i].b, cases[i].n, &o, cases[i].st, cases[i].needle);
        fprintf(stderr, "%s\n", itr_last_error());
    }
}

static void test_limits(void **state) {
    (void)state;
    itr_pickle_opts o;
    itr_pickle_opts_default(&o);
    o.limits.max_stack = 4;
    expect_fail(PK("NNNNN(t."), &o, ITR_E_LIMIT, "value stack");
    itr_pickle_opts_default(&o);
    o.limits.max_marks = 2;
    expect_fail(PK("(((t."), &o, ITR_E_LIMIT, "marks");
    itr_pickle_opts_default(&o);
    o.limits.max_memo = 1;
    expect_fail(PK("Nq\x00q\x01q\x02."), &o, ITR_E_LIMIT, "memo entries");
    itr_pickle_opts_default(&o);
    o.limits.max_values = 3;
    expect_fail(PK("NNNN(t."), &o, ITR_E_LIMIT, "values");
    itr_pickle_opts_default(&o);
    o.limits.max_bytes = 1000;
    expect_fail(PK("B\x00\x04\x00\x00" "."), &o, ITR_E_FORMAT, "truncated");
    uint8_t big[1100];
    memset(big, 'z', sizeof big);
    memcpy(big, "B\x00\x04\x00\x00", 5);
    big[sizeof big - 1] = '.';
    o.limits.max_bytes = 1000;
    /* 1024-byte BINBYTES in a 1000-byte arena */
    expect_fail(big, 5 + 1024 + 1, &o, ITR_E_LIMIT, "allocation");
    itr_pickle_opts_default(&o);
    o.limits.max_line = 4;
    expect_fail(PK("I123456\n."), &o, ITR_E_LIMIT, "longer than 4");
    itr_pickle_opts_default(&o);
    o.limits.max_long_bytes = 4;
    expect_fail(PK("\x8a\x05\x01\x02\x03\x04\x05."), &o, ITR_E_LIMIT, "LONG of 5 bytes");
    /* lenient globals: listed as placeholders, never callable */
    itr_pickle_opts_default(&o);
    o.lenient_globals = 1;
    itr_pyobj *r;
    assert_int_equal(itr_pickle_load(PK("cos\nsystem\n."), &o, &r, NULL), ITR_OK);
    assert_int_equal(r->u.global.id, ITR_G_UNKNOWN);
    assert_string_equal(r->u.global.module, "os");
    itr_pyobj_free(r);
    expect_fail(PK("cos\nsystem\n)R."), &o, ITR_E_UNSUPPORTED, "\"os.system\"");
    /* walkers' limits */
    itr_py_walk_limits wl;
    itr_py_walk_limits_default(&wl);
    assert_true(wl.max_depth > 0 && wl.max_nodes > 0);
}

static void test_arena_and_access(void **state) {
    (void)state;
    itr_pickle_limits l;
    itr_pickle_limits_default(&l);
    l.max_bytes = 4096;
    itr_pyarena *a = itr_pyarena_new(&l);
    assert_non_null(a);
    /* several pickles in one arena (as the legacy container does) */
    itr_pyobj *x, *y;
    size_t used;
    assert_int_equal(itr_pickle_load_in(a, PK("K\x01.K\x02."), NULL, &x, &used), ITR_OK);
    assert_int_equal(used, 3);
    assert_int_equal(itr_pickle_load_in(a, (const uint8_t *)"K\x02.", 3, NULL, &y, NULL), ITR_OK);
    assert_ptr_equal(x->arena, y->arena);
    assert_true(itr_pyarena_bytes(a) > 0 && itr_pyarena_bytes(a) <= 4096);
    assert_null(itr_pyarena_alloc(a, 5000));
    assert_non_null(strstr(itr_last_error(), "limit"));
    itr_pyobj *s = itr_py_new_str(a, "abc", 3);
    assert_string_equal(itr_py_str(s), "abc");
    itr_pyarena_free(a);
    itr_pyarena_free(NULL);
    itr_pyobj_free(NULL);
    /* kind names and reprs of every kind */
    for (int k = ITR_PY_NONE; k <= ITR_PY_SCALAR; k++) assert_string_not_equal(itr_py_kind_name((itr_pykind)k), "?");
    assert_string_equal(itr_py_kind_name((itr_pykind)99), "?");
    assert_string_equal(itr_py_type_name(NULL), "None");
    char buf[256];
    itr_pyobj *o = load_ok(PK("(NI01\nK\x07\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\x01G?\xf8\x00\x00\x00\x00\x00\x00"
                              "X\x02\x00\x00\x00" "a'C\x02\x00\xff(K\x01l(K\x01t(K\x01\x91}K\x01K\x02s"
                              "cargparse\nNamespace\n)\x81" "ccollections\nOrderedDict\n)R"
                              "cnumpy\ndtype\nX\x02\x00\x00\x00" "f4\x85Rt."));
    itr_py_repr(o, buf, sizeof buf);
    assert_string_equal(buf, "(None, True, 7, <int of 9 bytes>, 1.5, 'a\\'', b'\\x00\\xff', [1], (1,), {1}, {1: 2}, "
                             "argparse.Namespace({}), OrderedDict({}), dtype('<f4'))");
    itr_py_repr(o, buf, 24);                           /* truncated */
    assert_int_equal(strlen(buf), 23);
    assert_string_equal(buf + 20, "...");
    assert_string_equal(itr_py_repr(o, buf, 3), "");   /* too small to say anything */
    assert_null(itr_py_str(NULL));
    assert_false(itr_py_str_eq(NULL, "a"));
    assert_false(itr_py_str_eq(itr_py_item(o, 0), "a"));
    assert_false(itr_py_key_equal(itr_py_item(o, 0), NULL));
    assert_true(itr_py_key_equal(itr_py_item(o, 0), itr_py_item(o, 0)));
    assert_int_equal(itr_py_len(itr_py_item(o, 2)), 0);
    assert_null(itr_py_attr(itr_py_item(o, 2), "x"));
    itr_pyobj_free(o);
    /* key equality of s1.7.1: py2str == str by bytes; tuples itemwise */
    o = load_ok(PK("(U\x01" "aX\x01\x00\x00\x00" "aK\x01K\x02\x86K\x01K\x02\x86K\x01K\x03\x86NN\x8a\x09\x01\x00\x00\x00"
                   "\x00\x00\x00\x00\x01\x8a\x09\x01\x00\x00\x00\x00\x00\x00\x00\x01G?\xf0\x00\x00\x00\x00\x00\x00"
                   "G?\xf0\x00\x00\x00\x00\x00\x00]]t."));
    assert_true(itr_py_key_equal(itr_py_item(o, 0), itr_py_item(o, 1)));
    assert_true(itr_py_key_equal(itr_py_item(o, 2), itr_py_item(o, 3)));
    assert_false(itr_py_key_equal(itr_py_item(o, 2), itr_py_item(o, 4)));
    assert_false(itr_py_key_equal(itr_py_item(o, 0), itr_py_item(o, 2)));
    assert_true(itr_py_key_equal(itr_py_item(o, 5), itr_py_item(o, 6)));
    assert_true(itr_py_key_equal(itr_py_item(o, 7), itr_py_item(o, 8)));
    assert_true(itr_py_key_equal(itr_py_item(o, 9), itr_py_item(o, 10)));
    assert_false(itr_py_key_equal(itr_py_item(o, 11), itr_py_item(o, 12)));   /* lists: identity */
    itr_pyobj_free(o);
}

/* The sample vocabulary pickle (VSE++ style, Python 2 protocol 2). */
static void test_vocab_sample(void **state) {
    (void)state;
    itr_pyobj *o = NULL;
    assert_int_equal(itr_pickle_load_file(ITR_SOURCE_DIR "/fixtures/formats/vocab_py27_vsepp_style.pkl", NULL, &o),
                     ITR_OK);
    assert_string_equal(itr_py_type_name(o), "Vocabulary");
    const itr_pyobj *w2i = itr_py_attr(o, "word2idx"), *i2w = itr_py_attr(o, "idx2word");
    assert_int_equal(itr_py_len(w2i), 8);
    assert_int_equal(itr_py_dict_get(w2i, "dog")->u.i, 6);
    assert_true(itr_py_str_eq(itr_py_dict_val(i2w, 7), "."));
    assert_int_equal(itr_py_attr(o, "idx")->u.i, 8);
    itr_pyobj_free(o);
    assert_int_equal(itr_pickle_load_file(ITR_SOURCE_DIR "/fixtures/formats/no_such_file.pkl", NULL, &o), ITR_E_IO);
    uint8_t *buf;
    size_t len;
    assert_int_equal(itr_read_file(ITR_SOURCE_DIR "/fixtures/formats/vocab_py27_vsepp_style.pkl", 100, &buf, &len),
                     ITR_E_LIMIT);
    assert_int_equal(itr_read_file(NULL, 100, &buf, &len), ITR_E_ARG);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numbers),      cmocka_unit_test(test_strings),
        cmocka_unit_test(test_containers),   cmocka_unit_test(test_memo),
        cmocka_unit_test(test_objects),      cmocka_unit_test(test_numpy),
        cmocka_unit_test(test_tensors),      cmocka_unit_test(test_errors),
        cmocka_unit_test(test_tensor_bounds), cmocka_unit_test(test_limits),
        cmocka_unit_test(test_arena_and_access), cmocka_unit_test(test_vocab_sample),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
