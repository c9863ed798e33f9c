/* h5_file.c - opening and creating HDF5 files, paths, groups and listings.
 *
 * Spec: formats.md s4.1 (libver bounds earliest..v18 for writers) and s4.5
 * (numbered API names, H5Eset_auto2 to silence the error stack, groups
 * iterated by index with H5Lget_name_by_idx, H5Oopen + H5Iget_type to tell
 * groups from datasets). Every failure names the file and the object. */
#include "h5_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void itr_h5i_quiet(void) {
    /* The return value only says whether the stack exists; nothing to do
     * about a failure here, and printing is what we are turning off. */
    (void)H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

char *itr_h5i_strndup(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *itr_h5i_strdup(const char *s) { return itr_h5i_strndup(s, strlen(s)); }

itr_status itr_h5i_check_args(const itr_h5 *f, const char *obj, const char *fn) {
    if (!f) return itr_fail(ITR_E_ARG, "%s: no file (NULL itr_h5)", fn);
    if (!obj) return itr_fail(ITR_E_ARG, "%s: %s: no object path (NULL)", fn, f->path);
    return ITR_OK;
}

itr_status itr_h5i_check_writable(const itr_h5 *f, const char *obj) {
    if (!f->writable)
        return itr_fail(ITR_E_ARG, "%s: %s: file is open read-only (use itr_h5_create to write)",
                        f->path, obj);
    return ITR_OK;
}

hid_t itr_h5i_lcpl(void) {
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    if (lcpl < 0) return -1;
    if (H5Pset_create_intermediate_group(lcpl, 1) < 0) {
        H5Pclose(lcpl);
        return -1;
    }
    return lcpl;
}

/* Wraps an open file id into a new handle (closing the id on failure). */
static itr_status wrap_file(hid_t fid, const char *path, int writable, itr_h5 **out) {
    itr_h5 *f = malloc(sizeof *f);
    char *p = itr_h5i_strdup(path);
    if (!f || !p) {
        free(f);
        free(p);
        H5Fclose(fid);
        return itr_fail(ITR_E_NOMEM, "%s: out of memory opening the file", path);
    }
    f->fid = fid;
    f->path = p;
    f->writable = writable;
    *out = f;
    return ITR_OK;
}

/* 1 if the 8-byte HDF5 signature sits at offset 0, 512, 1024, 2048, ... (a
 * file may start with a user block of such a size; HDF5 file format spec,
 * "Format Signature"). Done here because H5Fis_hdf5 is deprecated after 1.10
 * and H5Fis_accessible does not exist in 1.10.8. Probes stop at 1 GiB. */
static int has_hdf5_signature(FILE *fp) {
    static const unsigned char sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    for (long off = 0; off <= (1L << 30); off = off ? 2 * off : 512) {
        unsigned char buf[8];
        if (fseek(fp, off, SEEK_SET) != 0 || fread(buf, 1, sizeof buf, fp) != sizeof buf) return 0;
        if (memcmp(buf, sig, sizeof sig) == 0) return 1;
    }
    return 0;
}

itr_status itr_h5_open(const char *path, itr_h5 **out) {
    if (!out) return itr_fail(ITR_E_ARG, "itr_h5_open: NULL output handle");
    *out = NULL;
    if (!path) return itr_fail(ITR_E_ARG, "itr_h5_open: NULL path");
    itr_h5i_quiet();
    /* A plain fopen tells "missing / unreadable" (an I/O problem) apart from
     * "there is a file but it is not HDF5" (a format problem). */
    FILE *fp = fopen(path, "rb");
    if (!fp) return itr_fail(ITR_E_IO, "%s: cannot open file (missing or unreadable)", path);
    int is_hdf5 = has_hdf5_signature(fp);
    fclose(fp);
    if (!is_hdf5) return itr_fail(ITR_E_FORMAT, "%s: not an HDF5 file (no HDF5 signature)", path);
    hid_t fid = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (fid < 0)
        return itr_fail(ITR_E_FORMAT, "%s: damaged or unsupported HDF5 file (H5Fopen failed)", path);
    return wrap_file(fid, path, 0, out);
}

itr_status itr_h5_create(const char *path, itr_h5 **out) {
    if (!out) return itr_fail(ITR_E_ARG, "itr_h5_create: NULL output handle");
    *out = NULL;
    if (!path) return itr_fail(ITR_E_ARG, "itr_h5_create: NULL path");
    itr_h5i_quiet();
    /* formats.md s4.1: the oldest format that can hold our objects, and at
     * most the 1.8 format, so HDF5 >= 1.8 readers and h5py can open it. */
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0) return itr_fail(ITR_E_INTERNAL, "%s: H5Pcreate(H5P_FILE_ACCESS) failed", path);
    if (H5Pset_libver_bounds(fapl, H5F_LIBVER_EARLIEST, H5F_LIBVER_V18) < 0) {
        H5Pclose(fapl);
        return itr_fail(ITR_E_INTERNAL, "%s: H5Pset_libver_bounds failed", path);
    }
    hid_t fid = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    if (fid < 0) return itr_fail(ITR_E_IO, "%s: cannot create HDF5 file", path);
    return wrap_file(fid, path, 1, out);
}

void itr_h5_close(itr_h5 *f) {
    if (!f) return;
    itr_h5i_quiet();
    if (f->fid >= 0) H5Fclose(f->fid);
    free(f->path);
    free(f);
}

const char *itr_h5_path(const itr_h5 *f) { return f ? f->path : ""; }

itr_h5i_kind itr_h5i_kind_of(itr_h5 *f, const char *obj) {
    size_t n = strlen(obj);
    if (n == 0) return ITR_H5I_NONE;      /* "" is no path; the root is "/" */
    char *buf = malloc(n + 2);
    if (!buf) return ITR_H5I_NONE;
    size_t o = 0, i = 0;
    int components = 0;
    itr_h5i_kind kind = ITR_H5I_GROUP;   /* "/" names the root group */
    if (obj[0] == '/') buf[o++] = '/';
    /* H5Lexists checks the last component only and fails when an earlier one
     * is missing, so walk the path one component at a time. */
    while (obj[i]) {
        while (obj[i] == '/') i++;
        if (!obj[i]) break;
        if (components++ > 0) buf[o++] = '/';
        while (obj[i] && obj[i] != '/') buf[o++] = obj[i++];
        buf[o] = '\0';
        if (H5Lexists(f->fid, buf, H5P_DEFAULT) <= 0) {
            kind = ITR_H5I_NONE;
            break;
        }
    }
    if (kind != ITR_H5I_NONE && components > 0) {
        /* The link exists; open the object behind it (a dangling soft link
         * fails here) and ask what it is. */
        hid_t oid = H5Oopen(f->fid, buf, H5P_DEFAULT);
        if (oid < 0) {
            kind = ITR_H5I_NONE;
        } else {
            H5I_type_t t = H5Iget_type(oid);
            kind = t == H5I_GROUP ? ITR_H5I_GROUP : t == H5I_DATASET ? ITR_H5I_DATASET : ITR_H5I_OTHER;
            H5Oclose(oid);
        }
    }
    free(buf);
    return kind;
}

int itr_h5_exists(itr_h5 *f, const char *obj) {
    if (!f || !obj) return 0;
    itr_h5i_quiet();
    return itr_h5i_kind_of(f, obj) != ITR_H5I_NONE;
}

int itr_h5_attr_exists(itr_h5 *f, const char *obj, const char *name) {
    if (!f || !obj || !name) return 0;
    itr_h5i_quiet();
    if (itr_h5i_kind_of(f, obj) == ITR_H5I_NONE) return 0;
    return H5Aexists_by_name(f->fid, obj, name, H5P_DEFAULT) > 0;
}

itr_status itr_h5i_open_dataset(itr_h5 *f, const char *dset, hid_t *out) {
    *out = -1;
    itr_h5i_kind k = itr_h5i_kind_of(f, dset);
    if (k == ITR_H5I_NONE) return itr_fail(ITR_E_KEY, "%s: %s: no such dataset", f->path, dset);
    if (k != ITR_H5I_DATASET)
        return itr_fail(ITR_E_KEY, "%s: %s: is a %s, not a dataset", f->path, dset,
                        k == ITR_H5I_GROUP ? "group" : "named datatype");
    *out = H5Dopen2(f->fid, dset, H5P_DEFAULT);
    if (*out < 0) return itr_fail(ITR_E_FORMAT, "%s: %s: H5Dopen2 failed", f->path, dset);
    return ITR_OK;
}

itr_status itr_h5i_open_group(itr_h5 *f, const char *group, hid_t *out) {
    *out = -1;
    itr_h5i_kind k = itr_h5i_kind_of(f, group);
    if (k == ITR_H5I_NONE) return itr_fail(ITR_E_KEY, "%s: %s: no such group", f->path, group);
    if (k != ITR_H5I_GROUP)
        return itr_fail(ITR_E_KEY, "%s: %s: is a %s, not a group", f->path, group,
                        k == ITR_H5I_DATASET ? "dataset" : "named datatype");
    *out = H5Gopen2(f->fid, group, H5P_DEFAULT);
    if (*out < 0) return itr_fail(ITR_E_FORMAT, "%s: %s: H5Gopen2 failed", f->path, group);
    return ITR_OK;
}

void itr_h5_free_names(char **names, size_t n) {
    if (!names) return;
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
}

/* Name of link `idx` of group gid (name order) into a new string. */
static itr_status link_name(itr_h5 *f, const char *group, hid_t gid, hsize_t idx, char **out) {
    ssize_t len = H5Lget_name_by_idx(gid, ".", H5_INDEX_NAME, H5_ITER_INC, idx, NULL, 0, H5P_DEFAULT);
    if (len < 0)
        return itr_fail(ITR_E_FORMAT, "%s: %s: cannot read the name of link %llu", f->path, group,
                        (unsigned long long)idx);
    if ((size_t)len > ITR_H5_MAX_NAME)
        return itr_fail(ITR_E_LIMIT, "%s: %s: link name of %lld bytes exceeds the limit %zu", f->path,
                        group, (long long)len, ITR_H5_MAX_NAME);
    char *name = malloc((size_t)len + 1);
    if (!name) return itr_fail(ITR_E_NOMEM, "%s: %s: out of memory listing the group", f->path, group);
    if (H5Lget_name_by_idx(gid, ".", H5_INDEX_NAME, H5_ITER_INC, idx, name, (size_t)len + 1,
                           H5P_DEFAULT) != len) {
        free(name);
        return itr_fail(ITR_E_FORMAT, "%s: %s: link %llu changed name while listed", f->path, group,
                        (unsigned long long)idx);
    }
    *out = name;
    return ITR_OK;
}

itr_status itr_h5_list(itr_h5 *f, const char *group, char ***names, size_t *n) {
    itr_status st = itr_h5i_check_args(f, group, "itr_h5_list");
    if (st) return st;
    if (!names || !n) return itr_fail(ITR_E_ARG, "itr_h5_list: %s: NULL output", f->path);
    *names = NULL;
    *n = 0;
    itr_h5i_quiet();
    hid_t gid;
    if ((st = itr_h5i_open_group(f, group, &gid))) return st;
    H5G_info_t info;
    if (H5Gget_info(gid, &info) < 0) {
        H5Gclose(gid);
        return itr_fail(ITR_E_FORMAT, "%s: %s: H5Gget_info failed", f->path, group);
    }
    if (info.nlinks > ITR_H5_MAX_LINKS) {
        H5Gclose(gid);
        return itr_fail(ITR_E_LIMIT, "%s: %s: %llu links exceed the limit %zu", f->path, group,
                        (unsigned long long)info.nlinks, ITR_H5_MAX_LINKS);
    }
    size_t count = (size_t)info.nlinks;
    char **v = calloc(count ? count : 1, sizeof *v);
    if (!v) {
        H5Gclose(gid);
        return itr_fail(ITR_E_NOMEM, "%s: %s: out of memory listing the group", f->path, group);
    }
    for (size_t i = 0; i < count && !st; i++) st = link_name(f, group, gid, (hsize_t)i, &v[i]);
    H5Gclose(gid);
    if (st) {
        itr_h5_free_names(v, count);
        return st;
    }
    *names = v;
    *n = count;
    return ITR_OK;
}

itr_status itr_h5_make_group(itr_h5 *f, const char *group) {
    itr_status st = itr_h5i_check_args(f, group, "itr_h5_make_group");
    if (st) return st;
    itr_h5i_quiet();
    itr_h5i_kind k = itr_h5i_kind_of(f, group);
    if (k == ITR_H5I_GROUP) return ITR_OK;   /* already there: nothing to do */
    if (k != ITR_H5I_NONE)
        return itr_fail(ITR_E_ARG, "%s: %s: exists and is not a group", f->path, group);
    if ((st = itr_h5i_check_writable(f, group))) return st;
    hid_t lcpl = itr_h5i_lcpl();
    if (lcpl < 0) return itr_fail(ITR_E_INTERNAL, "%s: %s: cannot make a link property list", f->path, group);
    hid_t gid = H5Gcreate2(f->fid, group, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    H5Pclose(lcpl);
    if (gid < 0)
        return itr_fail(ITR_E_IO, "%s: %s: cannot create group (is a parent a dataset?)", f->path, group);
    H5Gclose(gid);
    return ITR_OK;
}
