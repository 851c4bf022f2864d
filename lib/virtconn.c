/* virtconn.c: opening libvirt connections with hpvm.conf's URI and SASL credentials, and keeping libvirt quiet. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libvirt/virterror.h>

#include "virtconn.h"

/* ---------------------------------------------------------------- process-wide setup */

static int init_result;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

/* libvirt's reports are read back through virGetLastError(): nothing goes to stderr. */
static void drop_error(void *opaque, virErrorPtr e)
{
}

static void init_once_fn(void)
{
        virSetErrorFunc(NULL, drop_error);
        init_result = virEventRegisterDefaultImpl() < 0 ? -EIO : 0;
}

int hpvm_virt_init(void)
{
        pthread_once(&init_once, init_once_fn);
        /* Set again each time: a caller may have installed another handler in between. */
        virSetErrorFunc(NULL, drop_error);
        return init_result;
}

const char *hpvm_virt_last_error(const char *fallback)
{
        virErrorPtr e = virGetLastError();

        return e && e->message ? e->message : fallback;
}

int hpvm_virt_last_code(void)
{
        virErrorPtr e = virGetLastError();

        return e ? e->code : VIR_ERR_OK;
}

/* ---------------------------------------------------------------- credentials */

/*
 * The first line of @path into @buf (NUL-terminated, at most
 * HPVM_VIRT_PASSWORD_MAX bytes; @size leaves room for "\r\n", one byte more
 * and the NUL). Reads no more than that, whatever the file's size.
 */
static int read_password(const char *path, char *buf, size_t size, HpvmError *err)
{
        char q[HPVM_QUOTE_MAX];
        struct stat st;
        size_t len = 0;
        ssize_t n;
        char *nl;
        int fd, r = 0;

        hpvm_quote(path, strlen(path), q, sizeof(q));
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return hpvm_error_set(err, -errno, "libvirt_password_file '%s': %s", q, strerror(errno));
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                close(fd);
                return hpvm_error_set(err, -EINVAL, "libvirt_password_file '%s': not a regular file", q);
        }
        /* The cap, a "\r\n", and one byte more to tell a longer line. */
        while (len < size - 1) {
                n = read(fd, buf + len, size - 1 - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        r = hpvm_error_set(err, -errno, "libvirt_password_file '%s': %s", q, strerror(errno));
                        break;
                }
                if (n == 0)
                        break;
                len += (size_t)n;
                if (memchr(buf, '\n', len))
                        break;
        }
        close(fd);
        buf[len] = '\0';
        if (r < 0)
                return r;
        nl = memchr(buf, '\n', len);
        if (nl)
                len = (size_t)(nl - buf);
        if (len && buf[len - 1] == '\r')
                len--;
        buf[len] = '\0';
        if (len > HPVM_VIRT_PASSWORD_MAX)
                return hpvm_error_set(err, -E2BIG, "libvirt_password_file '%s': the first line is longer than %u bytes",
                                      q, HPVM_VIRT_PASSWORD_MAX);
        if (len == 0)
                return hpvm_error_set(err, -EINVAL, "libvirt_password_file '%s': the first line is empty (expected the password)", q);
        if (memchr(buf, '\0', len))
                return hpvm_error_set(err, -EINVAL, "libvirt_password_file '%s': the first line holds a NUL byte", q);
        return 0;
}

static const char *cred_name(int type)
{
        switch (type) {
        case VIR_CRED_USERNAME: return "a user name";
        case VIR_CRED_AUTHNAME: return "an authentication name";
        case VIR_CRED_LANGUAGE: return "a language";
        case VIR_CRED_CNONCE: return "a client nonce";
        case VIR_CRED_PASSPHRASE: return "a passphrase";
        case VIR_CRED_ECHOPROMPT: return "an answer to a prompt";
        case VIR_CRED_NOECHOPROMPT: return "a secret answer to a prompt";
        case VIR_CRED_REALM: return "a realm";
        case VIR_CRED_EXTERNAL: return "an external credential";
        default: return "an unknown credential";
        }
}

int hpvm_virt_auth_cb(virConnectCredentialPtr cred, unsigned int ncred, void *cbdata)
{
        HpvmVirtAuth *auth = cbdata;
        /* The cap, "\r\n", one byte to tell a longer line, the NUL. */
        char pw[HPVM_VIRT_PASSWORD_MAX + 4];
        int r = 0;

        for (unsigned int i = 0; i < ncred && r == 0; i++) {
                const char *value = NULL;

                switch (cred[i].type) {
                case VIR_CRED_AUTHNAME:
                        if (!auth->user || !*auth->user) {
                                r = hpvm_error_set(&auth->error, -EINVAL, "libvirt asks for a user name and libvirt_user is not set");
                                break;
                        }
                        value = auth->user;
                        break;
                case VIR_CRED_PASSPHRASE:
                        if (!auth->password_file || !*auth->password_file) {
                                r = hpvm_error_set(&auth->error, -EINVAL,
                                                   "libvirt asks for a password and libvirt_password_file is not set");
                                break;
                        }
                        r = read_password(auth->password_file, pw, sizeof(pw), &auth->error);
                        value = pw;
                        break;
                default:
                        r = hpvm_error_set(&auth->error, -EINVAL,
                                           "libvirt asks for %s (type %d), and only a user name and a password are configured",
                                           cred_name(cred[i].type), cred[i].type);
                        break;
                }
                if (r == 0) {
                        cred[i].result = strdup(value);
                        if (!cred[i].result)
                                r = hpvm_error_set(&auth->error, -ENOMEM, "out of memory");
                        else
                                cred[i].resultlen = (unsigned int)strlen(value);
                }
        }
        explicit_bzero(pw, sizeof(pw));
        return r < 0 ? -1 : 0;
}

/* ---------------------------------------------------------------- connecting */

static int refusal_code(int code)
{
        switch (code) {
        case VIR_ERR_AUTH_FAILED:
        case VIR_ERR_AUTH_CANCELLED:
        case VIR_ERR_AUTH_UNAVAILABLE:
        case VIR_ERR_ACCESS_DENIED:
                return -EACCES;
        default:
                return -ECONNREFUSED;
        }
}

int hpvm_virt_open(const HpvmConfig *c, virConnectPtr *ret, HpvmError *err)
{
        const char *uri = c && c->libvirt_uri && *c->libvirt_uri ? c->libvirt_uri : HPVM_VIRT_DEFAULT_URI;
        const char *user = c && c->libvirt_user && *c->libvirt_user ? c->libvirt_user : NULL;
        const char *pwfile = c && c->libvirt_password_file && *c->libvirt_password_file ? c->libvirt_password_file : NULL;
        int credtype[] = { VIR_CRED_AUTHNAME, VIR_CRED_PASSPHRASE };
        HpvmVirtAuth auth = { .user = user, .password_file = pwfile };
        virConnectAuth va = {
                .credtype = credtype,
                .ncredtype = HPVM_ARRAY_SIZE(credtype),
                .cb = hpvm_virt_auth_cb,
                .cbdata = &auth,
        };
        char quri[HPVM_QUOTE_MAX], quser[HPVM_QUOTE_MAX + 8] = "";
        virConnectPtr conn;

        hpvm_quote(uri, strlen(uri), quri, sizeof(quri));
        if (user) {
                char q[HPVM_QUOTE_MAX];

                snprintf(quser, sizeof(quser), " as '%s'", hpvm_quote(user, strlen(user), q, sizeof(q)));
        }
        if (hpvm_virt_init() < 0)
                return hpvm_error_set(err, -EIO, "cannot connect to libvirt at '%s'%s: libvirt cannot register its event loop",
                                      quri, quser);
        virResetLastError();
        conn = virConnectOpenAuth(uri, (user || pwfile) ? &va : NULL, 0);
        if (!conn) {
                /* The callback's own reason beats libvirt's "failed to collect credentials". */
                if (auth.error.code)
                        return hpvm_error_set(err, auth.error.code, "cannot connect to libvirt at '%s'%s: %s", quri, quser,
                                              auth.error.msg);
                return hpvm_error_set(err, refusal_code(hpvm_virt_last_code()), "cannot connect to libvirt at '%s'%s: %s",
                                      quri, quser, hpvm_virt_last_error("no reason given"));
        }
        *ret = conn;
        return 0;
}
