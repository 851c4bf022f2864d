/* util.h: error buffers, warnings, checked numbers and message quoting shared by every module. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#define HPVM_ERR_MAX 512
#define HPVM_WARN_MAX 16
#define HPVM_QUOTE_MAX 96   /* room for a quoted fragment inside a message */

/* Library code never prints: it fills one of these and the hook prints it once. */
typedef struct HpvmError {
        int code;                 /* negative errno of the failure, 0 while none */
        char msg[HPVM_ERR_MAX];   /* one line, no newline */
} HpvmError;

/* Non-fatal findings (exit 0) the hook prints after its work. */
typedef struct HpvmWarnings {
        size_t n;
        char msg[HPVM_WARN_MAX][HPVM_ERR_MAX];
} HpvmWarnings;

/*
 * Format a message into @err (NULL @err allowed) and return @code (a negative
 * errno) so callers can write `return hpvm_error_set(err, -EINVAL, ...)`.
 * Newlines and control characters in the result are replaced by spaces.
 */
int hpvm_error_set(HpvmError *err, int code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* Put "prefix" before the current message; returns err->code (-EINVAL for a NULL @err). */
int hpvm_error_prefix(HpvmError *err, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

/* Add text after the current message (truncating at HPVM_ERR_MAX). */
void hpvm_error_append(HpvmError *err, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

/* Add one warning; silently drops past HPVM_WARN_MAX (the last one then says so). */
void hpvm_warn(HpvmWarnings *w, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

/*
 * Render @len bytes of untrusted text for a message: printable ASCII is kept,
 * anything else becomes \xNN, and text longer than fits in @size is cut with
 * "...". Always NUL-terminates @buf (size >= 8). Returns @buf.
 */
const char *hpvm_quote(const char *s, size_t len, char *buf, size_t size);

/*
 * Parse @len bytes of decimal digits into *ret. Only [0-9]: no sign, no
 * blanks, no prefix, no trailing junk. Leading zeros are fine.
 * Returns 0; -EINVAL (empty or not a digit), -EOVERFLOW (does not fit in
 * 64 bits), -ERANGE (fits but > @max). *ret is untouched on failure.
 */
int hpvm_parse_u64(const char *s, size_t len, uint64_t max, uint64_t *ret);

/*
 * Parse a boolean property value: true|false|yes|no|1|0, any case.
 * Returns 0 or -EINVAL; *ret untouched on failure.
 */
int hpvm_parse_bool(const char *s, size_t len, bool *ret);

/*
 * Parse a memory amount: digits with an optional one-letter binary unit
 * K, M, G or T (either case); no unit means KiB. Result in KiB.
 * Returns 0; -EINVAL, -EOVERFLOW (past 2^64 KiB), -ERANGE (0 or > @max_kib).
 */
int hpvm_parse_size_kib(const char *s, size_t len, uint64_t max_kib, uint64_t *ret_kib);

/* Human form of a KiB amount for messages: "512 MiB", "1.5 GiB", "3 KiB" (one decimal, rounded down). */
const char *hpvm_format_kib(uint64_t kib, char *buf, size_t size);

#define HPVM_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static inline void hpvm_freep(void *p)
{
        free(*(void **)p);
}
#define _cleanup_free_ __attribute__((cleanup(hpvm_freep)))

/* The id of a user or group by name (the system's name services), or -1 when there is none. */
long hpvm_user_id(const char *name);
long hpvm_group_id(const char *name);
