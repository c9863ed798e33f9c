/* vocab_json.c - SCAN-family vocabulary JSON (formats.md s3.1, scan_sgraf.md
 * s9.2): {"idx2word": {"0": "<pad>", ...}, "word2idx": {"<pad>": 0, ...},
 * "idx": 8481}, as kuanghuei/SCAN:vocab.py serializes its Vocabulary. The
 * files shipped with SGRAF/VSL/LHSC/LSEH are byte-identical copies. */
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "text_internal.h"

/* "123" -> 123; only canonical decimal keys (as Python's str(int) writes). */
static int parse_id_key(const char *s, int64_t *id) {
    if (!*s || (s[0] == '0' && s[1])) return 0;
    int64_t x = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9' || x > ITR_VOCAB_MAX_IDS) return 0;
        x = x * 10 + (*p - '0');
    }
    *id = x;
    return 1;
}

static itr_status check_idx2word(const char *path, const itr_vocab *v, json_t *i2w) {
    if (!json_is_object(i2w)) return itr_fail(ITR_E_FORMAT, "%s: idx2word is not an object", path);
    const char *key;
    json_t *val;
    json_object_foreach(i2w, key, val) {
        int64_t id;
        if (!parse_id_key(key, &id))
            return itr_fail(ITR_E_FORMAT, "%s: idx2word: key '%s' is not a decimal id", path, key);
        if (!json_is_string(val))
            return itr_fail(ITR_E_FORMAT, "%s: idx2word['%s'] is not a string", path, key);
        const char *w = itr_vocab_word(v, id);
        if (!w || strcmp(w, json_string_value(val)) != 0)
            return itr_fail(ITR_E_FORMAT, "%s: idx2word['%s'] = '%s' but word2idx gives that id to '%s'",
                            path, key, json_string_value(val), w ? w : "(nothing)");
    }
    if ((int64_t)json_object_size(i2w) != v->n)
        return itr_fail(ITR_E_FORMAT, "%s: idx2word has %zu entries, word2idx %lld", path,
                        json_object_size(i2w), (long long)v->n);
    return ITR_OK;
}

static itr_status from_json(const char *path, json_t *root, itr_vocab *v) {
    if (!json_is_object(root)) return itr_fail(ITR_E_FORMAT, "%s: not a JSON object", path);
    json_t *w2i = json_object_get(root, "word2idx");
    if (!w2i) return itr_fail(ITR_E_KEY, "%s: no 'word2idx'", path);
    if (!json_is_object(w2i)) return itr_fail(ITR_E_FORMAT, "%s: word2idx is not an object", path);
    const char *word;
    json_t *val;
    json_object_foreach(w2i, word, val) {
        if (!json_is_integer(val))
            return itr_fail(ITR_E_FORMAT, "%s: word2idx['%s'] is not an integer", path, word);
        itr_status st = itr_vocab_set(v, word, (int64_t)json_integer_value(val));
        if (st) return st;
    }
    if (v->n == 0) return itr_fail(ITR_E_FORMAT, "%s: word2idx is empty", path);
    itr_status st = itr_vocab_check_dense(v);
    if (st) return st;
    json_t *i2w = json_object_get(root, "idx2word");
    if (i2w && (st = check_idx2word(path, v, i2w))) return st;
    json_t *idx = json_object_get(root, "idx");
    if (idx && (!json_is_integer(idx) || json_integer_value(idx) != v->n))
        return itr_fail(ITR_E_FORMAT, "%s: 'idx' is %s, word2idx has %lld words", path,
                        json_is_integer(idx) ? "a different count" : "not an integer", (long long)v->n);
    itr_vocab_find_specials(v);
    return itr_vocab_require_specials(v);
}

itr_status itr_vocab_load_json(const char *path, itr_vocab *v) {
    itr_vocab_init(v);
    char *data;
    size_t n;
    itr_status st = itr_text_read_file(path, &data, &n);
    if (st) return st;
    json_error_t err;
    json_t *root = json_loadb(data, n, JSON_REJECT_DUPLICATES, &err);
    free(data);
    if (!root)
        return itr_fail(ITR_E_FORMAT, "%s: invalid JSON at line %d column %d: %s", path, err.line,
                        err.column, err.text);
    if (!(v->source = itr_text_strndup(path, strlen(path)))) st = itr_fail(ITR_E_NOMEM, "out of memory");
    if (!st) st = from_json(path, root, v);
    json_decref(root);
    if (st) itr_vocab_free(v);
    return st;
}
