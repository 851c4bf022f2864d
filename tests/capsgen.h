/* capsgen.h: `virsh capabilities` XML of generated hosts (tests/test-fit and bench/bench-fit share it); libc only. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A host of @nodes NUMA cells with @cores cores of @threads threads each per
 * cell. CPU ids are numbered the way Linux numbers them on Intel hosts: the
 * first thread of every core of every cell first (cell 0's cores, then cell
 * 1's, ...), then the second threads in the same order, so thread t of core
 * c of cell n is CPU t * nodes * cores + n * cores + c. Cell n is socket n.
 */
typedef struct ThCapsSpec {
        unsigned nodes;
        unsigned cores;                 /* per cell */
        unsigned threads;               /* per core */
        uint64_t mem_kib;               /* per cell; 0: no <memory> (unknown) */
        uint64_t pages_2m;              /* 2 MiB pages per cell (a <pages size='2048'> of that count) */
        unsigned remote;                /* distance between two cells; 0: no <distances> */
        bool invtsc;                    /* <feature name='invtsc'/> */
        const char *uuid;               /* <host><uuid>; NULL: none */
} ThCapsSpec;

/* The document, malloc()ed and NUL-terminated; NULL on ENOMEM or a spec without nodes, cores or threads. */
char *th_caps_xml(const ThCapsSpec *s);

/* Write th_caps_xml(@s) to @path. Returns 0 or a negative errno. */
int th_caps_write(const char *path, const ThCapsSpec *s);
