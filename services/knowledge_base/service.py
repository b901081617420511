"""knowledge_base: lore articles in the `knowledge` bucket, ranked by term overlap."""

from __future__ import annotations

from sdk import Service, bad_request, endpoint, not_found, require
from sdk.proto import knowledge_base_pb2 as pb
from sdk.store import Bucket, key_for

from services.knowledge_base.search import rank

DEFAULT_LIMIT = 10


class KnowledgeBase(Service):
    name = "knowledge_base"
    description = "Lore articles and search"

    async def setup(self) -> None:
        self.articles: Bucket = await self.rt.bucket("knowledge")

    @endpoint
    async def put(self, request: pb.PutRequest) -> pb.PutResponse:
        require(id=request.article.id, title=request.article.title)
        return pb.PutResponse(revision=await self.articles.put(key_for(request.article.id), request.article))

    @endpoint
    async def get(self, request: pb.GetRequest) -> pb.GetResponse:
        require(id=request.id)
        found = await self.articles.get(key_for(request.id), pb.Article)
        if found is None:
            raise not_found(f"no article {request.id!r}")
        return pb.GetResponse(article=found[0])

    @endpoint
    async def search(self, request: pb.SearchRequest) -> pb.SearchResponse:
        require(query=request.query.strip())
        if request.limit < 0:
            raise bad_request("field 'limit' must not be negative")
        articles = []
        for key in await self.articles.keys():
            found = await self.articles.get(key, pb.Article)
            if found is not None:
                articles.append(found[0])
        return pb.SearchResponse(hits=rank(articles, request.query, request.limit or DEFAULT_LIMIT))
