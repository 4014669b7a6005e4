"""Self-inspections and commitments when two requests about one institution arrive at once
(PostgreSQL: SQLite has one writer at a time anyway)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from api.database import db, lock_row, utcnow
from leads import service as leads
from leads.models import Lead
from registry.models import Institution
from selfcheck.models import SelfCheck
from supervision.models import Violation
from tests.conftest import PG_URL
from tests.locks import join_all, post_in_threads, wait_until_backends_wait_for_a_lock
from tests.selfcheck.conftest import SELFCHECKS, current_period, filing_body, first_code, plan
from tests.selfcheck.test_commitments import COMMITMENTS, _signed

pytestmark = pytest.mark.skipif(not PG_URL, reason="PostgreSQL only: SQLite has one writer at a time anyway")


def test_a_breach_clicked_twice_is_recorded_once(app, clinic, clinic_account, health_officer):
    """The officer's button is pressed twice while the clinic is busy (held here): both requests find
    the commitment in force if they look before they wait; only one may record the breach and its
    points, the other gets 409."""
    signed = _signed(clinic_account)
    holder = db.session
    lock_row(holder, Institution, clinic["id"])
    answers = []
    threads = post_in_threads(app, health_officer, [(f"{COMMITMENTS}/{signed['id']}/breach", {"reason": "超范围执业"})] * 2,
                               answers)
    try:
        wait_until_backends_wait_for_a_lock(backends=2)
    finally:
        holder.commit()
        join_all(threads)

    assert sorted(response.status_code for response in answers) == [200, 409], [r.get_json() for r in answers]
    assert db.session.scalar(select(func.count()).select_from(Violation)
                             .where(Violation.commitment_id == signed["id"])) == 1


def test_two_self_checks_with_veto_findings_at_once_both_land_on_one_lead(app, clinic, clinic_account,
                                                                         general_template):
    """The clinic files its quarter and its year at the same moment, each with a failed veto item.
    The quarter's filing is stored (its foreign key share-locks the clinic) and about to add its
    veto reason to a lead when the year's arrives. The year's must wait for the clinic before storing
    its own filing: otherwise each holds a share lock that the other's lock for the lead waits on, and
    one filing is lost to a deadlock (a 500)."""
    veto = first_code(general_template, "veto")
    quarter, year = current_period(), current_period()[:4]
    first = db.session
    first.add(SelfCheck(institution_id=clinic["id"], template_id=general_template["id"], period=quarter,
                        status="submitted", signer_name="王某", signer_role="legal_representative",
                        submitted_by_id=clinic_account.account.id, non_compliant_count=1, veto_count=1))
    first.flush()
    answers = []
    threads = post_in_threads(app, clinic_account, [
        (SELFCHECKS, filing_body(general_template, year, non_compliant={veto: plan()}))], answers)
    try:
        wait_until_backends_wait_for_a_lock("%FOR UPDATE%")
        leads.add_reasons(session=first, institution_id=clinic["id"], reasons=[
            leads.reason("veto_item", f"{quarter} 自查 {veto} 不符合", utcnow(), ref=f"veto:{quarter}:{veto}")])
    finally:
        first.commit()
        join_all(threads)

    assert [response.status_code for response in answers] == [201], [r.get_json() for r in answers]
    db.session.expire_all()
    [lead] = db.session.scalars(select(Lead).where(Lead.institution_id == clinic["id"])).all()
    assert sorted(reason.ref for reason in lead.reasons) == sorted([f"veto:{quarter}:{veto}", f"veto:{year}:{veto}"])
