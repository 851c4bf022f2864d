/* fitvirt.c: a host through a libvirt URI for hpvm-fit: capabilities, free memory and pages per node, CPUs held by running VMs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libvirt/virterror.h>

#include "domreq.h"
#include "domxml.h"
#include "fileio.h"
#include "fitvirt.h"
#include "virtconn.h"

#define FIT_VIRT_DOMAINS_MAX 65536u     /* running domains read from one host */

int fit_virt_connect(const HpvmConfig *cfg, const char *uri, virConnectPtr *ret, HpvmError *err)
{
        HpvmConfig c = *cfg;

        /* A shallow copy: only the URI differs, the credentials are the configuration's. */
        c.libvirt_uri = (char *)uri;
        return hpvm_virt_open(&c, ret, err);
}

static void free_domains(virDomainPtr *doms, int n)
{
        for (int i = 0; i < n; i++)
                virDomainFree(doms[i]);
        free(doms);
}

/* One running domain's pins from its live XML; 1 when it stopped meanwhile (left out). */
static int read_vm(virDomainPtr dom, FitVirtVm *vm, HpvmError *err)
{
        _cleanup_domain_ HpvmDomain *d = NULL;
        _cleanup_free_ char *policy = NULL;
        const char *name = virDomainGetName(dom);
        char *xml;
        HpvmCpuSet s;
        int r;

        memset(vm, 0, sizeof(*vm));
        snprintf(vm->name, sizeof(vm->name), "%s", name ? name : "");
        if (virDomainGetUUIDString(dom, vm->uuid) < 0)
                return hpvm_error_set(err, -EIO, "cannot read the uuid of domain '%s': %s", vm->name,
                                      hpvm_virt_last_error("no reason given"));
        xml = virDomainGetXMLDesc(dom, 0);
        if (!xml) {
                if (hpvm_virt_last_code() == VIR_ERR_NO_DOMAIN || hpvm_virt_last_code() == VIR_ERR_OPERATION_INVALID)
                        return 1;
                return hpvm_error_set(err, -EIO, "cannot read the XML of domain '%s': %s", vm->name,
                                      hpvm_virt_last_error("no reason given"));
        }
        r = hpvm_domain_parse(xml, strlen(xml), &d, err);
        free(xml);
        if (r < 0)
                return hpvm_error_prefix(err, "domain '%s': ", vm->name);
        hpvm_domain_get_pinned(d, "vcpupin", &vm->vcpus);
        hpvm_domain_get_pinned(d, "emulatorpin", &vm->helpers);
        hpvm_domain_get_pinned(d, "iothreadpin", &s);
        hpvm_cpuset_or(&vm->helpers, &s);
        policy = hpvm_domain_cpu_policy(d);
        vm->shared = policy && !strcmp(policy, "none");
        vm->isolate = policy && !strcmp(policy, "isolate-threads");
        return 0;
}

/* By name, then uuid: libvirt lists domains in no fixed order, and people read the result. */
static int vm_cmp(const void *a, const void *b)
{
        const FitVirtVm *x = a, *y = b;
        int c = strcmp(x->name, y->name);

        return c ? c : strcmp(x->uuid, y->uuid);
}

/* What each domain holds: its vCPUs' CPUs, and its helpers' CPUs that no other domain's helpers use. */
static void hold(FitVirtVm *vms, size_t n)
{
        HpvmCpuSet seen, twice;

        hpvm_cpuset_zero(&seen);
        hpvm_cpuset_zero(&twice);
        for (size_t i = 0; i < n; i++) {
                HpvmCpuSet both = vms[i].helpers;

                hpvm_cpuset_and(&both, &seen);
                hpvm_cpuset_or(&twice, &both);
                hpvm_cpuset_or(&seen, &vms[i].helpers);
        }
        for (size_t i = 0; i < n; i++) {
                vms[i].cpus = vms[i].helpers;
                hpvm_cpuset_andnot(&vms[i].cpus, &twice);
                hpvm_cpuset_or(&vms[i].cpus, &vms[i].vcpus);
        }
}

int fit_virt_running(virConnectPtr conn, FitVirtVm **ret, size_t *ret_n, HpvmError *err)
{
        virDomainPtr *doms = NULL;
        FitVirtVm *vms = NULL;
        size_t n = 0;
        int ndoms, r = 0;

        ndoms = virConnectListAllDomains(conn, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
        if (ndoms < 0)
                return hpvm_error_set(err, -EIO, "cannot list the running domains: %s",
                                      hpvm_virt_last_error("no reason given"));
        if ((unsigned)ndoms > FIT_VIRT_DOMAINS_MAX) {
                free_domains(doms, ndoms);
                return hpvm_error_set(err, -EIO, "more than %u running domains", FIT_VIRT_DOMAINS_MAX);
        }
        if (ndoms > 0 && !(vms = calloc((size_t)ndoms, sizeof(*vms)))) {
                free_domains(doms, ndoms);
                return hpvm_error_set(err, -ENOMEM, "out of memory");
        }
        for (int i = 0; i < ndoms; i++) {
                r = read_vm(doms[i], &vms[n], err);
                if (r < 0)
                        break;
                if (r == 0)
                        n++;
                r = 0;
        }
        free_domains(doms, ndoms);
        if (r < 0) {
                free(vms);
                return r;
        }
        hold(vms, n);
        if (n > 1)
                qsort(vms, n, sizeof(*vms), vm_cmp);
        *ret = vms;
        *ret_n = n;
        return 0;
}

/* Free memory of every node; false (and the capabilities' unknown stays) when the driver cannot tell. */
static bool read_free_memory(virConnectPtr conn, const HpvmHost *h, HpvmUsage *u, HpvmWarnings *notes)
{
        for (size_t i = 0; i < h->nnodes; i++) {
                unsigned long long bytes = 0;
                uint64_t kib;

                if (virNodeGetCellsFreeMemory(conn, &bytes, (int)h->nodes[i].id, 1) != 1) {
                        hpvm_warn(notes, "free memory per node unknown (%s): each node's total counts as free",
                                  hpvm_virt_last_error("no reason given"));
                        for (size_t k = 0; k < u->nnodes; k++)
                                u->node[k].mem_kib = HPVM_MEM_UNKNOWN;
                        return false;
                }
                kib = bytes / 1024;
                /* A driver may report more than the node has (libvirt's test driver does): trust the total. */
                if (h->nodes[i].mem_kib != HPVM_MEM_UNKNOWN && kib > h->nodes[i].mem_kib)
                        kib = h->nodes[i].mem_kib;
                u->node[i].mem_kib = kib;
        }
        return true;
}

/* Free huge pages of every pool; on failure the capabilities' counts (every page free) stay. */
static void read_free_pages(virConnectPtr conn, const HpvmHost *h, HpvmUsage *u, HpvmWarnings *notes)
{
        for (size_t i = 0; i < h->nnodes; i++) {
                const HpvmNode *nd = &h->nodes[i];
                unsigned int sizes[HPVM_PAGE_SIZES_MAX];
                unsigned long long counts[HPVM_PAGE_SIZES_MAX];

                int got;

                if (!nd->npools)
                        continue;
                for (size_t k = 0; k < nd->npools; k++)
                        sizes[k] = (unsigned int)nd->pools[k].size_kib;
                got = virNodeGetFreePages(conn, (unsigned int)nd->npools, sizes, (int)nd->id, 1, counts, 0);
                if (got < 0) {
                        hpvm_warn(notes, "free huge pages unknown (%s): every page of the capabilities counts as free",
                                  hpvm_virt_last_error("no reason given"));
                        return;
                }
                /* libvirt's test driver answers 0 counts, or counts of other sizes. */
                if (got != (int)nd->npools) {
                        hpvm_warn(notes, "free huge pages unknown (the driver gave %d counts for the %zu page sizes of "
                                  "node %u): every page of the capabilities counts as free", got, nd->npools, nd->id);
                        return;
                }
                for (size_t k = 0; k < nd->npools; k++)
                        u->node[i].pages[k] = counts[k] < nd->pools[k].total ? counts[k] : nd->pools[k].total;
        }
}

int fit_virt_load_host(virConnectPtr conn, unsigned parts, const char *except_uuid, HpvmHost **ret_host,
                       HpvmUsage **ret_use, FitVirtVm **ret_holders, size_t *ret_nholders, HpvmWarnings *notes,
                       HpvmError *err)
{
        _cleanup_host_ HpvmHost *h = NULL;
        _cleanup_usage_ HpvmUsage *u = NULL;
        _cleanup_free_ FitVirtVm *vms = NULL;
        char *caps;
        size_t nvms = 0, nheld = 0;
        int r;

        caps = virConnectGetCapabilities(conn);
        if (!caps)
                return hpvm_error_set(err, -EIO, "cannot read the capabilities: %s",
                                      hpvm_virt_last_error("no reason given"));
        r = hpvm_host_parse_caps(caps, strlen(caps), parts, &h, &u, err);
        free(caps);
        if (r < 0)
                return r;
        read_free_memory(conn, h, u, notes);
        read_free_pages(conn, h, u, notes);
        if ((r = fit_virt_running(conn, &vms, &nvms, err)) < 0)
                return r;
        /* The holders are packed at the front of vms[], each with what it holds. */
        for (size_t i = 0; i < nvms; i++) {
                HpvmCpuSet held = vms[i].cpus;

                if (vms[i].shared || hpvm_cpuset_is_empty(&held) ||
                    (except_uuid && !strcasecmp(vms[i].uuid, except_uuid)))
                        continue;
                for (int c = vms[i].isolate ? hpvm_cpuset_next(&vms[i].cpus, 0) : -1; c >= 0;
                     c = hpvm_cpuset_next(&vms[i].cpus, (unsigned)c + 1)) {
                        HpvmCpuSet sib;

                        hpvm_host_siblings(h, (unsigned)c, &sib);
                        hpvm_cpuset_or(&held, &sib);
                }
                hpvm_cpuset_or(&u->taken, &held);
                vms[nheld] = vms[i];
                vms[nheld++].cpus = held;
        }
        *ret_host = h;
        *ret_use = u;
        *ret_holders = nheld ? vms : NULL;
        *ret_nholders = nheld;
        if (nheld)
                vms = NULL;
        h = NULL;
        u = NULL;
        return 0;
}
