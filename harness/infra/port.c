/* port.c - a free port on loopback (port.h). */
#include "infra/port.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "core/util.h"

int ovs_port_free(int *port, char *err, size_t errlen)
{
    struct sockaddr_in sa;
    socklen_t salen = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0) {
        ovs_seterr(err, errlen, "cannot find a free port: socket: %s", strerror(errno));
        return OVS_ERR_ENV;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = 0;
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &salen) != 0) {
        ovs_seterr(err, errlen, "cannot find a free port on " OVS_LOOPBACK_HOST ": %s",
                   strerror(errno));
        close(fd);
        return OVS_ERR_ENV;
    }
    close(fd);
    *port = ntohs(sa.sin_port);
    return OVS_OK;
}
