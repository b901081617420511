"""The sandbox's AWS endpoint as an anonymous local caller (or a web page) would try it.

Every request must be SigV4-signed with the credentials `sandbox up` generated; moto's admin
API is not served; cross-origin and DNS-rebinding requests are refused; refusals look like AWS's.
"""
from __future__ import annotations

import datetime
import json
import subprocess
import sys
import urllib.error
import urllib.request
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from fleetctl.sandbox.auth import Credentials
from tests.conftest import REPO, run_cli

ECS_TARGET = "AmazonEC2ContainerServiceV20141113.ListClusters"


def http(url: str, *, method: str = "POST", body: bytes = b"{}", headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, data=body if method != "GET" else None, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def signed_headers(url: str, credentials: Credentials, body: bytes, *, host: str | None = None,
                   when: datetime.datetime | None = None, service: str = "ecs",
                   extra: dict[str, str] | None = None) -> dict[str, str]:
    """Headers of an ECS ListClusters request signed by botocore, as any SDK would send it."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials as BotoCredentials

    headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": ECS_TARGET, **(extra or {})}
    if host:
        headers["Host"] = host
    request = AWSRequest(method="POST", url=url, data=body, headers=headers)
    signer = SigV4Auth(BotoCredentials(credentials.access_key_id, credentials.secret_access_key), service, "us-east-1")
    if when is None:
        signer.add_auth(request)
    else:
        request.context["timestamp"] = when.strftime("%Y%m%dT%H%M%SZ")
        request.headers["X-Amz-Date"] = request.context["timestamp"]
        canonical = signer.canonical_request(request)
        signature = signer.signature(signer.string_to_sign(request, canonical), request)
        request.headers["Authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={signer.scope(request)}, "
            f"SignedHeaders={signer.signed_headers(signer.headers_to_sign(request))}, Signature={signature}"
        )
    return dict(request.headers.items())


def error_code(status: int, body: bytes) -> str:
    assert status == 403, (status, body)
    return str(json.loads(body)["__type"])


def client(sandbox: Any, service: str, credentials: Credentials, endpoint: str | None = None) -> Any:
    return boto3.client(service, endpoint_url=endpoint or sandbox.info.endpoint_url, region_name="us-east-1",
                        **credentials.client_kwargs())


def test_a_correctly_signed_request_works_and_carries_no_cors_headers(sandbox):
    creds = sandbox.info.credentials()
    assert creds.access_key_id.startswith("AKIA") and len(creds.access_key_id) == 20
    assert len(creds.secret_access_key) == 40 and creds.secret_access_key not in repr(creds)
    assert sandbox.cluster in str(client(sandbox, "ecs", creds).list_clusters()["clusterArns"])

    body = b"{}"
    status, headers, payload = http(sandbox.info.endpoint_url, body=body,
                                    headers=signed_headers(sandbox.info.endpoint_url, creds, body))
    assert status == 200 and sandbox.cluster in payload.decode()
    assert [h for h in headers if h.lower().startswith("access-control-")] == []


def test_unsigned_request_is_refused(sandbox):
    status, _, body = http(sandbox.info.endpoint_url, headers={"Content-Type": "application/x-amz-json-1.1",
                                                              "X-Amz-Target": ECS_TARGET})
    assert error_code(status, body) == "MissingAuthenticationTokenException"
    assert sandbox.cluster not in body.decode()


def test_unknown_key_is_refused_like_aws(sandbox):
    stranger = Credentials.generate()
    with pytest.raises(ClientError) as exc:
        client(sandbox, "ecs", stranger).list_clusters()
    assert exc.value.response["Error"]["Code"] == "UnrecognizedClientException"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    # query protocols answer in their own XML shape
    with pytest.raises(ClientError) as exc:
        client(sandbox, "elbv2", stranger).describe_load_balancers()
    assert exc.value.response["Error"]["Code"] == "InvalidClientTokenId"
    with pytest.raises(ClientError) as exc:
        client(sandbox, "ec2", stranger).describe_vpcs()
    assert exc.value.response["Error"]["Code"] == "AuthFailure"


def test_right_key_wrong_secret_is_an_invalid_signature(sandbox):
    real = sandbox.info.credentials()
    forged = Credentials(real.access_key_id, Credentials.generate().secret_access_key)
    with pytest.raises(ClientError) as exc:
        client(sandbox, "secretsmanager", forged).list_secrets()
    assert exc.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    with pytest.raises(ClientError) as exc:
        client(sandbox, "iam", forged).list_roles()
    assert exc.value.response["Error"]["Code"] == "SignatureDoesNotMatch"


def test_garbage_tampered_or_expired_signatures_are_refused(sandbox):
    url, creds = sandbox.info.endpoint_url, sandbox.info.credentials()
    body = b"{}"
    headers = signed_headers(url, creds, body)
    garbage = dict(headers, Authorization=headers["Authorization"].rsplit("Signature=", 1)[0] + "Signature=" + "0" * 64)
    assert error_code(*http(url, body=body, headers=garbage)[::2]) == "InvalidSignatureException"
    not_hex = dict(headers, Authorization="AWS4-HMAC-SHA256 Credential=x, SignedHeaders=host, Signature=zz")
    assert error_code(*http(url, body=body, headers=not_hex)[::2]) == "MissingAuthenticationTokenException"
    # a valid signature over another body
    assert error_code(*http(url, body=b'{"maxResults": 1}', headers=headers)[::2]) == "InvalidSignatureException"
    # an unsigned header swapped in is fine, a signed one is not
    retargeted = dict(headers, **{"X-Amz-Target": "AmazonEC2ContainerServiceV20141113.DeleteCluster"})
    assert error_code(*http(url, body=body, headers=retargeted)[::2]) == "InvalidSignatureException"
    old = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=20)
    status, _, payload = http(url, body=body, headers=signed_headers(url, creds, body, when=old))
    assert error_code(status, payload) == "InvalidSignatureException" and b"expired" in payload


def test_moto_admin_api_is_not_served(sandbox):
    url, creds = sandbox.info.endpoint_url, sandbox.info.credentials()
    ecs = client(sandbox, "ecs", creds)
    before = ecs.list_clusters()["clusterArns"]
    secret_arn = sandbox.outputs["auth_signing_key_secret_arn"]
    value = client(sandbox, "secretsmanager", creds).get_secret_value(SecretId=secret_arn)["SecretString"]

    status, _, body = http(f"{url}/moto-api/data.json", method="GET")
    assert status == 404 and value.encode() not in body
    assert http(f"{url}/moto-api/reset", body=b"")[0] == 404
    assert http(f"{url}/moto-api/reset-auth", body=b'{"allow_auth": false}')[0] == 404
    # signing does not open it either
    signed = signed_headers(f"{url}/moto-api/reset", creds, b"")
    assert http(f"{url}/moto-api/reset", body=b"", headers=signed)[0] == 404
    assert ecs.list_clusters()["clusterArns"] == before  # nothing was wiped


def test_cross_origin_and_rebinding_requests_are_refused(sandbox):
    url, creds = sandbox.info.endpoint_url, sandbox.info.credentials()
    body = b"{}"
    # a page on another origin, even with a valid signature
    origin = dict(signed_headers(url, creds, body), Origin="https://evil.example")
    status, headers, payload = http(url, body=body, headers=origin)
    assert status == 403 and b"Cross-origin" in payload
    assert [h for h in headers if h.lower().startswith("access-control-")] == []
    # the CORS preflight gets no permission
    status, headers, _ = http(url, method="OPTIONS", body=b"", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "x-amz-target,authorization"})  # fmt: skip
    assert status == 403 and [h for h in headers if h.lower().startswith("access-control-")] == []
    # DNS rebinding: the browser sends the attacker's host name
    port = url.rsplit(":", 1)[1]
    rebound = signed_headers(f"http://evil.example:{port}/", creds, body, host=f"evil.example:{port}")
    status, _, payload = http(url, body=body, headers=rebound)
    assert status == 403 and b"loopback Host" in payload
    for host in (f"localhost:{port}", f"127.0.0.1:{port}"):
        status, _, _ = http(url, body=body, headers=signed_headers(f"http://{host}/", creds, body, host=host))
        assert status == 200, host


def test_requests_through_a_loopback_proxy_work(sandbox):
    """The counting proxy of the benchmarks forwards the Host the client signed."""
    proxy = subprocess.Popen([sys.executable, str(REPO / "bench" / "countproxy.py"), "--upstream", sandbox.info.endpoint_url],
                             stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        proxy_url = proxy.stdout.readline().split()[1]  # type: ignore[union-attr]
        ecs = client(sandbox, "ecs", sandbox.info.credentials(), endpoint=proxy_url)
        assert sandbox.cluster in str(ecs.list_clusters()["clusterArns"])
        with pytest.raises(ClientError) as exc:
            client(sandbox, "ecs", Credentials.generate(), endpoint=proxy_url).list_clusters()
        assert exc.value.response["Error"]["Code"] == "UnrecognizedClientException"
    finally:
        proxy.terminate()
        proxy.wait(5)


@pytest.mark.timeout(300)  # two CLI runs against the sandbox: slow on a busy host
def test_fleetctl_signs_with_the_sandbox_credentials_whatever_the_environment_holds(sandbox, tmp_path):
    outputs = json.loads(sandbox.info.outputs_path.read_text())
    assert outputs["sandbox_credentials_file"]["value"] == str(sandbox.info.credentials_file)
    other = Credentials.generate()
    env = {"AWS_ACCESS_KEY_ID": other.access_key_id, "AWS_SECRET_ACCESS_KEY": other.secret_access_key,
           "AWS_SESSION_TOKEN": "stale-token", "AWS_PROFILE": "nope"}  # fmt: skip
    out = run_cli("plan", "manifests/local.yaml", "--tf-outputs", str(sandbox.info.outputs_path), "-o", "json",
                  env=env, timeout=120)  # fmt: skip
    assert out.code in (0, 1), out.stderr  # 1: the fleet is not deployed on this sandbox
    assert json.loads(out.stdout)

    missing = dict(outputs, sandbox_credentials_file={**outputs["sandbox_credentials_file"], "value": str(tmp_path / "none.json")})
    (tmp_path / "o.json").write_text(json.dumps(missing))
    out = run_cli("plan", "manifests/local.yaml", "--tf-outputs", str(tmp_path / "o.json"), timeout=120)
    assert out.code == 2 and "Traceback" not in out.stderr
    assert "no sandbox credentials at" in out.stderr and "fleetctl sandbox up" in out.stderr
