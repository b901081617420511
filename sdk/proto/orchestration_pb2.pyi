from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class SpawnNpcRequest(_message.Message):
    __slots__ = ("npc_id", "archetype", "region")
    NPC_ID_FIELD_NUMBER: _ClassVar[int]
    ARCHETYPE_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    npc_id: str
    archetype: str
    region: str
    def __init__(self, npc_id: _Optional[str] = ..., archetype: _Optional[str] = ..., region: _Optional[str] = ...) -> None: ...

class SpawnNpcResponse(_message.Message):
    __slots__ = ("npc_id", "allocation_id", "provider_id", "first_action", "quest_id")
    NPC_ID_FIELD_NUMBER: _ClassVar[int]
    ALLOCATION_ID_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_ID_FIELD_NUMBER: _ClassVar[int]
    FIRST_ACTION_FIELD_NUMBER: _ClassVar[int]
    QUEST_ID_FIELD_NUMBER: _ClassVar[int]
    npc_id: str
    allocation_id: str
    provider_id: str
    first_action: str
    quest_id: str
    def __init__(self, npc_id: _Optional[str] = ..., allocation_id: _Optional[str] = ..., provider_id: _Optional[str] = ..., first_action: _Optional[str] = ..., quest_id: _Optional[str] = ...) -> None: ...
