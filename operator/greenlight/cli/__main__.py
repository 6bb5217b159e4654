"""`python -m greenlight.cli`: the same as the `greenlight` command."""

from greenlight.cli.main import main

main()
