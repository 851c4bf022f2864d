/* state.c: HpvmState, a flock()ed file of text records, parsed strictly and replaced whole (durably) on commit. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"
#include "state.h"

#define HEADER_MAGIC "hpvm-state"
#define FORMAT_VERSION "1"
#define TEMP_INFIX ".hpvm-"             /* hpvm_file_replace's temporary files: .<name>.hpvm-XXXXXX */
#define TEMP_SUFFIX_LEN 6
#define LOCKS_FILE "/proc/locks"
#define LOCKS_READ_MAX (1u << 20)
#define POLL_FIRST_US 1000u
#define POLL_MAX_US 20000u

typedef struct HpvmField {
        char *key;              /* "key\0value\0" in one allocation */
        char *value;            /* points into the key's allocation */
        size_t klen, enclen;    /* enclen: bytes of the value once %-encoded */
} HpvmField;

struct HpvmRecord {
        HpvmState *state;
        char *type;             /* "type\0id\0" in one allocation */
        char *id;
        size_t index;           /* position in state->recs */
        uint64_t hash;
        size_t line;            /* line of the file it was read from, 0 if new */
        size_t nfields, fcap;
        HpvmField *fields;
        size_t line_len;        /* bytes of its line without '\n' */
};

struct HpvmState {
        char *dir, *name, *path, *lock_path;
        int lock_fd;
        HpvmFileAttrs attrs;    /* given to a new data file (owner: resolved when one is created) */
        char *user, *group;     /* the owner by name, for the ids that are -1 */
        bool data_exists;       /* the data file was there when read (or has been written) */
        HpvmRecord **recs;
        size_t n, cap;
        HpvmRecord **slots;     /* open addressing on (type, id); NULL empty, &tombstone removed */
        size_t nslots, ntombs;
        bool changed;
        char *damage;
};

static HpvmRecord tombstone;

/* ---------------------------------------------------------------- tokens and encoding */

static bool is_token_char(unsigned char ch)
{
        return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' ||
               ch == '.' || ch == ':' || ch == '-';
}

static bool token_valid(const char *s, size_t len)
{
        if (len == 0 || len > HPVM_STATE_TOKEN_MAX)
                return false;
        for (size_t i = 0; i < len; i++)
                if (!is_token_char((unsigned char)s[i]))
                        return false;
        return true;
}

bool hpvm_state_token_valid(const char *s)
{
        return s && token_valid(s, strnlen(s, HPVM_STATE_TOKEN_MAX + 1));
}

/* Bytes written raw in a value: printable ASCII but the space (the field separator) and '%'. */
static bool is_raw_byte(unsigned char ch)
{
        return ch > 0x20 && ch < 0x7f && ch != '%';
}

static size_t encoded_len(const char *v, size_t len)
{
        size_t n = 0;

        for (size_t i = 0; i < len; i++)
                n += is_raw_byte((unsigned char)v[i]) ? 1 : 3;
        return n;
}

static char *encode(char *out, const char *v, size_t len)
{
        static const char hex[] = "0123456789ABCDEF";

        for (size_t i = 0; i < len; i++) {
                unsigned char ch = (unsigned char)v[i];

                if (is_raw_byte(ch)) {
                        *out++ = (char)ch;
                } else {
                        *out++ = '%';
                        *out++ = hex[ch >> 4];
                        *out++ = hex[ch & 0xf];
                }
        }
        return out;
}

static int hex_digit(char ch)
{
        if (ch >= '0' && ch <= '9')
                return ch - '0';
        if (ch >= 'A' && ch <= 'F')
                return ch - 'A' + 10;
        if (ch >= 'a' && ch <= 'f')
                return ch - 'a' + 10;
        return -1;
}

/* ---------------------------------------------------------------- records and the index */

static uint64_t hash_of(const char *type, size_t tlen, const char *id, size_t idlen)
{
        uint64_t h = UINT64_C(14695981039346656037);

        /* FNV-1a over "type\0id". */
        for (size_t i = 0; i < tlen; i++)
                h = (h ^ (unsigned char)type[i]) * UINT64_C(1099511628211);
        h = (h ^ 0) * UINT64_C(1099511628211);
        for (size_t i = 0; i < idlen; i++)
                h = (h ^ (unsigned char)id[i]) * UINT64_C(1099511628211);
        return h;
}

static bool record_is(const HpvmRecord *r, uint64_t h, const char *type, size_t tlen, const char *id,
                      size_t idlen)
{
        return r->hash == h && strlen(r->type) == tlen && !memcmp(r->type, type, tlen) && strlen(r->id) == idlen &&
               !memcmp(r->id, id, idlen);
}

/* The slot holding (type, id), or NULL. */
static HpvmRecord **slot_find(const HpvmState *s, uint64_t h, const char *type, size_t tlen, const char *id,
                              size_t idlen)
{
        size_t mask = s->nslots - 1;

        if (s->nslots == 0)
                return NULL;
        for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
                HpvmRecord *r = s->slots[i];

                if (!r)
                        return NULL;
                if (r != &tombstone && record_is(r, h, type, tlen, id, idlen))
                        return &s->slots[i];
        }
}

static void slot_insert(HpvmRecord **slots, size_t nslots, HpvmRecord *r)
{
        size_t mask = nslots - 1;
        size_t i = (size_t)r->hash & mask;

        while (slots[i] && slots[i] != &tombstone)
                i = (i + 1) & mask;
        slots[i] = r;
}

/* Room for one more record in the index: at most half full, tombstones counted. */
static int index_reserve(HpvmState *s)
{
        HpvmRecord **slots;
        size_t nslots;

        if ((s->n + s->ntombs + 1) * 2 <= s->nslots)
                return 0;
        /* Rebuilt at most a quarter full (tombstones dropped), so the next rebuild is far. */
        nslots = 64;
        while ((s->n + 1) * 4 > nslots)
                nslots *= 2;
        slots = calloc(nslots, sizeof(*slots));
        if (!slots)
                return -ENOMEM;
        for (size_t i = 0; i < s->n; i++)
                slot_insert(slots, nslots, s->recs[i]);
        free(s->slots);
        s->slots = slots;
        s->nslots = nslots;
        s->ntombs = 0;
        return 0;
}

static void record_free(HpvmRecord *r)
{
        if (!r)
                return;
        for (size_t i = 0; i < r->nfields; i++)
                free(r->fields[i].key);
        free(r->fields);
        free(r->type);
        free(r);
}

/* Append a new record (type and id already checked and not present). */
static int record_add(HpvmState *s, const char *type, size_t tlen, const char *id, size_t idlen, uint64_t h,
                      HpvmRecord **ret)
{
        HpvmRecord *r;
        int e;

        if (s->n >= HPVM_STATE_RECORDS_MAX)
                return -E2BIG;
        if (s->n == s->cap) {
                size_t cap = s->cap ? s->cap * 2 : 64;
                HpvmRecord **recs = reallocarray(s->recs, cap, sizeof(*recs));

                if (!recs)
                        return -ENOMEM;
                s->recs = recs;
                s->cap = cap;
        }
        e = index_reserve(s);
        if (e < 0)
                return e;
        r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        r->type = malloc(tlen + idlen + 2);
        if (!r->type) {
                free(r);
                return -ENOMEM;
        }
        memcpy(r->type, type, tlen);
        r->type[tlen] = '\0';
        r->id = r->type + tlen + 1;
        memcpy(r->id, id, idlen);
        r->id[idlen] = '\0';
        r->state = s;
        r->hash = h;
        r->index = s->n;
        r->line_len = tlen + 1 + idlen;
        s->recs[s->n++] = r;
        slot_insert(s->slots, s->nslots, r);
        *ret = r;
        return 0;
}

static HpvmField *field_find(const HpvmRecord *r, const char *key, size_t klen)
{
        for (size_t i = 0; i < r->nfields; i++)
                if (r->fields[i].klen == klen && !memcmp(r->fields[i].key, key, klen))
                        return &r->fields[i];
        return NULL;
}

/*
 * Set @key (@klen bytes, a token) to @vlen bytes of @value. Returns 1 if the
 * record changed, 0 if the field already held that value, or a negative errno.
 */
static int field_set(HpvmRecord *r, const char *key, size_t klen, const char *value, size_t vlen)
{
        HpvmField *f = field_find(r, key, klen);
        size_t enclen = encoded_len(value, vlen);
        size_t old = f ? 1 + f->klen + 1 + f->enclen : 0;
        char *kv;

        if (f && strlen(f->value) == vlen && !memcmp(f->value, value, vlen))
                return 0;
        if (!f && r->nfields >= HPVM_STATE_FIELDS_MAX)
                return -E2BIG;
        if (r->line_len - old + 1 + klen + 1 + enclen > HPVM_STATE_LINE_MAX)
                return -E2BIG;
        if (!f && r->nfields == r->fcap) {
                size_t cap = r->fcap ? r->fcap * 2 : 4;
                HpvmField *fields = reallocarray(r->fields, cap, sizeof(*fields));

                if (!fields)
                        return -ENOMEM;
                r->fields = fields;
                r->fcap = cap;
        }
        kv = malloc(klen + vlen + 2);
        if (!kv)
                return -ENOMEM;
        memcpy(kv, key, klen);
        kv[klen] = '\0';
        memcpy(kv + klen + 1, value, vlen);
        kv[klen + 1 + vlen] = '\0';
        if (f)
                free(f->key);
        else
                f = &r->fields[r->nfields++];
        f->key = kv;
        f->value = kv + klen + 1;
        f->klen = klen;
        f->enclen = enclen;
        r->line_len = r->line_len - old + 1 + klen + 1 + enclen;
        return 1;
}

static void field_remove(HpvmRecord *r, HpvmField *f)
{
        size_t i = (size_t)(f - r->fields);

        r->line_len -= 1 + f->klen + 1 + f->enclen;
        free(f->key);
        memmove(&r->fields[i], &r->fields[i + 1], (r->nfields - i - 1) * sizeof(*f));
        r->nfields--;
}

/* ---------------------------------------------------------------- parsing */

typedef struct Reader {
        HpvmState *s;
        size_t line;
        HpvmError *err;
        const char *hint;
} Reader;

static int damaged(Reader *rd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "<path>: line N: <what>: the state file is damaged[; <hint>]", -EBADMSG. */
static int damaged(Reader *rd, const char *fmt, ...)
{
        char what[HPVM_ERR_MAX];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(what, sizeof(what), fmt, ap);
        va_end(ap);
        hpvm_error_set(rd->err, -EBADMSG, "%s: line %zu: %s: the state file is damaged", rd->s->path, rd->line, what);
        if (rd->hint)
                hpvm_error_append(rd->err, "; %s", rd->hint);
        return -EBADMSG;
}

/* Decode one key=value field into @r. */
static int parse_field(Reader *rd, HpvmRecord *r, const char *f, size_t flen, char *scratch)
{
        char q[HPVM_QUOTE_MAX], qk[HPVM_QUOTE_MAX];
        const char *eq = memchr(f, '=', flen);
        size_t klen, vlen = 0;
        int e;

        if (!eq)
                return damaged(rd, "'%s' is not key=value", hpvm_quote(f, flen, q, sizeof(q)));
        klen = (size_t)(eq - f);
        if (!token_valid(f, klen))
                return damaged(rd, "'%s' is not a key", hpvm_quote(f, klen, q, sizeof(q)));
        if (field_find(r, f, klen))
                return damaged(rd, "key '%s' is repeated", hpvm_quote(f, klen, q, sizeof(q)));
        if (r->nfields >= HPVM_STATE_FIELDS_MAX)
                return damaged(rd, "more than %u fields", HPVM_STATE_FIELDS_MAX);

        for (const char *p = eq + 1; p < f + flen; p++) {
                unsigned char ch = (unsigned char)*p;

                if (ch == '%') {
                        size_t left = (size_t)(f + flen - p);
                        int hi = left >= 3 ? hex_digit(p[1]) : -1;
                        int lo = left >= 3 ? hex_digit(p[2]) : -1;

                        if (hi < 0 || lo < 0)
                                return damaged(rd, "'%s': '%s' is not a %%XX escape", hpvm_quote(f, flen, q, sizeof(q)),
                                               hpvm_quote(p, left < 3 ? left : 3, qk, sizeof(qk)));
                        if (hi == 0 && lo == 0)
                                return damaged(rd, "'%s': '%%00' is a NUL byte", hpvm_quote(f, flen, q, sizeof(q)));
                        scratch[vlen++] = (char)(hi << 4 | lo);
                        p += 2;
                } else if (is_raw_byte(ch)) {
                        scratch[vlen++] = (char)ch;
                } else {
                        return damaged(rd, "'%s': byte 0x%02x is not escaped", hpvm_quote(f, flen, q, sizeof(q)), ch);
                }
        }
        e = field_set(r, f, klen, scratch, vlen);
        if (e == -E2BIG)
                return damaged(rd, "the record is too large");
        return e < 0 ? e : 0;
}

static int parse_record(Reader *rd, const char *line, size_t len, char *scratch)
{
        char q[HPVM_QUOTE_MAX], q2[HPVM_QUOTE_MAX];
        const char *p = line, *end = line + len;
        const char *tok[2];
        size_t toklen[2];
        HpvmRecord **slot, *r;
        uint64_t h;
        int e;

        if (len == 0)
                return damaged(rd, "empty line");
        for (int i = 0; i < 2; i++) {
                const char *sp = memchr(p, ' ', (size_t)(end - p));

                tok[i] = p;
                toklen[i] = (size_t)((sp ? sp : end) - p);
                if (i == 0 && !sp)
                        return damaged(rd, "'%s' has no id", hpvm_quote(line, len, q, sizeof(q)));
                p = sp ? sp + 1 : end;
        }
        if (!token_valid(tok[0], toklen[0]))
                return damaged(rd, "'%s' is not a record type", hpvm_quote(tok[0], toklen[0], q, sizeof(q)));
        if (!token_valid(tok[1], toklen[1]))
                return damaged(rd, "'%s' is not a record id", hpvm_quote(tok[1], toklen[1], q, sizeof(q)));
        h = hash_of(tok[0], toklen[0], tok[1], toklen[1]);
        slot = slot_find(rd->s, h, tok[0], toklen[0], tok[1], toklen[1]);
        if (slot)
                return damaged(rd, "record '%s %s' is repeated (first on line %zu)",
                               hpvm_quote(tok[0], toklen[0], q, sizeof(q)),
                               hpvm_quote(tok[1], toklen[1], q2, sizeof(q2)),
                               (*slot)->line);
        e = record_add(rd->s, tok[0], toklen[0], tok[1], toklen[1], h, &r);
        if (e == -E2BIG)
                return damaged(rd, "more than %u records", HPVM_STATE_RECORDS_MAX);
        if (e < 0)
                return e;
        r->line = rd->line;

        /* After the id: fields, each after exactly one space. */
        if (tok[1] + toklen[1] < end) {
                for (;;) {
                        const char *sp = memchr(p, ' ', (size_t)(end - p));
                        size_t flen = (size_t)((sp ? sp : end) - p);

                        if (flen == 0)
                                return damaged(rd, "empty field (two spaces in a row, or a space at the end)");
                        e = parse_field(rd, r, p, flen, scratch);
                        if (e < 0)
                                return e;
                        if (!sp)
                                break;
                        p = sp + 1;
                }
        }
        return 0;
}

static int parse_data(HpvmState *s, const char *buf, size_t len, const char *hint, HpvmError *err)
{
        char q[HPVM_QUOTE_MAX], header[16 + HPVM_STATE_TOKEN_MAX];
        Reader rd = { .s = s, .err = err, .hint = hint };
        _cleanup_free_ char *scratch = NULL;
        const char *p = buf, *end = buf + len;
        int e;

        snprintf(header, sizeof(header), HEADER_MAGIC " " FORMAT_VERSION " %s", s->name);
        if (len == 0) {
                rd.line = 1;
                return damaged(&rd, "empty file (expected the header '%s')", header);
        }
        scratch = malloc(HPVM_STATE_LINE_MAX + 1);
        if (!scratch)
                return hpvm_error_set(err, -ENOMEM, "out of memory reading %s", s->path);

        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                size_t llen = (size_t)((nl ? nl : end) - p);

                rd.line++;
                if (llen > HPVM_STATE_LINE_MAX)
                        return damaged(&rd, "longer than %u bytes", HPVM_STATE_LINE_MAX);
                if (!nl)
                        return damaged(&rd, "'%s' is cut short (no line end)", hpvm_quote(p, llen, q, sizeof(q)));
                if (rd.line == 1) {
                        if (llen != strlen(header) || memcmp(p, header, llen))
                                return damaged(&rd, "'%s' is not the header (expected '%s')",
                                               hpvm_quote(p, llen, q, sizeof(q)), header);
                } else {
                        e = parse_record(&rd, p, llen, scratch);
                        if (e < 0)
                                return e == -ENOMEM ? hpvm_error_set(err, e, "out of memory reading %s", s->path) : e;
                }
                p = nl + 1;
        }
        return 0;
}

/* ---------------------------------------------------------------- files */

static bool running_as_root(void)
{
        return geteuid() == 0;
}

/* The owner a new file or folder gets: the ids, else the names looked up now (only creations ask). */
static void new_owner(long uid, long gid, const char *user, const char *group, long *ret_uid, long *ret_gid)
{
        *ret_uid = uid >= 0 ? uid : user ? hpvm_user_id(user) : -1;
        *ret_gid = gid >= 0 ? gid : group ? hpvm_group_id(group) : -1;
}

/* Give a file or folder we just created its owner (as root) and its exact mode (whatever the umask). */
static int settle_new(int fd, const HpvmStateOpts *o, mode_t mode)
{
        long uid = -1, gid = -1;

        if (running_as_root())
                new_owner(o->uid, o->gid, o->user, o->group, &uid, &gid);
        if ((uid >= 0 || gid >= 0) && fchown(fd, uid >= 0 ? (uid_t)uid : (uid_t)-1, gid >= 0 ? (gid_t)gid : (gid_t)-1) < 0)
                return -errno;
        if (fchmod(fd, mode) < 0)
                return -errno;
        return 0;
}

static int ensure_dir(const HpvmStateOpts *o, HpvmError *err)
{
        struct stat st;
        int fd, e;

        /* Two rounds: another process may create it between our look and our mkdir(). */
        for (int round = 0;; round++) {
                if (lstat(o->dir, &st) == 0) {
                        if (S_ISLNK(st.st_mode))
                                return hpvm_error_set(err, -ELOOP, "%s is a symlink (expected a folder)", o->dir);
                        if (!S_ISDIR(st.st_mode))
                                return hpvm_error_set(err, -ENOTDIR, "%s is not a folder", o->dir);
                        return 0;
                }
                if (errno != ENOENT)
                        return hpvm_error_set(err, -errno, "cannot look at %s: %s", o->dir, strerror(errno));
                if (mkdir(o->dir, HPVM_STATE_DIR_MODE) == 0)
                        break;
                if (errno != EEXIST || round > 0)
                        return hpvm_error_set(err, -errno, "cannot create the folder %s: %s", o->dir,
                                              strerror(errno));
        }
        fd = open(o->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return hpvm_error_set(err, -errno, "cannot open the folder %s: %s", o->dir, strerror(errno));
        e = settle_new(fd, o, HPVM_STATE_DIR_MODE);
        close(fd);
        if (e < 0)
                return hpvm_error_set(err, e, "cannot set the owner and mode of %s: %s", o->dir, strerror(-e));
        return 0;
}

/* Refuse what must not be opened at all: a symlink, a FIFO (would block), a device (may act on open). */
static int check_regular(const char *path, bool *ret_exists, HpvmError *err)
{
        struct stat st;

        if (lstat(path, &st) < 0) {
                if (errno == ENOENT) {
                        *ret_exists = false;
                        return 0;
                }
                return hpvm_error_set(err, -errno, "cannot look at %s: %s", path, strerror(errno));
        }
        if (S_ISLNK(st.st_mode))
                return hpvm_error_set(err, -ELOOP, "%s is a symlink (expected a regular file)", path);
        if (!S_ISREG(st.st_mode))
                return hpvm_error_set(err, -EINVAL, "%s is not a regular file", path);
        *ret_exists = true;
        return 0;
}

static int open_lock_file(HpvmState *s, const HpvmStateOpts *o, HpvmError *err)
{
        struct stat st;
        bool exists = false;
        int fd, e;

        e = check_regular(s->lock_path, &exists, err);
        if (e < 0)
                return e;
        /* flock() needs no write access: a read-only open works for every user the file lets read. */
        fd = exists ? -1 : open(s->lock_path, O_RDONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY,
                                HPVM_STATE_FILE_MODE);
        if (fd >= 0) {
                e = settle_new(fd, o, HPVM_STATE_FILE_MODE);
                if (e < 0) {
                        close(fd);
                        return hpvm_error_set(err, e, "cannot set the owner and mode of %s: %s", s->lock_path,
                                              strerror(-e));
                }
        } else {
                if (!exists && errno != EEXIST)
                        return hpvm_error_set(err, -errno, "cannot create %s: %s", s->lock_path, strerror(errno));
                fd = open(s->lock_path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
                if (fd < 0) {
                        if (errno == ELOOP)
                                return hpvm_error_set(err, -ELOOP, "%s is a symlink (expected a regular file)",
                                                      s->lock_path);
                        return hpvm_error_set(err, -errno, "cannot open %s: %s", s->lock_path, strerror(errno));
                }
        }
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                close(fd);
                return hpvm_error_set(err, -EINVAL, "%s is not a regular file", s->lock_path);
        }
        s->lock_fd = fd;
        return 0;
}

static uint64_t now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_us(unsigned us)
{
        struct timespec ts = { .tv_sec = us / 1000000, .tv_nsec = (long)(us % 1000000) * 1000 };

        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

/* Parse "<hex>:<hex>:<decimal>" (a /proc/locks device and inode) with the project's number parser. */
static bool parse_dev_ino(const char *s, size_t len, unsigned *maj, unsigned *min, uint64_t *ino)
{
        const char *c1 = memchr(s, ':', len), *c2;
        unsigned v[2] = { 0, 0 };
        const char *part[2];
        size_t plen[2];

        if (!c1)
                return false;
        c2 = memchr(c1 + 1, ':', len - (size_t)(c1 + 1 - s));
        if (!c2)
                return false;
        part[0] = s;
        plen[0] = (size_t)(c1 - s);
        part[1] = c1 + 1;
        plen[1] = (size_t)(c2 - c1 - 1);
        for (int i = 0; i < 2; i++) {
                if (plen[i] == 0 || plen[i] > 8)
                        return false;
                for (size_t j = 0; j < plen[i]; j++) {
                        int d = hex_digit(part[i][j]);

                        if (d < 0)
                                return false;
                        v[i] = v[i] << 4 | (unsigned)d;
                }
        }
        *maj = v[0];
        *min = v[1];
        return hpvm_parse_u64(c2 + 1, len - (size_t)(c2 + 1 - s), UINT64_MAX, ino) == 0;
}

/*
 * Who holds the flock() on @fd's file, from /proc/locks ("N: FLOCK ADVISORY
 * WRITE <pid> <maj>:<min>:<ino> 0 EOF"): a pid, or 0 when it does not tell.
 */
static long lock_holder(int fd)
{
        _cleanup_free_ char *buf = NULL;
        struct stat st;
        size_t len = 0;
        HpvmError ignored;

        if (fstat(fd, &st) < 0)
                return 0;
        /* /proc/locks says size 0: hpvm_file_read reads it anyway, up to the cap. */
        if (hpvm_file_read(LOCKS_FILE, LOCKS_READ_MAX, &buf, &len, &ignored) < 0)
                return 0;
        for (char *line = buf, *nl; line < buf + len; line = nl + 1) {
                const char *tok[8];
                size_t toklen[8], n = 0;
                unsigned maj, min;
                uint64_t ino, pid;

                nl = memchr(line, '\n', (size_t)(buf + len - line));
                if (!nl)
                        nl = buf + len;
                for (char *p = line; p < nl && n < HPVM_ARRAY_SIZE(tok);) {
                        char *start;

                        while (p < nl && *p == ' ')
                                p++;
                        if (p == nl)
                                break;
                        start = p;
                        while (p < nl && *p != ' ')
                                p++;
                        tok[n] = start;
                        toklen[n++] = (size_t)(p - start);
                }
                /* Waiting requests are "N: -> FLOCK ...": the holder's line has FLOCK second. */
                if (n < 6 || toklen[1] != 5 || memcmp(tok[1], "FLOCK", 5))
                        continue;
                if (!parse_dev_ino(tok[5], toklen[5], &maj, &min, &ino))
                        continue;
                if (maj != major(st.st_dev) || min != minor(st.st_dev) || ino != (uint64_t)st.st_ino)
                        continue;
                if (hpvm_parse_u64(tok[4], toklen[4], INT32_MAX, &pid) == 0 && pid > 0)
                        return (long)pid;
        }
        return 0;
}

/* The command name of @pid (/proc/<pid>/comm), or "?" when it cannot be read. */
static void process_name(long pid, char *buf, size_t size)
{
        _cleanup_free_ char *text = NULL;
        char path[64];
        size_t len = 0;
        HpvmError ignored;

        snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
        snprintf(buf, size, "?");
        if (hpvm_file_read(path, 64, &text, &len, &ignored) < 0)
                return;
        while (len > 0 && text[len - 1] == '\n')
                len--;
        if (len > 0 && len < size) {
                memcpy(buf, text, len);
                buf[len] = '\0';
        }
}

static int take_lock(HpvmState *s, unsigned wait_ms, HpvmError *err)
{
        uint64_t deadline = now_ms() + wait_ms;
        unsigned delay = POLL_FIRST_US;
        /* Spread the sleepers of a crowd of hooks so they do not all wake at once. */
        unsigned jitter = (unsigned)getpid() * 2654435761u;
        long pid;

        for (;;) {
                uint64_t now;

                if (flock(s->lock_fd, LOCK_EX | LOCK_NB) == 0)
                        return 0;
                if (errno == EINTR)
                        continue;
                if (errno != EWOULDBLOCK)
                        return hpvm_error_set(err, -errno, "cannot lock %s: %s", s->lock_path, strerror(errno));
                now = now_ms();
                if (now >= deadline)
                        break;
                jitter = jitter * 1103515245u + 12345u;
                if ((uint64_t)delay / 1000 > deadline - now)
                        delay = (unsigned)(deadline - now) * 1000;
                sleep_us(delay / 2 + (jitter >> 8) % (delay / 2 + 1));
                if (delay < POLL_MAX_US)
                        delay *= 2;
        }

        pid = lock_holder(s->lock_fd);
        if (pid > 0) {
                char comm[64], q[HPVM_QUOTE_MAX];

                process_name(pid, comm, sizeof(comm));
                return hpvm_error_set(err, -ETIMEDOUT,
                                      "%s: still locked by process %ld (%s) after %u ms (expected it to be released "
                                      "sooner: is that process stuck?)",
                                      s->lock_path, pid, hpvm_quote(comm, strlen(comm), q, sizeof(q)), wait_ms);
        }
        return hpvm_error_set(err, -ETIMEDOUT,
                              "%s: still locked by another process after %u ms (expected it to be released "
                              "sooner: is that process stuck?)",
                              s->lock_path, wait_ms);
}

/* Remove .<name>.hpvm-XXXXXX files: with the lock held, no live writer owns one. */
static void remove_stale_temps(const HpvmState *s)
{
        size_t nlen = strlen(s->name);
        DIR *d = opendir(s->dir);
        struct dirent *e;

        if (!d)
                return;
        while ((e = readdir(d))) {
                const char *n = e->d_name;
                struct stat st;

                if (n[0] != '.' || strncmp(n + 1, s->name, nlen) ||
                    strncmp(n + 1 + nlen, TEMP_INFIX, strlen(TEMP_INFIX)) ||
                    strlen(n + 1 + nlen + strlen(TEMP_INFIX)) != TEMP_SUFFIX_LEN)
                        continue;
                if (fstatat(dirfd(d), n, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
                        unlinkat(dirfd(d), n, 0);
        }
        closedir(d);
}

/* Read the data file: *ret_buf NULL when it does not exist. */
static int read_data(HpvmState *s, char **ret_buf, size_t *ret_len, HpvmError *err)
{
        struct stat st;
        bool exists = false;
        size_t got = 0;
        char *buf;
        int fd, e;

        e = check_regular(s->path, &exists, err);
        if (e < 0)
                return e;
        if (!exists) {
                *ret_buf = NULL;
                *ret_len = 0;
                return 0;
        }
        s->data_exists = true;
        fd = open(s->path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                if (errno == ENOENT) {
                        *ret_buf = NULL;
                        *ret_len = 0;
                        return 0;
                }
                if (errno == ELOOP)
                        return hpvm_error_set(err, -ELOOP, "%s is a symlink (expected a regular file)", s->path);
                return hpvm_error_set(err, -errno, "cannot open %s: %s", s->path, strerror(errno));
        }
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                close(fd);
                return hpvm_error_set(err, -EINVAL, "%s is not a regular file", s->path);
        }
        if ((uint64_t)st.st_size > HPVM_STATE_FILE_MAX) {
                close(fd);
                return hpvm_error_set(err, -EFBIG, "%s is %jd bytes (at most %u): the state file is damaged", s->path,
                                      (intmax_t)st.st_size, HPVM_STATE_FILE_MAX);
        }
        buf = malloc((size_t)st.st_size + 2);
        if (!buf) {
                close(fd);
                return hpvm_error_set(err, -ENOMEM, "out of memory reading %s", s->path);
        }
        /* Read one byte past the size seen, so a file that grew is noticed instead of cut. */
        while (got < (size_t)st.st_size + 1) {
                ssize_t n = read(fd, buf + got, (size_t)st.st_size + 1 - got);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        e = -errno;
                        close(fd);
                        free(buf);
                        return hpvm_error_set(err, e, "cannot read %s: %s", s->path, strerror(-e));
                }
                if (n == 0)
                        break;
                got += (size_t)n;
        }
        close(fd);
        if (got != (size_t)st.st_size) {
                free(buf);
                return hpvm_error_set(err, -EIO, "%s changed size while read (%zu bytes, then %jd)", s->path, got,
                                      (intmax_t)st.st_size);
        }
        buf[got] = '\0';
        *ret_buf = buf;
        *ret_len = got;
        return 0;
}

/* ---------------------------------------------------------------- open, commit, close */

/* "<dir>/<name><suffix>", or NULL. */
static char *join(const char *dir, const char *name, const char *suffix)
{
        size_t size = strlen(dir) + 1 + strlen(name) + strlen(suffix) + 1;
        char *p = malloc(size);

        if (p)
                snprintf(p, size, "%s/%s%s", dir, name, suffix);
        return p;
}

static bool name_valid(const char *name)
{
        return hpvm_state_token_valid(name) && name[0] != '.';
}

static void drop_records(HpvmState *s)
{
        for (size_t i = 0; i < s->n; i++)
                record_free(s->recs[i]);
        s->n = 0;
        if (s->slots)
                memset(s->slots, 0, s->nslots * sizeof(*s->slots));
        s->ntombs = 0;
}

void hpvm_state_close(HpvmState *s)
{
        if (!s)
                return;
        drop_records(s);
        free(s->recs);
        free(s->slots);
        /* Closing the only descriptor of the open file releases the flock(). */
        if (s->lock_fd >= 0)
                close(s->lock_fd);
        free(s->dir);
        free(s->name);
        free(s->path);
        free(s->lock_path);
        free(s->user);
        free(s->group);
        free(s->damage);
        free(s);
}

int hpvm_state_open(const HpvmStateOpts *o, const char *name, HpvmState **ret, HpvmError *err)
{
        HpvmState *s;
        _cleanup_free_ char *buf = NULL;
        char q[HPVM_QUOTE_MAX];
        size_t len = 0;
        int e;

        if (!o || !o->dir || !o->dir[0])
                return hpvm_error_set(err, -EINVAL, "no state folder given");
        if (!name || !name_valid(name))
                return hpvm_error_set(err, -EINVAL, "'%s' is not a state name (expected 1-%u of A-Z a-z 0-9 _ . : -, "
                                      "not starting with '.')",
                                      name ? hpvm_quote(name, strlen(name), q, sizeof(q)) : "", HPVM_STATE_TOKEN_MAX);
        if (strlen(o->dir) + 1 + strlen(name) + strlen(TEMP_INFIX) + 16 >= PATH_MAX)
                return hpvm_error_set(err, -EINVAL, "%s: the folder name is too long", o->dir);

        s = calloc(1, sizeof(*s));
        if (!s)
                return hpvm_error_set(err, -ENOMEM, "out of memory");
        s->lock_fd = -1;
        s->dir = strdup(o->dir);
        s->name = strdup(name);
        s->path = join(o->dir, name, "");
        s->lock_path = join(o->dir, name, ".lock");
        if (!s->dir || !s->name || !s->path || !s->lock_path) {
                e = hpvm_error_set(err, -ENOMEM, "out of memory");
                goto fail;
        }
        s->attrs.mode = HPVM_STATE_FILE_MODE;
        s->attrs.uid = running_as_root() ? o->uid : -1;
        s->attrs.gid = running_as_root() ? o->gid : -1;
        if (running_as_root() && ((o->user && !(s->user = strdup(o->user))) || (o->group && !(s->group = strdup(o->group))))) {
                e = hpvm_error_set(err, -ENOMEM, "out of memory");
                goto fail;
        }

        e = ensure_dir(o, err);
        if (e < 0)
                goto fail;
        e = open_lock_file(s, o, err);
        if (e < 0)
                goto fail;
        e = take_lock(s, o->wait_ms ? o->wait_ms : HPVM_STATE_WAIT_DEFAULT_MS, err);
        if (e < 0)
                goto fail;
        remove_stale_temps(s);

        e = read_data(s, &buf, &len, err);
        if (e == -EFBIG && o->repair_hint)
                hpvm_error_append(err, "; %s", o->repair_hint);
        if (e == 0 && buf)
                e = parse_data(s, buf, len, o->repair_hint, err);
        if ((e == -EBADMSG || e == -EFBIG) && o->reset_damaged) {
                s->damage = strdup(err ? err->msg : "damaged");
                if (!s->damage) {
                        e = hpvm_error_set(err, -ENOMEM, "out of memory");
                        goto fail;
                }
                drop_records(s);
                s->changed = true;
                e = 0;
        }
        if (e < 0)
                goto fail;

        *ret = s;
        return 0;

fail:
        hpvm_state_close(s);
        return e;
}

int hpvm_state_open_reset(const HpvmStateOpts *o, const char *name, HpvmState **ret, HpvmError *err)
{
        HpvmStateOpts copy;

        if (!o)
                return hpvm_error_set(err, -EINVAL, "no state folder given");
        copy = *o;
        copy.reset_damaged = true;
        return hpvm_state_open(&copy, name, ret, err);
}

int hpvm_state_commit(HpvmState *s, HpvmError *err)
{
        _cleanup_free_ char *buf = NULL;
        size_t total, hlen;
        char *p;
        int e;

        if (!s)
                return hpvm_error_set(err, -EINVAL, "no state");
        if (!s->changed)
                return 0;

        hlen = strlen(HEADER_MAGIC " " FORMAT_VERSION " ") + strlen(s->name) + 1;
        total = hlen;
        for (size_t i = 0; i < s->n; i++)
                total += s->recs[i]->line_len + 1;
        if (total > HPVM_STATE_FILE_MAX)
                return hpvm_error_set(err, -EFBIG, "%s would be %zu bytes (at most %u): not written", s->path, total,
                                      HPVM_STATE_FILE_MAX);
        buf = malloc(total + 1);
        if (!buf)
                return hpvm_error_set(err, -ENOMEM, "out of memory writing %s", s->path);

        p = buf + snprintf(buf, total + 1, HEADER_MAGIC " " FORMAT_VERSION " %s\n", s->name);
        for (size_t i = 0; i < s->n; i++) {
                const HpvmRecord *r = s->recs[i];
                size_t tlen = strlen(r->type), idlen = strlen(r->id);

                memcpy(p, r->type, tlen);
                p += tlen;
                *p++ = ' ';
                memcpy(p, r->id, idlen);
                p += idlen;
                for (size_t j = 0; j < r->nfields; j++) {
                        const HpvmField *f = &r->fields[j];

                        *p++ = ' ';
                        memcpy(p, f->key, f->klen);
                        p += f->klen;
                        *p++ = '=';
                        p = encode(p, f->value, strlen(f->value));
                }
                *p++ = '\n';
        }

        /* An existing file keeps its owner: the names are looked up only for a first one. */
        if (!s->data_exists && (s->user || s->group))
                new_owner(s->attrs.uid, s->attrs.gid, s->user, s->group, &s->attrs.uid, &s->attrs.gid);
        e = hpvm_file_replace_ex(s->path, buf, (size_t)(p - buf), true, &s->attrs, err);
        if (e < 0)
                return e;
        s->data_exists = true;
        s->changed = false;
        return 0;
}

/* ---------------------------------------------------------------- accessors */

const char *hpvm_state_path(const HpvmState *s)
{
        return s ? s->path : NULL;
}

bool hpvm_state_changed(const HpvmState *s)
{
        return s && s->changed;
}

const char *hpvm_state_damage(const HpvmState *s)
{
        return s ? s->damage : NULL;
}

size_t hpvm_state_count(const HpvmState *s)
{
        return s ? s->n : 0;
}

HpvmRecord *hpvm_state_at(const HpvmState *s, size_t i)
{
        return s && i < s->n ? s->recs[i] : NULL;
}

HpvmRecord *hpvm_state_find(const HpvmState *s, const char *type, const char *id)
{
        HpvmRecord **slot;
        size_t tlen, idlen;

        if (!s || !type || !id)
                return NULL;
        tlen = strlen(type);
        idlen = strlen(id);
        slot = slot_find(s, hash_of(type, tlen, id, idlen), type, tlen, id, idlen);
        return slot ? *slot : NULL;
}

int hpvm_state_put(HpvmState *s, const char *type, const char *id, HpvmRecord **ret)
{
        HpvmRecord *r = hpvm_state_find(s, type, id);
        size_t tlen, idlen;
        int e;

        if (!s || !hpvm_state_token_valid(type) || !hpvm_state_token_valid(id))
                return -EINVAL;
        if (r) {
                if (ret)
                        *ret = r;
                return 0;
        }
        tlen = strlen(type);
        idlen = strlen(id);
        e = record_add(s, type, tlen, id, idlen, hash_of(type, tlen, id, idlen), &r);
        if (e < 0)
                return e;
        s->changed = true;
        if (ret)
                *ret = r;
        return 1;
}

int hpvm_state_remove(HpvmState *s, const char *type, const char *id)
{
        HpvmRecord **slot, *r;
        size_t tlen, idlen;

        if (!s || !type || !id)
                return -ENOENT;
        tlen = strlen(type);
        idlen = strlen(id);
        slot = slot_find(s, hash_of(type, tlen, id, idlen), type, tlen, id, idlen);
        if (!slot)
                return -ENOENT;
        r = *slot;
        *slot = &tombstone;
        s->ntombs++;
        memmove(&s->recs[r->index], &s->recs[r->index + 1], (s->n - r->index - 1) * sizeof(*s->recs));
        s->n--;
        for (size_t i = r->index; i < s->n; i++)
                s->recs[i]->index = i;
        record_free(r);
        s->changed = true;
        return 0;
}

void hpvm_state_clear(HpvmState *s)
{
        if (!s || s->n == 0)
                return;
        drop_records(s);
        s->changed = true;
}

const char *hpvm_record_type(const HpvmRecord *r)
{
        return r ? r->type : NULL;
}

const char *hpvm_record_id(const HpvmRecord *r)
{
        return r ? r->id : NULL;
}

size_t hpvm_record_nfields(const HpvmRecord *r)
{
        return r ? r->nfields : 0;
}

bool hpvm_record_field_at(const HpvmRecord *r, size_t i, const char **ret_key, const char **ret_value)
{
        if (!r || i >= r->nfields)
                return false;
        if (ret_key)
                *ret_key = r->fields[i].key;
        if (ret_value)
                *ret_value = r->fields[i].value;
        return true;
}

const char *hpvm_record_get(const HpvmRecord *r, const char *key)
{
        const HpvmField *f;

        if (!r || !key)
                return NULL;
        f = field_find(r, key, strlen(key));
        return f ? f->value : NULL;
}

int hpvm_record_set(HpvmRecord *r, const char *key, const char *value)
{
        HpvmField *f;
        int e;

        if (!r || !hpvm_state_token_valid(key))
                return -EINVAL;
        if (!value) {
                f = field_find(r, key, strlen(key));
                if (f) {
                        field_remove(r, f);
                        r->state->changed = true;
                }
                return 0;
        }
        e = field_set(r, key, strlen(key), value, strlen(value));
        if (e < 0)
                return e;
        if (e > 0)
                r->state->changed = true;
        return 0;
}

/* ---------------------------------------------------------------- typed fields */

static int field_error(const HpvmRecord *r, const char *key, HpvmError *err)
{
        return hpvm_error_prefix(err, "%s: record '%s %s': %s: ", r->state->path, r->type, r->id, key);
}

static int get_present(const HpvmRecord *r, const char *key, const char **ret, HpvmError *err)
{
        const char *v = hpvm_record_get(r, key);

        if (!r || !key)
                return hpvm_error_set(err, -EINVAL, "no record or key");
        if (!v)
                return hpvm_error_set(err, -ENOENT, "%s: record '%s %s' has no %s", r->state->path, r->type, r->id,
                                      key);
        *ret = v;
        return 0;
}

int hpvm_record_get_u64(const HpvmRecord *r, const char *key, uint64_t max, uint64_t *ret, HpvmError *err)
{
        char q[HPVM_QUOTE_MAX];
        const char *v;
        int e;

        e = get_present(r, key, &v, err);
        if (e < 0)
                return e;
        e = hpvm_parse_u64(v, strlen(v), max, ret);
        if (e == -EINVAL)
                hpvm_error_set(err, e, "'%s' is not a number", hpvm_quote(v, strlen(v), q, sizeof(q)));
        else if (e < 0)
                hpvm_error_set(err, e, "'%s' is out of range (at most %" PRIu64 ")",
                               hpvm_quote(v, strlen(v), q, sizeof(q)), max);
        return e < 0 ? field_error(r, key, err) : 0;
}

int hpvm_record_set_u64(HpvmRecord *r, const char *key, uint64_t value)
{
        char buf[24];

        snprintf(buf, sizeof(buf), "%" PRIu64, value);
        return hpvm_record_set(r, key, buf);
}

int hpvm_record_get_cpuset(const HpvmRecord *r, const char *key, HpvmCpuSet *ret, HpvmError *err)
{
        HpvmCpuSet set;
        const char *v;
        int e;

        e = get_present(r, key, &v, err);
        if (e < 0)
                return e;
        if (!v[0]) {
                hpvm_cpuset_zero(ret);
                return 0;
        }
        e = hpvm_cpuset_parse(v, strlen(v), HPVM_CPUSET_MAX, "CPU", &set, err);
        if (e < 0)
                return field_error(r, key, err);
        *ret = set;
        return 0;
}

int hpvm_record_set_cpuset(HpvmRecord *r, const char *key, const HpvmCpuSet *set)
{
        _cleanup_free_ char *buf = malloc(HPVM_CPUSET_STRMAX);

        if (!buf)
                return -ENOMEM;
        if (!set || hpvm_cpuset_format(set, buf, HPVM_CPUSET_STRMAX) < 0)
                return -EINVAL;
        return hpvm_record_set(r, key, buf);
}

int hpvm_record_get_time(const HpvmRecord *r, const char *key, time_t *ret, HpvmError *err)
{
        uint64_t v;
        int e;

        e = hpvm_record_get_u64(r, key, INT64_MAX, &v, err);
        if (e < 0)
                return e;
        *ret = (time_t)v;
        return 0;
}

int hpvm_record_set_time(HpvmRecord *r, const char *key, time_t t)
{
        if (t < 0)
                return -ERANGE;
        return hpvm_record_set_u64(r, key, (uint64_t)t);
}
