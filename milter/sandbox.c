/* milter/sandbox.c - a worker's limits, Landlock and seccomp (sandbox.h). */
#include "config.h"

#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/landlock.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <seccomp.h>

#include "sandbox.h"

#if defined(__SANITIZE_ADDRESS__)
#define SANDBOX_ASAN	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANDBOX_ASAN	1
#endif
#endif

#define SANDBOX_NOFILE	64

/* Newer than the kernel headers of some distributions (Linux 6.2). */
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE	(1ULL << 14)
#endif

/* What scanning needs. Anything not listed kills the worker. */
static const char *const allowed[] = {
	/* memory */
	"brk", "mmap", "munmap", "mprotect", "mremap", "madvise", "msync",
	"mincore",
	/* descriptors the worker has, and files (Landlock bounds where) */
	"read", "write", "readv", "writev", "pread64", "pwrite64", "lseek",
	"close", "fstat", "newfstatat", "stat", "lstat", "statx", "fstatfs",
	"statfs", "open", "openat", "unlink", "unlinkat", "mkdir", "mkdirat",
	"rmdir", "getdents64", "fcntl", "dup", "dup2", "dup3", "ftruncate",
	"fsync", "fdatasync", "rename", "renameat", "renameat2", "access",
	"faccessat", "faccessat2", "readlink", "readlinkat", "getcwd",
	"umask", "fchmod", "chmod", "fchmodat", "fadvise64", "memfd_create",
	"recvmsg", "sendmsg",
	"poll", "ppoll", "select", "pselect6",
	/* time, randomness, identity */
	"clock_gettime", "clock_getres", "gettimeofday", "time", "nanosleep",
	"clock_nanosleep", "getrandom", "getpid", "gettid", "getppid",
	"getuid", "geteuid", "getgid", "getegid", "uname", "sysinfo",
	"getrusage", "getrlimit", "sched_yield", "sched_getaffinity",
	"times",
	/* signals and the end */
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack",
	"futex", "exit", "exit_group", "restart_syscall", "set_robust_list",
	"rseq",
};

static int
sandbox_caps(struct err *err)
{
	struct __user_cap_header_struct	hdr;
	struct __user_cap_data_struct	data[2];
	int				i;

	/* Drops what the bounding set still has where we may (root). */
	for (i = 0; i < 64; i++)
		if (prctl(PR_CAPBSET_READ, i, 0, 0, 0) == 1)
			(void)prctl(PR_CAPBSET_DROP, i, 0, 0, 0);
	memset(&hdr, 0, sizeof hdr);
	memset(data, 0, sizeof data);
	hdr.version = _LINUX_CAPABILITY_VERSION_3;
	if (syscall(SYS_capset, &hdr, data) == -1)
		return err_set(err, "capset: %s", strerror(errno));
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		return err_set(err, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
	return 0;
}

static int
sandbox_rlimits(uint64_t memory, struct sandbox_report *rep,
    struct err *err)
{
	struct rlimit	rl;

	rl.rlim_cur = rl.rlim_max = 0;
	if (setrlimit(RLIMIT_CORE, &rl) == -1)
		return err_set(err, "RLIMIT_CORE: %s", strerror(errno));
	rl.rlim_cur = rl.rlim_max = SANDBOX_NOFILE;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		return err_set(err, "RLIMIT_NOFILE: %s", strerror(errno));
#ifndef SANDBOX_ASAN
	if (memory != 0) {
		rl.rlim_cur = rl.rlim_max = (rlim_t)memory;
		if (setrlimit(RLIMIT_AS, &rl) == -1)
			return err_set(err, "RLIMIT_AS: %s", strerror(errno));
		rep->rlimit_as = true;
	}
#else
	(void)memory;
	(void)rep;
#endif
	return 0;
}

/* Write access only beneath dir. 0 also when the kernel has no Landlock
 * (rep says so); -1 if it has it and the rules cannot be set. */
static int
sandbox_landlock(const char *dir, struct sandbox_report *rep,
    struct err *err)
{
	struct landlock_ruleset_attr	ra;
	struct landlock_path_beneath_attr pb;
	uint64_t			write_ops;
	long				abi;
	int				rfd, dfd;

	abi = syscall(SYS_landlock_create_ruleset, NULL, 0,
	    LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 1)
		return 0;
	rep->landlock_abi = (int)abi;
	write_ops = LANDLOCK_ACCESS_FS_WRITE_FILE |
	    LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE |
	    LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR |
	    LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SOCK |
	    LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK |
	    LANDLOCK_ACCESS_FS_MAKE_SYM;
	if (abi >= 2)
		write_ops |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		write_ops |= LANDLOCK_ACCESS_FS_TRUNCATE;
	memset(&ra, 0, sizeof ra);
	ra.handled_access_fs = write_ops | LANDLOCK_ACCESS_FS_EXECUTE;
	rfd = (int)syscall(SYS_landlock_create_ruleset, &ra, sizeof ra, 0);
	if (rfd == -1)
		return err_set(err, "landlock_create_ruleset: %s",
		    strerror(errno));
	if ((dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC)) == -1) {
		close(rfd);
		return err_set(err, "scratch directory %s: %s", dir,
		    strerror(errno));
	}
	memset(&pb, 0, sizeof pb);
	pb.allowed_access = write_ops;
	pb.parent_fd = dfd;
	if (syscall(SYS_landlock_add_rule, rfd, LANDLOCK_RULE_PATH_BENEATH,
	    &pb, 0) == -1 ||
	    syscall(SYS_landlock_restrict_self, rfd, 0) == -1) {
		err_set(err, "landlock rules: %s", strerror(errno));
		close(dfd);
		close(rfd);
		return -1;
	}
	close(dfd);
	close(rfd);
	rep->landlock = true;
	return 0;
}

static void
sandbox_sigsys(int sig, siginfo_t *si, void *uc)
{
	char	*name;
	char	 line[128];
	int	 n;

	(void)sig;
	(void)uc;
	/* diagnosis only (PORTCULLIS_SECCOMP=trap): not async-signal-safe */
	name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE,
	    si->si_syscall);
	n = snprintf(line, sizeof line, "portcullis: worker: seccomp: "
	    "system call %s (%d) is not allowed\n", name != NULL ? name : "?",
	    si->si_syscall);
	/* (an if, not a cast: glibc's _FORTIFY_SOURCE warns on the cast) */
	if (n > 0 && write(2, line, (size_t)n) == -1)
		_exit(159);
	_exit(159);
}

static int
sandbox_seccomp(struct err *err)
{
	const char		*mode = getenv("PORTCULLIS_SECCOMP");
	uint32_t		 deny = SCMP_ACT_KILL_PROCESS;
	scmp_filter_ctx		 ctx;
	struct sigaction	 sa;
	size_t			 i;
	int			 nr, rc;

	if (mode != NULL && strcmp(mode, "log") == 0)
		deny = SCMP_ACT_LOG;
	else if (mode != NULL && strcmp(mode, "trap") == 0) {
		deny = SCMP_ACT_TRAP;
		memset(&sa, 0, sizeof sa);
		sa.sa_sigaction = sandbox_sigsys;
		sa.sa_flags = SA_SIGINFO;
		sigaction(SIGSYS, &sa, NULL);
	}
	if ((ctx = seccomp_init(deny)) == NULL)
		return err_set(err, "seccomp_init failed");
	for (i = 0; i < sizeof allowed / sizeof allowed[0]; i++) {
		nr = seccomp_syscall_resolve_name(allowed[i]);
		if (nr == __NR_SCMP_ERROR)
			continue;		/* not on this architecture */
		if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0)) < 0)
			goto fail;
	}
	/* signals to itself only (abort, raise); rlimits of itself only;
	 * isatty() from stdio */
	if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
	    SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid()))) < 0 ||
	    (rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prlimit64), 1,
	    SCMP_A0(SCMP_CMP_EQ, 0))) < 0 ||
	    (rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(setrlimit),
	    0)) < 0 ||
	    (rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
	    SCMP_A1(SCMP_CMP_EQ, TCGETS))) < 0)
		goto fail;
	if ((rc = seccomp_load(ctx)) < 0)
		goto fail;
	seccomp_release(ctx);
	return 0;
fail:
	seccomp_release(ctx);
	return err_set(err, "seccomp: %s", strerror(-rc));
}

int
sandbox_enter(uint64_t memory, const char *scratch_dir,
    struct sandbox_report *rep, struct err *err)
{
	memset(rep, 0, sizeof *rep);
	if (sandbox_caps(err) == -1 || sandbox_rlimits(memory, rep, err) == -1)
		return -1;
	if (scratch_dir != NULL &&
	    sandbox_landlock(scratch_dir, rep, err) == -1)
		return -1;
	return sandbox_seccomp(err);
}

int
sandbox_cpu(uint64_t ms, struct err *err)
{
	struct rusage	ru;
	struct rlimit	rl;
	uint64_t	used;

	if (getrusage(RUSAGE_SELF, &ru) == -1 ||
	    getrlimit(RLIMIT_CPU, &rl) == -1)
		return err_set(err, "getrusage: %s", strerror(errno));
	used = (uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec + 1;
	rl.rlim_cur = (rlim_t)(used + (ms + 999) / 1000);
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_cur > rl.rlim_max)
		rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_CPU, &rl) == -1)
		return err_set(err, "RLIMIT_CPU: %s", strerror(errno));
	return 0;
}
