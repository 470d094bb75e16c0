/*
 * vfido's LD_PRELOAD shim: unmodified libfido2 programs (fido2-token, fido2-cred,
 * fido2-assert, OpenSSH's ssh-sk-helper) reach a vfido key over the UDP simulator
 * convention instead of /dev/hidraw.
 *
 *   gcc -shared -fPIC -O2 -o vfido_udp_shim.so vfido_udp_shim.c -ldl
 *   VFIDO_UDP=127.0.0.1:8111 LD_PRELOAD=./vfido_udp_shim.so fido2-token -L
 *
 * A device path "vfido-udp:HOST:PORT" is opened through libfido2's public
 * fido_dev_set_io_functions() (libfido2 >= 1.5): libfido2 then hands us whole
 * 64-byte reports (write: report ID byte + 64 bytes; read: exactly 64 bytes).
 * fido_dev_info_manifest() lists the key named by $VFIDO_UDP after the real
 * devices, so tools that enumerate (fido2-token -L, ssh-keygen) find it.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <fido.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PREFIX "vfido-udp:"
#define REPORT 64

struct udp_dev {
	int fd;
};

/* "vfido-udp:HOST:PORT": a connected UDP socket, so replies from anyone else are dropped. */
static void *udp_open(const char *path)
{
	char host[64];
	int port;
	if (strncmp(path, PREFIX, strlen(PREFIX)) != 0 ||
	    sscanf(path + strlen(PREFIX), "%63[^:]:%d", host, &port) != 2)
		return NULL;
	struct sockaddr_in peer = { .sin_family = AF_INET, .sin_port = htons(port) };
	if (inet_pton(AF_INET, host, &peer.sin_addr) != 1)
		return NULL;
	struct udp_dev *dev = calloc(1, sizeof(*dev));
	if (dev == NULL)
		return NULL;
	dev->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (dev->fd < 0 || connect(dev->fd, (struct sockaddr *)&peer, sizeof(peer)) != 0) {
		perror("vfido_udp_shim: open");
		if (dev->fd >= 0)
			close(dev->fd);
		free(dev);
		return NULL;
	}
	return dev;
}

static void udp_close(void *handle)
{
	struct udp_dev *dev = handle;
	close(dev->fd);
	free(dev);
}

/* One report, or -1 when none arrives within ms milliseconds (-1: wait forever). */
static int udp_read(void *handle, unsigned char *buf, size_t len, int ms)
{
	struct udp_dev *dev = handle;
	struct pollfd pfd = { .fd = dev->fd, .events = POLLIN };
	if (len != REPORT || poll(&pfd, 1, ms) <= 0)
		return -1;
	ssize_t n = recv(dev->fd, buf, len, 0);
	if (n != REPORT)
		return -1;
	return REPORT;
}

/* libfido2 prepends the report ID (0): the datagram is the 64 bytes after it. */
static int udp_write(void *handle, const unsigned char *buf, size_t len)
{
	struct udp_dev *dev = handle;
	if (len != REPORT + 1)
		return -1;
	if (send(dev->fd, buf + 1, REPORT, 0) != REPORT)
		return -1;
	return (int)len;
}

static const fido_dev_io_t udp_io = { udp_open, udp_close, udp_read, udp_write };

int fido_dev_open(fido_dev_t *dev, const char *path)
{
	static int (*real)(fido_dev_t *, const char *);
	if (real == NULL)
		real = (int (*)(fido_dev_t *, const char *))dlsym(RTLD_NEXT, "fido_dev_open");
	if (path != NULL && strncmp(path, PREFIX, strlen(PREFIX)) == 0) {
		int r = fido_dev_set_io_functions(dev, &udp_io);
		if (r != FIDO_OK)
			return r;
	}
	return real(dev, path);
}

int fido_dev_info_manifest(fido_dev_info_t *list, size_t ilen, size_t *olen)
{
	static int (*real)(fido_dev_info_t *, size_t, size_t *);
	if (real == NULL)
		real = (int (*)(fido_dev_info_t *, size_t, size_t *))dlsym(RTLD_NEXT, "fido_dev_info_manifest");
	int r = real(list, ilen, olen);
	const char *where = getenv("VFIDO_UDP");
	char path[96];
	if (r != FIDO_OK || where == NULL || *where == '\0' || *olen >= ilen)
		return r;
	snprintf(path, sizeof(path), PREFIX "%s", where);
	if (fido_dev_info_set(list, *olen, path, "vfido", "Virtual FIDO2 Key (UDP)", &udp_io, NULL) == FIDO_OK)
		(*olen)++;
	return r;
}
