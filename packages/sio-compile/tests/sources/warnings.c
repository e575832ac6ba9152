#include <stdio.h>
int main(void) {
    int unused_a, unused_b, unused_c, unused_d, unused_e, unused_f, unused_g;
    int unused_h, unused_i, unused_j, unused_k, unused_l, unused_m, unused_n;
    puts("compiled with warnings");
    return 0;
}
