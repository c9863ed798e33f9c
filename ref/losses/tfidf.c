/* tfidf.c - scikit-learn CountVectorizer() + TfidfTransformer() with their
 * defaults, over a corpus of caption lines (VSL data.py tfidf_compute;
 * specs/losses_vsl_lseh.md s1.2). Kept sparse (Q-VSL-4): values are those
 * of upstream's dense float64 matrix.
 *
 *   tf[r,t]  = count of term t in line r
 *   idf[t]   = ln((1 + n) / (1 + df[t])) + 1          (smooth_idf)
 *   x[r,t]   = tf * idf, then x[r,:] /= ||x[r,:]||_2  (a zero row stays 0)
 *   columns  = vocabulary sorted by code point (sklearn's _sort_features)
 * sklearn sums the squares of a row in the order its sparse entries are
 * stored: ascending order of the term's first appearance in the corpus
 * (indices sorted before the alphabetical remap); we do the same. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "loss_internal.h"

/* ---- a growable vocabulary: open-addressing hash of term -> id ----------- */

typedef struct vocab_map {
    char **terms;        /* id -> term (first-appearance order) */
    int64_t n, cap;
    int64_t *slots;      /* hash slots holding id + 1, 0 = empty  */
    int64_t nslots;
} vocab_map;

static uint64_t fnv1a(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

static char *copy_string(const char *s, size_t n) {
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

static itr_status vocab_grow_slots(vocab_map *v) {
    int64_t ns = v->nslots ? 2 * v->nslots : 1024;
    int64_t *sl = calloc((size_t)ns, sizeof *sl);
    if (!sl) return itr_fail(ITR_E_NOMEM, "tfidf: out of memory (vocabulary hash)");
    for (int64_t id = 0; id < v->n; id++) {
        uint64_t h = fnv1a(v->terms[id], strlen(v->terms[id]));
        int64_t k = (int64_t)(h & (uint64_t)(ns - 1));
        while (sl[k]) k = (k + 1) & (ns - 1);
        sl[k] = id + 1;
    }
    free(v->slots);
    v->slots = sl;
    v->nslots = ns;
    return ITR_OK;
}

/* Id of `term`, inserting it (next id) when new. */
static itr_status vocab_id(vocab_map *v, const char *term, size_t n, int64_t *id) {
    itr_status st;
    if (2 * (v->n + 1) > v->nslots && (st = vocab_grow_slots(v))) return st;
    int64_t k = (int64_t)(fnv1a(term, n) & (uint64_t)(v->nslots - 1));
    while (v->slots[k]) {
        const char *t = v->terms[v->slots[k] - 1];
        if (strlen(t) == n && memcmp(t, term, n) == 0) {
            *id = v->slots[k] - 1;
            return ITR_OK;
        }
        k = (k + 1) & (v->nslots - 1);
    }
    if (v->n == v->cap) {
        int64_t cap = v->cap ? 2 * v->cap : 256;
        char **tt = realloc(v->terms, (size_t)cap * sizeof *tt);
        if (!tt) return itr_fail(ITR_E_NOMEM, "tfidf: out of memory (vocabulary)");
        v->terms = tt;
        v->cap = cap;
    }
    char *copy = copy_string(term, n);
    if (!copy) return itr_fail(ITR_E_NOMEM, "tfidf: out of memory (term)");
    v->terms[v->n] = copy;
    v->slots[k] = v->n + 1;
    *id = v->n++;
    return ITR_OK;
}

static void vocab_free(vocab_map *v) {
    for (int64_t i = 0; i < v->n; i++) free(v->terms[i]);
    free(v->terms);
    free(v->slots);
    memset(v, 0, sizeof *v);
}

/* ---- growable int64 arrays ---------------------------------------------- */

typedef struct i64_vec {
    int64_t *a;
    int64_t n, cap;
} i64_vec;

static itr_status vec_push(i64_vec *v, int64_t x) {
    if (v->n == v->cap) {
        int64_t cap = v->cap ? 2 * v->cap : 64;
        int64_t *p = realloc(v->a, (size_t)cap * sizeof *p);
        if (!p) return itr_fail(ITR_E_NOMEM, "tfidf: out of memory (%lld entries)", (long long)cap);
        v->a = p;
        v->cap = cap;
    }
    v->a[v->n++] = x;
    return ITR_OK;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* ---- tokenising the corpus ---------------------------------------------- */

typedef struct doc_ctx {
    vocab_map *vocab;
    i64_vec *ids;        /* the current document's term ids */
} doc_ctx;

static itr_status on_token(const char *tok, size_t n, void *ctx) {
    doc_ctx *d = ctx;
    int64_t id = -1;
    itr_status st = vocab_id(d->vocab, tok, n, &id);
    return st ? st : vec_push(d->ids, id);
}

/* Alphabetical column order: sort the terms by their strings (byte order of
 * UTF-8 equals code point order, as Python's sorted() on str). */
typedef struct term_ref { const char *s; int64_t id; } term_ref;
static int cmp_term_ref(const void *a, const void *b) {
    return strcmp(((const term_ref *)a)->s, ((const term_ref *)b)->s);
}

typedef struct entry { int64_t col; double val; } entry;
static int cmp_entry(const void *a, const void *b) {
    int64_t x = ((const entry *)a)->col, y = ((const entry *)b)->col;
    return (x > y) - (x < y);
}

itr_status itr_tfidf_fit_transform(const char *const *docs, int64_t n_docs,
                                   const itr_text_class *cls, itr_tfidf *out) {
    if (!docs || !out) return itr_fail(ITR_E_ARG, "itr_tfidf_fit_transform: NULL argument");
    memset(out, 0, sizeof *out);
    if (n_docs <= 0)
        return itr_fail(ITR_E_SHAPE, "itr_tfidf_fit_transform: %lld documents, need >= 1",
                        (long long)n_docs);
    vocab_map vocab;
    memset(&vocab, 0, sizeof vocab);
    i64_vec ids = {0}, row_ptr = {0}, terms = {0}, counts = {0};
    int64_t *df = NULL, *rank = NULL;
    term_ref *order = NULL;
    double *idf = NULL;
    entry *row = NULL;
    itr_status st = vec_push(&row_ptr, 0);
    /* 1. counts per line, entries in ascending first-appearance id */
    for (int64_t r = 0; r < n_docs && !st; r++) {
        if (!docs[r]) {
            st = itr_fail(ITR_E_ARG, "itr_tfidf_fit_transform: document %lld is NULL", (long long)r);
            break;
        }
        ids.n = 0;
        doc_ctx d = {&vocab, &ids};
        if ((st = itr_sklearn_tokenize(docs[r], strlen(docs[r]), cls, on_token, &d))) {
            itr_fail_context(st, "tfidf: caption line %lld", (long long)r);
            break;
        }
        if (ids.n > 1) qsort(ids.a, (size_t)ids.n, sizeof *ids.a, cmp_i64);
        for (int64_t k = 0; k < ids.n && !st; k++) {
            if (k > 0 && ids.a[k] == ids.a[k - 1]) {
                counts.a[counts.n - 1]++;
                continue;
            }
            if (!(st = vec_push(&terms, ids.a[k]))) st = vec_push(&counts, 1);
        }
        if (!st) st = vec_push(&row_ptr, terms.n);
    }
    if (st) goto fail;
    if (vocab.n == 0) {
        st = itr_fail(ITR_E_ARG, "itr_tfidf_fit_transform: empty vocabulary over %lld lines "
                      "(sklearn raises 'empty vocabulary')", (long long)n_docs);
        goto fail;
    }
    int64_t V = vocab.n, nnz = terms.n;
    /* 2. document frequencies and smooth idf */
    df = calloc((size_t)V, sizeof *df);
    idf = malloc((size_t)V * sizeof *idf);
    rank = malloc((size_t)V * sizeof *rank);
    order = malloc((size_t)V * sizeof *order);
    out->row_ptr = malloc((size_t)(n_docs + 1) * sizeof *out->row_ptr);
    out->col = malloc((size_t)(nnz > 0 ? nnz : 1) * sizeof *out->col);
    out->val = malloc((size_t)(nnz > 0 ? nnz : 1) * sizeof *out->val);
    out->vocab = malloc((size_t)V * sizeof *out->vocab);
    row = malloc((size_t)(nnz > 0 ? nnz : 1) * sizeof *row);
    if (!df || !idf || !rank || !order || !out->row_ptr || !out->col || !out->val ||
        !out->vocab || !row) {
        st = itr_fail(ITR_E_NOMEM, "itr_tfidf_fit_transform: out of memory (V=%lld, nnz=%lld)",
                      (long long)V, (long long)nnz);
        goto fail;
    }
    for (int64_t e = 0; e < nnz; e++) df[terms.a[e]]++;
    for (int64_t t = 0; t < V; t++)
        idf[t] = log((double)(n_docs + 1) / (double)(df[t] + 1)) + 1.0;
    /* 3. alphabetical columns */
    for (int64_t t = 0; t < V; t++) {
        order[t].s = vocab.terms[t];
        order[t].id = t;
    }
    qsort(order, (size_t)V, sizeof *order, cmp_term_ref);
    for (int64_t c = 0; c < V; c++) {
        rank[order[c].id] = c;
        out->vocab[c] = vocab.terms[order[c].id];
        vocab.terms[order[c].id] = NULL;    /* ownership moves to out */
    }
    /* 4. tf * idf, L2 rows, entries re-sorted by column */
    for (int64_t r = 0; r < n_docs; r++) {
        int64_t b = row_ptr.a[r], e = row_ptr.a[r + 1];
        double ss = 0.0;
        for (int64_t k = b; k < e; k++) {
            double v = (double)counts.a[k] * idf[terms.a[k]];
            row[k - b].col = rank[terms.a[k]];
            row[k - b].val = v;
            ss += v * v;
        }
        double norm = sqrt(ss);
        for (int64_t k = b; k < e; k++)
            if (ss != 0.0) row[k - b].val /= norm;
        qsort(row, (size_t)(e - b), sizeof *row, cmp_entry);
        out->row_ptr[r] = b;
        for (int64_t k = b; k < e; k++) {
            out->col[k] = row[k - b].col;
            out->val[k] = row[k - b].val;
        }
    }
    out->row_ptr[n_docs] = nnz;
    out->n_docs = n_docs;
    out->n_terms = V;
    goto done;
fail:
    /* nothing can fail after the terms move to out->vocab */
    free(out->vocab);
    free(out->row_ptr);
    free(out->col);
    free(out->val);
    memset(out, 0, sizeof *out);
done:
    vocab_free(&vocab);
    free(ids.a);
    free(row_ptr.a);
    free(terms.a);
    free(counts.a);
    free(df);
    free(idf);
    free(rank);
    free(order);
    free(row);
    return st;
}

void itr_tfidf_free(itr_tfidf *t) {
    if (!t) return;
    if (t->vocab)
        for (int64_t c = 0; c < t->n_terms; c++) free(t->vocab[c]);
    free(t->vocab);
    free(t->row_ptr);
    free(t->col);
    free(t->val);
    memset(t, 0, sizeof *t);
}

itr_status itr_tfidf_dense_row(const itr_tfidf *t, int64_t r, double *out) {
    if (!t || !out) return itr_fail(ITR_E_ARG, "itr_tfidf_dense_row: NULL argument");
    if (r < 0 || r >= t->n_docs)
        return itr_fail(ITR_E_ARG, "itr_tfidf_dense_row: row %lld outside [0, %lld)", (long long)r,
                        (long long)t->n_docs);
    memset(out, 0, (size_t)t->n_terms * sizeof *out);
    for (int64_t k = t->row_ptr[r]; k < t->row_ptr[r + 1]; k++) out[t->col[k]] = t->val[k];
    return ITR_OK;
}
