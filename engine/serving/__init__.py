"""Serving chosen models over HTTP: KServe V2 / Triton and TensorFlow Serving REST, versions and labels,
instance pools, dynamic batching, a response cache, Prometheus metrics, and a closed-loop load test."""
