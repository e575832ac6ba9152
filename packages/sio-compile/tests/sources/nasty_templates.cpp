// docs/hostile.rst §G 44: endless template instantiation
template <int n> struct a {
    a<n + 1> operator->() { return a<n + 1>(); }
};
int main() { a<0>()->x; }
