"""Fleet.service: a look-up by name without scanning the fleet, right for copies with other services."""
from __future__ import annotations

import gc

import pytest

from bench import fleetgen
from fleetctl.controller.manifest import models, parse_manifest


def _fleet(n: int) -> models.Fleet:
    text = fleetgen.manifest(n)
    return parse_manifest(text, tf_outputs=fleetgen.TF_OUTPUTS).fleet


def test_service_by_name_and_copies_with_other_services() -> None:
    fleet = _fleet(30)
    assert fleet.service("svc-00029").name == "svc-00029"
    with pytest.raises(KeyError):
        fleet.service("svc-99999")
    fewer = fleet.model_copy(update={"spec": fleet.spec.model_copy(update={"services": fleet.spec.services[:3]})})
    assert fewer.service("svc-00002").name == "svc-00002"
    with pytest.raises(KeyError):
        fewer.service("svc-00029")      # the copy's own services, not the original's index
    assert fleet == _fleet(30)          # the index takes no part in equality


def test_an_index_goes_with_its_fleet() -> None:
    before = len(models._SERVICE_INDEXES)
    fleet = _fleet(5)
    fleet.service("svc-00001")
    assert len(models._SERVICE_INDEXES) == before + 1
    del fleet
    gc.collect()
    assert len(models._SERVICE_INDEXES) == before
