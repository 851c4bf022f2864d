/* virtconn.h: the one way this project connects to libvirtd: the URI and SASL credentials of hpvm.conf, libvirt kept off stderr. */
#pragma once

#include <libvirt/libvirt.h>

#include "config.h"
#include "util.h"

#define HPVM_VIRT_DEFAULT_URI "qemu:///system"
#define HPVM_VIRT_PASSWORD_MAX 1024u    /* the password: the first line of libvirt_password_file, without its line end */

/*
 * What every libvirt user of this project needs before its first connection,
 * done once per process whoever calls it first:
 * - libvirt's default event loop implementation is registered
 *   (virEventRegisterDefaultImpl()). libvirt wants it before a connection is
 *   opened, or that connection never delivers events; hotplug.c and watch.c
 *   run the loop themselves (virEventRunDefaultImpl()), in the calling thread.
 * - libvirt's error reports are dropped instead of printed on stderr
 *   (virSetErrorFunc()): the library reads them back through
 *   virGetLastError() and puts them into its one-line HpvmError; the hook
 *   prints that line, and nothing else.
 * Returns 0, or -EIO when libvirt cannot register the loop (again at every call).
 */
int hpvm_virt_init(void);

/* The credentials hpvm_virt_auth_cb() answers with, and why it could not. */
typedef struct HpvmVirtAuth {
        const char *user;               /* VIR_CRED_AUTHNAME; NULL: none configured */
        const char *password_file;      /* VIR_CRED_PASSPHRASE: its first line; NULL: none configured */
        HpvmError error;                /* code 0 until a credential cannot be answered */
} HpvmVirtAuth;

/*
 * libvirt's credential callback (virConnectAuthCallbackPtr) over @cbdata, an
 * HpvmVirtAuth. Answers VIR_CRED_AUTHNAME with auth->user and
 * VIR_CRED_PASSPHRASE with the first line of auth->password_file: at most
 * HPVM_VIRT_PASSWORD_MAX bytes before its "\n" (or "\r\n", which are not
 * part of it), read at each call, so the file matters only when libvirt asks.
 * Each result is a malloc()ed copy that libvirt frees; our own copies of the
 * password are wiped. Returns 0, or -1 when one credential of @cred cannot be
 * answered: a type other than those two, no user or no file configured, the
 * file unreadable, not a regular file, its first line empty or longer than
 * the cap. auth->error then holds one line naming the key and the file, e.g.
 *   libvirt_password_file '/etc/pki/vdsm/keys/libvirt_password': No such file or directory
 * and the results already given stay for libvirt to free.
 */
int hpvm_virt_auth_cb(virConnectCredentialPtr cred, unsigned int ncred, void *cbdata);

/*
 * Connect to the libvirtd at c->libvirt_uri (NULL or empty: qemu:///system),
 * read-write. With c->libvirt_user or c->libvirt_password_file set, through
 * virConnectOpenAuth() and hpvm_virt_auth_cb() (vdsm's own credentials are
 * user vdsm@ovirt and /etc/pki/vdsm/keys/libvirt_password, for SASL
 * SCRAM-SHA-256 on the Unix socket); else with no credentials at all.
 * Calls hpvm_virt_init() first. On success *ret is the caller's
 * (virConnectClose()); on failure it is untouched.
 * Returns 0; -EIO (hpvm_virt_init() failed); -EACCES (libvirt refused the
 * credentials); -EINVAL, -ENOENT, -EACCES, -E2BIG and the like (the
 * credentials could not be read: the callback's message); -ECONNREFUSED
 * (any other refusal). The message is one line saying what failed:
 *   cannot connect to libvirt at 'qemu:///system' as 'vdsm@ovirt': <libvirt's message, or the callback's>
 * (without " as ..." when no user is configured).
 */
int hpvm_virt_open(const HpvmConfig *c, virConnectPtr *ret, HpvmError *err);

/*
 * The message of libvirt's last error in this thread, or @fallback when there
 * is none. Never NULL. libvirt's own text: valid until the next libvirt call
 * of this thread, and every public libvirt call clears it on entry (even
 * virDomainGetName()), so read it before calling libvirt again.
 */
const char *hpvm_virt_last_error(const char *fallback);

/* libvirt's code (virErrorNumber) of the last error in this thread; 0 (VIR_ERR_OK) when none. */
int hpvm_virt_last_code(void);
