/* test-util.c: checked numbers, booleans, sizes, quoting, error buffers and warnings. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define SENTINEL UINT64_C(0xdeadbeefcafef00d)

/* A message is one printable line: no control byte may slip through. */
static void assert_one_line(const char *s, size_t size)
{
        size_t len = strnlen(s, size);

        ck_assert_uint_lt(len, size);
        for (size_t i = 0; i < len; i++)
                ck_assert_msg((unsigned char)s[i] >= 0x20 && s[i] != 0x7f,
                              "control byte 0x%02x at %zu in '%s'", (unsigned char)s[i], i, s);
}

/* ---------------------------------------------------------------- hpvm_parse_u64 */

static const struct {
        const char *s;
        size_t len;           /* 0: strlen(s) */
        uint64_t max;
        int ret;
        uint64_t value;
} u64_cases[] = {
        { "0", 0, UINT64_MAX, 0, 0 },
        { "000", 0, UINT64_MAX, 0, 0 },
        { "7", 0, UINT64_MAX, 0, 7 },
        { "007", 0, UINT64_MAX, 0, 7 },
        { "4095", 0, 4095, 0, 4095 },
        { "4096", 0, 4095, -ERANGE, 0 },
        { "18446744073709551615", 0, UINT64_MAX, 0, UINT64_MAX },
        { "18446744073709551615", 0, UINT64_MAX - 1, -ERANGE, 0 },
        { "18446744073709551616", 0, UINT64_MAX, -EOVERFLOW, 0 },
        { "18446744073709551620", 0, UINT64_MAX, -EOVERFLOW, 0 },
        { "99999999999999999999", 0, UINT64_MAX, -EOVERFLOW, 0 },      /* 20 digits */
        { "100000000000000000000", 0, UINT64_MAX, -EOVERFLOW, 0 },     /* 21 digits */
        { "10000000000000000000", 0, 4095, -ERANGE, 0 },               /* 20 digits, fits */
        { "0000000000000000000000000000001", 0, UINT64_MAX, 0, 1 },    /* zeros are not overflow */
        { "", 0, UINT64_MAX, -EINVAL, 0 },
        { "-1", 0, UINT64_MAX, -EINVAL, 0 },
        { "-0", 0, UINT64_MAX, -EINVAL, 0 },
        { "+1", 0, UINT64_MAX, -EINVAL, 0 },
        { " 1", 0, UINT64_MAX, -EINVAL, 0 },
        { "1 ", 0, UINT64_MAX, -EINVAL, 0 },
        { "1\n", 0, UINT64_MAX, -EINVAL, 0 },
        { "\t1", 0, UINT64_MAX, -EINVAL, 0 },
        { "0x10", 0, UINT64_MAX, -EINVAL, 0 },
        { "1e3", 0, UINT64_MAX, -EINVAL, 0 },
        { "1.0", 0, UINT64_MAX, -EINVAL, 0 },
        { "1,2", 0, UINT64_MAX, -EINVAL, 0 },
        { "\xef\xbc\x91", 0, UINT64_MAX, -EINVAL, 0 },                 /* fullwidth 1 */
        { "\xff", 0, UINT64_MAX, -EINVAL, 0 },
        { "99999999999999999999x", 0, UINT64_MAX, -EINVAL, 0 },       /* junk beats size */
        { "1\0002", 3, UINT64_MAX, -EINVAL, 0 },                       /* NUL inside */
        { "123", 2, UINT64_MAX, 0, 12 },                                /* only @len bytes */
        { "12x", 2, UINT64_MAX, 0, 12 },
};

START_TEST(test_parse_u64)
{
        const char *s = u64_cases[_i].s;
        size_t len = u64_cases[_i].len ? u64_cases[_i].len : strlen(s);
        uint64_t v = SENTINEL;
        int r;

        r = hpvm_parse_u64(s, len, u64_cases[_i].max, &v);
        ck_assert_msg(r == u64_cases[_i].ret, "'%s': got %d, want %d", s, r, u64_cases[_i].ret);
        if (r == 0)
                ck_assert_uint_eq(v, u64_cases[_i].value);
        else
                ck_assert_uint_eq(v, SENTINEL);
}
END_TEST

START_TEST(test_parse_u64_null)
{
        uint64_t v = SENTINEL;

        ck_assert_int_eq(hpvm_parse_u64(NULL, 0, UINT64_MAX, &v), -EINVAL);
        ck_assert_uint_eq(v, SENTINEL);
}
END_TEST

/* ---------------------------------------------------------------- hpvm_parse_bool */

static const struct {
        const char *s;
        int ret;
        bool value;
} bool_cases[] = {
        { "true", 0, true }, { "TRUE", 0, true }, { "True", 0, true }, { "tRuE", 0, true },
        { "yes", 0, true }, { "YES", 0, true }, { "Yes", 0, true },
        { "1", 0, true },
        { "false", 0, false }, { "FALSE", 0, false }, { "False", 0, false },
        { "no", 0, false }, { "NO", 0, false }, { "nO", 0, false },
        { "0", 0, false },
        { "", -EINVAL, false }, { "2", -EINVAL, false }, { "01", -EINVAL, false },
        { "00", -EINVAL, false }, { "-1", -EINVAL, false },
        { "on", -EINVAL, false }, { "off", -EINVAL, false }, { "t", -EINVAL, false },
        { "f", -EINVAL, false }, { "y", -EINVAL, false }, { "n", -EINVAL, false },
        { "tru", -EINVAL, false }, { "truee", -EINVAL, false }, { "yess", -EINVAL, false },
        { " true", -EINVAL, false }, { "true ", -EINVAL, false }, { "yes\n", -EINVAL, false },
        { "\xff", -EINVAL, false },
};

START_TEST(test_parse_bool)
{
        const char *s = bool_cases[_i].s;
        bool v = !bool_cases[_i].value;
        bool before = v;
        int r;

        r = hpvm_parse_bool(s, strlen(s), &v);
        ck_assert_msg(r == bool_cases[_i].ret, "'%s': got %d", s, r);
        if (r == 0)
                ck_assert(v == bool_cases[_i].value);
        else
                ck_assert(v == before);
}
END_TEST

START_TEST(test_parse_bool_len)
{
        bool v = false;

        /* Only @len bytes count: "yesterday" cut to 3 is "yes". */
        ck_assert_int_eq(hpvm_parse_bool("yesterday", 3, &v), 0);
        ck_assert(v);
        ck_assert_int_eq(hpvm_parse_bool("no", 3, &v), -EINVAL);   /* NUL inside */
        ck_assert_int_eq(hpvm_parse_bool(NULL, 0, &v), -EINVAL);
}
END_TEST

/* ---------------------------------------------------------------- hpvm_parse_size_kib */

#define MEM_MAX (UINT64_C(1) << 42)

static const struct {
        const char *s;
        uint64_t max;
        int ret;
        uint64_t kib;
} size_cases[] = {
        { "1", UINT64_MAX, 0, 1 },
        { "2048", UINT64_MAX, 0, 2048 },
        { "1048576", UINT64_MAX, 0, 1048576 },
        { "1k", UINT64_MAX, 0, 1 },
        { "1K", UINT64_MAX, 0, 1 },
        { "2m", UINT64_MAX, 0, 2048 },
        { "2M", UINT64_MAX, 0, 2048 },
        { "1g", UINT64_MAX, 0, 1048576 },
        { "1G", UINT64_MAX, 0, 1048576 },
        { "1t", UINT64_MAX, 0, UINT64_C(1) << 30 },
        { "1T", UINT64_MAX, 0, UINT64_C(1) << 30 },
        { "007G", UINT64_MAX, 0, 7 * 1048576 },
        { "4096T", MEM_MAX, 0, MEM_MAX },
        { "4097T", MEM_MAX, -ERANGE, 0 },
        { "4398046511104", MEM_MAX, 0, MEM_MAX },
        { "4398046511105", MEM_MAX, -ERANGE, 0 },
        { "17179869183T", UINT64_MAX, 0, UINT64_MAX - ((UINT64_C(1) << 30) - 1) },
        { "17179869184T", UINT64_MAX, -EOVERFLOW, 0 },      /* exactly 2^64 KiB */
        { "18446744073709551615", UINT64_MAX, 0, UINT64_MAX },
        { "18446744073709551616", UINT64_MAX, -EOVERFLOW, 0 },
        { "99999999999999999999G", UINT64_MAX, -EOVERFLOW, 0 },
        { "0", UINT64_MAX, -ERANGE, 0 },
        { "0G", UINT64_MAX, -ERANGE, 0 },
        { "000k", UINT64_MAX, -ERANGE, 0 },
        { "", UINT64_MAX, -EINVAL, 0 },
        { "G", UINT64_MAX, -EINVAL, 0 },
        { "k", UINT64_MAX, -EINVAL, 0 },
        { "1KB", UINT64_MAX, -EINVAL, 0 },
        { "1KiB", UINT64_MAX, -EINVAL, 0 },
        { "1GG", UINT64_MAX, -EINVAL, 0 },
        { "1 G", UINT64_MAX, -EINVAL, 0 },
        { " 1G", UINT64_MAX, -EINVAL, 0 },
        { "1G ", UINT64_MAX, -EINVAL, 0 },
        { "1.5G", UINT64_MAX, -EINVAL, 0 },
        { "-1G", UINT64_MAX, -EINVAL, 0 },
        { "+1G", UINT64_MAX, -EINVAL, 0 },
        { "1P", UINT64_MAX, -EINVAL, 0 },
        { "1B", UINT64_MAX, -EINVAL, 0 },
        { "G1", UINT64_MAX, -EINVAL, 0 },
        { "0x10", UINT64_MAX, -EINVAL, 0 },
        { "1\xff", UINT64_MAX, -EINVAL, 0 },
};

START_TEST(test_parse_size_kib)
{
        const char *s = size_cases[_i].s;
        uint64_t v = SENTINEL;
        int r;

        r = hpvm_parse_size_kib(s, strlen(s), size_cases[_i].max, &v);
        ck_assert_msg(r == size_cases[_i].ret, "'%s': got %d, want %d", s, r, size_cases[_i].ret);
        if (r == 0)
                ck_assert_uint_eq(v, size_cases[_i].kib);
        else
                ck_assert_uint_eq(v, SENTINEL);
}
END_TEST

/* ---------------------------------------------------------------- hpvm_format_kib */

static const struct {
        uint64_t kib;
        const char *text;
} kib_cases[] = {
        { 0, "0 KiB" },
        { 3, "3 KiB" },
        { 1023, "1023 KiB" },
        { 1024, "1 MiB" },
        { 1025, "1.0 MiB" },                  /* rounded down to one decimal */
        { 1536, "1.5 MiB" },
        { 2047, "1.9 MiB" },
        { 524288, "512 MiB" },
        { 1048576, "1 GiB" },
        { 1572864, "1.5 GiB" },
        { UINT64_C(1) << 30, "1 TiB" },
        { UINT64_C(1) << 42, "4 PiB" },
        { UINT64_C(1) << 50, "1 EiB" },
        { UINT64_C(1) << 60, "1 ZiB" },
        { UINT64_MAX, "15.9 ZiB" },
};

START_TEST(test_format_kib)
{
        char buf[32];

        ck_assert_str_eq(hpvm_format_kib(kib_cases[_i].kib, buf, sizeof(buf)), kib_cases[_i].text);
}
END_TEST

START_TEST(test_format_kib_small)
{
        char buf[4];

        /* Truncated, but terminated. */
        ck_assert_str_eq(hpvm_format_kib(524288, buf, sizeof(buf)), "512");
}
END_TEST

/* ---------------------------------------------------------------- hpvm_quote */

static const struct {
        const char *s;
        size_t len;           /* 0: strlen(s) */
        size_t size;
        const char *text;
} quote_cases[] = {
        { "abc", 0, 96, "abc" },
        { "", 0, 96, "" },
        { "0#0-3,9x", 0, 96, "0#0-3,9x" },
        { "a'b\"c\\d", 0, 96, "a'b\"c\\d" },                /* printable ASCII is kept */
        { "~ !", 0, 96, "~ !" },
        { "\n", 0, 96, "\\x0a" },
        { "a\tb\rc", 0, 96, "a\\x09b\\x0dc" },
        { "\x1b[31m", 0, 96, "\\x1b[31m" },                  /* no terminal escapes */
        { "\x7f", 0, 96, "\\x7f" },
        { "\x80\xff", 0, 96, "\\x80\\xff" },
        { "\xc3\xa9", 0, 96, "\\xc3\\xa9" },                 /* UTF-8 is bytes too */
        { "a\0b", 3, 96, "a\\x00b" },
        { "aaaaaaa", 0, 8, "aaaaaaa" },                      /* exactly fits */
        { "aaaaaaaa", 0, 8, "aaaa..." },                     /* one too many */
        { "aaaaaaaaaaaaaaaaaaaa", 0, 8, "aaaa..." },
        { "aaa\x01xxxxx", 0, 8, "aaa..." },                  /* never half an escape */
        { "\x01\x02", 0, 8, "\\x01..." },
        { "\x01", 0, 8, "\\x01" },
        { "abcdef", 3, 8, "abc" },                           /* only @len bytes */
};

START_TEST(test_quote)
{
        const char *s = quote_cases[_i].s;
        size_t len = quote_cases[_i].len ? quote_cases[_i].len : strlen(s);
        char buf[128];

        memset(buf, 'Z', sizeof(buf));
        ck_assert_ptr_eq(hpvm_quote(s, len, buf, quote_cases[_i].size), buf);
        ck_assert_str_eq(buf, quote_cases[_i].text);
        assert_one_line(buf, quote_cases[_i].size);
        /* Nothing written past @size. */
        for (size_t i = quote_cases[_i].size; i < sizeof(buf); i++)
                ck_assert_int_eq(buf[i], 'Z');
}
END_TEST

START_TEST(test_quote_huge)
{
        size_t len = 100 * 1024;
        char *junk = malloc(len);
        char buf[HPVM_QUOTE_MAX];

        ck_assert_ptr_nonnull(junk);
        for (size_t i = 0; i < len; i++)
                junk[i] = (char)(i * 37 + 11);
        hpvm_quote(junk, len, buf, sizeof(buf));
        assert_one_line(buf, sizeof(buf));
        ck_assert_uint_le(strlen(buf), sizeof(buf) - 1);
        ck_assert_uint_ge(strlen(buf), sizeof(buf) - 1 - 3 - 3);      /* full but for a cut escape */
        ck_assert_str_eq(buf + strlen(buf) - 3, "...");
        free(junk);

        ck_assert_str_eq(hpvm_quote(NULL, 5, buf, sizeof(buf)), "");
}
END_TEST

/* ---------------------------------------------------------------- errors and warnings */

START_TEST(test_error_set)
{
        HpvmError err = { 0 };
        char big[2 * HPVM_ERR_MAX];

        ck_assert_int_eq(hpvm_error_set(&err, -EINVAL, "'%s' is not a %s number", "9x", "CPU"), -EINVAL);
        ck_assert_int_eq(err.code, -EINVAL);
        ck_assert_str_eq(err.msg, "'9x' is not a CPU number");

        /* One line whatever the format produced. */
        ck_assert_int_eq(hpvm_error_set(&err, -ERANGE, "a\nb\tc%sd", "\r\x1b"), -ERANGE);
        ck_assert_str_eq(err.msg, "a b c  d");
        ck_assert_int_eq(err.code, -ERANGE);

        /* Cut at the buffer, still terminated. */
        memset(big, 'x', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        hpvm_error_set(&err, -E2BIG, "%s", big);
        ck_assert_uint_eq(strlen(err.msg), HPVM_ERR_MAX - 1);

        /* Nobody listening: the code still comes back. */
        ck_assert_int_eq(hpvm_error_set(NULL, -ENOMEM, "lost"), -ENOMEM);
}
END_TEST

START_TEST(test_error_prefix_append)
{
        HpvmError err = { 0 };
        char big[2 * HPVM_ERR_MAX];

        hpvm_error_set(&err, -ERANGE, "CPU 5000 is out of range (0-4095)");
        ck_assert_int_eq(hpvm_error_prefix(&err, "%s: ", "emulatorpin"), -ERANGE);
        ck_assert_str_eq(err.msg, "emulatorpin: CPU 5000 is out of range (0-4095)");

        hpvm_error_append(&err, " (expected %s)", "<cpuset>");
        ck_assert_str_eq(err.msg, "emulatorpin: CPU 5000 is out of range (0-4095) (expected <cpuset>)");
        ck_assert_int_eq(err.code, -ERANGE);

        hpvm_error_prefix(&err, "x\ny ");
        ck_assert_str_eq(err.msg, "x y emulatorpin: CPU 5000 is out of range (0-4095) (expected <cpuset>)");
        hpvm_error_append(&err, "\n");
        ck_assert_str_eq(err.msg + strlen(err.msg) - 2, ") ");

        /* Long prefix and long append are cut at the buffer, terminated. */
        memset(big, 'p', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        hpvm_error_prefix(&err, "%s", big);
        ck_assert_uint_eq(strlen(err.msg), HPVM_ERR_MAX - 1);
        hpvm_error_append(&err, "%s", "more");
        ck_assert_uint_eq(strlen(err.msg), HPVM_ERR_MAX - 1);

        hpvm_error_set(&err, -EINVAL, "short");
        hpvm_error_append(&err, "%s", big);
        ck_assert_uint_eq(strlen(err.msg), HPVM_ERR_MAX - 1);
        ck_assert(strncmp(err.msg, "shortppp", 8) == 0);

        /* No buffer: nothing to write, and a failure stays a failure. */
        ck_assert_int_lt(hpvm_error_prefix(NULL, "x"), 0);
        hpvm_error_append(NULL, "x");
}
END_TEST

START_TEST(test_warn)
{
        HpvmWarnings w = { 0 };

        hpvm_warn(&w, "first %d", 1);
        ck_assert_uint_eq(w.n, 1);
        ck_assert_str_eq(w.msg[0], "first 1");

        hpvm_warn(&w, "line\nbreak");
        ck_assert_str_eq(w.msg[1], "line break");

        for (int i = 2; i < HPVM_WARN_MAX; i++)
                hpvm_warn(&w, "warning %d", i);
        ck_assert_uint_eq(w.n, HPVM_WARN_MAX);
        ck_assert_str_eq(w.msg[HPVM_WARN_MAX - 1], "warning 15");

        /* Past the cap the count stays put and the last slot says so. */
        for (int i = 0; i < 100; i++)
                hpvm_warn(&w, "dropped %d", i);
        ck_assert_uint_eq(w.n, HPVM_WARN_MAX);
        ck_assert_str_eq(w.msg[HPVM_WARN_MAX - 2], "warning 14");
        ck_assert_str_eq(w.msg[HPVM_WARN_MAX - 1], "more than 15 warnings: the rest were dropped");

        hpvm_warn(NULL, "nobody");
}
END_TEST

static Suite *util_suite(void)
{
        Suite *s = suite_create("util");
        TCase *tc;

        tc = tcase_create("parse_u64");
        tcase_add_loop_test(tc, test_parse_u64, 0, (int)HPVM_ARRAY_SIZE(u64_cases));
        tcase_add_test(tc, test_parse_u64_null);
        suite_add_tcase(s, tc);

        tc = tcase_create("parse_bool");
        tcase_add_loop_test(tc, test_parse_bool, 0, (int)HPVM_ARRAY_SIZE(bool_cases));
        tcase_add_test(tc, test_parse_bool_len);
        suite_add_tcase(s, tc);

        tc = tcase_create("parse_size_kib");
        tcase_add_loop_test(tc, test_parse_size_kib, 0, (int)HPVM_ARRAY_SIZE(size_cases));
        suite_add_tcase(s, tc);

        tc = tcase_create("format_kib");
        tcase_add_loop_test(tc, test_format_kib, 0, (int)HPVM_ARRAY_SIZE(kib_cases));
        tcase_add_test(tc, test_format_kib_small);
        suite_add_tcase(s, tc);

        tc = tcase_create("quote");
        tcase_add_loop_test(tc, test_quote, 0, (int)HPVM_ARRAY_SIZE(quote_cases));
        tcase_add_test(tc, test_quote_huge);
        suite_add_tcase(s, tc);

        tc = tcase_create("errors");
        tcase_add_test(tc, test_error_set);
        tcase_add_test(tc, test_error_prefix_append);
        tcase_add_test(tc, test_warn);
        suite_add_tcase(s, tc);

        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(util_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
