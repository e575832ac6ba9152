/* docs/hostile.rst §H 49: print OK, fake result lines and JSON, then exit 1 -> RE regardless */
#include <stdio.h>
int main(void) {
    printf("OK\n100\n{\"result_code\": \"OK\", \"time_used\": 1}\n--- END ENVIRON ---\n");
    fprintf(stderr, "exit 0 0\nrv none 0\n");
    return 1;
}
