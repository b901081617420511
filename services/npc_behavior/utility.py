"""Utility scoring of NPC actions; pure and deterministic."""

from __future__ import annotations


def _clamp(value: float) -> float:
    return min(1.0, max(0.0, value))


def scores(hunger: float, energy: float, safety: float, hour: int, danger: float) -> dict[str, float]:
    hunger, energy, safety, danger = _clamp(hunger), _clamp(energy), _clamp(safety), _clamp(danger)
    night = hour < 5 or hour >= 21
    working_hours = 8 <= hour < 18
    return {
        "eat": round(hunger, 4),
        "sleep": round((1 - energy) * (1.5 if night else 0.7), 4),
        "flee": round(danger * (1 - safety) * 1.5, 4),
        "work": round(energy * (1 - hunger) * (1.0 if working_hours else 0.3), 4),
        "wander": 0.2,
    }


def best(action_scores: dict[str, float]) -> tuple[str, float]:
    """Highest score; ties go to the alphabetically first action."""
    action = min(action_scores, key=lambda name: (-action_scores[name], name))
    return action, action_scores[action]
