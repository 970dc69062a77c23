/*
 * milter/sandbox.h - least privilege for a scanning worker, applied once
 * in the worker right after its engine generation forked it (keeper.h),
 * before its first message. The only user of libseccomp and of Landlock.
 *
 * sandbox_enter():
 *  - no capabilities (all sets emptied; the bounding set dropped when we
 *    may), PR_SET_NO_NEW_PRIVS;
 *  - RLIMIT_AS = memory (0 = none; not set under AddressSanitizer, which
 *    reserves terabytes of address space for its shadow), RLIMIT_CORE 0
 *    (no message content in core files), RLIMIT_NOFILE 64 (so a worker
 *    must never send a descriptor: the kernel refuses SCM_RIGHTS from a
 *    process whose user has more descriptors in flight than its
 *    RLIMIT_NOFILE, and that count is shared by every process of the
 *    user; wire.h);
 *  - Landlock (when the kernel has it): files may be created, written,
 *    truncated, renamed or removed only beneath scratch_dir (ClamAV's
 *    temporary files); everything else stays readable (shared libraries,
 *    gconv modules), nothing executable;
 *  - a seccomp filter: the system calls scanning needs (memory, files,
 *    the descriptors the worker already has, time, signals to itself), and
 *    nothing else: no socket(), connect(), bind(), no execve, no fork or
 *    clone, no ptrace, no chown/link/mount. A violation kills the
 *    worker (SCMP_ACT_KILL_PROCESS): to the keeper that is a crash like
 *    any other, and the message becomes poison. The environment variable
 *    PORTCULLIS_SECCOMP=log (report with SCMP_ACT_LOG, do not kill) or
 *    =trap (print the call's name on stderr, then kill) is for finding a
 *    call a new library version needs.
 *
 * seccomp filters cannot see paths (openat's path is a pointer into the
 * process), so the filter cannot restrict where O_CREAT creates a file:
 * Landlock does that part. Without Landlock (kernels before 5.13, or
 * disabled) files can be created wherever the worker's user may write;
 * the systemd unit's ProtectSystem=strict and ReadWritePaths bound that.
 *
 * Errors: -1 with err (the keeper logs it and the worker exits: a worker
 * is never run without its limits). Not thread-safe (one thread).
 */
#ifndef PORTCULLIS_SANDBOX_H
#define PORTCULLIS_SANDBOX_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"

struct sandbox_report {
	bool	landlock;	/* Landlock rules in force */
	int	landlock_abi;	/* kernel's ABI version, 0 = none */
	bool	rlimit_as;	/* RLIMIT_AS set */
};

int	sandbox_enter(uint64_t memory, const char *scratch_dir,
	    struct sandbox_report *rep, struct err *err)
	    __attribute__((warn_unused_result));
/* RLIMIT_CPU for the next message: CPU time used so far plus ms (soft
 * limit: SIGXCPU ends the worker). */
int	sandbox_cpu(uint64_t ms, struct err *err)
	    __attribute__((warn_unused_result));

#endif
