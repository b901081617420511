"""NATS subject matching: `*` matches exactly one token, `>` one or more trailing tokens."""
from __future__ import annotations


def overlap(a: str, b: str) -> bool:
    """True when some concrete subject matches both patterns."""
    ta, tb = a.split("."), b.split(".")
    for i in range(max(len(ta), len(tb))):
        x = ta[i] if i < len(ta) else None
        y = tb[i] if i < len(tb) else None
        if x is None or y is None:
            return False
        if x == ">" or y == ">":
            return True
        if x != y and x != "*" and y != "*":
            return False
    return True


def matches(pattern: str, subject: str) -> bool:
    """True when the concrete `subject` is matched by `pattern`."""
    tp, ts = pattern.split("."), subject.split(".")
    for i, t in enumerate(tp):
        if t == ">":
            return len(ts) > i
        if i >= len(ts) or (t != "*" and t != ts[i]):
            return False
    return len(tp) == len(ts)


# -- overlap between many subjects ---------------------------------------------------------------
#
# `first_conflicts` finds, for every subject entry, the earliest earlier entry of another
# service that overlaps it and is not in the same queue group, in one pass over a trie of
# subject tokens. Entries are inserted in order after being queried, so the trie only ever
# holds earlier entries. Each trie node keeps `Firsts`: at most five of its earliest
# entries, chosen so that the earliest conflict of any (service, queue) is among them. A `>`
# in a query matches a whole subtree, answered from the subtree's own `Firsts`; a `*` in a
# query visits the sibling tokens at that level under the prefix matched so far.


class Entry:
    """One subject of one service, in manifest order (`index`)."""

    __slots__ = ("index", "service", "queue", "subject", "payload", "key")

    def __init__(self, index: int, service: object, queue: str | None, subject: str, payload: object = None) -> None:
        self.index, self.service, self.queue, self.subject, self.payload = index, service, queue, subject, payload
        # entries without a queue group never share one: each is its own key
        self.key: object = queue if queue is not None else ("", index)

    def conflicts(self, service: object, queue: str | None) -> bool:
        return self.service != service and (queue is None or self.queue != queue)


_UNSET = object()

# The earliest entries of a set, pruned to the ones that can be someone's earliest conflict:
# a list, or a tuple once nothing can be added (`_keep`).
Firsts = list[Entry] | tuple[Entry, ...]


def _keep(kept: list[Entry], e: Entry) -> bool:
    """Add `e` to `kept` if it can be someone's earliest conflict; True once nothing more can.

    An entry conflicts with a query (s, q) unless it belongs to service s or to queue group q.
    A later entry adds nothing when a kept one has its service and queue group, when two kept
    ones of its queue group belong to two services, or two of its service to two queue groups;
    and nothing at all once the kept entries cannot all be blocked by one service plus one
    queue group. So at most five are kept.
    """
    key_service: object = _UNSET  # the service of a kept entry of e's queue group
    service_key: object = _UNSET  # the queue group of a kept entry of e's service
    for k in kept:
        if k.key == e.key:
            if k.service == e.service:
                return False  # an earlier entry of the same service and queue group stands for it
            if key_service is _UNSET:
                key_service = k.service
            elif k.service != key_service:
                return False  # every query this entry conflicts with, two kept earlier ones cover
        if k.service == e.service:
            if service_key is _UNSET:
                service_key = k.key
            elif k.key != service_key:
                return False  # the same, the other way round
    kept.append(e)
    if len(kept) < 3:
        return False  # two entries are always blocked by the first one's service and the second one's group
    nobody = object()
    services = {k.service for k in kept}
    services.add(nobody)
    keys = {k.key for k in kept}
    keys.add(nobody)
    return not any(all(k.service == sv or k.key == q for k in kept) for sv in services for q in keys)


def _earliest(firsts: Firsts | None, service: object, queue: str | None, best: Entry | None) -> Entry | None:
    """The earlier of `best` and the earliest entry of `firsts` that conflicts with (service, queue)."""
    if firsts is not None:
        for e in firsts:
            if e.service != service and (queue is None or e.queue != queue):
                return e if best is None or e.index < best.index else best
    return best


class _Node:
    __slots__ = ("children", "here", "below")

    def __init__(self) -> None:
        self.children: dict[str, _Node] | None = None
        self.here: Firsts | None = None    # entries whose subject ends at this node
        self.below: Firsts | None = None   # entries whose subject goes on below this node


class SubjectIndex:
    """A trie of subject patterns answering "the earliest entry that conflicts with this one"."""

    def __init__(self) -> None:
        self.root = _Node()

    def add(self, e: Entry, tokens: list[str] | None = None) -> None:
        node = self.root
        for token in e.subject.split(".") if tokens is None else tokens:
            below = node.below
            if below is None:
                node.below = [e]
            elif below.__class__ is list and _keep(below, e):  # type: ignore[arg-type]
                node.below = tuple(below)
            children = node.children
            if children is None:
                children = node.children = {}
            child = children.get(token)
            if child is None:
                child = children[token] = _Node()
            node = child
        here = node.here
        if here is None:
            node.here = [e]
        elif here.__class__ is list and _keep(here, e):  # type: ignore[arg-type]
            node.here = tuple(here)

    def first_conflict(self, subject: str, service: object, queue: str | None,
                       tokens: list[str] | None = None) -> Entry | None:
        best: Entry | None = None
        if tokens is None:
            tokens = subject.split(".")
        end = len(tokens)
        stack: list[tuple[_Node, int]] = [(self.root, 0)]
        while stack:
            node, i = stack.pop()
            if i == end:
                best = _earliest(node.here, service, queue, best)
                continue
            token = tokens[i]
            if token == ">":           # one or more tokens: everything below this node
                best = _earliest(node.below, service, queue, best)
                continue
            children = node.children
            if not children:
                continue
            tail = children.get(">")
            if tail is not None:       # a `>` pattern here takes the rest of the query
                best = _earliest(tail.here, service, queue, best)
            if token == "*":
                stack.extend((child, i + 1) for t, child in children.items() if t != ">")
            else:
                child = children.get(token)
                if child is not None:
                    stack.append((child, i + 1))
                child = children.get("*")
                if child is not None:
                    stack.append((child, i + 1))
        return best


def first_conflicts(entries: list[Entry]) -> list[tuple[Entry, Entry]]:
    """(entry, earliest earlier conflicting entry) for every entry that has one, in order.

    Unless a subject starts with a wildcard, subjects with different first tokens never
    overlap: each first token is its own trie, and one whose entries cannot conflict (one
    service, or all in one queue group) needs none: a fleet's subjects are mostly those."""
    groups: dict[str, list[Entry]] = {}
    for e in entries:
        first = e.subject.partition(".")[0]
        group = groups.get(first)
        if group is None:
            groups[first] = [e]
        else:
            group.append(e)
    if "*" in groups or ">" in groups:
        return _first_conflicts(entries)
    out: list[tuple[Entry, Entry]] = []
    for group in groups.values():
        if len(group) > 1 and _may_conflict(group):
            out += _first_conflicts(group)
    out.sort(key=lambda found: found[0].index)
    return out


def _may_conflict(group: list[Entry]) -> bool:
    first = group[0]
    if first.queue is not None and all(e.queue == first.queue for e in group):
        return False  # one queue group
    return any(e.service != first.service for e in group)


def _first_conflicts(entries: list[Entry]) -> list[tuple[Entry, Entry]]:
    index = SubjectIndex()
    out = []
    for e in entries:
        tokens = e.subject.split(".")
        found = index.first_conflict(e.subject, e.service, e.queue, tokens)
        if found is not None:
            out.append((e, found))
        index.add(e, tokens)
    return out
