/* procscan.h: which QEMU guests run on this host, read from /proc without asking libvirt. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

/*
 * libvirt's QEMU driver starts every guest with `-uuid <domain uuid>` on the
 * QEMU command line, and oVirt's vmId is the domain uuid, so the command lines
 * in /proc/<pid>/cmdline tell which VMs run here, without a call into
 * libvirtd (which a libvirt hook must never make, and which costs a hook
 * milliseconds). Seen on this project's test machine (libvirt 9.0, QEMU 7.2):
 * a TCG guest defined with <uuid>3F2504E0-4F89-41D3-9A0C-0305E82C3301</uuid>
 * ran as `/usr/bin/qemu-system-x86_64 -name guest=...,debug-threads=on -S
 * ... -smp 1,... -uuid 3f2504e0-4f89-41d3-9a0c-0305e82c3301 -display none
 * ...` (libvirt writes the uuid in lower case; tests/data/proc/ keeps that
 * command line).
 *
 * A QEMU process is one whose argv[0] has a base name starting with "qemu"
 * (qemu-system-x86_64, qemu-kvm) or equal to "kvm"; its guest is the valid
 * uuid after the first "-uuid" (or "--uuid") argument. Processes that end
 * while the scan runs are skipped; a command line is read up to
 * HPVM_CMDLINE_MAX bytes (libvirt puts -uuid in the first kilobyte or two).
 * Reading /proc/<pid>/cmdline of other users' processes needs /proc mounted
 * without hidepid: under hidepid=1 the scan fails (-EACCES), under hidepid=2
 * the processes are invisible and their guests look stopped.
 */

#define HPVM_CMDLINE_MAX (256u << 10)
#define HPVM_UUID_LEN 36                /* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" */
#define HPVM_GUESTS_MAX 16384u          /* running guests a scan reports */

typedef struct HpvmUuid {
        char s[HPVM_UUID_LEN + 1];      /* lower case, NUL-terminated */
} HpvmUuid;

/* Whether @len bytes of @s are a uuid: 8-4-4-4-12 hex digits (either case). */
bool hpvm_uuid_valid(const char *s, size_t len);

/*
 * Whether a QEMU process in <@root>/proc runs the guest @uuid (compared
 * without regard to case). @root is "/" for this host, or a folder holding a
 * fake proc/ tree. *ret is set only on success.
 * Returns 0; -EINVAL (@uuid is not a uuid); -ENOENT/-EACCES/-EIO (the proc
 * folder cannot be listed, or a process's cmdline cannot be read for a reason
 * other than the process ending: then whether the VM runs is unknown);
 * -ENOMEM. @err names the uuid or the file.
 */
int hpvm_vm_running(const char *root, const char *uuid, bool *ret, HpvmError *err);

/*
 * The uuids of every guest QEMU runs in <@root>/proc, lower case, sorted,
 * each once. *ret (caller frees; NULL when none) and *ret_n are set only on
 * success. Returns 0; -E2BIG (more than HPVM_GUESTS_MAX guests); otherwise as
 * hpvm_vm_running().
 */
int hpvm_vm_running_uuids(const char *root, HpvmUuid **ret, size_t *ret_n, HpvmError *err);
