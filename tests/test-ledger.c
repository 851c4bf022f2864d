/* test-ledger.c: the CPU ledger: entries and reservations round trip, reclaim of stale and expired entries, usage, damage. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ledger.h"
#include "testhelp.h"

#define VM_A "0b6e1c9a-7d2f-4e31-9a58-1f0c2d3e4a5b"
#define VM_B "5c2d8e7f-1a3b-4c6d-8e9f-0a1b2c3d4e5f"
#define VM_C "9f8e7d6c-5b4a-4392-8172-6e5d4c3b2a10"

static char *dir;
static HpvmConfig *cfg;

static void setup(void)
{
        char text[512];
        HpvmError err = { 0 };

        dir = th_tmpdir();
        snprintf(text, sizeof(text), "state_dir=%s/state\n", dir);
        ck_assert_msg(hpvm_config_parse("test.conf", text, strlen(text), &cfg, &err) == 0, "%s", err.msg);
}

static void teardown(void)
{
        hpvm_config_free(cfg);
        th_rmtree(dir);
        free(dir);
}

static HpvmCpuSet set_of(const char *list)
{
        HpvmCpuSet s;

        hpvm_cpuset_zero(&s);
        if (*list)
                ck_assert_int_eq(hpvm_cpuset_parse(list, strlen(list), HPVM_CPUSET_MAX, "CPU", &s, NULL), 0);
        return s;
}

/* A fake proc tree under @root where QEMU runs the guests named. */
static void fake_qemu(const char *root, const char *const *uuids)
{
        char path[4096];

        snprintf(path, sizeof(path), "%s/proc", root);
        mkdir(root, 0755);
        mkdir(path, 0755);
        for (int i = 0; uuids[i]; i++) {
                char cmd[256];
                int n = snprintf(cmd, sizeof(cmd), "/usr/bin/qemu-system-x86_64%c-name%cguest=g%d%c-uuid%c%s%c",
                                 0, 0, i, 0, 0, uuids[i], 0);

                snprintf(path, sizeof(path), "%s/proc/%d", root, 100 + i);
                mkdir(path, 0755);
                snprintf(path, sizeof(path), "%s/proc/%d/cmdline", root, 100 + i);
                th_write(path, cmd, (size_t)n, 0644);
        }
}

START_TEST(test_round_trip)
{
        _cleanup_ledger_ HpvmLedger *l = NULL;
        _cleanup_ledger_entry_ HpvmLedgerEntry got = { 0 };
        HpvmLedgerEntry e = { .since = 1000, .expires = 1600, .reserved = true, .nvcpus = 3,
                              .has_emulator = true, .ncells = 2, .page_kib = 2048, .nnode_use = 2 };
        unsigned vcpus[] = { 4, 5, 12 }, cells[] = { 0, 1 };
        typeof(*e.node_use) use[] = { { 0, 512, 0 }, { 1, 256, 1024 } };
        HpvmError err = { 0 };

        snprintf(e.vm, sizeof(e.vm), VM_A);
        snprintf(e.name, sizeof(e.name), "big vm");
        e.cpus = set_of("4-5,12-13");
        e.emulator = set_of("13");
        e.vcpu_cpu = vcpus;
        e.cell_node = cells;
        e.node_use = use;
        ck_assert_msg(hpvm_ledger_open(cfg, &l, &err) == 0, "%s", err.msg);
        ck_assert_int_eq(hpvm_ledger_put(l, &e, &err), 0);
        ck_assert_int_eq(hpvm_ledger_commit(l, &err), 0);
        hpvm_ledger_close(l);

        ck_assert_int_eq(hpvm_ledger_open(cfg, &l, &err), 0);
        ck_assert_uint_eq(hpvm_ledger_count(l), 1);
        ck_assert_str_eq(hpvm_ledger_vm_at(l, 0), VM_A);
        ck_assert_msg(hpvm_ledger_get(l, VM_A, &got, &err) == 0, "%s", err.msg);
        ck_assert_str_eq(got.name, "big vm");
        ck_assert(got.reserved);
        ck_assert_int_eq(got.since, 1000);
        ck_assert_int_eq(got.expires, 1600);
        ck_assert(hpvm_cpuset_equal(&got.cpus, &e.cpus));
        ck_assert_uint_eq(got.nvcpus, 3);
        ck_assert_uint_eq(got.vcpu_cpu[2], 12);
        ck_assert(got.has_emulator && !got.has_iothreads);
        ck_assert(hpvm_cpuset_equal(&got.emulator, &e.emulator));
        ck_assert_uint_eq(got.ncells, 2);
        ck_assert_uint_eq(got.cell_node[1], 1);
        ck_assert_uint_eq(got.page_kib, 2048);
        ck_assert_uint_eq(got.nnode_use, 2);
        ck_assert_uint_eq(got.node_use[1].pages, 256);
        ck_assert_uint_eq(got.node_use[1].mem_kib, 1024);
        ck_assert_int_eq(hpvm_ledger_get(l, VM_B, &got, &err), -ENOENT);

        /* A new put replaces everything: no field of the reservation lingers on the running entry. */
        hpvm_ledger_entry_clear(&got);
        e.reserved = false;
        e.nvcpus = 0;
        e.ncells = 0;
        e.nnode_use = 0;
        e.has_emulator = false;
        ck_assert_int_eq(hpvm_ledger_put(l, &e, &err), 0);
        ck_assert_int_eq(hpvm_ledger_get(l, VM_A, &got, &err), 0);
        ck_assert(!got.reserved && got.nvcpus == 0 && got.nnode_use == 0 && !got.has_emulator);
        ck_assert_int_eq(hpvm_ledger_release(l, VM_A), 0);
        ck_assert_int_eq(hpvm_ledger_release(l, VM_A), -ENOENT);
}
END_TEST

static void put(HpvmLedger *l, const char *vm, const char *cpus, bool reserved, time_t since, time_t expires)
{
        HpvmLedgerEntry e = { .reserved = reserved, .since = since, .expires = expires, .cpus = set_of(cpus) };
        HpvmError err = { 0 };

        snprintf(e.vm, sizeof(e.vm), "%s", vm);
        ck_assert_msg(hpvm_ledger_put(l, &e, &err) == 0, "%s", err.msg);
}

START_TEST(test_reclaim)
{
        static const char *const running[] = { VM_B, NULL };
        _cleanup_ledger_ HpvmLedger *l = NULL;
        _cleanup_free_ char *root = NULL;
        HpvmWarnings warn = { 0 };
        HpvmError err = { 0 };

        ck_assert_int_ge(asprintf(&root, "%s/host", dir), 0);
        fake_qemu(root, running);
        ck_assert_int_eq(hpvm_ledger_open(cfg, &l, &err), 0);
        put(l, VM_A, "0-1", false, 1000, 0);    /* old, not running: stale */
        put(l, VM_B, "2-3", false, 1000, 0);    /* old, running: kept */
        put(l, VM_C, "4-5", false, 1950, 0);    /* young: kept whether it runs or not (still starting) */
        put(l, "vm-d", "6", true, 1000, 1999);  /* reservation past its expiry */
        put(l, "vm-e", "7", true, 1000, 2001);  /* reservation still valid */
        ck_assert_int_eq(hpvm_ledger_reclaim(l, 2000, 120, root, &warn, &err), 2);
        ck_assert_uint_eq(hpvm_ledger_count(l), 3);
        ck_assert_str_eq(hpvm_ledger_vm_at(l, 0), VM_B);
        ck_assert_str_eq(hpvm_ledger_vm_at(l, 1), VM_C);
        ck_assert_str_eq(hpvm_ledger_vm_at(l, 2), "vm-e");
        ck_assert_uint_eq(warn.n, 2);
        ck_assert_str_eq(warn.msg[0], "ledger: released the CPUs of VM " VM_A ": no QEMU process on this host runs it");
        ck_assert_str_eq(warn.msg[1], "ledger: released the CPUs of VM vm-d: its reservation for an incoming "
                                      "migration expired");

        /* When /proc cannot be read nothing is dropped: a VM that may run keeps its CPUs. */
        put(l, VM_A, "0-1", false, 1000, 0);
        ck_assert_int_lt(hpvm_ledger_reclaim(l, 2000, 120, "/nonexistent-hpvm", &warn, &err), 0);
        ck_assert_uint_eq(hpvm_ledger_count(l), 4);
}
END_TEST

START_TEST(test_apply)
{
        _cleanup_ledger_ HpvmLedger *l = NULL;
        _cleanup_host_ HpvmHost *h = hpvm_host_new();
        _cleanup_usage_ HpvmUsage *u = NULL;
        HpvmLedgerEntry e = { .reserved = true, .since = 1, .expires = 99999999999, .page_kib = 2048, .nnode_use = 1 };
        typeof(*e.node_use) use[] = { { 1, 100, 1048576 } };
        HpvmCpuSet s;
        HpvmNode *n;
        HpvmError err = { 0 };
        char b[64];

        ck_assert_int_eq(hpvm_host_add_node(h, 0, NULL, 8388608, NULL), 0);
        ck_assert_int_eq(hpvm_host_add_node(h, 1, NULL, 8388608, &n), 0);
        ck_assert_int_eq(hpvm_node_set_pages(n, 2048, 300), 0);
        h->online = set_of("0-7");
        u = hpvm_usage_new(h);
        ck_assert_int_eq(hpvm_ledger_open(cfg, &l, &err), 0);
        put(l, VM_A, "0-1", false, 1, 0);
        snprintf(e.vm, sizeof(e.vm), VM_B);
        e.cpus = set_of("4");
        e.node_use = use;
        ck_assert_int_eq(hpvm_ledger_put(l, &e, &err), 0);

        /* Everything but the VM itself: a VM re-placed keeps the use of its own CPUs. */
        ck_assert_int_eq(hpvm_ledger_apply(l, h, u, VM_A, &err), 0);
        ck_assert_str_eq((hpvm_cpuset_format(&u->taken, b, sizeof(b)), b), "4");
        ck_assert_uint_eq(u->node[1].pages[0], 200);
        ck_assert_uint_eq(u->node[1].mem_kib, 8388608 - 1048576);
        ck_assert_uint_eq(u->node[0].mem_kib, 8388608);
        hpvm_usage_free_cpus(h, u, &s);
        ck_assert_str_eq((hpvm_cpuset_format(&s, b, sizeof(b)), b), "0-3,5-7");
}
END_TEST

START_TEST(test_damaged)
{
        static const char *const bad[] = {
                "hpvm-state 1 cpus\nvm " VM_A " state=running since=1 cpus=0-x\n",
                "hpvm-state 1 cpus\nvm " VM_A " state=maybe since=1 cpus=0\n",
                "hpvm-state 1 cpus\nvm " VM_A " state=running since=1 cpus=0-1 vcpus=0,7\n",
                "hpvm-state 1 cpus\nvm " VM_A " state=reserved since=1 cpus=0\n",
        };
        _cleanup_ledger_ HpvmLedger *l = NULL;
        _cleanup_ledger_entry_ HpvmLedgerEntry got = { 0 };
        _cleanup_host_ HpvmHost *h = hpvm_host_new();
        _cleanup_usage_ HpvmUsage *u = NULL;
        char path[4096];
        HpvmError err = { 0 };

        snprintf(path, sizeof(path), "%s/state", dir);
        mkdir(path, 0755);
        snprintf(path, sizeof(path), "%s/state/cpus", dir);
        th_write(path, bad[_i], strlen(bad[_i]), 0664);
        u = hpvm_usage_new(h);
        ck_assert_int_eq(hpvm_ledger_open(cfg, &l, &err), 0);
        /* Never a CPU handed out on the word of a broken entry: whoever reads it is refused. */
        ck_assert_int_eq(hpvm_ledger_get(l, VM_A, &got, &err), -EBADMSG);
        ck_assert_int_eq(hpvm_ledger_apply(l, h, u, NULL, &err), -EBADMSG);
        ck_assert_msg(strstr(err.msg, "the state file is damaged; rebuild it with hpvm-fit --repair-ledger") &&
                      strstr(err.msg, path), "%s", err.msg);
        ck_assert_ptr_null(strchr(err.msg, '\n'));

        /* A file that does not parse at all refuses the open, naming it. */
        hpvm_ledger_close(l);
        l = NULL;
        th_write(path, "junk\n", 5, 0664);
        ck_assert_int_eq(hpvm_ledger_open(cfg, &l, &err), -EBADMSG);
        ck_assert_msg(strstr(err.msg, path) && strstr(err.msg, "hpvm-fit --repair-ledger"), "%s", err.msg);
        ck_assert_int_eq(hpvm_ledger_open_reset(cfg, &l, &err), 0);
        ck_assert_uint_eq(hpvm_ledger_count(l), 0);
}
END_TEST

/* One taker: opens the ledger, takes the first two CPUs nobody holds and commits; 0 on success.
 * Everything is freed before it returns, so valgrind's leak check in the child stays quiet. */
static int take_two(int i)
{
        _cleanup_ledger_ HpvmLedger *mine = NULL;
        _cleanup_host_ HpvmHost *h = hpvm_host_new();
        _cleanup_usage_ HpvmUsage *u = NULL;
        HpvmError err = { 0 };
        HpvmLedgerEntry e = { .since = 1 };
        HpvmCpuSet fr;
        int first;

        hpvm_host_add_node(h, 0, NULL, 1, NULL);
        h->online = set_of("0-63");
        u = hpvm_usage_new(h);
        if (hpvm_ledger_open(cfg, &mine, &err) < 0 || hpvm_ledger_apply(mine, h, u, NULL, &err) < 0)
                return 1;
        hpvm_usage_free_cpus(h, u, &fr);
        first = hpvm_cpuset_next(&fr, 0);
        hpvm_cpuset_set(&e.cpus, (unsigned)first);
        hpvm_cpuset_set(&e.cpus, (unsigned)hpvm_cpuset_next(&fr, (unsigned)first + 1));
        snprintf(e.vm, sizeof(e.vm), "vm-%d", i);
        if (hpvm_ledger_put(mine, &e, &err) < 0 || hpvm_ledger_commit(mine, &err) < 0)
                return 1;
        return 0;
}

/* Twenty processes each take the first two CPUs nobody holds, under the lock: no CPU twice. */
START_TEST(test_concurrent_takers)
{
        _cleanup_ledger_ HpvmLedger *l = NULL;
        HpvmCpuSet all;
        HpvmError err = { 0 };
        pid_t pids[20];

        for (int i = 0; i < 20; i++) {
                pids[i] = fork();
                ck_assert_int_ge(pids[i], 0);
                if (pids[i] == 0)
                        _exit(take_two(i));
        }
        for (int i = 0; i < 20; i++) {
                int st;

                ck_assert_int_eq(waitpid(pids[i], &st, 0), pids[i]);
                ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        }
        ck_assert_int_eq(hpvm_ledger_open(cfg, &l, &err), 0);
        ck_assert_uint_eq(hpvm_ledger_count(l), 20);
        hpvm_cpuset_zero(&all);
        for (size_t i = 0; i < 20; i++) {
                _cleanup_ledger_entry_ HpvmLedgerEntry e = { 0 };

                ck_assert_int_eq(hpvm_ledger_get(l, hpvm_ledger_vm_at(l, i), &e, &err), 0);
                ck_assert_uint_eq(hpvm_cpuset_count(&e.cpus), 2);
                ck_assert_msg(!hpvm_cpuset_intersects(&all, &e.cpus), "a CPU was given twice");
                hpvm_cpuset_or(&all, &e.cpus);
        }
        ck_assert_uint_eq(hpvm_cpuset_count(&all), 40);
}
END_TEST

static Suite *ledger_suite(void)
{
        Suite *s = suite_create("ledger");
        TCase *tc = tcase_create("ledger");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_round_trip);
        tcase_add_test(tc, test_reclaim);
        tcase_add_test(tc, test_apply);
        tcase_add_loop_test(tc, test_damaged, 0, 4);
        tcase_add_test(tc, test_concurrent_takers);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(ledger_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
