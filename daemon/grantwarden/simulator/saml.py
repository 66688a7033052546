"""The SAML2 bearer grant's assertion rule (platform.md §1.2, platform.md §14).

``grant_type=urn:ietf:params:oauth:grant-type:saml2-bearer&orgName=…&assertion=…`` with Basic
auth: a user grant of a ``SAML2-BEARER`` client that uses its scopes. How the platform checks an
assertion (encoding, signature, audience, NameID) is unknown, so the simulator's rule is simple
and documented (an ASSUMPTION): ``assertion`` is the base64 (standard or URL-safe, padding
optional) of an XML document whose ``NameID`` element (any namespace) holds the e-mail of a user
of the org named by ``orgName`` (its ``thirdPartyOrgName``), which must own the client. A
``Conditions/@NotOnOrAfter`` in the past makes it expired. Refusals are ``invalid_grant``.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import xml.etree.ElementTree as ElementTree

from grantwarden.simulator import errors, model

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:saml2-bearer"
CLIENT_TYPE = "SAML2-BEARER"


def _decoded(assertion: str) -> bytes:
    text = assertion.strip().replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise errors.invalid_grant("assertion is not base64") from None


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def subject(assertion: str, *, now: float) -> str:
    """The e-mail the assertion names; ``invalid_grant`` when it names none or has expired."""
    try:
        root = ElementTree.fromstring(_decoded(assertion))
    except ElementTree.ParseError:
        raise errors.invalid_grant("assertion is not an XML document") from None
    email = ""
    for element in root.iter():
        name = _local(element.tag)
        if name == "NameID":
            email = (element.text or "").strip()
        elif name == "Conditions" and element.get("NotOnOrAfter") and _instant(element.get("NotOnOrAfter", "")) <= now:
            raise errors.invalid_grant("assertion has expired")
    if "@" not in email:
        raise errors.invalid_grant("assertion names no user (NameID with an e-mail)")
    return email


def _instant(text: str) -> float:
    try:
        parsed = datetime.datetime.fromisoformat(text.strip())
    except ValueError:
        raise errors.invalid_grant("assertion has an invalid NotOnOrAfter") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.UTC)
    return parsed.timestamp()


def user_for(org: model.Org, org_name: str, assertion: str, *, now: float) -> model.User:
    """The user of ``org`` an assertion for ``orgName`` authenticates."""
    if not org_name:
        raise errors.invalid_request("orgName is required")
    if org_name != org.third_party_org_name:
        raise errors.invalid_grant("orgName does not name the client's organization")
    if not assertion:
        raise errors.invalid_request("assertion is required")
    email = subject(assertion, now=now).lower()
    found = next((u for u in org.users.values() if u.email.lower() == email), None)
    if found is None:
        raise errors.invalid_grant("assertion names no user of this organization")
    return found


def assertion_for(email: str, *, not_on_or_after: str | None = None) -> str:
    """A minimal assertion the simulator accepts (for tests and the demo)."""
    conditions = f'<saml2:Conditions NotOnOrAfter="{not_on_or_after}"/>' if not_on_or_after else ""
    xml = (
        '<saml2:Assertion xmlns:saml2="urn:oasis:names:tc:SAML:2.0:assertion">'
        f"<saml2:Subject><saml2:NameID>{email}</saml2:NameID></saml2:Subject>{conditions}</saml2:Assertion>"
    )
    return base64.b64encode(xml.encode()).decode()
