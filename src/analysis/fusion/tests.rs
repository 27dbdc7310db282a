//! Predictions on hand-made graphs and on the corpus exports.
