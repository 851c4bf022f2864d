/* test-cpuset.c: HpvmCpuSet bitmap operations, libvirt's list grammar and the canonical format. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpuset.h"

static void fill_junk(HpvmCpuSet *s)
{
        memset(s, 0xa5, sizeof(*s));
}

static bool is_junk(const HpvmCpuSet *s)
{
        HpvmCpuSet j;

        fill_junk(&j);
        return hpvm_cpuset_equal(s, &j);
}

static const char *fmt(const HpvmCpuSet *s)
{
        static char buf[HPVM_CPUSET_STRMAX];

        ck_assert_int_ge(hpvm_cpuset_format(s, buf, sizeof(buf)), 0);
        return buf;
}

/* ---------------------------------------------------------------- parse: accepted */

static const struct {
        const char *in;
        unsigned limit;
        const char *canon;
} good[] = {
        { "0", 4096, "0" },
        { "4095", 4096, "4095" },
        { "0-4095", 4096, "0-4095" },
        { "0-7,^3,12", 4096, "0-2,4-7,12" },
        { "0,2,4", 4096, "0,2,4" },
        { "3,2,1,0", 4096, "0-3" },
        { "1,1,1", 4096, "1" },
        { "0-3,2-5", 4096, "0-5" },
        { "5-5", 4096, "5" },
        { "10-11", 4096, "10-11" },
        { "007", 4096, "7" },
        { "0-0007", 4096, "0-7" },
        { "63-64", 4096, "63-64" },
        { "0-63", 4096, "0-63" },
        { "0-64", 4096, "0-64" },
        { "64-127", 4096, "64-127" },
        { "1-126", 4096, "1-126" },
        { "4032-4095", 4096, "4032-4095" },
        /* '^' applies to what came before it, in order, as libvirt does */
        { "0-3,^3,3", 4096, "0-3" },
        { "^3,0-7", 4096, "0-7" },
        { "0-7,^0,^1,^2,^3,^4,^5,^6", 4096, "7" },
        { "0-7,^0,^0", 4096, "1-7" },
        { "0-4095,^0,^4095", 4096, "1-4094" },
        { "0,^5", 4096, "0" },
        { "0-1023", 1024, "0-1023" },
        { "1023", 1024, "1023" },
        { "0", 1, "0" },
};

START_TEST(test_parse_good)
{
        HpvmError err = { 0 };
        HpvmCpuSet s;
        int r;

        fill_junk(&s);
        r = hpvm_cpuset_parse(good[_i].in, strlen(good[_i].in), good[_i].limit, "CPU", &s, &err);
        ck_assert_msg(r == 0, "'%s': %d %s", good[_i].in, r, err.msg);
        ck_assert_str_eq(fmt(&s), good[_i].canon);
        ck_assert_int_eq(err.code, 0);

        /* The canonical form parses back to the same set. */
        {
                HpvmCpuSet again;
                const char *c = good[_i].canon;

                ck_assert_int_eq(hpvm_cpuset_parse(c, strlen(c), good[_i].limit, "CPU", &again, &err), 0);
                ck_assert(hpvm_cpuset_equal(&s, &again));
        }
}
END_TEST

/* ---------------------------------------------------------------- parse: refused */

static const struct {
        const char *in;
        size_t len;           /* 0: strlen(in) */
        unsigned limit;
        const char *noun;
        int ret;
        const char *msg;      /* NULL: only the code is checked */
} bad[] = {
        { "", 0, 4096, "CPU", -EINVAL, "empty CPU list" },
        /* Linux test_bitmap.c style edge cases */
        { "-0", 0, 4096, "CPU", -EINVAL, "'-0' has no CPU number before '-'" },
        { "0-", 0, 4096, "CPU", -EINVAL, "'0-' has no CPU number after '-'" },
        { "-", 0, 4096, "CPU", -EINVAL, "'-' has no CPU number before '-'" },
        { "10-1", 0, 4096, "CPU", -ERANGE, "'10-1' ends before it starts" },
        { "4095-4094", 0, 4096, "CPU", -ERANGE, NULL },
        { "99999999999999999999", 0, 4096, "CPU", -EOVERFLOW,
          "'99999999999999999999' is too large to be a CPU number" },
        { "18446744073709551616", 0, 4096, "CPU", -EOVERFLOW, NULL },          /* 2^64 */
        { "18446744073709551615", 0, 4096, "CPU", -ERANGE,
          "CPU 18446744073709551615 is out of range (0-4095)" },              /* 2^64 - 1 */
        { "10000000000000000000", 0, 4096, "CPU", -ERANGE, NULL },            /* 20 digits, fits */
        { "0-99999999999999999999", 0, 4096, "CPU", -EOVERFLOW,
          "'99999999999999999999' is too large to be a CPU number" },
        { "99999999999999999999-1", 0, 4096, "CPU", -EOVERFLOW, NULL },
        { "^99999999999999999999", 0, 4096, "CPU", -EOVERFLOW, NULL },
        { "99999999999999999999-x", 0, 4096, "CPU", -EOVERFLOW, NULL },       /* left to right */
        { "4096", 0, 4096, "CPU", -ERANGE, "CPU 4096 is out of range (0-4095)" },
        { "5000", 0, 4096, "CPU", -ERANGE, "CPU 5000 is out of range (0-4095)" },
        { "0-4096", 0, 4096, "CPU", -ERANGE, "CPU 4096 is out of range (0-4095)" },
        { "4096-5000", 0, 4096, "CPU", -ERANGE, "CPU 4096 is out of range (0-4095)" },
        { "5000-4096", 0, 4096, "CPU", -ERANGE, "'5000-4096' ends before it starts" },
        { "^4096", 0, 4096, "CPU", -ERANGE, NULL },
        { "1024", 0, 1024, "NUMA node", -ERANGE, "NUMA node 1024 is out of range (0-1023)" },
        { "0-2000", 0, 1024, "NUMA node", -ERANGE, "NUMA node 2000 is out of range (0-1023)" },
        { "1", 0, 1, "vCPU", -ERANGE, "vCPU 1 is out of range (0-0)" },
        { "0", 0, 0, "CPU", -ERANGE, "CPU 0 is out of range (none is valid)" },
        /* exclusions */
        { "^", 0, 4096, "CPU", -EINVAL, "'^' has no CPU number after '^'" },
        { "^1-3", 0, 4096, "CPU", -EINVAL, "'^1-3': '^' excludes one CPU, not a range" },
        { "^-1", 0, 4096, "CPU", -EINVAL, NULL },
        { "^^1", 0, 4096, "CPU", -EINVAL, "'^^1': '^1' is not a CPU number" },
        { "1^", 0, 4096, "CPU", -EINVAL, "'1^' is not a CPU number" },
        { "0-3^", 0, 4096, "CPU", -EINVAL, "'0-3^': '3^' is not a CPU number" },
        /* selecting nothing */
        { "^0", 0, 4096, "CPU", -EINVAL, "'^0' selects no CPU" },
        { "0,^0", 0, 4096, "CPU", -EINVAL, "'0,^0' selects no CPU" },
        { "0-3,^0,^1,^2,^3", 0, 4096, "CPU", -EINVAL, NULL },
        { "^0,^1", 0, 1024, "NUMA node", -EINVAL, "'^0,^1' selects no NUMA node" },
        /* empty items */
        { "0,,1", 0, 4096, "CPU", -EINVAL, "empty item after '0'" },
        { "0,", 0, 4096, "CPU", -EINVAL, "list ends with ','" },
        { ",0", 0, 4096, "CPU", -EINVAL, "list starts with ','" },
        { ",", 0, 4096, "CPU", -EINVAL, "list starts with ','" },
        { ",,", 0, 4096, "CPU", -EINVAL, NULL },
        /* blanks, signs and other junk */
        { " 0", 0, 4096, "CPU", -EINVAL, "' 0' is not a CPU number" },
        { "0 ", 0, 4096, "CPU", -EINVAL, NULL },
        { "0, 1", 0, 4096, "CPU", -EINVAL, "' 1' is not a CPU number" },
        { "0 - 3", 0, 4096, "CPU", -EINVAL, "'0 - 3': '0 ' is not a CPU number" },
        { "\t0", 0, 4096, "CPU", -EINVAL, "'\\x090' is not a CPU number" },
        { "0\n", 0, 4096, "CPU", -EINVAL, "'0\\x0a' is not a CPU number" },
        { "+1", 0, 4096, "CPU", -EINVAL, NULL },
        { "-1", 0, 4096, "CPU", -EINVAL, "'-1' has no CPU number before '-'" },
        { "1--2", 0, 4096, "CPU", -EINVAL, "'1--2': '-2' is not a CPU number" },
        { "1-2-3", 0, 4096, "CPU", -EINVAL, "'1-2-3': '2-3' is not a CPU number" },
        { "0x1", 0, 4096, "CPU", -EINVAL, NULL },
        { "1e3", 0, 4096, "CPU", -EINVAL, NULL },
        { "1.0", 0, 4096, "CPU", -EINVAL, NULL },
        { "a", 0, 4096, "CPU", -EINVAL, "'a' is not a CPU number" },
        { "9x", 0, 4096, "CPU", -EINVAL, "'9x' is not a CPU number" },
        { "0-7,^3,12x", 0, 4096, "CPU", -EINVAL, "'12x' is not a CPU number" },
        { "0;1", 0, 4096, "CPU", -EINVAL, NULL },
        { "0#1", 0, 4096, "CPU", -EINVAL, NULL },
        { "\xff", 0, 4096, "CPU", -EINVAL, "'\\xff' is not a CPU number" },
        { "\xef\xbc\x91", 0, 4096, "CPU", -EINVAL, "'\\xef\\xbc\\x91' is not a CPU number" },
        { "1\0002", 3, 4096, "CPU", -EINVAL, "'1\\x002' is not a CPU number" },
        { "x", 0, 4096, "I/O thread", -EINVAL, "'x' is not an I/O thread number" },
        { "10-1x", 0, 4096, "CPU", -EINVAL, "'10-1x': '1x' is not a CPU number" },  /* junk beats order */
};

START_TEST(test_parse_bad)
{
        const char *in = bad[_i].in;
        size_t len = bad[_i].len ? bad[_i].len : strlen(in);
        HpvmError err = { 0 };
        HpvmCpuSet s;
        int r;

        fill_junk(&s);
        r = hpvm_cpuset_parse(in, len, bad[_i].limit, bad[_i].noun, &s, &err);
        ck_assert_msg(r == bad[_i].ret, "'%s': got %d (%s), want %d", in, r, err.msg, bad[_i].ret);
        ck_assert_int_eq(err.code, r);
        ck_assert(is_junk(&s));
        ck_assert_uint_gt(strlen(err.msg), 0);
        if (bad[_i].msg)
                ck_assert_str_eq(err.msg, bad[_i].msg);
}
END_TEST

START_TEST(test_parse_exclude_everything)
{
        /* "0-4095,^0,^1,...,^4095": long, legal, and empty in the end. */
        size_t size = 8 + 6 * HPVM_CPUSET_MAX;
        char *s = malloc(size);
        HpvmError err = { 0 };
        HpvmCpuSet set;
        size_t len;

        ck_assert_ptr_nonnull(s);
        len = (size_t)snprintf(s, size, "0-%d", HPVM_CPUSET_MAX - 1);
        for (unsigned i = 0; i < HPVM_CPUSET_MAX; i++)
                len += (size_t)snprintf(s + len, size - len, ",^%u", i);

        fill_junk(&set);
        ck_assert_int_eq(hpvm_cpuset_parse(s, len, HPVM_CPUSET_MAX, "CPU", &set, &err), -EINVAL);
        ck_assert(is_junk(&set));
        ck_assert(strstr(err.msg, "...' selects no CPU") != NULL);
        ck_assert_uint_lt(strlen(err.msg), 2 * HPVM_QUOTE_MAX);

        /* Put the last one back: one CPU left. */
        len += (size_t)snprintf(s + len, size - len, ",4095");
        ck_assert_int_eq(hpvm_cpuset_parse(s, len, HPVM_CPUSET_MAX, "CPU", &set, &err), 0);
        ck_assert_str_eq(fmt(&set), "4095");
        free(s);
}
END_TEST

START_TEST(test_parse_long_junk)
{
        /* 100 KB of junk: the message stays short, one line. */
        size_t len = 100 * 1024;
        char *s = malloc(len);
        HpvmError err = { 0 };
        HpvmCpuSet set;

        ck_assert_ptr_nonnull(s);
        for (size_t i = 0; i < len; i++)
                s[i] = (char)(1 + i % 254);
        ck_assert_int_eq(hpvm_cpuset_parse(s, len, HPVM_CPUSET_MAX, "CPU", &set, &err), -EINVAL);
        ck_assert_uint_lt(strlen(err.msg), HPVM_ERR_MAX);
        for (const char *p = err.msg; *p; p++)
                ck_assert((unsigned char)*p >= 0x20 && *p != 0x7f);
        free(s);
}
END_TEST

START_TEST(test_parse_defaults)
{
        HpvmError err = { 0 };
        HpvmCpuSet s;

        /* No noun: "CPU"; a limit past the bitmap is the bitmap; NULL error buffer. */
        ck_assert_int_eq(hpvm_cpuset_parse("x", 1, 4096, NULL, &s, &err), -EINVAL);
        ck_assert_str_eq(err.msg, "'x' is not a CPU number");
        ck_assert_int_eq(hpvm_cpuset_parse("4096", 4, 100000, "CPU", &s, &err), -ERANGE);
        ck_assert_int_eq(hpvm_cpuset_parse("x", 1, 4096, "CPU", &s, NULL), -EINVAL);
        ck_assert_int_eq(hpvm_cpuset_parse(NULL, 0, 4096, "CPU", &s, NULL), -EINVAL);
        /* Only @len bytes are read. */
        ck_assert_int_eq(hpvm_cpuset_parse("1-3,x", 3, 4096, "CPU", &s, &err), 0);
        ck_assert_str_eq(fmt(&s), "1-3");
}
END_TEST

/* ---------------------------------------------------------------- bitmap operations */

START_TEST(test_bits)
{
        HpvmCpuSet s;

        hpvm_cpuset_zero(&s);
        ck_assert(hpvm_cpuset_is_empty(&s));
        ck_assert_uint_eq(hpvm_cpuset_count(&s), 0);
        ck_assert_int_eq(hpvm_cpuset_next(&s, 0), -1);
        ck_assert_int_eq(hpvm_cpuset_last(&s), -1);
        ck_assert_str_eq(fmt(&s), "");

        hpvm_cpuset_set(&s, 0);
        hpvm_cpuset_set(&s, 63);
        hpvm_cpuset_set(&s, 64);
        hpvm_cpuset_set(&s, 4095);
        hpvm_cpuset_set(&s, 4096);            /* ignored */
        hpvm_cpuset_set(&s, 100000);          /* ignored */
        ck_assert_uint_eq(hpvm_cpuset_count(&s), 4);
        ck_assert(hpvm_cpuset_test(&s, 63));
        ck_assert(!hpvm_cpuset_test(&s, 62));
        ck_assert(!hpvm_cpuset_test(&s, 4096));
        ck_assert_str_eq(fmt(&s), "0,63-64,4095");
        ck_assert_int_eq(hpvm_cpuset_last(&s), 4095);

        ck_assert_int_eq(hpvm_cpuset_next(&s, 0), 0);
        ck_assert_int_eq(hpvm_cpuset_next(&s, 1), 63);
        ck_assert_int_eq(hpvm_cpuset_next(&s, 64), 64);
        ck_assert_int_eq(hpvm_cpuset_next(&s, 65), 4095);
        ck_assert_int_eq(hpvm_cpuset_next(&s, 4096), -1);
        ck_assert_int_eq(hpvm_cpuset_next(&s, 1u << 31), -1);

        hpvm_cpuset_clear(&s, 4095);
        hpvm_cpuset_clear(&s, 4096);          /* ignored */
        ck_assert_int_eq(hpvm_cpuset_last(&s), 64);
        hpvm_cpuset_clear(&s, 0);
        ck_assert_str_eq(fmt(&s), "63-64");
}
END_TEST

static const struct {
        unsigned first, last;
        const char *canon;
} ranges[] = {
        { 0, 0, "0" },
        { 0, 63, "0-63" },
        { 0, 64, "0-64" },
        { 1, 62, "1-62" },
        { 63, 64, "63-64" },
        { 60, 200, "60-200" },
        { 64, 127, "64-127" },
        { 0, 4095, "0-4095" },
        { 4000, 5000, "4000-4095" },          /* clamped */
        { 4095, 99999, "4095" },
        { 4096, 5000, "" },                   /* nothing */
        { 10, 9, "" },                        /* backwards: nothing */
};

START_TEST(test_set_range)
{
        HpvmCpuSet s, bits;

        hpvm_cpuset_zero(&s);
        hpvm_cpuset_set_range(&s, ranges[_i].first, ranges[_i].last);
        ck_assert_str_eq(fmt(&s), ranges[_i].canon);

        /* Same as one bit at a time. */
        hpvm_cpuset_zero(&bits);
        for (unsigned i = ranges[_i].first; i <= ranges[_i].last && i < HPVM_CPUSET_MAX; i++)
                hpvm_cpuset_set(&bits, i);
        ck_assert(hpvm_cpuset_equal(&s, &bits));
}
END_TEST

static HpvmCpuSet set_of(const char *list)
{
        HpvmCpuSet s;
        HpvmError err = { 0 };

        if (!list[0]) {
                hpvm_cpuset_zero(&s);
                return s;
        }
        ck_assert_msg(hpvm_cpuset_parse(list, strlen(list), HPVM_CPUSET_MAX, "CPU", &s, &err) == 0,
                      "%s", err.msg);
        return s;
}

static const struct {
        const char *a, *b;
        const char *or_, *and_, *andnot;
        bool subset, intersects, equal;
} setops[] = {
        { "0-3", "2-5", "0-5", "2-3", "0-1", false, true, false },
        { "0-3", "0-3", "0-3", "0-3", "", true, true, true },
        { "1", "0-4095", "0-4095", "1", "", true, true, false },
        { "0-4095", "1", "0-4095", "1", "0,2-4095", false, true, false },
        { "0,64,128", "63,65", "0,63-65,128", "", "0,64,128", false, false, false },
        { "", "5", "5", "", "", true, false, false },
        { "", "", "", "", "", true, false, true },
};

START_TEST(test_setops)
{
        HpvmCpuSet a = set_of(setops[_i].a), b = set_of(setops[_i].b), t;

        t = a;
        hpvm_cpuset_or(&t, &b);
        ck_assert_str_eq(fmt(&t), setops[_i].or_);
        t = a;
        hpvm_cpuset_and(&t, &b);
        ck_assert_str_eq(fmt(&t), setops[_i].and_);
        t = a;
        hpvm_cpuset_andnot(&t, &b);
        ck_assert_str_eq(fmt(&t), setops[_i].andnot);
        ck_assert(hpvm_cpuset_is_subset(&a, &b) == setops[_i].subset);
        ck_assert(hpvm_cpuset_intersects(&a, &b) == setops[_i].intersects);
        ck_assert(hpvm_cpuset_equal(&a, &b) == setops[_i].equal);
}
END_TEST

/* ---------------------------------------------------------------- format */

START_TEST(test_format_worst_case)
{
        /* "0-1,3-4,6-7,...": within a few bytes of the longest canonical text; it must fit STRMAX. */
        HpvmCpuSet s;
        char *buf = malloc(HPVM_CPUSET_STRMAX);
        int n;

        ck_assert_ptr_nonnull(buf);
        hpvm_cpuset_zero(&s);
        for (unsigned i = 0; i + 1 < HPVM_CPUSET_MAX; i += 3)
                hpvm_cpuset_set_range(&s, i, i + 1);
        n = hpvm_cpuset_format(&s, buf, HPVM_CPUSET_STRMAX);
        ck_assert_int_eq(n, 12908);
        ck_assert_int_lt(n, HPVM_CPUSET_STRMAX);
        ck_assert(strncmp(buf, "0-1,3-4,6-7,", 12) == 0);
        ck_assert_str_eq(buf + n - 9, "4092-4093");

        /* Every other id. */
        hpvm_cpuset_zero(&s);
        for (unsigned i = 0; i < HPVM_CPUSET_MAX; i += 2)
                hpvm_cpuset_set(&s, i);
        n = hpvm_cpuset_format(&s, buf, HPVM_CPUSET_STRMAX);
        ck_assert_int_eq(n, 9684);
        free(buf);
}
END_TEST

START_TEST(test_format_nospace)
{
        HpvmCpuSet s = set_of("0-3,8,10-11");
        char buf[32];

        ck_assert_int_eq(hpvm_cpuset_format(&s, buf, sizeof(buf)), 11);
        ck_assert_str_eq(buf, "0-3,8,10-11");
        ck_assert_int_eq(hpvm_cpuset_format(&s, buf, 12), 11);        /* exactly fits */
        ck_assert_int_eq(hpvm_cpuset_format(&s, buf, 11), -ENOSPC);
        ck_assert_str_eq(buf, "0-3,8,10-1");                          /* truncated prefix */
        ck_assert_int_eq(hpvm_cpuset_format(&s, buf, 5), -ENOSPC);
        ck_assert_str_eq(buf, "0-3,");
        ck_assert_int_eq(hpvm_cpuset_format(&s, buf, 1), -ENOSPC);
        ck_assert_str_eq(buf, "");
        ck_assert_int_eq(hpvm_cpuset_format(&s, NULL, 0), -ENOSPC);

        hpvm_cpuset_zero(&s);
        ck_assert_int_eq(hpvm_cpuset_format(&s, buf, 1), 0);
        ck_assert_str_eq(buf, "");
}
END_TEST

/* Deterministic pseudo-random sets: format, parse back, compare. */
static uint64_t rng_state;

static uint64_t rng(void)
{
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        return rng_state;
}

START_TEST(test_round_trip)
{
        HpvmError err = { 0 };
        HpvmCpuSet s, back;
        const char *text;
        unsigned density = 1 + (unsigned)_i % 8;      /* 1/density of the ids */

        rng_state = UINT64_C(0x9e3779b97f4a7c15) * (uint64_t)(_i + 1);
        hpvm_cpuset_zero(&s);
        for (unsigned i = 0; i < HPVM_CPUSET_MAX; i++)
                if (rng() % density == 0)
                        hpvm_cpuset_set(&s, i);
        if (hpvm_cpuset_is_empty(&s))
                hpvm_cpuset_set(&s, 0);

        text = fmt(&s);
        ck_assert_int_eq(hpvm_cpuset_parse(text, strlen(text), HPVM_CPUSET_MAX, "CPU", &back, &err), 0);
        ck_assert(hpvm_cpuset_equal(&s, &back));

        /* next() walks exactly the set bits; count() agrees. */
        {
                unsigned n = 0;
                int prev = -1;

                for (int i = hpvm_cpuset_next(&s, 0); i >= 0; i = hpvm_cpuset_next(&s, (unsigned)i + 1)) {
                        ck_assert(hpvm_cpuset_test(&s, (unsigned)i));
                        ck_assert_int_gt(i, prev);
                        prev = i;
                        n++;
                }
                ck_assert_uint_eq(n, hpvm_cpuset_count(&s));
                ck_assert_int_eq(prev, hpvm_cpuset_last(&s));
        }
}
END_TEST

static Suite *cpuset_suite(void)
{
        Suite *s = suite_create("cpuset");
        TCase *tc;

        tc = tcase_create("parse");
        tcase_add_loop_test(tc, test_parse_good, 0, (int)HPVM_ARRAY_SIZE(good));
        tcase_add_loop_test(tc, test_parse_bad, 0, (int)HPVM_ARRAY_SIZE(bad));
        tcase_add_test(tc, test_parse_exclude_everything);
        tcase_add_test(tc, test_parse_long_junk);
        tcase_add_test(tc, test_parse_defaults);
        suite_add_tcase(s, tc);

        tc = tcase_create("bits");
        tcase_add_test(tc, test_bits);
        tcase_add_loop_test(tc, test_set_range, 0, (int)HPVM_ARRAY_SIZE(ranges));
        tcase_add_loop_test(tc, test_setops, 0, (int)HPVM_ARRAY_SIZE(setops));
        suite_add_tcase(s, tc);

        tc = tcase_create("format");
        tcase_add_test(tc, test_format_worst_case);
        tcase_add_test(tc, test_format_nospace);
        tcase_add_loop_test(tc, test_round_trip, 0, 32);
        suite_add_tcase(s, tc);

        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(cpuset_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
