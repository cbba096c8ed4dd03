"""Reviewing and tidying: reports, job logs, tags, renames and deletions."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from engine.cli.base import JsonOpt, app, command, emit, fail


@command(app, "report")
def report(family: int = typer.Argument(..., help="The family's root id (or any of its models)."),
           output: Path = typer.Option(..., "-o", "--output", help="The HTML file to write."),
           csv_path: Optional[Path] = typer.Option(None, "--csv", help="Also write every measurement as CSV here."),
           dataset: Optional[int] = typer.Option(None, help="Accuracy on this data set (default: the most used)."),
           as_json: bool = JsonOpt) -> None:
    """Write a family's review as one self-contained HTML file (and its measurements as CSV)."""
    from engine import api

    html = api.family_report_html(family, dataset)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(html, encoding="utf-8")
    doc = {"html": str(output), "html_bytes": len(html.encode()), "csv": None, "measurements": None}
    if csv_path is not None:
        csv_path.parent.mkdir(parents=True, exist_ok=True)
        with csv_path.open("w", newline="", encoding="utf-8") as out:
            doc["measurements"] = api.family_measurements_csv(family, out)
        doc["csv"] = str(csv_path)
    emit(doc, as_json, lambda d: f"wrote {d['html']}" + (f" and {d['csv']} ({d['measurements']} measurements)"
                                                          if d["csv"] else ""))


@command(app, "logs")
def logs(job_id: int, tail: int = typer.Option(20_000, help="Bytes from the end of the log.")) -> None:
    """Print what a job logged (its last bytes)."""
    from engine import api

    api.get_job(job_id)  # a sentence when there is no such job
    text = api.job_log(job_id, tail_bytes=tail)
    typer.echo(text if text else f"job {job_id} has logged nothing yet")


@command(app, "tag")
def tag(model_id: int, tags: list[str] = typer.Argument(None, help="Tags to add."),
        remove: list[str] = typer.Option([], "--remove", help="A tag to take off (repeatable)."),
        as_json: bool = JsonOpt) -> None:
    """Add (or --remove) tags on a model; models and the Models page search find them."""
    from engine import api

    now = api.tag_model(model_id, tags or [], remove)
    emit({"model_id": model_id, "tags": now}, as_json, lambda d: f"model {model_id}: " + (", ".join(now) or "no tags"))


@command(app, "rename")
def rename(model_id: int, name: str, as_json: bool = JsonOpt) -> None:
    """Give a model a new display name."""
    from engine import api

    api.rename_model(model_id, name)
    emit({"model_id": model_id, "name": name.strip()}, as_json, lambda d: f"model {model_id} is now {d['name']!r}")


@command(app, "rm")
def rm(model_id: int, archive: bool = typer.Option(False, "--archive", help="Hide it instead (keeps everything)."),
       yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask."), as_json: bool = JsonOpt) -> None:
    """Delete a model without children (its measurements too; its file when nothing else uses it)."""
    from engine import api

    if archive:
        api.archive_model(model_id)
        emit({"model_id": model_id, "archived": True}, as_json, lambda d: f"model {model_id} archived")
        return
    model = api.get_model(model_id)
    if not yes and not typer.confirm(f"Delete model {model_id} ({model.name}) and its measurements?"):
        fail("nothing was deleted")
    result = api.delete_model(model_id)
    emit(result, as_json, lambda d: f"deleted model {model_id}; removed {len(d['artifacts_removed'])} file(s) "
                                    "no other row used")
