/* test-procscan.c: running guests from QEMU command lines: fake proc trees, hostile trees, and this host's /proc. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "procscan.h"
#include "testhelp.h"

/* The guest of tests/data/proc/libvirt-9.0-qemu-7.2.cmdline. */
#define PROBE_UUID "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
#define U1 "6f1c2a9e-0d3b-4c57-9a8e-2b4d6f8a0c13"
#define U2 "00000000-0000-0000-0000-000000000002"
/* argv[0] under which this test binary plays a QEMU process (see main()). */
#define FAKE_QEMU "qemu-system-x86_64"

static char *root;

static void setup(void)
{
        char *proc;

        root = th_tmpdir();
        ck_assert_int_eq(chmod(root, 0755), 0);
        ck_assert_int_ge(asprintf(&proc, "%s/proc", root), 0);
        ck_assert_int_eq(mkdir(proc, 0755), 0);
        free(proc);
}

static void teardown(void)
{
        th_rmtree(root);
        free(root);
}

/* <root>/proc/<pid>/cmdline holding @len bytes (arguments separated by NUL); NULL @cmdline: the folder only. */
static void fake_process(const char *pid, const char *cmdline, size_t len)
{
        char path[4096];

        snprintf(path, sizeof(path), "%s/proc/%s", root, pid);
        ck_assert_int_eq(mkdir(path, 0755), 0);
        if (!cmdline)
                return;
        snprintf(path, sizeof(path), "%s/proc/%s/cmdline", root, pid);
        th_write(path, cmdline, len, 0444);
}

/* sizeof - 1 of a literal: the cmdline with its final NUL, as the kernel gives it. */
#define ARGS(lit) (lit), sizeof(lit) - 1

static bool running(const char *uuid)
{
        HpvmError err = { 0 };
        bool yes = false;
        int r = hpvm_vm_running(root, uuid, &yes, &err);

        ck_assert_msg(r == 0, "%s: %d %s", uuid, r, err.msg);
        return yes;
}

/* ---------------------------------------------------------------- what counts as a guest */

static const struct {
        const char *what;
        const char *cmdline;
        size_t len;
        bool guest;             /* U1 runs */
} cmdline_cases[] = {
        { "qemu-system", ARGS("/usr/bin/qemu-system-x86_64\0-name\0guest=a\0-uuid\0" U1 "\0-display\0none\0"), true },
        { "EL's qemu-kvm", ARGS("/usr/libexec/qemu-kvm\0-uuid\0" U1 "\0"), true },
        { "bare name", ARGS("qemu-system-aarch64\0-uuid\0" U1 "\0"), true },
        { "kvm", ARGS("/usr/bin/kvm\0-uuid\0" U1 "\0"), true },
        { "--uuid", ARGS("/usr/bin/qemu-system-x86_64\0--uuid\0" U1 "\0"), true },
        { "upper case", ARGS("/usr/bin/qemu-system-x86_64\0-uuid\0" "6F1C2A9E-0D3B-4C57-9A8E-2B4D6F8A0C13\0"), true },
        { "uuid last", ARGS("/usr/bin/qemu-system-x86_64\0-S\0-uuid\0" U1 "\0"), true },
        { "not qemu", ARGS("/usr/bin/python3\0-uuid\0" U1 "\0"), false },
        { "qemu in a folder name", ARGS("/opt/qemu/bin/wrapper\0-uuid\0" U1 "\0"), false },
        { "kvm-ish", ARGS("/usr/bin/kvmtool\0-uuid\0" U1 "\0"), false },
        { "no -uuid", ARGS("/usr/bin/qemu-system-x86_64\0-name\0" U1 "\0"), false },
        { "-uuid last", ARGS("/usr/bin/qemu-system-x86_64\0" U1 "\0-uuid\0"), false },
        { "-uuid=", ARGS("/usr/bin/qemu-system-x86_64\0-uuid=" U1 "\0"), false },
        { "bad uuid", ARGS("/usr/bin/qemu-system-x86_64\0-uuid\0" "6f1c2a9e0d3b4c579a8e2b4d6f8a0c13\0"), false },
        { "uuid with junk", ARGS("/usr/bin/qemu-system-x86_64\0-uuid\0" U1 "x\0"), false },
        { "uuid in an argument", ARGS("/usr/bin/qemu-system-x86_64\0-name\0guest=-uuid " U1 "\0"), false },
        { "cut short", ARGS("/usr/bin/qemu-system-x86_64\0-uuid\0" U1), false },   /* no final NUL */
        { "kernel thread", "", 0, false },
        { "only NULs", ARGS("\0\0\0\0"), false },
        { "binary junk", ARGS("\xff\xfe\x01qemu\0-uuid\0\x80\0"), false },
};

START_TEST(test_cmdline)
{
        _cleanup_free_ HpvmUuid *all = NULL;
        HpvmError err = { 0 };
        size_t n = 99;

        fake_process("4242", cmdline_cases[_i].cmdline, cmdline_cases[_i].len);
        ck_assert_msg(running(U1) == cmdline_cases[_i].guest, "%s", cmdline_cases[_i].what);
        ck_assert_int_eq(hpvm_vm_running_uuids(root, &all, &n, &err), 0);
        ck_assert_uint_eq(n, cmdline_cases[_i].guest ? 1 : 0);
        if (n)
                ck_assert_str_eq(all[0].s, U1);
        else
                ck_assert_ptr_null(all);
}
END_TEST

START_TEST(test_libvirt_cmdline)
{
        _cleanup_free_ char *src = th_src("tests/data/proc/libvirt-9.0-qemu-7.2.cmdline"), *cmd = NULL;
        size_t len;

        cmd = th_slurp(src, &len);
        ck_assert_uint_gt(len, 500);
        fake_process("11650", cmd, len);
        ck_assert(running(PROBE_UUID));
        /* The engine's vmId may come in either case. */
        ck_assert(running("3F2504E0-4F89-41D3-9A0C-0305E82C3301"));
        ck_assert(!running(U1));
}
END_TEST

START_TEST(test_many)
{
        _cleanup_free_ HpvmUuid *all = NULL;
        HpvmError err = { 0 };
        size_t n = 0;

        fake_process("1", ARGS("/sbin/init\0"));
        fake_process("2", "", 0);
        fake_process("300", ARGS("/usr/bin/qemu-system-x86_64\0-uuid\0" U2 "\0"));
        fake_process("301", ARGS("/usr/bin/qemu-system-x86_64\0-uuid\0" "6F1C2A9E-0D3B-4C57-9A8E-2B4D6F8A0C13\0"));
        fake_process("302", ARGS("/usr/bin/qemu-system-x86_64\0-uuid\0" U1 "\0"));    /* the same guest twice */
        fake_process("303", ARGS("/usr/bin/vdsm\0"));
        ck_assert_int_eq(hpvm_vm_running_uuids(root, &all, &n, &err), 0);
        ck_assert_uint_eq(n, 2);
        ck_assert_str_eq(all[0].s, U2);
        ck_assert_str_eq(all[1].s, U1);
        ck_assert(running(U1));
        ck_assert(running(U2));
        ck_assert(!running("00000000-0000-0000-0000-000000000003"));
}
END_TEST

START_TEST(test_empty_tree)
{
        HpvmUuid *all = (HpvmUuid *)&all;
        HpvmError err = { 0 };
        size_t n = 99;

        ck_assert(!running(U1));
        ck_assert_int_eq(hpvm_vm_running_uuids(root, &all, &n, &err), 0);
        ck_assert_uint_eq(n, 0);
        ck_assert_ptr_null(all);
}
END_TEST

/* ---------------------------------------------------------------- hostile and odd trees */

START_TEST(test_odd_entries)
{
        char path[4096];

        /* Not pids, gone processes, a pid that is a file, a FIFO for a cmdline: all skipped, none waited on. */
        snprintf(path, sizeof(path), "%s/proc/self", root);
        ck_assert_int_eq(symlink("300", path), 0);
        fake_process("1a", ARGS("/usr/bin/qemu-system-x86_64\0-uuid\0" U2 "\0"));
        fake_process("12345678901", ARGS("/usr/bin/qemu-system-x86_64\0-uuid\0" U2 "\0"));   /* 11 digits */
        fake_process("77", NULL, 0);                    /* ended between the listing and the read */
        snprintf(path, sizeof(path), "%s/proc/78", root);
        th_write(path, "x", 1, 0444);
        snprintf(path, sizeof(path), "%s/proc/79", root);
        ck_assert_int_eq(mkdir(path, 0755), 0);
        snprintf(path, sizeof(path), "%s/proc/79/cmdline", root);
        ck_assert_int_eq(mkfifo(path, 0444), 0);
        fake_process("300", ARGS("/usr/bin/qemu-system-x86_64\0-uuid\0" U1 "\0"));
        ck_assert(running(U1));
        ck_assert(!running(U2));
}
END_TEST

START_TEST(test_long_cmdline)
{
        size_t len = HPVM_CMDLINE_MAX + 50000;
        _cleanup_free_ char *cmd = malloc(len);
        static const char head[] = "/usr/bin/qemu-system-x86_64\0-uuid\0" U1 "\0-object\0";
        static const char tail[] = "\0-uuid\0" U2 "\0";

        /* 300 KB of arguments: the uuid up front is found; one past the read limit is not looked for. */
        ck_assert_ptr_nonnull(cmd);
        memset(cmd, 'x', len);
        memcpy(cmd, head, sizeof(head) - 1);
        fake_process("500", cmd, len);
        ck_assert(running(U1));

        memset(cmd, 'x', len);
        memcpy(cmd, "/usr/bin/qemu-system-x86_64", 27);
        cmd[27] = '\0';
        memcpy(cmd + len - (sizeof(tail) - 1), tail, sizeof(tail) - 1);
        fake_process("501", cmd, len);
        ck_assert(!running(U2));
}
END_TEST

START_TEST(test_unreadable)
{
        _cleanup_free_ char *want = NULL;
        HpvmError err = { 0 };
        bool yes = true;
        char path[4096];

        /* A cmdline that is a folder: whether the VM runs is unknown, so it is an error, not a "no". */
        snprintf(path, sizeof(path), "%s/proc/42", root);
        ck_assert_int_eq(mkdir(path, 0755), 0);
        snprintf(path, sizeof(path), "%s/proc/42/cmdline", root);
        ck_assert_int_eq(mkdir(path, 0755), 0);
        ck_assert_int_eq(hpvm_vm_running(root, U1, &yes, &err), -EISDIR);
        ck_assert_int_ge(asprintf(&want, "cannot read %s/proc/42/cmdline: Is a directory (cannot tell which VMs run)", root),
                         0);
        ck_assert_str_eq(err.msg, want);
        ck_assert(yes);
}
END_TEST

static int scan_as_nobody(void)
{
        HpvmError err = { 0 };
        char want[HPVM_ERR_MAX];
        bool yes = true;
        int r = hpvm_vm_running(root, U1, &yes, &err);

        snprintf(want, sizeof(want), "cannot open %s/proc/43/cmdline: Permission denied (cannot tell which VMs run)", root);
        if (strcmp(err.msg, want)) {
                fprintf(stderr, "got '%s'\n", err.msg);
                return 2;
        }
        return r == -EACCES && yes ? 0 : 1;
}

START_TEST(test_permission)
{
        char path[4096];
        int status;
        pid_t pid;

        /* As under /proc mounted with hidepid=1: the process is listed, its cmdline is not readable. */
        fake_process("43", ARGS("/usr/bin/qemu-system-x86_64\0-uuid\0" U1 "\0"));
        snprintf(path, sizeof(path), "%s/proc/43/cmdline", root);
        ck_assert_int_eq(chmod(path, 0), 0);
        fflush(stdout);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                /* Root reads anything: read as `nobody` (any other user already cannot read a mode 0 file). */
                if (geteuid() == 0 && (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
                                       setresuid(65534, 65534, 65534) < 0))
                        _exit(100);
                _exit(scan_as_nobody());
        }
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x", status);
}
END_TEST

START_TEST(test_bad_input)
{
        static const char *const bad[] = { "", "xyz", "6f1c2a9e-0d3b-4c57-9a8e-2b4d6f8a0c1",
                                           "6f1c2a9e-0d3b-4c57-9a8e-2b4d6f8a0c133", "{6f1c2a9e-0d3b-4c57-9a8e-2b4d6f8a0c1}",
                                           "6f1c2a9e0d3b-4c57-9a8e-2b4d6f8a0c13-", "6f1c2a9e-0d3b-4c57-9a8e-2b4d6f8a0c1g",
                                           "6f1c2a9e-0d3b-4c57-9a8e 2b4d6f8a0c13" };
        _cleanup_free_ char *want = NULL, *missing = NULL;
        HpvmUuid *all = NULL;
        HpvmError err = { 0 };
        bool yes = true;
        size_t n = 7;

        for (size_t i = 0; i < HPVM_ARRAY_SIZE(bad); i++) {
                ck_assert_int_eq(hpvm_vm_running(root, bad[i], &yes, &err), -EINVAL);
                ck_assert(!hpvm_uuid_valid(bad[i], strlen(bad[i])));
        }
        ck_assert_str_eq(err.msg, "'6f1c2a9e-0d3b-4c57-9a8e 2b4d6f8a0c13' is not a VM uuid (expected 8-4-4-4-12 hex digits)");
        ck_assert_int_eq(hpvm_vm_running(root, NULL, &yes, &err), -EINVAL);
        ck_assert(hpvm_uuid_valid(U1, strlen(U1)));
        ck_assert(hpvm_uuid_valid("ABCDEF01-2345-6789-abcd-ef0123456789", 36));

        /* No proc folder under the root. */
        ck_assert_int_ge(asprintf(&missing, "%s/nowhere", root), 0);
        ck_assert_int_eq(hpvm_vm_running(missing, U1, &yes, &err), -ENOENT);
        ck_assert_int_ge(asprintf(&want, "cannot list %s/proc: No such file or directory (cannot tell which VMs run)",
                                  missing), 0);
        ck_assert_str_eq(err.msg, want);
        ck_assert_int_eq(hpvm_vm_running_uuids(missing, &all, &n, &err), -ENOENT);
        ck_assert_ptr_null(all);
        ck_assert_uint_eq(n, 7);
        ck_assert_int_eq(hpvm_vm_running("", U1, &yes, &err), -EINVAL);
        ck_assert_int_eq(hpvm_vm_running(NULL, U1, &yes, &err), -EINVAL);
        ck_assert(yes);
}
END_TEST

START_TEST(test_guest_cap)
{
        HpvmUuid *all = NULL;
        HpvmError err = { 0 };
        char pid[16], cmd[128];
        size_t n = 7;
        int len;

        /* One guest more than a scan reports. */
        for (unsigned i = 0; i <= HPVM_GUESTS_MAX; i++) {
                snprintf(pid, sizeof(pid), "%u", 1000 + i);
                len = snprintf(cmd, sizeof(cmd), "qemu-kvm%c-uuid%c%08x-0000-0000-0000-000000000000", 0, 0, i);
                fake_process(pid, cmd, (size_t)len + 1);
        }
        ck_assert_int_eq(hpvm_vm_running_uuids(root, &all, &n, &err), -E2BIG);
        ck_assert_str_eq(err.msg, "more than 16384 QEMU guests run");
        ck_assert_ptr_null(all);
        ck_assert_uint_eq(n, 7);
}
END_TEST

/* ---------------------------------------------------------------- this host */

static char self_exe[4096];

static unsigned count_processes(void)
{
        DIR *d = opendir("/proc");
        struct dirent *e;
        unsigned n = 0;

        ck_assert_ptr_nonnull(d);
        while ((e = readdir(d)))
                n += e->d_name[0] >= '1' && e->d_name[0] <= '9';
        closedir(d);
        return n;
}

START_TEST(test_live)
{
        char want[HPVM_UUID_LEN + 1];
        HpvmUuid *all = NULL;
        HpvmError err = { 0 };
        struct timespec t0, t1;
        bool yes = true, listed = false;
        size_t n = 0;
        pid_t pid;
        int status;

        /* A uuid no real guest has: this process's pid in the last group. */
        snprintf(want, sizeof(want), "9b0e3c55-0000-4000-8000-%012x", (unsigned)getpid());
        ck_assert(hpvm_uuid_valid(want, strlen(want)));
        ck_assert_int_eq(hpvm_vm_running("/", want, &yes, &err), 0);
        ck_assert(!yes);

        /* This test binary, run as "qemu-system-x86_64 -uuid <want>", sleeps until killed (see main()). */
        fflush(stdout);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                char *const argv[] = { (char *)FAKE_QEMU, (char *)"-uuid", want, NULL };

                execv(self_exe, argv);
                _exit(127);
        }
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (int i = 0; i < 2000 && !yes; i++) {
                ck_assert_int_eq(hpvm_vm_running("/", want, &yes, &err), 0);
                if (!yes)
                        usleep(1000);
        }
        ck_assert_msg(yes, "the fake QEMU process was never seen");
        ck_assert_int_eq(hpvm_vm_running_uuids("/", &all, &n, &err), 0);
        for (size_t i = 0; i < n; i++)
                listed |= !strcmp(all[i].s, want);
        free(all);
        ck_assert(listed);

        /* Timing of one full scan of this host's /proc. */
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (int i = 0; i < 10; i++)
                ck_assert_int_eq(hpvm_vm_running("/", U2, &yes, &err), 0);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        printf("test-procscan: a full scan of this host's /proc (%u processes): %.2f ms (%zu QEMU guests seen)\n",
               count_processes(), ((double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6) / 10,
               n);

        kill(pid, SIGKILL);
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_int_eq(hpvm_vm_running("/", want, &yes, &err), 0);
        ck_assert(!yes);
}
END_TEST

static Suite *procscan_suite(void)
{
        Suite *s = suite_create("procscan");
        TCase *tc;

        tc = tcase_create("fake");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_loop_test(tc, test_cmdline, 0, (int)HPVM_ARRAY_SIZE(cmdline_cases));
        tcase_add_test(tc, test_libvirt_cmdline);
        tcase_add_test(tc, test_many);
        tcase_add_test(tc, test_empty_tree);
        suite_add_tcase(s, tc);

        tc = tcase_create("hostile");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_odd_entries);
        tcase_add_test(tc, test_long_cmdline);
        tcase_add_test(tc, test_unreadable);
        tcase_add_test(tc, test_permission);
        tcase_add_test(tc, test_bad_input);
        tcase_add_test(tc, test_guest_cap);
        tcase_set_timeout(tc, 60);
        suite_add_tcase(s, tc);

        tc = tcase_create("live");
        tcase_add_test(tc, test_live);
        tcase_set_timeout(tc, 30);
        suite_add_tcase(s, tc);

        return s;
}

int main(int argc, char **argv)
{
        SRunner *sr;
        ssize_t n;
        int failed;

        /* Playing a QEMU process for test_live: sleep until killed. */
        if (argc > 0 && !strcmp(argv[0], FAKE_QEMU)) {
                for (;;)
                        pause();
        }
        n = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
        if (n > 0)
                self_exe[n] = '\0';

        sr = srunner_create(procscan_suite());
        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
