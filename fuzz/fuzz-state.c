/* fuzz-state.c: libFuzzer target for state files: damaged ones refused with one line naming the file, good ones survive a commit unchanged. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "state.h"
#include "fuzzcheck.h"

/* Input: the bytes of the data file <dir>/fz, in a private folder made once and removed at exit. */
static char dir[] = "/tmp/hpvm-fuzz-state-XXXXXX";
static char path[sizeof(dir) + 8];
static char lock[sizeof(dir) + 8];

static void cleanup(void)
{
        unlink(path);
        unlink(lock);
        rmdir(dir);
}

static void write_file(const uint8_t *data, size_t size)
{
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0664);

        CHECK(fd >= 0, "cannot create %s", path);
        CHECK(write(fd, data, size) == (ssize_t)size, "short write");
        close(fd);
}

static void check_failure(int r, const HpvmError *err)
{
        size_t len = strnlen(err->msg, sizeof(err->msg));

        CHECK(r == -EBADMSG || r == -EFBIG, "unexpected error %d: %s", r, err->msg);
        CHECK(err->code == r, "err.code %d but return %d", err->code, r);
        CHECK(len > 0 && len < sizeof(err->msg), "message empty or unterminated");
        for (size_t i = 0; i < len; i++)
                CHECK((unsigned char)err->msg[i] >= 0x20 && (unsigned char)err->msg[i] < 0x7f,
                      "byte 0x%02x at %zu in message '%s'", (unsigned char)err->msg[i], i, err->msg);
        CHECK(!strncmp(err->msg, path, strlen(path)), "message does not name the file: '%s'", err->msg);
        CHECK(strstr(err->msg, "the state file is damaged"), "no damage note: '%s'", err->msg);
}

/* Every record and field of @s, in order, as one comparable text. */
static char *dump(const HpvmState *s, size_t *ret_len)
{
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);

        CHECK(f, "open_memstream");
        for (size_t i = 0; i < hpvm_state_count(s); i++) {
                const HpvmRecord *r = hpvm_state_at(s, i);
                const char *k, *v;

                fprintf(f, "[%s|%s]", hpvm_record_type(r), hpvm_record_id(r));
                CHECK(hpvm_state_find(s, hpvm_record_type(r), hpvm_record_id(r)) == r, "find does not give record %zu", i);
                for (size_t j = 0; hpvm_record_field_at(r, j, &k, &v); j++)
                        fprintf(f, "{%s=%zu:%s}", k, strlen(v), v);
        }
        CHECK(fclose(f) == 0, "fclose");
        *ret_len = len;
        return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        HpvmStateOpts o = { .dir = dir, .wait_ms = 1000, .uid = -1, .gid = -1 };
        HpvmState *s = NULL;
        HpvmError err = { 0 };
        char *before, *after;
        size_t blen, alen;
        int r;

        if (!path[0]) {
                CHECK(mkdtemp(dir), "mkdtemp");
                snprintf(path, sizeof(path), "%s/fz", dir);
                snprintf(lock, sizeof(lock), "%s/fz.lock", dir);
                atexit(cleanup);
        }
        write_file(data, size);
        r = hpvm_state_open(&o, "fz", &s, &err);
        if (r < 0) {
                check_failure(r, &err);
                CHECK(!s, "*ret set on failure");
                return 0;
        }
        CHECK(err.code == 0, "success with a message: %s", err.msg);
        before = dump(s, &blen);
        /* Force a rewrite of the same records. */
        CHECK(hpvm_state_put(s, "fuzz", "force", NULL) == 1, "put");
        CHECK(hpvm_state_remove(s, "fuzz", "force") == 0, "remove");
        r = hpvm_state_commit(s, &err);
        CHECK(r == 0, "commit: %s", err.msg);
        hpvm_state_close(s);
        s = NULL;
        r = hpvm_state_open(&o, "fz", &s, &err);
        CHECK(r == 0, "what was committed does not open: %s", err.msg);
        after = dump(s, &alen);
        CHECK(blen == alen && !memcmp(before, after, blen), "records changed through a commit");
        free(before);
        free(after);
        hpvm_state_close(s);
        return 0;
}
