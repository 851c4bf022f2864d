/* vmstart.c: before_vm_start: properties -> edits of the domain XML -> what the VM then needs -> checks against the host -> new XML. */
#include <errno.h>
#include <string.h>

#include "domreq.h"
#include "domxml.h"
#include "fit.h"
#include "ledger.h"
#include "placement.h"
#include "profile.h"
#include "props.h"
#include "topology.h"
#include "vmreq.h"
#include "vmstart.h"
#include "xml.h"

/* The order here is the order of checks, so the first bad property is the one reported. */
const char *const hpvm_vmstart_props[] = {
        "cputune", "numatune", "guestnuma", "hugepages", "invtsc", "emulatorpin", "iothreads",
        "iothreadpin", "nosharepages", "highperf", "cpupolicy", NULL,
};

typedef struct VmStart {
        const char *cputune_raw, *numatune_raw, *guestnuma_raw, *hugepages_raw, *invtsc_raw,
                   *emulatorpin_raw, *iothreads_raw, *iothreadpin_raw, *nosharepages_raw, *highperf_raw,
                   *cpupolicy_raw;
        bool cputune_auto, numatune_auto, guestnuma_auto;       /* the value is `auto`: the placement engine decides */
        HpvmCpuPolicy policy;
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

/* A property given by hand (not `auto`). */
#define MANUAL(v, prop) ((v)->prop##_raw && !(v)->prop##_auto)
#define ANY_AUTO(v) ((v)->cputune_auto || (v)->numatune_auto || (v)->guestnuma_auto)

static const char *get_prop(HpvmPropGetter get, void *opaque, const char *name)
{
        const char *v = get(name, opaque);

        return v && *v ? v : NULL;
}

static bool any_prop(const VmStart *v)
{
        return v->cputune_raw || v->numatune_raw || v->guestnuma_raw || v->hugepages_raw || v->invtsc_raw ||
               v->emulatorpin_raw || v->iothreads_raw || v->iothreadpin_raw || v->nosharepages_raw ||
               v->highperf_raw || v->cpupolicy_raw;
}

static int parse_props(VmStart *v, HpvmError *err)
{
        int r;

        v->cputune_auto = v->cputune_raw && !strcmp(v->cputune_raw, "auto");
        v->numatune_auto = v->numatune_raw && !strcmp(v->numatune_raw, "auto");
        v->guestnuma_auto = v->guestnuma_raw && !strcmp(v->guestnuma_raw, "auto");
        if (MANUAL(v, cputune) && (r = hpvm_prop_cputune_parse(v->cputune_raw, &v->cputune, err)) < 0)
                return r;
        if (MANUAL(v, numatune) && (r = hpvm_prop_numatune_parse(v->numatune_raw, &v->numatune, err)) < 0)
                return r;
        if (MANUAL(v, guestnuma) && (r = hpvm_prop_guestnuma_parse(v->guestnuma_raw, &v->guestnuma, err)) < 0)
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
        v->policy = HPVM_POLICY_DEDICATED;
        if (v->cpupolicy_raw && (r = hpvm_prop_cpupolicy_parse(v->cpupolicy_raw, &v->policy, err)) < 0)
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

static int check_guestnuma(const VmStart *v, const HpvmVmReq *req, HpvmError *err)
{
        char list[HPVM_CPUSET_STRMAX], what[48], kb1[32], kb2[32];
        HpvmCpuSet seen, all;
        uint64_t sum = 0, want = 0;

        hpvm_cpuset_zero(&seen);
        for (size_t i = 0; i < v->guestnuma.n; i++) {
                const HpvmGuestCell *c = &v->guestnuma.cells[i];
                HpvmCpuSet both = c->vcpus;

                snprintf(what, sizeof(what), "cell %zu: ", i);
                if (check_vcpus_exist("guestnuma", what, &c->vcpus, req->vcpus, err) < 0)
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
        hpvm_cpuset_set_range(&all, 0, req->vcpus - 1);
        hpvm_cpuset_andnot(&all, &seen);
        if (!hpvm_cpuset_is_empty(&all)) {
                hpvm_cpuset_format(&all, list, sizeof(list));
                return hpvm_error_set(err, -EINVAL, "guestnuma: vCPU %s is in no cell (every one of the VM's %u vCPUs needs one)",
                                      list, req->vcpus);
        }
        /* Without <memory> or cells there is no size to match: the new cells set it. */
        if (!req->mem_given && !req->ncells)
                return 0;
        want = req->mem_kib - (req->devmem_kib < req->mem_kib ? req->devmem_kib : req->mem_kib);
        if (sum != want)
                return hpvm_error_set(err, -EINVAL, "guestnuma: the cells add up to %s, the VM has %s of memory%s",
                                      hpvm_format_kib(sum, kb1, sizeof(kb1)), hpvm_format_kib(want, kb2, sizeof(kb2)),
                                      req->devmem_kib ? " (besides its memory devices)" : "");
        return 0;
}

/* Properties that contradict each other or the VM, before the host is looked at. */
static int check_vm(const VmStart *v, const HpvmDomain *d, const HpvmVmReq *req, HpvmError *err)
{
        _cleanup_free_ char *policy = NULL;
        long io = effective_iothreads(v, d);
        int r;

        if (v->highperf && (r = hpvm_profile_check(d, err)) < 0)
                return r;
        if (v->cpupolicy_raw && !ANY_AUTO(v))
                return hpvm_error_set(err, -EINVAL, "cpupolicy: it only steers automatic placement: set cputune=auto, "
                                      "numatune=auto or guestnuma=auto too, or leave cpupolicy out");
        for (size_t i = 0; i < v->cputune.n; i++) {
                HpvmCpuSet one;

                hpvm_cpuset_zero(&one);
                hpvm_cpuset_set(&one, v->cputune.pins[i].id);
                if ((r = check_vcpus_exist("cputune", "", &one, req->vcpus, err)) < 0)
                        return r;
        }
        /*
         * vdsm re-pins every vCPU of a VM whose policy is "none" to its shared pool right after
         * the start (cpumanagement.on_vm_create): pins written here would silently not last.
         */
        policy = v->cputune_raw ? hpvm_domain_cpu_policy(d) : NULL;
        if (policy && !strcmp(policy, "none"))
                return hpvm_error_set(err, -EINVAL, "cputune: the VM's CPU pinning policy is 'none', and vdsm then "
                                      "re-pins every vCPU to its shared CPU pool right after the start: set the "
                                      "policy to Manual (or Dedicated) in the engine for these pins to last");
        if (MANUAL(v, guestnuma) && (r = check_guestnuma(v, req, err)) < 0)
                return r;
        if (v->iothreadpin_raw)
                return hpvm_domain_check_iothreadpins(d, io, &v->iothreadpin, err);
        return 0;
}

/* Nodes, CPUs, memory and pages always; @parts (HPVM_HOST_*) only when a check needs them. */
static int load_host(const HpvmHostSource *src, unsigned parts, HpvmHost **ret, HpvmUsage **ret_use, HpvmError *err)
{
        int r;

        if (src && src->caps_path)
                r = hpvm_host_load_caps(src->caps_path, parts, ret, ret_use, err);
        else
                r = hpvm_host_load_sysfs(src && src->sysfs_root ? src->sysfs_root : "/", parts, ret, ret_use, err);
        if (r < 0)
                hpvm_error_prefix(err, "cannot read the host topology: ");
        return r;
}

/* Checks of the properties alone against the host, before any edit (their messages quote the properties). */
static int check_props_on_host(const VmStart *v, const HpvmHost *h, HpvmError *err)
{
        HpvmVmReq p = { .vcpupin = v->cputune, .iothreadpin = v->iothreadpin,
                        .has_emulatorpin = v->emulatorpin_raw != NULL, .emulatorpin = v->emulatorpin,
                        .has_numatune = MANUAL(v, numatune), .numatune = v->numatune, .page_kib = v->page_kib };
        int r;

        if ((MANUAL(v, cputune) && (r = hpvm_vmreq_check_online(&p, h, HPVM_PINS_VCPU, "cputune", err)) < 0) ||
            (MANUAL(v, numatune) && (r = hpvm_vmreq_check_nodes(&p, h, "numatune", err)) < 0) ||
            (v->hugepages_raw && (r = hpvm_vmreq_check_page_size(&p, h, "hugepages", err)) < 0) ||
            (v->emulatorpin_raw && (r = hpvm_vmreq_check_online(&p, h, HPVM_PINS_EMULATOR, "emulatorpin", err)) < 0) ||
            (v->iothreadpin_raw && (r = hpvm_vmreq_check_online(&p, h, HPVM_PINS_IOTHREAD, "iothreadpin", err)) < 0))
                return r;
        if (v->invtsc_raw && v->invtsc && !h->invtsc)
                return hpvm_error_set(err, -ENODEV, "invtsc: the host CPU has no invariant TSC "
                                      "(its flags lack constant_tsc or nonstop_tsc), so the VM cannot require it");
        return 0;
}

/*
 * <memoryBacking><hugepages><page size unit='KiB' [nodeset]>. libvirt's
 * nodeset names GUEST cells: with a binding numatune and guest cells, every
 * cell takes huge pages from its bound host nodes.
 */
static int set_hugepages(const VmStart *v, HpvmDomain *d, const HpvmVmReq *req, HpvmError *err)
{
        HpvmCpuSet all_cells;
        bool strict = req->has_numatune && req->numatune.mode == HPVM_NUMA_STRICT;

        hpvm_cpuset_zero(&all_cells);
        for (size_t i = 0; i < req->ncells; i++)
                hpvm_cpuset_set(&all_cells, req->cells[i].id);
        if (hpvm_domain_set_hugepages(d, v->page_kib, strict && req->ncells ? &all_cells : NULL) < 0)
                return hpvm_error_set(err, -ENOMEM, "out of memory editing the domain XML");
        return 0;
}

/* The VM's memory, and each cell's, in whole pages of the VM's size. */
static int check_whole_pages(const HpvmVmReq *req, HpvmError *err)
{
        char ps[32], kb[32];

        hpvm_format_kib(req->page_kib, ps, sizeof(ps));
        if (req->mem_kib % req->page_kib)
                return hpvm_error_set(err, -EINVAL, "hugepages: the VM's memory (%s) is not a whole number of %s pages",
                                      hpvm_format_kib(req->mem_kib, kb, sizeof(kb)), ps);
        for (size_t i = 0; i < req->ncells; i++)
                if (req->cells[i].hugepages && req->cells[i].mem_kib % req->page_kib)
                        return hpvm_error_set(err, -EINVAL,
                                              "hugepages: guest NUMA cell %u has %s of memory, not a whole number of %s pages",
                                              req->cells[i].id, hpvm_format_kib(req->cells[i].mem_kib, kb, sizeof(kb)), ps);
        return 0;
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

/*
 * invtsc and the TSC frequency. libvirt refuses to live-migrate a VM that
 * requires invtsc unless it also names its TSC frequency, so the profile
 * requires invtsc only when this host's frequency is known, and then pins
 * it; an explicit invtsc=true is obeyed and its warning says what it costs.
 */
static int set_invtsc(const VmStart *v, HpvmDomain *d, const HpvmHost *h, const HpvmVmReq *before,
                      HpvmWarnings *warn, HpvmError *err)
{
        bool want;

        if (!v->invtsc_raw && !v->highperf)
                return 0;
        want = v->invtsc_raw ? v->invtsc : h->invtsc && h->tsc_hz;
        if (v->highperf && !v->invtsc_raw && !h->invtsc)
                hpvm_warn(warn, "highperf: invtsc not required: the host CPU has no invariant TSC "
                          "(its flags lack constant_tsc or nonstop_tsc)");
        else if (v->highperf && !v->invtsc_raw && !h->tsc_hz)
                hpvm_warn(warn, "highperf: invtsc not required: this host's TSC frequency is unknown, and libvirt "
                          "refuses to live-migrate a VM that requires invtsc without one (set invtsc=true to require "
                          "it anyway)");
        if (want && !hpvm_domain_cpu_can_have_features(d))
                return hpvm_error_set(err, -EINVAL, "invtsc: the VM's <cpu> names no CPU model, and libvirt requires "
                                      "a feature only with one (or with host-passthrough: highperf=true)");
        if (hpvm_domain_set_feature(d, "invtsc", want) < 0)
                return hpvm_error_set(err, -ENOMEM, "out of memory editing the domain XML");
        if (!want)
                return 0;
        if (!before->tsc_hz && h->tsc_hz && hpvm_domain_set_tsc_frequency(d, h->tsc_hz) < 0)
                return hpvm_error_set(err, -ENOMEM, "out of memory editing the domain XML");
        if (!v->invtsc_raw)
                return 0;
        if (!before->tsc_hz && !h->tsc_hz)
                hpvm_warn(warn, "invtsc: required as asked; this host's TSC frequency is unknown, so the VM names "
                          "none, and libvirt will refuse to live-migrate it");
        else
                hpvm_warn(warn, "invtsc: required as asked; the VM runs its TSC at %llu Hz and can live-migrate only "
                          "to hosts with that TSC frequency or with TSC scaling",
                          (unsigned long long)(before->tsc_hz ? before->tsc_hz : h->tsc_hz));
        return 0;
}

/* What of the host the properties need read: nothing, the base, or the base plus CPU flags. */
static bool needs_host(const VmStart *v)
{
        return v->cputune_raw || v->numatune_raw || v->guestnuma_raw || v->hugepages_raw || v->emulatorpin_raw ||
               v->iothreadpin_raw || v->invtsc_raw || v->highperf;
}

/* Pins this run writes, so the VM holds those CPUs in the ledger. */
static bool writes_pins(const VmStart *v)
{
        return v->cputune_raw || v->emulatorpin_raw || v->iothreadpin_raw;
}

/* The ledger side of a run: held under its lock from before the placement until after the record. */
typedef struct Ledger {
        HpvmLedger *l;          /* NULL: no configuration, nothing recorded */
        char vm[HPVM_STATE_TOKEN_MAX + 1];
        bool has_entry;         /* the VM was recorded before: a second run on it */
        bool held_known;        /* held was worked out on the way (placement, or the pins typed) */
        HpvmCpuSet held;
} Ledger;

/* The property whose `auto` a placement failure is about. */
static const char *auto_prop(const VmStart *v)
{
        return v->cputune_auto ? "cputune=auto" : v->guestnuma_auto ? "guestnuma=auto" : "numatune=auto";
}

/*
 * The `auto` values: place the VM around the CPUs the host keeps and other
 * VMs hold, then write what was asked. A VM that holds pins already (a
 * second run, or hand pins with numatune=auto) keeps them where they are
 * valid and free.
 */
static int place(const VmStart *v, HpvmDomain *d, const HpvmHost *host, const HpvmUsage *use, const HpvmConfig *cfg,
                 Ledger *lg, HpvmWarnings *warn, HpvmError *err)
{
        _cleanup_vmreq_ HpvmVmReq req = { 0 };
        _cleanup_usage_ HpvmUsage *u = NULL;
        _cleanup_placement_ HpvmPlacement *p = NULL;
        _cleanup_free_ HpvmGuestCell *cells = NULL;
        HpvmFitOpts o = { .policy = v->policy, .make_cells = v->guestnuma_auto };
        HpvmPlaceRequest q;
        unsigned what = 0;
        long io;
        int r;

        if ((r = hpvm_domain_get_req(d, &req, err)) < 0)
                return r;
        if (v->hugepages_raw)
                req.page_kib = v->page_kib;
        u = hpvm_usage_copy(use);
        if (!u)
                return hpvm_error_set(err, -ENOMEM, "out of memory");
        if (cfg && cfg->reserved_cpus_given)
                hpvm_cpuset_or(&u->reserved, &cfg->reserved_cpus);
        else
                hpvm_usage_reserve_default(host, u);
        if (lg->l && (r = hpvm_ledger_apply(lg->l, host, u, lg->vm, err)) < 0)
                return r;
        io = hpvm_domain_iothreads(d);
        o.emulator = v->cputune_auto && !v->emulatorpin_raw;
        o.iothreads = v->cputune_auto && !v->iothreadpin_raw && io > 0 ? (unsigned)io : 0;
        /* Pins the VM has: typed by hand now, or written by an earlier run on it. */
        if (MANUAL(v, cputune))
                o.keep = &v->cputune;
        else if (lg->has_entry || !v->cputune_auto)
                o.keep = &req.vcpupin;
        if ((r = hpvm_fit_request(&req, &o, &q, &cells, err)) < 0)
                return hpvm_error_prefix(err, "%s: ", auto_prop(v));
        r = hpvm_place(host, u, &q, &p, err);
        if (r < 0)
                return hpvm_error_prefix(err, "%s: ", auto_prop(v));
        if (v->guestnuma_auto)
                what |= HPVM_FIT_CELLS;
        if (v->cputune_auto)
                what |= HPVM_FIT_VCPUPIN | (o.emulator ? HPVM_FIT_EMULATORPIN : 0) |
                        (o.iothreads ? HPVM_FIT_IOTHREADPIN : 0);
        if (v->numatune_auto)
                what |= HPVM_FIT_NUMATUNE | HPVM_FIT_STRICT;
        if ((r = hpvm_fit_apply(d, p, what, warn, err)) < 0)
                return r;
        if (v->cputune_auto) {
                /* Every CPU the engine gave the VM: vCPUs, held siblings, its emulator/IO CPU. */
                lg->held = p->held;
                lg->held_known = true;
        }
        if (v->cputune_auto && p->helpers_shared && (o.emulator || o.iothreads))
                hpvm_warn(warn, "cputune=auto: no free host CPU is left on node %u for the emulator and IO threads: "
                          "they share the vCPUs' CPUs", p->ncells ? p->cell_node[0] : 0);
        return 0;
}

/*
 * Record the CPUs the VM now holds: its pinned vCPUs, and with cputune=auto
 * the emulator and IO thread CPUs and isolate's idle siblings the engine gave
 * it (a set typed by hand for the emulator or IO threads is usually the
 * host's shared housekeeping CPUs, which no VM holds alone). Hand pins on
 * CPUs another VM holds are a warning.
 */
static int record(const VmStart *v, const HpvmDomain *d, const HpvmHost *host, const Ledger *lg, time_t now,
                  HpvmWarnings *warn, HpvmError *err)
{
        _cleanup_usage_ HpvmUsage *others = NULL;
        HpvmLedgerEntry e = { .since = now };
        HpvmCpuSet clash;
        char list[HPVM_CPUSET_STRMAX];
        xmlNode *name = hpvm_xml_child(d->root, "name");
        _cleanup_xmlchar_ xmlChar *text = name ? xmlNodeGetContent(name) : NULL;
        int r;

        snprintf(e.vm, sizeof(e.vm), "%s", lg->vm);
        snprintf(e.name, sizeof(e.name), "%s", text ? (const char *)text : "");
        /* cputune (typed or placed) tells what the VM holds; else the vCPU pins it already has. */
        if (lg->held_known)
                e.cpus = lg->held;
        else
                hpvm_domain_get_pinned(d, "vcpupin", &e.cpus);
        others = hpvm_usage_new(host);
        if (!others)
                return hpvm_error_set(err, -ENOMEM, "out of memory");
        if ((r = hpvm_ledger_apply(lg->l, host, others, lg->vm, err)) < 0)
                return r;
        clash = e.cpus;
        hpvm_cpuset_and(&clash, &others->taken);
        if (!hpvm_cpuset_is_empty(&clash)) {
                hpvm_cpuset_format(&clash, list, sizeof(list));
                hpvm_warn(warn, "cputune: host CPU %s is also held by another VM (see %s)", list,
                          hpvm_ledger_path(lg->l));
        }
        if ((r = hpvm_ledger_put(lg->l, &e, err)) < 0)
                return r;
        return hpvm_ledger_commit(lg->l, err);
}

static int apply(const VmStart *v, HpvmDomain *d, const HpvmHost *host, const HpvmUsage *use,
                 const HpvmVmReq *before, const HpvmConfig *cfg, Ledger *lg, HpvmWarnings *warn,
                 HpvmError *err)
{
        _cleanup_vmreq_ HpvmVmReq after = { 0 };
        int r;

        /* Cells first: they prune memnodes the numatune edit must not see. */
        if (MANUAL(v, guestnuma) && (r = hpvm_domain_set_guest_numa(d, &v->guestnuma, warn, err)) < 0)
                return r;
        if (MANUAL(v, numatune) && (r = hpvm_domain_set_numatune(d, &v->numatune, err)) < 0)
                return r;
        if (v->highperf && hpvm_profile_apply(d, v->iothreads_raw != NULL) < 0)
                goto nomem;
        if ((r = set_invtsc(v, d, host, before, warn, err)) < 0)
                return r;
        if (v->iothreads_raw && (r = hpvm_domain_set_iothreads(d, v->iothreads, warn, err)) < 0)
                return r;
        if ((MANUAL(v, cputune) && hpvm_domain_set_vcpupins(d, &v->cputune) < 0) ||
            (v->emulatorpin_raw && hpvm_domain_set_emulatorpin(d, &v->emulatorpin) < 0) ||
            (v->iothreadpin_raw && hpvm_domain_set_iothreadpins(d, &v->iothreadpin) < 0) ||
            (v->nosharepages_raw && hpvm_domain_set_nosharepages(d, v->nosharepages) < 0))
                goto nomem;
        if (MANUAL(v, cputune)) {
                /* What the VM holds is what was typed: no need to read it back from the document. */
                hpvm_cpuset_zero(&lg->held);
                for (size_t i = 0; i < v->cputune.n; i++)
                        hpvm_cpuset_or(&lg->held, &v->cputune.pins[i].cpus);
                lg->held_known = true;
        }
        if (ANY_AUTO(v) && (r = place(v, d, host, use, cfg, lg, warn, err)) < 0)
                return r;
        if (v->hugepages_raw) {
                /* The nodeset follows the cells and binding as edited above. */
                if ((r = hpvm_domain_get_req_parts(d, HPVM_REQ_NO_PINS, &after, err)) < 0 ||
                    (r = set_hugepages(v, d, &after, err)) < 0)
                        return r;
                hpvm_vmreq_clear(&after);
        }

        /* What the VM now needs, checked where a property of ours decided it (no check reads pins). */
        if ((r = hpvm_domain_get_req_parts(d, HPVM_REQ_NO_PINS, &after, err)) < 0)
                return r;
        if (v->hugepages_raw && (r = check_whole_pages(&after, err)) < 0)
                return r;
        if ((v->numatune_raw || v->guestnuma_raw || v->hugepages_raw) &&
            (r = hpvm_vmreq_check_memory(&after, host, use, v->numatune_raw || v->guestnuma_raw,
                                         v->hugepages_raw != NULL, "numatune", "hugepages", err)) < 0)
                return r;
        if ((v->invtsc_raw || v->highperf) && (r = hpvm_vmreq_check_tsc(&after, host, "invtsc", err)) < 0)
                return r;
        if (v->emulatorpin_raw)
                warn_overlap(d, "emulatorpin", "emulatorpin", warn);
        if (v->iothreadpin_raw)
                warn_overlap(d, "iothreadpin", "iothreadpin", warn);
        if (v->highperf)
                hpvm_profile_suggest(d, warn);
        return 0;
nomem:
        return hpvm_error_set(err, -ENOMEM, "out of memory editing the domain XML");
}

/* The VM's key in the ledger: vdsm's vmId, else the domain's uuid; false when neither is usable. */
static bool vm_key(const HpvmVmStartCtx *ctx, const HpvmDomain *d, char *buf, size_t size)
{
        xmlNode *uuid = hpvm_xml_child(d->root, "uuid");
        _cleanup_xmlchar_ xmlChar *text = NULL;

        if (ctx->vm_id && *ctx->vm_id) {
                snprintf(buf, size, "%s", ctx->vm_id);
                return hpvm_state_token_valid(buf);
        }
        text = uuid ? xmlNodeGetContent(uuid) : NULL;
        if (!text)
                return false;
        snprintf(buf, size, "%s", (const char *)text);
        return hpvm_state_token_valid(buf);
}

int hpvm_vmstart_rewrite(const char *in, size_t len, HpvmPropGetter get, void *opaque,
                         const HpvmHostSource *src, char **ret_out, size_t *ret_len,
                         HpvmWarnings *warn, HpvmError *err)
{
        HpvmVmStartCtx ctx = { .get = get, .opaque = opaque };

        if (src)
                ctx.host = *src;
        return hpvm_vmstart_rewrite_ctx(&ctx, in, len, ret_out, ret_len, warn, err);
}

int hpvm_vmstart_rewrite_ctx(const HpvmVmStartCtx *ctx, const char *in, size_t len, char **ret_out,
                             size_t *ret_len, HpvmWarnings *warn, HpvmError *err)
{
        _cleanup_vmreq_ HpvmVmReq before = { 0 };
        _cleanup_domain_ HpvmDomain *d = NULL;
        _cleanup_host_ HpvmHost *host = NULL;
        _cleanup_usage_ HpvmUsage *use = NULL;
        _cleanup_free_ char *out = NULL;
        HpvmHostSource src = ctx->host;
        const HpvmConfig *cfg = ctx->config;
        Ledger lg = { 0 };
        size_t out_len = 0;
        VmStart v = { 0 };
        unsigned parts = 0;
        bool changed;
        int r;

        v.cputune_raw = get_prop(ctx->get, ctx->opaque, "cputune");
        v.numatune_raw = get_prop(ctx->get, ctx->opaque, "numatune");
        v.guestnuma_raw = get_prop(ctx->get, ctx->opaque, "guestnuma");
        v.hugepages_raw = get_prop(ctx->get, ctx->opaque, "hugepages");
        v.invtsc_raw = get_prop(ctx->get, ctx->opaque, "invtsc");
        v.emulatorpin_raw = get_prop(ctx->get, ctx->opaque, "emulatorpin");
        v.iothreads_raw = get_prop(ctx->get, ctx->opaque, "iothreads");
        v.iothreadpin_raw = get_prop(ctx->get, ctx->opaque, "iothreadpin");
        v.nosharepages_raw = get_prop(ctx->get, ctx->opaque, "nosharepages");
        v.highperf_raw = get_prop(ctx->get, ctx->opaque, "highperf");
        v.cpupolicy_raw = get_prop(ctx->get, ctx->opaque, "cpupolicy");
        if (!any_prop(&v)) {
                *ret_out = NULL;
                *ret_len = 0;
                return 0;
        }
        if (!src.caps_path && !src.sysfs_root && cfg)
                src.sysfs_root = cfg->sysfs_root;

        r = hpvm_domain_parse(in, len, &d, err);
        if (r < 0)
                return r;
        if ((r = parse_props(&v, err)) < 0 || (r = hpvm_domain_get_req_parts(d, HPVM_REQ_NO_PINS, &before, err)) < 0 ||
            (r = check_vm(&v, d, &before, err)) < 0)
                goto out;
        /* The ledger's lock is held from before the host is read until the VM's CPUs are recorded. */
        if (cfg && (ANY_AUTO(&v) || writes_pins(&v))) {
                if (!vm_key(ctx, d, lg.vm, sizeof(lg.vm))) {
                        if (ANY_AUTO(&v)) {
                                r = hpvm_error_set(err, -EINVAL, "%s: the VM has no id ($vmId) nor <uuid> to hold "
                                                   "CPUs in the ledger by", auto_prop(&v));
                                goto out;
                        }
                } else if ((r = hpvm_ledger_open(cfg, &lg.l, err)) < 0 ||
                           (r = hpvm_ledger_reclaim(lg.l, ctx->now, cfg->ledger_grace,
                                                    src.sysfs_root ? src.sysfs_root : "/", warn, err)) < 0) {
                        goto out;
                } else {
                        HpvmLedgerEntry e = { 0 };

                        lg.has_entry = hpvm_ledger_get(lg.l, lg.vm, &e, NULL) == 0;
                        hpvm_ledger_entry_clear(&e);
                }
        }
        /* Only what is checked against the host pays for reading it. */
        if (needs_host(&v)) {
                if ((v.invtsc_raw && v.invtsc) || v.highperf)
                        parts |= HPVM_HOST_CPU_FLAGS;
                if (ANY_AUTO(&v))
                        parts |= HPVM_HOST_CPU_TOPOLOGY | HPVM_HOST_DISTANCES;
                r = load_host(&src, parts, &host, &use, err);
                if (r < 0 || (r = check_props_on_host(&v, host, err)) < 0)
                        goto out;
        }
        /* Edits, in memory: nothing is written unless every later check passes too. Edits that find
         * the document already as they would make it touch no node: then the file is left alone. */
        hpvm_domain_track_begin();
        r = apply(&v, d, host, use, &before, cfg, &lg, warn, err);
        changed = hpvm_domain_track_end();
        if (r < 0 || (changed && (r = hpvm_domain_format(d, &out, &out_len, err)) < 0))
                goto out;
        if (lg.l && writes_pins(&v) && !ctx->dry_run && (r = record(&v, d, host, &lg, ctx->now, warn, err)) < 0)
                goto out;
        if (!changed || (out_len == len && !memcmp(out, in, len))) {
                *ret_out = NULL;
                *ret_len = 0;
        } else {
                *ret_out = out;
                *ret_len = out_len;
                out = NULL;
        }
out:
        hpvm_ledger_close(lg.l);
        vmstart_clear(&v);
        return r;
}
