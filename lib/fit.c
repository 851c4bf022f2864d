/* fit.c: from a domain to a placement request, and from a placement back into the domain XML. */
#include <errno.h>
#include <string.h>

#include "fit.h"
#include "xml.h"

int hpvm_fit_request(const HpvmVmReq *r, const HpvmFitOpts *o, HpvmPlaceRequest *ret, HpvmGuestCell **ret_cells,
                     HpvmError *err)
{
        HpvmPlaceRequest q = {
                .vcpus = r->vcpus, .threads = r->threads ? r->threads : 1, .mem_kib = r->mem_kib,
                .page_kib = r->page_kib, .emulator = o->emulator, .iothreads = o->iothreads, .policy = o->policy,
                .keep = o->keep,
        };
        HpvmGuestCell *cells = NULL;

        if (!o->make_cells && r->ncells) {
                cells = calloc(r->ncells, sizeof(*cells));
                if (!cells)
                        return hpvm_error_set(err, -ENOMEM, "out of memory");
                for (size_t i = 0; i < r->ncells; i++) {
                        if (hpvm_cpuset_is_empty(&r->cells[i].vcpus)) {
                                free(cells);
                                return hpvm_error_set(err, -EINVAL, "guest NUMA cell %u has no vCPUs: the placement "
                                                      "engine keeps every cell on the node of its vCPUs",
                                                      r->cells[i].id);
                        }
                        cells[i].vcpus = r->cells[i].vcpus;
                        cells[i].mem_kib = r->cells[i].mem_kib;
                }
                q.ncells = r->ncells;
                q.cells = cells;
        }
        *ret = q;
        *ret_cells = cells;
        return 0;
}

static int set_pins(HpvmDomain *d, const HpvmPlacement *p)
{
        HpvmPinList pins = { .n = p->nvcpus };
        int r;

        pins.pins = calloc(p->nvcpus ? p->nvcpus : 1, sizeof(*pins.pins));
        if (!pins.pins)
                return -ENOMEM;
        for (unsigned v = 0; v < p->nvcpus; v++) {
                pins.pins[v].id = v;
                hpvm_cpuset_set(&pins.pins[v].cpus, p->vcpu_cpu[v]);
        }
        r = hpvm_domain_set_vcpupins(d, &pins);
        free(pins.pins);
        return r;
}

static int set_iothreadpins(HpvmDomain *d, const HpvmPlacement *p, HpvmError *err)
{
        long count = hpvm_domain_iothreads(d);
        HpvmPinList pins = { 0 };
        HpvmCpuSet ids;
        int r;

        if (count <= 0 || hpvm_cpuset_is_empty(&p->iothreads))
                return 0;
        if ((r = hpvm_domain_get_iothread_ids(d, (unsigned)count, &ids, err)) < 0)
                return r;
        pins.pins = calloc(hpvm_cpuset_count(&ids) + 1, sizeof(*pins.pins));
        if (!pins.pins)
                return hpvm_error_set(err, -ENOMEM, "out of memory");
        for (int id = hpvm_cpuset_next(&ids, 0); id >= 0; id = hpvm_cpuset_next(&ids, (unsigned)id + 1))
                pins.pins[pins.n++] = (HpvmPin) { .id = (unsigned)id, .cpus = p->iothreads };
        r = hpvm_domain_set_iothreadpins(d, &pins);
        free(pins.pins);
        return r < 0 ? hpvm_error_set(err, r, "out of memory editing the domain XML") : 0;
}

static int set_numa(HpvmDomain *d, const HpvmPlacement *p, bool strict, HpvmError *err)
{
        HpvmNumaTune nt = { .mode = HPVM_NUMA_STRICT, .nodes = p->nodes };
        HpvmNumaMode mode = HPVM_NUMA_STRICT;
        xmlNode *mem = hpvm_xml_child(hpvm_xml_child(d->root, "numatune"), "memory");
        xmlNode *numa = hpvm_xml_child(hpvm_xml_child(d->root, "cpu"), "numa");
        size_t ncells = 0;
        int r;

        if (!strict && mem) {
                _cleanup_xmlchar_ xmlChar *m = hpvm_xml_prop(mem, "mode");

                for (int k = HPVM_NUMA_STRICT; m && k <= HPVM_NUMA_RESTRICTIVE; k++)
                        if (xmlStrEqual(m, BAD_CAST hpvm_numa_mode_name((HpvmNumaMode)k)))
                                nt.mode = (HpvmNumaMode)k;
        }
        HPVM_XML_FOREACH(c, numa, "cell")
                ncells++;
        /* Memnodes first, so the <memory> edit's restrictive check sees the final modes. */
        for (size_t i = 0; i < p->ncells && i < ncells; i++) {
                HpvmCpuSet one;

                hpvm_cpuset_zero(&one);
                hpvm_cpuset_set(&one, p->cell_node[i]);
                mode = nt.mode == HPVM_NUMA_RESTRICTIVE ? HPVM_NUMA_RESTRICTIVE : HPVM_NUMA_STRICT;
                if (hpvm_domain_set_memnode(d, (unsigned)i, strict || !hpvm_domain_has_memnode(d, (unsigned)i) ? &mode : NULL,
                                            &one) < 0)
                        return hpvm_error_set(err, -ENOMEM, "out of memory editing the domain XML");
        }
        r = hpvm_domain_set_numatune(d, &nt, err);
        return r;
}

int hpvm_fit_apply(HpvmDomain *d, const HpvmPlacement *p, unsigned what, HpvmWarnings *warn, HpvmError *err)
{
        int r;

        if (what & HPVM_FIT_CELLS) {
                HpvmGuestNuma g = { .n = p->ncells, .cells = p->cells };

                if ((r = hpvm_domain_set_guest_numa(d, &g, warn, err)) < 0)
                        return r;
        }
        if ((what & HPVM_FIT_VCPUPIN) && set_pins(d, p) < 0)
                return hpvm_error_set(err, -ENOMEM, "out of memory editing the domain XML");
        if ((what & HPVM_FIT_EMULATORPIN) && !hpvm_cpuset_is_empty(&p->emulator) &&
            hpvm_domain_set_emulatorpin(d, &p->emulator) < 0)
                return hpvm_error_set(err, -ENOMEM, "out of memory editing the domain XML");
        if ((what & HPVM_FIT_IOTHREADPIN) && (r = set_iothreadpins(d, p, err)) < 0)
                return r;
        if ((what & HPVM_FIT_NUMATUNE) && (r = set_numa(d, p, what & HPVM_FIT_STRICT, err)) < 0)
                return r;
        return 0;
}
