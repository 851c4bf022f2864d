/* topology-sysfs.c: fill an HpvmHost from the kernel's sysfs and procfs files (live host or a fake tree). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "props.h"
#include "topology.h"

/* sysfs files are one short line; 64 KiB holds even a 4096-CPU "0,2,4,..." list. */
#define SYSFS_FILE_MAX (64u << 10)
/* The first "flags" line sits in the first processor block; stop looking after this much. */
#define CPUINFO_SCAN_MAX (16u << 20)
#define REL_MAX 256

#define NODE_DIR "sys/devices/system/node"
#define CPU_DIR "sys/devices/system/cpu"

typedef struct Loader {
        const char *root;
        char rel[REL_MAX];      /* file being read, relative to root: what messages name */
        char *buf;              /* SYSFS_FILE_MAX + 1 bytes */
        HpvmError *err;
        HpvmNodeFree *free;     /* what the kernel says is free, parallel to the nodes added so far */
} Loader;

static int fail(Loader *l, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Set an error that starts with the file being read ("sys/.../online: ..."). */
static int fail(Loader *l, int code, const char *fmt, ...)
{
        char what[HPVM_ERR_MAX];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(what, sizeof(what), fmt, ap);
        va_end(ap);
        return hpvm_error_set(l->err, code, "%s: %s", l->rel, what);
}

static int set_rel(Loader *l, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

static int set_rel(Loader *l, const char *fmt, va_list ap)
{
        int n = vsnprintf(l->rel, sizeof(l->rel), fmt, ap);

        /* Relative names come from our own formats and bounded ids, so this is a bug guard. */
        if (n < 0 || (size_t) n >= sizeof(l->rel))
                return hpvm_error_set(l->err, -EINVAL, "%s...: path too long", l->rel);
        return 0;
}

/* <root>/<l->rel> into @out. */
static int full_path(Loader *l, char *out, size_t size)
{
        size_t rlen = strlen(l->root);
        const char *sep = (rlen > 0 && l->root[rlen - 1] == '/') ? "" : "/";
        int n = snprintf(out, size, "%s%s%s", l->root, sep, l->rel);

        if (n < 0 || (size_t) n >= size)
                return hpvm_error_set(l->err, -EINVAL, "%s: path under root '%s' too long",
                                      l->rel, l->root);
        return 0;
}

static int open_errno(Loader *l, int e)
{
        if (e == ENOENT || e == ENOTDIR)
                return fail(l, -ENOENT, "missing");
        return fail(l, -EIO, "cannot open: %s", strerror(e));
}

/*
 * Read the file named by l->rel into l->buf (NUL-terminated, one trailing
 * newline removed). Sets *ret_len. A file bigger than SYSFS_FILE_MAX is not
 * a kernel file we know, so it is refused instead of cut. With @missing_ok
 * a missing file is a silent -ENOENT: optional files must not leave a
 * message behind on success.
 */
static int read_rel(Loader *l, bool missing_ok, size_t *ret_len)
{
        char path[PATH_MAX];
        size_t total = 0;
        int fd, r;

        r = full_path(l, path, sizeof(path));
        if (r < 0)
                return r;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                if (missing_ok && errno == ENOENT)
                        return -ENOENT;
                return open_errno(l, errno);
        }

        for (;;) {
                size_t want = SYSFS_FILE_MAX + 1 - total;
                ssize_t n = read(fd, l->buf + total, want);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        int e = errno;

                        close(fd);
                        return fail(l, -EIO, "cannot read: %s", strerror(e));
                }
                if (n == 0)
                        break;
                total += (size_t) n;
                if (total > SYSFS_FILE_MAX) {
                        close(fd);
                        return fail(l, -EINVAL, "larger than %u KiB", SYSFS_FILE_MAX >> 10);
                }
                /*
                 * A sysfs attribute comes whole from its first read, ending in a newline; a short
                 * read of a regular file is its end: no read just to see EOF (a 512-CPU host has
                 * 256 sibling lists, and the destination check reads them all).
                 */
                if ((size_t) n < want && l->buf[total - 1] == '\n')
                        break;
        }
        close(fd);

        if (total > 0 && l->buf[total - 1] == '\n')
                total--;
        l->buf[total] = '\0';
        *ret_len = total;
        return 0;
}

static int set_relf(Loader *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int set_relf(Loader *l, const char *fmt, ...)
{
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = set_rel(l, fmt, ap);
        va_end(ap);
        return r;
}

static int read_file(Loader *l, size_t *ret_len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int read_file(Loader *l, size_t *ret_len, const char *fmt, ...)
{
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = set_rel(l, fmt, ap);
        va_end(ap);
        if (r < 0)
                return r;
        return read_rel(l, false, ret_len);
}

static int bad_number(Loader *l, const char *s, size_t len, int r, uint64_t max)
{
        char q[HPVM_QUOTE_MAX];

        hpvm_quote(s, len, q, sizeof(q));
        if (r == -EINVAL)
                return fail(l, -EINVAL, "'%s' is not a number", q);
        return fail(l, -EINVAL, "'%s' is out of range (at most %llu)", q, (unsigned long long) max);
}

/* One decimal number in the whole of l->buf. */
static int buf_u64(Loader *l, size_t len, uint64_t max, uint64_t *ret)
{
        int r = hpvm_parse_u64(l->buf, len, max, ret);

        if (r < 0)
                return bad_number(l, l->buf, len, r, max);
        return 0;
}

/*
 * A topology id (package, die, core). The kernel prints these with %d and
 * uses -1 for "not known on this platform", so "-1" is the one negative
 * value accepted. With @optional a missing file also means -1 (die_id
 * appeared in Linux 5.3).
 */
static int read_topo_id(Loader *l, bool optional, int *ret, unsigned cpu, const char *name)
{
        uint64_t v;
        size_t len;
        int r;

        r = set_relf(l, CPU_DIR "/cpu%u/topology/%s", cpu, name);
        if (r < 0)
                return r;
        r = read_rel(l, optional, &len);
        if (r == -ENOENT && optional) {
                *ret = -1;
                return 0;
        }
        if (r < 0)
                return r;
        if (len == 2 && memcmp(l->buf, "-1", 2) == 0) {
                *ret = -1;
                return 0;
        }
        r = buf_u64(l, len, INT_MAX, &v);
        if (r < 0)
                return r;
        *ret = (int) v;
        return 0;
}

/*
 * A kernel cpulist (CPUs or node ids) in l->buf. An empty file is a valid
 * empty set only with @allow_empty (a CPU-less node); our cpuset grammar
 * refuses empty lists, so that case never reaches the parser.
 */
static int buf_cpulist(Loader *l, size_t len, unsigned limit, const char *noun, bool allow_empty,
                       HpvmCpuSet *ret)
{
        HpvmError perr = { 0 };
        int r;

        if (len == 0) {
                if (!allow_empty)
                        return fail(l, -EINVAL, "empty (expected a list of %s ids)", noun);
                hpvm_cpuset_zero(ret);
                return 0;
        }
        r = hpvm_cpuset_parse(l->buf, len, limit, noun, ret, &perr);
        if (r < 0)
                /* Any parse failure means the file is not in the kernel's format. */
                return fail(l, -EINVAL, "%s", perr.msg[0] ? perr.msg : "not a cpulist");
        return 0;
}

static bool is_blank(char c)
{
        return c == ' ' || c == '\t';
}

/*
 * Value of "<key>:   <digits> kB" from a meminfo file in l->buf. In a node's
 * file (@node >= 0) every line starts with "Node <node> ". -ENOENT (no
 * message set) when no line has @key.
 */
static int meminfo_value(Loader *l, size_t len, int node, const char *key, uint64_t *ret)
{
        char prefix[32];
        size_t plen = 0, klen = strlen(key);
        const char *p = l->buf, *end = l->buf + len;

        if (node >= 0)
                plen = (size_t) snprintf(prefix, sizeof(prefix), "Node %d ", node);

        while (p < end) {
                const char *eol = memchr(p, '\n', (size_t) (end - p));
                const char *q, *num;

                if (!eol)
                        eol = end;
                q = p;
                if (node >= 0) {
                        if ((size_t) (eol - q) < plen || memcmp(q, prefix, plen) != 0) {
                                char qb[HPVM_QUOTE_MAX];

                                if (eol == p)
                                        goto next;  /* tolerate blank lines */
                                hpvm_quote(p, (size_t) (eol - p), qb, sizeof(qb));
                                return fail(l, -EINVAL, "line '%s' does not start with 'Node %d'",
                                            qb, node);
                        }
                        q += plen;
                }
                if ((size_t) (eol - q) <= klen || memcmp(q, key, klen) != 0 || q[klen] != ':')
                        goto next;

                q += klen + 1;
                while (q < eol && is_blank(*q))
                        q++;
                num = q;
                while (q < eol && *q >= '0' && *q <= '9')
                        q++;
                if (eol - q != 3 || memcmp(q, " kB", 3) != 0 || q == num) {
                        char qb[HPVM_QUOTE_MAX];

                        hpvm_quote(p, (size_t) (eol - p), qb, sizeof(qb));
                        return fail(l, -EINVAL, "line '%s' is not '%s: <number> kB'", qb, key);
                }
                {
                        int r = hpvm_parse_u64(num, (size_t) (q - num), HPVM_MEM_MAX_KIB, ret);

                        if (r < 0)
                                return bad_number(l, num, (size_t) (q - num), r, HPVM_MEM_MAX_KIB);
                }
                return 0;
        next:
                p = eol + 1;
        }
        return -ENOENT;
}

/* MemTotal and MemFree of the meminfo file named by the format (node file when @node >= 0). */
static int read_meminfo(Loader *l, int node, uint64_t *ret_total, uint64_t *ret_free,
                        const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int read_meminfo(Loader *l, int node, uint64_t *ret_total, uint64_t *ret_free,
                        const char *fmt, ...)
{
        uint64_t total, mfree;
        size_t len;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = set_rel(l, fmt, ap);
        va_end(ap);
        if (r < 0)
                return r;
        r = read_rel(l, false, &len);
        if (r < 0)
                return r;

        r = meminfo_value(l, len, node, "MemTotal", &total);
        if (r == -ENOENT)
                return fail(l, -EINVAL, "no 'MemTotal' line");
        if (r < 0)
                return r;
        r = meminfo_value(l, len, node, "MemFree", &mfree);
        if (r == -ENOENT)
                return fail(l, -EINVAL, "no 'MemFree' line");
        if (r < 0)
                return r;
        if (mfree > total)
                return fail(l, -EINVAL, "MemFree %llu kB is more than MemTotal %llu kB",
                            (unsigned long long) mfree, (unsigned long long) total);
        *ret_total = total;
        *ret_free = mfree;
        return 0;
}

/*
 * The page size of a "hugepages-<N>kB" folder name; false for any other
 * name, which the caller skips (".", "..", anything a future kernel adds).
 */
static bool pool_dir_name(const char *name, const char **ret_digits, size_t *ret_len)
{
        size_t n = strlen(name);

        if (n <= strlen("hugepages-") + strlen("kB") || strncmp(name, "hugepages-", 10) != 0 ||
            strcmp(name + n - 2, "kB") != 0)
                return false;
        *ret_digits = name + 10;
        *ret_len = n - 12;
        return true;
}

/*
 * Huge page pools under @dir ("sys/.../nodeN/hugepages" or
 * "sys/kernel/mm/hugepages") into @node. A missing folder means a kernel
 * without hugetlbfs: no pools, not an error.
 */
static int read_pools(Loader *l, HpvmNode *node, HpvmNodeFree *nfree, const char *dir)
{
        uint64_t sizes[HPVM_PAGE_SIZES_MAX], frees[HPVM_PAGE_SIZES_MAX];
        size_t nsizes = 0;
        char path[PATH_MAX];
        struct dirent *de;
        DIR *d;
        int r;

        r = set_relf(l, "%s", dir);
        if (r < 0)
                return r;
        r = full_path(l, path, sizeof(path));
        if (r < 0)
                return r;

        d = opendir(path);
        if (!d) {
                if (errno == ENOENT)
                        return 0;
                return open_errno(l, errno);
        }
        /* Collect the sizes first so only one descriptor is open and error paths stay short. */
        r = 0;
        while ((errno = 0, de = readdir(d))) {
                const char *digits;
                size_t dlen;
                uint64_t size;

                if (!pool_dir_name(de->d_name, &digits, &dlen))
                        continue;
                r = hpvm_parse_u64(digits, dlen, HPVM_MEM_MAX_KIB, &size);
                if (r < 0 || size == 0) {
                        char q[HPVM_QUOTE_MAX];

                        hpvm_quote(de->d_name, strlen(de->d_name), q, sizeof(q));
                        r = fail(l, -EINVAL, "'%s' does not name a page size", q);
                        break;
                }
                if (nsizes == HPVM_PAGE_SIZES_MAX) {
                        r = fail(l, -EINVAL, "more than %d huge page sizes", HPVM_PAGE_SIZES_MAX);
                        break;
                }
                sizes[nsizes++] = size;
        }
        if (r == 0 && errno != 0)
                r = fail(l, -EIO, "cannot list: %s", strerror(errno));
        closedir(d);
        if (r < 0)
                return r;

        for (size_t i = 0; i < nsizes; i++) {
                /* Pages times size must stay a sane amount of memory (and never wrap). */
                uint64_t max = HPVM_MEM_MAX_KIB / sizes[i];
                uint64_t total, pfree;
                size_t len;

                r = read_file(l, &len, "%s/hugepages-%llukB/nr_hugepages", dir,
                              (unsigned long long) sizes[i]);
                if (r < 0)
                        return r;
                r = buf_u64(l, len, max, &total);
                if (r < 0)
                        return r;
                r = read_file(l, &len, "%s/hugepages-%llukB/free_hugepages", dir,
                              (unsigned long long) sizes[i]);
                if (r < 0)
                        return r;
                r = buf_u64(l, len, max, &pfree);
                if (r < 0)
                        return r;
                if (pfree > total)
                        return fail(l, -EINVAL, "%llu free pages but only %llu reserved",
                                    (unsigned long long) pfree, (unsigned long long) total);
                r = hpvm_node_set_pages(node, sizes[i], total);
                if (r < 0)
                        return hpvm_error_set(l->err, r, "%s: cannot record page pool", dir);
                frees[i] = pfree;
        }
        /* Pools are kept sorted by size, so indices settle only once every pool is in. */
        for (size_t i = 0; i < nsizes; i++)
                nfree->pages[hpvm_node_pool(node, sizes[i])] = frees[i];
        return 0;
}

/* The thread siblings of online CPU @c: a cpulist the kernel keeps equal for every thread of a core. */
static int read_siblings(Loader *l, const HpvmHost *h, unsigned c, HpvmCpuSet *ret)
{
        size_t len;
        int r;

        r = read_file(l, &len, CPU_DIR "/cpu%u/topology/thread_siblings_list", c);
        if (r < 0)
                return r;
        r = buf_cpulist(l, len, HPVM_CPUSET_MAX, "CPU", false, ret);
        if (r < 0)
                return r;
        /* An offline sibling has no say; the CPU itself always belongs to its own core. */
        hpvm_cpuset_and(ret, &h->online);
        if (!hpvm_cpuset_test(ret, c))
                return fail(l, -EINVAL, "does not list CPU %u itself", c);
        return 0;
}

/*
 * Online CPUs and, with @topology, where each one sits and which threads
 * share its core; with @cores alone, only which threads share a core.
 */
static int read_cpus(Loader *l, HpvmHost *h, bool topology, bool cores)
{
        size_t len;
        int r;

        r = read_file(l, &len, CPU_DIR "/online");
        if (r < 0)
                return r;
        r = buf_cpulist(l, len, HPVM_CPUSET_MAX, "CPU", false, &h->online);
        if (r < 0 || (!topology && !cores))
                return r;

        /* Offline CPUs have no topology folder on most architectures: read online ones only. */
        for (int c = hpvm_cpuset_next(&h->online, 0); c >= 0; c = hpvm_cpuset_next(&h->online, (unsigned) c + 1)) {
                HpvmCpuTopo t = { .node = -1, .socket = -1, .die = -1 };

                r = topology ? read_topo_id(l, false, &t.socket, (unsigned) c, "physical_package_id") : 0;
                if (r < 0)
                        return r;
                r = topology ? read_topo_id(l, true, &t.die, (unsigned) c, "die_id") : 0;
                if (r < 0)
                        return r;
                r = hpvm_host_set_cpu(h, (unsigned) c, &t);
                if (r < 0)
                        return hpvm_error_set(l->err, r, "CPU %d: cannot record topology", c);
        }
        /* Cores from the kernel's own sibling lists, not from core_id: core ids repeat across dies
         * and clusters, and some platforms number every thread as its own core. */
        for (int c = hpvm_cpuset_next(&h->online, 0); c >= 0; c = hpvm_cpuset_next(&h->online, (unsigned) c + 1)) {
                HpvmCpuSet sib;

                if (h->cpu[c].core >= 0)
                        continue;       /* already recorded through an earlier sibling */
                r = read_siblings(l, h, (unsigned) c, &sib);
                if (r < 0)
                        return r;
                r = hpvm_host_add_core(h, &sib);
                if (r == -EINVAL)
                        return fail(l, -EINVAL, "CPU %d's siblings overlap another core's without matching it", c);
                if (r < 0)
                        return hpvm_error_set(l->err, r, "CPU %d: cannot record its core", c);
        }
        return 0;
}

/* Point each online CPU of @n at it. A CPU claimed by two nodes means the tree is inconsistent. */
static int claim_cpus(Loader *l, HpvmHost *h, const HpvmNode *n, HpvmCpuSet *claimed)
{
        for (int c = hpvm_cpuset_next(&n->cpus, 0); c >= 0; c = hpvm_cpuset_next(&n->cpus, (unsigned) c + 1)) {
                if (hpvm_cpuset_test(claimed, (unsigned) c))
                        return fail(l, -EINVAL, "CPU %d is also listed by another node", c);
                hpvm_cpuset_set(claimed, (unsigned) c);
                if ((unsigned) c < h->ncpu && hpvm_cpuset_test(&h->online, (unsigned) c))
                        h->cpu[c].node = (int) n->id;
        }
        return 0;
}

/* Grow the free-amount table by one entry for the node just added (index h->nnodes - 1). */
static HpvmNodeFree *new_free(Loader *l, const HpvmHost *h)
{
        HpvmNodeFree *f = realloc(l->free, h->nnodes * sizeof(*f));

        if (!f)
                return NULL;
        l->free = f;
        memset(&f[h->nnodes - 1], 0, sizeof(*f));
        return &f[h->nnodes - 1];
}

/*
 * nodeN/distance: one number per online node, in node id order (the ACPI
 * SLIT row). A missing file means the platform gives none: defaults apply.
 */
static int read_distances(Loader *l, HpvmHost *h)
{
        for (size_t i = 0; i < h->nnodes; i++) {
                const char *p, *end;
                size_t len, j = 0;
                int r;

                r = set_relf(l, NODE_DIR "/node%u/distance", h->nodes[i].id);
                if (r < 0)
                        return r;
                r = read_rel(l, true, &len);
                if (r == -ENOENT)
                        return 0;
                if (r < 0)
                        return r;
                for (p = l->buf, end = l->buf + len; p < end; j++) {
                        const char *q = p;
                        uint64_t v;

                        while (q < end && *q != ' ')
                                q++;
                        if (j >= h->nnodes)
                                return fail(l, -EINVAL, "more distances than the %zu online nodes", h->nnodes);
                        r = hpvm_parse_u64(p, (size_t) (q - p), UINT32_MAX, &v);
                        if (r < 0 || v == 0)
                                return bad_number(l, p, (size_t) (q - p), r < 0 ? r : -ERANGE, UINT32_MAX);
                        r = hpvm_host_set_distance(h, i, j, (uint32_t) v);
                        if (r < 0)
                                return hpvm_error_set(l->err, r, "cannot record node distances");
                        p = q < end ? q + 1 : q;
                }
                if (j != h->nnodes)
                        return fail(l, -EINVAL, "%zu distances for %zu online nodes", j, h->nnodes);
        }
        return 0;
}

static int read_numa_nodes(Loader *l, HpvmHost *h)
{
        HpvmCpuSet ids, claimed;
        size_t len;
        int r;

        r = read_file(l, &len, NODE_DIR "/online");
        if (r < 0)
                return r;
        /* The parser's limit is the cap on node ids, so the loop below is bounded too. */
        r = buf_cpulist(l, len, HPVM_NODE_MAX, "NUMA node", false, &ids);
        if (r < 0)
                return r;

        hpvm_cpuset_zero(&claimed);
        for (int id = hpvm_cpuset_next(&ids, 0); id >= 0; id = hpvm_cpuset_next(&ids, (unsigned) id + 1)) {
                char dir[REL_MAX];
                HpvmCpuSet cpus;
                uint64_t total, mfree;
                HpvmNodeFree *nf;
                HpvmNode *n;

                r = read_file(l, &len, NODE_DIR "/node%d/cpulist", id);
                if (r < 0)
                        return r;
                r = buf_cpulist(l, len, HPVM_CPUSET_MAX, "CPU", true, &cpus);
                if (r < 0)
                        return r;
                r = claim_cpus(l, h, &(HpvmNode) { .id = (unsigned) id, .cpus = cpus }, &claimed);
                if (r < 0)
                        return r;

                r = read_meminfo(l, id, &total, &mfree, NODE_DIR "/node%d/meminfo", id);
                if (r < 0)
                        return r;

                /* Ids come in ascending order, so the new node is always the last one. */
                r = hpvm_host_add_node(h, (unsigned) id, &cpus, total, &n);
                if (r < 0)
                        return hpvm_error_set(l->err, r, "node %d: cannot record it", id);
                nf = new_free(l, h);
                if (!nf)
                        return hpvm_error_set(l->err, -ENOMEM, "out of memory reading the host topology");
                nf->mem_kib = mfree;

                snprintf(dir, sizeof(dir), NODE_DIR "/node%d/hugepages", id);
                r = read_pools(l, n, nf, dir);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* A host without NUMA: one node 0 with every online CPU and all memory. */
static int read_flat_node(Loader *l, HpvmHost *h)
{
        uint64_t total, mfree;
        HpvmNodeFree *nf;
        HpvmNode *n;
        int r;

        r = read_meminfo(l, -1, &total, &mfree, "proc/meminfo");
        if (r < 0)
                return r;
        r = hpvm_host_add_node(h, 0, &h->online, total, &n);
        if (r < 0)
                return hpvm_error_set(l->err, r, "node 0: cannot record it");
        nf = new_free(l, h);
        if (!nf)
                return hpvm_error_set(l->err, -ENOMEM, "out of memory reading the host topology");
        nf->mem_kib = mfree;
        for (unsigned c = 0; c < h->ncpu; c++)
                if (hpvm_cpuset_test(&h->online, c))
                        h->cpu[c].node = 0;
        return read_pools(l, n, nf, "sys/kernel/mm/hugepages");
}

/*
 * Does the first "flags" line of /proc/cpuinfo list both constant_tsc and
 * nonstop_tsc? Streamed through a small state machine so a huge cpuinfo
 * (thousands of CPUs) is never held in memory and chunk borders do not matter.
 */
static int read_invtsc(Loader *l, bool *ret)
{
        enum { KEY, SKIP, FLAGS, DONE } st = KEY;
        static const char key[] = "flags";
        char path[PATH_MAX], tok[32];
        size_t kpos = 0, tlen = 0, scanned = 0;
        bool tok_long = false, constant = false, nonstop = false;
        int fd, r;

        r = set_relf(l, "proc/cpuinfo");
        if (r < 0)
                return r;
        r = full_path(l, path, sizeof(path));
        if (r < 0)
                return r;
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return open_errno(l, errno);

        while (st != DONE && scanned < CPUINFO_SCAN_MAX) {
                ssize_t n = read(fd, l->buf, SYSFS_FILE_MAX);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        int e = errno;

                        close(fd);
                        return fail(l, -EIO, "cannot read: %s", strerror(e));
                }
                if (n == 0)
                        break;
                scanned += (size_t) n;

                for (ssize_t i = 0; i < n && st != DONE; i++) {
                        char c = l->buf[i];

                        switch (st) {
                        case KEY:
                                if (kpos < sizeof(key) - 1 && c == key[kpos])
                                        kpos++;
                                else if (kpos == sizeof(key) - 1 && is_blank(c))
                                        ;
                                else if (kpos == sizeof(key) - 1 && c == ':')
                                        st = FLAGS;
                                else if (c == '\n')
                                        kpos = 0;
                                else
                                        st = SKIP;
                                break;
                        case SKIP:
                                if (c == '\n') {
                                        st = KEY;
                                        kpos = 0;
                                }
                                break;
                        case FLAGS:
                                if (is_blank(c) || c == '\n') {
                                        if (!tok_long && tlen == strlen("constant_tsc") &&
                                            memcmp(tok, "constant_tsc", tlen) == 0)
                                                constant = true;
                                        if (!tok_long && tlen == strlen("nonstop_tsc") &&
                                            memcmp(tok, "nonstop_tsc", tlen) == 0)
                                                nonstop = true;
                                        tlen = 0;
                                        tok_long = false;
                                        if (c == '\n')
                                                st = DONE;
                                } else if (tlen < sizeof(tok)) {
                                        tok[tlen++] = c;
                                } else {
                                        tok_long = true;  /* longer than any flag we look for */
                                }
                                break;
                        case DONE:
                                break;
                        }
                }
        }
        close(fd);

        /* A flags line cut by EOF (no final newline) still counts: check its last token. */
        if (st == FLAGS && !tok_long) {
                if (tlen == strlen("constant_tsc") && memcmp(tok, "constant_tsc", tlen) == 0)
                        constant = true;
                if (tlen == strlen("nonstop_tsc") && memcmp(tok, "nonstop_tsc", tlen) == 0)
                        nonstop = true;
        }
        *ret = constant && nonstop;
        return 0;
}

/* Is there a node folder? Its absence is the kernel's way of saying "no NUMA". */
static int has_node_dir(Loader *l, bool *ret)
{
        char path[PATH_MAX];
        struct stat st;
        int r;

        r = set_relf(l, NODE_DIR);
        if (r < 0)
                return r;
        r = full_path(l, path, sizeof(path));
        if (r < 0)
                return r;
        if (stat(path, &st) < 0) {
                if (errno == ENOENT) {
                        *ret = false;
                        return 0;
                }
                return fail(l, -EIO, "cannot stat: %s", strerror(errno));
        }
        if (!S_ISDIR(st.st_mode))
                return fail(l, -EINVAL, "not a folder");
        *ret = true;
        return 0;
}

/*
 * The TSC frequency a guest runs at by default. A tree may hold
 * cpu/cpu0/tsc_freq_khz (some kernels export it; fake trees use it). On the
 * live host, else, ask KVM the way libvirt does for <counter name='tsc'>:
 * KVM_GET_TSC_KHZ of a throw-away vCPU, and KVM_CAP_TSC_CONTROL for scaling.
 * Unknown is not an error: 0.
 */
static int read_tsc(Loader *l, bool live, uint64_t *ret_hz, bool *ret_scaling)
{
        uint64_t khz;
        size_t len;
        int r, kvm, vm, vcpu;

        *ret_hz = 0;
        *ret_scaling = false;
        r = set_relf(l, CPU_DIR "/cpu0/tsc_freq_khz");
        if (r < 0)
                return r;
        r = read_rel(l, true, &len);
        if (r == 0) {
                r = buf_u64(l, len, UINT64_MAX / 1000, &khz);
                if (r < 0)
                        return r;
                *ret_hz = khz * 1000;
                return 0;
        }
        if (r != -ENOENT || !live)
                return r == -ENOENT ? 0 : r;
        kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
        if (kvm < 0)
                return 0;
        vm = ioctl(kvm, KVM_CREATE_VM, 0);
        vcpu = vm >= 0 ? ioctl(vm, KVM_CREATE_VCPU, 0) : -1;
        r = vcpu >= 0 ? ioctl(vcpu, KVM_GET_TSC_KHZ, 0) : -1;
        if (r > 0) {
                *ret_hz = (uint64_t) r * 1000;
                *ret_scaling = ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_TSC_CONTROL) > 0;
        }
        if (vcpu >= 0)
                close(vcpu);
        if (vm >= 0)
                close(vm);
        close(kvm);
        return 0;
}

static bool is_live_root(const char *root)
{
        return strcmp(root, "/") == 0;
}

int hpvm_host_load_sysfs(const char *root, unsigned parts, HpvmHost **ret_host, HpvmUsage **ret_use,
                         HpvmError *err)
{
        _cleanup_host_ HpvmHost *h = NULL;
        _cleanup_free_ char *buf = NULL;
        _cleanup_free_ HpvmNodeFree *nfree = NULL;
        Loader l = { .root = (root && *root) ? root : "/", .err = err };
        HpvmUsage *u = NULL;
        bool numa = false;
        int r;

        buf = malloc(SYSFS_FILE_MAX + 1);
        h = hpvm_host_new();
        if (!buf || !h)
                return hpvm_error_set(err, -ENOMEM, "out of memory reading the host topology");
        l.buf = buf;

        h->parts = parts & HPVM_HOST_ALL;
        r = read_cpus(&l, h, parts & HPVM_HOST_CPU_TOPOLOGY, parts & HPVM_HOST_CPU_CORES);
        if (r >= 0)
                r = has_node_dir(&l, &numa);
        if (r >= 0)
                r = numa ? read_numa_nodes(&l, h) : read_flat_node(&l, h);
        nfree = l.free;
        if (r < 0)
                return r;
        if (numa && (parts & HPVM_HOST_DISTANCES)) {
                r = read_distances(&l, h);
                if (r < 0)
                        return r;
        }
        if (parts & HPVM_HOST_CPU_FLAGS) {
                r = read_invtsc(&l, &h->invtsc);
                if (r < 0)
                        return r;
                r = read_tsc(&l, is_live_root(l.root), &h->tsc_hz, &h->tsc_scaling);
                if (r < 0)
                        return r;
        }
        if (ret_use) {
                u = hpvm_usage_new(h);
                if (!u)
                        return hpvm_error_set(err, -ENOMEM, "out of memory reading the host topology");
                memcpy(u->node, nfree, h->nnodes * sizeof(*nfree));
                *ret_use = u;
        }
        *ret_host = h;
        h = NULL;
        return 0;
}
