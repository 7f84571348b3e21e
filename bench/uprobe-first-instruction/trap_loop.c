// SPDX-License-Identifier: Apache-2.0
/*
 * Four functions that differ only in their first instruction, called back to back: the cost of a
 * uprobe hit depends on whether the kernel emulates that instruction or single-steps it
 * (docs/KERNEL.md §2). Written in assembly so no compiler flag changes the prologue.
 * Prints "ready PID", waits for a line on stdin, then "NAME NS_PER_CALL" per function.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

asm(".text\n"
    ".globl f_push\n.type f_push,@function\nf_push:\n push %rbx\n mov %edi,%eax\n pop %rbx\n ret\n"
    ".size f_push,.-f_push\n"
    ".globl f_nop5\n.type f_nop5,@function\nf_nop5:\n .byte 0x0f,0x1f,0x44,0x00,0x00\n mov %edi,%eax\n ret\n"
    ".size f_nop5,.-f_nop5\n"
    ".globl f_mov\n.type f_mov,@function\nf_mov:\n mov %edi,%eax\n add $1,%eax\n ret\n"
    ".size f_mov,.-f_mov\n"
    ".globl f_endbr\n.type f_endbr,@function\nf_endbr:\n endbr64\n mov %edi,%eax\n ret\n"
    ".size f_endbr,.-f_endbr\n");
int f_push(int), f_nop5(int), f_mov(int), f_endbr(int);

static double now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

int main(int argc, char **argv)
{
	int calls = argc > 1 ? atoi(argv[1]) : 200000;
	int (*functions[])(int) = { f_push, f_nop5, f_mov, f_endbr };
	const char *names[] = { "f_push", "f_nop5", "f_mov", "f_endbr" };
	char line[16];
	volatile int sink = 0;

	printf("ready %d\n", getpid());
	fflush(stdout);
	if (!fgets(line, sizeof line, stdin))
		return 1;
	for (int k = 0; k < 4; k++) {
		double start = now_ns();

		for (int i = 0; i < calls; i++)
			sink += functions[k](i);
		printf("%s %.1f\n", names[k], (now_ns() - start) / calls);
		fflush(stdout);
	}
	return 0;
}
