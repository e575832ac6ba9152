// docs/hostile.rst §G 42: the compiler reads an endless device
#include "/dev/random"
int main() {}
