/* ledger.c: the host-wide CPU ledger on the locked state file "cpus": entries, reservations, reclaim, usage. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "ledger.h"
#include "procscan.h"
#include "props.h"

#define REPAIR_HINT "rebuild it with hpvm-fit --repair-ledger"
#define LIST_MAX HPVM_CPUSET_MAX       /* entries of a vcpus=/cells= list */

struct HpvmLedger {
        HpvmState *state;
};

void hpvm_ledger_entry_clear(HpvmLedgerEntry *e)
{
        free(e->vcpu_cpu);
        free(e->cell_node);
        free(e->node_use);
        memset(e, 0, sizeof(*e));
}

static int open_ledger(const HpvmConfig *c, bool reset, HpvmLedger **ret, HpvmError *err)
{
        HpvmStateOpts o = { .dir = c->state_dir, .repair_hint = REPAIR_HINT, .reset_damaged = reset };
        HpvmLedger *l = calloc(1, sizeof(*l));
        int r;

        if (!l)
                return hpvm_error_set(err, -ENOMEM, "out of memory");
        o.uid = o.gid = -1;
        o.user = c->state_user;
        o.group = c->state_group;
        r = hpvm_state_open(&o, HPVM_LEDGER_FILE, &l->state, err);
        if (r < 0) {
                free(l);
                return r;
        }
        *ret = l;
        return 0;
}

int hpvm_ledger_open(const HpvmConfig *c, HpvmLedger **ret, HpvmError *err)
{
        return open_ledger(c, false, ret, err);
}

int hpvm_ledger_open_reset(const HpvmConfig *c, HpvmLedger **ret, HpvmError *err)
{
        return open_ledger(c, true, ret, err);
}

int hpvm_ledger_commit(HpvmLedger *l, HpvmError *err)
{
        return hpvm_state_commit(l->state, err);
}

void hpvm_ledger_close(HpvmLedger *l)
{
        if (!l)
                return;
        hpvm_state_close(l->state);
        free(l);
}

const char *hpvm_ledger_path(const HpvmLedger *l)
{
        return hpvm_state_path(l->state);
}

size_t hpvm_ledger_count(const HpvmLedger *l)
{
        return hpvm_state_count(l->state);
}

const char *hpvm_ledger_vm_at(const HpvmLedger *l, size_t i)
{
        HpvmRecord *rec = hpvm_state_at(l->state, i);

        return rec ? hpvm_record_id(rec) : NULL;
}

/* ---------------------------------------------------------------- lists in fields */

static int bad_field(const HpvmLedger *l, const char *vm, const char *key, HpvmError *err)
{
        char q[HPVM_QUOTE_MAX];

        hpvm_quote(vm, strlen(vm), q, sizeof(q));
        return hpvm_error_set(err, -EBADMSG, "%s: VM %s: field %s does not parse: the state file is damaged; " REPAIR_HINT,
                              hpvm_ledger_path(l), q, key);
}

/* "3,4,5": numbers below @max, at most LIST_MAX of them; absent: none. */
static int get_list(const HpvmLedger *l, const HpvmRecord *rec, const char *key, uint64_t max, unsigned **ret,
                    size_t *ret_n, HpvmError *err)
{
        const char *v = hpvm_record_get(rec, key), *p;
        unsigned *out = NULL;
        size_t n = 0;

        *ret = NULL;
        *ret_n = 0;
        if (!v || !*v)
                return 0;
        for (p = v;;) {
                const char *end = strchr(p, ',');
                size_t len = end ? (size_t)(end - p) : strlen(p);
                uint64_t x;
                unsigned *grown;

                if (n == LIST_MAX || hpvm_parse_u64(p, len, max, &x) < 0) {
                        free(out);
                        return bad_field(l, hpvm_record_id(rec), key, err);
                }
                grown = realloc(out, (n + 1) * sizeof(*out));
                if (!grown) {
                        free(out);
                        return hpvm_error_set(err, -ENOMEM, "out of memory");
                }
                out = grown;
                out[n++] = (unsigned)x;
                if (!end)
                        break;
                p = end + 1;
        }
        *ret = out;
        *ret_n = n;
        return 0;
}

static int set_list(HpvmRecord *rec, const char *key, const unsigned *v, size_t n)
{
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;

        if (!n)
                return hpvm_record_set(rec, key, NULL);
        buf = malloc(n * 12 + 1);
        if (!buf)
                return -ENOMEM;
        buf[0] = '\0';
        for (size_t i = 0; i < n; i++)
                len += (size_t)sprintf(buf + len, "%s%u", i ? "," : "", v[i]);
        return hpvm_record_set(rec, key, buf);
}

/* "0:512,1:512" pairs of node and amount into e->node_use (@pages: the page or the memory column). */
static int get_node_use(const HpvmLedger *l, const HpvmRecord *rec, const char *key, bool pages, HpvmLedgerEntry *e,
                        HpvmError *err)
{
        const char *v = hpvm_record_get(rec, key), *p;

        if (!v || !*v)
                return 0;
        for (p = v;;) {
                const char *end = strchr(p, ','), *colon;
                size_t len = end ? (size_t)(end - p) : strlen(p);
                uint64_t node, amount;
                size_t i;

                colon = memchr(p, ':', len);
                if (!colon || hpvm_parse_u64(p, (size_t)(colon - p), HPVM_NODE_MAX - 1, &node) < 0 ||
                    hpvm_parse_u64(colon + 1, len - (size_t)(colon - p) - 1, HPVM_MEM_MAX_KIB, &amount) < 0)
                        return bad_field(l, hpvm_record_id(rec), key, err);
                for (i = 0; i < e->nnode_use && e->node_use[i].node != node; i++)
                        ;
                if (i == e->nnode_use) {
                        void *grown;

                        if (e->nnode_use == HPVM_NODE_MAX)
                                return bad_field(l, hpvm_record_id(rec), key, err);
                        grown = realloc(e->node_use, (e->nnode_use + 1) * sizeof(*e->node_use));
                        if (!grown)
                                return hpvm_error_set(err, -ENOMEM, "out of memory");
                        e->node_use = grown;
                        e->node_use[i].node = (unsigned)node;
                        e->node_use[i].pages = e->node_use[i].mem_kib = 0;
                        e->nnode_use++;
                }
                if (pages)
                        e->node_use[i].pages = amount;
                else
                        e->node_use[i].mem_kib = amount;
                if (!end)
                        return 0;
                p = end + 1;
        }
}

static int set_node_use(HpvmRecord *rec, const char *key, const HpvmLedgerEntry *e, bool pages)
{
        _cleanup_free_ char *buf = malloc(e->nnode_use * 32 + 1);
        size_t len = 0;

        if (!buf)
                return -ENOMEM;
        buf[0] = '\0';
        for (size_t i = 0; i < e->nnode_use; i++) {
                uint64_t v = pages ? e->node_use[i].pages : e->node_use[i].mem_kib;

                if (v)
                        len += (size_t)sprintf(buf + len, "%s%u:%llu", len ? "," : "", e->node_use[i].node,
                                               (unsigned long long)v);
        }
        return hpvm_record_set(rec, key, len ? buf : NULL);
}

/* ---------------------------------------------------------------- entries */

static int read_entry(const HpvmLedger *l, const HpvmRecord *rec, HpvmLedgerEntry *e, HpvmError *err)
{
        const char *state = hpvm_record_get(rec, "state"), *name = hpvm_record_get(rec, "name");
        size_t ncpu = 0;
        uint64_t v;
        int r;

        memset(e, 0, sizeof(*e));
        snprintf(e->vm, sizeof(e->vm), "%s", hpvm_record_id(rec));
        snprintf(e->name, sizeof(e->name), "%s", name ? name : "");
        if (!state || (strcmp(state, "running") && strcmp(state, "reserved")))
                return bad_field(l, e->vm, "state", err);
        e->reserved = !strcmp(state, "reserved");
        if (hpvm_record_get_cpuset(rec, "cpus", &e->cpus, err) < 0)
                return bad_field(l, e->vm, "cpus", err);
        if (hpvm_record_get_time(rec, "since", &e->since, err) < 0)
                return bad_field(l, e->vm, "since", err);
        if (e->reserved && hpvm_record_get_time(rec, "expires", &e->expires, err) < 0)
                return bad_field(l, e->vm, "expires", err);
        r = hpvm_record_get_cpuset(rec, "emulator", &e->emulator, err);
        if (r < 0 && r != -ENOENT)
                return bad_field(l, e->vm, "emulator", err);
        e->has_emulator = r == 0;
        r = hpvm_record_get_cpuset(rec, "iothreads", &e->iothreads, err);
        if (r < 0 && r != -ENOENT)
                return bad_field(l, e->vm, "iothreads", err);
        e->has_iothreads = r == 0;
        if ((r = get_list(l, rec, "vcpus", HPVM_CPUSET_MAX - 1, &e->vcpu_cpu, &ncpu, err)) < 0 ||
            (r = get_list(l, rec, "cells", HPVM_NODE_MAX - 1, &e->cell_node, &e->ncells, err)) < 0 ||
            (r = get_node_use(l, rec, "pages", true, e, err)) < 0 || (r = get_node_use(l, rec, "mem", false, e, err)) < 0)
                return r;
        e->nvcpus = (unsigned)ncpu;
        r = hpvm_record_get_u64(rec, "pagesize", HPVM_PAGE_MAX_KIB, &v, err);
        if (r < 0 && r != -ENOENT)
                return bad_field(l, e->vm, "pagesize", err);
        e->page_kib = r == 0 ? v : 0;
        /* What a placement names must be among what the entry holds. */
        for (unsigned i = 0; i < e->nvcpus; i++)
                if (!hpvm_cpuset_test(&e->cpus, e->vcpu_cpu[i]))
                        return bad_field(l, e->vm, "vcpus", err);
        return 0;
}

int hpvm_ledger_get(const HpvmLedger *l, const char *vm, HpvmLedgerEntry *ret, HpvmError *err)
{
        HpvmRecord *rec = hpvm_state_find(l->state, "vm", vm);
        int r;

        if (!rec)
                return -ENOENT;
        r = read_entry(l, rec, ret, err);
        if (r < 0)
                hpvm_ledger_entry_clear(ret);
        return r;
}

int hpvm_ledger_put(HpvmLedger *l, const HpvmLedgerEntry *e, HpvmError *err)
{
        HpvmRecord *rec;
        int r;

        if (!hpvm_state_token_valid(e->vm))
                return hpvm_error_set(err, -EINVAL, "%s: '%s' cannot name a VM in the ledger", hpvm_ledger_path(l), e->vm);
        /* A fresh record each time: fields of an earlier placement must not linger. */
        hpvm_state_remove(l->state, "vm", e->vm);
        r = hpvm_state_put(l->state, "vm", e->vm, &rec);
        if (r >= 0)
                r = hpvm_record_set(rec, "name", e->name);
        if (r >= 0)
                r = hpvm_record_set(rec, "state", e->reserved ? "reserved" : "running");
        if (r >= 0)
                r = hpvm_record_set_time(rec, "since", e->since);
        if (r >= 0 && e->reserved)
                r = hpvm_record_set_time(rec, "expires", e->expires);
        if (r >= 0)
                r = hpvm_record_set_cpuset(rec, "cpus", &e->cpus);
        if (r >= 0)
                r = set_list(rec, "vcpus", e->vcpu_cpu, e->nvcpus);
        if (r >= 0 && e->has_emulator)
                r = hpvm_record_set_cpuset(rec, "emulator", &e->emulator);
        if (r >= 0 && e->has_iothreads)
                r = hpvm_record_set_cpuset(rec, "iothreads", &e->iothreads);
        if (r >= 0)
                r = set_list(rec, "cells", e->cell_node, e->ncells);
        if (r >= 0 && e->page_kib)
                r = hpvm_record_set_u64(rec, "pagesize", e->page_kib);
        if (r >= 0)
                r = set_node_use(rec, "pages", e, true);
        if (r >= 0)
                r = set_node_use(rec, "mem", e, false);
        if (r < 0)
                return hpvm_error_set(err, r, "%s: cannot record VM %s (%s)", hpvm_ledger_path(l), e->vm, strerror(-r));
        return 0;
}

int hpvm_ledger_release(HpvmLedger *l, const char *vm)
{
        return hpvm_state_remove(l->state, "vm", vm);
}

static bool uuid_listed(const HpvmUuid *u, size_t n, const char *vm)
{
        for (size_t i = 0; i < n; i++)
                if (!strcasecmp(u[i].s, vm))
                        return true;
        return false;
}

int hpvm_ledger_reclaim(HpvmLedger *l, time_t now, uint64_t grace, const char *proc_root, HpvmWarnings *warn,
                        HpvmError *err)
{
        _cleanup_free_ HpvmUuid *running = NULL;
        size_t nrunning = 0;
        bool scanned = false;
        int dropped = 0, r;

        for (size_t i = 0; i < hpvm_state_count(l->state);) {
                HpvmRecord *rec = hpvm_state_at(l->state, i);
                const char *state = hpvm_record_get(rec, "state");
                char vm[HPVM_STATE_TOKEN_MAX + 1];
                time_t since = 0, expires = 0;
                const char *why = NULL;

                snprintf(vm, sizeof(vm), "%s", hpvm_record_id(rec));
                {
                        /* A damaged entry is refused, never dropped: it may stand for CPUs a VM holds. */
                        HpvmLedgerEntry e;

                        r = read_entry(l, rec, &e, err);
                        hpvm_ledger_entry_clear(&e);
                        if (r < 0)
                                return r;
                }
                if (state && !strcmp(state, "reserved")) {
                        if (hpvm_record_get_time(rec, "expires", &expires, NULL) < 0 || expires <= now)
                                why = "its reservation for an incoming migration expired";
                } else if (hpvm_record_get_time(rec, "since", &since, NULL) < 0 ||
                           (uint64_t)(now > since ? now - since : 0) > grace) {
                        if (!scanned) {
                                r = hpvm_vm_running_uuids(proc_root, &running, &nrunning, err);
                                if (r < 0)
                                        return r;
                                scanned = true;
                        }
                        if (!uuid_listed(running, nrunning, vm))
                                why = "no QEMU process on this host runs it";
                }
                if (!why) {
                        i++;
                        continue;
                }
                hpvm_warn(warn, "ledger: released the CPUs of VM %s: %s", vm, why);
                hpvm_state_remove(l->state, "vm", vm);
                dropped++;
        }
        return dropped;
}

int hpvm_ledger_apply(const HpvmLedger *l, const HpvmHost *h, HpvmUsage *u, const char *except_vm,
                      HpvmError *err)
{
        for (size_t i = 0; i < hpvm_state_count(l->state); i++) {
                HpvmRecord *rec = hpvm_state_at(l->state, i);
                _cleanup_ledger_entry_ HpvmLedgerEntry e = { 0 };
                int r;

                if (except_vm && !strcasecmp(hpvm_record_id(rec), except_vm))
                        continue;
                if ((r = read_entry(l, rec, &e, err)) < 0)
                        return r;
                hpvm_cpuset_or(&u->taken, &e.cpus);
                /* A running VM's pages and memory are already gone from the kernel's free counts. */
                if (!e.reserved)
                        continue;
                for (size_t k = 0; k < e.nnode_use; k++) {
                        int n = hpvm_host_node_index(h, e.node_use[k].node);
                        int p;

                        if (n < 0 || (size_t)n >= u->nnodes)
                                continue;
                        p = e.page_kib ? hpvm_node_pool(&h->nodes[n], e.page_kib) : -1;
                        if (p >= 0)
                                u->node[n].pages[p] -= e.node_use[k].pages < u->node[n].pages[p]
                                                       ? e.node_use[k].pages : u->node[n].pages[p];
                        if (u->node[n].mem_kib != HPVM_MEM_UNKNOWN)
                                u->node[n].mem_kib -= e.node_use[k].mem_kib < u->node[n].mem_kib
                                                      ? e.node_use[k].mem_kib : u->node[n].mem_kib;
                }
        }
        return 0;
}
