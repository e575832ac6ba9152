// docs/hostile.rst §B 11: new int[1<<28] under 16 MiB -> MLE (bad_alloc or OOM kill when touched)
#include <cstdio>
#include <new>
int main() {
    try {
        int *a = new int[1 << 28];
        for (long i = 0; i < (1L << 28); i += 1024) a[i] = 1;
        return a[1024];
    } catch (std::bad_alloc &) {
        return 3;
    }
}
