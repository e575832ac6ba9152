/* includes a file outside the build directory; the test writes the path */
#include SECRET_PATH
int main(void) { return 0; }
