/* fuzz-vfmeta.c: libFuzzer target for the VF NIC record: damaged records refused with one line, good ones survive format + parse unchanged. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domxml.h"
#include "fuzzcheck.h"
#include "vfmeta.h"

static void check_failure(int r, const HpvmError *err)
{
        size_t len = strnlen(err->msg, sizeof(err->msg));

        CHECK(r == -EINVAL || r == -E2BIG || r == -EFBIG || r == -ENOMEM, "unexpected error %d: %s", r, err->msg);
        CHECK(err->code == r, "err.code %d but return %d", err->code, r);
        CHECK(len > 0 && len < sizeof(err->msg), "message empty or unterminated");
        /* libxml2's own words may quote the input's UTF-8: no control byte, that is what one line needs. */
        for (size_t i = 0; i < len; i++)
                CHECK((unsigned char)err->msg[i] >= 0x20 && err->msg[i] != 0x7f,
                      "byte 0x%02x at %zu in message '%s'", (unsigned char)err->msg[i], i, err->msg);
}

/* A record read: it formats, reads back the same, and each NIC's element is usable. */
static void check_record(const HpvmVfMeta *m)
{
        HpvmError err = { 0 };
        HpvmVfMeta back;
        char *a = NULL, *b = NULL, *iface = NULL;
        size_t alen, blen;

        CHECK(hpvm_vfmeta_format(m, &a, &alen, &err) == 0, "format: %s", err.msg);
        CHECK(hpvm_vfmeta_parse(a, alen, &back, &err) == 0, "formatted record refused: %s\n%s", err.msg, a);
        CHECK(back.n == m->n, "%zu NICs read back, %zu written", back.n, m->n);
        CHECK(hpvm_vfmeta_format(&back, &b, &blen, &err) == 0, "format again: %s", err.msg);
        CHECK(alen == blen && !memcmp(a, b, alen), "not stable:\n%s\n%s", a, b);
        for (size_t i = 0; i < m->n; i++) {
                CHECK(strcmp(m->recs[i].interface_xml, back.recs[i].interface_xml) == 0, "NIC %zu changed", i);
                CHECK(hpvm_vfrecord_interface(&m->recs[i], NULL, &iface, NULL, &err) == 0, "interface %zu: %s", i, err.msg);
                free(iface);
                iface = NULL;
        }
        hpvm_vfmeta_clear(&back);
        free(a);
        free(b);
}

/* Input: a record as libvirt hands it out (<vfnics>), or a whole domain XML (starting "<domain") holding one. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        HpvmError err = { 0 };
        HpvmVfMeta m;
        int r;

        if (size >= 7 && !memcmp(data, "<domain", 7)) {
                HpvmDomain *d = NULL;

                if (hpvm_domain_parse((const char *)data, size, &d, &err) < 0)
                        return 0;
                r = hpvm_vfmeta_read(d, &m, &err);
                hpvm_domain_free(d);
        } else {
                r = hpvm_vfmeta_parse((const char *)data, size, &m, &err);
        }
        if (r < 0) {
                check_failure(r, &err);
                return 0;
        }
        CHECK(r == 0, "return %d", r);
        check_record(&m);
        hpvm_vfmeta_clear(&m);
        return 0;
}
