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
        const char *props[12];  /* "name=value", as vdsm puts them in the environment */
        size_t warnings;
} Golden;

static const Golden goldens[] = {
        { "engine-all", "engine.xml", "numa2", NULL,
          { "cputune=0#0,1#2,2#4,3#6", "numatune=strict#0", "guestnuma=0-7#4G,8-15#4G" }, 0 },
        { "engine-cputune-commas", "engine.xml", "numa2", NULL,
          { "cputune=0#0-3,^1,6,1#1,3,5,7,15#7" }, 0 },
        { "engine-numatune-only", "engine.xml", "numa2", NULL, { "numatune=0-1" }, 0 },
        { "engine-guestnuma-only", "engine.xml", NULL, NULL, { "guestnuma=0-3,8-11#2G,4-7,12-15#6G" }, 0 },
        { "engine-caps-4node", "engine.xml", NULL, "caps-4node.xml",
          { "cputune=0#0,1#8,2#1,3#9,4#4,5#12", "numatune=interleave#0-1", "guestnuma=0-7#4194304,8-15#4096M" }, 0 },
        { "dump-2cells", "libvirt-dump.xml", "numa2", NULL,
          { "cputune=0#0,1#2", "numatune=preferred#1", "guestnuma=0-2#6G,3-5#6G" }, 1 },
        { "dump-4cells", "libvirt-dump.xml", "numa2", NULL,
          { "cputune=5#1", "guestnuma=0#3G,1#3G,2-3#3G,4-5#3G" }, 0 },
        { "compact-all", "compact.xml", "numa2", NULL,
          { "cputune=0#1,1#3", "numatune=interleave#0-1", "guestnuma=0-1#2G,2-3#2G" }, 0 },
        { "tabs-all", "tabs.xml", "numa4-cpuless", NULL,
          { "cputune=0#0-7,1#8-15", "numatune=2", "guestnuma=0#1G,1#1G" }, 0 },
        { "nonuma-pins", "tabs.xml", "nonuma", NULL, { "cputune=0#0,1#1-3", "numatune=strict#0" }, 0 },
        /* The High Performance profile and its properties. */
        { "engine-highperf", "engine.xml", "numa1", NULL, { "highperf=true" }, 7 },
        { "engine-highperf-no-invtsc-host", "engine.xml", "numa2", NULL, { "highperf=yes" }, 8 },
        { "engine-highperf-invtsc-false", "engine.xml", "numa1", NULL, { "highperf=1", "invtsc=false" }, 7 },
        { "engine-highperf-full", "engine.xml", NULL, "caps-8node.xml",
          { "highperf=TRUE", "cputune=0#8,1#9,2#10,3#11,4#12,5#13,6#14,7#15,8#16,9#17,10#18,11#19,12#20,13#21,14#22,15#23",
            "numatune=strict#1-2", "guestnuma=0-7#4G,8-15#4G", "hugepages=1048576", "emulatorpin=0-1",
            "iothreads=2", "iothreadpin=1#2,2#3", "nosharepages=true" }, 0 },
        { "tabs-hugepages-2m", "tabs.xml", NULL, "caps-8node.xml", { "hugepages=2048", "numatune=strict#0-1" }, 0 },
        { "tabs-hugepages-1g-cells", "tabs.xml", "numa2", NULL,
          { "hugepages=1048576", "numatune=strict#0", "guestnuma=0#1G,1#1G" }, 0 },
        { "dump-hugepages-memnodes", "libvirt-dump.xml", NULL, "caps-8node.xml",
          { "hugepages=1048576", "numatune=strict#0-3" }, 0 },
        { "dump-pins-overlap", "libvirt-dump.xml", "numa1", NULL,
          { "emulatorpin=3", "iothreadpin=1#2", "nosharepages=yes", "invtsc=true" }, 2 },
        { "usb-hostdev-no-profile", "usb-hostdev.xml", "numa1", NULL, { "iothreads=4", "iothreadpin=4#0-3" }, 0 },
        { "compact-highperf-invtsc", "compact.xml", "numa1", NULL, { "highperf=true", "invtsc=true" }, 8 },
        /* Automatic placement: the engine decides pins, binding and (guestnuma=auto) the cells. */
        { "engine-auto-8node", "engine.xml", NULL, "caps-8node.xml",
          { "cputune=auto", "numatune=auto", "guestnuma=auto" }, 0 },
        { "dump-auto-keep-cells", "libvirt-dump.xml", NULL, "caps-8node.xml", { "cputune=auto", "numatune=auto" }, 0 },
        { "compact-auto-isolate", "compact.xml", NULL, "caps-8node.xml", { "cputune=auto", "cpupolicy=isolate" }, 0 },
        { "tabs-auto-pages", "tabs.xml", NULL, "caps-8node.xml",
          { "numatune=auto", "guestnuma=auto", "hugepages=2048", "cputune=auto" }, 0 },
        { "engine-auto-highperf", "engine.xml", NULL, "caps-8node.xml",
          { "highperf=true", "cputune=auto", "numatune=auto", "guestnuma=0-7#4G,8-15#4G", "iothreads=2" }, 3 },
        /* guestnuma leaves nothing naming a cell it removes: the memnode, cell 2 from the 1G page's
         * nodeset and the pxb's <node> each warn; distances, HMAT links and cell 2's cache just go. */
        { "numa-refs-2cells", "numa-refs.xml", NULL, NULL, { "guestnuma=0-1#1G,2-5#3G" }, 3 },
        /* The only page named removed cells: <hugepages> goes too (empty, it would mean every cell). */
        { "numa-pages-1cell", "numa-pages.xml", NULL, NULL, { "guestnuma=0-3#4G" }, 1 },
        /* <iothreadids> 5,1,9,3: iothreads=2 keeps the two lowest ids; the pin of 9 goes, the sched keeps 3. */
        { "iothreads-ids-lower", "iothreads-ids.xml", "numa1", NULL, { "iothreads=2" }, 2 },
        /* Raising leaves <iothreadids> to libvirt, which adds ids 2 and 4: they may be pinned. */
        { "iothreads-ids-raise", "iothreads-ids.xml", "numa1", NULL, { "iothreads=6", "iothreadpin=2#0,4#1" }, 0 },
        /* iothreadpin names the VM's real ids, not 1..<iothreads>. */
        { "iothreads-ids-pin", "iothreads-ids.xml", "numa1", NULL, { "iothreadpin=5#1,9#2" }, 0 },
        /* USB off: the CCID controller goes with its smartcard, like every other removable USB device. */
        { "usb-devices-highperf", "usb-devices.xml", "numa1", NULL, { "highperf=true" }, 7 },
};

typedef struct Props {
        const char *const *kv;
} Props;

static const char *get(const char *name, void *opaque)
{
        const Props *p = opaque;
        size_t n = strlen(name);

        for (size_t i = 0; i < 12 && p->kv[i]; i++)
                if (!strncmp(p->kv[i], name, n) && p->kv[i][n] == '=')
                        return p->kv[i] + n + 1;
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
        Props p = { g->props };
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
        /* Not even re-serialized: a rewrite that changes nothing says so, and the file stays as it is. */
        ck_assert_msg(!again, "%s: second run changed the XML", g->name);
}
END_TEST

START_TEST(test_inputs_are_valid)
{
        /* The fixtures themselves are good domains: failures above are the rewrite's. */
        static const char *const inputs[] = { "engine.xml", "libvirt-dump.xml", "compact.xml", "tabs.xml",
                                              "windows.xml", "windows-osinfo-only.xml", "usb-hostdev.xml",
                                              "numa-refs.xml", "numa-pages.xml", "iothreads-ids.xml",
                                              "usb-devices.xml" };
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
        static const Golden none = { "none", "engine.xml", "numa2", NULL, { "numatune=", "other=1" }, 0 };
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
        const char *sysfs;      /* tests/data/sysfs/<tree>, or "caps:<file>" for tests/data/caps/<file> */
        const char *props[6];
        int code;
        const char *msg;
} Refusal;

static const Refusal refusals[] = {
        { "engine.xml", "numa2", { "cputune=16#0" }, -ERANGE,
          "cputune: vCPU 16 does not exist (the VM has 16 vCPUs: 0-15)" },
        { "engine.xml", "numa2", { "cputune=0#0,1#8" }, -ERANGE,
          "cputune: vCPU 1: host CPU 8 is not online (online CPUs: 0-7)" },
        { "tabs.xml", "numa4-cpuless", { "cputune=0#19" }, -ERANGE,
          "cputune: vCPU 0: host CPU 19 is not online (online CPUs: 0-18)" },
        { "engine.xml", "numa2", { "numatune=strict#2" }, -ERANGE,
          "numatune: host NUMA node 2 does not exist or has no memory (nodes with memory: 0-1)" },
        { "tabs.xml", "numa4-cpuless", { "numatune=interleave#2-3" }, -ERANGE,
          "numatune: host NUMA node 3 does not exist or has no memory (nodes with memory: 0-2)" },
        { "libvirt-dump.xml", "nonuma", { "numatune=strict#0" }, -ERANGE,
          "numatune: strict binding to node 0 offers 4 GiB of memory, guest cells 0-1 need 8 GiB" },
        { "libvirt-dump.xml", "nonuma", { "numatune=restrictive#0" }, -EINVAL,
          "numatune: mode 'restrictive' conflicts with the VM's <numatune><memnode mode='strict'> "
          "(libvirt needs 'restrictive' in both or in neither)" },
        { "engine.xml", NULL, { "guestnuma=0-7#4G,7-15#4G" }, -EINVAL,
          "guestnuma: vCPU 7 is in cell 1 and in an earlier cell (cells must not share vCPUs)" },
        { "engine.xml", NULL, { "guestnuma=0-7#4G,8-14#4G" }, -EINVAL,
          "guestnuma: vCPU 15 is in no cell (every one of the VM's 16 vCPUs needs one)" },
        { "engine.xml", NULL, { "guestnuma=0-7#4G,8-16#4G" }, -ERANGE,
          "guestnuma: cell 1: vCPU 16 does not exist (the VM has 16 vCPUs: 0-15)" },
        { "engine.xml", NULL, { "guestnuma=0-7#4G,8-15#2G" }, -EINVAL,
          "guestnuma: the cells add up to 6 GiB, the VM has 8 GiB of memory" },
        { "libvirt-dump.xml", "numa2", { "numatune=restrictive#0" }, -EINVAL,
          "numatune: mode 'restrictive' conflicts with the VM's <numatune><memnode mode='strict'> "
          "(libvirt needs 'restrictive' in both or in neither)" },
        { "engine.xml", "nonuma", { "cputune=auto" }, -ENOSPC,
          "cputune=auto: node 0 has 3 free CPUs, guest cell 0 needs 16" },
        { "engine.xml", "numa2", { "cpupolicy=isolate" }, -EINVAL,
          "cpupolicy: it only steers automatic placement: set cputune=auto, numatune=auto or guestnuma=auto too, "
          "or leave cpupolicy out" },
        { "engine.xml", "numa2", { "cputune=auto", "cpupolicy=loose" }, -EINVAL,
          "cpupolicy: 'loose': not a CPU policy (expected dedicated|isolate|siblings)" },
        { "engine.xml", "numa2", { "cputune=0#0-3,9x" }, -EINVAL,
          "cputune: '0#0-3,9x': '9x' is not a CPU number" },
        /* hugepages: size offered, whole pages, enough free where libvirt will take them */
        { "tabs.xml", "numa2", { "hugepages=16384" }, -ERANGE,
          "hugepages: the host has no 16 MiB pages (it offers 2 MiB, 1 GiB)" },
        { "tabs.xml", "nonuma", { "hugepages=16384" }, -ERANGE,
          "hugepages: the host has no 16 MiB pages (it offers 2 MiB, 1 GiB)" },
        { "tabs.xml", "numa2", { "hugepages=3000" }, -EINVAL,
          "hugepages: '3000': 3000 KiB is not a power of two of at least 4 KiB" },
        { "tabs.xml", "numa2", { "hugepages=2048", "numatune=strict#1" }, -ERANGE,
          "hugepages: the VM needs 1024 pages of 2 MiB on node 1, which has 100 free" },
        { "tabs.xml", "numa2", { "hugepages=2048" }, -ERANGE,
          "hugepages: the VM needs 1024 pages of 2 MiB, the host has 612 free" },
        { "tabs.xml", "numa2", { "hugepages=2048", "numatune=preferred#0" }, -ERANGE,
          "hugepages: the VM needs 1024 pages of 2 MiB, the host has 612 free" },
        { "tabs.xml", "nonuma", { "hugepages=1048576" }, -ERANGE,
          "hugepages: the VM needs 2 pages of 1 GiB, the host has 0 free" },
        { "libvirt-dump.xml", "numa2", { "hugepages=1048576", "numatune=strict#0-1" }, -ERANGE,
          "hugepages: guest cell 2 needs 4 pages of 1 GiB on node 1, which has 0 free" },
        /* One demand model: cell 1 shares nodes 0-1 with cells 0 and 2, which use up their pages there. */
        { "libvirt-dump.xml", "caps:caps-8node.xml", { "hugepages=1048576", "numatune=strict#0-1" }, -ERANGE,
          "hugepages: the VM needs 12 pages of 1 GiB on nodes 0-1, which have 8 free" },
        { "compact.xml", "numa2", { "hugepages=1048576", "guestnuma=0-1#1536M,2-3#2560M" }, -EINVAL,
          "hugepages: guest NUMA cell 0 has 1.5 GiB of memory, not a whole number of 1 GiB pages" },
        /* invtsc, pins, IO threads, booleans */
        { "engine.xml", "numa2", { "invtsc=true" }, -ENODEV,
          "invtsc: the host CPU has no invariant TSC (its flags lack constant_tsc or nonstop_tsc), "
          "so the VM cannot require it" },
        { "compact.xml", "numa1", { "invtsc=true" }, -EINVAL,
          "invtsc: the VM's <cpu> names no CPU model, and libvirt requires a feature only with one "
          "(or with host-passthrough: highperf=true)" },
        { "engine.xml", "numa2", { "emulatorpin=0,8" }, -ERANGE,
          "emulatorpin: host CPU 8 is not online (online CPUs: 0-7)" },
        { "libvirt-dump.xml", "numa2", { "iothreadpin=1#0,2#1" }, -ERANGE,
          "iothreadpin: IO thread 2 does not exist (the VM has 1 IO thread: 1)" },
        { "engine.xml", "numa2", { "iothreadpin=1#0" }, -ERANGE,
          "iothreadpin: IO thread 1 does not exist (the VM has no IO threads: set iothreads)" },
        { "engine.xml", "numa2", { "iothreads=2", "iothreadpin=3#0" }, -ERANGE,
          "iothreadpin: IO thread 3 does not exist (the VM has 2 IO threads: 1-2)" },
        { "engine.xml", "numa2", { "iothreadpin=1#0,2#9", "iothreads=4" }, -ERANGE,
          "iothreadpin: IO thread 2: host CPU 9 is not online (online CPUs: 0-7)" },
        { "engine.xml", "numa2", { "iothreads=65" }, -ERANGE,
          "iothreads: '65': out of range (expected a whole number from 1 to 64)" },
        { "engine.xml", "numa2", { "highperf=maybe" }, -EINVAL,
          "highperf: 'maybe': not a boolean (expected true|false|yes|no|1|0)" },
        { "engine.xml", "numa2", { "nosharepages=on" }, -EINVAL,
          "nosharepages: 'on': not a boolean (expected true|false|yes|no|1|0)" },
        /* The profile refuses what it cannot honour. */
        { "windows.xml", "numa1", { "highperf=true" }, -EINVAL,
          "highperf: the High Performance profile is for non-Windows guests, and this VM is Windows: "
          "its libosinfo metadata names a Microsoft Windows OS" },
        { "windows-osinfo-only.xml", "numa1", { "highperf=true" }, -EINVAL,
          "highperf: the High Performance profile is for non-Windows guests, and this VM is Windows: "
          "its libosinfo metadata names a Microsoft Windows OS" },
        { "usb-hostdev.xml", "numa1", { "highperf=true" }, -EINVAL,
          "highperf: the profile turns USB off, but the VM has a USB host device (<hostdev type='usb'>)" },
        /* guestnuma cannot drop a memory device with its cell. */
        { "numa-refs.xml", NULL, { "guestnuma=0-5#4G" }, -EINVAL,
          "guestnuma: the VM's memory device <memory model='dimm'> (alias ua-dimm0) sits on guest NUMA cell 1, "
          "which guestnuma removes (the VM would have 1 cell): keep that cell or move the device" },
        /* IO threads named by <iothreadids>: 5,1,9,3. */
        { "iothreads-ids.xml", "numa1", { "iothreadpin=2#0" }, -ERANGE,
          "iothreadpin: IO thread 2 does not exist (the VM has 4 IO threads: 1,3,5,9)" },
        { "iothreads-ids.xml", "numa1", { "iothreads=2", "iothreadpin=5#0" }, -ERANGE,
          "iothreadpin: IO thread 5 does not exist (the VM has 2 IO threads: 1,3)" },
        { "iothreads-ids.xml", "numa1", { "iothreads=1" }, -EINVAL,
          "iothreads: disk vda uses IO thread 3 (<driver iothread='3'>), which iothreads=1 removes "
          "(the VM would have IO thread 1): raise iothreads or move the disk to a kept IO thread" },
};

/* The same for small documents written here. */
typedef struct InlineRefusal {
        const char *xml;
        const char *sysfs;
        const char *props[4];
        int code;
        const char *msg;
} InlineRefusal;

#define INLINE_VM(devices) "<domain type='kvm'><name>t</name><memory unit='GiB'>2</memory><vcpu>2</vcpu>" \
        "<iothreads>2</iothreads><os><type arch='x86_64' machine='q35'>hvm</type></os>" \
        "<devices>" devices "</devices></domain>"
#define INLINE_NUMA_VM(devices) "<domain type='kvm'><name>t</name><maxMemory slots='2' unit='GiB'>8</maxMemory>" \
        "<memory unit='GiB'>3</memory><vcpu>2</vcpu><os><type arch='x86_64' machine='q35'>hvm</type></os>" \
        "<cpu><numa><cell id='0' cpus='0' memory='1' unit='GiB'/><cell id='1' cpus='1' memory='1' unit='GiB'/></numa></cpu>" \
        "<devices>" devices "</devices></domain>"

static const InlineRefusal inline_refusals[] = {
        { INLINE_VM("<controller type='scsi' index='0' model='virtio-scsi'><driver iothread='2'/></controller>"),
          "numa1", { "iothreads=1" }, -EINVAL,
          "iothreads: <controller type='scsi' index='0'> uses IO thread 2 (<driver iothread='2'>), which iothreads=1 "
          "removes (the VM would have IO thread 1): raise iothreads or move the controller to a kept IO thread" },
        { INLINE_VM("<disk type='file' device='disk'><driver name='qemu' type='raw'><iothreads><iothread id='1'/>"
                    "<iothread id='2'/></iothreads></driver><source file='/x.img'/><target dev='vdb' bus='virtio'/></disk>"),
          "numa1", { "iothreads=1" }, -EINVAL,
          "iothreads: disk vdb uses IO thread 2 (<driver><iothreads><iothread id='2'>), which iothreads=1 removes "
          "(the VM would have IO thread 1): raise iothreads or move the disk to a kept IO thread" },
        { INLINE_NUMA_VM("<memory model='nvdimm'><source><path>/tmp/nvdimm</path></source>"
                         "<target><size unit='GiB'>1</size><node>1</node></target></memory>"),
          NULL, { "guestnuma=0-1#2G" }, -EINVAL,
          "guestnuma: the VM's memory device <memory model='nvdimm'> (memory device 1) sits on guest NUMA cell 1, "
          "which guestnuma removes (the VM would have 1 cell): keep that cell or move the device" },
        { INLINE_VM("<serial type='pty'><target type='usb-serial' port='1'/></serial>"),
          "numa1", { "highperf=true" }, -EINVAL,
          "highperf: the profile turns USB off, but the VM has a USB serial port (<serial><target type='usb-serial'> "
          "port 1): make it another serial type (e.g. isa-serial), or do not set highperf" },
        { INLINE_VM("<interface type='user'><model type='usb-net'/><address type='usb' bus='0' port='1'/>"
                    "<alias name='ua-net0'/></interface>"),
          "numa1", { "highperf=true" }, -EINVAL,
          "highperf: the profile turns USB off, but the VM's <interface type='user'> (alias ua-net0) is a USB device "
          "(<address type='usb'>): move it off USB, or do not set highperf" },
};

START_TEST(test_inline_refusal)
{
        const InlineRefusal *t = &inline_refusals[_i];
        Golden g = { "inline", "-", t->sysfs, NULL, { 0 }, 0 };
        char *out = (char *)"untouched";
        HpvmWarnings warn = { 0 };
        HpvmError err = { 0 };
        size_t outlen = 0;
        int r;

        memcpy(g.props, t->props, sizeof(t->props));
        r = rewrite(t->xml, strlen(t->xml), &g, &out, &outlen, &warn, &err);
        ck_assert_msg(r == t->code, "got %d (%s)", r, err.msg);
        ck_assert_msg(!strcmp(err.msg, t->msg), "message:\n  got  '%s'\n  want '%s'", err.msg, t->msg);
        ck_assert_ptr_nonnull(strstr(out, "untouched"));
}
END_TEST

/* What an edit warns about, word for word, and what it leaves in the document. */
typedef struct EditCase {
        const char *xml;
        const char *sysfs;
        const char *props[4];
        const char *warning;     /* the one warning expected */
        const char *kept;        /* must be in the output */
        const char *gone;        /* must not be */
} EditCase;

static const EditCase edits[] = {
        /* A pseries PHB (pci-root) names a guest cell like a pxb does: the hint goes, the bus stays. */
        { "<domain><name>t</name><memory unit='GiB'>2</memory><vcpu>2</vcpu><cpu><numa>"
          "<cell id='0' cpus='0' memory='1' unit='GiB'/><cell id='1' cpus='1' memory='1' unit='GiB'/></numa></cpu>"
          "<devices><controller type='pci' index='1' model='pci-root'><target index='1'><node>1</node></target>"
          "</controller></devices></domain>",
          NULL, { "guestnuma=0-1#2G" },
          "guestnuma: removed <node>1</node> from <controller type='pci' index='1' model='pci-root'>: guest NUMA "
          "cell 1 is gone (the VM now has 1 guest NUMA cell), so the bus has no NUMA locality",
          "<target index=\"1\"/>", "<node>" },
        { "<domain><name>t</name><memory unit='GiB'>2</memory><vcpu>2</vcpu><cpu><numa>"
          "<cell id='0' cpus='0' memory='1' unit='GiB'/><cell id='1' cpus='1' memory='1' unit='GiB'/></numa></cpu>"
          "<memoryBacking><hugepages><page size='2048' unit='KiB' nodeset='0-1'/></hugepages></memoryBacking>"
          "<devices/></domain>",
          NULL, { "guestnuma=0-1#2G" },
          "guestnuma: removed guest NUMA cell 1 from <memoryBacking><hugepages><page size='2048' nodeset='0-1'>: "
          "the VM now has 1 guest NUMA cell",
          "<page size=\"2048\" unit=\"KiB\" nodeset=\"0\"/>", "nodeset=\"0-1\"" },
        { "<domain><name>t</name><memory unit='GiB'>2</memory><vcpu>2</vcpu><iothreads>3</iothreads>"
          "<cputune><iothreadsched iothreads='2-3' scheduler='fifo' priority='1'/></cputune><devices/></domain>",
          "numa1", { "iothreads=1" },
          "iothreads: removed <cputune><iothreadsched iothreads='2-3'>: the VM now has 1 IO thread (1)",
          "<iothreads>1</iothreads>", "iothreadsched" },
        { "<domain><name>t</name><memory unit='GiB'>2</memory><vcpu>2</vcpu><iothreads>3</iothreads>"
          "<cputune><iothreadpin iothread='1' cpuset='0'/><iothreadpin iothread='3' cpuset='1'/></cputune><devices/></domain>",
          "numa1", { "iothreads=2" },
          "iothreads: removed <cputune><iothreadpin iothread='3'>: the VM now has 2 IO threads (1-2)",
          "<iothreadpin iothread=\"1\" cpuset=\"0\"/>", "iothread=\"3\"" },
};

START_TEST(test_edit_warns)
{
        const EditCase *t = &edits[_i];
        Golden g = { "edit", "-", t->sysfs, NULL, { 0 }, 0 };
        _cleanup_free_ char *out = NULL, *again = NULL;
        HpvmWarnings warn = { 0 }, warn2 = { 0 };
        HpvmError err = { 0 };
        size_t outlen, againlen;

        memcpy(g.props, t->props, sizeof(t->props));
        ck_assert_msg(rewrite(t->xml, strlen(t->xml), &g, &out, &outlen, &warn, &err) == 0, "%s", err.msg);
        ck_assert_uint_eq(warn.n, 1);
        ck_assert_msg(!strcmp(warn.msg[0], t->warning), "warning:\n  got  '%s'\n  want '%s'", warn.msg[0], t->warning);
        ck_assert_msg(strstr(out, t->kept), "'%s' missing from:\n%s", t->kept, out);
        ck_assert_msg(!strstr(out, t->gone), "'%s' left in:\n%s", t->gone, out);
        ck_assert_int_eq(rewrite(out, outlen, &g, &again, &againlen, &warn2, &err), 0);
        ck_assert_msg(!again, "second run changed the XML");
        ck_assert_uint_eq(warn2.n, 0);
}
END_TEST

START_TEST(test_refusal)
{
        const Refusal *t = &refusals[_i];
        /* "caps:<file>" names a capabilities file instead of a sysfs tree. */
        bool caps = t->sysfs && !strncmp(t->sysfs, "caps:", 5);
        Golden g = { "refusal", t->input, caps ? NULL : t->sysfs, caps ? t->sysfs + 5 : NULL, { 0 }, 0 };
        _cleanup_free_ char *p = NULL, *in = NULL;
        char *out = (char *)"untouched";
        HpvmWarnings warn = { 0 };
        HpvmError err = { 0 };
        char rel[256];
        size_t len, outlen = 0;
        int r;

        memcpy(g.props, t->props, sizeof(t->props));
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

/* Properties that change nothing leave the document alone: not even re-serialized (the file keeps its bytes). */
START_TEST(test_no_change)
{
        static const Golden cases[] = {
                { "nosharepages-off", "libvirt-dump.xml", "numa1", NULL, { "nosharepages=false", "invtsc=0" }, 0 },
                { "highperf-false", "engine.xml", "numa1", NULL, { "highperf=false" }, 0 },
                { "same pins", "libvirt-dump.xml", "numa2", NULL, { "cputune=1#3,5#7" }, 0 },
        };
        const Golden *g = &cases[_i];
        _cleanup_free_ char *p = NULL, *in = NULL;
        char *out = NULL, rel[256];
        HpvmWarnings warn = { 0 };
        HpvmError err = { 0 };
        size_t len, outlen = 0;

        snprintf(rel, sizeof(rel), "tests/data/domains/%s", g->input);
        p = th_src(rel);
        in = th_slurp(p, &len);
        ck_assert_msg(rewrite(in, len, g, &out, &outlen, &warn, &err) == 0, "%s: %s", g->name, err.msg);
        ck_assert_msg(!out, "%s: the rewrite says the document changed", g->name);
        ck_assert_uint_eq(outlen, 0);
}
END_TEST

/* Found by fuzzing: only the first <distances> of a cell was pruned, so a second run changed the XML. */
START_TEST(test_every_distances_pruned)
{
        static const char in[] = "<domain><memory>1048576</memory><vcpu>1</vcpu><cpu><numa>"
                                 "<cell id='0' cpus='0' memory='1048576'>"
                                 "<distances><sibling id='1' value='20'/></distances>"
                                 "<distances><sibling id='0' value='10'/><sibling id='1' value='20'/></distances>"
                                 "</cell></numa></cpu></domain>";
        static const Golden g = { "distances", "-", NULL, NULL, { "guestnuma=0#1048576" }, 0 };
        _cleanup_free_ char *out = NULL, *again = NULL;
        HpvmWarnings warn = { 0 };
        HpvmError err = { 0 };
        size_t outlen, againlen;

        ck_assert_int_eq(rewrite(in, sizeof(in) - 1, &g, &out, &outlen, &warn, &err), 0);
        ck_assert_ptr_null(strstr(out, "sibling id=\"1\""));
        ck_assert_ptr_nonnull(strstr(out, "<sibling id=\"0\" value=\"10\"/>"));
        ck_assert_int_eq(rewrite(out, outlen, &g, &again, &againlen, &warn, &err), 0);
        ck_assert_msg(!again, "second run changed the XML");
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
        tcase_add_loop_test(tc, test_inline_refusal, 0, HPVM_ARRAY_SIZE(inline_refusals));
        tcase_add_loop_test(tc, test_edit_warns, 0, HPVM_ARRAY_SIZE(edits));
        tcase_add_loop_test(tc, test_bad_xml, 0, HPVM_ARRAY_SIZE(bad_xml));
        tcase_add_test(tc, test_too_large);
        tcase_add_test(tc, test_every_distances_pruned);
        tcase_add_loop_test(tc, test_no_change, 0, 3);
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
