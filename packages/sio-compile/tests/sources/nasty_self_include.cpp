// docs/hostile.rst §G 46: a file that includes itself
#include __FILE__
int main() {}
