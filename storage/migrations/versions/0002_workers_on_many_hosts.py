"""workers on many hosts: a worker's labels, hardware fingerprint and library versions; a job's target;
the catalogue's library versions (what its conversions were made with).

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: worker rows are rewritten by every worker at start, and old jobs had no target.
    with op.batch_alter_table('workers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('labels', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('fingerprint', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('versions', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('note', sa.String(length=300), nullable=True))
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('target', sa.String(length=120), nullable=True))
    op.create_table('catalogue_info',
    sa.Column('key', sa.String(length=60), nullable=False),
    sa.Column('value', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )


def downgrade() -> None:
    op.drop_table('catalogue_info')
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_column('target')
    with op.batch_alter_table('workers', schema=None) as batch_op:
        batch_op.drop_column('note')
        batch_op.drop_column('versions')
        batch_op.drop_column('fingerprint')
        batch_op.drop_column('labels')
