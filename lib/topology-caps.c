/* topology-caps.c: fill an HpvmHost from libvirt's capabilities XML (virsh capabilities). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fileio.h"
#include "props.h"
#include "topology.h"
#include "xml.h"

#define WHAT "capabilities XML"

/*
 * Base page sizes: 4 KiB (x86, most arm64), 16 KiB (some arm64), 64 KiB
 * (ppc64, arm64 with 64K pages). No huge page is this small, except
 * arm64's 64 KiB contiguous pages on a 4 KiB kernel, which the rule below
 * keeps because there 4 KiB is the smaller size.
 */
#define BASE_PAGE_MAX_KIB 64

/* Room for the contexts "<cell id='N'>" and "<cell id='N'>: <cpu id='M'>" (N, M up to 20 digits). */
#define CELL_CTX_MAX 48
#define CPU_CTX_MAX (CELL_CTX_MAX + 48)

/* Build an error about @what inside @ctx; any problem in the document is -EINVAL. */
static int caps_fail(HpvmError *err, const char *ctx, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int caps_fail(HpvmError *err, const char *ctx, const char *fmt, ...)
{
        char what[HPVM_ERR_MAX];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(what, sizeof(what), fmt, ap);
        va_end(ap);
        return hpvm_error_set(err, -EINVAL, WHAT ": %s%s%s", ctx, *ctx ? ": " : "", what);
}

/*
 * Numeric attribute @name of @n, at most @max. Absent: -ENOENT with no
 * message (the caller decides whether that is fine). Malformed or too big:
 * -EINVAL with a message that quotes the value.
 */
static int attr_u64(const xmlNode *n, const char *ctx, const char *name, const char *label,
                    uint64_t max, uint64_t *ret, HpvmError *err)
{
        _cleanup_xmlchar_ xmlChar *v = hpvm_xml_prop(n, name);
        char q[HPVM_QUOTE_MAX];
        size_t len;
        int r;

        if (!v)
                return -ENOENT;
        len = strlen((const char *) v);
        r = hpvm_parse_u64((const char *) v, len, max, ret);
        if (r == 0)
                return 0;
        hpvm_quote((const char *) v, len, q, sizeof(q));
        if (r == -EINVAL)
                return caps_fail(err, ctx, "%s '%s' is not a number", label, q);
        return caps_fail(err, ctx, "%s '%s' is out of range (at most %llu)", label, q,
                         (unsigned long long) max);
}

/* An optional topology id (socket_id, die_id, core_id): absent means -1. */
static int attr_topo_id(const xmlNode *n, const char *ctx, const char *name, int *ret, HpvmError *err)
{
        uint64_t v;
        int r = attr_u64(n, ctx, name, name, INT32_MAX, &v, err);

        if (r == -ENOENT) {
                *ret = -1;
                return 0;
        }
        if (r < 0)
                return r;
        *ret = (int) v;
        return 0;
}

/* An amount element/attribute pair in KiB: @value in @unit (default KiB), at most @max_kib. */
static int to_kib(uint64_t value, const xmlNode *n, const char *ctx, const char *what,
                  uint64_t max_kib, uint64_t *ret_kib, HpvmError *err)
{
        _cleanup_xmlchar_ xmlChar *unit = hpvm_xml_prop(n, "unit");
        uint64_t kib;
        char q[HPVM_QUOTE_MAX];
        int r;

        r = hpvm_xml_scale_kib(value, (const char *) unit, "KiB", &kib);
        if (r == -EINVAL) {
                hpvm_quote(unit ? (const char *) unit : "", unit ? strlen((const char *) unit) : 0, q, sizeof(q));
                return caps_fail(err, ctx, "%s: unknown unit '%s'", what, q);
        }
        if (r < 0 || kib > max_kib)
                return caps_fail(err, ctx, "%s: %llu %s is more than this program accepts", what,
                                 (unsigned long long) value, unit ? (const char *) unit : "KiB");
        *ret_kib = kib;
        return 0;
}

static int cell_memory(const xmlNode *cell, const char *ctx, uint64_t *ret_kib, HpvmError *err)
{
        const xmlNode *m = hpvm_xml_child(cell, "memory");
        _cleanup_xmlchar_ xmlChar *text = NULL;
        uint64_t v;
        char q[HPVM_QUOTE_MAX];
        int r;

        /* Unknown for now: whether it means "none" depends on the other cells (see below). */
        if (!m) {
                *ret_kib = HPVM_MEM_UNKNOWN;
                return 0;
        }
        r = hpvm_xml_text_u64(m, UINT64_MAX, &v);
        if (r < 0) {
                text = xmlNodeGetContent(m);
                hpvm_quote(text ? (const char *) text : "", text ? strlen((const char *) text) : 0, q, sizeof(q));
                return caps_fail(err, ctx, "<memory> '%s' is %s", q,
                                 r == -EOVERFLOW ? "too large" : "not a number");
        }
        return to_kib(v, m, ctx, "<memory>", HPVM_MEM_MAX_KIB, ret_kib, err);
}

typedef struct PageCount {
        uint64_t size_kib;
        uint64_t count;
} PageCount;

/*
 * The cell's <pages>: the smallest size, when it is a base page size
 * (<= BASE_PAGE_MAX_KIB), is ordinary memory and skipped; every other size
 * is a huge page pool whose count is both total and free (libvirt does not
 * say how many are in use).
 */
static int cell_pages(const xmlNode *cell, const char *ctx, HpvmNode *node, HpvmError *err)
{
        PageCount pc[HPVM_PAGE_SIZES_MAX + 1];  /* + 1: the base page */
        size_t n = 0, smallest = 0;
        int r;

        HPVM_XML_FOREACH(p, cell, "pages") {
                uint64_t size, size_kib, count;
                char q[HPVM_QUOTE_MAX];
                _cleanup_xmlchar_ xmlChar *text = NULL;

                r = attr_u64(p, ctx, "size", "<pages> size", UINT64_MAX, &size, err);
                if (r == -ENOENT)
                        return caps_fail(err, ctx, "<pages> without size");
                if (r < 0)
                        return r;
                r = to_kib(size, p, ctx, "<pages size>", HPVM_MEM_MAX_KIB, &size_kib, err);
                if (r < 0)
                        return r;
                if (size_kib == 0)
                        return caps_fail(err, ctx, "<pages> of size 0");
                for (size_t i = 0; i < n; i++)
                        if (pc[i].size_kib == size_kib)
                                return caps_fail(err, ctx, "two <pages> of %llu KiB",
                                                 (unsigned long long) size_kib);
                if (n == HPVM_ARRAY_SIZE(pc))
                        return caps_fail(err, ctx, "more than %d huge page sizes", HPVM_PAGE_SIZES_MAX);
                /* Pages times size must stay a sane amount of memory (and never wrap). */
                r = hpvm_xml_text_u64(p, HPVM_MEM_MAX_KIB / size_kib, &count);
                if (r < 0) {
                        text = xmlNodeGetContent(p);
                        hpvm_quote(text ? (const char *) text : "", text ? strlen((const char *) text) : 0,
                                   q, sizeof(q));
                        return caps_fail(err, ctx, "<pages size='%llu'> count '%s' is %s",
                                         (unsigned long long) size, q,
                                         r == -EINVAL || r == -ENOENT ? "not a number" : "out of range");
                }
                pc[n++] = (PageCount) { .size_kib = size_kib, .count = count };
        }

        for (size_t i = 1; i < n; i++)
                if (pc[i].size_kib < pc[smallest].size_kib)
                        smallest = i;

        for (size_t i = 0; i < n; i++) {
                if (i == smallest && pc[i].size_kib <= BASE_PAGE_MAX_KIB)
                        continue;
                r = hpvm_node_set_pages(node, pc[i].size_kib, pc[i].count);
                if (r == -ENOSPC)
                        return caps_fail(err, ctx, "more than %d huge page sizes", HPVM_PAGE_SIZES_MAX);
                if (r < 0)
                        return hpvm_error_set(err, r, WHAT ": %s: cannot record page pool", ctx);
        }
        return 0;
}

/* The cell's <cpus>: each CPU joins the node and the online set, exactly once host-wide. */
static int cell_cpus(HpvmHost *h, const xmlNode *cell, const char *cell_ctx, HpvmNode *node,
                     bool topology, HpvmError *err)
{
        const xmlNode *cpus = hpvm_xml_child(cell, "cpus");
        int r;

        /* libvirt writes no <cpus> for a CPU-less cell. */
        if (!cpus)
                return 0;

        HPVM_XML_FOREACH(c, cpus, "cpu") {
                HpvmCpuTopo t = { .node = (int) node->id };
                char ctx[CPU_CTX_MAX];
                uint64_t id;
                int core_id;

                r = attr_u64(c, cell_ctx, "id", "<cpu> id", HPVM_CPUSET_MAX - 1, &id, err);
                if (r == -ENOENT)
                        return caps_fail(err, cell_ctx, "<cpu> without id");
                if (r < 0)
                        return r;
                /* Unique ids below HPVM_CPUSET_MAX also bound this loop. */
                if (hpvm_cpuset_test(&h->online, (unsigned) id))
                        return caps_fail(err, cell_ctx, "CPU %llu is listed twice",
                                         (unsigned long long) id);

                hpvm_cpuset_set(&h->online, (unsigned) id);
                hpvm_cpuset_set(&node->cpus, (unsigned) id);
                if (!topology)
                        continue;
                snprintf(ctx, sizeof(ctx), "%s: <cpu id='%llu'>", cell_ctx, (unsigned long long) id);
                r = attr_topo_id(c, ctx, "socket_id", &t.socket, err);
                if (r < 0)
                        return r;
                r = attr_topo_id(c, ctx, "die_id", &t.die, err);
                if (r < 0)
                        return r;
                /* Checked here for a clear message; read again only when no siblings list is given. */
                r = attr_topo_id(c, ctx, "core_id", &core_id, err);
                if (r < 0)
                        return r;

                r = hpvm_host_set_cpu(h, (unsigned) id, &t);
                if (r < 0)
                        return hpvm_error_set(err, r, WHAT ": %s: cannot record it", ctx);
        }
        return 0;
}

/* The cell's id, with messages in the <cell id='x'> form users see in the file. */
static int cell_id(const xmlNode *cell, uint64_t *ret, HpvmError *err)
{
        _cleanup_xmlchar_ xmlChar *v = hpvm_xml_prop(cell, "id");
        char q[HPVM_QUOTE_MAX];
        size_t len;
        int r;

        if (!v)
                return caps_fail(err, "", "<cell> without id");
        len = strlen((const char *) v);
        r = hpvm_parse_u64((const char *) v, len, HPVM_NODE_MAX - 1, ret);
        if (r == 0)
                return 0;
        hpvm_quote((const char *) v, len, q, sizeof(q));
        if (r == -EINVAL)
                return caps_fail(err, "", "<cell id='%s'>: '%s' is not a number", q, q);
        return caps_fail(err, "", "<cell id='%s'>: NUMA node id out of range (at most %d)",
                         q, HPVM_NODE_MAX - 1);
}

static int read_cell(HpvmHost *h, const xmlNode *cell, bool topology, HpvmError *err)
{
        char ctx[CELL_CTX_MAX];
        uint64_t id, mem_kib;
        HpvmNode *node;
        int r;

        r = cell_id(cell, &id, err);
        if (r < 0)
                return r;
        snprintf(ctx, sizeof(ctx), "<cell id='%llu'>", (unsigned long long) id);

        r = cell_memory(cell, ctx, &mem_kib, err);
        if (r < 0)
                return r;

        /* Unique ids below HPVM_NODE_MAX bound the number of cells we accept. */
        r = hpvm_host_add_node(h, (unsigned) id, NULL, mem_kib, &node);
        if (r == -EEXIST)
                return caps_fail(err, ctx, "listed twice");
        if (r < 0)
                return hpvm_error_set(err, r, WHAT ": %s: cannot record it", ctx);

        r = cell_pages(cell, ctx, node, err);
        if (r < 0)
                return r;
        /* @node stays valid: nothing below adds a node (only that moves h->nodes). */
        return cell_cpus(h, cell, ctx, node, topology, err);
}

/*
 * One core per <cpu siblings='...'>, the list libvirt copies from the
 * kernel's thread_siblings_list: never inferred from core_id, which some
 * platforms give every thread (vdsm's AMD 6274 sample). Without the
 * attribute (older libvirt) a CPU with a socket and core_id shares a core
 * with the CPUs of the same cell, socket, die and core_id.
 */
static int read_cores(HpvmHost *h, const xmlNode *cells, HpvmError *err)
{
        HPVM_XML_FOREACH(cell, cells, "cell") {
                HPVM_XML_FOREACH(c, hpvm_xml_child(cell, "cpus"), "cpu") {
                        _cleanup_xmlchar_ xmlChar *sib = hpvm_xml_prop(c, "siblings");
                        HpvmError perr = { 0 };
                        char q[HPVM_QUOTE_MAX];
                        uint64_t id, core_id;
                        HpvmCpuSet set;
                        int r;

                        /* Ids were checked by the first pass. */
                        if (hpvm_xml_prop_u64(c, "id", HPVM_CPUSET_MAX - 1, &id) < 0 || h->cpu[id].core >= 0)
                                continue;
                        hpvm_cpuset_zero(&set);
                        if (sib) {
                                size_t len = strlen((const char *) sib);

                                r = hpvm_cpuset_parse((const char *) sib, len, HPVM_CPUSET_MAX, "CPU", &set, &perr);
                                if (r < 0) {
                                        hpvm_quote((const char *) sib, len, q, sizeof(q));
                                        return caps_fail(err, "", "<cpu id='%llu' siblings='%s'>: %s",
                                                         (unsigned long long) id, q, perr.msg);
                                }
                                hpvm_cpuset_and(&set, &h->online);
                        } else if (hpvm_xml_prop_u64(c, "core_id", INT32_MAX, &core_id) == 0 &&
                                   h->cpu[id].socket >= 0) {
                                HPVM_XML_FOREACH(o, hpvm_xml_child(cell, "cpus"), "cpu") {
                                        uint64_t oid, ocore;

                                        if (hpvm_xml_prop_u64(o, "id", HPVM_CPUSET_MAX - 1, &oid) == 0 &&
                                            hpvm_xml_prop_u64(o, "core_id", INT32_MAX, &ocore) == 0 &&
                                            ocore == core_id && h->cpu[oid].socket == h->cpu[id].socket &&
                                            h->cpu[oid].die == h->cpu[id].die && h->cpu[oid].core < 0)
                                                hpvm_cpuset_set(&set, (unsigned) oid);
                                }
                        }
                        hpvm_cpuset_set(&set, (unsigned) id);
                        r = hpvm_host_add_core(h, &set);
                        if (r == -EINVAL)
                                return caps_fail(err, "", "<cpu id='%llu'>: its siblings overlap another core's "
                                                 "without matching them", (unsigned long long) id);
                        if (r < 0)
                                return hpvm_error_set(err, r, WHAT ": cannot record a core");
                }
        }
        return 0;
}

/* <cell><distances><sibling id value/>: the SLIT row of each cell. */
static int read_distances(HpvmHost *h, const xmlNode *cells, HpvmError *err)
{
        HPVM_XML_FOREACH(cell, cells, "cell") {
                uint64_t id;
                int from;

                if (hpvm_xml_prop_u64(cell, "id", HPVM_NODE_MAX - 1, &id) < 0)
                        continue;
                from = hpvm_host_node_index(h, (unsigned) id);
                HPVM_XML_FOREACH(s, hpvm_xml_child(cell, "distances"), "sibling") {
                        char ctx[CELL_CTX_MAX];
                        uint64_t to_id, value;
                        int to, r;

                        snprintf(ctx, sizeof(ctx), "<cell id='%llu'>", (unsigned long long) id);
                        r = attr_u64(s, ctx, "id", "<distances><sibling> id", HPVM_NODE_MAX - 1, &to_id, err);
                        if (r == -ENOENT)
                                return caps_fail(err, ctx, "<distances><sibling> without id");
                        if (r < 0)
                                return r;
                        r = attr_u64(s, ctx, "value", "<distances><sibling> value", UINT32_MAX, &value, err);
                        if (r == -ENOENT)
                                return caps_fail(err, ctx, "<distances><sibling> without value");
                        if (r < 0)
                                return r;
                        to = hpvm_host_node_index(h, (unsigned) to_id);
                        if (to < 0)
                                return caps_fail(err, ctx, "<distances> names cell %llu, which is not listed",
                                                 (unsigned long long) to_id);
                        if (value == 0)
                                return caps_fail(err, ctx, "distance 0 to cell %llu", (unsigned long long) to_id);
                        r = hpvm_host_set_distance(h, (size_t) from, (size_t) to, (uint32_t) value);
                        if (r < 0)
                                return hpvm_error_set(err, r, WHAT ": cannot record distances");
                }
        }
        return 0;
}

/* <host><cpu>: the invtsc feature and <counter name='tsc' frequency scaling>. */
static int read_cpu_flags(HpvmHost *h, const xmlNode *host, HpvmError *err)
{
        const xmlNode *cpu = hpvm_xml_child(host, "cpu");

        HPVM_XML_FOREACH(f, cpu, "feature") {
                _cleanup_xmlchar_ xmlChar *name = hpvm_xml_prop(f, "name");

                if (name && xmlStrEqual(name, BAD_CAST "invtsc"))
                        h->invtsc = true;
        }
        HPVM_XML_FOREACH(c, cpu, "counter") {
                _cleanup_xmlchar_ xmlChar *name = hpvm_xml_prop(c, "name");
                _cleanup_xmlchar_ xmlChar *scaling = hpvm_xml_prop(c, "scaling");
                uint64_t hz;
                int r;

                if (!name || !xmlStrEqual(name, BAD_CAST "tsc"))
                        continue;
                r = attr_u64(c, "<host><cpu><counter name='tsc'>", "frequency", "frequency", UINT64_MAX, &hz, err);
                if (r == -ENOENT)
                        continue;
                if (r < 0)
                        return r;
                h->tsc_hz = hz;
                h->tsc_scaling = scaling && xmlStrEqual(scaling, BAD_CAST "yes");
        }
        return 0;
}

int hpvm_host_parse_caps(const char *buf, size_t len, unsigned parts, HpvmHost **ret_host, HpvmUsage **ret_use,
                         HpvmError *err)
{
        _cleanup_xmldoc_ xmlDoc *doc = NULL;
        _cleanup_host_ HpvmHost *h = NULL;
        const xmlNode *host, *cells;
        HpvmUsage *u;
        size_t ncells = 0;
        int r;

        /* One document either way: thread siblings come with the rest of the CPU topology. */
        if (parts & HPVM_HOST_CPU_CORES)
                parts |= HPVM_HOST_CPU_TOPOLOGY;

        r = hpvm_xml_parse(buf, len, "capabilities", WHAT, &doc, err);
        if (r < 0)
                return r;

        host = hpvm_xml_child(xmlDocGetRootElement(doc), "host");
        cells = hpvm_xml_child(hpvm_xml_child(host, "topology"), "cells");
        if (!cells)
                return hpvm_error_set(err, -EINVAL, WHAT ": no <host><topology><cells> "
                                      "(libvirt could not read this host's NUMA topology)");

        h = hpvm_host_new();
        if (!h)
                return hpvm_error_set(err, -ENOMEM, "out of memory reading " WHAT);

        HPVM_XML_FOREACH(cell, cells, "cell") {
                r = read_cell(h, cell, parts & HPVM_HOST_CPU_TOPOLOGY, err);
                if (r < 0)
                        return r;
                ncells++;
        }
        if (ncells == 0)
                return hpvm_error_set(err, -EINVAL, WHAT ": <cells> has no <cell>");
        /*
         * libvirt writes <memory> only for a cell that has some: where other cells
         * have one, a cell without it is memory-less. Where none has (older libvirt,
         * vdsm's samples), the memory is unknown.
         */
        for (size_t i = 0; i < h->nnodes; i++)
                if (h->nodes[i].mem_kib != HPVM_MEM_UNKNOWN) {
                        for (size_t j = 0; j < h->nnodes; j++)
                                if (h->nodes[j].mem_kib == HPVM_MEM_UNKNOWN)
                                        h->nodes[j].mem_kib = 0;
                        break;
                }
        if ((parts & HPVM_HOST_CPU_TOPOLOGY) && (r = read_cores(h, cells, err)) < 0)
                return r;
        if ((parts & HPVM_HOST_DISTANCES) && (r = read_distances(h, cells, err)) < 0)
                return r;
        /* The feature list is in the same document: reading it costs nothing extra. */
        r = read_cpu_flags(h, host, err);
        if (r < 0)
                return r;
        h->parts = HPVM_HOST_CPU_FLAGS | (parts & (HPVM_HOST_CPU_TOPOLOGY | HPVM_HOST_DISTANCES | HPVM_HOST_CPU_CORES));
        if (ret_use) {
                u = hpvm_usage_new(h);
                if (!u)
                        return hpvm_error_set(err, -ENOMEM, "out of memory reading " WHAT);
                /* Capabilities give no free memory; their page counts are counted free by hpvm_usage_new. */
                for (size_t i = 0; i < u->nnodes; i++)
                        u->node[i].mem_kib = HPVM_MEM_UNKNOWN;
                *ret_use = u;
        }
        *ret_host = h;
        h = NULL;
        return 0;
}

int hpvm_host_load_caps(const char *path, unsigned parts, HpvmHost **ret_host, HpvmUsage **ret_use,
                        HpvmError *err)
{
        _cleanup_free_ char *buf = NULL;
        size_t len;
        int r;

        r = hpvm_file_read(path, HPVM_XML_MAX, &buf, &len, err);
        if (r < 0)
                return r;
        r = hpvm_host_parse_caps(buf, len, parts, ret_host, ret_use, err);
        if (r < 0)
                return hpvm_error_prefix(err, "%s: ", path);
        return 0;
}
