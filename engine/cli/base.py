"""The CLI's shared pieces: the Typer apps, the error boundary, JSON output and job waiting."""
from __future__ import annotations

import functools
import json
import sys
from typing import Any, Callable

import typer

import engine  # noqa: F401  (environment defaults)
from engine.errors import EngineError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Trimline: optimize trained models for deployment.")
dataset_app = typer.Typer(no_args_is_help=True, help="Data sets for calibration, fine-tuning and evaluation.")
recipe_app = typer.Typer(no_args_is_help=True, help="Ordered pass steps saved as YAML.")
app.add_typer(dataset_app, name="dataset")
app.add_typer(recipe_app, name="recipe")

JsonOpt = typer.Option(False, "--json", help="Print one JSON document on stdout.")


def fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def command(group: typer.Typer, name: str | None = None) -> Callable:
    """Register a verb whose EngineErrors become ``error: <sentence>`` and exit code 1."""
    def decorate(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except EngineError as exc:
                fail(str(exc))
            except KeyboardInterrupt:
                fail("interrupted")
            except typer.Exit:
                raise
            except Exception as exc:  # a bug, not bad input: say so in one line; TRIMLINE_DEBUG=1 shows the trace
                from engine import api

                if sentence := api.explain_failure(exc):  # a full disk, a damaged database...
                    fail(sentence)
                if _setting("debug"):
                    raise
                fail(f"internal error ({type(exc).__name__}: {exc}); rerun with TRIMLINE_DEBUG=1 for the traceback")
        return group.command(name)(wrapper)
    return decorate


def _setting(name: str) -> bool:
    """A CLI flag from the settings (TRIMLINE_DEBUG, TRIMLINE_PROGRESS); off when the settings are unusable."""
    from engine import api

    try:
        return bool(getattr(api.settings(), name))
    except EngineError:
        return False


def emit(data: Any, as_json: bool, human: Callable[[Any], str] | None = None) -> None:
    if as_json:
        typer.echo(json.dumps(data, indent=2, default=str))
    else:
        typer.echo(human(data) if human else json.dumps(data, indent=2, default=str))


def show_progress(job) -> None:  # noqa: ANN001
    if sys.stderr.isatty() or _setting("progress"):
        typer.echo(f"[job {job.id}] {job.status} {job.progress * 100:3.0f}% {job.message}", err=True)


def wait_for(job) -> Any:  # noqa: ANN001
    from engine import api

    try:
        return api.wait_job(job.id, on_update=show_progress)
    except KeyboardInterrupt:  # Ctrl-C: the job this command started does not run on without it
        try:
            api.cancel_job(job.id)
        except Exception:  # noqa: BLE001  (the database may be what is failing; the reaper still acts)
            pass
        raise


def _sizes_text(at: list[dict[str, Any]]) -> str:
    from engine.formats.open_sizes import sizes_text

    return sizes_text(at)


def model_line(m: dict[str, Any]) -> str:
    ins = ", ".join(f"{i['name']}{i['shape']}:{i['dtype']}" for i in m["inputs"])
    origin = f"from {m['parent_id']} by {m['pass']}" if m.get("parent_id") else "uploaded"
    at = (m.get("info") or {}).get("flops_at")
    counted_at = f" (at {_sizes_text(at)})" if at and m.get("flops") is not None else ""
    return (f"{m['id']:>4}  {m['name']}  [{m['format']}]  {m['size_bytes'] / 1e6:.2f} MB  "
            f"params={m['params']}  flops={m['flops']}{counted_at}  inputs: {ins}  ({origin})")


def parse_sets(values: list[str]) -> dict[str, str]:
    config = {}
    for item in values:
        if "=" not in item:
            fail(f"--set expects key=value, got {item!r}")
        key, value = item.split("=", 1)
        config[key.strip()] = value.strip()
    return config


def int_list(text: str | None, what: str) -> list[int] | None:
    if text is None:
        return None
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        fail(f"{what} must be a comma-separated list of integers, got {text!r}")


