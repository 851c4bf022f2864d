/* hotplug.c: bounded VF NIC hot-unplug with libvirt's device events, and idempotent re-plug. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <libvirt/virterror.h>

#include "hotplug.h"
#include "virtconn.h"
#include "xml.h"

#define TICK_MS 100             /* the event loop wakes at least this often */
#define POLL_MS 500             /* the live XML is read this often while waiting */

/* ---------------------------------------------------------------- small helpers */

static double now_s(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *vm_name(virDomainPtr dom, char *buf, size_t size)
{
        const char *name = virDomainGetName(dom);
        char q[HPVM_QUOTE_MAX];

        snprintf(buf, size, "VM '%s'", name ? hpvm_quote(name, strlen(name), q, sizeof(q)) : "?");
        return buf;
}

/* The domain XML (live, or the definition with VIR_DOMAIN_XML_INACTIVE) as a parsed document. */
static int domain_doc(virDomainPtr dom, unsigned flags, xmlDoc **ret, HpvmError *err)
{
        char who[HPVM_QUOTE_MAX + 8];
        char *xml;
        int r;

        /* Named first: every libvirt call, virDomainGetName() too, clears the last error. */
        vm_name(dom, who, sizeof(who));
        virResetLastError();
        xml = virDomainGetXMLDesc(dom, flags);
        if (!xml)
                return hpvm_error_set(err, -EIO, "%s: cannot read its %s XML: %s", who,
                                      flags & VIR_DOMAIN_XML_INACTIVE ? "persistent" : "live",
                                      hpvm_virt_last_error("no reason given"));
        r = hpvm_xml_parse(xml, strlen(xml), "domain", "domain XML", ret, err);
        free(xml);
        return r;
}

/* An interface's <mac address> (lowercase) and <alias name>, "" when absent or unreadable. */
static void iface_ids(const xmlNode *iface, char mac[HPVM_MAC_STRLEN], char alias[HPVM_ALIAS_MAX])
{
        _cleanup_xmlchar_ xmlChar *m = hpvm_xml_prop(hpvm_xml_child(iface, "mac"), "address");
        _cleanup_xmlchar_ xmlChar *a = hpvm_xml_prop(hpvm_xml_child(iface, "alias"), "name");
        HpvmMac parsed;

        mac[0] = alias[0] = '\0';
        if (m && hpvm_mac_parse((const char *)m, strlen((const char *)m), &parsed) == 0)
                hpvm_mac_format(&parsed, mac, HPVM_MAC_STRLEN);
        if (a && strlen((const char *)a) < HPVM_ALIAS_MAX)
                memcpy(alias, a, strlen((const char *)a) + 1);
}

/* The <interface> of @doc with MAC @mac (by_mac) and the one with alias @alias (by_alias); NULL when none. */
static void find_iface(xmlDoc *doc, const char *mac, const char *alias, xmlNode **by_mac, xmlNode **by_alias)
{
        xmlNode *devices = hpvm_xml_child(xmlDocGetRootElement(doc), "devices");

        *by_mac = *by_alias = NULL;
        HPVM_XML_FOREACH(iface, devices, "interface") {
                char m[HPVM_MAC_STRLEN], a[HPVM_ALIAS_MAX];

                iface_ids(iface, m, a);
                if (!*by_mac && mac[0] && !strcmp(m, mac))
                        *by_mac = iface;
                if (!*by_alias && alias[0] && !strcmp(a, alias))
                        *by_alias = iface;
        }
}

static int dump_node(xmlDoc *doc, xmlNode *n, char **ret, HpvmError *err)
{
        xmlBuffer *xb = xmlBufferCreate();
        char *out = NULL;

        if (xb && xmlNodeDump(xb, doc, n, 0, 0) >= 0)
                out = strdup((const char *)xmlBufferContent(xb));
        if (xb)
                xmlBufferFree(xb);
        if (!out)
                return hpvm_error_set(err, -ENOMEM, "out of memory");
        *ret = out;
        return 0;
}

static int lower_mac(const char *s, char out[HPVM_MAC_STRLEN])
{
        HpvmMac m;

        if (!s || hpvm_mac_parse(s, strlen(s), &m) < 0)
                return -EINVAL;
        hpvm_mac_format(&m, out, HPVM_MAC_STRLEN);
        return 0;
}

/* ---------------------------------------------------------------- plugging */

int hpvm_virt_nic_xml(virDomainPtr dom, const char *mac, char **ret_xml, HpvmError *err)
{
        _cleanup_xmldoc_ xmlDoc *doc = NULL;
        char want[HPVM_MAC_STRLEN], who[HPVM_QUOTE_MAX + 8], q[HPVM_QUOTE_MAX];
        xmlNode *by_mac, *by_alias;
        int r;

        if (lower_mac(mac, want) < 0)
                return hpvm_error_set(err, -EINVAL, "'%s' is not a MAC address like 00:1a:4a:16:01:51",
                                      mac ? hpvm_quote(mac, strlen(mac), q, sizeof(q)) : "");
        r = domain_doc(dom, 0, &doc, err);
        if (r < 0)
                return r;
        find_iface(doc, want, "", &by_mac, &by_alias);
        if (!by_mac)
                return hpvm_error_set(err, -ENOENT, "%s has no NIC %s", vm_name(dom, who, sizeof(who)), want);
        return dump_node(doc, by_mac, ret_xml, err);
}

/* Is a NIC of @mac in @doc? -EEXIST when its @alias belongs to a NIC of another MAC. */
static int present(xmlDoc *doc, const char *mac, const char *alias, const char *side, virDomainPtr dom, HpvmError *err)
{
        xmlNode *by_mac, *by_alias;
        char who[HPVM_QUOTE_MAX + 8];

        find_iface(doc, mac, alias, &by_mac, &by_alias);
        if (by_alias && by_alias != by_mac) {
                char m[HPVM_MAC_STRLEN], a[HPVM_ALIAS_MAX];

                iface_ids(by_alias, m, a);
                return hpvm_error_set(err, -EEXIST, "%s: cannot plug NIC %s: its alias '%s' belongs to NIC %s in the %s domain",
                                      vm_name(dom, who, sizeof(who)), mac, alias, m[0] ? m : "without a MAC", side);
        }
        return by_mac != NULL;
}

int hpvm_virt_plug_nic(virDomainPtr dom, const char *interface_xml, HpvmError *err)
{
        _cleanup_xmldoc_ xmlDoc *idoc = NULL, *live = NULL, *conf = NULL;
        char mac[HPVM_MAC_STRLEN], alias[HPVM_ALIAS_MAX], who[HPVM_QUOTE_MAX + 8];
        bool active, persistent;
        unsigned flags = 0;
        int r;

        if (!interface_xml)
                return hpvm_error_set(err, -EINVAL, "no interface XML to plug");
        r = hpvm_xml_parse(interface_xml, strlen(interface_xml), "interface", "interface XML", &idoc, err);
        if (r < 0)
                return r;
        iface_ids(xmlDocGetRootElement(idoc), mac, alias);
        if (!mac[0])
                return hpvm_error_set(err, -EINVAL, "interface XML: no <mac address> like 00:1a:4a:16:01:51 (a NIC is plugged "
                                      "back by its MAC)");
        active = virDomainIsActive(dom) == 1;
        persistent = virDomainIsPersistent(dom) == 1;
        if (active) {
                r = domain_doc(dom, 0, &live, err);
                if (r < 0)
                        return r;
                r = present(live, mac, alias, "running", dom, err);
                if (r < 0)
                        return r;
                if (r == 0)
                        flags |= VIR_DOMAIN_AFFECT_LIVE;
        }
        if (persistent) {
                r = domain_doc(dom, VIR_DOMAIN_XML_INACTIVE, &conf, err);
                if (r < 0)
                        return r;
                r = present(conf, mac, alias, "persistent", dom, err);
                if (r < 0)
                        return r;
                if (r == 0)
                        flags |= VIR_DOMAIN_AFFECT_CONFIG;
        }
        if (!flags)
                return 0;
        vm_name(dom, who, sizeof(who));
        virResetLastError();
        if (virDomainAttachDeviceFlags(dom, interface_xml, flags) < 0)
                return hpvm_error_set(err, -EIO, "%s: cannot plug NIC %s%s%s%s back: %s", who, mac,
                                      alias[0] ? " (alias " : "", alias, alias[0] ? ")" : "",
                                      hpvm_virt_last_error("no reason given"));
        return 1;
}

/* ---------------------------------------------------------------- unplugging */

typedef enum State {
        ST_ABSENT,              /* not there: nothing to do */
        ST_PRESENT,             /* there, not asked yet */
        ST_SENT,                /* detach requested */
        ST_REMOVED,             /* the guest released it */
        ST_REFUSED,             /* the guest refused (removal-failed event) */
} State;

typedef struct Nic {
        char mac[HPVM_MAC_STRLEN];
        char alias[HPVM_ALIAS_MAX];
        char *xml;              /* its live element before the detach, to plug it back with */
        bool in_config;
        State state;
} Nic;

typedef struct Unplug {
        Nic *nics;
        size_t n;
} Unplug;

static Nic *by_alias(Unplug *u, const char *alias)
{
        for (size_t i = 0; alias && i < u->n; i++)
                if (!strcmp(u->nics[i].alias, alias))
                        return &u->nics[i];
        return NULL;
}

static void on_removed(virConnectPtr conn, virDomainPtr dom, const char *alias, void *opaque)
{
        Nic *nic = by_alias(opaque, alias);

        if (nic && nic->state == ST_SENT)
                nic->state = ST_REMOVED;
}

static void on_removal_failed(virConnectPtr conn, virDomainPtr dom, const char *alias, void *opaque)
{
        Nic *nic = by_alias(opaque, alias);

        if (nic && nic->state == ST_SENT)
                nic->state = ST_REFUSED;
}

static void tick(int timer, void *opaque)
{
}

/* Mark every asked-for NIC gone from the live XML as removed (for a lost or late event). */
static int check_live(virDomainPtr dom, Unplug *u, HpvmError *err)
{
        _cleanup_xmldoc_ xmlDoc *doc = NULL;
        int r = domain_doc(dom, 0, &doc, err);

        if (r < 0)
                return r;
        for (size_t i = 0; i < u->n; i++) {
                xmlNode *m, *a;

                if (u->nics[i].state != ST_SENT)
                        continue;
                find_iface(doc, u->nics[i].mac, u->nics[i].alias, &m, &a);
                if (!a)
                        u->nics[i].state = ST_REMOVED;
        }
        return 0;
}

static size_t count(const Unplug *u, State s)
{
        size_t c = 0;

        for (size_t i = 0; i < u->n; i++)
                c += u->nics[i].state == s;
        return c;
}

/* Plug back every NIC this call asked for; the first failure's message goes to @replug_err. */
static int plug_back(virDomainPtr dom, Unplug *u, HpvmError *replug_err)
{
        int first = 0;

        for (size_t i = 0; i < u->n; i++) {
                HpvmError e = { 0 };
                int r;

                if (u->nics[i].state == ST_ABSENT || u->nics[i].state == ST_PRESENT)
                        continue;
                r = hpvm_virt_plug_nic(dom, u->nics[i].xml, &e);
                if (r < 0 && first == 0) {
                        first = r;
                        *replug_err = e;
                }
        }
        return first;
}

/* Check the NICs against the live and persistent XML: which are there, and whether they are who they say. */
static int survey(virDomainPtr dom, bool persistent, Unplug *u, HpvmError *err)
{
        _cleanup_xmldoc_ xmlDoc *live = NULL, *conf = NULL;
        char who[HPVM_QUOTE_MAX + 8];
        int r;

        r = domain_doc(dom, 0, &live, err);
        if (r < 0)
                return r;
        if (persistent && (r = domain_doc(dom, VIR_DOMAIN_XML_INACTIVE, &conf, err)) < 0)
                return r;
        for (size_t i = 0; i < u->n; i++) {
                Nic *nic = &u->nics[i];
                xmlNode *m, *a;

                find_iface(live, nic->mac, nic->alias, &m, &a);
                if (a && a != m) {
                        char om[HPVM_MAC_STRLEN], oa[HPVM_ALIAS_MAX];

                        iface_ids(a, om, oa);
                        return hpvm_error_set(err, -EINVAL, "%s: alias '%s' belongs to NIC %s, not to VF NIC %s: "
                                              "refusing to unplug it", vm_name(dom, who, sizeof(who)), nic->alias,
                                              om[0] ? om : "without a MAC", nic->mac);
                }
                if (m && !a) {
                        char om[HPVM_MAC_STRLEN], oa[HPVM_ALIAS_MAX];

                        iface_ids(m, om, oa);
                        return hpvm_error_set(err, -EINVAL, "%s: VF NIC %s is plugged under alias '%s', not '%s': "
                                              "refusing to unplug it", vm_name(dom, who, sizeof(who)), nic->mac, oa, nic->alias);
                }
                if (!m)
                        continue;
                nic->state = ST_PRESENT;
                r = dump_node(live, m, &nic->xml, err);
                if (r < 0)
                        return r;
                if (conf) {
                        find_iface(conf, nic->mac, nic->alias, &m, &a);
                        nic->in_config = a != NULL && a == m;
                }
        }
        return 0;
}

/* Run the event loop and read the live XML until no NIC is pending, one was refused, or @deadline. */
static int wait_removed(virDomainPtr dom, Unplug *u, double deadline, HpvmError *err)
{
        double next_poll = now_s() + POLL_MS / 1e3;
        int timer = virEventAddTimeout(TICK_MS, tick, NULL, NULL);
        int r = 0;

        while (count(u, ST_SENT) && !count(u, ST_REFUSED)) {
                double t = now_s();

                if (t >= deadline)
                        break;
                if (t >= next_poll || timer < 0) {
                        r = check_live(dom, u, err);
                        if (r < 0)
                                break;
                        next_poll = t + POLL_MS / 1e3;
                        if (!count(u, ST_SENT))
                                break;
                }
                if (timer >= 0) {
                        if (virEventRunDefaultImpl() < 0)
                                timer = -1;     /* no loop after all: poll only */
                } else {
                        struct timespec ts = { 0, TICK_MS * 1000000L };

                        nanosleep(&ts, NULL);
                }
        }
        if (timer >= 0)
                virEventRemoveTimeout(timer);
        /* One last look: a guest may have answered since the last read. */
        if (r == 0 && count(u, ST_SENT) && !count(u, ST_REFUSED))
                r = check_live(dom, u, err);
        return r;
}

/* "VF NIC m (alias a)", with " and N more" when others share the fate. */
static void name_nics(const Unplug *u, State s, char *buf, size_t size)
{
        size_t c = count(u, s);

        for (size_t i = 0; i < u->n; i++) {
                if (u->nics[i].state != s)
                        continue;
                if (c > 1)
                        snprintf(buf, size, "VF NIC %s (alias %s) and %zu more", u->nics[i].mac, u->nics[i].alias, c - 1);
                else
                        snprintf(buf, size, "VF NIC %s (alias %s)", u->nics[i].mac, u->nics[i].alias);
                return;
        }
        snprintf(buf, size, "a VF NIC");
}

static int check_args(const HpvmVfNic *nics, size_t n, unsigned timeout_s, Unplug *u, HpvmError *err)
{
        char q[HPVM_QUOTE_MAX];

        if (timeout_s == 0)
                return hpvm_error_set(err, -EINVAL, "unplug_timeout is 0 s: no guest can release a NIC that fast");
        if (n > HPVM_VFNICS_MAX)
                return hpvm_error_set(err, -E2BIG, "%zu VF NICs to unplug (at most %d)", n, HPVM_VFNICS_MAX);
        for (size_t i = 0; i < n; i++) {
                Nic *nic = &u->nics[i];

                if (lower_mac(nics[i].mac, nic->mac) < 0)
                        return hpvm_error_set(err, -EINVAL, "VF NIC #%zu: '%s' is not a MAC address like 00:1a:4a:16:01:51",
                                              i + 1, hpvm_quote(nics[i].mac, strlen(nics[i].mac), q, sizeof(q)));
                if (!nics[i].alias[0])
                        return hpvm_error_set(err, -EINVAL, "VF NIC %s has no alias: libvirt unplugs a NIC by its alias",
                                              nic->mac);
                snprintf(nic->alias, sizeof(nic->alias), "%s", nics[i].alias);
                for (size_t j = 0; j < i; j++)
                        if (!strcmp(u->nics[j].alias, nic->alias) || !strcmp(u->nics[j].mac, nic->mac))
                                return hpvm_error_set(err, -EINVAL, "VF NIC %s (alias %s) is listed twice", nic->mac,
                                                      nic->alias);
        }
        return 0;
}

int hpvm_virt_unplug_nics(virConnectPtr conn, virDomainPtr dom, const HpvmVfNic *nics, size_t n, unsigned timeout_s,
                          HpvmUnplugOutcome *ret_outcomes, HpvmError *err)
{
        Unplug u = { .n = n };
        int cb_removed = -1, cb_failed = -1;
        char who[HPVM_QUOTE_MAX + 8], names[HPVM_ERR_MAX / 2];
        HpvmError replug = { 0 };
        bool persistent;
        double deadline;
        int r, removed = 0;

        u.nics = calloc(n ? n : 1, sizeof(*u.nics));
        if (!u.nics)
                return hpvm_error_set(err, -ENOMEM, "out of memory");
        r = check_args(nics, n, timeout_s, &u, err);
        if (r < 0)
                goto out;
        vm_name(dom, who, sizeof(who));
        if (virDomainIsActive(dom) != 1) {
                r = hpvm_error_set(err, -EINVAL, "%s is not running: there is nothing to unplug a NIC from", who);
                goto out;
        }
        persistent = virDomainIsPersistent(dom) == 1;
        hpvm_virt_init();

        /* Listen first: a guest may answer before virDomainDetachDeviceAlias() returns. Without events the
         * live XML still tells, so a registration that fails only costs speed. */
        cb_removed = virConnectDomainEventRegisterAny(conn, dom, VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED,
                                                      VIR_DOMAIN_EVENT_CALLBACK(on_removed), &u, NULL);
        cb_failed = virConnectDomainEventRegisterAny(conn, dom, VIR_DOMAIN_EVENT_ID_DEVICE_REMOVAL_FAILED,
                                                     VIR_DOMAIN_EVENT_CALLBACK(on_removal_failed), &u, NULL);

        r = survey(dom, persistent, &u, err);
        if (r < 0)
                goto out;
        deadline = now_s() + timeout_s;
        for (size_t i = 0; i < n; i++) {
                Nic *nic = &u.nics[i];
                unsigned flags = VIR_DOMAIN_AFFECT_LIVE | (nic->in_config ? VIR_DOMAIN_AFFECT_CONFIG : 0);

                if (nic->state != ST_PRESENT)
                        continue;
                virResetLastError();
                /* Sent before the call, so that a failed call is plugged back too (it may have changed the definition). */
                nic->state = ST_SENT;
                if (virDomainDetachDeviceAlias(dom, nic->alias, flags) == 0)
                        continue;
                if (hpvm_virt_last_code() == VIR_ERR_DEVICE_MISSING) {
                        /* Gone since we looked: someone else unplugged it. */
                        nic->state = ST_ABSENT;
                        continue;
                }
                r = hpvm_error_set(err, -EIO, "%s: cannot unplug VF NIC %s (alias %s): %s", who,
                                   nic->mac, nic->alias, hpvm_virt_last_error("no reason given"));
                if (plug_back(dom, &u, &replug) < 0)
                        hpvm_error_append(err, "; plugging the NICs back failed too: %s", replug.msg);
                else
                        hpvm_error_append(err, "; every NIC was plugged back; the migration is refused");
                goto out;
        }

        r = wait_removed(dom, &u, deadline, err);
        if (r < 0) {
                HpvmError e = { 0 };

                if (plug_back(dom, &u, &e) < 0)
                        hpvm_error_append(err, "; plugging the NICs back failed too: %s", e.msg);
                else
                        hpvm_error_append(err, "; every NIC was plugged back; the migration is refused");
                goto out;
        }
        if (count(&u, ST_REFUSED)) {
                name_nics(&u, ST_REFUSED, names, sizeof(names));
                r = hpvm_error_set(err, -EBUSY, "the guest refused to release %s", names);
        } else if (count(&u, ST_SENT)) {
                name_nics(&u, ST_SENT, names, sizeof(names));
                r = hpvm_error_set(err, -ETIMEDOUT, "the guest did not release %s within %u s", names, timeout_s);
        }
        if (r < 0) {
                if (plug_back(dom, &u, &replug) < 0)
                        hpvm_error_append(err, ", and plugging it back failed: %s; the migration is refused", replug.msg);
                else
                        hpvm_error_append(err, ": it was plugged back; the migration is refused");
                goto out;
        }
        for (size_t i = 0; i < n; i++) {
                removed += u.nics[i].state == ST_REMOVED;
                if (ret_outcomes)
                        ret_outcomes[i] = u.nics[i].state == ST_REMOVED ? HPVM_UNPLUG_REMOVED : HPVM_UNPLUG_ABSENT;
        }
        r = removed;
out:
        if (cb_removed >= 0)
                virConnectDomainEventDeregisterAny(conn, cb_removed);
        if (cb_failed >= 0)
                virConnectDomainEventDeregisterAny(conn, cb_failed);
        for (size_t i = 0; i < n; i++)
                free(u.nics[i].xml);
        free(u.nics);
        return r;
}
