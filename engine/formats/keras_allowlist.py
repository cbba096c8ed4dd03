"""Which objects a Keras model config may name, and the walk that checks a config against them.

``safe_mode`` alone has been bypassed repeatedly (CVE-2024-3660, CVE-2025-1550, CVE-2025-8747,
CVE-2025-9905), so Trimline reads the config itself first and accepts only built-in layers and the
plain objects their configs hold (initializers, regularizers, constraints, dtype policies).
"""
from __future__ import annotations

from typing import Any

from engine.errors import UnsafeFileError

MODEL_CLASSES = frozenset({"Functional", "Sequential", "Model", "InputLayer"})

LAYER_CLASSES = frozenset({
    # core
    "Dense", "EinsumDense", "Embedding", "Identity", "Masking", "Activation", "Wrapper",
    # convolution
    "Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose",
    "DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D",
    "Convolution1D", "Convolution2D", "Convolution3D", "Convolution2DTranspose",
    # pooling
    "MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "AveragePooling1D", "AveragePooling2D",
    "AveragePooling3D", "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D",
    "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D", "MaxPool1D", "MaxPool2D",
    "AvgPool2D", "GlobalAvgPool2D",
    # normalization
    "BatchNormalization", "LayerNormalization", "GroupNormalization", "UnitNormalization",
    "SpectralNormalization", "RMSNormalization",
    # activations
    "ReLU", "LeakyReLU", "PReLU", "ELU", "Softmax", "ThresholdedReLU",
    # merging
    "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Dot",
    # reshaping
    "Reshape", "Flatten", "Permute", "RepeatVector", "Cropping1D", "Cropping2D", "Cropping3D",
    "UpSampling1D", "UpSampling2D", "UpSampling3D", "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D",
    # regularization (inactive at inference)
    "Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise",
    "GaussianDropout", "AlphaDropout", "ActivityRegularization",
    # attention
    "Attention", "AdditiveAttention", "MultiHeadAttention", "GroupQueryAttention",
    # recurrent
    "LSTM", "GRU", "SimpleRNN", "LSTMCell", "GRUCell", "SimpleRNNCell", "RNN", "StackedRNNCells",
    "Bidirectional", "TimeDistributed", "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D",
    # preprocessing baked into models (keras.applications' EfficientNet and MobileNetV3 carry these);
    # their configs are numbers, strings and vocabularies, never callables
    "Normalization", "Rescaling", "Resizing", "CenterCrop", "Discretization", "CategoryEncoding",
    "Hashing", "IntegerLookup", "StringLookup", "RandomFlip", "RandomRotation", "RandomZoom",
    "RandomTranslation", "RandomContrast", "RandomCrop", "RandomBrightness",
})

# Plain objects found inside layer configs; none of them carries code.
OBJECT_CLASSES = frozenset({
    "DTypePolicy", "FloatDTypePolicy", "Policy", "QuantizedDTypePolicy", "QuantizedFloat8DTypePolicy",
    "__keras_tensor__", "__tensor__", "__numpy__", "__bytes__", "__typespec__", "TensorShape",
    "Constant", "GlorotNormal", "GlorotUniform", "HeNormal", "HeUniform", "Identity", "LecunNormal",
    "LecunUniform", "Ones", "Orthogonal", "RandomNormal", "RandomUniform", "TruncatedNormal",
    "VarianceScaling", "Zeros", "IdentityInitializer",
    "L1", "L2", "L1L2", "OrthogonalRegularizer", "MaxNorm", "MinMaxNorm", "NonNeg", "UnitNorm",
    "RadialConstraint",
})

# tensorflow-model-optimization's quantization wrappers and quantizers: what the ``qat`` pass writes
# (``prune`` and ``cluster`` strip their wrappers before saving, so none of theirs is needed). Allowed only
# for artifacts Trimline produced itself, never in uploads: their configs are not code, but a
# ``Default8BitQuantizeConfig`` names the attributes the wrapper reads and sets on the layer it wraps
# (``weight_attrs``, ``activation_attrs``), so a hand-written one steers attribute access during loading.
# Everything around them (the wrapped layer, its initializers) is still checked against the lists above.
TFMOT_CLASSES = frozenset({
    "QuantizeLayer", "QuantizeWrapper", "QuantizeWrapperV2", "QuantizeAnnotate", "QuantizeAwareActivation",
    "Default8BitQuantizeConfig", "Default8BitOutputQuantizeConfig", "Default8BitConvQuantizeConfig",
    "Default8BitActivationQuantizeConfig", "NoOpQuantizeConfig", "OutputOnlyConfig",
    "MovingAverageQuantizer", "LastValueQuantizer", "AllValuesQuantizer", "NoOpActivation",
})

# Lookup layers read their vocabulary from a file when the config gives a path instead of a list.
FILE_KEYS = ("vocabulary", "idf_weights")

CODE_CLASSES = {"Lambda": "a Lambda layer", "TFOpLambda": "a TFOpLambda layer",
                "SlicingOpLambda": "a SlicingOpLambda layer", "__lambda__": "a Python lambda function",
                "function": "a Python function"}


def _refuse(class_name: str, name: str | None, why: str) -> UnsafeFileError:
    label = f" ('{name}')" if name else ""
    return UnsafeFileError(f"the model uses {why}{label}, which {_runs(class_name)}; Trimline refuses it — "
                           "rebuild the layer with built-in Keras layers")


def _runs(class_name: str) -> str:
    if class_name in CODE_CLASSES:
        return "runs arbitrary Python code on load"
    return "is not a built-in Keras object and could run code on load"


def _check_object(obj: dict[str, Any], owner: str | None, extra: frozenset[str]) -> None:
    class_name = str(obj.get("class_name"))
    config = obj.get("config")
    name = config.get("name") if isinstance(config, dict) else None
    name = name or obj.get("name") or owner
    if class_name in CODE_CLASSES:
        raise _refuse(class_name, name, CODE_CLASSES[class_name])
    module = obj.get("module")
    registered = obj.get("registered_name")
    # Keras 3 writes module 'keras.layers', 'keras.src.models.functional'...; custom objects carry the
    # user's module and a 'package>Name' registered_name.
    custom = (isinstance(module, str) and module != "keras" and not module.startswith("keras.")) or (
        isinstance(registered, str) and registered not in (class_name, "Functional"))
    if class_name in extra and (module is None or str(module).startswith("tensorflow_model_optimization.")):
        custom = False  # tfmot's own class, named by its own module (allowed for produced artifacts only)
    if custom or class_name not in (MODEL_CLASSES | LAYER_CLASSES | OBJECT_CLASSES | extra):
        raise _refuse(class_name, name, f"the custom object '{registered or class_name}'")
    for key in FILE_KEYS:
        if isinstance(config, dict) and isinstance(config.get(key), str):
            raise UnsafeFileError(f"the model's {class_name} layer ('{name}') takes its {key} from a file "
                                  f"path, which would read a file on load; Trimline refuses it — save the "
                                  f"{key} inside the model as a list")


def check_keras_config(config: Any, produced: bool = False) -> int:
    """Walk a model config (the parsed JSON) and raise UnsafeFileError at the first object that is not
    on the allow-list, naming it. ``produced``: the file is a pass output Trimline wrote, so tfmot's
    quantization classes are allowed too. Returns how many layers were seen."""
    extra = TFMOT_CLASSES if produced else frozenset()
    if not isinstance(config, dict) or config.get("class_name") not in MODEL_CLASSES:
        top = config.get("class_name") if isinstance(config, dict) else type(config).__name__
        raise UnsafeFileError(f"the model's top-level class '{top}' is not a built-in Keras model "
                              "(Functional or Sequential); Trimline refuses it — save a functional or "
                              "sequential model")
    # The optimizer/loss/metrics under compile_config are deserialized only by compile=True, which
    # Trimline never uses; they are not part of the model that gets built.
    config = {k: v for k, v in config.items() if k != "compile_config"}
    layers = 0
    stack: list[tuple[Any, str | None]] = [(config, None)]
    while stack:
        node, owner = stack.pop()
        if isinstance(node, dict):
            if "class_name" in node:
                _check_object(node, owner, extra)
                if node["class_name"] in LAYER_CLASSES:
                    layers += 1
                inner = node.get("config")
                owner = inner.get("name", owner) if isinstance(inner, dict) else owner
            stack.extend((v, owner) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, owner) for v in node)
    return layers


def uses_tfmot(config: Any) -> bool:
    """True when the config names one of tfmot's quantization classes (a QAT model)."""
    stack = [config]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("class_name") in TFMOT_CLASSES:
                return True
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False
