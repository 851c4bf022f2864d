/* capsgen.c: `virsh capabilities` XML of generated hosts, shaped like libvirt's own output. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capsgen.h"

typedef struct Buf {
        char *s;
        size_t len, cap;
        bool oom;
} Buf;

static void add(Buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(Buf *b, const char *fmt, ...)
{
        va_list ap;
        size_t cap;
        char *grown;
        int n;

        if (b->oom)
                return;
        for (;;) {
                va_start(ap, fmt);
                n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
                va_end(ap);
                if (n < 0) {
                        b->oom = true;
                        return;
                }
                if (b->s && b->len + (size_t)n < b->cap) {
                        b->len += (size_t)n;
                        return;
                }
                cap = (b->cap ? b->cap : 4096) * 2;
                while (cap < b->len + (size_t)n + 1)
                        cap *= 2;
                grown = realloc(b->s, cap);
                if (!grown) {
                        b->oom = true;
                        return;
                }
                b->s = grown;
                b->cap = cap;
        }
}

/* The CPU id of thread @t of core @c of cell @n. */
static unsigned cpu_id(const ThCapsSpec *s, unsigned n, unsigned c, unsigned t)
{
        return t * s->nodes * s->cores + n * s->cores + c;
}

static void add_siblings(Buf *b, const ThCapsSpec *s, unsigned n, unsigned c)
{
        for (unsigned t = 0; t < s->threads; t++)
                add(b, "%s%u", t ? "," : "", cpu_id(s, n, c, t));
}

/* What libvirt prints around the topology: enough of it that a parser meets real-sized documents. */
static const char *const features[] = {
        "ds", "acpi", "ss", "ht", "tm", "pbe", "dtes64", "monitor", "ds_cpl", "vmx", "est", "tm2", "xtpr",
        "pdcm", "dca", "osxsave", "tsc_adjust", "cmt", "intel-pt", "pku", "md-clear", "stibp", "flush-l1d",
        "xsaves", "pdpe1gb",
};

char *th_caps_xml(const ThCapsSpec *s)
{
        Buf b = { 0 };

        if (!s->nodes || !s->cores || !s->threads)
                return NULL;
        add(&b, "<capabilities>\n\n  <host>\n");
        if (s->uuid)
                add(&b, "    <uuid>%s</uuid>\n", s->uuid);
        add(&b, "    <cpu>\n      <arch>x86_64</arch>\n      <model>Cascadelake-Server-noTSX</model>\n"
                "      <vendor>Intel</vendor>\n      <topology sockets='1' dies='1' cores='%u' threads='%u'/>\n",
            s->cores, s->threads);
        for (size_t i = 0; i < sizeof(features) / sizeof(features[0]); i++)
                add(&b, "      <feature name='%s'/>\n", features[i]);
        if (s->invtsc)
                add(&b, "      <feature name='invtsc'/>\n");
        add(&b, "      <pages unit='KiB' size='4'/>\n      <pages unit='KiB' size='2048'/>\n"
                "      <pages unit='KiB' size='1048576'/>\n    </cpu>\n"
                "    <power_management>\n      <suspend_mem/>\n    </power_management>\n"
                "    <iommu support='yes'/>\n    <migration_features>\n      <live/>\n"
                "      <uri_transports>\n        <uri_transport>tcp</uri_transport>\n"
                "      </uri_transports>\n    </migration_features>\n");
        add(&b, "    <topology>\n      <cells num='%u'>\n", s->nodes);
        for (unsigned n = 0; n < s->nodes; n++) {
                add(&b, "        <cell id='%u'>\n", n);
                if (s->mem_kib)
                        add(&b, "          <memory unit='KiB'>%llu</memory>\n"
                                "          <pages unit='KiB' size='4'>%llu</pages>\n",
                            (unsigned long long)s->mem_kib, (unsigned long long)(s->mem_kib / 4));
                add(&b, "          <pages unit='KiB' size='2048'>%llu</pages>\n"
                        "          <pages unit='KiB' size='1048576'>0</pages>\n",
                    (unsigned long long)s->pages_2m);
                if (s->remote) {
                        add(&b, "          <distances>\n");
                        for (unsigned m = 0; m < s->nodes; m++)
                                add(&b, "            <sibling id='%u' value='%u'/>\n", m, m == n ? 10 : s->remote);
                        add(&b, "          </distances>\n");
                }
                add(&b, "          <cpus num='%u'>\n", s->cores * s->threads);
                for (unsigned t = 0; t < s->threads; t++)
                        for (unsigned c = 0; c < s->cores; c++) {
                                add(&b, "            <cpu id='%u' socket_id='%u' die_id='0' core_id='%u' siblings='",
                                    cpu_id(s, n, c, t), n, c);
                                add_siblings(&b, s, n, c);
                                add(&b, "'/>\n");
                        }
                add(&b, "          </cpus>\n        </cell>\n");
        }
        add(&b, "      </cells>\n    </topology>\n    <secmodel>\n      <model>dac</model>\n      <doi>0</doi>\n"
                "      <baselabel type='kvm'>+107:+107</baselabel>\n    </secmodel>\n  </host>\n\n");
        /* Two guest arches with their machine types, as a RHEL 9 host lists them. */
        for (int arch = 0; arch < 2; arch++) {
                add(&b, "  <guest>\n    <os_type>hvm</os_type>\n    <arch name='%s'>\n      <wordsize>%d</wordsize>\n"
                        "      <emulator>/usr/libexec/qemu-kvm</emulator>\n",
                    arch ? "i686" : "x86_64", arch ? 32 : 64);
                for (int m = 0; m <= 6; m++)
                        add(&b, "      <machine maxCpus='710'>pc-q35-rhel9.%d.0</machine>\n"
                                "      <machine maxCpus='240'>pc-i440fx-rhel7.%d.0</machine>\n"
                                "      <machine maxCpus='710'>pc-q35-rhel8.%d.0</machine>\n", m, m, m);
                add(&b, "      <machine canonical='pc-q35-rhel9.6.0' maxCpus='710'>q35</machine>\n"
                        "      <machine canonical='pc-i440fx-rhel7.6.0' maxCpus='240'>pc</machine>\n"
                        "      <domain type='qemu'/>\n      <domain type='kvm'/>\n    </arch>\n"
                        "    <features>\n      <acpi default='on' toggle='yes'/>\n      <apic default='on' toggle='no'/>\n"
                        "      <cpuselection/>\n      <deviceboot/>\n      <disksnapshot default='on' toggle='no'/>\n"
                        "    </features>\n  </guest>\n\n");
        }
        add(&b, "</capabilities>\n");
        if (b.oom) {
                free(b.s);
                return NULL;
        }
        return b.s;
}

int th_caps_write(const char *path, const ThCapsSpec *s)
{
        char *xml = th_caps_xml(s);
        FILE *f;
        int r = 0;

        if (!xml)
                return -ENOMEM;
        f = fopen(path, "w");
        if (!f) {
                r = -errno;
                free(xml);
                return r;
        }
        if (fputs(xml, f) == EOF)
                r = -EIO;
        if (fclose(f) != 0 && r == 0)
                r = -errno;
        free(xml);
        return r;
}
