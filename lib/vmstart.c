/* vmstart.c: before_vm_start: parse every property, check it against the VM and the host, then edit the domain XML. */
#include <errno.h>
#include <string.h>

#include "domxml.h"
#include "profile.h"
#include "props.h"
#include "topology.h"
#include "vmstart.h"

/* The order here is the order of checks, so the first bad property is the one reported. */
const char *const hpvm_vmstart_props[] = {
        "cputune", "numatune", "guestnuma", "hugepages", "invtsc", "emulatorpin", "iothreads",
        "iothreadpin", "nosharepages", "highperf", NULL,
};

typedef struct VmStart {
        const char *cputune_raw, *numatune_raw, *guestnuma_raw, *hugepages_raw, *invtsc_raw,
                   *emulatorpin_raw, *iothreads_raw, *iothreadpin_raw, *nosharepages_raw, *highperf_raw;
        HpvmPinList cputune;
        HpvmNumaTune numatune;
        HpvmGuestNuma guestnuma;
        uint64_t page_kib;
        bool invtsc;
        HpvmCpuSet emulatorpin;
        unsigned iothreads;
        HpvmPinList iothreadpin;
        bool nosharepages;
        bool highperf;
} VmStart;

static void vmstart_clear(VmStart *v)
{
        hpvm_pinlist_clear(&v->cputune);
        hpvm_pinlist_clear(&v->iothreadpin);
        hpvm_guestnuma_clear(&v->guestnuma);
}

static const char *get_prop(HpvmPropGetter get, void *opaque, const char *name)
{
        const char *v = get(name, opaque);

        return v && *v ? v : NULL;
}

static bool any_prop(const VmStart *v)
{
        return v->cputune_raw || v->numatune_raw || v->guestnuma_raw || v->hugepages_raw || v->invtsc_raw ||
               v->emulatorpin_raw || v->iothreads_raw || v->iothreadpin_raw || v->nosharepages_raw ||
               v->highperf_raw;
}

static int parse_props(VmStart *v, HpvmError *err)
{
        int r;

        if (v->cputune_raw && (r = hpvm_prop_cputune_parse(v->cputune_raw, &v->cputune, err)) < 0)
                return r;
        if (v->numatune_raw && (r = hpvm_prop_numatune_parse(v->numatune_raw, &v->numatune, err)) < 0)
                return r;
        if (v->guestnuma_raw && (r = hpvm_prop_guestnuma_parse(v->guestnuma_raw, &v->guestnuma, err)) < 0)
                return r;
        if (v->hugepages_raw && (r = hpvm_prop_pagesize_parse("hugepages", v->hugepages_raw, &v->page_kib, err)) < 0)
                return r;
        if (v->invtsc_raw && (r = hpvm_prop_bool_parse("invtsc", v->invtsc_raw, &v->invtsc, err)) < 0)
                return r;
        if (v->emulatorpin_raw &&
            (r = hpvm_prop_cpuset_parse("emulatorpin", v->emulatorpin_raw, &v->emulatorpin, err)) < 0)
                return r;
        if (v->iothreads_raw && (r = hpvm_prop_count_parse("iothreads", v->iothreads_raw, 1, HPVM_IOTHREADS_MAX,
                                                           &v->iothreads, err)) < 0)
                return r;
        if (v->iothreadpin_raw &&
            (r = hpvm_prop_pinlist_parse("iothreadpin", v->iothreadpin_raw, 1, HPVM_IOTHREADS_MAX, "IO thread",
                                         &v->iothreadpin, err)) < 0)
                return r;
        if (v->nosharepages_raw &&
            (r = hpvm_prop_bool_parse("nosharepages", v->nosharepages_raw, &v->nosharepages, err)) < 0)
                return r;
        if (v->highperf_raw && (r = hpvm_prop_bool_parse("highperf", v->highperf_raw, &v->highperf, err)) < 0)
                return r;
        return 0;
}

/* IO threads the VM will have: the property, else the XML, else the profile's one. */
static long effective_iothreads(const VmStart *v, const HpvmDomain *d)
{
        long xml = hpvm_domain_iothreads(d);

        if (v->iothreads_raw)
                return v->iothreads;
        if (xml != 0)
                return xml;
        return v->highperf ? 1 : 0;
}

/* Properties that contradict each other or the VM, before the host is looked at. */
static int check_vm(const VmStart *v, const HpvmDomain *d, HpvmError *err)
{
        long io = effective_iothreads(v, d);
        int r;

        if (v->highperf && (r = hpvm_profile_check(d, err)) < 0)
                return r;
        if (v->iothreadpin_raw)
                return hpvm_domain_check_iothreadpins(d, io, &v->iothreadpin, err);
        return 0;
}

/* Nodes, CPUs, memory and pages always; @parts (HPVM_HOST_*) only when a check needs them. */
static int load_host(const HpvmHostSource *src, unsigned parts, HpvmHost **ret, HpvmError *err)
{
        int r;

        if (src && src->caps_path)
                r = hpvm_host_load_caps_parts(src->caps_path, parts, ret, err);
        else
                r = hpvm_host_load_sysfs_parts(src && src->sysfs_root ? src->sysfs_root : "/", parts, ret, err);
        if (r < 0)
                hpvm_error_prefix(err, "cannot read the host topology: ");
        return r;
}

/* "the VM has 8 vCPUs: 0-7" */
static const char *vcpu_range(unsigned vcpus, char *buf, size_t size)
{
        if (vcpus == 1)
                snprintf(buf, size, "the VM has 1 vCPU: 0");
        else
                snprintf(buf, size, "the VM has %u vCPUs: 0-%u", vcpus, vcpus - 1);
        return buf;
}

/* Pins and guest cells may only name vCPUs the VM has. */
static int check_vcpus_exist(const char *prop, const char *what, const HpvmCpuSet *set,
                             unsigned vcpus, HpvmError *err)
{
        char list[HPVM_CPUSET_STRMAX], range[64];
        HpvmCpuSet extra = *set;
        HpvmCpuSet all;

        hpvm_cpuset_zero(&all);
        hpvm_cpuset_set_range(&all, 0, vcpus - 1);
        hpvm_cpuset_andnot(&extra, &all);
        if (hpvm_cpuset_is_empty(&extra))
                return 0;
        hpvm_cpuset_format(&extra, list, sizeof(list));
        return hpvm_error_set(err, -ERANGE, "%s: %svCPU %s does not exist (%s)", prop, what, list,
                              vcpu_range(vcpus, range, sizeof(range)));
}

/* Pins (cputune, iothreadpin: @who and @id name the pinned thread) or a lone cpuset (emulatorpin) on online CPUs only. */
static int check_online(const char *prop, const char *who, unsigned id, const HpvmCpuSet *cpus,
                        const HpvmHost *h, HpvmError *err)
{
        char bad[HPVM_CPUSET_STRMAX], online[HPVM_CPUSET_STRMAX];
        HpvmCpuSet off = *cpus;

        hpvm_cpuset_andnot(&off, &h->online);
        if (hpvm_cpuset_is_empty(&off))
                return 0;
        hpvm_cpuset_format(&off, bad, sizeof(bad));
        hpvm_cpuset_format(&h->online, online, sizeof(online));
        if (who)
                return hpvm_error_set(err, -ERANGE, "%s: %s %u: host CPU %s is not online (online CPUs: %s)",
                                      prop, who, id, bad, online);
        return hpvm_error_set(err, -ERANGE, "%s: host CPU %s is not online (online CPUs: %s)", prop, bad, online);
}

static int check_cputune(const VmStart *v, const HpvmDomain *d, const HpvmHost *h, HpvmError *err)
{
        for (size_t i = 0; i < v->cputune.n; i++) {
                const HpvmPin *p = &v->cputune.pins[i];
                HpvmCpuSet one;
                int r;

                hpvm_cpuset_zero(&one);
                hpvm_cpuset_set(&one, p->id);
                if ((r = check_vcpus_exist("cputune", "", &one, d->vcpus, err)) < 0 ||
                    (r = check_online("cputune", "vCPU", p->id, &p->cpus, h, err)) < 0)
                        return r;
        }
        return 0;
}

static int check_numatune(const VmStart *v, const HpvmDomain *d, const HpvmHost *h, HpvmError *err)
{
        char bad[HPVM_CPUSET_STRMAX], have[HPVM_CPUSET_STRMAX], kb1[32], kb2[32];
        HpvmCpuSet mem_nodes, missing = v->numatune.nodes;
        uint64_t avail, need = d->mem_kib;

        hpvm_host_memory_nodes(h, &mem_nodes);
        hpvm_cpuset_andnot(&missing, &mem_nodes);
        if (!hpvm_cpuset_is_empty(&missing)) {
                hpvm_cpuset_format(&missing, bad, sizeof(bad));
                hpvm_cpuset_format(&mem_nodes, have, sizeof(have));
                return hpvm_error_set(err, -ERANGE,
                                      "numatune: host NUMA node %s does not exist or has no memory (nodes with memory: %s)",
                                      bad, have);
        }
        if (v->numatune.mode != HPVM_NUMA_STRICT && v->numatune.mode != HPVM_NUMA_RESTRICTIVE)
                return 0;
        avail = hpvm_host_nodes_mem_kib(h, &v->numatune.nodes);
        if (need <= avail)
                return 0;
        hpvm_cpuset_format(&v->numatune.nodes, have, sizeof(have));
        return hpvm_error_set(err, -ERANGE, "numatune: %s binding to node %s offers %s of memory, the VM needs %s",
                              hpvm_numa_mode_name(v->numatune.mode), have,
                              hpvm_format_kib(avail, kb1, sizeof(kb1)), hpvm_format_kib(need, kb2, sizeof(kb2)));
}

/* "2 MiB" */
static const char *page_name(uint64_t kib, char *buf, size_t size)
{
        return hpvm_format_kib(kib, buf, size);
}

static bool host_has_pages(const HpvmHost *h, uint64_t size_kib)
{
        for (size_t i = 0; i < h->nnodes; i++)
                if (hpvm_node_pages(&h->nodes[i], size_kib))
                        return true;
        return false;
}

static uint64_t free_pages(const HpvmHost *h, const HpvmCpuSet *nodes, uint64_t size_kib)
{
        uint64_t sum = 0;

        for (size_t i = 0; i < h->nnodes; i++) {
                const HpvmPagePool *p = hpvm_node_pages(&h->nodes[i], size_kib);

                if (p && (!nodes || hpvm_cpuset_test(nodes, h->nodes[i].id)))
                        sum += p->free;
        }
        return sum;
}

static int check_page_sizes(const VmStart *v, const HpvmHost *h, HpvmError *err)
{
        char want[32], offered[256] = "", one[32];
        uint64_t seen[HPVM_PAGE_SIZES_MAX * 4];
        size_t nseen = 0, len = 0;

        if (host_has_pages(h, v->page_kib))
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
                                                page_name(s, one, sizeof(one)));
                        if (len >= sizeof(offered))
                                len = sizeof(offered) - 1;
                }
        return hpvm_error_set(err, -ERANGE, "hugepages: the host has no %s pages (it offers %s)",
                              page_name(v->page_kib, want, sizeof(want)), nseen ? offered : "no huge pages at all");
}

/* @need pages of @size_kib must be free on @nodes (NULL: anywhere on the host). */
static int check_free_on(const HpvmHost *h, const HpvmCpuSet *nodes, uint64_t need, uint64_t size_kib,
                         HpvmError *err)
{
        char ps[32], list[HPVM_CPUSET_STRMAX];
        uint64_t have = free_pages(h, nodes, size_kib);
        bool one;

        if (need <= have)
                return 0;
        page_name(size_kib, ps, sizeof(ps));
        if (!nodes)
                return hpvm_error_set(err, -ERANGE, "hugepages: the VM needs %llu pages of %s, the host has %llu free",
                                      (unsigned long long)need, ps, (unsigned long long)have);
        one = hpvm_cpuset_count(nodes) == 1;
        hpvm_cpuset_format(nodes, list, sizeof(list));
        return hpvm_error_set(err, -ERANGE, "hugepages: the VM needs %llu pages of %s on %s %s, %s %llu free",
                              (unsigned long long)need, ps, one ? "node" : "nodes", list,
                              one ? "which has" : "which have", (unsigned long long)have);
}

/*
 * <memoryBacking><hugepages>, then enough free pages where libvirt will take
 * them: with a strict or restrictive binding, a guest cell with a memnode on
 * that memnode's nodes, the other cells (or the whole VM) on the memory
 * nodeset; otherwise anywhere on the host.
 */
static int set_hugepages(const VmStart *v, HpvmDomain *d, const HpvmHost *h, HpvmError *err)
{
        _cleanup_free_ uint64_t *cells = NULL;
        uint64_t size = v->page_kib, shared;
        HpvmCpuSet all_cells, target;
        char ps[32], kb[32];
        size_t ncells = 0;
        HpvmNumaTune nt;
        bool bound;
        int r;

        if (hpvm_domain_get_cells(d, &cells, &ncells) < 0)
                ncells = 0;
        bound = hpvm_domain_get_numatune(d, &nt) &&
                (nt.mode == HPVM_NUMA_STRICT || nt.mode == HPVM_NUMA_RESTRICTIVE);
        /* <page nodeset> names GUEST cells: with a strict binding, every cell takes huge pages. */
        hpvm_cpuset_zero(&all_cells);
        if (ncells)
                hpvm_cpuset_set_range(&all_cells, 0, (unsigned)ncells - 1);
        if (hpvm_domain_set_hugepages(d, size, bound && nt.mode == HPVM_NUMA_STRICT && ncells ? &all_cells : NULL) < 0)
                return hpvm_error_set(err, -ENOMEM, "out of memory editing the domain XML");

        page_name(size, ps, sizeof(ps));
        if (d->mem_kib % size)
                return hpvm_error_set(err, -EINVAL, "hugepages: the VM's memory (%s) is not a whole number of %s pages",
                                      hpvm_format_kib(d->mem_kib, kb, sizeof(kb)), ps);
        for (size_t i = 0; i < ncells; i++)
                if (cells[i] % size)
                        return hpvm_error_set(err, -EINVAL,
                                              "hugepages: guest NUMA cell %zu has %s of memory, not a whole number of %s pages",
                                              i, hpvm_format_kib(cells[i], kb, sizeof(kb)), ps);
        if (!bound)
                return check_free_on(h, NULL, d->mem_kib / size, size, err);

        shared = ncells ? 0 : d->mem_kib / size;
        for (size_t i = 0; i < ncells; i++) {
                if (!hpvm_domain_get_memnode(d, (unsigned)i, &target))
                        shared += cells[i] / size;
                else if ((r = check_free_on(h, &target, cells[i] / size, size, err)) < 0)
                        return r;
        }
        return shared ? check_free_on(h, &nt.nodes, shared, size, err) : 0;
}

/* Emulator and IO threads sharing a CPU with a pinned vCPU steal its time: say so, do not refuse. */
static void warn_overlap(const HpvmDomain *d, const char *prop, const char *elem, HpvmWarnings *warn)
{
        char list[HPVM_CPUSET_STRMAX];
        HpvmCpuSet vcpus, other;

        hpvm_domain_get_pinned(d, "vcpupin", &vcpus);
        hpvm_domain_get_pinned(d, elem, &other);
        hpvm_cpuset_and(&other, &vcpus);
        if (hpvm_cpuset_is_empty(&other))
                return;
        hpvm_cpuset_format(&other, list, sizeof(list));
        hpvm_warn(warn, "%s: host CPU %s also runs pinned vCPUs: they will compete for it", prop, list);
}

static int check_guestnuma(const VmStart *v, const HpvmDomain *d, HpvmError *err)
{
        char list[HPVM_CPUSET_STRMAX], what[48], kb1[32], kb2[32];
        HpvmCpuSet seen, all;
        uint64_t sum = 0, want = d->mem_kib - (d->devmem_kib < d->mem_kib ? d->devmem_kib : d->mem_kib);

        hpvm_cpuset_zero(&seen);
        for (size_t i = 0; i < v->guestnuma.n; i++) {
                const HpvmGuestCell *c = &v->guestnuma.cells[i];
                HpvmCpuSet both = c->vcpus;

                snprintf(what, sizeof(what), "cell %zu: ", i);
                if (check_vcpus_exist("guestnuma", what, &c->vcpus, d->vcpus, err) < 0)
                        return err->code;
                hpvm_cpuset_and(&both, &seen);
                if (!hpvm_cpuset_is_empty(&both)) {
                        hpvm_cpuset_format(&both, list, sizeof(list));
                        return hpvm_error_set(err, -EINVAL, "guestnuma: vCPU %s is in cell %zu and in an earlier cell "
                                              "(cells must not share vCPUs)", list, i);
                }
                hpvm_cpuset_or(&seen, &c->vcpus);
                sum += c->mem_kib;      /* cannot wrap: at most 2048 cells of at most 2^42 KiB */
        }
        hpvm_cpuset_zero(&all);
        hpvm_cpuset_set_range(&all, 0, d->vcpus - 1);
        hpvm_cpuset_andnot(&all, &seen);
        if (!hpvm_cpuset_is_empty(&all)) {
                hpvm_cpuset_format(&all, list, sizeof(list));
                return hpvm_error_set(err, -EINVAL, "guestnuma: vCPU %s is in no cell (every one of the VM's %u vCPUs needs one)",
                                      list, d->vcpus);
        }
        if (sum != want)
                return hpvm_error_set(err, -EINVAL, "guestnuma: the cells add up to %s, the VM has %s of memory%s",
                                      hpvm_format_kib(sum, kb1, sizeof(kb1)), hpvm_format_kib(want, kb2, sizeof(kb2)),
                                      d->devmem_kib ? " (besides its memory devices)" : "");
        return 0;
}

int hpvm_vmstart_rewrite(const char *in, size_t len, HpvmPropGetter get, void *opaque,
                         const HpvmHostSource *src, char **ret_out, size_t *ret_len,
                         HpvmWarnings *warn, HpvmError *err)
{
        _cleanup_domain_ HpvmDomain *d = NULL;
        _cleanup_host_ HpvmHost *host = NULL;
        VmStart v = { 0 };
        bool want_invtsc;
        int r;

        v.cputune_raw = get_prop(get, opaque, "cputune");
        v.numatune_raw = get_prop(get, opaque, "numatune");
        v.guestnuma_raw = get_prop(get, opaque, "guestnuma");
        v.hugepages_raw = get_prop(get, opaque, "hugepages");
        v.invtsc_raw = get_prop(get, opaque, "invtsc");
        v.emulatorpin_raw = get_prop(get, opaque, "emulatorpin");
        v.iothreads_raw = get_prop(get, opaque, "iothreads");
        v.iothreadpin_raw = get_prop(get, opaque, "iothreadpin");
        v.nosharepages_raw = get_prop(get, opaque, "nosharepages");
        v.highperf_raw = get_prop(get, opaque, "highperf");
        if (!any_prop(&v)) {
                *ret_out = NULL;
                *ret_len = 0;
                return 0;
        }

        r = hpvm_domain_parse(in, len, &d, err);
        if (r < 0)
                return r;
        r = parse_props(&v, err);
        if (r < 0)
                goto out;
        r = check_vm(&v, d, err);
        if (r < 0)
                goto out;
        /* Only what is checked against the host pays for reading it. */
        if (v.cputune_raw || v.numatune_raw || v.hugepages_raw || v.emulatorpin_raw || v.iothreadpin_raw ||
            (v.invtsc_raw && v.invtsc) || v.highperf) {
                bool flags = (v.invtsc_raw && v.invtsc) || v.highperf;

                r = load_host(src, flags ? HPVM_HOST_CPU_FLAGS : 0, &host, err);
                if (r < 0)
                        goto out;
        }
        if ((v.cputune_raw && (r = check_cputune(&v, d, host, err)) < 0) ||
            (v.numatune_raw && (r = check_numatune(&v, d, host, err)) < 0) ||
            (v.guestnuma_raw && (r = check_guestnuma(&v, d, err)) < 0) ||
            (v.hugepages_raw && (r = check_page_sizes(&v, host, err)) < 0) ||
            (v.emulatorpin_raw && (r = check_online("emulatorpin", NULL, 0, &v.emulatorpin, host, err)) < 0))
                goto out;
        for (size_t i = 0; i < v.iothreadpin.n; i++)
                if ((r = check_online("iothreadpin", "IO thread", v.iothreadpin.pins[i].id,
                                      &v.iothreadpin.pins[i].cpus, host, err)) < 0)
                        goto out;
        if (v.invtsc_raw && v.invtsc && !host->invtsc) {
                r = hpvm_error_set(err, -ENODEV, "invtsc: the host CPU has no invariant TSC "
                                   "(its flags lack constant_tsc or nonstop_tsc), so the VM cannot require it");
                goto out;
        }

        /* Edits, in memory: nothing is written unless every later check passes too.
         * Cells first: they prune memnodes the numatune check must not see. */
        if (v.guestnuma_raw && (r = hpvm_domain_set_guest_numa(d, &v.guestnuma, warn, err)) < 0)
                goto out;
        if (v.numatune_raw && (r = hpvm_domain_set_numatune(d, &v.numatune, err)) < 0)
                goto out;
        if (v.highperf && hpvm_profile_apply(d, v.iothreads_raw != NULL) < 0)
                goto nomem;
        want_invtsc = v.invtsc_raw ? v.invtsc : v.highperf && host->invtsc;
        if (v.highperf && !v.invtsc_raw && !host->invtsc)
                hpvm_warn(warn, "highperf: invtsc not required: the host CPU has no invariant TSC "
                          "(its flags lack constant_tsc or nonstop_tsc)");
        if (want_invtsc && !hpvm_domain_cpu_can_have_features(d)) {
                r = hpvm_error_set(err, -EINVAL, "invtsc: the VM's <cpu> names no CPU model, and libvirt requires "
                                   "a feature only with one (or with host-passthrough: highperf=true)");
                goto out;
        }
        if (v.iothreads_raw && (r = hpvm_domain_set_iothreads(d, v.iothreads, warn, err)) < 0)
                goto out;
        if ((v.cputune_raw && hpvm_domain_set_vcpupins(d, &v.cputune) < 0) ||
            (v.emulatorpin_raw && hpvm_domain_set_emulatorpin(d, &v.emulatorpin) < 0) ||
            (v.iothreadpin_raw && hpvm_domain_set_iothreadpins(d, &v.iothreadpin) < 0) ||
            (v.nosharepages_raw && hpvm_domain_set_nosharepages(d, v.nosharepages) < 0) ||
            ((v.invtsc_raw || v.highperf) && hpvm_domain_set_feature(d, "invtsc", want_invtsc) < 0))
                goto nomem;
        if (v.hugepages_raw && (r = set_hugepages(&v, d, host, err)) < 0)
                goto out;
        if (v.emulatorpin_raw)
                warn_overlap(d, "emulatorpin", "emulatorpin", warn);
        if (v.iothreadpin_raw)
                warn_overlap(d, "iothreadpin", "iothreadpin", warn);
        if (v.highperf)
                hpvm_profile_suggest(d, warn);
        r = hpvm_domain_format(d, ret_out, ret_len, err);
        goto out;
nomem:
        r = hpvm_error_set(err, -ENOMEM, "out of memory editing the domain XML");
out:
        vmstart_clear(&v);
        return r;
}
