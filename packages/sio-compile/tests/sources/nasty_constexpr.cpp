// docs/hostile.rst §G 44: constexpr recursion without end
constexpr unsigned long long f(unsigned long long n) { return f(n + 1) + 1; }
constexpr unsigned long long value = f(0);
int main() { return (int)value; }
