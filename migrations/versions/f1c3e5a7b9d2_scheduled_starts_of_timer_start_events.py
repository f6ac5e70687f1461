"""Scheduled starts: one row per occurrence of a timer start event and org unit

Revision ID: f1c3e5a7b9d2
Revises: b7d2e4f6a8c1
Create Date: 2026-11-23 01:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'f1c3e5a7b9d2'
down_revision = 'b7d2e4f6a8c1'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('scheduled_start',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('process_key', sa.String(length=100), nullable=False),
    sa.Column('occurs_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('org_unit_id', sa.Integer(), nullable=False),
    sa.Column('instance_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['instance_id'], ['process_instance.id'], name=op.f('fk_scheduled_start_instance_id_process_instance')),
    sa.ForeignKeyConstraint(['org_unit_id'], ['org_unit.id'], name=op.f('fk_scheduled_start_org_unit_id_org_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scheduled_start')),
    sa.UniqueConstraint('process_key', 'occurs_at', 'org_unit_id', name='uq_scheduled_start')
    )


def downgrade():
    op.drop_table('scheduled_start')
