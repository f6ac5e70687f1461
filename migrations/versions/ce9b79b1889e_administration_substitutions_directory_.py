"""Administration: substitutions, directory logins, password setup, grant revocation

Adds the substitution table (an away user and their substitute for a period), the candidate's
on_behalf_of_id (a task offered to a substitute), app_user.auth_source ('local'|'ldap'),
must_set_password with a one-time setup token hash, and who revoked a role grant, when, why.

Revision ID: ce9b79b1889e
Revises: 5c1e9a7d2b40
Create Date: 2026-11-22 22:34:56.334011

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'ce9b79b1889e'
down_revision = '5c1e9a7d2b40'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('substitution',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('away_user_id', sa.Integer(), nullable=False),
    sa.Column('substitute_id', sa.Integer(), nullable=False),
    sa.Column('valid_from', sa.DateTime(timezone=True), nullable=False),
    sa.Column('valid_to', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancelled_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['away_user_id'], ['app_user.id'], name=op.f('fk_substitution_away_user_id_app_user')),
    sa.ForeignKeyConstraint(['cancelled_by_id'], ['app_user.id'], name=op.f('fk_substitution_cancelled_by_id_app_user')),
    sa.ForeignKeyConstraint(['created_by_id'], ['app_user.id'], name=op.f('fk_substitution_created_by_id_app_user')),
    sa.ForeignKeyConstraint(['substitute_id'], ['app_user.id'], name=op.f('fk_substitution_substitute_id_app_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_substitution'))
    )
    with op.batch_alter_table('substitution', schema=None) as batch_op:
        batch_op.create_index('ix_substitution_away_period', ['away_user_id', 'valid_from', 'valid_to'], unique=False)
        batch_op.create_index('ix_substitution_substitute_period', ['substitute_id', 'valid_from', 'valid_to'], unique=False)

    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('auth_source', sa.String(length=10), server_default='local', nullable=False))
        batch_op.add_column(sa.Column('must_set_password', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('password_setup_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('password_setup_expires_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_app_user_password_setup_hash'), ['password_setup_hash'], unique=False)

    with op.batch_alter_table('human_task_candidate', schema=None) as batch_op:
        batch_op.add_column(sa.Column('on_behalf_of_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_human_task_candidate_on_behalf_of_id_app_user'), 'app_user', ['on_behalf_of_id'], ['id'])

    with op.batch_alter_table('role_grant', schema=None) as batch_op:
        batch_op.add_column(sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('revoked_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('revoke_reason', sa.Text(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_role_grant_revoked_by_id_app_user'), 'app_user', ['revoked_by_id'], ['id'])



def downgrade():
    with op.batch_alter_table('role_grant', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_role_grant_revoked_by_id_app_user'), type_='foreignkey')
        batch_op.drop_column('revoke_reason')
        batch_op.drop_column('revoked_by_id')
        batch_op.drop_column('revoked_at')

    with op.batch_alter_table('human_task_candidate', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_human_task_candidate_on_behalf_of_id_app_user'), type_='foreignkey')
        batch_op.drop_column('on_behalf_of_id')

    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_app_user_password_setup_hash'))
        batch_op.drop_column('password_setup_expires_at')
        batch_op.drop_column('password_setup_hash')
        batch_op.drop_column('must_set_password')
        batch_op.drop_column('auth_source')

    with op.batch_alter_table('substitution', schema=None) as batch_op:
        batch_op.drop_index('ix_substitution_substitute_period')
        batch_op.drop_index('ix_substitution_away_period')

    op.drop_table('substitution')
