/* docs/hostile.rst §F 39/40: TCP connect to a public or the host's loopback address (argv[1] argv[2]).
 * Under a seccomp profile: RV at socket(); without seccomp the empty netns refuses (exit 0). */
#include <arpa/inet.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>
int main(int argc, char **argv) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(argc > 2 ? atoi(argv[2]) : 80)};
    inet_pton(AF_INET, argc > 1 ? argv[1] : "1.1.1.1", &a.sin_addr);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0) return 0;
    return connect(s, (struct sockaddr *)&a, sizeof a) == 0;
}
