// Time limit exceeded: the right answer, computed far too slowly (about
// 10^4 * n^2 additions): fine for tiny tests, hopeless for n >= 1000.
#include <cstdio>
#include <vector>

int main() {
    int n;
    if (scanf("%d", &n) != 1) return 1;
    std::vector<long long> a(n);
    for (int i = 0; i < n; ++i) scanf("%lld", &a[i]);
    volatile long long sum = 0;
    for (int i = 0; i < n; ++i) {
        sum = 0;
        for (int j = 0; j <= i; ++j)
            for (int k = 0; k < 20000; ++k) sum += a[j] * (k == 0);
    }
    printf("%lld\n", (long long)sum);
    return 0;
}
