"""audits: the realtime query for one entity, and the change it names when a probe regressed.

Covers: the request body (14 days back, service PeoplePermissions, EntityType and EntityId filters,
newest first); records of any shape parsed without failing (missing fields skipped, not raised);
the culprit: the newest change since the probe last passed, a removal before a later addition,
nothing before it; the sentence: entity, action, when, who (a user, of another org; a client; an
address), each property with what it lost and gained and its old and new values, role ids named.
"""

from __future__ import annotations

from typing import Any

import pytest

from grantwarden.policy import audits

NOW = 1_800_000_000.0  # 2027-01-15T08:00:00Z


def record(**fields: Any) -> dict[str, Any]:
    return {
        "id": "a-1",
        "action": "Update",
        "entityType": "OAuthClient",
        "entity": {"id": "c-1", "name": "the integration"},
        "eventDate": "2027-01-15T08:01:01.000Z",
        "user": {"id": "u-9", "name": "Avery Agent"},
        "client": {"id": ""},
        "remoteIp": ["198.51.100.7"],
        "userHomeOrgId": "org-1",
        "propertyChanges": [
            {"property": "roleDivisions", "oldValues": ["r-mv:d-1", "r-wd:d-1"], "newValues": ["r-wd:d-1"]}
        ],
        **fields,
    }


def test_the_query_asks_for_one_entity_over_the_last_14_days_newest_first() -> None:
    body = audits.query(entity_type="OAuthClient", entity_id="c-1", now=NOW)
    assert body == {
        "interval": "2027-01-01T08:00:00Z/2027-01-15T08:00:01Z",
        "serviceName": "PeoplePermissions",
        "filters": [{"property": "EntityType", "value": "OAuthClient"}, {"property": "EntityId", "value": "c-1"}],
        "sort": [{"name": "Timestamp", "sortOrder": "descending"}],
        "pageNumber": 1,
        "pageSize": 25,
    }


def test_records_of_any_shape_are_read_without_failing() -> None:
    found = audits.parse(
        [
            record(),
            "not a record",
            {"action": "Update"},  # no entity type
            record(user=None, client={"id": "c-admin"}, remoteIp="1.2.3.4", eventDate="yesterday", propertyChanges=7),
        ]
    )
    assert len(found) == 2
    first, odd = found
    assert (first.user_name, first.remote_ip, first.at) == ("Avery Agent", "198.51.100.7", NOW + 61)
    assert (odd.user_id, odd.client_id, odd.remote_ip, odd.at, odd.properties) == (None, "c-admin", None, None, ())


@pytest.mark.parametrize(
    ("records", "since", "chosen"),
    [
        pytest.param([record()], NOW, "a-1", id="one-after"),
        pytest.param([record()], NOW + 3600, None, id="before-the-probe-last-passed"),
        pytest.param(
            [
                record(
                    id="a-add",
                    eventDate="2027-01-15T08:02:00Z",
                    propertyChanges=[
                        {"property": "roleDivisions", "oldValues": ["r-wd:d-1"], "newValues": ["r-wd:d-1", "r-mv:d-1"]}
                    ],
                ),
                record(id="a-rm"),
            ],
            NOW,
            "a-rm",
            id="a-removal-before-a-later-addition",
        ),
        pytest.param(
            [
                record(id="a-new", eventDate="2027-01-15T08:03:00Z", propertyChanges=[]),
                record(id="a-old", propertyChanges=[]),
            ],
            NOW,
            "a-new",
            id="else-the-newest",
        ),
        pytest.param([], None, None, id="nothing"),
    ],
)
def test_culprit(records: list[dict[str, Any]], since: float | None, chosen: str | None) -> None:
    change = audits.culprit(audits.parse(records), since=since)
    by_id = {r["eventDate"]: r["id"] for r in records}
    assert (by_id[change.when] if change else None) == chosen


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        pytest.param(
            {},
            "the audit trail shows OAuthClient c-1 (the integration) updated at 2027-01-15T08:01:01.000Z by user "
            "Avery Agent (u-9) from 198.51.100.7: roleDivisions removed 'Messaging Viewer' in division d-1 "
            "(old: 'Messaging Viewer' in division d-1, 'Web Deployments Viewer' in division d-1; "
            "new: 'Web Deployments Viewer' in division d-1)",
            id="a-person-in-the-ui",
        ),
        pytest.param(
            {"userHomeOrgId": "org-partner", "client": {"id": "c-9"}},
            "by user Avery Agent (u-9) of org org-partner through OAuth client c-9 from 198.51.100.7",
            id="a-trusted-user-through-a-client",
        ),
        pytest.param(
            {"user": {}, "client": {"id": "c-admin"}, "remoteIp": []},
            "by OAuth client c-admin:",
            id="a-client",
        ),
        pytest.param({"user": {}, "remoteIp": []}, "by an unnamed caller:", id="nobody-named"),
        pytest.param(
            {"action": "Delete", "propertyChanges": []}, "deleted at 2027-01-15T08:01:01.000Z", id="no-properties"
        ),
        pytest.param(
            {"propertyChanges": [{"property": "state", "oldValues": ["active"], "newValues": ["disabled"]}]},
            "state removed active and added disabled (old: active; new: disabled)",
            id="a-state-change",
        ),
    ],
)
def test_describe(fields: dict[str, Any], says: str) -> None:
    (change,) = audits.parse([record(**fields)])
    names = {"r-mv": "Messaging Viewer", "r-wd": "Web Deployments Viewer"}
    assert says in audits.describe(change, names=names, org_id="org-1")
