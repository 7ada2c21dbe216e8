"""Generated ntuples: ``select`` gives a valid result or one clean error."""

from __future__ import annotations

from typing import Any

import adversarial_ntuples as generator
import pytest
from adversarial_explore import explore
from adversarial_harness import assert_promise

DEFAULT_EXAMPLES = 1
SLOW_EXAMPLES = 4


@pytest.mark.parametrize("kind", generator.KINDS)
def test_ntuple_input_gives_a_valid_result_or_one_clean_error(
    kind: str, shared: dict[str, Any]
) -> None:
    assert_promise(explore(generator, kind, shared, examples=DEFAULT_EXAMPLES))


@pytest.mark.slow
@pytest.mark.parametrize("kind", generator.KINDS)
def test_ntuple_input_at_scale(kind: str, shared: dict[str, Any]) -> None:
    assert_promise(explore(generator, kind, shared, examples=SLOW_EXAMPLES))
