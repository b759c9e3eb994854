"""records desk: structured identity check (document type, last four characters, who checked,
when) and the delivery method of a release

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 19:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op

revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('records_request', schema=None) as batch_op:
        batch_op.add_column(sa.Column('id_document_type', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('id_document_last4', sa.String(length=4), nullable=True))
        batch_op.add_column(sa.Column('verified_by_id', GUID(length=16), nullable=True))
        batch_op.add_column(sa.Column('verified_at', DateTimeUTC(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('delivery_method', sa.String(length=16), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f('fk_records_request_verified_by_id_user_account'), 'user_account',
            ['verified_by_id'], ['id'], ondelete='SET NULL')


def downgrade() -> None:
    with op.batch_alter_table('records_request', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_records_request_verified_by_id_user_account'),
                                 type_='foreignkey')
        batch_op.drop_column('delivery_method')
        batch_op.drop_column('verified_at')
        batch_op.drop_column('verified_by_id')
        batch_op.drop_column('id_document_last4')
        batch_op.drop_column('id_document_type')
