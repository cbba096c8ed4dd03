"""Where one request's time goes in `trimline serve` (MobileNetV2 224x224, 2 intra-op threads, concurrency 1):
a diagnostic beside ``serving_bench.py``, not part of ``make bench``.

A child server process is patched at start (nothing in engine/serving changes, and no other server pays for
it) to stamp ``perf_counter_ns`` along each inference request: every read of the socket (first and last body
chunk), each ``receive``, the body assembled, the JSON header parsed, the numpy views made, ``session.run``
start and end (with page faults), the response encoded and written, and the loop thread's CPU time outside the
run. The client stamps send start and end, first response byte and parsed. Both processes read the same
monotonic clock, so the stamps line up. Interleaved with each HTTP request, the client times a bare
``session.run`` of the same input at the same settings, and asks the server to time one of its own on an array
it keeps: the model inside the server against the bare loop, and on the request's own buffer against one it
has had all along. p10/p50/p90 per segment; on a machine shared with other work, compare runs made together.

Run: .venv/bin/python bench/serving_trace.py --model mobilenetv2.onnx [--seconds 10] [--spin]
"""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

RECORDS: list[dict] = []
CHUNKS: dict[int, list] = {}
CPU: dict[int, int] = {}
CURRENT: dict = {}


def _now() -> int:
    return time.perf_counter_ns()


def _cpu() -> int:
    return time.thread_time_ns()


def patch_server() -> None:
    """Stamp the server's request path by wrapping the functions it calls (this process only)."""
    from uvicorn.protocols.http import httptools_impl as h

    from engine.serving import fastpath, runtimes, v2, wire

    buffer_updated = wire.HttpConnection.buffer_updated

    def stamped_buffer_updated(self, nbytes: int) -> None:  # noqa: ANN001
        t = _now()  # every read of the socket: the head's through the parser, a body's straight into its buffer
        if id(self.transport) not in CHUNKS:
            CPU[id(self.transport)] = _cpu()
        buffer_updated(self, nbytes)
        CHUNKS.setdefault(id(self.transport), []).append((t, nbytes, _now()))
    wire.HttpConnection.buffer_updated = stamped_buffer_updated

    read_body_early = v2.read_body_early

    async def stamped_read_body(request, limit, *rest):  # noqa: ANN001, ANN002, ANN202
        CURRENT["read_body_start"] = _now()
        out = await read_body_early(request, limit, *rest)
        CURRENT["body_assembled"] = _now()  # the JSON part, when the tensors are still arriving
        return out
    v2.read_body_early = stamped_read_body

    wait_for = v2.wait_for

    async def stamped_wait_for(pending):  # noqa: ANN001, ANN202
        CURRENT["wait_start"] = _now()
        await wait_for(pending)
        CURRENT["body_complete"] = _now()
    v2.wait_for = stamped_wait_for

    loads = v2.loads

    def stamped_loads(data):  # noqa: ANN001, ANN202
        doc = loads(data)
        CURRENT["header_parsed"] = _now()
        return doc
    v2.loads = stamped_loads

    parse = v2.parse_request

    def stamped_parse(body, header, limit):  # noqa: ANN001, ANN202
        out = parse(body, header, limit)
        CURRENT["views_made"] = _now()
        x = next(iter(out[1].values()))
        CURRENT["input_addr_mod64"] = x.ctypes.data % 64
        CURRENT["input_aligned"] = bool(x.flags.aligned)
        CURRENT["input_contig"] = bool(x.flags.c_contiguous)
        CURRENT["body_type"] = type(body).__name__
        return out
    v2.parse_request = stamped_parse

    counted = v2.infer_and_count

    async def stamped_counted(*args):  # noqa: ANN002, ANN202
        out = await counted(*args)
        CURRENT["counted"] = _now()
        return out
    v2.infer_and_count = stamped_counted

    encode = v2.encode_response

    def stamped_encode(*args):  # noqa: ANN002, ANN202
        response = encode(*args)
        CURRENT["encoded"] = _now()
        return response
    v2.encode_response = stamped_encode

    onnx = runtimes._onnx

    def stamped_onnx(artifact, settings):  # noqa: ANN001, ANN202
        inst = onnx(artifact, settings)
        run = inst.run

        def stamped_run(feeds):  # noqa: ANN001, ANN202
            flt = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            CURRENT["run_cpu_start"] = _cpu()
            CURRENT["run_start"] = _now()
            out = run(feeds)
            CURRENT["run_end"] = _now()
            CURRENT["run_cpu_end"] = _cpu()
            CURRENT["run_minflt"] = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - flt
            import threading
            CURRENT["run_thread"] = threading.current_thread().name
            return out
        inst.run = stamped_run
        STATE["raw_run"] = run
        return inst
    runtimes._onnx = stamped_onnx

    receive = h.RequestResponseCycle.receive

    async def stamped_receive(self):  # noqa: ANN001, ANN202
        flt = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        message = await receive(self)
        CURRENT.setdefault("receives", []).append(_now())
        CURRENT.setdefault("receive_faults", []).append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - flt)
        return message
    h.RequestResponseCycle.receive = stamped_receive

    send = h.RequestResponseCycle.send

    async def stamped_send(self, message):  # noqa: ANN001, ANN202
        if message["type"] == "http.response.start":
            CURRENT["response_start"] = _now()
        elif not message.get("more_body", False):
            CURRENT["write_start"] = _now()
        await send(self, message)
        if message["type"] == "http.response.body" and not message.get("more_body", False) and "run_start" in CURRENT:
            CURRENT["written"] = _now()
            run_cpu = CURRENT["run_cpu_end"] - CURRENT["run_cpu_start"]
            CURRENT["loop_cpu"] = _cpu() - CPU.pop(id(self.transport), 0) - run_cpu
            RECORDS.append({**CURRENT, "chunks": CHUNKS.pop(id(self.transport), [])})
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            CURRENT.clear()
            CHUNKS.pop(id(self.transport), None)
    h.RequestResponseCycle.send = stamped_send

    call = fastpath.InferFastPath.__call__

    async def traced_call(self, scope, receive, send):  # noqa: ANN001, ANN202
        if scope["type"] == "http" and scope["path"] == "/_trace":
            body = json.dumps(RECORDS).encode()
            RECORDS.clear()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            return await send({"type": "http.response.body", "body": body})
        if scope["type"] == "http" and scope["path"] == "/_bare":
            # one session.run inside the server on an array it has kept (no HTTP body involved)
            x = STATE.setdefault("x", np.random.default_rng(0).random((1, 224, 224, 3)).astype(np.float32))
            flt = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            t0 = _now()
            STATE["raw_run"]({"input": x})
            t1 = _now()
            out = json.dumps({"ns": t1 - t0 - 0, "minflt": resource.getrusage(resource.RUSAGE_SELF).ru_minflt - flt})
            await send({"type": "http.response.start", "status": 200, "headers": []})
            return await send({"type": "http.response.body", "body": out.encode()})
        if scope["type"] == "http" and scope["method"] == "POST":
            CURRENT["asgi_start"] = _now()
        return await call(self, scope, receive, send)
    fastpath.InferFastPath.__call__ = traced_call


STATE: dict = {}


def child(model: str, port: str, spin: str) -> None:
    patch_server()
    from engine.artifact import Artifact
    from engine.serving.common import ServerOptions
    from engine.serving.server import serve_forever
    from engine.serving.settings import Deployment

    dep = Deployment.model_validate({"name": "plain", "versions": [{"version": 1, "model_id": 1}],
                                     "settings": {"intra_threads": 2, "spin_wait": spin == "1"}})
    serve_forever([dep], ServerOptions(port=int(port)), lambda model_id: Artifact(Path(model), "onnx"))


def main() -> None:
    import http.client
    import select

    import requests

    from engine.artifact import Artifact
    from engine.serving.client import encode_infer, infer_path
    from engine.serving.runtimes import open_instance
    from engine.serving.server import free_port
    from engine.serving.settings import ModelSettings

    model = sys.argv[sys.argv.index("--model") + 1]
    seconds = float(sys.argv[sys.argv.index("--seconds") + 1]) if "--seconds" in sys.argv else 10.0
    spin = "--spin" in sys.argv
    port = free_port()
    proc = subprocess.Popen([sys.executable, __file__, "--child", model, str(port), "1" if spin else "0"])
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 300
        while True:
            try:
                if requests.get(f"{url}/v2/health/ready", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.2)
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start")
        inst = open_instance(Artifact(Path(model), "onnx"), ModelSettings(intra_threads=2, spin_wait=spin))
        x = np.random.default_rng(0).random((1, 224, 224, 3)).astype(np.float32)
        body, headers = encode_infer({"input": x})
        route = infer_path("plain", None)
        conn = http.client.HTTPConnection("127.0.0.1", port)
        side = http.client.HTTPConnection("127.0.0.1", port)
        rows = []

        def one() -> dict:
            row = {}
            row["send_start"] = _now()
            conn.request("POST", route, body=body, headers=headers)
            row["send_end"] = _now()
            select.select([conn.sock], [], [])
            row["first_byte"] = _now()
            resp = conn.getresponse()
            payload = resp.read()
            head = int(resp.getheader("Inference-Header-Content-Length"))
            json.loads(payload[:head])
            np.frombuffer(payload[head:], dtype=np.float32)
            row["parsed"] = _now()
            return row

        def bare() -> float:
            t0 = _now()
            inst.run({"input": x})
            return (_now() - t0) / 1e6

        def server_bare() -> dict:
            side.request("GET", "/_bare")
            return json.loads(side.getresponse().read())

        for _ in range(10):
            one(), bare(), server_bare()
        side.request("GET", "/_trace")
        side.getresponse().read()
        def stat(pid: int) -> tuple[int, float]:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            return int(fields[7]), (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        s0, c0 = stat(proc.pid), stat(os.getpid())
        end = time.perf_counter() + seconds
        bares, sbares = [], []
        while time.perf_counter() < end:
            rows.append(one())
            bares.append(bare())
            sbares.append(server_bare())
        s1, c1 = stat(proc.pid), stat(os.getpid())
        n = len(rows)
        print(f"per iteration (1 HTTP request + 1 server bare run + 2 side requests): server minor faults "
              f"{(s1[0] - s0[0]) / n:.1f}, server CPU {(s1[1] - s0[1]) / n * 1000:.2f} ms; client (with its bare run) "
              f"faults {(c1[0] - c0[0]) / n:.1f}, CPU {(c1[1] - c0[1]) / n * 1000:.2f} ms")
        side.request("GET", "/_trace")
        server = json.loads(side.getresponse().read())
        report(rows, server, bares, sbares)
    finally:
        proc.terminate()
        proc.wait(30)


def report(rows: list[dict], server: list[dict], bares: list[float], sbares: list[dict]) -> None:
    n = min(len(rows), len(server))
    print(f"{n} requests; load average {'/'.join(f'{v:.2f}' for v in os.getloadavg())}")
    segments: dict[str, list[float]] = {}

    def add(name: str, a: int, b: int) -> None:
        segments.setdefault(name, []).append((b - a) / 1e6)
    missing = sum(1 for s in server[:n] if not s["chunks"])
    if missing:
        print(f"{missing} of {n} server records have no socket reads: {[i for i, s in enumerate(server[:n]) if not s['chunks']][:10]}")
    for c, s in zip(rows[:n], server[:n]):
        chunks = s["chunks"]
        if not chunks:
            continue
        first_chunk, last_chunk = chunks[0][0], chunks[-1][0]
        add("client send (start->end)", c["send_start"], c["send_end"])
        add("send start -> first chunk read", c["send_start"], first_chunk)
        add("first -> last chunk read", first_chunk, last_chunk)
        add("asgi task start -> read_body start", s["asgi_start"], s["read_body_start"])
        add("read_body start -> JSON part in hand", s["read_body_start"], s["body_assembled"])
        add("body assembled -> header parsed", s["body_assembled"], s["header_parsed"])
        add("header parsed -> views made", s["header_parsed"], s["views_made"])
        add("views made -> whole body here", s["views_made"], s["body_complete"])
        add("whole body here -> run start", s["body_complete"], s["run_start"])
        add("session.run (server)", s["run_start"], s["run_end"])
        add("run end -> infer_and_count returned", s["run_end"], s["counted"])
        add("infer_and_count returned -> encoded", s["counted"], s["encoded"])
        add("encoded -> response start sent", s["encoded"], s["response_start"])
        add("response start -> body write start", s["response_start"], s["write_start"])
        add("body write start -> written", s["write_start"], s["written"])
        add("body write start -> client first byte", s["write_start"], c["first_byte"])
        add("first byte -> parsed", c["first_byte"], c["parsed"])
        add("TOTAL client send start -> parsed", c["send_start"], c["parsed"])
        add("total minus server session.run", c["send_start"] + (s["run_end"] - s["run_start"]), c["parsed"])
        segments.setdefault("server loop-thread CPU outside session.run", []).append(s["loop_cpu"] / 1e6)
        segments.setdefault("chunks per body", []).append(len(chunks))
        segments.setdefault("minor faults in server run", []).append(s.get("run_minflt", 0))
    segments["bare session.run (client process)"] = bares
    segments["bare session.run (server process, kept array)"] = [d["ns"] / 1e6 for d in sbares]
    segments["minor faults in server bare run"] = [d["minflt"] for d in sbares]
    print(f"{'segment':<50} {'p50':>8} {'p10':>8} {'p90':>8}")
    for name, v in segments.items():
        print(f"{name:<50} {np.percentile(v, 50):8.3f} {np.percentile(v, 10):8.3f} {np.percentile(v, 90):8.3f}")
    s0 = server[0]
    print("input view: addr%64 =", s0.get("input_addr_mod64"), "aligned", s0.get("input_aligned"), "contiguous",
          s0.get("input_contig"), "body", s0.get("body_type"), "run thread", s0.get("run_thread"))
    print("chunk sizes of one body:", [c[1] for c in s0["chunks"]])
    for s in server[:3]:
        base = s["chunks"][0][0]
        print("data_received (start, end) us from first:", [((c[0] - base) // 1000, (c[2] - base) // 1000)
                                                           for c in s["chunks"]],
              "receive() returns:", [(r - base) // 1000 for r in s.get("receives", [])], "faults in receive",
              s.get("receive_faults"))


if __name__ == "__main__":
    if "--child" in sys.argv:
        child(*sys.argv[sys.argv.index("--child") + 1:][:3])
    else:
        main()
