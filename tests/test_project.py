"""The project's own setup: README commands and CI stay in step."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    blocks = [b.split("```")[0] for b in readme.split("```bash")[1:3]]
    test_cmd = [ln for ln in blocks[1].splitlines() if ln.strip() and not ln.startswith("#")][0]
    assert "pytest" in test_cmd
    assert test_cmd.strip() in (ROOT / ".ci" / "run").read_text()
    demo_cmd = [ln for ln in blocks[0].splitlines() if ln.strip() and not ln.startswith("#")][0]
    assert "edkit demo" in demo_cmd
