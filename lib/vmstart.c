/* vmstart.c: before_vm_start: parse every property, check it against the VM and the host, then edit the domain XML. */
#include <errno.h>
#include <string.h>

#include "domxml.h"
#include "props.h"
#include "topology.h"
#include "vmstart.h"

const char *const hpvm_vmstart_props[] = { "cputune", "numatune", "guestnuma", NULL };

typedef struct VmStart {
        const char *cputune_raw, *numatune_raw, *guestnuma_raw;
        HpvmPinList cputune;
        HpvmNumaTune numatune;
        HpvmGuestNuma guestnuma;
} VmStart;

static void vmstart_clear(VmStart *v)
{
        hpvm_pinlist_clear(&v->cputune);
        hpvm_guestnuma_clear(&v->guestnuma);
}

static const char *get_prop(HpvmPropGetter get, void *opaque, const char *name)
{
        const char *v = get(name, opaque);

        return v && *v ? v : NULL;
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
        return 0;
}

static int load_host(const HpvmHostSource *src, HpvmHost **ret, HpvmError *err)
{
        int r;

        if (src && src->caps_path)
                r = hpvm_host_load_caps(src->caps_path, ret, err);
        else
                r = hpvm_host_load_sysfs(src && src->sysfs_root ? src->sysfs_root : "/", ret, err);
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

static int check_cputune(const VmStart *v, const HpvmDomain *d, const HpvmHost *h, HpvmError *err)
{
        char bad[HPVM_CPUSET_STRMAX], online[HPVM_CPUSET_STRMAX];

        for (size_t i = 0; i < v->cputune.n; i++) {
                const HpvmPin *p = &v->cputune.pins[i];
                HpvmCpuSet off = p->cpus;
                HpvmCpuSet one;

                hpvm_cpuset_zero(&one);
                hpvm_cpuset_set(&one, p->id);
                if (check_vcpus_exist("cputune", "", &one, d->vcpus, err) < 0)
                        return err->code;
                hpvm_cpuset_andnot(&off, &h->online);
                if (hpvm_cpuset_is_empty(&off))
                        continue;
                hpvm_cpuset_format(&off, bad, sizeof(bad));
                hpvm_cpuset_format(&h->online, online, sizeof(online));
                return hpvm_error_set(err, -ERANGE, "cputune: vCPU %u: host CPU %s is not online (online CPUs: %s)",
                                      p->id, bad, online);
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
        int r;

        v.cputune_raw = get_prop(get, opaque, "cputune");
        v.numatune_raw = get_prop(get, opaque, "numatune");
        v.guestnuma_raw = get_prop(get, opaque, "guestnuma");
        if (!v.cputune_raw && !v.numatune_raw && !v.guestnuma_raw) {
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
        /* Only what is checked against the host pays for reading it. */
        if (v.cputune_raw || v.numatune_raw) {
                r = load_host(src, &host, err);
                if (r < 0)
                        goto out;
        }
        if ((v.cputune_raw && (r = check_cputune(&v, d, host, err)) < 0) ||
            (v.numatune_raw && (r = check_numatune(&v, d, host, err)) < 0) ||
            (v.guestnuma_raw && (r = check_guestnuma(&v, d, err)) < 0))
                goto out;

        /* Cells first: they prune memnodes the numatune check must not see. */
        if (v.guestnuma_raw && hpvm_domain_set_guest_numa(d, &v.guestnuma, warn) < 0) {
                r = hpvm_error_set(err, -ENOMEM, "out of memory editing the domain XML");
                goto out;
        }
        if (v.numatune_raw && (r = hpvm_domain_set_numatune(d, &v.numatune, err)) < 0)
                goto out;
        if (v.cputune_raw && hpvm_domain_set_vcpupins(d, &v.cputune) < 0) {
                r = hpvm_error_set(err, -ENOMEM, "out of memory editing the domain XML");
                goto out;
        }
        r = hpvm_domain_format(d, ret_out, ret_len, err);
out:
        vmstart_clear(&v);
        return r;
}
