/* hpvm-fit.c: rank hosts for a VM with the placement engine (fits or not, why not, the score); --repair-ledger rebuilds this host's CPU ledger from libvirt. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "config.h"
#include "domreq.h"
#include "domxml.h"
#include "fileio.h"
#include "fit.h"
#include "fitvirt.h"
#include "ledger.h"
#include "placement.h"
#include "props.h"
#include "topology.h"
#include "vmreq.h"
#include "xml.h"

enum {
        EXIT_FITS = 0,          /* at least one host fits; --repair-ledger: done */
        EXIT_NONE = 1,          /* no host fits; --repair-ledger: failed */
        EXIT_BAD = 2,           /* bad input: options, configuration, domain XML, properties */
};

#define PROPS_MAX (64u << 10)   /* the whole --props string */
#define DEFAULT_PROPS "cputune=auto"
#define THIS_HOST "this host"

/* The properties of before_vm_start, in its order of checks; hpvm-fit reads them all. */
enum {
        P_CPUTUNE, P_NUMATUNE, P_GUESTNUMA, P_HUGEPAGES, P_INVTSC, P_EMULATORPIN, P_IOTHREADS, P_IOTHREADPIN,
        P_NOSHAREPAGES, P_HIGHPERF, P_CPUPOLICY, P_COUNT,
};
static const char *const prop_names[P_COUNT] = {
        "cputune", "numatune", "guestnuma", "hugepages", "invtsc", "emulatorpin", "iothreads", "iothreadpin",
        "nosharepages", "highperf", "cpupolicy",
};

typedef struct Opts {
        const char *domain;
        const char *props;
        const char *config;
        const char *pinned;
        bool explain, json, repair;
        char **hosts;
        size_t nhosts;
} Opts;

/* The VM and the one placement request every host is asked (built once). */
typedef struct Vm {
        HpvmDomain *d;
        HpvmVmReq req;
        char uuid[HPVM_STATE_TOKEN_MAX + 1];   /* "" when the VM has none */
        char *name;
        char *raw[P_COUNT];                     /* the --props values; NULL: not given */
        bool cputune_auto, numatune_auto, guestnuma_auto;
        HpvmCpuPolicy policy;
        HpvmPinList cputune;
        HpvmNumaTune numatune;
        HpvmGuestNuma guestnuma;
        uint64_t page_kib;
        bool invtsc;
        HpvmCpuSet emulatorpin;
        unsigned iothreads;
        HpvmPinList iothreadpin;
        bool nosharepages, highperf;
        HpvmFitOpts o;
        HpvmPlaceRequest q;
        HpvmGuestCell *cells;
        unsigned parts;                         /* HPVM_HOST_* every host is read with */
        HpvmCpuSet pinned;                      /* --pinned */
} Vm;

#define MANUAL(v, p) ((v)->raw[p] && !(((p) == P_CPUTUNE && (v)->cputune_auto) || \
                                         ((p) == P_NUMATUNE && (v)->numatune_auto) || \
                                         ((p) == P_GUESTNUMA && (v)->guestnuma_auto)))
#define ANY_AUTO(v) ((v)->cputune_auto || (v)->numatune_auto || (v)->guestnuma_auto)

enum { ROW_FITS, ROW_NOFIT, ROW_ERROR };

/* A VM that holds CPUs on a host: a running domain there, a ledger entry, or --pinned. */
typedef struct Holder {
        char vm[HPVM_STATE_TOKEN_MAX + 1];      /* its uuid (vmId); "" for --pinned */
        char name[256];
        bool reserved;                          /* a ledger reservation for an incoming migration */
        HpvmCpuSet cpus;
} Holder;

/* One host's answer. */
typedef struct Row {
        size_t index;           /* input order */
        const char *host;       /* as given, or THIS_HOST */
        int kind;
        char *why;              /* ROW_NOFIT: the engine's reason; ROW_ERROR: what went wrong */
        HpvmPlacement *p;       /* ROW_FITS */
        HpvmCpuSet reserved, taken;
        bool has_usage;         /* reserved and taken are known (the host was read) */
        size_t nnotes;
        char **notes;
        size_t nholders;
        Holder *holders;        /* what other VMs hold, as the host's source tells */
        char *map;              /* --explain: the host map, without its summary line */
} Row;

/* ---------------------------------------------------------------- messages */

static int fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(int code, const char *fmt, ...)
{
        va_list ap;

        fputs("hpvm-fit: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        return code;
}

static void usage(FILE *f)
{
        fprintf(f, "Usage: hpvm-fit --domain VM.xml [--props 'NAME=VALUE ...'] [--config FILE]\n"
                   "                [--pinned CPUSET] [--explain] [--json] [HOST...]\n"
                   "       hpvm-fit --repair-ledger [--config FILE]\n"
                   "Rank hosts for a VM: where the placement engine of before_vm_start fits it,\n"
                   "why it does not fit, and the score (0-1000, higher is better), best first.\n\n"
                   "HOST is a `virsh capabilities` XML file or a libvirt URI (qemu:///system,\n"
                   "qemu+ssh://host/system, ...): through a URI the host's free memory and huge\n"
                   "pages and the CPUs its running VMs are pinned to count too. No HOST: this\n"
                   "host, from sysfs (sysfs_root) and its CPU ledger (state_dir).\n\n"
                   "  --domain FILE       the VM's domain XML\n"
                   "  --props 'N=V ...'   its custom properties, as before_vm_start reads them\n"
                   "                      (default: " DEFAULT_PROPS "); one of cputune, numatune or\n"
                   "                      guestnuma must be auto\n"
                   "  --config FILE       the configuration file (instead of $HPVM_CONFIG or\n"
                   "                      /etc/hpvm-hooks/hpvm.conf): reserved_cpus, state_dir,\n"
                   "                      sysfs_root, libvirt_uri and its credentials\n"
                   "  --pinned CPUSET     CPUs other VMs hold, added on every host\n"
                   "  --explain           draw each host's map: which vCPU sits on which CPU\n"
                   "  --json              print the same as one JSON document\n"
                   "  --repair-ledger     rebuild this host's CPU ledger from the VMs libvirt runs\n"
                   "  --help              show this help\n"
                   "  --version           show the version\n\n"
                   "Exit status: 0 a host fits (--repair-ledger: rebuilt), 1 none fits\n"
                   "(--repair-ledger: failed), 2 bad input; errors are one line on stderr.\n"
                   "See hpvm-fit(1).\n");
}

static int bad_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int bad_usage(const char *fmt, ...)
{
        va_list ap;

        fputs("hpvm-fit: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputs(" (see --help)\n", stderr);
        return EXIT_BAD;
}

/* Returns -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, Opts *o)
{
        enum { OPT_DOMAIN = 256, OPT_PROPS, OPT_CONFIG, OPT_PINNED, OPT_EXPLAIN, OPT_JSON, OPT_REPAIR, OPT_HELP,
               OPT_VERSION };
        static const struct option longopts[] = {
                { "domain", required_argument, NULL, OPT_DOMAIN },
                { "props", required_argument, NULL, OPT_PROPS },
                { "config", required_argument, NULL, OPT_CONFIG },
                { "pinned", required_argument, NULL, OPT_PINNED },
                { "explain", no_argument, NULL, OPT_EXPLAIN },
                { "json", no_argument, NULL, OPT_JSON },
                { "repair-ledger", no_argument, NULL, OPT_REPAIR },
                { "help", no_argument, NULL, OPT_HELP },
                { "version", no_argument, NULL, OPT_VERSION },
                { 0 },
        };
        int c;

        memset(o, 0, sizeof(*o));
        opterr = 0;
        /* ':' tells a missing option argument apart from an unknown option. */
        while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
                const char **slot = NULL, *name = NULL;

                switch (c) {
                case OPT_DOMAIN: slot = &o->domain; name = "--domain"; break;
                case OPT_PROPS: slot = &o->props; name = "--props"; break;
                case OPT_CONFIG: slot = &o->config; name = "--config"; break;
                case OPT_PINNED: slot = &o->pinned; name = "--pinned"; break;
                case OPT_EXPLAIN: o->explain = true; break;
                case OPT_JSON: o->json = true; break;
                case OPT_REPAIR: o->repair = true; break;
                case OPT_HELP:
                        usage(stdout);
                        return EXIT_FITS;
                case OPT_VERSION:
                        printf("hpvm-fit (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
                        return EXIT_FITS;
                case ':':
                        return bad_usage("%s needs a value", argv[optind - 1]);
                default:
                        return bad_usage("unknown option '%s'", argv[optind - 1]);
                }
                if (slot && *slot)
                        return bad_usage("%s is given twice", name);
                if (slot)
                        *slot = optarg;
        }
        o->hosts = argv + optind;
        o->nhosts = (size_t)(argc - optind);
        if (o->repair) {
                if (o->domain || o->props || o->pinned || o->explain || o->json || o->nhosts)
                        return bad_usage("--repair-ledger takes only --config");
                return -1;
        }
        if (!o->domain)
                return bad_usage("no VM: give its domain XML with --domain FILE");
        return -1;
}

static int load_config(const Opts *o, HpvmConfig **ret)
{
        HpvmError err = { 0 };
        bool must_exist;
        const char *path = hpvm_config_path(o->config, &must_exist);

        if (hpvm_config_load(path, must_exist, ret, &err) < 0)
                return fail(EXIT_BAD, "%s", err.msg);
        return -1;
}

/* ---------------------------------------------------------------- the VM and its request */

static void vm_clear(Vm *v)
{
        hpvm_domain_free(v->d);
        hpvm_vmreq_clear(&v->req);
        free(v->name);
        for (size_t i = 0; i < P_COUNT; i++)
                free(v->raw[i]);
        hpvm_pinlist_clear(&v->cputune);
        hpvm_pinlist_clear(&v->iothreadpin);
        hpvm_guestnuma_clear(&v->guestnuma);
        free(v->cells);
}

/* --props: NAME=VALUE words separated by blanks, each a property of before_vm_start, at most once. */
static int split_props(const char *s, Vm *v, HpvmError *err)
{
        char q[HPVM_QUOTE_MAX];
        size_t len = strlen(s);

        if (len > PROPS_MAX)
                return hpvm_error_set(err, -E2BIG, "--props: %zu bytes is too long (at most %u)", len, PROPS_MAX);
        while (*s) {
                size_t n, k;
                const char *eq;
                int p = -1;

                if (*s == ' ' || *s == '\t' || *s == '\n') {
                        s++;
                        continue;
                }
                n = strcspn(s, " \t\n");
                eq = memchr(s, '=', n);
                if (!eq || eq == s)
                        return hpvm_error_set(err, -EINVAL, "--props: '%s' is not NAME=VALUE",
                                              hpvm_quote(s, n, q, sizeof(q)));
                k = (size_t)(eq - s);
                for (int i = 0; i < P_COUNT; i++)
                        if (strlen(prop_names[i]) == k && !memcmp(prop_names[i], s, k))
                                p = i;
                if (p < 0)
                        return hpvm_error_set(err, -EINVAL, "--props: '%s' is not a property of before_vm_start "
                                              "(expected cputune, numatune, guestnuma, hugepages, invtsc, emulatorpin, "
                                              "iothreads, iothreadpin, nosharepages, highperf or cpupolicy)",
                                              hpvm_quote(s, k, q, sizeof(q)));
                if (v->raw[p])
                        return hpvm_error_set(err, -EINVAL, "--props: %s is given twice", prop_names[p]);
                /* An empty value is no property at all, as in the hook. */
                if (n > k + 1 && !(v->raw[p] = strndup(eq + 1, n - k - 1)))
                        return hpvm_error_set(err, -ENOMEM, "out of memory");
                s += n;
        }
        return 0;
}

/* The values, with before_vm_start's parsers and messages. */
static int parse_props(Vm *v, HpvmError *err)
{
        char **raw = v->raw;
        int r;

        v->cputune_auto = raw[P_CPUTUNE] && !strcmp(raw[P_CPUTUNE], "auto");
        v->numatune_auto = raw[P_NUMATUNE] && !strcmp(raw[P_NUMATUNE], "auto");
        v->guestnuma_auto = raw[P_GUESTNUMA] && !strcmp(raw[P_GUESTNUMA], "auto");
        if ((MANUAL(v, P_CPUTUNE) && (r = hpvm_prop_cputune_parse(raw[P_CPUTUNE], &v->cputune, err)) < 0) ||
            (MANUAL(v, P_NUMATUNE) && (r = hpvm_prop_numatune_parse(raw[P_NUMATUNE], &v->numatune, err)) < 0) ||
            (MANUAL(v, P_GUESTNUMA) && (r = hpvm_prop_guestnuma_parse(raw[P_GUESTNUMA], &v->guestnuma, err)) < 0) ||
            (raw[P_HUGEPAGES] &&
             (r = hpvm_prop_pagesize_parse("hugepages", raw[P_HUGEPAGES], &v->page_kib, err)) < 0) ||
            (raw[P_INVTSC] && (r = hpvm_prop_bool_parse("invtsc", raw[P_INVTSC], &v->invtsc, err)) < 0) ||
            (raw[P_EMULATORPIN] &&
             (r = hpvm_prop_cpuset_parse("emulatorpin", raw[P_EMULATORPIN], &v->emulatorpin, err)) < 0) ||
            (raw[P_IOTHREADS] && (r = hpvm_prop_count_parse("iothreads", raw[P_IOTHREADS], 1, HPVM_IOTHREADS_MAX,
                                                            &v->iothreads, err)) < 0) ||
            (raw[P_IOTHREADPIN] &&
             (r = hpvm_prop_pinlist_parse("iothreadpin", raw[P_IOTHREADPIN], 1, HPVM_IOTHREADS_MAX, "IO thread",
                                          &v->iothreadpin, err)) < 0) ||
            (raw[P_NOSHAREPAGES] &&
             (r = hpvm_prop_bool_parse("nosharepages", raw[P_NOSHAREPAGES], &v->nosharepages, err)) < 0) ||
            (raw[P_HIGHPERF] && (r = hpvm_prop_bool_parse("highperf", raw[P_HIGHPERF], &v->highperf, err)) < 0))
                return r;
        v->policy = HPVM_POLICY_DEDICATED;
        if (raw[P_CPUPOLICY] && (r = hpvm_prop_cpupolicy_parse(raw[P_CPUPOLICY], &v->policy, err)) < 0)
                return r;
        if (!ANY_AUTO(v))
                return hpvm_error_set(err, -EINVAL, "--props: hpvm-fit asks where the placement engine would put "
                                      "the VM: set cputune=auto, numatune=auto or guestnuma=auto (without --props: "
                                      DEFAULT_PROPS ")");
        return 0;
}

/* The property whose `auto` a placement is about, as before_vm_start names it. */
static const char *auto_prop(const Vm *v)
{
        return v->cputune_auto ? "cputune=auto" : v->guestnuma_auto ? "guestnuma=auto" : "numatune=auto";
}

/* "the VM has 8 vCPUs: 0-7" */
static const char *vcpu_range(unsigned vcpus, char *buf, size_t size)
{
        if (vcpus == 1)
                snprintf(buf, size, "the VM has 1 vCPU: 0");
        else
                snprintf(buf, size, "the VM has %u vCPUs: 0-%u", vcpus, vcpus - 1);
        return buf;
}

static int check_vcpus_exist(const char *prop, const char *what, const HpvmCpuSet *set, unsigned vcpus,
                             HpvmError *err)
{
        char list[HPVM_CPUSET_STRMAX], range[64];
        HpvmCpuSet extra = *set, all;

        hpvm_cpuset_zero(&all);
        hpvm_cpuset_set_range(&all, 0, vcpus - 1);
        hpvm_cpuset_andnot(&extra, &all);
        if (hpvm_cpuset_is_empty(&extra))
                return 0;
        hpvm_cpuset_format(&extra, list, sizeof(list));
        return hpvm_error_set(err, -ERANGE, "%s: %svCPU %s does not exist (%s)", prop, what, list,
                              vcpu_range(vcpus, range, sizeof(range)));
}

/* A typed guestnuma replaces the VM's cells: the same checks as before_vm_start's. */
static int check_guestnuma(const Vm *v, HpvmError *err)
{
        char list[HPVM_CPUSET_STRMAX], what[48], kb1[32], kb2[32];
        const HpvmVmReq *req = &v->req;
        HpvmCpuSet seen, all;
        uint64_t sum = 0, want;

        hpvm_cpuset_zero(&seen);
        for (size_t i = 0; i < v->guestnuma.n; i++) {
                const HpvmGuestCell *c = &v->guestnuma.cells[i];
                HpvmCpuSet both = c->vcpus;

                snprintf(what, sizeof(what), "cell %zu: ", i);
                if (check_vcpus_exist("guestnuma", what, &c->vcpus, req->vcpus, err) < 0)
                        return err->code;
                hpvm_cpuset_and(&both, &seen);
                if (!hpvm_cpuset_is_empty(&both)) {
                        hpvm_cpuset_format(&both, list, sizeof(list));
                        return hpvm_error_set(err, -EINVAL, "guestnuma: vCPU %s is in cell %zu and in an earlier cell "
                                              "(cells must not share vCPUs)", list, i);
                }
                hpvm_cpuset_or(&seen, &c->vcpus);
                sum += c->mem_kib;      /* cannot wrap: the parser caps cells and their memory */
        }
        hpvm_cpuset_zero(&all);
        hpvm_cpuset_set_range(&all, 0, req->vcpus - 1);
        hpvm_cpuset_andnot(&all, &seen);
        if (!hpvm_cpuset_is_empty(&all)) {
                hpvm_cpuset_format(&all, list, sizeof(list));
                return hpvm_error_set(err, -EINVAL, "guestnuma: vCPU %s is in no cell (every one of the VM's %u vCPUs "
                                      "needs one)", list, req->vcpus);
        }
        if (!req->mem_given && !req->ncells)
                return 0;
        want = req->mem_kib - (req->devmem_kib < req->mem_kib ? req->devmem_kib : req->mem_kib);
        if (sum != want)
                return hpvm_error_set(err, -EINVAL, "guestnuma: the cells add up to %s, the VM has %s of memory%s",
                                      hpvm_format_kib(sum, kb1, sizeof(kb1)), hpvm_format_kib(want, kb2, sizeof(kb2)),
                                      req->devmem_kib ? " (besides its memory devices)" : "");
        return 0;
}

/* IO threads the VM will have: the property, else the XML, else the profile's one. */
static long effective_iothreads(const Vm *v)
{
        long xml = hpvm_domain_iothreads(v->d);

        if (v->raw[P_IOTHREADS])
                return v->iothreads;
        if (xml != 0)
                return xml;
        return v->highperf ? 1 : 0;
}

static char *text_of(const HpvmDomain *d, const char *elem)
{
        xmlNode *n = hpvm_xml_child(d->root, elem);
        _cleanup_xmlchar_ xmlChar *t = n ? xmlNodeGetContent(n) : NULL;

        return strdup(t ? (const char *)t : "");
}

/* Read the domain, the properties and --pinned; build the request every host is asked. */
static int vm_load(const Opts *o, Vm *v, HpvmError *err)
{
        _cleanup_free_ char *buf = NULL;
        _cleanup_free_ char *uuid = NULL;
        HpvmWarnings warn = { 0 };
        size_t len;
        long io;
        int r;

        if ((r = hpvm_file_read(o->domain, HPVM_XML_MAX, &buf, &len, err)) < 0)
                return r;
        if ((r = hpvm_domain_parse(buf, len, &v->d, err)) < 0)
                return hpvm_error_prefix(err, "%s: ", o->domain);
        v->name = text_of(v->d, "name");
        uuid = text_of(v->d, "uuid");
        if (!v->name || !uuid)
                return hpvm_error_set(err, -ENOMEM, "out of memory");
        if (strlen(uuid) < sizeof(v->uuid))
                snprintf(v->uuid, sizeof(v->uuid), "%s", uuid);
        if ((r = split_props(o->props ? o->props : DEFAULT_PROPS, v, err)) < 0 || (r = parse_props(v, err)) < 0)
                return r;
        if (o->pinned && (r = hpvm_prop_cpuset_parse("--pinned", o->pinned, &v->pinned, err)) < 0)
                return r;
        if ((r = hpvm_domain_get_req(v->d, &v->req, err)) < 0)
                return hpvm_error_prefix(err, "%s: ", o->domain);
        for (size_t i = 0; i < v->cputune.n; i++) {
                HpvmCpuSet one;

                hpvm_cpuset_zero(&one);
                hpvm_cpuset_set(&one, v->cputune.pins[i].id);
                if ((r = check_vcpus_exist("cputune", "", &one, v->req.vcpus, err)) < 0)
                        return r;
        }
        if (MANUAL(v, P_GUESTNUMA)) {
                if ((r = check_guestnuma(v, err)) < 0 ||
                    (r = hpvm_domain_set_guest_numa(v->d, &v->guestnuma, &warn, err)) < 0)
                        return r;
                hpvm_vmreq_clear(&v->req);
                if ((r = hpvm_domain_get_req(v->d, &v->req, err)) < 0)
                        return r;
        }
        io = effective_iothreads(v);
        if (v->raw[P_IOTHREADPIN] && (r = hpvm_domain_check_iothreadpins(v->d, io, &v->iothreadpin, err)) < 0)
                return r;
        if (v->raw[P_HUGEPAGES])
                v->req.page_kib = v->page_kib;
        v->o = (HpvmFitOpts) {
                .policy = v->policy,
                .make_cells = v->guestnuma_auto,
                .emulator = v->cputune_auto && !v->raw[P_EMULATORPIN],
                .iothreads = v->cputune_auto && !v->raw[P_IOTHREADPIN] && io > 0 ? (unsigned)io : 0,
                /* Pins the VM brings (typed, or in its XML) stay where they are free, as in before_vm_start. */
                .keep = MANUAL(v, P_CPUTUNE) ? &v->cputune : !v->cputune_auto ? &v->req.vcpupin : NULL,
        };
        if ((r = hpvm_fit_request(&v->req, &v->o, &v->q, &v->cells, err)) < 0)
                return hpvm_error_prefix(err, "%s: ", auto_prop(v));
        v->parts = HPVM_HOST_CPU_TOPOLOGY | HPVM_HOST_DISTANCES;
        if (v->raw[P_INVTSC] && v->invtsc)
                v->parts |= HPVM_HOST_CPU_FLAGS;
        return 0;
}

/* before_vm_start's checks of the typed properties against a host; a failure is why the VM does not fit there. */
static int check_props_on_host(const Vm *v, const HpvmHost *h, HpvmError *err)
{
        HpvmVmReq p = { .vcpupin = v->cputune, .iothreadpin = v->iothreadpin,
                        .has_emulatorpin = v->raw[P_EMULATORPIN] != NULL, .emulatorpin = v->emulatorpin,
                        .has_numatune = MANUAL(v, P_NUMATUNE), .numatune = v->numatune, .page_kib = v->page_kib };
        int r;

        if ((MANUAL(v, P_CPUTUNE) && (r = hpvm_vmreq_check_online(&p, h, HPVM_PINS_VCPU, "cputune", err)) < 0) ||
            (MANUAL(v, P_NUMATUNE) && (r = hpvm_vmreq_check_nodes(&p, h, "numatune", err)) < 0) ||
            (v->raw[P_HUGEPAGES] && (r = hpvm_vmreq_check_page_size(&p, h, "hugepages", err)) < 0) ||
            (v->raw[P_EMULATORPIN] &&
             (r = hpvm_vmreq_check_online(&p, h, HPVM_PINS_EMULATOR, "emulatorpin", err)) < 0) ||
            (v->raw[P_IOTHREADPIN] &&
             (r = hpvm_vmreq_check_online(&p, h, HPVM_PINS_IOTHREAD, "iothreadpin", err)) < 0))
                return r;
        if (v->raw[P_INVTSC] && v->invtsc && !h->invtsc)
                return hpvm_error_set(err, -ENODEV, "invtsc: the host CPU has no invariant TSC, so the VM cannot "
                                      "require it");
        return 0;
}

/* ---------------------------------------------------------------- hosts */

static bool is_uri(const char *host)
{
        return strstr(host, "://") != NULL;
}

static void row_clear(Row *row)
{
        free(row->why);
        hpvm_placement_free(row->p);
        for (size_t i = 0; i < row->nnotes; i++)
                free(row->notes[i]);
        free(row->notes);
        free(row->holders);
        free(row->map);
}

static Holder *row_holder(Row *row)
{
        Holder *grown = realloc(row->holders, (row->nholders + 1) * sizeof(*grown));

        if (!grown)
                return NULL;
        row->holders = grown;
        memset(&grown[row->nholders], 0, sizeof(*grown));
        return &grown[row->nholders++];
}

static int row_note(Row *row, const char *text)
{
        char **grown = realloc(row->notes, (row->nnotes + 1) * sizeof(*grown));

        if (!grown)
                return -ENOMEM;
        row->notes = grown;
        if (!(row->notes[row->nnotes] = strdup(text)))
                return -ENOMEM;
        row->nnotes++;
        return 0;
}

/* A row that tells why the host could not be asked; the host's own name is not repeated in front. */
static int row_error(Row *row, const HpvmError *e)
{
        const char *msg = e->msg;
        size_t n = strlen(row->host);

        if (!strncmp(msg, row->host, n) && !strncmp(msg + n, ": ", 2))
                msg += n + 2;
        row->kind = ROW_ERROR;
        row->why = strdup(msg);
        return row->why ? 0 : -ENOMEM;
}

/* This host: sysfs under the configuration's sysfs_root, and what its ledger says other VMs hold. */
static int load_this_host(const Vm *v, const HpvmConfig *cfg, Row *row, HpvmHost **ret_host, HpvmUsage **ret_use,
                          HpvmError *err)
{
        _cleanup_ledger_ HpvmLedger *l = NULL;
        _cleanup_host_ HpvmHost *h = NULL;
        _cleanup_usage_ HpvmUsage *u = NULL;
        int r;

        if ((r = hpvm_host_load_sysfs(cfg->sysfs_root, v->parts, &h, &u, err)) < 0)
                return hpvm_error_prefix(err, "cannot read the host topology: ");
        if ((r = hpvm_ledger_open(cfg, &l, err)) < 0 ||
            (r = hpvm_ledger_apply(l, h, u, v->uuid[0] ? v->uuid : NULL, err)) < 0)
                return r;
        for (size_t i = 0; i < hpvm_ledger_count(l); i++) {
                _cleanup_ledger_entry_ HpvmLedgerEntry e = { 0 };
                const char *vm = hpvm_ledger_vm_at(l, i);
                Holder *o;

                /* Every entry parsed in hpvm_ledger_apply() above. */
                if (!vm || (v->uuid[0] && !strcasecmp(vm, v->uuid)) || hpvm_ledger_get(l, vm, &e, NULL) < 0)
                        continue;
                if (!(o = row_holder(row)))
                        return hpvm_error_set(err, -ENOMEM, "out of memory");
                snprintf(o->vm, sizeof(o->vm), "%s", e.vm);
                snprintf(o->name, sizeof(o->name), "%s", e.name);
                o->reserved = e.reserved;
                o->cpus = e.cpus;
        }
        *ret_host = h;
        *ret_use = u;
        h = NULL;
        u = NULL;
        return 0;
}

static int load_uri_host(const Vm *v, const HpvmConfig *cfg, Row *row, HpvmHost **ret_host, HpvmUsage **ret_use,
                         HpvmWarnings *notes, HpvmError *err)
{
        _cleanup_free_ FitVirtVm *vms = NULL;
        virConnectPtr conn = NULL;
        size_t n = 0;
        int r;

        if ((r = fit_virt_connect(cfg, row->host, &conn, err)) < 0)
                return r;
        r = fit_virt_load_host(conn, v->parts, v->uuid[0] ? v->uuid : NULL, ret_host, ret_use, &vms, &n, notes, err);
        virConnectClose(conn);
        for (size_t i = 0; r == 0 && i < n; i++) {
                Holder *o = row_holder(row);

                if (!o) {
                        hpvm_host_free(*ret_host);
                        hpvm_usage_free(*ret_use);
                        return hpvm_error_set(err, -ENOMEM, "out of memory");
                }
                snprintf(o->vm, sizeof(o->vm), "%s", vms[i].uuid);
                snprintf(o->name, sizeof(o->name), "%s", vms[i].name);
                o->cpus = vms[i].cpus;
        }
        return r;
}

/* Everything but the summary line of the engine's map, each line indented. */
static char *indented_map(const HpvmHost *h, const HpvmUsage *u, const HpvmPlacement *p)
{
        _cleanup_free_ char *text = NULL;
        const char *body;
        size_t lines = 0, n = 0;
        char *out;

        if (hpvm_placement_format_map(h, u, p, &text) < 0)
                return NULL;
        body = strchr(text, '\n');
        body = body ? body + 1 : text;
        for (const char *s = body; *s; s++)
                lines += *s == '\n';
        out = malloc(strlen(body) + 3 * lines + 1);
        if (!out)
                return NULL;
        for (const char *s = body; *s; s++) {
                if (s == body || s[-1] == '\n') {
                        memcpy(out + n, "   ", 3);
                        n += 3;
                }
                out[n++] = *s;
        }
        out[n] = '\0';
        return out;
}

/*
 * Ask one host. Returns 0 (the row says the answer, including a host that
 * could not be read), -EINVAL (the request itself is bad: every host would
 * say so; @err has the line) or -ENOMEM.
 */
static int ask_host(const Vm *v, const HpvmConfig *cfg, const Opts *o, Row *row, HpvmError *err)
{
        _cleanup_host_ HpvmHost *h = NULL;
        _cleanup_usage_ HpvmUsage *u = NULL;
        HpvmWarnings notes = { 0 };
        HpvmError e = { 0 };
        int r;

        if (!strcmp(row->host, THIS_HOST))
                r = load_this_host(v, cfg, row, &h, &u, &e);
        else if (is_uri(row->host))
                r = load_uri_host(v, cfg, row, &h, &u, &notes, &e);
        else
                r = hpvm_host_load_caps(row->host, v->parts, &h, &u, &e);
        for (size_t i = 0; i < notes.n; i++)
                if (row_note(row, notes.msg[i]) < 0)
                        return hpvm_error_set(err, -ENOMEM, "out of memory");
        if (r == -ENOMEM)
                return hpvm_error_set(err, -ENOMEM, "out of memory");
        if (r < 0)
                return row_error(row, &e) < 0 ? hpvm_error_set(err, -ENOMEM, "out of memory") : 0;

        if (cfg->reserved_cpus_given)
                hpvm_cpuset_or(&u->reserved, &cfg->reserved_cpus);
        else
                hpvm_usage_reserve_default(h, u);
        hpvm_cpuset_or(&u->taken, &v->pinned);
        if (!hpvm_cpuset_is_empty(&v->pinned)) {
                Holder *pin = row_holder(row);

                if (!pin)
                        return hpvm_error_set(err, -ENOMEM, "out of memory");
                snprintf(pin->name, sizeof(pin->name), "--pinned");
                pin->cpus = v->pinned;
        }
        /* Only CPUs of this host are worth telling. */
        row->reserved = u->reserved;
        hpvm_cpuset_and(&row->reserved, &h->online);
        row->taken = u->taken;
        hpvm_cpuset_and(&row->taken, &h->online);
        row->has_usage = true;

        e = (HpvmError) { 0 };
        r = check_props_on_host(v, h, &e);
        if (r == 0)
                r = hpvm_place(h, u, &v->q, &row->p, &e);
        if (r == -ENOMEM)
                return hpvm_error_set(err, -ENOMEM, "out of memory");
        if (r == -EINVAL && !e.msg[0])
                return hpvm_error_set(err, -EINVAL, "%s: the request is malformed", auto_prop(v));
        if (r == -EINVAL) {
                *err = e;
                return hpvm_error_prefix(err, "%s: ", auto_prop(v));
        }
        if (r < 0) {
                row->kind = ROW_NOFIT;
                row->why = strdup(e.msg);
        } else {
                row->kind = ROW_FITS;
        }
        if (r < 0 && !row->why)
                return hpvm_error_set(err, -ENOMEM, "out of memory");
        if (o->explain) {
                HpvmPlacement none = { 0 };

                row->map = indented_map(h, u, row->p ? row->p : &none);
                if (!row->map)
                        return hpvm_error_set(err, -ENOMEM, "out of memory");
        }
        return 0;
}

/* Fits first, best score first; then the rest; input order breaks every tie. */
static int row_cmp(const void *a, const void *b)
{
        const Row *x = a, *y = b;
        bool fx = x->kind == ROW_FITS, fy = y->kind == ROW_FITS;

        if (fx != fy)
                return fx ? -1 : 1;
        if (fx && x->p->score != y->p->score)
                return x->p->score > y->p->score ? -1 : 1;
        return (x->index > y->index) - (x->index < y->index);
}

/* ---------------------------------------------------------------- output */

static const char *plural(unsigned n)
{
        return n == 1 ? "" : "s";
}

/* "4 vCPUs on node 0 (CPUs 2-5); emulator and IO threads on CPU 6" */
static void print_fit(FILE *f, const HpvmPlacement *p, const HpvmPinList *keep)
{
        static char set[HPVM_CPUSET_STRMAX], cpus[HPVM_CPUSET_STRMAX];
        HpvmCpuSet vcpu_cpus, helpers = p->emulator;

        hpvm_cpuset_zero(&vcpu_cpus);
        for (unsigned i = 0; i < p->nvcpus; i++)
                hpvm_cpuset_set(&vcpu_cpus, p->vcpu_cpu[i]);
        hpvm_cpuset_or(&helpers, &p->iothreads);
        hpvm_cpuset_format(&p->nodes, set, sizeof(set));
        hpvm_cpuset_format(&vcpu_cpus, cpus, sizeof(cpus));
        fprintf(f, "%u vCPU%s on node%s %s (CPU%s %s)", p->nvcpus, plural(p->nvcpus),
                plural(hpvm_cpuset_count(&p->nodes)), set, plural(hpvm_cpuset_count(&vcpu_cpus)), cpus);
        if (p->ncells > 1)
                fprintf(f, " in %zu guest cells", p->ncells);
        if (!hpvm_cpuset_is_empty(&helpers)) {
                const char *what = hpvm_cpuset_is_empty(&p->iothreads) ? "emulator" :
                                   hpvm_cpuset_is_empty(&p->emulator) ? "IO threads" : "emulator and IO threads";

                hpvm_cpuset_format(&helpers, set, sizeof(set));
                fprintf(f, "; %s on CPU%s %s%s", what, plural(hpvm_cpuset_count(&helpers)), set,
                        p->helpers_shared ? " (shared with vCPUs: no free CPU left)" : "");
        }
        if (keep && keep->n)
                fprintf(f, "; %u of its %zu pin%s kept", p->nkept, keep->n, keep->n == 1 ? "" : "s");
}

/* "   held: VM db02 (<uuid>) on CPUs 4-7" */
static void print_holder(const Holder *o)
{
        static char set[HPVM_CPUSET_STRMAX];
        char name[HPVM_QUOTE_MAX], vm[HPVM_QUOTE_MAX];

        hpvm_cpuset_format(&o->cpus, set, sizeof(set));
        if (!o->vm[0]) {
                printf("   held: CPU%s %s (--pinned)\n", plural(hpvm_cpuset_count(&o->cpus)), set);
                return;
        }
        /* Names come from the host (libvirt, the ledger): one line each, whatever they hold. */
        printf("   held: VM %s (%s)%s on CPU%s %s\n",
               o->name[0] ? hpvm_quote(o->name, strlen(o->name), name, sizeof(name)) : "with no name",
               hpvm_quote(o->vm, strlen(o->vm), vm, sizeof(vm)),
               o->reserved ? ", reserved for an incoming migration," : "", plural(hpvm_cpuset_count(&o->cpus)), set);
}

static void print_text(const Vm *v, const Row *rows, size_t n, size_t nfit)
{
        char kb[32], name[HPVM_QUOTE_MAX];

        printf("VM %s: %u vCPU%s, %s, cpupolicy %s; hosts that fit: %zu of %zu\n",
               v->name[0] ? hpvm_quote(v->name, strlen(v->name), name, sizeof(name)) : "(no name)",
               v->req.vcpus, plural(v->req.vcpus), hpvm_format_kib(v->req.mem_kib, kb, sizeof(kb)),
               hpvm_cpu_policy_name(v->policy), nfit, n);
        for (size_t i = 0; i < n; i++) {
                const Row *row = &rows[i];

                if (row->kind == ROW_FITS) {
                        printf("%zu. %s: fits, score %d: ", i + 1, row->host, row->p->score);
                        print_fit(stdout, row->p, v->o.keep);
                        putchar('\n');
                } else {
                        printf("-  %s: %s: %s\n", row->host, row->kind == ROW_NOFIT ? "does not fit" : "error",
                               row->why);
                }
                for (size_t k = 0; k < row->nnotes; k++)
                        printf("   note: %s\n", row->notes[k]);
                for (size_t k = 0; row->map && k < row->nholders; k++)
                        print_holder(&row->holders[k]);
                if (row->map)
                        fputs(row->map, stdout);
        }
}

/* A JSON string: quotes, backslashes and control bytes escaped; bytes that are not UTF-8 become U+FFFD. */
static void json_str(FILE *f, const char *s)
{
        const unsigned char *p = (const unsigned char *)s;

        fputc('"', f);
        while (*p) {
                unsigned char c = *p;
                size_t len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
                bool ok = len > 0;

                for (size_t k = 1; ok && k < len; k++)
                        ok = (p[k] & 0xc0) == 0x80;
                /* Overlong forms, surrogates and code points past U+10FFFF are not UTF-8 either. */
                if (ok && len == 2 && c < 0xc2)
                        ok = false;
                if (ok && len == 3 && ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] >= 0xa0)))
                        ok = false;
                if (ok && len == 4 && ((c == 0xf0 && p[1] < 0x90) || c > 0xf4 || (c == 0xf4 && p[1] >= 0x90)))
                        ok = false;
                if (!ok) {
                        fputs("\\ufffd", f);
                        p++;
                        continue;
                }
                if (len > 1) {
                        fwrite(p, 1, len, f);
                        p += len;
                        continue;
                }
                switch (c) {
                case '"': fputs("\\\"", f); break;
                case '\\': fputs("\\\\", f); break;
                case '\n': fputs("\\n", f); break;
                case '\t': fputs("\\t", f); break;
                case '\r': fputs("\\r", f); break;
                default:
                        if (c < 0x20 || c == 0x7f)
                                fprintf(f, "\\u%04x", c);
                        else
                                fputc(c, f);
                }
                p++;
        }
        fputc('"', f);
}

static void json_set(FILE *f, const char *key, const HpvmCpuSet *s)
{
        static char buf[HPVM_CPUSET_STRMAX];

        hpvm_cpuset_format(s, buf, sizeof(buf));
        fprintf(f, ", \"%s\": ", key);
        json_str(f, buf);
}

static void json_fit(FILE *f, const HpvmPlacement *p)
{
        static char buf[HPVM_CPUSET_STRMAX];

        fprintf(f, ", \"score\": %d", p->score);
        json_set(f, "nodes", &p->nodes);
        json_set(f, "cpus", &p->held);
        fputs(", \"vcpu_cpus\": [", f);
        for (unsigned i = 0; i < p->nvcpus; i++)
                fprintf(f, "%s%u", i ? ", " : "", p->vcpu_cpu[i]);
        fputs("], \"cells\": [", f);
        for (size_t i = 0; i < p->ncells; i++) {
                hpvm_cpuset_format(&p->cells[i].vcpus, buf, sizeof(buf));
                fprintf(f, "%s{\"node\": %u, \"vcpus\": ", i ? ", " : "", p->cell_node[i]);
                json_str(f, buf);
                fprintf(f, ", \"memory_kib\": %llu}", (unsigned long long)p->cells[i].mem_kib);
        }
        fputc(']', f);
        json_set(f, "emulator", &p->emulator);
        json_set(f, "iothreads", &p->iothreads);
        fprintf(f, ", \"helpers_shared\": %s, \"pins_kept\": %u", p->helpers_shared ? "true" : "false", p->nkept);
}

static void print_json(const Vm *v, const Row *rows, size_t n, size_t nfit)
{
        printf("{\"vm\": {\"name\": ");
        json_str(stdout, v->name);
        printf(", \"uuid\": ");
        json_str(stdout, v->uuid);
        printf(", \"vcpus\": %u, \"memory_kib\": %llu, \"cpupolicy\": \"%s\"},\n \"fits\": %zu,\n \"hosts\": [",
               v->req.vcpus, (unsigned long long)v->req.mem_kib, hpvm_cpu_policy_name(v->policy), nfit);
        for (size_t i = 0; i < n; i++) {
                const Row *row = &rows[i];

                printf("%s\n  {\"host\": ", i ? "," : "");
                json_str(stdout, row->host);
                if (row->kind == ROW_FITS)
                        printf(", \"rank\": %zu, \"fits\": true", i + 1);
                else
                        printf(", \"rank\": null, \"fits\": false");
                if (row->kind == ROW_FITS)
                        json_fit(stdout, row->p);
                else {
                        printf(", \"%s\": ", row->kind == ROW_NOFIT ? "reason" : "error");
                        json_str(stdout, row->why);
                }
                if (row->has_usage) {
                        json_set(stdout, "reserved", &row->reserved);
                        json_set(stdout, "taken", &row->taken);
                        printf(", \"holders\": [");
                        for (size_t k = 0; k < row->nholders; k++) {
                                const Holder *o = &row->holders[k];

                                printf("%s{\"vm\": ", k ? ", " : "");
                                json_str(stdout, o->vm);
                                printf(", \"name\": ");
                                json_str(stdout, o->name);
                                json_set(stdout, "cpus", &o->cpus);
                                printf(", \"reserved\": %s}", o->reserved ? "true" : "false");
                        }
                        putchar(']');
                }
                printf(", \"notes\": [");
                for (size_t k = 0; k < row->nnotes; k++) {
                        printf("%s", k ? ", " : "");
                        json_str(stdout, row->notes[k]);
                }
                putchar(']');
                if (row->map) {
                        printf(", \"map\": ");
                        json_str(stdout, row->map);
                }
                putchar('}');
        }
        printf("\n ]}\n");
}

static int rank(const Opts *o, const HpvmConfig *cfg)
{
        Vm v = { 0 };
        HpvmError err = { 0 };
        Row *rows = NULL;
        size_t n = o->nhosts ? o->nhosts : 1, nfit = 0;
        int code = EXIT_BAD;

        if (vm_load(o, &v, &err) < 0) {
                fail(EXIT_BAD, "%s", err.msg);
                goto out;
        }
        rows = calloc(n, sizeof(*rows));
        if (!rows) {
                fail(EXIT_BAD, "out of memory");
                goto out;
        }
        for (size_t i = 0; i < n; i++) {
                rows[i].index = i;
                rows[i].host = o->nhosts ? o->hosts[i] : THIS_HOST;
                if (ask_host(&v, cfg, o, &rows[i], &err) < 0) {
                        fail(EXIT_BAD, "%s", err.msg);
                        goto out;
                }
                nfit += rows[i].kind == ROW_FITS;
        }
        qsort(rows, n, sizeof(*rows), row_cmp);
        if (o->json)
                print_json(&v, rows, n, nfit);
        else
                print_text(&v, rows, n, nfit);
        code = nfit ? EXIT_FITS : EXIT_NONE;
        if (fflush(stdout) != 0)
                code = fail(EXIT_BAD, "cannot write the answer: %s", strerror(errno));
out:
        for (size_t i = 0; rows && i < n; i++)
                row_clear(&rows[i]);
        free(rows);
        vm_clear(&v);
        return code;
}

/* ---------------------------------------------------------------- --repair-ledger */

static int repair(const HpvmConfig *cfg)
{
        _cleanup_ledger_ HpvmLedger *l = NULL;
        _cleanup_free_ FitVirtVm *vms = NULL;
        _cleanup_host_ HpvmHost *host = NULL;
        const char *uri = cfg->libvirt_uri && *cfg->libvirt_uri ? cfg->libvirt_uri : "qemu:///system";
        virConnectPtr conn = NULL;
        HpvmError err = { 0 }, damage = { 0 };
        size_t nvms = 0, recorded = 0, dropped = 0, kept = 0, skipped = 0;
        time_t now = time(NULL);
        int r;

        /* Damaged or not: say which, then take the lock with the reset open either way. */
        r = hpvm_ledger_open(cfg, &l, &damage);
        if (r == -EBADMSG || r == -EFBIG)
                r = hpvm_ledger_open_reset(cfg, &l, &err);
        else
                err = damage;
        if (r < 0)
                return fail(EXIT_NONE, "%s", err.msg);
        /* libvirt is asked under the lock: a VM a hook records meanwhile waits for the commit. */
        if ((r = fit_virt_connect(cfg, uri, &conn, &err)) < 0)
                return fail(EXIT_NONE, "%s", err.msg);
        r = fit_virt_running(conn, &vms, &nvms, &err);
        virConnectClose(conn);
        if (r < 0)
                return fail(EXIT_NONE, "%s: %s", uri, err.msg);
        /* Thread siblings, for VMs that hold whole cores; without them only the pins count. */
        if (hpvm_host_load_sysfs(cfg->sysfs_root, HPVM_HOST_CPU_TOPOLOGY, &host, NULL, &err) < 0)
                host = NULL;
        if (damage.code == -EBADMSG || damage.code == -EFBIG)
                printf("%s was damaged (%s): rebuilt from the VMs running at %s\n", hpvm_ledger_path(l),
                       damage.msg, uri);
        else
                printf("%s: checked against the VMs running at %s\n", hpvm_ledger_path(l), uri);

        /* Entries of VMs that do not run: kept only while they may still be about to (as reclaim does). */
        for (size_t i = 0; i < hpvm_ledger_count(l);) {
                _cleanup_ledger_entry_ HpvmLedgerEntry e = { 0 };
                const char *vm = hpvm_ledger_vm_at(l, i);
                char id[HPVM_STATE_TOKEN_MAX + 1];
                bool running = false;
                const char *why;

                snprintf(id, sizeof(id), "%s", vm ? vm : "");
                for (size_t k = 0; k < nvms && !running; k++)
                        running = !strcasecmp(vms[k].uuid, id);
                if (running) {
                        i++;
                        continue;
                }
                if (hpvm_ledger_get(l, id, &e, NULL) < 0)
                        why = "its entry does not parse";
                else if (e.reserved && e.expires > now)
                        why = NULL;
                else if (!e.reserved && (uint64_t)(now > e.since ? now - e.since : 0) <= cfg->ledger_grace)
                        why = NULL;
                else
                        why = e.reserved ? "its reservation expired" : "it does not run here";
                if (!why) {
                        printf("kept VM %s (%s): %s\n", id, e.name[0] ? e.name : "no name",
                               e.reserved ? "reserved for an incoming migration" : "recorded moments ago, still starting");
                        kept++;
                        i++;
                        continue;
                }
                printf("dropped VM %s (%s): %s\n", id, e.name[0] ? e.name : "no name", why);
                hpvm_ledger_release(l, id);
                dropped++;
        }
        for (size_t k = 0; k < nvms; k++) {
                _cleanup_ledger_entry_ HpvmLedgerEntry old = { 0 };
                HpvmLedgerEntry e = { .since = now, .cpus = vms[k].cpus };
                char set[HPVM_CPUSET_STRMAX];
                HpvmCpuSet siblings;

                if (vms[k].shared || hpvm_cpuset_is_empty(&vms[k].cpus)) {
                        printf("skipped VM %s (%s): %s\n", vms[k].uuid, vms[k].name,
                               vms[k].shared ? "vdsm keeps it in its shared CPU pool" :
                               hpvm_cpuset_is_empty(&vms[k].helpers) ? "it is not pinned" :
                               "its only pins, of emulator or IO threads, are shared with other VMs");
                        hpvm_ledger_release(l, vms[k].uuid);
                        skipped++;
                        continue;
                }
                /*
                 * The thread siblings of its pins are its own too under vdsm's isolate-threads; under
                 * cpupolicy=isolate only the ledger knew it: the old entry's siblings stay.
                 */
                hpvm_cpuset_zero(&siblings);
                for (int cpu = host ? hpvm_cpuset_next(&vms[k].cpus, 0) : -1; cpu >= 0;
                     cpu = hpvm_cpuset_next(&vms[k].cpus, (unsigned)cpu + 1)) {
                        HpvmCpuSet sib;

                        hpvm_host_siblings(host, (unsigned)cpu, &sib);
                        hpvm_cpuset_or(&siblings, &sib);
                }
                if (vms[k].isolate)
                        hpvm_cpuset_or(&e.cpus, &siblings);
                /* A VM already recorded keeps its start time. */
                if (hpvm_ledger_get(l, vms[k].uuid, &old, NULL) == 0 && !old.reserved) {
                        e.since = old.since;
                        hpvm_cpuset_and(&siblings, &old.cpus);
                        hpvm_cpuset_or(&e.cpus, &siblings);
                }
                snprintf(e.vm, sizeof(e.vm), "%s", vms[k].uuid);
                snprintf(e.name, sizeof(e.name), "%s", vms[k].name);
                if ((r = hpvm_ledger_put(l, &e, &err)) < 0)
                        return fail(EXIT_NONE, "%s", err.msg);
                hpvm_cpuset_format(&e.cpus, set, sizeof(set));
                printf("recorded VM %s (%s): running on CPU%s %s\n", e.vm, e.name, plural(hpvm_cpuset_count(&e.cpus)),
                       set);
                recorded++;
        }
        if ((r = hpvm_ledger_commit(l, &err)) < 0)
                return fail(EXIT_NONE, "%s", err.msg);
        printf("%zu VM%s recorded, %zu kept, %zu dropped, %zu not pinned\n", recorded, recorded == 1 ? "" : "s",
               kept, dropped, skipped);
        return fflush(stdout) == 0 ? EXIT_FITS : fail(EXIT_NONE, "cannot write: %s", strerror(errno));
}

/* libxml2's default handler prints on stderr; libvirt's test driver reads its files through it. */
static void quiet_xml(void *ctx __attribute__((unused)), const char *msg __attribute__((unused)), ...)
{
}

int main(int argc, char **argv)
{
        _cleanup_config_ HpvmConfig *cfg = NULL;
        Opts o;
        int r;

        xmlSetGenericErrorFunc(NULL, quiet_xml);
        if ((r = parse_args(argc, argv, &o)) >= 0)
                return r;
        if ((r = load_config(&o, &cfg)) >= 0)
                return r;
        return o.repair ? repair(cfg) : rank(&o, cfg);
}
