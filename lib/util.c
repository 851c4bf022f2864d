/* util.c: error buffers, warnings, checked numbers and message quoting shared by every module. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"

/* A message is printed as one line on stderr: no byte may break it. */
static void sanitize(char *s)
{
        for (; *s; s++)
                if ((unsigned char)*s < 0x20 || *s == 0x7f)
                        *s = ' ';
}

int hpvm_error_set(HpvmError *err, int code, const char *fmt, ...)
{
        va_list ap;

        if (!err)
                return code;

        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
        sanitize(err->msg);
        err->code = code;
        return code;
}

int hpvm_error_prefix(HpvmError *err, const char *fmt, ...)
{
        char prefix[HPVM_ERR_MAX];
        char old[HPVM_ERR_MAX];
        size_t plen, olen;
        va_list ap;

        /* Never turn a failure path into a success just because nobody listens. */
        if (!err)
                return -EINVAL;

        va_start(ap, fmt);
        vsnprintf(prefix, sizeof(prefix), fmt, ap);
        va_end(ap);

        memcpy(old, err->msg, sizeof(old));
        old[sizeof(old) - 1] = '\0';

        /* Prefix first; the old text fills what is left, cut at the buffer end. */
        plen = strlen(prefix);
        olen = strlen(old);
        if (olen > sizeof(err->msg) - 1 - plen)
                olen = sizeof(err->msg) - 1 - plen;
        memcpy(err->msg, prefix, plen);
        memcpy(err->msg + plen, old, olen);
        err->msg[plen + olen] = '\0';
        sanitize(err->msg);
        return err->code;
}

void hpvm_error_append(HpvmError *err, const char *fmt, ...)
{
        va_list ap;
        size_t len;

        if (!err)
                return;

        len = strnlen(err->msg, sizeof(err->msg) - 1);
        err->msg[len] = '\0';
        if (len + 1 >= sizeof(err->msg))
                return;

        va_start(ap, fmt);
        vsnprintf(err->msg + len, sizeof(err->msg) - len, fmt, ap);
        va_end(ap);
        sanitize(err->msg + len);
}

void hpvm_warn(HpvmWarnings *w, const char *fmt, ...)
{
        va_list ap;

        if (!w)
                return;

        if (w->n >= HPVM_WARN_MAX) {
                /* Keep the count bounded, but do not let the loss go unnoticed. */
                snprintf(w->msg[HPVM_WARN_MAX - 1], sizeof(w->msg[0]),
                         "more than %d warnings: the rest were dropped", HPVM_WARN_MAX - 1);
                w->n = HPVM_WARN_MAX;
                return;
        }

        va_start(ap, fmt);
        vsnprintf(w->msg[w->n], sizeof(w->msg[0]), fmt, ap);
        va_end(ap);
        sanitize(w->msg[w->n]);
        w->n++;
}

static size_t quoted_width(unsigned char c)
{
        return (c >= 0x20 && c < 0x7f) ? 1 : 4;
}

static char *quote_byte(char *p, unsigned char c)
{
        static const char hex[] = "0123456789abcdef";

        if (quoted_width(c) == 1) {
                *p++ = (char)c;
                return p;
        }
        *p++ = '\\';
        *p++ = 'x';
        *p++ = hex[c >> 4];
        *p++ = hex[c & 0xf];
        return p;
}

const char *hpvm_quote(const char *s, size_t len, char *buf, size_t size)
{
        size_t need = 0, budget, i;
        char *p = buf;

        if (!buf || size == 0)
                return buf;
        if (!s)
                len = 0;

        /* Does the whole text fit? Stop counting as soon as it cannot (values may be huge). */
        for (i = 0; i < len && need < size; i++)
                need += quoted_width((unsigned char)s[i]);

        if (i == len && need < size) {
                for (i = 0; i < len; i++)
                        p = quote_byte(p, (unsigned char)s[i]);
                *p = '\0';
                return buf;
        }

        if (size < 4) {
                memset(buf, '.', size - 1);
                buf[size - 1] = '\0';
                return buf;
        }

        /* Keep whole characters (never half an escape), then the ellipsis. */
        budget = size - 4;
        for (i = 0; i < len; i++) {
                size_t wdt = quoted_width((unsigned char)s[i]);

                if (wdt > budget)
                        break;
                p = quote_byte(p, (unsigned char)s[i]);
                budget -= wdt;
        }
        memcpy(p, "...", 4);
        return buf;
}

int hpvm_parse_u64(const char *s, size_t len, uint64_t max, uint64_t *ret)
{
        uint64_t v = 0;
        size_t i;

        if (!s || len == 0)
                return -EINVAL;

        /* Syntax first, so "99999999999999999999x" is junk rather than too big. */
        for (i = 0; i < len; i++)
                if (s[i] < '0' || s[i] > '9')
                        return -EINVAL;

        for (i = 0; i < len; i++) {
                unsigned d = (unsigned)(s[i] - '0');

                if (v > (UINT64_MAX - d) / 10)
                        return -EOVERFLOW;
                v = v * 10 + d;
        }

        if (v > max)
                return -ERANGE;

        *ret = v;
        return 0;
}

int hpvm_parse_bool(const char *s, size_t len, bool *ret)
{
        static const struct {
                const char *word;
                bool value;
        } words[] = {
                { "true", true }, { "false", false },
                { "yes", true },  { "no", false },
                { "1", true },    { "0", false },
        };
        size_t i;

        if (!s)
                return -EINVAL;

        for (i = 0; i < HPVM_ARRAY_SIZE(words); i++)
                if (strlen(words[i].word) == len && strncasecmp(s, words[i].word, len) == 0) {
                        *ret = words[i].value;
                        return 0;
                }

        return -EINVAL;
}

int hpvm_parse_size_kib(const char *s, size_t len, uint64_t max_kib, uint64_t *ret_kib)
{
        unsigned shift = 0;
        uint64_t v;
        int r;

        if (!s || len == 0)
                return -EINVAL;

        switch (s[len - 1]) {
        case 'K': case 'k': shift = 0;  len--; break;
        case 'M': case 'm': shift = 10; len--; break;
        case 'G': case 'g': shift = 20; len--; break;
        case 'T': case 't': shift = 30; len--; break;
        default: break;
        }

        r = hpvm_parse_u64(s, len, UINT64_MAX, &v);
        if (r < 0)
                return r;
        if (v > (UINT64_MAX >> shift))
                return -EOVERFLOW;
        v <<= shift;

        if (v == 0 || v > max_kib)
                return -ERANGE;

        *ret_kib = v;
        return 0;
}

const char *hpvm_format_kib(uint64_t kib, char *buf, size_t size)
{
        static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB" };
        unsigned u = 0;
        uint64_t whole, tenths;

        if (!buf || size == 0)
                return buf;

        while (u + 1 < HPVM_ARRAY_SIZE(units) && kib >> (10 * (u + 1)) != 0)
                u++;

        whole = kib >> (10 * u);
        /* The remainder is below 2^60, so times 10 cannot overflow. Rounded down. */
        tenths = ((kib & ((UINT64_C(1) << (10 * u)) - 1)) * 10) >> (10 * u);

        if (kib == whole << (10 * u))
                snprintf(buf, size, "%llu %s", (unsigned long long)whole, units[u]);
        else
                snprintf(buf, size, "%llu.%llu %s", (unsigned long long)whole,
                         (unsigned long long)tenths, units[u]);
        return buf;
}

/* A big group (many members) needs a big buffer: grow it on ERANGE, up to 1 MiB. */
#define PWBUF_START 4096u
#define PWBUF_MAX (1u << 20)

long hpvm_user_id(const char *name)
{
        struct passwd pw, *found = NULL;
        long id = -1;

        for (size_t size = PWBUF_START; size <= PWBUF_MAX; size *= 2) {
                char *buf = malloc(size);
                int r;

                if (!buf)
                        return -1;
                r = getpwnam_r(name, &pw, buf, size, &found);
                if (r == 0 && found)
                        id = (long)found->pw_uid;
                free(buf);
                if (r != ERANGE)
                        break;
        }
        return id;
}

long hpvm_group_id(const char *name)
{
        struct group gr, *found = NULL;
        long id = -1;

        for (size_t size = PWBUF_START; size <= PWBUF_MAX; size *= 2) {
                char *buf = malloc(size);
                int r;

                if (!buf)
                        return -1;
                r = getgrnam_r(name, &gr, buf, size, &found);
                if (r == 0 && found)
                        id = (long)found->gr_gid;
                free(buf);
                if (r != ERANGE)
                        break;
        }
        return id;
}
