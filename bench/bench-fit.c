/* bench-fit.c: time hpvm-fit, the whole process, ranking 1,000 capabilities files of 2-node, 64-CPU hosts for one VM. */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "capsgen.h"

#define MAX_RUNS 1000
#define MAX_HOSTS 100000

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
        va_list ap;

        fputs("bench-fit: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        exit(1);
}

static double now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;

        return (x > y) - (x < y);
}

static long parse_long(const char *s, long min, long max, const char *what)
{
        char *end;
        long v;

        errno = 0;
        v = strtol(s, &end, 10);
        if (errno || end == s || *end || v < min || v > max)
                die("%s: '%s' is not a number from %ld to %ld", what, s, min, max);
        return v;
}

static char *strf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *strf(const char *fmt, ...)
{
        va_list ap;
        char *s;

        va_start(ap, fmt);
        if (vasprintf(&s, fmt, ap) < 0)
                die("out of memory");
        va_end(ap);
        return s;
}

static void write_text(const char *path, const char *text)
{
        FILE *f = fopen(path, "w");

        if (!f || fputs(text, f) == EOF || fclose(f) != 0)
                die("cannot write %s: %s", path, strerror(errno));
}

/* One run: fork, exec, wait; stdout to @out. Returns the exit status; wall time and peak RSS of the child. */
static int run_once(const char *const *argv, const char *const *envp, const char *out, double *ret_ms, long *ret_rss)
{
        struct rusage ru;
        double t0 = now_ms();
        int status;
        pid_t pid = fork();

        if (pid < 0)
                die("fork: %s", strerror(errno));
        if (pid == 0) {
                int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);

                if (fd < 0)
                        _exit(127);
                dup2(fd, STDOUT_FILENO);
                execve(argv[0], (char *const *)argv, (char *const *)envp);
                dprintf(STDERR_FILENO, "bench-fit: cannot run %s: %s\n", argv[0], strerror(errno));
                _exit(127);
        }
        while (wait4(pid, &status, 0, &ru) < 0)
                if (errno != EINTR)
                        die("wait4: %s", strerror(errno));
        *ret_ms = now_ms() - t0;
        *ret_rss = ru.ru_maxrss;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static size_t count_lines(const char *path)
{
        FILE *f = fopen(path, "r");
        size_t n = 0;
        int c;

        if (!f)
                die("cannot read %s: %s", path, strerror(errno));
        while ((c = fgetc(f)) != EOF)
                n += c == '\n';
        fclose(f);
        return n;
}

static void usage(void)
{
        printf("usage: bench-fit [-n RUNS] [--hosts N] [--tool PATH]\n"
               "Writes N (default 1000) capabilities files of 2-node, 64-CPU hosts (32 cores x 2 threads,\n"
               "memory and huge pages differing from host to host) in a folder under /tmp, then times\n"
               "hpvm-fit ranking them all for a 16-vCPU, 32 GiB VM: the whole process (start, read and\n"
               "parse every file, place, sort, print), RUNS times (default 5) for the text and the --json\n"
               "output. Prints the median, the slowest run and the peak RSS. --tool: the hpvm-fit binary\n"
               "(default tools/hpvm-fit).\n");
}

static void bench(const char *label, const char *const *argv, const char *const *envp, const char *out, int runs, size_t hosts)
{
        double *t = calloc((size_t)runs, sizeof(double));
        long rss = 0;
        size_t lines;

        if (!t)
                die("out of memory");
        for (int i = 0; i < runs; i++) {
                long r;
                int status = run_once(argv, envp, out, &t[i], &r);

                if (status != 0)
                        die("%s exited %d (see its stderr above)", argv[0], status);
                rss = r > rss ? r : rss;
        }
        lines = count_lines(out);
        qsort(t, (size_t)runs, sizeof(*t), cmp_double);
        printf("%-32s %6zu hosts  median %8.1f ms  slowest %8.1f ms  peak RSS %6.1f MiB  (%zu lines out)\n", label,
               hosts, runs % 2 ? t[runs / 2] : (t[runs / 2 - 1] + t[runs / 2]) / 2, t[runs - 1], (double)rss / 1024,
               lines);
        free(t);
}

int main(int argc, char **argv)
{
        static const struct option longopts[] = {
                { "runs", required_argument, NULL, 'n' },
                { "hosts", required_argument, NULL, 'H' },
                { "tool", required_argument, NULL, 't' },
                { "help", no_argument, NULL, 'h' },
                { NULL, 0, NULL, 0 },
        };
        const char *tool = "tools/hpvm-fit";
        char tmp[] = "/tmp/hpvm-bench-fit-XXXXXX";
        const char **av, *env[] = { "PATH=/usr/bin:/bin", "LC_ALL=C.UTF-8", NULL, NULL };
        int runs = 5, c;
        size_t hosts = 1000;
        char *domain, *conf, *out, *cmd, *config_env;

        while ((c = getopt_long(argc, argv, "n:h", longopts, NULL)) != -1) {
                switch (c) {
                case 'n': runs = (int)parse_long(optarg, 1, MAX_RUNS, "--runs"); break;
                case 'H': hosts = (size_t)parse_long(optarg, 1, MAX_HOSTS, "--hosts"); break;
                case 't': tool = optarg; break;
                case 'h': usage(); return 0;
                default: usage(); return 2;
                }
        }
        if (access(tool, X_OK) != 0)
                die("%s: %s (build it first: make)", tool, strerror(errno));
        if (!mkdtemp(tmp))
                die("mkdtemp: %s", strerror(errno));
        domain = strf("%s/vm.xml", tmp);
        conf = strf("%s/hpvm.conf", tmp);
        out = strf("%s/out", tmp);
        write_text(domain, "<domain type='kvm'>\n  <name>bench16</name>\n"
                           "  <uuid>5f1c2d3e-4b5a-4c6d-8e7f-901a2b3c4d5e</uuid>\n"
                           "  <memory unit='GiB'>32</memory>\n  <vcpu placement='static'>16</vcpu>\n"
                           "  <cpu mode='host-passthrough'>\n    <topology sockets='1' dies='1' cores='8' threads='2'/>\n"
                           "  </cpu>\n  <os>\n    <type arch='x86_64' machine='q35'>hvm</type>\n  </os>\n</domain>\n");
        write_text(conf, "# bench-fit: the default reserved CPUs, nothing else\n");
        config_env = strf("HPVM_CONFIG=%s", conf);
        env[2] = config_env;

        av = calloc(hosts + 5, sizeof(*av));
        if (!av)
                die("out of memory");
        av[0] = tool;
        av[1] = "--domain";
        av[2] = domain;
        for (size_t i = 0; i < hosts; i++) {
                /* Memory from 16 to 208 GiB a node and 0 to 3072 2 MiB pages: hosts rank differently. */
                ThCapsSpec s = { .nodes = 2, .cores = 32, .threads = 2, .mem_kib = (uint64_t)(16 + 32 * (i % 7)) << 20,
                                 .pages_2m = 1024 * (i % 4), .remote = 21, .invtsc = i % 2 };
                char *path = strf("%s/host%05zu.xml", tmp, i);

                if (th_caps_write(path, &s) < 0)
                        die("cannot write %s", path);
                av[3 + i] = path;
        }
        printf("bench-fit: hpvm-fit --domain vm.xml (16 vCPUs, 32 GiB) HOST..., %d runs each, files in %s\n", runs,
               tmp);
        bench("hpvm-fit (text)", av, env, out, runs, hosts);
        memmove(av + 4, av + 3, hosts * sizeof(*av));
        av[3] = "--json";
        bench("hpvm-fit --json", av, env, out, runs, hosts);

        cmd = strf("rm -rf '%s'", tmp);
        if (system(cmd) != 0)
                fprintf(stderr, "bench-fit: cannot remove %s\n", tmp);
        for (size_t i = 0; i < hosts; i++)
                free((void *)av[4 + i]);
        free(av);
        free(cmd);
        free(domain);
        free(conf);
        free(out);
        free(config_env);
        return 0;
}
