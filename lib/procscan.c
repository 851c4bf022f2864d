/* procscan.c: find running QEMU guests by the -uuid on their command lines in <root>/proc. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "procscan.h"

#define PID_DIGITS_MAX 10       /* pid_max is at most 2^22 */

bool hpvm_uuid_valid(const char *s, size_t len)
{
        if (!s || len != HPVM_UUID_LEN)
                return false;
        for (size_t i = 0; i < len; i++) {
                bool dash = i == 8 || i == 13 || i == 18 || i == 23;
                char ch = s[i];

                if (dash ? ch != '-'
                         : !((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F')))
                        return false;
        }
        return true;
}

static void uuid_lower(const char *s, HpvmUuid *ret)
{
        for (size_t i = 0; i < HPVM_UUID_LEN; i++)
                ret->s[i] = (s[i] >= 'A' && s[i] <= 'F') ? (char)(s[i] - 'A' + 'a') : s[i];
        ret->s[HPVM_UUID_LEN] = '\0';
}

/* Called with each running guest; return > 0 to stop the scan early, < 0 to fail it. */
typedef int (*GuestFn)(void *ctx, const HpvmUuid *uuid, HpvmError *err);

static bool is_qemu(const char *argv0, size_t len)
{
        const char *base = argv0;

        for (size_t i = 0; i < len; i++)
                if (argv0[i] == '/')
                        base = argv0 + i + 1;
        len -= (size_t)(base - argv0);
        return (len >= 4 && !memcmp(base, "qemu", 4)) || (len == 3 && !memcmp(base, "kvm", 3));
}

/* The guest uuid of a QEMU command line (@len bytes, NUL-separated arguments), or false. */
static bool cmdline_uuid(const char *buf, size_t len, HpvmUuid *ret)
{
        const char *p = buf, *end = buf + len;
        bool first = true, want = false;

        while (p < end) {
                const char *nul = memchr(p, '\0', (size_t)(end - p));
                size_t alen = (size_t)((nul ? nul : end) - p);

                /* An argument cut by the read limit has no NUL: it cannot be trusted whole. */
                if (!nul)
                        return false;
                if (first) {
                        if (!is_qemu(p, alen))
                                return false;
                        first = false;
                } else if (want) {
                        if (!hpvm_uuid_valid(p, alen))
                                return false;
                        uuid_lower(p, ret);
                        return true;
                } else if ((alen == 5 && !memcmp(p, "-uuid", 5)) || (alen == 6 && !memcmp(p, "--uuid", 6))) {
                        want = true;
                }
                p = nul + 1;
        }
        return false;
}

static bool is_pid_name(const char *n)
{
        size_t len = strlen(n);

        if (len == 0 || len > PID_DIGITS_MAX)
                return false;
        for (size_t i = 0; i < len; i++)
                if (n[i] < '0' || n[i] > '9')
                        return false;
        return true;
}

/* The process ended between the listing and the read: not an error, just gone. */
static bool gone(int e)
{
        return e == ENOENT || e == ESRCH || e == ENOTDIR;
}

/*
 * Read <procdir>/<pid>/cmdline into @buf (HPVM_CMDLINE_MAX bytes). Returns
 * the length, 0 for a process that is gone (or a kernel thread), or a
 * negative errno with @err set.
 */
static ssize_t read_cmdline(int procfd, const char *procdir, const char *pid, char *buf, HpvmError *err)
{
        char rel[PID_DIGITS_MAX + 16];
        size_t got = 0;
        int fd, e;

        snprintf(rel, sizeof(rel), "%s/cmdline", pid);
        fd = openat(procfd, rel, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0) {
                if (gone(errno))
                        return 0;
                e = errno;
                return hpvm_error_set(err, -e, "cannot open %s/%s: %s (cannot tell which VMs run)", procdir, rel,
                                      strerror(e));
        }
        while (got < HPVM_CMDLINE_MAX) {
                ssize_t n = read(fd, buf + got, HPVM_CMDLINE_MAX - got);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        e = errno;
                        close(fd);
                        if (gone(e))
                                return 0;
                        return hpvm_error_set(err, e == EISDIR ? -EISDIR : -EIO,
                                              "cannot read %s/%s: %s (cannot tell which VMs run)", procdir, rel,
                                              strerror(e));
                }
                if (n == 0)
                        break;
                got += (size_t)n;
        }
        close(fd);
        return (ssize_t)got;
}

static int scan(const char *root, GuestFn fn, void *ctx, HpvmError *err)
{
        char procdir[PATH_MAX];
        _cleanup_free_ char *buf = NULL;
        size_t rlen;
        struct dirent *de;
        DIR *d;
        int fd, r = 0;

        if (!root || !root[0])
                return hpvm_error_set(err, -EINVAL, "no root folder given");
        rlen = strlen(root);
        if (snprintf(procdir, sizeof(procdir), "%s%sproc", root, root[rlen - 1] == '/' ? "" : "/") >=
            (int)sizeof(procdir))
                return hpvm_error_set(err, -EINVAL, "%s: path too long", root);
        buf = malloc(HPVM_CMDLINE_MAX);
        if (!buf)
                return hpvm_error_set(err, -ENOMEM, "out of memory");
        fd = open(procdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return hpvm_error_set(err, errno == ENOENT || errno == ENOTDIR ? -ENOENT : -errno,
                                      "cannot list %s: %s (cannot tell which VMs run)", procdir, strerror(errno));
        d = fdopendir(fd);
        if (!d) {
                r = -errno;
                close(fd);
                return hpvm_error_set(err, r, "cannot list %s: %s", procdir, strerror(-r));
        }

        for (;;) {
                HpvmUuid uuid;
                ssize_t n;

                errno = 0;
                de = readdir(d);
                if (!de) {
                        if (errno)
                                r = hpvm_error_set(err, -EIO, "cannot list %s: %s (cannot tell which VMs run)",
                                                   procdir, strerror(errno));
                        break;
                }
                if (!is_pid_name(de->d_name))
                        continue;
                n = read_cmdline(fd, procdir, de->d_name, buf, err);
                if (n < 0) {
                        r = (int)n;
                        break;
                }
                if (n == 0 || !cmdline_uuid(buf, (size_t)n, &uuid))
                        continue;
                r = fn(ctx, &uuid, err);
                if (r != 0)
                        break;
        }
        closedir(d);
        return r < 0 ? r : 0;
}

/* ---------------------------------------------------------------- one guest */

typedef struct Wanted {
        HpvmUuid uuid;
        bool found;
} Wanted;

static int match_one(void *ctx, const HpvmUuid *uuid, HpvmError *err)
{
        Wanted *w = ctx;

        if (strcmp(w->uuid.s, uuid->s))
                return 0;
        w->found = true;
        return 1;
}

int hpvm_vm_running(const char *root, const char *uuid, bool *ret, HpvmError *err)
{
        char q[HPVM_QUOTE_MAX];
        Wanted w = { .found = false };
        int r;

        if (!uuid || !hpvm_uuid_valid(uuid, strlen(uuid)))
                return hpvm_error_set(err, -EINVAL, "'%s' is not a VM uuid (expected 8-4-4-4-12 hex digits)",
                                      uuid ? hpvm_quote(uuid, strlen(uuid), q, sizeof(q)) : "");
        uuid_lower(uuid, &w.uuid);
        r = scan(root, match_one, &w, err);
        if (r < 0)
                return r;
        *ret = w.found;
        return 0;
}

/* ---------------------------------------------------------------- every guest */

typedef struct Collected {
        HpvmUuid *v;
        size_t n, cap;
} Collected;

static int collect(void *ctx, const HpvmUuid *uuid, HpvmError *err)
{
        Collected *c = ctx;

        if (c->n >= HPVM_GUESTS_MAX)
                return hpvm_error_set(err, -E2BIG, "more than %u QEMU guests run", HPVM_GUESTS_MAX);
        if (c->n == c->cap) {
                size_t cap = c->cap ? c->cap * 2 : 16;
                HpvmUuid *v = reallocarray(c->v, cap, sizeof(*v));

                if (!v)
                        return hpvm_error_set(err, -ENOMEM, "out of memory");
                c->v = v;
                c->cap = cap;
        }
        c->v[c->n++] = *uuid;
        return 0;
}

static int cmp_uuid(const void *a, const void *b)
{
        return strcmp(((const HpvmUuid *)a)->s, ((const HpvmUuid *)b)->s);
}

int hpvm_vm_running_uuids(const char *root, HpvmUuid **ret, size_t *ret_n, HpvmError *err)
{
        Collected c = { 0 };
        size_t n = 0;
        int r;

        r = scan(root, collect, &c, err);
        if (r < 0) {
                free(c.v);
                return r;
        }
        if (c.n > 1)
                qsort(c.v, c.n, sizeof(*c.v), cmp_uuid);
        for (size_t i = 0; i < c.n; i++)
                if (n == 0 || strcmp(c.v[n - 1].s, c.v[i].s))
                        c.v[n++] = c.v[i];
        *ret = c.v;
        *ret_n = n;
        return 0;
}
