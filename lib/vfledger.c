/* vfledger.c: the host-wide VF ledger on the locked state file "vfs": reservations for incoming migrations, VFs in use, reclaim. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "procscan.h"
#include "vfledger.h"

#define REPAIR_HINT "remove it: VFs that running VMs hold stay busy through their vfio-pci binding, " \
                    "and the hooks record them again"
#define TYPE_VF "vf"
#define STATE_RESERVED "reserved"
#define STATE_IN_USE "in-use"

struct HpvmVfLedger {
        HpvmState *state;
        char *damage;           /* why hpvm_vfledger_open_reset() emptied the file */
};

/* ---------------------------------------------------------------- records */

static bool same_vm(const char *a, const char *b)
{
        return !strcasecmp(a, b);
}

/* @line: the record's line in the file, 0 when not known (the records changed since the open). */
static int bad_record(const HpvmVfLedger *l, size_t line, const char *id, HpvmError *err, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));

static int bad_record(const HpvmVfLedger *l, size_t line, const char *id, HpvmError *err, const char *fmt, ...)
{
        char what[HPVM_ERR_MAX], where[32] = "", q[HPVM_QUOTE_MAX];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(what, sizeof(what), fmt, ap);
        va_end(ap);
        if (line)
                snprintf(where, sizeof(where), " line %zu:", line);
        hpvm_quote(id, strlen(id), q, sizeof(q));
        return hpvm_error_set(err, -EBADMSG, "%s:%s VF %s: %s: the state file is damaged; " REPAIR_HINT,
                              hpvm_vfledger_path(l), where, q, what);
}

static int read_entry(const HpvmVfLedger *l, const HpvmRecord *rec, size_t line, HpvmVfEntry *ret, HpvmError *err)
{
        const char *id = hpvm_record_id(rec), *state = hpvm_record_get(rec, "state"),
                   *vm = hpvm_record_get(rec, "vm"), *mac = hpvm_record_get(rec, "mac"),
                   *network = hpvm_record_get(rec, "network");
        char canon[HPVM_PCI_ADDR_STRLEN], q[HPVM_QUOTE_MAX];
        HpvmVfEntry e = { .expires = 0 };

        if (strcmp(hpvm_record_type(rec), TYPE_VF))
                return bad_record(l, line, id, err, "record type '%s' is not " TYPE_VF,
                                  hpvm_quote(hpvm_record_type(rec), strlen(hpvm_record_type(rec)), q, sizeof(q)));
        /* Lookups go by the canonical form: "0000:05:10.A" would be a second, unseen name of a VF. */
        if (hpvm_pci_addr_parse(id, strlen(id), &e.addr) < 0 ||
            strcmp(hpvm_pci_addr_format(&e.addr, canon, sizeof(canon)), id))
                return bad_record(l, line, id, err, "not a PCI address (expected dddd:bb:ss.f in lowercase)");
        if (!state)
                return bad_record(l, line, id, err, "no state field");
        if (strcmp(state, STATE_RESERVED) && strcmp(state, STATE_IN_USE))
                return bad_record(l, line, id, err, "state '%s' is not " STATE_RESERVED " or " STATE_IN_USE,
                                  hpvm_quote(state, strlen(state), q, sizeof(q)));
        e.reserved = !strcmp(state, STATE_RESERVED);
        if (!vm || !hpvm_state_token_valid(vm))
                return bad_record(l, line, id, err, "vm '%s' is not a VM id",
                                  vm ? hpvm_quote(vm, strlen(vm), q, sizeof(q)) : "");
        snprintf(e.vm, sizeof(e.vm), "%s", vm);
        if (mac) {
                if (hpvm_mac_parse(mac, strlen(mac), &e.mac) < 0)
                        return bad_record(l, line, id, err, "mac '%s' is not a MAC address",
                                          hpvm_quote(mac, strlen(mac), q, sizeof(q)));
                e.has_mac = true;
        } else if (e.reserved) {
                return bad_record(l, line, id, err, "a reservation without a mac field");
        }
        if (network) {
                if (strlen(network) > HPVM_VFLEDGER_NETWORK_MAX)
                        return bad_record(l, line, id, err, "network is longer than %u bytes",
                                          HPVM_VFLEDGER_NETWORK_MAX);
                snprintf(e.network, sizeof(e.network), "%s", network);
        }
        if (hpvm_record_get_time(rec, "since", &e.since, NULL) < 0)
                return bad_record(l, line, id, err, "since is missing or not a time");
        if (e.reserved && hpvm_record_get_time(rec, "expires", &e.expires, NULL) < 0)
                return bad_record(l, line, id, err, "expires is missing or not a time");
        *ret = e;
        return 0;
}

/* A fresh record for @addr (fields of an earlier holder must not linger). */
static int write_entry(HpvmVfLedger *l, const HpvmVfEntry *e)
{
        char id[HPVM_PCI_ADDR_STRLEN], mac[HPVM_MAC_STRLEN];
        HpvmRecord *rec;
        int r;

        hpvm_pci_addr_format(&e->addr, id, sizeof(id));
        hpvm_state_remove(l->state, TYPE_VF, id);
        r = hpvm_state_put(l->state, TYPE_VF, id, &rec);
        if (r >= 0)
                r = hpvm_record_set(rec, "state", e->reserved ? STATE_RESERVED : STATE_IN_USE);
        if (r >= 0)
                r = hpvm_record_set(rec, "vm", e->vm);
        if (r >= 0 && e->has_mac)
                r = hpvm_record_set(rec, "mac", hpvm_mac_format(&e->mac, mac, sizeof(mac)));
        if (r >= 0 && e->network[0])
                r = hpvm_record_set(rec, "network", e->network);
        if (r >= 0)
                r = hpvm_record_set_time(rec, "since", e->since);
        if (r >= 0 && e->reserved)
                r = hpvm_record_set_time(rec, "expires", e->expires);
        return r < 0 ? r : 0;
}

/* ---------------------------------------------------------------- open, commit, close */

static int open_ledger(const HpvmConfig *c, bool reset, HpvmVfLedger **ret, HpvmError *err)
{
        HpvmStateOpts o = { .repair_hint = REPAIR_HINT, .reset_damaged = reset };
        HpvmVfLedger *l;
        int r;

        if (!c || !ret)
                return hpvm_error_set(err, -EINVAL, "no configuration for the VF ledger");
        o.dir = c->state_dir;
        l = calloc(1, sizeof(*l));
        if (!l)
                return hpvm_error_set(err, -ENOMEM, "out of memory");
        o.uid = o.gid = -1;
        o.user = c->state_user;
        o.group = c->state_group;
        r = hpvm_state_open(&o, HPVM_VFLEDGER_FILE, &l->state, err);
        if (r < 0) {
                free(l);
                return r;
        }
        if (hpvm_state_damage(l->state) && !(l->damage = strdup(hpvm_state_damage(l->state)))) {
                hpvm_vfledger_close(l);
                return hpvm_error_set(err, -ENOMEM, "out of memory");
        }
        /* Nothing changed since the read: record i is on line i + 2, after the header. */
        for (size_t i = 0; i < hpvm_state_count(l->state); i++) {
                HpvmError why = { 0 };
                HpvmVfEntry e;

                r = read_entry(l, hpvm_state_at(l->state, i), i + 2, &e, &why);
                if (r == 0)
                        continue;
                if (!reset) {
                        hpvm_vfledger_close(l);
                        return hpvm_error_set(err, r, "%s", why.msg);
                }
                l->damage = strdup(why.msg);
                hpvm_state_clear(l->state);
                if (!l->damage) {
                        hpvm_vfledger_close(l);
                        return hpvm_error_set(err, -ENOMEM, "out of memory");
                }
                break;
        }
        *ret = l;
        return 0;
}

int hpvm_vfledger_open(const HpvmConfig *c, HpvmVfLedger **ret, HpvmError *err)
{
        return open_ledger(c, false, ret, err);
}

int hpvm_vfledger_open_reset(const HpvmConfig *c, HpvmVfLedger **ret, HpvmError *err)
{
        return open_ledger(c, true, ret, err);
}

const char *hpvm_vfledger_damage(const HpvmVfLedger *l)
{
        return l ? l->damage : NULL;
}

int hpvm_vfledger_commit(HpvmVfLedger *l, HpvmError *err)
{
        return hpvm_state_commit(l->state, err);
}

void hpvm_vfledger_close(HpvmVfLedger *l)
{
        if (!l)
                return;
        hpvm_state_close(l->state);
        free(l->damage);
        free(l);
}

const char *hpvm_vfledger_path(const HpvmVfLedger *l)
{
        return hpvm_state_path(l->state);
}

/* ---------------------------------------------------------------- lookups */

size_t hpvm_vfledger_count(const HpvmVfLedger *l)
{
        return hpvm_state_count(l->state);
}

int hpvm_vfledger_at(const HpvmVfLedger *l, size_t i, HpvmVfEntry *ret, HpvmError *err)
{
        HpvmRecord *rec = hpvm_state_at(l->state, i);

        return rec ? read_entry(l, rec, 0, ret, err) : -ENOENT;
}

int hpvm_vfledger_get(const HpvmVfLedger *l, const HpvmPciAddr *addr, HpvmVfEntry *ret, HpvmError *err)
{
        char id[HPVM_PCI_ADDR_STRLEN];
        HpvmRecord *rec;

        if (!addr)
                return -ENOENT;
        rec = hpvm_state_find(l->state, TYPE_VF, hpvm_pci_addr_format(addr, id, sizeof(id)));
        return rec ? read_entry(l, rec, 0, ret, err) : -ENOENT;
}

int hpvm_vfledger_next(const HpvmVfLedger *l, const char *vm, size_t *pos, HpvmVfEntry *ret, HpvmError *err)
{
        for (size_t i = *pos; vm && i < hpvm_state_count(l->state); i++) {
                HpvmRecord *rec = hpvm_state_at(l->state, i);
                const char *holder = hpvm_record_get(rec, "vm");
                int r;

                if (!holder || !same_vm(holder, vm))
                        continue;
                r = read_entry(l, rec, 0, ret, err);
                if (r < 0)
                        return r;
                *pos = i + 1;
                return 1;
        }
        return 0;
}

int hpvm_vfledger_find_nic(const HpvmVfLedger *l, const char *vm, const HpvmMac *mac, HpvmVfEntry *ret,
                           HpvmError *err)
{
        HpvmVfEntry e, in_use;
        bool found_in_use = false;
        size_t pos = 0;
        int r;

        if (!mac)
                return -ENOENT;
        while ((r = hpvm_vfledger_next(l, vm, &pos, &e, err)) > 0) {
                if (!e.has_mac || !hpvm_mac_equal(&e.mac, mac))
                        continue;
                if (e.reserved) {
                        *ret = e;
                        return 0;
                }
                if (!found_in_use)
                        in_use = e;
                found_in_use = true;
        }
        if (r < 0)
                return r;
        if (!found_in_use)
                return -ENOENT;
        *ret = in_use;
        return 0;
}

/* ---------------------------------------------------------------- reserving */

/* How a VF stands for the VM reserving, from the records alone. */
typedef enum VfStand {
        STAND_FREE,             /* no record, or another VM's expired reservation */
        STAND_OWN,              /* a reservation of the reserving VM (a retried check) */
        STAND_BUSY,             /* in use, or another VM's reservation still valid */
} VfStand;

/* What one request may take. */
typedef struct Want {
        const char *const *pfs; /* PFs serving its network; NULL: every PF */
        size_t npfs;
        const HpvmVf *preferred;/* its preferred VF when this host has it */
        size_t pick;            /* the VF taken; SIZE_MAX: none yet */
        size_t candidates;      /* free VFs it may take, for the order of the second pass */
} Want;

typedef struct Reserving {
        const HpvmVfInventory *inv;
        const HpvmVfRequest *reqs;
        Want *want;
        unsigned char *stand;   /* VfStand of each VF */
        HpvmMac *own_mac;       /* the MAC of each STAND_OWN VF's reservation */
        bool *taken;            /* given to a request of this call */
} Reserving;

static bool pf_serves(const Reserving *rs, size_t k, size_t pf)
{
        const Want *w = &rs->want[k];

        if (!w->pfs)
                return true;
        for (size_t i = 0; i < w->npfs; i++)
                if (!strcmp(w->pfs[i], rs->inv->pfs[pf].netdev))
                        return true;
        return false;
}

static bool busy_for(const Reserving *rs, size_t k, size_t vf)
{
        if (rs->taken[vf] || rs->stand[vf] == STAND_BUSY)
                return true;
        if (rs->stand[vf] == STAND_OWN || !hpvm_vf_looks_assigned(&rs->inv->vfs[vf]))
                return false;
        /*
         * Bound to vfio-pci (or pci-stub) with no record: normally a guest this
         * ledger never heard of holds it. Not so for the request's preferred
         * VF, the one the source host uses: on the destination vdsm's VM
         * thread detaches every host device named in the incoming (source's)
         * XML, binding that very VF to vfio-pci, before the API thread runs
         * before_vm_migrate_destination, so by the time this check runs the
         * binding is vdsm's own doing for this VM. Counting it busy would
         * refuse every migration between hosts of the same hardware layout.
         * It cannot be a running guest's VF either: libvirt refuses to detach
         * a device an active domain holds, which fails vdsm's preparation
         * before this hook, and a VF held by another migration under way has
         * that migration's reservation (STAND_BUSY above).
         */
        return rs->want[k].preferred != &rs->inv->vfs[vf];
}

static bool may_take(const Reserving *rs, size_t k, size_t vf)
{
        return pf_serves(rs, k, rs->inv->vfs[vf].pf) && !busy_for(rs, k, vf);
}

/* Which PFs serve the network of request @k, or the refusal when none may. */
static int resolve_network(const Reserving *rs, const HpvmConfig *c, size_t k, HpvmError *err)
{
        const HpvmVfRequest *q = &rs->reqs[k];
        char qn[HPVM_QUOTE_MAX], mac[HPVM_MAC_STRLEN];
        const char *const *pfs;
        size_t npfs;
        int r;

        if (!hpvm_config_has_network_pfs(c)) {
                rs->want[k].pfs = NULL;
                return 0;
        }
        if (!q->network || !*q->network)
                return hpvm_error_set(err, -ENOSPC, "no free VF for the NIC %s: its network is not known, and %s "
                                      "gives the PFs of each network (sriov_pfs.<network>)",
                                      hpvm_mac_format(&q->mac, mac, sizeof(mac)), c->path);
        r = hpvm_config_network_pfs(c, q->network, &pfs, &npfs);
        if (r == -ENOENT) {
                hpvm_quote(q->network, strlen(q->network), qn, sizeof(qn));
                return hpvm_error_set(err, -ENOSPC, "no free VF for network '%s': no PF serves it (%s names the PFs "
                                      "of other networks only: add sriov_pfs.%s=<PF>[,<PF>...])", qn, c->path, qn);
        }
        if (r < 0)
                return hpvm_error_set(err, r, "no PFs for network '%s'",
                                      hpvm_quote(q->network, strlen(q->network), qn, sizeof(qn)));
        rs->want[k].pfs = pfs;
        rs->want[k].npfs = npfs;
        return 0;
}

static int check_requests(const char *vm, const HpvmVfRequest *reqs, size_t n, HpvmError *err)
{
        char q[HPVM_QUOTE_MAX], mac[HPVM_MAC_STRLEN];

        if (!hpvm_state_token_valid(vm))
                return hpvm_error_set(err, -EINVAL, "'%s' cannot name a VM in the VF ledger",
                                      hpvm_quote(vm, strlen(vm), q, sizeof(q)));
        if (n > HPVM_VFLEDGER_REQUESTS_MAX)
                return hpvm_error_set(err, -E2BIG, "VM %s asks for %zu VFs, more than the %u one VM may have", vm, n,
                                      HPVM_VFLEDGER_REQUESTS_MAX);
        for (size_t k = 0; k < n; k++) {
                if (reqs[k].network && strlen(reqs[k].network) > HPVM_VFLEDGER_NETWORK_MAX)
                        return hpvm_error_set(err, -EINVAL, "network '%s' of the NIC %s: longer than %u bytes",
                                              hpvm_quote(reqs[k].network, strlen(reqs[k].network), q, sizeof(q)),
                                              hpvm_mac_format(&reqs[k].mac, mac, sizeof(mac)),
                                              HPVM_VFLEDGER_NETWORK_MAX);
                for (size_t j = 0; j < k; j++)
                        if (hpvm_mac_equal(&reqs[j].mac, &reqs[k].mac))
                                return hpvm_error_set(err, -EINVAL, "VM %s: two NICs have the MAC %s", vm,
                                                      hpvm_mac_format(&reqs[k].mac, mac, sizeof(mac)));
        }
        return 0;
}

/* The records' view of every VF of @rs->inv for @vm at @now. */
static int read_stands(const HpvmVfLedger *l, Reserving *rs, const char *vm, time_t now, HpvmError *err)
{
        for (size_t i = 0; i < rs->inv->nvfs; i++) {
                char id[HPVM_PCI_ADDR_STRLEN];
                HpvmRecord *rec = hpvm_state_find(l->state, TYPE_VF,
                                                  hpvm_pci_addr_format(&rs->inv->vfs[i].addr, id, sizeof(id)));
                HpvmVfEntry e;
                int r;

                rs->stand[i] = STAND_FREE;
                if (!rec)
                        continue;
                if ((r = read_entry(l, rec, 0, &e, err)) < 0)
                        return r;
                if (e.reserved && same_vm(e.vm, vm)) {
                        rs->stand[i] = STAND_OWN;
                        rs->own_mac[i] = e.mac;
                } else if (!e.reserved || e.expires > now) {
                        rs->stand[i] = STAND_BUSY;
                }
        }
        return 0;
}

static void take(Reserving *rs, size_t k, size_t vf)
{
        rs->want[k].pick = vf;
        rs->taken[vf] = true;
}

/* The second pass: requests with the fewest free VFs choose first. */
static int choose_rest(Reserving *rs, size_t n, HpvmError *err)
{
        _cleanup_free_ size_t *order = malloc((n ? n : 1) * sizeof(*order));
        _cleanup_free_ bool *busy = malloc((rs->inv->nvfs ? rs->inv->nvfs : 1) * sizeof(*busy));
        size_t m = 0;

        if (!order || !busy)
                return hpvm_error_set(err, -ENOMEM, "out of memory reserving VFs");
        for (size_t k = 0; k < n; k++) {
                size_t at;

                if (rs->want[k].pick != SIZE_MAX)
                        continue;
                rs->want[k].candidates = 0;
                for (size_t i = 0; i < rs->inv->nvfs; i++)
                        rs->want[k].candidates += may_take(rs, k, i);
                /* Insertion keeps equal counts in request order. */
                at = m++;
                for (; at > 0 && rs->want[order[at - 1]].candidates > rs->want[k].candidates; at--)
                        order[at] = order[at - 1];
                order[at] = k;
        }
        for (size_t o = 0; o < m; o++) {
                size_t k = order[o], pick = SIZE_MAX;
                const HpvmVfRequest *q = &rs->reqs[k];
                HpvmVfChoice ch = {
                        .network = q->network,
                        .pfs = rs->want[k].pfs,
                        .npfs = rs->want[k].npfs,
                        .busy = busy,
                        .preferred = rs->want[k].preferred ? &rs->want[k].preferred->addr : NULL,
                        .preferred_node = q->preferred_node,
                };
                int r;

                for (size_t i = 0; i < rs->inv->nvfs; i++)
                        busy[i] = busy_for(rs, k, i);
                r = hpvm_vf_choose(rs->inv, &ch, &pick, err);
                if (r < 0)
                        return r;
                take(rs, k, pick);
        }
        return 0;
}

static int record_reservations(HpvmVfLedger *l, const Reserving *rs, const char *vm, size_t n, time_t now,
                               uint64_t timeout)
{
        int r;

        /* Earlier reservations of this VM that were not reused go: its reservations are exactly the new ones. */
        hpvm_vfledger_release_reservations(l, vm);
        for (size_t k = 0; k < n; k++) {
                HpvmVfEntry e = {
                        .addr = rs->inv->vfs[rs->want[k].pick].addr,
                        .reserved = true,
                        .has_mac = true,
                        .mac = rs->reqs[k].mac,
                        .since = now,
                        .expires = now + (time_t)timeout,
                };

                snprintf(e.vm, sizeof(e.vm), "%s", vm);
                if (rs->reqs[k].network)
                        snprintf(e.network, sizeof(e.network), "%s", rs->reqs[k].network);
                if ((r = write_entry(l, &e)) < 0)
                        return r;
        }
        return 0;
}

int hpvm_vfledger_reserve(HpvmVfLedger *l, const HpvmVfInventory *inv, const HpvmConfig *c, const char *vm,
                          const HpvmVfRequest *reqs, size_t n, time_t now, size_t *ret_vf, HpvmError *err)
{
        _cleanup_free_ Want *want = NULL;
        _cleanup_free_ unsigned char *stand = NULL;
        _cleanup_free_ HpvmMac *own_mac = NULL;
        _cleanup_free_ bool *taken = NULL;
        Reserving rs = { .inv = inv, .reqs = reqs };
        size_t nvfs;
        int r;

        if (!l || !inv || !c || !vm || (n && (!reqs || !ret_vf)) || now < 0)
                return hpvm_error_set(err, -EINVAL, "reserving VFs: a required argument is missing");
        if ((r = check_requests(vm, reqs, n, err)) < 0)
                return r;
        nvfs = inv->nvfs ? inv->nvfs : 1;
        want = calloc(n ? n : 1, sizeof(*want));
        stand = calloc(nvfs, sizeof(*stand));
        own_mac = calloc(nvfs, sizeof(*own_mac));
        taken = calloc(nvfs, sizeof(*taken));
        if (!want || !stand || !own_mac || !taken)
                return hpvm_error_set(err, -ENOMEM, "out of memory reserving VFs");
        rs.want = want;
        rs.stand = stand;
        rs.own_mac = own_mac;
        rs.taken = taken;
        for (size_t k = 0; k < n; k++) {
                want[k].pick = SIZE_MAX;
                want[k].preferred = reqs[k].has_preferred ? hpvm_vf_inventory_vf(inv, &reqs[k].preferred) : NULL;
                if ((r = resolve_network(&rs, c, k, err)) < 0)
                        return r;
        }
        if ((r = read_stands(l, &rs, vm, now, err)) < 0)
                return r;

        /* A retried check gets the VFs it reserved before, NIC by NIC. */
        for (size_t k = 0; k < n; k++)
                for (size_t i = 0; want[k].pick == SIZE_MAX && i < inv->nvfs; i++)
                        if (stand[i] == STAND_OWN && hpvm_mac_equal(&own_mac[i], &reqs[k].mac) && may_take(&rs, k, i))
                                take(&rs, k, i);
        /* Then each NIC its source's VF, before any other NIC can choose that one. */
        for (size_t k = 0; k < n; k++)
                if (want[k].pick == SIZE_MAX && want[k].preferred &&
                    may_take(&rs, k, (size_t)(want[k].preferred - inv->vfs)))
                        take(&rs, k, (size_t)(want[k].preferred - inv->vfs));
        if ((r = choose_rest(&rs, n, err)) < 0)
                return r;

        if ((r = record_reservations(l, &rs, vm, n, now, c->vf_reservation_timeout)) < 0)
                return hpvm_error_set(err, r, "%s: cannot record the VFs of VM %s (%s)", hpvm_vfledger_path(l), vm,
                                      strerror(-r));
        for (size_t k = 0; k < n; k++)
                ret_vf[k] = want[k].pick;
        return 0;
}

/* ---------------------------------------------------------------- using and releasing */

int hpvm_vfledger_use(HpvmVfLedger *l, const char *vm, time_t now)
{
        int turned = 0;

        if (!vm)
                return 0;
        for (size_t i = 0; i < hpvm_state_count(l->state); i++) {
                HpvmRecord *rec = hpvm_state_at(l->state, i);
                const char *state = hpvm_record_get(rec, "state"), *holder = hpvm_record_get(rec, "vm");
                int r;

                if (!state || strcmp(state, STATE_RESERVED) || !holder || !same_vm(holder, vm))
                        continue;
                if ((r = hpvm_record_set(rec, "state", STATE_IN_USE)) < 0 ||
                    (r = hpvm_record_set_time(rec, "since", now)) < 0 || (r = hpvm_record_set(rec, "expires", NULL)) < 0)
                        return r;
                turned++;
        }
        return turned;
}

int hpvm_vfledger_mark_in_use(HpvmVfLedger *l, const char *vm, const HpvmPciAddr *addr, const HpvmMac *mac,
                              const char *network, time_t now, HpvmWarnings *warn, HpvmError *err)
{
        char id[HPVM_PCI_ADDR_STRLEN], q[HPVM_QUOTE_MAX];
        HpvmVfEntry e = { .since = now }, old;
        int replaced = 0, r;

        if (!l || !addr || !vm || now < 0)
                return hpvm_error_set(err, -EINVAL, "marking a VF in use: a required argument is missing");
        if (!hpvm_state_token_valid(vm))
                return hpvm_error_set(err, -EINVAL, "'%s' cannot name a VM in the VF ledger",
                                      hpvm_quote(vm, strlen(vm), q, sizeof(q)));
        if (network && strlen(network) > HPVM_VFLEDGER_NETWORK_MAX)
                return hpvm_error_set(err, -EINVAL, "network '%s': longer than %u bytes",
                                      hpvm_quote(network, strlen(network), q, sizeof(q)), HPVM_VFLEDGER_NETWORK_MAX);
        hpvm_pci_addr_format(addr, id, sizeof(id));
        r = hpvm_vfledger_get(l, addr, &old, err);
        if (r < 0 && r != -ENOENT)
                return r;
        if (r == 0 && !same_vm(old.vm, vm) && (!old.reserved || old.expires > now)) {
                /* The guest that holds the VF is the truth; the record it replaces was wrong or is stale. */
                hpvm_warn(warn, "vfledger: VF %s was %s VM %s; VM %s holds it now", id,
                          old.reserved ? "reserved for" : "in use by", old.vm, vm);
                replaced = 1;
        }
        e.addr = *addr;
        snprintf(e.vm, sizeof(e.vm), "%s", vm);
        if (mac) {
                e.has_mac = true;
                e.mac = *mac;
        }
        if (network)
                snprintf(e.network, sizeof(e.network), "%s", network);
        if ((r = write_entry(l, &e)) < 0)
                return hpvm_error_set(err, r, "%s: cannot record VF %s of VM %s (%s)", hpvm_vfledger_path(l), id, vm,
                                      strerror(-r));
        return replaced;
}

/* Drop the records of @vm (all, or its reservations only). */
static int release(HpvmVfLedger *l, const char *vm, bool reservations_only)
{
        int dropped = 0;

        for (size_t i = 0; vm && i < hpvm_state_count(l->state);) {
                HpvmRecord *rec = hpvm_state_at(l->state, i);
                const char *state = hpvm_record_get(rec, "state"), *holder = hpvm_record_get(rec, "vm");
                char id[HPVM_STATE_TOKEN_MAX + 1];

                if (!holder || !same_vm(holder, vm) ||
                    (reservations_only && (!state || strcmp(state, STATE_RESERVED)))) {
                        i++;
                        continue;
                }
                snprintf(id, sizeof(id), "%s", hpvm_record_id(rec));
                hpvm_state_remove(l->state, TYPE_VF, id);
                dropped++;
        }
        return dropped;
}

int hpvm_vfledger_release_vm(HpvmVfLedger *l, const char *vm)
{
        return release(l, vm, false);
}

int hpvm_vfledger_release_reservations(HpvmVfLedger *l, const char *vm)
{
        return release(l, vm, true);
}

int hpvm_vfledger_release_vf(HpvmVfLedger *l, const HpvmPciAddr *addr)
{
        char id[HPVM_PCI_ADDR_STRLEN];

        if (!addr)
                return -ENOENT;
        return hpvm_state_remove(l->state, TYPE_VF, hpvm_pci_addr_format(addr, id, sizeof(id)));
}

static bool uuid_listed(const HpvmUuid *u, size_t n, const char *vm)
{
        for (size_t i = 0; i < n; i++)
                if (same_vm(u[i].s, vm))
                        return true;
        return false;
}

int hpvm_vfledger_reclaim(HpvmVfLedger *l, time_t now, uint64_t grace, const char *proc_root, HpvmWarnings *warn,
                          HpvmError *err)
{
        _cleanup_free_ HpvmUuid *running = NULL;
        size_t nrunning = 0;
        bool scanned = false;
        int dropped = 0, r;

        for (size_t i = 0; i < hpvm_state_count(l->state);) {
                HpvmRecord *rec = hpvm_state_at(l->state, i);
                char id[HPVM_STATE_TOKEN_MAX + 1];
                const char *why = NULL;
                HpvmVfEntry e;

                if ((r = read_entry(l, rec, 0, &e, err)) < 0)
                        return r;
                if (e.reserved) {
                        if (e.expires <= now)
                                why = "its reservation for an incoming migration expired";
                } else if ((uint64_t)(now > e.since ? now - e.since : 0) > grace) {
                        if (!scanned) {
                                r = hpvm_vm_running_uuids(proc_root, &running, &nrunning, err);
                                if (r < 0)
                                        return r;
                                scanned = true;
                        }
                        if (!uuid_listed(running, nrunning, e.vm))
                                why = "no QEMU process on this host runs it";
                }
                if (!why) {
                        i++;
                        continue;
                }
                snprintf(id, sizeof(id), "%s", hpvm_record_id(rec));
                hpvm_warn(warn, "vfledger: freed VF %s of VM %s: %s", id, e.vm, why);
                hpvm_state_remove(l->state, TYPE_VF, id);
                dropped++;
        }
        return dropped;
}
