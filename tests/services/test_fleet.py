"""Every service of the manifest runs, serves exactly its manifest subjects, and answers them."""

from __future__ import annotations

import json
from typing import Any, Awaitable, Callable

import pytest
from google.protobuf.message import Message
from nats.aio.client import Client

from fleet_support import DIGEST, CallError, Fleet, call, manifest_services
from sdk.proto import ai_integration_pb2 as ai_integration
from sdk.proto import ai_router_pb2 as ai_router
from sdk.proto import auth_pb2 as auth
from sdk.proto import body_broker_pb2 as body_broker
from sdk.proto import capability_registry_pb2 as capability_registry
from sdk.proto import environmental_narrative_pb2 as environmental_narrative
from sdk.proto import event_bus_pb2 as event_bus
from sdk.proto import knowledge_base_pb2 as knowledge_base
from sdk.proto import language_system_pb2 as language_system
from sdk.proto import model_mgmt_pb2 as model_mgmt
from sdk.proto import npc_behavior_pb2 as npc_behavior
from sdk.proto import orchestration_pb2 as orchestration
from sdk.proto import payment_pb2 as payment
from sdk.proto import performance_mode_pb2 as performance_mode
from sdk.proto import quest_pb2 as quest
from sdk.proto import router_pb2 as router
from sdk.proto import settings_pb2 as settings
from sdk.proto import state_manager_pb2 as state_manager
from sdk.proto import story_teller_pb2 as story_teller
from sdk.proto import time_manager_pb2 as time_manager
from sdk.proto import weather_manager_pb2 as weather_manager
from sdk.proto import world_state_pb2 as world_state

SERVICES = manifest_services()


async def test_info_subjects_equal_manifest_subjects(fleet: Fleet, client: Client) -> None:
    assert len(SERVICES) == 23
    for name, subjects in SERVICES.items():
        reply = await client.request(f"$SRV.INFO.{name}", b"", timeout=2)
        info = json.loads(reply.data)
        assert info["name"] == name
        assert sorted(endpoint["subject"] for endpoint in info["endpoints"]) == sorted(subjects), name
        assert {endpoint["queue_group"] for endpoint in info["endpoints"]} <= {name}
        assert info["metadata"]["service_version"] == DIGEST
        assert info["version"] == "0.0.0+sha256." + DIGEST.removeprefix("sha256:")


class Recorder:
    """Calls endpoints and remembers which subjects answered."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.answered: set[str] = set()

    async def __call__(self, subject: str, request: Message) -> Any:
        try:
            response = await call(self.client, subject, request)
        except CallError:
            self.answered.add(subject)
            raise
        self.answered.add(subject)
        return response


Scenario = Callable[[Recorder], Awaitable[None]]
SCENARIOS: dict[str, Scenario] = {}


def scenario(name: str) -> Callable[[Scenario], Scenario]:
    def register(function: Scenario) -> Scenario:
        SCENARIOS[name] = function
        return function

    return register


async def register_models(rpc: Recorder) -> None:
    for model in (
        model_mgmt.Model(id="small-chat", provider="acme", tasks=["chat"], context_window=4096, price_micros_per_1k_tokens=200),
        model_mgmt.Model(id="big-chat", provider="bigco", tasks=["chat", "summarize"], context_window=128000, price_micros_per_1k_tokens=3000),
    ):
        await rpc("model_mgmt.register", model_mgmt.RegisterRequest(model=model))


@scenario("model_mgmt")
async def _model_mgmt(rpc: Recorder) -> None:
    await register_models(rpc)
    got = await rpc("model_mgmt.get", model_mgmt.GetRequest(id="big-chat"))
    assert got.model.provider == "bigco" and list(got.model.tasks) == ["chat", "summarize"]
    listed = await rpc("model_mgmt.list", model_mgmt.ListRequest(task="summarize"))
    assert [model.id for model in listed.models] == ["big-chat"]
    with pytest.raises(CallError) as missing:
        await rpc("model_mgmt.get", model_mgmt.GetRequest(id="nope"))
    assert missing.value.code == "404"


@scenario("ai_router")
async def _ai_router(rpc: Recorder) -> None:
    await register_models(rpc)
    routed = await rpc("ai_router.route", ai_router.RouteRequest(task="chat"))
    assert (routed.model_id, routed.provider) == ("small-chat", "acme")
    routed = await rpc("ai_router.route", ai_router.RouteRequest(task="chat", context_tokens=10000))
    assert routed.model_id == "big-chat"
    await rpc("ai_router.set_rule", ai_router.SetRuleRequest(rule=ai_router.Rule(task="summarize", provider="acme")))
    with pytest.raises(CallError) as none:
        await rpc("ai_router.route", ai_router.RouteRequest(task="summarize"))
    assert none.value.code == "404"


@scenario("ai_integration")
async def _ai_integration(rpc: Recorder) -> None:
    await register_models(rpc)
    invoked = await rpc("ai_integration.invoke", ai_integration.InvokeRequest(task="chat", prompt="greet the player warmly", max_output_tokens=96))
    assert invoked.model_id == "small-chat" and invoked.input_tokens == 4
    assert invoked.estimated_cost_micros == 20  # (4 + 96) tokens at 200 per 1k
    assert json.loads(invoked.request_json)["model"] == "small-chat"
    providers = await rpc("ai_integration.providers", ai_integration.ProvidersRequest())
    by_name = {provider.name: provider for provider in providers.providers}
    assert by_name["bigco"].models >= 1 and "summarize" in by_name["bigco"].tasks


@scenario("state_manager")
async def _state_manager(rpc: Recorder) -> None:
    put = await rpc("state_manager.put", state_manager.PutRequest(key="player/7 hp", value=b"42", expected_revision=0))
    got = await rpc("state_manager.get", state_manager.GetRequest(key="player/7 hp"))
    assert (got.found, got.value, got.revision) == (True, b"42", put.revision)
    with pytest.raises(CallError) as stale:
        await rpc("state_manager.put", state_manager.PutRequest(key="player/7 hp", value=b"1", expected_revision=put.revision + 5))
    assert stale.value.code == "409"
    deleted = await rpc("state_manager.delete", state_manager.DeleteRequest(key="player/7 hp"))
    assert deleted.deleted
    assert not (await rpc("state_manager.get", state_manager.GetRequest(key="player/7 hp"))).found


@scenario("quest")
async def _quest(rpc: Recorder) -> None:
    created = await rpc("quest.create", quest.CreateRequest(player_id="p1", title="The Lost Ring", region="north", steps=["Ask", "Search"]))
    quest_id = created.quest.id
    assert created.quest.current_step == 0 and not created.quest.completed
    await rpc("quest.advance", quest.AdvanceRequest(quest_id=quest_id))
    done = await rpc("quest.advance", quest.AdvanceRequest(quest_id=quest_id))
    assert done.quest.completed and done.quest.current_step == 2
    got = await rpc("quest.get", quest.GetRequest(quest_id=quest_id))
    assert got.quest.completed
    region = await call(rpc.client, "world_state.get", world_state.GetRequest(region="north"))
    assert region.region.facts[f"quest.{quest_id}"] == "completed by p1"
    with pytest.raises(CallError) as again:
        await rpc("quest.advance", quest.AdvanceRequest(quest_id=quest_id))
    assert again.value.code == "409"


@scenario("npc_behavior")
async def _npc_behavior(rpc: Recorder) -> None:
    await call(rpc.client, "world_state.update", world_state.UpdateRequest(region="badlands", danger=1.0))
    decided = await rpc(
        "npc_behavior.decide",
        npc_behavior.DecideRequest(npc_id="n1", region="badlands", needs=npc_behavior.Needs(hunger=0.1, energy=0.9, safety=0.0)),
    )
    assert decided.decision.action == "flee" and decided.decision.danger == 1.0
    got = await rpc("npc_behavior.get", npc_behavior.GetRequest(npc_id="n1"))
    assert got.decision == decided.decision


@scenario("auth")
async def _auth(rpc: Recorder) -> None:
    issued = await rpc("auth.issue", auth.IssueRequest(subject="player-1", scopes=["payment:charge"], ttl_seconds=60))
    verified = await rpc("auth.verify", auth.VerifyRequest(token=issued.token, required_scope="payment:charge"))
    assert verified.valid and verified.subject == "player-1"
    forged = issued.token[:-2] + ("AA" if not issued.token.endswith("AA") else "BB")
    assert (await rpc("auth.verify", auth.VerifyRequest(token=forged))).reason == "bad_signature"
    assert (await rpc("auth.verify", auth.VerifyRequest(token=issued.token, required_scope="admin"))).reason == "missing_scope"


async def register_bodies(rpc: Recorder) -> None:
    for provider_id, capacity in (("body-a", 1), ("body-b", 2)):
        await call(
            rpc.client,
            "capability_registry.register",
            capability_registry.RegisterRequest(provider_id=provider_id, subject=f"bodies.{provider_id}", capacity=capacity, capabilities=["humanoid"]),
        )


@scenario("capability_registry")
async def _capability_registry(rpc: Recorder) -> None:
    registered = await rpc(
        "capability_registry.register",
        capability_registry.RegisterRequest(provider_id="dragon-1", subject="bodies.dragon-1", capacity=1, capabilities=["flying", "fire"]),
    )
    assert list(registered.capabilities) == ["fire", "flying"]
    found = await rpc("capability_registry.lookup", capability_registry.LookupRequest(capability="flying"))
    assert [entry.provider_id for entry in found.providers] == ["dragon-1"]


@scenario("body_broker")
async def _body_broker(rpc: Recorder) -> None:
    await call(
        rpc.client,
        "capability_registry.register",
        capability_registry.RegisterRequest(provider_id="golem-1", subject="bodies.golem-1", capacity=1, capabilities=["stone"]),
    )
    allocated = await rpc("body_broker.allocate", body_broker.AllocateRequest(npc_id="g1", capability="stone"))
    assert allocated.allocation.provider_id == "golem-1"
    with pytest.raises(CallError) as full:
        await rpc("body_broker.allocate", body_broker.AllocateRequest(npc_id="g2", capability="stone"))
    assert full.value.code == "409"
    listed = await rpc("body_broker.list", body_broker.ListRequest(provider_id="golem-1"))
    assert [a.npc_id for a in listed.allocations] == ["g1"]
    assert (await rpc("body_broker.release", body_broker.ReleaseRequest(allocation_id=allocated.allocation.id))).released
    again = await rpc("body_broker.allocate", body_broker.AllocateRequest(npc_id="g2", capability="stone"))
    assert again.allocation.npc_id == "g2"


@scenario("router")
async def _router(rpc: Recorder) -> None:
    await register_bodies(rpc)
    first = await rpc("router.resolve", router.ResolveRequest(capability="humanoid", routing_key="player-9"))
    second = await rpc("router.resolve", router.ResolveRequest(capability="humanoid", routing_key="player-9"))
    assert first.provider_id == second.provider_id and first.candidates >= 2
    with pytest.raises(CallError) as none:
        await rpc("router.resolve", router.ResolveRequest(capability="unheard-of", routing_key="x"))
    assert none.value.code == "404"


@scenario("orchestration")
async def _orchestration(rpc: Recorder) -> None:
    await register_bodies(rpc)
    spawned = await rpc("orchestration.spawn_npc", orchestration.SpawnNpcRequest(npc_id="elda", archetype="quest_giver", region="vale"))
    assert spawned.allocation_id and spawned.first_action and spawned.quest_id
    got = await call(rpc.client, "quest.get", quest.GetRequest(quest_id=spawned.quest_id))
    assert got.quest.player_id == "elda"
    with pytest.raises(CallError) as bad:
        await rpc("orchestration.spawn_npc", orchestration.SpawnNpcRequest(npc_id="x", archetype="wizard", region="vale"))
    assert bad.value.code == "400"


@scenario("environmental_narrative")
async def _environmental_narrative(rpc: Recorder) -> None:
    await call(rpc.client, "world_state.update", world_state.UpdateRequest(region="harbor", set_facts={"bridge": "destroyed"}))
    described = await rpc("environmental_narrative.describe", environmental_narrative.DescribeRequest(region="harbor"))
    assert "harbor" in described.text and "Bridge: destroyed." in described.text
    assert described.phase in {"night", "dawn", "day", "dusk"} and described.facts == ["bridge=destroyed"]


@scenario("event_bus")
async def _event_bus(rpc: Recorder) -> None:
    first = await rpc("event_bus.publish", event_bus.PublishRequest(topic="scenario.a", payload=b"1", message_id="scenario-1"))
    duplicate = await rpc("event_bus.publish", event_bus.PublishRequest(topic="scenario.a", payload=b"1", message_id="scenario-1"))
    assert duplicate.duplicate and duplicate.sequence == first.sequence
    await rpc("event_bus.publish", event_bus.PublishRequest(topic="scenario.b", payload=b"2"))
    replayed = await rpc("event_bus.replay", event_bus.ReplayRequest(topic="scenario.>"))
    assert [(e.topic, e.payload) for e in replayed.events] == [("scenario.a", b"1"), ("scenario.b", b"2")]
    only_a = await rpc("event_bus.replay", event_bus.ReplayRequest(topic="scenario.a"))
    assert len(only_a.events) == 1 and only_a.events[0].message_id == "scenario-1"


@scenario("knowledge_base")
async def _knowledge_base(rpc: Recorder) -> None:
    for article in (
        knowledge_base.Article(id="ring", title="The Lost Ring", text="A ring lost in the north. It glows.", tags=["ring"]),
        knowledge_base.Article(id="bread", title="Bread", text="Bakers of the vale.", tags=["food"]),
    ):
        await rpc("knowledge_base.put", knowledge_base.PutRequest(article=article))
    got = await rpc("knowledge_base.get", knowledge_base.GetRequest(id="ring"))
    assert got.article.title == "The Lost Ring"
    found = await rpc("knowledge_base.search", knowledge_base.SearchRequest(query="lost ring"))
    assert found.hits[0].article.id == "ring" and all(hit.article.id != "bread" for hit in found.hits)


@scenario("language_system")
async def _language_system(rpc: Recorder) -> None:
    translated = await rpc("language_system.translate", language_system.TranslateRequest(text="Hello, friend!", source="common", target="elvish"))
    assert translated.text == "Suilad, mellon!" and not translated.unknown_words
    detected = await rpc("language_system.detect", language_system.DetectRequest(text="suilad mellon"))
    assert detected.language == "elvish" and detected.confidence == 1.0


@scenario("payment")
async def _payment(rpc: Recorder) -> None:
    token = (await call(rpc.client, "auth.issue", auth.IssueRequest(subject="shop", scopes=["payment:charge", "payment:refund"]))).token
    charge = payment.ChargeRequest(token=token, account="acct-1", amount_cents=500, currency="EUR", idempotency_key="order-1")
    first = await rpc("payment.charge", charge)
    again = await rpc("payment.charge", charge)
    assert not first.replayed and again.replayed and again.balance_cents == 500
    refunded = await rpc("payment.refund", payment.RefundRequest(token=token, charge_key="order-1", amount_cents=200, idempotency_key="refund-1"))
    assert refunded.balance_cents == 300
    with pytest.raises(CallError) as too_much:
        await rpc("payment.refund", payment.RefundRequest(token=token, charge_key="order-1", amount_cents=400, idempotency_key="refund-2"))
    assert too_much.value.code == "409"
    balance = await rpc("payment.balance", payment.BalanceRequest(account="acct-1"))
    assert (balance.balance_cents, balance.currency, balance.entries) == (300, "EUR", 2)
    with pytest.raises(CallError) as forged:
        await rpc("payment.charge", payment.ChargeRequest(token="v1.x.y", account="a", amount_cents=1, currency="EUR", idempotency_key="k"))
    assert forged.value.code == "401"


@scenario("performance_mode")
async def _performance_mode(rpc: Recorder) -> None:
    default = await rpc("performance_mode.get", performance_mode.GetRequest(scope="player-5"))
    assert default.is_default and default.profile.mode == "balanced"
    await rpc("performance_mode.set", performance_mode.SetRequest(scope="player-5", mode="performance"))
    chosen = await rpc("performance_mode.get", performance_mode.GetRequest(scope="player-5"))
    assert not chosen.is_default and chosen.profile.target_fps == 120


@scenario("settings")
async def _settings(rpc: Recorder) -> None:
    assert not (await rpc("settings.get", settings.GetRequest(key="difficulty"))).found
    written = await rpc("settings.set", settings.SetRequest(key="difficulty", value="hard"))
    got = await rpc("settings.get", settings.GetRequest(key="difficulty"))
    assert (got.found, got.value, got.revision) == (True, "hard", written.revision)


@scenario("story_teller")
async def _story_teller(rpc: Recorder) -> None:
    article = knowledge_base.Article(id="moon", title="Moon Road", text="The road to the moon is long. Few return.")
    await call(rpc.client, "knowledge_base.put", knowledge_base.PutRequest(article=article))
    created = await call(rpc.client, "quest.create", quest.CreateRequest(player_id="tam", title="Moon Road", region="hills", steps=["Go", "Return"]))
    told = await rpc("story_teller.tell", story_teller.TellRequest(quest_id=created.quest.id))
    assert told.text.startswith("Moon Road. In hills, tam takes up the quest.") and "moon" in told.lore_ids
    elvish = await rpc("story_teller.tell", story_teller.TellRequest(quest_id=created.quest.id, language="elvish"))
    assert elvish.language == "elvish" and "ithil" in elvish.text.lower()


@scenario("time_manager")
async def _time_manager(rpc: Recorder) -> None:
    paused = await rpc("time_manager.set_speed", time_manager.SetSpeedRequest(speed=0))
    now = await rpc("time_manager.now", time_manager.NowRequest())
    assert now.clock.game_seconds == paused.clock.game_seconds and now.clock.speed == 0
    await rpc("time_manager.set_speed", time_manager.SetSpeedRequest(speed=60))
    with pytest.raises(CallError) as bad:
        await rpc("time_manager.set_speed", time_manager.SetSpeedRequest(speed=-1))
    assert bad.value.code == "400"


@scenario("weather_manager")
async def _weather_manager(rpc: Recorder) -> None:
    await call(rpc.client, "time_manager.set_speed", time_manager.SetSpeedRequest(speed=0))
    try:
        first = await rpc("weather_manager.current", weather_manager.CurrentRequest(region="coast"))
        second = await rpc("weather_manager.current", weather_manager.CurrentRequest(region="coast"))
        assert first.weather == second.weather and first.weather.condition
        forecast = await rpc("weather_manager.forecast", weather_manager.ForecastRequest(region="coast", hours=12))
        assert len(forecast.periods) == 4 and all(p.hour % 3 == 0 for p in forecast.periods)
    finally:
        await call(rpc.client, "time_manager.set_speed", time_manager.SetSpeedRequest(speed=60))


@scenario("world_state")
async def _world_state(rpc: Recorder) -> None:
    updated = await rpc("world_state.update", world_state.UpdateRequest(region="fort", set_facts={"gate": "open"}, danger=0.4))
    got = await rpc("world_state.get", world_state.GetRequest(region="fort"))
    assert dict(got.region.facts) == {"gate": "open"} and got.region.danger == 0.4 and got.found
    events = await call(rpc.client, "event_bus.replay", event_bus.ReplayRequest(topic="world.fort.updated"))
    assert events.events[-1].sequence == updated.event_sequence
    assert world_state.Region.FromString(events.events[-1].payload).facts["gate"] == "open"


def test_every_service_has_a_scenario() -> None:
    assert sorted(SCENARIOS) == sorted(name for name in SERVICES if name != "gateway")


@pytest.mark.parametrize("name", sorted(SCENARIOS))
async def test_service_answers_each_endpoint(fleet: Fleet, client: Client, name: str) -> None:
    rpc = Recorder(client)
    await SCENARIOS[name](rpc)
    own = {subject for subject in rpc.answered if subject.split(".")[0] == name}
    assert own == set(SERVICES[name]), f"{name} scenario left endpoints untested"
