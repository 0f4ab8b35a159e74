"""Behavioural features per subject, as plain-Python reference definitions.

The Flink job computes the same features with SQL OVER windows (`jobs/features_sql.py`);
tests hold the two to equal values.
"""
