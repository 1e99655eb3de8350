// SPDX-License-Identifier: GPL-2.0
/*
 * oracle_crash: crash the kernel on request, for crashpy's test dumps.
 *
 * Debian's cloud kernel has no lkdtm, so this small module stands in for it.
 * Writing one word to /sys/kernel/debug/oracle_crash/trigger crashes the kernel:
 *
 *   bug    BUG() in oracle_BUG()                     -> "kernel BUG at ..."
 *   null   store through NULL in oracle_null_write() -> "BUG: kernel NULL pointer dereference"
 *   panic  panic() in oracle_panic()                 -> "Kernel panic - not syncing: oracle_crash: panic"
 *   nmi    a kthread spins with interrupts off on the other CPU, then panic(): the reboot IPI
 *          cannot stop that CPU, so the kernel stops it with an NMI (its state is on the NMI
 *          stack of the cpu_entry_area)                -> "Kernel panic - not syncing: oracle_crash: nmi"
 *   warn   WARN_ON() in oracle_warn(), with panic_on_warn set by the guest's /init
 *                                                    -> "WARNING: CPU: ... oracle_warn+", "panic_on_warn set"
 *   softlockup  oracle_softlockup() spins with preemption off; with softlockup_panic and a 1 s
 *          watchdog_thresh the watchdog panics       -> "BUG: soft lockup - CPU#n stuck for ..."
 *   hung   a kthread, oracle_holder, takes oracle_mutex and sleeps; another, oracle_waiter, blocks
 *          on it (TASK_UNINTERRUPTIBLE); with hung_task_panic and a short timeout khungtaskd panics
 *                                                    -> "INFO: task oracle_waiter:n blocked for more than"
 *   list   list_del() of a node whose prev pointer was overwritten (CONFIG_DEBUG_LIST with
 *          BUG_ON_DATA_CORRUPTION)                  -> "list_del corruption", "kernel BUG at lib/list_debug.c"
 *   gpf    a store through a non-canonical pointer (LIST_POISON1) in oracle_gpf()
 *                                                    -> "general protection fault, probably for non-canonical address"
 *   stack  oracle_recurse() recurses until it hits its stack's guard page
 *                                                    -> "kernel stack overflow (double-fault)"
 *
 * The trigger functions are noinline so that each shows up as its own frame in backtraces.
 */
#include <linux/completion.h>
#include <linux/cpumask.h>
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/kthread.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/poison.h>
#include <linux/sched.h>
#include <linux/fs.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/panic.h>
#include <linux/string.h>
#include <linux/uaccess.h>

static struct dentry *oracle_dir;

/* Kept in .data so the compiler cannot prove the store goes to NULL and drop it. */
static int *volatile oracle_null_ptr;

static noinline void oracle_BUG(void)
{
	pr_emerg("oracle_crash: calling BUG()\n");
	BUG();
}

static noinline void oracle_null_write(void)
{
	pr_emerg("oracle_crash: writing through a NULL pointer\n");
	*oracle_null_ptr = 0x0dead;
}

static noinline void oracle_panic(void)
{
	pr_emerg("oracle_crash: calling panic()\n");
	panic("oracle_crash: panic");
}

static DECLARE_COMPLETION(oracle_spinning);

/* Runs bound to the other CPU: interrupts off, then spin until the NMI stops this CPU. */
static noinline int oracle_spin_irqs_off(void *unused)
{
	local_irq_disable();
	complete(&oracle_spinning);
	for (;;)
		cpu_relax();
	return 0;
}

static noinline void oracle_nmi(void)
{
	struct task_struct *spinner;
	int cpu, target;

	cpu = get_cpu();
	set_cpus_allowed_ptr(current, cpumask_of(cpu));
	target = cpumask_any_but(cpu_online_mask, cpu);
	put_cpu();
	if (target >= nr_cpu_ids) {
		pr_emerg("oracle_crash: nmi needs a second CPU\n");
		return;
	}
	spinner = kthread_create(oracle_spin_irqs_off, NULL, "oracle_spin");
	if (IS_ERR(spinner))
		return;
	kthread_bind(spinner, target);
	wake_up_process(spinner);
	wait_for_completion(&oracle_spinning);
	mdelay(100);
	pr_emerg("oracle_crash: CPU %d spins with interrupts off; calling panic()\n", target);
	panic("oracle_crash: nmi");
}

static noinline void oracle_warn(void)
{
	pr_emerg("oracle_crash: calling WARN_ON(1)\n");
	WARN_ON(1);
}

static noinline void oracle_softlockup(void)
{
	pr_emerg("oracle_crash: spinning with preemption off\n");
	preempt_disable();
	for (;;)
		cpu_relax();
}

static DEFINE_MUTEX(oracle_mutex);
static DECLARE_COMPLETION(oracle_locked);

/* Takes oracle_mutex and keeps it, asleep (interruptibly, so not itself a hung task). */
static noinline int oracle_hold(void *unused)
{
	mutex_lock(&oracle_mutex);
	complete(&oracle_locked);
	for (;;)
		schedule_timeout_interruptible(MAX_SCHEDULE_TIMEOUT);
	return 0;
}

/* Blocks on oracle_mutex in TASK_UNINTERRUPTIBLE until khungtaskd notices. */
static noinline int oracle_wait_for_mutex(void *unused)
{
	mutex_lock(&oracle_mutex);
	mutex_unlock(&oracle_mutex);
	return 0;
}

static noinline void oracle_hung(void)
{
	struct task_struct *holder;

	holder = kthread_run(oracle_hold, NULL, "oracle_holder");
	if (IS_ERR(holder))
		return;
	wait_for_completion(&oracle_locked);
	kthread_run(oracle_wait_for_mutex, NULL, "oracle_waiter");
	pr_emerg("oracle_crash: oracle_waiter blocks on oracle_mutex, held by oracle_holder\n");
}

/* Static, so that the nodes are in the module's data and can be read back from the dump. */
static LIST_HEAD(oracle_list);
static struct list_head oracle_nodes[3];
static struct list_head oracle_decoy = LIST_HEAD_INIT(oracle_decoy);

static noinline void oracle_list_corrupt(void)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(oracle_nodes); i++)
		list_add_tail(&oracle_nodes[i], &oracle_list);
	/* A stray write: the middle node's prev now points at a list it is not on. */
	WRITE_ONCE(oracle_nodes[1].prev, &oracle_decoy);
	pr_emerg("oracle_crash: deleting a node whose prev pointer was overwritten\n");
	list_del(&oracle_nodes[1]);
}

static noinline void oracle_gpf(void)
{
	pr_emerg("oracle_crash: writing through a non-canonical pointer\n");
	*(volatile unsigned long *)LIST_POISON1 = 0x0dead;
}

/* Never 0 at run time; kept in .data so that the compiler cannot see the recursion is endless. */
static volatile int oracle_max_depth = 1 << 30;

static noinline int oracle_recurse(int depth)
{
	volatile char frame[256];

	frame[0] = (char)depth;
	if (depth >= oracle_max_depth)
		return frame[0];
	return oracle_recurse(depth + 1) + frame[0];
}

static noinline void oracle_stack_overflow(void)
{
	pr_emerg("oracle_crash: recursing until the stack overflows\n");
	pr_emerg("oracle_crash: depth %d\n", oracle_recurse(0));
}

static ssize_t oracle_trigger_write(struct file *file, const char __user *ubuf,
				    size_t count, loff_t *ppos)
{
	char word[16];
	size_t len = min(count, sizeof(word) - 1);

	if (copy_from_user(word, ubuf, len))
		return -EFAULT;
	word[len] = '\0';
	strim(word);

	if (!strcmp(word, "bug"))
		oracle_BUG();
	else if (!strcmp(word, "null"))
		oracle_null_write();
	else if (!strcmp(word, "panic"))
		oracle_panic();
	else if (!strcmp(word, "nmi"))
		oracle_nmi();
	else if (!strcmp(word, "warn"))
		oracle_warn();
	else if (!strcmp(word, "softlockup"))
		oracle_softlockup();
	else if (!strcmp(word, "hung"))
		oracle_hung();
	else if (!strcmp(word, "list"))
		oracle_list_corrupt();
	else if (!strcmp(word, "gpf"))
		oracle_gpf();
	else if (!strcmp(word, "stack"))
		oracle_stack_overflow();
	else
		return -EINVAL;
	return count;
}

static const struct file_operations oracle_trigger_fops = {
	.owner = THIS_MODULE,
	.write = oracle_trigger_write,
	.llseek = noop_llseek,
};

static int __init oracle_crash_init(void)
{
	oracle_dir = debugfs_create_dir("oracle_crash", NULL);
	debugfs_create_file("trigger", 0200, oracle_dir, NULL, &oracle_trigger_fops);
	pr_info("oracle_crash: write bug, null, panic, nmi, warn, softlockup, hung, list, gpf or stack to /sys/kernel/debug/oracle_crash/trigger\n");
	return 0;
}

static void __exit oracle_crash_exit(void)
{
	debugfs_remove_recursive(oracle_dir);
}

module_init(oracle_crash_init);
module_exit(oracle_crash_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Crash the kernel on request (crashpy test dumps)");
