/*
 * spawn: fill the crashpy test guest with sleeping tasks, as a busy server has them.
 *
 *     spawn TASKS [TASKS_PER_PROCESS]
 *
 * Starts TASKS tasks in all: processes of TASKS_PER_PROCESS tasks each (a main thread and its
 * pthreads, default 4), every one asleep in pause(), and returns once every process has started all
 * its threads.  Each process and thread gets its own name, so `ps` has varied lines to print.
 * Built statically by tools/vmcores.py (gcc -static -pthread) for the busybox initramfs.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
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

int main(int argc, char **argv)
{
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
