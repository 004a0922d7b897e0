"""The README's set-up commands are the ones CI runs, and its examples run."""

import ast
import re
from pathlib import Path

from conftest import psnr

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


def restoring_blocks() -> list[str]:
    """The README's Python blocks that restore the tour's ``photo`` (the tour
    itself and the examples after it), in order."""
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    return [block for block in blocks if "photo" in block]


def test_readme_examples_run_and_restore_better_than_their_input():
    """Each statement of the README's examples that assigns ``restored``
    must give a sharper image than the blurred ``photo`` it starts from."""
    blocks = restoring_blocks()
    assert len(blocks) >= 2 and "sharp = " in blocks[0]
    namespace, gains = {}, []
    for block in blocks:
        for statement in ast.parse(block).body:
            code = compile(ast.Module([statement], []), "README.md", "exec")
            exec(code, namespace)  # noqa: S102
            names = {n.id for n in ast.walk(statement) if isinstance(n, ast.Name)}
            if isinstance(statement, ast.Assign) and "restored" in names:
                sharp, photo, restored = (namespace[k] for k in ("sharp", "photo", "restored"))
                assert restored.shape == photo.shape and restored.dtype == photo.dtype
                gain = psnr(sharp, restored) - psnr(sharp, photo)
                gains.append(gain)
                assert gain > 1, (ast.unparse(statement), gain)
    assert len(gains) >= 5, gains
