"""The black-list decisions and the declaration of conflicts, called as services (no HTTP): the rules
that lived in the routes now hold for any caller."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from api.errors import Forbidden, InvalidTransition, NotFound, ValidationFailed
from registry.models import Institution
from supervision import inspections
from supervision.models import ListDecision


def test_a_supervisor_black_lists_an_institution_by_decision(session, clinic, supervisor):
    entry = inspections.black_list(session=session, account=supervisor.account, institution_id=clinic["id"],
                                   reason="伪造病历")

    assert (entry.institution_id, entry.list) == (clinic["id"], "black")
    assert session.get(Institution, clinic["id"]).credit_grade == "D"


def test_an_officer_cannot_black_list(session, clinic, health_officer):
    with pytest.raises(Forbidden):
        inspections.black_list(session=session, account=health_officer.account, institution_id=clinic["id"],
                               reason="伪造病历")
    assert session.scalars(select(ListDecision)).all() == []


def test_black_listing_twice_is_an_invalid_transition(session, clinic, supervisor):
    inspections.black_list(session=session, account=supervisor.account, institution_id=clinic["id"], reason="一")

    with pytest.raises(InvalidTransition):
        inspections.black_list(session=session, account=supervisor.account, institution_id=clinic["id"], reason="二")


def test_black_listing_an_unknown_institution_is_not_found(session, supervisor):
    with pytest.raises(NotFound):
        inspections.black_list(session=session, account=supervisor.account, institution_id=987654, reason="无")


def test_lifting_ends_the_decision_and_recomputes_the_credit(session, clinic, supervisor):
    inspections.black_list(session=session, account=supervisor.account, institution_id=clinic["id"], reason="一")

    institution = inspections.lift_black_list(session=session, account=supervisor.account,
                                              institution_id=clinic["id"], reason="已整改")

    decision = session.scalars(select(ListDecision)).one()
    assert decision.lifted_at is not None and decision.lift_reason == "已整改"
    assert institution.credit_grade != "D"


def test_lifting_without_a_decision_in_force_is_not_found(session, clinic, supervisor):
    with pytest.raises(NotFound):
        inspections.lift_black_list(session=session, account=supervisor.account, institution_id=clinic["id"],
                                    reason="无")


def test_an_officer_cannot_lift(session, clinic, supervisor, health_officer):
    inspections.black_list(session=session, account=supervisor.account, institution_id=clinic["id"], reason="一")

    with pytest.raises(Forbidden):
        inspections.lift_black_list(session=session, account=health_officer.account, institution_id=clinic["id"],
                                    reason="无")
    assert session.scalars(select(ListDecision)).one().lifted_at is None


@pytest.mark.parametrize("target", [{}, {"street": "山大路街道", "with_institution": True}])
def test_a_conflict_names_an_institution_or_a_street_not_both_nor_neither(session, clinic, health_officer, target):
    institution_id = clinic["id"] if target.pop("with_institution", False) else None

    with pytest.raises(ValidationFailed):
        inspections.declare_conflict(session=session, actor=health_officer.account, inspector=health_officer.account,
                                     institution_id=institution_id, street=target.get("street"))


def test_an_officer_declares_its_own_conflict_with_a_street(session, health_officer):
    conflict = inspections.declare_conflict(session=session, actor=health_officer.account,
                                            inspector=health_officer.account, institution_id=None, street="山大路街道")

    assert (conflict.account_id, conflict.street, conflict.institution_id) == (health_officer.account.id,
                                                                              "山大路街道", None)
