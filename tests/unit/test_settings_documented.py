"""Every setting is documented: the README's "Settings" table holds exactly the environment variables
`Settings` reads (docs/DEPLOY.md points there)."""

from __future__ import annotations

import re
from pathlib import Path

from bigscreen.process.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_the_readme_lists_every_setting_and_no_other():
    readme = (ROOT / "README.md").read_text()
    table = readme.split("## Settings (environment)", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `(BIGSCREEN_[A-Z0-9_]+)` \|", table, re.M))
    prefix = Settings.model_config["env_prefix"]
    read = {f"{prefix}{name}".upper() for name in Settings.model_fields}
    assert documented == read, f"undocumented: {sorted(read - documented)}; documented but not read: {sorted(documented - read)}"
