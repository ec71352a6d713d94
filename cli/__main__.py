"""`python -m cli`: the same as the `waypoint` command."""

from cli import main

main()
