//! Human-readable output: one line per finding, colored by severity, and a summary table.
