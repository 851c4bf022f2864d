/* hostgen.c: hosts built in memory from a compact text spec, for the placement tests and benchmark. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostgen.h"
#include "props.h"

#define GEN_NODES_MAX 64
#define GEN_LIST_MAX 4096

typedef struct List {
        size_t n;
        unsigned long long v[GEN_LIST_MAX];
        bool unknown[GEN_LIST_MAX];
} List;

static int fail(char *why, size_t whysz, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *why, size_t whysz, const char *fmt, ...)
{
        va_list ap;

        if (why && whysz) {
                va_start(ap, fmt);
                vsnprintf(why, whysz, fmt, ap);
                va_end(ap);
        }
        return -EINVAL;
}

/* "a,b,c": numbers, sizes (size=true: K|M|G|T) or '?' */
static int parse_list(const char *s, size_t len, bool size, List *l)
{
        const char *end = s + len;

        l->n = 0;
        while (s < end) {
                const char *comma = memchr(s, ',', (size_t)(end - s));
                size_t plen = (size_t)((comma ? comma : end) - s);
                uint64_t v = 0;

                if (l->n >= GEN_LIST_MAX)
                        return -EINVAL;
                l->unknown[l->n] = plen == 1 && s[0] == '?';
                if (!l->unknown[l->n]) {
                        if (size && plen == 1 && s[0] == '0')
                                v = 0;
                        else if (size ? hpvm_parse_size_kib(s, plen, UINT64_MAX, &v) < 0 :
                                 hpvm_parse_u64(s, plen, UINT64_MAX, &v) < 0)
                                return -EINVAL;
                }
                l->v[l->n++] = v;
                s += plen + (comma ? 1 : 0);
                if (comma && s == end)
                        return -EINVAL;
        }
        return l->n ? 0 : -EINVAL;
}

static unsigned long long at(const List *l, size_t i)
{
        return l->v[i < l->n ? i : l->n - 1];
}

static bool unknown_at(const List *l, size_t i)
{
        return l->unknown[i < l->n ? i : l->n - 1];
}

typedef struct Pool {
        uint64_t size;
        List count;
} Pool;

int th_host_build(const char *spec, HpvmHost **ret_host, HpvmUsage **ret_use, char *why, size_t whysz)
{
        static List cores, threads, mem, nid, dist, freel;
        static Pool pools[HPVM_PAGE_SIZES_MAX], freepools[HPVM_PAGE_SIZES_MAX];
        size_t npools = 0, nfreepools = 0;
        HpvmCpuSet offline, reserved, taken;
        unsigned nnodes, gap = 0, group = 0, near = 0, far = 0;
        bool linux_ids = false, notopo = false, has_mem = false, has_free = false, has_nid = false, has_dist = false;
        const char *p = spec, *x1, *x2, *sp;
        HpvmHost *h = NULL;
        HpvmUsage *u = NULL;
        int r = -EINVAL;

        hpvm_cpuset_zero(&offline);
        hpvm_cpuset_zero(&reserved);
        hpvm_cpuset_zero(&taken);

        /* <nodes>x<cores>x<threads> */
        sp = strchr(p, ' ');
        if (!sp)
                sp = p + strlen(p);
        x1 = memchr(p, 'x', (size_t)(sp - p));
        x2 = x1 ? memchr(x1 + 1, 'x', (size_t)(sp - x1 - 1)) : NULL;
        if (!x1 || !x2)
                return fail(why, whysz, "'%s': expected <nodes>x<cores>x<threads>", spec);
        {
                uint64_t n;

                if (hpvm_parse_u64(p, (size_t)(x1 - p), GEN_NODES_MAX, &n) < 0 || n == 0)
                        return fail(why, whysz, "'%s': 1 to %d nodes", spec, GEN_NODES_MAX);
                nnodes = (unsigned)n;
        }
        if (parse_list(x1 + 1, (size_t)(x2 - x1 - 1), false, &cores) < 0 ||
            parse_list(x2 + 1, (size_t)(sp - x2 - 1), false, &threads) < 0)
                return fail(why, whysz, "'%s': bad cores or threads", spec);

        for (p = sp; *p;) {
                const char *end, *eq;
                size_t klen;

                while (*p == ' ')
                        p++;
                if (!*p)
                        break;
                end = strchr(p, ' ');
                if (!end)
                        end = p + strlen(p);
                eq = memchr(p, '=', (size_t)(end - p));
                klen = (size_t)((eq ? eq : end) - p);
#define KEY(k) (klen == strlen(k) && !memcmp(p, k, klen))
                if (KEY("notopo")) {
                        notopo = true;
                } else if (!eq) {
                        return fail(why, whysz, "'%.*s': expected key=value", (int)(end - p), p);
                } else if (KEY("mem")) {
                        has_mem = parse_list(eq + 1, (size_t)(end - eq - 1), true, &mem) == 0;
                        if (!has_mem)
                                return fail(why, whysz, "bad mem=");
                } else if (KEY("free")) {
                        has_free = parse_list(eq + 1, (size_t)(end - eq - 1), true, &freel) == 0;
                        if (!has_free)
                                return fail(why, whysz, "bad free=");
                } else if (KEY("hp") || KEY("hpfree")) {
                        bool isfree = KEY("hpfree");
                        Pool *pl = isfree ? &freepools[nfreepools] : &pools[npools];
                        const char *colon = memchr(eq + 1, ':', (size_t)(end - eq - 1));

                        if ((isfree ? nfreepools : npools) >= HPVM_PAGE_SIZES_MAX || !colon ||
                            hpvm_parse_size_kib(eq + 1, (size_t)(colon - eq - 1), UINT64_MAX, &pl->size) < 0 ||
                            parse_list(colon + 1, (size_t)(end - colon - 1), false, &pl->count) < 0)
                                return fail(why, whysz, "bad %.*s", (int)(end - p), p);
                        if (isfree)
                                nfreepools++;
                        else
                                npools++;
                } else if (KEY("ids")) {
                        size_t vlen = (size_t)(end - eq - 1);

                        if (vlen == 5 && !memcmp(eq + 1, "linux", 5))
                                linux_ids = true;
                        else if (!(vlen == 6 && !memcmp(eq + 1, "packed", 6)))
                                return fail(why, whysz, "ids=packed|linux");
                } else if (KEY("gap")) {
                        uint64_t v;

                        if (hpvm_parse_u64(eq + 1, (size_t)(end - eq - 1), 1024, &v) < 0)
                                return fail(why, whysz, "bad gap=");
                        gap = (unsigned)v;
                } else if (KEY("nid")) {
                        has_nid = parse_list(eq + 1, (size_t)(end - eq - 1), false, &nid) == 0;
                        if (!has_nid || nid.n != nnodes)
                                return fail(why, whysz, "nid= needs %u ids", nnodes);
                } else if (KEY("dist")) {
                        if ((size_t)(end - eq - 1) > 6 && !memcmp(eq + 1, "group:", 6)) {
                                if (sscanf(eq + 7, "%u:%u:%u", &group, &near, &far) != 3 || !group)
                                        return fail(why, whysz, "dist=group:K:NEAR:FAR");
                        } else {
                                has_dist = parse_list(eq + 1, (size_t)(end - eq - 1), false, &dist) == 0;
                                if (!has_dist || dist.n != (size_t)nnodes * nnodes)
                                        return fail(why, whysz, "dist= needs %u values", nnodes * nnodes);
                        }
                } else if (KEY("offline") || KEY("res") || KEY("taken")) {
                        HpvmCpuSet *s = KEY("offline") ? &offline : KEY("res") ? &reserved : &taken;
                        HpvmError e = { 0 };

                        if (hpvm_cpuset_parse(eq + 1, (size_t)(end - eq - 1), HPVM_CPUSET_MAX, "CPU", s, &e) < 0)
                                return fail(why, whysz, "%.*s: %s", (int)klen, p, e.msg);
                } else {
                        return fail(why, whysz, "unknown key '%.*s'", (int)klen, p);
                }
#undef KEY
                p = end;
        }

        h = hpvm_host_new();
        if (!h)
                return -ENOMEM;
        h->parts = (notopo ? 0 : HPVM_HOST_CPU_TOPOLOGY) | (has_dist || group ? HPVM_HOST_DISTANCES : 0);

        /* CPU ids: packed blocks per node, or Linux's thread-major order across the host. */
        {
                unsigned next = 0, maxt = 0;
                static unsigned id[GEN_NODES_MAX][256][8];

                for (unsigned k = 0; k < nnodes; k++) {
                        if (at(&cores, k) > 256 || at(&threads, k) > 8 || (at(&cores, k) && !at(&threads, k))) {
                                r = fail(why, whysz, "node %u: at most 256 cores of 1 to 8 threads", k);
                                goto out;
                        }
                        if (at(&threads, k) > maxt)
                                maxt = (unsigned)at(&threads, k);
                }
                if (linux_ids) {
                        for (unsigned t = 0; t < maxt; t++)
                                for (unsigned k = 0; k < nnodes; k++) {
                                        for (unsigned c = 0; c < at(&cores, k); c++)
                                                if (t < at(&threads, k))
                                                        id[k][c][t] = next++;
                                        next += gap;
                                }
                } else {
                        for (unsigned k = 0; k < nnodes; k++) {
                                for (unsigned c = 0; c < at(&cores, k); c++)
                                        for (unsigned t = 0; t < at(&threads, k); t++)
                                                id[k][c][t] = next++;
                                next += gap;
                        }
                }
                if (next > HPVM_CPUSET_MAX) {
                        r = fail(why, whysz, "more than %d CPU ids", HPVM_CPUSET_MAX);
                        goto out;
                }

                for (unsigned k = 0; k < nnodes; k++) {
                        HpvmCpuSet cpus;
                        HpvmNode *nd;
                        uint64_t m = has_mem ? (unknown_at(&mem, k) ? HPVM_MEM_UNKNOWN : at(&mem, k)) : 16 << 20;

                        hpvm_cpuset_zero(&cpus);
                        for (unsigned c = 0; c < at(&cores, k); c++)
                                for (unsigned t = 0; t < at(&threads, k); t++)
                                        hpvm_cpuset_set(&cpus, id[k][c][t]);
                        r = hpvm_host_add_node(h, has_nid ? (unsigned)nid.v[k] : k, &cpus, m, &nd);
                        if (r < 0) {
                                fail(why, whysz, "node %u: cannot add it (%d)", k, r);
                                goto out;
                        }
                        for (size_t q = 0; q < npools; q++) {
                                r = hpvm_node_set_pages(nd, pools[q].size, at(&pools[q].count, k));
                                if (r < 0)
                                        goto out;
                        }
                }
                /* CPUs after the nodes: hpvm_host_add_node keeps nodes sorted, and ids may not be. */
                for (unsigned k = 0; k < nnodes; k++) {
                        unsigned nodeid = has_nid ? (unsigned)nid.v[k] : k;

                        for (unsigned c = 0; c < at(&cores, k); c++) {
                                HpvmCpuSet sib;

                                hpvm_cpuset_zero(&sib);
                                for (unsigned t = 0; t < at(&threads, k); t++) {
                                        unsigned cpu = id[k][c][t];
                                        HpvmCpuTopo topo = { .node = (int)nodeid, .socket = (int)(group ? k / group : k),
                                                             .die = 0, .core = -1 };

                                        if (hpvm_cpuset_test(&offline, cpu))
                                                continue;
                                        hpvm_cpuset_set(&h->online, cpu);
                                        if (notopo)
                                                continue;
                                        r = hpvm_host_set_cpu(h, cpu, &topo);
                                        if (r < 0)
                                                goto out;
                                        hpvm_cpuset_set(&sib, cpu);
                                }
                                if (!notopo && !hpvm_cpuset_is_empty(&sib)) {
                                        r = hpvm_host_add_core(h, &sib);
                                        if (r < 0)
                                                goto out;
                                }
                        }
                }
        }

        for (size_t i = 0; (has_dist || group) && i < nnodes; i++)
                for (size_t j = 0; j < nnodes; j++) {
                        /* Matrix rows follow the spec's node order; nodes are stored by id. */
                        size_t si = i, sj = j;
                        uint32_t d;
                        int ii, jj;

                        if (has_dist)
                                d = (uint32_t)dist.v[si * nnodes + sj];
                        else
                                d = si == sj ? HPVM_DISTANCE_LOCAL : si / group == sj / group ? near : far;
                        ii = hpvm_host_node_index(h, has_nid ? (unsigned)nid.v[si] : (unsigned)si);
                        jj = hpvm_host_node_index(h, has_nid ? (unsigned)nid.v[sj] : (unsigned)sj);
                        r = hpvm_host_set_distance(h, (size_t)ii, (size_t)jj, d);
                        if (r < 0) {
                                fail(why, whysz, "bad distance %u", d);
                                goto out;
                        }
                }

        u = hpvm_usage_new(h);
        if (!u) {
                r = -ENOMEM;
                goto out;
        }
        u->reserved = reserved;
        u->taken = taken;
        for (unsigned k = 0; k < nnodes; k++) {
                int i = hpvm_host_node_index(h, has_nid ? (unsigned)nid.v[k] : k);

                if (has_free)
                        u->node[i].mem_kib = unknown_at(&freel, k) ? HPVM_MEM_UNKNOWN : at(&freel, k);
                for (size_t q = 0; q < nfreepools; q++) {
                        int pi = hpvm_node_pool(&h->nodes[i], freepools[q].size);

                        if (pi < 0) {
                                r = fail(why, whysz, "hpfree=: node %u has no pool of %llu KiB", k,
                                         (unsigned long long)freepools[q].size);
                                goto out;
                        }
                        u->node[i].pages[pi] = at(&freepools[q].count, k);
                }
        }
        *ret_host = h;
        *ret_use = u;
        return 0;

out:
        hpvm_host_free(h);
        hpvm_usage_free(u);
        return r;
}

HpvmHost *th_host(const char *spec, HpvmUsage **ret_use)
{
        HpvmHost *h = NULL;
        char why[256] = "";
        int r = th_host_build(spec, &h, ret_use, why, sizeof(why));

        if (r < 0) {
                fprintf(stderr, "hostgen: '%s': %s (%d)\n", spec, why, r);
                abort();
        }
        return h;
}
