"""botocore's data is narrowed as it loads (controller.aws.client.slim_data): the endpoint table
keeps the services fleetctl calls, service models lose their documentation. Clients must come
out the same: endpoint URL, Region and signing name, in every partition, and requests must
still validate and serialise."""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import botocore
import pytest
from aiobotocore.session import get_session

from fleetctl.controller.aws.client import slim_data

CASES = [("ecs", "us-east-1"), ("ecs", "cn-north-1"), ("logs", "us-gov-west-1"), ("ecr", "ap-south-1"),
         ("elbv2", "eu-central-1"), ("application-autoscaling", "us-east-2"), ("dynamodb", "us-west-2"),
         ("iam", "eu-west-1"), ("sts", "eu-west-1"), ("s3", "eu-west-1"), ("ec2", "sa-east-1"),
         ("ssm", "us-east-1"), ("secretsmanager", "eu-north-1"), ("cloudformation", "eu-west-3")]


async def _clients(slim: bool) -> list[tuple[str, ...]]:
    session = get_session()
    if slim:
        slim_data(session.get_component("data_loader"))
    out = []
    for service, region in CASES:
        async with session.create_client(service, region_name=region, aws_access_key_id="k",
                                          aws_secret_access_key="s") as client:
            signer = client._request_signer  # noqa: SLF001 - what a request would be signed with
            out.append((service, client.meta.endpoint_url, client.meta.region_name, signer._signing_name,  # noqa: SLF001
                        signer._region_name))  # noqa: SLF001
    return out


async def test_clients_resolve_the_same_with_slimmed_data() -> None:
    assert await _clients(True) == await _clients(False)


async def test_slimmed_models_validate_and_serialise_requests() -> None:
    session = get_session()
    loader = session.get_component("data_loader")
    slim_data(loader)
    async with session.create_client("ecs", region_name="us-east-1", aws_access_key_id="k",
                                      aws_secret_access_key="s") as client:
        model = client.meta.service_model.operation_model("DescribeServices")
        assert "cluster" in model.input_shape.members and not model.documentation
        with pytest.raises(Exception, match="services"):
            await client.describe_services(cluster="c")  # botocore's own validation, before any request
    raw = json.loads(gzip.open(next((Path(botocore.__file__).parent / "data" / "ecs").glob("*/service-2.json.gz"))).read())
    data, _ = loader.load_data_with_path(f"ecs/{raw['metadata']['apiVersion']}/service-2")
    assert data["shapes"].keys() == raw["shapes"].keys() and data["operations"].keys() == raw["operations"].keys()
    endpoints, _ = loader.load_data_with_path("endpoints")
    assert all("ecs" in p["services"] and len(p["services"]) < 20 for p in endpoints["partitions"] if p["partition"] == "aws")
