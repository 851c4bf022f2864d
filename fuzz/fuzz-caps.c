/* fuzz-caps.c: libFuzzer target for hpvm_host_parse_caps: untrusted capabilities XML in, a consistent host model or one error line out. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/xmlerror.h>

#include "props.h"
#include "topology.h"
#include "fuzzcheck.h"


int LLVMFuzzerInitialize(int *argc, char ***argv);
/*
 * Library code never prints: a libxml2 message that reaches its generic
 * handler would be extra lines on the hook's stderr, where the contract
 * allows exactly one.
 */
static void no_print(void *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void no_print(void *ctx, const char *fmt, ...)
{
        va_list ap;

        fprintf(stderr, "fuzz-caps: libxml2 printed: ");
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        abort();
}

static void check_failure(int r, const HpvmError *err)
{
        size_t len = strnlen(err->msg, sizeof(err->msg));

        CHECK(r == -EINVAL || r == -EFBIG || r == -ENOMEM, "unexpected error %d: %s", r, err->msg);
        CHECK(err->code == r, "err.code %d but return %d", err->code, r);
        CHECK(len > 0 && len < sizeof(err->msg), "message empty or unterminated");
        CHECK(!memchr(err->msg, '\n', len), "message has a newline: '%s'", err->msg);
        for (size_t i = 0; i < len; i++)
                CHECK((unsigned char)err->msg[i] >= 0x20 && err->msg[i] != 0x7f,
                      "control byte 0x%02x in message '%s'", (unsigned char)err->msg[i], err->msg);
}

/* What every consumer of a host assumes: sorted unique nodes, disjoint CPUs, a CPU table that covers them. */
static void check_host(const HpvmHost *h, const HpvmUsage *u)
{
        HpvmCpuSet all;

        CHECK(h->nnodes > 0 && h->nodes, "a host without nodes");
        hpvm_cpuset_zero(&all);
        for (size_t i = 0; i < h->nnodes; i++) {
                const HpvmNode *n = &h->nodes[i];

                CHECK(n->id < HPVM_NODE_MAX, "node id %u", n->id);
                CHECK(i == 0 || h->nodes[i - 1].id < n->id, "node ids not ascending at %zu", i);
                CHECK(hpvm_host_node(h, n->id) == n, "node %u not found by id", n->id);
                CHECK(!hpvm_cpuset_intersects(&all, &n->cpus), "node %u shares CPUs with another node", n->id);
                hpvm_cpuset_or(&all, &n->cpus);
                CHECK(n->mem_kib <= HPVM_MEM_MAX_KIB || n->mem_kib == HPVM_MEM_UNKNOWN, "node %u memory %llu KiB",
                      n->id, (unsigned long long)n->mem_kib);
                CHECK(u->node[i].mem_kib == HPVM_MEM_UNKNOWN, "node %u: capabilities give no free memory", n->id);
                CHECK(n->npools <= HPVM_PAGE_SIZES_MAX, "node %u has %zu pools", n->id, n->npools);
                for (size_t p = 0; p < n->npools; p++) {
                        const HpvmPagePool *pool = &n->pools[p];

                        CHECK(pool->size_kib > 0 && (p == 0 || n->pools[p - 1].size_kib < pool->size_kib),
                              "node %u pools not ascending", n->id);
                        CHECK(u->node[i].pages[p] == pool->total, "node %u pool %llu KiB: free != total", n->id,
                              (unsigned long long)pool->size_kib);
                        CHECK(pool->total <= HPVM_MEM_MAX_KIB / pool->size_kib, "node %u pool too large", n->id);
                        CHECK(hpvm_node_pages(n, pool->size_kib) == pool, "node %u pool lookup", n->id);
                }
        }
        CHECK(hpvm_cpuset_equal(&all, &h->online), "online CPUs are not the union of the nodes' CPUs");
        CHECK(u->nnodes == h->nnodes, "usage has %zu nodes, host %zu", u->nnodes, h->nnodes);
        CHECK(hpvm_cpuset_is_empty(&u->taken) && hpvm_cpuset_is_empty(&u->reserved), "usage not empty on load");
        for (size_t i = 0; h->distance && i < h->nnodes; i++)
                for (size_t j = 0; j < h->nnodes; j++)
                        CHECK(hpvm_host_distance(h, i, j) > 0, "distance %zu -> %zu is 0", i, j);
        for (size_t k = 0; k < h->ncores; k++)
                for (size_t m = k + 1; m < h->ncores; m++)
                        CHECK(!hpvm_cpuset_intersects(&h->cores[k], &h->cores[m]), "cores %zu and %zu overlap", k, m);
        if (hpvm_cpuset_is_empty(&h->online)) {
                CHECK(h->ncpu == 0, "ncpu %u without CPUs", h->ncpu);
                return;
        }
        CHECK(h->ncpu == (unsigned)hpvm_cpuset_last(&h->online) + 1 && h->cpu, "ncpu %u, last CPU %d", h->ncpu,
              hpvm_cpuset_last(&h->online));
        for (unsigned c = 0; c < h->ncpu; c++) {
                const HpvmCpuTopo *t = &h->cpu[c];
                HpvmCpuSet sib;

                if (!hpvm_cpuset_test(&h->online, c)) {
                        CHECK(t->node == -1, "offline CPU %u has node %d", c, t->node);
                        continue;
                }
                CHECK(t->node >= 0 && hpvm_host_node(h, (unsigned)t->node) &&
                      hpvm_cpuset_test(&hpvm_host_node(h, (unsigned)t->node)->cpus, c),
                      "CPU %u: node %d does not hold it", c, t->node);
                CHECK(t->socket >= -1 && t->die >= -1 && t->core >= -1, "CPU %u: bad topology ids", c);
                hpvm_host_siblings(h, c, &sib);
                CHECK(hpvm_cpuset_test(&sib, c) && hpvm_cpuset_is_subset(&sib, &h->online),
                      "CPU %u: siblings wrong", c);
        }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        xmlSetGenericErrorFunc(NULL, no_print);
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        HpvmHost *h = NULL, *sentinel = (HpvmHost *)(uintptr_t)0xa5a5a5a5;
        HpvmUsage *u = NULL;
        HpvmError err = { 0 };
        int r;

        h = sentinel;
        r = hpvm_host_parse_caps((const char *)data, size, HPVM_HOST_ALL, &h, &u, &err);
        if (r < 0) {
                check_failure(r, &err);
                CHECK(h == sentinel, "*ret_host changed on failure");
                return 0;
        }
        CHECK(r == 0, "returned %d", r);
        CHECK(err.code == 0 && err.msg[0] == '\0', "success with a message: %s", err.msg);
        CHECK(h && h != sentinel, "success without a host");
        check_host(h, u);
        hpvm_host_free(h);
        hpvm_usage_free(u);
        return 0;
}
