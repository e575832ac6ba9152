/* Prints an answer-like line, then exits with code 42 (RE). */
#include <stdio.h>
int main(void) {
    puts("OK");
    return 42;
}
