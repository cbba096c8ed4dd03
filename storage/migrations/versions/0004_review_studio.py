"""review studio: champion history, audit events, users, tags/archive, data set roles, who submitted a job,
and the index that lets pages read each model's latest measurement without scanning them all.

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN, not batch mode: a batch copy drops and recreates the table, which SQLite refuses
    # while other tables' foreign keys point at rows in it. The data set role is checked by the API.
    op.add_column('models', sa.Column('tags', sa.JSON(), nullable=False, server_default='[]'))
    op.add_column('models', sa.Column('archived', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column('datasets', sa.Column('role', sa.String(length=20), nullable=True))
    op.add_column('datasets', sa.Column('tags', sa.JSON(), nullable=False, server_default='[]'))
    op.add_column('datasets', sa.Column('archived', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column('jobs', sa.Column('submitted_by', sa.String(length=120), nullable=True))
    op.create_index('ix_jobs_kind', 'jobs', ['kind'], unique=False)
    # Pages ask "the latest benchmark of each of these models": one index range per model.
    op.create_index('ix_measurements_model_kind', 'measurements', ['model_id', 'kind', 'dataset_id', 'id'],
                    unique=False)
    op.create_table('champion_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('root_id', sa.Integer(), nullable=False),
    sa.Column('model_id', sa.Integer(), nullable=True),
    sa.Column('hardware_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=10), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('who', sa.String(length=120), nullable=True),
    sa.Column('figures', sa.JSON(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("action IN ('promote', 'demote')", name='champion_action'),
    sa.ForeignKeyConstraint(['root_id'], ['models.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['model_id'], ['models.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['hardware_id'], ['hardware.id']),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_champion_events_root_id', 'champion_events', ['root_id'], unique=False)
    op.create_table('audit_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('who', sa.String(length=120), nullable=True),
    sa.Column('action', sa.String(length=30), nullable=False),
    sa.Column('target', sa.String(length=60), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=10), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("role IN ('viewer', 'engineer', 'admin')", name='user_role'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )


def downgrade() -> None:
    op.drop_table('users')
    op.drop_table('audit_events')
    op.drop_index('ix_champion_events_root_id', 'champion_events')
    op.drop_table('champion_events')
    op.drop_index('ix_measurements_model_kind', 'measurements')
    op.drop_index('ix_jobs_kind', 'jobs')
    for table, column in (('jobs', 'submitted_by'), ('datasets', 'archived'), ('datasets', 'tags'),
                          ('datasets', 'role'), ('models', 'archived'), ('models', 'tags')):
        op.drop_column(table, column)
