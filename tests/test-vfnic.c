/* test-vfnic.c: the VF NICs of oVirt domain XML fixtures, their metadata and migratable flag, the host-address rewrite (nothing else changes),
 * the re-plug <interface> and the hot-unplug parser; every output valid per libvirt's schema and accepted by libvirt's parser (test:/// driver). */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "domxml.h"
#include "testhelp.h"
#include "vfnic.h"
#include "xml.h"

/* ------------------------------------------------------------ helpers */

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
        ck_assert_msg(dom, "%s: libvirt refuses it: %s", name, virGetLastErrorMessage());
        virDomainUndefine(dom);
        virDomainFree(dom);
        virConnectClose(c);
}

static void assert_schema_valid(const char *name, const char *xml)
{
        char why[1024];

        ck_assert_msg(th_schema_valid(xml, strlen(xml), why, sizeof(why)), "%s: not valid per domain.rng: %s", name, why);
}

static char *fixture(const char *name, size_t *len)
{
        char rel[256];
        _cleanup_free_ char *p = NULL;

        snprintf(rel, sizeof(rel), "tests/data/domains/%s", name);
        p = th_src(rel);
        return th_slurp(p, len);
}

static HpvmDomain *parse(const char *xml)
{
        HpvmDomain *d = NULL;
        HpvmError err = { 0 };

        ck_assert_msg(hpvm_domain_parse(xml, strlen(xml), &d, &err) == 0, "%s", err.msg);
        return d;
}

static char *format(const HpvmDomain *d)
{
        HpvmError err = { 0 };
        char *out = NULL;
        size_t len;

        ck_assert_msg(hpvm_domain_format(d, &out, &len, &err) == 0, "%s", err.msg);
        ck_assert_uint_eq(strlen(out), len);
        return out;
}

static const char *const from_names[] = {
        [HPVM_MIGRATABLE_DEFAULT] = "default",
        [HPVM_MIGRATABLE_DEVICE] = "device",
        [HPVM_MIGRATABLE_VM] = "vm",
};

/* Every fact of a NIC on one line. */
static void summary(const HpvmVfNic *n, char *buf, size_t size)
{
        char host[HPVM_PCI_ADDR_STRLEN] = "-", guest[HPVM_PCI_ADDR_STRLEN] = "-", team[HPVM_ALIAS_MAX + 32] = "";

        if (n->has_host)
                hpvm_pci_addr_format(&n->host, host, sizeof(host));
        if (n->has_guest)
                hpvm_pci_addr_format(&n->guest, guest, sizeof(guest));
        if (n->failover)
                snprintf(team, sizeof(team), " failover %s%s", n->persistent, n->backup_found ? " backup" : "");
        snprintf(buf, size, "%s host %s %s alias %s guest %s mtu %u vlan %s%s net %s migratable %s (%s)",
                 n->mac[0] ? n->mac : "-", host, n->managed ? "managed" : "unmanaged", n->alias[0] ? n->alias : "-",
                 guest, n->mtu, n->vlan_xml ? n->vlan_xml : "-", team, n->network[0] ? n->network : "-",
                 n->migratable ? "yes" : "no", from_names[n->migratable_from]);
}

/* All NICs, one summary per line. */
static char *summaries(const HpvmVfNic *nics, size_t n)
{
        char *buf = NULL, line[1024];
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        ck_assert_ptr_nonnull(f);
        for (size_t i = 0; i < n; i++) {
                summary(&nics[i], line, sizeof(line));
                fprintf(f, "%s\n", line);
        }
        fclose(f);
        return buf;
}

/*
 * The document with the values of domain/bus/slot/function of every
 * <source><address> replaced by "*": what must stay equal when only host
 * addresses change.
 */
static char *mask_sources(const char *xml)
{
        static const char *const attrs[] = { " domain=\"", " bus=\"", " slot=\"", " function=\"" };
        char *out = strdup(xml), *p = out;

        ck_assert_ptr_nonnull(out);
        while ((p = strstr(p, "<source>"))) {
                char *addr = p + strlen("<source>"), *end;

                addr += strspn(addr, " \t\r\n");
                p = addr;
                if (strncmp(addr, "<address ", 9))
                        continue;
                end = strchr(addr, '>');
                ck_assert_ptr_nonnull(end);
                for (size_t i = 0; i < HPVM_ARRAY_SIZE(attrs); i++) {
                        char *v = strstr(addr, attrs[i]), *q;

                        if (!v || v > end)
                                continue;
                        v += strlen(attrs[i]);
                        q = strchr(v, '"');
                        /* "*" and the closing quote; the rest of the document moves up. */
                        *v = '*';
                        memmove(v + 1, q, strlen(q) + 1);
                        end = strchr(addr, '>');
                }
        }
        return out;
}

/* A q35 domain with six free PCIe root ports, for one <interface> at @iface. */
static char *wrap_interface(const char *iface)
{
        static const char head[] =
                "<domain type=\"qemu\">\n  <name>hpvm-replug</name>\n  <memory unit=\"KiB\">262144</memory>\n"
                "  <os>\n    <type arch=\"x86_64\" machine=\"pc-q35-7.2\">hvm</type>\n  </os>\n  <devices>\n"
                "    <controller type=\"pci\" index=\"0\" model=\"pcie-root\"/>\n";
        char *out = NULL, port[256];
        size_t size = 0;
        FILE *f = open_memstream(&out, &size);

        ck_assert_ptr_nonnull(f);
        fputs(head, f);
        for (int i = 1; i <= 6; i++) {
                snprintf(port, sizeof(port),
                         "    <controller type=\"pci\" index=\"%d\" model=\"pcie-root-port\"><target chassis=\"%d\" "
                         "port=\"0x%x\"/><address type=\"pci\" domain=\"0x0000\" bus=\"0x00\" slot=\"0x02\" "
                         "function=\"0x%x\"%s/></controller>\n",
                         i, i, 0x10 + i - 1, i - 1, i == 1 ? " multifunction=\"on\"" : "");
                fputs(port, f);
        }
        fprintf(f, "    <interface type=\"user\"><mac address=\"56:6f:1a:2b:00:10\"/><model type=\"virtio\"/>"
                   "<teaming type=\"persistent\"/><alias name=\"ua-backup0\"/></interface>\n");
        fputs(iface, f);
        fputs("  </devices>\n</domain>\n", f);
        fclose(f);
        return out;
}

/* ------------------------------------------------------------ fixtures */

static const char *const fixtures[] = { "sriov-engine.xml", "sriov-failover.xml" };

START_TEST(test_fixtures)
{
        /* Valid, accepted, and written the way libxml2 writes them: a rewrite shows only its own change. */
        _cleanup_free_ char *in = NULL, *out = NULL;
        HpvmDomain *d;
        size_t len;

        in = fixture(fixtures[_i], &len);
        assert_schema_valid(fixtures[_i], in);
        assert_libvirt_accepts(fixtures[_i], in);
        d = parse(in);
        out = format(d);
        ck_assert_msg(!strcmp(in, out), "%s: does not survive parse + format byte for byte", fixtures[_i]);
        hpvm_domain_free(d);
}
END_TEST

/* ------------------------------------------------------------ reading */

#define FO_ENGINE "56:6f:1a:2b:00:10 host 0000:3b:02.0 managed alias ua-sriov-fo guest 0000:03:00.0 mtu 0 vlan - " \
                  "failover ua-backup0 backup net sriov-fo migratable no (device)\n"
#define A_ENGINE "56:6f:1a:2b:00:11 host 0000:3b:02.1 managed alias ua-sriov-a guest 0000:04:00.0 mtu 0 " \
                 "vlan <vlan><tag id=\"100\"/></vlan> net sriov-a migratable yes (device)\n"
#define B_ENGINE(m) "56:6f:1a:2b:00:12 host 0000:af:00.2 unmanaged alias ua-sriov-b guest 0000:05:00.0 mtu 0 " \
                    "vlan <vlan><tag id=\"2001\"/></vlan> net sriov-b migratable " m "\n"
#define FO_FAILOVER(m) "52:54:00:aa:00:01 host 0000:3b:02.4 managed alias ua-sriov-fo guest 0000:02:00.0 mtu 0 vlan - " \
                       "failover ua-backup0 backup net sriov-fo migratable " m "\n"

typedef struct Read {
        const char *fixture;
        const char *vm_prop;
        const char *want;
} Read;

static const Read reads[] = {
        /* The device property wins; the VM property decides the rest; neither: not migratable. */
        { "sriov-engine.xml", NULL, FO_ENGINE A_ENGINE B_ENGINE("no (default)") },
        { "sriov-engine.xml", "", FO_ENGINE A_ENGINE B_ENGINE("no (default)") },
        { "sriov-engine.xml", "56:6f:1a:2b:00:12", FO_ENGINE A_ENGINE B_ENGINE("yes (vm)") },
        { "sriov-engine.xml", "all", FO_ENGINE A_ENGINE B_ENGINE("yes (vm)") },
        { "sriov-engine.xml", "56:6F:1A:2B:00:11,56:6f:1a:2b:00:10", FO_ENGINE A_ENGINE B_ENGINE("no (vm)") },
        { "sriov-failover.xml", NULL, FO_FAILOVER("no (default)") },
        { "sriov-failover.xml", "All", FO_FAILOVER("yes (vm)") },
};

START_TEST(test_read)
{
        const Read *t = &reads[_i];
        _cleanup_free_ char *in = NULL, *got = NULL;
        _cleanup_domain_ HpvmDomain *d = NULL;
        HpvmVfNic *nics = NULL;
        HpvmError err = { 0 };
        size_t n = 99;

        in = fixture(t->fixture, NULL);
        d = parse(in);
        ck_assert_msg(hpvm_vfnics_read(d, t->vm_prop, &nics, &n, &err) == 0, "%s", err.msg);
        got = summaries(nics, n);
        ck_assert_str_eq(got, t->want);
        for (size_t i = 0; i < n; i++) {
                _cleanup_xmlchar_ xmlChar *type = hpvm_xml_prop(nics[i].node, "type");

                ck_assert_str_eq((const char *)nics[i].node->name, "interface");
                ck_assert_str_eq((const char *)type, "hostdev");
        }
        hpvm_vfnics_free(nics, n);
}
END_TEST

/* Small domains for what the fixtures do not show, and for every refusal. */
#define DOM(devices) "<domain type='kvm' xmlns:ovirt-vm='http://ovirt.org/vm/1.0'><name>x</name><devices>" devices \
                     "</devices></domain>"
#define DOM_MD(md, devices) "<domain type='kvm'><name>x</name><metadata><ovirt-vm:vm xmlns:ovirt-vm='http://ovirt.org/vm/1.0'>" \
                            md "</ovirt-vm:vm></metadata><devices>" devices "</devices></domain>"
#define HD(inner) "<interface type='hostdev'>" inner "</interface>"
#define SRC(attrs) "<source><address type='pci' " attrs "/></source>"
#define MAC1 "<mac address='00:1a:4a:16:01:51'/>"
#define ADDR_WANT(max) " (expected 0x0 to 0x" max ": hex with 0x, or decimal without leading zeros)"

typedef struct ReadXml {
        const char *xml;
        const char *vm_prop;
        int code;
        const char *want;       /* summaries, or the message */
} ReadXml;

static const ReadXml read_xmls[] = {
        /* No VF NICs: nothing, and no allocation. */
        { DOM("<interface type='bridge'><mac address='00:1a:4a:16:01:51'/><source bridge='br0'/></interface>"), NULL, 0, "" },
        { "<domain><name>x</name></domain>", "all", 0, "" },
        /* A hostdev interface on a USB device, one without a MAC, decimal and uppercase-hex addresses. */
        { DOM(HD("<source><address type='usb' bus='1' device='2'/></source>")), NULL, 0,
          "- host - unmanaged alias - guest - mtu 0 vlan - net - migratable no (default)\n" },
        { DOM(HD(SRC("domain='0' bus='59' slot='31' function='7'") "<address type='pci' bus='0x01'/>")), "all", 0,
          "- host 0000:3b:1f.7 unmanaged alias - guest 0000:01:00.0 mtu 0 vlan - net - migratable no (vm)\n" },
        { DOM(HD(MAC1 SRC("bus='0x3B' slot='0x1F' function='0x7'") "<address type='pci' domain='0x0000' bus='0x01' slot='0' function='0'/>")),
          NULL, 0, "00:1a:4a:16:01:51 host 0000:3b:1f.7 unmanaged alias - guest 0000:01:00.0 mtu 0 vlan - net - migratable no (default)\n" },
        /* Blank text inside <vlan> goes; attributes and every tag stay. */
        { DOM(HD(MAC1 "<vlan trunk='yes'>\n  <tag id='42'/>\n  <tag id='47' nativeMode='untagged'/>\n</vlan>")), NULL, 0,
          "00:1a:4a:16:01:51 host - unmanaged alias - guest - mtu 0 "
          "vlan <vlan trunk=\"yes\"><tag id=\"42\"/><tag id=\"47\" nativeMode=\"untagged\"/></vlan> net - migratable no (default)\n" },
        /* A transient team member without its persistent partner (or with another MAC) has no backup. */
        { DOM("<interface type='user'><mac address='00:1a:4a:16:01:52'/><model type='virtio'/><teaming type='persistent'/>"
              "<alias name='ua-b'/></interface>" HD(MAC1 "<teaming type='transient' persistent='ua-b'/>")), NULL, 0,
          "00:1a:4a:16:01:51 host - unmanaged alias - guest - mtu 0 vlan - failover ua-b net - migratable no (default)\n" },
        /* Metadata matched by MAC in any case; empty property = not set; a namespace other than oVirt's is not oVirt's. */
        { DOM_MD("<ovirt-vm:device mac_address='00:1A:4A:16:01:51'><ovirt-vm:network> sriov-x\n</ovirt-vm:network>"
                 "<ovirt-vm:custom><ovirt-vm:sriov_migratable> </ovirt-vm:sriov_migratable></ovirt-vm:custom></ovirt-vm:device>",
                 HD(MAC1)), "00:1a:4a:16:01:51", 0,
          "00:1a:4a:16:01:51 host - unmanaged alias - guest - mtu 0 vlan - net sriov-x migratable yes (vm)\n" },
        { DOM_MD("<ovirt-vm:device mac_address='00:1a:4a:16:01:51'><ovirt-vm:custom><ovirt-vm:sriov_migratable>1"
                 "</ovirt-vm:sriov_migratable></ovirt-vm:custom></ovirt-vm:device>", HD(MAC1)), "02:00:00:00:00:01", 0,
          "00:1a:4a:16:01:51 host - unmanaged alias - guest - mtu 0 vlan - net - migratable yes (device)\n" },
        { "<domain><name>x</name><metadata><v:vm xmlns:v='urn:other'><v:device mac_address='00:1a:4a:16:01:51'>"
          "<v:network>n</v:network></v:device></v:vm></metadata><devices>" HD(MAC1) "</devices></domain>", NULL, 0,
          "00:1a:4a:16:01:51 host - unmanaged alias - guest - mtu 0 vlan - net - migratable no (default)\n" },
        /* Refusals. */
        { DOM(HD("<mac address='00:1a:4a:16:01'/>")), NULL, -EINVAL,
          "domain XML: VF NIC #1: <mac address='00:1a:4a:16:01'>: not a MAC address like 00:1a:4a:16:01:51" },
        { DOM(HD(MAC1) HD("<mac/>")), NULL, -EINVAL,
          "domain XML: VF NIC #2: <mac address=''>: not a MAC address like 00:1a:4a:16:01:51" },
        { DOM(HD(MAC1 SRC("bus='0x1ff'"))), NULL, -EINVAL,
          "domain XML: VF NIC 00:1a:4a:16:01:51: <source><address> bus='0x1ff': not a PCI bus number" ADDR_WANT("ff") },
        { DOM(HD(MAC1 SRC("slot='0x20'"))), NULL, -EINVAL,
          "domain XML: VF NIC 00:1a:4a:16:01:51: <source><address> slot='0x20': not a PCI slot number" ADDR_WANT("1f") },
        { DOM(HD(MAC1 SRC("function='8'"))), NULL, -EINVAL,
          "domain XML: VF NIC 00:1a:4a:16:01:51: <source><address> function='8': not a PCI function number" ADDR_WANT("7") },
        { DOM(HD(MAC1 SRC("domain='0x10000'"))), NULL, -EINVAL,
          "domain XML: VF NIC 00:1a:4a:16:01:51: <source><address> domain='0x10000': not a PCI domain number" ADDR_WANT("ffff") },
        { DOM(HD(MAC1 SRC("bus='010'"))), NULL, -EINVAL,
          "domain XML: VF NIC 00:1a:4a:16:01:51: <source><address> bus='010': not a PCI bus number" ADDR_WANT("ff") },
        { DOM(HD(MAC1 SRC("bus='-1'"))), NULL, -EINVAL,
          "domain XML: VF NIC 00:1a:4a:16:01:51: <source><address> bus='-1': not a PCI bus number" ADDR_WANT("ff") },
        { DOM(HD(MAC1 SRC("bus='0x'"))), NULL, -EINVAL,
          "domain XML: VF NIC 00:1a:4a:16:01:51: <source><address> bus='0x': not a PCI bus number" ADDR_WANT("ff") },
        { DOM(HD(MAC1 SRC("bus='0x0000000001'"))), NULL, -EINVAL,
          "domain XML: VF NIC 00:1a:4a:16:01:51: <source><address> bus='0x0000000001': not a PCI bus number" ADDR_WANT("ff") },
        { DOM(HD(MAC1 SRC("bus='0X01'"))), NULL, -EINVAL,
          "domain XML: VF NIC 00:1a:4a:16:01:51: <source><address> bus='0X01': not a PCI bus number" ADDR_WANT("ff") },
        { DOM(HD(MAC1 SRC("bus=' 5'"))), NULL, -EINVAL,
          "domain XML: VF NIC 00:1a:4a:16:01:51: <source><address> bus=' 5': not a PCI bus number" ADDR_WANT("ff") },
        { DOM(HD(MAC1 "<address type='pci' slot='0xzz'/>")), NULL, -EINVAL,
          "domain XML: VF NIC 00:1a:4a:16:01:51: <address> slot='0xzz': not a PCI slot number" ADDR_WANT("1f") },
        { DOM(HD(MAC1 "<alias name='ua sriov'/>")), NULL, -EINVAL,
          "domain XML: VF NIC 00:1a:4a:16:01:51: <alias name> 'ua sriov' is not an alias (expected letters, digits, '_', '.', '-')" },
        { DOM(HD(MAC1 "<alias name=''/>")), NULL, -EINVAL,
          "domain XML: VF NIC 00:1a:4a:16:01:51: <alias name> '' is not an alias (expected letters, digits, '_', '.', '-')" },
        { DOM(HD(MAC1 "<mtu size='9k'/>")), NULL, -EINVAL,
          "domain XML: VF NIC 00:1a:4a:16:01:51: <mtu size='9k'>: not a size in bytes" },
        { DOM(HD(MAC1 "<mtu size='4294967296'/>")), NULL, -EINVAL,
          "domain XML: VF NIC 00:1a:4a:16:01:51: <mtu size='4294967296'>: not a size in bytes" },
        { DOM(HD(MAC1 "<teaming type='transient'/>")), NULL, -EINVAL,
          "domain XML: VF NIC 00:1a:4a:16:01:51: <teaming type='transient'> names no persistent= interface" },
        { DOM(HD(MAC1 "<teaming type='transient' persistent='a/b'/>")), NULL, -EINVAL,
          "domain XML: VF NIC 00:1a:4a:16:01:51: <teaming persistent> 'a/b' is not an alias (expected letters, digits, '_', '.', '-')" },
        { DOM_MD("<ovirt-vm:device mac_address='00:1a:4a:16:01:51'><ovirt-vm:custom><ovirt-vm:sriov_migratable>maybe"
                 "</ovirt-vm:sriov_migratable></ovirt-vm:custom></ovirt-vm:device>", HD(MAC1)), "all", -EINVAL,
          "domain XML: VF NIC 00:1a:4a:16:01:51: vNIC profile property sriov_migratable: 'maybe': not a boolean "
          "(expected true|false|yes|no|1|0)" },
        { DOM(HD(MAC1)), "00:1a:4a:16:01:5x", -EINVAL,
          "sriov_migratable: '00:1a:4a:16:01:5x': '00:1a:4a:16:01:5x' is not a MAC address like 00:1a:4a:16:01:51 "
          "(expected all or a comma-separated list of MAC addresses)" },
};

START_TEST(test_read_xml)
{
        const ReadXml *t = &read_xmls[_i];
        _cleanup_domain_ HpvmDomain *d = parse(t->xml);
        HpvmVfNic *nics = (HpvmVfNic *)&read_xmls;
        HpvmError err = { 0 };
        size_t n = 99;
        int r;

        r = hpvm_vfnics_read(d, t->vm_prop, &nics, &n, &err);
        ck_assert_msg(r == t->code, "got %d (%s)", r, err.msg);
        if (r == 0) {
                _cleanup_free_ char *got = summaries(nics, n);

                ck_assert_str_eq(got, t->want);
                if (n == 0)
                        ck_assert_ptr_null(nics);
                hpvm_vfnics_free(nics, n);
        } else {
                ck_assert_str_eq(err.msg, t->want);
                ck_assert_ptr_eq(nics, (HpvmVfNic *)&read_xmls);
                ck_assert_uint_eq(n, 99);
        }
}
END_TEST

START_TEST(test_read_limits)
{
        char *xml = NULL, name[300];
        size_t size = 0;
        FILE *f = open_memstream(&xml, &size);
        HpvmDomain *d;
        HpvmVfNic *nics = NULL;
        HpvmError err = { 0 };
        size_t n = 0;

        /* HPVM_VFNICS_MAX VF NICs are read (each with its VLAN copy), one more is refused. */
        ck_assert_ptr_nonnull(f);
        fputs("<domain><name>x</name><devices>", f);
        for (int i = 0; i < HPVM_VFNICS_MAX; i++)
                fprintf(f, "<interface type='hostdev'><mac address='02:00:00:00:%02x:%02x'/><vlan><tag id='%d'/></vlan></interface>",
                        i >> 8, i & 0xff, i + 1);
        fflush(f);
        {
                _cleanup_free_ char *whole = NULL;

                ck_assert_int_ge(asprintf(&whole, "%s</devices></domain>", xml), 0);
                d = parse(whole);
        }
        ck_assert_msg(hpvm_vfnics_read(d, NULL, &nics, &n, &err) == 0, "%s", err.msg);
        ck_assert_uint_eq(n, HPVM_VFNICS_MAX);
        ck_assert_str_eq(nics[255].vlan_xml, "<vlan><tag id=\"256\"/></vlan>");
        hpvm_vfnics_free(nics, n);
        hpvm_domain_free(d);
        fputs("<interface type='hostdev'/></devices></domain>", f);
        fclose(f);
        d = parse(xml);
        nics = NULL;
        ck_assert_int_eq(hpvm_vfnics_read(d, NULL, &nics, &n, &err), -E2BIG);
        ck_assert_str_eq(err.msg, "domain XML: more than 256 VF NICs (<interface type='hostdev'>)");
        ck_assert_ptr_null(nics);
        hpvm_domain_free(d);
        free(xml);

        /* An oVirt network name of 255 bytes is fine, 256 is not. */
        memset(name, 'n', sizeof(name));
        for (int len = 255; len <= 256; len++) {
                char *x = NULL;

                ck_assert_int_ge(asprintf(&x, DOM_MD("<ovirt-vm:device mac_address='00:1a:4a:16:01:51'><ovirt-vm:network>%.*s"
                                                     "</ovirt-vm:network></ovirt-vm:device>", HD(MAC1)), len, name), 0);
                d = parse(x);
                n = 0;
                if (len == 255) {
                        ck_assert_msg(hpvm_vfnics_read(d, NULL, &nics, &n, &err) == 0, "%s", err.msg);
                        ck_assert_uint_eq(strlen(nics[0].network), 255);
                        hpvm_vfnics_free(nics, n);
                } else {
                        ck_assert_int_eq(hpvm_vfnics_read(d, NULL, &nics, &n, &err), -E2BIG);
                        ck_assert_ptr_nonnull(strstr(err.msg, "' is longer than 255 bytes"));
                        ck_assert_msg(!strncmp(err.msg, "domain XML: VF NIC 00:1a:4a:16:01:51: <ovirt-vm:network> 'nnnn",
                                               strlen("domain XML: VF NIC 00:1a:4a:16:01:51: <ovirt-vm:network> 'nnnn")),
                                      "%s", err.msg);
                }
                hpvm_domain_free(d);
                free(x);
        }
}
END_TEST

/* ------------------------------------------------------------ rewriting the host address */

typedef struct Move {
        const char *fixture;
        const char *to[3];      /* new host VF per NIC, in document order */
        const char *lines[3];   /* the <source><address> lines of the output */
} Move;

static const Move moves[] = {
        { "sriov-engine.xml", { "0000:5e:01.7", "0000:5e:02.0", "0001:d8:1f.3" },
          { "<address type=\"pci\" domain=\"0x0000\" bus=\"0x5e\" slot=\"0x01\" function=\"0x7\"/>",
            "<address type=\"pci\" domain=\"0x0000\" bus=\"0x5e\" slot=\"0x02\" function=\"0x0\"/>",
            "<address type=\"pci\" domain=\"0x0001\" bus=\"0xd8\" slot=\"0x1f\" function=\"0x3\"/>" } },
        /* The same VFs: the document does not change (decimal attributes become libvirt's hex). */
        { "sriov-engine.xml", { "0000:3b:02.0", "0000:3b:02.1", "0000:af:00.2" },
          { "<address type=\"pci\" domain=\"0x0000\" bus=\"0x3b\" slot=\"0x02\" function=\"0x0\"/>",
            "<address type=\"pci\" domain=\"0x0000\" bus=\"0x3b\" slot=\"0x02\" function=\"0x1\"/>",
            "<address type=\"pci\" domain=\"0x0000\" bus=\"0xaf\" slot=\"0x00\" function=\"0x2\"/>" } },
        { "sriov-failover.xml", { "0000:86:10.2" },
          { "<address type=\"pci\" domain=\"0x0000\" bus=\"0x86\" slot=\"0x10\" function=\"0x2\"/>" } },
};

START_TEST(test_set_host)
{
        const Move *t = &moves[_i];
        _cleanup_free_ char *in = NULL, *out = NULL, *again = NULL, *min = NULL, *mout = NULL;
        _cleanup_free_ char *before = NULL, *after = NULL;
        _cleanup_domain_ HpvmDomain *d = NULL, *d2 = NULL;
        HpvmVfNic *nics = NULL, *nics2 = NULL;
        HpvmError err = { 0 };
        size_t n, n2;
        const char *p;

        in = fixture(t->fixture, NULL);
        d = parse(in);
        ck_assert_msg(hpvm_vfnics_read(d, "all", &nics, &n, &err) == 0, "%s", err.msg);
        before = summaries(nics, n);
        for (size_t i = 0; i < n; i++) {
                HpvmPciAddr a;

                ck_assert_ptr_nonnull(t->to[i]);
                ck_assert_int_eq(hpvm_pci_addr_parse(t->to[i], 12, &a), 0);
                ck_assert_int_eq(hpvm_vfnic_set_host(d, &nics[i], &a), 0);
                ck_assert(hpvm_pci_addr_equal(&nics[i].host, &a));
        }
        out = format(d);

        /* Only the host addresses moved: masked, the documents are the same bytes. */
        min = mask_sources(in);
        mout = mask_sources(out);
        ck_assert_str_eq(mout, min);
        /* ... and they are where they should be, in libvirt's own form. */
        p = out;
        for (size_t i = 0; i < n; i++) {
                p = strstr(p, t->lines[i]);
                ck_assert_msg(p, "%s: no '%s' in order in the output", t->fixture, t->lines[i]);
                p++;
        }
        assert_schema_valid(t->fixture, out);
        assert_libvirt_accepts(t->fixture, out);

        /* Read back: the new hosts and every other fact as before. */
        d2 = parse(out);
        ck_assert_msg(hpvm_vfnics_read(d2, "all", &nics2, &n2, &err) == 0, "%s", err.msg);
        ck_assert_uint_eq(n2, n);
        after = summaries(nics2, n2);
        {
                _cleanup_free_ char *moved = summaries(nics, n);

                ck_assert_str_eq(after, moved);
        }
        /* Twice is once. */
        for (size_t i = 0; i < n2; i++)
                ck_assert_int_eq(hpvm_vfnic_set_host(d2, &nics2[i], &nics[i].host), 0);
        again = format(d2);
        ck_assert_str_eq(again, out);
        hpvm_vfnics_free(nics, n);
        hpvm_vfnics_free(nics2, n2);
}
END_TEST

START_TEST(test_set_host_refusals)
{
        _cleanup_domain_ HpvmDomain *d = parse(DOM(HD(MAC1 "<source><address type='usb' bus='1' device='2'/></source>")));
        _cleanup_domain_ HpvmDomain *other = parse(DOM(HD(MAC1 SRC("bus='0x3b'"))));
        HpvmVfNic *nics = NULL, *others = NULL;
        HpvmPciAddr a = { 0, 0x5e, 1, 7 };
        HpvmError err = { 0 };
        size_t n, no;

        ck_assert_int_eq(hpvm_vfnics_read(d, NULL, &nics, &n, &err), 0);
        ck_assert_int_eq(hpvm_vfnics_read(other, NULL, &others, &no, &err), 0);
        ck_assert_int_eq(hpvm_vfnic_set_host(d, &nics[0], &a), -EINVAL);      /* a USB source */
        ck_assert_int_eq(hpvm_vfnic_set_host(d, &others[0], &a), -EINVAL);    /* another document's NIC */
        ck_assert_int_eq(hpvm_vfnic_set_host(other, &others[0], NULL), -EINVAL);
        ck_assert_uint_eq(others[0].host.bus, 0x3b);
        hpvm_vfnics_free(nics, n);
        hpvm_vfnics_free(others, no);
}
END_TEST

/* ------------------------------------------------------------ the re-plug element */

typedef struct Replug {
        const char *fixture;
        size_t nic;
        const char *to;                 /* NULL: the NIC's own VF */
        const char *want;
} Replug;

static const Replug replugs[] = {
        { "sriov-engine.xml", 1, "0000:5e:02.0",
          "<interface type=\"hostdev\" managed=\"yes\">\n"
          "  <mac address=\"56:6f:1a:2b:00:11\"/>\n"
          "  <source>\n"
          "    <address type=\"pci\" domain=\"0x0000\" bus=\"0x5e\" slot=\"0x02\" function=\"0x0\"/>\n"
          "  </source>\n"
          "  <vlan>\n"
          "    <tag id=\"100\"/>\n"
          "  </vlan>\n"
          "  <alias name=\"ua-sriov-a\"/>\n"
          "  <address type=\"pci\" domain=\"0x0000\" bus=\"0x04\" slot=\"0x00\" function=\"0x0\"/>\n"
          "</interface>\n" },
        { "sriov-engine.xml", 2, NULL,
          "<interface type=\"hostdev\" managed=\"yes\">\n"
          "  <mac address=\"56:6f:1a:2b:00:12\"/>\n"
          "  <source>\n"
          "    <address type=\"pci\" domain=\"0x0000\" bus=\"0xaf\" slot=\"0x00\" function=\"0x2\"/>\n"
          "  </source>\n"
          "  <vlan>\n"
          "    <tag id=\"2001\"/>\n"
          "  </vlan>\n"
          "  <alias name=\"ua-sriov-b\"/>\n"
          "  <address type=\"pci\" domain=\"0x0000\" bus=\"0x05\" slot=\"0x00\" function=\"0x0\"/>\n"
          "</interface>\n" },
        { "sriov-engine.xml", 0, "0000:5e:01.7",
          "<interface type=\"hostdev\" managed=\"yes\">\n"
          "  <mac address=\"56:6f:1a:2b:00:10\"/>\n"
          "  <source>\n"
          "    <address type=\"pci\" domain=\"0x0000\" bus=\"0x5e\" slot=\"0x01\" function=\"0x7\"/>\n"
          "  </source>\n"
          "  <teaming type=\"transient\" persistent=\"ua-backup0\"/>\n"
          "  <alias name=\"ua-sriov-fo\"/>\n"
          "  <address type=\"pci\" domain=\"0x0000\" bus=\"0x03\" slot=\"0x00\" function=\"0x0\"/>\n"
          "</interface>\n" },
};

START_TEST(test_format_interface)
{
        const Replug *t = &replugs[_i];
        _cleanup_free_ char *in = NULL, *xml = NULL, *dom = NULL, *xml2 = NULL;
        _cleanup_domain_ HpvmDomain *d = NULL;
        HpvmVfNic *nics = NULL, back;
        HpvmPciAddr to, *top = NULL;
        HpvmError err = { 0 };
        size_t n, len, len2;

        in = fixture(t->fixture, NULL);
        d = parse(in);
        ck_assert_msg(hpvm_vfnics_read(d, NULL, &nics, &n, &err) == 0, "%s", err.msg);
        ck_assert_uint_lt(t->nic, n);
        if (t->to) {
                ck_assert_int_eq(hpvm_pci_addr_parse(t->to, 12, &to), 0);
                top = &to;
        }
        ck_assert_msg(hpvm_vfnic_format_interface(&nics[t->nic], top, &xml, &len, &err) == 0, "%s", err.msg);
        ck_assert_uint_eq(strlen(xml), len);
        ck_assert_str_eq(xml, t->want);

        /* A device libvirt takes: in a domain, valid and defined. */
        dom = wrap_interface(xml);
        assert_schema_valid("re-plug interface", dom);
        assert_libvirt_accepts("re-plug interface", dom);

        /* What the hot-unplug hook reads back is what was written. */
        ck_assert_msg(hpvm_vfnic_parse_interface(xml, len, &back, &err) == 0, "%s", err.msg);
        ck_assert_str_eq(back.mac, nics[t->nic].mac);
        ck_assert(hpvm_pci_addr_equal(&back.host, top ? top : &nics[t->nic].host));
        ck_assert(back.managed);
        ck_assert_ptr_null(back.node);
        ck_assert_msg(hpvm_vfnic_format_interface(&back, NULL, &xml2, &len2, &err) == 0, "%s", err.msg);
        ck_assert_str_eq(xml2, xml);
        hpvm_vfnic_clear(&back);
        hpvm_vfnics_free(nics, n);
}
END_TEST

START_TEST(test_format_refusals)
{
        HpvmVfNic nic = { .mac = "" };
        HpvmError err = { 0 };
        char *xml = (char *)"untouched";
        size_t len = 0;

        ck_assert_int_eq(hpvm_vfnic_format_interface(&nic, NULL, &xml, &len, &err), -EINVAL);
        ck_assert_str_eq(err.msg, "VF NIC: no MAC address to re-plug it with");
        strcpy(nic.mac, "00:1a:4a:16:01:51");
        ck_assert_int_eq(hpvm_vfnic_format_interface(&nic, NULL, &xml, &len, &err), -EINVAL);
        ck_assert_str_eq(err.msg, "VF NIC 00:1a:4a:16:01:51: no host PCI address to re-plug it at");
        ck_assert_str_eq(xml, "untouched");
}
END_TEST

/* ------------------------------------------------------------ the hot-unplug interface */

typedef struct Unplug {
        const char *xml;
        int code;
        const char *want;       /* summary, or the message */
        const char *replug;     /* hpvm_vfnic_format_interface() of it, or NULL */
} Unplug;

static const Unplug unplugs[] = {
        /* As vdsm hands it over: libvirt's quoting, a VLAN trunk, an MTU. */
        { "<interface type='hostdev' managed='yes'>\n  <mac address='00:1A:4A:16:01:51'/>\n  <driver name='vfio'/>\n"
          "  <source>\n    <address type='pci' domain='0x0000' bus='0x3b' slot='0x02' function='0x3'/>\n  </source>\n"
          "  <vlan trunk='yes'>\n    <tag id='100'/>\n    <tag id='200' nativeMode='untagged'/>\n  </vlan>\n"
          "  <mtu size='9000'/>\n  <alias name='ua-sriov-c'/>\n"
          "  <address type='pci' domain='0x0000' bus='0x06' slot='0x00' function='0x0'/>\n</interface>\n", 0,
          "00:1a:4a:16:01:51 host 0000:3b:02.3 managed alias ua-sriov-c guest 0000:06:00.0 mtu 9000 "
          "vlan <vlan trunk=\"yes\"><tag id=\"100\"/><tag id=\"200\" nativeMode=\"untagged\"/></vlan> net - migratable no (default)",
          "<interface type=\"hostdev\" managed=\"yes\">\n"
          "  <mac address=\"00:1a:4a:16:01:51\"/>\n"
          "  <source>\n"
          "    <address type=\"pci\" domain=\"0x0000\" bus=\"0x3b\" slot=\"0x02\" function=\"0x3\"/>\n"
          "  </source>\n"
          "  <vlan trunk=\"yes\">\n"
          "    <tag id=\"100\"/>\n"
          "    <tag id=\"200\" nativeMode=\"untagged\"/>\n"
          "  </vlan>\n"
          "  <mtu size=\"9000\"/>\n"
          "  <alias name=\"ua-sriov-c\"/>\n"
          "  <address type=\"pci\" domain=\"0x0000\" bus=\"0x06\" slot=\"0x00\" function=\"0x0\"/>\n"
          "</interface>\n" },
        /* Only what is there: no alias, no guest address, unmanaged (re-plugged managed). */
        { "<interface type=\"hostdev\"><mac address=\"00:1a:4a:16:01:52\"/><source><address type=\"pci\" bus=\"0x3b\" slot=\"0x02\" "
          "function=\"0x4\"/></source></interface>", 0,
          "00:1a:4a:16:01:52 host 0000:3b:02.4 unmanaged alias - guest - mtu 0 vlan - net - migratable no (default)",
          "<interface type=\"hostdev\" managed=\"yes\">\n"
          "  <mac address=\"00:1a:4a:16:01:52\"/>\n"
          "  <source>\n"
          "    <address type=\"pci\" domain=\"0x0000\" bus=\"0x3b\" slot=\"0x02\" function=\"0x4\"/>\n"
          "  </source>\n"
          "</interface>\n" },
        { "<interface type='bridge'><mac address='00:1a:4a:16:01:51'/><source bridge='br0'/></interface>", -EINVAL,
          "interface XML: type 'bridge' is not a VF NIC (expected <interface type='hostdev'>)", NULL },
        { "<interface><mac address='00:1a:4a:16:01:51'/></interface>", -EINVAL,
          "interface XML: type '' is not a VF NIC (expected <interface type='hostdev'>)", NULL },
        { "<domain/>", -EINVAL, "interface XML: root element is <domain>, expected <interface>", NULL },
        { "<interface type='hostdev'>", -EINVAL, "interface XML is not well-formed XML: line 1: ", NULL },
        { "", -EINVAL, "interface XML is empty", NULL },
        { "<interface type='hostdev'><mac address='00:1a:4a:16:01:51'/><source><address type='pci' function='0x9'/></source></interface>",
          -EINVAL, "interface XML: VF NIC 00:1a:4a:16:01:51: <source><address> function='0x9': not a PCI function number" ADDR_WANT("7"),
          NULL },
};

START_TEST(test_parse_interface)
{
        const Unplug *t = &unplugs[_i];
        HpvmVfNic nic = { .mtu = 4321 };
        HpvmError err = { 0 };
        char line[1024];
        int r;

        r = hpvm_vfnic_parse_interface(t->xml, strlen(t->xml), &nic, &err);
        ck_assert_msg(r == t->code, "got %d (%s)", r, err.msg);
        if (r < 0) {
                ck_assert_msg(!strncmp(err.msg, t->want, strlen(t->want)), "got '%s', want '%s'", err.msg, t->want);
                ck_assert_uint_eq(nic.mtu, 4321);
                return;
        }
        summary(&nic, line, sizeof(line));
        ck_assert_str_eq(line, t->want);
        if (t->replug) {
                _cleanup_free_ char *xml = NULL, *dom = NULL;
                size_t len;

                ck_assert_msg(hpvm_vfnic_format_interface(&nic, NULL, &xml, &len, &err) == 0, "%s", err.msg);
                ck_assert_str_eq(xml, t->replug);
                dom = wrap_interface(xml);
                assert_schema_valid("re-plug interface", dom);
                assert_libvirt_accepts("re-plug interface", dom);
        }
        hpvm_vfnic_clear(&nic);
        ck_assert_ptr_null(nic.vlan_xml);
}
END_TEST

/* ------------------------------------------------------------ plain PCI host devices */

START_TEST(test_pci_hostdevs)
{
        _cleanup_free_ char *in = fixture("sriov-failover.xml", NULL), *in2 = fixture("sriov-engine.xml", NULL);
        _cleanup_domain_ HpvmDomain *d = parse(in), *d2 = parse(in2);
        _cleanup_domain_ HpvmDomain *bad = parse(DOM("<hostdev mode='subsystem' type='pci'><source><address bus='0x100'/></source></hostdev>"));
        _cleanup_domain_ HpvmDomain *none = parse(DOM("<hostdev mode='subsystem' type='pci'><source/></hostdev>"));
        _cleanup_domain_ HpvmDomain *usb = parse(DOM("<hostdev mode='subsystem' type='usb'><source><vendor id='0x1'/><product id='0x2'/></source></hostdev>"
                                                     "<hostdev mode='capabilities' type='net'><source><interface>eth0</interface></source></hostdev>"));
        HpvmPciHostdev *devs = (HpvmPciHostdev *)&in;
        HpvmError err = { 0 };
        char a[HPVM_PCI_ADDR_STRLEN];
        size_t n = 99;

        ck_assert_msg(hpvm_pci_hostdevs_read(d, &devs, &n, &err) == 0, "%s", err.msg);
        ck_assert_uint_eq(n, 2);
        ck_assert_str_eq(hpvm_pci_addr_format(&devs[0].host, a, sizeof(a)), "0000:3b:02.5");
        ck_assert(!devs[0].failover);
        ck_assert_str_eq(hpvm_pci_addr_format(&devs[1].host, a, sizeof(a)), "0000:af:00.3");
        ck_assert(devs[1].failover);
        ck_assert_str_eq((const char *)devs[1].node->name, "hostdev");
        free(devs);

        ck_assert_int_eq(hpvm_pci_hostdevs_read(d2, &devs, &n, &err), 0);
        ck_assert_uint_eq(n, 0);
        ck_assert_ptr_null(devs);
        ck_assert_int_eq(hpvm_pci_hostdevs_read(usb, &devs, &n, &err), 0);
        ck_assert_uint_eq(n, 0);

        devs = (HpvmPciHostdev *)&in;
        ck_assert_int_eq(hpvm_pci_hostdevs_read(bad, &devs, &n, &err), -EINVAL);
        ck_assert_str_eq(err.msg, "domain XML: PCI host device #1: <source><address> bus='0x100': not a PCI bus number "
                                  "(expected 0x0 to 0xff: hex with 0x, or decimal without leading zeros)");
        ck_assert_int_eq(hpvm_pci_hostdevs_read(none, &devs, &n, &err), -EINVAL);
        ck_assert_str_eq(err.msg, "domain XML: PCI host device #1: no <source><address>");
        ck_assert_ptr_eq(devs, (HpvmPciHostdev *)&in);
}
END_TEST

static Suite *vfnic_suite(void)
{
        Suite *s = suite_create("vfnic");
        TCase *tc;

        tc = tcase_create("read");
        tcase_set_timeout(tc, 60);
        tcase_add_loop_test(tc, test_fixtures, 0, (int)HPVM_ARRAY_SIZE(fixtures));
        tcase_add_loop_test(tc, test_read, 0, (int)HPVM_ARRAY_SIZE(reads));
        tcase_add_loop_test(tc, test_read_xml, 0, (int)HPVM_ARRAY_SIZE(read_xmls));
        tcase_add_test(tc, test_read_limits);
        tcase_add_test(tc, test_pci_hostdevs);
        suite_add_tcase(s, tc);

        tc = tcase_create("edit");
        tcase_set_timeout(tc, 60);
        tcase_add_loop_test(tc, test_set_host, 0, (int)HPVM_ARRAY_SIZE(moves));
        tcase_add_test(tc, test_set_host_refusals);
        tcase_add_loop_test(tc, test_format_interface, 0, (int)HPVM_ARRAY_SIZE(replugs));
        tcase_add_test(tc, test_format_refusals);
        tcase_add_loop_test(tc, test_parse_interface, 0, (int)HPVM_ARRAY_SIZE(unplugs));
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(vfnic_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
