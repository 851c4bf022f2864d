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
