"""The planner's pure core: plan parsing and validation, the DAG, and the run state machine. No I/O, no clocks."""

from services.planner.core.dag import Dag
from services.planner.core.errors import PlanError
from services.planner.core.journal import (
    RunConfigured,
    TaskLeaseExpired,
    TaskRetryScheduled,
    decode_journal_entry,
    encode_journal_entry,
)
from services.planner.core.parse import ParsedPlan, parse_plan, parse_plan_with_lines
from services.planner.core.progress import LLM_TOOL
from services.planner.core.refs import references, resolve_args
from services.planner.core.run import RunState
from services.planner.core.scheduling import SchedulingConfig, choose_strategy, retry_delay_s
from services.planner.core.simulate import simulate, simulate_run
from services.planner.core.validate import load_plan, validate_plan

__all__ = [
    "LLM_TOOL",
    "Dag",
    "ParsedPlan",
    "PlanError",
    "RunConfigured",
    "RunState",
    "SchedulingConfig",
    "TaskLeaseExpired",
    "TaskRetryScheduled",
    "choose_strategy",
    "decode_journal_entry",
    "encode_journal_entry",
    "load_plan",
    "parse_plan",
    "parse_plan_with_lines",
    "references",
    "resolve_args",
    "retry_delay_s",
    "simulate",
    "simulate_run",
    "validate_plan",
]
