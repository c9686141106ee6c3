"""Requests/s through HTTP as the clients call, against the references of bench/static_app.py
served by the same uvicorn with as many workers: availability anonymous (answered from memory
while the data has not changed), with a portal key (as the portal's HTTP client sends it on every
call), and their 304 revalidations; `GET /actions` against the static list and against a
hand-written SQL join endpoint; the memory of a worker after its load."""

import statistics
from datetime import datetime

import httpx

from bench.common import (
    ACTIONS_SQL_URL,
    ACTIONS_URL,
    AVAILABILITY_URL,
    STATIC_URL,
    report,
    requests_per_second,
    served,
    worker_rss_mib,
)


def measure_http(url: str, portal_key: str, workers: int, during_one_worker=None) -> None:
    """The static app and the API are served side by side (the one idle while the other is
    measured); the references are measured between the API's figures, the static list three
    times (before, between and after) and the SQL endpoint twice (around `/actions`), and their
    median taken, so that a change in what else the machine runs falls on both sides."""
    label = "one worker" if workers == 1 else f"{workers} workers"
    reference = f"static 50-item list, {label}"
    keyed = f"Authorization: Bearer {portal_key}"
    with (
        served("bench.static_app:app", url, workers) as (static_base, static_server),
        served("app.main:app", url, workers) as (base, server),
    ):
        etag = httpx.get(base + AVAILABILITY_URL, timeout=600).raise_for_status().headers["ETag"]
        assert httpx.get(base + AVAILABILITY_URL, headers={"If-None-Match": etag}, timeout=600).status_code == 304
        headers = {"Authorization": f"Bearer {portal_key}"}
        keyed_etag = httpx.get(base + AVAILABILITY_URL, headers=headers, timeout=600).raise_for_status().headers["ETag"]
        revalidated = httpx.get(base + AVAILABILITY_URL, headers=headers | {"If-None-Match": keyed_etag}, timeout=600)
        assert revalidated.status_code == 304, revalidated.status_code
        check_same_actions(
            httpx.get(base + ACTIONS_URL, timeout=60).raise_for_status().json(),
            httpx.get(static_base + ACTIONS_SQL_URL, timeout=60).raise_for_status().json(),
        )
        statics = [requests_per_second(static_base + STATIC_URL)]
        anonymous = requests_per_second(base + AVAILABILITY_URL)
        anonymous_304 = requests_per_second(base + AVAILABILITY_URL, f"If-None-Match: {etag}")
        with_key = requests_per_second(base + AVAILABILITY_URL, keyed)
        with_key_304 = requests_per_second(base + AVAILABILITY_URL, keyed, f"If-None-Match: {keyed_etag}")
        statics.append(requests_per_second(static_base + STATIC_URL))
        by_hand = [requests_per_second(static_base + ACTIONS_SQL_URL)]
        actions = requests_per_second(base + ACTIONS_URL)
        by_hand.append(requests_per_second(static_base + ACTIONS_SQL_URL))
        statics.append(requests_per_second(static_base + STATIC_URL))
        static, actions_by_hand = statistics.median(statics), statistics.median(by_hand)
        one = workers == 1
        for name, value, goal in (
            (f"GET /availability (all conventions), anonymous, {label}", anonymous, None),
            (f"GET /availability revalidated (304), anonymous, {label}", anonymous_304, None),
            (f"GET /availability (all conventions) with a portal key, {label}", with_key, "≥ 0.8" if one else None),
            (f"GET /availability revalidated (304) with a portal key, {label}", with_key_304, "≥ 0.9" if one else None),
            (f"GET /actions (public list), {label}", actions, None),
        ):
            report(name, value, "requests/s", reference, static, goal=goal)
        report(
            f"GET /actions (public list) against its SQL by hand, {label}",
            actions,
            "requests/s",
            f"one hand-written SQL join endpoint in FastAPI, {label}",
            actions_by_hand,
            goal="≥ 0.8" if one else None,
        )
        if during_one_worker is not None:
            during_one_worker(base, static_base)
        report(
            f"memory per worker after its load, {label}",
            worker_rss_mib(server),
            "MiB RSS",
            "static app's worker",
            worker_rss_mib(static_server),
        )


def check_same_actions(shown: dict, by_hand: dict) -> None:
    """The hand-written endpoint answers what `GET /actions` answers: the same items, field by
    field (timestamps compared as moments)."""
    assert shown["total"] == by_hand["total"] and len(shown["items"]) == len(by_hand["items"]) > 0

    def moment(value: str) -> datetime:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))

    for mine, theirs in zip(shown["items"], by_hand["items"], strict=True):
        for name, value in theirs.items():
            if name in ("created_at", "updated_at"):
                assert moment(mine[name]) == moment(value), (mine["code"], name)
            else:
                assert mine[name] == value, f"action {mine['code']} {name}: {mine[name]!r} != {value!r}"
