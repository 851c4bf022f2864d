/* test-crash.c: crash safety: before_vm_start and hpvm_file_replace killed (SIGKILL) at random moments leave the whole old or the whole new file. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"
#include "testhelp.h"
#include "util.h"

/*
 * Each run alternates the file between two known documents, so "old" and
 * "new" differ every time, and kills the writer after a delay drawn by one of
 * two strategies: uniform over a whole normal run, or "as soon as its
 * temporary file shows up" (plus a few microseconds), which lands kills inside
 * the short write window. A killed run may leave its temporary file behind:
 * that is allowed, counted and removed; the file itself must always be whole.
 *
 * Both tests stop early when their time budget is spent (10 s for the hook,
 * 3 s for hpvm_file_replace), so the suite stays under 20 s on a slow or busy
 * machine, and report how many runs they made.
 * Environment: HPVM_CRASH_ITERATIONS (default 200 per test), HPVM_CRASH_SEED
 * (default: time), HPVM_CRASH_BUDGET (seconds per test, overrides both budgets).
 */

#define VCPUS 512
#define DISKS 8000              /* about 2 MB of domain XML */
#define STATE_LINES 40000       /* about 1 MB per state file version */
#define HOOK_BUDGET_S 10
#define REPLACE_BUDGET_S 3
#define CPUTUNE_A "cputune=0#0-3,1#4-7,511#16-19"
#define CPUTUNE_B "cputune=0#4-7,1#0-3,511#8-11"

static char *tmp;

static void setup(void)
{
        tmp = th_tmpdir();
}

static void teardown(void)
{
        th_rmtree(tmp);
        free(tmp);
}

/* ---------------------------------------------------------------- helpers */

static uint64_t now_us(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static uint64_t rng_state;

static uint64_t rng_next(void)
{
        /* xorshift64*: reproducible from the printed seed, good enough for delays. */
        rng_state ^= rng_state >> 12;
        rng_state ^= rng_state << 25;
        rng_state ^= rng_state >> 27;
        return rng_state * UINT64_C(2685821657736338717);
}

static uint64_t rng_below(uint64_t n)
{
        return n ? rng_next() % n : 0;
}

static void rng_seed(void)
{
        const char *s = getenv("HPVM_CRASH_SEED");

        rng_state = s && *s ? strtoull(s, NULL, 0) : now_us() ^ ((uint64_t)getpid() << 32);
        if (!rng_state)
                rng_state = 1;
        printf("test-crash: seed %llu (set HPVM_CRASH_SEED to repeat)\n", (unsigned long long)rng_state);
}

static unsigned env_uint(const char *name, unsigned dflt)
{
        const char *s = getenv(name);

        return s && *s ? (unsigned)strtoul(s, NULL, 10) : dflt;
}

static void sleep_us(uint64_t us)
{
        struct timespec ts = { .tv_sec = (time_t)(us / 1000000), .tv_nsec = (long)(us % 1000000) * 1000 };

        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

/* Names of hpvm_file_replace's temporary files for @base: ".<base>.hpvm-XXXXXX". */
static bool is_temp_of(const char *name, const char *base)
{
        size_t blen = strlen(base);

        return name[0] == '.' && !strncmp(name + 1, base, blen) && !strncmp(name + 1 + blen, ".hpvm-", 6) &&
               strlen(name + 1 + blen + 6) == 6;
}

/*
 * Count the temporary files of @base in the test folder, removing them when
 * @remove. Any other stranger in the folder fails the test.
 */
static unsigned count_temps(const char *base, bool remove)
{
        DIR *d = opendir(tmp);
        struct dirent *e;
        unsigned n = 0;

        ck_assert_ptr_nonnull(d);
        while ((e = readdir(d))) {
                if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || !strcmp(e->d_name, base))
                        continue;
                ck_assert_msg(is_temp_of(e->d_name, base), "unexpected file %s in %s", e->d_name, tmp);
                n++;
                if (remove) {
                        char *p;

                        ck_assert_int_ge(asprintf(&p, "%s/%s", tmp, e->d_name), 0);
                        ck_assert_int_eq(unlink(p), 0);
                        free(p);
                }
        }
        closedir(d);
        return n;
}

typedef struct Version {
        char *data;
        size_t len;
} Version;

static bool same(const char *buf, size_t len, const Version *v)
{
        return len == v->len && !memcmp(buf, v->data, len);
}

typedef enum KillWhen {
        KILL_RANDOM,    /* uniform delay over a whole normal run */
        KILL_AT_TEMP,   /* as soon as the temporary file exists */
} KillWhen;

typedef struct Tally {
        unsigned runs, before, midwrite, after, finished, temps;
        uint64_t elapsed_us;
} Tally;

/*
 * Wait for child @pid, killing it according to @when; returns its wait
 * status. @full_us is how long a normal run takes.
 */
static int kill_child(pid_t pid, KillWhen when, uint64_t full_us, const char *base, uint64_t start)
{
        int status;

        if (when == KILL_RANDOM) {
                uint64_t at = start + rng_below(full_us + full_us / 10 + 1);
                uint64_t now = now_us();

                if (at > now)
                        sleep_us(at - now);
        } else {
                /* Poll until the temporary file appears (or the run ends), then a few microseconds more. */
                uint64_t deadline = start + 4 * full_us + 1000000;

                while (now_us() < deadline) {
                        siginfo_t si = { 0 };

                        /* WNOWAIT: notice the end without reaping, so the pid stays ours until waitpid below. */
                        ck_assert_int_eq(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT), 0);
                        if (si.si_pid == pid)
                                break;
                        if (count_temps(base, false)) {
                                sleep_us(rng_below(400));
                                break;
                        }
                }
        }
        kill(pid, SIGKILL);     /* harmless if it has already exited: it is a zombie until waited for */
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        return status;
}

/*
 * Judge one killed run: the file must be @old or @new byte for byte; a
 * leftover temporary file means the kill landed mid-write (and then the file
 * must still be @old). Returns true when the file now holds @new.
 */
static bool judge(const char *path, const char *base, int status, const Version *old, const Version *new,
                  Tally *t)
{
        _cleanup_free_ char *now = NULL;
        unsigned temps = count_temps(base, true);
        struct stat st;
        size_t len;
        bool is_new;

        now = th_slurp(path, &len);
        is_new = same(now, len, new);
        ck_assert_msg(is_new || same(now, len, old),
                      "run %u: %s is neither the whole old (%zu bytes) nor the whole new (%zu bytes) content: %zu bytes",
                      t->runs, path, old->len, new->len, len);
        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert_int_eq(st.st_mode & 07777, 0600);

        t->runs++;
        t->temps += temps;
        if (WIFEXITED(status)) {
                ck_assert_msg(WEXITSTATUS(status) == 0, "run %u: the writer failed with exit %d", t->runs,
                              WEXITSTATUS(status));
                ck_assert_msg(is_new && temps == 0, "run %u: finished but the file is not the new one", t->runs);
                t->finished++;
        } else {
                ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "run %u: status %#x", t->runs,
                              status);
                if (temps) {
                        ck_assert_msg(!is_new, "run %u: a temporary file is left but the file is already new",
                                      t->runs);
                        t->midwrite++;
                } else if (is_new) {
                        t->after++;
                } else {
                        t->before++;
                }
        }
        return is_new;
}

static void report(const char *what, const char *size, const Tally *t)
{
        printf("test-crash: %s (%s): %u runs in %.1f s: killed before the write %u, mid-write %u "
               "(temporary files left: %u), after the rename %u; finished before the kill %u; "
               "the file was always the whole old or the whole new content\n",
               what, size, t->runs, (double)t->elapsed_us / 1e6, t->before, t->midwrite, t->temps, t->after,
               t->finished);
        fflush(stdout);
}

/* ---------------------------------------------------------------- before_vm_start */

/* A large domain: 512 vCPUs, each already pinned, and thousands of disks. */
static char *big_domain(size_t *ret_len)
{
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);

        ck_assert_ptr_nonnull(f);
        fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                   "<domain type=\"kvm\">\n"
                   "  <name>crash-test</name>\n"
                   "  <uuid>6f1c2a9e-0d3b-4c57-9a8e-2b4d6f8a0c13</uuid>\n"
                   "  <memory unit=\"KiB\">16777216</memory>\n"
                   "  <vcpu placement=\"static\">%d</vcpu>\n"
                   "  <cputune>\n", VCPUS);
        for (unsigned i = 0; i < VCPUS; i++)
                fprintf(f, "    <vcpupin vcpu=\"%u\" cpuset=\"0-19\"/>\n", i);
        fprintf(f, "  </cputune>\n"
                   "  <os>\n"
                   "    <type arch=\"x86_64\" machine=\"q35\">hvm</type>\n"
                   "  </os>\n"
                   "  <devices>\n"
                   "    <emulator>/usr/bin/qemu-system-x86_64</emulator>\n");
        for (unsigned i = 0; i < DISKS; i++)
                fprintf(f, "    <disk type=\"file\" device=\"disk\">\n"
                           "      <driver name=\"qemu\" type=\"qcow2\" cache=\"none\" io=\"native\"/>\n"
                           "      <source file=\"/var/lib/libvirt/images/crash-test-%05u.qcow2\"/>\n"
                           "      <target dev=\"vd%05u\" bus=\"virtio\"/>\n"
                           "      <serial>crash-%05u</serial>\n"
                           "    </disk>\n", i, i, i);
        fprintf(f, "  </devices>\n</domain>\n");
        ck_assert_int_eq(fclose(f), 0);
        *ret_len = len;
        return buf;
}

typedef struct HookCtx {
        char *hook, *caps, *path;
} HookCtx;

/* The document the hook makes of @path's current content with @prop, without touching it. */
static void dry_run(const HookCtx *c, const char *prop, Version *ret)
{
        const char *argv[] = { c->hook, "--dry-run", "--domxml", c->path, "--host-caps", c->caps, NULL };
        const char *env[] = { prop, NULL };
        ThRun r;

        th_run(argv, env, 60, &r);
        ck_assert_msg(r.status == 0, "dry run with %s: exit %d: %s", prop, r.status, r.err);
        ret->data = r.out;
        ret->len = strlen(r.out);
        r.out = NULL;
        th_run_clear(&r);
}

static pid_t spawn_hook(const HookCtx *c, const char *prop)
{
        const char *argv[] = { c->hook, "--domxml", c->path, "--host-caps", c->caps, NULL };
        const char *envp[] = { "PATH=/usr/bin:/bin", "LC_ALL=C.UTF-8", prop, th_config_env(), NULL };
        pid_t pid = fork();

        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                int devnull = open("/dev/null", O_RDWR);

                dup2(devnull, 0);
                dup2(devnull, 1);
                dup2(devnull, 2);
                execve(argv[0], (char *const *)argv, (char *const *)envp);
                _exit(127);
        }
        return pid;
}

START_TEST(test_hook_killed)
{
        HookCtx c = { 0 };
        _cleanup_free_ char *base_doc = NULL, *src_caps = th_src("tests/data/caps/caps-4node.xml");
        Version v[2], again;
        const char *props[2] = { CPUTUNE_A, CPUTUNE_B };
        unsigned iterations = env_uint("HPVM_CRASH_ITERATIONS", 200);
        uint64_t budget = (uint64_t)env_uint("HPVM_CRASH_BUDGET", HOOK_BUDGET_S) * 1000000, full_us = 0, start;
        Tally t = { 0 };
        size_t base_len;
        int cur;
        char size[128];

        rng_seed();
        ck_assert_int_ge(asprintf(&c.hook, "%s/hooks/before_vm_start", th_builddir()), 0);
        ck_assert_int_ge(asprintf(&c.path, "%s/vm.xml", tmp), 0);
        c.caps = src_caps;
        ck_assert_msg(access(c.hook, X_OK) == 0, "%s is not built", c.hook);

        /* v[0] = A applied, v[1] = B applied on top; A on top of v[1] must give v[0] again. */
        base_doc = big_domain(&base_len);
        th_write(c.path, base_doc, base_len, 0600);
        dry_run(&c, props[0], &v[0]);
        th_write(c.path, v[0].data, v[0].len, 0600);
        dry_run(&c, props[1], &v[1]);
        th_write(c.path, v[1].data, v[1].len, 0600);
        dry_run(&c, props[0], &again);
        ck_assert_msg(again.len == v[0].len && !memcmp(again.data, v[0].data, again.len),
                      "A, B, A does not come back to the same document");
        free(again.data);
        ck_assert_msg(v[0].len != v[1].len || memcmp(v[0].data, v[1].data, v[0].len),
                      "the two cputune values give the same document");
        ck_assert_msg(v[0].len > 2000000, "the test document is only %zu bytes", v[0].len);

        /* A normal (unkilled) run's duration scales the random delays. */
        th_write(c.path, v[0].data, v[0].len, 0600);
        cur = 0;
        for (int i = 0; i < 3; i++) {
                uint64_t s = now_us();
                pid_t pid = spawn_hook(&c, props[!cur]);
                int status;

                ck_assert_int_eq(waitpid(pid, &status, 0), pid);
                full_us = (now_us() - s + full_us * i) / (uint64_t)(i + 1);
                cur = judge(c.path, "vm.xml", status, &v[cur], &v[!cur], &t) ? !cur : cur;
        }
        memset(&t, 0, sizeof(t));

        start = now_us();
        for (unsigned i = 0; i < iterations && now_us() - start < budget; i++) {
                uint64_t s = now_us();
                pid_t pid = spawn_hook(&c, props[!cur]);
                int status = kill_child(pid, i % 2 ? KILL_AT_TEMP : KILL_RANDOM, full_us, "vm.xml", s);

                if (judge(c.path, "vm.xml", status, &v[cur], &v[!cur], &t))
                        cur = !cur;
        }
        t.elapsed_us = now_us() - start;
        snprintf(size, sizeof(size), "%zu-byte domain XML, %d vCPUs, normal run %.0f ms", v[0].len, VCPUS,
                 (double)full_us / 1000);
        report("before_vm_start", size, &t);
        ck_assert_msg(t.runs >= 10, "only %u runs fit in the time budget", t.runs);

        free(v[0].data);
        free(v[1].data);
        free(c.hook);
        free(c.path);
}
END_TEST

/* ---------------------------------------------------------------- hpvm_file_replace(durable) */

/* A state file version: many short lines, different lengths for the two versions. */
static void state_version(unsigned which, Version *ret)
{
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);

        ck_assert_ptr_nonnull(f);
        for (unsigned i = 0; i < STATE_LINES; i++)
                fprintf(f, "%s vm-%05u cpus=%u-%u\n", which ? "pinned" : "free", i, i % 64, i % 64 + which);
        ck_assert_int_eq(fclose(f), 0);
        ret->data = buf;
        ret->len = len;
}

static pid_t spawn_replace(const char *path, const Version *v)
{
        pid_t pid;

        fflush(stdout);
        fflush(stderr);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                HpvmError err = { 0 };

                _exit(hpvm_file_replace(path, v->data, v->len, true, &err) < 0 ? 1 : 0);
        }
        return pid;
}

START_TEST(test_replace_durable_killed)
{
        unsigned iterations = env_uint("HPVM_CRASH_ITERATIONS", 200);
        uint64_t budget = (uint64_t)env_uint("HPVM_CRASH_BUDGET", REPLACE_BUDGET_S) * 1000000, full_us = 0, start;
        _cleanup_free_ char *path = NULL;
        Version v[2];
        Tally t = { 0 };
        char size[128];
        int cur = 0;

        rng_seed();
        ck_assert_int_ge(asprintf(&path, "%s/state", tmp), 0);
        state_version(0, &v[0]);
        state_version(1, &v[1]);
        th_write(path, v[0].data, v[0].len, 0600);

        for (int i = 0; i < 3; i++) {
                uint64_t s = now_us();
                pid_t pid = spawn_replace(path, &v[!cur]);
                int status;

                ck_assert_int_eq(waitpid(pid, &status, 0), pid);
                full_us = (now_us() - s + full_us * i) / (uint64_t)(i + 1);
                cur = judge(path, "state", status, &v[cur], &v[!cur], &t) ? !cur : cur;
        }
        memset(&t, 0, sizeof(t));

        start = now_us();
        for (unsigned i = 0; i < iterations && now_us() - start < budget; i++) {
                uint64_t s = now_us();
                pid_t pid = spawn_replace(path, &v[!cur]);
                int status = kill_child(pid, i % 2 ? KILL_AT_TEMP : KILL_RANDOM, full_us, "state", s);

                if (judge(path, "state", status, &v[cur], &v[!cur], &t))
                        cur = !cur;
        }
        t.elapsed_us = now_us() - start;
        snprintf(size, sizeof(size), "%zu/%zu-byte state file, normal run %.1f ms", v[0].len, v[1].len,
                 (double)full_us / 1000);
        report("hpvm_file_replace(durable=true)", size, &t);
        ck_assert_msg(t.runs >= 10, "only %u runs fit in the time budget", t.runs);

        free(v[0].data);
        free(v[1].data);
}
END_TEST

static Suite *crash_suite(void)
{
        Suite *s = suite_create("crash");
        TCase *tc = tcase_create("kill");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_hook_killed);
        tcase_add_test(tc, test_replace_durable_killed);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(crash_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
