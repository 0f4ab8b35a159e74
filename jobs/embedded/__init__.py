"""Start-up of the Python interpreter embedded in the JVM (Flink's thread mode).

`jobs.detect.flink_configuration` puts this directory first on the JVM's PYTHONPATH, so its
`sitecustomize` runs once, while the embedded interpreter initialises and before any operator
thread runs Python."""
