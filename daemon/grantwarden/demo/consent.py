"""The person in the demo: signs the user-grant tenants in, and re-consents once when asked to.

A user-grant tenant starts only after a person's consent (``grantwarden authorize``), and a scope
that grantwarden adds to the OAuth client takes effect only after a person consents again
(design.md §1). The demo plays that person with the real ``authorizing.Flow`` in paste mode: its
"browser" opens the authorize URL on the simulator, which consents at once as the org's test user
and redirects with a code, and the address it was sent to is "pasted" back. PKCE, the state
check, the code exchange and the state file are the command's own. A tenant that acts through an
org trust signs in as the partner org's consultant with ``target=<org>`` (the command asks so),
and its line says in which org the token acts and through which trust. Nothing it prints holds a
token, code or secret: the lines name scopes, the user, the orgs and the state file only.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Mapping

import aiohttp

from grantwarden.app import authorizing
from grantwarden.base import clock as clocks
from grantwarden.base import redaction
from grantwarden.config import loading as configfile
from grantwarden.demo import story as demo_story
from grantwarden.policy import labels
from grantwarden.remote import client as remote_client
from grantwarden.worker import statefile

SETTLED_CYCLES = 2  # cycles after a re-consent before saying how it went (one may have been under way)


def needs_reconsent(seen: demo_story.Seen) -> bool:
    """A scope was added to the client and the tenant waits for a person: time to re-consent."""
    added_scope = any(
        r.result is labels.RegrantResult.APPLIED and any(a.startswith("scope ") for a in r.added) for r in seen.regrants
    )
    missing_scope = any(f.outcome == labels.Outcome.MISSING_SCOPE for f in seen.findings)
    return added_scope and missing_scope and seen.state == labels.State.NEEDS_ATTENTION


class Consent:
    def __init__(
        self,
        loaded: configfile.Loaded,
        *,
        environ: Mapping[str, str],
        session: aiohttp.ClientSession,
        clock: clocks.Clock,
        redactor: redaction.Redactor,
    ) -> None:
        self.loaded = loaded
        self._environ = environ  # where the client secrets' ``{env: NAME}`` are read
        self.tenants = [
            t.name for t in loaded.settings.tenants if t.credentials.grant is labels.GrantType.AUTHORIZATION_CODE
        ]
        self._session = session
        self._clock = clock
        self._client = remote_client.Client(session=session, clock=clock, redactor=redactor)
        self._reconsented: dict[str, demo_story.Seen] = {}  # the tenant as it was at the re-consent
        self._reported: set[str] = set()

    def due(self, last: Mapping[str, demo_story.Seen]) -> list[str]:
        """Tenants to re-consent now: once each, never in a loop."""
        return [n for n in self.tenants if n not in self._reconsented and n in last and needs_reconsent(last[n])]

    def afterwards(self, last: Mapping[str, demo_story.Seen]) -> list[demo_story.Line]:
        """Once per re-consent, when the state did not move on its own: where the tenant stands."""
        lines = []
        for name, before in self._reconsented.items():
            now = last.get(name)
            if name in self._reported or now is None or now.cycles < before.cycles + SETTLED_CYCLES:
                continue
            self._reported.add(name)
            if now.state == before.state and now.findings:
                what = f"still {now.state.replace('_', ' ')} after the re-consent: {now.findings[0].summary}"
                lines.append(demo_story.Line(self._clock.now(), name, what))
        return lines

    async def authorize(self, name: str, *, first: bool, seen: demo_story.Seen | None = None) -> list[demo_story.Line]:
        """Run ``grantwarden authorize`` for ``name``; the lines that say how it went."""
        tenant = self.loaded.settings.tenant(name)
        assert tenant is not None  # names come from this configuration
        if not first and seen is not None:
            self._reconsented[name] = seen
        pasted = io.StringIO()

        async def browser(url: str) -> None:
            location = ""
            with contextlib.suppress(aiohttp.ClientError):
                async with self._session.get(url, allow_redirects=False) as response:
                    location = response.headers.get("Location", "")
            pasted.write(location + "\n")
            pasted.seek(0)

        said, problems = io.StringIO(), io.StringIO()
        secret = tenant.credentials.client_secret.reveal(self._environ)
        flow = authorizing.Flow(tenant, secret=secret, client=self._client, clock=self._clock, out=said, err=problems)
        state_dir = self.loaded.settings.state_dir
        code = await flow.run(state_dir, self.loaded.source, paste=True, opener=browser, stdin=pasted)
        now = self._clock.now()
        if code != authorizing.EXIT_STORED:
            why = problems.getvalue().strip().splitlines() or ["no reason given"]
            return [demo_story.Line(now, name, f"authorization failed: {why[0]}")]
        stored = statefile.read(state_dir, name)
        granted = list(stored.scopes) if stored is not None else []
        user = stored.user_name if stored is not None and stored.user_name else "the org's user"
        lacking = [s for s in tenant.credentials.scopes if s not in granted]
        who = "signed in" if first else "a person consents again"
        text = f"{who} as {user} (the simulator consents at once)"
        if (trust := tenant.credentials.trust) is not None:
            acts_in = stored.org_id if stored is not None and stored.org_id else "an unknown org"
            text += (
                f", a user of org {trust.home_org_id} asking with target={tenant.org_id}: the token acts in org "
                f"{acts_in} through the org trust from org {tenant.org_id} to org {trust.home_org_id}"
            )
        text += f"; granted {', '.join(granted) or 'no scopes'}"
        if lacking:
            text += f"; not granted: {', '.join(lacking)} (not on the OAuth client)"
        if not first:
            text += "; asked the daemon to probe again now"
        return [demo_story.Line(now, name, text)]
