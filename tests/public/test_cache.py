"""The per-process scan cache: a burst of scans of one door costs one database read, and no answer
outlives SCAN_CACHE_SECONDS."""

import pytest

from public import cache as cache_module
from public.cache import ProfileCache, cached_profile


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(cache_module.time, "monotonic", clock)
    return clock


def entry(code_id=1, name="x"):
    return cached_profile(code_id, {"name": name}, {"name": name})


def test_it_forgets_an_answer_after_its_seconds(clock):
    cache = ProfileCache(seconds=5)
    cache.put("t", entry())
    clock.now += 4.9
    assert cache.get("t").profile == {"name": "x"}
    clock.now += 0.2
    assert cache.get("t") is None


def test_it_keeps_at_most_max_entries_dropping_the_least_recently_used(clock):
    cache = ProfileCache(seconds=5, max_entries=2)
    cache.put("a", entry(1))
    cache.put("b", entry(2))
    cache.get("a")
    cache.put("c", entry(3))
    assert cache.get("b") is None
    assert cache.get("a").code_id == 1 and cache.get("c").code_id == 3


def test_zero_seconds_turns_it_off(clock):
    cache = ProfileCache(seconds=0)
    cache.put("a", entry())
    assert cache.get("a") is None


def test_a_cached_scan_is_served_without_the_database_and_still_counted(make_app, clock):
    from sqlalchemy import event

    from api.database import db
    from tests.conftest import Persona, institution_payload

    app = make_app(SCAN_CACHE_SECONDS=5)
    with app.app_context():
        from api import accounts, auth

        client = app.test_client()
        account = accounts.create_account(session=db.session, username="officer1", password="a-long-password",
                                          role="officer", department="health")
        officer = Persona(client, account, auth.issue_tokens(session=db.session, account=account))
        db.session.commit()
        created = officer.post("/api/v1/institutions", json=institution_payload(7)).json
        token = created["code"]["token"]

        first = client.get(f"/api/v1/scan/{token}")
        statements = []
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            second = client.get(f"/api/v1/scan/{token}")
            page = client.get(f"/c/{token}")
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        assert second.status_code == 200 and page.status_code == 200
        assert second.data == first.data
        assert statements == []

        officer.patch(f"/api/v1/institutions/{created['id']}", json={"name": "改名后的诊所"})
        assert client.get(f"/api/v1/scan/{token}").json["institution"]["name"] == created["name"]
        clock.now += 5.1
        assert client.get(f"/api/v1/scan/{token}").json["institution"]["name"] == "改名后的诊所"

        counts = officer.get(f"/api/v1/codes/{token}/scans").json
        assert counts["total"] == 5
