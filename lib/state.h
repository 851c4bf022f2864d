/* state.h: HpvmState, one locked, crash-safe file of records per kind of host state (CPU ledger, VF ledger, ...). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "cpuset.h"
#include "util.h"

/*
 * A state file <dir>/<name> holds records, one per line, after a header:
 *
 *   hpvm-state 1 <name>
 *   <type> <id> <key>=<value> <key>=<value> ...
 *
 * <name>, <type>, <id> and every <key> are 1..64 bytes of [A-Za-z0-9_.:-]
 * (a name also not starting with '.'); a value is any text, written with
 * every byte outside 0x21..0x7e and every '%' as %XX (so "a b%" is "a%20b%25").
 * Fields are separated by one space; every line, the last included, ends in
 * '\n'. Records keep their order: a new one goes last, a commit writes them
 * in order, fields in the order they were first set.
 *
 * Every reader and writer holds an exclusive flock() on <dir>/<name>.lock
 * from hpvm_state_open() to hpvm_state_close(): the data file itself is
 * replaced by rename() at each commit, so it cannot carry the lock. Hooks
 * have no timeout, so the wait for the lock is bounded. A commit writes the
 * whole file through hpvm_file_replace_ex(durable): a SIGKILL or a power loss
 * at any moment leaves the old or the new file, never a mix; a temporary file
 * a killed writer left behind (.<name>.hpvm-XXXXXX) is removed by the next
 * hpvm_state_open(), which holds the lock, so no writer can still own it.
 *
 * A file that does not parse is never reset silently: the open fails with
 * -EBADMSG and one line naming the file and the line (callers add how to
 * repair it, or set HpvmStateOpts.repair_hint); a repair tool opens with
 * reset_damaged and rebuilds the records.
 *
 * The lock is per open: two hpvm_state_open() of the same file exclude each
 * other even in one process. A child forked while a state is open shares its
 * lock: close it first (the lock file is O_CLOEXEC, so exec() drops it).
 */

#define HPVM_STATE_FILE_MAX (16u << 20)         /* bytes of a data file */
#define HPVM_STATE_RECORDS_MAX 65536u
#define HPVM_STATE_LINE_MAX (64u << 10)         /* bytes of one record's line, without its '\n' */
#define HPVM_STATE_FIELDS_MAX 256u              /* key=value fields of one record */
#define HPVM_STATE_TOKEN_MAX 64u                /* a name, type, id or key */
#define HPVM_STATE_WAIT_DEFAULT_MS 10000u
#define HPVM_STATE_FILE_MODE 0664u              /* new data and lock files */
#define HPVM_STATE_DIR_MODE 0755u               /* a new folder */

typedef struct HpvmStateOpts {
        const char *dir;        /* the folder, e.g. HpvmConfig.state_dir; its parent must exist */
        unsigned wait_ms;       /* how long to wait for the lock; 0 = HPVM_STATE_WAIT_DEFAULT_MS */
        long uid, gid;          /* owner given to a new folder and new files when running as root; -1 = leave */
        const char *user, *group; /* the same by name, for uid/gid of -1 (NULL: leave): looked up only when
                                   * something is created as root, since a name service can take a millisecond */
        const char *repair_hint; /* NULL, or text added to a damaged-file message: "; <hint>" */
        bool reset_damaged;     /* open a damaged file empty instead of failing (repair tools) */
} HpvmStateOpts;

typedef struct HpvmState HpvmState;
typedef struct HpvmRecord HpvmRecord;

/*
 * Open the state file @name in @o->dir: create the folder (mode 0755; its
 * parent must exist) and the lock file (mode 0664) when missing, giving them
 * @o->uid/@o->gid when running as root; take the lock, waiting at most
 * @o->wait_ms; remove temporary files killed writers left; read and parse the
 * data file (missing: no records). *ret (caller closes with
 * hpvm_state_close(), which releases the lock) is set only on success.
 * Returns 0;
 *   -EINVAL     a bad @name or @o->dir; the lock or data file is not a
 *               regular file (a FIFO, a folder, a device)
 *   -ENOTDIR    @o->dir exists but is not a folder
 *   -ELOOP      @o->dir, the lock file or the data file is a symlink
 *   -ETIMEDOUT  the lock stayed taken for @o->wait_ms (the message names the
 *               holder's pid when /proc/locks tells)
 *   -EBADMSG    the data file does not parse (damaged); -EFBIG it is larger
 *               than HPVM_STATE_FILE_MAX (both: not with reset_damaged)
 *   -EACCES, -ENOENT, -EIO, ... from the system (creating, opening, locking, reading)
 *   -ENOMEM
 * Every message names the file.
 */
int hpvm_state_open(const HpvmStateOpts *o, const char *name, HpvmState **ret, HpvmError *err);

/* hpvm_state_open() with reset_damaged set: a damaged or oversized data file opens empty (see hpvm_state_damage()). */
int hpvm_state_open_reset(const HpvmStateOpts *o, const char *name, HpvmState **ret, HpvmError *err);

/*
 * Write the records to the data file if anything changed since the open or
 * the last commit (a reset damaged file counts as changed): the whole file,
 * through a temporary file, fsync() and rename(), then fsync() of the folder.
 * A new data file gets mode 0664 and, as root, the owner from the options; an
 * existing one keeps its mode and owner. The lock stays held.
 * Returns 0; -EFBIG (the file would exceed HPVM_STATE_FILE_MAX: nothing is
 * written); or what hpvm_file_replace_ex() returns (the message names the
 * file). On failure the changes stay pending.
 */
int hpvm_state_commit(HpvmState *s, HpvmError *err);

/* Release the lock and free @s; changes not committed are dropped. NULL is fine. */
void hpvm_state_close(HpvmState *s);

static inline void hpvm_state_closep(HpvmState **s)
{
        hpvm_state_close(*s);
}
#define _cleanup_state_ __attribute__((cleanup(hpvm_state_closep)))

const char *hpvm_state_path(const HpvmState *s);        /* <dir>/<name> */
bool hpvm_state_changed(const HpvmState *s);            /* a commit would write */
/* Why the data file was reset on a reset_damaged open (the message an open would have failed with), or NULL. */
const char *hpvm_state_damage(const HpvmState *s);

size_t hpvm_state_count(const HpvmState *s);
/* The @i-th record (0-based, file order), or NULL past the end. Owned by @s. */
HpvmRecord *hpvm_state_at(const HpvmState *s, size_t i);
/* The record of @type and @id, or NULL. Owned by @s. */
HpvmRecord *hpvm_state_find(const HpvmState *s, const char *type, const char *id);
/*
 * The record of @type and @id, created (last, no fields) when missing.
 * *ret (NULL allowed; owned by @s) is set on success.
 * Returns 1 (created), 0 (it existed); -EINVAL (@type or @id not a token),
 * -E2BIG (HPVM_STATE_RECORDS_MAX records already), -ENOMEM.
 */
int hpvm_state_put(HpvmState *s, const char *type, const char *id, HpvmRecord **ret);
/*
 * Remove the record of @type and @id (pointers to it become invalid; later
 * records move down by one index). Returns 0 or -ENOENT.
 */
int hpvm_state_remove(HpvmState *s, const char *type, const char *id);
/* Remove every record. */
void hpvm_state_clear(HpvmState *s);

const char *hpvm_record_type(const HpvmRecord *r);
const char *hpvm_record_id(const HpvmRecord *r);
size_t hpvm_record_nfields(const HpvmRecord *r);
/* The @i-th field (order of first set); returns false past the end. Pointers owned by the record. */
bool hpvm_record_field_at(const HpvmRecord *r, size_t i, const char **ret_key, const char **ret_value);
/* The value of @key, or NULL. Owned by the record, valid until the field changes. */
const char *hpvm_record_get(const HpvmRecord *r, const char *key);
/*
 * Set @key to @value (any C string, "" included); a NULL @value removes the
 * field. Setting the value it already has changes nothing.
 * Returns 0; -EINVAL (@key not a token), -E2BIG (more than
 * HPVM_STATE_FIELDS_MAX fields, or the record's line would pass
 * HPVM_STATE_LINE_MAX), -ENOMEM. The record is unchanged on failure.
 */
int hpvm_record_set(HpvmRecord *r, const char *key, const char *value);

/*
 * Typed fields. The getters return 0; -ENOENT (no such field); -EINVAL,
 * -ERANGE, -EOVERFLOW (the value does not parse or is out of bounds); @err
 * names the file, the record and the field. *ret is untouched on failure.
 * Setters return as hpvm_record_set().
 */
int hpvm_record_get_u64(const HpvmRecord *r, const char *key, uint64_t max, uint64_t *ret, HpvmError *err);
int hpvm_record_set_u64(HpvmRecord *r, const char *key, uint64_t value);
/* A cpuset in canonical form; "" is the empty set. */
int hpvm_record_get_cpuset(const HpvmRecord *r, const char *key, HpvmCpuSet *ret, HpvmError *err);
int hpvm_record_set_cpuset(HpvmRecord *r, const char *key, const HpvmCpuSet *set);
/* Seconds since the epoch (wall clock, like time()). */
int hpvm_record_get_time(const HpvmRecord *r, const char *key, time_t *ret, HpvmError *err);
int hpvm_record_set_time(HpvmRecord *r, const char *key, time_t t);

/* Whether @s (NUL-terminated) is a token: 1..64 bytes of [A-Za-z0-9_.:-]. */
bool hpvm_state_token_valid(const char *s);
