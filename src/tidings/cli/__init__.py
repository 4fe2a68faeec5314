"""The ``tidings`` command: thin Typer commands that parse, call services and print."""
