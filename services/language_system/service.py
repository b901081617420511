"""language_system: word-by-word translation and language detection with a built-in lexicon."""

from __future__ import annotations

from sdk import Service, bad_request, endpoint, require
from sdk.proto import language_system_pb2 as pb

from services.language_system import lexicon


def _check(field: str, language: str) -> None:
    if language not in lexicon.LANGUAGES:
        raise bad_request(f"field '{field}' must be one of {', '.join(lexicon.LANGUAGES)}")


class LanguageSystem(Service):
    name = "language_system"
    description = "Translation between the game's languages"

    @endpoint
    async def translate(self, request: pb.TranslateRequest) -> pb.TranslateResponse:
        require(text=request.text, target=request.target)
        source = request.source or lexicon.detect(request.text)[0]
        _check("source", source)
        _check("target", request.target)
        text, unknown = lexicon.translate(request.text, source, request.target)
        return pb.TranslateResponse(text=text, source=source, unknown_words=unknown)

    @endpoint
    async def detect(self, request: pb.DetectRequest) -> pb.DetectResponse:
        require(text=request.text)
        language, confidence = lexicon.detect(request.text)
        return pb.DetectResponse(language=language, confidence=confidence)
