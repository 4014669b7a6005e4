"""The leaders' numbers (oversight.stats.compute) for a year at district scale (issue 20).

Run from the repo root:  .venv/bin/python bench/stats.py [--database sqlite|postgresql|both]
                         [--institutions 10000] [--complaints 100000] [--seed 20] [--repeats 3]
                         [--report-only]

For each database it builds a throwaway one (SQLite: a temporary file; PostgreSQL: a fresh schema in
--pg-url, created and dropped here), runs the migrations with `flask --app wsgi db upgrade`, and loads
it with bulk Core inserts (random.Random(--seed), so every run loads the same data): --institutions
institutions on 30 streets with credit grades; --complaints complaints over the past year (every
category with its department; closed, replied, under way, overdue, rejected; 2% about an unlicensed
place; most of the answered ones rated); quarterly self-checks for the last five quarters (80% filed,
some late, a few returned; two answers each, a third of them not compliant, half of those put right);
3,000 inspections (a third joint, 10% with an approved penalty, half under one of two plans of the
year); 2,000 leads (half closed); red, black and key list entries.

Then it times `compute()` for the year to today, as an admin (every department), not grouped and
grouped by each of department, street, category and month: the best of --repeats runs each, and the
statements each sends. It also times the monthly report (the four groupings and the workbook).
Checks: the total of received complaints equals a direct count, and the groups add up to it. Target:
TARGET seconds for each compute(); exit status 1 if missed (unless --report-only).
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import time

import harness  # first: bench/complaints.py would hide the application's `complaints` package

TARGET = 1.0  # seconds per compute(), on either database
GROUPINGS = (None, "department", "street", "category", "month")
STREETS = [f"{name}街道" for name in (
    "山大路", "洪家楼", "东风", "全福", "孙村", "巨野河", "华山", "荷花路", "王舍人", "鲍山", "郭店", "唐冶",
    "港沟", "彩石", "遥墙", "临港", "董家", "泉城路", "大明湖", "趵突泉", "解放路", "千佛山", "历山路",
    "文东", "建新", "甸柳", "燕山", "姚家", "龙洞", "舜华路")]
CHUNK = 20_000


def parse_args() -> argparse.Namespace:
    parser = harness.parser(__doc__)
    harness.add_database(parser, ("sqlite", "postgresql", "both"), "sqlite",
                         "; a schema is created in it for the run and dropped afterwards")
    parser.add_argument("--institutions", type=int, default=10_000, help="institutions (default 10000)")
    parser.add_argument("--complaints", type=int, default=100_000, help="complaints over the year (default 100000)")
    parser.add_argument("--seed", type=int, default=20, help="seed of the data (default 20)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each compute(), the best kept (default 3)")
    harness.add_report_only(parser)
    return parser.parse_args()


def _bulk(session, table, rows: list[dict]) -> None:
    from sqlalchemy import insert

    for start in range(0, len(rows), CHUNK):
        session.execute(insert(table).execution_options(render_nulls=True), rows[start:start + CHUNK])


def load(session, args: argparse.Namespace, now: dt.datetime, today: dt.date) -> dict:
    """Bulk Core inserts of everything; returns what was loaded."""
    from sqlalchemy import select

    from api.database import SHANGHAI
    from complaints.models import Complaint, ComplaintCategory
    from leads.models import Lead
    from registry.models import CATEGORIES, Institution
    from selfcheck import periods
    from selfcheck.models import ChecklistTemplate, Rectification, SelfCheck, SelfCheckAnswer
    from supervision.models import Inspection, InspectionDepartment, InspectionPlan, ListEntry, PlanDepartment

    rng = random.Random(args.seed)
    categories = list(CATEGORIES)
    created = now - dt.timedelta(days=800)
    _bulk(session, Institution, [{
        "name": f"压测医疗机构{n:05d}", "uscc": f"91370112MA{n:08d}", "licence_no": f"PDY{n:06d}-137011217D2112",
        "category": rng.choice(categories), "scope": ["内科"], "address": f"压测市{(street := rng.choice(STREETS))}{n}号",
        "street": street, "legal_representative": "王某", "principal": "李某",
        "licence_valid_from": today - dt.timedelta(days=700), "licence_valid_to": today + dt.timedelta(days=1000),
        "phone": None, "remote_monitoring": False, "status": "active" if rng.random() < 0.97 else "closed",
        "credit_grade": rng.choices("ABCD", weights=(30, 50, 15, 5))[0], "credit_points": 0, "credit_lists": [],
        "credit_risk": "low", "credit_band": None, "commitment_valid_to": None, "credit_stale_after": None,
        "created_at": created, "updated_at": created,
    } for n in range(1, args.institutions + 1)])
    ids = list(session.scalars(select(Institution.id).order_by(Institution.id)))

    routing = [(c.code, c.department) for c in session.scalars(select(ComplaintCategory).where(~ComplaintCategory.retired))]
    complaints = []
    for n in range(args.complaints):
        submitted = now - dt.timedelta(seconds=rng.randint(0, 365 * 86400 - 1))
        category, department = rng.choice(routing)
        place = rng.random() < 0.02
        anonymous = rng.random() < 0.4
        status = rng.choices(("closed", "replied", "investigating", "accepted", "submitted", "rejected"),
                             weights=(40, 15, 15, 10, 10, 10))[0]
        accepted = submitted + dt.timedelta(days=rng.randint(0, 6)) if status not in ("submitted", "rejected") else None
        reply_due = accepted + dt.timedelta(days=60) if accepted else None
        replied = (accepted + dt.timedelta(days=rng.randint(5, 75))
                   if accepted and status in ("closed", "replied") else None)
        complaints.append({
            "tracking_no": f"TS{n:014d}", "query_code_hash": "0" * 64, "category": category, "department": department,
            "status": status, "content": "压测投诉内容", "details": {}, "target_kind": "place" if place else "institution",
            "institution_id": None if place else rng.choice(ids), "staff_id": None, "code_id": None,
            "place_name": "无证场所" if place else None, "place_address": "某路 1 号" if place else None,
            "occurred_at": None, "anonymous": anonymous, "contact_name": None if anonymous else "张三",
            "contact_phone": None if anonymous else "13900000000", "account_id": None, "handler_id": None,
            "idempotency_key": None, "request_fingerprint": None, "submitted_at": submitted,
            "accept_due_at": submitted + dt.timedelta(days=7), "policy_version": 1, "accepted_at": accepted,
            "reply_due_at": reply_due, "extended_days": None, "finding": None, "reply": "已答复" if replied else None,
            "replied_at": replied, "rating": rng.randint(1, 5) if replied and rng.random() < 0.7 else None,
            "rating_comment": None, "rated_at": None, "closed_at": replied if status == "closed" else None,
            "updated_at": now,
        })
    _bulk(session, Complaint, complaints)
    del complaints

    template = ChecklistTemplate(key="bench", version=1, name="压测自查表", categories=categories, items=[])
    session.add(template)
    session.flush()
    quarter = periods.quarter_of(today)
    quarters = []
    for _ in range(5):
        quarter = periods.quarter_of(quarter.start - dt.timedelta(days=1))
        quarters.append(quarter)
    filings = []
    for institution_id in ids:
        for q in quarters:
            if rng.random() < 0.8:
                late = rng.random() < 0.15
                day = q.due + dt.timedelta(days=rng.randint(1, 20)) if late else q.end + dt.timedelta(days=rng.randint(1, 25))
                filings.append({"institution_id": institution_id, "template_id": template.id, "period": q.label,
                                "revision": 1, "status": "returned" if rng.random() < 0.03 else "submitted",
                                "signer_name": "王某", "signer_role": "principal",
                                "submitted_at": dt.datetime.combine(min(day, today), dt.time(10), tzinfo=SHANGHAI),
                                "non_compliant_count": 0, "veto_count": 0})
    _bulk(session, SelfCheck, filings)
    answers = []
    for filing_id, submitted in session.execute(select(SelfCheck.id, SelfCheck.submitted_at)):
        for index in range(2):
            bad = rng.random() < 0.33
            answers.append({"selfcheck_id": filing_id, "item_code": f"A{index}", "area": "quality", "tier": "general",
                            "text": "检查项", "result": "non_compliant" if bad else "compliant",
                            "rectification_plan": "整改" if bad else None, "rectification_owner": "王某" if bad else None,
                            "rectification_due": submitted.date() + dt.timedelta(days=30) if bad else None})
    _bulk(session, SelfCheckAnswer, answers)
    rectified = [{"answer_id": answer_id, "done_on": today, "note": "已整改", "recorded_at": now}
                 for answer_id in session.scalars(select(SelfCheckAnswer.id).where(SelfCheckAnswer.result == "non_compliant"))
                 if rng.random() < 0.5]
    _bulk(session, Rectification, rectified)

    plans = []
    for name, plan_categories in (("综合监管检查计划", []), ("重点领域全覆盖检查", ["cosmetic", "tcm_clinic", "dental"])):
        plan = InspectionPlan(year=today.year, name=f"{today.year} 年{name}", categories=plan_categories, streets=[],
                              due_on=dt.date(today.year, 12, 31))
        session.add(plan)
        session.flush()
        session.add_all([PlanDepartment(plan_id=plan.id, department=d) for d in ("health", "market")])
        plans.append(plan.id)
    inspections = []
    for _ in range(3_000):
        on = today - dt.timedelta(days=rng.randint(0, 364))
        penalty = rng.random() < 0.1
        inspections.append({"institution_id": rng.choice(ids), "inspected_on": on, "result": "penalty" if penalty else "pass",
                            "settled_result": "penalty" if penalty else "pass", "summary": "现场检查", "public": True,
                            "department": "health", "officer_id": None, "draw_id": None, "recorded_at": now,
                            "status": "recorded",
                            "plan_id": rng.choice(plans) if on.year == today.year and rng.random() < 0.5 else None,
                            "decision_no": None, "penalty_approved_at": now if penalty else None, "published_at": now,
                            "evidence_count": 0, "evidence_head": None})
    _bulk(session, Inspection, inspections)
    departments = []
    for inspection_id in session.scalars(select(Inspection.id)):
        joint = rng.random() < 1 / 3
        chosen = ["health", *rng.sample(["market", "medical_insurance", "ecology"], 2)] if joint else ["health"]
        departments += [{"inspection_id": inspection_id, "department": d} for d in chosen]
    _bulk(session, InspectionDepartment, departments)

    leads = []
    for institution_id in rng.sample(ids, min(2_000, len(ids))):
        opened = now - dt.timedelta(days=rng.randint(0, 364))
        closed = opened + dt.timedelta(days=rng.randint(1, 60)) if rng.random() < 0.5 else None
        closed = closed if closed is None or closed < now else None
        leads.append({"institution_id": institution_id, "place_name": None, "place_address": None,
                      "status": "inspected" if closed else "open", "score": 10, "opened_at": opened, "closed_at": closed,
                      "closed_by_id": None, "close_note": None})
    _bulk(session, Lead, leads)
    entries = [{"institution_id": institution_id, "list": name, "reason": "压测", "listed_at": now, "ends_at": None,
                "removed_at": None}
               for name, count in (("red", 200), ("black", 100), ("key", 150)) for institution_id in rng.sample(ids, min(count, len(ids)))]
    _bulk(session, ListEntry, entries)
    session.commit()
    return {"institutions": len(ids), "complaints": args.complaints, "filings": len(filings), "answers": len(answers),
            "rectifications": len(rectified), "inspections": len(inspections), "department_rows": len(departments),
            "leads": len(leads), "list_entries": len(entries)}


def bench(kind: str, args: argparse.Namespace) -> dict:
    return harness.on_migrated_database(kind, args.pg_url, lambda database, tmp: measure(database, args, tmp))


def measure(database: harness.Database, args: argparse.Namespace, tmp: str) -> dict:
    from sqlalchemy import event, func, select

    from api.database import SHANGHAI, db, today_shanghai, utcnow
    from api.models import Account
    from complaints.models import Complaint
    from onecode import create_app
    from oversight import report, stats

    app = create_app({"DATABASE_URL": database.url, "RATELIMIT_ENABLED": False, "UPLOAD_DIR": f"{tmp}/uploads"})
    result: dict = {"database": database.kind, "problems": [], "seconds": {}, "statements": {}}
    with app.app_context():
        session = db.session
        now, today = utcnow(), today_shanghai()
        started = time.perf_counter()
        loaded = load(session, args, now, today)
        print(f"\n== {database.label}\nloaded in {time.perf_counter() - started:.1f} s (bulk Core inserts): "
              + ", ".join(f"{value} {name}" for name, value in loaded.items()))
        session.remove()
        admin = Account(role="admin", username="bench-admin")
        date_from, date_to = today - dt.timedelta(days=364), today
        statements: list[str] = []
        event.listen(db.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
        answers = {}
        for group_by in GROUPINGS:
            best = float("inf")
            for _ in range(args.repeats):
                statements.clear()
                started = time.perf_counter()
                answers[group_by] = stats.compute(session=session, account=admin, date_from=date_from, date_to=date_to,
                                                  department=None, street=None, group_by=group_by, now=now)
                best = min(best, time.perf_counter() - started)
                session.rollback()
            label = group_by or "none"
            result["seconds"][label], result["statements"][label] = best, len(statements)
            print(f"compute(group_by={label}): {best * 1000:.0f} ms, {len(statements)} statements, "
                  f"{len(answers[group_by]['groups'])} groups")
        started = time.perf_counter()
        results = {grouping: stats.compute(session=session, account=admin, date_from=date_from, date_to=date_to,
                                           department=None, street=None, group_by=grouping, now=now)
                   for grouping in report.sheets(None)}
        body = report.workbook(results=results, first=None, department=None, street=None,
                               generated_at=now.astimezone(SHANGHAI))
        result["report"] = time.perf_counter() - started
        print(f"monthly report (four groupings and the workbook): {result['report']:.2f} s, {len(body) // 1024} KiB")

        start = dt.datetime.combine(date_from, dt.time(), tzinfo=SHANGHAI)
        end = dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time(), tzinfo=SHANGHAI)
        direct = session.scalar(select(func.count()).select_from(Complaint)
                                .where(Complaint.submitted_at >= start, Complaint.submitted_at < end))
        for group_by, answer in answers.items():
            received = answer["total"]["complaints"]["received"]
            if received != direct:
                result["problems"].append(f"group_by={group_by}: total received {received} != direct count {direct}")
            if group_by and sum(g["complaints"]["received"] for g in answer["groups"]) != direct:
                result["problems"].append(f"group_by={group_by}: the groups do not add up to {direct}")
    missed = [f"compute(group_by={label}) {seconds:.2f} s > {TARGET:g} s"
              for label, seconds in result["seconds"].items() if seconds > TARGET]
    result["passed"] = not missed and not result["problems"]
    print(f"slowest compute() {max(result['seconds'].values()) * 1000:.0f} ms (target < {TARGET * 1000:.0f} ms), "
          f"problems {len(result['problems'])}: {'PASS' if result['passed'] else 'FAIL'}")
    for line in missed + result["problems"]:
        print(f"  {line}")
    return result


def main() -> int:
    args = parse_args()
    harness.exit_on_sigterm()  # run the `finally` blocks on kill too
    print(f"machine: {harness.machine()}, reference loop {harness.reference_loop():.0f} ms")
    results = [bench(kind, args) for kind in harness.kinds(args.database)]
    passed = all(r["passed"] for r in results)
    if len(results) > 1:
        print("\n" + "; ".join(f"{r['database']}: {'PASS' if r['passed'] else 'FAIL'}" for r in results))
    return 0 if passed or args.report_only else 1


if __name__ == "__main__":
    sys.exit(main())
