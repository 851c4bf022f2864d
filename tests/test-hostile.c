/* test-hostile.c: hostile domain XML, hostile files and hostile property values against the before_vm_start binary:
 * each gets the contract's exit code, one line on stderr, the file untouched, no crash, bounded time and memory. */
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testhelp.h"
#include "util.h"

/* A sanitizer build reserves terabytes of shadow address space and doubles memory use:
 * there the limits below would measure the sanitizer, so they are off. */
#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

#define TIME_LIMIT_S (SANITIZED ? 20.0 : 5.0)
#define RSS_LIMIT_KB (96 * 1024)        /* a 16 MiB document parsed and re-serialized fits well inside */
#define AS_LIMIT ((size_t)1 << 30)      /* address space of the child: a runaway allocation fails, not the host */

static ThVm vm;
static char *numa2;

static void setup(void)
{
        th_vm_init(&vm, "tests/data/domains/engine.xml", 0644);
        /* Some cases run the hook as nobody: it must reach the folder. */
        ck_assert_int_eq(chmod(vm.tmp, 0755), 0);
        numa2 = th_src("tests/data/sysfs/numa2");
}

static void teardown(void)
{
        th_vm_clear(&vm);
        free(numa2);
}

static void set_input(const char *data, size_t len)
{
        th_vm_set_input(&vm, data, len, 0644);
}

static void assert_untouched(void)
{
        th_vm_assert_untouched(&vm);
}

/* Run the hook on vm.xml with @env; it must refuse in one bounded line, in bounded time and memory. */
static void expect_refusal(const char *const *env, long uid, const char *want)
{
        const char *argv[] = { vm.hook, "--sysfs-root", numa2, NULL };
        const char *fullenv[8] = { vm.env_domxml };
        ThLimits lim = { .uid = uid, .as_bytes = SANITIZED ? 0 : AS_LIMIT };
        size_t n = 1;
        ThRun r;

        for (; env && *env; env++)
                fullenv[n++] = *env;
        th_run_limited(argv, fullenv, 30, &lim, &r);
        ck_assert_msg(r.status == 2, "exit %d, stderr: %s", r.status, r.err);
        ck_assert_msg(th_lines(r.err) == 1 && !strncmp(r.err, "hpvm: ", 6), "stderr is not one line: %s", r.err);
        ck_assert_msg(strlen(r.err) < 1024, "stderr line is %zu bytes", strlen(r.err));
        ck_assert_msg(!want || strstr(r.err, want), "stderr lacks '%s': %s", want, r.err);
        ck_assert_str_eq(r.out, "");
        ck_assert_msg(r.seconds < TIME_LIMIT_S, "took %.2f s", r.seconds);
        ck_assert_msg(SANITIZED || r.maxrss_kb < RSS_LIMIT_KB, "peak memory %ld KiB", r.maxrss_kb);
        th_run_clear(&r);
        assert_untouched();
}

/* ---------------------------------------------------------------- hostile XML */

typedef struct Doc {
        const char *what;
        const char *xml;        /* NULL: built by build_doc() */
        const char *want;
} Doc;

static const Doc docs[] = {
        { "external entity", "<!DOCTYPE domain [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><domain>&x;</domain>",
          "has a <!DOCTYPE>" },
        { "billion laughs",
          "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">"
          "<!ENTITY l1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">"
          "<!ENTITY l2 \"&l1;&l1;&l1;&l1;&l1;&l1;&l1;&l1;&l1;&l1;\">"
          "<!ENTITY l3 \"&l2;&l2;&l2;&l2;&l2;&l2;&l2;&l2;&l2;&l2;\">"
          "<!ENTITY l4 \"&l3;&l3;&l3;&l3;&l3;&l3;&l3;&l3;&l3;&l3;\">"
          "<!ENTITY l5 \"&l4;&l4;&l4;&l4;&l4;&l4;&l4;&l4;&l4;&l4;\">"
          "<!ENTITY l6 \"&l5;&l5;&l5;&l5;&l5;&l5;&l5;&l5;&l5;&l5;\">"
          "<!ENTITY l7 \"&l6;&l6;&l6;&l6;&l6;&l6;&l6;&l6;&l6;&l6;\">"
          "<!ENTITY l8 \"&l7;&l7;&l7;&l7;&l7;&l7;&l7;&l7;&l7;&l7;\">"
          "<!ENTITY l9 \"&l8;&l8;&l8;&l8;&l8;&l8;&l8;&l8;&l8;&l8;\">]><domain><name>&l9;</name></domain>",
          "has a <!DOCTYPE>" },
        { "external DTD", "<!DOCTYPE domain SYSTEM \"http://127.0.0.1:9/domain.dtd\"><domain/>", "has a <!DOCTYPE>" },
        { "parameter entity", "<!DOCTYPE d [<!ENTITY % p SYSTEM \"file:///etc/passwd\"> %p;]><domain/>",
          "has a <!DOCTYPE>" },
        { "undeclared entity", "<domain><name>&passwd;</name></domain>", "not well-formed" },
        { "invalid UTF-8", "<domain><name>\xc3\x28\xff\xfe</name></domain>", "not well-formed" },
        /* Found by fuzzing: libxml2 printed its own encoding errors on stderr besides ours. */
        { "bytes that are not the declared encoding",
          "<?xml version=\"1.0\" encoding=\"SHIFT_JIS\"?>\n<domain><name>bili\xff\xfe\x80</name></domain>",
          "domain XML is not well-formed XML" },
        { "UTF-16 declaration over UTF-8 bytes", "<?xml version=\"1.0\" encoding=\"UTF-16\"?><domain/>", "domain XML" },
        { "non-domain root", "<capabilities><host/></capabilities>", "expected <domain>" },
        { "namespaced root", "<d:domain xmlns:d=\"urn:x\"/>", "expected <domain>" },
        { "empty file", "", "domain XML is empty" },
        { "only blanks", " \n\t\n", "not well-formed" },
        { "truncated", "<domain><vcpu>4</vcpu><devices><disk", "not well-formed" },
        { "binary junk", "\x01\x02\x7f\x80\xff<domain>", "not well-formed" },
        { "deep nesting", NULL, "not well-formed" },
        { "17 MiB file", NULL, "at most" },
};

static char *build_doc(size_t i, size_t *len)
{
        char *buf;
        size_t n = 0;

        if (!strcmp(docs[i].what, "deep nesting")) {
                size_t depth = 100000;

                buf = malloc(depth * 7 + 64);
                n += (size_t)sprintf(buf, "<domain>");
                for (size_t k = 0; k < depth; k++)
                        n += (size_t)sprintf(buf + n, "<a>");
                for (size_t k = 0; k < depth; k++)
                        n += (size_t)sprintf(buf + n, "</a>");
                n += (size_t)sprintf(buf + n, "</domain>");
        } else {
                size_t size = (17u << 20);

                buf = malloc(size + 1);
                memset(buf, ' ', size);
                memcpy(buf, "<domain><!--", 12);
                memcpy(buf + size - 13, "--></domain>\n", 13);
                n = size;
        }
        *len = n;
        return buf;
}

START_TEST(test_hostile_doc)
{
        const char *env[] = { "guestnuma=0-15#8G", NULL };
        size_t len;

        if (docs[_i].xml)
                set_input(docs[_i].xml, strlen(docs[_i].xml));
        else {
                char *b = build_doc((size_t)_i, &len);

                set_input(b, len);
                free(b);
        }
        expect_refusal(env, -1, docs[_i].want);
}
END_TEST

/* XInclude is not a DOCTYPE: it must stay an inert element, never be followed. */
START_TEST(test_xinclude_not_followed)
{
        static const char doc[] = "<domain xmlns:xi=\"http://www.w3.org/2001/XInclude\"><name>x</name>"
                                  "<xi:include href=\"/etc/passwd\" parse=\"text\"/></domain>";
        const char *argv[] = { vm.hook, "--dry-run", NULL };
        const char *env[] = { vm.env_domxml, "nosharepages=true", NULL };
        ThRun r;

        set_input(doc, strlen(doc));
        th_run(argv, env, 30, &r);
        ck_assert_int_eq(r.status, 0);
        ck_assert_ptr_null(strstr(r.out, "root:"));
        ck_assert_ptr_nonnull(strstr(r.out, "<xi:include href=\"/etc/passwd\" parse=\"text\"/>"));
        th_run_clear(&r);
        assert_untouched();
}
END_TEST

/* ---------------------------------------------------------------- hostile files */

static long nobody_uid(void)
{
        struct passwd *pw = getpwnam("nobody");

        return pw ? (long)pw->pw_uid : 65534;
}

START_TEST(test_file_not_readable)
{
        const char *env[] = { "cputune=0#0", NULL };

        if (geteuid() != 0) {
                /* As a user: a mode-000 file of our own is unreadable already. */
                ck_assert_int_eq(chmod(vm.domxml, 0), 0);
                expect_refusal(env, -1, "Permission denied");
                return;
        }
        ck_assert_int_eq(chmod(vm.domxml, 0600), 0);      /* root's, not nobody's */
        expect_refusal(env, nobody_uid(), "cannot open");
}
END_TEST

START_TEST(test_folder_not_writable)
{
        const char *env[] = { "cputune=0#0", NULL };

        if (geteuid() != 0) {
                ck_assert_int_eq(chmod(vm.tmp, 0555), 0);
                expect_refusal(env, -1, "cannot create a temporary file beside");
                ck_assert_int_eq(chmod(vm.tmp, 0755), 0);
                return;
        }
        /* root owns the folder (0755) and the file (0644): nobody can read, not replace. */
        expect_refusal(env, nobody_uid(), "cannot create a temporary file beside");
}
END_TEST

START_TEST(test_not_a_regular_file)
{
        _cleanup_free_ char *fifo = NULL;
        const char *argv[] = { vm.hook, "--domxml", NULL, NULL };
        const char *env[] = { "cputune=0#0", NULL };
        const char *paths[] = { "/dev/zero", vm.tmp, NULL };
        ThRun r;

        ck_assert_int_ge(asprintf(&fifo, "%s/fifo", vm.tmp), 0);
        ck_assert_int_eq(mkfifo(fifo, 0600), 0);
        paths[2] = fifo;
        for (size_t i = 0; i < 3; i++) {
                argv[2] = paths[i];
                th_run(argv, env, 10, &r);   /* a FIFO must not block the hook */
                ck_assert_int_eq(r.status, 2);
                ck_assert_uint_eq(th_lines(r.err), 1);
                ck_assert_msg(strstr(r.err, "not a regular file"), "%s: %s", paths[i], r.err);
                th_run_clear(&r);
        }
        unlink(fifo);
}
END_TEST

/* ---------------------------------------------------------------- hostile property values */

static const char *const props[] = {
        "cputune", "numatune", "guestnuma", "hugepages", "invtsc", "emulatorpin", "iothreads",
        "iothreadpin", "nosharepages", "highperf",
};

typedef enum Junk {
        JUNK_BINARY,    /* every byte 1..255 */
        JUNK_100K,      /* 100 KB of digits and commas */
        JUNK_PAST_2_64, /* numbers past 2^64 where the grammar has numbers */
        JUNK_NEGATIVE,
        JUNK_CARET_ALL, /* ^ of everything: selects nothing */
        JUNK_COUNT,
} Junk;

static char *junk_value(const char *prop, Junk j)
{
        char *v = NULL;

        switch (j) {
        case JUNK_BINARY:
                v = malloc(256 + 1);
                for (int b = 1; b < 256; b++)
                        v[b - 1] = (char)b;
                v[255] = '\0';
                break;
        case JUNK_100K:
                v = malloc(100 * 1024 + 1);
                for (size_t k = 0; k < 100 * 1024; k++)
                        v[k] = "0#1,"[k % 4];
                v[100 * 1024] = '\0';
                break;
        case JUNK_PAST_2_64:
                if (!strcmp(prop, "cputune") || !strcmp(prop, "iothreadpin"))
                        v = strdup("1#18446744073709551616");
                else if (!strcmp(prop, "guestnuma"))
                        v = strdup("0-15#18446744073709551616G");
                else
                        v = strdup("18446744073709551616");
                break;
        case JUNK_NEGATIVE:
                if (!strcmp(prop, "cputune") || !strcmp(prop, "iothreadpin"))
                        v = strdup("-1#0");
                else if (!strcmp(prop, "guestnuma"))
                        v = strdup("0-15#-8G");
                else
                        v = strdup("-1");
                break;
        case JUNK_CARET_ALL:
                if (!strcmp(prop, "cputune") || !strcmp(prop, "iothreadpin"))
                        v = strdup("1#^0,^1,^2");
                else if (!strcmp(prop, "guestnuma"))
                        v = strdup("^0,^1#8G");
                else
                        v = strdup("^0,^1");
                break;
        case JUNK_COUNT:
                break;
        }
        ck_assert_ptr_nonnull(v);
        return v;
}

START_TEST(test_hostile_value)
{
        const char *prop = props[(size_t)_i / JUNK_COUNT];
        Junk j = (Junk)((size_t)_i % JUNK_COUNT);
        _cleanup_free_ char *v = junk_value(prop, j), *kv = NULL;
        const char *env[2] = { NULL, NULL };
        char want[64];

        ck_assert_int_ge(asprintf(&kv, "%s=%s", prop, v), 0);
        env[0] = kv;
        snprintf(want, sizeof(want), "hpvm: %s: ", prop);
        expect_refusal(env, -1, want);
}
END_TEST

static Suite *hostile_suite(void)
{
        Suite *s = suite_create("hostile");
        TCase *tc = tcase_create("documents");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 120);
        tcase_add_loop_test(tc, test_hostile_doc, 0, (int)HPVM_ARRAY_SIZE(docs));
        tcase_add_test(tc, test_xinclude_not_followed);
        suite_add_tcase(s, tc);

        tc = tcase_create("files");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_file_not_readable);
        tcase_add_test(tc, test_folder_not_writable);
        tcase_add_test(tc, test_not_a_regular_file);
        suite_add_tcase(s, tc);

        tc = tcase_create("values");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 120);
        tcase_add_loop_test(tc, test_hostile_value, 0, (int)(HPVM_ARRAY_SIZE(props) * JUNK_COUNT));
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(hostile_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
