//! Safe file access for every file the simulator and the CLI read or write.
//!
//! - Inputs must be regular files (not a FIFO, a device or a directory: `check /dev/zero` must
//!   not read forever), and text read whole is capped ([`MAX_SCENARIO_BYTES`]); traces are
//!   streamed, so they may be larger.
//! - Outputs never replace anything but a regular file: an existing path that is a symlink, a
//!   FIFO, a device or a directory is refused with an error naming it (checked with
//!   `symlink_metadata`, so a symlink is refused rather than followed).

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Read, Write};
use std::path::Path;

/// Largest scenario (or config) file read: 64 MiB.
pub const MAX_SCENARIO_BYTES: u64 = 64 << 20;

/// Opens `path` for reading if it is a regular file (symlinks to one are followed).
pub fn open_regular(path: &Path) -> std::io::Result<File> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{} is not a regular file ({})", path.display(), kind(&meta)),
        ));
    }
    File::open(path)
}

/// Reads a regular file of at most `limit` bytes as UTF-8 text. Invalid UTF-8 is reported with
/// the line and byte offset of the first bad byte.
pub fn read_text(path: &Path, limit: u64) -> std::io::Result<String> {
    let file = open_regular(path)?;
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "{} is larger than {} MiB, the most read",
                path.display(),
                limit >> 20
            ),
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        let line = bytes[..at].iter().filter(|&&b| b == b'\n').count() + 1;
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("line {line}: invalid UTF-8 at byte offset {at}; expected UTF-8 text"),
        )
    })
}

fn kind(meta: &std::fs::Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_symlink() {
        "a symbolic link"
    } else {
        special_kind(&t)
    }
}

#[cfg(unix)]
fn special_kind(t: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() || t.is_block_device() {
        "a device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

#[cfg(not(unix))]
fn special_kind(_: &std::fs::FileType) -> &'static str {
    "not a regular file"
}

/// Checks that `path` may be written: it does not exist or is a regular file (not a symlink).
pub fn check_output(path: &Path) -> std::io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_file() => Ok(()),
        Ok(meta) => Err(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            format!(
                "{} exists and is {}; refusing to replace anything but a regular file",
                path.display(),
                kind(&meta)
            ),
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Creates (or truncates) the regular file `path` for writing, refusing any other existing
/// kind of file (see [`check_output`]).
pub fn create_output(path: &Path) -> std::io::Result<File> {
    check_output(path)?;
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
}

/// Writes `content` to `path` through a temporary file beside it and a rename, so a failed
/// write never leaves a truncated file where a good one was. `path` and the temporary file
/// must each be absent or a regular file.
pub fn write_atomically(
    path: &Path,
    content: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    check_output(path)?;
    let tmp = path.with_extension(format!(
        "{}.tmp",
        path.extension().and_then(|e| e.to_str()).unwrap_or("out")
    ));
    let file = create_output(&tmp)?;
    let mut w = BufWriter::new(file);
    let written = content(&mut w).and_then(|_| w.flush());
    drop(w);
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("sy-files-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn outputs_replace_only_regular_files() {
        let d = dir("out");
        let file = d.join("a.toml");
        write_atomically(&file, |w| w.write_all(b"one")).unwrap();
        write_atomically(&file, |w| w.write_all(b"two")).unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "two");
        let e = write_atomically(&d, |w| w.write_all(b"x")).unwrap_err();
        assert!(e.to_string().contains("is a directory"), "{e}");
        #[cfg(unix)]
        {
            let link = d.join("link.toml");
            std::os::unix::fs::symlink(&file, &link).unwrap();
            let e = write_atomically(&link, |w| w.write_all(b"x")).unwrap_err();
            assert!(e.to_string().contains("symbolic link"), "{e}");
            assert!(e.to_string().contains("link.toml"), "{e}");
            let e = create_output(&link).unwrap_err();
            assert!(e.to_string().contains("symbolic link"), "{e}");
            assert_eq!(std::fs::read_to_string(&file).unwrap(), "two");
            let e = create_output(Path::new("/dev/null")).unwrap_err();
            assert!(
                e.to_string().contains("/dev/null exists and is a device"),
                "{e}"
            );
        }
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn inputs_must_be_small_regular_utf8_files() {
        let d = dir("in");
        let e = read_text(&d, 10).unwrap_err();
        assert!(
            e.to_string().contains("not a regular file (a directory)"),
            "{e}"
        );
        let big = d.join("big");
        std::fs::write(&big, vec![b'#'; 11]).unwrap();
        let e = read_text(&big, 10).unwrap_err();
        assert!(e.to_string().contains("larger than"), "{e}");
        let bad = d.join("bad");
        std::fs::write(&bad, b"a = 1\nb = \"\xff\"\n").unwrap();
        let e = read_text(&bad, 100).unwrap_err();
        assert!(
            e.to_string()
                .contains("line 2: invalid UTF-8 at byte offset 11"),
            "{e}"
        );
        #[cfg(unix)]
        {
            let e = read_text(Path::new("/dev/zero"), 10).unwrap_err();
            assert!(
                e.to_string().contains("not a regular file (a device)"),
                "{e}"
            );
        }
        std::fs::remove_dir_all(&d).unwrap();
    }
}
