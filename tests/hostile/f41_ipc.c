/* docs/hostile.rst §F 41: SysV shm / abstract UNIX sockets between runs (argv[1]).
 * "plant" creates a SysV segment with a fixed key; "check" exits 0 when it is not visible;
 * "unix" tries an abstract UNIX socket (RV under seccomp). */
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/un.h>
int main(int argc, char **argv) {
    const char *m = argc > 1 ? argv[1] : "plant";
    if (!strcmp(m, "plant")) { int id = shmget(0x5105, 4096, IPC_CREAT | 0666); return id < 0 ? 2 : 0; }
    if (!strcmp(m, "check")) return shmget(0x5105, 0, 0) >= 0;
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    memcpy(a.sun_path, "\0sio-test", 9);
    return bind(s, (struct sockaddr *)&a, sizeof a) == 0;
}
