/* compiled with -o pointing outside the build directory by the test */
int main(void) { return 0; }
