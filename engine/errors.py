"""Few error classes, caught once at the boundary. Every message is one sentence a user can act on.

The two helpers below turn a library's exception into that sentence's words.
"""
from __future__ import annotations

from typing import Any, Iterable

from storage.sentences import first_line  # noqa: F401  (one helper for every layer; the store uses it too)


class EngineError(Exception):
    """Base class: the message is shown to the user as it is."""


class InputError(EngineError):
    """Bad input refused before anything is queued (unknown pass, wrong config, missing dataset...)."""


class NotFoundError(InputError):
    """An id that does not exist."""


class AccessError(EngineError):
    """The signed-in account's role does not allow what was asked (checked in the engine, not only on pages)."""


class FormatError(EngineError):
    """A file that is not a model or data set Trimline can read, or is damaged."""


class UnsafeFileError(FormatError):
    """A file refused because loading it could run code or reach outside its folder."""


class PassError(EngineError):
    """A pass failed; the library's own error is chained and kept in the job log."""


class FidelityError(PassError):
    """A conversion's output differs from its parent beyond tolerance."""


class MeasureError(EngineError):
    """A benchmark or evaluation could not be run as asked."""


class JobFailedError(EngineError):
    """A job ended failed or cancelled; the message is the job's error."""


class ConfigError(EngineError):
    """The environment Trimline runs in is unusable: its home folder, database or queue."""


def validation_sentence(exc: Any, owner: str = "", known: Iterable[str] = (), owner_on_values: bool = True) -> str:
    """A pydantic ``ValidationError`` as one sentence about its first problem.

    ``owner`` names what was being set (``pass 'fp16'``); ``known`` lists its settings, named when a key
    is unknown. A validator's own ``ValueError`` sentence is kept (after ``owner:`` unless
    ``owner_on_values`` is off); so is a plain ValueError's.
    """
    if not callable(getattr(exc, "errors", None)):
        return f"{owner}: {exc}" if owner else str(exc)
    err = exc.errors(include_url=False)[0]
    where = ".".join(str(p) for p in err["loc"])
    message = str((err.get("ctx") or {}).get("error") or err["msg"]).removeprefix("Value error, ")
    subject = f"{owner} " if owner else ""
    if err["type"] == "extra_forbidden" and where:
        lead = f"{owner} has no setting {where!r}; its" if owner else f"there is no setting {where!r}; the"
        return f"{lead} settings are: {', '.join(known) or 'none'}"
    if err["type"] == "value_error" or not where:
        return f"{owner}: {message}" if owner and owner_on_values else message
    return f"{subject}setting '{where}': {message[0].lower() + message[1:]} (got {err.get('input')!r})"
