"""`python -m firewall` runs the outguard command line."""

from firewall.cli import main

main()
