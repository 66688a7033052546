"""Shared test fixtures: leak detection for async tests, and small builders of configuration.

Every async test gets ``_no_task_leaks`` first, so it is torn down last: a test that leaves a
task running (a worker that was not stopped, a forgotten create_task) fails, instead of
silently slowing or disturbing the tests after it.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        function = getattr(item, "function", None)
        if function is not None and inspect.iscoroutinefunction(function):
            item.fixturenames.insert(0, "_no_task_leaks")  # type: ignore[attr-defined]


@pytest.fixture
async def _no_task_leaks() -> AsyncIterator[None]:
    yield
    current = asyncio.current_task()
    for _ in range(20):  # let cancelled tasks finish unwinding
        leftover = [task for task in asyncio.all_tasks() if task is not current and not task.done()]
        if not leftover:
            return
        await asyncio.sleep(0)
    names = ", ".join(sorted(task.get_name() + ":" + repr(task.get_coro()) for task in leftover))
    pytest.fail(f"the test left tasks running: {names}")
