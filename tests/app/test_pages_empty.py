"""Every page renders on an empty TRIMLINE_HOME and says what to do next."""
from __future__ import annotations

import pytest

EMPTY = {
    "models": "No models yet.",
    "optimize": "No models to optimize yet.",
    "jobs": "No jobs yet. Upload a model or load the demo on Home.",
    "compare": "No models to compare yet.",
    "download": "Nothing to download yet.",
}


def test_home_renders_uploads_and_demo_button_when_empty(page):
    at = page("home")
    assert [t.value for t in at.title] == ["Trimline"]
    assert [m.value for m in at.metric] == ["0", "0", "0"]
    assert at.button(key="load_demo").label == "Load demo"
    assert at.button(key="import_model").disabled and at.button(key="import_data").disabled
    assert len(at.get("file_uploader")) == 2
    assert not at.error


@pytest.mark.parametrize("name", list(EMPTY))
def test_page_renders_empty_state_when_home_is_empty(page, name):
    at = page(name)
    assert [t.value for t in at.title] == [name.capitalize()]
    assert EMPTY[name] in [i.value for i in at.info]
    assert not at.error


def test_load_demo_button_queues_the_demo_job(page):
    from engine import api

    at = page("home")
    at.button(key="load_demo").click().run()
    jobs = api.list_jobs()
    assert [(j.kind, j.status) for j in jobs] == [("demo", "queued")]
    assert at.session_state["home_job"] == jobs[0].id
    assert not at.exception


def test_app_asks_for_password_when_one_is_configured(page, monkeypatch):
    monkeypatch.setenv("TRIMLINE_PASSWORD", "s3cret-team-pass")
    from streamlit.testing.v1 import AppTest

    from tests.app.conftest import APP

    at = AppTest.from_file(str(APP), default_timeout=60).run()
    assert [t.value for t in at.title] == ["Trimline"]
    assert at.text_input(key="login_password").value == ""
    assert "load_demo" not in [b.key for b in at.button]
    at.text_input(key="login_password").input("wrong")
    at.button[0].click().run()
    assert [e.value for e in at.error] == ["That password is not right."]
    at.text_input(key="login_password").input("s3cret-team-pass")
    at.button[0].click().run()
    assert not at.error, [e.value for e in at.error]
    assert at.button(key="load_demo").label == "Load demo"


def test_home_upload_imports_a_model_under_a_generated_name(page, tiny_onnx):
    from engine import api
    from tests.app.conftest import run_job

    at = page("home")
    at.get("file_uploader")[0].upload("../../evil.onnx", tiny_onnx.read_bytes()).run()
    at.text_input(key="model_name").input("uploaded")
    at.button(key="import_model").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    (job,) = api.list_jobs()
    assert job.kind == "import" and job.params["name"] == "uploaded"
    assert "evil" not in job.params["upload"] and "upload-" in job.params["upload"]
    model_id = run_job(job.id).result["model_id"]
    import streamlit as st

    st.cache_data.clear()  # in the app the polling fragment does this when it sees the job end
    at.run()
    assert f"Job #{job.id} (import) succeeded: model #{model_id} is ready." in [s.value for s in at.success]
    assert [m.value for m in at.metric][:2] == ["1", "1"]


def test_home_upload_of_a_non_model_ends_in_one_error_sentence(page):
    from engine import api
    from engine.errors import JobFailedError
    from tests.app.conftest import run_job

    at = page("home")
    at.get("file_uploader")[0].upload("notes.onnx", b"PK\x03\x04 definitely not onnx").run()
    at.button(key="import_model").click().run()
    (job,) = api.list_jobs()
    try:
        run_job(job.id)
    except JobFailedError:
        pass
    at.run()
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and errors[0].startswith(f"Job #{job.id} (import) failed: ")
    assert "Traceback" not in errors[0]


def test_app_reads_the_password_from_secrets(page):
    from streamlit.testing.v1 import AppTest

    from tests.app.conftest import APP

    at = AppTest.from_file(str(APP), default_timeout=60)
    at.secrets["auth"] = {"password": "from-secrets-file"}
    at.run()
    assert "load_demo" not in [b.key for b in at.button]
    at.text_input(key="login_password").input("from-secrets-file")
    at.button[0].click().run()
    assert at.button(key="load_demo").label == "Load demo"


def test_dashboard_names_a_home_that_is_a_file_in_one_sentence(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from tests.app.conftest import APP

    home = tmp_path / "home"
    home.write_text("not a folder")
    monkeypatch.setenv("TRIMLINE_HOME", str(home))
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not at.exception
    assert [e.value for e in at.error] == [f"TRIMLINE_HOME points at a file ({home}), not a folder; point it at a folder"]
    assert not at.title  # nothing else is drawn


def test_home_offers_the_loaded_demo_instead_of_a_second_copy(page, imported):
    """Once the demo has loaded, a returning user is shown it; loading it again is still possible, as the
    secondary choice (a second click on a primary 'Load demo' made a second family and two more data sets)."""
    from engine import api
    from storage import jobs as jobstore
    from storage.db import session_scope

    at = page("home")
    assert at.button(key="load_demo").label == "Load demo" and "open_demo_model" not in [b.key for b in at.button]
    job = api.load_demo()
    with session_scope() as s:  # the demo's job as a worker ends it, its model being the imported one
        assert jobstore.claim(s, job.id, "test-worker")
        assert jobstore.finish(s, job.id, "test-worker", "succeeded", result={"model_id": imported, "dataset_id": 7})
    at = page("home")
    assert "The demo is loaded: model #%d and data set #7." % imported in [c.value for c in at.caption]
    again = at.button(key="load_demo")
    assert again.label == "Load the demo again" and again.proto.type == "secondary"
    at.button(key="open_demo_model").click().run()
    assert at.session_state["model_id"] == imported
