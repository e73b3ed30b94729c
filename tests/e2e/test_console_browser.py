"""The web console in a real browser (Debian's headless Chromium, driven by Selenium) against a real stack.

Kafka, the planner, two executors and the warehouse run as in the other end-to-end tests; the console serves on a
free port in a thread of this process. A plan is typed into the Submit page (a cycle first: its error shows in
place), submitted, and watched on the run page until it finishes, its nodes changing state on the way; the
warehouse page answers SQL and refuses a write; an unknown run id is a message. With CONSOLE_SCREENSHOTS=<folder>
every page is saved there as a PNG (docs/console/ holds the ones in docs/CONSOLE.md), and how long the run page took
to show each event, from the event's occurred_at to the page's update, is printed and written to
$CONSOLE_LATENCY_FILE when set.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.console.core.plans import PlanRules
from services.console.service import ConsoleService
from services.console.settings import ConsoleSettings
from services.warehouse.settings import WarehouseSettings
from streams.catalogue import Catalogue
from streams.settings import KafkaSettings
from tests.e2e.system import running_system
from tests.e2e.test_warehouse_runs import in_process_warehouse

pytestmark = [pytest.mark.kafka, pytest.mark.slow]
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
WAIT_S = 90
COPY_TARGET = Path(tempfile.gettempdir()) / f"genesis-console-copy-{uuid.uuid4().hex[:8]}.csv"
NODE_STATES = """
const nodes = {};
for (const node of document.querySelectorAll("#dag g.node")) nodes[node.dataset.task] = node.dataset.state;
const status = document.getElementById("run-status");
return {nodes, status: status ? status.textContent : null};
"""
CYCLE = "Task 1: sleep(seconds=0) | Dependencies: Task 2\nTask 2: sleep(seconds=0) | Dependencies: Task 1"


def watched_plan(key: str) -> str:
    # Two sleeps in parallel, a task that fails once and is retried, a join, and a task that fails for good (its
    # dependent is skipped): every state a node can be in.
    return "\n".join(
        [
            "Task 1: sleep(seconds=1.5) | Dependencies: none",
            "Task 2: sleep(seconds=2.5) | Dependencies: none",
            f'Task 3: fails_first(key="{key}") | Dependencies: none',
            "Task 4: sleep(seconds=1) | Dependencies: Task 1, Task 2",
            'Task 5: calculator(expression="$4 + 1") | Dependencies: Task 3, Task 4',
            'Task 6: always_fails(reason="the quote service is down") | Dependencies: Task 1',
            'Task 7: calculator(expression="1 + 1") | Dependencies: Task 6',
        ]
    )


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip("Debian's chromium and chromium-driver are not installed (.ci/run installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = Path(tempfile.mkdtemp(prefix="genesis-console-chromium-"))  # a fresh profile, under $TMPDIR
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        "--window-size=1400,1000",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


class ConsoleThread:
    """The console service on a free port, on its own event loop in a thread (the test's loop runs the stack)."""

    def __init__(self, service: ConsoleService) -> None:
        self.service = service
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.run(self.service.run(on_ready=lambda url: self._ready.set()))

    async def __aenter__(self) -> str:
        self._thread.start()
        if not await asyncio.to_thread(self._ready.wait, WAIT_S):
            raise TimeoutError("the console did not start")
        return self.service.url

    async def __aexit__(self, *exc_info: object) -> None:
        # Joined on a worker thread: the stack's services keep running on this loop meanwhile.
        self.service.stop()
        await asyncio.to_thread(self._thread.join, WAIT_S)


async def test_console_watches_a_submitted_run_answers_sql_and_shows_errors_when_used_in_a_browser(
    browser: Any, kafka_bootstrap: str, catalogue: Catalogue, tmp_path: Path
) -> None:
    warehouse = WarehouseSettings(dir=str(tmp_path / "warehouse"))
    async with (
        running_system(kafka_bootstrap, catalogue, executors=2) as (system, _),
        in_process_warehouse(kafka_bootstrap, catalogue, tmp_path / "warehouse"),
    ):
        registry = system.registry
        service = ConsoleService(
            ConsoleSettings(port=0, lookback_s=60),
            bootstrap=kafka_bootstrap,
            catalogue=catalogue,
            kafka=KafkaSettings(),
            warehouse=warehouse,
            rules=PlanRules(registry.names(), registry.signatures(), max_tasks=64, llm_available=False),
        )
        async with ConsoleThread(service) as url:
            await _until(lambda: httpx.get(url + "api/health").json()["feed"] == "live", "the live feed to connect")
            pages = Pages(browser, url)
            await asyncio.to_thread(pages.bad_plan_shows_its_line)
            run_id, history = await asyncio.to_thread(pages.submitted_run_is_watched_to_completion, uuid.uuid4().hex)
            latencies = await asyncio.to_thread(browser.execute_script, "return window.consoleLatencies")
            await asyncio.to_thread(pages.runs_list_shows, run_id)
            await asyncio.to_thread(pages.sql_box_answers_and_refuses_writes)
            await asyncio.to_thread(pages.unknown_run_is_a_message)
            await asyncio.to_thread(browser.get, "about:blank")  # closes the page's event stream

    # Nodes changed state while the page watched: each sleep was seen running before it succeeded.
    for task_id in ("1", "2", "4"):
        assert history[task_id][-1] == "succeeded" and "running" in history[task_id], history
    assert history["4"][0] in ("waiting", "ready"), history
    assert history["6"][-1] == "failed" and history["7"][-1] == "skipped", history
    ms = [entry["ms"] for entry in latencies]
    # Every update the page drew was timed. How many there are depends on the machine's load: the events of one feed
    # read (console.feed_batch_wait_ms) come as one update, and a busy page is sent the newest state once. Three at
    # least: tasks 1 and 2 running, task 4 running, the run's end (the history above saw each).
    assert len(ms) >= 3, latencies
    report = {
        "updates": len(ms),
        "median_ms": round(statistics.median(ms), 1),
        "p95_ms": round(sorted(ms)[int(0.95 * (len(ms) - 1))], 1),
        "max_ms": round(max(ms), 1),
    }
    print(f"console: event occurred_at -> run page updated: {report}")
    if target := os.environ.get("CONSOLE_LATENCY_FILE"):
        await asyncio.to_thread(Path(target).write_text, json.dumps({**report, "samples": latencies}, indent=1))


class Pages:
    def __init__(self, driver: Any, url: str) -> None:
        from selenium.common.exceptions import StaleElementReferenceException
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import WebDriverWait

        self.driver, self.url, self.by = driver, url, By
        # The pages redraw as events arrive: an element found a moment ago may be gone, so look again.
        self.wait = lambda timeout=WAIT_S: WebDriverWait(
            driver, timeout, poll_frequency=0.05, ignored_exceptions=(StaleElementReferenceException,)
        )

    def find(self, selector: str) -> Any:
        return self.driver.find_element(self.by.CSS_SELECTOR, selector)

    def find_all(self, selector: str) -> list[Any]:
        return self.driver.find_elements(self.by.CSS_SELECTOR, selector)

    def type_plan(self, text: str) -> None:
        box = self.find("#plan-text")
        box.clear()
        box.send_keys(text)

    def bad_plan_shows_its_line(self) -> None:
        self.driver.get(self.url + "submit")
        self.wait().until(lambda _: "✓" in self.find("#check").text)  # the sample plan is valid
        self.type_plan(CYCLE)
        self.wait().until(lambda _: "cycle" in self.find("#check").text)
        assert self.find("#check").text.startswith("line 1: cycle: 1 -> 2 -> 1")
        assert [line.text for line in self.find_all(".gutter .bad")] == ["1"]
        self.screenshot("submit-error")

    def submitted_run_is_watched_to_completion(self, key: str) -> tuple[str, dict[str, list[str]]]:
        self.type_plan(watched_plan(key))
        self.find("#labels").send_keys("job=console-test")
        self.wait().until(lambda _: "7 tasks" in self.find("#check").text)
        self.screenshot("submit")
        self.find("#submit").click()
        self.wait().until(lambda _: "/runs/" in self.driver.current_url)
        run_id = self.driver.current_url.rsplit("/", 1)[-1]
        history: dict[str, list[str]] = {}

        def finished(_: Any) -> bool:
            # Every poll notes each node's state (read in one script call: the page redraws between calls), so the
            # test sees the changes the page showed.
            seen = self.driver.execute_script(NODE_STATES)
            for task_id, state in seen["nodes"].items():
                states = history.setdefault(task_id, [])
                if not states or states[-1] != state:
                    states.append(state)
            return seen["status"] in ("succeeded", "failed", "partial")

        self.wait().until(finished)
        assert self.find("#run-status").text == "partial"  # task 6 failed for good; the rest succeeded
        assert self.find('#dag g[data-task="3"]').get_attribute("data-attempts") == "2"  # retried
        assert len(self.find_all("#dag g.node.critical")) >= 2
        assert "sleep(seconds=1.5)" in self.find("#plan").text
        assert len(self.find_all("#gantt rect.bar")) >= 8  # seven tasks' attempts, one retried
        assert len(self.find_all("#turns tbody tr")) >= 7
        self.screenshot("run")
        return run_id, history

    def runs_list_shows(self, run_id: str) -> None:
        self.driver.get(self.url + "?label=job%3Dconsole-test")
        self.wait().until(lambda _: self.find_all(f'tr[data-run="{run_id}"]'))
        assert self.find(f'tr[data-run="{run_id}"]').get_attribute("data-status") == "partial"
        self.screenshot("runs")

    def sql_box_answers_and_refuses_writes(self) -> None:
        self.driver.get(self.url + "sql")
        self.wait().until(lambda _: self.find_all('button[data-example="slowest_tools"]'))

        def answered(_: Any) -> bool:
            # Until a snapshot with the run's attempts lands, the box says there is none yet or has no sleep row;
            # then it answers. (The page ignores a click while a query runs, so a table, once there, stays.)
            tables = self.find_all("#sql-table")
            if tables and "sleep" in tables[0].text:
                return True
            self.find('button[data-example="slowest_tools"]').click()
            return False

        self.wait().until(answered)
        columns = [cell.text for cell in self.find_all("#sql-table th")]
        assert columns == ["tool", "attempts", "p50_s", "p95_s", "max_s"]
        self.wait().until(lambda _: "sleep" in self.find('[data-chart="tool_latency"]').text)
        self.screenshot("warehouse")
        box = self.find("#sql")
        box.clear()
        box.send_keys(f"COPY runs TO '{COPY_TARGET}'")
        self.find("#run-sql").click()
        self.wait().until(lambda _: self.find_all("#sql-result .error"))
        assert "only SELECT" in self.find("#sql-result .error").text
        assert not COPY_TARGET.exists()

    def unknown_run_is_a_message(self) -> None:
        self.driver.get(self.url + "runs/no-such-run")
        self.wait().until(lambda _: self.find_all("#run .error"))
        assert self.find("#run .error").text == "no run 'no-such-run': not on the live feed and not in the warehouse"
        self.screenshot("run-unknown")

    def screenshot(self, name: str) -> None:
        folder = os.environ.get("CONSOLE_SCREENSHOTS")
        if not folder:
            return
        height = self.driver.execute_script("return document.documentElement.scrollHeight")
        self.driver.set_window_size(1400, min(max(height, 700), 4000))
        Path(folder).mkdir(parents=True, exist_ok=True)
        self.driver.save_screenshot(str(Path(folder) / f"{name}.png"))
        self.driver.set_window_size(1400, 1000)


async def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while True:
        try:
            if await asyncio.to_thread(condition):
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {WAIT_S} s for {what}")
        await asyncio.sleep(0.05)
