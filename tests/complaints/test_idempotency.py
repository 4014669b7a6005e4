"""Idempotency-Key: a retried submission answers the first receipt again and files no second case."""

from __future__ import annotations

import threading
import uuid

import pytest
from sqlalchemy import text

from tests.complaints.helpers import (
    assert_error,
    assert_validation_error,
    complaint_body,
    rows,
    stored_counts,
    submit,
    track,
)


def _key() -> str:
    return f"retry-{uuid.uuid4()}"


def test_the_same_key_and_body_answer_the_first_receipt_again(client):
    key = _key()

    first = submit(client, headers={"Idempotency-Key": key})
    again = submit(client, headers={"Idempotency-Key": key})

    assert first.status_code == 201 and again.status_code == 201, (first.json, again.json)
    assert again.get_json() == first.get_json()
    assert rows("complaints") == 1 and rows("complaint_events") == 1


def test_the_replayed_query_code_tracks_the_case(client):
    key = _key()
    submit(client, headers={"Idempotency-Key": key})

    replay = submit(client, headers={"Idempotency-Key": key}).get_json()

    response = track(client, replay["tracking_no"], replay["query_code"])
    assert response.status_code == 200
    assert response.get_json()["tracking_no"] == replay["tracking_no"]


def test_the_same_key_with_another_body_is_a_conflict(client):
    key = _key()
    first = submit(client, headers={"Idempotency-Key": key}).get_json()

    other = submit(client, complaint_body(content="另一件完全不同的投诉，内容也不一样。"), headers={"Idempotency-Key": key})

    body = assert_error(other, 409, "CONFLICT")
    assert first["tracking_no"] not in str(body) and first["query_code"] not in str(body)
    assert rows("complaints") == 1


def test_the_same_key_and_body_from_another_citizen_do_not_hand_out_the_first_receipt(client, citizen, login):
    key = _key()
    first = submit(client, headers={"Idempotency-Key": key, **citizen.headers}).get_json()
    stranger = login("citizen")

    other = submit(client, headers={"Idempotency-Key": key, **stranger.headers})

    assert other.status_code == 409, other.get_json()
    assert first["query_code"] not in other.get_data(as_text=True)
    assert rows("complaints") == 1


def test_different_keys_file_different_cases(client):
    first = submit(client, headers={"Idempotency-Key": _key()}).get_json()
    second = submit(client, headers={"Idempotency-Key": _key()}).get_json()

    assert first["tracking_no"] != second["tracking_no"]
    assert rows("complaints") == 2


def test_without_a_key_a_resubmission_files_a_second_case(client):
    first = submit(client).get_json()
    second = submit(client).get_json()

    assert first["tracking_no"] != second["tracking_no"]
    assert rows("complaints") == 2


def test_a_key_whose_submission_was_refused_can_be_used_for_the_corrected_one(client):
    key = _key()
    refused = submit(client, complaint_body(content="太短"), headers={"Idempotency-Key": key})
    assert refused.status_code == 422

    accepted = submit(client, headers={"Idempotency-Key": key})

    assert accepted.status_code == 201, accepted.get_json()
    assert rows("complaints") == 1


def test_a_replay_answers_the_first_receipt_even_after_the_case_moved_on(client, health_officer):
    key = _key()
    first = submit(client, headers={"Idempotency-Key": key}).get_json()
    moved = health_officer.post(f"/api/v1/complaints/{first['tracking_no']}/actions",
                                json={"action": "transfer", "department": "market", "note": "涉及收费，转市场监管"})
    assert moved.status_code == 200, moved.get_json()

    again = submit(client, headers={"Idempotency-Key": key})

    assert again.status_code == 201
    assert again.get_json() == first


@pytest.mark.parametrize("key", [
    pytest.param("k" * 129, id="longer-than-128"),
    pytest.param("clé-de-répétition-1234", id="non-ascii"),
    pytest.param("two words in a key here", id="with-a-space"),
    pytest.param("", id="empty"),
])
def test_an_invalid_key_is_refused_and_stores_nothing(client, key):
    before = stored_counts()

    response = submit(client, headers={"Idempotency-Key": key})

    assert_validation_error(response, "Idempotency-Key")
    assert stored_counts() == before


@pytest.mark.parametrize("key", ["order-1", "1", "k" * 15], ids=["order-1", "one-character", "fifteen-characters"])
def test_a_guessable_key_is_refused_naming_the_header(client, key):
    """The key is the secret that gets a receipt (and its query code) back: one short enough to guess
    would hand a stranger who sends the same body someone else's case."""
    before = stored_counts()

    response = submit(client, headers={"Idempotency-Key": key})

    body = assert_validation_error(response, "Idempotency-Key")
    assert "16" in " ".join(body["fields"]["Idempotency-Key"])
    assert stored_counts() == before


def test_a_stranger_guessing_a_short_key_gets_no_receipt(client):
    first = submit(client, headers={"Idempotency-Key": str(uuid.uuid4())}).get_json()

    guess = submit(client, headers={"Idempotency-Key": "order-1"})

    assert guess.status_code == 422
    assert first["query_code"] not in guess.get_data(as_text=True)


@pytest.mark.parametrize("length", [16, 128])
def test_keys_of_sixteen_to_one_hundred_and_twenty_eight_visible_characters_are_accepted(client, length):
    key = (uuid.uuid4().hex * 4)[:length]

    first = submit(client, headers={"Idempotency-Key": key})
    again = submit(client, headers={"Idempotency-Key": key})

    assert first.status_code == 201 and again.get_json() == first.get_json()


def test_the_key_is_not_stored_in_the_clear(client, session):
    key = str(uuid.uuid4())
    submit(client, headers={"Idempotency-Key": key})

    stored = session.execute(text("SELECT idempotency_key FROM complaints")).scalar_one()

    assert stored and key not in stored


def test_concurrent_retries_with_one_key_file_exactly_one_case(app, session):
    key, body, threads_count = _key(), complaint_body(), 8
    barrier = threading.Barrier(threads_count)
    answers, failures = [], []
    lock = threading.Lock()

    def retry():
        client = app.test_client()
        try:
            barrier.wait(timeout=30)
            response = client.post("/api/v1/complaints", json=body, headers={"Idempotency-Key": key})
            with lock:
                answers.append((response.status_code, response.get_json()))
        except Exception as error:  # noqa: BLE001 - reported by the test, not lost in the thread
            with lock:
                failures.append(repr(error))

    threads = [threading.Thread(target=retry) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert not any(thread.is_alive() for thread in threads), "a retrying thread hung"
    assert failures == []
    assert [status for status, _ in answers] == [201] * threads_count, answers
    receipts = {(a["tracking_no"], a["query_code"]) for _, a in answers}
    assert len(receipts) == 1, receipts
    assert rows("complaints") == 1 and rows("complaint_events") == 1
    tracking_no, query_code = receipts.pop()
    assert track(app.test_client(), tracking_no, query_code).status_code == 200
