/* test-virt.c: virtconn, hotplug and watch against libvirt's test:/// driver (credentials, idempotent plug, refusals, watch outcomes), and the detached watcher start. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "hotplug.h"
#include "testhelp.h"
#include "vfmeta.h"
#include "virtconn.h"
#include "watch.h"

static double now_s(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static HpvmConfig *config(const char *uri)
{
        HpvmConfig *c = NULL;

        ck_assert_int_eq(hpvm_config_new(&c), 0);
        free(c->libvirt_uri);
        c->libvirt_uri = strdup(uri);
        ck_assert_ptr_nonnull(c->libvirt_uri);
        return c;
}

/* ------------------------------------------------------------ virtconn */

START_TEST(test_open_default)
{
        _cleanup_config_ HpvmConfig *c = config("test:///default");
        HpvmError err = { 0 };
        virConnectPtr conn = NULL;

        ck_assert_msg(hpvm_virt_open(c, &conn, &err) == 0, "%s", err.msg);
        ck_assert_str_eq(virConnectGetType(conn), "TEST");
        virConnectClose(conn);
        /* No URI in the configuration: qemu:///system (not reachable as a user: only the message is checked). */
        free(c->libvirt_uri);
        c->libvirt_uri = NULL;
        if (hpvm_virt_open(c, &conn, &err) == 0)
                virConnectClose(conn);
        else
                ck_assert_msg(!strncmp(err.msg, "cannot connect to libvirt at 'qemu:///system': ", 47), "%s", err.msg);
}
END_TEST

START_TEST(test_open_refused_quietly)
{
        _cleanup_config_ HpvmConfig *c = config("hpvm-nowhere:///x");
        _cleanup_free_ char *tmp = th_tmpdir(), *path = NULL, *printed = NULL;
        char want[HPVM_ERR_MAX];
        HpvmError err = { 0 };
        virConnectPtr conn = (virConnectPtr)&err;
        int saved, fd;
        size_t len;

        ck_assert_int_ge(asprintf(&path, "%s/stderr", tmp), 0);
        /* libvirt prints "libvirt: error : ..." on stderr unless told not to: the hook prints one line only. */
        fflush(stderr);
        saved = dup(2);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        ck_assert_int_ge(fd, 0);
        dup2(fd, 2);
        close(fd);
        ck_assert_int_eq(hpvm_virt_open(c, &conn, &err), -ECONNREFUSED);
        fflush(stderr);
        dup2(saved, 2);
        close(saved);
        printed = th_slurp(path, &len);
        ck_assert_msg(len == 0, "libvirt printed: %s", printed);
        ck_assert_ptr_eq(conn, (virConnectPtr)&err);    /* untouched */
        /* Our words, then libvirt's own message. */
        ck_assert_ptr_null(virConnectOpen("hpvm-nowhere:///x"));
        snprintf(want, sizeof(want), "cannot connect to libvirt at 'hpvm-nowhere:///x': %s", virGetLastErrorMessage());
        ck_assert_str_eq(err.msg, want);
        th_rmtree(tmp);
}
END_TEST

/* The test driver asks for a user name and a password when its node XML has <auth>. */
#define AUTH_NODE "<node><auth><user password='%s'>vdsm@ovirt</user></auth></node>\n"

typedef struct Cred {
        const char *user;       /* NULL: not configured */
        const char *file;       /* content of the password file; NULL: no file configured; "@missing", "@dir" */
        int code;
        const char *want;       /* message after "cannot connect to libvirt at '<uri>'" */
} Cred;

#define BIGPW_LEN HPVM_VIRT_PASSWORD_MAX
static char g_bigpw[BIGPW_LEN + 2];

static const Cred creds[] = {
        { "vdsm@ovirt", "s3cret\n", 0, NULL },
        { "vdsm@ovirt", "s3cret\r\n", 0, NULL },
        { "vdsm@ovirt", "s3cret", 0, NULL },
        { "vdsm@ovirt", "s3cret\nsecond line\n", 0, NULL },
        { "vdsm@ovirt", "wrong\n", -EACCES,
          " as 'vdsm@ovirt': authentication failed: authentication failed, see test XML for the correct username/password" },
        { "nobody", "s3cret\n", -EACCES,
          " as 'nobody': authentication failed: authentication failed, see test XML for the correct username/password" },
        { "vdsm@ovirt", " s3cret\n", -EACCES,
          " as 'vdsm@ovirt': authentication failed: authentication failed, see test XML for the correct username/password" },
        { "vdsm@ovirt", NULL, -EINVAL, " as 'vdsm@ovirt': libvirt asks for a password and libvirt_password_file is not set" },
        { NULL, "s3cret\n", -EINVAL, ": libvirt asks for a user name and libvirt_user is not set" },
        { "vdsm@ovirt", "@missing", -ENOENT, " as 'vdsm@ovirt': libvirt_password_file '@TMP@/missing': No such file or directory" },
        { "vdsm@ovirt", "@dir", -EINVAL, " as 'vdsm@ovirt': libvirt_password_file '@TMP@': not a regular file" },
        { "vdsm@ovirt", "", -EINVAL, " as 'vdsm@ovirt': libvirt_password_file '@TMP@/pw': the first line is empty (expected the password)" },
        { "vdsm@ovirt", "\ns3cret\n", -EINVAL, " as 'vdsm@ovirt': libvirt_password_file '@TMP@/pw': the first line is empty (expected the password)" },
        /* The cap: 1024 bytes are a password, 1025 are not (whatever follows). */
        { "vdsm@ovirt", "@big1024", 0, NULL },
        { "vdsm@ovirt", "@big1025", -E2BIG, " as 'vdsm@ovirt': libvirt_password_file '@TMP@/pw': the first line is longer than 1024 bytes" },
};

static char *replace(const char *s, const char *from, const char *to)
{
        const char *p = strstr(s, from);
        char *out;

        if (!p)
                return strdup(s);
        ck_assert_int_ge(asprintf(&out, "%.*s%s%s", (int)(p - s), s, to, p + strlen(from)), 0);
        return out;
}

START_TEST(test_open_credentials)
{
        const Cred *t = &creds[_i];
        _cleanup_free_ char *tmp = th_tmpdir(), *node = NULL, *uri = NULL, *pwfile = NULL, *want = NULL, *tail = NULL;
        _cleanup_config_ HpvmConfig *c = NULL;
        const char *password = "s3cret";
        HpvmError err = { 0 };
        virConnectPtr conn = NULL;
        int r;

        memset(g_bigpw, 'p', BIGPW_LEN + 1);
        g_bigpw[BIGPW_LEN + 1] = '\0';
        if (t->file && !strncmp(t->file, "@big", 4)) {
                /* The test driver holds the 1024-byte password either way. */
                g_bigpw[BIGPW_LEN] = '\0';
                password = g_bigpw;
        }
        ck_assert_int_ge(asprintf(&node, "%s/node.xml", tmp), 0);
        {
                _cleanup_free_ char *xml = NULL;

                ck_assert_int_ge(asprintf(&xml, AUTH_NODE, password), 0);
                th_write(node, xml, strlen(xml), 0600);
        }
        ck_assert_int_ge(asprintf(&uri, "test://%s", node), 0);
        c = config(uri);
        if (t->user)
                c->libvirt_user = strdup(t->user);
        if (t->file) {
                ck_assert_int_ge(asprintf(&pwfile, "%s/pw", tmp), 0);
                if (!strcmp(t->file, "@missing")) {
                        free(pwfile);
                        ck_assert_int_ge(asprintf(&pwfile, "%s/missing", tmp), 0);
                } else if (!strcmp(t->file, "@dir")) {
                        free(pwfile);
                        pwfile = strdup(tmp);
                } else if (!strncmp(t->file, "@big", 4)) {
                        size_t n = strcmp(t->file, "@big1024") ? BIGPW_LEN + 1 : BIGPW_LEN;
                        _cleanup_free_ char *content = malloc(n + 2);

                        memset(content, 'p', n);
                        memcpy(content + n, "\n", 2);
                        th_write(pwfile, content, n + 1, 0600);
                } else {
                        th_write(pwfile, t->file, strlen(t->file), 0600);
                }
                c->libvirt_password_file = strdup(pwfile);
        }
        r = hpvm_virt_open(c, &conn, &err);
        ck_assert_msg(r == t->code, "%d: %s", r, err.msg);
        if (r == 0) {
                ck_assert_str_eq(virConnectGetType(conn), "TEST");
                virConnectClose(conn);
        } else {
                tail = replace(t->want, "@TMP@", tmp);
                ck_assert_int_ge(asprintf(&want, "cannot connect to libvirt at '%s'%s", uri, tail), 0);
                ck_assert_str_eq(err.msg, want);
        }
        th_rmtree(tmp);
}
END_TEST

START_TEST(test_auth_callback)
{
        _cleanup_free_ char *tmp = th_tmpdir(), *pw = NULL;
        HpvmVirtAuth auth = { .user = "vdsm@ovirt" };
        virConnectCredential cred[3] = {
                { .type = VIR_CRED_AUTHNAME },
                { .type = VIR_CRED_PASSPHRASE },
                { .type = VIR_CRED_ECHOPROMPT, .prompt = "Enter a word" },
        };

        ck_assert_int_ge(asprintf(&pw, "%s/pw", tmp), 0);
        th_write(pw, "s3cret\r\nmore", 12, 0600);
        auth.password_file = pw;
        /* Both at once, as the SASL client of the remote driver asks. */
        ck_assert_int_eq(hpvm_virt_auth_cb(cred, 2, &auth), 0);
        ck_assert_str_eq(cred[0].result, "vdsm@ovirt");
        ck_assert_uint_eq(cred[0].resultlen, 10);
        ck_assert_str_eq(cred[1].result, "s3cret");
        ck_assert_uint_eq(cred[1].resultlen, 6);
        ck_assert_int_eq(auth.error.code, 0);
        free(cred[0].result);
        free(cred[1].result);
        cred[0].result = cred[1].result = NULL;
        /* Anything else is not answered, and says what was asked. */
        ck_assert_int_eq(hpvm_virt_auth_cb(cred, 3, &auth), -1);
        ck_assert_str_eq(auth.error.msg, "libvirt asks for an answer to a prompt (type 6), and only a user name and a "
                                         "password are configured");
        ck_assert_ptr_null(cred[2].result);
        free(cred[0].result);
        free(cred[1].result);
        th_rmtree(tmp);
}
END_TEST

/* ------------------------------------------------------------ hotplug on the test driver */

static virConnectPtr g_conn;

static void conn_setup(void)
{
        _cleanup_config_ HpvmConfig *c = config("test:///default");
        HpvmError err = { 0 };

        ck_assert_msg(hpvm_virt_open(c, &g_conn, &err) == 0, "%s", err.msg);
}

static void conn_teardown(void)
{
        virConnectClose(g_conn);
        g_conn = NULL;
}

#define NIC0 "<interface type='user'><mac address='52:54:00:5a:00:01'/><model type='virtio'/><alias name='ua-nic0'/></interface>"
#define NIC1 "<interface type='user'><mac address='52:54:00:5a:00:02'/><model type='virtio'/><alias name='ua-nic1'/></interface>"
#define TEST_DOM "<domain type='test'><name>%s</name><memory>262144</memory><os><type>hvm</type></os><devices>" \
                 NIC0 NIC1 "</devices></domain>"

static virDomainPtr make_domain(const char *name, bool persistent, bool running)
{
        char xml[2048];
        virDomainPtr dom;

        snprintf(xml, sizeof(xml), TEST_DOM, name);
        if (!persistent) {
                dom = virDomainCreateXML(g_conn, xml, 0);
        } else {
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

static size_t count_in(virDomainPtr dom, unsigned flags, const char *text)
{
        char *xml = virDomainGetXMLDesc(dom, flags);
        size_t n = 0;

        ck_assert_ptr_nonnull(xml);
        for (const char *p = xml; (p = strstr(p, text)); p++)
                n++;
        free(xml);
        return n;
}

typedef struct Plug {
        const char *xml;
        int code;
        const char *want;       /* message; "" for none */
} Plug;

static const Plug plugs[] = {
        /* Already there (MAC in any case, alias or not): success, and no attach asked (this driver has none). */
        { NIC0, 0, "" },
        { "<interface type='user'><mac address='52:54:00:5A:00:01'/></interface>", 0, "" },
        { "<interface type='hostdev'><mac address='52:54:00:5a:00:02'/><alias name='ua-nic1'/></interface>", 0, "" },
        /* Never two NICs of one alias. */
        { "<interface type='user'><mac address='52:54:00:5a:00:09'/><alias name='ua-nic0'/></interface>", -EEXIST,
          "VM 'hpvm-plug': cannot plug NIC 52:54:00:5a:00:09: its alias 'ua-nic0' belongs to NIC 52:54:00:5a:00:01 in the "
          "running domain" },
        /* A new NIC reaches libvirt, whose test driver cannot attach: its message, ours around it. */
        { "<interface type='user'><mac address='52:54:00:5a:00:09'/><alias name='ua-nic9'/></interface>", -EIO,
          "VM 'hpvm-plug': cannot plug NIC 52:54:00:5a:00:09 (alias ua-nic9) back: this function is not supported by the "
          "connection driver: virDomainAttachDeviceFlags" },
        { "<interface type='user'/>", -EINVAL,
          "interface XML: no <mac address> like 00:1a:4a:16:01:51 (a NIC is plugged back by its MAC)" },
        { "<hostdev/>", -EINVAL, "interface XML: root element is <hostdev>, expected <interface>" },
};

START_TEST(test_plug)
{
        const Plug *t = &plugs[_i];
        virDomainPtr dom = make_domain("hpvm-plug", true, true);
        HpvmError err = { 0 };

        ck_assert_int_eq(hpvm_virt_plug_nic(dom, t->xml, &err), t->code);
        ck_assert_str_eq(err.msg, t->want);
        ck_assert_uint_eq(count_in(dom, 0, "<interface"), 2);
        ck_assert_uint_eq(count_in(dom, VIR_DOMAIN_XML_INACTIVE, "<interface"), 2);
        drop_domain(dom);
}
END_TEST

START_TEST(test_nic_xml)
{
        virDomainPtr dom = make_domain("hpvm-nicxml", false, true);
        HpvmError err = { 0 };
        char *xml = NULL;

        ck_assert_int_eq(hpvm_virt_nic_xml(dom, "52:54:00:5A:00:02", &xml, &err), 0);
        ck_assert_str_eq(xml, "<interface type=\"user\">\n      <mac address=\"52:54:00:5a:00:02\"/>\n"
                              "      <target dev=\"testnet1\"/>\n      <model type=\"virtio\"/>\n"
                              "      <alias name=\"ua-nic1\"/>\n    </interface>");
        /* Plugging that element back is a no-op: it is there. */
        ck_assert_int_eq(hpvm_virt_plug_nic(dom, xml, &err), 0);
        free(xml);
        xml = NULL;
        ck_assert_int_eq(hpvm_virt_nic_xml(dom, "52:54:00:5a:00:09", &xml, &err), -ENOENT);
        ck_assert_str_eq(err.msg, "VM 'hpvm-nicxml' has no NIC 52:54:00:5a:00:09");
        ck_assert_int_eq(hpvm_virt_nic_xml(dom, "52:54:00", &xml, &err), -EINVAL);
        ck_assert_str_eq(err.msg, "'52:54:00' is not a MAC address like 00:1a:4a:16:01:51");
        ck_assert_ptr_null(xml);
        drop_domain(dom);
}
END_TEST

typedef struct Unplug {
        const char *name;
        bool running;
        HpvmVfNic nics[3];
        size_t n;
        unsigned timeout;
        int code;
        const char *want;
} Unplug;

static const Unplug unplugs[] = {
        /* Gone already (the engine may have unplugged them): nothing to do, no detach asked. */
        { "hpvm-un-absent", true, { { .mac = "52:54:00:5a:00:08", .alias = "ua-nic8" },
                                    { .mac = "52:54:00:5a:00:09", .alias = "ua-nic9" } }, 2, 30, 0, "" },
        { "hpvm-un-none", true, { { .mac = "" } }, 0, 30, 0, "" },
        /* There: the detach reaches libvirt (no detach in this driver), and nothing is lost. */
        { "hpvm-un-there", true, { { .mac = "52:54:00:5a:00:08", .alias = "ua-nic8" },
                                   { .mac = "52:54:00:5A:00:02", .alias = "ua-nic1" } }, 2, 30, -EIO,
          "VM 'hpvm-un-there': cannot unplug VF NIC 52:54:00:5a:00:02 (alias ua-nic1): this function is not supported by "
          "the connection driver: virDomainDetachDeviceAlias; every NIC was plugged back; the migration is refused" },
        /* Refusals before anything is asked. */
        { "hpvm-un-noalias", true, { { .mac = "52:54:00:5a:00:01", .alias = "" } }, 1, 30, -EINVAL,
          "VF NIC 52:54:00:5a:00:01 has no alias: libvirt unplugs a NIC by its alias" },
        { "hpvm-un-badmac", true, { { .mac = "52:54", .alias = "ua-nic0" } }, 1, 30, -EINVAL,
          "VF NIC #1: '52:54' is not a MAC address like 00:1a:4a:16:01:51" },
        { "hpvm-un-twice", true, { { .mac = "52:54:00:5a:00:01", .alias = "ua-nic0" },
                                   { .mac = "52:54:00:5a:00:03", .alias = "ua-nic0" } }, 2, 30, -EINVAL,
          "VF NIC 52:54:00:5a:00:03 (alias ua-nic0) is listed twice" },
        { "hpvm-un-zero", true, { { .mac = "52:54:00:5a:00:01", .alias = "ua-nic0" } }, 1, 0, -EINVAL,
          "unplug_timeout is 0 s: no guest can release a NIC that fast" },
        { "hpvm-un-other", true, { { .mac = "52:54:00:5a:00:09", .alias = "ua-nic0" } }, 1, 30, -EINVAL,
          "VM 'hpvm-un-other': alias 'ua-nic0' belongs to NIC 52:54:00:5a:00:01, not to VF NIC 52:54:00:5a:00:09: "
          "refusing to unplug it" },
        { "hpvm-un-renamed", true, { { .mac = "52:54:00:5a:00:01", .alias = "ua-nic7" } }, 1, 30, -EINVAL,
          "VM 'hpvm-un-renamed': VF NIC 52:54:00:5a:00:01 is plugged under alias 'ua-nic0', not 'ua-nic7': "
          "refusing to unplug it" },
        { "hpvm-un-off", false, { { .mac = "52:54:00:5a:00:01", .alias = "ua-nic0" } }, 1, 30, -EINVAL,
          "VM 'hpvm-un-off' is not running: there is nothing to unplug a NIC from" },
};

START_TEST(test_unplug)
{
        const Unplug *t = &unplugs[_i];
        virDomainPtr dom = make_domain(t->name, true, t->running);
        HpvmUnplugOutcome out[3] = { 0, 0, 0 };
        HpvmError err = { 0 };

        ck_assert_int_eq(hpvm_virt_unplug_nics(g_conn, dom, t->nics, t->n, t->timeout, out, &err), t->code);
        ck_assert_str_eq(err.msg, t->want);
        for (size_t i = 0; i < t->n; i++)
                ck_assert_int_eq(out[i], t->code == 0 ? HPVM_UNPLUG_ABSENT : 0);
        if (t->running)
                ck_assert_uint_eq(count_in(dom, 0, "<interface"), 2);
        ck_assert_uint_eq(count_in(dom, VIR_DOMAIN_XML_INACTIVE, "<interface"), 2);
        drop_domain(dom);
}
END_TEST

START_TEST(test_unplug_too_many)
{
        virDomainPtr dom = make_domain("hpvm-un-many", false, true);
        HpvmVfNic *nics = calloc(HPVM_VFNICS_MAX + 1, sizeof(*nics));
        HpvmError err = { 0 };

        ck_assert_int_eq(hpvm_virt_unplug_nics(g_conn, dom, nics, HPVM_VFNICS_MAX + 1, 30, NULL, &err), -E2BIG);
        ck_assert_str_eq(err.msg, "257 VF NICs to unplug (at most 256)");
        free(nics);
        drop_domain(dom);
}
END_TEST

/* ------------------------------------------------------------ watch on the test driver */

typedef struct Calls {
        int success, failure;
        char uuid[VIR_UUID_STRING_BUFLEN];
        int failure_rc;         /* what a failing failure action returns */
} Calls;

static int count_success(virConnectPtr conn, const char *uuid, void *opaque, HpvmError *err)
{
        Calls *c = opaque;

        c->success++;
        snprintf(c->uuid, sizeof(c->uuid), "%s", uuid);
        return 0;
}

static int replug_and_count(virConnectPtr conn, virDomainPtr dom, void *opaque, HpvmError *err)
{
        Calls *c = opaque;

        c->failure++;
        return hpvm_watch_replug_recorded(conn, dom, NULL, err);
}

static HpvmWatchActions actions(Calls *calls)
{
        return (HpvmWatchActions) { .on_success = count_success, .on_failure = replug_and_count, .opaque = calls };
}

static HpvmConfig *watch_config(unsigned start, unsigned total)
{
        HpvmConfig *c = config("test:///default");

        c->migration_start_timeout = start;
        c->watch_timeout = total;
        return c;
}

static const char *uuid_of(virDomainPtr dom, char *buf)
{
        ck_assert_int_eq(virDomainGetUUIDString(dom, buf), 0);
        return buf;
}

START_TEST(test_watch_outcome_names)
{
        static const char *const names[] = { "migrated", "stopped", "failed", "not-started", "post-copy", "timeout" };

        for (int o = HPVM_WATCH_MIGRATED; o <= HPVM_WATCH_TIMEOUT; o++)
                ck_assert_str_eq(hpvm_watch_outcome_name((HpvmWatchOutcome)o), names[o]);
}
END_TEST

START_TEST(test_watch_gone)
{
        _cleanup_config_ HpvmConfig *c = watch_config(5, 10);
        static const char uuid[] = "6b3c4f7e-2a1d-4c5e-9f00-0123456789ab";
        Calls calls = { 0 };
        HpvmWatchActions a = actions(&calls);
        HpvmWatchResult res;
        HpvmError err = { 0 };

        ck_assert_msg(hpvm_watch_migration(c, uuid, &a, &res, &err) == 0, "%s", err.msg);
        ck_assert_int_eq(res.outcome, HPVM_WATCH_MIGRATED);
        ck_assert_int_eq(calls.success, 1);
        ck_assert_int_eq(calls.failure, 0);
        ck_assert_str_eq(calls.uuid, uuid);
        ck_assert(res.job_seen_s < 0);
        ck_assert(res.decided_s < 0.5);
        ck_assert_int_eq(res.action, 0);
        ck_assert_str_eq(res.detail, "VM '6b3c4f7e-2a1d-4c5e-9f00-0123456789ab': gone from this host after 0.0 s "
                                     "(no longer defined here); success action done (0)");
}
END_TEST

START_TEST(test_watch_refusals)
{
        _cleanup_config_ HpvmConfig *c = watch_config(5, 10);
        HpvmWatchResult res = { .action = 42 };
        HpvmError err = { 0 };

        ck_assert_int_eq(hpvm_watch_migration(c, "6b3c4f7e-2a1d-4c5e-9f00-0123456789a", NULL, &res, &err), -EINVAL);
        ck_assert_str_eq(err.msg, "'6b3c4f7e-2a1d-4c5e-9f00-0123456789a' is not a VM UUID like 6b3c4f7e-2a1d-4c5e-9f00-0123456789ab");
        ck_assert_int_eq(hpvm_watch_migration(c, "6b3c4f7e-2a1d-4c5e-9f00x0123456789ab", NULL, &res, &err), -EINVAL);
        free(c->libvirt_uri);
        c->libvirt_uri = strdup("hpvm-nowhere:///x");
        ck_assert_int_eq(hpvm_watch_migration(c, "6b3c4f7e-2a1d-4c5e-9f00-0123456789ab", NULL, &res, &err), -ECONNREFUSED);
        /* The rest is libvirt's own words, which depend on whether a libvirtd runs here. */
        {
                static const char want[] = "cannot connect to libvirt at 'hpvm-nowhere:///x': ";

                ck_assert_msg(!strncmp(err.msg, want, sizeof(want) - 1) && strlen(err.msg) > sizeof(want) - 1,
                              "%s", err.msg);
        }
        ck_assert_int_eq(res.action, 42);
}
END_TEST

/* A running VM that never migrates: after migration_start_timeout its recorded NIC is put back, the record dropped. */
START_TEST(test_watch_not_started)
{
        _cleanup_config_ HpvmConfig *c = watch_config(1, 10);
        virDomainPtr dom = make_domain("hpvm-w-notstarted", false, true);
        char uuid[VIR_UUID_STRING_BUFLEN];
        Calls calls = { 0 };
        HpvmWatchActions a = actions(&calls);
        HpvmWatchResult res;
        HpvmError err = { 0 };
        HpvmVfMeta m;
        double t0;

        /* Recorded; here still (this driver cannot unplug): plugging it back is a no-op, as for a guest that never let go. */
        ck_assert_msg(hpvm_vfmeta_record_nic(dom, NIC0, "net-a", &err) == 0, "%s", err.msg);
        t0 = now_s();
        ck_assert_msg(hpvm_watch_migration(c, uuid_of(dom, uuid), &a, &res, &err) == 0, "%s", err.msg);
        ck_assert_int_eq(res.outcome, HPVM_WATCH_NOT_STARTED);
        ck_assert(res.decided_s >= 1.0 && res.decided_s < 2.0);
        ck_assert(now_s() - t0 < 2.5);
        ck_assert_int_eq(calls.failure, 1);
        ck_assert_int_eq(calls.success, 0);
        ck_assert_int_eq(res.action, 1);
        ck_assert_str_eq(res.detail, "VM 'hpvm-w-notstarted': no migration job within 1 s (migration_start_timeout) and the "
                                     "VM runs here: the migration never started; failure action done (1)");
        ck_assert_int_eq(hpvm_vfmeta_get(dom, &m, &err), 0);
        ck_assert_uint_eq(m.n, 0);
        ck_assert_uint_eq(count_in(dom, 0, "<interface"), 2);
        drop_domain(dom);
}
END_TEST

/* A recorded NIC that cannot be plugged back: the watch says what it saw, the action's error, and the record stays. */
START_TEST(test_watch_action_fails)
{
        _cleanup_config_ HpvmConfig *c = watch_config(1, 10);
        virDomainPtr dom = make_domain("hpvm-w-fails", false, true);
        char uuid[VIR_UUID_STRING_BUFLEN];
        Calls calls = { 0 };
        HpvmWatchActions a = actions(&calls);
        HpvmWatchResult res = { .action = 42 };
        HpvmError err = { 0 };
        HpvmVfMeta m;

        ck_assert_msg(hpvm_vfmeta_record_nic(dom, NIC0, NULL, &err) == 0, "%s", err.msg);
        ck_assert_msg(hpvm_vfmeta_record_nic(dom, "<interface type='user'><mac address='52:54:00:5a:00:07'/>"
                                                  "<alias name='ua-nic7'/></interface>", NULL, &err) == 0, "%s", err.msg);
        ck_assert_int_eq(hpvm_watch_migration(c, uuid_of(dom, uuid), &a, &res, &err), -EIO);
        ck_assert_str_eq(err.msg, "VM 'hpvm-w-fails': no migration job within 1 s (migration_start_timeout) and the VM runs "
                                  "here: the migration never started; the failure action failed: VM 'hpvm-w-fails': cannot "
                                  "plug NIC 52:54:00:5a:00:07 (alias ua-nic7) back: this function is not supported by the "
                                  "connection driver: virDomainAttachDeviceFlags (1 other recorded NIC(s) back; the failed "
                                  "one stays recorded)");
        ck_assert_int_eq(res.action, 42);
        ck_assert_int_eq(hpvm_vfmeta_get(dom, &m, &err), 0);
        ck_assert_uint_eq(m.n, 1);
        ck_assert_str_eq(m.recs[0].mac, "52:54:00:5a:00:07");
        hpvm_vfmeta_clear(&m);
        drop_domain(dom);
}
END_TEST

START_TEST(test_watch_timeout)
{
        _cleanup_config_ HpvmConfig *c = watch_config(5, 1);
        virDomainPtr dom = make_domain("hpvm-w-timeout", false, true);
        char uuid[VIR_UUID_STRING_BUFLEN];
        Calls calls = { 0 };
        HpvmWatchActions a = actions(&calls);
        HpvmWatchResult res;
        HpvmError err = { 0 };

        ck_assert_msg(hpvm_watch_migration(c, uuid_of(dom, uuid), &a, &res, &err) == 0, "%s", err.msg);
        ck_assert_int_eq(res.outcome, HPVM_WATCH_TIMEOUT);
        ck_assert(res.seconds >= 1.0 && res.seconds < 1.5);
        ck_assert_int_eq(res.action, -1);
        ck_assert_int_eq(calls.success + calls.failure, 0);
        ck_assert_str_eq(res.detail, "VM 'hpvm-w-timeout': no outcome within 1 s (watch_timeout): left alone; no action");
        drop_domain(dom);
}
END_TEST

/* Another client stops the VM while it is watched. */
typedef struct Stopper {
        const char *name;
        double delay;
} Stopper;

static void *stop_later(void *opaque)
{
        const Stopper *s = opaque;
        struct timespec ts = { 0, (long)(s->delay * 1e9) };
        virConnectPtr conn = virConnectOpen("test:///default");
        virDomainPtr dom;

        nanosleep(&ts, NULL);
        dom = conn ? virDomainLookupByName(conn, s->name) : NULL;
        if (dom) {
                virDomainDestroy(dom);
                virDomainFree(dom);
        }
        if (conn)
                virConnectClose(conn);
        return NULL;
}

typedef struct Stop {
        const char *name;
        bool persistent;
        const char *want;
} Stop;

static const Stop stops[] = {
        /* Transient: gone; only the lifecycle event can tell "destroyed" from "migrated away". */
        { "hpvm-w-destroyed", false, "VM 'hpvm-w-destroyed': stopped here (destroyed) after 0.3 s and gone; success action done (0)" },
        { "hpvm-w-shutoff", true, "VM 'hpvm-w-shutoff': shut off here after 0.3 s (destroyed); success action done (0)" },
};

START_TEST(test_watch_stopped)
{
        const Stop *t = &stops[_i];
        _cleanup_config_ HpvmConfig *c = watch_config(5, 10);
        virDomainPtr dom = make_domain(t->name, t->persistent, true);
        Stopper s = { t->name, 0.3 };
        char uuid[VIR_UUID_STRING_BUFLEN];
        Calls calls = { 0 };
        HpvmWatchActions a = actions(&calls);
        HpvmWatchResult res;
        HpvmError err = { 0 };
        pthread_t th;

        ck_assert_int_eq(pthread_create(&th, NULL, stop_later, &s), 0);
        ck_assert_msg(hpvm_watch_migration(c, uuid_of(dom, uuid), &a, &res, &err) == 0, "%s", err.msg);
        pthread_join(th, NULL);
        ck_assert_int_eq(res.outcome, HPVM_WATCH_STOPPED);
        /* Woken by the event, not by the next poll (0.5 s). */
        ck_assert_msg(res.decided_s >= 0.25 && res.decided_s < 0.48, "%.3f", res.decided_s);
        ck_assert_str_eq(res.detail, t->want);
        ck_assert_int_eq(calls.success, 1);
        drop_domain(dom);
}
END_TEST

/* ------------------------------------------------------------ the detached start */

/*
 * The watcher: a shell that sleeps, then leaves a mark. While it sleeps its
 * own descriptors are exactly what it was started with (a shell redirecting
 * for a command of its own would show more), so the test reads them, and
 * the rest, from /proc.
 */
/* "$1.up" once the shell runs the script (its loader is done with the libraries it opened), "$1.done" at its end. */
static const char watcher_script[] = ": >\"$1.up\"\nsleep 2\necho done >\"$1.done\"\n";

/* The descriptors of process @pid: "0>/dev/null 1>/dev/null ..." in number order (at most 16). */
static void fd_list(long pid, char *buf, size_t size)
{
        char path[64], target[256];
        int fds[16], n = 0;
        DIR *d;
        struct dirent *e;

        snprintf(path, sizeof(path), "/proc/%ld/fd", pid);
        d = opendir(path);
        ck_assert_ptr_nonnull(d);
        while ((e = readdir(d)) && n < 16)
                if (e->d_name[0] != '.')
                        fds[n++] = atoi(e->d_name);
        closedir(d);
        for (int i = 1; i < n; i++)
                for (int j = i; j > 0 && fds[j - 1] > fds[j]; j--) {
                        int t = fds[j];

                        fds[j] = fds[j - 1];
                        fds[j - 1] = t;
                }
        buf[0] = '\0';
        for (int i = 0; i < n; i++) {
                ssize_t len;

                snprintf(path, sizeof(path), "/proc/%ld/fd/%d", pid, fds[i]);
                len = readlink(path, target, sizeof(target) - 1);
                target[len < 0 ? 0 : len] = '\0';
                snprintf(buf + strlen(buf), size - strlen(buf), "%s%d>%s", i ? " " : "", fds[i], target);
        }
}

/* Field @n (1-based, after the comm field's ')') of a /proc/PID/stat line: 1 state, 2 ppid, 3 pgrp, 4 session. */
static long stat_field(const char *stat, int n)
{
        const char *p = strrchr(stat, ')');

        ck_assert_ptr_nonnull(p);
        p += 2;
        for (int i = 1; i < n; i++) {
                p = strchr(p, ' ');
                ck_assert_ptr_nonnull(p);
                p++;
        }
        return strtol(p, NULL, 10);
}

static bool wait_file(const char *path, double seconds)
{
        double end = now_s() + seconds;
        struct timespec ts = { 0, 20000000L };

        while (access(path, F_OK) != 0) {
                if (now_s() > end)
                        return false;
                nanosleep(&ts, NULL);
        }
        return true;
}

START_TEST(test_spawn_detached)
{
        _cleanup_free_ char *tmp = th_tmpdir(), *out = NULL, *stat = NULL, *status = NULL;
        char fdbuf[512], *f = NULL;     /* f: freed after each use */
        int pipefd[2];
        pid_t hook;
        long watcher = -1;
        char buf[256];
        size_t got = 0, len;
        double t0, eof_after;
        struct pollfd p;

        ck_assert_int_ge(asprintf(&out, "%s/w", tmp), 0);
        ck_assert_int_eq(pipe(pipefd), 0);
        t0 = now_s();
        hook = fork();
        ck_assert_int_ge(hook, 0);
        if (hook == 0) {
                /* The hook, as vdsm runs it: stdout and stderr are pipes vdsm reads to their end; one more
                 * descriptor without close-on-exec, as careless code leaves them. */
                const char *const argv[] = { "/bin/sh", "-c", watcher_script, "hpvm-watch-test", out, NULL };
                HpvmError err = { 0 };
                pid_t w = -1;
                int r;

                dup2(pipefd[1], 1);
                dup2(pipefd[1], 2);
                dup2(pipefd[1], 9);
                close(pipefd[0]);
                r = hpvm_watch_spawn(argv, &w, &err);
                /* The middle process is reaped already: no child is left to this process. */
                if (r == 0 && waitpid(-1, NULL, WNOHANG) == -1 && errno == ECHILD)
                        printf("watcher %d\n", (int)w);
                else
                        printf("spawn %d: %s\n", r, err.msg);
                fflush(stdout);
                _exit(r == 0 ? 0 : 1);
        }
        close(pipefd[1]);
        /* EOF on the hook's output must come once the hook exits, although the watcher lives on. */
        p = (struct pollfd) { .fd = pipefd[0], .events = POLLIN };
        for (;;) {
                ssize_t n;

                ck_assert_msg(poll(&p, 1, 5000) == 1, "the hook's stdout stays open: the watcher kept it");
                n = read(pipefd[0], buf + got, sizeof(buf) - 1 - got);
                ck_assert_int_ge(n, 0);
                if (n == 0)
                        break;
                got += (size_t)n;
        }
        eof_after = now_s() - t0;
        buf[got] = '\0';
        close(pipefd[0]);
        ck_assert_msg(sscanf(buf, "watcher %ld", &watcher) == 1, "%s", buf);
        ck_assert_msg(eof_after < 1.5, "EOF after %.2f s", eof_after);
        waitpid(hook, NULL, 0);

        /* Still running (the shell sleeps): look at it, once it runs the script. */
        ck_assert_int_ge(asprintf(&f, "%s.up", out), 0);
        ck_assert_msg(wait_file(f, 2), "the watcher did not start its script");
        free(f);
        ck_assert_int_ge(asprintf(&f, "/proc/%ld/stat", watcher), 0);
        stat = th_slurp(f, &len);
        free(f);
        ck_assert_int_eq(strtol(stat, NULL, 10), watcher);
        ck_assert_msg(strstr(stat, " (sh) "), "%s", stat);
        /* Not the hook's child, a session of its own (not its leader: it can never get a terminal), its own group. */
        ck_assert_int_ne(stat_field(stat, 2), hook);
        ck_assert_int_ne(stat_field(stat, 4), getsid(0));
        ck_assert_int_ne(stat_field(stat, 4), watcher);
        ck_assert_int_eq(stat_field(stat, 3), stat_field(stat, 4));
        ck_assert_int_ne(stat_field(stat, 3), getpgrp());
        /* Exactly stdin, stdout and stderr, all on /dev/null: not the hook's pipe, not its stray descriptor 9. */
        {
                /* The shell's own redirection of ": >$1.up" may still hold a moment: look again for up to 1 s. */
                struct timespec ts = { 0, 20000000L };
                double end = now_s() + 1;

                do {
                        fd_list(watcher, fdbuf, sizeof(fdbuf));
                } while (strcmp(fdbuf, "0>/dev/null 1>/dev/null 2>/dev/null") && now_s() < end &&
                         !nanosleep(&ts, NULL));
        }
        ck_assert_str_eq(fdbuf, "0>/dev/null 1>/dev/null 2>/dev/null");
        ck_assert_int_ge(asprintf(&f, "/proc/%ld/cwd", watcher), 0);
        {
                char target[64];
                ssize_t n = readlink(f, target, sizeof(target) - 1);

                ck_assert_int_eq(n, 1);
                ck_assert_int_eq(target[0], '/');
        }
        free(f);
        ck_assert_int_ge(asprintf(&f, "/proc/%ld/status", watcher), 0);
        status = th_slurp(f, &len);
        free(f);
        ck_assert_msg(strstr(status, "\nUmask:\t0022\n"), "%s", status);
        /* No signal blocked for good. The shell blocks some for a moment around its own fork and wait,
         * so look a few times: an inherited mask would never clear. */
        for (int tries = 0; !strstr(status, "\nSigBlk:\t0000000000000000\n") && tries < 50; tries++) {
                usleep(20000);
                free(status);
                ck_assert_int_ge(asprintf(&f, "/proc/%ld/status", watcher), 0);
                status = th_slurp(f, &len);
                free(f);
        }
        ck_assert_msg(strstr(status, "\nSigBlk:\t0000000000000000\n"), "%s", status);
        ck_assert_int_ge(asprintf(&f, "%s.done", out), 0);
        ck_assert_msg(access(f, F_OK) != 0, "the watcher should still run");
        free(f);
        /* It ends by itself. */
        ck_assert_int_ge(asprintf(&f, "%s.done", out), 0);
        ck_assert(wait_file(f, 5));
        free(f);
        th_rmtree(tmp);
}
END_TEST

typedef struct SpawnBad {
        const char *path;
        int code;
        const char *want;
} SpawnBad;

static const SpawnBad spawn_bads[] = {
        { "/nonexistent/hpvm-watch", -ENOENT,
          "cannot start the migration watcher '/nonexistent/hpvm-watch': No such file or directory" },
        /* A file without any x bit: not even root may run it. */
        { "@noexec", -EACCES, "cannot start the migration watcher '@TMP@/noexec': Permission denied" },
        { "sh", -EINVAL, "the migration watcher needs an absolute program path, not 'sh'" },
        { NULL, -EINVAL, "the migration watcher needs an absolute program path, not ''" },
};

START_TEST(test_spawn_refusals)
{
        const SpawnBad *t = &spawn_bads[_i];
        _cleanup_free_ char *tmp = th_tmpdir(), *path = NULL, *want = replace(t->want, "@TMP@", tmp);
        const char *argv[] = { t->path, NULL };
        HpvmError err = { 0 };
        pid_t pid = 77;

        if (t->path && !strcmp(t->path, "@noexec")) {
                ck_assert_int_ge(asprintf(&path, "%s/noexec", tmp), 0);
                th_write(path, "#!/bin/sh\n", 10, 0644);
                argv[0] = path;
        }
        ck_assert_int_eq(hpvm_watch_spawn(argv, &pid, &err), t->code);
        ck_assert_str_eq(err.msg, want);
        ck_assert_int_eq(pid, 77);
        ck_assert_int_eq(waitpid(-1, NULL, WNOHANG), -1);
        th_rmtree(tmp);
}
END_TEST

static Suite *virt_suite(void)
{
        Suite *s = suite_create("virt");
        TCase *tc = tcase_create("virtconn");

        tcase_add_test(tc, test_open_default);
        tcase_add_test(tc, test_open_refused_quietly);
        tcase_add_loop_test(tc, test_open_credentials, 0, (int)HPVM_ARRAY_SIZE(creds));
        tcase_add_test(tc, test_auth_callback);
        suite_add_tcase(s, tc);

        tc = tcase_create("hotplug-test-driver");
        tcase_add_checked_fixture(tc, conn_setup, conn_teardown);
        tcase_add_loop_test(tc, test_plug, 0, (int)HPVM_ARRAY_SIZE(plugs));
        tcase_add_test(tc, test_nic_xml);
        tcase_add_loop_test(tc, test_unplug, 0, (int)HPVM_ARRAY_SIZE(unplugs));
        tcase_add_test(tc, test_unplug_too_many);
        suite_add_tcase(s, tc);

        tc = tcase_create("watch-test-driver");
        tcase_add_checked_fixture(tc, conn_setup, conn_teardown);
        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, test_watch_outcome_names);
        tcase_add_test(tc, test_watch_gone);
        tcase_add_test(tc, test_watch_refusals);
        tcase_add_test(tc, test_watch_not_started);
        tcase_add_test(tc, test_watch_action_fails);
        tcase_add_test(tc, test_watch_timeout);
        tcase_add_loop_test(tc, test_watch_stopped, 0, (int)HPVM_ARRAY_SIZE(stops));
        suite_add_tcase(s, tc);

        tc = tcase_create("spawn");
        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, test_spawn_detached);
        tcase_add_loop_test(tc, test_spawn_refusals, 0, (int)HPVM_ARRAY_SIZE(spawn_bads));
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(virt_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
