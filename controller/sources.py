"""Where the operator reads its manifest and terraform outputs from: a path, S3 or Git.

    fleet.yaml                                   a local path
    s3://bucket/key                              an S3 object (HeadObject polled: version id or ETag)
    git+https://host/org/repo.git//path.yaml?ref=main
    git+file:///srv/repo//fleet.yaml?ref=v3      a Git repository, the file at `path` on `ref`

`read()` returns the content and a version, or `None` when the version has not changed since
the last read, so an unchanged remote source costs one HeadObject or one `git ls-remote`.
Git goes through the `git` binary (a small subprocess wrapper): it speaks every transport
and credential helper an operator already configures (HTTPS tokens via GIT_ASKPASS or a
credential helper, SSH keys), and shallow fetches keep a clone cheap. Descriptions never
show a URL's userinfo.
"""
from __future__ import annotations

import asyncio
import hashlib
import os
import posixpath
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

from fleetctl.controller.errors import FleetError

MAX_BYTES = 5 * 1024 * 1024
GIT_TIMEOUT = 60.0


class SourceError(FleetError):
    """A source could not be read (the last good spec stays in force)."""


@dataclass(frozen=True)
class Fetched:
    data: bytes
    version: str


def _redact_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.username or parts.password:
        host = parts.hostname or ""
        if parts.port:
            host += f":{parts.port}"
        return urlunsplit((parts.scheme, f"***@{host}", parts.path, parts.query, parts.fragment))
    return url


class LocalSource:
    remote = False

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._version: str | None = None

    def describe(self) -> str:
        return str(self.path)

    def sibling(self, rel: str) -> "LocalSource":
        return LocalSource(self.path.parent / rel)

    async def read(self) -> Fetched | None:
        try:
            with self.path.open("rb") as f:
                data = f.read(MAX_BYTES + 1)
        except OSError as exc:
            raise SourceError(f"{self.path}: cannot read: {exc.strerror or exc}") from None
        if len(data) > MAX_BYTES:
            raise SourceError(f"{self.path}: larger than {MAX_BYTES // (1024 * 1024)} MiB")
        version = hashlib.sha256(data).hexdigest()
        if version == self._version:
            return None
        self._version = version
        return Fetched(data, version)

    def forget(self) -> None:
        """Make the next read return the content even if unchanged."""
        self._version = None

    async def aclose(self) -> None:
        return None


class S3Source:
    remote = True

    def __init__(self, bucket: str, key: str, aws: Any = None) -> None:
        self.bucket, self.key = bucket, key
        self._aws = aws
        self._opened = False
        self._version: str | None = None

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def sibling(self, rel: str) -> "S3Source":
        key = posixpath.normpath(posixpath.join(posixpath.dirname(self.key), rel))
        if key.startswith("../"):
            raise SourceError(f"{self.describe()}: {rel} leaves the bucket")
        return S3Source(self.bucket, key, self._aws)

    async def _client(self) -> Any:
        if self._aws is None:
            from fleetctl.controller.aws.client import Aws

            region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
            self._aws = Aws(region, endpoint_url=os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL"))
        if not self._opened:
            await self._aws.__aenter__()
            self._opened = True
        return self._aws

    async def read(self) -> Fetched | None:
        from fleetctl.controller.aws import s3

        aws = await self._client()
        try:
            version, version_id, size = await s3.head_object(aws, self.bucket, self.key)
            if version and version == self._version:
                return None
            if size > MAX_BYTES:
                raise SourceError(f"{self.describe()}: larger than {MAX_BYTES // (1024 * 1024)} MiB")
            data = await s3.read_object(aws, self.bucket, self.key, limit=MAX_BYTES, version_id=version_id)
        except FleetError as exc:
            raise SourceError(f"{self.describe()}: {exc}") from None
        self._version = version
        return Fetched(data, version)

    def forget(self) -> None:
        self._version = None

    async def aclose(self) -> None:
        if self._opened and self._aws is not None:
            self._opened = False
            await self._aws.__aexit__(None, None, None)


class GitSource:
    """A file in a Git repository at a ref, read with the `git` binary into a private bare cache."""

    remote = True

    def __init__(self, url: str, path: str, ref: str = "HEAD", cache: Path | None = None) -> None:
        self.url, self.path, self.ref = url, path.lstrip("/"), ref
        self._cache = cache
        self._commit: str | None = None

    def describe(self) -> str:
        return f"git+{_redact_url(self.url)}//{self.path}?ref={self.ref}"

    def sibling(self, rel: str) -> "GitSource":
        path = posixpath.normpath(posixpath.join(posixpath.dirname(self.path), rel))
        if path.startswith("../"):
            raise SourceError(f"{self.describe()}: {rel} leaves the repository")
        return GitSource(self.url, path, self.ref, self._cache)

    async def _git(self, *args: str) -> bytes:
        env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1", "LC_ALL": "C"}
        proc = await asyncio.create_subprocess_exec(
            "git", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env)
        try:
            out, err = await asyncio.wait_for(proc.communicate(), GIT_TIMEOUT)
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()
            raise SourceError(f"{self.describe()}: git {args[0]} gave no answer within {GIT_TIMEOUT:.0f}s") from None
        if proc.returncode != 0:
            lines = [redact_line(line, self.url) for line in err.decode(errors="replace").strip().splitlines()]
            last = next((line for line in reversed(lines) if line.strip()), f"exit {proc.returncode}")
            raise SourceError(f"{self.describe()}: git {args[0]}: {last.strip()}")
        return out

    async def _repo(self) -> Path:
        if self._cache is None:
            self._cache = Path(tempfile.mkdtemp(prefix="fleetctl-git-"))
        if not (self._cache / "HEAD").exists():
            await self._git("init", "--quiet", "--bare", str(self._cache))
        return self._cache

    async def read(self) -> Fetched | None:
        try:
            listed = await self._git("ls-remote", "--", self.url, self.ref)
        except FileNotFoundError:
            raise SourceError("git: the git binary is not installed") from None
        commits = [line.split()[0] for line in listed.decode().splitlines() if line.strip()]
        if re.fullmatch(r"[0-9a-f]{40}", self.ref) and not commits:
            commits = [self.ref]
        if not commits:
            raise SourceError(f"{self.describe()}: no ref {self.ref!r}")
        if commits[0] == self._commit:
            return None
        repo = await self._repo()
        await self._git("--git-dir", str(repo), "fetch", "--quiet", "--depth", "1", "--", self.url, self.ref)
        commit = (await self._git("--git-dir", str(repo), "rev-parse", "FETCH_HEAD^{commit}")).decode().strip()
        try:
            data = await self._git("--git-dir", str(repo), "show", f"{commit}:{self.path}")
        except SourceError:
            raise SourceError(f"{self.describe()}: no file {self.path!r} at {commit[:12]}") from None
        if len(data) > MAX_BYTES:
            raise SourceError(f"{self.describe()}: larger than {MAX_BYTES // (1024 * 1024)} MiB")
        self._commit = commit
        return Fetched(data, commit)

    def forget(self) -> None:
        self._commit = None

    async def aclose(self) -> None:
        return None


def redact_line(line: str, url: str) -> str:
    return line.replace(url, _redact_url(url))


Source = LocalSource | S3Source | GitSource


def open_source(spec: str | os.PathLike[str], *, aws: Any = None) -> Source:
    """A source for a path or URL; raises SourceError (one line) for a malformed one."""
    text = str(spec)
    if text.startswith("s3://"):
        parts = urlsplit(text)
        if not parts.netloc or not parts.path.strip("/"):
            raise SourceError(f"{text}: expected s3://bucket/key")
        return S3Source(parts.netloc, parts.path.lstrip("/"), aws)
    if text.startswith("git+"):
        raw = text[4:]
        parts = urlsplit(raw)
        if parts.scheme not in ("https", "http", "ssh", "file"):
            raise SourceError(f"{_redact_url(raw)}: git sources are git+https://, git+ssh:// or git+file://")
        ref = (parse_qs(parts.query).get("ref") or ["HEAD"])[0]
        repo_path, sep, file_path = parts.path.partition("//")
        if not sep or not file_path:
            raise SourceError(f"git+{_redact_url(raw)}: name the file after `//`, e.g. "
                              "git+https://host/repo.git//manifests/prod.yaml?ref=main")
        url = urlunsplit((parts.scheme, parts.netloc, repo_path, "", ""))
        return GitSource(url, file_path, ref)
    if re.match(r"^[a-z][a-z0-9+.-]*://", text):
        raise SourceError(f"{_redact_url(text)}: unsupported source (a path, s3://bucket/key or git+URL)")
    return LocalSource(text)


def _terraform_outputs_ref(data: bytes) -> Any:
    """spec.terraformOutputs of a manifest, read with the manifest loader's own YAML readers
    (PyYAML's pure-Python safe_load of a 5,000-service manifest: ≈ 8 s of CPU, ≈ 100 MiB)."""
    from fleetctl.controller.manifest.blockyaml import read_block
    from fleetctl.controller.manifest.yamlsrc import YamlSyntaxError, load_located

    try:
        text = data.decode("utf-8")
        doc = (read_block(text) or load_located(text, lines=False)).data
    except (UnicodeDecodeError, YamlSyntaxError):
        return None
    spec = doc.get("spec") if isinstance(doc, dict) else None
    return spec.get("terraformOutputs") if isinstance(spec, dict) else None


class SpecLoader:
    """The manifest (and its terraform outputs) from sources, keeping the last good spec.

    `refresh()` reads both sources (cheap when unchanged), and when either changed parses
    and validates the manifest again. A source that cannot be read or a manifest that does
    not validate leaves `loaded` as it was and is reported: `outcome` and `error` say what
    happened, `condition` is the fleet-level `Synced` condition.
    """

    def __init__(self, manifest: Source | str | os.PathLike[str], tf_outputs: Source | str | os.PathLike[str] | None = None,
                 *, aws: Any = None) -> None:
        self.manifest = manifest if isinstance(manifest, (LocalSource, S3Source, GitSource)) else open_source(manifest, aws=aws)
        self.explicit_tf = (tf_outputs if isinstance(tf_outputs, (LocalSource, S3Source, GitSource)) or tf_outputs is None
                            else open_source(tf_outputs, aws=aws))
        self._aws = aws
        self._manifest_data: bytes | None = None
        self._tf_key: str | None = None
        self._tf: Source | None = self.explicit_tf
        self._tf_data: bytes | None = None
        self._tmp: Path | None = None
        self.loaded: Any = None
        self.outcome = "unchanged"      # unchanged | updated | unreadable | invalid
        self.error: str | None = None
        self.version: str | None = None

    @property
    def tf_source(self) -> Source | None:
        return self._tf

    def _derived_tf(self) -> Source | None:
        """spec.terraformOutputs of the manifest just read, relative to the manifest's source."""
        if self.explicit_tf is not None or self._manifest_data is None:
            return self.explicit_tf
        ref = _terraform_outputs_ref(self._manifest_data)
        if not isinstance(ref, str) or not ref:
            self._tf_key = None
            return None
        if ref != self._tf_key or self._tf is None:
            self._tf_key = ref
            if ref.startswith(("s3://", "git+")):
                return open_source(ref, aws=self._aws)
            if os.path.isabs(ref):
                return LocalSource(ref)
            return self.manifest.sibling(ref)
        return self._tf

    async def refresh(self) -> bool:
        """Read the sources; True when a new valid spec took effect. Raises on the first load only."""
        from fleetctl.controller.errors import ManifestError

        try:
            got = await self.manifest.read()
            if got is not None:
                self._manifest_data = got.data
                self.version = got.version[:12]
            tf = self._derived_tf()
            if tf is not self._tf:
                self._tf, self._tf_data = tf, None
            tf_got = await tf.read() if tf is not None else None
            if tf_got is not None:
                self._tf_data = tf_got.data
        except SourceError as exc:
            if self.loaded is None:
                raise
            self.outcome, self.error = "unreadable", str(exc)
            return False
        if got is None and tf_got is None and self.loaded is not None:
            self.outcome = "unchanged"
            return False
        try:
            loaded = self._parse()
        except ManifestError as exc:
            if self.loaded is None:
                raise
            self.outcome, self.error = "invalid", "; ".join(str(exc).splitlines())
            return False
        except SourceError as exc:
            if self.loaded is None:
                raise
            self.outcome, self.error = "unreadable", str(exc)
            return False
        self.loaded, self.outcome, self.error = loaded, "updated", None
        return True

    def _parse(self) -> Any:
        from fleetctl.controller.manifest import load_manifest
        from fleetctl.controller.manifest.load import parse_manifest

        tf_path: Path | None = None
        if isinstance(self._tf, LocalSource):
            tf_path = self._tf.path if self.explicit_tf is not None else None
        elif self._tf is not None and self._tf_data is not None:
            tf_path = self._scratch() / "terraform-outputs.json"
            tf_path.write_bytes(self._tf_data)
        if isinstance(self.manifest, LocalSource):
            if isinstance(self._tf, LocalSource) and self.explicit_tf is None:
                tf_path = None  # spec.terraformOutputs, resolved by the loader as always
            return load_manifest(self.manifest.path, tf_outputs=tf_path)
        assert self._manifest_data is not None
        try:
            text = self._manifest_data.decode("utf-8")
        except UnicodeDecodeError:
            from fleetctl.controller.errors import ManifestError, ManifestIssue

            raise ManifestError([ManifestIssue(self.manifest.describe(), "", "not UTF-8 text; not a YAML manifest", None)]) from None
        if tf_path is None and self._tf is not None:
            raise SourceError(f"{self._tf.describe()}: not read")
        return parse_manifest(text, source=self.manifest.describe(), base_dir=self._scratch(), tf_outputs=tf_path)

    def _scratch(self) -> Path:
        if self._tmp is None:
            self._tmp = Path(tempfile.mkdtemp(prefix="fleetctl-spec-"))
        return self._tmp

    async def aclose(self) -> None:
        for source in {id(s): s for s in (self.manifest, self._tf, self.explicit_tf) if s is not None}.values():
            await source.aclose()
        if self._tmp is not None:
            import shutil

            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None
