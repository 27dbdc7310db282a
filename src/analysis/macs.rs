//! Multiply-accumulate counts of compute ops from inferred shapes.
