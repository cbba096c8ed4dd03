"""champion history outlives models; a champion per target machine.

Deleting a family's root used to delete its champion history (the events' family link cascaded). The events
now keep the family's and the model's id and name as plain values, and only their live links are nulled.
``machine_champions`` holds the champion chosen for one hardware fingerprint, and an index lets a page list
the machines a family was benchmarked on without reading its measurements.

Revision ID: 0006
Revises: 0005
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

_COMMON = ('hardware_id', 'action', 'note', 'who', 'figures', 'at')


def _events_table(name: str, root_ondelete: str, keeps_names: bool) -> None:
    columns = [sa.Column('id', sa.Integer(), nullable=False),
               sa.Column('root_id', sa.Integer(), nullable=keeps_names)]
    if keeps_names:
        columns += [sa.Column('root_ref', sa.Integer(), nullable=False),
                    sa.Column('family_name', sa.String(length=200), nullable=True)]
    columns.append(sa.Column('model_id', sa.Integer(), nullable=True))
    if keeps_names:
        columns += [sa.Column('model_ref', sa.Integer(), nullable=True),
                    sa.Column('model_name', sa.String(length=200), nullable=True)]
    columns += [sa.Column('hardware_id', sa.Integer(), nullable=True),
                sa.Column('action', sa.String(length=10), nullable=False),
                sa.Column('note', sa.Text(), nullable=False),
                sa.Column('who', sa.String(length=120), nullable=True),
                sa.Column('figures', sa.JSON(), nullable=False),
                sa.Column('at', sa.DateTime(), nullable=False)]
    op.create_table(name, *columns,
                    sa.CheckConstraint("action IN ('promote', 'demote')", name='champion_action'),
                    sa.ForeignKeyConstraint(['root_id'], ['models.id'], ondelete=root_ondelete),
                    sa.ForeignKeyConstraint(['model_id'], ['models.id'], ondelete='SET NULL'),
                    sa.ForeignKeyConstraint(['hardware_id'], ['hardware.id']),
                    sa.PrimaryKeyConstraint('id'))


def _swap(copy_sql: str) -> None:
    """Replace champion_events by champion_events_new (filled by ``copy_sql``), keeping ids and the id sequence."""
    op.execute(copy_sql)
    op.drop_index('ix_champion_events_root_id', 'champion_events')
    op.drop_table('champion_events')
    op.rename_table('champion_events_new', 'champion_events')
    op.create_index('ix_champion_events_root_id', 'champion_events', ['root_id'], unique=False)
    if op.get_bind().dialect.name == 'postgresql':  # rows were copied with their ids; the sequence must follow
        op.execute("SELECT setval(pg_get_serial_sequence('champion_events', 'id'), "
                   "COALESCE((SELECT MAX(id) FROM champion_events), 0) + 1, false)")


def upgrade() -> None:
    _events_table('champion_events_new', 'SET NULL', keeps_names=True)
    common = ', '.join(f'e.{c}' for c in _COMMON)
    _swap("INSERT INTO champion_events_new (id, root_id, root_ref, family_name, model_id, model_ref, model_name, "
          f"{', '.join(_COMMON)}) SELECT e.id, e.root_id, e.root_id, r.name, e.model_id, e.model_id, m.name, {common} "
          "FROM champion_events e LEFT JOIN models r ON r.id = e.root_id LEFT JOIN models m ON m.id = e.model_id")
    op.create_table('machine_champions',
    sa.Column('root_id', sa.Integer(), nullable=False),
    sa.Column('hardware_id', sa.Integer(), nullable=False),
    sa.Column('model_id', sa.Integer(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('who', sa.String(length=120), nullable=True),
    sa.Column('chosen_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['root_id'], ['models.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['hardware_id'], ['hardware.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['model_id'], ['models.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('root_id', 'hardware_id')
    )
    op.create_index('ix_measurements_kind_hardware', 'measurements', ['kind', 'hardware_id', 'model_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_measurements_kind_hardware', 'measurements')
    op.drop_table('machine_champions')
    _events_table('champion_events_new', 'CASCADE', keeps_names=False)
    common = ', '.join(f'e.{c}' for c in _COMMON)
    _swap(f"INSERT INTO champion_events_new (id, root_id, model_id, {', '.join(_COMMON)}) SELECT e.id, e.root_id, "
          f"e.model_id, {common} FROM champion_events e WHERE e.root_id IS NOT NULL")
