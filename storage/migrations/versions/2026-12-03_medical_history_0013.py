"""medical history on the patient: conditions, medications, allergies, no known allergies,
and who changed them last and when (each change is also a ``patient.history_changed`` event)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 13:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC, JsonB
from alembic import op

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('patient', schema=None) as batch_op:
        batch_op.add_column(sa.Column('conditions', JsonB, nullable=False,
                                      server_default=sa.text("'[]'")))
        batch_op.add_column(sa.Column('medications', JsonB, nullable=False,
                                      server_default=sa.text("'[]'")))
        batch_op.add_column(sa.Column('allergies', JsonB, nullable=False,
                                      server_default=sa.text("'[]'")))
        batch_op.add_column(sa.Column('no_known_allergies', sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column('history_updated_at', DateTimeUTC(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column('history_updated_by_id', GUID(length=16), nullable=True))
        batch_op.add_column(sa.Column('history_updated_by', sa.String(length=300),
                                      nullable=True))
        batch_op.create_foreign_key(
            batch_op.f('fk_patient_history_updated_by_id_user_account'), 'user_account',
            ['history_updated_by_id'], ['id'], ondelete='SET NULL')


def downgrade() -> None:
    with op.batch_alter_table('patient', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_patient_history_updated_by_id_user_account'),
                                 type_='foreignkey')
        batch_op.drop_column('history_updated_by')
        batch_op.drop_column('history_updated_by_id')
        batch_op.drop_column('history_updated_at')
        batch_op.drop_column('no_known_allergies')
        batch_op.drop_column('allergies')
        batch_op.drop_column('medications')
        batch_op.drop_column('conditions')
