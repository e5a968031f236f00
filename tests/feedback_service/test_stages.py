from feedback_service.stages import (
    MetaStage,
    initial_stage,
    is_mapped,
    map_stage,
    stage_name_problem,
)

MAPPING = {"New": MetaStage.LEAD, "Qualified": MetaStage.MARKETING_QUALIFIED_LEAD, "Closed Won": MetaStage.CONVERTED}


def test_maps_exact_names_and_ignores_case_and_spacing():
    assert map_stage(MAPPING, "Qualified") is MetaStage.MARKETING_QUALIFIED_LEAD
    assert map_stage(MAPPING, "closed  won") is MetaStage.CONVERTED


def test_unmapped_stage_is_not_assigned():
    assert map_stage(MAPPING, "Nurture") is MetaStage.NOT_ASSIGNED
    assert not is_mapped(MAPPING, "Nurture")
    assert is_mapped(MAPPING, "new")


def test_initial_stage_is_the_stage_mapped_to_lead_or_lead():
    assert initial_stage(MAPPING) == "New"
    assert initial_stage({}) == "Lead"


def test_display_names():
    assert MetaStage.SALES_OPPORTUNITY.display_name == "Sales Opportunity"
    assert [s.display_name for s in MetaStage][-1] == "Not Assigned"


def test_stage_names_that_cannot_be_recorded():
    assert stage_name_problem("  ") == "crm_stage is empty"
    assert stage_name_problem("x" * 201) == "crm_stage is longer than 200 characters"
    assert stage_name_problem("a\nb") == "crm_stage contains control characters"
    assert stage_name_problem("Qualified – EMEA") is None
