"""jobs: the ``auto`` kind (a search for the fastest artifact within an accuracy budget).

Revision ID: 0003
Revises: 0002
"""
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

OLD = ('import', 'dataset_import', 'demo', 'optimize', 'recipe', 'benchmark', 'ab_compare', 'evaluate', 'export')
NEW = OLD + ('auto',)


def _kinds(kinds: tuple[str, ...]) -> str:
    return "kind IN (" + ", ".join(f"'{k}'" for k in kinds) + ")"


def upgrade() -> None:
    with op.batch_alter_table('jobs') as batch:  # SQLite rebuilds the table; PostgreSQL alters it in place
        batch.drop_constraint('job_kind', type_='check')
        batch.create_check_constraint('job_kind', _kinds(NEW))


def downgrade() -> None:
    op.execute("DELETE FROM jobs WHERE kind = 'auto'")
    with op.batch_alter_table('jobs') as batch:
        batch.drop_constraint('job_kind', type_='check')
        batch.create_check_constraint('job_kind', _kinds(OLD))
