// Wrong answer: sums in 32 bits, overflows on the big test.
#include <cstdio>

int main() {
    int n;
    if (scanf("%d", &n) != 1) return 1;
    int sum = 0;
    for (int i = 0; i < n; ++i) {
        int x;
        scanf("%d", &x);
        sum = (int)((unsigned)sum + (unsigned)x);
    }
    printf("%d\n", sum);
    return 0;
}
