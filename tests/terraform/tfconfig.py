"""Read terraform/ with python-hcl2 into a flat, quote-free view for the tests."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import hcl2

REPO = Path(__file__).resolve().parents[2]
TF_DIR = REPO / "terraform"
MANIFEST = REPO / "manifests" / "prod.yaml"
OUTPUTS_FIXTURE = REPO / "tests" / "fixtures" / "prod-tf-outputs.json"

TF_REF = re.compile(r"\$\{tf:([A-Za-z0-9_]+)\}")


def unquote(value: Any) -> Any:
    """python-hcl2 8.x keeps the quotes of string literals and keys; drop them."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def clean(node: Any) -> Any:
    if isinstance(node, dict):
        return {unquote(k): clean(v) for k, v in node.items() if not k.startswith("__")}
    if isinstance(node, list):
        return [clean(v) for v in node]
    return unquote(node)


def tf_files() -> list[Path]:
    return sorted(TF_DIR.glob("*.tf"))


def load_file(path: Path) -> dict[str, Any]:
    with path.open() as fh:
        return hcl2.load(fh)


@dataclass
class TerraformConfig:
    resources: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    data: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)
    locals: dict[str, Any] = field(default_factory=dict)
    # file each resource/data address was declared in, e.g. "aws_lb.nats" -> "nats.tf"
    declared_in: dict[str, str] = field(default_factory=dict)

    def resource(self, address: str) -> dict[str, Any]:
        rtype, name = address.split(".", 1)
        return self.resources[rtype][name]


@lru_cache(maxsize=1)
def load() -> TerraformConfig:
    cfg = TerraformConfig()
    for path in tf_files():
        doc = load_file(path)
        for kind, target in (("resource", cfg.resources), ("data", cfg.data)):
            for block in doc.get(kind, []):
                for rtype, named in clean(block).items():
                    for name, body in named.items():
                        target.setdefault(rtype, {})[name] = body
                        prefix = "data." if kind == "data" else ""
                        cfg.declared_in[f"{prefix}{rtype}.{name}"] = path.name
        for block in doc.get("output", []):
            cfg.outputs.update(clean(block))
        for block in doc.get("variable", []):
            cfg.variables.update(clean(block))
        for block in doc.get("locals", []):
            for key, value in clean(block).items():
                assert key not in cfg.locals, f"local.{key} declared twice"
                cfg.locals[key] = value
    return cfg


def resolve_int(value: Any, cfg: TerraformConfig) -> int:
    """An integer literal, or a `${local.x}` reference to one."""
    if isinstance(value, int):
        return value
    m = re.fullmatch(r"\$\{local\.([A-Za-z0-9_]+)\}", str(value))
    if m:
        return resolve_int(cfg.locals[m.group(1)], cfg)
    m = re.fullmatch(r"\$\{tostring\(local\.([A-Za-z0-9_]+)\)\}", str(value))
    if m:
        return resolve_int(cfg.locals[m.group(1)], cfg)
    return int(value)


def string_list_literal(expr: str) -> list[str]:
    """The quoted strings of an expression such as ${toset(["a", "b"])}."""
    return re.findall(r'\\?"([^"\\]+)\\?"', expr)


def balanced_block(text: str, start: int) -> str:
    """The {...} block whose opening brace is at or after `start`."""
    i = text.index("{", start)
    depth = 0
    for j in range(i, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return text[i : j + 1]
    raise ValueError("unbalanced braces")


def templatefile_keys(tf_text: str, template_name: str) -> set[str]:
    """Top-level keys of the variables map passed to templatefile(".../<template_name>", {...})."""
    m = re.search(r'templatefile\("\$\{path\.module\}/templates/' + re.escape(template_name) + r'",', tf_text)
    assert m, f"no templatefile() call for {template_name}"
    block = balanced_block(tf_text, m.end())
    keys, depth = set(), 0
    for line in block[1:-1].splitlines():
        if depth == 0:
            km = re.match(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=", line)
            if km:
                keys.add(km.group(1))
        depth += line.count("{") + line.count("(") - line.count("}") - line.count(")")
    return keys


def template_placeholders(template_text: str) -> set[str]:
    """Names interpolated by a Terraform template (escaped $${...} excluded)."""
    return set(re.findall(r"(?<!\$)\$\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}", template_text))


def render_template(template_text: str, values: dict[str, str]) -> str:
    """Render a template that only uses plain ${name} interpolations (no directives)."""
    assert "%{" not in template_text, "template directives are not supported by this renderer"

    def sub(m: re.Match[str]) -> str:
        return values[m.group(1)]

    rendered = re.sub(r"(?<!\$)\$\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}", sub, template_text)
    return rendered.replace("$${", "${")
