/* vocab.c - the word <-> id table shared by every vocabulary format
 * (formats.md s3.1), and BERT's vocab.txt (s3.4).
 *
 * Ids index `words` directly; lookups by word go through an open-addressing
 * hash of ids (FNV-1a of the word, linear probing), so the table holds no
 * second copy of the strings. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text_internal.h"

void itr_vocab_init(itr_vocab *v) {
    memset(v, 0, sizeof *v);
    v->pad_id = v->start_id = v->end_id = v->unk_id = -1;
}

void itr_vocab_free(itr_vocab *v) {
    if (!v) return;
    for (int64_t i = 0; i < v->n; i++) free(v->words[i]);
    free(v->words);
    free(v->slots);
    free(v->source);
    itr_vocab_init(v);
}

static uint64_t hash_word(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

/* Slot holding `word`, or the empty slot where it would go. */
static size_t find_slot(const itr_vocab *v, const char *word, size_t n) {
    size_t mask = v->nslots - 1, i = (size_t)hash_word(word, n) & mask;
    for (;;) {
        int64_t id = v->slots[i];
        if (id < 0) return i;
        const char *w = v->words[id];
        if (strlen(w) == n && memcmp(w, word, n) == 0) return i;
        i = (i + 1) & mask;
    }
}

static itr_status grow_slots(itr_vocab *v) {
    size_t nslots = v->nslots ? v->nslots * 2 : 1024;
    int64_t *old = v->slots;
    size_t old_n = v->nslots;
    v->slots = malloc(nslots * sizeof *v->slots);
    if (!v->slots) { v->slots = old; return itr_fail(ITR_E_NOMEM, "out of memory (vocabulary)"); }
    for (size_t i = 0; i < nslots; i++) v->slots[i] = -1;
    v->nslots = nslots;
    for (size_t i = 0; i < old_n; i++) {
        if (old[i] < 0) continue;
        const char *w = v->words[old[i]];
        v->slots[find_slot(v, w, strlen(w))] = old[i];
    }
    free(old);
    return ITR_OK;
}

itr_status itr_vocab_set(itr_vocab *v, const char *word, int64_t id) {
    const char *src = v->source ? v->source : "vocabulary";
    if (!word) return itr_fail(ITR_E_ARG, "%s: NULL word", src);
    if (id < 0 || id >= ITR_VOCAB_MAX_IDS)
        return itr_fail(ITR_E_LIMIT, "%s: word '%s': id %lld outside 0..%lld", src, word, (long long)id,
                        (long long)ITR_VOCAB_MAX_IDS - 1);
    if (id >= v->cap) {
        int64_t cap = v->cap ? v->cap : 256;
        while (cap <= id) cap *= 2;
        char **p = realloc(v->words, (size_t)cap * sizeof *p);
        if (!p) return itr_fail(ITR_E_NOMEM, "out of memory (vocabulary)");
        memset(p + v->cap, 0, (size_t)(cap - v->cap) * sizeof *p);
        v->words = p;
        v->cap = cap;
    }
    if (v->words[id])
        return itr_fail(ITR_E_FORMAT, "%s: id %lld given to both '%s' and '%s'", src, (long long)id,
                        v->words[id], word);
    if ((v->used + 1) * 2 > v->nslots) {
        itr_status st = grow_slots(v);
        if (st) return st;
    }
    char *copy = itr_text_strndup(word, strlen(word));
    if (!copy) return itr_fail(ITR_E_NOMEM, "out of memory (vocabulary)");
    v->words[id] = copy;
    if (id >= v->n) v->n = id + 1;
    size_t slot = find_slot(v, word, strlen(word));
    if (v->slots[slot] < 0) v->used++;
    v->slots[slot] = id;                    /* a repeated word: the later id wins */
    return ITR_OK;
}

itr_status itr_vocab_append(itr_vocab *v, const char *word, int64_t *id) {
    int64_t next = v->n;
    itr_status st = itr_vocab_set(v, word, next);
    if (!st && id) *id = next;
    return st;
}

int64_t itr_vocab_id_n(const itr_vocab *v, const char *word, size_t len) {
    if (!v->nslots) return -1;
    return v->slots[find_slot(v, word, len)];
}

int64_t itr_vocab_id(const itr_vocab *v, const char *word) {
    return itr_vocab_id_n(v, word, strlen(word));
}

const char *itr_vocab_word(const itr_vocab *v, int64_t id) {
    return id >= 0 && id < v->n ? v->words[id] : NULL;
}

void itr_vocab_find_specials(itr_vocab *v) {
    v->pad_id = itr_vocab_id(v, "<pad>");
    v->start_id = itr_vocab_id(v, "<start>");
    v->end_id = itr_vocab_id(v, "<end>");
    v->unk_id = itr_vocab_id(v, "<unk>");
}

itr_status itr_vocab_require_specials(const itr_vocab *v) {
    const char *src = v->source ? v->source : "vocabulary";
    if (v->start_id < 0) return itr_fail(ITR_E_KEY, "%s: vocabulary has no '<start>'", src);
    if (v->end_id < 0) return itr_fail(ITR_E_KEY, "%s: vocabulary has no '<end>'", src);
    if (v->unk_id < 0) return itr_fail(ITR_E_KEY, "%s: vocabulary has no '<unk>'", src);
    if (v->pad_id > 0)
        return itr_fail(ITR_E_FORMAT, "%s: '<pad>' has id %lld; padding uses id 0", src, (long long)v->pad_id);
    return ITR_OK;
}

itr_status itr_vocab_check_dense(const itr_vocab *v) {
    for (int64_t i = 0; i < v->n; i++)
        if (!v->words[i])
            return itr_fail(ITR_E_FORMAT, "%s: word2idx: no word has id %lld (ids must be 0..%lld)",
                            v->source, (long long)i, (long long)v->n - 1);
    return ITR_OK;
}

itr_status itr_vocab_load_txt(const char *path, itr_vocab *v) {
    itr_vocab_init(v);
    char *data;
    size_t n;
    itr_status st = itr_text_read_file(path, &data, &n);
    if (st) return st;
    size_t bad;
    if (!itr_utf8_check(data, n, &bad)) {
        free(data);
        return itr_fail(ITR_E_FORMAT, "%s: invalid UTF-8 at byte %zu", path, bad);
    }
    if (!(v->source = itr_text_strndup(path, strlen(path)))) { free(data); return itr_fail(ITR_E_NOMEM, "out of memory"); }
    int64_t id = 0;
    for (size_t i = 0; i < n && !st; id++) {
        char *nl = memchr(data + i, '\n', n - i);
        size_t end = nl ? (size_t)(nl - data) : n;
        data[end] = '\0';                        /* only the '\n' goes */
        st = itr_vocab_set(v, data + i, id);
        i = end + 1;
    }
    free(data);
    if (!st && v->n == 0) st = itr_fail(ITR_E_FORMAT, "%s: empty vocabulary", path);
    if (st) { itr_vocab_free(v); return st; }
    itr_vocab_find_specials(v);
    return ITR_OK;
}

itr_status itr_vocab_load(const char *path, itr_vocab *v) {
    itr_vocab_init(v);
    FILE *fp = path ? fopen(path, "rb") : NULL;
    if (!fp) return itr_fail(ITR_E_IO, "%s: cannot open file", path ? path : "(null)");
    int c;
    do { c = fgetc(fp); } while (c == ' ' || c == '\t' || c == '\n' || c == '\r');
    fclose(fp);
    if (c == '{') return itr_vocab_load_json(path, v);
    if (c == 0x80) return itr_vocab_load_pickle(path, v);
    return itr_fail(ITR_E_FORMAT, "%s: neither a JSON vocabulary ('{') nor a pickle (0x80)", path);
}
