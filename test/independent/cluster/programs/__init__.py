"""The programs the cluster plays, one module each; every one exposes an Actor (see activity.py)."""
