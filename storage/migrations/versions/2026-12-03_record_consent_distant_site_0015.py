"""a dentist's own practice address on their profile, and the distant site (where the
dentist reviewed) recorded on the evaluation at signing

Revision ID: 0015
Revises: 0017
Create Date: 2026-12-03 19:55:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0015'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('practice_address', sa.String(length=300), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('practice_state', sa.String(length=2), nullable=False,
                                      server_default=''))
    with op.batch_alter_table('evaluation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('distant_site', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('distant_site_state', sa.String(length=2), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('evaluation', schema=None) as batch_op:
        batch_op.drop_column('distant_site_state')
        batch_op.drop_column('distant_site')
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.drop_column('practice_state')
        batch_op.drop_column('practice_address')
