"""Monitoring summary facts per instance and roadmap measure

Revision ID: 83578f445b64
Revises: d3e5f7a9b1c2
Create Date: 2026-11-23 01:09:05.541846

The dashboard (app/services/monitoring.py) aggregates these rows instead of loading instances;
they are written with every engine step (app/services/monitoring_facts.py). Instances that
existed before this revision get their rows with `flask monitoring rebuild`.

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '83578f445b64'
down_revision = 'd3e5f7a9b1c2'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('instance_fact',
    sa.Column('instance_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('process_key', sa.String(length=100), nullable=False),
    sa.Column('municipality_id', sa.Integer(), nullable=True),
    sa.Column('school_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('school_year', sa.Integer(), nullable=False),
    sa.Column('outcome', sa.String(length=30), nullable=True),
    sa.Column('outcome_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('detail', sa.String(length=300), nullable=True),
    sa.ForeignKeyConstraint(['instance_id'], ['process_instance.id'], name=op.f('fk_instance_fact_instance_id_process_instance')),
    sa.ForeignKeyConstraint(['municipality_id'], ['org_unit.id'], name=op.f('fk_instance_fact_municipality_id_org_unit')),
    sa.ForeignKeyConstraint(['school_id'], ['org_unit.id'], name=op.f('fk_instance_fact_school_id_org_unit')),
    sa.PrimaryKeyConstraint('instance_id', name=op.f('pk_instance_fact'))
    )
    with op.batch_alter_table('instance_fact', schema=None) as batch_op:
        batch_op.create_index('ix_instance_fact_ended_at', ['ended_at'], unique=False)
        batch_op.create_index('ix_instance_fact_key_outcome', ['process_key', 'outcome'], unique=False)
        batch_op.create_index(batch_op.f('ix_instance_fact_municipality_id'), ['municipality_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_instance_fact_school_id'), ['school_id'], unique=False)
        batch_op.create_index('ix_instance_fact_status_municipality', ['status', 'municipality_id'], unique=False)
        batch_op.create_index('ix_instance_fact_year_municipality', ['school_year', 'municipality_id'], unique=False)

    op.create_table('roadmap_measure_fact',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('instance_id', sa.Integer(), nullable=False),
    sa.Column('direction', sa.String(length=30), nullable=False),
    sa.Column('deadline', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['instance_id'], ['process_instance.id'], name=op.f('fk_roadmap_measure_fact_instance_id_process_instance')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_roadmap_measure_fact'))
    )
    with op.batch_alter_table('roadmap_measure_fact', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_roadmap_measure_fact_instance_id'), ['instance_id'], unique=False)

    op.create_table('step_fact',
    sa.Column('task_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('instance_id', sa.Integer(), nullable=False),
    sa.Column('process_key', sa.String(length=100), nullable=False),
    sa.Column('bpmn_id', sa.String(length=200), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('municipality_id', sa.Integer(), nullable=True),
    sa.Column('school_id', sa.Integer(), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('seconds', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['instance_id'], ['process_instance.id'], name=op.f('fk_step_fact_instance_id_process_instance')),
    sa.ForeignKeyConstraint(['municipality_id'], ['org_unit.id'], name=op.f('fk_step_fact_municipality_id_org_unit')),
    sa.ForeignKeyConstraint(['school_id'], ['org_unit.id'], name=op.f('fk_step_fact_school_id_org_unit')),
    sa.ForeignKeyConstraint(['task_id'], ['human_task.id'], name=op.f('fk_step_fact_task_id_human_task')),
    sa.PrimaryKeyConstraint('task_id', name=op.f('pk_step_fact'))
    )
    with op.batch_alter_table('step_fact', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_step_fact_completed_at'), ['completed_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_step_fact_instance_id'), ['instance_id'], unique=False)
        batch_op.create_index('ix_step_fact_school_completed', ['school_id', 'completed_at'], unique=False)

    op.create_table('cycle_rollup',
    sa.Column('school_year', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('municipality_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('process_key', sa.String(length=100), nullable=False),
    sa.Column('completed', sa.Integer(), nullable=False),
    sa.Column('seconds_sum', sa.Float(), nullable=False),
    sa.Column('b0', sa.Integer(), nullable=False),
    sa.Column('b1', sa.Integer(), nullable=False),
    sa.Column('b2', sa.Integer(), nullable=False),
    sa.Column('b3', sa.Integer(), nullable=False),
    sa.Column('b4', sa.Integer(), nullable=False),
    sa.Column('b5', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['municipality_id'], ['org_unit.id'], name=op.f('fk_cycle_rollup_municipality_id_org_unit')),
    sa.PrimaryKeyConstraint('school_year', 'municipality_id', 'process_key', name=op.f('pk_cycle_rollup'))
    )
    op.create_table('step_rollup',
    sa.Column('school_year', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('municipality_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('process_key', sa.String(length=100), nullable=False),
    sa.Column('bpmn_id', sa.String(length=200), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('completed', sa.Integer(), nullable=False),
    sa.Column('seconds_sum', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['municipality_id'], ['org_unit.id'], name=op.f('fk_step_rollup_municipality_id_org_unit')),
    sa.PrimaryKeyConstraint('school_year', 'municipality_id', 'process_key', 'bpmn_id', name=op.f('pk_step_rollup'))
    )


def downgrade():
    op.drop_table('step_rollup')
    op.drop_table('cycle_rollup')
    with op.batch_alter_table('step_fact', schema=None) as batch_op:
        batch_op.drop_index('ix_step_fact_school_completed')
        batch_op.drop_index(batch_op.f('ix_step_fact_instance_id'))
        batch_op.drop_index(batch_op.f('ix_step_fact_completed_at'))

    op.drop_table('step_fact')
    with op.batch_alter_table('roadmap_measure_fact', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_roadmap_measure_fact_instance_id'))

    op.drop_table('roadmap_measure_fact')
    with op.batch_alter_table('instance_fact', schema=None) as batch_op:
        batch_op.drop_index('ix_instance_fact_year_municipality')
        batch_op.drop_index('ix_instance_fact_status_municipality')
        batch_op.drop_index(batch_op.f('ix_instance_fact_school_id'))
        batch_op.drop_index(batch_op.f('ix_instance_fact_municipality_id'))
        batch_op.drop_index('ix_instance_fact_key_outcome')
        batch_op.drop_index('ix_instance_fact_ended_at')

    op.drop_table('instance_fact')
