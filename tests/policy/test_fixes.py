"""fixes: the fix sentence says what grantwarden will really do under each regrant setting.

Covers: remediate says "will add" only without ``regrant.dry_run`` and while re-grants are not
held; a dry run says "would add" and how to apply (roles, scopes, a role already held); reissue
and off modes tell a person what to do, a dry run naming dry_run too; a held scope plan stops
promising; every sentence stays one sentence naming the org and the client; and ``diagnose``
carries ``dry_run`` through to the fix.
"""

from __future__ import annotations

import re

import pytest

from grantwarden.policy import diagnosis, fixes
from grantwarden.policy.findings import Subject, Text
from grantwarden.policy.forbidden import Verdict
from grantwarden.policy.labels import GrantType, Outcome, RegrantMode
from grantwarden.policy.permissions import Requirement
from grantwarden.policy.planning import Plan, Refusal, RefusalReason, RoleDivision, RolePlan, ScopePlan

ORG = "4b70ee8c-24d8-43ad-9464-520f6b20fa1f"
CLIENT = "08a2a69c-1ed5-4719-9094-96a7d55ba07c"
MI = "messaging:integration:view"
MISSING = Verdict(Outcome.MISSING_PERMISSION, status=403, permissions=(MI,), requirement=Requirement.ALL)
SCOPE = Verdict(Outcome.MISSING_SCOPE, status=403, scopes=("webdeployments:readonly",))
ROLE = RolePlan(add=(RoleDivision("r-mv", "home"),), role_names=("Messaging Viewer",), covers=frozenset({MI}),
                division_id="home")  # fmt: skip
HELD_ROLE = Refusal(RefusalReason.ALREADY_GRANTED, "held", roles=("Messaging Viewer",), missing=(MI,))
ADD_SCOPE = ScopePlan(add=("webdeployments:readonly",))
APPLY = "(dry run: set regrant.dry_run to false to apply)"


def subject(mode: RegrantMode, *, dry_run: bool = False, held: bool = False, code: bool = False) -> Subject:
    grant = GrantType.AUTHORIZATION_CODE if code else GrantType.CLIENT_CREDENTIALS
    return Subject("acme-eu", ORG, CLIENT, grant, mode, "gw.yaml", regrant_held=held, dry_run=dry_run)


def fix_for(s: Subject, plan: Plan) -> Text:
    if isinstance(plan, ScopePlan):
        return fixes.scope_text(s, SCOPE, plan)
    return fixes.missing_text(s, MISSING, plan)


REMEDIATE, REISSUE, OFF = RegrantMode.REMEDIATE, RegrantMode.REISSUE, RegrantMode.OFF
ROWS = [
    pytest.param(subject(REMEDIATE), ROLE, "grantwarden will add the allow-listed role", True, id="remediate-role"),
    pytest.param(
        subject(REMEDIATE, dry_run=True),
        ROLE,
        f"grantwarden would add the allow-listed role 'Messaging Viewer' to OAuth client {CLIENT} in org {ORG} "
        f"(division home) {APPLY}.",
        True,
        id="dry-run-role",
    ),
    pytest.param(
        subject(REISSUE, dry_run=True),
        ROLE,
        "or set regrant.mode to remediate and regrant.dry_run to false so grantwarden does it.",
        False,
        id="dry-run-reissue-role",
    ),
    pytest.param(subject(REISSUE), ROLE, "or set regrant.mode to remediate so grantwarden", False, id="reissue-role"),
    pytest.param(subject(REMEDIATE, dry_run=True, held=True), ROLE, "grantwarden stopped retrying", False, id="held"),
    pytest.param(subject(REMEDIATE), HELD_ROLE, "grantwarden will mint a new token", True, id="remediate-held-role"),
    pytest.param(
        subject(REMEDIATE, dry_run=True),
        HELD_ROLE,
        f"the next scheduled token refresh picks it up; grantwarden would mint one sooner {APPLY}.",
        True,
        id="dry-run-held-role",
    ),
    pytest.param(subject(OFF, dry_run=True), HELD_ROLE, "set regrant.mode to reissue", False, id="off-held-role"),
    pytest.param(
        subject(REMEDIATE, code=True), ADD_SCOPE, "grantwarden will add the allow-listed scope", False, id="scope"
    ),
    pytest.param(
        subject(REMEDIATE, dry_run=True, code=True),
        ADD_SCOPE,
        f"grantwarden would add the allow-listed scope webdeployments:readonly to OAuth client {CLIENT} in org {ORG} "
        f"{APPLY}; then approve it",
        False,
        id="dry-run-scope",
    ),
    pytest.param(
        subject(REMEDIATE, held=True, code=True),
        ADD_SCOPE,
        "Add scope webdeployments:readonly to",
        False,
        id="held-scope",
    ),
]


@pytest.mark.parametrize(("s", "plan", "expected", "fixable"), ROWS)
def test_the_fix_says_what_grantwarden_really_does(s: Subject, plan: Plan, expected: str, fixable: bool) -> None:
    text = fix_for(s, plan)
    assert expected in text.fix, text.fix
    assert text.fixable is fixable
    if s.dry_run or s.regrant_held or s.mode is not RegrantMode.REMEDIATE:
        assert "grantwarden will" not in text.fix, "only an applied re-grant is promised"


@pytest.mark.parametrize(("s", "plan", "expected", "fixable"), ROWS)
def test_every_fix_is_one_sentence_naming_org_and_client(s: Subject, plan: Plan, expected: str, fixable: bool) -> None:
    fix = fix_for(s, plan).fix
    assert ORG in fix
    assert CLIENT in fix
    assert fix.endswith(".")
    assert not re.search(r"\.\s+[A-Z]", fix), f"more than one sentence: {fix}"


def test_diagnose_passes_dry_run_to_the_fix() -> None:
    result = diagnosis.diagnose(
        tenant="acme-eu",
        org_id=ORG,
        client_id=CLIENT,
        grant_type=GrantType.CLIENT_CREDENTIALS,
        mode=RegrantMode.REMEDIATE,
        identity_org_id=ORG,
        token_problem=None,
        verdicts={"messaging-integrations": MISSING},
        plans={"messaging-integrations": ROLE},
        dry_run=True,
    )
    (finding,) = result.findings
    assert finding.fix.startswith("grantwarden would add the allow-listed role 'Messaging Viewer'")
    assert finding.fix.endswith(f"{APPLY}.")
