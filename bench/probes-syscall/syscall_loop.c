// SPDX-License-Identifier: Apache-2.0
/*
 * Times syscalls in a loop. Reads commands from stdin, one per line: "<recvfrom|getppid> <calls>",
 * answers "<ns per call>". recvfrom is a probed net syscall made cheap (MSG_DONTWAIT on an empty
 * UDP socket: EAGAIN at once); getppid is "every other syscall".
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(void)
{
	char line[128], what[32], buf[16];
	long calls;
	int sock = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

	bind(sock, (struct sockaddr *)&addr, sizeof(addr));
	printf("ready %d\n", getpid());
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin)) {
		if (sscanf(line, "%31s %ld", what, &calls) != 2)
			break;
		double start = now_ns();
		if (strcmp(what, "recvfrom") == 0)
			for (long i = 0; i < calls; i++)
				recvfrom(sock, buf, sizeof(buf), MSG_DONTWAIT, NULL, NULL);
		else
			for (long i = 0; i < calls; i++)
				syscall(SYS_getppid);
		printf("%.1f\n", (now_ns() - start) / calls);
		fflush(stdout);
	}
	return 0;
}
