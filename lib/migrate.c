/* migrate.c: live migration of pinned and NUMA-tuned VMs: destination check, re-fit of the incoming XML, the ledger on both sides. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "domreq.h"
#include "domxml.h"
#include "fit.h"
#include "ledger.h"
#include "migrate.h"
#include "placement.h"
#include "procscan.h"
#include "props.h"
#include "topology.h"
#include "vmreq.h"
#include "xml.h"

#define OVIRT_VM_NS "http://ovirt.org/vm/1.0"
#define REFIT_OFF "migration_refit=false"

const char *const hpvm_migrate_props[] = { "cpupolicy", "migration_refit", NULL };

enum { KIND_NONE, KIND_NUMA, KIND_PINNED };

/* The VM as its domain XML describes it. */
typedef struct Vm {
        HpvmDomain *d;
        HpvmVmReq req;
        char key[HPVM_STATE_TOKEN_MAX + 1];     /* its ledger id; "" when it has none */
        char name[256];                         /* <name>, for the ledger file */
        char qname[HPVM_QUOTE_MAX];             /* the same, quoted, for messages */
        bool vcpupin, emulatorpin, iothreadpin, numatune, memnode;
        long iothreads;
        HpvmCpuPolicy policy;
        bool refit;
} Vm;

static void vm_clear(Vm *v)
{
        hpvm_domain_free(v->d);
        hpvm_vmreq_clear(&v->req);
        memset(v, 0, sizeof(*v));
}
#define _cleanup_vm_ __attribute__((cleanup(vm_clear)))

static int vm_kind(const Vm *v)
{
        if (v->vcpupin)
                return KIND_PINNED;
        if (v->numatune || v->memnode || v->emulatorpin || v->iothreadpin)
                return KIND_NUMA;
        return KIND_NONE;
}

static const char *fmt_set(const HpvmCpuSet *s, char *buf, size_t size)
{
        if (hpvm_cpuset_format(s, buf, size) < 0)
                snprintf(buf, size, "(too many to list)");
        return buf;
}

/* "node 1" / "nodes 0-1" */
static const char *fmt_nodes(const HpvmCpuSet *s, char *buf, size_t size)
{
        char list[512];

        snprintf(buf, size, "%s %s", hpvm_cpuset_count(s) == 1 ? "node" : "nodes", fmt_set(s, list, sizeof(list)));
        return buf;
}

static void text_of(const xmlNode *n, char *buf, size_t size)
{
        _cleanup_xmlchar_ xmlChar *t = n ? xmlNodeGetContent(n) : NULL;

        snprintf(buf, size, "%s", t ? (const char *)t : "");
}

/* The ledger key: vdsm's vmId, else the domain's uuid (lower case, as libvirt and vdsm write it). */
static void vm_set_key(const HpvmMigrateCtx *ctx, Vm *v)
{
        char buf[HPVM_STATE_TOKEN_MAX + 2];

        v->key[0] = '\0';
        if (ctx->vm_id && *ctx->vm_id)
                snprintf(buf, sizeof(buf), "%s", ctx->vm_id);
        else
                text_of(hpvm_xml_child(v->d->root, "uuid"), buf, sizeof(buf));
        if (!hpvm_state_token_valid(buf))
                return;
        if (hpvm_uuid_valid(buf, strlen(buf)))
                for (char *p = buf; *p; p++)
                        *p = (char)tolower((unsigned char)*p);
        snprintf(v->key, sizeof(v->key), "%s", buf);
}

static int vm_load(const HpvmMigrateCtx *ctx, const char *xml, size_t len, Vm *v, HpvmError *err)
{
        int r;

        memset(v, 0, sizeof(*v));
        if ((r = hpvm_domain_parse(xml, len, &v->d, err)) < 0 || (r = hpvm_domain_get_req(v->d, &v->req, err)) < 0)
                return r;
        text_of(hpvm_xml_child(v->d->root, "name"), v->name, sizeof(v->name));
        hpvm_quote(v->name, strlen(v->name), v->qname, sizeof(v->qname));
        vm_set_key(ctx, v);
        v->vcpupin = v->req.vcpupin.n > 0;
        v->emulatorpin = v->req.has_emulatorpin;
        v->iothreadpin = v->req.iothreadpin.n > 0;
        v->numatune = v->req.has_numatune;
        for (size_t i = 0; i < v->req.ncells; i++)
                v->memnode |= v->req.cells[i].has_memnode;
        v->iothreads = hpvm_domain_iothreads(v->d);
        return 0;
}

static int need_key(const Vm *v, HpvmError *err)
{
        if (v->key[0])
                return 0;
        return hpvm_error_set(err, -EINVAL, "VM %s has no id ($vmId) nor <uuid> to hold its host CPUs under", v->qname);
}

/* ---------------------------------------------------------------- properties */

/* <metadata><ovirt-vm:vm><ovirt-vm:custom><ovirt-vm:@name>: the VM's custom property as vdsm keeps it. */
static xmlChar *metadata_prop(const HpvmDomain *d, const char *name)
{
        xmlNode *md = hpvm_xml_child(d->root, "metadata");

        for (xmlNode *vm = md ? md->children : NULL; vm; vm = vm->next) {
                if (vm->type != XML_ELEMENT_NODE || !vm->ns || !xmlStrEqual(vm->ns->href, BAD_CAST OVIRT_VM_NS) ||
                    !xmlStrEqual(vm->name, BAD_CAST "vm"))
                        continue;
                for (xmlNode *c = vm->children; c; c = c->next) {
                        if (c->type != XML_ELEMENT_NODE || !c->ns || !xmlStrEqual(c->ns->href, BAD_CAST OVIRT_VM_NS) ||
                            !xmlStrEqual(c->name, BAD_CAST "custom"))
                                continue;
                        for (xmlNode *p = c->children; p; p = p->next)
                                if (p->type == XML_ELEMENT_NODE && p->ns &&
                                    xmlStrEqual(p->ns->href, BAD_CAST OVIRT_VM_NS) && xmlStrEqual(p->name, BAD_CAST name))
                                        return xmlNodeGetContent(p);
                }
        }
        return NULL;
}

static int vm_props(const HpvmMigrateCtx *ctx, Vm *v, HpvmError *err)
{
        const char *pol = ctx->get ? ctx->get("cpupolicy", ctx->opaque) : NULL;
        const char *refit = ctx->get ? ctx->get("migration_refit", ctx->opaque) : NULL;
        _cleanup_xmlchar_ xmlChar *mpol = NULL, *mrefit = NULL;
        _cleanup_free_ char *ovirt = NULL;
        int r;

        if (!pol || !*pol)
                pol = (const char *)(mpol = metadata_prop(v->d, "cpupolicy"));
        if (!refit || !*refit)
                refit = (const char *)(mrefit = metadata_prop(v->d, "migration_refit"));
        v->policy = HPVM_POLICY_DEDICATED;
        v->refit = true;
        if (pol && *pol && (r = hpvm_prop_cpupolicy_parse(pol, &v->policy, err)) < 0)
                return r;
        if (refit && *refit && (r = hpvm_prop_bool_parse("migration_refit", refit, &v->refit, err)) < 0)
                return r;
        if (pol && *pol)
                return 0;
        /* No property: oVirt's own policy, which the source host placed the VM by. */
        ovirt = hpvm_domain_cpu_policy(v->d);
        if (ovirt && !strcmp(ovirt, "isolate-threads"))
                v->policy = HPVM_POLICY_ISOLATE;
        else if (ovirt && !strcmp(ovirt, "siblings"))
                v->policy = HPVM_POLICY_SIBLINGS;
        return 0;
}

/* ---------------------------------------------------------------- the host and its usage */

static const char *sysfs_root(const HpvmMigrateCtx *ctx)
{
        if (ctx->host.sysfs_root)
                return ctx->host.sysfs_root;
        return ctx->config->sysfs_root ? ctx->config->sysfs_root : "/";
}

/* Where QEMU processes are looked for: the tree's proc/ (a caps file describes no processes: the live /proc). */
static const char *proc_root(const HpvmMigrateCtx *ctx)
{
        return ctx->host.caps_path ? "/" : sysfs_root(ctx);
}

static int load_host(const HpvmMigrateCtx *ctx, unsigned parts, HpvmHost **ret, HpvmUsage **ret_use,
                     HpvmError *err)
{
        int r;

        if (ctx->host.caps_path)
                r = hpvm_host_load_caps(ctx->host.caps_path, parts, ret, ret_use, err);
        else
                r = hpvm_host_load_sysfs(sysfs_root(ctx), parts, ret, ret_use, err);
        if (r < 0)
                hpvm_error_prefix(err, "cannot read the host topology: ");
        return r;
}

/* Free memory and pages from the kernel, CPUs kept for the host, and what every OTHER ledger entry holds. */
static int build_usage(const HpvmMigrateCtx *ctx, const HpvmHost *h, const HpvmUsage *base, const HpvmLedger *l,
                       const char *key, HpvmUsage **ret, HpvmError *err)
{
        _cleanup_usage_ HpvmUsage *u = hpvm_usage_copy(base);
        int r;

        if (!u)
                return hpvm_error_set(err, -ENOMEM, "out of memory");
        if (ctx->config->reserved_cpus_given)
                hpvm_cpuset_or(&u->reserved, &ctx->config->reserved_cpus);
        else
                hpvm_usage_reserve_default(h, u);
        if ((r = hpvm_ledger_apply(l, h, u, key, err)) < 0)
                return r;
        *ret = u;
        u = NULL;
        return 0;
}

static int open_ledger(const HpvmMigrateCtx *ctx, bool reclaim, HpvmLedger **ret, HpvmWarnings *warn, HpvmError *err)
{
        HpvmLedger *l = NULL;
        int r;

        if ((r = hpvm_ledger_open(ctx->config, &l, err)) < 0)
                return r;
        if (reclaim && (r = hpvm_ledger_reclaim(l, ctx->now, ctx->config->ledger_grace, proc_root(ctx), warn, err)) < 0) {
                hpvm_ledger_close(l);
                return r;
        }
        *ret = l;
        return 0;
}

/* The ids of the host nodes holding CPUs of @cpus. */
static void nodes_of(const HpvmHost *h, const HpvmCpuSet *cpus, HpvmCpuSet *ret)
{
        hpvm_cpuset_zero(ret);
        for (size_t i = 0; i < h->nnodes; i++)
                if (hpvm_cpuset_intersects(&h->nodes[i].cpus, cpus))
                        hpvm_cpuset_set(ret, h->nodes[i].id);
}

/* Every online thread sharing a core with a CPU of @cpus (the CPUs themselves included). */
static void sibling_closure(const HpvmHost *h, const HpvmCpuSet *cpus, HpvmCpuSet *ret)
{
        hpvm_cpuset_zero(ret);
        for (int c = hpvm_cpuset_next(cpus, 0); c >= 0; c = hpvm_cpuset_next(cpus, (unsigned)c + 1)) {
                HpvmCpuSet sib;

                hpvm_host_siblings(h, (unsigned)c, &sib);
                hpvm_cpuset_or(ret, &sib);
                hpvm_cpuset_set(ret, (unsigned)c);
        }
}

static void vcpu_cpus(const HpvmLedgerEntry *e, HpvmCpuSet *ret)
{
        hpvm_cpuset_zero(ret);
        for (unsigned v = 0; v < e->nvcpus; v++)
                hpvm_cpuset_set(ret, e->vcpu_cpu[v]);
}

static void cell_nodes(const HpvmLedgerEntry *e, HpvmCpuSet *ret)
{
        hpvm_cpuset_zero(ret);
        for (size_t j = 0; j < e->ncells; j++)
                hpvm_cpuset_set(ret, e->cell_node[j]);
}

/* The VM's entry: 0, -ENOENT (none), or the ledger's error (a damaged record) in @err. */
static int get_entry(const HpvmLedger *l, const char *key, HpvmLedgerEntry *e, HpvmError *err)
{
        HpvmError mine = { 0 };
        int r = hpvm_ledger_get(l, key, e, &mine);

        /* An optional field the record lacks leaves words in the message: only a failure's count. */
        if (r < 0 && r != -ENOENT && err)
                *err = mine;
        return r;
}

/* ---------------------------------------------------------------- the entry a placement makes */

static int add_node_use(HpvmLedgerEntry *e, unsigned node, uint64_t pages, uint64_t mem_kib)
{
        size_t i;

        for (i = 0; i < e->nnode_use && e->node_use[i].node != node; i++)
                ;
        if (i == e->nnode_use) {
                void *grown = realloc(e->node_use, (e->nnode_use + 1) * sizeof(*e->node_use));

                if (!grown)
                        return -ENOMEM;
                e->node_use = grown;
                e->node_use[i].node = node;
                e->node_use[i].pages = e->node_use[i].mem_kib = 0;
                e->nnode_use++;
        }
        e->node_use[i].pages += pages;
        e->node_use[i].mem_kib += mem_kib;
        return 0;
}

static int cell_use(HpvmLedgerEntry *e, unsigned node, uint64_t mem_kib, uint64_t page_kib, bool paged)
{
        if (paged && page_kib)
                return add_node_use(e, node, (mem_kib + page_kib - 1) / page_kib, 0);
        return add_node_use(e, node, 0, mem_kib);
}

static bool set_within(const HpvmCpuSet *s, const HpvmCpuSet *allowed, const HpvmCpuSet *forbidden)
{
        HpvmCpuSet out = *s;

        if (hpvm_cpuset_is_empty(s) || !hpvm_cpuset_is_subset(s, allowed))
                return false;
        hpvm_cpuset_and(&out, forbidden);
        return hpvm_cpuset_is_empty(&out);
}

/* The online CPUs of @nodes a floating thread may use: not kept for the host (all of them if that leaves none). */
static void float_cpus(const HpvmHost *h, const HpvmUsage *u, const HpvmCpuSet *nodes, HpvmCpuSet *ret)
{
        HpvmCpuSet all;

        hpvm_cpuset_zero(&all);
        for (size_t i = 0; i < h->nnodes; i++)
                if (hpvm_cpuset_test(nodes, h->nodes[i].id))
                        hpvm_cpuset_or(&all, &h->nodes[i].cpus);
        hpvm_cpuset_and(&all, &h->online);
        *ret = all;
        hpvm_cpuset_andnot(ret, &u->reserved);
        if (hpvm_cpuset_is_empty(ret))
                *ret = all;
}

/*
 * Emulator and IO-thread pins. A pinned VM: the source's own when every vCPU
 * pin was kept and they are free here and apart from the VM's vCPUs (and
 * idle siblings), else the engine's. A NUMA-tuned VM holds no CPU: its own
 * when online here, else floating over its nodes' CPUs.
 */
static void helpers(const Vm *v, const HpvmHost *h, const HpvmUsage *u, const HpvmPlacement *p, bool pinned,
                    HpvmLedgerEntry *e)
{
        HpvmCpuSet vcpus, engine, forbidden, free, iot_union, engine_sib;
        bool emu_kept = false, io_kept = false, all_kept = pinned && p->nkept == v->req.vcpus;

        vcpu_cpus(e, &vcpus);
        engine = p->emulator;
        hpvm_cpuset_or(&engine, &p->iothreads);
        hpvm_usage_free_cpus(h, u, &free);
        sibling_closure(h, &engine, &engine_sib);
        forbidden = p->held;
        hpvm_cpuset_andnot(&forbidden, &engine_sib);
        hpvm_cpuset_or(&forbidden, &vcpus);
        hpvm_cpuset_zero(&iot_union);
        for (size_t i = 0; i < v->req.iothreadpin.n; i++)
                hpvm_cpuset_or(&iot_union, &v->req.iothreadpin.pins[i].cpus);

        if (v->emulatorpin) {
                e->has_emulator = true;
                if (pinned) {
                        emu_kept = all_kept && set_within(&v->req.emulatorpin, &free, &forbidden);
                        e->emulator = emu_kept ? v->req.emulatorpin : p->emulator;
                } else if (hpvm_cpuset_is_subset(&v->req.emulatorpin, &h->online)) {
                        e->emulator = v->req.emulatorpin;
                } else {
                        float_cpus(h, u, &p->nodes, &e->emulator);
                }
        }
        if (v->iothreadpin) {
                e->has_iothreads = true;
                if (pinned) {
                        io_kept = all_kept;
                        for (size_t i = 0; io_kept && i < v->req.iothreadpin.n; i++)
                                io_kept = set_within(&v->req.iothreadpin.pins[i].cpus, &free, &forbidden);
                        e->iothreads = io_kept ? iot_union : p->iothreads;
                } else if (hpvm_cpuset_is_subset(&iot_union, &h->online)) {
                        e->iothreads = iot_union;
                } else {
                        float_cpus(h, u, &p->nodes, &e->iothreads);
                }
        }
        /* No set to give (an <iothreadpin> with no <iothreads>: libvirt refuses that VM anyway): left alone. */
        if (e->has_emulator && hpvm_cpuset_is_empty(&e->emulator))
                e->has_emulator = false;
        if (e->has_iothreads && hpvm_cpuset_is_empty(&e->iothreads))
                e->has_iothreads = false;
        if (!pinned)
                return;
        /* Helpers on their own CPUs: the engine's CPU (and idle siblings) go when no helper uses them any more. */
        if ((emu_kept || !v->emulatorpin) && (io_kept || !v->iothreadpin) && !p->helpers_shared &&
            !hpvm_cpuset_is_empty(&engine)) {
                HpvmCpuSet drop = engine_sib;

                hpvm_cpuset_and(&drop, &p->held);
                hpvm_cpuset_andnot(&drop, &vcpus);
                hpvm_cpuset_andnot(&e->cpus, &drop);
        }
        if (emu_kept)
                hpvm_cpuset_or(&e->cpus, &e->emulator);
        if (io_kept)
                hpvm_cpuset_or(&e->cpus, &e->iothreads);
}

/* A placement into the entry the VM would hold here (not yet its name, state or times). */
static int entry_from_placement(const Vm *v, const HpvmHost *h, const HpvmUsage *u, const HpvmPlacement *p,
                                HpvmLedgerEntry *e)
{
        bool pinned = vm_kind(v) == KIND_PINNED;

        memset(e, 0, sizeof(*e));
        if (pinned) {
                e->nvcpus = p->nvcpus;
                e->vcpu_cpu = malloc((p->nvcpus ? p->nvcpus : 1) * sizeof(*e->vcpu_cpu));
                if (!e->vcpu_cpu)
                        return -ENOMEM;
                memcpy(e->vcpu_cpu, p->vcpu_cpu, p->nvcpus * sizeof(*e->vcpu_cpu));
                e->cpus = p->held;
        }
        e->ncells = p->ncells;
        e->cell_node = malloc((p->ncells ? p->ncells : 1) * sizeof(*e->cell_node));
        if (!e->cell_node)
                return -ENOMEM;
        memcpy(e->cell_node, p->cell_node, p->ncells * sizeof(*e->cell_node));
        e->page_kib = v->req.page_kib;
        for (size_t j = 0; j < p->ncells; j++) {
                bool given = v->req.ncells > 0;
                uint64_t mem = given ? v->req.cells[j].mem_kib : p->cells[j].mem_kib;
                bool paged = !given || v->req.cells[j].hugepages;

                if (cell_use(e, p->cell_node[j], mem, v->req.page_kib, paged) < 0)
                        return -ENOMEM;
        }
        helpers(v, h, u, p, pinned, e);
        return 0;
}

/* ---------------------------------------------------------------- messages */

static const char *cpu_reason(const HpvmHost *h, const HpvmUsage *u, unsigned cpu)
{
        if (!hpvm_cpuset_test(&h->online, cpu))
                return "this host does not have it";
        if (hpvm_cpuset_test(&u->reserved, cpu))
                return "it is kept for the host";
        if (hpvm_cpuset_test(&u->taken, cpu))
                return "another VM holds it";
        return "the VM's guest cells fit this host only elsewhere";
}

/* Single-CPU vCPU pins of the source that do not stay: a warning naming them, their CPUs and (with @u) why. */
static void warn_hand_pins(const Vm *v, const HpvmHost *h, const HpvmUsage *u, const HpvmLedgerEntry *e,
                           HpvmWarnings *warn)
{
        char l1[HPVM_CPUSET_STRMAX], l2[HPVM_CPUSET_STRMAX], l3[HPVM_CPUSET_STRMAX], why[128] = "";
        HpvmCpuSet moved, old, now;
        int first_cpu = -1;

        hpvm_cpuset_zero(&moved);
        hpvm_cpuset_zero(&old);
        hpvm_cpuset_zero(&now);
        for (size_t i = 0; i < v->req.vcpupin.n; i++) {
                const HpvmPin *pin = &v->req.vcpupin.pins[i];
                int cpu = hpvm_cpuset_next(&pin->cpus, 0);

                if (hpvm_cpuset_count(&pin->cpus) != 1 || pin->id >= e->nvcpus || e->vcpu_cpu[pin->id] == (unsigned)cpu)
                        continue;
                hpvm_cpuset_set(&moved, pin->id);
                hpvm_cpuset_set(&old, (unsigned)cpu);
                hpvm_cpuset_set(&now, e->vcpu_cpu[pin->id]);
                if (first_cpu < 0)
                        first_cpu = cpu;
        }
        if (first_cpu < 0)
                return;
        if (u)
                snprintf(why, sizeof(why), " (host CPU %d: %s)", first_cpu, cpu_reason(h, u, (unsigned)first_cpu));
        hpvm_warn(warn, "vCPU %s pinned by hand to host CPU %s cannot keep %s here%s: re-fitted to host CPU %s",
                  fmt_set(&moved, l1, sizeof(l1)), fmt_set(&old, l2, sizeof(l2)),
                  hpvm_cpuset_count(&moved) == 1 ? "its pin" : "their pins", why, fmt_set(&now, l3, sizeof(l3)));
}

static void note_reserved(const Vm *v, const HpvmHost *h, const HpvmLedgerEntry *e, const HpvmConfig *c,
                          const char *how, HpvmWarnings *notes)
{
        char cpus[HPVM_CPUSET_STRMAX], nodes[600];
        HpvmCpuSet ns;

        cell_nodes(e, &ns);
        if (hpvm_cpuset_is_empty(&ns))
                nodes_of(h, &e->cpus, &ns);
        if (!hpvm_cpuset_is_empty(&e->cpus))
                hpvm_warn(notes, "this host can run VM %s%s: reserved host CPUs %s on %s until it arrives "
                          "(at most %llu s)", v->qname, how, fmt_set(&e->cpus, cpus, sizeof(cpus)),
                          fmt_nodes(&ns, nodes, sizeof(nodes)), (unsigned long long)c->migration_reservation_timeout);
        else
                hpvm_warn(notes, "this host can run VM %s%s: its memory goes to %s, reserved until it arrives "
                          "(at most %llu s); it holds no host CPU", v->qname, how, fmt_nodes(&ns, nodes, sizeof(nodes)),
                          (unsigned long long)c->migration_reservation_timeout);
}

/* ---------------------------------------------------------------- placing */

static unsigned host_parts(const Vm *v)
{
        return HPVM_HOST_CPU_CORES | HPVM_HOST_DISTANCES | (v->req.invtsc ? HPVM_HOST_CPU_FLAGS : 0);
}

/* What the host offers besides CPUs and nodes: TSC, page size. */
static int check_host_features(const Vm *v, const HpvmHost *h, HpvmError *err)
{
        int r;

        if (v->req.invtsc && (r = hpvm_vmreq_check_tsc(&v->req, h, "invtsc", err)) < 0)
                return r;
        if (v->req.page_kib && (r = hpvm_vmreq_check_page_size(&v->req, h, "hugepages", err)) < 0)
                return r;
        return 0;
}

/*
 * The one host node the source binds the memory of guest cell @c to (NULL:
 * the VM without cells), or -1: its own binding <memnode>, else, without a
 * <memnode>, a binding <numatune><memory>; several nodes leave it to the
 * kernel.
 */
static int bound_node(const Vm *v, const HpvmReqCell *c)
{
        bool vm_bound = v->req.has_numatune && hpvm_numa_mode_binds(v->req.numatune.mode);
        const HpvmCpuSet *nodes = NULL;

        if (c && c->has_memnode)
                nodes = hpvm_numa_mode_binds(c->mode) ? &c->nodes : NULL;
        else if (vm_bound)
                nodes = &v->req.numatune.nodes;
        return nodes && hpvm_cpuset_count(nodes) == 1 ? hpvm_cpuset_next(nodes, 0) : -1;
}

/*
 * In @prefs (@ncells entries, one for a VM without cells) the node
 * bound_node() names for each cell where this host has it, else -1. Whether
 * any cell has one: a VM keeps its node numbers across identical hosts when
 * they have room, so its numatune does not change.
 */
static bool source_nodes(const Vm *v, const HpvmHost *h, size_t ncells, int *prefs)
{
        bool any = false;

        for (size_t i = 0; i < (ncells ? ncells : 1); i++) {
                int id = bound_node(v, ncells ? &v->req.cells[i] : NULL);

                prefs[i] = id >= 0 && hpvm_host_node(h, (unsigned)id) ? id : -1;
                any |= prefs[i] >= 0;
        }
        return any;
}

/* Place the VM on @h around @u into *e (see migrate.h). -ENOSPC / -EINVAL with the message in @err. */
static int place(const Vm *v, const HpvmHost *h, const HpvmUsage *u, HpvmLedgerEntry *e, HpvmError *err)
{
        bool pinned = vm_kind(v) == KIND_PINNED;
        HpvmFitOpts o = {
                .policy = v->policy,
                .emulator = pinned && v->emulatorpin,
                .iothreads = pinned && v->iothreadpin && v->iothreads > 0 ? (unsigned)v->iothreads : 0,
                .keep = pinned ? &v->req.vcpupin : NULL,
        };
        _cleanup_usage_ HpvmUsage *relaxed = NULL;
        _cleanup_placement_ HpvmPlacement *p = NULL;
        _cleanup_free_ HpvmGuestCell *cells = NULL;
        _cleanup_free_ int *prefs = NULL;
        HpvmPlaceRequest q;
        int r;

        if ((r = hpvm_fit_request(&v->req, &o, &q, &cells, err)) < 0)
                return r;
        if (!pinned) {
                /* The vCPUs float: a node is chosen for memory, with all its online CPUs counted. */
                relaxed = hpvm_usage_copy(u);
                if (!relaxed)
                        return hpvm_error_set(err, -ENOMEM, "out of memory");
                hpvm_cpuset_zero(&relaxed->reserved);
                hpvm_cpuset_zero(&relaxed->taken);
                q.policy = HPVM_POLICY_DEDICATED;
                q.threads = 1;
        }
        r = -ENOSPC;
        /* A VM with vCPU pins keeps those where they are free here instead: its nodes follow them. */
        if (!pinned || !v->req.vcpupin.n) {
                prefs = calloc(q.ncells ? q.ncells : 1, sizeof(*prefs));
                if (!prefs)
                        return hpvm_error_set(err, -ENOMEM, "out of memory");
        }
        if (prefs && source_nodes(v, h, q.ncells, prefs)) {
                /* The nodes the source bound it to, when they exist and have room here; else anywhere. */
                HpvmPlaceRequest same = q;
                HpvmGuestCell one = { .mem_kib = q.mem_kib };
                HpvmError ignored = { 0 };

                if (!q.ncells) {
                        /* One cell of all its vCPUs and memory, on that node. */
                        for (unsigned c = 0; c < q.vcpus; c++)
                                hpvm_cpuset_set(&one.vcpus, c);
                        same.ncells = 1;
                        same.cells = &one;
                }
                same.cell_node = prefs;
                r = hpvm_place(h, relaxed ? relaxed : u, &same, &p, &ignored);
                if (r < 0 && r != -ENOSPC && r != -EINVAL)
                        return hpvm_error_set(err, r, "%s", ignored.msg);
        }
        if (r < 0 && (r = hpvm_place(h, relaxed ? relaxed : u, &q, &p, err)) < 0)
                return r;
        if (entry_from_placement(v, h, u, p, e) < 0) {
                hpvm_ledger_entry_clear(e);
                return hpvm_error_set(err, -ENOMEM, "out of memory");
        }
        return 0;
}

/* The pin of a thread naming @cpu, for a message: "vCPU 3", "the emulator", "IO thread 1". */
static const char *pin_owner(const Vm *v, unsigned cpu, char *buf, size_t size)
{
        for (size_t i = 0; i < v->req.vcpupin.n; i++)
                if (hpvm_cpuset_test(&v->req.vcpupin.pins[i].cpus, cpu)) {
                        snprintf(buf, size, "vCPU %u", v->req.vcpupin.pins[i].id);
                        return buf;
                }
        for (size_t i = 0; i < v->req.iothreadpin.n; i++)
                if (hpvm_cpuset_test(&v->req.iothreadpin.pins[i].cpus, cpu)) {
                        snprintf(buf, size, "IO thread %u", v->req.iothreadpin.pins[i].id);
                        return buf;
                }
        return "the emulator";
}

/* The CPUs the document pins vCPUs, the emulator and IO threads to. */
static void all_pins(const Vm *v, HpvmCpuSet *ret)
{
        hpvm_cpuset_zero(ret);
        for (size_t i = 0; i < v->req.vcpupin.n; i++)
                hpvm_cpuset_or(ret, &v->req.vcpupin.pins[i].cpus);
        if (v->req.has_emulatorpin)
                hpvm_cpuset_or(ret, &v->req.emulatorpin);
        for (size_t i = 0; i < v->req.iothreadpin.n; i++)
                hpvm_cpuset_or(ret, &v->req.iothreadpin.pins[i].cpus);
}

/*
 * The source's pins and nodes, as they are, valid and free here; *e what it
 * holds. @why names the reason in messages (migration_refit=false, or the
 * <cputune> a VM the engine does not model keeps).
 */
static int check_exact(const Vm *v, const HpvmHost *h, const HpvmUsage *u, const char *ledger_path, const char *why,
                       HpvmLedgerEntry *e, HpvmError *err)
{
        bool pinned = vm_kind(v) == KIND_PINNED;
        char owner[64];
        HpvmCpuSet pins, busy;
        int r, node;

        if ((r = hpvm_vmreq_check_online(&v->req, h, HPVM_PINS_VCPU | HPVM_PINS_EMULATOR | HPVM_PINS_IOTHREAD,
                                         why, err)) < 0)
                return r;
        all_pins(v, &pins);
        if (pinned) {
                busy = pins;
                hpvm_cpuset_and(&busy, &u->reserved);
                if (!hpvm_cpuset_is_empty(&busy)) {
                        int cpu = hpvm_cpuset_next(&busy, 0);

                        return hpvm_error_set(err, -ENOSPC, "%s: %s is pinned to host CPU %d, which is kept for the host",
                                              why, pin_owner(v, (unsigned)cpu, owner, sizeof(owner)), cpu);
                }
                busy = pins;
                hpvm_cpuset_and(&busy, &u->taken);
                if (!hpvm_cpuset_is_empty(&busy)) {
                        int cpu = hpvm_cpuset_next(&busy, 0);

                        return hpvm_error_set(err, -ENOSPC, "%s: %s is pinned to host CPU %d, which another VM holds "
                                              "(see %s)", why, pin_owner(v, (unsigned)cpu, owner, sizeof(owner)), cpu,
                                              ledger_path);
                }
        }
        if ((r = hpvm_vmreq_check_nodes(&v->req, h, why, err)) < 0 ||
            (r = hpvm_vmreq_check_memory(&v->req, h, u, true, v->req.page_kib > 0, "numatune", "hugepages", err)) < 0)
                return r;
        memset(e, 0, sizeof(*e));
        if (pinned)
                e->cpus = pins;
        e->page_kib = v->req.page_kib;
        /* Memory it will take where a binding names one node (spread over several, the kernel decides). */
        if (!v->req.ncells && (node = bound_node(v, NULL)) >= 0)
                r = cell_use(e, (unsigned)node, v->req.mem_kib, v->req.page_kib, true);
        for (size_t i = 0; r >= 0 && i < v->req.ncells; i++) {
                const HpvmReqCell *c = &v->req.cells[i];

                if ((node = bound_node(v, c)) >= 0)
                        r = cell_use(e, (unsigned)node, c->mem_kib, v->req.page_kib, c->hugepages);
        }
        if (r < 0) {
                hpvm_ledger_entry_clear(e);
                return hpvm_error_set(err, -ENOMEM, "out of memory");
        }
        return 0;
}

/* Refusals that are about this host all read "this host cannot run VM <name>: ...", -ENOSPC. */
static int refuse(const Vm *v, int r, HpvmError *err)
{
        if (r == -ENOMEM || r == -EINVAL)
                return r == -EINVAL ? hpvm_error_prefix(err, "VM %s cannot be placed: ", v->qname) : r;
        hpvm_error_prefix(err, "this host cannot run VM %s%s: ", v->qname,
                          v->refit ? "" : " with its pins as they are");
        err->code = -ENOSPC;
        return -ENOSPC;
}

/*
 * The whole decision for this host, under the ledger's lock: read the host,
 * its usage around every other entry, check and place (or check the pins as
 * they are), and fill *e (not yet named, stamped or recorded).
 */
static int decide(const HpvmMigrateCtx *ctx, const Vm *v, const HpvmLedger *l, HpvmLedgerEntry *e,
                  HpvmHost **ret_host, HpvmWarnings *warn, HpvmError *err)
{
        _cleanup_host_ HpvmHost *h = NULL;
        _cleanup_usage_ HpvmUsage *base = NULL, *u = NULL;
        int r;

        if ((r = load_host(ctx, host_parts(v), &h, &base, err)) < 0 ||
            (r = build_usage(ctx, h, base, l, v->key, &u, err)) < 0)
                return r;
        if ((r = check_host_features(v, h, err)) < 0)
                return refuse(v, r, err);
        r = v->refit ? place(v, h, u, e, err) : check_exact(v, h, u, hpvm_ledger_path(l), REFIT_OFF, e, err);
        if (r == -EINVAL && v->refit) {
                /* A shape the engine does not model (a vCPU in no guest cell): its pins as they are, if they hold here. */
                hpvm_warn(warn, "VM %s cannot be re-fitted (%s): its pins and node sets stay as they are", v->qname,
                          err->msg);
                memset(err, 0, sizeof(*err));
                r = check_exact(v, h, u, hpvm_ledger_path(l), "cputune", e, err);
                if (r < 0) {
                        hpvm_error_prefix(err, "this host cannot run VM %s with its pins as they are: ", v->qname);
                        err->code = r == -ENOMEM ? r : -ENOSPC;
                        return err->code;
                }
        } else if (r < 0) {
                return refuse(v, r, err);
        }
        if (v->refit && vm_kind(v) == KIND_PINNED)
                warn_hand_pins(v, h, u, e, warn);
        *ret_host = h;
        h = NULL;
        return 0;
}

/* The host node of guest cell 0 of @e, else of its first vCPU, else of any CPU it holds; -1: none. */
static int first_node(const HpvmHost *h, const HpvmLedgerEntry *e)
{
        HpvmCpuSet one, nodes;
        int cpu;

        if (e->ncells)
                return (int)e->cell_node[0];
        hpvm_cpuset_zero(&one);
        if (e->nvcpus)
                hpvm_cpuset_set(&one, e->vcpu_cpu[0]);
        else if ((cpu = hpvm_cpuset_next(&e->cpus, 0)) >= 0)
                hpvm_cpuset_set(&one, (unsigned)cpu);
        nodes_of(h, &one, &nodes);
        return hpvm_cpuset_next(&nodes, 0);
}

static int reserve(const HpvmMigrateCtx *ctx, const Vm *v, HpvmLedger *l, HpvmLedgerEntry *e, HpvmError *err)
{
        int r;

        snprintf(e->vm, sizeof(e->vm), "%s", v->key);
        snprintf(e->name, sizeof(e->name), "%s", v->name);
        e->reserved = true;
        e->since = ctx->now;
        e->expires = ctx->now + (time_t)ctx->config->migration_reservation_timeout;
        if ((r = hpvm_ledger_put(l, e, err)) < 0)
                return r;
        return hpvm_ledger_commit(l, err);
}

/* ---------------------------------------------------------------- the destination check */

int hpvm_migrate_check(const HpvmMigrateCtx *ctx, const char *xml, size_t len, HpvmWarnings *notes,
                       HpvmWarnings *warn, HpvmError *err)
{
        _cleanup_vm_ Vm v = { 0 };
        _cleanup_ledger_ HpvmLedger *l = NULL;
        _cleanup_ledger_entry_ HpvmLedgerEntry e = { 0 };
        _cleanup_host_ HpvmHost *h = NULL;
        int r;

        if (ctx->node)
                *ctx->node = -1;
        if ((r = vm_load(ctx, xml, len, &v, err)) < 0)
                return r;
        if (vm_kind(&v) == KIND_NONE)
                return 0;
        if ((r = vm_props(ctx, &v, err)) < 0 || (r = need_key(&v, err)) < 0)
                return r;
        /* The lock is held from before the host is read until the reservation is on disk. */
        if ((r = open_ledger(ctx, true, &l, warn, err)) < 0 || (r = decide(ctx, &v, l, &e, &h, warn, err)) < 0 ||
            (r = reserve(ctx, &v, l, &e, err)) < 0)
                return r;
        if (ctx->node)
                *ctx->node = first_node(h, &e);
        note_reserved(&v, h, &e, ctx->config, v.refit ? "" : " with its pins as they are (" REFIT_OFF ")", notes);
        return 0;
}

/* ---------------------------------------------------------------- the re-fit */

/* Does reservation @e fit the VM as this XML has it, on this host? */
static bool entry_matches(const Vm *v, const HpvmLedgerEntry *e, const HpvmHost *h)
{
        bool pinned = vm_kind(v) == KIND_PINNED;

        if (!e->reserved || !e->ncells || (v->req.ncells && e->ncells != v->req.ncells))
                return false;
        if (pinned ? e->nvcpus != v->req.vcpus : e->nvcpus != 0)
                return false;
        if ((v->emulatorpin && !e->has_emulator) || (v->iothreadpin && v->iothreads > 0 && !e->has_iothreads))
                return false;
        for (unsigned i = 0; i < e->nvcpus; i++)
                if (!hpvm_cpuset_test(&h->online, e->vcpu_cpu[i]))
                        return false;
        for (size_t j = 0; j < e->ncells; j++)
                if (!hpvm_host_node(h, e->cell_node[j]))
                        return false;
        return (!e->has_emulator || hpvm_cpuset_is_subset(&e->emulator, &h->online)) &&
               (!e->has_iothreads || hpvm_cpuset_is_subset(&e->iothreads, &h->online));
}

typedef struct Edit {
        bool changed;
        bool oom;
} Edit;

static void edit_attr(Edit *ed, xmlNode *n, const char *name, const char *value)
{
        _cleanup_xmlchar_ xmlChar *old = hpvm_xml_prop(n, name);

        if (old && xmlStrEqual(old, BAD_CAST value))
                return;
        ed->changed = true;
        if (hpvm_domain_set_prop(n, name, value) < 0)
                ed->oom = true;
}

static void edit_cpuset(Edit *ed, xmlNode *n, const char *name, const HpvmCpuSet *s)
{
        char buf[HPVM_CPUSET_STRMAX];

        if (hpvm_cpuset_format(s, buf, sizeof(buf)) < 0) {
                ed->oom = true;
                return;
        }
        edit_attr(ed, n, name, buf);
}

typedef struct PinRef {
        xmlNode *n;
        xmlChar *cpuset;        /* the source's text: pins with equal text form one group */
        unsigned vcpu;
} PinRef;

static int cmp_pinref(const void *a, const void *b)
{
        const PinRef *x = a, *y = b;

        return strcmp(x->cpuset ? (const char *)x->cpuset : "", y->cpuset ? (const char *)y->cpuset : "");
}

/* Each <vcpupin>: the CPUs the entry gives the vCPUs that shared its cpuset on the source. */
static int edit_vcpupins(Edit *ed, xmlNode *cputune, const HpvmLedgerEntry *e, HpvmCpuSet *old, HpvmCpuSet *now)
{
        _cleanup_free_ PinRef *refs = NULL;
        size_t n = 0, cap = 0;

        hpvm_cpuset_zero(old);
        hpvm_cpuset_zero(now);
        HPVM_XML_FOREACH(p, cputune, "vcpupin") {
                uint64_t id;
                HpvmCpuSet s;

                if (hpvm_xml_prop_u64(p, "vcpu", HPVM_VCPU_MAX - 1, &id) < 0 || id >= e->nvcpus)
                        continue;
                if (n == cap) {
                        PinRef *grown;

                        cap = cap ? 2 * cap : 64;
                        grown = realloc(refs, cap * sizeof(*refs));
                        if (!grown)
                                goto oom;
                        refs = grown;
                }
                refs[n] = (PinRef) { .n = p, .cpuset = hpvm_xml_prop(p, "cpuset"), .vcpu = (unsigned)id };
                n++;
                if (hpvm_xml_prop_cpuset(p, "cpuset", HPVM_CPUSET_MAX, &s))
                        hpvm_cpuset_or(old, &s);
        }
        qsort(refs, n, sizeof(*refs), cmp_pinref);
        for (size_t i = 0; i < n;) {
                size_t j = i;
                HpvmCpuSet group;

                hpvm_cpuset_zero(&group);
                while (j < n && !cmp_pinref(&refs[i], &refs[j]))
                        hpvm_cpuset_set(&group, e->vcpu_cpu[refs[j++].vcpu]);
                for (size_t k = i; k < j; k++)
                        edit_cpuset(ed, refs[k].n, "cpuset", &group);
                hpvm_cpuset_or(now, &group);
                i = j;
        }
        for (size_t i = 0; i < n; i++)
                xmlFree(refs[i].cpuset);
        return 0;
oom:
        for (size_t i = 0; i < n; i++)
                xmlFree(refs[i].cpuset);
        return -ENOMEM;
}

/* Write entry @e into the document: only the pins and node sets the XML has. Notes say what changed. */
static int apply_entry(Vm *v, const HpvmHost *h, const HpvmLedgerEntry *e, bool *ret_changed, HpvmWarnings *notes,
                       HpvmError *err)
{
        xmlNode *cputune = hpvm_xml_child(v->d->root, "cputune");
        xmlNode *numatune = hpvm_xml_child(v->d->root, "numatune");
        char a[HPVM_CPUSET_STRMAX], b[HPVM_CPUSET_STRMAX], c[600];
        HpvmCpuSet old, now, nodes, ns;
        Edit ed = { 0 };
        bool any = false;

        cell_nodes(e, &nodes);
        if (e->nvcpus) {
                if (edit_vcpupins(&ed, cputune, e, &old, &now) < 0)
                        return hpvm_error_set(err, -ENOMEM, "out of memory");
                if (ed.changed) {
                        nodes_of(h, &now, &ns);
                        hpvm_warn(notes, "re-fitted vCPU pins to this host: %s -> %s (%s)", fmt_set(&old, a, sizeof(a)),
                                  fmt_set(&now, b, sizeof(b)), fmt_nodes(&ns, c, sizeof(c)));
                }
                any |= ed.changed;
                ed.changed = false;
        }
        if (e->has_emulator) {
                HPVM_XML_FOREACH(p, cputune, "emulatorpin") {
                        if (!hpvm_xml_prop_cpuset(p, "cpuset", HPVM_CPUSET_MAX, &old))
                                hpvm_cpuset_zero(&old);
                        edit_cpuset(&ed, p, "cpuset", &e->emulator);
                }
                if (ed.changed)
                        hpvm_warn(notes, "re-fitted the emulator pin to this host: %s -> %s", fmt_set(&old, a, sizeof(a)),
                                  fmt_set(&e->emulator, b, sizeof(b)));
                any |= ed.changed;
                ed.changed = false;
        }
        if (e->has_iothreads) {
                /* Pins already within the reserved set are the VM's own, kept: leave them as they are. */
                bool within = true;

                hpvm_cpuset_zero(&old);
                HPVM_XML_FOREACH(p, cputune, "iothreadpin") {
                        HpvmCpuSet s;

                        if (!hpvm_xml_prop_cpuset(p, "cpuset", HPVM_CPUSET_MAX, &s) || !hpvm_cpuset_is_subset(&s, &e->iothreads))
                                within = false;
                        else
                                hpvm_cpuset_or(&old, &s);
                }
                if (!within || !hpvm_cpuset_equal(&old, &e->iothreads)) {
                        hpvm_cpuset_zero(&old);
                        HPVM_XML_FOREACH(p, cputune, "iothreadpin") {
                                HpvmCpuSet s;

                                if (hpvm_xml_prop_cpuset(p, "cpuset", HPVM_CPUSET_MAX, &s))
                                        hpvm_cpuset_or(&old, &s);
                                edit_cpuset(&ed, p, "cpuset", &e->iothreads);
                        }
                }
                if (ed.changed)
                        hpvm_warn(notes, "re-fitted IO thread pins to this host: %s -> %s", fmt_set(&old, a, sizeof(a)),
                                  fmt_set(&e->iothreads, b, sizeof(b)));
                any |= ed.changed;
                ed.changed = false;
        }
        if (!hpvm_cpuset_is_empty(&nodes)) {
                xmlNode *mem = hpvm_xml_child(numatune, "memory");
                _cleanup_xmlchar_ xmlChar *has = mem ? hpvm_xml_prop(mem, "nodeset") : NULL;
                HpvmCpuSet cells, oldn, newn;

                if (has) {
                        if (!hpvm_xml_prop_cpuset(mem, "nodeset", HPVM_NODE_MAX, &old))
                                hpvm_cpuset_zero(&old);
                        edit_cpuset(&ed, mem, "nodeset", &nodes);
                        if (ed.changed)
                                hpvm_warn(notes, "re-bound the VM's memory to this host: %s -> %s",
                                          fmt_nodes(&old, a, sizeof(a)), fmt_set(&nodes, b, sizeof(b)));
                        any |= ed.changed;
                        ed.changed = false;
                }
                hpvm_cpuset_zero(&cells);
                hpvm_cpuset_zero(&oldn);
                hpvm_cpuset_zero(&newn);
                HPVM_XML_FOREACH(m, numatune, "memnode") {
                        uint64_t id;
                        Edit one = { 0 };
                        HpvmCpuSet node, s;

                        if (hpvm_xml_prop_u64(m, "cellid", HPVM_CELLS_MAX - 1, &id) < 0)
                                continue;
                        for (size_t j = 0; j < e->ncells && j < v->req.ncells; j++) {
                                if (v->req.cells[j].id != id)
                                        continue;
                                hpvm_cpuset_zero(&node);
                                hpvm_cpuset_set(&node, e->cell_node[j]);
                                if (hpvm_xml_prop_cpuset(m, "nodeset", HPVM_NODE_MAX, &s))
                                        hpvm_cpuset_or(&oldn, &s);
                                edit_cpuset(&one, m, "nodeset", &node);
                                if (one.changed) {
                                        hpvm_cpuset_set(&cells, (unsigned)id);
                                        hpvm_cpuset_or(&newn, &node);
                                }
                                ed.oom |= one.oom;
                                any |= one.changed;
                                break;
                        }
                }
                if (!hpvm_cpuset_is_empty(&cells))
                        hpvm_warn(notes, "re-bound the memory of guest cell%s %s to this host: %s -> %s",
                                  hpvm_cpuset_count(&cells) == 1 ? "" : "s", fmt_set(&cells, c, sizeof(c)),
                                  fmt_nodes(&oldn, a, sizeof(a)), fmt_set(&newn, b, sizeof(b)));
        }
        if (ed.oom)
                return hpvm_error_set(err, -ENOMEM, "out of memory editing the domain XML");
        *ret_changed = any;
        return 0;
}

int hpvm_migrate_refit(const HpvmMigrateCtx *ctx, const char *xml, size_t len, char **ret_out, size_t *ret_len,
                       HpvmWarnings *notes, HpvmWarnings *warn, HpvmError *err)
{
        _cleanup_vm_ Vm v = { 0 };
        _cleanup_ledger_ HpvmLedger *l = NULL;
        _cleanup_ledger_entry_ HpvmLedgerEntry e = { 0 };
        _cleanup_host_ HpvmHost *h = NULL;
        bool have = false, changed = false;
        int r;

        if ((r = vm_load(ctx, xml, len, &v, err)) < 0)
                return r;
        if (vm_kind(&v) == KIND_NONE) {
                *ret_out = NULL;
                *ret_len = 0;
                return 0;
        }
        if ((r = vm_props(ctx, &v, err)) < 0 || (r = need_key(&v, err)) < 0)
                return r;
        if ((r = open_ledger(ctx, true, &l, warn, err)) < 0)
                return r;
        r = get_entry(l, v.key, &e, err);
        if (r < 0 && r != -ENOENT)
                return r;
        have = r == 0;
        if (have && v.refit) {
                /* The reservation the destination check made: apply it exactly (base host files only). */
                if ((r = load_host(ctx, 0, &h, NULL, err)) < 0)
                        return r;
                if (!entry_matches(&v, &e, h)) {
                        if (e.reserved && e.ncells)
                                hpvm_warn(warn, "the reservation of VM %s does not match its domain XML: placed afresh",
                                          v.qname);
                        have = false;
                }
        } else if (have && !(e.reserved && !v.refit)) {
                have = false;
        }
        if (!have) {
                hpvm_ledger_entry_clear(&e);
                hpvm_host_free(h);
                h = NULL;
                if ((r = decide(ctx, &v, l, &e, &h, warn, err)) < 0)
                        return r;
        }
        if (v.refit && have && vm_kind(&v) == KIND_PINNED)
                warn_hand_pins(&v, h, NULL, &e, warn);
        if (v.refit && (r = apply_entry(&v, h, &e, &changed, notes, err)) < 0)
                return r;
        /* Renewed: the memory copy of a large VM may take a while before libvirt's `started`. */
        if ((r = reserve(ctx, &v, l, &e, err)) < 0)
                return r;
        if (!changed) {
                *ret_out = NULL;
                *ret_len = 0;
                return 0;
        }
        return hpvm_domain_format(v.d, ret_out, ret_len, err);
}

/* ---------------------------------------------------------------- running here, released here */

/* Reservation @e (of VM @v) becomes its running entry; a reservation that holds no CPU goes. */
static int to_running(const HpvmMigrateCtx *ctx, const Vm *v, HpvmLedger *l, HpvmLedgerEntry *e, HpvmWarnings *notes,
                      HpvmWarnings *warn, HpvmError *err)
{
        char list[HPVM_CPUSET_STRMAX];
        HpvmCpuSet live;
        int r;

        if (!e->nvcpus) {
                hpvm_ledger_release(l, v->key);
                hpvm_warn(notes, "VM %s runs here; it holds no host CPU (its memory is bound, its vCPUs float): "
                          "its reservation is released", v->qname);
                return hpvm_ledger_commit(l, err);
        }
        all_pins(v, &live);
        if (hpvm_cpuset_is_subset(&live, &e->cpus)) {
                live = e->cpus;
        } else {
                hpvm_warn(warn, "VM %s runs here on host CPUs %s, not on the CPUs reserved for it: recorded what it "
                          "runs on", v->qname, fmt_set(&live, list, sizeof(list)));
        }
        hpvm_ledger_entry_clear(e);
        snprintf(e->vm, sizeof(e->vm), "%s", v->key);
        snprintf(e->name, sizeof(e->name), "%s", v->name);
        e->since = ctx->now;
        e->cpus = live;
        if ((r = hpvm_ledger_put(l, e, err)) < 0 || (r = hpvm_ledger_commit(l, err)) < 0)
                return r;
        hpvm_warn(notes, "VM %s runs here: it holds host CPUs %s", v->qname, fmt_set(&live, list, sizeof(list)));
        return 0;
}

static int load_for_ledger(const HpvmMigrateCtx *ctx, const char *xml, size_t len, Vm *v, HpvmError *err)
{
        int r;

        if ((r = vm_load(ctx, xml, len, v, err)) < 0)
                return r;
        if (vm_kind(v) == KIND_NONE)
                return 0;
        return need_key(v, err);
}

int hpvm_migrate_started(const HpvmMigrateCtx *ctx, const char *xml, size_t len, HpvmWarnings *notes,
                         HpvmWarnings *warn, HpvmError *err)
{
        _cleanup_vm_ Vm v = { 0 };
        _cleanup_ledger_ HpvmLedger *l = NULL;
        _cleanup_ledger_entry_ HpvmLedgerEntry e = { 0 };
        int r;

        if ((r = load_for_ledger(ctx, xml, len, &v, err)) < 0 || vm_kind(&v) == KIND_NONE)
                return r;
        if ((r = open_ledger(ctx, false, &l, warn, err)) < 0)
                return r;
        r = get_entry(l, v.key, &e, err);
        if (r == -ENOENT || (r == 0 && !e.reserved))
                return 0;
        if (r < 0)
                return r;
        return to_running(ctx, &v, l, &e, notes, warn, err);
}

int hpvm_migrate_arrived(const HpvmMigrateCtx *ctx, const char *xml, size_t len, HpvmWarnings *notes,
                         HpvmWarnings *warn, HpvmError *err)
{
        _cleanup_vm_ Vm v = { 0 };
        _cleanup_ledger_ HpvmLedger *l = NULL;
        _cleanup_ledger_entry_ HpvmLedgerEntry e = { 0 };
        _cleanup_free_ char *policy = NULL;
        char list[HPVM_CPUSET_STRMAX];
        int r;

        if ((r = load_for_ledger(ctx, xml, len, &v, err)) < 0 || vm_kind(&v) == KIND_NONE)
                return r;
        if ((r = open_ledger(ctx, false, &l, warn, err)) < 0)
                return r;
        r = get_entry(l, v.key, &e, err);
        if (r == 0 && e.reserved) {
                hpvm_warn(warn, "VM %s arrived while still reserved: libvirt's hook did not see it start here (is "
                          "/etc/libvirt/hooks/qemu.d/50_hpvm installed, and was libvirtd restarted after?)", v.qname);
                return to_running(ctx, &v, l, &e, notes, warn, err);
        }
        if (r == 0 || r != -ENOENT)
                return r;
        /* No entry: a pinned VM holds what it runs on, unless vdsm's shared pool gave it those pins. */
        policy = hpvm_domain_cpu_policy(v.d);
        if (vm_kind(&v) != KIND_PINNED || (policy && !strcmp(policy, "none")))
                return 0;
        snprintf(e.vm, sizeof(e.vm), "%s", v.key);
        snprintf(e.name, sizeof(e.name), "%s", v.name);
        e.since = ctx->now;
        all_pins(&v, &e.cpus);
        if ((r = hpvm_ledger_put(l, &e, err)) < 0 || (r = hpvm_ledger_commit(l, err)) < 0)
                return r;
        hpvm_warn(notes, "VM %s arrived with no record here: it holds host CPUs %s", v.qname,
                  fmt_set(&e.cpus, list, sizeof(list)));
        return 0;
}

int hpvm_migrate_release(const HpvmMigrateCtx *ctx, const char *xml, size_t len, HpvmWarnings *notes,
                         HpvmError *err)
{
        _cleanup_vm_ Vm v = { 0 };
        _cleanup_ledger_ HpvmLedger *l = NULL;
        int r;

        if (ctx->vm_id && *ctx->vm_id) {
                char buf[HPVM_STATE_TOKEN_MAX + 2];

                snprintf(buf, sizeof(buf), "%s", ctx->vm_id);
                if (!hpvm_state_token_valid(buf))
                        return hpvm_error_set(err, -EINVAL, "'%s' cannot name a VM in the ledger",
                                              hpvm_quote(ctx->vm_id, strlen(ctx->vm_id), v.qname, sizeof(v.qname)));
                if (hpvm_uuid_valid(buf, strlen(buf)))
                        for (char *p = buf; *p; p++)
                                *p = (char)tolower((unsigned char)*p);
                snprintf(v.key, sizeof(v.key), "%s", buf);
                snprintf(v.qname, sizeof(v.qname), "%s", buf);
        } else {
                if (!xml || !len)
                        return hpvm_error_set(err, -EINVAL, "no VM to release: no $vmId and no domain XML");
                /* A VM neither pinned nor NUMA-tuned was never recorded by its XML's id. */
                if ((r = load_for_ledger(ctx, xml, len, &v, err)) < 0 || vm_kind(&v) == KIND_NONE)
                        return r;
        }
        if ((r = open_ledger(ctx, false, &l, NULL, err)) < 0)
                return r;
        if (hpvm_ledger_release(l, v.key) < 0)
                return 0;
        if ((r = hpvm_ledger_commit(l, err)) < 0)
                return r;
        hpvm_warn(notes, "released the host CPUs of VM %s", v.qname);
        return 1;
}
