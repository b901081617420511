"""Generate `*_pb2.py` and `*_pb2.pyi` for every `.proto` in this folder.

    python -m sdk.proto.generate            # into the repository (the checked-in files)
    python -m sdk.proto.generate --out DIR  # into DIR/sdk/proto/, to compare
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

PROTO_DIR = Path(__file__).resolve().parent
ROOT = PROTO_DIR.parent.parent


def proto_files() -> list[Path]:
    return sorted(PROTO_DIR.glob("*.proto"))


def generate(out: Path) -> None:
    from grpc_tools import protoc

    out.mkdir(parents=True, exist_ok=True)
    files = [str(path.relative_to(ROOT)) for path in proto_files()]
    args = ["grpc_tools.protoc", f"-I{ROOT}", f"--python_out={out}", f"--pyi_out={out}", *files]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT, help="output root (default: the repository)")
    args = parser.parse_args(argv)
    generate(args.out)
    print(f"generated {len(proto_files())} contracts into {args.out / 'sdk' / 'proto'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
