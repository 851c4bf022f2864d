/* test-fit.c: the hpvm-fit binary: ranking of capabilities files, libvirt URIs and this host, --explain, --json, refusals, --repair-ledger. */
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "capsgen.h"
#include "config.h"
#include "ledger.h"
#include "testhelp.h"
#include "util.h"
#include "vmstart.h"

#define VM_UUID "0b3d6f4e-7c1a-4f8e-9d2b-6a5c4e3f2a10"      /* tests/data/domains/fit-db01.xml */
#define ARGS_MAX 32

static char *g_tmp;             /* this test's folder: hosts, domains, configuration, ledger */
static char *g_tool;            /* $HPVM_BUILDDIR/tools/hpvm-fit */
static char *g_vm;              /* tests/data/domains/fit-db01.xml: 8 vCPUs (4 cores x 2 threads), 8 GiB, 1 IO thread */

/* ---------------------------------------------------------------- helpers */

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

/* A path in the test's folder (malloc'd). */
static char *tmp_path(const char *name)
{
        return strf("%s/%s", g_tmp, name);
}

/* @text with every "@" replaced by the test's folder. */
static char *at_tmp(const char *text)
{
        size_t n = 0, len = strlen(g_tmp);
        char *out, *q;

        for (const char *p = text; *p; p++)
                n += *p == '@';
        out = malloc(strlen(text) + n * len + 1);
        ck_assert_ptr_nonnull(out);
        for (q = out; *text; text++) {
                if (*text == '@') {
                        memcpy(q, g_tmp, len);
                        q += len;
                } else {
                        *q++ = *text;
                }
        }
        *q = '\0';
        return out;
}

static void put(const char *name, const char *text)
{
        _cleanup_free_ char *path = tmp_path(name);

        th_write(path, text, strlen(text), 0644);
}

static void put_caps(const char *name, ThCapsSpec s)
{
        _cleanup_free_ char *path = tmp_path(name);

        ck_assert_int_eq(th_caps_write(path, &s), 0);
}

/*
 * Run hpvm-fit with @args (NULL-terminated; "@" in each is the test's
 * folder) and the configuration file <tmp>/@conf ("hpvm.conf" unless NULL
 * is asked for: then none at all, through an empty HPVM_CONFIG).
 */
static void run_fit(const char *conf, const char *const *args, ThRun *r)
{
        const char *argv[ARGS_MAX + 2] = { g_tool };
        char *owned[ARGS_MAX] = { 0 };
        _cleanup_free_ char *env_conf = conf ? strf("HPVM_CONFIG=%s/%s", g_tmp, conf) : strdup("HPVM_CONFIG=");
        const char *env[] = { env_conf, NULL };
        size_t n = 0;

        for (; args && args[n]; n++) {
                ck_assert_uint_lt(n, ARGS_MAX);
                owned[n] = at_tmp(args[n]);
                argv[n + 1] = owned[n];
        }
        argv[n + 1] = NULL;
        th_run(argv, env, 60, r);
        for (size_t i = 0; i < n; i++)
                free(owned[i]);
}

/* The run ended with @status, nothing on stderr, and printed @want ("@": the test's folder). */
static void assert_out(const ThRun *r, int status, const char *want)
{
        _cleanup_free_ char *expected = at_tmp(want);

        ck_assert_msg(r->status == status, "exit %d, expected %d; stderr: %s; stdout:\n%s", r->status, status,
                      r->err, r->out);
        ck_assert_str_eq(r->err, "");
        ck_assert_str_eq(r->out, expected);
}

/* A refusal: exit 2, nothing on stdout, exactly the one line @want on stderr. */
static void assert_refused(const ThRun *r, const char *want)
{
        _cleanup_free_ char *expected = at_tmp(want);

        ck_assert_msg(r->status == 2, "exit %d, expected 2; stderr: %s; stdout: %s", r->status, r->err, r->out);
        ck_assert_str_eq(r->out, "");
        ck_assert_uint_eq(th_lines(r->err), 1);
        ck_assert_str_eq(r->err, expected);
}

/*
 * The hosts every ranking test has (tests/capsgen.h numbers their CPUs):
 *   a   2 nodes x 8 cores x 2 threads, 64 GiB a node, distance 21, invtsc
 *   a2  the same as a (ties keep the input order)
 *   b   1 node x 4 cores x 1 thread (3 free CPUs, no SMT)
 *   c   4 nodes x 4 cores x 1 thread (no SMT: a 2-thread VM's cores cannot be kept on host cores)
 *   d   2 nodes x 16 cores x 2 threads, 64 GiB and 4096 2 MiB pages a node, invtsc
 *   e   2 nodes x 8 cores x 2 threads, 4 GiB a node (the VM must split), distance 32, no invtsc
 */
static void setup(void)
{
        g_tmp = th_tmpdir();
        g_tool = strf("%s/tools/hpvm-fit", th_builddir());
        g_vm = th_src("tests/data/domains/fit-db01.xml");
        put_caps("a.xml", (ThCapsSpec) { .nodes = 2, .cores = 8, .threads = 2, .mem_kib = 64 << 20, .remote = 21,
                                         .invtsc = true });
        put_caps("a2.xml", (ThCapsSpec) { .nodes = 2, .cores = 8, .threads = 2, .mem_kib = 64 << 20, .remote = 21,
                                          .invtsc = true });
        put_caps("b.xml", (ThCapsSpec) { .nodes = 1, .cores = 4, .threads = 1, .mem_kib = 16 << 20 });
        put_caps("c.xml", (ThCapsSpec) { .nodes = 4, .cores = 4, .threads = 1, .mem_kib = 16 << 20, .remote = 21 });
        put_caps("d.xml", (ThCapsSpec) { .nodes = 2, .cores = 16, .threads = 2, .mem_kib = 64 << 20, .pages_2m = 4096,
                                         .remote = 21, .invtsc = true });
        put_caps("e.xml", (ThCapsSpec) { .nodes = 2, .cores = 8, .threads = 2, .mem_kib = 4 << 20, .remote = 32 });
        put("damaged.xml", "<capabilities><host><topology><cells num='1'><cell id='x'/></cells>");
        put("hpvm.conf", "# test-fit\n");
        put("tiny.xml", "<domain type='kvm'><name>tiny</name><uuid>aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee</uuid>"
                        "<memory unit='KiB'>1024</memory><vcpu>2</vcpu><os><type>hvm</type></os></domain>\n");
}

static void teardown(void)
{
        th_rmtree(g_tmp);
        free(g_tmp);
        free(g_tool);
        free(g_vm);
}

/* ---------------------------------------------------------------- ranking */

START_TEST(test_rank_order)
{
        const char *args[] = { "--domain", g_vm, "@/a.xml", "@/b.xml", "@/c.xml", "@/d.xml", "@/e.xml", "@/a2.xml",
                               "@/damaged.xml", "@/missing.xml", NULL };
        ThRun r;

        run_fit("hpvm.conf", args, &r);
        assert_out(&r, 0,
                   "VM db01: 8 vCPUs, 8 GiB, cpupolicy dedicated; hosts that fit: 4 of 8\n"
                   "1. @/d.xml: fits, score 980: 8 vCPUs on node 0 (CPUs 1-4,33-36); emulator and IO threads on CPU 5\n"
                   "2. @/a.xml: fits, score 965: 8 vCPUs on node 0 (CPUs 1-4,17-20); emulator and IO threads on CPU 5\n"
                   "3. @/a2.xml: fits, score 965: 8 vCPUs on node 0 (CPUs 1-4,17-20); emulator and IO threads on CPU 5\n"
                   "4. @/e.xml: fits, score 474: 8 vCPUs on nodes 0-1 (CPUs 1-2,9-10,17-18,25-26) in 2 guest cells; "
                   "emulator and IO threads on CPU 3\n"
                   "-  @/b.xml: does not fit: the host has 0 cores with 2 free threads (after 1 reserved), the VM "
                   "needs 4 for its 8 vCPUs (cpupolicy=dedicated keeps the 2 threads of a guest core on one host core)\n"
                   "-  @/c.xml: does not fit: the host has 0 cores with 2 free threads (after 4 reserved), the VM "
                   "needs 4 for its 8 vCPUs (cpupolicy=dedicated keeps the 2 threads of a guest core on one host core)\n"
                   "-  @/damaged.xml: error: capabilities XML is not well-formed XML: line 1: Premature end of data in "
                   "tag topology line 1\n"
                   "-  @/missing.xml: error: cannot open @/missing.xml: No such file or directory\n");
        th_run_clear(&r);
}
END_TEST

START_TEST(test_no_host_fits)
{
        const char *args[] = { "--domain", g_vm, "@/b.xml", "@/damaged.xml", "@/c.xml", NULL };
        ThRun r;

        run_fit("hpvm.conf", args, &r);
        assert_out(&r, 1,
                   "VM db01: 8 vCPUs, 8 GiB, cpupolicy dedicated; hosts that fit: 0 of 3\n"
                   "-  @/b.xml: does not fit: the host has 0 cores with 2 free threads (after 1 reserved), the VM "
                   "needs 4 for its 8 vCPUs (cpupolicy=dedicated keeps the 2 threads of a guest core on one host core)\n"
                   "-  @/damaged.xml: error: capabilities XML is not well-formed XML: line 1: Premature end of data in "
                   "tag topology line 1\n"
                   "-  @/c.xml: does not fit: the host has 0 cores with 2 free threads (after 4 reserved), the VM "
                   "needs 4 for its 8 vCPUs (cpupolicy=dedicated keeps the 2 threads of a guest core on one host core)\n");
        th_run_clear(&r);
}
END_TEST

/* What the properties change, on hosts a, d and e: one table row per property set. */
static const struct {
        const char *props;
        int status;
        const char *rows;       /* the output after the VM's line */
} props_cases[] = {
        { "cputune=auto guestnuma=auto", 0,
          "1. @/d.xml: fits, score 980: 8 vCPUs on node 0 (CPUs 1-4,33-36); emulator and IO threads on CPU 5\n"
          "2. @/a.xml: fits, score 965: 8 vCPUs on node 0 (CPUs 1-4,17-20); emulator and IO threads on CPU 5\n"
          "3. @/e.xml: fits, score 474: 8 vCPUs on nodes 0-1 (CPUs 1-2,9-10,17-18,25-26) in 2 guest cells; "
          "emulator and IO threads on CPU 3\n" },
        /* A whole core per vCPU: a's node 0 has 7 free cores, so the VM spreads; d keeps one node. */
        { "cputune=auto cpupolicy=isolate", 0,
          "1. @/d.xml: fits, score 967: 8 vCPUs on node 0 (CPUs 1-8); emulator and IO threads on CPU 9\n"
          "2. @/a.xml: fits, score 580: 8 vCPUs on nodes 0-1 (CPUs 1-6,9-10) in 2 guest cells; "
          "emulator and IO threads on CPU 7\n"
          "3. @/e.xml: fits, score 445: 8 vCPUs on nodes 0-1 (CPUs 1-4,9-12) in 2 guest cells; "
          "emulator and IO threads on CPU 5\n" },
        { "cputune=auto cpupolicy=siblings", 0,
          "1. @/d.xml: fits, score 980: 8 vCPUs on node 0 (CPUs 1-4,33-36); emulator and IO threads on CPUs 5,37\n"
          "2. @/a.xml: fits, score 965: 8 vCPUs on node 0 (CPUs 1-4,17-20); emulator and IO threads on CPUs 5,21\n"
          "3. @/e.xml: fits, score 474: 8 vCPUs on nodes 0-1 (CPUs 1-2,9-10,17-18,25-26) in 2 guest cells; "
          "emulator and IO threads on CPUs 3,19\n" },
        /* Pinned by hand: emulatorpin and iothreadpin leave that thread out of the placement. */
        { "cputune=auto emulatorpin=0", 0,
          "1. @/d.xml: fits, score 980: 8 vCPUs on node 0 (CPUs 1-4,33-36); IO threads on CPU 5\n"
          "2. @/a.xml: fits, score 965: 8 vCPUs on node 0 (CPUs 1-4,17-20); IO threads on CPU 5\n"
          "3. @/e.xml: fits, score 474: 8 vCPUs on nodes 0-1 (CPUs 1-2,9-10,17-18,25-26) in 2 guest cells; "
          "IO threads on CPU 3\n" },
        { "cputune=auto iothreadpin=1#0", 0,
          "1. @/d.xml: fits, score 980: 8 vCPUs on node 0 (CPUs 1-4,33-36); emulator on CPU 5\n"
          "2. @/a.xml: fits, score 965: 8 vCPUs on node 0 (CPUs 1-4,17-20); emulator on CPU 5\n"
          "3. @/e.xml: fits, score 474: 8 vCPUs on nodes 0-1 (CPUs 1-2,9-10,17-18,25-26) in 2 guest cells; "
          "emulator on CPU 3\n" },
        /* numatune=auto alone places no emulator or IO thread (before_vm_start writes none). */
        { "numatune=auto", 0,
          "1. @/d.xml: fits, score 980: 8 vCPUs on node 0 (CPUs 1-4,33-36)\n"
          "2. @/a.xml: fits, score 965: 8 vCPUs on node 0 (CPUs 1-4,17-20)\n"
          "3. @/e.xml: fits, score 474: 8 vCPUs on nodes 0-1 (CPUs 1-2,9-10,17-18,25-26) in 2 guest cells\n" },
        /* Hand pins are kept where they are free and whole guest cores (a), else placed anew. */
        { "cputune=0#4,1#20,2#5,3#21,4#6,5#22,6#7,7#23 numatune=auto", 0,
          "1. @/d.xml: fits, score 980: 8 vCPUs on node 0 (CPUs 1-4,33-36); 0 of its 8 pins kept\n"
          "2. @/a.xml: fits, score 965: 8 vCPUs on node 0 (CPUs 4-7,20-23); 8 of its 8 pins kept\n"
          "3. @/e.xml: fits, score 474: 8 vCPUs on nodes 0-1 (CPUs 1-2,9-10,17-18,25-26) in 2 guest cells; "
          "0 of its 8 pins kept\n" },
        { "cputune=0#4,1#20,2#5,3#21,4#6,5#22,6#7,7#40 numatune=auto", 0,
          "1. @/d.xml: fits, score 980: 8 vCPUs on node 0 (CPUs 1-4,33-36); 0 of its 8 pins kept\n"
          "-  @/a.xml: does not fit: cputune: vCPU 7: host CPU 40 is not online (online CPUs: 0-31)\n"
          "-  @/e.xml: does not fit: cputune: vCPU 7: host CPU 40 is not online (online CPUs: 0-31)\n" },
        /* Typed cells replace the VM's: two cells go to two nodes. */
        { "cputune=auto guestnuma=0-3#4G,4-7#4G", 0,
          "1. @/d.xml: fits, score 624: 8 vCPUs on nodes 0-1 (CPUs 1-2,17-18,33-34,49-50) in 2 guest cells; "
          "emulator and IO threads on CPU 3\n"
          "2. @/a.xml: fits, score 609: 8 vCPUs on nodes 0-1 (CPUs 1-2,9-10,17-18,25-26) in 2 guest cells; "
          "emulator and IO threads on CPU 3\n"
          "3. @/e.xml: fits, score 474: 8 vCPUs on nodes 0-1 (CPUs 1-2,9-10,17-18,25-26) in 2 guest cells; "
          "emulator and IO threads on CPU 3\n" },
        { "cputune=auto hugepages=2048", 0,
          "1. @/d.xml: fits, score 936: 8 vCPUs on node 0 (CPUs 1-4,33-36); emulator and IO threads on CPU 5\n"
          "-  @/a.xml: does not fit: the host has 0 free pages of 2 MiB, the VM needs 4096\n"
          "-  @/e.xml: does not fit: the host has 0 free pages of 2 MiB, the VM needs 4096\n" },
        { "cputune=auto hugepages=1048576", 1,
          "-  @/a.xml: does not fit: the host has 0 free pages of 1 GiB, the VM needs 8\n"
          "-  @/d.xml: does not fit: the host has 0 free pages of 1 GiB, the VM needs 8\n"
          "-  @/e.xml: does not fit: the host has 0 free pages of 1 GiB, the VM needs 8\n" },
        { "cputune=auto invtsc=true", 0,
          "1. @/d.xml: fits, score 980: 8 vCPUs on node 0 (CPUs 1-4,33-36); emulator and IO threads on CPU 5\n"
          "2. @/a.xml: fits, score 965: 8 vCPUs on node 0 (CPUs 1-4,17-20); emulator and IO threads on CPU 5\n"
          "-  @/e.xml: does not fit: invtsc: the host CPU has no invariant TSC, so the VM cannot require it\n" },
        { "cputune=auto numatune=strict#3", 1,
          "-  @/a.xml: does not fit: numatune: host NUMA node 3 does not exist or has no memory (nodes with "
          "memory: 0-1)\n"
          "-  @/d.xml: does not fit: numatune: host NUMA node 3 does not exist or has no memory (nodes with "
          "memory: 0-1)\n"
          "-  @/e.xml: does not fit: numatune: host NUMA node 3 does not exist or has no memory (nodes with "
          "memory: 0-1)\n" },
        { "cputune=auto emulatorpin=32-33", 0,
          "1. @/d.xml: fits, score 980: 8 vCPUs on node 0 (CPUs 1-4,33-36); IO threads on CPU 5\n"
          "-  @/a.xml: does not fit: emulatorpin: host CPU 32-33 is not online (online CPUs: 0-31)\n"
          "-  @/e.xml: does not fit: emulatorpin: host CPU 32-33 is not online (online CPUs: 0-31)\n" },
};

START_TEST(test_props)
{
        const char *args[] = { "--domain", g_vm, "--props", props_cases[_i].props, "@/a.xml", "@/d.xml", "@/e.xml",
                               NULL };
        _cleanup_free_ char *want = NULL;
        ThRun r;
        int fits = 0;

        for (const char *p = props_cases[_i].rows; (p = strstr(p, ": fits, ")); p++)
                fits++;
        want = strf("VM db01: 8 vCPUs, 8 GiB, cpupolicy %s; hosts that fit: %d of 3\n%s",
                    strstr(props_cases[_i].props, "isolate") ? "isolate" :
                    strstr(props_cases[_i].props, "siblings") ? "siblings" : "dedicated",
                    fits, props_cases[_i].rows);
        run_fit("hpvm.conf", args, &r);
        assert_out(&r, props_cases[_i].status, want);
        th_run_clear(&r);
}
END_TEST

/* Every property before_vm_start reads is one hpvm-fit takes (an empty value: not set, as in the hook). */
START_TEST(test_every_hook_property_known)
{
        for (const char *const *name = hpvm_vmstart_props; *name; name++) {
                _cleanup_free_ char *props = strf("%s= cputune=auto", *name);
                const char *args[] = { "--domain", g_vm, "--props", props, "@/a.xml", NULL };
                ThRun r;

                run_fit("hpvm.conf", args, &r);
                ck_assert_msg(r.status == 0, "--props '%s': exit %d: %s", props, r.status, r.err);
                th_run_clear(&r);
        }
}
END_TEST

START_TEST(test_explain)
{
        const char *args[] = { "--domain", g_vm, "--explain", "--props", "cputune=auto cpupolicy=isolate", "@/a.xml",
                               "@/b.xml", NULL };
        ThRun r;

        run_fit("hpvm.conf", args, &r);
        assert_out(&r, 0,
                   "VM db01: 8 vCPUs, 8 GiB, cpupolicy isolate; hosts that fit: 1 of 2\n"
                   "1. @/a.xml: fits, score 580: 8 vCPUs on nodes 0-1 (CPUs 1-6,9-10) in 2 guest cells; "
                   "emulator and IO threads on CPU 7\n"
                   "   guest cell 0 -> node 0: vCPUs 0-5, 6 GiB\n"
                   "   guest cell 1 -> node 1: vCPUs 6-7, 2 GiB\n"
                   "   node 0: 64 GiB of memory, 0 of 0 pages of 2 MiB free, 0 of 0 pages of 1 GiB free\n"
                   "     0:R 16:R\n"
                   "     1:v0 17:h\n"
                   "     2:v1 18:h\n"
                   "     3:v2 19:h\n"
                   "     4:v3 20:h\n"
                   "     5:v4 21:h\n"
                   "     6:v5 22:h\n"
                   "     7:E 23:h\n"
                   "   node 1: 64 GiB of memory, 0 of 0 pages of 2 MiB free, 0 of 0 pages of 1 GiB free\n"
                   "     8:R 24:R\n"
                   "     9:v6 25:h\n"
                   "     10:v7 26:h\n"
                   "     11:. 27:.\n"
                   "     12:. 28:.\n"
                   "     13:. 29:.\n"
                   "     14:. 30:.\n"
                   "     15:. 31:.\n"
                   "   legend: CPU:what, one core per line; vN vCPU N, E emulator and IO threads, h held idle, "
                   "R reserved, T taken by another VM, . free\n"
                   "-  @/b.xml: does not fit: the host has 3 free whole cores (after 1 reserved), the VM needs 8 "
                   "(cpupolicy=isolate gives each vCPU a whole core)\n"
                   "   node 0: 16 GiB of memory, 0 of 0 pages of 2 MiB free, 0 of 0 pages of 1 GiB free\n"
                   "     0:R\n"
                   "     1:.\n"
                   "     2:.\n"
                   "     3:.\n"
                   "   legend: CPU:what, one core per line; vN vCPU N, E emulator and IO threads, h held idle, "
                   "R reserved, T taken by another VM, . free\n");
        th_run_clear(&r);
}
END_TEST

/* --pinned: CPUs other VMs hold on every host; the placement goes around them, or nothing fits. */
START_TEST(test_pinned)
{
        const char *args[] = { "--domain", g_vm, "--pinned", "1-4,17-20", "--explain", "@/a.xml", NULL };
        const char *full[] = { "--domain", g_vm, "--pinned", "1-7,9-15", "@/a.xml", NULL };
        ThRun r;

        run_fit("hpvm.conf", args, &r);
        assert_out(&r, 0,
                   "VM db01: 8 vCPUs, 8 GiB, cpupolicy dedicated; hosts that fit: 1 of 1\n"
                   "1. @/a.xml: fits, score 936: 8 vCPUs on node 1 (CPUs 9-12,25-28); emulator and IO threads on CPU 13\n"
                   "   held: CPUs 1-4,17-20 (--pinned)\n"
                   "   guest cell 0 -> node 1: vCPUs 0-7, 8 GiB\n"
                   "   node 0: 64 GiB of memory, 0 of 0 pages of 2 MiB free, 0 of 0 pages of 1 GiB free\n"
                   "     0:R 16:R\n"
                   "     1:T 17:T\n"
                   "     2:T 18:T\n"
                   "     3:T 19:T\n"
                   "     4:T 20:T\n"
                   "     5:. 21:.\n"
                   "     6:. 22:.\n"
                   "     7:. 23:.\n"
                   "   node 1: 64 GiB of memory, 0 of 0 pages of 2 MiB free, 0 of 0 pages of 1 GiB free\n"
                   "     8:R 24:R\n"
                   "     9:v0 25:v1\n"
                   "     10:v2 26:v3\n"
                   "     11:v4 27:v5\n"
                   "     12:v6 28:v7\n"
                   "     13:E 29:.\n"
                   "     14:. 30:.\n"
                   "     15:. 31:.\n"
                   "   legend: CPU:what, one core per line; vN vCPU N, E emulator and IO threads, h held idle, "
                   "R reserved, T taken by another VM, . free\n");
        th_run_clear(&r);

        run_fit("hpvm.conf", full, &r);
        assert_out(&r, 1,
                   "VM db01: 8 vCPUs, 8 GiB, cpupolicy dedicated; hosts that fit: 0 of 1\n"
                   "-  @/a.xml: does not fit: the host has 0 cores with 2 free threads (after 4 reserved and 14 held "
                   "by other VMs), the VM needs 4 for its 8 vCPUs (cpupolicy=dedicated keeps the 2 threads of a guest "
                   "core on one host core)\n");
        th_run_clear(&r);
}
END_TEST

/* ---------------------------------------------------------------- JSON */

/* A tiny JSON reader: enough to parse hpvm-fit's output back and find values in it. */
typedef enum { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ } JType;

typedef struct JVal {
        JType type;
        bool b;
        double num;
        char *str;              /* J_STR: the decoded UTF-8 */
        size_t n;
        char **keys;            /* J_OBJ */
        struct JVal *items;     /* J_ARR, J_OBJ */
} JVal;

typedef struct JIn {
        const char *s;
        const char *why;        /* the first error */
} JIn;

static void jfree(JVal *v)
{
        free(v->str);
        for (size_t i = 0; i < v->n; i++) {
                if (v->keys)
                        free(v->keys[i]);
                jfree(&v->items[i]);
        }
        free(v->keys);
        free(v->items);
}

static void jws(JIn *in)
{
        while (*in->s == ' ' || *in->s == '\n' || *in->s == '\t' || *in->s == '\r')
                in->s++;
}

static bool jerr(JIn *in, const char *why)
{
        if (!in->why)
                in->why = why;
        return false;
}

static void put_utf8(char **q, unsigned cp)
{
        unsigned char *o = (unsigned char *)*q;

        if (cp < 0x80) {
                *o++ = (unsigned char)cp;
        } else if (cp < 0x800) {
                *o++ = (unsigned char)(0xc0 | cp >> 6);
                *o++ = (unsigned char)(0x80 | (cp & 0x3f));
        } else if (cp < 0x10000) {
                *o++ = (unsigned char)(0xe0 | cp >> 12);
                *o++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
                *o++ = (unsigned char)(0x80 | (cp & 0x3f));
        } else {
                *o++ = (unsigned char)(0xf0 | cp >> 18);
                *o++ = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
                *o++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
                *o++ = (unsigned char)(0x80 | (cp & 0x3f));
        }
        *q = (char *)o;
}

static bool jhex4(JIn *in, unsigned *ret)
{
        unsigned v = 0;

        for (int i = 0; i < 4; i++) {
                char c = *in->s++;

                v <<= 4;
                if (c >= '0' && c <= '9')
                        v |= (unsigned)(c - '0');
                else if (c >= 'a' && c <= 'f')
                        v |= (unsigned)(c - 'a' + 10);
                else if (c >= 'A' && c <= 'F')
                        v |= (unsigned)(c - 'A' + 10);
                else
                        return jerr(in, "bad \\u escape");
        }
        *ret = v;
        return true;
}

static bool jstring(JIn *in, char **ret)
{
        char *out = malloc(strlen(in->s) * 2 + 1), *q = out;

        ck_assert_ptr_nonnull(out);
        in->s++;
        while (*in->s != '"') {
                unsigned char c = (unsigned char)*in->s;

                if (c == '\0' || c < 0x20) {
                        free(out);
                        return jerr(in, c ? "raw control byte in a string" : "unterminated string");
                }
                if (c != '\\') {
                        *q++ = *in->s++;
                        continue;
                }
                in->s++;
                switch (*in->s++) {
                case '"': *q++ = '"'; break;
                case '\\': *q++ = '\\'; break;
                case '/': *q++ = '/'; break;
                case 'b': *q++ = '\b'; break;
                case 'f': *q++ = '\f'; break;
                case 'n': *q++ = '\n'; break;
                case 'r': *q++ = '\r'; break;
                case 't': *q++ = '\t'; break;
                case 'u': {
                        unsigned cp, lo;

                        if (!jhex4(in, &cp)) {
                                free(out);
                                return false;
                        }
                        if (cp >= 0xd800 && cp < 0xdc00) {
                                if (in->s[0] != '\\' || in->s[1] != 'u') {
                                        free(out);
                                        return jerr(in, "lone surrogate");
                                }
                                in->s += 2;
                                if (!jhex4(in, &lo) || lo < 0xdc00 || lo > 0xdfff) {
                                        free(out);
                                        return jerr(in, "bad surrogate pair");
                                }
                                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                        }
                        put_utf8(&q, cp);
                        break;
                }
                default:
                        free(out);
                        return jerr(in, "bad escape");
                }
        }
        in->s++;
        *q = '\0';
        *ret = out;
        return true;
}

static bool jvalue(JIn *in, JVal *v, int depth);

static bool jitems(JIn *in, JVal *v, bool obj, int depth)
{
        char close = obj ? '}' : ']';

        in->s++;
        jws(in);
        if (*in->s == close) {
                in->s++;
                return true;
        }
        for (;;) {
                char *key = NULL;

                v->items = realloc(v->items, (v->n + 1) * sizeof(*v->items));
                ck_assert_ptr_nonnull(v->items);
                if (obj) {
                        v->keys = realloc(v->keys, (v->n + 1) * sizeof(*v->keys));
                        ck_assert_ptr_nonnull(v->keys);
                        jws(in);
                        if (*in->s != '"' || !jstring(in, &key))
                                return jerr(in, "object key expected");
                        jws(in);
                        if (*in->s++ != ':') {
                                free(key);
                                return jerr(in, "':' expected");
                        }
                        v->keys[v->n] = key;
                }
                memset(&v->items[v->n], 0, sizeof(v->items[v->n]));
                v->n++;
                if (!jvalue(in, &v->items[v->n - 1], depth + 1))
                        return false;
                jws(in);
                if (*in->s == ',') {
                        in->s++;
                        continue;
                }
                if (*in->s++ != close)
                        return jerr(in, "',' or the closing bracket expected");
                return true;
        }
}

static bool jvalue(JIn *in, JVal *v, int depth)
{
        char *end;

        if (depth > 32)
                return jerr(in, "too deep");
        jws(in);
        switch (*in->s) {
        case '{':
                v->type = J_OBJ;
                return jitems(in, v, true, depth);
        case '[':
                v->type = J_ARR;
                return jitems(in, v, false, depth);
        case '"':
                v->type = J_STR;
                return jstring(in, &v->str);
        case 't':
        case 'f':
        case 'n':
                if (!strncmp(in->s, "true", 4) || !strncmp(in->s, "null", 4)) {
                        v->type = in->s[0] == 'n' ? J_NULL : J_BOOL;
                        v->b = in->s[0] == 't';
                        in->s += 4;
                        return true;
                }
                if (!strncmp(in->s, "false", 5)) {
                        v->type = J_BOOL;
                        in->s += 5;
                        return true;
                }
                return jerr(in, "unknown word");
        default:
                if (*in->s != '-' && (*in->s < '0' || *in->s > '9'))
                        return jerr(in, "value expected");
                v->type = J_NUM;
                v->num = strtod(in->s, &end);
                in->s = end;
                return true;
        }
}

/* Parse a whole document; fails the test with where and why when it is not JSON. */
static void jparse(const char *text, JVal *ret)
{
        JIn in = { .s = text };

        memset(ret, 0, sizeof(*ret));
        if (jvalue(&in, ret, 0)) {
                jws(&in);
                if (*in.s)
                        jerr(&in, "text after the document");
        }
        ck_assert_msg(!in.why, "not JSON: %s at offset %td: %.40s", in.why, in.s - text, in.s);
}

static const JVal *jget(const JVal *obj, const char *key)
{
        ck_assert_int_eq(obj->type, J_OBJ);
        for (size_t i = 0; i < obj->n; i++)
                if (!strcmp(obj->keys[i], key))
                        return &obj->items[i];
        ck_abort_msg("no key '%s'", key);
        return NULL;
}

static const char *jstr(const JVal *obj, const char *key)
{
        const JVal *v = jget(obj, key);

        ck_assert_msg(v->type == J_STR, "'%s' is not a string", key);
        return v->str;
}

static long jnum(const JVal *obj, const char *key)
{
        const JVal *v = jget(obj, key);

        ck_assert_msg(v->type == J_NUM, "'%s' is not a number", key);
        return (long)v->num;
}

static bool jbool(const JVal *obj, const char *key)
{
        const JVal *v = jget(obj, key);

        ck_assert_msg(v->type == J_BOOL, "'%s' is not a boolean", key);
        return v->b;
}

/* The reader itself: what it must refuse, so that a JSON check can fail. */
START_TEST(test_json_reader)
{
        static const char *const bad[] = {
                "", "{", "{\"a\" 1}", "[1,]", "[1 2]", "\"a\nb\"", "\"\\x\"", "{\"a\":1}x", "tru", "\"\\ud800\"",
                "{1: 2}",
        };
        JVal v;

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                JIn in = { .s = bad[i] };

                memset(&v, 0, sizeof(v));
                if (jvalue(&in, &v, 0)) {
                        jws(&in);
                        if (*in.s)
                                jerr(&in, "text after the document");
                }
                ck_assert_msg(in.why != NULL, "'%s' was read as JSON", bad[i]);
                jfree(&v);
        }
        jparse("{\"s\": \"\\u00e9\\ud83d\\ude00\\n\", \"a\": [1, -2.5e1, true, false, null]}", &v);
        ck_assert_str_eq(jstr(&v, "s"), "\xc3\xa9\xf0\x9f\x98\x80\n");
        ck_assert_uint_eq(jget(&v, "a")->n, 5);
        ck_assert(jget(&v, "a")->items[1].num == -25);
        jfree(&v);
}
END_TEST

/*
 * --json of the ranking test, plus a host whose name has a quote, a
 * backslash, a newline, a control byte and a byte that is not UTF-8: the
 * output is JSON, says what the text says, and the name reads back with
 * U+FFFD for the stray byte.
 */
START_TEST(test_json)
{
        static const char weird[] = "we\"ird\\na\nme\x01\xff\xc3\xa9.xml";
        _cleanup_free_ char *weird_path = tmp_path(weird);
        const char *args[] = { "--domain", g_vm, "--json", "--explain", "@/a.xml", "@/b.xml", "@/d.xml",
                               weird_path, NULL };
        const JVal *hosts, *h, *vm;
        JVal doc;
        ThRun r;

        run_fit("hpvm.conf", args, &r);
        ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
        ck_assert_str_eq(r.err, "");
        jparse(r.out, &doc);

        vm = jget(&doc, "vm");
        ck_assert_str_eq(jstr(vm, "name"), "db01");
        ck_assert_str_eq(jstr(vm, "uuid"), VM_UUID);
        ck_assert_int_eq(jnum(vm, "vcpus"), 8);
        ck_assert_int_eq(jnum(vm, "memory_kib"), 8 << 20);
        ck_assert_str_eq(jstr(vm, "cpupolicy"), "dedicated");
        ck_assert_int_eq(jnum(&doc, "fits"), 2);
        hosts = jget(&doc, "hosts");
        ck_assert_int_eq(hosts->type, J_ARR);
        ck_assert_uint_eq(hosts->n, 4);

        /* The same order and scores as the text (test_rank_order). */
        h = &hosts->items[0];
        ck_assert(strstr(jstr(h, "host"), "/d.xml"));
        ck_assert_int_eq(jnum(h, "rank"), 1);
        ck_assert(jbool(h, "fits"));
        ck_assert_int_eq(jnum(h, "score"), 980);
        ck_assert_str_eq(jstr(h, "nodes"), "0");
        ck_assert_str_eq(jstr(h, "cpus"), "1-5,33-36");
        ck_assert_uint_eq(jget(h, "vcpu_cpus")->n, 8);
        ck_assert(jget(h, "vcpu_cpus")->items[0].num == 1 && jget(h, "vcpu_cpus")->items[1].num == 33);
        ck_assert_uint_eq(jget(h, "cells")->n, 1);
        ck_assert_int_eq(jnum(&jget(h, "cells")->items[0], "node"), 0);
        ck_assert_str_eq(jstr(&jget(h, "cells")->items[0], "vcpus"), "0-7");
        ck_assert_int_eq(jnum(&jget(h, "cells")->items[0], "memory_kib"), 8 << 20);
        ck_assert_str_eq(jstr(h, "emulator"), "5");
        ck_assert_str_eq(jstr(h, "iothreads"), "5");
        ck_assert(!jbool(h, "helpers_shared"));
        ck_assert_int_eq(jnum(h, "pins_kept"), 0);
        ck_assert_str_eq(jstr(h, "reserved"), "0,16,32,48");
        ck_assert_str_eq(jstr(h, "taken"), "");
        ck_assert_uint_eq(jget(h, "notes")->n, 0);
        ck_assert(strstr(jstr(h, "map"), "   node 0: 64 GiB of memory, 4096 of 4096 pages of 2 MiB free"));
        ck_assert(strstr(jstr(h, "map"), "\n     1:v0 33:v1\n"));

        h = &hosts->items[1];
        ck_assert(strstr(jstr(h, "host"), "/a.xml"));
        ck_assert_int_eq(jnum(h, "rank"), 2);
        ck_assert_int_eq(jnum(h, "score"), 965);

        h = &hosts->items[2];
        ck_assert(strstr(jstr(h, "host"), "/b.xml"));
        ck_assert_int_eq(jget(h, "rank")->type, J_NULL);
        ck_assert(!jbool(h, "fits"));
        ck_assert(!strncmp(jstr(h, "reason"), "the host has 0 cores with 2 free threads (after 1 reserved)", 58));
        ck_assert_str_eq(jstr(h, "reserved"), "0");

        h = &hosts->items[3];
        ck_assert(!jbool(h, "fits"));
        ck_assert_str_eq(jstr(h, "host") + strlen(g_tmp) + 1, "we\"ird\\na\nme\x01\xef\xbf\xbd\xc3\xa9.xml");
        ck_assert(strstr(jstr(h, "error"), "No such file or directory"));
        jfree(&doc);
        th_run_clear(&r);
}
END_TEST

/* ---------------------------------------------------------------- refusals */

static const struct {
        const char *args[8];
        const char *err;
} refusals[] = {
        { { NULL }, "hpvm-fit: no VM: give its domain XML with --domain FILE (see --help)\n" },
        { { "--bogus" }, "hpvm-fit: unknown option '--bogus' (see --help)\n" },
        { { "--domain" }, "hpvm-fit: --domain needs a value (see --help)\n" },
        { { "--domain", "@/x", "--domain", "@/y" }, "hpvm-fit: --domain is given twice (see --help)\n" },
        { { "--props", "a=1", "--props", "b=2" }, "hpvm-fit: --props is given twice (see --help)\n" },
        { { "--repair-ledger", "--domain", "@/tiny.xml" },
          "hpvm-fit: --repair-ledger takes only --config (see --help)\n" },
        { { "--repair-ledger", "@/a.xml" }, "hpvm-fit: --repair-ledger takes only --config (see --help)\n" },
        { { "--domain", "@/nothere.xml", "@/a.xml" }, "hpvm-fit: cannot open @/nothere.xml: No such file or directory\n" },
        { { "--domain", "@/a.xml", "@/a.xml" },
          "hpvm-fit: @/a.xml: domain XML: root element is <capabilities>, expected <domain>\n" },
        { { "--domain", "VM", "--props", "foo=1" },
          "hpvm-fit: --props: 'foo' is not a property of before_vm_start (expected cputune, numatune, guestnuma, "
          "hugepages, invtsc, emulatorpin, iothreads, iothreadpin, nosharepages, highperf or cpupolicy)\n" },
        { { "--domain", "VM", "--props", "cputune=auto numatune" }, "hpvm-fit: --props: 'numatune' is not NAME=VALUE\n" },
        { { "--domain", "VM", "--props", "=auto" }, "hpvm-fit: --props: '=auto' is not NAME=VALUE\n" },
        { { "--domain", "VM", "--props", "cputune=auto cputune=auto" }, "hpvm-fit: --props: cputune is given twice\n" },
        { { "--domain", "VM", "--props", "cputune=0#0-3,9x" },
          "hpvm-fit: cputune: '0#0-3,9x': '9x' is not a CPU number (expected <vcpu>#<cpuset>[,<vcpu>#<cpuset>...])\n" },
        { { "--domain", "VM", "--props", "hugepages=2048" },
          "hpvm-fit: --props: hpvm-fit asks where the placement engine would put the VM: set cputune=auto, "
          "numatune=auto or guestnuma=auto (without --props: cputune=auto)\n" },
        { { "--domain", "VM", "--props", "cpupolicy=isolate" },
          "hpvm-fit: --props: hpvm-fit asks where the placement engine would put the VM: set cputune=auto, "
          "numatune=auto or guestnuma=auto (without --props: cputune=auto)\n" },
        { { "--domain", "VM", "--props", "cputune=auto cpupolicy=fast" },
          "hpvm-fit: cpupolicy: 'fast': not a CPU policy (expected dedicated|isolate|siblings)\n" },
        { { "--domain", "VM", "--props", "cputune=auto guestnuma=0-3#4G" },
          "hpvm-fit: guestnuma: vCPU 4-7 is in no cell (every one of the VM's 8 vCPUs needs one)\n" },
        { { "--domain", "VM", "--props", "cputune=auto guestnuma=0-3#4G,4-7#2G" },
          "hpvm-fit: guestnuma: the cells add up to 6 GiB, the VM has 8 GiB of memory\n" },
        { { "--domain", "VM", "--props", "cputune=auto guestnuma=0-8#8G" },
          "hpvm-fit: guestnuma: cell 0: vCPU 8 does not exist (the VM has 8 vCPUs: 0-7)\n" },
        { { "--domain", "VM", "--props", "cputune=0#1,9#2 numatune=auto" },
          "hpvm-fit: cputune: vCPU 9 does not exist (the VM has 8 vCPUs: 0-7)\n" },
        { { "--domain", "VM", "--props", "cputune=auto iothreadpin=2#1" },
          "hpvm-fit: iothreadpin: IO thread 2 does not exist (the VM has 1 IO thread: 1)\n" },
        { { "--domain", "VM", "--pinned", "0-x" },
          "hpvm-fit: --pinned: '0-x': '0-x': 'x' is not a CPU number (expected <cpuset>, e.g. 0-7,^3,12)\n" },
        { { "--domain", "VM", "--config", "@/none.conf" },
          "hpvm-fit: cannot open @/none.conf: No such file or directory\n" },
        { { "--domain", "VM", "--config", "@/bad.conf" },
          "hpvm-fit: @/bad.conf:2: 'colour' is not a key (expected one of reserved_cpus, state_dir, sysfs_root, "
          "ledger_grace, migration_reservation_timeout, vf_reservation_timeout, sriov_pfs.<network>, libvirt_uri, "
          "libvirt_user, libvirt_password_file, unplug_timeout, watch_timeout, migration_start_timeout, state_owner)\n" },
        { { "--domain", "@/odd.xml", "--props", "cputune=auto cpupolicy=dedicated", "@/a.xml" },
          "hpvm-fit: cputune=auto: cpupolicy=dedicated: the VM's 3 vCPUs are not a whole number of cores of 2 "
          "threads\n" },
};

START_TEST(test_refusals)
{
        const char *args[10];
        size_t n = 0;
        ThRun r;

        put("bad.conf", "state_dir=/tmp\ncolour=blue\n");
        /* 3 vCPUs cannot be whole cores of 2 threads: the engine refuses the request, for every host alike. */
        put("odd.xml", "<domain type='kvm'><name>odd</name><memory unit='GiB'>1</memory><vcpu>3</vcpu>"
                       "<cpu><topology sockets='1' cores='2' threads='2'/></cpu><os><type>hvm</type></os></domain>\n");
        for (; n < 8 && refusals[_i].args[n]; n++)
                args[n] = !strcmp(refusals[_i].args[n], "VM") ? g_vm : refusals[_i].args[n];
        args[n] = NULL;
        run_fit("hpvm.conf", args, &r);
        assert_refused(&r, refusals[_i].err);
        th_run_clear(&r);
}
END_TEST

START_TEST(test_help_and_version)
{
        const char *help[] = { "--help", NULL }, *version[] = { "--version", NULL };
        ThRun r;

        run_fit(NULL, help, &r);
        ck_assert_int_eq(r.status, 0);
        ck_assert(!strncmp(r.out, "Usage: hpvm-fit --domain VM.xml", 31));
        ck_assert(strstr(r.out, "--repair-ledger"));
        th_run_clear(&r);
        run_fit(NULL, version, &r);
        ck_assert_int_eq(r.status, 0);
        ck_assert(!strncmp(r.out, "hpvm-fit (hpvm-hooks) ", 22));
        th_run_clear(&r);
}
END_TEST

/* ---------------------------------------------------------------- this host: sysfs and the ledger */

static HpvmConfig *state_config(const char *text)
{
        HpvmConfig *c = NULL;
        HpvmError err = { 0 };

        ck_assert_msg(hpvm_config_parse("test.conf", text, strlen(text), &c, &err) == 0, "%s", err.msg);
        return c;
}

static void ledger_put(HpvmLedger *l, const char *vm, const char *name, const char *cpus, bool reserved, time_t since)
{
        HpvmLedgerEntry e = { .reserved = reserved, .since = since, .expires = since + 600 };
        HpvmError err = { 0 };

        snprintf(e.vm, sizeof(e.vm), "%s", vm);
        snprintf(e.name, sizeof(e.name), "%s", name);
        ck_assert_int_eq(hpvm_cpuset_parse(cpus, strlen(cpus), HPVM_CPUSET_MAX, "CPU", &e.cpus, &err), 0);
        ck_assert_msg(hpvm_ledger_put(l, &e, &err) == 0, "%s", err.msg);
}

/*
 * No HOST: the host of sysfs_root (numa2: CPUs 0-7 on 2 nodes, cores 0,4 2,6 1,5 3,7; the first core of
 * each reserved) and its ledger: another VM holds 2,6; the VM's own entry (3,7) does not count against it.
 */
START_TEST(test_this_host)
{
        _cleanup_free_ char *numa2 = th_src("tests/data/sysfs/numa2");
        _cleanup_free_ char *conf = strf("sysfs_root=%s\nstate_dir=%s/state\n", numa2, g_tmp);
        _cleanup_free_ char *ledger_file = tmp_path("state/cpus");
        HpvmConfig *c;
        HpvmLedger *l;
        HpvmError err = { 0 };
        const char *args[] = { "--domain", "@/small.xml", "--json", NULL };
        JVal doc;
        const JVal *h;
        ThRun r;

        put("state.conf", conf);
        put("small.xml", "<domain type='kvm'><name>small</name><uuid>" VM_UUID "</uuid><memory unit='GiB'>1</memory>"
                         "<vcpu>2</vcpu><os><type>hvm</type></os></domain>\n");
        c = state_config(conf);
        ck_assert_msg(hpvm_ledger_open(c, &l, &err) == 0, "%s", err.msg);
        ledger_put(l, "11111111-2222-4333-8444-555555555555", "other", "2,6", false, time(NULL));
        ledger_put(l, VM_UUID, "small", "3,7", false, time(NULL));
        ck_assert_int_eq(hpvm_ledger_commit(l, &err), 0);
        hpvm_ledger_close(l);
        hpvm_config_free(c);

        run_fit("state.conf", args, &r);
        ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
        jparse(r.out, &doc);
        h = &jget(&doc, "hosts")->items[0];
        ck_assert_str_eq(jstr(h, "host"), "this host");
        ck_assert_str_eq(jstr(h, "reserved"), "0-1,4-5");
        ck_assert_str_eq(jstr(h, "taken"), "2,6");
        ck_assert_str_eq(jstr(h, "cpus"), "3,7");
        ck_assert_str_eq(jstr(h, "nodes"), "1");
        ck_assert_uint_eq(jget(h, "holders")->n, 1);
        ck_assert_str_eq(jstr(&jget(h, "holders")->items[0], "vm"), "11111111-2222-4333-8444-555555555555");
        ck_assert_str_eq(jstr(&jget(h, "holders")->items[0], "name"), "other");
        ck_assert_str_eq(jstr(&jget(h, "holders")->items[0], "cpus"), "2,6");
        ck_assert(!jbool(&jget(h, "holders")->items[0], "reserved"));
        jfree(&doc);
        th_run_clear(&r);

        /* A damaged ledger: this host cannot be asked; the row says why and how to repair it. */
        th_write(ledger_file, "not a ledger\n", 13, 0644);
        args[2] = NULL;
        run_fit("state.conf", args, &r);
        {
                _cleanup_free_ char *want = strf("VM small: 2 vCPUs, 1 GiB, cpupolicy dedicated; hosts that fit: 0 of 1\n"
                                                 "-  this host: error: %s: line 1: 'not a ledger' is not the header "
                                                 "(expected 'hpvm-state 1 cpus'): the state file is damaged; "
                                                 "rebuild it with hpvm-fit --repair-ledger\n",
                                                 ledger_file);

                assert_out(&r, 1, want);
        }
        th_run_clear(&r);
}
END_TEST

/* ---------------------------------------------------------------- libvirt URIs (test:/// driver) */

/* test:///default: its capabilities, the free memory it reports, and free pages it cannot tell. */
START_TEST(test_uri_test_driver)
{
        const char *args[] = { "--domain", "@/tiny.xml", "--explain", "test:///default", "test:///@/node.xml",
                               "test:///@/missing-node.xml", NULL };
        ThRun r;

        put("node.xml", "<node><cpu><nodes>1</nodes><sockets>1</sockets><cores>2</cores><threads>1</threads>"
                        "<active>2</active><mhz>2000</mhz><model>i686</model></cpu><memory>1048576</memory></node>\n");
        run_fit("hpvm.conf", args, &r);
        assert_out(&r, 0,
                   "VM tiny: 2 vCPUs, 1 MiB, cpupolicy dedicated; hosts that fit: 1 of 3\n"
                   "1. test:///default: fits, score 885: 2 vCPUs on node 1 (CPUs 9-10); emulator on CPU 11\n"
                   "   note: free huge pages unknown (the driver gave 0 counts for the 2 page sizes of node 0): every "
                   "page of the capabilities counts as free\n"
                   "   guest cell 0 -> node 1: vCPUs 0-1, 1 MiB\n"
                   "   node 0: 2 MiB free of 2 GiB, 0 of 0 pages of 2 MiB free, 0 of 0 pages of 1 GiB free\n"
                   "     0:R\n     1:.\n     2:.\n     3:.\n     4:.\n     5:.\n     6:.\n     7:.\n"
                   "   node 1: 4 MiB free of 4 GiB, 0 of 0 pages of 2 MiB free, 0 of 0 pages of 1 GiB free\n"
                   "     8:R\n     9:v0\n     10:v1\n     11:E\n     12:.\n     13:.\n     14:.\n     15:.\n"
                   "   legend: CPU:what, one core per line; vN vCPU N, E emulator and IO threads, h held idle, "
                   "R reserved, T taken by another VM, . free\n"
                   "-  test:///@/node.xml: error: capabilities XML: <cells> has no <cell>\n"
                   "-  test:///@/missing-node.xml: error: cannot connect to libvirt at 'test:///@/missing-node.xml': "
                   "XML error: failed to parse xml document '/@/missing-node.xml'\n");
        th_run_clear(&r);

        /* The free memory libvirt reports is what the VM must fit in: 8 GiB does not, anywhere. */
        put("big.xml", "<domain type='kvm'><name>big</name><memory unit='GiB'>8</memory><vcpu>2</vcpu>"
                       "<os><type>hvm</type></os></domain>\n");
        {
                const char *big[] = { "--domain", "@/big.xml", "--json", "test:///default", NULL };
                const JVal *h;
                JVal doc;

                run_fit("hpvm.conf", big, &r);
                ck_assert_msg(r.status == 1, "exit %d: %s", r.status, r.err);
                jparse(r.out, &doc);
                h = &jget(&doc, "hosts")->items[0];
                ck_assert_str_eq(jstr(h, "reason"), "the host has 6 MiB of free memory, the VM needs 8 GiB");
                ck_assert_str_eq(jstr(h, "taken"), "");
                ck_assert_uint_eq(jget(h, "holders")->n, 0);
                ck_assert_uint_eq(jget(h, "notes")->n, 1);
                jfree(&doc);
                th_run_clear(&r);
        }
}
END_TEST

/* ---------------------------------------------------------------- --repair-ledger */

#define U_PINNED "11111111-0000-4000-8000-000000000001"
#define U_SHARED "11111111-0000-4000-8000-000000000002"
#define U_FLOAT "11111111-0000-4000-8000-000000000003"
#define U_SHARER "11111111-0000-4000-8000-000000000004"

/*
 * A test driver node with four running domains: pinned (vCPUs 3-4, emulator 5, IO thread 6), sharer (vCPU 1,
 * emulator 5: CPU 5 is shared housekeeping, held by neither), one in vdsm's shared pool, one unpinned.
 */
static void put_repair_node(void)
{
        put("repair-node.xml",
            "<node>\n"
            "  <domain type='test'><name>sharer</name><uuid>" U_SHARER "</uuid><memory>1048576</memory>\n"
            "    <vcpu placement='static'>1</vcpu>\n"
            "    <cputune><vcpupin vcpu='0' cpuset='1'/><emulatorpin cpuset='5'/></cputune>"
            "<os><type>hvm</type></os></domain>\n"
            "  <domain type='test'><name>pinned</name><uuid>" U_PINNED "</uuid><memory>1048576</memory>\n"
            "    <vcpu placement='static'>2</vcpu><iothreads>1</iothreads>\n"
            "    <cputune><vcpupin vcpu='0' cpuset='3'/><vcpupin vcpu='1' cpuset='4'/><emulatorpin cpuset='5'/>\n"
            "      <iothreadpin iothread='1' cpuset='6'/></cputune><os><type>hvm</type></os></domain>\n"
            "  <domain type='test'><name>shared</name><uuid>" U_SHARED "</uuid><memory>1048576</memory>\n"
            "    <metadata><ovirt-vm:vm xmlns:ovirt-vm='http://ovirt.org/vm/1.0'>"
            "<ovirt-vm:cpuPolicy>none</ovirt-vm:cpuPolicy></ovirt-vm:vm></metadata>\n"
            "    <vcpu placement='static'>1</vcpu><cputune><vcpupin vcpu='0' cpuset='0-7'/></cputune>\n"
            "    <os><type>hvm</type></os></domain>\n"
            "  <domain type='test'><name>floating</name><uuid>" U_FLOAT "</uuid><memory>1048576</memory>\n"
            "    <vcpu placement='static'>1</vcpu><os><type>hvm</type></os></domain>\n"
            "</node>\n");
}

START_TEST(test_repair_damaged)
{
        _cleanup_free_ char *numa2 = th_src("tests/data/sysfs/numa2");
        _cleanup_free_ char *conf = strf("state_dir=%s/state\nlibvirt_uri=test:///%s/repair-node.xml\nsysfs_root=%s\n",
                                         g_tmp, g_tmp, numa2);
        _cleanup_free_ char *ledger_file = tmp_path("state/cpus"), *state = tmp_path("state");
        const char *args[] = { "--repair-ledger", NULL };
        HpvmLedgerEntry e = { 0 };
        HpvmError err = { 0 };
        HpvmConfig *c;
        HpvmLedger *l;
        ThRun r;

        put_repair_node();
        put("repair.conf", conf);
        ck_assert_int_eq(mkdir(state, 0755), 0);
        th_write(ledger_file, "hpvm-state 1 cpus\nvm !!! broken\n", 32, 0644);
        run_fit("repair.conf", args, &r);
        assert_out(&r, 0,
                   "@/state/cpus was damaged (@/state/cpus: line 2: '!!!' is not a record id: the state file is "
                   "damaged; rebuild it with hpvm-fit --repair-ledger): rebuilt from the VMs running at "
                   "test:///@/repair-node.xml\n"
                   "skipped VM " U_FLOAT " (floating): it is not pinned\n"
                   "recorded VM " U_PINNED " (pinned): running on CPUs 3-4,6\n"
                   "skipped VM " U_SHARED " (shared): vdsm keeps it in its shared CPU pool\n"
                   "recorded VM " U_SHARER " (sharer): running on CPU 1\n"
                   "2 VMs recorded, 0 kept, 0 dropped, 2 not pinned\n");
        th_run_clear(&r);

        c = state_config(conf);
        ck_assert_msg(hpvm_ledger_open(c, &l, &err) == 0, "%s", err.msg);
        ck_assert_uint_eq(hpvm_ledger_count(l), 2);
        ck_assert_int_eq(hpvm_ledger_get(l, U_PINNED, &e, &err), 0);
        ck_assert_str_eq(e.name, "pinned");
        ck_assert(!e.reserved);
        ck_assert_int_eq(hpvm_cpuset_count(&e.cpus), 3);
        ck_assert(hpvm_cpuset_test(&e.cpus, 3) && hpvm_cpuset_test(&e.cpus, 4) && hpvm_cpuset_test(&e.cpus, 6));
        hpvm_ledger_entry_clear(&e);
        hpvm_ledger_close(l);
        hpvm_config_free(c);
}
END_TEST

/* An intact ledger: running VMs recorded, entries of VMs that do not run dropped unless they may still be starting. */
START_TEST(test_repair_merges)
{
        _cleanup_free_ char *numa2 = th_src("tests/data/sysfs/numa2");
        _cleanup_free_ char *conf = strf("state_dir=%s/state\nlibvirt_uri=test:///%s/repair-node.xml\n"
                                         "ledger_grace=120\nsysfs_root=%s\n", g_tmp, g_tmp, numa2);
        const char *args[] = { "--repair-ledger", NULL };
        time_t now = time(NULL);
        HpvmLedgerEntry e = { 0 };
        HpvmError err = { 0 };
        HpvmConfig *c;
        HpvmLedger *l;
        ThRun r;

        put_repair_node();
        put("repair.conf", conf);
        c = state_config(conf);
        ck_assert_msg(hpvm_ledger_open(c, &l, &err) == 0, "%s", err.msg);
        /* 7 is the thread sibling of pinned CPU 3 on numa2 (cpupolicy=isolate held it): it stays; 5 (shared) and 12 go. */
        ledger_put(l, U_PINNED, "pinned", "3-7,12", false, now - 5000);
        ledger_put(l, U_SHARED, "shared", "0-7", false, now - 5000);
        ledger_put(l, "22222222-0000-4000-8000-000000000001", "gone", "8-9", false, now - 5000);
        ledger_put(l, "22222222-0000-4000-8000-000000000002", "starting", "10", false, now - 10);
        ledger_put(l, "22222222-0000-4000-8000-000000000003", "incoming", "11", true, now);
        ledger_put(l, "22222222-0000-4000-8000-000000000004", "expired", "12", true, now - 5000);
        ck_assert_int_eq(hpvm_ledger_commit(l, &err), 0);
        hpvm_ledger_close(l);

        run_fit("repair.conf", args, &r);
        assert_out(&r, 0,
                   "@/state/cpus: checked against the VMs running at test:///@/repair-node.xml\n"
                   "dropped VM 22222222-0000-4000-8000-000000000001 (gone): it does not run here\n"
                   "kept VM 22222222-0000-4000-8000-000000000002 (starting): recorded moments ago, still starting\n"
                   "kept VM 22222222-0000-4000-8000-000000000003 (incoming): reserved for an incoming migration\n"
                   "dropped VM 22222222-0000-4000-8000-000000000004 (expired): its reservation expired\n"
                   "skipped VM " U_FLOAT " (floating): it is not pinned\n"
                   "recorded VM " U_PINNED " (pinned): running on CPUs 3-4,6-7\n"
                   "skipped VM " U_SHARED " (shared): vdsm keeps it in its shared CPU pool\n"
                   "recorded VM " U_SHARER " (sharer): running on CPU 1\n"
                   "2 VMs recorded, 2 kept, 2 dropped, 2 not pinned\n");
        th_run_clear(&r);

        ck_assert_msg(hpvm_ledger_open(c, &l, &err) == 0, "%s", err.msg);
        ck_assert_uint_eq(hpvm_ledger_count(l), 4);
        ck_assert_int_eq(hpvm_ledger_get(l, U_PINNED, &e, &err), 0);
        ck_assert(e.since == now - 5000);
        hpvm_ledger_entry_clear(&e);
        ck_assert_int_eq(hpvm_ledger_get(l, U_SHARED, &e, NULL), -ENOENT);
        hpvm_ledger_close(l);
        hpvm_config_free(c);
}
END_TEST

/* Without libvirt (a URI nothing answers): one line, exit 1, the ledger untouched. */
START_TEST(test_repair_no_libvirt)
{
        _cleanup_free_ char *conf = strf("state_dir=%s/state\nlibvirt_uri=test:///%s/nothing.xml\n", g_tmp, g_tmp);
        const char *args[] = { "--repair-ledger", NULL };
        ThRun r;

        put("repair.conf", conf);
        run_fit("repair.conf", args, &r);
        ck_assert_int_eq(r.status, 1);
        ck_assert_str_eq(r.out, "");
        ck_assert_uint_eq(th_lines(r.err), 1);
        ck_assert(!strncmp(r.err, "hpvm-fit: cannot connect to libvirt at 'test:///", 48));
        th_run_clear(&r);
}
END_TEST

static Suite *fit_suite(void)
{
        Suite *s = suite_create("hpvm-fit");
        TCase *tc = tcase_create("rank");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_rank_order);
        tcase_add_test(tc, test_no_host_fits);
        tcase_add_loop_test(tc, test_props, 0, (int)(sizeof(props_cases) / sizeof(props_cases[0])));
        tcase_add_test(tc, test_every_hook_property_known);
        tcase_add_test(tc, test_explain);
        tcase_add_test(tc, test_pinned);
        suite_add_tcase(s, tc);

        tc = tcase_create("json");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_json_reader);
        tcase_add_test(tc, test_json);
        suite_add_tcase(s, tc);

        tc = tcase_create("refusals");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_loop_test(tc, test_refusals, 0, (int)(sizeof(refusals) / sizeof(refusals[0])));
        tcase_add_test(tc, test_help_and_version);
        suite_add_tcase(s, tc);

        tc = tcase_create("hosts");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_this_host);
        tcase_add_test(tc, test_uri_test_driver);
        suite_add_tcase(s, tc);

        tc = tcase_create("repair");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_repair_damaged);
        tcase_add_test(tc, test_repair_merges);
        tcase_add_test(tc, test_repair_no_libvirt);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(fit_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
