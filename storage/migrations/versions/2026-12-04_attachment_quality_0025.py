"""photo quality scores on the attachment (sharpness, exposure, resolution, problems) and the
dentist's retake request (when, why)

Revision ID: 0025
Revises: 0020
Create Date: 2026-12-04 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC, JsonB
from alembic import op

revision: str = '0025'
down_revision: str | None = '0020'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('attachment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('quality', JsonB, nullable=True))
        batch_op.add_column(sa.Column('retake_requested_at', DateTimeUTC(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column('retake_reason', sa.String(length=500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('attachment', schema=None) as batch_op:
        batch_op.drop_column('retake_reason')
        batch_op.drop_column('retake_requested_at')
        batch_op.drop_column('quality')
