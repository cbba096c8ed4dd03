"""Shared fixtures: a fresh TRIMLINE_HOME per test, and real trained models built once per session."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _main_module_restored():
    """Streamlit's AppTest runs a page as ``__main__`` and leaves it there; a ``spawn`` child started later
    in the same process (the storage race tests' writers) would run that page again and die. Each test
    gets back the ``__main__`` it started with."""
    main = sys.modules.get("__main__")
    yield
    if main is not None:
        sys.modules["__main__"] = main

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty TRIMLINE_HOME with its own SQLite database, migrated on first use."""
    from engine.actor import require_sign_in, set_actor
    from storage import secret_env
    from storage.db import reset_engines

    secret_env._sealed.clear()  # a dashboard test may have sealed another test's password
    require_sign_in(False)  # a dashboard test with sign-in leaves its process asking for one
    set_actor(None)
    root = tmp_path / "home"
    monkeypatch.setenv("TRIMLINE_HOME", str(root))
    monkeypatch.delenv("TRIMLINE_DATABASE_URL", raising=False)
    monkeypatch.delenv("TRIMLINE_QUEUE_URL", raising=False)
    reset_engines()
    yield root
    reset_engines()
    require_sign_in(False)  # nor does it leave it for tests that run without a home of their own
    set_actor(None)


@pytest.fixture(scope="session")
def pg_server():
    """One throwaway PostgreSQL 15 per test process (Debian's binaries, run as the postgres user)."""
    from tests.servers import PostgresServer

    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_server():
    """One throwaway redis-server per test process, on a free port."""
    from tests.servers import RedisServer

    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def s3_server():
    """One throwaway S3-compatible endpoint (moto's server) per test process, on a free port."""
    from tests.servers import S3Server

    server = S3Server().start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_home(request: pytest.FixtureRequest, home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``home``, with its database on each backend in turn: a SQLite file, then a fresh PostgreSQL database."""
    from storage.db import reset_engines

    if request.param == "postgresql":
        server = request.getfixturevalue("pg_server")
        monkeypatch.setenv("TRIMLINE_DATABASE_URL", server.url(server.create_database()))
        reset_engines()
    yield home
    reset_engines()


@pytest.fixture(scope="session")
def digits_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(digits.keras, digits_test.npz): the demo CNN trained on scikit-learn's digits, and its test split."""
    from engine.demo import train_digits_cnn

    folder = tmp_path_factory.mktemp("digits")
    model, data = folder / "digits.keras", folder / "digits_test.npz"
    accuracy = train_digits_cnn(model, data)
    assert accuracy > 0.9, f"the demo CNN should learn digits; test accuracy was {accuracy:.3f}"
    return model, data


@pytest.fixture(scope="session")
def digits_onnx(digits_files: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The digits CNN converted to ONNX (opset 17) through a tf.function, as the tf2onnx pass does."""
    import keras
    import tensorflow as tf
    import tf2onnx

    model = keras.models.load_model(digits_files[0], compile=False)
    spec = (tf.TensorSpec((None, 8, 8, 1), tf.float32, name="image"),)
    fn = tf.function(lambda x: model(x, training=False))
    out = tmp_path_factory.mktemp("digits_onnx") / "digits.onnx"
    tf2onnx.convert.from_function(fn, input_signature=spec, opset=17, output_path=str(out))
    return out
