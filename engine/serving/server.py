"""Running a server: in the foreground (``trimline serve``), or on a background thread (tests, load
tests, the benchmark). Checks made before binding: a host beyond loopback needs a token; the port is free."""
from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import signal
import socket
import threading
import time
from typing import Callable

from engine.artifact import Artifact
from engine.errors import EngineError, InputError
from engine.serving.common import ServerOptions
from engine.serving.settings import Deployment


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(options: ServerOptions) -> None:
    """Refuse, with a sentence, a host beyond loopback without a token, and a port already in use."""
    if not is_loopback(options.host) and not options.token:
        raise InputError(f"serving on {options.host} reaches beyond this machine; set a token with --token or "
                         "TRIMLINE_SERVE_TOKEN (clients send 'Authorization: Bearer <token>')")
    if not 0 < options.port < 65536:
        raise InputError(f"port {options.port} is not a TCP port (1-65535)")
    family = socket.AF_INET6 if ":" in options.host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((options.host, options.port))
        except OSError as exc:
            if exc.errno in (98, 48):  # EADDRINUSE on Linux and macOS
                raise InputError(f"port {options.port} on {options.host} is in use; pick another with --port") from None
            raise InputError(f"cannot listen on {options.host}:{options.port} ({exc.strerror})") from None


def _server(deployments: list[Deployment], options: ServerOptions, artifact_for: Callable[[int], Artifact],
            reread: Callable[[str], Deployment] | None, errors: list,
            on_memory_exceeded: Callable[[str], None] | None = None):  # noqa: ANN202
    import uvicorn

    from engine.serving.app import create_app
    from engine.serving.wire import ServingHttpProtocol

    app = create_app(deployments, options, artifact_for, reread, errors, on_memory_exceeded)
    # No proxy-header rewriting (the server answers its own clients and never trusts a forwarded address) and no
    # ``server: uvicorn`` header: a middleware layer and a header fewer on every request.
    config = uvicorn.Config(app, host=options.host, port=options.port, log_level="warning", access_log=False,
                            timeout_keep_alive=30, lifespan="on", proxy_headers=False, server_header=False,
                            http=ServingHttpProtocol.for_limit(options.max_body_bytes, options.read_timeout_s))
    return uvicorn.Server(config)


def _stop_with(server, owner: tuple[int, float]) -> None:  # noqa: ANN001
    """Ask ``server`` to stop once the owning process (pid, start time) is gone."""
    import psutil

    pid, created = owner
    while not server.should_exit:
        try:
            proc = psutil.Process(pid)
            if abs(proc.create_time() - created) >= 1.0 or proc.status() == psutil.STATUS_ZOMBIE:
                break
        except psutil.Error:
            break
        time.sleep(1.0)
    if not server.should_exit:
        logging.getLogger("trimline.serve").warning("the trimline up that started this server is gone; stopping")
        server.should_exit = True


def _listen(options: ServerOptions) -> socket.socket:
    """The server's listening socket, bound before the process walls itself in (it may bind nothing after)."""
    family = socket.AF_INET6 if ":" in options.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((options.host, options.port))
    except OSError as exc:
        sock.close()
        if exc.errno in (98, 48):
            raise InputError(f"port {options.port} on {options.host} is in use; pick another with --port") from None
        raise InputError(f"cannot listen on {options.host}:{options.port} ({exc.strerror})") from None
    return sock


class _Terminated(Exception):
    """SIGTERM (how ``trimline up`` and the Deploy page stop a server): uvicorn shuts down gracefully, then
    raises the signal again, which lands here and is handled as Ctrl-C is, scratch folder emptied."""


def _terminated(signum: int, frame: object) -> None:
    raise _Terminated()


def serve_forever(deployments: list[Deployment], options: ServerOptions, artifact_for: Callable[[int], Artifact],
                  reread: Callable[[str], Deployment] | None = None, owner: tuple[int, float] | None = None,
                  wall_in: Callable[[], tuple[list[str], Callable[[], None]]] | None = None,
                  say: Callable[[str], None] | None = None) -> None:
    """Serve until Ctrl-C or SIGTERM, or until the ``owner`` process (pid, start time) is gone. With
    ``wall_in`` (always, from the CLI: ``engine.jobs.server_walls.wall_in``) the process binds its socket,
    then walls itself in before any model is opened, so ``artifact_for`` must read no database; ``say``
    (default: the log) is told which walls hold. Past its memory limit (``options.memory_mb``) the process
    says so and exits with status 1 at once. Raises EngineError when a model fails to load or a wall
    cannot be built."""
    check_bind(options)
    tell = say or logging.getLogger("trimline.serve").warning
    errors: list = []
    cleanups: list[Callable[[], None]] = []

    def hard_stop(sentence: str) -> None:  # the memory watchdog's thread: no graceful shutdown to wait for
        tell(f"error: {sentence}")
        for cleanup in cleanups:
            cleanup()
        os._exit(1)

    server = _server(deployments, options, artifact_for, reread, errors, hard_stop)
    logging.getLogger("uvicorn.error").addFilter(lambda record: not errors)  # a failed start is told once, below
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminated) if main else None
    try:
        sockets = None
        if wall_in is not None:
            sockets = [_listen(options)]
            held, cleanup = wall_in()
            cleanups.append(cleanup)
            tell("sandbox: " + "; ".join(held))
        if owner is not None:
            threading.Thread(target=_stop_with, args=(server, owner), daemon=True, name="trimline-owner").start()
        server.run(sockets=sockets)
    except (KeyboardInterrupt, _Terminated):  # uvicorn shut down gracefully, then re-raised the signal
        pass
    except SystemExit:  # uvicorn exits when the start failed; the sentence of why is raised below
        if not errors:
            raise
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        for cleanup in cleanups:
            cleanup()
    if errors:
        exc = errors[0]
        raise exc if isinstance(exc, EngineError) else EngineError(f"a model failed to load ({exc})")


class BackgroundServer:
    """A server on a thread, on a free loopback port unless one is given. ``with BackgroundServer(...) as s``."""

    def __init__(self, deployments: list[Deployment], artifact_for: Callable[[int], Artifact],
                 options: ServerOptions | None = None, reread: Callable[[str], Deployment] | None = None) -> None:
        options = options or ServerOptions()
        if options.port == 0:
            options = ServerOptions(**{**options.__dict__, "port": free_port(options.host)})
        self.options, self.errors = options, []
        self._server = _server(deployments, options, artifact_for, reread, self.errors, self._past_memory_limit)
        self._thread = threading.Thread(target=self._run, daemon=True, name="trimline-serve")

    def _past_memory_limit(self, sentence: str) -> None:
        logging.getLogger("trimline.serve").error(sentence)
        self.errors.append(EngineError(sentence))
        self._server.should_exit = True

    def _run(self) -> None:
        self._server.config.install_signal_handlers = False
        asyncio.run(self._server.serve())

    @property
    def url(self) -> str:
        return f"http://{self.options.host}:{self.options.port}"

    def start(self, timeout_s: float = 120.0) -> "BackgroundServer":
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if self.errors or not self._thread.is_alive():
                raise EngineError(f"the server did not start ({self.errors[0] if self.errors else 'see its log'})")
            if time.monotonic() > deadline:
                raise EngineError(f"the server did not start within {timeout_s:.0f} s")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=30)

    def __enter__(self) -> "BackgroundServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


logging.getLogger("trimline.serve").setLevel(logging.INFO)
