"""The one surface the dashboard and the CLI call. It validates at the edge, submits jobs, reads storage.

Everything here refuses bad input with an ``InputError`` sentence *before* anything is queued or
stored, and returns plain records or JSON-ready dicts. One module per topic; all names are here.
``app/`` and ``engine/cli/`` import nothing else from the engine but ``engine.errors`` (checked by
import-linter: ``lint-imports``).
"""
from engine.api import serving  # noqa: F401  (serving: engine.api.serving.*)
from engine.api.auto import auto_params, auto_view, submit_auto
from engine.api.catalogue import list_datasets, list_jobs, list_models, show_model
from engine.api.access import (LOOPBACK_HOSTS, MIN_PASSWORD_CHARS, allowed_hosts, explain_failure, read_secrets,
                               team_password)
from engine.api.common import (Submission, dataset_meta, dataset_misfit, dataset_path, get_dataset, get_model,
                               model_path, ready)
from engine.api.imports import (MAX_UPLOAD_BYTES, image_layout_for, load_demo, save_upload, submit_dataset_import,
                                submit_import)
from engine.api.jobs import cancel_job, get_job, job_log, wait_job, worker_alive
from engine.api.measuring import (benchmark_runtimes, benchmark_schema, compare, dynamic_dims, latest_benchmarks,
                                  submit_ab_compare, submit_benchmark, submit_evaluate)
from engine.api.optimizing import list_passes, recipe_for, submit_optimize, submit_recipe
from engine.api.backups import backup, restore
from engine.api.workers import check_target, list_workers
from engine.api.releasing import (can_be_ensemble, champion_history, champions_by_hardware, copy_export,
                                  deleted_families_history,
                                  export_path, export_targets, get_champion, set_champion, submit_export)
from engine.api.hygiene import (DATASET_ROLES, archive_model, collect_garbage, datasets_overview, delete_model,
                                rename_model, set_dataset_role, storage_per_family, tag_model)
from engine.actor import require_sign_in, set_actor
from engine.api.users import (ROLES, accounts_exist_here, add_user, allowed, audit_trail, has_accounts, list_users,
                              remove_user, set_role, user_role, verify_user)
from engine.api.reports import family_measurements_csv, family_report_html
from engine.api.review import (catalogue_version, config_diff, evaluation_datasets, families, family_machines, family_members,
                               family_overview, find_jobs, graph_diff, measurement_history, model_review)
from engine.provenance import hardware_text, source_text, versions_text
from engine.api.studio import (doctor, harden_process, migrate, port_holder, run_worker, settings, stop_processes,
                               wait_for_port)

__all__ = [
    "auto_params", "auto_view", "submit_auto",
    "MAX_UPLOAD_BYTES", "Submission", "backup", "restore", "benchmark_runtimes", "benchmark_schema", "cancel_job", "check_target", "compare", "dynamic_dims",
    "can_be_ensemble", "copy_export", "dataset_meta", "dataset_misfit", "dataset_path", "doctor", "export_path", "export_targets", "get_champion",
    "get_dataset", "get_job", "get_model", "harden_process", "image_layout_for", "job_log",
    "latest_benchmarks", "list_datasets", "list_jobs", "list_models", "list_workers", "list_passes", "load_demo", "migrate",
    "model_path", "ready", "recipe_for", "run_worker", "save_upload", "set_champion", "settings",
    "show_model", "submit_ab_compare", "submit_benchmark", "submit_dataset_import", "submit_evaluate",
    "submit_export", "submit_import", "submit_optimize", "submit_recipe", "wait_job", "worker_alive",
    "champion_history", "champions_by_hardware", "config_diff", "evaluation_datasets", "families", "family_members",
    "family_overview", "find_jobs", "graph_diff", "hardware_text", "measurement_history", "model_review", "source_text",
    "versions_text", "family_measurements_csv", "family_report_html",
    "set_actor", "require_sign_in", "audit_trail", "set_role", "deleted_families_history", "family_machines", "catalogue_version", "ROLES", "accounts_exist_here", "add_user", "allowed", "has_accounts", "list_users", "remove_user", "user_role", "verify_user",
    "DATASET_ROLES", "archive_model", "collect_garbage", "datasets_overview", "delete_model", "set_dataset_role", "rename_model", "storage_per_family", "tag_model",
]
__all__ += ["port_holder", "stop_processes", "wait_for_port"]
__all__ += ["LOOPBACK_HOSTS", "MIN_PASSWORD_CHARS", "allowed_hosts", "explain_failure", "read_secrets", "team_password"]
