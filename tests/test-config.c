/* test-config.c: hpvm.conf: every key good and bad, exact messages, hostile files, where the file is looked for. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "testhelp.h"

#define P "/etc/hpvm-hooks/hpvm.conf"
#define KEYS "reserved_cpus, state_dir, sysfs_root, ledger_grace, migration_reservation_timeout, " \
             "vf_reservation_timeout, sriov_pfs.<network>, libvirt_uri, libvirt_user, libvirt_password_file, " \
             "unplug_timeout, watch_timeout, migration_start_timeout, state_owner"
#define EXP_CPUS " (expected a cpuset like 0-3,8, or nothing)"
#define EXP_PFS " (expected PF netdev names like ens1f0,ens1f1, each 1-15 of A-Z a-z 0-9 _ . : -)"
#define EXP_NET "(expected sriov_pfs.<network>, the network 1-255 of A-Z a-z 0-9 _ . : -)"
#define EXP_OWNER " (expected <user>:<group> like vdsm:kvm)"

static char *tmp;

static void setup(void)
{
        tmp = th_tmpdir();
}

static void teardown(void)
{
        th_rmtree(tmp);
        free(tmp);
}

/* ---------------------------------------------------------------- rendering */

/* Every field as "key=value" lines in a fixed order; networks last. Caller frees. */
static char *render(const HpvmConfig *c)
{
        char *buf = NULL, cpus[HPVM_CPUSET_STRMAX];
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);

        ck_assert_ptr_nonnull(f);
        if (c->reserved_cpus_given) {
                ck_assert_int_ge(hpvm_cpuset_format(&c->reserved_cpus, cpus, sizeof(cpus)), 0);
                fprintf(f, "reserved_cpus=%s\n", cpus);
        } else {
                fprintf(f, "reserved_cpus=(default)\n");
        }
        fprintf(f, "state_dir=%s\nsysfs_root=%s\nledger_grace=%llu\nmigration_reservation_timeout=%llu\n"
                   "vf_reservation_timeout=%llu\nlibvirt_uri=%s\nlibvirt_user=%s\nlibvirt_password_file=%s\n"
                   "unplug_timeout=%llu\nwatch_timeout=%llu\nmigration_start_timeout=%llu\nstate_owner=%s:%s\n",
                c->state_dir, c->sysfs_root, (unsigned long long)c->ledger_grace,
                (unsigned long long)c->migration_reservation_timeout, (unsigned long long)c->vf_reservation_timeout,
                c->libvirt_uri, c->libvirt_user ? c->libvirt_user : "(none)",
                c->libvirt_password_file ? c->libvirt_password_file : "(none)", (unsigned long long)c->unplug_timeout,
                (unsigned long long)c->watch_timeout, (unsigned long long)c->migration_start_timeout, c->state_user,
                c->state_group);
        for (size_t i = 0; i < c->nnetworks; i++) {
                fprintf(f, "sriov_pfs.%s=", c->networks[i].network);
                for (size_t j = 0; j < c->networks[i].npfs; j++)
                        fprintf(f, "%s%s", j ? "," : "", c->networks[i].pfs[j]);
                fputc('\n', f);
        }
        ck_assert_int_eq(fclose(f), 0);
        return buf;
}

static const char defaults[] =
        "reserved_cpus=(default)\n"
        "state_dir=/run/hpvm-hooks\n"
        "sysfs_root=/\n"
        "ledger_grace=120\n"
        "migration_reservation_timeout=600\n"
        "vf_reservation_timeout=1800\n"
        "libvirt_uri=qemu:///system\n"
        "libvirt_user=(none)\n"
        "libvirt_password_file=(none)\n"
        "unplug_timeout=30\n"
        "watch_timeout=1800\n"
        "migration_start_timeout=300\n"
        "state_owner=vdsm:kvm\n";

/* The defaults with each "key=value" line of @changes in place of the default's line (sriov_pfs lines appended). */
static char *expected_render(const char *changes)
{
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        const char *line = defaults;

        ck_assert_ptr_nonnull(f);
        while (*line) {
                const char *nl = strchr(line, '\n');
                size_t klen = (size_t)(strchr(line, '=') - line) + 1;
                const char *c = changes;
                const char *found = NULL;

                for (; *c; c = strchr(c, '\n') + 1)
                        if (!strncmp(c, line, klen))
                                found = c;
                if (found)
                        fprintf(f, "%.*s\n", (int)(strchr(found, '\n') - found), found);
                else
                        fprintf(f, "%.*s\n", (int)(nl - line), line);
                line = nl + 1;
        }
        for (const char *c = changes; *c; c = strchr(c, '\n') + 1)
                if (!strncmp(c, "sriov_pfs.", 10))
                        fprintf(f, "%.*s\n", (int)(strchr(c, '\n') - c), c);
        ck_assert_int_eq(fclose(f), 0);
        return buf;
}

/* ---------------------------------------------------------------- good files */

static const struct {
        const char *text;
        const char *changes;    /* lines of the rendering that differ from the defaults */
} good_cases[] = {
        { "", "" },
        { "\n\n", "" },
        { "# comment\n\n   \n\t# indented comment\n  \t \n", "" },
        { "#state_dir=/x\n", "" },
        { "reserved_cpus=0-3,8\n", "reserved_cpus=0-3,8\n" },
        { "reserved_cpus=\n", "reserved_cpus=\n" },                    /* given, none reserved */
        { "reserved_cpus= # none at all\n", "reserved_cpus=\n" },
        { " reserved_cpus \t=\t 0-7,^3 \n", "reserved_cpus=0-2,4-7\n" },
        { "reserved_cpus=4095\n", "reserved_cpus=4095\n" },
        { "state_dir=/var/run/hpvm\n", "state_dir=/var/run/hpvm\n" },
        { "state_dir=/var/run/hpvm///\n", "state_dir=/var/run/hpvm\n" },
        { "state_dir=/a b/c\n", "state_dir=/a b/c\n" },                /* blanks inside a value stay */
        { "state_dir=/a //\n", "state_dir=/a /\n" },                   /* no blank at the end (fuzz find) */
        { "state_dir=/a#b\n", "state_dir=/a#b\n" },                    /* '#' inside a word stays */
        { "sysfs_root=/\n", "sysfs_root=/\n" },
        { "sysfs_root=///\n", "sysfs_root=/\n" },
        { "sysfs_root=/srv/host-b\n", "sysfs_root=/srv/host-b\n" },
        { "ledger_grace=0\n", "ledger_grace=0\n" },
        { "ledger_grace=86400\n", "ledger_grace=86400\n" },
        { "ledger_grace=007\n", "ledger_grace=7\n" },
        { "ledger_grace=5 # five seconds\n", "ledger_grace=5\n" },
        { "ledger_grace=5\t#five\n", "ledger_grace=5\n" },
        { "migration_reservation_timeout=1\n", "migration_reservation_timeout=1\n" },
        { "migration_reservation_timeout=86400\n", "migration_reservation_timeout=86400\n" },
        { "vf_reservation_timeout=1\n", "vf_reservation_timeout=1\n" },
        { "vf_reservation_timeout=86400\n", "vf_reservation_timeout=86400\n" },
        { "sriov_pfs.ovirtmgmt=ens1f0,ens1f1\n", "sriov_pfs.ovirtmgmt=ens1f0,ens1f1\n" },
        { "sriov_pfs.net-2.a:b_C=eth0\nsriov_pfs.other=eth1\n", "sriov_pfs.net-2.a:b_C=eth0\nsriov_pfs.other=eth1\n" },
        { "sriov_pfs.a=eth0\nsriov_pfs.A=eth0\n", "sriov_pfs.a=eth0\nsriov_pfs.A=eth0\n" },  /* names are case-sensitive */
        { "sriov_pfs.n=abcdefghijklmno\n", "sriov_pfs.n=abcdefghijklmno\n" },            /* 15 bytes */
        { "libvirt_uri=qemu+ssh://root@host-b/system?keyfile=/k\n",
          "libvirt_uri=qemu+ssh://root@host-b/system?keyfile=/k\n" },
        { "libvirt_uri=test:///default#frag\n", "libvirt_uri=test:///default#frag\n" },
        { "libvirt_user=vdsm@ovirt\n", "libvirt_user=vdsm@ovirt\n" },
        { "libvirt_user=\n", "" },
        { "libvirt_password_file=/etc/pki/vdsm/keys/libvirt_password\n",
          "libvirt_password_file=/etc/pki/vdsm/keys/libvirt_password\n" },
        { "libvirt_password_file=\n", "" },
        { "unplug_timeout=1\n", "unplug_timeout=1\n" },
        { "unplug_timeout=3600\n", "unplug_timeout=3600\n" },
        { "watch_timeout=10\n", "watch_timeout=10\n" },
        { "watch_timeout=86400\n", "watch_timeout=86400\n" },
        { "migration_start_timeout=1\n", "migration_start_timeout=1\n" },
        { "migration_start_timeout=3600\n", "migration_start_timeout=3600\n" },
        { "state_owner=qemu:qemu\n", "state_owner=qemu:qemu\n" },
        { "state_owner=_x-1:g_2-\n", "state_owner=_x-1:g_2-\n" },
        { "state_owner=abcdefghijklmnopqrstuvwxyz012345:kvm\n", "state_owner=abcdefghijklmnopqrstuvwxyz012345:kvm\n" },
        /* CRLF line ends (a file saved on Windows), and a last line without any line end. */
        { "state_dir=/x\r\nledger_grace=5\r\n", "state_dir=/x\nledger_grace=5\n" },
        { "ledger_grace=5", "ledger_grace=5\n" },
        { "\r\n# only CRLF\r\n", "" },
        /* The first '=' splits: the rest is the value. */
        { "libvirt_uri=qemu:///system?a=b\n", "libvirt_uri=qemu:///system?a=b\n" },
        /* Everything at once, in another order. */
        { "state_owner=qemu:kvm\nunplug_timeout=9\nsriov_pfs.red=p1\nreserved_cpus=1\nwatch_timeout=99\n"
          "migration_start_timeout=8\nlibvirt_password_file=/p\nlibvirt_user=u\nlibvirt_uri=qemu:///session\n"
          "vf_reservation_timeout=7\nmigration_reservation_timeout=6\nledger_grace=5\nsysfs_root=/s\nstate_dir=/d\n",
          "reserved_cpus=1\nstate_dir=/d\nsysfs_root=/s\nledger_grace=5\nmigration_reservation_timeout=6\n"
          "vf_reservation_timeout=7\nlibvirt_uri=qemu:///session\nlibvirt_user=u\nlibvirt_password_file=/p\n"
          "unplug_timeout=9\nwatch_timeout=99\nmigration_start_timeout=8\nstate_owner=qemu:kvm\nsriov_pfs.red=p1\n" },
};

START_TEST(test_good)
{
        _cleanup_config_ HpvmConfig *c = NULL;
        HpvmError err = { 0 };
        _cleanup_free_ char *got = NULL, *want = NULL;
        const char *text = good_cases[_i].text;
        int r;

        r = hpvm_config_parse(P, text, strlen(text), &c, &err);
        ck_assert_msg(r == 0, "'%s': %d %s", text, r, err.msg);
        ck_assert_str_eq(c->path, P);
        ck_assert(c->file_found);
        got = render(c);
        want = expected_render(good_cases[_i].changes);
        ck_assert_str_eq(got, want);
}
END_TEST

START_TEST(test_defaults)
{
        _cleanup_config_ HpvmConfig *c = NULL;
        _cleanup_free_ char *got = NULL;

        ck_assert_int_eq(hpvm_config_new(&c), 0);
        got = render(c);
        ck_assert_str_eq(got, defaults);
        ck_assert(!c->file_found);
        ck_assert(!c->reserved_cpus_given);
        ck_assert_str_eq(c->path, HPVM_CONFIG_DEFAULT);
        ck_assert_str_eq(HPVM_CONFIG_DEFAULT, P);
        hpvm_config_free(NULL);
}
END_TEST

/* ---------------------------------------------------------------- bad files */

static const struct {
        const char *text;
        size_t len;             /* 0: strlen */
        int ret;
        const char *msg;
} bad_cases[] = {
        /* Lines that are not settings. */
        { "foo=1\n", 0, -EINVAL, P ":1: 'foo' is not a key (expected one of " KEYS ")" },
        { "State_dir=/x\n", 0, -EINVAL, P ":1: 'State_dir' is not a key (expected one of " KEYS ")" },
        { "state dir=/x\n", 0, -EINVAL, P ":1: 'state dir' is not a key (expected one of " KEYS ")" },
        { "sriov_pfs=eth0\n", 0, -EINVAL, P ":1: 'sriov_pfs' is not a key (expected one of " KEYS ")" },
        { "# c\nstate_dir\n", 0, -EINVAL, P ":2: 'state_dir' is not a setting (expected key=value or a # comment)" },
        { "ledger_grace 5 # no equals\n", 0, -EINVAL,
          P ":1: 'ledger_grace 5' is not a setting (expected key=value or a # comment)" },
        { "=5\n", 0, -EINVAL, P ":1: '=5' has no key before '=' (expected key=value)" },
        { "  = \n", 0, -EINVAL, P ":1: '=' has no key before '=' (expected key=value)" },
        { "\xef\xbb\xbfstate_dir=/x\n", 0, -EINVAL,
          P ":1: '\\xef\\xbb\\xbfstate_dir' is not a key (expected one of " KEYS ")" },   /* a UTF-8 BOM */
        /* Repeated keys. */
        { "state_dir=/a\n\nstate_dir=/b\n", 0, -EINVAL, P ":3: state_dir: already set on line 1 (expected each key once)" },
        { "reserved_cpus=\nreserved_cpus=1\n", 0, -EINVAL,
          P ":2: reserved_cpus: already set on line 1 (expected each key once)" },
        { "sriov_pfs.n=a\nsriov_pfs.m=a\nsriov_pfs.n=b\n", 0, -EINVAL,
          P ":3: sriov_pfs.n: already set on line 1 (expected each key once)" },
        /* reserved_cpus */
        { "reserved_cpus=0-3,x\n", 0, -EINVAL, P ":1: reserved_cpus: '0-3,x': 'x' is not a CPU number" EXP_CPUS },
        { "reserved_cpus=x\n", 0, -EINVAL, P ":1: reserved_cpus: 'x' is not a CPU number" EXP_CPUS },
        { "reserved_cpus=4096\n", 0, -ERANGE, P ":1: reserved_cpus: '4096': CPU 4096 is out of range (0-4095)" EXP_CPUS },
        { "reserved_cpus=3-1\n", 0, -ERANGE, P ":1: reserved_cpus: '3-1' ends before it starts" EXP_CPUS },
        { "reserved_cpus=0,^0\n", 0, -EINVAL, P ":1: reserved_cpus: '0,^0' selects no CPU" EXP_CPUS },
        { "reserved_cpus=0 - 3\n", 0, -EINVAL, P ":1: reserved_cpus: '0 - 3': '0 ' is not a CPU number" EXP_CPUS },
        { "reserved_cpus=99999999999999999999\n", 0, -EOVERFLOW,
          P ":1: reserved_cpus: '99999999999999999999' is too large to be a CPU number" EXP_CPUS },
        /* Paths. */
        { "state_dir=\n", 0, -EINVAL, P ":1: state_dir: empty value (expected an absolute path)" },
        { "state_dir=run/hpvm\n", 0, -EINVAL, P ":1: state_dir: 'run/hpvm' is not an absolute path (expected an absolute path)" },
        { "state_dir=/a\x01" "b\n", 0, -EINVAL,
          P ":1: state_dir: '/a\\x01b' holds a control character (expected an absolute path)" },
        { "state_dir=/x\ry\n", 0, -EINVAL,
          P ":1: state_dir: '/x\\x0dy' holds a control character (expected an absolute path)" },
        { "state_dir=/x\rledger_grace=5\r", 0, -EINVAL,     /* old Mac line ends: one line */
          P ":1: state_dir: '/x\\x0dledger_grace=5' holds a control character (expected an absolute path)" },
        { "sysfs_root=.\n", 0, -EINVAL, P ":1: sysfs_root: '.' is not an absolute path (expected an absolute path)" },
        { "libvirt_password_file=pw\n", 0, -EINVAL,
          P ":1: libvirt_password_file: 'pw' is not an absolute path (expected an absolute path, or nothing)" },
        /* Seconds. */
        { "ledger_grace=\n", 0, -EINVAL, P ":1: ledger_grace: empty value (expected seconds, 0-86400)" },
        { "ledger_grace=86401\n", 0, -ERANGE, P ":1: ledger_grace: '86401' is out of range (expected seconds, 0-86400)" },
        { "ledger_grace=-1\n", 0, -EINVAL, P ":1: ledger_grace: '-1' is not a number of seconds (expected seconds, 0-86400)" },
        { "ledger_grace=1.5\n", 0, -EINVAL, P ":1: ledger_grace: '1.5' is not a number of seconds (expected seconds, 0-86400)" },
        { "ledger_grace=10s\n", 0, -EINVAL, P ":1: ledger_grace: '10s' is not a number of seconds (expected seconds, 0-86400)" },
        { "ledger_grace=0x10\n", 0, -EINVAL, P ":1: ledger_grace: '0x10' is not a number of seconds (expected seconds, 0-86400)" },
        { "ledger_grace=1 2\n", 0, -EINVAL, P ":1: ledger_grace: '1 2' is not a number of seconds (expected seconds, 0-86400)" },
        { "ledger_grace=99999999999999999999\n", 0, -EOVERFLOW,
          P ":1: ledger_grace: '99999999999999999999' is out of range (expected seconds, 0-86400)" },
        { "migration_reservation_timeout=0\n", 0, -ERANGE,
          P ":1: migration_reservation_timeout: '0' is out of range (expected seconds, 1-86400)" },
        { "migration_reservation_timeout=86401\n", 0, -ERANGE,
          P ":1: migration_reservation_timeout: '86401' is out of range (expected seconds, 1-86400)" },
        { "vf_reservation_timeout=0\n", 0, -ERANGE,
          P ":1: vf_reservation_timeout: '0' is out of range (expected seconds, 1-86400)" },
        { "unplug_timeout=0\n", 0, -ERANGE, P ":1: unplug_timeout: '0' is out of range (expected seconds, 1-3600)" },
        { "unplug_timeout=3601\n", 0, -ERANGE, P ":1: unplug_timeout: '3601' is out of range (expected seconds, 1-3600)" },
        { "watch_timeout=9\n", 0, -ERANGE, P ":1: watch_timeout: '9' is out of range (expected seconds, 10-86400)" },
        { "watch_timeout=86401\n", 0, -ERANGE, P ":1: watch_timeout: '86401' is out of range (expected seconds, 10-86400)" },
        { "migration_start_timeout=0\n", 0, -ERANGE,
          P ":1: migration_start_timeout: '0' is out of range (expected seconds, 1-3600)" },
        { "migration_start_timeout=3601\n", 0, -ERANGE,
          P ":1: migration_start_timeout: '3601' is out of range (expected seconds, 1-3600)" },
        /* sriov_pfs.<network> */
        { "sriov_pfs.=eth0\n", 0, -EINVAL, P ":1: 'sriov_pfs.': '' is not a network name " EXP_NET },
        { "sriov_pfs.a/b=eth0\n", 0, -EINVAL, P ":1: 'sriov_pfs.a/b': 'a/b' is not a network name " EXP_NET },
        { "sriov_pfs.n=\n", 0, -EINVAL, P ":1: sriov_pfs.n: empty value" EXP_PFS },
        { "sriov_pfs.n=eth0,,eth1\n", 0, -EINVAL, P ":1: sriov_pfs.n: 'eth0,,eth1': empty name after 'eth0'" EXP_PFS },
        { "sriov_pfs.n=,eth0\n", 0, -EINVAL, P ":1: sriov_pfs.n: ',eth0' starts with ','" EXP_PFS },
        { "sriov_pfs.n=eth0,\n", 0, -EINVAL, P ":1: sriov_pfs.n: 'eth0,' ends with ','" EXP_PFS },
        { "sriov_pfs.n=eth0,eth0\n", 0, -EINVAL, P ":1: sriov_pfs.n: 'eth0,eth0': 'eth0' is listed twice" EXP_PFS },
        { "sriov_pfs.n=eth 0\n", 0, -EINVAL, P ":1: sriov_pfs.n: 'eth 0' is not a netdev name" EXP_PFS },
        { "sriov_pfs.n=eth0, eth1\n", 0, -EINVAL, P ":1: sriov_pfs.n: 'eth0, eth1': ' eth1' is not a netdev name" EXP_PFS },
        { "sriov_pfs.n=abcdefghijklmnop\n", 0, -E2BIG, P ":1: sriov_pfs.n: 'abcdefghijklmnop' is not a netdev name" EXP_PFS },
        { "sriov_pfs.n=e/0\n", 0, -EINVAL, P ":1: sriov_pfs.n: 'e/0' is not a netdev name" EXP_PFS },
        /* libvirt_uri, libvirt_user */
        { "libvirt_uri=\n", 0, -EINVAL, P ":1: libvirt_uri: empty value (expected a libvirt URI like qemu:///system)" },
        { "libvirt_uri=qemu:// system\n", 0, -EINVAL,
          P ":1: libvirt_uri: 'qemu:// system' holds a blank or a byte that is not printable ASCII "
            "(expected a libvirt URI like qemu:///system)" },
        { "libvirt_uri=qemu:///syst\xc3\xa9m\n", 0, -EINVAL,
          P ":1: libvirt_uri: 'qemu:///syst\\xc3\\xa9m' holds a blank or a byte that is not printable ASCII "
            "(expected a libvirt URI like qemu:///system)" },
        { "libvirt_user=vdsm ovirt\n", 0, -EINVAL,
          P ":1: libvirt_user: 'vdsm ovirt' holds a blank or a byte that is not printable ASCII "
            "(expected a user name like vdsm@ovirt, or nothing)" },
        /* state_owner */
        { "state_owner=\n", 0, -EINVAL, P ":1: state_owner: empty value" EXP_OWNER },
        { "state_owner=vdsm\n", 0, -EINVAL, P ":1: state_owner: 'vdsm' has no ':' between the user and the group" EXP_OWNER },
        { "state_owner=Vdsm:kvm\n", 0, -EINVAL, P ":1: state_owner: 'Vdsm:kvm': 'Vdsm' is not a user name" EXP_OWNER },
        { "state_owner=1vdsm:kvm\n", 0, -EINVAL, P ":1: state_owner: '1vdsm:kvm': '1vdsm' is not a user name" EXP_OWNER },
        { "state_owner=:kvm\n", 0, -EINVAL, P ":1: state_owner: ':kvm': '' is not a user name" EXP_OWNER },
        { "state_owner=vdsm:\n", 0, -EINVAL, P ":1: state_owner: 'vdsm:': '' is not a group name" EXP_OWNER },
        { "state_owner=vdsm:kvm:x\n", 0, -EINVAL, P ":1: state_owner: 'vdsm:kvm:x': 'kvm:x' is not a group name" EXP_OWNER },
        { "state_owner=abcdefghijklmnopqrstuvwxyz0123456:kvm\n", 0, -E2BIG,
          P ":1: state_owner: 'abcdefghijklmnopqrstuvwxyz0123456:kvm': 'abcdefghijklmnopqrstuvwxyz0123456' "
            "is not a user name" EXP_OWNER },
        /* Bytes that are not text. */
        { "state_dir=/x\0y\n", 15, -EINVAL, P ":1: NUL byte at column 13 (expected text)" },
        { "# ok\n\x7f" "ELF\x02\x01\x01\0\0\0", 14, -EINVAL, P ":2: NUL byte at column 8 (expected text)" },
        { "\xff\xfe\x80=\x01\n", 0, -EINVAL, P ":1: '\\xff\\xfe\\x80' is not a key (expected one of " KEYS ")" },
        { "\x1b[31mstate_dir=/x\n", 0, -EINVAL, P ":1: '\\x1b[31mstate_dir' is not a key (expected one of " KEYS ")" },
};

START_TEST(test_bad)
{
        HpvmConfig *c = NULL;
        HpvmError err = { 0 };
        const char *text = bad_cases[_i].text;
        size_t len = bad_cases[_i].len ? bad_cases[_i].len : strlen(text);
        int r;

        r = hpvm_config_parse(P, text, len, &c, &err);
        ck_assert_msg(r == bad_cases[_i].ret, "'%s': got %d (%s), want %d", text, r, err.msg, bad_cases[_i].ret);
        ck_assert_ptr_null(c);
        ck_assert_str_eq(err.msg, bad_cases[_i].msg);
        ck_assert_int_eq(err.code, r);
}
END_TEST

/* Text of @n bytes: @head, then @fill up to @n - 1 bytes, then a newline. Caller frees. */
static char *filled(const char *head, char fill, size_t n)
{
        char *s = malloc(n + 1);

        ck_assert_ptr_nonnull(s);
        memset(s, fill, n);
        memcpy(s, head, strlen(head));
        s[n - 1] = '\n';
        s[n] = '\0';
        return s;
}

START_TEST(test_long_lines)
{
        HpvmConfig *c = NULL;
        HpvmError err = { 0 };
        _cleanup_free_ char *ok = filled("#", 'x', HPVM_CONFIG_LINE_MAX + 1);            /* 4096 + '\n' */
        _cleanup_free_ char *ok_crlf = filled("#", 'x', HPVM_CONFIG_LINE_MAX + 2);       /* 4096 + "\r\n" */
        _cleanup_free_ char *over = filled("#", 'x', HPVM_CONFIG_LINE_MAX + 2);          /* 4097 + '\n' */
        _cleanup_free_ char *value = filled("state_dir=/", 'd', HPVM_CONFIG_LINE_MAX);   /* a 4085-byte path */
        _cleanup_free_ char *huge = filled("ledger_grace=", '9', 100 * 1024);
        _cleanup_free_ char *many = NULL, *toolong = NULL;
        char want[HPVM_ERR_MAX];
        size_t off = 0;

        ok_crlf[HPVM_CONFIG_LINE_MAX] = '\r';
        ck_assert_int_eq(hpvm_config_parse(P, ok, strlen(ok), &c, &err), 0);
        hpvm_config_free(c);
        c = NULL;
        ck_assert_int_eq(hpvm_config_parse(P, ok_crlf, strlen(ok_crlf), &c, &err), 0);
        hpvm_config_free(c);
        c = NULL;

        ck_assert_int_eq(hpvm_config_parse(P, over, strlen(over), &c, &err), -E2BIG);
        ck_assert_str_eq(err.msg, P ":1: line longer than 4096 bytes");

        ck_assert_int_eq(hpvm_config_parse(P, value, strlen(value), &c, &err), -E2BIG);
        /* Quoted up to HPVM_QUOTE_MAX: 92 bytes of the path, then "...". */
        snprintf(want, sizeof(want), P ":1: state_dir: '/%.91s...' is longer than 1024 bytes (expected an absolute path)",
                 value + 11);
        ck_assert_str_eq(err.msg, want);

        /* 100 KB on one line: the whole-file cap speaks first. */
        ck_assert_int_eq(hpvm_config_parse(P, huge, strlen(huge), &c, &err), -EFBIG);
        ck_assert_str_eq(err.msg, P " is 102400 bytes (at most 65536)");
        ck_assert_ptr_null(c);

        /* 1024 networks fit, the 1025th does not; 64 PFs fit, 65 do not. */
        many = malloc(HPVM_CONFIG_FILE_MAX);
        ck_assert_ptr_nonnull(many);
        for (unsigned i = 0; i < HPVM_CONFIG_NETWORKS_MAX; i++)
                off += (size_t)sprintf(many + off, "sriov_pfs.n%u=p%u\n", i, i % 7);
        ck_assert_int_eq(hpvm_config_parse(P, many, off, &c, &err), 0);
        ck_assert_uint_eq(c->nnetworks, HPVM_CONFIG_NETWORKS_MAX);
        hpvm_config_free(c);
        c = NULL;
        off += (size_t)sprintf(many + off, "sriov_pfs.last=p0\n");
        ck_assert_int_eq(hpvm_config_parse(P, many, off, &c, &err), -E2BIG);
        ck_assert_str_eq(err.msg, P ":1025: sriov_pfs.last: one sriov_pfs key too many (expected at most 1024)");

        off = (size_t)sprintf(many, "sriov_pfs.n=");
        for (unsigned i = 0; i < HPVM_CONFIG_PFS_MAX; i++)
                off += (size_t)sprintf(many + off, "%sp%u", i ? "," : "", i);
        many[off] = '\0';
        ck_assert_int_eq(hpvm_config_parse(P, many, off, &c, &err), 0);
        ck_assert_uint_eq(c->networks[0].npfs, HPVM_CONFIG_PFS_MAX);
        hpvm_config_free(c);
        c = NULL;
        off += (size_t)sprintf(many + off, ",p64");
        ck_assert_int_eq(hpvm_config_parse(P, many, off, &c, &err), -E2BIG);
        ck_assert_msg(strstr(err.msg, "': more than 64 names (expected PF netdev names"), "%s", err.msg);

        /* A network name of 255 bytes is fine, 256 is not. */
        toolong = malloc(600);
        ck_assert_ptr_nonnull(toolong);
        off = (size_t)sprintf(toolong, "sriov_pfs.");
        memset(toolong + off, 'n', 255);
        off += 255;
        off += (size_t)sprintf(toolong + off, "=eth0\n");
        ck_assert_int_eq(hpvm_config_parse(P, toolong, off, &c, &err), 0);
        hpvm_config_free(c);
        c = NULL;
        memmove(toolong + 11, toolong + 10, off - 10);
        off++;
        ck_assert_int_eq(hpvm_config_parse(P, toolong, off, &c, &err), -E2BIG);
        ck_assert_msg(strstr(err.msg, "is not a network name (expected"), "%s", err.msg);
}
END_TEST

/* ---------------------------------------------------------------- files */

static char *tmp_file(const char *name)
{
        char *p;

        ck_assert_int_ge(asprintf(&p, "%s/%s", tmp, name), 0);
        return p;
}

START_TEST(test_load_file)
{
        _cleanup_free_ char *path = tmp_file("hpvm.conf");
        _cleanup_free_ char *want = NULL;
        HpvmConfig *c = NULL;
        HpvmError err = { 0 };
        const char text[] = "# test host\nstate_dir=/run/test\nsriov_pfs.red=ens1f0\n";

        th_write(path, text, strlen(text), 0644);
        ck_assert_int_eq(hpvm_config_load(path, true, &c, &err), 0);
        ck_assert_str_eq(c->path, path);
        ck_assert(c->file_found);
        ck_assert_str_eq(c->state_dir, "/run/test");
        hpvm_config_free(c);
        c = NULL;

        /* A bad line names this file. */
        th_write(path, "ledger_grace=x\n", 15, 0644);
        ck_assert_int_eq(hpvm_config_load(path, false, &c, &err), -EINVAL);
        ck_assert_int_ge(asprintf(&want, "%s:1: ledger_grace: 'x' is not a number of seconds (expected seconds, 0-86400)",
                                  path), 0);
        ck_assert_str_eq(err.msg, want);
        ck_assert_ptr_null(c);
}
END_TEST

START_TEST(test_load_missing)
{
        _cleanup_free_ char *path = tmp_file("absent.conf");
        _cleanup_free_ char *want = NULL, *got = NULL;
        HpvmConfig *c = NULL;
        HpvmError err = { 0 };

        /* The default file may be missing: defaults. */
        ck_assert_int_eq(hpvm_config_load(path, false, &c, &err), 0);
        ck_assert(!c->file_found);
        ck_assert_str_eq(c->path, path);
        got = render(c);
        ck_assert_str_eq(got, defaults);
        hpvm_config_free(c);
        c = NULL;

        /* A named file must exist. */
        ck_assert_int_eq(hpvm_config_load(path, true, &c, &err), -ENOENT);
        ck_assert_int_ge(asprintf(&want, "cannot open %s: No such file or directory", path), 0);
        ck_assert_str_eq(err.msg, want);
        ck_assert_ptr_null(c);

        ck_assert_int_eq(hpvm_config_load("", true, &c, &err), -EINVAL);
        ck_assert_int_eq(hpvm_config_load(NULL, false, &c, &err), -EINVAL);
}
END_TEST

START_TEST(test_load_hostile)
{
        _cleanup_free_ char *dir = tmp_file("folder.conf"), *fifo = tmp_file("fifo.conf"), *big = tmp_file("big.conf");
        _cleanup_free_ char *link = tmp_file("link.conf"), *want = NULL, *text = NULL;
        HpvmConfig *c = NULL;
        HpvmError err = { 0 };

        /* A folder, even when "missing is fine". */
        ck_assert_int_eq(mkdir(dir, 0755), 0);
        ck_assert_int_eq(hpvm_config_load(dir, false, &c, &err), -EISDIR);
        ck_assert_int_ge(asprintf(&want, "%s is not a regular file", dir), 0);
        ck_assert_str_eq(err.msg, want);
        free(want);

        /* A FIFO: refused at once, never waited on. */
        ck_assert_int_eq(mkfifo(fifo, 0644), 0);
        ck_assert_int_eq(hpvm_config_load(fifo, true, &c, &err), -EINVAL);
        ck_assert_int_ge(asprintf(&want, "%s is not a regular file", fifo), 0);
        ck_assert_str_eq(err.msg, want);
        free(want);

        /* 70 KB of valid comments: too big all the same. */
        text = filled("#", '#', 70 * 1024);
        for (size_t i = 100; i < 70 * 1024; i += 100)
                text[i] = '\n';
        th_write(big, text, strlen(text), 0644);
        ck_assert_int_eq(hpvm_config_load(big, true, &c, &err), -EFBIG);
        ck_assert_int_ge(asprintf(&want, "%s is 71680 bytes (at most 65536)", big), 0);
        ck_assert_str_eq(err.msg, want);
        free(want);
        want = NULL;

        /* Exactly 64 KiB is fine. */
        text[HPVM_CONFIG_FILE_MAX - 1] = '\n';
        th_write(big, text, HPVM_CONFIG_FILE_MAX, 0644);
        ck_assert_int_eq(hpvm_config_load(big, true, &c, &err), 0);
        hpvm_config_free(c);
        c = NULL;

        /* A symlink to a file is followed (configuration management likes them). */
        th_write(big, "unplug_timeout=7\n", 17, 0644);
        ck_assert_int_eq(symlink(big, link), 0);
        ck_assert_int_eq(hpvm_config_load(link, true, &c, &err), 0);
        ck_assert_uint_eq(c->unplug_timeout, 7);
        hpvm_config_free(c);
}
END_TEST

START_TEST(test_load_unreadable)
{
        _cleanup_free_ char *path = tmp_file("secret.conf"), *want = NULL;
        HpvmError err = { 0 };
        int pipefd[2], status;
        char msg[HPVM_ERR_MAX] = "";
        ssize_t n;
        pid_t pid;

        th_write(path, "ledger_grace=1\n", 15, 0);
        ck_assert_int_eq(chmod(tmp, 0755), 0);
        ck_assert_int_eq(pipe(pipefd), 0);
        /* Root reads anything: the reader is `nobody` in a child (so the test process keeps its identity). */
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                HpvmConfig *c = NULL;
                int r;

                close(pipefd[0]);
                if (geteuid() == 0 && (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0))
                        _exit(100);
                r = hpvm_config_load(path, false, &c, &err);
                free(path);     /* _exit() skips the cleanup, and valgrind would call it lost */
                if (write(pipefd[1], err.msg, strlen(err.msg)) < 0)
                        _exit(101);
                _exit(r == -EACCES && !c ? 0 : 1);
        }
        close(pipefd[1]);
        n = read(pipefd[0], msg, sizeof(msg) - 1);
        close(pipefd[0]);
        ck_assert_int_ge(n, 0);
        msg[n] = '\0';
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x: %s", status, msg);
        ck_assert_int_ge(asprintf(&want, "cannot open %s: Permission denied", path), 0);
        ck_assert_str_eq(msg, want);
}
END_TEST

/* ---------------------------------------------------------------- where the file is */

START_TEST(test_path)
{
        const char *old = getenv(HPVM_CONFIG_ENV);
        _cleanup_free_ char *saved = old ? strdup(old) : NULL;
        bool named = true;

        unsetenv(HPVM_CONFIG_ENV);
        ck_assert_str_eq(hpvm_config_path(NULL, &named), HPVM_CONFIG_DEFAULT);
        ck_assert(!named);
        ck_assert_str_eq(hpvm_config_path("/opt/x.conf", &named), "/opt/x.conf");
        ck_assert(named);

        setenv(HPVM_CONFIG_ENV, "", 1);
        ck_assert_str_eq(hpvm_config_path(NULL, &named), HPVM_CONFIG_DEFAULT);
        ck_assert(!named);

        setenv(HPVM_CONFIG_ENV, "/srv/env.conf", 1);
        ck_assert_str_eq(hpvm_config_path(NULL, &named), "/srv/env.conf");
        ck_assert(named);
        /* The option beats the environment. */
        ck_assert_str_eq(hpvm_config_path("/opt/x.conf", &named), "/opt/x.conf");
        ck_assert(named);
        ck_assert_str_eq(hpvm_config_path(NULL, NULL), "/srv/env.conf");

        if (saved)
                setenv(HPVM_CONFIG_ENV, saved, 1);
        else
                unsetenv(HPVM_CONFIG_ENV);
}
END_TEST

/* ---------------------------------------------------------------- lookups */

START_TEST(test_network_pfs)
{
        _cleanup_config_ HpvmConfig *none = NULL, *some = NULL;
        const char *const *pfs = NULL;
        const char text[] = "sriov_pfs.red=ens1f0,ens1f1\nsriov_pfs.blue=ens2f0\n";
        HpvmError err = { 0 };
        size_t n = 99;

        ck_assert_int_eq(hpvm_config_parse(P, "", 0, &none, &err), 0);
        ck_assert(!hpvm_config_has_network_pfs(none));
        ck_assert_int_eq(hpvm_config_network_pfs(none, "red", &pfs, &n), HPVM_CONFIG_PFS_ANY);
        ck_assert_ptr_null(pfs);
        ck_assert_uint_eq(n, 99);

        ck_assert_int_eq(hpvm_config_parse(P, text, strlen(text), &some, &err), 0);
        ck_assert(hpvm_config_has_network_pfs(some));
        ck_assert_int_eq(hpvm_config_network_pfs(some, "red", &pfs, &n), HPVM_CONFIG_PFS_LISTED);
        ck_assert_uint_eq(n, 2);
        ck_assert_str_eq(pfs[0], "ens1f0");
        ck_assert_str_eq(pfs[1], "ens1f1");
        ck_assert_int_eq(hpvm_config_network_pfs(some, "blue", &pfs, &n), HPVM_CONFIG_PFS_LISTED);
        ck_assert_uint_eq(n, 1);
        ck_assert_str_eq(pfs[0], "ens2f0");

        /* Keys exist, none for this network: no PF serves it. Outputs untouched. */
        ck_assert_int_eq(hpvm_config_network_pfs(some, "green", &pfs, &n), -ENOENT);
        ck_assert_int_eq(hpvm_config_network_pfs(some, "RED", &pfs, &n), -ENOENT);
        ck_assert_str_eq(pfs[0], "ens2f0");
        ck_assert_uint_eq(n, 1);
        ck_assert_int_eq(hpvm_config_network_pfs(some, NULL, &pfs, &n), -EINVAL);
        ck_assert_int_eq(hpvm_config_network_pfs(NULL, "red", &pfs, &n), -EINVAL);
}
END_TEST

START_TEST(test_state_owner)
{
        static const struct {
                const char *text;
                long uid, gid;
        } cases[] = {
                { "state_owner=root:root\n", 0, 0 },
                { "state_owner=nobody:nogroup\n", 65534, 65534 },
                { "state_owner=root:hpvm-no-such-group\n", 0, -1 },
                { "state_owner=hpvm-no-such-user:root\n", -1, 0 },
        };

        for (size_t i = 0; i < HPVM_ARRAY_SIZE(cases); i++) {
                _cleanup_config_ HpvmConfig *c = NULL;
                HpvmError err = { 0 };
                long uid = 7, gid = 7;

                ck_assert_int_eq(hpvm_config_parse(P, cases[i].text, strlen(cases[i].text), &c, &err), 0);
                hpvm_config_state_owner(c, &uid, &gid);
                ck_assert_int_eq(uid, cases[i].uid);
                ck_assert_int_eq(gid, cases[i].gid);
        }
}
END_TEST

START_TEST(test_parse_seconds)
{
        HpvmError err = { 0 };
        uint64_t v = 42;

        ck_assert_int_eq(hpvm_parse_seconds("600", 3, 1, 86400, &v, &err), 0);
        ck_assert_uint_eq(v, 600);
        ck_assert_int_eq(hpvm_parse_seconds("0", 1, 1, 86400, &v, &err), -ERANGE);
        ck_assert_str_eq(err.msg, "'0' is out of range");
        ck_assert_int_eq(hpvm_parse_seconds("5m", 2, 1, 86400, &v, &err), -EINVAL);
        ck_assert_str_eq(err.msg, "'5m' is not a number of seconds");
        ck_assert_int_eq(hpvm_parse_seconds("", 0, 0, 86400, &v, &err), -EINVAL);
        ck_assert_uint_eq(v, 600);

        ck_assert(hpvm_ifname_valid("ens1f0", 6));
        ck_assert(hpvm_ifname_valid("bond0.100:1", 11));
        ck_assert(!hpvm_ifname_valid("", 0));
        ck_assert(!hpvm_ifname_valid("a/b", 3));
        ck_assert(!hpvm_ifname_valid("abcdefghijklmnop", 16));
        ck_assert(!hpvm_ifname_valid(NULL, 0));
}
END_TEST

static Suite *config_suite(void)
{
        Suite *s = suite_create("config");
        TCase *tc;

        tc = tcase_create("good");
        tcase_add_loop_test(tc, test_good, 0, (int)HPVM_ARRAY_SIZE(good_cases));
        tcase_add_test(tc, test_defaults);
        suite_add_tcase(s, tc);

        tc = tcase_create("bad");
        tcase_add_loop_test(tc, test_bad, 0, (int)HPVM_ARRAY_SIZE(bad_cases));
        tcase_add_test(tc, test_long_lines);
        suite_add_tcase(s, tc);

        tc = tcase_create("files");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_load_file);
        tcase_add_test(tc, test_load_missing);
        tcase_add_test(tc, test_load_hostile);
        tcase_add_test(tc, test_load_unreadable);
        suite_add_tcase(s, tc);

        tc = tcase_create("lookups");
        tcase_add_test(tc, test_path);
        tcase_add_test(tc, test_network_pfs);
        tcase_add_test(tc, test_state_owner);
        tcase_add_test(tc, test_parse_seconds);
        suite_add_tcase(s, tc);

        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(config_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
