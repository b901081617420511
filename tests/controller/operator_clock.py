"""The operator's passes and manifest polls, timed on its own clock (shared by the operator tests)."""
from __future__ import annotations

import time


class PollTimes:
    """The operator's manifest polls and passes, timed where they run (wrapped on this instance), so
    pick-up is measured on the operator's own clock, not on the test's, which under load also
    counts the time the test's threads waited to be scheduled."""

    def __init__(self, op) -> None:
        self.polls: list[tuple[float, float, str]] = []   # start, end, outcome
        self.passes: list[tuple[float, float]] = []
        self.healed_after: list[int] = []                  # stats.drift_healed when each pass ended
        refresh, one_pass = op._spec.refresh, op._pass

        async def timed_refresh():
            start = time.monotonic()
            try:
                return await refresh()
            finally:
                self.polls.append((start, time.monotonic(), op._spec.outcome))

        async def timed_pass(aws):
            start = time.monotonic()
            try:
                return await one_pass(aws)
            finally:
                self.passes.append((start, time.monotonic()))
                self.healed_after.append(op.stats.drift_healed)

        op._spec.refresh, op._pass = timed_refresh, timed_pass

    def assert_picked_up_within_one_interval(self, edited_at: float, interval: float, slack: float = 0.5) -> None:
        """The edit (written by `edited_at`) was read by the first poll that began after it, and the
        operator began that poll at most one interval (+ `slack` for a timer's wake-up) after its
        previous poll and the passes in between ended: polled once per interval."""
        detail = f"edited at {edited_at:.2f}; polls {self.polls}; passes {self.passes}"
        picked = next((i for i, p in enumerate(self.polls) if p[2] == "updated" and p[1] > edited_at), None)
        assert picked is not None and picked > 0, detail
        first_after = next(i for i, p in enumerate(self.polls) if p[0] >= edited_at or i == picked)
        assert picked == first_after, f"a poll after the edit missed it; {detail}"
        previous_end, start = self.polls[picked - 1][1], self.polls[picked][0]
        busy = sum(max(0.0, min(end, start) - max(begin, previous_end)) for begin, end in self.passes)
        idle = start - previous_end - busy
        assert idle <= interval + slack, f"waited {idle:.2f}s between polls besides passes; {detail}"


    def assert_drift_seen_by_the_next_pass(self, drifted_at: float, healed_before: int, interval: float,
                                           slack: float = 0.5) -> None:
        """The first pass that began after the drift (written by `drifted_at`) set out to restore it,
        and it began at most one interval (+ `slack`) after the pass before it ended."""
        detail = f"drifted at {drifted_at:.2f}; passes {self.passes}; healed after each {self.healed_after}"
        first = next((i for i, p in enumerate(self.passes) if p[0] >= drifted_at), None)
        assert first is not None and first > 0, detail
        assert self.healed_after[first] > healed_before, f"the next pass did not restore the drift; {detail}"
        idle = self.passes[first][0] - self.passes[first - 1][1]
        assert idle <= interval + slack, f"waited {idle:.2f}s between passes; {detail}"
