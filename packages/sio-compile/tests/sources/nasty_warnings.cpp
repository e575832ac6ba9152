// docs/hostile.rst §G 45: warnings without end (overflow in nested templates)
#include <cstdio>
template <int I, int D> struct P {
    enum { V = (D * D == I || (I > 1 && P<I - 1, D>::V) || (D > 1 && P<I, D - 1>::V)) ? 1 : 0 };
};
template <> struct P<1, 1> { enum { V = 0 }; };
int main() { std::printf("%d\n", P<12345678, 12345678>::V); }
