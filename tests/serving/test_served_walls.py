"""A served model runs behind walls: with the op scan switched off (the test hook the job sandbox tests use),
a SavedModel that reads files while it loads and each time it is called reads nothing outside what its
server serves: not a file this test writes in a temporary folder, not the studio's database, not another
model's artifact in the store nor where another deployment staged it, not even the store's copy of a model
the same server serves; and the same walled-in process still answers tritonclient and TF Serving requests.
Stopped with SIGTERM (as `trimline up` and the Deploy page stop it), it shuts down as after Ctrl-C: exit 0,
its scratch folder emptied."""
from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
import requests

from engine.jobs import landlock
from tests.safety.hostile_graphs import leaky_savedmodel
from tests.serving.conftest import ROOT, cli_env, start_cli_server

BYPASS = ROOT / "tests" / "safety" / "scan_bypass"

pytestmark = pytest.mark.skipif(landlock.abi_version() < 1, reason="the kernel offers no Landlock; the server "
                                                                    "runs without the file wall and says so")


def test_a_served_model_reads_nothing_outside_its_walls_and_still_answers(studio, reference, tmp_path,
                                                                         monkeypatch):
    import tensorflow as tf
    import tritonclient.http as httpclient

    from engine import api
    from engine.jobs import service

    from engine.serving.deployments import artifact_for

    home, first, second, images = studio
    canary = tmp_path / "canary.txt"
    canary.write_text(f"CANARY-{uuid.uuid4().hex}\n")
    other = api.serving.plan([second], name="walls-other")  # another deployment, staged beside this server's
    staged_other = home / "serving" / "served" / "walls-other" / "models" / str(second)
    targets = [canary, home / "trimline.db", artifact_for(second).path, artifact_for(first).path,
               *[p for p in staged_other.rglob("*") if p.is_file()]]
    assert other["name"] == "walls-other" and all(t.is_file() for t in targets) and len(targets) == 5
    leaky = leaky_savedmodel(tmp_path / "leaky", targets)
    leaky_savedmodel(tmp_path / "canary_only", [canary])
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"LEAKED[\s\S]*CANARY-"):
        tf.saved_model.load(str(tmp_path / "canary_only"))  # unconfined the graph reads: the test can fail

    monkeypatch.setenv("PYTHONPATH", f"{BYPASS}{os.pathsep}{ROOT}")  # the import job's child skips the scan too
    leaky_id = service.wait(api.submit_import(leaky, name="leaky").id, timeout_s=300).result["model_id"]
    monkeypatch.delenv("PYTHONPATH")

    proc, url = start_cli_server(home, str(leaky_id), str(first), "--threads", "1", env=cli_env(home, BYPASS),
                                 timeout=180)
    try:
        answer = requests.post(f"{url}/v1/models/leaky:predict", json={"instances": [[1.0, 2.0, 3.0, 4.0]]},
                               timeout=60)
        assert answer.status_code == 200, answer.text
        assert answer.json()["predictions"][0][0] == 0.0  # the graph counted the files it could read: none

        client = httpclient.InferenceServerClient(url.removeprefix("http://"))
        name, expected = reference
        tensor = httpclient.InferInput(name, list(images.shape), "FP32")
        tensor.set_data_from_numpy(images)
        result = client.infer("digits", [tensor])
        np.testing.assert_allclose(result.as_numpy(result.get_response()["outputs"][0]["name"]), expected,
                                   rtol=1e-5, atol=1e-6)
        client.close()
        tf_serving = requests.post(f"{url}/v1/models/digits:predict", json={"instances": images[:1].tolist()},
                                   timeout=30)
        np.testing.assert_allclose(tf_serving.json()["predictions"], expected[:1], rtol=1e-5, atol=1e-6)
        walled = int(proc.pid)
        status = Path(f"/proc/{walled}/status").read_text()
        assert "NoNewPrivs:\t1" in status and "Seccomp:\t2" in status
        scratch = home / "serving" / "scratch" / str(walled)
        assert (scratch / "home").is_dir()  # its TMPDIR and HOME, in use
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and "stopped serving" in err, err  # a clean stop, not death by the signal
    assert "sandbox: landlock: on" in err and "seccomp: on" in err, err
    assert canary.read_text().strip() not in out + err
    assert "SQLite format 3" not in out + err
    assert not list(scratch.glob("*"))  # its scratch emptied (the folder itself goes with the next server's sweep)
