"""encounter billing: corrections after signing, same-day overrides, the billed package

Every stored encounter starts with no corrections and no overrides (``[]``): lines edited
before this revision were edited without a recorded reason, and nothing can invent one.
Encounters billed before it have no billed package version (it was not recorded).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 12:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import JsonB
from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('encounter_billing', schema=None) as batch_op:
        batch_op.add_column(sa.Column('corrections', JsonB, nullable=False,
                                      server_default=sa.text("'[]'")))
        batch_op.add_column(sa.Column('overrides', JsonB, nullable=False,
                                      server_default=sa.text("'[]'")))
        batch_op.add_column(sa.Column('billed_package_version', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('billed_attachment_control_number', sa.String(length=40),
                                      nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('encounter_billing', schema=None) as batch_op:
        batch_op.drop_column('billed_attachment_control_number')
        batch_op.drop_column('billed_package_version')
        batch_op.drop_column('overrides')
        batch_op.drop_column('corrections')
