"""Bootstrap pip into a virtualenv made without it (Debian without python3-venv).

Downloads the newest pip wheel from PyPI and runs pip from inside the wheel to
install itself, which is what pip's own bootstrap does.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path


def main() -> None:
    with urllib.request.urlopen("https://pypi.org/pypi/pip/json", timeout=60) as response:
        release = json.load(response)
    wheel = next(u for u in release["urls"] if u["filename"].endswith(".whl"))
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / wheel["filename"]
        with urllib.request.urlopen(wheel["url"], timeout=120) as response:
            target.write_bytes(response.read())
        subprocess.run([sys.executable, f"{target}/pip", "install", "--no-index", str(target)],
                       check=True)


if __name__ == "__main__":
    main()
