"""`shardline stack` (placeholder: registered commands)."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
