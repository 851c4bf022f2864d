/* test-vfmeta.c: the VF NIC record: put/format/parse, refusals, the domain XML's <metadata>, and set/get/clear through libvirt's test:/// driver. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "domxml.h"
#include "testhelp.h"
#include "vfmeta.h"
#include "virtconn.h"

/* ------------------------------------------------------------ inputs */

/* A VF NIC as engine and libvirt write it: VLAN, MTU, alias, guest address, blank text between elements. */
#define IF_A "<interface type='hostdev' managed='no'>\n  <mac address='00:1A:4A:16:01:50'/>\n  <driver name='vfio'/>\n" \
             "  <source>\n    <address type='pci' domain='0x0000' bus='0x3b' slot='0x02' function='0x3'/>\n  </source>\n" \
             "  <vlan>\n    <tag id='100'/>\n  </vlan>\n  <mtu size='9000'/>\n  <alias name='ua-sriov-a'/>\n" \
             "  <address type='pci' domain='0x0000' bus='0x00' slot='0x07' function='0x0'/>\n</interface>\n"
/* The virtio stand-in of the integration test: no host VF. */
#define IF_U "<interface type='user'><mac address='52:54:00:5a:00:01'/><model type='virtio'/><alias name='ua-nic0'/></interface>"

#define REC_A_IFACE \
        "    <interface type=\"hostdev\" managed=\"no\">\n" \
        "      <mac address=\"00:1A:4A:16:01:50\"/>\n" \
        "      <driver name=\"vfio\"/>\n" \
        "      <source>\n" \
        "        <address type=\"pci\" domain=\"0x0000\" bus=\"0x3b\" slot=\"0x02\" function=\"0x3\"/>\n" \
        "      </source>\n" \
        "      <vlan>\n" \
        "        <tag id=\"100\"/>\n" \
        "      </vlan>\n" \
        "      <mtu size=\"9000\"/>\n" \
        "      <alias name=\"ua-sriov-a\"/>\n" \
        "      <address type=\"pci\" domain=\"0x0000\" bus=\"0x00\" slot=\"0x07\" function=\"0x0\"/>\n" \
        "    </interface>\n"
#define REC_A "  <nic mac=\"00:1a:4a:16:01:50\" alias=\"ua-sriov-a\" network=\"sriov-a\" host=\"0000:3b:02.3\">\n" \
              REC_A_IFACE "  </nic>\n"
#define REC_U "  <nic mac=\"52:54:00:5a:00:01\" alias=\"ua-nic0\">\n" \
              "    <interface type=\"user\">\n" \
              "      <mac address=\"52:54:00:5a:00:01\"/>\n" \
              "      <model type=\"virtio\"/>\n" \
              "      <alias name=\"ua-nic0\"/>\n" \
              "    </interface>\n" \
              "  </nic>\n"

static char *format(const HpvmVfMeta *m)
{
        HpvmError err = { 0 };
        char *out = NULL;
        size_t len = 0;

        ck_assert_msg(hpvm_vfmeta_format(m, &out, &len, &err) == 0, "%s", err.msg);
        ck_assert_uint_eq(strlen(out), len);
        return out;
}

static void put(HpvmVfMeta *m, const char *xml, const char *net)
{
        HpvmError err = { 0 };

        ck_assert_msg(hpvm_vfmeta_put(m, xml, strlen(xml), net, &err) == 0, "%s", err.msg);
}

/* ------------------------------------------------------------ put, format, parse */

typedef struct Put {
        const char *ifaces[3];
        const char *nets[3];
        const char *want;
} Put;

static const Put puts_[] = {
        { { NULL }, { NULL }, "<vfnics/>\n" },
        { { IF_A }, { "sriov-a" }, "<vfnics>\n" REC_A "</vfnics>\n" },
        { { IF_A, IF_U }, { "sriov-a", "" }, "<vfnics>\n" REC_A REC_U "</vfnics>\n" },
        /* Recording a NIC again replaces it (MAC in another case), and it moves last. */
        { { IF_A, IF_U, "<interface type='user'><mac address='52:54:00:5A:00:01'/><alias name='ua-nic0'/></interface>" },
          { "sriov-a", NULL, "net-b" },
          "<vfnics>\n" REC_A "  <nic mac=\"52:54:00:5a:00:01\" alias=\"ua-nic0\" network=\"net-b\">\n"
          "    <interface type=\"user\">\n      <mac address=\"52:54:00:5A:00:01\"/>\n      <alias name=\"ua-nic0\"/>\n"
          "    </interface>\n  </nic>\n</vfnics>\n" },
        /* The same alias on another MAC replaces it too: never two records of one alias. */
        { { IF_U, IF_A, "<interface type='user'><mac address='52:54:00:5a:00:02'/><alias name='ua-nic0'/></interface>" },
          { NULL, "sriov-a", NULL },
          "<vfnics>\n" REC_A "  <nic mac=\"52:54:00:5a:00:02\" alias=\"ua-nic0\">\n"
          "    <interface type=\"user\">\n      <mac address=\"52:54:00:5a:00:02\"/>\n      <alias name=\"ua-nic0\"/>\n"
          "    </interface>\n  </nic>\n</vfnics>\n" },
        /* A NIC without an alias is recorded by its MAC alone. */
        { { "<interface type='user'><mac address='52:54:00:5a:00:03'/></interface>" }, { NULL },
          "<vfnics>\n  <nic mac=\"52:54:00:5a:00:03\">\n    <interface type=\"user\">\n"
          "      <mac address=\"52:54:00:5a:00:03\"/>\n    </interface>\n  </nic>\n</vfnics>\n" },
};

START_TEST(test_put_format_parse)
{
        const Put *t = &puts_[_i];
        _cleanup_free_ char *out = NULL, *again = NULL;
        HpvmVfMeta m = { 0 }, back;
        HpvmError err = { 0 };

        for (int i = 0; i < 3 && t->ifaces[i]; i++)
                put(&m, t->ifaces[i], t->nets[i]);
        out = format(&m);
        ck_assert_str_eq(out, t->want);
        /* What libvirt hands back reads as the same record, and formats byte for byte the same. */
        ck_assert_msg(hpvm_vfmeta_parse(out, strlen(out), &back, &err) == 0, "%s", err.msg);
        ck_assert_uint_eq(back.n, m.n);
        for (size_t i = 0; i < m.n; i++) {
                ck_assert_str_eq(back.recs[i].mac, m.recs[i].mac);
                ck_assert_str_eq(back.recs[i].alias, m.recs[i].alias);
                ck_assert_str_eq(back.recs[i].network, m.recs[i].network);
                ck_assert_str_eq(back.recs[i].interface_xml, m.recs[i].interface_xml);
                ck_assert_int_eq(back.recs[i].has_host, m.recs[i].has_host);
        }
        again = format(&back);
        ck_assert_str_eq(again, out);
        hpvm_vfmeta_clear(&back);
        hpvm_vfmeta_clear(&m);
        ck_assert_uint_eq(m.n, 0);
        ck_assert_ptr_null(m.recs);
}
END_TEST

START_TEST(test_record_facts)
{
        HpvmVfMeta m = { 0 };
        const HpvmVfRecord *r;
        char host[HPVM_PCI_ADDR_STRLEN];

        put(&m, IF_A, "sriov-a");
        put(&m, IF_U, NULL);
        r = hpvm_vfmeta_find(&m, "00:1A:4A:16:01:50");
        ck_assert_ptr_nonnull(r);
        ck_assert_str_eq(r->mac, "00:1a:4a:16:01:50");
        ck_assert_str_eq(r->alias, "ua-sriov-a");
        ck_assert_str_eq(r->network, "sriov-a");
        ck_assert(r->has_host);
        ck_assert_str_eq(hpvm_pci_addr_format(&r->host, host, sizeof(host)), "0000:3b:02.3");
        /* Compact, no namespace: what a caller plugs back. */
        ck_assert_str_eq(r->interface_xml,
                         "<interface type=\"hostdev\" managed=\"no\"><mac address=\"00:1A:4A:16:01:50\"/><driver name=\"vfio\"/>"
                         "<source><address type=\"pci\" domain=\"0x0000\" bus=\"0x3b\" slot=\"0x02\" function=\"0x3\"/></source>"
                         "<vlan><tag id=\"100\"/></vlan><mtu size=\"9000\"/><alias name=\"ua-sriov-a\"/>"
                         "<address type=\"pci\" domain=\"0x0000\" bus=\"0x00\" slot=\"0x07\" function=\"0x0\"/></interface>");
        r = hpvm_vfmeta_find(&m, "52:54:00:5a:00:01");
        ck_assert_ptr_nonnull(r);
        ck_assert(!r->has_host);
        ck_assert_str_eq(r->network, "");
        ck_assert_ptr_null(hpvm_vfmeta_find(&m, "52:54:00:5a:00:09"));
        ck_assert_ptr_null(hpvm_vfmeta_find(&m, "not a mac"));

        ck_assert(hpvm_vfmeta_remove(&m, "00:1a:4a:16:01:50"));
        ck_assert(!hpvm_vfmeta_remove(&m, "00:1a:4a:16:01:50"));
        ck_assert_uint_eq(m.n, 1);
        ck_assert_str_eq(m.recs[0].mac, "52:54:00:5a:00:01");
        ck_assert(hpvm_vfmeta_remove(&m, "52:54:00:5A:00:01"));
        ck_assert_uint_eq(m.n, 0);
        hpvm_vfmeta_clear(&m);
        hpvm_vfmeta_clear(NULL);
}
END_TEST

START_TEST(test_record_interface)
{
        HpvmVfMeta m = { 0 };
        HpvmPciAddr other = { .domain = 0, .bus = 0x5e, .slot = 1, .function = 7 };
        HpvmError err = { 0 };
        char *xml = NULL;
        size_t len = 0;

        put(&m, IF_A, "sriov-a");
        put(&m, IF_U, NULL);
        /* As recorded, then pointed at another VF: only the four numbers of <source><address> change. */
        ck_assert_int_eq(hpvm_vfrecord_interface(&m.recs[0], NULL, &xml, &len, &err), 0);
        ck_assert_str_eq(xml, "<interface type=\"hostdev\" managed=\"no\">\n  <mac address=\"00:1A:4A:16:01:50\"/>\n"
                              "  <driver name=\"vfio\"/>\n  <source>\n"
                              "    <address type=\"pci\" domain=\"0x0000\" bus=\"0x3b\" slot=\"0x02\" function=\"0x3\"/>\n"
                              "  </source>\n  <vlan>\n    <tag id=\"100\"/>\n  </vlan>\n  <mtu size=\"9000\"/>\n"
                              "  <alias name=\"ua-sriov-a\"/>\n"
                              "  <address type=\"pci\" domain=\"0x0000\" bus=\"0x00\" slot=\"0x07\" function=\"0x0\"/>\n"
                              "</interface>\n");
        ck_assert_uint_eq(len, strlen(xml));
        free(xml);
        ck_assert_int_eq(hpvm_vfrecord_interface(&m.recs[0], &other, &xml, &len, &err), 0);
        ck_assert_ptr_nonnull(strstr(xml, "<address type=\"pci\" domain=\"0x0000\" bus=\"0x5e\" slot=\"0x01\" function=\"0x7\"/>"));
        ck_assert_ptr_null(strstr(xml, "bus=\"0x3b\""));
        ck_assert_ptr_nonnull(strstr(xml, "slot=\"0x07\""));
        free(xml);
        xml = NULL;
        ck_assert_int_eq(hpvm_vfrecord_interface(&m.recs[1], &other, &xml, &len, &err), -EINVAL);
        ck_assert_str_eq(err.msg, "VF NIC record: NIC 52:54:00:5a:00:01: its <interface> has no PCI <source><address> to point "
                                  "at another VF");
        ck_assert_ptr_null(xml);
        hpvm_vfmeta_clear(&m);
}
END_TEST

/* ------------------------------------------------------------ refusals */

typedef struct Bad {
        const char *xml;
        int code;
        const char *want;
} Bad;

#define NIC(attrs, inner) "<nic " attrs ">" inner "</nic>"
#define UIF(mac, rest) "<interface type='user'><mac address='" mac "'/>" rest "</interface>"
#define VF "<interface type='hostdev'><mac address='00:1a:4a:16:01:50'/><source><address type='pci' domain='0' bus='0x3b' " \
           "slot='2' function='3'/></source><alias name='ua-a'/></interface>"

static const Bad bad_records[] = {
        { "<vfnics>", -EINVAL, "VF NIC record is not well-formed XML: line 1: Premature end of data in tag vfnics line 1" },
        { "<vfnic/>", -EINVAL, "VF NIC record: root element is <vfnic>, expected <vfnics>" },
        { "<vfnics><nics/></vfnics>", -EINVAL, "VF NIC record: unexpected <nics> (expected <nic>)" },
        { "<vfnics>" NIC("mac='00:1a:4a:16:01'", UIF("00:1a:4a:16:01:50", "")) "</vfnics>", -EINVAL,
          "VF NIC record: NIC #1: mac='00:1a:4a:16:01': not a MAC address like 00:1a:4a:16:01:51" },
        { "<vfnics>" NIC("", UIF("00:1a:4a:16:01:50", "")) "</vfnics>", -EINVAL,
          "VF NIC record: NIC #1: mac='': not a MAC address like 00:1a:4a:16:01:51" },
        { "<vfnics>" NIC("mac='00:1a:4a:16:01:50'", "") "</vfnics>", -EINVAL,
          "VF NIC record: NIC 00:1a:4a:16:01:50: no <interface> (the element to plug it back with)" },
        { "<vfnics>" NIC("mac='00:1a:4a:16:01:50'", UIF("00:1a:4a:16:01:50", "") UIF("00:1a:4a:16:01:50", "")) "</vfnics>",
          -EINVAL, "VF NIC record: NIC 00:1a:4a:16:01:50: unexpected <interface> (expected one <interface>)" },
        { "<vfnics>" NIC("mac='00:1a:4a:16:01:50'", "<hostdev/>") "</vfnics>", -EINVAL,
          "VF NIC record: NIC 00:1a:4a:16:01:50: unexpected <hostdev> (expected one <interface>)" },
        { "<vfnics>" NIC("mac='00:1a:4a:16:01:50'", "<interface type='user'/>") "</vfnics>", -EINVAL,
          "VF NIC record: NIC 00:1a:4a:16:01:50: <interface> has no <mac address> (a NIC is recorded by its MAC)" },
        { "<vfnics>" NIC("mac='00:1a:4a:16:01:50'", UIF("00:1a:4a:16:01:51", "")) "</vfnics>", -EINVAL,
          "VF NIC record: NIC 00:1a:4a:16:01:50: its <interface> has MAC 00:1a:4a:16:01:51" },
        { "<vfnics>" NIC("mac='00:1a:4a:16:01:50' alias='ua-b'", VF) "</vfnics>", -EINVAL,
          "VF NIC record: NIC 00:1a:4a:16:01:50: alias='ua-b' but its <interface> has alias 'ua-a'" },
        { "<vfnics>" NIC("mac='00:1a:4a:16:01:50' host='0000:3b:02.4'", VF) "</vfnics>", -EINVAL,
          "VF NIC record: NIC 00:1a:4a:16:01:50: host='0000:3b:02.4' but its <interface> has host VF 0000:3b:02.3" },
        { "<vfnics>" NIC("mac='00:1a:4a:16:01:50' host='3b:02.3'", VF) "</vfnics>", -EINVAL,
          "VF NIC record: NIC 00:1a:4a:16:01:50: host='3b:02.3': not a PCI address like 0000:3b:02.3" },
        { "<vfnics>" NIC("mac='00:1a:4a:16:01:50' alias='ua a'", VF) "</vfnics>", -EINVAL,
          "VF NIC record: NIC 00:1a:4a:16:01:50: alias='ua a': not an alias (expected at most 127 letters, digits, '_', "
          "'.', '-')" },
        { "<vfnics>" NIC("mac='00:1a:4a:16:01:50'", "<interface type='hostdev'><mac address='00:1a:4a:16:01:50'/>"
                         "<source><address type='pci' bus='0x100'/></source></interface>") "</vfnics>", -EINVAL,
          "VF NIC record: NIC 00:1a:4a:16:01:50: interface XML: VF NIC 00:1a:4a:16:01:50: <source><address> bus='0x100': "
          "not a PCI bus number (expected 0x0 to 0xff: hex with 0x, or decimal without leading zeros)" },
        /* Never two records of one MAC (any case) or one alias. */
        { "<vfnics>" NIC("mac='00:1a:4a:16:01:50'", VF) NIC("mac='00:1A:4A:16:01:50'", UIF("00:1a:4a:16:01:50", ""))
          "</vfnics>", -EINVAL, "VF NIC record: NIC 00:1a:4a:16:01:50 (alias 'ua-a') is recorded twice" },
        { "<vfnics>" NIC("mac='00:1a:4a:16:01:50'", VF) NIC("mac='00:1a:4a:16:01:52'", UIF("00:1a:4a:16:01:52",
          "<alias name='ua-a'/>")) "</vfnics>", -EINVAL,
          "VF NIC record: NIC 00:1a:4a:16:01:52 (alias 'ua-a') is recorded twice" },
};

START_TEST(test_parse_refusals)
{
        const Bad *t = &bad_records[_i];
        HpvmVfMeta m = { .n = 77 };
        HpvmError err = { 0 };

        ck_assert_int_eq(hpvm_vfmeta_parse(t->xml, strlen(t->xml), &m, &err), t->code);
        ck_assert_str_eq(err.msg, t->want);
        ck_assert_uint_eq(m.n, 77);     /* untouched */
}
END_TEST

static const Bad bad_puts[] = {
        { "<nic/>", -EINVAL, "interface XML: root element is <nic>, expected <interface>" },
        { "<interface type='user'/>", -EINVAL,
          "interface XML: <interface> has no <mac address> (a NIC is recorded by its MAC)" },
        { UIF("00:1a:4a:16:01:5", ""), -EINVAL,
          "interface XML: <mac address='00:1a:4a:16:01:5'>: not a MAC address like 00:1a:4a:16:01:51" },
        { UIF("00:1a:4a:16:01:50", "<alias name='ua/x'/>"), -EINVAL,
          "interface XML: <alias name='ua/x'>: not an alias (expected at most 127 letters, digits, '_', '.', '-')" },
        { "<interface type='hostdev'><mac address='00:1a:4a:16:01:50'/><source><address type='pci' function='9'/></source>"
          "</interface>", -EINVAL,
          "interface XML: interface XML: VF NIC 00:1a:4a:16:01:50: <source><address> function='9': not a PCI function number "
          "(expected 0x0 to 0x7: hex with 0x, or decimal without leading zeros)" },
};

START_TEST(test_put_refusals)
{
        const Bad *t = &bad_puts[_i];
        HpvmVfMeta m = { 0 };
        HpvmError err = { 0 };

        put(&m, IF_U, NULL);
        ck_assert_int_eq(hpvm_vfmeta_put(&m, t->xml, strlen(t->xml), NULL, &err), t->code);
        ck_assert_str_eq(err.msg, t->want);
        /* Unchanged. */
        ck_assert_uint_eq(m.n, 1);
        ck_assert_str_eq(m.recs[0].mac, "52:54:00:5a:00:01");
        hpvm_vfmeta_clear(&m);
}
END_TEST

START_TEST(test_limits)
{
        char net[HPVM_NETWORK_MAX + 1], alias[HPVM_ALIAS_MAX + 32], iface[512];
        HpvmVfMeta m = { 0 }, back;
        HpvmError err = { 0 };
        _cleanup_free_ char *xml = NULL;
        char *big = NULL;
        size_t size = 0;
        FILE *f;

        /* Network: at most 255 bytes. */
        memset(net, 'n', sizeof(net) - 1);
        net[sizeof(net) - 1] = '\0';
        ck_assert_int_eq(hpvm_vfmeta_put(&m, IF_U, strlen(IF_U), net, &err), -E2BIG);
        ck_assert_str_eq(err.msg, "interface XML: network 'nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn"
                                  "nnnnnn...' is longer than 255 bytes");
        net[sizeof(net) - 2] = '\0';
        put(&m, IF_U, net);
        /* An alias of 128 bytes. */
        memset(alias, 'a', HPVM_ALIAS_MAX);
        alias[HPVM_ALIAS_MAX] = '\0';
        snprintf(iface, sizeof(iface), UIF("00:1a:4a:16:01:50", "<alias name='%s'/>"), alias);
        ck_assert_int_eq(hpvm_vfmeta_put(&m, iface, strlen(iface), NULL, &err), -E2BIG);
        ck_assert_uint_eq(m.n, 1);

        /* HPVM_VFNICS_MAX records fit; one more is refused, by put and by parse. */
        for (int i = 1; i < HPVM_VFNICS_MAX; i++) {
                snprintf(iface, sizeof(iface), UIF("02:00:00:00:%02x:%02x", ""), i >> 8, i & 0xff);
                put(&m, iface, NULL);
        }
        ck_assert_uint_eq(m.n, HPVM_VFNICS_MAX);
        snprintf(iface, sizeof(iface), UIF("02:00:00:00:ff:ff", ""));
        ck_assert_int_eq(hpvm_vfmeta_put(&m, iface, strlen(iface), NULL, &err), -E2BIG);
        ck_assert_str_eq(err.msg, "VF NIC record: 256 NICs already; cannot record 02:00:00:00:ff:ff");
        ck_assert_uint_eq(m.n, HPVM_VFNICS_MAX);
        /* Recording one of them again is a replacement, not one more. */
        snprintf(iface, sizeof(iface), UIF("02:00:00:00:00:01", "<model type='virtio'/>"));
        put(&m, iface, NULL);
        ck_assert_uint_eq(m.n, HPVM_VFNICS_MAX);
        xml = format(&m);
        ck_assert_int_eq(hpvm_vfmeta_parse(xml, strlen(xml), &back, &err), 0);
        ck_assert_uint_eq(back.n, HPVM_VFNICS_MAX);
        hpvm_vfmeta_clear(&back);

        f = open_memstream(&big, &size);
        ck_assert_ptr_nonnull(f);
        fputs("<vfnics>", f);
        for (int i = 0; i <= HPVM_VFNICS_MAX; i++)
                fprintf(f, NIC("mac='02:00:00:00:%02x:%02x'", UIF("02:00:00:00:%02x:%02x", "")), i >> 8, i & 0xff, i >> 8,
                        i & 0xff);
        fputs("</vfnics>", f);
        fclose(f);
        ck_assert_int_eq(hpvm_vfmeta_parse(big, size, &back, &err), -E2BIG);
        ck_assert_str_eq(err.msg, "VF NIC record: more than 256 NICs");
        free(big);
        hpvm_vfmeta_clear(&m);
}
END_TEST

/* ------------------------------------------------------------ in a domain XML */

#define DOMAIN(md) "<domain type='test'><name>x</name><memory>262144</memory><os><type>hvm</type></os>" md "<devices/></domain>"

typedef struct InDomain {
        const char *xml;
        int code;
        const char *want;       /* the macs read, or the message */
} InDomain;

static const InDomain in_domains[] = {
        { DOMAIN(""), 0, "" },
        { DOMAIN("<metadata><ovirt-vm:vm xmlns:ovirt-vm='http://ovirt.org/vm/1.0'/></metadata>"), 0, "" },
        /* Ours whatever the prefix; a <vfnics> of no namespace or of another is not ours. */
        { DOMAIN("<metadata><x:vfnics xmlns:x='urn:hpvm-hooks:vfnics:1'><x:nic mac='00:1a:4a:16:01:50'>"
                 "<x:interface type='user'><x:mac address='00:1a:4a:16:01:50'/></x:interface></x:nic></x:vfnics>"
                 "<vfnics><nic mac='00:1a:4a:16:01:51'/></vfnics>"
                 "<y:vfnics xmlns:y='urn:hpvm-hooks:vfnics:2'/></metadata>"), 0, "00:1a:4a:16:01:50 " },
        /* In a domain XML the record's elements are namespaced: a plain <nic> there is not one of them. */
        { DOMAIN("<metadata><hpvm:vfnics xmlns:hpvm='urn:hpvm-hooks:vfnics:1'><nic mac='00:1a:4a:16:01:50'/></hpvm:vfnics>"
                 "</metadata>"), -EINVAL, "VF NIC record: unexpected <nic> (expected <nic> in namespace urn:hpvm-hooks:vfnics:1)" },
        { DOMAIN("<metadata><hpvm:vfnics xmlns:hpvm='urn:hpvm-hooks:vfnics:1'/><h:vfnics xmlns:h='urn:hpvm-hooks:vfnics:1'/>"
                 "</metadata>"), -EINVAL, "domain XML: two <vfnics> records in namespace urn:hpvm-hooks:vfnics:1" },
};

START_TEST(test_read_domain)
{
        const InDomain *t = &in_domains[_i];
        _cleanup_domain_ HpvmDomain *d = NULL;
        HpvmVfMeta m = { .n = 77 };
        HpvmError err = { 0 };
        char got[256] = "";
        int r;

        ck_assert_int_eq(hpvm_domain_parse(t->xml, strlen(t->xml), &d, &err), 0);
        r = hpvm_vfmeta_read(d, &m, &err);
        ck_assert_msg(r == t->code, "%d: %s", r, err.msg);
        if (r < 0) {
                ck_assert_str_eq(err.msg, t->want);
                ck_assert_uint_eq(m.n, 77);
                return;
        }
        for (size_t i = 0; i < m.n; i++) {
                strcat(got, m.recs[i].mac);
                strcat(got, " ");
                ck_assert_ptr_null(strstr(m.recs[i].interface_xml, "x:"));
        }
        ck_assert_str_eq(got, t->want);
        hpvm_vfmeta_clear(&m);
}
END_TEST

/* ------------------------------------------------------------ through libvirt's test:/// driver */

static virConnectPtr g_conn;

static void conn_setup(void)
{
        HpvmError err = { 0 };
        _cleanup_config_ HpvmConfig *c = NULL;

        ck_assert_int_eq(hpvm_config_new(&c), 0);
        free(c->libvirt_uri);
        c->libvirt_uri = strdup("test:///default");
        ck_assert_msg(hpvm_virt_open(c, &g_conn, &err) == 0, "%s", err.msg);
}

static void conn_teardown(void)
{
        virConnectClose(g_conn);
        g_conn = NULL;
}

#define TEST_DOM "<domain type='test'><name>%s</name><memory>262144</memory><os><type>hvm</type></os><devices>" \
                 "<interface type='user'><mac address='52:54:00:5a:00:01'/><model type='virtio'/><alias name='ua-nic0'/>" \
                 "</interface></devices></domain>"

static virDomainPtr make_domain(const char *name, bool persistent, bool running)
{
        char xml[1024];
        virDomainPtr dom;

        snprintf(xml, sizeof(xml), TEST_DOM, name);
        if (!persistent)
                dom = virDomainCreateXML(g_conn, xml, 0);
        else {
                dom = virDomainDefineXML(g_conn, xml);
                if (dom && running)
                        ck_assert_int_eq(virDomainCreate(dom), 0);
        }
        ck_assert_msg(dom, "libvirt: %s", hpvm_virt_last_error("?"));
        return dom;
}

static void drop_domain(virDomainPtr dom)
{
        if (virDomainIsActive(dom) == 1)
                virDomainDestroy(dom);
        if (virDomainIsPersistent(dom) == 1)
                virDomainUndefine(dom);
        virDomainFree(dom);
}

/* The record as found in the domain XML libvirt writes (live, or the definition). */
static char *record_in_xml(virDomainPtr dom, unsigned flags)
{
        char *xml = virDomainGetXMLDesc(dom, flags), why[1024];
        _cleanup_domain_ HpvmDomain *d = NULL;
        HpvmVfMeta m;
        HpvmError err = { 0 };
        char *out;

        ck_assert_ptr_nonnull(xml);
        ck_assert_msg(th_schema_valid(xml, strlen(xml), why, sizeof(why)), "not valid per domain.rng: %s", why);
        ck_assert_msg(hpvm_domain_parse(xml, strlen(xml), &d, &err) == 0, "%s", err.msg);
        free(xml);
        ck_assert_msg(hpvm_vfmeta_read(d, &m, &err) == 0, "%s", err.msg);
        out = format(&m);
        hpvm_vfmeta_clear(&m);
        return out;
}

static char *record_get(virDomainPtr dom)
{
        HpvmVfMeta m;
        HpvmError err = { 0 };
        char *out;

        ck_assert_msg(hpvm_vfmeta_get(dom, &m, &err) == 0, "%s", err.msg);
        out = format(&m);
        hpvm_vfmeta_clear(&m);
        return out;
}

typedef struct Kind {
        const char *name;
        bool persistent, running;
} Kind;

static const Kind kinds[] = {
        { "hpvm-md-running", true, true },
        { "hpvm-md-transient", false, true },
        { "hpvm-md-shutoff", true, false },
};

START_TEST(test_libvirt_set_get_clear)
{
        const Kind *k = &kinds[_i];
        virDomainPtr dom = make_domain(k->name, k->persistent, k->running);
        HpvmError err = { 0 };
        HpvmVfMeta m = { 0 };
        char *s;

        s = record_get(dom);
        ck_assert_str_eq(s, "<vfnics/>\n");
        free(s);

        ck_assert_msg(hpvm_vfmeta_record_nic(dom, IF_A, "sriov-a", &err) == 0, "%s", err.msg);
        ck_assert_msg(hpvm_vfmeta_record_nic(dom, IF_U, NULL, &err) == 0, "%s", err.msg);
        /* Again: replaced, not doubled. */
        ck_assert_msg(hpvm_vfmeta_record_nic(dom, IF_A, "sriov-a", &err) == 0, "%s", err.msg);
        s = record_get(dom);
        ck_assert_str_eq(s, "<vfnics>\n" REC_U REC_A "</vfnics>\n");
        free(s);
        /* In the domain XML libvirt writes, namespaced: the live one for a running domain, and the definition. */
        if (k->running) {
                s = record_in_xml(dom, 0);
                ck_assert_str_eq(s, "<vfnics>\n" REC_U REC_A "</vfnics>\n");
                free(s);
                s = virDomainGetXMLDesc(dom, 0);
                ck_assert_ptr_nonnull(strstr(s, "<hpvm:vfnics xmlns:hpvm=\"urn:hpvm-hooks:vfnics:1\">"));
                ck_assert_ptr_nonnull(strstr(s, "<hpvm:interface type=\"hostdev\" managed=\"no\">"));
                free(s);
        }
        if (k->persistent) {
                s = record_in_xml(dom, VIR_DOMAIN_XML_INACTIVE);
                ck_assert_str_eq(s, "<vfnics>\n" REC_U REC_A "</vfnics>\n");
                free(s);
        }

        ck_assert_int_eq(hpvm_vfmeta_forget_nic(dom, "52:54:00:5A:00:01", &err), 1);
        ck_assert_int_eq(hpvm_vfmeta_forget_nic(dom, "52:54:00:5a:00:01", &err), 0);
        s = record_get(dom);
        ck_assert_str_eq(s, "<vfnics>\n" REC_A "</vfnics>\n");
        free(s);

        ck_assert_msg(hpvm_vfmeta_delete(dom, &err) == 0, "%s", err.msg);
        s = record_get(dom);
        ck_assert_str_eq(s, "<vfnics/>\n");
        free(s);
        if (k->persistent) {
                s = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE);
                ck_assert_ptr_null(strstr(s, "vfnics"));
                free(s);
        }
        /* Deleting nothing is fine; an empty record is a deletion. */
        ck_assert_int_eq(hpvm_vfmeta_delete(dom, &err), 0);
        ck_assert_int_eq(hpvm_vfmeta_set(dom, &m, &err), 0);
        drop_domain(dom);
}
END_TEST

START_TEST(test_libvirt_refusals)
{
        virDomainPtr dom = make_domain("hpvm-md-bad", false, true);
        HpvmError err = { 0 };
        HpvmVfMeta m = { .n = 5 };

        /* A record someone else wrote into our namespace, badly: named, with the VM. */
        ck_assert_int_eq(virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, "<vfnics><nic mac='x'/></vfnics>", "hpvm",
                                              HPVM_VFMETA_URI, VIR_DOMAIN_AFFECT_LIVE), 0);
        ck_assert_int_eq(hpvm_vfmeta_get(dom, &m, &err), -EINVAL);
        ck_assert_str_eq(err.msg, "VM 'hpvm-md-bad': VF NIC record: NIC #1: mac='x': not a MAC address like 00:1a:4a:16:01:51");
        ck_assert_uint_eq(m.n, 5);
        ck_assert_int_eq(hpvm_vfmeta_record_nic(dom, IF_U, NULL, &err), -EINVAL);
        /* A domain gone meanwhile: libvirt's message, with the VM named. */
        virDomainDestroy(dom);
        ck_assert_int_eq(hpvm_vfmeta_record_nic(dom, IF_U, NULL, &err), -EIO);
        {
                static const char want[] = "VM 'hpvm-md-bad': cannot read the VF NIC record: Domain not found: no domain with "
                                           "matching uuid '";

                ck_assert_msg(!strncmp(err.msg, want, sizeof(want) - 1) && strstr(err.msg, "' (hpvm-md-bad)"), "%s", err.msg);
        }
        virDomainFree(dom);
}
END_TEST

static Suite *vfmeta_suite(void)
{
        Suite *s = suite_create("vfmeta");
        TCase *tc = tcase_create("text");

        tcase_add_loop_test(tc, test_put_format_parse, 0, (int)HPVM_ARRAY_SIZE(puts_));
        tcase_add_test(tc, test_record_facts);
        tcase_add_test(tc, test_record_interface);
        tcase_add_loop_test(tc, test_parse_refusals, 0, (int)HPVM_ARRAY_SIZE(bad_records));
        tcase_add_loop_test(tc, test_put_refusals, 0, (int)HPVM_ARRAY_SIZE(bad_puts));
        tcase_add_test(tc, test_limits);
        tcase_add_loop_test(tc, test_read_domain, 0, (int)HPVM_ARRAY_SIZE(in_domains));
        suite_add_tcase(s, tc);

        tc = tcase_create("libvirt-test-driver");
        tcase_add_checked_fixture(tc, conn_setup, conn_teardown);
        tcase_add_loop_test(tc, test_libvirt_set_get_clear, 0, (int)HPVM_ARRAY_SIZE(kinds));
        tcase_add_test(tc, test_libvirt_refusals);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(vfmeta_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
