/* placement.c: the NUMA-aware placement engine: vCPU pins, guest cell -> host node, helper pins and a score. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "placement.h"

#define UNITS_ANY UINT64_MAX            /* a node whose memory is unknown: everything fits */
#define COST_BIG ((int64_t)1 << 44)     /* a cell that cannot go to a node (matching) */
#define COST_NODE ((int64_t)1 << 36)    /* one more node used (subset program) */
#define COST_INF (INT64_MAX / 4)
#define ROOM_MAX ((1u << 20) - 1)
#define DIST_MAX 65535u
#define DP_BUDGET 20000000.0            /* subset-program steps over all anchors */
#define MATCH_BUDGET 400000000.0        /* matching steps over all anchors */
#define MSG_LIST_MAX 360                /* stop listing nodes past this length; the message stays < HPVM_ERR_MAX */

/* What a host thread is doing, in a placement being built. */
enum { T_FREE, T_RESERVED, T_TAKEN, T_VCPU, T_HELD, T_HELPER };

typedef struct Core {
        unsigned node;          /* node index */
        unsigned off;           /* its threads: Ctx.thr[off .. off+n), ascending CPU ids */
        unsigned n;             /* online threads on this node */
        unsigned nfree;         /* of them free */
} Core;

typedef struct Node {
        unsigned core0, ncores; /* Ctx.core[core0 .. core0+ncores) */
        unsigned nonline;       /* online CPUs */
        unsigned nfree;         /* free CPUs */
        unsigned nwhole;        /* whole-free cores */
        unsigned whole_cpus;    /* threads of whole-free cores */
        unsigned tcores;        /* dedicated: guest cores of g threads its free threads hold */
        /* vCPU counts its CPUs allow under the policy: {0, step, .., cap}, or the bits of reach */
        bool ap;
        unsigned step, cap;
        uint64_t *reach;
        unsigned cmax;          /* the largest count it allows */
        uint64_t free_units;    /* free memory in units (pages when paged); UNITS_ANY unknown */
        uint64_t free_amount;   /* free KiB, or free pages when paged (messages, score) */
        bool mem_known;         /* free_amount means something */
        uint64_t total_amount;  /* total KiB or pages (score) */
} Node;

/* A cell while planning: what it needs and where it may go. */
typedef struct Cell {
        unsigned n;             /* vCPUs */
        uint64_t units;         /* memory units */
        uint64_t kib;           /* memory as given (messages) */
        int bound;              /* node index it must go to, or -1 */
        int kept_node;          /* node index its kept pins lie on, or -1 */
} Cell;

typedef struct Ctx {
        const HpvmHost *h;
        const HpvmUsage *u;
        const HpvmPlaceRequest *req;
        HpvmError *err;
        unsigned V;             /* vCPUs */
        unsigned g;             /* dedicated: the VM's threads per core; else 1 */
        HpvmCpuPolicy pol;
        bool paged;
        uint64_t unit_kib;      /* memory unit: page, 1 MiB (made cells) or 1 KiB (given cells) */
        size_t nn;
        Node *node;
        size_t ncore;
        Core *core;
        size_t nthr;
        unsigned *thr;          /* CPU id of each thread, grouped by core */
        unsigned *core_of;      /* core of each thread */
        unsigned char *st0;     /* T_FREE / T_RESERVED / T_TAKEN */
        int *tidx;              /* CPU id -> thread index or -1 (HPVM_CPUSET_MAX entries) */
        size_t words;           /* reach bitsets: V + 1 bits */
        unsigned nreserved, ntaken; /* online CPUs reserved; taken and not reserved */
        /* cells (given mode) */
        size_t nc;
        Cell *cell;
        int *cell_of;           /* vCPU -> given cell, or -1 */
        /* pins to keep */
        int *keep;              /* vCPU -> thread index, or -1 */
        unsigned nkeep;
        /* scratch for building one placement */
        unsigned char *st;
        unsigned *cfree;        /* free threads per core now */
        unsigned *order;        /* ncore entries */
        /* the best placement so far */
        HpvmPlacement *best;
} Ctx;

/* ---------------------------------------------------------------- small helpers */

static const char *plural(unsigned long long n)
{
        return n == 1 ? "" : "s";
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
        return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint32_t dist(const Ctx *c, size_t i, size_t j)
{
        uint32_t d = hpvm_host_distance(c->h, i, j);

        return d > DIST_MAX ? DIST_MAX : d;
}

static bool bs_test(const uint64_t *b, unsigned i)
{
        return (b[i / 64] >> (i % 64)) & 1;
}

static void bs_set(uint64_t *b, unsigned i)
{
        b[i / 64] |= UINT64_C(1) << (i % 64);
}

/* dst |= src << s, both @words long. */
static void bs_shift_or(uint64_t *dst, const uint64_t *src, size_t words, unsigned s)
{
        size_t ws = s / 64;
        unsigned bs = s % 64;

        for (size_t k = words; k-- > ws;) {
                uint64_t v = src[k - ws] << bs;

                if (bs && k - ws > 0)
                        v |= src[k - ws - 1] >> (64 - bs);
                dst[k] |= v;
        }
}

/* A bounded one-line message being built. */
typedef struct Msg {
        char s[HPVM_ERR_MAX];
        size_t len;
        bool cut;               /* a list was cut short */
} Msg;

static void msg_add(Msg *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void msg_add(Msg *m, const char *fmt, ...)
{
        va_list ap;
        int w;

        if (m->len >= sizeof(m->s) - 1)
                return;
        va_start(ap, fmt);
        w = vsnprintf(m->s + m->len, sizeof(m->s) - m->len, fmt, ap);
        va_end(ap);
        if (w < 0)
                return;
        m->len += (size_t)w;
        if (m->len > sizeof(m->s) - 1)
                m->len = sizeof(m->s) - 1;
}

/* Room for another list item? Else end the list with ", ..." once. */
static bool msg_room(Msg *m)
{
        if (m->len < MSG_LIST_MAX)
                return true;
        if (!m->cut)
                msg_add(m, ", ...");
        m->cut = true;
        return false;
}

static int msg_fail(Ctx *c, const Msg *m)
{
        return hpvm_error_set(c->err, -ENOSPC, "%s", m->s);
}

/* "4 GiB" or "512 pages of 2 MiB" (pages: @amount pages). */
static const char *fmt_mem(const Ctx *c, uint64_t amount, char *buf, size_t size)
{
        char pg[32];

        if (!c->paged)
                return hpvm_format_kib(amount, buf, size);
        snprintf(buf, size, "%llu page%s of %s", (unsigned long long)amount, plural(amount),
                 hpvm_format_kib(c->unit_kib, pg, sizeof(pg)));
        return buf;
}

/* Node @i's free memory for a list: "8 GiB" / "300 pages of 2 MiB" (+ " free" when @word), or "unknown memory". */
static const char *fmt_free(const Ctx *c, size_t i, bool word, char *buf, size_t size)
{
        char a[64];

        if (!c->node[i].mem_known)
                snprintf(buf, size, "unknown memory");
        else
                snprintf(buf, size, "%s%s", fmt_mem(c, c->node[i].free_amount, a, sizeof(a)), word ? " free" : "");
        return buf;
}

/* ---------------------------------------------------------------- what a node allows */

static bool allows(const Ctx *c, const Node *nd, unsigned n)
{
        if (nd->ap)
                return n <= nd->cap && (n == 0 || n % nd->step == 0);
        return n <= c->V && bs_test(nd->reach, n);
}

/* "6 free CPUs", "3 cores with 2 free threads", "6 free whole cores", "6 free CPUs in whole cores" */
static unsigned have_count(const Ctx *c, const Node *nd)
{
        switch (c->pol) {
        case HPVM_POLICY_ISOLATE:
                return nd->nwhole;
        case HPVM_POLICY_SIBLINGS:
                return nd->whole_cpus;
        case HPVM_POLICY_DEDICATED:
        default:
                return c->g > 1 ? nd->tcores : nd->nfree;
        }
}

static unsigned need_count(const Ctx *c, unsigned n)
{
        return c->pol == HPVM_POLICY_DEDICATED && c->g > 1 ? n / c->g : n;
}

/* "8", or "4 for its 8 vCPUs" when the policy counts guest cores. */
static void msg_need(const Ctx *c, Msg *m, unsigned n)
{
        msg_add(m, "%u", need_count(c, n));
        if (c->pol == HPVM_POLICY_DEDICATED && c->g > 1)
                msg_add(m, " for its %u vCPUs", n);
}

static void msg_have(const Ctx *c, Msg *m, unsigned count)
{
        switch (c->pol) {
        case HPVM_POLICY_ISOLATE:
                msg_add(m, "%u free whole core%s", count, plural(count));
                break;
        case HPVM_POLICY_SIBLINGS:
                msg_add(m, "%u free CPU%s in whole cores", count, plural(count));
                break;
        case HPVM_POLICY_DEDICATED:
        default:
                if (c->g > 1)
                        msg_add(m, "%u core%s with %u free threads", count, plural(count), c->g);
                else
                        msg_add(m, "%u free CPU%s", count, plural(count));
                break;
        }
}

/* Why the policy counts what it counts, after a CPU message: " (...)", or "; ..." inside a list's parentheses. */
static void msg_policy_in(const Ctx *c, Msg *m, const char *open)
{
        switch (c->pol) {
        case HPVM_POLICY_ISOLATE:
                msg_add(m, "%scpupolicy=isolate gives each vCPU a whole core", open);
                break;
        case HPVM_POLICY_SIBLINGS:
                msg_add(m, "%scpupolicy=siblings uses whole cores only", open);
                break;
        case HPVM_POLICY_DEDICATED:
        default:
                if (c->g > 1)
                        msg_add(m, "%scpupolicy=dedicated keeps the %u threads of a guest core on one host core",
                                open, c->g);
                else
                        return;
                break;
        }
        if (open[0] == ' ')
                msg_add(m, ")");
}

static void msg_policy(const Ctx *c, Msg *m)
{
        msg_policy_in(c, m, " (");
}

/* ---------------------------------------------------------------- the host as the engine sees it */

static int ctx_build_host(Ctx *c)
{
        const HpvmHost *h = c->h;
        size_t nonline = hpvm_cpuset_count(&h->online);
        size_t t = 0, k = 0;

        c->node = calloc(c->nn ? c->nn : 1, sizeof(*c->node));
        c->thr = calloc(nonline ? nonline : 1, sizeof(*c->thr));
        c->core_of = calloc(nonline ? nonline : 1, sizeof(*c->core_of));
        c->st0 = calloc(nonline ? nonline : 1, 1);
        c->st = calloc(nonline ? nonline : 1, 1);
        c->core = calloc(nonline ? nonline : 1, sizeof(*c->core));
        c->cfree = calloc(nonline ? nonline : 1, sizeof(*c->cfree));
        c->order = calloc(nonline ? nonline : 1, sizeof(*c->order));
        c->tidx = malloc(HPVM_CPUSET_MAX * sizeof(*c->tidx));
        if (!c->node || !c->thr || !c->core_of || !c->st0 || !c->st || !c->core || !c->cfree || !c->order ||
            !c->tidx)
                return -ENOMEM;
        for (size_t i = 0; i < HPVM_CPUSET_MAX; i++)
                c->tidx[i] = -1;

        for (int cpu = hpvm_cpuset_next(&h->online, 0); cpu >= 0; cpu = hpvm_cpuset_next(&h->online, (unsigned)cpu + 1)) {
                if (hpvm_cpuset_test(&c->u->reserved, (unsigned)cpu))
                        c->nreserved++;
                else if (hpvm_cpuset_test(&c->u->taken, (unsigned)cpu))
                        c->ntaken++;
        }

        for (size_t i = 0; i < c->nn; i++) {
                Node *nd = &c->node[i];
                HpvmCpuSet mine = h->nodes[i].cpus;

                hpvm_cpuset_and(&mine, &h->online);
                nd->core0 = (unsigned)k;
                for (int cpu = hpvm_cpuset_next(&mine, 0); cpu >= 0; cpu = hpvm_cpuset_next(&mine, (unsigned)cpu + 1)) {
                        HpvmCpuSet sib;
                        Core *co;

                        /* A CPU a malformed host lists in two nodes belongs to the first. */
                        if (c->tidx[cpu] >= 0)
                                continue;
                        if ((unsigned)cpu < h->ncpu && h->cpu[cpu].core >= 0) {
                                sib = h->cores[h->cpu[cpu].core];
                                hpvm_cpuset_and(&sib, &mine);
                        } else {
                                hpvm_cpuset_zero(&sib);
                                hpvm_cpuset_set(&sib, (unsigned)cpu);
                        }
                        co = &c->core[k];
                        co->node = (unsigned)i;
                        co->off = (unsigned)t;
                        for (int s = hpvm_cpuset_next(&sib, 0); s >= 0; s = hpvm_cpuset_next(&sib, (unsigned)s + 1)) {
                                if (c->tidx[s] >= 0 || t >= nonline)
                                        continue;
                                c->tidx[s] = (int)t;
                                c->thr[t] = (unsigned)s;
                                c->core_of[t] = (unsigned)k;
                                if (hpvm_cpuset_test(&c->u->reserved, (unsigned)s))
                                        c->st0[t] = T_RESERVED;
                                else if (hpvm_cpuset_test(&c->u->taken, (unsigned)s))
                                        c->st0[t] = T_TAKEN;
                                else
                                        co->nfree++;
                                co->n++;
                                t++;
                        }
                        nd->nonline += co->n;
                        nd->nfree += co->nfree;
                        k++;
                }
                nd->ncores = (unsigned)k - nd->core0;
        }
        c->nthr = t;
        c->ncore = k;
        return 0;
}

/* What each node's CPUs allow under the policy, and its free memory in units. */
static int ctx_build_caps(Ctx *c)
{
        c->words = (c->V + 1 + 63) / 64;
        for (size_t i = 0; i < c->nn; i++) {
                Node *nd = &c->node[i];
                unsigned wsize = 0;
                bool mixed = false;

                for (unsigned k = nd->core0; k < nd->core0 + nd->ncores; k++) {
                        const Core *co = &c->core[k];

                        nd->tcores += co->nfree / c->g;
                        if (co->nfree != co->n)
                                continue;
                        nd->nwhole++;
                        nd->whole_cpus += co->n;
                        if (wsize && wsize != co->n)
                                mixed = true;
                        wsize = co->n;
                }

                nd->ap = true;
                nd->step = 1;
                switch (c->pol) {
                case HPVM_POLICY_ISOLATE:
                        nd->cap = nd->nwhole;
                        break;
                case HPVM_POLICY_SIBLINGS:
                        if (!mixed) {
                                nd->step = wsize ? wsize : 1;
                                nd->cap = nd->whole_cpus;
                                break;
                        }
                        /* Whole cores of different sizes: which sums they reach, a bounded knapsack. */
                        nd->ap = false;
                        nd->reach = calloc(c->words, sizeof(uint64_t));
                        if (!nd->reach)
                                return -ENOMEM;
                        bs_set(nd->reach, 0);
                        for (unsigned k = nd->core0; k < nd->core0 + nd->ncores; k++)
                                if (c->core[k].nfree == c->core[k].n && c->core[k].n <= c->V)
                                        bs_shift_or(nd->reach, nd->reach, c->words, c->core[k].n);
                        break;
                case HPVM_POLICY_DEDICATED:
                default:
                        nd->step = c->g;
                        nd->cap = nd->tcores * c->g;
                        break;
                }
                if (nd->ap) {
                        nd->cmax = nd->cap;
                } else {
                        nd->cmax = 0;
                        for (unsigned n = c->V + 1; n-- > 0;)
                                if (bs_test(nd->reach, n)) {
                                        nd->cmax = n;
                                        break;
                                }
                }

                /* Memory: free, else total, else unknown (fits). */
                if (c->paged) {
                        const HpvmPagePool *pool = hpvm_node_pages(&c->h->nodes[i], c->unit_kib);

                        nd->free_amount = hpvm_usage_free_pages(c->h, c->u, i, c->unit_kib);
                        nd->free_units = nd->free_amount;
                        nd->total_amount = pool ? pool->total : 0;
                        nd->mem_known = true;
                } else {
                        uint64_t f = c->u->node[i].mem_kib;

                        if (f == HPVM_MEM_UNKNOWN)
                                f = c->h->nodes[i].mem_kib;
                        nd->total_amount = c->h->nodes[i].mem_kib;
                        nd->mem_known = f != HPVM_MEM_UNKNOWN;
                        nd->free_amount = nd->mem_known ? f : 0;
                        nd->free_units = nd->mem_known ? f / c->unit_kib : UNITS_ANY;
                }
        }
        return 0;
}

static void ctx_free(Ctx *c)
{
        for (size_t i = 0; c->node && i < c->nn; i++)
                free(c->node[i].reach);
        free(c->node);
        free(c->thr);
        free(c->core_of);
        free(c->st0);
        free(c->st);
        free(c->core);
        free(c->cfree);
        free(c->order);
        free(c->tidx);
        free(c->cell);
        free(c->cell_of);
        free(c->keep);
        hpvm_placement_free(c->best);
}

/* ---------------------------------------------------------------- the request */

static int check_request(Ctx *c)
{
        const HpvmPlaceRequest *r = c->req;
        char a[32], b[32], q[HPVM_CPUSET_STRMAX];
        unsigned t = r->threads ? r->threads : 1;

        if ((unsigned)r->policy > HPVM_POLICY_SIBLINGS)
                return hpvm_error_set(c->err, -EINVAL, "CPU policy %d is not one of dedicated, isolate, siblings",
                                      (int)r->policy);
        if (r->vcpus == 0)
                return hpvm_error_set(c->err, -EINVAL, "the VM has no vCPUs");
        if (r->vcpus > HPVM_VCPU_MAX)
                return hpvm_error_set(c->err, -EINVAL, "the VM has %u vCPUs, more than the %u supported",
                                      r->vcpus, (unsigned)HPVM_VCPU_MAX);
        if (r->iothreads > HPVM_IOTHREADS_MAX)
                return hpvm_error_set(c->err, -EINVAL, "the VM has %u IO threads, more than the %d supported",
                                      r->iothreads, HPVM_IOTHREADS_MAX);
        if (r->page_kib > HPVM_PAGE_MAX_KIB)
                return hpvm_error_set(c->err, -EINVAL, "a page size of %s is more than the %s supported",
                                      hpvm_format_kib(r->page_kib, a, sizeof(a)),
                                      hpvm_format_kib(HPVM_PAGE_MAX_KIB, b, sizeof(b)));
        if (r->ncells == 0 && r->mem_kib > HPVM_MEM_MAX_KIB)
                return hpvm_error_set(c->err, -EINVAL, "the VM has %s of memory, more than the %s supported",
                                      hpvm_format_kib(r->mem_kib, a, sizeof(a)),
                                      hpvm_format_kib(HPVM_MEM_MAX_KIB, b, sizeof(b)));
        if (r->ncells > HPVM_CELLS_MAX)
                return hpvm_error_set(c->err, -EINVAL, "the VM has %zu guest cells, more than the %d supported",
                                      r->ncells, HPVM_CELLS_MAX);
        if (r->ncells && !r->cells)
                return hpvm_error_set(c->err, -EINVAL, "the request counts %zu guest cells but lists none",
                                      r->ncells);
        if (c->u->nnodes != c->h->nnodes)
                return hpvm_error_set(c->err, -EINVAL, "the usage describes %zu nodes, the host has %zu",
                                      c->u->nnodes, c->h->nnodes);

        c->V = r->vcpus;
        c->pol = r->policy;
        c->g = r->policy == HPVM_POLICY_DEDICATED ? t : 1;
        if (c->g > 1 && c->V % c->g)
                return hpvm_error_set(c->err, -EINVAL,
                                      "cpupolicy=dedicated: the VM's %u vCPUs are not a whole number of cores of %u threads",
                                      c->V, c->g);
        c->paged = r->page_kib > 0;
        c->unit_kib = c->paged ? r->page_kib : r->ncells ? 1 : 1024;
        c->nc = r->ncells;

        c->keep = malloc(c->V * sizeof(*c->keep));
        c->cell_of = malloc(c->V * sizeof(*c->cell_of));
        c->cell = calloc(c->nc ? c->nc : 1, sizeof(*c->cell));
        if (!c->keep || !c->cell_of || !c->cell)
                return -ENOMEM;
        for (unsigned v = 0; v < c->V; v++)
                c->keep[v] = c->cell_of[v] = -1;
        if (!c->nc)
                return 0;

        for (size_t j = 0; j < c->nc; j++) {
                const HpvmGuestCell *gc = &r->cells[j];
                int last = hpvm_cpuset_last(&gc->vcpus);
                Cell *cl = &c->cell[j];

                if (last >= (int)c->V)
                        return hpvm_error_set(c->err, -EINVAL, "guest cell %zu names vCPU %d, the VM has %u vCPUs",
                                              j, last, c->V);
                if (gc->mem_kib > HPVM_MEM_MAX_KIB)
                        return hpvm_error_set(c->err, -EINVAL,
                                              "guest cell %zu has %s of memory, more than the %s supported", j,
                                              hpvm_format_kib(gc->mem_kib, a, sizeof(a)),
                                              hpvm_format_kib(HPVM_MEM_MAX_KIB, b, sizeof(b)));
                for (int v = hpvm_cpuset_next(&gc->vcpus, 0); v >= 0; v = hpvm_cpuset_next(&gc->vcpus, (unsigned)v + 1)) {
                        if (c->cell_of[v] >= 0)
                                return hpvm_error_set(c->err, -EINVAL, "vCPU %d is in guest cells %d and %zu",
                                                      v, c->cell_of[v], j);
                        c->cell_of[v] = (int)j;
                        cl->n++;
                }
                cl->kib = gc->mem_kib;
                cl->units = c->paged ? gc->mem_kib / c->unit_kib + (gc->mem_kib % c->unit_kib != 0) : gc->mem_kib;
                cl->bound = -1;
                cl->kept_node = -1;
                if (r->cell_node && r->cell_node[j] < -1)
                        return hpvm_error_set(c->err, -EINVAL, "guest cell %zu is bound to node %d", j,
                                              r->cell_node[j]);
        }
        for (unsigned v = 0; v < c->V; v++)
                if (c->cell_of[v] < 0)
                        return hpvm_error_set(c->err, -EINVAL, "vCPU %u is in no guest cell", v);
        /* A guest core's threads on one host core is impossible across two nodes: refuse a split core. */
        for (unsigned v = 0; c->g > 1 && v < c->V; v += c->g)
                for (unsigned k = 1; k < c->g; k++)
                        if (c->cell_of[v + k] != c->cell_of[v]) {
                                HpvmCpuSet s;

                                hpvm_cpuset_zero(&s);
                                hpvm_cpuset_set_range(&s, v, v + c->g - 1);
                                hpvm_cpuset_format(&s, q, sizeof(q));
                                return hpvm_error_set(c->err, -EINVAL,
                                                      "cpupolicy=dedicated: guest core %u (vCPUs %s) is split between guest cells %d and %d",
                                                      v / c->g, q, c->cell_of[v], c->cell_of[v + k]);
                        }
        for (size_t j = 0; r->cell_node && j < c->nc; j++) {
                int idx;

                if (r->cell_node[j] < 0)
                        continue;
                idx = hpvm_host_node_index(c->h, (unsigned)r->cell_node[j]);
                if (idx < 0)
                        return hpvm_error_set(c->err, -ENOSPC, "guest cell %zu is bound to node %d, which the host does not have",
                                              j, r->cell_node[j]);
        }
        return 0;
}

/* Which vCPU pins of req->keep hold here (see placement.h); sets c->keep, c->nkeep, cells' kept_node. */
static void keep_filter(Ctx *c)
{
        const HpvmPinList *kl = c->req->keep;
        _cleanup_free_ int *claim = NULL;     /* thread or core -> vCPU + 1 */

        c->nkeep = 0;
        if (!kl || !kl->n || !c->nthr)
                return;
        claim = calloc(2 * c->nthr, sizeof(*claim));
        if (!claim)
                return;       /* keeping is a preference: without memory for it, keep nothing */

        for (size_t k = 0; k < kl->n; k++) {
                const HpvmPin *p = &kl->pins[k];
                int cpu = hpvm_cpuset_next(&p->cpus, 0);
                int ti;

                if (p->id >= c->V || c->keep[p->id] >= 0 || cpu < 0 || hpvm_cpuset_count(&p->cpus) != 1)
                        continue;
                ti = c->tidx[cpu];
                if (ti < 0 || c->st0[ti] != T_FREE || claim[ti])
                        continue;
                claim[ti] = (int)p->id + 1;
                c->keep[p->id] = ti;
        }

        if (c->g > 1) {
                /* A guest core is kept whole, on one host core, or not at all. */
                for (unsigned v = 0; v < c->V; v += c->g) {
                        bool whole = c->keep[v] >= 0;

                        for (unsigned k = 1; whole && k < c->g; k++)
                                if (c->keep[v + k] < 0 ||
                                    c->core_of[c->keep[v + k]] != c->core_of[c->keep[v]])
                                        whole = false;
                        for (unsigned k = 0; !whole && k < c->g; k++)
                                c->keep[v + k] = -1;
                }
        } else if (c->pol != HPVM_POLICY_DEDICATED) {
                /* isolate: one kept vCPU per whole-free core; siblings: kept vCPUs of one cell fill it. */
                unsigned *cnt = (unsigned *)claim;

                memset(claim, 0, c->nthr * sizeof(*claim));
                for (unsigned v = 0; v < c->V; v++) {
                        const Core *co;

                        if (c->keep[v] < 0)
                                continue;
                        co = &c->core[c->core_of[c->keep[v]]];
                        if (co->nfree != co->n ||
                            (c->pol == HPVM_POLICY_ISOLATE && cnt[c->core_of[c->keep[v]]])) {
                                c->keep[v] = -1;
                                continue;
                        }
                        cnt[c->core_of[c->keep[v]]]++;
                }
                if (c->pol == HPVM_POLICY_SIBLINGS) {
                        /* first[ci]: 2 + the cell of the core's first kept vCPU (0 none); -1 once two cells meet there */
                        int *first = claim + c->ncore;

                        memset(first, 0, c->ncore * sizeof(*first));
                        for (unsigned v = 0; v < c->V; v++) {
                                unsigned ci;

                                if (c->keep[v] < 0)
                                        continue;
                                ci = c->core_of[c->keep[v]];
                                if (!first[ci])
                                        first[ci] = c->cell_of[v] + 2;
                                else if (first[ci] != c->cell_of[v] + 2)
                                        first[ci] = -1;
                        }
                        for (unsigned v = 0; v < c->V; v++) {
                                unsigned ci;

                                if (c->keep[v] < 0)
                                        continue;
                                ci = c->core_of[c->keep[v]];
                                if (cnt[ci] != c->core[ci].n || first[ci] < 0)
                                        c->keep[v] = -1;
                        }
                }
        }

        /* Given cells: all kept vCPUs of a cell on one node (the one with most), and on its bound node. */
        if (c->nc) {
                _cleanup_free_ unsigned *per_node = calloc(c->nn ? c->nn : 1, sizeof(unsigned));

                if (!per_node) {
                        for (unsigned v = 0; v < c->V; v++)
                                c->keep[v] = -1;
                        return;
                }
                for (size_t j = 0; j < c->nc; j++) {
                        const HpvmGuestCell *gc = &c->req->cells[j];
                        int want = c->req->cell_node && c->req->cell_node[j] >= 0 ?
                                   hpvm_host_node_index(c->h, (unsigned)c->req->cell_node[j]) : -1;

                        if (want < 0) {
                                unsigned most = 0;

                                for (int v = hpvm_cpuset_next(&gc->vcpus, 0); v >= 0; v = hpvm_cpuset_next(&gc->vcpus, (unsigned)v + 1))
                                        if (c->keep[v] >= 0)
                                                per_node[c->core[c->core_of[c->keep[v]]].node]++;
                                for (size_t i = 0; i < c->nn; i++) {
                                        if (per_node[i] > most) {
                                                most = per_node[i];
                                                want = (int)i;
                                        }
                                        per_node[i] = 0;
                                }
                        }
                        c->cell[j].kept_node = -1;
                        for (int v = hpvm_cpuset_next(&gc->vcpus, 0); v >= 0; v = hpvm_cpuset_next(&gc->vcpus, (unsigned)v + 1)) {
                                if (c->keep[v] < 0)
                                        continue;
                                if ((int)c->core[c->core_of[c->keep[v]]].node != want)
                                        c->keep[v] = -1;
                                else
                                        c->cell[j].kept_node = want;
                        }
                }
        }

        for (unsigned v = 0; v < c->V; v++)
                if (c->keep[v] >= 0)
                        c->nkeep++;
}

static void keep_clear(Ctx *c)
{
        for (unsigned v = 0; v < c->V; v++)
                c->keep[v] = -1;
        for (size_t j = 0; j < c->nc; j++)
                c->cell[j].kept_node = -1;
        c->nkeep = 0;
}

/* ---------------------------------------------------------------- building one placement */

/* Claim thread @ti for vCPU @v (kept or chosen). */
static void take_vcpu(Ctx *c, HpvmPlacement *p, unsigned v, unsigned ti)
{
        c->st[ti] = T_VCPU;
        c->cfree[c->core_of[ti]]--;
        p->vcpu_cpu[v] = c->thr[ti];
        hpvm_cpuset_set(&p->held, c->thr[ti]);
}

/* Hold the rest of a core (isolate siblings). */
static void hold_core(Ctx *c, HpvmPlacement *p, unsigned ci)
{
        const Core *co = &c->core[ci];

        for (unsigned t = co->off; t < co->off + co->n; t++)
                if (c->st[t] == T_FREE) {
                        c->st[t] = T_HELD;
                        c->cfree[ci]--;
                        hpvm_cpuset_set(&p->held, c->thr[t]);
                }
}

/* Give the next free threads of core @ci to vCPUs vl[*k ..], at most @n of them. */
static void take_threads(Ctx *c, HpvmPlacement *p, unsigned ci, const unsigned *vl, unsigned *k, unsigned n)
{
        const Core *co = &c->core[ci];

        for (unsigned t = co->off; n && t < co->off + co->n; t++)
                if (c->st[t] == T_FREE) {
                        take_vcpu(c, p, vl[(*k)++], t);
                        n--;
                }
}

/* Sort core ids by (key asc, id asc): one node's cores, mostly in order already. */
static void sort_by_key(unsigned *ids, unsigned n, const unsigned *key)
{
        for (unsigned i = 1; i < n; i++) {
                unsigned x = ids[i], j = i;

                while (j > 0 && (key[ids[j - 1]] > key[x] || (key[ids[j - 1]] == key[x] && ids[j - 1] > x))) {
                        ids[j] = ids[j - 1];
                        j--;
                }
                ids[j] = x;
        }
}

/* The vCPUs vl[0..n) of one cell on node @ni: CPUs by the policy. Returns 0 or -ENOSPC. */
static int select_cpus(Ctx *c, HpvmPlacement *p, unsigned ni, const unsigned *vl, unsigned n)
{
        const Node *nd = &c->node[ni];
        unsigned first = nd->core0, end = nd->core0 + nd->ncores;
        unsigned k = 0, m = 0;

        if (!n)
                return 0;

        switch (c->pol) {
        case HPVM_POLICY_DEDICATED:
                if (c->g > 1) {
                        /* Best fit: cores with the fewest free threads that still hold a guest core first. */
                        for (unsigned ci = first; ci < end; ci++)
                                if (c->cfree[ci] >= c->g)
                                        c->order[m++] = ci;
                        sort_by_key(c->order, m, c->cfree);
                        for (unsigned i = 0; i < m && k < n; i++)
                                while (k < n && c->cfree[c->order[i]] >= c->g)
                                        take_threads(c, p, c->order[i], vl, &k, c->g);
                        return k == n ? 0 : -ENOSPC;
                }
                /* Whole-free cores first, whole, in order; then the remainder where it fits best. */
                for (unsigned ci = first; ci < end && k < n; ci++)
                        if (c->cfree[ci] == c->core[ci].n && c->core[ci].n <= n - k)
                                take_threads(c, p, ci, vl, &k, c->core[ci].n);
                while (k < n) {
                        int fit = -1, big = -1;

                        for (unsigned ci = first; ci < end; ci++) {
                                unsigned f = c->cfree[ci];

                                if (!f)
                                        continue;
                                if (f >= n - k && (fit < 0 || f < c->cfree[fit]))
                                        fit = (int)ci;
                                if (big < 0 || f > c->cfree[big])
                                        big = (int)ci;
                        }
                        if (fit >= 0)
                                take_threads(c, p, (unsigned)fit, vl, &k, n - k);
                        else if (big >= 0)
                                take_threads(c, p, (unsigned)big, vl, &k, c->cfree[big]);
                        else
                                return -ENOSPC;
                }
                return 0;

        case HPVM_POLICY_ISOLATE: {
                /* Smallest whole-free cores first: a 1-thread core wastes no sibling. */
                unsigned *size = c->cfree;  /* whole-free: free == size */

                for (unsigned ci = first; ci < end; ci++)
                        if (c->cfree[ci] == c->core[ci].n && c->core[ci].n)
                                c->order[m++] = ci;
                sort_by_key(c->order, m, size);
                if (m < n)
                        return -ENOSPC;
                for (unsigned i = 0; i < n; i++) {
                        take_threads(c, p, c->order[i], vl, &k, 1);
                        hold_core(c, p, c->order[i]);
                }
                return 0;
        }

        case HPVM_POLICY_SIBLINGS:
        default: {
                /* Whole-free cores whose sizes add up to n exactly: bounded knapsack by size, largest sizes first. */
                unsigned sizes[64], cnt[64], nsz = 0;
                _cleanup_free_ unsigned *use = NULL;
                unsigned x = n;

                for (unsigned ci = first; ci < end; ci++) {
                        unsigned s = c->core[ci].n, z;

                        if (c->cfree[ci] != s || !s)
                                continue;
                        for (z = 0; z < nsz && sizes[z] != s; z++)
                                ;
                        if (z == nsz) {
                                if (nsz == HPVM_ARRAY_SIZE(sizes))
                                        continue;
                                sizes[nsz] = s;
                                cnt[nsz++] = 0;
                        }
                        cnt[z]++;
                }
                /* descending sizes */
                for (unsigned i = 1; i < nsz; i++)
                        for (unsigned j = i; j > 0 && sizes[j - 1] < sizes[j]; j--) {
                                unsigned ts = sizes[j], tc = cnt[j];

                                sizes[j] = sizes[j - 1];
                                cnt[j] = cnt[j - 1];
                                sizes[j - 1] = ts;
                                cnt[j - 1] = tc;
                        }
                /* use[z][x]: cores of size z used to reach x with sizes 0..z, fewest of the later sizes; -1 none */
                use = malloc((size_t)(nsz ? nsz : 1) * (n + 1) * sizeof(*use));
                if (!use)
                        return -ENOMEM;
                for (unsigned z = 0; z < nsz; z++) {
                        unsigned *row = use + (size_t)z * (n + 1);
                        const unsigned *prev = z ? use + (size_t)(z - 1) * (n + 1) : NULL;

                        for (unsigned v = 0; v <= n; v++) {
                                bool before = prev ? prev[v] != UINT32_MAX : v == 0;

                                if (before)
                                        row[v] = 0;
                                else if (v >= sizes[z] && row[v - sizes[z]] != UINT32_MAX && row[v - sizes[z]] < cnt[z])
                                        row[v] = row[v - sizes[z]] + 1;
                                else
                                        row[v] = UINT32_MAX;
                        }
                }
                if (!nsz || use[(size_t)(nsz - 1) * (n + 1) + n] == UINT32_MAX)
                        return -ENOSPC;
                for (unsigned z = nsz; z-- > 0;) {
                        unsigned want = use[(size_t)z * (n + 1) + x];

                        x -= want * sizes[z];
                        for (unsigned ci = first; ci < end && want; ci++)
                                if (c->core[ci].n == sizes[z] && c->cfree[ci] == sizes[z]) {
                                        take_threads(c, p, ci, vl, &k, sizes[z]);
                                        want--;
                                }
                }
                /* vl is ascending, cores were taken by size: fine, every thread is the VM's. */
                return k == n ? 0 : -ENOSPC;
        }
        }
}

/* One CPU (or core) on node @ni for the emulator and IO threads; false when none is free. */
static bool select_helpers(Ctx *c, HpvmPlacement *p, unsigned ni, HpvmCpuSet *pin)
{
        const Node *nd = &c->node[ni];
        unsigned first = nd->core0, end = nd->core0 + nd->ncores;
        int pick = -1;

        hpvm_cpuset_zero(pin);
        if (c->pol == HPVM_POLICY_DEDICATED) {
                /* A free thread beside a used one keeps whole cores for vCPUs. */
                for (unsigned ci = first; ci < end && pick < 0; ci++)
                        if (c->cfree[ci] && c->cfree[ci] < c->core[ci].n)
                                pick = (int)ci;
                for (unsigned ci = first; ci < end && pick < 0; ci++)
                        if (c->cfree[ci])
                                pick = (int)ci;
                if (pick < 0)
                        return false;
                for (unsigned t = c->core[pick].off;; t++)
                        if (c->st[t] == T_FREE) {
                                c->st[t] = T_HELPER;
                                c->cfree[pick]--;
                                hpvm_cpuset_set(pin, c->thr[t]);
                                hpvm_cpuset_set(&p->held, c->thr[t]);
                                return true;
                        }
        }
        for (unsigned ci = first; ci < end; ci++)
                if (c->cfree[ci] == c->core[ci].n && c->core[ci].n &&
                    (pick < 0 || c->core[ci].n < c->core[pick].n))
                        pick = (int)ci;
        if (pick < 0)
                return false;
        for (unsigned t = c->core[pick].off; t < c->core[pick].off + c->core[pick].n; t++) {
                c->st[t] = c->pol == HPVM_POLICY_ISOLATE && t != c->core[pick].off ? T_HELD : T_HELPER;
                hpvm_cpuset_set(&p->held, c->thr[t]);
                if (c->st[t] == T_HELPER)
                        hpvm_cpuset_set(pin, c->thr[t]);
        }
        c->cfree[pick] = 0;
        return true;
}

static int score_of(const Ctx *c, const HpvmPlacement *p, const unsigned *node_of, unsigned nhelper)
{
        unsigned used[HPVM_NODE_MAX / 32] = { 0 };
        unsigned nused = 0, touched = 0, whole = 0;
        double d = 0, pairs = 0, s;
        double cfree_before = 0, cdenom, cfree_after, mfree = 0, mtotal = 0;
        size_t list_n = 0;
        _cleanup_free_ unsigned *list = malloc((c->nn ? c->nn : 1) * sizeof(*list));
        _cleanup_free_ uint64_t *taken_amount = calloc(c->nn ? c->nn : 1, sizeof(uint64_t));

        if (!list || !taken_amount)
                return 0;
        for (size_t j = 0; j < p->ncells; j++) {
                unsigned ni = node_of[j];

                taken_amount[ni] = sat_add(taken_amount[ni], c->paged ?
                                           p->cells[j].mem_kib / c->unit_kib + (p->cells[j].mem_kib % c->unit_kib != 0) :
                                           p->cells[j].mem_kib);
                if (used[ni / 32] & (1u << (ni % 32)))
                        continue;
                used[ni / 32] |= 1u << (ni % 32);
                list[list_n++] = ni;
                nused++;
        }
        for (size_t a = 0; a < list_n; a++)
                for (size_t b = a + 1; b < list_n; b++) {
                        d += dist(c, list[a], list[b]);
                        pairs++;
                }
        d = pairs > 0 ? d / pairs : HPVM_DISTANCE_LOCAL;

        for (size_t ci = 0; ci < c->ncore; ci++) {
                const Core *co = &c->core[ci];
                bool any = false, all = true;

                for (unsigned t = co->off; t < co->off + co->n; t++) {
                        if (c->st[t] == T_VCPU)
                                any = true;
                        if (c->st[t] < T_VCPU)
                                all = false;
                }
                touched += any;
                whole += any && all;
        }

        for (size_t i = 0; i < c->nn; i++) {
                const Node *nd = &c->node[i];

                cfree_before += nd->nfree;
                if (!nd->mem_known || nd->total_amount == 0 || nd->total_amount == HPVM_MEM_UNKNOWN)
                        continue;
                mtotal += (double)nd->total_amount;
                mfree += (double)(nd->free_amount > taken_amount[i] ? nd->free_amount - taken_amount[i] : 0);
        }
        cdenom = (double)c->nthr - c->nreserved;
        cfree_after = cfree_before - (hpvm_cpuset_count(&p->held) - nhelper);

        s = 450.0 / (nused ? nused : 1);
        s += 250.0 * (d <= HPVM_DISTANCE_LOCAL ? 1.0 : HPVM_DISTANCE_LOCAL / d);
        s += 100.0 * (touched ? (double)whole / touched : 1.0);
        s += 100.0 * (cdenom > 0 && cfree_after > 0 ? cfree_after / cdenom : 0.0);
        s += 100.0 * (mtotal > 0 ? mfree / mtotal : 1.0);
        if (s < 0)
                s = 0;
        if (s > 1000)
                s = 1000;
        return (int)s;
}

/*
 * Build the placement of @nc cells (@cells, on node indices @node_of) and keep it if it scores
 * better than c->best. Returns 0, -ENOSPC (the greedy siblings choice failed) or -ENOMEM.
 */
static int place_build(Ctx *c, size_t nc, const HpvmGuestCell *cells, const unsigned *node_of)
{
        HpvmPlacement *p = calloc(1, sizeof(*p));
        _cleanup_free_ unsigned *vl = malloc(c->V * sizeof(*vl));
        unsigned cell0_node = node_of[0];
        HpvmCpuSet pin;
        unsigned nhelper = 0;
        int r = -ENOMEM;

        if (!p || !vl)
                goto fail;
        p->nvcpus = c->V;
        p->ncells = nc;
        p->vcpu_cpu = calloc(c->V, sizeof(*p->vcpu_cpu));
        p->cells = malloc(nc * sizeof(*p->cells));
        p->cell_node = malloc(nc * sizeof(*p->cell_node));
        if (!p->vcpu_cpu || !p->cells || !p->cell_node)
                goto fail;
        memcpy(p->cells, cells, nc * sizeof(*cells));

        memcpy(c->st, c->st0, c->nthr);
        for (size_t ci = 0; ci < c->ncore; ci++)
                c->cfree[ci] = c->core[ci].nfree;

        /* Kept pins first, on their cells' nodes. */
        for (size_t j = 0; j < nc; j++) {
                p->cell_node[j] = c->h->nodes[node_of[j]].id;
                hpvm_cpuset_set(&p->nodes, p->cell_node[j]);
                for (int v = hpvm_cpuset_next(&cells[j].vcpus, 0); v >= 0; v = hpvm_cpuset_next(&cells[j].vcpus, (unsigned)v + 1)) {
                        int ti = c->keep[v];

                        if (ti < 0 || c->core[c->core_of[ti]].node != node_of[j])
                                continue;
                        take_vcpu(c, p, (unsigned)v, (unsigned)ti);
                        p->nkept++;
                        if (c->pol == HPVM_POLICY_ISOLATE)
                                hold_core(c, p, c->core_of[ti]);
                }
        }
        for (size_t j = 0; j < nc; j++) {
                unsigned n = 0;

                for (int v = hpvm_cpuset_next(&cells[j].vcpus, 0); v >= 0; v = hpvm_cpuset_next(&cells[j].vcpus, (unsigned)v + 1))
                        if (c->keep[v] < 0 || c->core[c->core_of[c->keep[v]]].node != node_of[j])
                                vl[n++] = (unsigned)v;
                r = select_cpus(c, p, node_of[j], vl, n);
                if (r < 0)
                        goto fail;
        }

        if (c->req->emulator || c->req->iothreads) {
                nhelper = hpvm_cpuset_count(&p->held);
                if (!select_helpers(c, p, cell0_node, &pin)) {
                        /* None free: they run where cell 0's vCPUs run (all vCPUs for a CPU-less cell 0). */
                        p->helpers_shared = true;
                        hpvm_cpuset_zero(&pin);
                        for (unsigned v = 0; v < c->V; v++)
                                if (hpvm_cpuset_is_empty(&cells[0].vcpus) || hpvm_cpuset_test(&cells[0].vcpus, v))
                                        hpvm_cpuset_set(&pin, p->vcpu_cpu[v]);
                }
                nhelper = hpvm_cpuset_count(&p->held) - nhelper;
                if (c->req->emulator)
                        p->emulator = pin;
                if (c->req->iothreads)
                        p->iothreads = pin;
        }

        p->score = score_of(c, p, node_of, nhelper);
        /* Ties: the first candidate (most room), unless a later one gives the helpers a CPU of their own. */
        if (!c->best || p->score > c->best->score ||
            (p->score == c->best->score && c->best->helpers_shared && !p->helpers_shared)) {
                hpvm_placement_free(c->best);
                c->best = p;
        } else {
                hpvm_placement_free(p);
        }
        return 0;

fail:
        hpvm_placement_free(p);
        return r;
}

/* ---------------------------------------------------------------- anchors */

static unsigned room_of(const Node *nd)
{
        return nd->cmax > ROOM_MAX ? ROOM_MAX : nd->cmax;
}

/* Node indices in @ids[0..n) by most room first (CPU room, then memory), then index. */
static void sort_by_room(const Ctx *c, unsigned *ids, size_t n)
{
        for (size_t i = 1; i < n; i++) {
                unsigned x = ids[i];
                size_t j = i;

                while (j > 0) {
                        const Node *a = &c->node[ids[j - 1]], *b = &c->node[x];

                        if (a->cmax > b->cmax || (a->cmax == b->cmax && a->free_units >= b->free_units))
                                break;
                        ids[j] = ids[j - 1];
                        j--;
                }
                ids[j] = x;
        }
}

/* Others in @ids[0..n) by distance from @anchor, then most room, then index. */
static void sort_by_nearness(const Ctx *c, unsigned anchor, unsigned *ids, size_t n)
{
        for (size_t i = 1; i < n; i++) {
                unsigned x = ids[i];
                size_t j = i;

                while (j > 0) {
                        unsigned y = ids[j - 1];
                        uint32_t dy = dist(c, anchor, y), dx = dist(c, anchor, x);

                        if (dy < dx || (dy == dx && (c->node[y].cmax > c->node[x].cmax ||
                                                     (c->node[y].cmax == c->node[x].cmax && y < x))))
                                break;
                        ids[j] = y;
                        j--;
                }
                ids[j] = x;
        }
}

static size_t anchors_budget(size_t candidates, double per_anchor, double budget)
{
        size_t n = candidates < HPVM_PLACE_ANCHORS_MAX ? candidates : HPVM_PLACE_ANCHORS_MAX;

        if (per_anchor * (double)n > budget) {
                double fit = budget / (per_anchor > 1 ? per_anchor : 1);

                n = fit < 1 ? 1 : (size_t)fit;
        }
        return n;
}

/* ---------------------------------------------------------------- given cells */

/* Cell @j alone on node @i: CPUs (and its binding), memory. */
static bool cell_cpu_ok(const Ctx *c, size_t j, size_t i)
{
        return (c->cell[j].bound < 0 || c->cell[j].bound == (int)i) && allows(c, &c->node[i], c->cell[j].n);
}

static bool cell_mem_ok(const Ctx *c, size_t j, size_t i)
{
        return c->cell[j].units <= c->node[i].free_units;
}

/* Rectangular min-cost assignment of n rows to m >= n columns (potentials method). */
static int hungarian(size_t n, size_t m, const int64_t *a, int *col_of_row)
{
        _cleanup_free_ int64_t *u = calloc(n + 1, sizeof(*u));
        _cleanup_free_ int64_t *v = calloc(m + 1, sizeof(*v));
        _cleanup_free_ int64_t *minv = malloc((m + 1) * sizeof(*minv));
        _cleanup_free_ size_t *p = calloc(m + 1, sizeof(*p));
        _cleanup_free_ size_t *way = calloc(m + 1, sizeof(*way));
        _cleanup_free_ bool *usedc = malloc((m + 1) * sizeof(*usedc));

        if (!u || !v || !minv || !p || !way || !usedc)
                return -ENOMEM;
        for (size_t i = 1; i <= n; i++) {
                size_t j0 = 0;

                p[0] = i;
                for (size_t j = 0; j <= m; j++) {
                        minv[j] = COST_INF;
                        usedc[j] = false;
                }
                do {
                        size_t i0 = p[j0], j1 = 0;
                        int64_t delta = COST_INF;

                        usedc[j0] = true;
                        for (size_t j = 1; j <= m; j++) {
                                int64_t cur;

                                if (usedc[j])
                                        continue;
                                cur = a[(i0 - 1) * m + (j - 1)] - u[i0] - v[j];
                                if (cur < minv[j]) {
                                        minv[j] = cur;
                                        way[j] = j0;
                                }
                                if (minv[j] < delta) {
                                        delta = minv[j];
                                        j1 = j;
                                }
                        }
                        for (size_t j = 0; j <= m; j++) {
                                if (usedc[j]) {
                                        u[p[j]] += delta;
                                        v[j] -= delta;
                                } else {
                                        minv[j] -= delta;
                                }
                        }
                        j0 = j1;
                } while (p[j0] != 0);
                do {
                        size_t j1 = way[j0];

                        p[j0] = p[j1];
                        j0 = j1;
                } while (j0);
        }
        for (size_t j = 1; j <= m; j++)
                if (p[j])
                        col_of_row[p[j] - 1] = (int)(j - 1);
        return 0;
}

/* A list of assignments (cell -> node index), each tried once. */
typedef struct Cands {
        size_t n, cap, nc;
        unsigned *a;
} Cands;

static int cands_add(Cands *cs, const unsigned *node_of)
{
        for (size_t k = 0; k < cs->n; k++)
                if (!memcmp(cs->a + k * cs->nc, node_of, cs->nc * sizeof(*node_of)))
                        return 0;
        if (cs->n == cs->cap) {
                size_t cap = cs->cap ? 2 * cs->cap : 8;
                unsigned *a = realloc(cs->a, cap * cs->nc * sizeof(*a));

                if (!a)
                        return -ENOMEM;
                cs->a = a;
                cs->cap = cap;
        }
        memcpy(cs->a + cs->n * cs->nc, node_of, cs->nc * sizeof(*node_of));
        cs->n++;
        return 0;
}

/* Cells on distinct nodes, one matching per anchor. */
static int given_distinct(Ctx *c, const unsigned *anchors, size_t nanch, const unsigned *cols, size_t m,
                          Cands *cs)
{
        size_t nc = c->nc;
        _cleanup_free_ int64_t *cost = malloc(nc * m * sizeof(*cost));
        _cleanup_free_ int *col = malloc(nc * sizeof(*col));
        _cleanup_free_ unsigned *node_of = malloc(nc * sizeof(*node_of));
        bool helpers = c->req->emulator || c->req->iothreads;

        if (!cost || !col || !node_of)
                return -ENOMEM;
        for (size_t a = 0; a < nanch; a++) {
                bool ok = true;
                int r;

                for (size_t j = 0; j < nc; j++)
                        for (size_t k = 0; k < m; k++) {
                                unsigned i = cols[k];

                                cost[j * m + k] = cell_cpu_ok(c, j, i) && cell_mem_ok(c, j, i) ?
                                        (int64_t)dist(c, anchors[a], i) * ((int64_t)1 << 22) +
                                        (j == 0 && helpers && !allows(c, &c->node[i], c->cell[0].n + c->node[i].step) ?
                                         (int64_t)1 << 21 : 0) +
                                        (ROOM_MAX - room_of(&c->node[i])) : COST_BIG;
                        }
                r = hungarian(nc, m, cost, col);
                if (r < 0)
                        return r;
                for (size_t j = 0; j < nc; j++) {
                        if (cost[j * m + (size_t)col[j]] >= COST_BIG)
                                ok = false;
                        node_of[j] = cols[col[j]];
                }
                if (!ok)
                        return 0;       /* no matching exists: the same for every anchor */
                r = cands_add(cs, node_of);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Which resources a packing checks (the diagnosis relaxes one). */
enum { PACK_CPU = 1, PACK_MEM = 2 };

typedef struct Pack {
        unsigned full;
        unsigned *sum_n;        /* per subset of cells */
        uint64_t *sum_u;
        unsigned *ok;           /* per node: cells that may go there */
} Pack;

static bool pack_fits(const Ctx *c, const Pack *pk, unsigned what, size_t i, unsigned set)
{
        const Node *nd = &c->node[i];

        if (set & ~pk->ok[i])
                return false;
        if ((what & PACK_MEM) && pk->sum_u[set] > nd->free_units)
                return false;
        if (what & PACK_CPU) {
                if (nd->ap ? pk->sum_n[set] > nd->cap : (pk->sum_n[set] > c->V || !bs_test(nd->reach, pk->sum_n[set])))
                        return false;
        }
        return true;
}

static int pack_init(const Ctx *c, unsigned what, Pack *pk)
{
        size_t nc = c->nc, ns = (size_t)1 << nc;

        pk->full = (unsigned)(ns - 1);
        pk->sum_n = calloc(ns, sizeof(*pk->sum_n));
        pk->sum_u = calloc(ns, sizeof(*pk->sum_u));
        pk->ok = calloc(c->nn ? c->nn : 1, sizeof(*pk->ok));
        if (!pk->sum_n || !pk->sum_u || !pk->ok)
                return -ENOMEM;
        for (size_t s = 1; s < ns; s++) {
                unsigned low = (unsigned)__builtin_ctzll((unsigned long long)s);

                pk->sum_n[s] = pk->sum_n[s & (s - 1)] + c->cell[low].n;
                pk->sum_u[s] = sat_add(pk->sum_u[s & (s - 1)], c->cell[low].units);
        }
        for (size_t i = 0; i < c->nn; i++)
                for (size_t j = 0; j < nc; j++)
                        if ((c->cell[j].bound < 0 || c->cell[j].bound == (int)i) &&
                            (!(what & PACK_CPU) || allows(c, &c->node[i], c->cell[j].n)) &&
                            (!(what & PACK_MEM) || cell_mem_ok(c, j, i)))
                                pk->ok[i] |= 1u << j;
        return 0;
}

static void pack_clear(Pack *pk)
{
        free(pk->sum_n);
        free(pk->sum_u);
        free(pk->ok);
}

/* Exact: can the cells share nodes so that every node holds its cells? (subset program) */
static int pack_exact_feasible(const Ctx *c, const Pack *pk, unsigned what, bool *ret)
{
        size_t ns = (size_t)pk->full + 1;
        _cleanup_free_ bool *cur = calloc(ns, sizeof(*cur));
        _cleanup_free_ bool *nxt = malloc(ns * sizeof(*nxt));

        if (!cur || !nxt)
                return -ENOMEM;
        cur[0] = true;
        for (size_t i = 0; i < c->nn && !cur[pk->full]; i++) {
                if (!pk->ok[i])
                        continue;
                memcpy(nxt, cur, ns * sizeof(*nxt));
                for (size_t s = 0; s < ns; s++) {
                        unsigned rest;

                        if (!cur[s])
                                continue;
                        rest = pk->full & ~(unsigned)s & pk->ok[i];
                        for (unsigned t = rest; t; t = (t - 1) & rest)
                                if (!nxt[s | t] && pack_fits(c, pk, what, i, t))
                                        nxt[s | t] = true;
                }
                memcpy(cur, nxt, ns * sizeof(*cur));
        }
        *ret = cur[pk->full];
        return 0;
}

/* The cheapest sharing for one anchor: fewest nodes, then nearest to it, then most room. */
static int pack_exact_best(const Ctx *c, const Pack *pk, unsigned anchor, unsigned *node_of)
{
        size_t ns = (size_t)pk->full + 1, nl = 0;
        _cleanup_free_ int64_t *cur = malloc(ns * sizeof(*cur));
        _cleanup_free_ int64_t *nxt = malloc(ns * sizeof(*nxt));
        _cleanup_free_ unsigned *layer = malloc((c->nn ? c->nn : 1) * sizeof(*layer));
        _cleanup_free_ uint16_t *choice = NULL;
        unsigned s;

        if (!cur || !nxt || !layer)
                return -ENOMEM;
        for (size_t i = 0; i < c->nn; i++)
                if (pk->ok[i])
                        layer[nl++] = (unsigned)i;
        choice = malloc((nl ? nl : 1) * ns * sizeof(*choice));
        if (!choice)
                return -ENOMEM;
        for (size_t k = 0; k < ns; k++)
                cur[k] = COST_INF;
        cur[0] = 0;
        for (size_t l = 0; l < nl; l++) {
                unsigned i = layer[l];
                int64_t ncost = COST_NODE + (int64_t)dist(c, anchor, i) * ((int64_t)1 << 20) +
                                (ROOM_MAX - room_of(&c->node[i]));
                uint16_t *ch = choice + l * ns;

                for (size_t k = 0; k < ns; k++) {
                        nxt[k] = cur[k];
                        ch[k] = 0;
                }
                for (size_t k = 0; k < ns; k++) {
                        unsigned rest;

                        if (cur[k] >= COST_INF)
                                continue;
                        rest = pk->full & ~(unsigned)k & pk->ok[i];
                        for (unsigned t = rest; t; t = (t - 1) & rest)
                                if (cur[k] + ncost < nxt[k | t] && pack_fits(c, pk, PACK_CPU | PACK_MEM, i, t)) {
                                        nxt[k | t] = cur[k] + ncost;
                                        ch[k | t] = (uint16_t)t;
                                }
                }
                memcpy(cur, nxt, ns * sizeof(*cur));
        }
        if (cur[pk->full] >= COST_INF)
                return -ENOSPC;
        s = pk->full;
        for (size_t l = nl; l-- > 0;) {
                unsigned t = choice[l * ns + s];

                for (size_t j = 0; j < c->nc; j++)
                        if (t & (1u << j))
                                node_of[j] = layer[l];
                s &= ~t;
        }
        return 0;
}

/* First-fit decreasing (more cells than the subset program takes): nodes by nearness to @anchor. */
static bool pack_ffd(const Ctx *c, unsigned what, unsigned anchor, unsigned *node_of, unsigned *ids,
                     unsigned *cells, unsigned *sum_n, uint64_t *sum_u)
{
        size_t m = 0;

        for (size_t i = 0; i < c->nn; i++)
                if ((unsigned)i != anchor)
                        ids[m++] = (unsigned)i;
        sort_by_nearness(c, anchor, ids, m);
        memmove(ids + 1, ids, m * sizeof(*ids));
        ids[0] = anchor;
        m++;
        for (size_t j = 0; j < c->nc; j++)
                cells[j] = (unsigned)j;
        /* bound cells first, then more vCPUs, then more memory */
        for (size_t a = 1; a < c->nc; a++) {
                unsigned x = cells[a];
                size_t b = a;

                while (b > 0) {
                        const Cell *y = &c->cell[cells[b - 1]], *cx = &c->cell[x];
                        bool before = (y->bound >= 0) != (cx->bound >= 0) ? y->bound >= 0 :
                                      y->n != cx->n ? y->n > cx->n :
                                      y->units != cx->units ? y->units > cx->units : cells[b - 1] < x;

                        if (before)
                                break;
                        cells[b] = cells[b - 1];
                        b--;
                }
                cells[b] = x;
        }
        memset(sum_n, 0, c->nn * sizeof(*sum_n));
        memset(sum_u, 0, c->nn * sizeof(*sum_u));
        for (size_t a = 0; a < c->nc; a++) {
                const Cell *cl = &c->cell[cells[a]];
                bool placed = false;

                for (size_t k = 0; k < m && !placed; k++) {
                        unsigned i = ids[k];
                        const Node *nd = &c->node[i];
                        unsigned n2 = sum_n[i] + cl->n;
                        uint64_t u2 = sat_add(sum_u[i], cl->units);

                        if (cl->bound >= 0 && cl->bound != (int)i)
                                continue;
                        if ((what & PACK_CPU) && (!allows(c, nd, cl->n) || !allows(c, nd, n2)))
                                continue;
                        if ((what & PACK_MEM) && u2 > nd->free_units)
                                continue;
                        sum_n[i] = n2;
                        sum_u[i] = u2;
                        node_of[cells[a]] = i;
                        placed = true;
                }
                if (!placed)
                        return false;
        }
        return true;
}

/* Does some sharing hold the cells, checking @what? (exact up to HPVM_PLACE_EXACT_CELLS cells) */
static int pack_feasible(const Ctx *c, unsigned what, bool *ret)
{
        if (c->nc <= HPVM_PLACE_EXACT_CELLS) {
                Pack pk = { 0 };
                int r = pack_init(c, what, &pk);

                if (r == 0)
                        r = pack_exact_feasible(c, &pk, what, ret);
                pack_clear(&pk);
                return r;
        } else {
                _cleanup_free_ unsigned *node_of = malloc(c->nc * sizeof(unsigned));
                _cleanup_free_ unsigned *ids = malloc((c->nn + 1) * sizeof(unsigned));
                _cleanup_free_ unsigned *cells = malloc(c->nc * sizeof(unsigned));
                _cleanup_free_ unsigned *sum_n = malloc((c->nn ? c->nn : 1) * sizeof(unsigned));
                _cleanup_free_ uint64_t *sum_u = malloc((c->nn ? c->nn : 1) * sizeof(uint64_t));

                size_t na;

                if (!node_of || !ids || !cells || !sum_n || !sum_u)
                        return -ENOMEM;
                na = anchors_budget(c->nn, (double)c->nn * c->nn + (double)c->nc * c->nn, DP_BUDGET);
                *ret = false;
                for (size_t a = 0; a < na && !*ret; a++)
                        *ret = pack_ffd(c, what, (unsigned)a, node_of, ids, cells, sum_n, sum_u);
                return 0;
        }
}

static int given_shared(Ctx *c, const unsigned *anchors, size_t nanch, Cands *cs)
{
        _cleanup_free_ unsigned *node_of = malloc(c->nc * sizeof(unsigned));
        int r = 0;

        if (!node_of)
                return -ENOMEM;
        if (c->nc <= HPVM_PLACE_EXACT_CELLS) {
                Pack pk = { 0 };
                bool ok = false;
                double per = (double)c->nn;

                for (size_t k = 0; k < c->nc; k++)
                        per *= 3;
                r = pack_init(c, PACK_CPU | PACK_MEM, &pk);
                if (r == 0)
                        r = pack_exact_feasible(c, &pk, PACK_CPU | PACK_MEM, &ok);
                nanch = ok ? anchors_budget(nanch, per, DP_BUDGET) : 0;
                for (size_t a = 0; r == 0 && a < nanch; a++) {
                        r = pack_exact_best(c, &pk, anchors[a], node_of);
                        if (r == 0)
                                r = cands_add(cs, node_of);
                        else if (r == -ENOSPC)
                                r = 0;
                }
                pack_clear(&pk);
                return r;
        } else {
                _cleanup_free_ unsigned *ids = malloc((c->nn + 1) * sizeof(unsigned));
                _cleanup_free_ unsigned *cells = malloc(c->nc * sizeof(unsigned));
                _cleanup_free_ unsigned *sum_n = malloc((c->nn ? c->nn : 1) * sizeof(unsigned));
                _cleanup_free_ uint64_t *sum_u = malloc((c->nn ? c->nn : 1) * sizeof(uint64_t));

                if (!ids || !cells || !sum_n || !sum_u)
                        return -ENOMEM;
                nanch = anchors_budget(nanch, (double)c->nn * c->nn + (double)c->nc * c->nn, DP_BUDGET);
                for (size_t a = 0; r == 0 && a < nanch; a++)
                        if (pack_ffd(c, PACK_CPU | PACK_MEM, anchors[a], node_of, ids, cells, sum_n, sum_u))
                                r = cands_add(cs, node_of);
                return r;
        }
}

/* The whole host, for messages: "the host has 14 free CPUs (after 2 reserved and 16 held by other VMs)". */
static void msg_host_cpus(const Ctx *c, Msg *m, unsigned need)
{
        unsigned have = 0;

        for (size_t i = 0; i < c->nn; i++)
                have += have_count(c, &c->node[i]);
        msg_add(m, "the host has ");
        msg_have(c, m, have);
        if (c->nreserved && c->ntaken)
                msg_add(m, " (after %u reserved and %u held by other VMs)", c->nreserved, c->ntaken);
        else if (c->nreserved)
                msg_add(m, " (after %u reserved)", c->nreserved);
        else if (c->ntaken)
                msg_add(m, " (after %u held by other VMs)", c->ntaken);
        msg_add(m, ", the VM needs ");
        msg_need(c, m, need);
        msg_policy(c, m);
}

static void msg_host_mem(const Ctx *c, Msg *m, uint64_t need_amount)
{
        uint64_t have = 0;
        char a[64], b[64];

        for (size_t i = 0; i < c->nn; i++)
                have = sat_add(have, c->node[i].free_amount);
        if (c->paged)
                msg_add(m, "the host has %llu free page%s of %s, the VM needs %llu", (unsigned long long)have,
                        plural(have), hpvm_format_kib(c->unit_kib, a, sizeof(a)), (unsigned long long)need_amount);
        else
                msg_add(m, "the host has %s of free memory, the VM needs %s", hpvm_format_kib(have, a, sizeof(a)),
                        hpvm_format_kib(need_amount, b, sizeof(b)));
}

/* The whole-free cores of every node share one size (returned), or 0. */
static unsigned host_whole_size(const Ctx *c)
{
        unsigned size = 0;

        for (size_t ci = 0; ci < c->ncore; ci++) {
                const Core *co = &c->core[ci];

                if (co->nfree != co->n || !co->n)
                        continue;
                if (size && size != co->n)
                        return 0;
                size = co->n;
        }
        return size;
}

/* Cell @j fits no node: say which resource, and by how much. */
static int given_cell_nowhere(Ctx *c, size_t j)
{
        const Cell *cl = &c->cell[j];
        bool any_cpu = false, any_mem = false, single;
        unsigned T = host_whole_size(c);
        char a[64];
        Msg m = { 0 };

        for (size_t i = 0; i < c->nn; i++) {
                if (cl->bound >= 0 && cl->bound != (int)i)
                        continue;
                any_cpu |= allows(c, &c->node[i], cl->n);
                any_mem |= cell_mem_ok(c, j, i);
        }
        single = cl->bound >= 0 || c->nn == 1;

        if (!any_cpu && c->pol == HPVM_POLICY_SIBLINGS && T > 1 && cl->n % T) {
                msg_add(&m, "cpupolicy=siblings: guest cell %zu has %u vCPU%s, which would leave a %u-thread core half used",
                        j, cl->n, plural(cl->n), T);
                return msg_fail(c, &m);
        }
        if (single) {
                size_t i = cl->bound >= 0 ? (size_t)cl->bound : 0;
                const Node *nd = &c->node[i];

                msg_add(&m, "node %u has ", c->h->nodes[i].id);
                if (!any_cpu) {
                        msg_have(c, &m, have_count(c, nd));
                        msg_add(&m, ", guest cell %zu needs ", j);
                        msg_need(c, &m, cl->n);
                } else if (c->paged) {
                        msg_add(&m, "%llu free page%s of %s, guest cell %zu needs %llu",
                                (unsigned long long)nd->free_amount, plural(nd->free_amount),
                                hpvm_format_kib(c->unit_kib, a, sizeof(a)), j, (unsigned long long)cl->units);
                } else {
                        char b[64];

                        msg_add(&m, "%s of free memory, guest cell %zu needs %s",
                                hpvm_format_kib(nd->free_amount, a, sizeof(a)), j,
                                hpvm_format_kib(cl->kib, b, sizeof(b)));
                }
                if (cl->bound >= 0 && c->nn > 1)
                        msg_add(&m, " and is bound to it");
                if (!any_cpu)
                        msg_policy(c, &m);
                return msg_fail(c, &m);
        }

        if (!any_cpu) {
                bool first = true;

                msg_add(&m, "no host node has ");
                msg_have(c, &m, need_count(c, cl->n));
                msg_add(&m, " for guest cell %zu (", j);
                for (size_t i = 0; i < c->nn; i++) {
                        if (!c->node[i].nonline)
                                continue;
                        if (!msg_room(&m))
                                break;
                        msg_add(&m, "%snode %u has %u", first ? "" : ", ", c->h->nodes[i].id,
                                have_count(c, &c->node[i]));
                        first = false;
                }
                msg_policy_in(c, &m, "; ");
                msg_add(&m, ")");
                return msg_fail(c, &m);
        }
        if (!any_mem) {
                bool first = true;

                if (c->paged)
                        msg_add(&m, "the VM needs %llu page%s of %s on one node for guest cell %zu; ",
                                (unsigned long long)cl->units, plural(cl->units),
                                hpvm_format_kib(c->unit_kib, a, sizeof(a)), j);
                else
                        msg_add(&m, "no host node has %s of free memory for guest cell %zu (",
                                hpvm_format_kib(cl->kib, a, sizeof(a)), j);
                for (size_t i = 0; i < c->nn; i++) {
                        if (!msg_room(&m))
                                break;
                        if (c->paged)
                                msg_add(&m, "%snode %u has %llu%s", first ? "" : ", ", c->h->nodes[i].id,
                                        (unsigned long long)c->node[i].free_amount, first ? " free" : "");
                        else
                                msg_add(&m, "%snode %u has %s%s", first ? "" : ", ", c->h->nodes[i].id,
                                        hpvm_format_kib(c->node[i].free_amount, a, sizeof(a)), first ? " free" : "");
                        first = false;
                }
                if (!c->paged)
                        msg_add(&m, ")");
                return msg_fail(c, &m);
        }

        /* Some nodes have the CPUs, others the memory, none both. */
        msg_add(&m, "no host node has both ");
        msg_have(c, &m, need_count(c, cl->n));
        msg_add(&m, " and %s%s for guest cell %zu (", fmt_mem(c, c->paged ? cl->units : cl->kib, a, sizeof(a)),
                c->paged ? " free" : " of free memory", j);
        for (size_t i = 0; i < c->nn; i++) {
                if (!msg_room(&m))
                        break;
                msg_add(&m, "%snode %u has ", i ? ", " : "", c->h->nodes[i].id);
                msg_have(c, &m, have_count(c, &c->node[i]));
                msg_add(&m, " and %s", fmt_free(c, i, true, a, sizeof(a)));
        }
        msg_add(&m, ")");
        return msg_fail(c, &m);
}

/* Every cell fits some node, not all of them together. */
static int given_no_packing(Ctx *c)
{
        uint64_t need_u = 0, have_u = 0, need_kib = 0;
        unsigned need_n = 0, have_n = 0;
        bool cpu_ok = false, mem_ok = false;
        char a[64];
        Msg m = { 0 };
        int r;

        for (size_t j = 0; j < c->nc; j++) {
                need_n += c->cell[j].n;
                need_u = sat_add(need_u, c->cell[j].units);
                need_kib = sat_add(need_kib, c->cell[j].kib);
        }
        for (size_t i = 0; i < c->nn; i++) {
                have_n += c->node[i].cmax;
                have_u = sat_add(have_u, c->node[i].free_units);
        }
        if (need_n > have_n) {
                msg_host_cpus(c, &m, need_n);
                return msg_fail(c, &m);
        }
        if (need_u > have_u) {
                msg_host_mem(c, &m, c->paged ? need_u : need_kib);
                return msg_fail(c, &m);
        }
        r = pack_feasible(c, PACK_CPU, &cpu_ok);
        if (r == 0)
                r = pack_feasible(c, PACK_MEM, &mem_ok);
        if (r < 0)
                return r;

        if (!cpu_ok) {
                msg_add(&m, "the guest cells' vCPUs (");
                for (size_t j = 0; j < c->nc && msg_room(&m); j++)
                        msg_add(&m, "%s%u", j ? ", " : "", need_count(c, c->cell[j].n));
                msg_add(&m, ") do not fit by whole cells in the free CPUs of the host nodes (");
                for (size_t i = 0, k = 0; i < c->nn; i++) {
                        if (!c->node[i].nonline)
                                continue;
                        if (!msg_room(&m))
                                break;
                        msg_add(&m, "%snode %u has ", k++ ? ", " : "", c->h->nodes[i].id);
                        msg_have(c, &m, have_count(c, &c->node[i]));
                }
                msg_policy_in(c, &m, "; ");
                msg_add(&m, ")");
        } else if (!mem_ok) {
                msg_add(&m, "the guest cells' %s (", c->paged ? "huge pages" : "memory");
                for (size_t j = 0; j < c->nc && msg_room(&m); j++)
                        msg_add(&m, "%s%s", j ? ", " : "",
                                fmt_mem(c, c->paged ? c->cell[j].units : c->cell[j].kib, a, sizeof(a)));
                msg_add(&m, ") %s not fit by whole cells in the free %s of the host nodes (",
                        c->paged ? "do" : "does", c->paged ? "pages" : "memory");
                for (size_t i = 0; i < c->nn; i++) {
                        if (!msg_room(&m))
                                break;
                        msg_add(&m, "%snode %u has %s", i ? ", " : "", c->h->nodes[i].id,
                                fmt_free(c, i, false, a, sizeof(a)));
                }
                msg_add(&m, ")");
        } else {
                msg_add(&m, "the guest cells (");
                for (size_t j = 0; j < c->nc && msg_room(&m); j++)
                        msg_add(&m, "%s%u vCPU%s with %s", j ? ", " : "", c->cell[j].n, plural(c->cell[j].n),
                                fmt_mem(c, c->paged ? c->cell[j].units : c->cell[j].kib, a, sizeof(a)));
                msg_add(&m, ") do not fit together on the host nodes (");
                for (size_t i = 0; i < c->nn; i++) {
                        if (!msg_room(&m))
                                break;
                        msg_add(&m, "%snode %u has ", i ? ", " : "", c->h->nodes[i].id);
                        msg_have(c, &m, have_count(c, &c->node[i]));
                        msg_add(&m, " and %s", fmt_free(c, i, true, a, sizeof(a)));
                }
                msg_add(&m, ")");
        }
        for (size_t j = 0; j < c->nc; j++)
                if (c->req->cell_node && c->req->cell_node[j] >= 0 && msg_room(&m))
                        msg_add(&m, "; guest cell %zu is bound to node %d", j, c->req->cell_node[j]);
        return msg_fail(c, &m);
}

static int plan_given(Ctx *c)
{
        _cleanup_free_ unsigned *anchors = malloc((c->nn ? c->nn : 1) * sizeof(unsigned));
        _cleanup_free_ unsigned *cols = malloc((c->nn ? c->nn : 1) * sizeof(unsigned));
        Cands cs = { .nc = c->nc };
        size_t nanch = 0, m = 0;
        int r = 0;

        if (!anchors || !cols)
                return -ENOMEM;
        for (size_t j = 0; j < c->nc; j++) {
                int bound = c->req->cell_node && c->req->cell_node[j] >= 0 ?
                            hpvm_host_node_index(c->h, (unsigned)c->req->cell_node[j]) : c->cell[j].kept_node;
                bool somewhere = false;

                c->cell[j].bound = bound;
                for (size_t i = 0; i < c->nn; i++)
                        somewhere |= cell_cpu_ok(c, j, i) && cell_mem_ok(c, j, i);
                if (!somewhere)
                        return c->nkeep ? -ENOSPC : given_cell_nowhere(c, j);
        }
        for (size_t i = 0; i < c->nn; i++) {
                bool any = false;

                for (size_t j = 0; j < c->nc && !any; j++)
                        any = cell_cpu_ok(c, j, i) && cell_mem_ok(c, j, i);
                if (any)
                        cols[m++] = anchors[nanch++] = (unsigned)i;
        }
        sort_by_room(c, anchors, nanch);

        if (c->nc <= m) {
                size_t na = anchors_budget(nanch, (double)c->nc * c->nc * m, MATCH_BUDGET);

                r = given_distinct(c, anchors, na, cols, m, &cs);
        }
        if (r == 0 && cs.n == 0)
                r = given_shared(c, anchors, nanch, &cs);
        if (r == 0 && cs.n == 0)
                r = c->nkeep ? -ENOSPC : given_no_packing(c);
        for (size_t k = 0; r == 0 && k < cs.n; k++) {
                r = place_build(c, c->nc, c->req->cells, cs.a + k * c->nc);
                if (r == -ENOSPC)
                        r = 0;  /* the greedy siblings choice; another candidate may do */
        }
        free(cs.a);
        if (r == 0 && !c->best) {
                Msg msg = { 0 };

                msg_add(&msg, "cpupolicy=siblings: the whole free cores of the host nodes cannot be split between the guest cells exactly");
                return msg_fail(c, &msg);
        }
        return r;
}

/* ---------------------------------------------------------------- cells made by the engine */

/* Counts node @i may hold in a VM of V vCPUs and U memory units: its CPUs, then its memory share. */
static unsigned auto_mem_cap(const Ctx *c, size_t i, uint64_t U)
{
        uint64_t f = c->node[i].free_units;

        if (U == 0 || f == UNITS_ANY || f >= U)
                return c->V;
        return (unsigned)(f * c->V / U);
}

static int plan_auto(Ctx *c)
{
        uint64_t U = c->req->mem_kib / c->unit_kib + (c->req->mem_kib % c->unit_kib != 0);
        size_t nn = c->nn, words = c->words;
        _cleanup_free_ unsigned *acap = calloc(nn ? nn : 1, sizeof(unsigned));  /* CPUs and memory */
        _cleanup_free_ unsigned *mcap = calloc(nn ? nn : 1, sizeof(unsigned));
        _cleanup_free_ unsigned *kept = calloc(nn ? nn : 1, sizeof(unsigned));
        _cleanup_free_ unsigned *order = malloc((nn ? nn : 1) * sizeof(unsigned));
        _cleanup_free_ unsigned *anchors = malloc((nn ? nn : 1) * sizeof(unsigned));
        _cleanup_free_ unsigned *cnt = calloc(nn ? nn : 1, sizeof(unsigned));
        _cleanup_free_ uint64_t *sets = NULL;    /* !ap: per node its allowed counts (with memory, keep) */
        _cleanup_free_ uint64_t *pre = NULL;     /* !ap: prefix sums of sets in anchor order */
        _cleanup_free_ HpvmGuestCell *cells = malloc((nn ? nn : 1) * sizeof(HpvmGuestCell));
        _cleanup_free_ unsigned *node_of = malloc((nn ? nn : 1) * sizeof(unsigned));
        _cleanup_free_ unsigned *unkept = malloc(c->V * sizeof(unsigned));
        unsigned step = 0, nunkept = 0;
        bool ap = true;
        size_t nanch = 0, nmand = 0;
        int r;

        if (!acap || !mcap || !kept || !order || !anchors || !cnt || !cells || !node_of || !unkept)
                return -ENOMEM;
        for (unsigned v = 0; v < c->V; v++) {
                if (c->keep[v] >= 0)
                        kept[c->core[c->core_of[c->keep[v]]].node]++;
                else
                        unkept[nunkept++] = v;
        }
        for (size_t i = 0; i < nn; i++) {
                const Node *nd = &c->node[i];

                mcap[i] = auto_mem_cap(c, i, U);
                if (!nd->ap) {
                        ap = false;
                        continue;
                }
                acap[i] = nd->cap < mcap[i] ? nd->cap : mcap[i];
                acap[i] -= acap[i] % nd->step;
                if (acap[i] && step && step != nd->step)
                        ap = false;
                if (acap[i])
                        step = nd->step;
                if (kept[i] > acap[i])
                        return -ENOSPC;         /* only with kept pins: placed again without */
        }
        if (!step)
                step = 1;
        if (!ap) {
                /* Allowed counts per node as bitsets: CPUs (reach, or the progression), memory, kept pins. */
                sets = calloc(nn * words, sizeof(uint64_t));
                pre = calloc((nn + 1) * words, sizeof(uint64_t));
                if (!sets || !pre)
                        return -ENOMEM;
                for (size_t i = 0; i < nn; i++) {
                        uint64_t *s = sets + i * words;

                        acap[i] = 0;
                        for (unsigned n = 0; n <= c->V && n <= mcap[i]; n++)
                                if ((n == 0 && !kept[i]) || (n >= kept[i] && n && allows(c, &c->node[i], n))) {
                                        bs_set(s, n);
                                        acap[i] = n;
                                }
                        if (kept[i] && !acap[i])
                                return -ENOSPC;
                }
        }

        /* Feasible at all? The sum over every node decides (exact); else say what is short. */
        {
                bool ok;

                if (ap) {
                        uint64_t sum = 0;

                        for (size_t i = 0; i < nn; i++)
                                sum += acap[i];
                        ok = sum >= c->V && c->V % step == 0;
                } else {
                        uint64_t *cur = pre, *nxt = pre + words;

                        memset(cur, 0, words * sizeof(uint64_t));
                        bs_set(cur, 0);
                        for (size_t i = 0; i < nn; i++) {
                                memset(nxt, 0, words * sizeof(uint64_t));
                                for (unsigned n = 0; n <= acap[i]; n++)
                                        if (bs_test(sets + i * words, n))
                                                bs_shift_or(nxt, cur, words, n);
                                memcpy(cur, nxt, words * sizeof(uint64_t));
                        }
                        ok = bs_test(cur, c->V);
                }
                if (!ok) {
                        Msg m = { 0 };
                        unsigned cpu_sum = 0, T = host_whole_size(c);
                        uint64_t free_u = 0;
                        char a[64];
                        bool cpu_only = true;

                        if (c->nkeep)
                                return -ENOSPC;
                        for (size_t i = 0; i < nn; i++) {
                                cpu_sum += c->node[i].cmax;
                                free_u = sat_add(free_u, c->node[i].free_units);
                        }
                        if (c->pol == HPVM_POLICY_SIBLINGS && cpu_sum >= c->V) {
                                /* Enough threads in whole cores: can some of them add up to V? */
                                _cleanup_free_ uint64_t *acc = calloc(2 * words, sizeof(uint64_t));

                                if (!acc)
                                        return -ENOMEM;
                                bs_set(acc, 0);
                                for (size_t ci = 0; ci < c->ncore; ci++)
                                        if (c->core[ci].nfree == c->core[ci].n && c->core[ci].n && c->core[ci].n <= c->V)
                                                bs_shift_or(acc, acc, words, c->core[ci].n);
                                cpu_only = bs_test(acc, c->V);
                                if (!cpu_only && T > 1)
                                        msg_add(&m, "cpupolicy=siblings: the VM's %u vCPU%s would leave a %u-thread core half used",
                                                c->V, plural(c->V), T);
                                else if (!cpu_only)
                                        msg_add(&m, "cpupolicy=siblings: no set of whole free cores adds up to the VM's %u vCPUs",
                                                c->V);
                        }
                        if (m.len)
                                ;
                        else if (cpu_sum < c->V)
                                msg_host_cpus(c, &m, c->V);
                        else if (free_u < U)
                                msg_host_mem(c, &m, c->paged ? U : U * c->unit_kib);
                        else {
                                msg_add(&m, "no set of host nodes holds the VM's %u vCPUs with their share of its %s (",
                                        c->V, fmt_mem(c, c->paged ? U : U * c->unit_kib, a, sizeof(a)));
                                for (size_t i = 0, k = 0; i < nn; i++) {
                                        if (!c->node[i].nonline && !c->node[i].free_amount)
                                                continue;
                                        if (!msg_room(&m))
                                                break;
                                        msg_add(&m, "%snode %u has ", k++ ? ", " : "", c->h->nodes[i].id);
                                        msg_have(c, &m, have_count(c, &c->node[i]));
                                        msg_add(&m, " and %s", fmt_free(c, i, true, a, sizeof(a)));
                                }
                                msg_add(&m, ")");
                        }
                        return msg_fail(c, &m);
                }
        }

        /* Anchors: nodes with kept pins if any, else every node that can hold a vCPU; most room first. */
        for (size_t i = 0; i < nn; i++)
                if (kept[i])
                        nmand++;
        for (size_t i = 0; i < nn; i++)
                if (nmand ? kept[i] > 0 : acap[i] > 0)
                        anchors[nanch++] = (unsigned)i;
        sort_by_room(c, anchors, nanch);
        nanch = anchors_budget(nanch, ap ? (double)nn * 8 : (double)nn * c->V * words, 4e7);

        for (size_t a = 0; a < nanch; a++) {
                unsigned anchor = anchors[a];
                size_t no = 0, mo, p = 0, ncells = 0;
                unsigned R, C = 0, next = 0;
                uint64_t done_units = 0;

                /* anchor, the other kept nodes by nearness, then the rest by nearness and room */
                for (size_t i = 0; i < nn; i++)
                        if (i != anchor && kept[i])
                                order[no++] = (unsigned)i;
                sort_by_nearness(c, anchor, order, no);
                memmove(order + 1, order, no * sizeof(*order));
                order[0] = anchor;
                mo = ++no;
                for (size_t i = 0; i < nn; i++)
                        if (i != anchor && !kept[i] && acap[i])
                                order[no++] = (unsigned)i;
                sort_by_nearness(c, anchor, order + mo, no - mo);

                memset(cnt, 0, nn * sizeof(*cnt));
                if (ap) {
                        uint64_t sum = 0;
                        unsigned spare;

                        for (p = 0; p < no && (p < mo || sum < c->V); p++)
                                sum += acap[order[p]];
                        if (sum < c->V)
                                continue;
                        R = c->V;
                        for (size_t k = 0; k < p; k++) {
                                cnt[order[k]] = kept[order[k]];
                                R -= kept[order[k]];
                        }
                        /* Leave the anchor a step of room for the emulator and IO threads when the others can take it. */
                        spare = (c->req->emulator || c->req->iothreads) && sum - c->V >= c->node[anchor].step &&
                                acap[anchor] >= kept[anchor] + c->node[anchor].step ? c->node[anchor].step : 0;
                        for (size_t k = 0; k < p && R; k++) {
                                unsigned add = acap[order[k]] - cnt[order[k]] - (k == 0 ? spare : 0);

                                if (add > R)
                                        add = R;
                                cnt[order[k]] += add;
                                R -= add;
                        }
                } else {
                        unsigned rem = c->V;

                        memset(pre, 0, words * sizeof(uint64_t));
                        bs_set(pre, 0);
                        for (p = 0; p < no; p++) {
                                uint64_t *cur = pre + p * words, *nxt = pre + (p + 1) * words;
                                const uint64_t *s = sets + (size_t)order[p] * words;

                                if (p >= mo && bs_test(cur, c->V))
                                        break;
                                memset(nxt, 0, words * sizeof(uint64_t));
                                for (unsigned n = 0; n <= acap[order[p]]; n++)
                                        if (bs_test(s, n))
                                                bs_shift_or(nxt, cur, words, n);
                        }
                        if (!bs_test(pre + p * words, c->V))
                                continue;
                        /* Later nodes take as little as they can, so the anchor fills first. */
                        for (size_t k = p; k-- > 0;) {
                                const uint64_t *s = sets + (size_t)order[k] * words;

                                for (unsigned n = 0; n <= acap[order[k]] && n <= rem; n++)
                                        if (bs_test(s, n) && bs_test(pre + k * words, rem - n)) {
                                                cnt[order[k]] = n;
                                                rem -= n;
                                                break;
                                        }
                        }
                }

                /* One cell per node used, in order; kept vCPUs stay with their node, the rest go in id order. */
                for (size_t k = 0; k < p; k++) {
                        unsigned i = order[k], take;
                        HpvmGuestCell *gc;
                        uint64_t share;

                        if (!cnt[i])
                                continue;
                        gc = &cells[ncells];
                        hpvm_cpuset_zero(&gc->vcpus);
                        for (unsigned v = 0; v < c->V; v++)
                                if (c->keep[v] >= 0 && c->core[c->core_of[c->keep[v]]].node == i)
                                        hpvm_cpuset_set(&gc->vcpus, v);
                        for (take = cnt[i] - kept[i]; take; take--)
                                hpvm_cpuset_set(&gc->vcpus, unkept[next++]);
                        C += cnt[i];
                        share = U * C / c->V - done_units;
                        done_units += share;
                        gc->mem_kib = share * c->unit_kib;
                        node_of[ncells++] = i;
                }
                r = place_build(c, ncells, cells, node_of);
                if (r < 0 && r != -ENOSPC)
                        return r;
        }
        if (!c->best) {
                Msg m = { 0 };

                if (c->nkeep)
                        return -ENOSPC;
                msg_add(&m, "cpupolicy=siblings: the whole free cores of the host nodes cannot hold the VM's %u vCPUs exactly",
                        c->V);
                return msg_fail(c, &m);
        }
        return 0;
}

/* ---------------------------------------------------------------- entry points */

int hpvm_place(const HpvmHost *h, const HpvmUsage *u, const HpvmPlaceRequest *req, HpvmPlacement **ret,
               HpvmError *err)
{
        Ctx c = { .h = h, .u = u, .req = req, .err = err, .nn = h->nnodes };
        int r;

        r = check_request(&c);
        if (r == 0)
                r = ctx_build_host(&c);
        if (r == 0)
                r = ctx_build_caps(&c);
        if (r == 0) {
                keep_filter(&c);
                r = c.nc ? plan_given(&c) : plan_auto(&c);
                if (r == -ENOSPC && c.nkeep) {
                        /* The kept pins do not leave room: place the VM afresh. */
                        keep_clear(&c);
                        hpvm_placement_free(c.best);
                        c.best = NULL;
                        r = c.nc ? plan_given(&c) : plan_auto(&c);
                }
        }
        if (r == -ENOMEM)
                hpvm_error_set(err, r, "out of memory");
        if (r == 0) {
                *ret = c.best;
                c.best = NULL;
        }
        ctx_free(&c);
        return r;
}

void hpvm_placement_free(HpvmPlacement *p)
{
        if (!p)
                return;
        free(p->vcpu_cpu);
        free(p->cells);
        free(p->cell_node);
        free(p);
}

unsigned hpvm_usage_reserve_default(const HpvmHost *h, HpvmUsage *u)
{
        unsigned added = 0;

        for (size_t i = 0; i < h->nnodes; i++) {
                HpvmCpuSet mine = h->nodes[i].cpus, sib;
                int first;

                hpvm_cpuset_and(&mine, &h->online);
                first = hpvm_cpuset_next(&mine, 0);
                if (first < 0)
                        continue;
                hpvm_host_siblings(h, (unsigned)first, &sib);
                for (int s = hpvm_cpuset_next(&sib, 0); s >= 0; s = hpvm_cpuset_next(&sib, (unsigned)s + 1))
                        if (!hpvm_cpuset_test(&u->reserved, (unsigned)s)) {
                                hpvm_cpuset_set(&u->reserved, (unsigned)s);
                                added++;
                        }
        }
        return added;
}

/* ---------------------------------------------------------------- the map */

typedef struct Text {
        char *s;
        size_t len, cap;
        bool oom;
} Text;

static void text_add(Text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void text_add(Text *t, const char *fmt, ...)
{
        va_list ap;
        int w;

        if (t->oom)
                return;
        va_start(ap, fmt);
        w = vsnprintf(t->s ? t->s + t->len : NULL, t->s ? t->cap - t->len : 0, fmt, ap);
        va_end(ap);
        if (w < 0) {
                t->oom = true;
                return;
        }
        if (!t->s || t->len + (size_t)w >= t->cap) {
                size_t cap = (t->cap ? t->cap : 1024);
                char *s;

                while (cap <= t->len + (size_t)w)
                        cap *= 2;
                s = realloc(t->s, cap);
                if (!s) {
                        t->oom = true;
                        return;
                }
                t->s = s;
                t->cap = cap;
                va_start(ap, fmt);
                vsnprintf(t->s + t->len, t->cap - t->len, fmt, ap);
                va_end(ap);
        }
        t->len += (size_t)w;
}

int hpvm_placement_format_map(const HpvmHost *h, const HpvmUsage *u, const HpvmPlacement *p, char **ret_text)
{
        _cleanup_free_ int *vcpu_on = malloc(HPVM_CPUSET_MAX * sizeof(int));
        _cleanup_free_ char *set = malloc(HPVM_CPUSET_STRMAX);
        HpvmCpuSet helpers = p->emulator;
        Text t = { 0 };
        char a[64], b[64];

        if (!vcpu_on || !set)
                return -ENOMEM;
        for (size_t i = 0; i < HPVM_CPUSET_MAX; i++)
                vcpu_on[i] = -1;
        for (unsigned v = 0; v < p->nvcpus; v++)
                if (p->vcpu_cpu[v] < HPVM_CPUSET_MAX)
                        vcpu_on[p->vcpu_cpu[v]] = (int)v;
        hpvm_cpuset_or(&helpers, &p->iothreads);

        hpvm_cpuset_format(&p->nodes, set, HPVM_CPUSET_STRMAX);
        text_add(&t, "score %d: %u vCPU%s in %zu guest cell%s on host node%s %s", p->score, p->nvcpus,
                 plural(p->nvcpus), p->ncells, plural(p->ncells), hpvm_cpuset_count(&p->nodes) == 1 ? "" : "s", set);
        if (p->nkept)
                text_add(&t, ", %u pin%s kept", p->nkept, plural(p->nkept));
        if (!hpvm_cpuset_is_empty(&helpers)) {
                hpvm_cpuset_format(&helpers, set, HPVM_CPUSET_STRMAX);
                text_add(&t, "; emulator and IO threads on CPU%s %s%s", hpvm_cpuset_count(&helpers) == 1 ? "" : "s",
                         set, p->helpers_shared ? " (shared with vCPUs: no free CPU left)" : "");
        }
        text_add(&t, "\n");
        for (size_t j = 0; j < p->ncells; j++) {
                hpvm_cpuset_format(&p->cells[j].vcpus, set, HPVM_CPUSET_STRMAX);
                text_add(&t, "guest cell %zu -> node %u: vCPUs %s, %s\n", j, p->cell_node[j], set[0] ? set : "none",
                         hpvm_format_kib(p->cells[j].mem_kib, a, sizeof(a)));
        }

        for (size_t i = 0; i < h->nnodes; i++) {
                const HpvmNode *nd = &h->nodes[i];
                HpvmCpuSet mine = nd->cpus, done;
                uint64_t f = i < u->nnodes ? u->node[i].mem_kib : HPVM_MEM_UNKNOWN;

                hpvm_cpuset_and(&mine, &h->online);
                hpvm_cpuset_zero(&done);
                text_add(&t, "node %u:", nd->id);
                if (nd->mem_kib == HPVM_MEM_UNKNOWN)
                        text_add(&t, " memory unknown");
                else if (f == HPVM_MEM_UNKNOWN)
                        text_add(&t, " %s of memory", hpvm_format_kib(nd->mem_kib, a, sizeof(a)));
                else
                        text_add(&t, " %s free of %s", hpvm_format_kib(f, a, sizeof(a)),
                                 hpvm_format_kib(nd->mem_kib, b, sizeof(b)));
                for (size_t k = 0; k < nd->npools; k++)
                        text_add(&t, ", %llu of %llu pages of %s free",
                                 (unsigned long long)(i < u->nnodes ? u->node[i].pages[k] : nd->pools[k].total),
                                 (unsigned long long)nd->pools[k].total,
                                 hpvm_format_kib(nd->pools[k].size_kib, a, sizeof(a)));
                if (hpvm_cpuset_is_empty(&mine))
                        text_add(&t, ", no online CPUs");
                text_add(&t, "\n");
                for (int cpu = hpvm_cpuset_next(&mine, 0); cpu >= 0; cpu = hpvm_cpuset_next(&mine, (unsigned)cpu + 1)) {
                        HpvmCpuSet sib;

                        if (hpvm_cpuset_test(&done, (unsigned)cpu))
                                continue;
                        hpvm_host_siblings(h, (unsigned)cpu, &sib);
                        hpvm_cpuset_and(&sib, &mine);
                        hpvm_cpuset_andnot(&sib, &done);
                        hpvm_cpuset_or(&done, &sib);
                        text_add(&t, " ");
                        for (int s = hpvm_cpuset_next(&sib, 0); s >= 0; s = hpvm_cpuset_next(&sib, (unsigned)s + 1)) {
                                if (vcpu_on[s] >= 0)
                                        snprintf(a, sizeof(a), "v%d", vcpu_on[s]);
                                else if (hpvm_cpuset_test(&helpers, (unsigned)s))
                                        snprintf(a, sizeof(a), "E");
                                else if (hpvm_cpuset_test(&p->held, (unsigned)s))
                                        snprintf(a, sizeof(a), "h");
                                else if (hpvm_cpuset_test(&u->reserved, (unsigned)s))
                                        snprintf(a, sizeof(a), "R");
                                else if (hpvm_cpuset_test(&u->taken, (unsigned)s))
                                        snprintf(a, sizeof(a), "T");
                                else
                                        snprintf(a, sizeof(a), ".");
                                text_add(&t, " %d:%s", s, a);
                        }
                        text_add(&t, "\n");
                }
        }
        text_add(&t, "legend: CPU:what, one core per line; vN vCPU N, E emulator and IO threads, h held idle, "
                     "R reserved, T taken by another VM, . free\n");
        if (t.oom) {
                free(t.s);
                return -ENOMEM;
        }
        *ret_text = t.s;
        return 0;
}
