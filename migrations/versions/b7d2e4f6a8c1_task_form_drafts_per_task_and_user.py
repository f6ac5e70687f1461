"""Task form drafts per task and user

Revision ID: b7d2e4f6a8c1
Revises: 83578f445b64
Create Date: 2026-11-23 01:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b7d2e4f6a8c1'
down_revision = '83578f445b64'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('task_draft',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('human_task_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('saved_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['human_task_id'], ['human_task.id'], name=op.f('fk_task_draft_human_task_id_human_task')),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_task_draft_user_id_app_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_task_draft')),
    sa.UniqueConstraint('human_task_id', 'user_id', name='uq_task_draft_task_user')
    )
    with op.batch_alter_table('task_draft', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_task_draft_human_task_id'), ['human_task_id'], unique=False)


def downgrade():
    with op.batch_alter_table('task_draft', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_task_draft_human_task_id'))

    op.drop_table('task_draft')
