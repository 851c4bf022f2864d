/* test-libvirt.c: the hook's XML started by a real libvirtd + QEMU (TCG), read back from the running guest. */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>

#include "testhelp.h"

#define URI "qemu:///system"
#define MAX_CPUS 8192           /* bound for the host cpulists read from sysfs */
#define GUEST_VCPUS 2           /* what tests/data/integration/tcg-guest.xml says */
#define CELL_KIB 524288ULL      /* guestnuma gives each of the two cells 512M */
#define FIXTURE_NAME "hpvm-it-guest"

/* Filled by the unchecked fixture in the parent; forked tests inherit them. */
static const char *g_srcdir;
static const char *g_builddir;
static char g_name[64];                 /* hpvm-it-<pid of the runner> */
static char g_tmpdir[PATH_MAX];
static char g_xmlpath[PATH_MAX + 16];      /* the copy the hook edits */
static int g_cpu_lo, g_cpu_hi;          /* lowest and highest online host CPU */
static int g_node;                      /* lowest online host NUMA node */
static int g_node_hi;                   /* highest online host NUMA node */
static long g_nr_2m = -1;               /* 2 MiB pages reserved before the suite: restored after */

static double now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* One summary line per fact the test saw; the integration log keeps them. */
static void fact(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fact(const char *fmt, ...)
{
        static double t0;
        va_list ap;

        if (t0 == 0)
                t0 = now_ms();
        printf("test-libvirt: [%6.2f s] ", (now_ms() - t0) / 1e3);
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        fputc('\n', stdout);
        fflush(stdout);
}

static void quiet_libvirt(void *opaque __attribute__((unused)), virErrorPtr error __attribute__((unused)))
{
        /* Errors are read with virGetLastErrorMessage() where they matter. */
}

static char *read_all(const char *path, size_t *ret_len)
{
        FILE *f = fopen(path, "rb");
        char *buf = NULL;
        size_t len = 0, cap = 0, n;

        if (!f)
                return NULL;
        for (;;) {
                if (cap - len < 4096) {
                        char *nbuf = realloc(buf, cap + 65536);

                        if (!nbuf) {
                                free(buf);
                                fclose(f);
                                return NULL;
                        }
                        buf = nbuf;
                        cap += 65536;
                }
                n = fread(buf + len, 1, cap - len - 1, f);
                len += n;
                if (n == 0)
                        break;
        }
        fclose(f);
        buf[len] = '\0';
        if (ret_len)
                *ret_len = len;
        return buf;
}

static bool write_all(const char *path, const char *data, size_t len)
{
        FILE *f = fopen(path, "wb");
        bool ok;

        if (!f)
                return false;
        ok = fwrite(data, 1, len, f) == len;
        return fclose(f) == 0 && ok;
}

/* Parse a sysfs cpulist ("0-3,8,10-11") into @set; returns the count or -1. */
static int parse_cpulist(const char *s, bool *set, int max)
{
        int count = 0;

        while (*s && *s != '\n') {
                char *end;
                long a, b;

                errno = 0;
                a = strtol(s, &end, 10);
                if (end == s || errno || a < 0 || a >= max)
                        return -1;
                b = a;
                if (*end == '-') {
                        s = end + 1;
                        b = strtol(s, &end, 10);
                        if (end == s || errno || b < a || b >= max)
                                return -1;
                }
                for (long i = a; i <= b; i++) {
                        if (!set[i])
                                count++;
                        set[i] = true;
                }
                if (*end == ',')
                        end++;
                else if (*end && *end != '\n')
                        return -1;
                s = end;
        }
        return count;
}

/* Lowest and highest member of the cpulist in sysfs file @path. */
static bool sysfs_range(const char *path, int *ret_lo, int *ret_hi)
{
        static bool set[MAX_CPUS];
        char *text = read_all(path, NULL);
        int lo = -1, hi = -1;

        if (!text)
                return false;
        memset(set, 0, sizeof(set));
        if (parse_cpulist(text, set, MAX_CPUS) <= 0) {
                free(text);
                return false;
        }
        free(text);
        for (int i = 0; i < MAX_CPUS; i++) {
                if (!set[i])
                        continue;
                if (lo < 0)
                        lo = i;
                hi = i;
        }
        *ret_lo = lo;
        *ret_hi = hi;
        return true;
}

/* Replace every @from in @text by @to; caller frees. */
static char *replace_all(const char *text, const char *from, const char *to)
{
        size_t nfrom = strlen(from), nto = strlen(to), count = 0;
        const char *p;
        char *out, *q;

        for (p = text; (p = strstr(p, from)); p += nfrom)
                count++;
        out = malloc(strlen(text) + count * (nto + 1) + 1);
        if (!out)
                return NULL;
        for (p = text, q = out; *p;) {
                if (strncmp(p, from, nfrom) == 0) {
                        memcpy(q, to, nto);
                        q += nto;
                        p += nfrom;
                } else {
                        *q++ = *p++;
                }
        }
        *q = '\0';
        return out;
}

/* Put a fresh copy of the fixture, renamed to g_name, at g_xmlpath. */
static void make_guest_xml(void)
{
        char path[PATH_MAX];
        char *text, *renamed;
        size_t len;

        snprintf(path, sizeof(path), "%s/tests/data/integration/tcg-guest.xml", g_srcdir);
        text = read_all(path, &len);
        ck_assert_msg(text != NULL, "cannot read %s: %s", path, strerror(errno));
        renamed = replace_all(text, FIXTURE_NAME, g_name);
        ck_assert_ptr_nonnull(renamed);
        ck_assert_msg(write_all(g_xmlpath, renamed, strlen(renamed)),
                      "cannot write %s: %s", g_xmlpath, strerror(errno));
        /* vdsm hands hooks a mkstemp file: mode 0600. */
        ck_assert_int_eq(chmod(g_xmlpath, 0600), 0);
        free(text);
        free(renamed);
}

typedef struct HookRun {
        int status;             /* exit code, or -signal */
        char err[4096];         /* what it wrote on stderr */
        double ms;
} HookRun;

/*
 * Run the hook as vdsm does: _hook_domxml names the file, each custom property
 * is a variable of its own name, nothing on stdin, stdout thrown away.
 * A NULL property is removed from the environment.
 */
static void run_hook(const char *cputune, const char *numatune, const char *guestnuma, HookRun *run)
{
        char hook[PATH_MAX];
        int errpipe[2];
        size_t used = 0;
        double t0;
        pid_t pid;
        int wstatus;

        snprintf(hook, sizeof(hook), "%s/hooks/before_vm_start", g_builddir);
        ck_assert_int_eq(pipe(errpipe), 0);
        t0 = now_ms();
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                int devnull = open("/dev/null", O_RDWR);
                const char *names[] = { "cputune", "numatune", "guestnuma" };
                const char *values[] = { cputune, numatune, guestnuma };

                dup2(devnull, STDIN_FILENO);
                dup2(devnull, STDOUT_FILENO);
                dup2(errpipe[1], STDERR_FILENO);
                close(errpipe[0]);
                close(errpipe[1]);
                for (size_t i = 0; i < 3; i++) {
                        if (values[i])
                                setenv(names[i], values[i], 1);
                        else
                                unsetenv(names[i]);
                }
                setenv("_hook_domxml", g_xmlpath, 1);
                execl(hook, hook, (char *)NULL);
                dprintf(STDERR_FILENO, "cannot run %s: %s\n", hook, strerror(errno));
                _exit(127);
        }
        close(errpipe[1]);
        for (;;) {
                ssize_t n = read(errpipe[0], run->err + used, sizeof(run->err) - 1 - used);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                used += (size_t)n;
                if (used == sizeof(run->err) - 1)
                        break;
        }
        run->err[used] = '\0';
        close(errpipe[0]);
        while (waitpid(pid, &wstatus, 0) < 0)
                ck_assert_int_eq(errno, EINTR);
        run->ms = now_ms() - t0;
        run->status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -WTERMSIG(wstatus);
}

static virConnectPtr connect_or_fail(void)
{
        virConnectPtr conn = virConnectOpen(URI);

        ck_assert_msg(conn != NULL, "virConnectOpen(%s): %s (is libvirtd running? "
                      "tests/integration-libvirt.sh starts one)", URI, virGetLastErrorMessage());
        return conn;
}

/* Destroy and undefine g_name if it exists; true when something was removed. */
static bool remove_guest(void)
{
        virConnectPtr conn = virConnectOpen(URI);
        virDomainPtr dom;
        bool removed = false;

        if (!conn)
                return false;
        dom = virDomainLookupByName(conn, g_name);
        if (dom) {
                if (virDomainIsActive(dom) == 1)
                        virDomainDestroy(dom);
                virDomainUndefine(dom);
                virDomainFree(dom);
                removed = true;
        }
        virConnectClose(conn);
        return removed;
}

/* "0-1,5" form of a libvirt cpumap, for messages. */
static const char *format_cpumap(const unsigned char *map, int ncpus, char *buf, size_t size)
{
        size_t used = 0;

        buf[0] = '\0';
        for (int c = 0; c < ncpus; c++) {
                int e = c;

                if (!VIR_CPU_USED(map, c))
                        continue;
                while (e + 1 < ncpus && VIR_CPU_USED(map, e + 1))
                        e++;
                if (used < size)
                        used += (size_t)snprintf(buf + used, size - used, e > c ? "%s%d-%d" : "%s%d",
                                                 used ? "," : "", c, e);
                c = e;
        }
        if (used >= size && size > 4)
                strcpy(buf + size - 4, "...");
        return buf;
}

/* The host CPU cputune pins vCPU @v to: vCPU 0 on the highest online CPU, vCPU 1 on the lowest. */
static int expected_cpu(int v)
{
        return v == 0 ? g_cpu_hi : g_cpu_lo;
}

static void check_cpumap(const char *what, int v, const unsigned char *map, int ncpus)
{
        char got[256];

        for (int c = 0; c < ncpus; c++)
                ck_assert_msg(!!VIR_CPU_USED(map, c) == (c == expected_cpu(v)),
                              "%s of vCPU %d is %s, expected exactly CPU %d", what, v,
                              format_cpumap(map, ncpus, got, sizeof(got)), expected_cpu(v));
}

static char *xpath_string(xmlXPathContextPtr ctx, const char *expr)
{
        xmlXPathObjectPtr obj = xmlXPathEvalExpression(BAD_CAST expr, ctx);
        char *ret = NULL;

        if (obj) {
                xmlChar *s = xmlXPathCastToString(obj);

                ret = strdup((const char *)s);
                xmlFree(s);
                xmlXPathFreeObject(obj);
        }
        ck_assert_msg(ret != NULL, "XPath %s failed", expr);
        return ret;
}

static void assert_xpath_eq(xmlXPathContextPtr ctx, const char *expr, const char *want)
{
        char *got = xpath_string(ctx, expr);

        ck_assert_msg(strcmp(got, want) == 0, "live XML: %s is '%s', expected '%s'", expr, got, want);
        free(got);
}

/* ---------------------------------------------------------------- fixtures */

static void suite_setup(void)
{
        /* The hooks this suite runs keep their ledger in a private folder, not the host's /run/hpvm-hooks. */
        setenv("HPVM_CONFIG", th_config_env() + strlen("HPVM_CONFIG="), 1);
        g_srcdir = getenv("HPVM_SRCDIR") ? getenv("HPVM_SRCDIR") : ".";
        g_builddir = getenv("HPVM_BUILDDIR") ? getenv("HPVM_BUILDDIR") : ".";
        snprintf(g_name, sizeof(g_name), "hpvm-it-%ld", (long)getpid());
        snprintf(g_tmpdir, sizeof(g_tmpdir), "%s/hpvm-it.XXXXXX",
                 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        if (!mkdtemp(g_tmpdir)) {
                fprintf(stderr, "test-libvirt: mkdtemp: %s\n", strerror(errno));
                exit(1);
        }
        snprintf(g_xmlpath, sizeof(g_xmlpath), "%s/domxml", g_tmpdir);

        if (!sysfs_range("/sys/devices/system/cpu/online", &g_cpu_lo, &g_cpu_hi)) {
                fprintf(stderr, "test-libvirt: cannot read /sys/devices/system/cpu/online\n");
                exit(1);
        }
        /* A kernel without NUMA shows no node folder: everything is node 0. */
        if (!sysfs_range("/sys/devices/system/node/online", &g_node, &g_node_hi))
                g_node = g_node_hi = 0;
        {
                char *v = read_all("/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages", &(size_t){ 0 });

                if (v)
                        g_nr_2m = strtol(v, NULL, 10);
                free(v);
        }
        virSetErrorFunc(NULL, quiet_libvirt);
        fact("host: online CPUs %d..%d, NUMA nodes %d..%d; guest %s, files in %s",
             g_cpu_lo, g_cpu_hi, g_node, g_node_hi, g_name, g_tmpdir);
}

static void suite_teardown(void)
{
        DIR *d;
        struct dirent *e;

        /* Also runs when a test failed or timed out in its forked child. */
        if (remove_guest())
                fact("teardown: destroyed and undefined %s", g_name);
        /* A failed huge page case cannot restore the reservation from its forked child. */
        if (g_nr_2m >= 0) {
                char buf[32];
                int fd = open("/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages", O_WRONLY);

                snprintf(buf, sizeof(buf), "%ld\n", g_nr_2m);
                if (fd >= 0) {
                        if (write(fd, buf, strlen(buf)) < 0)
                                fact("teardown: cannot restore nr_hugepages to %ld", g_nr_2m);
                        close(fd);
                }
        }
        d = opendir(g_tmpdir);
        if (d) {
                while ((e = readdir(d))) {
                        char p[PATH_MAX + 256];

                        if (e->d_name[0] == '.' && (!e->d_name[1] || !strcmp(e->d_name, "..")))
                                continue;
                        snprintf(p, sizeof(p), "%s/%s", g_tmpdir, e->d_name);
                        unlink(p);
                }
                closedir(d);
        }
        rmdir(g_tmpdir);
}

/* ---------------------------------------------------------------- tests */

enum { BAD_CPU_NEXT, BAD_CPU_4095, BAD_NODE_NEXT };

static const struct {
        int kind;
        const char *what;
} bad_cases[] = {
        { BAD_CPU_NEXT, "cputune names the first CPU past the online ones" },
        { BAD_CPU_4095, "cputune names CPU 4095" },
        { BAD_NODE_NEXT, "numatune names a NUMA node past the online ones" },
};

/* Count the entries of g_tmpdir: the hook must leave no temporary file behind. */
static int tmpdir_entries(void)
{
        DIR *d = opendir(g_tmpdir);
        struct dirent *e;
        int n = 0;

        ck_assert_ptr_nonnull(d);
        while ((e = readdir(d)))
                if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
                        n++;
        closedir(d);
        return n;
}

START_TEST(test_hook_refuses_offline_host_resources)
{
        char cputune[64], numatune[64];
        const char *nl;
        char *before, *after;
        size_t nbefore, nafter;
        struct stat st0, st1;
        virConnectPtr conn;
        virDomainPtr dom;
        HookRun run;

        snprintf(cputune, sizeof(cputune), "0#%d,1#%d", g_cpu_hi, g_cpu_lo);
        snprintf(numatune, sizeof(numatune), "strict#%d", g_node);
        switch (bad_cases[_i].kind) {
        case BAD_CPU_NEXT:
                snprintf(cputune, sizeof(cputune), "0#%d,1#%d", g_cpu_hi + 1, g_cpu_lo);
                break;
        case BAD_CPU_4095:
                ck_assert_int_lt(g_cpu_hi, 4095);
                snprintf(cputune, sizeof(cputune), "0#4095,1#%d", g_cpu_lo);
                break;
        case BAD_NODE_NEXT:
                snprintf(numatune, sizeof(numatune), "strict#%d", g_node_hi + 1);
                break;
        }

        make_guest_xml();
        before = read_all(g_xmlpath, &nbefore);
        ck_assert_ptr_nonnull(before);
        ck_assert_int_eq(stat(g_xmlpath, &st0), 0);

        run_hook(cputune, numatune, "0#512M,1#512M", &run);

        ck_assert_msg(run.status == 2, "%s: hook exited %d, expected 2; stderr: %s",
                      bad_cases[_i].what, run.status, run.err);
        ck_assert_msg(strncmp(run.err, "hpvm: ", 6) == 0,
                      "stderr does not start with 'hpvm: ': %s", run.err);
        nl = strchr(run.err, '\n');
        ck_assert_msg(nl && nl[1] == '\0', "stderr is not exactly one line: %s", run.err);

        after = read_all(g_xmlpath, &nafter);
        ck_assert_ptr_nonnull(after);
        ck_assert_msg(nafter == nbefore && memcmp(before, after, nbefore) == 0,
                      "the hook changed %s although it failed", g_xmlpath);
        ck_assert_int_eq(stat(g_xmlpath, &st1), 0);
        ck_assert_msg(st0.st_ino == st1.st_ino, "the hook replaced %s although it failed", g_xmlpath);
        ck_assert_int_eq(tmpdir_entries(), 1);

        conn = connect_or_fail();
        dom = virDomainLookupByName(conn, g_name);
        ck_assert_msg(dom == NULL, "domain %s is defined although the hook failed", g_name);
        virConnectClose(conn);

        fact("refused (%s): cputune=%s numatune=%s -> exit %d in %.1f ms, file unchanged, "
             "nothing defined; stderr: %.*s", bad_cases[_i].what, cputune, numatune,
             run.status, run.ms, (int)(nl - run.err), run.err);
        free(before);
        free(after);
}
END_TEST

START_TEST(test_running_guest_has_hook_settings)
{
        char cputune[64], numatune[64], nodeset[16], buf[256];
        unsigned char *maps;
        virVcpuInfo info[GUEST_VCPUS];
        virTypedParameterPtr params = NULL;
        int nparams = 0, ncpus, maplen, state, reason, mode = -1;
        const char *got_nodeset = NULL;
        double t0, t_start, t_all = now_ms();
        char *xml, *live;
        size_t xmllen;
        virConnectPtr conn;
        virDomainPtr dom;
        xmlDocPtr doc;
        xmlXPathContextPtr ctx;
        HookRun run;

        snprintf(cputune, sizeof(cputune), "0#%d,1#%d", g_cpu_hi, g_cpu_lo);
        snprintf(numatune, sizeof(numatune), "strict#%d", g_node);
        snprintf(nodeset, sizeof(nodeset), "%d", g_node);

        make_guest_xml();
        run_hook(cputune, numatune, "0#512M,1#512M", &run);
        ck_assert_msg(run.status == 0, "hook exited %d; stderr: %s", run.status, run.err);
        fact("hook: cputune=%s numatune=%s guestnuma=0#512M,1#512M -> exit 0 in %.1f ms%s%s",
             cputune, numatune, run.ms, run.err[0] ? "; stderr: " : "", run.err);
        ck_assert_int_eq(tmpdir_entries(), 1);

        xml = read_all(g_xmlpath, &xmllen);
        ck_assert_ptr_nonnull(xml);

        conn = connect_or_fail();
        dom = virDomainDefineXML(conn, xml);
        ck_assert_msg(dom != NULL, "libvirt refuses the hook's XML: %s", virGetLastErrorMessage());
        t0 = now_ms();
        ck_assert_msg(virDomainCreate(dom) == 0, "virDomainCreate: %s", virGetLastErrorMessage());
        t_start = now_ms() - t0;
        ck_assert_int_eq(virDomainGetState(dom, &state, &reason, 0), 0);
        ck_assert_msg(state == VIR_DOMAIN_RUNNING, "guest state %d, expected running", state);
        fact("guest %s (id %d) defined and started in %.0f ms: running", g_name,
             (int)virDomainGetID(dom), t_start);

        /* Pinning libvirt applied, then what the vCPU threads really have. */
        ncpus = virNodeGetCPUMap(conn, NULL, NULL, 0);
        ck_assert_int_gt(ncpus, g_cpu_hi);
        maplen = VIR_CPU_MAPLEN(ncpus);
        maps = calloc(GUEST_VCPUS, (size_t)maplen);
        ck_assert_ptr_nonnull(maps);
        ck_assert_msg(virDomainGetVcpuPinInfo(dom, GUEST_VCPUS, maps, maplen, VIR_DOMAIN_AFFECT_LIVE)
                      == GUEST_VCPUS, "virDomainGetVcpuPinInfo: %s", virGetLastErrorMessage());
        for (int v = 0; v < GUEST_VCPUS; v++) {
                check_cpumap("live vcpupin", v, VIR_GET_CPUMAP(maps, maplen, v), ncpus);
                fact("vcpupin (live, virDomainGetVcpuPinInfo): vCPU %d -> CPU %s", v,
                     format_cpumap(VIR_GET_CPUMAP(maps, maplen, v), ncpus, buf, sizeof(buf)));
        }
        memset(maps, 0, (size_t)GUEST_VCPUS * (size_t)maplen);
        ck_assert_msg(virDomainGetVcpus(dom, info, GUEST_VCPUS, maps, maplen) == GUEST_VCPUS,
                      "virDomainGetVcpus: %s", virGetLastErrorMessage());
        for (int v = 0; v < GUEST_VCPUS; v++) {
                check_cpumap("vCPU thread affinity", v, VIR_GET_CPUMAP(maps, maplen, v), ncpus);
                fact("vCPU thread affinity (virDomainGetVcpus): vCPU %u -> CPU %s, now on CPU %d",
                     info[v].number, format_cpumap(VIR_GET_CPUMAP(maps, maplen, v), ncpus, buf, sizeof(buf)),
                     info[v].cpu);
        }
        free(maps);

        /* Memory policy. */
        ck_assert_int_eq(virDomainGetNumaParameters(dom, NULL, &nparams, VIR_DOMAIN_AFFECT_LIVE), 0);
        ck_assert_int_gt(nparams, 0);
        params = calloc((size_t)nparams, sizeof(*params));
        ck_assert_ptr_nonnull(params);
        ck_assert_msg(virDomainGetNumaParameters(dom, params, &nparams, VIR_DOMAIN_AFFECT_LIVE) == 0,
                      "virDomainGetNumaParameters: %s", virGetLastErrorMessage());
        ck_assert_int_eq(virTypedParamsGetInt(params, nparams, VIR_DOMAIN_NUMA_MODE, &mode), 1);
        ck_assert_int_eq(virTypedParamsGetString(params, nparams, VIR_DOMAIN_NUMA_NODESET, &got_nodeset), 1);
        ck_assert_msg(mode == VIR_DOMAIN_NUMATUNE_MEM_STRICT, "numa mode %d, expected strict", mode);
        ck_assert_str_eq(got_nodeset, nodeset);
        fact("numatune (live, virDomainGetNumaParameters): mode=strict nodeset=%s", got_nodeset);
        virTypedParamsFree(params, nparams);

        /* Guest NUMA cells, from the live definition. */
        live = virDomainGetXMLDesc(dom, 0);
        ck_assert_msg(live != NULL, "virDomainGetXMLDesc: %s", virGetLastErrorMessage());
        doc = xmlReadMemory(live, (int)strlen(live), "live.xml", NULL, XML_PARSE_NONET);
        ck_assert_ptr_nonnull(doc);
        ctx = xmlXPathNewContext(doc);
        ck_assert_ptr_nonnull(ctx);
        assert_xpath_eq(ctx, "count(/domain/cpu/numa/cell)", "2");
        for (int c = 0; c < GUEST_VCPUS; c++) {
                char expr[128], want[32], *cpus, *mem, *unit;

                snprintf(expr, sizeof(expr), "string(/domain/cpu/numa/cell[%d]/@id)", c + 1);
                snprintf(want, sizeof(want), "%d", c);
                assert_xpath_eq(ctx, expr, want);
                snprintf(expr, sizeof(expr), "string(/domain/cpu/numa/cell[%d]/@cpus)", c + 1);
                assert_xpath_eq(ctx, expr, want);
                snprintf(expr, sizeof(expr), "string(/domain/cpu/numa/cell[%d]/@memory)", c + 1);
                snprintf(want, sizeof(want), "%llu", CELL_KIB);
                assert_xpath_eq(ctx, expr, want);
                snprintf(expr, sizeof(expr), "string(/domain/cpu/numa/cell[%d]/@unit)", c + 1);
                assert_xpath_eq(ctx, expr, "KiB");

                snprintf(expr, sizeof(expr), "string(/domain/cpu/numa/cell[%d]/@cpus)", c + 1);
                cpus = xpath_string(ctx, expr);
                snprintf(expr, sizeof(expr), "string(/domain/cpu/numa/cell[%d]/@memory)", c + 1);
                mem = xpath_string(ctx, expr);
                snprintf(expr, sizeof(expr), "string(/domain/cpu/numa/cell[%d]/@unit)", c + 1);
                unit = xpath_string(ctx, expr);
                fact("guest NUMA (live XML): cell %d cpus=%s memory=%s %s", c, cpus, mem, unit);
                free(cpus);
                free(mem);
                free(unit);
        }
        assert_xpath_eq(ctx, "string(/domain/numatune/memory/@mode)", "strict");
        assert_xpath_eq(ctx, "string(/domain/numatune/memory/@nodeset)", nodeset);
        assert_xpath_eq(ctx, "count(/domain/cputune/vcpupin)", "2");
        xmlXPathFreeContext(ctx);
        xmlFreeDoc(doc);
        free(live);

        ck_assert_int_eq(virDomainDestroy(dom), 0);
        ck_assert_int_eq(virDomainUndefine(dom), 0);
        virDomainFree(dom);
        dom = virDomainLookupByName(conn, g_name);
        ck_assert_msg(dom == NULL, "%s still defined after undefine", g_name);
        virConnectClose(conn);
        free(xml);
        fact("guest destroyed and undefined; whole case %.0f ms", now_ms() - t_all);
}
END_TEST


/* ---------------------------------------------------------------- the High Performance profile */

/* Run the hook on g_xmlpath with "name=value" properties; returns the exit code, stderr in *ret_err. */
static int run_hook_props(const char *const *props, char **ret_err)
{
        char hook[PATH_MAX], domxml[PATH_MAX + 32];
        const char *argv[] = { hook, NULL };
        const char *env[16] = { domxml };
        size_t n = 1;
        ThRun r;

        snprintf(hook, sizeof(hook), "%s/hooks/before_vm_start", g_builddir);
        snprintf(domxml, sizeof(domxml), "_hook_domxml=%s", g_xmlpath);
        for (; props && *props && n < 15; props++)
                env[n++] = *props;
        th_run(argv, env, 60, &r);
        *ret_err = r.err;
        free(r.out);
        return r.status;
}

/* engine.xml, named g_name, on a machine type this QEMU has. */
static void make_engine_xml(const char *from, const char *to)
{
        char path[PATH_MAX];
        char *text, *renamed, *fixed, *more = NULL;
        size_t len;

        snprintf(path, sizeof(path), "%s/tests/data/domains/engine.xml", g_srcdir);
        text = read_all(path, &len);
        ck_assert_ptr_nonnull(text);
        renamed = replace_all(text, "db-large-01", g_name);
        fixed = replace_all(renamed, "pc-q35-rhel8.6.0", "q35");
        if (from)
                more = replace_all(fixed, from, to);
        ck_assert(write_all(g_xmlpath, more ? more : fixed, strlen(more ? more : fixed)));
        free(text);
        free(renamed);
        free(fixed);
        free(more);
}

/* What the libvirt test data promises: a spicevmc channel without SPICE graphics is refused. */
START_TEST(test_graphics_alone_is_not_enough)
{
        virConnectPtr conn = connect_or_fail();
        virDomainPtr dom;
        char *xml, *start, *end;
        size_t len;

        make_engine_xml(NULL, NULL);
        xml = read_all(g_xmlpath, &len);
        ck_assert_ptr_nonnull(xml);
        /* Cut every <graphics>...</graphics>, nothing else. */
        while ((start = strstr(xml, "<graphics")) && (end = strstr(start, "</graphics>")))
                memmove(start, end + strlen("</graphics>"), strlen(end + strlen("</graphics>")) + 1);
        dom = virDomainDefineXML(conn, xml);
        if (dom) {
                fact("profile: this libvirt accepts SPICE channels without SPICE graphics");
                virDomainUndefine(dom);
                virDomainFree(dom);
        } else {
                fact("profile: graphics removed alone, libvirt refuses: %s", virGetLastErrorMessage());
        }
        virConnectClose(conn);
        free(xml);
}
END_TEST

static void assert_absent(const char *xml, const char *what)
{
        ck_assert_msg(!strstr(xml, what), "defined domain still has %s", what);
}

static void assert_present(const char *xml, const char *what)
{
        ck_assert_msg(strstr(xml, what), "defined domain lacks %s", what);
}

/* A real oVirt-style domain (SPICE graphics, SPICE agent channel, USB redirection) through
 * the profile, then through libvirt's full parser on the real daemon. */
START_TEST(test_profile_engine_domain_defines)
{
        const char *props[] = { "highperf=true", NULL };
        virConnectPtr conn = connect_or_fail();
        virDomainPtr dom;
        char *err, *xml, *live;
        size_t len;
        int rc;

        remove_guest();         /* a failed case before must not leave its domain behind */
        make_engine_xml(NULL, NULL);
        rc = run_hook_props(props, &err);
        ck_assert_msg(rc == 0, "hook exit %d: %s", rc, err);
        ck_assert_ptr_nonnull(strstr(err, "hpvm: warning: highperf:"));
        free(err);
        xml = read_all(g_xmlpath, &len);
        ck_assert_ptr_nonnull(xml);
        dom = virDomainDefineXML(conn, xml);
        ck_assert_msg(dom, "libvirt refuses the profile's domain: %s", virGetLastErrorMessage());
        live = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE);
        ck_assert_ptr_nonnull(live);
        assert_absent(live, "<graphics");
        assert_absent(live, "spicevmc");
        assert_absent(live, "<redirdev");
        assert_absent(live, "<sound");
        assert_absent(live, "<watchdog");
        assert_present(live, "<cpu mode='host-passthrough'");
        assert_present(live, "<memballoon model='none'/>");
        assert_present(live, "<model type='none'/>");
        assert_present(live, "<controller type='usb' index='0' model='none'/>");
        assert_present(live, "<iothreads>1</iothreads>");
        fact("profile: oVirt domain with SPICE, agent channel and USB redirection defined by libvirtd after highperf=true");
        virDomainUndefine(dom);
        virDomainFree(dom);
        virConnectClose(conn);
        free(xml);
        free(live);
}
END_TEST

static long read_long(const char *path)
{
        char *s;
        size_t len;
        long v = -1;

        s = read_all(path, &len);
        if (s) {
                v = strtol(s, NULL, 10);
                free(s);
        }
        return v;
}

static bool write_long(const char *path, long v)
{
        char buf[32];

        snprintf(buf, sizeof(buf), "%ld\n", v);
        return write_all(path, buf, strlen(buf));
}

/* Huge pages the kernel has handed out or promised: total - free + reserved. */
static long hugepages_taken(void)
{
        char *m;
        size_t len;
        long total = 0, freep = 0, rsvd = 0;
        const char *p;

        m = read_all("/proc/meminfo", &len);
        ck_assert_ptr_nonnull(m);
        if ((p = strstr(m, "HugePages_Total:")))
                total = strtol(p + 16, NULL, 10);
        if ((p = strstr(m, "HugePages_Free:")))
                freep = strtol(p + 15, NULL, 10);
        if ((p = strstr(m, "HugePages_Rsvd:")))
                rsvd = strtol(p + 15, NULL, 10);
        free(m);
        return total - freep + rsvd;
}

#define NR_2M "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages"
#define FREE_2M "/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages"
#define GUEST_PAGES 512L        /* 1 GiB of 2 MiB pages */

/*
 * The TCG guest through the profile (+ pins, + 2 MiB pages when the host can
 * reserve them): the profile's domain is defined as written; its TCG variant
 * (host-passthrough is refused under TCG) is started and checked live.
 */
START_TEST(test_profile_guest_starts)
{
        char cputune[64], *err, *xml, *tcg, *live;
        const char *props[6] = { "highperf=true", cputune, NULL };
        virConnectPtr conn = connect_or_fail();
        long nr_before = read_long(NR_2M), taken_before = 0;
        bool huge = false;
        virDomainPtr dom;
        size_t len;
        int rc;

        char *mounts = read_all("/proc/mounts", &len);
        bool hugetlbfs = mounts && strstr(mounts, " hugetlbfs ");
        const char *require = getenv("HPVM_REQUIRE_LIBVIRT");

        free(mounts);
        snprintf(cputune, sizeof(cputune), "cputune=0#%d,1#%d", g_cpu_hi, g_cpu_lo);
        if (nr_before < 0) {
                fact("profile: no 2 MiB huge pages on this kernel: guest starts without them");
        } else if (!hugetlbfs) {
                fact("profile: hugetlbfs is not mounted: guest starts without huge pages");
        } else if (!write_long(NR_2M, nr_before + GUEST_PAGES) || read_long(FREE_2M) < GUEST_PAGES) {
                fact("profile: the kernel would not reserve %ld more 2 MiB pages (free: %ld): guest starts "
                     "without huge pages", GUEST_PAGES, read_long(FREE_2M));
                write_long(NR_2M, nr_before);
        } else {
                huge = true;
                props[2] = "hugepages=2048";
                taken_before = hugepages_taken();
                fact("profile: reserved %ld pages of 2 MiB for the guest", GUEST_PAGES);
        }

        /* Where the real parts are required (CI), a guest on ordinary memory proves nothing about pages. */
        ck_assert_msg(huge || !require || strcmp(require, "1"), "HPVM_REQUIRE_LIBVIRT=1 but the guest cannot run on "
                      "2 MiB huge pages here (see the line above): failing instead of passing without them");
        remove_guest();
        make_guest_xml();
        rc = run_hook_props(props, &err);
        ck_assert_msg(rc == 0, "hook exit %d: %s", rc, err);
        free(err);
        xml = read_all(g_xmlpath, &len);
        ck_assert_ptr_nonnull(xml);
        dom = virDomainDefineXML(conn, xml);
        ck_assert_msg(dom, "libvirt refuses the profile's domain: %s", virGetLastErrorMessage());
        virDomainUndefine(dom);
        virDomainFree(dom);

        /* The TCG variant: a named model instead of host-passthrough, and no invtsc (TCG has none). */
        tcg = replace_all(xml, "<cpu mode=\"host-passthrough\">",
                          "<cpu mode=\"custom\" match=\"exact\" check=\"none\"><model fallback=\"forbid\">qemu64</model>");
        ck_assert_ptr_nonnull(tcg);
        {
                char *no_invtsc = replace_all(tcg, "<feature policy=\"require\" name=\"invtsc\"/>", "");

                free(tcg);
                tcg = no_invtsc;
        }
        dom = virDomainDefineXML(conn, tcg);
        ck_assert_msg(dom, "libvirt refuses the TCG variant: %s", virGetLastErrorMessage());
        ck_assert_msg(virDomainCreate(dom) == 0, "cannot start the profile's guest: %s", virGetLastErrorMessage());
        live = virDomainGetXMLDesc(dom, 0);
        ck_assert_ptr_nonnull(live);
        assert_absent(live, "<graphics");
        assert_present(live, "<memballoon model='none'/>");
        assert_present(live, "<controller type='usb' index='0' model='none'");
        if (huge) {
                long taken = hugepages_taken() - taken_before;

                assert_present(live, "<page size='2048' unit='KiB'/>");
                ck_assert_msg(taken >= GUEST_PAGES, "the running guest took %ld huge pages, wants %ld", taken, GUEST_PAGES);
                fact("profile: guest runs on huge pages: %ld pages of 2 MiB taken by QEMU", taken);
        }
        fact("profile: TCG variant of the profile's guest is running (headless, USB off, balloon none%s)",
             huge ? ", 2 MiB pages" : "");
        virDomainDestroy(dom);
        virDomainUndefine(dom);
        virDomainFree(dom);
        virConnectClose(conn);
        if (huge)
                write_long(NR_2M, nr_before);
        free(xml);
        free(tcg);
        free(live);
}
END_TEST

/*
 * Two 1-vCPU guests placed by cputune=auto through the hook, one after the
 * other like two VM starts, on a ledger of their own with no CPU reserved:
 * they get different host CPUs, read back from the running guests.
 */
START_TEST(test_two_auto_guests_get_distinct_cpus)
{
        char conf_path[PATH_MAX + 32], conf_env[PATH_MAX + 64], state[PATH_MAX + 16], names[2][80], vmid[2][80];
        virConnectPtr conn = connect_or_fail();
        virDomainPtr dom[2] = { NULL, NULL };
        int cpu[2] = { -1, -1 };
        size_t len;

        snprintf(state, sizeof(state), "%s/auto-state", g_tmpdir);
        snprintf(conf_path, sizeof(conf_path), "%s/auto.conf", g_tmpdir);
        snprintf(conf_env, sizeof(conf_env), "HPVM_CONFIG=%s", conf_path);
        {
                char text[PATH_MAX + 64];

                snprintf(text, sizeof(text), "state_dir=%s\nreserved_cpus=\n", state);
                ck_assert(write_all(conf_path, text, strlen(text)));
        }
        for (int i = 0; i < 2; i++) {
                /* Two CPUs here: the emulator goes on a shared set, as an administrator would give it. */
                const char *props[] = { "cputune=auto", "emulatorpin=0-1", conf_env, vmid[i], NULL };
                char *text, *one, *named, *err, *xml;
                unsigned char map[64] = { 0 };
                int rc, ncpus;

                snprintf(names[i], sizeof(names[i]), "%s-auto%d", g_name, i);
                snprintf(vmid[i], sizeof(vmid[i]), "vmId=7e57a070-0000-4000-8000-00000000000%d", i);
                snprintf(conf_path, sizeof(conf_path), "%s/tests/data/integration/tcg-guest.xml", g_srcdir);
                text = read_all(conf_path, &len);
                ck_assert_ptr_nonnull(text);
                one = replace_all(text, "<vcpu placement='static'>2</vcpu>", "<vcpu placement='static'>1</vcpu>");
                named = replace_all(one, FIXTURE_NAME, names[i]);
                free(text);
                free(one);
                text = replace_all(named, "cores='2'", "cores='1'");
                free(named);
                ck_assert(write_all(g_xmlpath, text, strlen(text)));
                free(text);
                snprintf(conf_path, sizeof(conf_path), "%s/auto.conf", g_tmpdir);
                rc = run_hook_props(props, &err);
                ck_assert_msg(rc == 0, "hook exit %d: %s", rc, err);
                free(err);
                xml = read_all(g_xmlpath, &len);
                ck_assert_ptr_nonnull(xml);
                dom[i] = virDomainCreateXML(conn, xml, 0);
                ck_assert_msg(dom[i], "cannot start auto-placed guest %d: %s", i, virGetLastErrorMessage());
                free(xml);
                ncpus = virDomainGetVcpuPinInfo(dom[i], 1, map, sizeof(map), VIR_DOMAIN_AFFECT_LIVE);
                ck_assert_int_eq(ncpus, 1);
                for (int c = 0; c < (int)sizeof(map) * 8; c++)
                        if (VIR_CPU_USABLE(map, sizeof(map), 0, c)) {
                                ck_assert_msg(cpu[i] < 0, "guest %d is pinned to more than one CPU", i);
                                cpu[i] = c;
                        }
                fact("auto: guest %s runs with its vCPU 0 pinned to host CPU %d (virDomainGetVcpuPinInfo)", names[i], cpu[i]);
        }
        ck_assert_msg(cpu[0] >= 0 && cpu[1] >= 0 && cpu[0] != cpu[1], "the two auto-placed guests share CPU %d", cpu[0]);
        {
                char ledger[PATH_MAX + 32];
                char *text;

                snprintf(ledger, sizeof(ledger), "%s/cpus", state);
                text = read_all(ledger, &len);
                ck_assert_ptr_nonnull(text);
                ck_assert_msg(strstr(text, "7e57a070-0000-4000-8000-000000000000") &&
                              strstr(text, "7e57a070-0000-4000-8000-000000000001"), "ledger:\n%s", text);
                fact("auto: the ledger holds both: %s", strchr(text, '\n') + 1);
                free(text);
        }
        for (int i = 0; i < 2; i++) {
                virDomainDestroy(dom[i]);
                virDomainFree(dom[i]);
        }
        virConnectClose(conn);
}
END_TEST

/*
 * Every golden output of the before_vm_start rewrite, defined by libvirtd's
 * QEMU driver (which validates far more than the RelaxNG schema or the test
 * driver): only what ties a domain to the machine it came from is adjusted
 * (name, uuid, a distribution's machine type, an emulator path not here).
 */
static char *adapt_for_here(const char *xml, size_t len, const char *name)
{
        xmlDocPtr doc = xmlReadMemory(xml, (int)len, NULL, NULL, XML_PARSE_NONET);
        xmlNodePtr root, n, os;
        xmlChar *out = NULL;
        char *ret;
        int outlen = 0;

        ck_assert_ptr_nonnull(doc);
        root = xmlDocGetRootElement(doc);
        for (n = root->children; n; n = n->next) {
                if (n->type != XML_ELEMENT_NODE)
                        continue;
                if (xmlStrEqual(n->name, BAD_CAST "name"))
                        xmlNodeSetContent(n, BAD_CAST name);
                if (xmlStrEqual(n->name, BAD_CAST "uuid"))
                        xmlNodeSetContent(n, BAD_CAST "");
        }
        for (n = root->children; n; n = n->next)
                if (n->type == XML_ELEMENT_NODE && xmlStrEqual(n->name, BAD_CAST "uuid")) {
                        xmlUnlinkNode(n);
                        xmlFreeNode(n);
                        break;
                }
        for (os = root->children; os; os = os->next)
                if (os->type == XML_ELEMENT_NODE && xmlStrEqual(os->name, BAD_CAST "os"))
                        for (n = os->children; n; n = n->next) {
                                xmlChar *m;

                                if (n->type != XML_ELEMENT_NODE || !xmlStrEqual(n->name, BAD_CAST "type"))
                                        continue;
                                m = xmlGetProp(n, BAD_CAST "machine");
                                if (m && xmlStrstr(m, BAD_CAST "q35"))
                                        xmlSetProp(n, BAD_CAST "machine", BAD_CAST "q35");
                                else if (m)
                                        xmlSetProp(n, BAD_CAST "machine", BAD_CAST "pc");
                                xmlFree(m);
                        }
        for (n = root->children; n; n = n->next)
                if (n->type == XML_ELEMENT_NODE && xmlStrEqual(n->name, BAD_CAST "devices"))
                        for (xmlNodePtr e = n->children; e; e = e->next) {
                                xmlChar *path;

                                if (e->type != XML_ELEMENT_NODE || !xmlStrEqual(e->name, BAD_CAST "emulator"))
                                        continue;
                                path = xmlNodeGetContent(e);
                                if (path && access((const char *)path, X_OK) != 0)
                                        xmlNodeSetContent(e, BAD_CAST "/usr/bin/qemu-system-x86_64");
                                xmlFree(path);
                        }
        xmlDocDumpMemory(doc, &out, &outlen);
        ck_assert_ptr_nonnull(out);
        ret = strndup((const char *)out, (size_t)outlen);
        xmlFree(out);
        xmlFreeDoc(doc);
        return ret;
}

START_TEST(test_goldens_define_on_qemu)
{
        char dir[PATH_MAX], path[PATH_MAX + 256], name[128];
        virConnectPtr conn = connect_or_fail();
        unsigned defined = 0;
        struct dirent *e;
        DIR *d;

        snprintf(dir, sizeof(dir), "%s/tests/data/golden", g_srcdir);
        d = opendir(dir);
        ck_assert_msg(d, "cannot open %s", dir);
        while ((e = readdir(d))) {
                size_t nlen = strlen(e->d_name), len;
                virDomainPtr dom;
                char *xml, *here;

                if (nlen < 5 || strcmp(e->d_name + nlen - 4, ".xml"))
                        continue;
                snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
                snprintf(name, sizeof(name), "%s-g%u", g_name, defined);
                xml = read_all(path, &len);
                ck_assert_ptr_nonnull(xml);
                here = adapt_for_here(xml, len, name);
                dom = virDomainDefineXML(conn, here);
                ck_assert_msg(dom, "libvirtd's QEMU driver refuses golden %s: %s", e->d_name, virGetLastErrorMessage());
                virDomainUndefine(dom);
                virDomainFree(dom);
                free(xml);
                free(here);
                defined++;
        }
        closedir(d);
        ck_assert_uint_gt(defined, 10);
        fact("goldens: all %u golden outputs defined by libvirtd's QEMU driver on %s", defined, URI);
        virConnectClose(conn);
}
END_TEST

static Suite *libvirt_suite(void)
{
        Suite *s = suite_create("libvirt");
        TCase *tc = tcase_create("tcg-guest");

        /* Unchecked: runs in the runner, so cleanup happens even if a forked test dies. */
        tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
        /* Starting a TCG guest takes seconds; a slow CI machine may need far more. */
        tcase_set_timeout(tc, 120);
        tcase_add_loop_test(tc, test_hook_refuses_offline_host_resources, 0, (int)(sizeof(bad_cases) / sizeof(bad_cases[0])));
        tcase_add_test(tc, test_running_guest_has_hook_settings);
        suite_add_tcase(s, tc);

        tc = tcase_create("profile");
        tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
        tcase_set_timeout(tc, 180);
        tcase_add_test(tc, test_graphics_alone_is_not_enough);
        tcase_add_test(tc, test_profile_engine_domain_defines);
        tcase_add_test(tc, test_profile_guest_starts);
        suite_add_tcase(s, tc);

        tc = tcase_create("auto");
        tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_two_auto_guests_get_distinct_cpus);
        suite_add_tcase(s, tc);

        tc = tcase_create("goldens");
        tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
        tcase_set_timeout(tc, 180);
        tcase_add_test(tc, test_goldens_define_on_qemu);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(libvirt_suite());
        int failed;

        setvbuf(stdout, NULL, _IOLBF, 0);
        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
