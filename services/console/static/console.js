// The Genesis console's pages, drawn from the JSON API (services/console/app.py). Plain JS and SVG, no library.
"use strict";

const main = document.getElementById("main");
const SVG = "http://www.w3.org/2000/svg";
// How long after an event occurred (its occurred_at) the run page showed it; read by the browser tests.
window.consoleLatencies = [];

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined) continue;
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

async function api(path, options = {}) {
  let response;
  try {
    response = await fetch(path, options);
  } catch (error) {
    throw new Error("the console itself cannot be reached: " + error.message);
  }
  const body = await response.json().catch(() => ({ error: `${path} answered ${response.status} without JSON` }));
  if (!response.ok) {
    const failure = new Error(body.error || `${path} answered ${response.status}`);
    failure.body = body;
    throw failure;
  }
  return body;
}

const post = (path, data) =>
  api(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(data) });

function errorBox(message) {
  return el("div", { class: "error", role: "alert" }, message);
}

function fmt(value, unit = "") {
  return value === null || value === undefined ? "–" : `${value}${unit}`;
}

function setFeed(status) {
  const feed = document.getElementById("feed");
  feed.textContent = status === "live" ? "● live" : status;
  feed.className = "feed " + (status === "live" ? "live" : status.startsWith("cannot") ? "down" : "");
}

function labelsText(labels) {
  return Object.entries(labels || {}).map(([k, v]) => `${k}=${v}`).join(", ");
}

// Runs list ------------------------------------------------------------------------------------------------------

async function runsPage() {
  const params = new URLSearchParams(location.search);
  const status = el("select", { name: "status" },
    ["", "running", "requested", "succeeded", "failed", "partial", "rejected", "timed_out", "cancelled"].map(
      (s) => el("option", { value: s }, s || "any status")));
  status.value = params.get("status") || "";
  const label = el("input", { name: "label", placeholder: "label, e.g. job=demo", value: params.get("label") || "" });
  const form = el("form", { class: "filters", onsubmit: (event) => {
    event.preventDefault();
    const query = new URLSearchParams();
    if (status.value) query.set("status", status.value);
    if (label.value) query.set("label", label.value);
    history.replaceState(null, "", "/?" + query);
    load();
  } }, status, label, el("button", { type: "submit" }, "Filter"));
  const note = el("div");
  const body = el("tbody");
  main.replaceChildren(el("h1", {}, "Runs"), form, note, el("table", { id: "runs" },
    el("thead", {}, el("tr", {}, ["run", "status", "tasks", "makespan", "critical path", "speedup", "reward",
      "labels", "requested"].map((h) => el("th", {}, h)))), body));
  const rows = new Map();

  function row(run) {
    const tasks = run.settled === null ? fmt(run.tasks) : `${run.settled}/${run.tasks}` +
      (run.running ? ` (${run.running} running)` : "");
    return el("tr", { "data-run": run.run_id, "data-status": run.status },
      el("td", {}, el("a", { href: `/runs/${encodeURIComponent(run.run_id)}` }, run.run_id)),
      el("td", {}, el("span", { class: `badge ${run.status}` }, run.status)),
      el("td", { class: "num" }, tasks),
      el("td", { class: "num" }, fmt(run.makespan_s, " s")),
      el("td", { class: "num" }, fmt(run.critical_path_s, " s")),
      el("td", { class: "num" }, fmt(run.speedup, "×")),
      el("td", { class: "num" }, fmt(run.reward)),
      el("td", {}, labelsText(run.labels)),
      el("td", {}, run.requested_at ? new Date(run.requested_at).toLocaleString() : "–"));
  }

  function matches(run) {
    if (status.value && run.status !== status.value) return false;
    if (!label.value) return true;
    const [key, value] = label.value.split("=");
    if (value !== undefined) return (run.labels || {})[key.trim()] === value.trim();
    return labelsText(run.labels).toLowerCase().includes(label.value.toLowerCase());
  }

  async function load() {
    note.replaceChildren();
    try {
      const query = new URLSearchParams({ status: status.value, label: label.value });
      const data = await api("/api/runs?" + query);
      setFeed(data.feed);
      if (data.warehouse) note.append(el("div", { class: "note" }, "warehouse: " + data.warehouse));
      rows.clear();
      body.replaceChildren(...data.runs.map((run) => { const r = row(run); rows.set(run.run_id, r); return r; }));
      if (!data.runs.length) note.append(el("div", { class: "note" }, "no runs yet: submit one on the Submit page"));
    } catch (error) {
      note.replaceChildren(errorBox(error.message));
    }
  }
  await load();
  const stream = new EventSource("/api/stream");
  stream.addEventListener("summary", (message) => {
    const run = JSON.parse(message.data);
    if (!matches(run)) return;
    const fresh = row(run);
    const old = rows.get(run.run_id);
    if (old) old.replaceWith(fresh); else body.prepend(fresh);
    rows.set(run.run_id, fresh);
  });
  stream.onopen = () => api("/api/health").then((h) => setFeed(h.feed)).catch(() => {});
}

// One run --------------------------------------------------------------------------------------------------------

const NODE_W = 206, NODE_H = 48, COL_W = 250, ROW_H = 66;

function stateText(node) {
  const retried = node.retried ? ` · attempt ${node.attempts}` : "";
  switch (node.state) {
    case "running": return `running on ${node.executor || "?"}${retried}`;
    case "ready": return `ready, waiting for an executor${retried}`;
    case "succeeded": return `succeeded${node.duration_s !== null ? " in " + node.duration_s + " s" : ""}${retried}`;
    case "failed": return `failed${retried}`;
    case "skipped": return "skipped";
    default: return "waiting for its dependencies";
  }
}

function drawDag(run) {
  const nodes = new Map(run.nodes.map((node) => [node.id, node]));
  const place = new Map();
  run.levels.forEach((level, column) => level.forEach((id, index) => place.set(id, [column, index])));
  const tallest = Math.max(1, ...run.levels.map((level) => level.length));
  const width = Math.max(1, run.levels.length) * COL_W + 20, height = tallest * ROW_H + 20;
  const picture = svg("svg", { width, height, id: "dag", role: "img", "aria-label": "the run's DAG" });
  const onPath = new Set(run.critical_path);
  const pathEdges = new Set(run.critical_path.slice(1).map((id, i) => `${run.critical_path[i]}>${id}`));
  const at = (id) => { const [c, r] = place.get(id) || [0, 0]; return [10 + c * COL_W, 10 + r * ROW_H]; };
  for (const node of run.nodes) {
    for (const dep of node.deps) {
      if (!place.has(dep) || !place.has(node.id)) continue;
      const [x0, y0] = at(dep), [x1, y1] = at(node.id);
      const sx = x0 + NODE_W, sy = y0 + NODE_H / 2, ex = x1, ey = y1 + NODE_H / 2, mid = (sx + ex) / 2;
      picture.append(svg("path", { d: `M${sx},${sy} C${mid},${sy} ${mid},${ey} ${ex - 4},${ey}`,
        class: "edge" + (pathEdges.has(`${dep}>${node.id}`) ? " critical" : ""), "marker-end": "url(#arrow)" }));
    }
  }
  const defs = svg("defs");
  const marker = svg("marker", { id: "arrow", viewBox: "0 0 6 6", refX: 5, refY: 3, markerWidth: 6,
    markerHeight: 6, orient: "auto" });
  marker.append(svg("path", { d: "M0,0 L6,3 L0,6 z", fill: "#8793a0" }));
  defs.append(marker);
  picture.prepend(defs);
  for (const [id, node] of nodes) {
    const [x, y] = at(id);
    const group = svg("g", { class: `node ${node.state}` + (onPath.has(id) ? " critical" : ""),
      "data-task": id, "data-state": node.state, "data-attempts": node.attempts, transform: `translate(${x},${y})` });
    const tip = [`task ${id}: ${node.tool || "llm"}`, node.description, stateText(node),
      node.error ? "error: " + node.error : "", node.skip_reason ? "skipped: " + node.skip_reason : ""]
      .filter(Boolean).join("\n");
    group.append(svg("title", {}, tip));
    group.append(svg("rect", { width: NODE_W, height: NODE_H, rx: 6 }));
    group.append(svg("text", { x: 8, y: 18, "font-weight": 600 },
      `${onPath.has(id) ? "★ " : ""}${id} · ${node.tool || "llm"}${node.retried ? "  ↻" + node.attempts : ""}`));
    group.append(svg("text", { x: 8, y: 36, class: "state" }, stateText(node).slice(0, 31)));
    picture.append(group);
  }
  return picture;
}

function drawGantt(gantt) {
  const lanes = gantt.lanes.filter((lane) => lane.bars.length);
  const left = 190, plot = 820, trackH = 28, gap = 10;
  const span = Math.max(gantt.span_s, 0.001);
  const x = (s) => left + (s / span) * plot;
  // An executor runs many attempts at once: each lane has as many tracks as it had attempts overlapping.
  const tops = [];
  let height = 8;
  for (const lane of lanes) { tops.push(height); height += lane.tracks * trackH + gap; }
  const picture = svg("svg", { width: left + plot + 30, height: height + 26, id: "gantt" });
  lanes.forEach((lane, index) => {
    const top = tops[index];
    const label = svg("text", { x: 4, y: top + 17, class: "lane-label" },
      lane.executor.length > 26 ? lane.executor.slice(0, 25) + "…" : lane.executor);
    label.append(svg("title", {}, lane.executor));
    picture.append(label);
    picture.append(svg("line", { x1: 0, x2: left + plot, y1: top + lane.tracks * trackH + gap / 2,
      y2: top + lane.tracks * trackH + gap / 2, stroke: "#e3e7eb" }));
    for (const bar of lane.bars) {
      const y = top + bar.track * trackH;
      if (bar.start > bar.queued_from) {
        picture.append(svg("rect", { x: x(bar.queued_from), y: y + 10, width: x(bar.start) - x(bar.queued_from),
          height: 4, fill: "#cfd4da" }));
      }
      const rect = svg("rect", { x: x(bar.start), y: y + 2, width: Math.max(2, x(bar.end) - x(bar.start)),
        height: 22, fill: lane.colour, class: `bar ${bar.status}` + (bar.critical ? " critical" : "") });
      rect.append(svg("title", {}, `task ${bar.task_id} attempt ${bar.attempt} · ${bar.status} · ` +
        `${bar.start.toFixed(3)}–${bar.end.toFixed(3)} s` + (bar.error ? " · " + bar.error : "")));
      picture.append(rect);
      if (x(bar.end) - x(bar.start) > 22) {
        picture.append(svg("text", { x: x(bar.start) + 4, y: y + 17, fill: "#fff" }, bar.task_id));
      }
    }
  });
  const axisY = height + 18;
  for (let tick = 0; tick <= 5; tick++) {
    const seconds = (span * tick) / 5;
    picture.append(svg("text", { x: x(seconds) - 8, y: axisY, fill: "#5d6670" }, seconds.toFixed(2) + " s"));
  }
  if (gantt.makespan_s) {
    picture.append(svg("line", { x1: x(gantt.makespan_s), x2: x(gantt.makespan_s), y1: 0, y2: axisY - 12,
      stroke: "#444", "stroke-dasharray": "5 3" }));
  }
  return lanes.length ? picture : el("p", { class: "legend" }, "no attempt has started yet");
}

function runPage(runId) {
  const view = el("div", { id: "run" });
  main.replaceChildren(view);
  const open = new Set();  // turns the reader expanded stay expanded across live updates

  function render(run) {
    const metrics = el("div", { class: "metrics" },
      el("div", {}, el("span", {}, "status"), el("b", { id: "run-status", class: `badge ${run.status}` }, run.status)),
      el("div", {}, el("span", {}, "tasks"), `${run.settled}/${run.tasks} settled`),
      el("div", {}, el("span", {}, "makespan"), fmt(run.makespan_s, " s")),
      el("div", {}, el("span", {}, "critical path"), fmt(run.critical_path_s, " s")),
      el("div", {}, el("span", {}, "speedup"), fmt(run.speedup, "×")),
      el("div", {}, el("span", {}, "reward"), fmt(run.reward)),
      el("div", {}, el("span", {}, "strategy"), fmt(run.strategy)),
      el("div", {}, el("span", {}, "labels"), labelsText(run.labels) || "–"),
      el("div", {}, el("span", {}, "from"), run.source === "live" ? "the live feed" : "the warehouse"));
    const legend = el("div", { class: "legend" }, "node states:",
      ["waiting", "ready", "running", "succeeded", "failed", "skipped"].map((s) =>
        [el("i", { style: `background: var(--${s})` }), s]),
      el("i", { style: "border: 2px solid var(--critical)" }), "★ critical path", "  ↻N: retried, attempt N");
    const turns = el("table", { id: "turns" }, el("thead", {}, el("tr", {},
      ["task", "attempt", "operation", "tool / model", "executor", "latency", "status", "arguments", "output"]
        .map((h) => el("th", {}, h)))),
      el("tbody", {}, run.turns.map((turn, index) => {
        const key = `${turn.task_id}/${turn.attempt}/${index}`;
        const text = (value, part) => {
          const details = el("details", { class: "turn-text" }, el("summary", {}, (value || "").slice(0, 60) || "–"),
            el("pre", {}, value || ""));
          if (open.has(key + part)) details.open = true;
          details.addEventListener("toggle", () => details.open ? open.add(key + part) : open.delete(key + part));
          return details;
        };
        return el("tr", {}, el("td", {}, turn.task_id), el("td", { class: "num" }, turn.attempt),
          el("td", {}, turn.operation), el("td", {}, turn.tool_name + (turn.model ? ` (${turn.model})` : "")),
          el("td", {}, turn.executor), el("td", { class: "num" }, fmt(turn.latency_s, " s")),
          el("td", {}, turn.status + (turn.error ? ": " + turn.error : "")),
          el("td", {}, text(turn.arguments, "a")), el("td", {}, text(turn.output, "o")));
      })));
    const answer = run.answer === null || run.answer === undefined ? "–" : JSON.stringify(run.answer, null, 2);
    view.replaceChildren(...[
      el("h1", {}, "Run ", el("code", {}, run.run_id)),
      metrics,
      run.reason ? errorBox((run.reason_line ? `line ${run.reason_line}: ` : "") + run.reason) : null,
      ...(run.replans || []).map((replan) => el("p", { class: "replan" }, `Re-planned (${replan.replan}): task `,
        el("code", {}, replan.replaced), ` failed (${replan.reason}); the model's sub-plan `,
        el("code", {}, replan.added.join(", ")), " took its place, ", el("code", {}, replan.stands_in),
        " standing in for it.")),
      el("h2", {}, "DAG by levels"), legend, el("div", { style: "overflow:auto" }, drawDag(run)),
      el("div", { class: "grid2" },
        el("div", {}, el("h2", {}, "Plan"), el("pre", { id: "plan" }, run.plan_text || run.query || "–")),
        el("div", {}, el("h2", {}, "Answer"), el("pre", { id: "answer" }, answer))),
      el("h2", {}, "Gantt per executor"),
      el("div", { class: "legend" }, "seconds since the run was planned · thin grey: waiting in Kafka · " +
        "red outline: critical path · faded: failed attempt · dashed line: the run finished"),
      el("div", { style: "overflow:auto" }, drawGantt(run.gantt)),
      el("h2", {}, `Turns (${run.turns.length})`), turns].filter(Boolean));
  }

  function showLatency(run) {
    if (!run.last_event_ms) return;
    const ms = Date.now() - run.last_event_ms;
    window.consoleLatencies.push({ type: run.last_event_type, ms });
    document.getElementById("footer").textContent =
      `last event (${run.last_event_type}) shown ${Math.round(ms)} ms after it occurred`;
  }

  api(`/api/runs/${encodeURIComponent(runId)}`).then((run) => {
    render(run);
    if (run.source !== "live" && ["succeeded", "failed", "partial", "rejected", "timed_out", "cancelled"]
      .includes(run.status)) return;  // finished and read from the warehouse: nothing more will change
    const stream = new EventSource(`/api/stream?run_id=${encodeURIComponent(runId)}`);
    stream.addEventListener("run", (message) => {
      const fresh = JSON.parse(message.data);
      render(fresh);
      showLatency(fresh);
    });
  }).catch((error) => {
    // A run just submitted may not have reached the feed yet: watch for it rather than give up.
    view.replaceChildren(el("h1", {}, "Run ", el("code", {}, runId)), errorBox(error.message));
    const stream = new EventSource(`/api/stream?run_id=${encodeURIComponent(runId)}`);
    stream.addEventListener("run", (message) => {
      const fresh = JSON.parse(message.data);
      render(fresh);
      showLatency(fresh);
    });
  });
  api("/api/health").then((h) => setFeed(h.feed)).catch(() => {});
}

// Submit ---------------------------------------------------------------------------------------------------------

const SAMPLE = [
  'Task 1: kb_search(query="population of France") | Dependencies: none',
  'Task 2: kb_search(query="population of Germany") | Dependencies: none',
  'Task 3: calculator(expression="$1 + $2") | Dependencies: Task 1, Task 2',
].join("\n");

function submitPage() {
  const text = el("textarea", { id: "plan-text", spellcheck: "false", rows: 12 });
  text.value = SAMPLE;
  const gutter = el("div", { class: "gutter" });
  const check = el("div", { id: "check" });
  const question = el("input", { id: "question", placeholder: "or ask a question (the planner's LLM writes the plan)",
    style: "width: 100%" });
  const labels = el("input", { id: "labels", placeholder: "labels: key=value, key=value", style: "width: 100%" });
  const result = el("div", { id: "submit-result" });
  const button = el("button", { class: "primary", id: "submit", type: "button" }, "Submit and watch");
  let latest = null, timer = null, sequence = 0;

  function numbers(bad) {
    const count = Math.max(1, text.value.split("\n").length);
    gutter.replaceChildren(...Array.from({ length: count }, (_, i) =>
      el("div", { class: i + 1 === bad ? "bad" : "" }, i + 1)));
  }

  async function validate() {
    const mine = ++sequence;
    if (!text.value.trim()) { latest = null; check.replaceChildren(); numbers(null); return; }
    try {
      const verdict = await post("/api/plans/check", { text: text.value });
      if (mine !== sequence) return;  // a newer keystroke is being checked
      latest = verdict;
      if (verdict.ok) {
        numbers(null);
        check.replaceChildren(el("span", { class: "ok" }, `✓ ${verdict.tasks.length} tasks (${verdict.format} ` +
          `format), ${verdict.levels.length} levels, critical path ${verdict.critical_path.join(" → ")}`));
      } else {
        numbers(verdict.line);
        check.replaceChildren(errorBox((verdict.line ? `line ${verdict.line}: ` : "") + verdict.reason));
      }
    } catch (error) {
      check.replaceChildren(errorBox(error.message));
    }
  }

  text.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(validate, 120); });
  text.addEventListener("scroll", () => { gutter.scrollTop = text.scrollTop; });
  button.addEventListener("click", async () => {
    const body = { labels: Object.fromEntries(labels.value.split(",").map((p) => p.split("=").map((s) => s.trim()))
      .filter((pair) => pair.length === 2 && pair[0])) };
    if (question.value.trim()) body.query = question.value.trim(); else body.plan_text = text.value;
    button.disabled = true;
    result.replaceChildren(el("div", { class: "note" }, "submitting…"));
    try {
      const { run_id } = await post("/api/submit", body);
      location.assign(`/runs/${encodeURIComponent(run_id)}`);
    } catch (error) {
      result.replaceChildren(errorBox(error.message));
      button.disabled = false;
    }
  });
  main.replaceChildren(el("h1", {}, "Submit a plan or a question"),
    el("p", { class: "legend" }, "Checked as you type by the planner's own parser and validator (seed, GAP, " +
      "LLMCompiler or JSON formats)."),
    el("div", { class: "editor" }, gutter, text), check, question, el("p"), labels, el("p"), button, result);
  numbers(null);
  validate();
  api("/api/health").then((h) => setFeed(h.feed)).catch(() => {});
}

// Warehouse ------------------------------------------------------------------------------------------------------

function sqlPage() {
  const box = el("textarea", { id: "sql", spellcheck: "false", rows: 7 });
  box.value = "SELECT * FROM tool_latency ORDER BY p95_s DESC";
  const output = el("div", { id: "sql-result" });
  const csv = el("a", { id: "csv", href: "#" }, "download as CSV");
  const examples = el("div", { class: "examples" });
  const charts = el("div", { class: "charts", id: "charts" });
  const policies = el("div", { id: "policies" });

  let busy = false;  // one query at a time: a click while one runs is ignored

  async function runQuery() {
    if (busy) return;
    busy = true;
    output.replaceChildren(el("div", { class: "note" }, "running…"));
    csv.href = "/api/sql?query=" + encodeURIComponent(box.value);
    try {
      const data = await post("/api/sql", { query: box.value });
      output.replaceChildren(
        el("p", { class: "legend" }, `${data.rows.length} rows${data.truncated ? " (cut off)" : ""} from ` +
          data.source),
        el("table", { id: "sql-table" }, el("thead", {}, el("tr", {}, data.columns.map((c) => el("th", {}, c)))),
          el("tbody", {}, data.rows.map((row) => el("tr", {}, row.map((v) =>
            el("td", {}, v === null ? "" : typeof v === "object" ? JSON.stringify(v) : v)))))));
      drawCharts();
    } catch (error) {
      output.replaceChildren(errorBox(error.message));
    } finally {
      busy = false;
    }
  }

  api("/api/examples").then((list) => examples.replaceChildren(...list.map((example) =>
    el("button", { type: "button", title: example.description, "data-example": example.name,
      onclick: () => { box.value = example.sql; runQuery(); } }, example.name))));
  // Drawn at load, and again after each answered query: the warehouse may have written new snapshots since.
  const drawCharts = () => api("/api/charts").then((data) => {
    charts.replaceChildren(...["tool_latency", "speedup", "error_rates", "tokens", "rewards"].map((name) => {
      const holder = el("div", { "data-chart": name });
      holder.innerHTML = data[name];  // SVG drawn by the server from numbers only (services/console/core/charts.py)
      return holder;
    }));
    const rows = data.policies || [];
    policies.replaceChildren(rows.length ? el("table", {}, el("thead", {}, el("tr", {},
      Object.keys(rows[0]).map((k) => el("th", {}, k)))), el("tbody", {}, rows.map((r) =>
      el("tr", {}, Object.values(r).map((v) => el("td", {}, v === null ? "" : v))))))
      : el("p", { class: "legend" }, "no policy published yet"));
  }).catch((error) => charts.replaceChildren(errorBox(error.message)));
  drawCharts();

  main.replaceChildren(el("h1", {}, "Warehouse"),
    el("p", { class: "legend" }, "Read-only SQL over the warehouse's tables and views, as `genesis warehouse sql` " +
      "answers it. One SELECT at a time; files cannot be read or written."),
    el("div", {}, el("b", {}, "Examples: "), examples), box,
    el("p", {}, el("button", { class: "primary", id: "run-sql", type: "button", onclick: runQuery }, "Run"), " ",
      csv),
    output, el("h2", {}, "The views at a glance"), charts, el("h2", {}, "Policy versions"), policies);
  api("/api/health").then((h) => setFeed(h.feed)).catch(() => {});
}

// Router ---------------------------------------------------------------------------------------------------------

function route() {
  const path = location.pathname;
  const page = path.startsWith("/runs/") ? "runs" : path === "/submit" ? "submit" : path === "/sql" ? "sql" : "runs";
  for (const link of document.querySelectorAll("nav a")) link.classList.toggle("active", link.dataset.page === page);
  if (path.startsWith("/runs/")) runPage(decodeURIComponent(path.slice("/runs/".length)));
  else if (path === "/submit") submitPage();
  else if (path === "/sql") sqlPage();
  else runsPage();
}

route();
