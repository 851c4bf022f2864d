/* vfmigrate-virt.c: the VF work of the migration hook points that talk to libvirtd: unplug and record on the source, re-plug on the destination, the watcher's actions. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "hotplug.h"
#include "sriov.h"
#include "vfledger.h"
#include "vfmeta.h"
#include "vfmigrate.h"
#include "virtconn.h"
#include "watch.h"
#include "xml.h"

static double mono_s(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The running (or defined) domain of @uuid on @conn. */
static int lookup(virConnectPtr conn, const char *uuid, virDomainPtr *ret, HpvmError *err)
{
        char q[HPVM_QUOTE_MAX];
        virDomainPtr dom;

        if (!uuid || !*uuid)
                return hpvm_error_set(err, -EINVAL, "the domain XML has no <uuid>: libvirt cannot find the VM without one");
        virResetLastError();
        dom = virDomainLookupByUUIDString(conn, uuid);
        if (!dom) {
                int code = hpvm_virt_last_code();

                hpvm_quote(uuid, strlen(uuid), q, sizeof(q));
                if (code == VIR_ERR_NO_DOMAIN || code == VIR_ERR_INVALID_ARG)
                        return hpvm_error_set(err, -ENOENT, "libvirt has no VM of UUID %s on this host", q);
                return hpvm_error_set(err, -EIO, "cannot look up the VM of UUID %s in libvirt: %s", q,
                                      hpvm_virt_last_error("no reason given"));
        }
        *ret = dom;
        return 0;
}

/* The <uuid> of @d into @buf ("" when none). */
static void domain_uuid(const HpvmDomain *d, char *buf, size_t size)
{
        HpvmVfMigCtx none = { .config = NULL };
        HpvmError ignored = { 0 };

        if (hpvm_vfmig_vm_id(&none, d, buf, size, &ignored) < 0)
                buf[0] = '\0';
}

/* ---------------------------------------------------------------- source */

/* Plug back the @n NICs this call unplugged (their recorded element in @m) and put the record back as @before; say so in @err. */
static void undo_source(virDomainPtr dom, const HpvmVfMeta *before, const HpvmVfMeta *m, const HpvmVfNic *unplugged,
                        size_t n, HpvmError *err)
{
        HpvmError e = { 0 };
        int failed = 0;

        for (size_t i = 0; i < n; i++) {
                const HpvmVfRecord *rec = hpvm_vfmeta_find(m, unplugged[i].mac);

                if (rec && hpvm_virt_plug_nic(dom, rec->interface_xml, &e) < 0 && !failed++)
                        hpvm_error_append(err, "; plugging VF NIC %s back failed: %s", rec->mac, e.msg);
        }
        if (hpvm_vfmeta_set(dom, before, &e) < 0)
                hpvm_error_append(err, "; restoring the VF NIC record failed: %s", e.msg);
        if (!failed)
                hpvm_error_append(err, ": every VF NIC was plugged back; the migration is refused");
}

int hpvm_vfmig_before_source(const HpvmVfMigCtx *ctx, const HpvmDomain *d, const HpvmVfMigPlan *plan,
                             const char *watcher, const char *config_path, HpvmVfMigSourceReport *ret,
                             HpvmError *err)
{
        HpvmVfMigSourceReport rep = { .unplugged = 0 };
        HpvmVfMeta before = { 0 }, m = { 0 };
        HpvmVfNic *present = NULL;
        HpvmUnplugOutcome *out = NULL;
        virConnectPtr conn = NULL;
        virDomainPtr dom = NULL;
        size_t k = 0;
        double t0 = mono_s();
        int r;

        if (!ctx || !ctx->config || !plan)
                return hpvm_error_set(err, -EINVAL, "no configuration or plan for the source's VF NICs");
        if (plan->nunplug == 0)
                goto done;
        if (!watcher || watcher[0] != '/')
                return hpvm_error_set(err, -EINVAL, "the migration watcher needs an absolute program path");
        if ((r = hpvm_virt_open(ctx->config, &conn, err)) < 0)
                return r;
        if ((r = lookup(conn, plan->vm_uuid, &dom, err)) < 0)
                goto out;
        present = calloc(plan->nunplug, sizeof(*present));
        out = calloc(plan->nunplug, sizeof(*out));
        if (!present || !out) {
                r = hpvm_error_set(err, -ENOMEM, "out of memory");
                goto out;
        }
        if ((r = hpvm_vfmeta_get(dom, &before, err)) < 0 || (r = hpvm_vfmeta_get(dom, &m, err)) < 0)
                goto out;

        /* 1. The record first: a hook killed after it leaves a record of NICs still plugged, which a re-plug skips. */
        for (size_t i = 0; i < plan->nunplug; i++) {
                const HpvmVfNic *nic = &plan->nics[plan->unplug[i]];
                _cleanup_free_ char *xml = NULL;

                r = hpvm_virt_nic_xml(dom, nic->mac, &xml, err);
                if (r == -ENOENT) {
                        rep.absent++;
                        continue;
                }
                if (r < 0)
                        goto out;
                if ((r = hpvm_vfmeta_put(&m, xml, strlen(xml), nic->network, err)) < 0)
                        goto out;
                snprintf(present[k].mac, sizeof(present[k].mac), "%s", nic->mac);
                snprintf(present[k].alias, sizeof(present[k].alias), "%s", nic->alias);
                k++;
        }
        if (k == 0)
                goto done;
        if ((r = hpvm_vfmeta_set(dom, &m, err)) < 0)
                goto out;

        /* 2. Unplug (bounded); on failure hotplug.c has plugged them back already. */
        r = hpvm_virt_unplug_nics(conn, dom, present, k, (unsigned)ctx->config->unplug_timeout, out, err);
        if (r < 0) {
                HpvmError e = { 0 };

                if (hpvm_vfmeta_set(dom, &before, &e) < 0)
                        hpvm_error_append(err, "; restoring the VF NIC record failed: %s", e.msg);
                goto out;
        }
        /* A NIC someone else unplugged meanwhile is not ours to plug back after a failed migration. */
        {
                bool gone = false;

                for (size_t i = 0; i < k; i++)
                        if (out[i] == HPVM_UNPLUG_ABSENT) {
                                gone |= hpvm_vfmeta_remove(&m, present[i].mac);
                                rep.absent++;
                        } else {
                                rep.unplugged++;
                        }
                if (gone && (r = hpvm_vfmeta_set(dom, &m, err)) < 0) {
                        undo_source(dom, &before, &m, present, k, err);
                        goto out;
                }
        }
        if (rep.unplugged == 0)
                goto done;

        /* 3. The watcher: the only thing that acts when the migration fails (vdsm runs no hook then). */
        {
                const char *argv[6];
                size_t a = 0;

                argv[a++] = watcher;
                if (config_path && *config_path) {
                        argv[a++] = "--config";
                        argv[a++] = config_path;
                }
                argv[a++] = plan->vm_uuid;
                argv[a] = NULL;
                if ((r = hpvm_watch_spawn(argv, &rep.watcher, err)) < 0) {
                        undo_source(dom, &before, &m, present, k, err);
                        goto out;
                }
        }
done:
        rep.seconds = mono_s() - t0;
        if (ret)
                *ret = rep;
        r = (int)rep.unplugged;
out:
        hpvm_vfmeta_clear(&before);
        hpvm_vfmeta_clear(&m);
        free(present);
        free(out);
        if (dom)
                virDomainFree(dom);
        if (conn)
                virConnectClose(conn);
        return r;
}

/* ---------------------------------------------------------------- destination */

/* One recorded NIC on its way back. */
typedef struct Back {
        const HpvmVfRecord *rec;
        HpvmMac mac;
        bool has_vf;
        HpvmPciAddr vf;                 /* its VF on this host */
        bool plugged;
        HpvmError why;                  /* why not */
} Back;

/* Under the ledger's lock: arrived, and a VF for every recorded NIC (reserved now when it has none). */
static int find_vfs(const HpvmVfMigCtx *ctx, const char *vm, Back *b, size_t n, int *ret_turned, HpvmError *err)
{
        _cleanup_vfledger_ HpvmVfLedger *l = NULL;
        _cleanup_vfinv_ HpvmVfInventory *inv = NULL;
        _cleanup_free_ HpvmVfRequest *reqs = NULL;
        _cleanup_free_ size_t *picks = NULL, *which = NULL;
        size_t nmiss = 0;
        int r, turned;

        if ((r = hpvm_vfledger_open(ctx->config, &l, err)) < 0)
                return r;
        turned = hpvm_vfledger_use(l, vm, hpvm_vfmig_now(ctx));
        if (turned < 0)
                return hpvm_error_set(err, turned, "%s: cannot update the records of VM %s", hpvm_vfledger_path(l), vm);
        reqs = calloc(n + 1, sizeof(*reqs));
        picks = calloc(n + 1, sizeof(*picks));
        which = calloc(n + 1, sizeof(*which));
        if (!reqs || !picks || !which)
                return hpvm_error_set(err, -ENOMEM, "out of memory");
        for (size_t i = 0; i < n; i++) {
                HpvmVfEntry e;

                r = hpvm_vfledger_find_nic(l, vm, &b[i].mac, &e, err);
                if (r == 0) {
                        b[i].has_vf = true;
                        b[i].vf = e.addr;
                        continue;
                }
                if (r != -ENOENT)
                        return r;
                reqs[nmiss] = (HpvmVfRequest) {
                        .mac = b[i].mac,
                        .network = b[i].rec->network,
                        .has_preferred = b[i].rec->has_host,
                        .preferred = b[i].rec->host,
                        .preferred_node = -1,
                };
                which[nmiss++] = i;
        }
        if (nmiss) {
                /* No reservation (a damaged ledger lost it, or no destination check ran): take one now. */
                if ((r = hpvm_vf_inventory_load(hpvm_vfmig_sysfs_root(ctx), &inv, err)) < 0)
                        return r;
                r = hpvm_vfledger_reserve(l, inv, ctx->config, vm, reqs, nmiss, hpvm_vfmig_now(ctx), picks, err);
                if (r < 0)
                        return r;
                for (size_t j = 0; j < nmiss; j++) {
                        b[which[j]].has_vf = true;
                        b[which[j]].vf = inv->vfs[picks[j]].addr;
                }
                hpvm_vfledger_use(l, vm, hpvm_vfmig_now(ctx));
        }
        if ((r = hpvm_vfledger_commit(l, err)) < 0)
                return r;
        *ret_turned = turned;
        return 0;
}

/* The <interface> to plug @b with: a VF NIC at its VF, managed; another kind as recorded. */
static int replug_xml(const Back *b, char **ret, HpvmError *err)
{
        const char *xml = b->rec->interface_xml;
        HpvmVfNic nic;
        size_t len;
        int r;

        r = hpvm_vfmig_unplug_parse(xml, strlen(xml), &nic, err);
        if (r < 0)
                return r;
        if (r == 0)
                return hpvm_vfrecord_interface(b->rec, NULL, ret, &len, err);
        /* managed='yes': libvirt binds the VF to vfio-pci (vdsm prepared only the source's address). */
        r = hpvm_vfnic_format_interface(&nic, &b->vf, ret, &len, err);
        hpvm_vfnic_clear(&nic);
        return r;
}

/* Under the lock again: the plugged NICs in use with their MAC and network, the others' VFs released. */
static int settle(const HpvmVfMigCtx *ctx, const char *vm, const Back *b, size_t n, HpvmWarnings *warn, HpvmError *err)
{
        _cleanup_vfledger_ HpvmVfLedger *l = NULL;
        int r;

        if ((r = hpvm_vfledger_open(ctx->config, &l, err)) < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                HpvmVfEntry e;

                if (!b[i].has_vf)
                        continue;
                if (b[i].plugged) {
                        r = hpvm_vfledger_mark_in_use(l, vm, &b[i].vf, &b[i].mac, b[i].rec->network, hpvm_vfmig_now(ctx),
                                                      warn, err);
                        if (r < 0)
                                return r;
                } else if (hpvm_vfledger_get(l, &b[i].vf, &e, NULL) == 0 && !strcasecmp(e.vm, vm)) {
                        hpvm_vfledger_release_vf(l, &b[i].vf);
                }
        }
        return hpvm_vfledger_commit(l, err);
}

int hpvm_vfmig_after_destination(const HpvmVfMigCtx *ctx, const HpvmDomain *d, HpvmWarnings *warn,
                                 HpvmError *err)
{
        char vm[HPVM_STATE_TOKEN_MAX + 1], uuid[HPVM_STATE_TOKEN_MAX + 1];
        HpvmVfMeta rec = { 0 }, now = { 0 };
        virConnectPtr conn = NULL;
        virDomainPtr dom = NULL;
        Back *b = NULL;
        size_t back = 0, failed = 0, first = SIZE_MAX;
        int r, turned = 0;

        if (!ctx || !ctx->config)
                return hpvm_error_set(err, -EINVAL, "no configuration for the VF ledger");
        if (!d)
                return hpvm_error_set(err, -EINVAL, "no domain XML of the arrived VM");
        if ((r = hpvm_vfmig_vm_id(ctx, d, vm, sizeof(vm), err)) < 0)
                return r;
        if ((r = hpvm_vfmeta_read(d, &rec, err)) < 0)
                return r;
        if (rec.n == 0) {
                r = hpvm_vfmig_arrived(ctx, d, err);
                r = r < 0 ? r : 0;
                goto out;
        }
        b = calloc(rec.n, sizeof(*b));
        if (!b) {
                r = hpvm_error_set(err, -ENOMEM, "out of memory");
                goto out;
        }
        for (size_t i = 0; i < rec.n; i++) {
                b[i].rec = &rec.recs[i];
                if (hpvm_mac_parse(rec.recs[i].mac, strlen(rec.recs[i].mac), &b[i].mac) < 0) {
                        r = hpvm_error_set(err, -EINVAL, "VF NIC record: a MAC that is not one");
                        goto out;
                }
        }
        if ((r = find_vfs(ctx, vm, b, rec.n, &turned, err)) < 0)
                goto out;

        /* The plugs, the ledger unlocked: libvirt may take a while. */
        domain_uuid(d, uuid, sizeof(uuid));
        if ((r = hpvm_virt_open(ctx->config, &conn, err)) < 0 || (r = lookup(conn, uuid, &dom, err)) < 0) {
                /* Nothing could be plugged: give the VFs back. */
                HpvmError e = { 0 };

                if (settle(ctx, vm, b, rec.n, warn, &e) < 0)
                        hpvm_error_append(err, "; releasing their VFs failed too: %s", e.msg);
                goto out;
        }
        for (size_t i = 0; i < rec.n; i++) {
                _cleanup_free_ char *xml = NULL;

                r = replug_xml(&b[i], &xml, &b[i].why);
                if (r == 0)
                        r = hpvm_virt_plug_nic(dom, xml, &b[i].why);
                b[i].plugged = r >= 0;
                if (b[i].plugged) {
                        back++;
                } else {
                        failed++;
                        if (first == SIZE_MAX)
                                first = i;
                }
        }
        /* The record keeps only the NICs that did not come back: their identity, for a person or the next move. */
        r = hpvm_vfmeta_get(dom, &now, err);
        if (r == 0) {
                bool changed = false;

                for (size_t i = 0; i < rec.n; i++)
                        if (b[i].plugged)
                                changed |= hpvm_vfmeta_remove(&now, rec.recs[i].mac);
                if (changed)
                        r = hpvm_vfmeta_set(dom, &now, err);
        }
        if (r < 0) {
                HpvmError e = { 0 };

                settle(ctx, vm, b, rec.n, warn, &e);
                goto out;
        }
        if ((r = settle(ctx, vm, b, rec.n, warn, err)) < 0)
                goto out;
        if (failed) {
                r = hpvm_error_set(err, b[first].why.code < 0 ? b[first].why.code : -EIO,
                                   "VF NIC %s could not be plugged back (%s): its VF is released and it stays in the VF "
                                   "NIC record; %zu other NIC(s) back, %zu failed", rec.recs[first].mac,
                                   b[first].why.msg, back, failed - 1);
                goto out;
        }
        r = (int)back;
out:
        hpvm_vfmeta_clear(&rec);
        hpvm_vfmeta_clear(&now);
        free(b);
        if (dom)
                virDomainFree(dom);
        if (conn)
                virConnectClose(conn);
        return r;
}

/* ---------------------------------------------------------------- the watcher */

typedef struct WatchCtx {
        const HpvmVfMigCtx *ctx;
        void (*note)(void *opaque, const char *line);
        void *opaque;
} WatchCtx;

static void watch_note(void *opaque, const char *line)
{
        WatchCtx *w = opaque;

        if (w->note)
                w->note(w->opaque, line);
}

static int watch_success(virConnectPtr conn, const char *vm_uuid, void *opaque, HpvmError *err)
{
        WatchCtx *w = opaque;
        HpvmVfMigCtx c = *w->ctx;
        char line[HPVM_ERR_MAX];
        int r;

        c.vm_id = vm_uuid;
        r = hpvm_vfmig_release(&c, NULL, err);
        if (r >= 0) {
                snprintf(line, sizeof(line), "VM %s: released %d VF(s) in this host's VF ledger", vm_uuid, r);
                watch_note(w, line);
        }
        return r;
}

int hpvm_vfmig_watch(const HpvmVfMigCtx *ctx, const char *vm_uuid, void (*note)(void *opaque, const char *line),
                     void *opaque, HpvmWatchResult *ret, HpvmError *err)
{
        WatchCtx w = { .ctx = ctx, .note = note, .opaque = opaque };
        HpvmWatchActions a = {
                .on_success = watch_success,
                .on_failure = hpvm_watch_replug_recorded,
                .note = watch_note,
                .opaque = &w,
        };

        if (!ctx || !ctx->config)
                return hpvm_error_set(err, -EINVAL, "no configuration to watch a migration with");
        return hpvm_watch_migration(ctx->config, vm_uuid, &a, ret, err);
}
