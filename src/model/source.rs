//! Where a checkpoint's bytes are, read one range at a time, so that loading never needs the whole file in
//! memory: a slice already in memory, a file on disk (seek and read), or, in the browser's worker, a
//! transferred `ArrayBuffer` that stays in JavaScript's heap while each tensor is copied out of it. A
//! 2.2 GB f32 checkpoint of a 560M model then costs one tensor at a time, not 2.2 GB of wasm memory.
use std::borrow::Cow;
use std::io::{self, Read, Seek, SeekFrom};
use std::ops::Range;

/// A checkpoint file's bytes, read by range.
pub trait ByteSource {
    /// The file's length in bytes.
    fn size(&self) -> u64;

    /// The bytes of `range`: borrowed where they are in memory already. A range past the end is an
    /// `UnexpectedEof` error (a cut-off file).
    fn read_at(&self, range: Range<u64>) -> io::Result<Cow<'_, [u8]>>;
}

/// The error for a range past the end of a source.
pub fn past_the_end(range: &Range<u64>, len: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        format!("bytes {}..{} were asked of a {len}-byte file", range.start, range.end),
    )
}

/// Bytes in memory: a `Vec<u8>`, a slice, an array.
impl<T: AsRef<[u8]>> ByteSource for T {
    fn size(&self) -> u64 {
        self.as_ref().len() as u64
    }

    fn read_at(&self, range: Range<u64>) -> io::Result<Cow<'_, [u8]>> {
        usize::try_from(range.start)
            .ok()
            .zip(usize::try_from(range.end).ok())
            .and_then(|(start, end)| self.as_ref().get(start..end))
            .map(Cow::Borrowed)
            .ok_or_else(|| past_the_end(&range, self.size()))
    }
}

/// A file on disk, read with a seek and a read per range.
#[cfg(not(target_arch = "wasm32"))]
pub struct FileSource {
    file: std::sync::Mutex<std::fs::File>,
    len: u64,
}

#[cfg(not(target_arch = "wasm32"))]
impl FileSource {
    pub fn open(path: &std::path::Path) -> io::Result<FileSource> {
        let file = std::fs::File::open(path)?;
        let len = file.metadata()?.len();
        Ok(FileSource { file: std::sync::Mutex::new(file), len })
    }
}

#[cfg(not(target_arch = "wasm32"))]
impl ByteSource for FileSource {
    fn size(&self) -> u64 {
        self.len
    }

    fn read_at(&self, range: Range<u64>) -> io::Result<Cow<'_, [u8]>> {
        if range.end > self.len || range.start > range.end {
            return Err(past_the_end(&range, self.len));
        }
        let mut bytes = vec![0; (range.end - range.start) as usize];
        let mut file = self.file.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        file.seek(SeekFrom::Start(range.start))?;
        file.read_exact(&mut bytes)?;
        Ok(Cow::Owned(bytes))
    }
}

/// `Read + Seek` over a source, for readers that want a stream (the zip directory of a `.bin` file).
pub struct SourceReader<'a> {
    source: &'a dyn ByteSource,
    position: u64,
}

impl<'a> SourceReader<'a> {
    pub fn new(source: &'a dyn ByteSource) -> SourceReader<'a> {
        SourceReader { source, position: 0 }
    }
}

impl Read for SourceReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let end = self.source.size().min(self.position.saturating_add(buf.len() as u64));
        if end <= self.position {
            return Ok(0);
        }
        let bytes = self.source.read_at(self.position..end)?;
        buf[..bytes.len()].copy_from_slice(&bytes);
        self.position = end;
        Ok(bytes.len())
    }
}

impl Seek for SourceReader<'_> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(delta) => self.source.size().checked_add_signed(delta),
            SeekFrom::Current(delta) => self.position.checked_add_signed(delta),
        };
        self.position = target.ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before the start"))?;
        Ok(self.position)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slice_and_a_file_read_the_same_ranges_and_refuse_past_the_end() {
        let bytes: Vec<u8> = (0..=255).collect();
        let path = std::env::temp_dir().join(format!("polyprompt-source-{}", std::process::id()));
        std::fs::write(&path, &bytes).unwrap();
        let file = FileSource::open(&path).unwrap();
        for source in [&bytes as &dyn ByteSource, &file] {
            assert_eq!(source.size(), 256);
            assert_eq!(&*source.read_at(10..14).unwrap(), &[10, 11, 12, 13]);
            assert_eq!(source.read_at(250..260).unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
        }
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn the_reader_streams_and_seeks_like_a_file() {
        let bytes: Vec<u8> = (0..100).collect();
        let mut reader = SourceReader::new(&bytes);
        let mut head = [0; 4];
        reader.read_exact(&mut head).unwrap();
        assert_eq!(head, [0, 1, 2, 3]);
        assert_eq!(reader.seek(SeekFrom::End(-2)).unwrap(), 98);
        let mut rest = Vec::new();
        reader.read_to_end(&mut rest).unwrap();
        assert_eq!(rest, [98, 99]);
        assert!(reader.seek(SeekFrom::Current(-200)).is_err());
    }
}
