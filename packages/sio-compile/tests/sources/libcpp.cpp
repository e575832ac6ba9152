extern "C" {
#include "lib.h"
}
int lib_answer(void) { return 43; }
