"""C9: the FSE participants' records (at entry, on leaving) and their six-month follow-ups.

Two tables keyed by pathway (app/pathways/esf_models.py says why not columns of `pathway`).

Revision ID: e9c4a2b6d8f1
Revises: d7e9f1a3b5c8
Create Date: 2026-12-02 05:53:11.511439

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.core.models


# revision identifiers, used by Alembic.
revision: str = 'e9c4a2b6d8f1'
down_revision: str | Sequence[str] | None = 'd7e9f1a3b5c8'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('follow_up',
    sa.Column('pathway_id', sa.Integer(), nullable=False),
    sa.Column('observed_on', sa.Date(), nullable=False),
    sa.Column('situation', sa.String(length=24), nullable=False),
    sa.Column('improved_situation', sa.Boolean(), nullable=True),
    sa.Column('created_by_key_id', sa.Integer(), nullable=True),
    sa.Column('created_at', app.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("situation IN ('employed_cdi', 'employed_cdd_over_6m', 'employed_short', 'self_employed', 'training', 'job_seeking', 'inactive', 'unknown')", name=op.f('ck_follow_up_situation_known')),
    sa.ForeignKeyConstraint(['created_by_key_id'], ['api_key.id'], name=op.f('fk_follow_up_created_by_key_id_api_key')),
    sa.ForeignKeyConstraint(['pathway_id'], ['pathway.id'], name=op.f('fk_follow_up_pathway_id_pathway'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('pathway_id', name=op.f('pk_follow_up'))
    )
    op.create_table('pathway_participant',
    sa.Column('pathway_id', sa.Integer(), nullable=False),
    sa.Column('labour_status', sa.String(length=24), nullable=True),
    sa.Column('education', sa.String(length=12), nullable=True),
    sa.Column('disability', sa.String(length=12), nullable=True),
    sa.Column('third_country_national', sa.String(length=12), nullable=True),
    sa.Column('foreign_background', sa.String(length=12), nullable=True),
    sa.Column('minority', sa.String(length=12), nullable=True),
    sa.Column('homeless', sa.String(length=12), nullable=True),
    sa.Column('qualification_gained', sa.Boolean(), nullable=True),
    sa.Column('labour_status_on_leaving', sa.String(length=16), nullable=True),
    sa.CheckConstraint("disability IS NULL OR disability IN ('yes', 'no', 'undisclosed')", name=op.f('ck_pathway_participant_disability_known')),
    sa.CheckConstraint("education IS NULL OR education IN ('isced_0_2', 'isced_3_4', 'isced_5_8')", name=op.f('ck_pathway_participant_education_known')),
    sa.CheckConstraint("foreign_background IS NULL OR foreign_background IN ('yes', 'no', 'undisclosed')", name=op.f('ck_pathway_participant_foreign_background_known')),
    sa.CheckConstraint("homeless IS NULL OR homeless IN ('yes', 'no', 'undisclosed')", name=op.f('ck_pathway_participant_homeless_known')),
    sa.CheckConstraint("labour_status IS NULL OR labour_status IN ('unemployed', 'long_term_unemployed', 'inactive', 'employed', 'self_employed')", name=op.f('ck_pathway_participant_labour_status_known')),
    sa.CheckConstraint("labour_status_on_leaving IS NULL OR labour_status_on_leaving IN ('job_searching', 'inactive')", name=op.f('ck_pathway_participant_leaving_status_known')),
    sa.CheckConstraint("minority IS NULL OR minority IN ('yes', 'no', 'undisclosed')", name=op.f('ck_pathway_participant_minority_known')),
    sa.CheckConstraint("third_country_national IS NULL OR third_country_national IN ('yes', 'no', 'undisclosed')", name=op.f('ck_pathway_participant_third_country_national_known')),
    sa.ForeignKeyConstraint(['pathway_id'], ['pathway.id'], name=op.f('fk_pathway_participant_pathway_id_pathway'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('pathway_id', name=op.f('pk_pathway_participant'))
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('pathway_participant')
    op.drop_table('follow_up')
