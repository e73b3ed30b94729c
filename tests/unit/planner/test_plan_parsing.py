"""Every accepted plan format, read into one Plan model with the lines tasks were written on."""

from __future__ import annotations

import pytest

from services.planner.core.errors import PlanError
from services.planner.core.parse import parse_plan, parse_plan_with_lines

SEED_EXPECTED = [("1", (), "kb_search"), ("2", (), "kb_search"), ("3", ("1", "2"), "calculator")]

SEED_VARIANTS = {
    "wrapped after a think block": """<think>
France first, then Germany.
</think>
<plan>
Task 1: kb_search(query="population of France") | Dependencies: none
Task 2: kb_search(query="population of Germany") | Dependencies: none
Task 3: calculator(expression="$1 / $2") | Dependencies: Task 1, Task 2
</plan>
Anything after the plan is ignored.""",
    "unwrapped, lower case, extra spaces, blank lines": """
task 1 :   kb_search(query="population of France")   |   DEPENDENCIES: NONE

TASK 2: kb_search(query="population of Germany")|dependencies:none
   Task 3: calculator(expression="$1 / $2") | Dependencies: 1,task 2
""",
    "inside a code fence with bullets and a closing-only think tag": """reasoning the model leaked</think>
```
- Task 1: kb_search(query="population of France") | Dependencies: None.
- Task 2: kb_search(query="population of Germany") | Dependencies: none
- Task 3: calculator(expression="$1 / $2") | Dependencies: Task 1 and Task 2
```""",
}


@pytest.mark.parametrize("text", SEED_VARIANTS.values(), ids=SEED_VARIANTS.keys())
def test_seed_plan_is_read_when_written_with_tolerated_variations(text: str) -> None:
    plan = parse_plan(text)
    assert plan.format == "seed"
    assert [(task.id, task.deps, task.tool) for task in plan.tasks] == SEED_EXPECTED
    assert plan.tasks[2].args == {"expression": {"$concat": [{"$ref": "1"}, " / ", {"$ref": "2"}]}}


def test_line_numbers_are_those_of_the_original_text_when_a_think_block_is_removed() -> None:
    parsed = parse_plan_with_lines(SEED_VARIANTS["wrapped after a think block"])
    assert parsed.lines == (5, 6, 7)
    assert parsed.line_of("3") == 7


def test_gap_format_keeps_ids_as_written_when_tasks_use_t_numbers() -> None:
    plan = parse_plan(
        """<plan>
T1: Find the director of Inception - Dependencies: none
T2: kb_search(query="director of Interstellar") - Dependencies: none
T3: Compare the two directors - Dependencies: T1, T2
</plan>"""
    )
    assert plan.format == "gap"
    assert [(task.id, task.deps, task.tool) for task in plan.tasks] == [
        ("T1", (), None),
        ("T2", (), "kb_search"),
        ("T3", ("T1", "T2"), None),
    ]
    assert plan.tasks[0].description == "Find the director of Inception"


def test_llmcompiler_plan_derives_dependencies_from_references_when_read() -> None:
    parsed = parse_plan_with_lines(
        """Thought: I need both populations first.
1. kb_search("population of France")
2. kb_search(query="population of Germany") #E2
Thought: Now divide.
3. calculator(expression="${1} / $2", precision=2)
4. join()<END_OF_PLAN>
5. this line comes after join and is ignored"""
    )
    plan = parsed.plan
    assert plan.format == "llmcompiler"
    assert [(task.id, task.deps) for task in plan.tasks] == [("1", ()), ("2", ()), ("3", ("1", "2"))]
    assert plan.tasks[0].args == {"input": "population of France"}
    assert plan.tasks[2].args == {
        "expression": {"$concat": [{"$ref": "1"}, " / ", {"$ref": "2"}]},
        "precision": 2,
    }
    assert parsed.lines == (2, 3, 5)


def test_unquoted_reference_is_a_whole_value_when_llmcompiler_passes_it_as_an_argument() -> None:
    plan = parse_plan('1. kb_search("x")\n2. summarize($1, ["$1", "note"])\njoin()')
    assert plan.tasks[1].args == {"input": {"$ref": "1"}, "input_2": [{"$ref": "1"}, "note"]}


def test_json_plan_is_read_when_given_a_tasks_list() -> None:
    plan = parse_plan(
        """{"tasks": [
            {"id": 1, "tool": "kb_search", "args": {"query": "capital of Peru"}},
            {"id": "b", "description": "calculator(expression=\\"$1 * 2\\")", "deps": [1]},
            {"id": "c", "description": "Write a haiku about it", "deps": ["b"]}
        ]}"""
    )
    assert plan.format == "json"
    assert [(task.id, task.tool, task.deps) for task in plan.tasks] == [
        ("1", "kb_search", ()),
        ("b", "calculator", ("1",)),
        ("c", None, ("b",)),
    ]
    assert plan.tasks[1].args == {"expression": {"$concat": [{"$ref": "1"}, " * 2"]}}


def test_json_dependencies_come_from_references_when_deps_are_omitted() -> None:
    plan = parse_plan(
        '{"tasks": [{"id": "a", "tool": "t"}, {"id": "b", "tool": "t", "args": {"x": "$a", "y": {"$ref": "a"}}}]}'
    )
    assert plan.tasks[1].deps == ("a",)
    assert plan.tasks[1].args == {"x": {"$ref": "a"}, "y": {"$ref": "a"}}


@pytest.mark.parametrize(
    ("description", "tool", "args"),
    [
        ('kb_search("films by Nolan")', "kb_search", {"input": "films by Nolan"}),
        ("sleep(seconds=1.5)", "sleep", {"seconds": 1.5}),
        (
            "sql(query='select 1', limit=-3, strict=True, tag=None)",
            "sql",
            {"query": "select 1", "limit": -3, "strict": True, "tag": None},
        ),
        (
            'plot(points=[(1, 2), (3, 4)], style={"color": "red"})',
            "plot",
            {"points": [[1, 2], [3, 4]], "style": {"color": "red"}},
        ),
        ("Summarize the findings (briefly)", None, {}),
        ("Compare prices under $5 and $50", None, {}),
    ],
)
def test_description_is_read_as_tool_call_when_it_has_call_shape(
    description: str, tool: str | None, args: dict
) -> None:
    task = parse_plan(f"Task 1: {description} | Dependencies: none").tasks[0]
    assert (task.tool, task.args, task.description) == (tool, args, description)


def test_dollar_amounts_stay_text_when_no_task_has_that_id() -> None:
    plan = parse_plan('Task 1: kb_search(query="laptops under $500, not $$1") | Dependencies: none')
    assert plan.tasks[0].args == {"query": "laptops under $500, not $1"}
    assert plan.tasks[0].deps == ()


def test_positional_arguments_take_signature_names_when_the_signature_is_known() -> None:
    plan = parse_plan('1. kb_search("Peru", 3)\njoin()', signatures={"kb_search": ["query", "limit"]})
    assert plan.tasks[0].args == {"query": "Peru", "limit": 3}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Here is my plan, enjoy.", "line 1: expected a task like"),
        ("Task 1: search things\nTask 2: more | Dependencies: none", "line 1: task 1 has no '| Dependencies"),
        ("Notes: search things", "line 1: expected a task like"),
        (
            "Task 1: a | Dependencies: none\nTask 2: b",
            "line 2: task 2 has no '| Dependencies: ...' part (write 'none')",
        ),
        (
            "Task 1: a | Dependencies: none\nTask 2: b | Dependencies: the first one",
            "line 2: task 2 has an unreadable dependency 'the first one'",
        ),
        ("Task 1:  | Dependencies: none", "line 1: task 1 has no description"),
        (
            "\n\nTask 1: kb_search(query=country) | Dependencies: none",
            "line 3: task 1: argument 'query' of kb_search must be a literal",
        ),
        ('Task 1: kb_search(query="unclosed) | Dependencies: none', "line 1: task 1: cannot read tool call"),
        ("Task 1: kb_search(**options) | Dependencies: none", "line 1: task 1: tool call kb_search(...) cannot unpack"),
        ("1. kb_search('a')\n2. not a call at all", "line 2: task 2: expected a tool call"),
        ('1. kb_search("a", "b")', "line 1: task 1: kb_search takes at most 1 positional arguments, got 2"),
        ("<plan>\n\n</plan>", "plan has no tasks"),
        ('<plan>\n{"tasks": [\n  {"id": 1,}\n]}\n</plan>', "line 3: invalid JSON"),
        ('{"steps": []}', "line 1: a JSON plan must be an object with a 'tasks' list"),
        ('{"tasks": [{"id": "a", "dependencies": []}]}', "task a: unknown field 'dependencies'"),
        ('{"tasks": [{"description": "x"}]}', "task #1 needs an 'id'"),
    ],
)
def test_parse_rejects_with_a_located_one_line_message_when_text_is_unreadable(text: str, message: str) -> None:
    with pytest.raises(PlanError) as raised:
        parse_plan(text, signatures={"kb_search": ["query"]})
    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)
