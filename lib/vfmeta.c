/* vfmeta.c: the record of unplugged VF NICs in a domain's <metadata>, read and written as XML text (no libvirt). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <libxml/xmlsave.h>

#include "vfmeta.h"
#include "xml.h"

#define WHAT "VF NIC record"

/* ---------------------------------------------------------------- names and values */

/* Element @name, in our namespace when @nsed (as in a domain XML), in none otherwise (as libvirt hands it out). */
static bool is_ours(const xmlNode *n, const char *name, bool nsed)
{
        if (n->type != XML_ELEMENT_NODE || !xmlStrEqual(n->name, BAD_CAST name))
                return false;
        if (!nsed)
                return !n->ns;
        return n->ns && n->ns->href && xmlStrEqual(n->ns->href, BAD_CAST HPVM_VFMETA_URI);
}

/* What a message adds to an expected element name: in a domain XML, the namespace matters. */
static const char *in_ns(bool nsed)
{
        return nsed ? " in namespace " HPVM_VFMETA_URI : "";
}

static bool alias_ok(const char *s, size_t len)
{
        if (len == 0 || len >= HPVM_ALIAS_MAX)
                return false;
        for (size_t i = 0; i < len; i++)
                if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
                      s[i] == '_' || s[i] == '.' || s[i] == '-'))
                        return false;
        return true;
}

static bool same_mac(const char *a, const char *b)
{
        HpvmMac ma, mb;

        return a[0] && b[0] && hpvm_mac_parse(a, strlen(a), &ma) == 0 && hpvm_mac_parse(b, strlen(b), &mb) == 0 &&
               hpvm_mac_equal(&ma, &mb);
}

/* ---------------------------------------------------------------- the <interface> element */

/* Take our namespace off @n and all below it (libvirt put it there), and drop blank text. */
static void make_plain(xmlNode *n)
{
        xmlNode *next;

        if (n->ns && n->ns->href && xmlStrEqual(n->ns->href, BAD_CAST HPVM_VFMETA_URI))
                n->ns = NULL;
        for (xmlAttr *a = n->properties; a; a = a->next)
                if (a->ns && a->ns->href && xmlStrEqual(a->ns->href, BAD_CAST HPVM_VFMETA_URI))
                        a->ns = NULL;
        for (xmlNode *c = n->children; c; c = next) {
                next = c->next;
                if (c->type == XML_TEXT_NODE && xmlIsBlankNode(c)) {
                        xmlUnlinkNode(c);
                        xmlFreeNode(c);
                } else if (c->type == XML_ELEMENT_NODE) {
                        make_plain(c);
                }
        }
        /* Last, once nothing below refers to it any more: our declaration goes (others stay). */
        for (xmlNs **p = &n->nsDef; *p;) {
                xmlNs *ns = *p;

                if (ns->href && xmlStrEqual(ns->href, BAD_CAST HPVM_VFMETA_URI)) {
                        *p = ns->next;
                        ns->next = NULL;
                        xmlFreeNs(ns);
                } else {
                        p = &ns->next;
                }
        }
}

/* What a recorded <interface> says about itself. */
typedef struct Facts {
        char mac[HPVM_MAC_STRLEN];
        char alias[HPVM_ALIAS_MAX];
        bool has_host;
        HpvmPciAddr host;
} Facts;

/*
 * @iface (any doc) as a standalone plain compact element in *ret_xml, and its
 * facts: MAC required, alias checked, host VF of a hostdev NIC read (and
 * checked) by vfnic's own parser. @who prefixes messages.
 */
static int take_interface(const xmlNode *iface, const char *who, char **ret_xml, Facts *ret, HpvmError *err)
{
        _cleanup_xmldoc_ xmlDoc *doc = xmlNewDoc(BAD_CAST "1.0");
        _cleanup_xmlchar_ xmlChar *mac = NULL, *alias = NULL, *type = NULL;
        char q[HPVM_QUOTE_MAX];
        xmlBuffer *xb = NULL;
        xmlNode *copy, *n;
        Facts f = { .mac = "" };
        HpvmMac m;
        char *text = NULL;
        int r = 0;

        copy = doc ? xmlDocCopyNode((xmlNode *)iface, doc, 1) : NULL;
        if (!copy)
                return hpvm_error_set(err, -ENOMEM, "out of memory");
        xmlDocSetRootElement(doc, copy);
        make_plain(copy);

        n = hpvm_xml_child(copy, "mac");
        mac = n ? hpvm_xml_prop(n, "address") : NULL;
        if (!mac)
                return hpvm_error_set(err, -EINVAL, "%s: <interface> has no <mac address> (a NIC is recorded by its MAC)", who);
        if (hpvm_mac_parse((const char *)mac, strlen((const char *)mac), &m) < 0)
                return hpvm_error_set(err, -EINVAL, "%s: <mac address='%s'>: not a MAC address like 00:1a:4a:16:01:51", who,
                                      hpvm_quote((const char *)mac, strlen((const char *)mac), q, sizeof(q)));
        hpvm_mac_format(&m, f.mac, sizeof(f.mac));
        n = hpvm_xml_child(copy, "alias");
        alias = n ? hpvm_xml_prop(n, "name") : NULL;
        if (alias) {
                size_t len = strlen((const char *)alias);

                if (!alias_ok((const char *)alias, len))
                        return hpvm_error_set(err, len >= HPVM_ALIAS_MAX ? -E2BIG : -EINVAL,
                                              "%s: <alias name='%s'>: not an alias (expected at most %d letters, digits, '_', '.', '-')",
                                              who, hpvm_quote((const char *)alias, len, q, sizeof(q)), HPVM_ALIAS_MAX - 1);
                memcpy(f.alias, alias, len + 1);
        }

        xb = xmlBufferCreate();
        if (!xb || xmlNodeDump(xb, doc, copy, 0, 0) < 0 || !(text = strdup((const char *)xmlBufferContent(xb)))) {
                if (xb)
                        xmlBufferFree(xb);
                return hpvm_error_set(err, -ENOMEM, "out of memory");
        }
        xmlBufferFree(xb);

        type = hpvm_xml_prop(copy, "type");
        if (type && xmlStrEqual(type, BAD_CAST "hostdev")) {
                HpvmVfNic nic;
                HpvmError sub = { 0 };

                r = hpvm_vfnic_parse_interface(text, strlen(text), &nic, &sub);
                if (r < 0) {
                        free(text);
                        return hpvm_error_set(err, r, "%s: %s", who, sub.msg);
                }
                f.has_host = nic.has_host;
                f.host = nic.host;
                hpvm_vfnic_clear(&nic);
        }
        *ret_xml = text;
        *ret = f;
        return 0;
}

/* ---------------------------------------------------------------- records */

void hpvm_vfmeta_clear(HpvmVfMeta *m)
{
        if (!m)
                return;
        for (size_t i = 0; i < m->n; i++)
                free(m->recs[i].interface_xml);
        free(m->recs);
        m->recs = NULL;
        m->n = 0;
}

static bool clashes(const HpvmVfRecord *a, const char *mac, const char *alias)
{
        return same_mac(a->mac, mac) || (alias[0] && a->alias[0] && !strcmp(a->alias, alias));
}

/* One <nic> element into @rec. */
static int read_nic(const xmlNode *nic, bool nsed, size_t pos, HpvmVfRecord *rec, HpvmError *err)
{
        _cleanup_xmlchar_ xmlChar *mac = hpvm_xml_prop(nic, "mac");
        _cleanup_xmlchar_ xmlChar *alias = hpvm_xml_prop(nic, "alias");
        _cleanup_xmlchar_ xmlChar *net = hpvm_xml_prop(nic, "network");
        _cleanup_xmlchar_ xmlChar *host = hpvm_xml_prop(nic, "host");
        const xmlNode *iface = NULL;
        char who[128], q[HPVM_QUOTE_MAX];
        HpvmVfRecord r = { .interface_xml = NULL };
        HpvmMac m;
        Facts f;
        int rc;

        if (!mac || hpvm_mac_parse((const char *)mac, strlen((const char *)mac), &m) < 0)
                return hpvm_error_set(err, -EINVAL, WHAT ": NIC #%zu: mac='%s': not a MAC address like 00:1a:4a:16:01:51",
                                      pos + 1, mac ? hpvm_quote((const char *)mac, strlen((const char *)mac), q, sizeof(q)) : "");
        hpvm_mac_format(&m, r.mac, sizeof(r.mac));
        snprintf(who, sizeof(who), WHAT ": NIC %s", r.mac);

        if (alias) {
                size_t len = strlen((const char *)alias);

                if (!alias_ok((const char *)alias, len))
                        return hpvm_error_set(err, len >= HPVM_ALIAS_MAX ? -E2BIG : -EINVAL,
                                              "%s: alias='%s': not an alias (expected at most %d letters, digits, '_', '.', '-')",
                                              who, hpvm_quote((const char *)alias, len, q, sizeof(q)), HPVM_ALIAS_MAX - 1);
                memcpy(r.alias, alias, len + 1);
        }
        if (net) {
                size_t len = strlen((const char *)net);

                if (len >= sizeof(r.network))
                        return hpvm_error_set(err, -E2BIG, "%s: network='%s' is longer than %zu bytes", who,
                                              hpvm_quote((const char *)net, len, q, sizeof(q)), sizeof(r.network) - 1);
                memcpy(r.network, net, len + 1);
        }
        if (host) {
                if (hpvm_pci_addr_parse((const char *)host, strlen((const char *)host), &r.host) < 0)
                        return hpvm_error_set(err, -EINVAL, "%s: host='%s': not a PCI address like 0000:3b:02.3", who,
                                              hpvm_quote((const char *)host, strlen((const char *)host), q, sizeof(q)));
                r.has_host = true;
        }
        for (const xmlNode *c = nic->children; c; c = c->next) {
                if (c->type != XML_ELEMENT_NODE)
                        continue;
                if (!is_ours(c, "interface", nsed) || iface)
                        return hpvm_error_set(err, -EINVAL, "%s: unexpected <%s> (expected one <interface>%s)", who,
                                              hpvm_quote((const char *)c->name, strlen((const char *)c->name), q, sizeof(q)),
                                              in_ns(nsed));
                iface = c;
        }
        if (!iface)
                return hpvm_error_set(err, -EINVAL, "%s: no <interface> (the element to plug it back with)", who);
        rc = take_interface(iface, who, &r.interface_xml, &f, err);
        if (rc < 0)
                return rc;
        /* The attributes are an index of the element: they must say the same. */
        if (strcmp(f.mac, r.mac))
                rc = hpvm_error_set(err, -EINVAL, "%s: its <interface> has MAC %s", who, f.mac);
        else if (r.alias[0] && f.alias[0] && strcmp(r.alias, f.alias))
                rc = hpvm_error_set(err, -EINVAL, "%s: alias='%s' but its <interface> has alias '%s'", who, r.alias, f.alias);
        else if (r.has_host && f.has_host && !hpvm_pci_addr_equal(&r.host, &f.host)) {
                char a[HPVM_PCI_ADDR_STRLEN], b[HPVM_PCI_ADDR_STRLEN];

                rc = hpvm_error_set(err, -EINVAL, "%s: host='%s' but its <interface> has host VF %s", who,
                                    hpvm_pci_addr_format(&r.host, a, sizeof(a)), hpvm_pci_addr_format(&f.host, b, sizeof(b)));
        }
        if (rc < 0) {
                free(r.interface_xml);
                return rc;
        }
        if (!r.alias[0])
                memcpy(r.alias, f.alias, sizeof(r.alias));
        if (!r.has_host) {
                r.has_host = f.has_host;
                r.host = f.host;
        }
        *rec = r;
        return 0;
}

/* Every <nic> of a <vfnics> element. */
static int read_root(const xmlNode *root, bool nsed, HpvmVfMeta *ret, HpvmError *err)
{
        HpvmVfMeta m = { 0 };
        size_t cap = 0;
        char q[HPVM_QUOTE_MAX];
        int r = 0;

        for (const xmlNode *c = root->children; c && r == 0; c = c->next) {
                HpvmVfRecord rec;

                if (c->type != XML_ELEMENT_NODE)
                        continue;
                if (!is_ours(c, "nic", nsed)) {
                        r = hpvm_error_set(err, -EINVAL, WHAT ": unexpected <%s> (expected <nic>%s)",
                                           hpvm_quote((const char *)c->name, strlen((const char *)c->name), q, sizeof(q)),
                                           in_ns(nsed));
                        break;
                }
                if (m.n == HPVM_VFNICS_MAX) {
                        r = hpvm_error_set(err, -E2BIG, WHAT ": more than %d NICs", HPVM_VFNICS_MAX);
                        break;
                }
                if (m.n == cap) {
                        size_t ncap = cap ? cap * 2 : 4;
                        HpvmVfRecord *grown = realloc(m.recs, ncap * sizeof(*grown));

                        if (!grown) {
                                r = hpvm_error_set(err, -ENOMEM, "out of memory");
                                break;
                        }
                        m.recs = grown;
                        cap = ncap;
                }
                r = read_nic(c, nsed, m.n, &rec, err);
                if (r < 0)
                        break;
                for (size_t i = 0; i < m.n; i++) {
                        if (clashes(&m.recs[i], rec.mac, rec.alias)) {
                                r = hpvm_error_set(err, -EINVAL, WHAT ": NIC %s (alias '%s') is recorded twice", rec.mac,
                                                   same_mac(m.recs[i].mac, rec.mac) ? m.recs[i].alias : rec.alias);
                                break;
                        }
                }
                if (r < 0) {
                        free(rec.interface_xml);
                        break;
                }
                m.recs[m.n++] = rec;
        }
        if (r < 0) {
                hpvm_vfmeta_clear(&m);
                return r;
        }
        *ret = m;
        return 0;
}

int hpvm_vfmeta_parse(const char *xml, size_t len, HpvmVfMeta *ret, HpvmError *err)
{
        _cleanup_xmldoc_ xmlDoc *doc = NULL;
        int r;

        r = hpvm_xml_parse(xml, len, HPVM_VFMETA_ELEMENT, WHAT, &doc, err);
        if (r < 0)
                return r;
        return read_root(xmlDocGetRootElement(doc), false, ret, err);
}

int hpvm_vfmeta_read(const HpvmDomain *d, HpvmVfMeta *ret, HpvmError *err)
{
        const xmlNode *md = hpvm_xml_child(d->root, "metadata"), *found = NULL;

        for (const xmlNode *c = md ? md->children : NULL; c; c = c->next) {
                if (!is_ours(c, HPVM_VFMETA_ELEMENT, true))
                        continue;
                if (found)
                        return hpvm_error_set(err, -EINVAL, "domain XML: two <" HPVM_VFMETA_ELEMENT "> records in namespace "
                                              HPVM_VFMETA_URI);
                found = c;
        }
        if (!found) {
                *ret = (HpvmVfMeta) { 0 };
                return 0;
        }
        return read_root(found, true, ret, err);
}

/* ---------------------------------------------------------------- writing */

static int save(xmlDoc *doc, char **ret_xml, size_t *ret_len, HpvmError *err)
{
        xmlBuffer *xb = xmlBufferCreate();
        xmlSaveCtxt *sc = xb ? xmlSaveToBuffer(xb, "UTF-8", XML_SAVE_NO_DECL | XML_SAVE_FORMAT) : NULL;
        char *out;

        if (!sc || xmlSaveDoc(sc, doc) < 0 || xmlSaveClose(sc) < 0) {
                if (xb)
                        xmlBufferFree(xb);
                return hpvm_error_set(err, -ENOMEM, "cannot serialize the " WHAT);
        }
        out = strdup((const char *)xmlBufferContent(xb));
        xmlBufferFree(xb);
        if (!out)
                return hpvm_error_set(err, -ENOMEM, "out of memory");
        if (ret_len)
                *ret_len = strlen(out);
        *ret_xml = out;
        return 0;
}

/* A recorded interface as a parsed document (the text came from take_interface(), so it parses). */
static int parse_recorded(const HpvmVfRecord *r, xmlDoc **ret, HpvmError *err)
{
        HpvmError sub = { 0 };
        int rc;

        if (!r->interface_xml)
                return hpvm_error_set(err, -EINVAL, WHAT ": NIC %s: no <interface>", r->mac);
        rc = hpvm_xml_parse(r->interface_xml, strlen(r->interface_xml), "interface", "recorded <interface>", ret, &sub);
        if (rc < 0)
                return hpvm_error_set(err, rc, WHAT ": NIC %s: %s", r->mac, sub.msg);
        return 0;
}

int hpvm_vfmeta_format(const HpvmVfMeta *m, char **ret_xml, size_t *ret_len, HpvmError *err)
{
        _cleanup_xmldoc_ xmlDoc *doc = xmlNewDoc(BAD_CAST "1.0");
        xmlNode *root = doc ? xmlNewDocNode(doc, NULL, BAD_CAST HPVM_VFMETA_ELEMENT, NULL) : NULL;
        int r = 0;

        if (!root)
                return hpvm_error_set(err, -ENOMEM, "out of memory");
        xmlDocSetRootElement(doc, root);
        for (size_t i = 0; i < m->n && r == 0; i++) {
                const HpvmVfRecord *rec = &m->recs[i];
                _cleanup_xmldoc_ xmlDoc *idoc = NULL;
                xmlNode *nic = xmlNewChild(root, NULL, BAD_CAST "nic", NULL), *copy;
                char host[HPVM_PCI_ADDR_STRLEN];

                if (!nic)
                        return hpvm_error_set(err, -ENOMEM, "out of memory");
                r |= hpvm_domain_set_prop(nic, "mac", rec->mac);
                if (rec->alias[0])
                        r |= hpvm_domain_set_prop(nic, "alias", rec->alias);
                if (rec->network[0])
                        r |= hpvm_domain_set_prop(nic, "network", rec->network);
                if (rec->has_host)
                        r |= hpvm_domain_set_prop(nic, "host", hpvm_pci_addr_format(&rec->host, host, sizeof(host)));
                if (r)
                        return hpvm_error_set(err, -ENOMEM, "out of memory");
                r = parse_recorded(rec, &idoc, err);
                if (r < 0)
                        return r;
                copy = xmlDocCopyNode(xmlDocGetRootElement(idoc), doc, 1);
                if (!copy || !xmlAddChild(nic, copy))
                        return hpvm_error_set(err, -ENOMEM, "out of memory");
        }
        return save(doc, ret_xml, ret_len, err);
}

int hpvm_vfmeta_put(HpvmVfMeta *m, const char *interface_xml, size_t len, const char *network, HpvmError *err)
{
        _cleanup_xmldoc_ xmlDoc *doc = NULL;
        HpvmVfRecord rec = { .interface_xml = NULL };
        HpvmVfRecord *recs;
        char q[HPVM_QUOTE_MAX];
        size_t n = 0;
        Facts f;
        int r;

        r = hpvm_xml_parse(interface_xml, len, "interface", "interface XML", &doc, err);
        if (r < 0)
                return r;
        if (network && strlen(network) >= sizeof(rec.network))
                return hpvm_error_set(err, -E2BIG, "interface XML: network '%s' is longer than %zu bytes",
                                      hpvm_quote(network, strlen(network), q, sizeof(q)), sizeof(rec.network) - 1);
        r = take_interface(xmlDocGetRootElement(doc), "interface XML", &rec.interface_xml, &f, err);
        if (r < 0)
                return r;
        memcpy(rec.mac, f.mac, sizeof(rec.mac));
        memcpy(rec.alias, f.alias, sizeof(rec.alias));
        rec.has_host = f.has_host;
        rec.host = f.host;
        if (network)
                snprintf(rec.network, sizeof(rec.network), "%s", network);

        /* Build the new list aside, so @m stays as it was on failure. */
        recs = malloc((m->n + 1) * sizeof(*recs));
        if (!recs) {
                free(rec.interface_xml);
                return hpvm_error_set(err, -ENOMEM, "out of memory");
        }
        for (size_t i = 0; i < m->n; i++)
                if (!clashes(&m->recs[i], rec.mac, rec.alias))
                        recs[n++] = m->recs[i];
        if (n == HPVM_VFNICS_MAX) {
                free(recs);
                free(rec.interface_xml);
                return hpvm_error_set(err, -E2BIG, WHAT ": %d NICs already; cannot record %s", HPVM_VFNICS_MAX, rec.mac);
        }
        for (size_t i = 0; i < m->n; i++)
                if (clashes(&m->recs[i], rec.mac, rec.alias))
                        free(m->recs[i].interface_xml);
        recs[n++] = rec;
        free(m->recs);
        m->recs = recs;
        m->n = n;
        return 0;
}

const HpvmVfRecord *hpvm_vfmeta_find(const HpvmVfMeta *m, const char *mac)
{
        for (size_t i = 0; i < m->n; i++)
                if (same_mac(m->recs[i].mac, mac))
                        return &m->recs[i];
        return NULL;
}

bool hpvm_vfmeta_remove(HpvmVfMeta *m, const char *mac)
{
        for (size_t i = 0; i < m->n; i++) {
                if (!same_mac(m->recs[i].mac, mac))
                        continue;
                free(m->recs[i].interface_xml);
                memmove(&m->recs[i], &m->recs[i + 1], (m->n - i - 1) * sizeof(*m->recs));
                m->n--;
                return true;
        }
        return false;
}

static void set_pci(xmlNode *addr, const HpvmPciAddr *a, int *r)
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

int hpvm_vfrecord_interface(const HpvmVfRecord *r, const HpvmPciAddr *new_host, char **ret_xml, size_t *ret_len,
                            HpvmError *err)
{
        _cleanup_xmldoc_ xmlDoc *doc = NULL;
        int rc;

        rc = parse_recorded(r, &doc, err);
        if (rc < 0)
                return rc;
        if (new_host) {
                xmlNode *addr = hpvm_xml_child(hpvm_xml_child(xmlDocGetRootElement(doc), "source"), "address");
                _cleanup_xmlchar_ xmlChar *type = addr ? hpvm_xml_prop(addr, "type") : NULL;
                int set = 0;

                if (!addr || (type && !xmlStrEqual(type, BAD_CAST "pci")))
                        return hpvm_error_set(err, -EINVAL, WHAT ": NIC %s: its <interface> has no PCI <source><address> "
                                              "to point at another VF", r->mac);
                set_pci(addr, new_host, &set);
                if (set)
                        return hpvm_error_set(err, -ENOMEM, "out of memory");
        }
        return save(doc, ret_xml, ret_len, err);
}
