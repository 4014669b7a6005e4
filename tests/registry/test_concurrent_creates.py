"""Two regulators registering the same institution at the same moment: the database decides, one wins."""

import threading

from tests.conftest import institution_payload


def test_two_concurrent_creates_with_one_uscc_give_one_institution(app, admin, session):
    from sqlalchemy import func, select

    from registry.models import Institution

    payload = institution_payload(42)
    barrier = threading.Barrier(4)
    statuses = []

    def create(serial):
        client = app.test_client()
        barrier.wait()
        body = {**payload, "licence_no": f"PDY{serial}-concurrent"}
        response = client.post("/api/v1/institutions", json=body, headers=admin.headers)
        statuses.append((response.status_code, response.json["code"] if response.status_code != 201 else "ok"))

    threads = [threading.Thread(target=create, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(s for s, _ in statuses) == [201, 409, 409, 409], statuses
    assert {code for s, code in statuses if s == 409} == {"CONFLICT"}
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Institution)) == 1
