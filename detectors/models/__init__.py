"""River online models: unsupervised anomaly scores and a classifier learned from analyst verdicts."""
