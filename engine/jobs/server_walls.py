"""The walls around a serving process (``trimline serve`` and the servers the Deploy page starts).

A server opens uploaded models, so it is walled in like a job's child, as far as a server can be:

- **bind, then restrict**: the listening socket is bound first, by Trimline's own code; then the process
  confines itself before any model is opened. The socket it already holds keeps answering (accepting a
  connection creates no socket and binds nothing), while Landlock (ABI 4+) refuses every new TCP bind and
  connect and seccomp refuses every new network socket. Bubblewrap's namespaces are not used here: a
  private network namespace would cut the server off from its own clients, and a mount namespace made at
  start could not show the versions promoted while it serves; Landlock gives the same file wall in place.
- **landlock**: files readable only beneath the libraries and the staged folders of the names it serves
  (``engine.serving.staging``: their deployment and the artifacts of their served versions, including those
  promoted later, which are staged there before the server loads them); writable only beneath the server's
  own scratch folder (its ``TMPDIR``). Not the artifact store (no other model's artifact), the database, the
  uploads, the logs, the secrets, another deployment's models, nor any file elsewhere on the machine.
- **seccomp**: no new network sockets, ptrace, mounts, new namespaces or io_uring.
- **limits**: no core dumps, file sizes, open files and processes capped; not dumpable; secret settings
  (database URLs, the team password) moved out of its environment before the first model loads.

Where the kernel offers no Landlock or no seccomp filter for this CPU, the server runs without that
layer and says so in its log (and so in its status on the Deploy page) and in ``trimline doctor``.

It lives beside the job sandbox, whose layers it reuses; ``engine.api.serving`` hands ``wall_in`` to the
server, which itself knows nothing of jobs.
"""
from __future__ import annotations

import logging
import os
import resource
import shutil
import tempfile
from pathlib import Path
from typing import Callable

from engine.errors import EngineError
from engine.jobs import landlock, sandbox, seccomp
from storage.settings import Settings

log = logging.getLogger("trimline.serve")

DEVICE_INFO = ("/sys/bus/pci", "/sys/devices")  # execution providers look for their devices here
ACCELERATORS = ("nvidia*", "dri")  # an execution provider other than CPU talks to these


def layers() -> list[dict]:
    """Each wall of a serving process: ``{name, active, detail}``, as ``trimline doctor`` shows them."""
    abi = landlock.abi_version()
    return [
        {"name": "landlock", "active": abi >= 1,
         "detail": f"ABI {abi}: files readable only beneath the libraries and the artifacts of the versions it "
                   "serves, writable only beneath its scratch" + (
                       "; no new TCP bind or connect (it keeps its own listening socket)" if abi >= 4 else "")
         if abi >= 1 else "the kernel offers no Landlock (Linux 5.13+ with the LSM enabled): served models can "
                          "read whatever the server's user can"},
        {"name": "seccomp", "active": seccomp.supported(),
         "detail": "no new network sockets, ptrace, mounts or new namespaces" if seccomp.supported() else
                   "no filter for this CPU architecture"},
        {"name": "limits", "active": True,
         "detail": "no core dumps, not dumpable; file size, open files and processes capped; secrets out of "
                   "its environment"},
    ]


def paths(settings: Settings, scratch: Path, served: list[Path]) -> tuple[list[Path], list[Path]]:
    """What a server may read (the libraries and the ``served`` folders: what it serves) and write."""
    roots = sandbox._safe_roots(settings.home)  # noqa: SLF001  (the job sandbox's library list, the home kept out)
    read = [*roots, *(folder.resolve() for folder in served), *map(Path, sandbox.READ_EXTRA),
            *map(Path, DEVICE_INFO)]
    accelerators = [p for pattern in ACCELERATORS for p in Path("/dev").glob(pattern)]
    write = [scratch, *map(Path, sandbox.WRITE_EXTRA), *accelerators]
    return read, write


def _limits() -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    big = 64 << 30
    resource.setrlimit(resource.RLIMIT_FSIZE, (big, big))
    for limit, value in ((resource.RLIMIT_NOFILE, 65536), (resource.RLIMIT_NPROC, 16384)):
        soft, hard = resource.getrlimit(limit)
        cap = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(limit, (cap, cap))


def scratch_folder(settings: Settings) -> Path:
    """A fresh scratch folder for this server (its ``TMPDIR`` and ``HOME``: Keras unpacks weights and keeps settings there), after sweeping
    those of servers that are gone (a walled-in server can empty its folder, not remove it)."""
    import psutil

    parent = settings.home / "serving" / "scratch"
    for old in parent.glob("*"):
        if not old.name.isdigit() or not psutil.pid_exists(int(old.name)) or int(old.name) == os.getpid():
            shutil.rmtree(old, ignore_errors=True)
    folder = parent / str(os.getpid())
    folder.mkdir(parents=True)
    return folder


def empty(scratch: Path) -> None:
    """Remove what the server left in its scratch folder."""
    for item in scratch.glob("*"):
        shutil.rmtree(item, ignore_errors=True) if item.is_dir() else item.unlink(missing_ok=True)


def confine(settings: Settings, scratch: Path, served: list[Path]) -> list[str]:
    """Wall this process in; returns one line per layer (on or off, and what holds). Call it after the
    listening socket is bound and before any model is opened. Raises EngineError when a layer this machine
    offers cannot be applied."""
    from storage.secret_env import seal_secrets

    os.environ["TMPDIR"] = str(scratch)
    (scratch / "home").mkdir(exist_ok=True)
    os.environ["HOME"] = str(scratch / "home")  # Keras keeps its settings file beneath HOME
    os.environ.pop("KERAS_HOME", None)
    tempfile.tempdir = str(scratch)
    seal_secrets()
    sandbox.make_non_dumpable()
    _limits()
    said = []
    read, write = paths(settings, scratch, served)
    try:
        for layer in layers():
            if not layer["active"]:
                said.append(f"{layer['name']}: off ({layer['detail']})")
                continue
            if layer["name"] == "landlock":
                landlock.restrict(read, write)
            elif layer["name"] == "seccomp":
                seccomp.install()
            said.append(f"{layer['name']}: on ({layer['detail']})")
    except OSError as exc:
        raise EngineError(f"the server's sandbox could not be set up ({exc}); run 'trimline doctor' to see which "
                          "layers this machine allows") from None
    return said


def wall_in(served: list[Path]) -> tuple[list[str], Callable[[], None]]:
    """Make this server's scratch folder and confine the process to reading the ``served`` folders (the staged
    deployments it serves) besides the libraries (``confine``); returns what holds, one line per layer, and
    what empties the scratch folder when the server stops."""
    from storage.settings import get_settings

    settings = get_settings()
    scratch = scratch_folder(settings)
    return confine(settings, scratch, served), lambda: empty(scratch)
