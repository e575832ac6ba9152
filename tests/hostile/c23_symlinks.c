/* docs/hostile.rst §C 23: replace files the worker reads/writes with symlinks or FIFOs.
 * Exit 0 when every attempt failed (the job directory is read-only). */
#include <sys/stat.h>
#include <unistd.h>
int main(void) {
    int bad = 0;
    unlink("out");
    bad |= symlink("/etc/passwd", "out") == 0;
    bad |= symlink("/etc/passwd", "in") == 0;
    bad |= mkfifo("fifo", 0600) == 0;
    bad |= rename("exe", "exe2") == 0;
    return bad;
}
