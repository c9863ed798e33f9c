/* pickle_vm.c - the pickle virtual machine (specs formats.md s1.7).
 *
 * One opcode byte at a time, each with a fixed operand layout, acting on a
 * value stack, a mark stack and a memo. Every operand length is checked
 * against the bytes remaining before anything is allocated, every stack and
 * memo access is bounds-checked, and the stack, mark and memo sizes are
 * capped (s5 rules 2-3). Calls (REDUCE, NEWOBJ, BUILD, ...) are delegated to
 * pickle_reduce.c / pickle_build.c which accept only whitelisted globals.
 * Text-operand opcodes (protocol 0) live in pickle_text.c. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pickle_internal.h"
#include "pickle_vm_ops.h"

itr_status itr_vm_fail(const itr_vm *vm, itr_status s, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return itr_fail(s, "%s: pickle offset %zu: %s", vm->src, vm->op_pos, msg);
}

/* ---------------------------------------------------------------- operands */

itr_status itr_vm_need(itr_vm *vm, size_t n, const char *what) {
    if (vm->len - vm->pos < n)
        return itr_vm_fail(vm, ITR_E_FORMAT, "truncated: %s needs %zu bytes, %zu left", what, n,
                           vm->len - vm->pos);
    return ITR_OK;
}

uint64_t itr_vm_le(itr_vm *vm, int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; i++) v |= (uint64_t)vm->buf[vm->pos + (size_t)i] << (8 * i);
    vm->pos += (size_t)n;
    return v;
}

/* ---------------------------------------------------------------- stacks */

static size_t fence(const itr_vm *vm) { return vm->nmarks ? vm->marks[vm->nmarks - 1] : 0; }

itr_status itr_vm_push(itr_vm *vm, itr_pyobj *o) {
    if (!o) return ITR_E_LIMIT;      /* a failed constructor already set the message */
    if (vm->sp == vm->stack_cap) {
        const itr_pickle_limits *l = &vm->opts->limits;
        if (vm->stack_cap >= l->max_stack)
            return itr_vm_fail(vm, ITR_E_LIMIT, "value stack deeper than %zu", l->max_stack);
        size_t cap = vm->stack_cap ? 2 * vm->stack_cap : 64;
        if (cap > l->max_stack) cap = l->max_stack;
        itr_pyobj **s = realloc(vm->stack, cap * sizeof *s);
        if (!s) return itr_vm_fail(vm, ITR_E_NOMEM, "out of memory growing the stack");
        vm->stack = s;
        vm->stack_cap = cap;
    }
    vm->stack[vm->sp++] = o;
    return ITR_OK;
}

itr_status itr_vm_pop(itr_vm *vm, itr_pyobj **o) {
    if (vm->sp <= fence(vm))
        return itr_vm_fail(vm, ITR_E_FORMAT, "stack underflow (empty stack or popping past a mark)");
    *o = vm->stack[--vm->sp];
    return ITR_OK;
}

itr_status itr_vm_top(itr_vm *vm, itr_pyobj **o) {
    if (vm->sp <= fence(vm)) return itr_vm_fail(vm, ITR_E_FORMAT, "stack underflow (no value on top)");
    *o = vm->stack[vm->sp - 1];
    return ITR_OK;
}

static itr_status push_mark(itr_vm *vm) {
    if (vm->nmarks == vm->marks_cap) {
        size_t max = vm->opts->limits.max_marks;
        if (vm->marks_cap >= max) return itr_vm_fail(vm, ITR_E_LIMIT, "more than %zu nested marks", max);
        size_t cap = vm->marks_cap ? 2 * vm->marks_cap : 16;
        if (cap > max) cap = max;
        size_t *m = realloc(vm->marks, cap * sizeof *m);
        if (!m) return itr_vm_fail(vm, ITR_E_NOMEM, "out of memory growing the mark stack");
        vm->marks = m;
        vm->marks_cap = cap;
    }
    vm->marks[vm->nmarks++] = vm->sp;
    return ITR_OK;
}

itr_status itr_vm_pop_mark(itr_vm *vm, size_t *base) {
    if (!vm->nmarks) return itr_vm_fail(vm, ITR_E_FORMAT, "no MARK on the mark stack");
    *base = vm->marks[--vm->nmarks];
    return ITR_OK;
}

/* ---------------------------------------------------------------- memo */

static itr_status memo_put(itr_vm *vm, uint64_t idx, itr_pyobj *v) {
    if (idx > 0xFFFFFFFFu) return itr_vm_fail(vm, ITR_E_LIMIT, "memo index %llu too large",
                                              (unsigned long long)idx);
    uint32_t k = (uint32_t)idx;
    if (2 * (vm->memo_n + 1) > vm->memo_cap) {          /* keep the load under 1/2 */
        size_t cap = vm->memo_cap ? 2 * vm->memo_cap : 64;
        itr_memo_slot *m = calloc(cap, sizeof *m);
        if (!m) return itr_vm_fail(vm, ITR_E_NOMEM, "out of memory growing the memo");
        for (size_t i = 0; i < vm->memo_cap; i++) {
            if (!vm->memo[i].val) continue;
            size_t s = (vm->memo[i].key * 2654435761u) & (cap - 1);
            while (m[s].val) s = (s + 1) & (cap - 1);
            m[s] = vm->memo[i];
        }
        free(vm->memo);
        vm->memo = m;
        vm->memo_cap = cap;
    }
    size_t s = (k * 2654435761u) & (vm->memo_cap - 1);
    while (vm->memo[s].val && vm->memo[s].key != k) s = (s + 1) & (vm->memo_cap - 1);
    if (!vm->memo[s].val) {
        if (vm->memo_n >= vm->opts->limits.max_memo)
            return itr_vm_fail(vm, ITR_E_LIMIT, "more than %zu memo entries", vm->opts->limits.max_memo);
        vm->memo_n++;
    }
    vm->memo[s].key = k;
    vm->memo[s].val = v;
    return ITR_OK;
}

static itr_status memo_get(itr_vm *vm, uint64_t idx) {
    if (vm->memo_cap && idx <= 0xFFFFFFFFu) {
        uint32_t k = (uint32_t)idx;
        size_t s = (k * 2654435761u) & (vm->memo_cap - 1);
        while (vm->memo[s].val) {
            if (vm->memo[s].key == k) return itr_vm_push(vm, vm->memo[s].val);
            s = (s + 1) & (vm->memo_cap - 1);
        }
    }
    return itr_vm_fail(vm, ITR_E_FORMAT, "memo GET of missing index %llu", (unsigned long long)idx);
}

itr_status itr_vm_memo_put_top(itr_vm *vm, uint64_t idx) {
    itr_pyobj *top = NULL;
    itr_status st = itr_vm_top(vm, &top);
    return st ? st : memo_put(vm, idx, top);
}

itr_status itr_vm_memo_get(itr_vm *vm, uint64_t idx) { return memo_get(vm, idx); }

/* ---------------------------------------------------------------- builders */

/* Pops the items above the last mark into a new LIST/TUPLE/SET. */
static itr_status items_to_seq(itr_vm *vm, itr_pykind kind) {
    size_t base = 0;
    itr_status st = itr_vm_pop_mark(vm, &base);
    if (st) return st;
    itr_pyobj *s = itr_py_new(vm->arena, kind);
    if (!s) return ITR_E_LIMIT;
    for (size_t i = base; i < vm->sp; i++)
        if ((st = itr_py_seq_push(s, vm->stack[i]))) return st;
    vm->sp = base;
    return itr_vm_push(vm, s);
}

itr_status itr_vm_tuple_n(itr_vm *vm, size_t n) {
    if (vm->sp - fence(vm) < n) return itr_vm_fail(vm, ITR_E_FORMAT, "stack underflow building a %zu-tuple", n);
    itr_pyobj *t = itr_py_new(vm->arena, ITR_PY_TUPLE);
    if (!t) return ITR_E_LIMIT;
    itr_status st = ITR_OK;
    for (size_t i = vm->sp - n; i < vm->sp; i++)
        if ((st = itr_py_seq_push(t, vm->stack[i]))) return st;
    vm->sp -= n;
    return itr_vm_push(vm, t);
}

/* SETITEMS / DICT: pairs above the mark into dict d. */
static itr_status pairs_into(itr_vm *vm, itr_pyobj *d, size_t base) {
    if ((vm->sp - base) % 2)
        return itr_vm_fail(vm, ITR_E_FORMAT, "odd number of items (%zu) for key/value pairs", vm->sp - base);
    for (size_t i = base; i < vm->sp; i += 2) {
        itr_status st = itr_py_dict_set(d, vm->stack[i], vm->stack[i + 1]);
        if (st) return st;
    }
    vm->sp = base;
    return ITR_OK;
}

static itr_status op_setitems(itr_vm *vm, int many) {
    itr_status st = ITR_OK;
    size_t base = 0;
    if (many) {
        if ((st = itr_vm_pop_mark(vm, &base))) return st;
    } else {
        if (vm->sp < fence(vm) + 2) return itr_vm_fail(vm, ITR_E_FORMAT, "stack underflow in SETITEM");
        base = vm->sp - 2;
    }
    if (base <= fence(vm)) return itr_vm_fail(vm, ITR_E_FORMAT, "SETITEM(S) without a target dict");
    itr_pyobj *d = vm->stack[base - 1];
    if (d->kind != ITR_PY_DICT)
        return itr_vm_fail(vm, ITR_E_FORMAT, "SETITEM(S) on a %s, not a dict", itr_py_type_name(d));
    return pairs_into(vm, d, base);
}

static itr_status op_appends(itr_vm *vm, int many, itr_pykind want) {
    itr_status st = ITR_OK;
    size_t base = 0;
    if (many) {
        if ((st = itr_vm_pop_mark(vm, &base))) return st;
    } else {
        if (vm->sp < fence(vm) + 1) return itr_vm_fail(vm, ITR_E_FORMAT, "stack underflow in APPEND");
        base = vm->sp - 1;
    }
    if (base <= fence(vm)) return itr_vm_fail(vm, ITR_E_FORMAT, "APPEND(S)/ADDITEMS without a target");
    itr_pyobj *l = vm->stack[base - 1];
    if (l->kind != want)
        return itr_vm_fail(vm, ITR_E_FORMAT, "%s on a %s", want == ITR_PY_LIST ? "APPEND(S)" : "ADDITEMS",
                           itr_py_type_name(l));
    for (size_t i = base; i < vm->sp; i++)
        if ((st = itr_py_seq_push(l, vm->stack[i]))) return st;
    vm->sp = base;
    return ITR_OK;
}

/* A length-prefixed operand (string, bytes) of lenbytes LE bytes. */
static itr_status op_counted(itr_vm *vm, int lenbytes, int is_signed, itr_pykind kind, const char *what) {
    itr_status st = itr_vm_need(vm, (size_t)lenbytes, what);
    if (st) return st;
    uint64_t n = itr_vm_le(vm, lenbytes);
    if (is_signed && (n & 0x80000000u))
        return itr_vm_fail(vm, ITR_E_FORMAT, "%s: negative length", what);
    if (n > vm->len - vm->pos)
        return itr_vm_fail(vm, ITR_E_FORMAT, "truncated: %s of %llu bytes, %zu left", what,
                           (unsigned long long)n, vm->len - vm->pos);
    const uint8_t *p = vm->buf + vm->pos;
    vm->pos += (size_t)n;
    if (kind == ITR_PY_STR && !itr_utf8_valid(p, (size_t)n))
        return itr_vm_fail(vm, ITR_E_FORMAT, "%s: invalid UTF-8", what);
    return itr_vm_push_py2_or(vm, kind, p, (size_t)n);
}

/* Pushes a string-like value; kind ITR_PY_PY2STR honours opts.py2str. */
itr_status itr_vm_push_py2_or(itr_vm *vm, itr_pykind kind, const uint8_t *p, size_t n) {
    if (kind == ITR_PY_PY2STR) {
        if (vm->opts->py2str == ITR_PY2STR_BYTES) kind = ITR_PY_BYTES;
        else if (vm->opts->py2str == ITR_PY2STR_LATIN1) {
            itr_pyobj *o = itr_py_new(vm->arena, ITR_PY_STR);
            if (!o) return ITR_E_LIMIT;
            char *t = itr_latin1_to_utf8(vm->arena, p, n);
            if (!t) return ITR_E_LIMIT;
            o->u.bytes.data = (uint8_t *)t;
            o->u.bytes.len = strlen(t);
            o->u.bytes.text = t;
            return itr_vm_push(vm, o);
        }
    }
    return itr_vm_push(vm, itr_py_new_bytes(vm->arena, kind, p, n));
}

itr_status itr_vm_push_int(itr_vm *vm, int64_t v) {
    itr_pyobj *o = itr_py_new(vm->arena, ITR_PY_INT);
    if (o) o->u.i = v;
    return itr_vm_push(vm, o);
}

static itr_status push_simple(itr_vm *vm, itr_pykind k, int64_t v) {
    itr_pyobj *o = itr_py_new(vm->arena, k);
    if (o) o->u.i = v;
    return itr_vm_push(vm, o);
}

/* LONG1 / LONG4: n bytes of two's complement, little-endian. */
static itr_status op_long(itr_vm *vm, int lenbytes) {
    itr_status st = itr_vm_need(vm, (size_t)lenbytes, "LONG length");
    if (st) return st;
    uint64_t n = itr_vm_le(vm, lenbytes);
    if (lenbytes == 4 && (n & 0x80000000u)) return itr_vm_fail(vm, ITR_E_FORMAT, "LONG4: negative length");
    if (n > vm->opts->limits.max_long_bytes)
        return itr_vm_fail(vm, ITR_E_LIMIT, "LONG of %llu bytes (limit %zu)", (unsigned long long)n,
                           vm->opts->limits.max_long_bytes);
    if ((st = itr_vm_need(vm, (size_t)n, "LONG payload"))) return st;
    const uint8_t *p = vm->buf + vm->pos;
    vm->pos += (size_t)n;
    /* drop redundant sign-extension bytes, then fit into int64 if possible */
    size_t len = (size_t)n;
    while (len > 1 && ((p[len - 1] == 0x00 && !(p[len - 2] & 0x80)) ||
                       (p[len - 1] == 0xFF && (p[len - 2] & 0x80))))
        len--;
    if (len <= 8) {
        uint64_t u = 0;
        for (size_t i = 0; i < len; i++) u |= (uint64_t)p[i] << (8 * i);
        if (len && len < 8 && (p[len - 1] & 0x80)) u |= ~(uint64_t)0 << (8 * len);
        int64_t v = 0;
        memcpy(&v, &u, sizeof v);
        return itr_vm_push_int(vm, len ? v : 0);
    }
    return itr_vm_push(vm, itr_py_new_bytes(vm->arena, ITR_PY_BIGINT, p, (size_t)n));
}

static itr_status op_binfloat(itr_vm *vm) {
    itr_status st = itr_vm_need(vm, 8, "BINFLOAT");
    if (st) return st;
    uint64_t u = 0;
    for (int i = 0; i < 8; i++) u = (u << 8) | vm->buf[vm->pos + (size_t)i];   /* big-endian */
    vm->pos += 8;
    itr_pyobj *o = itr_py_new(vm->arena, ITR_PY_FLOAT);
    if (o) memcpy(&o->u.f, &u, sizeof o->u.f);
    return itr_vm_push(vm, o);
}

itr_status itr_vm_push_global(itr_vm *vm, const char *mod, size_t ml, const char *name, size_t nl) {
    itr_global_info g;
    itr_status st = itr_global_lookup(mod, ml, name, nl, &g);
    itr_pyobj *o = NULL;
    if (st) {
        if (!vm->opts->lenient_globals || st != ITR_E_UNSUPPORTED)
            return itr_fail_context(st, "%s: pickle offset %zu", vm->src, vm->op_pos);
        /* lenient listing mode: an inert placeholder that no call accepts */
        itr_pyobj *m = itr_py_new_str(vm->arena, mod, ml), *n = itr_py_new_str(vm->arena, name, nl);
        if (!m || !n || !(o = itr_py_new(vm->arena, ITR_PY_GLOBAL))) return ITR_E_LIMIT;
        o->u.global.id = ITR_G_UNKNOWN;
        o->u.global.module = m->u.bytes.text;
        o->u.global.name = n->u.bytes.text;
        return itr_vm_push(vm, o);
    }
    if (!(o = itr_py_new(vm->arena, ITR_PY_GLOBAL))) return ITR_E_LIMIT;
    o->u.global.id = g.id;
    o->u.global.module = g.module;
    o->u.global.name = g.name;
    o->u.global.dtype = g.dtype;
    o->u.global.supported = g.supported;
    return itr_vm_push(vm, o);
}

static itr_status op_stack_global(itr_vm *vm) {
    itr_pyobj *name = NULL, *mod = NULL;
    itr_status st = ITR_OK;
    if ((st = itr_vm_pop(vm, &name)) || (st = itr_vm_pop(vm, &mod))) return st;
    if ((name->kind != ITR_PY_STR && name->kind != ITR_PY_PY2STR) ||
        (mod->kind != ITR_PY_STR && mod->kind != ITR_PY_PY2STR))
        return itr_vm_fail(vm, ITR_E_FORMAT, "STACK_GLOBAL needs two strings");
    return itr_vm_push_global(vm, (const char *)mod->u.bytes.data, mod->u.bytes.len,
                              (const char *)name->u.bytes.data, name->u.bytes.len);
}

static itr_status op_persid(itr_vm *vm) {
    itr_pyobj *pid = NULL, *res = NULL;
    itr_status st = itr_vm_pop(vm, &pid);
    if (st) return st;
    if (!vm->opts->persistent_load)
        return itr_vm_fail(vm, ITR_E_UNSUPPORTED, "BINPERSID: persistent ids are not allowed here");
    st = vm->opts->persistent_load(vm->opts->persistent_ctx, vm->arena, pid, &res);
    if (st) return itr_fail_context(st, "%s: pickle offset %zu: BINPERSID", vm->src, vm->op_pos);
    if (!res || res->arena != vm->arena)
        return itr_vm_fail(vm, ITR_E_INTERNAL, "persistent_load returned no value of this arena");
    return itr_vm_push(vm, res);
}

/* REDUCE / NEWOBJ / NEWOBJ_EX / OBJ / BUILD */
static itr_status op_call(itr_vm *vm, uint8_t op) {
    itr_pyobj *a = NULL, *b = NULL, *c = NULL, *res = NULL;
    itr_status st = ITR_OK;
    size_t base = 0;
    switch (op) {
    case 'R':
        if ((st = itr_vm_pop(vm, &a)) || (st = itr_vm_pop(vm, &b))) return st;
        if (a->kind != ITR_PY_TUPLE) return itr_vm_fail(vm, ITR_E_FORMAT, "REDUCE arguments are not a tuple");
        st = itr_vm_reduce(vm, b, a, &res);
        break;
    case 0x81:
        if ((st = itr_vm_pop(vm, &a)) || (st = itr_vm_pop(vm, &b))) return st;
        st = itr_vm_newobj(vm, b, a, NULL, &res);
        break;
    case 0x92:
        if ((st = itr_vm_pop(vm, &c)) || (st = itr_vm_pop(vm, &a)) || (st = itr_vm_pop(vm, &b))) return st;
        st = itr_vm_newobj(vm, b, a, c, &res);
        break;
    case 'o':
        if ((st = itr_vm_pop_mark(vm, &base))) return st;
        if (vm->sp == base) return itr_vm_fail(vm, ITR_E_FORMAT, "OBJ without a class");
        b = vm->stack[base];
        if (!(a = itr_py_new(vm->arena, ITR_PY_TUPLE))) return ITR_E_LIMIT;
        for (size_t i = base + 1; i < vm->sp; i++)
            if ((st = itr_py_seq_push(a, vm->stack[i]))) return st;
        vm->sp = base;
        st = itr_vm_newobj(vm, b, a, NULL, &res);
        break;
    default: /* 'b' BUILD */
        if ((st = itr_vm_pop(vm, &a)) || (st = itr_vm_top(vm, &b))) return st;
        if ((st = itr_vm_build(vm, b, a, &res))) return st;
        if (res) vm->stack[vm->sp - 1] = res;
        return ITR_OK;
    }
    return st ? st : itr_vm_push(vm, res);
}

/* ---------------------------------------------------------------- loop */

static itr_status step(itr_vm *vm, uint8_t op, int *stop) {
    itr_status st = ITR_OK;
    itr_pyobj *o = NULL;
    size_t base = 0;
    switch (op) {
    case '(': return push_mark(vm);
    case '.': *stop = 1; return ITR_OK;
    case '0':
        if (vm->sp > fence(vm)) { vm->sp--; return ITR_OK; }
        return itr_vm_pop_mark(vm, &base);
    case '1':
        if ((st = itr_vm_pop_mark(vm, &base))) return st;
        vm->sp = base;
        return ITR_OK;
    case '2': return (st = itr_vm_top(vm, &o)) ? st : itr_vm_push(vm, o);
    case 'J':
        if ((st = itr_vm_need(vm, 4, "BININT"))) return st;
        return itr_vm_push_int(vm, (int64_t)(int32_t)(uint32_t)itr_vm_le(vm, 4));
    case 'K':
        if ((st = itr_vm_need(vm, 1, "BININT1"))) return st;
        return itr_vm_push_int(vm, (int64_t)itr_vm_le(vm, 1));
    case 'M':
        if ((st = itr_vm_need(vm, 2, "BININT2"))) return st;
        return itr_vm_push_int(vm, (int64_t)itr_vm_le(vm, 2));
    case 'N': return push_simple(vm, ITR_PY_NONE, 0);
    case 0x88: return push_simple(vm, ITR_PY_BOOL, 1);
    case 0x89: return push_simple(vm, ITR_PY_BOOL, 0);
    case 'G': return op_binfloat(vm);
    case 0x8A: return op_long(vm, 1);
    case 0x8B: return op_long(vm, 4);
    case 'T': return op_counted(vm, 4, 1, ITR_PY_PY2STR, "BINSTRING");
    case 'U': return op_counted(vm, 1, 0, ITR_PY_PY2STR, "SHORT_BINSTRING");
    case 'X': return op_counted(vm, 4, 0, ITR_PY_STR, "BINUNICODE");
    case 0x8C: return op_counted(vm, 1, 0, ITR_PY_STR, "SHORT_BINUNICODE");
    case 0x8D: return op_counted(vm, 8, 0, ITR_PY_STR, "BINUNICODE8");
    case 'B': return op_counted(vm, 4, 0, ITR_PY_BYTES, "BINBYTES");
    case 'C': return op_counted(vm, 1, 0, ITR_PY_BYTES, "SHORT_BINBYTES");
    case 0x8E: return op_counted(vm, 8, 0, ITR_PY_BYTES, "BINBYTES8");
    case 0x96: return op_counted(vm, 8, 0, ITR_PY_BYTES, "BYTEARRAY8");
    case ']': return itr_vm_push(vm, itr_py_new(vm->arena, ITR_PY_LIST));
    case ')': return itr_vm_push(vm, itr_py_new(vm->arena, ITR_PY_TUPLE));
    case '}': return itr_vm_push(vm, itr_py_new(vm->arena, ITR_PY_DICT));
    case 0x8F: return itr_vm_push(vm, itr_py_new(vm->arena, ITR_PY_SET));
    case 'l': return items_to_seq(vm, ITR_PY_LIST);
    case 't': return items_to_seq(vm, ITR_PY_TUPLE);
    case 0x91: return items_to_seq(vm, ITR_PY_SET);
    case 0x85: return itr_vm_tuple_n(vm, 1);
    case 0x86: return itr_vm_tuple_n(vm, 2);
    case 0x87: return itr_vm_tuple_n(vm, 3);
    case 'd':
        if ((st = itr_vm_pop_mark(vm, &base))) return st;
        if (!(o = itr_py_new(vm->arena, ITR_PY_DICT))) return ITR_E_LIMIT;
        if ((st = pairs_into(vm, o, base))) return st;
        return itr_vm_push(vm, o);
    case 'a': return op_appends(vm, 0, ITR_PY_LIST);
    case 'e': return op_appends(vm, 1, ITR_PY_LIST);
    case 0x90: return op_appends(vm, 1, ITR_PY_SET);
    case 's': return op_setitems(vm, 0);
    case 'u': return op_setitems(vm, 1);
    case 'h':
        if ((st = itr_vm_need(vm, 1, "BINGET"))) return st;
        return memo_get(vm, itr_vm_le(vm, 1));
    case 'j':
        if ((st = itr_vm_need(vm, 4, "LONG_BINGET"))) return st;
        return memo_get(vm, itr_vm_le(vm, 4));
    case 'q':
        if ((st = itr_vm_need(vm, 1, "BINPUT"))) return st;
        return itr_vm_memo_put_top(vm, itr_vm_le(vm, 1));
    case 'r':
        if ((st = itr_vm_need(vm, 4, "LONG_BINPUT"))) return st;
        return itr_vm_memo_put_top(vm, itr_vm_le(vm, 4));
    case 0x94: return itr_vm_memo_put_top(vm, vm->memo_n);
    case 0x95: {
        if ((st = itr_vm_need(vm, 8, "FRAME"))) return st;
        uint64_t n = itr_vm_le(vm, 8);
        if (n > vm->len - vm->pos)
            return itr_vm_fail(vm, ITR_E_FORMAT, "truncated: FRAME of %llu bytes, %zu left",
                               (unsigned long long)n, vm->len - vm->pos);
        return ITR_OK;          /* a framing hint only (s1.7.2) */
    }
    case 0x93: return op_stack_global(vm);
    case 'Q': return op_persid(vm);
    case 'R': case 0x81: case 0x92: case 'o': case 'b': return op_call(vm, op);
    case 0x80:
        if ((st = itr_vm_need(vm, 1, "PROTO"))) return st;
        if (vm->buf[vm->pos] > 5) return itr_vm_fail(vm, ITR_E_UNSUPPORTED, "pickle protocol %u", vm->buf[vm->pos]);
        vm->pos++;
        return ITR_OK;
    case 'P': return itr_vm_fail(vm, ITR_E_UNSUPPORTED, "PERSID (text persistent id) is not supported");
    case 0x82: case 0x83: case 0x84:
        return itr_vm_fail(vm, ITR_E_UNSUPPORTED, "EXT opcodes (extension registry) are not supported");
    case 0x97: case 0x98:
        return itr_vm_fail(vm, ITR_E_UNSUPPORTED, "out-of-band buffers cannot appear in a file");
    default:
        return itr_vm_text_op(vm, op);       /* protocol-0 text opcodes, or an error */
    }
}

itr_status itr_vm_run(itr_pyarena *a, const uint8_t *buf, size_t len, const itr_pickle_opts *o,
                      int nesting, itr_pyobj **out, size_t *consumed) {
    itr_vm vm;
    memset(&vm, 0, sizeof vm);
    vm.arena = a;
    vm.opts = o;
    vm.src = o->source ? o->source : "<pickle>";
    vm.buf = buf;
    vm.len = len;
    vm.nesting = nesting;
    itr_status st = ITR_OK;
    int stop = 0;
    while (!stop) {
        vm.op_pos = vm.pos;
        if (vm.pos >= vm.len) {
            st = itr_vm_fail(&vm, ITR_E_FORMAT, "truncated: pickle ends without STOP");
            break;
        }
        uint8_t op = vm.buf[vm.pos++];
        if ((st = step(&vm, op, &stop))) break;
    }
    if (!st) {
        itr_pyobj *res = NULL;
        if (!(st = itr_vm_pop(&vm, &res))) {
            *out = res;
            if (consumed) *consumed = vm.pos;
        }
    }
    free(vm.stack);
    free(vm.marks);
    free(vm.memo);
    return st;
}

itr_status itr_pickle_load_in(itr_pyarena *arena, const uint8_t *buf, size_t len,
                              const itr_pickle_opts *opts, itr_pyobj **out, size_t *consumed) {
    itr_pickle_opts def;
    if (!arena || !out || (!buf && len)) return itr_fail(ITR_E_ARG, "itr_pickle_load_in: NULL argument");
    if (!opts) {
        itr_pickle_opts_default(&def);
        opts = &def;
    }
    *out = NULL;
    return itr_vm_run(arena, buf, len, opts, 0, out, consumed);
}

itr_status itr_pickle_load(const uint8_t *buf, size_t len, const itr_pickle_opts *opts,
                           itr_pyobj **out, size_t *consumed) {
    if (!out) return itr_fail(ITR_E_ARG, "itr_pickle_load: NULL out");
    *out = NULL;
    itr_pyarena *a = itr_pyarena_new(opts ? &opts->limits : NULL);
    if (!a) return itr_fail(ITR_E_NOMEM, "itr_pickle_load: out of memory");
    itr_status st = itr_pickle_load_in(a, buf, len, opts, out, consumed);
    if (st) {
        itr_pyarena_free(a);
        *out = NULL;
    }
    return st;
}
