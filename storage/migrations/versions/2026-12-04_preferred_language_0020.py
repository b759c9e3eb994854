"""languages: preferred_language on user_account and patient; the language of a consent

Revision ID: 0020
Revises: 0024
Create Date: 2026-12-04 20:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0020'
down_revision: str | None = '0024'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('preferred_language', sa.String(length=8), nullable=True))
    with op.batch_alter_table('patient', schema=None) as batch_op:
        batch_op.add_column(sa.Column('preferred_language', sa.String(length=8), nullable=True))
    with op.batch_alter_table('consent', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sa.String(length=8), nullable=False,
                                      server_default='en'))


def downgrade() -> None:
    with op.batch_alter_table('consent', schema=None) as batch_op:
        batch_op.drop_column('language')
    with op.batch_alter_table('patient', schema=None) as batch_op:
        batch_op.drop_column('preferred_language')
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.drop_column('preferred_language')
