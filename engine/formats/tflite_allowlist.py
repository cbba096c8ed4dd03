"""The operators a TFLite model may use: the interpreter's built-in tensor kernels, named one by one.

An operator code that is not listed is refused. Custom operators are refused unless listed here;
``Flex...`` operators (TensorFlow ops run through the select-ops delegate) are refused because the op
they run is chosen by bytes inside the file, not by their name, and that op may read files.
``tests/safety`` checks every name against the TFLite schema.
"""
from __future__ import annotations

from typing import Any

from engine.errors import UnsafeFileError

BUILTIN_OPS = frozenset("""
    ABS ADD ADD_N ARG_MAX ARG_MIN ASSIGN_VARIABLE ATAN2 AVERAGE_POOL_2D BATCH_MATMUL BATCH_TO_SPACE_ND
    BIDIRECTIONAL_SEQUENCE_LSTM BIDIRECTIONAL_SEQUENCE_RNN BITCAST BITWISE_XOR BROADCAST_ARGS BROADCAST_TO
    BUCKETIZE CALL_ONCE CAST CEIL COMPLEX_ABS CONCATENATION CONCAT_EMBEDDINGS CONV_2D CONV_3D
    CONV_3D_TRANSPOSE COS CUMSUM DENSIFY DEPTHWISE_CONV_2D DEPTH_TO_SPACE DEQUANTIZE DILATE DIV
    DYNAMIC_UPDATE_SLICE ELU EMBEDDING_LOOKUP EMBEDDING_LOOKUP_SPARSE EQUAL EXP EXPAND_DIMS FAKE_QUANT
    FILL FLOOR FLOOR_DIV FLOOR_MOD FULLY_CONNECTED GATHER GATHER_ND GELU GREATER GREATER_EQUAL
    HARD_SWISH HASHTABLE HASHTABLE_FIND HASHTABLE_IMPORT HASHTABLE_LOOKUP HASHTABLE_SIZE IF IMAG
    L2_NORMALIZATION L2_POOL_2D LEAKY_RELU LESS LESS_EQUAL LOCAL_RESPONSE_NORMALIZATION LOG LOGICAL_AND
    LOGICAL_NOT LOGICAL_OR LOGISTIC LOG_SOFTMAX LSH_PROJECTION LSTM MATRIX_DIAG MATRIX_SET_DIAG MAXIMUM
    MAX_POOL_2D MEAN MINIMUM MIRROR_PAD MUL MULTINOMIAL NEG NON_MAX_SUPPRESSION_V4
    NON_MAX_SUPPRESSION_V5 NOT_EQUAL ONE_HOT PACK PAD PADV2 POW PRELU QUANTIZE RANDOM_STANDARD_NORMAL
    RANDOM_UNIFORM RANGE RANK READ_VARIABLE REAL REDUCE_ALL REDUCE_ANY REDUCE_MAX REDUCE_MIN REDUCE_PROD
    REDUCE_WINDOW RELU RELU6 RELU_0_TO_1 RELU_N1_TO_1 RESHAPE RESIZE_BILINEAR RESIZE_NEAREST_NEIGHBOR
    REVERSE_SEQUENCE REVERSE_V2 RFFT2D RIGHT_SHIFT RNN ROUND RSQRT SCATTER_ND SEGMENT_SUM SELECT
    SELECT_V2 SHAPE SIGN SIN SKIP_GRAM SLICE SOFTMAX SPACE_TO_BATCH_ND SPACE_TO_DEPTH SPARSE_TO_DENSE
    SPLIT SPLIT_V SQRT SQUARE SQUARED_DIFFERENCE SQUEEZE STRIDED_SLICE SUB SUM SVDF TANH TILE TOPK_V2
    TRANSPOSE TRANSPOSE_CONV UNIDIRECTIONAL_SEQUENCE_LSTM UNIDIRECTIONAL_SEQUENCE_RNN UNIQUE
    UNSORTED_SEGMENT_MAX UNSORTED_SEGMENT_MIN UNSORTED_SEGMENT_PROD UNSORTED_SEGMENT_SUM UNPACK VAR_HANDLE
    WHERE WHILE ZEROS_LIKE
    STABLEHLO_ABS STABLEHLO_ADD STABLEHLO_AND STABLEHLO_BROADCAST_IN_DIM STABLEHLO_CASE STABLEHLO_CBRT
    STABLEHLO_CLAMP STABLEHLO_COMPARE STABLEHLO_COMPOSITE STABLEHLO_CONCATENATE STABLEHLO_CONVERT
    STABLEHLO_CONVOLUTION STABLEHLO_COSINE STABLEHLO_DIVIDE STABLEHLO_DOT_GENERAL STABLEHLO_DYNAMIC_SLICE
    STABLEHLO_DYNAMIC_UPDATE_SLICE STABLEHLO_EXPONENTIAL STABLEHLO_FLOOR STABLEHLO_GATHER STABLEHLO_IOTA
    STABLEHLO_LOG STABLEHLO_LOGISTIC STABLEHLO_MAXIMUM STABLEHLO_MINIMUM STABLEHLO_MULTIPLY
    STABLEHLO_NEGATE STABLEHLO_OR STABLEHLO_PAD STABLEHLO_POWER STABLEHLO_REDUCE STABLEHLO_REDUCE_WINDOW
    STABLEHLO_REMAINDER STABLEHLO_RESHAPE STABLEHLO_RNG_BIT_GENERATOR STABLEHLO_RSQRT STABLEHLO_SCATTER
    STABLEHLO_SELECT STABLEHLO_SHIFT_LEFT STABLEHLO_SLICE STABLEHLO_SORT STABLEHLO_SUBTRACT STABLEHLO_TANH
    STABLEHLO_TRANSPOSE STABLEHLO_WHILE
""".split())

# Custom operators with a known, pure kernel in the interpreter Trimline runs.
CUSTOM_OPS = frozenset({"TFLite_Detection_PostProcess"})


def check_tflite_operators(codes: list[tuple[str, bool]], used_in: dict[int, int]) -> None:
    """Raise UnsafeFileError at the first operator code that is not allowed.

    ``codes``: (name, is_custom) per entry of the model's operator-code table, whether or not an
    operator uses it; ``used_in``: code index -> the first subgraph that uses it, to name it.
    """
    for index, (name, custom) in enumerate(codes):
        where = f"subgraph {used_in[index]}" if index in used_in else "the operator table"
        if custom and name in CUSTOM_OPS:
            continue
        if custom and name.startswith("Flex"):
            raise UnsafeFileError(f"the TFLite model uses the select-TensorFlow operator {name} (in {where}), "
                                  "which can run any TensorFlow op, including ones that read files; Trimline "
                                  "refuses it — convert the model with built-in TFLite operators only")
        if custom:
            raise UnsafeFileError(f"the TFLite model uses the custom operator {name} (in {where}), whose code "
                                  "Trimline cannot check; Trimline refuses it — convert the model with built-in "
                                  "TFLite operators only")
        if name not in BUILTIN_OPS:
            raise UnsafeFileError(f"the TFLite model uses the {name} operator (in {where}), which is not one of "
                                  "the built-in tensor operators Trimline allows; Trimline refuses it — convert "
                                  "the model with other operators")


def operator_facts(model: Any, schema: Any, names: dict[int, str], limit: int) -> tuple[list[tuple[str, bool]],
                                                                                       dict[int, int]]:
    """The operator-code table and where each code is first used, from a parsed flatbuffer Model."""
    codes = []
    for j in range(_bounded(model.OperatorCodesLength(), limit)):
        code = model.OperatorCodes(j)
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        custom = code.CustomCode()
        if custom or builtin == schema.BuiltinOperator.CUSTOM:
            codes.append(((custom or b"").decode("utf-8", "replace") or "(unnamed)", True))
        else:
            codes.append((names.get(builtin, f"OP_{builtin}"), False))
    used_in: dict[int, int] = {}
    for g in range(_bounded(model.SubgraphsLength(), limit)):
        graph = model.Subgraphs(g)
        for j in range(_bounded(graph.OperatorsLength(), limit)):
            used_in.setdefault(graph.Operators(j).OpcodeIndex(), g)
    return codes, used_in


def _bounded(n: int, limit: int) -> int:
    from engine.errors import FormatError

    if n < 0 or n > limit:
        raise FormatError("the TFLite file is damaged (a table claims more entries than the file holds)")
    return n
