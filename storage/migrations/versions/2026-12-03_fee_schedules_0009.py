"""fee schedules: an organization's fee per code, overridable per payer profile

Starts empty: an organization without a schedule bills lines with no fee, and the worklist
says so (the admin imports ``code,fee`` CSV).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 13:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('fee_schedule_entry',
    sa.Column('id', GUID(length=16), nullable=False),
    sa.Column('organization_id', GUID(length=16), nullable=False),
    sa.Column('payer_profile_id', GUID(length=16), nullable=True),
    sa.Column('code', sa.String(length=5), nullable=False),
    sa.Column('fee_cents', sa.Integer(), nullable=False),
    sa.Column('sa_orm_sentinel', sa.Integer(), nullable=True),
    sa.Column('created_at', DateTimeUTC(timezone=True), nullable=False),
    sa.Column('updated_at', DateTimeUTC(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organization.id'], name=op.f('fk_fee_schedule_entry_organization_id_organization'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['payer_profile_id'], ['payer_profile.id'], name=op.f('fk_fee_schedule_entry_payer_profile_id_payer_profile'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fee_schedule_entry'))
    )
    with op.batch_alter_table('fee_schedule_entry', schema=None) as batch_op:
        batch_op.create_index('ix_fee_schedule_entry_code', ['organization_id', 'payer_profile_id', 'code'], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('fee_schedule_entry', schema=None) as batch_op:
        batch_op.drop_index('ix_fee_schedule_entry_code')
    op.drop_table('fee_schedule_entry')
