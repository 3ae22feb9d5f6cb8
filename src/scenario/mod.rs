//! Loading and validating scenario YAML.
