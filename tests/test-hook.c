/* test-hook.c: the before_vm_start binary against the vdsm contract: exit codes, one stderr line, file untouched or atomically replaced. */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cpuset.h"

#include "testhelp.h"
#include "util.h"

static ThVm vm;
static char *numa2;

static void setup(void)
{
        th_vm_init(&vm, "tests/data/domains/engine.xml", 0640);
        numa2 = th_src("tests/data/sysfs/numa2");
}

static void teardown(void)
{
        th_vm_clear(&vm);
        free(numa2);
}

static void assert_folder_clean(void)
{
        th_vm_assert_folder_clean(&vm);
}

static void assert_untouched(void)
{
        th_vm_assert_untouched(&vm);
}

static void run_hook(const char *const *args, const char *const *env, ThRun *r)
{
        const char *argv[16] = { vm.hook };
        size_t n = 1;

        for (; args && *args; args++)
                argv[n++] = *args;
        argv[n] = NULL;
        th_run(argv, env, 30, r);
}

START_TEST(test_no_property_leaves_file_alone)
{
        const char *env[] = { vm.env_domxml, "cputune=", "unrelated=1", NULL };
        struct stat before, after;
        ThRun r;

        ck_assert_int_eq(stat(vm.domxml, &before), 0);
        run_hook(NULL, env, &r);
        ck_assert_int_eq(r.status, 0);
        ck_assert_str_eq(r.err, "");
        ck_assert_int_eq(stat(vm.domxml, &after), 0);
        ck_assert_int_eq(before.st_ino, after.st_ino);
        ck_assert_int_eq(before.st_mtim.tv_nsec, after.st_mtim.tv_nsec);
        assert_untouched();
        th_run_clear(&r);
}
END_TEST

START_TEST(test_success_rewrites_atomically)
{
        const char *args[] = { "--sysfs-root", numa2, NULL };
        const char *env[] = { vm.env_domxml, "cputune=0#0,1#2,2#4,3#6", "numatune=strict#0",
                              "guestnuma=0-7#4G,8-15#4G", NULL };
        _cleanup_free_ char *gpath = th_src("tests/data/golden/engine-all.xml"), *gold = NULL, *now = NULL;
        size_t glen, len;
        struct stat st;
        ThRun r;

        run_hook(args, env, &r);
        ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
        ck_assert_str_eq(r.err, "");
        ck_assert_str_eq(r.out, "");
        gold = th_slurp(gpath, &glen);
        now = th_slurp(vm.domxml, &len);
        ck_assert_msg(len == glen && !memcmp(now, gold, len), "result differs from golden engine-all.xml");
        ck_assert_int_eq(stat(vm.domxml, &st), 0);
        ck_assert_int_eq(st.st_mode & 07777, 0640);
        assert_folder_clean();
        th_run_clear(&r);

        /* Twice is once. */
        run_hook(args, env, &r);
        ck_assert_int_eq(r.status, 0);
        free(now);
        now = th_slurp(vm.domxml, &len);
        ck_assert_msg(len == glen && !memcmp(now, gold, len), "second run changed the result");
        th_run_clear(&r);
}
END_TEST

/* A property that changes nothing (the profile off on a VM without it) leaves the file as it is, mtime too. */
START_TEST(test_no_change_leaves_file_alone)
{
        const char *args[] = { "--sysfs-root", numa2, NULL };
        const char *env[] = { vm.env_domxml, "highperf=false", "nosharepages=false", NULL };
        struct stat before, after;
        ThRun r;

        ck_assert_int_eq(stat(vm.domxml, &before), 0);
        run_hook(args, env, &r);
        ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
        ck_assert_str_eq(r.err, "");
        ck_assert_int_eq(stat(vm.domxml, &after), 0);
        ck_assert_int_eq(before.st_ino, after.st_ino);
        ck_assert_int_eq(before.st_mtim.tv_sec, after.st_mtim.tv_sec);
        ck_assert_int_eq(before.st_mtim.tv_nsec, after.st_mtim.tv_nsec);
        assert_untouched();
        th_run_clear(&r);
}
END_TEST

/* vdsm re-pins a 'none' policy VM's vCPUs after the start: pins must not be written to be lost. */
START_TEST(test_cpu_policy_none_refused)
{
        static const char md[] = "<domain type='kvm' xmlns:ovirt-vm='http://ovirt.org/vm/1.0'><name>p</name>"
                                 "<memory>1048576</memory><vcpu>2</vcpu><metadata><ovirt-vm:vm>"
                                 "<ovirt-vm:cpuPolicy>none</ovirt-vm:cpuPolicy></ovirt-vm:vm></metadata>"
                                 "<os><type>hvm</type></os></domain>";
        const char *args[] = { "--sysfs-root", numa2, NULL };
        const char *env[] = { vm.env_domxml, "cputune=0#0,1#2", NULL };
        ThRun r;

        th_vm_set_input(&vm, md, sizeof(md) - 1, 0600);
        run_hook(args, env, &r);
        ck_assert_int_eq(r.status, 2);
        ck_assert_str_eq(r.err, "hpvm: cputune: the VM's CPU pinning policy is 'none', and vdsm then re-pins every "
                                "vCPU to its shared CPU pool right after the start: set the policy to Manual (or "
                                "Dedicated) in the engine for these pins to last\n");
        assert_untouched();
        th_run_clear(&r);
}
END_TEST

START_TEST(test_dry_run_prints_and_leaves_file)
{
        const char *args[] = { "--sysfs-root", numa2, "--dry-run", "--domxml", vm.domxml, NULL };
        const char *env[] = { "cputune=0#0,1#2,2#4,3#6", "numatune=strict#0", "guestnuma=0-7#4G,8-15#4G", NULL };
        _cleanup_free_ char *gpath = th_src("tests/data/golden/engine-all.xml"), *gold = NULL;
        size_t glen;
        ThRun r;

        run_hook(args, env, &r);
        ck_assert_int_eq(r.status, 0);
        gold = th_slurp(gpath, &glen);
        ck_assert_str_eq(r.out, gold);
        assert_untouched();
        th_run_clear(&r);
}
END_TEST

START_TEST(test_warning_is_printed_with_exit_0)
{
        _cleanup_free_ char *src = th_src("tests/data/domains/libvirt-dump.xml"), *x = NULL;
        const char *args[] = { "--sysfs-root", numa2, NULL };
        const char *env[] = { vm.env_domxml, "guestnuma=0-2#6G,3-5#6G", NULL };
        size_t len;
        ThRun r;

        x = th_slurp(src, &len);
        th_write(vm.domxml, x, len, 0600);
        run_hook(args, env, &r);
        ck_assert_int_eq(r.status, 0);
        ck_assert_str_eq(r.err, "hpvm: warning: guestnuma: removed <numatune><memnode cellid='2'>: "
                                "the VM now has 2 guest NUMA cells\n");
        th_run_clear(&r);
}
END_TEST

/* Every refusal: exit 2, exactly one line on stderr, the file as it was. */
typedef struct Refusal {
        const char *args[6];
        const char *env[6];
        const char *stderr_start;
} Refusal;

#define NUMA2 "@numa2"
static const Refusal refusals[] = {
        { { "--sysfs-root", NUMA2 }, { "cputune=0#0-3,9x" },
          "hpvm: cputune: '0#0-3,9x': '9x' is not a CPU number (expected <vcpu>#<cpuset>[,<vcpu>#<cpuset>...])\n" },
        { { "--sysfs-root", NUMA2 }, { "cputune=0#0,1#9" },
          "hpvm: cputune: vCPU 1: host CPU 9 is not online (online CPUs: 0-7)\n" },
        { { "--sysfs-root", NUMA2 }, { "cputune=0#0,0#1" }, "hpvm: cputune: '0#0,0#1': " },
        { { "--sysfs-root", NUMA2 }, { "cputune=99#0" },
          "hpvm: cputune: vCPU 99 does not exist (the VM has 16 vCPUs: 0-15)\n" },
        { { "--sysfs-root", NUMA2 }, { "numatune=bogus#0" }, "hpvm: numatune: 'bogus#0': " },
        { { "--sysfs-root", NUMA2 }, { "numatune=strict#5" },
          "hpvm: numatune: host NUMA node 5 does not exist or has no memory (nodes with memory: 0-1)\n" },
        { { NULL }, { "guestnuma=0-7#4G,8-15" }, "hpvm: guestnuma: '0-7#4G,8-15': " },
        { { NULL }, { "guestnuma=0-7#4G,8-15#5G" },
          "hpvm: guestnuma: the cells add up to 9 GiB, the VM has 8 GiB of memory\n" },
        { { "--host-caps", "/nonexistent/caps.xml" }, { "cputune=0#0" },
          "hpvm: cannot read the host topology: cannot open /nonexistent/caps.xml: No such file or directory\n" },
        { { "--host-caps", "x", "--sysfs-root", "y" }, { "cputune=0#0" },
          "hpvm: before_vm_start: --host-caps and --sysfs-root exclude each other (see --help)\n" },
        { { "--bogus" }, { "cputune=0#0" }, "hpvm: before_vm_start: unknown option '--bogus' (see --help)\n" },
        { { "--sysfs-root", NUMA2 }, { "hugepages=1048576" },
          "hpvm: hugepages: the VM needs 8 pages of 1 GiB, the host has 4 free\n" },
        { { "--sysfs-root", NUMA2 }, { "invtsc=yes" },
          "hpvm: invtsc: the host CPU has no invariant TSC (its flags lack constant_tsc or nonstop_tsc), "
          "so the VM cannot require it\n" },
        { { "--sysfs-root", NUMA2 }, { "highperf=true", "iothreadpin=1#0,2#1" },
          "hpvm: iothreadpin: IO thread 2 does not exist (the VM has 1 IO thread: 1)\n" },
        { { "--sysfs-root", NUMA2 }, { "iothreads=0" },
          "hpvm: iothreads: '0': out of range (expected a whole number from 1 to 64)\n" },
        { { "extra" }, { "cputune=0#0" }, "hpvm: before_vm_start: unexpected argument 'extra' (see --help)\n" },
        /* An option without its value gets a message of its own, not "unknown option". */
        { { "--domxml" }, { "cputune=0#0" }, "hpvm: before_vm_start: --domxml needs a value (see --help)\n" },
        { { "--sysfs-root" }, { "cputune=0#0" }, "hpvm: before_vm_start: --sysfs-root needs a value (see --help)\n" },
};

START_TEST(test_refusal)
{
        const Refusal *t = &refusals[_i];
        const char *args[8] = { 0 }, *env[8] = { vm.env_domxml };
        ThRun r;

        for (size_t i = 0; t->args[i]; i++)
                args[i] = strcmp(t->args[i], NUMA2) ? t->args[i] : numa2;
        for (size_t i = 0; t->env[i]; i++)
                env[i + 1] = t->env[i];
        run_hook(args, env, &r);
        ck_assert_int_eq(r.status, 2);
        ck_assert_msg(!strncmp(r.err, t->stderr_start, strlen(t->stderr_start)),
                      "stderr:\n  got  %s  want %s", r.err, t->stderr_start);
        ck_assert_uint_eq(th_lines(r.err), 1);
        ck_assert_str_eq(r.out, "");
        assert_untouched();
        th_run_clear(&r);
}
END_TEST

START_TEST(test_highperf_suggestions_exit_0)
{
        _cleanup_free_ char *numa1 = th_src("tests/data/sysfs/numa1"), *now = NULL;
        const char *args[] = { "--sysfs-root", numa1, NULL };
        const char *env[] = { vm.env_domxml, "highperf=true", "cputune=0#0,1#1", "nosharepages=true", NULL };
        size_t len;
        ThRun r;

        run_hook(args, env, &r);
        ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
        ck_assert_str_eq(r.err,
                         "hpvm: warning: highperf: the High Performance profile is applied; for near bare-metal speed also set:\n"
                         "hpvm: warning: highperf:   IO-thread pinning (iothreadpin=<iothread>#<cpuset>,...)\n"
                         "hpvm: warning: highperf:   emulator pinning (emulatorpin=<cpuset>)\n"
                         "hpvm: warning: highperf:   guest NUMA and NUMA pinning (guestnuma=<vcpus>#<memory>,... and numatune=<mode>#<nodeset>)\n"
                         "hpvm: warning: highperf:   huge pages (hugepages=2048 or 1048576, KiB)\n");
        now = th_slurp(vm.domxml, &len);
        ck_assert_ptr_nonnull(strstr(now, "<cpu mode=\"host-passthrough\">"));
        ck_assert_ptr_null(strstr(now, "<graphics"));
        assert_folder_clean();
        th_run_clear(&r);
}
END_TEST

START_TEST(test_windows_refused)
{
        _cleanup_free_ char *src = th_src("tests/data/domains/windows.xml"), *x = NULL;
        const char *env[] = { vm.env_domxml, "highperf=true", NULL };
        size_t len;
        ThRun r;

        x = th_slurp(src, &len);
        th_vm_set_input(&vm, x, len, 0600);
        run_hook(NULL, env, &r);
        ck_assert_int_eq(r.status, 2);
        ck_assert_str_eq(r.err, "hpvm: highperf: the High Performance profile is for non-Windows guests, and this VM "
                                "is Windows: its libosinfo metadata names a Microsoft Windows OS\n");
        assert_untouched();
        th_run_clear(&r);
}
END_TEST

START_TEST(test_long_value_refused)
{
        char *big = malloc(100 * 1024 + 16);
        const char *env[] = { vm.env_domxml, big, NULL };
        ThRun r;

        strcpy(big, "cputune=0#");
        memset(big + 10, '1', 100 * 1024);
        big[10 + 100 * 1024] = '\0';
        run_hook(NULL, env, &r);
        ck_assert_int_eq(r.status, 2);
        ck_assert_uint_eq(th_lines(r.err), 1);
        ck_assert_msg(strlen(r.err) < 600, "message is %zu bytes", strlen(r.err));
        ck_assert_ptr_nonnull(strstr(r.err, "4096"));
        assert_untouched();
        th_run_clear(&r);
        free(big);
}
END_TEST

START_TEST(test_missing_domxml)
{
        const char *env[] = { "cputune=0#0", NULL };
        const char *args[] = { "--domxml", "/nonexistent/vm.xml", NULL };
        ThRun r;

        run_hook(NULL, env, &r);
        ck_assert_int_eq(r.status, 2);
        ck_assert_str_eq(r.err, "hpvm: before_vm_start: no domain XML: $_hook_domxml is not set "
                                "(run by vdsm, or give --domxml FILE)\n");
        th_run_clear(&r);

        run_hook(args, env, &r);
        ck_assert_int_eq(r.status, 2);
        ck_assert_str_eq(r.err, "hpvm: cannot open /nonexistent/vm.xml: No such file or directory\n");
        th_run_clear(&r);

        /* A folder where the file should be. */
        args[1] = vm.tmp;
        run_hook(args, env, &r);
        ck_assert_int_eq(r.status, 2);
        ck_assert_uint_eq(th_lines(r.err), 1);
        ck_assert_ptr_nonnull(strstr(r.err, "is not a regular file"));
        th_run_clear(&r);
}
END_TEST

/* Broken or hostile XML in the file: refused, file untouched. */
static const char *const bad_docs[] = {
        "",
        "<capabilities/>",
        "<domain><vcpu>2</vcpu>",
        "<!DOCTYPE d [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">]><domain>&b;</domain>",
        "<!DOCTYPE domain SYSTEM \"file:///etc/passwd\"><domain/>",
        "<domain><name>\xc3\x28</name></domain>",
};

START_TEST(test_bad_document)
{
        const char *env[] = { vm.env_domxml, "guestnuma=0#1G", NULL };
        ThRun r;

        th_vm_set_input(&vm, bad_docs[_i], strlen(bad_docs[_i]), 0600);
        run_hook(NULL, env, &r);
        ck_assert_int_eq(r.status, 2);
        ck_assert_uint_eq(th_lines(r.err), 1);
        ck_assert_ptr_nonnull(strstr(r.err, "hpvm: domain XML"));
        assert_untouched();
        th_run_clear(&r);
}
END_TEST

START_TEST(test_help_names_options_and_properties)
{
        const char *args[] = { "--help", NULL };
        ThRun r;

        run_hook(args, NULL, &r);
        ck_assert_int_eq(r.status, 0);
        for (const char *const *w = (const char *const[]){ "--domxml", "--dry-run", "--host-caps", "--sysfs-root",
                                                            "_hook_domxml", "cputune", "numatune", "guestnuma", NULL };
             *w; w++)
                ck_assert_msg(strstr(r.out, *w), "--help does not mention %s", *w);
        th_run_clear(&r);
}
END_TEST

/* A private config whose ledger this test reads: "HPVM_CONFIG=<dir>/hpvm.conf" in @env_buf. */
static char *private_config(const char *extra, char *env_buf, size_t size)
{
        char *dir = th_tmpdir(), path[4096], text[4600];

        snprintf(path, sizeof(path), "%s/hpvm.conf", dir);
        snprintf(text, sizeof(text), "state_dir=%s/state\n%s", dir, extra ? extra : "");
        th_write(path, text, strlen(text), 0644);
        snprintf(env_buf, size, "HPVM_CONFIG=%s", path);
        return dir;
}

/* Twenty VMs auto-placed at the same moment on one host: every one gets its own CPUs. */
START_TEST(test_concurrent_auto_starts)
{
        enum { N = 20 };
        _cleanup_free_ char *caps = th_src("tests/data/caps/caps-8node.xml");
        _cleanup_free_ char *src = th_src("tests/data/domains/compact.xml"), *x = NULL, *ledger = NULL;
        char conf[4200], paths[N][4200], vmid[N][64];
        _cleanup_free_ char *dir = private_config(NULL, conf, sizeof(conf));
        HpvmCpuSet all;
        pid_t pids[N];
        size_t len;

        x = th_slurp(src, &len);
        for (int i = 0; i < N; i++) {
                snprintf(paths[i], sizeof(paths[i]), "%s/vm%d.xml", dir, i);
                th_write(paths[i], x, len, 0600);
                snprintf(vmid[i], sizeof(vmid[i]), "vmId=00000000-0000-4000-8000-%012d", i);
        }
        for (int i = 0; i < N; i++) {
                pids[i] = fork();
                ck_assert_int_ge(pids[i], 0);
                if (pids[i] == 0) {
                        char *argv[] = { vm.hook, (char *)"--domxml", paths[i], (char *)"--host-caps", caps, NULL };
                        char *envp[] = { (char *)"PATH=/usr/bin:/bin", conf, vmid[i], (char *)"cputune=auto",
                                         (char *)"numatune=auto", NULL };
                        int devnull = open("/dev/null", O_RDWR);

                        dup2(devnull, 1);
                        dup2(devnull, 2);
                        execve(argv[0], argv, envp);
                        _exit(127);
                }
        }
        for (int i = 0; i < N; i++) {
                int st;

                ck_assert_int_eq(waitpid(pids[i], &st, 0), pids[i]);
                ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "hook %d: status %#x", i, st);
        }
        /* The pins the VMs got are disjoint, and the ledger says exactly that. */
        hpvm_cpuset_zero(&all);
        for (int i = 0; i < N; i++) {
                _cleanup_free_ char *out = th_slurp(paths[i], &len);
                HpvmCpuSet mine;
                const char *p = out;

                hpvm_cpuset_zero(&mine);
                while ((p = strstr(p, "<vcpupin vcpu=\"")) && (p = strstr(p, "cpuset=\""))) {
                        p += 8;
                        hpvm_cpuset_set(&mine, (unsigned)strtoul(p, NULL, 10));
                }
                ck_assert_uint_eq(hpvm_cpuset_count(&mine), 4);
                ck_assert_msg(!hpvm_cpuset_intersects(&all, &mine), "VM %d got a CPU another VM has", i);
                hpvm_cpuset_or(&all, &mine);
        }
        {
                char lp[4300];

                snprintf(lp, sizeof(lp), "%s/state/cpus", dir);
                ledger = th_slurp(lp, &len);
        }
        ck_assert_uint_eq(th_lines(ledger), N + 1);
        th_rmtree(dir);
}
END_TEST

/* A damaged ledger refuses pinning with one line naming it; the domain XML stays as it was. */
START_TEST(test_damaged_ledger_refused)
{
        char conf[4200], lp[4300];
        _cleanup_free_ char *dir = private_config(NULL, conf, sizeof(conf));
        const char *args[] = { "--sysfs-root", numa2, NULL };
        const char *env[] = { vm.env_domxml, conf, "cputune=auto", NULL };
        ThRun r;

        snprintf(lp, sizeof(lp), "%s/state", dir);
        ck_assert_int_eq(mkdir(lp, 0755), 0);
        snprintf(lp, sizeof(lp), "%s/state/cpus", dir);
        th_write(lp, "hpvm-state 1 cpus\nvm x state=running cpus=zz\n", 45, 0664);
        run_hook(args, env, &r);
        ck_assert_int_eq(r.status, 2);
        ck_assert_uint_eq(th_lines(r.err), 1);
        ck_assert_msg(strstr(r.err, lp) && strstr(r.err, "damaged") && strstr(r.err, "hpvm-fit --repair-ledger"),
                      "%s", r.err);
        assert_untouched();
        th_run_clear(&r);
        th_rmtree(dir);
}
END_TEST

/* A bad configuration file refuses with the file, the line and the bad part. */
START_TEST(test_bad_config_refused)
{
        char conf[4200];
        _cleanup_free_ char *dir = private_config("reserved_cpus=0-3,x\n", conf, sizeof(conf));
        const char *env[] = { vm.env_domxml, conf, "cputune=auto", NULL };
        ThRun r;

        run_hook(NULL, env, &r);
        ck_assert_int_eq(r.status, 2);
        ck_assert_uint_eq(th_lines(r.err), 1);
        ck_assert_msg(strstr(r.err, "hpvm.conf:2: reserved_cpus: '0-3,x'"), "%s", r.err);
        assert_untouched();
        th_run_clear(&r);
        th_rmtree(dir);
}
END_TEST

static Suite *hook_suite(void)
{
        Suite *s = suite_create("hook");
        TCase *tc = tcase_create("before_vm_start");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_no_property_leaves_file_alone);
        tcase_add_test(tc, test_success_rewrites_atomically);
        tcase_add_test(tc, test_dry_run_prints_and_leaves_file);
        tcase_add_test(tc, test_no_change_leaves_file_alone);
        tcase_add_test(tc, test_cpu_policy_none_refused);
        tcase_add_test(tc, test_warning_is_printed_with_exit_0);
        tcase_add_loop_test(tc, test_refusal, 0, HPVM_ARRAY_SIZE(refusals));
        tcase_add_test(tc, test_highperf_suggestions_exit_0);
        tcase_add_test(tc, test_windows_refused);
        tcase_add_test(tc, test_long_value_refused);
        tcase_add_test(tc, test_missing_domxml);
        tcase_add_loop_test(tc, test_bad_document, 0, HPVM_ARRAY_SIZE(bad_docs));
        tcase_add_test(tc, test_help_names_options_and_properties);
        tcase_add_test(tc, test_concurrent_auto_starts);
        tcase_add_test(tc, test_damaged_ledger_refused);
        tcase_add_test(tc, test_bad_config_refused);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(hook_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
