"""letter links: a guardian's emailed link to one child's screening results letter (only the
token's hash is stored)

Revision ID: 0026
Revises: 0027
Create Date: 2026-12-04 21:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op

revision: str = '0026'
down_revision: str | None = '0027'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('letter_link',
    sa.Column('id', GUID(length=16), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('organization_id', GUID(length=16), nullable=False),
    sa.Column('patient_id', GUID(length=16), nullable=False),
    sa.Column('screening_event_id', GUID(length=16), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('expires_at', DateTimeUTC(timezone=True), nullable=False),
    sa.Column('opened_count', sa.Integer(), nullable=False),
    sa.Column('last_opened_at', DateTimeUTC(timezone=True), nullable=True),
    sa.Column('revoked', sa.Boolean(), nullable=False),
    sa.Column('sa_orm_sentinel', sa.Integer(), nullable=True),
    sa.Column('created_at', DateTimeUTC(timezone=True), nullable=False),
    sa.Column('updated_at', DateTimeUTC(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organization.id'], name=op.f('fk_letter_link_organization_id_organization'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], name=op.f('fk_letter_link_patient_id_patient'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['screening_event_id'], ['screening_event.id'], name=op.f('fk_letter_link_screening_event_id_screening_event'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_letter_link')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_letter_link_token_hash'))
    )
    with op.batch_alter_table('letter_link', schema=None) as batch_op:
        batch_op.create_index('ix_letter_link_event_patient', ['screening_event_id', 'patient_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_letter_link_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_letter_link_patient_id'), ['patient_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('letter_link', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_letter_link_patient_id'))
        batch_op.drop_index(batch_op.f('ix_letter_link_organization_id'))
        batch_op.drop_index('ix_letter_link_event_patient')
    op.drop_table('letter_link')
