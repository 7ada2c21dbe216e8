"""Generated pyhf workspaces: ``limit`` and ``significance`` give a valid result or one clean error."""

from __future__ import annotations

from typing import Any

import adversarial_workspaces as generator
import pytest
from adversarial_explore import explore
from adversarial_harness import assert_promise

DEFAULT_EXAMPLES = 1
SLOW_EXAMPLES = 3
CLOSED_FORM_EXAMPLES = 8


@pytest.mark.parametrize("kind", generator.KINDS)
def test_workspace_input_gives_a_valid_result_or_one_clean_error(
    kind: str, shared: dict[str, Any]
) -> None:
    assert_promise(explore(generator, kind, shared, examples=DEFAULT_EXAMPLES))


@pytest.mark.slow
@pytest.mark.parametrize("kind", generator.KINDS)
def test_workspace_input_at_scale(kind: str, shared: dict[str, Any]) -> None:
    assert_promise(explore(generator, kind, shared, examples=SLOW_EXAMPLES))


def test_one_bin_results_match_the_closed_forms(shared: dict[str, Any]) -> None:
    """Valid one-bin workspaces: p, Z, B10 and both limits against closed forms (scipy)."""
    outcomes = explore(generator, "closed form", shared, examples=CLOSED_FORM_EXAMPLES)
    assert_promise(outcomes)
    assert sum("n" in o.case.reference for o in outcomes) == len(outcomes)


@pytest.mark.slow
def test_one_bin_results_match_the_closed_forms_at_scale(shared: dict[str, Any]) -> None:
    outcomes = explore(generator, "closed form", shared, examples=8 * CLOSED_FORM_EXAMPLES)
    assert_promise(outcomes)
