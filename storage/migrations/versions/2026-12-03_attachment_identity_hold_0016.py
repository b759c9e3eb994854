"""attachment identity hold: the DICOM's own patient tags kept while a person decides
(``dicom_identity``), and the status column widened for ``identity_mismatch``

Revision ID: 0016
Revises: 0014
Create Date: 2026-12-03 19:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import JsonB
from alembic import op

revision: str = '0016'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('attachment', schema=None) as batch_op:
        batch_op.alter_column('status', existing_type=sa.String(length=16),
                              type_=sa.String(length=32), existing_nullable=False)
        batch_op.add_column(sa.Column('dicom_identity', JsonB, nullable=True))


def downgrade() -> None:
    # Held rows stay out of use: "held" fits the narrower column and is neither processing
    # (derivation would mark it ready) nor ready (claims and records take only ready rows).
    op.execute("UPDATE attachment SET status = 'held' WHERE status = 'identity_mismatch'")
    with op.batch_alter_table('attachment', schema=None) as batch_op:
        batch_op.drop_column('dicom_identity')
        batch_op.alter_column('status', existing_type=sa.String(length=32),
                              type_=sa.String(length=16), existing_nullable=False)
