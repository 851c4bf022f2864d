/* realhelp.c: what the real-parts tests share (realhelp.h). */
#include "realhelp.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <check.h>
#include <libvirt/virterror.h>

#include "util.h"

static const char *g_prog = "test", *g_script = "its script";

void rh_init(const char *prog, const char *script)
{
        g_prog = prog;
        g_script = script;
}

double rh_now(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void rh_sleep(double s)
{
        struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };

        nanosleep(&ts, NULL);
}

void rh_fact(const char *fmt, ...)
{
        va_list ap;

        printf("%s: ", g_prog);
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        putchar('\n');
        fflush(stdout);
}

void rh_timing(const char *what, double s)
{
        printf("timing: %-66s %7.2f s\n", what, s);
        fflush(stdout);
}

const char *rh_env(const char *name)
{
        const char *v = getenv(name);

        ck_assert_msg(v && *v, "%s is not set: run %s", name, g_script);
        return v;
}

char *rh_slurp(const char *path)
{
        FILE *f = fopen(path, "rb");
        char *buf = NULL;
        size_t size = 0;
        FILE *m;
        int c;

        if (!f)
                return NULL;
        m = open_memstream(&buf, &size);
        ck_assert_ptr_nonnull(m);
        while ((c = fgetc(f)) != EOF)
                fputc(c, m);
        fclose(m);
        fclose(f);
        return buf;
}

size_t rh_count(const char *s, const char *text)
{
        size_t n = 0;

        for (const char *p = s; p && (p = strstr(p, text)); p++)
                n++;
        return n;
}

static size_t file_count(const char *path, const char *text)
{
        _cleanup_free_ char *s = rh_slurp(path);

        return rh_count(s, text);
}

double rh_wait_text(const char *path, const char *text, size_t before, double limit)
{
        double t0 = rh_now();

        while (file_count(path, text) <= before) {
                if (rh_now() - t0 > limit)
                        return -1;
                rh_sleep(0.02);
        }
        return rh_now() - t0;
}

char *rh_replace(const char *text, const char *from, const char *to)
{
        char *out = NULL;
        size_t size = 0, nfrom = strlen(from);
        FILE *f = open_memstream(&out, &size);

        ck_assert_ptr_nonnull(f);
        for (const char *p = text; *p;) {
                if (!strncmp(p, from, nfrom)) {
                        fputs(to, f);
                        p += nfrom;
                } else {
                        fputc(*p++, f);
                }
        }
        fclose(f);
        return out;
}

char *rh_xml(virDomainPtr dom, unsigned flags)
{
        char *xml = virDomainGetXMLDesc(dom, flags);

        ck_assert_msg(xml, "libvirt: %s", virGetLastErrorMessage());
        return xml;
}
