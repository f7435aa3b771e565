//! Construction, reading (version first, then the model, then validation), atomic writing and
//! the CSV of a result file.
use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::*;

impl ResultFile {
    /// An empty result for the runner to fill: every probe family unavailable, no counters.
    pub fn new(run_id: impl Into<String>, kernel: KernelInfo, scenario: ScenarioInfo) -> Self {
        ResultFile {
            schema_version: SCHEMA_VERSION,
            tool: Tool::default(),
            run_id: run_id.into(),
            started_unix_ns: 0,
            duration_ns: 0,
            repeat: 0,
            seed: 0,
            kernel,
            scenario,
            probe_plan: Vec::new(),
            probes: Probes::default(),
            counters: Counters::default(),
            workload: Workload::default(),
            proactive_writes: ProactiveWrites::default(),
            timeseries: Vec::new(),
            crosschecks: Vec::new(),
            warnings: Vec::new(),
            events: Vec::new(),
            failed: None,
            placement: None,
            latency: Vec::new(),
            burst: None,
        }
    }

    /// Reads `dir/result.json` (or `dir` itself when it is a file), checking the schema version
    /// before the full parse so a file of another version gets a version error, not a serde one.
    pub fn read(dir: &Path) -> Result<Self, SchemaError> {
        Self::read_noting(dir).map(|(r, _)| r)
    }

    /// [`ResultFile::read`], and the fields of the file this reader does not know, each as
    /// "<file>: unknown field `a.b.c`" (a newer writer's field, or a misspelt one whose value is
    /// lost).
    pub fn read_noting(dir: &Path) -> Result<(Self, Vec<String>), SchemaError> {
        let path = if dir.is_dir() {
            dir.join(RESULT_FILE)
        } else {
            dir.to_path_buf()
        };
        let text =
            crate::input::read_text(&path, crate::input::limit::RESULT).map_err(|source| {
                SchemaError::Io {
                    path: path.clone(),
                    source,
                }
            })?;
        Self::parse_noting(&text, &path)
    }

    /// [`ResultFile::read`] of text already in memory; `path` is only named in errors. Never
    /// panics, whatever the text (fuzzed: `schema/fuzz_tests.rs`).
    pub fn parse(text: &str, path: &Path) -> Result<Self, SchemaError> {
        Self::parse_noting(text, path).map(|(r, _)| r)
    }

    /// [`ResultFile::parse`] and the unknown fields (see [`ResultFile::read_noting`]).
    pub fn parse_noting(text: &str, path: &Path) -> Result<(Self, Vec<String>), SchemaError> {
        let path = path.to_path_buf();
        #[derive(Deserialize)]
        struct VersionOnly {
            schema_version: u32,
        }
        let parse_err = |cause: serde_json::Error| SchemaError::Parse {
            detail: parse_detail(text, &cause),
            path: path.clone(),
            cause,
        };
        let v: VersionOnly = serde_json::from_str(text).map_err(parse_err)?;
        check_version(&path, v.schema_version)?;
        let mut unknown = Vec::new();
        let mut de = serde_json::Deserializer::from_str(text);
        let r: ResultFile = serde_ignored::deserialize(&mut de, |field| {
            unknown.push(format!("{}: unknown field `{field}`", path.display()));
        })
        .and_then(|r| de.end().map(|()| r))
        .map_err(parse_err)?;
        r.validate().map_err(|e| match e {
            SchemaError::Invalid(m) => SchemaError::Invalid(format!("{}: {m}", path.display())),
            e => e,
        })?;
        Ok((r, unknown))
    }

    /// Reads every `result.json` under each path (a run directory, a result file, or a tree such
    /// as a matrix output), sorted by path for a stable order.
    pub fn read_all(paths: &[PathBuf]) -> Result<Vec<ResultFile>, SchemaError> {
        Self::read_all_noting(paths).map(|(r, _)| r)
    }

    /// [`ResultFile::read_all`] and every unknown field of the files read (see
    /// [`ResultFile::read_noting`]).
    pub fn read_all_noting(
        paths: &[PathBuf],
    ) -> Result<(Vec<ResultFile>, Vec<String>), SchemaError> {
        let mut files = Vec::new();
        for p in paths {
            let before = files.len();
            find_result_files(p, &mut files)?;
            if files.len() == before {
                return Err(SchemaError::NotFound { path: p.clone() });
            }
        }
        files.sort();
        // The same file reached through two paths (`out` and `out/cell/result.json`, a
        // symlink) is one run, read once.
        let mut seen = BTreeSet::new();
        files.retain(|f| seen.insert(fs::canonicalize(f).unwrap_or_else(|_| f.clone())));
        let mut unknown = Vec::new();
        let mut read = Vec::new();
        for f in files {
            let (r, u) = ResultFile::read_noting(&f)?;
            unknown.extend(u);
            read.push((f, r));
        }
        set::check_set(&read)?;
        Ok((read.into_iter().map(|(_, r)| r).collect(), unknown))
    }

    /// Writes `dir/result.json` atomically: temp file in the same directory, fsync, rename, fsync
    /// the directory. A crash leaves either the old file or the new one, never a torn one.
    pub fn write_atomic(&self, dir: &Path) -> Result<PathBuf, SchemaError> {
        self.validate()?;
        let mut bytes = serde_json::to_vec_pretty(self).map_err(|cause| SchemaError::Parse {
            path: dir.join(RESULT_FILE),
            cause,
            detail: String::new(),
        })?;
        bytes.push(b'\n');
        write_file_atomic(dir, RESULT_FILE, &bytes)
    }

    /// Writes `dir/timeseries.csv` (atomically): `t_ns` then one column per key, sorted; an empty
    /// cell where a sample lacks that key.
    pub fn write_csv(&self, dir: &Path) -> Result<PathBuf, SchemaError> {
        let path = dir.join(TIMESERIES_CSV);
        let mut w = csv::Writer::from_writer(Vec::new());
        let csv_err = |source| SchemaError::Csv {
            path: path.clone(),
            source,
        };
        let keys = self.timeseries_keys();
        let mut header = vec!["t_ns".to_string()];
        header.extend(keys.iter().cloned());
        w.write_record(&header).map_err(csv_err)?;
        for s in &self.timeseries {
            let mut row = vec![s.t_ns.to_string()];
            row.extend(
                keys.iter()
                    .map(|k| s.values.get(k).map(|v| v.to_string()).unwrap_or_default()),
            );
            w.write_record(&row).map_err(csv_err)?;
        }
        let bytes = w.into_inner().map_err(|e| SchemaError::Io {
            path: path.clone(),
            source: e.into_error(),
        })?;
        write_file_atomic(dir, TIMESERIES_CSV, &bytes)
    }

    /// All time-series keys, sorted.
    pub fn timeseries_keys(&self) -> Vec<String> {
        let keys: BTreeSet<&String> = self
            .timeseries
            .iter()
            .flat_map(|s| s.values.keys())
            .collect();
        keys.into_iter().cloned().collect()
    }

    /// `(t_ns, value)` of one key, skipping samples without it.
    pub fn series(&self, key: &str) -> Vec<(u64, f64)> {
        self.timeseries
            .iter()
            .filter_map(|s| s.values.get(key).map(|&v| (s.t_ns, v)))
            .collect()
    }

    /// Per-second rate of a cumulative key between consecutive samples, at each interval's end.
    pub fn rate_series(&self, key: &str) -> Vec<(u64, f64)> {
        rates(&self.series(key))
    }

    /// Consistency checks the type system cannot express.
    pub fn validate(&self) -> Result<(), SchemaError> {
        check_version(Path::new(RESULT_FILE), self.schema_version)?;
        let mut problems = Vec::new();
        let mut hist = |h: &Histogram, what: &str| {
            if let Err(e) = h.check(what) {
                problems.push(e);
            }
        };
        if let Some(s) = &self.probes.shrink_memcg {
            hist(&s.latency, "probes.shrink_memcg.latency");
        }
        if let Some(s) = &self.probes.shrink_worker {
            hist(&s.runtime, "probes.shrink_worker.runtime");
        }
        if let Some(p) = &self.probes.proactive {
            hist(&p.latency, "probes.proactive.latency");
        }
        for l in self.probes.locks.iter().flatten() {
            hist(&l.wait, &format!("probes.locks[{}].wait", l.name));
        }
        for (i, t) in self.proactive_writes.per_thread.iter().enumerate() {
            hist(
                &t.latency,
                &format!("proactive_writes.per_thread[{i}].latency"),
            );
        }
        if self.run_id.is_empty() {
            problems.push("run_id is empty".into());
        }
        // Ranges a measurement cannot leave: a value outside is a damaged or hand-made file.
        let mut in_range = |what: &str, v: f64, lo: f64, hi: f64| {
            if !(lo..=hi).contains(&v) {
                problems.push(format!("{what} = {v} is outside {lo}..={hi}"));
            }
        };
        if let Some(p) = &self.counters.psi {
            in_range("counters.psi.some_avg10_end", p.some_avg10_end, 0.0, 100.0);
            in_range("counters.psi.full_avg10_end", p.full_avg10_end, 0.0, 100.0);
        }
        if let Some(c) = self.workload.compressibility {
            // compressed/original: lz4 expands incompressible data by well under 1%.
            in_range("workload.compressibility", c, 0.0, 2.0);
        }
        // Counter deltas are summed and divided as f64, exact up to 2^53; no kernel counter
        // moves that far within a run (2^53 pages is 32 EiB).
        if let Some((k, v)) = self
            .counters
            .vmstat_delta
            .iter()
            .find(|(_, v)| v.unsigned_abs() > COUNTER_DELTA_MAX)
        {
            problems.push(format!(
                "counters.vmstat_delta.{k} = {v} is beyond ±2^53, more than a counter moves in any run"
            ));
        }
        if self.duration_ns > TIMESERIES_T_MAX_NS {
            problems.push(format!(
                "duration_ns = {} is beyond {} h, longer than any run",
                self.duration_ns,
                TIMESERIES_T_MAX_NS / 3_600_000_000_000
            ));
        }
        if self.timeseries.windows(2).any(|w| w[0].t_ns > w[1].t_ns) {
            problems.push("timeseries samples are not in time order".into());
        }
        // Bounded before anything is allocated from them: plots lay samples out per second of
        // run time, so one time stamp near u64::MAX would ask for gigabytes.
        if let Some(s) = self
            .timeseries
            .iter()
            .find(|s| s.t_ns > TIMESERIES_T_MAX_NS)
        {
            problems.push(format!(
                "a timeseries sample at t_ns = {} is beyond {} h of run time, longer than any run",
                s.t_ns,
                TIMESERIES_T_MAX_NS / 3_600_000_000_000
            ));
        }
        if self.timeseries.len() > TIMESERIES_SAMPLES_MAX {
            problems.push(format!(
                "timeseries holds {} samples, above the {TIMESERIES_SAMPLES_MAX} a run writes at most",
                self.timeseries.len()
            ));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(SchemaError::Invalid(problems.join("; ")))
        }
    }

    pub fn duration_s(&self) -> Option<f64> {
        (self.duration_ns > 0).then(|| self.duration_ns as f64 / 1e9)
    }
}

/// The largest |delta| of a vmstat counter a result may hold (2^53, f64's exact integers).
pub const COUNTER_DELTA_MAX: u64 = 1 << 53;

/// The latest time stamp a timeseries sample may have: set-up, warm-up and a measured phase of
/// at most 24 h each (scenarios/README.md, "Bounds"), with room.
pub const TIMESERIES_T_MAX_NS: u64 = 96 * 3_600_000_000_000;
/// Samples a run writes at most: one a second over those 96 h, ten times over.
pub const TIMESERIES_SAMPLES_MAX: usize = 96 * 3600 * 10;

/// Per-second rates between consecutive `(t_ns, cumulative)` points.
pub fn rates(points: &[(u64, f64)]) -> Vec<(u64, f64)> {
    points
        .windows(2)
        .filter(|w| w[1].0 > w[0].0)
        .map(|w| (w[1].0, (w[1].1 - w[0].1) / ((w[1].0 - w[0].0) as f64 / 1e9)))
        .collect()
}

/// The rest of a parse error's message: the offending line quoted (a pretty-printed result has
/// one field per line, so this names the field serde's type errors leave out) and the fix.
fn parse_detail(text: &str, e: &serde_json::Error) -> String {
    let fix = if e.is_eof() {
        "the file is truncated (a run killed while writing it, or a partial copy)"
    } else if e.is_syntax() {
        "the file is not JSON"
    } else {
        "a field is missing or has the wrong type"
    };
    let line = text
        .lines()
        .nth(e.line().saturating_sub(1))
        .map(str::trim)
        .filter(|l| !l.is_empty() && e.line() > 0)
        .map(|l| {
            let short: String = l.chars().take(80).collect();
            format!(" (line {}: {short})", e.line())
        })
        .unwrap_or_default();
    format!(
        "{line}; {fix}. fix: run that scenario on that kernel again, or move this run's \
         directory out of the results you pass"
    )
}

fn check_version(path: &Path, found: u32) -> Result<(), SchemaError> {
    use std::cmp::Ordering::*;
    let path = path.to_path_buf();
    match found.cmp(&SCHEMA_VERSION) {
        Equal => Ok(()),
        Greater => Err(SchemaError::TooNew {
            path,
            found,
            supported: SCHEMA_VERSION,
        }),
        Less => Err(SchemaError::TooOld {
            path,
            found,
            supported: SCHEMA_VERSION,
        }),
    }
}

fn find_result_files(p: &Path, out: &mut Vec<PathBuf>) -> Result<(), SchemaError> {
    find_in(p, out, &mut BTreeSet::new())
}

/// The walk of [`find_result_files`]. Symlinked run folders are followed like folders (a
/// matrix directory assembled from links counts every run it shows); `visited` holds the
/// canonical folders walked, so a link back up the tree is walked once, not forever.
fn find_in(
    p: &Path,
    out: &mut Vec<PathBuf>,
    visited: &mut BTreeSet<PathBuf>,
) -> Result<(), SchemaError> {
    let io = |source| SchemaError::Io {
        path: p.to_path_buf(),
        source,
    };
    if p.is_file() {
        out.push(p.to_path_buf());
        return Ok(());
    }
    if p.join(RESULT_FILE).is_file() {
        out.push(p.join(RESULT_FILE));
        return Ok(());
    }
    if !p.is_dir() {
        return Err(SchemaError::NotFound {
            path: p.to_path_buf(),
        });
    }
    if !visited.insert(fs::canonicalize(p).map_err(io)?) {
        return Ok(());
    }
    for entry in fs::read_dir(p).map_err(io)? {
        let entry = entry.map_err(io)?;
        let t = entry.file_type().map_err(io)?;
        // `is_dir()` on the entry's own type is false for a symlink; the path's follows it.
        if t.is_dir() || (t.is_symlink() && entry.path().is_dir()) {
            find_in(&entry.path(), out, visited)?;
        }
    }
    Ok(())
}

/// Temp file in `dir`, fsync, rename over `name`, fsync `dir`. On any error the temp file is
/// removed (a full disk must not leave a torn `.result.json.tmp.*` behind) and the error names
/// the target and what to do.
pub fn write_file_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf, SchemaError> {
    let fail = |path: &Path, cause: std::io::Error| SchemaError::Write {
        path: path.to_path_buf(),
        fix: write_fix(&cause),
        cause,
    };
    fs::create_dir_all(dir).map_err(|e| fail(dir, e))?;
    let target = dir.join(name);
    let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    let written = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, &target)
    })();
    if let Err(e) = written {
        // Best effort: when even the removal fails the first error is the one to report.
        let _ = fs::remove_file(&tmp);
        return Err(fail(&target, e));
    }
    // Make the rename itself durable.
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| fail(dir, e))?;
    Ok(target)
}

fn write_fix(e: &std::io::Error) -> &'static str {
    use std::io::ErrorKind::*;
    match e.kind() {
        StorageFull | QuotaExceeded | FileTooLarge => {
            "free space on that filesystem, or choose another --out"
        }
        ReadOnlyFilesystem | PermissionDenied => {
            "make the directory writable, or choose another --out"
        }
        _ => "check that directory, or choose another --out",
    }
}
