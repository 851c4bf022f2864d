/* profile.c: the High Performance VM profile (oVirt's "Optimized for: High Performance") as domain XML edits. */
#include <errno.h>
#include <string.h>

#include "profile.h"
#include "xml.h"

#define LIBOSINFO_NS "http://libosinfo.org/xmlns/libvirt/domain/1.0"

static bool prop_is(const xmlNode *n, const char *name, const char *value)
{
        _cleanup_xmlchar_ xmlChar *v = n ? hpvm_xml_prop(n, name) : NULL;

        return v && xmlStrEqual(v, BAD_CAST value);
}

static bool has_prop(const xmlNode *n, const char *name)
{
        return xmlHasNsProp(n, BAD_CAST name, NULL) != NULL;
}

/* <libosinfo:os id='http://microsoft.com/win/...'/> anywhere in <metadata>. */
static bool libosinfo_windows(const xmlNode *n)
{
        for (; n; n = n->next) {
                if (n->type != XML_ELEMENT_NODE)
                        continue;
                if (n->ns && xmlStrEqual(n->ns->href, BAD_CAST LIBOSINFO_NS) &&
                    xmlStrEqual(n->name, BAD_CAST "os")) {
                        _cleanup_xmlchar_ xmlChar *id = xmlGetNoNsProp(n, BAD_CAST "id");

                        if (id && xmlStrstr(id, BAD_CAST "microsoft.com/win"))
                                return true;
                }
                if (libosinfo_windows(n->children))
                        return true;
        }
        return false;
}

const char *hpvm_profile_windows_reason(const HpvmDomain *d)
{
        if (libosinfo_windows(hpvm_xml_child(d->root, "metadata")))
                return "its libosinfo metadata names a Microsoft Windows OS";
        if (hpvm_xml_child(hpvm_xml_child(d->root, "features"), "hyperv"))
                return "it has Hyper-V enlightenments (<features><hyperv>)";
        HPVM_XML_FOREACH(t, hpvm_xml_child(d->root, "clock"), "timer")
                if (prop_is(t, "name", "hypervclock"))
                        return "it has the Hyper-V clock (<timer name='hypervclock'>)";
        return NULL;
}

/* Remove every child @name of @parent for which @pred (may be NULL: all) holds. */
static void remove_children(xmlNode *parent, const char *name, bool (*pred)(const xmlNode *))
{
        xmlNode *next;

        for (xmlNode *n = hpvm_xml_child(parent, name); n; n = next) {
                next = hpvm_xml_next(n, name);
                if (!pred || pred(n))
                        hpvm_domain_remove(n);
        }
}

static size_t count_children(const xmlNode *parent, const char *name)
{
        size_t n = 0;

        HPVM_XML_FOREACH(c, parent, name)
                n++;
        return n;
}

static bool has_element_children(const xmlNode *n)
{
        for (xmlNode *c = n->children; c; c = c->next)
                if (c->type == XML_ELEMENT_NODE)
                        return true;
        return false;
}

static xmlNode *new_with(HpvmDomain *d, const char *name, const char *attr, const char *value)
{
        xmlNode *n = xmlNewDocNode(d->doc, NULL, BAD_CAST name, NULL);

        if (n && attr && !xmlNewProp(n, BAD_CAST attr, BAD_CAST value)) {
                xmlFreeNode(n);
                return NULL;
        }
        return n;
}

/*
 * Make @devices hold exactly one <@name>, the one @make builds. Left alone
 * when the only one there already passes @mine, so a second run changes nothing.
 */
static int ensure_only(HpvmDomain *d, xmlNode *devices, const char *name, bool (*mine)(const xmlNode *),
                       int (*make)(HpvmDomain *, xmlNode *))
{
        if (count_children(devices, name) == 1 && mine(hpvm_xml_child(devices, name)))
                return 0;
        remove_children(devices, name, NULL);
        return make(d, devices);
}

static bool is_video_none(const xmlNode *v)
{
        xmlNode *m = hpvm_xml_child(v, "model");

        return m && prop_is(m, "type", "none") && !hpvm_xml_next(m, "model");
}

/* Children go in after their parent is placed, so they are indented from it. */
static int make_video_none(HpvmDomain *d, xmlNode *devices)
{
        xmlNode *v = new_with(d, "video", NULL, NULL), *m;

        if (!v)
                return -ENOMEM;
        hpvm_domain_insert(d, devices, v);
        m = new_with(d, "model", "type", "none");
        if (!m)
                return -ENOMEM;
        hpvm_domain_insert(d, v, m);
        return 0;
}

static bool is_usb_controller(const xmlNode *c)
{
        return prop_is(c, "type", "usb");
}

/* A device already as the profile wants it: model none, nothing inside. */
static bool is_bare_model_none(const xmlNode *n)
{
        return prop_is(n, "model", "none") && !has_element_children(n);
}

static int make_balloon_none(HpvmDomain *d, xmlNode *devices)
{
        xmlNode *b = new_with(d, "memballoon", "model", "none");

        if (!b)
                return -ENOMEM;
        hpvm_domain_insert(d, devices, b);
        return 0;
}

static bool is_spicevmc(const xmlNode *n)
{
        return prop_is(n, "type", "spicevmc");
}

static bool is_usb_bus(const xmlNode *n)
{
        return prop_is(n, "bus", "usb");
}

static bool is_usb_disk(const xmlNode *disk)
{
        return prop_is(hpvm_xml_child(disk, "target"), "bus", "usb");
}

/* A serial port QEMU builds as usb-serial (its target type, or a usb-serial target model). */
static bool is_usb_serial(const xmlNode *serial)
{
        xmlNode *target = hpvm_xml_child(serial, "target");

        return prop_is(target, "type", "usb-serial") || prop_is(hpvm_xml_child(target, "model"), "name", "usb-serial");
}

static bool has_usb_address(const xmlNode *dev)
{
        return prop_is(hpvm_xml_child(dev, "address"), "type", "usb");
}

/*
 * Devices the profile removes: what needs a display, a SPICE client, sound or
 * a watchdog, and every USB device the guest can do without (USB goes off):
 * USB input devices, hubs, redirection and its filter, smartcards and their
 * CCID controller. USB controllers are replaced by one of model none.
 */
static bool removed_by_profile(const xmlNode *dev)
{
        static const char *const always[] = {
                "graphics", "sound", "audio", "watchdog", "hub", "redirdev", "redirfilter", "smartcard", NULL,
        };

        for (size_t i = 0; always[i]; i++)
                if (xmlStrEqual(dev->name, BAD_CAST always[i]))
                        return true;
        if (xmlStrEqual(dev->name, BAD_CAST "channel"))
                return is_spicevmc(dev);
        if (xmlStrEqual(dev->name, BAD_CAST "input"))
                return is_usb_bus(dev);
        if (xmlStrEqual(dev->name, BAD_CAST "controller"))
                return prop_is(dev, "type", "ccid");
        return false;
}

/* USB devices the guest cannot lose (its storage, host hardware, a serial line, any other device on a USB address). */
static int check_usb(const xmlNode *devices, HpvmError *err)
{
        static const char *const attrs[] = { "type", NULL };
        static const char *const model_attrs[] = { "model", NULL };
        char tag[160], alias[HPVM_QUOTE_MAX], port[HPVM_QUOTE_MAX];

        HPVM_XML_FOREACH(h, devices, "hostdev")
                if (prop_is(h, "type", "usb"))
                        return hpvm_error_set(err, -EINVAL,
                                              "highperf: the profile turns USB off, but the VM has a USB host device "
                                              "(<hostdev type='usb'>): remove it, or do not set highperf");
        HPVM_XML_FOREACH(disk, devices, "disk")
                if (is_usb_disk(disk))
                        return hpvm_error_set(err, -EINVAL,
                                              "highperf: the profile turns USB off, but the VM has a USB disk "
                                              "(<disk><target bus='usb'>): move it to another bus, or do not set highperf");
        /* Its host side (a socket, a file, a console) is wired up, and the guest knows it as ttyUSB: the admin's call. */
        HPVM_XML_FOREACH(s, devices, "serial") {
                _cleanup_xmlchar_ xmlChar *p = NULL;

                if (!is_usb_serial(s))
                        continue;
                p = hpvm_xml_prop(hpvm_xml_child(s, "target"), "port");
                if (p)
                        hpvm_quote((const char *)p, strlen((const char *)p), port, sizeof(port));
                return hpvm_error_set(err, -EINVAL,
                                      "highperf: the profile turns USB off, but the VM has a USB serial port "
                                      "(<serial><target type='usb-serial'>%s%s): make it another serial type "
                                      "(e.g. isa-serial), or do not set highperf", p ? " port " : "", p ? port : "");
        }
        for (xmlNode *dev = devices ? devices->children : NULL; dev; dev = dev->next) {
                if (dev->type != XML_ELEMENT_NODE || removed_by_profile(dev) || !has_usb_address(dev))
                        continue;
                hpvm_domain_describe(dev, has_prop(dev, "type") ? attrs : model_attrs, tag, sizeof(tag));
                if (hpvm_domain_alias(dev, alias, sizeof(alias)))
                        return hpvm_error_set(err, -EINVAL,
                                              "highperf: the profile turns USB off, but the VM's %s (alias %s) is a USB "
                                              "device (<address type='usb'>): move it off USB, or do not set highperf",
                                              tag, alias);
                return hpvm_error_set(err, -EINVAL,
                                      "highperf: the profile turns USB off, but the VM's %s is a USB device "
                                      "(<address type='usb'>): move it off USB, or do not set highperf", tag);
        }
        return 0;
}

int hpvm_profile_check(const HpvmDomain *d, HpvmError *err)
{
        const char *why = hpvm_profile_windows_reason(d);

        if (why)
                return hpvm_error_set(err, -EINVAL,
                                      "highperf: the High Performance profile is for non-Windows guests, and this VM is Windows: %s",
                                      why);
        return check_usb(hpvm_xml_child(d->root, "devices"), err);
}

static int usb_off(HpvmDomain *d, xmlNode *devices)
{
        size_t usb = 0;
        xmlNode *c;

        HPVM_XML_FOREACH(x, devices, "controller")
                usb += is_usb_controller(x);
        HPVM_XML_FOREACH(x, devices, "controller")
                if (is_usb_controller(x) && is_bare_model_none(x) && usb == 1)
                        return 0;
        remove_children(devices, "controller", is_usb_controller);
        c = new_with(d, "controller", "type", "usb");
        if (!c || !xmlNewProp(c, BAD_CAST "model", BAD_CAST "none")) {
                xmlFreeNode(c);
                return -ENOMEM;
        }
        hpvm_domain_insert(d, devices, c);
        return 0;
}

/* A text console must survive the graphics: keep any serial console, else add a pty one. */
static int serial_console(HpvmDomain *d, xmlNode *devices)
{
        xmlNode *serial, *console, *target;

        if (hpvm_xml_child(devices, "serial") || hpvm_xml_child(devices, "console"))
                return 0;
        serial = new_with(d, "serial", "type", "pty");
        console = new_with(d, "console", "type", "pty");
        if (!serial || !console)
                goto nomem;
        hpvm_domain_insert(d, devices, serial);
        hpvm_domain_insert(d, devices, console);
        target = new_with(d, "target", "port", "0");
        if (!target)
                return -ENOMEM;
        hpvm_domain_insert(d, serial, target);
        target = new_with(d, "target", "type", "serial");
        if (!target || !xmlNewProp(target, BAD_CAST "port", BAD_CAST "0")) {
                xmlFreeNode(target);
                return -ENOMEM;
        }
        hpvm_domain_insert(d, console, target);
        return 0;
nomem:
        xmlFreeNode(serial);
        xmlFreeNode(console);
        return -ENOMEM;
}

static int host_passthrough(HpvmDomain *d)
{
        xmlNode *cpu = hpvm_domain_ensure(d, d->root, "cpu");

        if (!cpu)
                return -ENOMEM;
        /* A named model, its vendor and its match/check rules mean nothing with host-passthrough. */
        remove_children(cpu, "model", NULL);
        remove_children(cpu, "vendor", NULL);
        if (hpvm_domain_set_prop(cpu, "match", NULL) < 0 || hpvm_domain_set_prop(cpu, "check", NULL) < 0)
                return -ENOMEM;
        return hpvm_domain_set_prop(cpu, "mode", "host-passthrough");
}

int hpvm_profile_apply(HpvmDomain *d, bool keep_iothreads)
{
        xmlNode *devices = hpvm_domain_ensure(d, d->root, "devices");
        int r;

        if (!devices)
                return -ENOMEM;
        /* Headless, silent, no watchdog, and nothing left that needs USB. */
        for (xmlNode *dev = devices->children, *next; dev; dev = next) {
                next = dev->next;
                if (dev->type == XML_ELEMENT_NODE && removed_by_profile(dev))
                        hpvm_domain_remove(dev);
        }
        if ((r = ensure_only(d, devices, "video", is_video_none, make_video_none)) < 0 ||
            (r = serial_console(d, devices)) < 0 ||
            (r = usb_off(d, devices)) < 0 ||
            (r = ensure_only(d, devices, "memballoon", is_bare_model_none, make_balloon_none)) < 0 ||
            (r = host_passthrough(d)) < 0)
                return r;
        if (!keep_iothreads && hpvm_domain_iothreads(d) == 0)
                return hpvm_domain_set_iothreads(d, 1, NULL, NULL);
        return 0;
}

void hpvm_profile_suggest(const HpvmDomain *d, HpvmWarnings *warn)
{
        xmlNode *cputune = hpvm_xml_child(d->root, "cputune");
        xmlNode *mb = hpvm_xml_child(d->root, "memoryBacking");
        xmlNode *numa = hpvm_xml_child(hpvm_xml_child(d->root, "cpu"), "numa");
        const char *missing[6];
        size_t n = 0;

        if (!hpvm_xml_child(cputune, "vcpupin"))
                missing[n++] = "CPU pinning (cputune=<vcpu>#<cpuset>,...)";
        if (!hpvm_xml_child(cputune, "iothreadpin"))
                missing[n++] = "IO-thread pinning (iothreadpin=<iothread>#<cpuset>,...)";
        if (!hpvm_xml_child(cputune, "emulatorpin"))
                missing[n++] = "emulator pinning (emulatorpin=<cpuset>)";
        if (!hpvm_xml_child(numa, "cell") || !hpvm_xml_child(hpvm_xml_child(d->root, "numatune"), "memory"))
                missing[n++] = "guest NUMA and NUMA pinning (guestnuma=<vcpus>#<memory>,... and numatune=<mode>#<nodeset>)";
        if (!hpvm_xml_child(mb, "hugepages"))
                missing[n++] = "huge pages (hugepages=2048 or 1048576, KiB)";
        if (!hpvm_xml_child(mb, "nosharepages"))
                missing[n++] = "KSM off (nosharepages=true)";
        if (!n)
                return;
        hpvm_warn(warn, "highperf: the High Performance profile is applied; for near bare-metal speed also set:");
        for (size_t i = 0; i < n; i++)
                hpvm_warn(warn, "highperf:   %s", missing[i]);
}
