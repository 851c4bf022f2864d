/* vmreq.c: what a VM needs from a host, and whether a host gives it: nodes, memory and huge pages per node, pins, TSC. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vmreq.h"

void hpvm_vmreq_clear(HpvmVmReq *r)
{
        free(r->cells);
        hpvm_pinlist_clear(&r->vcpupin);
        hpvm_pinlist_clear(&r->iothreadpin);
        memset(r, 0, sizeof(*r));
}

const HpvmReqCell *hpvm_vmreq_cell_of(const HpvmVmReq *r, unsigned vcpu)
{
        for (size_t i = 0; i < r->ncells; i++)
                if (hpvm_cpuset_test(&r->cells[i].vcpus, vcpu))
                        return &r->cells[i];
        return NULL;
}

bool hpvm_numa_mode_binds(HpvmNumaMode m)
{
        /* MPOL_BIND, cgroup cpuset.mems and MPOL_INTERLEAVE all allocate only from the set; preferred falls back. */
        return m == HPVM_NUMA_STRICT || m == HPVM_NUMA_RESTRICTIVE || m == HPVM_NUMA_INTERLEAVE;
}

/* ---------------------------------------------------------------- demand groups */

/* Memory (or pages) that must come from one set of host nodes, and who asks for it. */
typedef struct Group {
        HpvmCpuSet nodes;       /* host node ids; all of them for unbound demand */
        bool bound;             /* confined by a binding policy (else: anywhere on the host) */
        bool pages;             /* counted in huge pages, else in KiB of memory */
        HpvmNumaMode mode;
        HpvmCpuSet cells;       /* guest cell ids in this group */
        bool whole_vm;          /* the VM has no cells: the group is all of it */
        uint64_t need;          /* KiB, or pages */
} Group;

typedef struct Groups {
        size_t n;
        Group *g;
} Groups;

static int add_demand(Groups *gs, const HpvmCpuSet *nodes, bool bound, bool pages, HpvmNumaMode mode, long cell,
                      uint64_t need)
{
        Group *g;

        for (size_t i = 0; i < gs->n; i++) {
                g = &gs->g[i];
                if (g->pages == pages && g->bound == bound && hpvm_cpuset_equal(&g->nodes, nodes)) {
                        if (cell >= 0)
                                hpvm_cpuset_set(&g->cells, (unsigned)cell);
                        if (g->mode != mode)
                                g->mode = (HpvmNumaMode)-1;      /* mixed: messages say "binding" */
                        /* Cannot wrap: at most HPVM_CELLS_MAX cells of at most 2^42 KiB each. */
                        g->need += need;
                        return 0;
                }
        }
        g = realloc(gs->g, (gs->n + 1) * sizeof(*g));
        if (!g)
                return -ENOMEM;
        gs->g = g;
        g = &gs->g[gs->n++];
        memset(g, 0, sizeof(*g));
        g->nodes = *nodes;
        g->bound = bound;
        g->pages = pages;
        g->mode = mode;
        g->whole_vm = cell < 0;
        if (cell >= 0)
                hpvm_cpuset_set(&g->cells, (unsigned)cell);
        g->need = need;
        return 0;
}

static int build_groups(const HpvmVmReq *r, const HpvmHost *h, Groups *gs)
{
        HpvmCpuSet all;
        bool vm_bound = r->has_numatune && hpvm_numa_mode_binds(r->numatune.mode);
        int k;

        hpvm_host_all_nodes(h, &all);
        if (r->ncells == 0) {
                bool pages = r->page_kib > 0;

                return add_demand(gs, vm_bound ? &r->numatune.nodes : &all, vm_bound, pages, r->numatune.mode, -1,
                                  pages ? r->mem_kib / r->page_kib : r->mem_kib);
        }
        for (size_t i = 0; i < r->ncells; i++) {
                const HpvmReqCell *c = &r->cells[i];
                bool pages = r->page_kib > 0 && c->hugepages;
                bool own = c->has_memnode && hpvm_numa_mode_binds(c->mode);
                bool bound = own || (!c->has_memnode && vm_bound);
                const HpvmCpuSet *nodes = own ? &c->nodes : bound ? &r->numatune.nodes : &all;

                k = add_demand(gs, nodes, bound, pages, own ? c->mode : r->numatune.mode, (long)c->id,
                               pages ? c->mem_kib / r->page_kib : c->mem_kib);
                if (k < 0)
                        return k;
        }
        return 0;
}

/* ---------------------------------------------------------------- max flow */

/*
 * Demand groups against node capacities: source -> group (its need) ->
 * every node of its set (unbounded) -> sink (the node's capacity). Tiny
 * graphs (groups are distinct node sets of at most HPVM_CELLS_MAX cells),
 * so plain augmenting paths by BFS (Edmonds-Karp) are enough.
 */
typedef struct Edge {
        size_t to;
        uint64_t cap;
} Edge;

typedef struct Flow {
        size_t nv, ne;
        Edge *e;                /* edge i and its reverse i ^ 1 */
        size_t *from;           /* tail vertex of each edge */
        size_t *start, *adj;    /* edges leaving vertex v: adj[start[v] .. start[v+1]) */
} Flow;

static void flow_free(Flow *f)
{
        free(f->e);
        free(f->start);
        free(f->adj);
        free(f->from);
}

/* BFS from the source over edges with capacity left; prev[] holds the edge used to reach each vertex. */
static bool flow_bfs(const Flow *f, size_t s, size_t t, size_t *prev, bool *seen, size_t *queue)
{
        size_t qh = 0, qt = 0;

        memset(seen, 0, f->nv * sizeof(*seen));
        seen[s] = true;
        queue[qt++] = s;
        while (qh < qt) {
                size_t v = queue[qh++];

                for (size_t k = f->start[v]; k < f->start[v + 1]; k++) {
                        size_t ei = f->adj[k];
                        size_t w = f->e[ei].to;

                        if (seen[w] || f->e[ei].cap == 0)
                                continue;
                        seen[w] = true;
                        prev[w] = ei;
                        if (w == t)
                                return true;
                        queue[qt++] = w;
                }
        }
        return false;
}

#define FLOW_INF UINT64_MAX

/*
 * Route the demand of @gs over the nodes of @h with capacities @cap (by node
 * index; FLOW_INF = unknown, not limited). Returns the unmet amount (0: it
 * all fits); on a shortfall *ret_cut_groups / *ret_cut_nodes get the groups
 * and node indices behind the minimum cut (the ones that cannot be served).
 */
static int route(const Groups *gs, const HpvmHost *h, const uint64_t *cap, uint64_t *ret_short,
                 HpvmCpuSet *ret_cut_groups, HpvmCpuSet *ret_cut_nodes)
{
        size_t ng = gs->n, nn = h->nnodes, nv = ng + nn + 2, s = ng + nn, t = s + 1, ne = 0, maxe;
        uint64_t need = 0, got = 0;
        size_t *deg = NULL, *prev = NULL, *queue = NULL;
        bool *seen = NULL;
        Flow f = { .nv = nv };
        int r = -ENOMEM;

        maxe = 2 * (ng + nn);
        for (size_t i = 0; i < ng; i++)
                maxe += 2 * (size_t)hpvm_cpuset_count(&gs->g[i].nodes);
        f.e = malloc(maxe * sizeof(*f.e));
        f.from = malloc(maxe * sizeof(*f.from));
        f.start = calloc(nv + 1, sizeof(*f.start));
        f.adj = malloc(maxe * sizeof(*f.adj));
        deg = calloc(nv + 1, sizeof(*deg));
        prev = malloc(nv * sizeof(*prev));
        queue = malloc(nv * sizeof(*queue));
        seen = malloc(nv * sizeof(*seen));
        if (!f.e || !f.from || !f.start || !f.adj || !deg || !prev || !queue || !seen)
                goto out;

#define ADD_EDGE(a, b, c) do { \
                f.e[ne] = (Edge) { .to = (b), .cap = (c) }; f.from[ne++] = (a); \
                f.e[ne] = (Edge) { .to = (a), .cap = 0 }; f.from[ne++] = (b); \
        } while (0)
        for (size_t i = 0; i < ng; i++) {
                ADD_EDGE(s, i, gs->g[i].need);
                need += gs->g[i].need;
                for (size_t j = 0; j < nn; j++)
                        if (hpvm_cpuset_test(&gs->g[i].nodes, h->nodes[j].id))
                                ADD_EDGE(i, ng + j, FLOW_INF);
        }
        for (size_t j = 0; j < nn; j++)
                ADD_EDGE(ng + j, t, cap[j]);
#undef ADD_EDGE
        f.ne = ne;
        /* Counting sort of edges by tail vertex into the adjacency array. */
        for (size_t k = 0; k < ne; k++)
                deg[f.from[k] + 1]++;
        for (size_t v = 0; v < nv; v++)
                f.start[v + 1] = f.start[v] + deg[v + 1];
        memcpy(deg, f.start, (nv + 1) * sizeof(*deg));
        for (size_t k = 0; k < ne; k++)
                f.adj[deg[f.from[k]]++] = k;

        while (got < need && flow_bfs(&f, s, t, prev, seen, queue)) {
                uint64_t push = FLOW_INF;

                for (size_t v = t; v != s; v = f.from[prev[v]])
                        if (f.e[prev[v]].cap < push)
                                push = f.e[prev[v]].cap;
                for (size_t v = t; v != s; v = f.from[prev[v]]) {
                        f.e[prev[v]].cap -= push;
                        if (f.e[prev[v] ^ 1].cap <= FLOW_INF - push)
                                f.e[prev[v] ^ 1].cap += push;
                }
                got += push;
        }
        *ret_short = need - got;
        hpvm_cpuset_zero(ret_cut_groups);
        hpvm_cpuset_zero(ret_cut_nodes);
        if (got < need) {
                /* What the source still reaches is the side of the cut that cannot be served. */
                flow_bfs(&f, s, t, prev, seen, queue);
                for (size_t i = 0; i < ng; i++)
                        if (seen[i])
                                hpvm_cpuset_set(ret_cut_groups, (unsigned)i);
                for (size_t j = 0; j < nn; j++)
                        if (seen[ng + j])
                                hpvm_cpuset_set(ret_cut_nodes, (unsigned)j);
        }
        r = 0;
out:
        flow_free(&f);
        free(deg);
        free(prev);
        free(queue);
        free(seen);
        return r;
}

/* ---------------------------------------------------------------- messages */

static const char *plural(uint64_t n)
{
        return n == 1 ? "" : "s";
}

/* The verb's ending after who(): "the VM needs", "guest cell 1 needs", "guest cells 0-1 need". */
static const char *verb_s(const char *who_s)
{
        return strncmp(who_s, "guest cells", 11) ? "s" : "";
}

/* "the VM" / "guest cell 1" / "guest cells 0-1,3" for the groups in @which. */
static void who(const Groups *gs, const HpvmCpuSet *which, size_t ncells, char *buf, size_t size)
{
        char list[HPVM_CPUSET_STRMAX];
        HpvmCpuSet cells;
        bool whole = false;

        hpvm_cpuset_zero(&cells);
        for (int i = hpvm_cpuset_next(which, 0); i >= 0; i = hpvm_cpuset_next(which, (unsigned)i + 1)) {
                whole |= gs->g[i].whole_vm;
                hpvm_cpuset_or(&cells, &gs->g[i].cells);
        }
        if (whole || hpvm_cpuset_count(&cells) == ncells) {
                snprintf(buf, size, "the VM");
                return;
        }
        hpvm_cpuset_format(&cells, list, sizeof(list));
        snprintf(buf, size, "guest cell%s %s", hpvm_cpuset_count(&cells) == 1 ? "" : "s", list);
}

/* The node ids behind node indices @idx, as a list. */
static unsigned node_list(const HpvmHost *h, const HpvmCpuSet *idx, char *buf, size_t size)
{
        HpvmCpuSet ids;

        hpvm_cpuset_zero(&ids);
        for (int j = hpvm_cpuset_next(idx, 0); j >= 0; j = hpvm_cpuset_next(idx, (unsigned)j + 1))
                hpvm_cpuset_set(&ids, h->nodes[j].id);
        hpvm_cpuset_format(&ids, buf, size);
        return hpvm_cpuset_count(&ids);
}

static int check_resource(const Groups *all, bool pages, const HpvmVmReq *r, const HpvmHost *h, const HpvmUsage *u,
                          const char *prop, HpvmError *err)
{
        char who_s[HPVM_CPUSET_STRMAX + 32], nodes_s[HPVM_CPUSET_STRMAX], ps[32], kb1[32], kb2[32];
        _cleanup_free_ uint64_t *cap = NULL;
        Groups gs = { 0 };
        HpvmCpuSet cut_g, cut_n;
        uint64_t shortfall, need = 0, have = 0;
        HpvmNumaMode mode = (HpvmNumaMode)-1;
        unsigned nnodes;
        bool host_wide = false;
        int k;

        /* Only what a policy confines is checked for memory; pages are checked everywhere. */
        gs.g = malloc((all->n ? all->n : 1) * sizeof(*gs.g));
        cap = malloc((h->nnodes ? h->nnodes : 1) * sizeof(*cap));
        if (!gs.g || !cap) {
                free(gs.g);
                return hpvm_error_set(err, -ENOMEM, "out of memory");
        }
        for (size_t i = 0; i < all->n; i++)
                if (all->g[i].pages == pages && (pages || all->g[i].bound))
                        gs.g[gs.n++] = all->g[i];
        for (size_t j = 0; j < h->nnodes; j++) {
                if (pages)
                        cap[j] = hpvm_usage_free_pages(h, u, j, r->page_kib);
                else
                        cap[j] = h->nodes[j].mem_kib == HPVM_MEM_UNKNOWN ? FLOW_INF : h->nodes[j].mem_kib;
        }
        /* A group short on its own nodes is the most precise thing to name: look for one first. */
        k = 0;
        shortfall = 0;
        for (size_t i = 0; i < gs.n && !shortfall; i++) {
                uint64_t sum = 0;

                for (size_t j = 0; j < h->nnodes; j++)
                        if (hpvm_cpuset_test(&gs.g[i].nodes, h->nodes[j].id))
                                sum = cap[j] > FLOW_INF - sum ? FLOW_INF : sum + cap[j];
                if (gs.g[i].need <= sum)
                        continue;
                shortfall = gs.g[i].need - sum;
                hpvm_cpuset_zero(&cut_g);
                hpvm_cpuset_set(&cut_g, (unsigned)i);
                hpvm_cpuset_zero(&cut_n);
                for (size_t j = 0; j < h->nnodes; j++)
                        if (hpvm_cpuset_test(&gs.g[i].nodes, h->nodes[j].id))
                                hpvm_cpuset_set(&cut_n, (unsigned)j);
        }
        if (!shortfall && gs.n)
                k = route(&gs, h, cap, &shortfall, &cut_g, &cut_n);
        if (k < 0 || !gs.n || shortfall == 0) {
                free(gs.g);
                return k < 0 ? hpvm_error_set(err, k, "out of memory") : 0;
        }
        for (int i = hpvm_cpuset_next(&cut_g, 0); i >= 0; i = hpvm_cpuset_next(&cut_g, (unsigned)i + 1)) {
                need += gs.g[i].need;
                host_wide |= !gs.g[i].bound;
                if (mode == (HpvmNumaMode)-1 || mode == gs.g[i].mode)
                        mode = gs.g[i].mode;
        }
        for (int j = hpvm_cpuset_next(&cut_n, 0); j >= 0; j = hpvm_cpuset_next(&cut_n, (unsigned)j + 1))
                have += cap[j];
        who(&gs, &cut_g, r->ncells, who_s, sizeof(who_s));
        nnodes = node_list(h, &cut_n, nodes_s, sizeof(nodes_s));
        free(gs.g);
        if (pages) {
                hpvm_format_kib(r->page_kib, ps, sizeof(ps));
                if (host_wide)
                        return hpvm_error_set(err, -ERANGE, "%s: %s need%s %llu page%s of %s, the host has %llu free",
                                              prop, who_s, verb_s(who_s),
                                              (unsigned long long)need, plural(need), ps, (unsigned long long)have);
                return hpvm_error_set(err, -ERANGE, "%s: %s need%s %llu page%s of %s on node%s %s, which ha%s %llu free",
                                      prop, who_s, verb_s(who_s), (unsigned long long)need,
                                      plural(need), ps, nnodes == 1 ? "" : "s", nodes_s, nnodes == 1 ? "s" : "ve",
                                      (unsigned long long)have);
        }
        return hpvm_error_set(err, -ERANGE, "%s: %s binding to node%s %s offers %s of memory, %s need%s %s", prop,
                              mode == (HpvmNumaMode)-1 ? "the" : hpvm_numa_mode_name(mode), nnodes == 1 ? "" : "s", nodes_s,
                              hpvm_format_kib(have, kb1, sizeof(kb1)), who_s, verb_s(who_s),
                              hpvm_format_kib(need, kb2, sizeof(kb2)));
}

int hpvm_vmreq_check_memory(const HpvmVmReq *r, const HpvmHost *h, const HpvmUsage *u, bool check_mem,
                            bool check_pages, const char *mem_prop, const char *page_prop, HpvmError *err)
{
        Groups gs = { 0 };
        int k;

        k = build_groups(r, h, &gs);
        if (k < 0) {
                free(gs.g);
                return hpvm_error_set(err, k, "out of memory");
        }
        k = 0;
        if (check_mem)
                k = check_resource(&gs, false, r, h, u, mem_prop, err);
        if (k == 0 && check_pages && r->page_kib)
                k = check_resource(&gs, true, r, h, u, page_prop, err);
        free(gs.g);
        return k;
}

/* ---------------------------------------------------------------- other checks */

int hpvm_vmreq_check_page_size(const HpvmVmReq *r, const HpvmHost *h, const char *prop, HpvmError *err)
{
        char want[32], offered[256] = "", one[32];
        uint64_t seen[HPVM_PAGE_SIZES_MAX * 4];
        size_t nseen = 0, len = 0;

        for (size_t i = 0; i < h->nnodes; i++)
                if (hpvm_node_pages(&h->nodes[i], r->page_kib))
                        return 0;
        /* Name what the host does offer, once each, smallest first per node. */
        for (size_t i = 0; i < h->nnodes; i++)
                for (size_t j = 0; j < h->nodes[i].npools; j++) {
                        uint64_t s = h->nodes[i].pools[j].size_kib;
                        bool dup = false;

                        for (size_t k = 0; k < nseen; k++)
                                dup |= seen[k] == s;
                        if (dup || nseen == HPVM_ARRAY_SIZE(seen))
                                continue;
                        seen[nseen++] = s;
                        len += (size_t)snprintf(offered + len, sizeof(offered) - len, "%s%s", len ? ", " : "",
                                                hpvm_format_kib(s, one, sizeof(one)));
                        if (len >= sizeof(offered))
                                len = sizeof(offered) - 1;
                }
        return hpvm_error_set(err, -ERANGE, "%s: the host has no %s pages (it offers %s)", prop,
                              hpvm_format_kib(r->page_kib, want, sizeof(want)),
                              nseen ? offered : "no huge pages at all");
}

int hpvm_vmreq_check_nodes(const HpvmVmReq *r, const HpvmHost *h, const char *prop, HpvmError *err)
{
        char bad[HPVM_CPUSET_STRMAX], have[HPVM_CPUSET_STRMAX];
        HpvmCpuSet want, mem_nodes;

        hpvm_cpuset_zero(&want);
        if (r->has_numatune)
                hpvm_cpuset_or(&want, &r->numatune.nodes);
        for (size_t i = 0; i < r->ncells; i++)
                if (r->cells[i].has_memnode)
                        hpvm_cpuset_or(&want, &r->cells[i].nodes);
        hpvm_host_memory_nodes(h, &mem_nodes);
        hpvm_cpuset_andnot(&want, &mem_nodes);
        if (hpvm_cpuset_is_empty(&want))
                return 0;
        hpvm_cpuset_format(&want, bad, sizeof(bad));
        hpvm_cpuset_format(&mem_nodes, have, sizeof(have));
        return hpvm_error_set(err, -ERANGE,
                              "%s: host NUMA node %s does not exist or has no memory (nodes with memory: %s)",
                              prop, bad, have);
}

/* @cpus on online CPUs only; @who/@id name the pinned thread ("vCPU", 3), NULL for the emulator. */
static int check_online(const char *prop, const char *who_s, unsigned id, const HpvmCpuSet *cpus, const HpvmHost *h,
                        HpvmError *err)
{
        char bad[HPVM_CPUSET_STRMAX], online[HPVM_CPUSET_STRMAX];
        HpvmCpuSet off = *cpus;

        hpvm_cpuset_andnot(&off, &h->online);
        if (hpvm_cpuset_is_empty(&off))
                return 0;
        hpvm_cpuset_format(&off, bad, sizeof(bad));
        hpvm_cpuset_format(&h->online, online, sizeof(online));
        if (who_s)
                return hpvm_error_set(err, -ERANGE, "%s: %s %u: host CPU %s is not online (online CPUs: %s)",
                                      prop, who_s, id, bad, online);
        return hpvm_error_set(err, -ERANGE, "%s: host CPU %s is not online (online CPUs: %s)", prop, bad, online);
}

int hpvm_vmreq_check_online(const HpvmVmReq *r, const HpvmHost *h, unsigned what, const char *prop,
                            HpvmError *err)
{
        int k;

        for (size_t i = 0; (what & HPVM_PINS_VCPU) && i < r->vcpupin.n; i++)
                if ((k = check_online(prop, "vCPU", r->vcpupin.pins[i].id, &r->vcpupin.pins[i].cpus, h, err)) < 0)
                        return k;
        if ((what & HPVM_PINS_EMULATOR) && r->has_emulatorpin &&
            (k = check_online(prop, NULL, 0, &r->emulatorpin, h, err)) < 0)
                return k;
        for (size_t i = 0; (what & HPVM_PINS_IOTHREAD) && i < r->iothreadpin.n; i++)
                if ((k = check_online(prop, "IO thread", r->iothreadpin.pins[i].id, &r->iothreadpin.pins[i].cpus, h,
                                      err)) < 0)
                        return k;
        return 0;
}

int hpvm_vmreq_check_tsc(const HpvmVmReq *r, const HpvmHost *h, const char *prop, HpvmError *err)
{
        if (!r->invtsc)
                return 0;
        if (!h->invtsc)
                return hpvm_error_set(err, -ENODEV, "%s: the host CPU has no invariant TSC (its flags lack "
                                      "constant_tsc or nonstop_tsc), so the VM cannot require it", prop);
        if (!r->tsc_hz || r->tsc_hz == h->tsc_hz || h->tsc_scaling)
                return 0;
        if (!h->tsc_hz)
                return hpvm_error_set(err, -ERANGE, "%s: the VM runs its TSC at %llu Hz, and this host's TSC "
                                      "frequency is unknown", prop, (unsigned long long)r->tsc_hz);
        return hpvm_error_set(err, -ERANGE, "%s: the VM runs its TSC at %llu Hz, this host's runs at %llu Hz "
                              "and its CPU cannot scale TSC", prop, (unsigned long long)r->tsc_hz,
                              (unsigned long long)h->tsc_hz);
}
