from datetime import date

from tests import factories


def test_factories_build_a_pathway_in_a_convention(session):
    convention = factories.convention(session, years={2019: {"places": 10, "budget": 1000}})
    pathway = factories.pathway(session, convention_id=convention.id, entered_on=date(2019, 3, 1))
    assert pathway.status == "active"
