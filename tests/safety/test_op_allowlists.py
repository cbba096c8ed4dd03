"""Only pure tensor ops pass the SavedModel and TFLite checks; file, data-set and custom ops are refused
with a sentence naming the op and where it is, and the models users really export still import."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine.errors import UnsafeFileError
from engine.formats import prepare_upload
from tests.safety.hostile_graphs import custom_op_tflite, reading_savedmodel, zip_folder


@pytest.fixture(scope="module")
def secret_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("outside") / "canary.csv"
    path.write_text("CANARY,1\n")
    return path


@pytest.mark.parametrize(("kind", "op"), [
    ("csv", "CSVDatasetV2"), ("sql", "SqlDataset"), ("read_file", "ReadFile"), ("matching_files", "MatchingFiles"),
    ("tfrecord", "TFRecordDataset"), ("fixed_length", "FixedLengthRecordDatasetV2"),
    ("text_table", "InitializeTableFromTextFileV2"),
])
def test_savedmodel_reading_files_refused_naming_op_and_function(kind: str, op: str, secret_file: Path,
                                                                  tmp_path: Path) -> None:
    upload = reading_savedmodel(tmp_path / kind, kind, secret_file)
    with pytest.raises(UnsafeFileError, match=rf"uses the {op} op \(in function '__inference_[^']+'\), which "
                                              r"(reads|runs)") as caught:
        prepare_upload(upload, tmp_path / "work")
    assert len(str(caught.value).splitlines()) == 1


def test_keras_model_wrapping_a_file_read_refused_as_savedmodel(secret_file: Path, tmp_path: Path) -> None:
    """A Keras 3 model whose layer reads a file, exported as users export SavedModels."""
    import keras
    import tensorflow as tf

    class Reader(keras.layers.Layer):
        def call(self, x):  # noqa: ANN001, ANN201
            return x + tf.cast(tf.strings.length(tf.io.read_file(str(secret_file))), x.dtype)

    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(2)(Reader()(inputs)))
    model.export(tmp_path / "sm", verbose=False)
    with pytest.raises(UnsafeFileError, match=r"uses the ReadFile op \(in function '"):
        prepare_upload(zip_folder(tmp_path / "sm"), tmp_path / "work")


def test_keras_lookup_layer_with_vocabulary_file_refused(tmp_path: Path) -> None:
    from engine.formats.keras_allowlist import check_keras_config

    config = {"class_name": "Functional", "config": {"name": "m", "layers": [
        {"class_name": "StringLookup", "module": "keras.layers", "config": {"name": "lookup",
                                                                             "vocabulary": "/etc/passwd"}}]}}
    with pytest.raises(UnsafeFileError, match=r"StringLookup layer \('lookup'\) takes its vocabulary from a file"):
        check_keras_config(config)


def _qat_config(inner: dict) -> dict:
    """A QAT model's config as tf-keras writes it: a QuantizeWrapperV2 around ``inner``."""
    tfmot = "tensorflow_model_optimization.python.core.quantization.keras"
    return {"class_name": "Functional", "config": {"name": "m", "layers": [
        {"class_name": "QuantizeWrapperV2", "config": {"name": "quant_dense", "layer": inner, "quantize_config": {
            "class_name": "Default8BitQuantizeConfig", "config": {"weight_attrs": ["kernel"]}}}},
        {"class_name": "Dense", "module": "keras.layers", "config": {"name": "d", "activation": {
            "module": f"{tfmot}.quantize_aware_activation", "class_name": "QuantizeAwareActivation",
            "config": {"activation": {"class_name": "NoOpActivation", "config": {}}},
            "registered_name": "QuantizeAwareActivation"}}}]}}


def test_tfmot_quantize_wrappers_pass_only_in_models_trimline_produced() -> None:
    """Uploads are refused; a QAT pass output loads; a Lambda inside a wrapper is refused even there."""
    from engine.formats.keras_allowlist import check_keras_config

    dense = {"class_name": "Dense", "module": "keras.layers", "config": {"name": "dense"}}
    with pytest.raises(UnsafeFileError, match=r"custom object '(QuantizeWrapperV2|QuantizeAwareActivation)'"):
        check_keras_config(_qat_config(dense))
    assert check_keras_config(_qat_config(dense), produced=True) >= 2
    lam = {"class_name": "Lambda", "config": {"name": "evil", "function": "..."}}
    with pytest.raises(UnsafeFileError, match=r"a Lambda layer \('evil'\)"):
        check_keras_config(_qat_config(lam), produced=True)
    stranger = _qat_config(dense)
    stranger["config"]["layers"][0]["config"]["quantize_config"]["class_name"] = "MyQuantizeConfig"
    with pytest.raises(UnsafeFileError, match="custom object 'MyQuantizeConfig'"):
        check_keras_config(stranger, produced=True)


@pytest.mark.parametrize(("flex", "pattern"), [
    (True, r"select-TensorFlow operator FlexReadFile \(in subgraph 0\)"),
    (False, r"custom operator ReadFile \(in subgraph 0\)"),
])
def test_tflite_flex_and_custom_ops_refused(flex: bool, pattern: str, secret_file: Path, tmp_path: Path) -> None:
    model = custom_op_tflite(tmp_path / "model.tflite", secret_file, flex=flex)
    with pytest.raises(UnsafeFileError, match=pattern):
        prepare_upload(model, tmp_path / "work")


def test_tflite_builtin_model_passes(tiny_tflite_bytes: bytes, tmp_path: Path) -> None:
    path = tmp_path / "tiny.tflite"
    path.write_bytes(tiny_tflite_bytes)
    assert prepare_upload(path, tmp_path / "work").format == "tflite"


def test_allowlists_name_real_ops_and_none_that_reach_outside() -> None:
    """Every listed name exists (no typo makes the list look wider than it is), and no listed op reads
    files, data sets, Python or the network."""
    from tensorflow.core.framework import op_def_pb2
    from tensorflow.python.client import pywrap_tf_session

    from engine.formats.tf_op_allowlist import ALLOWED_OPS, refusal_rank
    from engine.formats.tflite_allowlist import BUILTIN_OPS
    from engine.formats.tflite_read import _op_names

    registry = op_def_pb2.OpList()
    registry.ParseFromString(pywrap_tf_session.TF_GetBuffer(pywrap_tf_session.TF_GetAllOpList()))
    assert ALLOWED_OPS <= {op.name for op in registry.op}
    assert not [op for op in ALLOWED_OPS if refusal_rank(op) <= 4]  # python, data sets, files, network, pipelines
    assert not [op for op in ALLOWED_OPS if re.search(r"File|Dataset|Reader|Iterator|PyFunc|Save|Restore", op)]
    assert BUILTIN_OPS <= set(_op_names().values())
    assert not BUILTIN_OPS & {"CUSTOM", "DELEGATE", "STABLEHLO_CUSTOM_CALL", "PLACEHOLDER_FOR_GREATER_OP_CODES"}


def test_model_stored_before_the_allowlist_is_checked_again_before_running(secret_file: Path,
                                                                            tmp_path: Path) -> None:
    """Stored artifacts may predate today's lists: opening one to run it checks it again."""
    from engine.artifact import Artifact
    from engine.runtime import open_model

    reading_savedmodel(tmp_path / "sm", "read_file", secret_file)
    with pytest.raises(UnsafeFileError, match=r"uses the ReadFile op"):
        open_model(Artifact(tmp_path / "sm", "savedmodel"))
    flex = custom_op_tflite(tmp_path / "model.tflite", secret_file, flex=True)
    with pytest.raises(UnsafeFileError, match=r"FlexReadFile"):
        open_model(Artifact(flex, "tflite"))
