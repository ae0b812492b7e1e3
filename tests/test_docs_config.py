"The nbdev docs configuration is complete, so `nbdev-docs` builds a site wherever Quarto is installed."
import re
from pathlib import Path
import yaml

NBS = Path(__file__).resolve().parents[1] / "nbs"

def test_quarto_config_is_present_and_complete():
    quarto = yaml.safe_load((NBS / "_quarto.yml").read_text())
    assert quarto["project"]["type"] == "website"
    for meta in quarto["metadata-files"]: assert (NBS / meta).is_file(), meta
    assert (NBS / quarto["format"]["html"]["css"]).is_file()

def test_sidebar_lists_every_notebook():
    text = (NBS / "sidebar.yml").read_text()
    listed = set(re.findall(r"-\s+([\w/]+\.ipynb)", text))
    present = {p.relative_to(NBS).as_posix() for p in NBS.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts}
    assert listed == present, f"missing from sidebar.yml: {sorted(present - listed)}; stale: {sorted(listed - present)}"
