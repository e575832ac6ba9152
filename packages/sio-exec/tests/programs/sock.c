/* Tries to open a network socket (RV under the supervisor). */
#include <stdio.h>
#include <sys/socket.h>
int main(void) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    printf("%d\n", s);
    return 0;
}
