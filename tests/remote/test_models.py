"""Payload models: the platform's field names, extra fields ignored, bad token responses refused.

Covers: ``TokenResponse`` (``expires_in`` required, a positive integer), ``TokenInfo`` with the
platform's odd ``OAuthClient`` key, ``OAuthClient`` roleDivisions, permission names built from
a collection with the item's or the collection's domain, and unknown fields ignored.
"""

from __future__ import annotations

import pydantic
import pytest

from grantwarden.remote import models


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"access_token": "a", "token_type": "bearer"}, id="missing-expires-in"),
        pytest.param({"access_token": "a", "expires_in": "86400"}, id="expires-in-as-string"),
        pytest.param({"access_token": "a", "expires_in": -5}, id="negative"),
        pytest.param({"access_token": "a", "expires_in": 1.5}, id="fractional"),
        pytest.param({"access_token": "", "expires_in": 60}, id="empty-token"),
    ],
)
def test_unusable_token_responses_are_refused(body: dict[str, object]) -> None:
    with pytest.raises(pydantic.ValidationError):
        models.TokenResponse.model_validate(body)


def test_a_client_credentials_token_response_needs_no_refresh_token() -> None:
    token = models.TokenResponse.model_validate({"access_token": "a", "token_type": "bearer", "expires_in": 60, "x": 1})
    assert (token.expires_in, token.refresh_token) == (60, None)


def test_token_info_reads_the_platform_field_names() -> None:
    info = models.TokenInfo.model_validate(
        {
            "organization": {"id": "org-a", "name": "A"},
            "homeOrganization": {"id": "org-b", "name": "B"},
            "authorizedScope": ["messaging:readonly"],
            "OAuthClient": {
                "id": "c",
                "name": "n",
                "organization": {"id": "org-b"},
                "roleDivisions": [{"roleId": "r", "divisionId": "*"}],
            },
        }
    )
    assert info.home_organization is not None
    assert (info.organization.id, info.home_organization.id) == ("org-a", "org-b")
    assert info.authorized_scope == ("messaging:readonly",)
    assert info.oauth_client is not None
    assert info.oauth_client.role_divisions == (models.RoleDivision(roleId="r", divisionId="*"),)


def test_an_oauth_client_needs_name_and_grant_type() -> None:
    with pytest.raises(pydantic.ValidationError):
        models.OAuthClient.model_validate({"id": "c", "name": "n"})


def test_permission_names_fall_back_to_the_collection_domain_and_map_key() -> None:
    collection = models.PermissionCollection.model_validate(
        {
            "domain": "routing",
            "permissionMap": {"queue": [{"action": "view"}, {"domain": "d", "entityType": "e", "action": "a"}]},
        }
    )
    names = [item.name(collection.domain, kind) for kind, items in collection.permission_map.items() for item in items]
    assert names == ["routing:queue:view", "d:e:a"]
