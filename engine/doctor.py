"""``trimline doctor``: can the studio run here, and on what?"""
from __future__ import annotations

import importlib.metadata as md
import platform
from typing import Any

PACKAGES = ("tensorflow", "tf-keras", "tensorflow-model-optimization", "tf2onnx", "onnx", "onnxruntime",
            "streamlit", "netron", "plotly", "sqlalchemy", "huey", "numpy")


def _service_checks(settings) -> list[dict[str, Any]]:  # noqa: ANN001
    """One line per configured service: database (reachable, migrated), queue, store, library versions."""
    from engine import environment, services
    from engine.errors import ConfigError

    out = []
    try:
        environment.check_home(settings)
        revision = environment.open_database(settings, upgrade=settings.auto_migrate)
        out.append({"name": "database", "ok": True,
                    "detail": f"{services.safe_url(settings.database_url)} reachable, migrated to revision {revision}"})
    except ConfigError as exc:
        return [{"name": "database", "ok": False, "detail": str(exc)}]
    for name, check in (("queue", services.check_queue), ("artifact store", services.check_store)):
        try:
            out.append({"name": name, "ok": True, "detail": check(settings)})
        except ConfigError as exc:
            out.append({"name": name, "ok": False, "detail": str(exc)})
    ok, detail = services.check_versions()
    out.append({"name": "library versions", "ok": ok, "detail": detail})
    return out


def run_checks() -> dict[str, Any]:
    from engine import environment
    from engine.errors import ConfigError
    from engine.measure.hardware import fingerprint

    checks = []
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = md.version(name)
            checks.append({"name": name, "ok": True, "detail": versions[name]})
        except md.PackageNotFoundError:
            checks.append({"name": name, "ok": False, "detail": "not installed"})
    settings = environment.settings()
    checks.extend(_service_checks(settings))
    try:
        import onnxruntime as ort

        providers = ort.get_available_providers()
        checks.append({"name": "onnxruntime providers", "ok": "CPUExecutionProvider" in providers,
                       "detail": ", ".join(providers)})
    except Exception as exc:
        checks.append({"name": "onnxruntime providers", "ok": False, "detail": str(exc)})
    checks += _sandbox_checks()
    checks += _serving_checks()
    hardware = fingerprint()
    raw = hardware.get("flags", {})
    flags = {f for f, on in raw.items() if on} if isinstance(raw, dict) else set(raw)
    vnni = bool(flags & {"avx512_vnni", "avx_vnni", "amx_int8"})
    checks.append({"name": "int8 acceleration", "ok": True,
                   "detail": "VNNI/AMX present: INT8 can beat FP32" if vnni else
                   "no VNNI/AMX: INT8 models may be slower than FP32 here; measure before choosing"})
    return {"ok": all(c["ok"] for c in checks), "checks": checks, "versions": versions,
            "hardware": hardware, "home": str(settings.home), "python": platform.python_version()}


def _sandbox_checks() -> list[dict[str, Any]]:
    """One line per isolation layer of job children; failing only when no layer limits file access."""
    from engine.jobs.sandbox import layers

    found = layers()
    checks = [{"name": f"sandbox {layer['name']}", "ok": True,
               "detail": f"{'on' if layer['active'] else 'off'}: {layer['detail']}"} for layer in found]
    walls = [layer["name"] for layer in found if layer["active"] and layer["name"] in ("namespaces", "landlock")]
    checks.append({"name": "sandbox", "ok": bool(walls),
                   "detail": f"job files confined by {' and '.join(walls)}" if walls else
                   "no layer confines what a job can read; install bubblewrap or use Linux 5.13+ with Landlock"})
    return checks


def _serving_checks() -> list[dict[str, Any]]:
    """One line per wall of a serving process (``trimline serve``, the Deploy page's servers)."""
    from engine.jobs.server_walls import layers

    found = layers()
    checks = [{"name": f"serving {layer['name']}", "ok": True,
               "detail": f"{'on' if layer['active'] else 'off'}: {layer['detail']}"} for layer in found]
    files = any(layer["active"] for layer in found if layer["name"] == "landlock")
    checks.append({"name": "serving sandbox", "ok": True,  # a server still runs; the line says what is missing
                   "detail": "served models' files confined by landlock" if files else
                   "nothing confines what a served model can read; use Linux 5.13+ with Landlock enabled"})
    from engine.serving.memory import default_limit_mb, machine_mb
    from storage.settings import get_settings

    chosen = get_settings().serve_memory_mb
    checks.append({"name": "serving memory", "ok": True,
                   "detail": f"each server keeps to {chosen or default_limit_mb()} MB " + (
                       "(TRIMLINE_SERVE_MEMORY_MB)" if chosen else f"(half of this machine's {machine_mb()} MB)") +
                   "; `trimline serve --memory-mb` and the Deploy page set it per server"})
    return checks
