/* fuzz-props.c: libFuzzer target for every custom property parser: one-line messages, *ret untouched on failure, round trips on success. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "props.h"
#include "fuzzcheck.h"

/*
 * Input: byte 0 picks the parser (modulo 8), the rest is the property value,
 * NUL-terminated as it would come from the environment (an embedded NUL ends
 * it, as it would there).
 */


enum { P_CPUTUNE, P_PINLIST, P_NUMATUNE, P_GUESTNUMA, P_CPUSET, P_BOOL, P_PAGESIZE, P_NUMBER, P_COUNT };

/* iothreadpin as before_vm_start reads it. */
#define PIN_FIRST 1
#define PIN_LAST HPVM_IOTHREADS_MAX

/* Success: nothing in err. */
static void check_quiet(const HpvmError *err)
{
        CHECK(err->code == 0 && err->msg[0] == '\0', "success with a message: '%s'", err->msg);
}

/* Failure: a known code, and one printable line that names the property first. */
static void check_failure(const char *name, const char *value, int r, const HpvmError *err)
{
        size_t len = strnlen(err->msg, sizeof(err->msg)), vlen = strlen(value);

        CHECK(r == -EINVAL || r == -ERANGE || r == -EOVERFLOW || r == -E2BIG || r == -ENOMEM,
              "%s: unexpected error %d", name, r);
        CHECK(err->code == r, "%s: err.code %d but return %d", name, err->code, r);
        CHECK(len > 0 && len < sizeof(err->msg), "%s: message empty or unterminated", name);
        for (size_t i = 0; i < len; i++)
                CHECK((unsigned char)err->msg[i] >= 0x20 && (unsigned char)err->msg[i] < 0x7f,
                      "%s: byte 0x%02x at %zu in message '%s'", name, (unsigned char)err->msg[i], i, err->msg);
        CHECK(!strncmp(err->msg, name, strlen(name)) && !strncmp(err->msg + strlen(name), ": ", 2),
              "message does not start with '%s: ': '%s'", name, err->msg);
        if (vlen > HPVM_PROP_MAX)
                CHECK(r == -E2BIG, "%s: %zu bytes refused with %d, not -E2BIG", name, vlen, r);
        if (vlen == 0)
                CHECK(r == -EINVAL, "%s: empty value refused with %d", name, r);
}

/*
 * Canonical text builder for round trips. Only text that fits a property is
 * parsed back, so building stops (over = true) once it is past HPVM_PROP_MAX.
 */
typedef struct Text {
        char buf[HPVM_PROP_MAX + HPVM_CPUSET_STRMAX + 64];
        size_t len;
        bool over;
} Text;

static void text_add(Text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void text_add(Text *t, const char *fmt, ...)
{
        va_list ap;
        int n;

        if (t->over)
                return;
        va_start(ap, fmt);
        n = vsnprintf(t->buf + t->len, sizeof(t->buf) - t->len, fmt, ap);
        va_end(ap);
        CHECK(n >= 0 && (size_t)n < sizeof(t->buf) - t->len, "text builder overflow");
        t->len += (size_t)n;
        t->over = t->len > HPVM_PROP_MAX;
}

static void text_set(Text *t, const HpvmCpuSet *s)
{
        int n;

        if (t->over)
                return;
        n = hpvm_cpuset_format(s, t->buf + t->len, sizeof(t->buf) - t->len);
        CHECK(n > 0, "a parsed set formats as %d", n);
        t->len += (size_t)n;
        t->over = t->len > HPVM_PROP_MAX;
}

/* Canonical text of a pin list: "<id>#<cpuset>,..." (a cpuset's own commas continue it). */
static void pins_text(const HpvmPinList *l, Text *t)
{
        for (size_t i = 0; i < l->n; i++) {
                text_add(t, "%s%u#", i ? "," : "", l->pins[i].id);
                text_set(t, &l->pins[i].cpus);
        }
}

static void check_pins(const char *name, const HpvmPinList *l, unsigned first, unsigned last,
                       const char *value)
{
        HpvmCpuSet seen;

        CHECK(l->n > 0 && l->pins, "%s: success without pins", name);
        hpvm_cpuset_zero(&seen);
        for (size_t i = 0; i < l->n; i++) {
                const HpvmPin *p = &l->pins[i];

                CHECK(p->id >= first && p->id <= last, "%s: id %u out of %u-%u", name, p->id, first, last);
                CHECK(!hpvm_cpuset_test(&seen, p->id), "%s: id %u twice", name, p->id);
                hpvm_cpuset_set(&seen, p->id);
                CHECK(!hpvm_cpuset_is_empty(&p->cpus), "%s: id %u has no CPU", name, p->id);
        }
        CHECK(l->n <= strlen(value), "%s: more pins than bytes", name);
}

static bool same_pins(const HpvmPinList *a, const HpvmPinList *b)
{
        if (a->n != b->n)
                return false;
        for (size_t i = 0; i < a->n; i++)
                if (a->pins[i].id != b->pins[i].id || !hpvm_cpuset_equal(&a->pins[i].cpus, &b->pins[i].cpus))
                        return false;
        return true;
}

static void fuzz_pins(bool cputune, const char *value)
{
        const char *name = cputune ? "cputune" : "iothreadpin";
        unsigned first = cputune ? 0 : PIN_FIRST, last = cputune ? HPVM_VCPU_MAX - 1 : PIN_LAST;
        HpvmPinList l, sentinel, back = { 0 };
        HpvmError err = { 0 }, err2 = { 0 };
        static Text text;
        int r;

        memset(&sentinel, 0xa5, sizeof(sentinel));
        l = sentinel;
        r = cputune ? hpvm_prop_cputune_parse(value, &l, &err)
                    : hpvm_prop_pinlist_parse(name, value, first, last, "IO thread", &l, &err);
        if (r < 0) {
                check_failure(name, value, r, &err);
                CHECK(!memcmp(&l, &sentinel, sizeof(l)), "%s: *ret changed on failure", name);
                return;
        }
        CHECK(r == 0, "%s: returned %d", name, r);
        check_quiet(&err);
        check_pins(name, &l, first, last, value);

        text.len = 0;
        text.over = false;
        pins_text(&l, &text);
        if (!text.over) {
                r = cputune ? hpvm_prop_cputune_parse(text.buf, &back, &err2)
                            : hpvm_prop_pinlist_parse(name, text.buf, first, last, "IO thread", &back, &err2);
                CHECK(r == 0, "%s: canonical '%s' refused: %s", name, text.buf, err2.msg);
                CHECK(same_pins(&l, &back), "%s: '%s' and its canonical '%s' differ", name, value, text.buf);
                hpvm_pinlist_clear(&back);
        }
        hpvm_pinlist_clear(&l);
        CHECK(l.n == 0 && !l.pins, "%s: clear left data", name);
}

static void fuzz_numatune(const char *value)
{
        HpvmNumaTune nt, sentinel, back;
        HpvmError err = { 0 }, err2 = { 0 };
        static Text text;
        const char *mode;
        int r;

        memset(&sentinel, 0xa5, sizeof(sentinel));
        nt = sentinel;
        r = hpvm_prop_numatune_parse(value, &nt, &err);
        if (r < 0) {
                check_failure("numatune", value, r, &err);
                CHECK(!memcmp(&nt, &sentinel, sizeof(nt)), "numatune: *ret changed on failure");
                return;
        }
        CHECK(r == 0, "numatune: returned %d", r);
        check_quiet(&err);
        mode = hpvm_numa_mode_name(nt.mode);
        CHECK(mode, "numatune: mode %d has no name", (int)nt.mode);
        CHECK(!hpvm_cpuset_is_empty(&nt.nodes) && hpvm_cpuset_last(&nt.nodes) < HPVM_NODE_MAX,
              "numatune: node set empty or past %d", HPVM_NODE_MAX);
        text.len = 0;
        text.over = false;
        text_add(&text, "%s#", mode);
        text_set(&text, &nt.nodes);
        if (text.over)
                return;
        r = hpvm_prop_numatune_parse(text.buf, &back, &err2);
        CHECK(r == 0, "numatune: canonical '%s' refused: %s", text.buf, err2.msg);
        CHECK(back.mode == nt.mode && hpvm_cpuset_equal(&back.nodes, &nt.nodes),
              "numatune: '%s' and its canonical '%s' differ", value, text.buf);
}

static void fuzz_guestnuma(const char *value)
{
        HpvmGuestNuma g, sentinel, back = { 0 };
        HpvmError err = { 0 }, err2 = { 0 };
        static Text text;
        int r;

        memset(&sentinel, 0xa5, sizeof(sentinel));
        g = sentinel;
        r = hpvm_prop_guestnuma_parse(value, &g, &err);
        if (r < 0) {
                check_failure("guestnuma", value, r, &err);
                CHECK(!memcmp(&g, &sentinel, sizeof(g)), "guestnuma: *ret changed on failure");
                return;
        }
        CHECK(r == 0, "guestnuma: returned %d", r);
        check_quiet(&err);
        CHECK(g.n > 0 && g.cells, "guestnuma: success without cells");
        text.len = 0;
        text.over = false;
        for (size_t i = 0; i < g.n; i++) {
                const HpvmGuestCell *c = &g.cells[i];

                CHECK(!hpvm_cpuset_is_empty(&c->vcpus) && hpvm_cpuset_last(&c->vcpus) < HPVM_VCPU_MAX,
                      "guestnuma: cell %zu vCPUs empty or out of range", i);
                CHECK(c->mem_kib > 0 && c->mem_kib <= HPVM_MEM_MAX_KIB, "guestnuma: cell %zu memory %llu KiB",
                      i, (unsigned long long)c->mem_kib);
                if (i)
                        text_add(&text, ",");
                text_set(&text, &c->vcpus);
                text_add(&text, "#%llu", (unsigned long long)c->mem_kib);
        }
        if (!text.over) {
                r = hpvm_prop_guestnuma_parse(text.buf, &back, &err2);
                CHECK(r == 0, "guestnuma: canonical '%s' refused: %s", text.buf, err2.msg);
                CHECK(back.n == g.n, "guestnuma: '%s' has %zu cells, its canonical '%s' %zu", value, g.n,
                      text.buf, back.n);
                for (size_t i = 0; i < g.n; i++)
                        CHECK(back.cells[i].mem_kib == g.cells[i].mem_kib &&
                              hpvm_cpuset_equal(&back.cells[i].vcpus, &g.cells[i].vcpus),
                              "guestnuma: cell %zu of '%s' differs from canonical '%s'", i, value, text.buf);
                hpvm_guestnuma_clear(&back);
        }
        hpvm_guestnuma_clear(&g);
}

static void fuzz_cpuset(const char *value)
{
        HpvmCpuSet s, sentinel, back;
        HpvmError err = { 0 }, err2 = { 0 };
        static Text text;
        int r;

        memset(&sentinel, 0xa5, sizeof(sentinel));
        s = sentinel;
        r = hpvm_prop_cpuset_parse("emulatorpin", value, &s, &err);
        if (r < 0) {
                check_failure("emulatorpin", value, r, &err);
                CHECK(!memcmp(&s, &sentinel, sizeof(s)), "emulatorpin: *ret changed on failure");
                return;
        }
        CHECK(r == 0, "emulatorpin: returned %d", r);
        check_quiet(&err);
        CHECK(!hpvm_cpuset_is_empty(&s), "emulatorpin: empty set accepted");
        text.len = 0;
        text.over = false;
        text_set(&text, &s);
        if (text.over)
                return;
        r = hpvm_prop_cpuset_parse("emulatorpin", text.buf, &back, &err2);
        CHECK(r == 0 && hpvm_cpuset_equal(&s, &back), "emulatorpin: canonical '%s' of '%s' differs", text.buf,
              value);
}

static void fuzz_bool(const char *value)
{
        HpvmError err = { 0 }, err2 = { 0 };
        bool b, back;
        uint8_t sentinel = 0xa5;
        int r;

        memcpy(&b, &sentinel, 1);
        r = hpvm_prop_bool_parse("nosharepages", value, &b, &err);
        if (r < 0) {
                check_failure("nosharepages", value, r, &err);
                CHECK(!memcmp(&b, &sentinel, 1), "nosharepages: *ret changed on failure");
                return;
        }
        CHECK(r == 0, "nosharepages: returned %d", r);
        check_quiet(&err);
        CHECK(strlen(value) <= 5, "nosharepages: '%s' accepted as a boolean", value);
        r = hpvm_prop_bool_parse("nosharepages", b ? "TRUE" : "no", &back, &err2);
        CHECK(r == 0 && back == b, "nosharepages: '%s' does not round-trip", value);
}

static void fuzz_pagesize(const char *value)
{
        HpvmError err = { 0 }, err2 = { 0 };
        uint64_t kib = UINT64_C(0xa5a5a5a5a5a5a5a5), back;
        char text[32];
        int r;

        r = hpvm_prop_pagesize_parse("hugepages", value, &kib, &err);
        if (r < 0) {
                check_failure("hugepages", value, r, &err);
                CHECK(kib == UINT64_C(0xa5a5a5a5a5a5a5a5), "hugepages: *ret changed on failure");
                return;
        }
        CHECK(r == 0, "hugepages: returned %d", r);
        check_quiet(&err);
        CHECK(kib >= 4 && kib <= HPVM_PAGE_MAX_KIB && !(kib & (kib - 1)), "hugepages: '%s' gave %llu KiB", value,
              (unsigned long long)kib);
        snprintf(text, sizeof(text), "%llu", (unsigned long long)kib);
        r = hpvm_prop_pagesize_parse("hugepages", text, &back, &err2);
        CHECK(r == 0 && back == kib, "hugepages: '%s' does not round-trip", text);
}

static void fuzz_count(const char *value)
{
        HpvmError err = { 0 }, err2 = { 0 };
        unsigned n = 0xa5a5a5a5u, back;
        char text[16];
        int r;

        r = hpvm_prop_count_parse("iothreads", value, 1, HPVM_IOTHREADS_MAX, &n, &err);
        if (r < 0) {
                check_failure("iothreads", value, r, &err);
                CHECK(n == 0xa5a5a5a5u, "iothreads: *ret changed on failure");
                return;
        }
        CHECK(r == 0, "iothreads: returned %d", r);
        check_quiet(&err);
        CHECK(n >= 1 && n <= HPVM_IOTHREADS_MAX, "iothreads: '%s' gave %u", value, n);
        snprintf(text, sizeof(text), "%u", n);
        r = hpvm_prop_count_parse("iothreads", text, 1, HPVM_IOTHREADS_MAX, &back, &err2);
        CHECK(r == 0 && back == n, "iothreads: '%s' does not round-trip", text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *value;

        if (size < 1)
                return 0;
        value = malloc(size);
        if (!value)
                return 0;
        memcpy(value, data + 1, size - 1);
        value[size - 1] = '\0';

        switch (data[0] % P_COUNT) {
        case P_CPUTUNE: fuzz_pins(true, value); break;
        case P_PINLIST: fuzz_pins(false, value); break;
        case P_NUMATUNE: fuzz_numatune(value); break;
        case P_GUESTNUMA: fuzz_guestnuma(value); break;
        case P_CPUSET: fuzz_cpuset(value); break;
        case P_BOOL: fuzz_bool(value); break;
        case P_PAGESIZE: fuzz_pagesize(value); break;
        case P_NUMBER: fuzz_count(value); break;
        }
        free(value);
        return 0;
}
