//! Reading the files a scenario refers to, safely: only regular files, never more than
//! [`MAX_FILE_BYTES`].
//!
//! Every file kubesim reads on a user's word goes through [`read_bytes`] or [`read_text`]: the
//! scenario file, the files of `spec.manifests`, empirical latency files, a sweep's
//! `events=FILE` and `merge`'s shard files. A path naming `/dev/zero`, a FIFO, a socket or a
//! folder is refused before a byte is read (on Unix the file is opened non-blocking, so a FIFO
//! with no writer cannot hang the open), and a file is read through a limit one byte past the
//! cap, so even a file that grows while it is read costs at most the cap in memory.
//!
//! It knows paths and bytes, not what the bytes mean.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::Path;

/// The most kubesim reads from one file: 64 MiB. The largest bundled file is 1.2 MB (the
/// 9,999 Services of `rolling-update-10k-services`), `kubesim generate`'s limit-sized cluster
/// 5.4 MB, and a `kubectl get all -A -o yaml` of a thousand-node cluster a few tens of
/// megabytes, so only a mistake (a device, a log, a disk image) reaches it.
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// Why a file could not be read. Each is fatal to the load: the file's contents are not used.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The path names something other than a regular file: a folder, a device such as
    /// `/dev/zero`, a FIFO or a socket.
    #[error("not a regular file ({0}); kubesim reads only regular files")]
    NotRegular(&'static str),
    /// The file holds more than [`MAX_FILE_BYTES`].
    #[error("larger than {} MiB, the most kubesim reads from one file", MAX_FILE_BYTES >> 20)]
    TooLarge,
    /// The file is not UTF-8 text ([`read_text`] only).
    #[error("not UTF-8 text: {0}")]
    NotText(std::str::Utf8Error),
    /// The operating system refused (no such file, permission denied, ...).
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// What kind of file `meta` describes, in words, for [`FileError::NotRegular`].
fn kind_of(meta: &fs::Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_dir() {
        return "a folder";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    "not a file"
}

/// Opens `path` for reading without waiting for a writer (a FIFO's open would block).
fn open(path: &Path) -> io::Result<File> {
    let mut options = fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    options.open(path)
}

/// The bytes of the regular file at `path` (symbolic links followed), at most
/// [`MAX_FILE_BYTES`] of them.
pub fn read_bytes(path: &Path) -> Result<Vec<u8>, FileError> {
    // Looked at before opening, so that a device or a FIFO is never opened; then again on the
    // open file, in case the path was replaced in between.
    let meta = fs::metadata(path)?;
    if !meta.is_file() {
        return Err(FileError::NotRegular(kind_of(&meta)));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(FileError::TooLarge);
    }
    let file = open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(FileError::NotRegular(kind_of(&meta)));
    }
    let mut bytes = Vec::with_capacity(meta.len().min(MAX_FILE_BYTES) as usize);
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(FileError::TooLarge);
    }
    Ok(bytes)
}

/// The text of the regular file at `path`, as [`read_bytes`] reads it; it must be UTF-8.
pub fn read_text(path: &Path) -> Result<String, FileError> {
    String::from_utf8(read_bytes(path)?).map_err(|e| FileError::NotText(e.utf8_error()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn scratch(test: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("kubesim-files-{test}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn reads_a_regular_file_and_refuses_a_folder() {
        let dir = scratch("regular");
        let file = dir.join("a.yaml");
        fs::write(&file, "kind: Scenario\n").unwrap();
        assert_eq!(read_text(&file).unwrap(), "kind: Scenario\n");
        let e = read_text(&dir).unwrap_err();
        assert_eq!(
            e.to_string(),
            "not a regular file (a folder); kubesim reads only regular files"
        );
        assert!(matches!(
            read_text(&dir.join("missing")),
            Err(FileError::Io(_))
        ));
        fs::write(&file, b"\xff\xfe").unwrap();
        assert!(matches!(read_text(&file), Err(FileError::NotText(_))));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_file_past_the_cap_is_refused_without_reading_it() {
        let dir = scratch("cap");
        let file = dir.join("big.yaml");
        // Sparse: the length is past the cap, the disk holds nothing.
        File::create(&file)
            .unwrap()
            .set_len(MAX_FILE_BYTES + 1)
            .unwrap();
        let e = read_bytes(&file).unwrap_err();
        assert_eq!(
            e.to_string(),
            "larger than 64 MiB, the most kubesim reads from one file"
        );
        File::create(&file)
            .unwrap()
            .set_len(MAX_FILE_BYTES)
            .unwrap();
        assert_eq!(read_bytes(&file).unwrap().len() as u64, MAX_FILE_BYTES);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn devices_and_fifos_are_refused_without_blocking() {
        let e = read_bytes(Path::new("/dev/zero")).unwrap_err();
        assert!(e.to_string().contains("a character device"), "{e}");
        let dir = scratch("fifo");
        let fifo = dir.join("pipe.yaml");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path and a mode.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = read_bytes(&fifo).unwrap_err();
        assert!(e.to_string().contains("a FIFO"), "{e}");
        fs::remove_dir_all(&dir).unwrap();
    }
}
