"""findings: the sentence helpers behind every Finding (diagnosis tests cover the sentences).

Covers: whitespace collapsed into one line, role and permission lists read naturally, ANY
requirements read as "any one of", the authorize command names the config file and tenant; a
secret that cannot be resolved at mint time is a config finding, not an answer of the endpoint;
``invalid_client`` is left to ``fixes`` (its fix depends on the cause); ``sharing`` finds the
other tenants configured with the same client_id.
"""

from __future__ import annotations

import pytest

from grantwarden.policy import findings
from grantwarden.policy.findings import Subject, Text
from grantwarden.policy.forbidden import Verdict
from grantwarden.policy.labels import GrantType, Outcome, RegrantMode
from grantwarden.policy.permissions import Requirement
from grantwarden.policy.tokens import TokenProblem

SUBJECT = Subject("acme", "org-1", "client-1", GrantType.CLIENT_CREDENTIALS, RegrantMode.REMEDIATE, "/etc/gw.yaml")


def test_make_collapses_whitespace_into_one_line() -> None:
    finding = findings.make(SUBJECT, "p", Outcome.FORBIDDEN, "a\n  b\tc.", Text("x\n\ny.", command="cmd"), ["m"])
    assert (finding.summary, finding.fix, finding.command, finding.missing) == ("a b c.", "x y.", "cmd", ("m",))
    assert (finding.org_id, finding.client_id, finding.fixable) == ("org-1", "client-1", False)


def test_subject_names_who_and_the_authorize_command() -> None:
    assert SUBJECT.who == "OAuth client client-1 in org org-1"
    assert SUBJECT.authorize == "grantwarden authorize --config /etc/gw.yaml --tenant acme"


@pytest.mark.parametrize(
    ("role_names", "expected"),
    [
        pytest.param(("A",), "role 'A'", id="one"),
        pytest.param(("A", "B"), "roles 'A', 'B'", id="two"),
        pytest.param((), "covering role", id="none"),
    ],
)
def test_roles(role_names: tuple[str, ...], expected: str) -> None:
    assert findings.roles(role_names) == expected


@pytest.mark.parametrize(
    ("verdict", "expected"),
    [
        pytest.param(
            Verdict(Outcome.MISSING_PERMISSION, permissions=("a:b:c",), requirement=Requirement.ALL), "a:b:c", id="one"
        ),
        pytest.param(
            Verdict(Outcome.MISSING_PERMISSION, permissions=("a:b:c", "d:e:f"), requirement=Requirement.ALL),
            "a:b:c, d:e:f",
            id="all",
        ),
        pytest.param(
            Verdict(Outcome.MISSING_PERMISSION, permissions=("a:b:c", "d:e:f"), requirement=Requirement.ANY),
            "any one of a:b:c, d:e:f",
            id="any",
        ),
        pytest.param(
            Verdict(Outcome.MISSING_PERMISSION, permissions=("a:b:c",), requirement=Requirement.ANY),
            "a:b:c",
            id="any-of-one",
        ),
        pytest.param(
            Verdict(Outcome.MISSING_DIVISION_PERMISSION), "a permission the platform did not name", id="unnamed"
        ),
    ],
)
def test_requirement_text(verdict: Verdict, expected: str) -> None:
    assert findings.requirement_text(verdict) == expected


def test_an_unresolvable_secret_says_so_and_where_to_set_it() -> None:
    finding = findings.token_finding(SUBJECT, TokenProblem.SECRET_UNAVAILABLE)
    assert (finding.outcome, finding.fixable, finding.command) == (Outcome.UNAUTHORIZED, False, None)
    assert finding.summary == (
        "Tenant acme: the client secret of OAuth client client-1 in org org-1 cannot be resolved, "
        "so no token was requested."
    )
    assert "credentials.client_secret of tenant acme names in /etc/gw.yaml" in finding.fix
    assert "unexpected" not in finding.summary + finding.fix


def test_invalid_client_is_not_a_template_finding() -> None:
    with pytest.raises(ValueError, match=r"rejections\.invalid_client_finding"):
        findings.token_finding(SUBJECT, TokenProblem.INVALID_CLIENT)


@pytest.mark.parametrize(
    ("client_ids", "expected"),
    [
        pytest.param({"a": "c-1", "b": "c-2"}, {"a": (), "b": ()}, id="own-clients"),
        pytest.param(
            {"acme": "c-1", "acme-eu": "c-1", "acme-us": "c-1", "beta": "c-2"},
            {
                "acme": ("acme-eu", "acme-us"),
                "acme-eu": ("acme", "acme-us"),
                "acme-us": ("acme", "acme-eu"),
                "beta": (),
            },
            id="three-share-one",
        ),
        pytest.param({"a": "C-1 ", "b": "c-1"}, {"a": ("b",), "b": ("a",)}, id="case-and-blanks-ignored"),
        pytest.param({}, {}, id="no-tenants"),
    ],
)
def test_sharing_names_the_other_tenants_of_each_client(
    client_ids: dict[str, str], expected: dict[str, tuple[str, ...]]
) -> None:
    assert findings.sharing(client_ids) == expected
