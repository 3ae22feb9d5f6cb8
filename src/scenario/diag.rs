//! Diagnostics (`FILE:LINE:COL: error: MESSAGE`) and the map from objects' fields back to
//! where they were written.

use super::yaml::{parent_path, PosMap};
use std::fmt;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
    /// Something kubesim did with valid input that the reader should know (an object it
    /// skipped because another one stands for it), not a problem.
    Note,
}

/// One problem found in the input, with where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub file: String,
    /// 1-based; 0 when the problem has no place in a file (a missing file).
    pub line: usize,
    /// 1-based; 0 with `line`.
    pub column: usize,
    pub message: String,
}

impl Diagnostic {
    pub fn error(file: &str, line: usize, column: usize, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            file: file.to_string(),
            line,
            column,
            message: message.into(),
        }
    }
    pub fn warning(file: &str, line: usize, column: usize, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(file, line, column, message)
        }
    }
    pub fn note(file: &str, line: usize, column: usize, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Note,
            ..Diagnostic::error(file, line, column, message)
        }
    }
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        };
        if self.line == 0 {
            // No place in the file (a file that cannot be read, a `--set` naming nothing).
            return write!(f, "{}: {sev}: {}", self.file, self.message);
        }
        write!(
            f,
            "{}:{}:{}: {sev}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

/// Every problem of a failed load: all errors, and the warnings found on the way, in the
/// order of the input.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter().filter(|d| d.is_error())
    }
    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter().filter(|d| !d.is_error())
    }
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(Diagnostic::is_error)
    }
    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.0.iter()
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

/// Where one object of [`crate::sim::Scenario::objects`] was written.
#[derive(Debug, Clone)]
pub(crate) struct ObjectSource {
    pub file: String,
    /// Lines of the file before the document's text.
    pub line_offset: usize,
    /// Field path prefix of the object in its document (`items[2]` inside a `kind: List`).
    pub prefix: String,
    /// The positions of the object's whole document, shared by the items of a `List`.
    pub positions: Arc<PosMap>,
}

/// Field positions of every object, so that a later stage (the simulated API server's
/// allocation errors) can point at `spec.ports[0].nodePort` of object `i`.
#[derive(Debug, Clone, Default)]
pub struct SourceMap {
    pub(crate) objects: Vec<ObjectSource>,
}

impl SourceMap {
    /// `(file, line, column)` of `field_path` (`spec.ports[0].nodePort`, or `""` for the
    /// object itself) in object `object_index`; the nearest written ancestor when the field
    /// itself is absent (defaulted), so at worst the object's start. `None` for an index out
    /// of range.
    pub fn locate(&self, object_index: usize, field_path: &str) -> Option<(String, usize, usize)> {
        let o = self.objects.get(object_index)?;
        let full = match (o.prefix.is_empty(), field_path.is_empty()) {
            (true, _) => field_path.to_string(),
            (false, true) => o.prefix.clone(),
            (false, false) => format!("{}.{field_path}", o.prefix),
        };
        let mut p = full.as_str();
        loop {
            if let Some(pos) = o.positions.get(p) {
                return Some((o.file.clone(), pos.key.line + o.line_offset, pos.key.col));
            }
            if p.is_empty() {
                return Some((o.file.clone(), o.line_offset + 1, 1));
            }
            p = parent_path(p);
        }
    }

    /// How many objects the map knows (equal to `Scenario::objects.len()`).
    pub fn len(&self) -> usize {
        self.objects.len()
    }
    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }
}
