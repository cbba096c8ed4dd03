"""Import every model format, inspect it, and refuse hostile files safely.

The job layer calls these; each lives in a small module named for what it does. Heavy libraries are
imported inside the functions, so importing this package is cheap.
"""
from engine.formats.dataset_match import check_dataset_for_model
from engine.formats.datasets import prepare_dataset, read_dataset
from engine.formats.inspect import inspect_model
from engine.formats.keras_safe import load_keras, load_tf_keras_h5
from engine.formats.upload import prepare_upload

__all__ = ["check_dataset_for_model", "inspect_model", "load_keras", "load_tf_keras_h5",
           "prepare_dataset", "prepare_upload", "read_dataset"]
