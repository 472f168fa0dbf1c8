//! H.264 byte-stream layouts. MP4 stores each NAL unit behind a 4-byte big-endian length
//! (AVCC); the codec reads and writes Annex B, NAL units behind `00 00 01` start codes.

/// NAL unit types this module cares about.
pub const NAL_IDR: u8 = 5;
pub const NAL_SPS: u8 = 7;
pub const NAL_PPS: u8 = 8;

/// The type of a NAL unit (its first byte, without the start code).
pub fn nal_type(nal: &[u8]) -> u8 {
    nal.first().map_or(0, |b| b & 0x1f)
}

/// Append the AVCC sample `sample` to `out` in Annex B. A truncated length is an error
/// (a damaged file), not a panic.
pub fn avcc_to_annexb(sample: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
    let mut i = 0;
    while i < sample.len() {
        let Some(len) = sample.get(i..i + 4) else {
            return Err(format!("a sample ends inside a NAL length at byte {i}"));
        };
        let n = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
        let Some(nal) = sample.get(i + 4..i + 4 + n) else {
            return Err(format!(
                "a NAL unit of {n} bytes runs past the sample's end ({} bytes)",
                sample.len()
            ));
        };
        out.extend_from_slice(&[0, 0, 0, 1]);
        out.extend_from_slice(nal);
        i += 4 + n;
    }
    Ok(())
}

/// The NAL units of an Annex B stream, without their start codes.
pub fn annexb_units(stream: &[u8]) -> Vec<&[u8]> {
    // Start code positions: (where the code begins, where the unit begins).
    let mut starts = vec![];
    let mut i = 0;
    while i + 3 <= stream.len() {
        if stream[i] == 0 && stream[i + 1] == 0 && stream[i + 2] == 1 {
            let begin = if i > 0 && stream[i - 1] == 0 {
                i - 1
            } else {
                i
            };
            starts.push((begin, i + 3));
            i += 3;
        } else {
            i += 1;
        }
    }
    starts
        .iter()
        .enumerate()
        .map(|(k, &(_, unit))| {
            let end = starts.get(k + 1).map_or(stream.len(), |s| s.0);
            &stream[unit..end]
        })
        .filter(|u| !u.is_empty())
        .collect()
}

/// NAL units as one AVCC sample (length-prefixed).
pub fn to_avcc<'a>(units: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = vec![];
    for u in units {
        out.extend_from_slice(&(u.len() as u32).to_be_bytes());
        out.extend_from_slice(u);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annexb_and_avcc_round_trip() {
        let units: Vec<&[u8]> = vec![&[0x67, 1, 2], &[0x68, 0, 0, 3], &[0x65, 9, 0, 0, 0, 7]];
        let avcc = to_avcc(units.iter().copied());
        let mut annexb = vec![];
        avcc_to_annexb(&avcc, &mut annexb).unwrap();
        assert_eq!(annexb_units(&annexb), units);
        assert_eq!(
            units.iter().map(|u| nal_type(u)).collect::<Vec<_>>(),
            vec![NAL_SPS, NAL_PPS, NAL_IDR]
        );
        // Three-byte start codes are read as well.
        let short = [0, 0, 1, 0x67, 5, 0, 0, 1, 0x68, 6];
        assert_eq!(annexb_units(&short), vec![&[0x67, 5][..], &[0x68, 6][..]]);
    }

    #[test]
    fn a_truncated_sample_is_an_error() {
        let mut out = vec![];
        assert!(avcc_to_annexb(&[0, 0, 0, 9, 1, 2], &mut out).is_err());
        assert!(avcc_to_annexb(&[0, 0], &mut out).is_err());
    }
}
