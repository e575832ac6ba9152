/*
 * cpuid_probe: what the CPUID instruction costs on this machine
 * (sio.workers.cpuid_cost, sio-doctor). Built static against glibc, like
 * the C programs sio-compile builds, whose start-up (glibc's CPU feature
 * and cache detection) asks CPUID dozens of times.
 *
 *   cpuid_probe        prints two lines and exits 0:
 *                        "hypervisor <vendor>"  (CPUID leaf 0x40000000), or
 *                        "hypervisor -"         when CPUID leaf 1 says none
 *                        "cpuid_ns <n>"         the median thread CPU time of
 *                                               one CPUID, in ns (batches of 32)
 *   cpuid_probe start  exits 0 at once: its CPU time is the start-up alone.
 */
#include <cpuid.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BATCHES 15
#define PER_BATCH 32

static long long thread_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int by_value(const void *a, const void *b) {
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "start") == 0) return 0;
    unsigned eax, ebx, ecx, edx;
    char vendor[13] = "-";
    __cpuid(1, eax, ebx, ecx, edx);
    if (ecx & (1u << 31)) { /* the hypervisor-present bit */
        __cpuid(0x40000000, eax, ebx, ecx, edx);
        memcpy(vendor, &ebx, 4);
        memcpy(vendor + 4, &ecx, 4);
        memcpy(vendor + 8, &edx, 4);
        vendor[12] = 0;
        for (int i = 0; i < 12; i++)
            if (vendor[i] && (vendor[i] < 0x21 || vendor[i] > 0x7e)) vendor[i] = '?';
        if (!vendor[0]) strcpy(vendor, "unknown");
    }
    long long per[BATCHES];
    volatile unsigned sink = 0;
    for (int b = 0; b < BATCHES; b++) {
        long long start = thread_ns();
        for (int i = 0; i < PER_BATCH; i++) {
            __cpuid_count(4, i & 3, eax, ebx, ecx, edx);
            sink += eax;
        }
        per[b] = (thread_ns() - start) / PER_BATCH;
    }
    qsort(per, BATCHES, sizeof per[0], by_value);
    printf("hypervisor %s\ncpuid_ns %lld\n", vendor, per[BATCHES / 2]);
    return 0;
}
