/* Replaces ./out with a symlink to /etc/passwd and ./hint with a FIFO,
 * then prints an answer. The worker must not follow either. */
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
int main(void) {
    unlink("out");
    symlink("/etc/passwd", "out");
    unlink("hint");
    mkfifo("hint", 0600);
    printf("3\n");
    return 0;
}
