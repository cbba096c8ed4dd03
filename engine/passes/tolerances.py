"""How close a gated pass's output must stay to its parent's.

Rule: an output passes when ``max_abs_diff <= tol * max(1, max|parent output|)`` — absolute for outputs
within [-1, 1] (probabilities), relative to the output's scale for logits and embeddings. A pass declares
its tolerance on its spec (or its config, when it depends on the settings); a result may tighten the
rule for what it produced (a Q/DQ model's top-1 agreement).
"""
from __future__ import annotations

DEFAULT = 1e-3  # exact conversions
FLOAT16 = 1e-2  # 10 mantissa bits: ~1e-3 relative per op, accumulated over a network's depth
# A QAT model's conversion to Q/DQ ONNX: TF's fake-quant and onnxruntime's int8 kernels may round a value
# to neighbouring int8 steps, and a step early in the network moves a softmax output near a decision
# boundary further (measured on the digits CNN after one QAT epoch: up to 0.060 on one sample in 64, mean
# relative 0.9%, top-1 agreement 98.4%). What holds such a conversion is top-1 agreement on 95% of samples.
QDQ = 1e-1
QDQ_MIN_AGREEMENT = 0.95
