//! The file system as `sts` may touch it (CONTRACT §5): one bounded reader for every file and for
//! standard input, one path check for every config write, and the clean-up of temporary files an
//! interrupted write left behind.
//!
//! - [`read_regular`]: a file that must be a regular file or absent (the config file,
//!   `credentials.toml`). Its type is checked before it is opened, and it is opened with
//!   `O_NONBLOCK` and checked again, so a FIFO never hangs and a device is never read.
//! - [`read_bounded`]: a file the user names (a CA file, a token file, a file to import), at
//!   most [`MAX_FILE_BYTES`]; regular files only, so a FIFO never hangs and `/dev/zero` is an
//!   error rather than an out-of-memory abort.
//! - [`read_line_bounded`] / [`read_stdin_line`]: one line of at most [`MAX_STDIN_LINE_BYTES`].
//! - [`write_target`]: where a write to a path really goes (symlinks followed to their final
//!   target, which must be a regular file or absent).

use std::fmt;
use std::fs::{self, File};
use std::io::{self, BufRead, Read};
#[cfg(unix)]
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The largest config, credentials, CA or token file `sts` reads.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;
/// The longest line `sts` reads from standard input (a token given as `-`).
pub const MAX_STDIN_LINE_BYTES: usize = 64 * 1024;
/// How many symlinks in a row are followed before giving up (as the kernel's `ELOOP`).
const MAX_SYMLINK_HOPS: usize = 40;

/// Why a file could not be read.
#[derive(Debug)]
pub enum ReadError {
    /// It is not a regular file: what it is ("a directory", "a FIFO", …).
    NotRegular(&'static str),
    /// It holds more than this many bytes.
    TooLarge(u64),
    Io(io::Error),
}

impl ReadError {
    /// Whether the file does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, ReadError::Io(e) if e.kind() == io::ErrorKind::NotFound)
    }
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::NotRegular(what) => write!(f, "it is {what}, not a regular file"),
            ReadError::TooLarge(limit) => write!(f, "it is larger than {}", size(*limit)),
            ReadError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> Self {
        ReadError::Io(e)
    }
}

/// `1 MiB`, `64 KiB`.
fn size(bytes: u64) -> String {
    if bytes >= 1024 * 1024 && bytes.is_multiple_of(1024 * 1024) {
        format!("{} MiB", bytes / (1024 * 1024))
    } else if bytes >= 1024 && bytes.is_multiple_of(1024) {
        format!("{} KiB", bytes / 1024)
    } else {
        format!("{bytes} bytes")
    }
}

/// What a file type is, in words; `None` for a regular file.
fn not_regular(ft: &fs::FileType) -> Option<&'static str> {
    if ft.is_file() {
        None
    } else if ft.is_dir() {
        Some("a directory")
    } else {
        special_file(ft)
    }
}

/// What a file that is neither a regular file nor a folder is (Unix: FIFO, socket, device).
#[cfg(unix)]
fn special_file(ft: &fs::FileType) -> Option<&'static str> {
    if ft.is_fifo() {
        Some("a FIFO")
    } else if ft.is_socket() {
        Some("a socket")
    } else if ft.is_char_device() {
        Some("a character device")
    } else if ft.is_block_device() {
        Some("a block device")
    } else {
        Some("not a file")
    }
}

/// On Windows a path that is neither a regular file nor a folder (a symlink whose target cannot
/// be read, a device path such as `NUL` or a pipe) is refused as one.
#[cfg(not(unix))]
fn special_file(_ft: &fs::FileType) -> Option<&'static str> {
    Some("not a file")
}

/// Checks that `path` (symlinks followed) is a regular file or does not exist. `Ok(false)` when
/// it does not exist.
pub fn check_regular_or_absent(path: &Path) -> Result<bool, ReadError> {
    match fs::metadata(path) {
        Ok(m) => match not_regular(&m.file_type()) {
            None => Ok(true),
            Some(what) => Err(ReadError::NotRegular(what)),
        },
        Err(e) if absent(&e) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Reads a file that must be a regular file, at most `limit` bytes; `Ok(None)` when it does not
/// exist. A directory, device, FIFO or socket (directly or through a symlink) is
/// [`ReadError::NotRegular`] and is never opened for reading in a way that could block.
pub fn read_regular(path: &Path, limit: u64) -> Result<Option<Vec<u8>>, ReadError> {
    match fs::metadata(path) {
        Ok(m) => {
            if let Some(what) = not_regular(&m.file_type()) {
                return Err(ReadError::NotRegular(what));
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    // The path may have been swapped between the check and the open: O_NONBLOCK keeps a FIFO
    // from blocking the open, and the opened file is checked again.
    let file = match open_for_read(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    if let Some(what) = not_regular(&file.metadata()?.file_type()) {
        return Err(ReadError::NotRegular(what));
    }
    read_at_most(file, limit).map(Some)
}

/// Reads a file the user names (a CA file, a token file, a file to import), at most `limit`
/// bytes. It must be a regular file, as for [`read_regular`]: a FIFO would hang the read where
/// `--timeout` does not reach, a device is never read. A missing file is the OS's error.
pub fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    fs::metadata(path)?;
    read_regular(path, limit)?.ok_or_else(|| io::Error::from(io::ErrorKind::NotFound).into())
}

fn read_at_most(file: impl Read, limit: u64) -> Result<Vec<u8>, ReadError> {
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::TooLarge(limit));
    }
    Ok(bytes)
}

/// Opens `path` for reading without blocking on a FIFO swapped in after the type check.
#[cfg(unix)]
fn open_for_read(path: &Path) -> io::Result<File> {
    fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc_o_nonblock())
        .open(path)
}

/// Windows has no FIFO in the file system to block on: a plain open, whose file is checked again.
#[cfg(not(unix))]
fn open_for_read(path: &Path) -> io::Result<File> {
    File::open(path)
}

/// `O_NONBLOCK` on Linux and the BSDs/macOS.
#[cfg(unix)]
fn libc_o_nonblock() -> i32 {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        0o4000
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        0x0004
    }
}

/// One line from `reader` (its newline included), at most `limit` bytes; a longer line is an
/// `InvalidData` error rather than a read until memory runs out.
pub fn read_line_bounded(reader: &mut impl BufRead, limit: usize) -> io::Result<String> {
    let mut bytes = Vec::new();
    reader
        .take(limit as u64 + 1)
        .read_until(b'\n', &mut bytes)?;
    if bytes.len() > limit && !(bytes.len() == limit + 1 && bytes.ends_with(b"\n")) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("the line is longer than {}", size(limit as u64)),
        ));
    }
    String::from_utf8(bytes)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "the line is not valid UTF-8"))
}

/// One line of standard input, at most [`MAX_STDIN_LINE_BYTES`].
pub fn read_stdin_line() -> io::Result<String> {
    read_line_bounded(&mut io::stdin().lock(), MAX_STDIN_LINE_BYTES)
}

/// Where a write to `path` goes: its final target once every symlink is followed (the target
/// need not exist yet). The lock, the temporary file and `credentials.toml` belong beside it, so
/// every symlinked path to one file shares one lock and the links survive.
pub fn resolve_symlinks(path: &Path) -> io::Result<PathBuf> {
    let mut current = path.to_path_buf();
    for _ in 0..MAX_SYMLINK_HOPS {
        match fs::symlink_metadata(&current) {
            Ok(m) if m.file_type().is_symlink() => {
                let link = fs::read_link(&current)?;
                current = if link.is_absolute() {
                    link
                } else {
                    parent(&current).join(link)
                };
            }
            Ok(_) => return Ok(current),
            Err(e) if absent(&e) => return Ok(current),
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other(format!(
        "more than {MAX_SYMLINK_HOPS} symbolic links in a row"
    )))
}

/// The final target of a write to `path` ([`resolve_symlinks`]), which must be a regular file
/// or absent.
pub fn write_target(path: &Path) -> Result<PathBuf, ReadError> {
    let target = resolve_symlinks(path)?;
    check_regular_or_absent(&target)?;
    Ok(target)
}

/// Nothing there: no such file, or a file where a folder of the path should be (which a write
/// then reports when it tries to create the folder).
fn absent(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
    )
}

fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// The name of a temporary file for a write of `file_name`: `.<name>.<pid>.<random>.tmp`.
pub fn temp_name(file_name: &str) -> String {
    format!(
        ".{file_name}.{}.{:08x}.tmp",
        std::process::id(),
        rand::random::<u32>()
    )
}

/// Removes the temporary files (`.<file_name>.*.tmp`) that an interrupted write of `file_name`
/// left in `dir`. Call it only under the lock that guards writes of that file, so no write in
/// progress loses its file. Failures are ignored: the next write tries again.
pub fn remove_stale_temp_files(dir: &Path, file_name: &str) {
    let prefix = format!(".{file_name}.");
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.starts_with(&prefix) && name.ends_with(".tmp") {
            let is_file = entry.file_type().is_ok_and(|t| t.is_file());
            if is_file {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_files_are_read_others_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        fs::write(&file, "abc").unwrap();
        assert_eq!(read_regular(&file, 10).unwrap().unwrap(), b"abc");
        assert!(
            read_regular(&dir.path().join("none"), 10)
                .unwrap()
                .is_none()
        );
        assert!(matches!(
            read_regular(dir.path(), 10),
            Err(ReadError::NotRegular("a directory"))
        ));
        assert!(matches!(
            read_regular(Path::new("/dev/zero"), 10),
            Err(ReadError::NotRegular("a character device"))
        ));
        assert!(matches!(
            read_regular(&file, 2),
            Err(ReadError::TooLarge(2))
        ));
        assert!(matches!(
            read_bounded(Path::new("/dev/zero"), 1024),
            Err(ReadError::NotRegular("a character device"))
        ));
        assert!(matches!(
            read_bounded(&file, 2),
            Err(ReadError::TooLarge(2))
        ));
        assert!(read_bounded(&dir.path().join("none"), 2).is_err_and(|e| e.is_not_found()));
        let link = dir.path().join("link");
        std::os::unix::fs::symlink("/dev/null", &link).unwrap();
        assert!(matches!(
            read_regular(&link, 10),
            Err(ReadError::NotRegular(_))
        ));
    }

    #[test]
    fn lines_are_bounded() {
        let mut input = io::Cursor::new(b"token\nrest".to_vec());
        assert_eq!(read_line_bounded(&mut input, 10).unwrap(), "token\n");
        let mut exact = io::Cursor::new(b"0123456789\n".to_vec());
        assert_eq!(read_line_bounded(&mut exact, 10).unwrap(), "0123456789\n");
        let mut long = io::Cursor::new(vec![0u8; 100]);
        assert_eq!(
            read_line_bounded(&mut long, 10).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
    }

    #[test]
    fn symlinks_are_followed_to_their_final_target() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real").join("sts.toml");
        fs::create_dir_all(real.parent().unwrap()).unwrap();
        let a = dir.path().join("a.toml");
        let b = dir.path().join("b.toml");
        std::os::unix::fs::symlink("real/sts.toml", &a).unwrap();
        std::os::unix::fs::symlink(&a, &b).unwrap();
        // The target does not exist yet: still the place to write.
        assert_eq!(
            resolve_symlinks(&b).unwrap(),
            dir.path().join("real/sts.toml")
        );
        assert_eq!(resolve_symlinks(&real).unwrap(), real);
        let lp = dir.path().join("loop");
        std::os::unix::fs::symlink(&lp, &lp).unwrap();
        assert!(resolve_symlinks(&lp).is_err());
    }

    #[test]
    fn stale_temp_files_of_one_name_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            ".config.toml.1.0000.tmp",
            ".config.toml.2.ffff.tmp",
            ".other.toml.1.0000.tmp",
            "config.toml",
        ] {
            fs::write(dir.path().join(name), "").unwrap();
        }
        remove_stale_temp_files(dir.path(), "config.toml");
        let mut left: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, [".other.toml.1.0000.tmp", "config.toml"]);
    }
}
