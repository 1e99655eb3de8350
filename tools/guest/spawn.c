/*
 * spawn: fill the crashpy test guest with sleeping tasks, as a busy server has them.
 *
 *     spawn TASKS [TASKS_PER_PROCESS]
 *
 * Starts TASKS tasks in all: processes of TASKS_PER_PROCESS tasks each (a main thread and its
 * pthreads, default 4), every one asleep in pause(), and returns once every process has started all
 * its threads.  Each process and thread gets its own name, so `ps` has varied lines to print.
 *
 *     spawn hog MEGABYTES
 *
 * Starts one process, "hog", that fills MEGABYTES of anonymous memory (each 8-byte word holds its
 * own address, so a page read back from swap is recognisable), and returns once it has; the hog
 * then sleeps.  On a guest with less memory than that, the kernel swaps part of it out.
 * Built statically by tools/vmcores.py (gcc -static -pthread) for the busybox initramfs.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

static void *sleeper(void *arg)
{
	char name[16];

	snprintf(name, sizeof(name), "worker/%ld", (long)arg);
	prctl(PR_SET_NAME, name, 0, 0, 0);
	for (;;)
		pause();
	return NULL;
}

static int hog(long megabytes)
{
	int ready[2];
	char c = 1;
	pid_t pid;

	if (megabytes <= 0 || pipe(ready) != 0)
		return 2;
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		size_t size = (size_t)megabytes << 20;
		unsigned long *words = malloc(size);

		close(ready[0]);
		prctl(PR_SET_NAME, "hog", 0, 0, 0);
		if (words == NULL)
			return 1;
		for (size_t i = 0; i < size / sizeof(*words); i++)
			words[i] = (unsigned long)&words[i];
		if (write(ready[1], &c, 1) != 1)
			return 1;
		close(ready[1]);
		for (;;)
			pause();
	}
	close(ready[1]);
	if (read(ready[0], &c, 1) != 1)
		return 1;
	printf("spawn: hog of %ld MB started\n", megabytes);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 2 && strcmp(argv[1], "hog") == 0)
		return hog(atol(argv[2]));

	int total = argc > 1 ? atoi(argv[1]) : 0;
	int per = argc > 2 ? atoi(argv[2]) : 4;
	int ready[2], procs = 0, started = 0;
	char c = 1;

	if (total <= 0 || per <= 0 || pipe(ready) != 0)
		return 2;
	for (int left = total; left > 0; left -= per) {
		int n = left < per ? left : per;
		pid_t pid = fork();

		if (pid < 0)
			break;
		if (pid == 0) {
			pthread_attr_t attr;
			char name[16];

			close(ready[0]);
			snprintf(name, sizeof(name), "server%d", procs);
			prctl(PR_SET_NAME, name, 0, 0, 0);
			pthread_attr_init(&attr);
			pthread_attr_setstacksize(&attr, 64 * 1024);
			for (long i = 1; i < n; i++) {
				pthread_t t;

				pthread_create(&t, &attr, sleeper, (void *)i);
			}
			if (write(ready[1], &c, 1) != 1)
				return 1;
			close(ready[1]);
			for (;;)
				pause();
		}
		procs++;
	}
	close(ready[1]);
	while (started < procs && read(ready[0], &c, 1) == 1)
		started++;
	printf("spawn: %d processes of up to %d tasks started\n", started, per);
	return started == procs ? 0 : 1;
}
