"""Detection logic: event contract, route table, features, rules, decision policy.

Plain Python with no Flink imports, so the same code runs inside a Flink operator
and in a unit test.
"""

__version__ = "0.1.0"
