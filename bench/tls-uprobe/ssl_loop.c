// SPDX-License-Identifier: Apache-2.0
/*
 * Calls SSL_do_handshake() N times on an SSL object with no connection type set: libssl returns
 * -1 at once (SSL_R_CONNECTION_TYPE_NOT_SET), so the loop measures the probe, not a handshake.
 * Declared by hand so the benchmark needs no libssl-dev headers. Waits for a line on stdin before
 * looping, so probes can attach to this pid first; prints the loop's wall time in ns.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

void *TLS_client_method(void);
void *SSL_CTX_new(const void *method);
void *SSL_new(void *ctx);
int SSL_do_handshake(void *ssl);
void ERR_clear_error(void);

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 200000;
	void *ctx = SSL_CTX_new(TLS_client_method());
	void *ssl = SSL_new(ctx);
	char line[16];
	struct timespec a, b;

	printf("ready\n");
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < n; i++) {
		SSL_do_handshake(ssl);
		if ((i & 1023) == 0)
			ERR_clear_error(); /* keep the error queue from growing */
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%lld\n", (long long)(b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec));
	return 0;
}
