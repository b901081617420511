from __future__ import annotations

from hypothesis import given, strategies as st

from fleetctl.controller.manifest.subjects import matches, overlap


def test_overlap_examples():
    assert overlap("a.b", "a.b")
    assert overlap("a.*", "a.b")
    assert overlap("a.>", "a.b.c")
    assert overlap("*.b", "a.*")
    assert not overlap("a.>", "a")
    assert not overlap("a.*", "a.b.c")
    assert not overlap("a.b", "a.c")
    assert overlap(">", "x")


tokens = st.sampled_from(["a", "b", "c"])
patterns = st.lists(st.sampled_from(["a", "b", "*"]), min_size=1, max_size=4).flatmap(
    lambda ts: st.sampled_from([".".join(ts), ".".join(ts + [">"])])
)
concrete = st.lists(tokens, min_size=1, max_size=5).map(".".join)


@given(patterns, patterns, concrete)
def test_a_subject_matched_by_both_means_overlap(p, q, s):
    if matches(p, s) and matches(q, s):
        assert overlap(p, q)
    assert overlap(p, q) == overlap(q, p)


@given(patterns, patterns)
def test_overlap_has_a_witness(p, q):
    # Build the most specific subject matching both and check it; proves overlap is not too eager.
    if not overlap(p, q):
        return
    tp, tq = p.split("."), q.split(".")
    witness = []
    for i in range(max(len(tp), len(tq))):
        x = tp[i] if i < len(tp) else ">"
        y = tq[i] if i < len(tq) else ">"
        if x == ">" and y == ">":
            witness.append("a")
            break
        if x == ">":
            witness.extend("a" if t in ("*", ">") else t for t in tq[i:])
            break
        if y == ">":
            witness.extend("a" if t in ("*", ">") else t for t in tp[i:])
            break
        witness.append(y if x == "*" else x)
    s = ".".join("a" if t == "*" else t for t in witness)
    assert matches(p, s) and matches(q, s), (p, q, s)


# -- many subjects at once: the trie agrees with checking every pair -------------------------
from fleetctl.controller.manifest.subjects import Entry, first_conflicts  # noqa: E402

entry_specs = st.lists(
    st.tuples(st.integers(0, 4), st.sampled_from([None, None, "q1", "q2"]), patterns), max_size=30)


def brute_force(entries: list[Entry]) -> list[tuple[int, int]]:
    out = []
    for e in entries:
        for f in entries[:e.index]:
            if f.service != e.service and overlap(e.subject, f.subject) and (e.queue is None or e.queue != f.queue):
                out.append((e.index, f.index))
                break
    return out


@given(entry_specs)
def test_first_conflicts_match_checking_every_pair(specs):
    entries = [Entry(n, svc, queue, subject) for n, (svc, queue, subject) in enumerate(specs)]
    assert [(e.index, f.index) for e, f in first_conflicts(entries)] == brute_force(entries)


def test_first_conflicts_examples():
    entries = [Entry(0, "auth", None, "auth.issue"), Entry(1, "quest", None, "quest.>"),
               Entry(2, "events", "events", "quest.*.publish"), Entry(3, "audit", None, ">"),
               Entry(4, "h1", "health", "fleet.health"), Entry(5, "h2", "health", "fleet.health")]
    found = {e.index: f.index for e, f in first_conflicts(entries)}
    assert found == {2: 1, 3: 0, 4: 3, 5: 3}


def test_first_conflicts_do_not_compare_every_pair():
    import time

    n = 5_000  # one queue group on one subject (no conflict) and one catch-all per service
    entries = [Entry(i, i, "health", "fleet.health") for i in range(n)]
    entries += [Entry(n + i, i, None, f"svc{i}.>") for i in range(n)]
    t0 = time.perf_counter()
    assert first_conflicts(entries) == []
    assert time.perf_counter() - t0 < 20  # every pair: 5e7 comparisons
