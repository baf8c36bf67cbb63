//! The printer's real-time status (`DLE EOT n`, n = 1..4) as a typed value that callers
//! act on, and the four status bytes a printer (or the simulator) answers with.
//!
//! Each answer byte has the fixed pattern `0xx1xx10` (bits 1 and 4 set, bits 0 and 7
//! clear); a byte without it is not a status answer.

/// `DLE EOT 1`..`4` as bytes.
pub const fn request(n: u8) -> [u8; 3] {
    [0x10, 0x04, n]
}

const FIXED: u8 = 0b0001_0010;
const FIXED_MASK: u8 = 0b1001_0011;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PrinterStatus {
    pub online: bool,
    pub cover_open: bool,
    pub paper_near_end: bool,
    pub paper_out: bool,
    /// An error stopped the printer (cutter jam, head overheated...).
    pub error: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("byte {byte:#04x} is not a DLE EOT {n} status answer")]
pub struct BadStatusByte {
    pub n: u8,
    pub byte: u8,
}

impl PrinterStatus {
    pub const READY: PrinterStatus = PrinterStatus {
        online: true,
        cover_open: false,
        paper_near_end: false,
        paper_out: false,
        error: false,
    };

    /// Whether a job can be printed now.
    pub fn ready(&self) -> bool {
        self.online && !self.cover_open && !self.paper_out && !self.error
    }

    /// Decodes the answers to `DLE EOT 1`, `2`, `3` and `4`, in that order.
    pub fn from_answers(answers: [u8; 4]) -> Result<PrinterStatus, BadStatusByte> {
        for (i, byte) in answers.iter().enumerate() {
            if byte & FIXED_MASK != FIXED {
                return Err(BadStatusByte {
                    n: i as u8 + 1,
                    byte: *byte,
                });
            }
        }
        let [printer, offline, error, paper] = answers;
        Ok(PrinterStatus {
            online: printer & 0x08 == 0,
            cover_open: offline & 0x04 != 0,
            paper_out: offline & 0x20 != 0 || paper & 0x60 != 0,
            paper_near_end: paper & 0x0C != 0,
            error: offline & 0x40 != 0 || error & 0x68 != 0,
        })
    }

    /// The four bytes a printer in this state answers (what the simulator sends).
    pub fn to_answers(&self) -> [u8; 4] {
        let mut printer = FIXED;
        let mut offline = FIXED;
        let mut error = FIXED;
        let mut paper = FIXED;
        if !self.ready() {
            printer |= 0x08;
        }
        if self.cover_open {
            offline |= 0x04;
        }
        if self.paper_out {
            offline |= 0x20;
            paper |= 0x60;
        }
        if self.error {
            offline |= 0x40;
            error |= 0x08;
        }
        if self.paper_near_end {
            paper |= 0x0C;
        }
        [printer, offline, error, paper]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_round_trips_through_the_status_bytes() {
        for bits in 0u8..32 {
            let s = PrinterStatus {
                online: bits & 1 != 0,
                cover_open: bits & 2 != 0,
                paper_near_end: bits & 4 != 0,
                paper_out: bits & 8 != 0,
                error: bits & 16 != 0,
            };
            let back = PrinterStatus::from_answers(s.to_answers()).unwrap();
            // A printer that is not ready also reports itself offline.
            let expected = PrinterStatus {
                online: s.ready(),
                ..s
            };
            assert_eq!(back, expected, "{s:?}");
        }
    }

    #[test]
    fn a_ready_printer_answers_the_plain_pattern() {
        assert_eq!(PrinterStatus::READY.to_answers(), [0x12; 4]);
        assert!(PrinterStatus::from_answers([0x12; 4]).unwrap().ready());
    }

    #[test]
    fn bytes_without_the_fixed_bits_are_refused() {
        assert_eq!(
            PrinterStatus::from_answers([0x12, 0xff, 0x12, 0x12]),
            Err(BadStatusByte { n: 2, byte: 0xff })
        );
    }
}
