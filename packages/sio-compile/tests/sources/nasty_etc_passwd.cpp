// docs/hostile.rst §G 43: the compiler would echo the included file
#include "/etc/passwd"
int main() {}
