/* fuzz_checkpoint.c - libFuzzer target: whole checkpoints (legacy and zip
 * containers, storages, object model) from arbitrary bytes (specs
 * formats.md s5). Built by scripts/fuzz.sh only. */
#include <stddef.h>
#include <stdint.h>

#include "itr/checkpoint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    itr_checkpoint *c = NULL;
    if (itr_checkpoint_load_buffer(data, size, "fuzz.pth.tar", &c) == ITR_OK) itr_checkpoint_free(c);
    return 0;
}
