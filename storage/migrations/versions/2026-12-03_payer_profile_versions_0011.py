"""payer profile versions: a profile's version number, every saved version kept, and the
profile version an encounter's claim lines were coded under

Existing profiles are version 1; their current rules are copied as version 1.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 13:20:00.000000
"""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC, JsonB
from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('payer_profile', schema=None) as batch_op:
        batch_op.add_column(sa.Column('version', sa.Integer(), server_default='1', nullable=False))
    op.create_table('payer_profile_version',
    sa.Column('id', GUID(length=16), nullable=False),
    sa.Column('payer_profile_id', GUID(length=16), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('is_default', sa.Boolean(), nullable=False),
    sa.Column('rules', JsonB, nullable=False),
    sa.Column('saved_by_id', GUID(length=16), nullable=True),
    sa.Column('sa_orm_sentinel', sa.Integer(), nullable=True),
    sa.Column('created_at', DateTimeUTC(timezone=True), nullable=False),
    sa.Column('updated_at', DateTimeUTC(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['payer_profile_id'], ['payer_profile.id'], name=op.f('fk_payer_profile_version_payer_profile_id_payer_profile'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['saved_by_id'], ['user_account.id'], name=op.f('fk_payer_profile_version_saved_by_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payer_profile_version'))
    )
    with op.batch_alter_table('payer_profile_version', schema=None) as batch_op:
        batch_op.create_index('ix_payer_profile_version_number', ['payer_profile_id', 'version'], unique=True)
    with op.batch_alter_table('encounter_billing', schema=None) as batch_op:
        batch_op.add_column(sa.Column('payer_profile_name', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('payer_profile_version', sa.Integer(), nullable=True))

    profiles = sa.table('payer_profile', sa.column('id', GUID(length=16)),
                        sa.column('name', sa.String()), sa.column('is_default', sa.Boolean()),
                        sa.column('rules', JsonB))
    versions = sa.table('payer_profile_version', sa.column('id', GUID(length=16)),
                        sa.column('payer_profile_id', GUID(length=16)),
                        sa.column('version', sa.Integer()), sa.column('name', sa.String()),
                        sa.column('is_default', sa.Boolean()), sa.column('rules', JsonB),
                        sa.column('created_at', DateTimeUTC(timezone=True)),
                        sa.column('updated_at', DateTimeUTC(timezone=True)))
    now = datetime.now(UTC)
    rows = op.get_bind().execute(sa.select(profiles)).all()
    if rows:
        op.bulk_insert(versions, [
            {"id": uuid.uuid4(), "payer_profile_id": r.id, "version": 1, "name": r.name,
             "is_default": bool(r.is_default), "rules": r.rules or {}, "created_at": now,
             "updated_at": now}
            for r in rows
        ])


def downgrade() -> None:
    with op.batch_alter_table('encounter_billing', schema=None) as batch_op:
        batch_op.drop_column('payer_profile_version')
        batch_op.drop_column('payer_profile_name')
    with op.batch_alter_table('payer_profile_version', schema=None) as batch_op:
        batch_op.drop_index('ix_payer_profile_version_number')
    op.drop_table('payer_profile_version')
    with op.batch_alter_table('payer_profile', schema=None) as batch_op:
        batch_op.drop_column('version')
