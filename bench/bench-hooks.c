/* bench-hooks.c: time each hook as vdsm runs it (fork, exec, wait) on engine-like domain XML, against a libxml2-only floor. */

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#define MAX_RUNS 100000
#define MAX_SIZES 16
#define MAX_HOOKS 8
#define MAX_NODES 64
#define MAX_CPUS 8192

static const char *prog = "bench-hooks";

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
        va_list ap;

        fprintf(stderr, "%s: ", prog);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        exit(1);
}

static void *xcalloc(size_t n, size_t size)
{
        void *p = calloc(n ? n : 1, size ? size : 1);

        if (!p)
                die("out of memory");
        return p;
}

/* ---------------------------------------------------------------- host */

typedef struct Node {
        int id;
        unsigned long long mem_kib;
        int ncpus;
        int *cpus;              /* in the order the capabilities list them */
        int ndist;
        int dist[MAX_NODES];    /* <distances><sibling value>, in cell order */
} Node;

/* Where a CPU sits, for the migration hooks' sysfs tree (they read thread siblings). */
typedef struct CpuInfo {
        int socket, die;
        char *siblings;         /* the caps' siblings list, e.g. "0,256" */
} CpuInfo;

typedef struct Host {
        int nnodes;
        int ncpus;
        int maxcpu;             /* highest CPU id */
        Node nodes[MAX_NODES];
        CpuInfo cpu[MAX_CPUS];
} Host;

static xmlNode *child(xmlNode *n, const char *name)
{
        for (xmlNode *c = n ? n->children : NULL; c; c = c->next)
                if (c->type == XML_ELEMENT_NODE && !strcmp((const char *)c->name, name))
                        return c;
        return NULL;
}

static long long attr_num(xmlNode *n, const char *name)
{
        xmlChar *v = xmlGetProp(n, BAD_CAST name);
        long long r = -1;
        char *end;

        if (v) {
                errno = 0;
                r = strtoll((const char *)v, &end, 10);
                if (errno || end == (char *)v || *end)
                        r = -1;
                xmlFree(v);
        }
        return r;
}

/* Read the NUMA cells of a `virsh capabilities` document: just what the bench needs. */
static void host_load(const char *path, Host *h)
{
        xmlDocPtr doc = xmlReadFile(path, NULL, XML_PARSE_NONET);
        xmlNode *cells;

        if (!doc)
                die("%s: not well-formed XML", path);
        cells = child(child(child(xmlDocGetRootElement(doc), "host"), "topology"), "cells");
        if (!cells)
                die("%s: no <host><topology><cells>", path);
        memset(h, 0, sizeof(*h));
        for (xmlNode *c = cells->children; c; c = c->next) {
                xmlNode *mem, *cpus;
                xmlChar *text;
                Node *n;

                if (c->type != XML_ELEMENT_NODE || strcmp((const char *)c->name, "cell"))
                        continue;
                if (h->nnodes == MAX_NODES)
                        die("%s: more than %d NUMA cells", path, MAX_NODES);
                n = &h->nodes[h->nnodes++];
                n->id = (int)attr_num(c, "id");
                mem = child(c, "memory");
                text = mem ? xmlNodeGetContent(mem) : NULL;
                n->mem_kib = text ? strtoull((const char *)text, NULL, 10) : 0;
                xmlFree(text);
                cpus = child(c, "cpus");
                n->cpus = xcalloc(MAX_CPUS, sizeof(int));
                for (xmlNode *p = cpus ? cpus->children : NULL; p; p = p->next) {
                        long long id;

                        if (p->type != XML_ELEMENT_NODE || strcmp((const char *)p->name, "cpu"))
                                continue;
                        id = attr_num(p, "id");
                        if (id < 0 || id >= MAX_CPUS || n->ncpus == MAX_CPUS)
                                die("%s: bad <cpu id> in cell %d", path, n->id);
                        n->cpus[n->ncpus++] = (int)id;
                        h->cpu[id].socket = (int)attr_num(p, "socket_id");
                        h->cpu[id].die = (int)attr_num(p, "die_id");
                        {
                                xmlChar *sib = xmlGetProp(p, BAD_CAST "siblings");

                                free(h->cpu[id].siblings);
                                h->cpu[id].siblings = sib ? strdup((const char *)sib) : NULL;
                                xmlFree(sib);
                        }
                        if ((int)id > h->maxcpu)
                                h->maxcpu = (int)id;
                }
                if (n->id < 0 || n->ncpus == 0 || n->mem_kib == 0)
                        die("%s: cell %d has no id, CPUs or memory", path, h->nnodes - 1);
                for (xmlNode *sib = child(child(c, "distances"), "sibling"); sib; sib = sib->next)
                        if (sib->type == XML_ELEMENT_NODE && n->ndist < MAX_NODES)
                                n->dist[n->ndist++] = (int)attr_num(sib, "value");
                h->ncpus += n->ncpus;
        }
        xmlFreeDoc(doc);
        if (h->nnodes == 0)
                die("%s: no NUMA cell", path);
}

/* ---------------------------------------------------------------- workload */

typedef struct Workload {
        int vcpus;
        unsigned long long mem_kib;
        char *cputune, *numatune, *guestnuma;  /* the three custom properties */
        char *xml;                              /* the engine's domain XML */
        size_t xml_len;
} Workload;

static char *strf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *strf(const char *fmt, ...)
{
        va_list ap;
        char *s;

        va_start(ap, fmt);
        if (vasprintf(&s, fmt, ap) < 0)
                die("out of memory");
        va_end(ap);
        return s;
}

/*
 * Properties an administrator of this host would set for @vcpus vCPUs: fill
 * NUMA nodes in order, pin every vCPU 1:1 to a host CPU of its node, one
 * guest NUMA cell per host node used, 1 GiB of guest memory per vCPU, memory
 * bound strictly to the nodes used.
 */
static void make_properties(const Host *h, Workload *w)
{
        FILE *ct, *gn;
        char *cts = NULL, *gns = NULL;
        size_t ctlen = 0, gnlen = 0;
        int v = 0, used = 0;

        ct = open_memstream(&cts, &ctlen);
        gn = open_memstream(&gns, &gnlen);
        if (!ct || !gn)
                die("out of memory");
        for (int i = 0; i < h->nnodes && v < w->vcpus; i++) {
                const Node *n = &h->nodes[i];
                int first = v;

                for (int c = 0; c < n->ncpus && v < w->vcpus; c++, v++)
                        fprintf(ct, "%s%d#%d", v ? "," : "", v, n->cpus[c]);
                if ((unsigned long long)(v - first) * 1048576ULL > n->mem_kib)
                        die("host node %d has too little memory for %d vCPUs x 1 GiB", n->id, v - first);
                if (v - first == 1)
                        fprintf(gn, "%s%d#%dG", used ? "," : "", first, v - first);
                else
                        fprintf(gn, "%s%d-%d#%dG", used ? "," : "", first, v - 1, v - first);
                used++;
        }
        fclose(ct);
        fclose(gn);
        if (v < w->vcpus)
                die("the host has %d CPUs: cannot pin %d vCPUs 1:1", h->ncpus, w->vcpus);
        w->cputune = cts;
        w->guestnuma = gns;
        w->numatune = used == 1 ? strf("strict#%d", h->nodes[0].id)
                                : strf("strict#%d-%d", h->nodes[0].id, h->nodes[used - 1].id);
        w->mem_kib = (unsigned long long)w->vcpus * 1048576ULL;
}

/* "0-31,256-287": a list of ids in ascending ranges. */
static void print_list(FILE *f, const int *ids, int n)
{
        int *sorted = xcalloc((size_t)n, sizeof(int)), i = 0;

        memcpy(sorted, ids, (size_t)n * sizeof(int));
        for (int a = 1; a < n; a++)
                for (int b = a; b > 0 && sorted[b - 1] > sorted[b]; b--) {
                        int t = sorted[b];

                        sorted[b] = sorted[b - 1];
                        sorted[b - 1] = t;
                }
        while (i < n) {
                int j = i;

                while (j + 1 < n && sorted[j + 1] == sorted[j] + 1)
                        j++;
                fprintf(f, "%s%d", i ? "," : "", sorted[i]);
                if (j > i)
                        fprintf(f, "-%d", sorted[j]);
                i = j + 1;
        }
        free(sorted);
}

/*
 * The pins vdsm leaves on a VM NUMA-pinned with no explicit CPU pinning (the
 * seed's case): every vCPU of a guest cell on ALL the CPUs of a node. The
 * migration rows start from a VM so pinned on a source host that numbers its
 * nodes differently (cell i on the next node's CPUs), so that the re-fit
 * rewrites every pin even when the VM fills whole nodes (512 vCPUs: all).
 */
static char *make_node_pins(const Host *h, const char *xml)
{
        xmlDocPtr doc = xmlReadMemory(xml, (int)strlen(xml), "domain.xml", NULL, XML_PARSE_NONET);
        xmlNode *cputune = doc ? child(xmlDocGetRootElement(doc), "cputune") : NULL;
        xmlChar *out = NULL;
        char *ret;
        int outlen = 0;

        if (!cputune)
                die("before_vm_start's output has no <cputune>");
        for (xmlNode *p = cputune->children; p; p = p->next) {
                long long v = p->type == XML_ELEMENT_NODE && !strcmp((const char *)p->name, "vcpupin") ?
                              attr_num(p, "vcpu") : -1;
                char *list = NULL;
                size_t len = 0;
                FILE *f;
                int i = 0;

                if (v < 0)
                        continue;
                /* make_properties fills nodes in order: vCPU v is on node i. */
                for (long long first = 0; i < h->nnodes && v >= first + h->nodes[i].ncpus; i++)
                        first += h->nodes[i].ncpus;
                f = open_memstream(&list, &len);
                if (!f || i == h->nnodes)
                        die("vCPU %lld is on no node", v);
                print_list(f, h->nodes[(i + 1) % h->nnodes].cpus, h->nodes[(i + 1) % h->nnodes].ncpus);
                fclose(f);
                xmlSetProp(p, BAD_CAST "cpuset", BAD_CAST list);
                free(list);
        }
        xmlDocDumpMemory(doc, &out, &outlen);
        if (!out)
                die("out of memory");
        ret = strdup((const char *)out);
        xmlFree(out);
        xmlFreeDoc(doc);
        return ret;
}

/* Deterministic ids, so two runs bench the same bytes. */
static const char *fake_uuid(unsigned *state, char buf[37])
{
        unsigned char b[16];

        for (int i = 0; i < 16; i++) {
                *state = *state * 1103515245u + 12345u;
                b[i] = (unsigned char)(*state >> 16);
        }
        b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
        b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
        snprintf(buf, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
                 b[13], b[14], b[15]);
        return buf;
}

/* sda, sdb, sdd, sde, ...: the engine gives sdc to the CD-ROM. */
static char disk_letter(int i)
{
        return (char)('a' + (i < 2 ? i : i + 1));
}

/*
 * A domain as oVirt engine 4.5 sends it to vdsm for a server VM: q35, SPICE,
 * virtio disks on block storage, bridged NICs with vdsm's filters, guest
 * agent channels, serial console, and the ovirt-vm metadata vdsm keeps per
 * device. Sizes from the engine's defaults: maxMemory 4x, 16 memory slots.
 */
static void make_domain_xml(Workload *w)
{
        unsigned seed = 0x5eed0000u + (unsigned)w->vcpus;
        char vm[37], u[37], u2[37], sd[37], pool[37];
        int threads = w->vcpus >= 128 && w->vcpus % 2 == 0 ? 2 : 1;
        int cores = 16, sockets;
        const int ndisks = 4, nnics = 4;
        char *s = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&s, &len);

        if (!f)
                die("out of memory");
        /* sockets x cores x threads must be exactly the vCPU count. */
        while ((w->vcpus / threads) % cores)
                cores--;
        sockets = w->vcpus / threads / cores;
        fake_uuid(&seed, vm);
        fake_uuid(&seed, sd);
        fake_uuid(&seed, pool);

        fprintf(f,
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
                "<domain xmlns:ovirt-tune=\"http://ovirt.org/vm/tune/1.0\" xmlns:ovirt-vm=\"http://ovirt.org/vm/1.0\" type=\"kvm\">\n"
                "  <name>bench-%dvcpu</name>\n"
                "  <uuid>%s</uuid>\n"
                "  <memory>%llu</memory>\n"
                "  <currentMemory>%llu</currentMemory>\n"
                "  <iothreads>1</iothreads>\n"
                "  <maxMemory slots=\"16\">%llu</maxMemory>\n"
                "  <vcpu current=\"%d\">%d</vcpu>\n",
                w->vcpus, vm, w->mem_kib, w->mem_kib, w->mem_kib * 4, w->vcpus, w->vcpus);
        fprintf(f,
                "  <sysinfo type=\"smbios\">\n"
                "    <system>\n"
                "      <entry name=\"manufacturer\">oVirt</entry>\n"
                "      <entry name=\"product\">RHEL</entry>\n"
                "      <entry name=\"version\">9.2-1.el9</entry>\n"
                "      <entry name=\"family\">oVirt</entry>\n"
                "      <entry name=\"uuid\">%s</entry>\n"
                "      <entry name=\"serial\">%s</entry>\n"
                "    </system>\n"
                "  </sysinfo>\n",
                vm, fake_uuid(&seed, u));
        fprintf(f,
                "  <clock offset=\"variable\" adjustment=\"0\">\n"
                "    <timer name=\"rtc\" tickpolicy=\"catchup\"/>\n"
                "    <timer name=\"pit\" tickpolicy=\"delay\"/>\n"
                "    <timer name=\"hpet\" present=\"no\"/>\n"
                "  </clock>\n"
                "  <features>\n"
                "    <acpi/>\n"
                "    <vmcoreinfo/>\n"
                "    <smm state=\"on\"/>\n"
                "  </features>\n"
                "  <cpu match=\"exact\">\n"
                "    <model>EPYC-Milan</model>\n"
                "    <feature name=\"ibpb\" policy=\"require\"/>\n"
                "    <feature name=\"virt-ssbd\" policy=\"require\"/>\n"
                "    <feature name=\"spec-ctrl\" policy=\"require\"/>\n"
                "    <topology cores=\"%d\" threads=\"%d\" sockets=\"%d\"/>\n"
                "    <numa>\n"
                "      <cell id=\"0\" cpus=\"0-%d\" memory=\"%llu\"/>\n"
                "    </numa>\n"
                "  </cpu>\n"
                "  <cputune/>\n",
                cores, threads, sockets, w->vcpus - 1, w->mem_kib);

        fputs("  <devices>\n"
              "    <input type=\"tablet\" bus=\"usb\"/>\n", f);
        fprintf(f,
                "    <channel type=\"unix\">\n"
                "      <target type=\"virtio\" name=\"ovirt-guest-agent.0\"/>\n"
                "      <source mode=\"bind\" path=\"/var/lib/libvirt/qemu/channels/%s.ovirt-guest-agent.0\"/>\n"
                "    </channel>\n"
                "    <channel type=\"unix\">\n"
                "      <target type=\"virtio\" name=\"org.qemu.guest_agent.0\"/>\n"
                "      <source mode=\"bind\" path=\"/var/lib/libvirt/qemu/channels/%s.org.qemu.guest_agent.0\"/>\n"
                "    </channel>\n"
                "    <channel type=\"spicevmc\">\n"
                "      <target type=\"virtio\" name=\"com.redhat.spice.0\"/>\n"
                "    </channel>\n",
                vm, vm);
        fprintf(f,
                "    <controller type=\"usb\" model=\"qemu-xhci\" index=\"0\" ports=\"8\">\n"
                "      <alias name=\"ua-%s\"/>\n"
                "    </controller>\n",
                fake_uuid(&seed, u));
        fprintf(f,
                "    <console type=\"unix\">\n"
                "      <source path=\"/var/run/ovirt-vmconsole-console/%s.sock\" mode=\"bind\"/>\n"
                "      <target type=\"serial\" port=\"0\"/>\n"
                "      <alias name=\"ua-%s\"/>\n"
                "    </console>\n",
                vm, fake_uuid(&seed, u));
        fprintf(f,
                "    <rng model=\"virtio\">\n"
                "      <backend model=\"random\">/dev/urandom</backend>\n"
                "      <alias name=\"ua-%s\"/>\n"
                "    </rng>\n",
                fake_uuid(&seed, u));
        fprintf(f,
                "    <controller type=\"scsi\" model=\"virtio-scsi\" index=\"0\">\n"
                "      <driver iothread=\"1\"/>\n"
                "      <alias name=\"ua-%s\"/>\n"
                "    </controller>\n"
                "    <controller type=\"virtio-serial\" index=\"0\" ports=\"16\">\n"
                "      <alias name=\"ua-%s\"/>\n"
                "    </controller>\n",
                fake_uuid(&seed, u), fake_uuid(&seed, u2));
        for (int i = 1; i <= 16; i++)
                fprintf(f,
                        "    <controller type=\"pci\" model=\"pcie-root-port\" index=\"%d\">\n"
                        "      <address bus=\"0x00\" domain=\"0x0000\" function=\"0x%x\" slot=\"0x%02x\" type=\"pci\"%s/>\n"
                        "    </controller>\n",
                        i, (i - 1) % 8, 2 + (i - 1) / 8, (i - 1) % 8 == 0 ? " multifunction=\"on\"" : "");
        fprintf(f,
                "    <controller type=\"pci\" model=\"pcie-root\"/>\n"
                "    <video>\n"
                "      <model type=\"qxl\" vram=\"32768\" heads=\"1\" ram=\"65536\" vgamem=\"16384\"/>\n"
                "      <alias name=\"ua-%s\"/>\n"
                "    </video>\n",
                fake_uuid(&seed, u));
        fputs("    <graphics type=\"spice\" port=\"-1\" autoport=\"yes\" passwd=\"*****\" "
              "passwdValidTo=\"1970-01-01T00:00:01\" tlsPort=\"-1\">\n"
              "      <channel name=\"main\" mode=\"secure\"/>\n"
              "      <channel name=\"inputs\" mode=\"secure\"/>\n"
              "      <channel name=\"cursor\" mode=\"secure\"/>\n"
              "      <channel name=\"playback\" mode=\"secure\"/>\n"
              "      <channel name=\"record\" mode=\"secure\"/>\n"
              "      <channel name=\"display\" mode=\"secure\"/>\n"
              "      <channel name=\"smartcard\" mode=\"secure\"/>\n"
              "      <channel name=\"usbredir\" mode=\"secure\"/>\n"
              "      <listen type=\"network\" network=\"vdsm-ovirtmgmt\"/>\n"
              "    </graphics>\n", f);
        fprintf(f,
                "    <memballoon model=\"virtio\">\n"
                "      <stats period=\"5\"/>\n"
                "      <alias name=\"ua-%s\"/>\n"
                "    </memballoon>\n",
                fake_uuid(&seed, u));
        for (int i = 0; i < nnics; i++)
                fprintf(f,
                        "    <interface type=\"bridge\">\n"
                        "      <model type=\"virtio\"/>\n"
                        "      <link state=\"up\"/>\n"
                        "      <source bridge=\"%s\"/>\n"
                        "      <driver queues=\"4\" name=\"vhost\"/>\n"
                        "      <alias name=\"ua-%s\"/>\n"
                        "      <mac address=\"56:6f:2e:%02x:00:%02x\"/>\n"
                        "      <mtu size=\"1500\"/>\n"
                        "      <filterref filter=\"vdsm-no-mac-spoofing\"/>\n"
                        "      <bandwidth/>\n"
                        "    </interface>\n",
                        i == 0 ? "ovirtmgmt" : "vlan-data", fake_uuid(&seed, u), w->vcpus & 0xff, i);
        fputs("    <disk type=\"file\" device=\"cdrom\" snapshot=\"no\">\n"
              "      <driver name=\"qemu\" type=\"raw\" error_policy=\"report\"/>\n"
              "      <target dev=\"sdc\" bus=\"sata\"/>\n"
              "      <readonly/>\n"
              "      <alias name=\"ua-cdrom\"/>\n"
              "    </disk>\n", f);
        for (int i = 0; i < ndisks; i++) {
                char img[37], vol[37];

                fake_uuid(&seed, img);
                fake_uuid(&seed, vol);
                fprintf(f,
                        "    <disk snapshot=\"no\" type=\"block\" device=\"disk\">\n"
                        "      <target dev=\"sd%c\" bus=\"scsi\"/>\n"
                        "      <source dev=\"/rhev/data-center/mnt/blockSD/%s/images/%s/%s\">\n"
                        "        <seclabel model=\"dac\" relabel=\"no\"/>\n"
                        "      </source>\n"
                        "      <driver name=\"qemu\" io=\"native\" type=\"qcow2\" error_policy=\"stop\" cache=\"none\"/>\n"
                        "      <alias name=\"ua-%s\"/>\n"
                        "      <address bus=\"0\" controller=\"0\" unit=\"%d\" type=\"drive\" target=\"0\"/>\n"
                        "%s"
                        "      <serial>%s</serial>\n"
                        "    </disk>\n",
                        disk_letter(i), sd, img, vol, img, i, i == 0 ? "      <boot order=\"1\"/>\n" : "", img);
        }
        fputs("  </devices>\n"
              "  <pm>\n"
              "    <suspend-to-disk enabled=\"no\"/>\n"
              "    <suspend-to-mem enabled=\"no\"/>\n"
              "  </pm>\n"
              "  <os>\n"
              "    <type arch=\"x86_64\" machine=\"pc-q35-rhel9.2.0\">hvm</type>\n"
              "    <smbios mode=\"sysinfo\"/>\n"
              "    <bios useserial=\"yes\"/>\n"
              "  </os>\n", f);

        /* vdsm's per-VM and per-device bookkeeping, and the custom properties again. */
        fprintf(f,
                "  <metadata>\n"
                "    <ovirt-tune:qos/>\n"
                "    <ovirt-vm:vm>\n"
                "      <ovirt-vm:minGuaranteedMemoryMb type=\"int\">%llu</ovirt-vm:minGuaranteedMemoryMb>\n"
                "      <ovirt-vm:clusterVersion>4.7</ovirt-vm:clusterVersion>\n"
                "      <ovirt-vm:custom>\n"
                "        <ovirt-vm:cputune>%s</ovirt-vm:cputune>\n"
                "        <ovirt-vm:numatune>%s</ovirt-vm:numatune>\n"
                "        <ovirt-vm:guestnuma>%s</ovirt-vm:guestnuma>\n"
                "      </ovirt-vm:custom>\n",
                w->mem_kib / 1024, w->cputune, w->numatune, w->guestnuma);
        for (int i = 0; i < nnics; i++)
                fprintf(f,
                        "      <ovirt-vm:device mac_address=\"56:6f:2e:%02x:00:%02x\">\n"
                        "        <ovirt-vm:custom/>\n"
                        "      </ovirt-vm:device>\n",
                        w->vcpus & 0xff, i);
        for (int i = 0; i < ndisks; i++) {
                char img[37], vol[37];

                fake_uuid(&seed, img);
                fake_uuid(&seed, vol);
                fprintf(f,
                        "      <ovirt-vm:device devtype=\"disk\" name=\"sd%c\">\n"
                        "        <ovirt-vm:domainID>%s</ovirt-vm:domainID>\n"
                        "        <ovirt-vm:guestName>/dev/sd%c</ovirt-vm:guestName>\n"
                        "        <ovirt-vm:imageID>%s</ovirt-vm:imageID>\n"
                        "        <ovirt-vm:poolID>%s</ovirt-vm:poolID>\n"
                        "        <ovirt-vm:volumeID>%s</ovirt-vm:volumeID>\n"
                        "        <ovirt-vm:volumeChain>\n"
                        "          <ovirt-vm:volumeChainNode>\n"
                        "            <ovirt-vm:domainID>%s</ovirt-vm:domainID>\n"
                        "            <ovirt-vm:imageID>%s</ovirt-vm:imageID>\n"
                        "            <ovirt-vm:leaseOffset type=\"int\">%d</ovirt-vm:leaseOffset>\n"
                        "            <ovirt-vm:leasePath>/dev/%s/leases</ovirt-vm:leasePath>\n"
                        "            <ovirt-vm:path>/rhev/data-center/mnt/blockSD/%s/images/%s/%s</ovirt-vm:path>\n"
                        "            <ovirt-vm:volumeID>%s</ovirt-vm:volumeID>\n"
                        "          </ovirt-vm:volumeChainNode>\n"
                        "        </ovirt-vm:volumeChain>\n"
                        "      </ovirt-vm:device>\n",
                        disk_letter(i), sd, disk_letter(i), img, pool, vol, sd, img,
                        (i + 100) * 1048576, sd, sd, img, vol, vol);
        }
        fputs("      <ovirt-vm:launchPaused>false</ovirt-vm:launchPaused>\n"
              "      <ovirt-vm:resumeBehavior>auto_resume</ovirt-vm:resumeBehavior>\n"
              "    </ovirt-vm:vm>\n"
              "  </metadata>\n"
              "  <on_poweroff>destroy</on_poweroff>\n"
              "  <on_reboot>restart</on_reboot>\n"
              "  <on_crash>destroy</on_crash>\n"
              "</domain>\n", f);
        if (fclose(f) != 0)
                die("out of memory");
        w->xml = s;
        w->xml_len = len;
}

/* ---------------------------------------------------------------- the migration hooks' host */

static const char *tree_from, *tree_to;

static int copy_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        char dst[PATH_MAX];
        char buf[65536];
        int in, out;
        ssize_t n;

        snprintf(dst, sizeof(dst), "%s%s", tree_to, path + strlen(tree_from));
        if (flag == FTW_D)
                return mkdir(dst, 0755) == 0 || errno == EEXIST ? 0 : -1;
        if (flag != FTW_F)
                return 0;
        in = open(path, O_RDONLY | O_CLOEXEC);
        out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (in < 0 || out < 0)
                die("cannot copy %s to %s: %s", path, dst, strerror(errno));
        while ((n = read(in, buf, sizeof(buf))) > 0)
                if (write(out, buf, (size_t)n) != n)
                        die("cannot write %s: %s", dst, strerror(errno));
        close(in);
        close(out);
        return 0;
}

static void put_file(const char *dir, const char *rel, const char *text)
{
        char path[PATH_MAX];
        int fd;

        snprintf(path, sizeof(path), "%s/%s", dir, rel);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text) || close(fd) != 0)
                die("cannot write %s: %s", path, strerror(errno));
}

/*
 * The host for the migration hooks: @from (bench/data/sysfs-512: nodes,
 * memory, pages, cpuinfo) copied to @to, plus what placing a VM reads and
 * before_vm_start does not: every online CPU's topology/{physical_package_id,
 * die_id,thread_siblings_list} and each node's distance row, from the caps.
 */
static void make_mig_tree(const Host *h, const char *from, const char *to)
{
        char rel[1024], text[PATH_MAX + 1100];

        tree_from = from;
        tree_to = to;
        if (mkdir(to, 0755) != 0 && errno != EEXIST)
                die("cannot create %s: %s", to, strerror(errno));
        if (nftw(from, copy_one, 16, FTW_PHYS) != 0)
                die("cannot copy %s to %s", from, to);
        for (int i = 0; i < h->nnodes; i++) {
                const Node *n = &h->nodes[i];
                size_t len = 0;

                for (int k = 0; k < n->ncpus; k++) {
                        const CpuInfo *c = &h->cpu[n->cpus[k]];

                        snprintf(rel, sizeof(rel), "sys/devices/system/cpu/cpu%d", n->cpus[k]);
                        snprintf(text, sizeof(text), "%s/%s", to, rel);
                        mkdir(text, 0755);
                        snprintf(rel, sizeof(rel), "sys/devices/system/cpu/cpu%d/topology", n->cpus[k]);
                        snprintf(text, sizeof(text), "%s/%s", to, rel);
                        if (mkdir(text, 0755) != 0 && errno != EEXIST)
                                die("cannot create %s: %s", text, strerror(errno));
                        snprintf(rel, sizeof(rel), "sys/devices/system/cpu/cpu%d/topology/physical_package_id", n->cpus[k]);
                        snprintf(text, sizeof(text), "%d\n", c->socket < 0 ? 0 : c->socket);
                        put_file(to, rel, text);
                        snprintf(rel, sizeof(rel), "sys/devices/system/cpu/cpu%d/topology/die_id", n->cpus[k]);
                        snprintf(text, sizeof(text), "%d\n", c->die < 0 ? 0 : c->die);
                        put_file(to, rel, text);
                        snprintf(rel, sizeof(rel), "sys/devices/system/cpu/cpu%d/topology/thread_siblings_list", n->cpus[k]);
                        snprintf(text, sizeof(text), "%s\n", c->siblings ? c->siblings : "");
                        if (!c->siblings)
                                snprintf(text, sizeof(text), "%d\n", n->cpus[k]);
                        put_file(to, rel, text);
                }
                for (int k = 0; k < n->ndist; k++)
                        len += (size_t)snprintf(text + len, sizeof(text) - len, "%s%d", k ? " " : "", n->dist[k]);
                snprintf(text + len, sizeof(text) - len, "\n");
                snprintf(rel, sizeof(rel), "sys/devices/system/node/node%d/distance", n->id);
                if (n->ndist == h->nnodes)
                        put_file(to, rel, text);
        }
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        return remove(path);
}

/* ---------------------------------------------------------------- running */

typedef struct Stats {
        double median, p90, min;        /* ms */
        long max_rss_kib;
} Stats;

static double now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void write_file(const char *path, const char *data, size_t len)
{
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        size_t done = 0;

        if (fd < 0)
                die("cannot create %s: %s", path, strerror(errno));
        while (done < len) {
                ssize_t n = write(fd, data + done, len - done);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        die("cannot write %s: %s", path, strerror(errno));
                done += (size_t)n;
        }
        if (close(fd) != 0)
                die("cannot write %s: %s", path, strerror(errno));
}

typedef struct Target {
        const char *label;
        const char *path;
        char **argv;
        char **envp;
        bool stdin_xml;         /* the domain XML on stdin (libvirt's hook), else /dev/null */
        const char *outpath;    /* stdout to this file (read back as the output), else /dev/null */
} Target;

/*
 * Runs are started by a spawner: a process forked before this bench loads
 * anything. A child's ru_maxrss counts the memory it inherited before exec,
 * so a child of the spawner (a few hundred KiB) reports close to the
 * program's own peak, where a child of the bench would report the bench's.
 *
 * Request: SpawnHead, then @len bytes of NUL-terminated strings: the stderr
 * file, the stdin file and the stdout file ("" for /dev/null), the program,
 * its @nargs arguments, its @nenv environment entries.
 */
typedef struct SpawnHead {
        uint32_t nargs, nenv, len;
} SpawnHead;

typedef struct SpawnResult {
        int status;             /* exit code, 128+signal, or -errno of the spawner */
        double ms;
        long rss_kib;
} SpawnResult;

#define SPAWN_MAX_BYTES (256u << 10)
#define SPAWN_MAX_STRINGS 64

static int spawn_req_fd = -1, spawn_res_fd = -1;
static pid_t spawner_pid = -1;

static bool read_full(int fd, void *buf, size_t len)
{
        char *p = buf;

        while (len) {
                ssize_t n = read(fd, p, len);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return false;
                p += n;
                len -= (size_t)n;
        }
        return true;
}

static bool write_full(int fd, const void *buf, size_t len)
{
        const char *p = buf;

        while (len) {
                ssize_t n = write(fd, p, len);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return false;
                p += n;
                len -= (size_t)n;
        }
        return true;
}

/* The spawner's loop: one request in, one fork+exec+wait4, one result out. */
static void spawner_main(int req, int res) __attribute__((noreturn));
static void spawner_main(int req, int res)
{
        static char buf[SPAWN_MAX_BYTES];
        char *strs[SPAWN_MAX_STRINGS + 1];
        SpawnHead h;

        while (read_full(req, &h, sizeof(h))) {
                SpawnResult r = { .status = -EINVAL };
                size_t n = 0, nstr = (size_t)h.nargs + h.nenv + 4;
                struct rusage ru;
                double t0;
                int status, errfd, infd = -1, outfd = -1;
                pid_t pid;

                if (h.len > SPAWN_MAX_BYTES || nstr > SPAWN_MAX_STRINGS || !read_full(req, buf, h.len))
                        _exit(1);
                for (size_t off = 0; off < h.len && n < nstr; off += strlen(buf + off) + 1)
                        strs[n++] = buf + off;
                if (n != nstr || h.len == 0 || buf[h.len - 1] != '\0')
                        goto reply;
                /* strs: errfile, infile, outfile, path, argv[0..nargs-1], envp[0..nenv-1] */
                errfd = open(strs[0], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                if (errfd < 0) {
                        r.status = -errno;
                        goto reply;
                }
                infd = open(strs[1][0] ? strs[1] : "/dev/null", O_RDONLY | O_CLOEXEC);
                outfd = open(strs[2][0] ? strs[2] : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                if (infd < 0 || outfd < 0) {
                        r.status = -errno;
                        close(errfd);
                        if (infd >= 0)
                                close(infd);
                        if (outfd >= 0)
                                close(outfd);
                        goto reply;
                }
                {
                        char *argv[SPAWN_MAX_STRINGS + 1], *envp[SPAWN_MAX_STRINGS + 1];

                        for (uint32_t i = 0; i < h.nargs; i++)
                                argv[i] = strs[4 + i];
                        argv[h.nargs] = NULL;
                        for (uint32_t i = 0; i < h.nenv; i++)
                                envp[i] = strs[4 + h.nargs + i];
                        envp[h.nenv] = NULL;

                        t0 = now_ms();
                        pid = fork();
                        if (pid == 0) {
                                dup2(infd, STDIN_FILENO);
                                dup2(outfd, STDOUT_FILENO);
                                dup2(errfd, STDERR_FILENO);
                                execve(strs[3], argv, envp);
                                dprintf(STDERR_FILENO, "%s: cannot run %s: %s\n", prog, strs[3], strerror(errno));
                                _exit(127);
                        }
                }
                close(errfd);
                close(infd);
                close(outfd);
                if (pid < 0) {
                        r.status = -errno;
                        goto reply;
                }
                while (wait4(pid, &status, 0, &ru) < 0)
                        if (errno != EINTR)
                                _exit(1);
                r.ms = now_ms() - t0;
                r.rss_kib = ru.ru_maxrss;
                r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
reply:
                if (!write_full(res, &r, sizeof(r)))
                        _exit(1);
        }
        _exit(0);
}

/* Fork the spawner; call first thing in main(), while this process is small. */
static void spawner_start(void)
{
        int req[2], res[2];

        if (pipe2(req, O_CLOEXEC) != 0 || pipe2(res, O_CLOEXEC) != 0)
                die("pipe: %s", strerror(errno));
        spawner_pid = fork();
        if (spawner_pid < 0)
                die("fork: %s", strerror(errno));
        if (spawner_pid == 0) {
                close(req[1]);
                close(res[0]);
                spawner_main(req[0], res[1]);
        }
        close(req[0]);
        close(res[1]);
        spawn_req_fd = req[1];
        spawn_res_fd = res[0];
}

static void spawner_stop(void)
{
        int status;

        if (spawner_pid <= 0)
                return;
        close(spawn_req_fd);
        close(spawn_res_fd);
        waitpid(spawner_pid, &status, 0);
        spawner_pid = -1;
}

/*
 * One timed run of @t through the spawner: its stderr goes to @errpath.
 * Returns the exit status (128+signal when killed); sets wall time and peak RSS.
 */
static int run_once(const Target *t, const char *errpath, const char *inpath, double *ret_ms, long *ret_rss)
{
        static char buf[SPAWN_MAX_BYTES];
        SpawnHead h = { 0 };
        SpawnResult r;
        size_t len = 0;
        const char *strs[SPAWN_MAX_STRINGS + 2];
        size_t n = 0;

        strs[n++] = errpath;
        strs[n++] = t->stdin_xml ? inpath : "";
        strs[n++] = t->outpath ? t->outpath : "";
        strs[n++] = t->path;
        for (char **a = t->argv; *a; a++, h.nargs++)
                if (n < SPAWN_MAX_STRINGS)
                        strs[n++] = *a;
        for (char **e = t->envp; *e; e++, h.nenv++)
                if (n < SPAWN_MAX_STRINGS)
                        strs[n++] = *e;
        if (n != (size_t)h.nargs + h.nenv + 4)
                die("too many arguments for %s", t->path);
        for (size_t i = 0; i < n; i++) {
                size_t l = strlen(strs[i]) + 1;

                if (len + l > sizeof(buf))
                        die("arguments of %s too long", t->path);
                memcpy(buf + len, strs[i], l);
                len += l;
        }
        h.len = (uint32_t)len;
        if (!write_full(spawn_req_fd, &h, sizeof(h)) || !write_full(spawn_req_fd, buf, len) ||
            !read_full(spawn_res_fd, &r, sizeof(r)))
                die("the spawner died");
        if (r.status < 0)
                die("cannot start %s: %s", t->path, strerror(-r.status));
        *ret_ms = r.ms;
        *ret_rss = r.rss_kib;
        return r.status;
}

static int cmp_double(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;

        return (x > y) - (x < y);
}

/* Print what the failed run said, then give up. */
static void report_failure(const Target *t, int status, const char *errpath, const char *workpath)
{
        char buf[2048];
        FILE *f = fopen(errpath, "r");
        size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

        if (f)
                fclose(f);
        buf[n] = '\0';
        fprintf(stderr, "%s: %s exited %d on %s; its stderr:\n%s", prog, t->label, status, workpath, buf);
}

/*
 * Time @runs runs of each of the @nt targets on fresh copies of @w's XML,
 * taking turns run by run (target 0, 1, ..., 0, 1, ...), so that a machine
 * that gets slower or faster meanwhile weighs on all of them alike: their
 * ratios hold on a noisy machine. With @outs, outs[k] is target k's output
 * of its first run. Returns false if a run failed.
 */
static bool measure_set(const Target *const *ts, size_t nt, const Workload *w, const char *workpath,
                        const char *errpath, int warmup, int runs, Stats *st, char **outs)
{
        double *ms = xcalloc(nt * (size_t)runs, sizeof(double));
        long rss;

        for (size_t k = 0; k < nt; k++)
                st[k].max_rss_kib = 0;
        for (int i = -warmup; i < runs; i++)
                for (size_t k = 0; k < nt; k++) {
                        const Target *t = ts[k];
                        double dt;
                        int status;

                        write_file(workpath, w->xml, w->xml_len);
                        status = run_once(t, errpath, workpath, &dt, &rss);
                        if (status != 0) {
                                report_failure(t, status, errpath, workpath);
                                free(ms);
                                return false;
                        }
                        if (i == -warmup && outs) {
                                FILE *f = fopen(t->outpath ? t->outpath : workpath, "r");
                                struct stat sb;

                                if (!f || fstat(fileno(f), &sb) != 0)
                                        die("cannot read back %s", workpath);
                                outs[k] = xcalloc(1, (size_t)sb.st_size + 1);
                                if (fread(outs[k], 1, (size_t)sb.st_size, f) != (size_t)sb.st_size)
                                        die("cannot read back %s", workpath);
                                fclose(f);
                        }
                        if (i < 0)
                                continue;
                        ms[k * (size_t)runs + (size_t)i] = dt;
                        if (rss > st[k].max_rss_kib)
                                st[k].max_rss_kib = rss;
                }
        for (size_t k = 0; k < nt; k++) {
                double *m = ms + k * (size_t)runs;

                qsort(m, (size_t)runs, sizeof(double), cmp_double);
                st[k].min = m[0];
                st[k].median = runs % 2 ? m[runs / 2] : (m[runs / 2 - 1] + m[runs / 2]) / 2;
                st[k].p90 = m[(runs * 9 + 9) / 10 - 1];
        }
        free(ms);
        return true;
}

static size_t count_substr(const char *hay, const char *needle)
{
        size_t n = 0;

        for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
                n++;
        return n;
}

/* ---------------------------------------------------------------- main */

static void usage(FILE *f)
{
        fprintf(f,
                "Usage: %s [OPTION]...\n"
                "Time each hook as vdsm runs it (fork + exec + wait) on engine-like domain XML\n"
                "with cputune, numatune and guestnuma set, against a floor program that only\n"
                "parses and rewrites the same XML with libxml2. Not a test: never fails on a\n"
                "time; exits 1 only when a hook (or the floor) fails.\n"
                "\n"
                "  -n, --runs N         timed runs per hook and size (default 200)\n"
                "  -w, --warmup N       untimed runs before them (default 5)\n"
                "  -s, --sizes LIST     vCPU counts, comma-separated (default 4,64,512)\n"
                "      --hook NAME      hook to run, repeatable (default before_vm_start)\n"
                "      --host-caps FILE host to plan for (default SRCDIR/bench/data/bench-host-caps.xml)\n"
                "      --sysfs-root DIR the same host as the hooks read it (default SRCDIR/bench/data/sysfs-512);\n"
                "                       '-' makes the hooks read --host-caps instead\n"
                "      --builddir DIR   where hooks/ and bench/bench-floor are (default .)\n"
                "      --srcdir DIR     where bench/data is (default .)\n"
                "      --keep DIR       write each generated domain XML and hook output to DIR\n"
                "      --no-migration   leave out the migration rows (the destination check and libvirt's\n"
                "                       migrate begin on a VM vdsm pinned to whole nodes, read from a copy of\n"
                "                       the sysfs tree with CPU topology and node distances added)\n"
                "  -h, --help\n",
                prog);
}

static int parse_int(const char *s, int min, int max, const char *what)
{
        char *end;
        long v;

        errno = 0;
        v = strtol(s, &end, 10);
        if (errno || end == s || *end || v < min || v > max)
                die("%s: '%s' is not a number in %d..%d", what, s, min, max);
        return (int)v;
}

int main(int argc, char **argv)
{
        enum { OPT_HOOK = 256, OPT_CAPS, OPT_SYSFS, OPT_BUILDDIR, OPT_SRCDIR, OPT_KEEP, OPT_NOMIG };
        static const struct option longopts[] = {
                { "runs", required_argument, NULL, 'n' },
                { "warmup", required_argument, NULL, 'w' },
                { "sizes", required_argument, NULL, 's' },
                { "hook", required_argument, NULL, OPT_HOOK },
                { "host-caps", required_argument, NULL, OPT_CAPS },
                { "sysfs-root", required_argument, NULL, OPT_SYSFS },
                { "builddir", required_argument, NULL, OPT_BUILDDIR },
                { "srcdir", required_argument, NULL, OPT_SRCDIR },
                { "keep", required_argument, NULL, OPT_KEEP },
                { "no-migration", no_argument, NULL, OPT_NOMIG },
                { "help", no_argument, NULL, 'h' },
                { 0 },
        };
        const char *builddir = ".", *srcdir = ".", *caps = NULL, *keep = NULL, *sysfs = NULL;
        char migtree[PATH_MAX + 16], ledgerpath[PATH_MAX + 16], outpath[PATH_MAX + 16];
        bool migration = true;
        char sysfspath[PATH_MAX];
        const char *hooks[MAX_HOOKS];
        int nhooks = 0, runs = 200, warmup = 5, sizes[MAX_SIZES] = { 4, 64, 512 }, nsizes = 3;
        char tmpdir[] = "/tmp/hpvm-bench.XXXXXX";
        char workpath[PATH_MAX], errpath[PATH_MAX], floorpath[PATH_MAX], capspath[PATH_MAX];
        char statedir[PATH_MAX], confpath[PATH_MAX + 16], *env_conf;
        bool failed = false;
        Host host;
        int c;

        spawner_start();
        while ((c = getopt_long(argc, argv, "n:w:s:h", longopts, NULL)) != -1) {
                switch (c) {
                case 'n': runs = parse_int(optarg, 1, MAX_RUNS, "--runs"); break;
                case 'w': warmup = parse_int(optarg, 0, MAX_RUNS, "--warmup"); break;
                case 's': {
                        char *list = strdup(optarg), *save = NULL;

                        nsizes = 0;
                        for (char *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                                if (nsizes == MAX_SIZES)
                                        die("--sizes: at most %d sizes", MAX_SIZES);
                                sizes[nsizes++] = parse_int(tok, 1, MAX_CPUS, "--sizes");
                        }
                        free(list);
                        if (!nsizes)
                                die("--sizes: empty list");
                        break;
                }
                case OPT_HOOK:
                        if (nhooks == MAX_HOOKS)
                                die("--hook: at most %d hooks", MAX_HOOKS);
                        hooks[nhooks++] = optarg;
                        break;
                case OPT_CAPS: caps = optarg; break;
                case OPT_SYSFS: sysfs = optarg; break;
                case OPT_BUILDDIR: builddir = optarg; break;
                case OPT_SRCDIR: srcdir = optarg; break;
                case OPT_KEEP: keep = optarg; break;
                case OPT_NOMIG: migration = false; break;
                case 'h': usage(stdout); return 0;
                default: usage(stderr); return 2;
                }
        }
        if (optind < argc)
                die("unexpected argument '%s' (see --help)", argv[optind]);
        if (!nhooks)
                hooks[nhooks++] = "before_vm_start";
        if (!caps) {
                snprintf(capspath, sizeof(capspath), "%s/bench/data/bench-host-caps.xml", srcdir);
                caps = capspath;
        }
        if (!sysfs) {
                snprintf(sysfspath, sizeof(sysfspath), "%s/bench/data/sysfs-512", srcdir);
                sysfs = sysfspath;
        } else if (!strcmp(sysfs, "-"))
                sysfs = NULL;
        snprintf(floorpath, sizeof(floorpath), "%s/bench/bench-floor", builddir);
        if (access(floorpath, X_OK) != 0)
                die("%s: %s (make bench builds it)", floorpath, strerror(errno));

        host_load(caps, &host);
        if (!mkdtemp(tmpdir))
                die("mkdtemp: %s", strerror(errno));
        snprintf(workpath, sizeof(workpath), "%s/domxml", tmpdir);
        snprintf(errpath, sizeof(errpath), "%s/stderr", tmpdir);
        /* The hooks' CPU ledger where production keeps it: on tmpfs (/run there, /dev/shm here). */
        snprintf(statedir, sizeof(statedir), "/dev/shm/hpvm-bench-%ld", (long)getpid());
        snprintf(ledgerpath, sizeof(ledgerpath), "%s/cpus", statedir);
        snprintf(outpath, sizeof(outpath), "%s/stdout", tmpdir);
        /* The migration hooks read thread siblings and distances: a copy of the tree with them, on tmpfs as sysfs is. */
        snprintf(migtree, sizeof(migtree), "/dev/shm/hpvm-bench-%ld-sysfs", (long)getpid());
        if (migration && !sysfs)
                migration = false;
        if (migration)
                make_mig_tree(&host, sysfs, migtree);
        snprintf(confpath, sizeof(confpath), "%s/hpvm.conf", tmpdir);
        {
                char *conf = strf("state_dir=%s\nreserved_cpus=\n", statedir);

                write_file(confpath, conf, strlen(conf));
                free(conf);
        }
        env_conf = strf("HPVM_CONFIG=%s", confpath);
        if (keep && mkdir(keep, 0755) != 0 && errno != EEXIST)
                die("cannot create %s: %s", keep, strerror(errno));

        printf("hpvm bench: %d runs per row after %d warm-up runs. Time: wall clock of fork+exec+wait\n"
               "(CLOCK_MONOTONIC); RSS: the largest wait4() ru_maxrss of the runs.\n"
               "host: %s (%d NUMA nodes, %d CPUs), read by the hooks from %s\n"
               "properties: cputune (every vCPU 1:1), numatune strict, guestnuma (a cell per node);\n"
               "  +highperf adds highperf=true hugepages=1048576 emulatorpin iothreads=2 iothreadpin nosharepages=true\n"
               "floor: bench-floor, libxml2 xmlReadFile + write to a temp file + rename; ratio: hook/floor medians\n"
               "%s\n",
               runs, warmup, caps, host.nnodes, host.ncpus, sysfs ? sysfs : "the same capabilities file",
               migration ? "migration: before_vm_start's output with every vCPU of a cell pinned to a whole node (the\n"
                           "  next one: another host's numbering), checked and re-fitted on the same host read with\n"
                           "  thread siblings and distances; the check replaces its reservation each run, migrate begin\n"
                           "  (XML on stdin, the re-fitted XML on stdout) applies it\n" : "");
        printf("%-28s %5s %7s | %8s %8s %8s %8s | %8s %8s %8s %8s | %6s\n",
               "hook", "vCPUs", "XML KiB", "median", "p90", "min", "RSS", "median", "p90", "min", "RSS", "ratio");
        printf("%-28s %5s %7s | %8s %8s %8s %8s | %8s %8s %8s %8s | %6s\n",
               "", "", "", "ms", "ms", "ms", "KiB", "floor ms", "ms", "ms", "KiB", "median");
        fflush(stdout);

        for (int s = 0; s < nsizes && !failed; s++) {
                Workload w = { .vcpus = sizes[s] };
                char *env_domxml, *env_ct, *env_nt, *env_gn;
                char *floor_argv[] = { floorpath, NULL };
                Stats fs, fs_floor;
                Target floor_t;

                make_properties(&host, &w);
                make_domain_xml(&w);
                env_domxml = strf("_hook_domxml=%s", workpath);
                env_ct = strf("cputune=%s", w.cputune);
                env_nt = strf("numatune=%s", w.numatune);
                env_gn = strf("guestnuma=%s", w.guestnuma);
                char *envp[] = { (char *)"PATH=/usr/sbin:/usr/bin:/sbin:/bin", (char *)"LC_ALL=C",
                                 env_domxml, env_ct, env_nt, env_gn, env_conf, NULL };
                floor_t = (Target) { "bench-floor", floorpath, floor_argv, envp, false, NULL };

                if (keep) {
                        char p[PATH_MAX + 64];

                        snprintf(p, sizeof(p), "%s/engine-%d.xml", keep, w.vcpus);
                        write_file(p, w.xml, w.xml_len);
                        snprintf(p, sizeof(p), "%s/engine-%d.env", keep, w.vcpus);
                        {
                                char *e = strf("%s\n%s\n%s\n", env_ct, env_nt, env_gn);

                                write_file(p, e, strlen(e));
                                free(e);
                        }
                }
                /* The last host CPUs run the emulator and IO threads (they may also run vCPUs: a warning). */
                char *env_ep = strf("emulatorpin=%d", host.maxcpu);
                char *env_iop = strf("iothreadpin=1#%d,2#%d", host.maxcpu - 1, host.maxcpu - 2);
                char *hp_envp[] = { (char *)"PATH=/usr/sbin:/usr/bin:/sbin:/bin", (char *)"LC_ALL=C",
                                    env_domxml, env_ct, env_nt, env_gn, (char *)"highperf=true",
                                    (char *)"hugepages=1048576", env_ep, (char *)"iothreads=2", env_iop,
                                    (char *)"nosharepages=true", env_conf, NULL };
                /* The floor and every row, measured taking turns. Only before_vm_start reads the profile's properties. */
                char hookpath[MAX_HOOKS][PATH_MAX], label[2 * MAX_HOOKS + 1][64];
                char *hook_argv[MAX_HOOKS][4];
                Target row_t[2 * MAX_HOOKS + 1];
                const Target *set[2 * MAX_HOOKS + 1];
                Stats st[2 * MAX_HOOKS + 1];
                char *out[2 * MAX_HOOKS + 1] = { 0 };
                bool row_hp[2 * MAX_HOOKS + 1];
                int row_hook[2 * MAX_HOOKS + 1];
                size_t nset = 0;

                set[nset++] = &floor_t;
                for (int h = 0; h < nhooks; h++) {
                        snprintf(hookpath[h], sizeof(hookpath[h]), "%s/hooks/%s", builddir, hooks[h]);
                        hook_argv[h][0] = hookpath[h];
                        hook_argv[h][1] = (char *)(sysfs ? "--sysfs-root" : "--host-caps");
                        hook_argv[h][2] = (char *)(sysfs ? sysfs : caps);
                        hook_argv[h][3] = NULL;
                        for (int hp = 0; hp < 2; hp++) {
                                if (hp && strcmp(hooks[h], "before_vm_start"))
                                        continue;
                                snprintf(label[nset], sizeof(label[nset]), "%s%s", hooks[h], hp ? "+highperf" : "");
                                row_t[nset] = (Target) { label[nset], hookpath[h], hook_argv[h], hp ? hp_envp : envp,
                                                         false, NULL };
                                row_hp[nset] = hp;
                                row_hook[nset] = h;
                                set[nset] = &row_t[nset];
                                nset++;
                        }
                }
                if (!measure_set(set, nset, &w, workpath, errpath, warmup, runs, st, out))
                        failed = true;
                fs = st[0];
                for (size_t row = 1; row < nset && !failed; row++) {
                        const char *output = out[row];
                        int h = row_hook[row];
                        bool hp = row_hp[row];
                        size_t pins;

                        /* A hook that exits 0 without doing the work would bench nicely: check. */
                        pins = count_substr(output, "<vcpupin ");
                        if (hp && (!strstr(output, "<cpu mode=\"host-passthrough\"") ||
                                   !strstr(output, "<page size=\"1048576\" unit=\"KiB\""))) {
                                fprintf(stderr, "%s: %s did not apply the profile\n", prog, label[row]);
                                failed = true;
                        }
                        if (!strcmp(hooks[h], "before_vm_start") && pins != (size_t)w.vcpus) {
                                fprintf(stderr, "%s: %s wrote %zu <vcpupin> for %d vCPUs\n", prog, hooks[h],
                                        pins, w.vcpus);
                                failed = true;
                        }
                        if (keep) {
                                char p[PATH_MAX + 64];

                                snprintf(p, sizeof(p), "%s/%s-%d.xml", keep, label[row], w.vcpus);
                                write_file(p, output, strlen(output));
                        }
                        printf("%-28s %5d %7.1f | %8.3f %8.3f %8.3f %8ld | %8.3f %8.3f %8.3f %8ld | %5.2fx\n",
                               label[row], w.vcpus, (double)w.xml_len / 1024, st[row].median, st[row].p90,
                               st[row].min, st[row].max_rss_kib, fs.median, fs.p90, fs.min, fs.max_rss_kib,
                               st[row].median / fs.median);
                        fflush(stdout);
                }
                for (size_t k = 0; k < nset; k++)
                        free(out[k]);
                if (migration && !failed) {
                        /*
                         * The source: before_vm_start pins every vCPU of a cell to its whole node (as
                         * vdsm does for a VM NUMA-pinned without CPU pinning). Each hook then runs as
                         * in a migration to this host: the check replaces its own reservation at
                         * every run, migrate begin applies it and prints the rewritten XML.
                         */
                        char *src_envp[] = { (char *)"PATH=/usr/sbin:/usr/bin:/sbin:/bin", (char *)"LC_ALL=C",
                                             env_domxml, env_ct, env_nt, env_gn, env_conf, NULL };
                        char *mig_envp[] = { (char *)"PATH=/usr/sbin:/usr/bin:/sbin:/bin", (char *)"LC_ALL=C",
                                             env_domxml, env_conf, NULL };
                        char *lv_envp[] = { (char *)"PATH=/usr/sbin:/usr/bin:/sbin:/bin", (char *)"LC_ALL=C", env_conf,
                                            NULL };
                        char startpath[PATH_MAX + 32], checkpath[PATH_MAX + 32], lvpath[PATH_MAX + 32], domname[64];
                        char *start_argv[] = { startpath, (char *)"--sysfs-root", (char *)sysfs, NULL };
                        char *check_argv[] = { checkpath, (char *)"--sysfs-root", migtree, NULL };
                        char *lv_argv[] = { lvpath, (char *)"--sysfs-root", migtree, domname, (char *)"migrate",
                                            (char *)"begin", (char *)"-", NULL };
                        Target start_t = { "source", startpath, start_argv, src_envp, false, NULL };
                        Target check_t = { "before_migration_destination", checkpath, check_argv, mig_envp, false, NULL };
                        Target lv_t = { "libvirt_qemu migrate begin", lvpath, lv_argv, lv_envp, true, outpath };
                        Workload src = w;
                        char *started = NULL, *srcxml = NULL, *refitted = NULL;
                        Stats cs, ls;

                        snprintf(startpath, sizeof(startpath), "%s/hooks/before_vm_start", builddir);
                        snprintf(checkpath, sizeof(checkpath), "%s/hooks/before_migration_destination", builddir);
                        snprintf(lvpath, sizeof(lvpath), "%s/hooks/libvirt_qemu", builddir);
                        snprintf(domname, sizeof(domname), "bench-%dvcpu", w.vcpus);
                        /* Other sizes' VMs would hold CPUs here: each size migrates into an empty ledger. */
                        unlink(ledgerpath);
                        {
                                const Target *one[] = { &start_t };

                                if (!measure_set(one, 1, &w, workpath, errpath, 0, 1, &fs, &started))
                                        failed = true;
                        }
                        srcxml = failed ? NULL : make_node_pins(&host, started);
                        src.xml = srcxml;
                        src.xml_len = srcxml ? strlen(srcxml) : 0;
                        /* The floor on the same document: node-wide pins make it larger than the engine's. */
                        if (!failed) {
                                /* Taking turns: floor, check (it replaces the reservation), migrate begin (applies it). */
                                const Target *mig[] = { &floor_t, &check_t, &lv_t };
                                Stats mst[3];
                                char *mout[3] = { 0 };

                                if (!measure_set(mig, 3, &src, workpath, errpath, warmup, runs, mst, mout))
                                        failed = true;
                                fs_floor = mst[0];
                                cs = mst[1];
                                ls = mst[2];
                                refitted = mout[2];
                                free(mout[0]);
                                free(mout[1]);
                        }
                        if (!failed && (count_substr(refitted, "<vcpupin ") != (size_t)w.vcpus ||
                                        !strcmp(refitted, srcxml))) {
                                fprintf(stderr, "%s: migrate begin did not re-fit the %d vCPU pins\n", prog, w.vcpus);
                                failed = true;
                        }
                        if (!failed && keep) {
                                char p[PATH_MAX + 64];

                                snprintf(p, sizeof(p), "%s/migrate-source-%d.xml", keep, w.vcpus);
                                write_file(p, srcxml, strlen(srcxml));
                                snprintf(p, sizeof(p), "%s/migrate-refit-%d.xml", keep, w.vcpus);
                                write_file(p, refitted, strlen(refitted));
                        }
                        if (!failed) {
                                printf("%-28s %5d %7.1f | %8.3f %8.3f %8.3f %8ld | %8.3f %8.3f %8.3f %8ld | %5.2fx\n",
                                       "before_migration_destination", w.vcpus, (double)src.xml_len / 1024, cs.median, cs.p90,
                                       cs.min, cs.max_rss_kib, fs_floor.median, fs_floor.p90, fs_floor.min,
                                       fs_floor.max_rss_kib, cs.median / fs_floor.median);
                                printf("%-28s %5d %7.1f | %8.3f %8.3f %8.3f %8ld | %8.3f %8.3f %8.3f %8ld | %5.2fx\n",
                                       "libvirt_qemu migrate begin", w.vcpus, (double)src.xml_len / 1024, ls.median, ls.p90,
                                       ls.min, ls.max_rss_kib, fs_floor.median, fs_floor.p90, fs_floor.min,
                                       fs_floor.max_rss_kib, ls.median / fs_floor.median);
                                fflush(stdout);
                        }
                        free(started);
                        free(srcxml);
                        free(refitted);
                }
                free(env_ep);
                free(env_iop);
                free(env_domxml);
                free(env_ct);
                free(env_nt);
                free(env_gn);
                free(w.cputune);
                free(w.numatune);
                free(w.guestnuma);
                free(w.xml);
        }
        spawner_stop();
        if (migration)
                nftw(migtree, rm_one, 16, FTW_DEPTH | FTW_PHYS);
        unlink(outpath);
        unlink(workpath);
        unlink(errpath);
        unlink(confpath);
        rmdir(tmpdir);
        {
                char p[PATH_MAX + 16];

                snprintf(p, sizeof(p), "%s/cpus", statedir);
                unlink(p);
                snprintf(p, sizeof(p), "%s/cpus.lock", statedir);
                unlink(p);
                rmdir(statedir);
        }
        free(env_conf);
        for (int i = 0; i < host.nnodes; i++)
                free(host.nodes[i].cpus);
        if (failed) {
                fprintf(stderr, "%s: FAILED (a hook or the floor did not exit 0)\n", prog);
                return 1;
        }
        return 0;
}
