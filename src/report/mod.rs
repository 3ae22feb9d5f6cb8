//! Tables, summary.json, CSV files and charts.
