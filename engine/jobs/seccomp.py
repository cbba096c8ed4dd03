"""A seccomp filter for a job's child: no network sockets, no peeking at other processes, no new
namespaces, no kernel-administration calls.

The filter is a small classic-BPF program built here (no library needed) and installed with
``prctl(PR_SET_SECCOMP)`` after ``PR_SET_NO_NEW_PRIVS``. Refused calls fail with EPERM, so a model that
tries one gets a Python error, not a crash. It holds for the process and everything it starts.
"""
from __future__ import annotations

import ctypes
import platform
import struct

PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2
_RET_ALLOW, _RET_KILL_PROCESS, _RET_ERRNO = 0x7FFF0000, 0x80000000, 0x00050000
_EPERM, _ENOSYS = 1, 38
_LD_ABS, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06
AF_UNIX = 1
_NEW_NAMESPACES = 0x7E020000  # CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET

# (audit arch, socket, clone, clone3, refused calls) per architecture
_ARCH = {
    "x86_64": (0xC000003E, 41, 56, 435, {
        "ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311, "kexec_load": 246,
        "kexec_file_load": 320, "init_module": 175, "finit_module": 313, "delete_module": 176, "mount": 165,
        "umount2": 166, "pivot_root": 155, "swapon": 167, "swapoff": 168, "reboot": 169, "bpf": 321,
        "perf_event_open": 298, "keyctl": 250, "add_key": 248, "request_key": 249, "userfaultfd": 323,
        "open_by_handle_at": 304, "setns": 308, "unshare": 272, "acct": 163, "iopl": 172, "ioperm": 173,
        "io_uring_setup": 425, "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsmount": 432}),
    "aarch64": (0xC00000B7, 198, 220, 435, {
        "ptrace": 117, "process_vm_readv": 270, "process_vm_writev": 271, "kexec_load": 104,
        "kexec_file_load": 294, "init_module": 105, "finit_module": 273, "delete_module": 106, "mount": 40,
        "umount2": 39, "pivot_root": 41, "swapon": 224, "swapoff": 225, "reboot": 142, "bpf": 280,
        "perf_event_open": 241, "keyctl": 219, "add_key": 217, "request_key": 218, "userfaultfd": 282,
        "open_by_handle_at": 265, "setns": 268, "unshare": 97, "acct": 89, "io_uring_setup": 425,
        "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsmount": 432}),
}


def supported() -> bool:
    """Whether Trimline has a filter for this CPU architecture (the kernel is asked when installing)."""
    return platform.machine() in _ARCH


def _program(machine: str) -> bytes:
    arch, socket_nr, clone_nr, clone3_nr, refused = _ARCH[machine]
    denied = sorted(nr for nr in refused.values() if nr >= 0)
    # Labels are resolved to relative jumps once the layout is known.
    code: list[tuple] = [("ld", 4), ("jeq", arch, None, "kill"), ("ld", 0)]
    if machine == "x86_64":
        code.append(("jge", 0x40000000, "deny", None))  # x32 numbering would slip past the list below
    code += [("jeq", nr, "deny", None) for nr in denied]
    code += [("jeq", socket_nr, "socket", None), ("jeq", clone_nr, "clone", None),
             ("jeq", clone3_nr, "nosys", None), ("ret", _RET_ALLOW),
             ("label", "socket"), ("ld", 16), ("jeq", AF_UNIX, "allow", "deny"),
             ("label", "clone"), ("ld", 16), ("jset", _NEW_NAMESPACES, "deny", "allow"),
             ("label", "allow"), ("ret", _RET_ALLOW),
             ("label", "deny"), ("ret", _RET_ERRNO | _EPERM),
             ("label", "nosys"), ("ret", _RET_ERRNO | _ENOSYS),  # libc falls back to clone(), which is checked
             ("label", "kill"), ("ret", _RET_KILL_PROCESS)]
    # Classic BPF only jumps forward: every check above comes before the returns it jumps to.
    labels, index = {}, 0
    for item in code:
        if item[0] == "label":
            labels[item[1]] = index
        else:
            index += 1
    out, index = [], 0
    for item in code:
        if item[0] == "label":
            continue
        kind = item[0]
        if kind == "ld":
            out.append(struct.pack("<HBBI", _LD_ABS, 0, 0, item[1]))
        elif kind == "ret":
            out.append(struct.pack("<HBBI", _RET, 0, 0, item[1]))
        else:
            op = {"jeq": _JEQ, "jge": _JGE, "jset": _JSET}[kind]
            jt = labels[item[2]] - index - 1 if item[2] else 0
            jf = labels[item[3]] - index - 1 if item[3] else 0
            out.append(struct.pack("<HBBI", op, jt, jf, item[1]))
        index += 1
    return b"".join(out)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install() -> list[str]:
    """Install the filter on this process; returns what now holds, in words (empty when unsupported).
    Raises OSError when the kernel refuses it."""
    machine = platform.machine()
    if machine not in _ARCH:
        return []
    program = _program(machine)
    buffer = ctypes.create_string_buffer(program, len(program))
    prog = _SockFprog(len(program) // 8, ctypes.cast(buffer, ctypes.c_void_p))
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP) failed")
    return ["no network sockets (only local pipes)", "no ptrace or reading other processes' memory",
            "no new namespaces, mounts, kernel modules or io_uring"]
