/* fitvirt.h: hpvm-fit's libvirt side: a host read through a libvirt URI, and the CPUs its running VMs are pinned to. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <libvirt/libvirt.h>

#include "config.h"
#include "cpuset.h"
#include "topology.h"
#include "util.h"

/* A running domain and the host CPUs it holds. */
typedef struct FitVirtVm {
        char uuid[VIR_UUID_STRING_BUFLEN];
        char name[256];
        HpvmCpuSet vcpus;       /* what its <vcpupin>s name (live XML) */
        HpvmCpuSet helpers;     /* what its <emulatorpin> and <iothreadpin>s name */
        HpvmCpuSet cpus;        /* what it holds: its vCPUs' CPUs and the helpers' that no other domain's helpers share */
        bool shared;            /* oVirt cpuPolicy "none": vdsm's shared pool, which holds no CPU */
        bool isolate;           /* oVirt cpuPolicy "isolate-threads": the pinned CPUs' thread siblings are its too */
} FitVirtVm;

/*
 * Connect to @uri with the credentials of @cfg (libvirt_user,
 * libvirt_password_file; libvirt asks only when the daemon wants them).
 * Returns hpvm_virt_open()'s codes; *ret is the caller's (virConnectClose()).
 */
int fit_virt_connect(const HpvmConfig *cfg, const char *uri, virConnectPtr *ret, HpvmError *err);

/*
 * The running domains of @conn (by name) and their pins, read from each
 * one's live XML: only threads pinned explicitly hold CPUs (libvirt reports
 * an unpinned thread as pinned to every host CPU). A vCPU pin holds its
 * CPUs; an emulator or IO-thread pin holds those no other domain's emulator
 * or IO threads are pinned to: a set several domains share is the host's
 * housekeeping CPUs (oVirt's High Performance VMs share one), which none of
 * them holds alone. A domain that stops while it is read is left out. *ret
 * (an array of *ret_n, caller frees; NULL when none) is set on success.
 * Returns 0, -EIO (libvirt failed: @err says what), -EINVAL (a domain XML
 * that does not parse), -ENOMEM.
 */
int fit_virt_running(virConnectPtr conn, FitVirtVm **ret, size_t *ret_n, HpvmError *err);

/*
 * The host behind @conn: its capabilities (the @parts of topology.h), the
 * free memory (virNodeGetCellsFreeMemory) and free huge pages
 * (virNodeGetFreePages) of every node, and as taken the CPUs the running
 * domains are pinned to, except the domain with uuid @except_uuid (the VM
 * asked about; NULL: none) and those vdsm keeps in its shared pool. What
 * the driver does not tell is a note in @notes and the capabilities' value
 * stands (free memory unknown: the node's total; free pages: the pool's
 * size). *ret_host, *ret_use and *ret_holders (the domains that hold CPUs,
 * each with what it holds, by name; *ret_nholders of them, NULL when none)
 * are the caller's. Returns 0, or -EIO (libvirt failed), -EINVAL (the
 * capabilities do not parse), -ENOMEM; @err says what.
 */
int fit_virt_load_host(virConnectPtr conn, unsigned parts, const char *except_uuid, HpvmHost **ret_host,
                       HpvmUsage **ret_use, FitVirtVm **ret_holders, size_t *ret_nholders, HpvmWarnings *notes,
                       HpvmError *err);
