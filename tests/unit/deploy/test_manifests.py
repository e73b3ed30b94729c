"""deploy/compose.yaml and deploy/k8s/ against the code: topic names and partitions from the catalogue, variable
names and values the settings accept, metrics ports and health probes, consumer groups, commands that exist."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import msgspec
import pytest
import yaml

from configs.settings import ConfigError, load_section
from services.cli.contracts import config_rows, kafka_topics, settings_sections
from services.cli.main import cli
from services.cli.stack_cli import SERVICE_MODULES
from streams.catalogue import TASKS_READY, TOPIC_SPECS, Catalogue

PROJECT = Path(__file__).resolve().parents[3]
K8S = PROJECT / "deploy" / "k8s"
COMPOSE = yaml.safe_load((PROJECT / "deploy" / "compose.yaml").read_text())
VARIABLES = {"KAFKA_BOOTSTRAP_SERVERS", "GENESIS_CONFIG"} | {
    variable.split("`")[0] for _, variable, _, _ in config_rows()
}
# The services `genesis serve` runs; each answers its health on its metrics port, the console on its own port.
# The local model (`serve llm`) is for a machine without an endpoint; deployments set llm.base_url and llm.model.
SERVED = sorted(set(SERVICE_MODULES) - {"llm"})
HEALTH_PATH = {kind: "/healthz" for kind in SERVED} | {"console": "/api/health"}


def k8s_documents() -> list[dict[str, Any]]:
    documents = []
    for path in sorted(K8S.glob("*.yaml")):
        documents += [document for document in yaml.safe_load_all(path.read_text()) if document]
    return documents


def of_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {document["metadata"]["name"]: document for document in k8s_documents() if document["kind"] == kind}


CONFIG = of_kind("ConfigMap")["genesis-config"]["data"]
DEPLOYMENTS = of_kind("Deployment")


def settings_from(environ: dict[str, str], section: str) -> Any:
    """The section as a service with this environment would load it (with the repository's genesis.yaml)."""
    return load_section(section, settings_sections()[section], environ=environ)


def health_port(environ: dict[str, str], kind: str) -> int:
    settings = settings_from(environ, kind)
    return settings.port if kind == "console" else settings.metrics_port


# --- Kubernetes ----------------------------------------------------------------------------------------------------


def test_kustomization_lists_every_manifest_when_applied() -> None:
    listed = yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"]
    assert sorted(listed) == sorted(path.name for path in K8S.glob("*.yaml") if path.name != "kustomization.yaml")


def test_configmap_names_only_variables_the_settings_read_when_loaded() -> None:
    assert set(CONFIG) <= VARIABLES, set(CONFIG) - VARIABLES
    for section in settings_sections():
        try:
            settings_from(dict(CONFIG), section)
        except ConfigError as error:
            pytest.fail(f"configmap.yaml: {error}")


@pytest.mark.parametrize("kind", SERVED)
def test_deployment_runs_the_service_with_probes_on_its_health_port_when_deployed(kind: str) -> None:
    if kind == "console" and kind not in DEPLOYMENTS:
        pytest.skip("deploy/k8s/console.yaml is not there yet")
    deployment = DEPLOYMENTS[kind]
    pod = deployment["spec"]["template"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    [container] = pod["spec"]["containers"]
    assert container["args"][:2] == ["serve", kind]
    assert {"configMapRef": {"name": "genesis-config"}} in container["envFrom"]
    environ = {**CONFIG, **{item["name"]: item.get("value", "") for item in container.get("env", [])}}
    assert {item["name"] for item in container.get("env", [])} - {"POD_NAME"} <= VARIABLES
    port = health_port(environ, kind)
    for probe in ("readinessProbe", "livenessProbe"):
        probed = container[probe]["httpGet"]
        assert probed["path"] == HEALTH_PATH[kind], probe
        named = {item.get("name"): item["containerPort"] for item in container["ports"]}
        assert named.get(probed["port"], probed["port"]) == port, probe
    if kind != "console":
        assert pod["metadata"]["annotations"]["prometheus.io/port"] == str(port)


def test_single_writers_never_run_twice_when_rolled_out() -> None:
    for kind in ("warehouse", "trainer"):
        assert DEPLOYMENTS[kind]["spec"]["replicas"] == 1
        assert DEPLOYMENTS[kind]["spec"]["strategy"] == {"type": "Recreate"}


def test_keda_scales_executors_on_their_lag_on_tasks_ready_when_deployed() -> None:
    [scaled] = of_kind("ScaledObject").values()
    assert scaled["spec"]["scaleTargetRef"]["name"] in DEPLOYMENTS
    assert DEPLOYMENTS[scaled["spec"]["scaleTargetRef"]["name"]]["spec"]["template"]["spec"]["containers"][0]["args"][
        :2
    ] == ["serve", "executor"]
    [trigger] = scaled["spec"]["triggers"]
    assert trigger["type"] == "kafka"
    executor = settings_from(dict(CONFIG), "executor")
    kafka = settings_from(dict(CONFIG), "kafka")
    assert trigger["metadata"]["consumerGroup"] == executor.group_id
    assert int(trigger["metadata"]["lagThreshold"]) == executor.concurrency  # one replica's worth of waiting tasks
    assert trigger["metadata"]["topic"] == Catalogue(kafka.topic_prefix).name(TASKS_READY)
    assert trigger["metadata"]["bootstrapServers"] == kafka.bootstrap_servers
    assert scaled["spec"]["maxReplicaCount"] <= TASKS_READY.partitions  # more would sit idle
    assert 1 <= scaled["spec"]["minReplicaCount"] <= scaled["spec"]["maxReplicaCount"]


def test_strimzi_cluster_is_kraft_with_a_node_pool_the_services_can_reach_when_deployed() -> None:
    [(name, cluster)] = of_kind("Kafka").items()
    assert cluster["metadata"]["annotations"] == {"strimzi.io/kraft": "enabled", "strimzi.io/node-pools": "enabled"}
    pools = [
        pool for pool in of_kind("KafkaNodePool").values() if pool["metadata"]["labels"]["strimzi.io/cluster"] == name
    ]
    assert {"controller", "broker"} <= {role for pool in pools for role in pool["spec"]["roles"]}
    brokers = sum(pool["spec"]["replicas"] for pool in pools if "broker" in pool["spec"]["roles"])
    [listener] = [item for item in cluster["spec"]["kafka"]["listeners"] if not item["tls"]]
    assert settings_from(dict(CONFIG), "kafka").bootstrap_servers == f"{name}-kafka-bootstrap:{listener['port']}"
    assert settings_from(dict(CONFIG), "kafka").replication_factor <= brokers
    assert cluster["spec"]["kafka"]["config"]["min.insync.replicas"] < brokers  # acks=all survives one node down
    for topic in of_kind("KafkaTopic").values():
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == name
        assert topic["spec"]["replicas"] <= brokers


def test_kafka_topics_match_the_catalogue_when_deployed() -> None:
    prefix = settings_from(dict(CONFIG), "kafka").topic_prefix
    topics = {topic["spec"]["topicName"]: topic["spec"] for topic in of_kind("KafkaTopic").values()}
    catalogue = Catalogue(prefix)
    assert sorted(topics) == sorted(catalogue.names())
    for spec in TOPIC_SPECS:
        deployed = topics[catalogue.name(spec)]
        assert deployed["partitions"] == spec.partitions
        assert deployed["config"] == {
            **spec.configs(),
            "max.message.bytes": str(settings_from(dict(CONFIG), "kafka").max_message_bytes),
        }
    assert [topic["spec"] for topic in kafka_topics(catalogue)] == [topics[name] for name in catalogue.names()]
    for name in of_kind("KafkaTopic"):
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", name), f"{name} is not a valid resource name"


def test_disruption_budgets_select_running_deployments_when_drained() -> None:
    budgets = of_kind("PodDisruptionBudget")
    assert {"planner", "executor"} <= set(budgets)
    for budget in budgets.values():
        selected = budget["spec"]["selector"]["matchLabels"]
        matching = [
            deployment
            for deployment in DEPLOYMENTS.values()
            if selected.items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert matching, f"PodDisruptionBudget {budget['metadata']['name']} selects no pods"
        assert all(deployment["spec"]["replicas"] > budget["spec"]["minAvailable"] for deployment in matching)


# --- Docker compose ------------------------------------------------------------------------------------------------


def compose_command(service: dict[str, Any]) -> list[str]:
    if "entrypoint" in service:  # sh -c "exec genesis ..."
        return service["entrypoint"][-1].replace('"', "").split()[2:]
    return service.get("command", [])


def test_compose_runs_every_service_with_a_health_check_and_restart_policy_when_up() -> None:
    services = COMPOSE["services"]
    served = {kind: service for kind, service in services.items() if compose_command(service)[:1] == ["serve"]}
    assert sorted(served) == SERVED
    for kind, service in served.items():
        assert compose_command(service)[1] == kind
        assert service["restart"] in ("unless-stopped", "always", "on-failure")
        environ = {key: str(value) for key, value in service["environment"].items()}
        assert set(environ) <= VARIABLES, set(environ) - VARIABLES
        port = health_port(environ, kind)
        assert f"http://127.0.0.1:{port}{HEALTH_PATH[kind]}" in " ".join(service["healthcheck"]["test"])
    assert services["kafka"]["healthcheck"] and services["kafka"]["restart"] == "unless-stopped"


def test_compose_executors_scale_when_asked_for_more() -> None:
    executor = COMPOSE["services"]["executor"]
    assert "container_name" not in executor and "ports" not in executor
    assert "$$HOSTNAME" in executor["entrypoint"][-1]  # each replica names itself


def test_compose_services_reach_kafka_on_its_internal_listener_when_up() -> None:
    kafka = COMPOSE["services"]["kafka"]["environment"]
    advertised = dict(item.split("://") for item in kafka["KAFKA_ADVERTISED_LISTENERS"].split(","))
    internal = advertised[kafka["KAFKA_INTER_BROKER_LISTENER_NAME"]]
    for name, service in COMPOSE["services"].items():
        if name != "kafka":
            assert service["environment"]["KAFKA_BOOTSTRAP_SERVERS"] == internal, name


def test_compose_commands_are_genesis_commands_when_run() -> None:
    root = cli()
    for name, service in COMPOSE["services"].items():
        if name == "kafka":
            continue
        command = compose_command(service)
        group = root
        while command and getattr(group, "commands", None) and command[0] in group.commands:
            group, command = group.commands[command[0]], command[1:]
        assert group is not root and not getattr(group, "commands", None), f"{name}: {compose_command(service)}"
        options = {option for param in group.params for option in getattr(param, "opts", [])}
        assert {word for word in command if word.startswith("--")} <= options, f"{name}: {command}"


def test_compose_console_is_reachable_from_the_host_when_up() -> None:
    console = COMPOSE["services"]["console"]
    settings = settings_from({key: str(value) for key, value in console["environment"].items()}, "console")
    assert f"{settings.port}:{settings.port}" in console["ports"] and settings.host == "0.0.0.0"


def test_settings_types_are_structs_when_discovered() -> None:
    assert all(issubclass(kind, msgspec.Struct) for kind in settings_sections().values())


def test_image_holds_every_package_of_the_project_when_built() -> None:
    import tomllib

    packages = tomllib.loads((PROJECT / "pyproject.toml").read_text())["tool"]["hatch"]["build"]["targets"]["wheel"][
        "packages"
    ]
    dockerfile = (PROJECT / "deploy" / "Dockerfile").read_text()
    for package in packages:
        assert f"COPY {package} {package}" in dockerfile, package
    assert 'ENTRYPOINT ["genesis"]' in dockerfile
    assert {service.get("build", {}).get("dockerfile") for service in COMPOSE["services"].values()} - {None} == {
        "deploy/Dockerfile"
    }


def test_services_select_pods_and_ports_that_exist_when_deployed() -> None:
    for name, service in of_kind("Service").items():
        selector = service["spec"]["selector"]
        pods = [
            deployment["spec"]["template"]
            for deployment in DEPLOYMENTS.values()
            if selector.items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert pods, f"Service {name} selects no pods"
        for port in service["spec"]["ports"]:
            for pod in pods:
                named = {item.get("name") for container in pod["spec"]["containers"] for item in container["ports"]}
                assert port["targetPort"] in named, f"Service {name}: no container port {port['targetPort']}"


def test_volumes_claim_what_exists_when_mounted() -> None:
    claims = set(of_kind("PersistentVolumeClaim"))
    for name, deployment in DEPLOYMENTS.items():
        pod = deployment["spec"]["template"]["spec"]
        volumes = {volume["name"]: volume for volume in pod.get("volumes", [])}
        for volume in volumes.values():
            if "persistentVolumeClaim" in volume:
                assert volume["persistentVolumeClaim"]["claimName"] in claims, name
        for container in pod["containers"]:
            for mount in container.get("volumeMounts", []):
                assert mount["name"] in volumes, f"{name}: mounts unknown volume {mount['name']}"
    warehouse_dir = settings_from(dict(CONFIG), "warehouse").dir
    mounts = [
        m["mountPath"] for m in DEPLOYMENTS["warehouse"]["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
    ]
    assert warehouse_dir in mounts  # the DuckDB file and its snapshots live on the claim
