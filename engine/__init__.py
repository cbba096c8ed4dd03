"""Trimline's engine: formats, passes, measurement, jobs and the CLI. Never imports streamlit."""
import os

# onnxruntime queues telemetry events unless told not to; set before it is ever imported.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
