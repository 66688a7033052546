"""Fixed-window budgets, pure: what the 429s of the token budget and of minting are made of.

Covers: requests within the budget pass; the next one learns the whole seconds left (at least
1); a new window opens after the period; keys are independent; forgetting (restart) resets.
"""

from __future__ import annotations

from grantwarden.simulator import ratelimits


def test_requests_within_the_budget_pass_and_the_next_waits_for_the_window_to_end() -> None:
    windows = ratelimits.Windows(60.0)
    assert [windows.hit("t", 3, 100.0 + i) for i in range(3)] == [None, None, None]
    assert windows.hit("t", 3, 110.0) == 50
    assert windows.hit("t", 3, 159.2) == 1  # Retry-After is a whole number of seconds, at least 1
    assert windows.hit("t", 3, 160.0) is None  # a new window


def test_keys_have_separate_windows() -> None:
    windows = ratelimits.Windows(1.0)
    assert windows.hit("a", 1, 0.0) is None
    assert windows.hit("b", 1, 0.0) is None
    assert windows.hit("a", 1, 0.5) == 1


def test_forgetting_opens_every_window_again() -> None:
    windows = ratelimits.Windows(60.0)
    windows.hit("t", 1, 0.0)
    windows.forget()
    assert windows.hit("t", 1, 1.0) is None
