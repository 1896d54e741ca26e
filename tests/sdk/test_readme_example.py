"""The README's Python SDK example runs as printed against a running backend."""
from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def sdk_example() -> str:
    section = README.read_text().split("## Python SDK", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


async def test_readme_example_prints_three_prices(backend):
    env = dict(os.environ, BACKBONE_URL=backend.url, PYTHONPATH=str(README.parent))
    env.pop("API_KEY", None)
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", sdk_example(), env=env,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, err.decode()[-2000:]
    lines = out.decode().splitlines()
    assert [ln.split(":")[0] for ln in lines[:3]] == ["0", "1", "2"] and "005930 =" in lines[0]
    assert lines[3].startswith("REST:")
