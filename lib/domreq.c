/* domreq.c: the requirements of a VM (vCPUs, cells, memory bindings, pages, pins, TSC) read from its domain XML. */
#include <errno.h>
#include <string.h>

#include "domreq.h"
#include "xml.h"

#define OVIRT_VM_NS "http://ovirt.org/vm/1.0"

static bool mode_attr(const xmlNode *n, HpvmNumaMode *ret)
{
        _cleanup_xmlchar_ xmlChar *mode = hpvm_xml_prop(n, "mode");

        *ret = HPVM_NUMA_STRICT;
        for (int m = HPVM_NUMA_STRICT; mode && m <= HPVM_NUMA_RESTRICTIVE; m++)
                if (xmlStrEqual(mode, BAD_CAST hpvm_numa_mode_name((HpvmNumaMode)m))) {
                        *ret = (HpvmNumaMode)m;
                        return true;
                }
        return !mode;
}

static unsigned topo_attr(const xmlNode *t, const char *name)
{
        uint64_t v;

        return t && hpvm_xml_prop_u64(t, name, HPVM_VCPU_MAX, &v) == 0 ? (unsigned)v : 0;
}

static int read_cells(const HpvmDomain *d, HpvmVmReq *r, HpvmError *err)
{
        xmlNode *numa = hpvm_xml_child(hpvm_xml_child(d->root, "cpu"), "numa");
        HpvmCpuSet all;
        size_t pos = 0;

        hpvm_cpuset_zero(&all);
        hpvm_cpuset_set_range(&all, 0, r->vcpus - 1);
        HPVM_XML_FOREACH(c, numa, "cell") {
                _cleanup_xmlchar_ xmlChar *unit = hpvm_xml_prop(c, "unit");
                HpvmReqCell *cells, *cell;
                uint64_t v, kib, id = pos;

                if (pos == HPVM_CELLS_MAX)
                        return hpvm_error_set(err, -EINVAL, "domain XML: more than %d guest NUMA cells", HPVM_CELLS_MAX);
                /* Cells without an id are numbered by position, as libvirt does. */
                if (hpvm_xml_prop_u64(c, "id", HPVM_CELLS_MAX - 1, &v) == 0)
                        id = v;
                if (hpvm_xml_prop_u64(c, "memory", UINT64_MAX, &v) < 0 ||
                    hpvm_xml_scale_kib(v, (const char *)unit, "KiB", &kib) < 0)
                        return hpvm_error_set(err, -EINVAL, "domain XML: guest NUMA cell %llu has no valid memory size",
                                              (unsigned long long)id);
                cells = realloc(r->cells, (r->ncells + 1) * sizeof(*cells));
                if (!cells)
                        return hpvm_error_set(err, -ENOMEM, "out of memory");
                r->cells = cells;
                cell = &cells[r->ncells++];
                memset(cell, 0, sizeof(*cell));
                cell->id = (unsigned)id;
                cell->mem_kib = kib;
                /* A memory-only cell (libvirt 6.x+) has no cpus. */
                if (hpvm_xml_prop_cpuset(c, "cpus", HPVM_VCPU_MAX, &cell->vcpus))
                        hpvm_cpuset_and(&cell->vcpus, &all);
                pos++;
        }
        return 0;
}

static void read_numatune(const HpvmDomain *d, HpvmVmReq *r)
{
        xmlNode *numatune = hpvm_xml_child(d->root, "numatune");
        xmlNode *mem = hpvm_xml_child(numatune, "memory");

        if (mem && mode_attr(mem, &r->numatune.mode) && hpvm_xml_prop_cpuset(mem, "nodeset", HPVM_NODE_MAX, &r->numatune.nodes))
                r->has_numatune = true;
        HPVM_XML_FOREACH(mn, numatune, "memnode") {
                uint64_t id;

                if (hpvm_xml_prop_u64(mn, "cellid", HPVM_CELLS_MAX - 1, &id) < 0)
                        continue;
                for (size_t i = 0; i < r->ncells; i++) {
                        HpvmReqCell *c = &r->cells[i];

                        if (c->id != id || c->has_memnode)
                                continue;
                        if (mode_attr(mn, &c->mode) && hpvm_xml_prop_cpuset(mn, "nodeset", HPVM_NODE_MAX, &c->nodes))
                                c->has_memnode = true;
                }
        }
}

/* <memoryBacking><hugepages>: the first <page>'s size; cells backed: every one, or those some nodeset names. */
static int read_hugepages(const HpvmDomain *d, HpvmVmReq *r, HpvmError *err)
{
        xmlNode *hp = hpvm_xml_child(hpvm_xml_child(d->root, "memoryBacking"), "hugepages");
        bool any_nodeset = false;

        if (!hp)
                return 0;
        HPVM_XML_FOREACH(p, hp, "page") {
                _cleanup_xmlchar_ xmlChar *unit = hpvm_xml_prop(p, "unit");
                HpvmCpuSet cells;
                uint64_t v, kib;

                if (hpvm_xml_prop_u64(p, "size", UINT64_MAX, &v) < 0 ||
                    hpvm_xml_scale_kib(v, (const char *)unit, "KiB", &kib) < 0 || kib == 0)
                        return hpvm_error_set(err, -EINVAL, "domain XML: <memoryBacking><hugepages><page> has no valid size");
                if (!r->page_kib)
                        r->page_kib = kib;
                if (!hpvm_xml_prop_cpuset(p, "nodeset", HPVM_CELLS_MAX, &cells))
                        continue;
                any_nodeset = true;
                for (size_t i = 0; i < r->ncells; i++)
                        if (hpvm_cpuset_test(&cells, r->cells[i].id))
                                r->cells[i].hugepages = true;
        }
        if (!any_nodeset)
                for (size_t i = 0; i < r->ncells; i++)
                        r->cells[i].hugepages = true;
        return 0;
}

static int read_pins(const xmlNode *cputune, const char *elem, const char *idattr, unsigned limit, HpvmPinList *ret)
{
        HPVM_XML_FOREACH(p, cputune, elem) {
                HpvmPin *pins;
                HpvmCpuSet cpus;
                uint64_t id;

                if (hpvm_xml_prop_u64(p, idattr, limit - 1, &id) < 0 || !hpvm_xml_prop_cpuset(p, "cpuset", HPVM_CPUSET_MAX, &cpus))
                        continue;
                pins = realloc(ret->pins, (ret->n + 1) * sizeof(*pins));
                if (!pins)
                        return -ENOMEM;
                ret->pins = pins;
                pins[ret->n++] = (HpvmPin) { .id = (unsigned)id, .cpus = cpus };
        }
        return 0;
}

static bool requires_invtsc(const HpvmDomain *d)
{
        HPVM_XML_FOREACH(f, hpvm_xml_child(d->root, "cpu"), "feature") {
                _cleanup_xmlchar_ xmlChar *name = hpvm_xml_prop(f, "name");
                _cleanup_xmlchar_ xmlChar *policy = hpvm_xml_prop(f, "policy");

                if (name && xmlStrEqual(name, BAD_CAST "invtsc"))
                        return !policy || xmlStrEqual(policy, BAD_CAST "require") ||
                               xmlStrEqual(policy, BAD_CAST "force");
        }
        return false;
}

static uint64_t tsc_frequency(const HpvmDomain *d)
{
        HPVM_XML_FOREACH(t, hpvm_xml_child(d->root, "clock"), "timer") {
                _cleanup_xmlchar_ xmlChar *name = hpvm_xml_prop(t, "name");
                uint64_t hz;

                if (name && xmlStrEqual(name, BAD_CAST "tsc") && hpvm_xml_prop_u64(t, "frequency", UINT64_MAX, &hz) == 0)
                        return hz;
        }
        return 0;
}

int hpvm_domain_get_req(const HpvmDomain *d, HpvmVmReq *ret, HpvmError *err)
{
        return hpvm_domain_get_req_parts(d, 0, ret, err);
}

int hpvm_domain_get_req_parts(const HpvmDomain *d, unsigned flags, HpvmVmReq *ret, HpvmError *err)
{
        xmlNode *cputune = hpvm_xml_child(d->root, "cputune");
        xmlNode *topo = hpvm_xml_child(hpvm_xml_child(d->root, "cpu"), "topology");
        HpvmVmReq r = { .vcpus = d->vcpus };
        int k;

        r.sockets = topo_attr(topo, "sockets");
        r.dies = topo_attr(topo, "dies");
        r.cores = topo_attr(topo, "cores");
        r.threads = topo_attr(topo, "threads");
        r.devmem_kib = d->devmem_kib;
        if ((k = read_cells(d, &r, err)) < 0 || (k = read_hugepages(d, &r, err)) < 0)
                goto fail;
        read_numatune(d, &r);
        r.mem_given = hpvm_xml_child(d->root, "memory") != NULL;
        r.mem_kib = d->mem_kib;
        if (r.ncells) {
                /* With guest cells libvirt ignores <memory>: the VM has its cells plus its memory devices. */
                r.mem_kib = d->devmem_kib;
                for (size_t i = 0; i < r.ncells; i++)
                        r.mem_kib += r.cells[i].mem_kib;
        }
        if (!(flags & HPVM_REQ_NO_PINS)) {
                if (read_pins(cputune, "vcpupin", "vcpu", r.vcpus, &r.vcpupin) < 0 ||
                    read_pins(cputune, "iothreadpin", "iothread", UINT32_MAX, &r.iothreadpin) < 0) {
                        k = hpvm_error_set(err, -ENOMEM, "out of memory");
                        goto fail;
                }
                r.has_emulatorpin = hpvm_xml_prop_cpuset(hpvm_xml_child(cputune, "emulatorpin"), "cpuset",
                                                         HPVM_CPUSET_MAX, &r.emulatorpin);
        }
        r.invtsc = requires_invtsc(d);
        r.tsc_hz = tsc_frequency(d);
        *ret = r;
        return 0;
fail:
        hpvm_vmreq_clear(&r);
        return k;
}

char *hpvm_domain_cpu_policy(const HpvmDomain *d)
{
        xmlNode *md = hpvm_xml_child(d->root, "metadata");

        for (xmlNode *vm = md ? md->children : NULL; vm; vm = vm->next) {
                if (vm->type != XML_ELEMENT_NODE || !vm->ns || !xmlStrEqual(vm->ns->href, BAD_CAST OVIRT_VM_NS) ||
                    !xmlStrEqual(vm->name, BAD_CAST "vm"))
                        continue;
                for (xmlNode *c = vm->children; c; c = c->next) {
                        xmlChar *text;
                        char *copy;

                        if (c->type != XML_ELEMENT_NODE || !c->ns || !xmlStrEqual(c->ns->href, BAD_CAST OVIRT_VM_NS) ||
                            !xmlStrEqual(c->name, BAD_CAST "cpuPolicy"))
                                continue;
                        text = xmlNodeGetContent(c);
                        copy = text ? strdup((const char *)text) : NULL;
                        xmlFree(text);
                        return copy;
                }
        }
        return NULL;
}
