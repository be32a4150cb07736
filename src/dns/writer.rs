//! Response assembly into a reusable buffer, with name compression.
//!
//! The writer knows its size limit (the client's UDP payload size, or 65535
//! on TCP) and refuses a write that would cross it, so the engine can roll a
//! section back and set TC (RFC 2181 §9) instead of sending a cut message.
//! Compression follows RFC 1035 §4.1.4: any name suffix already in the
//! message becomes a pointer; matching ignores ASCII case.

use crate::zone::Rdata;

/// A write would cross the message size limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full;

/// Header section counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub qd: u16,
    pub an: u16,
    pub ns: u16,
    pub ar: u16,
}

/// Where to roll back to.
#[derive(Debug, Clone, Copy)]
pub struct Mark {
    len: usize,
    ncomp: usize,
    counts: Counts,
}

/// How an owner name is written.
#[derive(Debug, Clone, Copy)]
pub enum Owner<'a> {
    /// A pointer to a name already in the message (e.g. 12: the question).
    At(u16),
    /// An uncompressed wire name to write (compressed against the message).
    Name(&'a [u8]),
}

const MAX_COMP: usize = 64;

/// The section records are currently written to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Answer,
    Authority,
    Additional,
}

pub struct Writer<'b> {
    pub buf: &'b mut Vec<u8>,
    limit: usize,
    /// Offsets of label starts already in the message, usable as pointers.
    comp: [u16; MAX_COMP],
    ncomp: usize,
    pub counts: Counts,
    section: Section,
}

impl<'b> Writer<'b> {
    /// Start a message in `buf` (cleared) that may grow to `limit` bytes.
    pub fn new(buf: &'b mut Vec<u8>, limit: usize) -> Self {
        buf.clear();
        buf.resize(12, 0);
        Self {
            buf,
            limit,
            comp: [0; MAX_COMP],
            ncomp: 0,
            counts: Counts::default(),
            section: Section::Answer,
        }
    }

    /// Records written from now on count in `s`.
    pub fn section(&mut self, s: Section) {
        self.section = s;
    }

    fn count(&mut self) {
        match self.section {
            Section::Answer => self.counts.an += 1,
            Section::Authority => self.counts.ns += 1,
            Section::Additional => self.counts.ar += 1,
        }
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.len() <= 12
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Shrink (or grow) the limit, e.g. to keep room for the OPT record.
    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit;
    }

    pub fn mark(&self) -> Mark {
        Mark {
            len: self.buf.len(),
            ncomp: self.ncomp,
            counts: self.counts,
        }
    }

    pub fn rollback(&mut self, m: Mark) {
        self.buf.truncate(m.len);
        self.ncomp = m.ncomp;
        self.counts = m.counts;
    }

    #[inline]
    fn room(&self, n: usize) -> Result<(), Full> {
        if self.buf.len() + n > self.limit {
            Err(Full)
        } else {
            Ok(())
        }
    }

    #[inline]
    pub fn put(&mut self, bytes: &[u8]) -> Result<(), Full> {
        self.room(bytes.len())?;
        self.buf.extend_from_slice(bytes);
        Ok(())
    }

    #[inline]
    pub fn put_u16(&mut self, v: u16) -> Result<(), Full> {
        self.put(&v.to_be_bytes())
    }

    #[inline]
    pub fn put_u32(&mut self, v: u32) -> Result<(), Full> {
        self.put(&v.to_be_bytes())
    }

    /// Write the question as it came (case preserved) and remember its
    /// labels for compression.
    pub fn question(&mut self, raw_question: &[u8]) -> Result<(), Full> {
        let start = self.buf.len();
        self.put(raw_question)?;
        self.remember_labels(start, &raw_question[..raw_question.len().saturating_sub(4)]);
        self.counts.qd = 1;
        Ok(())
    }

    fn remember_labels(&mut self, start: usize, wire: &[u8]) {
        let mut i = 0;
        while i < wire.len() && wire[i] != 0 {
            let off = start + i;
            if off < 0x4000 && self.ncomp < MAX_COMP {
                self.comp[self.ncomp] = off as u16;
                self.ncomp += 1;
            }
            i += wire[i] as usize + 1;
        }
    }

    /// Does the (possibly compressed) name at `off` in the message equal the
    /// uncompressed `name`, ignoring ASCII case?
    fn name_eq_at(&self, mut off: usize, name: &[u8]) -> bool {
        let b = &self.buf[..];
        let mut i = 0;
        let mut hops = 0;
        loop {
            let Some(&len) = b.get(off) else { return false };
            if len & 0xC0 == 0xC0 {
                let Some(&lo) = b.get(off + 1) else {
                    return false;
                };
                off = (((len & 0x3F) as usize) << 8) | lo as usize;
                hops += 1;
                if hops > 64 {
                    return false;
                }
                continue;
            }
            let len = len as usize;
            if name.get(i).copied() != Some(len as u8) {
                return false;
            }
            if len == 0 {
                return true;
            }
            let (Some(a), Some(c)) = (b.get(off + 1..off + 1 + len), name.get(i + 1..i + 1 + len))
            else {
                return false;
            };
            if !a.eq_ignore_ascii_case(c) {
                return false;
            }
            off += len + 1;
            i += len + 1;
        }
    }

    /// Write `name` (uncompressed wire), compressing against the message.
    pub fn name(&mut self, name: &[u8]) -> Result<(), Full> {
        let mut i = 0;
        while i < name.len() && name[i] != 0 {
            let suffix = &name[i..];
            let hit = self.comp[..self.ncomp]
                .iter()
                .copied()
                .find(|&o| self.name_eq_at(o as usize, suffix));
            if let Some(o) = hit {
                let start = self.buf.len();
                self.room(i + 2)?;
                self.buf.extend_from_slice(&name[..i]);
                self.buf.extend_from_slice(&(0xC000 | o).to_be_bytes());
                self.remember_labels(start, &name[..i]);
                return Ok(());
            }
            i += name[i] as usize + 1;
        }
        let start = self.buf.len();
        self.put(name)?;
        self.remember_labels(start, name);
        Ok(())
    }

    fn owner(&mut self, owner: Owner<'_>) -> Result<(), Full> {
        match owner {
            Owner::At(o) => self.put_u16(0xC000 | o),
            Owner::Name(n) => self.name(n),
        }
    }

    /// Write one resource record whose RDATA is pre-encoded.
    pub fn rr(
        &mut self,
        owner: Owner<'_>,
        rtype: u16,
        ttl: u32,
        rd: &Rdata<'_>,
    ) -> Result<(), Full> {
        self.owner(owner)?;
        self.put_u16(rtype)?;
        self.put_u16(1)?;
        self.put_u32(ttl)?;
        let len_at = self.buf.len();
        self.put_u16(0)?;
        let mut pos = 0usize;
        for (s, l) in rd.names() {
            let (s, l) = (s as usize, l as usize);
            self.put(&rd.wire[pos..s])?;
            self.name(&rd.wire[s..s + l])?;
            pos = s + l;
        }
        self.put(&rd.wire[pos..])?;
        let rdlen = (self.buf.len() - len_at - 2) as u16;
        self.buf[len_at..len_at + 2].copy_from_slice(&rdlen.to_be_bytes());
        self.count();
        Ok(())
    }

    /// Write a record with raw RDATA (addresses chosen by a policy).
    pub fn rr_raw(
        &mut self,
        owner: Owner<'_>,
        rtype: u16,
        ttl: u32,
        rdata: &[u8],
    ) -> Result<(), Full> {
        self.owner(owner)?;
        self.room(10 + rdata.len())?;
        self.buf.extend_from_slice(&rtype.to_be_bytes());
        self.buf.extend_from_slice(&1u16.to_be_bytes());
        self.buf.extend_from_slice(&ttl.to_be_bytes());
        self.buf
            .extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        self.buf.extend_from_slice(rdata);
        self.count();
        Ok(())
    }

    /// Fill in the header: id, flags, counts.
    pub fn finish_header(&mut self, id: u16, flags: u16) {
        let c = self.counts;
        let h = &mut self.buf[..12];
        h[0..2].copy_from_slice(&id.to_be_bytes());
        h[2..4].copy_from_slice(&flags.to_be_bytes());
        h[4..6].copy_from_slice(&c.qd.to_be_bytes());
        h[6..8].copy_from_slice(&c.an.to_be_bytes());
        h[8..10].copy_from_slice(&c.ns.to_be_bytes());
        h[10..12].copy_from_slice(&c.ar.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compresses_suffixes_case_insensitively() {
        let mut buf = Vec::new();
        let mut w = Writer::new(&mut buf, 512);
        w.question(b"\x03WWW\x07example\x04test\x00\x00\x01\x00\x01")
            .unwrap();
        w.name(b"\x04mail\x07example\x04test\x00").unwrap();
        // The question is 22 bytes (12..34): "mail" + pointer to
        // "example.test" at 12 + 4 = 16.
        assert_eq!(&w.buf[34..], b"\x04mail\xc0\x10");
        w.name(b"\x04MAIL\x07EXAMPLE\x04TEST\x00").unwrap();
        assert_eq!(&w.buf[41..], b"\xc0\x22");
    }

    #[test]
    fn refuses_to_cross_the_limit_and_rolls_back() {
        let mut buf = Vec::new();
        let mut w = Writer::new(&mut buf, 40);
        w.question(b"\x01a\x00\x00\x01\x00\x01").unwrap();
        let m = w.mark();
        let rd = Rdata::plain(&[0; 30]);
        assert_eq!(w.rr(Owner::At(12), 16, 1, &rd), Err(Full));
        w.rollback(m);
        assert_eq!(w.len(), 19);
    }
}
