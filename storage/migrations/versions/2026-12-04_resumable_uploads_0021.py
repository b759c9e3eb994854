"""resumable uploads: the tus upload rows (offset, part state, expiry)

Revision ID: 0021
Revises: 0018
Create Date: 2026-12-04 20:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC, JsonB
from alembic import op

revision: str = '0021'
down_revision: str | None = '0018'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('upload',
    sa.Column('id', GUID(length=16), nullable=False),
    sa.Column('token', sa.String(length=64), nullable=False),
    sa.Column('organization_id', GUID(length=16), nullable=False),
    sa.Column('owner_id', GUID(length=16), nullable=False),
    sa.Column('case_id', GUID(length=16), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=True),
    sa.Column('view', sa.String(length=32), nullable=True),
    sa.Column('teeth', sa.String(length=200), nullable=True),
    sa.Column('length', sa.BigInteger(), nullable=False),
    sa.Column('offset', sa.BigInteger(), nullable=False),
    sa.Column('part_state', JsonB, nullable=False),
    sa.Column('expires_at', DateTimeUTC(timezone=True), nullable=False),
    sa.Column('attachment_id', GUID(length=16), nullable=True),
    sa.Column('sa_orm_sentinel', sa.Integer(), nullable=True),
    sa.Column('created_at', DateTimeUTC(timezone=True), nullable=False),
    sa.Column('updated_at', DateTimeUTC(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['attachment_id'], ['attachment.id'], name=op.f('fk_upload_attachment_id_attachment'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['case_id'], ['case.id'], name=op.f('fk_upload_case_id_case'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organization_id'], ['organization.id'], name=op.f('fk_upload_organization_id_organization'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['owner_id'], ['user_account.id'], name=op.f('fk_upload_owner_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_upload')),
    sa.UniqueConstraint('token', name=op.f('uq_upload_token'))
    )
    with op.batch_alter_table('upload', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_upload_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_upload_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_upload_owner_id'), ['owner_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('upload', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_upload_owner_id'))
        batch_op.drop_index(batch_op.f('ix_upload_organization_id'))
        batch_op.drop_index(batch_op.f('ix_upload_expires_at'))
    op.drop_table('upload')
