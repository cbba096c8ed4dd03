"""Import jobs: an untrusted upload becomes a stored, inspected root model (or a data set)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.jobs import contracts as c
from engine.jobs.kinds import ChildContext, JobKind
from engine.jobs.kinds.common import relative_output, store_model
from engine.jobs.uploads import staged_path


def _prepare(session, job, params: c.ImportParams | c.DatasetImportParams) -> dict[str, Any]:  # noqa: ANN001
    """The child is given the upload's path on this host: the local file, or this host's checked copy of
    the one staged in the shared store (StoreError when the store cannot give it)."""
    layout = getattr(params, "image_layout", None)
    upload = params.upload or str(staged_path(params.staged))
    return {"upload": upload, "name": params.name, "label_column": getattr(params, "label_column", None),
            "image_layout": layout.model_dump(mode="json") if layout else None}


def _execute_model(spec: dict[str, Any], ctx: ChildContext) -> dict[str, Any]:
    from engine.formats import inspect_model, prepare_upload

    ctx.progress(0.1, "checking the file")
    artifact = prepare_upload(Path(spec["upload"]), ctx.work)
    ctx.progress(0.5, f"inspecting the {artifact.format} model")
    inspection = inspect_model(artifact)
    return {**relative_output(artifact, ctx.work), "inspection": inspection}


def _commit_model(session, job, params: c.ImportParams, output: c.ModelOutput,  # noqa: ANN001
                  scratch: Path) -> c.ModelResult:
    model = store_model(session, scratch, output, name=params.name)
    return c.ModelResult(model_id=model.id)


def _execute_dataset(spec: dict[str, Any], ctx: ChildContext) -> dict[str, Any]:
    from engine.formats import prepare_dataset

    ctx.progress(0.1, "reading the data set")
    layout = spec.get("image_layout") or {}
    size = tuple(layout["size"]) if layout.get("size") else None
    path, meta = prepare_dataset(Path(spec["upload"]), ctx.work, label_column=spec.get("label_column"),
                                 image_size=size, channels=layout.get("channels"))
    if layout.get("channels_first") and meta["source_format"] == "images":
        path, meta = _to_channels_first(path, meta)
    return {"path": str(path.resolve().relative_to(ctx.scratch.resolve())), "meta": meta}


def _to_channels_first(path: Path, meta: dict[str, Any]) -> tuple[Path, dict[str, Any]]:
    """Images are read as NHWC; a model that takes NCHW gets them transposed once, here."""
    import numpy as np

    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["x"] = np.ascontiguousarray(arrays["x"].transpose(0, 3, 1, 2))
    np.savez(path, **arrays)
    return path, {**meta, "x_shape": list(arrays["x"].shape)}


def _store_dataset(session, scratch: Path, output: c.DatasetOutput, name: str,  # noqa: ANN001, ANN202
                   role: str | None = None):
    """Move a child's normalised ``dataset.npz`` into the store and insert its row (same transaction)."""
    from storage import artifacts, catalog

    stored = artifacts.put(scratch / output.path, name="dataset.npz")
    meta = output.meta
    return catalog.add_dataset(
        session, name=name, sha256=stored.sha256, artifact=stored.relpath, n_samples=meta["n_samples"],
        x_shape=meta["x_shape"], x_dtype=meta["x_dtype"], has_labels=meta["has_labels"],
        n_classes=meta.get("n_classes"), source_format=meta["source_format"], role=role,
    )


def _commit_dataset(session, job, params: c.DatasetImportParams, output: c.DatasetOutput,  # noqa: ANN001
                    scratch: Path) -> c.DatasetResult:
    return c.DatasetResult(dataset_id=_store_dataset(session, scratch, output, params.name).id)


IMPORT = JobKind(c.ImportParams, c.ModelOutput, c.ModelResult, _prepare, _execute_model, _commit_model)
DATASET_IMPORT = JobKind(c.DatasetImportParams, c.DatasetOutput, c.DatasetResult, _prepare, _execute_dataset,
                         _commit_dataset)


def _execute_demo(spec: dict[str, Any], ctx: ChildContext) -> dict[str, Any]:
    """Train the digits CNN here in the child, then import it and its test split like any upload."""
    from engine.demo import train_digits_cnn
    from engine.formats import inspect_model, prepare_dataset, prepare_upload

    ctx.progress(0.05, "training a small CNN on scikit-learn's digits")
    raw = ctx.scratch / "raw"
    accuracy = train_digits_cnn(raw / "digits_cnn.keras", raw / "digits_test.npz", train_path=raw / "digits_train.npz")
    ctx.progress(0.7, f"trained: test accuracy {accuracy:.3f}; importing")
    model_dir, data_dir, train_dir = ctx.work / "model", ctx.work / "data", ctx.work / "train"
    for folder in (model_dir, data_dir, train_dir):
        folder.mkdir()
    artifact = prepare_upload(raw / "digits_cnn.keras", model_dir)
    data_path, meta = prepare_dataset(raw / "digits_test.npz", data_dir)
    train_path, train_meta = prepare_dataset(raw / "digits_train.npz", train_dir)
    return {"model": {**relative_output(artifact, ctx.work), "inspection": inspect_model(artifact)},
            "dataset": {"path": str(data_path.resolve().relative_to(ctx.scratch.resolve())), "meta": meta},
            "train": {"path": str(train_path.resolve().relative_to(ctx.scratch.resolve())), "meta": train_meta},
            "accuracy": accuracy}


DEMO_NAMES = {"model": "digits-cnn (demo)", "test": "digits held-out test split (demo)",
              "train": "digits train/calibration split (demo)"}


def _commit_demo(session, job, params: c.DemoParams, output: c.DemoOutput,  # noqa: ANN001
                 scratch: Path) -> c.DemoResult:
    """The demo's model, its held-out test split (role evaluation) and its training split (role calibration).
    Loading the demo again reuses the family and data sets already there instead of adding a second copy."""
    from storage import catalog

    existing = catalog.find_root_by_name(session, DEMO_NAMES["model"])
    sets = {d.name: d for d in catalog.list_datasets(session)}
    if existing is not None and DEMO_NAMES["test"] in sets:
        return c.DemoResult(model_id=existing.id, dataset_id=sets[DEMO_NAMES["test"]].id,
                            train_dataset_id=sets[DEMO_NAMES["train"]].id if DEMO_NAMES["train"] in sets else None,
                            reused=True)
    model = store_model(session, scratch, output.model, name=DEMO_NAMES["model"],
                        metrics={"train_test_accuracy": output.accuracy})
    dataset = _store_dataset(session, scratch, output.dataset, DEMO_NAMES["test"], role="evaluation")
    train = _store_dataset(session, scratch, output.train, DEMO_NAMES["train"], role="calibration")
    return c.DemoResult(model_id=model.id, dataset_id=dataset.id, train_dataset_id=train.id)


def _prepare_demo(session, job, params: c.DemoParams) -> dict[str, Any]:  # noqa: ANN001
    return {}


DEMO = JobKind(c.DemoParams, c.DemoOutput, c.DemoResult, _prepare_demo, _execute_demo, _commit_demo)
