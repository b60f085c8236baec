//! Backup codes: ten one-time codes, shown once for printing, stored as MACs, each usable
//! once. A code is eight characters from an alphabet without look-alikes, shown as
//! `xxxx-xxxx` (about 40 bits each; they are also throttled like every second factor).

use crate::secrets::random_bytes;

pub const COUNT: usize = 10;
const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
const LEN: usize = 8;

/// A new set of `COUNT` codes in display form.
pub fn generate() -> Vec<String> {
    (0..COUNT).map(|_| one()).collect()
}

fn one() -> String {
    let mut code = String::with_capacity(LEN + 1);
    // Rejection sampling keeps every character equally likely.
    let limit = 256 - 256 % ALPHABET.len();
    while code.len() < LEN + 1 {
        for b in random_bytes::<16>() {
            if (b as usize) < limit && code.len() < LEN + 1 {
                if code.len() == LEN / 2 {
                    code.push('-');
                }
                code.push(ALPHABET[b as usize % ALPHABET.len()] as char);
            }
        }
    }
    code
}

/// The canonical form of what someone typed (case, spaces and the dash do not matter), or
/// `None` if it cannot be a backup code.
pub fn normalize(input: &str) -> Option<String> {
    let code: String = input
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    (code.len() == LEN && code.bytes().all(|b| ALPHABET.contains(&b))).then_some(code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn a_set_is_ten_distinct_printable_codes() {
        let codes = generate();
        assert_eq!(codes.len(), COUNT);
        assert_eq!(codes.iter().collect::<HashSet<_>>().len(), COUNT);
        for c in &codes {
            assert_eq!(c.len(), 9, "{c}");
            assert_eq!(&c[4..5], "-");
            assert_eq!(normalize(c).unwrap(), c.replace('-', ""));
        }
    }

    #[test]
    fn normalizing_ignores_case_spaces_and_dash() {
        assert_eq!(normalize(" ABCD-efgh ").as_deref(), Some("abcdefgh"));
        assert_eq!(normalize("abcd efgh").as_deref(), Some("abcdefgh"));
        for bad in ["", "abcd", "abcdefghj", "abcd-efg1", "123456", "abcd-efgl"] {
            assert_eq!(normalize(bad), None, "{bad}");
        }
    }
}
