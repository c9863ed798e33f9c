/* pickle_text.c - the opcodes whose operands are text lines ending in "\n"
 * (protocol 0 heritage: INT, LONG, FLOAT, STRING, UNICODE, GET, PUT,
 * GLOBAL, INST). Specs formats.md s1.7.2, s5 rule 2: every line must end
 * within opts.limits.max_line bytes, holds only the expected characters,
 * and integers are parsed with overflow detection. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pickle_vm_ops.h"

/* The next line (without "\n"); fails when no "\n" within max_line bytes. */
static itr_status read_line(itr_vm *vm, const char *what, const char **s, size_t *n) {
    size_t max = vm->opts->limits.max_line, left = vm->len - vm->pos;
    size_t lim = left < max + 1 ? left : max + 1;
    const uint8_t *p = vm->buf + vm->pos;
    const uint8_t *nl = memchr(p, '\n', lim);
    if (!nl) {
        if (lim == left) return itr_vm_fail(vm, ITR_E_FORMAT, "truncated: %s line has no newline", what);
        return itr_vm_fail(vm, ITR_E_LIMIT, "%s line longer than %zu bytes", what, max);
    }
    *s = (const char *)p;
    *n = (size_t)(nl - p);
    vm->pos += *n + 1;
    return ITR_OK;
}

/* Signed decimal with optional trailing 'L' (when allow_l). */
static itr_status parse_int(itr_vm *vm, const char *s, size_t n, int allow_l, int64_t *out, const char *what) {
    size_t i = 0;
    int neg = 0;
    uint64_t v = 0;
    if (allow_l && n && (s[n - 1] == 'L' || s[n - 1] == 'l')) n--;
    while (i < n && s[i] == ' ') i++;             /* Python's int() tolerates spaces */
    while (n > i && s[n - 1] == ' ') n--;
    if (i < n && (s[i] == '-' || s[i] == '+')) neg = s[i++] == '-';
    if (i == n) return itr_vm_fail(vm, ITR_E_FORMAT, "%s: empty integer", what);
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return itr_vm_fail(vm, ITR_E_FORMAT, "%s: bad character in integer", what);
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return itr_vm_fail(vm, ITR_E_LIMIT, "%s: integer overflows 64 bits", what);
        v = v * 10 + d;
    }
    if ((!neg && v > (uint64_t)INT64_MAX) || (neg && v > (uint64_t)INT64_MAX + 1))
        return itr_vm_fail(vm, ITR_E_LIMIT, "%s: integer overflows 64 bits", what);
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return ITR_OK;
}

static itr_status op_float(itr_vm *vm) {
    const char *s = NULL;
    size_t n = 0;
    char tmp[320];
    itr_status st = read_line(vm, "FLOAT", &s, &n);
    if (st) return st;
    if (n == 0 || n >= sizeof tmp) return itr_vm_fail(vm, ITR_E_FORMAT, "FLOAT: bad length");
    for (size_t i = 0; i < n; i++)
        if (!strchr("0123456789+-.eEnaifNAIF", s[i]) || s[i] == '\0')
            return itr_vm_fail(vm, ITR_E_FORMAT, "FLOAT: bad character");
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    char *end = NULL;
    double d = strtod(tmp, &end);
    if (end != tmp + n) return itr_vm_fail(vm, ITR_E_FORMAT, "FLOAT: not a number");
    itr_pyobj *o = itr_py_new(vm->arena, ITR_PY_FLOAT);
    if (o) o->u.f = d;
    return itr_vm_push(vm, o);
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* STRING: a quoted Python 2 literal with backslash escapes -> py2str. */
static itr_status op_string(itr_vm *vm) {
    const char *s = NULL;
    size_t n = 0;
    itr_status st = read_line(vm, "STRING", &s, &n);
    if (st) return st;
    if (n < 2 || (s[0] != '\'' && s[0] != '"') || s[n - 1] != s[0])
        return itr_vm_fail(vm, ITR_E_FORMAT, "STRING: operand is not quoted");
    uint8_t *out = itr_pyarena_alloc(vm->arena, n);   /* decoding never grows */
    size_t j = 0;
    if (!out) return ITR_E_LIMIT;
    for (size_t i = 1; i + 1 < n; i++) {
        char c = s[i];
        if (c == '\\' && i + 2 < n) {
            char e = s[++i];
            switch (e) {
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case 'r': c = '\r'; break;
            case 'a': c = '\a'; break;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'v': c = '\v'; break;
            case '\\': case '\'': case '"': c = e; break;
            case 'x': {
                int h1 = i + 1 + 1 < n ? hexval(s[i + 1]) : -1, h2 = i + 2 + 1 < n ? hexval(s[i + 2]) : -1;
                if (h1 < 0 || h2 < 0) return itr_vm_fail(vm, ITR_E_FORMAT, "STRING: bad \\x escape");
                c = (char)(h1 * 16 + h2);
                i += 2;
                break;
            }
            default:
                if (e >= '0' && e <= '7') {
                    int v = e - '0';
                    for (int k = 0; k < 2 && i + 1 + 1 < n && s[i + 1] >= '0' && s[i + 1] <= '7'; k++)
                        v = v * 8 + (s[++i] - '0');
                    c = (char)(v & 0xFF);
                } else {
                    out[j++] = '\\';     /* unknown escapes stay verbatim */
                    c = e;
                }
            }
        }
        out[j++] = (uint8_t)c;
    }
    return itr_vm_push_py2_or(vm, ITR_PY_PY2STR, out, j);
}

static void put_utf8(uint8_t *out, size_t *j, uint32_t cp) {
    if (cp < 0x80) out[(*j)++] = (uint8_t)cp;
    else if (cp < 0x800) {
        out[(*j)++] = (uint8_t)(0xC0 | (cp >> 6));
        out[(*j)++] = (uint8_t)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out[(*j)++] = (uint8_t)(0xE0 | (cp >> 12));
        out[(*j)++] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        out[(*j)++] = (uint8_t)(0x80 | (cp & 0x3F));
    } else {
        out[(*j)++] = (uint8_t)(0xF0 | (cp >> 18));
        out[(*j)++] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
        out[(*j)++] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        out[(*j)++] = (uint8_t)(0x80 | (cp & 0x3F));
    }
}

/* UNICODE: raw-unicode-escape (bytes are Latin-1 code points; \uXXXX and
 * \UXXXXXXXX escapes) -> str. */
static itr_status op_unicode(itr_vm *vm) {
    const char *s = NULL;
    size_t n = 0;
    itr_status st = read_line(vm, "UNICODE", &s, &n);
    if (st) return st;
    if (n > ((size_t)-1 - 4) / 4) return itr_vm_fail(vm, ITR_E_LIMIT, "UNICODE: line too long");
    uint8_t *out = itr_pyarena_alloc(vm->arena, 4 * n + 4);  /* <= 4 UTF-8 bytes per input byte */
    size_t j = 0;
    if (!out) return ITR_E_LIMIT;
    for (size_t i = 0; i < n; i++) {
        uint32_t cp = (uint8_t)s[i];
        if (s[i] == '\\' && i + 1 < n && (s[i + 1] == 'u' || s[i + 1] == 'U')) {
            int digits = s[i + 1] == 'u' ? 4 : 8;
            if (n - i - 2 < (size_t)digits) return itr_vm_fail(vm, ITR_E_FORMAT, "UNICODE: short escape");
            cp = 0;
            for (int k = 0; k < digits; k++) {
                int h = hexval(s[i + 2 + (size_t)k]);
                if (h < 0) return itr_vm_fail(vm, ITR_E_FORMAT, "UNICODE: bad escape");
                cp = cp * 16 + (uint32_t)h;
            }
            if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
                return itr_vm_fail(vm, ITR_E_FORMAT, "UNICODE: code point out of range");
            i += 1 + (size_t)digits;
        }
        put_utf8(out, &j, cp);
    }
    return itr_vm_push_py2_or(vm, ITR_PY_STR, out, j);
}

static itr_status op_global(itr_vm *vm, int inst) {
    const char *m = NULL, *n = NULL;
    size_t ml = 0, nl = 0;
    itr_status st = ITR_OK;
    if ((st = read_line(vm, "GLOBAL module", &m, &ml)) || (st = read_line(vm, "GLOBAL name", &n, &nl)))
        return st;
    if ((st = itr_vm_push_global(vm, m, ml, n, nl))) return st;
    if (!inst) return ITR_OK;
    /* INST: the class (just pushed) applied to the values above the mark */
    itr_pyobj *cls = NULL, *args = NULL, *res = NULL;
    size_t base = 0;
    if ((st = itr_vm_pop(vm, &cls))) return st;
    if ((st = itr_vm_pop_mark(vm, &base))) return st;
    if (!(args = itr_py_new(vm->arena, ITR_PY_TUPLE))) return ITR_E_LIMIT;
    for (size_t i = base; i < vm->sp; i++)
        if ((st = itr_py_seq_push(args, vm->stack[i]))) return st;
    vm->sp = base;
    if ((st = itr_vm_newobj(vm, cls, args, NULL, &res))) return st;
    return itr_vm_push(vm, res);
}

itr_status itr_vm_text_op(itr_vm *vm, uint8_t op) {
    const char *s = NULL;
    size_t n = 0;
    int64_t v = 0;
    itr_status st = ITR_OK;
    switch (op) {
    case 'I':
        if ((st = read_line(vm, "INT", &s, &n))) return st;
        if (n == 2 && s[0] == '0' && (s[1] == '0' || s[1] == '1')) {   /* protocol-0 booleans */
            itr_pyobj *o = itr_py_new(vm->arena, ITR_PY_BOOL);
            if (o) o->u.i = s[1] == '1';
            return itr_vm_push(vm, o);
        }
        if ((st = parse_int(vm, s, n, 0, &v, "INT"))) return st;
        return itr_vm_push_int(vm, v);
    case 'L':
        if ((st = read_line(vm, "LONG", &s, &n))) return st;
        if ((st = parse_int(vm, s, n, 1, &v, "LONG"))) return st;
        return itr_vm_push_int(vm, v);
    case 'F': return op_float(vm);
    case 'S': return op_string(vm);
    case 'V': return op_unicode(vm);
    case 'g': case 'p':
        if ((st = read_line(vm, op == 'g' ? "GET" : "PUT", &s, &n))) return st;
        if ((st = parse_int(vm, s, n, 0, &v, op == 'g' ? "GET" : "PUT"))) return st;
        if (v < 0) return itr_vm_fail(vm, ITR_E_FORMAT, "negative memo index");
        return op == 'g' ? itr_vm_memo_get(vm, (uint64_t)v) : itr_vm_memo_put_top(vm, (uint64_t)v);
    case 'c': return op_global(vm, 0);
    case 'i': return op_global(vm, 1);
    default:
        return itr_vm_fail(vm, ITR_E_FORMAT, "unknown opcode 0x%02x", op);
    }
}
