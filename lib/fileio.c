/* fileio.c: bounded whole-file reads and atomic (optionally durable) replacement by rename(). */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"

static int read_all(int fd, char *buf, size_t want, size_t *got)
{
        size_t done = 0;

        while (done < want) {
                ssize_t n = read(fd, buf + done, want - done);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                done += (size_t)n;
        }
        *got = done;
        return 0;
}

int hpvm_file_read(const char *path, size_t max, char **ret_buf, size_t *ret_len, HpvmError *err)
{
        struct stat st;
        char *buf;
        size_t len = 0;
        int fd, r;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return hpvm_error_set(err, -errno, "cannot open %s: %s", path, strerror(errno));
        if (fstat(fd, &st) < 0) {
                r = -errno;
                close(fd);
                return hpvm_error_set(err, r, "cannot stat %s: %s", path, strerror(-r));
        }
        if (!S_ISREG(st.st_mode)) {
                close(fd);
                return hpvm_error_set(err, S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL,
                                      "%s is not a regular file", path);
        }
        if ((uint64_t)st.st_size > max) {
                close(fd);
                return hpvm_error_set(err, -EFBIG, "%s is %jd bytes (at most %zu)", path,
                                      (intmax_t)st.st_size, max);
        }
        /* Read one byte past the limit so a file growing under us is still caught. */
        buf = malloc(max + 2);
        if (!buf) {
                close(fd);
                return hpvm_error_set(err, -ENOMEM, "out of memory reading %s", path);
        }
        r = read_all(fd, buf, max + 1, &len);
        close(fd);
        if (r < 0) {
                free(buf);
                return hpvm_error_set(err, r, "cannot read %s: %s", path, strerror(-r));
        }
        if (len > max) {
                free(buf);
                return hpvm_error_set(err, -EFBIG, "%s is larger than %zu bytes", path, max);
        }
        buf[len] = '\0';
        *ret_buf = buf;
        *ret_len = len;
        return 0;
}

static int write_all(int fd, const char *p, size_t len)
{
        while (len) {
                ssize_t n = write(fd, p, len);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += n;
                len -= (size_t)n;
        }
        return 0;
}

static int fsync_dir(const char *dir)
{
        int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int r = 0;

        if (fd < 0)
                return -errno;
        if (fsync(fd) < 0)
                r = -errno;
        close(fd);
        return r;
}

int hpvm_file_replace(const char *path, const void *data, size_t len, bool durable, HpvmError *err)
{
        static const HpvmFileAttrs private_file = { .mode = 0600, .uid = -1, .gid = -1 };

        return hpvm_file_replace_ex(path, data, len, durable, &private_file, err);
}

int hpvm_file_replace_ex(const char *path, const void *data, size_t len, bool durable,
                         const HpvmFileAttrs *attrs, HpvmError *err)
{
        char target[PATH_MAX], dirbuf[PATH_MAX], basebuf[PATH_MAX], tmp[PATH_MAX + 32];
        const char *step;
        struct stat st;
        mode_t mode = (mode_t)attrs->mode & 07777;
        uid_t uid = attrs->uid < 0 ? (uid_t)-1 : (uid_t)attrs->uid;
        gid_t gid = attrs->gid < 0 ? (gid_t)-1 : (gid_t)attrs->gid;
        int fd, r;

        /* Replace what a symlink points to, not the link: readers follow it by name. */
        if (!realpath(path, target)) {
                if (errno != ENOENT || strlen(path) >= sizeof(target))
                        return hpvm_error_set(err, -errno, "cannot resolve %s: %s", path, strerror(errno));
                strcpy(target, path);
        }
        if (stat(target, &st) == 0) {
                mode = st.st_mode & 07777;
                uid = st.st_uid;
                gid = st.st_gid;
        }

        strcpy(dirbuf, target);
        strcpy(basebuf, target);
        snprintf(tmp, sizeof(tmp), "%s/.%s.hpvm-XXXXXX", dirname(dirbuf), basename(basebuf));
        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return hpvm_error_set(err, -errno, "cannot create a temporary file beside %s: %s",
                                      path, strerror(errno));
        /*
         * Owner first, mode second: a chown() clears setuid and (on a group-executable
         * file) setgid, so the other order would lose them. Keep the owner when we may
         * (root, or the owner giving a group of its own); EPERM leaves the file ours.
         */
        step = "set the owner of";
        if ((uid != (uid_t)-1 || gid != (gid_t)-1) && fchown(fd, uid, gid) < 0 && errno != EPERM)
                goto fail;
        step = "set the mode of";
        if (fchmod(fd, mode) < 0)
                goto fail;
        step = "write";
        r = write_all(fd, data, len);
        if (r < 0) {
                errno = -r;
                goto fail;
        }
        step = "flush";
        if (durable && fsync(fd) < 0)
                goto fail;
        r = close(fd);
        fd = -1;
        if (r < 0)
                goto fail;
        step = "rename over";
        if (rename(tmp, target) < 0)
                goto fail;
        if (durable) {
                strcpy(dirbuf, target);
                r = fsync_dir(dirname(dirbuf));
                if (r < 0)
                        return hpvm_error_set(err, r, "cannot flush the folder of %s: %s", path, strerror(-r));
        }
        return 0;

fail:
        r = -errno;
        if (fd >= 0)
                close(fd);
        unlink(tmp);
        return hpvm_error_set(err, r, "cannot %s %s: %s", step, step[0] == 'r' ? path : tmp, strerror(-r));
}
