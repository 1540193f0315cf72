//! The `--state` file: read once at start, replaced atomically after every change
//! (temporary file in the same folder, fsync, rename).

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

/// Writes snapshots of the store to one file, newest generation last.
#[derive(Debug)]
pub struct Persister {
    path: PathBuf,
    /// The generation of the snapshot on disk; held while writing so writes never interleave.
    written: Mutex<u64>,
}

impl Persister {
    pub fn new(path: PathBuf, generation: u64) -> Self {
        Persister {
            path,
            written: Mutex::new(generation),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Replaces the file with `contents`, the snapshot of `generation`, unless a newer one is
    /// already on disk. Blocking: call it off the async workers.
    pub fn write(&self, generation: u64, contents: &str) -> io::Result<()> {
        let mut written = self.written.lock().unwrap_or_else(PoisonError::into_inner);
        if *written >= generation {
            return Ok(());
        }
        write_atomically(&self.path, contents.as_bytes())?;
        *written = generation;
        Ok(())
    }
}

/// The contents of the state file, or `None` when there is none yet.
pub fn read(path: &Path) -> io::Result<Option<String>> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn write_atomically(path: &Path, contents: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "state".to_string());
    // A write killed in the middle left its temporary file: remove it (writes never overlap).
    if let Ok(entries) = fs::read_dir(&dir) {
        let prefix = format!(".{name}.");
        for entry in entries.flatten() {
            let stale = entry
                .file_name()
                .to_str()
                .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".tmp"));
            if stale {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = File::create(&tmp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        // Make the rename itself durable; not every platform can open a folder for this.
        if let Ok(d) = File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_newest_generation_only_and_leaves_no_temp_file() {
        let dir = std::env::temp_dir().join(format!("sts-sandbox-persist-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("state.json");
        assert_eq!(read(&path).unwrap(), None);
        fs::write(dir.join(".state.json.12345.tmp"), "left by a kill").unwrap();
        let p = Persister::new(path.clone(), 0);
        p.write(2, "two").unwrap();
        p.write(1, "one").unwrap();
        assert_eq!(read(&path).unwrap().as_deref(), Some("two"));
        let names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("state.json")]);
        fs::remove_dir_all(&dir).unwrap();
    }
}
