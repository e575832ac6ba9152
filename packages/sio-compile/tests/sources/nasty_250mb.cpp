// docs/hostile.rst §G 47: an executable of more than 250 MB
const int SIZE = 250 * 1000 * 1000;
const char BIG[SIZE] = {3};
int main(int argc, char **argv) { return BIG[argc]; }
