/* config.h: HpvmConfig, the one configuration file (hpvm.conf) every hook and tool reads. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpuset.h"
#include "util.h"

/*
 * The file: `key=value` lines, comments, blank lines. A `#` at the start of
 * a line or after a blank (space, tab) starts a comment that runs to the line
 * end (`key=value  # why`); a `#` inside a word is part of it (`a#b`). Blanks
 * around the key and the value are ignored; there is no quoting, so a value
 * cannot hold ` #`. A `\r` right before the line end is ignored too, so a
 * file saved with CRLF line ends reads the same (a `\r` anywhere else is a
 * control byte: no key or value takes one). A NUL byte, a line longer than
 * HPVM_CONFIG_LINE_MAX, an unknown or repeated key, a line without `=` or a
 * bad value refuses the whole file with one line:
 *
 *   <file>:<line>: <key>: '<value>': <what is wrong> (expected <what>)
 *
 * Keys, in the order of the table in config.c, with their defaults:
 *   reserved_cpus                  cpuset, or empty for none   (absent: the consumer's default)
 *   state_dir                      absolute path               /run/hpvm-hooks
 *   sysfs_root                     absolute path               /
 *   ledger_grace                   seconds 0..86400            120
 *   migration_reservation_timeout  seconds 1..86400            600
 *   vf_reservation_timeout         seconds 1..86400            1800
 *   sriov_pfs.<network>            PF names, comma-separated   (none: every PF serves every network)
 *   libvirt_uri                    printable, no blanks        qemu:///system
 *   libvirt_user                   user name, or empty         none
 *   libvirt_password_file          absolute path, or empty     none
 *   unplug_timeout                 seconds 1..3600             30
 *   watch_timeout                  seconds 10..86400           1800
 *   migration_start_timeout        seconds 1..3600             300
 *   state_owner                    <user>:<group>              vdsm:kvm
 */

#define HPVM_CONFIG_DEFAULT "/etc/hpvm-hooks/hpvm.conf"
#define HPVM_CONFIG_ENV "HPVM_CONFIG"
#define HPVM_CONFIG_FILE_MAX (64u << 10)        /* the whole file */
#define HPVM_CONFIG_LINE_MAX 4096u              /* one line, without its line end */
#define HPVM_CONFIG_PATH_MAX 1024u              /* paths leave room for what is joined to them */
#define HPVM_CONFIG_URI_MAX 1024u
#define HPVM_CONFIG_NETWORKS_MAX 1024u          /* sriov_pfs.<network> keys */
#define HPVM_CONFIG_NETWORK_NAME_MAX 255u
#define HPVM_CONFIG_PFS_MAX 64u                 /* PF names in one sriov_pfs key */
#define HPVM_IFNAME_MAX 15u                     /* a netdev name: IFNAMSIZ - 1 */
#define HPVM_CONFIG_OWNER_NAME_MAX 32u          /* a user or group name of state_owner */
#define HPVM_CONFIG_SECONDS_MAX 86400u

/* The PFs one sriov_pfs.<network> key names. */
typedef struct HpvmNetworkPfs {
        char *network;
        size_t npfs;
        char **pfs;             /* npfs netdev names, in the order written */
} HpvmNetworkPfs;

typedef struct HpvmConfig {
        char *path;                     /* the file read (or looked for, when it was missing) */
        bool file_found;                /* false: the file was missing and every value is a default */

        HpvmCpuSet reserved_cpus;       /* meaningful only with reserved_cpus_given */
        bool reserved_cpus_given;       /* false: reserve the default (first core of each node) */
        char *state_dir;
        char *sysfs_root;
        uint64_t ledger_grace;                  /* seconds */
        uint64_t migration_reservation_timeout; /* seconds */
        uint64_t vf_reservation_timeout;        /* seconds */
        size_t nnetworks;
        HpvmNetworkPfs *networks;       /* in the order written */
        char *libvirt_uri;
        char *libvirt_user;             /* NULL: none */
        char *libvirt_password_file;    /* NULL: none */
        uint64_t unplug_timeout;        /* seconds */
        uint64_t watch_timeout;         /* seconds */
        uint64_t migration_start_timeout; /* seconds */
        char *state_user;               /* state_owner, user part */
        char *state_group;              /* state_owner, group part */
} HpvmConfig;

/*
 * Which file to read: @option (a --config FILE the caller took) if not NULL,
 * else $HPVM_CONFIG if set and not empty, else HPVM_CONFIG_DEFAULT.
 * *ret_explicit (NULL allowed) says whether it was named (option or
 * environment): a named file must exist, the default one may be missing.
 * The result is @option, the environment's string or a literal: not freed.
 */
const char *hpvm_config_path(const char *option, bool *ret_explicit);

/*
 * A configuration holding every default (file_found false, path
 * HPVM_CONFIG_DEFAULT). Returns 0 or -ENOMEM; the caller frees *ret.
 */
int hpvm_config_new(HpvmConfig **ret);

/*
 * Read @path. With @must_exist false a missing file (ENOENT) gives the
 * defaults; use that for the default path only, so that a typo in a named
 * file is not silently ignored. *ret (caller frees, hpvm_config_free) is set
 * only on success.
 * Returns 0; -ENOENT, -EACCES, -EISDIR, -EINVAL (not a regular file), -EIO
 * (the file cannot be read); -EFBIG (more than HPVM_CONFIG_FILE_MAX bytes);
 * -EINVAL (a bad line: syntax, unknown or repeated key, NUL byte), -ERANGE
 * (a number out of bounds), -EOVERFLOW, -E2BIG (a line, a list or a name too
 * long); -ENOMEM. @err names the file (and the line, the key, the bad part).
 */
int hpvm_config_load(const char *path, bool must_exist, HpvmConfig **ret, HpvmError *err);

/*
 * Parse @len bytes of configuration text (NUL bytes included: they are
 * refused); @path only names it in messages and in (*ret)->path. Returns as
 * hpvm_config_load() without its file errors; -EINVAL for a NULL @path.
 */
int hpvm_config_parse(const char *path, const char *text, size_t len, HpvmConfig **ret, HpvmError *err);

void hpvm_config_free(HpvmConfig *c);   /* NULL is fine */

static inline void hpvm_config_freep(HpvmConfig **c)
{
        hpvm_config_free(*c);
}
#define _cleanup_config_ __attribute__((cleanup(hpvm_config_freep)))

#define HPVM_CONFIG_PFS_LISTED 1        /* a sriov_pfs.<network> key names the PFs */
#define HPVM_CONFIG_PFS_ANY 0           /* no sriov_pfs key at all: every SR-IOV PF serves */

/*
 * Which PFs serve @network. Returns HPVM_CONFIG_PFS_LISTED and sets *ret_pfs
 * (an array of *ret_n names owned by @c, valid while @c lives) when
 * sriov_pfs.<network> exists; HPVM_CONFIG_PFS_ANY (outputs untouched) when
 * the file has no sriov_pfs key at all; -ENOENT (outputs untouched) when
 * other networks have one but @network has none: no PF serves it;
 * -EINVAL for a NULL @c or @network.
 */
int hpvm_config_network_pfs(const HpvmConfig *c, const char *network, const char *const **ret_pfs,
                            size_t *ret_n);

/* Whether any sriov_pfs.<network> key was given. */
bool hpvm_config_has_network_pfs(const HpvmConfig *c);

/*
 * The uid and gid of state_owner on this host, each -1 when that user or
 * group does not exist (then new state files keep the creator's). Looks the
 * names up in the system's user database (getpwnam_r/getgrnam_r).
 */
void hpvm_config_state_owner(const HpvmConfig *c, long *ret_uid, long *ret_gid);

/*
 * Parse a whole number of seconds in [@min, @max] (digits only, as
 * hpvm_parse_u64()). Returns 0; -EINVAL (empty or not a number), -ERANGE
 * (out of bounds), -EOVERFLOW. On failure *ret is untouched and @err says
 * "'<text>' is not a number of seconds" or "'<text>' is out of range".
 */
int hpvm_parse_seconds(const char *s, size_t len, uint64_t min, uint64_t max, uint64_t *ret, HpvmError *err);

/* Whether @s (@len bytes) is a usable netdev name: 1..15 bytes of [A-Za-z0-9_.:-]. */
bool hpvm_ifname_valid(const char *s, size_t len);
