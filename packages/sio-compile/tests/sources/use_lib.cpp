#include <cstdio>
extern "C" {
#include "lib.h"
}
int main() { std::printf("answer %d\n", lib_answer()); }
