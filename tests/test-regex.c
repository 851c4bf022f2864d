/*
 * test-regex.c: the engine-config regular expressions in README agree with the hook's parsers.
 *
 * The engine checks syntax with these expressions; the hook checks syntax and
 * meaning. So a sample is either accepted by both, refused by both, or (for
 * meaning only: ids out of range, a vCPU listed twice, ...) accepted by the
 * expression and refused by the hook. The expression must never refuse what
 * the hook accepts.
 */
#include <check.h>
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "props.h"
#include "sriov.h"

#define BEGIN_MARK "<!-- engine-config:begin -->"
#define END_MARK "<!-- engine-config:end -->"
#define LINE_KEY "UserDefinedVMProperties='"
#define DEV_LINE_KEY "CustomDeviceProperties='{type=interface;prop={"
#define DEV_PREFIX "interface:"    /* how samples name a vNIC profile (device) property */
#define MAX_PROPS 32

typedef struct Prop {
        char name[64];
        char *regex;
        regex_t re;
        bool predefined;        /* oVirt's own property: the engine already declares it */
        bool device;            /* a vNIC profile property (CustomDeviceProperties), named "interface:<name>" here */
} Prop;

static char *section;          /* README text between the markers */
static Prop props[MAX_PROPS];
static size_t n_props;          /* README's line first, then the predefined ones, then the device line's */
static size_t n_readme;         /* the VM line's */

/*
 * oVirt's predefined VM properties (ovirt-engine packaging/dbscripts/upgrade/
 * pre_upgrade/0000_config.sql, PredefinedVMProperties for 4.6-4.8). The README
 * line must not declare them again; the hook reads hugepages as vdsm does, so
 * its parser is checked against the engine's own expression.
 */
static const struct {
        const char *name;
        const char *regex;
} predefined[] = {
        { "hugepages", "^[0-9]+$" },
        { "sap_agent", "^(true|false)$" },
        { "sndbuf", "^[0-9]+$" },
        { "viodiskcache", "^(none|writeback|writethrough)$" },
        { "scsi_hostdev", "^(scsi_generic|scsi_block|scsi_hd|virtio_blk_pci)$" },
        { "nvram_template", "^.*$" },
        { "vhost", "^.*$" },
        { "extra_cpu_flags", "^.*$" },
};

/* ---------------------------------------------------------------- README */

static char *read_file(const char *path)
{
        FILE *f = fopen(path, "re");
        char *buf = NULL;
        long size;

        ck_assert_msg(f != NULL, "cannot open %s (set HPVM_SRCDIR)", path);
        ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
        size = ftell(f);
        ck_assert_int_ge(size, 0);
        rewind(f);
        buf = malloc((size_t)size + 1);
        ck_assert_ptr_nonnull(buf);
        ck_assert_uint_eq(fread(buf, 1, (size_t)size, f), (size_t)size);
        buf[size] = '\0';
        fclose(f);
        return buf;
}

static void parse_list(const char *line, const char *line_end, bool device);

static void load_readme(void)
{
        const char *dir = getenv("HPVM_SRCDIR");
        char path[4096];
        char *text, *begin, *end, *line, *line_end;

        snprintf(path, sizeof(path), "%s/README", dir && dir[0] ? dir : ".");
        text = read_file(path);

        begin = strstr(text, BEGIN_MARK);
        ck_assert_msg(begin != NULL, "no '%s' in %s", BEGIN_MARK, path);
        begin += strlen(BEGIN_MARK);
        end = strstr(begin, END_MARK);
        ck_assert_msg(end != NULL, "no '%s' in %s", END_MARK, path);
        section = strndup(begin, (size_t)(end - begin));
        ck_assert_ptr_nonnull(section);
        free(text);

        line = strstr(section, LINE_KEY);
        ck_assert_msg(line != NULL, "no %s...' line in the engine-config section", LINE_KEY);
        ck_assert_msg(strstr(line + 1, LINE_KEY) == NULL, "two %s...' lines", LINE_KEY);
        line += strlen(LINE_KEY);
        line_end = strchr(line, '\'');
        ck_assert_msg(line_end != NULL, "the %s...' line has no closing quote", LINE_KEY);
        ck_assert_msg(memchr(line, '\n', (size_t)(line_end - line)) == NULL,
                      "the %s...' line must be one line", LINE_KEY);

        parse_list(line, line_end, false);
        n_readme = n_props;
        for (size_t i = 0; i < HPVM_ARRAY_SIZE(predefined); i++) {
                Prop *pr;

                ck_assert_uint_lt(n_props, MAX_PROPS);
                pr = &props[n_props++];
                snprintf(pr->name, sizeof(pr->name), "%s", predefined[i].name);
                pr->regex = strdup(predefined[i].regex);
                pr->predefined = true;
                ck_assert_ptr_nonnull(pr->regex);
                ck_assert_int_eq(regcomp(&pr->re, pr->regex, REG_EXTENDED | REG_NOSUB), 0);
        }

        /* The vNIC profile's: CustomDeviceProperties='{type=interface;prop={name=regex;...}}', one line. */
        line = strstr(section, DEV_LINE_KEY);
        ck_assert_msg(line != NULL, "no %s...' line in the engine-config section", DEV_LINE_KEY);
        ck_assert_msg(strstr(line + 1, DEV_LINE_KEY) == NULL, "two %s...' lines", DEV_LINE_KEY);
        line += strlen(DEV_LINE_KEY);
        line_end = strchr(line, '\'');
        ck_assert_msg(line_end != NULL && line_end - line > 2 && !strncmp(line_end - 2, "}}", 2),
                      "the %s...' line does not end in }}'", DEV_LINE_KEY);
        line_end -= 2;
        ck_assert_msg(memchr(line, '\n', (size_t)(line_end - line)) == NULL, "the %s...' line must be one line",
                      DEV_LINE_KEY);
        parse_list(line, line_end, true);
}

/* name=regex;name=regex;... between @line and @line_end into props[]. */
static void parse_list(const char *line, const char *line_end, bool device)
{
        for (const char *p = line; p < line_end;) {
                const char *semi = memchr(p, ';', (size_t)(line_end - p));
                const char *stop = semi ? semi : line_end;
                const char *eq = memchr(p, '=', (size_t)(stop - p));
                Prop *pr;
                int r;

                ck_assert_msg(eq != NULL && eq > p, "bad item '%.*s'", (int)(stop - p), p);
                ck_assert_uint_lt(n_props, MAX_PROPS);
                ck_assert_uint_lt((size_t)(eq - p) + strlen(DEV_PREFIX), sizeof(pr->name));
                pr = &props[n_props++];
                snprintf(pr->name, sizeof(pr->name), "%s%.*s", device ? DEV_PREFIX : "", (int)(eq - p), p);
                pr->device = device;
                pr->regex = strndup(eq + 1, (size_t)(stop - eq - 1));
                ck_assert_ptr_nonnull(pr->regex);

                r = regcomp(&pr->re, pr->regex, REG_EXTENDED | REG_NOSUB);
                ck_assert_msg(r == 0, "%s: regcomp failed (%d) on '%s'", pr->name, r, pr->regex);
                p = stop + 1;
        }
}

static void free_readme(void)
{
        for (size_t i = 0; i < n_props; i++) {
                regfree(&props[i].re);
                free(props[i].regex);
        }
        n_props = 0;
        free(section);
        section = NULL;
}

/* The README's declaration of @name, else oVirt's predefined one. */
static const Prop *find_prop(const char *name)
{
        for (size_t i = 0; i < n_props; i++)
                if (strcmp(props[i].name, name) == 0)
                        return &props[i];
        return NULL;
}

/* ---------------------------------------------------------------- the hook's side */

/* Returns 0 or the parser's negative errno; @msg gets its message. */
static int hook_parse(const char *name, const char *value, char *msg, size_t size)
{
        HpvmError err = { 0 };
        int r;

        /* `auto` is a value of its own: the placement engine decides (lib/vmstart.c). */
        if (!strcmp(value, "auto") && (!strcmp(name, "cputune") || !strcmp(name, "numatune") || !strcmp(name, "guestnuma"))) {
                r = 0;
        } else if (strcmp(name, "cpupolicy") == 0) {
                HpvmCpuPolicy pol;

                r = hpvm_prop_cpupolicy_parse(value, &pol, &err);
        } else if (strcmp(name, "cputune") == 0) {
                HpvmPinList l = { 0 };

                r = hpvm_prop_cputune_parse(value, &l, &err);
                hpvm_pinlist_clear(&l);
        } else if (strcmp(name, "iothreadpin") == 0) {
                HpvmPinList l = { 0 };

                r = hpvm_prop_pinlist_parse(name, value, 1, 64, "I/O thread", &l, &err);
                hpvm_pinlist_clear(&l);
        } else if (strcmp(name, "numatune") == 0) {
                HpvmNumaTune t;

                r = hpvm_prop_numatune_parse(value, &t, &err);
        } else if (strcmp(name, "guestnuma") == 0) {
                HpvmGuestNuma g = { 0 };

                r = hpvm_prop_guestnuma_parse(value, &g, &err);
                hpvm_guestnuma_clear(&g);
        } else if (strcmp(name, "emulatorpin") == 0) {
                HpvmCpuSet s;

                r = hpvm_prop_cpuset_parse(name, value, &s, &err);
        } else if (strcmp(name, "invtsc") == 0 || strcmp(name, "nosharepages") == 0 ||
                   strcmp(name, "highperf") == 0 || strcmp(name, "migration_refit") == 0) {
                bool b;

                r = hpvm_prop_bool_parse(name, value, &b, &err);
        } else if (strcmp(name, "hugepages") == 0) {
                uint64_t kib;

                r = hpvm_prop_pagesize_parse(name, value, &kib, &err);
        } else if (strcmp(name, "sriov_migratable") == 0) {
                HpvmMacList l = { 0 };

                r = hpvm_prop_sriov_migratable_parse(value, &l, &err);
                hpvm_mac_list_clear(&l);
        } else if (strcmp(name, DEV_PREFIX "sriov_migratable") == 0) {
                bool b;

                /* What lib/vfnic.c reads from the NIC's <ovirt-vm:custom>. */
                r = hpvm_prop_bool_parse("sriov_migratable", value, &b, &err);
        } else if (strcmp(name, "iothreads") == 0) {
                unsigned n;

                /* 1-64 is part of the declared syntax here: the regex spells it out. */
                r = hpvm_prop_count_parse(name, value, 1, HPVM_IOTHREADS_MAX, &n, &err);
                if (r < 0)
                        r = -EINVAL;
        } else {
                ck_abort_msg("no parser for property %s", name);
                return -EINVAL;
        }

        snprintf(msg, size, "%s", err.msg);
        return r;
}

/* Refusals only the hook can make: meaning, not syntax. */
static bool is_semantic(int r, const char *msg)
{
        return r == -ERANGE || r == -EOVERFLOW || r == -E2BIG ||
               strstr(msg, " is listed twice") || strstr(msg, " selects no ");
}

static bool regex_matches(const Prop *pr, const char *value)
{
        return regexec(&pr->re, value, 0, NULL, 0) == 0;
}

/* ---------------------------------------------------------------- samples */

typedef enum Expect {
        BOTH_OK,              /* valid: the web form and the hook accept it */
        BOTH_REFUSE,          /* bad syntax: the web form already refuses it */
        HOOK_REFUSES,         /* good syntax, bad meaning: only the hook refuses it */
} Expect;

static const struct {
        const char *prop;
        const char *value;
        Expect expect;
} samples[] = {
        /* cputune */
        { "cputune", "0#0", BOTH_OK },
        { "cputune", "0#0-3,8,1#4-7", BOTH_OK },
        { "cputune", "0#0-7,^3,12,1#^0,1", BOTH_OK },
        { "cputune", "10#2,3#4-5,^4", BOTH_OK },
        { "cputune", "007#007", BOTH_OK },
        { "cputune", "", BOTH_REFUSE },
        { "cputune", "0", BOTH_REFUSE },
        { "cputune", "0-3", BOTH_REFUSE },
        { "cputune", "0,1#2", BOTH_REFUSE },
        { "cputune", "#1", BOTH_REFUSE },
        { "cputune", "0#", BOTH_REFUSE },
        { "cputune", "0#,1", BOTH_REFUSE },
        { "cputune", "0#1#2", BOTH_REFUSE },
        { "cputune", "0#1,", BOTH_REFUSE },
        { "cputune", ",0#1", BOTH_REFUSE },
        { "cputune", "0#1,,2", BOTH_REFUSE },
        { "cputune", "0#0-3,9x", BOTH_REFUSE },
        { "cputune", "0#-0", BOTH_REFUSE },
        { "cputune", "0#0-", BOTH_REFUSE },
        { "cputune", "0#^1-3", BOTH_REFUSE },
        { "cputune", "0#^", BOTH_REFUSE },
        { "cputune", "0#1-2-3", BOTH_REFUSE },
        { "cputune", "-1#0", BOTH_REFUSE },
        { "cputune", "+1#0", BOTH_REFUSE },
        { "cputune", "0-1#2", BOTH_REFUSE },
        { "cputune", "0 #1", BOTH_REFUSE },
        { "cputune", "0# 1", BOTH_REFUSE },
        { "cputune", "0#1 ", BOTH_REFUSE },
        { "cputune", "0#1\n", BOTH_REFUSE },
        { "cputune", "0#1;1#2", BOTH_REFUSE },
        { "cputune", "0:1", BOTH_REFUSE },
        { "cputune", "0#\xff", BOTH_REFUSE },
        { "cputune", "0#1,0#2", HOOK_REFUSES },                   /* vCPU listed twice */
        { "cputune", "4096#0", HOOK_REFUSES },
        { "cputune", "0#4096", HOOK_REFUSES },
        { "cputune", "0#10-1", HOOK_REFUSES },
        { "cputune", "0#^0", HOOK_REFUSES },
        { "cputune", "99999999999999999999#0", HOOK_REFUSES },
        { "cputune", "0#99999999999999999999", HOOK_REFUSES },
        /* iothreadpin */
        { "iothreadpin", "1#0-3,2#4-7", BOTH_OK },
        { "iothreadpin", "64#0", BOTH_OK },
        { "iothreadpin", "1#", BOTH_REFUSE },
        { "iothreadpin", "1-2#0", BOTH_REFUSE },
        { "iothreadpin", "x#1", BOTH_REFUSE },
        { "iothreadpin", "0#1", HOOK_REFUSES },
        { "iothreadpin", "65#1", HOOK_REFUSES },
        { "iothreadpin", "1#1,1#2", HOOK_REFUSES },
        /* numatune */
        { "numatune", "0", BOTH_OK },
        { "numatune", "0-1,^1,3", BOTH_OK },
        { "numatune", "strict#0", BOTH_OK },
        { "numatune", "preferred#1", BOTH_OK },
        { "numatune", "interleave#0-3", BOTH_OK },
        { "numatune", "restrictive#0,2", BOTH_OK },
        { "numatune", "Strict#0", BOTH_REFUSE },
        { "numatune", "STRICT#0", BOTH_REFUSE },
        { "numatune", "bogus#0", BOTH_REFUSE },
        { "numatune", "strict", BOTH_REFUSE },
        { "numatune", "strict#", BOTH_REFUSE },
        { "numatune", "#0", BOTH_REFUSE },
        { "numatune", "strict#0#1", BOTH_REFUSE },
        { "numatune", "strict#0,", BOTH_REFUSE },
        { "numatune", "strict #0", BOTH_REFUSE },
        { "numatune", "strict#0 ", BOTH_REFUSE },
        { "numatune", "", BOTH_REFUSE },
        { "numatune", "1024", HOOK_REFUSES },
        { "numatune", "strict#^0", HOOK_REFUSES },
        { "numatune", "interleave#3-1", HOOK_REFUSES },
        /* guestnuma */
        { "guestnuma", "0-1,4-5#2G,2-3,6-7#2G", BOTH_OK },
        { "guestnuma", "0#1", BOTH_OK },
        { "guestnuma", "0-3#1048576", BOTH_OK },
        { "guestnuma", "0#1k,1#1K,2#1m,3#1M,4#1g,5#1t,6#1T", BOTH_OK },
        { "guestnuma", "0-3,^1#512M", BOTH_OK },
        { "guestnuma", "0-1#2G,2-3", BOTH_REFUSE },
        { "guestnuma", "0-3", BOTH_REFUSE },
        { "guestnuma", "#1G", BOTH_REFUSE },
        { "guestnuma", "0#", BOTH_REFUSE },
        { "guestnuma", "0#1#2", BOTH_REFUSE },
        { "guestnuma", "0#2X", BOTH_REFUSE },
        { "guestnuma", "0#1GB", BOTH_REFUSE },
        { "guestnuma", "0#1.5G", BOTH_REFUSE },
        { "guestnuma", "0#1P", BOTH_REFUSE },
        { "guestnuma", "0#-1", BOTH_REFUSE },
        { "guestnuma", "0#1G,", BOTH_REFUSE },
        { "guestnuma", ",0#1G", BOTH_REFUSE },
        { "guestnuma", "0#1G,,1#1G", BOTH_REFUSE },
        { "guestnuma", "0 #1G", BOTH_REFUSE },
        { "guestnuma", "0#0", HOOK_REFUSES },
        { "guestnuma", "0#0G", HOOK_REFUSES },
        { "guestnuma", "0#4097T", HOOK_REFUSES },
        { "guestnuma", "0#99999999999999999999", HOOK_REFUSES },
        { "guestnuma", "4096#1G", HOOK_REFUSES },
        { "guestnuma", "^0#1G", HOOK_REFUSES },
        /* emulatorpin */
        { "emulatorpin", "0", BOTH_OK },
        { "emulatorpin", "0-7,^3,12", BOTH_OK },
        { "emulatorpin", "", BOTH_REFUSE },
        { "emulatorpin", "0,,1", BOTH_REFUSE },
        { "emulatorpin", "0,", BOTH_REFUSE },
        { "emulatorpin", ",0", BOTH_REFUSE },
        { "emulatorpin", "-0", BOTH_REFUSE },
        { "emulatorpin", "0-", BOTH_REFUSE },
        { "emulatorpin", "^1-3", BOTH_REFUSE },
        { "emulatorpin", "^^1", BOTH_REFUSE },
        { "emulatorpin", "0#1", BOTH_REFUSE },
        { "emulatorpin", " 0", BOTH_REFUSE },
        { "emulatorpin", "0x1", BOTH_REFUSE },
        { "emulatorpin", "10-1", HOOK_REFUSES },
        { "emulatorpin", "4096", HOOK_REFUSES },
        { "emulatorpin", "^0", HOOK_REFUSES },
        { "emulatorpin", "0,^0", HOOK_REFUSES },
        { "emulatorpin", "18446744073709551616", HOOK_REFUSES },
        /* auto: the placement engine decides */
        { "cputune", "auto", BOTH_OK },
        { "numatune", "auto", BOTH_OK },
        { "guestnuma", "auto", BOTH_OK },
        { "cputune", "Auto", BOTH_REFUSE },
        { "numatune", "auto#0", BOTH_REFUSE },
        { "guestnuma", "autoauto", BOTH_REFUSE },
        { "cpupolicy", "dedicated", BOTH_OK },
        { "cpupolicy", "isolate", BOTH_OK },
        { "cpupolicy", "Siblings", BOTH_OK },
        { "cpupolicy", "isolate-threads", BOTH_REFUSE },
        { "cpupolicy", "", BOTH_REFUSE },
        { "cpupolicy", "none", BOTH_REFUSE },
        /* hugepages: oVirt's predefined property, checked against the engine's own expression */
        { "hugepages", "2048", BOTH_OK },
        { "hugepages", "1048576", BOTH_OK },
        { "hugepages", "002048", BOTH_OK },
        { "hugepages", "2M", BOTH_REFUSE },
        { "hugepages", "1G", BOTH_REFUSE },
        { "hugepages", "1g", BOTH_REFUSE },
        { "hugepages", "", BOTH_REFUSE },
        { "hugepages", "M", BOTH_REFUSE },
        { "hugepages", "2MB", BOTH_REFUSE },
        { "hugepages", "2 048", BOTH_REFUSE },
        { "hugepages", "-2048", BOTH_REFUSE },
        { "hugepages", "1.5", BOTH_REFUSE },
        { "hugepages", "0", HOOK_REFUSES },
        { "hugepages", "3000", HOOK_REFUSES },                     /* not a power of two */
        { "hugepages", "2", HOOK_REFUSES },                        /* smaller than a base page */
        { "hugepages", "33554432", HOOK_REFUSES },                 /* no CPU has pages this large */
        { "hugepages", "99999999999999999999", HOOK_REFUSES },
        { "hugepages", "99999999999999999999", HOOK_REFUSES },
        /* booleans */
        { "invtsc", "true", BOTH_OK },
        { "invtsc", "False", BOTH_OK },
        { "invtsc", "YES", BOTH_OK },
        { "invtsc", "no", BOTH_OK },
        { "invtsc", "1", BOTH_OK },
        { "invtsc", "0", BOTH_OK },
        { "invtsc", "", BOTH_REFUSE },
        { "invtsc", "on", BOTH_REFUSE },
        { "invtsc", "2", BOTH_REFUSE },
        { "invtsc", "01", BOTH_REFUSE },
        { "invtsc", "truee", BOTH_REFUSE },
        { "invtsc", " true", BOTH_REFUSE },
        { "nosharepages", "TrUe", BOTH_OK },
        { "nosharepages", "n", BOTH_REFUSE },
        { "highperf", "yes", BOTH_OK },
        { "highperf", "yes,no", BOTH_REFUSE },
        /* migration_refit (the migration hooks) */
        { "migration_refit", "false", BOTH_OK },
        { "migration_refit", "TRUE", BOTH_OK },
        { "migration_refit", "0", BOTH_OK },
        { "migration_refit", "", BOTH_REFUSE },
        { "migration_refit", "off", BOTH_REFUSE },
        { "migration_refit", "false ", BOTH_REFUSE },
        /* iothreads */
        { "iothreads", "1", BOTH_OK },
        { "iothreads", "9", BOTH_OK },
        { "iothreads", "10", BOTH_OK },
        { "iothreads", "59", BOTH_OK },
        { "iothreads", "64", BOTH_OK },
        { "iothreads", "04", BOTH_OK },
        { "iothreads", "0", BOTH_REFUSE },
        { "iothreads", "00", BOTH_REFUSE },
        { "iothreads", "65", BOTH_REFUSE },
        { "iothreads", "70", BOTH_REFUSE },
        { "iothreads", "100", BOTH_REFUSE },
        { "iothreads", "-1", BOTH_REFUSE },
        { "iothreads", "", BOTH_REFUSE },
        { "iothreads", "4 ", BOTH_REFUSE },
        { "iothreads", "99999999999999999999", BOTH_REFUSE },
        /* sriov_migratable (VM): all, or MACs */
        { "sriov_migratable", "all", BOTH_OK },
        { "sriov_migratable", "ALL", BOTH_OK },
        { "sriov_migratable", "00:1a:4a:16:01:51", BOTH_OK },
        { "sriov_migratable", "00:1A:4a:16:01:51,56:6f:1a:2b:00:11", BOTH_OK },
        { "sriov_migratable", "", BOTH_REFUSE },
        { "sriov_migratable", "al", BOTH_REFUSE },
        { "sriov_migratable", "all,00:1a:4a:16:01:51", BOTH_REFUSE },
        { "sriov_migratable", "00:1a:4a:16:01:5", BOTH_REFUSE },
        { "sriov_migratable", "00:1a:4a:16:01:51:00", BOTH_REFUSE },
        { "sriov_migratable", "001a.4a16.0151", BOTH_REFUSE },
        { "sriov_migratable", "00-1a-4a-16-01-51", BOTH_REFUSE },
        { "sriov_migratable", "00:1a:4a:16:01:5g", BOTH_REFUSE },
        { "sriov_migratable", "00:1a:4a:16:01:51,", BOTH_REFUSE },
        { "sriov_migratable", ",00:1a:4a:16:01:51", BOTH_REFUSE },
        { "sriov_migratable", "00:1a:4a:16:01:51, 00:1a:4a:16:01:52", BOTH_REFUSE },
        { "sriov_migratable", "00:1a:4a:16:01:51,00:1A:4A:16:01:51", HOOK_REFUSES },     /* listed twice */
        /* sriov_migratable (vNIC profile): a boolean */
        { DEV_PREFIX "sriov_migratable", "true", BOTH_OK },
        { DEV_PREFIX "sriov_migratable", "False", BOTH_OK },
        { DEV_PREFIX "sriov_migratable", "no", BOTH_OK },
        { DEV_PREFIX "sriov_migratable", "1", BOTH_OK },
        { DEV_PREFIX "sriov_migratable", "", BOTH_REFUSE },
        { DEV_PREFIX "sriov_migratable", "all", BOTH_REFUSE },
        { DEV_PREFIX "sriov_migratable", "on", BOTH_REFUSE },
};

/* Every property the hooks read, whether or not this file has samples for it. */
static const char *const all_props[] = {
        "cputune", "numatune", "guestnuma", "hugepages", "invtsc", "nosharepages",
        "highperf", "emulatorpin", "iothreads", "iothreadpin", "cpupolicy", "sriov_migratable", "migration_refit",
        DEV_PREFIX "sriov_migratable",
};

START_TEST(test_sample)
{
        const char *name = samples[_i].prop, *value = samples[_i].value;
        const Prop *pr = find_prop(name);
        char msg[HPVM_ERR_MAX];
        bool re_ok;
        int r;

        ck_assert_msg(pr != NULL, "property %s is neither in the README line nor predefined", name);
        re_ok = regex_matches(pr, value);
        r = hook_parse(name, value, msg, sizeof(msg));

        switch (samples[_i].expect) {
        case BOTH_OK:
                ck_assert_msg(re_ok, "%s='%s': the regex refuses a valid value", name, value);
                ck_assert_msg(r == 0, "%s='%s': the hook refuses: %s", name, value, msg);
                break;
        case BOTH_REFUSE:
                ck_assert_msg(!re_ok, "%s='%s': the regex lets bad syntax through", name, value);
                ck_assert_msg(r < 0, "%s='%s': the hook accepts bad syntax", name, value);
                ck_assert_msg(!is_semantic(r, msg), "%s='%s': not a syntax error: %d %s",
                              name, value, r, msg);
                break;
        case HOOK_REFUSES:
                ck_assert_msg(re_ok, "%s='%s': the regex refuses good syntax", name, value);
                ck_assert_msg(r < 0, "%s='%s': the hook accepts it", name, value);
                ck_assert_msg(is_semantic(r, msg), "%s='%s': not a semantic refusal: %d %s",
                              name, value, r, msg);
                break;
        }
}
END_TEST

START_TEST(test_readme_complete)
{
        /* Every property with samples, and every property at all, is declared ... */
        for (size_t i = 0; i < HPVM_ARRAY_SIZE(samples); i++)
                ck_assert_msg(find_prop(samples[i].prop), "%s missing from the README line",
                              samples[i].prop);
        for (size_t i = 0; i < HPVM_ARRAY_SIZE(all_props); i++)
                ck_assert_msg(find_prop(all_props[i]), "%s missing from the README line", all_props[i]);

        /* Redeclaring a predefined property would override the engine's own (vdsm reads hugepages itself). */
        for (size_t i = 0; i < n_readme; i++)
                for (size_t j = 0; j < HPVM_ARRAY_SIZE(predefined); j++)
                        ck_assert_msg(strcmp(props[i].name, predefined[j].name) != 0,
                                      "the README line redeclares oVirt's predefined property %s", props[i].name);

        /* ... and every declared property is tested, anchored, once, and engine-safe. */
        for (size_t i = 0; i < n_props; i++) {
                const Prop *pr = &props[i];
                size_t len = strlen(pr->regex), j;
                bool sampled = false;

                for (j = 0; j < HPVM_ARRAY_SIZE(samples); j++)
                        sampled |= strcmp(samples[j].prop, pr->name) == 0;
                if (pr->predefined)
                        continue;       /* only the ones the hooks read have samples */
                ck_assert_msg(sampled, "%s has no samples in test-regex.c", pr->name);
                ck_assert_msg(len >= 2 && pr->regex[0] == '^' && pr->regex[len - 1] == '$',
                              "%s: '%s' is not anchored", pr->name, pr->regex);
                ck_assert_msg(!strstr(pr->regex, "\\d") && !strstr(pr->regex, "(?"),
                              "%s: Java-only syntax", pr->name);
                for (j = 0; j < i; j++)
                        ck_assert_str_ne(props[j].name, pr->name);
        }
}
END_TEST

START_TEST(test_readme_split)
{
        /* The per-property lines for reading say the same as the one line. */
        size_t seen = 0;

        for (const char *p = section; (p = strstr(p, "\n    ")); p++) {
                const char *s = p + 5, *eol = strchr(s, '\n');
                const char *eq = strchr(s, '=');
                char name[64];
                const Prop *pr;

                if (!eol || !eq || eq > eol || eq[1] != '^' || (size_t)(eq - s) >= sizeof(name))
                        continue;
                memcpy(name, s, (size_t)(eq - s));
                name[eq - s] = '\0';
                if (strspn(name, "abcdefghijklmnopqrstuvwxyz_") != strlen(name))
                        continue;
                pr = find_prop(name);
                ck_assert_msg(pr != NULL, "%s is shown but not in the one line", name);
                ck_assert_msg(strlen(pr->regex) == (size_t)(eol - eq - 1) &&
                              strncmp(pr->regex, eq + 1, (size_t)(eol - eq - 1)) == 0,
                              "%s: the per-property line differs from the one line", name);
                seen++;
        }
        ck_assert_uint_eq(seen, n_readme);
}
END_TEST

/*
 * Agreement beyond the table: many short values built from the grammar's
 * own pieces. The expression may accept more than the hook only where the
 * hook's refusal is about meaning, and must never refuse what the hook accepts.
 */
static const struct {
        const char *prop;
        const char *const tokens[16];
} token_sets[] = {
        { "cputune", { "0", "1", "12", "4096", "-", "^", ",", "#", "x", " ", NULL } },
        { "iothreadpin", { "0", "1", "64", "65", "-", "^", ",", "#", NULL } },
        { "numatune", { "0", "1", "1024", "-", "^", ",", "#", "strict", "Strict", "interleave", NULL } },
        { "guestnuma", { "0", "1", "2", "-", "^", ",", "#", "G", "k", "X", NULL } },
        { "emulatorpin", { "0", "1", "12", "4096", "-", "^", ",", "#", NULL } },
        { "hugepages", { "0", "1", "2", "4", "8", "M", "-", NULL } },
        { "iothreads", { "0", "1", "4", "6", "9", "-", NULL } },
        { "invtsc", { "0", "1", "t", "rue", "Y", "es", "no", "N", NULL } },
        { "sriov_migratable", { "all", "ALL", "00:1a:4a:16:01:51", "02:00:00:00:00:0A", ",", ":", "0", "x", "aLl", NULL } },
        { DEV_PREFIX "sriov_migratable", { "0", "1", "t", "rue", "Y", "es", "no", "N", NULL } },
};

START_TEST(test_agreement)
{
        const char *name = token_sets[_i].prop;
        const char *const *tokens = token_sets[_i].tokens;
        const Prop *pr = find_prop(name);
        uint64_t state = UINT64_C(0x2545f4914f6cdd1d) + (uint64_t)_i;
        size_t n_tokens = 0;
        unsigned accepted = 0;

        ck_assert_ptr_nonnull(pr);
        while (tokens[n_tokens])
                n_tokens++;

        for (int round = 0; round < 20000; round++) {
                char value[128] = "";
                char msg[HPVM_ERR_MAX];
                size_t len = 0;
                unsigned n;
                bool re_ok;
                int r;

                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                n = 1 + (unsigned)(state % 8);
                for (unsigned k = 0; k < n; k++) {
                        const char *t = tokens[(state >> (8 + 4 * k)) % n_tokens];

                        len += (size_t)snprintf(value + len, sizeof(value) - len, "%s", t);
                }

                re_ok = regex_matches(pr, value);
                r = hook_parse(name, value, msg, sizeof(msg));
                if (r == 0) {
                        ck_assert_msg(re_ok, "%s='%s': the hook accepts, the regex refuses", name, value);
                        accepted++;
                } else if (re_ok) {
                        ck_assert_msg(is_semantic(r, msg), "%s='%s': the regex accepts bad syntax: %s",
                                      name, value, msg);
                }
        }
        /* The token mix must reach valid values too, or the check proves little. */
        ck_assert_uint_gt(accepted, 20);
}
END_TEST

static Suite *regex_suite(void)
{
        Suite *s = suite_create("regex");
        TCase *tc;

        tc = tcase_create("readme");
        /* Unchecked fixtures run in the test process even with CK_FORK=yes. */
        tcase_add_unchecked_fixture(tc, load_readme, free_readme);
        tcase_add_test(tc, test_readme_complete);
        tcase_add_test(tc, test_readme_split);
        tcase_add_loop_test(tc, test_sample, 0, (int)HPVM_ARRAY_SIZE(samples));
        tcase_set_timeout(tc, 60);
        tcase_add_loop_test(tc, test_agreement, 0, (int)HPVM_ARRAY_SIZE(token_sets));
        suite_add_tcase(s, tc);

        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(regex_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
