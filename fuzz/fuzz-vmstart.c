/* fuzz-vmstart.c: libFuzzer target for the whole before_vm_start rewrite: the output re-parses, a second run changes nothing, errors are one line. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libxml/xmlerror.h>

#include "domxml.h"
#include "vmstart.h"
#include "fuzzcheck.h"

/*
 * Input: "<name>=<value>\n" lines (the custom properties), one NUL byte, then
 * the domain XML. Without a NUL the input is ignored. The host is the fixed
 * capabilities file tests/data/caps/caps-4node.xml (CPUs 0-19, nodes 0-3,
 * node 3 without memory), found through $HPVM_SRCDIR or the source folder
 * compiled in as HPVM_FUZZ_SRCDIR.
 */


#ifndef HPVM_FUZZ_SRCDIR
#define HPVM_FUZZ_SRCDIR "."
#endif
#define CAPS_FIXTURE "tests/data/caps/caps-4node.xml"
#define MAX_PROPS 16

int LLVMFuzzerInitialize(int *argc, char ***argv);
static char caps_path[4096];

/*
 * Library code never prints: a libxml2 message that reaches its generic
 * handler would be extra lines on the hook's stderr, where the contract
 * allows exactly one.
 */
static void no_print(void *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void no_print(void *ctx, const char *fmt, ...)
{
        va_list ap;

        fprintf(stderr, "fuzz-vmstart: libxml2 printed: ");
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        abort();
}

typedef struct Props {
        size_t n;
        const char *name[MAX_PROPS];
        const char *value[MAX_PROPS];
} Props;

/* First definition wins, like a VM property over a device property of the same name. */
static const char *get_prop(const char *name, void *opaque)
{
        const Props *p = opaque;

        for (size_t i = 0; i < p->n; i++)
                if (!strcmp(p->name[i], name))
                        return p->value[i];
        return NULL;
}

/* Split "a=1\nb=2" in place (@text is NUL-terminated and ours). */
static void split_props(char *text, Props *p)
{
        char *line = text;

        p->n = 0;
        while (line && p->n < MAX_PROPS) {
                char *nl = strchr(line, '\n'), *eq;

                if (nl)
                        *nl = '\0';
                eq = strchr(line, '=');
                if (eq) {
                        *eq = '\0';
                        p->name[p->n] = line;
                        p->value[p->n] = eq + 1;
                        p->n++;
                }
                line = nl ? nl + 1 : NULL;
        }
}

static void check_line(const char *what, const char *msg)
{
        size_t len = strnlen(msg, HPVM_ERR_MAX);

        CHECK(len > 0 && len < HPVM_ERR_MAX, "%s: empty or unterminated", what);
        for (size_t i = 0; i < len; i++)
                CHECK((unsigned char)msg[i] >= 0x20 && msg[i] != 0x7f, "%s: control byte 0x%02x in '%s'", what,
                      (unsigned char)msg[i], msg);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        const char *src = getenv("HPVM_SRCDIR");

        snprintf(caps_path, sizeof(caps_path), "%s/" CAPS_FIXTURE, src && *src ? src : HPVM_FUZZ_SRCDIR);
        if (access(caps_path, R_OK) != 0) {
                fprintf(stderr, "fuzz-vmstart: cannot read %s: set HPVM_SRCDIR to the source folder\n", caps_path);
                exit(1);
        }
        xmlSetGenericErrorFunc(NULL, no_print);
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const uint8_t *nul = memchr(data, '\0', size);
        const HpvmHostSource src = { .caps_path = caps_path };
        char *props_text, *xml, *out = (char *)(uintptr_t)0xa5a5a5a5, *out2 = NULL;
        size_t xml_len, out_len = 0, out2_len = 0;
        HpvmWarnings warn = { 0 }, warn2 = { 0 };
        HpvmError err = { 0 }, err2 = { 0 };
        HpvmDomain *dom = NULL;
        Props props;
        int r;

        if (!nul)
                return 0;
        props_text = strndup((const char *)data, (size_t)(nul - data));
        xml_len = size - (size_t)(nul - data) - 1;
        /* A private copy of exactly xml_len bytes, so reads past it are caught. */
        xml = malloc(xml_len ? xml_len : 1);
        if (!props_text || !xml) {
                free(props_text);
                free(xml);
                return 0;
        }
        memcpy(xml, nul + 1, xml_len);
        split_props(props_text, &props);

        r = hpvm_vmstart_rewrite(xml, xml_len, get_prop, &props, &src, &out, &out_len, &warn, &err);
        if (r < 0) {
                CHECK(err.code == r, "err.code %d but return %d", err.code, r);
                check_line("error", err.msg);
                CHECK(out == (char *)(uintptr_t)0xa5a5a5a5, "*ret_out changed on failure");
                goto done;
        }
        CHECK(r == 0, "returned %d", r);
        CHECK(err.code == 0 && err.msg[0] == '\0', "success with a message: %s", err.msg);
        CHECK(warn.n <= HPVM_WARN_MAX, "%zu warnings", warn.n);
        for (size_t i = 0; i < warn.n; i++)
                check_line("warning", warn.msg[i]);
        if (!out)
                goto done;      /* no property of this hook set: the file is left alone */

        CHECK(out_len == strlen(out), "output has an embedded NUL or a wrong length");
        r = hpvm_domain_parse(out, out_len, &dom, &err2);
        CHECK(r == 0, "the output does not parse: %s\n--- output:\n%s", err2.msg, out);
        hpvm_domain_free(dom);

        /* Twice is once: a second run over its own output changes nothing and succeeds. */
        r = hpvm_vmstart_rewrite(out, out_len, get_prop, &props, &src, &out2, &out2_len, &warn2, &err2);
        CHECK(r == 0, "second run refused its own output: %s\n--- output:\n%s", err2.msg, out);
        /* NULL: nothing to change, the file stays as it is; else the very same bytes. */
        CHECK(!out2 || (out2_len == out_len && !memcmp(out, out2, out_len)),
              "not idempotent\n--- first:\n%s\n--- second:\n%s", out, out2);
        /* Removals warn once; what the result still lacks (profile suggestions) is said again, no more. */
        for (size_t i = 0; i < warn2.n; i++) {
                bool seen = false;

                for (size_t j = 0; j < warn.n && !seen; j++)
                        seen = !strcmp(warn2.msg[i], warn.msg[j]);
                CHECK(seen, "the second run has a new warning: %s", warn2.msg[i]);
        }
done:
        if (out != (char *)(uintptr_t)0xa5a5a5a5)
                free(out);
        free(out2);
        free(props_text);
        free(xml);
        return 0;
}
