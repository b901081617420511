"""Term-overlap scoring of articles against a query; pure."""

from __future__ import annotations

import re

from sdk.proto import knowledge_base_pb2 as pb

_WORD = re.compile(r"[a-z0-9]+")


def terms(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def score(article: pb.Article, query_terms: set[str]) -> float:
    """Title matches count 3, tag matches 2, body matches 1 per distinct query term."""
    title, tags, body = set(terms(article.title)), {tag.lower() for tag in article.tags}, set(terms(article.text))
    return float(sum(3 * (term in title) + 2 * (term in tags) + (term in body) for term in query_terms))


def rank(articles: list[pb.Article], query: str, limit: int) -> list[pb.Hit]:
    query_terms = set(terms(query))
    scored = [(score(article, query_terms), article) for article in articles]
    hits = sorted((item for item in scored if item[0] > 0), key=lambda item: (-item[0], item[1].id))
    return [pb.Hit(article=article, score=value) for value, article in hits[:limit]]
