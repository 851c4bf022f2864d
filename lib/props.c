/* props.c: parsers for the custom VM properties administrators type in the management UI. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "props.h"

#define GRAMMAR_CPUTUNE   "<vcpu>#<cpuset>[,<vcpu>#<cpuset>...]"
#define GRAMMAR_PINLIST   "<id>#<cpuset>[,<id>#<cpuset>...]"
#define GRAMMAR_NUMATUNE  "[<mode>#]<nodeset>, <mode> one of strict|preferred|interleave|restrictive"
#define GRAMMAR_GUESTNUMA "<vcpus>#<memory>[,<vcpus>#<memory>...]"
#define GRAMMAR_CPUSET    "<cpuset>, e.g. 0-7,^3,12"
#define GRAMMAR_BOOL      "true|false|yes|no|1|0"
#define GRAMMAR_CPUPOLICY "dedicated|isolate|siblings"
#define GRAMMAR_PAGESIZE  "the page size in KiB, as vdsm reads it: 2048 for 2 MiB pages, 1048576 for 1 GiB"

/* What every message about one property value needs. */
typedef struct Prop {
        const char *name;
        const char *value;
        size_t len;
        const char *grammar;
        HpvmError *err;
} Prop;

/* Fill the whole user-facing line: "<name>: '<value>': <detail> (expected <grammar>)". */
static int prop_fail(const Prop *p, int code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static int prop_fail(const Prop *p, int code, const char *fmt, ...)
{
        char detail[HPVM_ERR_MAX], q[HPVM_QUOTE_MAX];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(detail, sizeof(detail), fmt, ap);
        va_end(ap);

        hpvm_quote(p->value, p->len, q, sizeof(q));
        return hpvm_error_set(p->err, code, "%s: '%s': %s (expected %s)",
                              p->name, q, detail, p->grammar);
}

/* Length cap before anything looks at the bytes, then the empty check. */
static int prop_begin(Prop *p, const char *name, const char *value, const char *grammar,
                      HpvmError *err)
{
        p->name = name && name[0] ? name : "property";
        p->value = value ? value : "";
        /* The whole length, not a capped one: the message tells the user how long it was. */
        p->len = strlen(p->value);
        p->grammar = grammar;
        p->err = err;

        if (p->len > HPVM_PROP_MAX)
                return prop_fail(p, -E2BIG, "value is %zu bytes long, more than the %d allowed",
                                 p->len, HPVM_PROP_MAX);
        if (p->len == 0)
                return prop_fail(p, -EINVAL, "empty value");
        return 0;
}

static size_t count_byte(const char *s, size_t len, char c)
{
        size_t n = 0;
        const char *end = s + len;

        while ((s = memchr(s, c, (size_t)(end - s)))) {
                n++;
                s++;
        }
        return n;
}

/*
 * Comma-separated pieces of a value, with the empty-piece checks every list
 * property shares. Pieces are never copied: each is a slice of the value.
 */
typedef struct Pieces {
        const char *p;        /* current piece */
        size_t len;
        const char *next;     /* after the comma, or NULL at the last piece */
        const char *prev;     /* piece before, for messages */
        size_t prev_len;
} Pieces;

static void pieces_first(const Prop *prop, Pieces *it)
{
        memset(it, 0, sizeof(*it));
        it->next = prop->value;
}

/* Advance to the next piece. Returns 1 with a piece, 0 at the end, <0 on an empty piece. */
static int pieces_next(const Prop *prop, Pieces *it)
{
        const char *end = prop->value + prop->len;
        const char *comma;
        char q[HPVM_QUOTE_MAX];

        if (!it->next)
                return 0;
        if (it->p) {
                it->prev = it->p;
                it->prev_len = it->len;
        }

        it->p = it->next;
        comma = memchr(it->p, ',', (size_t)(end - it->p));
        it->len = (size_t)((comma ? comma : end) - it->p);
        it->next = comma ? comma + 1 : NULL;

        if (it->len == 0) {
                if (!it->prev)
                        return prop_fail(prop, -EINVAL, "value starts with ','");
                if (!comma)
                        return prop_fail(prop, -EINVAL, "value ends with ','");
                hpvm_quote(it->prev, it->prev_len, q, sizeof(q));
                return prop_fail(prop, -EINVAL, "empty item after '%s'", q);
        }
        return 1;
}

static const char *article(const char *noun)
{
        return noun[0] && strchr("aeiouAEIOU", noun[0]) ? "an" : "a";
}

/* ---------------------------------------------------------------- pin lists */

/* Parse the cpuset of one pin; @s..@end may span several pieces. */
static int pin_finish(const Prop *prop, HpvmPin *pin, const char *s, const char *end)
{
        HpvmError sub = { 0 };
        int r;

        r = hpvm_cpuset_parse(s, (size_t)(end - s), HPVM_CPUSET_MAX, "CPU", &pin->cpus, &sub);
        if (r < 0)
                return prop_fail(prop, r, "%s", sub.msg);
        return 0;
}

static int pin_id(const Prop *prop, const char *piece, size_t plen, const char *hash,
                  unsigned first_id, unsigned max_id, const char *noun, HpvmCpuSet *seen,
                  unsigned *ret)
{
        char q[HPVM_QUOTE_MAX];
        size_t ilen = (size_t)(hash - piece);
        uint64_t v;
        int r;

        if (ilen == 0) {
                hpvm_quote(piece, plen, q, sizeof(q));
                return prop_fail(prop, -EINVAL, "'%s' has no %s number before '#'", q, noun);
        }

        r = hpvm_parse_u64(piece, ilen, UINT64_MAX, &v);
        hpvm_quote(piece, ilen, q, sizeof(q));
        if (r == -EOVERFLOW)
                return prop_fail(prop, r, "'%s' is too large to be %s %s number",
                                 q, article(noun), noun);
        if (r < 0)
                return prop_fail(prop, r, "'%s' is not %s %s number", q, article(noun), noun);
        if (v < first_id || v > max_id)
                return prop_fail(prop, -ERANGE, "%s %llu is out of range (%u-%u)",
                                 noun, (unsigned long long)v, first_id, max_id);
        if (hpvm_cpuset_test(seen, (unsigned)v))
                return prop_fail(prop, -EINVAL, "%s %llu is listed twice",
                                 noun, (unsigned long long)v);

        hpvm_cpuset_set(seen, (unsigned)v);
        *ret = (unsigned)v;
        return 0;
}

static int pinlist_parse(const Prop *prop, unsigned first_id, unsigned max_id,
                         const char *noun, HpvmPinList *ret)
{
        _cleanup_free_ HpvmPin *pins = NULL;
        char q[HPVM_QUOTE_MAX];
        HpvmCpuSet seen;
        HpvmPin *cur = NULL;
        const char *cpus = NULL, *cpus_end = NULL;
        size_t n = 0, cap;
        unsigned id = 0;
        Pieces it;
        int r;

        /*
         * Every entry has its own '#', and at most one entry per id can
         * succeed: that bounds the array before the loop.
         */
        cap = count_byte(prop->value, prop->len, '#');
        if (cap > (size_t)max_id - first_id + 1)
                cap = (size_t)max_id - first_id + 1;
        pins = calloc(cap ? cap : 1, sizeof(*pins));
        if (!pins)
                return hpvm_error_set(prop->err, -ENOMEM, "%s: out of memory", prop->name);

        hpvm_cpuset_zero(&seen);
        pieces_first(prop, &it);
        while ((r = pieces_next(prop, &it)) > 0) {
                const char *pend = it.p + it.len;
                const char *hash = memchr(it.p, '#', it.len);

                if (!hash) {
                        /* A piece without '#' continues the cpuset of the entry before. */
                        if (!cur) {
                                hpvm_quote(it.p, it.len, q, sizeof(q));
                                return prop_fail(prop, -EINVAL,
                                                 "'%s' has no '#': the first item needs %s %s number and '#'",
                                                 q, article(noun), noun);
                        }
                        cpus_end = pend;
                        continue;
                }

                /* Left to right: the entry before is judged before this one. */
                if (cur) {
                        r = pin_finish(prop, cur, cpus, cpus_end);
                        if (r < 0)
                                return r;
                }

                if (memchr(hash + 1, '#', (size_t)(pend - hash - 1))) {
                        hpvm_quote(it.p, it.len, q, sizeof(q));
                        return prop_fail(prop, -EINVAL, "'%s' has more than one '#'", q);
                }
                r = pin_id(prop, it.p, it.len, hash, first_id, max_id, noun, &seen, &id);
                if (r < 0)
                        return r;
                /* Ids are unique and in range, so there are never more entries than cap. */
                if (n >= cap)
                        return hpvm_error_set(prop->err, -EINVAL, "%s: internal error: too many entries",
                                              prop->name);
                cur = &pins[n++];
                cur->id = id;

                if (hash + 1 == pend) {
                        hpvm_quote(it.p, it.len, q, sizeof(q));
                        return prop_fail(prop, -EINVAL, "'%s' has no CPU list after '#'", q);
                }
                cpus = hash + 1;
                cpus_end = pend;
        }
        if (r < 0)
                return r;

        /* Pieces are never empty and the first one has '#': there is an entry. */
        r = pin_finish(prop, cur, cpus, cpus_end);
        if (r < 0)
                return r;

        ret->n = n;
        ret->pins = pins;
        pins = NULL;
        return 0;
}

int hpvm_prop_pinlist_parse(const char *name, const char *value, unsigned first_id,
                            unsigned max_id, const char *id_noun, HpvmPinList *ret,
                            HpvmError *err)
{
        Prop prop;
        int r;

        if (!id_noun || !id_noun[0])
                id_noun = "id";
        if (first_id > max_id || max_id >= HPVM_CPUSET_MAX)
                return hpvm_error_set(err, -EINVAL, "%s: %s ids %u-%u are not supported",
                                      name ? name : "property", id_noun, first_id, max_id);

        r = prop_begin(&prop, name, value, GRAMMAR_PINLIST, err);
        if (r < 0)
                return r;
        return pinlist_parse(&prop, first_id, max_id, id_noun, ret);
}

int hpvm_prop_cputune_parse(const char *value, HpvmPinList *ret, HpvmError *err)
{
        Prop prop;
        int r;

        r = prop_begin(&prop, "cputune", value, GRAMMAR_CPUTUNE, err);
        if (r < 0)
                return r;
        return pinlist_parse(&prop, 0, HPVM_VCPU_MAX - 1, "vCPU", ret);
}

void hpvm_pinlist_clear(HpvmPinList *l)
{
        if (!l)
                return;
        free(l->pins);
        l->pins = NULL;
        l->n = 0;
}

/* ---------------------------------------------------------------- numatune */

static const char *const numa_modes[] = {
        [HPVM_NUMA_STRICT] = "strict",
        [HPVM_NUMA_PREFERRED] = "preferred",
        [HPVM_NUMA_INTERLEAVE] = "interleave",
        [HPVM_NUMA_RESTRICTIVE] = "restrictive",
};

const char *hpvm_numa_mode_name(HpvmNumaMode m)
{
        if ((unsigned)m >= HPVM_ARRAY_SIZE(numa_modes))
                return NULL;
        return numa_modes[m];
}

int hpvm_prop_numatune_parse(const char *value, HpvmNumaTune *ret, HpvmError *err)
{
        char q[HPVM_QUOTE_MAX];
        HpvmError sub = { 0 };
        HpvmNumaTune nt = { .mode = HPVM_NUMA_STRICT };
        const char *nodes, *hash, *end;
        Prop prop;
        int r;

        r = prop_begin(&prop, "numatune", value, GRAMMAR_NUMATUNE, err);
        if (r < 0)
                return r;

        end = prop.value + prop.len;
        nodes = prop.value;
        hash = memchr(prop.value, '#', prop.len);
        if (hash) {
                size_t mlen = (size_t)(hash - prop.value);
                size_t i;

                if (mlen == 0)
                        return prop_fail(&prop, -EINVAL, "no mode before '#'");
                for (i = 0; i < HPVM_ARRAY_SIZE(numa_modes); i++)
                        if (strlen(numa_modes[i]) == mlen &&
                            memcmp(numa_modes[i], prop.value, mlen) == 0)
                                break;
                if (i == HPVM_ARRAY_SIZE(numa_modes)) {
                        hpvm_quote(prop.value, mlen, q, sizeof(q));
                        return prop_fail(&prop, -EINVAL, "'%s' is not a mode", q);
                }
                nt.mode = (HpvmNumaMode)i;

                nodes = hash + 1;
                if (memchr(nodes, '#', (size_t)(end - nodes)))
                        return prop_fail(&prop, -EINVAL, "more than one '#'");
                if (nodes == end)
                        return prop_fail(&prop, -EINVAL, "no NUMA node list after '#'");
        }

        r = hpvm_cpuset_parse(nodes, (size_t)(end - nodes), HPVM_NODE_MAX, "NUMA node",
                              &nt.nodes, &sub);
        if (r < 0)
                return prop_fail(&prop, r, "%s", sub.msg);

        *ret = nt;
        return 0;
}

/* ---------------------------------------------------------------- guestnuma */

static int cell_memory(const Prop *prop, size_t cell, const char *s, size_t len,
                       uint64_t *ret_kib)
{
        char q[HPVM_QUOTE_MAX], a[32], b[32];
        uint64_t kib;
        int r;

        if (len == 0)
                return prop_fail(prop, -EINVAL, "cell %zu has no memory after '#'", cell);

        /* Unbounded first, so zero and too much get their own words. */
        r = hpvm_parse_size_kib(s, len, UINT64_MAX, &kib);
        hpvm_quote(s, len, q, sizeof(q));
        if (r == -EOVERFLOW)
                return prop_fail(prop, r, "'%s' is too large a memory size", q);
        if (r == -ERANGE)
                return prop_fail(prop, r, "cell %zu has no memory ('%s')", cell, q);
        if (r < 0)
                return prop_fail(prop, r,
                                 "'%s' is not a memory size (KiB, or a number with K, M, G or T)", q);
        if (kib > HPVM_MEM_MAX_KIB)
                return prop_fail(prop, -ERANGE, "cell %zu: %s is more than the %s limit", cell,
                                 hpvm_format_kib(kib, a, sizeof(a)),
                                 hpvm_format_kib(HPVM_MEM_MAX_KIB, b, sizeof(b)));

        *ret_kib = kib;
        return 0;
}

int hpvm_prop_guestnuma_parse(const char *value, HpvmGuestNuma *ret, HpvmError *err)
{
        _cleanup_free_ HpvmGuestCell *cells = NULL;
        char q[HPVM_QUOTE_MAX];
        const char *start;    /* first piece of the cell being gathered */
        size_t n = 0, cap;
        Prop prop;
        Pieces it;
        int r;

        r = prop_begin(&prop, "guestnuma", value, GRAMMAR_GUESTNUMA, err);
        if (r < 0)
                return r;

        /* One '#' per cell: the array size is known before the loop. */
        cap = count_byte(prop.value, prop.len, '#');
        cells = calloc(cap ? cap : 1, sizeof(*cells));
        if (!cells)
                return hpvm_error_set(err, -ENOMEM, "guestnuma: out of memory");

        start = prop.value;
        pieces_first(&prop, &it);
        while ((r = pieces_next(&prop, &it)) > 0) {
                const char *pend = it.p + it.len;
                const char *hash = memchr(it.p, '#', it.len);
                HpvmError sub = { 0 };
                HpvmGuestCell *cell;

                /* Pieces without '#' gather into the vCPU list of the cell they precede. */
                if (!hash)
                        continue;

                if (memchr(hash + 1, '#', (size_t)(pend - hash - 1))) {
                        hpvm_quote(it.p, it.len, q, sizeof(q));
                        return prop_fail(&prop, -EINVAL, "'%s' has more than one '#'", q);
                }
                if (hash == start)
                        return prop_fail(&prop, -EINVAL, "cell %zu has no vCPU list before '#'", n);

                cell = &cells[n];
                r = hpvm_cpuset_parse(start, (size_t)(hash - start), HPVM_VCPU_MAX, "vCPU",
                                      &cell->vcpus, &sub);
                if (r < 0)
                        return prop_fail(&prop, r, "%s", sub.msg);
                r = cell_memory(&prop, n, hash + 1, (size_t)(pend - hash - 1), &cell->mem_kib);
                if (r < 0)
                        return r;

                n++;
                start = it.next;
        }
        if (r < 0)
                return r;

        if (start) {
                hpvm_quote(start, (size_t)(prop.value + prop.len - start), q, sizeof(q));
                return prop_fail(&prop, -EINVAL, "cell %zu has no memory: '%s' is not followed by #<memory>",
                                 n, q);
        }

        ret->n = n;
        ret->cells = cells;
        cells = NULL;
        return 0;
}

void hpvm_guestnuma_clear(HpvmGuestNuma *g)
{
        if (!g)
                return;
        free(g->cells);
        g->cells = NULL;
        g->n = 0;
}

/* ---------------------------------------------------------------- single values */

int hpvm_prop_cpuset_parse(const char *name, const char *value, HpvmCpuSet *ret, HpvmError *err)
{
        HpvmError sub = { 0 };
        Prop prop;
        int r;

        r = prop_begin(&prop, name, value, GRAMMAR_CPUSET, err);
        if (r < 0)
                return r;

        r = hpvm_cpuset_parse(prop.value, prop.len, HPVM_CPUSET_MAX, "CPU", ret, &sub);
        if (r < 0)
                return prop_fail(&prop, r, "%s", sub.msg);
        return 0;
}

int hpvm_prop_bool_parse(const char *name, const char *value, bool *ret, HpvmError *err)
{
        Prop prop;
        int r;

        r = prop_begin(&prop, name, value, GRAMMAR_BOOL, err);
        if (r < 0)
                return r;

        r = hpvm_parse_bool(prop.value, prop.len, ret);
        if (r < 0)
                return prop_fail(&prop, r, "not a boolean");
        return 0;
}

int hpvm_prop_pagesize_parse(const char *name, const char *value, uint64_t *ret_kib, HpvmError *err)
{
        uint64_t kib;
        Prop prop;
        int r;

        r = prop_begin(&prop, name, value, GRAMMAR_PAGESIZE, err);
        if (r < 0)
                return r;

        /* vdsm reads this predefined oVirt property with int(): a plain number of KiB, no unit. */
        r = hpvm_parse_u64(prop.value, prop.len, HPVM_PAGE_MAX_KIB, &kib);
        if (r == -EINVAL)
                return prop_fail(&prop, r, "not a number of KiB");
        if (r < 0 || kib == 0)
                return prop_fail(&prop, r < 0 ? r : -ERANGE, "not a page size from 4 KiB to 16 GiB");
        /* Every page size a CPU offers is a power of two. */
        if (kib < 4 || (kib & (kib - 1)))
                return prop_fail(&prop, -ERANGE, "%llu KiB is not a power of two of at least 4 KiB",
                                 (unsigned long long)kib);
        *ret_kib = kib;
        return 0;
}

int hpvm_prop_count_parse(const char *name, const char *value, unsigned min, unsigned max,
                          unsigned *ret, HpvmError *err)
{
        char grammar[64];
        uint64_t v;
        Prop prop;
        int r;

        snprintf(grammar, sizeof(grammar), "a whole number from %u to %u", min, max);
        r = prop_begin(&prop, name, value, grammar, err);
        if (r < 0)
                return r;

        r = hpvm_parse_u64(prop.value, prop.len, max, &v);
        if (r == -EINVAL)
                return prop_fail(&prop, r, "not a number");
        if (r < 0 || v < min)
                return prop_fail(&prop, r < 0 ? r : -ERANGE, "out of range");
        *ret = (unsigned)v;
        return 0;
}

/* ---------------------------------------------------------------- cpupolicy */

static const char *const cpu_policies[] = {
        [HPVM_POLICY_DEDICATED] = "dedicated",
        [HPVM_POLICY_ISOLATE] = "isolate",
        [HPVM_POLICY_SIBLINGS] = "siblings",
};

const char *hpvm_cpu_policy_name(HpvmCpuPolicy p)
{
        if ((unsigned)p >= HPVM_ARRAY_SIZE(cpu_policies))
                return NULL;
        return cpu_policies[p];
}

int hpvm_prop_cpupolicy_parse(const char *value, HpvmCpuPolicy *ret, HpvmError *err)
{
        Prop prop;
        int r;

        r = prop_begin(&prop, "cpupolicy", value, GRAMMAR_CPUPOLICY, err);
        if (r < 0)
                return r;

        /* Our own word, typed in a web form: any case, like the booleans. */
        for (size_t i = 0; i < HPVM_ARRAY_SIZE(cpu_policies); i++)
                if (strlen(cpu_policies[i]) == prop.len &&
                    strncasecmp(cpu_policies[i], prop.value, prop.len) == 0) {
                        *ret = (HpvmCpuPolicy)i;
                        return 0;
                }
        return prop_fail(&prop, -EINVAL, "not a CPU policy");
}
