/* test-props.c: the custom property parsers, their error codes and their whole user-facing lines. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "props.h"

typedef enum Kind {
        CPUTUNE,
        IOTHREADPIN,          /* pin list, ids 1..64 */
        NUMATUNE,
        GUESTNUMA,
        EMULATORPIN,          /* lone cpuset */
        INVTSC,               /* boolean */
        HUGEPAGES,            /* page size */
        IOTHREADS,            /* count 1..64 */
        CPUPOLICY,
} Kind;

static const char *const kind_name[] = {
        [CPUTUNE] = "cputune",
        [IOTHREADPIN] = "iothreadpin",
        [NUMATUNE] = "numatune",
        [GUESTNUMA] = "guestnuma",
        [EMULATORPIN] = "emulatorpin",
        [INVTSC] = "invtsc",
        [HUGEPAGES] = "hugepages",
        [IOTHREADS] = "iothreads",
        [CPUPOLICY] = "cpupolicy",
};

/* Values too long or too repetitive to write in a table. */
typedef enum Gen {
        LITERAL,
        JUNK_100K,            /* 100 KB of every byte but NUL */
        CPUTUNE_4096,         /* valid, exactly HPVM_PROP_MAX bytes */
        CPUTUNE_4097,         /* the same plus one byte */
        CPUTUNE_MANY,         /* "0#0,1#1,2#2,..." up to the cap */
        IOTHREADS_65,         /* "1#0,...,64#0,1#0": one entry more than there are ids */
        GUESTNUMA_MANY,       /* "0#1,1#1,..." up to the cap */
} Gen;

static char *gen_value(Gen gen, const char *literal)
{
        size_t size = 128 * 1024, len = 0;
        char *s;

        if (gen == LITERAL)
                return strdup(literal);

        s = malloc(size);
        ck_assert_ptr_nonnull(s);
        switch (gen) {
        case JUNK_100K:
                for (len = 0; len < 100 * 1024; len++)
                        s[len] = (char)(1 + len % 255);
                s[len] = '\0';
                break;
        case CPUTUNE_4096:
        case CPUTUNE_4097:
                len = (size_t)snprintf(s, size, "0#00");
                while (len < HPVM_PROP_MAX)
                        len += (size_t)snprintf(s + len, size - len, ",0");
                if (gen == CPUTUNE_4097)
                        len += (size_t)snprintf(s + len, size - len, "0");
                break;
        case CPUTUNE_MANY:
        case GUESTNUMA_MANY:
                for (unsigned i = 0;; i++) {
                        char item[32];
                        int n = snprintf(item, sizeof(item), "%s%u#%u", i ? "," : "", i,
                                         gen == CPUTUNE_MANY ? i : 1);

                        if (len + (size_t)n > HPVM_PROP_MAX)
                                break;
                        memcpy(s + len, item, (size_t)n + 1);
                        len += (size_t)n;
                }
                break;
        case IOTHREADS_65:
                for (unsigned i = 1; i <= 64; i++)
                        len += (size_t)snprintf(s + len, size - len, "%s%u#0", i > 1 ? "," : "", i);
                len += (size_t)snprintf(s + len, size - len, ",1#0");
                break;
        case LITERAL:
                break;
        }
        return s;
}

/*
 * Run the parser for @kind. On success write a plain rendering of the result
 * into @out ("id:cpus id:cpus", "mode:nodes", "vcpus:kib ...", "cpus", "true").
 * On failure check that *ret was left alone.
 */
static int run(Kind kind, const char *value, char *out, size_t size, HpvmError *err)
{
        char buf[HPVM_CPUSET_STRMAX];
        size_t len = 0;
        int r = -1;

        out[0] = '\0';
        switch (kind) {
        case CPUTUNE:
        case IOTHREADPIN: {
                HpvmPin sentinel;
                HpvmPinList l = { .n = 77, .pins = &sentinel };

                r = kind == CPUTUNE ? hpvm_prop_cputune_parse(value, &l, err)
                                    : hpvm_prop_pinlist_parse("iothreadpin", value, 1, 64, "I/O thread", &l, err);
                if (r < 0) {
                        ck_assert_uint_eq(l.n, 77);
                        ck_assert_ptr_eq(l.pins, &sentinel);
                        break;
                }
                for (size_t i = 0; i < l.n && len < size; i++) {
                        ck_assert_int_ge(hpvm_cpuset_format(&l.pins[i].cpus, buf, sizeof(buf)), 1);
                        len += (size_t)snprintf(out + len, size - len, "%s%u:%s", i ? " " : "",
                                                l.pins[i].id, buf);
                }
                hpvm_pinlist_clear(&l);
                ck_assert_ptr_null(l.pins);
                ck_assert_uint_eq(l.n, 0);
                break;
        }
        case NUMATUNE: {
                HpvmNumaTune t, junk;

                memset(&t, 0x5a, sizeof(t));
                junk = t;
                r = hpvm_prop_numatune_parse(value, &t, err);
                if (r < 0) {
                        ck_assert(memcmp(&t, &junk, sizeof(t)) == 0);
                        break;
                }
                len = (size_t)snprintf(out, size, "%s:", hpvm_numa_mode_name(t.mode));
                ck_assert_int_ge(hpvm_cpuset_format(&t.nodes, out + len, size - len), 1);
                break;
        }
        case GUESTNUMA: {
                HpvmGuestCell sentinel;
                HpvmGuestNuma g = { .n = 77, .cells = &sentinel };

                r = hpvm_prop_guestnuma_parse(value, &g, err);
                if (r < 0) {
                        ck_assert_uint_eq(g.n, 77);
                        ck_assert_ptr_eq(g.cells, &sentinel);
                        break;
                }
                for (size_t i = 0; i < g.n && len < size; i++) {
                        ck_assert_int_ge(hpvm_cpuset_format(&g.cells[i].vcpus, buf, sizeof(buf)), 1);
                        len += (size_t)snprintf(out + len, size - len, "%s%s:%llu", i ? " " : "", buf,
                                                (unsigned long long)g.cells[i].mem_kib);
                }
                hpvm_guestnuma_clear(&g);
                ck_assert_ptr_null(g.cells);
                break;
        }
        case EMULATORPIN: {
                HpvmCpuSet s, junk;

                memset(&s, 0x5a, sizeof(s));
                junk = s;
                r = hpvm_prop_cpuset_parse("emulatorpin", value, &s, err);
                if (r < 0) {
                        ck_assert(hpvm_cpuset_equal(&s, &junk));
                        break;
                }
                ck_assert_int_ge(hpvm_cpuset_format(&s, out, size), 1);
                break;
        }
        case INVTSC: {
                bool b = true, b2 = false;

                /* Untouched on failure: try from both starting values. */
                r = hpvm_prop_bool_parse("invtsc", value, &b, err);
                ck_assert_int_eq(hpvm_prop_bool_parse("invtsc", value, &b2, NULL), r);
                if (r < 0) {
                        ck_assert(b && !b2);
                        break;
                }
                ck_assert(b == b2);
                snprintf(out, size, "%s", b ? "true" : "false");
                break;
        }
        case HUGEPAGES: {
                uint64_t kib = 77;

                r = hpvm_prop_pagesize_parse("hugepages", value, &kib, err);
                if (r < 0) {
                        ck_assert_uint_eq(kib, 77);
                        break;
                }
                snprintf(out, size, "%llu", (unsigned long long)kib);
                break;
        }
        case IOTHREADS: {
                unsigned n = 77;

                r = hpvm_prop_count_parse("iothreads", value, 1, HPVM_IOTHREADS_MAX, &n, err);
                if (r < 0) {
                        ck_assert_uint_eq(n, 77);
                        break;
                }
                snprintf(out, size, "%u", n);
                break;
        }
        case CPUPOLICY: {
                HpvmCpuPolicy p = (HpvmCpuPolicy)77;

                r = hpvm_prop_cpupolicy_parse(value, &p, err);
                if (r < 0) {
                        ck_assert_int_eq(p, 77);
                        break;
                }
                snprintf(out, size, "%s", hpvm_cpu_policy_name(p));
                break;
        }
        }
        return r;
}

#define X_CPUTUNE   " (expected <vcpu>#<cpuset>[,<vcpu>#<cpuset>...])"
#define X_PINLIST   " (expected <id>#<cpuset>[,<id>#<cpuset>...])"
#define X_NUMATUNE  " (expected [<mode>#]<nodeset>, <mode> one of strict|preferred|interleave|restrictive)"
#define X_GUESTNUMA " (expected <vcpus>#<memory>[,<vcpus>#<memory>...])"
#define X_CPUSET    " (expected <cpuset>, e.g. 0-7,^3,12)"
#define X_BOOL      " (expected true|false|yes|no|1|0)"
#define X_PAGE      " (expected the page size in KiB, as vdsm reads it: 2048 for 2 MiB pages, 1048576 for 1 GiB)"
#define X_COUNT     " (expected a whole number from 1 to 64)"
#define X_POLICY    " (expected dedicated|isolate|siblings)"

static const struct {
        Kind kind;
        Gen gen;
        const char *value;
        int ret;
        const char *want;     /* rendering on success; on failure the whole message, or NULL */
        const char *part;     /* on failure: text the message must contain, or NULL */
} cases[] = {
#define OK(k, v, w)          { k, LITERAL, v, 0, w, NULL }
#define BAD(k, v, r, m)      { k, LITERAL, v, r, m, NULL }
#define GEN(k, g, r, w, p)   { k, g, NULL, r, w, p }

        /* ------------------------------------------------ cputune */
        OK(CPUTUNE, "0#0-3,8,1#4-7", "0:0-3,8 1:4-7"),
        OK(CPUTUNE, "0#0", "0:0"),
        OK(CPUTUNE, "4095#4095", "4095:4095"),
        OK(CPUTUNE, "1#2,0#3", "1:2 0:3"),                     /* order as typed */
        OK(CPUTUNE, "0#0-7,^3,1#^0,1", "0:0-2,4-7 1:1"),
        OK(CPUTUNE, "00#1,01#2", "0:1 1:2"),
        OK(CPUTUNE, "0#0-4095", "0:0-4095"),
        OK(CPUTUNE, "2#1,1,1", "2:1"),
        BAD(CPUTUNE, "0#0-3,9x", -EINVAL,
            "cputune: '0#0-3,9x': '9x' is not a CPU number" X_CPUTUNE),
        BAD(CPUTUNE, "", -EINVAL, "cputune: '': empty value" X_CPUTUNE),
        BAD(CPUTUNE, "0-3", -EINVAL,
            "cputune: '0-3': '0-3' has no '#': the first item needs a vCPU number and '#'" X_CPUTUNE),
        BAD(CPUTUNE, "0,1#2", -EINVAL, NULL),
        BAD(CPUTUNE, "0#1#2", -EINVAL, "cputune: '0#1#2': '0#1#2' has more than one '#'" X_CPUTUNE),
        BAD(CPUTUNE, "0#1,2#3#4", -EINVAL, NULL),
        BAD(CPUTUNE, "0#1,0#2", -EINVAL, "cputune: '0#1,0#2': vCPU 0 is listed twice" X_CPUTUNE),
        BAD(CPUTUNE, "0#1,00#2", -EINVAL, NULL),
        BAD(CPUTUNE, "#1", -EINVAL, "cputune: '#1': '#1' has no vCPU number before '#'" X_CPUTUNE),
        BAD(CPUTUNE, "0#", -EINVAL, "cputune: '0#': '0#' has no CPU list after '#'" X_CPUTUNE),
        BAD(CPUTUNE, "0#,1", -EINVAL, NULL),
        BAD(CPUTUNE, "0#1,1#", -EINVAL, NULL),
        BAD(CPUTUNE, ",0#1", -EINVAL, "cputune: ',0#1': value starts with ','" X_CPUTUNE),
        BAD(CPUTUNE, "0#1,", -EINVAL, "cputune: '0#1,': value ends with ','" X_CPUTUNE),
        BAD(CPUTUNE, "0#1,,2", -EINVAL, "cputune: '0#1,,2': empty item after '0#1'" X_CPUTUNE),
        BAD(CPUTUNE, "0#1,,1#2", -EINVAL, NULL),
        BAD(CPUTUNE, ",", -EINVAL, NULL),
        BAD(CPUTUNE, "#", -EINVAL, NULL),
        BAD(CPUTUNE, "0#^1", -EINVAL, "cputune: '0#^1': '^1' selects no CPU" X_CPUTUNE),
        BAD(CPUTUNE, "0#^0-3", -EINVAL, NULL),
        BAD(CPUTUNE, "4096#1", -ERANGE, "cputune: '4096#1': vCPU 4096 is out of range (0-4095)" X_CPUTUNE),
        BAD(CPUTUNE, "0#4096", -ERANGE, "cputune: '0#4096': CPU 4096 is out of range (0-4095)" X_CPUTUNE),
        BAD(CPUTUNE, "0#10-1", -ERANGE, "cputune: '0#10-1': '10-1' ends before it starts" X_CPUTUNE),
        BAD(CPUTUNE, "99999999999999999999#1", -EOVERFLOW,
            "cputune: '99999999999999999999#1': '99999999999999999999' is too large to be a vCPU number" X_CPUTUNE),
        BAD(CPUTUNE, "18446744073709551616#1", -EOVERFLOW, NULL),
        BAD(CPUTUNE, "18446744073709551615#1", -ERANGE, NULL),
        BAD(CPUTUNE, "0#1-99999999999999999999", -EOVERFLOW, NULL),
        BAD(CPUTUNE, "-1#0", -EINVAL, "cputune: '-1#0': '-1' is not a vCPU number" X_CPUTUNE),
        BAD(CPUTUNE, "+1#0", -EINVAL, NULL),
        BAD(CPUTUNE, "0-1#2", -EINVAL, NULL),
        BAD(CPUTUNE, "^0#1", -EINVAL, NULL),
        BAD(CPUTUNE, "0 #1", -EINVAL, NULL),
        BAD(CPUTUNE, "0# 1", -EINVAL, "cputune: '0# 1': ' 1' is not a CPU number" X_CPUTUNE),
        BAD(CPUTUNE, " 0#1", -EINVAL, NULL),
        BAD(CPUTUNE, "0#1 ,1#2", -EINVAL, NULL),
        BAD(CPUTUNE, "0#-0", -EINVAL, NULL),
        BAD(CPUTUNE, "0#0-", -EINVAL, NULL),
        BAD(CPUTUNE, "0:1", -EINVAL, NULL),
        BAD(CPUTUNE, "0#1;1#2", -EINVAL, NULL),
        BAD(CPUTUNE, "0#1\n1#2", -EINVAL,
            "cputune: '0#1\\x0a1#2': '0#1\\x0a1#2' has more than one '#'" X_CPUTUNE),
        BAD(CPUTUNE, "0#1\n", -EINVAL,
            "cputune: '0#1\\x0a': '1\\x0a' is not a CPU number" X_CPUTUNE),
        BAD(CPUTUNE, "0#\x01\xff", -EINVAL,
            "cputune: '0#\\x01\\xff': '\\x01\\xff' is not a CPU number" X_CPUTUNE),
        BAD(CPUTUNE, "0#9x,1#zz", -EINVAL, NULL),                  /* the first error wins */
        GEN(CPUTUNE, JUNK_100K, -E2BIG, NULL, "value is 102400 bytes long, more than the 4096 allowed"),
        GEN(CPUTUNE, CPUTUNE_4096, 0, "0:0", NULL),
        GEN(CPUTUNE, CPUTUNE_4097, -E2BIG, NULL, "value is 4097 bytes long, more than the 4096 allowed"),
        GEN(CPUTUNE, CPUTUNE_MANY, 0, NULL, NULL),

        /* ------------------------------------------------ iothreadpin */
        OK(IOTHREADPIN, "1#0-3,2#4-7", "1:0-3 2:4-7"),
        OK(IOTHREADPIN, "64#0,1#1", "64:0 1:1"),
        BAD(IOTHREADPIN, "0#1", -ERANGE,
            "iothreadpin: '0#1': I/O thread 0 is out of range (1-64)" X_PINLIST),
        BAD(IOTHREADPIN, "65#1", -ERANGE, NULL),
        BAD(IOTHREADPIN, "x#1", -EINVAL, "iothreadpin: 'x#1': 'x' is not an I/O thread number" X_PINLIST),
        BAD(IOTHREADPIN, "1#1,1#2", -EINVAL, "iothreadpin: '1#1,1#2': I/O thread 1 is listed twice" X_PINLIST),
        BAD(IOTHREADPIN, "1#", -EINVAL, NULL),
        BAD(IOTHREADPIN, "1-2", -EINVAL, NULL),
        GEN(IOTHREADPIN, IOTHREADS_65, -EINVAL, NULL, ": I/O thread 1 is listed twice (expected"),
        GEN(IOTHREADPIN, JUNK_100K, -E2BIG, NULL, "value is 102400 bytes long"),

        /* ------------------------------------------------ numatune */
        OK(NUMATUNE, "0", "strict:0"),
        OK(NUMATUNE, "0-1", "strict:0-1"),
        OK(NUMATUNE, "1023", "strict:1023"),
        OK(NUMATUNE, "strict#0", "strict:0"),
        OK(NUMATUNE, "preferred#1", "preferred:1"),
        OK(NUMATUNE, "interleave#0-3,^2", "interleave:0-1,3"),
        OK(NUMATUNE, "restrictive#0,2", "restrictive:0,2"),
        BAD(NUMATUNE, "Strict#0", -EINVAL,
            "numatune: 'Strict#0': 'Strict' is not a mode" X_NUMATUNE),
        BAD(NUMATUNE, "STRICT#0", -EINVAL, NULL),
        BAD(NUMATUNE, "bogus#0", -EINVAL, NULL),
        BAD(NUMATUNE, "stric#0", -EINVAL, NULL),
        BAD(NUMATUNE, "strictt#0", -EINVAL, NULL),
        BAD(NUMATUNE, "strict #0", -EINVAL, NULL),
        BAD(NUMATUNE, "strict", -EINVAL, "numatune: 'strict': 'strict' is not a NUMA node number" X_NUMATUNE),
        BAD(NUMATUNE, "#0", -EINVAL, "numatune: '#0': no mode before '#'" X_NUMATUNE),
        BAD(NUMATUNE, "strict#", -EINVAL, "numatune: 'strict#': no NUMA node list after '#'" X_NUMATUNE),
        BAD(NUMATUNE, "strict#0#1", -EINVAL, "numatune: 'strict#0#1': more than one '#'" X_NUMATUNE),
        BAD(NUMATUNE, "1024", -ERANGE,
            "numatune: '1024': NUMA node 1024 is out of range (0-1023)" X_NUMATUNE),
        BAD(NUMATUNE, "interleave#0-4095", -ERANGE, NULL),
        BAD(NUMATUNE, "strict#^0", -EINVAL, "numatune: 'strict#^0': '^0' selects no NUMA node" X_NUMATUNE),
        BAD(NUMATUNE, "strict#0,", -EINVAL, NULL),
        BAD(NUMATUNE, "99999999999999999999", -EOVERFLOW, NULL),
        BAD(NUMATUNE, "", -EINVAL, "numatune: '': empty value" X_NUMATUNE),
        GEN(NUMATUNE, JUNK_100K, -E2BIG, NULL, "value is 102400 bytes long"),

        /* ------------------------------------------------ guestnuma */
        OK(GUESTNUMA, "0-1,4-5#2G,2-3,6-7#2G", "0-1,4-5:2097152 2-3,6-7:2097152"),
        OK(GUESTNUMA, "0#1", "0:1"),
        OK(GUESTNUMA, "0-3#1G", "0-3:1048576"),
        OK(GUESTNUMA, "0#1k,1#1K,2#1m,3#1M,4#1g,5#1t", "0:1 1:1 2:1024 3:1024 4:1048576 5:1073741824"),
        OK(GUESTNUMA, "0,1#512M,2,3#512M", "0-1:524288 2-3:524288"),
        OK(GUESTNUMA, "0-3,^1#1G", "0,2-3:1048576"),
        OK(GUESTNUMA, "0#4096T", "0:4398046511104"),                /* the cap itself */
        OK(GUESTNUMA, "0#4398046511104", "0:4398046511104"),
        OK(GUESTNUMA, "0-1#1G,0-1#1G", "0-1:1048576 0-1:1048576"),  /* overlap: checked elsewhere */
        BAD(GUESTNUMA, "0-1#2G,2-3", -EINVAL,
            "guestnuma: '0-1#2G,2-3': cell 1 has no memory: '2-3' is not followed by #<memory>" X_GUESTNUMA),
        BAD(GUESTNUMA, "0-3", -EINVAL, NULL),
        BAD(GUESTNUMA, "0,1", -EINVAL,
            "guestnuma: '0,1': cell 0 has no memory: '0,1' is not followed by #<memory>" X_GUESTNUMA),
        BAD(GUESTNUMA, "#1G", -EINVAL, "guestnuma: '#1G': cell 0 has no vCPU list before '#'" X_GUESTNUMA),
        BAD(GUESTNUMA, "0#1G,#1G", -EINVAL, NULL),
        BAD(GUESTNUMA, "0#", -EINVAL, "guestnuma: '0#': cell 0 has no memory after '#'" X_GUESTNUMA),
        BAD(GUESTNUMA, "0#0", -ERANGE, "guestnuma: '0#0': cell 0 has no memory ('0')" X_GUESTNUMA),
        BAD(GUESTNUMA, "0#0G", -ERANGE, NULL),
        BAD(GUESTNUMA, "0#4097T", -ERANGE,
            "guestnuma: '0#4097T': cell 0: 4.0 PiB is more than the 4 PiB limit" X_GUESTNUMA),
        BAD(GUESTNUMA, "0#8388608G", -ERANGE, NULL),
        BAD(GUESTNUMA, "0#99999999999999999999", -EOVERFLOW,
            "guestnuma: '0#99999999999999999999': '99999999999999999999' is too large a memory size" X_GUESTNUMA),
        BAD(GUESTNUMA, "0#17179869184T", -EOVERFLOW, NULL),
        BAD(GUESTNUMA, "0#2X", -EINVAL,
            "guestnuma: '0#2X': '2X' is not a memory size (KiB, or a number with K, M, G or T)" X_GUESTNUMA),
        BAD(GUESTNUMA, "0#1.5G", -EINVAL, NULL),
        BAD(GUESTNUMA, "0#1GB", -EINVAL, NULL),
        BAD(GUESTNUMA, "0#1P", -EINVAL, NULL),
        BAD(GUESTNUMA, "0#-1", -EINVAL, NULL),
        BAD(GUESTNUMA, "0# 1G", -EINVAL, NULL),
        BAD(GUESTNUMA, "0#1#2", -EINVAL, "guestnuma: '0#1#2': '0#1#2' has more than one '#'" X_GUESTNUMA),
        BAD(GUESTNUMA, "4096#1G", -ERANGE, "guestnuma: '4096#1G': vCPU 4096 is out of range (0-4095)" X_GUESTNUMA),
        BAD(GUESTNUMA, "^0#1G", -EINVAL, "guestnuma: '^0#1G': '^0' selects no vCPU" X_GUESTNUMA),
        BAD(GUESTNUMA, "0#1G,", -EINVAL, NULL),
        BAD(GUESTNUMA, ",0#1G", -EINVAL, NULL),
        BAD(GUESTNUMA, "0#1G,,1#1G", -EINVAL, "guestnuma: '0#1G,,1#1G': empty item after '0#1G'" X_GUESTNUMA),
        BAD(GUESTNUMA, "0,,1#1G", -EINVAL, NULL),
        BAD(GUESTNUMA, "3-1#1G", -ERANGE, NULL),
        BAD(GUESTNUMA, "", -EINVAL, NULL),
        GEN(GUESTNUMA, JUNK_100K, -E2BIG, NULL, "value is 102400 bytes long"),
        GEN(GUESTNUMA, GUESTNUMA_MANY, 0, NULL, NULL),

        /* ------------------------------------------------ emulatorpin (lone cpuset) */
        OK(EMULATORPIN, "0-3", "0-3"),
        OK(EMULATORPIN, "0-7,^3,12", "0-2,4-7,12"),
        BAD(EMULATORPIN, "^0", -EINVAL, "emulatorpin: '^0': '^0' selects no CPU" X_CPUSET),
        BAD(EMULATORPIN, "0-4096", -ERANGE, "emulatorpin: '0-4096': CPU 4096 is out of range (0-4095)" X_CPUSET),
        BAD(EMULATORPIN, "0,,1", -EINVAL, "emulatorpin: '0,,1': empty item after '0'" X_CPUSET),
        BAD(EMULATORPIN, "0#1", -EINVAL, NULL),
        BAD(EMULATORPIN, "", -EINVAL, NULL),
        GEN(EMULATORPIN, JUNK_100K, -E2BIG, NULL, "value is 102400 bytes long"),

        /* ------------------------------------------------ invtsc (boolean) */
        OK(INVTSC, "true", "true"), OK(INVTSC, "TRUE", "true"), OK(INVTSC, "Yes", "true"),
        OK(INVTSC, "1", "true"), OK(INVTSC, "false", "false"), OK(INVTSC, "No", "false"),
        OK(INVTSC, "0", "false"), OK(INVTSC, "FaLsE", "false"),
        BAD(INVTSC, "maybe", -EINVAL, "invtsc: 'maybe': not a boolean" X_BOOL),
        BAD(INVTSC, "", -EINVAL, "invtsc: '': empty value" X_BOOL),
        BAD(INVTSC, "on", -EINVAL, NULL), BAD(INVTSC, "2", -EINVAL, NULL),
        BAD(INVTSC, " true", -EINVAL, NULL), BAD(INVTSC, "true\n", -EINVAL, NULL),
        GEN(INVTSC, JUNK_100K, -E2BIG, NULL, "value is 102400 bytes long"),

        /* ------------------------------------------------ hugepages (page size) */
        /* vdsm's own predefined property: int(value) KiB, so no units (vdsm would fail the start on "2M"). */
        OK(HUGEPAGES, "2048", "2048"), OK(HUGEPAGES, "1048576", "1048576"), OK(HUGEPAGES, "4", "4"),
        OK(HUGEPAGES, "64", "64"), OK(HUGEPAGES, "16777216", "16777216"), OK(HUGEPAGES, "002048", "2048"),
        BAD(HUGEPAGES, "2M", -EINVAL, "hugepages: '2M': not a number of KiB" X_PAGE),
        BAD(HUGEPAGES, "1G", -EINVAL, "hugepages: '1G': not a number of KiB" X_PAGE),
        BAD(HUGEPAGES, "64K", -EINVAL, NULL), BAD(HUGEPAGES, "2m", -EINVAL, NULL),
        BAD(HUGEPAGES, "3000", -ERANGE, "hugepages: '3000': 3000 KiB is not a power of two of at least 4 KiB" X_PAGE),
        BAD(HUGEPAGES, "2", -ERANGE, "hugepages: '2': 2 KiB is not a power of two of at least 4 KiB" X_PAGE),
        BAD(HUGEPAGES, "0", -ERANGE, "hugepages: '0': not a page size from 4 KiB to 16 GiB" X_PAGE),
        BAD(HUGEPAGES, "33554432", -ERANGE, "hugepages: '33554432': not a page size from 4 KiB to 16 GiB" X_PAGE),
        BAD(HUGEPAGES, "2MB", -EINVAL, "hugepages: '2MB': not a number of KiB" X_PAGE),
        BAD(HUGEPAGES, "-2048", -EINVAL, NULL), BAD(HUGEPAGES, "2 048", -EINVAL, NULL),
        BAD(HUGEPAGES, "", -EINVAL, "hugepages: '': empty value" X_PAGE),
        BAD(HUGEPAGES, "99999999999999999999", -EOVERFLOW, NULL),
        GEN(HUGEPAGES, JUNK_100K, -E2BIG, NULL, "value is 102400 bytes long"),

        /* ------------------------------------------------ iothreads (count) */
        OK(IOTHREADS, "1", "1"), OK(IOTHREADS, "64", "64"), OK(IOTHREADS, "008", "8"),
        BAD(IOTHREADS, "0", -ERANGE, "iothreads: '0': out of range" X_COUNT),
        BAD(IOTHREADS, "65", -ERANGE, "iothreads: '65': out of range" X_COUNT),
        BAD(IOTHREADS, "-1", -EINVAL, "iothreads: '-1': not a number" X_COUNT),
        BAD(IOTHREADS, "99999999999999999999", -EOVERFLOW, NULL),
        BAD(IOTHREADS, "", -EINVAL, NULL), BAD(IOTHREADS, "4 ", -EINVAL, NULL),

        /* ------------------------------------------------ cpupolicy */
        OK(CPUPOLICY, "dedicated", "dedicated"), OK(CPUPOLICY, "isolate", "isolate"),
        OK(CPUPOLICY, "siblings", "siblings"), OK(CPUPOLICY, "Isolate", "isolate"),
        OK(CPUPOLICY, "SIBLINGS", "siblings"), OK(CPUPOLICY, "DeDiCaTeD", "dedicated"),
        BAD(CPUPOLICY, "isolated", -EINVAL, "cpupolicy: 'isolated': not a CPU policy" X_POLICY),
        BAD(CPUPOLICY, "", -EINVAL, "cpupolicy: '': empty value" X_POLICY),
        BAD(CPUPOLICY, "isolate-threads", -EINVAL, NULL), BAD(CPUPOLICY, "dedicate", -EINVAL, NULL),
        BAD(CPUPOLICY, " isolate", -EINVAL, NULL), BAD(CPUPOLICY, "isolate\n", -EINVAL, NULL),
        BAD(CPUPOLICY, "siblings,isolate", -EINVAL, NULL), BAD(CPUPOLICY, "0", -EINVAL, NULL),
        BAD(CPUPOLICY, "isolate\xff", -EINVAL, "cpupolicy: 'isolate\\xff': not a CPU policy" X_POLICY),
        GEN(CPUPOLICY, JUNK_100K, -E2BIG, NULL, "value is 102400 bytes long"),
#undef OK
#undef BAD
#undef GEN
};

START_TEST(test_prop)
{
        char *value = gen_value(cases[_i].gen, cases[_i].value);
        const char *name = kind_name[cases[_i].kind];
        char out[HPVM_CPUSET_STRMAX];
        HpvmError err = { 0 };
        size_t mlen;
        int r;

        r = run(cases[_i].kind, value, out, sizeof(out), &err);
        ck_assert_msg(r == cases[_i].ret, "%s='%.60s': got %d (%s), want %d",
                      name, value, r, err.msg, cases[_i].ret);

        if (r == 0) {
                ck_assert_int_eq(err.code, 0);
                if (cases[_i].want)
                        ck_assert_str_eq(out, cases[_i].want);
                free(value);
                return;
        }

        /* Every failure: one bounded line, "<name>: '<value>': ... (expected ...)". */
        ck_assert_int_eq(err.code, r);
        mlen = strlen(err.msg);
        ck_assert_uint_lt(mlen, HPVM_ERR_MAX);
        for (size_t i = 0; i < mlen; i++)
                ck_assert((unsigned char)err.msg[i] >= 0x20 && err.msg[i] != 0x7f);
        ck_assert(strncmp(err.msg, name, strlen(name)) == 0);
        ck_assert(strncmp(err.msg + strlen(name), ": '", 3) == 0);
        ck_assert_msg(strstr(err.msg, " (expected ") != NULL, "%s", err.msg);
        ck_assert_int_eq(err.msg[mlen - 1], ')');
        if (cases[_i].want)
                ck_assert_str_eq(err.msg, cases[_i].want);
        if (cases[_i].part)
                ck_assert_msg(strstr(err.msg, cases[_i].part) != NULL, "'%s' lacks '%s'",
                              err.msg, cases[_i].part);
        free(value);
}
END_TEST

START_TEST(test_many)
{
        /* Values at the cap with as many entries as fit: every entry comes back. */
        char *value = gen_value(CPUTUNE_MANY, NULL);
        HpvmError err = { 0 };
        HpvmPinList l = { 0 };
        HpvmGuestNuma g = { 0 };

        ck_assert_int_eq(hpvm_prop_cputune_parse(value, &l, &err), 0);
        ck_assert_uint_gt(l.n, 500);
        for (size_t i = 0; i < l.n; i++) {
                ck_assert_uint_eq(l.pins[i].id, i);
                ck_assert_uint_eq(hpvm_cpuset_count(&l.pins[i].cpus), 1);
                ck_assert(hpvm_cpuset_test(&l.pins[i].cpus, (unsigned)i));
        }
        hpvm_pinlist_clear(&l);
        hpvm_pinlist_clear(&l);               /* twice is fine */
        hpvm_pinlist_clear(NULL);
        free(value);

        value = gen_value(GUESTNUMA_MANY, NULL);
        ck_assert_int_eq(hpvm_prop_guestnuma_parse(value, &g, &err), 0);
        ck_assert_uint_gt(g.n, 500);
        for (size_t i = 0; i < g.n; i++) {
                ck_assert_uint_eq(g.cells[i].mem_kib, 1);
                ck_assert(hpvm_cpuset_test(&g.cells[i].vcpus, (unsigned)i));
        }
        hpvm_guestnuma_clear(&g);
        hpvm_guestnuma_clear(NULL);
        free(value);
}
END_TEST

START_TEST(test_pinlist_args)
{
        HpvmError err = { 0 };
        HpvmPinList l = { 0 };

        /* Id ranges the parser cannot track are refused, not misread. */
        ck_assert_int_eq(hpvm_prop_pinlist_parse("p", "1#1", 5, 4, "id", &l, &err), -EINVAL);
        ck_assert_int_eq(hpvm_prop_pinlist_parse("p", "1#1", 0, HPVM_CPUSET_MAX, "id", &l, &err), -EINVAL);
        ck_assert_ptr_null(l.pins);

        /* Defaults for a missing name and noun; NULL error buffer. */
        ck_assert_int_eq(hpvm_prop_pinlist_parse(NULL, "x#1", 0, 3, NULL, &l, &err), -EINVAL);
        ck_assert_str_eq(err.msg, "property: 'x#1': 'x' is not an id number"
                         " (expected <id>#<cpuset>[,<id>#<cpuset>...])");
        ck_assert_int_eq(hpvm_prop_cputune_parse("x", &l, NULL), -EINVAL);
        ck_assert_int_eq(hpvm_prop_cputune_parse(NULL, &l, &err), -EINVAL);
        ck_assert_str_eq(err.msg, "cputune: '': empty value" X_CPUTUNE);

        ck_assert_int_eq(hpvm_prop_pinlist_parse("p", "3#1", 0, 3, "id", &l, &err), 0);
        ck_assert_uint_eq(l.n, 1);
        hpvm_pinlist_clear(&l);
}
END_TEST

START_TEST(test_mode_names)
{
        ck_assert_str_eq(hpvm_numa_mode_name(HPVM_NUMA_STRICT), "strict");
        ck_assert_str_eq(hpvm_numa_mode_name(HPVM_NUMA_PREFERRED), "preferred");
        ck_assert_str_eq(hpvm_numa_mode_name(HPVM_NUMA_INTERLEAVE), "interleave");
        ck_assert_str_eq(hpvm_numa_mode_name(HPVM_NUMA_RESTRICTIVE), "restrictive");
        ck_assert_ptr_null(hpvm_numa_mode_name((HpvmNumaMode)4));
        ck_assert_ptr_null(hpvm_numa_mode_name((HpvmNumaMode)-1));
        ck_assert_str_eq(hpvm_cpu_policy_name(HPVM_POLICY_DEDICATED), "dedicated");
        ck_assert_str_eq(hpvm_cpu_policy_name(HPVM_POLICY_ISOLATE), "isolate");
        ck_assert_str_eq(hpvm_cpu_policy_name(HPVM_POLICY_SIBLINGS), "siblings");
        ck_assert_ptr_null(hpvm_cpu_policy_name((HpvmCpuPolicy)3));
}
END_TEST

/* ---------------------------------------------------------------- cost */

static double cpu_seconds(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A value of about @len bytes of the heaviest shape for @kind. */
static char *heavy(Kind kind, size_t len)
{
        char *s = malloc(len + 64);
        size_t n = 0;

        ck_assert_ptr_nonnull(s);
        for (unsigned i = 0; n < len; i++) {
                switch (kind) {
                case CPUTUNE:     /* many entries, each a full range */
                        n += (size_t)sprintf(s + n, "%s%u#0-4095", i ? "," : "", i);
                        break;
                case GUESTNUMA:   /* one cell with a long vCPU list */
                        n += (size_t)sprintf(s + n, "%s%u", i ? "," : "", i % 4096);
                        break;
                default:          /* a long cpuset */
                        n += (size_t)sprintf(s + n, "%s0-4095,^%u", i ? "," : "", i % 4096);
                        break;
                }
        }
        if (kind == GUESTNUMA)
                n += (size_t)sprintf(s + n, "#1G");
        s[n] = '\0';
        return s;
}

static double cost(Kind kind, size_t len)
{
        char *v = heavy(kind, len);
        char out[HPVM_CPUSET_STRMAX];
        HpvmError err = { 0 };
        double t0 = cpu_seconds();

        for (int i = 0; i < 50; i++)
                ck_assert_msg(run(kind, v, out, sizeof(out), &err) == 0, "%s", err.msg);
        free(v);
        return cpu_seconds() - t0;
}

static const Kind cost_kinds[] = { CPUTUNE, GUESTNUMA, EMULATORPIN };

START_TEST(test_linear)
{
        /* Four times the input may cost about four times the work, never sixteen. */
        Kind kind = cost_kinds[_i];
        double small = cost(kind, 1000), big = cost(kind, 4000);

        ck_assert_msg(big < 10 * small + 0.005, "%s: %.6fs for 1000 bytes, %.6fs for 4000",
                      kind_name[kind], small, big);
}
END_TEST

static Suite *props_suite(void)
{
        Suite *s = suite_create("props");
        TCase *tc;

        tc = tcase_create("values");
        tcase_add_loop_test(tc, test_prop, 0, (int)HPVM_ARRAY_SIZE(cases));
        tcase_add_test(tc, test_many);
        tcase_add_test(tc, test_pinlist_args);
        tcase_add_test(tc, test_mode_names);
        suite_add_tcase(s, tc);

        tc = tcase_create("cost");
        tcase_set_timeout(tc, 60);
        tcase_add_loop_test(tc, test_linear, 0, (int)HPVM_ARRAY_SIZE(cost_kinds));
        suite_add_tcase(s, tc);

        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(props_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
