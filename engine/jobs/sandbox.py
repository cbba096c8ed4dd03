"""How a job's child is walled in, decided once per worker from what this machine allows.

Layers, outermost first (``layers()`` says which hold here, and why the others do not):

- **namespaces** (bubblewrap, ``bwrap``): the child sees a root made only of the libraries (Python, its
  packages, Trimline's code), its input artifacts (read-only) and its scratch folder; its own ``/proc``
  showing only its own processes; no network interface; private ``/tmp`` and ``/dev``.
- **user**: started by root, the child runs as ``nobody`` (bubblewrap binds by open file descriptor, so
  nothing has to be world-traversable); when that cannot work, root's capabilities are dropped.
- **landlock** and **seccomp**: applied by the child itself before it reads anything untrusted
  (``engine.jobs.child``): file access only beneath the paths listed in ``sandbox.json``, no TCP, no
  signals outside the job; no network sockets, ptrace, mounts or new namespaces.
- **limits**: no core dumps, bounded file sizes, open files and processes; memory and wall-clock limits
  are enforced by the runner watching the process tree.
"""
from __future__ import annotations

import ctypes
import json
import logging
import os
import shutil
import stat
import subprocess
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from engine.errors import InputError
from engine.jobs import landlock, seccomp

log = logging.getLogger("trimline.sandbox")

SANDBOX_UID = 65534  # nobody
CODE_ROOT = Path(__file__).resolve().parents[2]
READ_EXTRA = ("/proc", "/dev/urandom", "/dev/random", "/dev/zero", "/sys/devices/system/cpu", "/sys/fs/cgroup",
              "/etc/ld.so.cache", "/etc/localtime")
BWRAP_EXTRA = ("/sys/devices/system/cpu", "/etc/ld.so.cache", "/etc/localtime")  # the rest are made by bwrap
WRITE_EXTRA = ("/dev/null", "/dev/shm")
PR_SET_DUMPABLE, PR_CAPBSET_DROP = 4, 24


@dataclass(frozen=True)
class Launch:
    """What the runner needs to start one sandboxed child: its command and what runs before exec."""

    argv: list[str]
    preexec: object
    sandbox_uid: int | None = None


@lru_cache(maxsize=1)
def library_roots() -> tuple[Path, ...]:
    """Folders the child must read to run Python, its packages and Trimline: nothing else."""
    found = {Path("/usr"), CODE_ROOT}
    for prefix in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix):
        found.update({Path(prefix), Path(prefix).resolve()})
    for entry in sys.path + os.environ.get("PYTHONPATH", "").split(os.pathsep):
        if entry and Path(entry).is_dir() and Path(entry).resolve() != Path.cwd().resolve():
            found.update({Path(entry).absolute(), Path(entry).resolve()})
    found = {p for p in found if p.exists() and p != Path("/")}
    return tuple(sorted(p for p in found if not any(p != q and p.is_relative_to(q) for q in found)))


def _others_can_reach(path: Path) -> bool:
    """Whether an unrelated user can open ``path``: every folder above it is world-searchable."""
    for folder in [*path.resolve().parents][::-1]:
        if not folder.stat().st_mode & stat.S_IXOTH:
            return False
    return bool(path.resolve().stat().st_mode & stat.S_IROTH)


def _bwrap_base() -> list[str]:
    """bubblewrap's namespaces. Started by root it runs privileged (no user namespace) so that it can
    bind folders only root can reach, and the child then drops to ``nobody`` through ``setpriv``."""
    unshare = (["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
               if os.geteuid() == 0 else ["--unshare-all"])
    return [shutil.which("bwrap") or "bwrap", *unshare, "--die-with-parent", "--proc", "/proc", "--dev", "/dev",
            "--perms", "1777", "--tmpfs", "/tmp", "--perms", "1777", "--tmpfs", "/dev/shm", *_usr_links()]


def _drop_to_nobody() -> list[str]:
    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0 or setpriv is None:
        return []
    return [setpriv, f"--reuid={SANDBOX_UID}", f"--regid={SANDBOX_UID}", "--clear-groups", "--bounding-set=-all",
            "--inh-caps=-all", "--"]


@lru_cache(maxsize=1)
def _bwrap_probe() -> str | None:
    """None when bubblewrap can build a sandbox here (and drop to ``nobody`` when root), else why not."""
    if shutil.which("bwrap") is None:
        return "bubblewrap (bwrap) is not installed; install the 'bubblewrap' package"
    if os.geteuid() == 0 and shutil.which("setpriv") is None:
        return "setpriv (util-linux) is missing, so a root worker cannot drop its jobs to another user"
    argv = [*_bwrap_base(), "--ro-bind", "/usr", "/usr", "--", *_drop_to_nobody(), "/usr/bin/true"]
    try:
        done = subprocess.run(argv, capture_output=True, timeout=20)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"bubblewrap could not start ({exc})"
    if done.returncode != 0:
        detail = done.stderr.decode(errors="replace").strip().splitlines()
        return f"bubblewrap cannot create namespaces here ({detail[-1] if detail else done.returncode})"
    return None


def _usr_links() -> list[str]:
    """Merged-/usr systems keep /lib, /bin... as links into /usr; recreate them inside."""
    args = []
    for name in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(name):
            args += ["--symlink", os.readlink(name), name]
        elif os.path.isdir(name):
            args += ["--ro-bind", name, name]
    return args


def _become_nobody() -> None:
    os.setgroups([])
    os.setgid(SANDBOX_UID)
    os.setuid(SANDBOX_UID)


def _drop_capabilities() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in range(64):
        libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)  # exec'ing as root then grants nothing


@lru_cache(maxsize=1)
def layers() -> list[dict]:
    """Each isolation layer: ``{name, active, detail}``, as ``trimline doctor`` shows them."""
    root = os.geteuid() == 0
    bwrap_problem = _bwrap_probe()
    abi = landlock.abi_version()
    switch = _user_switch(bwrap_problem is None)
    return [
        {"name": "namespaces", "active": bwrap_problem is None,
         "detail": "bubblewrap: own mount, pid, network, ipc and uts namespaces; only libraries, inputs and "
                   "scratch visible" if bwrap_problem is None else bwrap_problem},
        {"name": "user", "active": switch or root,
         "detail": f"jobs run as uid {SANDBOX_UID} (nobody)" if switch else
         ("jobs run as root without capabilities (Python is not reachable by other users without "
          "bubblewrap)" if root else "jobs run as the worker's own user (not started as root)")},
        {"name": "landlock", "active": abi >= 1,
         "detail": f"ABI {abi}: files beneath listed paths only" + (", no TCP" if abi >= 4 else "") +
                   (", no signals outside the job" if abi >= 6 else "") if abi >= 1 else
                   "the kernel offers no Landlock (Linux 5.13+ with the LSM enabled)"},
        {"name": "seccomp", "active": seccomp.supported(),
         "detail": "no network sockets, ptrace, mounts or new namespaces" if seccomp.supported() else
                   "no filter for this CPU architecture"},
        {"name": "limits", "active": True,
         "detail": "no core dumps; file size, open files and processes capped; memory and time watched"},
    ]


def _user_switch(namespaces: bool) -> bool:
    """Root drops its jobs to ``nobody``: inside bubblewrap always; without it only when ``nobody`` can
    reach Python and the libraries where they lie."""
    if os.geteuid() != 0:
        return False
    return namespaces or all(_others_can_reach(p) for p in (Path(sys.executable), *library_roots()))


def describe() -> str:
    return "; ".join(f"{layer['name']}: {'on' if layer['active'] else 'off'}" for layer in layers())


def _safe_roots(home: Path) -> list[Path]:
    """Library roots that do not hold the home (a PYTHONPATH entry above it would expose the database)."""
    roots = [p for p in library_roots() if not home.is_relative_to(p.resolve())]
    for skipped in set(library_roots()) - set(roots):
        log.warning("not exposing %s to jobs: it holds the Trimline home %s", skipped, home)
    return roots


def prepare(scratch: Path, inputs: list[Path], child_argv: list[str], limits: object, home: Path) -> Launch:
    """Write ``sandbox.json`` for the child and build the command that starts it inside the sandbox.

    ``inputs`` are the artifacts the job reads (bound read-only); ``limits`` is the runner's preexec
    function (rlimits, parent-death signal). Raises InputError for an input that would expose the home.
    """
    inputs = [Path(p).resolve() for p in inputs]
    for path in inputs:
        if home.is_relative_to(path):
            raise InputError(f"a job may not read {path}: it holds the Trimline home")
    state = {layer["name"]: layer["active"] for layer in layers()}
    switch = _user_switch(state["namespaces"])
    roots = _safe_roots(home)
    read = [*map(str, roots), *map(str, inputs), *READ_EXTRA]
    write = [str(scratch), *WRITE_EXTRA, *(["/tmp"] if state["namespaces"] else [])]  # a private /tmp only
    (scratch / "tmp").mkdir(exist_ok=True)
    (scratch / "home").mkdir(exist_ok=True)
    (scratch / "sandbox.json").write_text(json.dumps({"read": read, "write": write, "layers": state}))
    if switch:
        for path in [scratch, *scratch.rglob("*")]:
            os.chown(path, SANDBOX_UID, SANDBOX_UID, follow_symlinks=False)

    def preexec() -> None:
        if switch:
            _become_nobody()
        elif os.geteuid() == 0:
            _drop_capabilities()
        limits()  # after the user change: changing credentials clears the parent-death signal

    if not state["namespaces"]:
        return Launch(argv=child_argv, preexec=preexec, sandbox_uid=SANDBOX_UID if switch else None)
    argv = _bwrap_base()
    binds = sorted([*roots, *(Path(p) for p in BWRAP_EXTRA if Path(p).exists())], key=lambda p: len(p.parts))
    folders = sorted({a for p in [*binds, *inputs, scratch] for a in p.parents if a != Path("/")},
                     key=lambda p: len(p.parts))
    for folder in folders:  # searchable by the child's user (bubblewrap run by root makes them 0700)
        argv += ["--perms", "0755", "--dir", str(folder)]
    for path in [*binds, *inputs]:
        argv += ["--ro-bind", str(path), str(path)]
    argv += ["--bind", str(scratch), str(scratch), "--chdir", str(scratch), "--", *_drop_to_nobody(), *child_argv]
    return Launch(argv=argv, preexec=limits, sandbox_uid=SANDBOX_UID if switch else None)


def make_non_dumpable() -> None:
    """No core dumps of this process, and no other process of the same user may read its memory or
    /proc files (environ, maps, mem): a job's child cannot lift the worker's secrets."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
