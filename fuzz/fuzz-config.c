/* fuzz-config.c: libFuzzer target for hpvm.conf: one-line messages naming the file, checked values, parse(render(x)) == x. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fuzzcheck.h"

#define PATH "/etc/hpvm-hooks/hpvm.conf"

static void check_failure(int r, const HpvmError *err)
{
        size_t len = strnlen(err->msg, sizeof(err->msg));

        CHECK(r == -EINVAL || r == -ERANGE || r == -EOVERFLOW || r == -E2BIG || r == -EFBIG || r == -ENOMEM,
              "unexpected error %d: %s", r, err->msg);
        CHECK(err->code == r, "err.code %d but return %d", err->code, r);
        CHECK(len > 0 && len < sizeof(err->msg), "message empty or unterminated");
        for (size_t i = 0; i < len; i++)
                CHECK((unsigned char)err->msg[i] >= 0x20 && (unsigned char)err->msg[i] < 0x7f,
                      "byte 0x%02x at %zu in message '%s'", (unsigned char)err->msg[i], i, err->msg);
        CHECK(!strncmp(err->msg, PATH, strlen(PATH)), "message does not name the file: '%s'", err->msg);
}

/* The configuration as a file that must parse back to the same values. */
static char *render(const HpvmConfig *c, size_t *ret_len)
{
        static char cpus[HPVM_CPUSET_STRMAX];
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);

        CHECK(f, "open_memstream");
        if (c->reserved_cpus_given) {
                CHECK(hpvm_cpuset_format(&c->reserved_cpus, cpus, sizeof(cpus)) >= 0, "cpuset format");
                fprintf(f, "reserved_cpus=%s\n", cpus);
        }
        fprintf(f, "state_dir=%s\nsysfs_root=%s\nledger_grace=%llu\nmigration_reservation_timeout=%llu\n"
                   "vf_reservation_timeout=%llu\nlibvirt_uri=%s\nlibvirt_user=%s\nlibvirt_password_file=%s\n"
                   "unplug_timeout=%llu\nwatch_timeout=%llu\nmigration_start_timeout=%llu\nstate_owner=%s:%s\n",
                c->state_dir, c->sysfs_root, (unsigned long long)c->ledger_grace,
                (unsigned long long)c->migration_reservation_timeout, (unsigned long long)c->vf_reservation_timeout,
                c->libvirt_uri, c->libvirt_user ? c->libvirt_user : "",
                c->libvirt_password_file ? c->libvirt_password_file : "", (unsigned long long)c->unplug_timeout,
                (unsigned long long)c->watch_timeout, (unsigned long long)c->migration_start_timeout, c->state_user,
                c->state_group);
        for (size_t i = 0; i < c->nnetworks; i++) {
                fprintf(f, "sriov_pfs.%s=", c->networks[i].network);
                for (size_t j = 0; j < c->networks[i].npfs; j++)
                        fprintf(f, "%s%s", j ? "," : "", c->networks[i].pfs[j]);
                fputc('\n', f);
        }
        CHECK(fclose(f) == 0, "fclose");
        *ret_len = len;
        return buf;
}

static void check_config(const HpvmConfig *c)
{
        CHECK(c->state_dir[0] == '/' && c->sysfs_root[0] == '/', "relative path");
        CHECK(c->ledger_grace <= 86400, "ledger_grace %llu", (unsigned long long)c->ledger_grace);
        CHECK(c->migration_reservation_timeout >= 1 && c->migration_reservation_timeout <= 86400, "mrt");
        CHECK(c->vf_reservation_timeout >= 1 && c->vf_reservation_timeout <= 86400, "vrt");
        CHECK(c->unplug_timeout >= 1 && c->unplug_timeout <= 3600, "unplug_timeout");
        CHECK(c->watch_timeout >= 10 && c->watch_timeout <= 86400, "watch_timeout");
        CHECK(c->migration_start_timeout >= 1 && c->migration_start_timeout <= 3600, "migration_start_timeout");
        CHECK(c->nnetworks <= HPVM_CONFIG_NETWORKS_MAX, "%zu networks", c->nnetworks);
        for (size_t i = 0; i < c->nnetworks; i++) {
                CHECK(c->networks[i].npfs >= 1 && c->networks[i].npfs <= HPVM_CONFIG_PFS_MAX, "npfs");
                for (size_t j = 0; j < c->networks[i].npfs; j++)
                        CHECK(hpvm_ifname_valid(c->networks[i].pfs[j], strlen(c->networks[i].pfs[j])), "pf name");
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        HpvmConfig *c = NULL, *again = NULL;
        HpvmError err = { 0 };
        char *text, *text2;
        size_t len, len2;
        int r;

        r = hpvm_config_parse(PATH, (const char *)data, size, &c, &err);
        if (r < 0) {
                check_failure(r, &err);
                CHECK(!c, "*ret set on failure");
                return 0;
        }
        CHECK(r == 0 && c, "returned %d", r);
        check_config(c);

        text = render(c, &len);
        r = hpvm_config_parse(PATH, text, len, &again, &err);
        CHECK(r == 0, "the rendering does not parse: %s\n%s", err.msg, text);
        text2 = render(again, &len2);
        CHECK(len == len2 && !memcmp(text, text2, len), "parse(render(x)) != x:\n%s\n--\n%s", text, text2);
        free(text);
        free(text2);
        hpvm_config_free(again);
        hpvm_config_free(c);
        return 0;
}
