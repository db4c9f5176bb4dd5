"""Operator commands, one click group per module; registered by ``idp.cli.register_cli``."""
