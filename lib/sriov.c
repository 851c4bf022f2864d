/* sriov.c: PCI addresses, the SR-IOV PFs and VFs of a host read from sysfs (never leaving the root), the choice of a free VF, MAC lists. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(SYS_openat2) && __has_include(<linux/openat2.h>)
#include <linux/openat2.h>
#include <stdatomic.h>
#define HAVE_OPENAT2 1
/* Set once a call said the kernel (or a seccomp filter) lacks openat2(): later loads do not ask again. */
static atomic_bool openat2_missing;
#endif

#include "props.h"
#include "sriov.h"

/* A sysfs value is one short line; anything longer is not a file the kernel wrote. */
#define VALUE_MAX 64
/* Folder names relative to the root, for messages. */
#define REL_MAX 128
/* Symbolic links followed while resolving one path (the kernel's own limit is 40). */
#define LINKS_MAX 40
/* Entries of sys/class/net looked at: far more netdevs than any host has (VF representors included). */
#define NETDEVS_MAX 65536
/* Entries of one VF's net/ folder looked at. */
#define VF_NETDEVS_MAX 64
/* PCIe SR-IOV TotalVFs is a 16-bit field. */
#define TOTALVFS_MAX 65535

/* ---------------------------------------------------------------- PCI addresses */

static int hex_digit(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* Exactly @n hex digits at @s. */
static bool hex_field(const char *s, size_t n, unsigned *ret)
{
        unsigned v = 0;

        for (size_t i = 0; i < n; i++) {
                int d = hex_digit(s[i]);

                if (d < 0)
                        return false;
                v = v * 16 + (unsigned)d;
        }
        *ret = v;
        return true;
}

int hpvm_pci_addr_parse(const char *s, size_t len, HpvmPciAddr *ret)
{
        HpvmPciAddr a;

        /* dddd:bb:ss.f */
        if (!s || len != 12 || s[4] != ':' || s[7] != ':' || s[10] != '.')
                return -EINVAL;
        if (!hex_field(s, 4, &a.domain) || !hex_field(s + 5, 2, &a.bus) ||
            !hex_field(s + 8, 2, &a.slot) || s[11] < '0' || s[11] > '9')
                return -EINVAL;
        a.function = (unsigned)(s[11] - '0');
        if (a.slot > 0x1f || a.function > 7)
                return -ERANGE;
        *ret = a;
        return 0;
}

const char *hpvm_pci_addr_format(const HpvmPciAddr *a, char *buf, size_t size)
{
        snprintf(buf, size, "%04x:%02x:%02x.%x", a->domain & 0xffff, a->bus & 0xff, a->slot & 0x1f,
                 a->function & 7);
        return buf;
}

bool hpvm_pci_addr_equal(const HpvmPciAddr *a, const HpvmPciAddr *b)
{
        return hpvm_pci_addr_compare(a, b) == 0;
}

static int cmp_unsigned(unsigned a, unsigned b)
{
        return (a > b) - (a < b);
}

int hpvm_pci_addr_compare(const HpvmPciAddr *a, const HpvmPciAddr *b)
{
        int c = cmp_unsigned(a->domain, b->domain);

        if (!c)
                c = cmp_unsigned(a->bus, b->bus);
        if (!c)
                c = cmp_unsigned(a->slot, b->slot);
        if (!c)
                c = cmp_unsigned(a->function, b->function);
        return c;
}

/* ---------------------------------------------------------------- MAC addresses */

int hpvm_mac_parse(const char *s, size_t len, HpvmMac *ret)
{
        HpvmMac m;

        if (!s || len != 17)
                return -EINVAL;
        for (size_t i = 0; i < 6; i++) {
                unsigned v;

                if (!hex_field(s + 3 * i, 2, &v) || (i < 5 && s[3 * i + 2] != ':'))
                        return -EINVAL;
                m.b[i] = (unsigned char)v;
        }
        *ret = m;
        return 0;
}

const char *hpvm_mac_format(const HpvmMac *m, char *buf, size_t size)
{
        snprintf(buf, size, "%02x:%02x:%02x:%02x:%02x:%02x", m->b[0], m->b[1], m->b[2], m->b[3], m->b[4],
                 m->b[5]);
        return buf;
}

bool hpvm_mac_equal(const HpvmMac *a, const HpvmMac *b)
{
        return memcmp(a->b, b->b, sizeof(a->b)) == 0;
}

#define SRIOV_MIGRATABLE "sriov_migratable"
#define GRAMMAR_MACLIST "all or a comma-separated list of MAC addresses"

static int maclist_fail(const char *value, size_t len, HpvmError *err, int code, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));

/* The whole line, as props.c writes it: "<name>: '<value>': <detail> (expected <grammar>)". */
static int maclist_fail(const char *value, size_t len, HpvmError *err, int code, const char *fmt, ...)
{
        char detail[HPVM_ERR_MAX], q[HPVM_QUOTE_MAX];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(detail, sizeof(detail), fmt, ap);
        va_end(ap);
        hpvm_quote(value, len, q, sizeof(q));
        return hpvm_error_set(err, code, SRIOV_MIGRATABLE ": '%s': %s (expected " GRAMMAR_MACLIST ")", q, detail);
}

static bool is_all(const char *s, size_t len)
{
        return len == 3 && strncasecmp(s, "all", 3) == 0;
}

int hpvm_prop_sriov_migratable_parse(const char *value, HpvmMacList *ret, HpvmError *err)
{
        _cleanup_free_ HpvmMac *macs = NULL;
        const char *p, *end, *prev = NULL;
        size_t len, n = 0, cap = 1, prev_len = 0;
        char q[HPVM_QUOTE_MAX];

        value = value ? value : "";
        len = strlen(value);
        if (len > HPVM_PROP_MAX)
                return maclist_fail(value, len, err, -E2BIG, "value is %zu bytes long, more than the %d allowed",
                                    len, HPVM_PROP_MAX);
        if (len == 0)
                return maclist_fail(value, len, err, -EINVAL, "empty value");
        if (is_all(value, len)) {
                *ret = (HpvmMacList) { .all = true };
                return 0;
        }

        /* One MAC per comma-separated item: the array size is known before the loop. */
        for (size_t i = 0; i < len; i++)
                cap += value[i] == ',';
        macs = calloc(cap, sizeof(*macs));
        if (!macs)
                return hpvm_error_set(err, -ENOMEM, SRIOV_MIGRATABLE ": out of memory");

        end = value + len;
        for (p = value; p <= end; ) {
                const char *comma = memchr(p, ',', (size_t)(end - p));
                size_t ilen = (size_t)((comma ? comma : end) - p);
                HpvmMac m;

                if (ilen == 0) {
                        if (!prev)
                                return maclist_fail(value, len, err, -EINVAL, "value starts with ','");
                        if (!comma)
                                return maclist_fail(value, len, err, -EINVAL, "value ends with ','");
                        hpvm_quote(prev, prev_len, q, sizeof(q));
                        return maclist_fail(value, len, err, -EINVAL, "empty item after '%s'", q);
                }
                hpvm_quote(p, ilen, q, sizeof(q));
                if (is_all(p, ilen))
                        return maclist_fail(value, len, err, -EINVAL, "'%s' cannot be combined with MAC addresses", q);
                if (hpvm_mac_parse(p, ilen, &m) < 0)
                        return maclist_fail(value, len, err, -EINVAL, "'%s' is not a MAC address like 00:1a:4a:16:01:51", q);
                for (size_t i = 0; i < n; i++)
                        if (hpvm_mac_equal(&macs[i], &m))
                                return maclist_fail(value, len, err, -EINVAL, "'%s' is listed twice", q);
                macs[n++] = m;

                prev = p;
                prev_len = ilen;
                if (!comma)
                        break;
                p = comma + 1;
        }

        *ret = (HpvmMacList) { .all = false, .n = n, .macs = macs };
        macs = NULL;
        return 0;
}

void hpvm_mac_list_clear(HpvmMacList *l)
{
        if (!l)
                return;
        free(l->macs);
        *l = (HpvmMacList) { 0 };
}

bool hpvm_mac_list_contains(const HpvmMacList *l, const HpvmMac *m)
{
        if (!l)
                return false;
        if (l->all)
                return true;
        for (size_t i = 0; i < l->n; i++)
                if (hpvm_mac_equal(&l->macs[i], m))
                        return true;
        return false;
}

/* ---------------------------------------------------------------- reading sysfs inside a root */

typedef struct Loader {
        int root_fd;
        struct stat root_st;
        bool openat2;           /* the kernel resolves inside the root for us (Linux 5.6+) */
        HpvmError *err;
} Loader;

static int fail(Loader *l, const char *rel, int code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* "<file relative to the root>: <what>". */
static int fail(Loader *l, const char *rel, int code, const char *fmt, ...)
{
        char what[HPVM_ERR_MAX];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(what, sizeof(what), fmt, ap);
        va_end(ap);
        return hpvm_error_set(l->err, code, "%s: %s", rel, what);
}

/* A message for an errno from open/readlink: -ENOENT for what is not there, -EINVAL for link trouble, else -EIO. */
static int fail_errno(Loader *l, const char *rel, int e)
{
        if (e == ENOENT || e == ENOTDIR)
                return fail(l, rel, -ENOENT, "missing");
        if (e == ELOOP)
                return fail(l, rel, -EINVAL, "too many levels of symbolic links");
        if (e == ENAMETOOLONG)
                return fail(l, rel, -EINVAL, "a link leads to a path that is too long");
        return fail(l, rel, -EIO, "cannot open: %s", strerror(e));
}

static bool is_root(const Loader *l, int fd)
{
        struct stat st;

        return fstat(fd, &st) == 0 && st.st_dev == l->root_st.st_dev && st.st_ino == l->root_st.st_ino;
}

/*
 * Open the folder @path relative to @dirfd as an O_PATH descriptor, following
 * symbolic links the way the kernel would, with the root as "/": ".." at the
 * root stays there and an absolute link target starts again at the root. That
 * keeps a fake tree's links from leading anywhere outside it on kernels
 * without openat2's RESOLVE_IN_ROOT (before Linux 5.6, e.g. EL8's).
 * Returns the descriptor or a negative errno (no message).
 */
static int open_dir_portable(const Loader *l, int dirfd, const char *path)
{
        char work[PATH_MAX];
        size_t links = 0, plen = strlen(path);
        char *p = work;
        int cur;

        if (plen >= sizeof(work))
                return -ENAMETOOLONG;
        memcpy(work, path, plen + 1);
        cur = openat(dirfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (cur < 0)
                return -errno;

        for (;;) {
                char comp[NAME_MAX + 1], target[PATH_MAX];
                struct stat st;
                size_t n, rest;
                ssize_t tlen;
                int next, e;

                while (*p == '/')
                        p++;
                if (!*p)
                        break;
                n = strcspn(p, "/");
                if (n > NAME_MAX) {
                        close(cur);
                        return -ENAMETOOLONG;
                }
                memcpy(comp, p, n);
                comp[n] = '\0';
                p += n;

                if (!strcmp(comp, "."))
                        continue;
                if (!strcmp(comp, "..")) {
                        if (is_root(l, cur))
                                continue;
                        next = openat(cur, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
                        e = errno;
                        close(cur);
                        if (next < 0)
                                return -e;
                        cur = next;
                        continue;
                }

                next = openat(cur, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
                if (next < 0 || fstat(next, &st) < 0) {
                        e = errno;
                        if (next >= 0)
                                close(next);
                        close(cur);
                        return -e;
                }
                if (S_ISDIR(st.st_mode)) {
                        close(cur);
                        cur = next;
                        continue;
                }
                if (!S_ISLNK(st.st_mode)) {
                        close(next);
                        close(cur);
                        return -ENOTDIR;
                }

                /* A link: its target takes the place of this component. */
                tlen = readlinkat(next, "", target, sizeof(target));
                e = errno;
                close(next);
                if (tlen < 0 || (size_t)tlen >= sizeof(target) || ++links > LINKS_MAX) {
                        close(cur);
                        return tlen < 0 ? -e : (size_t)tlen >= sizeof(target) ? -ENAMETOOLONG : -ELOOP;
                }
                rest = strlen(p);
                if ((size_t)tlen + 1 + rest >= sizeof(work)) {
                        close(cur);
                        return -ENAMETOOLONG;
                }
                memmove(work + tlen + 1, p, rest + 1);
                memcpy(work, target, (size_t)tlen);
                work[tlen] = '/';
                p = work;
                if (target[0] == '/') {
                        next = openat(l->root_fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
                        e = errno;
                        close(cur);
                        if (next < 0)
                                return -e;
                        cur = next;
                }
        }
        return cur;
}

#ifdef HAVE_OPENAT2
/* openat2() with RESOLVE_IN_ROOT: the same rules, the whole path in one call. -ENOSYS where missing. */
static int openat2_in_root(const Loader *l, const char *rel, int flags)
{
        struct open_how how = {
                .flags = (uint64_t)flags | O_CLOEXEC,
                .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
        };
        long fd;

        /*
         * EAGAIN: a rename or mount anywhere on the system raced the resolution (the kernel cannot
         * prove it stayed in the root). openat2(2) says retry; a few times, then it is an error.
         */
        for (int tries = 0; tries < 64; tries++)
                if ((fd = syscall(SYS_openat2, l->root_fd, rel, &how, sizeof(how))) >= 0 || errno != EAGAIN)
                        break;
        return fd < 0 ? -errno : (int)fd;
}
#endif

/*
 * The folder @rel (relative to the root), which is also @name inside the
 * folder @dirfd already opened inside the root: openat2() takes @rel, the
 * portable resolver the shorter @name. O_PATH descriptor or negative errno.
 */
static int open_dir(Loader *l, int dirfd, const char *name, const char *rel)
{
#ifdef HAVE_OPENAT2
        if (l->openat2) {
                int fd = openat2_in_root(l, rel, O_PATH | O_DIRECTORY);

                /* Old kernels, and seccomp filters that do not know the call. */
                if (fd != -ENOSYS && fd != -EPERM)
                        return fd;
                l->openat2 = false;
                atomic_store(&openat2_missing, true);
        }
#endif
        return open_dir_portable(l, dirfd, name);
}

/*
 * Is there a regular file at @rel? Only asked where openat2() answers in one
 * call; elsewhere "maybe" (1), and the caller finds out the long way.
 */
static int may_exist(Loader *l, const char *rel)
{
#ifdef HAVE_OPENAT2
        if (l->openat2) {
                int fd = openat2_in_root(l, rel, O_PATH);

                if (fd >= 0)
                        close(fd);
                if (fd == -ENOENT || fd == -ENOTDIR)
                        return 0;
        }
#endif
        return 1;
}

static void close_fdp(int *fd)
{
        if (*fd >= 0)
                close(*fd);
}
#define _cleanup_close_ __attribute__((cleanup(close_fdp)))

/*
 * Read the regular file @name directly inside the folder @dirfd (no link
 * followed, no FIFO waited on) into @buf: one line, its newline removed.
 * With @missing_ok a missing file is a silent -ENOENT.
 */
static int read_value(Loader *l, int dirfd, const char *rel, const char *name, bool missing_ok,
                      char buf[VALUE_MAX + 1], size_t *ret_len)
{
        char path[REL_MAX + NAME_MAX + 2];
        _cleanup_close_ int fd = -1;
        struct stat st;
        size_t total = 0;

        snprintf(path, sizeof(path), "%s/%s", rel, name);
        fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                if (missing_ok && errno == ENOENT)
                        return -ENOENT;
                if (errno == ELOOP)
                        return fail(l, path, -EINVAL, "not a regular file (a symbolic link)");
                return fail_errno(l, path, errno);
        }
        if (fstat(fd, &st) < 0)
                return fail_errno(l, path, errno);
        if (!S_ISREG(st.st_mode))
                return fail(l, path, -EINVAL, "not a regular file");
        for (;;) {
                ssize_t n = read(fd, buf + total, VALUE_MAX + 1 - total);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        int e = errno;

                        return fail(l, path, -EIO, "cannot read: %s", strerror(e));
                }
                if (n == 0)
                        break;
                total += (size_t)n;
                if (total > VALUE_MAX)
                        return fail(l, path, -EINVAL, "longer than %d bytes (expected one short line)", VALUE_MAX);
        }
        if (total > 0 && buf[total - 1] == '\n')
                total--;
        buf[total] = '\0';
        *ret_len = total;
        return 0;
}

/* A decimal count in @name, at most @max. */
static int read_count(Loader *l, int dirfd, const char *rel, const char *name, uint64_t max, unsigned *ret)
{
        char buf[VALUE_MAX + 1], q[HPVM_QUOTE_MAX], path[REL_MAX + NAME_MAX + 2];
        uint64_t v;
        size_t len;
        int r;

        r = read_value(l, dirfd, rel, name, false, buf, &len);
        if (r < 0)
                return r;
        r = hpvm_parse_u64(buf, len, max, &v);
        if (r < 0) {
                snprintf(path, sizeof(path), "%s/%s", rel, name);
                hpvm_quote(buf, len, q, sizeof(q));
                if (r == -EINVAL)
                        return fail(l, path, -EINVAL, "'%s' is not a number", q);
                return fail(l, path, -EINVAL, "'%s' is out of range (at most %llu)", q, (unsigned long long)max);
        }
        *ret = (unsigned)v;
        return 0;
}

/* numa_node: "-1" or a node id; a missing file (a kernel without NUMA) is -1 too. */
static int read_numa_node(Loader *l, int dirfd, const char *rel, int *ret)
{
        char buf[VALUE_MAX + 1], q[HPVM_QUOTE_MAX], path[REL_MAX + NAME_MAX + 2];
        uint64_t v;
        size_t len;
        int r;

        r = read_value(l, dirfd, rel, "numa_node", true, buf, &len);
        if (r == -ENOENT) {
                *ret = -1;
                return 0;
        }
        if (r < 0)
                return r;
        if (len == 2 && !memcmp(buf, "-1", 2)) {
                *ret = -1;
                return 0;
        }
        if (hpvm_parse_u64(buf, len, HPVM_NODE_MAX - 1, &v) < 0) {
                snprintf(path, sizeof(path), "%s/numa_node", rel);
                hpvm_quote(buf, len, q, sizeof(q));
                return fail(l, path, -EINVAL, "'%s' is not a NUMA node (expected -1 or 0-%d)", q, HPVM_NODE_MAX - 1);
        }
        *ret = (int)v;
        return 0;
}

/*
 * The last component of the target of the link @name inside @dirfd, into
 * @buf (NUL-terminated). With @missing_ok a missing link is a silent -ENOENT.
 * *ret_sibling (may be NULL) tells whether the target is exactly "../<last>",
 * the kernel's own shape for virtfnN and physfn.
 */
static int read_link_base(Loader *l, int dirfd, const char *rel, const char *name, bool missing_ok,
                          char *buf, size_t size, bool *ret_sibling)
{
        char target[PATH_MAX], path[REL_MAX + NAME_MAX + 2];
        const char *base;
        ssize_t n;
        size_t blen;

        snprintf(path, sizeof(path), "%s/%s", rel, name);
        n = readlinkat(dirfd, name, target, sizeof(target) - 1);
        if (n == (ssize_t)sizeof(target) - 1)
                return fail(l, path, -EINVAL, "link target longer than %zu bytes", sizeof(target) - 2);
        if (n < 0) {
                if (missing_ok && errno == ENOENT)
                        return -ENOENT;
                if (errno == EINVAL)
                        return fail(l, path, -EINVAL, "not a symbolic link");
                return fail_errno(l, path, errno);
        }
        /* Trailing slashes do not change what a link names. */
        while (n > 1 && target[n - 1] == '/')
                n--;
        target[n] = '\0';
        base = strrchr(target, '/');
        base = base ? base + 1 : target;
        blen = strlen(base);
        if (blen == 0 || blen >= size) {
                char q[HPVM_QUOTE_MAX];

                hpvm_quote(target, (size_t)n, q, sizeof(q));
                return fail(l, path, -EINVAL, "link target '%s' has no usable last component", q);
        }
        memcpy(buf, base, blen + 1);
        if (ret_sibling)
                *ret_sibling = base == target + 3 && !memcmp(target, "../", 3);
        return 0;
}

/* A link whose last component must be a PCI address. */
static int read_link_addr(Loader *l, int dirfd, const char *rel, const char *name, bool missing_ok,
                          HpvmPciAddr *ret, bool *ret_sibling)
{
        char base[NAME_MAX + 1], q[HPVM_QUOTE_MAX], path[REL_MAX + NAME_MAX + 2];
        int r;

        r = read_link_base(l, dirfd, rel, name, missing_ok, base, sizeof(base), ret_sibling);
        if (r < 0)
                return r;
        if (hpvm_pci_addr_parse(base, strlen(base), ret) < 0) {
                snprintf(path, sizeof(path), "%s/%s", rel, name);
                hpvm_quote(base, strlen(base), q, sizeof(q));
                return fail(l, path, -EINVAL, "link leads to '%s', not a PCI address (expected dddd:bb:ss.f)", q);
        }
        return 0;
}

/* What the kernel accepts as an interface name (dev_valid_name): 1-15 bytes, no '/', ':' or blanks. */
static bool netdev_name_ok(const char *s)
{
        size_t n = strlen(s);

        if (n == 0 || n >= HPVM_NETDEV_MAX || !strcmp(s, ".") || !strcmp(s, ".."))
                return false;
        for (; *s; s++)
                if (*s == '/' || *s == ':' || (unsigned char)*s <= 0x20 || *s == 0x7f)
                        return false;
        return true;
}

/* A kernel module name: letters, digits, '_', '-', '.'. */
static bool driver_name_ok(const char *s)
{
        if (!*s)
                return false;
        for (; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
                      *s == '_' || *s == '-' || *s == '.'))
                        return false;
        return true;
}

static int cmp_names(const void *a, const void *b)
{
        return strcmp((const char *)a, (const char *)b);
}

typedef char NetdevName[HPVM_NETDEV_MAX];

/*
 * The network interface names in the folder @name ("." for @dirfd itself)
 * inside @dirfd, sorted; at most @max, each checked like the kernel checks
 * one. *ret_names is the caller's. A missing folder gives no names when
 * @missing_ok.
 */
static int list_netdevs(Loader *l, int dirfd, const char *rel, const char *name, bool missing_ok, size_t max,
                        NetdevName **ret_names, size_t *ret_n)
{
        char path[REL_MAX + NAME_MAX + 2], q[HPVM_QUOTE_MAX];
        NetdevName *names = NULL;
        size_t n = 0, cap = 0;
        struct dirent *de;
        DIR *d;
        int fd, r = 0;

        if (strcmp(name, "."))
                snprintf(path, sizeof(path), "%s/%s", rel, name);
        else
                snprintf(path, sizeof(path), "%s", rel);
        fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
                if (missing_ok && errno == ENOENT) {
                        *ret_names = NULL;
                        *ret_n = 0;
                        return 0;
                }
                return fail_errno(l, path, errno);
        }
        d = fdopendir(fd);
        if (!d) {
                r = fail_errno(l, path, errno);
                close(fd);
                return r;
        }
        while ((errno = 0, de = readdir(d))) {
                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                        continue;
                if (!netdev_name_ok(de->d_name)) {
                        hpvm_quote(de->d_name, strlen(de->d_name), q, sizeof(q));
                        r = fail(l, path, -EINVAL, "'%s' is not a network interface name", q);
                        break;
                }
                if (n == max) {
                        r = fail(l, path, -E2BIG, "more than %zu entries", max);
                        break;
                }
                if (n == cap) {
                        size_t ncap = cap ? cap * 2 : 16;
                        NetdevName *grown = realloc(names, ncap * sizeof(*names));

                        if (!grown) {
                                r = hpvm_error_set(l->err, -ENOMEM, "out of memory reading %s", path);
                                break;
                        }
                        names = grown;
                        cap = ncap;
                }
                snprintf(names[n++], sizeof(names[0]), "%s", de->d_name);
        }
        if (r == 0 && errno != 0)
                r = fail(l, path, -EIO, "cannot list: %s", strerror(errno));
        closedir(d);
        if (r < 0) {
                free(names);
                return r;
        }
        if (n)
                qsort(names, n, sizeof(*names), cmp_names);
        *ret_names = names;
        *ret_n = n;
        return 0;
}

/* A PF while loading: its VFs sit in the load-order array from vf_start. */
typedef struct PfLoad {
        HpvmPf pf;
        size_t vf_start;
} PfLoad;

typedef struct Loaded {
        PfLoad *pfs;
        size_t npfs;
        HpvmVf *vfs;
        size_t nvfs, vfcap;
} Loaded;

/* VF @n of @pf; @parent_fd is the folder holding the PF's own folder, or -1. */
static int load_vf(Loader *l, int pf_fd, int parent_fd, const char *pf_rel, const HpvmPf *pf, unsigned n, HpvmVf *vf)
{
        char name[32], rel[REL_MAX], pa[HPVM_PCI_ADDR_STRLEN], fa[HPVM_PCI_ADDR_STRLEN];
        NetdevName *nets = NULL;
        _cleanup_close_ int fd = -1;
        HpvmPciAddr physfn;
        size_t nnets = 0;
        bool sibling = false;
        int r;

        snprintf(name, sizeof(name), "virtfn%u", n);
        snprintf(rel, sizeof(rel), "%s/%s", pf_rel, name);
        *vf = (HpvmVf) { .vfnum = n, .numa_node = -1 };

        r = read_link_addr(l, pf_fd, pf_rel, name, false, &vf->addr, &sibling);
        if (r < 0)
                return r;
        /* The kernel's "../<address>" is one real folder beside the PF's: one openat, no resolving.
         * Anything else there (a link, a file, nothing) takes the careful path. */
        if (sibling && parent_fd >= 0) {
                char a[HPVM_PCI_ADDR_STRLEN];

                fd = openat(parent_fd, hpvm_pci_addr_format(&vf->addr, a, sizeof(a)),
                            O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
        if (fd < 0)
                fd = open_dir(l, pf_fd, name, rel);
        if (fd < 0)
                return fail_errno(l, rel, -fd);

        r = read_link_addr(l, fd, rel, "physfn", true, &physfn, NULL);
        if (r == -ENOENT)
                return fail(l, rel, -EINVAL, "has no physfn link (expected one leading back to its PF %s)",
                            hpvm_pci_addr_format(&pf->addr, pa, sizeof(pa)));
        if (r < 0)
                return r;
        if (!hpvm_pci_addr_equal(&physfn, &pf->addr))
                return fail(l, rel, -EINVAL, "physfn leads to %s, not back to its PF %s (%s): inconsistent tree",
                            hpvm_pci_addr_format(&physfn, fa, sizeof(fa)),
                            hpvm_pci_addr_format(&pf->addr, pa, sizeof(pa)), pf->netdev);

        r = read_numa_node(l, fd, rel, &vf->numa_node);
        if (r < 0)
                return r;

        r = read_link_base(l, fd, rel, "driver", true, vf->driver, sizeof(vf->driver), NULL);
        if (r == -ENOENT)
                vf->driver[0] = '\0';
        else if (r < 0)
                return r;
        else if (!driver_name_ok(vf->driver)) {
                char q[HPVM_QUOTE_MAX], path[REL_MAX + 8];

                snprintf(path, sizeof(path), "%s/driver", rel);
                hpvm_quote(vf->driver, strlen(vf->driver), q, sizeof(q));
                return fail(l, path, -EINVAL, "link leads to '%s', not a driver name", q);
        }

        r = list_netdevs(l, fd, rel, "net", true, VF_NETDEVS_MAX, &nets, &nnets);
        if (r < 0)
                return r;
        if (nnets)
                snprintf(vf->netdev, sizeof(vf->netdev), "%s", nets[0]);
        free(nets);
        return r;
}

/* The PF behind sys/class/net/@netdev, if it is one: 1 when added, 0 when not a PF. */
static int load_pf(Loader *l, int class_fd, const char *netdev, Loaded *ld)
{
        char rel[48], devrel[64], path[96], buf[VALUE_MAX + 1], base[NAME_MAX + 1];
        _cleanup_close_ int net_fd = -1, dev_fd = -1, parent_fd = -1;
        HpvmPf pf = { .numa_node = -1 };
        HpvmPciAddr addr;
        size_t len;
        int r;

        snprintf(rel, sizeof(rel), "sys/class/net/%s", netdev);
        snprintf(devrel, sizeof(devrel), "%s/device", rel);
        /* Most netdevs are no PFs (a VF's own, a bridge): one call tells, where the kernel can. */
        snprintf(path, sizeof(path), "%s/sriov_totalvfs", devrel);
        if (!may_exist(l, path))
                return 0;
        /* A netdev that vanished since the listing (or a dangling link) is no PF either. */
        net_fd = open_dir(l, class_fd, netdev, rel);
        if (net_fd == -ENOENT)
                return 0;
        if (net_fd < 0)
                return fail_errno(l, rel, -net_fd);
        r = read_link_base(l, net_fd, rel, "device", true, base, sizeof(base), NULL);
        if (r == -ENOENT)
                return 0;       /* lo, bridges, bonds, tunnels: no device */
        if (r < 0)
                return r;
        dev_fd = open_dir(l, net_fd, "device", devrel);
        if (dev_fd == -ENOENT)
                return 0;
        if (dev_fd < 0)
                return fail_errno(l, devrel, -dev_fd);
        r = read_value(l, dev_fd, devrel, "sriov_totalvfs", true, buf, &len);
        if (r == -ENOENT)
                return 0;       /* not SR-IOV capable (a virtio or USB NIC too), or a VF's own netdev */
        if (r < 0)
                return r;
        /* Only now must the device be a PCI function: other buses have other names. */
        if (hpvm_pci_addr_parse(base, strlen(base), &addr) < 0) {
                char q[HPVM_QUOTE_MAX];

                hpvm_quote(base, strlen(base), q, sizeof(q));
                return fail(l, devrel, -EINVAL, "link leads to '%s', not a PCI address (expected dddd:bb:ss.f)", q);
        }

        /* The second port of a dual-port function: counted once, under the first name. */
        for (size_t i = 0; i < ld->npfs; i++)
                if (hpvm_pci_addr_equal(&ld->pfs[i].pf.addr, &addr))
                        return 0;
        if (ld->npfs == HPVM_PF_MAX)
                return fail(l, rel, -E2BIG, "more than %d SR-IOV PFs on this host", HPVM_PF_MAX);

        snprintf(pf.netdev, sizeof(pf.netdev), "%s", netdev);
        pf.addr = addr;
        r = read_count(l, dev_fd, devrel, "sriov_totalvfs", TOTALVFS_MAX, &pf.totalvfs);
        if (r < 0)
                return r;
        r = read_count(l, dev_fd, devrel, "sriov_numvfs", TOTALVFS_MAX, &pf.numvfs);
        if (r < 0)
                return r;
        if (pf.numvfs > pf.totalvfs)
                return fail(l, devrel, -EINVAL, "sriov_numvfs %u is more than sriov_totalvfs %u",
                            pf.numvfs, pf.totalvfs);
        if (pf.numvfs > HPVM_VF_PER_PF_MAX)
                return fail(l, devrel, -E2BIG, "sriov_numvfs %u is more than the %d VFs per PF this reader handles",
                            pf.numvfs, HPVM_VF_PER_PF_MAX);
        r = read_numa_node(l, dev_fd, devrel, &pf.numa_node);
        if (r < 0)
                return r;

        /* Both bounds were checked above, so this never grows past 256 x 256 entries. */
        if (ld->nvfs + pf.numvfs > ld->vfcap) {
                size_t ncap = ld->vfcap ? ld->vfcap : 64;
                HpvmVf *grown;

                while (ncap < ld->nvfs + pf.numvfs)
                        ncap *= 2;
                grown = realloc(ld->vfs, ncap * sizeof(*grown));
                if (!grown)
                        return hpvm_error_set(l->err, -ENOMEM, "out of memory reading %s", devrel);
                ld->vfs = grown;
                ld->vfcap = ncap;
        }
        if (pf.numvfs) {
                snprintf(path, sizeof(path), "%s/..", devrel);
                parent_fd = open_dir(l, dev_fd, "..", path);
        }
        for (unsigned n = 0; n < pf.numvfs; n++) {
                r = load_vf(l, dev_fd, parent_fd, devrel, &pf, n, &ld->vfs[ld->nvfs + n]);
                if (r < 0)
                        return r;
        }
        pf.nvfs = pf.numvfs;
        ld->pfs[ld->npfs++] = (PfLoad) { .pf = pf, .vf_start = ld->nvfs };
        ld->nvfs += pf.numvfs;
        return 1;
}

static int cmp_pfload(const void *a, const void *b)
{
        return hpvm_pci_addr_compare(&((const PfLoad *)a)->pf.addr, &((const PfLoad *)b)->pf.addr);
}

/* One PCI function seen by the inventory, for the duplicate check. */
typedef struct Seen {
        HpvmPciAddr addr;
        size_t pf;
        long vfnum;     /* -1: the PF itself */
} Seen;

static int cmp_seen(const void *a, const void *b)
{
        const Seen *x = a, *y = b;
        int c = hpvm_pci_addr_compare(&x->addr, &y->addr);

        /* Ties in inventory order, so the message names the two the same way every time. */
        if (!c)
                c = (x->pf > y->pf) - (x->pf < y->pf);
        if (!c)
                c = (x->vfnum > y->vfnum) - (x->vfnum < y->vfnum);
        return c;
}

static void describe_seen(const HpvmVfInventory *inv, const Seen *s, char *buf, size_t size)
{
        if (s->vfnum < 0)
                snprintf(buf, size, "PF %s", inv->pfs[s->pf].netdev);
        else
                snprintf(buf, size, "VF %ld of %s", s->vfnum, inv->pfs[s->pf].netdev);
}

/* No PCI function may be two things at once: that tree is not one the kernel made. */
static int check_unique(const HpvmVfInventory *inv, HpvmError *err)
{
        _cleanup_free_ Seen *seen = NULL;
        size_t n = 0;

        seen = calloc(inv->npfs + inv->nvfs + 1, sizeof(*seen));
        if (!seen)
                return hpvm_error_set(err, -ENOMEM, "out of memory checking the SR-IOV inventory");
        for (size_t i = 0; i < inv->npfs; i++)
                seen[n++] = (Seen) { inv->pfs[i].addr, i, -1 };
        for (size_t i = 0; i < inv->nvfs; i++)
                seen[n++] = (Seen) { inv->vfs[i].addr, inv->vfs[i].pf, (long)inv->vfs[i].vfnum };
        qsort(seen, n, sizeof(*seen), cmp_seen);
        for (size_t i = 1; i < n; i++) {
                char a[HPVM_PCI_ADDR_STRLEN], one[64], two[64];

                if (!hpvm_pci_addr_equal(&seen[i - 1].addr, &seen[i].addr))
                        continue;
                describe_seen(inv, &seen[i - 1], one, sizeof(one));
                describe_seen(inv, &seen[i], two, sizeof(two));
                return hpvm_error_set(err, -EINVAL, "sys/class/net: PCI address %s is both %s and %s: inconsistent tree",
                                      hpvm_pci_addr_format(&seen[i].addr, a, sizeof(a)), one, two);
        }
        return 0;
}

void hpvm_vf_inventory_free(HpvmVfInventory *inv)
{
        if (!inv)
                return;
        free(inv->pfs);
        free(inv->vfs);
        free(inv);
}

int hpvm_vf_inventory_load(const char *root, HpvmVfInventory **ret, HpvmError *err)
{
        return hpvm_vf_inventory_load_opts(root, 0, ret, err);
}

int hpvm_vf_inventory_load_opts(const char *root, unsigned flags, HpvmVfInventory **ret, HpvmError *err)
{
        _cleanup_vfinv_ HpvmVfInventory *inv = NULL;
        _cleanup_close_ int root_fd = -1, class_fd = -1;
        NetdevName *names = NULL;
        Loader l = { .root_fd = -1, .err = err, .openat2 = !(flags & HPVM_VFINV_PORTABLE) };

#ifdef HAVE_OPENAT2
        if (atomic_load(&openat2_missing))
                l.openat2 = false;
#else
        l.openat2 = false;
#endif
        Loaded ld = { 0 };
        size_t nnames = 0;
        int r;

        if (!root || !*root)
                root = "/";
        root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (root_fd < 0 || fstat(root_fd, &l.root_st) < 0) {
                int e = errno;
                char q[HPVM_QUOTE_MAX];

                hpvm_quote(root, strlen(root), q, sizeof(q));
                return hpvm_error_set(err, e == ENOENT || e == ENOTDIR ? -ENOENT : -EIO, "sysfs root '%s': %s",
                                      q, strerror(e));
        }
        l.root_fd = root_fd;

        inv = calloc(1, sizeof(*inv));
        ld.pfs = calloc(HPVM_PF_MAX, sizeof(*ld.pfs));
        if (!inv || !ld.pfs) {
                free(ld.pfs);
                return hpvm_error_set(err, -ENOMEM, "out of memory reading the SR-IOV inventory");
        }

        /* No sys/class/net at all is a host without network devices: nothing to offer. */
        class_fd = open_dir(&l, root_fd, "sys/class/net", "sys/class/net");
        if (class_fd == -ENOENT) {
                free(ld.pfs);
                *ret = inv;
                inv = NULL;
                return 0;
        }
        if (class_fd < 0) {
                r = fail_errno(&l, "sys/class/net", -class_fd);
                free(ld.pfs);
                return r;
        }
        r = list_netdevs(&l, class_fd, "sys/class/net", ".", false, NETDEVS_MAX, &names, &nnames);
        for (size_t i = 0; r >= 0 && i < nnames; i++)
                r = load_pf(&l, class_fd, names[i], &ld);
        free(names);
        if (r < 0) {
                free(ld.pfs);
                free(ld.vfs);
                return r;
        }

        /* PF order is PCI address order; each PF's VFs follow in VF-number order. */
        qsort(ld.pfs, ld.npfs, sizeof(*ld.pfs), cmp_pfload);
        inv->pfs = calloc(ld.npfs ? ld.npfs : 1, sizeof(*inv->pfs));
        inv->vfs = calloc(ld.nvfs ? ld.nvfs : 1, sizeof(*inv->vfs));
        if (!inv->pfs || !inv->vfs) {
                free(ld.pfs);
                free(ld.vfs);
                return hpvm_error_set(err, -ENOMEM, "out of memory reading the SR-IOV inventory");
        }
        for (size_t i = 0; i < ld.npfs; i++) {
                HpvmPf *pf = &inv->pfs[inv->npfs++];

                *pf = ld.pfs[i].pf;
                pf->first_vf = inv->nvfs;
                for (size_t v = 0; v < pf->nvfs; v++) {
                        HpvmVf *vf = &inv->vfs[inv->nvfs++];

                        *vf = ld.vfs[ld.pfs[i].vf_start + v];
                        vf->pf = i;
                }
        }
        free(ld.pfs);
        free(ld.vfs);

        r = check_unique(inv, err);
        if (r < 0)
                return r;
        *ret = inv;
        inv = NULL;
        return 0;
}

/* ---------------------------------------------------------------- lookups and choice */

const HpvmVf *hpvm_vf_inventory_vf(const HpvmVfInventory *inv, const HpvmPciAddr *addr)
{
        for (size_t i = 0; inv && addr && i < inv->nvfs; i++)
                if (hpvm_pci_addr_equal(&inv->vfs[i].addr, addr))
                        return &inv->vfs[i];
        return NULL;
}

const HpvmPf *hpvm_vf_inventory_pf(const HpvmVfInventory *inv, const char *netdev)
{
        for (size_t i = 0; inv && netdev && i < inv->npfs; i++)
                if (!strcmp(inv->pfs[i].netdev, netdev))
                        return &inv->pfs[i];
        return NULL;
}

bool hpvm_vf_looks_assigned(const HpvmVf *vf)
{
        return vf && (!strcmp(vf->driver, "vfio-pci") || !strcmp(vf->driver, "pci-stub"));
}

/* Names shown in one refusal before "and N more": keeps the line well under HPVM_ERR_MAX. */
#define LIST_SHOWN 6

/* A bounded line builder for the refusal. */
typedef struct Line {
        char buf[HPVM_ERR_MAX];
        size_t len;
} Line;

static void line_add(Line *ln, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void line_add(Line *ln, const char *fmt, ...)
{
        va_list ap;
        int n;

        if (ln->len >= sizeof(ln->buf) - 1)
                return;
        va_start(ap, fmt);
        n = vsnprintf(ln->buf + ln->len, sizeof(ln->buf) - ln->len, fmt, ap);
        va_end(ap);
        if (n > 0)
                ln->len = ln->len + (size_t)n < sizeof(ln->buf) ? ln->len + (size_t)n : sizeof(ln->buf) - 1;
}

static void line_more(Line *ln, size_t shown, size_t total)
{
        if (total > shown)
                line_add(ln, " and %zu more", total - shown);
}

static int refuse(const HpvmVfInventory *inv, const HpvmVfChoice *c, const bool *allowed, size_t nallowed,
                  HpvmError *err)
{
        Line ln = { .len = 0 };
        char q[HPVM_QUOTE_MAX];
        size_t shown = 0, off = 0;

        ln.buf[0] = '\0';
        if (c->network && c->network[0]) {
                hpvm_quote(c->network, strlen(c->network), q, sizeof(q));
                line_add(&ln, "no free VF for network '%s': ", q);
        } else {
                line_add(&ln, "no free VF: ");
        }

        if (inv->npfs == 0) {
                line_add(&ln, "this host has no SR-IOV network card");
                return hpvm_error_set(err, -ENOSPC, "%s", ln.buf);
        }
        if (nallowed == 0) {
                line_add(&ln, "this host has no SR-IOV PF named ");
                for (size_t i = 0; i < c->npfs && shown < LIST_SHOWN; i++, shown++) {
                        const char *name = c->pfs[i] ? c->pfs[i] : "";
                        char qn[HPVM_NETDEV_MAX + 8];

                        hpvm_quote(name, strlen(name), qn, sizeof(qn));
                        line_add(&ln, "%s%s", i ? ", " : "", qn);
                }
                line_more(&ln, shown, c->npfs);
                line_add(&ln, " (its PFs: ");
                for (shown = 0; shown < inv->npfs && shown < LIST_SHOWN; shown++)
                        line_add(&ln, "%s%s", shown ? ", " : "", inv->pfs[shown].netdev);
                line_more(&ln, shown, inv->npfs);
                line_add(&ln, ")");
                return hpvm_error_set(err, -ENOSPC, "%s", ln.buf);
        }

        if (nallowed == 1) {
                const HpvmPf *pf = NULL;

                for (size_t i = 0; i < inv->npfs && !pf; i++)
                        if (allowed[i])
                                pf = &inv->pfs[i];
                if (pf->nvfs == 0)
                        line_add(&ln, "PF %s has no VFs (SR-IOV is off: sriov_numvfs is 0)", pf->netdev);
                else if (pf->nvfs == 1)
                        line_add(&ln, "PF %s has 1 VF, and it is reserved or in use", pf->netdev);
                else
                        line_add(&ln, "PF %s has %zu VFs, all reserved or in use", pf->netdev, pf->nvfs);
                return hpvm_error_set(err, -ENOSPC, "%s", ln.buf);
        }

        {
                bool any_vfs = false;

                for (size_t i = 0; i < inv->npfs; i++)
                        any_vfs |= allowed[i] && inv->pfs[i].nvfs > 0;
                line_add(&ln, "PFs ");
                for (size_t i = 0; i < inv->npfs; i++) {
                        const HpvmPf *pf = &inv->pfs[i];

                        if (!allowed[i])
                                continue;
                        if (shown < LIST_SHOWN) {
                                line_add(&ln, "%s%s", shown ? ", " : "", pf->netdev);
                                if (!any_vfs)
                                        ;
                                else if (pf->nvfs == 0)
                                        line_add(&ln, " (SR-IOV off)");
                                else
                                        line_add(&ln, " (%zu VF%s)", pf->nvfs, pf->nvfs == 1 ? "" : "s");
                                shown++;
                        }
                        off++;
                }
                line_more(&ln, shown, off);
                if (any_vfs)
                        line_add(&ln, ": every VF is reserved or in use");
                else
                        line_add(&ln, " have no VFs (SR-IOV is off: sriov_numvfs is 0)");
        }
        return hpvm_error_set(err, -ENOSPC, "%s", ln.buf);
}

int hpvm_vf_choose(const HpvmVfInventory *inv, const HpvmVfChoice *c, size_t *ret_vf, HpvmError *err)
{
        static const HpvmVfChoice none = { .preferred_node = -1 };
        _cleanup_free_ bool *allowed = NULL;
        size_t nallowed = 0, pick = SIZE_MAX;
        const HpvmVf *pref;

        if (!inv)
                return hpvm_error_set(err, -EINVAL, "no SR-IOV inventory");
        if (!c)
                c = &none;
        allowed = calloc(inv->npfs ? inv->npfs : 1, sizeof(*allowed));
        if (!allowed)
                return hpvm_error_set(err, -ENOMEM, "out of memory choosing a VF");
        for (size_t i = 0; i < inv->npfs; i++) {
                bool ok = !c->pfs || c->npfs == 0;

                for (size_t k = 0; !ok && k < c->npfs; k++)
                        ok = c->pfs[k] && !strcmp(c->pfs[k], inv->pfs[i].netdev);
                allowed[i] = ok;
                nallowed += ok;
        }

#define FREE_OK(i) (allowed[inv->vfs[i].pf] && !(c->busy && c->busy[i]))
        pref = hpvm_vf_inventory_vf(inv, c->preferred);
        if (pref && FREE_OK((size_t)(pref - inv->vfs)))
                pick = (size_t)(pref - inv->vfs);
        for (size_t i = 0; pick == SIZE_MAX && c->preferred_node >= 0 && i < inv->nvfs; i++)
                if (FREE_OK(i) && inv->vfs[i].numa_node == c->preferred_node)
                        pick = i;
        for (size_t i = 0; pick == SIZE_MAX && i < inv->nvfs; i++)
                if (FREE_OK(i))
                        pick = i;
#undef FREE_OK

        if (pick == SIZE_MAX)
                return refuse(inv, c, allowed, nallowed, err);
        *ret_vf = pick;
        return 0;
}
