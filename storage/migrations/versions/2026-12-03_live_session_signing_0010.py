"""live sessions: the dentist's signature on the session record

Sessions recorded before this revision are unsigned (``signed_at`` NULL): they cannot be
marked ready to bill until the dentist who held them signs (nothing can invent a signature).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 13:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('live_session', schema=None) as batch_op:
        batch_op.add_column(sa.Column('signed_at', DateTimeUTC(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('signed_by_id', GUID(length=16), nullable=True))
        batch_op.add_column(sa.Column('attestation', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('content_sha256', sa.String(length=64), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f('fk_live_session_signed_by_id_user_account'), 'user_account',
            ['signed_by_id'], ['id'], ondelete='RESTRICT',
        )


def downgrade() -> None:
    with op.batch_alter_table('live_session', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_live_session_signed_by_id_user_account'),
                                 type_='foreignkey')
        batch_op.drop_column('content_sha256')
        batch_op.drop_column('attestation')
        batch_op.drop_column('signed_by_id')
        batch_op.drop_column('signed_at')
