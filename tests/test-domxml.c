/* test-domxml.c: golden input -> output domain XML through the whole before_vm_start rewrite, each output schema-valid,
 * accepted by libvirt's own parser (test:/// driver) and stable when rewritten again. HPVM_REGENERATE=1 rewrites the goldens. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "domxml.h"
#include "testhelp.h"
#include "vmstart.h"

typedef struct Golden {
        const char *name;       /* tests/data/golden/<name>.xml */
        const char *input;      /* tests/data/domains/<input> */
        const char *sysfs;      /* tests/data/sysfs/<tree>, or NULL */
        const char *caps;       /* tests/data/caps/<file>, or NULL */
        const char *cputune, *numatune, *guestnuma;
        size_t warnings;
} Golden;

static const Golden goldens[] = {
        { "engine-all", "engine.xml", "numa2", NULL,
          "0#0,1#2,2#4,3#6", "strict#0", "0-7#4G,8-15#4G", 0 },
        { "engine-cputune-commas", "engine.xml", "numa2", NULL,
          "0#0-3,^1,6,1#1,3,5,7,15#7", NULL, NULL, 0 },
        { "engine-numatune-only", "engine.xml", "numa2", NULL,
          NULL, "0-1", NULL, 0 },
        { "engine-guestnuma-only", "engine.xml", NULL, NULL,
          NULL, NULL, "0-3,8-11#2G,4-7,12-15#6G", 0 },
        { "engine-caps-4node", "engine.xml", NULL, "caps-4node.xml",
          "0#0,1#8,2#1,3#9,4#4,5#12", "interleave#0-1", "0-7#4194304,8-15#4096M", 0 },
        { "dump-2cells", "libvirt-dump.xml", "numa2", NULL,
          "0#0,1#2", "preferred#1", "0-2#6G,3-5#6G", 1 },
        { "dump-4cells", "libvirt-dump.xml", "numa2", NULL,
          "5#1", NULL, "0#3G,1#3G,2-3#3G,4-5#3G", 0 },
        { "compact-all", "compact.xml", "numa2", NULL,
          "0#1,1#3", "interleave#0-1", "0-1#2G,2-3#2G", 0 },
        { "tabs-all", "tabs.xml", "numa4-cpuless", NULL,
          "0#0-7,1#8-15", "2", "0#1G,1#1G", 0 },
        { "nonuma-pins", "tabs.xml", "nonuma", NULL,
          "0#0,1#1-3", "strict#0", NULL, 0 },
};

typedef struct Props {
        const char *cputune, *numatune, *guestnuma;
} Props;

static const char *get(const char *name, void *opaque)
{
        const Props *p = opaque;

        if (!strcmp(name, "cputune"))
                return p->cputune;
        if (!strcmp(name, "numatune"))
                return p->numatune;
        if (!strcmp(name, "guestnuma"))
                return p->guestnuma;
        return NULL;
}

static void ignore_libvirt_errors(void *opaque, virErrorPtr e)
{
}

/* libvirt's full domain parser and post-parse validation, without a daemon. */
static void assert_libvirt_accepts(const char *name, const char *xml)
{
        virConnectPtr c;
        virDomainPtr dom;

        virSetErrorFunc(NULL, ignore_libvirt_errors);
        c = virConnectOpen("test:///default");
        ck_assert_msg(c, "cannot open libvirt's test driver");
        dom = virDomainDefineXML(c, xml);
        ck_assert_msg(dom, "%s: libvirt refuses the output: %s", name, virGetLastErrorMessage());
        virDomainUndefine(dom);
        virDomainFree(dom);
        virConnectClose(c);
}

static int rewrite(const char *in, size_t len, const Golden *g, char **out, size_t *outlen,
                   HpvmWarnings *warn, HpvmError *err)
{
        Props p = { g->cputune, g->numatune, g->guestnuma };
        _cleanup_free_ char *sysfs = NULL, *caps = NULL;
        HpvmHostSource src = { 0 };
        char rel[256];

        if (g->sysfs) {
                snprintf(rel, sizeof(rel), "tests/data/sysfs/%s", g->sysfs);
                src.sysfs_root = sysfs = th_src(rel);
        }
        if (g->caps) {
                snprintf(rel, sizeof(rel), "tests/data/caps/%s", g->caps);
                src.caps_path = caps = th_src(rel);
        }
        return hpvm_vmstart_rewrite(in, len, get, &p, &src, out, outlen, warn, err);
}

START_TEST(test_golden)
{
        const Golden *g = &goldens[_i];
        _cleanup_free_ char *inpath = NULL, *in = NULL, *out = NULL, *again = NULL;
        _cleanup_free_ char *goldpath = NULL, *gold = NULL;
        HpvmWarnings warn = { 0 }, warn2 = { 0 };
        HpvmError err = { 0 };
        size_t inlen, outlen, againlen, goldlen;
        char rel[256], why[1024];

        snprintf(rel, sizeof(rel), "tests/data/domains/%s", g->input);
        inpath = th_src(rel);
        in = th_slurp(inpath, &inlen);
        snprintf(rel, sizeof(rel), "tests/data/golden/%s.xml", g->name);
        goldpath = th_src(rel);

        ck_assert_msg(rewrite(in, inlen, g, &out, &outlen, &warn, &err) == 0, "%s: %s", g->name, err.msg);
        ck_assert_ptr_nonnull(out);
        ck_assert_uint_eq(warn.n, g->warnings);

        if (getenv("HPVM_REGENERATE"))
                th_write(goldpath, out, outlen, 0644);
        gold = th_slurp(goldpath, &goldlen);
        ck_assert_msg(outlen == goldlen && !memcmp(out, gold, goldlen),
                      "%s: output differs from %s (make regen-goldens, then review the diff)", g->name, goldpath);

        ck_assert_msg(th_schema_valid(out, outlen, why, sizeof(why)), "%s: not valid per domain.rng: %s", g->name, why);
        assert_libvirt_accepts(g->name, out);

        /* Idempotent: the hook run on its own output changes nothing. */
        ck_assert_msg(rewrite(out, outlen, g, &again, &againlen, &warn2, &err) == 0, "%s: %s", g->name, err.msg);
        ck_assert_msg(againlen == outlen && !memcmp(again, out, outlen), "%s: second run changed the XML", g->name);
}
END_TEST

START_TEST(test_inputs_are_valid)
{
        /* The fixtures themselves are good domains: failures above are the rewrite's. */
        static const char *const inputs[] = { "engine.xml", "libvirt-dump.xml", "compact.xml", "tabs.xml" };
        char rel[256], why[1024];

        for (size_t i = 0; i < HPVM_ARRAY_SIZE(inputs); i++) {
                _cleanup_free_ char *p = NULL, *x = NULL;
                size_t len;

                snprintf(rel, sizeof(rel), "tests/data/domains/%s", inputs[i]);
                p = th_src(rel);
                x = th_slurp(p, &len);
                ck_assert_msg(th_schema_valid(x, len, why, sizeof(why)), "%s: %s", inputs[i], why);
        }
}
END_TEST

START_TEST(test_no_property_no_output)
{
        static const Golden none = { "none", "engine.xml", "numa2", NULL, NULL, "", NULL, 0 };
        _cleanup_free_ char *p = th_src("tests/data/domains/engine.xml"), *in = NULL;
        char *out = (char *)"untouched";
        size_t len, outlen = 7;
        HpvmWarnings warn = { 0 };
        HpvmError err = { 0 };

        in = th_slurp(p, &len);
        ck_assert_int_eq(rewrite(in, len, &none, &out, &outlen, &warn, &err), 0);
        ck_assert_ptr_null(out);
        ck_assert_uint_eq(outlen, 0);
}
END_TEST

/* The VM-level checks, each with its own message; the XML is never produced. */
typedef struct Refusal {
        const char *input;
        const char *sysfs;
        const char *cputune, *numatune, *guestnuma;
        int code;
        const char *msg;
} Refusal;

static const Refusal refusals[] = {
        { "engine.xml", "numa2", "16#0", NULL, NULL, -ERANGE,
          "cputune: vCPU 16 does not exist (the VM has 16 vCPUs: 0-15)" },
        { "engine.xml", "numa2", "0#0,1#8", NULL, NULL, -ERANGE,
          "cputune: vCPU 1: host CPU 8 is not online (online CPUs: 0-7)" },
        { "tabs.xml", "numa4-cpuless", "0#19", NULL, NULL, -ERANGE,
          "cputune: vCPU 0: host CPU 19 is not online (online CPUs: 0-18)" },
        { "engine.xml", "numa2", NULL, "strict#2", NULL, -ERANGE,
          "numatune: host NUMA node 2 does not exist or has no memory (nodes with memory: 0-1)" },
        { "tabs.xml", "numa4-cpuless", NULL, "interleave#2-3", NULL, -ERANGE,
          "numatune: host NUMA node 3 does not exist or has no memory (nodes with memory: 0-2)" },
        { "libvirt-dump.xml", "nonuma", NULL, "strict#0", NULL, -ERANGE,
          "numatune: strict binding to node 0 offers 4 GiB of memory, the VM needs 12 GiB" },
        { "libvirt-dump.xml", "nonuma", NULL, "restrictive#0", NULL, -EINVAL,
          "numatune: restrictive binding to node 0 offers 4 GiB of memory, the VM needs 12 GiB" },
        { "engine.xml", NULL, NULL, NULL, "0-7#4G,7-15#4G", -EINVAL,
          "guestnuma: vCPU 7 is in cell 1 and in an earlier cell (cells must not share vCPUs)" },
        { "engine.xml", NULL, NULL, NULL, "0-7#4G,8-14#4G", -EINVAL,
          "guestnuma: vCPU 15 is in no cell (every one of the VM's 16 vCPUs needs one)" },
        { "engine.xml", NULL, NULL, NULL, "0-7#4G,8-16#4G", -ERANGE,
          "guestnuma: cell 1: vCPU 16 does not exist (the VM has 16 vCPUs: 0-15)" },
        { "engine.xml", NULL, NULL, NULL, "0-7#4G,8-15#2G", -EINVAL,
          "guestnuma: the cells add up to 6 GiB, the VM has 8 GiB of memory" },
        { "libvirt-dump.xml", "numa2", NULL, "restrictive#0", NULL, -EINVAL,
          "numatune: mode 'restrictive' conflicts with the VM's <numatune><memnode mode='strict'> "
          "(libvirt needs 'restrictive' in both or in neither)" },
        { "engine.xml", "numa2", "0#0-3,9x", NULL, NULL, -EINVAL,
          "cputune: '0#0-3,9x': '9x' is not a CPU number" },
};

START_TEST(test_refusal)
{
        const Refusal *t = &refusals[_i];
        Golden g = { "refusal", t->input, t->sysfs, NULL, t->cputune, t->numatune, t->guestnuma, 0 };
        _cleanup_free_ char *p = NULL, *in = NULL;
        char *out = (char *)"untouched";
        HpvmWarnings warn = { 0 };
        HpvmError err = { 0 };
        char rel[256];
        size_t len, outlen = 0;
        int r;

        snprintf(rel, sizeof(rel), "tests/data/domains/%s", t->input);
        p = th_src(rel);
        in = th_slurp(p, &len);
        r = rewrite(in, len, &g, &out, &outlen, &warn, &err);
        ck_assert_msg(r == t->code || (t->code == -EINVAL && r < 0), "got %d (%s)", r, err.msg);
        ck_assert_msg(!strncmp(err.msg, t->msg, strlen(t->msg)), "message:\n  got  '%s'\n  want '%s'", err.msg, t->msg);
        ck_assert_ptr_nonnull(strstr(out, "untouched"));
        ck_assert_ptr_null(strchr(err.msg, '\n'));
}
END_TEST

/* Hostile or broken domain XML is refused with a clear reason. */
typedef struct BadXml {
        const char *xml;
        const char *msg;
} BadXml;

static const BadXml bad_xml[] = {
        { "", "domain XML is empty" },
        { "<domain>", "domain XML is not well-formed XML: line 1" },
        { "<capabilities/>", "domain XML: root element is <capabilities>, expected <domain>" },
        { "<x:domain xmlns:x='urn:x'/>", "domain XML: root element is <x:domain>, expected <domain>" },
        { "<!DOCTYPE domain [<!ENTITY a 'b'>]><domain>&a;</domain>", "domain XML has a <!DOCTYPE>" },
        { "<!DOCTYPE domain SYSTEM 'http://127.0.0.1:9/x.dtd'><domain/>", "domain XML has a <!DOCTYPE>" },
        { "<domain>&xxe;</domain>", "domain XML is not well-formed XML" },
        { "<domain><vcpu>four</vcpu></domain>", "domain XML: <vcpu> is not a vCPU count from 1 to 4096" },
        { "<domain><vcpu>0</vcpu></domain>", "domain XML: <vcpu> is not a vCPU count from 1 to 4096" },
        { "<domain><vcpu>5000</vcpu></domain>", "domain XML: <vcpu> is not a vCPU count from 1 to 4096" },
        { "<domain><memory unit='parsecs'>1</memory></domain>", "domain XML: <memory> has a bad unit or is too large" },
        { "<domain><memory>-1</memory></domain>", "domain XML: <memory> is not a number" },
        { "<domain><name>\xff\xfe</name></domain>", "domain XML is not well-formed XML" },
};

START_TEST(test_bad_xml)
{
        const BadXml *t = &bad_xml[_i];
        HpvmDomain *d = NULL;
        HpvmError err = { 0 };

        ck_assert_int_lt(hpvm_domain_parse(t->xml, strlen(t->xml), &d, &err), 0);
        ck_assert_ptr_null(d);
        ck_assert_msg(!strncmp(err.msg, t->msg, strlen(t->msg)), "got '%s', want '%s'", err.msg, t->msg);
        ck_assert_ptr_null(strchr(err.msg, '\n'));
}
END_TEST

START_TEST(test_too_large)
{
        size_t len = (16u << 20) + 1;
        char *big = malloc(len);
        HpvmDomain *d = NULL;
        HpvmError err = { 0 };

        ck_assert_ptr_nonnull(big);
        memset(big, ' ', len);
        memcpy(big, "<domain>", 8);
        ck_assert_int_eq(hpvm_domain_parse(big, len, &d, &err), -EFBIG);
        ck_assert_str_eq(err.msg, "domain XML is 16777217 bytes (at most 16 MiB)");
        free(big);
}
END_TEST

static Suite *domxml_suite(void)
{
        Suite *s = suite_create("domxml");
        TCase *tc = tcase_create("golden");

        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_inputs_are_valid);
        tcase_add_loop_test(tc, test_golden, 0, HPVM_ARRAY_SIZE(goldens));
        tcase_add_test(tc, test_no_property_no_output);
        suite_add_tcase(s, tc);
        tc = tcase_create("refusals");
        tcase_add_loop_test(tc, test_refusal, 0, HPVM_ARRAY_SIZE(refusals));
        tcase_add_loop_test(tc, test_bad_xml, 0, HPVM_ARRAY_SIZE(bad_xml));
        tcase_add_test(tc, test_too_large);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(domxml_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
