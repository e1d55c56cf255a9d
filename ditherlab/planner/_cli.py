"""Planner sub-commands: ``plan``, ``patterns``, ``apertures``."""

from __future__ import annotations

import argparse

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add the planner's sub-commands to ``sub``."""
