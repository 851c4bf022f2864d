/* test-migrate-hooks.c: the five migration hook binaries against their contracts: exit codes, one-line refusals, untouched input, libvirt's other operations passed through with no output, bad arguments, hostile XML, a damaged ledger. */
#include <check.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cpuset.h"
#include "sriovtree.h"
#include "sysfsgen.h"
#include "testhelp.h"
#include "util.h"

#define UUID_A "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"

/* One destination: a 2x8-CPU host tree (and, for the VF tests, three VFs of two PFs on node 0), its configuration and ledger, the source XML as vdsm hands it. */
static char *dir, *conf_env, *ledger, *domxml, *env_domxml, *stdin_file, *env_stdin, *src_xml;
static char *hook_dst, *hook_lv, *hook_arrived, *hook_left, *hook_destroy;

static char *strf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *strf(const char *fmt, ...)
{
        va_list ap;
        char *s;

        va_start(ap, fmt);
        ck_assert_int_ge(vasprintf(&s, fmt, ap), 0);
        va_end(ap);
        return s;
}

static void setup(void)
{
        char *path, *text, *src = th_src("tests/data/migrate/vdsm-2x16.xml");

        dir = th_tmpdir();
        path = strf("%s/host", dir);
        th_sysfs_build(path, "2x8x1 mem=32G");
        text = strf("state_dir=%s/state\nsysfs_root=%s\n", dir, path);
        free(path);
        path = strf("%s/hpvm.conf", dir);
        th_write(path, text, strlen(text), 0644);
        conf_env = strf("HPVM_CONFIG=%s", path);
        free(path);
        free(text);
        ledger = strf("%s/state/cpus", dir);
        domxml = strf("%s/vm.xml", dir);
        env_domxml = strf("_hook_domxml=%s", domxml);
        stdin_file = strf("%s/stdin.xml", dir);
        env_stdin = strf("HPVM_STDIN=%s", stdin_file);
        src_xml = th_slurp(src, NULL);
        free(src);
        th_write(domxml, src_xml, strlen(src_xml), 0600);
        hook_dst = strf("%s/hooks/before_migration_destination", th_builddir());
        hook_lv = strf("%s/hooks/libvirt_qemu", th_builddir());
        hook_arrived = strf("%s/hooks/after_migration_destination", th_builddir());
        hook_left = strf("%s/hooks/after_migration_source", th_builddir());
        hook_destroy = strf("%s/hooks/after_vm_destroy", th_builddir());
}

static void teardown(void)
{
        th_rmtree(dir);
        free(dir);
        free(conf_env);
        free(ledger);
        free(domxml);
        free(env_domxml);
        free(stdin_file);
        free(env_stdin);
        free(src_xml);
        free(hook_dst);
        free(hook_lv);
        free(hook_arrived);
        free(hook_left);
        free(hook_destroy);
}

/* A vdsm hook on vm.xml, with "vmId=..."-style extra environment. */
static void run_vdsm(const char *hook, const char *const *extra, ThRun *r)
{
        const char *argv[] = { hook, NULL };
        const char *env[16] = { conf_env, env_domxml };
        size_t n = 2;

        for (; extra && *extra; extra++)
                env[n++] = *extra;
        th_run(argv, env, 30, r);
}

/* libvirt's hook with its four arguments and @xml on stdin (through sh: th_run gives /dev/null). */
static void run_libvirt(const char *xml, size_t len, const char *const *args, ThRun *r)
{
        const char *argv[12] = { "/bin/sh", "-c", "exec \"$0\" \"$@\" <\"$HPVM_STDIN\"", hook_lv };
        const char *env[] = { conf_env, env_stdin, NULL };
        size_t n = 4;

        th_write(stdin_file, xml, len, 0644);
        for (; args && *args; args++)
                argv[n++] = *args;
        th_run(argv, env, 30, r);
}

static void run_lv(const char *xml, const char *op, const char *subop, ThRun *r)
{
        const char *args[] = { "db-large-01", op, subop, "-", NULL };

        run_libvirt(xml, strlen(xml), args, r);
}

static void assert_one_line(const ThRun *r, int status, const char *prefix)
{
        ck_assert_msg(r->status == status, "exit %d (want %d), stderr: %s", r->status, status, r->err);
        ck_assert_msg(th_lines(r->err) == 1 && !strncmp(r->err, "hpvm: ", 6), "stderr is not one line: %s", r->err);
        ck_assert_msg(strlen(r->err) < 1024, "stderr line is %zu bytes", strlen(r->err));
        ck_assert_msg(!prefix || !strncmp(r->err, prefix, strlen(prefix)), "stderr does not start with '%s': %s",
                      prefix, r->err);
        ck_assert_str_eq(r->out, "");
}

static void assert_domxml_untouched(void)
{
        char *now = th_slurp(domxml, NULL);

        ck_assert_str_eq(now, src_xml);
        free(now);
}

static char *ledger_text(void)
{
        struct stat st;

        return stat(ledger, &st) == 0 ? th_slurp(ledger, NULL) : strdup("");
}

/* A source XML too big for a 2x8 host: 16 vCPUs in two cells of 8. */
static char *too_big(void)
{
        char *s = strdup(src_xml), *p;

        ck_assert_ptr_nonnull(s);
        /* 12 vCPUs -> 16: cells of 6 -> 8 (only the counts this file names) */
        p = strstr(s, "current='12'>12<");
        memcpy(p, "current='16'>16<", 16);
        p = strstr(s, "cpus='0-5'");
        memcpy(p, "cpus='0-7'", 10);
        p = strstr(s, "cpus='6-11'");
        memcpy(p, "cpus='8-15'", 11);
        p = strstr(s, "cores='6'");
        memcpy(p, "cores='8'", 9);
        return s;
}

/* ---------------------------------------------------------------- before_migration_destination */

START_TEST(test_dst_fits)
{
        const char *env[] = { "vmId=" UUID_A, "cpupolicy=dedicated", NULL };
        _cleanup_free_ char *l = NULL;
        ThRun r;

        run_vdsm(hook_dst, env, &r);
        assert_one_line(&r, 0, "hpvm: this host can run VM db-large-01: reserved host CPUs 1-6,9-14 on nodes 0-1 ");
        th_run_clear(&r);
        /* vdsm ignores what this hook writes: the file stays as it was. */
        assert_domxml_untouched();
        l = ledger_text();
        ck_assert_ptr_nonnull(strstr(l, "vm " UUID_A " name=db-large-01 state=reserved "));
}
END_TEST

START_TEST(test_dst_refuses)
{
        _cleanup_free_ char *big = too_big(), *l = NULL;
        const char *env[] = { "vmId=" UUID_A, NULL };
        ThRun r;

        th_write(domxml, big, strlen(big), 0600);
        run_vdsm(hook_dst, env, &r);
        assert_one_line(&r, 2, NULL);
        ck_assert_str_eq(r.err, "hpvm: this host cannot run VM db-large-01: no host node has 8 free CPUs for guest "
                                "cell 0 (node 0 has 7, node 1 has 7)\n");
        th_run_clear(&r);
        l = ledger_text();
        ck_assert_ptr_null(strstr(l, UUID_A));
        /* The same from a bad property value, named and quoted. */
        th_write(domxml, src_xml, strlen(src_xml), 0600);
        run_vdsm(hook_dst, (const char *const[]) { "migration_refit=perhaps", NULL }, &r);
        assert_one_line(&r, 2, "hpvm: migration_refit: 'perhaps': not a boolean");
        th_run_clear(&r);
        assert_domxml_untouched();
}
END_TEST

START_TEST(test_dst_untouched_vm)
{
        static const char plain[] = "<domain type='kvm'><name>plain</name><uuid>" UUID_A "</uuid>"
                                    "<memory>1048576</memory><vcpu>64</vcpu><os><type>hvm</type></os></domain>";
        _cleanup_free_ char *l = NULL;
        ThRun r;

        /* Neither pinned nor NUMA-tuned: nothing checked, nothing said, nothing reserved. */
        th_write(domxml, plain, strlen(plain), 0600);
        run_vdsm(hook_dst, NULL, &r);
        ck_assert_int_eq(r.status, 0);
        ck_assert_str_eq(r.err, "");
        ck_assert_str_eq(r.out, "");
        th_run_clear(&r);
        l = ledger_text();
        ck_assert_str_eq(l, "");
}
END_TEST

/* Arguments and environment every vdsm hook of this set refuses in one line (a bad usage is 2 for all). */
static const struct {
        const char *args[5];
        bool no_domxml;
        const char *want;
} bad_args[] = {
        { { "--bogus" }, false, "unknown option '--bogus'" },
        { { "extra" }, false, "unexpected argument 'extra'" },
        { { "--config" }, false, "--config needs a value" },
        { { "--host-caps", "a.xml", "--sysfs-root", "b" }, false, "--host-caps and --sysfs-root exclude each other" },
        { { "--dry-run" }, false, "--dry-run does not apply to this hook" },
        { { NULL }, true, "$_hook_domxml is not set" },
};

START_TEST(test_vdsm_bad_args)
{
        const char *hooks[] = { hook_dst, hook_arrived, hook_left };
        const char *env_with[] = { conf_env, env_domxml, NULL }, *env_without[] = { conf_env, NULL };

        for (size_t h = 0; h < HPVM_ARRAY_SIZE(hooks); h++) {
                const char *argv[8] = { hooks[h] };
                ThRun r;

                for (size_t k = 0; k < 5 && bad_args[_i].args[k]; k++)
                        argv[k + 1] = bad_args[_i].args[k];
                th_run(argv, bad_args[_i].no_domxml ? env_without : env_with, 30, &r);
                assert_one_line(&r, 2, NULL);
                ck_assert_msg(strstr(r.err, bad_args[_i].want), "%s: %s", hooks[h], r.err);
                th_run_clear(&r);
        }
        assert_domxml_untouched();
}
END_TEST

/* ---------------------------------------------------------------- hostile XML, every hook */

static const struct {
        const char *what;
        const char *xml;
} hostile[] = {
        { "external entity", "<!DOCTYPE domain [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><domain>&x;</domain>" },
        { "entity bomb", "<!DOCTYPE d [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">"
                         "<!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">]><domain><name>&c;</name></domain>" },
        { "not XML", "\x01\x02 binary junk \xff" },
        { "wrong root", "<capabilities><host/></capabilities>" },
        { "truncated", "<domain><name>x</name><cputune><vcpupin vcpu='0' cpuset='0'" },
        { "empty", "" },
        { "bad pins", "<domain><name>x</name><uuid>" UUID_A "</uuid><vcpu>99999999999999999999</vcpu></domain>" },
};

START_TEST(test_hostile_vdsm)
{
        const char *env[] = { "vmId=" UUID_A, NULL };
        ThRun r;

        th_write(domxml, hostile[_i].xml, strlen(hostile[_i].xml), 0600);
        run_vdsm(hook_dst, env, &r);
        assert_one_line(&r, 2, NULL);
        th_run_clear(&r);
        /* vdsm only logs the after_* hooks' failures: 1. */
        run_vdsm(hook_arrived, env, &r);
        assert_one_line(&r, 1, NULL);
        th_run_clear(&r);
        /* Released by $vmId: the document is not read at all. */
        run_vdsm(hook_left, env, &r);
        ck_assert_int_eq(r.status, 0);
        th_run_clear(&r);
}
END_TEST

START_TEST(test_hostile_libvirt)
{
        ThRun r;

        run_lv(hostile[_i].xml, "migrate", "begin", &r);
        assert_one_line(&r, 1, NULL);
        th_run_clear(&r);
        /* libvirt's other operations never fail on a document they do not need, or cannot read. */
        run_lv(hostile[_i].xml, "prepare", "begin", &r);
        ck_assert_int_eq(r.status, 0);
        ck_assert_str_eq(r.out, "");
        ck_assert_str_eq(r.err, "");
        th_run_clear(&r);
        run_lv(hostile[_i].xml, "release", "end", &r);
        ck_assert_int_eq(r.status, 0);
        ck_assert_str_eq(r.out, "");
        th_run_clear(&r);
}
END_TEST

/* ---------------------------------------------------------------- libvirt's hook */

START_TEST(test_lv_sequence)
{
        const char *env[] = { "vmId=" UUID_A, NULL };
        char *etree_path = th_src("tests/data/migrate/etree-2x16.xml"), *etree = th_slurp(etree_path, NULL);
        _cleanup_free_ char *out = NULL, *l = NULL;
        ThRun r;

        run_vdsm(hook_dst, env, &r);
        ck_assert_int_eq(r.status, 0);
        th_run_clear(&r);
        /* migrate begin behind vdsm's hook: the re-fitted document on stdout, notes on stderr. */
        run_lv(etree, "migrate", "begin", &r);
        ck_assert_msg(r.status == 0, "%s", r.err);
        ck_assert_str_eq(r.err, "hpvm: re-fitted vCPU pins to this host: 0-31 -> 1-6,9-14 (nodes 0-1)\n");
        ck_assert_ptr_nonnull(strstr(r.out, "<vcpupin vcpu=\"6\" cpuset=\"9-14\" />") ? r.out :
                              strstr(r.out, "<vcpupin vcpu=\"6\" cpuset=\"9-14\"/>"));
        out = r.out;
        r.out = NULL;
        th_run_clear(&r);
        /* Again on its own output: nothing to change, nothing printed. */
        run_lv(out, "migrate", "begin", &r);
        ck_assert_int_eq(r.status, 0);
        ck_assert_str_eq(r.out, "");
        ck_assert_str_eq(r.err, "");
        th_run_clear(&r);
        /* The rest of an incoming migration. */
        run_lv(out, "prepare", "begin", &r);
        ck_assert_int_eq(r.status, 0);
        ck_assert_str_eq(r.out, "");
        th_run_clear(&r);
        run_lv(out, "started", "begin", &r);
        ck_assert_int_eq(r.status, 0);
        ck_assert_str_eq(r.out, "");
        ck_assert_str_eq(r.err, "hpvm: VM db-large-01 runs here: it holds host CPUs 1-6,9-14\n");
        th_run_clear(&r);
        l = ledger_text();
        ck_assert_ptr_nonnull(strstr(l, "name=db-large-01 state=running "));
        free(l);
        /* vdsm's after destination: already running, nothing to say. */
        th_write(domxml, out, strlen(out), 0600);
        run_vdsm(hook_arrived, env, &r);
        ck_assert_int_eq(r.status, 0);
        ck_assert_str_eq(r.err, "");
        th_run_clear(&r);
        /* Later the VM stops here: release end drops its CPUs. */
        run_lv(out, "release", "end", &r);
        ck_assert_int_eq(r.status, 0);
        ck_assert_str_eq(r.out, "");
        ck_assert_str_eq(r.err, "hpvm: released the host CPUs of VM db-large-01\n");
        th_run_clear(&r);
        l = ledger_text();
        ck_assert_str_eq(l, "hpvm-state 1 cpus\n");
        free(etree_path);
        free(etree);
}
END_TEST

START_TEST(test_lv_refuses)
{
        _cleanup_free_ char *big = too_big(), *l = NULL;
        ThRun r;

        /* No reservation and no room: libvirt gets exit 1 and one line, the migration stops. */
        run_lv(big, "migrate", "begin", &r);
        assert_one_line(&r, 1, NULL);
        ck_assert_str_eq(r.err, "hpvm: this host cannot run VM db-large-01: no host node has 8 free CPUs for guest "
                                "cell 0 (node 0 has 7, node 1 has 7)\n");
        th_run_clear(&r);
        run_lv(big, "restore", "begin", &r);
        assert_one_line(&r, 1, "hpvm: this host cannot run VM db-large-01: ");
        th_run_clear(&r);
        l = ledger_text();
        ck_assert_ptr_null(strstr(l, UUID_A));
}
END_TEST

/* Operations that pass: exit 0, nothing on stdout or stderr, the ledger as it was. */
static const char *const other_ops[][2] = {
        { "prepare", "begin" }, { "start", "begin" }, { "stopped", "end" }, { "reconnect", "begin" },
        { "attach", "begin" }, { "migrate", "end" }, { "restore", "end" }, { "release", "begin" },
        { "started", "end" }, { "bogus", "-" },
};

START_TEST(test_lv_other_ops)
{
        _cleanup_free_ char *before = NULL, *after = NULL;
        ThRun r;

        run_lv(src_xml, "migrate", "begin", &r);
        ck_assert_int_eq(r.status, 0);
        th_run_clear(&r);
        before = ledger_text();
        run_lv(src_xml, other_ops[_i][0], other_ops[_i][1], &r);
        ck_assert_int_eq(r.status, 0);
        ck_assert_str_eq(r.out, "");
        ck_assert_str_eq(r.err, "");
        th_run_clear(&r);
        after = ledger_text();
        ck_assert_str_eq(after, before);
}
END_TEST

START_TEST(test_lv_bad_args)
{
        const char *none[] = { NULL }, *one[] = { "dom", NULL }, *five[] = { "dom", "migrate", "begin", "-", "x", NULL };
        const char *opt[] = { "--vm-id", "x", "dom", "migrate", "begin", "-", NULL };
        const char *const *cases[] = { none, one, five, opt };
        ThRun r;

        for (size_t i = 0; i < HPVM_ARRAY_SIZE(cases); i++) {
                run_libvirt(src_xml, strlen(src_xml), cases[i], &r);
                assert_one_line(&r, 1, "hpvm: libvirt_qemu: ");
                th_run_clear(&r);
        }
}
END_TEST

/* ---------------------------------------------------------------- a damaged ledger */

START_TEST(test_damaged_ledger)
{
        static const char damaged[] = "hpvm-state 1 cpus\nvm x cpus=%zz\n";
        const char *env[] = { "vmId=" UUID_A, NULL };
        char *state = strf("%s/state", dir), *l;
        ThRun r;

        ck_assert_int_eq(mkdir(state, 0755), 0);
        th_write(ledger, damaged, strlen(damaged), 0644);
        /* Refused cleanly where a decision needs it... */
        run_vdsm(hook_dst, env, &r);
        assert_one_line(&r, 2, NULL);
        ck_assert_msg(strstr(r.err, ledger) && strstr(r.err, "the state file is damaged; rebuild it with "
                                                          "hpvm-fit --repair-ledger"), "%s", r.err);
        th_run_clear(&r);
        run_lv(src_xml, "migrate", "begin", &r);
        assert_one_line(&r, 1, NULL);
        ck_assert_ptr_nonnull(strstr(r.err, "the state file is damaged"));
        th_run_clear(&r);
        run_vdsm(hook_arrived, env, &r);
        assert_one_line(&r, 1, NULL);
        th_run_clear(&r);
        run_vdsm(hook_left, env, &r);
        assert_one_line(&r, 1, NULL);
        th_run_clear(&r);
        run_vdsm(hook_destroy, env, &r);
        assert_one_line(&r, 1, NULL);
        th_run_clear(&r);
        /* ... and a warning where libvirt must not fail: started and release. */
        run_lv(src_xml, "started", "begin", &r);
        assert_one_line(&r, 0, "hpvm: warning: ");
        th_run_clear(&r);
        run_lv(src_xml, "release", "end", &r);
        assert_one_line(&r, 0, "hpvm: warning: ");
        th_run_clear(&r);
        /* Never repaired behind the administrator's back. */
        l = ledger_text();
        ck_assert_str_eq(l, damaged);
        free(l);
        free(state);
}
END_TEST

/* ---------------------------------------------------------------- at the same moment */

/* Checks of several incoming VMs started at once: the ledger's lock makes their reservations disjoint. */
START_TEST(test_dst_parallel)
{
        enum { N = 6 };
        pid_t pids[N];
        char *files[N], *l;
        HpvmCpuSet seen;
        unsigned fitted = 0;

        for (int i = 0; i < N; i++) {
                char *xml = strdup(src_xml), *p;

                /* 12 vCPUs each: one fits a 2x8 host; another VM, another uuid. */
                p = strstr(xml, UUID_A);
                p[0] = (char)('0' + i);
                files[i] = strf("%s/vm%d.xml", dir, i);
                th_write(files[i], xml, strlen(xml), 0600);
                free(xml);
        }
        for (int i = 0; i < N; i++) {
                pids[i] = fork();
                ck_assert_int_ge(pids[i], 0);
                if (pids[i] == 0) {
                        char *env_file = strf("_hook_domxml=%s", files[i]);
                        char *envp[] = { conf_env, env_file, (char *)"PATH=/usr/bin:/bin", NULL };
                        char *argv[] = { hook_dst, NULL };
                        int devnull = open("/dev/null", O_WRONLY);

                        dup2(devnull, 1);
                        dup2(devnull, 2);
                        execve(hook_dst, argv, envp);
                        _exit(127);
                }
        }
        for (int i = 0; i < N; i++) {
                int status;

                ck_assert_int_eq(waitpid(pids[i], &status, 0), pids[i]);
                ck_assert(WIFEXITED(status));
                ck_assert_msg(WEXITSTATUS(status) == 0 || WEXITSTATUS(status) == 2, "exit %d", WEXITSTATUS(status));
                fitted += WEXITSTATUS(status) == 0;
                free(files[i]);
        }
        ck_assert_uint_eq(fitted, 1);
        /* Whoever won holds 12 CPUs; nobody else holds any. */
        l = ledger_text();
        hpvm_cpuset_zero(&seen);
        for (const char *p = l; (p = strstr(p, " cpus=")); p++) {
                HpvmCpuSet s;
                size_t len = strcspn(p + 6, " \n");

                ck_assert_int_eq(hpvm_cpuset_parse(p + 6, len, HPVM_CPUSET_MAX, "CPU", &s, NULL), 0);
                ck_assert_msg(!hpvm_cpuset_intersects(&s, &seen), "two reservations share a CPU: %s", l);
                hpvm_cpuset_or(&seen, &s);
        }
        ck_assert_uint_eq(hpvm_cpuset_count(&seen), 12);
        free(l);
}
END_TEST

/* ---------------------------------------------------------------- the source side and destroy */

START_TEST(test_release)
{
        const char *env[] = { "vmId=" UUID_A, NULL };
        const char *argv[] = { hook_destroy, NULL };
        const char *no_id[] = { conf_env, NULL };
        _cleanup_free_ char *l = NULL;
        ThRun r;

        run_vdsm(hook_dst, env, &r);
        ck_assert_int_eq(r.status, 0);
        th_run_clear(&r);
        /* After a successful migration away, by the XML's uuid (no $vmId). */
        run_vdsm(hook_left, NULL, &r);
        ck_assert_int_eq(r.status, 0);
        ck_assert_str_eq(r.err, "hpvm: released the host CPUs of VM db-large-01\n");
        th_run_clear(&r);
        l = ledger_text();
        ck_assert_str_eq(l, "hpvm-state 1 cpus\n");
        /* Nothing to release: exit 0, silent. */
        run_vdsm(hook_left, env, &r);
        ck_assert_int_eq(r.status, 0);
        ck_assert_str_eq(r.err, "");
        th_run_clear(&r);
        /* after_vm_destroy: by $vmId, the file empty as vdsm hands it. */
        run_vdsm(hook_dst, env, &r);
        th_run_clear(&r);
        th_write(domxml, "", 0, 0600);
        run_vdsm(hook_destroy, env, &r);
        ck_assert_int_eq(r.status, 0);
        ck_assert_str_eq(r.err, "hpvm: released the host CPUs of VM " UUID_A "\n");
        th_run_clear(&r);
        /* No $vmId and no file: one line, exit 1 (vdsm logs it). */
        th_run(argv, no_id, 30, &r);
        assert_one_line(&r, 1, "hpvm: no VM to release: no $vmId and no domain XML");
        th_run_clear(&r);
        run_vdsm(hook_destroy, (const char *const[]) { "vmId=not a token", NULL }, &r);
        assert_one_line(&r, 1, "hpvm: 'not a token' cannot name a VM in the ledger");
        th_run_clear(&r);
}
END_TEST

/* ---------------------------------------------------------------- SR-IOV VF NICs */

/*
 * The source XML with @n failover VF NICs (network "sriov-fo" in vdsm's
 * metadata), each at a VF address the destination does not have
 * (0000:5e:10.<i>), paired with a virtio NIC of the same MAC.
 */
static char *with_vfs(unsigned n)
{
        char *meta = strdup(""), *devs = strdup(""), *t, *s, *at;

        for (unsigned i = 0; i < n; i++) {
                t = strf("%s      <ovirt-vm:device mac_address='00:1a:4a:16:01:%02x'>"
                         "<ovirt-vm:network>sriov-fo</ovirt-vm:network></ovirt-vm:device>\n", meta, i);
                free(meta);
                meta = t;
                t = strf("%s    <interface type='bridge'><mac address='00:1a:4a:16:01:%02x'/><source bridge='ovirtmgmt'/>"
                         "<model type='virtio'/><teaming type='persistent'/><alias name='ua-bk%u'/></interface>\n"
                         "    <interface type='hostdev' managed='yes'><mac address='00:1a:4a:16:01:%02x'/>"
                         "<source><address type='pci' domain='0x0000' bus='0x5e' slot='0x10' function='0x%x'/></source>"
                         "<teaming type='transient' persistent='ua-bk%u'/><alias name='ua-vf%u'/></interface>\n",
                         devs, i, i, i, i, i, i);
                free(devs);
                devs = t;
        }
        at = strstr(src_xml, "    </ovirt-vm:vm>");
        ck_assert_ptr_nonnull(at);
        t = strf("%.*s%s%s", (int)(at - src_xml), src_xml, meta, at);
        at = strstr(t, "  </devices>");
        ck_assert_ptr_nonnull(at);
        s = strf("%.*s%s%s", (int)(at - t), t, devs, at);
        free(t);
        free(meta);
        free(devs);
        return s;
}

static char *vf_ledger_text(void)
{
        _cleanup_free_ char *path = strf("%s/state/vfs", dir);
        struct stat st;

        return stat(path, &st) == 0 ? th_slurp(path, NULL) : strdup("");
}

START_TEST(test_vf_sequence)
{
        const char *env[] = { "vmId=" UUID_A, NULL };
        _cleanup_free_ char *host = strf("%s/host", dir), *four = with_vfs(4), *one = with_vfs(1);
        _cleanup_free_ char *l = NULL, *out = NULL;
        ThRun r;

        th_sriov_small(host);
        /* Four VF NICs, three VFs here: refused, and the CPUs the check had reserved go too. */
        th_write(domxml, four, strlen(four), 0600);
        run_vdsm(hook_dst, env, &r);
        ck_assert_msg(r.status == 2, "exit %d: %s", r.status, r.err);
        ck_assert_msg(strstr(r.err, "sriov-fo") != NULL, "the refusal names no network: %s", r.err);
        ck_assert_str_eq(r.out, "");
        th_run_clear(&r);
        l = ledger_text();
        ck_assert_msg(strstr(l, UUID_A) == NULL, "CPUs still reserved after the VF refusal:\n%s", l);
        free(l);
        l = vf_ledger_text();
        ck_assert_msg(strstr(l, UUID_A) == NULL, "VFs still reserved after the refusal:\n%s", l);
        free(l);
        /* One VF NIC: the CPUs and a VF of node 0 (where the CPUs of guest cell 0 are) are reserved. */
        th_write(domxml, one, strlen(one), 0600);
        run_vdsm(hook_dst, env, &r);
        ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
        ck_assert_msg(strstr(r.err, "\nhpvm: reserved 1 VF on this host for the VM's VF NICs\n") != NULL, "%s", r.err);
        th_run_clear(&r);
        l = vf_ledger_text();
        ck_assert_msg(strstr(l, " state=reserved vm=" UUID_A " mac=00:1a:4a:16:01:00 network=sriov-fo ") != NULL,
                      "%s", l);
        free(l);
        /* migrate begin: the pins re-fitted and the failover VF pointed at the VF reserved here. */
        run_lv(one, "migrate", "begin", &r);
        ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
        ck_assert_msg(strstr(r.err, "hpvm: pointed 1 failover VF NIC at the VFs reserved on this host\n") != NULL,
                      "%s", r.err);
        ck_assert_msg(strstr(r.out, "bus=\"0x5e\"") == NULL && strstr(r.out, "bus='0x5e'") == NULL,
                      "the source's VF address is still there:\n%s", r.out);
        ck_assert_msg(strstr(r.out, "bus=\"0x3b\"") != NULL || strstr(r.out, "bus='0x3b'") != NULL,
                      "no VF of this host:\n%s", r.out);
        ck_assert_ptr_nonnull(strstr(r.out, "persistent='ua-bk0'") ? r.out : strstr(r.out, "persistent=\"ua-bk0\""));
        out = r.out;
        r.out = NULL;
        th_run_clear(&r);
        /* The VM arrived: the reservation becomes "in use". */
        th_write(domxml, out, strlen(out), 0600);
        run_vdsm(hook_arrived, env, &r);
        ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
        th_run_clear(&r);
        l = vf_ledger_text();
        ck_assert_msg(strstr(l, " state=in-use vm=" UUID_A " ") != NULL, "%s", l);
        free(l);
        /* It stops here: after_vm_destroy (by $vmId, an empty file) releases the CPUs and the VF. */
        th_write(domxml, "", 0, 0600);
        run_vdsm(hook_destroy, env, &r);
        ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
        ck_assert_str_eq(r.err, "hpvm: released the host CPUs of VM " UUID_A "\n"
                                "hpvm: released 1 VF of the VM in this host's VF ledger\n");
        th_run_clear(&r);
        l = vf_ledger_text();
        ck_assert_msg(strstr(l, UUID_A) == NULL, "%s", l);
}
END_TEST

/* A failed incoming migration: libvirt's release end takes the reservation's VFs with its CPUs. */
START_TEST(test_vf_release_end)
{
        const char *env[] = { "vmId=" UUID_A, NULL };
        _cleanup_free_ char *host = strf("%s/host", dir), *two = with_vfs(2), *l = NULL;
        ThRun r;

        th_sriov_small(host);
        th_write(domxml, two, strlen(two), 0600);
        run_vdsm(hook_dst, env, &r);
        ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
        th_run_clear(&r);
        run_lv(two, "release", "end", &r);
        ck_assert_int_eq(r.status, 0);
        ck_assert_str_eq(r.out, "");
        ck_assert_str_eq(r.err, "hpvm: released the host CPUs of VM db-large-01\n"
                                "hpvm: released 2 VFs of the VM in this host's VF ledger\n");
        th_run_clear(&r);
        l = vf_ledger_text();
        ck_assert_msg(strstr(l, UUID_A) == NULL, "%s", l);
}
END_TEST

static Suite *hooks_suite(void)
{
        Suite *s = suite_create("migrate-hooks");
        TCase *tc;

        tc = tcase_create("destination");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_dst_fits);
        tcase_add_test(tc, test_dst_refuses);
        tcase_add_test(tc, test_dst_untouched_vm);
        tcase_add_test(tc, test_dst_parallel);
        tcase_add_loop_test(tc, test_vdsm_bad_args, 0, (int)HPVM_ARRAY_SIZE(bad_args));
        tcase_add_loop_test(tc, test_hostile_vdsm, 0, (int)HPVM_ARRAY_SIZE(hostile));
        tcase_set_timeout(tc, 60);
        suite_add_tcase(s, tc);

        tc = tcase_create("libvirt");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_lv_sequence);
        tcase_add_test(tc, test_lv_refuses);
        tcase_add_loop_test(tc, test_lv_other_ops, 0, (int)HPVM_ARRAY_SIZE(other_ops));
        tcase_add_test(tc, test_lv_bad_args);
        tcase_add_loop_test(tc, test_hostile_libvirt, 0, (int)HPVM_ARRAY_SIZE(hostile));
        tcase_set_timeout(tc, 60);
        suite_add_tcase(s, tc);

        tc = tcase_create("ledger");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_damaged_ledger);
        tcase_add_test(tc, test_release);
        tcase_set_timeout(tc, 60);
        suite_add_tcase(s, tc);

        tc = tcase_create("sriov");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_vf_sequence);
        tcase_add_test(tc, test_vf_release_end);
        tcase_set_timeout(tc, 60);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(hooks_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
