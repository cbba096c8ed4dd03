"""The services a configured Trimline talks to: its database, its queue and its artifact store.

Each check returns one line for ``trimline doctor`` or raises ``ConfigError`` with one sentence that
names the URL (password masked) and the variable to fix. Workers and ``trimline up`` run them at
start, so a host pointed at an unreachable server says so at once instead of waiting in silence.
"""
from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from engine.errors import ConfigError, first_line
from storage.settings import Settings


def safe_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (sentences may reach a shared dashboard)."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        netloc = parts.netloc.rsplit("@", 1)
        user = (parts.username or "") + ":***"
        return urlunsplit(parts._replace(netloc=f"{user}@{netloc[-1]}"))
    except ValueError:
        return url.split(":", 1)[0] + ":…"


def check_queue(settings: Settings) -> str:
    """Reach the queue: Redis answers a PING; a SQLite queue's folder can be written."""
    url = settings.queue_url
    if url.startswith(("redis://", "rediss://", "unix://")):
        import redis

        try:
            redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3).ping()
        except (redis.RedisError, OSError, ValueError) as exc:
            raise ConfigError(f"Trimline cannot reach the queue at {safe_url(url)} ({first_line(exc)}); "
                              "check TRIMLINE_QUEUE_URL and that Redis is running") from None
        return f"{safe_url(url)} answers"
    from huey import SqliteHuey  # noqa: F401  (the embedded queue needs nothing but its file)

    return f"{url} (embedded SQLite queue)"


def check_store(settings: Settings) -> str:
    """Write and remove a probe in the artifact store."""
    from storage import artifacts

    try:
        store = artifacts.get_store()
        store.check_writable()
    except (artifacts.StoreError, OSError, ValueError, ImportError) as exc:
        raise ConfigError(f"{first_line(exc)}; check TRIMLINE_STORE_URL and its credentials") from None
    return f"{safe_url(settings.store_url)} is writable"


def check_versions() -> tuple[bool, str]:
    """This host's library versions against the catalogue's (what its conversions were made with)."""
    from engine.jobs.placement import VERSION_PACKAGES, library_versions
    from storage import workers as registry
    from storage.db import session_scope

    mine = library_versions()
    with session_scope() as s:
        catalogue = registry.catalogue_versions(s, mine)
    differs = [f"{p} {mine.get(p)} (catalogue: {catalogue.get(p)})" for p in VERSION_PACKAGES
               if catalogue.get(p) != mine.get(p)]
    if differs:
        return False, ("differ from the catalogue's: " + ", ".join(differs) +
                       "; a worker here runs only measurements targeted at it")
    return True, "match the catalogue's: " + ", ".join(f"{p} {v}" for p, v in mine.items() if v)


def require(settings: Settings) -> None:
    """At a worker's start: the queue and the store must answer (the database was opened already)."""
    check_queue(settings)
    check_store(settings)
