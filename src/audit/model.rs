//! Running a model with ONNX Runtime (the `ort` crate, loading `libonnxruntime` at run time).
//!
//! Where the library comes from, in order: the `--onnxruntime PATH` flag, the `ORT_DYLIB_PATH`
//! environment variable, then known locations ([`candidates`]): beside the executable, the
//! `onnxruntime` Python package (`onnxruntime/capi/libonnxruntime.so*`) in `$VIRTUAL_ENV`,
//! `./.venv-audit`, the checkout's `.venv-audit` and the usual site-packages, then the system's
//! library directories. If none is found the error says how to get it.

use super::data::Table;
use super::suite::{Input, InputType, Output};
use ort::session::Session;
use ort::value::{Tensor, TensorElementType, ValueType};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The pip package the README installs (any ONNX Runtime >= 1.17 works).
pub const PIP_HINT: &str = "python3 -m venv .venv-audit && .venv-audit/bin/pip install onnxruntime==1.31.1 (scripts/setup.sh does this), then pass --onnxruntime .venv-audit/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so.1.31.1 or set ORT_DYLIB_PATH to it";

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ModelError(pub String);

fn err(m: impl Into<String>) -> ModelError {
    ModelError(m.into())
}

/// Known places for `libonnxruntime`, in the order they are tried.
pub fn candidates() -> Vec<PathBuf> {
    let mut roots: Vec<PathBuf> = Vec::new();
    if let Some(v) = std::env::var_os("VIRTUAL_ENV") {
        roots.push(v.into());
    }
    roots.push(PathBuf::from(".venv-audit"));
    if let Ok(exe) = std::env::current_exe() {
        // target/<profile>/embargo (or target/<profile>/deps/<test>) inside a checkout
        for up in exe.ancestors().skip(1).take(4) {
            roots.push(up.join(".venv-audit"));
        }
    }
    // The checkout this binary was built from (its target directory may be elsewhere).
    roots.push(Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv-audit"));
    if let Some(home) = std::env::var_os("HOME") {
        roots.push(Path::new(&home).join(".local"));
    }
    roots.push(PathBuf::from("/usr/local"));
    roots.push(PathBuf::from("/usr"));
    let mut out = Vec::new();
    if let Ok(exe) = std::env::current_exe() {
        if let Some(dir) = exe.parent() {
            out.extend(matching(dir, "libonnxruntime.so"));
        }
    }
    for root in roots {
        for lib in ["lib", "lib64"] {
            let Ok(entries) = std::fs::read_dir(root.join(lib)) else {
                continue;
            };
            let mut pythons: Vec<PathBuf> = entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("python3"))
                })
                .collect();
            pythons.sort();
            pythons.reverse();
            for py in pythons {
                for sp in ["site-packages", "dist-packages"] {
                    out.extend(matching(
                        &py.join(sp).join("onnxruntime/capi"),
                        "libonnxruntime.so",
                    ));
                }
            }
        }
    }
    for dir in [
        "/usr/local/lib",
        "/usr/lib",
        "/usr/lib/x86_64-linux-gnu",
        "/usr/lib/aarch64-linux-gnu",
        "/opt/onnxruntime/lib",
    ] {
        out.extend(matching(Path::new(dir), "libonnxruntime.so"));
    }
    out
}

/// Files in `dir` named `prefix` or `prefix.<version>`, newest version first.
fn matching(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                n == prefix || (n.starts_with(prefix) && n[prefix.len()..].starts_with('.'))
            })
        })
        .collect();
    found.sort();
    found.reverse();
    found
}

/// Finds the ONNX Runtime library: `flag`, then `ORT_DYLIB_PATH`, then [`candidates`].
pub fn find_library(flag: Option<&Path>) -> Result<PathBuf, ModelError> {
    if let Some(p) = flag {
        if p.is_file() {
            return Ok(p.to_owned());
        }
        return Err(err(format!(
            "--onnxruntime {}: no such file; to get ONNX Runtime: {PIP_HINT}",
            p.display()
        )));
    }
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        if p.is_file() {
            return Ok(p);
        }
        return Err(err(format!(
            "ORT_DYLIB_PATH={}: no such file; to get ONNX Runtime: {PIP_HINT}",
            p.display()
        )));
    }
    candidates().into_iter().next().ok_or_else(|| {
        err(format!(
            "ONNX Runtime (libonnxruntime.so, version 1.17 or later) was not found: not given with --onnxruntime, not in ORT_DYLIB_PATH, and not in the known places (beside the embargo binary, the onnxruntime Python package in $VIRTUAL_ENV, ./.venv-audit, the checkout's .venv-audit, ~/.local, /usr/local, /usr, and the system library directories). To get it: {PIP_HINT}"
        ))
    })
}

static ENV: OnceLock<Result<(PathBuf, ort::environment::Environment), String>> = OnceLock::new();

/// Loads ONNX Runtime from `lib` (once per process) and returns its version.
pub fn init(lib: &Path) -> Result<String, ModelError> {
    let r = ENV.get_or_init(|| {
        let builder = ort::init_from(lib).map_err(|e| {
            format!(
                "cannot load ONNX Runtime from {}: {e}. To get a working one: {PIP_HINT}",
                lib.display()
            )
        })?;
        let env = builder
            .with_name("embargo-audit")
            .build()
            .map_err(|e| format!("ONNX Runtime from {} does not start: {e}", lib.display()))?;
        Ok((lib.to_owned(), env))
    });
    match r {
        Ok((loaded, _)) if loaded == lib => Ok(version_of(lib)),
        Ok((loaded, _)) => Err(err(format!(
            "ONNX Runtime is already loaded from {} in this process; cannot load {}",
            loaded.display(),
            lib.display()
        ))),
        Err(e) => Err(err(e.clone())),
    }
}

/// The library's version, from its file name (`libonnxruntime.so.1.31.1`, following symlinks),
/// with the build's commit from `ort::info()`.
fn version_of(lib: &Path) -> String {
    let from_name = |p: &Path| {
        p.file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.split_once(".so."))
            .map(|(_, v)| v.to_owned())
    };
    let name =
        from_name(lib).or_else(|| std::fs::canonicalize(lib).ok().and_then(|p| from_name(&p)));
    let info = ort::info();
    let commit = info
        .split(|c: char| c == ',' || c.is_whitespace())
        .find_map(|p| p.strip_prefix("git-commit-id="))
        .map(|c| format!("commit {c}"));
    match (name, commit) {
        (Some(v), Some(c)) => format!("{v} ({c})"),
        (Some(v), None) => v,
        (None, Some(c)) => c,
        (None, None) => "unknown version".into(),
    }
}

fn env() -> &'static ort::environment::Environment {
    match ENV.get() {
        Some(Ok((_, e))) => e,
        _ => panic!("model::init must succeed before a model is loaded"),
    }
}

pub struct Model {
    session: Session,
    file: String,
    /// Time spent building input tensors, and in `Session::run`, over all [`Model::scores`] calls.
    pub input_seconds: f64,
    pub run_seconds: f64,
}

fn type_name(t: &ValueType) -> String {
    match t {
        ValueType::Tensor { ty, shape, .. } => {
            let dims: Vec<String> = shape
                .iter()
                .map(|d| if *d < 0 { "N".into() } else { d.to_string() })
                .collect();
            format!("tensor({}) [{}]", elem_name(*ty), dims.join(", "))
        }
        ValueType::Sequence(inner) => format!("sequence of {}", type_name(inner)),
        ValueType::Map { key, value } => {
            format!("map({} -> {})", elem_name(*key), elem_name(*value))
        }
        ValueType::Optional(inner) => format!("optional {}", type_name(inner)),
    }
}

fn elem_name(t: TensorElementType) -> &'static str {
    match t {
        TensorElementType::Float32 => "float32",
        TensorElementType::Float64 => "float64",
        TensorElementType::Int64 => "int64",
        TensorElementType::Int32 => "int32",
        TensorElementType::String => "string",
        TensorElementType::Bool => "bool",
        TensorElementType::Float16 => "float16",
        TensorElementType::Int8 => "int8",
        TensorElementType::Uint8 => "uint8",
        _ => "other",
    }
}

impl Model {
    /// Loads the model file (after [`init`]). `name` is how errors refer to it.
    pub fn load(path: &Path, name: &str) -> Result<Model, ModelError> {
        let bytes =
            std::fs::read(path).map_err(|e| err(format!("cannot read the model {name}: {e}")))?;
        if bytes.is_empty() {
            return Err(err(format!("{name} is empty: it is not an ONNX model")));
        }
        let session = Session::builder(env())
            .map_err(|e| err(format!("ONNX Runtime: {e}")))?
            .commit_from_memory(&bytes)
            .map_err(|e| {
                let m = e.to_string();
                if m.to_ascii_lowercase().contains("protobuf parsing failed") || m.contains("INVALID_PROTOBUF") || m.contains("parse") {
                    err(format!("{name} is not an ONNX model (ONNX Runtime cannot parse it: {m}); export the model to ONNX first, e.g. with skl2onnx, torch.onnx or onnxmltools"))
                } else {
                    err(format!("ONNX Runtime cannot load {name}: {m}"))
                }
            })?;
        Ok(Model {
            session,
            file: name.to_owned(),
            input_seconds: 0.0,
            run_seconds: 0.0,
        })
    }

    /// The model's tensor inputs: name, element type as the audit feeds it (`None` if it
    /// cannot), and width (the second dimension of a `[N, W]` input, 1 for `[N]`, `None` if
    /// dynamic).
    pub fn tensor_inputs(&self) -> Vec<(String, Option<InputType>, Option<usize>)> {
        self.session
            .inputs()
            .iter()
            .map(|i| {
                let (ty, width) = match i.dtype() {
                    ValueType::Tensor { ty, shape, .. } => {
                        let ty = match ty {
                            TensorElementType::Float32 => Some(InputType::Float32),
                            TensorElementType::Float64 => Some(InputType::Float64),
                            TensorElementType::Int64 => Some(InputType::Int64),
                            TensorElementType::Int32 => Some(InputType::Int32),
                            TensorElementType::String => Some(InputType::String),
                            _ => None,
                        };
                        let width = match shape.len() {
                            1 => Some(1),
                            2 if shape[1] > 0 => Some(shape[1] as usize),
                            _ => None,
                        };
                        (ty, width)
                    }
                    _ => (None, None),
                };
                (i.name().to_owned(), ty, width)
            })
            .collect()
    }

    pub fn describe_inputs(&self) -> String {
        self.session
            .inputs()
            .iter()
            .map(|i| format!("{}: {}", i.name(), type_name(i.dtype())))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Checks that the suite's inputs are exactly the model's, with matching types and widths.
    pub fn check_inputs(&self, inputs: &[Input]) -> Result<(), ModelError> {
        for mi in self.session.inputs() {
            if !inputs.iter().any(|i| i.name == mi.name()) {
                return Err(err(format!(
                    "model input {:?} ({}) of {} is not fed by the suite: add it to model.inputs (the model's inputs: {})",
                    mi.name(),
                    type_name(mi.dtype()),
                    self.file,
                    self.describe_inputs()
                )));
            }
        }
        for i in inputs {
            let Some(mi) = self.session.inputs().iter().find(|m| m.name() == i.name) else {
                return Err(err(format!(
                    "{}: the model {} has no input {:?}; its inputs are: {}",
                    i.at,
                    self.file,
                    i.name,
                    self.describe_inputs()
                )));
            };
            let ValueType::Tensor { ty, shape, .. } = mi.dtype() else {
                return Err(err(format!(
                    "{}: model input {:?} is a {}, not a tensor: embargo audit feeds tensors only",
                    i.at,
                    i.name,
                    type_name(mi.dtype())
                )));
            };
            let want = match i.ty {
                InputType::Float32 => TensorElementType::Float32,
                InputType::Float64 => TensorElementType::Float64,
                InputType::Int64 => TensorElementType::Int64,
                InputType::Int32 => TensorElementType::Int32,
                InputType::String => TensorElementType::String,
            };
            if *ty != want {
                return Err(err(format!(
                    "{}: wrong input type: the suite feeds {:?} as {}, but the model takes {}; set type = \"{}\"",
                    i.at,
                    i.name,
                    i.ty.name(),
                    type_name(mi.dtype()),
                    elem_name(*ty)
                )));
            }
            let width = i.columns.len() as i64;
            let ok = match shape.len() {
                1 => width == 1,
                2 => shape[1] < 0 || shape[1] == width,
                _ => false,
            };
            if !ok {
                return Err(err(format!(
                    "{}: wrong input shape: the suite feeds {:?} {} column{} per row (a [N, {}] tensor), but the model takes {}",
                    i.at,
                    i.name,
                    width,
                    if width == 1 { "" } else { "s" },
                    width,
                    type_name(mi.dtype())
                )));
            }
        }
        Ok(())
    }

    /// Runs the model over every row of `table` and returns one score per row.
    pub fn scores(
        &mut self,
        table: &Table,
        inputs: &[Input],
        output: &Output,
        batch_rows: usize,
    ) -> Result<Vec<f64>, ModelError> {
        self.check_inputs(inputs)?;
        let outputs: Vec<(String, ValueType)> = self
            .session
            .outputs()
            .iter()
            .map(|o| (o.name().to_owned(), o.dtype().clone()))
            .collect();
        let out_name = match &output.name {
            Some(n) => {
                if !outputs.iter().any(|(o, _)| o == n) {
                    return Err(err(format!(
                        "the model {} has no output {n:?}; its outputs are: {}",
                        self.file,
                        outputs.iter().map(|(o, t)| format!("{o}: {}", type_name(t))).collect::<Vec<_>>().join("; ")
                    )));
                }
                n.clone()
            }
            None => outputs
                .iter()
                .find(|(_, t)| matches!(t, ValueType::Tensor { ty: TensorElementType::Float32 | TensorElementType::Float64, .. }))
                .map(|(n, _)| n.clone())
                .ok_or_else(|| {
                    err(format!(
                        "the model {} has no float tensor output to read scores from (outputs: {}); if it is a scikit-learn model, export it with options={{'zipmap': False}}",
                        self.file,
                        outputs.iter().map(|(o, t)| format!("{o}: {}", type_name(t))).collect::<Vec<_>>().join("; ")
                    ))
                })?,
        };
        let out_rank = match outputs.iter().find(|(n, _)| *n == out_name).map(|(_, t)| t) {
            Some(ValueType::Tensor {
                ty: TensorElementType::Float32 | TensorElementType::Float64,
                shape,
                ..
            }) => shape.len(),
            Some(t) => {
                return Err(err(format!(
                    "model output {out_name:?} is {}, not a float tensor of scores{}",
                    type_name(t),
                    if matches!(t, ValueType::Sequence(_)) {
                        " (a scikit-learn ZipMap: export with options={'zipmap': False})"
                    } else {
                        ""
                    }
                )))
            }
            None => unreachable!("checked above"),
        };
        let input_ranks: Vec<usize> = inputs
            .iter()
            .map(|i| {
                let mi = self
                    .session
                    .inputs()
                    .iter()
                    .find(|m| m.name() == i.name)
                    .expect("checked");
                match mi.dtype() {
                    ValueType::Tensor { shape, .. } => shape.len(),
                    _ => 2,
                }
            })
            .collect();

        let n = table.rows;
        let mut scores = Vec::with_capacity(n);
        let mut start = 0;
        while start < n {
            let end = (start + batch_rows).min(n);
            let rows = end - start;
            let built = std::time::Instant::now();
            let mut feeds: Vec<(String, ort::session::SessionInputValue<'static>)> = Vec::new();
            for (i, rank) in inputs.iter().zip(&input_ranks) {
                let w = i.columns.len();
                let shape: Vec<i64> = if *rank == 1 {
                    vec![rows as i64]
                } else {
                    vec![rows as i64, w as i64]
                };
                let value: ort::value::DynValue = match i.ty {
                    InputType::String => string_tensor(table, i, start, end, shape)?,
                    InputType::Float32 => numeric(table, i, start, end, shape, |x| x as f32)?,
                    InputType::Float64 => numeric(table, i, start, end, shape, |x| x)?,
                    InputType::Int64 => numeric_int(table, i, start, end, shape, |x| x as i64)?,
                    InputType::Int32 => numeric_int(table, i, start, end, shape, |x| x as i32)?,
                };
                feeds.push((i.name.clone(), value.into()));
            }
            self.input_seconds += built.elapsed().as_secs_f64();
            let ran = std::time::Instant::now();
            let result = self
                .session
                .run(feeds)
                .map_err(|e| err(format!("running the model {} failed: {e}", self.file)))?;
            self.run_seconds += ran.elapsed().as_secs_f64();
            let value = &result[out_name.as_str()];
            let (shape, data): (Vec<i64>, Vec<f64>) =
                if let Ok((s, d)) = value.try_extract_tensor::<f32>() {
                    (s.to_vec(), d.iter().map(|&x| x as f64).collect())
                } else if let Ok((s, d)) = value.try_extract_tensor::<f64>() {
                    (s.to_vec(), d.to_vec())
                } else {
                    return Err(err(format!(
                        "model output {out_name:?} is not a float tensor"
                    )));
                };
            let cols = match shape.as_slice() {
                [r] if *r as usize == rows => 1,
                [r, c] if *r as usize == rows => *c as usize,
                other => {
                    return Err(err(format!(
                        "model output {out_name:?} has shape {other:?} for {rows} rows; expected [{rows}] or [{rows}, C]"
                    )))
                }
            };
            let _ = out_rank;
            let col = match (output.index, cols) {
                (Some(ix), c) if ix < c => ix,
                (Some(ix), c) => {
                    return Err(err(format!(
                        "model.output.index = {ix}, but output {out_name:?} has {c} column{}",
                        if c == 1 { "" } else { "s" }
                    )))
                }
                (None, 1) => 0,
                (None, c) => {
                    return Err(err(format!(
                        "model output {out_name:?} has {c} columns (one per class): say which is the positive class's score with model.output.index (for scikit-learn, usually 1)"
                    )))
                }
            };
            for r in 0..rows {
                let s = data[r * cols + col];
                if s.is_nan() {
                    return Err(err(format!(
                        "the model gave NaN for data row {} (line {} of {})",
                        start + r + 1,
                        start + r + 2,
                        table.file
                    )));
                }
                scores.push(s);
            }
            start = end;
        }
        Ok(scores)
    }
}

fn gather<'t>(
    table: &'t Table,
    i: &Input,
    start: usize,
    end: usize,
) -> Result<Vec<&'t [f64]>, ModelError> {
    Ok(i.columns
        .iter()
        .map(|c| table.number(&c.name))
        .collect::<Vec<_>>())
    .map(|cols| cols.into_iter().map(|c| &c[start..end]).collect())
}

fn numeric<T: ort::value::PrimitiveTensorElementType + std::fmt::Debug + Clone + 'static>(
    table: &Table,
    i: &Input,
    start: usize,
    end: usize,
    shape: Vec<i64>,
    conv: impl Fn(f64) -> T,
) -> Result<ort::value::DynValue, ModelError> {
    let cols = gather(table, i, start, end)?;
    let rows = end - start;
    let mut data = Vec::with_capacity(rows * cols.len());
    for r in 0..rows {
        for c in &cols {
            data.push(conv(c[r]));
        }
    }
    Ok(Tensor::from_array((shape, data.into_boxed_slice()))
        .map_err(|e| err(format!("input {:?}: {e}", i.name)))?
        .into_dyn())
}

fn numeric_int<T: ort::value::PrimitiveTensorElementType + std::fmt::Debug + Clone + 'static>(
    table: &Table,
    i: &Input,
    start: usize,
    end: usize,
    shape: Vec<i64>,
    conv: impl Fn(f64) -> T,
) -> Result<ort::value::DynValue, ModelError> {
    let cols = gather(table, i, start, end)?;
    for (c, col) in i.columns.iter().zip(&cols) {
        if let Some(r) = col.iter().position(|x| x.fract() != 0.0) {
            return Err(err(format!(
                "{} line {}, column {:?}: {} is not an integer, but model input {:?} takes {}",
                table.file,
                start + r + 2,
                c.name,
                col[r],
                i.name,
                i.ty.name()
            )));
        }
    }
    numeric(table, i, start, end, shape, conv)
}

/// A string tensor of the input's columns. ONNX Runtime copies each string into the tensor, so
/// one NUL-terminated copy of each distinct value is enough: the rows only point at them
/// (ort's `Tensor::from_string_array` would make a C string per cell).
fn string_tensor(
    table: &Table,
    i: &Input,
    start: usize,
    end: usize,
    shape: Vec<i64>,
) -> Result<ort::value::DynValue, ModelError> {
    use ort::AsPointer;
    let bad = |e: String| err(format!("input {:?}: {e}", i.name));
    let cols: Vec<(&[u32], Vec<std::ffi::CString>)> = i
        .columns
        .iter()
        .map(|c| {
            let (codes, levels) = table.text(&c.name);
            let levels = levels
                .iter()
                .map(|l| {
                    std::ffi::CString::new(l.as_str()).map_err(|_| {
                        bad(format!(
                            "a value of column {:?} contains a NUL byte",
                            c.name
                        ))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok((codes, levels))
        })
        .collect::<Result<_, ModelError>>()?;
    let mut ptrs: Vec<*const std::ffi::c_char> = Vec::with_capacity((end - start) * cols.len());
    for r in start..end {
        for (codes, levels) in &cols {
            ptrs.push(levels[codes[r] as usize].as_ptr());
        }
    }
    let mut t = ort::value::DynTensor::new(
        &ort::memory::Allocator::default(),
        TensorElementType::String,
        shape,
    )
    .map_err(|e| bad(e.to_string()))?;
    // SAFETY: `t` is a string tensor of exactly `ptrs.len()` elements (rows x columns), and every
    // pointer is a NUL-terminated string that outlives the call (ONNX Runtime copies them).
    let status = unsafe { (ort::api().FillStringTensor)(t.ptr_mut(), ptrs.as_ptr(), ptrs.len()) };
    if !status.0.is_null() {
        // SAFETY: a non-null status is an error status, released once here.
        let msg = unsafe {
            let m = std::ffi::CStr::from_ptr((ort::api().GetErrorMessage)(status.0))
                .to_string_lossy()
                .into_owned();
            (ort::api().ReleaseStatus)(status.0);
            m
        };
        return Err(bad(msg));
    }
    Ok(t.into_dyn())
}
