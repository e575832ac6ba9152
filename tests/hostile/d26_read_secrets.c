/* docs/hostile.rst §D 26: read host secrets; exit 0 when every open failed, else 1 */
#include <fcntl.h>
#include <stdio.h>
int main(int argc, char **argv) {
    const char *paths[] = {"/etc/passwd", "/etc/shadow", "/root", "/root/.cache", "/home",
                           "/run/sio-workers", "/var", "/srv", "/opt", "/work", "/etc", 0};
    int bad = 0;
    for (int i = 0; paths[i]; i++) if (open(paths[i], O_RDONLY) >= 0) { printf("%s\n", paths[i]); bad = 1; }
    for (int i = 1; i < argc; i++) if (open(argv[i], O_RDONLY) >= 0) { printf("%s\n", argv[i]); bad = 1; }
    return bad;
}
