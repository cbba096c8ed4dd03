"""Test hook, never shipped: with this folder first on PYTHONPATH, a process's model checks let every
op through (the SavedModel op scan and the TFLite operator check), so a test can show what the job
sandbox stops on its own. Only tests/safety/test_sandbox_escape.py puts this folder on a path."""
import engine.formats.savedmodel_scan as _savedmodel_scan
import engine.formats.tflite_allowlist as _tflite_allowlist

_savedmodel_scan.refused_ops = lambda *args, **kwargs: []
_tflite_allowlist.check_tflite_operators = lambda *args, **kwargs: None
