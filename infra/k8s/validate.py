"""Checks the Kubernetes manifests in infra/k8s/ against the real CRD schemas of the operators that run them.

    python infra/k8s/validate.py --fetch          # once: CRDs into infra/.cache/k8s-crds (needs mvn and Java 21+)
    python infra/k8s/validate.py [MANIFEST ...]   # default: every *.yaml in infra/k8s/

Each custom resource is checked against the openAPIV3Schema of its CRD and API version, as the Kubernetes API
server does with strict field validation (`kubectl apply --validate=strict`, kubectl's default): wrong types, values
outside an enum, missing required fields, and unknown fields (typos) are errors. It prints one line per problem,
`file:line: Kind name: field.path: what is wrong`, and exits 1 if there is any, 2 if the CRDs are missing.
Nothing is sent to a cluster; the operators' own checks (for example Strimzi's supported Kafka versions or the
Flink operator's configuration rules) are not repeated here.

Where the CRDs come from (versions pinned in infra/pom.xml, profile `k8s-crds`, fetched from Maven Central):
- Strimzi 1.2.0 (`Kafka`, `KafkaNodePool`, `KafkaTopic`, API `kafka.strimzi.io/v1`): Strimzi ships no CRD YAML in a
  jar, so `--fetch` runs Strimzi's own CrdGenerator over the io.strimzi:api 1.2.0 classes with the arguments of
  Strimzi's build (api/pom.xml). Those classes are Java 21 class files: set CRD_JAVA to a java 21+ if the one on
  PATH is older (the newest JDK under /usr/lib/jvm is tried too).
- Flink Kubernetes Operator (`FlinkDeployment`): the CRD YAML inside org.apache.flink:flink-kubernetes-operator-api.
  The newest version on the Maven Central reachable here is 1.10.0, older than the operator the manifest needs
  (1.15, the first that accepts Flink 2.2). Its schema is used as it is, except that FLINK_VERSIONS_ADDED are added
  to `spec.flinkVersion`'s enum; the note printed on every run says so. Fields added to the CRD after 1.10 would be
  reported as unknown, which is the safe direction.
"""

from __future__ import annotations

import argparse
import copy
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import yaml

HERE = Path(__file__).resolve().parent
INFRA = HERE.parent
CACHE = INFRA / ".cache"
LIBS = CACHE / "k8s-crds-libs"
CRDS = CACHE / "k8s-crds"
READY = ".complete"

FLINK_VERSIONS_ADDED = ("v2_2",)
"""flinkVersion values of the operator the manifest is written for (1.15) that the 1.10.0 CRD schema lacks."""

# Strimzi's CrdGenerator, as Strimzi 1.2.0's api/pom.xml runs it; one CRD per resource kind the manifests use.
STRIMZI_GENERATOR = "io.strimzi.crdgenerator.CrdGenerator"
STRIMZI_ARGS = [
    "--label", "app:strimzi", "--label", "strimzi.io/crd-install:true", "--target-kube", "1.16+",
    "--crd-api-version", "v1", "--api-versions", "v1", "--storage-version", "v1", "--yaml",
]  # fmt: skip
STRIMZI_KINDS = {
    "io.strimzi.api.kafka.model.kafka.Kafka": "kafkas.kafka.strimzi.io.yaml",
    "io.strimzi.api.kafka.model.nodepool.KafkaNodePool": "kafkanodepools.kafka.strimzi.io.yaml",
    "io.strimzi.api.kafka.model.topic.KafkaTopic": "kafkatopics.kafka.strimzi.io.yaml",
}
FLINK_CRD_PREFIX = "META-INF/fabric8/"
FLINK_CRDS = ("flinkdeployments.flink.apache.org-v1.yml", "flinksessionjobs.flink.apache.org-v1.yml")


ENVELOPE = ("apiVersion", "kind", "metadata")
"""Fields every resource has, which the API server checks itself rather than through the CRD schema."""


class FetchError(Exception):
    """The CRDs could not be fetched or generated; the message names the step and the fix."""


@dataclass
class Schema:
    """The schema of one CRD version, made strict, and what was changed in it."""

    group: str
    kind: str
    version: str
    served_versions: list[str]
    validator: jsonschema.Draft4Validator | None
    notes: list[str]


Schemas = dict[tuple[str, str], list[Schema]]
"""(API group, kind) -> the schema of each served version of that CRD."""


# ---------------------------------------------------------------------------------------------------------------
# Fetching and generating the CRDs


def java_major(java: str) -> int:
    """The major version of a `java` executable (8 for 1.8.0), or 0 if it does not run."""
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60).stderr
    except OSError:
        return 0
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not match:
        return 0
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def find_java(minimum: int = 21) -> str | None:
    """A `java` of at least `minimum`: $CRD_JAVA, then PATH and $JAVA_HOME, then the newest under /usr/lib/jvm."""
    if os.environ.get("CRD_JAVA"):
        return os.environ["CRD_JAVA"] if java_major(os.environ["CRD_JAVA"]) >= minimum else None
    candidates = [shutil.which("java"), os.environ.get("JAVA_HOME", "") + "/bin/java"]
    candidates += sorted(map(str, Path("/usr/lib/jvm").glob("*/bin/java")), reverse=True)
    found = [(java_major(c), c) for c in candidates if c and Path(c).exists()]
    best = max(found, default=(0, None))
    return best[1] if best[0] >= minimum else None


def missing_tools() -> list[str]:
    """What `fetch` needs and this machine lacks, as phrases for a skip or error message."""
    missing = [] if shutil.which("mvn") else ["mvn (Maven) on PATH"]
    if find_java() is None:
        missing.append("a Java 21 or newer (set CRD_JAVA)")
    return missing


def ready(crds: Path = CRDS) -> bool:
    """Whether `crds` holds a complete fetch."""
    return (crds / READY).exists()


def fetch(crds: Path = CRDS, libs: Path = LIBS) -> Path:
    """Fetch the pinned jars from Maven Central and write the CRD YAMLs into `crds`; returns `crds`."""
    if missing := missing_tools():
        raise FetchError(f"fetching the CRDs needs {' and '.join(missing)}")
    if not (libs / READY).exists():
        shutil.rmtree(libs, ignore_errors=True)
        _run(
            ["mvn", "-B", "-q", "-f", str(INFRA / "pom.xml"), "-P", "k8s-crds", "dependency:copy-dependencies",
             f"-DoutputDirectory={libs}"],
            "mvn -P k8s-crds dependency:copy-dependencies (infra/pom.xml)",
        )  # fmt: skip
        (libs / READY).write_text("")
    crds.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="k8s-crds.", dir=crds.parent))
    try:
        java = find_java()
        assert java is not None
        outputs = [f"{cls}={work / name}" for cls, name in STRIMZI_KINDS.items()]
        _run([java, "-cp", f"{libs}/*", STRIMZI_GENERATOR, *STRIMZI_ARGS, *outputs], "Strimzi CrdGenerator")
        jar = _one(libs, "flink-kubernetes-operator-api-*.jar")
        with zipfile.ZipFile(jar) as z:
            for name in FLINK_CRDS:
                (work / name).write_bytes(z.read(FLINK_CRD_PREFIX + name))
        versions = {"strimzi-api": _one(libs, "api-*.jar"), "flink-kubernetes-operator-api": jar}
        (work / "SOURCES").write_text("".join(f"{k} {v.name}\n" for k, v in versions.items()))
        (work / READY).write_text("")
        shutil.rmtree(crds, ignore_errors=True)
        work.rename(crds)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return crds


def _run(cmd: list[str], what: str) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise FetchError(f"{what} failed (exit {proc.returncode}):\n{tail}")


def _one(folder: Path, pattern: str) -> Path:
    found = sorted(folder.glob(pattern))
    if len(found) != 1:
        raise FetchError(f"expected one {pattern} in {folder}, found {[p.name for p in found]}")
    return found[0]


# ---------------------------------------------------------------------------------------------------------------
# Loading the schemas


def load_schemas(crds: Path = CRDS) -> Schemas:
    """(API group, kind) -> the schema of each version of that CRD, strict, with the known additions applied."""
    if not ready(crds):
        raise FileNotFoundError(f"no CRDs in {crds}: run `python infra/k8s/validate.py --fetch` (mvn and Java 21+)")
    schemas: Schemas = {}
    for path in sorted([*crds.glob("*.yaml"), *crds.glob("*.yml")]):
        for crd in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if not crd or crd.get("kind") != "CustomResourceDefinition":
                continue
            group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
            served = [v["name"] for v in crd["spec"]["versions"] if v.get("served", True)]
            for version in crd["spec"]["versions"]:
                if not version.get("served", True):
                    continue
                root = copy.deepcopy(version["schema"]["openAPIV3Schema"])
                notes = _add_known_values(group, kind, root)
                body = {k: v for k, v in root.get("properties", {}).items() if k not in ENVELOPE}
                strict = _strict({**root, "properties": body})
                validator = jsonschema.Draft4Validator(strict)
                schemas.setdefault((group, kind), []).append(
                    Schema(group, kind, version["name"], served, validator, notes)
                )
    return schemas


def _add_known_values(group: str, kind: str, root: dict[str, Any]) -> list[str]:
    """Add to the old FlinkDeployment schema the flinkVersion values of the operator the manifest targets."""
    if (group, kind) != ("flink.apache.org", "FlinkDeployment"):
        return []
    field = root["properties"]["spec"]["properties"]["flinkVersion"]
    added = [v for v in FLINK_VERSIONS_ADDED if v not in field["enum"]]
    field["enum"] = field["enum"] + added
    if not added:
        return []
    return [f"spec.flinkVersion: {', '.join(added)} added to the enum of this older CRD (see infra/k8s/validate.py)"]


def _strict(schema: Any) -> Any:
    """The schema with unknown fields forbidden wherever Kubernetes' strict field validation forbids them.

    An object's fields are what its `properties` name, unless it has `additionalProperties` (a map) or
    `x-kubernetes-preserve-unknown-fields`. The branches of allOf/anyOf/oneOf/not only validate, they do not
    declare fields (Kubernetes' structural schema rules), so they are left as they are.
    """
    if not isinstance(schema, dict):
        return schema
    out = dict(schema)
    if "properties" in schema:
        out["properties"] = {name: _strict(sub) for name, sub in schema["properties"].items()}
        if "additionalProperties" not in schema and not schema.get("x-kubernetes-preserve-unknown-fields"):
            out["additionalProperties"] = False
    for keyword in ("items", "additionalProperties"):
        if isinstance(schema.get(keyword), dict):
            out[keyword] = _strict(schema[keyword])
    return out


# ---------------------------------------------------------------------------------------------------------------
# Checking manifests


def check_file(path: Path, schemas: Schemas, label: str | None = None) -> list[str]:
    """Every problem of the resources in one manifest file, as `file:line: Kind name: field: message` lines."""
    label = label or str(path)
    text = path.read_text(encoding="utf-8")
    try:
        pairs = zip(yaml.safe_load_all(text), yaml.compose_all(text), strict=True)
        resources = [(doc, node) for doc, node in pairs if doc is not None]  # empty documents (a stray ---)
    except yaml.YAMLError as exc:
        return [f"{label}: not valid YAML: {exc}"]
    problems = []
    for doc, node in resources:
        problems += [f"{label}:{line}: {msg}" for line, msg in check_resource(doc, node, schemas)]
    return problems


def check_resource(doc: Any, node: yaml.Node, schemas: Schemas) -> Iterator[tuple[int, str]]:
    """(line, message) for each problem of one resource."""
    line = node.start_mark.line + 1
    if not isinstance(doc, dict):
        yield line, "a resource must be a mapping"
        return
    api, kind = str(doc.get("apiVersion", "")), str(doc.get("kind", ""))
    name = (doc.get("metadata") or {}).get("name") if isinstance(doc.get("metadata"), dict) else None
    who = f"{kind or '?'} {name or '?'}"
    if not name:
        yield _line(node, ["metadata"]), f"{who}: metadata.name is missing"
    group, _, version = api.rpartition("/")
    versions = schemas.get((group, kind))
    if versions is None:
        known = ", ".join(sorted(f"{k} ({g})" for g, k in schemas))
        yield line, f"{who}: no CRD for kind {kind!r} in API group {group!r}; the CRDs known here: {known}"
        return
    schema = next((s for s in versions if s.version == version), None)
    if schema is None:
        served = ", ".join(f"{group}/{v}" for v in versions[0].served_versions)
        yield _line(node, ["apiVersion"]), f"{who}: apiVersion {api} is not served by the CRD (it serves {served})"
        return
    assert schema.validator is not None
    body = {k: v for k, v in doc.items() if k not in ENVELOPE}
    for error in sorted(schema.validator.iter_errors(body), key=lambda e: [str(p) for p in e.absolute_path]):
        path = list(error.absolute_path)
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            allowed = set(error.schema.get("properties", {}))
            for extra in sorted(set(error.instance) - allowed):
                where = _dotted([*path, extra])
                choices = ", ".join(sorted(allowed))
                yield _line(node, [*path, extra]), f"{who}: {where}: unknown field (this object has: {choices})"
            continue
        yield _line(node, path), f"{who}: {_dotted(path) or '(resource)'}: {error.message}"


def _dotted(path: list[Any]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _line(node: yaml.Node, path: list[Any]) -> int:
    """The line (1-based) of the deepest entry on `path` that exists: its key's line for a mapping entry."""
    line = node.start_mark.line + 1
    for part in path:
        if isinstance(node, yaml.MappingNode):
            entry = next(((k, v) for k, v in node.value if k.value == str(part)), None)
            if entry is None:
                break
            line, node = entry[0].start_mark.line + 1, entry[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def notes(schemas: Schemas) -> list[str]:
    """What was changed in the CRD schemas before checking, one line each."""
    return [f"{s.kind} {s.group}/{s.version}: {n}" for vs in schemas.values() for s in vs for n in s.notes]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("manifests", nargs="*", type=Path, help="default: every *.yaml in infra/k8s/")
    parser.add_argument("--fetch", action="store_true", help="fetch the pinned jars and (re)make the CRDs first")
    parser.add_argument("--crds", type=Path, default=CRDS, help=f"folder with the CRD YAMLs (default {CRDS})")
    args = parser.parse_args(argv)
    try:
        if args.fetch:
            print(f"validate: CRDs written to {fetch(args.crds)}")
        schemas = load_schemas(args.crds)
    except (FetchError, FileNotFoundError) as exc:
        print(f"validate: {exc}", file=sys.stderr)
        return 2
    sources = (args.crds / "SOURCES").read_text().split() if (args.crds / "SOURCES").exists() else []
    print(f"validate: CRDs from {', '.join(sources[1::2]) or args.crds}")
    for note in notes(schemas):
        print(f"validate: note: {note}")
    manifests = args.manifests or sorted(HERE.glob("*.yaml"))
    problems = []
    for path in manifests:
        found = check_file(path, schemas)
        problems += found
        if not found:
            kinds = [d.get("kind") for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
            print(f"validate: {path}: {len(kinds)} resources match their CRD schemas ({', '.join(kinds)})")
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
