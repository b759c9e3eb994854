"""DICOMweb archives: an organization's archive settings and each case's send record

Revision ID: 0018
Revises: 0015
Create Date: 2026-12-04 20:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op

revision: str = '0018'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('archive_settings',
    sa.Column('id', GUID(length=16), nullable=False),
    sa.Column('organization_id', GUID(length=16), nullable=False),
    sa.Column('base_url', sa.String(length=500), nullable=False),
    sa.Column('username', sa.String(length=200), nullable=True),
    sa.Column('password', sa.Text(), nullable=True),
    sa.Column('restore_identity', sa.Boolean(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('sa_orm_sentinel', sa.Integer(), nullable=True),
    sa.Column('created_at', DateTimeUTC(timezone=True), nullable=False),
    sa.Column('updated_at', DateTimeUTC(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organization.id'], name=op.f('fk_archive_settings_organization_id_organization'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_archive_settings')),
    sa.UniqueConstraint('organization_id', name=op.f('uq_archive_settings_organization_id'))
    )
    op.create_table('archive_send',
    sa.Column('id', GUID(length=16), nullable=False),
    sa.Column('case_id', GUID(length=16), nullable=False),
    sa.Column('organization_id', GUID(length=16), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('sent_at', DateTimeUTC(timezone=True), nullable=True),
    sa.Column('study_instance_uid', sa.String(length=64), nullable=False),
    sa.Column('instances', sa.Integer(), nullable=False),
    sa.Column('sa_orm_sentinel', sa.Integer(), nullable=True),
    sa.Column('created_at', DateTimeUTC(timezone=True), nullable=False),
    sa.Column('updated_at', DateTimeUTC(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['case.id'], name=op.f('fk_archive_send_case_id_case'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organization_id'], ['organization.id'], name=op.f('fk_archive_send_organization_id_organization'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_archive_send')),
    sa.UniqueConstraint('case_id', name=op.f('uq_archive_send_case_id'))
    )
    with op.batch_alter_table('archive_send', schema=None) as batch_op:
        batch_op.create_index('ix_archive_send_state', ['state', 'updated_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('archive_send', schema=None) as batch_op:
        batch_op.drop_index('ix_archive_send_state')
    op.drop_table('archive_send')
    op.drop_table('archive_settings')
