"""Every section of configs/genesis.yaml and the settings struct that reads it."""

from deploy.local_kafka import LocalKafkaSettings
from services.console.settings import ConsoleSettings
from services.curator.settings import CuratorSettings
from services.executor.settings import ExecutorSettings
from services.executor.tools.settings import ToolSettings
from services.llm.settings import LlmSettings
from services.planner.settings import PlannerSettings
from services.runtime.settings import RuntimeSettings
from services.runtime.telemetry import TelemetrySettings
from services.trainer.settings import TrainerServiceSettings
from services.warehouse.settings import WarehouseSettings
from streams.settings import KafkaSettings

SECTION_TYPES = {
    "kafka": KafkaSettings,
    "local_kafka": LocalKafkaSettings,
    "runtime": RuntimeSettings,
    "executor": ExecutorSettings,
    "planner": PlannerSettings,
    "llm": LlmSettings,
    "tools": ToolSettings,
    "curator": CuratorSettings,
    "warehouse": WarehouseSettings,
    "trainer": TrainerServiceSettings,
    "telemetry": TelemetrySettings,
    "console": ConsoleSettings,
}
