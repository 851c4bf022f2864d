/* testhelp.c: helpers shared by the Check suites. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/relaxng.h>

#include "testhelp.h"

const char *th_srcdir(void)
{
        const char *s = getenv("HPVM_SRCDIR");

        return s && *s ? s : ".";
}

const char *th_builddir(void)
{
        const char *s = getenv("HPVM_BUILDDIR");

        return s && *s ? s : ".";
}

char *th_src(const char *rel)
{
        char *p;

        ck_assert_int_ge(asprintf(&p, "%s/%s", th_srcdir(), rel), 0);
        return p;
}

char *th_slurp(const char *path, size_t *len)
{
        FILE *f = fopen(path, "rb");
        char *buf = NULL;
        size_t n = 0, cap = 0;

        ck_assert_msg(f, "cannot open %s: %s", path, strerror(errno));
        for (;;) {
                if (cap - n < 65536) {
                        cap = cap ? cap * 2 : 65536;
                        buf = realloc(buf, cap + 1);
                        ck_assert(buf);
                }
                size_t got = fread(buf + n, 1, cap - n, f);
                n += got;
                if (got == 0)
                        break;
        }
        ck_assert(!ferror(f));
        fclose(f);
        buf[n] = '\0';
        if (len)
                *len = n;
        return buf;
}

void th_write(const char *path, const void *data, size_t len, unsigned mode)
{
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

        ck_assert_msg(fd >= 0, "cannot create %s: %s", path, strerror(errno));
        ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
        ck_assert_int_eq(fchmod(fd, mode), 0);
        ck_assert_int_eq(close(fd), 0);
}

char *th_tmpdir(void)
{
        char *d = strdup("/tmp/hpvm-test-XXXXXX");

        ck_assert(d && mkdtemp(d));
        return d;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        return remove(path);
}

void th_rmtree(const char *dir)
{
        nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static char *read_fd_all(int fd)
{
        char *buf = NULL;
        size_t n = 0, cap = 0;
        ssize_t got;

        lseek(fd, 0, SEEK_SET);
        do {
                if (cap - n < 4096) {
                        cap = cap ? cap * 2 : 8192;
                        buf = realloc(buf, cap + 1);
                        ck_assert(buf);
                }
                got = read(fd, buf + n, cap - n);
                if (got > 0)
                        n += (size_t)got;
        } while (got > 0);
        buf[n] = '\0';
        return buf;
}

static char th_conf_env[4400];
static char th_conf_dir[2048];

static void th_conf_cleanup(void)
{
        if (th_conf_dir[0] && getpid() == (pid_t)strtol(strrchr(th_conf_dir, '-') + 1, NULL, 10))
                th_rmtree(th_conf_dir);
}

const char *th_config_env(void)
{
        char path[4200];
        FILE *f;

        if (th_conf_env[0])
                return th_conf_env;
        snprintf(th_conf_dir, sizeof(th_conf_dir), "%s/hpvm-testconf-%ld",
                 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (long)getpid());
        ck_assert(mkdir(th_conf_dir, 0755) == 0 || errno == EEXIST);
        /* The state folder is shared with hooks run as another user (hostile tests run as nobody). */
        snprintf(path, sizeof(path), "%s/state", th_conf_dir);
        ck_assert(mkdir(path, 01777) == 0 || errno == EEXIST);
        ck_assert_int_eq(chmod(path, 01777), 0);
        snprintf(path, sizeof(path), "%s/hpvm.conf", th_conf_dir);
        f = fopen(path, "w");
        ck_assert_ptr_nonnull(f);
        fprintf(f, "# written by the test suite: hooks it runs keep their ledgers here\nstate_dir=%s/state\n", th_conf_dir);
        ck_assert_int_eq(fclose(f), 0);
        snprintf(th_conf_env, sizeof(th_conf_env), "HPVM_CONFIG=%s", path);
        atexit(th_conf_cleanup);
        return th_conf_env;
}

void th_run(const char *const argv[], const char *const env[], int timeout_s, ThRun *ret)
{
        static const ThLimits none = { .uid = -1 };

        th_run_limited(argv, env, timeout_s, &none, ret);
}

void th_run_limited(const char *const argv[], const char *const env[], int timeout_s, const ThLimits *lim,
                    ThRun *ret)
{
        struct rusage ru;
        char outname[] = "/tmp/hpvm-out-XXXXXX", errname[] = "/tmp/hpvm-err-XXXXXX";
        int outfd = mkstemp(outname), errfd = mkstemp(errname);
        struct timespec start, now;
        const char *envp[64];
        size_t n = 0;
        int status = 0;
        pid_t pid;

        ck_assert(outfd >= 0 && errfd >= 0);
        unlink(outname);
        unlink(errname);
        envp[n++] = "PATH=/usr/bin:/bin:/usr/sbin:/sbin";
        envp[n++] = "LC_ALL=C.UTF-8";
        {
                bool own = false;

                for (size_t i = 0; env && env[i]; i++) {
                        ck_assert(n < HPVM_TH_ENV_MAX);
                        envp[n++] = env[i];
                        own |= !strncmp(env[i], "HPVM_CONFIG=", 12);
                }
                /* Never the host's /etc/hpvm-hooks or /run/hpvm-hooks: a private config unless one is given. */
                if (!own)
                        envp[n++] = th_config_env();
        }
        envp[n] = NULL;

        pid = fork();
        ck_assert(pid >= 0);
        if (pid == 0) {
                int devnull = open("/dev/null", O_RDONLY);

                dup2(devnull, 0);
                dup2(outfd, 1);
                dup2(errfd, 2);
                if (lim->as_bytes) {
                        struct rlimit rl = { lim->as_bytes, lim->as_bytes };

                        if (setrlimit(RLIMIT_AS, &rl) < 0)
                                _exit(126);
                }
                if (lim->uid >= 0 && (setgroups(0, NULL) < 0 || setresgid((gid_t)lim->uid, (gid_t)lim->uid, (gid_t)lim->uid) < 0 ||
                                      setresuid((uid_t)lim->uid, (uid_t)lim->uid, (uid_t)lim->uid) < 0))
                        _exit(126);
                execve(argv[0], (char *const *)argv, (char *const *)envp);
                _exit(127);
        }
        clock_gettime(CLOCK_MONOTONIC, &start);
        for (;;) {
                pid_t w = wait4(pid, &status, WNOHANG, &ru);

                if (w == pid)
                        break;
                clock_gettime(CLOCK_MONOTONIC, &now);
                if (now.tv_sec - start.tv_sec > timeout_s) {
                        kill(pid, SIGKILL);
                        waitpid(pid, &status, 0);
                        ck_abort_msg("%s did not finish within %d s", argv[0], timeout_s);
                }
                usleep(1000);
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        ret->seconds = (double)(now.tv_sec - start.tv_sec) + (double)(now.tv_nsec - start.tv_nsec) / 1e9;
        ret->maxrss_kb = ru.ru_maxrss;
        ret->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        ret->out = read_fd_all(outfd);
        ret->err = read_fd_all(errfd);
        close(outfd);
        close(errfd);
}

void th_run_clear(ThRun *r)
{
        free(r->out);
        free(r->err);
        r->out = r->err = NULL;
}

void th_vm_init(ThVm *vm, const char *fixture, unsigned mode)
{
        char *src = th_src(fixture);
        char *x;
        size_t len;

        memset(vm, 0, sizeof(*vm));
        vm->tmp = th_tmpdir();
        ck_assert_int_ge(asprintf(&vm->hook, "%s/hooks/before_vm_start", th_builddir()), 0);
        ck_assert_int_ge(asprintf(&vm->domxml, "%s/vm.xml", vm->tmp), 0);
        ck_assert_int_ge(asprintf(&vm->env_domxml, "_hook_domxml=%s", vm->domxml), 0);
        x = th_slurp(src, &len);
        th_vm_set_input(vm, x, len, mode);
        free(x);
        free(src);
}

void th_vm_clear(ThVm *vm)
{
        if (vm->tmp)
                th_rmtree(vm->tmp);
        free(vm->tmp);
        free(vm->domxml);
        free(vm->env_domxml);
        free(vm->hook);
        free(vm->input);
        memset(vm, 0, sizeof(*vm));
}

void th_vm_set_input(ThVm *vm, const void *data, size_t len, unsigned mode)
{
        char *copy = malloc(len + 1);

        ck_assert_ptr_nonnull(copy);
        memcpy(copy, data, len);
        copy[len] = '\0';
        free(vm->input);
        vm->input = copy;
        vm->inlen = len;
        th_write(vm->domxml, copy, len, mode);
}

void th_vm_assert_folder_clean(const ThVm *vm)
{
        DIR *d = opendir(vm->tmp);
        struct dirent *e;
        size_t n = 0;

        ck_assert_ptr_nonnull(d);
        while ((e = readdir(d)))
                if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
                        ck_assert_msg(!strcmp(e->d_name, "vm.xml"), "%s left in the folder", e->d_name);
                        n++;
                }
        closedir(d);
        ck_assert_uint_eq(n, 1);
}

void th_vm_assert_untouched(const ThVm *vm)
{
        size_t len;
        char *now = th_slurp(vm->domxml, &len);

        ck_assert_msg(len == vm->inlen && !memcmp(now, vm->input, len), "the domain XML was changed");
        free(now);
        th_vm_assert_folder_clean(vm);
}

size_t th_lines(const char *s)
{
        size_t n = 0;

        for (; *s; s++)
                n += *s == '\n';
        return n;
}

static char schema_error[1024];

static void collect_error(void *ctx, const xmlError *e)
{
        if (!schema_error[0] && e && e->message)
                snprintf(schema_error, sizeof(schema_error), "line %d: %s", e->line, e->message);
}

bool th_schema_valid(const char *xml, size_t len, char *why, size_t whysz)
{
        static xmlRelaxNGPtr schema;
        xmlRelaxNGValidCtxtPtr vctxt;
        xmlDocPtr doc;
        int r;

        schema_error[0] = '\0';
        xmlSetStructuredErrorFunc(NULL, (xmlStructuredErrorFunc)collect_error);
        if (!schema) {
                const char *dir = getenv("HPVM_SCHEMA_DIR");
                char *path;
                xmlRelaxNGParserCtxtPtr pctxt;

                ck_assert_int_ge(asprintf(&path, "%s/domain.rng", dir && *dir ? dir : "/usr/share/libvirt/schemas"), 0);
                pctxt = xmlRelaxNGNewParserCtxt(path);
                schema = xmlRelaxNGParse(pctxt);
                xmlRelaxNGFreeParserCtxt(pctxt);
                ck_assert_msg(schema, "cannot load libvirt's schema %s: %s", path, schema_error);
                free(path);
                schema_error[0] = '\0';
        }
        doc = xmlReadMemory(xml, (int)len, "domain.xml", NULL, XML_PARSE_NONET);
        if (!doc) {
                snprintf(why, whysz, "not well-formed: %s", schema_error);
                return false;
        }
        vctxt = xmlRelaxNGNewValidCtxt(schema);
        r = xmlRelaxNGValidateDoc(vctxt, doc);
        xmlRelaxNGFreeValidCtxt(vctxt);
        xmlFreeDoc(doc);
        snprintf(why, whysz, "%s", schema_error);
        return r == 0;
}
