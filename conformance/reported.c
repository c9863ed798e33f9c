/* reported.c - load and look up conformance/reported_numbers.tsv, the R@K
 * numbers the papers and READMEs report (format: include/itr/reported.h;
 * numbers from the specs' "Reported results" sections). */
#include "itr/reported.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef ITR_REPORTED_TSV
#define ITR_REPORTED_TSV "conformance/reported_numbers.tsv"
#endif

enum { N_FIELDS = 11, F_MODEL = 0, F_VARIANT = 1, F_DATASET = 2, F_NUM0 = 3, F_SOURCE = 10 };

/* Largest file accepted: the real table is ~10 KB. */
#define REPORTED_MAX_BYTES (16L * 1024 * 1024)

static const char *const FIELD_NAMES[N_FIELDS] = {"model",  "variant", "dataset", "i2t_r1",
                                                  "i2t_r5", "i2t_r10", "t2i_r1",  "t2i_r5",
                                                  "t2i_r10", "rsum",   "source"};

const char *const itr_reported_number_names[ITR_REP_N] = {"i2t_r1", "i2t_r5", "i2t_r10", "t2i_r1",
                                                          "t2i_r5", "t2i_r10", "rsum"};

static const char *const DATASETS[] = {"f30k_1k", "coco_1k", "coco_5k"};

const char *itr_reported_path(const char *flag) {
    if (flag) return flag;
    const char *env = getenv("ITR_REPORTED");
    if (env && env[0]) return env;
    return ITR_REPORTED_TSV;
}

static int lower_eq(const char *a, const char *b) {
    for (; *a && *b; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b)) return 0;
    return *a == *b;
}

static int contains(const char *hay, const char *needle) {
    size_t n = strlen(needle);
    for (; *hay; hay++) {
        size_t k = 0;
        while (k < n && hay[k] && tolower((unsigned char)hay[k]) == needle[k]) k++;
        if (k == n) return 1;
    }
    return 0;
}

const char *itr_reported_dataset(const char *data_name, int64_t n_images, int folds) {
    if (!data_name) return NULL;
    if (contains(data_name, "f30k") || contains(data_name, "flickr")) return "f30k_1k";
    if (contains(data_name, "coco")) return (folds <= 1 && n_images == 5000) ? "coco_5k" : "coco_1k";
    return NULL;
}

/* Copies field [b, e) into dst (size cap) or fails naming the field. */
static itr_status copy_field(char *dst, size_t cap, const char *b, const char *e, const char *name, int64_t line,
                             int f) {
    size_t n = (size_t)(e - b);
    if (n == 0) return itr_fail(ITR_E_FORMAT, "%s:%lld: field '%s' is empty", name, (long long)line, FIELD_NAMES[f]);
    if (n >= cap)
        return itr_fail(ITR_E_LIMIT, "%s:%lld: field '%s' is %zu bytes, at most %zu allowed", name, (long long)line,
                        FIELD_NAMES[f], n, cap - 1);
    memcpy(dst, b, n);
    dst[n] = '\0';
    return ITR_OK;
}

/* An empty number field means "not reported"; otherwise a plain decimal
 * (digits with at most one '.') within [0, limit]. */
static itr_status parse_number(const char *b, const char *e, double limit, double *v, int *has, const char *name,
                               int64_t line, int f) {
    char buf[32];
    size_t n = (size_t)(e - b);
    *has = 0;
    *v = 0.0;
    if (n == 0) return ITR_OK;
    if (n >= sizeof buf)
        return itr_fail(ITR_E_FORMAT, "%s:%lld: field '%s' is not a number (%zu bytes)", name, (long long)line,
                        FIELD_NAMES[f], n);
    memcpy(buf, b, n);
    buf[n] = '\0';
    int dots = 0, digits = 0;
    for (size_t k = 0; k < n; k++) {
        if (buf[k] == '.') dots++;
        else if (isdigit((unsigned char)buf[k])) digits++;
        else dots = 99;
    }
    if (dots > 1 || digits == 0)
        return itr_fail(ITR_E_FORMAT, "%s:%lld: field '%s' is not a number: '%s'", name, (long long)line,
                        FIELD_NAMES[f], buf);
    *v = strtod(buf, NULL);
    if (*v > limit)
        return itr_fail(ITR_E_FORMAT, "%s:%lld: field '%s' = %s is outside [0, %g]", name, (long long)line,
                        FIELD_NAMES[f], buf, limit);
    *has = 1;
    return ITR_OK;
}

/* Splits [b, e) at tabs into at most N_FIELDS fields; returns the count
 * found (N_FIELDS + 1 meaning "too many"). */
static int split_tabs(const char *b, const char *e, const char *fb[N_FIELDS], const char *fe[N_FIELDS]) {
    int n = 0;
    const char *p = b;
    for (;;) {
        const char *q = p;
        while (q < e && *q != '\t') q++;
        if (n == N_FIELDS) return N_FIELDS + 1;
        fb[n] = p;
        fe[n] = q;
        n++;
        if (q == e) return n;
        p = q + 1;
    }
}

static itr_status check_header(const char *fb[N_FIELDS], const char *fe[N_FIELDS], int nf, const char *name,
                               int64_t line) {
    if (nf != N_FIELDS)
        return itr_fail(ITR_E_FORMAT, "%s:%lld: header has %s%d tab-separated columns, expected %d (model ... source)",
                        name, (long long)line, nf > N_FIELDS ? "more than " : "", nf > N_FIELDS ? N_FIELDS : nf,
                        N_FIELDS);
    for (int f = 0; f < N_FIELDS; f++) {
        size_t n = (size_t)(fe[f] - fb[f]);
        if (n != strlen(FIELD_NAMES[f]) || memcmp(fb[f], FIELD_NAMES[f], n) != 0)
            return itr_fail(ITR_E_FORMAT, "%s:%lld: header column %d is '%.*s', expected '%s'", name, (long long)line,
                            f + 1, (int)n, fb[f], FIELD_NAMES[f]);
    }
    return ITR_OK;
}

static itr_status parse_row(const char *fb[N_FIELDS], const char *fe[N_FIELDS], int nf, const char *name,
                            int64_t line, itr_reported_row *r) {
    itr_status st;
    memset(r, 0, sizeof *r);
    r->line = line;
    if (nf != N_FIELDS)
        return itr_fail(ITR_E_FORMAT, "%s:%lld: row has %s%d tab-separated fields, expected %d", name,
                        (long long)line, nf > N_FIELDS ? "more than " : "", nf > N_FIELDS ? N_FIELDS : nf, N_FIELDS);
    if ((st = copy_field(r->model, sizeof r->model, fb[F_MODEL], fe[F_MODEL], name, line, F_MODEL)) ||
        (st = copy_field(r->variant, sizeof r->variant, fb[F_VARIANT], fe[F_VARIANT], name, line, F_VARIANT)) ||
        (st = copy_field(r->dataset, sizeof r->dataset, fb[F_DATASET], fe[F_DATASET], name, line, F_DATASET)) ||
        (st = copy_field(r->source, sizeof r->source, fb[F_SOURCE], fe[F_SOURCE], name, line, F_SOURCE)))
        return st;
    int known = 0;
    for (size_t k = 0; k < sizeof DATASETS / sizeof DATASETS[0]; k++) known |= strcmp(r->dataset, DATASETS[k]) == 0;
    if (!known)
        return itr_fail(ITR_E_FORMAT, "%s:%lld: dataset '%s' is not one of f30k_1k, coco_1k, coco_5k", name,
                        (long long)line, r->dataset);
    int any = 0;
    for (int k = 0; k < ITR_REP_N; k++) {
        double limit = k == ITR_REP_RSUM ? 600.0 : 100.0;
        st = parse_number(fb[F_NUM0 + k], fe[F_NUM0 + k], limit, &r->v[k], &r->has[k], name, line, F_NUM0 + k);
        if (st) return st;
        any |= r->has[k];
    }
    if (!any) return itr_fail(ITR_E_FORMAT, "%s:%lld: row reports no number at all", name, (long long)line);
    return ITR_OK;
}

itr_status itr_reported_parse(const char *text, size_t len, const char *name, itr_reported_table *t) {
    if (!t) return itr_fail(ITR_E_ARG, "reported: NULL table");
    t->rows = NULL;
    t->n = 0;
    if (!text) return itr_fail(ITR_E_ARG, "reported: NULL text");
    if (!name) name = "<reported>";
    size_t cap = 0;
    int seen_header = 0;
    int64_t line = 0;
    const char *p = text, *end = text + len;
    itr_status st = ITR_OK;
    while (p < end && !st) {
        const char *e = memchr(p, '\n', (size_t)(end - p));
        const char *next = e ? e + 1 : end;
        if (!e) e = end;
        if (e > p && e[-1] == '\r') e--; /* tolerate CRLF files */
        line++;
        const char *fb[N_FIELDS], *fe[N_FIELDS];
        if (e == p || *p == '#') {
            p = next;
            continue;
        }
        int nf = split_tabs(p, e, fb, fe);
        p = next;
        if (!seen_header) {
            st = check_header(fb, fe, nf, name, line);
            seen_header = 1;
            continue;
        }
        if (t->n == cap) {
            size_t nc = cap ? 2 * cap : 64;
            itr_reported_row *nr = realloc(t->rows, nc * sizeof *nr);
            if (!nr) {
                st = itr_fail(ITR_E_NOMEM, "%s: out of memory for %zu rows", name, nc);
                break;
            }
            t->rows = nr;
            cap = nc;
        }
        st = parse_row(fb, fe, nf, name, line, &t->rows[t->n]);
        if (!st) t->n++;
    }
    if (!st && !seen_header) st = itr_fail(ITR_E_FORMAT, "%s: no header line (model variant dataset ...)", name);
    if (st) itr_reported_free(t);
    return st;
}

itr_status itr_reported_load(const char *path, itr_reported_table *t) {
    if (!t) return itr_fail(ITR_E_ARG, "reported: NULL table");
    t->rows = NULL;
    t->n = 0;
    if (!path) return itr_fail(ITR_E_ARG, "reported: NULL path");
    FILE *f = fopen(path, "rb");
    if (!f) return itr_fail(ITR_E_IO, "%s: cannot open the reported-numbers table", path);
    size_t cap = 4096, n = 0; /* grows by doubling */
    char *buf = malloc(cap);
    itr_status st = buf ? ITR_OK : itr_fail(ITR_E_NOMEM, "%s: out of memory", path);
    while (!st) {
        if (n == cap) {
            if (cap >= (size_t)REPORTED_MAX_BYTES) {
                st = itr_fail(ITR_E_LIMIT, "%s: larger than %ld bytes", path, REPORTED_MAX_BYTES);
                break;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                st = itr_fail(ITR_E_NOMEM, "%s: out of memory", path);
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) st = itr_fail(ITR_E_IO, "%s: read error", path);
            break;
        }
    }
    fclose(f);
    if (!st) st = itr_reported_parse(buf, n, path, t);
    free(buf);
    return st;
}

void itr_reported_free(itr_reported_table *t) {
    if (!t) return;
    free(t->rows);
    t->rows = NULL;
    t->n = 0;
}

size_t itr_reported_find(const itr_reported_table *t, const char *model, const char *variant, const char *dataset,
                         const itr_reported_row **out, size_t max) {
    size_t found = 0;
    if (!t || !model || !dataset) return 0;
    for (size_t i = 0; i < t->n; i++) {
        const itr_reported_row *r = &t->rows[i];
        if (!lower_eq(r->model, model) || strcmp(r->dataset, dataset) != 0) continue;
        if (variant && !lower_eq(r->variant, variant)) continue;
        if (out && found < max) out[found] = r;
        found++;
    }
    return found;
}
