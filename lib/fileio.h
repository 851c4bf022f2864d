/* fileio.h: bounded reads and crash-safe atomic replacement of files. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

#define HPVM_XML_MAX (16u << 20) /* 16 MiB: no domain or capabilities XML is larger */

/*
 * Read a whole regular file of at most @max bytes. *ret_buf (NUL-terminated,
 * caller frees) and *ret_len are set only on success.
 * Returns 0, -ENOENT/-EACCES/-EISDIR/-EIO (message names the file),
 * -EFBIG (larger than @max), -ENOMEM.
 */
int hpvm_file_read(const char *path, size_t max, char **ret_buf, size_t *ret_len, HpvmError *err);

/*
 * Replace @path with @len bytes atomically: a temporary file in the same
 * folder, same mode (and owner, where permitted), written whole, then
 * rename()d over @path. A reader (or a crash at any moment) sees either the
 * old or the new content, never a mix. With @durable the data and the folder
 * are fsync()ed too (state files); without, a power loss may lose the new
 * content but never mixes the two.
 * Returns 0 or a negative errno (message names the file and the step).
 */
int hpvm_file_replace(const char *path, const void *data, size_t len, bool durable, HpvmError *err);

/* What a file that hpvm_file_replace_ex() creates is given; an existing file keeps its own. */
typedef struct HpvmFileAttrs {
        unsigned mode;          /* permission bits (07777), applied exactly, whatever the umask */
        long uid, gid;          /* owner, where permitted (root); -1 = the creator's */
} HpvmFileAttrs;

/*
 * hpvm_file_replace(), but a @path that does not exist yet is created with
 * @attrs (hpvm_file_replace() itself creates 0600 files owned by the caller).
 * An existing file keeps its mode, setuid/setgid bits included, and its owner
 * where permitted: the owner is set before the mode, because a chown() clears
 * those bits. Returns as hpvm_file_replace().
 */
int hpvm_file_replace_ex(const char *path, const void *data, size_t len, bool durable,
                         const HpvmFileAttrs *attrs, HpvmError *err);
