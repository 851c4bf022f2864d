/* fuzz-cpuset.c: libFuzzer target for hpvm_cpuset_parse/format: parse(format(x)) == x, canonical text, a reference parser agrees. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpuset.h"
#include "fuzzcheck.h"

/*
 * Input: byte 0 picks the mode, the rest is the payload.
 *   bit 0 set:   the payload is a bitmap (up to 512 bytes = 4096 ids): format it,
 *                parse the text back, expect the same set.
 *   bit 0 clear: the payload is cpuset text, parsed with the id limit picked by
 *                bits 1-3; a success must round-trip through format, a failure
 *                must leave *ret alone and explain itself on one line.
 * In both modes bits 4-7 pick a buffer size for the -ENOSPC (truncation) check.
 */


static const unsigned limits[8] = { 0, 1, 2, 63, 64, 1024, HPVM_CPUSET_MAX, HPVM_CPUSET_MAX + 1000 };
static const size_t small_sizes[16] = { 0, 1, 2, 3, 4, 5, 7, 8, 9, 16, 31, 32, 64, 100, 1000, 4096 };

/* The whole user-facing message: one non-empty printable line that fits the buffer. */
static void check_message(const HpvmError *err, int r)
{
        size_t len = strnlen(err->msg, sizeof(err->msg));

        CHECK(len > 0 && len < sizeof(err->msg), "message empty or unterminated (r=%d)", r);
        CHECK(err->code == r, "err.code %d but return %d", err->code, r);
        for (size_t i = 0; i < len; i++)
                CHECK((unsigned char)err->msg[i] >= 0x20 && (unsigned char)err->msg[i] < 0x7f,
                      "byte 0x%02x at %zu in message '%s'", (unsigned char)err->msg[i], i, err->msg);
}

/*
 * An independent, deliberately naive reading of the grammar: accept/reject and
 * the resulting set must match the library's. Returns 0 or -1.
 */
static int ref_number(const char *s, size_t len, uint64_t *ret)
{
        uint64_t v = 0;

        if (len == 0)
                return -1;
        for (size_t i = 0; i < len; i++) {
                uint64_t d = (uint64_t)(s[i] - '0');

                if (s[i] < '0' || s[i] > '9' || v > UINT64_MAX / 10 || v * 10 > UINT64_MAX - d)
                        return -1;
                v = v * 10 + d;
        }
        *ret = v;
        return 0;
}

static int ref_parse(const char *s, size_t len, unsigned limit, unsigned char *bits)
{
        size_t start = 0, any = 0;

        if (limit > HPVM_CPUSET_MAX)
                limit = HPVM_CPUSET_MAX;
        memset(bits, 0, HPVM_CPUSET_MAX);
        if (len == 0)
                return -1;
        for (size_t i = 0; i <= len; i++) {
                const char *it = s + start;
                size_t n = i - start;
                const char *dash;
                uint64_t a, b;

                if (i < len && s[i] != ',')
                        continue;
                start = i + 1;
                if (n == 0)
                        return -1;
                if (it[0] == '^') {
                        if (ref_number(it + 1, n - 1, &a) < 0 || a >= limit)
                                return -1;
                        bits[a] = 0;
                        continue;
                }
                dash = memchr(it, '-', n);
                if (!dash) {
                        if (ref_number(it, n, &a) < 0 || a >= limit)
                                return -1;
                        bits[a] = 1;
                        continue;
                }
                if (ref_number(it, (size_t)(dash - it), &a) < 0 ||
                    ref_number(dash + 1, n - (size_t)(dash - it) - 1, &b) < 0 || a > b || b >= limit)
                        return -1;
                for (uint64_t x = a; x <= b; x++)
                        bits[x] = 1;
        }
        for (unsigned i = 0; i < HPVM_CPUSET_MAX; i++)
                any |= bits[i];
        return any ? 0 : -1;
}

/* Format into a small buffer: -ENOSPC with the longest fitting prefix, or the whole text. */
static void check_truncation(const HpvmCpuSet *set, const char *full, size_t flen, size_t size)
{
        char buf[4096 + 1];
        int r;

        memset(buf, 'Z', sizeof(buf));
        r = hpvm_cpuset_format(set, size ? buf : NULL, size);
        if (size > flen) {
                CHECK(r == (int)flen && !strcmp(buf, full), "size %zu: got %d '%s', want '%s'", size, r, buf, full);
                return;
        }
        CHECK(r == -ENOSPC, "size %zu, text of %zu bytes: got %d, want -ENOSPC", size, flen, r);
        if (size == 0)
                return;
        CHECK(strlen(buf) == size - 1 && !memcmp(buf, full, size - 1),
              "size %zu: truncated text '%s' is not the prefix of '%s'", size, buf, full);
        CHECK(buf[size] == 'Z', "size %zu: wrote past the buffer", size);
}

/* format -> parse -> same set; format of that -> same text. */
static void round_trip(const HpvmCpuSet *set, size_t small)
{
        static char text[HPVM_CPUSET_STRMAX], again[HPVM_CPUSET_STRMAX];
        HpvmCpuSet back;
        HpvmError err = { 0 };
        int len, r;

        len = hpvm_cpuset_format(set, text, sizeof(text));
        CHECK(len >= 0 && (size_t)len == strlen(text), "format returned %d for '%s'", len, text);
        check_truncation(set, text, (size_t)len, small);
        if (hpvm_cpuset_is_empty(set)) {
                CHECK(len == 0, "empty set formats as '%s'", text);
                r = hpvm_cpuset_parse(text, 0, HPVM_CPUSET_MAX, "CPU", &back, &err);
                CHECK(r == -EINVAL, "empty text parsed: %d", r);
                return;
        }
        r = hpvm_cpuset_parse(text, (size_t)len, HPVM_CPUSET_MAX, "CPU", &back, &err);
        CHECK(r == 0, "canonical text '%s' refused: %s", text, err.msg);
        CHECK(err.code == 0 && err.msg[0] == '\0', "success with a message: %s", err.msg);
        CHECK(hpvm_cpuset_equal(&back, set), "'%s' parses to a different set", text);
        CHECK(hpvm_cpuset_count(&back) == hpvm_cpuset_count(set), "count differs for '%s'", text);
        r = hpvm_cpuset_format(&back, again, sizeof(again));
        CHECK(r == len && !strcmp(text, again), "not canonical: '%s' then '%s'", text, again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static unsigned char ref[HPVM_CPUSET_MAX];
        HpvmCpuSet set, sentinel;
        HpvmError err = { 0 };
        unsigned limit;
        size_t small;
        int r, rr;

        if (size < 1)
                return 0;
        small = small_sizes[data[0] >> 4];

        if (data[0] & 1) {
                hpvm_cpuset_zero(&set);
                for (size_t i = 1; i < size && i - 1 < HPVM_CPUSET_MAX / 8; i++)
                        for (unsigned b = 0; b < 8; b++)
                                if (data[i] >> b & 1)
                                        hpvm_cpuset_set(&set, (unsigned)(i - 1) * 8 + b);
                round_trip(&set, small);
                return 0;
        }

        limit = limits[(data[0] >> 1) & 7];
        memset(&sentinel, 0xa5, sizeof(sentinel));
        set = sentinel;
        r = hpvm_cpuset_parse((const char *)data + 1, size - 1, limit, "CPU", &set, &err);
        rr = ref_parse((const char *)data + 1, size - 1, limit, ref);
        if (r < 0) {
                CHECK(r == -EINVAL || r == -ERANGE || r == -EOVERFLOW, "unexpected error %d", r);
                check_message(&err, r);
                CHECK(!memcmp(&set, &sentinel, sizeof(set)), "*ret changed on failure (%s)", err.msg);
                CHECK(rr < 0, "refused what the reference parser accepts: %s", err.msg);
                return 0;
        }
        CHECK(r == 0, "unexpected return %d", r);
        CHECK(err.code == 0 && err.msg[0] == '\0', "success with a message: %s", err.msg);
        CHECK(rr == 0, "accepted what the reference parser refuses");
        for (unsigned i = 0; i < HPVM_CPUSET_MAX; i++)
                CHECK(hpvm_cpuset_test(&set, i) == (ref[i] != 0), "id %u differs from the reference", i);
        CHECK(hpvm_cpuset_last(&set) < (int)(limit < HPVM_CPUSET_MAX ? limit : HPVM_CPUSET_MAX),
              "id %d at or past limit %u", hpvm_cpuset_last(&set), limit);
        round_trip(&set, small);
        return 0;
}
