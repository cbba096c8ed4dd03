"""``trimline``: the studio from the command line. A thin shell over ``engine.api``.

Every verb that does work submits a job exactly as the dashboard does and waits for it; with no
worker alive the job runs here, through the same sandboxed runner. ``--json`` prints one JSON
document on stdout; errors print ``error: <sentence>`` on stderr and exit 1.
"""
from engine.cli import studio  # noqa: F401, I001  (importing registers the verbs, in help order)
from engine.cli import catalogue, measuring, reviewing, searching, serving, users  # noqa: F401
from engine.cli.base import app


def main() -> None:
    app()
