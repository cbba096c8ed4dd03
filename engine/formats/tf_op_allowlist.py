"""The TensorFlow ops a SavedModel may use: pure tensor computations, and nothing else.

This is an allow-list. An op that is not named here is refused, whatever it is; that is what keeps a
new file-reading or data-set op (``CSVDatasetV2``, ``SqlDataset``...) from passing unnoticed. The list
was derived from the graphs of the SavedModels users export (Keras 3 ``model.export`` and
``tf.saved_model.save`` of CNNs such as MobileNetV2 and EfficientNetB0, recurrent models, transformers
with GELU, LayerNorm and attention, TF1 graphs with their loops), then widened to the pure math, array,
image and control-flow ops of the same families. ``tests/safety`` checks that every name is a real
TensorFlow op and that no name reads files, data sets, Python or the network.

Checkpoint ops (``SaveV2``, ``RestoreV2``...) are not here: they are allowed only inside a SavedModel's
own saver functions (``savedmodel_scan``).
"""
from __future__ import annotations

import re

_GROUPS = {
    "graph plumbing": """
        Const HostConst Placeholder PlaceholderWithDefault Identity IdentityN NoOp StopGradient
        PreventGradient Snapshot EnsureShape CheckNumerics CheckNumericsV2 Assert Print PrintV2
        StringFormat Timestamp ControlTrigger""",
    "calls and control flow (the functions they call are checked too)": """
        StatefulPartitionedCall PartitionedCall If StatelessIf While StatelessWhile Case StatelessCase
        Switch Merge Enter Exit NextIteration LoopCond RefSwitch RefMerge RefEnter RefExit RefIdentity""",
    "variables held by the model": """
        VarHandleOp ReadVariableOp AssignVariableOp AssignAddVariableOp AssignSubVariableOp
        VarIsInitializedOp DestroyResourceOp DisableCopyOnRead ResourceGather ResourceGatherNd
        VariableV2 Variable Assign AssignAdd AssignSub IsVariableInitialized""",
    "lookup tables filled from the graph's own constants": """
        HashTable HashTableV2 MutableHashTableV2 MutableDenseHashTableV2 InitializeTable
        InitializeTableV2 LookupTableFind LookupTableFindV2 LookupTableImport LookupTableImportV2
        LookupTableInsertV2 LookupTableSize LookupTableSizeV2 LookupTableExportV2 LookupTableRemoveV2""",
    "element-wise math": """
        Add AddV2 AddN Sub Mul MulNoNan Div DivNoNan RealDiv FloorDiv FloorMod TruncateDiv TruncateMod Mod
        Pow Maximum Minimum SquaredDifference Square Sqrt Rsqrt Exp Expm1 Log Log1p Xlogy Xlog1py Xdivy
        Sin Cos Tan Asin Acos Atan Atan2 Sinh Cosh Tanh Asinh Acosh Atanh Sigmoid Softplus Softsign Erf
        Erfc Erfinv Ndtri Lgamma Digamma Abs ComplexAbs Neg Sign Floor Ceil Round Rint Reciprocal Inv
        IsNan IsInf IsFinite Equal NotEqual ApproximateEqual Less LessEqual Greater GreaterEqual
        LogicalAnd LogicalOr LogicalNot Select SelectV2 Cast Bitcast BitwiseAnd BitwiseOr BitwiseXor
        Invert LeftShift RightShift PopulationCount ClipByValue Complex Real Imag Conj Angle""",
    "reductions, scans and linear algebra": """
        Sum Mean Prod Max Min All Any ArgMax ArgMin EuclideanNorm Cumsum Cumprod CumulativeLogsumexp
        MatMul BatchMatMul BatchMatMulV2 BatchMatMulV3 Einsum MatrixBandPart MatrixDiag MatrixDiagV2
        MatrixDiagV3 MatrixDiagPart MatrixDiagPartV2 MatrixDiagPartV3 MatrixSetDiag MatrixSetDiagV2
        MatrixSetDiagV3 Cholesky MatrixInverse MatrixDeterminant LogMatrixDeterminant Qr Svd
        SelfAdjointEigV2 MatrixTriangularSolve MatrixSolve Cross FFT IFFT RFFT IRFFT FFT2D IFFT2D RFFT2D
        IRFFT2D SegmentSum SegmentMean SegmentMax SegmentMin SegmentProd UnsortedSegmentSum
        UnsortedSegmentMax UnsortedSegmentMin UnsortedSegmentProd SparseSegmentSum SparseSegmentMean
        SparseSegmentSqrtN SparseSegmentSumWithNumSegments SparseSegmentMeanWithNumSegments
        SparseSegmentSqrtNWithNumSegments SparseTensorDenseMatMul SparseToDense SparseReshape
        SparseFillEmptyRows Bincount DenseBincount Bucketize HistogramFixedWidth""",
    "neural-network layers": """
        BiasAdd BiasAddV1 Relu Relu6 LeakyRelu Elu Selu Softmax LogSoftmax L2Loss LRN Conv Conv2D Conv3D
        Conv2DBackpropInput Conv3DBackpropInputV2 DepthwiseConv2dNative DepthwiseConv2dNativeBackpropInput
        Dilation2D MaxPool MaxPoolV2 MaxPool3D AvgPool AvgPool3D MaxPoolWithArgmax FusedBatchNorm
        FusedBatchNormV2 FusedBatchNormV3 BatchNormWithGlobalNormalization TopKV2 InTopKV2
        QuantizeAndDequantizeV2 QuantizeAndDequantizeV3 QuantizeAndDequantizeV4 QuantizeV2 Dequantize
        FakeQuantWithMinMaxArgs FakeQuantWithMinMaxVars FakeQuantWithMinMaxVarsPerChannel""",
    "shapes, slicing and gathering": """
        Reshape Shape ShapeN Size Rank ExpandDims Squeeze Transpose ConjugateTranspose ConcatV2 Concat
        ConcatOffset Split SplitV Pack Unpack Tile Pad PadV2 MirrorPad Slice StridedSlice
        TensorStridedSliceUpdate Reverse ReverseV2 ReverseSequence Fill ZerosLike OnesLike Range LinSpace
        BroadcastTo BroadcastArgs BroadcastGradientArgs Roll InvertPermutation Diag DiagPart Gather
        GatherV2 GatherNd ScatterNd TensorScatterUpdate TensorScatterAdd TensorScatterSub TensorScatterMax
        TensorScatterMin OneHot Where Unique UniqueV2 UniqueWithCounts ListDiff SpaceToDepth DepthToSpace
        SpaceToBatch SpaceToBatchND BatchToSpace BatchToSpaceND DataFormatDimMap DataFormatVecPermute
        ExtractImagePatches ExtractVolumePatches""",
    "image operations": """
        ResizeBilinear ResizeNearestNeighbor ResizeBicubic ResizeArea ScaleAndTranslate CropAndResize
        NonMaxSuppression NonMaxSuppressionV2 NonMaxSuppressionV3 NonMaxSuppressionV4
        NonMaxSuppressionV5 CombinedNonMaxSuppression ImageProjectiveTransformV2
        ImageProjectiveTransformV3 AdjustContrastv2 AdjustHue AdjustSaturation RGBToHSV HSVToRGB
        DecodeJpeg DecodePng DecodeImage DecodeBmp DecodeGif DecodeRaw EncodeJpeg EncodePng""",
    "random numbers (dropout, augmentation layers)": """
        RandomUniform RandomUniformInt RandomStandardNormal TruncatedNormal Multinomial RandomShuffle
        RngReadAndSkip RngSkip StatelessRandomGetKeyCounter StatelessRandomGetKeyCounterAlg
        StatelessRandomGetAlg StatelessRandomUniform StatelessRandomUniformV2 StatelessRandomNormal
        StatelessRandomNormalV2 StatelessTruncatedNormal StatelessTruncatedNormalV2
        StatelessRandomUniformInt StatelessRandomUniformIntV2 StatelessRandomUniformFullInt
        StatelessRandomUniformFullIntV2 StatelessMultinomial StatelessShuffle""",
    "loops over lists (recurrent layers)": """
        TensorListReserve TensorListSetItem TensorListGetItem TensorListStack TensorListFromTensor
        TensorListLength TensorListElementShape EmptyTensorList TensorListPushBack TensorListPopBack
        TensorListConcatV2 TensorListSplit TensorListResize TensorListGather TensorListScatterV2
        TensorListScatterIntoExistingList TensorArrayV3 TensorArrayReadV3 TensorArrayWriteV3
        TensorArrayGatherV3 TensorArrayScatterV3 TensorArraySizeV3 TensorArrayCloseV3
        TensorArrayConcatV3 TensorArraySplitV3""",
    "strings held in tensors (text layers)": """
        StringJoin StringLength StringLower StringUpper StringStrip StringSplitV2 StringNGrams
        StringToHashBucketFast StringToHashBucketStrong StringToNumber AsString Substr ReduceJoin
        StaticRegexFullMatch StaticRegexReplace RegexFullMatch RegexReplace UnicodeDecode UnicodeEncode
        RaggedTensorToTensor RaggedRange RaggedGather RaggedTensorToSparse""",
}

ALLOWED_OPS: frozenset[str] = frozenset(name for names in _GROUPS.values() for name in names.split())

# Only to word the refusal, and to name the most telling op when a function has several: what a refused
# op most likely does, most serious first. Refusal itself is by absence from the list.
_KINDS = (
    (re.compile(r"PyFunc|Python"), "runs Python code"),
    (re.compile(r"CSV|Csv|Sql|TFRecord|FixedLengthRecord|TextLine|LMDB|Lmdb|Reader"),
     "reads a data set from files or a database"),
    (re.compile(r"File|Summary|Save|Restore|Checkpoint|Vocab|Remap|Debug"), "reads or writes files"),
    (re.compile(r"Rpc|Remote|Send|Recv|Socket|Collective|Grpc|Http"), "reaches other processes or the network"),
    (re.compile(r"Dataset|Iterator"), "runs a data-set pipeline, which can read files"),
    (re.compile(r"Table|Queue|Barrier|Stage|Accumulator|Resource|Variable|Mutex|Stack"),
     "keeps state outside the model's graph"),
)


def refusal_rank(op: str) -> int:
    """Lower is more serious; ops that match no known kind come last."""
    return next((i for i, (pattern, _) in enumerate(_KINDS) if pattern.search(op)), len(_KINDS))


def why_refused(op: str) -> str:
    """A clause saying what a refused op does, for the refusal sentence."""
    rank = refusal_rank(op)
    return _KINDS[rank][1] if rank < len(_KINDS) else "is not one of the pure tensor operations Trimline allows"
