"README.md is generated from nbs/index.ipynb (tools/make_readme.py) and keeps the two set-up commands."
import re, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

def test_readme_is_generated_from_index():
    res = subprocess.run([sys.executable, str(ROOT / "tools" / "make_readme.py"), "--check"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr + res.stdout

def test_readme_has_exactly_two_setup_commands_and_ci_calls_the_test_one():
    text = (ROOT / "README.md").read_text()
    block = re.search(r"## Two commands.*?```bash\n(.*?)```", text, re.S).group(1)
    commands = [l.split("#")[0].strip() for l in block.splitlines() if l.strip() and not l.strip().startswith("#")]
    assert commands == ["make reproduce", "make test"], commands
    assert "make test" in (ROOT / ".ci" / "run").read_text()

def test_readme_links_resolve():
    text = (ROOT / "README.md").read_text()
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"^(https?:|mailto:|#)", target): continue
        assert (ROOT / target).exists(), f"README links to {target}, which does not exist"
