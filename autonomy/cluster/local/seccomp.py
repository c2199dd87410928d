"""The sandbox's syscall filter: a small classic-BPF program bubblewrap installs (``--seccomp FD``).

It closes the doors a container has no use for and that widen the shared kernel's attack surface
(runtime notes §3, where the same list was tested): ``unshare``, ``clone`` with ``CLONE_NEWUSER``,
``mount``, ``umount2``, ``pivot_root``, ``setns``, ``keyctl``, ``bpf``, ``ptrace``,
``perf_event_open`` and ``userfaultfd`` fail with EPERM; ``clone3`` fails with ENOSYS (its flags are
in memory a filter cannot read, and libc then falls back to ``clone``, which is checked). Everything
else is allowed: threads, fork/exec, sockets work as before.

The program is built here from the kernel's ABI (``struct seccomp_data``, the syscall numbers of
x86_64) rather than with libseccomp, whose Python binding exists only for Debian's own interpreter.
It is only built on x86_64 (:func:`filter_program` returns None elsewhere: no filter, said in
``zone status``); a syscall of another ABI (x32, i386) is refused with EPERM.
"""

from __future__ import annotations

import errno
import platform
import struct

__all__ = ["filter_program", "BLOCKED"]

AUDIT_ARCH_X86_64 = 0xC000003E
X32_SYSCALL_BIT = 0x40000000
CLONE_NEWUSER = 0x10000000
RET_ALLOW = 0x7FFF0000
RET_ERRNO = 0x00050000

# x86_64 syscall numbers (arch/x86/entry/syscalls/syscall_64.tbl)
BLOCKED = {"ptrace": 101, "pivot_root": 155, "mount": 165, "umount2": 166, "keyctl": 250, "unshare": 272,
           "perf_event_open": 298, "setns": 308, "bpf": 321, "userfaultfd": 323}
CLONE = 56
CLONE3 = 435

_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JGE_K = 0x35
_JSET_K = 0x45
_RET_K = 0x06


def _ins(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("<HBBI", code, jt, jf, k)


def filter_program() -> bytes | None:
    """The compiled filter (``struct sock_filter`` entries, as ``--seccomp`` reads them), or None when
    this machine is not x86_64."""
    if platform.machine() != "x86_64":
        return None
    eperm, enosys = RET_ERRNO | errno.EPERM, RET_ERRNO | errno.ENOSYS
    blocked = sorted(BLOCKED.values())
    # Layout: [arch check][nr load][x32 check][one jeq per blocked nr][clone3][clone][allow][eperm][enosys]
    # [clone flags check]. Jump offsets count the instructions between the jump and its target.
    n = len(blocked)
    head = 4  # ld arch, jeq arch, ld nr, jge x32
    body = n + 2  # jeq per blocked, jeq clone3, jeq clone
    allow_at = head + body
    eperm_at, enosys_at, clone_at = allow_at + 1, allow_at + 2, allow_at + 3
    prog = [_ins(_LD_W_ABS, 4),
            _ins(_JEQ_K, AUDIT_ARCH_X86_64, 0, eperm_at - 2),  # another arch: refused
            _ins(_LD_W_ABS, 0),
            _ins(_JGE_K, X32_SYSCALL_BIT, eperm_at - 4, 0)]
    for i, nr in enumerate(blocked):
        at = head + i
        prog.append(_ins(_JEQ_K, nr, eperm_at - at - 1, 0))
    prog.append(_ins(_JEQ_K, CLONE3, enosys_at - (head + n) - 1, 0))
    prog.append(_ins(_JEQ_K, CLONE, clone_at - (head + n + 1) - 1, 0))
    prog += [_ins(_RET_K, RET_ALLOW), _ins(_RET_K, eperm), _ins(_RET_K, enosys)]
    # clone: flags are args[0], whose low 32 bits are at offset 16 of struct seccomp_data
    prog += [_ins(_LD_W_ABS, 16), _ins(_JSET_K, CLONE_NEWUSER, 0, 1), _ins(_RET_K, eperm), _ins(_RET_K, RET_ALLOW)]
    assert len(prog) == clone_at + 4  # the layout above
    return b"".join(prog)
