"""Real hostile models for the allow-list and sandbox tests: graphs that read files, data sets and /proc.

Each builder writes a SavedModel folder (or a TFLite file) with TensorFlow itself and returns its path,
zipped as users upload it. Nothing here is mocked: these are the graphs an attacker would upload.
"""
from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Callable

SPEC_SHAPE = (None, 4)
LEAK_BYTES = 96


def zip_folder(folder: Path) -> Path:
    out = folder.with_suffix(".zip")
    with zipfile.ZipFile(out, "w") as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, "sm/" + path.relative_to(folder).as_posix())
    return out


def _save(folder: Path, body: Callable, extra: dict | None = None) -> Path:
    import tensorflow as tf

    module = tf.Module()
    for name, value in (extra or {}).items():
        setattr(module, name, value)
    module.serve = tf.function(body, input_signature=[tf.TensorSpec(SPEC_SHAPE, tf.float32)])
    tf.saved_model.save(module, str(folder), signatures={"serving_default": module.serve})
    return zip_folder(folder)


def reading_savedmodel(folder: Path, kind: str, target: Path) -> Path:
    """A serving function that reads ``target`` with one family of file ops (refused by the scan)."""
    import tensorflow as tf

    path = str(target)

    def length(ds):  # noqa: ANN001, ANN202
        return ds.reduce(tf.constant(0), lambda total, row: total + tf.strings.length(
            row[0] if isinstance(row, tuple) else row))

    reads = {
        "csv": lambda: length(tf.data.experimental.CsvDataset(path, [tf.string])),
        "sql": lambda: length(tf.data.experimental.SqlDataset("sqlite", path, "SELECT name FROM models",
                                                              (tf.string,))),
        "read_file": lambda: tf.strings.length(tf.io.read_file(path)),
        "matching_files": lambda: tf.size(tf.io.matching_files(path + "*")),
        "tfrecord": lambda: length(tf.data.TFRecordDataset(path)),
        "fixed_length": lambda: length(tf.data.FixedLengthRecordDataset(path, 1)),
    }
    if kind == "text_table":  # a lookup table filled from a file each time the model is loaded
        table = tf.lookup.StaticHashTable(tf.lookup.TextFileInitializer(path, tf.string, 0, tf.int64, 1,
                                                                        delimiter=","), -1)
        return _save(folder, lambda x: x + tf.cast(table.size(), tf.float32), {"table": table})
    return _save(folder, lambda x: x + tf.cast(reads[kind](), tf.float32))


def leaky_savedmodel(folder: Path, targets: list[Path]) -> Path:
    """A model that reads every target it can — once while it is loaded (a resource initializer, before
    any signature is called) and again each time it is called — skipping the unreadable ones, and fails
    with the bytes it read in its error message, which a job would carry out in its error. Its output's
    first column counts the files it could read when called."""
    import tensorflow as tf

    paths = [str(t) for t in targets]

    def read_all():  # noqa: ANN202
        files = tf.data.Dataset.from_tensor_slices(tf.constant(paths)).map(tf.io.read_file).ignore_errors()
        count, joined = files.reduce((tf.constant(0), tf.constant("")),
                                     lambda acc, data: (acc[0] + 1, tf.strings.join([acc[1], data], "|")))
        tf.debugging.Assert(tf.equal(count, 0), ["LEAKED", joined], summarize=LEAK_BYTES)
        return count

    class ReadOnLoad(tf.saved_model.experimental.TrackableResource):
        def _create_resource(self):  # noqa: ANN202
            return tf.raw_ops.VarHandleOp(dtype=tf.int32, shape=[])

        def _initialize(self):  # noqa: ANN202
            tf.raw_ops.AssignVariableOp(resource=self.resource_handle, value=read_all())

    def body(x):  # noqa: ANN001, ANN202
        return tf.concat([x[:, :1] * 0 + tf.cast(read_all(), tf.float32), x], axis=1)

    return _save(folder, body, {"on_load": ReadOnLoad()})


def custom_op_tflite(out: Path, target: Path, flex: bool) -> Path:
    """A TFLite model whose first op reads ``target``: as a select-TensorFlow (Flex) op or a custom op."""
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec((1, 4), tf.float32)])
    def read(x):  # noqa: ANN001, ANN202
        return x + tf.cast(tf.strings.length(tf.io.read_file(str(target))), tf.float32)

    converter = tf.lite.TFLiteConverter.from_concrete_functions([read.get_concrete_function()], read)
    if flex:
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]
    else:
        converter.allow_custom_ops = True
    out.write_bytes(converter.convert())
    return out
