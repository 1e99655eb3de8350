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
 *
 * The trigger functions are noinline so that each shows up as its own frame in backtraces.
 */
#include <linux/completion.h>
#include <linux/cpumask.h>
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/kthread.h>
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
	pr_info("oracle_crash: write bug, null, panic or nmi to /sys/kernel/debug/oracle_crash/trigger\n");
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
