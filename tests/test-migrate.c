/* test-migrate.c: the migration core (lib/migrate.c) on fake hosts: the seed's limitation gone, a table of host shapes, reservations, migration_refit=false, hand pins, restore, idempotence, the ledger on both sides. */
#include <check.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "config.h"
#include "domreq.h"
#include "domxml.h"
#include "hostgen.h"
#include "ledger.h"
#include "migrate.h"
#include "placement.h"
#include "sysfsgen.h"
#include "testhelp.h"

#define NOW ((time_t)1800000000)
#define UUID_A "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"
#define UUID_B "0b6e1c9a-7d2f-4e31-9a58-1f0c2d3e4a5b"
#define UUID_OTHER "9f8e7d6c-5b4a-4392-8172-6e5d4c3b2a10"

/* ------------------------------------------------------------ a destination host */

typedef struct Dst {
        char *dir;              /* the test's folder */
        char *root;             /* <dir>/host: the host's sysfs tree */
        char *caps;             /* or a capabilities file (NULL: the tree) */
        HpvmConfig *cfg;        /* state_dir <dir>/state, sysfs_root the tree, and the row's lines */
} Dst;

/*
 * A hostgen spec, plus " invtsc" (the CPU has an invariant TSC) and
 * " tsc=<Hz>" (its frequency), which hostgen does not know.
 */
static HpvmHost *host_of(const char *spec, HpvmUsage **ret_use)
{
        char base[512] = "", *tok, *save = NULL, *copy = strdup(spec);
        bool invtsc = false;
        uint64_t tsc = 0;
        HpvmHost *h;

        ck_assert_ptr_nonnull(copy);
        for (tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
                if (!strcmp(tok, "invtsc"))
                        invtsc = true;
                else if (!strncmp(tok, "tsc=", 4))
                        tsc = strtoull(tok + 4, NULL, 10);
                else
                        snprintf(base + strlen(base), sizeof(base) - strlen(base), "%s%s", base[0] ? " " : "", tok);
        }
        free(copy);
        h = th_host(base, ret_use);
        h->invtsc = invtsc;
        h->tsc_hz = tsc;
        return h;
}

static void dst_config(Dst *d, const char *extra)
{
        char text[8192];
        HpvmError err = { 0 };

        hpvm_config_free(d->cfg);
        snprintf(text, sizeof(text), "state_dir=%s/state\nsysfs_root=%s\n%s", d->dir, d->root, extra ? extra : "");
        ck_assert_msg(hpvm_config_parse("test.conf", text, strlen(text), &d->cfg, &err) == 0, "%s", err.msg);
}

static void dst_init(Dst *d, const char *spec, const char *conf)
{
        HpvmUsage *u = NULL;
        HpvmHost *h = host_of(spec, &u);
        char why[4200];

        memset(d, 0, sizeof(*d));
        d->dir = th_tmpdir();
        ck_assert_int_ge(asprintf(&d->root, "%s/host", d->dir), 0);
        ck_assert_msg(th_sysfs_write(d->root, h, u, NULL, why, sizeof(why)) == 0, "%s", why);
        hpvm_usage_free(u);
        hpvm_host_free(h);
        dst_config(d, conf);
}

static void dst_clear(Dst *d)
{
        hpvm_config_free(d->cfg);
        th_rmtree(d->dir);
        free(d->dir);
        free(d->root);
        free(d->caps);
        memset(d, 0, sizeof(*d));
}

/* Another VM that runs here and holds @cpus (recorded now, so reclaim keeps it). */
static void dst_take(Dst *d, const char *vm, const char *cpus)
{
        _cleanup_ledger_ HpvmLedger *l = NULL;
        HpvmLedgerEntry e = { .since = NOW };
        HpvmError err = { 0 };

        snprintf(e.vm, sizeof(e.vm), "%s", vm);
        snprintf(e.name, sizeof(e.name), "other");
        ck_assert_int_eq(hpvm_cpuset_parse(cpus, strlen(cpus), HPVM_CPUSET_MAX, "CPU", &e.cpus, &err), 0);
        ck_assert_msg(hpvm_ledger_open(d->cfg, &l, &err) == 0, "%s", err.msg);
        ck_assert_msg(hpvm_ledger_put(l, &e, &err) == 0 && hpvm_ledger_commit(l, &err) == 0, "%s", err.msg);
}

/* The ledger entry of @vm: 0 and *e (caller clears), or -ENOENT. */
static int dst_entry(const Dst *d, const char *vm, HpvmLedgerEntry *e)
{
        _cleanup_ledger_ HpvmLedger *l = NULL;
        HpvmError err = { 0 };
        int r;

        ck_assert_msg(hpvm_ledger_open(d->cfg, &l, &err) == 0, "%s", err.msg);
        r = hpvm_ledger_get(l, vm, e, &err);
        ck_assert_msg(r == 0 || r == -ENOENT, "%s", err.msg);
        return r;
}

static char *dst_ledger_text(const Dst *d)
{
        char path[4096];
        struct stat st;

        snprintf(path, sizeof(path), "%s/state/cpus", d->dir);
        if (stat(path, &st) < 0)
                return strdup("");
        return th_slurp(path, NULL);
}

/* ------------------------------------------------------------ VMs */

enum { PINS_NONE, PINS_NODE, PINS_LIST };

typedef struct VmShape {
        const char *name, *uuid;        /* defaults: vm1, UUID_A */
        unsigned vcpus, threads;
        size_t ncells;                  /* guest cells (vCPUs split evenly, in order); 0: none */
        uint64_t cell_kib;              /* memory of each cell (or of the VM without cells); default 1 GiB */
        int pins;                       /* PINS_NODE: vdsm's automatic pinning, cell i to source node i's
                                         * node_cpus CPUs; PINS_LIST: vCPU v to the v-th CPU of list */
        unsigned node_cpus;
        const char *list;
        bool memnode;                   /* a strict <memnode> per cell, on source node i */
        const char *numatune;           /* "<mode>:<nodeset>": <numatune><memory> */
        const char *emulatorpin;
        unsigned iothreads;
        const char *iothreadpin;        /* every IO thread pinned to it */
        uint64_t page_kib;
        bool invtsc;
        uint64_t tsc_hz;
        const char *custom;             /* custom properties "k=v k=v" in the oVirt metadata */
        const char *cpu_policy;         /* <ovirt-vm:cpuPolicy> */
} VmShape;

static unsigned cell_of(const VmShape *s, unsigned v)
{
        return s->ncells ? v / (s->vcpus / (unsigned)s->ncells) : 0;
}

static char *vm_xml(const VmShape *s)
{
        unsigned threads = s->threads ? s->threads : 1;
        uint64_t cell = s->cell_kib ? s->cell_kib : 1048576;
        uint64_t mem = s->ncells ? cell * s->ncells : cell;
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);
        HpvmCpuSet list;

        ck_assert_ptr_nonnull(f);
        if (s->pins == PINS_LIST)
                ck_assert_int_eq(hpvm_cpuset_parse(s->list, strlen(s->list), HPVM_CPUSET_MAX, "CPU", &list, NULL), 0);
        fprintf(f, "<domain type='kvm' xmlns:ovirt-vm='http://ovirt.org/vm/1.0'>\n"
                   "  <name>%s</name>\n  <uuid>%s</uuid>\n", s->name ? s->name : "vm1", s->uuid ? s->uuid : UUID_A);
        if (s->custom || s->cpu_policy) {
                fprintf(f, "  <metadata>\n    <ovirt-vm:vm>\n");
                if (s->cpu_policy)
                        fprintf(f, "      <ovirt-vm:cpuPolicy>%s</ovirt-vm:cpuPolicy>\n", s->cpu_policy);
                if (s->custom) {
                        char *copy = strdup(s->custom), *save = NULL;

                        fprintf(f, "      <ovirt-vm:custom>\n");
                        for (char *kv = strtok_r(copy, " ", &save); kv; kv = strtok_r(NULL, " ", &save)) {
                                char *eq = strchr(kv, '=');

                                *eq = '\0';
                                fprintf(f, "        <ovirt-vm:%s>%s</ovirt-vm:%s>\n", kv, eq + 1, kv);
                        }
                        fprintf(f, "      </ovirt-vm:custom>\n");
                        free(copy);
                }
                fprintf(f, "    </ovirt-vm:vm>\n  </metadata>\n");
        }
        fprintf(f, "  <memory unit='KiB'>%llu</memory>\n  <currentMemory unit='KiB'>%llu</currentMemory>\n",
                (unsigned long long)mem, (unsigned long long)mem);
        if (s->page_kib)
                fprintf(f, "  <memoryBacking>\n    <hugepages>\n      <page size='%llu' unit='KiB'/>\n"
                           "    </hugepages>\n  </memoryBacking>\n", (unsigned long long)s->page_kib);
        fprintf(f, "  <vcpu placement='static'>%u</vcpu>\n", s->vcpus);
        if (s->iothreads)
                fprintf(f, "  <iothreads>%u</iothreads>\n", s->iothreads);
        if (s->pins != PINS_NONE || s->emulatorpin || s->iothreadpin) {
                int cpu = -1;

                fprintf(f, "  <cputune>\n");
                for (unsigned v = 0; s->pins != PINS_NONE && v < s->vcpus; v++) {
                        if (s->pins == PINS_NODE) {
                                unsigned c = cell_of(s, v);

                                fprintf(f, "    <vcpupin vcpu='%u' cpuset='%u-%u'/>\n", v, c * s->node_cpus,
                                        (c + 1) * s->node_cpus - 1);
                        } else {
                                cpu = hpvm_cpuset_next(&list, (unsigned)cpu + 1);
                                ck_assert_int_ge(cpu, 0);
                                fprintf(f, "    <vcpupin vcpu='%u' cpuset='%d'/>\n", v, cpu);
                        }
                }
                if (s->emulatorpin)
                        fprintf(f, "    <emulatorpin cpuset='%s'/>\n", s->emulatorpin);
                for (unsigned i = 1; s->iothreadpin && i <= s->iothreads; i++)
                        fprintf(f, "    <iothreadpin iothread='%u' cpuset='%s'/>\n", i, s->iothreadpin);
                fprintf(f, "  </cputune>\n");
        }
        if (s->numatune || s->memnode) {
                fprintf(f, "  <numatune>\n");
                if (s->numatune) {
                        const char *colon = strchr(s->numatune, ':');

                        fprintf(f, "    <memory mode='%.*s' nodeset='%s'/>\n", (int)(colon - s->numatune), s->numatune,
                                colon + 1);
                }
                for (size_t i = 0; s->memnode && i < s->ncells; i++)
                        fprintf(f, "    <memnode cellid='%zu' mode='strict' nodeset='%zu'/>\n", i, i);
                fprintf(f, "  </numatune>\n");
        }
        fprintf(f, "  <os>\n    <type arch='x86_64' machine='pc'>hvm</type>\n  </os>\n"
                   "  <features>\n    <acpi/>\n  </features>\n"
                   "  <cpu mode='custom' match='exact'>\n    <model fallback='forbid'>qemu64</model>\n");
        if (s->invtsc)
                fprintf(f, "    <feature policy='require' name='invtsc'/>\n");
        fprintf(f, "    <topology sockets='1' dies='1' cores='%u' threads='%u'/>\n", s->vcpus / threads, threads);
        if (s->ncells) {
                unsigned per = s->vcpus / (unsigned)s->ncells;

                fprintf(f, "    <numa>\n");
                for (size_t i = 0; i < s->ncells; i++)
                        fprintf(f, "      <cell id='%zu' cpus='%zu-%zu' memory='%llu' unit='KiB'/>\n", i, i * per,
                                (i + 1) * per - 1, (unsigned long long)cell);
                fprintf(f, "    </numa>\n");
        }
        fprintf(f, "  </cpu>\n  <clock offset='utc'>\n");
        if (s->tsc_hz)
                fprintf(f, "    <timer name='tsc' frequency='%llu'/>\n", (unsigned long long)s->tsc_hz);
        fprintf(f, "  </clock>\n  <on_poweroff>destroy</on_poweroff>\n  <on_reboot>restart</on_reboot>\n"
                   "  <on_crash>destroy</on_crash>\n  <devices>\n"
                   "    <emulator>/usr/bin/qemu-system-x86_64</emulator>\n    <memballoon model='none'/>\n"
                   "  </devices>\n</domain>\n");
        ck_assert_int_eq(fclose(f), 0);
        return buf;
}

/* ------------------------------------------------------------ running the flow */

typedef struct Run {
        HpvmWarnings notes, warn;
        HpvmError err;
        char *out;              /* the re-fitted XML; NULL: unchanged */
        size_t outlen;
} Run;

static void run_clear(Run *r)
{
        free(r->out);
        memset(r, 0, sizeof(*r));
}

static const char *env_get(const char *name, void *opaque)
{
        const char *const *kv = opaque;
        size_t n = strlen(name);

        for (size_t i = 0; kv && kv[i]; i++)
                if (!strncmp(kv[i], name, n) && kv[i][n] == '=')
                        return kv[i] + n + 1;
        return NULL;
}

static HpvmMigrateCtx ctx_of(const Dst *d, const char *const *env, time_t now)
{
        HpvmMigrateCtx c = { .config = d->cfg, .get = env ? env_get : NULL, .opaque = (void *)env, .now = now };

        c.host.caps_path = d->caps;
        return c;
}

/* vdsm's before_vm_migrate_destination: the source's XML, custom properties in the environment. */
static int check(const Dst *d, const char *xml, const char *const *env, time_t now, Run *r)
{
        HpvmMigrateCtx c = ctx_of(d, env, now);

        return hpvm_migrate_check(&c, xml, strlen(xml), &r->notes, &r->warn, &r->err);
}

/* libvirt's `migrate begin` / `restore begin`: no environment, the XML's metadata only. */
static int refit(const Dst *d, const char *xml, time_t now, Run *r)
{
        HpvmMigrateCtx c = ctx_of(d, NULL, now);

        free(r->out);
        r->out = NULL;
        return hpvm_migrate_refit(&c, xml, strlen(xml), &r->out, &r->outlen, &r->notes, &r->warn, &r->err);
}

static void ignore_libvirt_errors(void *opaque, virErrorPtr e)
{
}

/* libvirt's full domain parser and post-parse validation, without a daemon. */
static void assert_libvirt_accepts(const char *what, const char *xml)
{
        virConnectPtr c;
        virDomainPtr dom;

        virSetErrorFunc(NULL, ignore_libvirt_errors);
        c = virConnectOpen("test:///default");
        ck_assert_msg(c, "cannot open libvirt's test driver");
        dom = virDomainDefineXML(c, xml);
        ck_assert_msg(dom, "%s: libvirt refuses the re-fitted XML: %s", what, virGetLastErrorMessage());
        virDomainUndefine(dom);
        virDomainFree(dom);
        virConnectClose(c);
}

static void assert_valid(const char *what, const char *xml)
{
        char why[1024];

        ck_assert_msg(th_schema_valid(xml, strlen(xml), why, sizeof(why)), "%s: not valid per libvirt's schema: %s\n%s",
                      what, why, xml);
        assert_libvirt_accepts(what, xml);
}

/* The destination as the hooks see it: its host and what it keeps for itself or others hold (not @key). */
static void dst_usage(const Dst *d, const char *key, HpvmHost **ret_h, HpvmUsage **ret_u)
{
        _cleanup_ledger_ HpvmLedger *l = NULL;
        HpvmError err = { 0 };
        HpvmUsage *u = NULL;

        ck_assert_msg(hpvm_host_load_sysfs(d->root, HPVM_HOST_ALL, ret_h, &u, &err) == 0, "%s", err.msg);
        if (d->cfg->reserved_cpus_given)
                hpvm_cpuset_or(&u->reserved, &d->cfg->reserved_cpus);
        else
                hpvm_usage_reserve_default(*ret_h, u);
        ck_assert_msg(hpvm_ledger_open(d->cfg, &l, &err) == 0, "%s", err.msg);
        ck_assert_msg(hpvm_ledger_apply(l, *ret_h, u, key, &err) == 0, "%s", err.msg);
        *ret_u = u;
}

/*
 * The re-fitted document fits the destination: valid, accepted by libvirt,
 * every vCPU pin on free CPUs here (not kept for the host, not held by
 * another VM), each guest cell on one node and bound there, memory and huge
 * pages free where it is bound, and the VM's reservation holds those CPUs.
 */
static void assert_fits(const char *what, const Dst *d, const char *xml, const char *key)
{
        _cleanup_domain_ HpvmDomain *dom = NULL;
        _cleanup_vmreq_ HpvmVmReq req = { 0 };
        _cleanup_host_ HpvmHost *h = NULL;
        _cleanup_usage_ HpvmUsage *u = NULL;
        _cleanup_ledger_entry_ HpvmLedgerEntry e = { 0 };
        HpvmError err = { 0 };
        HpvmCpuSet busy, pinned;

        assert_valid(what, xml);
        ck_assert_msg(hpvm_domain_parse(xml, strlen(xml), &dom, &err) == 0, "%s", err.msg);
        ck_assert_int_eq(hpvm_domain_get_req(dom, &req, &err), 0);
        dst_usage(d, key, &h, &u);
        busy = u->reserved;
        hpvm_cpuset_or(&busy, &u->taken);
        hpvm_cpuset_zero(&pinned);
        for (size_t i = 0; i < req.vcpupin.n; i++) {
                const HpvmCpuSet *s = &req.vcpupin.pins[i].cpus;

                ck_assert_msg(hpvm_cpuset_is_subset(s, &h->online), "%s: vCPU %u pinned off the host", what,
                              req.vcpupin.pins[i].id);
                ck_assert_msg(!hpvm_cpuset_intersects(s, &busy), "%s: vCPU %u pinned to a CPU kept or held", what,
                              req.vcpupin.pins[i].id);
                hpvm_cpuset_or(&pinned, s);
        }
        ck_assert_msg(hpvm_vmreq_check_online(&req, h, HPVM_PINS_EMULATOR | HPVM_PINS_IOTHREAD, "pins", &err) == 0,
                      "%s: %s", what, err.msg);
        for (size_t c = 0; c < req.ncells && req.vcpupin.n; c++) {
                HpvmCpuSet cpus;
                int node = -1;

                hpvm_cpuset_zero(&cpus);
                for (size_t i = 0; i < req.vcpupin.n; i++)
                        if (hpvm_cpuset_test(&req.cells[c].vcpus, req.vcpupin.pins[i].id))
                                hpvm_cpuset_or(&cpus, &req.vcpupin.pins[i].cpus);
                for (size_t n = 0; n < h->nnodes; n++)
                        if (hpvm_cpuset_is_subset(&cpus, &h->nodes[n].cpus))
                                node = (int)h->nodes[n].id;
                ck_assert_msg(node >= 0, "%s: guest cell %u spans host nodes", what, req.cells[c].id);
                if (req.cells[c].has_memnode)
                        ck_assert_msg(hpvm_cpuset_count(&req.cells[c].nodes) == 1 &&
                                      hpvm_cpuset_test(&req.cells[c].nodes, (unsigned)node),
                                      "%s: guest cell %u runs on node %d, its memory is bound elsewhere", what,
                                      req.cells[c].id, node);
        }
        ck_assert_msg(hpvm_vmreq_check_nodes(&req, h, "nodes", &err) == 0, "%s: %s", what, err.msg);
        ck_assert_msg(hpvm_vmreq_check_memory(&req, h, u, true, req.page_kib > 0, "numatune", "hugepages", &err) == 0,
                      "%s: %s", what, err.msg);
        ck_assert_int_eq(dst_entry(d, key, &e), 0);
        ck_assert_msg(e.reserved, "%s: no reservation", what);
        ck_assert_msg(hpvm_cpuset_is_subset(&pinned, &e.cpus), "%s: pins outside the reservation", what);
}

/* ------------------------------------------------------------ the seed's limitation */

/*
 * A VM NUMA-pinned with no explicit CPU pinning (vdsm pins every vCPU to its
 * node's whole CPU range) from a 2x16-CPU host to a 2x8-CPU one, through the
 * whole hook sequence: source XML -> destination check -> `migrate begin` on
 * the XML vdsm's own libvirt hook re-serialized -> after destination.
 */
START_TEST(test_seed_limitation)
{
        Dst d;
        Run r = { 0 };
        char *src = th_src("tests/data/migrate/vdsm-2x16.xml"), *etree = th_src("tests/data/migrate/etree-2x16.xml");
        char *srcxml = th_slurp(src, NULL), *etxml = th_slurp(etree, NULL);
        const char *env[] = { "cpupolicy=dedicated", NULL };
        HpvmMigrateCtx c;
        _cleanup_ledger_entry_ HpvmLedgerEntry e = { 0 };
        _cleanup_free_ char *ledger = NULL;

        dst_init(&d, "2x8x1 mem=32G", NULL);
        /* vdsm's check of the source XML. */
        ck_assert_msg(check(&d, srcxml, env, NOW, &r) == 0, "%s", r.err.msg);
        ck_assert_uint_eq(r.notes.n, 1);
        ck_assert_str_eq(r.notes.msg[0], "this host can run VM db-large-01: reserved host CPUs 1-6,9-14 on nodes 0-1 "
                                         "until it arrives (at most 600 s)");
        ck_assert_uint_eq(r.warn.n, 0);
        /* libvirt's migrate begin behind vdsm's hook. */
        ck_assert_msg(refit(&d, etxml, NOW + 5, &r) == 0, "%s", r.err.msg);
        ck_assert_ptr_nonnull(r.out);
        ck_assert_uint_eq(r.notes.n, 2);
        ck_assert_str_eq(r.notes.msg[1], "re-fitted vCPU pins to this host: 0-31 -> 1-6,9-14 (nodes 0-1)");
        assert_fits("seed", &d, r.out, UUID_A);
        /* Only the pins changed: every vCPU of a cell shares its cell's new CPUs, as it shared its node's. */
        ck_assert_ptr_nonnull(strstr(r.out, "<vcpupin vcpu=\"0\" cpuset=\"1-6\"/>"));
        ck_assert_ptr_nonnull(strstr(r.out, "<vcpupin vcpu=\"11\" cpuset=\"9-14\"/>"));
        ck_assert_ptr_nonnull(strstr(r.out, "<ns1:cpupolicy>dedicated</ns1:cpupolicy>"));
        ck_assert_ptr_nonnull(strstr(r.out, "<memnode cellid=\"1\" mode=\"strict\" nodeset=\"1\"/>"));
        ck_assert_ptr_nonnull(strstr(r.out, "<cell id=\"1\" cpus=\"6-11\" memory=\"4194304\" unit=\"KiB\"/>"));
        /* libvirt starts it, then vdsm's after_vm_migrate_destination. */
        c = ctx_of(&d, NULL, NOW + 9);
        ck_assert_msg(hpvm_migrate_started(&c, r.out, r.outlen, &r.notes, &r.warn, &r.err) == 0, "%s", r.err.msg);
        c.vm_id = UUID_A;
        ck_assert_msg(hpvm_migrate_arrived(&c, r.out, r.outlen, &r.notes, &r.warn, &r.err) == 0, "%s", r.err.msg);
        ck_assert_uint_eq(r.warn.n, 0);
        ck_assert_int_eq(dst_entry(&d, UUID_A, &e), 0);
        ck_assert(!e.reserved);
        ledger = dst_ledger_text(&d);
        ck_assert_str_eq(ledger, "hpvm-state 1 cpus\n"
                                 "vm " UUID_A " name=db-large-01 state=running since=1800000009 cpus=1-6,9-14\n");
        run_clear(&r);
        free(src);
        free(etree);
        free(srcxml);
        free(etxml);
        dst_clear(&d);
}
END_TEST

/* ------------------------------------------------------------ host shapes */

typedef struct Row {
        const char *what;
        const char *dst;                /* host spec (th_host, + invtsc, tsc=) */
        const char *conf;               /* hpvm.conf lines besides state_dir and sysfs_root */
        const char *taken;              /* CPUs another VM holds here, or NULL */
        VmShape vm;
        const char *refusal;            /* NULL: fits; else the check's whole message */
} Row;

static const Row rows[] = {
        /* 1 node */
        { "1 node: 4 vCPUs pinned by hand on another host", "1x8x1", NULL, NULL,
          { .vcpus = 4, .pins = PINS_LIST, .list = "20-23" }, NULL },
        { "1 node, SMT: 8 vCPUs of 2 threads, node-wide pins", "1x8x2", NULL, NULL,
          { .vcpus = 8, .threads = 2, .pins = PINS_NODE, .node_cpus = 32 }, NULL },
        { "1 node, too few CPUs", "1x4x1", NULL, NULL,
          { .vcpus = 8, .pins = PINS_NODE, .node_cpus = 16 },
          "this host cannot run VM vm1: the host has 3 free CPUs (after 1 reserved), the VM needs 8" },
        { "1 node, memory too small", "1x8x1 mem=4G", NULL, NULL,
          { .vcpus = 2, .pins = PINS_NODE, .node_cpus = 8, .cell_kib = 8388608, .numatune = "strict:0" },
          "this host cannot run VM vm1: the host has 4 GiB of free memory, the VM needs 8 GiB" },
        /* 2 nodes */
        { "2x8: 12 vCPUs in 2 cells, from 2x16", "2x8x1 mem=32G", NULL, NULL,
          { .vcpus = 12, .ncells = 2, .cell_kib = 4194304, .pins = PINS_NODE, .node_cpus = 16, .memnode = true,
            .numatune = "strict:0-1" }, NULL },
        { "2x8: 16 vCPUs in 2 cells", "2x8x1 mem=32G", NULL, NULL,
          { .vcpus = 16, .ncells = 2, .pins = PINS_NODE, .node_cpus = 16, .memnode = true },
          "this host cannot run VM vm1: no host node has 8 free CPUs for guest cell 0 (node 0 has 7, node 1 has 7)" },
        { "2x8, nothing reserved: 16 vCPUs in 2 cells", "2x8x1 mem=32G", "reserved_cpus=\n", NULL,
          { .vcpus = 16, .ncells = 2, .pins = PINS_NODE, .node_cpus = 16, .memnode = true }, NULL },
        { "2x4x2 SMT: 8 vCPUs of 2 threads in 2 cells", "2x4x2", NULL, NULL,
          { .vcpus = 8, .threads = 2, .ncells = 2, .pins = PINS_NODE, .node_cpus = 16, .memnode = true }, NULL },
        { "2x8, no SMT: a VM of 2 threads per core", "2x8x1", NULL, NULL,
          { .vcpus = 4, .threads = 2, .pins = PINS_LIST, .list = "0-3" },
          "this host cannot run VM vm1: the host has 0 cores with 2 free threads (after 2 reserved), the VM needs 2 "
          "for its 4 vCPUs (cpupolicy=dedicated keeps the 2 threads of a guest core on one host core)" },
        { "2x8 partly taken: both cells share node 1", "2x8x1 mem=32G", NULL, "1-7",
          { .vcpus = 6, .ncells = 2, .pins = PINS_NODE, .node_cpus = 16, .memnode = true }, NULL },
        { "2x8 partly taken: no room left", "2x8x1 mem=32G", NULL, "9-15",
          { .vcpus = 8, .ncells = 2, .pins = PINS_NODE, .node_cpus = 16, .memnode = true },
          "this host cannot run VM vm1: the host has 7 free CPUs (after 2 reserved and 7 held by other VMs), the VM "
          "needs 8" },
        /* 4 nodes */
        { "4x8: 2 cells of 6 from 2x16", "4x8x1", NULL, NULL,
          { .vcpus = 12, .ncells = 2, .pins = PINS_NODE, .node_cpus = 16, .memnode = true }, NULL },
        { "4x4x2 SMT, cpupolicy=isolate", "4x4x2", NULL, NULL,
          { .vcpus = 4, .pins = PINS_NODE, .node_cpus = 16, .custom = "cpupolicy=isolate" }, NULL },
        /* Under dedicated 4 free CPUs of node 3 would do; oVirt's isolate-threads needs whole cores. */
        { "4x4x2, oVirt isolate-threads", "4x4x2", NULL, "1-7,9-15,17-23",
          { .vcpus = 4, .pins = PINS_NODE, .node_cpus = 16, .cpu_policy = "isolate-threads" },
          "this host cannot run VM vm1: the host has 3 free whole cores (after 8 reserved and 18 held by other VMs), "
          "the VM needs 4 (cpupolicy=isolate gives each vCPU a whole core)" },
        { "4 nodes, 1G pages free on nodes 2-3 only", "4x4x1 hp=1G:2 hpfree=1G:0,0,2,2", NULL, NULL,
          { .vcpus = 4, .ncells = 2, .cell_kib = 2097152, .page_kib = 1048576, .pins = PINS_NODE, .node_cpus = 8,
            .memnode = true }, NULL },
        { "4 nodes, too few 1G pages", "4x4x1 hp=1G:2 hpfree=1G:1", NULL, NULL,
          { .vcpus = 4, .ncells = 2, .cell_kib = 2097152, .page_kib = 1048576, .pins = PINS_NODE, .node_cpus = 8,
            .memnode = true },
          "this host cannot run VM vm1: the VM needs 2 pages of 1 GiB on one node for guest cell 0; node 0 has 1 free, "
          "node 1 has 1, node 2 has 1, node 3 has 1" },
        { "4 nodes, page size absent", "4x4x1 hp=2M:512", NULL, NULL,
          { .vcpus = 2, .page_kib = 1048576, .pins = PINS_NODE, .node_cpus = 8 },
          "this host cannot run VM vm1: hugepages: the host has no 1 GiB pages (it offers 2 MiB)" },
        { "4 nodes -> 2: NUMA binding, no CPU pins", "2x4x1", NULL, "1-3,5-7",
          { .vcpus = 4, .ncells = 2, .numatune = "strict:2-3", .memnode = true }, NULL },
        /* 8 nodes */
        { "8x2: a cell of 4 finds no node", "8x2x1", NULL, NULL,
          { .vcpus = 8, .ncells = 2, .pins = PINS_NODE, .node_cpus = 16, .memnode = true },
          "this host cannot run VM vm1: no host node has 4 free CPUs for guest cell 0 (node 0 has 1, node 1 has 1, "
          "node 2 has 1, node 3 has 1, node 4 has 1, node 5 has 1, node 6 has 1, node 7 has 1)" },
        { "8x4x2 SMT: 4 cells of 2 threads", "8x4x2", NULL, NULL,
          { .vcpus = 8, .threads = 2, .ncells = 4, .pins = PINS_NODE, .node_cpus = 8, .memnode = true }, NULL },
        { "8x4: emulator and IO thread pins", "8x4x1", NULL, NULL,
          { .vcpus = 2, .pins = PINS_LIST, .list = "40-41", .emulatorpin = "0-1", .iothreads = 1,
            .iothreadpin = "42" }, NULL },
        /* TSC */
        { "invtsc at the same frequency", "2x4x1 invtsc tsc=2100000000", NULL, NULL,
          { .vcpus = 2, .pins = PINS_LIST, .list = "2-3", .invtsc = true, .tsc_hz = 2100000000 }, NULL },
        { "invtsc at another frequency", "2x4x1 invtsc tsc=2400000000", NULL, NULL,
          { .vcpus = 2, .pins = PINS_LIST, .list = "2-3", .invtsc = true, .tsc_hz = 2100000000 },
          "this host cannot run VM vm1: invtsc: the VM runs its TSC at 2100000000 Hz, this host's runs at "
          "2400000000 Hz and its CPU cannot scale TSC" },
        { "invtsc on a host without", "2x4x1", NULL, NULL,
          { .vcpus = 2, .pins = PINS_LIST, .list = "2-3", .invtsc = true },
          "this host cannot run VM vm1: invtsc: the host CPU has no invariant TSC (its flags lack constant_tsc or "
          "nonstop_tsc), so the VM cannot require it" },
};

START_TEST(test_shapes)
{
        const Row *row = &rows[_i];
        _cleanup_free_ char *xml = vm_xml(&row->vm);
        Dst d;
        Run r = { 0 };
        int k;

        dst_init(&d, row->dst, row->conf);
        if (row->taken)
                dst_take(&d, UUID_OTHER, row->taken);
        k = check(&d, xml, NULL, NOW, &r);
        if (row->refusal) {
                ck_assert_msg(k == -ENOSPC, "%s: the check says %d %s", row->what, k, r.err.msg);
                ck_assert_str_eq(r.err.msg, row->refusal);
                ck_assert_msg(!strchr(r.err.msg, '\n'), "%s: more than one line", row->what);
                /* Nothing reserved, and the libvirt hook refuses alike. */
                ck_assert_int_eq(dst_entry(&d, UUID_A, &(HpvmLedgerEntry) { 0 }), -ENOENT);
                ck_assert_int_eq(refit(&d, xml, NOW, &r), -ENOSPC);
                ck_assert_ptr_null(r.out);
        } else {
                ck_assert_msg(k == 0, "%s: %s", row->what, r.err.msg);
                ck_assert_int_eq(refit(&d, xml, NOW + 1, &r), 0);
                assert_fits(row->what, &d, r.out ? r.out : xml, UUID_A);
        }
        run_clear(&r);
        dst_clear(&d);
}
END_TEST

/* ------------------------------------------------------------ reservations */

static const VmShape small = { .vcpus = 3, .ncells = 1, .pins = PINS_NODE, .node_cpus = 16, .memnode = true };

/* VMs migrating in one after another, each checked before any arrives: never the same CPU twice. */
START_TEST(test_concurrent)
{
        char *xml[8];
        HpvmCpuSet seen;
        Dst d;
        Run r = { 0 };
        unsigned fitted = 0;

        dst_init(&d, "2x8x1 mem=32G", NULL);
        hpvm_cpuset_zero(&seen);
        for (unsigned i = 0; i < 8; i++) {
                VmShape s = small;
                char name[16], uuid[40];

                snprintf(name, sizeof(name), "vm%u", i);
                snprintf(uuid, sizeof(uuid), "00000000-0000-4000-8000-%012u", i);
                s.name = name;
                s.uuid = uuid;
                xml[i] = vm_xml(&s);
                if (check(&d, xml[i], NULL, NOW, &r) < 0) {
                        char want[256];

                        snprintf(want, sizeof(want), "this host cannot run VM vm%u: no host node has 3 free CPUs for "
                                 "guest cell 0 (node 0 has 1, node 1 has 1)", i);
                        ck_assert_str_eq(r.err.msg, want);
                        continue;
                }
                fitted++;
        }
        /* 14 free CPUs, 3 per VM, one cell per node: 4 fit. */
        ck_assert_uint_eq(fitted, 4);
        /* libvirt's migrate begin, in the other order: each gets what its check reserved. */
        for (int i = (int)fitted - 1; i >= 0; i--) {
                char uuid[40];
                _cleanup_ledger_entry_ HpvmLedgerEntry e = { 0 };
                _cleanup_domain_ HpvmDomain *dom = NULL;
                HpvmCpuSet pins;

                snprintf(uuid, sizeof(uuid), "00000000-0000-4000-8000-%012d", i);
                ck_assert_msg(refit(&d, xml[i], NOW + 1, &r) == 0, "%s", r.err.msg);
                ck_assert_int_eq(hpvm_domain_parse(r.out, r.outlen, &dom, &r.err), 0);
                hpvm_domain_get_pinned(dom, "vcpupin", &pins);
                ck_assert_int_eq(dst_entry(&d, uuid, &e), 0);
                ck_assert(hpvm_cpuset_equal(&pins, &e.cpus));
                ck_assert_msg(!hpvm_cpuset_intersects(&pins, &seen), "two VMs on one CPU");
                hpvm_cpuset_or(&seen, &pins);
                assert_fits("concurrent", &d, r.out, uuid);
        }
        for (unsigned i = 0; i < 8; i++)
                free(xml[i]);
        run_clear(&r);
        dst_clear(&d);
}
END_TEST

/* A reservation whose VM never arrives ends after migration_reservation_timeout. */
START_TEST(test_expiry)
{
        VmShape a = small, b = small;
        _cleanup_free_ char *xa = NULL, *xb = NULL;
        _cleanup_ledger_entry_ HpvmLedgerEntry ea = { 0 }, eb = { 0 };
        Dst d;
        Run r = { 0 };

        a.vcpus = b.vcpus = 7;
        b.name = "vm2";
        b.uuid = UUID_B;
        xa = vm_xml(&a);
        xb = vm_xml(&b);
        dst_init(&d, "1x8x1", "migration_reservation_timeout=300\n");
        ck_assert_msg(check(&d, xa, NULL, NOW, &r) == 0, "%s", r.err.msg);
        ck_assert_int_eq(dst_entry(&d, UUID_A, &ea), 0);
        ck_assert_int_eq(ea.expires, NOW + 300);
        /* Held until its expiry... */
        ck_assert_int_eq(check(&d, xb, NULL, NOW + 299, &r), -ENOSPC);
        ck_assert_str_eq(r.err.msg, "this host cannot run VM vm2: node 0 has 0 free CPUs, guest cell 0 needs 7");
        /* ... then dropped, with a warning, and the CPUs go to the next VM. */
        memset(&r.warn, 0, sizeof(r.warn));
        ck_assert_msg(check(&d, xb, NULL, NOW + 300, &r) == 0, "%s", r.err.msg);
        ck_assert_uint_eq(r.warn.n, 1);
        ck_assert_str_eq(r.warn.msg[0], "ledger: released the CPUs of VM " UUID_A ": its reservation for an incoming "
                                        "migration expired");
        ck_assert_int_eq(dst_entry(&d, UUID_A, &ea), -ENOENT);
        ck_assert_int_eq(dst_entry(&d, UUID_B, &eb), 0);
        ck_assert_int_eq(eb.expires, NOW + 600);
        /* The late VM's libvirt hook finds no reservation and no room: the migration stops there. */
        ck_assert_int_eq(refit(&d, xa, NOW + 301, &r), -ENOSPC);
        run_clear(&r);
        dst_clear(&d);
}
END_TEST

/* `migrate begin` renews the reservation, and `started` makes it a running entry that expiry does not touch. */
START_TEST(test_running_states)
{
        _cleanup_free_ char *xml = vm_xml(&small), *ledger = NULL;
        _cleanup_ledger_entry_ HpvmLedgerEntry e = { 0 };
        HpvmMigrateCtx c;
        Dst d;
        Run r = { 0 };

        dst_init(&d, "2x8x1", NULL);
        ck_assert_int_eq(check(&d, xml, NULL, NOW, &r), 0);
        ck_assert_int_eq(refit(&d, xml, NOW + 500, &r), 0);
        ck_assert_int_eq(dst_entry(&d, UUID_A, &e), 0);
        ck_assert_int_eq(e.expires, NOW + 1100);
        c = ctx_of(&d, NULL, NOW + 1000);
        ck_assert_int_eq(hpvm_migrate_started(&c, r.out, r.outlen, &r.notes, &r.warn, &r.err), 0);
        ck_assert_str_eq(r.notes.msg[r.notes.n - 1], "VM vm1 runs here: it holds host CPUs 1-3");
        /* Long after any expiry: still held (reclaim asks /proc for running entries only after the grace). */
        memset(&r.warn, 0, sizeof(r.warn));
        ck_assert_int_eq(check(&d, xml, NULL, NOW + 1050, &r), 0);
        ck_assert_uint_eq(r.warn.n, 0);
        /* A second started (a libvirtd restart reconnecting) changes nothing; release end drops it. */
        ck_assert_int_eq(hpvm_migrate_started(&c, r.out, r.outlen, &r.notes, &r.warn, &r.err), 0);
        ck_assert_int_eq(hpvm_migrate_release(&c, xml, strlen(xml), &r.notes, &r.err), 1);
        ck_assert_int_eq(hpvm_migrate_release(&c, xml, strlen(xml), &r.notes, &r.err), 0);
        ledger = dst_ledger_text(&d);
        ck_assert_str_eq(ledger, "hpvm-state 1 cpus\n");
        run_clear(&r);
        dst_clear(&d);
}
END_TEST

/* ------------------------------------------------------------ migration_refit=false */

static const struct {
        const char *what;
        const char *taken;
        const char *list;
        const char *refusal;
} exact_rows[] = {
        { "pins valid and free", NULL, "2-5", NULL },
        { "a pin this host lacks", NULL, "5-8",
          "this host cannot run VM vm1 with its pins as they are: migration_refit=false: vCPU 3: host CPU 8 is not "
          "online (online CPUs: 0-7)" },
        { "a pin another VM holds", "4", "2-5",
          "this host cannot run VM vm1 with its pins as they are: migration_refit=false: vCPU 2 is pinned to host "
          "CPU 4, which another VM holds (see @DIR@/state/cpus)" },
        { "a pin kept for the host", NULL, "0-3",
          "this host cannot run VM vm1 with its pins as they are: migration_refit=false: vCPU 0 is pinned to host "
          "CPU 0, which is kept for the host" },
};

START_TEST(test_refit_false)
{
        VmShape s = { .vcpus = 4, .pins = PINS_LIST, .list = exact_rows[_i].list, .numatune = "strict:0",
                      .custom = "migration_refit=false" };
        _cleanup_free_ char *xml = vm_xml(&s);
        _cleanup_ledger_entry_ HpvmLedgerEntry e = { 0 };
        const char *env[] = { "migration_refit=false", NULL };
        Dst d;
        Run r = { 0 };
        int k;

        dst_init(&d, "1x8x1", NULL);
        if (exact_rows[_i].taken)
                dst_take(&d, UUID_OTHER, exact_rows[_i].taken);
        k = check(&d, xml, env, NOW, &r);
        if (exact_rows[_i].refusal) {
                char want[1024];
                const char *at = strstr(exact_rows[_i].refusal, "@DIR@");

                if (at)
                        snprintf(want, sizeof(want), "%.*s%s%s", (int)(at - exact_rows[_i].refusal),
                                 exact_rows[_i].refusal, d.dir, at + 5);
                else
                        snprintf(want, sizeof(want), "%s", exact_rows[_i].refusal);
                ck_assert_int_eq(k, -ENOSPC);
                ck_assert_str_eq(r.err.msg, want);
                ck_assert_int_eq(refit(&d, xml, NOW, &r), -ENOSPC);
                ck_assert_str_eq(r.err.msg, want);
        } else {
                ck_assert_msg(k == 0, "%s", r.err.msg);
                ck_assert_str_eq(r.notes.msg[0], "this host can run VM vm1 with its pins as they are (migration_refit=false): "
                                                 "reserved host CPUs 2-5 on node 0 until it arrives (at most 600 s)");
                /* The XML goes through untouched, and the reservation holds its exact pins. */
                ck_assert_int_eq(refit(&d, xml, NOW, &r), 0);
                ck_assert_ptr_null(r.out);
                ck_assert_int_eq(dst_entry(&d, UUID_A, &e), 0);
                ck_assert(e.reserved);
                ck_assert_int_eq(hpvm_cpuset_count(&e.cpus), 4);
                ck_assert(hpvm_cpuset_test(&e.cpus, 2) && hpvm_cpuset_test(&e.cpus, 5));
        }
        run_clear(&r);
        dst_clear(&d);
}
END_TEST

/* ------------------------------------------------------------ hand pins */

START_TEST(test_hand_pins_kept)
{
        VmShape s = { .vcpus = 4, .ncells = 1, .pins = PINS_LIST, .list = "9,11-13", .memnode = true,
                      .emulatorpin = "15", .iothreads = 1, .iothreadpin = "14" };
        _cleanup_free_ char *xml = vm_xml(&s);
        _cleanup_ledger_entry_ HpvmLedgerEntry e = { 0 };
        Dst d;
        Run r = { 0 };

        /* Node 1 holds CPUs 8-15: every pin is valid and free there; only the memnode moves (source node 0). */
        dst_init(&d, "2x8x1", NULL);
        ck_assert_msg(check(&d, xml, NULL, NOW, &r) == 0, "%s", r.err.msg);
        ck_assert_uint_eq(r.warn.n, 0);
        ck_assert_int_eq(refit(&d, xml, NOW, &r), 0);
        ck_assert_ptr_nonnull(r.out);
        ck_assert_uint_eq(r.notes.n, 2);
        ck_assert_str_eq(r.notes.msg[1], "re-bound the memory of guest cell 0 to this host: node 0 -> 1");
        ck_assert_ptr_nonnull(strstr(r.out, "<vcpupin vcpu=\"0\" cpuset=\"9\"/>"));
        ck_assert_ptr_nonnull(strstr(r.out, "<vcpupin vcpu=\"3\" cpuset=\"13\"/>"));
        ck_assert_ptr_nonnull(strstr(r.out, "<emulatorpin cpuset=\"15\"/>"));
        ck_assert_ptr_nonnull(strstr(r.out, "<iothreadpin iothread=\"1\" cpuset=\"14\"/>"));
        assert_fits("hand pins", &d, r.out, UUID_A);
        /* The VM holds its own helper CPUs, not the ones the engine would have chosen. */
        ck_assert_int_eq(dst_entry(&d, UUID_A, &e), 0);
        ck_assert_int_eq(hpvm_cpuset_count(&e.cpus), 6);
        ck_assert(hpvm_cpuset_test(&e.cpus, 14) && hpvm_cpuset_test(&e.cpus, 15));
        run_clear(&r);
        dst_clear(&d);
}
END_TEST

START_TEST(test_hand_pins_partly)
{
        VmShape s = { .vcpus = 4, .pins = PINS_LIST, .list = "4-7" };
        _cleanup_free_ char *xml = vm_xml(&s);
        Dst d;
        Run r = { 0 };

        /* CPU 5 is another VM's: vCPU 1 moves, the others keep their pins. */
        dst_init(&d, "1x8x1", NULL);
        dst_take(&d, UUID_OTHER, "5");
        ck_assert_msg(check(&d, xml, NULL, NOW, &r) == 0, "%s", r.err.msg);
        ck_assert_uint_eq(r.warn.n, 1);
        ck_assert_str_eq(r.warn.msg[0], "vCPU 1 pinned by hand to host CPU 5 cannot keep its pin here (host CPU 5: "
                                        "another VM holds it): re-fitted to host CPU 1");
        ck_assert_int_eq(refit(&d, xml, NOW, &r), 0);
        ck_assert_ptr_nonnull(strstr(r.out, "<vcpupin vcpu=\"0\" cpuset=\"4\"/>"));
        ck_assert_ptr_nonnull(strstr(r.out, "<vcpupin vcpu=\"1\" cpuset=\"1\"/>"));
        ck_assert_ptr_nonnull(strstr(r.out, "<vcpupin vcpu=\"2\" cpuset=\"6\"/>"));
        /* libvirt's log says it again (what holds CPU 5 is the check's business). */
        ck_assert_uint_eq(r.warn.n, 2);
        ck_assert_str_eq(r.warn.msg[1], "vCPU 1 pinned by hand to host CPU 5 cannot keep its pin here: re-fitted to "
                                        "host CPU 1");
        assert_fits("hand pins partly", &d, r.out, UUID_A);
        run_clear(&r);
        dst_clear(&d);
}
END_TEST

/* ------------------------------------------------------------ restore, idempotence, untouched VMs */

START_TEST(test_restore)
{
        VmShape s = { .vcpus = 4, .ncells = 2, .pins = PINS_NODE, .node_cpus = 16, .memnode = true };
        _cleanup_free_ char *xml = vm_xml(&s), *ledger = NULL;
        HpvmMigrateCtx c;
        Dst d;
        Run r = { 0 };

        /* `restore begin` with no check before it: placed, reserved, then running at `started`. */
        dst_init(&d, "2x4x1", NULL);
        ck_assert_msg(refit(&d, xml, NOW, &r) == 0, "%s", r.err.msg);
        assert_fits("restore", &d, r.out, UUID_A);
        c = ctx_of(&d, NULL, NOW + 2);
        ck_assert_int_eq(hpvm_migrate_started(&c, r.out, r.outlen, &r.notes, &r.warn, &r.err), 0);
        ledger = dst_ledger_text(&d);
        ck_assert_str_eq(ledger, "hpvm-state 1 cpus\n"
                                 "vm " UUID_A " name=vm1 state=running since=1800000002 cpus=1-2,5-6\n");
        run_clear(&r);
        dst_clear(&d);
}
END_TEST

START_TEST(test_idempotent)
{
        VmShape s = { .vcpus = 8, .threads = 2, .ncells = 2, .pins = PINS_NODE, .node_cpus = 16, .memnode = true,
                      .numatune = "strict:0-1", .emulatorpin = "0-31", .iothreads = 2, .iothreadpin = "0-31" };
        _cleanup_free_ char *xml = vm_xml(&s), *first = NULL;
        Dst d;
        Run r = { 0 };

        dst_init(&d, "4x4x2", NULL);
        ck_assert_msg(check(&d, xml, NULL, NOW, &r) == 0, "%s", r.err.msg);
        ck_assert_int_eq(refit(&d, xml, NOW, &r), 0);
        assert_fits("idempotent", &d, r.out, UUID_A);
        first = r.out;
        r.out = NULL;
        /* The same reservation on the re-fitted XML: nothing to change, nothing printed. */
        memset(&r.notes, 0, sizeof(r.notes));
        ck_assert_int_eq(refit(&d, first, NOW + 1, &r), 0);
        ck_assert_ptr_null(r.out);
        ck_assert_uint_eq(r.notes.n, 0);
        /* And the original XML again gives the same document. */
        ck_assert_int_eq(refit(&d, xml, NOW + 2, &r), 0);
        ck_assert_str_eq(r.out, first);
        run_clear(&r);
        dst_clear(&d);
}
END_TEST

START_TEST(test_untouched)
{
        VmShape s = { .vcpus = 4, .ncells = 2 };
        _cleanup_free_ char *xml = vm_xml(&s), *ledger = NULL;
        HpvmMigrateCtx c;
        Dst d;
        Run r = { 0 };

        /* Neither pinned nor NUMA-tuned: no check (even on a host it would not fit), no reservation, no rewrite. */
        dst_init(&d, "1x2x1", NULL);
        ck_assert_int_eq(check(&d, xml, NULL, NOW, &r), 0);
        ck_assert_int_eq(refit(&d, xml, NOW, &r), 0);
        ck_assert_ptr_null(r.out);
        c = ctx_of(&d, NULL, NOW);
        ck_assert_int_eq(hpvm_migrate_started(&c, xml, strlen(xml), &r.notes, &r.warn, &r.err), 0);
        ck_assert_int_eq(hpvm_migrate_arrived(&c, xml, strlen(xml), &r.notes, &r.warn, &r.err), 0);
        ck_assert_uint_eq(r.notes.n + r.warn.n, 0);
        ledger = dst_ledger_text(&d);
        ck_assert_str_eq(ledger, "");
        run_clear(&r);
        dst_clear(&d);
}
END_TEST

/* A NUMA-tuned VM holds memory while it comes in, no CPU: its reservation goes when it runs. */
START_TEST(test_numa_only)
{
        VmShape s = { .vcpus = 4, .ncells = 2, .cell_kib = 2097152, .numatune = "interleave:2-3", .memnode = true };
        _cleanup_free_ char *xml = vm_xml(&s), *ledger = NULL;
        HpvmMigrateCtx c;
        Dst d;
        Run r = { 0 };

        dst_init(&d, "2x4x1 mem=8G", NULL);
        dst_take(&d, UUID_OTHER, "0-7");
        ck_assert_msg(check(&d, xml, NULL, NOW, &r) == 0, "%s", r.err.msg);
        ck_assert_str_eq(r.notes.msg[0], "this host can run VM vm1: its memory goes to nodes 0-1, reserved until it "
                                         "arrives (at most 600 s); it holds no host CPU");
        ck_assert_int_eq(refit(&d, xml, NOW, &r), 0);
        ck_assert_ptr_null(strstr(r.out, "vcpupin"));
        ck_assert_ptr_nonnull(strstr(r.out, "<memory mode=\"interleave\" nodeset=\"0-1\"/>"));
        ck_assert_str_eq(r.notes.msg[1], "re-bound the VM's memory to this host: nodes 2-3 -> 0-1");
        assert_valid("numa only", r.out);
        c = ctx_of(&d, NULL, NOW + 1);
        ck_assert_int_eq(hpvm_migrate_started(&c, r.out, r.outlen, &r.notes, &r.warn, &r.err), 0);
        ledger = dst_ledger_text(&d);
        ck_assert_ptr_null(strstr(ledger, UUID_A));
        run_clear(&r);
        dst_clear(&d);
}
END_TEST

/*
 * A NUMA-tuned VM keeps its node numbers where those nodes exist here and
 * have room: between identical hosts its XML goes through as it is. Where
 * they do not, the engine places it anywhere and the memory is re-bound.
 */
static const struct {
        VmShape s;
        const char *host;
        const char *goes;       /* the check's "its memory goes to ..." */
        const char *rebound;    /* the refit's note, NULL: the XML is not changed */
} kept_cases[] = {
        { { .vcpus = 4, .numatune = "strict:1" }, "2x4x1 mem=8G", "node 1", NULL },
        { { .vcpus = 4, .ncells = 2, .memnode = true }, "2x4x1 mem=8G", "nodes 0-1", NULL },
        { { .vcpus = 4, .numatune = "strict:1" }, "1x4x1 mem=8G", "node 0",
          "re-bound the VM's memory to this host: node 1 -> 0" },
        { { .vcpus = 4, .numatune = "strict:1", .cell_kib = 10485760 }, "2x4x1 mem=8G", "nodes 0-1",
          "re-bound the VM's memory to this host: node 1 -> 0-1" },
        { { .vcpus = 4, .numatune = "strict:1", .cell_kib = 20971520 }, "2x4x1 mem=8G", NULL, NULL },
};

START_TEST(test_numa_node_kept)
{
        _cleanup_free_ char *xml = vm_xml(&kept_cases[_i].s), *want = NULL;
        Dst d;
        Run r = { 0 };

        dst_init(&d, kept_cases[_i].host, NULL);
        if (!kept_cases[_i].goes) {
                /* 20 GiB fits not even both 8 GiB nodes: refused, whatever the source's node. */
                ck_assert_int_eq(check(&d, xml, NULL, NOW, &r), -ENOSPC);
        } else {
                ck_assert_msg(check(&d, xml, NULL, NOW, &r) == 0, "%s", r.err.msg);
                ck_assert_int_ge(asprintf(&want, "this host can run VM vm1: its memory goes to %s, reserved until it "
                                                 "arrives (at most 600 s); it holds no host CPU", kept_cases[_i].goes), 0);
                ck_assert_str_eq(r.notes.msg[0], want);
                ck_assert_int_eq(refit(&d, xml, NOW, &r), 0);
                if (kept_cases[_i].rebound) {
                        ck_assert_ptr_nonnull(r.out);
                        ck_assert_str_eq(r.notes.msg[1], kept_cases[_i].rebound);
                        assert_valid("node moved", r.out);
                } else {
                        ck_assert_ptr_null(r.out);
                        ck_assert_uint_eq(r.notes.n, 1);
                }
        }
        run_clear(&r);
        dst_clear(&d);
}
END_TEST

/* A shape the engine does not model (vCPUs 2-3 in no guest cell): the pins as they are, when they hold. */
START_TEST(test_unmodelled)
{
        VmShape s = { .vcpus = 4, .pins = PINS_LIST, .list = "2-5" };
        _cleanup_free_ char *xml = vm_xml(&s), *bad = NULL;
        char *cell;
        Dst d;
        Run r = { 0 };

        /* One cell of vCPUs 0-1 only: libvirt takes it (the others are in no cell), the engine does not. */
        cell = strstr(xml, "  </cpu>");
        ck_assert_int_ge(asprintf(&bad, "%.*s    <numa>\n      <cell id='0' cpus='0-1' memory='1048576' unit='KiB'/>\n"
                                        "    </numa>\n%s", (int)(cell - xml), xml, cell), 0);
        dst_init(&d, "1x8x1", NULL);
        ck_assert_msg(check(&d, bad, NULL, NOW, &r) == 0, "%s", r.err.msg);
        ck_assert_str_eq(r.warn.msg[0], "VM vm1 cannot be re-fitted (vCPU 2 is in no guest cell): its pins and node "
                                        "sets stay as they are");
        ck_assert_int_eq(refit(&d, bad, NOW, &r), 0);
        ck_assert_ptr_null(r.out);
        /* On a host where they do not hold, the refusal says so. */
        dst_clear(&d);
        dst_init(&d, "1x4x1", NULL);
        ck_assert_int_eq(check(&d, bad, NULL, NOW, &r), -ENOSPC);
        ck_assert_str_eq(r.err.msg, "this host cannot run VM vm1 with its pins as they are: cputune: vCPU 2: host CPU 4 is "
                                    "not online (online CPUs: 0-3)");
        run_clear(&r);
        dst_clear(&d);
}
END_TEST

/* ------------------------------------------------------------ TSC scaling (a capabilities host) */

START_TEST(test_tsc_scaling)
{
        static const char caps[] =
                "<capabilities><host><cpu><arch>x86_64</arch>"
                "<counter name='tsc' frequency='2400000000' scaling='%s'/><feature name='invtsc'/></cpu>"
                "<topology><cells num='1'><cell id='0'><memory unit='KiB'>16777216</memory>"
                "<cpus num='4'><cpu id='0' socket_id='0' die_id='0' core_id='0' siblings='0'/>"
                "<cpu id='1' socket_id='0' die_id='0' core_id='1' siblings='1'/>"
                "<cpu id='2' socket_id='0' die_id='0' core_id='2' siblings='2'/>"
                "<cpu id='3' socket_id='0' die_id='0' core_id='3' siblings='3'/></cpus>"
                "</cell></cells></topology></host></capabilities>\n";
        VmShape s = { .vcpus = 2, .pins = PINS_LIST, .list = "2-3", .invtsc = true, .tsc_hz = 2100000000 };
        _cleanup_free_ char *xml = vm_xml(&s);
        char text[2048];
        Dst d;
        Run r = { 0 };

        dst_init(&d, "1x4x1", NULL);
        ck_assert_int_ge(asprintf(&d.caps, "%s/caps.xml", d.dir), 0);
        snprintf(text, sizeof(text), caps, "no");
        th_write(d.caps, text, strlen(text), 0644);
        ck_assert_int_eq(check(&d, xml, NULL, NOW, &r), -ENOSPC);
        snprintf(text, sizeof(text), caps, "yes");
        th_write(d.caps, text, strlen(text), 0644);
        ck_assert_msg(check(&d, xml, NULL, NOW, &r) == 0, "%s", r.err.msg);
        run_clear(&r);
        dst_clear(&d);
}
END_TEST

/* ------------------------------------------------------------ refusals that are not about room */

START_TEST(test_bad_input)
{
        VmShape bad_policy = { .vcpus = 2, .pins = PINS_LIST, .list = "0-1", .custom = "cpupolicy=whatever" };
        VmShape bad_refit = { .vcpus = 2, .pins = PINS_LIST, .list = "0-1", .custom = "migration_refit=maybe" };
        _cleanup_free_ char *x1 = vm_xml(&bad_policy), *x2 = vm_xml(&bad_refit), *ledger = NULL;
        const char *good[] = { "cpupolicy=dedicated", NULL };
        Dst d;
        Run r = { 0 };
        char path[4200];

        dst_init(&d, "1x4x1", NULL);
        ck_assert_int_eq(check(&d, x1, NULL, NOW, &r), -EINVAL);
        ck_assert_str_eq(r.err.msg, "cpupolicy: 'whatever': not a CPU policy (expected dedicated|isolate|siblings)");
        ck_assert_int_eq(refit(&d, x2, NOW, &r), -EINVAL);
        ck_assert_str_eq(r.err.msg, "migration_refit: 'maybe': not a boolean (expected true|false|yes|no|1|0)");
        ck_assert_int_eq(check(&d, "<domain", NULL, NOW, &r), -EINVAL);
        /* A damaged ledger refuses, naming the file and the repair. */
        snprintf(path, sizeof(path), "%s/state", d.dir);
        mkdir(path, 0755);
        snprintf(path, sizeof(path), "%s/state/cpus", d.dir);
        th_write(path, "hpvm-state 1 cpus\nvm x cpus=%zz\n", 32, 0644);
        ck_assert_int_eq(check(&d, x1, good, NOW, &r), -EBADMSG);
        ck_assert_msg(!strncmp(r.err.msg, path, strlen(path)), "%s", r.err.msg);
        ck_assert_ptr_nonnull(strstr(r.err.msg, "the state file is damaged; rebuild it with hpvm-fit --repair-ledger"));
        ledger = th_slurp(path, NULL);
        ck_assert_str_eq(ledger, "hpvm-state 1 cpus\nvm x cpus=%zz\n");
        run_clear(&r);
        dst_clear(&d);
}
END_TEST

static Suite *migrate_suite(void)
{
        Suite *s = suite_create("migrate");
        TCase *tc;

        tc = tcase_create("seed");
        tcase_add_test(tc, test_seed_limitation);
        tcase_set_timeout(tc, 60);
        suite_add_tcase(s, tc);

        tc = tcase_create("shapes");
        tcase_add_loop_test(tc, test_shapes, 0, (int)HPVM_ARRAY_SIZE(rows));
        tcase_set_timeout(tc, 60);
        suite_add_tcase(s, tc);

        tc = tcase_create("reservations");
        tcase_add_test(tc, test_concurrent);
        tcase_add_test(tc, test_expiry);
        tcase_add_test(tc, test_running_states);
        tcase_set_timeout(tc, 60);
        suite_add_tcase(s, tc);

        tc = tcase_create("refit");
        tcase_add_loop_test(tc, test_refit_false, 0, (int)HPVM_ARRAY_SIZE(exact_rows));
        tcase_add_test(tc, test_hand_pins_kept);
        tcase_add_test(tc, test_hand_pins_partly);
        tcase_add_test(tc, test_restore);
        tcase_add_test(tc, test_idempotent);
        tcase_add_test(tc, test_untouched);
        tcase_add_test(tc, test_numa_only);
        tcase_add_loop_test(tc, test_numa_node_kept, 0, sizeof(kept_cases) / sizeof(kept_cases[0]));
        tcase_add_test(tc, test_unmodelled);
        tcase_add_test(tc, test_tsc_scaling);
        tcase_add_test(tc, test_bad_input);
        tcase_set_timeout(tc, 60);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(migrate_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
