"""The CLI as a user runs it: help, exit codes, streams, start-up imports."""
from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import REPO, run_cli


def test_help_lists_verbs_and_exit_codes():
    result = run_cli("--help")
    assert result.code == 0
    for verb in ("validate", "render", "schema"):
        assert verb in result.stdout
    assert "Exit codes: 0" in result.stdout and "2 usage or manifest error" in result.stdout


def test_help_does_not_import_heavy_modules():
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from cli.main import app\n"
        "r = CliRunner().invoke(app, ['--help'])\n"
        "assert r.exit_code == 0, r.output\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('aiobotocore','botocore','boto3','moto','nats','pydantic','yaml'))\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_usage_error_exits_2():
    assert run_cli("validate").code == 2
    assert run_cli("no-such-verb").code == 2
    assert run_cli("validate", "manifests/prod.yaml", "-o", "xml").code == 2


def test_validate_prod_and_local_exit_0_with_note_on_stderr(tmp_path):
    for name in ("prod", "local"):
        # an empty sandbox dir: no outputs file, whether or not a developer's sandbox runs
        result = run_cli("validate", f"manifests/{name}.yaml", env={"FLEETCTL_SANDBOX_DIR": str(tmp_path)})
        assert result.code == 0, result.stderr
        assert result.stdout.strip() == f"manifests/{name}.yaml: valid (fleet gaming-system, 23 services)"
        assert "references were not checked" in result.stderr


def test_validate_json_is_parseable():
    result = run_cli("validate", "manifests/prod.yaml", "-o", "json")
    body = json.loads(result.stdout)
    assert body["valid"] is True and body["services"] == 23
    assert "ecr_registry" in body["unresolvedTerraformOutputs"]


def test_schema_verb_prints_json_schema():
    result = run_cli("schema")
    assert result.code == 0
    assert json.loads(result.stdout)["title"] == "fleetctl Fleet manifest"


def test_version():
    result = run_cli("--version")
    assert result.code == 0 and result.stdout.startswith("fleetctl ")


def test_shell_completion_script_and_service_names():
    script = run_cli("--show-completion", "bash")
    assert script.code == 0 and "_FLEETCTL_COMPLETE" in script.stdout
    env = {"_FLEETCTL_COMPLETE": "complete_bash", "COMP_WORDS": "fleetctl render manifests/prod.yaml -s a",
           "COMP_CWORD": "4"}
    assert run_cli(env=env).stdout.split() == ["ai_integration", "ai_router", "auth"]
    env = {**env, "COMP_WORDS": "fleetctl logs -m manifests/prod.yaml we", "COMP_CWORD": "4"}
    assert run_cli(env=env).stdout.split() == ["weather_manager"]


def test_every_read_verb_speaks_json_and_yaml():
    import yaml

    for verb in ("validate", "render", "plan", "diff", "status", "wait", "verify", "diagnose", "probe", "schema"):
        help_text = run_cli(verb, "--help").stdout
        assert "json" in help_text and "yaml" in help_text, verb
    as_yaml = run_cli("validate", "manifests/prod.yaml", "-o", "yaml")
    assert as_yaml.code == 0 and yaml.safe_load(as_yaml.stdout)["services"] == 23
    assert yaml.safe_load(run_cli("schema", "-o", "yaml").stdout)["title"] == "fleetctl Fleet manifest"
