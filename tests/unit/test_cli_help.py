"""Every command and every option of ``smmpanel`` says what it is for."""

import click

from smmpanel.cli import main

# Commands exempt from the rule (none today).
NOT_YET: set[str] = set()


def _commands(group: click.Group, prefix: str = "smmpanel"):
    for name, command in group.commands.items():
        if name in NOT_YET:
            continue
        path = f"{prefix} {name}"
        yield path, command
        if isinstance(command, click.Group):
            yield from _commands(command, path)


def test_every_command_and_option_has_help_text():
    missing = []
    for path, command in _commands(main):
        if not (command.help or command.short_help):
            missing.append(path)
        for param in command.params:
            if isinstance(param, click.Option) and not param.help:
                missing.append(f"{path} {param.opts[0]}")
    assert missing == []
