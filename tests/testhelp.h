/* testhelp.h: what the Check suites share: fixture paths, files, running a hook binary, schema validation. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* $HPVM_SRCDIR (automake sets it), else ".". */
const char *th_srcdir(void);
/* $HPVM_BUILDDIR, else ".". */
const char *th_builddir(void);

/* malloc'd "<srcdir>/<rel>"; never NULL (aborts the test). */
char *th_src(const char *rel);

/* Whole file, NUL-terminated; aborts the test if unreadable. */
char *th_slurp(const char *path, size_t *len);

/* Write a file whole with @mode; aborts on failure. */
void th_write(const char *path, const void *data, size_t len, unsigned mode);

/* A fresh temporary folder (malloc'd path); th_rmtree removes it. */
char *th_tmpdir(void);
void th_rmtree(const char *dir);

#define HPVM_TH_ENV_MAX 60

/*
 * "HPVM_CONFIG=<file>": a private configuration (state_dir in a folder of
 * this test process, removed at exit) that th_run() gives every hook unless
 * @env names its own HPVM_CONFIG.
 */
const char *th_config_env(void);

typedef struct ThRun {
        int status;     /* exit code, or 128+signal */
        char *out;      /* stdout, NUL-terminated */
        char *err;      /* stderr, NUL-terminated */
        long maxrss_kb; /* peak resident memory of the child */
        double seconds; /* wall time */
} ThRun;

typedef struct ThLimits {
        long uid;            /* run as this uid/gid when >= 0 (needs root) */
        size_t as_bytes;     /* RLIMIT_AS when > 0 */
} ThLimits;

/*
 * Run @argv[0] (a path) with only PATH and LC_ALL=C.UTF-8 plus the "K=V" strings in
 * @env (NULL-terminated, may be NULL). Waits at most @timeout_s seconds, then kills it.
 */
void th_run(const char *const argv[], const char *const env[], int timeout_s, ThRun *ret);
/* The same with an identity and a memory limit for the child. */
void th_run_limited(const char *const argv[], const char *const env[], int timeout_s, const ThLimits *lim,
                    ThRun *ret);
void th_run_clear(ThRun *r);

/* A domain XML file in a private folder, as vdsm hands it to a hook. */
typedef struct ThVm {
        char *tmp;              /* the folder; only vm.xml is in it */
        char *domxml;           /* <tmp>/vm.xml */
        char *env_domxml;       /* "_hook_domxml=<domxml>" */
        char *hook;             /* $HPVM_BUILDDIR/hooks/before_vm_start */
        char *input;            /* what vm.xml holds before the hook runs */
        size_t inlen;
} ThVm;

/* Copy tests/<@fixture> (relative to the source folder) to a fresh vm.xml with @mode. */
void th_vm_init(ThVm *vm, const char *fixture, unsigned mode);
void th_vm_clear(ThVm *vm);
/* Replace vm.xml (and what it is compared with) by @len bytes of @data. */
void th_vm_set_input(ThVm *vm, const void *data, size_t len, unsigned mode);
/* Only vm.xml is in the folder: no temporary file was left behind. */
void th_vm_assert_folder_clean(const ThVm *vm);
/* vm.xml holds exactly the input, and the folder is clean. */
void th_vm_assert_untouched(const ThVm *vm);

/* Count of '\n' in @s. */
size_t th_lines(const char *s);

/*
 * Validate a domain XML document against libvirt's RelaxNG schema
 * ($HPVM_SCHEMA_DIR/domain.rng). Returns true if valid; else @why holds the first error.
 */
bool th_schema_valid(const char *xml, size_t len, char *why, size_t whysz);
