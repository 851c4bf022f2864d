/* vfmigrate.c: the VF work of each migration hook point that needs no libvirtd: refusals on the source, reservation and re-point on the destination, the ledger on arrival and every release. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "sriov.h"
#include "vfledger.h"
#include "vfmeta.h"
#include "vfmigrate.h"
#include "xml.h"

#define NUMA_NODES_MAX 1024u    /* libvirt's own bound on a nodeset */

/* ---------------------------------------------------------------- context */

time_t hpvm_vfmig_now(const HpvmVfMigCtx *ctx)
{
        return ctx->now > 0 ? ctx->now : time(NULL);
}

const char *hpvm_vfmig_sysfs_root(const HpvmVfMigCtx *ctx)
{
        if (ctx->sysfs_root && *ctx->sysfs_root)
                return ctx->sysfs_root;
        return ctx->config->sysfs_root;
}

/* The trimmed text of <@name> under the root, into @buf; "" when absent or too long. */
static void root_text(const HpvmDomain *d, const char *name, char *buf, size_t size)
{
        xmlNode *n = d ? hpvm_xml_child(d->root, name) : NULL;
        _cleanup_xmlchar_ xmlChar *v = n ? xmlNodeGetContent(n) : NULL;
        const char *s = (const char *)v;
        size_t len;

        buf[0] = '\0';
        if (!s)
                return;
        s += strspn(s, " \t\r\n");
        len = strlen(s);
        while (len && strchr(" \t\r\n", s[len - 1]))
                len--;
        if (len < size) {
                memcpy(buf, s, len);
                buf[len] = '\0';
        }
}

/* "VM 'name'" (or the id) for messages. */
static const char *vm_label(const HpvmDomain *d, const char *vm, char *buf, size_t size)
{
        char name[256], q[HPVM_QUOTE_MAX];

        root_text(d, "name", name, sizeof(name));
        if (name[0])
                snprintf(buf, size, "VM '%s'", hpvm_quote(name, strlen(name), q, sizeof(q)));
        else
                snprintf(buf, size, "VM %s", vm && *vm ? vm : "?");
        return buf;
}

int hpvm_vfmig_vm_id(const HpvmVfMigCtx *ctx, const HpvmDomain *d, char *buf, size_t size, HpvmError *err)
{
        char q[HPVM_QUOTE_MAX];

        if (ctx->vm_id && *ctx->vm_id) {
                if (strlen(ctx->vm_id) >= size || !hpvm_state_token_valid(ctx->vm_id))
                        return hpvm_error_set(err, -EINVAL, "vmId '%s' is not a VM id (expected a UUID)",
                                              hpvm_quote(ctx->vm_id, strlen(ctx->vm_id), q, sizeof(q)));
                snprintf(buf, size, "%s", ctx->vm_id);
                return 0;
        }
        root_text(d, "uuid", buf, size);
        if (!buf[0])
                return hpvm_error_set(err, -EINVAL, "no VM id: neither $vmId (--vm-id) nor the domain's <uuid> gives one");
        if (!hpvm_state_token_valid(buf))
                return hpvm_error_set(err, -EINVAL, "the domain's <uuid> '%s' is not a VM id (expected a UUID)",
                                      hpvm_quote(buf, strlen(buf), q, sizeof(q)));
        return 0;
}

static int check_ctx(const HpvmVfMigCtx *ctx, HpvmError *err)
{
        if (!ctx || !ctx->config)
                return hpvm_error_set(err, -EINVAL, "no configuration for the VF ledger");
        return 0;
}

/* The node the guest's memory is bound to: the first of <numatune><memory nodeset> (or of the first <memnode>); -1 if none. */
static int domain_node(const HpvmDomain *d)
{
        xmlNode *nt = hpvm_xml_child(d->root, "numatune");
        xmlNode *mem = hpvm_xml_child(nt, "memory");
        HpvmCpuSet set;

        if (mem && hpvm_xml_prop_cpuset(mem, "nodeset", NUMA_NODES_MAX, &set))
                return hpvm_cpuset_next(&set, 0);
        HPVM_XML_FOREACH(mn, nt, "memnode")
                if (hpvm_xml_prop_cpuset(mn, "nodeset", NUMA_NODES_MAX, &set))
                        return hpvm_cpuset_next(&set, 0);
        return -1;
}

/* ---------------------------------------------------------------- destination */

/* The NICs one VM brings: its VF NICs and its recorded (unplugged) NICs. */
typedef struct Incoming {
        HpvmVfNic *nics;
        size_t nnics;
        HpvmVfMeta rec;
        HpvmVfRequest *reqs;
        size_t n;
} Incoming;

static void incoming_clear(Incoming *in)
{
        hpvm_vfnics_free(in->nics, in->nnics);
        hpvm_vfmeta_clear(&in->rec);
        free(in->reqs);
        *in = (Incoming) { .nics = NULL };
}

static int incoming_read(const HpvmDomain *d, int node, Incoming *in, HpvmError *err)
{
        char q[HPVM_QUOTE_MAX];
        int r;

        *in = (Incoming) { .nics = NULL };
        if ((r = hpvm_vfnics_read(d, NULL, &in->nics, &in->nnics, err)) < 0)
                return r;
        if ((r = hpvm_vfmeta_read(d, &in->rec, err)) < 0)
                return r;
        in->reqs = calloc(in->nnics + in->rec.n + 1, sizeof(*in->reqs));
        if (!in->reqs)
                return hpvm_error_set(err, -ENOMEM, "out of memory");
        for (size_t i = 0; i < in->nnics; i++) {
                const HpvmVfNic *nic = &in->nics[i];
                HpvmVfRequest *q_ = &in->reqs[in->n];

                if (!nic->mac[0] || hpvm_mac_parse(nic->mac, strlen(nic->mac), &q_->mac) < 0)
                        return hpvm_error_set(err, -EINVAL, "domain XML: VF NIC #%zu%s%s%s has no MAC address: its VF "
                                              "could not be found again after the migration", i + 1,
                                              nic->alias[0] ? " (alias " : "",
                                              nic->alias[0] ? hpvm_quote(nic->alias, strlen(nic->alias), q, sizeof(q)) : "",
                                              nic->alias[0] ? ")" : "");
                q_->network = nic->network;
                q_->has_preferred = nic->has_host;
                q_->preferred = nic->host;
                q_->preferred_node = node;
                in->n++;
        }
        for (size_t i = 0; i < in->rec.n; i++) {
                const HpvmVfRecord *rec = &in->rec.recs[i];
                HpvmVfRequest *q_ = &in->reqs[in->n];
                bool listed = false;

                if (hpvm_mac_parse(rec->mac, strlen(rec->mac), &q_->mac) < 0)
                        return hpvm_error_set(err, -EINVAL, "VF NIC record: '%s' is not a MAC address",
                                              hpvm_quote(rec->mac, strlen(rec->mac), q, sizeof(q)));
                for (size_t k = 0; k < in->n && !listed; k++)
                        listed = hpvm_mac_equal(&in->reqs[k].mac, &q_->mac);
                if (listed)
                        continue;
                q_->network = rec->network;
                q_->has_preferred = rec->has_host;
                q_->preferred = rec->host;
                q_->preferred_node = node;
                in->n++;
        }
        return 0;
}

int hpvm_vfmig_reserve(const HpvmVfMigCtx *ctx, const HpvmDomain *src, HpvmError *err)
{
        _cleanup_vfinv_ HpvmVfInventory *inv = NULL;
        _cleanup_vfledger_ HpvmVfLedger *l = NULL;
        _cleanup_free_ size_t *picks = NULL;
        char vm[HPVM_STATE_TOKEN_MAX + 1], who[HPVM_QUOTE_MAX + 16];
        Incoming in;
        int node, r;

        if ((r = check_ctx(ctx, err)) < 0)
                return r;
        if (!src)
                return hpvm_error_set(err, -EINVAL, "no domain XML to reserve VFs for");
        node = ctx->numa_node ? *ctx->numa_node : domain_node(src);
        r = incoming_read(src, node < 0 ? -1 : node, &in, err);
        if (r < 0 || in.n == 0)
                goto out;
        if ((r = hpvm_vfmig_vm_id(ctx, src, vm, sizeof(vm), err)) < 0)
                goto out;
        picks = calloc(in.n, sizeof(*picks));
        if (!picks) {
                r = hpvm_error_set(err, -ENOMEM, "out of memory");
                goto out;
        }
        if ((r = hpvm_vf_inventory_load(hpvm_vfmig_sysfs_root(ctx), &inv, err)) < 0)
                goto out;
        if ((r = hpvm_vfledger_open(ctx->config, &l, err)) < 0)
                goto out;
        r = hpvm_vfledger_reserve(l, inv, ctx->config, vm, in.reqs, in.n, hpvm_vfmig_now(ctx), picks, err);
        if (r == -ENOSPC)
                hpvm_error_append(err, ": %s does not move here", vm_label(src, vm, who, sizeof(who)));
        if (r < 0)
                goto out;
        if ((r = hpvm_vfledger_commit(l, err)) < 0)
                goto out;
        r = (int)in.n;
out:
        incoming_clear(&in);
        return r;
}

int hpvm_vfmig_reserve_xml(const HpvmVfMigCtx *ctx, const char *xml, size_t len, HpvmError *err)
{
        _cleanup_domain_ HpvmDomain *d = NULL;
        int r = hpvm_domain_parse(xml, len, &d, err);

        return r < 0 ? r : hpvm_vfmig_reserve(ctx, d, err);
}

int hpvm_vfmig_repoint(const HpvmVfMigCtx *ctx, HpvmDomain *d, HpvmError *err)
{
        _cleanup_vfledger_ HpvmVfLedger *l = NULL;
        _cleanup_free_ HpvmPciAddr *to = NULL;
        char vm[HPVM_STATE_TOKEN_MAX + 1], who[HPVM_QUOTE_MAX + 16];
        HpvmVfNic *nics = NULL;
        size_t n = 0, nfailover = 0;
        int r, changed = 0;

        if ((r = check_ctx(ctx, err)) < 0)
                return r;
        if (!d)
                return hpvm_error_set(err, -EINVAL, "no domain XML to re-point");
        if ((r = hpvm_vfnics_read(d, NULL, &nics, &n, err)) < 0)
                return r;
        for (size_t i = 0; i < n; i++)
                nfailover += nics[i].failover;
        if (nfailover == 0)
                goto out;
        if ((r = hpvm_vfmig_vm_id(ctx, d, vm, sizeof(vm), err)) < 0)
                goto out;
        to = calloc(n, sizeof(*to));
        if (!to) {
                r = hpvm_error_set(err, -ENOMEM, "out of memory");
                goto out;
        }
        if ((r = hpvm_vfledger_open(ctx->config, &l, err)) < 0)
                goto out;
        /* Every address first: a NIC without a VF refuses the whole XML, untouched. */
        for (size_t i = 0; i < n; i++) {
                HpvmVfEntry e;
                HpvmMac mac;

                if (!nics[i].failover)
                        continue;
                if (!nics[i].has_host) {
                        r = hpvm_error_set(err, -EINVAL, "failover VF NIC %s (alias %s) has no PCI <source><address> "
                                           "to point at a VF of this host", nics[i].mac, nics[i].alias);
                        goto out;
                }
                if (!nics[i].mac[0] || hpvm_mac_parse(nics[i].mac, strlen(nics[i].mac), &mac) < 0) {
                        r = hpvm_error_set(err, -EINVAL, "failover VF NIC #%zu (alias %s) has no MAC address", i + 1,
                                           nics[i].alias);
                        goto out;
                }
                r = hpvm_vfledger_find_nic(l, vm, &mac, &e, err);
                if (r == -ENOENT) {
                        r = hpvm_error_set(err, -ENOENT, "failover VF NIC %s (alias %s) of %s: no VF of this host is "
                                           "reserved for it in %s (the destination check did not run here, or its "
                                           "reservation was lost): the migration is refused; start it again",
                                           nics[i].mac, nics[i].alias[0] ? nics[i].alias : "none",
                                           vm_label(d, vm, who, sizeof(who)), hpvm_vfledger_path(l));
                        goto out;
                }
                if (r < 0)
                        goto out;
                to[i] = e.addr;
        }
        hpvm_vfledger_close(l);
        l = NULL;
        for (size_t i = 0; i < n; i++) {
                if (!nics[i].failover || hpvm_pci_addr_equal(&nics[i].host, &to[i]))
                        continue;
                if ((r = hpvm_vfnic_set_host(d, &nics[i], &to[i])) < 0) {
                        r = hpvm_error_set(err, r, "cannot re-point VF NIC %s: %s", nics[i].mac, strerror(-r));
                        goto out;
                }
                changed++;
        }
        r = changed;
out:
        hpvm_vfnics_free(nics, n);
        return r;
}

int hpvm_vfmig_repoint_xml(const HpvmVfMigCtx *ctx, const char *in, size_t len, char **ret_out, size_t *ret_len,
                           HpvmError *err)
{
        _cleanup_domain_ HpvmDomain *d = NULL;
        char *out = NULL;
        size_t outlen = 0;
        int r, changed;

        if ((r = hpvm_domain_parse(in, len, &d, err)) < 0)
                return r;
        changed = hpvm_vfmig_repoint(ctx, d, err);
        if (changed < 0)
                return changed;
        if (changed > 0 && (r = hpvm_domain_format(d, &out, &outlen, err)) < 0)
                return r;
        *ret_out = out;
        if (ret_len)
                *ret_len = outlen;
        return changed;
}

/* Open the ledger, run @fn on it for @vm, commit. */
static int ledger_do(const HpvmVfMigCtx *ctx, const HpvmDomain *d, int (*fn)(HpvmVfLedger *, const char *, time_t),
                     HpvmError *err)
{
        _cleanup_vfledger_ HpvmVfLedger *l = NULL;
        char vm[HPVM_STATE_TOKEN_MAX + 1];
        int r, count;

        if ((r = check_ctx(ctx, err)) < 0 || (r = hpvm_vfmig_vm_id(ctx, d, vm, sizeof(vm), err)) < 0)
                return r;
        if ((r = hpvm_vfledger_open(ctx->config, &l, err)) < 0)
                return r;
        count = fn(l, vm, hpvm_vfmig_now(ctx));
        if (count < 0)
                return hpvm_error_set(err, count, "%s: cannot update the records of VM %s: %s", hpvm_vfledger_path(l), vm,
                                      strerror(-count));
        if ((r = hpvm_vfledger_commit(l, err)) < 0)
                return r;
        return count;
}

int hpvm_vfmig_arrived(const HpvmVfMigCtx *ctx, const HpvmDomain *d, HpvmError *err)
{
        return ledger_do(ctx, d, hpvm_vfledger_use, err);
}

static int release_all(HpvmVfLedger *l, const char *vm, time_t now)
{
        return hpvm_vfledger_release_vm(l, vm);
}

int hpvm_vfmig_release(const HpvmVfMigCtx *ctx, const HpvmDomain *d, HpvmError *err)
{
        return ledger_do(ctx, d, release_all, err);
}

/* ---------------------------------------------------------------- hot-unplug */

int hpvm_vfmig_unplug_parse(const char *buf, size_t len, HpvmVfNic *ret, HpvmError *err)
{
        _cleanup_xmldoc_ xmlDoc *doc = NULL;
        _cleanup_xmlchar_ xmlChar *type = NULL;
        int r;

        if ((r = hpvm_xml_parse(buf, len, "interface", "interface XML", &doc, err)) < 0)
                return r;
        type = hpvm_xml_prop(xmlDocGetRootElement(doc), "type");
        if (!type || !xmlStrEqual(type, BAD_CAST "hostdev"))
                return 0;
        r = hpvm_vfnic_parse_interface(buf, len, ret, err);
        return r < 0 ? r : 1;
}

int hpvm_vfmig_release_nic(const HpvmVfMigCtx *ctx, const HpvmVfNic *nic, HpvmWarnings *warn, HpvmError *err)
{
        _cleanup_vfledger_ HpvmVfLedger *l = NULL;
        const char *vm = ctx && ctx->vm_id && *ctx->vm_id ? ctx->vm_id : NULL;
        char id[HPVM_PCI_ADDR_STRLEN];
        HpvmVfEntry e;
        HpvmMac mac;
        int r, dropped = 0;

        if ((r = check_ctx(ctx, err)) < 0)
                return r;
        if (!nic)
                return hpvm_error_set(err, -EINVAL, "no NIC to release a VF of");
        if ((r = hpvm_vfledger_open(ctx->config, &l, err)) < 0)
                return r;
        if (nic->has_host) {
                hpvm_pci_addr_format(&nic->host, id, sizeof(id));
                r = hpvm_vfledger_get(l, &nic->host, &e, err);
                if (r < 0 && r != -ENOENT)
                        return r;
                if (r == 0 && vm && strcasecmp(e.vm, vm)) {
                        hpvm_warn(warn, "vfledger: VF %s of NIC %s is recorded for VM %s, not for VM %s that unplugs it: "
                                  "record left as it is", id, nic->mac[0] ? nic->mac : "without a MAC", e.vm, vm);
                } else if (r == 0) {
                        hpvm_vfledger_release_vf(l, &nic->host);
                        dropped++;
                }
        }
        /* A reservation (or another VF) of this VM for the same NIC goes too. The walk is bounded by the records. */
        if (vm && nic->mac[0] && hpvm_mac_parse(nic->mac, strlen(nic->mac), &mac) == 0) {
                for (size_t guard = hpvm_vfledger_count(l) + 1; guard > 0; guard--) {
                        r = hpvm_vfledger_find_nic(l, vm, &mac, &e, err);
                        if (r == -ENOENT)
                                break;
                        if (r < 0)
                                return r;
                        hpvm_vfledger_release_vf(l, &e.addr);
                        dropped++;
                }
        }
        if ((r = hpvm_vfledger_commit(l, err)) < 0)
                return r;
        return dropped;
}

/* ---------------------------------------------------------------- source */

void hpvm_vfmig_plan_clear(HpvmVfMigPlan *p)
{
        if (!p)
                return;
        hpvm_vfnics_free(p->nics, p->n);
        free(p->unplug);
        *p = (HpvmVfMigPlan) { .nics = NULL };
}

static int refuse_nic(const HpvmVfNic *nic, HpvmError *err)
{
        char name[HPVM_MAC_STRLEN + HPVM_ALIAS_MAX + 32];

        if (nic->alias[0])
                snprintf(name, sizeof(name), "VF NIC %s (alias %s)", nic->mac[0] ? nic->mac : "without a MAC", nic->alias);
        else
                snprintf(name, sizeof(name), "VF NIC %s", nic->mac[0] ? nic->mac : "without a MAC");
        switch (nic->migratable_from) {
        case HPVM_MIGRATABLE_DEVICE:
                return hpvm_error_set(err, -EPERM, "%s may not migrate: its vNIC profile sets sriov_migratable=false "
                                      "(true allows it); the VM stays on this host", name);
        case HPVM_MIGRATABLE_VM:
                return hpvm_error_set(err, -EPERM, "%s may not migrate: the VM property sriov_migratable does not list "
                                      "its MAC (add %s, or set all), and its vNIC profile does not set sriov_migratable; "
                                      "the VM stays on this host", name, nic->mac[0] ? nic->mac : "it");
        default:
                return hpvm_error_set(err, -EPERM, "%s may not migrate: set sriov_migratable=true on its vNIC profile, "
                                      "or the VM property sriov_migratable=all (or a list of MACs with %s); the VM "
                                      "stays on this host", name, nic->mac[0] ? nic->mac : "its MAC");
        }
}

/* A plain <hostdev> that is a VF of this host cannot be unplugged and plugged back as a NIC. */
static int check_hostdevs(const HpvmVfMigCtx *ctx, const HpvmDomain *d, HpvmError *err)
{
        _cleanup_free_ HpvmPciHostdev *devs = NULL;
        _cleanup_vfinv_ HpvmVfInventory *inv = NULL;
        char id[HPVM_PCI_ADDR_STRLEN];
        size_t n = 0;
        int r;

        if ((r = hpvm_pci_hostdevs_read(d, &devs, &n, err)) < 0 || n == 0)
                return r;
        if ((r = hpvm_vf_inventory_load(hpvm_vfmig_sysfs_root(ctx), &inv, err)) < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                if (!hpvm_vf_inventory_vf(inv, &devs[i].host))
                        continue;
                hpvm_pci_addr_format(&devs[i].host, id, sizeof(id));
                return hpvm_error_set(err, -EPERM, "PCI host device %s is an SR-IOV VF given to the VM as a plain "
                                      "<hostdev>%s: it cannot be unplugged and plugged back with a MAC and VLAN (give "
                                      "the VM a vNIC with a passthrough vNIC profile instead); the VM stays on this host",
                                      id, devs[i].failover ? " with failover teaming" : "");
        }
        return 0;
}

int hpvm_vfmig_source_plan(const HpvmVfMigCtx *ctx, const HpvmDomain *d, const char *vm_prop, HpvmVfMigPlan *ret,
                           HpvmError *err)
{
        HpvmVfMigPlan p = { .nics = NULL };
        int r;

        if ((r = check_ctx(ctx, err)) < 0)
                return r;
        if (!d || !ret)
                return hpvm_error_set(err, -EINVAL, "no domain XML to plan the migration of");
        if ((r = hpvm_vfnics_read(d, vm_prop, &p.nics, &p.n, err)) < 0)
                return r;
        for (size_t i = 0; i < p.n; i++)
                if (!p.nics[i].migratable) {
                        r = refuse_nic(&p.nics[i], err);
                        goto fail;
                }
        if ((r = check_hostdevs(ctx, d, err)) < 0)
                goto fail;
        p.unplug = calloc(p.n + 1, sizeof(*p.unplug));
        if (!p.unplug) {
                r = hpvm_error_set(err, -ENOMEM, "out of memory");
                goto fail;
        }
        for (size_t i = 0; i < p.n; i++) {
                const HpvmVfNic *nic = &p.nics[i];

                if (nic->failover) {
                        p.nfailover++;
                        continue;
                }
                if (!nic->mac[0] || !nic->alias[0]) {
                        r = hpvm_error_set(err, -EINVAL, "VF NIC %s has no %s: libvirt unplugs a NIC by its alias and "
                                           "it comes back by its MAC; the VM stays on this host",
                                           nic->mac[0] ? nic->mac : nic->alias, nic->mac[0] ? "alias" : "MAC address");
                        goto fail;
                }
                p.unplug[p.nunplug++] = i;
        }
        root_text(d, "uuid", p.vm_uuid, sizeof(p.vm_uuid));
        *ret = p;
        return 0;
fail:
        hpvm_vfmig_plan_clear(&p);
        return r;
}
