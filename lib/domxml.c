/* domxml.c: reading a domain XML's sizes and editing it in place without disturbing what the hooks do not own. */
#include <errno.h>
#include <string.h>

#include <libxml/xmlsave.h>

#include "domxml.h"
#include "fileio.h"
#include "xml.h"

/* libvirt's own formatting order: new elements go where `virsh dumpxml` would put them. */
static const char *const domain_order[] = {
        "name", "uuid", "genid", "title", "description", "metadata", "maxMemory", "memory",
        "currentMemory", "blkiotune", "memtune", "memoryBacking", "vcpu", "vcpus", "iothreads",
        "iothreadids", "defaultiothread", "cputune", "numatune", "resource", "sysinfo",
        "bootloader", "bootloader_args", "os", "idmap", "features", "cpu", "clock", "on_poweroff",
        "on_reboot", "on_crash", "on_lockfailure", "pm", "perf", "devices", "seclabel", "keywrap",
        "launchSecurity", NULL,
};
static const char *const cputune_order[] = {
        "shares", "period", "quota", "global_period", "global_quota", "emulator_period",
        "emulator_quota", "iothread_period", "iothread_quota", "vcpupin", "emulatorpin",
        "iothreadpin", "vcpusched", "iothreadsched", "emulatorsched", "cachetune", "memorytune", NULL,
};
static const char *const numatune_order[] = { "memory", "memnode", NULL };
static const char *const cpu_order[] = {
        "model", "vendor", "topology", "cache", "maxphysaddr", "feature", "numa", NULL,
};
static const char *const numa_order[] = { "cell", "interconnects", NULL };
static const char *const membacking_order[] = {
        "hugepages", "nosharepages", "locked", "source", "access", "allocation", "discard", NULL,
};
static const char *const devices_order[] = {
        "emulator", "disk", "controller", "lease", "filesystem", "interface", "smartcard", "serial",
        "parallel", "console", "channel", "input", "tpm", "graphics", "sound", "audio", "video",
        "hostdev", "redirdev", "redirfilter", "hub", "watchdog", "memballoon", "rng", "panic",
        "shmem", "memory", "iommu", "vsock", "crypto", "pstore", NULL,
};

static const struct {
        const char *parent;
        const char *const *order;
} orders[] = {
        { "domain", domain_order },
        { "cputune", cputune_order },
        { "numatune", numatune_order },
        { "cpu", cpu_order },
        { "numa", numa_order },
        { "memoryBacking", membacking_order },
        { "devices", devices_order },
};

static const char *const *order_of(const xmlNode *parent)
{
        for (size_t i = 0; i < HPVM_ARRAY_SIZE(orders); i++)
                if (xmlStrEqual(parent->name, BAD_CAST orders[i].parent))
                        return orders[i].order;
        return NULL;
}

/* Position of @name in @order; unknown names sort last, keeping their place among themselves. */
static size_t rank_of(const char *const *order, const xmlChar *name)
{
        size_t i;

        for (i = 0; order && order[i]; i++)
                if (xmlStrEqual(name, BAD_CAST order[i]))
                        return i;
        return SIZE_MAX;
}

static bool is_blank_text(const xmlNode *n)
{
        if (!n || n->type != XML_TEXT_NODE)
                return false;
        for (const xmlChar *p = n->content; p && *p; p++)
                if (!strchr(" \t\r\n", *p))
                        return false;
        return true;
}

static xmlNode *first_element(const xmlNode *parent)
{
        for (xmlNode *n = parent->children; n; n = n->next)
                if (n->type == XML_ELEMENT_NODE)
                        return n;
        return NULL;
}

static xmlNode *last_element(const xmlNode *parent)
{
        for (xmlNode *n = parent->last; n; n = n->prev)
                if (n->type == XML_ELEMENT_NODE)
                        return n;
        return NULL;
}

/* The whitespace in front of @n when it is a newline plus indentation. */
static xmlNode *indent_node(const xmlNode *n)
{
        xmlNode *p = n->prev;

        return is_blank_text(p) && strchr((const char *)p->content, '\n') ? p : NULL;
}

/* Insert @node right before the element @next, indented like @next. */
static void insert_before(HpvmDomain *d, xmlNode *next, xmlNode *node)
{
        xmlNode *ws = d->indent_unit ? indent_node(next) : NULL;

        /* [ws][next] becomes [ws][node][ws copy][next] */
        xmlAddPrevSibling(next, node);
        if (ws)
                xmlAddPrevSibling(next, xmlNewDocText(d->doc, ws->content));
}

void hpvm_domain_insert_after(HpvmDomain *d, xmlNode *prev, xmlNode *node)
{
        xmlNode *ws = d->indent_unit ? indent_node(prev) : NULL;

        xmlAddNextSibling(prev, node);
        if (ws)
                xmlAddNextSibling(prev, xmlNewDocText(d->doc, ws->content));
}

static void insert_into_empty(HpvmDomain *d, xmlNode *parent, xmlNode *node)
{
        xmlNode *ws, *n, *next;
        const char *outer = "";
        char *inner = NULL, *close = NULL;

        /* An empty parent may still hold blanks ("<numa>\n  </numa>"): they go. */
        for (n = parent->children; n; n = next) {
                next = n->next;
                if (is_blank_text(n)) {
                        xmlUnlinkNode(n);
                        xmlFreeNode(n);
                }
        }
        /* Indent from the parent's own indentation (the root has none); unformatted input stays so. */
        ws = d->indent_unit ? indent_node(parent) : NULL;
        if (ws)
                outer = strrchr((const char *)ws->content, '\n') + 1;
        if (d->indent_unit && (ws || parent == d->root)) {
                /* asprintf() leaves its pointer undefined on failure. */
                if (asprintf(&inner, "\n%s%s", outer, d->indent_unit) < 0)
                        inner = NULL;
                if (asprintf(&close, "\n%s", outer) < 0)
                        close = NULL;
        }
        if (!inner || !close) {
                free(inner);
                free(close);
                xmlAddChild(parent, node);
                return;
        }
        xmlAddChild(parent, xmlNewDocText(d->doc, BAD_CAST inner));
        xmlAddChild(parent, node);
        xmlAddChild(parent, xmlNewDocText(d->doc, BAD_CAST close));
        free(inner);
        free(close);
}

void hpvm_domain_insert(HpvmDomain *d, xmlNode *parent, xmlNode *node)
{
        const char *const *order = order_of(parent);
        size_t r = rank_of(order, node->name);
        xmlNode *last;

        if (!first_element(parent)) {
                insert_into_empty(d, parent, node);
                return;
        }
        if (r != SIZE_MAX) {
                for (xmlNode *c = first_element(parent); c; c = c->next) {
                        if (c->type != XML_ELEMENT_NODE || rank_of(order, c->name) <= r)
                                continue;
                        insert_before(d, c, node);
                        return;
                }
        }
        last = last_element(parent);
        hpvm_domain_insert_after(d, last, node);
}

xmlNode *hpvm_domain_ensure(HpvmDomain *d, xmlNode *parent, const char *name)
{
        xmlNode *n = hpvm_xml_child(parent, name);

        if (n)
                return n;
        n = xmlNewDocNode(d->doc, NULL, BAD_CAST name, NULL);
        if (n)
                hpvm_domain_insert(d, parent, n);
        return n;
}

void hpvm_domain_remove(xmlNode *node)
{
        xmlNode *ws = indent_node(node);

        if (ws) {
                xmlUnlinkNode(ws);
                xmlFreeNode(ws);
        }
        xmlUnlinkNode(node);
        xmlFreeNode(node);
}

int hpvm_domain_set_prop(xmlNode *node, const char *name, const char *value)
{
        _cleanup_xmlchar_ xmlChar *old = NULL;

        if (!value) {
                xmlUnsetProp(node, BAD_CAST name);
                return 0;
        }
        /* The same value again changes nothing (and creates no node: see hpvm_domain_track_begin). */
        old = hpvm_xml_prop(node, name);
        if (old && xmlStrEqual(old, BAD_CAST value))
                return 0;
        return xmlSetProp(node, BAD_CAST name, BAD_CAST value) ? 0 : -ENOMEM;
}

/*
 * Change tracking: while it is on, libxml2 calls these for every
 * node it creates or frees, and an edit that changes the tree does one of the
 * two (a new attribute value is a new text node).
 */
static bool tracked_change;
static xmlRegisterNodeFunc saved_register;
static xmlDeregisterNodeFunc saved_deregister;

static void note_node(xmlNodePtr n)
{
        tracked_change = true;
}

void hpvm_domain_track_begin(void)
{
        tracked_change = false;
        saved_register = xmlRegisterNodeDefault(note_node);
        saved_deregister = xmlDeregisterNodeDefault(note_node);
}

bool hpvm_domain_track_end(void)
{
        xmlRegisterNodeDefault(saved_register);
        xmlDeregisterNodeDefault(saved_deregister);
        return tracked_change;
}

/* One indentation level as the input writes it: what precedes the root's first child. */
static char *guess_indent_unit(const xmlNode *root)
{
        xmlNode *first = first_element(root);
        xmlNode *ws = first ? indent_node(first) : NULL;
        const char *nl;

        if (!ws)
                return NULL;
        nl = strrchr((const char *)ws->content, '\n');
        if (!nl[1])
                return NULL;
        return strdup(nl + 1);
}

static bool starts_with_decl(const char *buf, size_t len)
{
        if (len >= 3 && !memcmp(buf, "\xEF\xBB\xBF", 3)) {
                buf += 3;
                len -= 3;
        }
        return len >= 6 && !memcmp(buf, "<?xml", 5) && strchr(" \t\r\n", buf[5]);
}

static int read_memory(const xmlNode *el, const char *what, uint64_t *ret, HpvmError *err)
{
        _cleanup_xmlchar_ xmlChar *unit = hpvm_xml_prop(el, "unit");
        uint64_t v;
        int r;

        r = hpvm_xml_text_u64(el, UINT64_MAX, &v);
        if (r < 0)
                return hpvm_error_set(err, -EINVAL, "domain XML: %s is not a number", what);
        r = hpvm_xml_scale_kib(v, (const char *)unit, "KiB", ret);
        if (r < 0)
                return hpvm_error_set(err, -EINVAL, "domain XML: %s has a bad unit or is too large", what);
        return 0;
}

int hpvm_domain_parse(const char *buf, size_t len, HpvmDomain **ret, HpvmError *err)
{
        HpvmDomain *d;
        xmlNode *n, *devices;
        uint64_t v;
        int r;

        d = calloc(1, sizeof(*d));
        if (!d)
                return hpvm_error_set(err, -ENOMEM, "out of memory");
        r = hpvm_xml_parse(buf, len, "domain", "domain XML", &d->doc, err);
        if (r < 0)
                goto fail;
        d->root = xmlDocGetRootElement(d->doc);
        d->had_decl = starts_with_decl(buf, len);
        d->indent_unit = guess_indent_unit(d->root);

        d->vcpus = 1;
        n = hpvm_xml_child(d->root, "vcpu");
        if (n) {
                r = hpvm_xml_text_u64(n, HPVM_VCPU_MAX, &v);
                if (r < 0 || v == 0) {
                        r = hpvm_error_set(err, -EINVAL, "domain XML: <vcpu> is not a vCPU count from 1 to %u",
                                           HPVM_VCPU_MAX);
                        goto fail;
                }
                d->vcpus = (unsigned)v;
        }
        n = hpvm_xml_child(d->root, "memory");
        if (n && (r = read_memory(n, "<memory>", &d->mem_kib, err)) < 0)
                goto fail;
        devices = hpvm_xml_child(d->root, "devices");
        HPVM_XML_FOREACH(m, devices, "memory") {
                xmlNode *size = hpvm_xml_child(hpvm_xml_child(m, "target"), "size");
                uint64_t kib;

                if (!size)
                        continue;
                r = read_memory(size, "<devices><memory><target><size>", &kib, err);
                if (r < 0)
                        goto fail;
                if (d->devmem_kib + kib < kib) {
                        r = hpvm_error_set(err, -EINVAL, "domain XML: memory devices add up past 2^64 KiB");
                        goto fail;
                }
                d->devmem_kib += kib;
        }
        *ret = d;
        return 0;
fail:
        hpvm_domain_free(d);
        return r;
}

void hpvm_domain_free(HpvmDomain *d)
{
        if (!d)
                return;
        if (d->doc)
                xmlFreeDoc(d->doc);
        free(d->indent_unit);
        free(d);
}

int hpvm_domain_format(const HpvmDomain *d, char **ret_buf, size_t *ret_len, HpvmError *err)
{
        xmlBuffer *xb = xmlBufferCreate();
        xmlSaveCtxt *sc;
        char *out;
        size_t len;

        if (!xb)
                return hpvm_error_set(err, -ENOMEM, "out of memory");
        sc = xmlSaveToBuffer(xb, "UTF-8", d->had_decl ? 0 : XML_SAVE_NO_DECL);
        if (!sc || xmlSaveDoc(sc, d->doc) < 0 || xmlSaveClose(sc) < 0) {
                xmlBufferFree(xb);
                return hpvm_error_set(err, -ENOMEM, "cannot serialize the domain XML");
        }
        len = (size_t)xmlBufferLength(xb);
        out = malloc(len + 1);
        if (!out) {
                xmlBufferFree(xb);
                return hpvm_error_set(err, -ENOMEM, "out of memory");
        }
        memcpy(out, xmlBufferContent(xb), len);
        out[len] = '\0';
        xmlBufferFree(xb);
        *ret_buf = out;
        *ret_len = len;
        return 0;
}

/* Numeric attribute of an element, or -1 when absent or not a number below @limit. */
static long id_attr(const xmlNode *n, const char *name, unsigned limit)
{
        uint64_t v;

        if (hpvm_xml_prop_u64(n, name, limit - 1, &v) < 0)
                return -1;
        return (long)v;
}

static int set_cpuset_prop(xmlNode *n, const char *name, const HpvmCpuSet *s)
{
        char buf[HPVM_CPUSET_STRMAX];

        if (hpvm_cpuset_format(s, buf, sizeof(buf)) < 0)
                return -ENOMEM;
        return hpvm_domain_set_prop(n, name, buf);
}

static xmlNode *new_element(HpvmDomain *d, const char *name)
{
        return xmlNewDocNode(d->doc, NULL, BAD_CAST name, NULL);
}

static int set_uint_prop(xmlNode *n, const char *name, uint64_t v)
{
        char buf[24];

        snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
        return hpvm_domain_set_prop(n, name, buf);
}

/* <cputune><@elem @idattr='N' cpuset='...'/> for every pin, sorted by id among those already there. */
static int set_pins(HpvmDomain *d, const char *elem, const char *idattr, const HpvmPinList *pins)
{
        _cleanup_free_ xmlNode **by_id = NULL;
        _cleanup_free_ const HpvmPin **wanted = NULL;
        xmlNode *cputune, *prev = NULL;
        unsigned limit = HPVM_VCPU_MAX;

        if (!pins->n)
                return 0;
        cputune = hpvm_domain_ensure(d, d->root, "cputune");
        by_id = calloc(limit, sizeof(*by_id));
        wanted = calloc(limit, sizeof(*wanted));
        if (!cputune || !by_id || !wanted)
                return -ENOMEM;
        HPVM_XML_FOREACH(p, cputune, elem) {
                long id = id_attr(p, idattr, limit);

                if (id >= 0 && !by_id[id])
                        by_id[id] = p;
        }
        for (size_t i = 0; i < pins->n; i++)
                wanted[pins->pins[i].id] = &pins->pins[i];

        /* Walk ids in order so new pins land sorted among existing ones. */
        for (unsigned id = 0; id < limit; id++) {
                const HpvmPin *pin = wanted[id];
                xmlNode *n;

                if (by_id[id])
                        prev = by_id[id];
                if (!pin)
                        continue;
                n = by_id[id];
                if (!n) {
                        n = new_element(d, elem);
                        if (!n || set_uint_prop(n, idattr, id) < 0)
                                return -ENOMEM;
                        if (prev)
                                hpvm_domain_insert_after(d, prev, n);
                        else {
                                xmlNode *first = hpvm_xml_child(cputune, elem);

                                if (first)
                                        insert_before(d, first, n);
                                else
                                        hpvm_domain_insert(d, cputune, n);
                        }
                        prev = n;
                }
                if (set_cpuset_prop(n, "cpuset", &pin->cpus) < 0)
                        return -ENOMEM;
        }
        return 0;
}

int hpvm_domain_set_vcpupins(HpvmDomain *d, const HpvmPinList *pins)
{
        return set_pins(d, "vcpupin", "vcpu", pins);
}

int hpvm_domain_set_iothreadpins(HpvmDomain *d, const HpvmPinList *pins)
{
        return set_pins(d, "iothreadpin", "iothread", pins);
}

/* The one child @name of @parent (created if missing; extra ones removed). */
static xmlNode *ensure_single(HpvmDomain *d, xmlNode *parent, const char *name)
{
        xmlNode *n = hpvm_domain_ensure(d, parent, name), *next;

        for (xmlNode *extra = n ? hpvm_xml_next(n, name) : NULL; extra; extra = next) {
                next = hpvm_xml_next(extra, name);
                hpvm_domain_remove(extra);
        }
        return n;
}

int hpvm_domain_set_emulatorpin(HpvmDomain *d, const HpvmCpuSet *cpus)
{
        xmlNode *cputune = hpvm_domain_ensure(d, d->root, "cputune");
        xmlNode *pin = cputune ? ensure_single(d, cputune, "emulatorpin") : NULL;

        if (!pin)
                return -ENOMEM;
        return set_cpuset_prop(pin, "cpuset", cpus);
}

int hpvm_domain_set_nosharepages(HpvmDomain *d, bool on)
{
        xmlNode *mb = hpvm_xml_child(d->root, "memoryBacking");
        xmlNode *nsp = hpvm_xml_child(mb, "nosharepages");

        if (!on) {
                if (nsp)
                        hpvm_domain_remove(nsp);
                return 0;
        }
        mb = hpvm_domain_ensure(d, d->root, "memoryBacking");
        return mb && hpvm_domain_ensure(d, mb, "nosharepages") ? 0 : -ENOMEM;
}

/* <cpu><feature name='@name'>, or NULL. */
static xmlNode *cpu_feature(const HpvmDomain *d, const char *name)
{
        HPVM_XML_FOREACH(f, hpvm_xml_child(d->root, "cpu"), "feature") {
                _cleanup_xmlchar_ xmlChar *fname = hpvm_xml_prop(f, "name");

                if (fname && xmlStrEqual(fname, BAD_CAST name))
                        return f;
        }
        return NULL;
}

bool hpvm_domain_cpu_can_have_features(const HpvmDomain *d)
{
        xmlNode *cpu = hpvm_xml_child(d->root, "cpu");
        _cleanup_xmlchar_ xmlChar *mode = cpu ? hpvm_xml_prop(cpu, "mode") : NULL;

        if (mode && !xmlStrEqual(mode, BAD_CAST "custom"))
                return true;
        return hpvm_xml_child(cpu, "model") != NULL;
}

int hpvm_domain_set_feature(HpvmDomain *d, const char *name, bool require)
{
        xmlNode *cpu, *f = cpu_feature(d, name);

        if (!require) {
                if (f)
                        hpvm_domain_remove(f);
                return 0;
        }
        if (!f) {
                cpu = hpvm_domain_ensure(d, d->root, "cpu");
                f = cpu ? new_element(d, "feature") : NULL;
                if (!f)
                        return -ENOMEM;
                hpvm_domain_insert(d, cpu, f);
        }
        {
                _cleanup_xmlchar_ xmlChar *policy = hpvm_xml_prop(f, "policy");

                if (policy && xmlStrEqual(policy, BAD_CAST "require") && f->properties &&
                    xmlStrEqual(f->properties->name, BAD_CAST "policy"))
                        return 0;       /* already as libvirt writes it */
        }
        /* libvirt formats policy before name. */
        if (hpvm_domain_set_prop(f, "name", NULL) < 0 || hpvm_domain_set_prop(f, "policy", "require") < 0 ||
            hpvm_domain_set_prop(f, "name", name) < 0)
                return -ENOMEM;
        return 0;
}

int hpvm_domain_set_hugepages(HpvmDomain *d, uint64_t size_kib, const HpvmCpuSet *cells)
{
        xmlNode *mb = hpvm_domain_ensure(d, d->root, "memoryBacking");
        xmlNode *hp = mb ? hpvm_domain_ensure(d, mb, "hugepages") : NULL;
        xmlNode *page = hp ? ensure_single(d, hp, "page") : NULL;

        if (!page || set_uint_prop(page, "size", size_kib) < 0 || hpvm_domain_set_prop(page, "unit", "KiB") < 0)
                return -ENOMEM;
        if (!cells)
                return hpvm_domain_set_prop(page, "nodeset", NULL);
        return set_cpuset_prop(page, "nodeset", cells);
}

void hpvm_domain_get_pinned(const HpvmDomain *d, const char *elem, HpvmCpuSet *ret)
{
        hpvm_cpuset_zero(ret);
        HPVM_XML_FOREACH(p, hpvm_xml_child(d->root, "cputune"), elem) {
                HpvmCpuSet s;

                if (hpvm_xml_prop_cpuset(p, "cpuset", HPVM_CPUSET_MAX, &s))
                        hpvm_cpuset_or(ret, &s);
        }
}

int hpvm_domain_set_numatune(HpvmDomain *d, const HpvmNumaTune *nt, HpvmError *err)
{
        xmlNode *numatune = hpvm_xml_child(d->root, "numatune");
        bool restrictive = nt->mode == HPVM_NUMA_RESTRICTIVE;
        xmlNode *mem;

        HPVM_XML_FOREACH(mn, numatune, "memnode") {
                _cleanup_xmlchar_ xmlChar *mode = hpvm_xml_prop(mn, "mode");
                bool mn_restrictive = mode && xmlStrEqual(mode, BAD_CAST "restrictive");

                if (mn_restrictive != restrictive)
                        return hpvm_error_set(err, -EINVAL,
                                              "numatune: mode '%s' conflicts with the VM's <numatune><memnode mode='%s'> "
                                              "(libvirt needs 'restrictive' in both or in neither)",
                                              hpvm_numa_mode_name(nt->mode), mode ? (const char *)mode : "strict");
        }
        numatune = hpvm_domain_ensure(d, d->root, "numatune");
        if (!numatune)
                return hpvm_error_set(err, -ENOMEM, "out of memory");
        mem = hpvm_xml_child(numatune, "memory");
        if (!mem) {
                mem = new_element(d, "memory");
                if (!mem)
                        return hpvm_error_set(err, -ENOMEM, "out of memory");
                hpvm_domain_insert(d, numatune, mem);
        }
        if (hpvm_domain_set_prop(mem, "mode", hpvm_numa_mode_name(nt->mode)) < 0 ||
            set_cpuset_prop(mem, "nodeset", &nt->nodes) < 0 ||
            hpvm_domain_set_prop(mem, "placement", NULL) < 0)
                return hpvm_error_set(err, -ENOMEM, "out of memory");
        return 0;
}

bool hpvm_domain_has_memnode(const HpvmDomain *d, unsigned cell)
{
        HPVM_XML_FOREACH(m, hpvm_xml_child(d->root, "numatune"), "memnode")
                if (id_attr(m, "cellid", HPVM_VCPU_MAX) == (long)cell)
                        return true;
        return false;
}

int hpvm_domain_set_memnode(HpvmDomain *d, unsigned cell, const HpvmNumaMode *mode, const HpvmCpuSet *nodes)
{
        xmlNode *numatune = hpvm_domain_ensure(d, d->root, "numatune"), *mn = NULL, *prev = NULL;

        if (!numatune)
                return -ENOMEM;
        HPVM_XML_FOREACH(m, numatune, "memnode") {
                long id = id_attr(m, "cellid", HPVM_VCPU_MAX);

                if (id == (long)cell) {
                        mn = m;
                        break;
                }
                if (id >= 0 && id < (long)cell)
                        prev = m;
        }
        if (!mn) {
                mn = new_element(d, "memnode");
                if (!mn || set_uint_prop(mn, "cellid", cell) < 0) {
                        xmlFreeNode(mn);
                        return -ENOMEM;
                }
                /* Memnodes in cell order, after <memory>, as libvirt writes them. */
                if (prev)
                        hpvm_domain_insert_after(d, prev, mn);
                else
                        hpvm_domain_insert(d, numatune, mn);
        }
        if ((mode && hpvm_domain_set_prop(mn, "mode", hpvm_numa_mode_name(*mode)) < 0) ||
            set_cpuset_prop(mn, "nodeset", nodes) < 0)
                return -ENOMEM;
        return 0;
}

static xmlNode *next_element(const xmlNode *n)
{
        for (n = n->next; n; n = n->next)
                if (n->type == XML_ELEMENT_NODE)
                        return (xmlNode *)n;
        return NULL;
}

/* An element left without element children loses its blanks too: <target/>, not <target>\n</target>. */
static void drop_blank_children(xmlNode *n)
{
        xmlNode *next;

        if (first_element(n))
                return;
        for (xmlNode *c = n->children; c; c = next) {
                next = c->next;
                if (is_blank_text(c)) {
                        xmlUnlinkNode(c);
                        xmlFreeNode(c);
                }
        }
}

const char *hpvm_domain_describe(const xmlNode *n, const char *const attrs[], char *buf, size_t size)
{
        size_t len = (size_t)snprintf(buf, size, "<%s", (const char *)n->name);

        for (size_t i = 0; attrs[i] && len < size; i++) {
                _cleanup_xmlchar_ xmlChar *v = hpvm_xml_prop(n, attrs[i]);
                char q[HPVM_QUOTE_MAX];

                if (!v)
                        continue;
                hpvm_quote((const char *)v, strlen((const char *)v), q, sizeof(q));
                len += (size_t)snprintf(buf + len, size - len, " %s='%s'", attrs[i], q);
        }
        if (len < size)
                snprintf(buf + len, size - len, ">");
        return buf;
}

const char *hpvm_domain_alias(const xmlNode *n, char *buf, size_t size)
{
        _cleanup_xmlchar_ xmlChar *name = hpvm_xml_prop(hpvm_xml_child(n, "alias"), "name");

        if (!name)
                return NULL;
        return hpvm_quote((const char *)name, strlen((const char *)name), buf, size);
}

/* The attribute @name is a number naming a guest cell that is gone (>= @ncells). Junk is libvirt's to refuse. */
static bool names_gone_cell(const xmlNode *n, const char *name, size_t ncells)
{
        uint64_t id;

        return hpvm_xml_prop_u64(n, name, UINT64_MAX, &id) == 0 && id >= ncells;
}

/*
 * A memory device (DIMM, NVDIMM, virtio-mem, virtio-pmem, ...) on a cell that goes
 * cannot go with it: the guest would lose memory or data. Checked before any edit.
 */
static int check_memory_devices(const HpvmDomain *d, size_t ncells, HpvmError *err)
{
        static const char *const attrs[] = { "model", NULL };
        char tag[160], alias[HPVM_QUOTE_MAX], where[HPVM_QUOTE_MAX + 32];
        size_t pos = 0;

        HPVM_XML_FOREACH(m, hpvm_xml_child(d->root, "devices"), "memory") {
                xmlNode *node = hpvm_xml_child(hpvm_xml_child(m, "target"), "node");
                uint64_t id;

                pos++;
                if (!node || hpvm_xml_text_u64(node, UINT64_MAX, &id) < 0 || id < ncells)
                        continue;
                if (hpvm_domain_alias(m, alias, sizeof(alias)))
                        snprintf(where, sizeof(where), "alias %s", alias);
                else
                        snprintf(where, sizeof(where), "memory device %zu", pos);
                return hpvm_error_set(err, -EINVAL,
                                      "guestnuma: the VM's memory device %s (%s) sits on guest NUMA cell %llu, which "
                                      "guestnuma removes (the VM would have %zu cell%s): keep that cell or move the device",
                                      hpvm_domain_describe(m, attrs, tag, sizeof(tag)), where,
                                      (unsigned long long)id, ncells, ncells == 1 ? "" : "s");
        }
        return 0;
}

/* <page nodeset> names guest cells: drop the ones that are gone, a page left with none, and an emptied <hugepages>. */
static int prune_pages(HpvmDomain *d, size_t ncells, HpvmWarnings *warn)
{
        xmlNode *mb = hpvm_xml_child(d->root, "memoryBacking");
        xmlNode *hp = hpvm_xml_child(mb, "hugepages"), *next;
        bool had_pages = hpvm_xml_child(hp, "page") != NULL;
        HpvmCpuSet kept_cells;

        hpvm_cpuset_zero(&kept_cells);
        hpvm_cpuset_set_range(&kept_cells, 0, (unsigned)ncells - 1);
        for (xmlNode *page = hpvm_xml_child(hp, "page"); page; page = next) {
                _cleanup_xmlchar_ xmlChar *size = hpvm_xml_prop(page, "size");
                _cleanup_xmlchar_ xmlChar *raw = hpvm_xml_prop(page, "nodeset");
                char gone_list[HPVM_CPUSET_STRMAX], qsize[HPVM_QUOTE_MAX], qset[HPVM_QUOTE_MAX];
                HpvmCpuSet cells, gone;

                next = hpvm_xml_next(page, "page");
                if (!hpvm_xml_prop_cpuset(page, "nodeset", HPVM_CPUSET_MAX, &cells))
                        continue;
                gone = cells;
                hpvm_cpuset_andnot(&gone, &kept_cells);
                if (hpvm_cpuset_is_empty(&gone))
                        continue;
                hpvm_cpuset_and(&cells, &kept_cells);
                hpvm_cpuset_format(&gone, gone_list, sizeof(gone_list));
                hpvm_quote(size ? (const char *)size : "", size ? strlen((const char *)size) : 0, qsize, sizeof(qsize));
                hpvm_quote((const char *)raw, strlen((const char *)raw), qset, sizeof(qset));
                if (hpvm_cpuset_is_empty(&cells)) {
                        hpvm_warn(warn, "guestnuma: removed <memoryBacking><hugepages><page size='%s' nodeset='%s'>: "
                                  "its guest NUMA cells are gone (the VM now has %zu guest NUMA cell%s)",
                                  qsize, qset, ncells, ncells == 1 ? "" : "s");
                        hpvm_domain_remove(page);
                        continue;
                }
                hpvm_warn(warn, "guestnuma: removed guest NUMA cell %s from <memoryBacking><hugepages><page size='%s' "
                          "nodeset='%s'>: the VM now has %zu guest NUMA cell%s",
                          gone_list, qsize, qset, ncells, ncells == 1 ? "" : "s");
                if (set_cpuset_prop(page, "nodeset", &cells) < 0)
                        return -ENOMEM;
        }
        /* An empty <hugepages/> means huge pages for ALL memory: not what the removed pages said. */
        if (had_pages && !hpvm_xml_child(hp, "page")) {
                hpvm_domain_remove(hp);
                if (!first_element(mb))
                        hpvm_domain_remove(mb);
        }
        return 0;
}

/* HMAT: latencies and bandwidths from or to a cell that is gone; an emptied <interconnects> goes too. */
static void prune_interconnects(xmlNode *numa, size_t ncells)
{
        xmlNode *next, *lnext;

        for (xmlNode *ic = hpvm_xml_child(numa, "interconnects"); ic; ic = next) {
                next = hpvm_xml_next(ic, "interconnects");
                for (xmlNode *l = first_element(ic); l; l = lnext) {
                        lnext = next_element(l);
                        if (names_gone_cell(l, "initiator", ncells) || names_gone_cell(l, "target", ncells))
                                hpvm_domain_remove(l);
                }
                if (!first_element(ic))
                        hpvm_domain_remove(ic);
        }
}

/*
 * A PCI controller's <target><node> (pci-expander-bus, pcie-expander-bus, a pseries
 * PHB) only tells the guest where the bus sits: without it libvirt and QEMU give the
 * bus no NUMA node and every device on it keeps working. So the hint goes, with a warning.
 */
static void prune_controller_nodes(HpvmDomain *d, size_t ncells, HpvmWarnings *warn)
{
        static const char *const attrs[] = { "type", "index", "model", NULL };

        HPVM_XML_FOREACH(c, hpvm_xml_child(d->root, "devices"), "controller") {
                xmlNode *target = hpvm_xml_child(c, "target");
                xmlNode *node = hpvm_xml_child(target, "node");
                char tag[384];
                uint64_t id;

                if (!node || hpvm_xml_text_u64(node, UINT64_MAX, &id) < 0 || id < ncells)
                        continue;
                hpvm_warn(warn, "guestnuma: removed <node>%llu</node> from %s: guest NUMA cell %llu is gone "
                          "(the VM now has %zu guest NUMA cell%s), so the bus has no NUMA locality",
                          (unsigned long long)id, hpvm_domain_describe(c, attrs, tag, sizeof(tag)),
                          (unsigned long long)id, ncells, ncells == 1 ? "" : "s");
                hpvm_domain_remove(node);
                drop_blank_children(target);
        }
}

/* Drop what refers to guest cells that no longer exist (their <cache>s went with them). */
static int prune_cell_refs(HpvmDomain *d, xmlNode *numa, size_t ncells, HpvmWarnings *warn)
{
        xmlNode *numatune = hpvm_xml_child(d->root, "numatune");
        xmlNode *next;

        HPVM_XML_FOREACH(cell, numa, "cell") {
                /* Every <distances>, not only the first: a stale sibling left in a second one
                 * would be removed by the next run, and twice must be once. */
                for (xmlNode *dist = hpvm_xml_child(cell, "distances"), *dnext; dist; dist = dnext) {
                        dnext = hpvm_xml_next(dist, "distances");
                        for (xmlNode *s = hpvm_xml_child(dist, "sibling"); s; s = next) {
                                long id = id_attr(s, "id", HPVM_VCPU_MAX);

                                next = hpvm_xml_next(s, "sibling");
                                if (id < 0 || (size_t)id >= ncells)
                                        hpvm_domain_remove(s);
                        }
                        if (!hpvm_xml_child(dist, "sibling"))
                                hpvm_domain_remove(dist);
                }
        }
        prune_interconnects(numa, ncells);
        for (xmlNode *mn = hpvm_xml_child(numatune, "memnode"); mn; mn = next) {
                long id = id_attr(mn, "cellid", HPVM_VCPU_MAX);

                next = hpvm_xml_next(mn, "memnode");
                if (id >= 0 && (size_t)id < ncells)
                        continue;
                hpvm_warn(warn, "guestnuma: removed <numatune><memnode cellid='%ld'>: the VM now has %zu guest NUMA cell%s",
                          id, ncells, ncells == 1 ? "" : "s");
                hpvm_domain_remove(mn);
        }
        prune_controller_nodes(d, ncells, warn);
        return prune_pages(d, ncells, warn);
}

#define NOMEM(err) hpvm_error_set((err), -ENOMEM, "out of memory editing the domain XML")

int hpvm_domain_set_guest_numa(HpvmDomain *d, const HpvmGuestNuma *g, HpvmWarnings *warn, HpvmError *err)
{
        _cleanup_free_ xmlNode **by_id = NULL;
        xmlNode *cpu, *numa, *next, *prev = NULL;
        size_t pos = 0;
        int r;

        if (!g->n)
                return 0;
        r = check_memory_devices(d, g->n, err);
        if (r < 0)
                return r;
        cpu = hpvm_domain_ensure(d, d->root, "cpu");
        numa = cpu ? hpvm_domain_ensure(d, cpu, "numa") : NULL;
        by_id = calloc(g->n, sizeof(*by_id));
        if (!numa || !by_id)
                return NOMEM(err);

        /* Cells without an id are numbered by position, as libvirt does. */
        for (xmlNode *c = hpvm_xml_child(numa, "cell"); c; c = next, pos++) {
                _cleanup_xmlchar_ xmlChar *has_id = hpvm_xml_prop(c, "id");
                long id = has_id ? id_attr(c, "id", HPVM_VCPU_MAX) : (long)pos;

                next = hpvm_xml_next(c, "cell");
                if (id >= 0 && (size_t)id < g->n && !by_id[id])
                        by_id[id] = c;
                else
                        hpvm_domain_remove(c);
        }
        for (size_t i = 0; i < g->n; i++) {
                xmlNode *c = by_id[i];

                if (!c) {
                        c = new_element(d, "cell");
                        if (!c || set_uint_prop(c, "id", i) < 0)
                                return NOMEM(err);
                        if (prev)
                                hpvm_domain_insert_after(d, prev, c);
                        else {
                                xmlNode *first = hpvm_xml_child(numa, "cell");

                                if (first)
                                        insert_before(d, first, c);
                                else
                                        hpvm_domain_insert(d, numa, c);
                        }
                }
                if (set_uint_prop(c, "id", i) < 0 || set_cpuset_prop(c, "cpus", &g->cells[i].vcpus) < 0 ||
                    set_uint_prop(c, "memory", g->cells[i].mem_kib) < 0 ||
                    hpvm_domain_set_prop(c, "unit", "KiB") < 0)
                        return NOMEM(err);
                prev = c;
        }
        if (prune_cell_refs(d, numa, g->n, warn) < 0)
                return NOMEM(err);
        return 0;
}

long hpvm_domain_iothreads(const HpvmDomain *d)
{
        xmlNode *io = hpvm_xml_child(d->root, "iothreads");
        uint64_t v = 0, nids = 0;

        if (io && hpvm_xml_text_u64(io, UINT32_MAX, &v) < 0)
                return -1;
        /* libvirt raises <iothreads> to the number of <iothreadids> entries. */
        HPVM_XML_FOREACH(t, hpvm_xml_child(d->root, "iothreadids"), "iothread")
                nids++;
        return (long)(nids > v ? nids : v);
}

/* The ids <iothreadids> names; each must be 1..HPVM_CPUSET_MAX-1. */
static int read_iothread_ids(const HpvmDomain *d, HpvmCpuSet *ret, HpvmError *err)
{
        HpvmCpuSet ids;

        hpvm_cpuset_zero(&ids);
        HPVM_XML_FOREACH(t, hpvm_xml_child(d->root, "iothreadids"), "iothread") {
                uint64_t id;

                if (hpvm_xml_prop_u64(t, "id", HPVM_CPUSET_MAX - 1, &id) < 0 || id == 0) {
                        _cleanup_xmlchar_ xmlChar *raw = hpvm_xml_prop(t, "id");
                        char q[HPVM_QUOTE_MAX];

                        hpvm_quote(raw ? (const char *)raw : "", raw ? strlen((const char *)raw) : 0, q, sizeof(q));
                        return hpvm_error_set(err, -EINVAL, "domain XML: <iothreadids><iothread id='%s'> is not an "
                                              "IO thread id from 1 to %u", q, HPVM_CPUSET_MAX - 1);
                }
                hpvm_cpuset_set(&ids, (unsigned)id);
        }
        *ret = ids;
        return 0;
}

int hpvm_domain_get_iothread_ids(const HpvmDomain *d, unsigned count, HpvmCpuSet *ret, HpvmError *err)
{
        HpvmCpuSet ids;
        unsigned n, kept = 0;
        int r;

        r = read_iothread_ids(d, &ids, err);
        if (r < 0)
                return r;
        /* More ids than threads: the @count lowest stay. */
        for (int id = hpvm_cpuset_next(&ids, 0); id >= 0; id = hpvm_cpuset_next(&ids, (unsigned)id + 1))
                if (++kept > count)
                        hpvm_cpuset_clear(&ids, (unsigned)id);
        /* Fewer: as libvirt does, the lowest unused ids from 1 until there are @count (or up to the set's end). */
        n = hpvm_cpuset_count(&ids);
        for (unsigned id = 1; n < count && id < HPVM_CPUSET_MAX; id++)
                if (!hpvm_cpuset_test(&ids, id)) {
                        hpvm_cpuset_set(&ids, id);
                        n++;
                }
        *ret = ids;
        return 0;
}

int hpvm_domain_check_iothreadpins(const HpvmDomain *d, long count, const HpvmPinList *pins, HpvmError *err)
{
        char list[HPVM_CPUSET_STRMAX];
        HpvmCpuSet ids;
        int r;

        if (count < 0)
                return hpvm_error_set(err, -EINVAL, "iothreadpin: the VM's <iothreads> is not a number");
        r = hpvm_domain_get_iothread_ids(d, count < (long)UINT32_MAX ? (unsigned)count : UINT32_MAX, &ids, err);
        if (r < 0)
                return hpvm_error_prefix(err, "iothreadpin: ");
        for (size_t i = 0; i < pins->n; i++) {
                unsigned id = pins->pins[i].id;

                if (hpvm_cpuset_test(&ids, id))
                        continue;
                if (!count)
                        return hpvm_error_set(err, -ERANGE, "iothreadpin: IO thread %u does not exist "
                                              "(the VM has no IO threads: set iothreads)", id);
                hpvm_cpuset_format(&ids, list, sizeof(list));
                return hpvm_error_set(err, -ERANGE, "iothreadpin: IO thread %u does not exist (the VM has %ld IO thread%s: %s)",
                                      id, count, count == 1 ? "" : "s", list);
        }
        return 0;
}

/* The first IO thread id in @driver (iothread='N', or a <iothreads><iothread id='N'> mapping) not in @keep: 0 if none. */
static uint64_t driver_thread_gone(const xmlNode *driver, const HpvmCpuSet *keep, char *how, size_t size)
{
        uint64_t id;

        if (hpvm_xml_prop_u64(driver, "iothread", UINT64_MAX, &id) == 0 &&
            (id >= HPVM_CPUSET_MAX || !hpvm_cpuset_test(keep, (unsigned)id))) {
                snprintf(how, size, "<driver iothread='%llu'>", (unsigned long long)id);
                return id;
        }
        HPVM_XML_FOREACH(t, hpvm_xml_child(driver, "iothreads"), "iothread")
                if (hpvm_xml_prop_u64(t, "id", UINT64_MAX, &id) == 0 &&
                    (id >= HPVM_CPUSET_MAX || !hpvm_cpuset_test(keep, (unsigned)id))) {
                        snprintf(how, size, "<driver><iothreads><iothread id='%llu'>", (unsigned long long)id);
                        return id;
                }
        return 0;
}

/*
 * A disk or controller on a thread that goes would silently fall back to QEMU's
 * main loop (and off the CPUs that thread is pinned to): refused, before any edit.
 */
static int check_device_iothreads(const HpvmDomain *d, unsigned n, const HpvmCpuSet *keep, HpvmError *err)
{
        static const char *const attrs[] = { "type", "index", NULL };
        xmlNode *devices = hpvm_xml_child(d->root, "devices");
        char who[400], how[64], list[HPVM_CPUSET_STRMAX];

        for (xmlNode *dev = devices ? first_element(devices) : NULL; dev; dev = next_element(dev)) {
                bool disk = xmlStrEqual(dev->name, BAD_CAST "disk");
                uint64_t id = driver_thread_gone(hpvm_xml_child(dev, "driver"), keep, how, sizeof(how));

                if (!id)
                        continue;
                if (disk) {
                        _cleanup_xmlchar_ xmlChar *tdev = hpvm_xml_prop(hpvm_xml_child(dev, "target"), "dev");
                        char q[HPVM_QUOTE_MAX];

                        if (tdev)
                                hpvm_quote((const char *)tdev, strlen((const char *)tdev), q, sizeof(q));
                        snprintf(who, sizeof(who), "disk %s", tdev ? q : "(no target dev)");
                } else {
                        hpvm_domain_describe(dev, attrs, who, sizeof(who));
                }
                hpvm_cpuset_format(keep, list, sizeof(list));
                return hpvm_error_set(err, -EINVAL, "iothreads: %s uses IO thread %llu (%s), which iothreads=%u removes "
                                      "(the VM would have IO thread%s %s): raise iothreads or move the %s to a kept IO thread",
                                      who, (unsigned long long)id, how, n, n == 1 ? "" : "s", list,
                                      disk ? "disk" : (const char *)dev->name);
        }
        return 0;
}

/* <cputune> of threads that go: their pins are removed, <iothreadsched iothreads> lists shrink. */
static int prune_iothread_tuning(HpvmDomain *d, const HpvmCpuSet *keep, HpvmWarnings *warn)
{
        xmlNode *cputune = hpvm_xml_child(d->root, "cputune"), *next;
        char kept[HPVM_CPUSET_STRMAX], q[HPVM_QUOTE_MAX];
        unsigned n = hpvm_cpuset_count(keep);

        hpvm_cpuset_format(keep, kept, sizeof(kept));
        for (xmlNode *pin = hpvm_xml_child(cputune, "iothreadpin"); pin; pin = next) {
                uint64_t id;

                next = hpvm_xml_next(pin, "iothreadpin");
                if (hpvm_xml_prop_u64(pin, "iothread", UINT64_MAX, &id) < 0 ||
                    (id < HPVM_CPUSET_MAX && hpvm_cpuset_test(keep, (unsigned)id)))
                        continue;
                hpvm_warn(warn, "iothreads: removed <cputune><iothreadpin iothread='%llu'>: the VM now has %u IO thread%s (%s)",
                          (unsigned long long)id, n, n == 1 ? "" : "s", kept);
                hpvm_domain_remove(pin);
        }
        for (xmlNode *sched = hpvm_xml_child(cputune, "iothreadsched"); sched; sched = next) {
                _cleanup_xmlchar_ xmlChar *raw = hpvm_xml_prop(sched, "iothreads");
                HpvmCpuSet ids;

                next = hpvm_xml_next(sched, "iothreadsched");
                if (!hpvm_xml_prop_cpuset(sched, "iothreads", HPVM_CPUSET_MAX, &ids) || hpvm_cpuset_is_subset(&ids, keep))
                        continue;
                hpvm_cpuset_and(&ids, keep);
                hpvm_quote((const char *)raw, strlen((const char *)raw), q, sizeof(q));
                if (hpvm_cpuset_is_empty(&ids)) {
                        hpvm_warn(warn, "iothreads: removed <cputune><iothreadsched iothreads='%s'>: the VM now has "
                                  "%u IO thread%s (%s)", q, n, n == 1 ? "" : "s", kept);
                        hpvm_domain_remove(sched);
                        continue;
                }
                if (set_cpuset_prop(sched, "iothreads", &ids) < 0)
                        return -ENOMEM;
                hpvm_warn(warn, "iothreads: <cputune><iothreadsched iothreads='%s'> keeps only the IO threads the VM "
                          "still has: it now has %u IO thread%s (%s)", q, n, n == 1 ? "" : "s", kept);
        }
        return 0;
}

int hpvm_domain_set_iothreads(HpvmDomain *d, unsigned n, HpvmWarnings *warn, HpvmError *err)
{
        xmlNode *ids = hpvm_xml_child(d->root, "iothreadids"), *io, *next;
        HpvmCpuSet keep;
        char buf[16];
        int r;

        r = hpvm_domain_get_iothread_ids(d, n, &keep, err);
        if (r < 0)
                return hpvm_error_prefix(err, "iothreads: ");
        r = check_device_iothreads(d, n, &keep, err);
        if (r < 0)
                return r;
        /* libvirt counts every <iothreadids> entry as a thread: the ones not kept go. */
        for (xmlNode *t = hpvm_xml_child(ids, "iothread"); t; t = next) {
                uint64_t id;

                next = hpvm_xml_next(t, "iothread");
                if (hpvm_xml_prop_u64(t, "id", HPVM_CPUSET_MAX - 1, &id) == 0 && !hpvm_cpuset_test(&keep, (unsigned)id))
                        hpvm_domain_remove(t);
        }
        if (prune_iothread_tuning(d, &keep, warn) < 0)
                return NOMEM(err);
        io = ensure_single(d, d->root, "iothreads");
        if (!io)
                return NOMEM(err);
        snprintf(buf, sizeof(buf), "%u", n);
        {
                _cleanup_xmlchar_ xmlChar *old = xmlNodeGetContent(io);

                if (!old || !xmlStrEqual(old, BAD_CAST buf))
                        xmlNodeSetContent(io, BAD_CAST buf);
        }
        return 0;
}

int hpvm_domain_set_tsc_frequency(HpvmDomain *d, uint64_t hz)
{
        xmlNode *clock = hpvm_xml_child(d->root, "clock"), *timer = NULL;

        if (!clock) {
                /* libvirt requires an offset; utc is what it assumes for a VM that names none. */
                clock = new_element(d, "clock");
                if (!clock || hpvm_domain_set_prop(clock, "offset", "utc") < 0) {
                        xmlFreeNode(clock);
                        return -ENOMEM;
                }
                hpvm_domain_insert(d, d->root, clock);
        }
        HPVM_XML_FOREACH(t, clock, "timer") {
                _cleanup_xmlchar_ xmlChar *name = hpvm_xml_prop(t, "name");

                if (name && xmlStrEqual(name, BAD_CAST "tsc")) {
                        timer = t;
                        break;
                }
        }
        if (!timer) {
                timer = new_element(d, "timer");
                if (!timer || hpvm_domain_set_prop(timer, "name", "tsc") < 0) {
                        xmlFreeNode(timer);
                        return -ENOMEM;
                }
                hpvm_domain_insert(d, clock, timer);
        }
        return set_uint_prop(timer, "frequency", hz);
}
