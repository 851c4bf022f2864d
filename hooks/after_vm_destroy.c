/* after_vm_destroy: vdsm hook that releases the host CPUs and VFs of a VM that stopped on this host. */
#include "hookmain.h"

int main(int argc, char **argv)
{
        static const HpvmHookInfo info = {
                .name = "after_vm_destroy",
                .summary = "Release the host CPUs and VFs (and reservations) a VM held in the CPU and VF\n"
                           "ledgers once it is gone from this host.",
                .input = HPVM_INPUT_NONE,
        };

        return hpvm_hook_release_main(&info, argc, argv);
}
