"""The CLI reference, docs/cli.md: every command's --help at a fixed width, in the order --help
lists them. `make docs` rewrites it (cog runs `markdown()`); tests/test_docs.py fails when it is
stale. Imported by cog and the tests only, never by a command."""

from __future__ import annotations

from collections.abc import Iterator

import typer
from typer.core import TyperGroup

from pigment_cli.cli import app

WIDTH = 80  # fixed: the file must not depend on the terminal that ran `make docs`


def _contexts(ctx: typer.Context) -> Iterator[typer.Context]:
    """`ctx`, then a context for every command below it, loading lazy groups as --help does."""
    yield ctx
    group = ctx.command
    if isinstance(group, TyperGroup):
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            if command is not None and not command.hidden:
                yield from _contexts(typer.Context(command, parent=ctx, info_name=name,
                                                   **command.context_settings))


def _help(ctx: typer.Context) -> str:
    return "\n".join(line.rstrip() for line in ctx.command.get_help(ctx).splitlines())


def markdown() -> str:
    """A contents list, then one section per command (groups included) holding its --help."""
    root = typer.main.get_command(app)
    top = typer.Context(root, info_name="pigment", terminal_width=WIDTH, max_content_width=WIDTH,
                        **root.context_settings)
    contexts = list(_contexts(top))
    contents = "".join(f"- [`{c.command_path}`](#{c.command_path.replace(' ', '-')})\n"
                       for c in contexts)
    sections = "".join(f"\n## {c.command_path}\n\n```text\n{_help(c)}\n```\n" for c in contexts)
    return contents + sections
