"""The adversarial suite's shared inputs; its helpers and tests/data on the path."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

_HERE = Path(__file__).parent
for _folder in (_HERE, _HERE.parent / "data"):
    if str(_folder) not in sys.path:
        sys.path.insert(0, str(_folder))


@pytest.fixture(scope="session")
def shared(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Valid inputs the generated cases lean on (written once per session)."""
    from adversarial_explore import make_shared

    return make_shared(tmp_path_factory.mktemp("adversarial-shared"))
