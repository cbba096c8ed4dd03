"""Deploy: serve the chosen variant, watch it live, try it, load-test it, add versions and move labels."""
from __future__ import annotations

import streamlit as st

from app import serving_charts, tables, ui
from app.deploy_panels import load_test, try_it
from engine import api

st.title("Deploy")
st.caption("Serve a variant over KServe V2 (Triton clients) and TensorFlow Serving REST, as a process beside the "
           "worker that keeps running when you leave this page. Watch it, try it, load-test it, then add a version.")
family, members, record = ui.choose_family_and_champion("Nothing to serve yet.")
by_id = {m["id"]: m for m in members}
champion = record.model_id if record else None
name = api.serving.family_name(family["id"])
saved = {d["name"]: d for d in api.serving.list_deployments()}
deployment = saved.get(name)


def _batching_caption(model_id: int) -> str:
    """What batching can gain for this variant, from its own benchmark: a toggle with no figure beside it is how a
    server with batching on ends up no faster than without, with nobody knowing why."""
    bound = api.serving.batching_bound(model_id)
    if bound is None:
        return "Benchmark this variant at batch sizes above 1 to see what batching can gain on this machine."
    sizes = " · ".join(f"{b}: {ms:.3g}" for b, ms in bound["per_item_ms"].items())
    if bound["best_batch"] == 1:
        return (f"This variant's benchmark runs one input at a time fastest (ms per input, by batch: {sizes}): on "
                "this machine batching can't raise its throughput, only add queueing delay.")
    return (f"This variant's benchmark: batches of {bound['best_batch']} give {bound['gain']:.2f}× the throughput of "
            f"one input at a time (ms per input, by batch: {sizes}). That is the most dynamic batching can gain on "
            "this machine; each request's HTTP costs come on top.")


def _settings_form(current: dict, key: str, model_id: int) -> dict:
    c1, c2, c3, c4 = st.columns(4)
    threads = c1.number_input("Threads per instance (0: all cores)", 0, 64, current.get("intra_threads", 0), key=f"{key}_threads")
    instances = c2.number_input("Instances", 1, 16, current.get("instances", 1), key=f"{key}_instances")
    batching = c3.toggle("Dynamic batching", current.get("batching", {}).get("enabled", False), key=f"{key}_batching")
    cache = c4.toggle("Response cache", current.get("cache", {}).get("enabled", False), key=f"{key}_cache")
    max_batch = c3.number_input("Max batch", 1, 256, current.get("batching", {}).get("max_batch", 8), key=f"{key}_mb",
                                disabled=not batching)
    delay = c3.number_input("Max queue delay (ms)", 0.0, 1000.0,
                            float(current.get("batching", {}).get("max_queue_delay_ms", 2.0)), key=f"{key}_delay",
                            disabled=not batching)
    c3.caption(_batching_caption(model_id))
    return {"intra_threads": int(threads), "instances": int(instances), "cache": {"enabled": cache},
            "batching": {"enabled": batching, "max_batch": int(max_batch), "max_queue_delay_ms": float(delay)}}


def _memory_input(where, default: int, key: str) -> int:  # noqa: ANN001
    return where.number_input("Memory limit (MB)", 64, 1 << 22, int(default), step=256, key=key,
                              help="A version that does not fit is not loaded (the server keeps serving the "
                                   "others); past the limit the server stops itself. Default: half this machine's "
                                   "memory (TRIMLINE_SERVE_MEMORY_MB).")


if deployment is None:
    st.subheader(f"Serve '{name}'")
    chosen = ui.pick_model("Variant to serve as version 1", members, state_key="deploy_model_id", default=champion)
    defaults = api.serving.default_settings(chosen["id"])
    st.caption("Settings start from this variant's best benchmark cell." if defaults else
               "No benchmark yet: the runtime's defaults are used.")
    settings = _settings_form(defaults, "new", chosen["id"])
    p1, p2 = st.columns(2)
    port = p1.number_input("Port", 1024, 65535, 8600, key="deploy_port")
    memory = _memory_input(p2, api.serving.server_memory_mb(), "deploy_memory")
    if st.button("Start serving", type="primary", icon=":material/rocket_launch:", key="deploy_start"):
        with ui.shows_errors():
            api.serving.check_bind("127.0.0.1", int(port))
            api.serving.plan([chosen["id"]], name=name, settings=settings)
            api.serving.start_server(name, int(port), memory_mb=int(memory))
            st.rerun()
    st.stop()

status = api.serving.server_status(name)
state = status["state"] if status else "stopped"
st.subheader(f"'{name}' · {state}" + (f" at {status['url']}" if status and state != "exited" else ""))
if status and state != "exited" and status.get("sandbox"):  # the walls its process built around the models
    (st.warning if "off (" in status["sandbox"] else st.caption)(f"Sandbox: {status['sandbox']}")
labels_of = {}
for label, version in deployment["labels"].items():
    labels_of.setdefault(version, []).append(label)
st.dataframe([{"version": v["version"], "model": tables.model_label(by_id[v["model_id"]]) if v["model_id"] in by_id
               else f"#{v['model_id']}", "labels": ", ".join(sorted(labels_of.get(v["version"], [])))}
              for v in deployment["versions"]], hide_index=True, key="deploy_versions", placeholder="—")

c1, c2 = st.columns(2)
if state in ("ready", "starting"):
    if c1.button("Stop", icon=":material/stop_circle:", key="deploy_stop"):
        api.serving.stop_server(name)
        st.rerun()
else:
    port = c1.number_input("Port", 1024, 65535, int((status or {}).get("url", ":8600").rsplit(":", 1)[-1]),
                           key="deploy_restart_port")
    memory = _memory_input(c2, (status or {}).get("memory_mb") or api.serving.server_memory_mb(),
                           "deploy_restart_memory")
    if c1.button("Start", type="primary", icon=":material/play_circle:", key="deploy_restart"):
        with ui.shows_errors():
            api.serving.start_server(name, int(port), memory_mb=int(memory))
            st.rerun()
    if state == "exited" and status:
        if status["log_tail"].rstrip().endswith(f"stopped serving {name}"):  # its own last words on a clean stop
            st.info("The server was stopped (with Stop, or when the `trimline up` it ran under ended). "
                    "Start it again here.")
        else:
            st.error("The server stopped. Its log ends:")
            st.code(status["log_tail"][-1500:] or "(empty)")

if champion is not None and all(v["model_id"] != champion for v in deployment["versions"]):
    number = max(v["version"] for v in deployment["versions"]) + 1
    label_text = tables.model_label(by_id[champion]) if champion in by_id else f"#{champion}"
    st.info(f"The family's champion, {label_text}, is not served yet.")
    if st.button(f"Serve the champion as version {number} (canary)", type="primary", key="deploy_champion"):
        with ui.shows_errors():
            api.serving.promote(name, champion, "canary")
            st.rerun()

with st.expander("Versions, labels and settings"):
    variant = ui.pick_model("Promote a variant as the next version", members, state_key="deploy_promote_id",
                            default=champion)
    label = st.text_input("with label", "canary", key="deploy_promote_label")
    if st.button("Promote", key="deploy_promote"):
        with ui.shows_errors():
            api.serving.promote(name, variant["id"], label.strip() or None)
            st.rerun()
    versions = [v["version"] for v in deployment["versions"]]
    l1, l2 = st.columns(2)
    move = l1.text_input("Label", "stable", key="deploy_move_label")
    target = l2.selectbox("points at version", versions, index=len(versions) - 1, key="deploy_move_version")
    if st.button("Move label", key="deploy_move"):
        with ui.shows_errors():
            api.serving.set_label(name, move.strip(), int(target))
            st.rerun()
    new_settings = _settings_form(deployment["settings"], "edit", deployment["versions"][-1]["model_id"])
    if st.button("Apply settings (loads beside the running versions, then swaps)", key="deploy_apply"):
        with ui.shows_errors():
            api.serving.configure(name, settings=new_settings)
            st.rerun()
    for target_format in ("triton", "tfserving"):
        if st.button(f"Export as {target_format} layout", key=f"deploy_export_{target_format}"):
            with ui.shows_errors():
                st.session_state["deploy_export_job"] = api.serving.submit_deployment_export(name, target_format).id
    if "deploy_export_job" in st.session_state:
        finished = ui.watch_job(st.session_state["deploy_export_job"])
        if finished and finished["status"] == "succeeded":
            path = api.export_path(api.get_job(finished["id"]))
            st.download_button(f"Download {finished['result']['filename']}", data=path.read_bytes,
                               file_name=finished["result"]["filename"], on_click="ignore", key="deploy_download")

@ui.fragment(run_every=1.0)
def wait_until_ready() -> None:
    if (api.serving.server_status(name) or {}).get("state") != "starting":
        st.rerun()
    st.info("Loading the model… this page refreshes when the server is ready.")


if state != "ready":
    if state == "starting":
        wait_until_ready()
    st.stop()

url = status["url"]
for served in api.serving.served_versions(url, name):
    if served["note"]:  # an execution provider fell back to CPU: say why
        st.warning(f"Version {served['version']}: {served['note']}")


@ui.fragment(run_every=2.0)
def live() -> None:
    history = st.session_state.setdefault("deploy_history", {}).setdefault(url, [])
    try:
        history.append(api.serving.read_metrics(url))
    except Exception as exc:  # the server went away between reruns
        st.warning(f"Could not read the server's metrics ({exc}).")
        return
    del history[:-150]
    now = history[-1]
    m = st.columns(5)
    m[0].metric("Requests", f"{now['requests']:.0f}")
    m[1].metric("Failures", f"{now['failures']:.0f}")
    m[2].metric("p99 ms", "–" if now["latency_ms"]["p99"] is None else f"{now['latency_ms']['p99']:.1f}",
                help="Timed inside the server since it started; a load test's curve is timed at its clients, "
                     "with the HTTP round trip, so it reads higher.")
    m[3].metric("Cache hit rate", "–" if now["hit_rate"] is None else f"{now['hit_rate']:.0%}")
    limit = now.get("memory_limit_mb")
    m[4].metric("RSS MB" + (" / limit" if limit else ""), f"{now['rss_mb']:.0f}" + (f" / {limit:.0f}" if limit else ""))
    if not now["requests"]:  # empty charts on axes from -1 to 1 say nothing; say what fills them
        st.info("No requests yet: send one under Try it or run a load test below, and latency, throughput, batch "
                "sizes and cache hits are drawn here as they arrive.")
        st.plotly_chart(serving_charts.resources_figure(history), key="deploy_resources")
        return
    g1, g2 = st.columns(2)
    g1.plotly_chart(serving_charts.latency_figure(history), key="deploy_latency")
    g2.plotly_chart(serving_charts.throughput_figure(history, api.serving.throughput(history)), key="deploy_throughput")
    g3, g4 = st.columns(2)
    g3.plotly_chart(serving_charts.batch_figure(now), key="deploy_batches")
    if deployment["settings"].get("cache", {}).get("enabled"):
        g4.plotly_chart(serving_charts.cache_figure(history), key="deploy_cache")
    else:  # an empty chart would read as a cache that never hits
        g4.info("The response cache is off for this model, so there is no hit rate to draw. Turn it on under "
                "**Versions, labels and settings** to answer repeated inputs without running the model.")
    st.plotly_chart(serving_charts.resources_figure(history), key="deploy_resources")  # a time line: the full width


st.subheader("Live")
live()

try_it(url, name, deployment)
load_test(url, name)
