/* vfmeta-virt.c: the VF NIC record of a domain read and written through libvirt (virDomainGetMetadata/SetMetadata). */
#include <errno.h>
#include <string.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "vfmeta.h"
#include "virtconn.h"

/* "VM '<name>'" for messages. */
static const char *vm_name(virDomainPtr dom, char *buf, size_t size)
{
        const char *name = virDomainGetName(dom);
        char q[HPVM_QUOTE_MAX];

        snprintf(buf, size, "VM '%s'", name ? hpvm_quote(name, strlen(name), q, sizeof(q)) : "?");
        return buf;
}

int hpvm_vfmeta_get(virDomainPtr dom, HpvmVfMeta *ret, HpvmError *err)
{
        char who[HPVM_QUOTE_MAX + 8];
        unsigned flags = virDomainIsActive(dom) == 1 ? VIR_DOMAIN_AFFECT_LIVE : VIR_DOMAIN_AFFECT_CONFIG;
        char *xml;
        int r;

        /* Named first: every libvirt call, virDomainGetName() too, clears the last error. */
        vm_name(dom, who, sizeof(who));
        virResetLastError();
        xml = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, HPVM_VFMETA_URI, flags);
        if (!xml) {
                if (hpvm_virt_last_code() == VIR_ERR_NO_DOMAIN_METADATA) {
                        *ret = (HpvmVfMeta) { 0 };
                        return 0;
                }
                return hpvm_error_set(err, -EIO, "%s: cannot read the VF NIC record: %s", who,
                                      hpvm_virt_last_error("no reason given"));
        }
        r = hpvm_vfmeta_parse(xml, strlen(xml), ret, err);
        free(xml);
        if (r < 0)
                hpvm_error_prefix(err, "%s: ", who);
        return r;
}

int hpvm_vfmeta_set(virDomainPtr dom, const HpvmVfMeta *m, HpvmError *err)
{
        _cleanup_free_ char *xml = NULL;
        char who[HPVM_QUOTE_MAX + 8];
        unsigned flags = 0;
        int r;

        if (virDomainIsActive(dom) == 1)
                flags |= VIR_DOMAIN_AFFECT_LIVE;
        if (virDomainIsPersistent(dom) == 1)
                flags |= VIR_DOMAIN_AFFECT_CONFIG;
        if (m && m->n) {
                r = hpvm_vfmeta_format(m, &xml, NULL, err);
                if (r < 0)
                        return r;
        }
        vm_name(dom, who, sizeof(who));
        virResetLastError();
        if (virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, xml, HPVM_VFMETA_PREFIX, HPVM_VFMETA_URI, flags) < 0)
                return hpvm_error_set(err, -EIO, "%s: cannot %s the VF NIC record: %s", who,
                                      xml ? "write" : "remove", hpvm_virt_last_error("no reason given"));
        return 0;
}

int hpvm_vfmeta_delete(virDomainPtr dom, HpvmError *err)
{
        return hpvm_vfmeta_set(dom, NULL, err);
}

int hpvm_vfmeta_record_nic(virDomainPtr dom, const char *interface_xml, const char *network, HpvmError *err)
{
        HpvmVfMeta m;
        int r;

        r = hpvm_vfmeta_get(dom, &m, err);
        if (r < 0)
                return r;
        r = hpvm_vfmeta_put(&m, interface_xml, strlen(interface_xml), network, err);
        if (r == 0)
                r = hpvm_vfmeta_set(dom, &m, err);
        hpvm_vfmeta_clear(&m);
        return r;
}

int hpvm_vfmeta_forget_nic(virDomainPtr dom, const char *mac, HpvmError *err)
{
        HpvmVfMeta m;
        int r;

        r = hpvm_vfmeta_get(dom, &m, err);
        if (r < 0)
                return r;
        if (hpvm_vfmeta_remove(&m, mac)) {
                r = hpvm_vfmeta_set(dom, &m, err);
                if (r == 0)
                        r = 1;
        }
        hpvm_vfmeta_clear(&m);
        return r;
}
