/* after_migration_source: vdsm hook that releases the host CPUs and VFs of a VM that migrated away. */
#include "hookmain.h"

int main(int argc, char **argv)
{
        static const HpvmHookInfo info = {
                .name = "after_migration_source",
                .summary = "Release the host CPUs and VFs a VM held here (CPU and VF ledgers) once it has\n"
                           "migrated away (vdsm runs this only after a successful migration).",
                .input = HPVM_INPUT_DOMAIN,
        };

        return hpvm_hook_release_main(&info, argc, argv);
}
