"""story_teller: the story of a quest from its record and the lore about it, in a chosen language."""

from __future__ import annotations

from sdk import Service, endpoint, require
from sdk.proto import knowledge_base_pb2 as kb_pb
from sdk.proto import language_system_pb2 as language_pb
from sdk.proto import quest_pb2 as quest_pb
from sdk.proto import story_teller_pb2 as pb


def compose(quest: quest_pb.QuestRecord, lore: list[kb_pb.Article]) -> str:
    done = min(quest.current_step, len(quest.steps))
    if quest.completed:
        progress = f"The quest is done: all {len(quest.steps)} steps are behind {quest.player_id}."
    elif done == 0:
        progress = f"It begins: first, {quest.steps[0].lower()}." if quest.steps else "It has not begun."
    else:
        progress = f"{done} of {len(quest.steps)} steps are done; next, {quest.steps[done].lower()}."
    text = f"{quest.title}. In {quest.region}, {quest.player_id} takes up the quest. {progress}"
    for article in lore:
        first_sentence = article.text.split(". ")[0].rstrip(".")
        text += f" As told in {article.title}: {first_sentence}."
    return text


class StoryTeller(Service):
    name = "story_teller"
    description = "Tells the stories of quests"

    @endpoint
    async def tell(self, request: pb.TellRequest) -> pb.TellResponse:
        require(quest_id=request.quest_id)
        found = await self.rt.call("quest.get", quest_pb.GetRequest(quest_id=request.quest_id))
        quest = found.quest
        search = await self.rt.call("knowledge_base.search", kb_pb.SearchRequest(query=f"{quest.title} {quest.region}", limit=2))
        lore = [hit.article for hit in search.hits]
        text = compose(quest, lore)
        language = request.language or "common"
        if language != "common":
            translated = await self.rt.call("language_system.translate", language_pb.TranslateRequest(text=text, source="common", target=language))
            text = translated.text
        return pb.TellResponse(text=text, language=language, lore_ids=[article.id for article in lore])
