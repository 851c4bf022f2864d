/* realhelp.h: what the real-parts tests (test-*-real.c) share: clocks, facts and timings on stdout, files read whole, the environment their scripts set. */
#pragma once

#include <stddef.h>

#include <libvirt/libvirt.h>

/* The program's name for rh_fact() and the script that sets its environment, for rh_env()'s message. */
void rh_init(const char *prog, const char *script);

double rh_now(void);                    /* seconds, monotonic */
void rh_sleep(double s);

/* "<prog>: <text>" on stdout, flushed. */
void rh_fact(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* One line per measured step ("timing: <what> <s> s"); the scripts print them as a table. */
void rh_timing(const char *what, double s);

/* The environment variable @name; fails the test, naming the script, when it is unset or empty. */
const char *rh_env(const char *name);

/* A file's whole text; NULL when it cannot be opened. */
char *rh_slurp(const char *path);

/* How often @text stands in @s (NULL: 0). */
size_t rh_count(const char *s, const char *text);

/* Waits up to @limit s until file @path holds @text more than @before times: the seconds waited, or -1. */
double rh_wait_text(const char *path, const char *text, size_t before, double limit);

/* @text with every @from replaced by @to (malloc'ed). */
char *rh_replace(const char *text, const char *from, const char *to);

/* virDomainGetXMLDesc(), failing the test with libvirt's message. */
char *rh_xml(virDomainPtr dom, unsigned flags);
