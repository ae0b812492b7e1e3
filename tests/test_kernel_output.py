"""What a notebook run by the runner shows: picnn's progress bars without tqdm's "IProgress not found" warning (tqdm.auto
wants ipywidgets in a kernel, which picnn does not depend on: the warning was baked into every result notebook), and a
kernel that does not warn about running over TCP without encryption."""

import json
import pytest

pm = pytest.importorskip("papermill")
nbformat = pytest.importorskip("nbformat")


def test_picnn_in_a_kernel_prints_no_warning(tmp_path, capfd):
    from traitlets.config import Config
    from picnn.reproduce import KERNEL_CONFIG, kernel_name

    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(
                "import picnn, picnn.train, picnn.sources\n"
                "from picnn.train import tqdm\n"
                "for _ in tqdm(range(3), desc='bar'): pass"
            )
        ]
    )
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(tmp_path / "in.ipynb"))
    pm.execute_notebook(
        str(tmp_path / "in.ipynb"),
        str(tmp_path / "out.ipynb"),
        kernel_name=kernel_name(),
        language="python",
        cwd=str(tmp_path),
        progress_bar=False,
        log_output=False,
        config=Config(KERNEL_CONFIG),
    )
    outputs = json.loads((tmp_path / "out.ipynb").read_text())["cells"][0]["outputs"]
    text = "".join("".join(o.get("text", "")) for o in outputs)
    assert "IProgress" not in text and "TqdmWarning" not in text, text
    assert "bar: 100%" in text, f"the progress bar is gone too:\n{text}"  # the bar itself still shows, as text
    captured = capfd.readouterr()
    assert "without encryption" not in captured.out + captured.err, captured.err
