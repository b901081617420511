from __future__ import annotations

from hypothesis import given, strategies as st

from controller.manifest.subjects import matches, overlap


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
