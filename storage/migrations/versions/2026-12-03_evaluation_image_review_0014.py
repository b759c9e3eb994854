"""review that really happened: the signer's review span and, per image, when the signer
first opened it or why not (set at signing, covered by the signed content's hash)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 19:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC, JsonB
from alembic import op

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('evaluation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('review_started_at', DateTimeUTC(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column('review_ended_at', DateTimeUTC(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column('image_review', JsonB, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('evaluation', schema=None) as batch_op:
        batch_op.drop_column('image_review')
        batch_op.drop_column('review_ended_at')
        batch_op.drop_column('review_started_at')
