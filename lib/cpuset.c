/* cpuset.c: HpvmCpuSet, a fixed-size bitmap of ids, and libvirt's "0-7,^3,12" list grammar. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cpuset.h"

#define WORD_BITS 64
#define ALL_ONES (~0ULL)

void hpvm_cpuset_zero(HpvmCpuSet *s)
{
        memset(s, 0, sizeof(*s));
}

void hpvm_cpuset_set(HpvmCpuSet *s, unsigned id)
{
        if (id < HPVM_CPUSET_MAX)
                s->w[id / WORD_BITS] |= 1ULL << (id % WORD_BITS);
}

void hpvm_cpuset_clear(HpvmCpuSet *s, unsigned id)
{
        if (id < HPVM_CPUSET_MAX)
                s->w[id / WORD_BITS] &= ~(1ULL << (id % WORD_BITS));
}

/* Bits first..last (both inside one word) of a word. */
static unsigned long long word_mask(unsigned first, unsigned last)
{
        unsigned long long hi = (last % WORD_BITS == WORD_BITS - 1) ?
                ALL_ONES : (1ULL << (last % WORD_BITS + 1)) - 1;

        return hi & (ALL_ONES << (first % WORD_BITS));
}

void hpvm_cpuset_set_range(HpvmCpuSet *s, unsigned first, unsigned last)
{
        unsigned fw, lw, i;

        if (first >= HPVM_CPUSET_MAX || first > last)
                return;
        if (last >= HPVM_CPUSET_MAX)
                last = HPVM_CPUSET_MAX - 1;

        /* Word at a time: a long range costs 64 words at most, not 4096 bits. */
        fw = first / WORD_BITS;
        lw = last / WORD_BITS;
        if (fw == lw) {
                s->w[fw] |= word_mask(first, last);
                return;
        }
        s->w[fw] |= word_mask(first, WORD_BITS - 1);
        for (i = fw + 1; i < lw; i++)
                s->w[i] = ALL_ONES;
        s->w[lw] |= word_mask(0, last);
}

bool hpvm_cpuset_test(const HpvmCpuSet *s, unsigned id)
{
        if (id >= HPVM_CPUSET_MAX)
                return false;
        return (s->w[id / WORD_BITS] >> (id % WORD_BITS)) & 1;
}

bool hpvm_cpuset_is_empty(const HpvmCpuSet *s)
{
        for (unsigned i = 0; i < HPVM_CPUSET_WORDS; i++)
                if (s->w[i])
                        return false;
        return true;
}

bool hpvm_cpuset_equal(const HpvmCpuSet *a, const HpvmCpuSet *b)
{
        return memcmp(a->w, b->w, sizeof(a->w)) == 0;
}

bool hpvm_cpuset_is_subset(const HpvmCpuSet *sub, const HpvmCpuSet *super)
{
        for (unsigned i = 0; i < HPVM_CPUSET_WORDS; i++)
                if (sub->w[i] & ~super->w[i])
                        return false;
        return true;
}

bool hpvm_cpuset_intersects(const HpvmCpuSet *a, const HpvmCpuSet *b)
{
        for (unsigned i = 0; i < HPVM_CPUSET_WORDS; i++)
                if (a->w[i] & b->w[i])
                        return true;
        return false;
}

unsigned hpvm_cpuset_count(const HpvmCpuSet *s)
{
        unsigned n = 0;

        for (unsigned i = 0; i < HPVM_CPUSET_WORDS; i++)
                n += (unsigned)__builtin_popcountll(s->w[i]);
        return n;
}

void hpvm_cpuset_or(HpvmCpuSet *dst, const HpvmCpuSet *src)
{
        for (unsigned i = 0; i < HPVM_CPUSET_WORDS; i++)
                dst->w[i] |= src->w[i];
}

void hpvm_cpuset_and(HpvmCpuSet *dst, const HpvmCpuSet *src)
{
        for (unsigned i = 0; i < HPVM_CPUSET_WORDS; i++)
                dst->w[i] &= src->w[i];
}

void hpvm_cpuset_andnot(HpvmCpuSet *dst, const HpvmCpuSet *src)
{
        for (unsigned i = 0; i < HPVM_CPUSET_WORDS; i++)
                dst->w[i] &= ~src->w[i];
}

/* First id >= @from whose bit equals @value, or -1. */
static int find_bit(const HpvmCpuSet *s, unsigned from, bool value)
{
        unsigned i;
        unsigned long long word;

        if (from >= HPVM_CPUSET_MAX)
                return -1;

        i = from / WORD_BITS;
        word = (value ? s->w[i] : ~s->w[i]) & (ALL_ONES << (from % WORD_BITS));
        for (;;) {
                if (word)
                        return (int)(i * WORD_BITS + (unsigned)__builtin_ctzll(word));
                if (++i >= HPVM_CPUSET_WORDS)
                        return -1;
                word = value ? s->w[i] : ~s->w[i];
        }
}

int hpvm_cpuset_next(const HpvmCpuSet *s, unsigned from)
{
        return find_bit(s, from, true);
}

int hpvm_cpuset_last(const HpvmCpuSet *s)
{
        for (unsigned i = HPVM_CPUSET_WORDS; i-- > 0;)
                if (s->w[i])
                        return (int)(i * WORD_BITS + WORD_BITS - 1 -
                                     (unsigned)__builtin_clzll(s->w[i]));
        return -1;
}

int hpvm_cpuset_format(const HpvmCpuSet *s, char *buf, size_t size)
{
        size_t len = 0;
        int first;

        if (size > 0)
                buf[0] = '\0';

        for (first = hpvm_cpuset_next(s, 0); first >= 0;) {
                int end = find_bit(s, (unsigned)first, false);   /* one past the run */
                char item[32];
                int n;

                if (end < 0)
                        end = HPVM_CPUSET_MAX;

                if (end - 1 == first)
                        n = snprintf(item, sizeof(item), "%s%d", len ? "," : "", first);
                else
                        n = snprintf(item, sizeof(item), "%s%d-%d", len ? "," : "", first, end - 1);

                if (len + (size_t)n >= size) {
                        /* Leave the longest prefix that fits, as documented. */
                        if (size > len) {
                                memcpy(buf + len, item, size - len - 1);
                                buf[size - 1] = '\0';
                        }
                        return -ENOSPC;
                }
                memcpy(buf + len, item, (size_t)n + 1);
                len += (size_t)n;

                first = hpvm_cpuset_next(s, (unsigned)end);
        }

        if (size == 0)
                return -ENOSPC;
        return (int)len;
}

/* ---------------------------------------------------------------- parsing */

static const char *article(const char *noun)
{
        return noun[0] && strchr("aeiouAEIOU", noun[0]) ? "an" : "a";
}

/*
 * Syntax of one number of an item. @part is the number's text, @item the whole
 * item it came from (quoted too when they differ, so the user sees the context).
 */
static int parse_num(const char *part, size_t plen, const char *item, size_t ilen,
                     const char *noun, uint64_t *ret, HpvmError *err)
{
        char qp[HPVM_QUOTE_MAX], qi[HPVM_QUOTE_MAX];
        int r;

        r = hpvm_parse_u64(part, plen, UINT64_MAX, ret);
        if (r == -EOVERFLOW) {
                hpvm_quote(part, plen, qp, sizeof(qp));
                return hpvm_error_set(err, r, "'%s' is too large to be %s %s number",
                                      qp, article(noun), noun);
        }
        if (r < 0) {
                hpvm_quote(part, plen, qp, sizeof(qp));
                if (plen == ilen)
                        return hpvm_error_set(err, -EINVAL, "'%s' is not %s %s number",
                                              qp, article(noun), noun);
                hpvm_quote(item, ilen, qi, sizeof(qi));
                return hpvm_error_set(err, -EINVAL, "'%s': '%s' is not %s %s number",
                                      qi, qp, article(noun), noun);
        }
        return 0;
}

static int check_id(uint64_t v, unsigned limit, const char *noun, HpvmError *err)
{
        if (v < limit)
                return 0;
        if (limit == 0)
                return hpvm_error_set(err, -ERANGE, "%s %llu is out of range (none is valid)",
                                      noun, (unsigned long long)v);
        return hpvm_error_set(err, -ERANGE, "%s %llu is out of range (0-%u)",
                              noun, (unsigned long long)v, limit - 1);
}

/* Apply one item ("N", "N-M" or "^N") to @set. */
static int parse_item(const char *item, size_t ilen, unsigned limit, const char *noun,
                      HpvmCpuSet *set, HpvmError *err)
{
        char qi[HPVM_QUOTE_MAX];
        const char *dash;
        size_t flen;
        uint64_t first, last;
        int r;

        if (item[0] == '^') {
                if (ilen == 1)
                        return hpvm_error_set(err, -EINVAL, "'^' has no %s number after '^'", noun);
                if (memchr(item + 1, '-', ilen - 1)) {
                        hpvm_quote(item, ilen, qi, sizeof(qi));
                        return hpvm_error_set(err, -EINVAL,
                                              "'%s': '^' excludes one %s, not a range", qi, noun);
                }
                r = parse_num(item + 1, ilen - 1, item, ilen, noun, &first, err);
                if (r < 0)
                        return r;
                r = check_id(first, limit, noun, err);
                if (r < 0)
                        return r;
                hpvm_cpuset_clear(set, (unsigned)first);
                return 0;
        }

        dash = memchr(item, '-', ilen);
        if (!dash) {
                r = parse_num(item, ilen, item, ilen, noun, &first, err);
                if (r < 0)
                        return r;
                r = check_id(first, limit, noun, err);
                if (r < 0)
                        return r;
                hpvm_cpuset_set(set, (unsigned)first);
                return 0;
        }

        if (dash == item) {
                hpvm_quote(item, ilen, qi, sizeof(qi));
                return hpvm_error_set(err, -EINVAL, "'%s' has no %s number before '-'", qi, noun);
        }
        if (dash == item + ilen - 1) {
                hpvm_quote(item, ilen, qi, sizeof(qi));
                return hpvm_error_set(err, -EINVAL, "'%s' has no %s number after '-'", qi, noun);
        }

        /* Syntax of both ends before any range check, so junk is reported as junk. */
        flen = (size_t)(dash - item);
        r = parse_num(item, flen, item, ilen, noun, &first, err);
        if (r < 0)
                return r;
        r = parse_num(dash + 1, ilen - flen - 1, item, ilen, noun, &last, err);
        if (r < 0)
                return r;
        if (first > last) {
                hpvm_quote(item, ilen, qi, sizeof(qi));
                return hpvm_error_set(err, -ERANGE, "'%s' ends before it starts", qi);
        }
        r = check_id(first, limit, noun, err);
        if (r < 0)
                return r;
        r = check_id(last, limit, noun, err);
        if (r < 0)
                return r;

        hpvm_cpuset_set_range(set, (unsigned)first, (unsigned)last);
        return 0;
}

int hpvm_cpuset_parse(const char *s, size_t len, unsigned limit, const char *noun,
                      HpvmCpuSet *ret, HpvmError *err)
{
        char q[HPVM_QUOTE_MAX];
        HpvmCpuSet set;
        const char *p, *end, *prev = NULL;
        size_t prev_len = 0;
        int r;

        if (!noun || !noun[0])
                noun = "CPU";
        if (limit > HPVM_CPUSET_MAX)
                limit = HPVM_CPUSET_MAX;
        if (!s || len == 0)
                return hpvm_error_set(err, -EINVAL, "empty %s list", noun);

        hpvm_cpuset_zero(&set);
        end = s + len;
        for (p = s;; ) {
                const char *comma = memchr(p, ',', (size_t)(end - p));
                size_t ilen = (size_t)((comma ? comma : end) - p);

                if (ilen == 0) {
                        if (!prev)
                                return hpvm_error_set(err, -EINVAL, "list starts with ','");
                        if (!comma)
                                return hpvm_error_set(err, -EINVAL, "list ends with ','");
                        hpvm_quote(prev, prev_len, q, sizeof(q));
                        return hpvm_error_set(err, -EINVAL, "empty item after '%s'", q);
                }

                r = parse_item(p, ilen, limit, noun, &set, err);
                if (r < 0)
                        return r;

                if (!comma)
                        break;
                prev = p;
                prev_len = ilen;
                p = comma + 1;
        }

        if (hpvm_cpuset_is_empty(&set)) {
                hpvm_quote(s, len, q, sizeof(q));
                return hpvm_error_set(err, -EINVAL, "'%s' selects no %s", q, noun);
        }

        *ret = set;
        return 0;
}
