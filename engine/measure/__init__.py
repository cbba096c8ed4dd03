"""Measurement: benchmark (latency, throughput, memory), evaluate (metrics, fidelity), per-op profile,
interleaved A/B comparison, explanations, roofline and the hardware fingerprint.

Import the submodule you need; heavy runtimes are imported inside the functions that use them.
"""
