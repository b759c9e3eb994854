"""annotations: dentists' drawings and measurements on images, versioned, beside the image

Revision ID: 0024
Revises: 0019
Create Date: 2026-12-04 20:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC, JsonB
from alembic import op

revision: str = '0024'
down_revision: str | None = '0019'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('annotation',
    sa.Column('id', GUID(length=16), nullable=False),
    sa.Column('attachment_id', GUID(length=16), nullable=False),
    sa.Column('case_id', GUID(length=16), nullable=False),
    sa.Column('organization_id', GUID(length=16), nullable=False),
    sa.Column('author_id', GUID(length=16), nullable=False),
    sa.Column('lineage_id', GUID(length=16), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('shapes', JsonB, nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('include_in_claim', sa.Boolean(), nullable=False),
    sa.Column('show_to_patient', sa.Boolean(), nullable=False),
    sa.Column('withdrawn', sa.Boolean(), nullable=False),
    sa.Column('calibration', sa.String(length=120), nullable=False),
    sa.Column('sa_orm_sentinel', sa.Integer(), nullable=True),
    sa.Column('created_at', DateTimeUTC(timezone=True), nullable=False),
    sa.Column('updated_at', DateTimeUTC(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['attachment_id'], ['attachment.id'], name=op.f('fk_annotation_attachment_id_attachment'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['case_id'], ['case.id'], name=op.f('fk_annotation_case_id_case'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organization_id'], ['organization.id'], name=op.f('fk_annotation_organization_id_organization'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['author_id'], ['user_account.id'], name=op.f('fk_annotation_author_id_user_account'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_annotation')),
    sa.UniqueConstraint('lineage_id', 'version', name='uq_annotation_lineage_version'),
    )
    with op.batch_alter_table('annotation', schema=None) as batch_op:
        batch_op.create_index('ix_annotation_attachment', ['attachment_id', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_annotation_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_annotation_lineage_id'), ['lineage_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_annotation_organization_id'), ['organization_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('annotation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_annotation_organization_id'))
        batch_op.drop_index(batch_op.f('ix_annotation_lineage_id'))
        batch_op.drop_index(batch_op.f('ix_annotation_case_id'))
        batch_op.drop_index('ix_annotation_attachment')
    op.drop_table('annotation')
