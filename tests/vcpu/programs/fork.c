/* Forks a child that exits at once; the parent waits. */
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
    pid_t pid = fork();
    if (pid == 0)
        _exit(0);
    if (pid > 0)
        waitpid(pid, NULL, 0);
    printf("forked %d\n", pid > 0);
    return 0;
}
