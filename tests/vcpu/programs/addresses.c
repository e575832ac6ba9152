/* Prints the addresses of a stack variable, a heap block and main: equal
 * from run to run only when address-space randomisation is off. */
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
    int local = 0;
    void *heap = malloc(64);
    printf("%p %p %p\n", (void *)&local, heap, (void *)main);
    free(heap);
    return local;
}
