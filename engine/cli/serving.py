"""Serving a chosen model over HTTP, and load-testing a running server."""
from __future__ import annotations

from typing import Optional

import typer

from engine.cli.base import JsonOpt, app, command, emit, fail, int_list


@command(app, "serve")
def serve(model_ids: Optional[list[int]] = typer.Argument(None, help="Models to serve as versions 1..N (newest id "
                                                                      "highest); none: the saved --name deployment."),
          name: Optional[str] = typer.Option(None, help="Served name (default: the family's name)."),
          host: str = typer.Option("127.0.0.1", help="Address to bind; beyond loopback needs --token."),
          port: int = typer.Option(8600, help="TCP port."),
          token: Optional[str] = typer.Option(None, envvar="TRIMLINE_SERVE_TOKEN",
                                              help="Bearer token clients must send (env TRIMLINE_SERVE_TOKEN)."),
          policy: str = typer.Option("all", help="Versions loaded: all, latest:N or specific:1,2."),
          instances: Optional[int] = typer.Option(None, help="Session instances per version."),
          threads: Optional[int] = typer.Option(None, help="Intra-op threads per instance (default: best benchmark)."),
          batching: Optional[bool] = typer.Option(None, "--batching/--no-batching", help="Dynamic batching."),
          max_batch: Optional[int] = typer.Option(None, help="Largest dynamic batch."),
          max_delay_ms: Optional[float] = typer.Option(None, help="Longest wait for a batch to fill, in ms."),
          cache: Optional[bool] = typer.Option(None, "--cache/--no-cache", help="LRU response cache."),
          memory_mb: Optional[int] = typer.Option(None, "--memory-mb", help="The server's memory limit in MB (default: "
                                                  "TRIMLINE_SERVE_MEMORY_MB, else half this machine's memory)."),
          owner: Optional[str] = typer.Option(None, hidden=True, help="PID:START_TIME of the trimline up that "
                                                                     "manages this server; it stops when that ends.")) -> None:
    """Serve models over KServe V2 (Triton) and TensorFlow Serving REST until Ctrl-C (or SIGTERM)."""
    from engine import api

    if not model_ids and not name:
        fail("give model ids to serve, or --name of a saved deployment")
    api.serving.check_bind(host, port, token)
    if memory_mb is not None and memory_mb < 1:
        fail(f"--memory-mb must be a positive number of MB, got {memory_mb}")
    if model_ids:
        settings: dict = {}
        for key, value in (("instances", instances), ("intra_threads", threads)):
            if value is not None:
                settings[key] = value
        batch = {k: v for k, v in (("enabled", batching), ("max_batch", max_batch),
                                   ("max_queue_delay_ms", max_delay_ms)) if v is not None}
        if batch:
            settings["batching"] = batch
        if cache is not None:
            settings["cache"] = {"enabled": cache}
        names = api.serving.plan_families(model_ids, name, settings, policy)
    else:
        names = [name]
    for served in names:
        deployment = api.serving.get_deployment(served)
        versions = ", ".join(f"v{v['version']}=model {v['model_id']}" for v in deployment["versions"])
        typer.echo(f"serving '{served}' ({versions}; labels {deployment['labels'] or 'none'})", err=True)
    memory_mb = memory_mb or api.serving.server_memory_mb()
    typer.echo(f"on http://{host}:{port}: KServe V2 at /v2, TF Serving at /v1, metrics at /metrics; memory limit "
               f"{memory_mb} MB; Ctrl-C stops", err=True)
    api.serving.serve(names, host, port, token, owner, say=lambda line: typer.echo(line, err=True),
                      memory_mb=memory_mb)
    typer.echo(f"stopped serving {', '.join(names)}", err=True)


@command(app, "loadtest")
def loadtest(name: str = typer.Argument(..., help="Served model name."),
             url: str = typer.Option("http://127.0.0.1:8600", help="The running server."),
             concurrency: str = typer.Option("1,2,4,8", help="Client counts to sweep, e.g. 1,4,16."),
             requests: int = typer.Option(200, help="Requests per level, at most."),
             seconds: float = typer.Option(10.0, help="Seconds per level, at most."),
             p99_budget_ms: float = typer.Option(100.0, "--p99-budget-ms", help="Latency budget for the best level."),
             version: Optional[int] = typer.Option(None, help="Version to call (default: the newest)."),
             token: Optional[str] = typer.Option(None, envvar="TRIMLINE_SERVE_TOKEN", help="Bearer token."),
             job: bool = typer.Option(False, "--job", help="Run it as a background job on this host's worker (as "
                                                          "the Deploy page does) and print the job id."),
             as_json: bool = JsonOpt) -> None:
    """Closed-loop load test over HTTP: the latency-throughput curve and the best level within a p99 budget."""
    from engine import api

    levels = int_list(concurrency, "--concurrency")
    if job:
        if token and token != api.serving.serve_token():
            fail("a load-test job sends the worker's TRIMLINE_SERVE_TOKEN, not --token; set that instead")
        record = api.serving.submit_loadtest(url, name, levels, requests, seconds, p99_budget_ms, version)
        emit({"job_id": record.id, "kind": record.kind, "status": record.status}, as_json,
             lambda r: f"load test queued as job {r['job_id']}; follow it with `trimline jobs` or the Deploy page")
        return
    result = api.serving.run_loadtest(url, name, levels, requests, seconds,
                                      p99_budget_ms, version, token)
    emit(result, as_json, _curve)


def _curve(r: dict) -> str:
    lines = [f"{r['name']} v{r['version']} (model {r['model_id']}) at {r['url']}",
             f"{'clients':>7} {'req':>6} {'fail':>5} {'req/s':>9} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8}"]
    for row in r["results"]:
        lat = row["latency_ms"] or {}
        lines.append(f"{row['concurrency']:>7} {row['requests']:>6} {row['failures']:>5} "
                     f"{row['throughput_per_s']:>9.1f} {lat.get('p50', 0):>8.2f} {lat.get('p90', 0):>8.2f} "
                     f"{lat.get('p99', 0):>8.2f}")
    best = r["best"]
    lines.append(f"best within p99 {r['config']['p99_budget_ms']} ms: " + (
        f"{best['throughput_per_s']:.1f} req/s at {best['concurrency']} clients" if best else "no level stayed within it"))
    return "\n".join(lines)
