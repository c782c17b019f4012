"""Allow `python -m pigment_cli`."""

from pigment_cli.cli import main

main()
