//! Validation: every problem of an object, each with its field path, as Kubernetes reports them.

pub mod batch;
pub mod meta;
pub mod names;
pub mod other;
pub mod pod;
pub mod policy;
pub mod probe;
pub mod rbac;
pub mod volumes;
pub mod workloads;

use std::fmt;

/// The kinds of problem Kubernetes distinguishes (the `reason` of a `Status` cause).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorType {
    /// A required field is missing.
    Required,
    /// A value is malformed or out of range.
    Invalid,
    /// A value is not one of the supported values.
    NotSupported,
    /// A value repeats where it must be unique.
    Duplicate,
    /// A field may not be changed or set.
    Forbidden,
}

impl ErrorType {
    /// The Kubernetes cause reason (`FieldValueRequired`, ...).
    pub fn reason(self) -> &'static str {
        match self {
            ErrorType::Required => "FieldValueRequired",
            ErrorType::Invalid => "FieldValueInvalid",
            ErrorType::NotSupported => "FieldValueNotSupported",
            ErrorType::Duplicate => "FieldValueDuplicate",
            ErrorType::Forbidden => "FieldValueForbidden",
        }
    }
}

/// One problem at one field path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Kind of problem.
    pub kind: ErrorType,
    /// Field path such as `spec.containers[0].image`.
    pub field: String,
    /// What was wrong, and what was expected.
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// A field path under construction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Path(String);

impl Path {
    /// The root path with one segment.
    pub fn new(root: &str) -> Path {
        Path(root.to_string())
    }
    /// `a.b`.
    pub fn child(&self, name: &str) -> Path {
        if self.0.is_empty() {
            Path(name.to_string())
        } else {
            Path(format!("{}.{}", self.0, name))
        }
    }
    /// `a[3]`.
    pub fn index(&self, i: usize) -> Path {
        Path(format!("{}[{}]", self.0, i))
    }
    /// `a[key]`.
    pub fn key(&self, k: &str) -> Path {
        Path(format!("{}[{}]", self.0, k))
    }
    /// The path as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Collects every problem found.
#[derive(Debug, Default)]
pub struct Errors(pub Vec<FieldError>);

impl Errors {
    fn push(&mut self, kind: ErrorType, path: &Path, message: String) {
        self.0.push(FieldError {
            kind,
            field: path.0.clone(),
            message,
        });
    }
    /// `Required value`, with what is expected.
    pub fn required(&mut self, path: &Path, detail: &str) {
        let message = if detail.is_empty() {
            "Required value".to_string()
        } else {
            format!("Required value: {detail}")
        };
        self.push(ErrorType::Required, path, message);
    }
    /// `Invalid value: "x": why`.
    pub fn invalid(&mut self, path: &Path, value: impl fmt::Display, detail: &str) {
        self.push(
            ErrorType::Invalid,
            path,
            format!("Invalid value: \"{value}\": {detail}"),
        );
    }
    /// `Unsupported value: "x": supported values: ...`.
    pub fn not_supported(&mut self, path: &Path, value: &str, supported: &[&str]) {
        let list: Vec<String> = supported.iter().map(|s| format!("\"{s}\"")).collect();
        self.push(
            ErrorType::NotSupported,
            path,
            format!("Unsupported value: \"{value}\": supported values: {}", list.join(", ")),
        );
    }
    /// `Duplicate value: "x"`.
    pub fn duplicate(&mut self, path: &Path, value: &str) {
        self.push(ErrorType::Duplicate, path, format!("Duplicate value: \"{value}\""));
    }
    /// `Forbidden: why`.
    pub fn forbidden(&mut self, path: &Path, detail: &str) {
        self.push(ErrorType::Forbidden, path, format!("Forbidden: {detail}"));
    }
    /// Checks a value is one of the supported ones.
    pub fn one_of(&mut self, path: &Path, value: &str, supported: &[&str]) {
        if !supported.contains(&value) {
            self.not_supported(path, value, supported);
        }
    }
    /// Checks an integer is at least `min`.
    pub fn at_least(&mut self, path: &Path, value: i64, min: i64) {
        if value < min {
            self.invalid(path, value, &format!("must be greater than or equal to {min}"));
        }
    }
    /// Checks a port number is within 1..=65535.
    pub fn port(&mut self, path: &Path, value: i64) {
        if !(1..=65535).contains(&value) {
            self.invalid(path, value, "must be between 1 and 65535, inclusive");
        }
    }
    /// Checks a resource quantity parses.
    pub fn quantity(&mut self, path: &Path, value: &str) {
        if crate::quantity::parse_milli(value).is_none_or(|q| q < 0) {
            self.invalid(
                path,
                value,
                "must be a non-negative quantity such as 100m, 1.5, 512Mi or 2G",
            );
        }
    }
    /// Whether nothing was found.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
