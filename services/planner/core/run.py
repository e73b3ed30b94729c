"""One run as an event-sourced aggregate: every decision is an event, and state changes only by applying events.

Entry points return the events to publish and apply them first: ``begin`` (a planned run), ``on_task_started``
(an executor began an attempt: its lease now runs from there), ``on_task_finished`` (a result from an executor),
``on_cancel`` (a producer asked the run to stop), ``on_answer`` (the LLM wrote the answer), ``on_replan`` (the LLM
wrote a sub-plan for a task that failed for good: services/planner/core/replan.py), ``on_tick`` (time passed: due
retries, expired leases, the deadline, an answer or a sub-plan that did not come). ``history`` is the
run's journal: the founding RunPlanned and RunConfigured, every accepted TaskFinished and every emitted event, in the
order they were applied. ``replay(history)`` rebuilds an equal state (facts that change nothing are not recorded, so
a journal with redelivered results replays to the same history too).

Decisions are level-triggered: after any change, ``_advance`` looks at the whole state and emits whatever is owed
(retry schedules, re-dispatches, skips, new dispatches, the finish). So a journal cut between a consumed result and
the decisions it caused heals on the next ``on_tick`` (call it once after a replay).

Task life: pending -> running -> succeeded | retrying -> running ... | failed; pending -> skipped (a dependency
failed, the deadline passed, or the run was cancelled; at the deadline running and retrying tasks are skipped too,
at a cancellation those whose attempt has not started).

Leases: a dispatched attempt must start by ``TaskReady.start_by`` (dispatch + ``start_timeout_s``, so time queued in
Kafka is visible and bounded); once TaskStarted arrives it must finish within its timeout plus ``lease_grace_s``.
Either expiry re-dispatches it as the next attempt, and results of a superseded attempt are ignored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from schemas.events import (
    Event,
    RunCancelRequested,
    RunFinished,
    RunPlanned,
    RunReplanned,
    RunRequested,
    TaskFinished,
    TaskReady,
    TaskSkipped,
    TaskStarted,
    new_event_id,
)
from schemas.plan import Plan
from schemas.policy import Policy
from services.planner.core.dag import Dag
from services.planner.core.journal import (
    AnswerRequested,
    ReplanFailed,
    ReplanRequested,
    RunConfigured,
    TaskLeaseExpired,
    TaskRetryScheduled,
)
from services.planner.core.outcome import finished_event, settled_status
from services.planner.core.progress import LLM_TOOL, SETTLED, TaskProgress, tool_and_args
from services.planner.core.replan import Replans, decide_replan, replan_note, requests_owed
from services.planner.core.scheduling import ExecutionStrategy, SchedulingConfig, choose_strategy, retry_delay_s

__all__ = ["LLM_TOOL", "RunState", "SchedulingConfig", "TaskProgress", "choose_strategy"]


@dataclass(kw_only=True)
class RunState:
    run_id: str
    plan: Plan
    strategy: ExecutionStrategy
    policy: Policy
    config: SchedulingConfig
    planned_at: datetime
    deadline_at: datetime
    expected_answer: str | None
    labels: dict[str, str]
    tasks: dict[str, TaskProgress]
    turns: int = 0
    tool_errors: int = 0
    tokens: int = 0
    outcome: RunFinished | None = None
    cancel_reason: str | None = None
    cancelled: bool = False
    # Set while the LLM writes the answer: the run finishes without it at this time.
    answer_due_at: datetime | None = None
    # Re-planning (services/planner/core/replan.py): the request's allowed tools bind a sub-plan too.
    allowed_tools: list[str] | None = None
    replans: Replans = field(default_factory=Replans)
    history: list[Event] = field(default_factory=list)
    # Derived from the plan or injected: not part of what a replay must reproduce.
    dag: Dag = field(compare=False, repr=False)
    new_id: Callable[[], str] = field(compare=False, repr=False)
    # Indexes over ``tasks``, derived (``_index``) and kept up to date by ``_fold``: the tasks in each status, and
    # the pending tasks whose dependencies have all succeeded. A change costs what it touches, not the whole run.
    _by_status: dict[str, set[str]] = field(init=False, default_factory=dict, compare=False, repr=False)
    _unmet: dict[str, int] = field(init=False, default_factory=dict, compare=False, repr=False)
    _ready: set[str] = field(init=False, default_factory=set, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._index()

    @classmethod
    def begin(
        cls,
        request: RunRequested,
        plan: Plan,
        *,
        policy: Policy,
        strategy: ExecutionStrategy,
        config: SchedulingConfig,
        now: datetime,
        new_id: Callable[[], str],
        planning_tokens: int = 0,
    ) -> tuple[RunState, list[Event]]:
        """A run for a validated plan: RunPlanned, RunConfigured (journal only), then the first TaskReady events.
        ``planning_tokens``: what the model calls that drafted the plan cost, counted in the run's tokens."""
        dag = Dag.from_plan(plan)
        envelope = {"run_id": request.run_id, "occurred_at": now}
        planned = RunPlanned(
            event_id=new_id(),
            **envelope,
            plan=plan,
            strategy=strategy,
            levels=dag.levels(),
            critical_path=dag.critical_path(),
            policy_version=policy.version,
            deadline_at=now + timedelta(seconds=request.deadline_s or config.default_deadline_s),
        )
        configured = RunConfigured(
            event_id=new_id(),
            **envelope,
            policy=policy,
            config=config,
            expected_answer=request.expected_answer,
            labels=dict(request.labels),
            allowed_tools=request.allowed_tools,
            planning_tokens=planning_tokens,
        )
        state = cls._found(planned, configured, new_id, dag=dag)
        return state, [planned, configured, *state._advance(now)]

    @classmethod
    def replay(cls, events: Iterable[Event], *, new_id: Callable[[], str] = new_event_id) -> RunState:
        """The state the journal's events produce; events before RunPlanned and RunConfigured (the request) are
        skipped. ValueError when the journal never founded the run."""
        planned: RunPlanned | None = None
        configured: RunConfigured | None = None
        state: RunState | None = None
        for event in events:
            if state is not None:
                state._fold(event)
            elif isinstance(event, RunPlanned):
                planned = event
            elif isinstance(event, RunConfigured):
                configured = event
            if state is None and planned is not None and configured is not None:
                state = cls._found(planned, configured, new_id)
        if state is None:
            raise ValueError("the journal has no RunPlanned and RunConfigured to found the run on")
        return state

    @classmethod
    def _found(
        cls, planned: RunPlanned, configured: RunConfigured, new_id: Callable[[], str], *, dag: Dag | None = None
    ) -> RunState:
        if planned.deadline_at is None:
            raise ValueError(f"RunPlanned of run {planned.run_id} has no deadline; begin() always sets one")
        return cls(
            run_id=planned.run_id,
            plan=planned.plan,
            strategy=planned.strategy,
            policy=configured.policy,
            config=configured.config,
            planned_at=planned.occurred_at,
            deadline_at=planned.deadline_at,
            expected_answer=configured.expected_answer,
            labels=dict(configured.labels),
            allowed_tools=configured.allowed_tools,
            tokens=configured.planning_tokens,
            tasks={task.id: TaskProgress() for task in planned.plan.tasks},
            history=[planned, configured],
            dag=dag or Dag.from_plan(planned.plan),
            new_id=new_id,
        )

    @property
    def finished(self) -> bool:
        return self.outcome is not None

    @property
    def max_attempts(self) -> int:
        return max(1, self.policy.max_attempts)

    def on_task_finished(self, event: TaskFinished, now: datetime, *, as_of: datetime | None = None) -> list[Event]:
        """Apply an executor's result (the first one per task wins) and return what it unlocks; [] when ignored.
        ``as_of``: the time leases and the deadline are judged at, when not ``now`` (see ``_advance``)."""
        if not self._accepts(event):
            return []
        self._fold(event)
        return self._advance(now, as_of)

    def on_task_started(self, event: TaskStarted, now: datetime, *, as_of: datetime | None = None) -> list[Event]:
        """An executor began the running attempt: its lease now runs from the start; [] when stale or repeated."""
        if event.run_id != self.run_id or self.finished:
            return []
        before = len(self.history)
        self._fold(event)
        return self._advance(now, as_of) if len(self.history) > before else []

    def on_cancel(self, event: RunCancelRequested, now: datetime) -> list[Event]:
        """End the run as cancelled: tasks not started are skipped; [] when it has finished already."""
        if event.run_id != self.run_id or self.finished or self.cancelled:
            return []
        self._fold(event)
        return self._advance(now)

    def on_answer(self, answer: str | None, now: datetime, *, tokens: int = 0) -> list[Event]:
        """The LLM's answer (None: it failed), while the run waits for one; the run finishes with it, and its
        tokens count the ``tokens`` the answer's model calls took."""
        if self.finished or self.answer_due_at is None:
            return []
        out: list[Event] = []
        self._emit(out, finished_event(self, self._envelope(now), synthesized=answer, answer_tokens=tokens))
        return out

    def on_replan(
        self, task_id: str, subplan: Plan | None, problem: str | None, now: datetime, *, tokens: int = 0
    ) -> list[Event]:
        """The LLM's sub-plan for ``task_id``, which failed for good (None: none came, ``problem`` says why), while
        the run waits for it: RunReplanned and what the new tasks unlock, or ReplanFailed and the skips. Either
        fact carries ``tokens``, what the model calls took, and the run counts them."""
        if self.finished or task_id not in self.replans.waiting:
            return []
        out: list[Event] = []
        self._emit(out, decide_replan(self, task_id, subplan, problem, self._envelope(now), tokens=tokens))
        return out + self._advance(now)

    def on_tick(self, now: datetime, *, as_of: datetime | None = None) -> list[Event]:
        return self._advance(now, as_of)

    def with_status(self, status: str) -> frozenset[str]:
        """The ids of the tasks in ``status`` now (from the index, without a scan)."""
        return frozenset(self._by_status[status])

    def next_wakeup(self) -> datetime | None:
        """When on_tick has something to do at the latest: a due retry, a lease expiry, the deadline, or the end
        of the wait for an answer."""
        if self.finished:
            return None
        if self.answer_due_at is not None:
            return self.answer_due_at
        moments = [self.deadline_at]
        if (replan_due := self.replans.next_due()) is not None:
            moments.append(replan_due)
        for task_id in (*self._by_status["running"], *self._by_status["retrying"]):
            progress = self.tasks[task_id]
            moments += [moment for moment in (progress.lease_expires_at, progress.retry_due_at) if moment is not None]
        return min(moments)

    # -- evolve: the only place state changes ------------------------------------------------------------------

    def _fold(self, event: Event) -> None:
        task_id = getattr(event, "task_id", None)
        progress = self.tasks.get(task_id) if isinstance(task_id, str) else None
        before = progress.status if progress is not None else None
        if self._apply(event):
            self.history.append(event)
            if progress is not None and progress.status != before:
                self._moved(task_id, before, progress.status)

    def _index(self) -> None:
        """Derive the indexes from ``tasks`` and the DAG (at founding, and when the plan changes)."""
        self._by_status = {status: set() for status in ("pending", "running", "retrying", *SETTLED)}
        for task_id, progress in self.tasks.items():
            self._by_status[progress.status].add(task_id)
        self._unmet = {
            task_id: sum(self.tasks[dep].status != "succeeded" for dep in self.dag.deps[task_id])
            for task_id in self.tasks
        }
        self._ready = {task_id for task_id in self._by_status["pending"] if not self._unmet[task_id]}

    def _moved(self, task_id: str, before: str | None, after: str) -> None:
        if before is not None:
            self._by_status[before].discard(task_id)
        self._by_status[after].add(task_id)
        self._ready.discard(task_id)
        if after == "succeeded":
            for child in self.dag.children(task_id):
                self._unmet[child] -= 1
                if not self._unmet[child] and self.tasks[child].status == "pending":
                    self._ready.add(child)

    def _apply(self, event: Event) -> bool:
        """Evolve the state by one fact; False (and no change) for facts that change nothing here."""
        match event:
            case TaskReady(task_id=task_id, occurred_at=at) if self._is_new_attempt(task_id, event.attempt):
                grace = timedelta(seconds=self.config.lease_grace_s)
                # Journals written before start_by existed: the lease runs from the dispatch.
                must_start_by = event.start_by or at + timedelta(seconds=event.timeout_s)
                self.tasks[task_id].start_attempt(event.attempt, at, must_start_by + grace, event.timeout_s)
            case TaskStarted(task_id=task_id) if self._starts_running_attempt(event):
                progress = self.tasks[task_id]
                # From the executor's start time, carried by the event, so that a replay sets the same lease.
                lease_s = progress.timeout_s + self.config.lease_grace_s
                progress.mark_started(event.occurred_at, event.occurred_at + timedelta(seconds=lease_s))
            case RunCancelRequested() if not self.finished and not self.cancelled:
                self.cancelled, self.cancel_reason = True, event.reason or None
            case AnswerRequested() if not self.finished and self.answer_due_at is None:
                self.answer_due_at = event.due_at
            case TaskFinished() if self._accepts(event):
                self._apply_result(event)
            case TaskRetryScheduled(task_id=task_id) if self.tasks[task_id].status == "retrying":
                self.tasks[task_id].retry_due_at = event.due_at
            case TaskLeaseExpired(task_id=task_id, attempt=attempt) if self.tasks[task_id].is_running(attempt):
                self.tasks[task_id].expire_lease(event.reason, event.occurred_at, retry=attempt < self.max_attempts)
            case TaskSkipped(task_id=task_id) if self.tasks[task_id].status not in SETTLED:
                self.tasks[task_id].skip(event.reason)
            case RunFinished() if not self.finished:
                self.outcome = event
                self.tokens = event.metrics.tokens  # the answer's model calls included (on_answer)
            case ReplanRequested() if not self.finished:
                return self.replans.apply(event)
            case ReplanFailed() if not self.finished and self.replans.apply(event):
                self.tokens += event.tokens
            case RunReplanned() if not self.finished and self.replans.apply(event):
                self.tokens += event.tokens
                self.plan = event.plan
                self.tasks.update({task_id: TaskProgress() for task_id in event.added})
                self._plan_changed()
            case _:
                return False  # the request, duplicates and stale facts
        return True

    def _apply_result(self, event: TaskFinished) -> None:
        self.turns += 1
        self.tokens += event.input_tokens + event.output_tokens
        progress = self.tasks[event.task_id]
        if event.status == "ok":
            progress.succeed(event.result, progress.duration_of(event))
            return
        self.tool_errors += 1
        retry = event.retryable and event.attempt < self.max_attempts
        progress.fail_attempt(
            event.error or "the tool failed without a message", progress.duration_of(event), retry=retry
        )

    def _accepts(self, event: TaskFinished) -> bool:
        progress = self.tasks.get(event.task_id)
        if event.run_id != self.run_id or self.finished or progress is None:
            return False
        return progress.accepts(event.status, event.attempt)

    def _starts_running_attempt(self, event: TaskStarted) -> bool:
        progress = self.tasks.get(event.task_id)
        return progress is not None and progress.is_running(event.attempt) and not progress.started

    def _is_new_attempt(self, task_id: str, attempt: int) -> bool:
        progress = self.tasks[task_id]
        return progress.status not in SETTLED and attempt > progress.attempt

    # -- decide: what the state owes, as events -----------------------------------------------------------------

    def _advance(self, now: datetime, as_of: datetime | None = None) -> list[Event]:
        """``as_of`` (at most ``now``) is the time leases and the deadline are judged at, when that is not now: a
        planner that takes a partition over reads the inputs that waited while it had no owner, and judges each at
        the time it was sent. Otherwise the first of them would expire leases whose results are next in line and
        run those tasks again. What is emitted is stamped ``now``."""
        judged = now if as_of is None else min(as_of, now)
        out: list[Event] = []
        if self.finished:
            return out
        if self.cancelled:
            self._cancel(now, out)
            return out
        if self.answer_due_at is not None:
            if now >= self.answer_due_at:  # the model did not answer in time: the tasks' results are the answer
                self._emit(out, finished_event(self, self._envelope(now)))
            return out
        # Results that arrive after the deadline but complete the run still make it a normal finish.
        if judged >= self.deadline_at and not self._all_settled():
            self._time_out(now, out)
            return out
        self._expire_leases(now, out, judged)
        self._schedule_retries(now, out)
        self._redispatch_due(now, out)
        for event in requests_owed(self, now, lambda: self._envelope(now)):
            self._emit(out, event)
        self._skip_dependents_of_failures(now, out)
        self._dispatch_ready(now, out)
        if self._all_settled() and not self.replans.waiting:
            self._settle(now, out)
        return out

    def _plan_changed(self) -> None:
        """The plan grew (re-planning): everything derived from it is derived again."""
        self.dag = Dag.from_plan(self.plan)
        self._index()

    def _settle(self, now: datetime, out: list[Event]) -> None:
        synthesis_s = self.config.synthesis_timeout_s
        if synthesis_s is not None and settled_status(self) in ("succeeded", "partial"):
            self._emit(out, AnswerRequested(**self._envelope(now), due_at=now + timedelta(seconds=synthesis_s)))
        else:
            self._emit(out, finished_event(self, self._envelope(now)))

    def _cancel(self, now: datetime, out: list[Event]) -> None:
        reason = "run cancelled before the task started"
        for task_id in self._in_order("pending", "running", "retrying"):
            if not (self.tasks[task_id].status == "running" and self.tasks[task_id].started):
                self._emit(out, TaskSkipped(**self._envelope(now), task_id=task_id, reason=reason))
        self._emit(out, finished_event(self, self._envelope(now), ending="cancelled"))

    def _all_settled(self) -> bool:
        return not (self._by_status["pending"] or self._by_status["running"] or self._by_status["retrying"])

    def _emit(self, out: list[Event], event: Event) -> None:
        self._fold(event)
        out.append(event)

    def _envelope(self, now: datetime) -> dict[str, Any]:
        return {"event_id": self.new_id(), "run_id": self.run_id, "occurred_at": now}

    def _in_order(self, *statuses: str) -> list[str]:
        """The tasks in these statuses, in canonical order."""
        found = [task_id for status in statuses for task_id in self._by_status[status]]
        return sorted(found, key=self.dag.rank(tallest_first=False).__getitem__) if len(found) > 1 else found

    def _expire_leases(self, now: datetime, out: list[Event], judged: datetime) -> None:
        for task_id in self._in_order("running"):
            progress = self.tasks[task_id]
            if progress.lease_expires_at is not None and progress.lease_expires_at <= judged:
                attempt = progress.attempt
                what = "no result within lease" if progress.started else "no executor started it in time"
                reason = (
                    f"{what} after {attempt} attempts"
                    if attempt >= self.max_attempts
                    else f"{what} for attempt {attempt}"
                )
                self._emit(
                    out, TaskLeaseExpired(**self._envelope(now), task_id=task_id, attempt=attempt, reason=reason)
                )

    def _schedule_retries(self, now: datetime, out: list[Event]) -> None:
        for task_id in self._in_order("retrying"):
            progress = self.tasks[task_id]
            if progress.retry_due_at is None:
                delay = retry_delay_s(self.config, run_id=self.run_id, task_id=task_id, failed_attempt=progress.attempt)
                retry = TaskRetryScheduled(
                    **self._envelope(now),
                    task_id=task_id,
                    attempt=progress.attempt + 1,
                    due_at=now + timedelta(seconds=delay),
                    reason=progress.error or "",
                )
                self._emit(out, retry)

    def _redispatch_due(self, now: datetime, out: list[Event]) -> None:
        due = {
            task_id: due_at
            for task_id in self._in_order("retrying")
            if (due_at := self.tasks[task_id].retry_due_at) is not None and due_at <= now
        }
        for task_id in sorted(due, key=due.__getitem__):
            self._emit(out, self._task_ready(task_id, self.tasks[task_id].attempt + 1, now))

    def _skip_dependents_of_failures(self, now: datetime, out: list[Event]) -> None:
        for failed in self._in_order("failed"):
            if failed in self.replans.waiting:
                continue  # its dependents wait for the sub-plan that may replace it
            reason = f"dependency {failed} failed: {self.tasks[failed].error}{replan_note(self, failed)}"
            for dependent in self.dag.dependents(failed):
                if self.tasks[dependent].status not in SETTLED:
                    self._emit(out, TaskSkipped(**self._envelope(now), task_id=dependent, reason=reason))

    def _dispatch_ready(self, now: datetime, out: list[Event]) -> None:
        # A retrying task keeps its slot: "at most N at once" counts tasks in progress, not messages in flight.
        if not self._ready:
            return
        busy = len(self._by_status["running"]) + len(self._by_status["retrying"])
        cap = 1 if self.strategy == "sequential" else (self.policy.max_parallelism or len(self.tasks))
        # Sequential runs follow the canonical order; capped parallel runs keep the longest chains moving.
        rank = self.dag.rank(tallest_first=self.strategy != "sequential")
        ready = sorted(self._ready, key=rank.__getitem__)
        for task_id in ready[: max(0, cap - busy)]:
            self._emit(out, self._task_ready(task_id, 1, now))

    def _task_ready(self, task_id: str, attempt: int, now: datetime) -> TaskReady:
        task = self.plan.tasks[self.dag.position(task_id)]
        results = {other: self.tasks[other].result for other in self._by_status["succeeded"]}
        tool, args = tool_and_args(task, results)
        return TaskReady(
            **self._envelope(now),
            task_id=task_id,
            attempt=attempt,
            tool=tool,
            args=args,
            description=task.description,
            timeout_s=self.config.timeout_for(tool),
            deadline_at=self.deadline_at,
            start_by=now + timedelta(seconds=self.config.start_timeout_s),
        )

    def _time_out(self, now: datetime, out: list[Event]) -> None:
        deadline_s = (self.deadline_at - self.planned_at).total_seconds()
        for task_id in self._in_order("pending", "running", "retrying"):
            reason = f"run deadline of {deadline_s:g}s passed"
            self._emit(out, TaskSkipped(**self._envelope(now), task_id=task_id, reason=reason))
        self._emit(out, finished_event(self, self._envelope(now), ending="timed_out"))
