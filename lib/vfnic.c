/* vfnic.c: reading the VF NICs of a domain XML with their oVirt metadata, re-pointing one at another host VF, and the XML to re-plug one. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <libxml/xmlsave.h>

#include "props.h"
#include "vfnic.h"
#include "xml.h"

#define OVIRT_VM_NS "http://ovirt.org/vm/1.0"
#define SRIOV_MIGRATABLE "sriov_migratable"
#define VLAN_XML_MAX (64u << 10)    /* a <vlan> of every 4094 tags is about 100 KiB less blank: plenty */

/* ---------------------------------------------------------------- small readers */

/* How messages name one NIC: "domain XML: VF NIC 00:11:22:33:44:55" or "... VF NIC #2". */
typedef struct Who {
        char text[96];
        HpvmError *err;
} Who;

static int who_fail(const Who *w, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int who_fail(const Who *w, int code, const char *fmt, ...)
{
        char detail[HPVM_ERR_MAX];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(detail, sizeof(detail), fmt, ap);
        va_end(ap);
        return hpvm_error_set(w->err, code, "%s: %s", w->text, detail);
}

/* Text content with surrounding blanks trimmed; NULL when absent. Caller xmlFree()s the base pointer. */
static const char *trimmed(xmlChar *content, size_t *ret_len)
{
        const char *s = (const char *)content;
        size_t len;

        if (!s)
                return NULL;
        len = strlen(s);
        while (len && strchr(" \t\r\n", s[len - 1]))
                len--;
        while (len && strchr(" \t\r\n", *s)) {
                s++;
                len--;
        }
        *ret_len = len;
        return s;
}

/*
 * One PCI address attribute as libvirt reads it: "0x" and 1-8 hex digits, or
 * decimal. A decimal with a leading zero is refused: libvirt reads it as
 * octal, so "010" would not mean what it seems to. Absent means 0.
 */
static int pci_attr(const Who *w, const xmlNode *addr, const char *elem, const char *name, unsigned max,
                    unsigned *ret)
{
        _cleanup_xmlchar_ xmlChar *v = hpvm_xml_prop(addr, name);
        const char *s = (const char *)v;
        char q[HPVM_QUOTE_MAX];
        uint64_t val = 0;
        size_t len;
        bool ok;

        if (!s) {
                *ret = 0;
                return 0;
        }
        len = strlen(s);
        if (len > 2 && s[0] == '0' && s[1] == 'x' && len <= 10) {
                ok = true;
                for (size_t i = 2; i < len && ok; i++) {
                        int d = (s[i] >= '0' && s[i] <= '9') ? s[i] - '0' :
                                (s[i] >= 'a' && s[i] <= 'f') ? s[i] - 'a' + 10 :
                                (s[i] >= 'A' && s[i] <= 'F') ? s[i] - 'A' + 10 : -1;

                        ok = d >= 0;
                        val = val * 16 + (uint64_t)(d < 0 ? 0 : d);
                }
        } else {
                ok = !(len > 1 && s[0] == '0') && hpvm_parse_u64(s, len, UINT32_MAX, &val) == 0;
        }
        hpvm_quote(s, len, q, sizeof(q));
        if (!ok || val > max)
                return who_fail(w, -EINVAL, "%s %s='%s': not a PCI %s number (expected 0x0 to 0x%x: hex with 0x, "
                                "or decimal without leading zeros)", elem, name, q, name, max);
        *ret = (unsigned)val;
        return 0;
}

/*
 * A PCI <address> element: type 'pci' or no type (plain hostdev sources have
 * none). Returns 1 when read, 0 when of another type (usb, ccw, ...).
 */
static int pci_address(const Who *w, const xmlNode *addr, const char *elem, HpvmPciAddr *ret)
{
        _cleanup_xmlchar_ xmlChar *type = hpvm_xml_prop(addr, "type");
        HpvmPciAddr a;
        int r;

        if (type && !xmlStrEqual(type, BAD_CAST "pci"))
                return 0;
        if ((r = pci_attr(w, addr, elem, "domain", 0xffff, &a.domain)) < 0 ||
            (r = pci_attr(w, addr, elem, "bus", 0xff, &a.bus)) < 0 ||
            (r = pci_attr(w, addr, elem, "slot", 0x1f, &a.slot)) < 0 ||
            (r = pci_attr(w, addr, elem, "function", 7, &a.function)) < 0)
                return r;
        *ret = a;
        return 1;
}

/* libvirt's alias grammar, [a-zA-Z0-9_.-]+, into @buf. */
static int alias_value(const Who *w, const char *what, const xmlChar *v, char *buf, size_t size)
{
        const char *s = (const char *)v;
        size_t len = strlen(s);
        char q[HPVM_QUOTE_MAX];

        hpvm_quote(s, len, q, sizeof(q));
        if (len >= size)
                return who_fail(w, -E2BIG, "%s '%s' is longer than %zu bytes", what, q, size - 1);
        for (size_t i = 0; i < len; i++)
                if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
                      s[i] == '_' || s[i] == '.' || s[i] == '-'))
                        len = 0;
        if (len == 0)
                return who_fail(w, -EINVAL, "%s '%s' is not an alias (expected letters, digits, '_', '.', '-')", what, q);
        memcpy(buf, s, len + 1);
        return 0;
}

/* <mac address> of an interface, lowercase; false when absent or not a MAC. */
static bool iface_mac(const xmlNode *iface, HpvmMac *ret)
{
        _cleanup_xmlchar_ xmlChar *v = hpvm_xml_prop(hpvm_xml_child(iface, "mac"), "address");

        return v && hpvm_mac_parse((const char *)v, strlen((const char *)v), ret) == 0;
}

static void strip_blanks(xmlNode *n)
{
        xmlNode *next;

        for (xmlNode *c = n->children; c; c = next) {
                next = c->next;
                if (c->type == XML_TEXT_NODE && xmlIsBlankNode(c)) {
                        xmlUnlinkNode(c);
                        xmlFreeNode(c);
                } else if (c->type == XML_ELEMENT_NODE) {
                        strip_blanks(c);
                }
        }
}

/* The <vlan> element as one compact string (blank text dropped, everything else kept). */
static int vlan_copy(const Who *w, const xmlNode *vlan, char **ret)
{
        xmlBuffer *xb = NULL;
        xmlNode *copy;
        char *out = NULL;
        int r = 0;

        copy = xmlCopyNode((xmlNode *)vlan, 1);
        xb = xmlBufferCreate();
        if (!copy || !xb) {
                r = who_fail(w, -ENOMEM, "out of memory");
                goto out;
        }
        strip_blanks(copy);
        if (xmlNodeDump(xb, vlan->doc, copy, 0, 0) < 0) {
                r = who_fail(w, -ENOMEM, "cannot copy <vlan>");
                goto out;
        }
        if ((size_t)xmlBufferLength(xb) > VLAN_XML_MAX) {
                r = who_fail(w, -E2BIG, "<vlan> is longer than %u KiB", VLAN_XML_MAX >> 10);
                goto out;
        }
        out = strdup((const char *)xmlBufferContent(xb));
        if (!out)
                r = who_fail(w, -ENOMEM, "out of memory");
        *ret = out;
out:
        if (copy)
                xmlFreeNode(copy);
        if (xb)
                xmlBufferFree(xb);
        return r;
}

/* ---------------------------------------------------------------- one interface */

/* Name the NIC in @w by its MAC when it has a readable one, else by position. */
static void who_nic(Who *w, const char *what, const xmlNode *iface, size_t pos, HpvmError *err)
{
        HpvmMac m;
        char mac[HPVM_MAC_STRLEN];

        w->err = err;
        if (iface_mac(iface, &m))
                snprintf(w->text, sizeof(w->text), "%s: VF NIC %s", what, hpvm_mac_format(&m, mac, sizeof(mac)));
        else
                snprintf(w->text, sizeof(w->text), "%s: VF NIC #%zu", what, pos + 1);
}

/* Everything the <interface type='hostdev'> element itself says. */
static int read_iface(const Who *w, const xmlNode *iface, HpvmVfNic *nic)
{
        xmlNode *mac = hpvm_xml_child(iface, "mac");
        xmlNode *src_addr = hpvm_xml_child(hpvm_xml_child(iface, "source"), "address");
        xmlNode *alias = hpvm_xml_child(iface, "alias");
        xmlNode *addr = hpvm_xml_child(iface, "address");
        xmlNode *mtu = hpvm_xml_child(iface, "mtu");
        xmlNode *teaming = hpvm_xml_child(iface, "teaming");
        xmlNode *vlan = hpvm_xml_child(iface, "vlan");
        _cleanup_xmlchar_ xmlChar *managed = hpvm_xml_prop(iface, "managed");
        char q[HPVM_QUOTE_MAX];
        int r;

        *nic = (HpvmVfNic) { .managed = managed && xmlStrEqual(managed, BAD_CAST "yes") };

        if (mac) {
                _cleanup_xmlchar_ xmlChar *v = hpvm_xml_prop(mac, "address");
                HpvmMac m;

                if (!v || hpvm_mac_parse((const char *)v, strlen((const char *)v), &m) < 0) {
                        hpvm_quote(v ? (const char *)v : "", v ? strlen((const char *)v) : 0, q, sizeof(q));
                        return who_fail(w, -EINVAL, "<mac address='%s'>: not a MAC address like 00:1a:4a:16:01:51", q);
                }
                hpvm_mac_format(&m, nic->mac, sizeof(nic->mac));
        }
        if (src_addr) {
                r = pci_address(w, src_addr, "<source><address>", &nic->host);
                if (r < 0)
                        return r;
                nic->has_host = r > 0;
        }
        if (addr) {
                r = pci_address(w, addr, "<address>", &nic->guest);
                if (r < 0)
                        return r;
                nic->has_guest = r > 0;
        }
        if (alias) {
                _cleanup_xmlchar_ xmlChar *v = hpvm_xml_prop(alias, "name");

                if (v && (r = alias_value(w, "<alias name>", v, nic->alias, sizeof(nic->alias))) < 0)
                        return r;
        }
        if (mtu) {
                uint64_t v;

                r = hpvm_xml_prop_u64(mtu, "size", UINT32_MAX, &v);
                if (r < 0) {
                        _cleanup_xmlchar_ xmlChar *s = hpvm_xml_prop(mtu, "size");

                        hpvm_quote(s ? (const char *)s : "", s ? strlen((const char *)s) : 0, q, sizeof(q));
                        return who_fail(w, -EINVAL, "<mtu size='%s'>: not a size in bytes", q);
                }
                nic->mtu = (unsigned)v;
        }
        if (teaming) {
                _cleanup_xmlchar_ xmlChar *type = hpvm_xml_prop(teaming, "type");
                _cleanup_xmlchar_ xmlChar *pers = hpvm_xml_prop(teaming, "persistent");

                if (type && xmlStrEqual(type, BAD_CAST "transient")) {
                        if (!pers)
                                return who_fail(w, -EINVAL, "<teaming type='transient'> names no persistent= interface");
                        r = alias_value(w, "<teaming persistent>", pers, nic->persistent, sizeof(nic->persistent));
                        if (r < 0)
                                return r;
                        nic->failover = true;
                }
        }
        if (vlan && (r = vlan_copy(w, vlan, &nic->vlan_xml)) < 0)
                return r;
        return 0;
}

static bool is_hostdev_iface(const xmlNode *iface)
{
        _cleanup_xmlchar_ xmlChar *type = hpvm_xml_prop(iface, "type");

        return type && xmlStrEqual(type, BAD_CAST "hostdev");
}

/* ---------------------------------------------------------------- oVirt metadata */

static bool is_ovirt(const xmlNode *n, const char *name)
{
        return n->type == XML_ELEMENT_NODE && n->ns && n->ns->href && xmlStrEqual(n->ns->href, BAD_CAST OVIRT_VM_NS) &&
               xmlStrEqual(n->name, BAD_CAST name);
}

static xmlNode *ovirt_child(const xmlNode *parent, const char *name)
{
        for (xmlNode *n = parent ? parent->children : NULL; n; n = n->next)
                if (is_ovirt(n, name))
                        return n;
        return NULL;
}

/* <metadata><ovirt-vm:vm><ovirt-vm:device mac_address=@mac>, matched in any case. */
static xmlNode *ovirt_device(const HpvmDomain *d, const char *mac)
{
        xmlNode *vm = ovirt_child(hpvm_xml_child(d->root, "metadata"), "vm");
        HpvmMac want;

        if (!vm || hpvm_mac_parse(mac, strlen(mac), &want) < 0)
                return NULL;
        for (xmlNode *n = vm->children; n; n = n->next) {
                _cleanup_xmlchar_ xmlChar *v = NULL;
                HpvmMac m;

                if (!is_ovirt(n, "device"))
                        continue;
                v = hpvm_xml_prop(n, "mac_address");
                if (v && hpvm_mac_parse((const char *)v, strlen((const char *)v), &m) == 0 && hpvm_mac_equal(&m, &want))
                        return n;
        }
        return NULL;
}

/* Network name and the NIC's own sriov_migratable (-1: not set) from its metadata. */
static int read_metadata(const Who *w, const HpvmDomain *d, HpvmVfNic *nic, int *ret_prop)
{
        xmlNode *dev = nic->mac[0] ? ovirt_device(d, nic->mac) : NULL;
        xmlNode *net = ovirt_child(dev, "network");
        xmlNode *prop = ovirt_child(ovirt_child(dev, "custom"), SRIOV_MIGRATABLE);
        char q[HPVM_QUOTE_MAX];
        size_t len;
        int r;

        *ret_prop = -1;
        if (net) {
                _cleanup_xmlchar_ xmlChar *v = xmlNodeGetContent(net);
                const char *s = trimmed(v, &len);

                if (s && len >= sizeof(nic->network)) {
                        hpvm_quote(s, len, q, sizeof(q));
                        return who_fail(w, -E2BIG, "<ovirt-vm:network> '%s' is longer than %zu bytes", q,
                                        sizeof(nic->network) - 1);
                }
                if (s) {
                        memcpy(nic->network, s, len);
                        nic->network[len] = '\0';
                }
        }
        if (prop) {
                _cleanup_xmlchar_ xmlChar *v = xmlNodeGetContent(prop);
                const char *s = trimmed(v, &len);
                _cleanup_free_ char *value = NULL;
                bool b;

                /* An empty value counts as not set, as for every property. */
                if (!s || len == 0)
                        return 0;
                value = strndup(s, len);
                if (!value)
                        return who_fail(w, -ENOMEM, "out of memory");
                r = hpvm_prop_bool_parse(SRIOV_MIGRATABLE, value, &b, w->err);
                if (r < 0)
                        return hpvm_error_prefix(w->err, "%s: vNIC profile property ", w->text);
                *ret_prop = b;
        }
        return 0;
}

/* ---------------------------------------------------------------- the API */

void hpvm_vfnic_clear(HpvmVfNic *nic)
{
        if (!nic)
                return;
        free(nic->vlan_xml);
        nic->vlan_xml = NULL;
}

void hpvm_vfnics_free(HpvmVfNic *nics, size_t n)
{
        if (!nics)
                return;
        for (size_t i = 0; i < n; i++)
                hpvm_vfnic_clear(&nics[i]);
        free(nics);
}

/* Is there an <interface> with alias @alias, <teaming type='persistent'/> and MAC @mac? */
static bool has_backup(const xmlNode *devices, const char *alias, const char *mac)
{
        HpvmMac want;

        if (!mac[0] || hpvm_mac_parse(mac, strlen(mac), &want) < 0)
                return false;
        HPVM_XML_FOREACH(iface, devices, "interface") {
                _cleanup_xmlchar_ xmlChar *name = hpvm_xml_prop(hpvm_xml_child(iface, "alias"), "name");
                _cleanup_xmlchar_ xmlChar *type = hpvm_xml_prop(hpvm_xml_child(iface, "teaming"), "type");
                HpvmMac m;

                if (name && xmlStrEqual(name, BAD_CAST alias) && type && xmlStrEqual(type, BAD_CAST "persistent") &&
                    iface_mac(iface, &m) && hpvm_mac_equal(&m, &want))
                        return true;
        }
        return false;
}

int hpvm_vfnics_read(const HpvmDomain *d, const char *vm_prop, HpvmVfNic **ret, size_t *ret_n, HpvmError *err)
{
        xmlNode *devices = hpvm_xml_child(d->root, "devices");
        HpvmMacList vmlist = { 0 };
        HpvmVfNic *nics = NULL;
        size_t n = 0, cap = 0;
        bool vm_set = vm_prop && vm_prop[0];
        int r = 0;

        if (vm_set && (r = hpvm_prop_sriov_migratable_parse(vm_prop, &vmlist, err)) < 0)
                return r;

        HPVM_XML_FOREACH(iface, devices, "interface") {
                HpvmVfNic *nic;
                HpvmMac m;
                Who w;
                int prop;

                if (!is_hostdev_iface(iface))
                        continue;
                if (n == HPVM_VFNICS_MAX) {
                        r = hpvm_error_set(err, -E2BIG, "domain XML: more than %d VF NICs (<interface type='hostdev'>)",
                                           HPVM_VFNICS_MAX);
                        break;
                }
                if (n == cap) {
                        size_t ncap = cap ? cap * 2 : 4;
                        HpvmVfNic *grown = realloc(nics, ncap * sizeof(*grown));

                        if (!grown) {
                                r = hpvm_error_set(err, -ENOMEM, "out of memory reading VF NICs");
                                break;
                        }
                        nics = grown;
                        cap = ncap;
                }
                nic = &nics[n];
                who_nic(&w, "domain XML", iface, n, err);
                r = read_iface(&w, iface, nic);
                if (r < 0)
                        break;
                n++;
                nic->node = iface;
                if (nic->failover)
                        nic->backup_found = has_backup(devices, nic->persistent, nic->mac);
                r = read_metadata(&w, d, nic, &prop);
                if (r < 0)
                        break;
                if (prop >= 0) {
                        nic->migratable = prop;
                        nic->migratable_from = HPVM_MIGRATABLE_DEVICE;
                } else if (vm_set) {
                        nic->migratable = nic->mac[0] && hpvm_mac_parse(nic->mac, strlen(nic->mac), &m) == 0 &&
                                          hpvm_mac_list_contains(&vmlist, &m);
                        nic->migratable_from = HPVM_MIGRATABLE_VM;
                }
        }
        hpvm_mac_list_clear(&vmlist);
        if (r < 0) {
                /* read_iface() keeps nothing when it fails: the first n NICs are all there is to free. */
                hpvm_vfnics_free(nics, n);
                return r;
        }
        *ret = nics;
        *ret_n = n;
        return 0;
}

static void format_pci(xmlNode *addr, const HpvmPciAddr *a, int *r)
{
        char v[16];

        snprintf(v, sizeof(v), "0x%04x", a->domain & 0xffff);
        *r |= hpvm_domain_set_prop(addr, "domain", v);
        snprintf(v, sizeof(v), "0x%02x", a->bus & 0xff);
        *r |= hpvm_domain_set_prop(addr, "bus", v);
        snprintf(v, sizeof(v), "0x%02x", a->slot & 0x1f);
        *r |= hpvm_domain_set_prop(addr, "slot", v);
        snprintf(v, sizeof(v), "0x%x", a->function & 7);
        *r |= hpvm_domain_set_prop(addr, "function", v);
}

int hpvm_vfnic_set_host(HpvmDomain *d, HpvmVfNic *nic, const HpvmPciAddr *a)
{
        xmlNode *addr;
        int r = 0;

        if (!d || !nic || !a || !nic->node || nic->node->doc != d->doc || !nic->has_host)
                return -EINVAL;
        addr = hpvm_xml_child(hpvm_xml_child(nic->node, "source"), "address");
        if (!addr)
                return -EINVAL;
        format_pci(addr, a, &r);
        if (r)
                return -ENOMEM;
        nic->host = *a;
        return 0;
}

static xmlNode *add_child(xmlNode *parent, const char *name)
{
        return xmlNewChild(parent, NULL, BAD_CAST name, NULL);
}

int hpvm_vfnic_format_interface(const HpvmVfNic *nic, const HpvmPciAddr *new_host, char **ret_xml,
                                size_t *ret_len, HpvmError *err)
{
        _cleanup_xmldoc_ xmlDoc *doc = NULL;
        const HpvmPciAddr *host = new_host ? new_host : nic->has_host ? &nic->host : NULL;
        xmlNode *root, *n;
        xmlBuffer *xb;
        xmlSaveCtxt *sc;
        char num[16];
        int r = 0;

        if (!nic->mac[0])
                return hpvm_error_set(err, -EINVAL, "VF NIC: no MAC address to re-plug it with");
        if (!host)
                return hpvm_error_set(err, -EINVAL, "VF NIC %s: no host PCI address to re-plug it at", nic->mac);

        doc = xmlNewDoc(BAD_CAST "1.0");
        root = doc ? xmlNewDocNode(doc, NULL, BAD_CAST "interface", NULL) : NULL;
        if (!root)
                return hpvm_error_set(err, -ENOMEM, "out of memory");
        xmlDocSetRootElement(doc, root);
        r |= hpvm_domain_set_prop(root, "type", "hostdev");
        r |= hpvm_domain_set_prop(root, "managed", "yes");

        n = add_child(root, "mac");
        r |= n ? hpvm_domain_set_prop(n, "address", nic->mac) : -ENOMEM;
        n = add_child(root, "source");
        n = n ? add_child(n, "address") : NULL;
        if (n) {
                r |= hpvm_domain_set_prop(n, "type", "pci");
                format_pci(n, host, &r);
        } else {
                r = -ENOMEM;
        }
        if (nic->vlan_xml) {
                _cleanup_xmldoc_ xmlDoc *vdoc = NULL;
                HpvmError sub = { 0 };

                if (hpvm_xml_parse(nic->vlan_xml, strlen(nic->vlan_xml), "vlan", "<vlan>", &vdoc, &sub) < 0)
                        return hpvm_error_set(err, -EINVAL, "VF NIC %s: %s", nic->mac, sub.msg);
                n = xmlDocCopyNode(xmlDocGetRootElement(vdoc), doc, 1);
                if (!n || !xmlAddChild(root, n))
                        r = -ENOMEM;
        }
        if (nic->failover) {
                n = add_child(root, "teaming");
                r |= n ? hpvm_domain_set_prop(n, "type", "transient") | hpvm_domain_set_prop(n, "persistent", nic->persistent)
                       : -ENOMEM;
        }
        if (nic->mtu) {
                snprintf(num, sizeof(num), "%u", nic->mtu);
                n = add_child(root, "mtu");
                r |= n ? hpvm_domain_set_prop(n, "size", num) : -ENOMEM;
        }
        if (nic->alias[0]) {
                n = add_child(root, "alias");
                r |= n ? hpvm_domain_set_prop(n, "name", nic->alias) : -ENOMEM;
        }
        if (nic->has_guest) {
                n = add_child(root, "address");
                if (n) {
                        r |= hpvm_domain_set_prop(n, "type", "pci");
                        format_pci(n, &nic->guest, &r);
                } else {
                        r = -ENOMEM;
                }
        }
        if (r)
                return hpvm_error_set(err, -ENOMEM, "out of memory");

        xb = xmlBufferCreate();
        sc = xb ? xmlSaveToBuffer(xb, "UTF-8", XML_SAVE_NO_DECL | XML_SAVE_FORMAT) : NULL;
        if (!sc || xmlSaveDoc(sc, doc) < 0 || xmlSaveClose(sc) < 0) {
                if (xb)
                        xmlBufferFree(xb);
                return hpvm_error_set(err, -ENOMEM, "cannot serialize the interface XML");
        }
        *ret_len = (size_t)xmlBufferLength(xb);
        *ret_xml = strdup((const char *)xmlBufferContent(xb));
        xmlBufferFree(xb);
        if (!*ret_xml)
                return hpvm_error_set(err, -ENOMEM, "out of memory");
        return 0;
}

int hpvm_vfnic_parse_interface(const char *buf, size_t len, HpvmVfNic *ret, HpvmError *err)
{
        _cleanup_xmldoc_ xmlDoc *doc = NULL;
        xmlNode *iface;
        HpvmVfNic nic;
        Who w;
        int r;

        r = hpvm_xml_parse(buf, len, "interface", "interface XML", &doc, err);
        if (r < 0)
                return r;
        iface = xmlDocGetRootElement(doc);
        if (!is_hostdev_iface(iface)) {
                _cleanup_xmlchar_ xmlChar *type = hpvm_xml_prop(iface, "type");
                char q[HPVM_QUOTE_MAX];

                hpvm_quote(type ? (const char *)type : "", type ? strlen((const char *)type) : 0, q, sizeof(q));
                return hpvm_error_set(err, -EINVAL, "interface XML: type '%s' is not a VF NIC (expected <interface type='hostdev'>)", q);
        }
        who_nic(&w, "interface XML", iface, 0, err);
        r = read_iface(&w, iface, &nic);
        if (r < 0) {
                hpvm_vfnic_clear(&nic);
                return r;
        }
        nic.node = NULL;
        *ret = nic;
        return 0;
}

int hpvm_pci_hostdevs_read(const HpvmDomain *d, HpvmPciHostdev **ret, size_t *ret_n, HpvmError *err)
{
        xmlNode *devices = hpvm_xml_child(d->root, "devices");
        _cleanup_free_ HpvmPciHostdev *devs = NULL;
        size_t n = 0, cap = 0;

        HPVM_XML_FOREACH(hd, devices, "hostdev") {
                _cleanup_xmlchar_ xmlChar *mode = hpvm_xml_prop(hd, "mode");
                _cleanup_xmlchar_ xmlChar *type = hpvm_xml_prop(hd, "type");
                _cleanup_xmlchar_ xmlChar *team = NULL;
                xmlNode *addr = hpvm_xml_child(hpvm_xml_child(hd, "source"), "address");
                HpvmPciHostdev dev = { .node = hd };
                Who w = { .err = err };
                int r;

                /* mode defaults to subsystem. */
                if ((mode && !xmlStrEqual(mode, BAD_CAST "subsystem")) || !type || !xmlStrEqual(type, BAD_CAST "pci"))
                        continue;
                snprintf(w.text, sizeof(w.text), "domain XML: PCI host device #%zu", n + 1);
                if (!addr)
                        return who_fail(&w, -EINVAL, "no <source><address>");
                r = pci_address(&w, addr, "<source><address>", &dev.host);
                if (r < 0)
                        return r;
                if (r == 0)
                        return who_fail(&w, -EINVAL, "<source><address> is not a PCI address");
                team = hpvm_xml_prop(hpvm_xml_child(hd, "teaming"), "type");
                dev.failover = team && xmlStrEqual(team, BAD_CAST "transient");
                if (n == HPVM_VFNICS_MAX)
                        return hpvm_error_set(err, -E2BIG, "domain XML: more than %d PCI host devices", HPVM_VFNICS_MAX);
                if (n == cap) {
                        size_t ncap = cap ? cap * 2 : 4;
                        HpvmPciHostdev *grown = realloc(devs, ncap * sizeof(*grown));

                        if (!grown)
                                return hpvm_error_set(err, -ENOMEM, "out of memory reading host devices");
                        devs = grown;
                        cap = ncap;
                }
                devs[n++] = dev;
        }
        *ret = devs;
        *ret_n = n;
        devs = NULL;
        return 0;
}
