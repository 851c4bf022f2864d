/* fit.h: a domain and the placement engine: the request its XML makes, and a placement written back into it. */
#pragma once

#include <stdbool.h>

#include "domxml.h"
#include "placement.h"
#include "vmreq.h"

typedef struct HpvmFitOpts {
        HpvmCpuPolicy policy;
        bool make_cells;                /* the engine makes the cells (guestnuma=auto); else the VM's own are kept */
        bool emulator;                  /* place the emulator thread */
        unsigned iothreads;             /* IO threads to place */
        const HpvmPinList *keep;        /* vCPU pins to keep where valid and free (NULL: none) */
} HpvmFitOpts;

/*
 * The placement request for the VM @r describes: its vCPUs, threads per
 * core, memory and huge page size, and its guest cells unless
 * @o->make_cells. *ret points into @r and *ret_cells (the cells as the
 * engine takes them; caller frees; NULL when none), so both must outlive it.
 * Returns 0, -EINVAL (a guest cell without vCPUs, or cells that leave a
 * vCPU out: the engine keeps every vCPU in a cell; message in @err), -ENOMEM.
 */
int hpvm_fit_request(const HpvmVmReq *r, const HpvmFitOpts *o, HpvmPlaceRequest *ret, HpvmGuestCell **ret_cells,
                     HpvmError *err);

/* What hpvm_fit_apply() writes. */
enum {
        HPVM_FIT_VCPUPIN = 1u << 0,     /* <vcpupin> of every vCPU on its one host CPU */
        HPVM_FIT_EMULATORPIN = 1u << 1, /* <emulatorpin> */
        HPVM_FIT_IOTHREADPIN = 1u << 2, /* <iothreadpin> of every IO thread of the VM */
        HPVM_FIT_CELLS = 1u << 3,       /* <cpu><numa> cells: the placement's (made cells) */
        HPVM_FIT_NUMATUNE = 1u << 4,    /* <numatune><memory> on the nodes used, a <memnode> per cell */
        HPVM_FIT_STRICT = 1u << 5,      /* with NUMATUNE: mode strict everywhere (else modes are kept) */
};

/*
 * Write @p into @d: each part @what names. With HPVM_FIT_NUMATUNE the
 * memory nodeset is the nodes the cells use and each cell's memnode its own
 * node; modes become strict with HPVM_FIT_STRICT, otherwise they stay (a VM
 * without any is strict). Returns 0; -EINVAL (refused by the guest-cell
 * edit or a mode conflict: message in @err), -ENOMEM.
 */
int hpvm_fit_apply(HpvmDomain *d, const HpvmPlacement *p, unsigned what, HpvmWarnings *warn, HpvmError *err);
