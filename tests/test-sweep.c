/* test-sweep.c: before_vm_start over every domain XML in $HPVM_CORPUS_DIR with several property sets, judged by the schema and a real libvirtd. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "testhelp.h"

/*
 * For every file of every folder in $HPVM_CORPUS_DIR (':'-separated) whose root is
 * <domain>, and every property set derived from its <vcpu> and <memory>, the built hook
 * runs as vdsm runs it (private copy, _hook_domxml, properties as environment variables)
 * on the fake host tests/data/sysfs/big4, and must:
 *   - exit 0 or 2 within HOOK_TIMEOUT_S (anything else, a signal or a hang is a bug);
 *   - on 2: print exactly one "hpvm: " line and leave the file byte for byte alone;
 *   - on 0: print only "hpvm: warning: " lines and write XML that re-parses, is valid per
 *     libvirt's RelaxNG schema when the input was, comes out the same from a second run,
 *     and is defined by libvirtd's QEMU driver when the input was.
 * Refusals with a reason are not bugs: they are counted by reason for a reviewer.
 * Knobs: HPVM_SWEEP_LIBVIRT=0 (no libvirtd check), HPVM_LIBVIRT_URI (default
 * qemu:///system), HPVM_SWEEP_VERBOSE=1 (also print each refusal and each input's verdicts),
 * HPVM_SWEEP_HOOK=PATH (sweep another program: a deliberately broken one shows what each
 * check catches).
 */

#define HOOK_TIMEOUT_S 5
#define FILE_MAX (16u << 20)    /* the hook refuses bigger documents: no use sweeping them */
#define SETS_MAX 8
#define PROPS_MAX 8
#define MSG_MAX 1024
#define KEYS_MAX 512
#define SWEEP_TREE "tests/data/sysfs/big4"
#define HOST_CPUS 512           /* what the tree's cpu/online says: 0-511 */
/* For <emulator>s this machine does not have (vdsm's /usr/libexec/qemu-kvm): same rule for input and output. */
#define HOST_QEMU "/usr/bin/qemu-system-x86_64"
/* The fixed UUID vdsm's template placeholder stands for (vdsm substitutes it before any hook runs). */
#define VM_UUID_PLACEHOLDER "{vm_uuid}"
#define VM_UUID "6870766d-7377-4565-8000-000000000001"

typedef enum Lv { LV_UNKNOWN, LV_ACCEPTS, LV_REFUSES } Lv;

/* One corpus file, with the verdicts on its input (computed once). */
typedef struct SweepFile {
        char *label;            /* "<folder name>/<file name>" */
        char *xml;              /* what the hook is given: the file, placeholder filled in */
        size_t len;
        unsigned vcpus;         /* <vcpu>, 1 if absent */
        uint64_t mem_kib;       /* <memory>, 0 if absent or unreadable */
        uint64_t devmem_kib;    /* <devices><memory><target><size> summed */
        uint64_t cells_kib;     /* <cpu><numa><cell memory> summed, 0 without cells */
        bool schema_valid;
        char schema_why[MSG_MAX];
        Lv lv;
        char lv_why[MSG_MAX];
} SweepFile;

typedef struct PropSet {
        const char *name;
        size_t n;
        char *env[PROPS_MAX];   /* "name=value", malloc'd */
} PropSet;

typedef struct HookRun {
        int status;             /* exit code, 128+signal, or -1 when killed after HOOK_TIMEOUT_S */
        double seconds;
        char *err;
} HookRun;

/* reason -> count, for the tables at the end */
typedef struct TallyRow {
        char *key;
        unsigned count;
        char *example;          /* "file set" of the first case */
} TallyRow;

typedef struct Tally {
        size_t n;
        TallyRow row[KEYS_MAX];
} Tally;

static struct {
        char *hook, *tree, *tmp, *domxml, *env_domxml;
        virConnectPtr conn;     /* NULL: no libvirtd check */
        unsigned long serial;   /* names and UUIDs of domains defined here */
        bool verbose;
        unsigned files, skipped, cases, clean, refused, bugs, not_applicable;
        unsigned schema_checked, lv_checked, idem_checked;
        unsigned in_schema_valid, in_lv_accepts;
        Tally refusals, causes, skips;
} g;

static double now_s(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *xstrdup(const char *s)
{
        char *p = strdup(s);

        ck_assert_ptr_nonnull(p);
        return p;
}

static char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xasprintf(const char *fmt, ...)
{
        va_list ap;
        char *p;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&p, fmt, ap);
        va_end(ap);
        ck_assert_int_ge(r, 0);
        return p;
}

static void tally(Tally *t, const char *key, const char *example)
{
        for (size_t i = 0; i < t->n; i++)
                if (!strcmp(t->row[i].key, key)) {
                        t->row[i].count++;
                        return;
                }
        ck_assert_uint_lt(t->n, KEYS_MAX);
        t->row[t->n].key = xstrdup(key);
        t->row[t->n].example = xstrdup(example);
        t->row[t->n].count = 1;
        t->n++;
}

static int by_count(const void *a, const void *b)
{
        const TallyRow *x = a, *y = b;

        if (x->count != y->count)
                return x->count < y->count ? 1 : -1;
        return strcmp(x->key, y->key);
}

static void tally_print(Tally *t, const char *title)
{
        if (!t->n)
                return;
        qsort(t->row, t->n, sizeof(t->row[0]), by_count);
        printf("sweep: %s (count, reason, first case):\n", title);
        for (size_t i = 0; i < t->n; i++)
                printf("sweep:   %4u  %s   [%s]\n", t->row[i].count, t->row[i].key, t->row[i].example);
}

static void tally_free(Tally *t)
{
        for (size_t i = 0; i < t->n; i++) {
                free(t->row[i].key);
                free(t->row[i].example);
        }
        t->n = 0;
}

/* The reason of a refusal without its numbers and quoted values, so alike refusals count as one. */
static char *reason_key(const char *msg)
{
        /* A quoted part becomes '..': "''" doubles in length, nothing grows more. */
        char *key = malloc(2 * strlen(msg) + 1), *q = key;
        const char *p = msg;

        ck_assert_ptr_nonnull(key);
        if (!strncmp(p, "hpvm: ", 6))
                p += 6;
        while (*p && *p != '\n') {
                if (*p >= '0' && *p <= '9') {
                        while ((*p >= '0' && *p <= '9') || (*p == '.' && p[1] >= '0' && p[1] <= '9'))
                                p++;
                        *q++ = 'N';
                } else if (*p == '\'' && strchr(p + 1, '\'') && (p == msg || strchr(" (=<", p[-1]))) {
                        p = strchr(p + 1, '\'') + 1;
                        *q++ = '\'';
                        *q++ = '.';
                        *q++ = '.';
                        *q++ = '\'';
                } else {
                        *q++ = *p++;
                }
        }
        *q = '\0';
        return key;
}

/* Drop the newline libxml2 ends its messages with. */
static void chomp(char *s)
{
        size_t n = strlen(s);

        while (n && strchr(" \t\r\n", s[n - 1]))
                s[--n] = '\0';
}

/* ---------------------------------------------------------------- running the hook */

static char *read_fd(int fd)
{
        char *buf = NULL;
        size_t n = 0, cap = 0;
        ssize_t got;

        lseek(fd, 0, SEEK_SET);
        do {
                if (cap - n < 4096) {
                        cap = cap ? cap * 2 : 8192;
                        buf = realloc(buf, cap + 1);
                        ck_assert_ptr_nonnull(buf);
                }
                got = read(fd, buf + n, cap - n);
                if (got > 0)
                        n += (size_t)got;
        } while (got > 0);
        buf[n] = '\0';
        return buf;
}

/* th_run() aborts the test on a timeout; here a hang is one finding among many, so it is recorded. */
static void run_hook(const PropSet *ps, HookRun *ret)
{
        const char *argv[] = { g.hook, "--sysfs-root", g.tree, NULL };
        const char *envp[PROPS_MAX + 5];
        char errname[] = "/tmp/hpvm-sweep-err-XXXXXX";
        int errfd = mkstemp(errname), status = 0;
        size_t n = 0;
        double start, deadline;
        pid_t pid;

        ck_assert_int_ge(errfd, 0);
        unlink(errname);
        envp[n++] = "PATH=/usr/bin:/bin:/usr/sbin:/sbin";
        envp[n++] = "LC_ALL=C.UTF-8";
        envp[n++] = g.env_domxml;
        for (size_t i = 0; i < ps->n; i++)
                envp[n++] = ps->env[i];
        envp[n++] = th_config_env();
        envp[n] = NULL;

        start = now_s();
        deadline = start + HOOK_TIMEOUT_S;
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                int devnull = open("/dev/null", O_RDWR);

                dup2(devnull, 0);
                dup2(devnull, 1);       /* vdsm throws stdout away */
                dup2(errfd, 2);
                execve(argv[0], (char *const *)argv, (char *const *)envp);
                _exit(127);
        }
        ret->status = -1;
        for (;;) {
                pid_t w = waitpid(pid, &status, WNOHANG);

                if (w == pid) {
                        ret->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
                        break;
                }
                if (now_s() > deadline) {
                        kill(pid, SIGKILL);
                        waitpid(pid, &status, 0);
                        break;
                }
                usleep(200);
        }
        ret->seconds = now_s() - start;
        ret->err = read_fd(errfd);
        close(errfd);
}

/* ---------------------------------------------------------------- reading domain XML */

static xmlDoc *parse(const char *xml, size_t len)
{
        return xmlReadMemory(xml, (int)len, "domain.xml", NULL, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
}

static xmlNode *child(const xmlNode *parent, const char *name)
{
        for (xmlNode *n = parent ? parent->children : NULL; n; n = n->next)
                if (n->type == XML_ELEMENT_NODE && !n->ns && xmlStrEqual(n->name, BAD_CAST name))
                        return n;
        return NULL;
}

static xmlNode *next_named(const xmlNode *node, const char *name)
{
        for (xmlNode *n = node->next; n; n = n->next)
                if (n->type == XML_ELEMENT_NODE && !n->ns && xmlStrEqual(n->name, BAD_CAST name))
                        return n;
        return NULL;
}

/* @t as a number (blanks around allowed), or false. */
static bool str_u64(const char *t, uint64_t *ret)
{
        char *end;

        if (!t || t[strspn(t, " \t\r\n")] == '-')
                return false;
        errno = 0;
        *ret = strtoull(t, &end, 10);
        while (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r')
                end++;
        return !errno && end != t && !*end;
}

/* The text of @n as a number, or false. */
static bool text_u64(const xmlNode *n, uint64_t *ret)
{
        xmlChar *t = n ? xmlNodeGetContent(n) : NULL;
        bool ok = str_u64((const char *)t, ret);

        xmlFree(t);
        return ok;
}

/* @num in libvirt's memory @unit (b, KB, k, KiB, MB, M, MiB, ...; NULL: KiB), rounded up to KiB as libvirt rounds. */
static bool scale_kib(const char *num, const char *unit, uint64_t *ret)
{
        const char *u = unit ? unit : "KiB";
        unsigned __int128 bytes;
        uint64_t v, base = 1024, scale = 1;
        int power = -1;

        if (!str_u64(num, &v))
                return false;
        if (!strcasecmp(u, "b") || !strcasecmp(u, "bytes"))
                power = 0;
        else if (u[0] && (!u[1] || !strcasecmp(u + 1, "iB") || !strcasecmp(u + 1, "B"))) {
                const char *p = strchr("kmgtpe", u[0] | 0x20);

                base = u[1] && !strcasecmp(u + 1, "B") ? 1000 : 1024;
                power = p ? (int)(p - "kmgtpe") + 1 : -1;
        }
        if (power < 0)
                return false;
        while (power--)
                scale *= base;
        bytes = ((unsigned __int128)v * scale + 1023) / 1024;
        if (bytes > UINT64_MAX)
                return false;
        *ret = (uint64_t)bytes;
        return true;
}

/* A memory size given as element text (<memory unit>) or, with @attr, as attribute @attr (<cell memory unit>). */
static bool memory_kib(const xmlNode *n, const char *attr, uint64_t *ret)
{
        xmlChar *unit = n ? xmlGetNoNsProp(n, BAD_CAST "unit") : NULL;
        xmlChar *num = !n ? NULL : attr ? xmlGetNoNsProp(n, BAD_CAST attr) : xmlNodeGetContent(n);
        bool ok = scale_kib((const char *)num, (const char *)unit, ret);

        xmlFree(unit);
        xmlFree(num);
        return ok;
}

/* <vcpu>, <memory>, memory devices and guest cells, read here independently of the library under test. */
static void read_sizes(const xmlNode *root, SweepFile *f)
{
        xmlNode *devices = child(root, "devices");
        uint64_t v;

        f->vcpus = 1;
        if (text_u64(child(root, "vcpu"), &v) && v > 0 && v <= 4096)
                f->vcpus = (unsigned)v;
        if (!memory_kib(child(root, "memory"), NULL, &f->mem_kib))
                f->mem_kib = 0;
        f->devmem_kib = 0;
        for (xmlNode *m = child(devices, "memory"); m; m = next_named(m, "memory"))
                if (memory_kib(child(child(m, "target"), "size"), NULL, &v))
                        f->devmem_kib += v;
        f->cells_kib = 0;
        for (xmlNode *c = child(child(child(root, "cpu"), "numa"), "cell"); c; c = next_named(c, "cell"))
                if (memory_kib(c, "memory", &v))
                        f->cells_kib += v;
}

/* ---------------------------------------------------------------- libvirtd */

static void quiet_libvirt(void *opaque __attribute__((unused)), virErrorPtr e __attribute__((unused)))
{
        /* Errors are read with virGetLastErrorMessage() where they matter. */
}

static void set_text(xmlNode *n, const char *text)
{
        xmlNodeSetContent(n, NULL);
        xmlNodeAddContent(n, BAD_CAST text);
}

/*
 * The same document as libvirtd should see it on this machine: a name and UUID no other
 * domain has (the <sysinfo> UUID follows, or libvirt refuses the mismatch), an <emulator>
 * that exists here (vdsm's samples name /usr/libexec/qemu-kvm), the upstream machine
 * type for RHEL's (pc-i440fx-rhel7.3.0 -> pc) and no watchdog this libvirt does not know.
 * Input and output go through this same rewrite.
 */
static char *for_libvirt(const char *xml, size_t len)
{
        xmlDoc *doc = parse(xml, len);
        xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
        xmlNode *name, *uuid, *emu, *ostype;
        xmlChar *arch, *machine, *out = NULL;
        char buf[64], uuidbuf[40];
        int outlen = 0;
        char *ret;

        if (!root)
                goto fail;
        g.serial++;
        snprintf(buf, sizeof(buf), "hpvm-sweep-%ld-%lu", (long)getpid(), g.serial);
        snprintf(uuidbuf, sizeof(uuidbuf), "6870766d-7377-4565-8%03x-%012" PRIx64,
                 (unsigned)(getpid() & 0xfff), ((uint64_t)getpid() << 24) | (g.serial & 0xffffff));
        name = child(root, "name");
        if (name)
                set_text(name, buf);
        uuid = child(root, "uuid");
        if (uuid)
                set_text(uuid, uuidbuf);
        for (xmlNode *si = child(root, "sysinfo"); si; si = next_named(si, "sysinfo"))
                for (xmlNode *e = child(child(si, "system"), "entry"); e; e = next_named(e, "entry")) {
                        xmlChar *ename = xmlGetNoNsProp(e, BAD_CAST "name");

                        if (ename && xmlStrEqual(ename, BAD_CAST "uuid")) {
                                set_text(e, uuidbuf);
                                if (!uuid) {
                                        uuid = xmlNewDocNode(doc, NULL, BAD_CAST "uuid", BAD_CAST uuidbuf);
                                        ck_assert_ptr_nonnull(uuid);
                                        if (name)
                                                xmlAddNextSibling(name, uuid);
                                }
                        }
                        xmlFree(ename);
                }
        /* libvirt 10's <watchdog model='itco'> (q35's built-in one) is unknown to 9.0: without it,
         * the 288-vCPU domains and vcpu-placement-static.xml can be judged here too. */
        for (xmlNode *w = child(child(root, "devices"), "watchdog"), *wnext; w; w = wnext) {
                xmlChar *model = xmlGetNoNsProp(w, BAD_CAST "model");

                wnext = next_named(w, "watchdog");
                if (model && xmlStrEqual(model, BAD_CAST "itco")) {
                        xmlUnlinkNode(w);
                        xmlFreeNode(w);
                }
                xmlFree(model);
        }
        emu = child(child(root, "devices"), "emulator");
        ostype = child(child(root, "os"), "type");
        arch = xmlGetNoNsProp(ostype, BAD_CAST "arch");
        machine = xmlGetNoNsProp(ostype, BAD_CAST "machine");
        if (machine && xmlStrstr(machine, BAD_CAST "-rhel"))
                xmlSetProp(ostype, BAD_CAST "machine", BAD_CAST (xmlStrstr(machine, BAD_CAST "q35") ? "q35" : "pc"));
        xmlFree(machine);
        if (emu && (!arch || xmlStrEqual(arch, BAD_CAST "x86_64") || xmlStrEqual(arch, BAD_CAST "i686"))) {
                xmlChar *path = xmlNodeGetContent(emu);

                if (path && access((const char *)path, X_OK) != 0 && access(HOST_QEMU, X_OK) == 0)
                        set_text(emu, HOST_QEMU);
                xmlFree(path);
        }
        xmlFree(arch);
        xmlDocDumpMemory(doc, &out, &outlen);
        ck_assert_ptr_nonnull(out);
        ret = xstrdup((const char *)out);
        xmlFree(out);
        xmlFreeDoc(doc);
        return ret;
fail:
        xmlFreeDoc(doc);
        return NULL;
}

/* Does libvirtd define @xml? Undefines it again at once; @why gets libvirt's message. */
static bool lv_accepts(const char *xml, size_t len, char *why, size_t whysz)
{
        char *doc = for_libvirt(xml, len);
        virDomainPtr dom;

        if (!doc) {
                snprintf(why, whysz, "not well-formed");
                return false;
        }
        dom = virDomainDefineXML(g.conn, doc);
        free(doc);
        if (!dom) {
                const char *m = virGetLastErrorMessage();

                snprintf(why, whysz, "%s", m ? m : "(no message)");
                return false;
        }
        ck_assert_msg(virDomainUndefineFlags(dom, VIR_DOMAIN_UNDEFINE_KEEP_NVRAM | VIR_DOMAIN_UNDEFINE_KEEP_TPM) == 0,
                      "cannot undefine %s: %s", virDomainGetName(dom), virGetLastErrorMessage());
        virDomainFree(dom);
        why[0] = '\0';
        return true;
}

/* ---------------------------------------------------------------- property sets */

static void add_prop(PropSet *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_prop(PropSet *ps, const char *fmt, ...)
{
        va_list ap;
        int r;

        ck_assert_uint_lt(ps->n, PROPS_MAX);
        va_start(ap, fmt);
        r = vasprintf(&ps->env[ps->n], fmt, ap);
        va_end(ap);
        ck_assert_int_ge(r, 0);
        ps->n++;
}

/* "a" or "a-b" */
static void range(char *buf, size_t size, unsigned a, unsigned b)
{
        if (a == b)
                snprintf(buf, size, "%u", a);
        else
                snprintf(buf, size, "%u-%u", a, b);
}

/* The property sets for one domain; a set that cannot be derived from it (no memory, 1 vCPU) is left out. */
static size_t make_sets(const SweepFile *f, PropSet *sets)
{
        /*
         * What the guest cells must add up to: <memory> less memory devices, the hook's rule.
         * (libvirt itself sizes a VM with cells by its cells; where a corpus file's cells
         * disagree with its <memory>, the verbose input line shows both.)
         */
        uint64_t want = f->mem_kib > f->devmem_kib ? f->mem_kib - f->devmem_kib : 0;
        char a[32], b[32], *pins;
        size_t n = 0, len = 0, cap = 16 * (size_t)f->vcpus + 1;
        PropSet *ps;

        /* 1: every vCPU pinned (round robin over the host), strict on node 0, two guest cells */
        ps = &sets[n++];
        ps->name = "pin+strict+2cells";
        pins = malloc(cap);
        ck_assert_ptr_nonnull(pins);
        pins[0] = '\0';
        for (unsigned i = 0; i < f->vcpus; i++)
                len += (size_t)snprintf(pins + len, cap - len, "%s%u#%u", i ? "," : "", i, i % HOST_CPUS);
        add_prop(ps, "cputune=%s", pins);
        free(pins);
        add_prop(ps, "numatune=strict#0");
        if (f->vcpus >= 2 && want && want % 2 == 0) {
                unsigned half = f->vcpus / 2;

                range(a, sizeof(a), 0, half - 1);
                range(b, sizeof(b), half, f->vcpus - 1);
                add_prop(ps, "guestnuma=%s#%" PRIu64 ",%s#%" PRIu64, a, want / 2, b, want / 2);
        }

        /* 2: the profile alone */
        ps = &sets[n++];
        ps->name = "highperf";
        add_prop(ps, "highperf=true");

        /* 3: the profile with everything it suggests that needs no topology */
        ps = &sets[n++];
        ps->name = "highperf+2M+io";
        add_prop(ps, "highperf=true");
        add_prop(ps, "hugepages=2048");
        add_prop(ps, "nosharepages=true");
        add_prop(ps, "iothreads=2");
        add_prop(ps, "iothreadpin=1#0,2#1");
        add_prop(ps, "emulatorpin=0-1");

        /* 4 */
        ps = &sets[n++];
        ps->name = "invtsc";
        add_prop(ps, "invtsc=true");

        /* 5: interleaved memory on 1 GiB pages */
        ps = &sets[n++];
        ps->name = "interleave+1G";
        add_prop(ps, "numatune=interleave#0-1");
        add_prop(ps, "hugepages=1048576");

        /* 6: one guest cell with everything */
        if (want) {
                ps = &sets[n++];
                ps->name = "1cell";
                range(a, sizeof(a), 0, f->vcpus - 1);
                add_prop(ps, "guestnuma=%s#%" PRIu64, a, want);
        } else {
                g.not_applicable++;
        }

        /* 7: fewer IO threads than many corpus VMs have */
        ps = &sets[n++];
        ps->name = "iothreads=1";
        add_prop(ps, "iothreads=1");
        return n;
}

static void sets_free(PropSet *sets, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                for (size_t j = 0; j < sets[i].n; j++)
                        free(sets[i].env[j]);
                memset(&sets[i], 0, sizeof(sets[i]));
        }
}

/* ---------------------------------------------------------------- one case */

static bool folder_clean(char *why, size_t whysz)
{
        DIR *d = opendir(g.tmp);
        struct dirent *e;
        bool ok = true;

        ck_assert_ptr_nonnull(d);
        while ((e = readdir(d)))
                if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strcmp(e->d_name, "vm.xml")) {
                        snprintf(why, whysz, "left %s beside the domain XML", e->d_name);
                        ok = false;
                }
        closedir(d);
        return ok;
}

/* "hpvm: warning: ..." lines only; else @why quotes the first other line. */
static bool only_warnings(const char *err, char *why, size_t whysz)
{
        for (const char *p = err; *p;) {
                const char *nl = strchr(p, '\n');
                size_t len = nl ? (size_t)(nl - p) : strlen(p);

                if (strncmp(p, "hpvm: warning: ", 15)) {
                        snprintf(why, whysz, "exit 0 with a stderr line that is not a warning: %.*s", (int)len, p);
                        return false;
                }
                if (!nl) {
                        snprintf(why, whysz, "exit 0 with a warning line not ended by a newline");
                        return false;
                }
                p = nl + 1;
        }
        return true;
}

static void bug(const SweepFile *f, const PropSet *ps, const char *cause, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
static void bug(const SweepFile *f, const PropSet *ps, const char *cause, const char *fmt, ...)
{
        char *ex = xasprintf("%s %s", f->label, ps->name), *key, *detail;
        char what[2 * MSG_MAX];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(what, sizeof(what), fmt, ap);
        va_end(ap);
        g.bugs++;
        printf("sweep: BUG %s [%s]: %s: %s\n", f->label, ps->name, cause, what);
        detail = reason_key(what);
        key = xasprintf("%s: %s", cause, detail);
        tally(&g.causes, key, ex);
        free(detail);
        free(key);
        free(ex);
}
/* Up to 40 bytes of @p on one line. */
static const char *snip(const char *p, size_t len, char *buf, size_t size)
{
        size_t n = 0;

        for (size_t i = 0; i < len && i < 40 && n + 3 < size; i++) {
                if (p[i] == '\n') {
                        buf[n++] = '\\';
                        buf[n++] = 'n';
                } else {
                        buf[n++] = p[i];
                }
        }
        buf[n] = '\0';
        return buf;
}

/* Hook output must not need a second pass: the same properties on it change nothing. */
static void check_idempotent(const SweepFile *f, const PropSet *ps, const char *out, size_t outlen)
{
        char why[MSG_MAX];
        HookRun r;
        char *again;
        size_t len;

        run_hook(ps, &r);
        g.idem_checked++;
        if (r.status != 0) {
                bug(f, ps, "second run fails", "exit %d on its own output: %.*s", r.status,
                    *r.err ? (int)strcspn(r.err, "\n") : 7, *r.err ? r.err : "(empty)");
        } else if (!only_warnings(r.err, why, sizeof(why))) {
                bug(f, ps, "stderr noise", "second run: %s", why);
        } else {
                again = th_slurp(g.domxml, &len);
                if (len != outlen || memcmp(again, out, len)) {
                        size_t i = 0;

                        while (i < len && i < outlen && again[i] == out[i])
                                i++;
                        char was[64], now[64];

                        bug(f, ps, "not idempotent", "a second run changes its own output (first difference at byte %zu: "
                            "'%s' became '%s')", i, snip(out + i, outlen - i, was, sizeof(was)),
                            snip(again + i, len - i, now, sizeof(now)));
                }
                free(again);
        }
        free(r.err);
}

/* A well-formed rewrite: what the schema, libvirtd and a second run say about it. */
static void check_output(const SweepFile *f, const PropSet *ps, const char *out, size_t outlen)
{
        unsigned bugs_before = g.bugs;
        char why[MSG_MAX];

        if (f->schema_valid) {
                g.schema_checked++;
                if (!th_schema_valid(out, outlen, why, sizeof(why))) {
                        chomp(why);
                        bug(f, ps, "output schema-invalid", "valid input, invalid output: %s", why);
                }
        }
        if (g.conn && f->lv == LV_ACCEPTS) {
                g.lv_checked++;
                if (!lv_accepts(out, outlen, why, sizeof(why)))
                        bug(f, ps, "libvirtd refuses output", "the input is defined, the output is not: %s", why);
        }
        check_idempotent(f, ps, out, outlen);
        if (g.bugs == bugs_before)
                g.clean++;
}

static void run_case(const SweepFile *f, const PropSet *ps)
{
        char why[MSG_MAX];
        struct stat st;
        HookRun r;
        char *out;
        size_t outlen;
        xmlDoc *doc;

        g.cases++;
        th_write(g.domxml, f->xml, f->len, 0600);
        run_hook(ps, &r);

        if (r.status == -1) {
                bug(f, ps, "hang", "no exit within %d s", HOOK_TIMEOUT_S);
                goto out;
        }
        if (r.status != 0 && r.status != 2) {
                bug(f, ps, r.status > 128 ? "crash" : "bad exit code", "exit status %d (%s %d); stderr: %.*s",
                    r.status, r.status > 128 ? "signal" : "code", r.status > 128 ? r.status - 128 : r.status,
                    *r.err ? (int)strcspn(r.err, "\n") : 7, *r.err ? r.err : "(empty)");
                goto out;
        }
        if (!folder_clean(why, sizeof(why))) {
                bug(f, ps, "temporary file left", "exit %d, %s", r.status, why);
                goto out;
        }
        if (stat(g.domxml, &st) != 0 || !S_ISREG(st.st_mode) || (st.st_mode & 07777) != 0600) {
                bug(f, ps, "file lost or mode changed", "exit %d: the domain XML is %s", r.status,
                    stat(g.domxml, &st) != 0 ? "gone" : "no longer a mode 0600 regular file");
                goto out;
        }
        out = th_slurp(g.domxml, &outlen);
        if (r.status == 2) {
                size_t lines = th_lines(r.err);

                if (strncmp(r.err, "hpvm: ", 6) || lines != 1 || r.err[strlen(r.err) - 1] != '\n' ||
                    strlen(r.err) > 1024 || !strncmp(r.err, "hpvm: warning: ", 15))
                        bug(f, ps, "unclear refusal", "exit 2 with %zu stderr lines, not one 'hpvm: ' line: %.*s",
                            lines, (int)strcspn(r.err, "\n"), r.err);
                else if (outlen != f->len || memcmp(out, f->xml, outlen))
                        bug(f, ps, "refusal changed the file", "exit 2 (%.*s) but the domain XML changed",
                            (int)strcspn(r.err, "\n"), r.err);
                else {
                        char *key = reason_key(r.err), *ex = xasprintf("%s %s", f->label, ps->name);

                        g.refused++;
                        tally(&g.refusals, key, ex);
                        if (g.verbose)
                                printf("sweep: refused %s [%s]: %.*s\n", f->label, ps->name,
                                       (int)strcspn(r.err, "\n"), r.err);
                        free(key);
                        free(ex);
                }
                free(out);
                goto out;
        }

        /* exit 0 */
        if (r.seconds > HOOK_TIMEOUT_S)
                bug(f, ps, "hang", "took %.1f s", r.seconds);
        if (!only_warnings(r.err, why, sizeof(why))) {
                bug(f, ps, "stderr noise", "%s", why);
                free(out);
                goto out;
        }
        doc = parse(out, outlen);
        if (!doc || !xmlDocGetRootElement(doc) ||
            !xmlStrEqual(xmlDocGetRootElement(doc)->name, BAD_CAST "domain")) {
                bug(f, ps, "output not well-formed", "the rewritten file is not a <domain> document");
                xmlFreeDoc(doc);
                free(out);
                goto out;
        }
        xmlFreeDoc(doc);
        check_output(f, ps, out, outlen);
        free(out);
out:
        free(r.err);
}

/* ---------------------------------------------------------------- the corpus */

static char *fill_placeholder(const char *xml, size_t len, size_t *ret_len)
{
        const char *hit = memmem(xml, len, VM_UUID_PLACEHOLDER, strlen(VM_UUID_PLACEHOLDER));
        size_t pl = strlen(VM_UUID_PLACEHOLDER), ul = strlen(VM_UUID);
        char *out = malloc(len + 1 + (len / pl + 1) * ul), *q = out;
        const char *p = xml;

        ck_assert_ptr_nonnull(out);
        while (hit) {
                memcpy(q, p, (size_t)(hit - p));
                q += hit - p;
                memcpy(q, VM_UUID, ul);
                q += ul;
                p = hit + pl;
                hit = memmem(p, len - (size_t)(p - xml), VM_UUID_PLACEHOLDER, pl);
        }
        memcpy(q, p, len - (size_t)(p - xml));
        q += len - (size_t)(p - xml);
        *q = '\0';
        *ret_len = (size_t)(q - out);
        return out;
}

static void skip(const char *label, const char *why)
{
        g.skipped++;
        tally(&g.skips, why, label);
        if (g.verbose)
                printf("sweep: skipped %s: %s\n", label, why);
}

static void sweep_file(const char *dir, const char *name)
{
        char *path = xasprintf("%s/%s", dir, name);
        const char *base = strrchr(dir, '/') ? strrchr(dir, '/') + 1 : dir;
        SweepFile f = { .label = xasprintf("%s/%s", base, name) };
        PropSet sets[SETS_MAX] = { 0 };
        struct stat st;
        char *raw;
        size_t rawlen, nsets;
        xmlDoc *doc;
        xmlNode *root;

        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || name[0] == '.') {
                free(path);
                free(f.label);
                return;
        }
        if ((size_t)st.st_size > FILE_MAX) {
                skip(f.label, "larger than the hook reads");
                goto out_path;
        }
        raw = th_slurp(path, &rawlen);
        f.xml = fill_placeholder(raw, rawlen, &f.len);
        free(raw);
        doc = parse(f.xml, f.len);
        root = doc ? xmlDocGetRootElement(doc) : NULL;
        if (!root || root->ns || !xmlStrEqual(root->name, BAD_CAST "domain")) {
                skip(f.label, !root ? "not XML" : "XML, but its root is not <domain>");
                xmlFreeDoc(doc);
                goto out;
        }
        read_sizes(root, &f);
        xmlFreeDoc(doc);
        g.files++;

        f.schema_valid = th_schema_valid(f.xml, f.len, f.schema_why, sizeof(f.schema_why));
        chomp(f.schema_why);
        g.in_schema_valid += f.schema_valid;
        if (g.conn) {
                f.lv = lv_accepts(f.xml, f.len, f.lv_why, sizeof(f.lv_why)) ? LV_ACCEPTS : LV_REFUSES;
                g.in_lv_accepts += f.lv == LV_ACCEPTS;
        }
        if (g.verbose)
                printf("sweep: input %s: %u vCPUs, %" PRIu64 " KiB (devices %" PRIu64 " KiB, cells %" PRIu64 " KiB); schema %s%s%s; libvirtd %s%s%s\n",
                       f.label, f.vcpus, f.mem_kib, f.devmem_kib, f.cells_kib, f.schema_valid ? "valid" : "INVALID",
                       f.schema_valid ? "" : ": ", f.schema_valid ? "" : f.schema_why,
                       f.lv == LV_ACCEPTS ? "accepts" : f.lv == LV_REFUSES ? "REFUSES" : "not asked",
                       f.lv == LV_REFUSES ? ": " : "", f.lv == LV_REFUSES ? f.lv_why : "");

        nsets = make_sets(&f, sets);
        for (size_t i = 0; i < nsets; i++)
                run_case(&f, &sets[i]);
        sets_free(sets, nsets);
out:
        free(f.xml);
out_path:
        free(path);
        free(f.label);
}

static int name_order(const struct dirent **a, const struct dirent **b)
{
        return strcmp((*a)->d_name, (*b)->d_name);
}

static void sweep_dir(const char *dir)
{
        struct dirent **names;
        int n = scandir(dir, &names, NULL, name_order);

        ck_assert_msg(n >= 0, "HPVM_CORPUS_DIR: cannot read folder %s: %s", dir, strerror(errno));
        for (int i = 0; i < n; i++) {
                sweep_file(dir, names[i]->d_name);
                free(names[i]);
        }
        free(names);
}

START_TEST(test_sweep)
{
        const char *corpus = getenv("HPVM_CORPUS_DIR");
        const char *lv = getenv("HPVM_SWEEP_LIBVIRT"), *uri = getenv("HPVM_LIBVIRT_URI");
        char *dirs = xstrdup(corpus), *save = NULL;
        double t0 = now_s();
        unsigned files_before;

        setvbuf(stdout, NULL, _IOLBF, 0);
        g.verbose = getenv("HPVM_SWEEP_VERBOSE") && !strcmp(getenv("HPVM_SWEEP_VERBOSE"), "1");
        g.hook = getenv("HPVM_SWEEP_HOOK") && *getenv("HPVM_SWEEP_HOOK") ? xstrdup(getenv("HPVM_SWEEP_HOOK"))
                 : xasprintf("%s/hooks/before_vm_start", th_builddir());
        g.tree = th_src(SWEEP_TREE);
        g.tmp = th_tmpdir();
        g.domxml = xasprintf("%s/vm.xml", g.tmp);
        g.env_domxml = xasprintf("_hook_domxml=%s", g.domxml);
        ck_assert_msg(access(g.hook, X_OK) == 0, "%s is not built", g.hook);

        if (!lv || strcmp(lv, "0")) {
                uri = uri && *uri ? uri : "qemu:///system";
                virSetErrorFunc(NULL, quiet_libvirt);
                g.conn = virConnectOpen(uri);
                ck_assert_msg(g.conn, "cannot connect to %s: %s (HPVM_SWEEP_LIBVIRT=0 sweeps without libvirtd)", uri,
                              virGetLastErrorMessage());
                printf("sweep: libvirtd check on %s\n", uri);
        } else {
                printf("sweep: libvirtd check OFF (HPVM_SWEEP_LIBVIRT=0)\n");
        }
        printf("sweep: hook %s, host %s, timeout %d s\n", g.hook, SWEEP_TREE, HOOK_TIMEOUT_S);

        for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
                files_before = g.files;
                sweep_dir(d);
                ck_assert_msg(g.files > files_before, "HPVM_CORPUS_DIR: no domain XML in %s", d);
        }

        tally_print(&g.skips, "files skipped (not domain XML)");
        tally_print(&g.refusals, "refusals (exit 2, one clear line, file untouched)");
        tally_print(&g.causes, "BUGS by cause");
        printf("sweep: %u domain files (%u skipped); inputs schema-valid %u, defined by libvirtd %u%s\n",
               g.files, g.skipped, g.in_schema_valid, g.in_lv_accepts, g.conn ? "" : " (not asked)");
        printf("sweep: %u cases (%u sets not derivable): %u clean, %u refused, %u bugs; "
               "outputs checked: schema %u, libvirtd %u, second run %u; %.1f s\n",
               g.cases, g.not_applicable, g.clean, g.refused, g.bugs, g.schema_checked, g.lv_checked, g.idem_checked,
               now_s() - t0);

        if (g.conn)
                virConnectClose(g.conn);
        th_rmtree(g.tmp);
        tally_free(&g.skips);
        tally_free(&g.refusals);
        tally_free(&g.causes);
        free(g.tmp);
        free(g.domxml);
        free(g.env_domxml);
        free(g.hook);
        free(g.tree);
        free(dirs);
        ck_assert_msg(g.bugs == 0, "the sweep found %u bugs: see the 'sweep: BUG' lines", g.bugs);
}
END_TEST

static Suite *sweep_suite(void)
{
        Suite *s = suite_create("sweep");
        TCase *tc = tcase_create("corpus");

        /* A few thousand hook runs and libvirtd calls: about a minute here, more on a slow machine. */
        tcase_set_timeout(tc, 900);
        tcase_add_test(tc, test_sweep);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        const char *corpus = getenv("HPVM_CORPUS_DIR");
        SRunner *sr;
        int failed;

        if (!corpus || !*corpus) {
                printf("test-sweep: SKIP: HPVM_CORPUS_DIR is not set (folders of domain XML, ':'-separated)\n");
                return 77;
        }
        sr = srunner_create(sweep_suite());
        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
