/* fuzzcheck.h: how every fuzz target reports a broken invariant: where, why, then abort() so libFuzzer keeps the input. */
#pragma once

#include <stdio.h>
#include <stdlib.h>

#define FAIL(...)                                                              \
        do {                                                                   \
                fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                \
                fprintf(stderr, __VA_ARGS__);                                  \
                fputc('\n', stderr);                                           \
                abort();                                                       \
        } while (0)
#define CHECK(cond, ...) do { if (!(cond)) FAIL(__VA_ARGS__); } while (0)

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);
