"""api tokens: expiry, scopes, grant fingerprint

Existing tokens keep working: each gets ``expires_at`` = the time of this upgrade + 90 days
(the default of ``TOOTHLINE_API_TOKEN_DAYS``, so every integration has the same, known window
to move to a new token), the scopes ``read write`` (what every token could do before), and
the fingerprint of its owner's grant as it stands at the upgrade. From then on, any change of
the owner's role or organizations, a deactivation or a password reset ends it like a new one.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 10:00:00.000000
"""

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEGACY_LIFETIME = timedelta(days=90)

api_token = sa.table(
    "api_token",
    sa.column("id", GUID(length=16)),
    sa.column("user_id", GUID(length=16)),
    sa.column("expires_at", DateTimeUTC(timezone=True)),
    sa.column("scopes", sa.String(64)),
    sa.column("grant_fingerprint", sa.String(64)),
)
user_account = sa.table(
    "user_account",
    sa.column("id", GUID(length=16)),
    sa.column("role", sa.String(32)),
    sa.column("session_epoch", sa.Integer()),
)
user_organization = sa.table(
    "user_organization",
    sa.column("user_id", GUID(length=16)),
    sa.column("organization_id", GUID(length=16)),
)


def _fingerprint(user_id: object, role: str, organization_ids: list[str], epoch: int) -> str:
    """A frozen copy of ``portal.accounts.tokens.grant_fingerprint`` (version v1)."""
    orgs = ",".join(sorted(organization_ids))
    return hashlib.sha256(f"v1|{user_id}|{role}|{orgs}|{epoch}".encode()).hexdigest()


def _backfill() -> None:
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(api_token.c.id, user_account.c.id, user_account.c.role,
                  user_account.c.session_epoch)
        .select_from(api_token.join(user_account, user_account.c.id == api_token.c.user_id))
    ).all()
    if not rows:
        return
    organizations: dict[str, list[str]] = defaultdict(list)
    for user_id, org_id in bind.execute(
        sa.select(user_organization.c.user_id, user_organization.c.organization_id)
    ).all():
        organizations[str(user_id)].append(str(org_id))
    expires_at = datetime.now(UTC) + LEGACY_LIFETIME
    for token_id, user_id, role, epoch in rows:
        bind.execute(
            api_token.update()
            .where(api_token.c.id == token_id)
            .values(
                expires_at=expires_at,
                scopes="read write",
                grant_fingerprint=_fingerprint(user_id, role, organizations[str(user_id)],
                                               epoch or 0),
            )
        )


def upgrade() -> None:
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expires_at', DateTimeUTC(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('scopes', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('grant_fingerprint', sa.String(length=64),
                                      nullable=True))
    _backfill()
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.alter_column('expires_at', existing_type=DateTimeUTC(timezone=True),
                              nullable=False)
        batch_op.alter_column('scopes', existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column('grant_fingerprint', existing_type=sa.String(length=64),
                              nullable=False)


def downgrade() -> None:
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.drop_column('grant_fingerprint')
        batch_op.drop_column('scopes')
        batch_op.drop_column('expires_at')
