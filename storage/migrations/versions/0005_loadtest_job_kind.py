"""jobs: the ``loadtest`` kind (a closed-loop sweep against a served model, run on the server's host).

Revision ID: 0005
Revises: 0004
"""
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

OLD = ('import', 'dataset_import', 'demo', 'optimize', 'recipe', 'benchmark', 'ab_compare', 'evaluate', 'export',
       'auto')
NEW = OLD + ('loadtest',)


def _kinds(kinds: tuple[str, ...]) -> str:
    return "kind IN (" + ", ".join(f"'{k}'" for k in kinds) + ")"


def upgrade() -> None:
    with op.batch_alter_table('jobs') as batch:  # SQLite rebuilds the table; PostgreSQL alters it in place
        batch.drop_constraint('job_kind', type_='check')
        batch.create_check_constraint('job_kind', _kinds(NEW))


def downgrade() -> None:
    op.execute("UPDATE measurements SET job_id = NULL WHERE job_id IN (SELECT id FROM jobs WHERE kind = 'loadtest')")
    op.execute("DELETE FROM jobs WHERE kind = 'loadtest'")
    with op.batch_alter_table('jobs') as batch:
        batch.drop_constraint('job_kind', type_='check')
        batch.create_check_constraint('job_kind', _kinds(OLD))
