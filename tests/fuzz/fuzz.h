/*
 * Helpers shared by the libFuzzer targets in tests/fuzz/ (issue 7):
 * checks that abort with a message (so libFuzzer keeps the input as a
 * crash), a private temporary folder removed at exit, whole-file
 * writes, and a tiny deterministic generator for choices drawn from
 * the input.  Each target is one translation unit, so everything here
 * is static.
 */
#ifndef FUZZ_H
#define FUZZ_H

#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Optional: libFuzzer calls it only in the targets that define it. */
int	LLVMFuzzerInitialize(int *argc, char ***argv);
int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A property of the code under test failed: report it and crash. */
#define FUZZ_CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: fuzz check failed: %s\n",	\
		    __FILE__, __LINE__, #cond);				\
		abort();						\
	}								\
} while (0)

/* The harness itself cannot run (no temp folder, no memory). */
#define FUZZ_FATAL(...) do {						\
	fprintf(stderr, "fuzz harness: " __VA_ARGS__);			\
	fputc('\n', stderr);						\
	exit(2);							\
} while (0)

static char	fuzz_dir[256];

static int
fuzz_rm_cb(const char *path, const struct stat *st, int type,
    struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	(void)remove(path);
	return 0;
}

static void
fuzz_rm_dir(void)
{
	if (fuzz_dir[0] != '\0')
		(void)nftw(fuzz_dir, fuzz_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/*
 * Creates this process's temporary folder, removed again at a normal
 * exit (a crash leaves it for inspection), and returns its path.
 */
static __attribute__((unused)) const char *
fuzz_tmpdir(const char *name)
{
	const char	*tmp = getenv("TMPDIR");
	int		 n;

	if (tmp == NULL || *tmp == '\0')
		tmp = "/tmp";
	n = snprintf(fuzz_dir, sizeof(fuzz_dir), "%s/imapproxy-%s.XXXXXX",
	    tmp, name);
	if (n < 0 || (size_t)n >= sizeof(fuzz_dir) || mkdtemp(fuzz_dir) ==
	    NULL)
		FUZZ_FATAL("cannot create a folder in %s: %s", tmp,
		    strerror(errno));
	atexit(fuzz_rm_dir);
	return fuzz_dir;
}

/*
 * Removes the temporary folder now: for targets that read its files
 * once at start, so that not even a crash leaves it behind.
 */
static __attribute__((unused)) void
fuzz_tmpdir_done(void)
{
	fuzz_rm_dir();
	fuzz_dir[0] = '\0';
}

/* dir/name into out; the harness's own paths always fit. */
static __attribute__((unused)) void
fuzz_path(char *out, size_t outlen, const char *name)
{
	int	n;

	n = snprintf(out, outlen, "%s/%s", fuzz_dir, name);
	if (n < 0 || (size_t)n >= outlen)
		FUZZ_FATAL("path too long: %s/%s", fuzz_dir, name);
}

/* Replaces path's contents with data[0..len). */
static __attribute__((unused)) void
fuzz_write_file(const char *path, const void *data, size_t len)
{
	const char	*p = data;
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) == -1)
		FUZZ_FATAL("open %s: %s", path, strerror(errno));
	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			FUZZ_FATAL("write %s: %s", path, strerror(errno));
		}
		p += n;
		len -= (size_t)n;
	}
	if (close(fd) == -1)
		FUZZ_FATAL("close %s: %s", path, strerror(errno));
}

/* Writes a NUL-terminated text into the temporary folder. */
static __attribute__((unused)) void
fuzz_write_text(const char *name, const char *text)
{
	char	path[512];

	fuzz_path(path, sizeof(path), name);
	fuzz_write_file(path, text, strlen(text));
}

/*
 * xorshift32: choices (split points, chunk sizes) drawn from a seed the
 * input supplies, so a run replays exactly from its crash file.
 */
struct fuzz_rng {
	uint32_t	 s;
};

static __attribute__((unused)) void
fuzz_rng_init(struct fuzz_rng *r, const uint8_t *data, size_t size)
{
	uint32_t	 h = 2166136261u;	/* FNV-1a over a few bytes */
	size_t		 i;

	for (i = 0; i < size && i < 4; i++)
		h = (h ^ data[i]) * 16777619u;
	r->s = h != 0 ? h : 1;
}

static __attribute__((unused)) uint32_t
fuzz_rng_next(struct fuzz_rng *r)
{
	uint32_t	 x = r->s;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return r->s = x;
}

/* 0 .. n - 1; n > 0. */
static __attribute__((unused)) size_t
fuzz_rng_below(struct fuzz_rng *r, size_t n)
{
	return (size_t)fuzz_rng_next(r) % n;
}

/* A parsed socket address has the length of its family. */
static __attribute__((unused)) void
fuzz_check_addr(const struct sockaddr_storage *ss, socklen_t len)
{
	if (ss->ss_family == AF_INET)
		FUZZ_CHECK(len == sizeof(struct sockaddr_in));
	else {
		FUZZ_CHECK(ss->ss_family == AF_INET6);
		FUZZ_CHECK(len == sizeof(struct sockaddr_in6));
	}
}

/*
 * A socket bound to an ephemeral port on 127.0.0.1, listening when
 * backlog > 0 (else connects to it are refused); the port in *port_r.
 */
static __attribute__((unused)) int
fuzz_bind_loopback(int type, int backlog, unsigned int *port_r)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);
	int			 fd;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, type, 0)) == -1 ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    (backlog > 0 && listen(fd, backlog) == -1) ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) == -1)
		FUZZ_FATAL("cannot bind a loopback port: %s", strerror(errno));
	*port_r = ntohs(sin.sin_port);
	return fd;
}

#endif
