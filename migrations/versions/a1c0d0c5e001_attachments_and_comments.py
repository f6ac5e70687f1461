"""Attachments stored by SHA-256, and comments on instances

Revision ID: a1c0d0c5e001
Revises: 1708f3fa76c5
Create Date: 2026-11-22 22:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = "a1c0d0c5e001"
down_revision = "1708f3fa76c5"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "blob",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_blob")),
    )
    op.create_table(
        "attachment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=150), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["created_by_id"], ["app_user.id"], name=op.f("fk_attachment_created_by_id_app_user")),
        sa.ForeignKeyConstraint(["instance_id"], ["process_instance.id"], name=op.f("fk_attachment_instance_id_process_instance")),
        sa.ForeignKeyConstraint(["sha256"], ["blob.sha256"], name=op.f("fk_attachment_sha256_blob")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attachment")),
    )
    with op.batch_alter_table("attachment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_attachment_instance_id"), ["instance_id"], unique=False)
    op.create_table(
        "comment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["author_id"], ["app_user.id"], name=op.f("fk_comment_author_id_app_user")),
        sa.ForeignKeyConstraint(["instance_id"], ["process_instance.id"], name=op.f("fk_comment_instance_id_process_instance")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comment")),
    )
    with op.batch_alter_table("comment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_comment_instance_id"), ["instance_id"], unique=False)


def downgrade():
    with op.batch_alter_table("comment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_comment_instance_id"))
    op.drop_table("comment")
    with op.batch_alter_table("attachment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attachment_instance_id"))
    op.drop_table("attachment")
    op.drop_table("blob")
