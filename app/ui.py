"""What every page shares: cached list queries, pickers backed by session selections, the error
boundary for actions, and a job watcher that polls storage from a fragment."""
from __future__ import annotations

import functools
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import streamlit as st

from app import netron_view
from app.tables import job_outcome, model_label
from engine import api
from engine.errors import EngineError


# ---------------------------------------------------------------- queries (plain dicts, cached briefly)
def _where() -> str:
    # st.cache_data is per process; keying on the store keeps two homes (tests, a changed env) apart.
    return api.settings().database_url


@st.cache_data(ttl=2, show_spinner=False)
def _models(where: str, root_id: int | None) -> list[dict[str, Any]]:
    return [m.to_json() for m in api.list_models(root_id)]


@st.cache_data(ttl=2, show_spinner=False)
def _families(where: str) -> list[dict[str, Any]]:
    return api.families()


@st.cache_data(ttl=2, show_spinner=False)
def _members(where: str, root_id: int) -> list[dict[str, Any]]:
    return api.family_members(root_id)


# A family's figures are read once per catalogue version (it moves with every model, measurement, champion
# decision or audited edit), not every rerun: a family of 1,000 variants reads in a fraction of a second, and
# a rerun that changed nothing reads nothing.
@st.cache_data(ttl=900, max_entries=32, show_spinner=False)
def _overview(where: str, root_id: int, dataset_id: int | None, hardware_id: int | None,
              version: tuple[int, ...]) -> list[dict[str, Any]]:
    return api.family_overview(root_id, dataset_id, hardware_id=hardware_id)


def version() -> tuple[int, ...]:
    """The catalogue's version (``api.catalogue_version``), read once per script run."""
    return api.catalogue_version()


def overview(root_id: int, dataset_id: int | None = None, hardware_id: int | None = None) -> list[dict[str, Any]]:
    """Every variant of a family with its latest figures and their provenance (``api.family_overview``), the
    latency measured on ``hardware_id``'s machine when one is chosen."""
    return _overview(_where(), root_id, dataset_id, hardware_id, version())


@st.cache_data(ttl=900, max_entries=32, show_spinner=False)
def _machines(where: str, root_id: int, version: tuple[int, ...]) -> list[dict[str, Any]]:
    return api.family_machines(root_id)


def machines(root_id: int) -> list[dict[str, Any]]:
    """The machines a family was benchmarked on (``api.family_machines``)."""
    return _machines(_where(), root_id, version())


def pick_machine(root_id: int, label: str = "Target machine") -> int | None:
    """The target machine (hardware id) the reviewer decides for, when the family was benchmarked on more than
    one; None means every machine (the family-wide champion). Kept in the URL as ``?machine=``."""
    found = machines(root_id)
    if len(found) < 2:
        return None
    texts = {m["id"]: f"hardware #{m['id']} · {m['text']}" for m in found}
    return pick(label, [None, *texts], "machine", default=None,
                format_func=lambda h: "every machine (the family's champion)" if h is None else texts[h],
                help="Latencies are those measured on this machine, and the champion is the one chosen for it.")


@st.cache_data(ttl=2, show_spinner=False)
def _datasets(where: str) -> list[dict[str, Any]]:
    return [d.to_json() for d in api.list_datasets()]


@st.cache_data(ttl=2, show_spinner=False)
def _passes() -> list[dict[str, Any]]:
    return api.list_passes()


def models(root_id: int | None = None) -> list[dict[str, Any]]:
    return _models(_where(), root_id)


def datasets() -> list[dict[str, Any]]:
    return _datasets(_where())


_ROLE_ORDER = {"calibration": ("calibration", "fine-tuning", None, "evaluation"),
               "evaluation": ("evaluation", None, "fine-tuning", "calibration")}


def datasets_for(purpose: str, model: dict[str, Any] | None = None) -> tuple[dict[int, dict[str, Any]], list[int]]:
    """Data sets by id, and their ids in the order a form offers them for ``purpose`` ("calibration" or
    "evaluation"): sets whose role fits first (newest first), so the demo calibrates on its training split
    and measures on its held-out split without the user choosing. With ``model``, the sets its inputs can
    take come before those they cannot (each of those carries its reason as ``misfit``)."""
    data = {d["id"]: d for d in datasets() if not d.get("archived")}
    if model is not None:
        data = {i: {**d, "misfit": api.dataset_misfit(d, model)} for i, d in data.items()}
    order = _ROLE_ORDER[purpose]
    rank = lambda d: (d.get("misfit") is not None,  # noqa: E731
                      order.index(d.get("role")) if d.get("role") in order else len(order), -d["id"])
    return data, [d["id"] for d in sorted(data.values(), key=rank)]


def passes() -> list[dict[str, Any]]:
    return _passes()


def families() -> list[dict[str, Any]]:
    """Root models (uploads), newest first: each one heads a lineage (slim rows with a ``variants`` count)."""
    return _families(_where())


def members(root_id: int) -> list[dict[str, Any]]:
    """Slim rows of one family's models (no signatures or op histograms), oldest first."""
    return _members(_where(), root_id)


def refresh() -> None:
    """Forget cached lists after this session changed something."""
    _models.clear()
    _families.clear()
    _members.clear()
    _overview.clear()
    _machines.clear()
    _datasets.clear()


@st.cache_resource(show_spinner="Preparing the graph viewer…")
def viewer_ready() -> bool:
    """Copy the Netron viewer into app/static once per process; False if that is impossible here."""
    try:
        netron_view.install_viewer()
        return True
    except OSError:
        return False


# ---------------------------------------------------------------- who may do what
def can(needed: str) -> bool:
    """Whether the signed-in account's role reaches ``needed`` (viewer < engineer < admin)."""
    return api.allowed(st.session_state.get("role"), needed)


def fragment(run_every: float) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """``st.fragment`` that first says who is acting: a fragment may rerun in a thread of its own, where the
    engine would otherwise see nobody signed in (and refuse, when people sign in)."""
    def wrap(body: Callable[..., None]) -> Callable[..., None]:
        @functools.wraps(body)
        def acting(*args: Any, **kwargs: Any) -> None:
            api.set_actor(st.session_state.get("user"))
            body(*args, **kwargs)

        return st.fragment(acting, run_every=run_every)

    return wrap


def viewer_note() -> None:
    st.caption("You are signed in as a viewer: you can read, compare and download. Ask an engineer to run jobs.")


# ---------------------------------------------------------------- errors
@contextmanager
def shows_errors() -> Iterator[None]:
    """Around one user action: an EngineError becomes one st.error sentence, the page goes on."""
    try:
        yield
    except EngineError as exc:
        st.error(str(exc))


# ---------------------------------------------------------------- pickers (selections live in session state)
# selections that live in the URL too, so a link (or a reload) opens the same view
URL_KEYS = {"family_id": "family", "model_id": "model", "job_id": "job", "machine": "machine"}


def from_url(state_key: str) -> Any:
    """The id a shared link carries for ``state_key`` (``?family=3``), or None."""
    raw = st.query_params.get(URL_KEYS.get(state_key, state_key))
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


def to_url(state_key: str, value: Any) -> None:
    name = URL_KEYS.get(state_key, state_key)
    if value is None:
        st.query_params.pop(name, None)
    elif st.query_params.get(name) != str(value):
        st.query_params[name] = str(value)


def pick(label: str, options: list[Any], state_key: str, format_func=str, default: Any = None, **kwargs: Any) -> Any:
    """A selectbox whose choice is remembered under ``state_key`` across pages and reruns, and kept in the URL
    for ids that links carry; the link's value, else ``default`` (else the first option) until the user
    chooses."""
    if not options:
        return None
    current = st.session_state.get(state_key)
    if (current not in options or state_key not in st.session_state) and state_key in URL_KEYS:
        current = from_url(state_key)
    current = current if current in options else default
    index = options.index(current) if current in options else 0
    chosen = st.selectbox(label, options, index=index, format_func=format_func, **kwargs)
    st.session_state[state_key] = chosen
    if state_key in URL_KEYS:
        to_url(state_key, chosen)
    return chosen


def pick_model(label: str, candidates: list[dict[str, Any]], state_key: str = "model_id", default: int | None = None,
               **kwargs: Any) -> dict | None:
    """A model picker (see ``pick``); a model the user picks here makes its family the session's family, so
    Compare, Deploy and the other family pages open on the family the user was working in."""
    by_id = {m["id"]: m for m in candidates}
    before = st.session_state.get(state_key)
    chosen = pick(label, list(by_id), state_key, format_func=lambda i: model_label(by_id[i]), default=default, **kwargs)
    if before in by_id and chosen != before:  # the user's choice, not a default shown on a first visit
        remember_family(by_id[chosen].get("root_id") or chosen)
    return by_id.get(chosen)


def remember_family(root_id: int) -> None:
    """Make ``root_id`` the family every family picker opens on for the rest of the session (``pick_family``)."""
    st.session_state["family_id"] = root_id


def pick_family(label: str = "Model family", state_key: str = "family_id") -> dict | None:
    """The family picker: the family chosen earlier in this session (on any page, or by picking one of its
    models), else the one a link names (``?family=``), else the newest."""
    roots = families()
    by_id = {m["id"]: m for m in roots}
    chosen = pick(label, list(by_id), state_key, format_func=lambda i: f"#{i} {by_id[i]['name']}")
    return by_id.get(chosen)


def choose_family_and_champion(empty_text: str) -> tuple[dict, list[dict[str, Any]], Any]:
    """The family picker every model-choosing page opens with: ``(family, its models, champion record or
    None)``. With no model yet it shows ``empty_text`` with a link to upload, and stops the page."""
    if not families():
        empty_state(empty_text)
        st.stop()
    family = pick_family()
    return family, models(family["id"]), api.get_champion(family["id"])


def open_model(model_id: int) -> None:
    """Select a model (and its family) and go to the Models page."""
    model = api.get_model(model_id)
    st.session_state["model_id"] = model.id
    st.session_state["family_id"] = model.root_id
    st.switch_page("app_pages/models.py")


def empty_state(text: str) -> None:
    st.info(text)
    st.page_link("app_pages/home.py", label="Upload a model or load the demo", icon=":material/upload:")


# ---------------------------------------------------------------- watching a job
def watch_job(job_id: int, quiet: bool = False) -> dict[str, Any] | None:
    """Show a job's progress until it ends, then its outcome; returns the finished job's JSON.
    ``quiet`` shows a success as a caption (when the page itself shows the result)."""
    try:
        job = api.get_job(job_id).to_json()
    except EngineError:
        return None
    if job["status"] in ("queued", "running"):
        _poll(job_id)
        return None
    if job["status"] != "succeeded":
        st.error(job_outcome(job))
    else:
        (st.caption if quiet else st.success)(job_outcome(job))
    return job


@fragment(run_every=1.5)
def _poll(job_id: int) -> None:
    job = api.get_job(job_id)
    if job.done:
        refresh()  # the job may have added a model or a data set
        st.rerun()  # the whole page draws the outcome, and this fragment stops polling
    where = "waiting for a worker" if job.status == "queued" else (job.message or "running")
    st.progress(min(max(job.progress, 0.0), 1.0), text=f"Job #{job.id} ({job.kind}): {where}")
