//! Numbers as text without `core::fmt` and without 64-bit division.
//!
//! A firmware that never formats a log line should not link `core::fmt`
//! (about 2 KB on a Cortex-M3) just to show a counter, and a Cortex-M has
//! no 64-bit divide instruction: `u64 / u64` calls compiler_builtins'
//! software routine (about 1 KB). These helpers use 32-bit divisions only.

/// `n / d` and `n % d` by long division in 16-bit digits (32-bit
/// divisions only, see the module doc). `d == 0` gives `(0, 0)`.
///
/// Not inlined: one copy of the loop is smaller than one per divisor.
#[inline(never)]
pub const fn div_rem(n: u64, d: u16) -> (u64, u16) {
    let d = d as u32;
    if d == 0 {
        return (0, 0);
    }
    let mut q = 0u64;
    let mut r = 0u32;
    let mut shift = 64u32;
    while shift > 0 {
        shift = shift.wrapping_sub(16);
        // r < d <= 0xffff, so this fits in 32 bits; d != 0 (above).
        let cur = r << 16 | (n >> shift) as u32 & 0xffff;
        q = q << 16
            | match cur.checked_div(d) {
                Some(x) => x as u64,
                None => 0,
            };
        r = match cur.checked_rem(d) {
            Some(x) => x,
            None => 0,
        };
    }
    (q, r as u16)
}

/// `n` in decimal, written at the end of `buf`; returns the digits.
pub fn decimal(n: u64, buf: &mut [u8; 20]) -> &str {
    core::str::from_utf8(digits(n, buf)).unwrap_or("")
}

/// `n`'s decimal digits (ASCII), written at the end of `buf`; returns
/// them. `buf` holds every digit when it has 20 bytes (any `u64`) or 10
/// (any `u32`); a shorter one is the caller's bug (digits are lost, the
/// first stays in `buf[0]`; nothing panics). For writers that
/// want bytes: no UTF-8 check, and a `u32`'s 10-byte buffer is cleared by
/// a few stores where a 20-byte one costs a `memclr` call (the HTTP
/// head's `Content-Length`, on every response).
pub fn digits(n: u64, buf: &mut [u8]) -> &[u8] {
    let mut i = buf.len();
    let mut put = |digit: u32| {
        i = i.saturating_sub(1);
        if let Some(b) = buf.get_mut(i) {
            *b = b'0'.wrapping_add(digit as u8);
        }
    };
    // The long division only while the value needs more than 32 bits;
    // then a 32-bit division by a constant (a multiply) per digit: a
    // counter rendered on every page pays a few instructions a digit.
    let mut n = n;
    while n > u64::from(u32::MAX) {
        let (q, digit) = div_rem(n, 10);
        put(u32::from(digit));
        n = q;
    }
    let mut m = n as u32; // fits: the loop above ran while it did not
    loop {
        put(m % 10);
        m /= 10;
        if m == 0 {
            break;
        }
    }
    buf.get(i..).unwrap_or(&[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn div_rem_matches_u64_division() {
        let ns = [
            0,
            1,
            9,
            10,
            999,
            1000,
            65_535,
            65_536,
            u64::from(u32::MAX),
            1 << 48,
            u64::MAX,
            0x1234_5678_9abc_def0,
        ];
        for n in ns {
            for d in [1u16, 3, 10, 1000, 400, 0xffff] {
                assert_eq!(
                    div_rem(n, d),
                    (n / u64::from(d), (n % u64::from(d)) as u16),
                    "{n} / {d}"
                );
            }
        }
        assert_eq!(div_rem(5, 0), (0, 0));
    }

    #[test]
    fn decimal_digits() {
        let mut b = [0u8; 20];
        for n in [0, 7, 10, 1234, u64::from(u32::MAX), u64::MAX] {
            assert_eq!(decimal(n, &mut b), n.to_string());
        }
        // A `u32` in 10 bytes; a shorter buffer loses digits, no panic.
        let mut b = [0u8; 10];
        for n in [0, 7, 10, 1234, u32::MAX] {
            assert_eq!(digits(n.into(), &mut b), n.to_string().as_bytes());
        }
        assert_eq!(digits(123_456, &mut [0u8; 3]), b"156");
    }
}
