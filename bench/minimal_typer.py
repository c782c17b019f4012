"""The floor of any Typer CLI, for bench/run: one sub-app, one command that prints a word."""

import typer

app = typer.Typer()
sub = typer.Typer()
app.add_typer(sub, name="say")


@sub.command("word")
def word() -> None:
    print("word")


if __name__ == "__main__":
    app()
