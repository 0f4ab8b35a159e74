"""The analyst review console: a Django app over the detector's decisions and the access events behind them.

Cases come from v1 decisions (one open case per subject, or per coordinated group), evidence from v1
access events. Analysts' verdicts go to the `verdicts` topic (or a verdicts file) and to an append-only
audit log. `scrapeguard review ...` (review/cli.py) is the entry point; Django is imported only there.
"""
