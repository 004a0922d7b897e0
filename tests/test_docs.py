"""The README's set-up commands are the ones CI runs, and its examples run."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_commands():
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```(?:bash|sh)\n(.*?)```", text, re.S)
    assert block, "README.md must open with a shell block of set-up commands"
    return [line for line in block.group(1).splitlines() if line and not line.startswith("#")]


def test_readme_opens_with_demo_and_test_commands():
    demo, test = readme_commands()[:2]
    assert "gpudeconv demo" in demo
    assert "[test]" in test and "pytest" in test


def test_ci_runs_the_readme_test_command():
    test = readme_commands()[1]
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test in ci


def test_readme_tour_runs():
    """The README's first Python block is a runnable tour of the API."""
    text = (ROOT / "README.md").read_text()
    tour = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    namespace = {}
    exec(compile(tour, "README.md", "exec"), namespace)  # noqa: S102
    assert namespace["restored"].shape == namespace["sharp"].shape
