// SPDX-License-Identifier: GPL-2.0
/*
 * Guest helper for the reference series checks (static, no deps):
 *   zsb fill <cgroup dir> <MiB>   join the cgroup, fill MiB of anonymous
 *                                 memory with compressible data, touch it
 *                                 once more, print "filled" and sleep
 *   zsb write <file> <string>     write string, print "OK" or the errno name
 *   zsb stat <cgroup dir> <key>   print one memory.stat value
 *   zsb write-int <file> <string> <ms>
 *                                 as write, but SIGALRM (no SA_RESTART)
 *                                 after ms milliseconds
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <unistd.h>

static const char *errname(int e)
{
	switch (e) {
	case EAGAIN: return "EAGAIN";
	case EINVAL: return "EINVAL";
	case EINTR: return "EINTR";
	case EBUSY: return "EBUSY";
	case ENOENT: return "ENOENT";
	default: return strerror(e);
	}
}

static int do_write(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY);

	if (fd < 0) {
		printf("open:%s\n", errname(errno));
		return 1;
	}
	if (write(fd, s, strlen(s)) < 0) {
		printf("%s\n", errname(errno));
		close(fd);
		return 1;
	}
	printf("OK\n");
	close(fd);
	return 0;
}

static int do_fill(const char *cg, long mib)
{
	char path[4096], pid[32];
	size_t len = (size_t)mib << 20, i;
	unsigned int seed = 12345;
	char *p;

	snprintf(path, sizeof(path), "%s/cgroup.procs", cg);
	snprintf(pid, sizeof(pid), "%d", getpid());
	if (do_write(path, pid))
		return 1;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return 1;
	/* 4K pages: 1K of pseudo-random bytes, the rest a pattern (~3:1) */
	for (i = 0; i < len; i += 4096) {
		size_t j;

		for (j = 0; j < 1024; j++) {
			seed = seed * 1103515245 + 12345;
			p[i + j] = seed >> 16;
		}
		memset(p + i + 1024, (int)(i >> 12) & 0x7f, 3072);
	}
	printf("filled\n");
	fflush(stdout);
	for (;;)
		pause();
	return 0;
}

static int do_stat(const char *cg, const char *key)
{
	char path[4096], k[128];
	unsigned long long v;
	FILE *f;

	snprintf(path, sizeof(path), "%s/memory.stat", cg);
	f = fopen(path, "r");
	if (!f)
		return 1;
	while (fscanf(f, "%127s %llu", k, &v) == 2) {
		if (!strcmp(k, key)) {
			printf("%llu\n", v);
			fclose(f);
			return 0;
		}
	}
	fclose(f);
	printf("missing\n");
	return 1;
}

static void on_alarm(int sig)
{
	(void)sig;
}

static int do_write_int(const char *path, const char *s, long ms)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	struct itimerval it = { .it_value = { ms / 1000, (ms % 1000) * 1000 } };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &it, NULL);
	return do_write(path, s);
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "write-int"))
		return do_write_int(argv[2], argv[3], atol(argv[4]));
	if (argc == 4 && !strcmp(argv[1], "fill"))
		return do_fill(argv[2], atol(argv[3]));
	if (argc == 4 && !strcmp(argv[1], "write"))
		return do_write(argv[2], argv[3]);
	if (argc == 4 && !strcmp(argv[1], "stat"))
		return do_stat(argv[2], argv[3]);
	fprintf(stderr, "usage: zsb fill|write|stat ...\n");
	return 2;
}
