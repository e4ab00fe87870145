//! The device's name at run time: what NetBIOS answers to, what DHCP sends
//! as the host name (option 12) and what mDNS announces (`<name>.local`).
//! It starts as `[device] name` and the application may change it (a
//! settings page); the same rules as in `stack.toml` apply, so every
//! protocol can carry it: 1 to 15 ASCII letters, digits, `-` or `_` (a
//! NetBIOS name is at most 15 characters), not starting or ending with
//! `-`.

use core::fmt;

/// Longest device name (a NetBIOS name's 15 characters).
pub const MAX_LEN: usize = 15;

/// A validated device name, held in 15 bytes: the name, then zeros (a
/// name has no zero byte, so its length needs no byte of its own).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct DeviceName {
    bytes: [u8; MAX_LEN],
}

/// Why a name was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameError {
    /// No characters.
    Empty,
    /// More than [`MAX_LEN`] characters.
    TooLong,
    /// A character other than an ASCII letter, digit, `-` or `_` (the
    /// byte, the first of it when not ASCII).
    BadCharacter(u8),
    /// Starts or ends with `-` (not a host name label, RFC 1123 §2.1).
    EdgeHyphen,
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NameError::Empty => f.write_str("the name is empty"),
            NameError::TooLong => write!(f, "the name is longer than {MAX_LEN} characters"),
            NameError::BadCharacter(b) => write!(
                f,
                "byte 0x{b:02x} is not an ASCII letter, digit, `-` or `_`"
            ),
            NameError::EdgeHyphen => f.write_str("the name starts or ends with `-`"),
        }
    }
}

impl DeviceName {
    /// Checks `name` and keeps it. (Always inlined: called by
    /// `Stack::set_device_name` and the mDNS responder's renames; measured
    /// 32 B smaller in the everything-on firmware.)
    #[inline(always)]
    pub fn new(name: &str) -> Result<DeviceName, NameError> {
        let b = name.as_bytes();
        if b.is_empty() {
            return Err(NameError::Empty);
        }
        if b.len() > MAX_LEN {
            return Err(NameError::TooLong);
        }
        // Checked and copied in one loop (`b` fits: checked above).
        let mut bytes = [0u8; MAX_LEN];
        for (d, &c) in bytes.iter_mut().zip(b) {
            if !(c.is_ascii_alphanumeric() || c == b'-' || c == b'_') {
                return Err(NameError::BadCharacter(c));
            }
            *d = c;
        }
        if b.first() == Some(&b'-') || b.last() == Some(&b'-') {
            return Err(NameError::EdgeHyphen);
        }
        Ok(DeviceName { bytes })
    }

    /// The name from `stack.toml`, which codegen checked: copied as it is
    /// (at most [`MAX_LEN`] bytes), without checking again.
    pub(crate) const fn from_config(name: &'static str) -> DeviceName {
        let mut bytes = [0u8; MAX_LEN];
        let src = name.as_bytes();
        let n = if src.len() < MAX_LEN {
            src.len()
        } else {
            MAX_LEN
        };
        if let (Some((d, _)), Some((s, _))) =
            (bytes.split_at_mut_checked(n), src.split_at_checked(n))
        {
            d.copy_from_slice(s);
        }
        DeviceName { bytes }
    }

    /// Its length: up to the first zero byte.
    fn len(&self) -> usize {
        self.bytes.iter().position(|&b| b == 0).unwrap_or(MAX_LEN)
    }

    /// The name's bytes as held: the name, then zeros to [`MAX_LEN`]
    /// (NetBIOS compares them as they are, without measuring the name).
    pub fn padded(&self) -> &[u8; MAX_LEN] {
        &self.bytes
    }

    /// The name as given. (Always inlined: measured 44 B smaller than
    /// one shared copy in the everything-on firmware.)
    #[inline(always)]
    pub fn as_str(&self) -> &str {
        let b = self.bytes.get(..self.len()).unwrap_or(&[]);
        core::str::from_utf8(b).unwrap_or("")
    }

    /// The name as a host name label (DHCP option 12, mDNS): `_`, not
    /// allowed in host names, written as `-`; in `buf`. Bytes, not a
    /// `str`: DHCP writes them as they are (no UTF-8 check to link; the
    /// name is ASCII by construction).
    pub fn host_label<'b>(&self, buf: &'b mut [u8; MAX_LEN]) -> &'b [u8] {
        let n = self.len();
        for (d, &s) in buf.iter_mut().zip(self.bytes.iter()) {
            *d = if s == b'_' { b'-' } else { s };
        }
        buf.get(..n).unwrap_or(&[])
    }
}

impl fmt::Debug for DeviceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

impl fmt::Display for DeviceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_like_stack_toml() {
        assert_eq!(DeviceName::new("EMBER").unwrap().as_str(), "EMBER");
        assert_eq!(DeviceName::new("a_b-9").unwrap().as_str(), "a_b-9");
        assert_eq!(DeviceName::new(""), Err(NameError::Empty));
        assert_eq!(DeviceName::new(&"x".repeat(16)), Err(NameError::TooLong));
        assert!(DeviceName::new(&"x".repeat(15)).is_ok());
        assert_eq!(DeviceName::new("a b"), Err(NameError::BadCharacter(b' ')));
        assert_eq!(DeviceName::new("a.b"), Err(NameError::BadCharacter(b'.')));
        assert_eq!(DeviceName::new("é"), Err(NameError::BadCharacter(0xc3)));
        assert_eq!(DeviceName::new("-ab"), Err(NameError::EdgeHyphen));
        assert_eq!(DeviceName::new("ab-"), Err(NameError::EdgeHyphen));
        let mut buf = [0; MAX_LEN];
        assert_eq!(
            DeviceName::new("my_dev").unwrap().host_label(&mut buf),
            b"my-dev"
        );
        assert_eq!(DeviceName::from_config("EMBER").as_str(), "EMBER");
        // Held NUL-padded: the longest name has no room for a terminator.
        let longest = "x".repeat(15);
        assert_eq!(DeviceName::new(&longest).unwrap().as_str(), longest);
        assert_eq!(DeviceName::new("a").unwrap().as_str(), "a");
        assert_ne!(
            DeviceName::new("ab").unwrap(),
            DeviceName::new("abc").unwrap()
        );
    }
}
