"""`make bench` (serving): what `trimline serve` costs and gains on MobileNetV2 224x224, side by side in ONE run.

1. server overhead at concurrency 1: p50 of a bare ``session.run`` vs p50 over HTTP (binary KServe V2 tensors
   over a keep-alive connection), timed alternately so both see the same load from the machine's other
   work; through a lean raw-socket client (the request encoded once, the response read by its length: close to
   a C client's own cost, so the difference is the server's), through Python's http.client and through the
   official tritonclient (each adds its own Python work to every request); 2 intra-op threads, one
   instance. Both sides run under both spin settings the server offers (threads that sleep when idle;
   threads that spin during a run and stop at its end); the bare loop under ONNX Runtime's default options
   and the server with threads that spin on after a run (that default) are timed alone, since a pool
   spinning after its run cannot be interleaved fairly; for each client, the overhead is its fastest server
   setting against the fastest bare figure;
2. dynamic batching at concurrency 16: closed-loop throughput of the same model with and without it, in
   alternating windows on one server (and, as the other way to use both cores, two instances of one thread
   each without batches); beside it, what the runtime itself gains from a batch (bare per-image
   time at batch 1..16), which bounds what any batching scheduler can gain on this machine; and the same
   comparison on a GEMM-heavy MLP, whose runtime gains much more from a batch, to show what the scheduler
   delivers where the runtime allows it;
3. a cache hit: p50 in process (``LoadedVersion.infer``: shape check, input hash, lookup) and over HTTP;
4. a reload of a new version (and a label move) under steady load: failed requests counted.

MobileNetV2 comes from keras.applications with weights=None (latency does not depend on trained
weights), converted to ONNX in a child process so TensorFlow's thread pools never share the cores
with the timed ONNX Runtime sessions. Servers are real uvicorn servers, each in its own process (the
clients never share its interpreter lock), on free loopback ports.

Run: .venv/bin/python bench/serving_bench.py [--quick] [--overhead-only] [--model mobilenetv2.onnx]
(--quick: shorter windows, about 3 minutes; --overhead-only: the first figure alone)
"""
from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

QUICK = "--quick" in sys.argv
OVERHEAD_ONLY = "--overhead-only" in sys.argv
SECONDS = 3.0 if QUICK else 10.0
THREADS = 2
BATCHES = (1, 2, 4, 8, 16)


def convert(out: str) -> None:
    import keras
    import tensorflow as tf
    import tf2onnx

    model = keras.applications.MobileNetV2(input_shape=(224, 224, 3), weights=None)
    spec = (tf.TensorSpec((None, 224, 224, 3), tf.float32, name="input"),)
    fn = tf.function(lambda x: model(x, training=False))
    tf2onnx.convert.from_function(fn, input_signature=spec, opset=17, output_path=out)


class ChildServer:
    """A real server in its own process (the bench's client threads must not share its interpreter lock).
    It serves the deployment saved in ``spec`` and re-reads that file on a repository load."""

    def __init__(self, deployments: list, spec: Path, model: Path, others: dict[int, Path] | None = None) -> None:
        from engine.serving.server import free_port

        write(spec, deployments)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        models = json.dumps({str(k): str(v) for k, v in (others or {}).items()})
        self.proc = subprocess.Popen([sys.executable, __file__, "--server", str(spec), str(model), str(self.port),
                                      models])

    def __enter__(self) -> "ChildServer":
        import requests

        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.url}/v2/health/ready", timeout=2).status_code == 200:
                    return self
            except requests.ConnectionError:
                time.sleep(0.2)
        raise RuntimeError("the server did not start")

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(60)


def child_server(spec: str, model: str, port: str, others: str = "{}") -> None:
    from engine.artifact import Artifact
    from engine.serving.common import ServerOptions
    from engine.serving.server import serve_forever
    from engine.serving.settings import Deployment

    def every() -> list[Deployment]:
        return [Deployment.model_validate(d) for d in json.loads(Path(spec).read_text())]

    def read(name: str) -> Deployment:
        return next(d for d in every() if d.name == name)
    # Not walled in (it serves a file outside any studio); the walls cost nothing per request: Landlock checks
    # files when they are opened and the seccomp filter adds nanoseconds to a system call.
    paths = {int(k): Path(v) for k, v in json.loads(others).items()}  # model ids served from other files
    serve_forever(every(), ServerOptions(port=int(port)),
                  lambda model_id: Artifact(paths.get(model_id, Path(model)), "onnx"), read)


def write(spec: Path, deployments: list) -> None:  # noqa: ANN001
    spec.write_text(json.dumps([d.model_dump() for d in deployments]))


def p50(samples: list[float]) -> float:
    return float(np.percentile(samples, 50))


def alternate(calls: dict, seconds: float, warmup: int = 5) -> dict[str, list[float]]:  # noqa: ANN001
    """Each call in turn (A B A B ...) for ``seconds`` after ``warmup`` rounds, so all see the same load from the
    machine's other work; milliseconds per call, by name. One call is simply a timed loop."""
    for _ in range(warmup):
        for call in calls.values():
            call()
    out: dict[str, list[float]] = {name: [] for name in calls}
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        for name, call in calls.items():
            t0 = time.perf_counter()
            call()
            out[name].append((time.perf_counter() - t0) * 1000)
    return out


def timed(call, seconds: float) -> list[float]:  # noqa: ANN001
    return alternate({"": call}, seconds)[""]


def bare_instance(path: Path, spin: bool = False):  # noqa: ANN201
    """An ONNX Runtime session with the server's settings (2 threads, spinning or not, as the server opens it)."""
    from engine.artifact import Artifact
    from engine.serving.runtimes import open_instance
    from engine.serving.settings import ModelSettings

    return open_instance(Artifact(path, "onnx"), ModelSettings(intra_threads=THREADS, spin_wait=spin))


def default_session(path: Path):  # noqa: ANN201
    """A session with ONNX Runtime's default options but for the 2 intra-op threads."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = THREADS
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return lambda feeds: session.run(None, feeds)


def http_call(url: str, name: str, x: np.ndarray):  # noqa: ANN201
    """One binary-tensor KServe V2 request over a keep-alive connection (Python's http.client)."""
    from engine.serving.client import Connection, encode_infer, infer_path

    body, headers = encode_infer({"input": x})
    conn, route = Connection(url), infer_path(name, None)

    def call() -> None:
        assert conn.request("POST", route, body, headers)[0] == 200
    return call


def lean_call(url: str, name: str, x: np.ndarray):  # noqa: ANN201
    """The same request through a minimal HTTP/1.1 client: one keep-alive socket, the request encoded once and
    sent with one ``sendall``, the response read by its Content-Length into a buffer kept across calls. Its own
    cost is close to a C client's (Triton's perf_analyzer, wrk), so what it adds to the bare loop is the
    server's overhead rather than the client library's."""
    import socket
    from urllib.parse import urlsplit

    from engine.serving.client import encode_infer, infer_path

    body, headers = encode_infer({"input": x})
    parts = urlsplit(url)
    head = "".join(f"{k}: {v}\r\n" for k, v in {**headers, "Content-Length": len(body)}.items())
    request = f"POST {infer_path(name, None)} HTTP/1.1\r\nHost: {parts.netloc}\r\n{head}\r\n".encode() + body
    sock = socket.create_connection((parts.hostname, parts.port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buffer = memoryview(bytearray(1 << 20))

    def call() -> None:
        sock.sendall(request)
        got, end = 0, -1
        while end < 0:
            got += sock.recv_into(buffer[got:])
            end = bytes(buffer[:got]).find(b"\r\n\r\n")
        head = bytes(buffer[:end]).lower()
        assert head.startswith(b"http/1.1 200"), head
        at = head.index(b"\r\ncontent-length:") + 17
        total = end + 4 + int(head[at:head.index(b"\r\n", at)])
        while got < total:
            got += sock.recv_into(buffer[got:])
        assert got == total
    return call


def triton_call(url: str, name: str, x: np.ndarray):  # noqa: ANN201
    """The same through the official tritonclient (its own keep-alive connection pool, binary outputs)."""
    import tritonclient.http as httpclient

    client = httpclient.InferenceServerClient(url.removeprefix("http://"))
    tensor = httpclient.InferInput("input", list(x.shape), "FP32")
    tensor.set_data_from_numpy(x)
    return lambda: client.infer(name, [tensor])


def gemm_model(path: Path) -> Path:
    """A GEMM-heavy contrast to MobileNetV2: an MLP 1024-2048-2048-1000 (32 MB of float weights, read from memory
    once per call whatever the batch), where a batch costs little more than one row."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(1)
    sizes, nodes, weights = [1024, 2048, 2048, 1000], [], []
    previous = "input"
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        weights.append(numpy_helper.from_array((rng.standard_normal((a, b)) / np.sqrt(a)).astype(np.float32), f"w{i}"))
        nodes.append(helper.make_node("MatMul", [previous, f"w{i}"], [f"m{i}"]))
        previous = f"m{i}"
        if i < len(sizes) - 2:
            nodes.append(helper.make_node("Relu", [previous], [f"r{i}"]))
            previous = f"r{i}"
    graph = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 1024])],
                              [helper.make_tensor_value_info(previous, TensorProto.FLOAT, ["N", 1000])], weights)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def per_image_by_batch(inst, x: np.ndarray) -> dict[int, float]:  # noqa: ANN001
    """Bare per-image ms at each batch size, timed alternately: what the runtime gains from a batch here."""
    feeds = {b: {inst.inputs[0]["name"]: np.repeat(x, b, 0)} for b in BATCHES}
    samples = alternate({b: (lambda f=f: inst.run(f)) for b, f in feeds.items()}, SECONDS, warmup=2)
    return {b: p50(v) / b for b, v in samples.items()}


def deployment(name: str, model_id: int, **settings):  # noqa: ANN201
    from engine.serving.settings import Deployment

    return Deployment.model_validate({"name": name, "versions": [{"version": 1, "model_id": model_id}],
                                      "labels": {"stable": 1},
                                      "settings": {"intra_threads": THREADS, "spin_wait": False, **settings}})


def cache_in_process(path: Path, x: np.ndarray) -> list[float]:
    """A cache hit through ``LoadedVersion.infer`` (shape check, input hash, lookup, one event-loop step)."""
    from engine.artifact import Artifact
    from engine.serving.cache import ResponseCache
    from engine.serving.metrics import ServingMetrics
    from engine.serving.scheduler import LoadedVersion
    from engine.serving.settings import ModelSettings

    settings = ModelSettings(intra_threads=THREADS, cache={"enabled": True})
    version = LoadedVersion.load("m", 1, 1, Artifact(path, "onnx"), settings, ServingMetrics(),
                                 ResponseCache(16, 1 << 26))
    feeds, loop = {"input": x}, asyncio.new_event_loop()
    try:
        return timed(lambda: loop.run_until_complete(version.infer(feeds)), min(SECONDS, 2.0))
    finally:
        loop.close()


def closed_loop(url: str, name: str, clients: int, seconds: float) -> dict:
    from engine.serving.loadtest import LoadtestConfig, sweep

    config = LoadtestConfig(concurrency=[clients], requests_per_level=100_000, seconds_per_level=seconds,
                            p99_budget_ms=10_000)
    return sweep(url, name, config)["results"][0]


def alternating(url: str, names: tuple[str, str], clients: int, rounds: int = 3) -> dict[str, dict]:
    """Closed-loop windows of each model in turn (A B A B A B), pooled: the same load on both."""
    pooled = {n: {"requests": 0, "wall_s": 0.0, "failures": 0, "p99": []} for n in names}
    for _ in range(rounds):
        for n in names:
            r = closed_loop(url, n, clients, SECONDS / rounds)
            pooled[n]["requests"] += r["requests"]
            pooled[n]["wall_s"] += r["wall_s"]
            pooled[n]["failures"] += r["failures"]
            pooled[n]["p99"].append(r["latency_ms"].get("p99", float("nan")))
    for n in names:
        pooled[n]["throughput_per_s"] = pooled[n]["requests"] / pooled[n]["wall_s"]
        pooled[n]["p99"] = float(np.median(pooled[n]["p99"]))
    return pooled


def reload_under_load(url: str, x: np.ndarray, apply) -> tuple[int, int]:  # noqa: ANN001
    from engine.serving.client import Connection, encode_infer, infer_path

    body, headers = encode_infer({"input": x})
    stop, counts = threading.Event(), {"ok": 0, "failed": 0}

    def client(path: str) -> None:
        conn = Connection(url)
        while not stop.is_set():
            try:
                status = conn.request("POST", path, body, headers)[0]
            except OSError:
                status, conn = 0, Connection(url)
            counts["ok" if status == 200 else "failed"] += 1
        conn.close()

    workers = [threading.Thread(target=client, args=(infer_path("rolling", None),)) for _ in range(4)]
    for w in workers:
        w.start()
    time.sleep(1.0)
    apply()
    time.sleep(1.0)
    stop.set()
    for w in workers:
        w.join()
    return counts["ok"], counts["failed"]


def overhead_rows(first: dict[str, list[float]], default: list[float]) -> list[tuple]:
    """The overhead rows: every bare and HTTP figure, and for each client the faster server setting against the
    fastest bare figure."""
    settings = ("spin off", "spin during a run", "spin on after a run (alone)")
    bares = {"spin off": p50(first["bare"]), "spin during a run": p50(first["bare spin"]),
             "ORT defaults (alone)": p50(default)}
    b_name = min(bares, key=bares.get)
    rows = [(f"bare session.run p50 (ms), {k}", f"{v:.2f}", "") for k, v in bares.items()]
    for client, key in (("a lean raw-socket client", "lean"), ("http.client", "http"), ("tritonclient", "triton")):
        https = dict(zip(settings, (p50(first[key]), p50(first[f"{key} spin"]), p50(first[f"{key} spin on"]))))
        rows += [(f"HTTP p50 (ms), binary V2, {client}, {k}", f"{v:.2f}", "") for k, v in https.items()]
        h_name = min(https, key=https.get)
        b, h = bares[b_name], https[h_name]
        rows.append((f"  overhead, {client}: {h_name} vs bare {b_name}",
                     f"{h - b:+.2f} ms ({(h / b - 1) * 100:+.1f}%)", "<= 15% or 1 ms"))
        for setting in ("spin off", "spin during a run"):  # the same setting both sides, timed alternately
            b, h = bares[setting], https[setting]
            rows.append((f"  the same, {setting} on both sides", f"{h - b:+.2f} ms ({(h / b - 1) * 100:+.1f}%)", ""))
    return rows


def print_rows(rows: list[tuple]) -> None:
    print(f"{'figure':<72} {'measured':>16} {'target':>16}")
    for label, value, target in rows:
        print(f"{label:<72} {value:>16} {target:>16}")


def load_average() -> str:
    return "/".join(f"{v:.2f}" for v in os.getloadavg())


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "mobilenetv2.onnx"
        given = sys.argv[sys.argv.index("--model") + 1] if "--model" in sys.argv else None
        if given:  # an ONNX MobileNetV2 converted before (input "input", NHWC): skips TensorFlow
            path = Path(given)
        else:
            subprocess.run([sys.executable, __file__, "--convert", str(path)], check=True)
        x = np.random.default_rng(0).random((1, 224, 224, 3)).astype(np.float32)

        load_before = load_average()
        inst, spinning = bare_instance(path), bare_instance(path, spin=True)
        feeds = {inst.inputs[0]["name"]: x}
        per_image = per_image_by_batch(inst, x)  # the batch the runtime runs fastest per image is the one to form
        best = min(per_image, key=per_image.get)
        size = best if best > 1 else max(BATCHES)
        spec = Path(tmp) / "deployments.json"
        plain, plain_spin = deployment("plain", 1), deployment("plain-spin", 1, spin_wait=True)
        spin_on = deployment("plain-spin-on", 1, spin_wait=True, spin_stop=False)  # ONNX Runtime's default
        batched = deployment("batched", 1, batching={
            "enabled": True, "max_batch": size, "preferred_sizes": [size], "max_queue_delay_ms": 5})
        cached = deployment("cached", 1, cache={"enabled": True})
        pair = deployment("pair", 1, instances=2, intra_threads=1)  # the other way to use 2 cores: no batches
        mlp = gemm_model(Path(tmp) / "mlp.onnx")
        mlp_inst = bare_instance(mlp)
        mlp_per_row = per_image_by_batch(mlp_inst, np.random.default_rng(0).random((1, 1024)).astype(np.float32))
        del mlp_inst
        gemm, gemm_batched = deployment("mlp", 3), deployment("mlp-batched", 3, batching={
            "enabled": True, "max_batch": 16, "preferred_sizes": [16], "max_queue_delay_ms": 5})
        with ChildServer([plain, plain_spin, spin_on, batched, cached, pair, gemm, gemm_batched], spec, path,
                         {3: mlp}) as server:
            first = alternate({"bare": lambda: inst.run(feeds), "bare spin": lambda: spinning.run(feeds),
                               "lean": lean_call(server.url, "plain", x),
                               "lean spin": lean_call(server.url, "plain-spin", x),
                               "http": http_call(server.url, "plain", x),
                               "http spin": http_call(server.url, "plain-spin", x),
                               "triton": triton_call(server.url, "plain", x),
                               "triton spin": triton_call(server.url, "plain-spin", x)}, 3 * SECONDS)
            run_default = default_session(path)
            default = timed(lambda: run_default(feeds), SECONDS)
            del run_default
            time.sleep(0.2)  # its pool's threads stop spinning
            for client, make in (("lean", lean_call), ("http", http_call), ("triton", triton_call)):
                call = make(server.url, "plain-spin-on", x)  # threads spinning on after each run: timed alone too
                first[f"{client} spin on"] = timed(call, SECONDS / 2)
                time.sleep(0.2)
            overhead = overhead_rows(first, default)
            if OVERHEAD_ONLY:
                print(f"\nMobileNetV2 224x224 ONNX, {THREADS} intra-op threads, one instance; bare and HTTP timed "
                      f"alternately for {3 * SECONDS:.0f} s; load average {load_before} before, {load_average()} after")
                return print_rows(overhead)
            del inst, spinning
            sixteen = alternating(server.url, ("plain", "batched", "pair"), 16)
            unbatched16, batched16, pair16 = sixteen["plain"], sixteen["batched"], sixteen["pair"]
            contrast = alternating(server.url, ("mlp", "mlp-batched"), 16)
            hit_http = timed(http_call(server.url, "cached", x), min(SECONDS, 3.0))
            hit_triton = timed(triton_call(server.url, "cached", x), min(SECONDS, 3.0))
        hit_local = cache_in_process(path, x)

        from engine.serving.settings import Deployment

        first = deployment("rolling", 1)
        second = Deployment.model_validate({**first.model_dump(), "versions": [{"version": 1, "model_id": 1},
                                                                              {"version": 2, "model_id": 2}],
                                            "labels": {"stable": 2, "canary": 2}})
        with ChildServer([first], spec, path) as server:
            import requests

            def apply() -> None:
                write(spec, [second])
                assert requests.post(f"{server.url}/v2/repository/models/rolling/load", timeout=300).ok

            ok, failed = reload_under_load(server.url, x, apply)

    ratio = batched16["throughput_per_s"] / unbatched16["throughput_per_s"]
    print(f"\nMobileNetV2 224x224 ONNX, {THREADS} intra-op threads, one instance; bare and HTTP timed alternately for "
          f"{3 * SECONDS:.0f} s (concurrency 1), batching and none (spin off) in alternating windows, {SECONDS:.0f} s "
          f"each; load average {load_before} before, {load_average()} after")
    rows = [
        *overhead,
        ("throughput, concurrency 16, no batching (req/s)", f"{unbatched16['throughput_per_s']:.1f}", ""),
        (f"throughput, concurrency 16, batches of {size} (req/s)", f"{batched16['throughput_per_s']:.1f}", ""),
        ("  batching gain", f"{ratio:.2f}x", ">= 1.5x"),
        ("  p99 (ms) without / with batching", f"{unbatched16['p99']:.0f} / {batched16['p99']:.0f}", ""),
        ("throughput, concurrency 16, 2 instances x 1 thread (req/s)", f"{pair16['throughput_per_s']:.1f}", ""),
        ("  against one instance x 2 threads", f"{pair16['throughput_per_s'] / unbatched16['throughput_per_s']:.2f}x",
         ""),
        ("  bare ms per image at batch " + "/".join(map(str, per_image)),
         "/".join(f"{v:.1f}" for v in per_image.values()), ""),
        ("GEMM-heavy contrast (MLP 1024-2048-2048-1000): bare ms per row at batch " + "/".join(map(str, mlp_per_row)),
         "/".join(f"{v:.2f}" for v in mlp_per_row.values()), ""),
        ("  its throughput at concurrency 16, no batching / batches of 16 (req/s)",
         f"{contrast['mlp']['throughput_per_s']:.0f} / {contrast['mlp-batched']['throughput_per_s']:.0f}", ""),
        ("  its batching gain", f"{contrast['mlp-batched']['throughput_per_s'] / contrast['mlp']['throughput_per_s']:.2f}x",
         ""),
        ("cache hit p50 in process (ms)", f"{p50(hit_local):.3f}", "<= 0.5 ms"),
        ("cache hit p50 over HTTP (ms)", f"{p50(hit_http):.3f}", "<= 2 ms"),
        ("  the same through tritonclient (ms)", f"{p50(hit_triton):.3f}", ""),
        ("reload under load: requests answered / failed", f"{ok} / {failed}", "0 failed"),
    ]
    print_rows(rows)
    failed = sum(r["failures"] for r in (unbatched16, batched16, pair16, *contrast.values()))
    print(f"failed requests while measuring: {failed}")
    bound = per_image[1] / per_image[best]
    print(f"why batching gains {ratio:.2f}x here: the runtime itself runs an image fastest at batch {best} "
          f"({per_image[best]:.1f} ms against {per_image[1]:.1f} ms alone: at most {bound:.2f}x), and a batch of 16 at "
          f"{per_image[16]:.1f} ms per image. Batching pays where a batch is much cheaper per item than single calls "
          "(many cores, GPUs, GEMM-heavy models), not where a batch's activations outgrow the caches, as "
          "MobileNetV2's do on a small CPU.")


if __name__ == "__main__":
    if "--server" in sys.argv:
        child_server(*sys.argv[sys.argv.index("--server") + 1:][:4])
    elif "--convert" in sys.argv:
        convert(sys.argv[sys.argv.index("--convert") + 1])
    else:
        main()
