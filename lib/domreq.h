/* domreq.h: read what a VM needs (HpvmVmReq) out of its domain XML. */
#pragma once

#include "domxml.h"
#include "vmreq.h"

/*
 * Fill *ret from the document as it stands: <vcpu>, <cpu><topology>,
 * the VM's memory as libvirt counts it (with guest cells: the cells plus
 * memory devices, whatever <memory> says),
 * guest cells with their <memnode>s, <numatune><memory>, the huge page size
 * and the cells it backs, vcpupin/emulatorpin/iothreadpin, a required
 * invtsc and the <clock><timer name='tsc' frequency>.
 * Values outside libvirt's grammar, or naming vCPUs the VM does not have,
 * read as absent: libvirt refuses such a document itself.
 * On success *ret is the caller's (hpvm_vmreq_clear). Returns 0, -EINVAL
 * (a guest cell's memory or the page size is not a number, more than
 * HPVM_CELLS_MAX cells: message in @err), -ENOMEM.
 */
int hpvm_domain_get_req(const HpvmDomain *d, HpvmVmReq *ret, HpvmError *err);

/* The same without the pins (vcpupin, emulatorpin, iothreadpin stay empty): cheaper on big VMs. */
#define HPVM_REQ_NO_PINS 1u
int hpvm_domain_get_req_parts(const HpvmDomain *d, unsigned flags, HpvmVmReq *ret, HpvmError *err);

/*
 * oVirt's CPU pinning policy for the VM, from
 * <metadata><ovirt-vm:vm><ovirt-vm:cpuPolicy>: "none", "manual",
 * "dedicated", "isolate-threads", "siblings", or NULL when absent (older
 * engines; vdsm then infers "manual" from the pins). Caller frees.
 */
char *hpvm_domain_cpu_policy(const HpvmDomain *d);
