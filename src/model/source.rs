//! Where a checkpoint's bytes are, read one range at a time, so that loading never needs the whole file in
//! memory: a slice already in memory, a file on disk (seek and read), or, in the browser's worker, a
//! transferred `ArrayBuffer` that stays in JavaScript's heap while each tensor is copied out of it. A
//! 2.2 GB f32 checkpoint of a 560M model then costs one tensor at a time, not 2.2 GB of wasm memory.
//! A file can also come in [`Pieces`]: a browser will not post one buffer of over about 2 GiB to a worker.
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

/// A file held as consecutive pieces (the page hands the worker a large download as several buffers:
/// Chromium refuses to post a single `ArrayBuffer` of over about 2 GiB). A range inside one piece is that
/// piece's (borrowed where it can be); a range across pieces is joined.
pub struct Pieces<S> {
    /// Each piece with the offset in the file where it starts, in order.
    pieces: Vec<(u64, S)>,
    len: u64,
}

impl<S: ByteSource> Pieces<S> {
    pub fn new(pieces: impl IntoIterator<Item = S>) -> Pieces<S> {
        let mut len = 0;
        let pieces = pieces
            .into_iter()
            .map(|piece| {
                let start = len;
                len += piece.size();
                (start, piece)
            })
            .collect();
        Pieces { pieces, len }
    }

    /// How many pieces the file came in.
    pub fn count(&self) -> usize {
        self.pieces.len()
    }
}

impl<S: ByteSource> ByteSource for Pieces<S> {
    fn size(&self) -> u64 {
        self.len
    }

    fn read_at(&self, range: Range<u64>) -> io::Result<Cow<'_, [u8]>> {
        if range.start > range.end || range.end > self.len {
            return Err(past_the_end(&range, self.len));
        }
        if range.is_empty() {
            return Ok(Cow::Borrowed(&[]));
        }
        // The last piece that starts at or before the range (an empty piece is passed over by the search).
        let first = self.pieces.partition_point(|(start, _)| *start <= range.start) - 1;
        let (start, piece) = &self.pieces[first];
        if range.end - start <= piece.size() {
            return piece.read_at(range.start - start..range.end - start);
        }
        let mut joined = Vec::with_capacity((range.end - range.start) as usize);
        for (start, piece) in self.pieces[first..].iter().take_while(|(start, _)| *start < range.end) {
            let part = piece.read_at(range.start.saturating_sub(*start)..(range.end - start).min(piece.size()))?;
            joined.extend_from_slice(&part);
        }
        Ok(Cow::Owned(joined))
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

    /// Every range of a file split at awkward places (an empty piece among them) reads as the whole file's.
    #[test]
    fn pieces_read_every_range_as_the_whole_file_does() {
        let whole: Vec<u8> = (0..=255).cycle().take(1000).collect();
        let cuts = [0, 1, 333, 333, 334, 999, 1000];
        let pieces = Pieces::new(cuts.windows(2).map(|w| whole[w[0]..w[1]].to_vec()));
        assert_eq!((pieces.count(), pieces.size()), (6, 1000));
        for start in (0..=1000).step_by(37).chain([0, 1, 332, 333, 334, 998, 999, 1000]) {
            for end in (start..=1000).step_by(53).chain([start, start + 1, 333, 334, 999, 1000]) {
                if end < start || end > 1000 {
                    continue;
                }
                let read = pieces.read_at(start as u64..end as u64).unwrap();
                assert_eq!(&*read, &whole[start..end], "{start}..{end}");
            }
        }
        assert!(matches!(pieces.read_at(5..200).unwrap(), Cow::Borrowed(_)), "inside one piece: not copied");
        assert_eq!(pieces.read_at(990..1001).unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
        assert_eq!(Pieces::<Vec<u8>>::new([]).read_at(0..0).unwrap().len(), 0);
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
