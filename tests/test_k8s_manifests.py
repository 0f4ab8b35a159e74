"""infra/k8s: the manifests against the real CRD schemas (infra/k8s/validate.py), and against the project itself.

The CRDs come from Maven Central through infra/pom.xml (profile k8s-crds); the first run fetches them into
infra/.cache/k8s-crds, which takes about 20 s. Without Maven or a Java 21+ the schema tests are skipped, saying so.
Nothing here talks to a Kubernetes cluster.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT / "infra/k8s"
MANIFESTS = [K8S / "kafka.yaml", K8S / "flink-deployment.yaml"]

_spec = importlib.util.spec_from_file_location("k8s_validate", K8S / "validate.py")
assert _spec and _spec.loader
validate = sys.modules["k8s_validate"] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(validate)


@pytest.fixture(scope="module")
def schemas():
    """The CRD schemas, fetched and generated on first use."""
    if not validate.ready():
        if missing := validate.missing_tools():
            pytest.skip(f"the CRDs are not in {validate.CRDS} and fetching them needs {' and '.join(missing)}")
        validate.fetch()
    return validate.load_schemas()


def resources(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


def one(path: Path, kind: str) -> dict:
    (found,) = [d for d in resources(path) if d["kind"] == kind]
    return found


@pytest.mark.slow
@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_the_manifests_match_their_crd_schemas(schemas, path):
    assert validate.check_file(path, schemas) == []


# (manifest, text in it, broken replacement, what the error must say). The first occurrence outside a comment
# is replaced.
BROKEN = {
    "enum": (
        "flink-deployment.yaml",
        "upgradeMode: last-state",
        "upgradeMode: last_state",
        "spec.job.upgradeMode: 'last_state' is not one of",
    ),
    "type-in-a-map": (
        "flink-deployment.yaml",
        'numberOfTaskSlots: "1"',
        "numberOfTaskSlots: 1",
        "spec.flinkConfiguration.taskmanager.numberOfTaskSlots: 1 is not of type 'string'",
    ),
    "typo-deep-in-the-pod-template": (
        "flink-deployment.yaml",
        "volumeMounts:",
        "volumeMount:",
        "spec.taskManager.podTemplate.spec.containers[0].volumeMount: unknown field",
    ),
    "flink-version": (
        "flink-deployment.yaml",
        "flinkVersion: v2_2",
        "flinkVersion: v2_9",
        "spec.flinkVersion: 'v2_9' is not one of",
    ),
    "integer": (
        "kafka.yaml",
        "partitions: 12",
        "partitions: twelve",
        "KafkaTopic access-logs: spec.partitions: 'twelve' is not of type 'integer'",
    ),
    "list-item": (
        "kafka.yaml",
        "roles: [broker]",
        "roles: [worker]",
        "KafkaNodePool brokers: spec.roles[0]: 'worker' is not one of",
    ),
    "required-and-typo": (
        "kafka.yaml",
        "    listeners:",
        "    listenerz:",
        "Kafka scrapeguard: spec.kafka.listenerz: unknown field",
    ),
    "old-api-version": (
        "kafka.yaml",
        "kafka.strimzi.io/v1\nkind: Kafka\n",
        "kafka.strimzi.io/v1beta2\nkind: Kafka\n",
        "apiVersion kafka.strimzi.io/v1beta2 is not served by the CRD (it serves kafka.strimzi.io/v1)",
    ),
}


def first_outside_comments(text: str, needle: str) -> int:
    """Offset of the first `needle` in `text` that is not inside a YAML comment."""
    for match in re.finditer(re.escape(needle), text):
        if "#" not in text[text.rfind("\n", 0, match.start()) + 1 : match.start()]:
            return match.start()
    raise AssertionError(f"no {needle!r} outside comments: update this case")


@pytest.mark.slow
@pytest.mark.parametrize("case", BROKEN.values(), ids=BROKEN.keys())
def test_a_broken_copy_fails_naming_the_field_and_its_line(schemas, tmp_path, case):
    name, good, bad, expected = case
    text = (K8S / name).read_text(encoding="utf-8")
    at = first_outside_comments(text, good)
    broken = tmp_path / name
    broken.write_text(text[:at] + bad + text[at + len(good) :], encoding="utf-8")
    line = text[:at].count("\n") + 1  # where the broken text starts

    problems = validate.check_file(broken, schemas)

    assert any(expected in p for p in problems), problems
    (hit,) = [p for p in problems if expected in p]
    assert hit.startswith(f"{broken}:{line}: "), hit


@pytest.mark.slow
def test_the_command_exits_1_on_a_broken_manifest_and_0_on_the_real_ones(schemas, tmp_path):
    broken = tmp_path / "kafka.yaml"
    broken.write_text((K8S / "kafka.yaml").read_text().replace("type: internal", "type: intern", 1))
    command = [sys.executable, str(K8S / "validate.py")]

    bad = subprocess.run([*command, str(broken)], capture_output=True, text=True, timeout=120)
    good = subprocess.run(command, capture_output=True, text=True, timeout=120)

    assert bad.returncode == 1 and f"{broken}:" in bad.stderr and "spec.kafka.listeners[0].type" in bad.stderr
    assert good.returncode == 0, good.stdout + good.stderr
    assert "kafka.yaml: 7 resources match" in good.stdout and "flink-deployment.yaml: 1 resources match" in good.stdout


def test_the_kafka_topics_have_the_settings_of_jobs_topics():
    from jobs.topics import TOPICS

    topics = {d["metadata"]["name"]: d["spec"] for d in resources(K8S / "kafka.yaml") if d["kind"] == "KafkaTopic"}
    assert set(topics) == set(TOPICS)
    for name, (partitions, configs) in TOPICS.items():
        spec = topics[name]
        assert {k: str(v) for k, v in spec["config"].items()} == configs, name
        assert partitions is None or spec["partitions"] == partitions, name
        assert spec["replicas"] == 3, name


def test_the_job_the_operator_and_kafka_agree():
    deployment = one(K8S / "flink-deployment.yaml", "FlinkDeployment")["spec"]
    kafka = one(K8S / "kafka.yaml", "Kafka")
    conf, job = deployment["flinkConfiguration"], deployment["job"]
    args = job["args"]
    flags = dict(zip(args[3::2], args[4::2], strict=True))  # after -py FILE run

    assert args[:3] == ["-py", "/opt/scrapeguard/jobs/cli.py", "run"]
    assert flags["--checkpoint-dir"] == conf["execution.checkpointing.dir"]
    assert flags["--checkpoint-interval"] == conf["execution.checkpointing.interval"]
    assert flags["--state-backend"] == conf["state.backend.type"]
    assert int(flags["--parallelism"]) == job["parallelism"] <= int(conf["pipeline.max-parallelism"])
    access_logs = next(d for d in resources(K8S / "kafka.yaml") if d["metadata"]["name"] == "access-logs")
    assert job["parallelism"] <= access_logs["spec"]["partitions"]
    host, port = flags["--bootstrap-servers"].split(":")
    assert host == f"{kafka['metadata']['name']}-kafka-bootstrap"
    assert any(x["port"] == int(port) and not x["tls"] for x in kafka["spec"]["kafka"]["listeners"])
    # upgradeMode last-state needs Kubernetes HA and a checkpoint directory the operator can see.
    assert job["upgradeMode"] == "last-state" and conf["high-availability.type"] == "kubernetes"


def test_each_task_manager_runs_one_slot_in_thread_mode():
    """The job runs its Python operators in thread mode (`jobs.detect.flink_configuration`): one interpreter per
    TaskManager JVM, so the deployment scales Python with TaskManagers, one slot each, not with slots."""
    from jobs.detect import flink_configuration

    conf = one(K8S / "flink-deployment.yaml", "FlinkDeployment")["spec"]["flinkConfiguration"]
    assert flink_configuration().get_string("python.execution-mode", "") == "thread"
    assert conf["taskmanager.numberOfTaskSlots"] == "1"


def test_the_versions_agree_with_the_project():
    pins = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    flink = next(re.search(r"==([\d.]+)", p).group(1) for p in pins if p.startswith("apache-flink=="))
    major, minor, _ = flink.split(".")
    pom = (ROOT / "infra/pom.xml").read_text()
    kafka_version = re.search(r"<kafka.version>(.+)</kafka.version>", pom).group(1)
    deployment = one(K8S / "flink-deployment.yaml", "FlinkDeployment")["spec"]

    assert deployment["flinkVersion"] == f"v{major}_{minor}"
    assert deployment["job"]["jarURI"] == f"local:///opt/flink/opt/flink-python-{flink}.jar"
    assert f"ARG FLINK_IMAGE=flink:{flink}-" in (K8S / "Dockerfile").read_text()
    assert one(K8S / "kafka.yaml", "Kafka")["spec"]["kafka"]["version"] == kafka_version


def test_the_job_flags_are_those_of_scrapeguard_run():
    """Once `scrapeguard run` has its Kafka mode, every flag the FlinkDeployment passes must exist."""
    help_text = subprocess.run(
        [sys.executable, "-m", "jobs.cli", "run", "--help"], capture_output=True, text=True, timeout=120, cwd=ROOT
    ).stdout
    if "--bootstrap-servers" not in help_text:
        pytest.skip("`scrapeguard run` has no Kafka mode (--bootstrap-servers) yet")
    args = one(K8S / "flink-deployment.yaml", "FlinkDeployment")["spec"]["job"]["args"]
    missing = [a for a in args if a.startswith("--") and not re.search(rf"(?<![\w-]){a}(?![\w-])", help_text)]
    assert not missing, f"infra/k8s/flink-deployment.yaml passes flags `scrapeguard run` does not have: {missing}"
