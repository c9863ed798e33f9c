/* vocab_pickle.c - VSE++/VSRN vocab/{data_name}_vocab.pkl (formats.md s3.1,
 * s1.3.6; vsepp_vseinfty.md s4.3): a Python 2 protocol-2 pickle of a
 * `vocab.Vocabulary` (or `__main__.Vocabulary`) instance whose state is
 * {'word2idx': {str: int}, 'idx2word': {int: str}, 'idx': int}. It is read
 * with the safe pickle reader (itr/pickle.h): nothing is executed. */
#include <stdlib.h>
#include <string.h>

#include "itr/pickle.h"
#include "text_internal.h"

static itr_status check_idx2word(const char *path, const itr_vocab *v, const itr_pyobj *i2w) {
    if (i2w->kind != ITR_PY_DICT) return itr_fail(ITR_E_FORMAT, "%s: idx2word is a %s, not a dict", path, itr_py_type_name(i2w));
    size_t n = itr_py_len(i2w);
    for (size_t i = 0; i < n; i++) {
        int64_t id;
        const char *w = itr_py_str(itr_py_dict_val(i2w, i));
        if (itr_py_int(itr_py_dict_key(i2w, i), &id) != ITR_OK || !w)
            return itr_fail(ITR_E_FORMAT, "%s: idx2word entry %zu is not int -> str", path, i);
        const char *mine = itr_vocab_word(v, id);
        if (!mine || strcmp(mine, w) != 0)
            return itr_fail(ITR_E_FORMAT, "%s: idx2word[%lld] = '%s' but word2idx gives that id to '%s'",
                            path, (long long)id, w, mine ? mine : "(nothing)");
    }
    if ((int64_t)n != v->n)
        return itr_fail(ITR_E_FORMAT, "%s: idx2word has %zu entries, word2idx %lld", path, n, (long long)v->n);
    return ITR_OK;
}

static itr_status from_pickle(const char *path, const itr_pyobj *root, itr_vocab *v) {
    const itr_pyobj *state = NULL;
    if (root->kind == ITR_PY_OBJECT && root->u.object.cls == ITR_G_VOCABULARY) state = itr_py_attrs(root);
    else if (root->kind == ITR_PY_DICT) state = root;       /* a bare pickled state dict */
    if (!state)
        return itr_fail(ITR_E_FORMAT, "%s: pickle holds a %s, not a Vocabulary", path, itr_py_type_name(root));
    const itr_pyobj *w2i = itr_py_dict_get(state, "word2idx");
    if (!w2i) return itr_fail(ITR_E_KEY, "%s: Vocabulary has no 'word2idx'", path);
    if (w2i->kind != ITR_PY_DICT) return itr_fail(ITR_E_FORMAT, "%s: word2idx is a %s, not a dict", path, itr_py_type_name(w2i));
    for (size_t i = 0; i < itr_py_len(w2i); i++) {
        const char *w = itr_py_str(itr_py_dict_key(w2i, i));
        int64_t id;
        if (!w || itr_py_int(itr_py_dict_val(w2i, i), &id) != ITR_OK)
            return itr_fail(ITR_E_FORMAT, "%s: word2idx entry %zu is not str -> int", path, i);
        itr_status st = itr_vocab_set(v, w, id);
        if (st) return st;
    }
    if (v->n == 0) return itr_fail(ITR_E_FORMAT, "%s: word2idx is empty", path);
    itr_status st = itr_vocab_check_dense(v);
    if (st) return st;
    const itr_pyobj *i2w = itr_py_dict_get(state, "idx2word");
    if (i2w && (st = check_idx2word(path, v, i2w))) return st;
    const itr_pyobj *idx = itr_py_dict_get(state, "idx");
    int64_t count;
    if (idx && (itr_py_int(idx, &count) != ITR_OK || count != v->n))
        return itr_fail(ITR_E_FORMAT, "%s: 'idx' is not %lld, the number of words", path, (long long)v->n);
    itr_vocab_find_specials(v);
    return itr_vocab_require_specials(v);
}

itr_status itr_vocab_load_pickle(const char *path, itr_vocab *v) {
    itr_vocab_init(v);
    char *data;
    size_t n;
    itr_status st = itr_text_read_file(path, &data, &n);
    if (st) return st;
    itr_pickle_opts po;
    itr_pickle_opts_default(&po);
    po.source = path;
    itr_pyobj *root = NULL;
    st = itr_pickle_load((const uint8_t *)data, n, &po, &root, NULL);
    free(data);
    if (st) return itr_fail_context(st, "%s: vocabulary pickle", path);
    if (!(v->source = itr_text_strndup(path, strlen(path)))) st = itr_fail(ITR_E_NOMEM, "out of memory");
    if (!st) st = from_pickle(path, root, v);
    itr_pyobj_free(root);
    if (st) itr_vocab_free(v);
    return st;
}
